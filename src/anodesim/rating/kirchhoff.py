"""Rating charts right with temperature-dependent properties: a Kirchhoff-transformed
linear-response engine, corrected at a few FE-solved anchor points (issue 13 item 3).

1. Kirchhoff transform. With k(T) the steady heat equation of a homogeneous body whose
   boundaries are at T0 becomes the constant-k one for U(T) = T0 + ∫_{T0}^{T} k(s)/k(T0) ds
   (Carslaw & Jaeger, Conduction of Heat in Solids, 2nd ed. 1959, §1.7). The engine (k at
   T0) therefore predicts U, not T: a temperature limit T_lim on nodes of material m is
   rated against the head U_m(T_lim) − T0 instead of T_lim − T0. For W from 30 to 2058 °C
   U − T0 is 0.65 of T − T0 (W k(T) of data/materials.toml). This is exact for a steady spot in a
   homogeneous body; in a composite anode (the heat path crosses the heat sink's k(T)), in
   transients (ρc(T)/k(T) changes with T) and with convective faces it is approximate.
2. FE anchors. A few points of each chart are solved with full k(T), ρc(T) finite-element
   runs (re-runs of one Simulation, ``PointRuns``). At each, per limit L, the ratio
   f_L = U_L(FE rise) / (engine's linear rise) is measured and re-measured at the power it
   predicts until that power moves by less than ANCHOR_RTOL.
3. Every chart point: P = min_L (U-head_L / f_L(x)) / (p_dep · max rise_L), with f_L
   interpolated between the anchors (piecewise linear in the logarithm of the chart's x:
   duty cycle, period, loading time). The anchors are marked "FE anchor", the other points
   "Kirchhoff engine + interpolated FE correction" (not FE-confirmed themselves).
4. Serial loads: the life limits (erosion, recrystallisation) are rated on the engine's spot
   waveform over the period (Waveform: mean damage rate, as the FE run checks them), their
   f_L being the factor that makes that waveform's damage match the anchor's FE run. Rated
   on the peak instead, their f_L carries the waveform's effect, which changes with the
   period faster than the interpolation follows (2 % off at 10 s on an erosion-bound anode).

Serial-load points are solved in their periodic steady state: a steady k(T) solve at the
mean power (the state the train oscillates about) entered in the middle of an on-phase, then
protocol_repetitions' periods of the train (the fewest of 2 to 64 whose engine superposition
is within 0.1 % of the exact periodic state), at most ANCHOR_REPETITIONS (4), each limit raised
by what the engine finds the protocol still lacks (raised_checks); the limits are taken
over the last period
(tests/test_rating_kT.py checks this against the engine's exact periodic sum with constant
properties). The runs carry mechanics only for a yield limit: a drift
limit enters the corrected charts through the engine's (linear) drift probe, uncorrected
(with mechanics, a single-load anchor from cold corrects it; a serial anchor, from the
mean-power steady state, never: correct_chart's drift_from_anchors); the yield limit through the engine's stress probe (Engine.yield_power), its
f_L the FE run's yield use over the probe's at the anchor's power.
5. The fatigue limit is rated on the spot's history over each point's schedule
   (engine.SpotHistory: the cycles the FE run counts), in temperature
   T0 + rise_of_u(f · P_dep · history), its f the factor with which that history has the
   anchor's FE run's fatigue scale (LimitCheck.scale: the factor on the spot's rise at
   which the crack-initiation life equals the rated life).
"""

from __future__ import annotations

import dataclasses as dc
import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .. import life
from ..case import Case, Loading, cooled_regions, regions_by_face, regions_of
from ..limits import (SIGNED_LIMITS, FatigueLimit, LifeLimit, Limit, LimitCheck, check,
                      check_load, limit_label, limits_for, rise_allowed)
from ..results import TimeSeries
from . import helper
from .checkpoint import materials_of, run_case
from .engine import (NOT_IN_ENGINE, Engine, SpotHistory, needs_stress, preload_off_power,
                     rating_copy, sampled_pulses, serial_rise, steady_rise)

#: Full periods run after the mean-power steady state (entered mid on-phase) before the
#: last one is taken as periodic, by default (PointRuns.serial). The chart anchors run
#: protocol_repetitions' count, at most ANCHOR_REPETITIONS, each limit raised by the
#: engine's protocol_shortfall (correct_serial): 2 periods leave the engine's superposition
#: of the protocol up to 0.42 % below the exact periodic state on the test insert's coolant
#: face (0.5 s every 5 s; 10 ms every 1 s 0.44 %): components of time constants between the
#: period and tens of periods start off and decay only over the periods.
SERIAL_PULSES = 2
#: An anchor is converged when the power its last correction predicts is within this of the
#: power it ran at: f_L changes by far less than the power between the two (the transform
#: takes out most of the nonlinearity), so the anchor's error stays well under 1 %.
ANCHOR_RTOL = 0.01
ANCHOR_MAX_RUNS = 4
#: Adjacent anchors whose corrections of the binding limit differ by more than this get an
#: anchor between them: linear interpolation between corrections that differ by d can miss
#: by a good part of d where the correction bends (e.g. a period chart whose shortest
#: periods average the pulses), and every chart point must stay within 1 % of FE.
REFINE_CORRECTION_REL = 0.01


#: Temperature rises (K) of Transform.rise_of_u's tables.
_RISE_GRID = np.linspace(0.0, 6000.0, 3001)


def key(lim: Limit) -> tuple[str, str]:
    """A limit's key in the heads and corrections (spot and erosion share a column)."""
    return (lim.name, lim.column)


def u_rise(table, T0: float, rise: float) -> float:
    """U − T0 (K) of a rise (K) from T0 (K) in a k(T) table: ∫_{T0}^{T0+rise} k/k(T0) dT,
    k held at its end value beyond the table's end, as the FE run's property lookup holds
    it (thermal._NodalLookup clips to the table; a run's solution itself stops there,
    OutOfRangeError); the rise itself without a table (None) or for rise <= 0. (Until
    2026-12-06 k(T0) was taken beyond the end: for a k falling with temperature a larger
    U-head, i.e. more power for a limit above the table's end, than the FE's k.)"""
    if table is None or rise <= 0:
        return rise
    lo, hi = table.range_K
    T1 = min(max(T0 + rise, lo), hi)
    beyond = float(table(hi)) / float(table(T0)) if T0 + rise > hi else 1.0
    return table.integral(T0, T1) / float(table(T0)) + (T0 + rise - T1) * beyond


#: Rise (K) over which lowest_head compares the k(T) tables: of the order of the rises of
#: the limits it serves (a Cu heat sink's default 200 °C, a joint's up to its braze's
#: solidus, from a 30 °C start); the choice is a heuristic the FE anchors correct (f_L).
PROBE_RISE_K = 500.0


def lowest_head(tables, T0: float):
    """Of k(T) tables, the one with the smallest U-rise for a PROBE_RISE_K rise from T0 (K):
    the lower, safer head of a limit watching nodes of several materials. Compared over
    the same span, each table extrapolated beyond its end as the transform extrapolates it
    (u_rise): integrated only over its own range, a table ending below T0 + PROBE_RISE_K
    looked like the lower head for its shorter span alone."""
    return min(tables, key=lambda t: u_rise(t, T0, PROBE_RISE_K))


