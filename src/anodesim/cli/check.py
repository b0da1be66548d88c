"""``anodesim check CASE.toml [--mesh]``: validate a case without running it, and tell what
it is and what it will cost (derived figures, cells, steps, wall time, memory)."""

from __future__ import annotations

import math
import sys

from ..case import ZERO_CELSIUS_K, load

DESCRIPTION = ("Validate a case (exit 2 on bad input) and print its derived figures (beam and "
               "deposited power, electron range, deposition depth, magnification, a textbook "
               "estimate of the spot temperature with a warning when it reaches the target's "
               "melting point, the limits in force) and its cost: cells and dofs (estimated "
               "from the mesh size field, or counted with --mesh), time steps, wall time and "
               "memory on this machine.")


def add_args(p) -> None:
    p.add_argument("case")
    p.add_argument("--mesh", action="store_true",
                   help="count the cells by building the mesh (slower, exact)")


def check(args) -> int:
    """Validate a case, including what resolving it checks; print its figures and cost."""
    from .. import cost, spot_estimate
    from ..limits import implausible_cooling, limits_for
    from ..resolve import prepare

    case = load(args.case)
    prep = prepare(case)
    est = cost.estimate(case, prep, dry_mesh=args.mesh)
    print(f"{args.case}: valid ({case.title}, case hash {case.hash()})")
    for line in figures(case, prep):
        print("  " + line)
    est_spot = spot_estimate.for_case(case, prep)
    print("  " + spot_line(case, prep, est_spot))
    print("  limits in force:")
    limits = limits_for(case, prep.mats)
    width = max((len(lim.label) for lim in limits), default=0)
    for lim in limits:
        unit = {"C": "°C", "um": "µm", "rel": "(-)"}.get(lim.unit, lim.unit)
        print(f"    {lim.label:<{width}s} {lim.value:9.4g} {unit:<4s} ({lim.origin})")
    how = "counted in the mesh" if cost.counted(case, args.mesh, est.cells) else \
        "estimated from the mesh size field, ±10 %" if case.geometry.kind != "cad" else \
        f"estimated from the mesh size field: above {cost.CAD_COUNT_CELLS:,}, not meshed"
    tracked = case.mechanics is not None and case.mechanics.drift is not None \
        and case.loading.kind != "steady"  # as monitors.Mechanics tracks the drift
    solves = f"{est.solves} elastic solves at the save times" + (
        " (and one on the initial state for the drift's weight, one at each drift extreme "
        "between saves)" if tracked else "")
    print(f"  cost: {est.cells:,} cells ({how}), about {est.dofs:,} dofs, "
          f"{est.steps:,} time steps, {solves}")
    print(f"  estimated wall time {cost._duration(est.wall_s)} and memory "
          f"{est.memory_mib:,.0f} MiB on this machine now (one process, warm form cache; "
          f"the first run of a case kind adds ~{cost.FIRST_COMPILE_S:.0f} s of compilation)")
    lo, hi = (cost._duration(f * est.wall_s) for f in cost.RATING_RUNS)
    print(f"  a rating of every chart (`anodesim rate`) makes tens of full FE runs (35 for "
          f"studies/reflection_insert.toml), most shorter than this one, a serial-load anchor "
          f"longer: roughly {lo} to {hi} (`--chart continuous` a few runs)")
    for w in est.warnings():
        print(f"anodesim: warning: {w}", file=sys.stderr)
    for w in implausible_cooling(case):
        print(f"anodesim: warning: {w}", file=sys.stderr)
    for w in unmet_at_rest(case, limits) + units_slips(case, prep.mats) \
            + newton_band_warnings(case, limits) + chart_points_warnings(case, prep) \
            + borrowed_density_warnings(case, prep):
        print(f"anodesim: warning: {w}", file=sys.stderr)
    for w in spot_warnings(case, est_spot) + preload_warnings(case, prep, limits) \
            + extra_focal_warnings(case, prep):
        print(f"anodesim: warning: {w}", file=sys.stderr)
    why = cost.absurd(case, est.cells, est.mesh_remedy)
    if why:
        print(f"anodesim: warning: `run` refuses this case unless --force: {why}",
              file=sys.stderr)
    return 0


