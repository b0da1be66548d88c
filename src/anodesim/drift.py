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
- Signed components on the detector's image axes (u, v) of frames.detector_axes (v: the
  beam's projection, the anode–cathode axis of the image; u = v × view): the source drift
  δ⊥·u, δ⊥·v and the image shift −(M − 1) δ⊥·u / pixel, −(M − 1) δ⊥·v / pixel. Since δ lies
  along b, δ⊥·u = 0 and |δ⊥·v| = |δ⊥| unless the view runs along the beam.
- A detector point at radius r from the central ray images an object point at r/M, so a
  change of M moves it radially by r ΔM/M (the off-axis image shift, outward positive), when
  the case gives ``drift.detector_radius_mm``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .frames import (DriftInputError, central_ray, check_imaging, detector_axes, footprint_view,
                     view_direction)

__all__ = ["DriftInputError", "DriftMap", "drift_columns"]


@dataclass(frozen=True)
class DriftMap:
    """Beam, target normal and imaging geometry.

    Attributes:
        beam: beam direction b (from the cathode towards the target).
        normal: outward normal n of the target surface at the impact point.
        view: view axis v, from the spot to the detector.
        sod_m, sdd_m: source-object and source-detector distances (m).
        pixel_m: detector pixel size (m).
        detector_radius_m: detector radius of the off-axis image shift (m), or None.
    """

    beam: np.ndarray
    normal: np.ndarray
    view: np.ndarray
    sod_m: float
    sdd_m: float
    pixel_m: float
    detector_radius_m: float | None = None

    @classmethod
    def create(cls, beam, normal, view, sod_m, sdd_m, pixel_m,
               detector_radius_m=None) -> DriftMap:
        """Normalise and check the geometry.

        Raises:
            DriftInputError: the beam does not hit the surface from outside, the view axis
                lies in the target surface or runs back up the beam, or a distance is not
                positive.
        """
        b, n, v = check_imaging(beam, normal, view, sod_m, sdd_m, pixel_m)
        return cls(b, n, v, float(sod_m), float(sdd_m), float(pixel_m), detector_radius_m)

    @classmethod
    def for_case(cls, case, lay) -> DriftMap:
        """The drift map of a case's [drift] table on its laid-out geometry (the face frame
        of a 3-D rod or user mesh; the axis on axisymmetric models): the one map that the run,
        the rating's drift probe and the drift table all use.

        Raises:
            CaseError: the imaging geometry cannot be right (one line naming the key).
        """
        from .case import USER_GEOMETRIES, CaseError

        d = case.mechanics.drift
        frame = getattr(lay, "frame", None)
        normal = frame.normal if case.geometry.dim == 3 else (0.0, 0.0, 1.0)
        view = d.view_direction
        if case.geometry.kind in USER_GEOMETRIES and d.take_off is not None:
            view = view_direction(frame, *d.take_off)
        try:
            return cls.create(d.beam_direction, normal, view, d.source_object_m,
                              d.source_detector_m, d.pixel_m, d.detector_radius_m)
        except DriftInputError as e:
            raise CaseError(f"drift.{e} (view axis {[round(float(c), 6) for c in view]})") \
                from None

    @property
    def axes(self) -> tuple[np.ndarray, np.ndarray]:
        """The detector's image axes (u, v) in the tube frame (frames.detector_axes)."""
        return detector_axes(self.beam, self.view)

    def columns(self, dim: int = 3) -> list[str]:
        """Names of the figures apply() returns, in the time series' order (the tube-frame
        components of δ⊥ in 3-D only)."""
        return drift_columns(self.detector_radius_m is not None, dim)

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
            drift_u_um, drift_v_um: δ⊥ on the detector's image axes (signed).
            image_drift_px: |(M − 1) δ⊥| / pixel (the image moves opposite to the source).
            image_shift_u_px, image_shift_v_px: −(M − 1) δ⊥·(u, v) / pixel (signed).
            drift_along_view_um: δ·v (positive: towards the detector).
            magnification_change_rel: ΔM/M.
            offaxis_shift_um, offaxis_shift_px: r ΔM/M at the detector radius r (outward
                positive), when the map has one.
        """
        d = self.spot_shift(u)
        if extra_shift is not None:
            d = d + np.asarray(extra_shift, dtype=float)
        return self.apply_shift(d)

    def apply_shift(self, d) -> dict[str, float]:
        """The figures of apply() for a spot shift δ (m, 3 components) itself."""
        d = np.asarray(d, dtype=float)
        along = float(d @ self.view)
        across = d - along * self.view
        mag = float(np.linalg.norm(across))
        gain = (self.magnification - 1.0) / self.pixel_m
        ax_u, ax_v = self.axes
        dM = along * (1.0 / self.sod_m - 1.0 / self.sdd_m)
        out = {
            "spot_shift_um": float(d @ self.beam) * 1e6,
            "drift_across_view_um": mag * 1e6,
            "drift_u_um": float(across @ ax_u) * 1e6,
            "drift_v_um": float(across @ ax_v) * 1e6,
            "image_drift_px": gain * mag,
            "image_shift_u_px": -gain * float(across @ ax_u),
            "image_shift_v_px": -gain * float(across @ ax_v),
            "drift_along_view_um": along * 1e6,
            "magnification_change_rel": dM,
            "drift_across_view_x_um": float(across[0]) * 1e6,
            "drift_across_view_y_um": float(across[1]) * 1e6,
            "drift_across_view_z_um": float(across[2]) * 1e6,
        }
        if self.detector_radius_m is not None:
            out["offaxis_shift_um"] = self.detector_radius_m * dM * 1e6
            out["offaxis_shift_px"] = self.detector_radius_m * dM / self.pixel_m
        return {k: positive_zero(v) for k, v in out.items()}


def focal_spot_view(case, lay, spot) -> dict:
    """Incidence, footprint and the effective focal spot of a 3-D case seen along its view
    axis (the [drift] view, else the textbook central ray; frames.footprint_view)."""
    frame = lay.frame
    if case.mechanics is not None and case.mechanics.drift is not None:
        view = DriftMap.for_case(case, lay).view
    else:
        view = central_ray(frame.beam, frame.normal)
    return footprint_view(frame, spot.shape, spot.size_m, spot.size2_m, spot.angle_rad, view)


#: Columns of the drift-correction table (correction_table).
TABLE_COLUMNS = ["time_s", "source_x_mm", "source_y_mm", "source_z_mm", "shift_x_um",
                 "shift_y_um", "shift_z_um", "image_shift_u_px", "image_shift_v_px",
                 "magnification_change_rel"]


def source_point(lay) -> np.ndarray:
    """Nominal impact point of the beam in the tube frame (m): the 3-D face frame's origin,
    or (0, 0, z_beam) on the axis of an axisymmetric model."""
    frame = getattr(lay, "frame", None)
    return np.asarray(frame.origin, dtype=float) if frame is not None \
        else np.array([0.0, 0.0, lay.z_beam])


def drift_columns(offaxis: bool, dim: int = 3) -> list[str]:
    """Names of the figures DriftMap.apply returns, in the time series' order: offaxis_*
    with a detector radius, the tube-frame components of δ⊥ in 3-D only (also what a
    study's plot.y may name before any case has run)."""
    cols = ["spot_shift_um", "drift_across_view_um", "drift_u_um", "drift_v_um",
            "image_drift_px", "image_shift_u_px", "image_shift_v_px",
            "drift_along_view_um", "magnification_change_rel"]
    if offaxis:
        cols += ["offaxis_shift_um", "offaxis_shift_px"]
    if dim == 3:
        cols += [f"drift_across_view_{a}_um" for a in "xyz"]
    return cols


def correction_table(dmap: DriftMap, origin, times, shifts_m) -> list[list[float]]:
    """Rows of the drift-correction table: at each time, the source position (tube frame,
    mm: the nominal impact point plus the spot's shift δ), δ itself (µm), the signed image
    shift on the detector's (u, v) axes (px), ΔM/M and, with a detector radius, the off-axis
    shift (px).

    Args:
        dmap: the case's drift map.
        origin: nominal impact point (m).
        times: the times (s).
        shifts_m: the spot's shift δ at those times (m, 3 components each: the thermal shift
            s b along the beam plus the beam-pointing drift; shift_vector).
    """
    rows = []
    for t, delta in zip(times, shifts_m):
        delta = np.asarray(delta, dtype=float)
        d = dmap.apply_shift(delta)
        row = [float(t), *((np.asarray(origin) + delta) * 1e3), *(delta * 1e6),
               d["image_shift_u_px"], d["image_shift_v_px"], d["magnification_change_rel"]]
        if dmap.detector_radius_m is not None:
            row.append(d["offaxis_shift_px"])
        rows.append([positive_zero(x) for x in row])
    return rows


def positive_zero(x: float) -> float:
    """x as a float, a zero always +0.0: a component the geometry makes exactly zero came
    out as −0.0 (a product with a negative axis component, −(M − 1) · 0) and was written
    "-0" in the drift table, the time series and summary.json, read as a tiny motion
    against the axis where there is none. Every other value is unchanged, bit for bit."""
    return float(x) + 0.0


def shift_vector(dmap: DriftMap, drift_u_um: float, drift_v_um: float,
                 drift_along_view_um: float) -> np.ndarray:
    """The spot's shift δ (m, tube frame) from a run's drift columns: its parts across the
    view on the detector's (u, v) axes and along the view (µm), δ = δ_u u + δ_v v + δ∥ view.
    Unlike s b (the spot_shift_um column times the beam direction) it keeps the parts of a
    beam-pointing drift that do not lie along the beam."""
    ax_u, ax_v = dmap.axes
    return (drift_u_um * ax_u + drift_v_um * ax_v + drift_along_view_um * dmap.view) * 1e-6
