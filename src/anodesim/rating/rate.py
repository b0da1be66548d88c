"""The rating of a case: its limits, the maximum safe loading of its schedule and the charts,
as a typed :class:`Rating`; ``write`` puts rating_<chart>.csv/.png and rating.json in a folder.
"""

from __future__ import annotations

import dataclasses as dc
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..case import USER_GEOMETRIES, Case, CaseError, Loading, heat_sink_region, yield_region
from ..limits import (Limit, coarse_yield_cells, limit_label, limits_for, newton_band_breach,
                      rise_allowed)
from ..output import rounded_down
from .charts import (cap_serial, chart_continuous, chart_duty, chart_period, chart_single,
                     heating_cooling)
from .engine import Engine, SpotHistory, build_engine, linear_case
from .kirchhoff import (BY_COLD_CORRECTION, BY_DRIFT_PROBE, PointRuns, correct_serial,
                        correct_single, corrected_continuous, transform_for)
from .progress import describe, duration, reporting, runs_so_far
from .safe import (NOT_CONFIRMED, SafeLoading, confirmation_simulation, confirmed_power,
                   max_safe_loading, switch_words, tolerance)

CHARTS = ("single", "duty", "continuous")
#: Every chart a rating can be asked for ("all": each of them, as ``anodesim rate --chart
#: all``); "period" is computed with "duty" (both serial-load charts), "heat_content" with
#: "continuous".
CHART_NAMES = ("single", "duty", "period", "continuous", "life", "all")
ALL_CHARTS = ("single", "duty", "continuous", "life")


def chart_selection(charts) -> tuple[str, ...]:
    """The charts to compute from a user's selection: a name or names of CHART_NAMES
    ("all": ALL_CHARTS; "period": the serial-load charts, as "duty").

    Raises:
        CaseError: an unknown name, naming it and the allowed ones.
    """
    names = (charts,) if isinstance(charts, str) else charts
    try:
        names = tuple(names)
    except TypeError:
        raise CaseError(f"charts = {charts!r}: expected a chart name or a sequence of them, "
                        f"from {', '.join(CHART_NAMES)}") from None
    out: list[str] = []
    for name in names:
        if not isinstance(name, str) or name not in CHART_NAMES:
            raise CaseError(f"charts: {name!r} is not a chart; expected any of "
                            f"{', '.join(CHART_NAMES)}")
        for n in ALL_CHARTS if name == "all" else ("duty",) if name == "period" else (name,):
            if n not in out:
                out.append(n)
    return tuple(out)
#: The label of every chart curve the FE runs have not confirmed: the engine takes the
#: properties at the initial temperature, which is non-conservative for W and diamond (k
#: falls with T: 1.65x for W spot-limited points, source-and-limits.md A2); the erosion limit
#: enters as its equivalent spot temperature, the drift limit through the engine's drift probe.
ENGINE_ONLY = "engine, constant k: NOT CONFIRMED"


#: Temperature limits whose default (limits.limits_for) a start at or above it breaks:
#: check_rating_input names the start and the default, not a [limits] value never given.
DEFAULT_TEMPERATURE_LIMITS = ("spot", "interface", "heat_sink", "region", "coolant_side")


def check_rating_input(case: Case, mats, first_step_s: float,
                       charts: tuple[str, ...] = ("single", "duty")) -> None:
    """Bad rating input as CaseError: unreachable limits, a Newton tolerance wider than the
    confirmation band of a temperature limit; for the charts asked for (chart_selection's
    names), loading times below the time step and serial-load points whose pulse or pause
    a run cannot take (serial_points_problem)."""
    T0 = case.initial_temperature_K
    for lim in limits_for(case, mats):
        rise = rise_allowed(lim)
        if rise <= 0 and lim.origin != "case" and lim.unit == "C" \
                and lim.name in DEFAULT_TEMPERATURE_LIMITS:
            # a default the case did not give: the start is what to change (a region's has no
            # [limits] key; limits.interface_C = 150 named a value the case never gave, and
            # a key that sets every joint, the insert's 200 °C too)
            key = "" if lim.name == "region" else f", or limits.{lim.name}_C above it" + (
                " (it sets every joint's)" if lim.name == "interface" else "")
            raise CaseError(f"initial.temperature_C = {T0 - 273.15:g}: at or above the default "
                            f"{lim.label} limit {lim.value:g} °C ({lim.origin}), so no "
                            "positive power can meet it; expected an initial temperature "
                            f"below it{key}")
        if rise <= 0:
            raise CaseError(f"limits.{lim.name}_C = {lim.value:g}: no positive power "
                            f"can meet it (the anode starts at {T0 - 273.15:g} °C); expected a "
                            "limit above the initial temperature")
        wide = newton_band_breach(case, lim)
        if wide:
            raise CaseError(wide)
    for chart, problem in chart_points_problems(case, first_step_s):
        if chart in charts:
            raise CaseError(problem)


def chart_points_problems(case: Case, first_step_s: float) -> list[tuple[str, str]]:
    """The chart points a rating cannot draw, as (chart name of chart_selection, the line
    refusing it): the serial-load charts' ("duty", serial_points_problem) and the
    single-load chart's loading times below the smallest time step ("single"). A run of the
    case draws none of them, so `check` only warns of them."""
    r = case.rating
    out = []
    problem = serial_points_problem(case, first_step_s)
    if problem:
        out.append(("duty", problem))
    if r.exposure_s[0] < first_step_s:
        out.append(("single", f"rating.exposure_s = {list(r.exposure_s)}: the shortest loading "
                              f"time is below the smallest time step ({first_step_s:.3g} s)"))
    return out


def serial_points_problem(case: Case, first_step_s: float) -> str | None:
    """The first serial-load chart point (a period and duty cycle of [rating], given or
    default) whose pulse is shorter than the smallest time step or whose pause is below
    MIN_DURATION_S (1e-12 s, a pulse train's shortest; none at duty 1), in one line naming
    the keys, whence their values come (the case's own pulse for a pulse-train case's
    defaults, case.model.rating_defaults) and the range that works; None if every point runs.

    The lists given are checked against MIN_DURATION_S when the case is read
    (tables._rating); defaults are not, so that a run of a pulse train on 10 s, off 1e-12 s
    is not refused for the 1 ms period chart point its rating would draw at its own duty
    cycle (a 1e-16 s pause).
    """
    from ..beam import round_up
    from ..case.model import (MIN_DURATION_S, near_one, own_pulse, pulse_too_short,
                              rating_defaults)

    r, d = case.rating, rating_defaults(case.loading)
    pulse = own_pulse(case.loading)
    for key, values, default, fixed_key in (("duty_cycles", r.duty_cycles, d.duty_cycles,
                                             "period_s"),
                                            ("periods_s", r.periods_s, d.periods_s,
                                             "duty_cycle")):
        fixed, unit = getattr(r, fixed_key), " s" * (key == "periods_s")
        for x in values:
            duty, period = (x, fixed) if key == "duty_cycles" else (fixed, x)
            on, off = duty * period, (1.0 - duty) * period
            short = pulse_too_short(duty, period, first_step_s)
            if short == "pulse":
                why = (f"an on-time of {on:.3g} s, shorter than the smallest time step "
                       f"({first_step_s:.3g} s)")
                least = max(first_step_s, MIN_DURATION_S)
                # bounds rounded up (down for an upper one): the value named is one that runs
                works = (f"duty cycles of at least {round_up(least / period, 3):.3g}"
                         if key == "duty_cycles" else
                         f"periods of at least {round_up(least / duty, 3):.3g} s")
            elif short == "pause":
                why = (f"a pause of {off:.3g} s, shorter than {MIN_DURATION_S:g} s (a pulse "
                       "train's shortest)")
                works = (f"duty cycles of at most 1 - {round_up(MIN_DURATION_S / period, 3):.3g}"
                         ", or 1"
                         if key == "duty_cycles" else
                         f"periods of at least {round_up(MIN_DURATION_S / (1.0 - duty), 3):.3g} s")
            else:
                continue
            listed = (f"rating.{key} = {list(values)}" if values != default else
                      f"rating.{key} (not given: the default, {values[0]:g} to "
                      f"{values[-1]:g}{unit})")
            pair = f"rating.{fixed_key} = {near_one(fixed, '.12g')}"
            if fixed == getattr(d, fixed_key):
                pair += (f" (not given: the case's own pulse, loading on {pulse[0]:g} s, off "
                         f"{pulse[1]:g} s)" if pulse is not None else " (the default)")
            return (f"{listed} at {pair}: the point at {x:g}{unit} has {why}; expected "
                    f"rating.{key} with {works}, or another rating.{fixed_key}")
    return None


