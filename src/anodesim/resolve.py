"""Resolve a case before the finite elements: materials, backscatter, layout, spot, probes,
time steps. Imports no dolfinx and writes nothing, so every check here fails fast.
"""

from __future__ import annotations

import dataclasses as dc
import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import electron_kernels, extra_focal, geometry, kernel_source, materials as mat_lib
from .beam import Layer, Spot, deposited_fraction, deposition_summary, kanaya_okayama_range_m
from .case import ZERO_CELSIUS_K, Case, CaseError, faces_of, heat_sink_region, yield_region
from .case.model import MAX_STEPS, USER_GEOMETRIES
from .loading import Schedule, plan


def region_materials(case: Case, frozen: bool = True) -> dict[str, mat_lib.Material]:
    """Material per region with the case's overrides (and, frozen, taken at the initial
    temperature if constant mode; not frozen: with their tables and ranges)."""
    out = {}
    for region, key in case.materials.by_region.items():
        m = mat_lib.get(key, case.materials.user).with_overrides(case.materials.overrides.get(region, {}))
        if frozen and not case.materials.temperature_dependent:
            m = m.frozen_at(case.initial_temperature_K)
        out[region] = m
    return out


def backscatter_fraction(case: Case, mats: dict[str, mat_lib.Material], spot=None) -> float:
    """Energy backscatter fraction η_E: the case's, else the kernel tables' (material, kV,
    incidence; the film table for layered targets) for every deposition, else (a material
    or case outside the tables) the target material's."""
    if case.beam.backscatter_energy_fraction is not None:
        return case.beam.backscatter_energy_fraction
    if spot is None:  # (callers without the spot)
        _, spot, _ = _layout_and_spot(case, mats)
    if spot is not None and spot.kernel is not None:
        return spot.kernel.eta_E
    return mats["target"].backscatter_energy_fraction


def backscatter_coefficient(case: Case, prep) -> float | None:
    """Backscatter coefficient η (electrons per incident electron) from the kernel tables
    (the target material or its surrogate, kV, incidence); None outside the tables."""
    if prep.spot.kernel is not None:
        return prep.spot.kernel.eta
    m = prep.mats[prep.spot.layers[0].region]
    try:
        table = kernel_source.table_material(m.key, m.atomic_number)
        return electron_kernels.load().backscatter_coefficient(
            table, case.beam.voltage_V, incidence_deg(getattr(prep.lay, "frame", None)))
    except electron_kernels.ElectronKernelRangeError:
        return None


def incidence_deg(frame) -> float:
    """Angle of incidence ψ (°) from the beam face's normal: 0 on axisymmetric models."""
    if frame is None:
        return 0.0
    return math.degrees(math.acos(min(1.0, max(-1.0, frame.incidence_cos))))


def make_spot(case: Case, mats: dict[str, mat_lib.Material], stack, frame=None) -> Spot:
    """The beam footprint and the layers the electrons cross (Kanaya–Okayama ranges), with
    the electron-transport kernel for the kernel deposition.

    On a 3-D face (frame given) the footprint of a round beam is the elliptical Gaussian
    with σ/cos ψ along the beam's trace on the face, ψ the angle of incidence.

    Raises:
        CaseError: the kernel tables do not cover the case (material, voltage, angle,
            layered target), or the electrons pass through the target stack.
    """
    layers, top, kstack = [], 0.0, []
    for region, thickness in stack:
        m = mats[region]
        R = kanaya_okayama_range_m(case.beam.voltage_V, m.atomic_mass_g_mol,
                                   m.atomic_number, m.density_g_cm3)
        layers.append(Layer(region, top, thickness, R))
        kstack.append((region, top, thickness, m.key, m.atomic_number, R))
        top += thickness
    b = case.beam
    kernel = None
    try:  # every deposition takes η_E from the tables where they cover the case
        kernel = kernel_source.resolve(tuple(kstack), b.voltage_V, incidence_deg(frame))
    except electron_kernels.ElectronKernelRangeError as e:
        if b.deposition == "kernel":
            raise CaseError(f"beam.deposition = 'kernel': {e}; expected a case inside the "
                            "tables, or deposition = 'everhart_hoff' or 'surface'") from None
    if b.spot == "footprint":
        return Spot("elliptical", b.size_m / frame.incidence_cos, b.deposition, tuple(layers),
                    b.size_m, frame.trace_angle(), kernel)
    return Spot(b.spot, b.size_m, b.deposition, tuple(layers), b.size2_m, b.orientation_rad,
                kernel)


