"""Condensed-history (mixed, class II) electron Monte Carlo for X-ray tube targets.

A generator tool, not part of the anodesim package and never run at simulation time. It
tracks electrons of kinetic energy E0 (keV) entering a flat target at z = 0 (z positive into
the target) with the direction (sin ψ, 0, cos ψ), ψ the incidence angle from the surface
normal. The target is a half-space of one material, or a film of thickness t on a
half-space substrate (one interface plane z = t).

Physics (sources in README.md):

- Elastic scattering (default, ELASTIC = "elsepa": the 10–30 kV rows since 2026-12-02b,
  every row since 2026-12-02c): the differential cross sections of the PENELOPE database
  (files eeldxZZZ.p08), computed with ELSEPA (Dirac partial waves; Salvat, Jablonski &
  Powell, Comput. Phys. Commun. 165, 157, 2005), rows 0.3–400 keV shipped in data/elsepa_elastic.npz (data/README.md: source,
  licence). They are interpolated log-log in energy onto N_EGRID energies and used through
  the class TabulatedElastic (cumulative cross sections on PENELOPE's 606 angles). The DCS
  is multiplied by (Z + 1)/Z for the angular deflections by inelastic collisions with the
  atomic electrons, which the elastic DCS leaves out (the Z(Z + 1) rule, Fano 1954 [R];
  it raises η of C and Be by 0.010–0.015, moves W's by < 0.005).
  Why: the Joy-screened Rutherford cross section used before overestimates W's transport
  cross section σ1 against ELSEPA by a factor 1.8 at 10 keV, 1.5 at 20 keV, 1.36 at
  30 keV, 1.22 at 50 keV, 1.09 at 100 keV (Mo 1.43 / 1.26 / 1.20 / 1.13 / 1.09), which put
  W's η 0.05–0.08 above the Hunger–Küchler measurements at 10–30 kV (README).
- Elastic scattering (ELASTIC = "rutherford", the tables before): screened Rutherford with
  relativistic kinematics,
  dσ/dμ = K/(μ + A)², μ = (1 − cos θ)/2, K = π Z(Z+1) (e²/pv)², and the screening parameter
  of Joy (Monte Carlo Modeling for Electron Microscopy and Microanalysis, 1995),
  A = 3.4e-3 Z^0.67 / E [keV], with E replaced by p²c²/2mc² (relativistic momentum).
  Z(Z+1) counts the angular deflections by the atomic electrons.
- Mott correction of the "rutherford" model (high Z, low energy): below E_ref = 50 keV the
  total and the first
  transport (μ-moment) cross sections σ0, σ1 of W and Mo (Z > MOTT_MIN_Z) are scaled by
  the energy dependence of the empirical fit of Browning et al. (J. Appl. Phys. 76, 2016,
  1994) to the Mott cross sections of Czyżewski et al. (J. Appl. Phys. 68, 3066, 1990)
  relative to the screened Rutherford one, anchored at E_ref:
      g_k(E) = [σk_Browning(E)/σk_Joy(E)] / [σk_Browning(E_ref)/σk_Joy(E_ref)],
  and the screened-Rutherford DCS with g0·σ0 and g1·σ1 is used (its A and K solved from
  them). Browning's fit: σ0 = 3.0e-18 Z^1.7/(E + 0.005 Z^1.7 √E + 0.0007 Z²/√E) cm² (E in
  keV); a share R/(1 + R), R = 300 E/Z + Z³/(3e5 E), screened Rutherford with α = 7e-3/E, the
  rest isotropic. At and above 50 keV (where the Joy-screened Rutherford reproduces the
  measured η ≈ 0.50 of W and the review MC's depths) nothing changes, and g is continuous
  there. Browning's absolute cross sections were tried and rejected (README): they put W's
  η 0.03–0.04 below the measurements at 10–30 kV and make a bump to 0.537 at 50 kV. The
  fit is fitted to 30 keV; between 30 and 50 keV its smooth form is used beyond that range.
  C and Be keep the Joy DCS: their Mott/Rutherford ratio is 0.89–1.01 at ≤ 30 keV
  (McKinley–Feshbach, αZ ≪ 1) and their η agrees with the measurements within 0.007. Cu
  (αZ = 0.21) keeps it too: with the correction (g > 1 for Cu) its η at 10–30 kV moved
  0.003–0.015 further above the measurements (an empirical choice, README).
- Mixed scheme (Berger's class II, as in PENELOPE, Salvat et al.): elastic collisions with
  μ > μc are simulated one by one ("hard"); μc is set so that the hard mean free path is
  λh = max(λel, C1·λ1), λ1 the transport mean free path, C1 = 0.05. The soft collisions
  along a step are lumped into one artificial deflection at a uniformly random point of the
  step (random hinge) with the exact first moment ⟨μ⟩ = (1 − exp(−2 s N σs1))/2, μ drawn
  from an exponential distribution (the small-angle Gaussian in θ). Step-length check:
  C1 = 0.01 with F_E = 0.01 changes W's η at 10 and 30 kV by +0.005 / −0.007 (± 0.005), a
  cutoff of 0.05 keV instead of 0.5 keV by +0.006 / −0.008: neither is a bias.
- Energy loss: continuous slowing down (CSDA) with the relativistic Bethe collision stopping
  power of ICRU Report 37 (Rohrlich–Carlson, no density effect, which is negligible below
  250 keV) with the Joy–Luo low-energy modification I → I / (1 + k I/E),
  k = 0.731 + 0.0688 log10 Z (Joy & Luo, Scanning 11, 176, 1989). Against the collision
  stopping power of PENELOPE-2018 for W (its material file, PenRed examples/quadrics/
  4-x-ray-tube/W.mat) it is 2.2 / 1.4 / 0.7 % low at 10 / 20 / 30 keV, within 0.4 % at
  50–200 keV, and 6 / 14 % low at 5 / 2 keV. (Sensitivity: 15 % more stopping lowers W's
  η at 10 and 30 kV by 0.02.) Steps lose at most
  F_E = 4 % of the energy; the stopping power is taken at the step's mid energy. Electrons
  below E_cut = max(0.5 keV, 0.02 E0) deposit their remaining energy where they are.
  Energy straggling and secondary electrons are not transported (all energy lost is
  deposited on the step); bremsstrahlung (< 1.5 % of the beam energy below 225 kV) is
  counted as deposited.
- Scoring: the energy lost on each straight segment is scored at the segment's midpoint in
  a (depth z, radius r from the entry point) histogram, with its x moment per depth bin
  (the drift of the deposition along the in-plane beam direction at oblique incidence).
  Electrons crossing z = 0 outward are backscattered: their number and energy give η and
  η_E. A segment that reaches the film/substrate interface is cut there and the step ends.

Everything is vectorised over the electrons of a batch in numpy; the arrays are compacted
as electrons stop or leave.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

ME_KEV = 510.99895  # electron rest energy
E2_KEV_UM = 1.43996448e-6  # e²/(4π ε0) in keV·µm
NA = 6.02214076e23
C1 = 0.05  # hard mean free path = max(elastic, C1 × transport) mean free path
F_E = 0.04  # largest fractional energy loss per step
E_CUT_MIN_KEV = 0.5
E_CUT_FRAC = 0.02
N_THETA_BS = 9  # backscatter polar-angle bins (in cos θ, equal width)
N_FINE = 4000  # fine 1-D depth and radius bins for the percentiles
# Mott correction (module docstring): Browning's energy dependence relative to Joy's DCS
# below MOTT_E_REF_KEV, anchored there; only for Z > MOTT_MIN_Z. MOTT = False gives the
# uncorrected screened Rutherford of the tables before 2026-12-02.
MOTT = True
MOTT_E_REF_KEV = 50.0  # lowest voltage where the Joy DCS is validated (W η, mean depth)
MOTT_MIN_Z = 34  # W and Mo (αZ > 0.25); Cu got worse with it (README)
BS_TAN_MAX = 10.0  # exit tangent clip (θ ≤ 84.3°) of the forward-shift tally
# Elastic model: "elsepa" (the tabulated ELSEPA/PENELOPE DCS, data/elsepa_elastic.npz; every
# row of the tables since 2026-12-02c) or "rutherford" (Joy-screened Rutherford with the Mott
# correction above, the tables before).
ELASTIC = "elsepa"
ELSEPA_PATH = Path(__file__).resolve().parent / "data" / "elsepa_elastic.npz"
N_EGRID = 400  # log-spaced energies of the precomputed elastic tables (2.2 % apart)
# Angular deflections by inelastic collisions with the atomic electrons, which the elastic
# (ELSEPA) DCS leaves out: the DCS is scaled by (Z + 1)/Z, the Z(Z + 1) rule of the
# Rutherford model above (Bethe 1953; as in Joy's and Molière-based codes).
INELASTIC_DEFLECTION = True
# q(A) = σ1/σ0 = A[(1 + A) ln(1 + 1/A) − 1] of a screened Rutherford DCS (increasing in A)
_LOG_A = np.linspace(-16.0, 8.0, 6000)
_Q_OF_A = np.exp(_LOG_A) * ((1.0 + np.exp(_LOG_A)) * np.log1p(np.exp(-_LOG_A)) - 1.0)


def browning_cross_sections(Z: float, E):
    """Total σ0 and μ-moment σ1 = ∫ μ dσ (µm²) of Browning et al. 1994 at E (keV).

    σ0 = 3.0e-18 Z^1.7/(E + 0.005 Z^1.7 √E + 0.0007 Z²/√E) cm²; a share R/(1 + R),
    R = 300 E/Z + Z³/(3e5 E), is screened Rutherford with α = 7e-3/E (⟨μ⟩ =
    α[(1 + α) ln(1 + 1/α) − 1]), the rest isotropic (⟨μ⟩ = 1/2).
    """
    E = np.asarray(E, dtype=float)
    sig0 = 3.0e-18 * Z**1.7 / (E + 0.005 * Z**1.7 * np.sqrt(E) + 7e-4 * Z**2 / np.sqrt(E))
    sig0 = sig0 * 1e8  # cm² → µm²
    R = 300.0 * E / Z + Z**3 / (3e5 * E)
    f_r = R / (1.0 + R)
    a = 7e-3 / E
    mu_r = a * ((1.0 + a) * np.log1p(1.0 / a) - 1.0)
    return sig0, sig0 * (f_r * mu_r + (1.0 - f_r) * 0.5)


def screened_rutherford_matching(sig0, sig1):
    """(A, K) of the DCS K/(μ + A)² with total cross section sig0 and ∫ μ dσ = sig1."""
    A = np.exp(np.interp(sig1 / sig0, _Q_OF_A, _LOG_A))
    return A, sig0 * A * (1.0 + A)


class TabulatedElastic:
    """Mixed-scheme elastic tables of one material from the ELSEPA DCS (data/elsepa_elastic.npz).

    The DCS dσ/dμ of the PENELOPE database rows (0.3–400 keV) is interpolated log-log in
    energy onto N_EGRID log-spaced energies, as PENELOPE interpolates it. For each energy the
    cumulative cross section C(μ) = ∫₀^μ dσ (trapezoids on PENELOPE's 606 angles) gives σ0,
    σ1 = ∫ μ dσ, the hard mean free path λh = max(λel, C1·λ1), the cutoff μc with
    C(1) − C(μc) = 1/(N λh), the soft moment σs1 = ∫₀^μc μ dσ and the normalised CDF from
    which hard deflections μ > μc are drawn (inverse transform, linear within an angle bin).
    An electron of energy E uses the grid energy below or above it with the probability of
    linear interpolation in log E (PENELOPE's random-hinge interpolation of the DCS).
    """

    @classmethod
    def elsepa(cls, name: str, n_per_um3: float) -> "TabulatedElastic":
        """The tables of material name from data/elsepa_elastic.npz."""
        d = np.load(ELSEPA_PATH)
        mu = 0.5 * (1.0 - np.cos(np.radians(d["theta_deg"])))
        dcs = 4.0 * math.pi * d[f"{name}_dcs_cm2_sr"].astype(float) * 1e8  # dσ/dμ, µm²
        if INELASTIC_DEFLECTION:
            Z = MATERIALS[name]["Z"]
            dcs = dcs * (Z + 1.0) / Z
        return cls(d[f"{name}_E_eV"] / 1e3, mu, dcs, n_per_um3)

    def __init__(self, E, mu, dcs, n_per_um3: float):
        """Tables from dσ/dμ (µm²) dcs[i, k] at energies E[i] (keV) and μ[k] (0 … 1)."""
        self.log_e = np.linspace(math.log(E[0]), math.log(E[-1]), N_EGRID)
        self.dlog = self.log_e[1] - self.log_e[0]
        # log-log interpolation of every angle's DCS in energy
        lE = np.log(E)
        i = np.clip(np.searchsorted(lE, self.log_e, side="right") - 1, 0, len(E) - 2)
        f = ((self.log_e - lE[i]) / (lE[i + 1] - lE[i]))[:, None]
        ld = np.log(np.maximum(dcs, 1e-300))
        dsig = np.exp((1.0 - f) * ld[i] + f * ld[i + 1])
        dmu = np.diff(mu)
        C = np.concatenate([np.zeros((N_EGRID, 1)),
                            np.cumsum(0.5 * (dsig[:, 1:] + dsig[:, :-1]) * dmu, axis=1)], axis=1)
        M1 = np.concatenate([np.zeros((N_EGRID, 1)), np.cumsum(
            0.5 * (dsig[:, 1:] * mu[1:] + dsig[:, :-1] * mu[:-1]) * dmu, axis=1)], axis=1)
        sig0, sig1 = C[:, -1], M1[:, -1]
        lam_el = 1.0 / (n_per_um3 * sig0)
        lam1 = 1.0 / (n_per_um3 * 2.0 * sig1)
        self.lam_h = np.maximum(lam_el, C1 * lam1)
        c_cut = sig0 - 1.0 / (n_per_um3 * self.lam_h)  # C(μc)
        self.mu_c = np.array([np.interp(c, Ck, mu) for c, Ck in zip(c_cut, C)])
        self.sig_s1 = np.array([np.interp(m, mu, Mk) for m, Mk in zip(self.mu_c, M1)])
        self.sig0, self.sig1 = sig0, sig1
        self.mu = mu
        self.F_c = c_cut / sig0
        # rows of the normalised CDF, offset by the row index: one increasing array
        self.flat = (np.arange(N_EGRID)[:, None] + C / sig0[:, None]).ravel()
        self.n_mu = len(mu)

    def params(self, E, rng):
        """Grid row j (random log-E interpolation), λh (µm) and σs1 (µm²) at E (keV)."""
        x = np.clip((np.log(E) - self.log_e[0]) / self.dlog, 0.0, N_EGRID - 1.0)
        j = np.minimum(x.astype(int) + (rng.random(len(x)) < x - np.floor(x)), N_EGRID - 1)
        return j, self.lam_h[j], self.sig_s1[j]

    def sample_hard(self, j, rng):
        """μ of hard collisions (μ > μc) of the electrons on grid rows j."""
        v = j + self.F_c[j] + rng.random(len(j)) * (1.0 - self.F_c[j])
        lo = j * self.n_mu
        k = np.clip(np.searchsorted(self.flat, v, side="right") - 1, lo, lo + self.n_mu - 2)
        den = self.flat[k + 1] - self.flat[k]
        t = np.where(den > 0, (v - self.flat[k]) / np.where(den > 0, den, 1.0), 0.5)
        a = k - lo
        return np.clip(self.mu[a] + np.clip(t, 0.0, 1.0) * (self.mu[a + 1] - self.mu[a]), 0.0, 1.0)


@lru_cache(maxsize=None)
def elsepa_table(name: str) -> TabulatedElastic:
    """The ELSEPA elastic tables of material name (built once per process)."""
    return TabulatedElastic.elsepa(name, Material.get(name).n_per_um3)

# Z, A (g/mol), density (g/cm³, the anodesim material library's values), mean excitation
# energy I (eV, ICRU Report 37 / ESTAR; diamond: ICRU 37's 81 eV for C at 3.5 g/cm³).
MATERIALS = {
    "W": dict(Z=74, A=183.84, rho=19.25, I_eV=727.0),
    "Mo": dict(Z=42, A=95.95, rho=10.22, I_eV=424.0),
    "Cu": dict(Z=29, A=63.546, rho=8.96, I_eV=322.0),
    "diamond": dict(Z=6, A=12.011, rho=3.515, I_eV=81.0),
    "Be": dict(Z=4, A=9.0121831, rho=1.85, I_eV=63.7),
}


@dataclass(frozen=True)
class Material:
    """Atomic data of one target material and its cross sections.

    Attributes:
        name: key in MATERIALS.
        Z: atomic number.
        A: atomic mass (g/mol).
        rho: density (g/cm³).
        I_keV: mean excitation energy (keV).
    """

    name: str
    Z: float
    A: float
    rho: float
    I_keV: float

    @classmethod
    def get(cls, name: str) -> "Material":
        """The material called name (a key of MATERIALS)."""
        d = MATERIALS[name]
        return cls(name, float(d["Z"]), float(d["A"]), float(d["rho"]), d["I_eV"] / 1e3)

    @property
    def n_per_um3(self) -> float:
        """Atom number density (1/µm³)."""
        return self.rho * NA / self.A * 1e-12

    def stopping_keV_um(self, E):
        """Collision stopping power −dE/ds (keV/µm) at kinetic energy E (keV).

        ICRU 37 relativistic Bethe formula for electrons without density effect, with the
        Joy–Luo replacement I → I/(1 + kI/E) that keeps it finite and realistic down to
        about 0.1 keV.
        """
        E = np.asarray(E, dtype=float)
        k = 0.731 + 0.0688 * math.log10(self.Z)
        I_eff = self.I_keV / (1.0 + k * self.I_keV / E)
        tau = E / ME_KEV
        gamma = tau + 1.0
        beta2 = 1.0 - 1.0 / gamma**2
        F = 1.0 - beta2 + (tau**2 / 8.0 - (2.0 * tau + 1.0) * math.log(2.0)) / gamma**2
        L = np.log(tau**2 * (tau + 2.0) / (2.0 * (I_eff / ME_KEV) ** 2)) + F
        S_MeV_cm2_g = 0.153537 * self.Z / (self.A * beta2) * L
        return S_MeV_cm2_g * self.rho * 0.1  # MeV cm²/g × g/cm³ = MeV/cm = 0.1 keV/µm

    def elastic(self, E):
        """Mixed-scheme elastic parameters at energy E (keV).

        Returns:
            (A, K, mu_c, lam_h, sig_s1): the screening parameter, the Rutherford factor K
            (µm²), the hard-collision cutoff μc, the hard mean free path (µm) and the
            soft first-moment cross section ∫₀^μc μ dσ (µm²).
        """
        E = np.asarray(E, dtype=float)
        A, K = self._joy(E)
        if MOTT and self.Z > MOTT_MIN_Z:
            A, K = self._mott_corrected(E, A, K)
        N = self.n_per_um3
        lam_el = A * (1.0 + A) / (N * K)
        sig_mu1 = self._moments(A, K)[1]  # ∫ μ dσ over all μ
        lam1 = 1.0 / (N * 2.0 * sig_mu1)  # transport mean free path (1 − cos θ moment)
        lam_h = np.maximum(lam_el, C1 * lam1)
        mu_c = 1.0 / (1.0 / (1.0 + A) + 1.0 / (N * K * lam_h)) - A
        mu_c = np.clip(mu_c, 0.0, 1.0)
        sig_s1 = K * (np.log1p(mu_c / A) - mu_c / (mu_c + A))
        return A, K, mu_c, lam_h, sig_s1

    def _joy(self, E):
        """(A, K) of the Joy-screened Rutherford DCS at E (keV)."""
        pc2 = E * (E + 2.0 * ME_KEV)
        pv = pc2 / (E + ME_KEV)
        A = 3.4e-3 * self.Z**0.67 * 2.0 * ME_KEV / pc2
        return A, math.pi * self.Z * (self.Z + 1.0) * (E2_KEV_UM / pv) ** 2

    @staticmethod
    def _moments(A, K):
        """σ0 and σ1 = ∫ μ dσ of the DCS K/(μ + A)²."""
        return K / (A * (1.0 + A)), K * (np.log1p(1.0 / A) - 1.0 / (1.0 + A))

    def _mott_corrected(self, E, A, K):
        """(A, K) with σ0, σ1 scaled by Browning's energy dependence below E_ref."""
        r0, r1 = self._moments(A, K)
        b0, b1 = browning_cross_sections(self.Z, E)
        ref = np.array([MOTT_E_REF_KEV])
        j0, j1 = self._moments(*self._joy(ref))
        c0, c1 = browning_cross_sections(self.Z, ref)
        g0 = (b0 / r0) / float(c0[0] / j0[0])
        g1 = (b1 / r1) / float(c1[0] / j1[0])
        A_m, K_m = screened_rutherford_matching(g0 * r0, g1 * r1)
        joy = E >= MOTT_E_REF_KEV  # exactly the Joy DCS there (no round trip)
        return np.where(joy, A, A_m), np.where(joy, K, K_m)

    def csda_range_um(self, E0: float, n: int = 2000) -> float:
        """CSDA range (µm) from E0 (keV) down to zero with this stopping power."""
        E = np.linspace(1e-3, E0, n)
        return float(np.trapezoid(1.0 / self.stopping_keV_um(E), E))

    def kanaya_okayama_um(self, E0: float) -> float:
        """Kanaya–Okayama range (µm) at E0 (keV)."""
        return 0.0276 * self.A * E0**1.67 / (self.Z**0.889 * self.rho)


@dataclass
class Result:
    """Tallies of one run, all energies as fractions of the beam energy n·E0.

    Attributes:
        n: histories.
        E0_keV, psi_deg: beam energy and incidence angle.
        eta, eta_E: backscatter coefficient and energy backscatter fraction.
        eta_se, eta_E_se: their standard errors.
        dep_film, dep_film_se: energy deposited at z < t (all of it for a half-space).
        dep_total: energy deposited anywhere (1 − η_E up to rounding).
        mean_depth_um, mean_depth_se_um: energy-weighted mean deposition depth.
        hist: energy fraction per (z bin, r bin) or None.
        xmom: Σ energy fraction × x (µm) per z bin or None.
        bs_theta: energy fraction backscattered per polar-angle bin (cos θ from 0 to 1).
        bs_forward: share of the backscattered energy leaving forward (u > 0: along the
            in-plane beam direction); 1/2 at normal incidence.
        bs_shift: energy-weighted mean of u/|w| (exit tangent along the beam's in-plane
            direction, each exit clipped to ±BS_TAN_MAX): the mean landing offset on a
            plane parallel to the surface at distance H, in units of H.
        fine_z, fine_r: energy fraction per fine uniform depth / radius bin (width
            fine_max_um / N_FINE; the last bin takes the rest) or None.
    """

    n: int
    E0_keV: float
    psi_deg: float
    eta: float
    eta_se: float
    eta_E: float
    eta_E_se: float
    dep_film: float
    dep_film_se: float
    dep_total: float
    mean_depth_um: float
    mean_depth_se_um: float
    hist: np.ndarray | None
    xmom: np.ndarray | None
    bs_theta: np.ndarray
    fine_z: np.ndarray | None = None
    fine_r: np.ndarray | None = None
    bs_forward: float = 0.5
    bs_shift: float = 0.0


def _rotate(u, v, w, cos_t, phi):
    """Direction (u, v, w) turned by polar angle θ (cos_t) and azimuth φ."""
    sin_t = np.sqrt(np.maximum(0.0, 1.0 - cos_t**2))
    cp, sp = np.cos(phi), np.sin(phi)
    rho = np.sqrt(np.maximum(0.0, 1.0 - w**2))
    small = rho < 1e-10
    rho_s = np.where(small, 1.0, rho)
    un = u * cos_t + sin_t * (u * w * cp - v * sp) / rho_s
    vn = v * cos_t + sin_t * (v * w * cp + u * sp) / rho_s
    wn = w * cos_t - rho * sin_t * cp
    # along ±z the formula above degenerates: use the plain spherical rotation
    un = np.where(small, sin_t * cp, un)
    vn = np.where(small, sin_t * sp, vn)
    wn = np.where(small, np.sign(w) * cos_t, wn)
    norm = np.sqrt(un**2 + vn**2 + wn**2)
    return un / norm, vn / norm, wn / norm


def simulate(
    E0_keV: float,
    psi_deg: float,
    film: str,
    substrate: str | None = None,
    thickness_um: float = math.inf,
    n: int = 10000,
    seed: int = 1,
    z_edges_um: np.ndarray | None = None,
    r_edges_um: np.ndarray | None = None,
    n_groups: int = 20,
    fine_max_um: float = 1.0,
) -> Result:
    """Run n electron histories and return the tallies.

    Args:
        E0_keV: beam energy (keV) = tube voltage (kV).
        psi_deg: incidence angle from the surface normal (degrees).
        film: material of 0 ≤ z < thickness_um (the whole half-space if substrate is None).
        substrate: material below the film, or None for a half-space of film.
        thickness_um: film thickness (µm); infinite for a half-space.
        n: number of histories.
        seed: random seed.
        z_edges_um, r_edges_um: histogram bin edges (µm) for the (depth, radius) tally;
            None for no histogram. Energy beyond the last edge goes into the last bin.
        n_groups: groups of histories for the standard errors (batch method).
        fine_max_um: extent (µm) of the fine 1-D depth and radius tallies (with the
            histogram only); the CSDA range is an upper bound of both.

    Returns:
        The Result.
    """
    rng = np.random.default_rng(seed)
    mats = [Material.get(film), Material.get(substrate if substrate else film)]
    t = thickness_um if substrate else math.inf
    psi = math.radians(psi_deg)
    E_cut = max(E_CUT_MIN_KEV, E_CUT_FRAC * E0_keV)

    eid = np.arange(n)
    x = np.zeros(n)
    y = np.zeros(n)
    z = np.zeros(n)
    u = np.full(n, math.sin(psi))
    v = np.zeros(n)
    w = np.full(n, math.cos(psi))
    E = np.full(n, float(E0_keV))
    group = np.arange(n) % n_groups

    acc_bs_n = np.zeros(n_groups)
    acc_bs_E = np.zeros(n_groups)
    acc_film = np.zeros(n_groups)
    acc_dep = np.zeros(n_groups)
    acc_zE = np.zeros(n_groups)
    bs_theta = np.zeros(N_THETA_BS)
    bs_fwd = np.zeros(1)  # backscattered energy with u > 0 (keV)
    bs_tan = np.zeros(1)  # Σ E·clip(u/|w|) over the exits (keV)
    tally = z_edges_um is not None
    if tally:
        nz, nr = len(z_edges_um) - 1, len(r_edges_um) - 1
        hist = np.zeros(nz * nr)
        xmom = np.zeros(nz)
        fine_z = np.zeros(N_FINE)
        fine_r = np.zeros(N_FINE)
        fine_h = fine_max_um / N_FINE

    def deposit(idx, xm, ym, zm, dE):
        """Score energies dE (keV) at midpoints (xm, ym, zm) of the electrons idx."""
        g = group[idx]
        acc_dep[:] += np.bincount(g, dE, n_groups)
        acc_zE[:] += np.bincount(g, dE * zm, n_groups)
        acc_film[:] += np.bincount(g, np.where(zm < t, dE, 0.0), n_groups)
        if tally:
            iz = np.clip(np.searchsorted(z_edges_um, zm, side="right") - 1, 0, nz - 1)
            r = np.hypot(xm, ym)
            ir = np.clip(np.searchsorted(r_edges_um, r, side="right") - 1, 0, nr - 1)
            hist[:] += np.bincount(iz * nr + ir, dE, nz * nr)
            xmom[:] += np.bincount(iz, dE * xm, nz)
            jz = np.clip((zm / fine_h).astype(int), 0, N_FINE - 1)
            jr = np.clip((r / fine_h).astype(int), 0, N_FINE - 1)
            fine_z[:] += np.bincount(jz, dE, N_FINE)
            fine_r[:] += np.bincount(jr, dE, N_FINE)

    while eid.size:
        m = len(eid)
        in_sub = z >= t
        # material properties per electron (two materials at most)
        S0, lam_h, mu_c, A, sig_s1, N = (np.empty(m) for _ in range(6))
        row = np.zeros(m, dtype=int)  # ELSEPA table row per electron
        for k, mat in enumerate(mats):
            sel = in_sub if k == 1 else ~in_sub
            if not sel.any():
                continue
            Ek = E[sel]
            S0[sel] = mat.stopping_keV_um(Ek)
            if ELASTIC == "elsepa":
                row[sel], lam_h[sel], sig_s1[sel] = elsepa_table(mat.name).params(Ek, rng)
            else:
                A[sel], _, mu_c[sel], lam_h[sel], sig_s1[sel] = mat.elastic(Ek)
            N[sel] = mat.n_per_um3
        # step length: next hard collision or the energy-loss limit
        s_hard = -lam_h * np.log(rng.random(m))
        s_E = F_E * E / S0
        hard = s_hard < s_E
        s = np.where(hard, s_hard, s_E)
        # mid-energy stopping power for the step
        Smid = np.empty(m)
        Emid = np.maximum(E - 0.5 * S0 * s, 0.5 * E)
        for k, mat in enumerate(mats):
            sel = in_sub if k == 1 else ~in_sub
            if sel.any():
                Smid[sel] = mat.stopping_keV_um(Emid[sel])
        tau = rng.random(m) * s
        alive = np.ones(m, dtype=bool)  # still in the target after the step
        stop_step = np.zeros(m, dtype=bool)  # step cut at a boundary: no deflections

        def segment(length):
            """Move alive, un-cut electrons by length along their direction."""
            nonlocal x, y, z
            go = alive & ~stop_step
            ell = np.where(go, length, 0.0)
            # distance to the surface (outward) and to the interface
            with np.errstate(divide="ignore", invalid="ignore"):
                d_surf = np.where(w < 0, -z / w, np.inf)
                d_int = np.full(m, np.inf)
                if math.isfinite(t):
                    toward = ((z < t) & (w > 0)) | ((z >= t) & (w < 0))
                    d_int = np.where(toward, (t - z) / w, np.inf)
            d = np.maximum(np.minimum(d_surf, d_int), 0.0)
            cut = go & (d < ell)
            ell = np.where(cut, d, ell)
            dE = np.minimum(Smid * ell, E)
            xm, ym, zm = x + 0.5 * ell * u, y + 0.5 * ell * v, z + 0.5 * ell * w
            idx = np.nonzero(go & (ell > 0))[0]
            deposit(eid[idx], xm[idx], ym[idx], zm[idx], dE[idx])
            E[:] -= np.where(go, dE, 0.0)
            x = x + ell * u
            y = y + ell * v
            z = z + ell * w
            # cut at the surface: backscattered; cut at the interface: nudged across it
            esc = cut & (d_surf <= d_int)
            alive[esc] = False
            cross = cut & ~esc
            z = np.where(cross, t + 1e-7 * np.sign(w), z)
            stop_step[cross] = True
            return esc

        esc1 = segment(tau)
        # soft deflection at the hinge
        soft = alive & ~stop_step
        mean_mu = 0.5 * (-np.expm1(-2.0 * s * N * sig_s1))
        mu_s = np.minimum(-mean_mu * np.log(rng.random(m)), 1.0)
        phi = 2.0 * math.pi * rng.random(m)
        un, vn, wn = _rotate(u, v, w, 1.0 - 2.0 * mu_s, phi)
        u, v, w = np.where(soft, un, u), np.where(soft, vn, v), np.where(soft, wn, w)
        esc2 = segment(s - tau)
        # hard elastic collision at the end of the step
        hh = alive & ~stop_step & hard
        if hh.any():
            if ELASTIC == "elsepa":
                mu_h = np.zeros(m)
                for k, mat in enumerate(mats):
                    sel = hh & (in_sub if k == 1 else ~in_sub)
                    if sel.any():
                        mu_h[sel] = elsepa_table(mat.name).sample_hard(row[sel], rng)
            else:
                xi = rng.random(m)
                inv = 1.0 / (mu_c + A) - xi * (1.0 / (mu_c + A) - 1.0 / (1.0 + A))
                mu_h = np.clip(1.0 / inv - A, 0.0, 1.0)
            phi = 2.0 * math.pi * rng.random(m)
            un, vn, wn = _rotate(u, v, w, 1.0 - 2.0 * mu_h, phi)
            u, v, w = np.where(hh, un, u), np.where(hh, vn, v), np.where(hh, wn, w)
        esc = esc1 | esc2
        if esc.any():
            g = group[eid[esc]]
            acc_bs_n[:] += np.bincount(g, None, n_groups)
            acc_bs_E[:] += np.bincount(g, E[esc], n_groups)
            ib = np.clip((-w[esc] * N_THETA_BS).astype(int), 0, N_THETA_BS - 1)
            bs_theta[:] += np.bincount(ib, E[esc], N_THETA_BS)
            ue, we, Ee = u[esc], w[esc], E[esc]
            bs_fwd[0] += Ee[ue > 0].sum()
            tan_x = np.clip(ue / np.maximum(-we, 1e-12), -BS_TAN_MAX, BS_TAN_MAX)
            bs_tan[0] += (Ee * tan_x).sum()
        # electrons below the cutoff deposit the rest where they are
        low = alive & (E < E_cut)
        if low.any():
            idx = np.nonzero(low)[0]
            deposit(eid[idx], x[idx], y[idx], z[idx], E[idx])
        keep = alive & ~low
        eid, x, y, z, u, v, w, E = (a[keep] for a in (eid, x, y, z, u, v, w, E))

    per_group = np.bincount(group, None, n_groups) * E0_keV  # beam energy per group
    ng = np.bincount(group, None, n_groups)

    def stat(num, den):
        est = num.sum() / den.sum()
        g = num / den
        return float(est), float(g.std(ddof=1) / math.sqrt(n_groups))

    eta, eta_se = stat(acc_bs_n, ng)
    eta_E, eta_E_se = stat(acc_bs_E, per_group)
    film_share, film_se = stat(acc_film, per_group)
    depth, depth_se = stat(acc_zE, acc_dep)
    Eb = n * E0_keV
    return Result(
        n=n,
        E0_keV=E0_keV,
        psi_deg=psi_deg,
        eta=eta,
        eta_se=eta_se,
        eta_E=eta_E,
        eta_E_se=eta_E_se,
        dep_film=film_share,
        dep_film_se=film_se,
        dep_total=float(acc_dep.sum() / Eb),
        mean_depth_um=depth,
        mean_depth_se_um=depth_se,
        hist=(hist.reshape(nz, nr) / Eb) if tally else None,
        xmom=(xmom / Eb) if tally else None,
        bs_theta=bs_theta / Eb,
        fine_z=(fine_z / Eb) if tally else None,
        fine_r=(fine_r / Eb) if tally else None,
        bs_forward=float(bs_fwd[0] / acc_bs_E.sum()) if acc_bs_E.sum() > 0 else 0.5,
        bs_shift=float(bs_tan[0] / acc_bs_E.sum()) if acc_bs_E.sum() > 0 else 0.0,
    )
