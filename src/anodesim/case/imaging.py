"""The [mounts], [mechanics] and [drift] tables: how the anode is held and the imaging
geometry of the drift map, checked with the pure-numpy frames (no drift or geometry module).
"""

from __future__ import annotations

import math

import numpy as np

from ..frames import (GRAZING_DEG, DriftInputError, central_ray, check_imaging, rod_frame,
                      view_direction)
from .model import MOUNT_TYPES, USER_GEOMETRIES, Beam, DriftSettings, Geometry, Mechanics, faces_of
from .reader import CaseError, _celsius, _fail, _Section, _vector
from .tables import _check_face


def _mechanics(root: _Section, geometry: Geometry, beam_cfg: Beam,
               T_init: float) -> Mechanics | None:
    """Mounts, free body, stress-free temperature and imaging geometry; None without any of
    [mounts], [mechanics], [drift]."""
    if not (root.has("mounts") or root.has("mechanics") or root.has("drift")):
        return None
    mounts, free, T_ref, reference = _mounts(root, geometry)
    drift = _drift(root, geometry, beam_cfg) if root.has("drift") else None
    return Mechanics(mounts, free, T_ref if T_ref is not None else T_init, drift, reference)


def _mounts(root: _Section, geometry: Geometry):
    """(mounts face → kind, free body, stress-free temperature in K or None, the reference
    face of the displacements: mechanics.reference_face, by default the housing's
    mount_face)."""
    normals = faces_of(geometry)
    mounts = {}
    sec = root.section("mounts", {})
    for face in sec.data:
        _check_face("mounts", face, tuple(normals))
        m = sec.section(face)
        kind = m.choice("type", MOUNT_TYPES)
        m.close()
        if kind == "sliding" and normals[face] is None:
            raise _fail(f"mounts.{face}.type", kind,
                        "\"clamped\" (a sliding mount needs a plane face)")
        mounts[face] = kind
    sec.allowed.update(sec.data)
    mech = root.section("mechanics", {})
    free = mech.boolean("free", False)
    T_ref = _celsius(mech, "reference_temperature_C", None)
    reference = "mount_face" if "mount_face" in normals else None
    if mech.has("reference_face"):
        reference = mech.string("reference_face")
        if reference not in normals:
            raise _fail("mechanics.reference_face", reference,
                        "a face of the geometry: " + ", ".join(normals))
    mech.close()
    axial = any(k == "clamped" or normals[f] == "z" for f, k in mounts.items())
    if free and geometry.dim == 3:
        raise CaseError("mechanics.free = true: free bodies are supported on axisymmetric "
                        "geometries only; expected [mounts] (e.g. cooled_end clamped)")
    if free and "mount_face" in normals:
        raise CaseError("mechanics.free = true: a tube with a housing is held by its mount_face; "
                        "expected [mounts] mount_face (clamped or sliding)")
    if free and mounts:
        raise CaseError("mechanics.free = true: a free body has no mounts; remove [mounts] "
                        "or set free = false")
    if not free and not axial:
        raise CaseError("mounts: " + (", ".join(f"{f} = {k}" for f, k in mounts.items())
                                      or "none") +
                        ": the body is free to move along the axis; expected a clamped face "
                        "or a sliding face normal to the axis, or mechanics.free = true")
    return mounts, free, T_ref, reference