def time_steps(case: Case, spot: Spot, mats) -> tuple[float, float]:
    """(initial step, max step) in s: automatic unless given in the case."""
    target = mats["target"]
    T0 = case.initial_temperature_K
    kappa = float(target.k(T0) / target.rho_cp(T0))
    dt0 = case.time.initial_step_s or 1e-3 * spot.spot_time_s(kappa)
    dt_max = case.time.max_step_s or max(case.end_time_s / 50.0, dt0)
    return dt0, dt_max


#: A single load at least this long (s) is a warm-up: drift saved at equal intervals too
#: (and plotted in minutes, output.MINUTES_FROM_S).
LONG_RUN_S = 600.0


def save_times(case: Case) -> tuple[float, ...]:
    """The case's save times or, when mechanics needs a drift history: 20 log-spaced times
    from 1e-6 of the load for a single load (and 30 equal intervals when it lasts
    LONG_RUN_S or more), the same again over the pause up to loading.repeat_every_s after
    it (its cool-down), the end of every segment (up to 200) or 100 equal intervals for a
    schedule. Without a list, the end of the schedule before such a pause is one (its
    fields, as a run without the pause ends)."""
    if case.output.save_times_s or case.end_time_s == 0:
        return case.output.save_times_s
    load_end = () if case.loading.load_end_s is None else (case.loading.load_end_s,)
    if case.mechanics is None:
        return load_end
    end = case.end_time_s
    if case.loading.single_load:
        return tuple(np.unique(np.concatenate([_load_saves(t0, d) for t0, (d, _) in zip(
            np.cumsum([0.0] + [d for d, _ in case.loading.segments]), case.loading.segments)])))
    if len(case.loading.segments) <= 200:
        return tuple(np.cumsum([d for d, _ in case.loading.segments]))
    return tuple(np.unique(np.concatenate([np.linspace(end / 100, end, 100), load_end])))


def _load_saves(t0: float, d: float) -> np.ndarray:
    """Save times over a single load (or the pause after it) of d s from t0 (s): 20
    log-spaced from 1e-6 of it and, when it lasts LONG_RUN_S or more (a warm-up, plotted
    on a linear minutes axis, whose minutes matter), 30 equal intervals."""
    log = np.geomspace(1e-6 * d, d, 20)
    return t0 + (log if d < LONG_RUN_S else np.concatenate([log, np.linspace(d / 30, d, 30)]))


def plan_steps(case: Case, spot: Spot, mats) -> list:
    """The time steps of the case's schedule (none for a steady state).

    Raises:
        CaseError: the schedule needs more than MAX_STEPS steps.
    """
    if case.loading.kind == "steady":
        return []
    dt0, dt_max = time_steps(case, spot, mats)
    segs = case.loading.segments
    # No step is longer than dt_max, and each segment takes at least steps_per_segment
    # steps: a schedule these counts refuse is refused at once, not after a plan of a
    # million steps was built only to fail (8 s of `check` for a 20 000-pulse train)
    if (case.end_time_s > MAX_STEPS * dt_max * (1 + 1e-9)
            or len(segs) * case.time.steps_per_segment > MAX_STEPS):
        raise _too_many_steps(case, dt0, dt_max)
    try:
        return plan(Schedule(segs), dt0, dt_max, case.time.steps_per_doubling,
                    save_times(case), max_steps=MAX_STEPS,
                    steps_per_segment=case.time.steps_per_segment)
    except ValueError:
        raise _too_many_steps(case, dt0, dt_max) from None


def _least_steps(case: Case, dt0: float) -> tuple[int, int]:
    """The fewest steps the case's segments take, and how many segments were counted (all,
    unless more than 8 distinct durations already exceed MAX_STEPS).

    Every segment (a pulse, a pause) restarts at the initial step dt0 (s) and takes at
    least time.steps_per_segment steps, whatever time.max_step_s: the segments are counted
    with no max_step (one small plan per distinct duration)."""
    ts, segs = case.time, case.loading.segments
    cache: dict[float, int] = {}

    def least(duration: float) -> int:
        if duration not in cache:
            try:
                cache[duration] = len(plan(Schedule(((duration, 0.0),)), dt0, math.inf,
                                           ts.steps_per_doubling, max_steps=MAX_STEPS,
                                           steps_per_segment=ts.steps_per_segment))
            except ValueError:
                cache[duration] = MAX_STEPS + 1
        return cache[duration]

    total = counted = 0
    for d, _ in segs:
        total, counted = total + least(d), counted + 1
        if total > MAX_STEPS and len(cache) > 8:  # many durations: enough counted
            break
    return total, counted


