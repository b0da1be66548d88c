"""Submitting to SLURM: what is validated is what runs, nothing is written when a
submission is refused, failed cases are submitted again, a queued array is not submitted
twice, invalid cases are not submitted, and the lines that say how a job ended."""

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_case import write_toml
from test_study import read_table, slurm, small_block, wait_until  # noqa: F401 (fixture)
from test_reliability import default_signals
from test_user_materials import _copy_of

from anodesim import study as study_mod
from anodesim.case import CaseError
from anodesim.cli import main
from anodesim.study import folder as folder_mod
from anodesim.study import queue as queue_mod
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
     "MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS, UNLIMITED, INFINITE or -1"),
    ({"time": "1:2:3:4"}, "slurm.time = '1:2:3:4': expected a SLURM time"),
    ({"time": "10\ntouch /tmp/x"}, "slurm.time = '10\\ntouch /tmp/x': expected one line "
     "without control characters"),
    # a newline in the partition put a shell line into the script (it ran the touch)
    ({"partition": "debug\ntouch /tmp/x/PWNED"}, "slurm.partition = 'debug\\ntouch "
     "/tmp/x/PWNED': expected one line without control characters"),
    ({"partition": "debug; touch x"}, "slurm.partition = 'debug; touch x': expected a "
     "partition name (letters, digits, _ . -; several separated by commas)"),
    ({"extra": ["--mem=1G\nrm -rf /tmp/x"]}, "slurm.extra = '--mem=1G\\nrm -rf /tmp/x': "
     "expected an sbatch option on one line"),
    ({"extra": ["--mem=1G\x07"]}, "expected an sbatch option on one line"),
    ({"extra": ["mem=1G"]}, "slurm.extra = 'mem=1G': expected an sbatch option"),
    ({"extra": ["-n 2"]}, "slurm.extra = '-n 2': expected an option the job script does not "
     "set itself"),
    ({"extra": ["--ntasks=2"]}, "slurm.extra = '--ntasks=2': expected an option the job "
     "script does not set itself"),
    ({"extra": ["--array=0-9"]}, "slurm.extra = '--array=0-9': expected an option the job"),
    # sbatch takes an unambiguous prefix of a long option: these set --array and --output
    ({"extra": ["--arr=0-3"]}, "slurm.extra = '--arr=0-3': expected an option the job"),
    ({"extra": ["--out=/x"]}, "slurm.extra = '--out=/x': expected an option the job"),
    ({"extra": ["--ntasks-per 2"]}, "slurm.extra = '--ntasks-per 2': expected an option"),
    ({"extra": ["-o/x"]}, "slurm.extra = '-o/x': expected an option the job"),
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
                                   "1-12:30:00", "UNLIMITED", "INFINITE", "-1"])
def test_slurm_forms_sbatch_takes_are_accepted(time_):
    """SLURM's time forms (no limit included) and sbatch's option forms, short ones with
    their value too (they were refused, and so was a folder written with them)."""
    extra = ["--mem=1G", "--exclusive", "--mem 4G", "-A proj", "-p short", "-Aproj", "-H",
             "--partition-x=1"]
    st = study_mod.from_dict({"case": small_block(), "axes": {"beam.power_W": [1.0]},
                              "slurm": {"time": time_, "partition": "short,long",
                                        "extra": extra}})
    script = study_mod.slurm_script(st, Path("o"), [0])
    assert f"#SBATCH --time={time_}\n" in script and "#SBATCH --partition=short,long\n" in script
    assert all(f"#SBATCH {x}\n" in script for x in extra)


