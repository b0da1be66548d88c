"""A rating's helper (anodesim.rating.helper): chart anchors made ahead on the idle core by a
process forked before MPI starts. The rating takes each run the helper made as one of its
own, so a rating with it is the rating without it: the same numbers bit for bit, the same
files, the same lines but for the runs' times and "on the idle core"; and a helper that dies
part way costs only time. ANODESIM_RATING_HELPER=1 starts it whatever the load."""

import contextlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from cases import reflection
from test_case import write_toml

from anodesim.rating import helper

MPIRUN = shutil.which("mpirun", path=str(Path(sys.executable).parent)) or shutil.which("mpirun")
LEAN = {"mesh": {"growth": 0.3, "spot_fraction": 0.2}, "time": {"steps_per_doubling": 2}}
#: Short serial-load charts (the suite's time): two points each, so two FE anchors each, the
#: rating making the first and its helper asked for the second; at a 10 ms period a
#: serial-load anchor costs about half one at the default 1 s. No duty cycle of 1: its
#: steady-state anchor is no serial run (kirchhoff.series_from_steady), which the helpers
#: below fail or stop in; no point is on both charts (the test of one that is: below).
CHARTS = {"period_s": 0.01, "duty_cycles": [0.1, 0.3], "periods_s": [0.001, 0.01]}


def _command(path: Path, out: Path, with_helper: bool) -> tuple[list, dict]:
    env = {**os.environ, helper.ENV: "1" if with_helper else "0"}
    return [sys.executable, "-m", "anodesim", "rate", str(path), "--chart", "duty", "-o",
            str(out)], env


def _numbers(out: Path) -> dict:
    """rating.json without its wall times."""
    r = json.loads((out / "rating.json").read_text())
    r.pop("seconds")
    r["engine"].pop("seconds")
    return r


def _plain(lines: str) -> list[str]:
    """The rating's lines without what differs from run to run: times, the folder."""
    lines = re.sub(r"(\d+\.\d+|under 0\.1) s( on the idle core)?", "T", lines)
    return [line for line in lines.splitlines() if "->" not in line]


@pytest.fixture(scope="module")
def alone(tmp_path_factory):
    """A coarse insert's serial-load charts rated without a helper: (case file, folder,
    stderr)."""
    path = write_toml(tmp_path_factory.mktemp("helper") / "case.toml",
                      reflection(**LEAN, rating=CHARTS))
    out = path.parent / "alone"
    cmd, env = _command(path, out, with_helper=False)
    p = subprocess.run(cmd, env=env, stderr=subprocess.PIPE, text=True, timeout=900)
    assert p.returncode == 0, p.stderr
    assert "on the idle core" not in p.stderr
    return path, out, p.stderr


def _same_rating(out: Path, alone_out: Path) -> None:
    assert _numbers(out) == _numbers(alone_out)
    for csv in sorted(alone_out.glob("*.csv")):
        assert (out / csv.name).read_bytes() == csv.read_bytes(), csv.name


def _left_folders(pid: int) -> list[str]:
    return [n for n in os.listdir(tempfile.gettempdir())
            if n.startswith(f"{helper.PREFIX}{pid}-")]


@pytest.mark.slow
def test_a_rating_with_its_helper_is_the_rating_without(alone, tmp_path):
    path, alone_out, alone_err = alone
    cmd, env = _command(path, tmp_path / "helped", with_helper=True)
    p = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    err = p.communicate(timeout=900)[1]
    assert p.returncode == 0, err
    made = [line for line in err.splitlines() if line.endswith("on the idle core")]
    assert made and all(line.startswith("    FE run ") and "chart anchor" in line
                        for line in made), err
    _same_rating(tmp_path / "helped", alone_out)
    assert _plain(err) == _plain(alone_err)
    assert _left_folders(p.pid) == []


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


