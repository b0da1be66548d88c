"""The linear-response engine: the finite-element step response of a case (constant
properties at the initial temperature, 1 W deposited) and the node sets each limit watches.
The response to any schedule is a sum of shifted step responses (response.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import life
from ..case import Case, interfaces_of, regions_of, yield_region
from ..case.model import COOLING_TYPES
from ..limits import (SIGNED_LIMITS, FatigueLimit, Limit, cooled_faces, limits_for,
                      rise_allowed)
from ..response import ResponseError, StepResponse, _extreme


#: Limits the engine cannot evaluate: checked by the FE confirmations only. None left: the
#: fatigue limit is in the engine (SpotHistory counts the cycles of the spot's waveform as
#: the run's fatigue check counts them), the yield limit through the stress probe
#: (_YieldProbe, Engine.yield_power).
NOT_IN_ENGINE: tuple[str, ...] = ()


def rating_copy(case: Case, mechanics: bool, **changes) -> Case:
    """The case as one of the rating's own runs takes it: meshed as a run of the case is
    (resolve.mesh_of_the_run: the joint corners its yield use refines stay refined where
    this copy drops the mechanics), the mechanics kept only when asked (a drift or yield
    limit that needs them: needs_drift, needs_stress), and the given fields replaced."""
    import dataclasses as dc

    from ..resolve import mesh_of_the_run

    return dc.replace(case, mesh=mesh_of_the_run(case),
                      mechanics=case.mechanics if mechanics else None, **changes)


#: Time steps per doubling of the step response's geometric steps: its samples, between
#: which the superposition interpolates S linearly. The interpolation, not the time
#: scheme, was the engine's error in a periodic state: with 8 (until 2026-12-05) the
#: exact periodic sum of the small test insert's coolant face (constant properties) was
#: 0.53 % above a time-converged FE run for 0.5 s every 5 s, 0.35 % for 10 ms every 1 s
#: (the S of 96 steps per doubling, sampled at 8's instants, gives the same 0.5 %); with
#: 32 within 0.05 % of 96's for 0.5 s / 5 s, 10 ms / 1 s and 1 s / 2 s, and within 0.1 %
#: of the FE runs (tests/test_periodic_rating.py). The FE cost is one linear run of
#: some 1400 steps instead of 370; the lattice sums grow with the samples.
STEP_RESPONSE_STEPS_PER_DOUBLING = 32


def linear_case(case: Case, horizon_s: float) -> Case:
    """The case with constant properties (at the initial temperature), 1 W deposited as a
    continuous step to the horizon, fine steps, no outputs and no mechanics."""
    import dataclasses as dc

    from ..case import Loading, Output
    from ..resolve import backscatter_fraction, region_materials

    T0 = case.initial_temperature_K
    # the engine superposes responses to the beam alone from a state at rest: a face or a
    # circuit at another temperature would warm or cool the anode at zero power
    why = (f"expected the initial temperature, {T0 - 273.15:g} °C: a rating superposes the "
           "beam's responses from an anode at rest (with a warm coolant, start the anode at its "
           "temperature: initial.temperature_C)")
    for face, b in case.boundaries.items():
        if b.type in ("radiation", "heat_flux"):
            raise ResponseError(f"boundaries.{face}: a {b.type} boundary is not linear in the "
                                "beam power; the response engine cannot rate this case")
        if b.temperature_K is not None and abs(b.temperature_K - T0) > 1e-9:
            raise ResponseError(f"boundaries.{face}.temperature_C = "
                                f"{b.temperature_K - 273.15:g}: {why}")
    c = case.coolant_circuit
    for key, T in (("ambient_C", c.ambient_K), ("initial_C", c.initial_K)) if c else ():
        if abs(T - T0) > 1e-9:
            raise ResponseError(f"coolant_circuit.{key} = {T - 273.15:g}: {why}")
    if not cooled_faces(case):
        raise ResponseError("boundaries: rating needs a cooled face "
                            f"({' or '.join(COOLING_TYPES)})")
    eta = backscatter_fraction(case, region_materials(case))
    beam = dc.replace(case.beam, power_W=1.0 / (1.0 - eta))
    return rating_copy(
        case, needs_drift(case) or needs_stress(case), beam=beam,
        loading=Loading("continuous", ((horizon_s, beam.power_W),)),
        materials=dc.replace(case.materials, temperature_dependent=False),
        time=dc.replace(case.time, steps_per_doubling=STEP_RESPONSE_STEPS_PER_DOUBLING,
                             max_step_s=horizon_s),
        output=Output((), False), probes=())


def needs_drift(case: Case) -> bool:
    """Whether the case limits a drift figure (the engine then runs the drift probe)."""
    return case.limits.drift_um is not None or case.limits.magnification_change_rel is not None


def needs_stress(case: Case) -> bool:
    """Whether the case limits the joint's stress (the engine then runs the stress probe)."""
    return case.limits.yield_use is not None and case.mechanics is not None