def _too_many_steps(case: Case, dt0: float, dt_max: float) -> CaseError:
    """Why a schedule needs more than MAX_STEPS steps, naming the setting that binds: the
    segments themselves (_least_steps) or, only if they fit, the max_step (or the save
    times landed on).

    Args:
        case: the case.
        dt0: initial step after each switch (s).
        dt_max: largest step (s).
    """
    ts, segs = case.time, case.loading.segments
    total, counted = _least_steps(case, dt0)
    if total <= MAX_STEPS:  # the segments fit: the step size (or the save times) binds
        if ts.max_step_s is not None:
            return CaseError(f"time.max_step_s = {dt_max:g}: the schedule would take more "
                             f"than {MAX_STEPS:,} steps; expected a larger max_step_s")
        return CaseError(f"output.save_times_s: the schedule with {len(save_times(case)):,} "
                         f"save times would take more than {MAX_STEPS:,} steps; expected "
                         "fewer save times")
    auto = " (automatic)" if ts.initial_step_s is None else ""
    why = (f"about {total / counted:.0f} each: time.steps_per_segment = "
           f"{ts.steps_per_segment}, plus the steps growing from time.initial_step_s = "
           f"{dt0:.3g}{auto} after each switch")
    remedy = "a smaller time.steps_per_segment or a larger time.initial_step_s"
    pulses = sum(1 for _, p in segs if p > 0)
    if case.loading.kind == "pulse_train" and pulses and counted == len(segs):
        return CaseError(
            f"loading.pulses = {pulses}: {len(segs):,} pulses and pauses would take at least "
            f"{total:,} time steps, more than the {MAX_STEPS:,} a run may take ({why}); "
            f"expected at most {int(pulses * MAX_STEPS / total):,} pulses, {remedy}, or "
            "`anodesim rate` for the periodic state of an endless train")
    return CaseError(
        f"loading: {len(segs):,} segments would take more than {MAX_STEPS:,} time steps "
        f"({why}); expected fewer segments, {remedy}")


@dataclass
class Prepared:
    """Everything a run derives from its case before touching the disk or dolfinx."""

    mats: dict[str, mat_lib.Material]
    eta: float
    p_dep: float
    lay: geometry.axisym.Layout | geometry.reflection3d.Layout3D
    spot: Spot
    zone_depth: float
    steps: list
    extra_focal: extra_focal.ExtraFocal | None = None


def mesh_description(case: Case) -> dict:
    """What a reusable mesh was built for: the geometry and the split interfaces (a CAD
    part: its STEP file's content and the regions and faces chosen in it)."""
    g = case.geometry
    d = {"kind": g.kind, "sizes_m": g.sizes_m, "anode_angle_rad": g.anode_angle_rad,
         "face_cut_rad": g.face_cut_rad, "housing_m": g.housing_m,
         "split_interfaces": sorted(case.interfaces)}
    if g.kind == "cad":
        st = Path(g.file).stat()
        d["step_sha256"] = _file_sha256(str(Path(g.file).resolve()), st.st_size,
                                        st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        d["groups"] = json.loads(json.dumps(g.groups))  # as a JSON round trip gives it
    return d


@functools.lru_cache(maxsize=16)
def _file_sha256(path: str, *version: int) -> str:
    """sha256 of a file's content, read once per version of the file (path, size,
    modification and status-change times, inode): a run asks for its STEP part's up to
    three times (the sweep's mesh cache key, mesh.json, the reused-mesh check). A file
    replaced with its modification time kept (cp -p, rsync -t, tar) has a new inode or
    status-change time, which no program can set back."""
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def mesh_refinement(case: Case, lay, spot: Spot, zone_depth: float) -> dict:
    """How a built mesh is refined (SI): its element sizes (geometry.mesh_sizes, from the
    spot and [mesh]; a CAD part's largest at most a tenth of its diagonal, as built), the
    deposition zone it refines (2-D: its radius; 3-D: its half-extents, its long axis and
    the spot centre), whether a flat-top spot's edge is embedded, and the joint-corner
    size. Written beside a mesh (mesh.json) so that a reused one (mesh.file) is checked
    against the case."""
    h_min, growth, h_max = geometry.mesh_sizes(case, spot)
    if case.geometry.kind == "cad":  # as geometry.cad.build caps it (lay.scale: the diagonal)
        h_max = min(h_max, 0.1 * lay.scale)
    three_d = case.geometry.dim == 3
    zone = [float(v) for v in lay.zone[1:]] if three_d else [float(spot.radius_m)]
    return {"smallest_element_m": h_min, "growth": growth, "largest_element_m": h_max,
            "zone_m": zone, "zone_axis": [float(v) for v in lay.zone[0]] if three_d else None,
            "zone_depth_m": float(zone_depth),
            "spot_centre_m": [float(v) for v in lay.frame.origin] if three_d else None,
            "spot_edge_m": lay.rim if three_d else  # (a 2-D edge: with a deposition depth)
            (float(lay.embedded[0][1][0]) if lay.embedded else None),
            "joint_corner_m": float(getattr(lay, "corner_size", 0.0) or 0.0)}


def mesh_key(case: Case, prep: Prepared) -> str:
    """A name of a built mesh's inputs (geometry, split interfaces, layout, element sizes,
    deposition zone), equal in every process: a sweep's shared mesh file
    (simulation._mesh_cache_file), the mesh built ahead of a run (geometry.ahead)."""
    import hashlib

    inputs = _stable_repr((mesh_description(case), case.geometry.dim, prep.lay,
                           sorted(case.interfaces), geometry.mesh_sizes(case, prep.spot),
                           prep.spot.radius_m, prep.zone_depth))
    return hashlib.sha256(inputs.encode()).hexdigest()[:20]


def _stable_repr(x) -> str:
    """repr of the mesh inputs that is equal in every process: the elements of a set (the
    layout's interfaces are keyed by frozensets of two region names, whose order follows
    the string hashes, which differ from interpreter to interpreter) are sorted, and a
    function (the layout's face classifier) is named by its qualified name, not its
    address. Without this, new-interpreter workers and SLURM tasks named equal meshes
    differently about half the time and meshed again. A numpy array (the 3-D beam frame,
    the spot zone's axis) is named by its elements' full repr: numpy's own gives 8
    decimals, and layouts a few nm apart had the same name."""
    if isinstance(x, np.ndarray):
        return "array(" + _stable_repr(x.tolist()) + ")"
    if isinstance(x, (set, frozenset)):
        return "{" + ", ".join(sorted(_stable_repr(e) for e in x)) + "}"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{_stable_repr(k)}: {_stable_repr(v)}"
                               for k, v in x.items()) + "}"
    if isinstance(x, (list, tuple)):
        return type(x).__name__ + "(" + ", ".join(_stable_repr(e) for e in x) + ")"
    if dc.is_dataclass(x) and not isinstance(x, type):
        return type(x).__name__ + "(" + ", ".join(
            f"{f.name}={_stable_repr(getattr(x, f.name))}" for f in dc.fields(x)) + ")"
    if callable(x):
        return f"<{getattr(x, '__qualname__', type(x).__name__)}>"
    return repr(x)


