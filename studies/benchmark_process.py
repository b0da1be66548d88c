"""Whole-process benchmark: what a user waits for at the command line.

Times, as separate processes (each the median of --repeat runs, warm form cache):

* ``anodesim --help``;
* ``anodesim check`` of the case below;
* ``anodesim run`` of a C1-class reflection case with drift: studies/reflection_insert.toml
  (W insert in Cu, k(T)) with a 20 µm Gaussian *surface* spot, 10 W, 10 s, six save times
  (drift solved at each), writing CSV, JSON and PNG outputs (no field files).

Also prints the modules the light commands import (dolfinx, scipy, matplotlib, petsc4py must
be absent from ``--help`` and ``check``) and the load average before and after, since the
figures mean little on a busy machine.

    .venv/bin/python studies/benchmark_process.py [--repeat 5]
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
growth = 0.15
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
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
