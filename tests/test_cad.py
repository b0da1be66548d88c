"""CAD anodes (geometry.kind = "cad"): the shipped STEP anode (meshes/step_anode.step, made
by meshes/make_step_anode.py) meshed by gmsh agrees with the same anode built
axisymmetrically, and every bad selection is one CaseError line with exit status 2."""

import tomllib
from pathlib import Path

import pytest
from cases import merge
from test_case import assert_run_rejected

import anodesim
from anodesim import simulation

EXAMPLE = Path(__file__).resolve().parent.parent / "meshes" / "step_anode_case.toml"


def _example(**changes) -> dict:
    data = tomllib.loads(EXAMPLE.read_text())
    data["geometry"]["file"] = str(EXAMPLE.parent / data["geometry"]["file"])
    return merge(data, changes)


@pytest.fixture(scope="module")
def shipped():
    """The summary of the shipped example's run, made once for the tests that compare
    against it (each run of it is a 3-D gmsh mesh and solve, about a second)."""
    return simulation.run(anodesim.from_dict(_example())).summary_dict()


def test_step_anode_agrees_with_the_axisymmetric_anode(shipped):
    """The STEP rod-and-disc (coarse 3-D mesh: 75 µm at the spot) against the built-in
    axisymmetric reflection_insert of the same sizes (fine 2-D mesh), the extra-focal heat
    on in both (the example names the rod's top around the disc anode_face, as the
    axisymmetric anode has it): stored heat to 1.5 %, hottest heat-sink node to 1 % of its
    rise, peak to 8 % of its rise (the coarse 3-D mesh under-resolves the 300 µm Gaussian's
    peak: measured 0.38 %, 0.38 %, 3.1 % low; with the extra-focal heat off 0.35 %, 0.21 %,
    3.8 % low)."""
    data = _example()
    cad = shipped
    axi = merge(data, {"geometry": {"kind": "reflection_insert", "file": None,
                                    "impact_point_mm": None, "regions": None, "faces": None,
                                    "insert_radius_mm": 1.0, "insert_thickness_mm": 0.5,
                                    "anode_radius_mm": 3.0, "anode_length_mm": 5.0},
                       "beam": {"direction": None}, "mesh": {"spot_fraction": 0.05}})
    ref = simulation.run(anodesim.from_dict(axi)).summary_dict()
    a, b = cad["results"]["final"], ref["results"]["final"]
    T0 = 30.0
    assert cad["beam"]["deposited_power_W"] == pytest.approx(ref["beam"]["deposited_power_W"],
                                                             rel=1e-12)
    assert a["stored_heat_J"] == pytest.approx(b["stored_heat_J"], rel=0.015)
    assert a["T_max_heat_sink_C"] - T0 == pytest.approx(b["T_max_heat_sink_C"] - T0, rel=0.01)
    assert a["T_peak_C"] - T0 == pytest.approx(b["T_peak_C"] - T0, rel=0.08)


def test_check_warns_of_a_cad_anode_without_anode_face(tmp_path, capsys):
    """The example named no anode_face until 2026-12-05: its 11.7 W of extra-focal heat
    landed on the W disc alone, renormalised to it (peak 328.5 °C against 315.6 °C with the
    rod's top named; the run's console line said so, `check` did not). `check` now warns of
    it before a run; with the face named (the shipped example) it does not."""
    from test_case import write_toml

    from anodesim.cli import main

    for faces, warned in ((None, True), ({}, False)):
        data = _example()
        if faces is None:
            del data["geometry"]["faces"]["anode_face"]
        path = write_toml(tmp_path / "case.toml", data)
        assert main(["check", str(path)]) == 0
        err = capsys.readouterr().err
        said = ("beam.extra_focal = 'face': the geometry has no face 'anode_face', so the "
                "extra-focal heat (11.7 W at 30 W, the cosine law with H = 5 mm) lands on "
                "'beam_face' alone; name the anode's beam-side face around the target "
                "'anode_face' (geometry.faces)")
        assert (said in err) is warned, err