def precheck(case: Case, charts: tuple[str, ...] = ("single", "duty")):
    """Everything `rate` can refuse before computing (for the charts asked for, as
    check_rating_input): CaseError or ResponseError; returns the prepared case
    (resolve.prepare)."""
    from ..resolve import prepare, time_steps

    prep = prepare(case)
    dt0, _ = time_steps(case, prep.spot, prep.mats)
    check_rating_input(case, prep.mats, dt0, charts)
    linear_case(case, 1.0)  # linearity and cooling conditions of the engine
    return prep


@dataclass(repr=False)
class Rating:
    """What a rating found (beam powers in W, before backscatter).

    Attributes:
        title, case_hash: the case's title and id.
        limits: the limits rated against.
        engine: the step response's method, wall time (s) and horizon (s).
        schedule: the loading kind of the case ("steady", "continuous", …).
        load: what the maximum safe loading assumes, in words (load_description).
        max_safe: the maximum safe loading of the case's own schedule, or None.
        single: single-load chart rows (loading time, max power cold / pre-loaded), or None.
        duty, period: serial-load chart rows (against duty cycle, against period), or None;
            each point's mean power held at the continuous rating (charts.cap_serial).
        serial_cap: the continuous rating the serial-load points are held at, what it is
            and how many points it set (_cap_serial), or None.
        nominal: the single 0.1 s load from cold (SHORT_LOAD_NOTE: not IEC 60613's
            nominal anode input power), or None.
        heat_content: heating and cooling curve rows of the anode heat content (J), or None.
        heat_content_steady: beam power and steady heat content (J) of those curves.
        continuous: continuous rating (engine and confirmed), or None.
        life: power against required life rows (continuous, erosion budget over each
            life), or None.
        preload_W: the pre-load of the single-load chart (W).
        seconds: wall time (s).
        case: the rated case, resolved (SI units; summary.json's "case"), or None.
    """

    title: str
    case_hash: str
    limits: list[Limit]
    engine: dict
    schedule: str
    preload_W: float = 0.0
    max_safe: SafeLoading | None = None
    single: list[dict] | None = None
    duty: list[dict] | None = None
    period: list[dict] | None = None
    serial_cap: dict | None = None
    nominal: dict | None = None
    heat_content: list[dict] | None = None
    heat_content_steady: dict | None = None
    continuous: dict | None = None
    seconds: float = 0.0
    confirmed_charts: bool = field(default=False)
    in_words: str | None = None
    load: str = ""
    life: list[dict] | None = None
    case: dict | None = None

    def to_dict(self) -> dict:
        """The content of rating.json."""
        out: dict = {"title": self.title, "case_hash": self.case_hash,
                     "limits": [lim.definition() for lim in self.limits], "engine": self.engine}
        if self.max_safe is not None:
            sl = self.max_safe
            out["max_safe_loading"] = {
                "schedule": self.schedule, "load": self.load, "beam_power_W": sl.power_W,
                "binding": sl.binding,
                "engine_estimate_W": sl.engine_power_W, "confirmed": sl.confirmed,
                "fe_runs": sl.fe_runs, "method": sl.method, "limits_at_that_power": sl.report,
                "tolerance": tolerance(sl)}
            if sl.protocol is not None:
                out["max_safe_loading"]["periodic_protocol"] = sl.protocol
        for key, value in (("single", self.single), ("duty", self.duty),
                           ("period", self.period), ("serial_load_cap", self.serial_cap),
                           ("single_load_0.1s_from_cold", self.nominal),
                           ("heat_content", self.heat_content_steady),
                           ("continuous", self.continuous), ("life", self.life)):
            if value is not None:
                out[key] = value
        if self.in_words is not None:
            out["rating_in_words"] = self.in_words
        out["seconds"] = self.seconds
        if self.case is not None:
            out["case"] = self.case
        return out

    def charts(self) -> list[str]:
        """Names of the charts computed (rating_<name>.csv)."""
        return [n for n in ("single", "duty", "period", "heat_content", "continuous", "life")
                if getattr(self, n) is not None]

    def plot(self, chart: str = "single", ax=None):
        """A chart as in rating_<chart>.png ("single", "duty", "period", "heat_content",
        "life"; those computed).

        Returns:
            The matplotlib axes.
        """
        from .. import output

        if chart not in _FIGURES or getattr(self, chart) is None:
            raise ValueError(f"chart {chart!r}: expected one of "
                             f"{[c for c in self.charts() if c in _FIGURES]}")
        xlabel, x, curves, ylabel, log_x = _FIGURES[chart](self)
        ax = output.draw_chart(ax, xlabel, x, curves, ylabel, self.title, log_x)
        # the single-load chart's anchors are the cold curve's alone
        _mark_points(ax, getattr(self, chart), x, curves, 1 if chart == "single" else 2)
        return ax

    def __repr__(self) -> str:
        parts = [f"<Rating {self.title!r}:"]
        if self.max_safe is not None:
            parts.append(f"max safe {rounded_down(self.max_safe.power_W, 4)} W "
                         f"({self.max_safe.binding} binds, "
                         f"{'confirmed' if self.max_safe.confirmed else 'NOT CONFIRMED'}),")
        if self.continuous is not None:
            c = self.continuous
            parts.append(f"continuous {rounded_down(c['max_continuous_beam_power_W'], 4)} W"
                         + ("," if c["confirmed"] else " (NOT CONFIRMED),"))
        parts.append(f"charts {', '.join(self.charts()) or 'none'}>")
        return " ".join(parts)


def rate(case: Case, out_dir=None, charts=CHARTS, confirm: bool = True,
         progress=print, confirm_charts: bool = False, checkpoint=None,
         fresh: bool = False) -> Rating:
    """Rate a case: limits, maximum safe loading of its schedule, and the charts.

    Args:
        case: a validated case (the rating section gives the chart ranges).
        out_dir: folder for rating_<chart>.csv/.png and rating.json; None: write nothing.
        charts: a chart name or names: "single" (single-load chart, with the 0.1 s load),
            "duty" or "period" (the serial-load charts: both), "continuous" (continuous
            rating, with the heat-content curves), "life" (continuous power against the
            required life), "all" (every one, as ``anodesim rate --chart all``).
        confirm: confirm the maximum safe loadings by full FE runs.
        progress: called with one line per stage (``[k/N]``, what it computes, the FE runs
            and wall time so far) and one per full FE run (progress.fe_run).
        confirm_charts: also confirm every single-load chart point by full FE runs.
        checkpoint: the output folder whose hidden checkpoint (checkpoint.FOLDER) keeps each
            full FE run as it finishes, and gives a rating of the same case killed part
            way its runs back (publish removes it); None: no checkpoint.
        fresh: discard that checkpoint first (every run made again).

    Raises:
        CaseError: bad rating input (an unknown chart name included; the checkpoint is
            then removed, nothing written). ResponseError: the case cannot be rated.
    """
    from .checkpoint import checkpointing

    charts = chart_selection(charts)
    start = time.perf_counter()
    with reporting(progress), checkpointing(checkpoint, case, progress, fresh):
        rating = _rate(case, charts, confirm, progress, confirm_charts, start)
    rating.in_words = in_words(case, rating)
    if rating.in_words:
        progress(f"  {rating.in_words}")
    rating.seconds = time.perf_counter() - start
    if out_dir is not None:
        write(rating, Path(out_dir), case)
    return rating


def _rate(case: Case, charts: tuple[str, ...], confirm: bool, progress, confirm_charts: bool,
          start: float) -> Rating:
    """rate()'s stages, each announced with what it computes and the FE runs so far."""
    from ..resolve import prepare, time_steps

    prep = prepare(case)
    dt0, _ = time_steps(case, prep.spot, prep.mats)
    check_rating_input(case, prep.mats, dt0, charts)
    stage = _stages(case, charts, confirm, confirm_charts, progress, start)
    sim = confirmation_simulation(case) if confirm else None
    preload = "single" in charts and case.rating.preload_W > 0
    if preload and confirm:  # one FE run, before the step response (its FE solves)
        stage("pre-load check")
        _check_preload_run(case, sim)
    engine = build_engine(case)
    progress(f"  step response: {engine.response.rise.shape[0]} times, "
             f"{engine.response.rise.shape[1]} nodes watched, {engine.seconds:.2f} s")
    if engine.not_in_engine:
        progress(f"  NOTE: the {', '.join(engine.not_in_engine)} limit is not in the engine: "
                 "only FE-confirmed numbers respect it; engine-only chart points ignore it")
    rating = Rating(case.title, case.hash(), engine.limits,
                    {"method": "step response by FE (constant properties at the initial "
                               "temperature), superposition",
                     "seconds": engine.seconds, "horizon_s": engine.response.horizon,
                     "limits_not_in_engine": engine.not_in_engine},
                    case.loading.kind, case.rating.preload_W, confirmed_charts=confirm_charts,
                    load=load_description(case, engine.limits), case=case.to_dict())
    if preload and not confirm:
        stage("pre-load check")
        _refuse_preload(case.rating.preload_W, chart_continuous(engine)[
            "max_continuous_beam_power_W"], "linear-response engine estimate at constant "
            "properties, NOT CONFIRMED")
    if case.loading.kind != "steady" or "continuous" in charts:
        stage("maximum safe loading of this schedule")
        rating.max_safe = max_safe_loading(case, engine, confirm=confirm, sim=sim)
        sl = rating.max_safe
        how = (sl.method if sl.confirmed else tolerance(sl) if not sl.fe_runs
               else f"{sl.method}: {tolerance(sl)}")
        progress(f"  maximum safe loading of this schedule: {rounded_down(sl.power_W, 4)} W "
                 f"beam power ({sl.binding} binds; {how})")
    runs = PointRuns(case) if confirm and ("single" in charts or "duty" in charts) else None
    if "single" in charts:
        stage("single-load chart")
        _single(rating, case, engine, sim, progress, runs)
    if "duty" in charts:
        stage("serial-load charts")
        _serial(rating, case, engine, runs, progress)
    if "single" in charts:
        stage("single 0.1 s load")
        _nominal(rating, case, engine, sim, confirm, progress)
    if "continuous" in charts:
        stage("continuous rating")
        _continuous(rating, case, engine, sim, confirm, progress)
    if "duty" in charts:
        _cap_serial(rating, case, engine, sim, confirm, progress)
    if "life" in charts:
        stage("life chart")
        _life(rating, case, engine, sim, confirm, progress)
    return rating


