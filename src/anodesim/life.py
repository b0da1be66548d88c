"""Target life: evaporation (erosion of the spot) and recrystallisation of W.

Pure numpy; the time series come from a run (the spot temperature against time) or from a
rating engine. Both mechanisms are thermally activated, so what matters is the time spent at
the hottest temperatures, not the mean.

**Evaporation.** Into vacuum, with sticking coefficient 1 (Hertz-Knudsen-Langmuir), a
surface at T loses mass at J = p(T) sqrt(M / (2 pi R T)) (kg/m^2/s) and recedes at J / rho.
p(T) is the Alcock et al. (1984) vapour-pressure equation (``data/evaporation.toml``). For
W: 0.007 nm/h at 2200 K, 10 nm/h at 2600 K, 2 um/h at 3000 K; the rate rises about 10x per
190 K near 2800 K (../shared/reference/source-and-limits.md, section 3.1).

**Recrystallisation.** Cold-worked W recrystallises in a time that falls with temperature as
exp(Q / R T), Q = 356 kJ/mol (half the hardness loss of 98 % cold-rolled W sheet annealed
6 min to 500 h between 400 and 2000 C: Int. J. Refract. Met. Hard Mater. 2019,
doi:10.1016/j.ijrmhm.2019.105084). The default onset is 1 h at 1300 C, the lower end of the
1300-1500 C onset used as the steady surface limit in fusion design (Wang et al., Fusion Eng.
Des. 2024): a conservative choice. The fraction of that time a schedule uses is the
time-temperature integral (Sherby-Dorn / Larson-Miller equivalent time).

**Thermal cycles.** Every on/off cycle of the beam is a thermal cycle of the spot (it
settles in microseconds). The cycles of a temperature history are counted by rainflow
(ASTM E1049-85, the ``rainflow`` package), the schedule taken as repeated: one period of
the repeated history, started and closed at its highest sample (periodic_history), so that a
swing across the seam between two repetitions counts as the full cycle it is. Each swing is
held against the material's
fatigue (endurance) limit (``data/fatigue.toml``: W from Habainy et al. 2015, W-Re from
Harimon et al. 2018): a surface held in its plane by the cold material around it takes the
elastic stress range E alpha dT / (1 - nu) for a swing dT, so swings above
dT_f = stress_range (1 - nu) / (E alpha) are counted as damaging (about 60 K for W: every
beam on/off cycle of a microfocus spot is one). Below dT_f the surface survives at least the
tests' run-out; above it, cracking and roughening are expected (source-and-limits.md §3.3).

**Cycles to crack initiation (an ESTIMATE).** No measured strain-life (Coffin-Manson) curve
of W at focal-spot temperatures was found to cite, so the curve is estimated from tensile
properties by the modified universal slopes method (MUSM; Muralidharan & Manson, J. Eng.
Mater. Technol. 110 (1988) 55), the best of six estimation methods on 138 metals in Park &
Song, Int. J. Fatigue 17 (1995) 365:

    dε = 1.17 (σu/E)^0.832 N^-0.09 + 0.0266 εf^0.155 (σu/E)^-0.53 N^-0.56,

εf = ln(1 / (1 - RA)) the true fracture ductility, σu the ultimate tensile strength, E the
Young modulus, N cycles to crack initiation (musm_strain_range; the reversals form,
musm_strain_amplitude, is the same curve to the rounding of its coefficients). A design
curve follows the ASME III / ITER SDC-IC practice [R, recalled]: a factor 2 on strain or 20
on cycles, whichever gives fewer cycles (design_cycles). The tensile data of W
(``data/fatigue.toml``, [W.tensile]) are partly recalled and taken at the recrystallised,
low-ductility end; below the DBTT W is brittle (RA = 0: the plastic term vanishes) and a
cycle whose cold end is below it takes the brittle properties at both ends.

The strain range of a spot cycle (spot_strain_range): see its docstring; 2 ᾱ ΔT, ᾱ the secant
mean expansion coefficient over the cycle. Every counted cycle of the run is evaluated at
the properties of its cold and of its hot end, the shorter life taken, and Miner's rule over
the rainflow cycles gives the damage per run and, the run taken as one repetition of the
schedule (its length the period), per hour and the hours to crack initiation
(crack_initiation). What a run is a repetition of is the case's to say
(loading.repeat_every_s; limits.life_summary reports per load without it).
"""

from __future__ import annotations

import functools
import math
import tomllib
from dataclasses import dataclass
from importlib import resources

import numpy as np