def test_a_box_over_the_target_face_leaves_it_to_beam_face(shipped):
    """The example's anode_face box (the rod's whole top) holds the disc's face too. Listed
    before beam_face, it took the disc: the beam had no face and the run ended in an
    internal error ("the beam source misses the mesh"). beam_face now keeps its faces
    whatever the order: the same peak to 1e-12 (315.6 °C) and the annulus alone as
    anode_face (its area 8π mm² to 0.5 %: the facets of the circle, measured 0.18 % low)."""
    import numpy as np
    import ufl
    from dolfinx import fem

    data = _example()
    faces = data["geometry"]["faces"]
    data["geometry"]["faces"] = {"anode_face": faces["anode_face"],
                                 "beam_face": faces["beam_face"],
                                 "cooled_end": faces["cooled_end"]}
    sim = simulation.Simulation(anodesim.from_dict(data))
    sim.initialise()
    d = sim.domain
    ds = ufl.Measure("ds", domain=d.mesh, subdomain_data=d.facet_tags)
    area = fem.assemble_scalar(fem.form(1.0 * ds(d.groups["anode_face"])))
    assert area == pytest.approx(8.0 * np.pi * 1e-6, rel=0.005)  # measured -0.18 %
    reordered = sim.run().summary_dict()["results"]["final"]["T_peak_C"]
    assert reordered == pytest.approx(shipped["results"]["final"]["T_peak_C"], rel=1e-12)


BAD = [
    ("unknown body name", {"geometry": {"regions": {"target": "W_disk"}}},
     "geometry.regions.target = 'W_disk': no solid of this name in the STEP file; expected "
     "one of: Cu_body, W_disc"),
    ("a solid in no region", {"geometry": {"regions": {"heat_sink": None}},
                              "materials": {"heat_sink": None}},
     "geometry.regions: the solid(s) 'Cu_body' are in no region"),
    ("empty face box", {"geometry": {"faces": {"beam_face": {"box_mm": [5, 5, 5, 6, 6, 6]}}}},
     "geometry.faces.beam_face.box_mm = [5.0, 5.0, 5.0, 6.0, 6.0, 6.0]: no face lies inside"),
    ("no beam face", {"geometry": {"faces": {"beam_face": None}}},
     "geometry.faces.beam_face: missing"),
    # its W disc and Cu body touch, but share their nodes: the message said "this case has
    # no interface between regions"
    ("interface limit on a STEP part", {"limits": {"interface_C": 300.0}},
     "limits.interface_C = 300: a user mesh or STEP part has no named interface (its regions "
     "share their nodes, in perfect contact); expected no interface_C limit"),
    ("default names lack a target", {"geometry": {"regions": None}},
     "geometry.regions.target: missing; expected the solid hit by the beam (found: Cu_body, "
     "W_disc)"),
    ("impact point off the face", {"geometry": {"impact_point_mm": [0.0, 0.0, 4.0]}},
     "geometry.impact_point_mm = [0.0, 0.0, 4.0]: expected a point on the beam face"),
    ("beam from inside", {"beam": {"direction": [0.0, 0.0, 1.0]}},
     "beam.direction = [0.0, 0.0, 1.0]: expected a beam that hits the beam face"),
    ("not a STEP file", {"geometry": {"file": str(EXAMPLE)}}, "gmsh cannot read it as STEP"),
    # a face in two groups went to the group listed first (test below); beam_face's faces
    # leave the other selections, any other sharing is refused
    ("a face in two groups", {"geometry": {"faces": {"side": {
        "box_mm": [-3.0, -3.0, 0.0, 3.0, 3.0, 0.0]}}}},
     "geometry.faces.side: face "),
    ("a group of beam_face's faces only", {"geometry": {"faces": {"anode_face": {
        "box_mm": [-1.0, -1.0, 5.0, 1.0, 1.0, 5.0]}}}},
     "geometry.faces.anode_face: every face it selects is beam_face's; expected a face of "
     "its own (a box around it)"),
]


@pytest.mark.parametrize("what,change,message", BAD, ids=[b[0] for b in BAD])
def test_bad_cad_input_one_line_exit_2(tmp_path, capsys, what, change, message):
    assert_run_rejected(tmp_path, capsys, _example(**change), message)


