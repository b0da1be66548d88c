"""Beam heat source q(x) for a deposited power of 1 W, scaled by P(t) in the solver.

q(x) = f_spot(r) · g(s(depth)) / R_layer  (volume deposition)  or  f_spot(r) on the beam
face (surface deposition), with

- f_spot: Gaussian of the given FWHM, exp(−r²/2σ²)/(2πσ²), σ = FWHM/(2√(2 ln 2)); or a
  flat top of the given diameter, 1/(πa²) for r ≤ a. In 3-D, on the face coordinates
  (ξ, η) rotated by the spot orientation into (u, w): an elliptical Gaussian
  exp(−u²/2σ₁² − w²/2σ₂²)/(2πσ₁σ₂) (also the footprint of a round beam on a tilted face,
  σ₁ = σ/cos ψ along the beam's trace, ψ the angle of incidence); or a line focus, a
  uniform line of length ℓ along u blurred by a round Gaussian of σ,
  [erf((ℓ/2 − u)/√2σ) + erf((ℓ/2 + u)/√2σ)]/(2ℓ) · exp(−w²/2σ²)/(√(2π)σ).
  All integrate to 1 over the plane.
- R_layer: the Kanaya–Okayama electron range of each layer's material at the beam voltage,
  R = 0.0276 A E^1.67 / (Z^0.889 ρ) µm (E in keV, A in g/mol, ρ in g/cm³; Kanaya & Okayama
  1972, J. Phys. D 5, 43; as given in Goldstein, *Scanning Electron Microscopy and X-ray
  Microanalysis*).
- s: the fraction of the range travelled; it grows by depth/R in each layer of the stack
  below the spot (range-fraction scaling across layers, e.g. a W film on diamond).
- g: the Everhart–Hoff universal depth–dose curve λ(y) = 0.60 + 6.21y − 12.40y² + 5.69y³ on
  0 ≤ y ≤ 1.1 (Everhart & Hoff 1971, J. Appl. Phys. 42, 5837), with y = 1.1 s so that the
  dose vanishes at the Kanaya–Okayama range, normalised so that ∫₀¹ g ds = 1.

Why Everhart–Hoff: it is the published universal depth–dose profile with a closed form; it
puts the dose maximum at 0.29 R below the surface and a finite dose at the surface. For
high Z (W) Monte Carlo places the maximum nearer the surface, so this profile slightly
underestimates the peak temperature of spots much smaller than the range; use
``deposition = "surface"`` for the conservative bound.

The deposited power is (1 − η_E) × beam power, η_E the energy backscatter fraction of the
target material (data file; overridable in the case). X-ray production (< 1.2 % of the beam
power up to 160 kV, physics reference §2.4) is neglected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Everhart & Hoff 1971 polynomial and its integral over 0 ≤ y ≤ 1.1.
EH_COEFFS = (0.60, 6.21, -12.40, 5.69)
EH_YMAX = 1.1
EH_NORM = sum(c * EH_YMAX ** (i + 1) / (i + 1) for i, c in enumerate(EH_COEFFS))
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
# A Gaussian spot puts exp(−R²/2σ²) of its power beyond radius R: 0.1 % at R = 3.717σ.
GAUSSIAN_RADIUS_PER_FWHM = math.sqrt(2.0 * math.log(1000.0)) / FWHM_PER_SIGMA  # 1.578


def kanaya_okayama_range_m(voltage_V: float, A_g_mol: float, Z: float, rho_g_cm3: float) -> float:
    """Kanaya–Okayama electron range (m) at beam voltage voltage_V (V).

    R [µm] = 0.0276 · A · E^1.67 / (Z^0.889 · ρ), E in keV (Kanaya & Okayama 1972).
    """
    E_keV = voltage_V / 1e3
    return 0.0276 * A_g_mol * E_keV ** 1.67 / (Z ** 0.889 * rho_g_cm3) * 1e-6


def depth_dose(s: float) -> float:
    """Normalised Everhart–Hoff depth–dose g(s), s = depth / range; ∫₀¹ g ds = 1."""
    if s < 0 or s > 1:
        return 0.0
    y = EH_YMAX * s
    return EH_YMAX * sum(c * y ** i for i, c in enumerate(EH_COEFFS)) / EH_NORM


@dataclass(frozen=True)
class Layer:
    """A layer of the stack below the spot: region, top depth and thickness (m), range (m)."""

    region: str
    top_m: float
    thickness_m: float
    range_m: float


@dataclass(frozen=True)
class Spot:
    """Beam footprint and deposition (SI).

    Attributes:
        shape: "gaussian", "flat_top" (round), "elliptical" or "line" (3-D only).
        size_m: FWHM (gaussian; elliptical: along the major axis u; line: across it, w) or
            diameter (flat_top).
        deposition: "volume" or "surface".
        layers: the stack below the spot with each layer's electron range.
        size2_m: elliptical: FWHM along the minor axis w; line: length along u.
        angle_rad: angle of the u axis from the face's first axis ξ towards η.
    """

    shape: str
    size_m: float
    deposition: str
    layers: tuple[Layer, ...]
    size2_m: float | None = None
    angle_rad: float = 0.0

    @property
    def sigma_m(self) -> float:
        return self.size_m / FWHM_PER_SIGMA

    @property
    def smallest_m(self) -> float:
        """The smallest feature of the spot (m): FWHM, minor FWHM or diameter."""
        return self.size2_m if self.shape == "elliptical" else self.size_m

    @property
    def half_extents_m(self) -> tuple[float, float]:
        """Half-lengths along u and w (m) holding all but 0.1 % of the power along each
        axis (Gaussians: 1.58 FWHM), or the radius of a flat top."""
        g = GAUSSIAN_RADIUS_PER_FWHM
        if self.shape == "elliptical":
            return g * self.size_m, g * self.size2_m
        if self.shape == "line":
            return 0.5 * self.size2_m + g * self.size_m, g * self.size_m
        a = g * self.size_m if self.shape == "gaussian" else 0.5 * self.size_m
        return a, a

    @property
    def radius_m(self) -> float:
        """Radius holding all but 0.1 % of the power: 3.72σ = 1.58 FWHM for a Gaussian, the
        radius of a flat top; the larger half-extent of elongated spots."""
        return max(self.half_extents_m)

    def areal(self, xi, eta):
        """Areal density per watt f(ξ, η) (1/m²) on the beam face, UFL expression of the
        face coordinates (m) centred at the impact point."""
        import ufl

        if self.shape in ("gaussian", "flat_top"):
            return self.radial(ufl.sqrt(xi * xi + eta * eta))
        c, s = math.cos(self.angle_rad), math.sin(self.angle_rad)
        u, w = c * xi + s * eta, -s * xi + c * eta
        if self.shape == "elliptical":
            s1, s2 = self.size_m / FWHM_PER_SIGMA, self.size2_m / FWHM_PER_SIGMA
            return ufl.exp(-u * u / (2 * s1 * s1) - w * w / (2 * s2 * s2)) / (
                2 * math.pi * s1 * s2)
        sig, half = self.sigma_m, 0.5 * self.size2_m
        k = 1.0 / (math.sqrt(2.0) * sig)
        along = (ufl.erf((half - u) * k) + ufl.erf((half + u) * k)) / (4 * half)
        return along * ufl.exp(-w * w / (2 * sig * sig)) / (math.sqrt(2 * math.pi) * sig)

    @property
    def depth_m(self) -> float:
        """Depth below the beam face that receives energy (0 for surface deposition)."""
        if self.deposition == "surface":
            return 0.0
        s, depth = 0.0, 0.0
        for layer in self.layers:
            need = (1.0 - s) * layer.range_m
            if need <= layer.thickness_m:
                return depth + need
            s += layer.thickness_m / layer.range_m
            depth += layer.thickness_m
        raise ValueError(
            f"the electron range exceeds the target stack ({depth * 1e6:.1f} µm deep): "
            "electrons would leave the back of the target")

    def radial(self, r):
        """Areal density per watt, f(r) (1/m²), as a UFL or numpy expression of r."""
        import ufl

        if self.shape == "gaussian":
            s2 = self.sigma_m ** 2
            return ufl.exp(-r * r / (2 * s2)) / (2 * math.pi * s2)
        a = 0.5 * self.size_m
        return ufl.conditional(ufl.le(r, a), 1.0 / (math.pi * a * a), 0.0)

    def volume_density(self, layer: Layer, areal, depth):
        """Volumetric density per watt (1/m³) in one layer: the areal density (UFL, 1/m²)
        times the depth–dose profile of depth (m)."""
        import ufl

        s_top = 0.0
        for other in self.layers:
            if other is layer:
                break
            s_top += other.thickness_m / other.range_m
        s = s_top + (depth - layer.top_m) / layer.range_m
        y = EH_YMAX * s
        c0, c1, c2, c3 = EH_COEFFS
        lam = c0 + y * (c1 + y * (c2 + y * c3))
        inside = ufl.And(ufl.ge(s, 0.0), ufl.le(s, 1.0))
        g = ufl.conditional(inside, EH_YMAX * lam / EH_NORM, 0.0)
        return areal * g / layer.range_m

    def spot_time_s(self, diffusivity_m2_s: float) -> float:
        """Thermal time of the spot, (size/2)² / κ (s): the spot's local steady state is
        reached within about 20 of these (physics reference §3.3); the smallest size for
        elongated spots."""
        return (0.5 * self.smallest_m) ** 2 / diffusivity_m2_s


def deposited_fraction(eta_E: float) -> float:
    """Fraction of the beam power deposited in the target, 1 − η_E."""
    return 1.0 - eta_E
