"""The electron-transport heat source: the shipped pencil-beam kernels turned into a smooth
depth profile and a depth-dependent lateral spread that the FE source convolves with the
spot analytically.

Depth. The kernel's energy per depth bin (tools/electron_mc, data/electron_kernels.npz) is
represented by a piecewise-linear density g(z) on N_NODES equally spaced nodes from the
surface to the depth that holds 99.9 % of the deposited energy (z999, from the tables). The
cut at z999 and the representation change the total by < 0.2 %; the profile is renormalised
to its share exactly, and the FE integral is rescaled to the requested power as for every
source.

Lateral spread. At each depth bin the radial distribution of a pencil beam's energy is
fitted (least squares on its cumulative; the fits are cached on disk keyed by the table's
rows, see fit_cache.py) by two concentric Gaussians, a core and a halo:
w·N(0, v₁) + (1 − w)·N(0, v₂) per in-plane axis (v the variance, m²). A Gaussian convolves
a Gaussian, an elliptical, a line or (to O(v/a²), blurred edge) a flat-top spot in closed
form, so the source stays a UFL expression. Why two components: one Gaussian of the same
variance underestimates the steady peak rise of a 2 µm spot on W at 160 kV by 15 % (the
kernel has a sharp core and a long halo).

Nodal values. The FE source joins the nodal values of g·w, g·(1 − w), v₁ and v₂ by hat
functions. They are the non-negative least-squares fits of that piecewise-linear form to
the histogram's density times the fitted weights, and to the fitted variances (joined
linearly between bin centres), on N_FINE points over the layer. Point values at the nodes,
used before, overestimate the spread near the surface, where the variance grows much
faster than linearly with depth, and under-weight it in the sharp rise of g: with the
ELSEPA tables the peak rise of a 2 µm spot at 160 kV came out 0.51 % low. With the fits the
peak rise of 2–20 µm Gaussian spots at 50–160 kV agrees with the independent
Hankel-transform integral of the tabulated bins to 0.35 % (tests/test_kernel_source.py,
tests/semianalytic.py).

Layered targets (a film on a substrate, e.g. 1 µm W on diamond). The film gets the film
share of the tables (data/electron_kernels.npz, normal incidence) with the film material's
depth profile cut at the film thickness; the substrate gets the substrate share with the
substrate material's profile at the beam voltage starting at the interface (assumption: the
electrons entering the substrate have a spectrum of energies below E₀, so this profile is
somewhat too deep), its lateral spread widened by the film's spread at the interface.

Materials without a table use the tabulated material nearest in atomic number if it lies
within 15 % (Ta → W, Rh/Ag → Mo, TZM → Mo, CuCrZr → Cu), lengths scaled by the ratio of
the Kanaya–Okayama ranges; the summary names the surrogate.

Units: SI (m, V); pure numpy and scipy, no dolfinx.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import electron_kernels as ek
from . import fit_cache

N_NODES = 25  # depth nodes of the piecewise-linear profile (24 intervals)
N_FINE = 1200  # points of the least-squares fit of the nodal values
SURROGATE_DZ_REL = 0.15  # largest relative difference in Z for a surrogate table


@dataclass(frozen=True)
class LayerKernel:
    """Deposition in one layer: density and lateral spread on equally spaced depth nodes.

    Attributes:
        region: the layer's region name.
        top_m: depth of the layer's top below the beam face (m).
        step_m: node spacing (m); node n lies at depth top_m + n·step_m.
        density_per_m: share of the deposited power per unit depth at the nodes (1/m); the
            piecewise-linear profile integrates to this layer's share.
        core_weight: w, the core's weight at the nodes.
        core_var_m2: v₁, the core's variance per in-plane axis at the nodes (m²).
        halo_var_m2: v₂, the halo's variance per in-plane axis at the nodes (m²).
    """

    region: str
    top_m: float
    step_m: float
    density_per_m: tuple[float, ...]
    core_weight: tuple[float, ...]
    core_var_m2: tuple[float, ...]
    halo_var_m2: tuple[float, ...]

    @property
    def bottom_m(self) -> float:
        """Deepest point receiving energy (m)."""
        return self.top_m + self.step_m * (len(self.density_per_m) - 1)

    @property
    def share(self) -> float:
        """Integral of the piecewise-linear density (trapezoid rule, exact)."""
        g = np.asarray(self.density_per_m)
        return float(self.step_m * (g.sum() - 0.5 * (g[0] + g[-1])))

    @property
    def max_var_m2(self) -> float:
        """Largest variance of the lateral spread (m²)."""
        return float(max(max(self.core_var_m2), max(self.halo_var_m2)))

    def mean_depth_m(self) -> float:
        """Energy-weighted mean depth (m) of the piecewise-linear profile."""
        z = self.top_m + self.step_m * np.arange(len(self.density_per_m))
        g = np.asarray(self.density_per_m)
        w = np.full_like(g, self.step_m)
        w[0] = w[-1] = 0.5 * self.step_m
        return float((g * z * w).sum() / (g * w).sum())


def _fit_two_gaussians(energy_row: np.ndarray, r_edges: np.ndarray) -> tuple[float, float, float]:
    """(w, v₁, v₂) of w·N(0,v₁) + (1−w)·N(0,v₂) per axis fitted to one depth bin's radial
    cumulative (the 2-D radial cumulative of N(0, v) is 1 − exp(−r²/2v))."""
    from scipy.optimize import least_squares

    p = energy_row.sum()
    c = np.cumsum(energy_row) / p
    r = r_edges[1:]
    var = float((energy_row * 0.5 * (r_edges[1:] ** 2 + r_edges[:-1] ** 2)).sum() / p / 2)

    def residual(x):
        w, a, b = x
        v1, v2 = var * math.exp(2 * a), var * math.exp(2 * b)
        return (w * (1 - np.exp(-r**2 / (2 * v1))) + (1 - w) * (1 - np.exp(-r**2 / (2 * v2)))
                - c)

    x = least_squares(residual, [0.5, -0.7, 0.3], bounds=([0, -5, -5], [1, 5, 5])).x
    return float(x[0]), var * math.exp(2 * x[1]), var * math.exp(2 * x[2])


def _nonnegative_fit(H: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Nodal values x ≥ 0 minimising |H x − target|² (target scaled to order one)."""
    from scipy.optimize import lsq_linear

    scale = float(np.abs(target).max()) or 1.0
    return lsq_linear(H, target / scale, bounds=(0.0, np.inf)).x * scale


