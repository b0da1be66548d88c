"""Studies and sweeps: expansion of the axes, case ids, the results table, failures, bad
input, the Python API, and resuming after a real SIGKILL."""

import csv
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cases import block, reflection
from test_case import write_toml

import anodesim
from anodesim import study as study_mod
from anodesim.case import CaseError
from anodesim.cli import main

T0_C = 0.0


def small_block(**changes):
    """A coarse steady W hemisphere: a case that runs in about a second."""
    from cases import merge

    return merge(block(geometry={"kind": "block", "radius_mm": 0.5},
                       mesh={"spot_fraction": 0.2, "growth": 0.3}), changes)


def wait_until(state, proc, what: str, limit_s: float = 300.0):
    """Poll until state() holds (a file or table the sweep writes), while proc lives.

    This waits on the event itself, however long the machine takes; limit_s only turns a
    sweep that never gets there into a failure instead of a hang."""
    deadline = time.monotonic() + limit_s
    while not state():
        assert proc.poll() is None, f"the sweep ended before {what}"
        assert time.monotonic() < deadline, f"{what}: not seen in {limit_s:.0f} s"
        time.sleep(0.01)


def wait_for_exit(pid: int, limit_s: float = 60.0) -> bool:
    """Wait for a process that is not our child to end (pidfd: woken by its exit)."""
    import select

    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], limit_s)[0])
    finally:
        os.close(fd)


def ok_rows(path) -> int:
    return sum(r["status"] == "ok" for r in read_table(path)) if path.exists() else 0


def read_table(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def outputs(rows):
    """The rows without the wall time (the one column that differs between runs)."""
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in rows]


# --------------------------------------------------------------------------------------
# Expansion
# --------------------------------------------------------------------------------------
def test_grid_and_zip_expansion_with_ranges():
    st = study_mod.from_dict({
        "case": small_block(),
        "axes": {"beam.power_W": {"start": 1.0, "stop": 100.0, "num": 3, "scale": "log"},
                 "beam.fwhm_um": [10.0, 20.0]}})
    assert len(st.points) == 6
    powers = [p.inputs["beam.power_W"] for p in st.points[::2]]
    assert powers == pytest.approx([1.0, 10.0, 100.0], rel=1e-12)
    assert [p.inputs["beam.fwhm_um"] for p in st.points[:2]] == [10.0, 20.0]
    assert st.points[5].data["beam"]["fwhm_um"] == 20.0  # the dotted key lands in the case
    assert len({p.id for p in st.points}) == 6 and all(len(p.id) == 12 for p in st.points)

    z = study_mod.from_dict({
        "case": small_block(), "combine": "zip",
        "axes": {"beam.power_W": {"start": 2, "stop": 6, "num": 3},
                 "beam.fwhm_um": [10.0, 20.0, 30.0]}})
    assert [(p.inputs["beam.power_W"], p.inputs["beam.fwhm_um"]) for p in z.points] == \
        [(2, 10.0), (4, 20.0), (6, 30.0)]


def test_ids_come_from_the_resolved_case():
    a = study_mod.from_dict({"case": small_block(), "axes": {"beam.power_W": [10.0]}})
    # the same case written differently (power as voltage x current) resolves the same
    b = study_mod.from_dict({"case": small_block(beam={"power_W": None, "voltage_kV": 50,
                                                       "current_mA": 0.2}),
                             "axes": {"beam.current_mA": [0.2]}})
    assert a.points[0].id == b.points[0].id
    assert a.id != b.id  # but another axis is another study (its table has other columns)
    c = study_mod.from_dict({"case": small_block(), "axes": {"beam.power_W": [10.5]}})
    assert c.points[0].id != a.points[0].id and c.id != a.id
    # the tasks are part of the id: rating the same case is different work
    d = study_mod.from_dict({"case": small_block(), "axes": {"beam.power_W": [10.0]},
                             "tasks": {"run": False, "rate": ["continuous"]}})
    assert d.points[0].id != a.points[0].id


def test_unquoted_dotted_keys_and_list_indices(tmp_path):
    base = write_toml(tmp_path / "base.toml", reflection(loading=None, beam={"power_W": None}))
    base.write_text(base.read_text() + '[loading]\nkind = "segments"\nsegment = ['
                    "{duration_s = 0.01, power_W = 5.0}, {duration_s = 0.01, power_W = 0.0}]\n")
    (tmp_path / "study.toml").write_text(
        'case = "base.toml"\n[axes]\nbeam.fwhm_um = [40, 60]\n'
        '"loading.segment.1.power_W" = [1.0]\n')
    st = study_mod.load(tmp_path / "study.toml")
    assert list(st.axes) == ["beam.fwhm_um", "loading.segment.1.power_W"]
    assert st.points[1].data["loading"]["segment"][1]["power_W"] == 1.0
    assert all(p.error is None for p in st.points)


