"""User materials ([materials.define.<name>] in the case, or a user TOML library file named
by materials.library): a user copy of the library's Cu, with its tables given in °C, runs to
the library result to round-off; bad tables are one error line each, exit status 2."""

import copy

import pytest
from cases import merge, reflection
from test_case import assert_run_rejected, write_toml

import anodesim
from anodesim import materials, simulation
from anodesim.cli import main


def _copy_of(key: str, celsius: bool = True) -> dict:
    """The library entry of ``key`` as a user material: tables in °C (T_C) or K (T_K)."""
    m = materials.get(key)
    out = {"name": f"user copy of {m.name}", "source": f"copy of the library's {key} entry",
           "melting_C" if celsius else "melting_K":
               m.melting_K - 273.15 if celsius else m.melting_K,
           "damage_C": m.damage_K - 273.15, "electron_data": key}
    for prop, tkey in materials.PROPERTY_KEYS.items():
        t = m.tables[prop]
        T = (t.T_K - 273.15) if celsius else t.T_K
        out[tkey] = {"T_C" if celsius else "T_K": T.tolist(), "value": t.values.tolist()}
    if m.yield_strength is not None:
        t = m.yield_strength
        out["sigma_y_Pa"] = {"T_K": t.T_K.tolist(), "value": t.values.tolist(),
                             "source": t.source}
    return out


def _summary(data: dict) -> dict:
    return simulation.run(anodesim.from_dict(data)).summary_dict()["results"]["final"]


CASE = reflection(loading={"kind": "steady", "duration_s": None})


def test_user_copy_of_cu_gives_the_library_result(tmp_path):
    """Cu redefined in the case (°C tables) and in a user library file (K tables): the
    steady peak and heat-sink temperatures equal the library Cu run's to 1e-12 (the same
    tables after the °C → K conversion, to round-off)."""
    want = _summary(CASE)
    defined = merge(CASE, {"materials": {"heat_sink": "MyCu",
                                         "define": {"MyCu": _copy_of("Cu")}}})
    got = _summary(defined)
    lib = tmp_path / "my_materials.toml"
    write_toml(lib, {"MyCu2": _copy_of("Cu", celsius=False)})
    from_file = merge(CASE, {"materials": {"heat_sink": "MyCu2", "library": str(lib)}})
    got2 = _summary(from_file)
    for key in ("T_peak_C", "T_max_heat_sink_C", "stored_heat_J"):
        assert got[key] == pytest.approx(want[key], rel=1e-12), key
        assert got2[key] == pytest.approx(want[key], rel=1e-12), key
    case = anodesim.from_dict(defined)
    m = materials.get("MyCu", case.materials.user)
    assert m.k(400.0) == pytest.approx(materials.get("Cu").k(400.0), rel=1e-12)
    assert case.to_dict()["materials"]["user"]["MyCu"]["source"] == "copy of the library's Cu entry"


def _bad(**changes):
    mat = copy.deepcopy(_copy_of("Cu"))
    for k, v in changes.items():
        if v is None:
            mat.pop(k)
        elif isinstance(v, dict) and isinstance(mat.get(k), dict):
            mat[k].update(v)
        else:
            mat[k] = v
    return merge(CASE, {"materials": {"heat_sink": "MyCu", "define": {"MyCu": mat}}})


def _electrons(**changes) -> dict:
    """Cu's electron data given as numbers (not electron_data = "Cu"), with changes."""
    m = materials.get("Cu")
    given = {k: getattr(m, k) for k in materials.ELECTRON_KEYS}
    return {"electron_data": None, **given, **changes}


