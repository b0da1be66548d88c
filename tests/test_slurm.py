"""Submitting to SLURM: what is validated is what runs, nothing is written when a
submission is refused, failed cases are submitted again, a queued array is not submitted
twice, invalid cases are not submitted, and the lines that say how a job ended."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_case import write_toml
from test_study import read_table, slurm, small_block, wait_until  # noqa: F401 (fixture)
from test_user_materials import _copy_of

from anodesim import study as study_mod
from anodesim.case import CaseError
from anodesim.cli import main
from anodesim.study.slurm import failure_line


def anodesim_cmd(*args):
    return [sys.executable, "-m", "anodesim", *map(str, args)]


def files(folder):
    """Every file below folder with its content (what a refused command must not change)."""
    return {f: f.read_bytes() for f in folder.rglob("*") if f.is_file()}


def wait_for_job(job: str, limit_s: float = 600.0) -> None:
    """Poll squeue until the job has left the queue (the event waited on is the job's end;
    limit_s only turns a job that never ends into a failure instead of a hang)."""
    deadline = time.monotonic() + limit_s
    while subprocess.run(["squeue", "-h", "-j", job], capture_output=True,
                         text=True).stdout.strip():
        assert time.monotonic() < deadline, f"job {job} still queued after {limit_s:.0f} s"
        time.sleep(0.5)


def study_file(folder, values, slurm_table: str = "") -> Path:
    """A study over the spot size of the small block (no figures), its base case beside it."""
    write_toml(folder / "base.toml", small_block())
    path = folder / "study.toml"
    path.write_text(f'case = "base.toml"\n[axes]\n"beam.fwhm_um" = {values!r}\n'
                    f'"output.figures" = [false]\n{slurm_table}')
    return path


# --------------------------------------------------------------------------------------
# Bad [slurm] input: refused when the study is read, before anything is written
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("table, message", [
    ({"time": "5 minutes"}, "slurm.time = '5 minutes': expected a SLURM time: minutes, "
     "MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS"),
    ({"time": "1:2:3:4"}, "slurm.time = '1:2:3:4': expected a SLURM time"),
    ({"extra": ["--mem=1G\nrm -rf /tmp/x"]}, "slurm.extra = '--mem=1G\\nrm -rf /tmp/x': "
     "expected an sbatch long option on one line"),
    ({"extra": ["--mem=1G\x07"]}, "expected an sbatch long option on one line"),
    ({"extra": ["mem=1G"]}, "slurm.extra = 'mem=1G': expected an sbatch long option"),
    ({"extra": ["-n 2"]}, "slurm.extra = '-n 2': expected an sbatch long option"),
    ({"extra": ["--ntasks=2"]}, "slurm.extra = '--ntasks=2': expected an option the array "
     "script does not set itself"),
    ({"extra": ["--array=0-9"]}, "slurm.extra = '--array=0-9': expected an option the array"),
])
def test_bad_slurm_table_is_one_line(table, message, tmp_path, capsys):
    with pytest.raises(CaseError, match=re.escape(message)):
        study_mod.from_dict({"case": small_block(), "axes": {"beam.power_W": [1.0]},
                             "slurm": table})
    # the command line: exit 2, one line, nothing written
    path = study_file(tmp_path, [20.0], "[slurm]\n" + "".join(
        f"{k} = {json.dumps(v)}\n" for k, v in table.items()))
    out = tmp_path / "out"
    assert main(["sweep", str(path), "-o", str(out), "--submit", "slurm"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message.split(":")[0] in err
    assert not out.exists()


@pytest.mark.parametrize("time_", ["90", "10:00", "02:00:00", "1-12", "1-12:30",
                                   "1-12:30:00"])
def test_slurm_time_formats_are_accepted(time_):
    st = study_mod.from_dict({"case": small_block(), "axes": {"beam.power_W": [1.0]},
                              "slurm": {"time": time_, "extra": ["--mem=1G", "--exclusive"]}})
    script = study_mod.slurm_script(st, Path("o"), [0])
    assert f"#SBATCH --time={time_}\n" in script and "#SBATCH --exclusive\n" in script


def test_submit_without_sbatch_writes_nothing(tmp_path, monkeypatch, capsys):
    """No SLURM client on PATH: one line, exit 2, no folder (it was left with cases/ and
    study.json)."""
    path = study_file(tmp_path, [20.0])
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    out = tmp_path / "out"
    assert main(["sweep", str(path), "-o", str(out), "--submit", "slurm"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "anodesim: error: --submit slurm: sbatch not found; expected a SLURM " \
        "client on PATH"
    assert not out.exists()
    case = tmp_path / "base.toml"
    assert main(["run", str(case), "-o", str(tmp_path / "run"), "--submit", "slurm"]) == 2
    assert "sbatch not found" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_refused_run_submission_leaves_nothing(tmp_path, monkeypatch, capsys):
    """sbatch refuses one run's job with two lines of its own: one line, exit 2, and
    neither the folder nor its slurm/ (script, case copy) is left (both were)."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "sbatch").write_text("#!/bin/sh\necho 'sbatch: error: Batch job submission "
                                 "failed: Invalid account'\necho 'sbatch: error: try "
                                 "again' >&2\nexit 1\n")
    (fake / "squeue").write_text("#!/bin/sh\nexit 0\n")
    for f in fake.iterdir():
        f.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    case = tmp_path / "case.toml"
    write_toml(case, small_block())
    out = tmp_path / "run"
    assert main(["run", str(case), "-o", str(out), "--submit", "slurm"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "anodesim: error: --submit slurm: sbatch refused the job (try again); " \
        "nothing was submitted"
    assert not out.exists()
    path = study_file(tmp_path, [20.0])
    assert main(["sweep", str(path), "-o", str(out), "--submit", "slurm"]) == 2
    assert "sbatch refused the job (try again)" in capsys.readouterr().err
    assert not out.exists()


def test_failure_line_prefers_anodesim_over_the_mpi_abort():
    """A rank's own failure line, not MPI's abort after it, says why a job ended."""
    log = ("anodesim 0.2: block -> out\n"
           "[rank 1] anodesim: run failed: the target reached 3700 K, above the melting point\n"
           "Abort(1) on node 1 (rank 1 in comm 0): application called MPI_Abort(comm, 1)\n")
    assert failure_line(log) == ("[rank 1] anodesim: run failed: the target reached 3700 K, "
                                 "above the melting point")
    assert failure_line("slurmstepd: error: *** JOB 7 CANCELLED ***\n") == \
        "slurmstepd: error: *** JOB 7 CANCELLED ***"
    assert failure_line("") == "no log"


# --------------------------------------------------------------------------------------
# On the single-node cluster (tests/test_study.py's slurm fixture)
# --------------------------------------------------------------------------------------
@pytest.mark.slurm
def test_run_submit_runs_the_case_as_submitted(slurm, tmp_path):  # noqa: F811
    """The job runs the case validated at submission, not the file as it is when the job
    starts (a script that rewrites one file and submits in a loop got its last version in
    every folder); a relative path inside it (a materials library) still resolves from the
    case file's folder."""
    write_toml(tmp_path / "mylib.toml", {"MyW": _copy_of("W")})
    case = tmp_path / "case.toml"
    data = small_block(materials={"target": "MyW", "library": "mylib.toml"})
    write_toml(case, data)
    out = tmp_path / "o"
    r = subprocess.run(anodesim_cmd("run", case, "-o", out, "--submit", "slurm", "-q"),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    job = (out / "slurm" / "job_id").read_text().strip()
    write_toml(case, small_block(beam={"power_W": 20.0},  # the next submission's case
                                 materials={"target": "MyW", "library": "mylib.toml"}))
    wait_for_job(job)
    log = (out / "slurm" / f"run-{job}.out")
    s = json.loads((out / "summary.json").read_text()) if (out / "summary.json").exists() \
        else pytest.fail(f"no summary: {log.read_text() if log.exists() else 'no log'}")
    assert s["status"] == "complete" and s["beam"]["beam_power_W"] == 10.0
    assert "power_W = 10.0" in (out / "case.toml").read_text()
    assert str(case) not in (out / "slurm" / "run.sh").read_text()


@pytest.mark.slurm
def test_refused_submission_leaves_nothing(slurm, tmp_path):  # noqa: F811
    """sbatch refuses the array (an unknown partition): one line, exit 2, no folder for a
    new study; an existing study's folder is left exactly as it was."""
    path = study_file(tmp_path, [20.0], '[slurm]\npartition = "nope"\n')
    out = tmp_path / "new"
    r = subprocess.run(anodesim_cmd("sweep", path, "-o", out, "--submit", "slurm"),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    line = r.stderr.strip()
    assert "\n" not in line and "sbatch refused the job (" in line and "nope" in line, line
    assert not out.exists()
    old = tmp_path / "old"
    study_mod.open_folder(study_mod.load(path), old)
    before = files(old)
    r = subprocess.run(anodesim_cmd("sweep", path, "-o", old, "--submit", "slurm"),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "sbatch refused" in r.stderr
    assert files(old) == before and sorted(p.name for p in old.iterdir()) == [
        "cases", "study.json"]


@pytest.mark.slurm
def test_queued_array_is_not_submitted_twice_and_invalid_cases_not_at_all(slurm, tmp_path):  # noqa: F811
    """While the folder's array is queued, a second submission is refused naming the job
    (it submitted the same cases again and overwrote job_id), and --list shows its cases
    queued; an invalid case (fwhm_um = -5) is not an array task (it failed in 0 s)."""
    path = study_file(tmp_path, [20.0, -5.0], '[slurm]\nextra = ["--begin=now+1hour"]\n')
    out = tmp_path / "o"
    r = subprocess.run(anodesim_cmd("sweep", path, "-o", out, "--submit", "slurm"),
                       capture_output=True, text=True, timeout=300)
    job = (out / "slurm" / "job_id").read_text().strip()
    try:
        assert r.returncode == 1, r.stderr  # the invalid case is a failed row
        assert "#SBATCH --array=0\n" in (out / "slurm" / "array.sh").read_text()
        before = files(out)
        r = subprocess.run(anodesim_cmd("sweep", out, "--submit", "slurm"),
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 2
        assert r.stderr.strip() == (f"anodesim: error: --submit slurm: {out} has SLURM job "
                                    f"{job} still queued or running; expected it to finish "
                                    f"first (or `scancel {job}`), then submit again")
        assert files(out) == before
        listed = subprocess.run(anodesim_cmd("sweep", out, "--list"), capture_output=True,
                                text=True, timeout=300).stdout.splitlines()
        assert "  queued  " in listed[0] and "  invalid  " in listed[1], listed
    finally:
        subprocess.run(["scancel", job])
    wait_for_job(job)


@pytest.mark.slurm
def test_retry_failed_resubmits_the_failed_cases(slurm, tmp_path):  # noqa: F811
    """A task cancelled before it ran is recorded as failed by --wait; `--submit slurm
    --retry-failed` submits it again (it said "all cases have finished" and submitted
    nothing) and the row becomes ok; --wait counts the job's own tasks."""
    path = study_file(tmp_path, [20.0, -5.0], '[slurm]\nextra = ["--begin=now+1hour"]\n')
    out = tmp_path / "o"
    proc = subprocess.Popen(anodesim_cmd("sweep", path, "-o", out, "--submit", "slurm",
                                         "--wait"), stderr=subprocess.PIPE, text=True)
    job_file = out / "slurm" / "job_id"
    wait_until(job_file.exists, proc, "a submitted job")
    job = job_file.read_text().strip()
    subprocess.run(["scancel", job], check=True)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, err
    assert f"job {job} finished: 0 ok, 1 failed of its 1 task" in err
    rows = read_table(out / "results.csv")
    assert rows[0]["status"] == "failed" and "ended without a result" in rows[0]["error"]
    study_file(tmp_path, [20.0, -5.0])  # the same cases, without the start time
    r = subprocess.run(anodesim_cmd("sweep", path, "-o", out, "--submit", "slurm",
                                    "--retry-failed", "--wait"),
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 1, r.stderr  # the invalid case: failed again, not submitted
    again = (out / "slurm" / "job_id").read_text().strip()
    assert again != job and "#SBATCH --array=0\n" in (out / "slurm" / "array.sh").read_text()
    assert f"job {again} finished: 1 ok, 0 failed of its 1 task" in r.stderr
    rows = read_table(out / "results.csv")
    assert [r["status"] for r in rows] == ["ok", "failed"]