R_GAS = 8.314462618  # J/mol/K, CODATA 2018
SECONDS_PER_HOUR = 3600.0

#: Recrystallisation of W: activation energy (J/mol) and the reference onset (time s, T K).
RECRYSTALLISATION_Q_J_MOL = 356e3
RECRYSTALLISATION_ONSET = (SECONDS_PER_HOUR, 1300.0 + 273.15)


@dataclass(frozen=True)
class VapourPressure:
    """Alcock et al. (1984) vapour pressure of one metal, with the data for its recession.

    Attributes:
        metal: element symbol.
        solid: (A, B, C, D) of log10(p/Pa) = 5.006 + A + B/T + C log10 T + D 1e-3 T.
        liquid: the same above the melting point, or None (the solid's is extrapolated).
        melting_K: melting point (K).
        molar_mass_kg_mol: M (kg/mol).
        density_kg_m3: density of the solid (kg/m³).
    """

    metal: str
    solid: tuple[float, float, float, float]
    liquid: tuple[float, float, float, float] | None
    melting_K: float
    molar_mass_kg_mol: float
    density_kg_m3: float

    def pressure_Pa(self, T_K):
        """Vapour pressure p(T) (Pa) at T (K)."""
        T = np.asarray(T_K, dtype=float)
        A, B, C, D = self.solid
        log_p = 5.006 + A + B / T + C * np.log10(T) + D * 1e-3 * T
        if self.liquid is not None:
            A, B, C, D = self.liquid
            log_p = np.where(T > self.melting_K,
                             5.006 + A + B / T + C * np.log10(T) + D * 1e-3 * T, log_p)
        return 10.0 ** log_p

    def recession_rate_m_s(self, T_K):
        """Surface recession rate (m/s) of free evaporation into vacuum at T (K)."""
        T = np.asarray(T_K, dtype=float)
        flux = self.pressure_Pa(T) * np.sqrt(self.molar_mass_kg_mol / (2 * math.pi * R_GAS * T))
        return flux / self.density_kg_m3


@functools.cache
def _data(name: str) -> dict:
    """A data file of the package (``data/<name>``), parsed once."""
    return tomllib.loads(resources.files("anodesim").joinpath("data", name).read_text("utf-8"))


def _table() -> dict:
    return _data("evaporation.toml")


def metals() -> list[str]:
    """Metals with vapour-pressure data."""
    return sorted(k for k in _table() if k != "alloys")


def composition(material: str) -> dict[str, float] | None:
    """Mole fractions of the evaporating metals of a library material (a pure metal, or an
    alloy of ``data/evaporation.toml``'s [alloys] table), or None without data (diamond)."""
    if material in metals():
        return {material: 1.0}
    mass = _table()["alloys"].get(material)
    if mass is None:
        return None
    moles = {m: w / vapour_pressure(m).molar_mass_kg_mol for m, w in mass.items()}
    total = sum(moles.values())
    return {m: n / total for m, n in moles.items()}


def evaporates_as(key: str, electron_data: str | None = None) -> str | None:
    """The library material whose vapour pressure a target material evaporates with: its own
    (a library material with data), else, for a user material, the library material its
    ``electron_data`` names, when that has data (a supplier's W defined with
    ``electron_data = "W"`` is W: without this it had no erosion limit, its spot held only
    200 K below melting, 3222 °C instead of 2058 °C); None: no vapour-pressure data.

    Args:
        key: the material's key (library or user material).
        electron_data: a user material's ``electron_data`` (Material.info), or None.
    """
    if composition(key) is not None:
        return key
    return electron_data if electron_data is not None and \
        composition(electron_data) is not None else None


def recession_rate(material: str, T_K):
    """Recession rate (m/s) of a library material's surface evaporating into vacuum at T (K):
    the pure metal's Hertz-Knudsen rate, or for an alloy the mole-fraction-weighted sum of
    its metals' rates (ideal solution, Raoult's law).

    Raises:
        KeyError: no vapour-pressure data for the material.
    """
    comp = composition(material)
    if comp is None:
        raise KeyError(f"no vapour-pressure data for {material!r}")
    return sum(x * vapour_pressure(m).recession_rate_m_s(T_K) for m, x in comp.items())


def vapour_pressure(metal: str) -> VapourPressure:
    """The vapour-pressure record of a metal (element symbol, e.g. "W").

    Raises:
        KeyError: no data for that metal (the message lists those there are).
    """
    try:
        d = _table()[metal]
    except KeyError:
        raise KeyError(f"no vapour-pressure data for {metal!r}; there are: "
                       f"{', '.join(metals())}") from None

    def coeffs(key):
        c = d.get(key)
        return None if c is None else (c["A"], c["B"], c["C"], c["D"])

    return VapourPressure(metal, coeffs("solid"), coeffs("liquid"), d["melting_K"],
                          d["molar_mass_kg_mol"], d["density_kg_m3"])