@dataclass
class Engine:
    """The step response with the node sets each limit watches."""

    response: StepResponse
    limits: list[Limit]
    nodes: dict[str, np.ndarray]  # limit column → indices into the response's nodes
    p_dep: float  # deposited fraction of the beam power
    seconds: float
    heat: np.ndarray | None = None  # stored heat per deposited watt at response.times (J/W)
    heat_steady: float = 0.0  # steady stored heat per deposited watt (J/W)
    not_in_engine: list[str] = field(default_factory=list)  # limits only FE runs check
    yield_strength: object = None  # the heat sink's yield strength Table (Pa; stress probe)
    stress: StressBalls | None = None  # the stress probe's cell tensors (exact schedules)
    #: serial_rise's rises by (on-time, period) (s): a serial-load chart and its FE
    #: correction (kirchhoff.correct_serial) take the same points' rises, each some seconds
    #: with a stress probe and drift figures. Not an init field: dc.replace (other limits)
    #: starts empty.
    serial_rises: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    #: single_load_after's results by loading time (s), for the same reason
    single_loads: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    #: _switched's result (a stress probe's cool-down: seconds)
    switched: tuple | None = field(default=None, init=False, repr=False, compare=False)

    def exact_stress(self, rise: np.ndarray, rows_of) -> np.ndarray:
        """rise with the stress probe's ball stresses replaced by their exact largest value
        over a schedule: rows_of(sub-response of the cell tensors) gives the tensors at the
        schedule's instants (superposed exactly), whose ball-averaged von Mises stress is
        taken at each instant. Unchanged without a stress probe."""
        lim = self.yield_limit()
        if self.stress is None or lim is None:
            return rise
        rise = rise.copy()
        sub = self.response.columns(self.stress.positions)
        rise[self.nodes[lim.column]] = self.stress.worst(np.atleast_2d(rows_of(sub)))
        return rise

    def yield_limit(self) -> Limit | None:
        """The yield limit the stress probe rates, or None."""
        return next((x for x in self.limits if x.name == "yield"), None)

    def rise_limits(self, rise: np.ndarray) -> dict[str, float]:
        """Largest rise per watt over each limit's nodes."""
        return {lim.column: float(rise[self.nodes[lim.column]].max()) for lim in self.limits}

    def signed(self) -> np.ndarray:
        """Positions of the signed figures in the response's columns: the drift figures and
        the stress probe's ball stresses (neither monotone in time; a stress superposed
        negative is the same von Mises stress as its opposite)."""
        lim = self.yield_limit()
        balls = [] if lim is None else self.nodes[lim.column]
        return np.concatenate([_drift_positions(self), np.asarray(balls, dtype=int)])

    def yield_use(self, lim: Limit, rise: np.ndarray, P_dep: float,
                  preload_rise: np.ndarray | None = None, preload_dep: float = 0.0) -> float:
        """The stress probe's yield use (-) at P_dep deposited watts: the largest over its
        balls of the ball's von Mises stress over the yield strength at its temperature
        (yield_power has the terms)."""
        s_idx, t_idx = self.nodes[lim.column], self.nodes[ball_temperature_key(lim)]
        r_s, r_t = rise[s_idx], rise[t_idx]
        a_s = a_t = 0.0
        if preload_rise is not None:
            a_s = preload_dep * (preload_rise[s_idx] - r_s)
            a_t = preload_dep * (preload_rise[t_idx] - r_t)
        table = self.yield_strength
        lo, hi = table.range_K
        T = self.response.T0 + a_t + P_dep * r_t
        sy = np.where(T <= hi, table(np.clip(T, lo, hi)), 0.0)
        s = np.abs(a_s + P_dep * r_s)
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.max(np.where(sy > 0, s / np.where(sy > 0, sy, 1.0), np.inf)))

    def yield_power(self, lim: Limit, allowed: float, rise: np.ndarray,
                    preload_rise: np.ndarray | None = None, preload_dep: float = 0.0) -> float:
        """Largest deposited power (W) with the yield use (the ball-averaged von Mises stress
        over the yield strength at the ball's mean temperature) at most allowed in every
        ball of the stress probe (_YieldProbe).

        Per ball, stress = |a_s + P r_s| and temperature T0 + a_T + P r_T, with r the rise per
        deposited watt over the schedule (its stress the largest excursion, its temperature
        the largest) and a the pre-load's part, P_pre (S_∞ − r), as for the temperatures in
        max_power. Largest stress and largest temperature of a schedule are taken together
        (the same instant for a load from cold and a steady state; conservative otherwise).
        The use rises with P (the yield strength falls with temperature), so the largest
        power is bracketed and bisected to 1e-12; above the yield table the use is infinite,
        as in the run (mechanics.ThermoElasticProblem.yield_use).
        """
        def use(P):
            return self.yield_use(lim, rise, P, preload_rise, preload_dep)

        if use(0.0) > allowed:
            return 0.0
        P_lo, P_hi = 0.0, max(preload_dep, 1e-3)
        while use(P_hi) <= allowed:
            P_lo, P_hi = P_hi, 2.0 * P_hi
            if P_hi > 1e30:  # the schedule does not stress the joint
                return np.inf
        while P_hi - P_lo > 1e-12 * P_hi:
            mid = 0.5 * (P_lo + P_hi)
            P_lo, P_hi = (mid, P_hi) if use(mid) <= allowed else (P_lo, mid)
        return P_lo

    def single_load_rise(self, times, cooling: bool = True) -> np.ndarray:
        """Worst rise per deposited watt of a single load from cold held for each of times
        (s): (len(times), nodes). Per node the largest over the load and, with cooling, the
        cooling after it (single_load_after): a temperature S(t) at the load's end, or later
        where its heat is still on its way (the coolant face); a drift figure its largest
        excursion either way, which on an anode whose fast bulge and slow growth nearly
        cancel comes after the switch-off."""
        return np.array([single_load_after(self, t)[1 if cooling else 0]
                         for t in np.atleast_1d(times)])

    def single_load_cooling_s(self, t: float) -> float:
        """How long (s) the FE run of a single load of t (s) follows its cooling: where the
        cooling lowers the load's largest power (the engine's, every limit but fatigue,
        which the cooling does not change) by more than WARM_UP_RTOL, WARM_UP_SPAN times
        the latest of the instants after switch-off where the nodes that exceed their
        largest over the load by more than WARM_UP_RTOL peak (at most the step response's
        horizon); else 0: the run ends with the load (a lagging node's FE correction then
        taken at the load's end)."""
        during, rise, after = single_load_after(self, t)
        if after is None or self.max_power(rise)[0] >= (1.0 - WARM_UP_RTOL) * self.max_power(
                during)[0]:
            return 0.0
        return min(WARM_UP_SPAN * after, self.response.horizon)

    def max_power(self, rise: np.ndarray, preload_rise: np.ndarray | None = None,
                  preload_dep: float = 0.0, heads: dict | None = None,
                  spot: SpotHistory | None = None, to_rise=None) -> tuple[float, str]:
        """Largest beam power (W) with every limit held, and the binding limit (its label:
        an interface limit names its joint, Limit.label).

        The temperature at node i is T0 + P_dep rise_i, so the limit gives
        P_dep ≤ (T_lim − T0) / rise_i. With a pre-load held to steady state before the load,
        T = T0 + P_pre S_∞ + (P − P_pre) rise: P_dep ≤ P_pre + (T_lim − T0 − P_pre S_∞)/rise,
        with preload_rise = S_∞ and preload_dep = P_pre (deposited W).

        The erosion limit is rated as its equivalent constant spot temperature
        (ErosionLimit.temperature_C): exact for a steady spot, conservative for a pulsed one.
        heads: (limit name, column) → the rise to allow instead of rise_allowed (the
        Kirchhoff-transformed, FE-corrected heads of kirchhoff.py).

        The yield limit is rated on the stress probe's balls (yield_power).
        The fatigue limit is rated on the spot's history over the schedule (spot, the
        pre-load in it; None: a steady spot, no cycles, as a steady run counts none), its
        linear rise mapped onto the temperature rise by to_rise (K → K; None: the identity,
        the engine's constant k; kirchhoff.py: the transform with its FE correction).
        """
        best, binding = np.inf, ""
        for lim in self.limits:
            if isinstance(lim, FatigueLimit):
                p = np.inf if spot is None else spot.max_power(lim, self.response.T0, to_rise)
                if p < best:
                    best, binding = float(p), lim.label
                continue
            if lim.name == "yield":
                allowed = rise_allowed(lim) if heads is None else heads[(lim.name, lim.column)]
                p = self.yield_power(lim, allowed, rise, preload_rise, preload_dep)
                if p < best:
                    best, binding = float(p), lim.label
                continue
            idx = self.nodes[lim.column]
            head = rise_allowed(lim) if heads is None else heads[(lim.name, lim.column)]
            r = np.abs(rise[idx]) if lim.name in SIGNED_LIMITS else rise[idx]
            if preload_rise is not None:
                head = head - preload_dep * np.abs(preload_rise[idx])
            with np.errstate(divide="ignore"):
                # a node the load does not heat holds for any power while its head is left,
                # for none once the pre-load alone has spent it
                p = np.where(r > 0, head / np.where(r > 0, r, 1.0),
                             np.where(head >= 0, np.inf, -np.inf)).min() + preload_dep
            if p < best:
                best, binding = float(p), lim.label
        return best / self.p_dep, binding


