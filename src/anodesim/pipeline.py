"""One case, end to end: materials, beam, mesh, transient or steady heat, outputs.

``run(case, out_dir)`` is the Python entry point (the CLI's ``run`` calls it). It writes into
``out_dir``: ``mesh.msh``, ``timeseries.csv``, ``temperatures.png`` (or ``profiles.csv`` and
``profiles.png`` for a steady state), ``fields.bp`` (ParaView, VTX) and ``summary.json``;
3-D runs also ``temperature_slices.png`` (final temperatures on two cuts).
"""

from __future__ import annotations

import datetime as _dt
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__, geometry, geometry3d, materials as mat_lib, output
from .beam import Layer, Spot, deposited_fraction, kanaya_okayama_range_m
from .case import ZERO_CELSIUS_K, Case, CaseError, interfaces_of, regions_of
from .loading import Schedule, plan

C = ZERO_CELSIUS_K


@dataclass
class RunResult:
    """What a run produced: the summary (as written to summary.json) and the time series."""

    summary: dict
    header: list[str]
    rows: list[list[float]]
    out_dir: Path | None

    def column(self, name: str) -> np.ndarray:
        return np.array([row[self.header.index(name)] for row in self.rows], dtype=float)


def region_materials(case: Case) -> dict[str, mat_lib.Material]:
    """Material per region with the case's overrides (and frozen if constant mode)."""
    out = {}
    for region, key in case.materials.by_region.items():
        m = mat_lib.get(key).with_overrides(case.materials.overrides.get(region, {}))
        if not case.materials.temperature_dependent:
            m = m.frozen_at(case.initial_temperature_K)
        out[region] = m
    return out


def make_spot(case: Case, mats: dict[str, mat_lib.Material], stack, frame=None) -> Spot:
    """The beam footprint and the layers the electrons cross (Kanaya–Okayama ranges).

    On a 3-D face (frame given) the footprint of a round beam is the elliptical Gaussian
    with σ/cos ψ along the beam's trace on the face, ψ the angle of incidence.
    """
    layers, top = [], 0.0
    for region, thickness in stack:
        m = mats[region]
        R = kanaya_okayama_range_m(case.beam.voltage_V, m.atomic_mass_g_mol,
                                   m.atomic_number, m.density_g_cm3)
        layers.append(Layer(region, top, thickness, R))
        top += thickness
    b = case.beam
    if b.spot == "footprint":
        return Spot("elliptical", b.size_m / frame.incidence_cos, b.deposition, tuple(layers),
                    b.size_m, frame.trace_angle())
    return Spot(b.spot, b.size_m, b.deposition, tuple(layers), b.size2_m, b.orientation_rad)


def _time_steps(case: Case, spot: Spot, mats) -> tuple[float, float]:
    """(initial step, max step) in s: automatic unless given in the case."""
    target = mats["target"]
    T0 = case.initial_temperature_K
    kappa = float(target.k(T0) / target.rho_cp(T0))
    dt0 = case.time.initial_step_s or 1e-3 * spot.spot_time_s(kappa)
    dt_max = case.time.max_step_s or max(case.end_time_s / 50.0, dt0)
    return dt0, dt_max


MAX_STEPS = 1_000_000


@dataclass
class Prepared:
    """Everything a run derives from its case before touching the disk or dolfinx."""

    mats: dict[str, mat_lib.Material]
    eta: float
    p_dep: float
    lay: geometry.Layout | geometry3d.Layout3D
    spot: Spot
    zone_depth: float
    steps: list


def mesh_description(case: Case) -> dict:
    """What a reusable mesh was built for: the geometry and the split interfaces."""
    return {"kind": case.geometry.kind, "sizes_m": case.geometry.sizes_m,
            "anode_angle_rad": case.geometry.anode_angle_rad,
            "split_interfaces": sorted(case.interfaces)}