@pytest.mark.slow
def test_a_helper_killed_part_way_changes_nothing(alone, tmp_path):
    """The helper SIGKILLed once the serial-load charts start (the out-of-memory killer):
    the rating makes the runs itself, and its numbers and files are the same."""
    path, alone_out, _ = alone
    cmd, env = _command(path, tmp_path / "helped", with_helper=True)
    p = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in p.stderr:
        seen.append(line)
        if "serial-load charts" in line:
            break
    helpers = _children(p.pid)
    assert len(helpers) == 1, "".join(seen)
    os.kill(helpers[0], signal.SIGKILL)
    seen.append(p.stderr.read())
    assert p.wait(timeout=900) == 0, "".join(seen)
    _same_rating(tmp_path / "helped", alone_out)


def test_the_helper_starts_only_where_it_can_gain(monkeypatch):
    """Never with ANODESIM_RATING_HELPER=0, nor in a process whose MPI has started (no fork
    after MPI_Init: study/preload.py) or under a launcher; only for charts with anchors."""
    from anodesim import _mpi  # noqa: F401  (MPI started in this process)

    monkeypatch.setenv(helper.ENV, "1")
    assert not helper.wanted()
    monkeypatch.setenv(helper.ENV, "0")
    assert not helper.wanted()
    assert helper.anchored("all") and helper.anchored(("continuous", "duty"))
    assert not helper.anchored("continuous") and not helper.anchored(["life"])


def _rate_both(path: Path, root: Path) -> tuple[Path, str, Path, str]:
    """(folder, stderr) of the case's serial-load charts rated alone, then with a helper."""
    out = []
    for name, with_helper in (("alone", False), ("helped", True)):
        cmd, env = _command(path, root / name, with_helper)
        p = subprocess.run(cmd, env=env, stderr=subprocess.PIPE, text=True, timeout=900)
        assert p.returncode == 0, p.stderr
        out += [root / name, p.stderr]
    return tuple(out)


@pytest.mark.slow
def test_a_run_the_rating_reaches_again_is_made_again(tmp_path):
    """The point (10 ms, 0.5) is the duty chart's one anchor (made by the rating, claimed
    there) and the period chart's middle one (the same FE run, the same key): the rating
    reached that key again and, claimed by itself, waited for the helper's word on it for
    ever (the helper skips a run claimed by the rating without a word). Alone it is made
    again; so it is with the helper. (Found at (1 s, 0.5) between 0.1 and 10 s; at 10 ms
    between 1 and 100 ms the same, each FE run cheaper.)"""
    path = write_toml(tmp_path / "case.toml", reflection(
        **LEAN, rating={"period_s": 0.01, "duty_cycles": [0.5], "duty_cycle": 0.5,
                        "periods_s": [0.001, 0.01, 0.1]}))
    alone_out, alone_err, out, err = _rate_both(path, tmp_path)
    again = "chart anchor: serial load, period 0.01 s, duty cycle 0.5 at "
    assert alone_err.count(again) == 2, alone_err  # reached again, made again
    assert "on the idle core" in err
    _same_rating(out, alone_out)
    assert _plain(err) == _plain(alone_err)


#: anodesim rate in a fresh interpreter, its helper's FE runs (kirchhoff.series_from_steady
#: in the helper) doing {in_helper} first (Python, two levels of indentation), after
#: {prelude} (Python) has run.
HELPER_RUNS = """
import os
import signal
import sys
import warnings
import anodesim.rating.kirchhoff as k
from anodesim import processes
from anodesim.rating import helper
from anodesim.__main__ import main

made = k.series_from_steady
{prelude}

def series_from_steady(*args):
    if helper.serving():
{in_helper}
    return made(*args)

k.series_from_steady = series_from_steady
sys.argv[0] = "anodesim"
sys.exit(main())
"""


def _helper_runs(in_helper: str, prelude: str = "") -> str:
    """HELPER_RUNS with in_helper and prelude (module-level code)."""
    return HELPER_RUNS.format(in_helper=textwrap.indent(textwrap.dedent(in_helper), " " * 8),
                              prelude=textwrap.dedent(prelude))


#: anodesim rate, with the helper's first FE run failing in its solver (as out of memory in
#: a factorisation beside the rating would: the helper's alone).
FAILING_HELPER = _helper_runs("""
    if not failed:
        from anodesim.thermal import SolverError  # (here: imported before the fork, it
        # would start MPI in the rating's process, which then starts no helper)

        failed.append(True)
        raise SolverError("the helper's own failure")
    """, prelude="failed = []")