@dataclass
class SpotHistory:
    """The spot's temperature rise over the history a full finite-element run of a schedule
    records in its T_peak_C column (the hottest target node at each instant), at its
    turning points, per deposited watt: rise = base + P_dep shape (K). The run's fatigue
    check (limits._fatigue_check) counts its rainflow cycles, the schedule repeated
    (life.periodic_history: one period from its highest sample back to it) once per run's
    duration, so the engine counts the same. The case's own schedule (of_schedule) carries
    the pause up to loading.repeat_every_s as its last segment (case reader), as the run
    does; the chart points repeat back to back (a serial load's period is its own; a single
    load from cold once per loading time, the most loads from cold the life holds):

    - single load of t s from cold (single): 0, then the rise at its end: one cycle per
      load from the initial temperature to the peak;
    - single load after a pre-load held to steady (preloaded): the pre-load's steady
      spot, then the peak: one cycle per load between them;
    - serial load in its periodic steady state (periodic; the FE anchors check its last
      period): the start of the period, the end of the on-phase, the end of the period:
      one cycle of the periodic swing per period;
    - finite pulse train from cold (train; the case's own schedule): 0, the end of every
      on-phase and of every period, the end of the cooling: each pulse's cycle and the
      start-up cycle from the initial temperature;
    - any other schedule (of_schedule): 0 and the end of every segment;
    - the case's schedule repeated every loading.repeat_every_s (repeated): the same
      instants in its periodic steady state, starting from its value at the period's end;
    - steady: None (a steady run has one sample, no cycles).

    Attributes:
        times: instants (s).
        shape: rise per deposited watt there (K/W).
        base: rise independent of the power (K; a pre-load's), None: 0.
    """

    times: np.ndarray
    shape: np.ndarray
    base: np.ndarray | None = None

    #: Pulses of a finite train whose extremes are each summed; beyond them, as many pulses
    #: geometrically spaced up to the last, the extremes of the pulses between interpolated
    #: linearly in the pulse number (they approach the periodic state's smoothly).
    TRAIN_PULSES = 32

    def rise(self, P_dep: float) -> np.ndarray:
        """The spot's rise (K) at P_dep deposited watts (linear; constant k)."""
        r = P_dep * self.shape
        return r if self.base is None else self.base + r

    def max_power(self, lim: FatigueLimit, T0: float, to_rise=None) -> float:
        """Largest deposited power (W) whose history keeps the estimated crack-initiation
        life at least lim.life_h (life.largest_safe_scale, bracketed from below; inf when
        it holds until the spot reaches the top of the property tables).

        Args:
            T0: the initial temperature (K).
            to_rise: linear rise (K) → temperature rise (K) (None: identity).
        """
        tensile = life.tensile_data(lim.material)
        tab = lim.tables
        (i, j, count), per_h = life.history_cycles(self.times, self.rise(1.0))
        if not len(count):
            return np.inf
        f = (lambda x: x) if to_rise is None else to_rise

        def temps(P):  # P: array of powers → (len(P), instants) temperatures (K)
            P = np.asarray(P, dtype=float)[:, None]
            return T0 + f(P * self.shape if self.base is None else self.base + P * self.shape)

        def ends(P):
            T = temps(P)
            return np.minimum(T[:, i], T[:, j]), np.maximum(T[:, i], T[:, j])

        T_top = min(tab[name].range_K[1] for name in ("alpha", "E"))
        hi = 1.0  # the power (W) at which the hottest instant reaches the tables' top
        while temps([hi]).max() < T_top:
            hi *= 2.0
            if hi > 1e30:  # the history does not heat the spot
                return np.inf
        lo = 0.0
        for _ in range(50):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if temps([mid]).max() < T_top else (lo, mid)
        return life.largest_safe_scale(ends, count, per_h, tab, tensile, lim.life_h, lo)

    @classmethod
    def single(cls, engine: Engine, t: float) -> SpotHistory:
        """A single load of t (s) from cold."""
        S = float(engine.response.at([t])[0][engine.nodes["T_peak_C"]].max())
        return cls(np.array([0.0, t]), np.array([0.0, S]))

    @classmethod
    def preloaded(cls, engine: Engine, t: float, preload_dep: float) -> SpotHistory:
        """A single load of t (s) after preload_dep deposited watts held to steady, at the
        spot node hottest at the load's end (T = T0 + P_pre S_∞ + (P − P_pre) S(t))."""
        r = engine.response
        idx = engine.nodes["T_peak_C"]
        S = r.at([t])[0][idx]
        n = int(np.argmax(S))
        inf = float(r.steady[idx][n])
        return cls(np.array([0.0, t]), np.array([0.0, S[n]]),
                   preload_dep * np.array([inf, inf - S[n]]))

    @classmethod
    def periodic(cls, engine: Engine, t_on: float, period: float) -> SpotHistory | None:
        """A serial load (on-time, period s) in its periodic steady state; None when
        continuous (t_on ≥ period)."""
        if t_on >= period:
            return None
        idx = engine.nodes["T_peak_C"]
        v = engine.response.train_rise(t_on, period, None, [t_on, period])[:, idx].max(axis=1)
        return cls(np.array([0.0, t_on, period]), np.array([v[1], v[0], v[1]]))

    @classmethod
    def train(cls, engine: Engine, t_on: float, period: float, pulses: int,
              tail_s: float = 0.0) -> SpotHistory:
        """A finite train from cold: `pulses` pulses of on-time t_on (s) and period (s),
        then tail_s (s) of cooling."""
        r = engine.response
        idx = engine.nodes["T_peak_C"]
        ks = sampled_pulses(pulses, cls.TRAIN_PULSES)
        ext = np.array([r.train_rise(t_on, period, int(k), [t_on, period])[:, idx].max(axis=1)
                        for k in ks])
        k = np.arange(1, pulses + 1)
        top, bottom = np.interp(k, ks, ext[:, 0]), np.interp(k, ks, ext[:, 1])
        times = np.concatenate([[0.0], np.column_stack([(k - 1) * period + t_on,
                                                        k * period]).ravel()])
        shape = np.concatenate([[0.0], np.column_stack([top, bottom]).ravel()])
        if tail_s > 0:
            end = r.train_rise(t_on, period, pulses, [period + tail_s])[:, idx].max(axis=1)
            times = np.append(times, pulses * period + tail_s)
            shape = np.append(shape, end)
        return cls(times, shape)

    @classmethod
    def of_schedule(cls, engine: Engine, case: Case) -> SpotHistory | None:
        """The case's own schedule (None: steady)."""
        seg = case.loading.segments
        if case.loading.kind == "steady" or not seg:
            return None
        if repeated(case.loading):
            return cls.repeated(engine, case.loading)
        train = finite_train(case.loading)
        if train is not None:
            return cls.train(engine, *train)
        shape = _shape(case.loading)
        times = np.concatenate([[0.0], np.cumsum([d for d, _ in seg])])
        r = engine.response
        rise = (r.schedule(shape, times[1:]) - r.T0)[:, engine.nodes["T_peak_C"]].max(axis=1)
        return cls(times, np.concatenate([[0.0], rise]))

    @classmethod
    def repeated(cls, engine: Engine, loading) -> SpotHistory:
        """A schedule repeated every loading.repeat_every_s (the pause up to it its last
        segment) in its periodic steady state: its value at the period's end (the next
        repetition's start), then the end of every segment (a finite train: the end of
        every on-phase and period, those of the pulses sampled_pulses picks summed
        exactly, the others interpolated linearly in the pulse number, as train does),
        each StepResponse.periodic at the spot node hottest there."""
        shape = _shape(loading)
        spot = engine.response.columns(engine.nodes["T_peak_C"])
        R = float(sum(d for d, _ in shape))

        def at(t):
            return (spot.periodic(shape, t) - spot.T0).max(axis=1)

        train = finite_train(loading)
        if train is None:
            ends = np.cumsum([d for d, _ in shape])
            v = at(ends)
            return cls(np.concatenate([[0.0], ends]), np.concatenate([[v[-1]], v]))
        on, period, pulses, tail = train
        ks = sampled_pulses(pulses, cls.TRAIN_PULSES)
        values = at(np.concatenate([(ks - 1) * period + on, ks * period, [R]]))
        top, bottom, end = np.split(values, [len(ks), 2 * len(ks)])
        k = np.arange(1, pulses + 1)
        top, bottom = np.interp(k, ks, top), np.interp(k, ks, bottom)
        times = np.concatenate([[0.0], np.column_stack([(k - 1) * period + on,
                                                        k * period]).ravel()])
        shape_ = np.concatenate([end, np.column_stack([top, bottom]).ravel()])
        if tail > 0:
            times, shape_ = np.append(times, R), np.append(shape_, end)
        return cls(times, shape_)


def finite_train(loading) -> tuple[float, float, int, float] | None:
    """(on-time s, period s, pulses, cooling after the last period s) of a pulse train
    with an off-phase, else None."""
    seg = loading.segments
    if loading.kind != "pulse_train" or len(seg) < 2 or seg[1][1] != 0.0:
        return None
    on, off = seg[0][0], seg[1][0]
    pulses = sum(1 for _, p in seg if p > 0)
    tail = sum(d for d, _ in seg) - pulses * (on + off)
    return on, on + off, pulses, max(tail, 0.0)


def sampled_pulses(pulses: int, m: int) -> np.ndarray:
    """The pulses of a finite train (numbers 1 to pulses) that are each summed: the first
    m, then m geometrically spaced up to the last (what lies between is interpolated)."""
    ks = np.arange(1, min(pulses, m) + 1)
    if pulses > m:
        ks = np.unique(np.concatenate([ks, np.round(np.geomspace(m, pulses, m)).astype(int)]))
    return ks


class _DriftProbe:
    """Signed drift figures per deposited watt, from a thermoelastic solve on the current
    temperature (linear in the power), through the run's own drift map (DriftMap.for_case:
    the face frame of a 3-D rod or user mesh, the axis in 2-D).

    The spot moves along the beam only, δ = b (ū·n)/(b·n), so every drift figure is a fixed
    multiple of that one signed shift and superposes like a temperature rise (build_engine
    orients each so that its steady value is positive). The drift
    limit watches δ⊥·v on the detector's v axis (the beam's projection), whose magnitude is
    the run's drift_across_view_um; the magnification limit watches ΔM/M.
    """

    #: limit name → the drift map's signed figure it watches
    FIGURES = {"drift": "drift_v_um", "magnification": "magnification_change_rel"}

    def __init__(self, case: Case, prep, problem, solver, names):
        from ..drift import DriftMap

        self.solver = solver
        self.terms = problem.emission_terms  # the run's emission weight (deposition × Z)
        self.map = DriftMap.for_case(case, prep.lay)
        self.figures = [self.FIGURES[n] for n in names]
        self.weighted = False

    def __call__(self) -> np.ndarray:
        # The spot's normal shift, measured from the mount as in the run, through the
        # adjoint weight of one solve (ThermoElasticProblem.shift_weight; exact here: the
        # linear case's E, ν are constant), as the run's Mechanics monitor between saves.
        if not self.weighted:
            self.solver.solve(weight=(self.terms, self.map.normal))
            self.weighted = True
        d = self.map.apply(self.solver.normal_shift() * self.map.normal)
        return np.array([d[f] for f in self.figures])