@dataclass
class Transform:
    """Kirchhoff transform of each limit's rise: K of temperature rise → K of U rise."""

    T0: float
    conductivity: dict  # limit key → k(T) Table (None: identity, e.g. drift)
    _tables: dict = field(default_factory=dict, repr=False)  # rise_of_u's tables

    def u_rise(self, k: tuple[str, str], rise: float) -> float:
        """U − T0 for a rise (K) at the nodes of limit k: ∫_{T0}^{T0+rise} k/k(T0) dT."""
        return u_rise(self.conductivity.get(k), self.T0, rise)

    def rise_of_u(self, k: tuple[str, str], u) -> np.ndarray:
        """The inverse of u_rise: temperature rise (K) of a U-rise (K) at the nodes of k
        (interpolated in a table of u_rise to 6000 K, linear beyond)."""
        grid = _RISE_GRID
        table = self._tables.get(k)
        if table is None:
            table = self._tables[k] = np.array([self.u_rise(k, x) for x in grid])
        u = np.asarray(u, dtype=float)
        slope = (grid[-1] - grid[-2]) / (table[-1] - table[-2])
        return np.where(u <= table[-1], np.interp(u, table, grid),
                        grid[-1] + (u - table[-1]) * slope)

    def heads(self, engine: Engine) -> dict:
        """U-head of every engine limit (K; µm for a drift)."""
        return {key(lim): self.u_rise(key(lim), rise_allowed(lim)) for lim in engine.limits}


def transform_for(case: Case) -> Transform:
    """The Kirchhoff transform of each limit's nodes: the target's k(T) for the spot, erosion,
    recrystallisation and fatigue, the region's for a region maximum; for the cooled faces
    that of the regions carrying them (case.cooled_regions: the heat sink's cooled end, not
    the housing after it, nor a user mesh's braze listed last) and for an interface that of
    its two sides, each with the smaller ∫k among them (lowest_head: the lower, safer head;
    the anchors correct the choice)."""
    from ..case.model import interface_sides
    from ..resolve import region_materials

    mats = region_materials(case)
    g = case.geometry
    regions = regions_of(g)
    T0 = case.initial_temperature_K

    def head(where):
        return lowest_head([mats[r].k for r in where], T0)

    cooled = cooled_regions(g, case.boundaries, regions_by_face(g))
    spot = mats["target"].k
    cond = {("spot", "T_peak_C"): spot, ("erosion", "T_peak_C"): spot,
            ("recrystallisation", "T_peak_C"): spot, ("fatigue", "T_peak_C"): spot,
            ("coolant_side", "T_max_coolant_side_C"): head(cooled)}
    for r in regions:  # a region's maximum: the heat sink's, or one after it (a housing)
        cond[("heat_sink", f"T_max_{r}_C")] = cond[("region", f"T_max_{r}_C")] = mats[r].k
    for name, sides in interface_sides(case.geometry).items():
        cond[("interface", f"T_max_{name}_C")] = head(sides)
    return Transform(T0, cond)


class PointRuns:
    """Full k(T), ρc(T) finite-element runs of chart points, re-runs of one Simulation
    (mesh and forms built once, no field output; mechanics only for a yield limit, its
    stress solved at every step of a serial point's last period).

    Attributes:
        runs: number of FE runs made.
    """

    def __init__(self, case: Case):
        from ..simulation import Simulation

        self.rated = case
        self.case = rating_copy(case, needs_stress(case), probes=(),
                                output=dc.replace(case.output, fields=False))
        # the limits are checked on the series: no stored-heat tally (a tenth of a run)
        self.sim = Simulation(self.case, stored_heat=False)
        self.runs = 0
        helper.ask(("prepare", case))  # the helper's own PointRuns of the case (if any)

    def prepare(self) -> None:
        """Build the Simulation's mesh, forms and solvers now (a helper, ahead of its
        first run; helper.py)."""
        if self.sim.problem is None:
            self.sim.initialise()

    def _limits(self):
        return [lim for lim in limits_for(self.case, materials_of(self.sim))
                if lim.name not in NOT_IN_ENGINE]

    def steady(self, P: float) -> list[LimitCheck] | None:
        """Limits of the steady state at beam power P (W); None if the run fails."""
        return self._plain(Loading("steady", ()), P, "chart anchor: steady state")

    def single(self, t: float, P: float, cooling_s: float = 0.0) -> list[LimitCheck] | None:
        """Limits of a single load of P (W) for t (s) from cold, followed by cooling_s (s) of
        cooling with the beam off (Engine.single_load_cooling_s); None if the run fails."""
        return self._plain(single_load(t, P, cooling_s), P,
                           f"chart anchor: {t:.3g} s load from cold"
                           + (f" and {cooling_s:.3g} s of cooling" if cooling_s > 0 else ""),
                           life_until=t)

    def _plain(self, loading: Loading, P: float, what: str,
               life_until: float | None = None) -> list[LimitCheck] | None:
        """The limits of a run of the case with this loading at P (W), checked on its time
        series as Simulation.result checks them (every limit of the run's case); the life
        limits only up to life_until (s) if given: a single load's damage is the load's,
        which the engine rates (its cooling would count as hours of the rated life)."""
        case = run_case(self.sim, loading, P)
        series = self._run(lambda: series_stressed(self.sim, loading, P), what, P,
                           ("run", case.hash()))
        return None if series is None else check_load(
            limits_for(case, materials_of(self.sim)), series.time,
            {n: series[n] for n in series.names}, life_until)

    def preloaded(self, t: float, P: float, P_pre: float) -> list[LimitCheck] | None:
        """Limits of a single load of P (W) for t (s) started from the steady state at the
        pre-load P_pre (W) (the single-load chart's pre-loaded curve); None if the run
        fails."""
        return self._from_steady(Loading("continuous", ((t, P),)), P, P_pre, 0.0,
                                 f"chart anchor: {t:.3g} s load after a {P_pre:.4g} W "
                                 "pre-load")

    def serial(self, period: float, duty: float, P: float,
               pulses: int = SERIAL_PULSES) -> list[LimitCheck] | None:
        """Limits over the last period of a pulse train of peak power P (W) in its periodic
        steady state; None if the run fails.

        The run starts from the steady state at the mean power in the middle of an on-phase,
        where the slow components of the periodic state cross their mean (a slow component
        rises linearly through the on-phase and falls through the off-phase about it), then
        runs `pulses` full periods; the fast ones settle within them."""
        if duty >= 1.0:
            return self.steady(P)
        on = duty * period

        train = ((0.5 * on, P), (period - on, 0.0)) + ((on, P), (period - on, 0.0)) * pulses
        end = sum(d for d, _ in train)
        return self._from_steady(Loading("pulse_train", train), P, duty * P, end - period,
                                 f"chart anchor: serial load, period {period:.3g} s, duty "
                                 f"cycle {duty:.3g}")

    def _from_steady(self, loading: Loading, P: float, P_start: float, checked_from: float,
                     what: str) -> list[LimitCheck] | None:
        """Limits of the loading (peak beam power P, W) run from the steady state at P_start
        (W), over its times from checked_from (s); None if the run fails."""
        key = ("from steady", run_case(self.sim, loading, P).hash(), P_start, checked_from)
        series = self._run(lambda: self._series_from_steady(loading, P, P_start,
                                                            checked_from), what, P, key)
        return None if series is None else check(self._limits(), series.time,
                                                 {n: series[n] for n in series.names})

    def _series_from_steady(self, loading: Loading, P: float, P_start: float,
                            checked_from: float) -> TimeSeries:
        return series_from_steady(self.sim, loading, P, P_start, checked_from)

    def _run(self, fn, what: str, P: float, key: tuple):
        """fn's time series (None if the run fails: far over), reported as one FE run of
        what (words) at P (W); the interrupted rating's under key if its checkpoint holds
        it (checkpoint.py), else kept there."""
        from .checkpoint import run_kept

        self.runs += 1
        return run_kept(key, what, P, fn)