def test_regions_by_box_give_the_regions_by_name(shipped):
    """A box around the disc instead of its STEP name gives the same mesh and the same
    steady peak temperature (to 1e-12); a box around the whole rod also holds the disc,
    which the target box has taken: refused, one solid per region."""
    by_name = shipped
    boxes = {"target": {"box_mm": [-1.0, -1.0, 4.5, 1.0, 1.0, 5.0]},
             "heat_sink": {"box_mm": [-3.0, -3.0, 0.0, 3.0, 3.0, 5.0]}}
    data = _example()
    data["geometry"]["regions"] = boxes
    with pytest.raises(anodesim.case.CaseError, match="is also in the region 'target'"):
        simulation.run(anodesim.from_dict(data))
    data["geometry"]["regions"] = {"target": boxes["target"], "heat_sink": "Cu_body"}
    by_box = simulation.run(anodesim.from_dict(data)).summary_dict()
    assert by_box["numerics"]["cells"] == by_name["numerics"]["cells"]
    assert by_box["results"]["final"]["T_peak_C"] == pytest.approx(
        by_name["results"]["final"]["T_peak_C"], rel=1e-12)


def test_a_target_listed_after_the_heat_sink_is_still_the_spot(shipped):
    """[geometry.regions] listing heat_sink before target: T_peak_C is still the W disc's
    hottest node (the same as the example's, rel 1e-12; it was the Cu body's, the first
    region's), and limits.spot_C is held below W's melting point, not Cu's (2500 °C was
    refused as above Cu's 1084.65 °C)."""
    from anodesim.case import regions_of

    by_order = {}
    for regions in ({"target": "W_disc", "heat_sink": "Cu_body"},
                    {"heat_sink": "Cu_body", "target": "W_disc"}):
        data = _example(limits={"spot_C": 2500.0})
        data["geometry"]["regions"] = regions
        case = anodesim.from_dict(data)
        assert regions_of(case.geometry) == ("target", "heat_sink")
        by_order[tuple(regions)] = case
    # the example's order (a limit is read with the case, it changes no temperature): the
    # shipped example's run; the heat sink listed first: run here
    first = shipped["results"]["final"]
    second = simulation.run(by_order[("heat_sink", "target")]).summary_dict()["results"][
        "final"]
    assert second["T_peak_C"] == pytest.approx(first["T_peak_C"], rel=1e-12)
    assert second["T_peak_C"] > second["T_max_heat_sink_C"]


def test_a_cad_case_meshes_in_a_sweep_as_in_a_run(tmp_path, monkeypatch, shipped):
    """A sweep's workers share meshes through a cache folder (simulation.MESH_CACHE_ENV);
    a CAD case built there is meshed by the CAD builder (the cache once built every 3-D
    case as the built-in 3-D anode, and a CAD case failed in any sweep): the same cells,
    the same temperatures to round-off (rel 1e-12), as a run without the cache."""
    case = anodesim.from_dict(_example())
    alone = shipped  # a run without the cache
    monkeypatch.setenv(simulation.MESH_CACHE_ENV, str(tmp_path / "meshes"))
    cached = simulation.run(case).summary_dict()
    assert len(list((tmp_path / "meshes").glob("*.msh"))) == 1
    assert cached["numerics"]["cells"] == alone["numerics"]["cells"]
    a, b = cached["results"]["final"], alone["results"]["final"]
    assert a["T_peak_C"] == pytest.approx(b["T_peak_C"], rel=1e-12)
    assert a["stored_heat_J"] == pytest.approx(b["stored_heat_J"], rel=1e-12)