def _stages(case: Case, charts: tuple[str, ...], confirm: bool, confirm_charts: bool,
            progress, start: float):
    """The rating's stages in words, and a callable that announces one by its name:
    ``[2/6] single-load chart: 10 loading times, 0.001 to 1000 s, FE anchors at 3 or more
    of them (2 FE runs so far, 4 s)``."""
    r = case.rating
    fe = "by full FE runs" if confirm else "by the engine only (--no-confirm)"
    what = {"pre-load check": (f"pre-load check: one steady full FE run at the "
                               f"{r.preload_W:.4g} W pre-load" if confirm else
                               f"pre-load check: the continuous rating, {fe}"),
            "maximum safe loading of this schedule":
                f"maximum safe loading of this schedule ({describe(case.loading)}): the "
                + ("engine, then FE runs until the binding limit is met to 0.5 %"
                   if confirm else "engine only (--no-confirm)"),
            "single-load chart":
                f"single-load chart: {r.exposure_points} loading times, {r.exposure_s[0]:g} "
                f"to {r.exposure_s[1]:g} s, "
                + ("every one confirmed by FE runs" if confirm and confirm_charts else
                   "FE anchors at 3 or more of them" if confirm else "engine only")
                + (f", cold and after the {r.preload_W:g} W pre-load" if r.preload_W else ""),
            "serial-load charts":
                f"serial-load charts: {len(r.duty_cycles)} duty cycles at a {r.period_s:g} s "
                f"period and {len(r.periods_s)} periods at duty cycle {r.duty_cycle:g}, "
                + ("FE anchors at 3 or more points of each" if confirm else "engine only"),
            "single 0.1 s load": f"single 0.1 s load from cold, {fe}",
            "continuous rating": f"continuous rating, {fe}"
                + (", then one steady run with mechanics" if confirm and case.mechanics
                   else ""),
            "life chart": f"life chart: {len(LIVES_H)} lives"
                + (" (and the case's pulse train at each)" if case.loading.kind ==
                   "pulse_train" else "") + f", each {fe}"}
    order = [name for name, on in (
        ("pre-load check", "single" in charts and r.preload_W > 0),
        ("maximum safe loading of this schedule",
         case.loading.kind != "steady" or "continuous" in charts),
        ("single-load chart", "single" in charts), ("serial-load charts", "duty" in charts),
        ("single 0.1 s load", "single" in charts), ("continuous rating", "continuous" in charts),
        ("life chart", "life" in charts)) if on]

    def stage(name: str) -> None:
        runs, _ = runs_so_far()
        progress(f"  [{order.index(name) + 1}/{len(order)}] {what[name]} ({runs} FE run"
                 f"{'' if runs == 1 else 's'} so far, {duration(time.perf_counter() - start)})")

    return stage


#: A pre-load whose steady FE run has its binding limit within this of its allowed rise
#: (or over it) is at or above the continuous rating: the continuous rating's own search
#: stops at a power whose run is within this band (safe.max_safe_loading's rtol).
PRELOAD_BAND = 0.005


def _check_preload_run(case: Case, sim) -> None:
    """Refuse a pre-load the anode cannot hold with one steady full FE run at it (k(T),
    ρc(T); the run the continuous rating's search would make there): its binding limit
    broken, or met within PRELOAD_BAND of its allowed rise (the continuous rating's band),
    or the run failing (the anode melts) puts the pre-load at or above the continuous
    rating. One run, before the step response, where the rating's own continuous search
    took some 4 runs after it.

    Raises:
        CaseError: naming rating.preload_W, the limit and, but for a failed run, about where
            the continuous rating lies (the run's excess scaled linearly).
    """
    from .safe import run_excess

    P = case.rating.preload_W
    g, rep = run_excess(case, sim, Loading("steady", ()), P)
    if g < -PRELOAD_BAND:
        return
    if not rep:
        raise CaseError(f"rating.preload_W = {P:g}: a steady full FE run at this beam power "
                        "fails (the anode melts or its solver does not converge): far above "
                        "the continuous rating this case allows, which the anode cannot hold; "
                        "expected a much lower pre-load (`anodesim rate CASE --chart "
                        "continuous` finds the continuous rating)")
    worst = max(rep, key=lambda x: x["excess"])
    which = limit_label(worst["limit"], worst["column"])  # "region housing", as it binds
    how = "breaks" if g > 0 else f"meets within {PRELOAD_BAND:.1%} of its allowed rise"
    raise CaseError(f"rating.preload_W = {P:g}: a steady full FE run at this beam power {how} "
                    f"the {which} limit (excess {g:+.3g} of its allowed rise): at or "
                    "above the continuous rating this case allows (confirmed by FE), which "
                    f"the anode cannot hold; expected a pre-load below about "
                    f"{P / (1 + g + PRELOAD_BAND):.4g} "
                    "W (this run's rise scaled linearly; `anodesim rate CASE --chart "
                    "continuous` finds the continuous rating)")


def _refuse_preload(P_pre: float, ceiling: float, what: str) -> None:
    if P_pre >= ceiling:
        raise CaseError(f"rating.preload_W = {P_pre:g}: at or above the continuous rating this "
                        f"case allows ({ceiling:.4g} W, {what}), which the anode cannot hold; "
                        f"expected a pre-load below {ceiling:.4g} W")


def _single(rating: Rating, case: Case, engine: Engine, sim, progress, runs) -> None:
    """Single-load chart: the Kirchhoff engine corrected at FE anchors (runs; None: engine
    only, constant k), every cold point also confirmed by full FE runs when asked for. The
    pre-loaded curve (rating.preload_W): the Kirchhoff engine with the cold curve's FE
    corrections (kirchhoff.correct_single), never above the cold curve."""
    r = case.rating
    rows = chart_single(engine, np.geomspace(*r.exposure_s, r.exposure_points), r.preload_W)
    if rating.confirmed_charts and runs is not None and r.preload_W > 0:
        # the pre-loaded curve as in a corrected chart; the cold curve from the engine below
        copy = [dict(row) for row in rows]
        c = correct_single(engine, transform_for(case), runs, copy, r.preload_W)
        _refuse_preload(r.preload_W, corrected_continuous(engine, transform_for(case), c),
                        "Kirchhoff engine with the single-load chart's FE correction")
        for row, new in zip(rows, copy):
            row.update({k: new[k] for k in ("max_beam_power_preloaded_W", "binding_preloaded",
                                            "engine_constant_k_preloaded_W",
                                            "engine_preloaded")})
    if rating.confirmed_charts:
        for row in rows:
            sl = confirmed_power(case, engine, row["loading_time_s"],
                                 row["max_beam_power_cold_W"], sim)
            row["max_beam_power_cold_confirmed_W"] = sl.power_W
            row["binding_cold_confirmed"] = sl.binding
            row["cold_confirmed"] = sl.confirmed  # the search's verdict (safe.tolerance)
            progress(f"  single load {row['loading_time_s']:.3g} s: engine "
                     f"{rounded_down(row['max_beam_power_cold_W'], 4)} W, "
                     + (f"confirmed {rounded_down(sl.power_W, 4)} W" if sl.confirmed else
                        f"FE search {rounded_down(sl.power_W, 4)} W ({tolerance(sl)})"))
            if r.preload_W > 0 and row["max_beam_power_preloaded_W"] > sl.power_W:
                row["max_beam_power_preloaded_W"] = sl.power_W  # never above the cold curve
                row["binding_preloaded"] = sl.binding
    elif runs is not None:
        tr = transform_for(case)
        c = correct_single(engine, tr, runs, rows, r.preload_W)
        progress(f"  single-load chart: Kirchhoff engine corrected at FE anchors ({c.runs} "
                 "runs)")
        if r.preload_W > 0:
            _refuse_preload(r.preload_W, corrected_continuous(engine, tr, c),
                            "Kirchhoff engine with the single-load chart's FE correction")
            progress(f"  after a {r.preload_W:g} W pre-load: Kirchhoff engine with the cold "
                     "curve's FE correction (not FE-confirmed)")
    else:
        for row in rows:
            row["engine"] = ENGINE_ONLY
            if r.preload_W > 0:
                row["engine_preloaded"] = ENGINE_ONLY
    rating.single = rows


