"""Textbook estimate of the spot temperature, for ``check`` (no finite elements).

The deposited power P (beam power × (1 − η_E), η_E from the electron tables as the run
takes it), with the run's deposition (the electron kernels' depth profile and lateral
spread; Everhart–Hoff's depth profile; a film's uniform one; or the surface), is put into a
half-space of the target material with an insulated face, far field at the initial
temperature T0. A point source of power p at depth z rises the face's point above it by
2p / (4πk √(ρ² + z²)) (the image in the insulated face; Carslaw & Jaeger, Conduction of Heat
in Solids, 2nd ed. 1959, §10.2), so the spot's centre rises by ΔT = P G / k with
G = (1/2π) ∫ f / √(ρ² + z²) dV (1/m), f the deposition per watt (1/m³). Per depth slice z:

- round Gaussian of variance s² (the beam's σ² plus the kernel's lateral variance v, core
  and halo apart): G = erfcx(z / √2 s) / (2√(2π) s), erfcx(x) = e^{x²} erfc(x); at z = 0
  the surface Gaussian's 1 / (2√(2π) σ) (Lax 1977, J. Appl. Phys. 48, 3919; physics.md §3.2);
- elliptical Gaussian s₁, s₂: G = (1/2π) · 1/(2π s₁ s₂) · ∫₀^{2π} ½ √(π/c) erfcx(√c z) dθ,
  c = cos²θ/2s₁² + sin²θ/2s₂² (the Gaussian's ρ integral in polar coordinates), the θ
  integral by the trapezoidal rule (512 points; spectrally accurate for this smooth
  periodic integrand);
- flat top of radius a, a uniform disc at depth z: G = (√(a² + z²) − z) / (π a²) (C&J
  §10.5; at z = 0 physics.md §3.1's 1/(πa)), the kernel's lateral blur left out;
- line (uniform along u over ℓ = 2h, blurred by a round Gaussian s): the round Gaussian's
  surface rise at distance d from its centre, e^{−x} I₀(x) / (2√(2π) s) with x = d²/4s²
  (Lax 1977), averaged over the line's length, the depth left out.

The last two leave out what lowers the peak (the blur, the depth): upper bounds of their
slices. k(T) enters by the Kirchhoff transform (C&J §1.7; physics.md §3.6): with U = ∫_{T0}^{T}
k dT the steady problem of a homogeneous body with an insulated face is the constant-k one,
so the centre reaches the T with ∫_{T0}^{T} k dT = P G. A load shorter than the spot's
thermal time is taken with the constant-k transient of a surface source's centre
(physics.md §3.3): Gaussian ΔT(t) = ΔT∞ (2/π) arctan(√(2κt)/σ); flat top
ΔT(t) = ΔT∞ (2√(κt)/a) [1/√π − ierfc(a / 2√(κt))], κ of the target at T0. Elongated spots
are taken at their steady state (an upper bound of the transient). A schedule (pulse
train, segments) superposes that transient over its segments, each a switch-on and a
switch-off (schedule_peak), and is taken at its hottest segment end: the heat of the
earlier segments counts (until 2026-12-05 the longest segment at the highest power was
taken from T0 alone: 0.70 of the FE rise for 0.1 s at 9 W then 10 µs at 10 W on a 50 µm
spot, now 1.007).

Measured against FE runs of the shipped W-in-Cu insert (studies/reflection_insert.toml,
10 s loads, k(T), 2026-12-05): the estimate's rise over T0 is 0.97-1.00 of the FE peak's for
Gaussian spots of 1 to 20 µm FWHM at 100 kV (kernel), 0.97 at 160 kV, 0.97 for a 50 µm
flat top, 0.97 with Everhart–Hoff, 0.98 with surface deposition and with constant
properties, 1.02 for a 0.1 ms load (the transient's Kirchhoff transform is approximate),
1.04 on the shipped 3-D example (studies/reflection_3d.toml: a 21.3 × 20 µm elliptical
footprint, surface deposition, its coarser mesh);
0.91 for a 100 µm, 50 W spot (the FE peak 101 K above the estimate): the estimate leaves
out the anode's bulk heating (the heat sink's and the coolant's rise, which long loads and
high powers add), so it is low by that. A plain Gaussian surface source (the textbook
P/(2√(2π) k σ), electron penetration left out) was 1.23 of the FE rise at 20 µm, 2.2 at
5 µm, 4.5 at 2 µm and 8.3 at 1 µm: electrons spreading over µm matter below some 10 µm.
tests/test_spot_estimate.py holds the estimate to FE runs. A target layer thinner than
FILM_SPOT_SIZES spot sizes or deposition depths (a film on a window) gets no estimate: the
half-space of its material does not stand for it. So it is an early warning, not a limit:
`check` warns when it reaches the target's melting point (or solidus), and the run decides.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from .beam import Spot
from .materials import MELTING_WORDS, Material

#: How far the estimate is from FE runs (module doc), quoted wherever it is shown.
KNOWN_BIAS = ("its rise 0.97-1.05 of FE runs' for W at 100-160 kV, 1-50 µm spots, lower by "
              "the anode's bulk heating, which it leaves out")

#: A target layer thinner than this many spot sizes (FWHM or diameter; the smaller of an
#: elongated spot's) or deposition depths is a film: the half-space of its material does
#: not stand for it.
FILM_SPOT_SIZES = 3.0


@dataclass(frozen=True)
class SpotEstimate:
    """The textbook spot temperature of a case.

    Attributes:
        T_K: the centre's temperature (K); None when it would reach the material's
            melting_K (or its k table's end).
        T0_K: the far-field (initial) temperature (K).
        U_W_m: P G, the ∫k dT the deposited power needs (W/m).
        U_limit_W_m: ∫k dT from T0 to the material's melting_K (or its k table's end).
        material: the target material.
        duration_s: the instant it is taken at (s from the load's start: a schedule's
            hottest segment end; inf: steady).
        steady_fraction: the transient's share of the steady rise (1 at steady state).
        P_W: the beam power it is for (W; the deposited power over the deposited fraction,
            set by at_power; nan from estimate alone).
    """

    T_K: float | None
    T0_K: float
    U_W_m: float
    U_limit_W_m: float
    material: Material
    duration_s: float
    steady_fraction: float
    P_W: float = math.nan

    @property
    def melts(self) -> bool:
        """Whether the estimate reaches the material's melting_K (its solidus, …) or the end
        of its k(T) table, whichever is lower (ceiling_words)."""
        return self.T_K is None

    @property
    def ceiling_is_melting(self) -> bool:
        """Whether the cap is the material's melting_K (else its k(T) table ends first)."""
        return self.material.k.range_K[1] >= self.material.melting_K

    @property
    def ceiling_words(self) -> str:
        """What the estimate is capped by, in words: "the melting point of W (3422 °C)" (its
        solidus, decomposition temperature, …), or "the end of Foo's k(T) data (… °C)"."""
        m = self.material
        if not self.ceiling_is_melting:
            return f"the end of {m.key}'s k(T) data ({m.k.range_K[1] - 273.15:.0f} °C)"
        return f"the {MELTING_WORDS[m.melting_kind]} of {m.key} ({m.melting_K - 273.15:.0f} °C)"