BAD = [
    ("no source", _bad(source=None), "materials.define.MyCu.source: missing"),
    ("temperatures not increasing", _bad(k_W_mK={"T_C": [20.0, 10.0, 300.0],
                                                 "value": [390.0, 380.0, 370.0]}),
     "materials.define.MyCu.k_W_mK.T_C = [20.0, 10.0, 300.0]: expected strictly increasing "
     "temperatures above 0 K"),
    ("negative conductivity", _bad(k_W_mK={"T_C": [0.0, 300.0], "value": [390.0, -1.0]}),
     "materials.define.MyCu.k_W_mK.value = [390.0, -1.0]: expected positive values"),
    ("range not covered", _bad(cp_J_kgK={"T_C": [20.0, 100.0], "value": [385.0, 390.0]}),
     "materials.define.MyCu.cp_J_kgK.T_C = [20.0, 100.0]: expected a table covering 20 °C to "
     "the damage temperature 200 °C"),
    ("lengths differ", _bad(E_Pa={"T_C": [0.0, 300.0], "value": [1.2e11]}),
     "materials.define.MyCu.E_Pa.value = [120000000000.0]: expected a list as long as"),
    ("Poisson ratio", _bad(nu_1=0.6), "materials.define.MyCu.nu_1.value = [0.6, 0.6]: "
     "expected Poisson ratios in (0, 0.5)"),
    ("no melting point", _bad(melting_C=None), "materials.define.MyCu.melting_C: give "
     "exactly one of melting_C (°C) or melting_K (K)"),
    ("damage above melting", _bad(damage_C=2000.0), "materials.define.MyCu.damage_C = "
     "2000.0: expected at most melting_K"),
    ("unknown electron data", _bad(electron_data="Cuu"), "materials.define.MyCu."
     "electron_data = 'Cuu': expected a library material whose electron data"),
    ("no electron data", _bad(electron_data=None), "materials.define.MyCu.atomic_number: "
     "missing"),
    ("misspelt key", _bad(k_W_mk={"T_C": [0.0, 300.0], "value": [1.0, 1.0]}),
     "materials.define.MyCu.k_W_mk"),
    ("a library name", merge(CASE, {"materials": {"define": {"Cu": _copy_of("Cu")}}}),
     "materials.define.Cu: a library material has this name"),
    # a data sheet's units (they ran: cp in J/g/K made the heat sink 1000× too light)
    ("cp in J/g/K", _bad(cp_J_kgK={"T_C": [0.0, 300.0], "value": [0.385, 0.41]}),
     "materials.define.MyCu.cp_J_kgK.value = [0.385, 0.41]: expected values at 20 °C in "
     "J/kg/K from 100 to 20000, where a tube's materials lie (given in J/g/K or J/mol/K?), "
     "not 0.386667"),
    ("density in g/cm3", _bad(rho_kg_m3=8.96), "materials.define.MyCu.rho_kg_m3.value = "
     "[8.96, 8.96]: expected values at 20 °C in kg/m³"),
    ("E in GPa", _bad(E_Pa=128.0), "expected values at 20 °C in Pa from 500000 to 5e+12, "
     "where a tube's materials lie (given in GPa or MPa?), not 128"),
    ("alpha in 1e-6/K", _bad(alpha_1_K={"T_C": [0.0, 300.0], "value": [16.5, 18.0]}),
     "given in 1e-6/K (ppm/K)?"),
    # a table pasted from a CSV with its numbers quoted: numpy read "20" °C as 20 K (the
    # °C -> K conversion skipped strings), a table shifted by 273.15 K that passed
    ("quoted temperatures", _bad(k_W_mK={"T_C": ["-20", "300"], "value": [390.0, 380.0]}),
     "materials.define.MyCu.k_W_mK.T_C = ['-20', '300']: expected a list of temperatures "
     "(T_C in °C or T_K in K): numbers, not quoted strings or tables"),
    ("quoted values", _bad(k_W_mK={"T_C": [0.0, 300.0], "value": ["390", "380"]}),
     "materials.define.MyCu.k_W_mK.value = ['390', '380']: expected a list of values (SI): "
     "numbers"),
    ("one point only", _bad(E_Pa={"T_C": [20.0], "value": [1.28e11]}),
     "materials.define.MyCu.E_Pa.value = [128000000000.0]: expected a list as long as the "
     "temperature list, at least 2 points; a value known at one temperature only: give "
     "E_Pa = 128000000000.0, a constant held at every temperature"),
    ("value with its unit", _bad(E_Pa="128 GPa"), "materials.define.MyCu.E_Pa = '128 GPa': "
     "expected a table {T_C or T_K, value, source} or a number"),
    ("yield in MPa", _bad(sigma_y_Pa={"T_K": [293.15, 573.15], "value": [250.0, 200.0]}),
     "materials.define.MyCu.sigma_y_Pa.value = [250.0, 200.0]: expected values at 20 °C "
     "in Pa"),
    # electron data given with the material (they set the Kanaya-Okayama range, hence the
    # depth the beam's heat is laid at; each of these ran)
    ("atomic mass in kg/mol", _bad(**_electrons(atomic_mass_g_mol=0.06355)),
     "materials.define.MyCu.atomic_mass_g_mol = 0.06355: expected an atomic mass in g/mol "
     "from 1 to 2.7 times the atomic number (29: 29 to 78.3), as every element's"),
    ("Z and A swapped", _bad(**_electrons(atomic_number=63.55, atomic_mass_g_mol=29.0)),
     "materials.define.MyCu.atomic_mass_g_mol = 29.0: expected an atomic mass in g/mol"),
    ("atomic number", _bad(**_electrons(atomic_number=290.0)),
     "materials.define.MyCu.atomic_number = 290.0: expected an atomic number (a compound's "
     "or alloy's mean) from 1 to 100"),
    ("density in kg/m3", _bad(**_electrons(density_g_cm3=8960.0)),
     "materials.define.MyCu.density_g_cm3 = 8960.0: expected the material's density in "
     "g/cm³, within 5% of rho_kg_m3 at 20 °C (8.94 g/cm³)"),
    # a Z below 1 was reported as atomic_mass_g_mol's ("from 0.5 to 1.35 times ...")
    ("atomic number below 1", _bad(**_electrons(atomic_number=0.29)),
     "materials.define.MyCu.atomic_number = 0.29: expected an atomic number (a compound's "
     "or alloy's mean) from 1 to 100"),
]


