"""Beam heat source q(x) for a deposited power of 1 W, scaled by P(t) in the solver.

Four depositions (``beam.deposition``):

- ``"kernel"`` (default): electron-transport kernels (kernel_source.py, data/electron_kernels.npz
  from tools/electron_mc): q = Σ_layers g(depth) · [w A_{v₁}(ξ, η) + (1 − w) A_{v₂}(ξ, η)],
  g the tabulated depth profile (piecewise linear), A_v the spot shape convolved with a
  Gaussian of variance v per axis (the kernel's core and halo at that depth);
- ``"everhart_hoff"`` (before issue 12 the only volume source, then named "volume", which
  is still accepted): f_spot(r) · g_EH(s(depth)) / R_layer;
- ``"surface"``: f_spot on the beam face;
- ``"film"``: f_spot uniform through the thickness of the target layer (a benchmark source
  of other codes), whatever the electron range.

with

- f_spot: Gaussian of the given FWHM, exp(−r²/2σ²)/(2πσ²), σ = FWHM/(2√(2 ln 2)); or a
  flat top of the given diameter, 1/(πa²) for r ≤ a. In 3-D, on the face coordinates
  (ξ, η) rotated by the spot orientation into (u, w): an elliptical Gaussian
  exp(−u²/2σ₁² − w²/2σ₂²)/(2πσ₁σ₂) (also the footprint of a round beam on a tilted face,
  σ₁ = σ/cos ψ along the beam's trace, ψ the angle of incidence); or a line focus, a
  uniform line of length ℓ along u blurred by a round Gaussian of σ,
  [erf((ℓ/2 − u)/√2σ) + erf((ℓ/2 + u)/√2σ)]/(2ℓ) · exp(−w²/2σ²)/(√(2π)σ).
  All integrate to 1 over the plane. Convolved with a Gaussian of variance v per axis:
  σ² → σ² + v for the Gaussian shapes (exact); the flat top's edge becomes
  ½ erfc((r − a)/√(2v)), normalised exactly (blurred_disc_norm; the shape is the exact
  convolution to O(v/a²), the radial blur of a straight edge).
- R_layer: the Kanaya–Okayama electron range of each layer's material at the beam voltage,
  R = 0.0276 A E^1.67 / (Z^0.889 ρ) µm (E in keV, A in g/mol, ρ in g/cm³; Kanaya & Okayama
  1972, J. Phys. D 5, 43; as given in Goldstein, *Scanning Electron Microscopy and X-ray
  Microanalysis*).
- s: the fraction of the range travelled; it grows by depth/R in each layer of the stack
  below the spot (range-fraction scaling across layers, e.g. a W film on diamond).
- g_EH: the Everhart–Hoff universal depth–dose curve λ(y) = 0.60 + 6.21y − 12.40y² + 5.69y³
  on 0 ≤ y ≤ 1.1 (Everhart & Hoff 1971, J. Appl. Phys. 42, 5837), with y = 1.1 s so that
  the dose vanishes at the Kanaya–Okayama range, normalised so that ∫₀¹ g ds = 1.

Everhart–Hoff was fitted for low Z: for W it puts the energy about 2.3× too deep and has no
lateral spread, so the peak rise per absorbed watt of 5–20 µm spots at 100–160 kV is 18–30 %
low (review A4, shared/reference/source-and-limits.md); it is kept for comparisons.

The deposited power is (1 − η_E) × beam power. η_E comes from the kernel tables (material,
kV, incidence; the film table for layered targets) for every deposition, unless the case
gives it; only a case outside the tables falls back to the material data's constant. X-ray production (< 1.5 % of the
beam power below 225 kV) is counted in the deposited power.
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
GAUSSIAN_RADIUS_PER_SIGMA = math.sqrt(2.0 * math.log(1000.0))  # 3.717
GAUSSIAN_RADIUS_PER_FWHM = GAUSSIAN_RADIUS_PER_SIGMA / FWHM_PER_SIGMA  # 1.578
#: Significant digits kept of the kernel's lateral variance where it sizes the finely meshed
#: zone (Spot.lateral_var_m2, rounded up). The variance comes from least-squares fits whose
#: last digits follow the CPU's rounding (kernel_source: 6.6386164e-12 against 6.6386121e-12
#: m² for the shipped example on an AVX-512 and an AVX2 machine), and gmsh meshes a zone
#: whose radius differs in the 8th digit differently: the two machines then reported the
#: example's peak 918.47 against 918.94 °C and its largest von Mises stress in the W 780
#: against 807 MPa, from two meshes. Rounded, both mesh alike (tests/test_beam.py); the zone
#: grows by at most 5 % of its blur.
ZONE_VAR_DIGITS = 2


def round_up(x: float, digits: int) -> float:
    """x rounded up to `digits` significant digits (x > 0; 0 and non-finite x as given)."""
    if not (x > 0.0 and math.isfinite(x)):
        return x
    unit = 10.0 ** (math.floor(math.log10(x)) - digits + 1)
    return math.ceil(x / unit - 1e-9) * unit
DEPOSITIONS = ("kernel", "everhart_hoff", "surface", "film")


def smallest_feature(shape: str, size_m: float, size2_m: float | None) -> tuple[int, float]:
    """(which size, 0: size_m or 1: size2_m; that size in m) is the smallest length over
    which a spot of this shape (Spot's sizes) changes: what the mesh must resolve
    (geometry/mesh.py h_min = spot_fraction × it) and what `run` refuses below 0.1 µm
    (cost.absurd). The one rule of both.

    A Gaussian's FWHM, a flat top's diameter, an ellipse's smaller FWHM. A line (a uniform
    segment of length ℓ along u blurred by a round Gaussian of FWHM w, module docstring)
    varies across it over w, and along it over its edges, which are w wide whatever ℓ:
    its profile along u is ℓ's segment convolved with the Gaussian, never narrower than
    the Gaussian itself (a line shorter than w is nearly a round spot of FWHM w, round at
    ℓ = 0). So its smallest feature is w, not ℓ when ℓ < w."""
    if shape == "elliptical" and size2_m is not None and size2_m < size_m:
        return 1, size2_m
    return 0, size_m


def blurred_disc_norm(a, s, erf=math.erf, exp=math.exp):
    """2π ∫₀^∞ r · ½ erfc((r − a)/(√2 s)) dr = π[(a² + s²) Φ(a/s) + a s φ(a/s)] (m²): the
    area of a disc of radius a with an edge blurred by a Gaussian of standard deviation s
    (the integral is E[max(X, 0)²]/2 for X ~ N(a, s²)); π(a² + s²) when s ≪ a. erf and exp
    may be ufl's (s a UFL expression) or math's."""
    x = a / s
    Phi = 0.5 * (1.0 + erf(x / math.sqrt(2.0)))
    phi = exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return math.pi * ((a * a + s * s) * Phi + a * s * phi)


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
        deposition: one of DEPOSITIONS.
        layers: the stack below the spot with each layer's electron range.
        size2_m: elliptical: FWHM along the minor axis w; line: length along u.
        angle_rad: angle of the u axis from the face's first axis ξ towards η.
        kernel: the resolved electron-transport source (kernel deposition only).
    """

    shape: str
    size_m: float
    deposition: str
    layers: tuple[Layer, ...]
    size2_m: float | None = None
    angle_rad: float = 0.0
    kernel: object | None = None  # kernel_source.KernelSource

    @property
    def sigma_m(self) -> float:
        return self.size_m / FWHM_PER_SIGMA

    @property
    def smallest_m(self) -> float:
        """The smallest feature of the spot (m), smallest_feature's: FWHM, minor FWHM or
        diameter."""
        return smallest_feature(self.shape, self.size_m, self.size2_m)[1]

    @property
    def half_extents_m(self) -> tuple[float, float]:
        """Half-lengths along u and w (m) holding all but 0.1 % of the power along each
        axis (Gaussians: 1.58 FWHM), or the radius of a flat top; widened in quadrature by
        3.72 standard deviations of the kernel's widest lateral spread."""
        g = GAUSSIAN_RADIUS_PER_FWHM
        if self.shape == "elliptical":
            a, b = g * self.size_m, g * self.size2_m
        elif self.shape == "line":
            a, b = 0.5 * self.size2_m + g * self.size_m, g * self.size_m
        else:
            a = g * self.size_m if self.shape == "gaussian" else 0.5 * self.size_m
            b = a
        blur = GAUSSIAN_RADIUS_PER_SIGMA * math.sqrt(self.lateral_var_m2)
        return math.hypot(a, blur), math.hypot(b, blur)

    @property
    def lateral_var_m2(self) -> float:
        """Largest variance per axis of the kernel's lateral spread in the top layer (m²),
        which sets the finely meshed zone, rounded up to ZONE_VAR_DIGITS significant
        digits; 0 without kernel. (A substrate's wider spread varies over lengths the graded
        mesh resolves.)"""
        if self.deposition != "kernel" or self.kernel is None:
            return 0.0
        return round_up(self.kernel.layers[0].max_var_m2, ZONE_VAR_DIGITS)

    @property
    def radius_m(self) -> float:
        """Radius holding all but 0.1 % of the power: 3.72σ = 1.58 FWHM for a Gaussian, the
        radius of a flat top; the larger half-extent of elongated spots."""
        return max(self.half_extents_m)

    def parameters(self) -> dict[str, float]:
        """The numbers of the spot's shape (SI): ``s2`` (σ², m²; gaussian, line), ``a``
        (flat-top radius, m), ``v1``, ``v2`` (elliptical variances, m²), ``half`` (half the
        line length, m), ``cos``, ``sin`` (of the orientation). The FE wraps each in a
        ``dolfinx.fem.Constant`` (thermal.py), so its forms do not depend on the size and
        are compiled once for a sweep over it."""
        g = FWHM_PER_SIGMA
        p = {"s2": self.sigma_m ** 2, "a": 0.5 * self.size_m,
             "cos": math.cos(self.angle_rad), "sin": math.sin(self.angle_rad)}
        if self.shape == "elliptical":
            p.update(v1=(self.size_m / g) ** 2, v2=(self.size2_m / g) ** 2)
        if self.shape == "line":
            p["half"] = 0.5 * self.size2_m
        return p

    def areal(self, xi, eta, var=None, p=None):
        """Areal density per watt f(ξ, η) (1/m²) on the beam face, UFL expression of the
        face coordinates (m) centred at the impact point, convolved with a round Gaussian
        of variance var per axis (m², a UFL expression or None for none); p: the shape's
        numbers (parameters(), as floats or UFL constants; None: the floats)."""
        import ufl

        p = self.parameters() if p is None else p
        if self.shape == "gaussian":
            s2 = p["s2"] + var if var is not None else p["s2"]
            return ufl.exp(-(xi * xi + eta * eta) / (2 * s2)) / (2 * math.pi * s2)
        if self.shape == "flat_top":
            if var is None:
                return self.radial(ufl.sqrt(xi * xi + eta * eta), p)
            a = p["a"]
            v = var + (1e-4 * a) ** 2  # a floor keeps the edge finite where v = 0
            s = ufl.sqrt(v)
            r = ufl.sqrt(xi * xi + eta * eta)
            return 0.5 * (1.0 - ufl.erf((r - a) / (math.sqrt(2.0) * s))) / blurred_disc_norm(
                a, s, ufl.erf, ufl.exp)
        c, s = p["cos"], p["sin"]
        u, w = c * xi + s * eta, -s * xi + c * eta
        if self.shape == "elliptical":
            v1, v2 = (p["v1"], p["v2"]) if var is None else (p["v1"] + var, p["v2"] + var)
            return ufl.exp(-u * u / (2 * v1) - w * w / (2 * v2)) / (2 * math.pi * ufl.sqrt(v1 * v2))
        v, half = (p["s2"] if var is None else p["s2"] + var), p["half"]
        k = 1.0 / ufl.sqrt(2.0 * v)
        along = (ufl.erf((half - u) * k) + ufl.erf((half + u) * k)) / (4 * half)
        return along * ufl.exp(-w * w / (2 * v)) / ufl.sqrt(2 * math.pi * v)

    @property
    def depth_m(self) -> float:
        """Depth below the beam face that receives energy (0 for surface deposition)."""
        if self.deposition == "surface":
            return 0.0
        if self.deposition == "film":
            return self.layers[0].thickness_m
        if self.deposition == "kernel":
            return self.kernel.depth_m
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

    def radial(self, r, p=None):
        """Areal density per watt, f(r) (1/m²), as a UFL expression of r; p as in areal."""
        import ufl

        p = self.parameters() if p is None else p
        if self.shape == "gaussian":
            s2 = p["s2"]
            return ufl.exp(-r * r / (2 * s2)) / (2 * math.pi * s2)
        a = p["a"]
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

    def kernel_density(self, lk, xi, eta, depth, p=None):
        """Volumetric density per watt (1/m³) in one kernel layer (kernel_source.LayerKernel):
        g(d)·[w A_{v₁} + (1 − w) A_{v₂}], the nodal values joined by hat functions; p as
        in areal."""
        import ufl

        x = (depth - lk.top_m) / lk.step_m

        def hats(values):
            return sum(float(v) * ufl.max_value(1.0 - abs(x - n), 0.0)
                       for n, v in enumerate(values) if v != 0.0)

        gw = hats([g * w for g, w in zip(lk.density_per_m, lk.core_weight)])
        gh = hats([g * (1 - w) for g, w in zip(lk.density_per_m, lk.core_weight)])
        v1, v2 = hats(lk.core_var_m2), hats(lk.halo_var_m2)
        return gw * self.areal(xi, eta, v1, p) + gh * self.areal(xi, eta, v2, p)

    def film_density(self, xi, eta, depth, p=None):
        """Volumetric density per watt (1/m³), uniform through the target layer; p as in
        areal."""
        import ufl

        t = self.layers[0].thickness_m
        inside = ufl.And(ufl.ge(depth, 0.0), ufl.le(depth, t))
        return ufl.conditional(inside, self.areal(xi, eta, None, p) / t, 0.0)

    def spot_time_s(self, diffusivity_m2_s: float) -> float:
        """Thermal time of the spot, (size/2)² / κ (s): the spot's local steady state is
        reached within about 20 of these (physics reference §3.3); the smallest size for
        elongated spots."""
        return (0.5 * self.smallest_m) ** 2 / diffusivity_m2_s


