"""Frames in the tube: the beam, the target face and the view axis (pure numpy).

Case validation, the 3-D geometry and the drift map all use these; this module imports
nothing of the package, so none of them has to import another for a direction.

Tube frame: the anode rod lies along z, cooled at z = 0. The end face is tilted by the anode
angle θ about the y axis:

    outward face normal  n  = (sin θ, 0, cos θ)
    face axes            e₁ = (cos θ, 0, −sin θ)   (down the slope),   e₂ = (0, 1, 0)

The electron beam travels along b: by default along the rod axis, b = (0, 0, −1), when
θ = 0, and across it, b = (−1, 0, 0), when θ > 0. The view axis v points from the spot to
the detector (the central ray).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


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


def view_direction(angle_rad: float, take_off_rad: float, azimuth_rad: float = 0.0,
                   frame=None):
    """Unit view axis (spot → detector) leaving the face at the take-off angle τ above it,
    its trace on the face at the azimuth φ from e₁ towards e₂:
    v = sin τ · n + cos τ · (cos φ · e₁ + sin φ · e₂), on the face of the given anode angle
    or, if given, of the BeamFrame (user meshes)."""
    if frame is None:
        (e1, e2), n = face_axes(angle_rad), face_normal(angle_rad)
    else:
        e1, e2, n = frame.e1, frame.e2, frame.normal
    v = math.sin(take_off_rad) * n + math.cos(take_off_rad) * (
        math.cos(azimuth_rad) * e1 + math.sin(azimuth_rad) * e2)
    return [float(c) for c in v]


def beam_direction(angle_rad: float, given=None) -> np.ndarray:
    """Unit travel direction of the electrons: the given one, else the default (module doc)."""
    if given is not None:
        b = np.asarray(given, dtype=float)
        return b / np.linalg.norm(b)
    return np.array([0.0, 0.0, -1.0]) if angle_rad == 0.0 else np.array([-1.0, 0.0, 0.0])


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
    if abs(v @ n) < np.sin(np.radians(0.5)):
        raise DriftInputError("view_direction: the view axis lies in the target surface "
                              "(take-off angle below 0.5°); no X-rays leave along it")
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
        t = self.beam - (self.beam @ self.normal) * self.normal
        if np.linalg.norm(t) < 1e-12:
            return 0.0
        return math.atan2(float(t @ self.e2), float(t @ self.e1))

    def point(self, along_e1: float, depth: float) -> np.ndarray:
        """The point at along_e1 on the face axis e₁ and depth below the face (m)."""
        return self.origin + along_e1 * self.e1 - depth * self.normal