@pytest.mark.parametrize("what,E,rho,k", [("silicone potting", 5e6, 1100.0, 0.2),
                                          ("aerogel insulation", 1e6, 120.0, 0.015),
                                          ("polymer foam", 2e6, 30.0, 0.03)])
def test_soft_and_light_real_materials_pass_the_unit_check(what, E, rho, k):
    """The unit check at 20 °C refuses a data sheet's units, not the soft or light
    materials a tube's housing holds (the first bounds, E 0.1 GPa, ρ 100 kg/m³ and
    k 0.01 W/m/K, refused a reviewer's silicone, aerogel and foam)."""
    case = anodesim.from_dict(_bad(E_Pa=E, rho_kg_m3=rho, k_W_mK=k))  # raises on a refusal
    from anodesim.resolve import region_materials

    assert float(region_materials(case)["heat_sink"].E(293.15)) == pytest.approx(E)


def test_electron_data_given_as_numbers_pass_and_set_the_range():
    """Cu's electron data given as numbers pass the checks and give the library's
    Kanaya-Okayama range (the checks refuse the slips of BAD, not real data)."""
    from anodesim.beam import kanaya_okayama_range_m

    case = anodesim.from_dict(_bad(**_electrons()))
    from anodesim.resolve import region_materials

    m, cu = region_materials(case)["heat_sink"], materials.get("Cu")
    R = [kanaya_okayama_range_m(1e5, x.atomic_mass_g_mol, x.atomic_number, x.density_g_cm3)
         for x in (m, cu)]
    assert R[0] == R[1]


