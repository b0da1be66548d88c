"""Material library: temperature-dependent property tables with their sources.

The data live in ``data/materials.toml`` (every table names its source and provenance tag);
this module reads them and interpolates linearly between table points. A temperature
outside a table is an error (:class:`OutOfRangeError`), never a silent extrapolation.

Properties (SI): ``k`` W/m/K, ``cp`` J/kg/K, ``rho`` kg/m³, ``alpha`` 1/K (tangent linear
expansion coefficient), ``E`` Pa, ``nu`` (-). ``rho_cp`` (J/m³/K) is the product of the
``rho`` and ``cp`` tables on the union of their grids. ``yield_strength`` (Pa, 0.2 % yield
against temperature) is optional: None for materials without data (brittle ceramics, thin-film
targets), whose ``yield_strength_note`` says why.
"""

from __future__ import annotations

import dataclasses
import functools
import tomllib
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from .errors import RunFailure

PROPERTY_KEYS = {"k": "k_W_mK", "cp": "cp_J_kgK", "rho": "rho_kg_m3", "alpha": "alpha_1_K",
                 "E": "E_Pa", "nu": "nu_1"}
YIELD_KEY = "sigma_y_Pa"  # optional table, not one of the thermal/elastic ``tables``
# What melting_K is (data-file key melting_kind; default: a melting point).
MELTING_KINDS = ("melting point", "solidus", "decomposition", "end of data")
#: What a material's melting_K is called in a message ("above the solidus of CuCrZr").
MELTING_WORDS = {"melting point": "melting point", "solidus": "solidus",
                 "decomposition": "decomposition temperature", "end of data": "end of the data"}


class OutOfRangeError(RunFailure, ValueError):
    """A temperature outside the tabulated range of a property."""


class MeltingError(OutOfRangeError):
    """A region above its material's melting_K (its melting point, solidus, decomposition
    temperature or end of data: ``kind``, one of MELTING_KINDS)."""

    def __init__(self, message: str, kind: str = MELTING_KINDS[0]):
        super().__init__(message)
        self.kind = kind

    def __reduce__(self):  # pickled with its kind (a study worker's failure)
        return type(self), (str(self), self.kind)

    @property
    def verb(self) -> str:
        """What the region does above melting_K ("melts", "decomposes")."""
        return {"solidus": "starts to melt", "decomposition": "decomposes",
                "end of data": "leaves its material data"}.get(self.kind, "melts")


