"""Life-based and coolant limits (limits.py): the erosion budget over the rated life against
the analytic sum of a pulse train, the engine's equivalent spot temperature, the coolant
wall defaults, and their input errors. Pure numpy: no finite-element runs."""

import numpy as np
import pytest
from cases import block, reflection, transmission

import anodesim
from anodesim import life, limits
from anodesim.case import CaseError
from anodesim.materials import get


def _limits(**changes):
    case = anodesim.from_dict(reflection(**changes))
    return case, {x.name: x for x in limits.limits_for(case, {"target": get("W"),
                                                               "heat_sink": get("Cu")})}


def test_default_spot_limit_is_the_erosion_budget_over_a_sealed_tube_life():
    """Default: 1 µm over 10 000 h, i.e. W at 2331 K (source-and-limits.md §3.1 inverse
    table, within 3 K); no melting − 200 K spot limit unless asked for."""
    _, lim = _limits()
    e = lim["erosion"]
    assert (e.value, e.life_h, e.unit) == (1.0, 10_000.0, "um")
    assert e.temperature_C + 273.15 == pytest.approx(2331.0, abs=3.0)
    assert "spot" not in lim
    _, short = _limits(limits={"spot": "short_exposure"})
    assert "erosion" not in short
    assert short["spot"].value == pytest.approx(3695.0 - 200.0 - 273.15, abs=1e-9)


def test_default_erosion_budget_is_at_most_a_twentieth_of_the_spot_and_a_tenth_of_a_film():
    """The 1 µm default is 5 % of a 20 µm spot: smaller spots get 5 % of their FWHM (flat
    top: diameter; elliptical: minor axis), a transmission film at most 10 % of its thickness
    (1 µm would evaporate the whole shipped 1 µm film over the life), each named in the
    limit's origin; limits.erosion_um overrides; a smaller budget is a cooler spot."""
    import dataclasses as dc

    _, big = _limits()  # 50 µm spot
    assert big["erosion"].value == 1.0 and "(here 1 µm)" in big["erosion"].origin
    _, small = _limits(beam={"fwhm_um": 4.0})
    assert small["erosion"].value == pytest.approx(0.2, rel=1e-12)
    assert "5% of the 4 µm spot" in small["erosion"].origin
    assert small["erosion"].temperature_C < big["erosion"].temperature_C - 50.0
    _, flat = _limits(beam={"spot": "flat_top", "diameter_um": 10.0, "fwhm_um": None})
    assert flat["erosion"].value == pytest.approx(0.5, rel=1e-12)
    _, given = _limits(beam={"fwhm_um": 4.0}, limits={"erosion_um": 0.7})
    assert given["erosion"].value == 0.7 and given["erosion"].origin.startswith("case")
    mats = {"target": get("W"), "window": get("diamond")}
    film = anodesim.from_dict(transmission())  # 1 µm W film, 5 µm spot
    (e,) = [x for x in limits.limits_for(film, mats) if x.name == "erosion"]
    assert e.value == pytest.approx(0.1, rel=1e-12) and "10% of the 1 µm film" in e.origin
    thick = transmission()
    thick["geometry"]["target_thickness_um"] = 5.0
    assert limits.default_erosion_um(anodesim.from_dict(thick))[0] == pytest.approx(0.25)
    case, _ = _limits()
    oval = dc.replace(case, beam=dc.replace(case.beam, spot="elliptical", size_m=20e-6,
                                            size2_m=6e-6))
    assert limits.default_erosion_um(oval)[0] == pytest.approx(0.3, rel=1e-12)


def test_erosion_check_of_a_pulse_train_is_the_analytic_sum():
    """N square pulses at T_on between pauses at 30 °C: the eroded depth over the life is
    life × (N t_on r(T_on)) / (N period), to 1e-9; the equivalent temperature makes the same
    mean rate (1e-6 relative), and the excess is taken on it."""
    case, lim = _limits(limits={"erosion_um": 2.0, "life_h": 500.0})
    e = lim["erosion"]
    N, on, off, T_on = 40, 0.01, 0.03, 2450.0
    t, T = [], []
    for k in range(N):
        t0 = k * (on + off)
        t += [t0, t0 + on, t0 + on, (k + 1) * (on + off)]
        T += [T_on - 273.15, T_on - 273.15, 30.0, 30.0]
    (c,) = limits.check([e], np.array(t), {"T_peak_C": np.array(T)})
    r = life.recession_rate("W", T_on)
    mean = N * on * r / (N * (on + off))
    assert c.worst == pytest.approx(mean * 500.0 * 3600.0 * 1e6, rel=1e-9)
    assert life.recession_rate("W", c.equivalent_C + 273.15) == pytest.approx(mean, rel=1e-6)
    assert c.excess == pytest.approx((c.equivalent_C - e.temperature_C)
                                     / (e.temperature_C - 30.0), rel=1e-12)
    assert c.holds == (c.worst <= 2.0) and c.holds == (c.excess <= 0.0)


