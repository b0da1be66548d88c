"""Maximum safe loading of a schedule: the engine's closed form, confirmed (and corrected
by secant steps when the properties depend on temperature) by full finite-element runs.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import dataclasses as dc

from ..case import Case, Loading
from ..limits import SIGNED_LIMITS, LifeLimit, limit_label, limits_for, rise_allowed
from .checkpoint import materials_of
from .engine import (WARM_UP_RTOL, WARM_UP_SPAN, Engine, SpotHistory, finite_train,
                     lone_load_s, needs_drift, needs_stress, rating_copy, repeated,
                     schedule_after, schedule_rise, switch_excursions, switch_runs_s)


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
    #: The FE runs of a repeated schedule's periodic state (None: not run): repetitions,
    #: the engine's protocol error (truncation_rel), whether it is within PROTOCOL_RTOL
    #: (converged) and the largest correction each limit was raised by (correction_rel).
    protocol: dict | None = None


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
    fatigue limit on the cycles of the spot's history over the schedule (SpotHistory).
    A schedule repeated every loading.repeat_every_s is rated in its periodic steady state
    as well (engine.repeated: the rise, the spot's history and a train's waveform)."""
    rise, rated_by = _engine_inputs(engine, case)
    return engine.max_power(rise, **rated_by)


def limit_powers(engine: Engine, case: Case, cooling: bool = True
                 ) -> dict[tuple[str, str], float]:
    """engine_power of each limit alone: (limit name, column) → the engine's largest beam
    power (W) of the case's schedule that limit allows (inf: none it binds); cooling False:
    a schedule not repeated held up to its end only (schedule_rise)."""
    from .kirchhoff import key

    rise, rated_by = _engine_inputs(engine, case, cooling)
    return {key(lim): dc.replace(engine, limits=[lim]).max_power(rise, **rated_by)[0]
            for lim in engine.limits}


def _least(engine: Engine, powers: dict) -> tuple[float, str]:
    """engine_power from limit_powers' powers: the least and its limit (the first in the
    engine's order among equals, as Engine.max_power takes it)."""
    from .kirchhoff import key

    best, binding = math.inf, ""
    for lim in engine.limits:
        if powers[key(lim)] < best:
            best, binding = powers[key(lim)], lim.label
    return best, binding


def _engine_inputs(engine: Engine, case: Case, cooling: bool = True) -> tuple:
    """(worst rise per deposited watt, Engine.max_power's keywords) of the case's schedule,
    as engine_power rates it (cooling: schedule_rise's)."""
    from .kirchhoff import Transform, Waveform, key

    rise = schedule_rise(engine, case, cooling)
    spot = SpotHistory.of_schedule(engine, case)
    train = finite_train(case.loading)
    wave = Waveform.of_train(engine, *train, periodic=repeated(case.loading)) \
        if train is not None else None
    if wave is None:
        return rise, {"spot": spot}
    identity = Transform(engine.response.T0, {})  # the engine's constant k
    heads = {key(lim): rise_allowed(lim) for lim in engine.limits}
    for lim in engine.limits:
        if isinstance(lim, LifeLimit):  # the head that the peak rise reaches at that power
            heads[key(lim)] = wave.max_power(lim, identity, 1.0) * float(
                rise[engine.nodes[lim.column]].max())
    return rise, {"heads": heads, "spot": spot}


#: A limit the cooling after a schedule makes worse has its FE runs follow the cooling where
#: the engine's power for it over the cooling is within this factor of the engine's rating:
#: temperature-dependent properties move one limit's power against another's by less (the
#: five-pulse train on the test insert: a Ta spot 6 % above the constant-k engine's power,
#: a W spot 35 % below it, the Cu coolant face near where it was), so a lagging limit beyond
#: it cannot bind. Raising the FE reading at the end by the engine's ratio instead, as tried
#: first, was 0.86 % optimistic for a drift that reverses after the end (the ratio moves at
#: k(T)) and 2.5x pessimistic after a 1 ms load (a ratio of 6e7 on a negligible tail).
COOLING_RUN_WITHIN = 1.5


