"""Limits of cases with more than two regions (a housed rod; a user mesh's braze): each
region after the heat sink held to its own material, each joint named where a limit binds,
and the Kirchhoff transform of the cooled faces taken from the regions that carry them.
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
    """A housing (or a user mesh's braze) was watched only at its joints and cooled faces: heated
    away from its joint, its own hottest node had no limit, and a steady run of an Al6061 housing at
    25 W said every limit holds with the housing's mounting end at ~163 °C, above the 120 °C over
    which its T6 temper over-ages in a tube's life. Every region after the heat sink now has a limit
    "region <name>" on T_max_<name>_C at its own material's default (limit_K, as the heat sink's),
    which heat_sink_C does not set; here it is the one broken while both joints hold. Exact: the
    limit is the material's damage temperature and the check's worst the column's maximum."""
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
    its limit (Al6061: 120 °C; to 1e-6 of the rise), the binding limit "region housing".
    Before, the coolant side bound at 26.8 W, where the housing was at 173 °C."""
    from anodesim import rating
    from anodesim.rating.kirchhoff import transform_for

    case = anodesim.from_dict(heated_housing(10.0))
    engine = rating.build_engine(case)
    P, binding = engine.max_power(engine.response.steady)
    assert binding == "region housing"
    from anodesim.materials import get

    r = anodesim.run(anodesim.from_dict(heated_housing(P)))
    rise = float(np.max(r.series["T_max_housing_C"])) - 30.0  # above the 30 °C coolant
    assert rise == pytest.approx(get("Al6061").damage_K - 273.15 - 30.0, rel=1e-6)
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


def cooled(case) -> tuple[str, ...]:
    """The regions the case's cooled faces bound (case.cooled_regions, its face map)."""
    from anodesim.case import cooled_regions, regions_by_face

    return cooled_regions(case.geometry, case.boundaries, regions_by_face(case.geometry))


def test_the_cooled_faces_transform_is_that_of_the_region_carrying_them():
    """The coolant-side limit's Kirchhoff transform took the last region's k(T), "the heat
    sink, or the housing around it": on a housed rod cooled at the rod's end (cooled_end,
    the heat sink's disc inside the shell) that was the Al6061 housing's, on a user mesh
    ordered target, heat_sink, braze the braze's. It is now that of the regions that carry
    the cooled faces (the lowest head among them): Cu in both. Exact (the tables)."""
    from anodesim.rating.kirchhoff import transform_for
    from anodesim.resolve import region_materials

    housed = anodesim.from_dict(reflection(
        geometry={"housing": {"inner_radius_mm": 2.0, "outer_radius_mm": 4.0,
                              "length_mm": 5.0}}, materials={"housing": "Al6061"}))
    cool = ("coolant_side", "T_max_coolant_side_C")
    assert transform_for(housed).conductivity[cool] is region_materials(housed)["heat_sink"].k
    assert cooled(housed) == ("heat_sink",)
    # the housing's inside cooled as well: both carry cooled faces, the lower head taken,
    # Cu's (its k falls with temperature, Al6061's rises)
    both = anodesim.from_dict(reflection(
        geometry={"housing": {"inner_radius_mm": 2.0, "outer_radius_mm": 4.0,
                              "length_mm": 5.0}}, materials={"housing": "Al6061"},
        boundaries={"housing_inner": {"type": "convection", "h_W_m2K": 5000.0,
                                      "temperature_C": 30.0}}))
    assert cooled(both) == ("heat_sink", "housing")
    assert transform_for(both).conductivity[cool] is region_materials(both)["heat_sink"].k


def test_a_user_meshs_cooled_face_transform_is_not_the_braze_listed_last(tmp_path):
    """The block anode with the half of its Cu block nearer the tile made a `braze` region
    of Ag (listed last): its cooled end, on the heat sink, is transformed with Cu's k(T),
    found from the tetrahedra its triangles bound; the beam face bounds the target alone."""
    from test_user_mesh import with_braze

    from anodesim.case import mesh_import, regions_of
    from anodesim.rating import kirchhoff as kh

    case = anodesim.from_dict(with_braze(tmp_path, materials={
        "braze": "Ag", "properties": "temperature_dependent"}))
    assert regions_of(case.geometry) == ("target", "heat_sink", "braze")
    k = kh.transform_for(case).conductivity[("coolant_side", "T_max_coolant_side_C")]
    assert k.name == "Cu.k"
    faces = mesh_import.face_regions(mesh_import.of_geometry(case.geometry))
    assert faces["beam_face"] == ("target",) and faces["cooled_end"] == ("heat_sink",)
    assert cooled(case) == ("heat_sink",)


