"""Scale benchmark (issue 15 item 5): the 3-D reflection anode of studies/reflection_3d.toml
refined to about a million unknowns (studies/scale_3d.toml), steady state plus 20 transient
steps with the focal-spot drift, on 1 and 2 MPI ranks.

The mesh is scale_3d.toml's (`mesh.growth` 0.04: 1.55 M cells, 0.26 M temperature dofs,
1.04 M unknowns with the displacements), or the same with another `--growth`. The
transient is the case's 10 s load taken in 20 steps (first step 10 s / (2²⁰ − 1), doubling
every step), with the drift at the end of steps 4, 8, 12, 16 and 20; the steady state is one
nonlinear solve with its drift, on the same mesh. Solvers are the defaults at this size: CG + GAMG for the temperature and for the
displacements (rtol 1e-10).

Prints per rank count: cells, dofs, steps, the wall time of the mesh, the steady run and
the transient run, the largest resident set of a rank and the sum over ranks, the peak
temperature and the drift, and the two-rank speed-up of each. The load average is printed
with each line: the speed-up means something only on a quiet machine.

    .venv/bin/python studies/benchmark_scale.py [--growth 0.04] [--ranks 1 2]

``--growth 0.3`` (the shipped mesh) runs in about a minute and checks the script.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

CASE = Path(__file__).with_name("scale_3d.toml")
#: what each run reports: our name -> the key in summary.json's numerics, timing_s, results
REPORTED = {"steps": "time_steps", "cg_thermal": "linear_iterations",
            "cg_mechanics": "mechanics_linear_iterations", "cells": "cells", "dofs": "dofs",
            "thermal_s": "thermal", "mechanics_s": "mechanics", "T_peak_C": "T_peak_max_C"}


def worker(growth: float) -> None:
    """Under mpirun: the steady and the 20-step transient run on one mesh; rank 0 prints
    a JSON line."""
    import anodesim
    from anodesim import _mpi  # noqa: F401
    from anodesim.simulation import Simulation
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    base = anodesim.load(CASE).source
    data = {**base, "mesh": {**base["mesh"], "growth": growth}}
    t0 = time.perf_counter()
    transient = anodesim.from_dict(data, CASE.parent)
    sim = Simulation(transient, None, comm=comm)
    sim.initialise()
    out = {"mesh_s": time.perf_counter() - t0}
    steady = anodesim.from_dict({**data, "loading": {"kind": "steady"},
                                 "output": {"fields": False}}, CASE.parent)
    for kind, loading in (("steady", steady.loading), ("transient", transient.loading)):
        t0 = time.perf_counter()
        s = sim.run(loading).summary_dict()
        numbers = {**s["numerics"], **s["timing_s"], **s["results"]}
        out[kind] = {"wall_s": time.perf_counter() - t0,
                     **{k: numbers[key] for k, key in REPORTED.items()},
                     "drift_um": s["mechanics"]["drift_across_view_um"]["final"]}
    out["cells"], out["dofs"] = out["transient"]["cells"], out["transient"]["dofs"]
    peak = comm.gather(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # MiB
    if comm.rank == 0:
        print("RESULT " + json.dumps({**out, "rss_max_MiB": max(peak),
                                      "rss_sum_MiB": sum(peak)}), flush=True)


def _launch(mpirun: str, ranks: int, growth: float) -> dict | None:
    """The worker's JSON result on `ranks` ranks (None, with its error printed, if it
    failed)."""
    r = subprocess.run([mpirun, "-n", str(ranks), sys.executable, __file__, "--worker",
                        str(growth)], capture_output=True, text=True)
    result = next((x[len("RESULT "):] for x in r.stdout.splitlines()
                   if x.startswith("RESULT ")), None)
    if r.returncode or result is None:
        print(f"{ranks} ranks failed:\n{r.stderr[-2000:]}")
        return None
    return json.loads(result)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--growth", type=float, default=0.04)
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--worker", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.worker)
        return 0
    mpirun = shutil.which("mpirun", path=str(Path(sys.executable).parent))
    print(f"{'ranks':>5s} {'cells':>9s} {'T dofs':>8s} {'unknowns':>9s} {'mesh s':>7s} "
          f"{'steady s':>9s} {'transient s':>11s} {'steps':>5s} {'CG th/me':>13s} "
          f"{'RSS max/sum MiB':>16s} {'T_peak °C':>9s} {'drift µm':>8s} {'load':>5s}",
          flush=True)
    walls = {}
    for ranks in args.ranks:
        load = os.getloadavg()[0]
        d = _launch(mpirun, ranks, args.growth)
        if d is None:
            return 1
        tr = d["transient"]
        unknowns = 4 * d["dofs"]  # temperature + three displacement components per node
        walls[ranks] = (d["mesh_s"], d["steady"]["wall_s"], tr["wall_s"])
        print(f"{ranks:5d} {d['cells']:9d} {d['dofs']:8d} {unknowns:9d} {d['mesh_s']:7.1f} "
              f"{d['steady']['wall_s']:9.1f} {tr['wall_s']:11.1f} {tr['steps']:5d} "
              f"{tr['cg_thermal']:6d}/{tr['cg_mechanics']:6d} "
              f"{d['rss_max_MiB']:7.0f}/{d['rss_sum_MiB']:8.0f} {tr['T_peak_C']:9.2f} "
              f"{tr['drift_um']:8.4f} {load:5.2f}", flush=True)
    if 1 in walls and 2 in walls:
        names = ("mesh", "steady", "transient")
        print("two-rank speed-up: " + ", ".join(
            f"{n} {a / b:.2f}" for n, a, b in zip(names, walls[1], walls[2])) +
            f", steady + transient {(walls[1][1] + walls[1][2]) / (walls[2][1] + walls[2][2]):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
