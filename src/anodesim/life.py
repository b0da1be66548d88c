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
(ASTM E1049-85, the ``rainflow`` package), the schedule taken as repeated (the history is
closed by a return to its initial temperature). Each swing is held against the material's
fatigue (endurance) limit (``data/fatigue.toml``: W from Habainy et al. 2015, W-Re from
Harimon et al. 2018): a surface held in its plane by the cold material around it takes the
elastic stress range E alpha dT / (1 - nu) for a swing dT, so swings above
dT_f = stress_range (1 - nu) / (E alpha) are counted as damaging (about 60 K for W: every
beam on/off cycle of a microfocus spot is one). Below dT_f the surface survives at least the
tests' run-out; above it, cracking and roughening are expected (source-and-limits.md §3.3).
No Coffin-Manson (strain-life) data of W at focal-spot temperatures were found to cite
(issue 13), so cycles to crack initiation are not predicted.
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
#: as thermal cycles of the spot (solver noise, small ripples of a settled spot).
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


def thermal_cycles(times_s, T_K, damaging_swing_K: float | None = None) -> dict:
    """Rainflow count of a temperature history, the schedule repeated (closed by a return to
    its initial value): cycles per run (half cycles count ½) with a range of at least
    CYCLE_RANGE_FRACTION of the largest, the largest range (K), and the cycles per hour of
    operation (per run's duration; 0 for a single sample, the steady state). With
    `damaging_swing_K`, also the cycles per hour whose range exceeds it."""
    import rainflow

    t = np.asarray(times_s, dtype=float)
    T = np.asarray(T_K, dtype=float)
    out = {"cycles_per_run": 0.0, "largest_swing_K": 0.0, "cycles_per_h": 0.0}
    if damaging_swing_K is not None:
        out["damaging_cycles_per_h"] = 0.0
    if len(T) < 2 or t[-1] <= t[0]:
        return out
    counted = list(rainflow.count_cycles(np.append(T, T[0])))
    largest = max((r for r, _ in counted), default=0.0)
    n = sum(c for r, c in counted if largest > 0 and r >= CYCLE_RANGE_FRACTION * largest)
    per_h = SECONDS_PER_HOUR / float(t[-1] - t[0])
    out.update({"cycles_per_run": float(n), "largest_swing_K": float(largest),
                "cycles_per_h": float(n) * per_h})
    if damaging_swing_K is not None:
        out["damaging_cycles_per_h"] = per_h * float(
            sum(c for r, c in counted if r > damaging_swing_K))
    return out