def _time_integral(times_s, values) -> float:
    """∫ values dt over a sampled series (trapezoid; exact for piecewise-constant holds
    sampled at both ends of each hold)."""
    t = np.asarray(times_s, dtype=float)
    v = np.asarray(values, dtype=float)
    if t.shape != v.shape or t.ndim != 1:
        raise ValueError("times and temperatures must be 1-D arrays of the same length")
    if len(t) > 1 and np.any(np.diff(t) < 0):
        raise ValueError("times must not decrease")
    return float(np.trapezoid(v, t)) if len(t) > 1 else 0.0


def eroded_depth_m(metal: str, times_s, T_K) -> float:
    """Depth (m) evaporated from a surface whose temperature follows T_K(times_s) (metal: a
    metal or an alloy of the library, see recession_rate)."""
    return _time_integral(times_s, recession_rate(metal, T_K))


def recrystallisation_time_s(T_K, onset=RECRYSTALLISATION_ONSET,
                             Q_J_mol: float = RECRYSTALLISATION_Q_J_MOL):
    """Time to recrystallise W held at T (K): t_ref exp(Q/R (1/T - 1/T_ref)) (s)."""
    t_ref, T_ref = onset
    T = np.asarray(T_K, dtype=float)
    return t_ref * np.exp(Q_J_mol / R_GAS * (1.0 / T - 1.0 / T_ref))


def recrystallisation_fraction(times_s, T_K, onset=RECRYSTALLISATION_ONSET,
                               Q_J_mol: float = RECRYSTALLISATION_Q_J_MOL) -> float:
    """Fraction of the recrystallisation time used by a temperature history (-): the
    integral of dt / t_rx(T(t)); 1 means recrystallised (at the onset definition)."""
    return _time_integral(times_s, 1.0 / recrystallisation_time_s(T_K, onset, Q_J_mol))


def temperature_for_recrystallisation_rate_K(rate_per_s: float,
                                             onset=RECRYSTALLISATION_ONSET,
                                             Q_J_mol: float = RECRYSTALLISATION_Q_J_MOL) -> float:
    """The constant temperature (K) at which W uses its recrystallisation time at
    rate_per_s (1/s): the inverse of 1/recrystallisation_time_s."""
    t_ref, T_ref = onset
    return 1.0 / (1.0 / T_ref + R_GAS / Q_J_mol * math.log(1.0 / (rate_per_s * t_ref)))


def temperature_for_erosion_K(metal: str, depth_m: float, hours: float) -> float:
    """The constant surface temperature (K) that evaporates depth_m in the given hours."""
    return temperature_for_rate_K(metal, depth_m / (hours * SECONDS_PER_HOUR))


def temperature_for_rate_K(metal: str, rate_m_s: float, xtol_K: float = 1e-6) -> float:
    """The constant surface temperature (K) at which a metal (or library alloy) recedes at
    rate_m_s (m/s): the inverse of recession_rate (increasing in T), by bisection on
    [200, 8000] K to xtol_K. Bisection rather than scipy.optimize.brentq: every run checks
    its erosion limit through here, and importing scipy.optimize costs 0.7 s of a 1.5 s run;
    the 33 halvings cost under 1 ms."""
    if rate_m_s <= 0.0:
        return 0.0
    lo, hi = 200.0, 8000.0
    if not recession_rate(metal, lo) < rate_m_s < recession_rate(metal, hi):
        raise ValueError(f"recession rate {rate_m_s:g} m/s of {metal} outside 200-8000 K")
    while hi - lo > xtol_K:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if recession_rate(metal, mid) < rate_m_s else (lo, mid)
    return 0.5 * (lo + hi)


#: Cycles whose temperature range is below this fraction of the largest are not counted
#: in the reported thermal cycles of the spot (thermal_cycles: solver noise, small ripples
#: of a settled spot). The fatigue damage (crack_initiation, history_cycles) sums every
#: cycle: a ripple far below the largest swing but at a hot mean can dominate it.
CYCLE_RANGE_FRACTION = 0.1