def test_a_step_parts_faces_bound_the_solids_gmsh_finds_next_to_them():
    """The STEP example (meshes/step_anode_case.toml): the regions each face bounds, from
    the solids on either side of its CAD faces; its cooled end is the Cu block's."""
    from pathlib import Path

    from anodesim.case.step_file import face_regions

    step = Path(__file__).resolve().parent.parent / "meshes" / "step_anode_case.toml"
    case = anodesim.load(step)
    assert face_regions(case.geometry) == {"beam_face": ("target",),
                                           "cooled_end": ("heat_sink",),
                                           "anode_face": ("heat_sink",)}
    assert cooled(case) == ("heat_sink",)


def test_a_region_limit_is_drawn_and_refused_by_its_name():
    """temperatures.png draws the housing's limit as "region housing" (the name "region"
    alone says no region), and a rating of a case that starts at or above that default,
    which no [limits] key sets, says to change the start (it said "limits.region_C = 425",
    a key that does not exist). Exact values (the limits' own)."""
    from anodesim.case import CaseError
    from anodesim.rating.rate import check_rating_input
    from anodesim.resolve import region_materials
    from anodesim.results import temperature_limit_lines

    def housed(**changes):
        return anodesim.from_dict(reflection(
            geometry={"housing": {"inner_radius_mm": 2.0, "outer_radius_mm": 4.0,
                                  "length_mm": 5.0}}, materials={"housing": "SS304"},
            **changes))

    case = housed()
    lims = limits.limits_for(case, region_materials(case))
    drawn = temperature_limit_lines([limits.LimitCheck(x, 0.0, 0.0) for x in lims])
    assert drawn["region housing"] == pytest.approx(425.0, abs=1e-9)
    assert "region" not in drawn
    hot = housed(initial={"temperature_C": 450.0},
                 limits={"heat_sink_C": 600.0, "interface_C": 600.0},
                 boundaries={"cooled_end": {"temperature_C": 450.0, "coolant": "air"}})
    with pytest.raises(CaseError) as err:
        check_rating_input(hot, region_materials(hot), 1e-9)
    assert str(err.value).startswith("initial.temperature_C = 450: at or above the default "
                                     "region housing limit 425 °C (SS304 damage")


def test_every_built_in_face_names_the_regions_it_bounds():
    """case.model.face_regions covers every face of the built-in geometries (a face left
    out would stop a rating with a KeyError), each bounding regions of its geometry; the
    transmission rim bounds the film too where the film covers the whole window."""
    from cases import transmission

    from anodesim.case import regions_of
    from anodesim.case.model import (FACE_REGIONS, GEOMETRIES, HOUSING_FACES,
                                     USER_GEOMETRIES, face_regions)

    for kind, g in GEOMETRIES.items():
        if kind not in USER_GEOMETRIES:
            assert set(g["normals"]) <= set(FACE_REGIONS), kind
    assert set(HOUSING_FACES) <= set(FACE_REGIONS)
    for case in (anodesim.from_dict(transmission()),
                 anodesim.from_dict(transmission(geometry={"target_radius_mm": 0.5})),
                 anodesim.from_dict(reflection(geometry={"housing": HEATED_HOUSING},
                                               materials={"housing": "SS304"}))):
        faces = face_regions(case.geometry)
        assert all(set(r) <= set(regions_of(case.geometry)) for r in faces.values())
    assert face_regions(anodesim.from_dict(transmission()).geometry)["rim"] == \
        ("target", "window")
    small = anodesim.from_dict(transmission(geometry={"target_radius_mm": 0.5}))
    assert face_regions(small.geometry)["rim"] == ("window",)