def _drift(root: _Section, geometry: Geometry, beam_cfg: Beam) -> DriftSettings:
    """The [drift] table: view axis, distances (m), pixel size (m) and the detector radius of
    the off-axis shift (m), checked against the beam and the target face (frames.py)."""
    d = root.section("drift")
    beam = _vector(d, "beam_direction", [0.0, 0.0, -1.0])
    take_off = None
    if geometry.dim == 3 and d.has("take_off_angle_deg"):
        if d.has("view_direction"):
            raise CaseError("drift: give the view axis as view_direction or as "
                            "take_off_angle_deg (with view_azimuth_deg), not both")
        take_off = (math.radians(d.number("take_off_angle_deg", lo=0.5, hi=90.0,
                                          expected="a take-off angle in [0.5, 90] degrees")),
                    math.radians(d.number("view_azimuth_deg", 0.0, lo=-360.0, hi=360.0,
                                          expected="an angle in degrees")))
    if geometry.kind == "reflection_3d":
        frame = rod_frame(geometry.anode_angle_rad, beam_cfg.entry, 0.0)
        if take_off is not None:
            view = tuple(view_direction(frame, *take_off))
        elif d.has("view_direction"):
            view = _vector(d, "view_direction")
        else:
            view = _central_ray(frame, geometry)
    else:
        view = None if take_off is not None else _vector(d, "view_direction")
    sod, sdd, pixel = _distances(d)
    _object_beyond_window(sod, geometry)
    radius = _distance_mm(d, "detector_radius_mm", None)
    d.close()
    if geometry.kind in USER_GEOMETRIES:  # the face normal is known once the mesh is read
        _check_case_beam(d, beam, beam_cfg.direction, "beam.direction")
        return DriftSettings(tuple(beam_cfg.direction), view or (0.0, 0.0, 0.0), sod, sdd,
                             pixel, take_off, radius)
    beam, normal = _beam_and_normal(d, geometry, beam_cfg, beam, view)
    try:
        check_imaging(beam, normal, view, sod, sdd, pixel)
    except DriftInputError as e:
        raise _imaging_error(e, beam, view) from None
    return DriftSettings(beam, view, sod, sdd, pixel, None, radius)


def _imaging_error(e: DriftInputError, beam, view) -> CaseError:
    """The drift map's complaint as one CaseError line naming the key and its value."""
    key = str(e).split(":")[0]
    value = {"beam_direction": [float(c) for c in beam],
             "view_direction": [round(float(c), 6) for c in view]}.get(key)
    return CaseError(f"drift.{key} = {value!r}: {str(e).split(': ', 1)[-1]}")


def _central_ray(frame, geometry: Geometry) -> tuple[float, float, float]:
    """The default view of a 3-D rod: the textbook central ray (frames.central_ray)."""
    c = central_ray(frame.beam, frame.normal)
    if c is None or math.degrees(geometry.anode_angle_rad) < GRAZING_DEG:
        raise CaseError(f"drift: geometry.anode_angle_deg = "
                        f"{math.degrees(geometry.anode_angle_rad):g} puts the central ray "
                        "(perpendicular to the beam) in the target face; expected "
                        "drift.view_direction or drift.take_off_angle_deg")
    return tuple(float(x) for x in c)


#: Source-detector distance and detector radius (mm) taken: 0.1 mm to 10 m (five times a
#: long CT system's 2 m). ΔM/M is the drift along the view over the source-object distance:
#: 1e-300 mm made it 1e300.
DISTANCE_MM = (0.1, 1e4)
#: Source-object distances (mm) taken: from 1 µm, since projection microscopy puts the
#: object ~0.1 mm from the spot and closer on a thin-foil or membrane target, or on an SEM's
#: post or lamella target (US 10,746,672: the sample between it and the detector), to 10 m. A
#: transmission target's object is also beyond its exit face (SOD at least the film and
#: window thickness, _object_beyond_window): 0.02 (20 mm given in m) on a 0.1-0.5 mm window
#: is refused there. Other geometries do not say where the tube's window is.
SOURCE_OBJECT_MM = (1e-3, 1e4)
#: Detector pixels (µm) taken: 0.1 µm to 1 cm (flat panels 50-200 µm, optically coupled
#: cameras a few µm); 1e-300 µm made the image drift 1e300 px, and 0.05 (a 50 µm pixel
#: given in mm) is refused.
PIXEL_UM = (0.1, 1e4)


def _distance_mm(d: _Section, key: str, default=..., bounds=DISTANCE_MM) -> float | None:
    """An imaging distance in mm (within bounds, mm), in m."""
    v = d.number(key, default, lo=bounds[0], hi=bounds[1],
                 expected=f"a distance in mm from {bounds[0]:g} to {bounds[1]:g}")
    return None if v is None else v * 1e-3


def _object_beyond_window(sod: float, geometry: Geometry) -> None:
    """A transmission target's object lies beyond the window's exit face: its distance from
    the spot (on the film's beam face) is at least the film and window thickness (m)."""
    if geometry.kind != "transmission":
        return
    s = geometry.sizes_m
    through = s["target_thickness_m"] + s["window_thickness_m"]
    if sod < through * (1.0 - 1e-12):
        raise _fail("drift.source_object_mm", float(f"{sod * 1e3:.12g}"),  # (the mm given)
                    f"at least the film and window thickness, {through * 1e3:g} mm (the "
                    "object lies beyond the window's exit face)")