def ball_temperature_key(lim: Limit) -> str:
    """Engine.nodes key of the stress probe's ball temperatures (the stresses: lim.column)."""
    return f"{lim.column}@T"


def _thermoelastic(case: Case, prep, domain, problem, interfaces, what: str):
    """The thermoelastic problem of the linear case on the engine's temperature (linear in
    the power: the stress-free temperature must be the initial one)."""
    from ..mechanics import ThermoElasticProblem

    m = case.mechanics
    if abs(m.reference_temperature_K - case.initial_temperature_K) > 1e-9:
        raise ResponseError(f"mechanics.reference_temperature_C: a {what} limit needs the "
                            "stress-free temperature equal to the initial temperature")
    return ThermoElasticProblem(domain, prep.mats, problem.T, m.mounts, m.free,
                                m.reference_temperature_K,
                                ties=[(i.name, i.side_a, i.side_b) for i in interfaces],
                                solver=problem.solver, rtol=case.numerics.rtol,
                                reference_face=m.reference_face, T_floor=problem.T_floor)


class _YieldProbe:
    """The heat sink's stress near the joint per deposited watt: one thermoelastic solve per
    step of the step response, averaged over every ball of the run's yield check
    (ThermoElasticProblem.yield_use: the cell von Mises stress averaged over YIELD_RADIUS_M
    around each heat-sink cell near the joint, and the ball's mean temperature).

    With constant E, ν, α (the linear case) the stress tensor is linear in the temperature
    rise, so each cell's von Mises stress, and the ball average of it, is proportional to
    the power for one temperature shape: exact for a load from cold (a step) and a steady
    state. A schedule superposes the balls' averaged stresses like the temperatures (signed,
    Engine.signed): exact while the stress field near the joint keeps its shape over the
    schedule (the joint's temperature field is slow), an approximation otherwise, which the
    FE confirmations correct. The ball temperatures superpose exactly.
    """

    def __init__(self, case: Case, domain, solver, sink: str):
        import dolfinx

        from ..limits import YIELD_RADIUS_M

        joints = [g for g in domain.groups for name in interfaces_of(case.geometry)
                  if g == name or g.startswith(f"{name}@")]
        self.solver, self.T0 = solver, case.initial_temperature_K
        self.balls = solver.yield_balls(sink, joints, YIELD_RADIUS_M)
        self.count = 0 if self.balls is None else len(self.balls[1])
        self.tensor = None  # (the cells' stress tensors (DG0), their expression, cells)
        sigma = solver.sigma[sink](solver.u)
        if self.count and solver.comm.size == 1 and sigma.ufl_shape == (3, 3):
            (rows, cols, w), _, cells = self.balls
            used = np.unique(cols)
            W = dolfinx.fem.functionspace(domain.mesh, ("DG", 0, sigma.ufl_shape))
            self.tensor = (dolfinx.fem.Function(W),
                           dolfinx.fem.Expression(sigma, W.element.interpolation_points),
                           cells[used].astype(np.int32))
            self.ncomp = int(np.prod(sigma.ufl_shape))
            self.cells_used = len(used)
            self.matrix = (rows, np.searchsorted(used, cols), w)

    @property
    def width(self) -> int:
        """Columns per sample: ball stresses, ball temperatures, cell stress tensors."""
        return 2 * self.count + (0 if self.tensor is None else self.cells_used * self.ncomp)

    def __call__(self) -> np.ndarray:
        """(ball stresses Pa, ball temperature rises K, the balls' cell stress tensors Pa,
        cell by cell) of the current temperature field."""
        self.solver.solve()
        (rows, cols, w), centres, cells = self.balls
        comm = self.solver.comm
        T = self.solver.T
        T_cell = T.x.array[T.function_space.dofmap.list[cells]].mean(axis=1)
        vm = self.solver.von_mises.x.array[cells]
        T_cell, vm = (np.concatenate(comm.allgather(a)) for a in (T_cell, vm))
        s_avg, T_avg = (np.bincount(rows, weights=w * x[cols], minlength=len(centres))
                        for x in (vm, T_cell))
        out = [s_avg, T_avg - self.T0]
        if self.tensor is not None:
            f, expr, used = self.tensor
            f.interpolate(expr, cells0=used)
            dofs = f.function_space.dofmap.list[used][:, 0]
            out.append(f.x.array.reshape(-1, self.ncomp)[dofs].ravel())
        return np.concatenate(out)


@dataclass
class StressBalls:
    """The stress probe's cell tensors in the step response, to superpose a schedule's
    stress exactly (the tensor is linear in the temperature rise; its von Mises stress is
    not): positions of the cells' tensor components (cell by cell), and the ball-averaging
    matrix (row: ball, column: cell, weight)."""

    positions: np.ndarray
    ncomp: int
    matrix: tuple  # (rows, cols, w)
    balls: int
    _weights: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    def ball_stress(self, tensors: np.ndarray) -> np.ndarray:
        """Ball-averaged von Mises stress (instants, balls) of cell tensors (instants,
        cells × ncomp) at instants (the run's yield_use average of the cell values)."""
        nt = tensors.shape[0]
        sig = tensors.reshape(nt, -1, 3, 3)  # (r, θ, z) in axisymmetry, (x, y, z) in 3-D
        tr = np.trace(sig, axis1=2, axis2=3)
        dev = sig - tr[:, :, None, None] / 3.0 * np.eye(3)
        vm = np.sqrt(1.5 * np.sum(dev * dev, axis=(2, 3)))  # (instants, cells)
        return vm @ self.weights(vm.shape[1]).T

    def weights(self, cells: int) -> np.ndarray:
        """The ball-averaging matrix, dense (balls, cells): a product with it is about 30x
        faster than summing the (ball, cell) pairs with np.add.at (1333 instants of the
        clamped insert's 245 balls over 369 cells: 3.5 s → 0.1 s)."""
        if self._weights is None or self._weights.shape[1] != cells:
            rows, cols, w = self.matrix
            self._weights = np.zeros((self.balls, cells))
            np.add.at(self._weights, (rows, cols), w)
        return self._weights

    def worst(self, rows: np.ndarray) -> np.ndarray:
        """Per ball, the largest ball-averaged von Mises stress over instants (rows: the
        tensor columns' superposed values there, per deposited watt)."""
        return self.ball_stress(rows).max(axis=0)


