"""Runs under MPI (mpirun -n 2, the mpich shipped with the wheel) agree with serial runs:
to round-off for constant properties (linear problem, direct solver; 1e-7 for the
penalty-tied mechanics), and within the accumulated Newton tolerance for
temperature-dependent properties. The commands speak and write once under MPI (rank 0):
drift-table and rate give the files of one rank; sweep, one process per case, is refused."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cases import reflection, reflection_3d
from test_case import write_toml

MPIRUN = shutil.which("mpirun", path=str(Path(sys.executable).parent)) or shutil.which("mpirun")

pytestmark = [pytest.mark.mpi, pytest.mark.slow]


#: A lean mesh and time plan for comparisons of 1 and 2 ranks: both sides run the same
#: discretisation, so it need not be converged (as tests/test_rating_helper.py's LEAN).
LEAN = {"mesh": {"growth": 0.3, "spot_fraction": 0.2}, "time": {"steps_per_doubling": 2}}


def run_cli(tmp_path, case, name, ranks):
    """``anodesim run`` of case on 1 rank (cli.main in this process: the serial side is not
    about the process) or under ``mpirun -n ranks``; its summary.json."""
    path = write_toml(tmp_path / f"{name}.toml", case)
    out = tmp_path / name
    args = ["run", str(path), "-o", str(out), "-q"]
    if ranks > 1:
        r = subprocess.run([MPIRUN, "-n", str(ranks), sys.executable, "-m", "anodesim.cli",
                            *args], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
    else:
        from anodesim.cli import main

        assert main(args) == 0
    return json.loads((out / "summary.json").read_text())


@pytest.mark.skipif(MPIRUN is None, reason="no mpirun found next to the interpreter or on PATH")
@pytest.mark.parametrize("properties,rtol", [("constant", 1e-9),
                                             ("temperature_dependent", 1e-4)])
def test_two_ranks_match_one(tmp_path, properties, rtol):
    case = reflection(**LEAN, materials={"properties": properties},
                      probes={"below": {"r_mm": 0.0, "depth_mm": 0.05}},
                      interfaces={"target_heat_sink": {"conductance_W_m2K": 1e6}},
                      mounts={"cooled_end": {"type": "clamped"}},
                      drift={"view_direction": [1.0, 0.0, 1.0], "source_object_mm": 20.0,
                             "magnification": 10.0, "pixel_size_um": 100.0},
                      output={"fields": True, "save_times_s": [0.01, 0.1]})
    serial = run_cli(tmp_path, case, "serial", 1)
    parallel = run_cli(tmp_path, case, "parallel", 2)
    assert parallel["provenance"]["mpi_ranks"] == 2
    a, b = serial["results"]["final"], parallel["results"]["final"]
    for key in ("T_peak_C", "T_max_heat_sink_C", "T_below_C", "stored_heat_J"):
        assert b[key] == pytest.approx(a[key], rel=rtol), key
    # Mechanics: the interface tie penalty (1e4 E/h) conditions the system, so LU round-off
    # with another ordering is ~1e-9 relative: tolerance max(rtol, 1e-7).
    for key in ("u_spot_z_um", "drift_across_view_um", "von_mises_max_target_MPa"):
        assert b[key] == pytest.approx(a[key], rel=max(rtol, 1e-7)), key


@pytest.mark.skipif(MPIRUN is None, reason="no mpirun found next to the interpreter or on PATH")
def test_free_body_two_ranks(tmp_path):
    """A free body (pinned on one rank only, centre of mass fixed) gives the same drift."""
    case = reflection(**LEAN, materials={"properties": "constant"}, mechanics={"free": True},
                      drift={"view_direction": [1.0, 0.0, 1.0], "source_object_mm": 20.0,
                             "magnification": 10.0, "pixel_size_um": 100.0},
                      output={"save_times_s": [0.1]})
    a = run_cli(tmp_path, case, "serial", 1)["results"]["final"]
    b = run_cli(tmp_path, case, "parallel", 2)["results"]["final"]
    assert b["u_spot_z_um"] == pytest.approx(a["u_spot_z_um"], rel=1e-8)


@pytest.mark.skipif(MPIRUN is None, reason="no mpirun found next to the interpreter or on PATH")
@pytest.mark.parametrize("size_mm", [0.15, 0.2])
def test_split_interface_with_ghost_nodes_two_ranks(tmp_path, size_mm):
    """Meshes whose interface nodes are ghosted on the other rank (these sizes were seen to
    duplicate interface nodes): same results on 1 and 2 ranks, thermal and mechanical."""
    case = reflection(materials={"properties": "constant"}, mesh={"max_size_mm": size_mm},
                      time=LEAN["time"],
                      interfaces={"target_heat_sink": {"conductance_W_m2K": 1e6}},
                      mounts={"cooled_end": {"type": "clamped"}},
                      output={"save_times_s": [0.1]})
    a = run_cli(tmp_path, case, "serial", 1)["results"]["final"]
    b = run_cli(tmp_path, case, "parallel", 2)["results"]["final"]
    assert b["T_peak_C"] == pytest.approx(a["T_peak_C"], rel=1e-9)
    assert b["u_spot_z_um"] == pytest.approx(a["u_spot_z_um"], rel=1e-7)


@pytest.mark.skipif(MPIRUN is None, reason="no mpirun found next to the interpreter or on PATH")
def test_3d_iterative_two_ranks_match_one(tmp_path):
    """3-D reflection anode at a 20° anode angle with the iterative solver (this mesh is
    small enough for CG on a shared MUMPS LU factorisation, thermal and mechanics; the
    displacement and the drift proxy's weight iterate together on two ranks,
    krylov.shared_pc_cg), rtol 1e-10: a different partition changes the preconditioner,
    so the two runs agree to the solver tolerance, not to round-off. With rtol 1e-10 on
    the preconditioned residual and κ(P⁻¹A) ≲ 1e2, the temperatures and displacements
    agree to 1e-7 relative."""
    case = reflection_3d(probes={"below": {"r_mm": 0.0, "depth_mm": 0.05}},
                         mounts={"cooled_end": {"type": "clamped"}}, time=LEAN["time"],
                         drift={"view_direction": [0.0, 1.0, 1.0], "source_object_mm": 20.0,
                                "magnification": 10.0, "pixel_size_um": 100.0},
                         output={"save_times_s": [0.01, 0.1]})
    a = run_cli(tmp_path, case, "serial", 1)
    b = run_cli(tmp_path, case, "parallel", 2)
    assert b["provenance"]["mpi_ranks"] == 2
    assert a["numerics"]["linear_solver"] == "iterative"
    assert (tmp_path / "parallel" / "temperature_slices.png").is_file()  # sampled collectively
    fa, fb = a["results"]["final"], b["results"]["final"]
    for key in ("T_peak_C", "T_max_heat_sink_C", "T_below_C", "stored_heat_J", "u_spot_x_um",
                "u_spot_z_um", "drift_across_view_um", "image_drift_px",
                "magnification_change_rel"):
        assert fb[key] == pytest.approx(fa[key], rel=1e-7), key


@pytest.mark.skipif(MPIRUN is None, reason="no mpirun found next to the interpreter or on PATH")
def test_user_mesh_steady_two_ranks(tmp_path):
    """The shipped user mesh, steady state with drift (CG + GAMG, rtol 1e-10), written to a
    run folder on 2 ranks (the steady profiles are sampled collectively: this hung before):
    the same figures as on one rank to 1e-7."""
    import tomllib

    example = Path(__file__).resolve().parent.parent / "meshes" / "block_anode_case.toml"
    case = tomllib.loads(example.read_text())
    case["geometry"]["file"] = str(example.parent / case["geometry"]["file"])
    a = run_cli(tmp_path, case, "serial", 1)["results"]["final"]
    b = run_cli(tmp_path, case, "parallel", 2)["results"]["final"]
    assert (tmp_path / "parallel" / "profiles.csv").is_file()
    for key in ("T_peak_C", "T_max_heat_sink_C", "u_spot_z_um", "drift_across_view_um"):
        assert b[key] == pytest.approx(a[key], rel=1e-7), key


@pytest.mark.skipif(MPIRUN is None, reason="no mpirun found next to the interpreter or on PATH")
def test_coolant_circuit_and_housing_two_ranks(tmp_path):
    """Coolant circuit (its collective coupling vectors), housing, mount-face reference and
    displacement probes under 2 ranks: the same coolant temperature, spot displacement and
    point displacement (measured 5e-15, 8e-14, 5e-14 relative; tolerance 1e-9)."""
    case = reflection(
        **LEAN, materials={"properties": "constant", "housing": "SS304"},
        geometry={"housing": {"inner_radius_mm": 2.0, "outer_radius_mm": 4.0,
                              "length_mm": 10.0}},
        coolant_circuit={"heat_capacity_J_per_K": 50.0, "cooler_conductance_W_per_K": 0.5,
                         "ambient_C": 30.0},
        boundaries={"cooled_end": {"temperature_C": None, "coolant_circuit": True}},
        mounts={"mount_face": {"type": "clamped"}}, loading={"duration_s": 100.0},
        limits={"coolant_side_C": 400.0},  # a small circuit at 10 W: the wall runs hot
        probes={"m": {"r_mm": 3.0, "depth_mm": 10.0, "quantities": ["u"]}},
        output={"save_times_s": [50.0, 100.0]})
    a = run_cli(tmp_path, case, "serial", 1)["results"]["final"]
    b = run_cli(tmp_path, case, "parallel", 2)["results"]["final"]
    for key in ("T_coolant_C", "u_spot_z_um", "u_at_m_z_um", "u_reference_z_um"):
        assert b[key] == pytest.approx(a[key], rel=1e-9, abs=1e-12), key


@pytest.mark.skipif(MPIRUN is None, reason="no mpirun found next to the interpreter or on PATH")
def test_housed_3d_sliding_mount_two_ranks(tmp_path):
    """3-D anode (20°) on a housing shell held by a sliding mount face: the pin and slot are
    found from the face's nodes gathered over the ranks, so the partition does not change
    them: the same steady peak temperature, drift relative to the mount and reference motion
    on 2 ranks as on 1 (CG + GAMG, rtol 1e-10: to 1e-7, as the 3-D comparison above)."""
    case = reflection_3d(
        geometry={"housing": {"inner_radius_mm": 1.0, "outer_radius_mm": 2.0,
                              "length_mm": 4.0}},
        materials={"housing": "SS304"},
        boundaries={"cooled_end": None,
                    "housing_inner": {"type": "convection", "h_W_m2K": 5000.0,
                                      "temperature_C": 30.0}},
        mounts={"mount_face": {"type": "sliding"}}, beam={"power_W": 2.0},
        loading={"kind": "steady", "duration_s": None})
    a = run_cli(tmp_path, case, "serial", 1)["results"]["final"]
    b = run_cli(tmp_path, case, "parallel", 2)["results"]["final"]
    for key in ("T_peak_C", "T_max_housing_C", "u_spot_z_um", "u_reference_x_um"):
        assert b[key] == pytest.approx(a[key], rel=1e-7, abs=1e-9), key


def cli(tmp_path, ranks, *args):
    """Run ``anodesim ARGS`` in tmp_path on 1 or more ranks; the completed process."""
    cmd = [sys.executable, "-m", "anodesim.cli", *map(str, args)]
    if ranks > 1:
        cmd = [MPIRUN, "-n", str(ranks), *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)


def _table(path: Path) -> tuple[list[str], list[list[float]]]:
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    return lines[0].split(","), [[float(c) for c in line.split(",")] for line in lines[1:]]


TABLE_CASE = reflection(loading={"kind": "continuous", "duration_s": 0.1},
                        materials={"properties": "constant"},
                        mounts={"cooled_end": {"type": "clamped"}},
                        drift={"view_direction": [0.94, 0.0, 0.342],
                               "detector_radius_mm": 200.0, "source_object_mm": 20.0,
                               "magnification": 10.0, "pixel_size_um": 100.0},
                        **LEAN)


@pytest.mark.skipif(MPIRUN is None, reason="no mpirun found next to the interpreter or on PATH")
def test_drift_table_two_ranks_match_one(tmp_path):
    """``anodesim drift-table`` on 2 ranks writes the table of 1 rank (constant properties,
    direct solvers: every value to 1e-9 relative, 1e-12 µm absolute; measured: identical to
    the CSV's 10 digits), once: rank 0 alone writes (no temporary file left beside it) and
    prints its one line. A bad schedule on 2 ranks: one line, exit 2, no file. (The table of
    1 rank is made in this process: only the 2-rank side is about the process.)"""
    from anodesim.cli import main

    path = write_toml(tmp_path / "case.toml", TABLE_CASE)
    assert main(["drift-table", str(path), "--schedule", "0:0.1:0.02", "-o",
                 str(tmp_path / "one.csv"), "-q"]) == 0
    two = cli(tmp_path, 2, "drift-table", path, "--schedule", "0:0.1:0.02", "-o", "two.csv")
    assert two.returncode == 0, two.stderr[-2000:]
    h1, rows1 = _table(tmp_path / "one.csv")
    h2, rows2 = _table(tmp_path / "two.csv")
    assert h1 == h2 and len(rows1) == len(rows2) == 6
    np.testing.assert_allclose(rows2, rows1, rtol=1e-9, atol=1e-12)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.toml", "one.csv", "two.csv"]
    printed = [line for line in two.stderr.splitlines() if line.startswith("drift table")]
    assert printed == ["drift table: 6 times -> two.csv"], two.stderr
    assert sum("step 1/" in line for line in two.stderr.splitlines()) == 1  # progress once
    bad = cli(tmp_path, 2, "drift-table", path, "--schedule", "0:0.5:0.1", "-o", "bad.csv")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "anodesim: error: --schedule: time 0.2 s: expected a time in [0, 0.1] s (the case's "
        "loading)"], bad.stderr
    assert not (tmp_path / "bad.csv").exists()


@pytest.mark.skipif(MPIRUN is None, reason="no mpirun found next to the interpreter or on PATH")
def test_rate_two_ranks_speak_and_write_once(tmp_path):
    """``anodesim rate`` on 2 ranks: every progress line once (the same lines as on 1 rank,
    up to the timing), the folder written by rank 0 alone with the rating of 1 rank (the
    continuous rating to 1e-9; engine only, --no-confirm, to keep the test short)."""
    path = write_toml(tmp_path / "case.toml", TABLE_CASE)
    runs = [cli(tmp_path, n, "rate", path, "--chart", "continuous", "--no-confirm", "-o",
                f"rating{n}") for n in (1, 2)]
    assert all(r.returncode == 0 for r in runs), runs[1].stderr[-2000:]
    lines = [[re.sub(r"\d+\.\d+ s\b", "T s", line).replace(f"rating{n}", "OUT")
              for line in r.stderr.splitlines()] for n, r in zip((1, 2), runs)]
    assert lines[1] == lines[0], runs[1].stderr
    assert len(set(lines[1])) == len(lines[1])
    a, b = (json.loads((tmp_path / f"rating{n}" / "rating.json").read_text()) for n in (1, 2))
    ca, cb = a["continuous"], b["continuous"]
    assert cb["max_continuous_beam_power_W"] == pytest.approx(
        ca["max_continuous_beam_power_W"], rel=1e-9)
    assert sorted(p.name for p in (tmp_path / "rating2").iterdir()) == sorted(
        p.name for p in (tmp_path / "rating1").iterdir())


@pytest.mark.skipif(MPIRUN is None, reason="no mpirun found next to the interpreter or on PATH")
def test_sweep_under_mpirun_is_refused_once(tmp_path):
    """``anodesim sweep`` runs each case in its own process: started on 2 ranks it would run
    every case twice and race on its folder, so it is refused: one line, exit 2, nothing
    written. Bad input of any command read alike by every rank is also one line."""
    study = Path(__file__).resolve().parent.parent / "studies" / "spot_power" / "study.toml"
    r = cli(tmp_path, 2, "sweep", study, "-o", "sweep")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "anodesim: error: sweep: started on 2 MPI ranks; expected one process (each case runs "
        "in its own process): run it without mpirun, with -j 2 to run 2 cases at once, or "
        "with --submit slurm"], r.stderr
    assert not (tmp_path / "sweep").exists()
    bad = write_toml(tmp_path / "bad.toml", reflection(loading={"duration_s": -1.0}))
    r = cli(tmp_path, 2, "rate", bad, "-o", "rating")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "rating").exists()


@pytest.mark.skipif(MPIRUN is None, reason="no mpirun found next to the interpreter or on PATH")
def test_serial_commands_under_mpirun_print_once(tmp_path):
    """check, materials and report do no MPI work: under ``mpirun -n 2`` rank 0 alone runs
    them (each line once, one report written); bad input is still one line, exit 2."""
    case = write_toml(tmp_path / "case.toml", reflection())
    r = cli(tmp_path, 2, "check", case)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(": valid (") == 1, r.stdout
    r, one = cli(tmp_path, 2, "materials"), cli(tmp_path, 1, "materials")
    assert r.returncode == 0 and r.stdout == one.stdout  # the library listed once
    bad = write_toml(tmp_path / "bad.toml", reflection(loading={"duration_s": -1.0}))
    r = cli(tmp_path, 2, "check", bad)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.skipif(MPIRUN is None, reason="no mpirun found next to the interpreter or on PATH")
def test_bad_command_line_under_mpirun_is_one_line(tmp_path):
    """A bad flag, choice or missing argument under ``mpirun -n 2`` is one line from rank
    0, exit 2, nothing written: every rank parses the same command line (each printed it)."""
    case = write_toml(tmp_path / "case.toml", reflection())
    for args in (("run", case, "--chart", "all"), ("rate", case, "--chart", "bogus"),
                 ("bogus",), ("run",)):
        r = cli(tmp_path, 2, *args)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1, r.stderr
        assert lines[0].startswith("anodesim: error: "), r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.toml"]
    for args in (("--help",), ("run", "--help"), ("--version",)):  # printed once too
        r, one = cli(tmp_path, 2, *args), cli(tmp_path, 1, *args)
        said, once = r.stdout + r.stderr, one.stdout + one.stderr
        assert r.returncode == 0 and said == once and said.strip(), said


@pytest.mark.skipif(MPIRUN is None, reason="no mpirun found next to the interpreter or on PATH")
def test_two_ranks_iterate_newton_to_round_off(tmp_path):
    """The line search's residual is weighed row by row by the Jacobian's inverse diagonal
    (thermal._residual_norm). On more than one rank the diagonal, an unghosted vector, has
    an empty local form, so the weights were left at the diagonal itself: the norm stalled
    and a rating's 36 W confirmation run of a coarse insert failed on 2 ranks ('Newton line
    search failed') where it ran on one. k(T), Newton to 1e-10 K at 36 W: 2 ranks run, and
    match 1 rank to 1e-9."""
    case = reflection(beam={"power_W": 36.43}, mesh={"growth": 0.3, "spot_fraction": 0.2},
                      time={"steps_per_doubling": 2, "newton_tol_K": 1e-10})
    a = run_cli(tmp_path, case, "serial", 1)["results"]["final"]
    b = run_cli(tmp_path, case, "parallel", 2)["results"]["final"]
    assert a["T_peak_C"] > 1000.0
    for key in ("T_peak_C", "T_max_heat_sink_C", "stored_heat_J"):
        assert b[key] == pytest.approx(a[key], rel=1e-9), key


#: Runs a melting case twice on one Simulation (as a rating's confirmation runs do), then
#: prints PETSc's parked-garbage count per rank.
MELT_TWICE = """
import sys
sys.path.insert(0, {tests!r})
import mpi4py.MPI as MPI
from cases import block
from petsc4py import PETSc
from anodesim.case import from_dict
from anodesim.materials import OutOfRangeError
from anodesim.simulation import Simulation

sim = Simulation(from_dict(block(beam={{"power_W": 3000.0}}, mesh={{"growth": 0.5}})),
                 comm=MPI.COMM_WORLD)
for _ in range(2):
    try:
        sim.run()
    except OutOfRangeError as e:
        assert "above the melting point" in str(e), e
    else:
        raise SystemExit("the run did not melt")
sys.stdout.flush()
PETSc.garbage_view(MPI.COMM_WORLD)
"""


@pytest.mark.skipif(MPIRUN is None, reason="no mpirun found next to the interpreter or on PATH")
def test_runs_that_melt_on_every_rank_free_their_parallel_temporaries(tmp_path):
    """petsc4py parks a dropped parallel PETSc object until PETSc.garbage_cleanup (a rating's
    runs once piled up their Newton temporaries this way: 126 -> 541 MB a rank). The run
    called the clean-up only after a completed run; it now also does after a failure every
    rank met, as melting is (a rating keeps such runs and goes on). A guard: the runs make no
    per-run temporaries today, so this held before too; after two melting runs on 2 ranks
    nothing is parked."""
    script = tmp_path / "melt_twice.py"
    script.write_text(MELT_TWICE.format(tests=str(Path(__file__).parent)))
    r = subprocess.run([MPIRUN, "-n", "2", sys.executable, str(script)], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    counts = [int(n) for n in re.findall(r"Total entries: (\d+)", r.stdout)]
    assert len(counts) == 2 and counts == [0, 0], r.stdout


#: A script run under mpirun whose mesh build fails on rank 0 (the only rank that builds):
#: bad input found by the mesher (CaseError) or a bug in it (RuntimeError), then `anodesim
#: run` through cli.main, or anodesim.run.
_MESH_FAILS_ON_RANK_0 = """
import sys
import anodesim
import anodesim.geometry as geometry
from anodesim.cli import main
from anodesim.errors import CaseError

def broken(case, prep, *args, **kwargs):
    if sys.argv[1] == "case":
        raise CaseError("geometry.insert_radius_mm = 1: expected a shape gmsh can mesh")
    raise RuntimeError("gmsh: no elements")

geometry.build_mesh = broken
if sys.argv[2] == "cli":
    sys.exit(main(["run", sys.argv[3], "-o", sys.argv[4], "-q"]))
anodesim.run(sys.argv[3], sys.argv[4])
"""


@pytest.mark.skipif(MPIRUN is None, reason="no mpirun found next to the interpreter or on PATH")
@pytest.mark.parametrize("kind,status,line", [
    ("case", 2, "anodesim: error: geometry.insert_radius_mm = 1: expected a shape gmsh can "
                "mesh"),
    ("bug", 1, "anodesim: internal error (RuntimeError: gmsh: no elements); please report it "
               "with the output of the same command run with --debug")], ids=["case", "bug"])
def test_a_mesh_failing_on_rank_0_stops_every_rank_in_one_line(tmp_path, kind, status, line):
    """The mesh is built on rank 0 and read collectively: when the build failed there, the
    other ranks waited in the read. `anodesim run` then ended through MPI_Abort, with the
    launcher's "Abort(2) on node 0 ..." line after the error, and anodesim.run in a script
    hung for ever. Now every rank raises rank 0's failure (errors.share_rank_zero_failure):
    the command's one line from rank 0 and status 2 (bad input) or 1 (a bug); in a script,
    the exception on every rank, no hang (the 300 s timeout only guards the test)."""
    import os

    path = write_toml(tmp_path / "case.toml", reflection())
    script = tmp_path / "fails.py"
    script.write_text(_MESH_FAILS_ON_RANK_0)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).resolve().parent.parent / "src"), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([MPIRUN, "-n", "2", sys.executable, str(script), kind, "cli", str(path),
                        str(tmp_path / "cli")], capture_output=True, text=True, timeout=300,
                       env=env)
    assert (r.returncode, r.stderr.splitlines()) == (status, [line]), r.stderr
    r = subprocess.run([MPIRUN, "-n", "2", sys.executable, str(script), kind, "api", str(path),
                        str(tmp_path / "api")], capture_output=True, text=True, timeout=300,
                       env=env)
    raised = "anodesim.errors.CaseError" if kind == "case" else "RuntimeError"
    assert r.returncode != 0 and r.stderr.count(raised) >= 1, r.stderr
    assert r.stderr.count("Traceback (most recent call last)") == 2, r.stderr  # both ranks


#: A script run under mpirun over an earlier run (--overwrite / overwrite=True) whose files
#: rank 0, the only rank that moves them aside, cannot move (run_folder.set_aside_run's
#: OSError: a file busy on a share), then `anodesim run` through cli.main, or anodesim.run.
_SET_ASIDE_FAILS_ON_RANK_0 = """
import errno, sys
import anodesim
import anodesim.run_folder as run_folder
from anodesim.cli import main

def busy(out, aside, keep=()):  # as set_aside_run fails: nothing moved, aside removed
    aside.rmdir()
    raise OSError(errno.EBUSY, "Device or resource busy", str(out / "summary.json"))

run_folder.set_aside_run = busy
if sys.argv[1] == "cli":
    sys.exit(main(["run", sys.argv[2], "-o", sys.argv[3], "--overwrite", "-q"]))
anodesim.run(sys.argv[2], sys.argv[3], overwrite=True)
"""


@pytest.mark.skipif(MPIRUN is None, reason="no mpirun found next to the interpreter or on PATH")
def test_an_earlier_run_rank_0_cannot_set_aside_stops_every_rank_in_one_line(tmp_path):
    """Over an earlier run, rank 0 alone moves its files aside, then every rank met in a
    barrier: when a move failed there (an OSError), `anodesim run --overwrite` under mpirun
    ended through MPI_Abort (the launcher's "Abort(1) on node 0 ..." line after the error)
    and anodesim.run(..., overwrite=True) in a script hung in the barrier on the other
    ranks. Now every rank raises rank 0's failure (errors.share_rank_zero_failure): the
    command's one line from rank 0, status 1; in a script the exception on every rank, no
    hang (the 300 s timeout only guards the test); the earlier run stays as it was."""
    import os

    import anodesim

    path = write_toml(tmp_path / "case.toml", reflection())
    anodesim.run(path, tmp_path / "cli")  # the earlier run (serial, in this process)
    before = (tmp_path / "cli" / "summary.json").read_bytes()
    shutil.copytree(tmp_path / "cli", tmp_path / "api")
    script = tmp_path / "busy.py"
    script.write_text(_SET_ASIDE_FAILS_ON_RANK_0)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).resolve().parent.parent / "src"), os.environ.get("PYTHONPATH", "")])}
    out = tmp_path / "cli"
    r = subprocess.run([MPIRUN, "-n", "2", sys.executable, str(script), "cli", str(path),
                        str(out)], capture_output=True, text=True, timeout=300, env=env)
    assert (r.returncode, r.stderr.splitlines()) == (1, [
        f"anodesim: run failed: {out / 'summary.json'}: Device or resource busy"]), r.stderr
    out = tmp_path / "api"
    r = subprocess.run([MPIRUN, "-n", "2", sys.executable, str(script), "api", str(path),
                        str(out)], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode != 0 and "OSError: [Errno 16] Device or resource busy" in r.stderr \
        and "RunFailure: on rank 0: run failed: " in r.stderr, r.stderr
    assert r.stderr.count("Traceback (most recent call last)") == 2, r.stderr  # both ranks
    for name in ("cli", "api"):  # the earlier run untouched, nothing left set aside
        folder = tmp_path / name
        assert (folder / "summary.json").read_bytes() == before
        assert not [p for p in folder.iterdir() if p.name.startswith(".anodesim-earlier")]
