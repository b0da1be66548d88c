"""What a run records: small monitor objects, each owning its time-series columns.

The simulation calls every monitor's ``record(t, beam_W)`` after each step (in the order of
the list, which is the column order of timeseries.csv); a monitor that only computes at save
times (mechanics) returns NaN there and fills its columns in ``at_save(t)``. A new observable
is one new class here and one line in ``default_monitors``.

Every monitor reads the current temperature of the heat problem; the reductions over MPI
ranks inside them are collective, so every rank calls every monitor in the same order.
"""

from __future__ import annotations

import math
import time

import numpy as np

from .case import ZERO_CELSIUS_K as C, Case, interfaces_of, yield_region
from .limits import (MAX_TIE_RTOL, YIELD_RADIUS_M, cooled_faces, first_max_index,
                     yield_column)
from .loading import Schedule
from .resolve import probe_outside, probe_points
from .results import Extremum, MechanicsSummary, StressMax


class Monitor:
    """Base: columns (names with their units) and the values of one time."""

    columns: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    at_save_times = False  # True: NaN at every step, values only at the save times

    def record(self, t: float, beam_W: float) -> list[float]:
        """Values of this monitor's columns after a step at time t (s), beam power (W)."""
        raise NotImplementedError

    def reset(self, case: Case | None = None) -> None:
        """Forget what a previous run recorded (case: the case of the next run)."""

    def finish(self) -> dict[int, list[float]]:
        """After the time loop (save-time monitors): row of the series → the values to put
        there besides the save times."""
        return {}


class BeamPower(Monitor):
    """Beam power before backscatter and the power deposited after it (W)."""

    columns, units = ("beam_power_W", "deposited_power_W"), ("W", "W")

    def __init__(self, p_dep: float):
        self.p_dep = p_dep

    def record(self, t, beam_W):
        return [beam_W, beam_W * self.p_dep]


class RegionTemperatures(Monitor):
    """Hottest node of the target (T_peak) and of every region (°C); the coldest node of
    every region is kept for the summary."""

    def __init__(self, problem, regions: list[str]):
        self.problem, self.regions = problem, regions
        self.columns = ("T_peak_C",) + tuple(f"T_max_{r}_C" for r in regions)
        self.units = ("°C",) * len(self.columns)
        self.reset()

    def reset(self, case=None):
        self.coldest = {r: math.inf for r in self.regions}

    def record(self, t, beam_W):
        maxima = []
        for r in self.regions:
            lo, hi = self.problem.region_range(r)
            self.coldest[r] = min(self.coldest[r], lo - C)
            maxima.append(hi - C)
        return [maxima[0]] + maxima


class FaceMaxima(Monitor):
    """Hottest node on named groups of faces (°C): interfaces, the cooled faces."""

    def __init__(self, problem, groups: dict[str, list[str]]):
        self.problem, self.groups = problem, groups
        self.columns = tuple(groups)
        self.units = ("°C",) * len(groups)

    def record(self, t, beam_W):
        return [self.problem.face_max(g) - C for g in self.groups.values()]


def _probe_points(case: Case, fun, lay, quantity: str):
    """(PointProbes of fun at the probes asking for the quantity, their names).

    Raises:
        CaseError: a probe lies outside the mesh (found when the mesh is searched).
    """
    from .probes import PointProbes, inside_mesh

    chosen = [i for i, p in enumerate(case.probes) if quantity in p.quantities]
    points = PointProbes(fun, probe_points(case, lay)[chosen])
    if points.missing:
        # 3-D: how far the mesh itself reaches (a user mesh's outline is only its box)
        inside = inside_mesh(fun.function_space.mesh) if case.geometry.dim == 3 else None
        raise probe_outside(case, chosen[points.missing[0]], lay, inside)
    return points, [case.probes[i].name for i in chosen]


class Probes(Monitor):
    """Temperature at the case's probe points that ask for it (°C)."""

    def __init__(self, case: Case, problem, lay):
        self.points, names = _probe_points(case, problem.T, lay, "T")
        self.columns = tuple(f"T_{n}_C" for n in names)
        self.units = ("°C",) * len(self.columns)

    def record(self, t, beam_W):
        return [v - C for v in self.points.values()]


