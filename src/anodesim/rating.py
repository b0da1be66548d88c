"""Limits, maximum safe loading and rating charts.

A loading is safe while every limit holds at every instant (physics reference §6):

- ``spot``: the hottest node of the target. Default: melting point − 200 K, the upper end of
  the 50–200 K margin below melting that tubes run at (EP3457424).
- ``interface``: the hottest node on the named interfaces (film/window, insert/heat sink).
  Default: the lower of the two materials' damage temperatures (e.g. Cu softening for a
  cast W/Cu joint, graphitisation of diamond for W on diamond).
- ``heat_sink``: the hottest node of the heat sink or window. Default: its material's damage
  temperature.
- ``coolant_side``: the hottest node of the cooled faces (convection or fixed temperature).
  No default: set it for an oil or water limit (oil 80–90 °C, physics reference §6).

Damage temperatures come from the material data file, with their sources.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .case import Case, interfaces_of, regions_of
from .response import ResponseError, StepResponse

SPOT_MARGIN_K = 200.0  # EP3457424: focal spots run 50–200 K below melting


@dataclass(frozen=True)
class Limit:
    """One limit on a time-series column, in that column's unit ("C" or "um").

    Attributes:
        baseline: the column's value at zero power (the initial temperature, or 0 µm), so
            that value − baseline is the rise the loading may cause.
    """

    name: str
    column: str
    value: float
    unit: str
    origin: str
    baseline: float

    @property
    def allowed_rise(self) -> float:
        return self.value - self.baseline


def interface_columns(case: Case) -> list[str]:
    names = interfaces_of(case.geometry)
    return [f"T_max_{n}_C" for n in names]


def cooled_faces(case: Case) -> list[str]:
    return [f for f, b in case.boundaries.items() if b.type in ("fixed", "convection")]


def limits_for(case: Case, mats) -> list[Limit]:
    """The case's limits, with library defaults where the case gives none."""
    regions = regions_of(case.geometry)
    given = case.limits
    T0 = case.initial_temperature_K - 273.15

    def temp(name, column, value_K, origin):
        return Limit(name, column, value_K - 273.15, "C", origin, T0)

    target = mats["target"]
    out = [temp("spot", "T_peak_C", given.spot_K or target.melting_K - SPOT_MARGIN_K,
                "case" if given.spot_K else
                f"{target.key} melting point − {SPOT_MARGIN_K:.0f} K (EP3457424)")]
    if len(regions) > 1:
        sink = mats[regions[1]]
        lowest = min(target.damage_K, sink.damage_K)
        which = target if target.damage_K <= sink.damage_K else sink
        for col in interface_columns(case):
            out.append(temp("interface", col, given.interface_K or lowest,
                            "case" if given.interface_K else
                            f"{which.key} damage: {which.info.get('damage_mechanism', '')}"))
        out.append(temp("heat_sink", f"T_max_{regions[1]}_C", given.heat_sink_K or sink.damage_K,
                        "case" if given.heat_sink_K else
                        f"{sink.key} damage: {sink.info.get('damage_mechanism', '')}"))
    if given.coolant_side_K is not None and cooled_faces(case):
        out.append(temp("coolant_side", "T_max_coolant_side_C", given.coolant_side_K, "case"))
    if given.drift_um is not None:
        out.append(Limit("drift", "drift_across_view_um", given.drift_um, "um", "case", 0.0))
    return out


def report(limits: list[Limit], header: list[str], rows: list[list[float]]) -> list[dict]:
    """Worst value, its time and the margin of every limit over a run's time series."""
    out = []
    for lim in limits:
        if lim.column not in header:
            continue
        j = header.index(lim.column)
        vals = [abs(row[j]) if lim.unit == "um" else row[j] for row in rows]
        i = max((k for k in range(len(rows)) if vals[k] == vals[k]), key=lambda k: vals[k],
                default=None)
        if i is None:
            continue
        worst = float(vals[i])
        margin = "margin_K" if lim.unit == "C" else "margin_um"
        out.append({"limit": lim.name, "column": lim.column, "unit": lim.unit,
                    f"limit_{lim.unit}": lim.value, f"worst_{lim.unit}": worst,
                    "time_s": rows[i][0], margin: lim.value - worst,
                    "holds": bool(worst <= lim.value),
                    "excess": (worst - lim.value) / lim.allowed_rise, "origin": lim.origin})
    return out