def single_load(t: float, P: float, cooling_s: float = 0.0) -> Loading:
    """A single load of P (W) for t (s), then cooling_s (s) with the beam off (none: 0)."""
    return Loading("continuous", ((t, P),) + (((cooling_s, 0.0),) if cooling_s > 0 else ()))


def series_from_steady(sim, loading: Loading, P: float, P_start: float,
                       checked_from: float) -> TimeSeries:
    """The time series of the loading (peak beam power P, W) run by sim from the steady
    state at P_start (W), its times from checked_from (s); with mechanics (a yield or
    drift limit), the thermoelastic problem solved at every step there (the yield use and
    the drift at every step checked)."""
    return _series(sim, loading, P, P_start, checked_from)


def series_stressed(sim, loading: Loading, P: float) -> TimeSeries:
    """The time series of the loading (peak beam power P, W) run by sim from the initial
    state; with a stress probe (a yield limit: needs_stress), the thermoelastic problem
    solved at every step, not only at the save times: a single load's joint stress may peak
    after the load (a 30 ms load on the clamped test insert: 2 ms after switch-off, 4.6 %
    above its end-of-load value, tests/test_rating_single_cooling_yield.py)."""
    if not needs_stress(sim.case) or loading.kind == "steady":  # (a steady run: saved)
        return sim.run(loading, P).series
    return _series(sim, loading, P, None, 0.0)


def _series(sim, loading: Loading, P: float, P_start: float | None,
            checked_from: float) -> TimeSeries:
    """series_from_steady; P_start None: from the initial state."""
    sim.reset(loading, P)
    if sim.problem is None:
        sim.initialise()
    if P_start is not None:
        sim.problem.steady(P_start * sim.prep.p_dep)
    sim.record(0.0, 0.0 if P_start is None else P_start)
    dt_prev = None
    stressed = sim.mechanics_monitor is not None
    for st in sim.prep.steps:
        sim.problem.step(st.dt, st.power_W * sim.prep.p_dep, st.restart, dt_prev)
        sim.record(st.t, st.power_W)
        if stressed and st.t >= checked_from * (1 - 1e-12):
            sim.save(st.t)
        dt_prev = st.dt
    rows = np.array(sim.rows)
    checked = rows[:, 0] >= checked_from * (1 - 1e-12)
    return TimeSeries(sim.columns, sim.units, rows[checked])


#: Repetitions of a repeated schedule (loading.repeat_every_s) that protocol_repetitions
#: tries (run after the entry into its periodic state, periodic_protocol, the last one
#: checked): the fewest whose engine superposition is within PROTOCOL_RTOL of the exact
#: periodic state. A fixed count does not do: the entry puts the slowest components at
#: their periodic value, but those of time constants between the period and tens of
#: periods start off by up to 0.4 % of a limit's rise and decay only over the repetitions
#: (the test insert of tests/cases.reflection, superposed, the largest difference over the
#: limits after 2, 4, 8, 16 repetitions: 1 s every 2 s 0.25 %, 0.085 %, 0.0073 %; 10 ms
#: every 1 s 0.44 %, 0.18 %, 0.049 %; 0.1 s every 0.3 s 0.17 % until 16, 0.10 % after
#: 32, 0.0074 % after 64; 3 s every 10 s 0.037 % after 2; a 3-pulse train 0.039 % after 2;
#: tests/test_periodic_rating.py. Measured with the step response at 32 samples per
#: doubling; at 8 its interpolation added a slowly decaying difference of its own, which
#: made the shipped insert's duty 0.3 of 1 s need 64 repetitions instead of 2).
REPEATED_RUNS = (2, 4, 8, 16, 32, 64)
#: The engine's protocol must match the periodic state's largest rise of every temperature
#: limit within this (relative): a fifth of the rating's 0.5 % band. What is left is added to
#: each limit of the rating's FE run (protocol_shortfall, safe.max_safe_loading); a protocol
#: that does not get within it in 64 repetitions is reported as not converged.
PROTOCOL_RTOL = 1e-3


class Protocol(NamedTuple):
    """protocol_repetitions' choice: the repetitions, the engine's protocol error there
    (relative, largest over the limits) and each limit's protocol_shortfall δ_L there."""

    repetitions: int
    error: float
    shortfall: dict


def protocol_repetitions(engine: Engine, segments, most: int | None = None) -> Protocol:
    """The fewest REPEATED_RUNS (at most `most`) whose periodic_protocol, superposed by the
    engine from the steady state at the mean power, has every temperature limit's largest
    rise over its last repetition within PROTOCOL_RTOL (relative) of the exact periodic
    state's (StepResponse.periodic), at the same phases (periodic_instants); else the most
    tried, its error more than PROTOCOL_RTOL (the protocol has not converged, which the
    rating says). With its protocol_shortfall, so that no caller computes the periodic
    target again (0.6 s on studies/reflection_insert.toml's engine)."""
    target = _periodic_target(engine, segments)  # once: the lattice sums are the dear part
    counts = [n for n in REPEATED_RUNS if most is None or n <= most] or [most]
    for n in counts:
        short = _shortfall(engine, target, segments, n)
        err = max((abs(1.0 / (1.0 + d) - 1.0) for d in short.values()), default=0.0)
        if err <= PROTOCOL_RTOL:
            break
    return Protocol(n, err, short)


def protocol_shortfall(engine: Engine, segments, repetitions: int
                       ) -> dict[tuple[str, str], float]:
    """Per temperature limit (key), δ_L = (the exact periodic state's largest rise over
    its nodes) / (the largest rise of the last repetition of periodic_protocol with
    `repetitions` repetitions) − 1, both superposed by the engine at the same phases
    (periodic_instants): how much the FE run of the protocol reads below the periodic state
    by construction (negative: above). Exact for a linear response: the FE run's rise times
    (1 + δ_L) is its periodic state's (safe.max_safe_loading raises each limit by it)."""
    return _shortfall(engine, _periodic_target(engine, segments), segments, repetitions)


def _periodic_target(engine: Engine, segments) -> tuple[np.ndarray, dict]:
    """(the phases, {limit key: (its unsigned nodes, the exact periodic state's largest
    rise over them)}) of protocol_shortfall, for the temperature limits with a positive
    rise."""
    from .engine import periodic_instants

    r = engine.response
    R = float(sum(d for d, _ in segments))
    phases = periodic_instants(r, Loading("segments", tuple(segments), R))
    exact = r.periodic(segments, phases) - r.T0
    signed = set(engine.signed().tolist())
    peaks = {}
    for lim in engine.limits:
        idx = [i for i in engine.nodes.get(lim.column, []) if i not in signed]
        if lim.name != "yield" and idx and exact[:, idx].max() > 0:
            peaks[key(lim)] = (idx, float(exact[:, idx].max()))
    return phases, peaks