def prepare(case: Case) -> Prepared:
    """Resolve a case without dolfinx and without writing anything.

    Raises:
        CaseError: the electron range exceeds the target stack, a probe lies outside the
            body, the schedule needs more than MAX_STEPS steps, or a reused mesh does not
            belong to this geometry.
    """
    import json

    mats = region_materials(case)
    eta = (case.beam.backscatter_energy_fraction
           if case.beam.backscatter_energy_fraction is not None
           else mats["target"].backscatter_energy_fraction)
    three_d = case.geometry.dim == 3
    if three_d:
        lay = (geometry3d.user_layout(case) if case.geometry.kind == "user_mesh"
               else geometry3d.layout(case))
        spot = make_spot(case, mats, lay.stack, lay.frame)
    else:
        lay = geometry.layout(case, 0.5 * case.beam.size_m)
        spot = make_spot(case, mats, lay.stack)
    try:
        zone_depth = spot.depth_m
    except ValueError as e:
        raise CaseError(f"beam.voltage_kV = {case.beam.voltage_V / 1e3:g}: {e}") from None
    if three_d:
        fr = lay.frame
        u_axis = math.cos(spot.angle_rad) * fr.e1 + math.sin(spot.angle_rad) * fr.e2
        lay.zone = (u_axis, *spot.half_extents_m)
        if spot.shape == "flat_top":
            lay.rim = 0.5 * spot.size_m
        Ri = case.geometry.sizes_m.get("insert_radius_m", math.inf)
        if spot.radius_m > Ri:
            raise CaseError(f"beam.spot = {case.beam.spot!r}: the spot reaches "
                            f"{spot.radius_m * 1e6:.4g} µm from its centre on the face (all but "
                            f"0.1 % of the power); expected at most the insert radius "
                            f"{Ri * 1e6:.4g} µm")
    elif spot.shape == "flat_top" and zone_depth > 0:
        lay.embed_spot_edge(0.5 * spot.size_m, zone_depth)
    for p in case.probes:
        inside = (lay.contains(lay.frame.point(p.r_m, p.depth_m)) if three_d
                  else lay.contains(p.r_m, lay.z_beam - p.depth_m))
        if not inside:
            raise CaseError(f"probes.{p.name}: (r_mm = {p.r_m * 1e3:g}, depth_mm = "
                            f"{p.depth_m * 1e3:g}) is outside the mesh")
    if case.mechanics is not None:
        T_ref = case.mechanics.reference_temperature_K
        for region, m in mats.items():
            for t in (m.rho, m.alpha, m.E, m.nu):
                lo, hi = t.range_K
                if not lo <= T_ref <= min(hi, m.melting_K):
                    raise CaseError(f"mechanics.reference_temperature_C = {T_ref - 273.15:g}: "
                                    f"outside the {m.key} data ({lo - 273.15:.0f} to "
                                    f"{min(hi, m.melting_K) - 273.15:.0f} °C)")
    steps = []
    if case.loading.kind != "steady":
        dt0, dt_max = _time_steps(case, spot, mats)
        try:
            steps = plan(Schedule(case.loading.segments), dt0, dt_max,
                         case.time.steps_per_doubling, _default_save_times(case),
                         max_steps=MAX_STEPS)
        except ValueError:
            raise CaseError(f"time.max_step_s = {dt_max:g}: the schedule would take more than "
                            f"{MAX_STEPS:,} steps; expected a larger max_step_s or "
                            "initial_step_s") from None
    if case.mesh.file:
        sidecar = Path(case.mesh.file).with_suffix(".json")
        try:
            built_for = json.loads(sidecar.read_text())
        except (OSError, ValueError):
            raise CaseError(f"mesh.file = {case.mesh.file!r}: expected a mesh written by an "
                            f"anodesim run, with its description {sidecar.name} beside it") \
                from None
        want = mesh_description(case)
        same = (built_for.get("kind") == want["kind"]
                and built_for.get("anode_angle_rad", 0.0) == want["anode_angle_rad"]
                and built_for.get("split_interfaces") == want["split_interfaces"]
                and set(built_for.get("sizes_m", {})) == set(want["sizes_m"])
                and all(math.isclose(built_for["sizes_m"][k], v, rel_tol=1e-9)
                        for k, v in want["sizes_m"].items()))
        if not same:
            raise CaseError(f"mesh.file = {case.mesh.file!r}: built for another geometry or "
                            f"other interfaces ({built_for}); expected {want}")
    return Prepared(mats, eta, deposited_fraction(eta), lay, spot, zone_depth, steps)


