"""User meshes (geometry.kind = "user_mesh"): a built 3-D mesh read back as a user mesh
gives the parametric results, the shipped example conserves energy, and every missing
piece is one CaseError line with exit status 2 and nothing written."""

import sys
import tomllib
from pathlib import Path

import dolfinx
import pytest
from cases import merge, reflection_3d
from mpi4py import MPI
from test_case import assert_run_rejected, write_toml

import anodesim
from anodesim import resolve, simulation
from anodesim.cli import main

EXAMPLE = Path(__file__).resolve().parent.parent / "meshes" / "block_anode_case.toml"
sys.path.insert(0, str(EXAMPLE.parent))
import export_block_anode  # noqa: E402  (meshes/export_block_anode.py)


def _example(**changes) -> dict:
    data = tomllib.loads(EXAMPLE.read_text())
    data["geometry"]["file"] = str(EXAMPLE.parent / data["geometry"]["file"])
    return merge(data, changes)


@pytest.mark.slow
def test_built_mesh_read_back_as_user_mesh_gives_the_same_results(tmp_path):
    """The 20° (textbook, beam along the rod) reflection anode's own mesh.msh as a user
    mesh, with the impact point and beam of the parametric case: the same peak temperature, spot displacement and drift
    (the face normal from the mesh triangle equals the analytic one to round-off: 1e-9)."""
    drift = {"take_off_angle_deg": 10.0, "source_object_mm": 20.0, "magnification": 10.0,
             "pixel_size_um": 100.0}
    common = {"mounts": {"cooled_end": {"type": "clamped"}}, "drift": drift,
              "output": {"save_times_s": [0.05, 0.1]}}
    built = simulation.run(anodesim.from_dict(reflection_3d(
        beam={"spot": "footprint"}, **common)), tmp_path / "built")
    user = reflection_3d(beam={"spot": "footprint", "direction": [0.0, 0.0, -1.0]},
                         **common)
    user["geometry"] = {"kind": "user_mesh", "file": str(tmp_path / "built" / "mesh.msh"),
                        "impact_point_mm": [0.0, 0.0, 3.0]}
    user.pop("mesh")  # (the mesh is the file's)
    # the view's azimuth counts from the beam's trace on both faces (frames.view_direction)
    again = simulation.run(anodesim.from_dict(user))
    a, b = built.summary_dict()["results"]["final"], again.summary_dict()["results"]["final"]
    for key in ("T_peak_C", "stored_heat_J", "u_spot_x_um", "u_spot_z_um",
                "drift_across_view_um", "magnification_change_rel"):
        assert b[key] == pytest.approx(a[key], rel=1e-9), key


def test_example_user_mesh_steady_energy_balance():
    """The shipped example (W tile in a Cu block, 30° incidence): the convective outflow
    through the cooled end equals the deposited plus the extra-focal power (to 1e-8 with
    CG + GAMG at rtol 1e-10), and the mesh integrates the footprint source to 0.1 %."""
    case = anodesim.from_dict(_example())
    prep = resolve.prepare(case)
    domain, problem, _, _ = simulation.build_problem(case, prep, MPI.COMM_WORLD)
    assert problem.source_ratio == pytest.approx(1.0, abs=1e-3)
    P = case.beam.power_W * prep.p_dep
    problem.steady(P)
    P += case.beam.power_W * prep.extra_focal.extra_focal_fraction  # on the face around it
    b = case.boundaries["cooled_end"]
    out = dolfinx.fem.form(b.h_W_m2K * (problem.T - b.temperature_K)
                           * problem.ds(domain.groups["cooled_end"]))
    Q = MPI.COMM_WORLD.allreduce(dolfinx.fem.assemble_scalar(out), op=MPI.SUM)
    assert Q == pytest.approx(P, rel=1e-8)


BAD = [
    ("face not in the mesh", {"boundaries": {"coolant": {"type": "fixed",
                                                         "temperature_C": 20.0}}},
     "boundaries.coolant: unknown face"),
    ("region without material", {"materials": {"heat_sink": None}},
     "materials.heat_sink: missing; expected a material for the region 'heat_sink'"),
    ("impact point off the beam face", {"geometry": {"impact_point_mm": [2.0, 0.0, 0.0]}},
     "geometry.impact_point_mm = [2.0, 0.0, 0.0]: expected a point on the beam_face group"),
    ("impact point inside", {"geometry": {"impact_point_mm": [0.0, 0.0, -0.3]}},
     "expected a point on the beam_face group"),
    # numpy's overflow warning lines came first, and the line said "inf mm away"
    ("impact point at 1e300 mm", {"geometry": {"impact_point_mm": [1e300, 0.0, 0.0]}},
     "geometry.impact_point_mm = [1e+300, 0.0, 0.0]: expected a point [x, y, z] in mm, each "
     "coordinate from -1e6 to 1e6 (1 km)"),
    ("no beam direction", {"beam": {"direction": None}}, "beam.direction: missing"),
    ("beam from behind", {"beam": {"direction": [0.0, 0.0, 1.0]}},
     "beam.direction = [0.0, 0.0, 1.0]: expected a beam that hits the beam face"),
    ("missing file", {"geometry": {"file": "nowhere.msh"}}, "geometry.file = "),
    # the drift map takes beam.direction: another drift.beam_direction was ignored (exit 0)
    ("drift beam not the case's", {"drift": {"beam_direction": [1.0, 0.0, 0.0]}},
     "drift.beam_direction = [1.0, 0.0, 0.0]: expected the beam direction of the case "
     "[0.5, 0.0, -0.866025] (set by beam.direction)"),
]