def prepare(case: Case) -> Prepared:
    """Resolve a case without dolfinx and without writing anything.

    Raises:
        CaseError: a temperature of the case lies outside a material's data or above its
            melting point, the electron range exceeds the target stack, a probe lies outside
            the body, the schedule needs more than MAX_STEPS steps, or a reused mesh does not
            belong to this geometry.
    """
    check_input_temperatures(case)
    mats = region_materials(case)
    lay, spot, zone_depth = _layout_and_spot(case, mats)
    eta = backscatter_fraction(case, mats, spot)
    _check_probes(case, lay)
    _check_reference_temperature(case, mats)
    steps = plan_steps(case, spot, mats)
    if case.mesh.file:
        _check_reused_mesh(case, mesh_refinement(case, lay, spot, zone_depth))
    return Prepared(mats, eta, deposited_fraction(eta), lay, spot, zone_depth, steps,
                    plan_extra_focal(case, mats, spot, eta, getattr(lay, "frame", None)))


def backscatter_forward_shift(case: Case, mats, spot: Spot, frame) -> float:
    """s, the mean exit tangent of the backscatter along the beam's trace (electron tables:
    the spot's first layer or its table surrogate, kV, incidence); 0 at normal incidence,
    on axisymmetric models, with a given η_E or outside the tables (extra_focal.py)."""
    psi = incidence_deg(frame)
    if psi == 0.0 or case.beam.backscatter_energy_fraction is not None:
        return 0.0
    m = mats[spot.layers[0].region]
    try:
        table = kernel_source.table_material(m.key, m.atomic_number)
        return electron_kernels.load().backscatter_forward(table, case.beam.voltage_V, psi)[1]
    except electron_kernels.ElectronKernelRangeError:
        return 0.0


def plan_extra_focal(case: Case, mats, spot: Spot, eta: float,
                     frame=None) -> extra_focal.ExtraFocal:
    """The beam's energy balance and where the backscattered power lands (extra_focal.py):
    ε = k Z V with Z the deposited-share mean over the layers below the spot; on a 3-D face
    at oblique incidence the landing's centre moves forward along the beam's trace."""
    shares, _ = deposition_summary(spot)
    total = sum(shares.values()) or 1.0
    mean_Z = sum(s * mats[r].atomic_number for r, s in shares.items()) / total
    b = case.beam
    transmission = case.geometry.kind == "transmission"
    shift = 0.0 if transmission else backscatter_forward_shift(case, mats, spot, frame)
    return extra_focal.plan(b.extra_focal, eta, b.voltage_V, mean_Z, transmission,
                            faces_of(case.geometry), b.extra_focal_faces,
                            b.extra_focal_distance_m, shift,
                            frame.trace_angle() if frame is not None else 0.0)