def cooling_powers(engine: Engine, case: Case) -> dict[tuple[str, str], tuple[float, float]]:
    """Per limit (name, column), (its engine power of the schedule up to its end, over the
    cooling after it too) (W): the cooling after a schedule not repeated (schedule_after);
    empty where no node or drift figure is worse after the end (a steady load, a repeated
    schedule): limit_powers without the cooling and with it."""
    if schedule_after(engine, case.loading)[2] is None:
        return {}
    end, over = limit_powers(engine, case, cooling=False), limit_powers(engine, case)
    return {k: (end[k], over[k]) for k in over}


def cooling_s(engine: Engine, case: Case) -> float:
    """How long (s) the FE runs of the case's schedule follow the cooling after its end:
    where the cooling lowers some limit's engine power by more than WARM_UP_RTOL and that
    power is within COOLING_RUN_WITHIN of the engine's rating (engine_power's life heads
    and spot history alike), WARM_UP_SPAN times the latest instant after the end at which
    a node or drift figure worse after it than up to it peaks (schedule_after; at most the
    step response's horizon); else 0 (a steady load, a repeated schedule, a cooling that
    leaves every limit it worsens far from binding)."""
    powers = cooling_powers(engine, case)
    if not powers:
        return 0.0
    P = min(p_all for _, p_all in powers.values())
    if not any(p_all < (1.0 - WARM_UP_RTOL) * p_end and p_all <= COOLING_RUN_WITHIN * P
               for p_end, p_all in powers.values()):
        return 0.0
    at = schedule_after(engine, case.loading)[2]
    return min(WARM_UP_SPAN * at, engine.response.horizon)


def run_excess(case: Case, sim, load, P: float, raise_by: tuple | None = None,
               life_until: float | None = None) -> tuple[float, list[dict]]:
    """A full FE run of a schedule at beam power P (W), re-run by sim, taken again when it
    was made before (this Simulation's earlier runs, or the rating's checkpoint), checked
    against the case's limits; with raise_by = (δ per limit key, Transform), each limit
    raised to a state the engine finds that much hotter (raised_report), g the raised one;
    with life_until (s), the life limits checked up to it only (limits.check_load): the
    schedule's end, its last segment the cooling appended after it (said so).

    Returns:
        (g, report): g the binding limit's excess over its allowed rise (LimitCheck.excess;
        1.0, "far over", for a run that failed: a melting target, a solver failure), and
        each limit's check as summary.json reports it (empty for a failed run).
    """
    from .checkpoint import run_case
    from .progress import describe

    from .kirchhoff import series_stressed

    what = f"confirmation: {describe(load)}"
    if life_until is not None:  # the schedule, then the cooling max_safe_loading appended
        what = (f"confirmation: {describe(dc.replace(load, segments=load.segments[:-1]))} "
                f"and {load.segments[-1][0]:.3g} s of cooling after it")
    return _checked_run(case, sim, load, P, what,
                        ("run", run_case(sim, load, P).hash()),  # what the series depends on
                        lambda: series_stressed(sim, load, P), raise_by, life_until)


def run_periodic_excess(case: Case, sim, load, P: float, repetitions: int,
                        raise_by: tuple | None = None) -> tuple[float, list[dict]]:
    """run_excess of a repeated schedule's periodic steady state: a full FE run of
    kirchhoff.periodic_protocol (from the steady state at the mean power, entered where
    the slow components cross their mean, then `repetitions` repetitions), its last
    repetition checked against the case's limits (raised by raise_by as run_excess's);
    taken again when made before."""
    from .checkpoint import run_case
    from .kirchhoff import periodic_protocol, series_from_steady
    from .progress import describe

    segments, mean_P, checked_from = periodic_protocol(load.segments, repetitions)
    protocol = Loading("segments", segments)
    return _checked_run(
        case, sim, protocol, P,
        f"confirmation: periodic state of the {describe(load)}, {repetitions} repetitions "
        "from the mean-power steady state",
        ("periodic", run_case(sim, protocol, P).hash(), mean_P, checked_from),
        lambda: series_from_steady(sim, protocol, P, mean_P, checked_from), raise_by)


