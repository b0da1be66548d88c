"""User materials: ``[materials.define.<name>]`` tables of the case, or the materials of a
user TOML library file named by ``materials.library`` (same tables at its top level), read
into the library's data-file schema (K, SI) and checked like the library
(materials.validate). One error line names the key, the value and what was expected.

A user material has: ``source`` (required: where the numbers come from), ``name``
(optional), ``melting_C`` or ``melting_K`` and ``damage_C`` or ``damage_K``, optionally
``melting_kind`` and ``damage_mechanism`` (what the damage temperature guards against);
the electron data either as ``electron_data = "<library material>"``
(its Z, A, density and backscatter, and its electron-kernel tables) or as
``atomic_number``, ``atomic_mass_g_mol``, ``density_g_cm3`` and
``backscatter_energy_fraction``; and the property tables ``k_W_mK``, ``cp_J_kgK``,
``rho_kg_m3``, ``alpha_1_K``, ``E_Pa``, ``nu_1`` (and optionally ``sigma_y_Pa``), each
``{T_C = [...] or T_K = [...], value = [...], source = "..."}`` (the table's source defaults
to the material's) or one number for a constant.
"""

from __future__ import annotations

from pathlib import Path

from .model import ZERO_CELSIUS_K
from .reader import CaseError, _did_you_mean, _fail, _Section, read_toml

CONSTANT_RANGE_K = (1.0, 1e5)  # a constant property holds at every temperature


def read(sec: _Section, base_dir: Path) -> dict[str, dict]:
    """The user materials of ``[materials]`` (define tables and the library file), each an
    entry of the data-file schema, keyed by name."""
    from ..materials import library

    out: dict[str, dict] = {}
    if sec.has("library"):
        path = base_dir / sec.string("library")
        try:  # as a case file is read: a BOM, non-UTF-8 bytes, a 1e400-digit integer
            data = read_toml(path, "file of user materials")
        except CaseError as e:
            raise _fail("materials.library", str(path), "a readable TOML file of user "
                        f"materials ({str(e).removeprefix(f'{path}: ')})") from None
        lib = _Section(data, f"materials.library[{path.name}]")
        for key in list(data):
            out[key] = _material(lib.section(key), key)
        lib.close()
    if sec.has("define"):
        d = sec.section("define")
        for key in list(d.data):
            if key in out:
                raise _fail(f"materials.define.{key}", key, "a name not already defined in "
                            "materials.library")
            out[key] = _material(d.section(key), key)
        d.close()
    for key in out:
        if key in library():
            raise CaseError(f"materials.define.{key}: a library material has this name; "
                            "expected another name for a user material")
    return out