# Real anode, window and housing materials' mean Z and A (g/mol) from IUPAC 2021 standard
# atomic weights, by atom fraction (a formula unit's Z and A over its atoms) or by mass
# fraction (the Kanaya-Okayama convention for compounds): each mean's A/Z lies between its
# elements' (H 1.008 to U-238 2.59), inside materials.A_OVER_Z whichever mean is taken.
REAL_ELECTRON_DATA = [
    ("W-25Re by mass", 0.75 * 74 + 0.25 * 75, 0.75 * 183.84 + 0.25 * 186.207, 19.7),
    ("CuCrZr", 29.0, 63.5, 8.9),
    ("AlN by atom", (13 + 7) / 2, (26.982 + 14.007) / 2, 3.26),
    ("SiC by atom", (14 + 6) / 2, (28.085 + 12.011) / 2, 3.21),
    ("h-BN by atom", (5 + 7) / 2, (10.81 + 14.007) / 2, 2.1),
    ("diamond", 6.0, 12.011, 3.52),
    ("Be", 4.0, 9.0122, 1.85),
    ("polyethylene CH2 by atom", 8 / 3, 14.027 / 3, 0.95),
    ("polyethylene CH2 by mass", 0.8563 * 6 + 0.1437 * 1, 0.8563 * 12.011 + 0.1437 * 1.008,
     0.95),
    ("LiH by atom", (3 + 1) / 2, (6.94 + 1.008) / 2, 0.78),
    ("U", 92.0, 238.03, 19.05),
]


@pytest.mark.parametrize("what,Z,A,density", REAL_ELECTRON_DATA,
                         ids=[r[0] for r in REAL_ELECTRON_DATA])
def test_real_materials_electron_data_pass_their_bounds(what, Z, A, density):
    """The electron-data bounds refuse no real material: alloys, ceramics, a window's Be,
    an H-rich polymer and LiH (A/Z 1.75 to 1.99, the nearest to 1.0 a solid comes), U."""
    rho = {"T_K": [200.0, 400.0], "value": [density * 1e3] * 2, "source": "test"}
    materials._check_electron_data({"atomic_number": Z, "atomic_mass_g_mol": A,
                                    "density_g_cm3": density, "rho_kg_m3": rho})


@pytest.mark.parametrize("what,data,message", BAD, ids=[b[0] for b in BAD])
def test_bad_user_material_is_one_line_exit_2(tmp_path, capsys, what, data, message):
    assert_run_rejected(tmp_path, capsys, data, message)


def test_every_library_material_passes_the_user_material_checks():
    """The library is held to the same checks (materials.validate) as user materials."""
    import tomllib
    from importlib import resources

    data = tomllib.loads(resources.files("anodesim").joinpath("data/materials.toml")
                         .read_text())
    for key, entry in data.items():
        materials.validate(entry)  # raises MaterialDataError on the first bad key


def test_missing_library_file_is_one_line(tmp_path, capsys):
    data = merge(CASE, {"materials": {"library": "nowhere.toml"}})
    assert_run_rejected(tmp_path, capsys, data, "materials.library = ")
    assert main(["check", str(write_toml(tmp_path / "c.toml", data))]) == 2


def test_library_file_is_read_as_a_case_file_is(tmp_path, capsys):
    """A library file saved with a byte-order mark (Windows editors) reads as a case file
    does (it was 'Invalid statement (at line 1, column 1)'); an integer beyond 64 bits in it
    is one line naming its key (it was an internal error, OverflowError)."""
    lib = write_toml(tmp_path / "lib.toml", {"MyCu": _copy_of("Cu")})
    lib.write_bytes(b"\xef\xbb\xbf" + lib.read_bytes())
    data = merge(CASE, {"materials": {"heat_sink": "MyCu", "library": str(lib)}})
    assert anodesim.from_dict(data).materials.user["MyCu"]["electron_data"] == "Cu"
    write_toml(lib, {"MyCu": {**_copy_of("Cu"), "nu_1": 10 ** 30}})
    assert_run_rejected(tmp_path, capsys, data, "MyCu.nu_1 = (an integer of 31 digits): "
                        "expected a TOML integer of 64 bits")


