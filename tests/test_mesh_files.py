"""Every built mesh is written as a binary .msh file and read back by the run that built it
(simulation._mesh), as a sweep's cases and a run reusing it (mesh.file) read it: the three
give the same numbers to the last digit, and a point on a surface of the geometry stays on
the mesh's surface.
"""

import csv

import numpy as np
import pytest

import anodesim
from cases import reflection, reflection_3d, transmission
from test_case import write_toml

from anodesim.cli import main
from anodesim.simulation import MESH_CACHE_ENV


def _rows(path):
    """The data rows of a CSV file written by a run (its # header names the case's hash)."""
    with open(path) as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


def test_a_sweep_case_keeps_its_surface_profile_points(tmp_path, monkeypatch):
    """A case run as a sweep runs it (reading its mesh from the sweep's shared mesh file)
    writes the profiles of the same case run alone, point for point. The mesh file was
    text, whose 16 digits put the film top of a transmission target an ulp off: the
    profile's first point, on that surface, had no temperature, and the profile along the
    axis stopped there (72 rows instead of 153)."""
    path = write_toml(tmp_path / "case.toml", transmission(
        interfaces={"target_window": {"conductance_W_m2K": 2.05e8}}))
    assert main(["run", str(path), "-o", str(tmp_path / "alone"), "-q"]) == 0
    monkeypatch.setenv(MESH_CACHE_ENV, str(tmp_path / "meshes"))
    assert main(["run", str(path), "-o", str(tmp_path / "in_sweep"), "-q"]) == 0
    alone, in_sweep = (_rows(tmp_path / d / "profiles.csv") for d in ("alone", "in_sweep"))
    assert all(r["T_C"] for r in alone) and len(alone) > 100
    assert in_sweep == alone
    assert _rows(tmp_path / "in_sweep" / "timeseries.csv") == \
        _rows(tmp_path / "alone" / "timeseries.csv")


def test_a_run_on_its_own_mesh_file_is_bit_identical(tmp_path):
    """A run reads its built mesh from the .msh file it writes, so a second run reusing that
    file (mesh.file) gives the same numbers to the last digit (reading back a gmsh file
    moves nodes by up to 1e-14 m: a run on the in-memory model differed in the last
    digits)."""
    first = anodesim.run(anodesim.from_dict(reflection()), tmp_path / "first")
    again = anodesim.run(anodesim.from_dict(reflection(
        mesh={"file": str(tmp_path / "first" / "mesh.msh")})), tmp_path / "again")
    rows = [_rows(tmp_path / d / "timeseries.csv") for d in ("first", "again")]
    assert rows[0] == rows[1] and len(rows[0]) > 5
    assert first.T_peak_max_C == again.T_peak_max_C


def _no_space(*a, **k):
    import errno

    raise OSError(errno.ENOSPC, "No space left on device", "/tmp/anodesim-mesh-")


@pytest.mark.parametrize("where", ["folder", "file"])
def test_a_run_without_a_folder_meshes_with_a_full_temporary_folder(where, monkeypatch):
    """A run without an output folder (the Python API's, every FE run of a rating) writes
    its mesh to a temporary folder to read it back; with that folder full (where: its
    folder cannot be made, or gmsh's file is cut short) it reads the meshed model instead,
    as it did before meshes were read back, rather than fail ('No space left on device':
    the run, or a whole rating, failed though it writes nothing). The model's nodes differ
    from the file's by up to 1e-14 m: the peak and every temperature of the series agree
    with a run that read its file to 1e-9 relative."""
    import tempfile

    from anodesim.geometry import mesh

    case = anodesim.from_dict(reflection())
    read_back = anodesim.run(case)
    if where == "folder":
        mkdtemp = tempfile.mkdtemp

        def full(suffix=None, prefix=None, dir=None):
            if prefix == "anodesim-mesh-":
                _no_space()
            return mkdtemp(suffix, prefix, dir)

        monkeypatch.setattr(tempfile, "mkdtemp", full)
    else:
        monkeypatch.setattr(mesh, "_check_written", _no_space)
    on_model = anodesim.run(case)
    assert on_model.T_peak_max_C == pytest.approx(read_back.T_peak_max_C, rel=1e-9)
    for name in ("T_peak_C",):
        assert len(on_model.series[name]) == len(read_back.series[name]) > 5
        assert np.allclose(on_model.series[name], read_back.series[name], rtol=1e-9, atol=0)