def joint_corner_size(case: Case) -> float:
    """Element size (m) at the heat sink's joint corners of an axisymmetric mesh: the case's
    mesh.joint_corner_um, else limits.JOINT_CORNER_M where the run computes the heat sink's
    yield use (mechanics and a case.yield_region: monitors.Mechanics), else 0
    (none; always on 3-D meshes and on one-region geometries, which have no joint)."""
    sink = heat_sink_region(case.geometry)
    if case.mesh.joint_corner_m is not None:
        return case.mesh.joint_corner_m if sink is not None else 0.0
    if case.geometry.dim == 3 or case.mechanics is None or \
            yield_region(case.geometry, case.materials) is None:
        return 0.0
    from .limits import JOINT_CORNER_M

    return JOINT_CORNER_M


def mesh_of_the_run(case: Case):
    """The case's [mesh] with the joint-corner size resolved (joint_corner_size): for a copy
    of the case without its mechanics (the rating's thermal engine and FE runs) that must
    mesh as a run of the case does."""
    if case.mesh.joint_corner_m is not None:
        return case.mesh
    return dc.replace(case.mesh, joint_corner_m=joint_corner_size(case))


def _layout_and_spot(case: Case, mats):
    """(layout, spot, deposition depth in m); the 3-D layout gets the spot's zone."""
    three_d = case.geometry.dim == 3
    if three_d and case.mesh.joint_corner_m:
        raise CaseError(f"mesh.joint_corner_um = {case.mesh.joint_corner_m * 1e6:g}: expected "
                        "it only on axisymmetric geometries (3-D meshes are not refined at "
                        "the joint's corners); leave it out")
    if three_d:
        lay = {"user_mesh": geometry.user_mesh.user_layout,
               "cad": geometry.cad.layout}.get(case.geometry.kind,
                                               geometry.reflection3d.layout)(case)
        spot = make_spot(case, mats, lay.stack, lay.frame)
        if case.geometry.kind == "user_mesh":
            geometry.user_mesh.check_resolution(case, lay, spot)
    else:
        lay = geometry.axisym.layout(case, 0.5 * case.beam.size_m)
        spot = make_spot(case, mats, lay.stack)
        lay.corner_size = joint_corner_size(case)
        if lay.corner_size > 0:
            lay.corners = lay.joint_corners(heat_sink_region(case.geometry))
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
    return lay, spot, zone_depth


def probe_points(case: Case, lay) -> np.ndarray:
    """Probe coordinates (m): (x, y, z) on the 3-D face frame, (r, z) in 2-D."""
    if case.geometry.dim == 3:
        return np.array([lay.frame.point(p.r_m, p.depth_m) for p in case.probes]).reshape(-1, 3)
    return np.array([[p.r_m, lay.z_beam - p.depth_m] for p in case.probes]).reshape(-1, 2)


def probe_outside(case: Case, index: int, lay=None, inside=None) -> CaseError:
    """The error for a probe outside the body; with a layout it says how deep the body
    reaches at the probe's r_mm (or, where no depth is inside, how far it reaches).

    Args:
        case, index: the case and its probe's index.
        lay: the layout (None: the generic message).
        inside: 3-D: a callable of (n, 3) points (m) → bool array (n,), the body's cells
            (a run's mesh search); None: the layout's outline (a user mesh's or CAD part's:
            its bounding box).
    """
    p = case.probes[index]
    expected = "a point inside the body"
    if lay is not None and case.geometry.dim == 3:
        expected = _expected_3d(p, lay, inside)
    elif lay is not None and case.geometry.dim == 2:
        deepest = _depth_reached(lay, p.r_m)
        if deepest is None:
            r_max = max(x for poly in lay.regions.values() for x, _ in poly)
            expected = f"r_mm at most {r_max * 1e3:g} (the body's radius)"
        else:
            expected = (f"depth_mm at most {deepest * 1e3:.4g} at r_mm = {p.r_m * 1e3:g} (the "
                        "body's extent below the beam face there)")
    return CaseError(f"probes.{p.name}: (r_mm = {p.r_m * 1e3:g}, depth_mm = "
                     f"{p.depth_m * 1e3:g}) is outside the mesh; expected {expected}")


