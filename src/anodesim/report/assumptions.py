"""The model's assumptions and limits that apply to one case, in words, each with where it
is explained (the README's "How it works" section restates them with their sources)."""

from __future__ import annotations

from .. import life
from ..case.model import GEOMETRIES

_HOW = "README, How it works"


def applying(case: dict) -> list[tuple[str, str]]:
    """(statement, where explained) of every assumption that applies to a case given as
    the dict of ``Case.to_dict()`` (summary.json's "case")."""
    geo, beam, mats = case["geometry"], case["beam"], case["materials"]
    kind = geo["kind"]
    dim = GEOMETRIES.get(kind, {}).get("dim", 2)
    out = [("Heat conduction with P1 finite elements; no melting, no evaporation of the "
            "bulk; radiation only to fixed surroundings, none inside cavities.", _HOW)]
    tables = "library and user tables" if mats.get("user") else "library tables"
    if mats.get("temperature_dependent"):
        out.append((f"k, ρ, cp depend on temperature ({tables}, interpolated linearly); "
                    "a temperature outside a table or above the melting point stops the run.",
                    "README, Materials"))
    else:
        out.append(("Constant material properties (taken at the initial temperature): "
                    "the response is linear in the power.", "README, Materials"))
    if dim == 2:
        out.append(("Axisymmetric (r, z) model: a round spot at normal incidence on the axis; "
                    "lateral drift, tilted faces and oblique beams need a 3-D model.",
                    "README, Assumptions and limits"))
    else:
        out.append(("3-D model: perfect contact between regions, mounts on curved faces "
                    "clamped only, no free bodies; ratings verified on axisymmetric anodes "
                    "only; the electron kernel of an oblique beam is centred on the impact "
                    "point.", "README, Assumptions and limits"))
    dep = beam.get("deposition")
    if dep == "kernel":
        out.append(("Heat source from electron-transport kernels of the project's own "
                    "condensed-history Monte Carlo (checked against published data, not "
                    "against PENELOPE or Geant4).", "README, Beam"))
    elif dep in ("everhart_hoff", "volume"):
        out.append(("Everhart–Hoff depth–dose curve down to the Kanaya–Okayama range: fitted "
                    "for low Z, it puts the energy in W about 2.3× too deep.", "README, Beam"))
    elif dep == "surface":
        out.append(("The beam's power is put on the face (no depth): the peak temperature is "
                    "an upper estimate for spots near the electron range.", "README, Beam"))
    out.append((extra_focal_statement(beam, kind), "README, Extra-focal heat"))
    if beam.get("size_definition", "fwhm") != "fwhm":
        out.append((f"The spot size was given as an X-ray spot ({beam['size_definition']}) "
                    "and converted to the beam's size.", "README, Spot size"))
    if case.get("interfaces"):
        out.append(("Named interfaces carry a thermal contact conductance (coincident, "
                    "unconnected nodes); the value is an input, not computed.",
                    "README, Interfaces"))
    if kind == "transmission" or len(mats.get("by_region", {})) > 1 and "window" in \
            mats.get("by_region", {}):
        out.append(("Layered target: the substrate takes its own material's depth profile at "
                    "the beam voltage (somewhat too deep); thin-film conductivity is not "
                    "reduced unless k_W_mK is overridden.", "README, Beam"))
    if case.get("mechanics"):
        out.append(("Quasi-static small-strain linear thermoelasticity at the save times "
                    "only; elastic only (no plasticity: von Mises maxima above the yield "
                    "strength mean local yielding the model does not follow); stresses at "
                    "clamped or bi-material corners are singular and mesh-dependent.",
                    "README, Thermoelasticity"))
        if (case["mechanics"] or {}).get("drift"):
            out.append(("Drift: the beam is fixed in space and the impact point slides along "
                        "it with the emission-weighted mean displacement of the deposition "
                        "region; image drift = (M − 1) × shift across the view / pixel, "
                        "ΔM/M = shift along the view × (1/SOD − 1/SDD).",
                        "README, Drift map"))
    lim = case.get("limits") or {}
    target = mats.get("by_region", {}).get("target")
    own = (mats.get("user") or {}).get(target) or {}
    vapour = life.evaporates_as(target, own.get("electron_data")) if target else None
    if lim.get("spot") == "life" and target is not None and vapour is None:
        # (limits.limits_for: no erosion limit; a user material evaporates only as the
        # library material its electron_data names)
        out.append((f"No erosion limit: the target's {target} has no vapour-pressure data"
                    + (" (a user material has those of its electron_data material only)"
                       if target in (mats.get("user") or {}) else "")
                    + "; the spot is held below "
                    + ("the case's limits.spot_C." if lim.get("spot_K") is not None else
                       "its melting point less 200 K (limits.spot_C sets another)."),
                    "README, Your own materials"))
    elif lim.get("spot") == "life":
        out.append(("Spot limit from the life: Hertz–Knudsen evaporation of the target "
                    + ("" if vapour == target else f"(as {vapour}, its electron_data) ")
                    + "(Alcock 1984) against the allowed erosion over the rated life.",
                    "README, Ratings"))
    out.append(("Material data marked [R] or [S] in the data file are recalled or secondary "
                "values to check against primary sources before release.",
                "src/anodesim/data/materials.toml"))
    return out


def extra_focal_statement(beam: dict, kind: str) -> str:
    """Where the case puts the backscattered electrons' power (beam.extra_focal,
    extra_focal_faces, extra_focal_distance_m; extra_focal.plan), in words."""
    if beam.get("backscatter_energy_fraction") == 0:
        return ("No backscatter (backscatter_energy_fraction = 0): the whole beam power is "
                "deposited in the spot; no extra-focal heat, no X-ray term.")
    if "extra_focal" not in beam and "extra_focal_faces" not in beam:
        # a summary.json written before anodesim modelled extra-focal heat (2026-12-02):
        # its backscattered power heated nothing (was described as laid on the face)
        return ("Extra-focal heat not modelled (the anodesim that made this run predates "
                "it): the backscattered electrons' power heats nothing.")
    named = [(face, share) for face, share in beam.get("extra_focal_faces") or []
             if share > 0]
    rest = 1.0 - sum(share for _, share in named)
    parts = []
    if named:
        parts.append("laid uniformly on named faces: " + ", ".join(
            f"{face} {100 * share:.3g} %" for face, share in named))
    if rest > 1e-12:
        what = f"the rest ({100 * rest:.3g} %)" if named else "all of it"
        if beam.get("extra_focal", "face") == "off":
            parts.append(f"{what} dropped (extra_focal = \"off\": it heats nothing)")
        elif kind == "transmission":
            parts.append(f"{what} laid uniformly on the window's rim (the joint to the nose "
                         "that holds the window)")
        else:
            H = beam.get("extra_focal_distance_m", 5e-3) * 1e3
            parts.append(f"{what} laid on the anode face around the spot (beam_face and "
                         "anode_face, those the geometry has) with the cosine-law landing "
                         f"density H²/(π(H² + ρ²)²), H = {H:g} mm (an assumed spot-to-hood "
                         "distance; no hood or aperture is modelled, the density is laid on "
                         "the anode face itself)")
    return ("Extra-focal heat (the backscattered electrons' power, less the X-rays "
            "leaving): " + "; ".join(parts) + ".")