def _from_20_C(key: str) -> dict:
    """The library entry of ``key`` as a user material whose tables start at 20 °C, as the
    checks allow (the value there interpolated from the library's table)."""
    import numpy as np

    out = _copy_of(key)
    for tkey in materials.PROPERTY_KEYS.values():
        T, v = np.array(out[tkey]["T_C"]), np.array(out[tkey]["value"])
        keep = T > 20.0
        out[tkey] = {"T_C": [20.0, *T[keep]], "value": [float(np.interp(20.0, T, v)),
                                                         *v[keep]]}
    return out


def test_tables_from_20_C_run_a_transient_with_its_undershoot():
    """User tables starting at 20 °C, the start of a run, pass the checks; a transient run
    of the block anode (meshes/) dips below 20 °C ahead of the heating front (the Galerkin
    heat equation's undershoot: 0.46 K here, 4.4 K in its first second), and stopped there:
    "MyW.k: temperature 292.689 K (19.5389 °C) is outside the tabulated range" (and the
    elastic tables likewise). The exact solution never goes below the lowest temperature
    the case gives (maximum principle), so the tables are checked from there: the run goes
    through and gives the library run's temperatures and drift (the tables agree above
    20 °C; below, the user tables extend their end slopes over the undershoot: measured
    rel 1e-6)."""
    from test_user_mesh import _example

    run = {"loading": {"kind": "continuous", "duration_s": 0.2},
           "output": {"save_times_s": [0.2]}}
    want = _summary(_example(**run, materials={"properties": "temperature_dependent"}))
    user = _example(**run, materials={"target": "MyW", "heat_sink": "MyCu",
                                      "properties": "temperature_dependent",
                                      "define": {"MyW": _from_20_C("W"),
                                                 "MyCu": _from_20_C("Cu")}})
    case = anodesim.from_dict(user)
    assert materials.get("MyW", case.materials.user).k.range_K[0] == pytest.approx(293.15)
    got = _summary(user)
    for key in ("T_peak_C", "T_max_heat_sink_C", "stored_heat_J", "drift_across_view_um"):
        assert got[key] == pytest.approx(want[key], rel=1e-5), key


def _ending_at(key: str, top_C: float) -> dict:
    """The library entry of ``key`` as a user material whose tables (and damage temperature)
    stop at the first library point above top_C; yield table left out."""
    out = _copy_of(key)
    out["damage_C"] = top_C
    out.pop("sigma_y_Pa", None)
    for tkey in materials.PROPERTY_KEYS.values():
        T, v = out[tkey]["T_C"], out[tkey]["value"]
        n = next(i for i, x in enumerate(T) if x > top_C) + 1
        out[tkey] = {"T_C": T[:n], "value": v[:n]}
    return out


def test_a_run_leaving_a_user_table_names_the_region_and_the_case_key(tmp_path, capsys):
    """A heat sink whose user tables end at 127 °C, driven to 258 °C: the run stops with one
    line naming the region, the user material and the table's key as the case file spells
    it (it said "MyCu.k: temperature ...", a name the case file never uses), and what would
    mend it, with the run-failure exit status 1."""
    data = merge(CASE, {"beam": {"power_W": 30.0},
                        "materials": {"heat_sink": "MyCu",
                                      "define": {"MyCu": _ending_at("Cu", 60.0)}}})
    path = write_toml(tmp_path / "c.toml", data)
    assert main(["run", str(path), "-o", str(tmp_path / "out")]) == 1
    err = [x for x in capsys.readouterr().err.splitlines() if "run failed" in x]
    assert len(err) == 1, err
    assert "heat_sink (user material MyCu, table k_W_mK): temperature" in err[0], err
    assert "outside the tabulated range 250-400 K" in err[0]
    assert "expected a table reaching the run's temperatures, or a lower beam power" in err[0]
    # a steady run that fails writes no results: the line does not claim partial ones
    assert err[0].endswith(f"(no results: it failed before its first result; "
                           f"{tmp_path / 'out'} keeps the case and the mesh)"), err
    assert not (tmp_path / "out" / "summary.json").exists()


