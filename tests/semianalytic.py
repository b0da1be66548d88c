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



def film_on_window_rise(layers, sigma_m: float, k_film: float, k_window: float, h_W_m2K: float,
                        window_thickness_m: float, radius_m: float, power_W: float = 1.0,
                        n_modes: int = 3000) -> dict[str, float]:
    """Steady rises (K) on the axis of a film on a window (a disk of radius_m whose rim is
    held at the initial temperature, both faces adiabatic, a boundary conductance h between
    film and window) heated by a layered kernel source (kernel_source.LayerKernel of the
    film and of the window) under a Gaussian spot: the film's top (its hottest point), the
    film's and the window's side of the interface, and the window's hottest point.

    Fourier–Bessel series in r (J₀(λₙr), λₙ = j₀ₙ/R: the rim at zero rise; a normalised
    lateral Gaussian of variance s² has the coefficient e^(−s²λₙ²/2)/(πR²J₁(j₀ₙ)²) for
    s ≪ R), and for each mode a finite-volume solve of −(kZ')' + kλ²Z = q(z) through the
    film and the window (graded from the interface, where e^(−λz) is steepest), the film
    and window nodes at the interface coupled by h. Shares nothing with anodesim's finite
    elements but the source's description (depth density and core/halo variances per
    depth node), whose own accuracy tests/test_kernel_source.py checks against the tables.
    """
    from scipy.linalg import solve_banded
    from scipy.special import j1, jn_zeros

    film, window = layers
    t_f = film.bottom_m
    z_f = np.linspace(0.0, t_f, 201)
    grow = np.concatenate([[0.0], np.cumsum(2e-9 * 1.04 ** np.arange(400))])
    z_w = t_f + np.append(grow[grow < window_thickness_m], window_thickness_m)

    def profile(layer, zz):
        nodes = layer.top_m + layer.step_m * np.arange(len(layer.density_per_m))
        inside = (zz >= nodes[0] - 1e-15) & (zz <= nodes[-1] + 1e-15)
        return [np.where(inside, np.interp(zz, nodes, np.asarray(a)), 0.0)
                for a in (layer.density_per_m, layer.core_weight, layer.core_var_m2,
                          layer.halo_var_m2)]

    def volumes(zz):  # control-volume lengths (half cells at both ends)
        d = np.diff(zz)
        v = np.zeros_like(zz)
        v[:-1] += d / 2
        v[1:] += d / 2
        return v

    z = np.concatenate([z_f, z_w])
    k = np.concatenate([np.full(len(z_f), k_film), np.full(len(z_w), k_window)])
    vol = np.concatenate([volumes(z_f), volumes(z_w)])
    g, w, v1, v2 = (np.concatenate(pair) for pair in zip(profile(film, z_f),
                                                          profile(window, z_w)))
    dz = np.diff(z)
    i_f = len(z_f) - 1  # the film's interface node; i_f + 1 the window's, at the same depth
    k_link = np.concatenate([np.full(i_f, k_film), [0.0], np.full(len(z_w) - 1, k_window)])
    cond = np.where(dz > 0, k_link / np.where(dz > 0, dz, 1.0), h_W_m2K)
    zeros = jn_zeros(0, n_modes)
    lam = zeros / radius_m
    coef = power_W / (math.pi * radius_m**2 * j1(zeros) ** 2)
    total = np.zeros(len(z))
    for n, lm in enumerate(lam):
        spread = np.exp(-0.5 * sigma_m**2 * lm**2) * (
            w * np.exp(-0.5 * v1 * lm**2) + (1 - w) * np.exp(-0.5 * v2 * lm**2))
        diag = k * lm**2 * vol
        diag[:-1] += cond
        diag[1:] += cond
        ab = np.zeros((3, len(z)))
        ab[1], ab[0, 1:], ab[2, :-1] = diag, -cond, -cond
        total += solve_banded((1, 1), ab, g * spread * vol * coef[n])
    return {"film_top": float(total[0]), "interface_film": float(total[i_f]),
            "interface_window": float(total[i_f + 1]),
            "window_max": float(total[i_f + 1:].max())}