def build_engine(case: Case, horizon_s: float = 1e6, comm=None) -> Engine:
    """Step response of the case (constant properties at the initial temperature).

    Raises:
        ResponseError: the case is not linear in the power or has no cooled face.
    """
    import time

    from .._mpi import MPI

    from ..resolve import prepare
    from ..simulation import build_problem

    start = time.perf_counter()
    comm = comm or MPI.COMM_SELF
    lin = linear_case(case, horizon_s)
    prep = prepare(lin)
    domain, problem, interfaces, _ = build_problem(lin, prep, comm)
    every = limits_for(case, prep.mats)
    skipped = set(NOT_IN_ENGINE)
    T0 = case.initial_temperature_K
    solver = None
    stress, sink = None, yield_region(case.geometry, case.materials)
    if any(lim.name == "yield" for lim in every):
        solver = _thermoelastic(lin, prep, domain, problem, interfaces, "yield")
        stress = _YieldProbe(lin, domain, solver, sink) if sink is not None else None
        if stress is None or not stress.count:  # no yield data or no joint: FE runs only
            stress = None
            skipped.add("yield")
    limits = [lim for lim in every if lim.name not in skipped]
    watched, nodes = _watched_nodes(case, domain, problem, limits)
    probes = []
    signed = [lim for lim in limits if lim.name in SIGNED_LIMITS]
    if signed:
        solver = solver or _thermoelastic(lin, prep, domain, problem, interfaces, "drift")
        probes.append(_DriftProbe(lin, prep, problem, solver, [lim.name for lim in signed]))
        for i, lim in enumerate(signed):
            nodes[lim.column] = np.array([len(watched) + i])
    balls = None
    if stress is not None:
        first = len(watched) + len(signed)
        lim = next(x for x in limits if x.name == "yield")
        nodes[lim.column] = first + np.arange(stress.count)
        nodes[ball_temperature_key(lim)] = first + stress.count + np.arange(stress.count)
        probes.append(stress)
        if stress.tensor is not None:
            balls = StressBalls(first + 2 * stress.count
                                + np.arange(stress.cells_used * stress.ncomp),
                                stress.ncomp, stress.matrix, stress.count)
    extra = (lambda: np.concatenate([p() for p in probes])) if probes else None

    times, rise, heat, steady, heat_steady = _step_response(problem, prep.steps, watched, T0,
                                                            extra, horizon_s)
    if signed:  # orient each drift figure so that its steady value is positive:
        # the schedules' worst instants are then maxima, as for the temperatures
        cols = slice(len(watched), len(watched) + len(signed))
        sign = np.where(steady[cols] < 0, -1.0, 1.0)
        rise[:, cols] *= sign
        steady[cols] *= sign
    resp = StepResponse(np.array(times), rise, steady, T0)
    # A beam-pointing drift is an offset in time, not a response to the power: the engine
    # superposes the thermal drift only, so its drift figures leave it out (FE runs add it)
    partly = [f"{lim.name} (its beam-pointing part)" for lim in signed] \
        if case.pointing is not None else []
    return Engine(resp, limits, nodes, 1.0 - prep.eta, time.perf_counter() - start,
                  np.minimum(np.array(heat), heat_steady), heat_steady,
                  [lim.name for lim in every if lim.name in skipped] + partly,
                  prep.mats[sink].yield_strength if stress is not None else None, balls)


def _watched_nodes(case: Case, domain, problem, limits):
    """(watched dofs, limit column → positions in them) of the temperature limits."""
    import dolfinx

    V = problem.V
    fdim = domain.mesh.topology.dim - 1

    def face_dofs(groups):
        return np.unique(np.concatenate(
            [dolfinx.fem.locate_dofs_topological(V, fdim, domain.facets(g)) for g in groups]))

    sets = {"T_peak_C": problem.region_dofs["target"]}
    for r in regions_of(case.geometry):
        sets[f"T_max_{r}_C"] = problem.region_dofs[r]
    for name in interfaces_of(case.geometry):
        sets[f"T_max_{name}_C"] = face_dofs(
            [g for g in domain.groups if g == name or g.startswith(f"{name}@")])
    if cooled_faces(case):
        sets["T_max_coolant_side_C"] = face_dofs(cooled_faces(case))
    temps = [lim for lim in limits if lim.name not in SIGNED_LIMITS and lim.name != "yield"]
    watched = np.unique(np.concatenate([sets[lim.column] for lim in temps]))
    position = {int(d): i for i, d in enumerate(watched)}
    nodes = {lim.column: np.array([position[int(d)] for d in sets[lim.column]])
             for lim in temps}
    return watched, nodes


def _step_response(problem, steps, watched, T0: float, drift, horizon_s: float):
    """Rise per deposited watt at the watched nodes (and the probes' figures, drift(): drift
    and ball stresses) over the planned steps
    and in the steady state; the stored heat per watt likewise.

    Returns:
        (times, rise, heat, steady rise, steady heat), clamped so that S(t) ≤ S_∞.

    Raises:
        ResponseError: the response has not settled by the horizon.
    """
    def sample():
        values = problem.T.x.array[watched] - T0
        return values if drift is None else np.append(values, drift())

    times, rise, heat = [0.0], [sample() * 0.0], [0.0]
    dt_prev = None
    for st in steps:
        problem.step(st.dt, 1.0, st.restart, dt_prev)
        dt_prev = st.dt
        times.append(st.t)
        rise.append(sample())
        heat.append(problem.stored_heat())
    problem.steady(1.0)
    steady = sample()
    heat_steady = problem.stored_heat()
    n = len(watched)  # the temperatures (the probes' figures have other units)
    if np.max(np.abs(rise[-1][:n] - steady[:n])) > 1e-3 * np.max(steady[:n]):
        raise ResponseError(f"the step response has not reached its steady state after "
                            f"{horizon_s:g} s; the anode is too weakly cooled to rate")
    # The temperature step response rises monotonically to S_∞ (heat in, ambient
    # boundaries); clamp the round-off of the last samples so that S(t) ≤ S_∞ holds exactly.
    rise = np.array(rise)
    rise[:, :len(watched)] = np.minimum(rise[:, :len(watched)], steady[:len(watched)])
    return times, rise, heat, steady, heat_steady


#: A drift figure whose largest excursion over the warm-up from cold or the cool-down after
#: switch-off exceeds its steady value by more than this (relative) has that switch run by
#: FE when a load held until steady is confirmed (switch_excursions); the tube passes
#: through both at every switch-on and switch-off.
WARM_UP_RTOL = 1e-3


def _drift_positions(engine: Engine) -> np.ndarray:
    """Positions of the drift figures (SIGNED_LIMITS' columns) in the response."""
    return np.array([int(engine.nodes[lim.column][0]) for lim in engine.limits
                     if lim.name in SIGNED_LIMITS], dtype=int)


def _switched(engine: Engine) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """_switching, computed once per engine (Engine.switched)."""
    if engine.switched is None:
        engine.switched = _switching(engine)
    return engine.switched


