"""Maximum safe loading of a schedule: the engine's closed form, confirmed (and corrected
by secant steps when the properties depend on temperature) by full finite-element runs.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import dataclasses as dc

from ..case import Case
from ..limits import LifeLimit, rise_allowed
from .engine import (Engine, SpotHistory, finite_train, needs_drift, needs_stress,
                     rating_copy, schedule_rise)


def confirmation_simulation(case: Case):
    """A Simulation for the full runs that confirm a rating: no field output, mechanics only
    when a drift or yield limit needs it, meshed as a run of the case is."""
    from ..simulation import Simulation

    return Simulation(rating_copy(case, needs_drift(case) or needs_stress(case),
                                  output=dc.replace(case.output, fields=False)))


#: Each confirmation Simulation's full runs so far: (schedule, beam power W) → time series
#: (None: the run failed, far over).
#: A run's series depends on those alone (the limits are checked on it afterwards), so a
#: later search that tries the same schedule at the same power takes it again instead of
#: running it: the life chart searches each life with the limits of that life, and where a
#: limit that does not depend on the life binds (the transmission example's interface) it
#: tries the very powers of the case's own maximum safe loading, 4 runs of its pulse train
#: (2.4 min) for each of 6 lives, the continuous rating's steady runs likewise.
_EARLIER_RUNS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()

#: The most a Simulation's earlier runs keep (MiB of time series, on every rank): the runs
#: that come first are kept (the case's own search, which the life chart takes again), a
#: later one past this is run again when tried again, not kept (no number changes, only
#: the time). Without a bound every run of the rating stayed: a pulse train of 60 000 steps
#: and 40 columns is 18 MiB a run, and its search and the life chart's (up to 10 runs for
#: the case and 10 at each of 6 lives) could hold over a GiB on each rank; the
#: transmission example's 2720 steps are about 1 MiB a run.
EARLIER_RUNS_MIB = 256.0


def _keep(earlier: dict, key, series) -> None:
    """Keep a run's series (None: it failed) among earlier, within EARLIER_RUNS_MIB."""
    def mib(x):
        return 0.0 if x is None else len(x) * len(x.names) * 8 / 2**20

    if sum(mib(x) for x in earlier.values()) + mib(series) <= EARLIER_RUNS_MIB:
        earlier[key] = series


@dataclass
class SafeLoading:
    """Maximum safe beam power of a schedule shape, and how it was found."""

    power_W: float
    binding: str
    engine_power_W: float
    confirmed: bool
    fe_runs: int
    report: list[dict]
    method: str


#: What an unconfirmed engine number is, wherever it is shown (rating.json, the console, the
#: report, the rating in words).
NOT_CONFIRMED = ("linear-response engine estimate at constant properties, NOT CONFIRMED by "
                 "FE runs")


def tolerance(sl: SafeLoading) -> str:
    """What a maximum safe loading guarantees, in words (rating.json's tolerance): the
    0.5 % band only for a power a full FE run confirmed."""
    if sl.confirmed:
        return ("every limit holds at this power; the binding one is met to within 0.5 % of "
                "its allowed rise, from below")
    if not sl.fe_runs:
        return NOT_CONFIRMED
    if sl.report and all(x.get("holds") for x in sl.report):
        return (f"NOT CONFIRMED within 0.5 %: every limit holds at this power in a full FE "
                f"run, but {sl.fe_runs} runs did not bring the binding one to within 0.5 % of "
                "its allowed rise (the power may be low)")
    return (f"NOT CONFIRMED: no full FE run of {sl.fe_runs} held every limit; this power "
            "breaks one")


def engine_power(engine: Engine, case: Case) -> tuple[float, str]:
    """The engine's largest beam power (W) of the case's schedule and its binding limit,
    every limit over the whole schedule: the temperatures at their worst instant and the
    drift figures at their largest excursion either way (schedule_rise); on a finite
    pulse train from cold, the life limits on the spot's mean damage rate over the whole
    train (kirchhoff.Waveform.of_train), as the FE run checks them, not the last period's
    peak held for the whole time (exact for a steady spot, but on a train of short pulses
    several per cent low: the spot is hot only a duty cycle's share of the time); the
    fatigue limit on the cycles of the spot's history over the schedule (SpotHistory)."""
    from .kirchhoff import Transform, Waveform, key

    rise = schedule_rise(engine, case)
    spot = SpotHistory.of_schedule(engine, case)
    train = finite_train(case.loading)
    wave = Waveform.of_train(engine, *train) if train is not None else None
    if wave is None:
        return engine.max_power(rise, spot=spot)
    identity = Transform(engine.response.T0, {})  # the engine's constant k
    heads = {key(lim): rise_allowed(lim) for lim in engine.limits}
    for lim in engine.limits:
        if isinstance(lim, LifeLimit):  # the head that the peak rise reaches at that power
            heads[key(lim)] = wave.max_power(lim, identity, 1.0) * float(
                rise[engine.nodes[lim.column]].max())
    return engine.max_power(rise, heads=heads, spot=spot)


