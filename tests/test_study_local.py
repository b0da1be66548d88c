"""The local sweep's edges: a second definition of a study while one runs, a SIGKILL or
SIGTERM of the runner, a stale results.parquet, [plot] y checked before the run, repeated
axis values and cases, options that contradict each other, and pending cases."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from cases import reflection
from test_case import write_toml
from test_study import read_table, small_block, wait_for_exit, wait_until

import anodesim
from anodesim import study as study_mod
from anodesim.case import CaseError
from anodesim.cli import main

SWEEP = [sys.executable, "-m", "anodesim", "sweep"]


def power_file(folder: Path, name: str, powers, base: dict | None = None, plot: str = ""):
    """A study file over the beam power of a base case (default the small block), the
    base case beside it."""
    write_toml(folder / "base.toml", base or small_block())
    path = folder / name
    path.write_text(f'case = "base.toml"\n[axes]\n"beam.power_W" = {powers!r}\n{plot}')
    return path


def slow_case(steps: int = 10000) -> dict:
    """A transient of the small reflection insert that takes `steps` time steps (about
    2.7 ms each here): a case that is still running when the test acts on it."""
    return reflection(loading={"kind": "continuous", "duration_s": 1.0},
                      time={"max_step_s": 1.0 / steps},
                      output={"fields": False, "figures": False})


def started_workers(out: Path, n: int, proc) -> dict[str, int]:
    """Wait until n workers have started (their locked work folders ``.ID.PID@HOST``);
    their case ids and pids."""
    cases = out / "cases"

    def locked():
        return [d for d in cases.glob(".*") if (d / ".lock").exists()] if cases.is_dir() \
            else []

    wait_until(lambda: len(locked()) >= n, proc, f"{n} started workers")
    return {d.name.split(".")[1]: int(d.name.split(".")[2].split("@")[0]) for d in locked()}


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


# --------------------------------------------------------------------------------------
# 1. One definition at a time in a folder
# --------------------------------------------------------------------------------------
def test_another_definition_is_refused_while_the_folder_is_in_use(tmp_path):
    """While a sweep works on a folder (open_folder's shared lock, held here), a sweep of a
    grown form of the study is refused (one line, exit 2, study.json untouched): its
    workers run cases by index from study.json, so a rewrite under them ran other cases
    and recorded them as failed. The same definition still goes (shared work); once the
    folder is let go, the grown study goes too."""
    one = power_file(tmp_path, "one.toml", [1.0])
    two = power_file(tmp_path, "two.toml", [1.0, 2.0])
    out = tmp_path / "out"
    st = study_mod.load(one)
    study_mod.open_folder(st, out)  # as a running sweep of `one` holds it
    try:
        saved = (out / "study.json").read_bytes()
        r = subprocess.run(SWEEP + [str(two), "-o", str(out)], capture_output=True, text=True)
        assert r.returncode == 2, r.stderr
        assert r.stderr.count("\n") == 1 and "another definition of this study" in r.stderr
        assert (out / "study.json").read_bytes() == saved
        assert not (out / "results.csv").exists()
        r = subprocess.run(SWEEP + [str(one), "-o", str(out), "-q"], capture_output=True,
                           text=True)
        assert r.returncode == 0, r.stderr
    finally:
        study_mod.release_folder(out)
    r = subprocess.run(SWEEP + [str(two), "-o", str(out), "-q"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert [row["status"] for row in read_table(out / "results.csv")] == ["ok", "ok"]


def test_two_definitions_started_together_into_a_new_folder(tmp_path):
    """Two studies over the same axes started at once into one new folder: one is let in,
    the other refused (or, if the first has ended already, let in after it); no case is
    recorded as failed."""
    a = power_file(tmp_path, "a.toml", [1.0, 2.0])
    b = power_file(tmp_path, "b.toml", [3.0, 1.0])
    out = tmp_path / "out"
    procs = [subprocess.Popen(SWEEP + [str(s), "-o", str(out), "-q"], stderr=subprocess.PIPE,
                              text=True) for s in (a, b)]
    codes = [p.wait(timeout=600) for p in procs]
    errs = [p.stderr.read() for p in procs]
    for p in procs:
        p.stderr.close()
    assert set(codes) <= {0, 2} and 0 in codes, errs
    for code, err in zip(codes, errs):
        assert code == 0 or "another definition of this study" in err
    rows = read_table(out / "results.csv")
    assert rows and all(r["status"] == "ok" for r in rows), rows


def test_the_python_api_lets_go_of_the_folder_after_its_sweep(tmp_path):
    out = tmp_path / "out"
    anodesim.sweep({"case": small_block(), "axes": {"beam.power_W": [1.0]}}, out)
    table = anodesim.sweep({"case": small_block(), "axes": {"beam.power_W": [1.0, 2.0]}},
                           out)
    assert [r["status"] for r in table.rows] == ["ok", "ok"]
    one = power_file(tmp_path, "one.toml", [1.0])  # another process: not refused either
    r = subprocess.run(SWEEP + [str(one), "-o", str(out), "-q"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


# --------------------------------------------------------------------------------------
# 2, 8. The runner killed or terminated
# --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_sigkill_of_the_runner_ends_its_forked_workers_and_server_at_once(tmp_path):
    """SIGKILL of the runner alone: its fork server and workers end at once, before their
    cases finish (each inherited the server's "alive" pipe and kept it, and with it the
    server and themselves, running to the end of their cases)."""
    s = power_file(tmp_path, "s.toml", [5.0, 10.0], base=slow_case())
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "ANODESIM_SWEEP_FORK"}
    proc = subprocess.Popen(SWEEP + [str(s), "-o", str(out), "-j", "2"], env=env,
                            stderr=subprocess.DEVNULL)
    workers = started_workers(out, 2, proc)
    servers = {_parent(pid) for pid in workers.values()} - {None}
    assert servers and proc.pid not in servers  # forked from a server, not the runner
    proc.kill()
    proc.wait()
    try:
        for pid in [*workers.values(), *servers]:
            assert wait_for_exit(pid, 60), f"process {pid} outlived its runner"
        for case_id in workers:
            assert not (out / "cases" / case_id / "result.json").exists(), \
                "a worker ran its case to the end after its runner was killed"
    finally:
        for pid in [*workers.values(), *servers]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _quick_then_slow(folder: Path) -> Path:
    """A study of a quick case and a slow one (minutes: it cannot end before a signal,
    even under load)."""
    write_toml(folder / "quick.toml", small_block())
    write_toml(folder / "slow.toml", slow_case(100_000))
    s = folder / "s.toml"
    s.write_text('case = ["quick.toml", "slow.toml"]\n[axes]\n"beam.power_W" = [5.0]\n')
    return s


def _quick_done_slow_running(out: Path, proc) -> dict[str, int]:
    """Wait until the quick case of _quick_then_slow is in results.csv and the slow one's
    worker has started; its case id and pid."""
    wait_until(lambda: (out / "results.csv").exists()
               and read_table(out / "results.csv")[0]["status"] == "ok", proc,
               "the quick case")
    return started_workers(out, 1, proc)


@pytest.mark.slow
def test_sigterm_ends_a_sweep_with_143_keeping_the_finished_cases(tmp_path):
    """SIGTERM to the runner: one "terminated" line, exit status 143 (as run), the workers
    stopped, the finished case kept and the table written."""
    out = tmp_path / "out"
    proc = subprocess.Popen(SWEEP + [str(_quick_then_slow(tmp_path)), "-o", str(out), "-j",
                                     "1"], stderr=subprocess.PIPE, text=True)
    workers = _quick_done_slow_running(out, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1].startswith("anodesim: terminated by SIGTERM"), err
    assert all(wait_for_exit(pid, 60) for pid in workers.values())
    rows = read_table(out / "results.csv")
    assert [r["status"] for r in rows] == ["ok", "pending"]


@pytest.mark.slow
def test_sigterm_ends_a_python_sweep_as_the_command_and_then_the_script(tmp_path):
    """anodesim.sweep in a script, SIGTERM at its default action: the sweep stops its
    workers and keeps the finished case as `anodesim sweep` does, then the script ends by
    SIGTERM (-15) with one line; it raised errors.Terminated out of the script, a
    traceback and status 1 (errors.sigterm_cleans_up)."""
    out = tmp_path / "out"
    study = str(_quick_then_slow(tmp_path))
    script = f"import anodesim\nanodesim.sweep({study!r}, {str(out)!r})\n"
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
    workers = _quick_done_slow_running(out, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGTERM and err.splitlines() == [
        "anodesim: terminated by SIGTERM (a batch system's time limit, kill or timeout)"], err
    assert all(wait_for_exit(pid, 60) for pid in workers.values())
    assert [r["status"] for r in read_table(out / "results.csv")] == ["ok", "pending"]


@pytest.mark.slow
def test_a_second_sweep_of_a_running_study_is_refused_naming_the_first(tmp_path):
    """Two sweeps of one study folder started at once each computed every case (each
    runner started its own worker for a case the other was running; the first result to
    be published stood, the other's work was lost). A second runner, the command's or
    anodesim.sweep's, is now refused before it runs anything: one line naming the running
    sweep's process, exit status 2, no worker of its own; the first is not disturbed and,
    once it has ended, the folder takes a sweep again."""
    write_toml(tmp_path / "slow.toml", slow_case(100_000))  # minutes: still running
    s = tmp_path / "s.toml"
    s.write_text('case = "slow.toml"\n[axes]\n"beam.power_W" = [5.0]\n')
    out = tmp_path / "out"
    first = subprocess.Popen(SWEEP + [str(s), "-o", str(out), "-q"], stderr=subprocess.PIPE,
                             text=True)
    try:
        workers = started_workers(out, 1, first)
        second = subprocess.run(SWEEP + [str(s), "-o", str(out), "-q"], capture_output=True,
                                text=True, timeout=300)  # (it computed the case: minutes)
        assert second.returncode == 2 and second.stderr.splitlines() == [
            f"anodesim: error: -o {out}: a sweep of this study is already running in this "
            f"folder (process {first.pid} on {socket.gethostname()}, started "
            f"{second.stderr.split('started ')[1].split(')')[0]}); expected one sweep per "
            "folder: let it finish, or stop it and run this one again (it resumes)"], \
            second.stderr
        with pytest.raises(anodesim.CaseError, match=f"process {first.pid} on "):
            anodesim.sweep(s, out)
        assert started_workers(out, 1, first) == workers and first.poll() is None
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=120)
    assert first.returncode == 143
    from anodesim.study.folder import sole_runner

    with sole_runner(out):  # the first runner's lock went with it
        pass


_HOLDS_THE_RUNNER_LOCK = """
import sys
from pathlib import Path
from anodesim.study.folder import sole_runner
with sole_runner(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.read()  # until the test kills this process
"""


def test_a_runner_killed_outright_leaves_its_folder_to_the_next_sweep(tmp_path):
    """The runner lock (.study.runner) is an flock: the kernel lets it go with the process,
    also after a SIGKILL (no code of the runner runs), so a sweep resumed after a kill -9
    (the out-of-memory killer, a node's scheduler) is let in; only a live runner refuses
    another, naming itself. The file and its text stay (a hidden file, never a result)."""
    from anodesim.study.folder import RUNNER, sole_runner

    out = tmp_path / "out"
    out.mkdir()
    runner = subprocess.Popen([sys.executable, "-c", _HOLDS_THE_RUNNER_LOCK, str(out)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert runner.stdout.readline() == "held\n"
        with pytest.raises(CaseError, match=f"already running in this folder \\(process "
                                            f"{runner.pid} on "):
            with sole_runner(out):
                pass
    finally:
        runner.kill()
        runner.wait(timeout=60)
    assert runner.returncode == -signal.SIGKILL
    with sole_runner(out):  # the killed runner's lock went with it
        assert f"process {os.getpid()} on " in (out / RUNNER).read_text()


# --------------------------------------------------------------------------------------
# 3. results.parquet
# --------------------------------------------------------------------------------------
def test_a_stale_parquet_is_removed_where_it_cannot_be_written(tmp_path, monkeypatch,
                                                               capsys):
    pytest.importorskip("pyarrow")
    pytest.importorskip("pandas")
    out = tmp_path / "out"
    anodesim.sweep({"case": small_block(), "axes": {"beam.power_W": [1.0]}}, out)
    assert (out / "results.parquet").is_file()
    grown = study_mod.from_dict({"case": small_block(), "axes": {"beam.power_W": [1.0, 2.0]}})
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as where it is not installed
    capsys.readouterr()
    study_mod.collect(grown, out)
    assert len(read_table(out / "results.csv")) == 2
    assert not (out / "results.parquet").exists()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "results.parquet: removed" in err
    study_mod.collect(grown, out)
    assert capsys.readouterr().err == ""  # said once


# --------------------------------------------------------------------------------------
# 4. [plot] y before the run
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("plot, message", [
    ({"y": "T_peek_max_C"}, "plot.y = 'T_peek_max_C': expected a column of the results "
     "table (did you mean T_peak_max_C"),
    ({"y": ["T_peak_max_C", "T_max_insert_C"]}, "plot.y = 'T_max_insert_C'"),
    ({"y": "max_continuous_beam_power_W"}, "plot.y = 'max_continuous_beam_power_W'"),
    ({"x": "time_s", "y": "T_peek_C"}, "plot.y = 'T_peek_C': expected a column of the "
     "cases' timeseries.csv (did you mean T_peak_C?)"),
    ({"x": "time_s", "y": "T_peak_max_C"}, "plot.y = 'T_peak_max_C'"),
])
def test_a_plot_y_no_case_can_give_is_refused_before_the_run(tmp_path, capsys, plot,
                                                              message):
    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in plot.items())
    s = power_file(tmp_path, "s.toml", [1.0], base=reflection(), plot="[plot]\n" + lines)
    assert main(["sweep", str(s), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("plot", [
    {"y": ["T_peak_max_C", "T_max_target_C", "T_max_heat_sink_C", "beam_power_W"]},
    {"y": "T_max_coolant_side_worst_C"},
    {"x": "time_s", "y": ["T_peak_C", "T_max_target_heat_sink_C", "stored_heat_J"]},
    {"x": "time_s", "y": ["offaxis_shift_um", "offaxis_shift_px", "image_drift_px"]},
])
def test_plot_ys_a_case_gives_are_accepted(plot):
    """Including the drift map's own time-series columns (offaxis_shift_* with a detector
    radius: they were refused)."""
    drift = {"view_direction": [0.94, 0.0, 0.342], "detector_radius_mm": 200.0,
             "source_object_mm": 20.0, "magnification": 10.0, "pixel_size_um": 100.0}
    case = reflection(mounts={"cooled_end": {"type": "clamped"}}, drift=drift)
    study_mod.from_dict({"case": case, "axes": {"beam.power_W": [1.0]}, "plot": plot})


def test_the_rating_columns_and_mechanics_columns_are_known():
    st = {"case": reflection(), "axes": {"beam.power_W": [1.0]}}
    study_mod.from_dict({**st, "tasks": {"rate": ["continuous"]},
                         "plot": {"y": "max_continuous_beam_power_W"}})
    with pytest.raises(CaseError, match="plot.y = 'T_peak_max_C'"):
        study_mod.from_dict({**st, "tasks": {"run": False, "rate": ["schedule"]},
                             "plot": {"y": "T_peak_max_C"}})
    with pytest.raises(CaseError, match="plot.y = 'drift_across_view_um_max_abs'"):
        study_mod.from_dict({**st, "plot": {"y": "drift_across_view_um_max_abs"}})


def test_a_plot_y_absent_after_the_run_is_one_short_line(tmp_path, capsys):
    """A name a case may give but none did (a limit's column) shows only at the end: one
    short line with the nearest names, not the table's every column; also under -q (it is
    a mistake in the study file, not progress)."""
    s = power_file(tmp_path, "s.toml", [1.0], plot='[plot]\ny = "T_max_target_worst_C"\n')
    out = tmp_path / "out"
    assert main(["sweep", str(s), "-o", str(out), "-q"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and len(err[0]) < 200, err
    assert err[0].startswith("quick-look plot not drawn: plot.y = 'T_max_target_worst_C'")
    assert "nearest: T_max_target_C" in err[0]


# --------------------------------------------------------------------------------------
# 5. Repeated values, one case twice
# --------------------------------------------------------------------------------------
def test_repeated_axis_values_and_cases_are_refused(tmp_path, capsys):
    base = small_block()
    with pytest.raises(CaseError, match=re.escape(
            'axes."beam.fwhm_um": the value 20.0 is given twice; expected each value once')):
        study_mod.from_dict({"case": base, "axes": {"beam.fwhm_um": [20, 20.0]}})
    # zipped axes may repeat a value beside one that differs
    st = study_mod.from_dict({"case": base, "combine": "zip",
                              "axes": {"beam.power_W": [1.0, 1.0], "beam.fwhm_um": [20, 30]}})
    assert len({p.id for p in st.points}) == 2
    with pytest.raises(CaseError, match="are the same case"):
        study_mod.from_dict({"case": base, "combine": "zip",
                             "axes": {"beam.power_W": [1.0, 1.0], "beam.fwhm_um": [20, 20]}})
    write_toml(tmp_path / "a.toml", base)
    write_toml(tmp_path / "b.toml", base)
    for case, message in (('["a.toml", "a.toml"]', "case: the value 'a.toml' is given twice"),
                          ('["a.toml", "b.toml"]', "axes: cases 0 (case = 'a.toml', "
                           "beam.power_W = 1.0) and 1 (case = 'b.toml', beam.power_W = 1.0) "
                           "are the same case")):
        s = tmp_path / "s.toml"
        s.write_text(f'case = {case}\n[axes]\n"beam.power_W" = [1.0]\n')
        assert main(["sweep", str(s), "-o", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
        assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------
# 6. Options that contradict each other
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("options, message", [
    (["--submit", "slurm", "--task-id", "0"], "--submit slurm with --task-id 0"),
    (["--collect", "--task-id", "1"], "--collect with --task-id 1"),
    (["--collect", "--submit", "slurm"], "--collect with --submit slurm"),
    (["--list", "--collect"], "--list with --collect"),
    (["--list", "--retry-failed"], "--retry-failed with --list"),
    (["--list", "--wait"], "--wait with --list"),
    (["--task-id", "0", "--report"], "--report with --task-id 0"),
])
def test_contradicting_options_are_refused(tmp_path, capsys, options, message):
    s = power_file(tmp_path, "s.toml", [1.0, 2.0])
    out = tmp_path / "out"
    assert main(["sweep", str(s), "-o", str(out), *options]) == 2
    err = capsys.readouterr()
    assert err.out == "" and err.err.count("\n") == 1 and message in err.err, err
    assert not out.exists()


# --------------------------------------------------------------------------------------
# --retry-failed on this machine
# --------------------------------------------------------------------------------------
def _fail(out: Path, case_id: str, reason: str = "worker process ended with signal 9") -> dict:
    """Turn a finished case into a failed one, as a worker killed by the system leaves it."""
    path = out / "cases" / case_id / "result.json"
    row = {**json.loads(path.read_text()), "status": "failed", "error": reason}
    path.write_text(json.dumps(row))
    return row


@pytest.mark.parametrize("fork", ["1", "0"])
def test_retry_failed_runs_the_failed_case_again_and_replaces_it(tmp_path, capsys,
                                                                 monkeypatch, fork):
    """A failed case runs again under --retry-failed (forked or as a new interpreter) and
    its new result replaces the failure; the case that was ok is not run again."""
    monkeypatch.setenv(study_mod.local.FORK_ENV, fork)
    s = power_file(tmp_path, "s.toml", [1.0, 2.0])
    out = tmp_path / "out"
    assert main(["sweep", str(s), "-o", str(out), "-q"]) == 0
    first = read_table(out / "results.csv")
    _fail(out, first[1]["id"])
    assert main(["sweep", str(out)]) == 1  # without --retry-failed the failure stands
    assert "1 ok, 1 failed, 0 pending" in capsys.readouterr().err
    assert main(["sweep", str(out), "--retry-failed"]) == 0
    err = capsys.readouterr().err
    assert "2 cases, 1 already finished, 1 to run" in err and "2 ok, 0 failed" in err, err
    again = read_table(out / "results.csv")
    assert [r["status"] for r in again] == ["ok", "ok"]
    assert again[0]["wall_s"] == first[0]["wall_s"]  # not run again
    assert float(again[1]["T_peak_max_C"]) == pytest.approx(float(first[1]["T_peak_max_C"]),
                                                            rel=1e-9)


def test_a_retry_refused_by_its_folder_keeps_the_failure(tmp_path, capsys):
    """A retried worker refused before it runs (exit 2: the folder holds another definition,
    here through the Python API, which does not open the folder) leaves the case's own
    failure and its error.txt as they were (it was replaced by "worker process ended with
    exit status 2")."""
    s = power_file(tmp_path, "s.toml", [1.0, 2.0])
    grown = power_file(tmp_path, "grown.toml", [1.0, 2.0, 3.0])
    out = tmp_path / "out"
    assert main(["sweep", str(s), "-o", str(out), "-q"]) == 0
    point = study_mod.load(out).points[1]
    reason = "SolverError: the real reason"
    row = _fail(out, point.id, reason)
    (out / "cases" / point.id / "error.txt").write_text("the real traceback\n")
    study_mod.run_local(study_mod.load(grown), out, 1, retry_failed=True)
    assert study_mod.result_of(out, point) == row
    assert (out / "cases" / point.id / "error.txt").read_text() == "the real traceback\n"
    assert f"case 1 {point.id}: not run again (" in capsys.readouterr().out


@pytest.mark.slow
def test_an_interrupted_retry_keeps_the_failed_record(tmp_path):
    """Ctrl-C while a failed case is retried: the case stays failed, with its error (the
    local retry removed the failed folder before running the case again, so an interrupted
    retry turned a known failure into a pending case, and a killed one lost it)."""
    s = tmp_path / "s.toml"
    write_toml(tmp_path / "slow.toml", slow_case(100_000))  # minutes: the signal comes first
    s.write_text('case = "slow.toml"\n[axes]\n"beam.power_W" = [5.0]\n')
    out = tmp_path / "out"
    study = study_mod.load(s)
    study_mod.open_folder(study, out)
    study_mod.release_folder(out)
    point = study.points[0]
    failed = study_mod.record_failure(out, point, "an earlier failure")
    from test_reliability import default_signals

    def retry():
        return subprocess.Popen(SWEEP + [str(out), "--retry-failed", "-j", "1"],
                                stderr=subprocess.PIPE, text=True, preexec_fn=default_signals)

    proc = retry()
    started_workers(out, 1, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert study_mod.result_of(out, point) == failed
    assert [(r["status"], r["error"]) for r in read_table(out / "results.csv")] == \
        [("failed", "an earlier failure")]
    # a retry whose worker is killed: the new failure replaces the earlier one
    for work in (out / "cases").glob(".*"):  # the interrupted worker's (cleaned at start)
        shutil.rmtree(work)
    proc = retry()
    (pid,) = started_workers(out, 1, proc).values()
    os.kill(pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert "worker process ended with signal 9" in err, err
    assert [(r["status"], r["error"]) for r in read_table(out / "results.csv")] == \
        [("failed", "worker process ended with signal 9")]


# --------------------------------------------------------------------------------------
# 7, 9. Pending cases; counts
# --------------------------------------------------------------------------------------
def test_an_unreadable_result_runs_again_and_is_kept_aside(tmp_path, capsys):
    s = power_file(tmp_path, "s.toml", [1.0, 2.0])
    out = tmp_path / "out"
    assert main(["sweep", str(s), "-o", str(out)]) == 0
    assert "2 cases, 0 already finished, 2 to run with 1 process ->" in \
        capsys.readouterr().err
    rows = read_table(out / "results.csv")
    torn = out / "cases" / rows[1]["id"] / "result.json"
    torn.write_text('{"index": 1, "st')
    assert main(["sweep", str(out)]) == 0
    err = capsys.readouterr().err
    assert "result.json unreadable" in err and "2 ok, 0 failed, 0 pending" in err, err
    assert [r["status"] for r in read_table(out / "results.csv")] == ["ok", "ok"]
    aside = list((out / "cases").glob(f"{rows[1]['id']}.unreadable-*"))
    assert len(aside) == 1 and (aside[0] / "result.json").read_text() == '{"index": 1, "st'


def test_a_sweep_with_pending_cases_exits_1(tmp_path, capsys):
    """--collect of a study one of whose cases never ran (its SLURM task was cancelled):
    exit status 1, not 0 ("when every case finished")."""
    s = power_file(tmp_path, "s.toml", [1.0, 2.0])
    out = tmp_path / "out"
    assert main(["sweep", str(s), "-o", str(out), "-q"]) == 0
    gone = read_table(out / "results.csv")[1]["id"]
    shutil.rmtree(out / "cases" / gone)
    assert main(["sweep", str(out), "--collect"]) == 1
    assert "1 ok, 0 failed, 1 pending" in capsys.readouterr().err


def test_one_case_one_process(tmp_path, capsys):
    s = power_file(tmp_path, "s.toml", [1.0])
    assert main(["sweep", str(s), "-o", str(tmp_path / "out")]) == 0
    assert ": 1 case, 0 already finished, 1 to run with 1 process ->" in \
        capsys.readouterr().err


# --------------------------------------------------------------------------------------
# 7. Folders of the previous version; a definition read from the folder
# --------------------------------------------------------------------------------------
def previous_version_folder(tmp_path) -> Path:
    """A study folder as the version before the refusals of repeated values wrote it: a
    grid axis with a value given twice (20 and 20.0: one case, two rows) and a plot.y no
    case gives, in its study.json (built by hand from a current one)."""
    s = power_file(tmp_path, "s.toml", [1.0, 2.0])
    out = tmp_path / "old"
    study_mod.open_folder(study_mod.load(s), out)
    study_mod.release_folder(out)
    saved = json.loads((out / "study.json").read_text())
    saved["study"]["axes"] = {"beam.power_W": [1.0, 1.0]}
    saved["study"]["plot"] = {"y": "T_peek_max_C"}
    with pytest.raises(CaseError, match="given twice"):  # a study file: refused now
        study_mod.from_dict({k: v for k, v in saved["study"].items() if k != "bases"} | {
            "case": small_block()})
    (out / "study.json").write_text(json.dumps(saved, indent=2))
    st = study_mod.load(out)  # what the previous version computed: the same formula
    saved = {"id": st.id, **{k: v for k, v in saved.items() if k != "id"}}
    saved["cases"] = [{"index": p.index, "id": p.id, "inputs": p.inputs, "invalid": None}
                      for p in st.points]
    (out / "study.json").write_text(json.dumps(saved, indent=2) + "\n")
    return out


def test_a_folder_written_by_the_previous_version_resumes_lists_and_collects(tmp_path,
                                                                             capsys):
    """Repeated values, one case twice and a plot.y no case gives are refused in a study
    FILE only: the folder's saved study.json loads as before (its bad plot.y is the
    after-run line), and study.json is not rewritten."""
    out = previous_version_folder(tmp_path)
    saved = (out / "study.json").read_bytes()
    assert main(["sweep", str(out), "-q"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("quick-look plot not drawn: plot.y = "
                                               "'T_peek_max_C'"), err
    assert main(["sweep", str(out), "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 2 and all("  ok  " in line for line in listed), listed
    assert main(["sweep", str(out), "--collect", "-q"]) == 0
    assert [r["status"] for r in read_table(out / "results.csv")] == ["ok", "ok"]
    assert (out / "study.json").read_bytes() == saved


def earlier_ids_folder(tmp_path, drop_last: bool) -> tuple[Path, list[str]]:
    """A study folder as an earlier version that resolved the cases otherwise wrote it (a
    new default or key in Case.to_dict() changes every case id, and so the study's): its
    case ids, in study.json, the case folders, result.json and results.csv, are not those
    this version computes. drop_last: the last case had not finished (no folder, pending)."""
    import hashlib

    s = power_file(tmp_path, "s.toml", [1.0, 2.0, 3.0])
    out = tmp_path / "earlier"
    assert main(["sweep", str(s), "-o", str(out), "-q"]) == 0
    saved = json.loads((out / "study.json").read_text())
    now = [c["id"] for c in saved["cases"]]
    then = {i: hashlib.sha256(f"earlier {i}".encode()).hexdigest()[:12] for i in now}
    text = json.dumps(saved, indent=2) + "\n"
    csv = (out / "results.csv").read_text()
    for i, j in then.items():
        text, csv = text.replace(i, j), csv.replace(i, j)
        case = out / "cases" / i
        (case / "result.json").write_text((case / "result.json").read_text().replace(i, j))
        case.rename(out / "cases" / j)
    text = text.replace(saved["id"], "0123456789ab")
    if drop_last:
        shutil.rmtree(out / "cases" / then[now[-1]])
    (out / "study.json").write_text(text)
    (out / "results.csv").write_text(csv)
    return out, [then[i] for i in now]


def files_of(out: Path) -> dict[str, bytes]:
    """Every file under a study folder but its lock files, with its content."""
    return {str(f.relative_to(out)): f.read_bytes() for f in sorted(out.rglob("*"))
            if f.is_file() and not f.name.startswith(".study.")}


def test_a_folder_whose_case_ids_an_earlier_version_computed_is_not_resumed(tmp_path,
                                                                            capsys):
    """An earlier version's case ids (hashes of the resolved case, which changes with the
    code: a new default such as the capped erosion budget changes a case's rating) are not
    this version's: resumed under them, the unfinished case would run under this version's
    resolution beside results of the earlier one, in one table. A resume, --collect and
    anodesim.sweep refuse it in one line that says why and what to do (exit 2, nothing
    written; it said "has been given another definition since this process read it: run it
    again", at every try); the study file run into the folder runs every case anew and
    lists the earlier definition in "earlier"."""
    out, ids = earlier_ids_folder(tmp_path, drop_last=True)
    before = files_of(out)
    for args in (["sweep", str(out)], ["sweep", str(out), "--collect"],
                 ["sweep", str(out), "--retry-failed"]):
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert "lists its cases under ids (study 0123456789ab) that its definition does " \
               "not give here" in err and "expected the study file run into it" in err, err
        assert files_of(out) == before, args
    with pytest.raises(CaseError, match="lists its cases under ids"):
        anodesim.sweep(out)
    assert files_of(out) == before
    assert main(["sweep", str(out), "--list"]) == 0  # reads it as it is, and says so
    listed = capsys.readouterr()
    assert "lists its cases under other ids (study 0123456789ab)" in listed.err
    assert len(listed.out.splitlines()) == 3 and all(i not in listed.out for i in ids)
    assert files_of(out) == before
    assert main(["sweep", str(tmp_path / "s.toml"), "-o", str(out), "-q"]) == 0
    record = json.loads((out / "study.json").read_text())
    assert record["earlier"][-1]["id"] == "0123456789ab"
    assert not set(ids) & {c["id"] for c in record["cases"]}
    rows = read_table(out / "results.csv")
    assert [r["status"] for r in rows] == ["ok"] * 3
    assert not set(ids) & {r["id"] for r in rows}


def test_a_study_json_edited_by_hand_is_not_resumed_beside_its_results(tmp_path, capsys):
    """A study.json whose base case was edited (here the spot, 20 -> 200 um) with its case
    list left as it was: a resume ran the unfinished case under the edited definition and
    gave it, in one results.csv, beside the finished cases of the other spot (a peak
    temperature 8x too low in the third row, exit 0, no word). It is refused: exit 2, one
    line, nothing written."""
    s = power_file(tmp_path, "s.toml", [1.0, 2.0, 3.0])
    out = tmp_path / "edited"
    assert main(["sweep", str(s), "-o", str(out), "-q"]) == 0
    record = json.loads((out / "study.json").read_text())
    (base,) = record["study"]["bases"].values()
    base["case"]["beam"]["fwhm_um"] = 200.0
    shutil.rmtree(out / "cases" / record["cases"][-1]["id"])
    (out / "study.json").write_text(json.dumps(record, indent=2) + "\n")
    capsys.readouterr()
    before = files_of(out)
    assert main(["sweep", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "or edited by hand" in err, err
    assert files_of(out) == before


def test_a_study_read_from_its_folder_never_gives_it_back_its_definition(tmp_path, capsys):
    """An array task or worker reads study.json (A); a sweep of B over the same axes
    rewrites it; the task's open_folder used to write A back (A -> B -> A under B's
    cases): now it is refused, study.json stays B's. A task given its study's id
    (--study-id, as the array script and the local workers pass it) refuses to run a case
    of another definition: one line, exit 2, nothing run."""
    a = power_file(tmp_path, "a.toml", [1.0, 2.0])
    b = power_file(tmp_path, "b.toml", [3.0, 4.0])
    out = tmp_path / "out"
    study_mod.open_folder(study_mod.load(a), out)
    study_mod.release_folder(out)
    task_view = study_mod.load(out)
    st_b = study_mod.load(b)
    study_mod.open_folder(st_b, out)
    study_mod.release_folder(out)
    saved = (out / "study.json").read_bytes()
    with pytest.raises(CaseError, match="given another definition .* since this process "
                       "read it"):
        study_mod.open_folder(task_view, out)
    assert (out / "study.json").read_bytes() == saved
    assert out.resolve() not in study_mod.folder._HELD
    assert main(["sweep", str(out), "--task-id", "0", "--study-id", task_view.id]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--study-id {task_view.id}: " in err and \
        f"holds another definition of the study now (id {st_b.id})" in err, err
    assert not any((out / "cases").iterdir())
    assert (out / "study.json").read_bytes() == saved
    assert "--study-id" in " ".join(study_mod.worker_command(out, 0, st_b.id))
    assert f"--study-id {st_b.id}" in study_mod.slurm_script(st_b, out, [0, 1])


def test_the_same_definition_goes_in_while_another_process_changes_one(tmp_path,
                                                                      monkeypatch):
    """The folder's own study takes only the shared lock (reading study.json up to its
    id), so it is not held up by a process that holds the mutex; a change of definition
    waits for the mutex at most MUTEX_WAIT_S, then is one line (it blocked forever)."""
    import fcntl

    from anodesim.study import folder

    one = study_mod.load(power_file(tmp_path, "one.toml", [1.0]))
    two = study_mod.load(power_file(tmp_path, "two.toml", [1.0, 2.0]))
    out = tmp_path / "out"
    study_mod.open_folder(one, out)
    study_mod.release_folder(out)
    mutex = os.open(out / folder.MUTEX, os.O_RDWR)
    try:
        fcntl.flock(mutex, fcntl.LOCK_EX)  # another process checking a definition
        study_mod.open_folder(one, out)
        study_mod.release_folder(out)
        monkeypatch.setattr(folder, "MUTEX_WAIT_S", 0.2)
        with pytest.raises(CaseError, match="another process has been changing the study's "
                           "definition for 0 s"):
            study_mod.open_folder(two, out)
        assert out.resolve() not in folder._HELD
    finally:
        os.close(mutex)
    assert folder._saved_id(out / "study.json") == one.id


# --------------------------------------------------------------------------------------
# 8. The folder held to the end, and let go of on every way out
# --------------------------------------------------------------------------------------
def test_the_folder_is_held_until_the_final_table_and_plot(tmp_path, monkeypatch):
    from anodesim.study import folder, local

    out = tmp_path / "out"
    seen = []
    real = local.plot

    def plot(study, table):
        seen.append(out.resolve() in folder._HELD)
        return real(study, table)

    monkeypatch.setattr(local, "plot", plot)
    anodesim.sweep({"case": small_block(), "axes": {"beam.power_W": [1.0]}}, out)
    assert seen == [True]
    assert out.resolve() not in folder._HELD


def test_the_folder_is_let_go_of_when_a_sweep_fails_early_or_only_collects(tmp_path,
                                                                         monkeypatch):
    from anodesim.study import folder, local

    s = power_file(tmp_path, "s.toml", [1.0])
    out = tmp_path / "out"

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(local, "set_aside", broken)
    with pytest.raises(OSError):
        anodesim.sweep(s, out)
    assert out.resolve() not in folder._HELD
    monkeypatch.undo()
    assert main(["sweep", str(s), "-o", str(out), "--collect", "-q"]) == 1  # pending
    assert out.resolve() not in folder._HELD
    assert main(["sweep", str(s), "-o", str(out), "--task-id", "0", "-q"]) == 0
    assert out.resolve() not in folder._HELD


# --------------------------------------------------------------------------------------
# 9. A result set aside by another process meanwhile; a parquet that still matches
# --------------------------------------------------------------------------------------
def test_a_good_result_published_meanwhile_is_not_set_aside(tmp_path, monkeypatch):
    """Runner A reads a torn result.json; before A renames the folder aside, B's worker
    sets it aside and publishes a good result: A put B's good folder aside (and recorded
    a failure). Now the folder renamed is checked to be the one judged, and put back."""
    from anodesim.study import folder

    final = tmp_path / "cases" / "abc"
    final.mkdir(parents=True)
    (final / "result.json").write_text('{"status": "o')  # torn
    real = folder._readable

    def readable_while_b_publishes(path):
        ok = real(path)
        if not ok and not (tmp_path / "b-did").exists():  # B, between A's read and rename
            (tmp_path / "b-did").touch()
            os.rename(final, final.with_name("abc.unreadable-by-b"))
            good = tmp_path / "cases" / ".abc.work"
            good.mkdir()
            (good / "result.json").write_text('{"status": "ok"}')
            os.rename(good, final)
        return ok

    monkeypatch.setattr(folder, "_readable", readable_while_b_publishes)
    assert folder.set_aside(final) is None
    assert json.loads((final / "result.json").read_text()) == {"status": "ok"}
    assert sorted(p.name for p in final.parent.iterdir()) == ["abc", "abc.unreadable-by-b"]


def test_a_parquet_that_still_matches_is_kept(tmp_path, monkeypatch, capsys):
    pytest.importorskip("pyarrow")
    pytest.importorskip("pandas")
    out = tmp_path / "out"
    st = {"case": small_block(), "axes": {"beam.power_W": [1.0]}}
    anodesim.sweep(st, out)
    before = (out / "results.parquet").read_bytes()
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as where it is not installed
    capsys.readouterr()
    study_mod.collect(study_mod.from_dict(st), out)  # the same table: removed, "no longer
    assert (out / "results.parquet").read_bytes() == before  # matches"
    assert capsys.readouterr().err == ""


class _Worker(subprocess.Popen):
    """A stand-in for a sweep's worker as its runner sees one, ready once it has printed:
    SIGINT at its default action (a pytest worker may be ignoring it, and an ignored signal
    is inherited through exec), or ignored when deaf."""

    def __init__(self, deaf: bool = False):
        ignore = "signal.signal(signal.SIGINT, signal.SIG_IGN); " if deaf else ""
        super().__init__([sys.executable, "-c", f"import signal, time; {ignore}"
                          "print(flush=True); time.sleep(600)"], stdout=subprocess.PIPE,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self.stdout.readline()  # its handlers are in place

    def release(self):
        pass

    def end(self) -> None:
        if self.poll() is None:
            self.kill()
        self.stdout.close()


def test_a_worker_that_loses_the_interrupt_is_asked_again_then_killed(monkeypatch):
    """The sweep's Ctrl-C reaches a worker that does not end (its interrupt lost, here
    ignored outright): it is sent SIGINT again and then SIGKILL, STOP_GRACE_S apart, instead
    of the sweep waiting for its whole case; a worker that ends at once is only waited for."""
    from anodesim.study import local

    monkeypatch.setattr(local, "STOP_GRACE_S", 0.5)
    # a runner started from a terminal (a pytest worker may be ignoring SIGINT itself)
    monkeypatch.setattr(local.signal, "getsignal", lambda sig: signal.default_int_handler)
    stubborn, willing = _Worker(deaf=True), _Worker()
    try:
        local._stop([stubborn, willing])
        assert stubborn.returncode == -signal.SIGKILL
        assert willing.returncode == -signal.SIGINT  # ended by the first SIGINT
    finally:
        stubborn.end()
        willing.end()


def test_a_sweep_started_with_sigint_ignored_stops_its_workers_with_sigterm(monkeypatch):
    """`anodesim sweep … &` in a script starts the runner, and so its workers, with SIGINT
    ignored: the stop's SIGINT went unheard, and each worker was killed after twice
    STOP_GRACE_S (20 s, reviewer). Such a runner asks with SIGTERM, which a worker ends on."""
    from anodesim.study import local

    monkeypatch.setattr(local, "STOP_GRACE_S", 30.0)
    monkeypatch.setattr(local.signal, "getsignal", lambda sig: signal.SIG_IGN)
    deaf = _Worker(deaf=True)
    try:
        local._stop([deaf])
        assert deaf.returncode == -signal.SIGTERM  # the first ask, not SIGKILL after it
    finally:
        deaf.end()


@pytest.mark.slurm
def test_stopping_run_submit_wait_says_the_job_runs_on(tmp_path):
    """SIGTERM (or Ctrl-C) while `run --submit slurm --wait` waits ends the command (143),
    not the job: the one line says that the job is not cancelled, how to stop it and where
    its results go (it said only "terminated by SIGTERM ...", and a user took the job for
    stopped)."""
    from test_study import SLURM_HERE

    if not SLURM_HERE.exists() or subprocess.run([str(SLURM_HERE)], capture_output=True,
                                                 timeout=600).returncode != 0:
        pytest.skip("SLURM TEST NOT RUN: no single-node cluster (slurm-here) could start")
    case = tmp_path / "slow.toml"
    write_toml(case, slow_case(20000))
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "anodesim", "run", str(case), "-o",
                             str(out), "--submit", "slurm", "--wait"],
                            stderr=subprocess.PIPE, text=True)
    job_id = out / "slurm" / "job_id"
    try:
        wait_until(lambda: job_id.exists() and job_id.read_text().strip(), proc,
                   "the submission")
        job = job_id.read_text().strip()
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=60)[1]
        queued = subprocess.run(["squeue", "-h", "-j", job, "-o", "%i"], capture_output=True,
                                text=True).stdout.split()
    finally:
        if proc.poll() is None:
            proc.kill()
        if job_id.exists():
            subprocess.run(["scancel", job_id.read_text().strip()], capture_output=True)
    assert proc.returncode == 143, err
    line = err.strip().splitlines()[-1]
    assert line.startswith("anodesim: terminated by SIGTERM") and \
        f"SLURM job {job} is not cancelled and runs on (`scancel {job}` stops it; its " \
        f"results go to {out})" in line, err
    assert queued == [job]  # the job itself was left alone


def test_a_read_only_study_folder_is_bad_input(tmp_path, capsys):
    """Resuming or collecting a study folder that may be read but not written (an archive,
    a read-only mount): one line, exit 2, as for any output folder that cannot be one (it
    was "run failed: DIR/.study.active: Read-only file system; choose a folder you can write
    to (-o DIR)", exit 1, and an OSError from anodesim.sweep); --list still reads it."""
    s = power_file(tmp_path, "s.toml", [1.0])
    out = tmp_path / "out"
    assert main(["sweep", str(s), "-o", str(out), "-q"]) == 0
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    ro = tmp_path / "ro"
    ro.mkdir()
    mounted = None
    if os.geteuid() != 0:
        ro = out
        out.chmod(0o555)
    else:
        mounted = subprocess.run(["mount", "--bind", str(out), str(ro)]).returncode == 0 and \
            subprocess.run(["mount", "-o", "remount,ro,bind", str(ro)]).returncode == 0
        if not mounted:
            subprocess.run(["umount", str(ro)], capture_output=True)
            pytest.skip("SKIPPED LOUDLY: root without mount here: no read-only folder")
    try:
        for extra in ([], ["--collect"], ["--retry-failed"]):
            assert main(["sweep", str(ro), "-q"] + extra) == 2, extra
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and f"{ro}: the study folder is not writable" in err
        with pytest.raises(CaseError, match="the study folder is not writable"):
            anodesim.sweep(ro)
        assert main(["sweep", str(ro), "--list"]) == 0
    finally:
        if mounted:
            subprocess.run(["umount", str(ro)], check=True)
        out.chmod(0o755)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before