def _switching(engine: Engine) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The signed figures' positions (the drift figures, and the stress probe's balls) and
    their response per deposited watt at the step response's samples after each switch of
    a steady load: "warm-up" S(t) after switch-on from cold, "cool-down" S_∞ − S(t) after
    switch-off from the steady state (exact at the samples, where the interpolated response
    has its extremes; a ball's von Mises stress of the cell tensors so superposed, which
    after switch-off can exceed its steady value: 1.0097x on one ball of the clamped insert
    of tests/test_rating_yield.py, not the binding one)."""
    r = engine.response
    pos = _drift_positions(engine)
    warm, cool = r.rise[:, pos], r.steady[pos] - r.rise[:, pos]
    lim = engine.yield_limit()
    if engine.stress is not None and lim is not None:
        balls = engine.nodes[lim.column]
        tensors = r.steady[engine.stress.positions][None, :] - r.rise[:, engine.stress.positions]
        pos = np.concatenate([pos, balls])
        warm = np.hstack([warm, r.rise[:, balls]])
        cool = np.hstack([cool, engine.stress.ball_stress(tensors)])
    return pos, {"warm-up": warm, "cool-down": cool}


def steady_rise(engine: Engine) -> np.ndarray:
    """Worst nodal rise per deposited watt of a load held until the anode is steady, from
    cold and back: S_∞ for the temperatures (monotone: the steady state is their worst), for
    each drift figure and stress-probe ball its largest excursion either way over the
    warm-up from cold, the steady state and the cool-down after switch-off. A drift whose
    fast part (the insert's bulge) and slow part (the heat sink's growth, a mount's
    recession) nearly cancel once warm is larger on the way there, and larger still once
    the beam is switched off (the bulge collapses first, the slow part stays): a continuous
    rating held to the steady figure alone was optimistic for every switch-on and
    switch-off of the tube, as the serial-load charts' duty cycles just below 1 already
    counted."""
    return _steady_rise(engine, *_switched(engine))


def _steady_rise(engine: Engine, pos: np.ndarray, after: dict) -> np.ndarray:
    r = engine.response
    rise = r.steady.copy()
    if len(pos):
        rise[pos] = _extreme(np.vstack([r.steady[pos][None, :], *after.values()]))
    return rise


def switch_excursions(engine: Engine) -> dict[str, float]:
    """Per switch of a steady load ("warm-up", "cool-down": _switched) whose drift figures
    swing more than WARM_UP_RTOL beyond their steady values, or whose stress-probe balls do
    and so lower the engine's power by more than WARM_UP_RTOL, the instant (s after the
    switch) of the largest such excursion (the latest over the figures); no key where
    every figure stays within it: a steady FE run then confirms the continuous rating
    alone."""
    r = engine.response
    pos, after = _switched(engine)
    drift = len(_drift_positions(engine))
    if len(pos) > drift:  # the balls only where they lower the power
        steady = engine.max_power(_steady_rise(engine, pos[:drift], {
            k: v[:, :drift] for k, v in after.items()}))[0]
        if engine.max_power(_steady_rise(engine, pos, after))[0] >= (
                1.0 - WARM_UP_RTOL) * steady:
            pos, after = pos[:drift], {k: v[:, :drift] for k, v in after.items()}
    out = {}
    for kind, values in after.items() if len(pos) else ():
        over = np.abs(values).max(axis=0) > (1.0 + WARM_UP_RTOL) * np.abs(r.steady[pos])
        if over.any():
            out[kind] = float(r.times[np.abs(values[:, over]).argmax(axis=0)].max())
    return out


#: The FE runs of a steady load's switches (switch_excursions): this many times the instant
#: of the engine's largest excursion (at most the step response's horizon), wide enough
#: for the k(T) anode's somewhat different timing.
WARM_UP_SPAN = 10.0


def switch_runs_s(engine: Engine) -> dict[str, float]:
    """How long (s) the FE run of each switch of a steady load lasts (WARM_UP_SPAN), for the
    switches switch_excursions finds."""
    return {kind: min(WARM_UP_SPAN * t, engine.response.horizon)
            for kind, t in switch_excursions(engine).items()}


def preload_off_power(engine: Engine, t: float, preload_dep: float) -> tuple[float, str]:
    """Largest beam power (W) of a single load of t (s) after a pre-load of preload_dep
    deposited W held until steady, with the beam switched off after the load, for the drift
    figures (SIGNED_LIMITS; inf and "" without one), and the binding one's label.

    The pre-loaded chart holds its limits with the tube back at the pre-load after the load
    (Engine.max_power's preload terms); for a temperature that is the hotter ending, but a
    drift that reverses swings further with the beam off (the pre-load's own bulge
    collapses too): on the MoCu30 anode of tests/test_rating_warm_up.py after a 3 W
    pre-load, 10 s at the point's 6.71 W, 0.100 µm back at the pre-load and 0.137 µm with
    the beam off (FE at k(T): 0.140 µm). After the switch-off a figure is
    a(τ) + P b(τ), a = P_pre (S_∞ − S(t + τ)), b = S(t + τ) − S(τ), at the kinks τ of the
    interpolated response (exact for it); |a + P b| ≤ H gives P ≤ (H − sign(b) a) / |b|
    (the pre-load alone spending the head: 0)."""
    r = engine.response
    tau = _after_load_instants(r, t)
    best, binding = np.inf, ""
    for lim in engine.limits:
        if lim.name not in SIGNED_LIMITS:
            continue
        sub = r.columns(engine.nodes[lim.column][:1])
        late = sub.at(t + tau)[:, 0]
        a = preload_dep * (sub.steady[0] - late)
        b = late - sub.at(tau)[:, 0]
        head = rise_allowed(lim)
        if np.any(np.abs(a) > head):
            p = 0.0
        else:
            moving = b != 0.0
            p = float(np.min((head - np.sign(b[moving]) * a[moving]) / np.abs(b[moving]),
                             initial=np.inf))
        if p < best:
            best, binding = p, lim.label
    return best / engine.p_dep, binding


def _after_load_instants(r: StepResponse, t: float) -> np.ndarray:
    """The kinks τ (s after switch-off) of S(t + τ) − S(τ) after a load of t (s) for the
    interpolated response: τ a sample time, or t + τ one."""
    tau = r.times[r.times > 0]
    return np.unique(np.concatenate([tau, tau[tau > t] - t]))


#: With a stress probe, single_load_after superposes the cell tensors at every this-many-th
#: instant after the load, then at every instant within this many of each ball's peak there.
STRESS_STRIDE = 8


def single_load_after(engine: Engine, t: float
                      ) -> tuple[np.ndarray, np.ndarray, float | None]:
    """_single_load_after, computed once per engine and loading time (Engine.single_loads);
    copies."""
    key = float(t)
    if key not in engine.single_loads:
        engine.single_loads[key] = _single_load_after(engine, t)
    during, rise, at = engine.single_loads[key]
    return during.copy(), rise.copy(), at


def _single_load_after(engine: Engine, t: float
                       ) -> tuple[np.ndarray, np.ndarray, float | None]:
    """(during, rise, instant) of a single load of t (s) from cold, then the cooling:
    during the worst rise per deposited watt per node over the load, rise over both
    (Engine.single_load_rise); instant the latest time (s after switch-off) at which a
    node whose rise after the load exceeds its largest over the load by more than
    WARM_UP_RTOL peaks, None where none does (_after_end).

    After the load a node's rise is S(t + τ) − S(τ), evaluated at the kinks of the
    interpolated response (τ a sample time, or t + τ one): exact for it. A node away from
    the spot keeps warming after the load (the shipped rod's coolant face 1.95 times its
    end-of-load rise after a 1 s load); a drift that reverses swings furthest once the
    insert's bulge collapses (a W insert in MoCu30, clamped: a 0.1 µm drift limit allows
    8.20 W for a 10 s load held to its end, 4.99 W with the cooling)."""
    r = engine.response
    during = r.at([t])[0]
    pos = engine.signed()
    if len(pos):
        during[pos] = r.columns(pos).worst_until([t])[0]
    shape = [(t, 1.0), (r.horizon, 0.0)]
    rise, at = _after_end(engine, during, _after_load_instants(r, t),
                          lambda sub, tau: sub.schedule(shape, t + tau) - sub.T0)
    return during, rise, at


def _after_end(engine: Engine, during: np.ndarray, tau: np.ndarray, rows_of
               ) -> tuple[np.ndarray, float | None]:
    """(rise, instant) of a schedule from cold followed by the cooling with the beam off:
    during its worst rise per deposited watt per node up to its end, tau the instants (s
    after the end) where the cooling is evaluated, rows_of(sub-response, instants) the
    rise per watt of a sub-response's columns at the end + those instants (superposed
    exactly). rise is each node's worst over both (a signed figure its largest excursion
    either way); instant the latest time after the end at which a node that exceeds its
    worst up to the end by more than WARM_UP_RTOL peaks, None where none does."""
    r = engine.response
    pos = engine.signed()
    after = rows_of(r, tau)
    lim = engine.yield_limit()
    if engine.stress is not None and lim is not None:
        # the ball stresses from the superposed tensors (a von Mises stress does not
        # superpose): at every STRESS_STRIDE-th instant, then at every instant around each
        # ball's peak there (at all instants: 2-8 s a load for a coarse insert's 3321
        # tensor components)
        balls = engine.nodes[lim.column]
        sub = r.columns(engine.stress.positions)

        def stress(at):
            return engine.stress.ball_stress(rows_of(sub, tau[at]))

        coarse = np.arange(0, len(tau), STRESS_STRIDE)
        peaks = coarse[stress(coarse).argmax(axis=0)]
        at = np.unique(np.clip(np.concatenate([coarse] + [
            peaks + k for k in range(-STRESS_STRIDE, STRESS_STRIDE + 1)]), 0, len(tau) - 1))
        after[:, balls] = 0.0  # (a von Mises stress: 0 never the largest)
        after[np.ix_(at, balls)] = stress(at)
    worst = after.max(axis=0)
    if len(pos):
        worst[pos] = _extreme(after[:, pos])
    rise = np.maximum(during, worst)
    if len(pos):
        rise[pos] = np.where(np.abs(worst[pos]) > np.abs(during[pos]), worst[pos], during[pos])
    over = np.abs(worst) > (1.0 + WARM_UP_RTOL) * np.abs(during)
    if not over.any():
        return rise, None
    return rise, float(tau[np.abs(after[:, over]).argmax(axis=0)].max())


def schedule_after(engine: Engine, loading) -> tuple[np.ndarray, np.ndarray, float | None]:
    """(during, rise, instant) of the schedule from cold, then the cooling after its end
    with the beam off, as _single_load_after's for one load: during each node's worst
    rise per watt of peak deposited power up to the schedule's end (_schedule_during),
    rise over both, instant the latest time (s after the end) at which a node worse after
    it than up to it (by more than WARM_UP_RTOL) peaks, None where none is. A steady
    load's (switch_excursions holds its switches) and a repeated schedule's (its next
    repetition follows; _with_periodic) are their during, with no cooling. Computed once
    per engine and schedule shape (Engine.single_loads); copies."""
    key = (loading.kind, tuple(_shape(loading)) if loading.segments else (),
           loading.repeat_every_s)
    if key not in engine.single_loads:
        engine.single_loads[key] = _schedule_after(engine, loading)
    during, rise, at = engine.single_loads[key]
    return during.copy(), rise.copy(), at


def _schedule_after(engine: Engine, loading) -> tuple[np.ndarray, np.ndarray, float | None]:
    """schedule_after, computed. A non-repeated schedule is followed by the cooling to the
    response's horizon: the tube is switched off after it, and a node away from the spot
    keeps warming after the last pulse or segment (the test insert's coolant face after a
    train of five 20 ms pulses 20 ms apart peaks 66 ms after the train, 1.11 times its
    worst up to the end), a reversing drift swings furthest once the spot's bulge has
    collapsed (the MoCu30 anode: 34 ms after a 10 s load and 10 ms of standby, 1.18
    times). Evaluated at the response's sample times after the end and after the last
    power drop (the kinks of those two terms of the superposition; the kinks of earlier
    switches are not visited, the response being sampled about 106 times a decade), a
    pulse train's by its exact lattice sums (StepResponse.train_rise)."""
    if (t := lone_load_s(loading)) is not None:
        return single_load_after(engine, t)
    during = _schedule_during(engine, loading)
    if loading.kind == "steady" or repeated(loading):
        return during, during.copy(), None
    r = engine.response
    shape = _shape(loading)
    end = float(sum(d for d, _ in shape))
    samples = r.times[r.times > 0]
    train = finite_train(loading)
    if train is not None:
        on, period, pulses, tail = train
        since_drop = period - on + tail

        def rows_of(sub, tau):  # after the start of the last pulse: period + tail + τ
            return sub.train_rise(on, period, pulses, period + tail + tau)
    else:
        full = list(shape) + [(r.horizon, 0.0)]
        level = [p for _, p in shape]
        last = max(j for j in range(len(level)) if level[j] != (level[j - 1] if j else 0.0)
                   ) if any(level) else 0
        since_drop = end - float(sum(d for d, _ in shape[:last]))

        def rows_of(sub, tau):
            return sub.schedule(full, end + tau) - sub.T0
    tau = np.unique(np.concatenate([samples, samples - since_drop]))
    rise, at = _after_end(engine, during, tau[tau > 0], rows_of)
    return during, rise, at