def _shortfall(engine: Engine, target, segments, repetitions: int) -> dict:
    """protocol_shortfall against a _periodic_target."""
    phases, peaks = target
    r = engine.response
    run, mean_P, checked_from = periodic_protocol(segments, repetitions)
    protocol = r.schedule([(d, p - mean_P) for d, p in run], checked_from + phases) \
        - r.T0 + mean_P * r.steady
    return {k: float(peak / protocol[:, idx].max() - 1.0) for k, (idx, peak) in peaks.items()}


#: Most repetitions a serial-load chart anchor runs (correct_serial): what the protocol
#: still lacks of the periodic state is added to each limit by the engine
#: (raised_checks), so the anchors need not run protocol_repetitions' up to 64.
ANCHOR_REPETITIONS = 4


def raised_checks(checks: list[LimitCheck] | None, shortfall: dict, tr: Transform
                  ) -> list[LimitCheck] | None:
    """An FE protocol run's limit checks with each limit raised to the periodic state by
    its protocol_shortfall δ_L (raised_check); a limit without its own δ (the yield use,
    which protocol_shortfall does not superpose) by the largest, as the rating's
    (safe.raised_report); the fatigue limit is left as run (its anchor correction is
    fitted on the spot's whole history, fatigue_f)."""
    if checks is None:
        return None
    top = max(shortfall.values(), default=0.0)
    return [c if isinstance(c.limit, FatigueLimit) else
            raised_check(c, shortfall.get(key(c.limit), top), tr) for c in checks]


def raised_check(c: LimitCheck, d: float, tr: Transform) -> LimitCheck:
    """A limit check of an FE run raised to a state the engine finds hotter by δ = d (its
    rise there over the run's − 1, superposed at constant k; never lowered: d ≤ 0 leaves
    the check as run). The one rule of the rating (safe.raised_report: the periodic state
    from a protocol's or one repetition's run) and the serial chart anchors
    (raised_checks).

    The engine is linear in the Kirchhoff variable U (module docstring, item 1), so the
    rise is raised there: T0 + rise_of_u(u_rise(rise) × (1 + δ)), a lift of δ·U at the
    spot of dT/dU = k(T0)/k(T) kelvin per kelvin of U. For W from 30 °C to 2058 °C (W k(T)
    of data/materials.toml) U/ΔT = 0.654 and k(T0)/k(T) = 1.84, so raising the
    temperature rise itself by δ, as the rating did until 2026-12-05, gave
    1 / (0.654 × 1.84) = 0.83 of this correction (0.82 at the 3222 °C spot limit); against
    FE runs both fall short under k(T), this one less (tests/test_periodic_rating.py::
    test_the_periodic_raise_is_taken_in_the_kirchhoff_variable). Identity
    for a limit without a k(T) table (drift, yield: linear, (1 + g)(1 + δ) − 1). A life
    limit is raised on its equivalent rise (first order: the slow components lift the
    spot's whole waveform); the fatigue limit on its scale, a factor on the spot's rise,
    divided by 1 + δ (linear in that rise)."""
    if not d > 0:
        return c
    lim, k = c.limit, key(c.limit)

    def up(rise: float) -> float:
        if rise <= 0:
            return rise
        return float(tr.rise_of_u(k, tr.u_rise(k, rise) * (1.0 + d)))

    if isinstance(lim, LifeLimit):
        if c.equivalent_C is None:
            return c
        return dc.replace(c, equivalent_C=lim.initial_C + up(c.equivalent_C - lim.initial_C))
    if isinstance(lim, FatigueLimit):
        return c if c.scale is None else dc.replace(c, scale=c.scale / (1.0 + d))
    return dc.replace(c, worst=lim.baseline + up(c.worst - lim.baseline))


def periodic_protocol(segments, repetitions: int
                      ) -> tuple[tuple[tuple[float, float], ...], float, float]:
    """A schedule's periodic steady state by a run that starts in it: (segments of the
    run, its starting steady power W, the instant s from which its last repetition runs).

    The serial-load protocol (PointRuns.serial) for any schedule [(duration s, beam W)]
    repeated with period R = its duration: the anode starts in the steady state at the
    mean power P̄ = energy per repetition / R, which the periodic state oscillates about,
    at the instant θ where the cumulative excess energy E(t) = ∫_0^t (P − P̄) dt crosses its
    mean over the period from below (mid on-phase for a rectangular pulse). A slow
    component of the temperature follows E about its mean, so it starts at its periodic
    value; the fast ones settle within the `repetitions` whole repetitions run after the
    rest of the first (θ to R). The last repetition, checked, is the schedule itself."""
    d = np.array([x for x, _ in segments], dtype=float)
    p = np.array([x for _, x in segments], dtype=float)
    R = float(d.sum())
    mean_P = float(d @ p) / R
    excess = p - mean_P
    E = np.concatenate([[0.0], np.cumsum(d * excess)])  # at the segment boundaries
    E_mean = float(np.sum(d * 0.5 * (E[:-1] + E[1:]))) / R  # E is piecewise linear
    up = np.nonzero((E[:-1] <= E_mean) & (E[1:] > E_mean))[0]
    whole = tuple((float(a), float(b)) for a, b in zip(d, p)) * repetitions
    if not len(up):  # a constant power: the steady state itself
        return whole, mean_P, R * (repetitions - 1)
    j = int(up[0])
    start = float(np.sum(d[:j]))
    theta = start + (E_mean - E[j]) / excess[j]
    rest = ((start + d[j] - theta, float(p[j])),) + tuple(
        (float(a), float(b)) for a, b in zip(d[j + 1:], p[j + 1:]))
    return rest + whole, mean_P, R - theta + R * (repetitions - 1)


def excess(checks: list[LimitCheck] | None) -> float:
    """Largest relative excess over the limits (1 for a failed, far-over run)."""
    return 1.0 if checks is None else max(c.excess for c in checks)