def _expected_3d(p, lay, inside) -> str:
    """What a 3-D probe outside the body should be (probe_outside): the depth the body
    reaches along −n at its r_mm on the face axis e₁, or, where no depth is inside, how far
    the face reaches from the spot along e₁ (lay.frame; the outline of a user mesh or CAD
    part is its bounding box, said so)."""
    fr, reach = lay.frame, 4.0 * lay.scale
    box = lay.bounds is not None and inside is None
    inside = inside or lay.contains_all
    body, face = ("the mesh's bounding box",) * 2 if box else ("the body", "the beam face")
    deepest = _last_inside(lambda d: inside(fr.origin + p.r_m * fr.e1 - np.multiply.outer(
        d, fr.normal)), 0.0, reach)
    if deepest is not None:
        return (f"depth_mm at most {deepest * 1e3:.4g} at r_mm = {p.r_m * 1e3:g} (how far "
                f"{body} reaches below the beam face there, along its normal)")
    skin = 1e-6 * lay.scale  # just below the face

    def on_face(r):
        return inside(fr.origin + np.multiply.outer(r, fr.e1) - skin * fr.normal)

    farthest = _last_inside(on_face, 0.0, reach)
    if farthest is None:
        return "a point inside the body"
    return (f"r_mm at most {farthest * 1e3:.4g} (how far {face} "
            "reaches from the spot along the beam face's axis e₁)")


def _last_inside(inside, a: float, b: float, rounds: int = 5) -> float | None:
    """The farthest x in [a, b] with inside(x) true, walking out from a (x = a must be
    inside, else None): the first run of 401 samples, then rounds of 101 samples between
    the last inside and the next, each a batch (one search of a run's mesh per round)."""
    xs = np.linspace(a, b, 401)
    ok = np.asarray(inside(xs), dtype=bool)
    if not ok[0]:
        return None
    out = np.flatnonzero(~ok)
    if not out.size:
        return float(b)
    lo, hi = xs[out[0] - 1], xs[out[0]]
    for _ in range(rounds):
        xs = np.linspace(lo, hi, 101)
        ok = np.asarray(inside(xs), dtype=bool)
        i = int(np.flatnonzero(~ok)[0]) if (~ok).any() else len(xs) - 1
        lo, hi = xs[max(i - 1, 0)], xs[i]
    return float(lo)


def _depth_reached(lay, r: float) -> float | None:
    """The greatest depth below the beam face (m) at which (r, depth) lies in the body of an
    axisymmetric layout: the deepest of 401 samples inside, bisected (40 halvings) towards
    the next one; None when no depth does."""
    bottom = min(z for poly in lay.regions.values() for _, z in poly)
    depths = np.linspace(0.0, lay.z_beam - bottom, 401)
    inside = [i for i, d in enumerate(depths) if lay.contains(r, lay.z_beam - d)]
    if not inside:
        return None
    i = inside[-1]
    if i == len(depths) - 1:
        return float(depths[i])
    lo, hi = depths[i], depths[i + 1]
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if lay.contains(r, lay.z_beam - mid) else (lo, mid)
    return float(lo)


def _check_probes(case: Case, lay) -> None:
    three_d = case.geometry.dim == 3
    for i, x in enumerate(probe_points(case, lay)):
        if not (lay.contains(x) if three_d else lay.contains(*x)):
            raise probe_outside(case, i, lay)
        if not three_d:
            _check_probe_off_split_interface(case, lay, i, x)


def _check_probe_off_split_interface(case: Case, lay, index: int, x) -> None:
    """A probe on an interface with a conductance (temperature jump) would read whichever
    side's cell the search finds first: on the shipped transmission film's W/diamond
    interface, the diamond's 157 °C where the W side was at 354 °C, without a word."""
    regions = lay.regions_at(*x)
    if len(regions) < 2:
        return
    name = lay.interfaces.get(frozenset(regions[:2]))
    if name is None or name not in case.interfaces:
        return  # a perfect contact: one temperature on both sides
    p = case.probes[index]
    raise CaseError(f"probes.{p.name}: (r_mm = {p.r_m * 1e3:g}, depth_mm = "
                    f"{p.depth_m * 1e3:g}) lies on the interface {name}, where the "
                    f"conductance_W_m2K = {case.interfaces[name]:g} makes the temperature "
                    f"jump between {regions[0]} and {regions[1]}; expected a point a little "
                    "inside one of them")


def check_probes_inside(case: Case) -> None:
    """What prepare (and so `check`) finds of the probes, without the electron tables and
    the time plan: a probe outside the body of a parametric geometry, against its outline
    (microseconds a case; a sweep's --list and its cases' validation use it). A user mesh's
    or a CAD part's probes are left to prepare, whose layout reads the file.

    Raises:
        CaseError: a probe lies outside the body (or the layout refuses the geometry).
    """
    if not case.probes or case.geometry.kind in USER_GEOMETRIES:
        return
    if case.geometry.dim == 3:
        lay = geometry.reflection3d.layout(case)
    else:
        lay = geometry.axisym.layout(case, 0.5 * case.beam.size_m)
    _check_probes(case, lay)