@dataclass(frozen=True)
class Table:
    """A property tabulated against temperature, interpolated linearly.

    Attributes:
        T_K: strictly increasing temperatures (K).
        values: property values at T_K (SI).
        name: "<material>.<property>" for error messages.
        source: where the numbers come from.
    """

    T_K: np.ndarray
    values: np.ndarray
    name: str = ""
    source: str = ""

    @classmethod
    def constant(cls, value: float, name: str = "", source: str = "constant override"):
        """A constant valid at every temperature (0 K to 1e5 K)."""
        return cls(np.array([0.0, 1e5]), np.array([value, value], dtype=float), name, source)

    @property
    def is_constant(self) -> bool:
        return bool(np.all(self.values == self.values[0]))

    @property
    def range_K(self) -> tuple[float, float]:
        return float(self.T_K[0]), float(self.T_K[-1])

    def check(self, T_min: float, T_max: float) -> None:
        """Raise OutOfRangeError if [T_min, T_max] leaves the table (K)."""
        lo, hi = self.range_K
        if T_min < lo - 1e-9 or T_max > hi + 1e-9:
            bad = T_min if T_min < lo else T_max
            raise OutOfRangeError(
                f"{self.name}: temperature {bad:.6g} K ({bad - 273.15:.6g} °C) is outside the "
                f"tabulated range {lo:.0f}-{hi:.0f} K; no extrapolation is done")

    def __call__(self, T):
        """Interpolated value at T (K); raises OutOfRangeError outside the table."""
        T = np.asarray(T, dtype=float)
        if T.size:
            self.check(float(T.min()), float(T.max()))
        return np.interp(T, self.T_K, self.values)

    def integral(self, T0: float, T1: float) -> float:
        """Exact integral of the piecewise-linear interpolant from T0 to T1 (K)."""
        self.check(min(T0, T1), max(T0, T1))
        grid = np.union1d(self.T_K, [T0, T1])
        grid = grid[(grid >= min(T0, T1)) & (grid <= max(T0, T1))]
        val = np.trapezoid(np.interp(grid, self.T_K, self.values), grid)
        return float(val if T1 >= T0 else -val)

    def antiderivative(self, T, T_ref: float):
        """∫_{T_ref}^{T} f dT′ of the interpolant, exact, vectorised over T (K).

        For the tangent expansion coefficient α this is the thermal strain ε_th(T).
        """
        T = np.asarray(T, dtype=float)
        if T.size:
            self.check(min(float(T.min()), T_ref), max(float(T.max()), T_ref))
        x, f, cum = self.T_K, self.values, self._cumulative

        def prim(t):
            i = np.clip(np.searchsorted(x, t, side="right") - 1, 0, len(x) - 2)
            dt = t - x[i]
            slope = (f[i + 1] - f[i]) / (x[i + 1] - x[i])
            return cum[i] + f[i] * dt + 0.5 * slope * dt * dt

        return prim(T) - prim(np.asarray(T_ref, dtype=float))

    @functools.cached_property
    def _cumulative(self) -> np.ndarray:
        """∫ of the interpolant from T_K[0] to each T_K[i] (trapezoids, exact), kept: the
        drift proxy evaluates ε_th(T) = antiderivative(α) at every step."""
        x, f = self.T_K, self.values
        return np.concatenate([[0.0], np.cumsum(0.5 * (f[1:] + f[:-1]) * np.diff(x))])

    def ramps(self) -> tuple[float, float, float, list[tuple[float, float]]]:
        """The interpolant as v0 + s0 (T − T0) + Σ Δs_i max(T − T_i, 0).

        This form has no branches, so it maps onto a UFL expression with an exact
        derivative (see :func:`ufl_expression`).
        """
        T, v = self.T_K, self.values
        slopes = np.diff(v) / np.diff(T)
        kinks = [(float(T[i]), float(slopes[i] - slopes[i - 1]))
                 for i in range(1, len(slopes)) if slopes[i] != slopes[i - 1]]
        return float(v[0]), float(T[0]), float(slopes[0]), kinks

    def product(self, other: Table, name: str = "") -> Table:
        """Pointwise product on the union of both grids (within the common range)."""
        lo = max(self.T_K[0], other.T_K[0])
        hi = min(self.T_K[-1], other.T_K[-1])
        grid = np.union1d(self.T_K, other.T_K)
        grid = grid[(grid >= lo) & (grid <= hi)]
        vals = np.interp(grid, self.T_K, self.values) * np.interp(grid, other.T_K, other.values)
        return Table(grid, vals, name, f"product of {self.name} and {other.name}")


def ufl_expression(table: Table, T):
    """The table's piecewise-linear interpolant as a UFL expression of T (K).

    Outside the table the expression extends the end slopes; callers check the range of
    the solution (Table.check) so that no result rests on an extrapolated value.
    """
    import ufl

    if table.is_constant:
        return table.values[0]
    v0, T0, s0, kinks = table.ramps()
    expr = v0 + s0 * (T - T0)
    for Ti, ds in kinks:
        expr = expr + ds * ufl.max_value(T - Ti, 0.0)
    return expr


def ufl_antiderivative(table: Table, T, T_ref: float):
    """UFL expression of ∫_{T_ref}^{T} f dT′ for the table's interpolant f (exact)."""
    import ufl

    def prim(x, sym):
        if table.is_constant:
            return table.values[0] * x
        v0, T0, s0, kinks = table.ramps()
        out = v0 * x + 0.5 * s0 * (x - T0) ** 2
        for Ti, ds in kinks:
            r = ufl.max_value(x - Ti, 0.0) if sym else max(x - Ti, 0.0)
            out = out + 0.5 * ds * r ** 2
        return out

    return prim(T, True) - prim(T_ref, False)


