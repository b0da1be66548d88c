"""Benchmark: rating a long `segments` schedule by the linear-response engine, with the
superposition of StepResponse.schedule as it is and as it was before 2026-12-05 (a loop
over the power steps, each interpolating every node's step response at every instant:
O(instants × steps × nodes); now the interpolation weights are summed per instant and the
nodes enter through one product with the sample table).

The case is studies/reflection_insert.toml with N segments alternating 0.5 s at 10 W and
2 s off, rated by the engine alone (``anodesim.rate(..., charts=(), confirm=False)``: the
maximum safe loading of the schedule; no full FE run), the two versions interleaved run by
run. Prints each wall time, the medians and the ratio, and checks that both give the same
power to 1e-9.

    .venv/bin/python studies/benchmark_schedules.py [--segments 100 300 1000] [--repeat 2]
"""

import argparse
import contextlib
import dataclasses as dc
import io
import statistics
import time
from pathlib import Path

import numpy as np

import anodesim
from anodesim import response

CASE = Path(__file__).with_name("reflection_insert.toml")


def loop_schedule(self, segments, t_eval):
    """StepResponse.schedule before 2026-12-05 (the reference)."""
    starts = np.concatenate([[0.0], np.cumsum([d for d, _ in segments])[:-1]])
    powers = np.array([p for _, p in segments], dtype=float)
    steps = np.diff(np.concatenate([[0.0], powers]))
    t_eval = np.atleast_1d(np.asarray(t_eval, dtype=float))
    T = np.full((len(t_eval), self.rise.shape[1]), self.T0)
    for t_j, dP in zip(starts, steps):
        if dP != 0.0:
            T += dP * self.at(t_eval - t_j)
    return T


def schedule_case(n: int):
    case = anodesim.load(CASE)
    segments = tuple([(0.5, 10.0), (2.0, 0.0)] * (n // 2))
    return dc.replace(case, loading=dc.replace(case.loading, kind="segments",
                                               segments=segments))


def timed(case, implementation) -> tuple[float, float]:
    """(wall s, rated power W) of the engine's rating of case's schedule."""
    saved = response.StepResponse.schedule
    response.StepResponse.schedule = implementation
    try:
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            r = anodesim.rate(case, charts=(), confirm=False, progress=lambda *a: None)
        return time.perf_counter() - t0, r.max_safe.power_W
    finally:
        response.StepResponse.schedule = saved


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--segments", type=int, nargs="+", default=[100, 300, 1000])
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    now = response.StepResponse.schedule
    print("segments  before (s)  now (s)  ratio  rated power (W)")
    for n in args.segments:
        case = schedule_case(n)
        timed(case, now)  # the step response and forms, outside the timing
        before, after = [], []
        for _ in range(args.repeat):
            tb, pb = timed(case, loop_schedule)
            ta, pa = timed(case, now)
            assert abs(pa - pb) <= 1e-9 * pb, (pa, pb)
            before.append(tb)
            after.append(ta)
        b, a = statistics.median(before), statistics.median(after)
        print(f"{n:8d}  {b:10.2f}  {a:7.2f}  {b / a:5.1f}  {pa:.6g}", flush=True)


if __name__ == "__main__":
    main()
