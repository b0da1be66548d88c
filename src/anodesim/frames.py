"""Frames in the tube: the beam, the target face and the view axis (pure numpy).

Case validation, the 3-D geometry and the drift map all use these; this module imports
nothing of the package, so none of them has to import another for a direction.

Tube frame: the anode rod lies along z, cooled at z = 0. The end face is cut at the angle α
about the y axis:

    outward face normal  n  = (sin α, 0, cos α)
    face axes            e₁ = (cos α, 0, −sin α)   (down the slope),   e₂ = (0, 1, 0)

The anode angle θ of a case is the textbook target angle (e.g. Bushberg et al., The
Essential Physics of Medical Imaging, 3rd ed., §6.1, "anode angle": the angle between the
target face and the central ray, the central ray being perpendicular to the electron beam).
With the central ray c ⊥ b in the plane of b and n, the face meets c at θ exactly when the
beam meets the face θ from its normal, so θ is also the angle of incidence ψ:

- ``entry = "axial"`` (default): the beam runs along the rod, b = (0, 0, −1); cut α = θ;
  central ray c = (1, 0, 0) (θ > 0).
- ``entry = "side"``: the beam crosses the rod, b = (−1, 0, 0); cut α = 90° − θ; central ray
  c = (0, 0, 1).

The view axis v points from the spot to the detector (by default the central ray). Views
that run back up the beam into the cathode and electron optics (within CATHODE_CONE_DEG of
−b) or leave the face below GRAZING_DEG are refused.

Detector axes (signed drift components): the image axis ``v`` is the beam direction
projected on the detector plane (the anode–cathode axis of the image, pointing the way the
electrons travel); ``u = v × view`` completes a right-handed (u, v, view) frame. The spot
moves along b only, so for a fixed beam its drift lies along ``v``; ``u`` is reported so that a
user's detector frame can be matched. When the view runs along the beam (a transmission
target seen through its window) the tube's x axis projected on the detector takes b's place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


#: Smallest take-off angle of a view axis above the target face (°): below it the X-rays
#: graze the face and the model's point source is meaningless (kept from the pre-issue-14
#: check).
GRAZING_DEG = 0.5
#: Half-angle of the cone around −b (back up the beam) refused for a view axis (°): that is
#: where the cathode head and the electron optics sit (an assumption from typical tube
#: layouts, recalled: a cathode cup or lens bore several mm wide some 10 mm from the spot
#: subtends about ±20°).
CATHODE_CONE_DEG = 20.0
ENTRIES = ("axial", "side")


class DriftInputError(ValueError):
    """Imaging geometry that cannot be right (beam missing the target, view along it).

    The message starts with the key at fault (``beam_direction: …``)."""


def unit(v) -> np.ndarray:
    """v / |v|.

    Raises:
        DriftInputError: v is zero or not finite.
    """
    v = np.asarray(v, dtype=float)
    n = np.linalg.norm(v)
    if not np.isfinite(n) or n == 0:
        raise DriftInputError(f"{list(v)} is not a direction")
    return v / n


def face_normal(angle_rad: float) -> np.ndarray:
    """Outward unit normal of the end face tilted by the anode angle (rad)."""
    return np.array([math.sin(angle_rad), 0.0, math.cos(angle_rad)])


def face_axes(angle_rad: float) -> tuple[np.ndarray, np.ndarray]:
    """In-plane unit axes (e₁ down the slope, e₂ = y) of the end face."""
    return np.array([math.cos(angle_rad), 0.0, -math.sin(angle_rad)]), np.array([0.0, 1.0, 0.0])


def textbook(angle_rad: float, entry: str = "axial") -> tuple[float, np.ndarray]:
    """(face cut α in rad, beam direction b) of a rod anode with the textbook target angle θ
    (module doc): axial entry α = θ, b = −z; side entry α = 90° − θ, b = −x."""
    if entry == "side":
        return 0.5 * math.pi - angle_rad, np.array([-1.0, 0.0, 0.0])
    return angle_rad, np.array([0.0, 0.0, -1.0])


def trace_axis(beam, normal, e1) -> np.ndarray:
    """Unit direction of the beam's trace on the face (e₁ at normal incidence)."""
    b, n = np.asarray(beam, dtype=float), np.asarray(normal, dtype=float)
    t = b - (b @ n) * n
    return t / np.linalg.norm(t) if np.linalg.norm(t) > 1e-12 else np.asarray(e1, dtype=float)