def setup(case: Case, prep: Prepared, comm, out: Path | None = None):
    """Mesh (built, or read from mesh.file) and the heat problem of a prepared case.

    Returns:
        (domain, problem, interfaces, mesh_path); the mesh is written to out/mesh.msh.
    """
    from . import thermal

    rank0 = comm.rank == 0
    lay, spot = prep.lay, prep.spot
    split = set(case.interfaces)
    if case.geometry.kind == "user_mesh":
        mesh_path = Path(case.geometry.file)
        domain = geometry.to_dolfinx(comm, path=mesh_path, gdim=3)
    elif case.mesh.file:
        mesh_path = Path(case.mesh.file)
        try:
            domain = geometry.to_dolfinx(comm, path=mesh_path, gdim=case.geometry.dim)
        except Exception as e:  # noqa: BLE001 - gmsh raises plain Exceptions
            raise CaseError(f"mesh.file = {case.mesh.file!r}: cannot read it as a gmsh mesh "
                            f"({e})") from None
    else:
        h_min, growth, h_max = geometry.mesh_sizes(case, spot)
        mesh_path = out / "mesh.msh" if out is not None else None
        gm = None
        if rank0 and case.geometry.dim == 3:
            gm = geometry3d.build(lay, h_min, growth, h_max, prep.zone_depth, mesh_path)
        elif rank0:
            gm = geometry.build(lay, split, h_min, growth, h_max, spot.radius_m,
                                prep.zone_depth, mesh_path)
        if rank0 and mesh_path is not None:
            output.write_json(mesh_path.with_suffix(".json"), mesh_description(case))
        import gmsh

        domain = geometry.to_dolfinx(comm, model=gmsh.model, gdim=case.geometry.dim)
        if rank0 and gm is not None:
            gmsh.finalize()
    regions = regions_of(case.geometry)
    for region in regions:
        if region not in domain.groups:
            raise CaseError(f"mesh.file = {case.mesh.file!r}: expected a physical group "
                            f"named '{region}'")
    interfaces = []
    for name, h in case.interfaces.items():
        sides = [f"{name}@{r}" for r in regions if f"{name}@{r}" in domain.groups]
        if len(sides) != 2:
            raise CaseError(f"interfaces.{name}: the mesh does not split this interface "
                            "(rebuild it without mesh.file)")
        interfaces.append(thermal.Interface(name, sides[0], sides[1], h))
    problem = thermal.ThermalProblem(
        domain, prep.mats, case.boundaries, interfaces, spot, lay.z_beam,
        case.initial_temperature_K, case.time.newton_tol_K,
        frame=lay.frame if case.geometry.dim == 3 else None,
        solver=case.numerics.resolved(case.geometry.dim), rtol=case.numerics.rtol)
    return domain, problem, interfaces, mesh_path