def test_the_mesh_key_names_a_3d_layout_to_the_last_digit():
    """The key of a mesh's inputs (resolve.mesh_key: a sweep's shared mesh file, the mesh
    built ahead of a run) names the 3-D layout's arrays (the beam frame, the spot zone's
    axis) exactly: numpy's repr gave them to 8 decimals, so layouts whose impact point
    differed by less than 5e-9 m (a CAD part's geometry.impact_point_mm, which enters the
    key through the frame alone) had the same key and one case's mesh served the other."""
    import dataclasses as dc

    from anodesim.resolve import mesh_key, prepare

    case = anodesim.from_dict(reflection_3d())
    prep = prepare(case)
    frame = prep.lay.frame
    moved = dc.replace(prep, lay=dc.replace(prep.lay, frame=dc.replace(
        frame, origin=frame.origin + np.array([0.0, 0.0, 1e-9]))))
    assert mesh_key(case, moved) != mesh_key(case, prep)
    assert mesh_key(case, dc.replace(prep)) == mesh_key(case, prep)


def test_a_mesh_built_on_another_file_system_is_copied_whole(tmp_path, monkeypatch):
    """A mesh built ahead in the system's temporary folder reaches the run folder whole when
    the two lie on different file systems (the rename fails with EXDEV): copied by
    output.atomic_write, no temporary file left beside it."""
    import errno
    import os

    from anodesim.simulation import _place

    built = tmp_path / "tmp" / "mesh.msh"
    built.parent.mkdir()
    built.write_bytes(b"$MeshFormat\n4.1 1 8\n$EndMeshFormat\n")
    run = tmp_path / "run"
    run.mkdir()
    replace = os.replace

    def across(src, dst):
        if os.fspath(src) == os.fspath(built):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return replace(src, dst)

    monkeypatch.setattr(os, "replace", across)
    _place(built, run / "mesh.msh")
    assert (run / "mesh.msh").read_bytes() == built.read_bytes()
    assert [p.name for p in run.iterdir()] == ["mesh.msh"]


def test_a_failed_build_in_a_sweep_mesh_cache_leaves_nothing(tmp_path, monkeypatch):
    """A sweep case that fails (or is stopped) while it builds the shared mesh leaves no
    partial file in the cache folder, where the next case would otherwise find a
    temporary beside the meshes; a case that succeeds copies the cached mesh into its run
    folder whole (output.atomic_write: nothing else beside mesh.msh and mesh.json)."""
    from anodesim import simulation

    cache = tmp_path / "meshes"
    monkeypatch.setenv(MESH_CACHE_ENV, str(cache))
    build = simulation.geometry.build_mesh

    def cut_short(case, prep, path=None):
        path.write_bytes(b"$MeshFormat\n4.1 1 8\n")  # half a file, then the failure
        raise KeyboardInterrupt

    monkeypatch.setattr(simulation.geometry, "build_mesh", cut_short)
    case = anodesim.from_dict(reflection())
    with pytest.raises(KeyboardInterrupt):
        anodesim.run(case)
    assert list(cache.iterdir()) == []
    monkeypatch.setattr(simulation.geometry, "build_mesh", build)
    anodesim.run(case, tmp_path / "run")
    (cached,) = cache.iterdir()
    assert (tmp_path / "run" / "mesh.msh").read_bytes() == cached.read_bytes()
    assert sorted(p.name for p in (tmp_path / "run").iterdir() if p.name.startswith(
        ("mesh", ".mesh"))) == ["mesh.json", "mesh.msh"]
