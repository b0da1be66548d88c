"""One case, end to end: materials, beam, mesh, transient or steady heat, outputs.

``run(case, out_dir)`` is the Python entry point (the CLI's ``run`` calls it). It writes into
``out_dir``: ``mesh.msh``, ``timeseries.csv``, ``temperatures.png`` (or ``profiles.csv`` and
``profiles.png`` for a steady state), ``fields.bp`` (ParaView, VTX) and ``summary.json``.
"""

from __future__ import annotations

import datetime as _dt
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import _mpi  # noqa: F401  (MPI before dolfinx)
from . import __version__, materials as mat_lib, output
from .beam import Layer, Spot, deposited_fraction, kanaya_okayama_range_m
from .case import GEOMETRIES, ZERO_CELSIUS_K, Case, CaseError
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


def make_spot(case: Case, mats: dict[str, mat_lib.Material], stack) -> Spot:
    """The beam footprint and the layers the electrons cross (Kanaya–Okayama ranges)."""
    layers, top = [], 0.0
    for region, thickness in stack:
        m = mats[region]
        R = kanaya_okayama_range_m(case.beam.voltage_V, m.atomic_mass_g_mol,
                                   m.atomic_number, m.density_g_cm3)
        layers.append(Layer(region, top, thickness, R))
        top += thickness
    return Spot(case.beam.spot, case.beam.size_m, case.beam.deposition, tuple(layers))