@dataclass(frozen=True)
class Material:
    """A material of the library: property tables, limits and beam-interaction data.

    Attributes:
        key: library key ("W", "Cu", ...).
        name: common name.
        tables: property tables keyed by "k", "cp", "rho", "alpha", "E", "nu".
        melting_K: upper temperature limit (K): the melting point, or what ``melting_kind``
            names (solidus, decomposition, end of the data).
        damage_K: temperature above which the material is damaged in service (K).
        atomic_number, atomic_mass_g_mol, density_g_cm3: for the Kanaya–Okayama range.
        backscatter_energy_fraction: fraction eta_E of the beam energy backscattered.
        info: sources and other scalar entries of the data file.
        yield_strength: 0.2 % yield strength (Pa) against temperature, or None (no data; see
            ``info["yield_strength_note"]``). Not one of ``tables``: overrides and
            frozen_at leave it as it is.
        melting_kind: what melting_K is, one of MELTING_KINDS (``info["melting_note"]``
            says more).
    """

    key: str
    name: str
    tables: dict[str, Table]
    melting_K: float
    damage_K: float
    atomic_number: float
    atomic_mass_g_mol: float
    density_g_cm3: float
    backscatter_energy_fraction: float
    info: dict = field(default_factory=dict, repr=False)
    yield_strength: Table | None = field(default=None, repr=False)
    melting_kind: str = MELTING_KINDS[0]

    def __getattr__(self, prop):
        tables = self.__dict__.get("tables", {})
        if prop in tables:
            return tables[prop]
        raise AttributeError(prop)

    @property
    def rho_cp(self) -> Table:
        """Volumetric heat capacity ρ·cp (J/m³/K)."""
        return self.tables["rho"].product(self.tables["cp"], f"{self.key}.rho_cp")

    def with_overrides(self, overrides: dict[str, float]) -> Material:
        """A copy with some properties replaced by constants (SI)."""
        tables = dict(self.tables)
        for prop, value in overrides.items():
            tables[prop] = Table.constant(value, f"{self.key}.{prop}",
                                          "constant override from the case")
        return dataclasses.replace(self, tables=tables)

    def frozen_at(self, T_K: float) -> Material:
        """A copy with every property held constant at its value at T_K."""
        return self.with_overrides({p: float(t(T_K)) for p, t in self.tables.items()})


#: The case-file key of each table a Material holds (its name is "<material>.<property>").
TABLE_KEYS = {**PROPERTY_KEYS, "rho_cp": "rho_kg_m3 and cp_J_kgK",
              "yield_strength": YIELD_KEY}


def check_in_region(table: Table, material: Material, region: str, T_min: float,
                    T_max: float) -> None:
    """table.check(T_min, T_max) (K) for a region's material; its error names the region, the
    material and the table's key in a case or material file (``MyCu.k`` told a user of
    ``[materials.define.MyCu]`` nothing about ``k_W_mK``) and what would mend it."""
    try:
        table.check(T_min, T_max)
    except OutOfRangeError as e:
        prop = table.name.rpartition(".")[2]
        user = material.key not in library()
        label = (f"{region} ({'user material ' if user else ''}{material.key}, table "
                 f"{TABLE_KEYS.get(prop, prop)})")
        lo = table.range_K[0]
        if T_min < lo - 1e-9:
            # the body cooled below the table: the beam cannot do that, a face drawing heat
            # out can (a negative heat flux, a colder coolant, fixed face or surroundings)
            mend = (f"every part to stay at or above {lo:.0f} K ({lo - 273.15:.0f} °C), the "
                    "table's lowest temperature: a face drawing heat out (heat_flux with "
                    "q_W_m2 < 0) or a colder coolant, fixed or surroundings temperature "
                    "cools it below" + (", or a table reaching lower" if user else ""))
        else:
            mend = ("a table reaching the run's temperatures, or a lower beam power" if user
                    else "a lower beam power or a larger spot")
        raise OutOfRangeError(f"{str(e).replace(table.name, label, 1)}; expected {mend}") \
            from None


@functools.cache
def library() -> dict[str, Material]:
    """All materials of the data file, keyed by library key."""
    text = resources.files("anodesim").joinpath("data/materials.toml").read_bytes()
    data = tomllib.loads(text.decode())
    return {key: from_entry(key, entry) for key, entry in data.items()}