def units_slips(case, mats) -> list[str]:
    """Warnings for temperatures that read as kelvin given in °C: a heat_sink_C or
    interface_C above the lowest default of the materials it watches (case.watched_regions;
    their damage temperatures: Cu softens above 200 °C, so heat_sink_C = 473.15 allows what
    the default guards against; an interface_C holds every joint, a housing's too)
    whose number, read in K, lies above the initial temperature (250 on Cu is not one),
    and a water-cooled face's coolant at or above water's saturation at 1 atm (a liquid
    coolant cannot be there; 303.15 is 30 °C in K). Valid input: a CuCrZr sink may be rated
    above Cu's 200 °C, a pressurised circuit run above 100 °C. Also an object distance
    that reads as metres given in mm on a reflection anode (_object_at_a_reflection_spot)."""
    from ..case import watched_regions
    from ..limits import COOLANT_WALL_C, limit_K

    out = []
    given = case.limits
    for key, T in (("heat_sink_C", given.heat_sink_K), ("interface_C", given.interface_K)):
        where = watched_regions(key, case.geometry, case.boundaries)
        # the number typed, read as kelvin, must lie above the anode's start to be a limit
        # (heat_sink_C = 250 on Cu, 250 K, is no slip: a sink rated above 200 °C on purpose)
        if T is None or not where or T - ZERO_CELSIUS_K <= case.initial_temperature_K:
            continue
        # the lowest default among them (limits.limits_for's, of the column it watches)
        m = min((mats[r] for r in where), key=limit_K)
        if T > limit_K(m):
            why = m.info.get("damage_mechanism", "its damage temperature")
            out.append(f"limits.{key} = {T - ZERO_CELSIUS_K:g}: above the {m.key} default "
                       f"{limit_K(m) - ZERO_CELSIUS_K:g} °C ({why}), which the limit then "
                       "allows; was a temperature in K given in °C?")
    out += _object_at_a_reflection_spot(case)
    water = COOLANT_WALL_C["water"]
    for face, b in case.boundaries.items():
        if b.coolant == "water" and b.temperature_K is not None and \
                b.temperature_K - ZERO_CELSIUS_K >= water:
            out.append(f"boundaries.{face}.temperature_C = {b.temperature_K - ZERO_CELSIUS_K:g} "
                       f"with coolant = \"water\": at or above water's saturation at 1 atm "
                       f"({water:g} °C, IAPWS-IF97), where a coolant is steam; was a "
                       "temperature in K given in °C?")
    return out


#: Nearest object (mm) `check` takes without a word on a reflection anode. Its X-rays leave
#: through the tube's side window, millimetres from the spot; only a transmission target
#: puts the object about 1 mm from the spot or closer (source-and-limits.md §1.3: FOD = 1 mm
#: on a transmission tube). Valid input below it (an open tube, a post target), so a warning.
REFLECTION_NEAREST_OBJECT_MM = 1.0


def _object_at_a_reflection_spot(case) -> list[str]:
    """A warning for drift.source_object_mm below REFLECTION_NEAREST_OBJECT_MM on a
    reflection anode: 0.02, a distance of 20 mm given in m, read as 20 µm, made every drift
    in pixels and every ΔM/M a thousand times too large."""
    drift = case.mechanics.drift if case.mechanics else None
    if drift is None or case.geometry.kind not in ("reflection_insert", "reflection_3d"):
        return []
    sod_mm = drift.source_object_m * 1e3
    if sod_mm >= REFLECTION_NEAREST_OBJECT_MM:
        return []
    return [f"drift.source_object_mm = {sod_mm:.12g}: the object {sod_mm * 1e3:.4g} µm from "
            f"the spot of a reflection anode, whose X-rays leave through the tube's window "
            f"(objects closer than {REFLECTION_NEAREST_OBJECT_MM:g} mm are a transmission "
            "target's); was a distance in m given in mm?"]


def unmet_at_rest(case, limits) -> list[str]:
    """A warning for each limit at or below what the anode starts at (limits.rise_allowed):
    valid input, which a run reports broken (exit 3, its results written) and which
    `anodesim rate` refuses (no positive power meets it)."""
    from ..limits import LifeLimit, rise_allowed

    out = []
    T0 = case.initial_temperature_K - ZERO_CELSIUS_K
    for lim in limits:
        if rise_allowed(lim) > 0:
            continue
        if isinstance(lim, LifeLimit):
            what = (f"the {lim.label} limit (an equivalent spot temperature of "
                    f"{lim.temperature_C:.4g} °C)")
        elif lim.origin == "case":
            what = f"limits.{lim.name}_C = {lim.value:g}"
        else:
            what = f"the default {lim.label} limit {lim.value:.4g} °C"
        out.append(f"{what}: at or below the initial temperature {T0:g} °C, so no positive "
                   "power can meet it: `run` reports it broken (exit status 3) and `rate` "
                   "refuses the case")
    return out