# ---------------------------------------------------------------------------------------
# Linear-response engine on the finite-element model
# ---------------------------------------------------------------------------------------
def linear_case(case: Case, horizon_s: float) -> Case:
    """The case with constant properties (at the initial temperature), 1 W deposited as a
    continuous step to the horizon, fine steps, no outputs and no mechanics."""
    import dataclasses as dc

    from .case import Loading, Output
    from .pipeline import region_materials

    for face, b in case.boundaries.items():
        if b.type in ("radiation", "heat_flux"):
            raise ResponseError(f"boundaries.{face}: a {b.type} boundary is not linear in the "
                                "beam power; the response engine cannot rate this case")
        if b.temperature_K is not None and abs(b.temperature_K - case.initial_temperature_K) \
                > 1e-9:
            raise ResponseError(f"boundaries.{face}.temperature_C: the response engine needs "
                                "every boundary at the initial temperature")
    if not any(b.type in ("fixed", "convection") for b in case.boundaries.values()):
        raise ResponseError("boundaries: rating needs a cooled face (fixed or convection)")
    mats = region_materials(case)
    eta = (case.beam.backscatter_energy_fraction
           if case.beam.backscatter_energy_fraction is not None
           else mats["target"].backscatter_energy_fraction)
    beam = dc.replace(case.beam, power_W=1.0 / (1.0 - eta))
    return dc.replace(
        case, beam=beam, loading=Loading("continuous", ((horizon_s, beam.power_W),)),
        materials=dc.replace(case.materials, temperature_dependent=False),
        time=dc.replace(case.time, steps_per_doubling=8, max_step_s=horizon_s),
        output=Output((), False), probes=(),
        mechanics=case.mechanics if case.limits.drift_um is not None else None)


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

    def rise_limits(self, rise: np.ndarray) -> dict[str, float]:
        """Largest rise per watt over each limit's nodes."""
        return {lim.column: float(rise[self.nodes[lim.column]].max()) for lim in self.limits}

    def max_power(self, rise: np.ndarray, preload_rise: np.ndarray | None = None,
                  preload_dep: float = 0.0) -> tuple[float, str]:
        """Largest beam power (W) with every limit held, and the binding limit.

        The temperature at node i is T0 + P_dep rise_i, so the limit gives
        P_dep ≤ (T_lim − T0) / rise_i. With a pre-load held to steady state before the load,
        T = T0 + P_pre S_∞ + (P − P_pre) rise: P_dep ≤ P_pre + (T_lim − T0 − P_pre S_∞)/rise,
        with preload_rise = S_∞ and preload_dep = P_pre (deposited W).
        """
        best, binding = np.inf, ""
        for lim in self.limits:
            idx = self.nodes[lim.column]
            head = lim.allowed_rise
            r = np.abs(rise[idx]) if lim.unit == "um" else rise[idx]
            if preload_rise is not None:
                head = head - preload_dep * np.abs(preload_rise[idx])
            with np.errstate(divide="ignore"):
                p = np.where(r > 0, head / r, np.inf).min() + preload_dep
            if p < best:
                best, binding = float(p), lim.name
        return best / self.p_dep, binding


class _DriftProbe:
    """Across-view spot drift (µm, signed along the axial displacement) per deposited watt,
    from a thermoelastic solve on the current temperature (linear in the power)."""

    def __init__(self, case: Case, prep, domain, problem):
        from .drift import DriftMap
        from .mechanics import ThermoElasticProblem

        m = case.mechanics
        if abs(m.reference_temperature_K - case.initial_temperature_K) > 1e-9:
            raise ResponseError("mechanics.reference_temperature_C: a drift limit needs the "
                                "stress-free temperature equal to the initial temperature")
        self.solver = ThermoElasticProblem(domain, prep.mats, problem.T, m.mounts, m.free,
                                           m.reference_temperature_K)
        self.terms = problem.source_terms
        d = m.drift
        dmap = DriftMap.create(d.beam_direction, (0.0, 0.0, 1.0), d.view_direction,
                               d.source_object_m, d.source_detector_m, d.pixel_m)
        self.per_um = dmap.apply((0.0, 0.0, 1e-6))["drift_across_view_um"]

    def __call__(self) -> float:
        self.solver.solve()
        return self.per_um * self.solver.weighted_mean_displacement(self.terms)[2] * 1e6