def _time_steps(case: Case, spot: Spot, mats) -> tuple[float, float]:
    """(initial step, max step) in s: automatic unless given in the case."""
    target = mats["target"]
    T0 = case.initial_temperature_K
    kappa = float(target.k(T0) / target.rho_cp(T0))
    dt0 = case.time.initial_step_s or 1e-3 * spot.spot_time_s(kappa)
    dt_max = case.time.max_step_s or max(case.end_time_s / 50.0, dt0)
    return dt0, dt_max


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
    from mpi4py import MPI

    from . import geometry, thermal

    comm = comm or MPI.COMM_WORLD
    rank0 = comm.rank == 0
    started = time.perf_counter()
    start_utc = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    out = Path(out_dir) if out_dir is not None else None

    mats = region_materials(case)
    eta = (case.beam.backscatter_energy_fraction
           if case.beam.backscatter_energy_fraction is not None
           else mats["target"].backscatter_energy_fraction)
    p_dep = deposited_fraction(eta)
    lay = geometry.layout(case, 0.5 * case.beam.size_m)
    spot = make_spot(case, mats, lay.stack)
    try:
        zone_depth = spot.depth_m
    except ValueError as e:
        raise CaseError(f"beam.voltage_kV = {case.beam.voltage_V / 1e3:g}: {e}") from None
    if spot.shape == "flat_top" and zone_depth > 0:
        lay.embed_spot_edge(0.5 * spot.size_m, zone_depth)

    if out is not None and rank0:
        out.mkdir(parents=True, exist_ok=True)
    comm.barrier()

    # ---- mesh
    t_mesh = time.perf_counter()
    split = set(case.interfaces)
    if case.mesh.file:
        domain = geometry.to_dolfinx(comm, path=Path(case.mesh.file), gdim=2)
        mesh_path = Path(case.mesh.file)
    else:
        h_min, growth, h_max = geometry.mesh_sizes(case, spot)
        mesh_path = out / "mesh.msh" if out is not None else None
        gm = None
        if rank0:
            gm = geometry.build(lay, split, h_min, growth, h_max, spot.radius_m, zone_depth,
                                mesh_path)
        import gmsh

        domain = geometry.to_dolfinx(comm, model=gmsh.model, gdim=2)
        if rank0 and gm is not None:
            gmsh.finalize()
    for region in GEOMETRIES[case.geometry.kind]["regions"]:
        if region not in domain.groups:
            raise CaseError(f"mesh.file = {case.mesh.file!r}: expected a physical group "
                            f"named '{region}'")
    interfaces = []
    for name, h in case.interfaces.items():
        regions = GEOMETRIES[case.geometry.kind]["regions"]
        sides = [f"{name}@{r}" for r in regions if f"{name}@{r}" in domain.groups]
        if len(sides) != 2:
            raise CaseError(f"interfaces.{name}: the mesh does not split this interface "
                            "(rebuild it without mesh.file)")
        interfaces.append(thermal.Interface(name, sides[0], sides[1], h))
    mesh_s = time.perf_counter() - t_mesh

    # ---- problem
    T0 = case.initial_temperature_K
    problem = thermal.ThermalProblem(domain, mats, case.boundaries, interfaces, spot,
                                     lay.z_beam, T0, case.time.newton_tol_K)
    source_ratio = problem.source_integral()
    if abs(source_ratio - 1.0) > 1e-3 and rank0:
        print(f"anodesim: warning: the mesh integrates the beam source to {source_ratio:.5f} "
              "of its power; refine mesh.spot_fraction", file=sys.stderr)
    probes_pts = np.array([[p.r_m, lay.z_beam - p.depth_m] for p in case.probes]).reshape(-1, 2)
    probes = thermal.PointProbes(problem.T, probes_pts)
    if probes.missing:
        p = case.probes[probes.missing[0]]
        raise CaseError(f"probes.{p.name}: (r_mm = {p.r_m * 1e3:g}, depth_mm = "
                        f"{p.depth_m * 1e3:g}) is outside the mesh")
    regions = list(mats)

    header = (["time_s", "beam_power_W", "deposited_power_W", "T_peak_C"]
              + [f"T_max_{r}_C" for r in regions]
              + [f"T_{p.name}_C" for p in case.probes]
              + ["stored_heat_J", "deposited_energy_J"])
    rows: list[list[float]] = []
    schedule = Schedule(case.loading.segments)

    coldest = {r: math.inf for r in regions}

    def record(t: float, beam_W: float) -> list[float]:
        ranges = [problem.region_range(r) for r in regions]
        for r, (lo, _) in zip(regions, ranges):
            coldest[r] = min(coldest[r], lo - C)
        maxima = [hi - C for _, hi in ranges]
        row = ([t, beam_W, beam_W * p_dep, maxima[0]] + maxima
               + [v - C for v in probes.values()]
               + [problem.stored_heat(), p_dep * schedule.energy(t)])
        rows.append(row)
        return row

    vtx = None
    fields_tmp = None
    if out is not None and case.output.fields:
        import dolfinx.io

        fields_tmp = out / "fields.bp.partial"
        vtx = dolfinx.io.VTXWriter(comm, fields_tmp, [problem.T], engine="BP4",
                                   mesh_policy=dolfinx.io.VTXMeshPolicy.reuse)

    summary: dict = {}
    status, error = "running", None
    steps = []
    t_solve = time.perf_counter()
    bar = _Progress(progress and rank0, 0)
    try:
        if case.loading.kind == "steady":
            problem.steady(case.beam.power_W * p_dep)
            record(0.0, case.beam.power_W)
            if vtx is not None:
                vtx.write(0.0)
        else:
            dt0, dt_max = _time_steps(case, spot, mats)
            steps = plan(schedule, dt0, dt_max, case.time.steps_per_doubling,
                         case.output.save_times_s)
            bar.total = len(steps)
            record(0.0, 0.0)
            dt_prev = None
            for i, st in enumerate(steps, start=1):
                problem.step(st.dt, st.power_W * p_dep, st.restart, dt_prev)
                dt_prev = st.dt
                row = record(st.t, st.power_W)
                bar(i, st.t, row[3])
                if st.save:
                    if vtx is not None:
                        vtx.write(st.t)
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
        if vtx is not None:
            vtx.close()
            if rank0 and status == "complete":
                final = out / "fields.bp"
                if final.exists():
                    import shutil

                    shutil.rmtree(final)
                fields_tmp.rename(final)
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
                "temperature_dependent": problem.nonlinear,
                "time_scheme": "BDF2 (variable step), backward Euler at each power switch",
            },
            "timing_s": {"mesh": mesh_s, "solve": solve_s,
                         "total": time.perf_counter() - started},
            "started_utc": start_utc,
            "anodesim_version": __version__,
            "provenance": output.provenance(comm.size),
            "mesh_file": str(mesh_path) if mesh_path else None,
        }
        if out is not None and rank0 and rows:
            comments = [f"anodesim {__version__}: {case.title} (case {case.hash()})",
                        "temperatures in °C; beam power before backscatter, deposited power "
                        f"after it (eta_E = {eta:g}); T_peak is the hottest node of the target"]
            output.write_csv(out / "timeseries.csv", header, rows, comments)
            if case.loading.kind == "steady":
                _steady_profiles(problem, lay, spot, out, case)
            else:
                t = [row[0] for row in rows]
                curves = {"peak (target)": [row[3] for row in rows]}
                for j, r in enumerate(regions[1:], start=1):
                    curves[f"max {r}"] = [row[4 + j] for row in rows]
                for j, p in enumerate(case.probes):
                    curves[p.name] = [row[4 + len(regions) + j] for row in rows]
                output.plot_timeseries(out / "temperatures.png", t, curves,
                                       [row[1] for row in rows], case.title,
                                       log_time=len(case.loading.segments) == 1)
            output.write_json(out / "summary.json", summary)
    return RunResult(summary, header, rows, out)


def _steady_profiles(problem, lay, spot: Spot, out: Path, case: Case) -> None:
    """Steady temperature along the axis (depth) and along the beam face (radius)."""
    from .thermal import PointProbes

    extent = 0.999 * min(lay.scale, max(r for poly in lay.regions.values() for r, _ in poly))
    d = np.concatenate([[0.0], np.geomspace(1e-3 * spot.size_m, extent, 80)])
    depth = d[d < sum(t for _, t in lay.stack) * 0.999]
    axis = PointProbes(problem.T, np.column_stack([np.zeros_like(depth), lay.z_beam - depth]))
    face = PointProbes(problem.T, np.column_stack([d, np.full_like(d, lay.z_beam)]))
    Ta, Tf = axis.values() - C, face.values() - C
    rows = [["axis", x * 1e6, T] for x, T in zip(depth, Ta)]
    rows += [["beam_face", x * 1e6, T] for x, T in zip(d, Tf) if math.isfinite(T)]
    output.write_csv(out / "profiles.csv", ["line", "distance_um", "T_C"], rows)
    output.plot_profiles(out / "profiles.png",
                         {"along the beam axis (depth)": (depth * 1e6, Ta),
                          "along the beam face (radius)": (d * 1e6, Tf)}, case.title)
