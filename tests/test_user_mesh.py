"""User meshes (geometry.kind = "user_mesh"): a built 3-D mesh read back as a user mesh
gives the parametric results, the shipped example conserves energy, and every missing
piece is one CaseError line with exit status 2 and nothing written."""

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
    # the view's azimuth counts from the beam's trace on both faces (frames.view_direction)
    again = simulation.run(anodesim.from_dict(user))
    a, b = built.summary_dict()["results"]["final"], again.summary_dict()["results"]["final"]
    for key in ("T_peak_C", "stored_heat_J", "u_spot_x_um", "u_spot_z_um",
                "drift_across_view_um", "magnification_change_rel"):
        assert b[key] == pytest.approx(a[key], rel=1e-9), key


def test_example_user_mesh_steady_energy_balance():
    """The shipped example (W tile in a Cu block, 30° incidence): the convective outflow
    through the cooled end equals the deposited power (to 1e-8 with CG + GAMG at rtol
    1e-10), and the mesh integrates the footprint source to 0.1 %."""
    case = anodesim.from_dict(_example())
    prep = resolve.prepare(case)
    domain, problem, _, _ = simulation.build_problem(case, prep, MPI.COMM_WORLD)
    assert problem.source_ratio == pytest.approx(1.0, abs=1e-3)
    P = case.beam.power_W * prep.p_dep
    problem.steady(P)
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
    ("no beam direction", {"beam": {"direction": None}}, "beam.direction: missing"),
    ("beam from behind", {"beam": {"direction": [0.0, 0.0, 1.0]}},
     "beam.direction = [0.0, 0.0, 1.0]: expected a beam that hits the beam face"),
    ("missing file", {"geometry": {"file": "nowhere.msh"}}, "geometry.file = "),
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
    assert "a volume physical group named 'target'" in err and "tile" in err, err


def test_volume_without_a_group_is_one_line(tmp_path, capsys):
    """A mesh with a volume in no physical group (its cells would have no region and no
    material): one line naming the file, exit 2, before any solver starts."""
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
    gmsh.model.addPhysicalGroup(3, [a], name="target")  # the lower block stays unnamed
    gmsh.model.addPhysicalGroup(2, top, name="beam_face")
    bottom = [t for d, t in gmsh.model.getEntities(2)
              if abs(gmsh.model.occ.getCenterOfMass(2, t)[2] + 1e-3) < 1e-9]
    gmsh.model.addPhysicalGroup(2, bottom, name="cooled_end")
    gmsh.option.setNumber("Mesh.MeshSizeMax", 0.4e-3)
    gmsh.model.mesh.generate(3)
    msh = tmp_path / "half_named.msh"
    gmsh.write(str(msh))
    gmsh.finalize()
    case = _example(geometry={"file": str(msh), "impact_point_mm": [0.5, 0.5, 0.5]},
                    materials={"heat_sink": None})
    assert_run_rejected(tmp_path, capsys, case, "belong to no physical volume group")
