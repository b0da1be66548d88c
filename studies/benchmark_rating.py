"""Benchmark: a 20-point duty-cycle rating chart of the reflection insert, by the
linear-response engine and by brute-force finite-element bisection.

The load is a train of 10 pulses with a 10 ms period from a cold start; each chart point is
the largest beam power that keeps every limit (spot, W/Cu interface, heat sink). Brute force
bisects geometrically on [1, 1000] W with a full FE run per trial until the bracket is
within 0.5 %; the engine builds one step response and superposes. Constant properties, so
both answer the same question exactly. Prints both wall times and the largest difference.
Run: ``.venv/bin/python studies/benchmark_rating.py`` (several minutes: the brute force).
"""

import dataclasses as dc
import sys
import time
from pathlib import Path

import numpy as np

import anodesim
from anodesim import rating
from anodesim.materials import OutOfRangeError
from anodesim.simulation import run

CASE = Path(__file__).with_name("reflection_insert.toml")
PERIOD, PULSES = 0.01, 10
DUTIES = np.linspace(0.05, 1.0, 20)


def train(case, duty, P):
    on, off = duty * PERIOD, (1 - duty) * PERIOD
    segs = [(on, P)] + ([(off, 0.0)] if off > 1e-15 else [])
    return dc.replace(case, beam=dc.replace(case.beam, power_W=P),
                      loading=dc.replace(case.loading, kind="pulse_train",
                                         segments=tuple(segs * PULSES)))


def safe(case, duty, P):
    try:
        res = run(train(case, duty, P))
    except OutOfRangeError:  # the target melted: far beyond the limits
        return False
    return all(x["holds"] for x in res.summary_dict()["results"]["limits"])


def main() -> int:
    base = anodesim.load(CASE)
    case = dc.replace(base, materials=dc.replace(base.materials, temperature_dependent=False),
                      mechanics=None, output=dc.replace(base.output, fields=False),
                      time=dc.replace(base.time, initial_step_s=1e-7))
    t0 = time.perf_counter()
    engine = rating.build_engine(case)
    fast = []
    for d in DUTIES:
        rise = engine.response.pulse_train_peak(d * PERIOD, PERIOD, PULSES)
        fast.append(engine.max_power(rise)[0])
    t_engine = time.perf_counter() - t0
    print(f"engine: {len(DUTIES)} points in {t_engine:.2f} s "
          f"(step response {engine.seconds:.2f} s)")
    t0 = time.perf_counter()
    slow, runs = [], 0
    for d in DUTIES:
        lo, hi = 1.0, 1000.0
        while hi / lo > 1.005:
            mid = np.sqrt(lo * hi)
            runs += 1
            lo, hi = (mid, hi) if safe(case, d, mid) else (lo, mid)
        slow.append(lo)
        print(f"  duty {d:.2f}: engine {fast[len(slow) - 1]:8.3f} W, FE bisection {lo:8.3f} W",
              flush=True)
    t_fe = time.perf_counter() - t0
    diff = max(abs(f - s) / s for f, s in zip(fast, slow))
    print(f"brute-force FE bisection: {runs} full runs in {t_fe:.1f} s")
    print(f"speed-up {t_fe / t_engine:.0f}x; largest difference in maximum power "
          f"{100 * diff:.2f} % (bisection bracket 0.5 %)")
    return 0


if __name__ == "__main__":
    import sys

    if {"-h", "--help"} & set(sys.argv[1:]):  # the usage, not a run
        print(__doc__)
        sys.exit(0)
    sys.exit(main())