class Heat(Monitor):
    """Heat stored since the start, energy deposited by the beam in the target and the
    extra-focal energy laid on the model's faces (J; p_dep and p_ef per beam watt)."""

    columns = ("stored_heat_J", "deposited_energy_J", "extra_focal_energy_J")
    units = ("J", "J", "J")

    def __init__(self, problem, schedule: Schedule, p_dep: float, p_ef: float):
        self.problem, self.schedule, self.p_dep, self.p_ef = problem, schedule, p_dep, p_ef

    def reset(self, case=None):
        if case is not None:
            self.schedule = Schedule(case.loading.segments)

    def record(self, t, beam_W):
        energy = self.schedule.energy(t)
        return [self.problem.stored_heat(), self.p_dep * energy, self.p_ef * energy]


class Coolant(Monitor):
    """The coolant circuit: its temperature (°C), the heat it holds and the heat its cooler
    has removed since the start (J)."""

    columns = ("T_coolant_C", "coolant_heat_J", "cooler_removed_heat_J")
    units = ("°C", "J", "J")

    def __init__(self, problem):
        self.state = problem.coolant

    def record(self, t, beam_W):
        return [self.state.temperature - C, self.state.stored_J, self.state.removed[0]]


def _unit_of(column: str) -> str:
    return {"um": "µm", "px": "px", "rel": "1", "MPa": "MPa", "mm": "mm"}[column.rsplit("_", 1)[1]]