def centre_factor(spot: Spot) -> float:
    """G (1/m): the centre's rise per deposited watt times k, of the spot's deposition on a
    half-space with an insulated face (module doc): the depth profile's slices, each a
    Gaussian-blurred footprint at its depth."""
    z, share, w, v1, v2 = depth_profile(spot)
    return float(np.sum(share * (w * _slice_factor(spot, v1, z)
                                 + (1.0 - w) * _slice_factor(spot, v2, z))))


def depth_profile(spot: Spot):
    """The deposition's slices: (depth m, share of the power, core weight, core and halo
    variance per in-plane axis m²), arrays over the slices. Kernel: the tables' depth nodes
    (trapezoid weights of the piecewise-linear density) with their lateral spread;
    Everhart–Hoff: 200 slices of the top layer's range, no spread; film: 200 slices of the
    top layer; surface: one slice at the face."""
    if spot.deposition == "kernel" and spot.kernel is not None:
        parts = []
        for lk in spot.kernel.layers:
            g = np.asarray(lk.density_per_m, dtype=float)
            wt = np.full_like(g, lk.step_m)
            wt[0] = wt[-1] = 0.5 * lk.step_m
            parts.append((lk.top_m + lk.step_m * np.arange(len(g)), g * wt,
                          np.asarray(lk.core_weight, dtype=float),
                          np.asarray(lk.core_var_m2, dtype=float),
                          np.asarray(lk.halo_var_m2, dtype=float)))
        return tuple(np.concatenate(a) for a in zip(*parts))
    if spot.deposition in ("everhart_hoff", "film"):
        from .beam import depth_dose_cumulative

        top = spot.layers[0]
        edges = np.linspace(0.0, 1.0, 201)
        if spot.deposition == "film":
            share, z = np.diff(edges), 0.5 * (edges[1:] + edges[:-1]) * top.thickness_m
        else:
            share = np.diff([depth_dose_cumulative(x) for x in edges])
            z = 0.5 * (edges[1:] + edges[:-1]) * top.range_m
        zero = np.zeros_like(z)
        return z, share, zero + 1.0, zero, zero
    one = np.ones(1)
    return 0.0 * one, one, one, 0.0 * one, 0.0 * one