def _input_temperatures(case: Case) -> list[tuple[str, float]]:
    """(key, K) of every temperature the case gives that the body starts at or relaxes
    towards: the initial temperature, the faces' fixed, fluid and surroundings
    temperatures, the coolant circuit's ambient and initial temperatures."""
    out = [("initial.temperature_C", case.initial_temperature_K)]
    out += [(f"boundaries.{face}.temperature_C", b.temperature_K)
            for face, b in case.boundaries.items() if b.temperature_K is not None]
    if case.coolant_circuit is not None:
        c = case.coolant_circuit
        out += [("coolant_circuit.ambient_C", c.ambient_K),
                ("coolant_circuit.initial_C", c.initial_K)]
    return out


def check_input_temperatures(case: Case) -> None:
    """Every temperature the case gives (_input_temperatures) must lie inside the data of
    every material of the case, at most its melting point: the body starts at the initial
    temperature and, wherever it is not heated, relaxes towards the faces' and the
    coolant's, so any region may reach them. The tables are those the run evaluates: k, cp
    and ρ, with α, E and ν when the thermoelastic stage is on; with constant properties the
    initial temperature, at which they are all taken, against every table and the others
    against the melting points alone. Temperatures the run reaches by heating are not
    input: leaving a table then stays a run failure.

    Raises:
        CaseError: the first temperature outside, naming its key, the material and the
            range of every material.
    """
    props = ("k", "cp", "rho") + (("alpha", "E", "nu") if case.mechanics is not None else ())
    mats = list(region_materials(case, frozen=False).values())
    for key, T in _input_temperatures(case):
        tables = props
        if not case.materials.temperature_dependent:  # all taken at the initial temperature
            tables = tuple(mat_lib.PROPERTY_KEYS) if key == "initial.temperature_C" else ()
        spans: dict[str, tuple[float, float]] = {}  # material key → (lowest, highest) K
        for m in mats:
            lo = max((m.tables[p].range_K[0] for p in tables), default=0.0)
            hi = min([m.tables[p].range_K[1] for p in tables] + [m.melting_K])
            if m.key in spans:  # (in two regions with other overrides: the narrower span)
                lo, hi = max(lo, spans[m.key][0]), min(hi, spans[m.key][1])
            spans[m.key] = (lo, hi)
        bad = {m.key: m for m in mats
               if not spans[m.key][0] - 1e-9 <= T <= spans[m.key][1] + 1e-9}
        if not bad:
            continue
        molten = [m for m in bad.values() if T > m.melting_K + 1e-9]
        why = "above " + ", ".join(
            f"the {mat_lib.MELTING_WORDS[m.melting_kind]} of {m.key} "
            f"({m.melting_K - ZERO_CELSIUS_K:g} °C)" for m in molten) if molten else \
            f"outside the data of {', '.join(bad)}"
        C = ZERO_CELSIUS_K
        if tables:
            expected = "within every material's data, at most its melting point (" + ", ".join(
                f"{k}: {lo - C:g} to {hi - C:g} °C" for k, (lo, hi) in spans.items()) + ")"
        else:
            expected = "at most every material's melting point (" + ", ".join(
                f"{k}: {hi - C:g} °C" for k, (_, hi) in spans.items()) + ")"
        raise CaseError(f"{key} = {T - C:g}: {why}; expected a temperature {expected}")


def _check_reference_temperature(case: Case, mats) -> None:
    """The stress-free temperature must lie inside every material's data."""
    if case.mechanics is None:
        return
    T_ref = case.mechanics.reference_temperature_K
    for m in mats.values():
        for t in (m.rho, m.alpha, m.E, m.nu):
            lo, hi = t.range_K
            if not lo <= T_ref <= min(hi, m.melting_K):
                # named both ways: unless given, it is initial.temperature_C
                raise CaseError(f"mechanics.reference_temperature_C = {T_ref - 273.15:g} (the "
                                "stress-free temperature; initial.temperature_C unless given): "
                                f"outside the {m.key} data ({lo - 273.15:.0f} to "
                                f"{min(hi, m.melting_K) - 273.15:.0f} °C)")