def schedule_rise(engine: Engine, case: Case, cooling: bool = True) -> np.ndarray:
    """Worst nodal rise per watt of peak deposited power over the case's schedule shape:
    at the end of every segment (a pulse train: over its last period), and, after the
    power falls, at the response's sample times until the next drop (lagging_rise).
    A schedule that is not repeated is followed by the cooling after its end, with the
    beam off (schedule_after; cooling False: up to its end only, as one repetition of a
    repeated schedule, which the next one follows). A repeated schedule
    (loading.repeat_every_s) is rated on its periodic steady state too (_with_periodic):
    every repetition after the first starts warmer."""
    rise = _cold_schedule_rise(engine, case, cooling)
    return _with_periodic(engine, case, rise) if repeated(case.loading) else rise


def _cold_schedule_rise(engine: Engine, case: Case, cooling: bool = True) -> np.ndarray:
    """schedule_rise of one repetition of the schedule from cold: a schedule not repeated
    over the cooling after its end too where cooling (schedule_after)."""
    return schedule_after(engine, case.loading)[1 if cooling else 0]


def _schedule_during(engine: Engine, loading) -> np.ndarray:
    """Worst nodal rise per watt of peak deposited power up to the end of one repetition
    of the schedule from cold (a steady load: steady_rise, with its switches)."""
    r = engine.response
    seg = loading.segments
    if loading.kind == "steady":
        return steady_rise(engine)
    shape = _shape(loading)
    if loading.kind == "pulse_train":
        on = seg[0][0]
        period = on + (seg[1][0] if len(seg) > 1 and seg[1][1] == 0 else 0.0)
        n = sum(1 for d, p in seg if p > 0)
        rise = r.pulse_train_peak(on, period, n)
        tail = sum(d for d, _ in seg) - n * period  # the cooling after the last period
        if tail > 0:
            after = r.times[(r.times > 0) & (r.times < tail)]
            if period > on:  # the train's sum, exactly, at those instants after its end
                late = r.train_rise(on, period, n, period + np.append(after, tail))
            else:  # no pauses: one load of n pulses, then the cooling
                late = r.schedule([(n * on, 1.0), (tail, 0.0)],
                                  n * on + np.append(after, tail)) - r.T0
            rise = _raise_temperatures(engine, rise, late.max(axis=0))
        return _with_signed(engine, rise, shape)
    ends = np.cumsum([d for d, _ in seg])
    at_ends = r.schedule(shape, ends) - r.T0
    rise = at_ends.max(axis=0)
    return _with_signed(engine, _raise_temperatures(engine, rise,
                                                    lagging_rise(r, shape, at_ends)), shape)


def lone_load_s(loading) -> float | None:
    """The duration (s) of a schedule that is one constant load from cold, not repeated
    (loading.repeat_every_s unset), else None: its cooling is that of the single-load
    chart's points (single_load_after, at every kink of the interpolated response)."""
    if loading.kind == "steady" or loading.repeat_every_s is not None \
            or len(loading.segments) != 1 or loading.segments[0][1] <= 0:
        return None
    return float(loading.segments[0][0])


def repeated(loading) -> bool:
    """Whether the schedule is started again every loading.repeat_every_s in service (the
    pause up to it its last segment): rated in its periodic steady state."""
    return loading.kind != "steady" and loading.repeat_every_s is not None \
        and len(loading.segments) > 0


def _shape(loading) -> list[tuple[float, float]]:
    """The schedule's segments with the power per unit of its largest."""
    peak = max(p for _, p in loading.segments)
    return [(d, p / peak) for d, p in loading.segments]


def periodic_instants(response: StepResponse, loading, signed: bool = False) -> np.ndarray:
    """Phases (s, in (0, R]) where the periodic state of a repeated schedule is evaluated:
    the segment ends (a finite pulse train: those of the pulses sampled_pulses picks, and
    pulse_train_peak's instants over its last period), and the response's sample times
    after the power falls until the next drop, around the period (the lag of a node away
    from the spot, as lagging_rise follows it from cold): after every drop of a train's
    last pulse, and after the LAGGING_DROPS drops of a segments schedule where the
    periodic state is hottest (each after a rise too for a signed figure, which may
    reverse after either)."""
    shape = _shape(loading)
    starts = np.concatenate([[0.0], np.cumsum([d for d, _ in shape])])
    R = float(starts[-1])
    train = finite_train(loading)
    if train is not None:
        on, period, pulses, _ = train
        ks = sampled_pulses(pulses, SpotHistory.TRAIN_PULSES)
        ends = np.concatenate([(ks - 1) * period + on, ks * period, [R],
                               (pulses - 1) * period + response.phases(on, period)])
        switches = [2 * pulses - 1]  # the last pulse's drop
    else:
        ends = starts[1:]
        n = len(shape)
        ups = [j for j in range(n) if shape[j][1] > shape[j - 1][1]]
        downs = [j for j in range(n) if shape[j][1] < shape[j - 1][1]]
        if len(downs) > LAGGING_DROPS or (signed and len(ups) > LAGGING_DROPS):
            at = response.periodic(shape, ends) - response.T0  # the anode at each switch
            top = np.max(np.abs(at), axis=0)
            score = (np.abs(at) / np.where(top > 0, top, 1.0)).max(axis=1)
            # segment j starts at the end of segment j − 1 (the period's end for j = 0)
            downs = sorted(downs, key=lambda j: (score[j - 1], j), reverse=True)[
                :LAGGING_DROPS]
            ups = sorted(ups, key=lambda j: (score[j - 1], j), reverse=True)[:LAGGING_DROPS]
        switches = sorted(set(downs) | (set(ups) if signed else set()))
    every = [j for j in range(len(shape)) if shape[j][1] != shape[j - 1][1]]
    windows = []
    for j in switches:  # to the next switch of the same sign, around the period
        same = [k for k in every if (shape[k][1] < shape[k - 1][1])
                == (shape[j][1] < shape[j - 1][1])]
        nxt = same[(same.index(j) + 1) % len(same)]
        span = (starts[nxt] - starts[j]) % R or R
        tau = response.times[(response.times > 0) & (response.times < span)]
        windows.append(starts[j] + np.append(tau, span))
    t = np.concatenate([ends] + windows)
    t = np.where(t > R, t - R, t)
    t = np.where(t > R, np.mod(t, R), t)
    return np.unique(t[t > 0])