def view_direction(frame, take_off_rad: float, azimuth_rad: float = 0.0):
    """Unit view axis (spot → detector) leaving the face at the take-off angle τ above it,
    its trace on the face at the azimuth φ from the beam's trace t (towards n × t):
    v = sin τ · n + cos τ · (cos φ · t + sin φ · n × t). At φ = 0 the view lies in the
    beam–normal plane on the side the beam travels to; with τ = θ on a textbook anode it is
    the central ray (perpendicular to the beam).

    Args:
        frame: the BeamFrame of the face (normal, e1, beam).
    """
    n = frame.normal
    t = trace_axis(frame.beam, n, frame.e1)
    v = math.sin(take_off_rad) * n + math.cos(take_off_rad) * (
        math.cos(azimuth_rad) * t + math.sin(azimuth_rad) * np.cross(n, t))
    return [float(c) for c in v]


def central_ray(beam, normal) -> np.ndarray | None:
    """The textbook central ray: perpendicular to the beam, in the beam–normal plane,
    leaving the face; None at normal incidence (it would lie in the face)."""
    b, n = unit(beam), unit(normal)
    c = n - (n @ b) * b
    if np.linalg.norm(c) < math.sin(math.radians(GRAZING_DEG)):
        return None
    return c / np.linalg.norm(c)


def beam_direction(given=None) -> np.ndarray:
    """Unit travel direction of the electrons: the given one, else along the rod (−z)."""
    if given is not None:
        b = np.asarray(given, dtype=float)
        return b / np.linalg.norm(b)
    return np.array([0.0, 0.0, -1.0])


def detector_axes(beam, view) -> tuple[np.ndarray, np.ndarray]:
    """Unit image axes (u, v) on the detector plane (module doc): v along the beam's
    projection (the tube's x axis, else y, when the view runs along the beam), u = v × view."""
    b, w = unit(beam), unit(view)
    for ref in (b, np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])):
        p = ref - (ref @ w) * w
        if np.linalg.norm(p) > 1e-6:
            break
    v = p / np.linalg.norm(p)
    return np.cross(v, w), v


def projected_length(axis, view) -> float:
    """Length seen along the view of a unit segment along the axis (−): |axis × view|."""
    return float(np.linalg.norm(np.cross(unit(axis), unit(view))))


def check_imaging(beam, normal, view, sod_m: float, sdd_m: float, pixel_m: float):
    """Normalised (b, n, v) of an imaging geometry that can be right: the beam b travels
    from the cathode into the target, whose outward normal at the impact point is n; the
    view axis v runs from the spot to the detector, the source-object and source-detector
    distances and the pixel size are in m (the attributes of drift.DriftMap).

    Raises:
        DriftInputError: the beam does not hit the surface from outside, the view axis lies in
            the target surface, or a distance is not positive.
    """
    b, n, v = unit(beam), unit(normal), unit(view)
    if b @ n > -1e-6:
        raise DriftInputError("beam_direction: the beam travels along or away from the "
                              "target surface, so it misses the target")
    if abs(v @ n) < np.sin(np.radians(GRAZING_DEG)):
        raise DriftInputError(f"view_direction: the view axis lies in the target surface "
                              f"(take-off angle below {GRAZING_DEG:g}°); no X-rays leave "
                              "along it")
    if -(v @ b) > np.cos(np.radians(CATHODE_CONE_DEG)):
        raise DriftInputError(
            f"view_direction: the view axis runs back up the beam, "
            f"{math.degrees(math.acos(min(1.0, -(v @ b)))):.3g}° from −b (less than "
            f"{CATHODE_CONE_DEG:g}°): it looks into the cathode and electron optics; expected "
            "a central ray at least that far from the beam's way back")
    if not (sod_m > 0 and sdd_m > sod_m and pixel_m > 0):
        raise DriftInputError("distances must satisfy 0 < source_object < source_detector "
                              "and pixel_size > 0")
    return b, n, v