def run_excess(case: Case, sim, load, P: float) -> tuple[float, list[dict]]:
    """A full FE run of a schedule at beam power P (W), re-run by sim, taken again when it
    was made before (this Simulation's earlier runs, or the rating's checkpoint), checked
    against the case's limits.

    Returns:
        (g, report): g the binding limit's excess over its allowed rise (LimitCheck.excess;
        1.0, "far over", for a run that failed: a melting target, a solver failure), and
        each limit's check as summary.json reports it (empty for a failed run).
    """
    from ..limits import check, limits_for
    from .checkpoint import materials_of, run_case, run_kept
    from .progress import describe, reused_run

    earlier = _EARLIER_RUNS.setdefault(sim, {})
    what = f"confirmation: {describe(load)}"
    if (load, P) in earlier:
        series = earlier[(load, P)]
        reused_run(what, P)
    else:
        key = ("run", run_case(sim, load, P).hash())  # what the series depends on
        series = run_kept(key, what, P, lambda: sim.run(loading=load, beam_power_W=P).series)
        _keep(earlier, (load, P), series)
    if series is None:  # far over (a run that failed: the same again)
        return 1.0, []
    # this case's limits (e.g. another life than the Simulation's case)
    rep = [c.to_dict() for c in check(limits_for(case, materials_of(sim)), series.time,
                                      {n: series[n] for n in series.names})]
    return max(x["excess"] for x in rep), rep


def max_safe_loading(case: Case, engine: Engine, confirm: bool = True, rtol: float = 0.005,
                     max_runs: int = 10, sim=None) -> SafeLoading:
    """Largest beam power of the case's schedule shape with every limit held.

    The engine gives it in closed form; full finite-element runs of the schedule confirm it.
    Let g(P) = max over limits of their excess (worst − limit)/(limit − T0), the relative
    excess of the binding limit over its allowed rise (LimitCheck.excess). The search aims at
    g = −rtol/2 and stops once a run has −rtol ≤ g ≤ 0: the rating is bracketed from below,
    so the returned power is one whose full run holds every limit, within rtol (0.5 %) of its
    allowed rise of the binding one (0.5 % in power for a linear response). With constant
    properties the engine's value, lowered by rtol/2, is already there; with
    temperature-dependent properties a ratio step P (1 + g*)/(1 + g) and then secant
    iterations follow. A run that melts the target, or whose Newton solver fails even with
    power continuation, counts as g = 1 (far over). The returned power is the largest safe
    one tried; it is "confirmed" when it lies within the band.

    The full runs are re-runs of one Simulation (sim, or one made here from the case without
    field output, with mechanics only for a drift limit): the mesh and forms are built once.
    """
    P_engine, binding = engine_power(engine, case)
    if not confirm:
        return SafeLoading(P_engine, binding, P_engine, False, 0, [], "linear-response engine")
    top = max((p for _, p in case.loading.segments), default=case.beam.power_W)

    sim = sim or confirmation_simulation(case)

    def full_run(P):
        return run_excess(case, sim, dc.replace(case.loading, segments=tuple(
            (d, p * P / top) for d, p in case.loading.segments)), P)

    aim = -0.5 * rtol

    def in_band(g):
        return -rtol <= g <= 0.0

    tried = []
    P = P_engine * (1.0 + aim)
    g, rep = full_run(P)
    tried.append((P, g, rep))
    P_prev, g_prev, rep_prev = P, g, rep
    while not in_band(g) and len(tried) < max_runs:
        # a failed run (g = 1 stands for "far over") gives no slope: ratio step from the
        # last run that did not fail
        if len(tried) == 1 or g == g_prev or not rep or not rep_prev:
            P_next = P * (1.0 + aim) / (1.0 + g)
        else:
            P_next = P - (g - aim) * (P - P_prev) / (g - g_prev)
        safe = [x[0] for x in tried if x[1] <= 0.0]
        unsafe = [x[0] for x in tried if x[1] > 0.0]
        if safe and unsafe and not min(unsafe) > P_next > max(safe):
            P_next = 0.5 * (max(safe) + min(unsafe))  # keep inside the bracket
        P_prev, g_prev, rep_prev, P = P, g, rep, P_next
        g, rep = full_run(P)
        tried.append((P, g, rep))
    safe = [x for x in tried if x[1] <= 0.0]
    P_best, g_best, rep_best = max(safe, key=lambda x: x[0]) if safe else \
        min(tried, key=lambda x: x[0])
    confirmed = in_band(g_best)
    bind = max(rep_best, key=lambda x: x["excess"])["limit"] if rep_best else binding
    method = ("linear-response engine, confirmed by a full FE run" if len(tried) == 1
              else "secant iterations on full FE runs, started from the linear-response "
                   "engine, bracketed from below")
    return SafeLoading(P_best, bind, P_engine, confirmed, len(tried), rep_best, method)


def confirmed_power(case: Case, engine: Engine, loading, sim=None) -> SafeLoading:
    """Maximum safe beam power of one chart point's schedule, confirmed by full FE runs
    (secant-corrected when the properties depend on temperature)."""
    point = dc.replace(case, loading=loading,
                       beam=dc.replace(case.beam, power_W=max((p for _, p in loading.segments),
                                                              default=case.beam.power_W)))
    return max_safe_loading(point, engine, sim=sim)