@dataclass(frozen=True)
class FatigueLimit:
    """A material's fatigue (endurance) limit from ``data/fatigue.toml``.

    Attributes:
        material: the library key.
        stress_range_Pa: stress range survived to the run-out (Pa).
        runout_cycles: cycles of the tests' run-out.
        source: where the numbers come from.
    """

    material: str
    stress_range_Pa: float
    runout_cycles: float
    source: str

    def swing_K(self, E_Pa: float, alpha_1_K: float, nu: float) -> float:
        """The temperature swing (K) of a surface held in its plane whose elastic thermal
        stress range E alpha dT / (1 - nu) equals the fatigue limit."""
        return self.stress_range_Pa * (1.0 - nu) / (E_Pa * alpha_1_K)


def fatigue_limit(material: str) -> FatigueLimit | None:
    """The fatigue limit of a library material, or None without data."""
    entry = _data("fatigue.toml").get(material)
    if entry is None:
        return None
    return FatigueLimit(material, float(entry["stress_range_Pa"]),
                        float(entry["runout_cycles"]), entry["source"])


def periodic_history(values) -> tuple[np.ndarray, int]:
    """One period of a history repeated without end, for a rainflow count: the samples
    rotated to start at the (first) highest one and closed by a return to it, and the
    index of that sample in values.

    A repeating history is rainflow-counted from its largest peak to the same peak (ASTM
    E1049-85, the note on repeating histories; Downing & Socie, Int. J. Fatigue 4 (1982)
    31): every reversal is then closed into full cycles, the same in every period. Closing
    the history at its first sample instead is right only when that sample is a highest or
    lowest one (a start from cold). A start between the extremes (a warm anode that the
    schedule cools further, e.g. 600 → 1000 → 450 °C) splits the largest swing, which
    spans the seam between two repetitions, into half cycles: 1.5 cycles per run for the
    one real cycle, and a crack-initiation life 1.48× too long for that history.

    Args:
        values: the history (any unit), at least one sample.

    Returns:
        (the closed period, len(values) + 1 samples; the index of its first sample in
        values).
    """
    v = np.asarray(values, dtype=float)
    start = int(np.argmax(v))
    return np.concatenate([v[start:], v[:start], v[start:start + 1]]), start


def thermal_cycles(times_s, T_K, damaging_swing_K: float | None = None) -> dict:
    """Rainflow count of a temperature history, the schedule repeated (periodic_history):
    cycles per run (half cycles count ½) with a range of at least
    CYCLE_RANGE_FRACTION of the largest, the largest range (K), and the cycles per hour of
    operation (per run's duration, the run taken as one repetition; 0 for a single sample,
    the steady state). With `damaging_swing_K`, also the cycles per run and per hour whose
    range exceeds it."""
    import rainflow

    t = np.asarray(times_s, dtype=float)
    T = np.asarray(T_K, dtype=float)
    out = {"cycles_per_run": 0.0, "largest_swing_K": 0.0, "cycles_per_h": 0.0}
    if damaging_swing_K is not None:
        out.update({"damaging_cycles_per_run": 0.0, "damaging_cycles_per_h": 0.0})
    if len(T) < 2 or t[-1] <= t[0]:
        return out
    counted = list(rainflow.count_cycles(periodic_history(T)[0]))
    largest = max((r for r, _ in counted), default=0.0)
    n = sum(c for r, c in counted if largest > 0 and r >= CYCLE_RANGE_FRACTION * largest)
    per_h = SECONDS_PER_HOUR / float(t[-1] - t[0])
    out.update({"cycles_per_run": float(n), "largest_swing_K": float(largest),
                "cycles_per_h": float(n) * per_h})
    if damaging_swing_K is not None:
        damaging = float(sum(c for r, c in counted if r > damaging_swing_K))
        out.update({"damaging_cycles_per_run": damaging,
                    "damaging_cycles_per_h": per_h * damaging})
    return out


# ---------------------------------------------------------------------------------------
# Cycles to crack initiation: strain-life estimated from tensile data (MUSM)
# ---------------------------------------------------------------------------------------
#: Modified universal slopes (Muralidharan & Manson 1988, as quoted by Park & Song 1995):
#: dε = A (σu/E)^a N^b + B εf^c (σu/E)^d N^e, cycles form.
MUSM_CYCLES = (1.17, 0.832, -0.09, 0.0266, 0.155, -0.53, -0.56)
#: The same in reversals, dε/2 = A' (σu/E)^a (2N)^b + B' εf^c (σu/E)^d (2N)^e.
MUSM_REVERSALS = (0.623, 0.832, -0.09, 0.0196, 0.155, -0.53, -0.56)
#: Design curve from the mean one: a factor on strain or on cycles, whichever gives fewer
#: cycles (ASME Boiler and Pressure Vessel Code Section III design fatigue curves, Langer
#: 1962; ITER SDC-IC adopts the same factors) [R, recalled; not verified against the codes].
DESIGN_FACTOR_STRAIN = 2.0
DESIGN_FACTOR_CYCLES = 20.0
#: Fewest cycles the curves return (cycles): one reversal, i.e. a crack within the first
#: cycle; the curves are not defined below it.
CYCLES_MIN = 0.5
#: Most cycles the curves return (cycles); beyond it the life is taken as unlimited.
CYCLES_MAX = 1e20


