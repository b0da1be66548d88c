"""Drift map: from the thermoelastic displacement of the target surface to where the focal
spot goes, at the source and on the detector.

Frame: the tube frame, 3 components (x, y, z); for axisymmetric models x is the radial
direction of the plane in which the view axis lies and z the axis. Vectors are normalised.

- The beam is fixed in space along b; when the target surface at the spot moves by u
  (emission-weighted mean over the deposition region), the impact point slides along the
  beam by s = (u·n)/(b·n), n the outward surface normal: the spot shift is δ = s b. The
  tangential part of u does not move the spot (physics reference §5).
- The view axis v points from the spot to the detector (central ray). The apparent source
  shift is the part of δ across v: δ⊥ = δ − (δ·v) v. A fixed object point at geometric
  magnification M = SDD/SOD is imaged at a point that moves by −(M − 1) δ⊥ on the detector
  (opposite to the source), reported in detector pixels.
- The part along the view axis, δ∥ = δ·v (positive: towards the detector), shortens both
  source distances, so the magnification changes by ΔM/M = δ∥ (1/SOD − 1/SDD) to first order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .frames import DriftInputError, check_imaging

__all__ = ["DriftInputError", "DriftMap"]


@dataclass(frozen=True)
class DriftMap:
    """Beam, target normal and imaging geometry.

    Attributes:
        beam: beam direction b (from the cathode towards the target).
        normal: outward normal n of the target surface at the impact point.
        view: view axis v, from the spot to the detector.
        sod_m, sdd_m: source-object and source-detector distances (m).
        pixel_m: detector pixel size (m).
    """

    beam: np.ndarray
    normal: np.ndarray
    view: np.ndarray
    sod_m: float
    sdd_m: float
    pixel_m: float

    @classmethod
    def create(cls, beam, normal, view, sod_m, sdd_m, pixel_m) -> DriftMap:
        """Normalise and check the geometry.

        Raises:
            DriftInputError: the beam does not hit the surface from outside, the view axis
                lies in the target surface, or a distance is not positive.
        """
        b, n, v = check_imaging(beam, normal, view, sod_m, sdd_m, pixel_m)
        return cls(b, n, v, float(sod_m), float(sdd_m), float(pixel_m))

    @property
    def magnification(self) -> float:
        return self.sdd_m / self.sod_m

    def spot_shift(self, u) -> np.ndarray:
        """δ = b (u·n)/(b·n) (m), the impact point's shift along the fixed beam."""
        u = np.asarray(u, dtype=float)
        return self.beam * (u @ self.normal) / (self.beam @ self.normal)

    def apply(self, u, extra_shift=None) -> dict[str, float]:
        """Drift figures for a surface displacement u (m, 3 components), plus an extra
        spot shift (m, 3 components; the user's beam-pointing drift) if given.

        Returns:
            spot_shift_um: signed shift along the beam (positive: along b, into the target).
            drift_across_view_um: |δ⊥|, and its x, y, z components.
            image_drift_px: |(M − 1) δ⊥| / pixel (the image moves opposite to the source).
            drift_along_view_um: δ·v (positive: towards the detector).
            magnification_change_rel: ΔM/M.
        """
        d = self.spot_shift(u)
        if extra_shift is not None:
            d = d + np.asarray(extra_shift, dtype=float)
        along = float(d @ self.view)
        across = d - along * self.view
        mag = float(np.linalg.norm(across))
        return {
            "spot_shift_um": float(d @ self.beam) * 1e6,
            "drift_across_view_um": mag * 1e6,
            "drift_across_view_x_um": float(across[0]) * 1e6,
            "drift_across_view_y_um": float(across[1]) * 1e6,
            "drift_across_view_z_um": float(across[2]) * 1e6,
            "image_drift_px": (self.magnification - 1.0) * mag / self.pixel_m,
            "drift_along_view_um": along * 1e6,
            "magnification_change_rel": along * (1.0 / self.sod_m - 1.0 / self.sdd_m),
        }