@pytest.mark.parametrize("what,change,message", BAD, ids=[b[0] for b in BAD])
def test_bad_user_mesh_input_one_line_exit_2(tmp_path, capsys, what, change, message):
    assert_run_rejected(tmp_path, capsys, _example(**change), message)


def test_mesh_without_a_target_group(tmp_path, capsys):
    """A .msh whose volumes are not named as anodesim needs them: one line naming the
    file and the groups it has."""
    text = (EXAMPLE.parent / "block_anode.msh").read_text()
    renamed = tmp_path / "renamed.msh"
    renamed.write_text(text.replace('3 1 "target"', '3 1 "tile"'))
    path = write_toml(tmp_path / "case.toml", _example(geometry={"file": str(renamed)}))
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "a volume set named 'target'" in err and "tile" in err, err


@pytest.mark.parametrize("lower, message", [
    (None, "belong to no physical volume group"),
    ("coolant_side", "a region named 'coolant_side'; expected another name (its column "
     "T_max_coolant_side_C is the cooled faces' hottest node's)"),
])
def test_volume_without_a_group_is_one_line(tmp_path, capsys, lower, message):
    """A mesh with a volume in no physical group (its cells would have no region and no
    material), or with a region whose name is a column of the run already (it used to end
    the run with an internal error after meshing): one line, exit 2, before any solver
    starts."""
    import gmsh

    gmsh.initialize()
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.model.add("half_named")
    a = gmsh.model.occ.addBox(0, 0, 0, 1e-3, 1e-3, 0.5e-3)
    b = gmsh.model.occ.addBox(0, 0, -1e-3, 1e-3, 1e-3, 1e-3)
    gmsh.model.occ.fragment([(3, a)], [(3, b)])
    gmsh.model.occ.synchronize()
    top = [t for d, t in gmsh.model.getEntities(2)
           if abs(gmsh.model.occ.getCenterOfMass(2, t)[2] - 0.5e-3) < 1e-9]
    gmsh.model.addPhysicalGroup(3, [a], name="target")  # the lower block: unnamed, or
    if lower is not None:
        gmsh.model.addPhysicalGroup(3, [b], name=lower)
    gmsh.model.addPhysicalGroup(2, top, name="beam_face")
    # the cooled face between the blocks: a face of the named block too, so the file reads
    joint = [t for d, t in gmsh.model.getEntities(2)
             if abs(gmsh.model.occ.getCenterOfMass(2, t)[2]) < 1e-9]
    gmsh.model.addPhysicalGroup(2, joint, name="cooled_end")
    gmsh.option.setNumber("Mesh.MeshSizeMax", 0.4e-3)
    gmsh.model.mesh.generate(3)
    msh = tmp_path / "half_named.msh"
    gmsh.write(str(msh))
    gmsh.finalize()
    case = _example(geometry={"file": str(msh), "impact_point_mm": [0.5, 0.5, 0.5]},
                    materials={"heat_sink": None} if lower is None else
                    {"heat_sink": None, lower: "Cu"})
    assert_run_rejected(tmp_path, capsys, case, message)


# ---------------------------------------------------------------- meshes through meshio
def _export(tmp_path, fmt: str) -> tuple[Path, dict]:
    """The shipped block anode written by meshio as another FE tool's file
    (meshes/export_block_anode.py); the geometry table of a case that reads it."""
    geometry = export_block_anode.export(tmp_path, fmt)
    geometry.pop("kind"), geometry.pop("impact_point_mm")
    return Path(geometry["file"]), geometry