def test_the_heat_sink_limit_says_what_a_user_damage_temperature_guards():
    """A user material's damage temperature sets the heat-sink and interface limits; their
    origin read 'MyCu damage: ' with nothing after it. It now quotes damage_mechanism, or
    says the temperature came with the user material and from which source."""
    from anodesim.limits import limits_for
    from anodesim.resolve import region_materials

    def origin(mat: dict) -> str:
        case = anodesim.from_dict(merge(CASE, {"materials": {"heat_sink": "MyCu",
                                                             "define": {"MyCu": mat}}}))
        lim = limits_for(case, region_materials(case))
        return next(x.origin for x in lim if x.name == "heat_sink")

    assert origin(_copy_of("Cu")) == ("MyCu damage: the damage temperature given with the "
                                      "user material (copy of the library's Cu entry)")
    said = {**_copy_of("Cu"), "damage_mechanism": "softening of cold-worked Cu"}
    assert origin(said) == "MyCu damage: softening of cold-worked Cu"


def test_a_user_w_target_evaporates_as_w():
    """A supplier's W (a user copy of the library's W, electron_data = "W") as the target
    had no erosion limit (vapour-pressure data were looked up by the library name only):
    its spot was held at W's melting point less 200 K, 3222 °C, where the library's W is
    held to 2058 °C (1 µm over 10 000 h), so its ratings came out higher. It now evaporates
    as W: the same erosion limit (equivalent spot temperature and budget to 1e-12) and the
    same run's erosion rate, and no melting-less-200-K spot limit."""
    from anodesim import limits
    from anodesim.resolve import region_materials

    case = anodesim.from_dict(reflection())
    user = anodesim.from_dict(merge(reflection(), {"materials": {
        "target": "MyW", "define": {"MyW": _copy_of("W")}}}))

    def spot_limits(c):
        return {lim.name: lim for lim in limits.limits_for(c, region_materials(c))}

    lib, mine = spot_limits(case), spot_limits(user)
    assert "erosion" in mine and "spot" not in mine
    assert mine["erosion"].temperature_C == pytest.approx(lib["erosion"].temperature_C,
                                                          rel=1e-12)
    assert mine["erosion"].temperature_C == pytest.approx(2058.0, abs=1.0)
    assert mine["erosion"].value == lib["erosion"].value
    assert "evaporation of W (the vapour pressure of MyW's electron_data)" in \
        mine["erosion"].origin
    life_lib = simulation.run(case).summary_dict()["results"]["life"]
    life_mine = simulation.run(user).summary_dict()["results"]["life"]
    assert life_mine["erosion_rate_nm_h"] == pytest.approx(life_lib["erosion_rate_nm_h"],
                                                           rel=1e-9)


@pytest.mark.parametrize("prop", ["k", "cp", "rho", "E", "alpha"])
def test_an_override_and_a_table_are_held_to_one_plausible_range(prop):
    """A constant override ([materials.override.<region>]) and a user material's table
    (its value at 20 °C) are held to the range of PLAUSIBLE_AT_20_C by one test
    (materials.implausible): both take the bounds and both refuse a value a part in 1e9
    beyond either, each saying the same range and slip."""
    from anodesim.case import CaseError
    from anodesim.case.tables import OVERRIDE_KEYS

    least, most = materials.PLAUSIBLE_AT_20_C[prop][:2]
    key = next(k for k, p in OVERRIDE_KEYS.items() if p == prop)
    for value in (least, most, least - 1e-9 * abs(least), most + 1e-9 * abs(most)):
        expected = materials.implausible(prop, value)
        assert (expected is None) == (least <= value <= most)
        override = merge(CASE, {"materials": {"override": {"heat_sink": {key: value}}}})
        for data in (override, _bad(**{key: value})):
            if expected is None:
                anodesim.from_dict(data)
                continue
            with pytest.raises(CaseError) as e:
                anodesim.from_dict(data)
            assert expected in str(e.value), str(e.value)