@pytest.mark.slow
def test_a_solver_failure_of_the_helper_is_not_the_ratings(alone, tmp_path):
    """A run whose solver fails in the helper was taken as the rating's run failing (the
    target far over at that power: the anchor's power × 0.8, another chart); it may be the
    helper's alone (memory), so the rating makes that run itself, as alone."""
    path, alone_out, alone_err = alone
    cmd, env = _command(path, tmp_path / "helped", with_helper=True)
    p = subprocess.run([sys.executable, "-c", FAILING_HELPER, *cmd[3:]], env=env,
                       stderr=subprocess.PIPE, text=True, timeout=900)
    assert p.returncode == 0, p.stderr
    assert "(failed)" not in p.stderr and "on the idle core" in p.stderr, p.stderr
    _same_rating(tmp_path / "helped", alone_out)
    assert _plain(p.stderr) == _plain(alone_err)


@pytest.mark.parametrize("charts", [5, [["duty"]]])
def test_chart_names_of_another_type_are_refused_as_alone(charts, tmp_path):
    """anodesim.rate(charts=5) raised TypeError from the helper's check of the charts
    (helper.anchored) before the rating's own line (CaseError naming the charts)."""
    import anodesim
    from anodesim.case import CaseError

    path = write_toml(tmp_path / "case.toml", reflection(**LEAN))
    with pytest.raises(CaseError, match="chart"):
        anodesim.rate(path, tmp_path / "out", charts=charts)
    assert not (tmp_path / "out").exists()


CAD_CASE = Path(__file__).resolve().parent.parent / "meshes" / "step_anode_case.toml"


def test_the_memory_check_meshes_nothing(monkeypatch):
    """room_for takes a CAD part's cells from the size field (as cost.refusal does): it
    meshed the part to count them (cost.cell_count: some 2 700 cells/s, Ctrl-C held) before
    every rating of it began."""
    from anodesim import cost
    from anodesim.case import load

    meshed = []
    monkeypatch.setattr(cost, "mesh_cells", lambda *a: meshed.append(a) or 1)
    assert helper.room_for(load(CAD_CASE))  # some 35 000 cells: MiB of memory
    assert meshed == []


def _memory(root: Path, groups: str, files: dict) -> None:
    """A made-up /proc/meminfo (64 GiB available), /proc/self/cgroup and cgroup tree."""
    (root / "meminfo").write_text("MemTotal: 67108864 kB\nMemAvailable: 67108864 kB\n")
    (root / "cgroup").write_text(groups)
    for name, text in files.items():
        (root / "fs" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "fs" / name).write_text(text)


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_the_memory_check_takes_the_control_groups_limit(version, tmp_path, monkeypatch):
    """A batch job's or a container's memory limit (its cgroup) is the memory there is: the
    machine's MemAvailable, which room_for read alone, is not. A job whose limit leaves 2.5
    times the insert's estimated peak (about 190 MiB) beside the 100 MiB it uses has no room
    for a helper (ROOM_FOR_HELPER, three times the peak: the rating's own process grows to
    some 2.3 times it, the helper takes one more); nor when the limit is its parent group's;
    with no limit it has."""
    from anodesim import cost
    from anodesim.case import from_dict
    from anodesim.resolve import prepare

    case = from_dict(reflection(**LEAN))
    need = cost.case_memory_mib(case, prepare(case))
    limit = 100 + 2.5 * need  # MiB
    monkeypatch.setattr(helper, "MEMINFO", str(tmp_path / "meminfo"), raising=False)
    monkeypatch.setattr(helper, "CGROUPS", str(tmp_path / "cgroup"), raising=False)
    monkeypatch.setattr(helper, "CGROUP_ROOT", str(tmp_path / "fs"), raising=False)
    mib = 2**20
    if version == "v2":
        names, groups, top = ("memory.max", "memory.current"), "0::/job/step\n", ""
    else:
        names, groups = ("memory.limit_in_bytes", "memory.usage_in_bytes"), \
            "5:cpu,cpuacct:/job\n4:memory:/job/step\n"
        top = "memory/"
    for limited in (f"{top}job/step", f"{top}job"):
        _memory(tmp_path, groups, {f"{top}job/step/{names[0]}": "max\n",
                                   f"{top}job/step/{names[1]}": f"{100 * mib}\n",
                                   f"{limited}/{names[0]}": f"{int(limit * mib)}\n",
                                   f"{limited}/{names[1]}": f"{100 * mib}\n",
                                   f"{limited}/memory.stat": "inactive_file 0\n"})
        assert helper.available_mib() == pytest.approx(2.5 * need, abs=1e-3)
        assert not helper.room_for(case)
    _memory(tmp_path, groups, {f"{top}job/{names[0]}": "max\n"})
    assert helper.available_mib() == pytest.approx(65536.0)
    assert helper.room_for(case)