def _steady_T(case_data: dict) -> tuple[float, float]:
    """(peak temperature K, convective outflow W) of the steady state, direct solver."""
    case = anodesim.from_dict(merge(case_data, {"numerics": {"solver": "direct"}}))
    prep = resolve.prepare(case)
    domain, problem, _, _ = simulation.build_problem(case, prep, MPI.COMM_WORLD)
    problem.steady(case.beam.power_W * prep.p_dep)
    b = case.boundaries["cooled_end"]
    out = dolfinx.fem.form(b.h_W_m2K * (problem.T - b.temperature_K)
                           * problem.ds(domain.groups["cooled_end"]))
    Q = MPI.COMM_WORLD.allreduce(dolfinx.fem.assemble_scalar(out), op=MPI.SUM)
    T = MPI.COMM_WORLD.allreduce(float(problem.T.x.array.max()), op=MPI.MAX)
    return T, Q


@pytest.fixture(scope="module")
def example_steady() -> tuple[float, float]:
    """_steady_T of the shipped .msh example, solved once for the tests that read the same
    anode through another file."""
    return _steady_T(_example())


def test_block_anode_through_meshio_formats_gives_the_msh_result(tmp_path, example_steady):
    """The block anode as .inp (mm, element sets), .vtu (tags mapped in [geometry.groups]),
    .med (mm, groups) and .exo (mm, element blocks mapped, faces from node sets) gives the
    .msh run's peak temperature and cooled-end outflow to round-off (relative 1e-9; direct
    solver, so only the node order differs)."""
    want = example_steady
    for fmt in ("inp", "vtu", "med", "exo"):
        _, geometry = _export(tmp_path, fmt)
        got = _steady_T(_example(geometry=geometry))
        assert got == pytest.approx(want, rel=1e-9), fmt


def test_meshio_sets_missing_or_mapped_wrong_is_one_line(tmp_path, capsys):
    """A .vtu without names, a mapping to an absent tag, a mesh in mm read as metres (20 m
    across) and one in mm whose impact point then misses the beam face: one line each,
    exit status 2, nothing written."""
    _, geometry = _export(tmp_path, "vtu")
    cases = [
        ({"file": geometry["file"], "mesh_unit": "m"}, "no named set of volume cells"),
        ({**geometry, "groups": {**geometry["groups"], "target": 7}},
         "geometry.groups.target = 7: no cell has this tag in the array 'gmsh:physical'; "
         "expected one of 1, 2, 3, 4, 5, 6"),
        ({**geometry, "groups": {"target": 2, "beam_face": 3}},
         "volume cells are in no region set (regions: target)"),
    ]
    _, inp = _export(tmp_path, "inp")
    cases += [({**inp, "mesh_unit": "m"},
               "geometry.mesh_unit = 'm': expected the unit of the mesh's coordinates (with "
               "'m' the mesh is 9.381 m across"),
              ({**inp, "impact_point_mm": [0.0, 0.0, 0.0005]}, None),
              ({"file": inp["file"]}, "geometry.mesh_unit: missing")]
    for geometry_change, message in cases:
        if message is None:  # on the face within 1e-4 of the mesh size: accepted
            anodesim.from_dict(_example(geometry=geometry_change))
            continue
        assert_run_rejected(tmp_path, capsys, _example(geometry=geometry_change), message)


def test_mesh_in_the_wrong_unit_misses_the_beam_face(tmp_path, capsys):
    """The block anode's nodes in µm-scaled metres (a mesh exported in m but declared mm, 9.4
    µm across, is refused by size); one in mm declared as mm with the impact point given in
    the wrong unit (0.5 mm off the face): the impact-point line names the mesh's extent."""
    _, inp = _export(tmp_path, "inp")
    assert_run_rejected(tmp_path, capsys,
                        _example(geometry={**inp, "impact_point_mm": [0.0, 0.0, 500.0]}),
                        "geometry.impact_point_mm = [0.0, 0.0, 500.0]: expected a point on "
                        "the beam_face group")
    _, vtu = _export(tmp_path, "vtu")
    assert_run_rejected(tmp_path, capsys, _example(geometry={**vtu, "mesh_unit": "mm"}),
                        "geometry.mesh_unit = 'mm': expected the unit of the mesh's "
                        "coordinates (with 'mm' the mesh is 9.381e-06 m across")


def test_small_mesh_in_mm_read_as_metres_misses_the_impact_point(tmp_path, capsys):
    """A 0.94 mm anode in mm (the block scaled by 0.1, its beam face moved to z = 2 mm)
    declared in metres is 0.94 m across, a plausible size; the impact point (0, 0, 2) mm
    is then 2 m from the beam face: one line naming the mesh's extent and unit, exit 2."""
    import meshio

    path, _ = _export(tmp_path, "inp")
    m = meshio.read(path)
    small = tmp_path / "small_anode.inp"
    meshio.write(small, meshio.Mesh(m.points * 0.1 + [0.0, 0.0, 2.0], m.cells,
                                    cell_sets=m.cell_sets))
    geometry = {"file": str(small), "mesh_unit": "m", "impact_point_mm": [0.0, 0.0, 2.0]}
    assert_run_rejected(tmp_path, capsys, _example(geometry=geometry),
                        "geometry.impact_point_mm = [0.0, 0.0, 2.0]: expected a point on the "
                        "beam_face group")
    case = anodesim.from_dict(_example(geometry={**geometry, "mesh_unit": "mm"}))
    frame = resolve.prepare(case).lay.frame  # in its own unit the point is on the face
    assert frame.normal == pytest.approx([0.0, 0.0, 1.0], abs=1e-12)