class Mechanics(Monitor):
    """Thermoelastic solve at the save times: spot displacement, drift, stress maxima.

    A drift can peak or reverse between save times (a fast bulge of the insert, a slower
    recession behind the heat sink). With a drift map, every step therefore also evaluates
    the spot's normal shift through the adjoint weight of the last solve
    (ThermoElasticProblem.shift_weight: one assembly, no solve; exact for constant E, ν,
    else a proxy), which gives every drift figure at every step. The steps where a figure
    reaches its largest and smallest proxy value are kept (with their temperature field),
    and ``finish`` solves the full thermoelastic problem there: the series then holds the
    exact values at those instants, so the run's drift extremes and drift limits are
    taken over every step, not only over the save times.
    """

    at_save_times = True

    def __init__(self, case: Case, domain, mats, problem, interfaces, lay):
        from .drift import DriftMap
        from .mechanics import ThermoElasticProblem

        m = case.mechanics
        dim = case.geometry.dim
        self.regions = list(mats)
        self.solver = ThermoElasticProblem(
            domain, mats, problem.T, m.mounts, m.free, m.reference_temperature_K,
            ties=[(i.name, i.side_a, i.side_b) for i in interfaces],
            solver=problem.solver, rtol=case.numerics.rtol,  # the heat solver's choice
            reference_face=m.reference_face, T_floor=problem.T_floor)
        self.terms = problem.emission_terms
        self.map = DriftMap.for_case(case, lay) if m.drift is not None else None
        self.pointing = case.pointing
        self.axes = ("x", "y", "z") if dim == 3 else ("r", "z")
        self.u_columns = [f"u_spot_{a}_um" for a in ("x", "y", "z")] if dim == 3 \
            else ["u_spot_z_um"]
        self.ref_columns = ([f"u_reference_{a}_um" for a in ("x", "y", "z")] if dim == 3
                            else ["u_reference_z_um"]) if m.reference_face else []
        self.drift_columns = self.map.columns(dim) if self.map else []
        self.probes, names = _probe_points(case, self.solver.u, lay, "u")
        self.probe_columns = [f"u_at_{n}_{a}_um" for n in names for a in self.axes]
        columns = (self.u_columns + self.ref_columns + self.drift_columns
                   + self.probe_columns)
        for r in self.regions:
            columns += [f"von_mises_max_{r}_MPa"] + [f"von_mises_max_{r}_{a}_mm"
                                                      for a in self.axes]
        # The heat sink near the joint: regularised stress over its yield strength.
        sink = yield_region(case.geometry, case.materials)
        self.joint = None
        joints = [g for g in domain.groups for name in interfaces_of(case.geometry)
                  if g == name or g.startswith(f"{name}@")]
        if sink is not None and joints:
            self.joint = (sink, joints)
            columns.append(yield_column(sink))
        self.columns = tuple(columns)
        self.units = tuple(_unit_of(c) for c in columns)
        self.reset(case)

    def reset(self, case=None):
        self.stress_max = {r: (0.0, None, None) for r in self.regions}  # (MPa, time, location)
        self.yield_best = (-1.0, None, None)  # (largest yield use (≥ 0), its time, cell (m))
        self.seconds = 0.0
        self.solver.solves = 0
        self.solver.linear_iterations = 0
        if case is not None:  # a steady run is saved at its only row: nothing between
            self.track = self.map is not None and case.loading.kind != "steady"
        self.row = -1  # the row of the series being recorded
        self.saved = set()  # rows with a full solve
        self.weighted = False  # the shift weight is solved for this run
        self.extremes = {}  # (drift column, ±1) → (proxy value × sign > 0, row, time)
        self.fields = {}  # row → the temperature field there (for finish's solves)

    def record(self, t, beam_W):
        self.row += 1
        if self.track:
            self._track_drift(t)
        return [math.nan] * len(self.columns)

    def _track_drift(self, t: float) -> None:
        """The drift figures of this step through the shift weight; keep the steps of each
        figure's largest and smallest value with their temperature fields."""
        start = time.perf_counter()
        if not self.weighted:  # the operator of the initial state
            self.solver.solve(weight=(self.terms, self.map.normal))
            self.weighted = True
        shift = self.solver.normal_shift()
        extra = self.pointing.shift_m(t) if self.pointing is not None else None
        d = self.map.apply(shift * self.map.normal, extra_shift=extra)
        for c in self.drift_columns:
            for sign in (1.0, -1.0):  # the largest magnitude either way (0: no extreme)
                best = self.extremes.get((c, sign), (0.0, None, None))
                # a value equal to the best to round-off (a periodic state's repeated peak)
                # keeps the first step reaching it, whatever the arithmetic's rounding
                if _reaches_first(sign * d[c], t, best[0], best[2]):
                    self.extremes[(c, sign)] = (sign * d[c], self.row, t)
                    if self.row not in self.fields:
                        self.fields[self.row] = self.solver.T.x.array.copy()
        kept = {row for _, row, _ in self.extremes.values()}
        for row in [r for r in self.fields if r not in kept]:
            del self.fields[row]
        self.seconds += time.perf_counter() - start

    def finish(self) -> dict[int, list[float]]:
        """Full solves at the steps where a drift figure is extreme (kept by record) and
        that were not saved: row → the column values there."""
        T = self.solver.T.x.array
        now = T.copy()
        out = {}
        for row, t in sorted({(row, t) for _, row, t in self.extremes.values()}):
            if row not in self.saved:
                T[:] = self.fields[row]
                out[row] = self.at_save(t, weight=False)
        T[:] = now
        self.fields = {}
        return out

    def at_save(self, t: float, weight: bool = True) -> list[float]:
        """Solve the thermoelastic problem on the current temperature; the column values.
        With a drift map, the shift weight is then solved again on this operator (weight)."""
        start = time.perf_counter()
        self.saved.add(self.row)
        # with a drift map, the shift weight on this operator too (solved with u)
        self.solver.solve(weight=(self.terms, self.map.normal) if self.track and weight
                          else None)
        self.weighted = self.weighted or bool(self.track and weight)
        ref = self.solver.reference_displacement()
        u = self.solver.weighted_mean_displacement(self.terms) - ref
        three = len(self.u_columns) == 3
        # + 0.0: a component that is exactly zero is +0, not "-0" (drift.positive_zero)
        values = [u[i] * 1e6 + 0.0 for i in range(3)] if three else [u[2] * 1e6]
        if self.ref_columns:
            values += [ref[i] * 1e6 for i in range(3)] if three else [ref[2] * 1e6]
        if self.map:
            extra = self.pointing.shift_m(t) if self.pointing is not None else None
            d = self.map.apply(u, extra_shift=extra)
            values += [d[k] for k in self.drift_columns]
        if self.probe_columns:  # the reference face's translation removed (r, z: along z)
            shift = ref if three else ref[[0, 2]]
            values += list(((self.probes.values().reshape(-1, len(self.axes)) - shift)
                            * 1e6).reshape(-1))
        n = len(self.axes)
        for r in self.regions:
            vm, where = self.solver.region_stress_max(r)
            values += [vm / 1e6] + [float(c) * 1e3 for c in where[:n]]
            if _reaches_first(vm / 1e6, t, *self.stress_max[r][:2]):
                self.stress_max[r] = (vm / 1e6, t, [float(c) * 1e3 for c in where[:n]])
        if self.joint is not None:
            use = self.solver.yield_use(*self.joint, YIELD_RADIUS_M)
            values.append(use.ratio)
            # the cell size where the largest one sits, chosen as the summary's max_abs is
            # (the first time to MAX_TIE_RTOL: finish() solves earlier times after later)
            if _reaches_first(use.ratio, t, *self.yield_best[:2]):
                self.yield_best = (use.ratio, t, use.cell_m)
        self.seconds += time.perf_counter() - start
        return values

    def summary(self, series) -> MechanicsSummary:
        """Final and extreme drift figures, and the stress maxima with where and when."""
        saved = ~np.isnan(series["u_spot_z_um"])
        t = series["time_s"][saved]
        extremes = {}
        extra = [yield_column(self.joint[0])] if self.joint is not None else []
        for c in self.u_columns + self.drift_columns + extra:
            vals = series[c][saved]
            if len(vals):
                i = first_max_index(np.abs(vals))
                extremes[c] = Extremum(float(vals[-1]), float(abs(vals[i])), float(t[i]),
                                       float(vals[i]) + 0.0)
        stress = {r: StressMax(v, tt, loc) for r, (v, tt, loc) in self.stress_max.items()}
        cell = self.yield_best[2]
        return MechanicsSummary(self.solver.solves, self.axes, extremes, stress,
                                None if cell is None else cell * 1e6)