def test_plausible_ranges_keep_real_extremes_and_refuse_unit_slips():
    """PLAUSIBLE_AT_20_C passes the extremes of real solids (the sources are in its
    comment: aerogel and 12C diamond k, Th and Li cp, foam and Os ρ, an aerogel's 1 MPa and
    diamond E, indium's yield) and refuses, for every library material, its table at
    20 °C in a data sheet's units: cp in J/g/K, ρ in g/cm³, E in GPa and, but for diamond,
    in MPa (W's 410 GPa in MPa, 4.1e5, passed the old 0.1 MPa bound; diamond's 1.1e6 MPa
    reads as an aerogel's E), α in 1e-6/K, k in mW/m/K (k above
    10 W/m/K), a yield strength in MPa, ksi and psi; and cp in J/mol/K of simple compounds
    (Al2O3 79, AlN 30 J/mol/K: NIST-JANAF) and a Ti-6Al-4V yield in psi (880 MPa, 127.6e3
    psi), which the old bounds (cp 50 J/kg/K, yield 0.1 MPa) passed."""
    ok = {"k": (0.013, 3320.0), "cp": (113.0, 3582.0, 4180.0), "rho": (30.0, 22590.0),
          "E": (1e6, 1.22e12), "alpha": (-9e-6, 0.0, 3e-4), "yield_strength": (1.0e6, 5.5e9)}
    for prop, values in ok.items():
        for value in values:
            assert materials.implausible(prop, value) is None, (prop, value)
    slips = []
    for key, mat in materials.library().items():
        at = {p: float(t(293.15)) for p, t in mat.tables.items()}
        slips += [(key, "cp", at["cp"] / 1e3), (key, "rho", at["rho"] / 1e3),
                  (key, "E", at["E"] / 1e9), (key, "alpha", at["alpha"] * 1e6)]
        if key != "diamond":
            slips.append((key, "E", at["E"] / 1e6))
        if at["k"] > 10.0:
            slips.append((key, "k", at["k"] * 1e3))
        if mat.yield_strength is not None:
            y = float(mat.yield_strength(293.15))
            slips += [(key, "yield_strength", y / s) for s in (1e6, 6.894757e6, 6894.757)]
    slips += [("Al2O3", "cp", 79.0), ("AlN", "cp", 30.1), ("Ti6Al4V", "yield_strength",
                                                           880e6 / 6894.757)]
    for key, prop, value in slips:
        assert materials.implausible(prop, value) is not None, (key, prop, value)


def test_check_warns_of_a_borrowed_electron_range_at_another_density(tmp_path, capsys):
    """Borrowed electron data (electron_data = "W") skip the density check (the user chose
    them), so a W-Cu composite of 15.6 g/cm³ had its electron range at W's 19.25 g/cm³
    without a word: the heat laid 19 % shallower than in it. `check` now warns (exit 0,
    valid input); a user copy of W at W's density does not."""
    composite = _copy_of("W")
    composite["rho_kg_m3"] = {"T_C": [-272.15, 3000.0], "value": [15600.0, 15600.0]}

    def warnings(mat) -> list[str]:
        path = write_toml(tmp_path / "case.toml", merge(reflection(), {"materials": {
            "target": "WCu", "define": {"WCu": mat}}}))
        assert main(["check", str(path)]) == 0
        return [w for w in capsys.readouterr().err.splitlines() if "electron_data" in w]

    (line,) = warnings(composite)
    assert line == (
        'anodesim: warning: materials.define.WCu.electron_data = "W": the electron range in '
        "the target is W's at its density 19.25 g/cm³, the material's own is 15.6 g/cm³: "
        "the beam's heat is laid about 19% shallower than in it; give atomic_number, "
        "atomic_mass_g_mol, density_g_cm3 and backscatter_energy_fraction of its own instead "
        "to lay it at its own range"), line
    assert warnings(_copy_of("W")) == []