@pytest.mark.parametrize("failing", ["mkdtemp", "pipe"])
def test_no_folder_or_pipe_for_a_helper_is_a_rating_alone(failing, monkeypatch):
    """A temporary folder that cannot be made (a full /tmp) or no pipe (the process's file
    limit) ended the rating with that OSError before it began; alone, it runs (a full disk
    only ends its checkpoint's keeping)."""
    import errno

    def fail(*args, **kwargs):
        raise OSError(errno.ENOSPC if failing == "mkdtemp" else errno.EMFILE, failing)

    monkeypatch.setattr(tempfile if failing == "mkdtemp" else os, failing, fail)
    left = set(os.listdir(tempfile.gettempdir()))
    assert helper._start(None) is None
    assert {n for n in os.listdir(tempfile.gettempdir()) if n.startswith(helper.PREFIX)} \
        <= left


@pytest.mark.slow
@pytest.mark.skipif(MPIRUN is None, reason="no mpirun found next to the interpreter or on PATH")
def test_no_helper_under_a_launcher_of_one_rank(alone, tmp_path):
    """`mpirun -n 1 anodesim rate`: the launcher gives its one process PMI_SIZE=1 and its
    connection, PMI_FD; a helper forked from it started MPI through that connection, and
    the rating's own MPI_Init then failed ("PMI_Init returned -1", MPI's Abort, exit 15, no
    line of anodesim's). No helper starts under a launcher, one rank too."""
    path, alone_out, alone_err = alone
    cmd, env = _command(path, tmp_path / "launched", with_helper=True)
    p = subprocess.run([MPIRUN, "-n", "1", *cmd], env=env, stderr=subprocess.PIPE, text=True,
                       timeout=900)
    assert p.returncode == 0, p.stderr
    assert "on the idle core" not in p.stderr
    _same_rating(tmp_path / "launched", alone_out)


def test_only_a_helpers_folder_is_removed_as_stale(tmp_path, monkeypatch):
    """A rating removes the folders its killed predecessors' helpers left in /tmp: it took
    any folder named anodesim-rating-<digits>-... whose process number had ended, a user's
    results too (``-o /tmp/anodesim-rating-99999999-results``). Only a folder named as
    mkdtemp names a helper's, holding only a helper's files, is removed. (99999999 is above
    Linux's largest process number, 2^22.)"""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    users = [tmp_path / f"{helper.PREFIX}99999999-results",
             tmp_path / f"{helper.PREFIX}99999999-2026-12-05",
             tmp_path / f"{helper.PREFIX}99999999-abcd1234"]  # named so, but not its files
    for folder, name in zip(users, ("rating.json", "summary.json", "notes.txt")):
        folder.mkdir()
        (folder / name).write_text("{}")
    stale = tmp_path / f"{helper.PREFIX}99999999-k3q_x9z0"
    stale.mkdir()
    for name in ("0" * 32 + ".claim", "1" * 32 + ".run", "2" * 32 + ".run.tmp"):
        (stale / name).write_bytes(b"")
    helper._remove_stale()
    assert all((folder / name).exists() for folder, name in zip(
        users, ("rating.json", "summary.json", "notes.txt")))
    assert not stale.exists()