def test_surface_only_and_hexahedral_meshes_are_refused(tmp_path, capsys):
    """A mesh of the block's surface triangles only, and one of hexahedra: one line each."""
    import meshio
    import numpy as np

    m = meshio.read(EXAMPLE.parent / "block_anode.msh")
    surface = tmp_path / "surface.vtu"
    meshio.write(surface, meshio.Mesh(m.points, [b for b in m.cells if b.type == "triangle"]))
    assert_run_rejected(tmp_path, capsys,
                        _example(geometry={"file": str(surface), "mesh_unit": "m"}),
                        "no volume cells (found triangle); expected a volume mesh of "
                        "tetrahedra, not a surface mesh")
    cube = np.array([[x, y, z] for z in (0, 1) for y in (0, 1) for x in (0, 1)], float)
    hexa = tmp_path / "hexa.vtu"
    meshio.write(hexa, meshio.Mesh(cube, [("hexahedron", np.array([[0, 1, 3, 2, 4, 5, 7, 6]]))]))
    assert_run_rejected(tmp_path, capsys, _example(geometry={"file": str(hexa),
                                                            "mesh_unit": "mm"}),
                        "1 hexahedron cells; expected tetrahedra only")


def test_second_order_tetrahedra_use_their_corner_nodes(tmp_path, example_steady):
    """The block anode made second order by gmsh (tetra10, straight edges: the block has
    flat faces only) runs to the linear mesh's result to round-off (relative 1e-9)."""
    import gmsh

    gmsh.initialize()
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.merge(str(EXAMPLE.parent / "block_anode.msh"))
    gmsh.model.mesh.setOrder(2)
    quadratic = tmp_path / "block_anode_o2.msh"
    gmsh.write(str(quadratic))
    gmsh.finalize()
    want = example_steady
    assert _steady_T(_example(geometry={"file": str(quadratic)})) == pytest.approx(want,
                                                                                 rel=1e-9)


