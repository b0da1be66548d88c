"""Benchmark: a 20-point duty-cycle rating chart with temperature-dependent properties, by
the Kirchhoff engine corrected at FE anchors (what `anodesim rate` draws) and by brute-force
finite-element bisection.

The shipped reflection insert (k(T), ρc(T)) on a coarser mesh and time steps (MESH, TIME:
the brute force would take hours on the shipped ones on a shared 2-core machine; both
methods use the same discretisation, so the difference measures the method), without
mechanics, its case's
period (1 s), duty cycles 0.05 to 1, each point in the periodic steady state. Brute force: for each point,
bisection on full k(T) FE runs of the periodic steady state (rating.kirchhoff.PointRuns.serial)
from [0, constant-k engine power] to 0.1 % in power. The new method: the step response, the
Kirchhoff-transformed engine, FE anchors (rating.kirchhoff.correct_serial). Prints the time
of each, the FE runs, the largest difference, the machine and its load.
Run: ``.venv/bin/python studies/benchmark_charts.py`` (tens of minutes: the brute force).
"""

import dataclasses as dc
import os
import platform
import time
from pathlib import Path

import numpy as np

import anodesim
from anodesim import rating
from anodesim.rating import kirchhoff as kh

CASE = Path(__file__).with_name("reflection_insert.toml")
DUTIES = np.linspace(0.05, 1.0, 20)
MESH = {"spot_fraction": 0.2, "growth": 0.3}
TIME = {"initial_step_s": 1e-6, "steps_per_doubling": 2}


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    return f"{cpu}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"


def main() -> int:
    base = anodesim.load(CASE)
    case = dc.replace(base, mechanics=None, output=dc.replace(base.output, fields=False),
                      loading=anodesim.case.Loading("steady", ()),
                      mesh=dc.replace(base.mesh, **MESH), time=dc.replace(base.time, **TIME))
    period = base.rating.period_s
    print(f"machine at start: {machine()}")
    t0 = time.perf_counter()
    engine = rating.build_engine(case)
    rows = rating.chart_duty(engine, period, DUTIES)
    runs = kh.PointRuns(case)
    kh.correct_serial(engine, kh.transform_for(case), runs, rows, "duty_cycle")
    t_new = time.perf_counter() - t0
    anchors = sum(r["fe_confirmed"] for r in rows)
    print(f"new method: {len(rows)} points in {t_new:.1f} s (step response {engine.seconds:.1f} s, "
          f"{runs.runs} FE runs at {anchors} anchors)", flush=True)
    t0 = time.perf_counter()
    brute, n_brute = [], 0
    for r in rows:
        P, n = kh.brute_force(lambda p, d=r["duty_cycle"]: runs.serial(period, d, p),
                              r["engine_constant_k_W"])
        brute.append(P)
        n_brute += n
        print(f"  duty {r['duty_cycle']:.3f}: brute force {P:.4g} W ({n} runs), new "
              f"{r['max_peak_beam_power_W']:.4g} W ({r['binding']}, "
              f"{'anchor' if r['fe_confirmed'] else 'interpolated'}), constant-k engine "
              f"{r['engine_constant_k_W']:.4g} W", flush=True)
    t_brute = time.perf_counter() - t0
    new = np.array([r["max_peak_beam_power_W"] for r in rows])
    const = np.array([r["engine_constant_k_W"] for r in rows])
    diff = np.abs(new / np.array(brute) - 1.0)
    print(f"brute force: {len(rows)} points in {t_brute:.1f} s ({n_brute} FE runs)")
    print(f"speed-up {t_brute / t_new:.0f}x; largest difference new vs brute force "
          f"{100 * diff.max():.2f} % (duty {DUTIES[diff.argmax()]:.3f}); constant-k engine "
          f"vs brute force up to {100 * np.abs(const / np.array(brute) - 1.0).max():.1f} %")
    print(f"machine at end: {machine()}")
    return 0


if __name__ == "__main__":
    import sys

    if {"-h", "--help"} & set(sys.argv[1:]):  # the usage, not a run
        print(__doc__)
        sys.exit(0)
    raise SystemExit(main())