def test_the_ratings_end_of_a_pipe_may_be_any_descriptor():
    """select.select refuses a descriptor above 1023 (ValueError): a script holding more
    files (a service, its limit raised) ended the rating when it first looked for the
    helper's word. The rating's end of the helper's pipe at descriptor 1500 works."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if max(soft, hard if hard != resource.RLIM_INFINITY else 4096) < 1600:
        pytest.skip("this system's file limit holds no descriptor 1500")
    if soft < 1600:  # (raised for the rest of this process: harmless)
        resource.setrlimit(resource.RLIMIT_NOFILE, (1600, hard))
    r, w = os.pipe()
    high = os.dup2(r, 1500)
    os.close(r)
    try:
        helper._send(w, ("settled", "0" * 32))
        h = helper.Helper(-1, -1, high, "/nonexistent")
        assert h.take("the key", "0" * 32) is None and "0" * 32 in h.settled
    finally:
        os.close(w)
        os.close(high)


def test_a_launchers_one_process_starts_no_helper():
    """What mpirun gives the one process of ``mpirun -n 1`` (PMI_RANK=0, PMI_SIZE=1 and its
    connection PMI_FD): no helper, as under more ranks (launcher_size() > 1 looked at the
    ranks only)."""
    env = {**os.environ, helper.ENV: "1", "PMI_RANK": "0", "PMI_SIZE": "1", "PMI_FD": "9"}
    p = subprocess.run([sys.executable, "-c", "from anodesim.rating import helper; "
                        "print(helper.wanted())"], env=env, capture_output=True, text=True,
                       timeout=300)
    assert p.stdout.split() == ["False"], p.stdout + p.stderr


def test_stopping_a_helper_inside_mpi_init_leaves_no_segment(tmp_path):
    """A helper killed before _mpi unlinked the name of its MPI segment (inside MPI_Init:
    a rating that refuses its input in its first second) left /dev/shm/mpich_shm_<id>_0,
    1 MiB of memory for good (2 of 8 ``anodesim.rate`` calls with an out_dir that is a
    file). Helper.stop removes the names its helper holds: here a child that made and
    mapped one as MPI_Init does, then waits."""
    import mmap

    from anodesim import processes

    r, w = os.pipe()
    go_r, go_w = os.pipe()
    pid = processes.fork()
    if pid == 0:  # the helper inside MPI_Init: its segment made, open and mapped
        try:
            name = f"/dev/shm/mpich_shm_{os.getpid():x}_0"
            fd = os.open(name, os.O_CREAT | os.O_RDWR, 0o600)
            os.ftruncate(fd, 4096)
            segment = mmap.mmap(fd, 4096)
            os.write(go_w, b"x")
            os.read(r, 1)
            segment.close()
        finally:
            os._exit(0)
    os.close(go_w)
    name = f"/dev/shm/mpich_shm_{pid:x}_0"
    try:
        assert os.read(go_r, 1) == b"x" and os.path.exists(name)
        folder = tmp_path / "helper"
        folder.mkdir()
        helper.Helper(pid, w, go_r, str(folder)).stop()
        assert not os.path.exists(name) and not folder.exists()
        with pytest.raises(ChildProcessError):  # reaped
            os.waitpid(pid, os.WNOHANG)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)
        os.close(r)


def _ignored(pid: int) -> set[int]:
    """The signals process pid ignores (/proc/<pid>/status, SigIgn)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            mask = int(line.split()[1], 16)
            return {n + 1 for n in range(64) if mask >> n & 1}
    return set()


@pytest.mark.slow
def test_a_nohup_rating_keeps_its_helper_on_hangup(alone, tmp_path):
    """Under nohup (SIGHUP ignored) the rating outlives its terminal, but the helper set
    SIGHUP to its default action and died of the hang-up (the rating then made its runs
    alone, slower). The helper keeps what the rating's process ignores."""
    path, alone_out, _ = alone
    cmd, env = _command(path, tmp_path / "nohup", with_helper=True)
    p = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    seen = []
    for line in p.stderr:  # the helper has made a run: it is past its start
        seen.append(line)
        if "on the idle core" in line:
            break
    helpers = _children(p.pid)
    assert len(helpers) == 1, "".join(seen)
    ignored = _ignored(helpers[0])
    seen.append(p.stderr.read())
    assert p.wait(timeout=900) == 0, "".join(seen)
    assert signal.SIGHUP in ignored and signal.SIGTERM not in ignored
    _same_rating(tmp_path / "nohup", alone_out)


