"""Sweep benchmark: a 50-case sweep of the axisymmetric reflection insert with -j 1 and -j 2.

The cases are studies/reflection_insert.toml (k(T), drift at 20 save times) with 10 spot
sizes x 5 beam currents and a 1 s load. Each pass runs the CLI in a fresh study folder with
its own empty form-compiler cache, so every pass pays the same JIT compilation (one set of
forms per spot size). Workers are forked from the fork server (the default) or, with
``--mode interpreter``, started as a new interpreter per case (ANODESIM_SWEEP_FORK=0);
``--mode both`` runs both. ``--figures off`` sets ``output.figures = false`` in every case
(no per-case PNG; ``both`` runs each pass with and without). Prints for each pass the wall time, the CPU time of the whole
process tree (user + system, the forked workers included: this script is their subreaper
and collects them), the time spent inside the cases, and whether every table equals the
first (all columns but wall_s, exactly; between passes with and without figures also
but the case id and the output.figures column, which differ by design).

    python studies/benchmark_sweep.py [--cases 50] [--jobs 1 2] [--mode fork|interpreter|both]
                                      [--figures on|off|both]
"""

import argparse
import csv
import os
import resource
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
{figures}"""


def _become_subreaper() -> None:
    """Orphaned descendants (the fork server, once the runner has exited) are re-parented to
    this process, so that their CPU time reaches getrusage(RUSAGE_CHILDREN) here."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER


def _reap_all() -> None:
    """Wait for every descendant re-parented here (the fork server exits when its runner has)."""
    while True:
        try:
            os.wait()
        except ChildProcessError:
            return


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_pass(folder: Path, study: Path, jobs: int, fork: bool) -> tuple[float, float, list]:
    """One sweep in a fresh folder and form cache: (wall s, CPU s of the tree, table rows)."""
    env = {**os.environ, "XDG_CACHE_HOME": str(folder / "cache"),
           "ANODESIM_SWEEP_FORK": "1" if fork else "0"}
    cpu0 = _cpu()
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "anodesim", "sweep", str(study), "-o",
                        str(folder / "out"), "-j", str(jobs), "-q"], env=env)
    wall = time.perf_counter() - t0
    _reap_all()
    cpu = _cpu() - cpu0
    if r.returncode != 0:
        raise SystemExit(f"the sweep with -j {jobs} failed (exit {r.returncode})")
    with open(folder / "out" / "results.csv") as f:
        return wall, cpu, list(csv.DictReader(f))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=50, help="10 spot sizes x cases/10")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--mode", choices=("fork", "interpreter", "both"), default="both")
    parser.add_argument("--figures", choices=("on", "off", "both"), default="on",
                        help="per-case PNG figures (output.figures)")
    args = parser.parse_args()
    spots = 10
    currents = max(1, args.cases // spots)
    n = spots * currents
    modes = {"fork": [True], "interpreter": [False], "both": [False, True]}[args.mode]
    _become_subreaper()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        studies = {}
        for figures in {"on": [True], "off": [False], "both": [True, False]}[args.figures]:
            studies[figures] = tmp / f"study_{'figures' if figures else 'no_figures'}.toml"
            studies[figures].write_text(STUDY.format(
                n=n, base=HERE / "reflection_insert.toml", spots=spots, currents=currents,
                figures="" if figures else '"output.figures" = [false]\n'))
        tables = []
        for (figures, study), fork, jobs in ((f, m, j) for f in studies.items() for m in modes
                                             for j in args.jobs):
            folder = tmp / f"j{jobs}{'f' if fork else 'i'}{'' if figures else 'n'}"
            folder.mkdir()
            load = os.getloadavg()[0]
            wall, cpu, rows = run_pass(folder, study, jobs, fork)
            inside = sum(float(r["wall_s"]) for r in rows)
            ok = sum(r["status"] == "ok" for r in rows)
            tables.append([{k: v for k, v in r.items()
                            if k not in ("wall_s", "id", "output.figures")} for r in rows])
            print(f"{'forked' if fork else 'new interpreter'} workers, -j {jobs}, "
                  f"{'with' if figures else 'no'} figures: {n} cases "
                  f"({ok} ok) in {wall:6.1f} s wall ({wall / n:5.2f} s per case), CPU "
                  f"{cpu:6.1f} s; {inside:6.1f} s inside the cases; load average "
                  f"{load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end",
                  flush=True)
        same = all(t == tables[0] for t in tables)
        print(f"identical tables (every column but wall_s, id and output.figures): {same} "
              f"(cores: {os.cpu_count()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