def _slice_factor(spot: Spot, var, z) -> np.ndarray:
    """G of one slice each (1/m): the footprint blurred by a round Gaussian of variance var
    (m²) per axis, at depth z (m) below an insulated face (its image doubles it), at the
    centre of the face. Gaussian shapes: the closed forms of the module doc with
    erfcx(z/√2σ); a flat top: the uniform disc at depth z, (√(a² + z²) − z)/(π a²),
    unblurred; a line: its surface value with the blur (both upper bounds: the blur and
    the depth spread the heat)."""
    var, z = np.asarray(var, dtype=float), np.asarray(z, dtype=float)
    if spot.shape == "flat_top":
        a = 0.5 * spot.size_m
        return (np.sqrt(a * a + z * z) - z) / (math.pi * a * a)
    s2 = spot.sigma_m ** 2 + var
    if spot.shape == "line":
        s = np.sqrt(s2)[:, None]
        u = np.linspace(0.0, 0.5 * spot.size2_m, 2001)[None, :]
        ring = np.trapezoid(_scaled_i0(u ** 2 / (4.0 * s ** 2)), u, axis=1) / u[0, -1]
        return ring / (2.0 * math.sqrt(2.0 * math.pi) * s[:, 0])
    if spot.shape == "elliptical":
        r2 = (spot.size2_m / spot.size_m) ** 2 * spot.sigma_m ** 2 + var
        th = np.linspace(0.0, 2.0 * math.pi, 512, endpoint=False)[None, :]
        c = np.cos(th) ** 2 / (2.0 * s2[:, None]) + np.sin(th) ** 2 / (2.0 * r2[:, None])
        ring = np.mean(0.5 * np.sqrt(math.pi / c) * _erfcx(np.sqrt(c) * z[:, None]), axis=1)
        return ring / (2.0 * math.pi * np.sqrt(s2 * r2))
    s = np.sqrt(s2)
    return _erfcx(z / (math.sqrt(2.0) * s)) / (2.0 * math.sqrt(2.0 * math.pi) * s)