def test_recrystallisation_limit_when_set():
    """limits.recrystallisation_fraction: the equivalent constant spot temperature uses
    exactly that fraction of W's recrystallisation time over the life (1e-9); a pulse train
    uses life × N t_on / t_rx(T_on) / (N period) of it (analytic sum, 1e-9), the excess
    taken on the equivalent temperature; no such limit unless set."""
    case, lim = _limits(limits={"recrystallisation_fraction": 0.5, "life_h": 2000.0})
    x = lim["recrystallisation"]
    assert (x.value, x.life_h, x.unit) == (0.5, 2000.0, "rel")
    t_rx = life.recrystallisation_time_s(x.temperature_C + 273.15)
    assert 2000.0 * 3600.0 / t_rx == pytest.approx(0.5, rel=1e-9)
    N, on, off, T_on = 20, 0.01, 0.03, 1500.0
    t = np.ravel([[k * (on + off), k * (on + off) + on, k * (on + off) + on,
                   (k + 1) * (on + off)] for k in range(N)])
    T = np.tile([T_on - 273.15, T_on - 273.15, 30.0, 30.0], N)
    (c,) = limits.check([x], t, {"T_peak_C": T})
    mean = on / life.recrystallisation_time_s(T_on) / (on + off)
    assert c.worst == pytest.approx(mean * 2000.0 * 3600.0, rel=1e-9)
    assert c.excess == pytest.approx((c.equivalent_C - x.temperature_C)
                                     / (x.temperature_C - 30.0), rel=1e-12)
    assert c.holds == (c.worst <= 0.5) == (c.excess <= 0.0)
    assert "recrystallisation" not in _limits()[1]


def test_life_summary_steady_and_alloys():
    """A steady spot at 2331 K erodes 0.1 nm/h (1 µm in 10⁴ h) and uses 3600/t_rx of its
    recrystallisation time per hour; W-25Re evaporates faster than W (Re's vapour pressure,
    Raoult's law) and gets no W recrystallisation figure."""
    s = limits.life_summary(get("W"), [0.0], [2331.0 - 273.15])
    assert s["erosion_rate_nm_h"] == pytest.approx(0.1, rel=0.02)
    assert s["recrystallisation_fraction_per_h"] == pytest.approx(
        3600.0 / life.recrystallisation_time_s(2331.0), rel=1e-12)
    re = limits.life_summary(get("W25Re"), [0.0], [2331.0 - 273.15])
    assert re["erosion_rate_nm_h"] > s["erosion_rate_nm_h"]
    assert "recrystallisation_fraction_per_h" not in re
    assert limits.life_summary(get("diamond"), [0.0], [1000.0])["erosion_rate_nm_h"] is None
    comp = life.composition("W25Re")
    assert sum(comp.values()) == pytest.approx(1.0, rel=1e-12) and comp["Re"] < 0.25


@pytest.mark.parametrize("coolant,expected", [(None, 99.97), ("water", 99.97),
                                              ("oil", 105.0), ("air", None)])
def test_coolant_wall_defaults(coolant, expected):
    """Per coolant: oil 105 °C (IEC 60076-7 top oil), water 99.97 °C (saturation at
    1 atm), air none; an unnamed coolant takes the lower liquid limit; a case value wins."""
    _, lim = _limits(boundaries={"cooled_end": {"coolant": coolant}})
    if expected is None:
        assert "coolant_side" not in lim
    else:
        assert lim["coolant_side"].value == pytest.approx(expected, abs=1e-12)
        assert "boundaries.cooled_end" in lim["coolant_side"].origin
    _, given = _limits(boundaries={"cooled_end": {"coolant": coolant}},
                       limits={"coolant_side_C": 70.0})
    assert given["coolant_side"].value == pytest.approx(70.0, abs=1e-9)