def _checked_run(case: Case, sim, load, P: float, what: str, key: tuple, make,
                 raise_by: tuple | None = None, life_until: float | None = None
                 ) -> tuple[float, list[dict]]:
    """run_excess's (g, report) of the series make() gives (what: the run in words; key:
    what the series depends on, for the rating's checkpoint), taken again from this
    Simulation's earlier runs (by load and P) or the checkpoint when made before."""
    from ..limits import check_load
    from .checkpoint import run_kept
    from .progress import reused_run

    earlier = _EARLIER_RUNS.setdefault(sim, {})
    if (load, P) in earlier:
        series = earlier[(load, P)]
        reused_run(what, P)
    else:
        series = run_kept(key, what, P, make)
        _keep(earlier, (load, P), series)
    if series is None:  # far over (a run that failed: the same again)
        return 1.0, []
    # this case's limits (e.g. another life than the Simulation's case)
    checks = check_load(limits_for(case, materials_of(sim)), series.time,
                        {n: series[n] for n in series.names}, life_until)
    if raise_by is not None:
        return raised_report(checks, *raise_by)
    rep = [c.to_dict() for c in checks]
    return max(x["excess"] for x in rep), rep


#: A repeated schedule (loading.repeat_every_s) whose every limit the engine rates within
#: this (relative) of one repetition from cold in its periodic state cools back between
#: repetitions: it is confirmed by the FE run of one repetition from cold, as before the
#: periodic rating, each limit's excess raised by its own engine ratio (1 + g_L)(1 + δ_L) − 1
#: (periodic_excess; exact for a linear response); beyond it by FE runs of the periodic state.
#: Per limit, not the binding one's δ: a limit far from binding from cold (the coolant face
#: after a 10 ms load) can be several times hotter in the periodic state and bind there
#: (test_periodic_rating.py::test_a_limit_hotter_only_in_the_periodic_state_is_not_missed).
COOLS_BACK_RTOL = 0.005


def periodic_excess(engine: Engine, case: Case, periodic: dict | None = None
                    ) -> dict[tuple[str, str], float]:
    """Per limit (name, column), δ_L = (its engine power of one repetition from cold) / (its
    engine power in the periodic state: periodic, limit_powers of the case when given) − 1
    of a repeated schedule (empty for any other): how much hotter its periodic state is
    (inf: a limit only the periodic state reaches). The repetition is held up to its end,
    as the FE run it raises ends: the next one follows, not a cooling with the beam off
    (counted, a drift that swings furthest after the end read the periodic state 0.1 %
    worse instead of 18 % and was not run: 19 % over its limit)."""
    if not repeated(case.loading):
        return {}
    cold = dc.replace(case, loading=dc.replace(case.loading, repeat_every_s=None))
    once = limit_powers(engine, cold, cooling=False)
    periodic = periodic or limit_powers(engine, case)
    return {k: 0.0 if math.isinf(periodic[k]) else
            max(once[k] / periodic[k] - 1.0, 0.0) for k in periodic}


def raised_report(checks: list, delta: dict[tuple[str, str], float], tr
                  ) -> tuple[float, list[dict]]:
    """(g, report) of an FE run's checks with each limit raised to a state the engine finds
    hotter by its δ_L (kirchhoff.raised_check: in the Kirchhoff variable of the transform
    tr, never lowered; a limit the engine does not rate: the largest δ), the raised excess
    written into each row as periodic_excess beside the run's own; g the largest raised."""
    from .kirchhoff import key, raised_check

    top = max(delta.values(), default=0.0)
    rep = []
    for c in checks:
        x = c.to_dict()
        x["periodic_excess"] = raised_check(c, delta.get(key(c.limit), top), tr).excess
        rep.append(x)
    return max(x["periodic_excess"] for x in rep), rep


#: A limit check's "during" where it was taken over a switch of a steady load
#: (_with_switches), and the words of its instant.
DURING = {"warm-up": ("the warm-up from cold", "after switch-on"),
          "cool-down": ("the cool-down after switch-off", "after switch-off")}


def _switch_run(case: Case, sim, kind: str, span_s: float, P: float
                ) -> tuple[float, list[dict]]:
    """run_excess's (g, report) of one switch of a steady load at P W lasting span_s (s):
    the warm-up, a load from cold; the cool-down, the beam off from the steady state."""
    if kind == "warm-up":
        return run_excess(case, sim, Loading("continuous", ((span_s, P),)), P)
    from .checkpoint import run_case
    from .kirchhoff import series_from_steady

    off = Loading("segments", ((span_s, 0.0),))
    return _checked_run(case, sim, off, P,
                        f"confirmation: {span_s:.3g} s cool-down after switch-off from the "
                        "steady state", ("cool-down", run_case(sim, off, P).hash(), P),
                        lambda: series_from_steady(sim, off, P, P, 0.0))