def test_runs_limits_table_keeps_its_columns_with_a_housings_joint():
    """`run`'s limits table padded names to 26 characters: "interface heat_sink_housing"
    (27) pushed its line's columns one character right of the others' (a user mesh's
    "region <name>" further). Every line's "limit" column now starts at the same place, and
    a table of short names keeps the 26 (README's quoted run). Exact (string positions)."""
    from anodesim.cli.run import limits_table
    from anodesim.resolve import region_materials

    case = anodesim.from_dict(reflection(geometry={"housing": HEATED_HOUSING},
                                         materials={"housing": "Al6061"}))
    checks = [limits.LimitCheck(x, 40.0, 1.0) for x in
              limits.limits_for(case, region_materials(case))]
    assert "interface heat_sink_housing" in [c.label for c in checks]
    lines = limits_table(checks)[1:]
    assert len({line.index(" limit ") for line in lines}) == 1
    two = anodesim.from_dict(reflection())
    short = limits_table([limits.LimitCheck(x, 40.0, 1.0) for x in
                          limits.limits_for(two, region_materials(two))])[1:]
    assert {line.index(" limit ") for line in short} == {4 + 26}


def test_runs_region_maxima_keep_their_column_with_a_long_region_name():
    """`run` printed "max <region>" padded to 10 characters: a user mesh's
    "heat_sink_housing_braze" (23) pushed its number 14 characters right of the others'.
    The names are padded to the case's longest now, and short names keep the 10 of
    README's quoted run ("  max heat_sink      48.0 °C"). Exact (string positions)."""
    from anodesim.cli.run import region_maxima

    lines = region_maxima({"target": 919.0, "heat_sink": 48.0,
                           "heat_sink_housing_braze": 41.25})
    assert len({line.index(" °C") for line in lines}) == 1
    assert lines[2] == "  max heat_sink_housing_braze     41.2 °C"
    assert region_maxima({"target": 919.0, "heat_sink": 48.0}) == [
        "  max target        919.0 °C", "  max heat_sink      48.0 °C"]