def test_water_critical_heat_flux_bounds_a_boiling_wall():
    """Zuber's pool-boiling CHF of water at 1 atm is 1.11 MW/m² (0.131/0.149 of the [R] 1.26
    MW/m² of Incropera & DeWitt's example with the Lienhard-Dhir constant: 1.11, to 1 %).
    A wall limit above saturation on a water face is lowered to T_coolant + q_CHF/h where
    that is lower (exact), never below saturation; the default is never lowered."""
    assert limits.WATER_CHF_W_M2 == pytest.approx(1.26e6 * 0.131 / 0.149, rel=0.01)

    def wall(h, given=None):
        case, lim = _limits(boundaries={"cooled_end": {"coolant": "water", "h_W_m2K": h}},
                            limits={} if given is None else {"coolant_side_C": given})
        return lim["coolant_side"]

    assert wall(5e4).value == pytest.approx(99.97, abs=1e-9)  # default: no boiling
    assert wall(5000.0, 150.0).value == pytest.approx(150.0, abs=1e-9)  # CHF at 251 °C
    w = wall(1e4, 150.0)
    assert w.value == pytest.approx(30.0 + limits.WATER_CHF_W_M2 / 1e4, rel=1e-12)
    assert "critical heat flux" in w.origin
    assert wall(5e4, 150.0).value == pytest.approx(99.97, abs=1e-9)  # not below saturation


def test_water_critical_heat_flux_on_the_coolant_circuit():
    """A water face cooled by the coolant circuit has no fixed coolant temperature (it
    crashed: None − 273.15): its CHF bound takes the lowest the coolant can be, here the
    circuit's ambient 25 °C (initial 40 °C, body 30 °C): 25 °C + q_CHF/h (exact)."""
    circuit = {"heat_capacity_J_per_K": 50.0, "cooler_conductance_W_per_K": 0.5,
               "ambient_C": 25.0, "initial_C": 40.0}
    _, lim = _limits(coolant_circuit=circuit,
                     boundaries={"cooled_end": {"coolant": "water", "h_W_m2K": 1e4,
                                                "temperature_C": None,
                                                "coolant_circuit": True}},
                     limits={"coolant_side_C": 150.0})
    w = lim["coolant_side"]
    assert w.value == pytest.approx(25.0 + limits.WATER_CHF_W_M2 / 1e4, rel=1e-12)
    assert "critical heat flux" in w.origin


def test_water_critical_heat_flux_on_the_circuit_takes_the_coolants_lowest():
    """A body that starts colder than the circuit draws heat from the coolant and takes it
    below the circuit's initial and ambient temperatures (body at 5 °C, circuit at 25 °C,
    10 W, C = 5 J/K, G = 0.05 W/K: the coolant at 24.60 °C after the start), so the CHF
    bound's coolant temperature, the lowest the coolant can be, is the body's 5 °C (it was
    min(initial, ambient) = 25 °C, above the coolant the run computes: not conservative)."""
    import numpy as np
    from anodesim import simulation
    circuit = {"heat_capacity_J_per_K": 5.0, "cooler_conductance_W_per_K": 0.05,
               "ambient_C": 25.0, "initial_C": 25.0}
    case, lim = _limits(coolant_circuit=circuit, initial={"temperature_C": 5.0},
                        boundaries={"cooled_end": {"coolant": "water", "h_W_m2K": 1e4,
                                                   "temperature_C": None,
                                                   "coolant_circuit": True}},
                        limits={"coolant_side_C": 150.0},
                        loading={"kind": "continuous", "duration_s": 2.0})
    T_c = lim["coolant_side"].value - limits.WATER_CHF_W_M2 / 1e4
    assert T_c == pytest.approx(5.0, abs=1e-9)
    coolant = simulation.run(case, progress=False).column("T_coolant_C")
    assert np.nanmin(coolant) < 25.0 - 0.1  # the circuit's coolant does go below 25 °C
    assert np.nanmin(coolant) >= T_c