@dataclass
class Waveform:
    """The spot's linear rise over one period of a serial load in its periodic steady
    state, per deposited watt, at the engine's hottest spot node.

    The life limits (erosion, recrystallisation) are damage rates that rise steeply with the
    temperature, so a pulsed spot is rated on its mean rate over the period, as the FE run
    checks it (limits._life_check), not on its peak: the peak alone is conservative by an
    amount that changes with the period (the spot creeps up through a long on-phase and
    cools in the off-phase), which an interpolated correction cannot follow. The waveform
    in temperature is T0 + rise_of_u(f · P_dep · shape): the Kirchhoff transform with its
    FE correction f, like the peak limits.

    Attributes:
        phases: instants of the period (s), 0 to the period.
        shape: linear rise per deposited watt there (K/W).
    """

    phases: np.ndarray
    shape: np.ndarray
    weights: np.ndarray | None = None  # quadrature weights of the mean (None: trapezoid)

    #: Instants per on-phase and per off-phase (geometric after each switch, where the
    #: spot settles in µs, and uniform through the on-phase).
    POINTS = 32
    #: Pulses of a finite train (of_train) whose damage is each summed; beyond them, as
    #: many pulses geometrically spaced up to the last, the damage of the pulses between
    #: interpolated linearly (it approaches the periodic state's smoothly).
    TRAIN_PULSES = 32

    @classmethod
    def _period_phases(cls, t_on: float, period: float) -> np.ndarray:
        """Instants of one period (s after the start of its pulse), 0 and period included."""
        n = cls.POINTS
        return np.unique(np.concatenate([
            t_on * np.geomspace(1e-7, 1.0, n), t_on * np.linspace(0.0, 1.0, n + 1),
            t_on + (period - t_on) * np.geomspace(1e-7, 1.0, n)]))

    @classmethod
    def of_train(cls, engine: Engine, t_on: float, period: float, pulses: int,
                 tail_s: float = 0.0, periodic: bool = False) -> Waveform | None:
        """The spot's linear rise over a whole finite train from cold, per deposited watt:
        `pulses` pulses of on-time t_on (s) and period (s), then tail_s (s) of cooling;
        None without a life limit. Its weights make the mean over the train's duration,
        as the FE run's life check takes it (limits._life_check): the damage of a finite
        train is that of every pulse, the early cool ones included, not the last period's.

        Each instant's rise is the exact sum of the interpolated step response over the
        pulses before it (StepResponse.train_rise); the first TRAIN_PULSES pulses are each
        summed, later ones sampled geometrically with the per-pulse damage interpolated
        linearly in the pulse number (trapezoid weights over the sampled pulses).

        periodic: the train and its cooling repeated forever (loading.repeat_every_s =
        pulses × period + tail_s), in its periodic steady state: the same instants, each
        rise StepResponse.periodic's, the mean over one repetition."""
        if not any(isinstance(lim, LifeLimit) for lim in engine.limits):
            return None
        r = engine.response
        idx = engine.nodes["T_peak_C"]
        node = idx[np.argmax(r.pulse_train_peak(t_on, period, pulses)[idx])]
        spot = r.columns([node])
        phi = cls._period_phases(t_on, period)
        w_phi = np.diff(phi, prepend=phi[0], append=phi[-1])  # trapezoid: (next − prev)/2
        w_phi = 0.5 * (w_phi[:-1] + w_phi[1:])
        ks = sampled_pulses(pulses, cls.TRAIN_PULSES)
        # Σ_{k=1}^{N} D_k for D linear between the sampled k: trapezoid in k plus half the
        # end values (exact when every pulse is sampled)
        c = np.zeros(len(ks))
        gaps = np.diff(ks).astype(float)
        c[:-1] += 0.5 * gaps
        c[1:] += 0.5 * gaps
        c[0] += 0.5
        c[-1] += 0.5
        times, shape, weights = [], [], []
        for k, ck in zip(ks, c):
            times.append((k - 1) * period + phi)
            shape.append(spot.train_rise(t_on, period, int(k), phi)[:, 0])
            weights.append(ck * w_phi)
        if tail_s > 0:  # the cooling after the last period (the sum holds past it)
            tail = period + tail_s * np.concatenate([[0.0], np.geomspace(1e-7, 1.0, cls.POINTS)])
            w = np.diff(tail, prepend=tail[0], append=tail[-1])
            times.append((pulses - 1) * period + tail)
            shape.append(spot.train_rise(t_on, period, pulses, tail)[:, 0])
            weights.append(0.5 * (w[:-1] + w[1:]))
        times, shape = np.concatenate(times), np.concatenate(shape)
        R = pulses * period + tail_s
        if periodic:
            shape = shape + cls._warm_start(spot, t_on, period, pulses, tail_s, times)
        weights = np.concatenate(weights) / R
        return cls(times, shape, weights)

    #: (Instant, power step, sample) entries up to which _warm_start sums every instant of
    #: a periodic train's waveform exactly; beyond, 2 × WARM_POINTS instants, interpolated.
    WARM_ENTRIES = 2e8
    WARM_POINTS = 64

    @classmethod
    def _warm_start(cls, spot, t_on: float, period: float, pulses: int, tail_s: float,
                    times: np.ndarray) -> np.ndarray:
        """What the earlier repetitions add to a finite train's rise from cold (one node's
        response, spot) at times (s) of a repetition in the periodic state: StepResponse.
        periodic less the train from cold (StepResponse.schedule). Exact at every instant
        up to WARM_ENTRIES; beyond (a long train: 6000 instants of 300 pulses took 35 s)
        exact at WARM_POINTS instants geometric from the repetition's start, where the
        last repetition's final pulses still cool, and as many uniform over it, and
        linear in between: the earlier repetitions' heat varies there only through the
        step response at t + mR − s_j, all past the last repetition's switches."""
        R = pulses * period + tail_s
        segments = ((t_on, 1.0), (period - t_on, 0.0)) * pulses + \
            (((tail_s, 0.0),) if tail_s > 0 else ())
        t = np.where(times > 0, times, R)  # phase 0 of a repetition is the end of the last
        if len(t) * 2 * pulses * len(spot.times) > cls.WARM_ENTRIES:
            t = np.unique(np.concatenate([R * np.geomspace(1e-7, 1.0, cls.WARM_POINTS),
                                          R * np.linspace(0.0, 1.0, cls.WARM_POINTS + 1)[1:]]))
        warm = (spot.periodic(segments, t) - spot.schedule(segments, t))[:, 0]
        return warm if len(t) == len(times) else np.interp(np.where(times > 0, times, R), t,
                                                            warm)

    @classmethod
    def of(cls, engine: Engine, t_on: float, period: float) -> Waveform | None:
        """The waveform of a serial load (on-time and period, s); None without a life
        limit (nothing to rate on it)."""
        if not any(isinstance(lim, LifeLimit) for lim in engine.limits):
            return None
        r = engine.response
        idx = engine.nodes["T_peak_C"]
        if t_on >= period:  # continuous: the steady spot
            node = idx[np.argmax(r.steady[idx])]
            return cls(np.array([0.0, 1.0]), np.full(2, r.steady[node]))
        phases = cls._period_phases(t_on, period)
        node = idx[np.argmax(r.pulse_train_peak(t_on, period, None)[idx])]
        spot = r.columns([node])
        return cls(phases, spot.train_rise(t_on, period, None,
                                           np.where(phases > 0, phases, period))[:, 0])

    def equivalent_rise(self, lim: LifeLimit, tr: Transform, P_dep: float, f: float) -> float:
        """Rise (K) of the constant spot temperature with the same mean damage rate, at
        P_dep deposited watts with correction f."""
        T = tr.T0 + tr.rise_of_u(key(lim), f * P_dep * self.shape)
        T = np.minimum(T, _T_CAP_K)
        rate = (np.trapezoid(lim.rate(T), self.phases) / (self.phases[-1] - self.phases[0])
                if self.weights is None else float(self.weights @ lim.rate(T)))
        if rate <= 0:
            return 0.0
        return lim.temperature_for_rate_K(rate) - tr.T0

    def max_power(self, lim: LifeLimit, tr: Transform, f: float) -> float:
        """Largest deposited power (W) whose mean damage rate meets the life limit."""
        from scipy.optimize import brentq

        head = lim.temperature_rise
        lo = tr.u_rise(key(lim), head) / (f * self.shape.max())  # the peak at the head
        if self.equivalent_rise(lim, tr, lo, f) >= head:  # a steady spot: exactly there
            return lo
        hi = 2.0 * lo
        while self.equivalent_rise(lim, tr, hi, f) < head:
            lo, hi = hi, 2.0 * hi
        return float(brentq(lambda p: self.equivalent_rise(lim, tr, p, f) - head, lo, hi,
                            rtol=1e-6))

    def f_matching(self, lim: LifeLimit, tr: Transform, P_dep: float, actual: float) -> float:
        """The correction f with which the waveform at P_dep deposited watts has the FE
        run's equivalent rise `actual` (K)."""
        from scipy.optimize import brentq

        g = lambda f: self.equivalent_rise(lim, tr, P_dep, f) - actual  # noqa: E731
        lo, hi = 0.5, 2.0
        while g(lo) > 0:
            lo *= 0.5
        while g(hi) < 0:
            hi *= 2.0
        return float(brentq(g, lo, hi, rtol=1e-8))