def _with_periodic(engine: Engine, case: Case, rise: np.ndarray) -> np.ndarray:
    """rise (one repetition from cold) with every column raised to its worst over the
    schedule's periodic steady state (StepResponse.periodic at periodic_instants): the
    temperatures to their largest, the signed figures to their largest excursion either
    way (the tube passes through both states), the stress probe's balls to their largest
    ball stress."""
    r = engine.response
    shape = _shape(case.loading)
    pos = engine.signed()
    t = periodic_instants(r, case.loading, signed=bool(len(pos)))
    values = r.periodic(shape, t) - r.T0
    out = np.maximum(rise, values.max(axis=0))
    if len(pos):
        per = _extreme(values[:, pos])
        out[pos] = np.where(np.abs(per) > np.abs(rise[pos]), per, rise[pos])
    if engine.stress is not None:
        lim = next(x for x in engine.limits if x.name == "yield")
        cols = engine.nodes[lim.column]
        per = engine.exact_stress(rise, lambda sub: sub.periodic(shape, t) - sub.T0)[cols]
        out[cols] = np.maximum(np.abs(rise[cols]), per)
    return out


#: Power drops of a segments schedule after which lagging_rise follows the response (the
#: last, the final cooling, and those where the anode is hottest): the cost stays bounded
#: on long schedules.
LAGGING_DROPS = 20


def lagging_rise(response: StepResponse, shape, at_ends: np.ndarray | None = None
                 ) -> np.ndarray:
    """Per node, the largest rise (per unit of the shape's power) after the power of a
    schedule [(duration s, power)] falls: at the response's sample times from the drop to
    the next drop (the schedule's end after the last), through any segments between them.
    A node away from the spot (the coolant face) keeps warming after the power falls, its
    heat still on the way: its worst instant is not a segment's end (a 2 s load on the
    shipped rod: the coolant face's rise 0.95 s after the load is 1.3 times the one at its
    end; after a 1 s load 1.95 times), nor need it lie in the segment after the drop: a
    short pause followed by a low standby power keeps the lag's peak inside the standby
    segment (the test rod, 50 ms at 10 W, 1 ms off, 1 s at 0.05 W: 14 % low when the
    window ended with the pause). Exact at those kinks of the interpolated response; the
    kinks of the other switches in between are not visited (the response is sampled about
    106 times a decade). Zeros where no power falls. Beyond LAGGING_DROPS drops, the last
    and those where the anode is hottest when the power falls: the rise at the segment
    ends (at_ends, (segments, nodes)), each node's scaled by its largest, the drop's score
    its largest over the nodes (the heat still on its way grows with it); latest first
    among equals. (The first ones, as taken before, missed a 10 W pulse among 25 of 1 W:
    the coolant face 16 % low.)"""
    starts = np.concatenate([[0.0], np.cumsum([d for d, _ in shape])])
    every = [j for j in range(1, len(shape)) if shape[j][1] < shape[j - 1][1]]
    drops = every
    if len(drops) > LAGGING_DROPS:
        if at_ends is None:
            at_ends = response.schedule(shape, starts[1:]) - response.T0
        top = np.max(np.abs(at_ends), axis=0)
        scaled = np.abs(at_ends) / np.where(top > 0, top, 1.0)
        score = {j: float(scaled[j - 1].max()) for j in drops[:-1]}  # at the drop
        hot = sorted(score, key=lambda j: (score[j], j), reverse=True)[:LAGGING_DROPS - 1]
        drops = sorted(hot) + drops[-1:]
    following = dict(zip(every, every[1:] + [len(shape)]))
    out = np.zeros(response.rise.shape[1])
    for j in drops:
        k = following[j]  # the window: from this drop to the next one (or the end)
        span = starts[k] - starts[j]
        tau = response.times[(response.times > 0) & (response.times < span)]
        t = starts[j] + np.append(tau, span)
        out = np.maximum(out, (response.schedule(shape[:k], t) - response.T0).max(axis=0))
    return out


def _raise_temperatures(engine: Engine, rise: np.ndarray, other: np.ndarray) -> np.ndarray:
    """rise with every temperature column raised to other where that is higher; the signed
    figures (drift, the stress probe's balls) are left to _with_signed, which takes their
    extreme over every kink of the schedule."""
    out = np.maximum(rise, other)
    pos = engine.signed()
    out[pos] = rise[pos]
    return out


#: Pulses of a train from cold each evaluated by serial_rise for a drift figure; beyond
#: them, as many pulses geometrically spaced up to the response's horizon.
TRAIN_PULSES = 32


def serial_rise(engine: Engine, t_on: float, period: float) -> np.ndarray:
    """_serial_rise, computed once per engine and schedule (Engine.serial_rises); a copy."""
    key = (float(t_on), float(period))
    if key not in engine.serial_rises:
        engine.serial_rises[key] = _serial_rise(engine, t_on, period)
    return engine.serial_rises[key].copy()


def _serial_rise(engine: Engine, t_on: float, period: float) -> np.ndarray:
    """Worst nodal rise per deposited watt of a serial load (on-time, period s): the
    periodic steady state's for the temperatures (each pulse adds heat, so it is their
    worst), and for the drift figures the largest excursion either way over the whole train
    from cold, which the tube passes through: a drift that reverses (a fast bulge of the
    insert, a slow recession behind the heat sink) is largest in the first pulses, before
    the slow part has built up. Pulses 1 to TRAIN_PULSES and geometrically spaced ones up to
    the horizon (settled beyond) are each summed exactly (StepResponse.train_rise) at the
    instants of pulse_train_peak plus geometric ones after each switch."""
    if t_on >= period:  # a steady load: the drift over its switch-on and -off too
        return steady_rise(engine)
    r = engine.response
    rise = r.pulse_train_peak(t_on, period, None)
    # the stress over the periodic state's period, superposed exactly
    phi = np.unique(np.concatenate([
        r.phases(t_on, period), t_on * np.geomspace(1e-4, 1.0, TRAIN_PULSES),
        t_on + (period - t_on) * np.geomspace(1e-4, 1.0, TRAIN_PULSES)]))
    rise = engine.exact_stress(rise, lambda sub: sub.train_rise(t_on, period, None, phi))
    pos = engine.signed()
    if not len(pos):
        return rise
    sub = r.columns(pos)
    n = TRAIN_PULSES
    phi = np.unique(np.concatenate([
        r.phases(t_on, period), t_on * np.geomspace(1e-7, 1.0, n),
        t_on + (period - t_on) * np.geomspace(1e-7, 1.0, n)]))
    last = max(n, int(np.ceil(r.horizon / period)))
    ks = np.unique(np.concatenate([np.arange(1, n + 1),
                                   np.round(np.geomspace(n, last, n)).astype(int)]))
    rows = [sub.train_rise(t_on, period, int(k), phi) for k in ks]
    rise[pos] = _extreme(np.vstack(rows + [rise[pos][None, :]]))
    return rise


def _with_signed(engine: Engine, rise: np.ndarray, shape) -> np.ndarray:
    """rise with the drift figures replaced by their signed extreme over the schedule
    shape [(duration s, power / peak)]: superposed signed (drift is linear in the
    temperature field), so a drift that reverses within the schedule is seen at its
    largest excursion either way, not as the largest positive value."""
    pos = engine.signed()
    if len(pos):
        rise = rise.copy()
        rise[pos] = np.where(np.abs(extreme := engine.response.columns(pos).worst_in_schedule(
            shape)) > np.abs(rise[pos]), extreme, rise[pos])
    return engine.exact_stress(rise, lambda sub: sub.schedule(shape, schedule_instants(
        engine.response, shape)) - sub.T0)


def schedule_instants(response: StepResponse, shape) -> np.ndarray:
    """Instants (s) where a schedule's superposed response is evaluated for the stress:
    the segment ends, and the response's sample times after each of the first
    PREFIX_SEGMENTS segment starts (as StepResponse.worst_in_schedule)."""
    from ..response import PREFIX_SEGMENTS

    seg = list(shape)
    ends = np.cumsum([d for d, _ in seg])
    head = np.concatenate([[0.0], ends[:PREFIX_SEGMENTS]])
    kinks = (head[:-1, None] + response.times[None, :]).ravel()
    return np.unique(np.concatenate([kinks[kinks <= head[-1]], ends]))
