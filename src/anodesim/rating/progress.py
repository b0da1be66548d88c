"""What a long rating is doing: one line per full FE run (what it runs, at what beam power,
how long it took, how many so far) through the running rating's progress callable.

A rating with every chart makes some tens of full FE runs, each about as long as a run of
the case (the transmission example: about 30 of about 36 s each); between its stage lines
it said nothing for minutes. The runs are reported from where they are made (safe.py's
confirmations, kirchhoff.PointRuns' anchors, the steady run with mechanics at the
continuous rating) without passing the callable down: rate() sets it for its duration.
Nothing here changes a number.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

#: The running rating's progress callable (None: no rating is reporting) and its FE runs
#: so far, with their wall time (s).
_state: dict = {"say": None, "runs": 0, "seconds": 0.0}


@contextmanager
def reporting(progress):
    """Report the FE runs made inside this block through progress (one line each)."""
    before = dict(_state)
    _state.update(say=progress, runs=0, seconds=0.0)
    try:
        yield
    finally:
        _state.update(before)


def runs_so_far() -> tuple[int, float]:
    """FE runs made so far by the reporting rating, and their wall time (s)."""
    return _state["runs"], _state["seconds"]


@contextmanager
def fe_run(what: str, power_W: float, took: float | None = None):
    """Time one full FE run and report it: ``FE run 7: 10 s load at 20.13 W, 2.1 s``.

    Args:
        what: the schedule run, in words (describe()).
        power_W: its (peak) beam power (W).
        took: the wall time (s) of a run the rating's helper made on the idle core
            (helper.py), said so; None: the time of this block.
    """
    start = time.perf_counter()
    try:
        yield
    except Exception:  # a melting target or a failed solver: the search counts it far over
        _done(what, power_W, start, " (failed)", took)
        raise
    _done(what, power_W, start, "", took)  # an interrupt ends the rating without a line


def _done(what: str, power_W: float, start: float, note: str, took: float | None) -> None:
    seconds = time.perf_counter() - start if took is None else took
    if took is not None:
        note = " on the idle core" + note
    _state["runs"] += 1
    _state["seconds"] += seconds
    if _state["say"] is not None:
        took = f"{seconds:.1f} s" if seconds >= 0.05 else "under 0.1 s"
        _state["say"](f"    FE run {_state['runs']}: {what} at {power_W:.4g} W, {took}{note}")


def reused_run(what: str, power_W: float) -> None:
    """Say that a search took an earlier FE run's results again (safe._EARLIER_RUNS): the
    same schedule at the same power, no new run."""
    if _state["say"] is not None:
        _state["say"](f"    {what} at {power_W:.4g} W: the same run as before, its results "
                      "taken again")


def describe(loading) -> str:
    """A schedule in a few words: "steady state", "10 s load", "pulse train of 10 pulses",
    "schedule of 3 segments"."""
    kind, segments = loading.kind, loading.segments
    if kind == "steady":
        return "steady state"
    if kind == "pulse_train":
        pulses = sum(1 for _, p in segments if p > 0)
        return f"pulse train of {pulses} pulse{'s' if pulses != 1 else ''}"
    if kind == "continuous" or len(segments) == 1:  # with the pause up to repeat_every_s
        again = getattr(loading, "repeat_every_s", None)
        return f"{segments[0][0]:.3g} s load" + (f" every {again:.3g} s" if again else "")
    return f"schedule of {len(segments)} segments"


def duration(seconds: float) -> str:
    """A wall time for a person: "42.0 s", "3.5 min", "1.2 h"."""
    if seconds < 100:
        return f"{seconds:.1f} s"
    if seconds < 6000:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