def newton_band_warnings(case, limits) -> list[str]:
    """A warning when `anodesim rate` refuses the case's time.newton_tol_K, wider than its
    confirmation band of a temperature limit (limits.newton_band_breach): valid for `run`,
    so only a warning here; it said "valid" and `rate` then refused it."""
    from ..limits import newton_band_breach, rise_allowed

    for lim in limits:
        wide = newton_band_breach(case, lim) if rise_allowed(lim) > 0 else None
        if wide:  # the first, as `rate` names it
            return [f"`rate` refuses this case: {wide}"]
    return []


#: The `rate --chart` selections that draw a chart (rating.chart_selection's names), for
#: chart_points_warnings: "all" is the default.
_CHART_OPTIONS = {"duty": "the serial-load charts (--chart duty, period or all, the default)",
                  "single": "the single-load chart (--chart single or all, the default)"}


def chart_points_warnings(case, prep) -> list[str]:
    """A warning for each chart `anodesim rate` refuses to draw (rate.chart_points_problems:
    a serial-load point whose pulse or pause a run cannot take, a loading time below the
    time step), in its own words: valid for `run`, which draws no chart, so only a warning
    here; check called a pulse train on 10 s, off 1e-12 s valid and `rate` then refused the
    1e-16 s pause of its default 1 ms period chart point."""
    from ..rating.rate import chart_points_problems
    from ..resolve import time_steps

    dt0, _ = time_steps(case, prep.spot, prep.mats)
    return [f"`rate` refuses {_CHART_OPTIONS[chart]} of this case: {problem}"
            for chart, problem in chart_points_problems(case, dt0)]


def borrowed_density_warnings(case, prep) -> list[str]:
    """A warning for each layer the beam lays its heat in whose user material borrows its
    electron data (electron_data = "<library material>") while its own density at 20 °C
    differs from the borrowed one by more than materials.ELECTRON_DENSITY_RTOL: the
    Kanaya-Okayama range (∝ 1/ρ) is then the borrowed material's (a W-Cu composite of
    15.6 g/cm³ with W's 19.25: the heat laid about 19 % shallower, the spot hotter than in
    the material). Valid input (the user chose the data), so only a warning here."""
    from ..materials import ELECTRON_DENSITY_RTOL, ROOM_K

    out = []
    for region in dict.fromkeys(layer.region for layer in prep.spot.layers):
        m = prep.mats[region]
        borrowed = m.info.get("electron_data")
        if borrowed is None:
            continue
        own = float(m.rho(ROOM_K)) / 1000.0
        if abs(m.density_g_cm3 / own - 1.0) > ELECTRON_DENSITY_RTOL:
            depth = "shallower" if m.density_g_cm3 > own else "deeper"
            out.append(
                f"materials.define.{m.key}.electron_data = \"{borrowed}\": the electron range "
                f"in the {region} is {borrowed}'s at its density {m.density_g_cm3:.4g} g/cm³, "
                f"the material's own is {own:.4g} g/cm³: the beam's heat is laid about "
                f"{abs(own / m.density_g_cm3 - 1.0):.0%} {depth} than in it; give "
                "atomic_number, atomic_mass_g_mol, density_g_cm3 and "
                "backscatter_energy_fraction of its own instead to lay it at its own range")
    return out