def test_fixed_temperature_face_has_no_coolant_default():
    """A rim held at a fixed temperature is the case's own coolant model: no wall default."""
    case = anodesim.from_dict(transmission())
    names = [x.name for x in limits.limits_for(case, {"target": get("W"),
                                                      "window": get("diamond")})]
    assert "coolant_side" not in names and "erosion" in names


@pytest.mark.parametrize("change,message", [
    ({"boundaries": {"cooled_end": {"coolant": "glycol"}}},
     "boundaries.cooled_end.coolant = 'glycol': expected one of \"oil\", \"water\", \"air\""),
    ({"limits": {"spot": "melting"}}, "limits.spot = 'melting': expected one of"),
    ({"limits": {"erosion_um": -1.0}}, "limits.erosion_um = -1"),
    ({"limits": {"life_h": 0.0}}, "limits.life_h = 0"),
    ({"limits": {"recrystallisation_fraction": 0.0}}, "limits.recrystallisation_fraction = 0"),
    ({"limits": {"recrystallisation_fraction": 1.0}, "materials": {"target": "Mo"}},
     "limits.recrystallisation_fraction = 1: the recrystallisation kinetics are those of W"),
    ({"limits": {"fatigue": "yes"}}, "limits.fatigue = 'yes': expected true or false"),
    ({"limits": {"fatigue": True}, "materials": {"target": "Mo"}},
     "limits.fatigue = true: the crack-initiation estimate needs the target's tensile data"),
])
def test_bad_life_and_coolant_input(change, message):
    with pytest.raises(CaseError) as e:
        anodesim.from_dict(reflection(**change))
    assert message in str(e.value) and "\n" not in str(e.value)



def test_diamond_default_has_a_margin():
    """W on diamond: the interface and window default to 1100 °C, 200 K below the 1300 °C
    graphitisation onset (physics.md §1.5: ≤ 1000-1200 °C in vacuum)."""
    case = anodesim.from_dict(transmission())
    lim = {x.name: x for x in limits.limits_for(case, {"target": get("W"),
                                                       "window": get("diamond")})}
    assert lim["interface"].value == pytest.approx(1100.0, abs=1e-9)
    assert lim["heat_sink"].value == pytest.approx(1100.0, abs=1e-9)
    assert "margin" in lim["interface"].origin


def test_each_joint_limit_is_labelled_by_its_joint():
    """A housed rod has two joints; their interface limits are shown to the user as
    'interface target_heat_sink' and 'interface heat_sink_housing' (every label unique),
    the other limits by their name."""
    from pathlib import Path

    case = anodesim.load(Path(__file__).parents[1] / "studies/warmup_drift/tube.toml")
    mats = {"target": get("W"), "heat_sink": get("Cu"), "housing": get("SS304")}
    labels = [lim.label for lim in limits.limits_for(case, mats)]
    assert {"interface target_heat_sink", "interface heat_sink_housing"} <= set(labels)
    assert len(labels) == len(set(labels)) and "erosion" in labels


def test_time_of_a_maximum_is_the_first_time_it_is_reached():
    """A maximum reached again and again (a pulse train in its periodic state) is dated at
    its first occurrence, not at a repetition that round-off made larger by 1e-13 (np.argmax
    gave index 2 below, and on the shipped transmission example 0.055 s on one CPU and
    0.025 s on another); a real rise beyond 1e-9 moves it; NaN is skipped."""
    T = [20.0, 500.0, 500.0 * (1 + 1e-13), 300.0, 500.0 * (1 - 1e-12)]
    assert int(np.argmax(T)) == 2
    assert limits.first_max_index(T) == 1
    assert limits.first_max_index([20.0, 500.0, 500.0 * (1 + 1e-8), 300.0]) == 2
    assert limits.first_max_index([np.nan, 5.0, 7.0, 7.0]) == 2
    # an infinite maximum (a yield ratio beyond its table) at its first occurrence; no
    # values or only NaN: 0 (np.argmax's answers), never an IndexError
    assert limits.first_max_index(np.abs([1.0, np.inf, 2.0, np.inf])) == 1
    assert limits.first_max_index([np.nan, np.nan]) == 0
    assert limits.first_max_index([]) == 0
    lim = limits.Limit("heat_sink", "T_peak_C", 2500.0, "C", "test", 20.0)
    (c,) = limits.check([lim], np.arange(5.0), {"T_peak_C": T})
    assert c.time_s == 1.0 and c.worst == max(T)