def _erfcx(x) -> np.ndarray:
    """exp(x²) erfc(x) for x ≥ 0: math.erfc below 25, the asymptotic series
    (1 − 1/2x² + 3/4x⁴) / (x√π) beyond (Abramowitz & Stegun 7.1.23; relative error
    < 1e-7 there)."""
    x = np.asarray(x, dtype=float)
    near = np.minimum(x, 25.0)
    out = np.exp(near * near) * np.frompyfunc(math.erfc, 1, 1)(near).astype(float)
    far = np.maximum(x, 25.0)
    return np.where(x < 25.0, out, (1 - 1 / (2 * far ** 2) + 3 / (4 * far ** 4))
                    / (far * math.sqrt(math.pi)))


def _scaled_i0(x: np.ndarray) -> np.ndarray:
    """e^{−x} I₀(x) for x ≥ 0: numpy's i0 up to 50, beyond it the asymptotic series
    (1 + 1/8x + 9/128x²) / √(2πx) (Abramowitz & Stegun 9.7.1; relative error < 1e-6 there)."""
    x = np.asarray(x, dtype=float)
    near = np.minimum(x, 50.0)
    far = np.maximum(x, 50.0)
    return np.where(x <= 50.0, np.exp(-near) * np.i0(near),
                    (1 + 1 / (8 * far) + 9 / (128 * far ** 2)) / np.sqrt(2 * math.pi * far))


def transient_fraction(spot: Spot, kappa_m2_s: float, t_s: float) -> float:
    """ΔT(t)/ΔT∞ at the centre of a round spot switched on at t = 0 on a half-space of
    constant properties (module doc); 1 for steady loads and elongated spots."""
    return float(_fractions(spot, kappa_m2_s, np.array([t_s]))[0])


def _fractions(spot: Spot, kappa_m2_s: float, t_s: np.ndarray) -> np.ndarray:
    """transient_fraction for an array of times t_s (s): 0 for t ≤ 0, 1 for t = inf and,
    at any t > 0, for elongated spots (their steady state, an upper bound)."""
    t = np.asarray(t_s, dtype=float)
    out = np.where(t > 0, 1.0, 0.0)
    on = (t > 0) & np.isfinite(t)
    if spot.shape not in ("gaussian", "flat_top") or not on.any():
        return out
    kt = kappa_m2_s * t[on]
    if spot.shape == "gaussian":
        out[on] = 2.0 / math.pi * np.arctan(np.sqrt(2.0 * kt) / spot.sigma_m)
        return out
    L = 2.0 * np.sqrt(kt)  # 2√(κt)
    a = 0.5 * spot.size_m
    x = a / L
    erfc = np.frompyfunc(math.erfc, 1, 1)(x).astype(float)
    ierfc = np.exp(-x * x) / math.sqrt(math.pi) - x * erfc
    out[on] = L / a * (1.0 / math.sqrt(math.pi) - ierfc)
    return out


#: (Instant, segment) pairs schedule_peak superposes at the most (a few arrays of this
#: many doubles); beyond, the latest instants only (a pulse train peaks in its last pulse).
SCHEDULE_PAIRS = 2_000_000


