"""Submitting to SLURM: the [slurm] table is checked before anything is written, a
refused submission leaves nothing, a submitted run runs the case as it was validated, and
the line that says how a job ended."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_case import write_toml
from test_study import slurm, small_block  # noqa: F401 (fixture)
from test_user_materials import _copy_of

from anodesim import study as study_mod
from anodesim.case import CaseError
from anodesim.cli import main
from anodesim.study.slurm import failure_line


def anodesim_cmd(*args):
    return [sys.executable, "-m", "anodesim", *map(str, args)]


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