def test_a_step_part_is_hashed_once_per_version_of_its_file(tmp_path, monkeypatch):
    """mesh_description names a CAD part by its STEP file's sha256; a run asks for it up
    to three times (the sweep's cache key, mesh.json, the reused-mesh check), so the file
    is read once per version of it (path, modification time, size), and a file changed
    since gives the new content's hash."""
    import hashlib
    import os

    from anodesim import resolve

    step = tmp_path / "part.step"
    step.write_bytes((EXAMPLE.parent / "step_anode.step").read_bytes())
    case = anodesim.from_dict(_example(geometry={"file": str(step)}))
    reads = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda p: (reads.append(p), real(p))[1])
    first = [resolve.mesh_description(case)["step_sha256"] for _ in range(3)]
    assert first == [hashlib.sha256(step.read_bytes()).hexdigest()] * 3
    assert sum(1 for p in reads if p.name == "part.step") == 2  # once hashed, once here
    step.write_bytes(step.read_bytes() + b"\n")
    os.utime(step, ns=(step.stat().st_atime_ns, step.stat().st_mtime_ns + 1_000_000))
    second = resolve.mesh_description(case)["step_sha256"]
    assert second == hashlib.sha256(step.read_bytes()).hexdigest() != first[0]
    # replaced by a file of the same size with its modification time kept (cp -p, rsync -t)
    kept = step.stat().st_mtime_ns
    other = tmp_path / "other.step"
    other.write_bytes(step.read_bytes()[:-1] + b" ")
    os.replace(other, step)
    os.utime(step, ns=(kept, kept))
    assert resolve.mesh_description(case)["step_sha256"] == \
        hashlib.sha256(step.read_bytes()).hexdigest() != second


def _two_bodies(path: Path, disc_z0_mm: float) -> None:
    """A STEP file of the example's Cu rod (radius 3 mm, z = 0 to 5 mm) and a W disc
    (radius 1 mm, 0.5 mm thick) from z = disc_z0_mm, written as CAD exports two bodies:
    neither cut from the other."""
    import gmsh

    gmsh.initialize(interruptible=False)
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.model.add("two_bodies")
    gmsh.model.occ.addCylinder(0, 0, 0, 0, 0, 5.0, 3.0)
    gmsh.model.occ.addCylinder(0, 0, disc_z0_mm, 0, 0, 0.5, 1.0)
    gmsh.model.occ.synchronize()
    gmsh.write(str(path))
    gmsh.finalize()


@pytest.mark.parametrize("disc_z0_mm,message", [
    (4.5, "overlap; expected solids that touch without overlapping"),
    (5.1, "the solids fall into 2 bodies that do not touch"),
])
def test_solids_that_overlap_or_do_not_touch_are_one_line(tmp_path, capsys, disc_z0_mm,
                                                           message):
    """A disc overlapping the rod (not cut from it) became, with regions by name, whichever
    body gmsh named their common piece last, in the order of the STEP file (by box, the
    piece was in both boxes: "also in the region"); a disc 0.1 mm above the rod exchanged
    no heat with it (steady: an internal PETSc error; transient: an insulated target). Now
    one line each, exit 2, nothing written."""
    step = tmp_path / "two_bodies.step"
    _two_bodies(step, disc_z0_mm)
    top = disc_z0_mm + 0.5
    data = _example()
    data["geometry"].update(
        file=str(step), impact_point_mm=[0.0, 0.0, top],
        regions={"target": {"box_mm": [-1.0, -1.0, disc_z0_mm, 1.0, 1.0, top]},
                 "heat_sink": {"box_mm": [-3.0, -3.0, 0.0, 3.0, 3.0, 5.0]}},
        faces={"beam_face": {"box_mm": [-1.0, -1.0, top, 1.0, 1.0, top]},
               "cooled_end": {"box_mm": [-3.0, -3.0, 0.0, 3.0, 3.0, 0.0]}})
    assert_run_rejected(tmp_path, capsys, data, f"geometry.file = {str(step)!r}: ")
    assert_run_rejected(tmp_path, capsys, data, message)