def from_entry(key: str, entry: dict) -> Material:
    """A material from an entry of the data-file schema (the library's, or a user material
    the case reader has checked with :func:`validate` and converted to it)."""
    tables = {prop: _table(entry[tkey], f"{key}.{prop}") for prop, tkey in PROPERTY_KEYS.items()}
    sy = entry.get(YIELD_KEY)
    kind = entry.get("melting_kind", MELTING_KINDS[0])
    if kind not in MELTING_KINDS:
        raise ValueError(f"materials.toml: {key}.melting_kind = {kind!r}; expected one of "
                         + ", ".join(MELTING_KINDS))
    info = {k: v for k, v in entry.items() if not isinstance(v, dict)}
    return Material(
        key=key, name=entry.get("name", key), tables=tables,
        melting_K=float(entry["melting_K"]), damage_K=float(entry["damage_K"]),
        atomic_number=float(entry["atomic_number"]),
        atomic_mass_g_mol=float(entry["atomic_mass_g_mol"]),
        density_g_cm3=float(entry["density_g_cm3"]),
        backscatter_energy_fraction=float(entry["backscatter_energy_fraction"]),
        info=info,
        yield_strength=_table(sy, f"{key}.yield_strength") if sy is not None else None,
        melting_kind=kind)


ROOM_K = 293.15  # every table must start at or below 20 °C (runs start there)
ELECTRON_KEYS = ("atomic_number", "atomic_mass_g_mol", "density_g_cm3",
                 "backscatter_energy_fraction")


# What a region's property may be at 20 °C (SI), to catch a table copied from a data sheet
# in its own units (W data sheets give cp 0.13 J/g/K, ρ 19.3 g/cm³, E 410 GPa, α 4.4e-6/K as
# "4.4"): property → (lowest, highest, SI unit, the likely slip). Each bound lies outside the
# extremes of the solids a tube may hold and inside the slips it is there to catch:
# - k: ~0.013 W/m/K (silica aerogel) to 2 200 W/m/K (natural diamond) and 3 320 W/m/K
#   (12C-enriched single-crystal diamond), hegerdiamond.com's thermal-conductivity page
#   [V]; pyrolytic graphite in-plane ~1 700-2 000 [R]. Catches mW/m/K. A k in W/cm/K
#   (Cu 4.0) cannot be told from a ceramic's by a range and is not caught.
# - cp: from 113-122 J/kg/K (Th, U, Bi: the lowest of the solid elements at 25 °C, CRC [R];
#   W 132) to 3 580 J/kg/K (Li; water 4 180) [R]. Catches J/g/K (every solid below 5) and
#   J/mol/K of elements and simple compounds (~25 for a metal, Al2O3 79, Si3N4 ~95).
# - ρ: ~30 kg/m³ (foams) to 22 590 kg/m³ (Os) [R]; the lower bound lies above every density
#   in g/cm³. A gas region (ρ ~1 kg/m³) is refused: model a gas gap as a contact conductance.
# - E: the lower bound, 0.5 MPa, lies below soft silicone potting and silica aerogel
#   (~1 MPa) [R] and above the E in MPa of every library material but diamond (W, the
#   stiffest metal here, 410 GPa = 4.1e5 MPa; diamond's 1 050-1 140 GPa, physics.md §1.5,
#   reads in MPa as an aerogel's E and is not caught). The upper bound, 5 TPa, lies above
#   diamond. E in GPa is caught; E in psi (W 59e6) cannot be told from a rubber's.
# - |α| up to ~3e-4 /K (elastomers) [R]; 1e-6/K units ("4.4") are caught down to 0.001 ppm/K.
# - 0.2 % yield: the lower bound, 0.5 MPa, lies below the softest metals (indium, tensile
#   strength 1.9 MPa, Indium Corp. [V]; annealed Pb ~5 MPa [R]) and above every yield in
#   psi up to 3.4 GPa (500 ksi) and in kPa up to 500 MPa; MPa and ksi are caught.
# The library passes (tests/test_user_materials.py checks the library, the extremes above
# and the slips).
PLAUSIBLE_AT_20_C = {
    "k": (1e-3, 1e4, "W/m/K", "mW/m/K"),
    "cp": (100.0, 2e4, "J/kg/K", "J/g/K or J/mol/K"),
    "rho": (25.0, 5e4, "kg/m³", "g/cm³"),
    "E": (5e5, 5e12, "Pa", "GPa or MPa"),
    "alpha": (-1e-3, 1e-3, "1/K", "1e-6/K (ppm/K)"),
    "yield_strength": (5e5, 1e11, "Pa", "MPa, ksi or psi"),
}