#: anodesim rate, each FE run its helper makes written (its key digest) to the file
#: $HELPER_MADE as the helper starts making it.
LOGGING_HELPER = """
import os
import sys
from anodesim.rating import helper
from anodesim.__main__ import main

made_here = helper.make_here

def make_here(text, digest, make):
    def logged():
        with open(os.environ["HELPER_MADE"], "a") as f:
            f.write(digest + "\\n")
        return make()
    return made_here(text, digest, logged)

helper.make_here = make_here
sys.argv[0] = "anodesim"
sys.exit(main())
"""


@pytest.mark.slow
def test_a_resumed_rating_leaves_the_checkpoints_runs_to_itself(alone, tmp_path):
    """A rating stopped (SIGTERM) after a run its helper made: resumed, its helper was asked
    for that run again and made it again (on the shipped insert 3.3 s of the idle core's,
    while the rating took the run from its checkpoint). The runs the checkpoint holds are
    claimed for the rating as it opens (helper.leave_to_rating): the helper makes none of
    them, and the rating is the one made alone."""
    path, alone_out, _ = alone
    out = tmp_path / "resumed"
    cmd, env = _command(path, out, with_helper=True)
    p = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    seen, serial = [], False
    for line in p.stderr:  # a run the helper made is in the checkpoint
        seen.append(line)
        serial = serial or "serial-load charts" in line
        if serial and line.rstrip().endswith("on the idle core"):
            break
    p.send_signal(signal.SIGTERM)
    seen.append(p.stderr.read())
    assert p.wait(timeout=900) == 143, "".join(seen)
    kept = {e.stem for e in out.glob(".anodesim-rating-checkpoint/*/*.npz")}
    assert len(kept) >= 5, "".join(seen)  # 4 confirmations and the helper's run at least
    log = tmp_path / "made.txt"
    log.write_text("")
    r = subprocess.run([sys.executable, "-c", LOGGING_HELPER, *cmd[3:]],
                       env={**env, "HELPER_MADE": str(log)}, stderr=subprocess.PIPE,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    assert f"resuming: {len(kept)} FE runs" in r.stderr, r.stderr
    made = log.read_text().split()
    assert made, r.stderr  # the resumed rating's helper made runs: the next line says something
    assert kept.isdisjoint(made), r.stderr
    _same_rating(out, alone_out)


def test_a_killed_ratings_folder_goes_at_the_next_rating_a_live_ones_never(tmp_path,
                                                                           monkeypatch):
    """The folder a SIGKILLed rating's helper left was removed only when a later rating
    started a helper (not with ANODESIM_RATING_HELPER=0, no idle core, no FE anchors). Every
    rating's start removes it now; the folder of a rating still running (its process
    alive: here this one's and a child's) stays, its files too. (99999999 is above
    Linux's largest process number, 2^22.)"""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv(helper.ENV, "0")
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)
    try:
        folders = {pid: tmp_path / f"{helper.PREFIX}{pid}-k3q_x9z0"
                   for pid in (99999999, os.getpid(), child.pid)}
        for folder in folders.values():
            folder.mkdir()
            (folder / ("0" * 32 + ".claim")).write_bytes(b"")
        with helper.started(needed=True) as started:  # no helper: ANODESIM_RATING_HELPER=0
            assert started is None
            assert not folders[99999999].exists()
            assert all((folders[pid] / ("0" * 32 + ".claim")).exists()
                       for pid in (os.getpid(), child.pid))
    finally:
        child.stdin.close()
        child.wait(timeout=60)
    with helper.started(needed=False):  # its rating has ended now: removed
        assert not folders[child.pid].exists() and folders[os.getpid()].exists()


def test_the_checkpoints_runs_are_never_waited_for():
    """The runs a resumed rating's checkpoint holds are claimed for the rating
    (leave_to_rating): the helper skips one asked for (its claim fails), and the rating,
    should the entry turn out unreadable, makes it at once instead of waiting for a word
    from the helper that never comes."""
    r, w = os.pipe()
    folder = tempfile.mkdtemp(prefix="anodesim-test-")
    try:
        h = helper.Helper(-1, -1, r, folder)
        h.leave_to_rating(["0" * 32, "1" * 32])
        assert not helper._claim(folder, "0" * 32)  # the helper's claim: skipped
        assert h.take("the key", "1" * 32) is None  # no word waited for (none comes)
        assert helper._claim(folder, "2" * 32)  # another run: the helper's to make
    finally:
        os.close(r)
        os.close(w)
        shutil.rmtree(folder)


