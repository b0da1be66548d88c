"""Limits of cases with more than two regions (a housed rod; a user mesh's braze): each
region after the heat sink held to its own material, each joint named where a limit binds.
Small steady runs of an axisymmetric housed rod (about a second each)."""

import dataclasses as dc

import numpy as np
import pytest
from cases import reflection

import anodesim
from anodesim import limits

#: A Cu rod in a long, thin Al6061 housing whose outside takes all the extra-focal power:
#: the housing is heated away from its joint (adiabatic but for that face), so its hottest
#: node (at the mounting end) is twice as far above the coolant as the joint's.
HEATED_HOUSING = {"inner_radius_mm": 2.5, "outer_radius_mm": 3.0, "length_mm": 20.0}


def heated_housing(P: float, **changes) -> dict:
    return reflection(geometry={"housing": HEATED_HOUSING},
                      materials={"housing": "Al6061", "properties": "constant"},
                      beam={"power_W": P, "extra_focal_faces": {"housing_outer": 1.0}},
                      boundaries={"cooled_end": {"h_W_m2K": 20000.0, "coolant": "water"}},
                      loading={"kind": "steady", "duration_s": None}, **changes)


def test_a_region_after_the_heat_sink_is_held_to_its_own_material():
    """A housing (or a user mesh's braze) was watched only at its joints and cooled faces:
    heated away from its joint, its own hottest node had no limit, and a steady run of an
    Al6061 housing at 25 W said every limit holds with the housing's mounting end at
    ~163 °C, above the 150 °C at which its T6 temper over-ages. Every region after the heat
    sink now has a limit "region <name>" on T_max_<name>_C at its own material's default
    (limit_K, as the heat sink's), which heat_sink_C does not set; here it is the one
    broken while both joints hold. Exact: the limit is the material's damage temperature
    and the check's worst the column's maximum."""
    from anodesim.materials import get
    from anodesim.resolve import region_materials

    case = anodesim.from_dict(heated_housing(25.0, limits={"heat_sink_C": 250.0}))
    lims = {x.label: x for x in limits.limits_for(case, region_materials(case))}
    housing = lims["region housing"]
    assert housing.column == "T_max_housing_C"
    assert housing.value == pytest.approx(get("Al6061").damage_K - 273.15, abs=1e-9)
    assert housing.origin.startswith("Al6061 damage")
    assert lims["heat_sink"].value == pytest.approx(250.0, abs=1e-9)  # the heat sink's alone
    r = anodesim.run(case)
    checks = {c.label: c for c in r.limits}
    assert checks["region housing"].worst == pytest.approx(
        float(np.max(r.series["T_max_housing_C"])), rel=1e-12)
    assert not checks["region housing"].holds
    assert checks["interface heat_sink_housing"].holds
    assert checks["interface target_heat_sink"].holds and checks["heat_sink"].holds
    # the housing is hottest away from its joint: twice the joint's rise over the coolant
    assert checks["region housing"].worst - 30.0 > 1.5 * (
        checks["interface heat_sink_housing"].worst - 30.0)
    # two regions: no region limit, as before
    two = anodesim.from_dict(reflection())
    assert not [x for x in limits.limits_for(two, region_materials(two)) if x.name == "region"]


def test_the_engine_rates_a_region_limit_by_its_label():
    """The rating engine rates the housing's own limit (its column's nodes, the region's
    k(T) in the Kirchhoff transform) and names it: with constant properties the engine is
    exact, so a steady FE run at its continuous rating has the housing's hottest node at
    its 150 °C limit (to 1e-6 of the rise), the binding limit "region housing". Before,
    the coolant side bound at 26.8 W, where the housing was at 173 °C."""
    from anodesim import rating
    from anodesim.rating.kirchhoff import transform_for

    case = anodesim.from_dict(heated_housing(10.0))
    engine = rating.build_engine(case)
    P, binding = engine.max_power(engine.response.steady)
    assert binding == "region housing"
    r = anodesim.run(anodesim.from_dict(heated_housing(P)))
    assert float(np.max(r.series["T_max_housing_C"])) - 30.0 == pytest.approx(120.0, rel=1e-6)
    assert transform_for(case).conductivity[("region", "T_max_housing_C")].name == "Al6061.k"
    # the FE-confirmed rating names it too (safe.max_safe_loading's report: by label)
    sl = rating.max_safe_loading(case, engine)
    assert sl.binding == "region housing" and sl.confirmed
    # each joint's limit alone: the binding one is named by its joint, not "interface"
    for lim in [x for x in engine.limits if x.name == "interface"]:
        alone = dc.replace(engine, limits=[lim]).max_power(engine.response.steady)[1]
        assert alone == lim.label == f"interface {lim.column[6:-2]}"


def test_a_binding_joint_is_named_in_the_ratings_words():
    """The rating in words said "limited by the joint (interface)" for either joint of a
    housed rod; it names the joint, and a region after the heat sink by its name."""
    from anodesim.rating.rate import binding_words

    assert binding_words("interface heat_sink_housing") == \
        "the joint heat_sink_housing (interface)"
    assert binding_words("region housing") == "the housing temperature"
    assert binding_words("coolant_side") == "the coolant-side wall temperature"