def _reaches_first(value: float, t: float, best: float, best_t: float | None) -> bool:
    """Whether (value, t) takes a running maximum's place from (best, best_t): a larger
    value beyond round-off (MAX_TIE_RTOL), or one equal to it to round-off reached
    earlier (the saves after a run, for the drift extremes between save times, come after
    later times): the first time a maximum is reached, to within MAX_TIE_RTOL (as
    limits.first_max_index, but against the running best)."""
    tie = MAX_TIE_RTOL * abs(best)
    return value > best + tie or (value >= best - tie and best_t is not None and t < best_t)


def _extra_focal_share(prep) -> float:
    """Extra-focal heat laid on the model's faces per beam watt."""
    ef = prep.extra_focal
    return ef.extra_focal_fraction if ef is not None else 0.0


def default_monitors(case: Case, sim, *, stored_heat: bool = True) -> list[Monitor]:
    """The monitors of a run, in the column order of timeseries.csv; without the stored
    heat and energy columns (Heat) when stored_heat is False."""
    problem, domain = sim.problem, sim.domain
    regions = list(sim.prep.mats)
    interfaces = {f"T_max_{name}_C": [g for g in domain.groups
                                      if g == name or g.startswith(f"{name}@")]
                  for name in interfaces_of(case.geometry)}
    cooled = cooled_faces(case)
    monitors = [BeamPower(sim.prep.p_dep), RegionTemperatures(problem, regions),
                FaceMaxima(problem, interfaces)]
    if cooled:
        monitors.append(FaceMaxima(problem, {"T_max_coolant_side_C": cooled}))
    monitors.append(Probes(case, problem, sim.prep.lay))
    if stored_heat:
        monitors.append(Heat(problem, Schedule(case.loading.segments), sim.prep.p_dep,
                             _extra_focal_share(sim.prep)))
    if problem.coolant is not None:
        monitors.append(Coolant(problem))
    if case.mechanics is not None:
        monitors.append(Mechanics(case, domain, sim.prep.mats, problem, sim.interfaces,
                                  sim.prep.lay))
    return monitors