def fake_slurm(tmp_path, monkeypatch, sbatch="echo 4242", squeue="exit 0"):
    """sbatch and squeue on PATH as shell snippets; sbatch's arguments and script are kept
    in bin/args and bin/script."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "sbatch").write_text(f'#!/bin/sh\necho "$@" > "{fake}/args"\n'
                                 f'cat > "{fake}/script"\n{sbatch}\n')
    (fake / "squeue").write_text(f"#!/bin/sh\n{squeue}\n")
    for f in fake.iterdir():
        f.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    return fake


def test_sigterm_while_waiting_for_the_array_is_143_with_its_line(tmp_path, monkeypatch):
    """SIGTERM reached `--submit slurm --wait` (and --collect, --task-id, the start and the
    end of a local sweep) as the default action: exit 143 without a word. Now every mode
    of the sweep ends as run does; a second SIGTERM while it stops is ignored."""
    fake_slurm(tmp_path, monkeypatch, squeue='echo "PENDING|None"')  # queued for ever
    path = study_file(tmp_path, [20.0])
    out = tmp_path / "o"
    proc = subprocess.Popen(anodesim_cmd("sweep", path, "-o", out, "--submit", "slurm",
                                         "--wait"), stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()  # the submission's line: it waits on squeue now
    assert line.startswith("submitted SLURM array job 4242"), line
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGTERM)
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 143, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("anodesim: terminated by SIGTERM"), err


def main_folder(tmp_path, slurm_table: dict) -> Path:
    """A study folder as the current main writes it for a [slurm] table it accepts (main
    checked the types only and keeps the table in study.json; the study id leaves it out)."""
    path = study_file(tmp_path, [20.0])
    out = tmp_path / "main"
    study_mod.open_folder(study_mod.load(path), out)
    saved = json.loads((out / "study.json").read_text())
    saved["study"]["slurm"] = slurm_table
    (out / "study.json").write_text(json.dumps(saved))
    return out


def test_folder_written_by_main_still_opens(tmp_path, monkeypatch, capsys):
    """Values main and sbatch accept (no time limit, short options with a value, a long
    option and its value apart) no longer opened the folder: --list and every array task
    (--task-id) exited 2. A saved study.json is read as it is; it is checked only when it
    is submitted, where its values go into a script."""
    table = {"time": "UNLIMITED", "partition": "debug",
             "extra": ["-A proj", "-p short", "--mem 4G"]}
    out = main_folder(tmp_path, table)
    assert study_mod.load(out).slurm == table
    assert main(["sweep", str(out), "--list"]) == 0
    assert "to run" in capsys.readouterr().out
    fake = fake_slurm(tmp_path, monkeypatch)
    assert main(["sweep", str(out), "--submit", "slurm"]) == 0
    assert "submitted SLURM array job 4242: 1 case (" in capsys.readouterr().err
    script = (fake / "script").read_text()
    assert "#SBATCH --time=UNLIMITED\n#SBATCH -A proj\n#SBATCH -p short\n#SBATCH --mem 4G\n" \
        in script


def test_dangerous_saved_values_are_refused_when_submitted(tmp_path, monkeypatch, capsys):
    """A saved study.json (main did not check them) with a newline in the partition or the
    script's own option: refused when submitted, one line, exit 2, nothing changed."""
    fake_slurm(tmp_path, monkeypatch)
    for table, message in [
            ({"partition": "debug\ntouch PWNED"}, "slurm.partition = 'debug\\ntouch PWNED': "
             "expected one line without control characters"),
            ({"extra": ["--output=/x"]}, "slurm.extra = '--output=/x': expected an option the "
             "job script does not set itself")]:
        out = main_folder(tmp_path, table)
        before = files(out)
        assert main(["sweep", str(out), "--submit", "slurm"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"anodesim: error: {message}") and "\n" not in err
        assert files(out) == before and not (tmp_path / "bin" / "script").exists()
        shutil.rmtree(out)


def test_own_options_are_on_the_command_line_and_a_job_id_is_required(tmp_path, monkeypatch,
                                                                      capsys):
    """The script's own options go on sbatch's command line too (they win over an #SBATCH
    line); sbatch printing no job id (--test-only) is not a job: "" was taken as its id."""
    fake = fake_slurm(tmp_path, monkeypatch)
    path = study_file(tmp_path, [20.0])
    out = tmp_path / "o"
    assert main(["sweep", str(path), "-o", str(out), "--submit", "slurm"]) == 0
    args = (fake / "args").read_text().split()
    assert args == ["--parsable", "--array=0", f"--output={out.resolve()}/slurm/%A_%a.out",
                    "--ntasks=1"]
    assert (out / "slurm" / "job_id").read_text() == "4242\n"
    fake_slurm(tmp_path, monkeypatch, sbatch="echo 'sbatch: Job 7 to start at now' >&2")
    new = tmp_path / "new"
    assert main(["sweep", str(path), "-o", str(new), "--submit", "slurm"]) == 2
    assert capsys.readouterr().err.strip().endswith(
        "--submit slurm: sbatch gave no job id (''; Job 7 to start at now); expected a job "
        "number (--test-only submits nothing)")
    assert not new.exists()
    fake_slurm(tmp_path, monkeypatch, sbatch="echo '77;cluster2'")  # a federation's form
    assert main(["sweep", str(path), "-o", str(new), "--submit", "slurm"]) == 0
    assert (new / "slurm" / "job_id").read_text() == "77\n"


def test_a_submission_while_a_local_sweep_runs_in_the_folder_is_refused(tmp_path,
                                                                         monkeypatch, capsys):
    """`--submit slurm` of a study folder a local sweep was running in submitted an array
    of every unfinished case, those that sweep was running too: each computed twice, the
    first result to finish standing (a second local sweep is refused for the same reason;
    a local sweep leaves a queued array's cases to it). Now it is refused before sbatch,
    naming the running sweep: one line, exit 2, nothing submitted or written; once that
    sweep has ended the submission goes through."""
    import socket

    from anodesim.study.folder import sole_runner

    fake = fake_slurm(tmp_path, monkeypatch)
    path = study_file(tmp_path, [20.0])
    out = tmp_path / "o"
    out.mkdir()
    with sole_runner(out):  # a local sweep running there (a lock of its own descriptor)
        for extra in ([], ["--retry-failed"], ["--wait"]):
            assert main(["sweep", str(path), "-o", str(out), "--submit", "slurm",
                         *extra]) == 2, extra
            err = capsys.readouterr().err
            assert err.splitlines() == [
                f"anodesim: error: -o {out}: a sweep of this study is already running in "
                f"this folder (process {os.getpid()} on {socket.gethostname()}, started "
                f"{err.split('started ')[1].split(')')[0]}); expected one sweep per folder: "
                "let it finish, or stop it and run this one again (it resumes)"], err
    assert not (fake / "args").exists() and sorted(p.name for p in out.iterdir()) == [
        folder_mod.RUNNER]
    assert main(["sweep", str(path), "-o", str(out), "--submit", "slurm"]) == 0
    assert (out / "slurm" / "job_id").read_text() == "4242\n"


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
    out = tmp_path / "a" / "b" / "run"  # the parents it made were left (a/b)
    assert main(["run", str(case), "-o", str(out), "--submit", "slurm"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "anodesim: error: --submit slurm: sbatch refused the job (try again); " \
        "nothing was submitted"
    assert not (tmp_path / "a").exists()
    path = study_file(tmp_path, [20.0])
    assert main(["sweep", str(path), "-o", str(out), "--submit", "slurm"]) == 2
    assert "sbatch refused the job (try again)" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()


def test_failure_line_prefers_anodesim_over_the_mpi_abort():
    """A rank's own failure line, not MPI's abort after it, says why a job ended; SLURM's
    cancellation (a time limit) before any anodesim line, and never a warning."""
    log = ("anodesim 0.2: block -> out\n"
           "anodesim: warning: the mesh is coarse near the spot\n"
           "[rank 1] anodesim: run failed: the target reached 3700 K, above the melting point\n"
           "Abort(1) on node 1 (rank 1 in comm 0): application called MPI_Abort(comm, 1)\n")
    assert failure_line(log) == ("[rank 1] anodesim: run failed: the target reached 3700 K, "
                                 "above the melting point")
    assert failure_line("slurmstepd: error: *** JOB 7 CANCELLED ***\n") == \
        "slurmstepd: error: *** JOB 7 CANCELLED ***"
    timed_out = ("anodesim: warning: 12 of 40 steps cut back\n"
                 "slurmstepd: error: *** JOB 9 ON vm CANCELLED AT 2026-12-04T10:00:00 DUE TO "
                 "TIME LIMIT ***\n"
                 "srun: error: vm: task 0: Terminated\n")
    assert failure_line(timed_out).endswith("DUE TO TIME LIMIT ***")
    assert failure_line("anodesim: warning: coarse\nKilled\n") == "Killed"
    assert failure_line("") == "no log"


def test_own_case_file_of_the_run_folder_is_refused(tmp_path, monkeypatch, capsys):
    """DIR/case.toml submitted into DIR: the job (run --overwrite) deleted it and wrote its
    copy over it (an edit made after the submission was lost; on a failure while setting
    up the file stayed deleted). Refused: one line, exit 2, nothing changed."""
    fake_slurm(tmp_path, monkeypatch)
    out = tmp_path / "dir"
    out.mkdir()
    case = out / "case.toml"
    write_toml(case, small_block())
    before = files(out)
    assert main(["run", str(case), "-o", str(out), "--overwrite", "--submit", "slurm"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"anodesim: error: --submit slurm: {case} is the run folder's own case.toml (the job "
        f"writes its copy of the case there); expected a case file outside {out}, or "
        "another -o")
    assert files(out) == before and not (tmp_path / "bin" / "script").exists()


def test_symlinked_case_runs_against_the_folder_it_was_checked_in(tmp_path, monkeypatch):
    """A case reached through a symbolic link: checked with its relative paths from the
    link's folder (case.load), so the job reads them there too (it used the target's)."""
    fake = fake_slurm(tmp_path, monkeypatch)
    a, b = tmp_path / "A", tmp_path / "B"
    a.mkdir()
    b.mkdir()
    write_toml(a / "mylib.toml", {"MyW": _copy_of("W")})  # beside the link only
    write_toml(b / "case.toml", small_block(materials={"target": "MyW",
                                                       "library": "mylib.toml"}))
    (a / "case.toml").symlink_to(b / "case.toml")
    assert main(["run", str(a / "case.toml"), "-o", str(tmp_path / "o"), "--submit",
                 "slurm"]) == 0
    cmd = shlex.split((fake / "script").read_text().splitlines()[-1])
    assert cmd[cmd.index("--case-dir") + 1] == str(a.absolute())


def test_squeue_that_cannot_tell_refuses_the_submission(tmp_path, monkeypatch, capsys):
    """squeue unreachable ("Unable to contact slurm controller", exit 1) or hung: the
    earlier job may still be queued, so nothing is submitted (a second array was); only a
    definite answer (empty, or an unknown job id) lets it through. --list still lists."""
    path = study_file(tmp_path, [20.0])
    out = tmp_path / "o"
    study_mod.open_folder(study_mod.load(path), out)
    (out / "slurm").mkdir()
    (out / "slurm" / "job_id").write_text("186\n")
    before = files(out)
    fake_slurm(tmp_path, monkeypatch, squeue="echo 'squeue: error: slurm_load_jobs error: "
               "Unable to contact slurm controller (connect failure)' >&2; exit 1")
    assert main(["sweep", str(out), "--submit", "slurm"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"anodesim: error: --submit slurm: squeue cannot tell whether {out}'s SLURM job 186 "
        "is still queued (squeue: error: slurm_load_jobs error: Unable to contact slurm "
        "controller (connect failure)); expected squeue to answer (submit again when it does)")
    assert files(out) == before
    run = tmp_path / "run"  # a run's folder: the same check
    (run / "slurm").mkdir(parents=True)
    (run / "slurm" / "job_id").write_text("187\n")
    assert main(["run", str(tmp_path / "base.toml"), "-o", str(run), "--submit", "slurm"]) == 2
    assert f"squeue cannot tell whether {run}'s SLURM job 187" in capsys.readouterr().err
    assert sorted(f.name for f in run.rglob("*")) == ["job_id", "slurm"]
    assert main(["sweep", str(out), "--list"]) == 0
    assert "to run" in capsys.readouterr().out
    monkeypatch.setattr(queue_mod, "SLURM_TIMEOUT_S", 0.5)
    fake_slurm(tmp_path, monkeypatch, squeue="exec sleep 30")
    assert main(["sweep", str(out), "--submit", "slurm"]) == 2
    assert "(squeue did not answer in 0.5 s; expected a SLURM controller that answers (see " \
        "`sinfo`))" in capsys.readouterr().err
    assert files(out) == before
    fake_slurm(tmp_path, monkeypatch, squeue="echo 'slurm_load_jobs error: Invalid job id "
               "specified' >&2; exit 1")  # the controller has forgotten the job: gone
    assert main(["sweep", str(out), "--submit", "slurm"]) == 0
    assert (out / "slurm" / "job_id").read_text() == "4242\n"


def test_interrupted_retry_keeps_the_failed_records(tmp_path):
    """Ctrl-C while sbatch takes a --retry-failed array: the failed records were set aside
    (cases/.<id>.retry.<pid>) and later deleted as stale. Nothing is moved now: the retried
    tasks replace the failure themselves (their script says --retry-failed)."""
    path = study_file(tmp_path, [20.0])
    out = tmp_path / "o"
    st = study_mod.load(path)
    study_mod.open_folder(st, out)
    study_mod.record_failure(out, st.points[0], "SLURM array task 1_0 ended without a result")
    before = files(out)
    fake = tmp_path / "bin"
    started = tmp_path / "sbatch-started"
    fake.mkdir()
    (fake / "sbatch").write_text(f'#!/bin/sh\ncat > "{fake}/script"\ntouch "{started}"\n'
                                 "exec sleep 600\n")
    (fake / "squeue").write_text("#!/bin/sh\nexit 0\n")
    for f in fake.iterdir():
        f.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}
    # SIGINT at its default action: a suite started in the background (`make test &` in a
    # script) ignores it, and the sweep then waited out sbatch's 30 s limit instead
    proc = subprocess.Popen(anodesim_cmd("sweep", out, "--submit", "slurm", "--retry-failed"),
                            env=env, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_signals)
    wait_until(started.exists, proc, "sbatch started")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert "did not answer" not in err, err  # the interrupt ended it, not sbatch's limit
    assert files(out) == before  # the failed record where it was, nothing set aside
    assert not [d for d in (out / "cases").iterdir() if d.name.startswith(".")]
    assert f'--task-id "$SLURM_ARRAY_TASK_ID" -q --study-id {st.id} --retry-failed\n' in (
        fake / "script").read_text()


# --------------------------------------------------------------------------------------
# On the single-node cluster (tests/test_study.py's slurm fixture)
# --------------------------------------------------------------------------------------
def holding_sbatch(tmp_path) -> Path:
    """A folder whose sbatch is the real one with --hold: the job waits in the queue until
    `scontrol release` (this sbatch, 22.05, ignores SBATCH_HOLD)."""
    real = shutil.which("sbatch")
    fake = tmp_path / "holding"
    fake.mkdir()
    (fake / "sbatch").write_text(f'#!/bin/sh\nexec {shlex.quote(real)} --hold "$@"\n')
    (fake / "sbatch").chmod(0o755)
    return fake


def submit_held(tmp_path, out: Path, *args) -> str:
    """Submit with the holding sbatch (`anodesim ARGS --submit slurm -q`, exit 0): the
    job's id; it stays queued until `scontrol release`."""
    held = {**os.environ, "PATH": f"{holding_sbatch(tmp_path)}:{os.environ['PATH']}"}
    r = subprocess.run(anodesim_cmd(*args, "--submit", "slurm", "-q"), capture_output=True,
                       text=True, timeout=300, env=held)
    assert r.returncode == 0, r.stderr
    return (out / "slurm" / "job_id").read_text().strip()


@pytest.mark.slurm
def test_run_submit_runs_the_case_as_submitted(slurm, tmp_path):  # noqa: F811
    """The job runs the case validated at submission, not the file as it is when the job
    starts (a script that rewrites one file and submits in a loop got its last version in
    every folder); a relative path inside it (a materials library) still resolves from the
    case file's folder. While the job is queued (held), a second submission into its folder
    is refused: it overwrote slurm/case.toml and job_id, so the held job ran the second
    case."""
    write_toml(tmp_path / "mylib.toml", {"MyW": _copy_of("W")})
    case = tmp_path / "case.toml"
    data = small_block(materials={"target": "MyW", "library": "mylib.toml"})
    write_toml(case, data)
    out = tmp_path / "o"
    job = submit_held(tmp_path, out, "run", case, "-o", out)
    held = {**os.environ, "PATH": f"{tmp_path / 'holding'}:{os.environ['PATH']}"}
    try:
        reason = subprocess.run(["squeue", "-h", "-j", job, "-o", "%r"], capture_output=True,
                                text=True).stdout.strip()
        assert reason.startswith("JobHeld"), reason
        write_toml(case, small_block(beam={"power_W": 20.0},  # the next submission's case
                                     materials={"target": "MyW", "library": "mylib.toml"}))
        before = files(out)
        r = subprocess.run(anodesim_cmd("run", case, "-o", out, "--submit", "slurm", "-q"),
                           capture_output=True, text=True, timeout=300, env=held)
        assert r.returncode == 2
        assert r.stderr.strip() == (f"anodesim: error: --submit slurm: {out} has SLURM job "
                                    f"{job} still queued or running; expected it to finish "
                                    f"first (or `scancel {job}`), then submit again")
        assert files(out) == before
    finally:
        subprocess.run(["scontrol", "release", job], check=True)
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
    assert files(old) == before and sorted(  # (the folder's lock files: open_folder's)
        p.name for p in old.iterdir() if not p.name.startswith(".study.")) == [
        "cases", "study.json"]


@pytest.mark.slurm
def test_queued_array_is_not_submitted_twice_and_invalid_cases_not_at_all(slurm, tmp_path):  # noqa: F811
    """While the folder's array is queued, a second submission is refused naming the job
    (it submitted the same cases again and overwrote job_id), --list shows its cases
    queued, and a local sweep of the folder leaves them to the job (it ran them as well);
    an invalid case (fwhm_um = -5) is not an array task (it failed in 0 s)."""
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
        # a local sweep of the folder leaves the job's queued case to it (it ran it too)
        r = subprocess.run(anodesim_cmd("sweep", out), capture_output=True, text=True,
                           timeout=300)
        said = r.stdout + r.stderr
        assert f"1 case left to the folder's SLURM job {job}, queued or running there " \
            "(case 0)" in said, said
        assert "1 to run with 1 process" in said and "case 1 " in said, said  # the invalid
        assert not (out / "cases" / study_mod.load(path).points[0].id).exists()
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


@pytest.mark.slurm
def test_a_queued_array_runs_only_its_own_definition(slurm, tmp_path, monkeypatch):  # noqa: F811
    """The folder's lock does not cover a queued array: its tasks read study.json when
    they start. While the job is queued (held), another definition is refused (one line,
    exit 2, study.json untouched); one given anyway (where squeue cannot tell) makes the
    tasks refuse to run, each with one line in its log (they ran the new definition's
    cases under the old indices), and study.json keeps the new definition."""
    path = study_file(tmp_path, [20.0, 40.0])
    other = tmp_path / "other.toml"
    other.write_text('case = "base.toml"\n[axes]\n"beam.fwhm_um" = [60.0, 80.0]\n'
                     '"output.figures" = [false]\n')
    out = tmp_path / "o"
    job = submit_held(tmp_path, out, "sweep", path, "-o", out)
    ours, theirs = study_mod.load(path), study_mod.load(other)
    try:
        assert f"--study-id {ours.id}" in (out / "slurm" / "array.sh").read_text()
        saved = (out / "study.json").read_bytes()
        r = subprocess.run(anodesim_cmd("sweep", other, "-o", out, "--collect"),
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 2
        assert r.stderr.count("\n") == 1 and f"its SLURM job {job} of another definition" \
            in r.stderr, r.stderr
        assert (out / "study.json").read_bytes() == saved
        monkeypatch.setattr(folder_mod, "recorded_job", lambda out: None)  # cannot tell
        study_mod.open_folder(theirs, out)
        study_mod.release_folder(out)
        monkeypatch.undo()
    finally:
        subprocess.run(["scontrol", "release", job], check=True)
    wait_for_job(job)
    for i in (0, 1):
        log = (out / "slurm" / f"{job}_{i}.out").read_text()
        assert f"--study-id {ours.id}: {out} holds another definition of the study now " \
            f"(id {theirs.id})" in log, log
    assert not [p for p in (out / "cases").iterdir() if not p.name.startswith(".")]
    assert json.loads((out / "study.json").read_text())["id"] == theirs.id


def test_folder_name_with_a_newline_is_refused(tmp_path, monkeypatch, capsys):
    """The folder's name goes into the script's #SBATCH --output line, where a newline
    would start a shell line: refused, one line, exit 2, nothing written."""
    fake = fake_slurm(tmp_path, monkeypatch)
    path = study_file(tmp_path, [20.0])
    out = tmp_path / "x\ntouch PWNED"
    for cmd in (["sweep", str(path)], ["run", str(tmp_path / "base.toml")]):
        assert main([*cmd, "-o", str(out), "--submit", "slurm"]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and err.endswith("expected a folder name without control "
                                                "characters (it is written into the job script)")
    assert not out.exists() and not (fake / "script").exists()


def test_an_sbatch_that_does_not_answer_keeps_the_folder(tmp_path, monkeypatch, capsys):
    """sbatch over its time limit may still have queued the job, whose tasks need the
    folder's study.json: the submission is one line (exit 2) saying the job may have been
    submitted, and the folder stays (undoing it failed every task of such a job)."""
    monkeypatch.setattr(queue_mod, "SLURM_TIMEOUT_S", 0.5)
    fake_slurm(tmp_path, monkeypatch, sbatch="exec sleep 30")
    path = study_file(tmp_path, [20.0])
    out = tmp_path / "o"
    assert main(["sweep", str(path), "-o", str(out), "--submit", "slurm"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the job may have been submitted" in err, err
    assert (out / "study.json").is_file()