#: anodesim rate, with its helper stuck (SIGSTOP: not dead, its pipe open) in its first FE
#: run, which it has claimed.
# The rating waits one longest run, not STUCK_RUNS (8) of them, before it gives the stopped
# helper up (the suite's time: the rule, not the factor, is under test).
STUCK_HELPER = _helper_runs("""
    with open(os.environ["HELPER_SAID"], "a") as f:
        f.write("stuck\\n")
    os.kill(os.getpid(), signal.SIGSTOP)
    """, prelude="helper.STUCK_RUNS = 1.0")


@pytest.mark.slow
def test_a_stuck_helper_is_not_waited_for(alone, tmp_path):
    """A helper stuck in a run it claimed (stopped, deadlocked: alive, its pipe open) held
    the rating for ever, waiting for its word. The rating waits at most STUCK_RUNS times
    its longest run so far, then stops the helper and makes the run itself: the rating made
    alone, its folder removed."""
    path, alone_out, alone_err = alone
    cmd, env = _command(path, tmp_path / "stuck", with_helper=True)
    said = tmp_path / "said.txt"
    p = subprocess.Popen([sys.executable, "-c", STUCK_HELPER, *cmd[3:]],
                         env={**env, "HELPER_SAID": str(said)}, stderr=subprocess.PIPE,
                         text=True)
    err = p.communicate(timeout=900)[1]
    assert p.returncode == 0, err
    assert said.read_text() == "stuck\n"  # the helper stopped itself in a run
    assert "on the idle core" not in err, err  # stuck in its first run: it made none
    _same_rating(tmp_path / "stuck", alone_out)
    assert _plain(err) == _plain(alone_err)
    assert _left_folders(p.pid) == []


def test_with_no_run_measured_a_helpers_run_is_made_here_too(tmp_path):
    """No FE run measured yet (none made, none kept with its time): nothing bounds a wait
    for the helper, so the rating makes a run the helper has claimed itself, at once, and
    keeps its helper (not taken for stuck)."""
    r, w = os.pipe()
    try:
        h = helper.Helper(-1, -1, r, str(tmp_path))
        assert helper._claim(str(tmp_path), "0" * 32)  # the helper's claim
        assert h.take("the key", "0" * 32) is None and h.alive and not h.stuck
        assert "0" * 32 in h.settled
    finally:
        os.close(r)
        os.close(w)


def test_a_helper_given_up_on_without_a_process_signals_nothing(tmp_path, monkeypatch):
    """Helper.stop signalled its pid unchecked: the tests' Helpers of pid -1 (no process),
    given up on as stuck, sent SIGSTOP and SIGKILL to every process of the user
    (kill(-1, ...)) and waited for any child. A pid of 0 or below is never signalled nor
    waited for; the rating still makes the run itself, its helper stopped."""
    calls = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: calls.append(("kill", pid, sig)))
    monkeypatch.setattr(os, "waitpid", lambda pid, options: calls.append(("wait", pid)))
    r, w = os.pipe()
    try:
        h = helper.Helper(-1, -1, r, str(tmp_path))
        h.measured(1e-3)  # a wait of STUCK_RUNS ms for a word that never comes
        assert helper._claim(str(tmp_path), "0" * 32)  # the helper's claim
        assert h.take("the key", "0" * 32) is None and h.stuck and not h.alive
        assert calls == []
        assert h.take("another key", "1" * 32) is None  # stopped: the rest made here
    finally:
        os.close(w)
        with contextlib.suppress(OSError):  # (closed by stop)
            os.close(r)