def _serial(rating: Rating, case: Case, engine: Engine, runs, progress) -> None:
    """Serial-load charts (against duty cycle, against period): the Kirchhoff engine
    corrected at FE anchors (runs; None: engine only, constant k)."""
    r = case.rating
    rating.duty = chart_duty(engine, r.period_s, r.duty_cycles)
    rating.period = chart_period(engine, r.duty_cycle, r.periods_s)
    for rows, along in ((rating.duty, "duty_cycle"), (rating.period, "period_s")):
        if runs is None:
            for row in rows:
                row["engine"] = ENGINE_ONLY
            continue
        n = correct_serial(engine, transform_for(case), runs, rows, along)
        progress(f"  serial-load chart against {along}: Kirchhoff engine corrected at FE "
                 f"anchors ({n} runs)")


#: Why every serial-load point's mean power is held at the continuous rating (charts.cap_serial),
#: in rating.json's serial_load_cap and the charts' CSV notes.
SERIAL_CAP_RULE = ("every serial-load point's mean power (duty cycle x peak) at most the "
                   "continuous rating, a duty-1 point equal to it (at most it if the FE search did "
                   "not confirm it): in the periodic state each "
                   "node's time-average is its steady state at the mean power, so no serial "
                   "load can take a larger mean power under the same limits (the life limits' "
                   "convex damage rates too); a chart point above it is the chart's 1 % "
                   "tolerance, not a rating")


def _cap_serial(rating: Rating, case: Case, engine: Engine, sim, confirm: bool,
                progress) -> None:
    """Hold the serial-load charts' points at the continuous rating (charts.cap_serial): the
    rating's own (FE-confirmed; the engine's with confirm false, as the charts' points
    are then), found here by the same search when the continuous chart was not asked for."""
    cont = rating.continuous or continuous_rating(case, engine, sim, confirm, rating.max_safe)
    P, binding = cont["max_continuous_beam_power_W"], cont["binding"]
    # an unconfirmed rating (its search may have ended above a limit) never raises a point
    settles = cont["confirmed"] or not confirm
    worst = max(cap_serial(rows, P, binding, settles) for rows in (rating.duty, rating.period))
    capped = sum(row["capped_by"] != "" for rows in (rating.duty, rating.period)
                 for row in rows)
    basis = ("the continuous rating, confirmed by FE" if cont["confirmed"] else
             f"the continuous rating, {cont['basis']}" if confirm else
             "the linear-response engine's continuous rating at constant properties, NOT "
             "CONFIRMED (--no-confirm), as the charts' points")
    rating.serial_cap = {"max_continuous_beam_power_W": P, "binding": binding,
                         "confirmed": cont["confirmed"], "basis": basis,
                         "points_capped": capped,
                         "largest_mean_over_continuous_before_cap_rel": worst,
                         "rule": SERIAL_CAP_RULE}
    progress(f"  serial-load charts: {capped} point{'s' * (capped != 1)} held at the "
             f"continuous rating {rounded_down(P, 4)} W mean power ({basis}; the largest "
             f"mean power before: {100 * worst:+.2f} % of it)")


#: Why the 0.1 s figure is not called IEC 60613's "nominal anode input power"
#: (source-and-limits.md A12): the standard defines that for a 0.1 s load at a specified
#: cycle time and anode thermal state of (rotating-anode) medical tubes [R: the details were
#: not verified in the standard]; a stationary microfocus spot settles in microseconds, so
#: a 0.1 s load rates within a few per cent of the continuous rating and says nothing more.
SHORT_LOAD_NOTE = ("a single 0.1 s load from cold (whole anode at the initial temperature), "
                   "not repeated (no cycle time): NOT the IEC 60613 nominal anode input power, "
                   "which needs a cycle time and anode thermal state; for a stationary "
                   "microfocus target whose spot binds it is close to the continuous rating "
                   "(the spot settles in microseconds), not where a slow node (the coolant "
                   "face) binds; its limits held over the load and the cooling after it")


def _nominal(rating: Rating, case: Case, engine: Engine, sim, confirm: bool, progress) -> None:
    """The largest power for a single 0.1 s load from cold (SHORT_LOAD_NOTE)."""
    P_eng, b_eng = engine.max_power(engine.single_load_rise([0.1])[0],
                                    spot=SpotHistory.single(engine, 0.1))
    nominal = {"loading_time_s": 0.1, "initial_state": "cold: the whole anode at the initial "
               f"temperature, {case.initial_temperature_K - 273.15:g} °C",
               "cycle_time_s": None, "note": SHORT_LOAD_NOTE}
    # keys as max_safe_loading's: the rating (confirmed by FE runs, or the engine's estimate
    # with confirmed false), then the engine's estimate beside it
    if confirm:
        sl = confirmed_power(case, engine, 0.1, P_eng, sim)
        nominal.update({"beam_power_W": sl.power_W, "binding": sl.binding,
                        "confirmed": sl.confirmed, "fe_runs": sl.fe_runs,
                        "tolerance": tolerance(sl)})
    else:
        nominal.update({"beam_power_W": P_eng, "binding": b_eng, "confirmed": False,
                        "fe_runs": 0, "tolerance": NOT_CONFIRMED})
    nominal.update({"engine_estimate_W": P_eng, "binding_engine": b_eng})
    rating.nominal = nominal
    progress(f"  single 0.1 s load from cold (not repeated; not the IEC 60613 nominal power): "
             f"{rounded_down(nominal['beam_power_W'], 4)} W beam power"
             + ("" if nominal["confirmed"] else f" ({nominal['tolerance']})"))


def continuous_rating(case: Case, engine: Engine, sim, confirm: bool,
                      max_safe: SafeLoading | None = None) -> dict:
    """The continuous rating as rating.json's "continuous" gives it (without the steady
    state at it): the FE-confirmed power and its binding limit, then the engine's estimate
    beside it; with confirm false the engine's estimate under the rating's keys,
    confirmed false.

    Args:
        case, engine: the rated case and its engine.
        sim: the confirmation simulation (confirm true).
        confirm: search the rating by full FE runs (safe.max_safe_loading).
        max_safe: a steady case's own maximum safe loading if already found (it is this
            rating), else None.
    """
    chart = chart_continuous(engine)
    P_heat, b_eng = chart["max_continuous_beam_power_W"], chart["binding"]
    engine_estimate = {"max_continuous_beam_power_engine_W": P_heat, "binding_engine": b_eng}
    # The rating under the same keys confirmed or not (as max_safe_loading and the life
    # rows), the engine's estimate beside it under its own: a script reading the rating's
    # key never gets the constant-property estimate unmarked (27.6 W against 19.5 W on
    # the reflection insert).
    if not confirm:
        return {"max_continuous_beam_power_W": P_heat, "binding": b_eng, "confirmed": False,
                "basis": NOT_CONFIRMED, **engine_estimate}
    sl = max_safe
    if sl is None or case.loading.kind != "steady":  # else it is this one
        sl = max_safe_loading(dc.replace(case, loading=Loading("steady", ())), engine, sim=sim)
    # confirmed as the search found it: ten runs may end outside the 0.5 % band, or
    # with no run that held every limit (then its tolerance says the power breaks one)
    cont = {"max_continuous_beam_power_W": sl.power_W, "binding": sl.binding,
            "confirmed": sl.confirmed, "fe_runs": sl.fe_runs, **engine_estimate}
    switches = [{k: r[k] for k in ("label", "unit", f"worst_{r['unit']}", "time_s", "excess",
                                   "during")} for r in sl.report if r.get("during")]
    if switches:  # a drift limit held over a switch-on or -off (safe._with_switches)
        cont["switches"] = switches
    if not sl.confirmed:
        cont["basis"] = tolerance(sl)
    return cont