def _box_mesh(n: int):
    """A cube of n³ unit cells, six tetrahedra each: region 1 (target) below the middle
    plane x = n//2, region 2 (heat_sink) above it; face groups: the plane x = 0 (beam_face)
    and the middle plane (joint), each two triangles per cell face."""
    from anodesim.case.mesh_import import ImportedMesh

    g = np.arange((n + 1) ** 3).reshape(n + 1, n + 1, n + 1)
    corners = np.stack([g[:-1, :-1, :-1], g[1:, :-1, :-1], g[1:, 1:, :-1], g[:-1, 1:, :-1],
                        g[:-1, :-1, 1:], g[1:, :-1, 1:], g[1:, 1:, 1:], g[:-1, 1:, 1:]],
                       -1).reshape(-1, 8)
    six = np.array([[0, 1, 3, 7], [0, 1, 5, 7], [0, 4, 5, 7], [1, 2, 3, 7], [1, 2, 6, 7],
                    [1, 5, 6, 7]])  # the cube split along its diagonal 0-7
    tets = corners[:, six].reshape(-1, 4)
    layer = np.repeat(np.arange(n), n * n * 6)

    def plane(i):  # the two triangles of each cell face at x = i (diagonal 0-7's)
        q = np.stack([g[i, :-1, :-1], g[i, 1:, :-1], g[i, 1:, 1:], g[i, :-1, 1:]],
                     -1).reshape(-1, 4)
        return np.concatenate([q[:, [0, 1, 2]], q[:, [0, 2, 3]]])

    beam, joint = plane(0), plane(n // 2)
    return ImportedMesh(
        points=np.stack(np.meshgrid(*[np.arange(n + 1.0)] * 3, indexing="ij"),
                        -1).reshape(-1, 3) * 1e-4,
        tets=tets, cell_tag=np.where(layer < n // 2, 1, 2),
        facets=np.concatenate([beam, joint]),
        facet_tag=np.repeat([3, 4], [len(beam), len(joint)]),
        groups={"target": 1, "heat_sink": 2, "beam_face": 3, "joint": 4},
        dims={"target": 3, "heat_sink": 3, "beam_face": 2, "joint": 2})


def test_a_user_meshs_face_regions_compare_only_the_tetrahedra_at_its_faces(monkeypatch):
    """mesh_import.face_regions matched the four faces of every tetrahedron against the
    named triangles (np.unique over 4 × the tetrahedra's rows): 10 s and a 668 MiB
    peak (tracemalloc) on every rank for 1.3 million tetrahedra, at each Kirchhoff transform
    of a rating (several per rating; measured 2026-12-05: now 0.07 s, 15 MiB). Only the
    tetrahedra with three corners on a named triangle are compared now. Exact: a cube split
    at its middle plane, its outer face bounding one region and the middle plane both; the
    rows compared here are under a fifth of the 4 × 3072 before."""
    from anodesim.case import mesh_import

    um = _box_mesh(8)
    rows = []
    unique = np.unique

    def counted(a, *args, **kw):
        if kw.get("axis") == 0:
            rows.append(len(a))
        return unique(a, *args, **kw)

    monkeypatch.setattr(mesh_import.np, "unique", counted)
    assert mesh_import.face_regions(um) == {"beam_face": ("target",),
                                            "joint": ("target", "heat_sink")}
    assert rows and max(rows) < 0.2 * 4 * len(um.tets)


def test_a_preload_above_the_housings_limit_is_refused_by_its_name():
    """A pre-load the anode cannot hold is refused after one steady FE run at it, naming
    the limit it breaks: that was the limit's bare name, "breaks the region limit" (which
    region?), or "the interface limit" for either joint. It is the label now, "region
    housing", as the rating names a binding limit. The heated housing's continuous rating
    is 22.4 W (its steady run at 24 W has the housing over its limit)."""
    from anodesim.case import CaseError
    from anodesim.rating.rate import rate

    case = anodesim.from_dict(heated_housing(10.0, rating={"preload_W": 24.0,
                                                           "exposure_points": 3}))
    with pytest.raises(CaseError) as err:
        rate(case, None, ("single",), progress=lambda m: None)
    assert "breaks the region housing limit (excess +" in str(err.value)


def test_a_start_above_a_joints_default_names_the_start_not_a_key_never_given():
    """A housed rod (Al6061 shell) started at 160 °C, above its housing joint's default (120 °C; 150
    °C when found): `rate` said "limits.interface_C = 150: no positive power can meet it; expected a
    limit above the initial temperature", a value the case never gave, of a key that sets both
    joints (the insert's 200 °C too). It names the start and the default, as a region's default: the
    joint, its default and where it comes from. Exact (the limit's)."""
    from anodesim.case import CaseError
    from anodesim.rating.rate import check_rating_input
    from anodesim.resolve import region_materials

    hot = anodesim.from_dict(reflection(
        geometry={"housing": {"inner_radius_mm": 2.0, "outer_radius_mm": 4.0,
                              "length_mm": 5.0}}, materials={"housing": "Al6061"},
        initial={"temperature_C": 160.0},
        boundaries={"cooled_end": {"temperature_C": 160.0, "coolant": "air"}}))
    with pytest.raises(CaseError) as err:
        check_rating_input(hot, region_materials(hot), 1e-9)
    said = str(err.value)
    from anodesim.materials import get

    joint_C = get("Al6061").damage_K - 273.15  # the lower side's damage temperature
    assert said.startswith("initial.temperature_C = 160: at or above the default interface "
                           f"heat_sink_housing limit {joint_C:g} °C (Al6061 damage")
    assert said.endswith("expected an initial temperature below it, or limits.interface_C "
                         "above it (it sets every joint's)")
    # a limit the case gives is named by its key, as before
    given = anodesim.from_dict(reflection(limits={"heat_sink_C": 25.0}))
    with pytest.raises(CaseError, match=r"^limits\.heat_sink_C = 25: no positive power"):
        check_rating_input(given, region_materials(given), 1e-9)


def test_summary_and_rating_json_name_each_limit_by_its_label():
    """summary.json's limits (and rating.json's limit definitions) carried only the limit's
    kind ("interface", "region") and its column: a script matching a rating's binding
    limit ("region housing", "interface heat_sink_housing") against them found nothing.
    Each entry now has "label", the name the rating binds by and `run` prints."""
    from anodesim import rating

    case = anodesim.from_dict(heated_housing(25.0))
    entries = anodesim.run(case).summary_dict()["results"]["limits"]
    labels = {e["label"] for e in entries}
    assert {"region housing", "interface heat_sink_housing",
            "interface target_heat_sink", "heat_sink"} <= labels
    assert all(e["label"] == limits.limit_label(e["limit"], e["column"]) for e in entries)
    engine = rating.build_engine(case)
    _, binding = engine.max_power(engine.response.steady)
    assert binding in labels
    definitions = [lim.definition() for lim in engine.limits]
    assert binding in {d["label"] for d in definitions}