def test_running_maxima_keep_the_first_time_a_maximum_is_reached():
    """The monitors' running maxima (the stress at the save times; the drift extremes
    between them) follow first_max_index: a value equal to the best to round-off (1e-13)
    does not take its place later, but does when it was reached earlier (the full solves
    at the drift extremes come after the run's later save times); a rise beyond 1e-9 takes
    it; the empty start (0, None) is taken by any positive value."""
    from anodesim.monitors import _reaches_first

    assert _reaches_first(5.0, 0.1, 0.0, None)
    assert not _reaches_first(500.0 * (1 + 1e-13), 0.5, 500.0, 0.2)
    assert _reaches_first(500.0 * (1 - 1e-13), 0.1, 500.0, 0.2)
    assert _reaches_first(500.0 * (1 + 1e-8), 0.5, 500.0, 0.2)
    assert not _reaches_first(500.0 * (1 - 1e-8), 0.1, 500.0, 0.2)


HOUSING = {"inner_radius_mm": 2.0, "outer_radius_mm": 4.0, "length_mm": 5.0}


@pytest.mark.parametrize("housing, joint_C, why", [
    ("Al6061", 120.0, "Al6061 damage: over-ageing"),  # the housing's own, below Cu's 200 °C
    ("SS304", 200.0, "Cu damage: softening"),  # SS304's 425 °C: the Cu rod's side binds
])
def test_the_housing_joint_defaults_to_the_lower_of_its_own_two_materials(housing, joint_C,
                                                                           why):
    """Each interface's default limit is the lower of its two sides' limits (README: "the
    lower limit of the two materials"). The heat_sink_housing joint took the insert's two
    (W, Cu: 200 °C), so an Al6061 housing (over-aged above 150 °C) was let to 200 °C at its
    joint, while the case reader held interface_C below the housing's melting point, as a
    limit that watches it. Now the housing's own (120 °C since 2026-12-05, 150 °C before), and
    `check`'s units-slip warning compares with it;
    with SS304 (425 °C) nothing changes."""
    from anodesim.cli.check import units_slips
    from anodesim.resolve import region_materials

    case = anodesim.from_dict(reflection(geometry={"housing": HOUSING},
                                         materials={"housing": housing}))
    lims = {x.label: x for x in limits.limits_for(case, region_materials(case))}
    assert lims["interface target_heat_sink"].value == pytest.approx(200.0, abs=1e-9)
    assert lims["interface heat_sink_housing"].value == pytest.approx(joint_C, abs=1e-9)
    assert lims["interface heat_sink_housing"].origin.startswith(why)
    assert lims["heat_sink"].value == pytest.approx(200.0, abs=1e-9)  # the rod's, Cu
    slip = anodesim.from_dict(reflection(geometry={"housing": HOUSING},
                                         materials={"housing": housing},
                                         limits={"interface_C": 473.15}))
    (warning,) = units_slips(slip, region_materials(slip))
    assert f"above the {why.split()[0]} default {joint_C:g} °C" in warning


def test_temperatures_png_draws_each_joint_limit_where_the_joints_differ():
    """temperatures.png's limit lines (results.temperature_limit_lines, run_folder's call)
    were keyed by the limit's name: with an Al6061 housing the two interface limits (the
    insert's joint 200 °C, the housing's 150 °C) shared the key "interface", so the figure
    drew one of them (150 °C, as if the W/Cu joint's limit) and left the other off. Each
    joint is now drawn by its label where they differ; where they agree (SS304) one line,
    named "interface" as before. Exact values (the limits' own)."""
    from anodesim.resolve import region_materials
    from anodesim.results import temperature_limit_lines

    def lines(housing):
        case = anodesim.from_dict(reflection(geometry={"housing": HOUSING},
                                             materials={"housing": housing}))
        lims = limits.limits_for(case, region_materials(case))
        drawn = temperature_limit_lines([limits.LimitCheck(x, 0.0, 0.0) for x in lims])
        # every temperature limit in force is drawn (equal ones share a line)
        assert set(drawn.values()) == {x.value for x in lims if x.unit == "C"}
        return drawn

    al = lines("Al6061")
    assert al["interface target_heat_sink"] == pytest.approx(200.0, abs=1e-9)
    assert al["interface heat_sink_housing"] == pytest.approx(120.0, abs=1e-9)
    assert al["heat_sink"] == pytest.approx(200.0, abs=1e-9)
    assert "interface" not in al
    ss = lines("SS304")
    assert ss["interface"] == pytest.approx(200.0, abs=1e-9)
    assert not any(k.startswith("interface ") for k in ss)