def build_engine(case: Case, horizon_s: float = 1e6, comm=None) -> Engine:
    """Step response of the case (constant properties at the initial temperature).

    Raises:
        ResponseError: the case is not linear in the power or has no cooled face.
    """
    import time

    from . import _mpi  # noqa: F401
    from mpi4py import MPI

    import dolfinx

    from .pipeline import prepare, setup

    start = time.perf_counter()
    comm = comm or MPI.COMM_SELF
    lin = linear_case(case, horizon_s)
    prep = prepare(lin)
    domain, problem, _, _ = setup(lin, prep, comm)
    V = problem.V
    fdim = domain.mesh.topology.dim - 1
    limits = limits_for(case, prep.mats)
    sets = {"T_peak_C": problem.region_dofs["target"]}
    regions = regions_of(case.geometry)
    for r in regions:
        sets[f"T_max_{r}_C"] = problem.region_dofs[r]
    for name in interfaces_of(case.geometry):
        groups = [g for g in domain.groups if g == name or g.startswith(f"{name}@")]
        sets[f"T_max_{name}_C"] = np.unique(np.concatenate(
            [dolfinx.fem.locate_dofs_topological(V, fdim, domain.facets(g)) for g in groups]))
    if cooled_faces(case):
        sets["T_max_coolant_side_C"] = np.unique(np.concatenate(
            [dolfinx.fem.locate_dofs_topological(V, fdim, domain.facets(f))
             for f in cooled_faces(case)]))
    temps = [lim for lim in limits if lim.unit == "C"]
    watched = np.unique(np.concatenate([sets[lim.column] for lim in temps]))
    position = {int(d): i for i, d in enumerate(watched)}
    nodes = {lim.column: np.array([position[int(d)] for d in sets[lim.column]])
             for lim in temps}
    T0 = case.initial_temperature_K
    drift = None
    if any(lim.unit == "um" for lim in limits):
        drift = _DriftProbe(lin, prep, domain, problem)
        nodes["drift_across_view_um"] = np.array([len(watched)])

    def sample():
        values = problem.T.x.array[watched] - T0
        return values if drift is None else np.append(values, drift())

    times, rise, heat = [0.0], [sample() * 0.0], [0.0]
    dt_prev = None
    for st in prep.steps:
        problem.step(st.dt, 1.0, st.restart, dt_prev)
        dt_prev = st.dt
        times.append(st.t)
        rise.append(sample())
        heat.append(problem.stored_heat())
    problem.steady(1.0)
    steady = sample()
    heat_steady = problem.stored_heat()
    if np.max(np.abs(rise[-1] - steady)) > 1e-3 * np.max(steady):
        raise ResponseError(f"the step response has not reached its steady state after "
                            f"{horizon_s:g} s; the anode is too weakly cooled to rate")
    # The temperature step response rises monotonically to S_∞ (heat in, ambient
    # boundaries); clamp the round-off of the last samples so that S(t) ≤ S_∞ holds exactly.
    rise = np.array(rise)
    rise[:, :len(watched)] = np.minimum(rise[:, :len(watched)], steady[:len(watched)])
    resp = StepResponse(np.array(times), rise, steady, T0)
    return Engine(resp, limits, nodes, 1.0 - prep.eta, time.perf_counter() - start,
                  np.minimum(np.array(heat), heat_steady), heat_steady)