def schedule_peak(spot: Spot, kappa_m2_s: float, segments, power_W: float
                  ) -> tuple[float, float]:
    """The hottest instant of the spot's centre over a schedule, by superposing the
    constant-k transient (transient_fraction F) of its segments, each a switch-on at its
    start and a switch-off at its end: ΔT(t)/ΔT∞(P) = Σ_i (P_i/P) [F(t − s_i) − F(t − e_i)],
    evaluated at the ends of the segments after which the power falls (or the schedule
    ends): with F increasing, the rise peaks at one of them.

    Args:
        spot: the footprint (its transient, F).
        kappa_m2_s: the target's diffusivity (m²/s).
        segments: [(duration s, beam power W)]; empty: steady.
        power_W: the power P the fraction is of (W; the schedule's highest).

    Returns:
        (t, f): the instant (s from the schedule's start; inf for a steady load) and the
        fraction f of P's steady rise reached there.
    """
    if not segments:
        return math.inf, 1.0
    d = np.array([x for x, _ in segments], dtype=float)
    p = np.array([x for _, x in segments], dtype=float) / power_W
    ends = np.cumsum(d)
    starts = np.concatenate([[0.0], ends[:-1]])  # each exactly the previous end
    falls = np.flatnonzero((p > 0) & (np.append(p[1:], 0.0) < p))
    src = np.flatnonzero(p > 0)
    falls = falls[-max(1, SCHEDULE_PAIRS // len(src)):]
    t = ends[falls][:, None]
    f = (p[src] * (_fractions(spot, kappa_m2_s, t - starts[src])
                   - _fractions(spot, kappa_m2_s, t - ends[src]))).sum(axis=1)
    j = int(np.argmax(f))
    return float(t[j, 0]), float(f[j])


def estimate(spot: Spot, material: Material, P_dep_W: float, T0_K: float,
             duration_s: float = math.inf, segments=None) -> SpotEstimate:
    """The textbook spot temperature (module doc).

    Args:
        spot: the beam footprint (its shape and sizes; the surface source is taken).
        material: the target's material (its k(T) table, ρc at T0, melting_K).
        P_dep_W: deposited power (W).
        T0_K: far-field and initial temperature (K).
        duration_s: how long the power is held (s); inf: steady.
        segments: a schedule [(duration s, beam power W)] instead, P_dep_W deposited at
            its highest power (schedule_peak: its hottest segment end, the duration_s
            reported).
    """
    k = material.k
    T_top = min(material.melting_K, k.range_K[1])
    U_limit = k.integral(T0_K, T_top) if T_top > T0_K else 0.0
    kappa = float(k(T0_K) / material.rho_cp(T0_K))
    if segments:
        duration_s, frac = schedule_peak(spot, kappa, segments, max(p for _, p in segments))
    else:
        frac = transient_fraction(spot, kappa, duration_s)
    U = P_dep_W * centre_factor(spot) * frac
    T = None if U >= U_limit else _inverse_integral(k, T0_K, T_top, U)
    return SpotEstimate(T, T0_K, U, U_limit, material, duration_s, frac)


def _inverse_integral(k, T0: float, T1: float, U: float) -> float:
    """The T in [T0, T1] with ∫_{T0}^{T} k dT = U (the interpolant's exact antiderivative,
    inverted by bisection to 1e-9 of the interval)."""
    lo, hi = T0, T1
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if float(k.antiderivative(mid, T0)) < U:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def for_case(case, prep) -> SpotEstimate | None:
    """The estimate of a prepared case: its target layer's material, its schedule's hottest
    segment end (schedule_peak: every segment superposed, from the initial temperature;
    duration_s is that instant), the deposited power of its highest-power segment; None
    for a film target (a top layer thinner than FILM_SPOT_SIZES spot sizes or deposition
    depths) or no power."""
    P = case.beam.power_W or 0.0
    return at_power(case, prep, P, segments=case.loading.segments)


def at_power(case, prep, P_W: float, duration_s: float = math.inf,
             segments=None) -> SpotEstimate | None:
    """The estimate of a prepared case's spot at a beam power P_W (W) held for duration_s
    (inf: steady), or at the hottest end of segments [(duration s, W)] whose highest power
    is P_W, from the initial temperature; None for a film target or no power."""
    spot = prep.spot
    top = spot.layers[0]
    if P_W <= 0 or top.thickness_m < FILM_SPOT_SIZES * max(spot.smallest_m, prep.zone_depth):
        return None
    return dataclasses.replace(estimate(spot, prep.mats[top.region], P_W * prep.p_dep,
                                        case.initial_temperature_K, duration_s, segments),
                               P_W=P_W)


def power_for(est: SpotEstimate, T_K: float) -> float:
    """The beam power (W) at which an estimate's spot (same spot, material, duration and
    deposited fraction) reaches T_K: the ∫k dT to it over the estimate's, times its power
    (the Kirchhoff-transformed rise is linear in the power)."""
    k = est.material.k
    return est.P_W * k.integral(est.T0_K, min(T_K, k.range_K[1])) / est.U_W_m