def implausible(prop: str, value: float) -> str | None:
    """What a property's value at 20 °C (SI) was expected to be, when it lies outside
    PLAUSIBLE_AT_20_C (bounds included): "in J/kg/K from 100 to 20000, where a tube's
    materials lie (given in J/g/K or J/mol/K?)"; None when it lies inside, or the property has no
    range. The one test of a material table (validate) and of a case's constant override
    (case.tables._check_plausible)."""
    if prop not in PLAUSIBLE_AT_20_C:
        return None
    least, most, unit, slip = PLAUSIBLE_AT_20_C[prop]
    if least <= value <= most:
        return None
    return (f"in {unit} from {least:g} to {most:g}, where a tube's materials lie (given in "
            f"{slip}?)")


class MaterialDataError(ValueError):
    """A material entry that fails the checks: key (relative to the entry), value, and what
    was expected."""

    def __init__(self, key: str, value, expected: str):
        super().__init__(f"{key} = {value!r}: expected {expected}")
        self.key, self.value, self.expected = key, value, expected


def validate(entry: dict) -> None:
    """The checks every material passes (library and user materials, data-file schema):
    tables with strictly increasing temperatures above 0 K, finite values, positive where
    the property must be (all but α may not be ≤ 0; 0 < ν < 0.5), a source each, covering
    20 °C to the damage temperature (the yield table from 20 °C), at 20 °C within
    PLAUSIBLE_AT_20_C (a table in a data sheet's units is refused); damage ≤ melting; the
    electron data positive (0 < η_E < 1), within _check_electron_data's bounds.

    Raises:
        MaterialDataError: the first failing key.
    """
    melt, damage = entry.get("melting_K"), entry.get("damage_K")
    for key in ("melting_K", "damage_K", *ELECTRON_KEYS):
        v = entry.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 \
                or not np.isfinite(v):
            raise MaterialDataError(key, v, "a positive number")
    if damage > melt:
        raise MaterialDataError("damage_K", damage, f"at most melting_K ({melt:g} K)")
    if not entry["backscatter_energy_fraction"] < 1:
        raise MaterialDataError("backscatter_energy_fraction",
                                entry["backscatter_energy_fraction"], "a fraction below 1")
    _check_electron_data(entry)
    for prop, tkey in (*PROPERTY_KEYS.items(), ("yield_strength", YIELD_KEY)):
        if tkey not in entry:
            if prop == "yield_strength":
                continue
            raise MaterialDataError(tkey, None, "a table {T_K, value, source}")
        _check_table(tkey, entry[tkey], prop, ROOM_K,
                     None if prop == "yield_strength" else damage)


# The electron data set the Kanaya-Okayama range R ∝ A E^1.67 / (Z^0.889 ρ) and the kernel
# table a target stands in for (kernel_source.table_material), so a slip in them moves the
# depth the beam's heat is laid at. Bounds (IUPAC 2021 standard atomic weights [R]):
# - Z from 1 to 100: a compound's or alloy's mean Z lies among its elements' (U 92);
# - A/Z from 1.0 (H, 1.008) to 2.7 (U-238 2.59, the heaviest elements ~2.6): catches A in
#   kg/mol (W 0.184) and Z and A swapped (A/Z < 1);
# - density_g_cm3 within ELECTRON_DENSITY_RTOL of rho_kg_m3 at 20 °C: the range uses the
#   material's own density (the library agrees to 0.22 %, Cu's X-ray against its handbook
#   density); catches a density in kg/m³ (19 250) or a typo. Not applied where the electron
#   data are borrowed (electron_data = "<library material>": the user chose them).
ATOMIC_NUMBER_MAX = 100.0
A_OVER_Z = (1.0, 2.7)
ELECTRON_DENSITY_RTOL = 0.05