# ---------------------------------------------------------------------------------------
# Maximum safe loading of the case's schedule
# ---------------------------------------------------------------------------------------
def schedule_rise(engine: Engine, case: Case) -> np.ndarray:
    """Worst nodal rise per watt of peak deposited power over the case's schedule shape."""
    r = engine.response
    seg = case.loading.segments
    if case.loading.kind == "steady":
        return r.steady
    peak = max(p for _, p in seg)
    if case.loading.kind == "pulse_train":
        on = seg[0][0]
        period = on + (seg[1][0] if len(seg) > 1 and seg[1][1] == 0 else 0.0)
        n = sum(1 for d, p in seg if p > 0)
        return r.pulse_train_peak(on, period, n)
    # Monotone step response: the worst instant ends a segment; evaluate at every end.
    shape = [(d, p / peak) for d, p in seg]
    ends = np.cumsum([d for d, _ in seg])
    return (r.schedule(shape, ends) - r.T0).max(axis=0)


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


def max_safe_loading(case: Case, engine: Engine, confirm: bool = True, rtol: float = 0.005,
                     max_runs: int = 10) -> SafeLoading:
    """Largest beam power of the case's schedule shape with every limit held.

    The engine gives it in closed form; full finite-element runs of the schedule confirm it.
    Let g(P) = max over limits of (worst − limit)/(limit − T0), the relative excess of the
    binding limit over its allowed rise. With constant properties g(P_engine) ≈ 0 at once;
    with temperature-dependent properties the engine's value is a first estimate, corrected
    by a ratio step P/(1 + g) and then secant iterations until |g| ≤ rtol (0.5 %: the
    binding limit is met to 0.5 % of its rise, which is 0.5 % in power for a linear
    response). A run that melts the target, or whose Newton solver fails even with power
    continuation, counts as g = 1 (far over).
    """
    import dataclasses as dc

    from .materials import OutOfRangeError
    from .pipeline import run
    from .thermal import SolverError

    P_engine, binding = engine.max_power(schedule_rise(engine, case))
    if not confirm:
        return SafeLoading(P_engine, binding, P_engine, False, 0, [], "linear-response engine")
    T0 = case.initial_temperature_K
    top = max((p for _, p in case.loading.segments), default=case.beam.power_W)

    def full_run(P):
        load = dc.replace(case.loading, segments=tuple((d, p * P / top)
                                                       for d, p in case.loading.segments))
        needs_drift = case.limits.drift_um is not None
        c = dc.replace(case, beam=dc.replace(case.beam, power_W=P), loading=load,
                       output=dc.replace(case.output, fields=False),
                       mechanics=case.mechanics if needs_drift else None)
        try:
            res = run(c)
        except (OutOfRangeError, SolverError):  # far over: the target melts at this power
            return 1.0, []
        rep = res.summary["results"]["limits"]
        return max(x["excess"] for x in rep), rep

    tried = []
    P = P_engine
    g, rep = full_run(P)
    tried.append((P, g, rep))
    P_prev, g_prev = P, g
    while abs(g) > rtol and len(tried) < max_runs:
        if len(tried) == 1 or g == g_prev or not rep:
            P_next = P / (1.0 + g)
        else:
            P_next = P - g * (P - P_prev) / (g - g_prev)
        P_prev, g_prev, P = P, g, P_next
        g, rep = full_run(P)
        tried.append((P, g, rep))
    P_best, g_best, rep_best = min(tried, key=lambda x: abs(x[1]))
    confirmed = abs(g_best) <= rtol
    bind = max(rep_best, key=lambda x: x["excess"])["limit"] if rep_best else binding
    method = ("linear-response engine, confirmed by a full FE run" if len(tried) == 1
              else "secant iterations on full FE runs, started from the linear-response engine")
    return SafeLoading(P_best, bind, P_engine, confirmed, len(tried), rep_best, method)


# ---------------------------------------------------------------------------------------
# Rating charts (IEC 60613 terms): single load, serial load (duty cycle), continuous
# ---------------------------------------------------------------------------------------
def chart_single(engine: Engine, times, preload_W: float = 0.0) -> list[dict]:
    """Maximum beam power against loading time, from a cold start and from a pre-load
    (a constant beam power held until steady before the load)."""
    r = engine.response
    rows = []
    pre_dep = preload_W * engine.p_dep
    for t in times:
        S = r.at([t])[0]
        cold, b_cold = engine.max_power(S)
        row = {"loading_time_s": float(t), "max_beam_power_cold_W": cold, "binding_cold": b_cold}
        if preload_W > 0:
            # T = T0 + P_pre S_∞ + (P − P_pre) S(t): P ≤ P_pre + (H − P_pre S_∞) / S per node
            hot, b_hot = engine.max_power(S, preload_rise=r.steady, preload_dep=pre_dep)
            row.update({"max_beam_power_preloaded_W": hot, "binding_preloaded": b_hot})
        rows.append(row)
    return rows