@pytest.mark.parametrize("name", ["garbage.msh", "garbage.vtu"])
def test_a_file_meshio_cannot_read_is_one_line(tmp_path, capsys, name):
    """meshio prints each format's failure and then "Error: Couldn't read file ..." and
    calls sys.exit(1): that reached the user as two unprefixed lines and exit 1 (the audit
    of 2026-12-04). Now the case's one line, exit 2."""
    (tmp_path / name).write_text("garbage\n")
    case = tomllib.loads(EXAMPLE.read_text())
    case["geometry"].update(file=name, mesh_unit="mm")
    path = write_toml(tmp_path / "c.toml", case)
    assert main(["check", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and "meshio cannot read it (Couldn't read file " in err \
        and name in err, err


@pytest.mark.parametrize("text", ["CEND\nBEGIN BULK\n", "BEGIN BULK\n$ cut here\n\n"])
def test_a_nastran_file_cut_after_begin_bulk_is_one_line(tmp_path, text):
    """A Nastran export cut short after BEGIN BULK (blank lines and comments only, no
    ENDDATA): meshio 5.3's reader looped for ever at the end of the file, and `check` hung
    until killed (found 2026-12-05). Now the case's one line, exit 2. Run in a child with a
    time-out, so that a hang fails the test instead of stopping the suite; a complete file
    with a data line after it is still given to meshio (its own message)."""
    import subprocess
    import sys

    (tmp_path / "anode.bdf").write_text(text)
    case = tomllib.loads(EXAMPLE.read_text())
    case["geometry"].update(file="anode.bdf", mesh_unit="mm")
    path = write_toml(tmp_path / "c.toml", case)
    r = subprocess.run([sys.executable, "-m", "anodesim", "check", str(path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and r.stdout == "", (r.returncode, r.stdout, r.stderr)
    assert r.stderr.strip() == (
        f"anodesim: error: geometry.file = {str(tmp_path / 'anode.bdf')!r}: nothing follows "
        "BEGIN BULK (a Nastran file cut short?); expected its bulk data (GRID and element "
        "cards), ending with ENDDATA"), r.stderr
    (tmp_path / "anode.bdf").write_text(text + "GRID,1,,0.,0.,0.\nENDDATA\n")
    r = subprocess.run([sys.executable, "-m", "anodesim", "check", str(path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "nothing follows BEGIN BULK" not in r.stderr, r.stderr


def test_regions_that_share_no_node_are_one_line(tmp_path, capsys):
    """The block anode's W tile meshed with its own copies of the interface nodes (as
    separate Abaqus parts, or a tie constraint, leave it): the tile and the block exchange
    no heat, so a transient run heated the tile as if insulated (a 0.5 s run of a rod of
    this kind: 2228 °C instead of 192 °C) and a steady one failed inside PETSc. Now one
    line naming the parts and the coincident nodes, exit 2, nothing written."""
    inp, split, n_interface = _split_tile(tmp_path)
    for loading in ({"kind": "steady"}, {"kind": "continuous", "duration_s": 0.5}):
        assert_run_rejected(tmp_path, capsys,
                            _example(geometry={**inp, "file": str(split)}, loading=loading),
                            f"the mesh falls into 2 parts that share no node (part 1: "
                            f"heat_sink; part 2: target; {n_interface} nodes of one part "
                            "coincide with nodes of another")


def _split_tile(tmp_path) -> tuple[dict, Path, int]:
    """The block anode as .inp with the W tile's cells on their own copies of its nodes:
    (the geometry table, the file, the number of interface nodes)."""
    import meshio
    import numpy as np

    path, inp = _export(tmp_path, "inp")
    m = meshio.read(path)
    tet = next(i for i, b in enumerate(m.cells) if b.type == "tetra")
    tile = m.cells[tet].data[m.cell_sets["target"][tet]]
    own = np.unique(tile)  # the tile's nodes, written again for its cells
    copy = np.arange(len(m.points))
    copy[own] = len(m.points) + np.arange(len(own))
    cells = [(b.type, b.data.copy()) for b in m.cells]
    cells[tet][1][m.cell_sets["target"][tet]] = copy[tile]
    tri = next(i for i, b in enumerate(m.cells) if b.type == "triangle")
    beam = m.cell_sets["beam_face"][tri]
    cells[tri][1][beam] = copy[cells[tri][1][beam]]
    split = tmp_path / "split.inp"
    meshio.write(split, meshio.Mesh(np.vstack([m.points, m.points[own]]), cells,
                                    cell_sets=m.cell_sets))
    n_interface = len(np.intersect1d(own, np.unique(
        m.cells[tet].data[m.cell_sets["heat_sink"][tet]])))
    return inp, split, n_interface


def test_a_failed_linear_solve_in_the_steady_continuation_is_a_run_failure(tmp_path, capsys,
                                                                           monkeypatch):
    """A steady nonlinear solve whose linear solver fails part-way (here the split tile,
    let through the mesh check: a singular operator) retries at lower powers; the retry's
    residual met the right-hand side that the failed KSPSolve had left locked, and the run
    ended in 'internal error (... error code 73 ... locked for read-only access)'. Now the
    continuation runs its course and the run fails with the solver's own line, exit 1."""
    from anodesim.case import mesh_import

    monkeypatch.setattr(mesh_import, "_check_connected", lambda um, where: None)
    inp, split, _ = _split_tile(tmp_path)
    path = write_toml(tmp_path / "case.toml", _example(
        geometry={**inp, "file": str(split)}, materials={"properties": "temperature_dependent"}))
    assert main(["run", str(path), "-o", str(tmp_path / "out"), "-q"]) == 1
    err = capsys.readouterr().err
    assert "run failed: the temperature linear solver" in err and "internal error" not in err, err


def test_a_face_inside_the_mesh_is_one_line_where_the_case_uses_it(tmp_path, capsys):
    """The block anode as .vtu with the tile-block interface as a further face (tag 7). Not
    used, it is harmless (a built mesh.msh carries its interface the same way). Mapped to
    cooled_end, the convection acted inside the body: dolfinx integrates a tagged inner
    facet from one of its cells as if it were on the surface, so a transient run cooled the
    joint as the cooled end (and a steady one ended in an internal PETSc error). As the beam
    face, the beam came "from behind" (the
    normal out of the target points into the block). Now one line naming the key and the
    triangles inside, exit 2, nothing written."""
    import meshio
    import numpy as np

    path, vtu = _export(tmp_path, "vtu")
    m = meshio.read(path)
    tet = next(i for i, b in enumerate(m.cells) if b.type == "tetra")
    tag = m.cell_data["gmsh:physical"][tet]
    local = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])
    faces = [{tuple(f) for f in np.sort(m.cells[tet].data[tag == t][:, local].reshape(-1, 3),
                                        axis=1)} for t in (1, 2)]
    joint = np.array(sorted(faces[0] & faces[1]))
    cells = [(b.type, b.data) for b in m.cells] + [("triangle", joint)]
    data = [*m.cell_data["gmsh:physical"], np.full(len(joint), 7)]
    with_joint = tmp_path / "with_joint.vtu"
    meshio.write(with_joint, meshio.Mesh(m.points, cells, cell_data={"gmsh:physical": data}))
    geometry = {**vtu, "file": str(with_joint)}
    resolve.prepare(anodesim.from_dict(_example(
        geometry={**geometry, "groups": {**vtu["groups"], "joint": 7}})))
    cases = [({**vtu["groups"], "cooled_end": 7, "bottom": 6},
              f"boundaries.cooled_end: {len(joint)} of the {len(joint)} triangles of the face "
              "'cooled_end' lie inside the mesh, between two volume cells; expected a face "
              "on the mesh's outer surface"),
             ({**vtu["groups"], "beam_face": 7, "top": 3},
              "geometry.groups.beam_face = 7: ")]
    for groups, message in cases:
        assert_run_rejected(tmp_path, capsys,
                            _example(geometry={**geometry, "groups": groups}), message)


def test_a_gmsh_2_2_file_names_its_groups_as_4_1_does(tmp_path, example_steady):
    """The block anode written by gmsh in the .msh 2.2 format: meshio gives its physical
    names as field data beside the gmsh:physical tags only (no cell sets, which it builds
    for 4.1 alone), so the file read as 'no named set of volume cells'. Its named groups are
    the regions and faces as in 4.1: the same steady result to round-off (rel 1e-9)."""
    import gmsh

    gmsh.initialize()
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.merge(str(EXAMPLE.parent / "block_anode.msh"))
    gmsh.option.setNumber("Mesh.MshFileVersion", 2.2)
    old = tmp_path / "block_anode_22.msh"
    gmsh.write(str(old))
    gmsh.finalize()
    assert _steady_T(_example(geometry={"file": str(old)})) == pytest.approx(
        example_steady, rel=1e-9)


def test_the_face_normal_in_a_message_has_no_negative_zeros():
    """The face normal is turned outward by negation, which makes -0.0 of zero components:
    a beam from behind read "face normal [-0.0, -0.0, 1.0]" (seen on a user's rod mesh in
    mm). It reads [0.0, 0.0, 1.0]."""
    import numpy as np

    from anodesim.geometry import user_mesh

    case = anodesim.from_dict(_example(beam={"direction": [0.0, 0.0, 1.0]}))
    inward = np.array([0.0, 0.0, -1.0])
    with pytest.raises(anodesim.case.CaseError) as e:
        user_mesh.frame_layout(case, np.zeros(3), -inward, 1e-2, None)
    assert "face normal [0.0, 0.0, 1.0])" in str(e.value), str(e.value)


def test_a_target_tag_on_surface_cells_is_named_so(tmp_path, capsys):
    """An Abaqus file has no tag array, so integer tags are the numbers of meshio's cell
    blocks, the first of which holds the surface triangles: target = 1 took the faces and
    read "faces in both the sets 'beam_face' and 'target'". Now the line says the tag's
    cells are surface cells and lists the blocks."""
    _, inp = _export(tmp_path, "inp")
    groups = {"target": 1, "heat_sink": "heat_sink", "beam_face": "beam_face",
              "cooled_end": "cooled_end"}
    assert_run_rejected(tmp_path, capsys, _example(geometry={**inp, "groups": groups}),
                        "geometry.groups.target = 1: the cells with this tag are surface cells "
                        "(tags from the cell-block numbers: 1 triangle, 2 tetra); expected the "
                        "tag of the target's volume cells")


def test_a_mesh_too_coarse_for_the_spot_is_one_line(tmp_path, capsys):
    """A user mesh's elements at the spot set its peak temperature, and the source
    integral stays right on coarse ones, so nothing warned: on a W-in-Cu rod the peak rise
    of a 100 µm spot came out 22 % low with 60 µm elements there and 48 % low with 106 µm
    ones (geometry/user_mesh.check_resolution). The block anode (29 µm at the impact point)
    takes a 100 µm spot; a 40 µm one is refused with one line, exit 2, nothing written."""
    resolve.prepare(anodesim.from_dict(_example(beam={"fwhm_um": 60.0})))
    assert_run_rejected(tmp_path, capsys, _example(beam={"fwhm_um": 40.0}),
                        "the beam face's element at the impact point is 28.8 µm across, more "
                        "than 0.5 × the spot's 40 µm; expected a mesh graded to about 1/7")


def test_a_mesh_coarse_at_the_spot_warns_how_low_the_peak_likely_is(capsys):
    """Between the recommended 1/7 of the spot and the refusal at 0.5, a user mesh ran in
    silence with its peak rise up to about 20 % low (reviewer): the run now warns with the
    likely shortfall (from check_resolution's measurements) and summary.json's numerics
    give the ratio. The shipped block anode (28.8 µm elements under its 100 µm spot)."""
    from anodesim.geometry.user_mesh import peak_low_percent

    res = anodesim.run(anodesim.from_dict(_example(loading={"kind": "steady"})))
    ratio = res.summary_dict()["numerics"]["spot_element_per_spot_size"]
    assert ratio == pytest.approx(0.288, abs=0.001)
    err = capsys.readouterr().err
    assert (f"the beam face's element at the impact point is {ratio:.2f} × the spot's size: "
            f"the peak rise likely comes out about {peak_low_percent(ratio):.0f} % low") in err
    assert 9.0 < peak_low_percent(ratio) < 10.0


def test_an_impact_point_off_the_face_within_the_tolerance_lands_on_it():
    """The impact point may lie off the beam face by up to 1e-4 of the mesh's size (0.94 µm
    on the block anode; 20 µm on a 200 mm tube model, more than the 12 µm electron range in
    W at 100 kV). The beam frame's origin was the point as given, and a volume source's
    depth is measured from it: a point above the face put the deposition that much higher,
    partly outside the body. The origin is now the point's projection on the face."""
    case = anodesim.from_dict(_example(geometry={"impact_point_mm": [0.0, 0.0, 0.0009]}))
    origin = resolve.prepare(case).lay.frame.origin
    assert origin == pytest.approx([0.0, 0.0, 0.0], abs=1e-15)


def test_check_lists_the_user_meshs_groups_as_the_case_uses_them(capsys):
    """`anodesim check` on a user mesh lists each region with its material and its
    tetrahedra, and each face with the conditions the case puts on it (it listed none, so a
    group mapped to the wrong set showed only in a run's results). The counts are meshio's
    own reading of the file's gmsh:physical tags, and add up to the cells `check` counts."""
    import meshio
    import numpy as np

    assert main(["check", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    m = meshio.read(EXAMPLE.parent / "block_anode.msh")
    tag = dict(m.field_data)
    want = {}
    for block, phys in zip(m.cells, m.cell_data["gmsh:physical"]):
        if block.type == "tetra":
            for name in ("target", "heat_sink"):
                want[name] = want.get(name, 0) + int(np.sum(phys == tag[name][0]))
    assert (f"regions: target (W, {want['target']:,} tetrahedra), heat_sink (Cu, "
            f"{want['heat_sink']:,} tetrahedra)") in out, out
    assert f"cost: {want['target'] + want['heat_sink']:,} cells (counted" in out
    assert ("faces: anode_face (adiabatic), beam_face (beam), cooled_end (convection, "
            "clamped mount), side (adiabatic)") in out, out


def _block_mesh(path: Path, numbered: bool, joint: bool = False) -> Path:
    """The example block anode (coarse: 0.1 mm at the spot) meshed by gmsh from its .geo,
    with the physical groups named as shipped or numbered as many .geo files number them,
    volumes 1, 2 and surfaces 1 to 4: one number for a volume and a surface group."""
    import gmsh

    geo = (EXAMPLE.parent / "block_anode.geo").read_text().replace("SizeMin = 0.025",
                                                                   "SizeMin = 0.1")
    if numbered:
        for i, name in enumerate(("target", "heat_sink"), start=1):
            geo = geo.replace(f'Physical Volume("{name}")', f"Physical Volume({i})")
        for i, name in enumerate(("beam_face", "anode_face", "side", "cooled_end"), start=1):
            geo = geo.replace(f'Physical Surface("{name}")', f"Physical Surface({i})")
    if joint:  # a face group inside the mesh: the tile's bottom, between the two regions
        geo = geo.replace('Physical Surface("cooled_end") = bottom[];',
                          'Physical Surface("cooled_end") = bottom[];\njoint[] = Surface In '
                          "BoundingBox{-1 - e, -1 - e, -0.5 - e, 1 + e, 1 + e, -0.5 + e};\n"
                          'Physical Surface("joint") = joint[];')
    (path.parent / f"{path.stem}.geo").write_text(geo)
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.open(str(path.parent / f"{path.stem}.geo"))
        gmsh.model.mesh.generate(3)
        gmsh.write(str(path))
    finally:
        gmsh.finalize()
    return path


def test_gmsh_numbered_groups_sharing_a_number_map_by_the_case(tmp_path):
    """gmsh numbers volume and surface groups apart, so Physical Volume(1) and Physical
    Surface(1) share the tag 1. Mapped by number ([geometry.groups] target = 1, beam_face =
    1, ...) such a file was refused ("cells in both the sets 'target' and 'beam_face'"):
    a tag marking both is now the volume for a name [materials] gives a material, the face
    for the others. The steady run equals the run of the same mesh with named groups
    (1e-12: the same cells and faces)."""
    named = _block_mesh(tmp_path / "named.msh", numbered=False)
    numbered = _block_mesh(tmp_path / "numbered.msh", numbered=True)
    spot = {"beam": {"fwhm_um": 400.0}}
    want = simulation.run(anodesim.from_dict(_example(geometry={"file": str(named)}, **spot)))
    groups = {"target": 1, "heat_sink": 2, "beam_face": 1, "anode_face": 2, "side": 3,
              "cooled_end": 4}
    case = anodesim.from_dict(_example(geometry={"file": str(numbered), "groups": groups},
                                       **spot))
    assert case.geometry.mesh_groups == {"target": 3, "heat_sink": 3, "beam_face": 2,
                                         "anode_face": 2, "side": 2, "cooled_end": 2}
    got = simulation.run(case)
    w, g = (r.summary_dict()["results"]["final"] for r in (want, got))
    for key in ("T_peak_C", "T_max_heat_sink_C", "drift_across_view_um"):
        assert g[key] == pytest.approx(w[key], rel=1e-12), key


def test_check_says_a_face_group_inside_the_mesh_conducts(tmp_path, capsys):
    """A face group between two regions (the tile's bottom, 'joint') conducts: the regions
    share its nodes, perfect contact. `check` listed it as '(adiabatic)', as an outer face
    nothing is put on, telling a tube engineer the joint insulates."""
    mesh = _block_mesh(tmp_path / "joint.msh", numbered=False, joint=True)
    path = write_toml(tmp_path / "case.toml", _example(
        geometry={"file": str(mesh)}, beam={"fwhm_um": 400.0}))
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "joint (inside the mesh, perfect contact)" in out, out
    assert "anode_face (adiabatic)" in out, out


def test_a_shared_tag_read_as_a_face_names_the_missing_material(tmp_path):
    """A numbered gmsh file whose region heat_sink = 2 (also anode_face = 2) has no material
    in [materials]: the tag is read as the face, and the error said only '5939 of 7707
    volume cells are in no region set (regions: target)', with heat_sink mapped to them in
    [geometry.groups]; it names the names and the [materials] key now."""
    numbered = _block_mesh(tmp_path / "numbered.msh", numbered=True)
    groups = {"target": 1, "heat_sink": 2, "beam_face": 1, "anode_face": 2, "side": 3,
              "cooled_end": 4}
    d = _example(geometry={"file": str(numbered), "groups": groups}, beam={"fwhm_um": 400.0})
    d["materials"].pop("heat_sink")
    with pytest.raises(anodesim.case.CaseError,
                       match=r"geometry\.groups: anode_face = 2, heat_sink = 2: the tag marks "
                             r"volume cells .*materials\.heat_sink"):
        anodesim.from_dict(d)


def with_braze(tmp_path, **changes) -> dict:
    """The shipped block anode (as Abaqus input) with the half of its Cu block nearer the
    tile made a third region, `braze` (listed after heat_sink in the file's sets)."""
    import meshio
    import numpy as np

    path, inp = _export(tmp_path, "inp")
    m = meshio.read(path)
    tet = next(i for i, b in enumerate(m.cells) if b.type == "tetra")
    sink = m.cell_sets["heat_sink"][tet]
    z = m.points[m.cells[tet].data[sink]].mean(axis=1)[:, 2]
    top = z > np.median(z)  # the half of the heat sink nearer the tile: "braze"
    sets = {k: [np.asarray(v[i]) if v[i] is not None else np.array([], dtype=int)
                for i in range(len(m.cells))] for k, v in m.cell_sets.items()}
    sets["braze"] = [np.array([], dtype=int) for _ in m.cells]
    sets["braze"][tet], sets["heat_sink"][tet] = sink[top], sink[~top]
    three = tmp_path / "three.inp"
    meshio.write(three, meshio.Mesh(m.points, [(b.type, b.data) for b in m.cells],
                                    cell_sets=sets))
    return _example(geometry={**inp, "file": str(three)}, **changes)


def test_a_region_named_heat_sink_is_the_heat_sink_whatever_else_the_mesh_has(tmp_path):
    """A user mesh's regions after the target were taken alphabetically, and a run's heat
    sink (heat_sink_C, the yield use, the heat sink's default limit) is the second region:
    with a `braze` region beside `heat_sink` the braze was watched as the heat sink. The
    region named heat_sink is now the second (case.ordered_regions), the others after."""
    from anodesim.case import regions_of
    from anodesim.limits import limits_for
    from anodesim.resolve import region_materials

    case = anodesim.from_dict(with_braze(tmp_path, materials={"braze": "Cu"}))
    assert regions_of(case.geometry) == ("target", "heat_sink", "braze")
    sink_limit = next(x for x in limits_for(case, region_materials(case))
                      if x.name == "heat_sink")
    assert sink_limit.column == "T_max_heat_sink_C"