def _check_electron_data(entry: dict) -> None:
    """The electron data of a material entry against ATOMIC_NUMBER_MAX, A_OVER_Z and, when
    given with the material (not borrowed), its own density at 20 °C."""
    Z, A = entry["atomic_number"], entry["atomic_mass_g_mol"]
    if not 1.0 <= Z <= ATOMIC_NUMBER_MAX:  # (Z 0.5 was reported as atomic_mass_g_mol's)
        raise MaterialDataError("atomic_number", Z, "an atomic number (a compound's or "
                                f"alloy's mean) from 1 to {ATOMIC_NUMBER_MAX:g}")
    lo, hi = A_OVER_Z
    if not lo * Z <= A <= hi * Z:
        raise MaterialDataError(
            "atomic_mass_g_mol", A, f"an atomic mass in g/mol from {lo:g} to {hi:g} times "
            f"the atomic number ({Z:g}: {lo * Z:g} to {hi * Z:g}), as every element's")
    rho = entry.get(PROPERTY_KEYS["rho"])
    if "electron_data" in entry or not isinstance(rho, dict):
        return  # borrowed electron data; a missing or malformed table is reported below
    try:
        rho_20 = float(np.interp(ROOM_K, np.asarray(rho["T_K"], dtype=float),
                                 np.asarray(rho["value"], dtype=float))) / 1000.0
    except (KeyError, TypeError, ValueError):
        return  # the table's own check names what is wrong with it
    d = entry["density_g_cm3"]
    if np.isfinite(rho_20) and rho_20 > 0 and abs(d / rho_20 - 1.0) > ELECTRON_DENSITY_RTOL:
        raise MaterialDataError(
            "density_g_cm3", d, f"the material's density in g/cm³, within "
            f"{ELECTRON_DENSITY_RTOL:.0%} of rho_kg_m3 at 20 °C ({rho_20:.4g} g/cm³)")


def _check_table(tkey: str, t, prop: str, lo: float, hi: float | None) -> None:
    if not isinstance(t, dict):
        raise MaterialDataError(tkey, t, "a table {T_K, value, source}")
    T, v = t.get("T_K"), t.get("value")
    if not isinstance(T, list) or not isinstance(v, list) or len(T) != len(v) or len(T) < 2:
        raise MaterialDataError(f"{tkey}.value", v, "a list as long as the temperature list "
                                "(at least 2 points)")
    try:
        T, v = np.array(T, dtype=float), np.array(v, dtype=float)
    except (TypeError, ValueError):
        raise MaterialDataError(tkey, t, "numbers in T_K and value") from None
    if not (np.all(np.isfinite(T)) and T[0] > 0 and np.all(np.diff(T) > 0)):
        raise MaterialDataError(f"{tkey}.T_K", T.tolist(),
                                "strictly increasing temperatures above 0 K")
    if not np.all(np.isfinite(v)):
        raise MaterialDataError(f"{tkey}.value", v.tolist(), "finite numbers")
    if prop == "nu" and not np.all((v > 0) & (v < 0.5)):
        raise MaterialDataError(f"{tkey}.value", v.tolist(), "Poisson ratios in (0, 0.5)")
    if prop not in ("alpha", "nu") and not np.all(v > 0):
        raise MaterialDataError(f"{tkey}.value", v.tolist(), "positive values")
    if not str(t.get("source", "")).strip():
        raise MaterialDataError(f"{tkey}.source", t.get("source"),
                                "where the numbers come from (a handbook, paper or data sheet)")
    if T[0] > lo + 1e-9 or (hi is not None and T[-1] < hi - 1e-9):
        to = f" to the damage temperature {hi - 273.15:.6g} °C" if hi is not None else ""
        raise MaterialDataError(f"{tkey}.T_K", T.tolist(),
                                f"a table covering 20 °C{to} (runs start at 20 °C; no "
                                "extrapolation is done)")
    at_20 = float(np.interp(ROOM_K, T, v))
    expected = implausible(prop, at_20)
    if expected:
        raise MaterialDataError(f"{tkey}.value", v.tolist(),
                                f"values at 20 °C {expected}, not {at_20:.6g}")


def _table(t: dict, name: str) -> Table:
    return Table(np.array(t["T_K"], float), np.array(t["value"], float), name,
                 t.get("source", ""))


def get(key: str, user: dict[str, dict] | None = None) -> Material:
    """One material by key: a user material of the case (``user``: key → entry in the
    data-file schema, checked by the case reader), else the library's (KeyError names the
    known keys)."""
    if user and key in user:
        return from_entry(key, user[key])
    lib = library()
    if key not in lib:
        raise KeyError(f"unknown material {key!r}; known: {', '.join(sorted(lib))}")
    return lib[key]