def _continuous(rating: Rating, case: Case, engine: Engine, sim, confirm: bool,
                progress) -> None:
    """Continuous rating, and the heating and cooling curves at that power (a steady case's
    own maximum safe loading is it)."""
    P_heat, b_eng = (chart_continuous(engine)[k] for k in ("max_continuous_beam_power_W",
                                                          "binding"))
    progress(f"  continuous rating (linear-response engine at constant properties"
             f"{'' if confirm else ', NOT CONFIRMED by FE runs'}): "
             f"{rounded_down(P_heat, 4)} W beam power ({b_eng} binds)")
    cont = continuous_rating(case, engine, sim, confirm, rating.max_safe)
    basis = "engine estimate, not FE-confirmed"
    if confirm:
        P, ok = cont["max_continuous_beam_power_W"], cont["confirmed"]
        progress(f"  continuous rating {'confirmed by FE' if ok else 'searched by FE'}"
                 f": {rounded_down(P, 4)} W ({cont['binding']} binds; engine "
                 f"{rounded_down(P_heat, 4)} W)" + ("" if ok else f"; {cont['basis']}"))
        P_heat, basis = P, ("the continuous rating, confirmed by FE" if ok
                            else "the continuous rating, searched by FE, NOT "
                                 "CONFIRMED (its basis says why)")
        if case.mechanics is not None:
            cont["steady_state_at_rating"] = at = steady_mechanics(case, P)
            progress("  steady state at the continuous rating: "
                     f"{_mechanics_words(at, case.geometry)}")
    rating.continuous = cont
    # The curves at the rated power: the engine's own estimate can lie far above it (the
    # reflection insert: 27.6 W bound by the coolant wall at constant k, against 19.5 W
    # confirmed, bound by the spot's erosion at k(T)). Heat content is linear in the power.
    times = np.geomspace(max(engine.response.times[1], 1e-3), engine.response.horizon, 60)
    rating.heat_content = heating_cooling(engine, P_heat, times)
    rating.heat_content_steady = {"beam_power_W": P_heat, "beam_power_basis": basis,
                                  "steady_heat_content_J":
                                  P_heat * engine.p_dep * engine.heat_steady}


#: Required lives of the life chart (operating hours): 100 h to 20 000 h (issue 13).
LIVES_H = (100.0, 300.0, 1000.0, 3000.0, 10_000.0, 20_000.0)


def steady_mechanics(case: Case, beam_W: float) -> dict:
    """The drift and the yield use in steady state at a beam power: one steady FE run of the
    case with its mechanics (the rating's own runs drop them unless a limit watches them).

    What a tube run at its continuous rating reaches once warm: the focal-spot drift a
    drift specification must cover and the heat sink's yield use, neither of which the
    rating limits by default.

    Args:
        case: the case (with [mounts]).
        beam_W: beam power (W).

    Returns:
        beam_power_W, and the final value of every drift, spot and yield-use figure of the
        run's mechanics (summary.json's "mechanics" columns: µm, px, relative).
    """
    from ..simulation import Simulation
    from . import checkpoint
    from .engine import rating_copy
    from .progress import fe_run

    steady = rating_copy(case, True, loading=Loading("steady", ()),
                         output=dc.replace(case.output, fields=False, figures=False))
    what = "steady state with mechanics (drift, yield use)"
    key = ("mechanics", dc.replace(steady, beam=dc.replace(steady.beam, power_W=beam_W)).hash())
    found, final = checkpoint.recall(key, what, beam_W)
    if not found:
        with fe_run(what, beam_W):  # kept before its line is printed
            m = Simulation(steady).run(beam_power_W=beam_W).summary_dict()["mechanics"]
            final = {k: v["final"] for k, v in m.items()
                     if isinstance(v, dict) and "final" in v}
            # the cell under the yield use's ball: a coarse one makes it likely low
            final.update({"yield_cell_um": v["cell_um"] for k, v in m.items()
                          if k.startswith("yield_use_") and v.get("cell_um") is not None})
            checkpoint.keep(key, final)
    warning = coarse_yield_cells(final.get("yield_cell_um"))
    return {"beam_power_W": beam_W,
            "method": "one steady FE run with the case's mechanics at this beam power",
            **final, **({"yield_warning": warning} if warning else {})}


def region_words(region: str, geometry=None) -> str:
    """A region's name in the rating's words: a built-in geometry's spelled out ("heat_sink":
    "heat sink"), a user mesh's or STEP part's as its user named it ("braze", "Cu_body",
    "heat_sink_housing_braze": the names its files and `run` print)."""
    user = geometry is not None and geometry.kind in USER_GEOMETRIES
    return region if user else region.replace("_", " ")


def _mechanics_words(at: dict, geometry=None) -> str:
    """The steady drift and yield use at a power, in words: "the spot drifts 18.4 µm across
    the view (4.41 px), the heat sink at 4.6× its yield strength near the joint" (a user
    mesh's or STEP part's second region by its own name: region_words), the yield use with
    the run's warning when its cells are coarse (limits.coarse_yield_cells)."""
    parts = []
    if "drift_across_view_um" in at:
        px = at.get("image_drift_px")
        dM = at.get("magnification_change_rel")  # a view along the beam sees only this
        parts.append(f"the spot drifts {at['drift_across_view_um']:.3g} µm across the view"
                     + (f" ({px:.3g} px)" if px is not None else "")
                     + ("" if dM is None else " and changes the magnification by dM/M "
                        + (f"{dM:+.2g}" if dM else "0")))  # not "+0" (nor "-0")
    for k, v in at.items():
        if k.startswith("yield_use_") and k.endswith("_rel"):
            region = region_words(k[len("yield_use_"):-len("_rel")], geometry)
            coarse = at.get("yield_warning")  # the run's own warning, with its number
            parts.append(f"the {region} at {v:.2g}× its yield strength near the joint"
                         + (f" ({coarse})" if coarse else ""))
    return ", ".join(parts) or "no drift or yield figure"


def _life(rating: Rating, case: Case, engine: Engine, sim, confirm: bool, progress) -> None:
    """Maximum continuous beam power against the required life (the erosion budget spent
    over each life), FE-confirmed like the continuous rating; nothing without an erosion
    limit (spot = "short_exposure", or no vapour-pressure data)."""
    from ..resolve import region_materials

    if not any(lim.name == "erosion" for lim in engine.limits):
        progress("  life chart: no erosion limit in this case (spot = \"short_exposure\" or "
                 "no vapour-pressure data); not computed")
        return
    mats = region_materials(case)
    steady = dc.replace(case, loading=Loading("steady", ()))
    rows = []
    for hours in LIVES_H:
        lived = dc.replace(steady, limits=dc.replace(case.limits, life_h=hours))
        # every life limit (erosion, recrystallisation) with its budget spent over this life
        new = {(x.name, x.column): x for x in limits_for(lived, mats)}
        # (a limit of the case's own that the steady case lacks, the melting ceiling of a
        # repeated schedule's spot, kept as it is: a KeyError here before)
        eng = dc.replace(engine, limits=[new.get((x.name, x.column), x)
                                         for x in engine.limits])
        # the superpositions depend on the nodes and probes, not on the life: shared
        eng.serial_rises, eng.single_loads = engine.serial_rises, engine.single_loads
        lim = new[("erosion", "T_peak_C")]
        sl = max_safe_loading(lived, eng, confirm=confirm, sim=sim)
        rows.append({"life_h": hours, "max_continuous_beam_power_W": sl.power_W,
                     "tube_current_mA": sl.power_W / case.beam.voltage_V * 1e3,
                     "binding": sl.binding, "confirmed": sl.confirmed,
                     "engine_W": sl.engine_power_W,
                     "equivalent_spot_temperature_C": lim.temperature_C})
        progress(f"  life {hours:g} h: {rounded_down(sl.power_W, 4)} W continuous "
                 f"({sl.binding} binds{'' if sl.confirmed else ', NOT CONFIRMED'})")
        if case.loading.kind == "pulse_train":  # peak power of the case's own pulse train
            pk = max_safe_loading(dc.replace(case, limits=lived.limits), eng, confirm=confirm,
                                  sim=sim)
            rows[-1].update({"max_peak_beam_power_W": pk.power_W,
                             "peak_tube_current_mA": pk.power_W / case.beam.voltage_V * 1e3,
                             "binding_peak": pk.binding, "confirmed_peak": pk.confirmed})
            progress(f"  life {hours:g} h: {rounded_down(pk.power_W, 4)} W peak in this pulse "
                     f"train ({pk.binding} binds{'' if pk.confirmed else ', NOT CONFIRMED'})")
    rating.life = rows