# --------------------------------------------------------------------------------------
# Bad input: one line, exit 2, nothing written or overwritten
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("axes, combine, message", [
    ({"beam.fwmh_um": [10.0]}, "grid",
     'axes."beam.fwmh_um": not a key of the case (did you mean "beam.fwhm_um"?)'),
    ({"bean.power_W": [10.0]}, "grid",
     'axes."bean.power_W": not a key of the case (did you mean "beam"?)'),
    ({"beam.power_W": []}, "grid", 'axes."beam.power_W" = []: empty axis'),
    ({"beam.power_W": {"start": 1, "stop": 2, "num": 0}}, "grid",
     'axes."beam.power_W".num = 0: expected an integer from 1 to 100,000'),
    # these ran for minutes at gigabytes before the cap (the audit of 2026-12-04)
    ({"beam.power_W": {"start": 1, "stop": 10, "num": 100_000_000}}, "grid",
     'axes."beam.power_W".num = 100000000: expected an integer from 1 to 100,000'),
    ({"beam.power_W": {"start": 1, "stop": 10, "num": 1000},
      "beam.fwhm_um": {"start": 10, "stop": 20, "num": 1000}}, "grid",
     "axes: 1000 (beam.power_W) x 1000 (beam.fwhm_um) values make 1,000,000 cases; expected "
     "at most 100,000 (split the study)"),
    ({"beam.power_W": [1.0, 2.0], "beam.fwhm_um": [10.0]}, "zip",
     'combine = "zip": the axes have different lengths (beam.power_W 2, beam.fwhm_um 1)'),
])
def test_bad_study_is_one_line_and_writes_nothing(tmp_path, capsys, axes, combine, message):
    write_toml(tmp_path / "base.toml", small_block())
    path = tmp_path / "study.toml"
    path.write_text('case = "base.toml"\n' f'combine = "{combine}"\n' + _axes_toml(axes))
    out = tmp_path / "out"
    assert main(["sweep", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err, err
    assert not out.exists()


def test_an_axis_given_twice_is_one_line(tmp_path, capsys):
    """A quoted and a dotted key for the same axis: TOML keeps both, and the study kept only
    the last one, silently (the audit of 2026-12-04)."""
    write_toml(tmp_path / "base.toml", small_block())
    path = tmp_path / "study.toml"
    path.write_text('case = "base.toml"\n[axes]\n"beam.power_W" = [1.0, 2.0]\n'
                    'beam.power_W = [3.0]\n')
    assert main(["sweep", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and 'axes."beam.power_W": given twice' in err, err
    assert not (tmp_path / "out").exists()


def _axes_toml(axes):
    lines = ["[axes]"]
    for k, v in axes.items():
        if isinstance(v, dict):
            v = "{" + ", ".join(f"{a} = {b!r}" for a, b in v.items()) + "}"
        lines.append(f'"{k}" = {v}')
    return "\n".join(lines) + "\n"


def power_study_file(folder, name, powers):
    """A study file over the beam power of the small block, and its base case beside it."""
    write_toml(folder / "base.toml", small_block())
    path = folder / name
    path.write_text(f'case = "base.toml"\n[axes]\n"beam.power_W" = {powers!r}\n')
    return path


def test_folder_of_another_study_is_refused(tmp_path, capsys):
    a = power_study_file(tmp_path, "a.toml", [1.0])
    out = tmp_path / "out"
    assert main(["sweep", str(a), "-o", str(out), "-q"]) == 0
    before = {f: f.read_bytes() for f in out.rglob("*") if f.is_file()}
    b = tmp_path / "b.toml"  # a study over another axis
    b.write_text('case = "base.toml"\n[axes]\n"beam.fwhm_um" = [20.0]\n')
    assert main(["sweep", str(b), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "holds a different study" in err and err.count("\n") == 0
    assert {f: f.read_bytes() for f in out.rglob("*") if f.is_file()} == before
    # a folder with unrelated files is not taken over either
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert main(["sweep", str(a), "-o", str(other)]) == 2
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]


def test_a_study_grows_and_shrinks_in_its_folder(tmp_path, capsys):
    """Adding an axis value keeps the finished case (same id, its files untouched) and runs
    only the new one; --list and the run agree; removing a value leaves its folder in
    place and its row out of the table."""
    out = tmp_path / "out"
    one = power_study_file(tmp_path, "one.toml", [1.0])
    assert main(["sweep", str(one), "-o", str(out), "-q"]) == 0
    first = json.loads((out / "study.json").read_text())["cases"][0]["id"]
    kept = (out / "cases" / first / "result.json").read_bytes()
    two = power_study_file(tmp_path, "two.toml", [1.0, 2.0])
    capsys.readouterr()
    assert main(["sweep", str(two), "-o", str(out), "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[2] for line in listed] == ["ok", "to"]  # "to run"
    assert main(["sweep", str(two), "-o", str(out), "-q"]) == 0
    assert (out / "cases" / first / "result.json").read_bytes() == kept  # not rerun
    rows = list(csv.DictReader((out / "results.csv").read_text().splitlines()))
    # whole floats keep their ".0": "1", "2" read back as integers (pandas: int64), where
    # results.parquet and the API's table have the powers as floats
    assert [r["beam.power_W"] for r in rows] == ["1.0", "2.0"] and rows[0]["id"] == first
    pd = pytest.importorskip("pandas")
    back = pd.read_csv(out / "results.csv")
    assert back["beam.power_W"].dtype == "float64" and back["cells"].dtype == "int64"
    assert back["beam.power_W"].tolist() == [1.0, 2.0]
    assert json.loads((out / "study.json").read_text())["earlier"][0]["cases"] == [first]
    # linear in the power (constant properties, far field at 0 °C): the rise doubles
    T = [float(r["T_peak_max_C"]) - T0_C for r in rows]
    assert T[1] == pytest.approx(2 * T[0], rel=1e-9)
    only2 = power_study_file(tmp_path, "only2.toml", [2.0])
    assert main(["sweep", str(only2), "-o", str(out), "-q"]) == 0
    rows = list(csv.DictReader((out / "results.csv").read_text().splitlines()))
    assert [r["beam.power_W"] for r in rows] == ["2.0"]
    assert (out / "cases" / first / "result.json").is_file()  # left in place


# --------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------
#: Three powers: enough for the linearity check, a first finished case with others still to
#: run (the kill-and-resume tests) and two workers at once; each case costs a process.
POWERS = [2.0, 5.0, 20.0]


def power_study():
    return {"title": "peak temperature against power",
            "case": small_block(), "axes": {"beam.power_W": POWERS},
            "plot": {"x": "beam.power_W", "y": "T_peak_max_C"}}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The power study run uninterrupted with two processes (Python API)."""
    out = tmp_path_factory.mktemp("ref") / "study"
    table = anodesim.sweep(power_study(), out, jobs=2)
    return out, table


def fresh_copy(study_folder, folder):
    """A new study folder holding only a copy of study_folder's study.json: the same study,
    nothing run yet."""
    folder.mkdir()
    (folder / "study.json").write_bytes((study_folder / "study.json").read_bytes())
    return folder


@pytest.mark.slow
def test_sweep_rows_match_single_runs_and_scale_linearly(reference, tmp_path):
    """Constant properties and a fixed far field: the rise is linear in the power, so every
    row's peak over power must agree to solver round-off (tol 1e-9); and each row equals a
    run of that case alone (tol 1e-12)."""
    out, table = reference
    assert [r["status"] for r in table.rows] == ["ok"] * len(POWERS)
    rise = [(r["T_peak_max_C"] - T0_C) / r["beam.power_W"] for r in table.rows]
    assert max(rise) == pytest.approx(min(rise), rel=1e-9)
    single = anodesim.run(small_block(beam={"power_W": POWERS[2]}))
    assert table.rows[2]["T_peak_max_C"] == pytest.approx(
        single.T_peak_max_C, rel=1e-12)
    assert table.rows[2]["deposited_power_W"] == pytest.approx(POWERS[2], rel=1e-12)
    rows = read_table(out / "results.csv")
    assert [float(r["beam.power_W"]) for r in rows] == POWERS
    assert {"index", "id", "status", "error", "wall_s", "T_peak_max_C"} <= set(rows[0])
    assert (out / "results.png").stat().st_size > 1000
    for r in table.rows:
        assert (out / "cases" / r["id"] / "summary.json").is_file()
    saved = json.loads((out / "study.json").read_text())
    assert saved["id"] and len(saved["cases"]) == len(POWERS)
    assert "versions" in saved["provenance"]
    assert not list((out / "cases").glob(".*"))  # no work folders left behind


def test_failed_case_is_recorded_and_the_sweep_goes_on(tmp_path, capsys):
    # 3 mm does not fit a 1 mm hemisphere face: invalid for that point only
    st = {"case": small_block(), "axes": {"beam.fwhm_um": [20.0, 3000.0]}}
    table = anodesim.sweep(st, tmp_path / "s")
    ok, bad = table.rows
    assert ok["status"] == "ok" and math.isfinite(ok["T_peak_max_C"])
    assert bad["status"] == "failed" and "beam.fwhm_um = 3000.0" in bad["error"]
    rows = read_table(tmp_path / "s" / "results.csv")
    assert rows[1]["status"] == "failed" and rows[1]["T_peak_max_C"] == ""
    assert (tmp_path / "s" / "cases" / bad["id"] / "error.txt").is_file()
    # --list of the folder says why the failed case failed (it said "failed" alone)
    capsys.readouterr()
    assert main(["sweep", str(tmp_path / "s"), "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert "ok" in listed[0] and listed[0].endswith("beam.fwhm_um = 20.0"), listed
    assert "failed" in listed[1] and listed[1].endswith(f"({bad['error']})"), listed


def test_list_and_task_id(tmp_path, capsys):
    s = power_study_file(tmp_path, "s.toml", [1.0, 3.0])
    out = tmp_path / "out"
    assert main(["sweep", str(s), "-o", str(out), "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 2 and "to run" in listed[0] and "beam.power_W = 3.0" in listed[1]
    assert not out.exists()  # listing writes nothing
    # what an array task runs: one case, by index
    assert main(["sweep", str(s), "-o", str(out), "--task-id", "1", "-q"]) == 0
    assert main(["sweep", str(out), "--collect", "-q"]) == 1  # case 0 is pending
    rows = read_table(out / "results.csv")
    assert [r["status"] for r in rows] == ["pending", "ok"]
    assert main(["sweep", str(s), "-o", str(out), "--task-id", "2"]) == 2



def test_a_probe_outside_the_body_is_invalid_in_the_list_and_the_table(tmp_path, capsys):
    """`check` refuses a probe outside the body; --list called such a case "to run" (it then
    failed at run time) and --collect "pending". Now --list says invalid and why, and the
    table of a study not run yet has the row its run gives (failed, and why); the case id
    stays the resolved case's. --collect into a folder that holds no study refuses (it wrote
    a study folder of pending rows, exit 0)."""
    base = write_toml(tmp_path / "base.toml", small_block(
        probes={"below": {"r_mm": 0.0, "depth_mm": 0.1}}))
    s = tmp_path / "s.toml"
    s.write_text('case = "base.toml"\n[axes]\n"probes.below.depth_mm" = [0.1, 50.0]\n')
    assert main(["check", str(base)]) == 0
    capsys.readouterr()
    out = tmp_path / "out"
    assert main(["sweep", str(s), "-o", str(out), "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    why = ("probes.below: (r_mm = 0, depth_mm = 50) is outside the mesh; expected depth_mm at "
           "most 0.5 at r_mm = 0 (the body's extent below the beam face there)")
    assert "to run" in listed[0] and "invalid" in listed[1] and why in listed[1], listed
    st = study_mod.load(s)
    assert st.points[1].id == study_mod.spec._point_id(
        anodesim.from_dict(st.points[1].data, st.points[1].base_dir), {"run": True, "rate": []})
    # --collect on a folder that never held the study: one line, exit 2, nothing written
    assert main(["sweep", str(s), "-o", str(out), "--collect"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"anodesim: error: --collect: {out} holds no study (no study.json); "
                   "expected the folder of a study that has run (without --collect the "
                   "sweep runs it there)"), err
    assert not out.exists()
    # a study folder none of whose cases has finished: pending, and the invalid one failed
    study_mod.open_folder(st, out)
    assert main(["sweep", str(out), "--collect", "-q"]) == 1
    rows = read_table(out / "results.csv")
    assert [r["status"] for r in rows] == ["pending", "failed"]
    assert rows[0]["error"] == "" and rows[1]["error"] == f"CaseError: {why}"
    # an initial temperature outside the materials' data, as check finds it
    hot = tmp_path / "hot.toml"
    hot.write_text('case = "base.toml"\n[axes]\n"initial.temperature_C" = [30.0, -150.0]\n')
    assert main(["sweep", str(hot), "-o", str(tmp_path / "hot"), "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert "to run" in listed[0] and "invalid" in listed[1], listed
    assert "initial.temperature_C = -150: outside the data of" in listed[1], listed


@pytest.mark.slow
def test_sigkill_and_resume_lose_nothing(reference, tmp_path):
    """Kill the whole sweep (the runner and its worker) with SIGKILL after the first case has
    finished, as a power loss would; the table on disk is whole, and the restarted sweep
    skips the finished case and ends with the same table as an uninterrupted run."""
    ref_out, ref_table = reference
    out = fresh_copy(ref_out, tmp_path / "killed")  # the same study, nothing run yet
    cmd = [sys.executable, "-m", "anodesim", "sweep", str(out), "-j", "1"]
    proc = subprocess.Popen(cmd, start_new_session=True, stderr=subprocess.DEVNULL)
    # the runner has recorded the first finished case in results.csv ...
    wait_until(lambda: ok_rows(out / "results.csv") >= 1, proc, "a first finished case")
    # ... and the next worker has started (its locked work folder exists)
    wait_until(lambda: list((out / "cases").glob(".*")), proc, "the next worker")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {p.name: (p / "result.json").read_bytes() for p in (out / "cases").iterdir()
                if (p / "result.json").exists()}
    assert 1 <= len(finished) < len(POWERS)
    rows = read_table(out / "results.csv")  # written atomically: whole and parseable
    assert len(rows) == len(POWERS) and sum(r["status"] == "ok" for r in rows) == len(finished)

    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert f"{len(finished)} already finished" in r.stderr
    for name, blob in finished.items():  # not run again
        assert (out / "cases" / name / "result.json").read_bytes() == blob
    assert outputs(read_table(out / "results.csv")) == outputs(
        read_table(ref_out / "results.csv"))
    assert not list((out / "cases").glob(".*"))


# --------------------------------------------------------------------------------------
# SLURM job arrays, on a real single-node cluster started for the test
# --------------------------------------------------------------------------------------
SLURM_HERE = Path(__file__).resolve().parents[2] / "shared" / "tools" / "slurm-here"


@pytest.fixture(scope="module")
def slurm():
    if not SLURM_HERE.exists():
        pytest.skip(f"SLURM TEST NOT RUN: {SLURM_HERE} is absent (a user's clone has no "
                    "../shared); the SLURM path is untested here")
    # slurm-here sizes the node with nproc, which obeys OMP_NUM_THREADS: the node gets
    # every core only without it
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS",
                                                             "OMP_THREAD_LIMIT")}
    r = subprocess.run([str(SLURM_HERE)], capture_output=True, text=True, timeout=600,
                       env=env)
    if r.returncode != 0:
        pytest.skip(f"SLURM TEST NOT RUN: slurm-here could not start a cluster: "
                    f"{(r.stdout + r.stderr).strip().splitlines()[-1:]}")
    cpus = subprocess.run(["sinfo", "-h", "-o", "%c"], capture_output=True, text=True)
    return int(cpus.stdout.split()[0].rstrip("+"))


def test_a_sweep_leaves_the_callers_environment_alone(tmp_path):
    """The local runner starts its fork server with one thread per case, but the calling
    process's environment stays as it was (a sweep once left OMP_NUM_THREADS=1 behind, and
    a later `nproc` in the same script, slurm-here's, counted one core)."""
    before = dict(os.environ)
    table = anodesim.sweep({"case": small_block(), "axes": {"beam.power_W": [1.0]}},
                           tmp_path / "out")
    assert [r["status"] for r in table.rows] == ["ok"]
    assert dict(os.environ) == before


@pytest.mark.slow
@pytest.mark.slurm
def test_slurm_array_gives_the_local_results(slurm, reference, tmp_path):
    ref_out, _ = reference
    out = fresh_copy(ref_out, tmp_path / "slurm study")  # a space, quoted in the script
    cmd = [sys.executable, "-m", "anodesim", "sweep", str(out), "--submit", "slurm", "--wait"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    assert "submitted SLURM array job" in r.stderr
    # it waits: no "run `anodesim sweep DIR --collect` when it has finished" (it was told
    # to, with --wait, as if the command had returned)
    assert "waiting for it to finish" in r.stderr and "--collect" not in r.stderr, r.stderr
    script = (out / "slurm" / "array.sh").read_text()
    assert f"#SBATCH --array=0-{len(POWERS) - 1}" in script
    assert '--task-id "$SLURM_ARRAY_TASK_ID"' in script
    job = (out / "slurm" / "job_id").read_text().strip()
    assert len(list((out / "slurm").glob(f"{job}_*.out"))) == len(POWERS)  # every task ran
    # identical numbers: the same code on the same inputs, one thread per case
    assert outputs(read_table(out / "results.csv")) == outputs(
        read_table(ref_out / "results.csv"))
    # submitting again finds nothing to do and only collects
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and "all cases have finished" in r.stderr


@pytest.mark.slow
@pytest.mark.slurm
def test_slurm_single_mpi_run_gives_the_local_result(slurm, tmp_path):
    """`anodesim run CASE --submit slurm --ntasks 2 --wait`: one SLURM job whose two MPI
    ranks share the mesh, with the numbers of a local one-rank run to round-off (relative
    1e-8: LU on both, MUMPS on two ranks, PETSc's LU on one)."""
    if slurm < 2:
        pytest.skip(f"SLURM TEST NOT RUN: the cluster's node has {slurm} CPU; a two-rank "
                    "job cannot start there")
    case = tmp_path / "case.toml"
    write_toml(case, small_block())
    out = tmp_path / "slurm run"  # a space, quoted in the script
    r = subprocess.run([sys.executable, "-m", "anodesim", "run", str(case), "-o", str(out),
                        "--submit", "slurm", "--ntasks", "2", "--wait"],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    assert "submitted SLURM job" in r.stderr and "on 2 ranks" in r.stderr
    script = (out / "slurm" / "run.sh").read_text()
    assert "#SBATCH --ntasks=2" in script and '-n "$SLURM_NTASKS"' in script
    s = json.loads((out / "summary.json").read_text())
    assert s["provenance"]["mpi_ranks"] == 2 and s["status"] == "complete"
    local = anodesim.run(small_block()).summary_dict()
    assert s["numerics"]["cells"] == local["numerics"]["cells"]
    assert s["results"]["T_peak_max_C"] == pytest.approx(local["results"]["T_peak_max_C"],
                                                         rel=1e-8)


@pytest.mark.slurm
def test_slurm_run_with_report_writes_the_report(slurm, tmp_path):
    """`anodesim run CASE --submit slurm --report --wait`: the job writes report.html
    beside its results, as a local `run --report` does (the flag was accepted and then
    ignored: no report, no word about it)."""
    case = tmp_path / "case.toml"
    write_toml(case, small_block())
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "anodesim", "run", str(case), "-o", str(out),
                        "--submit", "slurm", "--report", "--wait"],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    assert "--report" in (out / "slurm" / "run.sh").read_text().splitlines()[-1]
    page = (out / "report.html").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert f"{summary['results']['T_peak_max_C']:.1f} °C" in page
    assert f"report: {out / 'report.html'}" in r.stderr and "on 1 rank," in r.stderr


@pytest.mark.slurm
def test_slurm_job_that_can_never_start_is_cancelled_and_named(slurm, tmp_path):
    """A job asking for more ranks than the node has waits in the queue for ever (reason
    PartitionConfig): --wait cancels it and says why in one line, exit 2, instead of
    waiting (as the two-rank test once did on a node sized at one CPU)."""
    case = tmp_path / "case.toml"
    write_toml(case, small_block())
    out = tmp_path / "o"
    r = subprocess.run([sys.executable, "-m", "anodesim", "run", str(case), "-o", str(out),
                        "--submit", "slurm", "--ntasks", str(slurm + 1), "--wait", "-q"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr
    line = r.stderr.strip()
    assert "\n" not in line and "cannot start (PartitionConfig" in line, line
    assert "it was cancelled" in line
    job = re.search(r"SLURM job (\d+)", line).group(1)
    left = subprocess.run(["squeue", "-h", "-j", job], capture_output=True, text=True)
    assert not left.stdout.strip()  # gone from the queue
    assert not (out / "summary.json").exists()


def test_run_submit_needs_a_valid_case_and_rank_count(tmp_path, capsys, monkeypatch):
    """Bad input of --submit is refused before anything is submitted (exit 2, one line)."""
    case = tmp_path / "case.toml"
    write_toml(case, small_block())
    assert main(["run", str(case), "-o", str(tmp_path / "o"), "--submit", "slurm",
                 "--ntasks", "0"]) == 2
    assert "--ntasks 0: expected from 1 to 1024 MPI ranks" in capsys.readouterr().err
    # 100000000 was submitted, pending for ever for a node of that size
    assert main(["run", str(case), "-o", str(tmp_path / "o"), "--submit", "slurm",
                 "--ntasks", "100000000"]) == 2
    assert capsys.readouterr().err.strip() == (
        "anodesim: error: --ntasks 100000000: expected from 1 to 1024 MPI ranks (the job runs "
        "on one node; the largest have 384 cores)")
    assert not (tmp_path / "o").exists()
    assert main(["run", str(case), "-o", str(tmp_path / "o"), "--wait"]) == 2
    assert "--wait: expected together with --submit slurm" in capsys.readouterr().err
    # --ntasks alone was ignored: the run went ahead on one rank here (the audit's finding)
    assert main(["run", str(case), "-o", str(tmp_path / "o"), "--ntasks", "2"]) == 2
    assert "--ntasks 2: expected together with --submit slurm (a local MPI run is `mpirun " \
        "-n 2 anodesim run ...`)" in capsys.readouterr().err
    # -o "" fell back to the default folder, results/<case name>
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(case), "-o", ""]) == 2
    assert "-o '': expected a folder name" in capsys.readouterr().err
    assert not (tmp_path / "o").exists() and not Path("results", "case").exists()


def test_several_base_cases_and_the_folder_copy(tmp_path):
    """`case` as a list is an axis of base files; the study folder's self-contained copy
    expands to the same cases (so a worker or a resumed sweep finds the same ids)."""
    write_toml(tmp_path / "a.toml", small_block())
    write_toml(tmp_path / "b.toml", small_block(geometry={"kind": "block", "radius_mm": 0.6}))
    st = study_mod.from_dict({"case": ["a.toml", "b.toml"],
                              "axes": {"beam.fwhm_um": [10.0, 20.0]}}, tmp_path)
    assert list(st.axes) == ["case", "beam.fwhm_um"] and len(st.points) == 4
    assert st.points[2].data["geometry"]["radius_mm"] == 0.6
    from anodesim.study import open_folder

    open_folder(st, tmp_path / "out")
    (tmp_path / "a.toml").unlink()  # the folder does not need the original files
    again = study_mod.load(tmp_path / "out")
    assert again.id == st.id and [p.id for p in again.points] == [p.id for p in st.points]


@pytest.mark.slow
def test_readme_python_sweep_example(tmp_path, monkeypatch):
    """The README's Python sweep example runs as printed (from the repository root) and its
    table agrees with itself: a larger spot runs cooler at the same power."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    start = readme.index("**Python.** Build cases in code")
    code = readme[readme.index("```python", start) + 9: readme.index("```", readme.index(
        "```python", start) + 9)]
    repo = Path(__file__).resolve().parents[1]
    (tmp_path / "studies").symlink_to(repo / "studies")
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code.replace('"beam.fwhm_um": [10, 20, 40]', '"beam.fwhm_um": [20, 40], '
                              '"loading.duration_s": [0.05], "output.fields": [False]'),
                 "README.md", "exec"), scope)
    table = scope["table"]
    assert (tmp_path / "results" / "my_sweep" / "results.csv").is_file()
    assert not table.failed
    peaks = table.column("T_peak_max_C")
    assert peaks[0] > peaks[1] > 30.0


@pytest.mark.slow
def test_schedule_rating_rows(tmp_path):
    """A rated sweep: the row's maximum safe power, run as a case, puts the binding limit
    (the short-exposure spot limit, W melting less 200 K) on its limit from below to the
    rating tolerance (0.5 % of the allowed rise), and the mean power is the duty cycle (0.5)
    times it."""
    from anodesim import materials
    from anodesim.limits import SPOT_MARGIN_K

    base = small_block(loading={"kind": "pulse_train", "pulses": 2, "on_s": 1e-3,
                                "off_s": 1e-3}, limits={"spot": "short_exposure"})
    table = anodesim.sweep({"case": base, "axes": {"beam.fwhm_um": [20.0]},
                            "tasks": {"run": False, "rate": ["schedule"]}}, tmp_path / "s")
    row = table.rows[0]
    assert row["status"] == "ok", row["error"]
    assert row["binding_limit"] == "spot"
    assert row["max_safe_mean_beam_power_W"] == pytest.approx(
        0.5 * row["max_safe_beam_power_W"], rel=1e-12)
    check = anodesim.run(small_block(loading=base["loading"], limits=base["limits"],
                                     beam={"power_W": row["max_safe_beam_power_W"]}))
    limit_C = materials.get("W").melting_K - SPOT_MARGIN_K - 273.15
    assert limit_C - 0.005 * (limit_C - T0_C) <= check.T_peak_max_C <= limit_C


@pytest.mark.slow
@pytest.mark.slurm
def test_slurm_task_that_never_ran_is_a_failed_row(slurm, reference, tmp_path):
    """An array task cancelled before it ran leaves no result: --wait records it as failed,
    with the reason, and the command exits 1."""
    ref_out, _ = reference
    out = fresh_copy(ref_out, tmp_path / "cancelled")
    proc = subprocess.Popen([sys.executable, "-m", "anodesim", "sweep", str(out), "--submit",
                             "slurm", "--wait"], stderr=subprocess.PIPE, text=True)
    job_file = out / "slurm" / "job_id"
    wait_until(job_file.exists, proc, "a submitted job")
    job = job_file.read_text().strip()
    last = len(POWERS) - 1
    subprocess.run(["scancel", f"{job}_{last}"], check=True)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, err
    rows = read_table(out / "results.csv")
    assert [r["status"] for r in rows[:last]] == ["ok"] * last
    assert rows[last]["status"] == "failed" and f"task {job}_{last} ended without a " \
        "result" in rows[last]["error"]


# --------------------------------------------------------------------------------------
# Concurrency: executors that overlap (a resumed sweep, array tasks, GNU parallel)
# --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_runner_killed_alone_takes_its_workers_with_it(reference, tmp_path):
    """SIGKILL of the runner only: its workers die with it (no orphan writes on), and the
    restarted sweep ends with the reference table."""
    ref_out, _ = reference
    out = fresh_copy(ref_out, tmp_path / "runner_killed")
    cmd = [sys.executable, "-m", "anodesim", "sweep", str(out), "-j", "2"]
    proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    wait_until(lambda: list((out / "cases").glob(".*")), proc, "a started worker")
    # a worker's pid is in its work folder's name (.ID.PID@HOST), forked or not
    workers = [int(d.name.split(".")[2].split("@")[0]) for d in (out / "cases").glob(".*")]
    assert workers
    proc.kill()
    proc.wait()
    assert all(wait_for_exit(pid) for pid in workers), "a worker outlived its runner"
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert outputs(read_table(out / "results.csv")) == outputs(
        read_table(ref_out / "results.csv"))
    assert not list((out / "cases").glob(".*"))


def _forked_state(conn) -> None:
    """In a worker forked from the sweep's fork server: what the server left initialised,
    and whether the worker can then initialise MPI and PETSc itself."""
    import sys

    from mpi4py import MPI

    from anodesim.study.preload import init_worker

    from anodesim import electron_kernels

    mapped = open("/proc/self/maps").read() if sys.platform == "linux" else "cpp PETSc"
    before = (MPI.Is_initialized(), "petsc4py.PETSc" in sys.modules, "ufl" in sys.modules,
              "anodesim.output" in sys.modules, "dolfinx" in sys.modules,
              "dolfinx/cpp" in mapped and "petsc4py/lib/PETSc" in mapped,
              electron_kernels.load.cache_info().currsize)
    init_worker()
    from anodesim import _mpi  # noqa: F401
    from petsc4py import PETSc

    conn.send((before, MPI.Is_initialized(), PETSc.Sys.isInitialized(),
               MPI.COMM_SELF.allreduce(2)))
    conn.close()


def test_fork_server_initialises_neither_mpi_nor_petsc():
    """A worker forked from the server is a clean process: the server has imported the
    Python stack (UFL, the anodesim modules), mapped the compiled libraries of dolfinx and
    PETSc and read the electron tables, but not initialised MPI or PETSc (forking after
    MPI_Init is unsafe); the worker initialises both itself."""
    from anodesim.study import local

    ctx = local._fork_context()
    assert ctx is not None  # the default: forked workers
    receive, send = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_forked_state, args=(send,))
    p.start()
    send.close()
    state = receive.recv()
    p.join()
    assert p.exitcode == 0
    # the compiled libraries of dolfinx and petsc4py mapped, not imported; the tables read
    assert state == ((False, False, True, True, False, True, 1), True, True, 2)


@pytest.mark.slow
def test_forked_workers_give_the_new_interpreter_table(reference, tmp_path, monkeypatch):
    """The reference sweep ran with forked workers (the default); the same study with a new
    interpreter per case (ANODESIM_SWEEP_FORK=0) gives the same table: every value equal
    to round-off (rel 1e-12; the two run the same code on the same mesh file)."""
    ref_out, ref_table = reference
    out = fresh_copy(ref_out, tmp_path / "interpreters")
    monkeypatch.setenv("ANODESIM_SWEEP_FORK", "0")
    from anodesim.study import local

    assert local._fork_context() is None
    table = anodesim.sweep(out, out, jobs=2)
    assert [r["status"] for r in table.rows] == ["ok"] * len(POWERS)
    for new, ref in zip(outputs(table.rows), outputs(ref_table.rows)):
        assert new.keys() == ref.keys()
        for k, v in new.items():
            if isinstance(v, float):
                assert v == pytest.approx(ref[k], rel=1e-12, abs=1e-300), k
            else:
                assert v == ref[k], k


@pytest.mark.slow
def test_forked_worker_does_not_rerun_the_users_script(tmp_path):
    """A user's script that sweeps without an ``if __name__ == "__main__"`` guard: the
    forked workers do not import it again (multiprocessing would, for its main module), so
    it runs once and its case is computed."""
    st = {"case": small_block(), "axes": {"beam.power_W": [2.0]}}
    script = tmp_path / "user_script.py"
    script.write_text(
        "import json, anodesim\n"
        f"open({str(tmp_path / 'ran.txt')!r}, 'a').write('ran\\n')\n"
        f"t = anodesim.sweep(json.loads({json.dumps(json.dumps(st))}), {str(tmp_path / 'o')!r})\n"
        "print(t.rows[0]['status'])\n")
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["ok"]
    assert (tmp_path / "ran.txt").read_text() == "ran\n"


@pytest.mark.slow
def test_same_case_run_twice_at_once(reference, tmp_path):
    """Two executors run the same case at the same time: both succeed, one result stands,
    nothing is left behind."""
    ref_out, _ = reference
    out = fresh_copy(ref_out, tmp_path / "twice")
    cmd = [sys.executable, "-m", "anodesim", "sweep", str(out), "--task-id", "0", "-q"]
    procs = [subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=900)
        assert p.returncode == 0, err
    assert [d.name for d in (out / "cases").iterdir()] == [json.loads(
        (out / "study.json").read_text())["cases"][0]["id"]]


def test_folders_created_at_once_and_stale_work_locks(tmp_path):
    """Tasks that create the study folder together all accept it; a work folder whose
    worker holds its lock survives a sweep's clean-up, and goes once the lock is free."""
    import fcntl
    import threading

    from anodesim.study import _clean_stale, open_folder

    st = study_mod.from_dict({"case": small_block(), "axes": {"beam.power_W": [1.0, 2.0]}})
    for trial in range(20):
        out, errors = tmp_path / f"t{trial}", []
        barrier = threading.Barrier(4)

        def task(out=out, errors=errors, barrier=barrier):
            barrier.wait()
            try:
                open_folder(st, out)
            except CaseError as e:
                errors.append(str(e))

        threads = [threading.Thread(target=task) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
    work = tmp_path / "t0" / "cases" / ".abc.123"
    work.mkdir()
    fd = os.open(work / ".lock", os.O_CREAT | os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    _clean_stale(tmp_path / "t0")
    assert work.exists()
    os.close(fd)
    _clean_stale(tmp_path / "t0")
    assert not work.exists()
    # a worker killed before it took its lock: gone at once when its process is gone on
    # this host; kept while it lives (it is about to lock); another host's: kept (young)
    import socket

    host = socket.gethostname()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    names = (f".abc.{dead.pid}@{host}", f".abc.{os.getpid()}@{host}", f".abc.{dead.pid}@elsewhere")
    folders = {name: tmp_path / "t0" / "cases" / name for name in names}
    for d in folders.values():
        d.mkdir()
    _clean_stale(tmp_path / "t0")
    assert [d.exists() for d in folders.values()] == [False, True, True]


@pytest.mark.parametrize("change, message", [
    ({"plot": {"y": 5}}, "plot.y = 5: expected a column name"),
    ({"plot": {"x": ["beam.power_W"]}}, "plot.x = ['beam.power_W']: expected one of the axes"),
    ({"plot": {"x": "time_s"}, "tasks": {"run": False, "rate": ["continuous"]}},
     "plot.x = 'time_s': expected an axis: the time series needs tasks.run = true"),
    ({"slurm": {"extra": "--mem=1G"}}, "slurm.extra = '--mem=1G': expected a list"),
    ({"bases": {}}, "bases: unknown key"),
    ({"axes": {"beam.power_W": [object()]}}, "expected numbers, strings, booleans"),
])
def test_bad_study_tables(change, message):
    st = {"case": small_block(), "axes": {"beam.power_W": [1.0]}, **change}
    with pytest.raises(CaseError, match=re.escape(message)):
        study_mod.from_dict(st)


def test_numpy_axis_values_and_jobs_check(tmp_path):
    import numpy as np

    st = study_mod.from_dict({"case": small_block(),
                              "axes": {"beam.power_W": list(np.arange(2, 4))}})
    assert [p.inputs["beam.power_W"] for p in st.points] == [2, 3]
    assert all(p.error is None for p in st.points)
    with pytest.raises(CaseError, match=r"jobs = 0: expected from 1 to 1024 processes"):
        anodesim.sweep({"case": small_block()}, tmp_path / "j0", jobs=0)
    assert not (tmp_path / "j0").exists()


def test_sweep_processes_are_bounded_and_crowding_warned(tmp_path, capsys):
    """-j / jobs above study.MAX_JOBS (1024) is one line, exit 2, nothing written:
    100000000 was taken. Above the cores this process may use (processes.cores) the sweep
    runs with one warning: the cases share the cores."""
    from anodesim.processes import cores
    from anodesim.study.folder import MAX_JOBS

    expected = (f"expected from 1 to {MAX_JOBS} processes (each case is one process on this "
                "machine, of some 0.2 GB or more)")
    with pytest.raises(CaseError, match=re.escape(f"jobs = {MAX_JOBS + 1}: {expected}")):
        anodesim.sweep({"case": small_block()}, tmp_path / "api", jobs=MAX_JOBS + 1)
    assert not (tmp_path / "api").exists()
    write_toml(tmp_path / "base.toml", small_block())
    study = tmp_path / "study.toml"
    study.write_text('case = "base.toml"\n[axes]\n"beam.power_W" = [2.0, 3.0]\n')
    assert main(["sweep", str(study), "-o", str(tmp_path / "cli"), "-j", "100000000"]) == 2
    assert capsys.readouterr().err.strip() == f"anodesim: error: -j 100000000: {expected}"
    assert not (tmp_path / "cli").exists()
    n = cores()
    assert main(["sweep", str(study), "-o", str(tmp_path / "crowded"), "-j", str(n + 1)]) == 0
    err = capsys.readouterr().err
    assert (f"anodesim: warning: -j {n + 1}: more cases at once than the {n} cores this "
            "machine gives the sweep;") in err
    assert len(list((tmp_path / "crowded").glob("*/summary.json"))) == 2 or \
        (tmp_path / "crowded" / "results.csv").exists()
    assert main(["sweep", str(study), "-o", str(tmp_path / "alone"), "-j", "1"]) == 0
    assert "warning" not in capsys.readouterr().err



def test_sweep_warns_of_crowding_only_where_it_runs_cases(tmp_path, capsys):
    """The -j warning above the cores (229469e) was printed by `sweep --list` too, which
    runs nothing (nor do --collect and one --task-id): "-j 8: more cases at once than the
    2 cores ...". Now only where -j runs cases; --list's table is unchanged."""
    from anodesim.processes import cores

    write_toml(tmp_path / "base.toml", small_block())
    study = tmp_path / "study.toml"
    study.write_text('case = "base.toml"\n[axes]\n"beam.power_W" = [2.0, 3.0]\n')
    j = str(cores() + 1)
    assert main(["sweep", str(study), "-o", str(tmp_path / "s"), "-j", j, "--list"]) == 0
    out, err = capsys.readouterr()
    assert "warning" not in err and len(out.splitlines()) == 2, (out, err)
    assert not (tmp_path / "s").exists()

def test_a_study_built_in_code_takes_paths_and_numpy_axes(tmp_path):
    """What a script hands a study dict: its base case as a pathlib.Path (or a list of
    them), an axis as a numpy array (np.linspace, np.logspace), a range's num as a numpy
    integer. Each was refused ("case = PosixPath(...): expected a case file name", "axes.
    "beam.power_W" = array([...]): expected a list of values", "num = np.int64(3):
    expected an integer"), though run and sweep take a Path and the values are plain
    numbers. The points are those of the same study given as str and lists (same ids). A
    Case, which holds no folder for its relative file names, is refused in a short line
    saying what to give (it printed the whole Case, some 3 000 characters)."""
    import numpy as np

    base = write_toml(tmp_path / "base.toml", small_block())
    plain = study_mod.from_dict({"case": str(base), "axes": {
        "beam.power_W": [1.0, 2.0], "beam.fwhm_um": [10.0, 20.0, 30.0]}})
    for case in (base, [base]):
        st = study_mod.from_dict({"case": case, "axes": {
            "beam.power_W": np.linspace(1.0, 2.0, 2),
            "beam.fwhm_um": {"start": np.float32(10.0), "stop": 30.0, "num": np.int64(3)}}})
        assert [p.id for p in st.points] == [p.id for p in plain.points]
        assert [p.inputs for p in st.points] == [p.inputs for p in plain.points]
        assert all(type(v) is float for p in st.points for v in p.inputs.values())
    with pytest.raises(CaseError, match=r"^case = <anodesim\.Case 'semi-infinite W block'>: "
                                        r"expected a case file name.*case\.source") as e:
        study_mod.from_dict({"case": anodesim.from_dict(small_block()),
                             "axes": {"beam.power_W": [1.0]}})
    assert len(str(e.value)) < 400


def test_an_axis_value_is_plain_data_as_a_case_value_is():
    """An axis value is made plain data by the rule the case reader uses (case.plain_data):
    a tuple (a list of duty cycles a script writes as (0.1, 0.5)) was refused in a study
    ("expected numbers, strings, booleans, lists or tables") where from_dict takes it, and
    a numpy number inside a table or list value (an override's np.int64) stopped the study
    with "TypeError: Object of type int64 is not JSON serializable". Each point now holds
    the value as the same study written with plain lists and numbers (same ids and inputs);
    a value no TOML holds, inside a list, is still one line."""
    import numpy as np

    def points(axes):
        st = study_mod.from_dict({"case": reflection(), "axes": axes})
        return [(p.id, p.inputs) for p in st.points], [p.error for p in st.points]

    plain = points({"rating.duty_cycles": [[0.1, 0.5], [0.2, 0.5]],
                    "materials.override.heat_sink": [{"k_W_mK": 300}, {"k_W_mK": 350}]})
    assert plain[1] == [None] * 4
    given = points({"rating.duty_cycles": [(0.1, 0.5), np.array([0.2, 0.5])],
                    "materials.override.heat_sink": [{"k_W_mK": np.int64(300)},
                                                     {"k_W_mK": np.int64(350)}]})
    assert given == plain
    anodesim.from_dict(reflection(rating={"duty_cycles": (0.1, 0.5)}))  # as a case takes it
    refused = (r'^axes\."rating\.duty_cycles" = \[0\.1, \{1\}\]: expected numbers, '
               "strings, booleans, lists or tables")
    with pytest.raises(CaseError, match=refused):
        points({"rating.duty_cycles": [[0.1, {1}]]})


def test_results_parquet_keeps_true_and_false_beside_a_failed_case(tmp_path):
    """results.parquet's yes/no columns (limits_hold, confirmed_*) stay booleans when a case
    failed or is pending (no value): they were written as the text "True"/"False" beside
    a null, so df[df.limits_hold] raised and df.limits_hold == True matched nothing; the
    other columns keep their types (numbers with NaN, text). Table.to_pandas() gives the
    same nullable booleans (it gave objects)."""
    pytest.importorskip("pyarrow")
    import pandas as pd

    from anodesim.study.table import Table

    columns = ["index", "id", "status", "error", "T_peak_max_C", "limits_hold",
               "binding_continuous", "mixed"]
    rows = [{"index": 0, "id": "a", "status": "ok", "error": "", "T_peak_max_C": 91.5,
             "limits_hold": True, "binding_continuous": "erosion", "mixed": 1.0},
            {"index": 1, "id": "b", "status": "ok", "error": "", "T_peak_max_C": 2058.0,
             "limits_hold": False, "binding_continuous": "spot", "mixed": "x"},
            {"index": 2, "id": "c", "status": "failed", "error": "MeltingError: ...",
             "T_peak_max_C": None, "limits_hold": None, "binding_continuous": None}]
    table = Table(columns, rows, tmp_path)
    assert table.to_pandas()["limits_hold"].dtype == "boolean"  # as the file holds it
    back = pd.read_parquet(table.to_parquet())
    assert back["limits_hold"].dtype == "boolean"
    assert back["limits_hold"].tolist()[:2] == [True, False]
    assert back["limits_hold"].isna().tolist() == [False, False, True]
    assert list(back.loc[back["limits_hold"].fillna(False), "id"]) == ["a"]
    assert back["T_peak_max_C"].dtype == "float64" and back["T_peak_max_C"].isna().iloc[2]
    assert back["binding_continuous"].tolist()[:2] == ["erosion", "spot"]
    assert back["mixed"].tolist()[:2] == ["1.0", "x"]  # mixed types: as text, as before



def test_a_case_the_command_refuses_as_absurd_fails_in_a_sweep(tmp_path):
    """A sweep ran what `anodesim run` refuses unless --force (a spot below the model's
    validity: an axis of sizes meant in mm): a 0.05 µm spot on the shipped insert is some
    28 M cells and 370 GiB, a worker meshing for hours. Its row is now failed with the
    command's reason and the other cases run."""
    table = anodesim.sweep({"case": small_block(),
                            "axes": {"beam.fwhm_um": [0.05, 20.0]}}, tmp_path / "s")
    assert [r["status"] for r in table.rows] == ["failed", "ok"]
    assert "beam spot 0.05 µm: below the model's validity" in table.rows[0]["error"]
    assert "anodesim run --force" in table.rows[0]["error"]


def test_a_study_whose_every_case_is_invalid_is_bad_input(tmp_path, capsys):
    """A misspelt key inside a table the base case lacks cannot be told from a bad value by
    the first point alone; when no case of the study is valid, it is bad input (exit 2)."""
    write_toml(tmp_path / "base.toml", small_block())
    s = tmp_path / "s.toml"
    s.write_text('case = "base.toml"\n[axes]\n"drift.magnificaton" = [2.0, 3.0]\n')
    assert main(["sweep", str(s), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "every case of the study is invalid" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_results_table_columns_pandas_parquet_and_failed_points(tmp_path, monkeypatch):
    """results.csv carries beam power and current, the worst interface and coolant-side
    temperatures, the drift along the view and the peak stresses of each case (equal to its
    summary.json); Table.to_pandas() and results.parquet hold the same; a failed case (a
    beam that melts the target) is drawn in results.png as a failed point. A lean mesh and
    time plan: the table is compared with the cases' own summaries."""
    from cases import merge

    lean = {"mesh": {"growth": 0.3, "spot_fraction": 0.2}, "time": {"steps_per_doubling": 2}}
    base = merge(reflection(**lean), {"beam": {"power_W": None, "current_mA": 0.1},
                                      "mounts": {"cooled_end": {"type": "clamped"}},
                                      "drift": {"view_direction": [0.94, 0.0, 0.342],
                                                "source_object_mm": 20,
                                                "source_detector_mm": 500,
                                                "pixel_size_um": 100}})
    legends = []
    real_save = study_mod.table.output._save

    def spy(fig, path):
        legends.extend(t.get_text() for ax in fig.axes if ax.get_legend()
                       for t in ax.get_legend().get_texts())
        real_save(fig, path)

    monkeypatch.setattr(study_mod.table.output, "_save", spy)
    out = tmp_path / "study"
    table = anodesim.sweep({"title": "current", "case": base,
                            "axes": {"beam.current_mA": [0.1, 0.2, 30.0]},
                            "plot": {"x": "beam.current_mA", "y": "T_peak_max_C"}}, out)
    assert [r["status"] for r in table.rows] == ["ok", "ok", "failed"]
    assert "melting point" in table.rows[2]["error"]
    rows = read_table(out / "results.csv")
    for row, r in zip(rows[:2], table.rows[:2]):
        s = json.loads((out / "cases" / r["id"] / "summary.json").read_text())
        assert float(row["beam_power_W"]) == pytest.approx(100e3 * float(row["current_mA"])
                                                           * 1e-3, rel=1e-12)
        assert float(row["current_mA"]) == pytest.approx(r["beam.current_mA"], rel=1e-12)
        assert float(row["T_max_target_heat_sink_worst_C"]) == pytest.approx(
            s["results"]["final"]["T_max_target_heat_sink_C"], rel=1e-9)  # still heating
        m = s["mechanics"]
        assert float(row["drift_along_view_um_final"]) == pytest.approx(
            m["drift_along_view_um"]["final"], rel=1e-9)
        # every drift figure's largest excursion with its sign (max_abs drops it)
        for c in ("drift_across_view_um", "image_drift_px", "magnification_change_rel"):
            assert float(row[f"{c}_largest"]) == pytest.approx(m[c]["largest"], rel=1e-9)
            assert abs(float(row[f"{c}_largest"])) == pytest.approx(
                float(row[f"{c}_max_abs"]), rel=1e-9)
        for region, v in m["von_mises_max_MPa"].items():
            assert float(row[f"von_mises_max_{region}_MPa"]) == pytest.approx(v["value"],
                                                                              rel=1e-9)
    df = table.to_pandas()
    assert list(df.columns) == table.columns and len(df) == 3
    assert df["beam_power_W"].iloc[1] == pytest.approx(float(rows[1]["beam_power_W"]))
    pytest.importorskip("pyarrow")
    import pandas as pd

    back = pd.read_parquet(out / "results.parquet")
    assert list(back["id"]) == [r["id"] for r in table.rows]
    assert any(t.startswith("failed (1") for t in legends), legends


_MESH_KEY = """
import json, os, sys
sys.path.insert(0, {tests!r})
from cases import reflection
from anodesim import case as case_mod
from anodesim.resolve import prepare
from anodesim.simulation import MESH_CACHE_ENV, _mesh_cache_file
os.environ[MESH_CACHE_ENV] = "/meshes"
c = case_mod.from_dict(reflection(interfaces={{"target_heat_sink": {{"conductance_W_m2K": 1e6}}}}))
prep = prepare(c)
print(_mesh_cache_file(c, prep).name)
"""


def test_the_sweep_mesh_cache_names_a_mesh_alike_in_every_interpreter():
    """Equal mesh inputs give one cache file name whatever the interpreter's string-hash
    seed (the layout keys its interfaces by frozensets, whose order follows the seed):
    new-interpreter workers and SLURM tasks reuse the sweep's meshes, as forked workers
    (which share the server's seed) do. Seeds 2 and 3 give the two orders of the regions."""
    code = _MESH_KEY.format(tests=str(Path(__file__).parent))
    names = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "PYTHONHASHSEED": str(seed)},
                            check=True).stdout.strip() for seed in (2, 3)}
    assert len(names) == 1 and next(iter(names)).endswith(".msh"), names


def test_the_runner_waits_for_a_worker_to_end_not_on_a_clock():
    """The runner starts the next case the moment a worker ends: it waits on the workers'
    sentinels (forked) or pidfds (new interpreters), not by looking every 50 ms."""
    import select

    from anodesim.study import local

    w = local._Interpreter([sys.executable, "-c", "import sys; sys.stdin.read()"],
                           stdin=subprocess.PIPE)
    try:
        if w.ended() is None:
            pytest.skip("no pidfd on this system (Linux 5.3 or later): the runner polls")
        assert select.select([w.ended()], [], [], 0)[0] == []  # running: not readable
        w.stdin.close()  # the worker ends
        local._wait_for_one({w: None})  # returns once it has ended
        assert w.poll() == 0
    finally:
        w.kill()
        w.wait()
        w.release()
    assert w.ended() is None


def test_the_runners_end_is_warmed_up_once_a_worker_slot_is_idle(tmp_path, monkeypatch):
    """The runner imports the end's writers (table.warm_up: pandas, pyarrow, pyplot) in a
    thread once no case is left to start and a worker slot is idle (-j 2 with one case
    left: started after the second case is dispatched, not before), joins it before it
    writes the table and plot, and the warm-up leaves no pyplot figure open."""
    from anodesim.study import local

    calls = []
    real = local._warm_tail

    def spy():
        calls.append(sorted(p.name for p in (tmp_path / "out" / "cases").glob("*")))
        thread = real()
        calls.append(thread)
        return thread

    monkeypatch.setattr(local, "_warm_tail", spy)
    alive_at_end = []
    real_collect = local.collect

    def collect(study, out, parquet=True):
        if parquet:  # the end's table (and then its plot): the warm-up has ended
            alive_at_end.append(calls[1].is_alive() if len(calls) > 1 else None)
        return real_collect(study, out, parquet=parquet)

    monkeypatch.setattr(local, "collect", collect)
    study = tmp_path / "study.toml"
    write_toml(study, {"title": "tail", "case": small_block(),
                       "axes": {"beam.power_W": POWERS[:3]}})
    assert main(["sweep", str(study), "-o", str(tmp_path / "out"), "-j", "2", "-q"]) == 0
    assert len(calls) == 2 and alive_at_end == [False]
    assert len([n for n in calls[0] if not n.startswith(".")]) == 2  # the last case runs
    assert (tmp_path / "out" / "results.png").stat().st_size > 1000
    code = ("import anodesim.study.table as t, sys; t.warm_up(); "
            "import matplotlib.pyplot as plt; assert plt.get_fignums() == []; "
            "assert 'pandas' in sys.modules and 'pyarrow' in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_nearly_flat_positive_curve_keeps_its_markers_inside_the_plot(tmp_path, monkeypatch):
    """results.png of a positive output drawn from 0: a nearly flat curve (the duty-cycle
    study's 17.82-17.69 W) had its autoscaled top at its own maximum plus a margin of its
    wiggles, so the markers sat on the frame, half cut off. The top now leaves 5 % above the
    largest value. The table is built in memory (no case is run)."""
    from anodesim.study.table import Table, plot

    study = study_mod.from_dict({"title": "flat", "case": block(),
                                 "axes": {"beam.power_W": [1.0, 2.0, 3.0]},
                                 "tasks": {"run": False, "rate": ["schedule"]}})
    rows = [{"index": i, "id": p.id, "status": "ok", "beam.power_W": x,
             "max_safe_beam_power_W": y}
            for i, (p, x, y) in enumerate(zip(study.points, (1.0, 2.0, 3.0),
                                              (17.818, 17.80, 17.69)))]
    tops = []
    real_save = study_mod.table.output._save
    monkeypatch.setattr(study_mod.table.output, "_save",
                        lambda fig, path: (tops.append(fig.axes[0].get_ylim()),
                                           real_save(fig, path)))
    assert plot(study, Table(["beam.power_W", "max_safe_beam_power_W"], rows, tmp_path))
    assert tops[0][0] == 0.0 and tops[0][1] >= 1.05 * 17.818, tops