#: Spot temperatures are capped here in the damage rates (K; far above any limit) so that
#: the root search's trial powers cannot overflow the vapour-pressure law.
_T_CAP_K = 6000.0


@dataclass
class Corrected:
    """A chart's FE-corrected points.

    Attributes:
        power_W: corrected maximum (peak) beam power per point (W).
        binding: binding limit per point.
        anchor: True where the point is an FE anchor.
        corrections: limit key → f_L per point.
        runs: FE runs made.
    """

    power_W: list[float]
    binding: list[str]
    anchor: list[bool]
    corrections: dict = field(default_factory=dict)
    runs: int = 0


def _corrections(engine: Engine, tr: Transform, checks, rise, P: float,
                 wave: Waveform | None = None, spot: SpotHistory | None = None,
                 drift: bool = False) -> dict:
    """f_L = U(FE rise of L) / engine's linear rise of L, at beam power P (W); for a life
    limit on a serial load (wave given) the f_L with which the engine's spot waveform
    erodes (or recrystallises) as much as the FE run did (Waveform.f_matching); for the
    fatigue limit the f with which the spot's history has the FE run's fatigue scale
    (fatigue_f). A drift figure (SIGNED_LIMITS; in the checks where a yield limit gives
    the runs mechanics) only with drift: where the run covers the history the engine's
    drift figure is taken over (correct_chart's drift_from_anchors)."""
    out = {}
    by_key = {key(c.limit): c for c in checks}
    for lim in engine.limits:
        c = by_key.get(key(lim))
        if c is None or (lim.name in SIGNED_LIMITS and not drift):
            continue
        if isinstance(lim, FatigueLimit):
            if spot is not None and c.scale is not None and math.isfinite(c.scale):
                f = fatigue_f(spot, lim, tr, P * engine.p_dep, c.scale)
                if f is not None:
                    out[key(lim)] = f
            continue
        if lim.name == "yield":  # the FE run's use over the probe's at P (head: the use)
            use = engine.yield_use(lim, rise, P * engine.p_dep)
            if use > 0 and c.worst > 0 and math.isfinite(c.worst):
                out[key(lim)] = c.worst / use
            continue
        idx = engine.nodes[lim.column]
        linear = P * engine.p_dep * float(np.abs(rise[idx]).max())
        life = isinstance(lim, LifeLimit)
        actual = (c.equivalent_C - lim.initial_C) if life else c.worst - lim.baseline
        if life and wave is not None and actual > 0:
            out[key(lim)] = wave.f_matching(lim, tr, P * engine.p_dep, actual)
        elif linear > 0 and actual > 0:
            out[key(lim)] = tr.u_rise(key(lim), actual) / linear
    return out


def fatigue_f(spot: SpotHistory, lim: FatigueLimit, tr: Transform, P_dep: float,
              scale: float) -> float | None:
    """The correction f with which the engine's spot history at P_dep deposited watts, in
    temperature T0 + rise_of_u(f · rise), has the FE run's fatigue scale (the factor on the
    spot's rise at which the crack-initiation life equals the rated life,
    life.crack_initiation_scale, nearly 1/f-proportional); None where no f in 1e-3 to 1e3
    does."""
    from scipy.optimize import brentq

    tensile = life.tensile_data(lim.material)
    k = key(lim)

    def g(f):
        T = tr.T0 + tr.rise_of_u(k, f * spot.rise(P_dep))
        return math.log(life.crack_initiation_scale(spot.times, T, tr.T0, lim.tables,
                                                    tensile, lim.life_h) / scale)

    lo, hi = 0.5, 2.0
    while g(lo) < 0 and lo > 1e-3:
        lo *= 0.5
    while g(hi) > 0 and hi < 1e3:
        hi *= 2.0
    if not g(lo) >= 0 >= g(hi):
        return None
    return float(brentq(g, lo, hi, rtol=1e-8))


def _spot_rise(tr: Transform | None, f: dict):
    """The fatigue limit's linear rise → temperature rise (K → K): the Kirchhoff transform
    with its correction (None: identity, no transform)."""
    if tr is None:
        return None
    k = ("fatigue", "T_peak_C")
    fk = f.get(k, 1.0)
    return lambda x: tr.rise_of_u(k, fk * np.asarray(x, dtype=float))


def corrected_power(engine: Engine, heads: dict, f: dict, rise,
                    wave: Waveform | None = None, tr: Transform | None = None,
                    spot: SpotHistory | None = None, preload_rise=None,
                    preload_dep: float = 0.0) -> tuple[float, str]:
    """Maximum beam power (W) and binding limit with the U-heads divided by f_L; with a
    serial load's spot waveform (wave), the life limits on its mean damage rate; the
    fatigue limit on the spot's history (spot) through the transform with its f.

    With a pre-load (preload_rise = S_∞, preload_dep deposited W held to steady before the
    load; single loads only, wave None) the pre-load's steady U-rise is subtracted from each
    U-head as in Engine.max_power: f_L · (P_pre S_∞ + (P − P_pre) S) ≤ U-head_L."""
    to_rise = _spot_rise(tr, f)
    if wave is None:
        return engine.max_power(rise, heads={k: h / f.get(k, 1.0) for k, h in heads.items()},
                                spot=spot, to_rise=to_rise, preload_rise=preload_rise,
                                preload_dep=preload_dep)
    if preload_rise is not None:
        raise ValueError("a pre-load is rated for single loads only")
    lives = [lim for lim in engine.limits if isinstance(lim, LifeLimit)]
    others = {k: (np.inf if k in {key(lim) for lim in lives} else h / f.get(k, 1.0))
              for k, h in heads.items()}
    P, b = engine.max_power(rise, heads=others, spot=spot, to_rise=to_rise)
    for lim in lives:
        p = wave.max_power(lim, tr, f.get(key(lim), 1.0)) / engine.p_dep
        if p < P:
            P, b = p, lim.label
    return P, b


def anchor_point(engine: Engine, tr: Transform, heads: dict, rise, run,
                 wave: Waveform | None = None, spot: SpotHistory | None = None,
                 drift: bool = False, measured=None) -> tuple:
    """Iterate an anchor: run at the Kirchhoff engine's power, measure f_L, run at the power
    it predicts, until that power moves by less than ANCHOR_RTOL.

    Args:
        run: beam power (W) → limit checks of the FE run (None: failed, far over).
        wave: the spot's waveform of a serial load (life limits on their mean rate).
        spot: the spot's history (the fatigue limit; None: no cycles).
        drift: correct a drift figure by the run's (_corrections).
        measured: the engine's rise over what the run covers, if not rise (a single load's
            run that ends with the load, rise taken over its cooling too): the corrections
            are measured on it and applied to rise.

    Returns:
        (power W, binding, f_L dict, runs made).
    """
    P, b = corrected_power(engine, heads, {}, rise, wave, tr, spot)
    f: dict = {}
    for n in range(1, ANCHOR_MAX_RUNS + 1):
        checks = run(P)
        if checks is None:
            P *= 0.8
            continue
        f = _corrections(engine, tr, checks, rise if measured is None else measured, P,
                         wave, spot, drift)
        P_new, b = corrected_power(engine, heads, f, rise, wave, tr, spot)
        done = abs(P_new / P - 1.0) <= ANCHOR_RTOL
        P = P_new
        if done:
            break
    return P, b, f, n