def in_words(case: Case, rating: Rating) -> str | None:
    """The rating as a tube maker quotes it, one paragraph: spot, kV, the confirmed power
    (and tube current at the case's kV) for the rated life, what binds; the continuous
    rating and the other lives; and the serial-load charts (duty cycle, period) where they
    were computed, each with its range of peak powers and currents and what produced them.
    None without anything rated."""
    b = case.beam
    parts = []
    sl = rating.max_safe
    life_h = next((lim.life_h for lim in rating.limits if lim.name == "erosion"), None)
    head = f"{b.size_m * 1e6:g} µm {b.spot} spot, {b.voltage_V / 1e3:g} kV"
    if sl is not None:
        load_s = case.loading.segments[0][0] if case.loading.segments else 0.0
        what = {"steady": "continuous", "continuous": f"in single {load_s:g} s loads",
                "pulse_train": "peak, in this pulse train"}.get(case.loading.kind,
                                                             "in this schedule")
        repeat = case.loading.repeat_every_s  # the life limits count loads so repeated
        if repeat is not None:
            what = (f"in {load_s:g} s loads" if case.loading.kind == "continuous" else what) \
                + f" repeated every {repeat:g} s"
        start = {"steady": "", "continuous": ", each from cold"}.get(case.loading.kind,
                                                                   ", starting from cold")
        cold = start and (f"{start} ({case.initial_temperature_K - 273.15:g} °C)"
                          + "," * bool(life_h))
        if repeat is not None:  # rated in the periodic state (engine.repeated)
            whose = "their" if case.loading.kind == "continuous" else "its"
            cold = f", in {whose} periodic state (the anode never back to cold)" \
                + "," * bool(life_h)
        parts.append(f"{_watts(sl.power_W, b, what)}{cold}"
                     + (f" over a {life_h:g} h life" if life_h else "")
                     + f", limited by {binding_words(sl.binding, case.geometry)}"
                     + switch_words(sl.report, sl.binding)
                     + ("" if sl.confirmed else " (NOT CONFIRMED by full FE runs)"))
    c = rating.continuous
    at = (c or {}).get("steady_state_at_rating")
    warm = f" (in steady state there {_mechanics_words(at, case.geometry)})" if at else ""
    if c is not None and (sl is None or case.loading.kind != "steady"):
        during = switch_words(c.get("switches", []), c["binding"])
        parts.append(_watts(c["max_continuous_beam_power_W"], b, "continuous")
                     + (f", limited by {binding_words(c['binding'], case.geometry)}{during}"
                        if during else "")
                     + ("" if c["confirmed"] else " (NOT CONFIRMED by full FE runs)") + warm)
    elif parts:  # a steady case: its maximum safe loading is the continuous rating
        parts[-1] += warm
    others = [row for row in rating.life or [] if row["life_h"] != life_h]
    if others:
        parts.append("for other lives: " + ", ".join(
            f"{row['life_h']:g} h {rounded_down(row['max_continuous_beam_power_W'])} W"
            + ("" if row["binding"] == "erosion" else f" ({row['binding']} binds)")
            + ("" if row["confirmed"] else " (not confirmed)") for row in others))
    for rows, along, fixed in ((rating.duty, "duty_cycle", "period_s"),
                               (rating.period, "period_s", "duty_cycle")):
        if rows:
            parts.append(_serial_words(rows, along, fixed, b, case.geometry))
    if not parts:
        return None
    # What a reader of "over a 10000 h life" would take as rated and is not, by default
    names = {lim.name for lim in rating.limits}
    unrated = ["thermal fatigue of the spot (limits.fatigue)"] if "fatigue" not in names else []
    sink = yield_region(case.geometry, case.materials)  # where a run reports the yield use
    if case.mechanics is not None and "yield" not in names and sink is not None:
        unrated.append(f"the {region_words(sink, case.geometry)}'s yield (limits.yield_use)")
    if unrated:
        parts.append("not rated (reported by a run only): " + " and ".join(unrated))
    return f"{head}: " + "; ".join(parts) + "."


def load_description(case: Case, limits: list[Limit]) -> str:
    """What the maximum safe loading of the case's own schedule assumes: the load, the
    anode's state at its start and what its life limits count. A rating "in 10 s loads"
    holds for loads that each start from cold; loads repeated sooner are hotter. A
    schedule repeated every loading.repeat_every_s is rated in its periodic state; one
    that is not, over the cooling after its end as well (engine.schedule_after)."""
    T = case.end_time_s
    cold = (f"from cold (the whole anode at {case.initial_temperature_K - 273.15:g} °C), "
            "every limit held over the cooling after it too (the beam then off)")
    sooner = ("; loads repeated before the anode is back at that temperature start hotter: "
              "they are rated by the duty-cycle chart (--chart duty), back to back by the "
              "continuous rating (--chart continuous)")
    life = next((lim.life_h for lim in limits if lim.name == "erosion"), None)
    repeat = case.loading.repeat_every_s
    count = f"; the life limits count {life:g} h of such loads" if life else ""
    if repeat is not None:  # the pause up to it is the schedule's last segment
        cold = ("in its periodic state: loads repeated every "
                f"{repeat:g} s, each starting where the one before left the anode, never "
                "back to cold (the first one, from cold at "
                f"{case.initial_temperature_K - 273.15:g} °C, is checked too)")
        sooner = ""
        count = f"; the life limits count {life:g} h of operation" if life else ""
    kind = case.loading.kind
    if kind == "steady":
        return "constant beam power held until the anode is steady (the continuous rating)"
    if kind == "continuous":
        return (f"one {case.loading.segments[0][0]:g} s load at constant beam power"
                f"{', ' if repeat is not None else ' '}{cold}{count}{sooner}")
    what = "this pulse train, rated by its peak power" if kind == "pulse_train" else \
        "this schedule, rated by its largest power"
    if len({p for _, p in case.loading.segments if p > 0.0}) > 1:
        # the engine and the FE runs scale the schedule as a whole (linear in one factor)
        what += (" with every segment's power scaled by the same factor (a standby or lower "
                 "segment too)")
    return f"{what}, {T:g} s, {cold}{count}{sooner}"


def _watts(P: float, beam, what: str = "") -> str:
    """A beam power, what it is, and its tube current at the beam's voltage, each a
    maximum rounded down: "22.3 W continuous (0.223 mA)" for 22.39 W at 100 kV."""
    return (f"{rounded_down(P)} W{' ' + what if what else ''} "
            f"({rounded_down(P / beam.voltage_V * 1e3)} mA)")


def _serial_words(rows: list[dict], along: str, fixed: str, beam, geometry=None) -> str:
    """A serial-load chart in words: the peak power (and current) at its first and last
    point, the binding limits (binding_words, of the case's geometry), what produced the
    numbers and how many points were held at the continuous rating (charts.cap_serial)."""
    unit = {"period_s": " s"}.get(along, "")
    name = {"duty_cycle": "duty cycle", "period_s": "period"}
    first, last = rows[0], rows[-1]
    binds = list(dict.fromkeys(r["binding"] for r in rows))
    probe = sum(r.get("engine") == BY_DRIFT_PROBE for r in rows)
    if "fe_confirmed" in first:
        n = sum(r["fe_confirmed"] for r in rows)
        how = "k(T) Kirchhoff engine" + (
            "" if not n else f" corrected at {n} FE anchor{'s' * (n != 1)}"
            + (", the other points interpolated" if n + probe < len(rows) else
               ": every point an anchor" if not probe else ""))
    else:
        how = "constant-k engine, NOT CONFIRMED"
    if probe:  # kirchhoff.BY_DRIFT_PROBE
        how += (f"; {probe} point{'s' * (probe != 1)} bound by a drift limit, from the "
                "engine's drift probe at constant properties, not FE-corrected")
    held = sum(bool(r.get("capped_by")) for r in rows)
    if held:  # charts.cap_serial: the chart's 1 % tolerance, not a rating, was above it
        how += (f"; {held} point{'s' * (held != 1)} held at the continuous rating's mean "
                "power")
    return (f"serial load at {name[fixed]} {first[fixed]:g}{' s' * (fixed == 'period_s')}: "
            f"{_watts(first['max_peak_beam_power_W'], beam, 'peak')} at {name[along]} "
            f"{first[along]:g}{unit} to {_watts(last['max_peak_beam_power_W'], beam)} at "
            f"{last[along]:g}{unit}, limited by "
            + " / ".join(binding_words(x, geometry) for x in binds) + f" ({how})")


_BINDING_WORDS = {"erosion": "evaporation of the target at the spot (erosion over the life)",
                  "recrystallisation": "recrystallisation of the W at the spot over the life",
                  "fatigue": "thermal-fatigue crack initiation at the spot over the life "
                             "(an estimate from tensile data)",
                  "spot": "the spot temperature", "interface": "the joint (interface)",
                  "heat_sink": "the heat sink temperature",
                  "coolant_side": "the coolant-side wall temperature",
                  "drift": "the focal-spot drift",
                  "magnification": "the magnification change of the focal-spot drift"}