def _with_switches(case: Case, sim, spans: dict[str, float], P: float, rep: list[dict]
                   ) -> tuple[float, list[dict]]:
    """A steady run's (g, report) with each drift limit's and the yield limit's check taken
    over a switch of the load instead (a run of each switch in spans: kind -> s,
    _switch_run) where its excess is larger there, marked "during" (DURING); the
    temperatures and life limits stay the steady run's (their worst)."""
    best = {(x["limit"], x["column"]): x for x in rep}
    for kind, span_s in spans.items():
        g_run, rep_run = _switch_run(case, sim, kind, span_s, P)
        if not rep_run:  # the run failed (far over)
            return g_run, rep_run
        for x in rep_run:
            k = (x["limit"], x["column"])
            if (x["limit"] in SIGNED_LIMITS or x["limit"] == "yield") and k in best \
                    and x["excess"] > best[k]["excess"]:
                best[k] = {**x, "during": kind}
    out = [best[(x["limit"], x["column"])] for x in rep]
    return max(x["excess"] for x in out), out


def switch_words(report: list[dict], binding: str) -> str:
    """" during the warm-up from cold (0.0996 µm 0.0406 s after switch-on)" (or the
    cool-down after switch-off) where the binding limit's check (its label) was taken over
    a switch of a steady load (_with_switches), else ""."""
    row = next((r for r in report if r["label"] == binding and r.get("during")), None)
    if row is None:
        return ""
    what, when = DURING[row["during"]]
    unit = {"um": "µm", "px": "px", "rel": ""}.get(row["unit"], row["unit"])
    return (f" during {what} ({row[f'worst_{row['unit']}']:.3g}{' ' * bool(unit)}{unit} "
            f"{row['time_s']:.3g} s {when})")


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

    A repeated schedule (loading.repeat_every_s) whose periodic state the engine finds more
    than COOLS_BACK_RTOL hotter than one repetition from cold on any limit is confirmed by FE runs of
    its periodic state (run_periodic_excess, protocol_repetitions' repetitions; with a
    drift limit, also one repetition from cold, the larger excess taken); otherwise by
    the run of one repetition from cold, each limit's excess raised by its engine δ_L
    (periodic_excess, raised_report).

    A steady load whose drift the engine finds larger on a switch than once steady
    (engine.switch_excursions: the warm-up from cold, the cool-down after switch-off, which
    the tube passes through at every switch-on and -off) is confirmed by its steady run and
    a run of each such switch (engine.switch_runs_s), each drift limit at the largest
    excess (_with_switches).

    The full runs are re-runs of one Simulation (sim, or one made here from the case without
    field output, with mechanics only for a drift limit): the mesh and forms are built once.
    A schedule from cold that is not repeated (one load, a segments schedule, a pulse
    train) is rated over the cooling after its end too, as the single-load chart's points:
    the tube is switched off after it. The engine's rise includes it (schedule_rise), and
    where it lowers the engine's power of a limit near the rating the FE runs append it
    (cooling_s), the life limits checked over the schedule.
    """
    powers = limit_powers(engine, case) if repeated(case.loading) else None
    P_engine, binding = engine_power(engine, case) if powers is None else \
        _least(engine, powers)
    if not confirm:
        return SafeLoading(P_engine, binding, P_engine, False, 0, [], "linear-response engine")
    top = max((p for _, p in case.loading.segments), default=case.beam.power_W)

    sim = sim or confirmation_simulation(case)
    delta = periodic_excess(engine, case, powers)
    repetitions, signed, protocol, raise_by = None, False, None, None
    if any(delta.values()):
        from .kirchhoff import transform_for

        tr = transform_for(case)
        raise_by = (delta, tr)
    if max(delta.values(), default=0.0) > COOLS_BACK_RTOL:
        from .kirchhoff import PROTOCOL_RTOL, protocol_repetitions

        shape = [(d, p / top) for d, p in case.loading.segments]
        repetitions, err, shortfall = protocol_repetitions(engine, shape)
        # the protocol's truncation error, which the engine knows: each limit's FE reading
        # raised to the periodic state, never lowered (a signed rating must not be
        # optimistic by construction, and the engine's linear model must not loosen an FE
        # reading)
        shortfall = {k: max(d, 0.0) for k, d in shortfall.items()}
        raise_by = (shortfall, tr)
        protocol = {"repetitions": repetitions, "truncation_rel": err,
                    "converged": err <= PROTOCOL_RTOL,
                    "correction_rel": max(shortfall.values(), default=0.0)}
        signed = any(lim.name in SIGNED_LIMITS for lim in limits_for(case, materials_of(sim)))
    spans = switch_runs_s(engine) if case.loading.kind == "steady" else {}
    # a schedule from cold, not repeated: its cooling too where the engine finds it lowers
    # the power, the life limits over the schedule alone (as the single-load chart's points)
    cooling = cooling_s(engine, case)
    life_until = sum(d for d, _ in case.loading.segments) if cooling > 0 else None
    runs = 0  # FE runs made (a power tried may take two or three: its switches, from cold)

    def full_run(P):
        nonlocal runs
        load = dc.replace(case.loading, segments=tuple(
            (d, p * P / top) for d, p in case.loading.segments) + (
            ((cooling, 0.0),) if cooling > 0 else ()))
        runs += 1
        if repetitions is None:  # one repetition from cold (raised by δ when repeated)
            g, rep = run_excess(case, sim, load, P, raise_by, life_until)
            if spans and rep:
                runs += len(spans)
                g, rep = _with_switches(case, sim, spans, P, rep)
            return g, rep
        g, rep = run_periodic_excess(case, sim, load, P, repetitions, raise_by)
        if signed and rep:  # a drift may be largest in the first repetition, from cold
            runs += 1
            g_cold, rep_cold = run_excess(case, sim, load, P)
            if not rep_cold or g_cold > g:
                g, rep = g_cold, rep_cold
        return g, rep

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
    worst = max(rep_best, key=lambda x: x.get("periodic_excess", x["excess"])) \
        if rep_best else None
    bind = binding if worst is None else limit_label(worst["limit"], worst["column"])
    method = ("linear-response engine, confirmed by a full FE run" if len(tried) == 1
              else "secant iterations on full FE runs, started from the linear-response "
                   "engine, bracketed from below")
    if repetitions is not None:
        method += (f" of the schedule's periodic state (from the mean-power steady state, "
                   f"{repetitions} repetitions, the last one checked, each limit raised by "
                   f"the engine's difference to the exact periodic state, at most "
                   f"{100 * protocol['correction_rel']:.2g} %)")
        if not protocol["converged"]:
            method += (f"; the protocol did NOT converge: {repetitions} repetitions leave "
                       f"{100 * protocol['truncation_rel']:.2g} % of a limit's rise to the "
                       "periodic state, more than the 0.1 % aimed at, which the linear "
                       "engine's correction made up")
    elif max(delta.values(), default=0.0) > 0:
        method += (" of one repetition from cold, each limit's excess raised by the engine's "
                   f"periodic state (at most {100 * max(delta.values()):.2g} % hotter)")
    if cooling > 0:
        what = "the load" if lone_load_s(case.loading) is not None else "the schedule"
        method += (f"; every limit also over {cooling:.3g} s of cooling after {what} (the "
                   "engine finds a node or drift figure at its worst after it), the life "
                   f"limits over {what}")
    if spans:
        at = switch_excursions(engine)
        method += "; the drift limits also over " + " and ".join(
            f"{DURING[k][0]} (FE runs of {v:.3g} s: the engine's drift swings furthest "
            f"{at[k]:.3g} s {DURING[k][1]}, beyond its steady value)" for k, v in spans.items())
    return SafeLoading(P_best, bind, P_engine, confirmed, runs, rep_best, method, protocol)


def confirmed_power(case: Case, engine: Engine, t: float, P: float, sim=None) -> SafeLoading:
    """Maximum safe beam power of a single load of t (s) from cold (a chart point's, the
    0.1 s load's; P its engine power, W), confirmed by full FE runs (secant-corrected when
    the properties depend on temperature): max_safe_loading of that lone load, over its
    cooling where the engine finds it lowers the power."""
    point = dc.replace(case, loading=Loading("continuous", ((t, P),)),
                       beam=dc.replace(case.beam, power_W=P))
    return max_safe_loading(point, engine, sim=sim)