def _musm(coeffs, x, sigma_u_over_E, fracture_ductility):
    """A (r)^a x^b + B εf^c r^d x^e: the MUSM curve in either form (coeffs)."""
    A, a, b, B, c, d, e = coeffs
    x = np.asarray(x, dtype=float)
    r = np.asarray(sigma_u_over_E, dtype=float)
    return A * r ** a * x ** b + B * np.asarray(fracture_ductility, dtype=float) ** c \
        * r ** d * x ** e


def musm_strain_range(N, sigma_u_over_E, fracture_ductility):
    """Strain range (-) that cracks in N cycles: the modified universal slopes curve.

    Args:
        N: cycles to crack initiation (-).
        sigma_u_over_E: ultimate tensile strength over Young's modulus (-).
        fracture_ductility: true fracture ductility εf = ln(1/(1 - RA)) (-); 0 for a
            brittle material (the plastic term vanishes).
    """
    return _musm(MUSM_CYCLES, N, sigma_u_over_E, fracture_ductility)


def musm_strain_amplitude(reversals, sigma_u_over_E, fracture_ductility):
    """Strain amplitude dε/2 (-) at 2N reversals: the reversals form of musm_strain_range
    (same arguments, reversals = 2N)."""
    return _musm(MUSM_REVERSALS, reversals, sigma_u_over_E, fracture_ductility)


def musm_cycles(strain_range, sigma_u_over_E, fracture_ductility):
    """Mean cycles to crack initiation (-) at a strain range: the inverse of
    musm_strain_range (decreasing in N), by bisection on log N (60 halvings: relative
    error 1e-16 of the log range), element-wise; CYCLES_MIN where even one reversal
    cracks, inf beyond CYCLES_MAX."""
    de, r, ef = np.broadcast_arrays(np.asarray(strain_range, dtype=float),
                                    np.asarray(sigma_u_over_E, dtype=float),
                                    np.asarray(fracture_ductility, dtype=float))
    lo = np.full(de.shape, math.log(CYCLES_MIN))
    hi = np.full(de.shape, math.log(CYCLES_MAX))
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        above = musm_strain_range(np.exp(mid), r, ef) > de  # life longer than exp(mid)
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    N = np.exp(0.5 * (lo + hi))
    N = np.where(musm_strain_range(CYCLES_MIN, r, ef) <= de, CYCLES_MIN, N)
    return np.where(musm_strain_range(CYCLES_MAX, r, ef) >= de, np.inf, N)


def design_cycles(strain_range, sigma_u_over_E, fracture_ductility):
    """Design cycles to crack initiation (-): the lower of the mean life at
    DESIGN_FACTOR_STRAIN times the strain range and the mean life over
    DESIGN_FACTOR_CYCLES, never below CYCLES_MIN."""
    on_strain = musm_cycles(DESIGN_FACTOR_STRAIN * np.asarray(strain_range, dtype=float),
                            sigma_u_over_E, fracture_ductility)
    on_cycles = musm_cycles(strain_range, sigma_u_over_E, fracture_ductility) \
        / DESIGN_FACTOR_CYCLES
    return np.maximum(np.minimum(on_strain, on_cycles), CYCLES_MIN)


def secant_expansion(alpha, T_cold_K, T_hot_K, points: int = 33):
    """Secant mean expansion coefficient ᾱ = ∫ α dT / (T_hot − T_cold) (1/K) of a tangent
    coefficient alpha(T) (1/K), element-wise (T_hot ≥ T_cold): exact for a material Table
    (its antiderivative), else Gauss-Legendre on `points` nodes for any callable. Where
    T_hot = T_cold (a rainflow cycle of rounding size, e.g. 2e-13 K on a long run's steady
    plateau) it is the limit α(T_cold), not 0/0: a NaN strain there read as a crack in the
    first cycle."""
    Tc = np.asarray(T_cold_K, dtype=float)
    Th = np.asarray(T_hot_K, dtype=float)
    if hasattr(alpha, "antiderivative"):
        ref = float(alpha.T_K[0])
        dT = Th - Tc
        flat = dT == 0.0
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (alpha.antiderivative(Th, ref) - alpha.antiderivative(Tc, ref)) / dT
        return np.where(flat, np.asarray(alpha(Tc), dtype=float), mean)
    x, w = np.polynomial.legendre.leggauss(points)
    T = 0.5 * (Th + Tc)[..., None] + 0.5 * (Th - Tc)[..., None] * x
    return 0.5 * (np.asarray(alpha(T), dtype=float) * w).sum(axis=-1)


