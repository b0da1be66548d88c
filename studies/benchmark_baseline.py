"""Before and after on the same machine: the code issue 15 measured against today's.

Issue 15's figures (about 4 s for a whole small run, 79 s for the 50-case sweep at -j 2,
21.7 s for the 3-D example) were measured on the project's first sandbox; the machine has
changed since, so they cannot be compared with today's. This script runs the code of the
issue (``--before``, default 752765a, main when the issue's speed work began) from a
temporary git worktree (its ``src`` first on PYTHONPATH, this interpreter and its
packages) and today's code, **interleaved** run by run so that both see the same load, and
prints each run's CPU time (user + system of the whole process tree, forked workers and
the figure process included) and wall time, the medians and their ratio (with the
range and median of the run-by-run ratios), for CPU and wall time.

Workloads (each the issue's own, with the case files of each version):

* ``3d``: ``anodesim run studies/reflection_3d.toml`` (the 3-D example, one rank). Before:
  the issue's example (28 430 cells, 157 steps); now: today's (the textbook 20° anode
  angle of issue 14, kernel deposition, extra-focal heat, housing-free).
* ``run``: ``anodesim run`` of the C1-class case of studies/benchmark_process.py (the same
  case file for both: W in Cu, k(T), 20 µm surface spot, 10 W, 10 s, six save times with
  drift; 8 313 cells with the joint corners refined, 37 steps; the code before has no
  time.steps_per_segment, nor the cap it lifts, and takes the case without it).
* ``yield``: ``anodesim rate --chart duty --no-confirm`` of the yield-limited insert of
  tests/test_rating_yield.py (YIELD below: constant properties, air-cooled, clamped, a
  4-point duty chart at 1 s; the engine alone, its step response with an elastic solve at
  each of its samples). Compare with ``--before`` a recent commit: the case needs the
  rating keys of 2026-12.
* ``duty``: ``anodesim rate studies/reflection_insert.toml --chart duty`` (the maximum safe
  loading's 4 FE confirmations, then the two serial-load charts with their 6 FE anchors,
  the charts drawn): where a core is idle, today's rating makes the anchors two at a time
  (rating/helper.py). Compare with ``--before`` a recent commit (2ca979d: the last one
  without the helper).
* ``sweep``: ``anodesim sweep`` of studies/reflection_insert.toml at 1 s, -j 2, each pass
  in a fresh folder with an empty form cache: ``--cases N`` up to 10 is N spot sizes (10-50
  µm) at one current (default 10); 50 is the issue's own benchmark, 10 spot sizes × 5
  currents (0.02-0.1 mA), as studies/benchmark_sweep.py. The figures are drawn in both (the
  issue's sweep drew them).

    .venv/bin/python studies/benchmark_baseline.py [3d|run|sweep|yield|duty ...] [--repeat 3]
                                                   [--before 752765a] [--cases 10]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from benchmark_sweep import _become_subreaper, _cpu, _reap_all  # noqa: E402

SWEEP = """title = "baseline sweep: reflection insert, {n} cases"
case = "{base}"
[axes]
"beam.fwhm_um" = {{start = 10.0, stop = 50.0, num = {spots}}}
"beam.current_mA" = {currents}
"loading.duration_s" = [1.0]
"output.fields" = [false]
"""


YIELD = """title = "yield-limited insert, constant properties (benchmark_baseline.py yield)"
[geometry]
kind = "reflection_insert"
insert_radius_mm = 1.0
insert_thickness_mm = 1.0
anode_radius_mm = 3.0
anode_length_mm = 5.0
[materials]
target = "W"
heat_sink = "Cu"
properties = "constant"
[beam]
voltage_kV = 100
power_W = 10.0
spot = "gaussian"
fwhm_um = 50.0
[loading]
kind = "steady"
[boundaries.cooled_end]
type = "convection"
h_W_m2K = 5000.0
temperature_C = 30.0
coolant = "air"
[initial]
temperature_C = 30.0
[output]
fields = false
[mesh]
growth = 0.3
spot_fraction = 0.2
[time]
steps_per_doubling = 2
[mounts.cooled_end]
type = "clamped"
[limits]
yield_use = 1.0
[rating]
period_s = 1.0
duty_cycles = [0.001, 0.01, 0.1, 1.0]
"""


def timed(cmd: list[str], cwd: Path, env: dict) -> tuple[float, float]:
    """(wall s, CPU s of the process tree) of cmd; exits with its stderr when it fails."""
    c0, t0 = _cpu(), time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    _reap_all()
    if r.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(cmd)} (in {cwd}) failed ({r.returncode}):\n"
                         f"{r.stderr[-2000:]}")
    return wall, _cpu() - c0


def command(workload: str, tree: Path, out: Path, cases: int) -> list[str]:
    """The command line of a workload for the code in tree, writing under out."""
    py = [sys.executable, "-m", "anodesim"]
    if workload == "3d":
        return [*py, "run", "-q", "studies/reflection_3d.toml", "-o", str(out)]
    if workload == "run":
        from benchmark_process import CASE

        case = out.parent / f"{out.name}_case.toml"
        # time.steps_per_segment came with issue 15 (its cap on a segment's step, which
        # the case lifts); the code before it has neither the key nor the cap
        case.write_text(CASE if tree == ROOT else
                        CASE.replace("steps_per_segment = 1\n", ""))
        return [*py, "run", "-q", str(case), "-o", str(out)]
    if workload == "duty":
        return [*py, "rate", "-q", "studies/reflection_insert.toml", "--chart", "duty", "-o",
                str(out)]
    if workload == "yield":
        case = out.parent / f"{out.name}_case.toml"
        case.write_text(YIELD)
        return [*py, "rate", "-q", str(case), "--chart", "duty", "--no-confirm", "-o",
                str(out)]
    study = out.parent / f"{out.name}_study.toml"
    spots, per_spot = (cases, 1) if cases <= 10 else (10, cases // 10)
    currents = "[0.06]" if per_spot == 1 else \
        f"{{start = 0.02, stop = 0.1, num = {per_spot}}}"
    study.write_text(SWEEP.format(n=spots * per_spot, spots=spots, currents=currents,
                                  base=tree / "studies" / "reflection_insert.toml"))
    return [*py, "sweep", str(study), "-o", str(out), "-j", "2", "-q"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", default=["3d", "run"],
                        choices=("3d", "run", "sweep", "yield", "duty"))
    parser.add_argument("--before", default="752765a", help="commit of the before code")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cases", type=int, default=10, help="cases of the sweep (up to 10: spot sizes at one current; "
                        "more: 10 spot sizes x cases/10 currents)")
    args = parser.parse_args()
    try:  # orphaned fork-server processes are re-parented here, so their CPU time counts
        _become_subreaper()
        ctypes_ok = True
    except OSError:
        ctypes_ok = False
    now = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="anodesim-baseline-") as tmp:
        tmp = Path(tmp)
        before = tmp / "before"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach",
                        str(before), args.before], check=True)
        try:
            # both versions with their bytecode written, as installed (pip compiles a
            # regular install, `make` the editable sources): where Python may not write it
            # (PYTHONDONTWRITEBYTECODE) each process would compile the package from source
            for tree in (before, ROOT):
                subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "src")],
                               check=True)
            trees = {f"before ({args.before})": before, f"now ({now})": ROOT}
            print(f"load average at the start {os.getloadavg()[0]:.1f}; cores "
                  f"{os.cpu_count()}; {args.repeat} interleaved runs each"
                  + ("" if ctypes_ok else "; no subreaper: a sweep's CPU is undercounted"))
            for workload in args.workloads:
                results = {label: [] for label in trees}
                for i in range(-1 if workload != "sweep" else 0, args.repeat):
                    for label, tree in trees.items():
                        # 3d and run: a warm form cache per version (run -1 fills it, not
                        # counted); sweep: a fresh cache per pass, as the benchmark
                        cache = f"cache-{label[:3]}" + (f"-{i}" if workload == "sweep" else "")
                        env = {**os.environ, "PYTHONPATH": str(tree / "src"),
                               "XDG_CACHE_HOME": str(tmp / cache)}
                        out = tmp / f"{workload}-{label[:3]}-{i}"
                        wall, cpu = timed(command(workload, tree, out, args.cases), tree, env)
                        if i < 0:
                            continue
                        results[label].append((wall, cpu))
                        print(f"  {workload:5s} {label:22s} run {i + 1}: CPU {cpu:7.2f} s, "
                              f"wall {wall:7.2f} s, load {os.getloadavg()[0]:.1f}", flush=True)
                (before_runs, now_runs) = results.values()
                for i, what in ((1, "CPU"), (0, "wall")):
                    b = statistics.median(r[i] for r in before_runs)
                    n = statistics.median(r[i] for r in now_runs)
                    pairs = [x[i] / y[i] for x, y in zip(before_runs, now_runs)]
                    print(f"{workload}: median {what} before {b:.2f} s, now {n:.2f} s: "
                          f"{b / n:.2f}x (pairs {min(pairs):.2f}-{max(pairs):.2f}x, "
                          f"median {statistics.median(pairs):.2f}x)")
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(before)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