class _Progress:
    """One status line on stderr (rank 0), refreshed at most twice a second."""

    def __init__(self, enabled: bool, total: int):
        self.enabled, self.total, self.last = enabled, total, 0.0
        self.tty = sys.stderr.isatty()

    def __call__(self, i: int, t: float, T_peak_C: float, force=False) -> None:
        now = time.perf_counter()
        if not self.enabled or (not force and now - self.last < (0.5 if self.tty else 5.0)):
            return
        self.last = now
        line = f"  t = {t:.4g} s   step {i}/{self.total}   peak {T_peak_C:.1f} °C"
        sys.stderr.write(("\r" + line.ljust(70)) if self.tty else line + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            sys.stderr.write("\n")


class _DriftRecorder:
    """Thermoelastic solve and drift figures at save times (mechanics stage of a run)."""

    def __init__(self, case: Case, domain, mats, problem, interfaces, regions, lay):
        from .drift import DriftInputError, DriftMap
        from .mechanics import ThermoElasticProblem

        m = case.mechanics
        dim = case.geometry.dim
        self.regions = regions
        self.solver = ThermoElasticProblem(
            domain, mats, problem.T, m.mounts, m.free, m.reference_temperature_K,
            ties=[(i.name, i.side_a, i.side_b) for i in interfaces],
            solver=case.numerics.resolved(dim), rtol=case.numerics.rtol)
        self.terms = problem.source_terms
        self.map = None
        normal = lay.frame.normal if dim == 3 else (0.0, 0.0, 1.0)
        if m.drift is not None:
            d = m.drift
            view = d.view_direction
            if case.geometry.kind == "user_mesh" and d.take_off is not None:
                view = geometry3d.view_direction(0.0, *d.take_off, frame=lay.frame)
            try:
                self.map = DriftMap.create(d.beam_direction, normal, view, d.source_object_m,
                                           d.source_detector_m, d.pixel_m)
            except DriftInputError as e:
                raise CaseError(f"drift.{e}") from None
        self.axes = ("x", "y", "z") if dim == 3 else ("r", "z")
        self.u_columns = [f"u_spot_{a}_um" for a in ("x", "y", "z")] if dim == 3 \
            else ["u_spot_z_um"]
        drift = list(DRIFT_COLUMNS) + (list(DRIFT_COMPONENTS) if dim == 3 else [])
        self.columns = self.u_columns + (drift if self.map else [])
        self.drift_columns = drift if self.map else []
        for r in regions:
            self.columns += [f"von_mises_max_{r}_MPa"] + [f"von_mises_max_{r}_{a}_mm"
                                                          for a in self.axes]
        self.stress_max = {r: (0.0, None, None) for r in regions}  # (MPa, time, location)
        self.seconds = 0.0

    def __call__(self, t: float) -> list[float]:
        start = time.perf_counter()
        self.solver.solve()
        u = self.solver.weighted_mean_displacement(self.terms)
        values = [u[i] * 1e6 for i in range(3)] if len(self.u_columns) == 3 else [u[2] * 1e6]
        if self.map:
            d = self.map.apply(u)
            values += [d[k] for k in self.drift_columns]
        n = len(self.axes)
        for r in self.regions:
            vm, where = self.solver.region_stress_max(r)
            values += [vm / 1e6] + [float(c) * 1e3 for c in where[:n]]
            if vm / 1e6 > self.stress_max[r][0]:
                self.stress_max[r] = (vm / 1e6, t, [float(c) * 1e3 for c in where[:n]])
        self.seconds += time.perf_counter() - start
        return values


DRIFT_COLUMNS = ("spot_shift_um", "drift_across_view_um", "image_drift_px",
                 "drift_along_view_um", "magnification_change_rel")
DRIFT_COMPONENTS = ("drift_across_view_x_um", "drift_across_view_y_um", "drift_across_view_z_um")


def _default_save_times(case: Case) -> tuple[float, ...]:
    """The case's save times or, when mechanics needs a drift history: 20 log-spaced times
    from 1e-6 of the run for a single load, the end of every segment (up to 200) or 100
    equal intervals for a schedule."""
    if case.output.save_times_s or case.mechanics is None or case.end_time_s == 0:
        return case.output.save_times_s
    end = case.end_time_s
    if len(case.loading.segments) == 1:
        return tuple(np.geomspace(1e-6 * end, end, 20))
    if len(case.loading.segments) <= 200:
        return tuple(np.cumsum([d for d, _ in case.loading.segments]))
    return tuple(np.linspace(end / 100, end, 100))


def run(case: Case, out_dir: str | Path | None = None, *, progress: bool = False,
        comm=None) -> RunResult:
    """Run one case; write its outputs to out_dir (None: write nothing).

    Args:
        case: a validated case.
        out_dir: run directory (created if missing).
        progress: show a status line on stderr.
        comm: MPI communicator (default COMM_WORLD).

    Returns:
        The run's summary and time series.

    Raises:
        CaseError: a problem with the case found while setting up (e.g. the electron range
            exceeds the target stack, or a reused mesh lacks a named group).
    """
    from . import _mpi  # noqa: F401  (MPI before dolfinx)
    from mpi4py import MPI

    from . import thermal

    comm = comm or MPI.COMM_WORLD
    rank0 = comm.rank == 0
    started = time.perf_counter()
    start_utc = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    out = Path(out_dir) if out_dir is not None else None
    prep = prepare(case)
    mats, eta, p_dep, lay, spot = prep.mats, prep.eta, prep.p_dep, prep.lay, prep.spot
    zone_depth = prep.zone_depth

    if out is not None and rank0:
        out.mkdir(parents=True, exist_ok=True)
    comm.barrier()

    t_mesh = time.perf_counter()
    domain, problem, interfaces, mesh_path = setup(case, prep, comm, out)
    mesh_s = time.perf_counter() - t_mesh
    T0 = case.initial_temperature_K
    source_ratio = problem.source_ratio
    if abs(source_ratio - 1.0) > 1e-3 and rank0:
        why = "refine mesh.spot_fraction"
        if case.geometry.kind == "user_mesh" and spot.deposition == "volume":
            why += (f", or the target is thinner than the electron range "
                    f"({spot.layers[0].range_m * 1e6:.3g} µm): on a user mesh all the energy "
                    "goes into the target group, none into the material below")
        print(f"anodesim: warning: the mesh resolves the beam source to {source_ratio:.5f} of "
              f"its power (rescaled to the requested power); {why}", file=sys.stderr)
    if case.geometry.dim == 3:
        probes_pts = np.array([lay.frame.point(p.r_m, p.depth_m)
                               for p in case.probes]).reshape(-1, 3)
    else:
        probes_pts = np.array([[p.r_m, lay.z_beam - p.depth_m]
                               for p in case.probes]).reshape(-1, 2)
    probes = thermal.PointProbes(problem.T, probes_pts)
    if probes.missing:
        p = case.probes[probes.missing[0]]
        raise CaseError(f"probes.{p.name}: (r_mm = {p.r_m * 1e3:g}, depth_mm = "
                        f"{p.depth_m * 1e3:g}) is outside the mesh")
    regions = list(mats)

    mech = (_DriftRecorder(case, domain, mats, problem, interfaces, regions, lay)
            if case.mechanics is not None else None)
    from . import rating

    iface_groups = {}
    for name in interfaces_of(case.geometry):
        groups = [g for g in domain.groups if g == name or g.startswith(f"{name}@")]
        iface_groups[name] = groups
    cooled = rating.cooled_faces(case)
    header = (["time_s", "beam_power_W", "deposited_power_W", "T_peak_C"]
              + [f"T_max_{r}_C" for r in regions]
              + [f"T_max_{n}_C" for n in iface_groups]
              + (["T_max_coolant_side_C"] if cooled else [])
              + [f"T_{p.name}_C" for p in case.probes]
              + ["stored_heat_J", "deposited_energy_J"]
              + (mech.columns if mech else []))
    n_thermal = len(header) - (len(mech.columns) if mech else 0)
    rows: list[list[float]] = []
    schedule = Schedule(case.loading.segments)

    coldest = {r: math.inf for r in regions}

    def record(t: float, beam_W: float) -> list[float]:
        ranges = [problem.region_range(r) for r in regions]
        for r, (lo, _) in zip(regions, ranges):
            coldest[r] = min(coldest[r], lo - C)
        maxima = [hi - C for _, hi in ranges]
        maxima += [problem.face_max(g) - C for g in iface_groups.values()]
        if cooled:
            maxima.append(problem.face_max(cooled) - C)
        row = ([t, beam_W, beam_W * p_dep, maxima[0]] + maxima
               + [v - C for v in probes.values()]
               + [problem.stored_heat(), p_dep * schedule.energy(t)])
        if mech:
            row += [math.nan] * len(mech.columns)
        rows.append(row)
        return row

    def save(t: float) -> None:
        """Mechanics and fields at a save time (the last recorded row)."""
        if mech:
            rows[-1][n_thermal:] = mech(t)
        output.write_fields(vtx, t)

    vtx = None
    bp_files: dict[str, Path] = {}
    if out is not None and case.output.fields:
        import dolfinx.io

        groups = {"fields.bp": [problem.T]}
        if mech:
            groups["displacement.bp"] = [mech.solver.u]
            groups["stress.bp"] = [mech.solver.von_mises]
        vtx = []
        for name, funcs in groups.items():
            bp_files[name] = out / f"{name}.partial"
            vtx.append(dolfinx.io.VTXWriter(comm, bp_files[name], funcs, engine="BP4",
                                            mesh_policy=dolfinx.io.VTXMeshPolicy.reuse))
            vtx[-1].anodesim_path = bp_files[name]

    summary: dict = {}
    status, error = "running", None
    steps = []
    t_solve = time.perf_counter()
    bar = _Progress(progress and rank0, 0)
    try:
        if case.loading.kind == "steady":
            problem.steady(case.beam.power_W * p_dep)
            record(0.0, case.beam.power_W)
            save(0.0)
        else:
            steps = prep.steps
            bar.total = len(steps)
            record(0.0, 0.0)
            dt_prev = None
            for i, st in enumerate(steps, start=1):
                problem.step(st.dt, st.power_W * p_dep, st.restart, dt_prev)
                dt_prev = st.dt
                row = record(st.t, st.power_W)
                bar(i, st.t, row[3])
                if st.save:
                    save(st.t)
                    if out is not None and rank0:
                        output.write_csv(out / "timeseries.csv", header, rows)
            bar(len(steps), schedule.end_time, rows[-1][3], force=True)
        status = "complete"
    except (thermal.SolverError, mat_lib.OutOfRangeError) as e:
        status, error = "failed", str(e)
        raise
    except BaseException as e:
        status, error = "failed", f"{type(e).__name__}: {e}"
        raise
    finally:
        bar.close()
        output.close_fields(vtx)
        if rank0 and status == "complete":
            import shutil

            for name, partial in bp_files.items():
                if (out / name).exists():
                    shutil.rmtree(out / name)
                partial.rename(out / name)
        solve_s = time.perf_counter() - t_solve
        peak_col = [row[3] for row in rows]
        i_peak = int(np.argmax(peak_col)) if peak_col else 0
        summary = {
            "title": case.title,
            "status": status,
            "error": error,
            "case_hash": case.hash(),
            "case": case.to_dict(),
            "results": {
                "T_peak_max_C": peak_col[i_peak] if rows else None,
                "T_peak_max_time_s": rows[i_peak][0] if rows else None,
                "T_max_by_region_C": {r: max(row[4 + j] for row in rows)
                                      for j, r in enumerate(regions)} if rows else {},
                "T_min_by_region_C": coldest,
                "limits": rating.report(rating.limits_for(case, mats), header, rows)
                if rows else [],
                "final": dict(zip(header, rows[-1])) if rows else {},
                "limits_C": {r: {"damage": mats[r].damage_K - C, "melting": mats[r].melting_K - C}
                             for r in regions},
            },
            "beam": {
                "beam_power_W": case.beam.power_W,
                "backscatter_energy_fraction": eta,
                "deposited_power_W": case.beam.power_W * p_dep,
                "deposition": spot.deposition,
                "electron_range_um": {layer.region: layer.range_m * 1e6 for layer in spot.layers},
                "deposition_depth_um": zone_depth * 1e6,
                "source_integral_ratio": source_ratio,
            },
            "numerics": {
                "cells": domain.cells,
                "dofs": problem.V.dofmap.index_map.size_global,
                "time_steps": len(steps),
                "factorisations": problem.factorisations,
                "newton_iterations": problem.newton_iterations,
                "power_continuations": problem.continuations,
                "linear_solver": problem.solver,
                "linear_rtol": problem.rtol if problem.solver == "iterative" else None,
                "linear_iterations": problem.linear_iterations,
                "mechanics_linear_iterations": mech.solver.linear_iterations if mech else 0,
                "temperature_dependent": problem.nonlinear,
                "time_scheme": "BDF2 (variable step), backward Euler at each power switch",
            },
            "mechanics": _mechanics_summary(mech, header, rows) if mech else None,
            "timing_s": {"mesh": mesh_s, "solve": solve_s,
                         "thermal": solve_s - (mech.seconds if mech else 0.0),
                         "mechanics": mech.seconds if mech else 0.0,
                         "total": time.perf_counter() - started},
            "started_utc": start_utc,
            "anodesim_version": __version__,
            "provenance": output.provenance(comm.size),
            "mesh_file": str(mesh_path) if mesh_path else None,
        }
        profiles = slices = None
        if out is not None and rows and status == "complete" and case.loading.kind == "steady":
            profiles = _steady_profiles(problem, lay, spot)  # collective: every rank
        if out is not None and rows and status == "complete" and case.geometry.dim == 3:
            slices = _slices_3d(problem, lay, spot)  # collective
        if out is not None and rank0 and rows:
            comments = [f"anodesim {__version__}: {case.title} (case {case.hash()})",
                        "temperatures in °C; beam power before backscatter, deposited power "
                        f"after it (eta_E = {eta:g}); T_peak is the hottest node of the target"]
            if mech:
                comments += SIGN_CONVENTIONS
            output.write_csv(out / "timeseries.csv", header, rows, comments)
            if mech and mech.map and case.loading.kind != "steady":
                saved = [row for row in rows if not math.isnan(row[n_thermal])]
                col = {c: header.index(c) for c in header}
                output.plot_drift(
                    out / "drift.png", [row[0] for row in saved],
                    {"across the view axis (µm)": [row[col["drift_across_view_um"]]
                                                   for row in saved],
                     "shift along the beam (µm; < 0: towards the cathode)":
                         [row[col["spot_shift_um"]] for row in saved]},
                    [row[col["image_drift_px"]] for row in saved],
                    [row[0] for row in rows], [row[3] for row in rows], case.title,
                    log_time=len(case.loading.segments) == 1)
            if slices is not None:
                output.plot_slices(out / "temperature_slices.png", slices,
                                   f"{case.title}: t = {rows[-1][0]:.4g} s")
            if case.loading.kind == "steady":
                if profiles is not None:
                    _write_profiles(out, case, *profiles)
            else:
                t = [row[0] for row in rows]
                curves = {"peak (target)": [row[3] for row in rows]}
                for j, r in enumerate(regions[1:], start=1):
                    curves[f"max {r}"] = [row[4 + j] for row in rows]
                for p in case.probes:
                    curves[p.name] = [row[header.index(f"T_{p.name}_C")] for row in rows]
                output.plot_timeseries(out / "temperatures.png", t, curves,
                                       [row[1] for row in rows], case.title,
                                       log_time=len(case.loading.segments) == 1)
            output.write_json(out / "summary.json", summary)
    return RunResult(summary, header, rows, out)


SIGN_CONVENTIONS = [
    "u_spot_z_um: emission-weighted mean axial displacement of the deposition region "
    "(positive: towards the cathode, out of the target); 3-D models also give u_spot_x_um, "
    "u_spot_y_um (tube frame) and the x, y, z components of the drift across the view axis",
    "spot_shift_um: shift of the impact point along the fixed beam, (u.n)/(b.n) "
    "(positive: along the beam, into the target; negative: the spot moves towards the cathode)",
    "drift_across_view_um: apparent source shift across the view axis (magnitude); "
    "image_drift_px: (M - 1) x that shift / pixel size, the image of a fixed object point "
    "moving opposite to the source",
    "drift_along_view_um: shift along the view axis (positive: towards the detector); "
    "magnification_change_rel: dM/M = drift_along_view x (1/SOD - 1/SDD)",
    "mechanics columns are filled at the save times only",
]


def _mechanics_summary(mech, header, rows) -> dict:
    """Final and extreme drift figures, and the stress maxima with where and when."""
    saved = [row for row in rows if not math.isnan(row[header.index("u_spot_z_um")])]
    where = "location_" + "_".join(mech.axes) + "_mm"
    out: dict = {"solves": mech.solver.solves, "sign_conventions": SIGN_CONVENTIONS}
    for c in mech.columns:
        if c.startswith("von_mises"):
            continue
        vals = [row[header.index(c)] for row in saved]
        if vals:
            i = int(np.argmax(np.abs(vals)))
            out[c] = {"final": vals[-1], "max_abs": abs(vals[i]), "time_of_max_s": saved[i][0]}
    out["von_mises_max_MPa"] = {
        r: {"value": v, "time_s": t, where: loc}
        for r, (v, t, loc) in mech.stress_max.items()}
    return out


def _steady_profiles(problem, lay, spot: Spot):
    """Steady temperature (°C) along the beam axis (depth) and along the beam face (radius;
    in 3-D along −n and along the face axis e₁): (depth, T_axis, distance, T_face), in m
    and °C. Collective (every rank calls it)."""
    from .thermal import PointProbes

    if problem.domain.mesh.geometry.dim == 3:
        extent, depth_max = lay.face_extent, lay.depth_extent
        along_axis = lambda d: np.array([lay.frame.point(0.0, x) for x in d])  # noqa: E731
        along_face = lambda d: np.array([lay.frame.point(x, 0.0) for x in d])  # noqa: E731
    else:
        extent = 0.999 * min(lay.scale, max(r for poly in lay.regions.values() for r, _ in poly))
        depth_max = sum(t for _, t in lay.stack) * 0.999
        along_axis = lambda d: np.column_stack([np.zeros_like(d), lay.z_beam - d])  # noqa: E731
        along_face = lambda d: np.column_stack([d, np.full_like(d, lay.z_beam)])  # noqa: E731
    d = np.concatenate([[0.0], np.geomspace(1e-3 * spot.smallest_m, extent, 80)])
    depth = d[d < depth_max]
    Ta = PointProbes(problem.T, along_axis(depth)).values() - C
    Tf = PointProbes(problem.T, along_face(d)).values() - C
    return depth, Ta, d, Tf


def _slices_3d(problem, lay, spot: Spot, n: int = 161) -> list[tuple]:
    """Final temperatures (°C) on two cuts through the impact point, in the plane of the
    face normal n and the face axis e₁: around the spot (face coordinates, ±6 spot radii),
    and through the whole body (tube frame x, z at the impact point's y). Collective."""
    from mpi4py import MPI

    from .thermal import PointProbes

    fr = lay.frame
    a = 6.0 * spot.radius_m
    s = np.linspace(-a, a, n)
    d = np.linspace(0.0, a, n // 2)
    S, D = np.meshgrid(s, d)
    pts = fr.origin + S.reshape(-1, 1) * fr.e1 - D.reshape(-1, 1) * fr.normal
    near = PointProbes(problem.T, pts).values().reshape(D.shape) - C
    xyz = problem.domain.mesh.geometry.x
    comm = problem.comm
    lo, hi = xyz.min(axis=0), xyz.max(axis=0)
    comm.Allreduce(MPI.IN_PLACE, lo, op=MPI.MIN)  # buffer reductions, elementwise
    comm.Allreduce(MPI.IN_PLACE, hi, op=MPI.MAX)
    x, z = np.linspace(lo[0], hi[0], n), np.linspace(lo[2], hi[2], n)
    X, Z = np.meshgrid(x, z)
    pts = np.column_stack([X.reshape(-1), np.full(X.size, fr.origin[1]), Z.reshape(-1)])
    whole = PointProbes(problem.T, pts).values().reshape(X.shape) - C
    return [("around the spot (cut through the normal and e₁)", s * 1e3, -d * 1e3, near,
             "along the face, e₁ (mm)", "depth below the face (mm)"),
            (f"whole body (y = {fr.origin[1] * 1e3:g} mm)", x * 1e3, z * 1e3, whole,
             "x (mm)", "z (mm)")]


def _write_profiles(out: Path, case: Case, depth, Ta, d, Tf) -> None:
    """profiles.csv and profiles.png of a steady run (rank 0)."""
    rows = [["axis", x * 1e6, T] for x, T in zip(depth, Ta)]
    rows += [["beam_face", x * 1e6, T] for x, T in zip(d, Tf) if math.isfinite(T)]
    output.write_csv(out / "profiles.csv", ["line", "distance_um", "T_C"], rows)
    output.plot_profiles(out / "profiles.png",
                         {"along the beam axis (depth)": (depth * 1e6, Ta),
                          "along the beam face (radius)": (d * 1e6, Tf)}, case.title)