def spot_strain_range(alpha, T_cold_K, T_hot_K):
    """Von Mises equivalent mechanical strain range (-) of the spot surface over a thermal
    cycle between T_cold_K and T_hot_K: 2 ᾱ (T_hot − T_cold).

    The surface is held in its plane by the cold material around it, so its in-plane total
    strain stays ≈ 0 and the in-plane mechanical strain is ε_x = ε_y = −ᾱ ΔT (equibiaxial;
    ᾱ the secant mean of α(T), secant_expansion), while it is free normal to the surface
    (σ_z = 0). The swings of a microfocus spot (hundreds to thousands of K) are far beyond
    W's elastic range (ΔT_el = 2 σ_y (1 − ν) / (E α) ≈ 400 K at room temperature and falling
    steeply with temperature), so the strain of the cycle is mostly plastic, and plastic
    flow conserves volume: ε_z = −(ε_x + ε_y) = 2 ᾱ ΔT. The von Mises equivalent of that
    incompressible strain, sqrt(2/3 (ε_x² + ε_y² + ε_z²)) = sqrt(2/3 · 6) ᾱ ΔT = 2 ᾱ ΔT, is
    the strain range held against the uniaxial strain-life curve. In the elastic range the
    equivalent strain would be σ_vm / E = ᾱ ΔT / (1 − ν) (1.39 ᾱ ΔT for ν = 0.28), so 2 ᾱ ΔT
    is conservative there. The full constraint holds for a heated layer much thinner than
    the spot; a microfocus spot at its quasi-steady temperature (after a few d²/(4κ), 1.5 µs
    for 20 µm on W) is constrained only partly: the elastic FE of the shipped examples gives
    0.33-0.39 of E ᾱ ΔT / (1 − ν) at the spot's surface (794 MPa for 889 K, 948 MPa for
    976 K), so 2 ᾱ ΔT is then about 4× the FE's equivalent strain (README, "How far to trust
    it"; kept, as no W strain-life data bound the difference).

    Args:
        alpha: tangent expansion coefficient α(T) (callable of K, 1/K).
        T_cold_K, T_hot_K: the cycle's cold and hot ends (K).
    """
    Tc = np.asarray(T_cold_K, dtype=float)
    Th = np.asarray(T_hot_K, dtype=float)
    return 2.0 * secant_expansion(alpha, Tc, Th) * (Th - Tc)


@dataclass(frozen=True)
class TensileData:
    """Tensile properties of a target material against temperature (``data/fatigue.toml``,
    [<material>.tensile]), for the strain-life estimate.

    Attributes:
        T_K: temperatures of the table (K).
        ultimate_Pa: ultimate tensile strength σu at T_K (Pa).
        reduction_of_area: reduction of area RA at T_K (-), above the DBTT.
        dbtt_K: ductile-to-brittle transition temperature (K): RA = 0 below it.
        source: where the numbers come from.
    """

    T_K: tuple[float, ...]
    ultimate_Pa: tuple[float, ...]
    reduction_of_area: tuple[float, ...]
    dbtt_K: float
    source: str

    def sigma_u(self, T_K):
        """σu (Pa) at T (K), interpolated linearly, held at the table's ends."""
        return np.interp(T_K, self.T_K, self.ultimate_Pa)

    def fracture_ductility(self, T_K, brittle=False):
        """True fracture ductility εf = ln(1/(1 − RA)) (-) at T (K): 0 below the DBTT or
        where `brittle` (a cycle whose cold end is below the DBTT)."""
        T = np.asarray(T_K, dtype=float)
        RA = np.interp(T, self.T_K, self.reduction_of_area)
        ductile = (T >= self.dbtt_K) & ~np.asarray(brittle, dtype=bool)
        return np.where(ductile, -np.log1p(-RA), 0.0)


def tensile_data(material: str) -> TensileData | None:
    """The tensile table of a library material, or None without data."""
    entry = (_data("fatigue.toml").get(material) or {}).get("tensile")
    if entry is None:
        return None
    T = tuple(float(t) + 273.15 for t in entry["T_C"])
    return TensileData(T, tuple(float(v) for v in entry["ultimate_Pa"]),
                       tuple(float(v) for v in entry["reduction_of_area"]),
                       float(entry["dbtt_C"]) + 273.15, entry["source"])


