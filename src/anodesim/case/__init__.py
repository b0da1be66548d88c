"""Case file (TOML) → validated, typed :class:`Case` in SI units.

Input keys carry their unit in the name (``fwhm_um``, ``power_W``, ``temperature_C``); this
package converts once, here, and everything downstream is SI (m, s, W, K). It imports no
dolfinx, so a bad case fails in well under a second with one :class:`CaseError` line that
names the key path, the value and what was expected.

- model.py: the typed, frozen case (the vocabulary of every layer);
- reader.py: the table reader shared with study files, CaseError;
- tables.py, imaging.py: one reader per table;
- here: the cross-table checks and the entry points ``load`` and ``from_dict``.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

from .imaging import _mechanics
from .model import (COOLING_TYPES, GEOMETRIES, SOLVERS, SPOT_LIMITS, USER_GEOMETRIES,
                    ZERO_CELSIUS_K, Beam, Boundary, Case, DriftSettings, Geometry, Limits,
                    Loading, Materials, Mechanics, MeshSettings, Numerics, Output, Probe,
                    RatingSettings, TimeSettings, cooled_regions, face_regions, faces_of,
                    heat_sink_region, interfaces_of, limit_watches, regions_of, source_text,
                    watched_regions)
from .reader import CaseError, _celsius, _check_integers, _fail, _Section, read_toml
from .tables import (_beam, _boundaries, _coolant_circuit, _geometry, _interfaces, _loading,
                     _materials, _mesh, _output, _pointing, _probes, _rating, _time,
                     with_beam_entry)

__all__ = ["GEOMETRIES", "USER_GEOMETRIES", "ZERO_CELSIUS_K", "Beam", "Boundary", "Case",
           "CaseError", "DriftSettings", "Geometry", "Limits", "Loading", "Materials",
           "Mechanics", "MeshSettings", "Numerics", "Output", "Probe", "RatingSettings",
           "TimeSettings", "check_source", "cooled_regions", "faces_of", "from_dict",
           "from_own_dict", "heat_sink_region", "interfaces_of", "limit_watches", "load",
           "plain_data", "read_toml", "regions_by_face", "regions_of", "watched_regions",
           "yield_region"]


# --------------------------------------------------------------------------------------
# Cross-checks and entry points
# --------------------------------------------------------------------------------------
def _target_face_diameter(g: Geometry) -> float:
    s = g.sizes_m
    if g.kind in USER_GEOMETRIES:
        return math.inf  # the deposited-power check of the run covers it
    return 2 * {"reflection_insert": s.get("insert_radius_m"),
                "reflection_3d": s.get("insert_radius_m"),
                "transmission": s.get("target_radius_m"),
                "block": s.get("radius_m")}[g.kind]


def _check_spot_fits(geometry: Geometry, beam: Beam) -> None:
    """The spot must fit on the target face (all but 0.1 % of the power on it)."""
    from ..beam import GAUSSIAN_RADIUS_PER_FWHM

    face = _target_face_diameter(geometry)
    if beam.spot == "flat_top" and beam.size_m > face:
        raise _fail("beam.diameter_um", beam.size_m * 1e6,
                    f"a spot no larger than the target face ({face * 1e6:g} µm across)")
    if beam.spot == "line" and beam.size2_m > face:  # (8000 µm on a 1.2 mm disc)
        raise _fail("beam.length_um", float(f"{beam.size2_m * 1e6:.12g}"),
                    f"a line no longer than the target face ({face * 1e6:g} µm across)")
    largest = 0.5 * face / GAUSSIAN_RADIUS_PER_FWHM
    if beam.spot == "gaussian" and beam.size_m > largest * (1 + 1e-12):
        raise _fail("beam.fwhm_um", beam.size_m * 1e6,
                    f"a spot no larger than the target face allows: FWHM at most "
                    f"{largest * 1e6:.4g} µm (target radius / 1.58), or more than 0.1 % "
                    "of the beam power falls beside the target")


#: Bounds of limits.drift_um (µm), and of the drift at the source a drift_px gives: from
#: 1 pm (erosion_um's floor) to 10 cm (1e-300 failed every run at its start, 1e300 never
#: bound), a drift beyond any anode's, whose bodies are at most 1 m (geometry lengths) and
#: strain at most 2 % (Cu, α ΔT to its melting point), 2 cm.
DRIFT_UM = (1e-6, 1e5)
#: Bounds of limits.drift_px (detector pixels): up to 1e5, more than a detector has across.
DRIFT_PX = (1e-6, 1e5)


def _rounded(x: float, to) -> float:
    """x to 4 significant digits, rounded by `to` (math.ceil or math.floor) so that a bound
    quoted in a message is itself taken."""
    scale = 10.0 ** (3 - math.floor(math.log10(x)))
    return to(x * scale * (1.0 - 1e-12 if to is math.ceil else 1.0 + 1e-12)) / scale


def _limits(root: _Section, mechanics: Mechanics | None) -> Limits:
    """The [limits] table; an image drift limit (px) becomes one at the source (µm)."""
    lim = root.section("limits", {})
    temps = [_celsius(lim, k, None) for k in
             ("spot_C", "interface_C", "heat_sink_C", "coolant_side_C")]
    drift_um = lim.number("drift_um", None, lo=DRIFT_UM[0], hi=DRIFT_UM[1],
                          expected="a drift in µm from 1e-6 to 1e5 (10 cm)")
    drift_px = lim.number("drift_px", None, lo=DRIFT_PX[0], hi=DRIFT_PX[1],
                          expected="an image drift in detector pixels from 1e-6 to 1e5")
    mag = lim.number("magnification_change_rel", None, positive=True, hi=1.0,
                     expected="a relative magnification change in (0, 1] (e.g. 1e-5)")
    spot = lim.choice("spot", SPOT_LIMITS, "life")
    # bounded so that the erosion budget over the life is a recession rate some temperature
    # of 200-8000 K gives every target with vapour data (1e300 µm or 1e-300 h: "internal
    # error" after the run had written its files; life.temperature_for_rate_K)
    erosion_um = lim.number("erosion_um", None, lo=1e-6, hi=1e3,
                            expected="an erosion budget in µm, 1e-6 to 1000")
    life_h = lim.number("life_h", None, lo=1e-4, hi=1e7,
                        expected="a life in hours, 1e-4 to 1e7")
    # at most 10: 1 keeps the joint elastic, 2 within shakedown (README); 80 (a percentage)
    # allowed 80 times the yield strength, no limit at all
    yield_use = lim.number("yield_use", None, positive=True, hi=10.0,
                           expected="a multiple of the heat sink's yield strength above 0 "
                           "and at most 10 (1: elastic; a percentage?)")
    recrystallisation = lim.number(  # 1e300: an equivalent spot temperature below 0 K
        "recrystallisation_fraction", None, lo=1e-12, hi=1e3,
        expected="a fraction of W's recrystallisation time used over the life, 1e-12 to "
                 "1000")
    fatigue = lim.boolean("fatigue", False)
    lim.close()
    if yield_use is not None and mechanics is None:
        raise CaseError(f"limits.yield_use = {yield_use:g}: a stress limit needs the "
                        "thermoelastic stage: add [mounts] (or mechanics)")
    key, given = ("drift_px", drift_px) if drift_px is not None else ("drift_um", drift_um)
    if drift_um is not None and drift_px is not None:
        raise CaseError("limits: give the drift tolerance as drift_um or drift_px, not both")
    if given is not None and (mechanics is None or mechanics.drift is None):
        raise CaseError(f"limits.{key} = {given:g}: a drift limit needs the imaging "
                        "geometry: add [drift] (and [mounts])")
    if mag is not None and (mechanics is None or mechanics.drift is None):
        raise CaseError(f"limits.magnification_change_rel = {mag:g}: a magnification limit "
                        "needs the imaging geometry: add [drift] (and [mounts])")
    if drift_px is not None:  # image drift (M − 1) δ⊥ / pixel → δ⊥ at the source, in µm
        per_px = mechanics.drift.source_um_per_px()
        drift_um = drift_px * per_px
        # held to drift_um's own bounds: 1e-6 px of 0.1 µm at M = 1e4 was 1e-11 µm at the
        # source (rated at 2e-11 W), 1e5 px of 1 cm at M = 1.000001 1e15 µm (never binds)
        if not DRIFT_UM[0] * (1.0 - 1e-12) <= drift_um <= DRIFT_UM[1] * (1.0 + 1e-12):
            lo, hi = _rounded(max(DRIFT_PX[0], DRIFT_UM[0] / per_px), math.ceil), \
                _rounded(min(DRIFT_PX[1], DRIFT_UM[1] / per_px), math.floor)
            raise _fail("limits.drift_px", drift_px,
                        f"an image drift whose drift at the source, px × pixel / (M − 1) = "
                        f"{drift_um:.4g} µm here, lies from {DRIFT_UM[0]:g} to {DRIFT_UM[1]:g} "
                        f"µm as limits.drift_um's (here {lo:g} to {hi:g} px)")
    return Limits(*temps, drift_um=drift_um, drift_px=drift_px,
                  magnification_change_rel=mag, spot=spot,
                  erosion_um=erosion_um, life_h=life_h, yield_use=yield_use,
                  recrystallisation_fraction=recrystallisation, fatigue=fatigue)


def _fatigue_target(target: str | None) -> None:
    """limits.fatigue needs a target with tensile data (data/fatigue.toml)."""
    from .. import life

    if target is None or life.tensile_data(target) is None:
        raise CaseError(f"limits.fatigue = true: the crack-initiation estimate needs the "
                        f"target's tensile data (data/fatigue.toml); expected a target of "
                        f"{', '.join(life.tensile_materials())}, got {target!r}")


def _fatigue_repeat(loading: Loading) -> None:
    """limits.fatigue counts the loads over limits.life_h: a schedule needs
    loading.repeat_every_s (a steady loading has no cycles; its rating's single-load chart
    takes its loads back to back, rating/engine.py SpotHistory.single)."""
    if loading.kind == "steady" or loading.repeat_every_s is not None:
        return
    own = sum(d for d, _ in loading.segments)
    raise CaseError("loading.repeat_every_s: missing with limits.fatigue = true; expected the "
                    f"time in s from one start of the schedule to the next (at least its "
                    f"{own:g} s): the fatigue limit counts the loads over limits.life_h")


def _life_holds_a_repetition(limits: Limits, loading: Loading) -> None:
    """A rated life shorter than one repetition counted a fraction of a load (0.036 of one
    for a 1 h life of loads every 1e5 s): the life limits then spent only that fraction of
    the one load that will happen."""
    if loading.repeat_every_s is None or limits.life_h is None:
        return
    if limits.life_h * 3600.0 < loading.repeat_every_s:
        raise CaseError(f"limits.life_h = {limits.life_h:g}: shorter than one repetition of "
                        f"the schedule (loading.repeat_every_s = {loading.repeat_every_s:g} "
                        f"s); expected a life of at least {loading.repeat_every_s / 3600:.4g} "
                        "h, or loads repeated more often")


def yield_region(geometry: Geometry, materials: Materials) -> str | None:
    """The region whose yield use a run with mechanics reports (limits.yield_use watches
    it): the heat sink or window (heat_sink_region) if its material has a yield strength,
    else None (a body of one region; a diamond window, a Mo-Cu heat sink)."""
    from ..materials import get

    region = heat_sink_region(geometry)
    if region is None or get(materials.by_region[region],
                             materials.user).yield_strength is None:
        return None
    return region


def _yield_region(yield_use: float, geometry: Geometry, materials: Materials) -> None:
    """limits.yield_use needs a yield_region: without one the run computed no yield use and
    left the limit out of the limits in force without a word (a diamond window: exit 0)."""
    from ..materials import get, library

    if yield_region(geometry, materials) is not None:
        return
    region = heat_sink_region(geometry)
    if region is None:
        raise CaseError(f"limits.yield_use = {yield_use:g}: the yield use is that of the heat "
                        f"sink near its joint; a {geometry.kind} geometry has one region; "
                        "expected no yield_use limit")
    key = materials.by_region.get(region)
    material = get(key, materials.user)
    note = material.info.get("yield_strength_note", "no sigma_y_Pa table")
    with_data = ", ".join(k for k, m in library().items() if m.yield_strength is not None)
    raise CaseError(f"limits.yield_use = {yield_use:g}: the {region} material {key!r} has "
                    f"no yield strength ({note}); expected a {region} material with one "
                    f"({with_data}, or sigma_y_Pa in [materials.define]) or no yield_use "
                    "limit")


#: What a temperature limit watches, for the message that names a limit it cannot have.
_LIMIT_WATCHES = {"heat_sink_C": "heat sink or window (a second region)",
                  "interface_C": "interface between regions",
                  "coolant_side_C": "cooled face (boundary type "
                                    f"{' or '.join(COOLING_TYPES)})"}


def regions_by_face(geometry: Geometry) -> dict[str, tuple[str, ...]]:
    """The regions each face of the geometry bounds (model.cooled_regions' face map): a
    built-in geometry's by face name (model.face_regions); a user mesh's from the
    tetrahedra its face triangles bound (mesh_import.face_regions, numpy on the mesh the
    case reader has read and cached); a STEP part's from the solids on either side of its
    CAD faces (step_file.face_regions: the file opened in gmsh once more, as the case
    reader opens it to list its solids; cached).

    Raises:
        CaseError: a STEP selection matches nothing (as meshing would say).
    """
    if geometry.kind == "user_mesh":
        from . import mesh_import

        return mesh_import.face_regions(mesh_import.of_geometry(geometry))
    if geometry.kind == "cad":
        from . import step_file

        return step_file.face_regions(geometry)
    return face_regions(geometry)


def _limits_below_melting(limits: Limits, geometry: Geometry, materials: Materials,
                          boundaries: dict[str, Boundary]) -> None:
    """Every temperature limit lies below the melting point (solidus, decomposition or end
    of data) of each material it watches, and watches something: above it a limit is never
    the one that binds (a Cu heat sink at heat_sink_C = 2000 melts at 1085 °C), and a run
    stops there anyway; a heat_sink_C on a block, an interface_C without interfaces or a
    coolant_side_C without a cooled face was left out of the limits in force without a
    word. coolant_side_C is held to the regions its cooled faces bound (cooled_regions; a
    user mesh's or STEP part's too, from its face map): a Cu heat sink's cooled end is not
    bound by the Al housing beside it that no coolant touches."""
    from ..materials import MELTING_WORDS, get

    given = {"spot_C": limits.spot_K, "interface_C": limits.interface_K,
             "heat_sink_C": limits.heat_sink_K, "coolant_side_C": limits.coolant_side_K}
    for key, T in given.items():
        if T is None:
            continue
        C = T - ZERO_CELSIUS_K
        regions = watched_regions(key, geometry, boundaries)
        if key == "coolant_side_C" and regions:  # those its cooled faces bound
            regions = cooled_regions(geometry, boundaries, regions_by_face(geometry))
        if not regions and key == "interface_C" and geometry.kind in USER_GEOMETRIES and \
                len(regions_of(geometry)) > 1:
            # its regions touch, but share their nodes: no joint of its own to watch
            raise CaseError(f"limits.interface_C = {C:g}: a user mesh or STEP part has no "
                            "named interface (its regions share their nodes, in perfect "
                            "contact); expected no interface_C limit (it would watch nothing; "
                            "heat_sink_C watches the second region)")
        if not regions:
            raise CaseError(f"limits.{key} = {C:g}: this case has no {_LIMIT_WATCHES[key]}"
                            f"; expected no {key} limit (it would watch nothing)")
        mats = {materials.by_region[r]: get(materials.by_region[r], materials.user)
                for r in regions}
        m = min(mats.values(), key=lambda m: m.melting_K)
        if T >= m.melting_K:
            where = (f"the {' and '.join(regions)} material" if len(mats) == 1 else
                     f"the lowest of the {', '.join(regions)} materials")
            raise CaseError(
                f"limits.{key} = {C:g}: at or above the {MELTING_WORDS[m.melting_kind]} of "
                f"{m.key} ({m.melting_K - ZERO_CELSIUS_K:g} °C, {where}); expected a limit "
                "below it (a run stops at melting: to leave the limit out of play, give one "
                "just below it)")


def _numerics(root: _Section) -> Numerics:
    num = root.section("numerics", {})
    # at least 1e-14: a residual below ~1e-16 x the condition number is rounding (double
    # precision); 1e-300 ran into "linear solver (cg/lu) did not converge" after writing
    numerics = Numerics(num.choice("solver", SOLVERS, "auto"),
                        num.number("rtol", 1e-10, lo=1e-14, hi=1e-3,
                                   expected="a relative tolerance in [1e-14, 1e-3]"))
    num.close()
    return numerics


def _check_steady_and_probes(loading, boundaries, probes, geometry: Geometry) -> None:
    """A steady state needs a cooled face; a probe's radius must lie inside the target."""
    if loading.kind == "steady" and not any(
            b.type in ("fixed", "convection", "radiation") for b in boundaries.values()):
        raise CaseError("boundaries: a steady state needs at least one face with type "
                        "fixed, convection or radiation (all faces are adiabatic)")
    for p in probes:
        if p.r_m > _target_face_diameter(geometry) / 2 and geometry.kind not in (
                "reflection_insert", "reflection_3d"):
            raise _fail(f"probes.{p.name}.r_mm", p.r_m * 1e3, "a radius inside the target")


def _check_some_power(data: dict, loading, beam_model: Beam) -> None:
    """A case whose beam never delivers power is a mistyped current, not a run: refused.
    (Zero-power segments inside a schedule that has power elsewhere are pauses: valid.)"""
    if loading.kind == "steady" and (beam_model.power_W or 0.0) > 0:
        return
    if any(p > 0 for _, p in loading.segments):
        return
    beam = data.get("beam", {})
    if loading.kind == "segments" and not {"power_W", "current_mA"} & set(beam):
        raise CaseError("loading.segment: every segment has power_W = 0; expected a beam "
                        "power above 0 in at least one segment (a run without a beam heats "
                        "nothing)")
    key = "current_mA" if "current_mA" in beam else "power_W"
    raise _fail(f"beam.{key}", beam.get(key, 0), "a beam power above 0 (a run without a beam "
                "heats nothing)")


def from_dict(data: dict, base_dir: Path | str = ".") -> Case:
    """Validate a case given as a dict (as read from TOML, units in the key names).

    Args:
        data: the parsed case file. The case keeps a copy of it as ``source`` (plain data,
            numpy numbers as Python ones): the caller may change the dict afterwards (for
            the next case) without changing this one's.
        base_dir: folder that relative paths in the case (mesh.file) refer to.

    Returns:
        The validated case in SI units.

    Raises:
        CaseError: on the first bad key, with its path, value and what was expected.
    """
    try:
        data = plain_data(data)
        # a script's integer past 64 bits, refused as in a file (float() overflowed in the
        # number's check: "internal error")
        _check_integers(data, "")
    except RecursionError:  # a cycle, or nesting deeper than any case: refused below
        pass
    return from_own_dict(data, base_dir)


def plain_data(data):
    """A copy of a case (or study) dict as plain TOML data: its tables and lists copied
    (its own, whatever the caller changes later), numpy's numbers and arrays as Python
    numbers and lists (a script's np.arange, a DataFrame row: np.int64(2) was refused as
    "expected a beam power in W, 0 to 1e+06"); anything else as it is, for the reader to
    refuse as the bad value it is."""
    if isinstance(data, dict):
        return {k: plain_data(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [plain_data(v) for v in data]
    if hasattr(data, "tolist") and not isinstance(data, (str, bytes)):
        return plain_data(data.tolist())
    return data


def from_own_dict(data: dict, base_dir: Path | str = ".") -> Case:
    """from_dict for a dict the caller hands over to the case as its source (not copied:
    a study's points, each a copy of its own)."""
    if not isinstance(data, dict):  # the root table has no key name to give
        raise CaseError(f"case = {data!r:.60}: expected a dict of the case file's tables "
                        "(title, geometry, beam, ...)")
    root = _Section(data, "")
    title = root.string("title", "anodesim case")
    geometry = _geometry(root, Path(base_dir))
    mesh = _mesh(root, Path(base_dir), geometry)
    materials = _materials(root, geometry, Path(base_dir))
    beam = _beam(root, geometry)
    geometry = with_beam_entry(geometry, beam)
    if geometry.kind in USER_GEOMETRIES and beam.direction is None:
        raise CaseError("beam.direction: missing; expected the electrons' travel direction "
                        "[x, y, z] (a user mesh has no default beam)")
    _check_spot_fits(geometry, beam)
    loading = _loading(root, beam)
    _check_some_power(data, loading, beam)
    if beam.power_W is None:  # a segments schedule: the beam's power is its highest
        beam = replace(beam, power_W=max(p for _, p in loading.segments))
    boundaries = _boundaries(root, geometry)
    interfaces = _interfaces(root, geometry)
    init = root.section("initial", {})
    T0 = _celsius(init, "temperature_C", 20.0)
    init.close()
    circuit = _coolant_circuit(root, boundaries, T0)
    probes = _probes(root)
    time = _time(root)
    end = sum(d for d, _ in loading.segments)
    output = _output(root, end)
    mechanics = _mechanics(root, geometry, beam, T0)
    limits = _limits(root, mechanics)
    if limits.recrystallisation_fraction is not None and \
            materials.by_region.get("target") != "W":
        raise CaseError(f"limits.recrystallisation_fraction = "
                        f"{limits.recrystallisation_fraction:g}: the recrystallisation "
                        f"kinetics are those of W; expected a W target, got "
                        f"{materials.by_region.get('target')!r}")
    if limits.fatigue:
        _fatigue_target(materials.by_region.get("target"))
        _fatigue_repeat(loading)
    _life_holds_a_repetition(limits, loading)
    if limits.yield_use is not None:
        _yield_region(limits.yield_use, geometry, materials)
    _limits_below_melting(limits, geometry, materials, boundaries)
    rating = _rating(root, loading)
    numerics = _numerics(root)
    pointing = _pointing(root)
    if pointing is not None and (mechanics is None or mechanics.drift is None):
        raise CaseError("beam_pointing: a beam-pointing drift is added to the drift map; "
                        "expected [drift] (and [mounts])")
    root.close()
    _check_steady_and_probes(loading, boundaries, probes, geometry)
    for p in probes:
        if "u" in p.quantities and mechanics is None:
            raise CaseError(f"probes.{p.name}.quantities: a displacement (\"u\") needs the "
                            "thermoelastic stage: add [mounts] (or mechanics)")
    return Case(title, geometry, mesh, materials, beam, loading, boundaries, interfaces, T0,
                probes, time, output, mechanics, limits, rating, numerics, circuit,
                pointing, source=data)


def check_source(case: Case) -> None:
    """CaseError when case.source was changed after the case was made of it: the case keeps
    the values it was made of (a script editing case.source between runs ran the case as
    read, every time, in silence); from_dict makes the edited case."""
    made = getattr(case, "_source_made", None)
    now = source_text(case.source)
    if made is None or now == made:
        return
    try:
        key, old, new = _first_change(json.loads(made), json.loads(now))
        what = f"{key}: {old} -> {new}"
    except ValueError:  # a source json cannot show (source_text's repr)
        what = "its content"
    raise CaseError(f"case.source: changed after the case was made ({what}); a Case keeps the "
                    "values it was made of, and would run those: expected "
                    "anodesim.from_dict(case.source) for the edited case (with base_dir, the "
                    "folder its relative file names refer to, for a case read from a file)")


def _first_change(old, new, key: str = ""):
    """(dotted key, old value, new value) of the first difference of two sources, the
    values as JSON ("missing" for a key one lacks)."""
    def shown(v):
        text = json.dumps(v, ensure_ascii=False)
        return text if len(text) <= 40 else text[:37] + "..."

    if isinstance(old, dict) and isinstance(new, dict):
        for k in sorted(set(old) | set(new)):
            here = f"{key}.{k}" if key else k
            if k not in old or k not in new:
                return (here, shown(old[k]) if k in old else "missing",
                        shown(new[k]) if k in new else "missing")
            if old[k] != new[k]:
                return _first_change(old[k], new[k], here)
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new)):
            if a != b:
                return _first_change(a, b, f"{key}.{i}" if key else str(i))
    return key or "(the whole case)", shown(old), shown(new)


def load(path: str | Path, base_dir: str | Path | None = None) -> Case:
    """Read and validate a case file.

    Args:
        path: the case file.
        base_dir: the folder its relative paths refer to (default: the file's own).

    Raises:
        CaseError: unreadable file, bad TOML or bad content (one line).
    """
    path = Path(path)
    data = read_toml(path)
    if "axes" in data and "beam" not in data:
        raise CaseError(f"{path}: this is a study file (it has [axes]), not a case; run it "
                        "with `anodesim sweep`")
    base = path.parent if base_dir is None else Path(base_dir)
    case = from_own_dict(data, base)
    # the file it was read from (anodesim.run and rate keep it, as they keep a path given)
    object.__setattr__(case, "_read_from", (path, base))
    return case