def _serial_load(engine: Engine, pairs) -> list[dict]:
    """Maximum peak and mean beam power for (period s, duty cycle) pairs, in the periodic
    steady state of the pulse train."""
    rows = []
    for T, d in pairs:
        P, b = engine.max_power(engine.response.pulse_train_peak(d * T, T, None))
        rows.append({"period_s": float(T), "duty_cycle": float(d), "max_peak_beam_power_W": P,
                     "max_mean_beam_power_W": d * P, "binding": b})
    return rows


def chart_duty(engine: Engine, period_s: float, duty_cycles) -> list[dict]:
    """Serial-load rating against duty cycle at a fixed period."""
    return _serial_load(engine, [(period_s, d) for d in duty_cycles])


def chart_period(engine: Engine, duty_cycle: float, periods) -> list[dict]:
    """Serial-load rating against period at a fixed duty cycle."""
    return _serial_load(engine, [(T, duty_cycle) for T in periods])


def heating_cooling(engine: Engine, beam_W: float, times) -> list[dict]:
    """IEC 60613 heating and cooling curves of the anode heat content (J) at a constant
    beam power: heating from cold, H(t) = P h(t); cooling after switch-off from the steady
    heat content, H_∞ − P h(t) (superposition, linear-response engine)."""
    P = beam_W * engine.p_dep
    h = np.interp(times, engine.response.times, engine.heat, right=engine.heat_steady)
    return [{"time_s": float(t), "beam_power_W": beam_W, "heating_J": P * float(x),
             "cooling_J": P * (engine.heat_steady - float(x))} for t, x in zip(times, h)]


def chart_continuous(engine: Engine) -> dict:
    """Steady-state (continuous) rating: maximum constant beam power."""
    P, b = engine.max_power(engine.response.steady)
    return {"max_continuous_beam_power_W": P, "binding": b}


# ---------------------------------------------------------------------------------------
# The `rate` command's work: checks, engine, charts, outputs
# ---------------------------------------------------------------------------------------
def check_rating_input(case: Case, mats, first_step_s: float) -> None:
    """Bad rating input as CaseError: unreachable limits, periods below the time step."""
    from .case import CaseError

    if case.limits.drift_um is not None and case.geometry.dim == 3:
        # The engine's drift probe superposes one signed drift component; a 3-D drift is a
        # vector whose direction depends on the beam, face and view (issue 14).
        raise CaseError(f"limits.drift_um = {case.limits.drift_um:g}: the rating supports a "
                        "drift limit on axisymmetric (2-D) anodes only; expected no drift limit "
                        "for a 3-D anode (run the case: summary.json reports its drift)")
    T0 = case.initial_temperature_K
    for lim in limits_for(case, mats):
        if lim.allowed_rise <= 0:
            raise CaseError(f"limits.{lim.name}_C = {lim.value:g}: no positive power "
                            f"can meet it (the anode starts at {T0 - 273.15:g} °C); expected a "
                            "limit above the initial temperature")
    r = case.rating
    shortest_on = min(min(r.periods_s) * r.duty_cycle, r.period_s * min(r.duty_cycles))
    if shortest_on < first_step_s:
        raise CaseError(f"rating.periods_s / duty_cycles: an on-time of {shortest_on:.3g} s is "
                        f"shorter than the smallest time step ({first_step_s:.3g} s); expected "
                        "longer periods or duty cycles")
    if r.exposure_s[0] < first_step_s:
        raise CaseError(f"rating.exposure_s = {list(r.exposure_s)}: the shortest loading time is "
                        f"below the smallest time step ({first_step_s:.3g} s)")