def binding_words(binding: str, geometry=None) -> str:
    """A binding limit (its label, limits.limit_label) in the rating's words: a joint by
    its interface name ("interface heat_sink_housing": "the joint heat_sink_housing
    (interface)"), another region than the heat sink by its name ("region housing": "the
    housing temperature"), the heat sink limit by the geometry's second region
    (region_words: "the heat sink temperature", a transmission target's "the window
    temperature", a user mesh's "the rod temperature"; without a geometry "heat sink")."""
    sink = heat_sink_region(geometry) if geometry is not None else None
    if binding == "heat_sink" and sink is not None:
        return f"the {region_words(sink, geometry)} temperature"
    name, _, where = binding.partition(" ")
    if where and name == "interface":
        return f"the joint {where} (interface)"
    if where and name == "region":
        return f"the {where} temperature"
    return _BINDING_WORDS.get(binding, binding)


# ---------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------
def _single_figure(rating: Rating):
    rows = rating.single
    curves = {f"from cold ({_chart_label(rating, rows)})": [row["max_beam_power_cold_W"]
                                                            for row in rows]}
    if rating.confirmed_charts:
        # the search's own verdict per point (cold_confirmed): the label claims no more
        missed = sum(1 for row in rows if not row.get("cold_confirmed", True))
        label = ("confirmed by FE" if not missed else
                 f"FE searches, {missed} of {len(rows)} points NOT CONFIRMED")
        curves[f"from cold ({label})"] = [row["max_beam_power_cold_confirmed_W"]
                                          for row in rows]
    if rating.preload_W > 0:
        how = {BY_COLD_CORRECTION: "k(T): Kirchhoff engine, the cold curve's FE correction; "
               "NOT FE-confirmed"}.get(rows[0].get("engine_preloaded"), ENGINE_ONLY)
        curves[f"after a {rating.preload_W:g} W pre-load ({_engine_label(rating, how)})"] = [
            row["max_beam_power_preloaded_W"] for row in rows]
    return ("loading time (s)", [row["loading_time_s"] for row in rows], curves,
            "single-load rating: maximum beam power (W)", True)


def _engine_label(rating: Rating, label: str = ENGINE_ONLY) -> str:
    skipped = rating.engine.get("limits_not_in_engine") or []
    return label + (f"; ignores the {', '.join(skipped)} limit" if skipped else "")


def _chart_label(rating: Rating, rows: list[dict]) -> str:
    """What produced a chart's points, for its legend."""
    if "fe_confirmed" in rows[0]:
        return _engine_label(rating, "k(T): Kirchhoff engine, FE-corrected")
    return _engine_label(rating)


def _serial_figure(rating: Rating, rows: list[dict], x: str, xlabel: str, log_x: bool):
    label = _chart_label(rating, rows)
    return (xlabel, [row[x] for row in rows],
            {f"peak power ({label})": [row["max_peak_beam_power_W"] for row in rows],
             f"mean power ({label})": [row["max_mean_beam_power_W"] for row in rows]},
            "serial-load rating: maximum beam power (W)", log_x)


def _mark_points(ax, rows: list[dict], x, curves: dict, n: int = 2) -> None:
    """On a FE-corrected chart: FE anchors as filled squares, the points between them (not
    FE-confirmed themselves: interpolated correction) as open circles, a point a drift
    limit binds uncorrected (kirchhoff.BY_DRIFT_PROBE) as an open triangle, on the first n
    curves (those the anchors corrected)."""
    if not rows or "fe_confirmed" not in rows[0]:
        return
    flags = np.array([row["fe_confirmed"] for row in rows])
    probe = np.array([row.get("engine") == BY_DRIFT_PROBE for row in rows])
    kinds = ((flags, "ks", {}, "FE anchor (k(T) runs, within 1 %)"),
             (~flags & ~probe, "o", {"mfc": "white", "mec": "k"},
              "NOT FE-confirmed: interpolated correction"),
             (probe, "^", {"mfc": "white", "mec": "k"},
              "NOT FE-confirmed: the engine's drift probe (constant properties)"))
    x = np.asarray(x, dtype=float)
    for i, y in enumerate(list(curves.values())[:n]):
        y = np.asarray(y, dtype=float)
        # a legend entry only for points there are: an empty plot still draws its label
        # (every point an anchor read "NOT FE-confirmed: interpolated correction")
        for which, marker, style, label in kinds:
            if which.any():
                ax.plot(x[which], y[which], marker, ms=6, **style,
                        label=label if i == 0 else None)
    ax.legend(fontsize=8)


def _life_figure(rating: Rating):
    rows = rating.life
    label = "confirmed by FE" if all(r["confirmed"] for r in rows) else \
        "NOT all CONFIRMED: see rating_life.csv"
    curves = {f"continuous ({label})": [r["max_continuous_beam_power_W"] for r in rows]}
    if "max_peak_beam_power_W" in rows[0]:
        curves["peak, this pulse train"] = [r["max_peak_beam_power_W"] for r in rows]
    return ("required life (h)", [r["life_h"] for r in rows], curves,
            "maximum beam power (W)", True)


def _heat_figure(rating: Rating):
    rows, P = rating.heat_content, rating.heat_content_steady["beam_power_W"]
    basis = rating.heat_content_steady.get("beam_power_basis", "")
    # the basis is the power's; the curves are the engine's (HEAT_CONTENT_NOTES): "confirmed
    # by FE" beside them alone read as if the curves were
    return ("time (s)", [row["time_s"] for row in rows],
            {f"heating at {rounded_down(P)} W ({basis}; curves: {HEAT_CONTENT_CURVES})":
             [row["heating_J"] for row in rows],
             "cooling after switch-off": [row["cooling_J"] for row in rows]},
            "anode heat content (J)", True)


def _duty_label(rows: list[dict]) -> str:
    return f"duty cycle (period {rows[0]['period_s']:g} s)"


def _period_label(rows: list[dict]) -> str:
    return f"period (s), duty cycle {rows[0]['duty_cycle']:g}"


_FIGURES = {
    "single": _single_figure,
    "duty": lambda r: _serial_figure(r, r.duty, "duty_cycle", _duty_label(r.duty), False),
    "period": lambda r: _serial_figure(r, r.period, "period_s", _period_label(r.period), True),
    "heat_content": _heat_figure,
    "life": _life_figure,
}


#: What a rating (or its report) writes into its folder: what ``rate --overwrite`` removes of
#: an earlier rating (with output.atomic_write's unfinished temporaries), and nothing else.
RATING_FILE = re.compile(
    r"^(rating\.json|rating_[a-z_]+\.(csv|png)|report\.html|case\.toml|mesh\.msh)$")

#: Largest mesh (cells, cost.cell_count's estimate) a rating writes beside its charts for
#: its report's picture of the geometry: a 1.5 M-cell 3-D mesh would be built again for
#: minutes and take hundreds of MB for a picture.
MESH_PICTURE_CELLS = 200_000


def remove_rating(out: Path, keep=()) -> list[str]:
    """Remove an earlier rating's files from out (output.remove_files) but none of `keep`
    (the new rating's case file, which may be that folder's case.toml); the names removed."""
    from ..output import remove_files

    return remove_files(out, RATING_FILE.match, [p for p in keep if p])


#: The hidden folder of out where a rating's files are written before they are moved in.
NEW_RATING_PREFIX = ".anodesim-new-rating-"


def publish(rating: Rating, out: Path, case: Case, case_text: str | None, replace: bool,
            keep=()) -> None:
    """Write a rating into out in one step, as ``anodesim rate`` and anodesim.rate do: its
    files (write) and the case file's text (case.toml) into a hidden folder of out, then
    moved in by renames, so that a SIGKILL or a failure while they are written leaves the
    earlier rating; Ctrl-C and SIGTERM wait for the files (a few seconds of figures; a
    second Ctrl-C still ends it at once, errors.signals_held): a signal there left the folder
    with neither the earlier rating nor the new one, its minutes of computing lost. With
    replace, the earlier rating's files go first (remove_rating; none of keep, the case
    file, which may be that folder's case.toml). Then the checkpoint of the rating's FE runs
    goes (checkpoint.py): a kill before that leaves it, and a re-run takes its runs again."""
    import shutil
    import tempfile

    from .. import output
    from ..errors import signals_held
    from .checkpoint import discard

    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(f"{NEW_RATING_PREFIX}*"):  # a killed rating's (no code ran)
        shutil.rmtree(stale, ignore_errors=True)
    with signals_held():
        new = Path(tempfile.mkdtemp(prefix=NEW_RATING_PREFIX, dir=out))
        try:
            write(rating, new, case)
            if case_text is not None:  # (cli.report.keep_case_text's file)
                output.atomic_write(new / "case.toml", case_text)
        except BaseException:
            shutil.rmtree(new, ignore_errors=True)
            raise
        if replace:  # none of the earlier rating's files beside the new ones
            remove_rating(out, keep=keep)
        for entry in sorted(new.iterdir()):
            entry.replace(out / entry.name)
        new.rmdir()
        discard(out)  # the runs of this rating, kept in case it was killed