@dataclass(frozen=True)
class RunAt:
    """A chart point's FE run as a function of the beam power P (W): the limit checks of
    ``runs.<method>(*args, P, **options)``, passed through ``then`` if given. The helper
    (helper.py) makes the same run from the method's name and arguments."""

    runs: PointRuns
    method: str
    args: tuple
    options: dict = field(default_factory=dict)
    then: object = None

    def __call__(self, P: float):
        checks = getattr(self.runs, self.method)(*self.args, P, **self.options)
        return checks if self.then is None else self.then(checks)

    def ask_helper(self, P: float) -> None:
        """Ask the rating's helper (if any) to make this run at P (W) ahead."""
        helper.ask(("run", self.runs.rated.hash(), self.method, self.args, self.options, P))


def correct_chart(engine: Engine, tr: Transform, rises: list, xs, run_at, anchors,
                  max_rounds: int = 3, waves: list | None = None,
                  spots: list | None = None, drift_from_anchors: bool = False,
                  measured: list | None = None) -> Corrected:
    """FE-correct a chart: anchors solved, f_L interpolated at the other points.

    A limit's correction changes fastest where the binding limit changes (e.g. the coolant
    face's near the anode's thermal time in a period chart), so the anchors are refined
    there: while a point between two adjacent anchors is bound by another limit than one of
    them, the first such point becomes an anchor too; and where the two anchors' corrections
    of their binding limit differ by more than REFINE_CORRECTION_REL, the middle point
    between them does (at most max_rounds rounds).

    Args:
        rises: per point, the engine's nodal rise per deposited watt of that point's load.
        xs: per point, the interpolation coordinate (log duty cycle, period, loading time).
        run_at: point index → (beam power W → limit checks).
        anchors: indices of the first anchor points.
        waves: per point, the spot's Waveform of a serial load (None: life limits on the
            peak, as the engine rates them).
        spots: per point, the spot's SpotHistory (the fatigue limit; None: no cycles).
        drift_from_anchors: whether an anchor's run (with mechanics) corrects a drift
            figure: only where it runs the history the engine takes that figure over (a
            single load from cold). A serial anchor starts from the mean-power steady state
            (a duty-1 one is the steady state), the engine's figure is the whole train's
            (the warm-up's) from cold: their ratio is no correction (0.70 at duty 1 on a
            drift that reverses, raising the point 1.4x, tests/test_rating_warm_up.py).
        measured: per point, the engine's rise over what its anchor run covers, where that
            is not rises' (anchor_point).
    """
    heads = tr.heads(engine)
    waves = waves or [None] * len(rises)
    spots = spots or [None] * len(rises)
    f_at, solved, runs = {}, {}, 0
    todo = list(anchors)
    for _ in range(max_rounds + 1):
        calls = {i: run_at(i) for i in todo}
        if helper.running():  # the first runs of the others ahead, on an idle core
            for i in todo[:0:-1]:
                if isinstance(calls[i], RunAt):
                    calls[i].ask_helper(corrected_power(engine, heads, {}, rises[i],
                                                        waves[i], tr, spots[i])[0])
        for i in todo:
            P, b, f, n = anchor_point(engine, tr, heads, rises[i], calls[i], waves[i],
                                      spots[i], drift_from_anchors,
                                      None if measured is None else measured[i])
            f_at[i], solved[i], runs = f, (P, b), runs + n
        out = _interpolated(engine, tr, heads, rises, xs, f_at, solved, runs, waves, spots)
        todo = _refine(out.binding, sorted(solved, key=lambda i: xs[i]), f_at)
        if not todo:
            break
    return out


def _interpolated(engine, tr, heads, rises, xs, f_at, solved, runs, waves,
                  spots) -> Corrected:
    keys = {k for f in f_at.values() for k in f}
    order = sorted(solved, key=lambda i: xs[i])
    out = Corrected([], [], [], {k: [] for k in keys}, runs)
    for i, x in enumerate(xs):
        f = {}
        for k in keys:
            have = [j for j in order if k in f_at[j]]
            f[k] = float(np.interp(x, [xs[j] for j in have], [f_at[j][k] for j in have]))
            out.corrections[k].append(f[k])
        P, b = solved[i] if i in solved else corrected_power(engine, heads, f, rises[i],
                                                             waves[i], tr, spots[i])
        out.power_W.append(P)
        out.binding.append(b)
        out.anchor.append(i in solved)
    return out