def tensile_materials() -> list[str]:
    """Library materials with tensile data for the crack-initiation estimate."""
    return sorted(k for k, v in _data("fatigue.toml").items() if "tensile" in v)


def cycle_design_life(tables, tensile: TensileData, T_cold_K, T_hot_K):
    """Design cycles to crack initiation (-) of spot cycles between T_cold_K and T_hot_K
    (K), element-wise: the strain range 2 ᾱ ΔT (spot_strain_range) against the MUSM design
    curve (design_cycles) with the properties of the cold end and of the hot end, the
    shorter life taken; a cycle whose cold end is below the DBTT takes the brittle
    properties (εf = 0) at both ends.

    Args:
        tables: the material's property tables ("alpha", "E": callables of K).
        tensile: its tensile data.
    """
    Tc = np.asarray(T_cold_K, dtype=float)
    Th = np.asarray(T_hot_K, dtype=float)
    strain = spot_strain_range(tables["alpha"], Tc, Th)
    brittle = Tc < tensile.dbtt_K
    lives = [design_cycles(strain, tensile.sigma_u(T) / np.asarray(tables["E"](T), dtype=float),
                           tensile.fracture_ductility(T, brittle)) for T in (Tc, Th)]
    return np.minimum(*lives)


def _cycles(times_s, T_K):
    """Rainflow cycles of a history, the schedule repeated (periodic_history): (ranges K,
    means K, counts) of every cycle, however small against the largest, and the runs per
    hour (0 without cycles). The strain-life curve has no endurance limit: a small cycle
    adds little but not nothing (10 K at 2000 °C: 9.5e8 design cycles); only lives beyond
    CYCLES_MAX are unlimited (musm_cycles: a 1 K swing up to 1500 °C)."""
    import rainflow

    t = np.asarray(times_s, dtype=float)
    T = np.asarray(T_K, dtype=float)
    empty = (np.zeros(0), np.zeros(0), np.zeros(0)), 0.0
    if len(T) < 2 or t[-1] <= t[0]:
        return empty
    found = np.array([c[:3] for c in rainflow.extract_cycles(periodic_history(T)[0])],
                     dtype=float)
    if not len(found) or found[:, 0].max() <= 0:
        return empty
    rng, mean, count = found[found[:, 0] > 0].T
    return (rng, mean, count), SECONDS_PER_HOUR / float(t[-1] - t[0])


def crack_initiation(times_s, T_K, tables, tensile: TensileData) -> dict:
    """Miner's rule over the rainflow cycles of a spot temperature history (the schedule
    repeated): the design damage per run and per hour, and the hours of this schedule to
    crack initiation (inf without cycles).

    Args:
        times_s: times (s).
        T_K: spot temperature (K).
        tables: the target's property tables ("alpha", "E").
        tensile: its tensile data (tensile_data).
    """
    (rng, mean, count), per_h = _cycles(times_s, T_K)
    if not len(rng):
        return {"damage_per_run": 0.0, "damage_per_h": 0.0, "hours": math.inf,
                "shortest_cycle_life": math.inf}
    N = cycle_design_life(tables, tensile, mean - rng / 2, mean + rng / 2)
    damage = float(np.sum(count / N))
    return {"damage_per_run": damage, "damage_per_h": damage * per_h,
            "hours": 1.0 / (damage * per_h) if damage > 0 else math.inf,
            "shortest_cycle_life": float(np.min(N))}