def write(rating: Rating, out: Path, case: Case | None = None) -> None:
    """rating_<chart>.csv and .png (the continuous rating: CSV only), rating.json, and with
    the rated case its mesh (write_mesh)."""
    from .. import output

    out.mkdir(parents=True, exist_ok=True)
    for name in rating.charts():
        rows = [_flat(rating.continuous)] if name == "continuous" else getattr(rating, name)
        _write_chart(out, name, rows)
        if name in _FIGURES:
            ax = rating.plot(name)
            output._save(ax.figure, out / f"rating_{name}.png")
    output.write_json(out / "rating.json", rating.to_dict())
    if case is not None:
        write_mesh(case, out)


def write_mesh(case: Case, out: Path) -> None:
    """out/mesh.msh: the mesh of the rating's FE runs (the case meshed as a run of it is,
    engine.rating_copy), for the report's picture of the geometry. None for a mesh read
    from a file (the report of a run of it has none either) or one of more than
    MESH_PICTURE_CELLS cells."""
    from .. import geometry
    from ..cost import cell_count
    from ..resolve import mesh_of_the_run, prepare

    if case.geometry.kind == "user_mesh" or case.mesh.file:
        return
    case = dc.replace(case, mesh=mesh_of_the_run(case))
    prep = prepare(case)
    if case.geometry.kind != "cad" and cell_count(case, prep) > MESH_PICTURE_CELLS:
        return
    geometry.build_mesh(case, prep, out / "mesh.msh").finalize()


def _flat(row: dict) -> dict:
    """A row with its tables spread into columns ("steady_state_at_rating": {"a": 1} →
    "steady_state_at_rating.a": 1), for a CSV."""
    out = {}
    for k, v in row.items():
        out.update({f"{k}.{kk}": vv for kk, vv in v.items()} if isinstance(v, dict) else {k: v})
    return out


#: What a single-load chart's point holds: the limits over the load and the cooling after it
#: (Engine.single_load_rise): a node away from the spot keeps warming after the power falls
#: (the shipped rod's coolant face 1.95 times its end-of-load rise after a 1 s load), and a
#: drift that reverses swings furthest after the switch-off.
SINGLE_LOAD_SCOPE = ("each point holds every limit over the load and the cooling after it, "
                     "from cold and back: a node away from the spot (the coolant face, a far "
                     "joint) keeps warming after the load ends, and a drift whose fast and "
                     "slow parts nearly cancel swings furthest after the switch-off; the life "
                     "limits count the load's damage; after a pre-load the tube returns to "
                     "the pre-load or is switched off, whichever is worse")


#: What the heat-content curves are, in their legend: the power is the rating's.
HEAT_CONTENT_CURVES = "constant-property engine, not FE"
#: What the heat-content chart's columns are (the charts' engine and confirmation notes
#: describe columns it does not have).
HEAT_CONTENT_NOTES = (
    "heat content of the anode above its initial state (J) at beam_power_W (its basis in "
    "rating.json, heat_content.beam_power_basis): heating_J from cold, cooling_J after "
    "switch-off from the steady heat content (0 once below the step response's resolution)",
    "both from the linear-response engine's stored heat per watt (constant properties at "
    "the initial temperature, superposition): the power is the rating's, the curves are not "
    "FE runs at k(T), rho*c(T)")


#: What an FE anchor's power is (kirchhoff.anchor_point): the power its last k(T) FE run's
#: correction predicts, that run within ANCHOR_RTOL (1 %) of it; the charts' points are
#: verified within 1 % of brute-force FE (test_rating_kT). At that very power the binding
#: limit can be exceeded by a small part of its allowed rise: the anchor's tolerance, not a
#: defect, but not the 0.5 % band from below of max_safe_loading's confirmed powers. A
#: serial-load anchor's 2-4 FE periods are raised by the constant-k engine's protocol
#: shortfall (kirchhoff.raised_checks), which under k(T) is about 70 % of the real one: a
#: 0.5 mm W block (spot_C 1500 °C, k(T)), duty 0.5 of 0.1 ms, anchor 8.6534 W: 2 FE periods
#: -8.28e-5 of the rise under the limit, raised -3.2e-7, 64 FE periods +3.49e-5 over
#: (README "Ratings", measured 2026-12-05); at 1 ms to 0.1 s every anchor held in a plain
#: run from cold (8e-6 to 1.8e-5 under).
ANCHOR_NOTE = ("an FE anchor's power (fe_confirmed true) is the one its last k(T) FE run's "
               "correction predicts, that run within 1 % of it: within 1 % of brute-force FE, "
               "not confirmed from below like max_safe_loading; at that very power the "
               "binding limit may be exceeded by a small part of its allowed rise (3.5e-5 "
               "measured on a 0.5 mm W block at 0.1 ms: a serial-load anchor's FE periods are "
               "raised to the periodic state by the constant-k engine's shortfall, under k(T) "
               "about 70 % of the real one)")


def _chart_notes(name: str, header: list[str], rows: list[dict]) -> list[str]:
    """The comment lines of rating_<name>.csv: what produced its numbers, one note for each
    kind of column the chart has and none for columns it does not have."""
    notes = ["anodesim rating chart; beam power before backscatter"]
    if name == "heat_content":
        return notes + list(HEAT_CONTENT_NOTES)
    if name == "continuous":
        engine = ("max_continuous_beam_power_engine_W (binding_engine): the linear-response "
                  "engine's estimate at constant properties (the initial temperature's), NOT "
                  "CONFIRMED")
        if rows[0]["confirmed"]:
            rated = ("max_continuous_beam_power_W (binding, fe_runs): the continuous rating, "
                     "confirmed by full FE runs")
        elif rows[0].get("fe_runs"):
            rated = ("max_continuous_beam_power_W (binding, fe_runs): the continuous rating "
                     f"searched by full FE runs, {rows[0]['basis']}")
        else:
            rated = ("max_continuous_beam_power_W (binding): the engine's estimate, NOT "
                     "CONFIRMED (rated with --no-confirm: no FE run confirms it)")
        notes.append(f"{rated}; {engine}")
    if name == "life":
        notes.append("max_continuous_beam_power_W (binding, confirmed; with a pulse train "
                     "max_peak_beam_power_W, binding_peak, confirmed_peak): the power whose "
                     "erosion over life_h spends the budget, searched by full FE runs "
                     "(confirmed false: NOT CONFIRMED); engine_W: the linear-response "
                     "engine's estimate at constant properties; equivalent_spot_temperature_C: "
                     "the constant spot temperature that spends it")
    if "engine_preloaded" in header:
        notes += ["columns 'engine' and 'fe_confirmed': the cold curve's points: an FE anchor "
                  "(k(T), rho*c(T) runs), the Kirchhoff engine with the FE correction "
                  "interpolated between anchors (fe_confirmed false), the engine's drift "
                  "probe where a drift limit binds (fe_confirmed false), or the constant-k "
                  "engine (NOT CONFIRMED)",
                  "column 'engine_preloaded': what produced the pre-loaded curve (no FE run "
                  "starts from the pre-load; capped at the cold curve's power)"]
    elif "engine" in header:
        notes.append("column 'engine': what produced each point: an FE anchor (k(T), "
                     "rho*c(T) runs), the Kirchhoff engine with the FE correction "
                     "interpolated between anchors (fe_confirmed false), the engine's drift "
                     "probe where a drift limit binds (fe_confirmed false: the anchors do "
                     "not correct a drift), or the constant-k engine (NOT CONFIRMED)")
    if "fe_confirmed" in header:
        notes.append(ANCHOR_NOTE)
    if "capped_by" in header:
        notes.append("column 'capped_by': 'continuous rating' where the continuous rating "
                     "(rating.json serial_load_cap) set the point in place of what column "
                     f"'engine' names: {SERIAL_CAP_RULE}")
    if any(h.startswith("engine_constant_k") for h in header):
        notes.append("columns engine_constant_k*: the linear-response engine at the initial "
                     "temperature's properties (a first estimate when they depend on T)")
    if any(h.endswith("_confirmed_W") for h in header):
        notes.append("columns *_confirmed_W (binding_*_confirmed, *_confirmed): full "
                     "finite-element runs, secant-corrected")
    if name == "single":  # the chart's scope (README), in the file a rating is signed from
        notes.append(SINGLE_LOAD_SCOPE)
    return notes


def _write_chart(out: Path, name: str, rows: list[dict]) -> None:
    from .. import output

    header = list(rows[0])
    output.write_csv(out / f"rating_{name}.csv", header, [[row[h] for h in header] for row in rows],
                     _chart_notes(name, header, rows))
