"""The files of a run folder: ``mesh.msh`` (with mesh.json), ``timeseries.csv``,
``temperatures.png`` (or ``profiles.csv`` and ``profiles.png`` for a steady state),
``drift.png`` with a drift map, ``temperature_field.png`` (2-D: the final temperatures on
the section, around the spot and the whole body), ``fields.bp`` (ParaView, VTX; with mechanics also
``displacement.bp`` and ``stress.bp``) and ``summary.json``; 3-D runs also
``temperature_slices.png`` (final temperatures on two cuts). With ``output.figures = false``
no PNG is drawn (``profiles.csv`` is still written).

The field files are written under a ``.partial`` name and renamed when the run completes.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np

from . import __version__, output
from .case import ZERO_CELSIUS_K as C
from .case.model import source_um_per_px
from .results import (SIGN_CONVENTIONS, RunResult, temperature_curves,
                      temperature_limit_lines)


#: Every file and folder a run (or its report) writes into its folder: what
#: ``run --overwrite`` removes of an earlier run, and nothing else (with ``mesh.tmp.msh``,
#: gmsh's unfinished write).
RUN_FILES = frozenset({
    "summary.json", "timeseries.csv", "mesh.msh", "mesh.json", "case.toml", "report.html",
    "temperatures.png", "drift.png", "temperature_field.png", "temperature_slices.png",
    "profiles.csv", "profiles.png", "fields.bp", "displacement.bp", "stress.bp",
    "mesh.tmp.msh"})


def _inputs(keep) -> list[Path]:
    keep = [Path(p) for p in keep if p]
    return keep + [p.with_suffix(".json") for p in keep if p.suffix == ".msh"]  # its sidecar


def _ours(name: str) -> bool:
    return name in RUN_FILES or name.removesuffix(".partial") in RUN_FILES


def remove_run(out: Path, keep=()) -> list[str]:
    """Remove an earlier run's files from out (RUN_FILES, their unfinished ``.partial``
    field folders, output.remove_files) but none of `keep` (the new run's inputs: its case
    file, a mesh.file to reuse with its description beside it, whatever their names).
    Returns the names removed."""
    return output.remove_files(out, _ours, _inputs(keep))


#: The hidden folder in a run folder that holds the earlier run while ``run --overwrite``
#: sets up the new one (set_aside_run).
ASIDE_PREFIX = ".anodesim-earlier-run-"


def aside_folder(out: Path) -> Path:
    """A new hidden folder of out for set_aside_run (made first, so that an interrupt held
    over the moves finds the caller knowing where they went)."""
    import tempfile

    return Path(tempfile.mkdtemp(prefix=ASIDE_PREFIX, dir=out))


def set_aside_run(out: Path, aside: Path, keep=()) -> None:
    """Move an earlier run's files (those remove_run would remove) into aside (aside_folder),
    from which restore_run brings them back when the new run turns out to be bad input (a
    mesh.file that cannot be read, found while setting up) or is stopped before it has a
    result: the folder is then as it was. Signals wait for the moves (errors.signals_held)."""
    from .errors import signals_held

    kept = {p.resolve() for p in _inputs(keep)}
    with signals_held():
        moved = []
        try:
            for entry in sorted(out.iterdir()):
                temporary = output.TEMPORARY_NAME.match(entry.name)
                if (_ours(entry.name) or temporary is not None and _ours(temporary["name"])) \
                        and entry.resolve() not in kept:
                    entry.rename(aside / entry.name)
                    moved.append(entry.name)
        except OSError:  # one cannot be moved (busy: a mount, a file open on a share)
            for name in moved:  # the earlier run as it was, then the failure's line
                (aside / name).rename(out / name)
            aside.rmdir()
            raise


def recover_set_aside(out: Path, keep=()) -> str | None:
    """An earlier run left set aside by a ``run --overwrite`` that was killed (SIGKILL, the
    out-of-memory killer, a node's crash: no code ran to put it back or remove it): put
    back when the new run has no summary.json (its partial files removed), else removed
    as replaced. Returns a line saying what was done, or None when there was nothing.
    Rank 0 only."""
    if not out.is_dir():
        return None
    left = sorted((p for p in out.iterdir() if p.is_dir() and p.name.startswith(ASIDE_PREFIX)),
                  key=lambda p: p.stat().st_mtime)
    if not left:
        return None
    for p in left[:-1]:
        shutil.rmtree(p, ignore_errors=True)
    back = earlier_comes_back(out, left[-1])
    settle_set_aside(out, left[-1], keep)
    if back:
        return (f"{out}: put back the earlier run that an interrupted run --overwrite had "
                f"set aside ({left[-1].name}), in place of the stopped run's partial files")
    return (f"{out}: removed the earlier run that an interrupted run --overwrite had set "
            f"aside ({left[-1].name}); the run after it stands")


def earlier_comes_back(out: Path, aside: Path | None) -> bool:
    """Whether the earlier run set aside in `aside` is put back: the new run in `out` has
    no summary (it stopped before it had a result: bad input found while setting up, a
    signal, a full disk, an internal error)."""
    return aside is not None and aside.exists() and not (out / "summary.json").exists()


def settle_set_aside(out: Path, aside: Path | None, keep=()) -> None:
    """After a run over an earlier one set aside (set_aside_run): the new run stands once
    it has a summary (complete, failed or interrupted) and the earlier one goes; before
    that, the earlier one comes back (restore_run). Nothing to do without one."""
    if earlier_comes_back(out, aside):
        restore_run(out, aside, keep)
    elif aside is not None and aside.exists():
        shutil.rmtree(aside, ignore_errors=True)


def restore_run(out: Path, aside: Path, keep=()) -> None:
    """Remove the new run's files from out and move the earlier run's back from aside."""
    from .errors import signals_held

    with signals_held():
        remove_run(out, keep)
        for entry in sorted(aside.iterdir()):
            entry.rename(out / entry.name)
        aside.rmdir()


def open_fields(sim) -> list:
    """(file name, VTX writer) of the temperature (and displacement, stress) fields, when
    asked for."""
    if not sim.case.output.fields:
        return []
    import dolfinx.io

    from .errors import signals_held

    groups = {"fields.bp": [sim.problem.T]}
    mech = sim.mechanics_monitor
    if mech:
        groups["displacement.bp"] = [mech.solver.u]
        groups["stress.bp"] = [mech.solver.von_mises]
    writers = []
    # Ctrl-C and SIGTERM wait for the writers (errors.signals_held): nanobind converts the
    # path by calling back into Python (os.fspath), and a KeyboardInterrupt raised there was
    # swallowed: the run went on to the end, "complete", exit 0
    with signals_held():
        for name, funcs in groups.items():
            w = dolfinx.io.VTXWriter(sim.comm, sim.out / f"{name}.partial", funcs,
                                     engine="BP4", mesh_policy=dolfinx.io.VTXMeshPolicy.reuse)
            w.anodesim_path = sim.out / f"{name}.partial"  # named in a failed write's message
            writers.append((name, w))
    return writers


def close_fields(sim, writers: list, complete: bool) -> None:
    """Close the writers; a complete run's field files get their final names (rank 0)."""
    output.close_fields([w for _, w in writers])
    if sim.rank0 and complete:
        for name, _ in writers:
            final = sim.out / name
            if final.exists():
                shutil.rmtree(final)
            (sim.out / f"{name}.partial").rename(final)


def write(sim, result: RunResult, plotter=None) -> None:
    """Every file of the run but the mesh and fields. Collective (the profiles and slices
    sample the temperature on every rank); rank 0 writes. The figures go to plotter
    (plotter.py: a child process started with the run; None: drawn here), each as soon as
    its data is ready, so that the child draws while this process samples the field and
    writes the CSV and JSON files; the figures are waited for last.

    Raises:
        FigureFailure: a figure could not be drawn (the CSV and JSON files are written).
    """
    from .plotter import InlinePlotter, NoFigures

    case, out = sim.case, sim.out
    figures = case.output.figures  # false: no PNG, and no field sampled for one
    plot = NoFigures() if not figures else plotter if plotter is not None else InlinePlotter()
    complete = result.status == "complete"
    series = result.series
    if sim.rank0:  # the figures of the time series first: the child starts on them
        mech = sim.mechanics_monitor
        if mech and mech.map and case.loading.kind != "steady":
            _plot_drift(plot, out / "drift.png", result)
        if case.loading.kind != "steady":
            plot.draw("plot_timeseries", out / "temperatures.png", *temperature_curves(result),
                      case.title, log_time=result.single_load,
                      limits=temperature_limit_lines(result.limits))
    profiles = None
    if complete and case.loading.kind == "steady":
        profiles = steady_profiles(sim.problem, sim.prep.lay, sim.prep.spot)
    # the temperatures at the end of the schedule, before the pause up to repeat_every_s
    # (sampled then, Simulation.iterate), else at the end of the run
    t_field, slices, field = sim.load_end_fields or (
        (series.time[-1], *field_figures(sim)) if complete else (None, None, None))
    if not complete:
        slices = field = None
    if not sim.rank0:
        return
    if slices is not None:
        plot.draw("plot_slices", out / "temperature_slices.png", slices,
                  f"{case.title}: t = {t_field:.4g} s")
    if field is not None:
        plot.draw("plot_slices", out / "temperature_field.png", field,
                  f"{case.title}: t = {t_field:.4g} s")
    if profiles is not None:
        _write_profiles(plot, out, case.title, *profiles)
    write_series_and_summary(sim, result)
    plot.finish()


def field_figures(sim) -> tuple:
    """(slices, field) of the temperature figures now (3-D: slices_3d, 2-D: field_2d; the
    other None; both None without figures). Collective."""
    if not sim.case.output.figures:
        return None, None
    if sim.case.geometry.dim == 3:
        return slices_3d(sim.problem, sim.prep.lay, sim.prep.spot), None
    return None, field_2d(sim.problem, sim.prep.lay, sim.prep.spot)


def write_series_and_summary(sim, result: RunResult) -> None:
    """timeseries.csv and summary.json (rank 0), each atomically."""
    case, out = sim.case, sim.out
    comments = [f"anodesim {__version__}: {case.title} (case {result.case_hash})",
                "temperatures in °C; beam power before backscatter, deposited power "
                f"after it (eta_E = {sim.prep.eta:g}); T_peak is the hottest node of the target"]
    if result.mechanics:
        comments += SIGN_CONVENTIONS
    output.write_csv(out / "timeseries.csv", result.series.names, sim.rows, comments,
                     exact_columns=output.SERIES_EXACT_COLUMNS)
    output.write_json(out / "summary.json", result.summary_dict())


def _plot_drift(plot, path: Path, result: RunResult) -> None:
    """drift.png: the drift at the save times, the peak temperature behind it."""
    s = result.series
    saved = ~np.isnan(s["u_spot_z_um"])
    t = list(s.time[saved])
    plot.draw(
        "plot_drift", path, t,
        {"across the view axis (µm)": list(s["drift_across_view_um"][saved]),
         "shift along the beam (µm; < 0: towards the cathode)": list(s["spot_shift_um"][saved])},
        list(s["image_drift_px"][saved]), list(s.time), list(s["T_peak_C"]), result.title,
        log_time=result.single_load, px_per_um=_px_per_um(result.case),
        dM_rel=list(s["magnification_change_rel"][saved])
        if "magnification_change_rel" in s.names else None)


def _px_per_um(case: dict) -> float | None:
    """Detector pixels per µm of spot drift across the view: (M − 1) / pixel."""
    d = ((case.get("mechanics") or {}).get("drift")) or {}
    if not d.get("pixel_m") or not d.get("source_object_m"):
        return None
    return 1.0 / source_um_per_px(d["source_object_m"], d["source_detector_m"], d["pixel_m"])


def steady_profiles(problem, lay, spot):
    """Steady temperature (°C) along the beam axis (depth) and along the beam face (radius;
    in 3-D along −n and along the face axis e₁): (depth, T_axis, distance, T_face), in m
    and °C. Collective (every rank calls it)."""
    from .probes import PointProbes

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


def slices_3d(problem, lay, spot, n: int = 161) -> list[tuple]:
    """Final temperatures (°C) on two cuts through the impact point, in the plane of the
    face normal n and the face axis e₁: around the spot (face coordinates, ±6 spot radii),
    and through the whole body (tube frame x, z at the impact point's y). Collective."""
    from ._mpi import MPI

    from .probes import PointProbes

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
            (f"whole body (y = {fr.origin[1] * 1e3:g} mm)" + _missed_peak(near, whole),
             x * 1e3, z * 1e3, whole, "x (mm)", "z (mm)")]