def depth_dose_cumulative(s: float) -> float:
    """∫₀^s g ds of the normalised Everhart–Hoff curve (0 at s ≤ 0, 1 at s ≥ 1)."""
    s = min(max(s, 0.0), 1.0)
    y = EH_YMAX * s
    return sum(c * y ** (i + 1) / (i + 1) for i, c in enumerate(EH_COEFFS)) / EH_NORM


def depth_dose_mean(s0: float, s1: float) -> float:
    """∫_{s0}^{s1} s g ds of the normalised Everhart–Hoff curve."""
    def F(s):
        s = min(max(s, 0.0), 1.0)
        y = EH_YMAX * s
        return sum(c * y ** (i + 2) / (i + 2) for i, c in enumerate(EH_COEFFS)) / (
            EH_NORM * EH_YMAX)
    return F(s1) - F(s0)


def deposition_summary(spot: Spot) -> tuple[dict, float]:
    """(share of the deposited power per region, mean deposition depth m) of a spot."""
    if spot.deposition == "kernel" and spot.kernel is not None:
        return dict(spot.kernel.shares), spot.kernel.mean_depth_m()
    first = spot.layers[0]
    if spot.deposition == "surface":
        return {first.region: 1.0}, 0.0
    if spot.deposition == "film":
        return {first.region: 1.0}, 0.5 * first.thickness_m
    shares, mean, s = {}, 0.0, 0.0
    for layer in spot.layers:
        s1 = s + layer.thickness_m / layer.range_m
        share = depth_dose_cumulative(s1) - depth_dose_cumulative(s)
        if share > 0:
            shares[layer.region] = shares.get(layer.region, 0.0) + share
            # depth = top + (s' − s)·R over the layer
            mean += (layer.top_m - s * layer.range_m) * share + layer.range_m * depth_dose_mean(
                s, s1)
        s = s1
        if s >= 1.0:
            break
    return shares, mean


def deposited_fraction(eta_E: float) -> float:
    """Fraction of the beam power deposited in the target, 1 − η_E."""
    return 1.0 - eta_E