def _material(ms: _Section, key: str) -> dict:
    from ..materials import ELECTRON_KEYS, MELTING_KINDS, PROPERTY_KEYS, YIELD_KEY, library
    from ..materials import MaterialDataError, validate

    source = ms.string("source")
    entry: dict = {"name": ms.string("name", key), "source": source}
    for what in ("melting", "damage"):
        entry[f"{what}_K"] = _kelvin(ms, what)
    # what the damage temperature guards against: the heat-sink and interface limits name it
    # ("CuX damage: " with nothing after it before)
    entry["damage_mechanism"] = ms.string(
        "damage_mechanism", f"the damage temperature given with the user material ({source})")
    if ms.has("melting_kind"):
        entry["melting_kind"] = ms.choice("melting_kind", MELTING_KINDS)
    if ms.has("electron_data"):
        ref = ms.string("electron_data")
        lib = library()
        if ref not in lib:
            raise _fail(ms._key("electron_data"), ref, "a library material whose electron "
                        "data stand for this one: " + ", ".join(sorted(lib))
                        + _did_you_mean(ref, lib))
        m = lib[ref]
        entry["electron_data"] = ref
        entry.update({k: getattr(m, k) for k in ELECTRON_KEYS})
    else:
        for k in ELECTRON_KEYS:
            entry[k] = ms.number(k, expected="a positive number, or electron_data = "
                                 "\"<library material>\"")
    celsius = {}
    for tkey in (*PROPERTY_KEYS.values(), YIELD_KEY):
        if tkey == YIELD_KEY and not ms.has(tkey):
            entry["yield_strength_note"] = "no yield-strength table given in the case"
            continue
        v = ms.raw(tkey, expected=TABLE_OR_NUMBER)
        if _is_number(v):
            entry[tkey] = {"T_K": list(CONSTANT_RANGE_K), "value": [float(v)] * 2,
                           "source": f"{source} (constant)"}
            continue
        if not isinstance(v, dict):
            raise _fail(ms._key(tkey), v, TABLE_OR_NUMBER)
        ts = ms.section(tkey)
        unit = "T_C" if ts.has("T_C") else "T_K"
        T = _numbers(ts, unit, "a list of temperatures (T_C in °C or T_K in K)")
        if ts.has("T_C") and ts.has("T_K"):
            raise CaseError(f"{ts._key('T_C')}: give T_C or T_K, not both")
        celsius[tkey] = unit == "T_C"
        if celsius[tkey]:
            T = [t + ZERO_CELSIUS_K for t in T]
        value = _numbers(ts, "value", "a list of values (SI)")
        if len(T) == len(value) == 1:  # a data sheet's room-temperature value alone
            raise _fail(ts._key("value"), value, "a list as long as the temperature list, "
                        f"at least 2 points; a value known at one temperature only: give "
                        f"{tkey} = {value[0]!r}, a constant held at every temperature")
        entry[tkey] = {"T_K": T, "value": value, "source": ts.string("source", source)}
        ts.close()
    ms.close()
    try:
        validate(entry)
    except MaterialDataError as e:
        name, value = e.key, e.value
        table = name.split(".")[0]
        if name.endswith(".T_K") and celsius.get(table):  # report it as the user wrote it
            name, value = f"{table}.T_C", [round(t - ZERO_CELSIUS_K, 6) for t in value]
        if name in ("melting_K", "damage_K") and ms.has(name.replace("_K", "_C")):
            name, value = name.replace("_K", "_C"), round(value - ZERO_CELSIUS_K, 6)
        raise _fail(ms._key(name), value, e.expected) from None
    return entry


TABLE_OR_NUMBER = "a table {T_C or T_K, value, source} or a number"


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _numbers(ts: _Section, key: str, expected: str) -> list[float]:
    """A table's list of numbers. Quoted numbers are refused: numpy would read "20" as
    20.0 but the °C → K conversion would skip it, a table shifted by 273.15 K in silence."""
    v = ts.raw(key, expected=expected)
    if not isinstance(v, list) or not all(_is_number(x) for x in v):
        raise _fail(ts._key(key), v, f"{expected}: numbers, not quoted strings or tables")
    return [float(x) for x in v]


#: Highest melting (and damage) temperature of a user material (K): the highest melting
#: points known, of the tantalum and hafnium carbides, are about 4200 K (CRC Handbook,
#: recalled); W, the highest of the library, melts at 3695 K. 1e300 °C passed: the run's
#: melting check and every temperature limit below the melting point then held nothing.
MAX_MELTING_K = 4500.0


def _kelvin(ms: _Section, what: str) -> float:
    """A temperature given as <what>_C (°C) or <what>_K (K), in K: above absolute zero and
    at most MAX_MELTING_K."""
    c, k = ms.has(f"{what}_C"), ms.has(f"{what}_K")
    if c == k:
        raise CaseError(f"{ms._key(what + '_C')}: give exactly one of {what}_C (°C) or "
                        f"{what}_K (K)")
    top = "(no material melts above about 4200 K)"
    if c:
        return ms.number(f"{what}_C", lo=-ZERO_CELSIUS_K, hi=MAX_MELTING_K - ZERO_CELSIUS_K,
                         expected=f"a temperature in °C above absolute zero and at most "
                         f"{MAX_MELTING_K - ZERO_CELSIUS_K:g} {top}") + ZERO_CELSIUS_K
    return ms.number(f"{what}_K", positive=True, hi=MAX_MELTING_K,
                     expected=f"a temperature in K above 0 and at most {MAX_MELTING_K:g} {top}")