def test_no_run_time_makes_the_wait_fail():
    """A wait for the helper's word is bounded by STUCK_RUNS times the longest run: one
    above 2^31 - 1 ms in all (a run over 3.1 days) raised OverflowError from poll, an
    infinite time (a damaged checkpoint entry's) from math.ceil, a traceback ending the
    rating. Such a time is not taken, and a long wait is made in poll's largest steps."""
    r, w = os.pipe()
    try:
        h = helper.Helper(-1, -1, r, "/nonexistent")
        h.measured(2.5)
        for bad in (math.inf, math.nan, -1.0):
            h.measured(bad)
        assert h.longest == 2.5
        helper._send(w, ("made", "0" * 32))
        assert h._read(4e6) and "0" * 32 in h.made  # 46 days: its word came at once
    finally:
        os.close(r)
        os.close(w)


def test_a_stop_interrupted_part_way_is_finished_by_the_next(tmp_path, monkeypatch):
    """A Ctrl-C while the rating stops its stuck helper (take) raised out of Helper.stop
    between its SIGSTOP and SIGKILL; started's stop then did nothing ("once"), and the
    helper stayed stopped, neither killed nor reaped, its folder kept. The next call
    finishes it: killed, reaped, the folder removed, its descriptors closed. Here the
    Ctrl-C is raised where stop reads the stopped helper's MPI segments."""
    from anodesim import processes

    r, w = os.pipe()
    go_r, go_w = os.pipe()
    pid = processes.fork()
    if pid == 0:  # a helper making a run: it waits (it holds w: no end of its pipe)
        try:
            os.write(go_w, b"x")
            os.read(r, 1)
        finally:
            os._exit(0)
    os.close(go_w)
    segments = processes.mpich_segments

    def interrupted(pid):
        monkeypatch.setattr(processes, "mpich_segments", segments)
        raise KeyboardInterrupt

    monkeypatch.setattr(processes, "mpich_segments", interrupted)
    folder = tmp_path / "helper"
    folder.mkdir()
    try:
        assert os.read(go_r, 1) == b"x"
        h = helper.Helper(pid, w, go_r, str(folder))
        with pytest.raises(KeyboardInterrupt):
            h.stop()
        h.stop()  # started's, as the Ctrl-C unwinds the rating
        with pytest.raises(ChildProcessError):  # killed and reaped
            os.waitpid(pid, os.WNOHANG)
        assert not folder.exists() and h.from_helper is None  # (closed by stop)
    finally:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(r)


#: anodesim rate, with a helper that says things on stdout and stderr as it starts (before
#: MPI) and in its first FE run (a warning, Python's print, a write to descriptor 2 as
#: PETSc's or MPI's messages are), then fails in it with an error of its own (a traceback).
NOISY_HELPER = _helper_runs("""
    say("run")
    raise RuntimeError("HELPER-NOISE: a traceback")
    """, prelude="""
    died = processes.die_with_parent


    def say(where):
        print(f"HELPER-NOISE {where}: stdout")
        print(f"HELPER-NOISE {where}: stderr", file=sys.stderr)
        os.write(2, f"HELPER-NOISE {where}: descriptor 2\\n".encode())
        warnings.warn(f"HELPER-NOISE {where}: a warning")
        with open(os.environ["HELPER_SAID"], "a") as f:
            f.write(where + "\\n")


    def die_with_parent():
        say("start")
        died()


    processes.die_with_parent = die_with_parent
    """)


@pytest.mark.slow
def test_nothing_of_the_helpers_reaches_the_user(alone, tmp_path):
    """What the helper writes (warnings, prints, PETSc's or MPI's messages, the traceback of
    an error of its own) goes to /dev/null from its first instruction after the fork: the
    rating's stdout is empty and its stderr that of the rating made alone; the helper's
    failure costs only time."""
    path, alone_out, alone_err = alone
    cmd, env = _command(path, tmp_path / "noisy", with_helper=True)
    said = tmp_path / "said.txt"
    p = subprocess.run([sys.executable, "-c", NOISY_HELPER, *cmd[3:]],
                       env={**env, "HELPER_SAID": str(said)}, capture_output=True, text=True,
                       timeout=900)
    assert p.returncode == 0, p.stderr
    assert said.read_text() == "start\nrun\n"  # the helper said its things
    assert "HELPER-NOISE" not in p.stdout + p.stderr and p.stdout == "", p.stdout + p.stderr
    _same_rating(tmp_path / "noisy", alone_out)
    assert _plain(p.stderr) == _plain(alone_err)