@pytest.mark.parametrize("disc_z0_mm", [5.0 - 1e-6, 5.0 + 1e-6, 5.0 - 1e-4, 5.0 + 1e-4])
def test_solids_apart_or_overlapping_by_a_hair_are_joined(disc_z0_mm):
    """An overlap or a gap of 1 nm or 0.1 µm (a CAD export's or a unit conversion's
    round-off) was refused as an overlap or as bodies that do not touch (reviewer): the
    fragmentation's fuzzy tolerance (step_file.BOOLEAN_TOLERANCE) joins them, sharing the
    disc's face."""
    import tempfile

    from anodesim.case.step_file import open_step

    with tempfile.TemporaryDirectory() as d:
        step = Path(d) / "two_bodies.step"
        _two_bodies(step, disc_z0_mm)
        gmsh = open_step(str(step))
        try:
            (_, a), (_, b) = gmsh.model.getEntities(3)
            shared = set(gmsh.model.getAdjacencies(3, a)[1]) & set(
                gmsh.model.getAdjacencies(3, b)[1])
        finally:
            gmsh.finalize()
    assert len(shared) == 1


def test_an_impact_point_off_the_face_within_the_tolerance_lands_on_it():
    """An impact point 0.5 µm above the disc (the tolerance is 1e-4 of the part's 8.7 mm
    diagonal) was refused: 'the face at the impact point does not bound the target region',
    as the inside test stepped only 1e-5 of the size either side of the point itself. The
    point now goes to its projection on the face, the beam frame's origin (where the mesh
    gets its node and a volume source's depth starts)."""
    from anodesim import resolve

    case = anodesim.from_dict(_example(geometry={"impact_point_mm": [0.0, 0.0, 5.0005]}))
    assert resolve.prepare(case).lay.frame.origin == pytest.approx([0.0, 0.0, 5e-3],
                                                                   abs=1e-12)


def test_the_cad_cell_estimate_is_within_10_percent_of_the_mesh():
    """cost.cad_cells (the size field over the part's bounding box, milliseconds) against
    the cells gmsh makes of the shipped STEP anode: 34 932 against 32 727 (+7 %)."""
    from anodesim import cost
    from anodesim.resolve import prepare

    case = anodesim.from_dict(_example())
    prep = prepare(case)
    assert cost.cad_cells(case, prep) == pytest.approx(cost.mesh_cells(case, prep), rel=0.10)


def test_a_cad_part_too_fine_to_mesh_is_estimated_not_meshed(tmp_path, capsys, monkeypatch):
    """A 600 µm spot at 160 kV with kernel deposition: cells of a quarter of the 15.1 µm
    deposition depth through the whole spot, about 9.8 M estimated. `check` meshed the part
    to count them (over 10 min for a similar part, Ctrl-C held) and `run` meshed it with
    no refusal; now check gives the estimate without meshing and run refuses it in one
    line, as it does a built-in geometry's."""
    from anodesim import cost
    from anodesim.cli import main
    from anodesim.geometry import cad
    from test_case import write_toml

    def no_meshing(*args, **kwargs):
        raise AssertionError("the part was meshed")

    monkeypatch.setattr(cost, "mesh_cells", no_meshing)
    monkeypatch.setattr(cad, "build", no_meshing)
    path = write_toml(tmp_path / "case.toml", _example(
        beam={"voltage_kV": 160, "deposition": "kernel", "fwhm_um": 600}))
    assert main(["check", str(path)]) == 0
    out, err = capsys.readouterr()
    cells = int(out.split("cost: ")[1].split(" cells")[0].replace(",", ""))
    assert cells > cost.ABSURD_CELLS[3]
    assert "(estimated from the mesh size field: above 500,000, not meshed)" in out
    # the advice: the deposition depth sets these cells (the message said "[mesh] or a
    # larger spot", neither of which takes fewer), and surface deposition needs none
    advice = ("a quarter of the 15.1 µm deposition depth across the whole 600 µm spot, "
              "whatever [mesh] spot_fraction says; a spot 40× wider than that depth is well "
              "modelled by beam.deposition = \"surface\"")
    assert advice in err and "larger spot" not in err, err
    assert main(["run", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"an estimated {cells:,} cells in 3-D" in err, err
    assert advice in err, err
    assert not (tmp_path / "out").exists()
    from anodesim.resolve import prepare

    surface = anodesim.load(write_toml(tmp_path / "surface.toml", _example(
        beam={"voltage_kV": 160, "deposition": "surface", "fwhm_um": 600})))
    assert cost.cad_cells(surface, prepare(surface)) < cost.CAD_COUNT_CELLS
