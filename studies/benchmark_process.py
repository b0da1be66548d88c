"""Whole-process benchmark: what a user waits for at the command line.

Times, as separate processes (each the median of --repeat runs, warm form cache):

* ``anodesim --help``;
* ``anodesim check`` of the case below;
* ``anodesim run`` of a C1-class reflection case with drift: studies/reflection_insert.toml
  (W insert in Cu, k(T)) with a 20 µm Gaussian *surface* spot, 10 W, 10 s, six save times
  (drift solved at each), writing CSV, JSON and PNG outputs (no field files).

The case runs at its cheapest settings within 0.1 % of the converged spot rise: mesh growth
0.055 (finer than the default 0.1, whose 0.2 % error is the mesh's), two steps per doubling
(time steps barely matter for this continuous load). ``--accuracy`` shows it: the spot's
peak rise at the six save times against the converged value, extrapolated (Richardson, the
observed order) from the same case on meshes /2 and /4 (cases.refined_mesh) with 4x and 2x
finer steps (cases.refined_time); measured: converged rise 1112.2 K at 10 s, these settings
0.076 % below it at worst (0.051-0.076 % over the save times), the earlier growth 0.15 with
the default steps 0.41 % below.

Also prints the modules the light commands import (dolfinx, scipy, matplotlib, petsc4py must
be absent from ``--help`` and ``check``) and the load average before and after, since the
figures mean little on a busy machine.

    .venv/bin/python studies/benchmark_process.py [--repeat 5] [--accuracy]
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
CASE = """title = "process benchmark: reflection insert, 20 um surface spot, 10 W, 10 s"
[geometry]
kind = "reflection_insert"
insert_radius_mm = 1.0
insert_thickness_mm = 1.0
anode_radius_mm = 5.0
anode_length_mm = 20.0
[mesh]
spot_fraction = 0.05
growth = 0.055
[time]
steps_per_doubling = 2
[materials]
target = "W"
heat_sink = "Cu"
properties = "temperature_dependent"
[beam]
voltage_kV = 100
current_mA = 0.1
spot = "gaussian"
fwhm_um = 20
deposition = "surface"
[loading]
kind = "continuous"
duration_s = 10
[boundaries.cooled_end]
type = "convection"
h_W_m2K = 5000
coolant = "water"
temperature_C = 30
[interfaces.target_heat_sink]
conductance_W_m2K = 1e6
[initial]
temperature_C = 30
[probes.below_spot_50um]
r_mm = 0.0
depth_mm = 0.05
[output]
save_times_s = [0.001, 0.01, 0.1, 1.0, 3.0, 10.0]
fields = false
[mounts.cooled_end]
type = "clamped"
[drift]
view_direction = [0.94, 0.0, 0.342]
source_object_mm = 20
source_detector_mm = 500
pixel_size_um = 100
"""
HEAVY = ("dolfinx", "scipy", "matplotlib", "petsc4py", "ufl", "gmsh", "mpi4py")
ANODESIM = [str(BIN / "anodesim")] if (BIN / "anodesim").exists() else \
    [sys.executable, "-m", "anodesim"]


def timed(cmd: list[str], env=None) -> tuple[float, float]:
    """(wall s, CPU s of the process: user + system). On a shared machine the CPU time is
    the steadier figure: the wall time grows with the load, the CPU time much less."""
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return wall, (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)


def heavy_imports(args: list[str]) -> list[str]:
    """Heavy top-level packages imported by `anodesim ARGS` (from -X importtime)."""
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "anodesim", *args],
                       capture_output=True, text=True)
    names = set()
    for line in r.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return sorted(n for n in names if n in HEAVY)


def accuracy() -> None:
    """The spot's peak rise of CASE (thermal only: the drift does not act on it) against
    its converged value, extrapolated from two refinements with the observed order."""
    import tomllib

    import numpy as np

    sys.path.insert(0, str(HERE.parent / "tests"))
    from cases import refined_mesh, refined_time, rises

    case = tomllib.loads(CASE)
    for key in ("mounts", "drift"):
        case.pop(key)
    runs = [case, refined_time(refined_mesh(case, 2.0), 4),
            refined_time(refined_mesh(case, 4.0), 2)]
    (a, saves, cpu, steps), r1, r2 = rises(runs[0]), rises(runs[1]), rises(runs[2])
    a, r1, r2 = a["T_peak_C"], r1[0]["T_peak_C"], r2[0]["T_peak_C"]
    ratio = (r1 - a) / (r2 - r1)
    converged = r2 + (r2 - r1) / (ratio - 1.0)
    print(f"spot rise (K) at the save times {[float(t) for t in saves]} s, {steps} steps, "
          f"{cpu:.2f} s CPU:")
    print(f"  these settings  {np.array2string(a, precision=3)}")
    print(f"  converged       {np.array2string(converged, precision=3)} "
          f"(error ratio of the refinements {np.array2string(ratio, precision=2)})")
    print(f"  error (%)       {np.array2string(100 * (a / converged - 1), precision=3)}; "
          f"finest refinement {np.array2string(100 * (r2 / converged - 1), precision=3)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--accuracy", action="store_true",
                        help="also show the spot rise against its converged value (2 min)")
    args = parser.parse_args()
    if args.accuracy:
        accuracy()
    # the package's bytecode written, as installed (`make` compiles the editable sources;
    # where Python may not write it, PYTHONDONTWRITEBYTECODE, each process compiled them)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(HERE.parent / "src")],
                   check=True)
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        case = tmp / "case.toml"
        case.write_text(CASE)
        timed([*ANODESIM, "run", str(case), "-o", str(tmp / "warm"), "-q"])  # warm the cache
        rows = {"--help": [], "check": [], "run": []}
        for i in range(args.repeat):  # interleaved, so load changes hit all three alike
            rows["--help"].append(timed([*ANODESIM, "--help"]))
            rows["check"].append(timed([*ANODESIM, "check", str(case)]))
            rows["run"].append(timed([*ANODESIM, "run", str(case), "-o", str(tmp / f"r{i}"),
                                      "-q"]))
        files = sorted(p.name for p in (tmp / "r0").iterdir())
    load1 = os.getloadavg()
    print(f"load average before {load0[0]:.2f} / after {load1[0]:.2f} (1 min), "
          f"cores {os.cpu_count()}, {args.repeat} runs each, median [min, max]")
    for name, t in rows.items():
        wall, cpu = [w for w, _ in t], [c for _, c in t]
        print(f"  anodesim {name:<7s} wall {statistics.median(wall):6.2f} s [{min(wall):.2f}, "
              f"{max(wall):.2f}]   CPU {statistics.median(cpu):6.2f} s [{min(cpu):.2f}, "
              f"{max(cpu):.2f}]")
    print(f"  run files: {', '.join(files)}")
    for cmd in (["--help"], ["check", str(HERE / "reflection_insert.toml")]):
        print(f"  heavy modules imported by `anodesim {cmd[0]}`: "
              f"{', '.join(heavy_imports(cmd)) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
