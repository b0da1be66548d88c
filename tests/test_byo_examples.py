"""The worked examples of the README's "Bring your own geometry and materials" section are
run as written (each TOML block after an ``<!-- example: name -->`` marker, merged into the
shipped example case it extends): the Abaqus and VTK meshes, the STEP anode and the user
material."""

import re
import sys
import tomllib
from pathlib import Path

import pytest
from cases import merge, reflection

import anodesim
from anodesim import materials, resolve, simulation

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "meshes"))
import export_block_anode  # noqa: E402  (meshes/export_block_anode.py)


def example(name: str) -> dict:
    """The README's TOML block after the marker ``<!-- example: name -->``."""
    text = (ROOT / "README.md").read_text()
    m = re.search(rf"<!-- example: {name} -->\n```toml\n(.*?)```", text, re.S)
    assert m, f"no example {name!r} in the README"
    return tomllib.loads(m.group(1))


def _case(path: Path) -> dict:
    data = tomllib.loads(path.read_text())
    data["geometry"]["file"] = str(path.parent / data["geometry"]["file"])
    return data


@pytest.mark.parametrize("fmt", ["inp", "vtu"])
def test_readme_user_mesh_examples(tmp_path, fmt):
    """The README's .inp and .vtu geometry tables read the exported block anode, with the
    same regions and faces as the .msh and the beam frame's normal equal to its (1e-12)."""
    export_block_anode.export(tmp_path, fmt)
    geometry = example(f"user_mesh_{fmt}")["geometry"]
    geometry["file"] = str(tmp_path / geometry["file"])
    base = _case(ROOT / "meshes" / "block_anode_case.toml")
    case = anodesim.from_dict({**base, "geometry": geometry})
    ref = anodesim.from_dict(base)
    assert set(case.geometry.mesh_groups) >= {"target", "heat_sink", "beam_face", "cooled_end"}
    n, n_ref = (resolve.prepare(c).lay.frame.normal for c in (case, ref))
    assert n == pytest.approx(n_ref, abs=1e-12)


def test_readme_cad_example_is_the_shipped_case():
    """The README's CAD tables are those of meshes/step_anode_case.toml (which
    tests/test_cad.py runs), and they resolve: the beam frame's normal is +z to 1e-12."""
    shown = example("cad")["geometry"]
    shipped = tomllib.loads((ROOT / "meshes" / "step_anode_case.toml").read_text())["geometry"]
    assert shown == shipped
    case = anodesim.from_dict(_case(ROOT / "meshes" / "step_anode_case.toml"))
    assert resolve.prepare(case).lay.frame.normal == pytest.approx([0, 0, 1], abs=1e-12)


def test_readme_user_material_example_runs():
    """The README's user material in the heat sink of the small reflection anode: its tables
    read back (k at 20 °C = 318 W/m/K, ρ constant 8900 kg/m³, the yield table present), and
    the steady run equals the library CuCrZr's to 1e-9 (a steady state depends on k alone,
    and its k table is the library's below 800 °C)."""
    data = merge(reflection(loading={"kind": "steady", "duration_s": None}),
                 {"materials": example("user_material")["materials"]})
    case = anodesim.from_dict(data)
    m = materials.get("CuCrZr_lot42", case.materials.user)
    assert float(m.k(293.15)) == pytest.approx(318.0, rel=1e-12)
    assert float(m.rho(1000.0)) == pytest.approx(8900.0, rel=1e-12)
    assert m.yield_strength is not None and m.melting_kind == "solidus"
    final = simulation.run(case).summary_dict()["results"]["final"]
    lib = simulation.run(anodesim.from_dict(merge(data, {"materials": {
        "heat_sink": "CuCrZr", "define": None}}))).summary_dict()["results"]["final"]
    for key in ("T_peak_C", "T_max_heat_sink_C"):
        assert final[key] == pytest.approx(lib[key], rel=1e-9), key