def spot_line(case, prep, est) -> str:
    """The textbook estimate of the spot temperature (spot_estimate.py), in words: the
    temperature (or that it reaches the melting point), what it assumes and its bias."""
    from ..spot_estimate import FILM_SPOT_SIZES, KNOWN_BIAS

    head = "spot temperature, textbook estimate: "
    top = prep.spot.layers[0]
    if est is None:
        if not (case.beam.power_W or 0.0) > 0:
            return head + "none (no beam power)"
        return (head + f"none (the {top.region} layer, {top.thickness_m * 1e6:.4g} µm, is "
                f"thinner than {FILM_SPOT_SIZES:g} spot sizes or deposition depths: a "
                "half-space of it does not stand for a film)")
    m = est.material
    when = ("in the steady state" if not math.isfinite(est.duration_s) else
            f"after {est.duration_s:.4g} s at {case.beam.power_W:.4g} W"
            if len(case.loading.segments) == 1 else
            f"at {est.duration_s:.4g} s into its schedule (its hottest segment end; the "
            f"highest power {case.beam.power_W:.4g} W)")
    if est.melts:
        what = f"reaches {est.ceiling_words} in the {top.region} {when}: {_needs(est)}"
    else:
        what = f"{est.T_K - ZERO_CELSIUS_K:.4g} °C {when}"
    how = ("k(T) by Kirchhoff transform" if case.materials.temperature_dependent else
           "constant k")
    return (head + what + f" (the {prep.spot.deposition} deposition of the "
            f"{case.beam.power_W * prep.p_dep:.4g} W deposited, in a {m.key} half-space from "
            f"{est.T0_K - ZERO_CELSIUS_K:g} °C, {how}; {KNOWN_BIAS})")


def spot_warnings(case, est) -> list[str]:
    """A warning when the textbook spot temperature reaches the target's melting point (or
    solidus): an estimate, so a warning, not a refusal; the run decides."""
    from ..spot_estimate import KNOWN_BIAS

    if est is None or not est.melts:
        return []
    return [f"the textbook spot temperature reaches {est.ceiling_words} in the target: "
            f"{_needs(est)}, so `run` will likely stop there (the target "
            + ("melting" if est.ceiling_is_melting else "leaving its data")
            + f"); expected a lower beam power or a larger spot (an estimate, {KNOWN_BIAS}: the "
            "run decides)"]


def _needs(est) -> str:
    """How far a melting estimate is over its cap: the ∫k dT the deposited power needs
    over the one up to the cap (none: the anode starts at the cap, which is valid input)."""
    if est.U_limit_W_m <= 0:
        return "the anode starts at it (initial.temperature_C)"
    return f"the deposited power needs {est.U_W_m / est.U_limit_W_m:.3g} times the ∫k dT up to it"


def preload_warnings(case, prep, limits) -> list[str]:
    """A warning when the textbook estimate of the rating pre-load's steady spot
    (rating.preload_W; spot_estimate.py) breaks a limit on the spot's temperature: the
    pre-load is then likely at or above the continuous rating, which `rate` refuses after
    one steady FE run at it. A warning, not a refusal: the estimate is not the FE run."""
    from ..limits import LifeLimit
    from ..spot_estimate import at_power, power_for

    P = case.rating.preload_W
    est = at_power(case, prep, P)
    if est is None:
        return []
    spot = [(lim, lim.temperature_C if isinstance(lim, LifeLimit) else lim.value)
            for lim in limits if lim.column == "T_peak_C"
            and (isinstance(lim, LifeLimit) or lim.unit == "C")]
    if not spot:
        return []
    lim, T_lim = min(spot, key=lambda x: x[1])
    T_lim_K = min(T_lim + ZERO_CELSIUS_K, est.material.melting_K)
    if T_lim_K <= est.T0_K or (not est.melts and est.T_K < T_lim_K):
        return []  # a limit at or below the start: unmet_at_rest's warning (no power meets it)
    what = (f"the {lim.label} limit's equivalent spot temperature" if isinstance(lim, LifeLimit)
            else f"the {lim.label} limit")
    T = f"reaches {est.ceiling_words}" if est.melts else f"{est.T_K - ZERO_CELSIUS_K:.4g} °C"
    return [f"rating.preload_W = {P:g}: the textbook estimate of its steady spot, {T}, is "
            f"above {what} {T_lim:.4g} °C, so the pre-load is likely at or above the "
            "continuous rating, which `rate` refuses after one steady FE run at it; expected "
            f"a pre-load below about {power_for(est, T_lim_K):.3g} W, where the estimate meets "
            "that limit (it leaves out the anode's bulk heating, which lowers the rating "
            "further, and estimates no other limit)"]


