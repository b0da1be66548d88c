"""Pulse-train benchmark: the cost of a direct FE run per pulse must not grow with the number
of pulses (linear total time).

A small W-in-Cu reflection insert (tests/cases.py-like, k(T), surface-deposited 50 µm
Gaussian, 10 W) under 10 ms on / 10 ms off pulses, no mechanics, no field files, written to a
run folder (CSV, JSON, PNG: the whole bookkeeping). The time plan uses
``time.initial_step_s = 1e-4`` and ``steps_per_doubling = 2`` so that 10⁴ pulses stay within
minutes; the per-step cost is what is measured. For each pulse count it prints the wall time
of the run (set-up excluded: a warm-up run compiles the forms), the wall and CPU time per
pulse and the wall time per step, and the time per step over the first and the last tenth of the steps (equal when the
cost per step does not depend on the step number), with the load average.

    .venv/bin/python studies/benchmark_pulses.py [--pulses 100 1000 10000]
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

CASE = {
    "title": "pulse-train benchmark",
    "geometry": {"kind": "reflection_insert", "insert_radius_mm": 1.0,
                 "insert_thickness_mm": 1.0, "anode_radius_mm": 3.0, "anode_length_mm": 5.0},
    "mesh": {"spot_fraction": 0.2, "growth": 0.3},
    "materials": {"target": "W", "heat_sink": "Cu"},
    "beam": {"voltage_kV": 100, "power_W": 10.0, "spot": "gaussian", "fwhm_um": 50.0,
             "deposition": "surface"},
    "boundaries": {"cooled_end": {"type": "convection", "h_W_m2K": 5000.0,
                                  "temperature_C": 30.0}},
    "initial": {"temperature_C": 30.0},
    # steps_per_segment = 1: no per-segment cap (default 40 since issue 15 item 6), so the
    # plan stays at 24 steps a pulse as before and the figures compare
    "time": {"initial_step_s": 1e-4, "steps_per_doubling": 2, "steps_per_segment": 1},
    "output": {"fields": False},
}


def run(pulses: int, out: Path) -> dict:
    import anodesim
    from anodesim import _mpi  # noqa: F401
    from anodesim.simulation import Simulation

    case = anodesim.from_dict({**CASE, "loading": {"kind": "pulse_train", "period_s": 0.02,
                                                   "duty_cycle": 0.5, "pulses": pulses}})
    sim = Simulation(case, out)
    sim.initialise()
    stamps = []
    iterate = sim.iterate

    def timed(step, dt_prev):
        row = iterate(step, dt_prev)
        stamps.append(time.perf_counter())
        return row

    sim.iterate = timed
    t0, c0 = time.perf_counter(), time.process_time()
    sim.run()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = len(stamps)
    tenth = max(1, n // 10)
    first = (stamps[tenth - 1] - t0) / tenth
    last = (stamps[-1] - stamps[-tenth - 1]) / tenth
    return {"wall": wall, "cpu": cpu, "steps": n, "first": first, "last": last}


def bookkeeping(pulses: int) -> dict:
    """The schedule bookkeeping of a run without the FE solves: the step plan, and per step
    the beam power and the energy tally that the Heat monitor records."""
    import anodesim
    from anodesim.loading import Schedule
    from anodesim.resolve import plan_steps, prepare

    case = anodesim.from_dict({**CASE, "loading": {"kind": "pulse_train", "period_s": 0.02,
                                                   "duty_cycle": 0.5, "pulses": pulses}})
    prep = prepare(case)
    t0 = time.perf_counter()
    steps = plan_steps(case, prep.spot, prep.mats)
    t1 = time.perf_counter()
    schedule = Schedule(case.loading.segments)
    for st in steps:
        schedule.energy(st.t)
    t2 = time.perf_counter()
    return {"steps": len(steps), "plan": t1 - t0, "tally": t2 - t1}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pulses", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--bookkeeping-only", action="store_true",
                        help="only the step plan and the energy tally, no FE runs")
    args = parser.parse_args()
    print(f"bookkeeping (plan + energy tally), load {os.getloadavg()[0]:.2f}:")
    for n in args.pulses:
        b = bookkeeping(n)
        print(f"  {n:6d} pulses, {b['steps']:7d} steps: plan {b['plan']:7.3f} s, tally "
              f"{b['tally']:7.3f} s = {1e6 * b['tally'] / b['steps']:7.2f} µs per step")
    if args.bookkeeping_only:
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        run(2, Path(tmp) / "warm")
        print(f"{'pulses':>7s} {'steps':>8s} {'wall s':>8s} {'ms/pulse':>9s} {'ms/step':>8s} "
              f"{'first 10% ms/step':>18s} {'last 10% ms/step':>17s} {'CPU ms/pulse':>13s} "
              f"{'load':>5s}")
        for n in args.pulses:
            load = os.getloadavg()[0]
            r = run(n, Path(tmp) / f"p{n}")
            print(f"{n:7d} {r['steps']:8d} {r['wall']:8.1f} {1e3 * r['wall'] / n:9.2f} "
                  f"{1e3 * r['wall'] / r['steps']:8.3f} {1e3 * r['first']:18.3f} "
                  f"{1e3 * r['last']:17.3f} {1e3 * r['cpu'] / n:13.2f} {load:5.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