def _resample(kernel: ek.Kernel, depth_max: float, share: float, length_scale: float = 1.0,
              extra_var: float = 0.0):
    """(step, density, w, v₁, v₂) on N_NODES nodes over [0, depth_max] (m, scaled lengths):
    the least-squares nodal values of the module docstring."""
    ze = kernel.z_edges_m * length_scale
    re = kernel.r_edges_m * length_scale
    E = kernel.energy
    step = depth_max / (N_NODES - 1)
    zf = (np.arange(N_FINE) + 0.5) * depth_max / N_FINE
    ib = np.clip(np.searchsorted(ze, zf, side="right") - 1, 0, len(ze) - 2)
    rho = E.sum(axis=1)[ib] / np.diff(ze)[ib]  # the histogram's density at zf
    zc, fits = [], []
    for i in range(len(ze) - 1):
        if E[i].sum() > 1e-6 * E.sum() and ze[i] < depth_max:
            zc.append(0.5 * (ze[i] + ze[i + 1]))
            fits.append(fit_cache.cached(_fit_two_gaussians, E[i], re))
    fit_cache.flush()
    zc, fits = np.array(zc), np.array(fits)
    w_f, v1_f, v2_f = (np.interp(zf, zc, fits[:, k]) for k in range(3))
    hats = np.maximum(1.0 - np.abs(zf[:, None] / step - np.arange(N_NODES)[None, :]), 0.0)
    gw = _nonnegative_fit(hats, rho * w_f)
    gh = _nonnegative_fit(hats, rho * (1.0 - w_f))
    g = gw + gh
    w = np.where(g > 0, gw / np.where(g > 0, g, 1.0), 0.5)
    g *= share / (step * (g.sum() - 0.5 * (g[0] + g[-1])))
    v1 = _nonnegative_fit(hats, v1_f) + extra_var
    v2 = _nonnegative_fit(hats, v2_f) + extra_var
    return step, g, w, v1, v2


def table_material(key: str, atomic_number: float) -> str:
    """The kernel table for a library material: its own, else the nearest Z within 15 %.

    Raises:
        ek.ElectronKernelRangeError: no table within 15 % in Z.
    """
    K = ek.load()
    if key in K.materials:
        return key
    z_tab = {"W": 74, "Mo": 42, "Cu": 29, "diamond": 6, "Be": 4}  # atomic numbers
    best = min(z_tab, key=lambda m: abs(z_tab[m] - atomic_number))
    if abs(z_tab[best] - atomic_number) > SURROGATE_DZ_REL * atomic_number:
        raise ek.ElectronKernelRangeError(
            f"no electron kernel for {key} (Z = {atomic_number:g}) and no tabulated material "
            f"within 15 % in Z (tabulated: {', '.join(K.materials)})")
    return best