def extra_focal_warnings(case, prep) -> list[str]:
    """A warning when a user mesh or CAD anode names no ``anode_face``: its extra-focal heat
    (extra_focal.py: the cosine-law landing, renormalised to the faces there are) then lands
    on ``beam_face`` alone, often a small target face, where the law would spread most of it
    over the anode around it (half within the distance H of the spot): the target face runs
    hotter than the tube. The run says where the power went; this says it before."""
    from ..case.model import USER_GEOMETRIES

    ef = prep.extra_focal
    if case.geometry.kind not in USER_GEOMETRIES or ef is None:
        return []
    alone = [la for la in ef.landings if la.law == "cosine" and la.faces == ("beam_face",)]
    if not alone:
        return []
    watts = alone[0].share * ef.extra_focal_fraction * case.beam.power_W
    where = ("geometry.groups" if case.geometry.kind == "user_mesh" else "geometry.faces")
    return [f"beam.extra_focal = 'face': the geometry has no face 'anode_face', so the "
            f"extra-focal heat ({watts:.3g} W at {case.beam.power_W:.4g} W, the cosine law "
            f"with H = {ef.distance_m * 1e3:g} mm) lands on 'beam_face' alone; name the "
            f"anode's beam-side face around the target 'anode_face' ({where}), or place "
            "the heat with [beam.extra_focal_faces]"]


def figures(case, prep) -> list[str]:
    """Derived figures of a prepared case: beam and deposited power, range, depth,
    magnification."""
    from ..spot_sizes import size_words

    b, spot = case.beam, prep.spot
    P = b.power_W
    lines = [f"beam {b.voltage_V / 1e3:g} kV, {P:.4g} W ({P / b.voltage_V * 1e3:.4g} mA); "
             f"deposited {P * prep.p_dep:.4g} W (energy backscatter η_E = {prep.eta:.3g})",
             f"spot {b.spot}, "
             + size_words(b.spot, b.size_m, b.size2_m, b.size_definition, b.given_size_m)
             + "; electron range "
             + ", ".join(f"{layer.region} {layer.range_m * 1e6:.3g} µm" for layer in spot.layers)
             + f"; deposition depth {prep.zone_depth * 1e6:.3g} µm ({spot.deposition})"]
    lines += groups(case)
    drift = case.mechanics.drift if case.mechanics else None
    if drift is not None:
        M = drift.magnification
        lines.append(f"magnification {M:.4g} (source-object {drift.source_object_m * 1e3:g} "
                     f"mm, source-detector {drift.source_detector_m * 1e3:g} mm); a pixel of "
                     f"{drift.pixel_m * 1e6:g} µm is {drift.source_um_per_px():.3g} µm "
                     "of spot drift" if M > 1 else f"magnification {M:.4g}")
    return lines


def groups(case) -> list[str]:
    """A user mesh's or STEP part's groups as the case uses them: each region with its
    material (and, for a mesh file, its tetrahedra), each face with the conditions on it,
    so that a mapping to the wrong group shows before a run (empty for built geometries)."""
    from ..case import regions_of
    from ..case.model import USER_GEOMETRIES

    g = case.geometry
    if g.kind not in USER_GEOMETRIES:
        return []
    counts, inside = {}, {}
    if g.kind == "user_mesh":
        from ..case import mesh_import  # cached: read when the case was

        um = mesh_import.of_geometry(g)
        counts = {r: int((um.cell_tag == um.groups[r]).sum()) for r in regions_of(g)}
        # a face group inside the mesh (between two regions) conducts: perfect contact,
        # not the adiabatic surface of an unnamed outer face
        inside = {f: (n, int((um.facet_tag == um.groups[f]).sum()))
                  for f, n in um.inner.items() if n}
    regions = [f"{r} ({case.materials.by_region.get(r, '?')}"
               + (f", {counts[r]:,} tetrahedra)" if r in counts else ")")
               for r in regions_of(g)]
    mounts = case.mechanics.mounts if case.mechanics else {}
    faces = []
    for name, dim in g.mesh_groups.items():
        if dim != 2:
            continue
        uses = (["beam"] if name == "beam_face" else []) \
            + ([case.boundaries[name].type] if name in case.boundaries else []) \
            + ([f"{mounts[name]} mount"] if name in mounts else [])
        if name in inside:
            n, total = inside[name]
            uses.append("inside the mesh, perfect contact" if n == total else
                        f"{n:,} of its {total:,} triangles inside the mesh, perfect contact")
        faces.append(f"{name} ({', '.join(uses) or 'adiabatic'})")
    return [f"regions: {', '.join(regions)}", f"faces: {', '.join(faces) or 'none'}"]
