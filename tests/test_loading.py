"""Schedules and the time-step plan: steps land on every switch and save time, restart
small after a switch, grow geometrically and keep BDF2 step ratios at most 2."""

import numpy as np
import pytest

from anodesim.loading import Schedule, plan


def test_steps_land_on_switches_and_save_times():
    sched = Schedule(((0.3, 5.0), (0.7, 0.0), (0.3, 5.0)))
    saves = (0.05, 0.5, 1.3)
    steps = plan(sched, 1e-4, 0.05, 4, saves)
    t = np.array([s.t for s in steps])
    for mark in (0.3, 1.0, 1.3, *saves):
        assert np.isclose(t, mark, rtol=0, atol=1e-15).any(), mark
    assert t[-1] == pytest.approx(1.3, abs=1e-15)
    assert np.all(np.diff(t) > 0)
    assert [s.t for s in steps if s.save] == pytest.approx(list(saves))


def test_restart_small_after_switch_and_geometric_growth():
    sched = Schedule(((1.0, 5.0), (1.0, 0.0)))
    steps = plan(sched, 1e-3, 0.2, 2)
    restarts = [s for s in steps if s.restart]
    assert len(restarts) == 2 and all(s.dt == pytest.approx(1e-3) for s in restarts)
    first = [s.dt for s in steps[:6]]
    assert first == pytest.approx([1e-3, 1e-3, 2e-3, 2e-3, 4e-3, 4e-3])
    assert max(s.dt for s in steps) <= 0.2 + 1e-15
    assert [s.power_W for s in steps if s.t <= 1.0] == [5.0] * sum(s.t <= 1.0 for s in steps)


def test_bdf2_step_ratio_bounded():
    steps = plan(Schedule(((10.0, 1.0),)), 1e-5, 1.0, 3, save_times=(0.0123, 3.3333))
    for prev, s in zip(steps, steps[1:]):
        if not s.restart:
            assert s.dt / prev.dt <= 2.0 + 1e-9


def test_energy_and_power():
    sched = Schedule(((1.0, 2.0), (1.0, 0.0), (0.5, 4.0)))
    assert sched.energy(2.5) == pytest.approx(4.0)
    assert sched.energy(1.5) == pytest.approx(2.0)
    assert sched.power(0.5) == 2.0 and sched.power(1.0) == 2.0 and sched.power(1.2) == 0.0


def test_save_times_at_switches_are_saved():
    """Save times that coincide with power switches (up to cumsum round-off) are saved."""
    sched = Schedule(((0.1, 5.0), (0.2, 0.0)) * 5)
    saves = (0.3, 0.6, 0.7, 0.9, 1.2, 1.5)
    steps = plan(sched, 1e-4, 0.05, 4, saves)
    saved = [s.t for s in steps if s.save]
    assert saved == pytest.approx(list(saves), rel=1e-12)
    assert len(saved) == len(saves)


def test_no_step_is_longer_than_its_segment_over_steps_per_segment():
    """steps_per_segment caps every step at the segment's duration / n (exactly: the steps
    still land on each switch); 1 leaves the plan as max_step makes it."""
    sched = Schedule(((0.01, 20.0), (0.03, 0.0)) * 3)
    capped = plan(sched, 1e-6, 1.0, 4, steps_per_segment=40)
    free = plan(sched, 1e-6, 1.0, 4)
    for steps, n in ((capped, 40), (free, 1)):
        ends = sched.switch_times
        for st in steps:
            k = int(np.searchsorted(ends, st.t - 1e-15)) - 1
            assert st.dt <= (ends[k + 1] - ends[k]) / n * (1 + 1e-12)
        assert {round(st.t, 12) for st in steps} >= {round(float(t), 12) for t in ends[1:]}
    assert max(st.dt for st in capped) == pytest.approx(0.03 / 40, rel=1e-9)
    assert len(capped) > len(free)


def test_time_series_tells_the_switch_from_the_first_steps_after_it(tmp_path):
    """timeseries.csv's time is written to the last digit: at 20 s the steps of 1e-9 s
    after a switch are 5e-11 of the time, below the 10 significant digits of the other
    columns, which printed them as the switch itself (three rows reading "20"); a user who
    took the row at t = 20 s as the end of the pause read a temperature of the next pulse.
    Now every time stamp is distinct and reads back exactly, and the row at the switch is
    the last one of the pause (power 0)."""
    import csv

    import anodesim
    from cases import block

    case = block(loading={"kind": "pulse_train", "on_s": 10.0, "off_s": 10.0, "pulses": 2},
                 time={"initial_step_s": 1e-9}, mesh={"spot_fraction": 0.2, "growth": 0.5})
    anodesim.run(anodesim.from_dict(case), tmp_path)
    with open(tmp_path / "timeseries.csv") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    t = np.array([float(r["time_s"]) for r in rows])
    assert np.all(np.diff(t) > 0)  # every row its own time
    at_switch = np.flatnonzero(t == 20.0)
    assert len(at_switch) == 1 and float(rows[at_switch[0]]["beam_power_W"]) == 0.0
    assert float(rows[at_switch[0] + 1]["beam_power_W"]) > 0.0
    assert t[at_switch[0] + 1] - 20.0 == pytest.approx(1e-9, rel=1e-3)  # the first step after it