def _refine(binding: list[str], order: list[int], f_at: dict | None = None) -> list[int]:
    """Per interval between adjacent anchors (indices in x order), the first interior point
    bound by another limit than the interval's ends (binding limits by label: two joints'
    interface limits are two limits); else, when the ends' corrections of
    their binding limits differ by more than REFINE_CORRECTION_REL, the middle interior
    point."""
    new = []
    for a, b in zip(order, order[1:]):
        lo, hi = sorted((a, b))
        inner = [i for i in range(lo + 1, hi) if binding[i] not in (binding[a], binding[b])
                 or binding[a] != binding[b] and binding[i] != binding[a]]
        if inner:
            new.append(inner[0])
        elif hi - lo > 1 and f_at is not None and _corrections_differ(
                f_at[a], f_at[b], {binding[a], binding[b]}):
            new.append((lo + hi) // 2)
    return new


def _corrections_differ(fa: dict, fb: dict, names: set) -> bool:
    """Whether two anchors' corrections of the named limits (their labels, as a binding
    limit is named: one joint's interface limit, not every joint's) differ by more than
    REFINE_CORRECTION_REL (relative)."""
    return any(abs(fa[k] / fb[k] - 1.0) > REFINE_CORRECTION_REL
               for k in fa.keys() & fb.keys() if limit_label(*k) in names and fb[k] != 0)


def anchor_indices(n: int, count: int = 3) -> list[int]:
    """count indices spread evenly over n chart points (both ends included)."""
    return sorted({int(round(v)) for v in np.linspace(0, n - 1, min(count, n))})


def brute_force(run, P_hi: float, rtol: float = 1e-3) -> tuple[float, int]:
    """Reference: bisection on full FE runs for the largest power whose run holds every
    limit, to rtol in power (the verification and the benchmark; issue 13 item 3).

    Args:
        run: beam power (W) → limit checks (None: failed).
        P_hi: a power expected to break a limit (doubled until it does).

    Returns:
        (power W, FE runs made).
    """
    runs = 0
    hi = P_hi
    while True:
        runs += 1
        if excess(run(hi)) > 0:
            break
        hi *= 2.0
    lo = 0.0
    while hi - lo > rtol * hi:
        mid = 0.5 * (lo + hi)
        runs += 1
        if excess(run(mid)) > 0:
            hi = mid
        else:
            lo = mid
    return lo, runs


#: What produced a chart point (the "engine" column of the chart files).
BY_ANCHOR = "FE anchor: k(T), rho*c(T) runs"
BY_INTERPOLATION = "Kirchhoff engine + FE correction interpolated between anchors"
#: A point a drift or magnification limit binds: the FE anchors run no mechanics (and a serial
#: anchor starts from the mean-power steady state, not from cold, where a reversing drift is
#: largest), so that limit is the engine's linear drift probe at constant properties, not
#: FE-corrected, whatever the point (but a single-load chart's with mechanics: drift_bound;
#: a 0.1 µm drift limit of a W-in-MoCu30 anode: 4.82 W by the probe, 4.71 W by FE runs at
#: k(T), tests/test_rating_warm_up.py).
BY_DRIFT_PROBE = ("Kirchhoff engine; a drift limit binds: the engine's drift probe at constant "
                  "properties, not FE-corrected")


def drift_bound(engine: Engine, binding: str, corrected=()) -> bool:
    """Whether a chart point's binding limit (its label) is a drift figure (SIGNED_LIMITS)
    the FE anchors did not correct (BY_DRIFT_PROBE): one whose key is not among corrected
    (the keys of Corrected.corrections; a single-load chart's anchors with mechanics, a
    yield limit present, correct it: correct_chart's drift_from_anchors)."""
    return any(binding == lim.label and key(lim) not in corrected
               for lim in engine.limits if lim.name in SIGNED_LIMITS)


def _made_by(engine: Engine, binding: str, anchor: bool, corrected=()) -> dict:
    """A corrected chart point's 'engine' and 'fe_confirmed' columns (corrected: the keys of
    the limits the chart's anchors corrected, drift_bound)."""
    if drift_bound(engine, binding, corrected):
        return {"engine": BY_DRIFT_PROBE, "fe_confirmed": False}
    return {"engine": BY_ANCHOR if anchor else BY_INTERPOLATION, "fe_confirmed": anchor}


def correct_serial(engine: Engine, tr: Transform, runs: PointRuns, rows: list[dict],
                   along: str) -> int:
    """FE-correct serial-load chart rows (chart_duty / chart_period) in place; the constant-k
    engine's numbers stay as engine_constant_k_W. Returns the FE runs made."""
    rises = [serial_rise(engine, r["duty_cycle"] * r["period_s"], r["period_s"]) for r in rows]

    def run_at(i):
        period, duty = rows[i]["period_s"], rows[i]["duty_cycle"]
        if duty >= 1.0:
            return RunAt(runs, "serial", (period, duty))
        segments = [(duty * period, 1.0), (period - duty * period, 0.0)]
        n, _, short = protocol_repetitions(engine, segments, most=ANCHOR_REPETITIONS)
        return RunAt(runs, "serial", (period, duty), {"pulses": n},
                     lambda checks: raised_checks(checks, short, tr))

    waves = [Waveform.of(engine, r["duty_cycle"] * r["period_s"], r["period_s"])
             for r in rows]
    spots = [SpotHistory.periodic(engine, r["duty_cycle"] * r["period_s"], r["period_s"])
             for r in rows]
    c = correct_chart(engine, tr, rises, [np.log(r[along]) for r in rows], run_at,
                      anchor_indices(len(rows)), waves=waves, spots=spots)
    for row, P, b, a in zip(rows, c.power_W, c.binding, c.anchor):
        row.update({"engine_constant_k_W": row["max_peak_beam_power_W"],
                    "binding_engine_constant_k": row["binding"],
                    "max_peak_beam_power_W": P, "max_mean_beam_power_W": row["duty_cycle"] * P,
                    "binding": b, **_made_by(engine, b, a)})
    return c.runs


#: What produced the pre-loaded curve of a FE-corrected single-load chart (its
#: "engine_preloaded" column): no FE run starts from a pre-load.
BY_COLD_CORRECTION = ("Kirchhoff engine with the FE correction of the cold curve at the same "
                      "loading time; not FE-confirmed")


def correct_single(engine: Engine, tr: Transform, runs: PointRuns, rows: list[dict],
                   preload_W: float = 0.0) -> Corrected:
    """FE-correct the single-load chart in place (chart_single rows); the constant-k
    engine's numbers stay as engine_constant_k_cold_W (and engine_constant_k_preloaded_W).

    The cold curve is corrected at FE anchors. With a pre-load, the pre-loaded curve is the
    Kirchhoff engine with the cold curve's corrections f_L at the same loading time applied
    to the whole history, pre-load included: f_L · (P_pre S_∞ + (P − P_pre) S(t)) ≤ U-head_L
    (corrected_power). The pre-load's steady state is not what the cold anchors ran, so
    these points are not FE-confirmed; each is capped (a hotter anode takes less for the
    temperatures; a drift swinging against its pre-load's may allow more, not given)
    at the cold curve's power.

    Returns:
        The corrected chart (runs: FE runs made).
    """
    times = [r["loading_time_s"] for r in rows]
    rises = list(engine.single_load_rise(times))
    cooling = [engine.single_load_cooling_s(t) for t in times]
    # an anchor whose run ends with the load is corrected on the engine's rise up to its end
    measured = [rise if c_s > 0 else during for rise, c_s, during in
                zip(rises, cooling, engine.single_load_rise(times, cooling=False))]

    def run_at(i):
        return RunAt(runs, "single", (times[i],),
                     {"cooling_s": cooling[i]} if cooling[i] > 0 else {})

    c = correct_chart(engine, tr, rises, np.log(times), run_at, anchor_indices(len(rows)),
                      spots=[SpotHistory.single(engine, t) for t in times],
                      drift_from_anchors=True,  # a load from cold: the drift probe's history
                      measured=measured)
    heads = tr.heads(engine)
    pre_dep = preload_W * engine.p_dep
    for i, (row, P, b, a) in enumerate(zip(rows, c.power_W, c.binding, c.anchor)):
        row.update({"engine_constant_k_cold_W": row["max_beam_power_cold_W"],
                    "max_beam_power_cold_W": P, "binding_cold": b,
                    **_made_by(engine, b, a, c.corrections)})
        if preload_W > 0:
            f = {k: v[i] for k, v in c.corrections.items()}
            hot, b_hot = corrected_power(
                engine, heads, f, rises[i], tr=tr,
                spot=SpotHistory.preloaded(engine, times[i], pre_dep),
                preload_rise=engine.response.steady, preload_dep=pre_dep)
            off = preload_off_power(engine, times[i], pre_dep)  # the beam off after it
            if off[0] < hot:
                hot, b_hot = off
            if hot > P:
                hot, b_hot = P, b
            row.update({"engine_constant_k_preloaded_W": row["max_beam_power_preloaded_W"],
                        "max_beam_power_preloaded_W": hot, "binding_preloaded": b_hot,
                        "engine_preloaded": BY_COLD_CORRECTION})
    return c


def corrected_continuous(engine: Engine, tr: Transform, c: Corrected) -> float:
    """The continuous rating (beam W) of the Kirchhoff engine with the corrections of a
    corrected single-load chart, the least over its points: the steady state the
    pre-loaded curve assumes the anode holds."""
    heads = tr.heads(engine)
    keys = list(c.corrections)
    return min(corrected_power(engine, heads, {k: c.corrections[k][i] for k in keys},
                               steady_rise(engine), tr=tr)[0]
               for i in range(len(c.power_W)))
