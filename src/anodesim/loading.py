"""Loading schedules and the time-step plan that follows them.

A schedule is a list of constant-power segments (duration s, beam power W); continuous
loads, pulse trains and arbitrary segment lists all reduce to it (case.py). The plan lands a
step exactly on every power switch and every save time. After a switch the step restarts at
``initial_step`` and doubles every ``steps_per_doubling`` steps up to ``max_step``, so that
µs spot transients and minute-long heat-sink transients are both resolved with few steps.
Within a segment no step exceeds 1/steps_per_segment of the segment (default 40, case key
``time.steps_per_segment``): the end of a pause, where
the small residual rise before the next pulse is reported, is otherwise taken in steps of
up to a fiftieth of the whole run (studies/convergence_defaults.py: a 10 ms on / 10 ms off
train's residual 1.9 % off the converged steps without this cap, 0.12 % with it).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class Schedule:
    """Piecewise-constant beam power.

    Attributes:
        segments: (duration s, beam power W) in order.
    """

    segments: tuple[tuple[float, float], ...]

    @cached_property
    def switch_times(self) -> np.ndarray:
        """Start time of every segment and the end time (s); computed once, so that the
        per-step look-ups below cost O(log n), not O(n) (a 10⁴-pulse run stays linear)."""
        times = np.concatenate([[0.0], np.cumsum([d for d, _ in self.segments])])
        times.flags.writeable = False
        return times

    @cached_property
    def _energies(self) -> np.ndarray:
        """Beam energy delivered up to each switch time (J)."""
        e = np.concatenate([[0.0], np.cumsum([d * p for d, p in self.segments])])
        e.flags.writeable = False
        return e

    @property
    def end_time(self) -> float:
        return float(self.switch_times[-1])

    def power(self, t: float) -> float:
        """Beam power (W) during the step that ends at t (left-continuous at switches)."""
        times = self.switch_times
        i = int(np.searchsorted(times, t, side="left")) - 1
        i = min(max(i, 0), len(self.segments) - 1)
        return self.segments[i][1]

    def energy(self, t: float) -> float:
        """Beam energy delivered from 0 to t (J): the tally up to the last switch before t
        plus the part of the current segment (a binary search, not a sum over segments)."""
        times = self.switch_times
        if t <= 0.0 or not self.segments:
            return 0.0
        if t >= times[-1]:
            return float(self._energies[-1])
        i = int(np.searchsorted(times, t, side="right")) - 1
        return float(self._energies[i] + self.segments[i][1] * (t - times[i]))


@dataclass(frozen=True)
class Step:
    """One time step of the plan.

    Attributes:
        t: time at the end of the step (s).
        dt: step size (s).
        power_W: beam power during the step.
        restart: first step after a power switch (use a one-step scheme).
        save: fields are saved at t.
    """

    t: float
    dt: float
    power_W: float
    restart: bool
    save: bool


def plan(schedule: Schedule, initial_step: float, max_step: float, steps_per_doubling: int,
         save_times=(), max_steps: int | None = None, steps_per_segment: int = 1
         ) -> list[Step]:
    """Time steps that land on every switch and save time, restarting small at switches.

    Args:
        schedule: the power schedule.
        initial_step: first step after every power switch (s).
        max_step: largest step (s).
        steps_per_doubling: steps taken at each size before it doubles.
        save_times: times (s) that must be landed on exactly.
        max_steps: raise ValueError beyond this many steps (None: no limit).
        steps_per_segment: no step longer than a segment's duration / this (1: no cap).

    Returns:
        The steps in order; the last one ends at the schedule's end.
    """
    steps: list[Step] = []
    times = schedule.switch_times
    # A save time within round-off of a switch is that switch (cumsum rounding: 0.1 + 0.2).
    snapped = []
    for t in save_times:
        near = times[np.argmin(abs(times - t))]
        snapped.append(float(near) if abs(near - t) <= 1e-9 * max(abs(t), 1e-300) else float(t))
    saves = sorted(set(snapped) | {float(times[-1])})
    save_set = set(saves)
    for k, (duration, power) in enumerate(schedule.segments):
        t0, t1 = float(times[k]), float(times[k + 1])
        # Landing points inside this segment (save times, by bisection) and its end.
        lo, hi = bisect.bisect_right(saves, t0), bisect.bisect_left(saves, t1 - 1e-12 * t1)
        marks = saves[lo:hi] + [t1]
        t, level_dt, n_at_level, restart, prev_dt = t0, initial_step, 0, True, None
        cap = min(max_step, duration / steps_per_segment)
        for mark in marks:
            while mark - t > 1e-12 * max(mark, 1e-300):
                dt = min(level_dt, cap)
                if prev_dt is not None and not restart:
                    dt = min(dt, 2.0 * prev_dt)  # keep BDF2 step ratios ≤ 2 (zero-stable)
                remaining = mark - t
                if remaining <= dt * (1 + 1e-9):
                    dt = remaining
                elif remaining < 2 * dt:
                    dt = 0.5 * remaining  # two equal steps instead of one tiny one
                t_new = mark if dt == remaining else t + dt
                steps.append(Step(t_new, dt, power, restart,
                                  save=(dt == remaining and mark in save_set)))
                if max_steps is not None and len(steps) > max_steps:
                    raise ValueError(f"more than {max_steps} time steps")
                restart, prev_dt, t = False, dt, t_new
                n_at_level += 1
                if n_at_level >= steps_per_doubling and level_dt < cap:
                    level_dt, n_at_level = 2 * level_dt, 0
    return steps
