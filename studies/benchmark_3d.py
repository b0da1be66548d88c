"""Benchmark: the 3-D reflection anode of studies/reflection_3d.toml (20° anode angle,
20 µm spot, 10 W beam, temperature-dependent properties), steady state and 10 s of
transient with the drift at 20 save times, on 1 and 2 MPI ranks, for the case's mesh and
a finer one.

Prints cells, dofs, time steps, CG iterations (thermal, mechanical), wall times (mesh,
thermal, mechanical, total), the peak memory (largest resident set of a rank, and their
sum), the peak temperature and the final drift. Run:
``.venv/bin/python studies/benchmark_3d.py`` (a few minutes on 2 cores).

``studies/benchmark_3d.py --example [N]`` instead times the shipped example as a user runs
it, ``anodesim run studies/reflection_3d.toml`` (whole process: imports, mesh, run, CSV,
JSON, PNG and field outputs), N times (default 3), and prints each run's CPU time (user +
system, the steadier figure on a shared machine) and wall time with the load average, and
the medians.

``studies/benchmark_3d.py --stages [CASE.toml]`` runs a case (default the 3-D example) in
this process as ``anodesim run`` does, with its outputs, and prints the CPU time (process
time: user + system) of each stage: imports, mesh, problem set-up, heat steps, the
per-step monitors, the elastic solves at the save times, the output files; with the
step, Newton, Jacobian-assembly and linear-iteration counts and the load average.
"""

import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

CASE = Path(__file__).with_name("reflection_3d.toml")
MESHES = {"case": {}, "fine": {"spot_fraction": 0.1, "growth": 0.2}}


def worker(mesh: str) -> None:
    """One benchmark point under mpirun: steady, then the 10 s transient; rank 0 prints a
    JSON line."""
    import anodesim
    from anodesim import _mpi  # noqa: F401
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    base = anodesim.load(CASE).source
    base = {**base, "mesh": {**base["mesh"], **MESHES[mesh]}, "output": {"fields": False}}
    out = {}
    for kind, loading in (("steady", {"kind": "steady"}), ("transient", base["loading"])):
        data = {**base, "loading": loading}
        t0 = time.perf_counter()
        res = anodesim.run(anodesim.from_dict(data, CASE.parent), comm=comm)
        wall = time.perf_counter() - t0
        s = res.summary_dict()
        out[kind] = {"cells": s["numerics"]["cells"], "dofs": s["numerics"]["dofs"],
                     "steps": s["numerics"]["time_steps"],
                     "cg_thermal": s["numerics"]["linear_iterations"],
                     "cg_mechanics": s["numerics"]["mechanics_linear_iterations"],
                     "mesh_s": s["timing_s"]["mesh"], "thermal_s": s["timing_s"]["thermal"],
                     "mechanics_s": s["timing_s"]["mechanics"], "total_s": wall,
                     "T_peak_C": s["results"]["T_peak_max_C"],
                     "drift_um": s["mechanics"]["drift_across_view_um"]["final"]}
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB (Linux: KiB)
    rss_all = comm.gather(rss)
    if comm.rank == 0:
        out["rss_max_MiB"], out["rss_sum_MiB"] = max(rss_all), sum(rss_all)
        print("RESULT " + json.dumps(out), flush=True)


def main() -> int:
    mpirun = shutil.which("mpirun", path=str(Path(sys.executable).parent))
    print(f"{'mesh':<5s} {'ranks':>5s} {'run':<9s} {'cells':>7s} {'dofs':>6s} {'steps':>5s} "
          f"{'CG th':>6s} {'CG me':>6s} {'mesh s':>7s} {'therm s':>8s} {'mech s':>7s} "
          f"{'total s':>8s} {'T_peak °C':>9s} {'drift µm':>8s} {'RSS max/sum MiB':>16s}")
    for mesh in MESHES:
        for ranks in (1, 2):
            cmd = [mpirun, "-n", str(ranks), sys.executable, __file__, "--worker", mesh]
            r = subprocess.run(cmd, capture_output=True, text=True)
            line = [x for x in r.stdout.splitlines() if x.startswith("RESULT ")]
            if r.returncode or not line:
                print(f"{mesh} on {ranks} ranks failed:\n{r.stderr[-2000:]}")
                return 1
            res = json.loads(line[0][7:])
            for kind in ("steady", "transient"):
                d = res[kind]
                print(f"{mesh:<5s} {ranks:5d} {kind:<9s} {d['cells']:7d} {d['dofs']:6d} "
                      f"{d['steps']:5d} {d['cg_thermal']:6d} {d['cg_mechanics']:6d} "
                      f"{d['mesh_s']:7.2f} {d['thermal_s']:8.2f} {d['mechanics_s']:7.2f} "
                      f"{d['total_s']:8.2f} {d['T_peak_C']:9.1f} {d['drift_um']:8.3f} "
                      f"{res['rss_max_MiB']:7.0f}/{res['rss_sum_MiB']:<8.0f}")
    print("(the first point includes form compilation on a cold cache)")
    return 0


