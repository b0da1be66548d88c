"""Sweep benchmark: a 50-case sweep of the axisymmetric reflection insert with -j 1 and -j 2.

The cases are studies/reflection_insert.toml (k(T), drift at 20 save times) with 10 spot
sizes x 5 beam currents and a 1 s load. Each pass runs the CLI in a fresh study folder with
its own empty form-compiler cache, so both pay the same JIT compilation (one set of forms per
spot size). Prints the wall times, the speed-up, and the time spent inside the cases against
the process and scheduling overhead.

    python studies/benchmark_sweep.py [--cases 50]
"""

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

STUDY = """title = "sweep benchmark: reflection insert, {n} cases"
case = "{base}"
[axes]
"beam.fwhm_um" = {{start = 10.0, stop = 50.0, num = {spots}}}
"beam.current_mA" = {{start = 0.02, stop = 0.1, num = {currents}}}
"loading.duration_s" = [1.0]
"output.fields" = [false]
"""


def run_pass(folder: Path, study: Path, jobs: int) -> tuple[float, list[dict]]:
    env = {**os.environ, "XDG_CACHE_HOME": str(folder / "cache")}
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "anodesim", "sweep", str(study), "-o",
                        str(folder / "out"), "-j", str(jobs), "-q"], env=env)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"the sweep with -j {jobs} failed (exit {r.returncode})")
    with open(folder / "out" / "results.csv") as f:
        return wall, list(csv.DictReader(f))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=50, help="10 spot sizes x cases/10")
    args = parser.parse_args()
    spots = 10
    currents = max(1, args.cases // spots)
    n = spots * currents
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        study = tmp / "study.toml"
        study.write_text(STUDY.format(n=n, base=HERE / "reflection_insert.toml", spots=spots,
                                      currents=currents))
        results = {}
        for jobs in (1, 2):
            folder = tmp / f"j{jobs}"
            folder.mkdir()
            wall, rows = run_pass(folder, study, jobs)
            inside = sum(float(r["wall_s"]) for r in rows)
            ok = sum(r["status"] == "ok" for r in rows)
            results[jobs] = (wall, rows)
            print(f"-j {jobs}: {n} cases ({ok} ok) in {wall:7.1f} s wall, "
                  f"{wall / n:5.2f} s per case; {inside:7.1f} s inside the cases "
                  f"({inside / n:.2f} s each), the rest is process start-up and imports")
        same = all(a["T_peak_max_C"] == b["T_peak_max_C"]
                   for a, b in zip(results[1][1], results[2][1]))
        print(f"speed-up -j 2 over -j 1: {results[1][0] / results[2][0]:.2f} "
              f"(cores: {os.cpu_count()}); identical tables: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