def _missed_peak(near: np.ndarray, whole: np.ndarray) -> str:
    """A second line for the whole-body panel's title when its grid (mm apart) misses the
    spot's peak, which the panel around the spot samples at the impact point: the
    whole-body colour bar then tops out far below it (104 °C against the 3-D example's
    1006 °C), and a reader took it for the body's hottest."""
    peak, seen = float(np.nanmax(near)), float(np.nanmax(whole))
    if peak - seen <= 0.02 * (peak - float(np.nanmin(whole))):
        return ""
    return f"\nits grid misses the spot's {peak:.0f} °C (left)"


def field_2d(problem, lay, spot, n: int = 121) -> list[tuple]:
    """Final temperatures (°C) of an axisymmetric run on the (r, z) section mirrored about
    the axis: around the spot (±6 spot radii, 6 radii deep) and the whole body, as panels
    for output.plot_slices. Collective."""
    from .probes import PointProbes

    a = 6.0 * spot.radius_m
    polys = [np.asarray(p) for p in lay.regions.values()]
    R = max(float(p[:, 0].max()) for p in polys)
    z_lo = min(float(p[:, 1].min()) for p in polys)
    panels = []
    for label, (r0, r1), (z0, z1) in (
            ("around the spot", (-a, a), (lay.z_beam - a, lay.z_beam)),
            ("whole body", (-R, R), (z_lo, lay.z_beam))):
        r, z = np.linspace(r0, r1, n), np.linspace(z0, z1, n)
        Rg, Zg = np.meshgrid(r, z)
        pts = np.column_stack([np.abs(Rg).reshape(-1), Zg.reshape(-1)])
        T = PointProbes(problem.T, pts).values().reshape(Rg.shape) - C
        if panels:
            label += _missed_peak(panels[0][3], T)
        panels.append((label, r * 1e3, z * 1e3, T, "r (mm), mirrored about the axis",
                       "z (mm)"))
    return panels


def _write_profiles(plot, out: Path, title: str, depth, Ta, d, Tf) -> None:
    """profiles.csv and profiles.png (to plot) of a steady run (rank 0)."""
    rows = [["axis", x * 1e6, T] for x, T in zip(depth, Ta)]
    rows += [["beam_face", x * 1e6, T] for x, T in zip(d, Tf) if math.isfinite(T)]
    output.write_csv(out / "profiles.csv", ["line", "distance_um", "T_C"], rows)
    plot.draw("plot_profiles", out / "profiles.png",
              {"along the beam axis (depth)": (depth * 1e6, Ta),
               "along the beam face (radius)": (d * 1e6, Tf)}, title)