def test_the_broken_limit_line_names_the_joint():
    """`run`'s one line of broken limits said "interface reached 160 °C (limit 150 °C)":
    with the housing's joint held to 150 °C and the insert's to 200 °C, which joint it was
    is the question. It names the joint, as the limits table does (Limit.label)."""
    from anodesim.cli.run import broken_line
    from anodesim.resolve import region_materials

    case = anodesim.from_dict(reflection(geometry={"housing": HOUSING},
                                         materials={"housing": "Al6061"}))
    joint = next(x for x in limits.limits_for(case, region_materials(case))
                 if x.column == "T_max_heat_sink_housing_C")
    line = broken_line([limits.LimitCheck(joint, 160.0, 12.5)])
    assert line == ("anodesim: limit broken: interface heat_sink_housing reached 160 °C at "
                    "t = 12.5 s (limit 120 °C)")


def _watched(geometry, boundaries=None):
    from anodesim.case import Boundary, limit_watches

    faces = {} if boundaries is None else {f: Boundary(t) for f, t in boundaries.items()}
    return {k: limit_watches(k, geometry, faces)
            for k in ("spot_C", "heat_sink_C", "region_C", "interface_C", "coolant_side_C")}


def test_what_each_temperature_limit_watches_is_one_rule():
    """case.limit_watches, the rule the case reader (melting points), `check` (units
    slips) and the limits in force share: the columns each [limits] temperature watches and
    the regions it is held to, over the corners (one region, two, a housing, a user mesh's
    regions, no cooled face); and limits_for's heat-sink and interface columns are those."""
    from anodesim.case import Geometry
    from anodesim.resolve import region_materials

    one = anodesim.from_dict(block()).geometry
    assert _watched(one, {"far_field": "fixed"}) == {
        "spot_C": {"T_peak_C": ("target",)}, "heat_sink_C": {}, "region_C": {},
        "interface_C": {}, "coolant_side_C": {"T_max_coolant_side_C": ("target",)}}
    housed = anodesim.from_dict(reflection(geometry={"housing": HOUSING},
                                           materials={"housing": "SS304"}))
    assert _watched(housed.geometry, {"cooled_end": "radiation"}) == {
        "spot_C": {"T_peak_C": ("target",)},
        "heat_sink_C": {"T_max_heat_sink_C": ("heat_sink",)},
        "region_C": {"T_max_housing_C": ("housing",)},
        "interface_C": {"T_max_target_heat_sink_C": ("target", "heat_sink"),
                        "T_max_heat_sink_housing_C": ("heat_sink", "housing")},
        "coolant_side_C": {}}  # radiation does not count as a cooled face
    film = anodesim.from_dict(transmission()).geometry
    assert _watched(film, {"rim": "convection"})["interface_C"] == {
        "T_max_target_window_C": ("target", "window")}
    # a user mesh: regions as the reader orders them (target, heat_sink, then the others);
    # no named interfaces (perfect contact), the second region is the heat sink
    user = Geometry("user_mesh", {}, mesh_groups={"target": 3, "heat_sink": 3, "braze": 3,
                                                  "beam_face": 2, "cooled": 2})
    assert _watched(user, {"cooled": "convection"}) == {
        "spot_C": {"T_peak_C": ("target",)},
        "heat_sink_C": {"T_max_heat_sink_C": ("heat_sink",)},
        "region_C": {"T_max_braze_C": ("braze",)}, "interface_C": {},
        "coolant_side_C": {"T_max_coolant_side_C": ("target", "heat_sink", "braze")}}
    for case in (housed, anodesim.from_dict(reflection()),
                 anodesim.from_dict(transmission())):
        got = {(x.name, x.column) for x in limits.limits_for(case, region_materials(case))
               if x.name in ("heat_sink", "region", "interface")}
        want = {(k[:-2], col) for k, cols in _watched(case.geometry).items()
                if k in ("heat_sink_C", "region_C", "interface_C") for col in cols}
        assert got == want, case.title

