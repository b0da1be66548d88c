"""Independent semi-analytic steady temperature rise of a kernel source on a half-space.

The tabulated pencil-beam kernel (energy per depth × radius bin, uniform inside each bin) is
convolved with the spot in Hankel space and integrated against the half-space Green's
function with an adiabatic surface (source plus its image):

    ΔT(0, z₀) = 1/(4πk) ∫₀^∞ dκ Σ_ij p_ij Φ_spot(κ) Φ_ring,j(κ) D_i(κ, z₀),

where p_ij is the power in depth bin i, radius bin j; Φ_spot the 2-D Fourier transform of the
normalised spot (Gaussian: exp(−σ²κ²/2)); Φ_ring,j = 2[r₂J₁(κr₂) − r₁J₁(κr₁)]/(κ(r₂² − r₁²)) the
transform of a uniform annulus; and D_i = ∫_{z₁}^{z₂} [e^{−κ|z−z₀|} + e^{−κ(z+z₀)}] dz / (z₂ − z₁)
the depth bin's Green's function in Hankel space (from ∫₀^∞ J₀(κr) e^{−κh} dκ = 1/√(r² + h²)).
Check: a Gaussian surface spot gives P/(2√(2π) kσ) (Lax 1977).

This shares nothing with anodesim's FE source (no Gaussian lateral approximation, no depth
interpolation): it reads the table bins directly.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import j1


def _ring_ft(kappa, r1, r2):
    """2-D Fourier transform of a uniform annulus r1 ≤ r < r2 of unit weight, shape (nk,)."""
    def part(r):
        return np.where(r > 0, r * j1(kappa * r), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = 2 * (part(r2) - part(r1)) / (kappa * (r2 * r2 - r1 * r1))
    return np.where(kappa > 0, out, 1.0)


def _depth_green(kappa, z1, z2, z0):
    """Mean over z1 ≤ z < z2 of e^{−κ|z−z0|} + e^{−κ(z+z0)}, shape (nk,)."""
    k = np.maximum(kappa, 1e-300)

    def direct(a, b):  # ∫_a^b e^{−κ|z−z0|} dz
        if b <= z0:
            return (np.exp(-k * (z0 - b)) - np.exp(-k * (z0 - a))) / k
        if a >= z0:
            return (np.exp(-k * (a - z0)) - np.exp(-k * (b - z0))) / k
        return direct(a, z0) + direct(z0, b)

    image = (np.exp(-k * (z1 + z0)) - np.exp(-k * (z2 + z0))) / k
    return (direct(z1, z2) + image) / (z2 - z1)


def peak_rise(kernel, sigma_m: float, k_W_mK: float, power_W: float = 1.0,
              n_kappa: int = 6000) -> tuple[float, float]:
    """Largest steady rise on the axis (K) and its depth (m) for a Gaussian spot of σ.

    Args:
        kernel: an electron_kernels.Kernel (normal incidence).
        sigma_m: the spot's standard deviation (m).
        k_W_mK: thermal conductivity (W/m/K).
        power_W: deposited power (W), spread as the kernel's normalised energy.
    """
    E = kernel.energy / kernel.energy.sum() * power_W
    ze, re = kernel.z_edges_m, kernel.r_edges_m
    scale = 1.0 / math.sqrt(sigma_m**2 + (0.2 * re[-1]) ** 2)
    # κ on a stretched grid: dense where the spot transform lives, out to 40/σ
    u = np.linspace(0.0, 1.0, n_kappa)
    kappa = 40.0 / sigma_m * u**2
    w_k = np.gradient(kappa)
    spot = np.exp(-0.5 * (sigma_m * kappa) ** 2)
    lateral = np.stack([_ring_ft(kappa, re[j], re[j + 1]) for j in range(len(re) - 1)])
    p_depth = E @ lateral  # (nz, nk): power per depth bin × its lateral transform

    def rise(z0):
        s = np.zeros_like(kappa)
        for i in range(len(ze) - 1):
            if E[i].sum() == 0:
                continue
            s += p_depth[i] * _depth_green(kappa, ze[i], ze[i + 1], z0)
        return float(np.sum(spot * s * w_k) / (4 * math.pi * k_W_mK))

    del scale
    zs = np.linspace(0.0, 0.5 * ze[-1], 41)
    vals = [rise(z) for z in zs]
    i = int(np.argmax(vals))
    lo, hi = zs[max(i - 1, 0)], zs[min(i + 1, len(zs) - 1)]
    for _ in range(30):  # golden-section refinement of the maximum
        a, b = lo + 0.382 * (hi - lo), lo + 0.618 * (hi - lo)
        if rise(a) > rise(b):
            hi = b
        else:
            lo = a
    z = 0.5 * (lo + hi)
    return max(rise(z), vals[i]), z


def gaussian_surface_rise(sigma_m: float, k_W_mK: float, power_W: float = 1.0) -> float:
    """Lax (1977): centre rise P/(2√(2π) k σ) of a Gaussian surface flux on a half-space."""
    return power_W / (2 * math.sqrt(2 * math.pi) * k_W_mK * sigma_m)


def peak_rise_layer(layer, sigma_m: float, k_W_mK: float, power_W: float = 1.0,
                    n_kappa: int = 6000, slabs_per_step: int = 8) -> float:
    """Largest steady rise on the axis (K) of anodesim's representation of a bulk kernel
    (kernel_source.LayerKernel: piecewise-linear depth profile, two Gaussians per depth)
    under a Gaussian spot, by the same Hankel integral (thin slabs at the slab midpoint)."""
    n = len(layer.density_per_m)
    z = np.linspace(0.0, layer.step_m * (n - 1), (n - 1) * slabs_per_step + 1)
    zm, dz = 0.5 * (z[1:] + z[:-1]), np.diff(z)
    nodes = layer.step_m * np.arange(n)
    g = np.interp(zm, nodes, layer.density_per_m)
    w = np.interp(zm, nodes, layer.core_weight)
    v1 = np.interp(zm, nodes, layer.core_var_m2)
    v2 = np.interp(zm, nodes, layer.halo_var_m2)
    p = g * dz / (g * dz).sum() * power_W
    u = np.linspace(0.0, 1.0, n_kappa)
    kappa = 40.0 / sigma_m * u**2
    w_k = np.gradient(kappa)
    spot = np.exp(-0.5 * (sigma_m * kappa) ** 2)
    lat = [p[i] * (w[i] * np.exp(-0.5 * v1[i] * kappa**2)
                   + (1 - w[i]) * np.exp(-0.5 * v2[i] * kappa**2)) for i in range(len(zm))]

    def rise(z0):
        s = sum(lat[i] * _depth_green(kappa, z[i], z[i + 1], z0) for i in range(len(zm)))
        return float(np.sum(spot * s * w_k) / (4 * math.pi * k_W_mK))

    return max(rise(z0) for z0 in np.linspace(0.0, 0.5 * z[-1], 26))