@dataclass(frozen=True)
class KernelSource:
    """The resolved kernel source of a beam: layers, backscatter and what the summary reports.

    Attributes:
        layers: the layers receiving energy, from the beam face down.
        eta_E: energy backscatter fraction from the tables.
        eta: backscatter coefficient from the tables.
        shares: region → share of the deposited power.
        table_materials: region → the table used (a surrogate's name if not its own).
        r50_m, r90_m: radii holding 50/90 % of a pencil beam's energy in the top layer (m).
    """

    layers: tuple[LayerKernel, ...]
    eta_E: float
    eta: float
    shares: dict
    table_materials: dict
    r50_m: float
    r90_m: float

    @property
    def depth_m(self) -> float:
        return self.layers[-1].bottom_m

    def mean_depth_m(self) -> float:
        """Share-weighted mean deposition depth (m)."""
        return sum(lk.share * lk.mean_depth_m() for lk in self.layers) / sum(
            lk.share for lk in self.layers)


@lru_cache(maxsize=64)
def resolve(stack, voltage_V: float, incidence_deg: float = 0.0) -> KernelSource:
    """The kernel source for the layers below the spot.

    Args:
        stack: ((region, top depth m, thickness m, library key, Z, KO range m), ...) from
            the beam face down (a tuple: results are cached).
        voltage_V: tube voltage (V).
        incidence_deg: angle between the beam and the face normal (°).

    Raises:
        ek.ElectronKernelRangeError: outside the tables, a material without a table, a
            layered target without a film table, or electrons reaching a third layer.
    """
    K = ek.load()
    region, top, thick, key, Z, R_ko = stack[0]
    mat = table_material(key, Z)
    scale = 1.0
    if mat != key:  # surrogate: lengths scaled by the Kanaya–Okayama range ratio
        from . import materials as mat_lib
        from .beam import kanaya_okayama_range_m

        m = mat_lib.get(mat)
        scale = R_ko / kanaya_okayama_range_m(voltage_V, m.atomic_mass_g_mol, m.atomic_number,
                                              m.density_g_cm3)
    z999 = K.depth_quantile_m(mat, voltage_V, 0.999, incidence_deg) * scale
    kern = K.kernel(mat, voltage_V, incidence_deg)
    r50 = K.lateral_radius_m(mat, voltage_V, 0.5, incidence_deg) * scale
    r90 = K.lateral_radius_m(mat, voltage_V, 0.9, incidence_deg) * scale
    if z999 <= thick:
        lk = LayerKernel(region, 0.0, *_pack(_resample(kern, z999, 1.0, scale)))
        return KernelSource((lk,), K.backscatter_energy_fraction(mat, voltage_V, incidence_deg),
                            K.backscatter_coefficient(mat, voltage_V, incidence_deg),
                            {region: 1.0}, {region: mat}, r50, r90)
    if len(stack) < 2:
        raise ek.ElectronKernelRangeError(
            f"the electrons reach {z999 * 1e6:.3g} µm, deeper than the target "
            f"({thick * 1e6:.3g} µm)")
    sub_region, sub_top, sub_thick, sub_key, sub_Z, _ = stack[1]
    sub = table_material(sub_key, sub_Z)
    fs = K.film_share(mat, sub, thick / scale, voltage_V)
    dep = fs.film + fs.substrate
    film = _resample(kern, thick, fs.film / dep, scale)
    v_interface = float(film[3][-1] * film[2][-1] + film[4][-1] * (1 - film[2][-1]))
    z_sub = K.depth_quantile_m(sub, voltage_V, 0.999)
    if z_sub > sub_thick:
        raise ek.ElectronKernelRangeError(
            f"the electrons reach {z_sub * 1e6:.3g} µm into the {sub_region} "
            f"({sub_thick * 1e6:.3g} µm thick): they would leave the back of the target")
    below = _resample(K.kernel(sub, voltage_V), z_sub, fs.substrate / dep,
                      extra_var=v_interface)
    layers = (LayerKernel(region, 0.0, *_pack(film)),
              LayerKernel(sub_region, sub_top, *_pack(below)))
    eta = K.backscatter_coefficient(mat, voltage_V)  # bulk film material (no film table of η)
    return KernelSource(layers, fs.eta_E, eta,
                        {region: fs.film / dep, sub_region: fs.substrate / dep},
                        {region: mat, sub_region: sub}, r50, r90)


def _pack(res):
    step, g, w, v1, v2 = res
    t = lambda a: tuple(float(x) for x in a)  # noqa: E731
    return step, t(g), t(w), t(v1), t(v2)