def precheck(case: Case) -> None:
    """Everything `rate` can refuse before computing: CaseError or ResponseError."""
    from .pipeline import _time_steps, prepare

    prep = prepare(case)
    dt0, _ = _time_steps(case, prep.spot, prep.mats)
    check_rating_input(case, prep.mats, dt0)
    linear_case(case, 1.0)  # linearity and cooling conditions of the engine


def confirmed_power(case: Case, engine: Engine, loading) -> SafeLoading:
    """Maximum safe beam power of one chart point's schedule, confirmed by full FE runs
    (secant-corrected when the properties depend on temperature)."""
    import dataclasses as dc

    point = dc.replace(case, loading=loading,
                       beam=dc.replace(case.beam, power_W=max((p for _, p in loading.segments),
                                                              default=case.beam.power_W)))
    return max_safe_loading(point, engine)


def rate(case: Case, out_dir, charts=("single", "duty", "continuous"), confirm=True,
         progress=print, confirm_charts: bool = False) -> dict:
    """Rate a case: limits, maximum safe loading of its schedule, and the charts.

    Writes rating_<chart>.csv/.png and rating.json into out_dir; returns the JSON content.
    """
    import dataclasses as dc
    import time
    from pathlib import Path

    from . import output
    from .pipeline import _time_steps, prepare

    start = time.perf_counter()
    prep = prepare(case)
    dt0, _ = _time_steps(case, prep.spot, prep.mats)
    check_rating_input(case, prep.mats, dt0)
    out = Path(out_dir)
    engine = build_engine(case)
    progress(f"  step response: {engine.response.rise.shape[0]} times, "
             f"{engine.response.rise.shape[1]} nodes watched, {engine.seconds:.2f} s")
    result: dict = {"title": case.title, "case_hash": case.hash(),
                    "limits": [{"limit": lim.name, "column": lim.column, "unit": lim.unit,
                                f"limit_{lim.unit}": lim.value, "origin": lim.origin}
                               for lim in engine.limits],
                    "engine": {"method": "step response by FE (constant properties at the "
                                         "initial temperature), superposition",
                               "seconds": engine.seconds,
                               "horizon_s": engine.response.horizon}}
    out.mkdir(parents=True, exist_ok=True)
    if case.loading.kind != "steady" or "continuous" in charts:
        sl = max_safe_loading(case, engine, confirm=confirm)
        result["max_safe_loading"] = {
            "schedule": case.loading.kind, "beam_power_W": sl.power_W, "binding": sl.binding,
            "engine_estimate_W": sl.engine_power_W, "confirmed": sl.confirmed,
            "fe_runs": sl.fe_runs, "method": sl.method, "limits_at_that_power": sl.report,
            "tolerance": "binding limit met to 0.5 % of its allowed rise"}
        progress(f"  maximum safe loading of this schedule: {sl.power_W:.4g} W beam power "
                 f"({sl.binding} binds; {sl.method})")
    r = case.rating
    from .case import Loading

    if "single" in charts:
        times = np.geomspace(*r.exposure_s, r.exposure_points)
        rows = chart_single(engine, times, r.preload_W)
        if confirm_charts:
            for row in rows:
                sl = confirmed_power(case, engine, Loading(
                    "continuous", ((row["loading_time_s"], row["max_beam_power_cold_W"]),)))
                row["max_beam_power_cold_confirmed_W"] = sl.power_W
                row["binding_cold_confirmed"] = sl.binding
                progress(f"  single load {row['loading_time_s']:.3g} s: engine "
                         f"{row['max_beam_power_cold_W']:.4g} W, confirmed {sl.power_W:.4g} W")
        _write_chart(out, "single", rows)
        output.plot_chart(out / "rating_single.png", "loading time (s)",
                          [row["loading_time_s"] for row in rows],
                          {"from cold (engine)": [row["max_beam_power_cold_W"] for row in rows],
                           **({"from cold (confirmed by FE)":
                               [row["max_beam_power_cold_confirmed_W"] for row in rows]}
                              if confirm_charts else {}),
                           **({f"after a {r.preload_W:g} W pre-load":
                               [row["max_beam_power_preloaded_W"] for row in rows]}
                              if r.preload_W > 0 else {})},
                          "single-load rating: maximum beam power (W)", case.title, True)
        result["single"] = rows
    if "duty" in charts:
        rows = chart_duty(engine, r.period_s, r.duty_cycles)
        _serial_chart(out, "duty", rows, "duty_cycle", f"duty cycle (period {r.period_s:g} s)",
                      case.title, log_x=False)
        prow = chart_period(engine, r.duty_cycle, r.periods_s)
        _serial_chart(out, "period", prow, "period_s", f"period (s), duty cycle {r.duty_cycle:g}",
                      case.title, log_x=True)
        result["duty"], result["period"] = rows, prow
    if "single" in charts:
        # IEC 60613 nominal anode input power: the largest power for a single 0.1 s load
        P_eng, b_eng = engine.max_power(engine.response.at([0.1])[0])
        nominal = {"loading_time_s": 0.1, "engine_W": P_eng, "binding_engine": b_eng}
        if confirm:
            sl = confirmed_power(case, engine, Loading("continuous", ((0.1, P_eng),)))
            nominal.update({"confirmed_W": sl.power_W, "binding": sl.binding,
                            "fe_runs": sl.fe_runs})
        result["nominal_anode_input_power_0.1s"] = nominal
        progress(f"  nominal anode input power (0.1 s): "
                 f"{nominal.get('confirmed_W', P_eng):.4g} W beam power")
    if "continuous" in charts:
        cont = chart_continuous(engine)
        P_heat = cont["max_continuous_beam_power_W"]
        times = np.geomspace(max(engine.response.times[1], 1e-3), engine.response.horizon, 60)
        heat = heating_cooling(engine, P_heat, times)
        _write_chart(out, "heat_content", heat)
        output.plot_chart(out / "rating_heat_content.png", "time (s)",
                          [row["time_s"] for row in heat],
                          {f"heating at {P_heat:.3g} W": [row["heating_J"] for row in heat],
                           "cooling after switch-off": [row["cooling_J"] for row in heat]},
                          "anode heat content (J)", case.title, True)
        result["heat_content"] = {"beam_power_W": P_heat,
                                  "steady_heat_content_J": P_heat * engine.p_dep
                                  * engine.heat_steady}
        progress(f"  continuous rating (engine): {cont['max_continuous_beam_power_W']:.4g} W "
                 f"beam power ({cont['binding']} binds)")
        if confirm:
            if case.loading.kind != "steady":  # else its own schedule's rating is this one
                sl = max_safe_loading(dc.replace(case, loading=Loading("steady", ())), engine)
            cont.update({"max_continuous_beam_power_confirmed_W": sl.power_W,
                         "binding_confirmed": sl.binding, "fe_runs": sl.fe_runs})
            progress(f"  continuous rating confirmed by FE: {sl.power_W:.4g} W "
                     f"({sl.binding} binds; engine {cont['max_continuous_beam_power_W']:.4g} W)")
        _write_chart(out, "continuous", [cont])
        result["continuous"] = cont
    result["seconds"] = time.perf_counter() - start
    output.write_json(out / "rating.json", result)
    return result


def _serial_chart(out, name: str, rows: list[dict], x: str, xlabel: str, title: str,
                  log_x: bool) -> None:
    """CSV and PNG of a serial-load chart (peak and mean power against x)."""
    from . import output

    _write_chart(out, name, rows)
    output.plot_chart(out / f"rating_{name}.png", xlabel, [row[x] for row in rows],
                      {"peak power": [row["max_peak_beam_power_W"] for row in rows],
                       "mean power": [row["max_mean_beam_power_W"] for row in rows]},
                      "serial-load rating: maximum beam power (W)", title, log_x)


def _write_chart(out, name: str, rows: list[dict]) -> None:
    from . import output

    header = list(rows[0])
    output.write_csv(out / f"rating_{name}.csv", header, [[row[h] for h in header] for row in rows],
                     ["anodesim rating chart; beam power before backscatter",
                      "columns without 'confirmed': linear-response engine, properties at the "
                      "initial temperature (a first estimate when they depend on temperature)",
                      "columns with 'confirmed': full finite-element runs, secant-corrected"])