#: What mesh_refinement's entries are, for the message that names one that differs, and
#: the inputs they come from.
_REFINEMENT_WORDS = {
    "smallest_element_m": "smallest element (mesh.spot_fraction × the spot size, at most a "
    "quarter of the deposition depth and half a transmission film)",
    "growth": "growth (mesh.growth)",
    "largest_element_m": "largest element (mesh.max_size_mm, else a tenth of the body; a CAD "
    "part's at most a tenth of its diagonal)",
    "zone_m": "refined zone (the spot with its electrons' lateral spread: the beam's size "
    "and shape, beam.voltage_kV, the target)",
    "zone_axis": "refined zone's long axis (beam.orientation_deg, the beam direction)",
    "zone_depth_m": "refined depth (the deposition depth: beam.voltage_kV, the target)",
    "spot_centre_m": "spot centre (geometry.impact_point_mm, the anode angle)",
    "spot_edge_m": "flat-top spot edge (beam.spot, its size)",
    "joint_corner_m": "joint-corner element (mesh.joint_corner_um; by default 12.5 µm where "
    "the run computes the heat sink's yield use)"}


def _check_reused_mesh(case: Case, refinement: dict) -> None:
    """mesh.file must have been written by a run of the same geometry and interfaces, and
    refined as this case would be (what a mesh's description does not record, an earlier
    version's, is not checked). Its joint corners may be refined where this case does
    not need them (a run without mechanics on the mesh of one with them)."""
    sidecar = Path(case.mesh.file).with_suffix(".json")
    try:
        built_for = json.loads(sidecar.read_text())
        if not isinstance(built_for, dict):  # [1]: "internal error" (AttributeError)
            raise ValueError(sidecar)
    except (OSError, ValueError):
        raise CaseError(f"mesh.file = {case.mesh.file!r}: expected a mesh written by an "
                        f"anodesim run, with its description {sidecar.name} beside it") from None
    want = mesh_description(case)
    built_for.setdefault("anode_angle_rad", 0.0)  # (not recorded by early versions)
    for key, value in want.items():
        if key in ("step_sha256", "groups") and key not in built_for:
            continue  # (not recorded before CAD parts were described)
        had = built_for.get(key)
        if not _equal(had, value):
            what = {"step_sha256": "STEP content (sha256)", "split_interfaces":
                    "split interfaces (those with a conductance)"}.get(key, key)
            raise CaseError(f"mesh.file = {case.mesh.file!r}: built for another geometry or "
                            f"other interfaces: its {what} is {had!r}, this case has "
                            f"{value!r}; expected a mesh of this case's geometry (leave "
                            "mesh.file out to mesh again)")
    built = built_for.get("refinement")
    for key, value in refinement.items() if isinstance(built, dict) else ():
        had = built.get(key)
        if key == "largest_element_m" and (had is None or isinstance(had, float)
                                           and not math.isfinite(had)):
            continue  # (a CAD part's, recorded unbounded before its cap was)
        finer_corners = key == "joint_corner_m" and value == 0.0 and \
            isinstance(had, (int, float))  # refined where this case needs no refinement
        turned = key == "zone_axis" and isinstance(value, list) and \
            _equal(had, [-v for v in value])  # a box's axis either way: the same mesh
        if key not in built or finer_corners or turned or _equal(had, value):
            continue
        a, b = _shown(key, had, value)
        hint = ""
        if key == "joint_corner_m" and isinstance(had, (int, float)):
            hint = (f" or set mesh.joint_corner_um = {had * 1e6:g}" if had > 0 else
                    " or set mesh.joint_corner_um = 0, for a yield use about 8 % low")
        raise CaseError(f"mesh.file = {case.mesh.file!r}: its {_REFINEMENT_WORDS[key]} is {a}, "
                        f"this case needs {b}; expected a mesh built for this case (leave "
                        f"mesh.file out to mesh again{hint})")


def _equal(a, b) -> bool:
    """Numbers (or lists or dicts of them, or strings, or None) equal to round-off (a JSON
    round trip)."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-15)
    return a == b if isinstance(a, str) or a is None else False


def _shown(key: str, *values) -> list[str]:
    """Refinement entries for a message (lengths in µm, a position in mm; "none"), with
    as many digits as it takes to tell them apart (up to 12)."""
    scale, unit = {"spot_centre_m": (1e3, " mm")}.get(
        key, (1e6, " µm") if key.endswith("_m") else (1.0, ""))

    def text(v, digits):
        if isinstance(v, list):  # (a hand-edited description's entries may be anything)
            return ", ".join(f"{x * scale:.{digits}g}" if isinstance(x, (int, float)) else
                             repr(x) for x in v) + unit
        if not isinstance(v, (int, float)) or (key == "joint_corner_m" and v == 0.0):
            return "none"
        return f"{v * scale:.{digits}g}{unit}"

    for digits in range(4, 13):
        shown = [text(v, digits) for v in values]
        if len(set(shown)) == len(shown):
            break
    return shown