def crack_initiation_scale(times_s, T_K, T0_K: float, tables, tensile: TensileData,
                           life_h: float) -> float:
    """The factor s on the spot's rise over T0_K (T → T0 + s (T − T0), as a power scaled
    by s in a linear response) at which the history's crack-initiation life equals life_h
    (h): > 1 with margin, < 1 over the limit, inf without cycles. The crossing nearest to
    s = 1 is bracketed by steps of a factor 1.25 and bisected on log s (50 halvings), so
    s > 1 exactly when the history itself meets life_h (the life need not fall
    monotonically with s: a cold end that rises above the DBTT turns ductile); s stays in
    [1e-3, s_max], s_max ≤ 1e3 keeping the hottest end inside the property tables."""
    (rng, mean, count), per_h = _cycles(times_s, T_K)
    if not len(rng):
        return math.inf
    lo_mean, hi_mean = mean - rng / 2 - T0_K, mean + rng / 2 - T0_K
    # trials stay inside the property tables: the hottest end at most at their top
    bounds = [t.range_K for t in (tables["alpha"], tables["E"]) if hasattr(t, "range_K")]
    T_min = max((b[0] for b in bounds), default=-math.inf)
    T_max = min((b[1] for b in bounds), default=math.inf)
    s_max = min(1e3, (T_max - T0_K) / float(np.max(hi_mean)))

    def hours(s):
        N = cycle_design_life(tables, tensile, np.maximum(T0_K + s * lo_mean, T_min),
                              T0_K + s * hi_mean)
        damage = float(np.sum(count / N))
        return 1.0 / (damage * per_h) if damage > 0 else math.inf

    # bracket the crossing nearest to s = 1 by steps of 1.25 (the life need not fall
    # monotonically with s: a cold end that rises above the DBTT turns ductile), then bisect
    ok = hours(min(1.0, s_max)) >= life_h
    lo = hi = math.log(min(1.0, s_max))
    step = math.log(1.25) if ok else -math.log(1.25)
    while True:
        nxt = hi + step if ok else lo + step
        if not math.log(1e-3) <= nxt <= math.log(s_max):
            return math.exp(math.log(s_max) if ok else math.log(1e-3))
        if (hours(math.exp(nxt)) >= life_h) != ok:
            lo, hi = (hi, nxt) if ok else (nxt, lo)
            break
        lo, hi = (nxt, nxt)
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if hours(math.exp(mid)) >= life_h else (lo, mid)
    return math.exp(0.5 * (lo + hi))


def largest_safe_scale(ends, count, per_h: float, tables, tensile: TensileData,
                       life_h: float, s_max: float, s_min: float | None = None) -> float:
    """The largest factor s up to which a family of spot histories keeps its crack-initiation
    life at least life_h (h), bracketed from below: the first s at which it falls below,
    going up from s_min (default s_max / 1e4: swings of a few tenths of a kelvin, harmless)
    on a grid of 32 steps in log s, refined three times on the step where it first fails
    (to 1e-5 relative). The rating engines' fatigue limit (rating/engine.py SpotHistory):
    s is the deposited power, the cycles those of the schedule's spot waveform.

    Args:
        ends: array of s → (cold ends, hot ends) of the cycles (K), each (len(s), cycles),
            increasing in s.
        count: cycles per run of each (rainflow counts, 1 or ½).
        per_h: runs per hour.
        tables: the target's property tables ("alpha", "E").
        tensile: its tensile data.
        life_h: the rated life (h).
        s_max: largest s to try (the hot end at the top of the property tables).

    Returns:
        s (the history's own units), or inf when the life holds up to s_max.
    """
    count = np.asarray(count, dtype=float)
    if not len(count) or per_h <= 0:
        return math.inf

    def holds(s):
        Tc, Th = ends(s)
        damage = np.sum(count / cycle_design_life(tables, tensile, Tc, Th), axis=-1)
        return damage * per_h * life_h <= 1.0

    s_min = s_max * 1e-4 if s_min is None else s_min
    lo, hi = math.log(s_min), math.log(s_max)
    if not holds(np.array([s_min]))[0]:
        return s_min
    for rounds in range(4):
        grid = np.linspace(lo, hi, 33)
        failed = np.flatnonzero(~holds(np.exp(grid)))
        if not len(failed):  # only in the first round: it holds up to s_max
            return math.inf
        first = max(int(failed[0]), 1)
        lo, hi = grid[first - 1], grid[first]
    return math.exp(lo)


def history_cycles(times_s, values):
    """The rainflow cycles of a history as crack_initiation counts them (the schedule
    repeated, periodic_history; every cycle, however small): (index of each cycle's start,
    of its end, its count) into values, and the runs per hour (0 without cycles)."""
    import rainflow

    t = np.asarray(times_s, dtype=float)
    v = np.asarray(values, dtype=float)
    empty = (np.zeros(0, int), np.zeros(0, int), np.zeros(0)), 0.0
    if len(v) < 2 or t[-1] <= t[0]:
        return empty
    closed, start = periodic_history(v)
    found = np.array(list(rainflow.extract_cycles(closed)), dtype=float)
    if not len(found) or found[:, 0].max() <= 0:
        return empty
    keep = found[:, 0] > 0
    i, j = ((found[keep, 3].astype(int) + start) % len(v),
            (found[keep, 4].astype(int) + start) % len(v))
    return (i, j, found[keep, 2]), SECONDS_PER_HOUR / float(t[-1] - t[0])