def example(n: int) -> int:
    """The shipped example, whole process, n times: CPU and wall time per run, medians."""
    import os
    import statistics
    import tempfile

    exe = shutil.which("anodesim", path=str(Path(sys.executable).parent))
    cpu, wall = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n):
            load = os.getloadavg()[0]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            r = subprocess.run([exe, "run", str(CASE), "-o", f"{tmp}/run", "--overwrite"],
                               capture_output=True, text=True)
            wall.append(time.perf_counter() - t0)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if r.returncode:
                print(f"run {i + 1} failed:\n{r.stderr[-2000:]}")
                return 1
            cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            print(f"run {i + 1}: CPU {cpu[-1]:.2f} s, wall {wall[-1]:.2f} s, load average "
                  f"{load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end", flush=True)
    print(f"median of {n}: CPU {statistics.median(cpu):.2f} s, wall "
          f"{statistics.median(wall):.2f} s")
    return 0


def stages(case_path: Path) -> int:
    """One in-process run of case_path with its outputs, CPU time per stage."""
    import os
    import tempfile

    load = os.getloadavg()[0]
    from anodesim.cli import ONE_BLAS_THREAD  # as `anodesim run` sets it (no numpy yet)

    for key, value in ONE_BLAS_THREAD.items():
        os.environ.setdefault(key, value)
    t0 = time.process_time()
    import anodesim
    from anodesim import _mpi, monitors, run_folder, simulation, thermal  # noqa: F401
    import dolfinx  # noqa: F401

    spent = {"imports": time.process_time() - t0}
    counts = {}

    def timed(owner, name: str, stage: str):
        fun = getattr(owner, name)

        def wrapper(*args, **kwargs):
            start = time.process_time()
            try:
                return fun(*args, **kwargs)
            finally:
                spent[stage] = spent.get(stage, 0.0) + time.process_time() - start
                counts[stage] = counts.get(stage, 0) + 1
        setattr(owner, name, wrapper)

    timed(simulation, "_mesh", "mesh")
    timed(simulation.Simulation, "initialise", "set-up (incl. mesh)")
    timed(thermal.ThermalProblem, "step", "heat steps")
    timed(thermal.ThermalProblem, "_assemble_jacobian", "Jacobian assemblies")
    timed(simulation.Simulation, "record", "per-step monitors")
    timed(monitors.Mechanics, "at_save", "elastic solves at saves")
    timed(run_folder, "write", "output files")
    with tempfile.TemporaryDirectory() as tmp:
        sim = simulation.Simulation(anodesim.load(case_path), Path(tmp) / "run")
        res = sim.run()
    spent["total (process)"] = time.process_time()
    from anodesim.cost import machine_timing

    print(f"machine timing (cost.machine_timing): {machine_timing():.4f} s")
    s = res.summary_dict()["numerics"]
    print(f"{case_path.name}: {s['cells']} cells, {s['dofs']} dofs, {s['time_steps']} steps, "
          f"{s['newton_iterations']} Newton iterations, "
          f"{counts.get('Jacobian assemblies', 0)} Jacobian assemblies "
          f"({sim.problem.shifted} shifted), {s['linear_iterations']} linear iterations; "
          f"load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")
    for stage, sec in spent.items():
        n = f" ({counts[stage]} calls)" if stage in counts else ""
        print(f"  {stage:<28s} CPU {sec:7.2f} s{n}")
    return 0


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):
        print(__doc__)
        sys.exit(0)
    if len(sys.argv) >= 2 and sys.argv[1] == "--stages":
        sys.exit(stages(Path(sys.argv[2]) if len(sys.argv) > 2 else CASE))
    if len(sys.argv) >= 2 and sys.argv[1] == "--example":
        sys.exit(example(int(sys.argv[2]) if len(sys.argv) > 2 else 3))
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        worker(sys.argv[2])
        sys.exit(0)
    sys.exit(main())