@dataclass
class BeamFrame:
    """Where the beam hits and the face coordinates there (tube frame, m).

    Attributes:
        origin: impact point c.
        normal: outward face normal n.
        e1, e2: in-plane face axes.
        beam: electron travel direction b.
    """

    origin: np.ndarray
    normal: np.ndarray
    e1: np.ndarray
    e2: np.ndarray
    beam: np.ndarray

    @property
    def incidence_cos(self) -> float:
        """cos ψ = −b·n, ψ the angle of incidence from the face normal."""
        return float(-self.beam @ self.normal)

    def trace_angle(self) -> float:
        """Angle (from e₁ towards e₂) of the beam's trace on the face (0 at normal
        incidence)."""
        t = trace_axis(self.beam, self.normal, self.e1)
        return math.atan2(float(t @ self.e2), float(t @ self.e1))

    def point(self, along_e1: float, depth: float) -> np.ndarray:
        """The point at along_e1 on the face axis e₁ and depth below the face (m)."""
        return self.origin + along_e1 * self.e1 - depth * self.normal


def rod_frame(angle_rad: float, entry: str, length_m: float) -> BeamFrame:
    """The beam frame of the 3-D rod anode: textbook target angle θ (rad), beam entry
    ("axial" or "side"), impact point on the rod axis at z = length_m (module doc)."""
    cut, b = textbook(angle_rad, entry)
    e1, e2 = face_axes(cut)
    return BeamFrame(np.array([0.0, 0.0, length_m]), face_normal(cut), e1, e2, b)


def footprint_view(frame: BeamFrame, shape: str, size_m: float, size2_m: float | None,
                   angle_rad: float, view) -> dict:
    """The beam's footprint on the face and the effective focal spot seen along the view.

    The footprint's axes in the face are u (at angle_rad from e₁ towards e₂; for a round spot
    the beam's trace) and w = n × u, with the spot's nominal sizes along them (FWHM, a flat
    top's diameter, a line's length along u). Seen along the unit view axis v, a segment of
    length L along an in-face axis a appears L |a × v| long (the line-focus principle: on a
    textbook anode the footprint's length along the trace shrinks by sin θ towards the
    central ray).

    Args:
        frame: the face frame.
        shape, size_m, size2_m, angle_rad: the Spot (beam.Spot) on the face (m, rad).
        view: the view axis, or None (no effective spot reported).

    Returns:
        incidence_deg, footprint_um [along u, along w], footprint_u_axis, effective_spot_um
        [along u, along w] (or None), view_direction (or None).
    """
    n = frame.normal
    if shape in ("gaussian", "flat_top"):
        u_ax = trace_axis(frame.beam, n, frame.e1)
        sizes = (size_m, size_m)
    else:
        u_ax = math.cos(angle_rad) * frame.e1 + math.sin(angle_rad) * frame.e2
        sizes = (size2_m, size_m) if shape == "line" else (size_m, size2_m)
    w_ax = np.cross(n, u_ax)
    out = {"incidence_deg": math.degrees(math.acos(min(1.0, frame.incidence_cos))),
           "footprint_um": [s * 1e6 for s in sizes],
           "footprint_u_axis": [round(float(c), 12) for c in u_ax],
           "effective_spot_um": None, "view_direction": None}
    if view is not None:
        out["effective_spot_um"] = [sizes[0] * 1e6 * projected_length(u_ax, view),
                                    sizes[1] * 1e6 * projected_length(w_ax, view)]
        out["view_direction"] = [round(float(c), 12) for c in unit(view)]
    return out