def _distances(d: _Section) -> tuple[float, float, float]:
    """(source-object, source-detector, pixel size) in m."""
    sod = _distance_mm(d, "source_object_mm", bounds=SOURCE_OBJECT_MM)
    if d.has("source_detector_mm") == d.has("magnification"):
        raise CaseError("drift: give exactly one of source_detector_mm or magnification")
    if d.has("magnification"):
        M = d.number("magnification", lo=1.0, hi=1e6, expected="a magnification in (1, 1e6]")
        if M <= 1.0:
            raise _fail("drift.magnification", M, "a magnification > 1")
        sdd = M * sod
        if sdd > DISTANCE_MM[1] * 1e-3 * (1.0 + 1e-12):  # 1e6 at 20 mm: a detector 20 km away
            # the largest M rounded down to 4 digits (".4g" said "at most 1429" at 7 mm, which
            # it refused, and "1e+04 mm here, is at most 10000 mm")
            m_max = DISTANCE_MM[1] / (sod * 1e3) * (1.0 + 1e-12)
            scale = 10.0 ** (3 - math.floor(math.log10(m_max)))
            raise _fail("drift.magnification", M,
                        f"a magnification whose source-detector distance, M × "
                        f"source_object_mm = {sdd * 1e3:.8g} mm here, is at most "
                        f"{DISTANCE_MM[1]:g} mm (at most {math.floor(m_max * scale) / scale:g})")
    else:
        sdd = _distance_mm(d, "source_detector_mm")
        if sdd <= sod:
            raise _fail("drift.source_detector_mm", sdd * 1e3,
                        "more than drift.source_object_mm")
    pixel = d.number("pixel_size_um", lo=PIXEL_UM[0], hi=PIXEL_UM[1],
                     expected=f"a pixel size in µm from {PIXEL_UM[0]:g} to {PIXEL_UM[1]:g}") * 1e-6
    return sod, sdd, pixel


def _check_case_beam(d: _Section, beam, case_beam, set_by: str) -> None:
    """A 3-D drift.beam_direction must be the case's beam (set_by names the key that sets
    it): the drift map takes the case's, so another one would be ignored in silence."""
    b_case = np.asarray(case_beam, dtype=float) / np.linalg.norm(case_beam)
    if d.has("beam_direction") and np.linalg.norm(
            np.asarray(beam) / np.linalg.norm(beam) - b_case) > 1e-9:
        raise _fail("drift.beam_direction", list(beam),
                    f"the beam direction of the case {[round(float(c), 6) for c in b_case]} "
                    f"(set by {set_by})")


def _beam_and_normal(d: _Section, geometry: Geometry, beam_cfg: Beam, beam, view):
    """(beam direction, face normal) of the drift map; the view axis must leave the face."""
    v = np.asarray(view) / np.linalg.norm(view)
    if geometry.dim == 3:
        frame = rod_frame(geometry.anode_angle_rad, beam_cfg.entry, 0.0)
        normal, b_case = frame.normal, frame.beam
        _check_case_beam(d, beam, b_case, "beam.entry")
        if v @ normal < np.sin(np.radians(GRAZING_DEG)):
            raise _fail("drift.view_direction", [round(float(c), 6) for c in view],
                        f"a central ray that leaves the target face (take-off angle above "
                        f"{GRAZING_DEG:g}°)")
        return tuple(float(c) for c in b_case), normal
    normal = np.array([0.0, 0.0, 1.0])
    outward = -1.0 if geometry.kind == "transmission" else 1.0  # through the window
    if outward * v[2] < np.sin(np.radians(0.5)):
        side = ("through the window (z < 0)" if geometry.kind == "transmission"
                else "out of the target face (z > 0)")
        raise _fail("drift.view_direction", list(view),
                    f"a central ray that leaves {side} at more than 0.5°")
    b = np.asarray(beam) / np.linalg.norm(beam)
    if abs(b[0]) > 1e-9 or abs(b[1]) > 1e-9:
        raise _fail("drift.beam_direction", list(beam),
                    "the anode axis [0, 0, -1] (axisymmetric geometries take the beam "
                    "along the axis)")
    return beam, normal
