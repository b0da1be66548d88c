"""A rating killed or crashed part way resumes: its finished FE runs are kept in the output
folder's checkpoint (rating/checkpoint.py) and a re-run of the same command takes them back,
with the same rating.json as an uninterrupted rating (every number, bit for bit; only the
wall times differ). The kills wait for the k-th FE run's progress line (an event, never a
delay). A coarse reflection insert keeps each rating to a few seconds."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cases import reflection
from test_case import write_toml

import anodesim
from anodesim.cli import main
from anodesim.rating import checkpoint as cp
from anodesim.rating import rate as rate_in
from anodesim.results import TimeSeries

LEAN = {"mesh": {"growth": 0.3, "spot_fraction": 0.2}, "time": {"steps_per_doubling": 2},
        "rating": {"exposure_points": 3}}
MPIRUN = shutil.which("mpirun", path=str(Path(sys.executable).parent)) or shutil.which("mpirun")
#: The FE run after which a rating is killed: the maximum safe loading's 4 runs and 2 of the
#: single-load chart's anchors (9 runs in all).
KILL_AFTER = 6


def _numbers(out: Path) -> dict:
    """rating.json without its wall times."""
    r = json.loads((out / "rating.json").read_text())
    r.pop("seconds")
    r["engine"].pop("seconds")
    return r


def _cli(*args, ranks: int = 1) -> list[str]:
    cmd = [sys.executable, "-m", "anodesim", *map(str, args)]
    return [MPIRUN, "-n", str(ranks), *cmd] if ranks > 1 else cmd


def _close(got, want, rtol: float) -> bool:
    """got equals want, its floats within rtol (0: bit for bit)."""
    if isinstance(want, dict):
        return isinstance(got, dict) and got.keys() == want.keys() and all(
            _close(got[k], want[k], rtol) for k in want)
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(
            _close(a, b, rtol) for a, b in zip(got, want))
    if isinstance(want, float) and isinstance(got, float) and rtol:
        return got == pytest.approx(want, rel=rtol)
    return got == want


@pytest.fixture(scope="module")
def case_file(tmp_path_factory) -> Path:
    return write_toml(tmp_path_factory.mktemp("resume") / "case.toml", reflection(**LEAN))


@pytest.fixture(scope="module")
def uninterrupted(case_file):
    """The case file and its uninterrupted rating's numbers."""
    path = case_file
    out = path.parent / "whole"
    assert main(["rate", str(path), "--chart", "single", "-q", "-o", str(out)]) == 0
    assert not (out / cp.FOLDER).exists()  # published: its checkpoint is gone
    return path, _numbers(out)


def _killed(path: Path, out: Path, sig: int, ranks: int = 1) -> str:
    """Start `anodesim rate` and send sig once its KILL_AFTER-th FE run is reported; its
    stderr so far."""
    p = subprocess.Popen(_cli("rate", path, "--chart", "single", "-o", out, ranks=ranks),
                         stderr=subprocess.PIPE, text=True, env={**os.environ})
    seen = []
    for line in p.stderr:
        seen.append(line)
        if line.startswith(f"    FE run {KILL_AFTER}:"):
            break
    p.send_signal(sig)
    seen.append(p.stderr.read())
    assert p.wait(timeout=600) == (143 if sig == signal.SIGTERM else -signal.SIGKILL), \
        "".join(seen)
    return "".join(seen)


def _resumed(path: Path, out: Path, capsys, ranks: int = 1) -> str:
    """The same command run again, its stderr: on 1 rank in this process (the command's
    main; only the kill needs a process of its own), on more under mpirun."""
    if ranks == 1:
        capsys.readouterr()
        status = main(["rate", str(path), "--chart", "single", "-o", str(out)])
        err = capsys.readouterr().err
        assert status == 0, err
        return err
    p = subprocess.run(_cli("rate", path, "--chart", "single", "-o", out, ranks=ranks),
                       stderr=subprocess.PIPE, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    return p.stderr


@pytest.mark.slow
@pytest.mark.parametrize("sig,ranks", [
    (signal.SIGTERM, 1), (signal.SIGKILL, 1),
    pytest.param(signal.SIGTERM, 2, marks=[pytest.mark.mpi, pytest.mark.skipif(
        MPIRUN is None, reason="no mpirun found next to the interpreter or on PATH")])],
    ids=["SIGTERM", "SIGKILL", "SIGTERM-2-ranks"])
def test_a_killed_rating_resumes_with_the_same_numbers(uninterrupted, tmp_path, capsys, sig,
                                                       ranks):
    """SIGTERM (a batch system's time limit) or SIGKILL (the out-of-memory killer) after the
    6th FE run: no rating is published, the finished runs are kept; the same command run
    again says it resumes, takes them back instead of running them, and publishes the
    rating.json of an uninterrupted rating, bit for bit. After SIGKILL one entry is damaged
    and a write's temporary file left over: that run is made again, the temporary file
    removed. On 2 MPI ranks (rank 0 keeps and reads the runs, every rank takes them) the
    same, to the 2-rank rating's round-off against the serial one (3e-13 measured; two
    uninterrupted 2-rank ratings differ by 1e-15 in the erosion depth)."""
    path, want = uninterrupted
    out = tmp_path / "rating"
    _killed(path, out, sig, ranks)
    assert sorted(p.name for p in out.iterdir()) == [cp.FOLDER]  # nothing published
    [folder] = (out / cp.FOLDER).iterdir()
    entries = sorted(folder.glob("*.npz"))
    assert len(entries) >= KILL_AFTER  # each run kept before its line is printed
    damaged = 0
    if sig == signal.SIGKILL:
        entries[0].write_bytes(entries[0].read_bytes()[:100])  # truncated
        (folder / f".{entries[1].name}.abcd1234").write_bytes(b"half")  # atomic_write's
        damaged = 1
    err = _resumed(path, out, capsys, ranks)
    assert f"resuming: {len(entries)} FE runs from an interrupted rating" in err, err
    taken = err.count(": from the interrupted rating, not run again")
    made = len(re.findall(r"^    FE run \d+:", err, re.M))
    assert taken == len(entries) - damaged and made == 9 - taken, err
    assert err.count("entry cannot be read; run again") == damaged
    assert _close(_numbers(out), want, 0.0 if ranks == 1 else 1e-9)
    assert not (out / cp.FOLDER).exists()


@pytest.mark.slow
def test_a_crashed_api_rating_resumes_and_fresh_starts_afresh(uninterrupted, tmp_path, capsys):
    """anodesim.rate(case, out_dir) keeps its runs as the command does: a rating stopped by
    an error part way (here its progress output failing at the 3rd FE run) leaves them,
    the next call takes them back and gives the uninterrupted numbers; fresh=True makes
    every run again."""
    path, want = uninterrupted
    out = tmp_path / "api"

    def failing(line):
        if line.startswith("    FE run 3:"):
            raise OSError("the disk behind stderr is gone")

    with pytest.raises(OSError, match="disk behind stderr"):
        rate_in(anodesim.load(path), charts=("single",), progress=failing,
                      checkpoint=out)
    assert [p.name for p in out.iterdir()] == [cp.FOLDER]
    shutil.copytree(out, tmp_path / "again")  # the same runs kept, for fresh=True below
    capsys.readouterr()
    anodesim.rate(path, out, charts="single", progress=True, overwrite=True)
    err = capsys.readouterr().err
    assert "resuming: 3 FE runs from an interrupted rating" in err
    assert err.count(": from the interrupted rating, not run again") == 3
    assert _numbers(out) == want and not (out / cp.FOLDER).exists()
    # fresh: a kept run (the copy of the crash's) is not taken
    anodesim.rate(path, tmp_path / "again", charts="single", progress=True, fresh=True)
    err = capsys.readouterr().err
    assert "resuming" not in err and "from the interrupted rating" not in err
    assert _numbers(tmp_path / "again") == want


def _store(out: Path, case, progress=lambda m: None, fresh=False) -> cp.Store:
    from mpi4py import MPI

    return cp.Store(out, cp.identity(case, 1), MPI.COMM_SELF, progress, fresh)


def test_entries_are_taken_only_under_their_exact_key_and_never_when_damaged(tmp_path):
    """A kept run comes back exactly (its series bit for bit, a failed run as None, a dict);
    only a store opened later takes it (an uninterrupted rating runs as without one); an
    entry under another key, one whose content names another key, a damaged one or one of
    another case is not taken."""
    case = anodesim.from_dict(reflection())
    series = TimeSeries(["time_s", "T_peak_C"], ["s", "C"],
                        [[0.0, 30.0], [1e-3, 1 / 3], [2e-3, float("nan")]])
    first = _store(tmp_path, case)
    first.keep(("run", "a"), series)
    first.keep(("run", "failed"), None)
    first.keep(("mechanics", "b"), {"drift_um": 0.1 + 0.2, "n": 3})
    first.keep(("run", "other"), series)
    assert first.recall(("run", "a")) == (False, None)  # not found when it started
    lines = []
    second = _store(tmp_path, case, lines.append)
    assert lines == [f"  resuming: 4 FE runs from an interrupted rating ({second.folder}; "
                     "--fresh starts afresh)"]
    found, back = second.recall(("run", "a"))
    assert found and back.names == series.names and back.units == series.units
    assert np.array_equal(back["T_peak_C"], series["T_peak_C"], equal_nan=True)
    assert second.recall(("run", "failed")) == (True, None)
    assert second.recall(("mechanics", "b")) == (True, {"drift_um": 0.1 + 0.2, "n": 3})
    assert second.recall(("run", "a", 1.0)) == (False, None)  # another key
    # an entry renamed to another key's file is not taken for it
    _, digest_a = cp._key_text(("run", "a"))
    _, digest_other = cp._key_text(("run", "other"))
    (second.folder / f"{digest_a}.npz").replace(second.folder / f"{digest_other}.npz")
    (second.folder / f"{digest_a}.npz").write_bytes(b"not an npz")
    third = _store(tmp_path, case)
    assert third.recall(("run", "other")) == (False, None)
    assert third.recall(("run", "a")) == (False, None) and third.unreadable == 2
    # another case: the entries are not taken, but kept for the case they belong to (a
    # rating of another case started into the folder by mistake removed them)
    lines = []
    other = _store(tmp_path, anodesim.from_dict(reflection(limits={"spot_C": 900.0})),
                   lines.append)
    assert not other.found and lines == [
        f"  checkpoint: an interrupted rating of another case or anodesim version in "
        f"{tmp_path / cp.FOLDER} is not taken (kept until a rating is published here)"]
    other.keep(("run", "a"), series)
    assert len(_store(tmp_path, case, fresh=False).found) == 4
    other.abandon()  # bad input in the other case: its own entries go, not the first's
    assert not other.folder.exists() and len(_store(tmp_path, case).found) == 4
    assert _store(tmp_path, anodesim.from_dict(reflection(limits={"spot_C": 900.0})),
                  fresh=True).found == set()


def test_identity_follows_the_code_the_case_and_the_files_it_reads(tmp_path, monkeypatch):
    """What a run depends on besides its own case: a changed source file of the package, the
    ranks, and a mesh file's content (the case names its path only) each change it."""
    case = anodesim.from_dict(reflection())
    base = cp.identity(case, 1)
    assert cp.identity(case, 1) == base and cp.identity(case, 2) != base
    assert cp.identity(anodesim.from_dict(reflection(beam={"power_W": 11.0})), 1) != base
    monkeypatch.setattr(cp, "code_digest", lambda: "edited")
    assert cp.identity(case, 1) != base
    monkeypatch.undo()
    mesh = tmp_path / "a.msh"
    mesh.write_text("one")
    import dataclasses as dc

    reused = dc.replace(case, mesh=dc.replace(case.mesh, file=str(mesh)))
    before = cp.identity(reused, 1)
    mesh.write_text("two")
    assert cp.identity(reused, 1) != before


def test_fresh_and_a_changed_case_start_afresh_on_the_command_line(case_file, tmp_path,
                                                                   capsys):
    """`rate --fresh` discards a kept checkpoint; a rating of a changed case says that the
    checkpoint it found is another case's and does not take it; a published rating leaves
    none behind."""
    path = case_file
    case = anodesim.load(path)
    out = tmp_path / "r"
    _store(out, case).keep(("run", "x"), None)
    assert main(["rate", str(path), "--chart", "single", "--no-confirm", "--fresh", "-o",
                 str(out)]) == 0
    err = capsys.readouterr().err
    assert "resuming" not in err and "another case" not in err
    assert not (out / cp.FOLDER).exists()
    changed = write_toml(tmp_path / "changed.toml", reflection(**LEAN, limits={"spot_C": 900.0}))
    out = tmp_path / "c"
    _store(out, case).keep(("run", "x"), None)
    assert main(["rate", str(changed), "--chart", "single", "--no-confirm", "-o",
                 str(out)]) == 0
    err = capsys.readouterr().err
    assert "resuming" not in err and "of another case or anodesim version" in err
    assert not (out / cp.FOLDER).exists() and (out / "rating.json").is_file()


def test_a_checkpoint_that_cannot_be_written_costs_only_the_resume(tmp_path):
    """A write that fails (the output folder's disk full, a path that is a file) says so
    once and stops the keeping; the rating goes on."""
    case = anodesim.from_dict(reflection())
    lines = []
    store = _store(tmp_path, case, lines.append)
    store.folder.parent.mkdir(parents=True)
    store.folder.write_text("a file where the folder goes")
    store.keep(("run", "a"), None)
    store.keep(("run", "b"), None)
    assert len(lines) == 1 and lines[0].startswith(f"  checkpoint: cannot write {store.folder}")
    assert not store.writable


@pytest.mark.slow
def test_the_steady_run_with_mechanics_is_kept_too(tmp_path, capsys):
    """The continuous rating's steady run with the case's mechanics (drift and yield use at
    the rated power: its own Simulation, not the confirmations') is kept like the others:
    a rating stopped just after it takes it back, with the same figures (the shipped
    insert at constant properties, on the coarse mesh of the other tests here)."""
    import tomllib

    studies = Path(__file__).parents[1] / "studies"
    data = tomllib.loads((studies / "reflection_insert.toml").read_text())
    data["materials"]["properties"] = "constant"
    data["mesh"] = LEAN["mesh"]  # coarse: its three ratings on one discretisation
    case = anodesim.from_dict(data, studies)
    want = rate_in(case, charts=("continuous",), progress=lambda m: None).to_dict()
    out = tmp_path / "r"

    def failing(line):
        if "FE run" in line and "steady state with mechanics" in line:
            raise OSError("the disk behind stderr is gone")

    with pytest.raises(OSError):
        rate_in(case, charts=("continuous",), progress=failing, checkpoint=out)
    capsys.readouterr()
    got = anodesim.rate(case, out, charts=("continuous",), progress=True).to_dict()
    err = capsys.readouterr().err
    assert re.search(r"steady state with mechanics \(drift, yield use\) at [\d.]+ W: from the "
                     r"interrupted rating, not run again", err), err
    assert not re.search(r"FE run \d+: ", err)  # every run taken back
    for d in (got, want):
        d.pop("seconds")
        d["engine"].pop("seconds")
    assert got == want


def test_a_checkpoint_that_cannot_be_read_is_not_resumed(tmp_path, monkeypatch):
    """A checkpoint folder that cannot be listed (permissions, a failing disk) says so and
    the rating makes every run."""
    case = anodesim.from_dict(reflection())
    _store(tmp_path, case).keep(("run", "a"), None)

    def refused(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "iterdir", refused)
    lines = []
    store = _store(tmp_path, case, lines.append)
    assert store.found == set() and store.recall(("run", "a")) == (False, None)
    assert lines == [f"  checkpoint: cannot read {tmp_path / cp.FOLDER} ([Errno 13] "
                     f"Permission denied: '{tmp_path / cp.FOLDER}'); not resumed"]


def test_fresh_takes_no_entry_even_when_the_old_ones_cannot_be_removed(tmp_path, monkeypatch):
    """--fresh makes every run again also when the kept entries cannot be removed (a
    removal that fails: permissions, a read-only disk, a checkpoint folder that is a
    symbolic link): none of them is taken."""
    case = anodesim.from_dict(reflection())
    _store(tmp_path, case).keep(("run", "a"), None)
    monkeypatch.setattr(cp.shutil, "rmtree", lambda *a, **k: None)  # removes nothing
    store = _store(tmp_path, case, fresh=True)
    assert store.found == set() and store.recall(("run", "a")) == (False, None)


def test_only_the_checkpoints_own_files_are_ever_removed(tmp_path):
    """A checkpoint folder that is a symbolic link to a folder of other files (a scratch
    disk), or holds files anodesim did not write: a rating removes its own temporary
    files there, never a file of someone else (nor another identity's entries)."""
    case = anodesim.from_dict(reflection())
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "thesis.tex").write_text("years of work")
    (scratch / "data").mkdir()
    (scratch / "data" / "x.csv").write_text("1,2")
    out = tmp_path / "out"
    out.mkdir()
    (out / cp.FOLDER).symlink_to(scratch)
    first = _store(out, case)
    first.keep(("run", "a"), None)
    (first.folder / "notes.txt").write_text("mine")
    (first.folder / f".{cp._key_text(('run', 'b'))[1]}.npz.abcd1234").write_bytes(b"half")
    other = _store(out, anodesim.from_dict(reflection(limits={"spot_C": 900.0})))
    assert not other.found
    assert (scratch / "thesis.tex").read_text() == "years of work"
    assert (scratch / "data" / "x.csv").read_text() == "1,2"
    # another identity's entries: kept, not taken
    assert (first.folder / f"{cp._key_text(('run', 'a'))[1]}.npz").is_file()
    again = _store(out, anodesim.from_dict(reflection(limits={"spot_C": 900.0})))
    again.keep(("run", "a"), None)
    (again.folder / "notes.txt").write_text("mine")
    tmp = again.folder / f".{cp._key_text(('run', 'b'))[1]}.npz.abcd1234"
    tmp.write_bytes(b"half")
    last = _store(out, anodesim.from_dict(reflection(limits={"spot_C": 900.0})))
    assert len(last.found) == 1 and not tmp.exists()
    assert (again.folder / "notes.txt").read_text() == "mine"


def test_identity_follows_the_stack_without_its_package_metadata(monkeypatch):
    """dolfinx's and PETSc's own versions enter the identity, also where the distributions
    carry no metadata (a conda or spack install; this venv's petsc4py has none): another
    dolfinx or PETSc under the same anodesim never takes the runs of the old one."""
    from importlib import metadata

    import dolfinx

    def none(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", none)
    case = anodesim.from_dict(reflection())
    base = cp.identity(case, 1)
    monkeypatch.setattr(dolfinx, "__version__", "0.0.1")
    assert cp.identity(case, 1) != base


_API_RATING = """
import anodesim
anodesim.rate({path!r}, {out!r}, charts="single", progress=True)
"""


@pytest.mark.slow
def test_an_api_rating_ended_by_sigterm_keeps_its_runs_and_resumes(uninterrupted, tmp_path,
                                                                   capsys):
    """anodesim.rate in a script died at once on SIGTERM, where `anodesim rate` ends in one
    line: a run's entry could be cut mid-write (atomic_write's temporary file left beside
    the checkpoint). Now, SIGTERM at its default action, the rating is unwound as the
    command's is (the run being kept is finished, nothing published), then the process
    ends by SIGTERM (-15, one line, no traceback); the next anodesim.rate takes back every
    kept run and gives the uninterrupted rating.json bit for bit."""
    path, want = uninterrupted
    out = tmp_path / "api"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(anodesim.__file__).parent.parent), os.environ.get("PYTHONPATH", "")])}
    p = subprocess.Popen([sys.executable, "-c", _API_RATING.format(path=str(path),
                                                                  out=str(out))],
                         stderr=subprocess.PIPE, text=True, env=env,
                         preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL))
    seen = []
    for line in p.stderr:
        seen.append(line)
        if line.startswith(f"    FE run {KILL_AFTER}:"):
            break
    p.send_signal(signal.SIGTERM)
    rest = p.stderr.read()
    assert p.wait(timeout=600) == -signal.SIGTERM, "".join(seen) + rest
    assert rest.splitlines()[-1:] == ["anodesim: terminated by SIGTERM (a batch system's time "
                                      "limit, kill or timeout)"] and "Traceback" not in rest, rest
    assert sorted(q.name for q in out.iterdir()) == [cp.FOLDER]  # nothing published
    [folder] = (out / cp.FOLDER).iterdir()
    kept = sorted(folder.glob("*.npz"))
    assert len(kept) >= KILL_AFTER and not [q for q in folder.iterdir() if q.name[0] == "."]
    capsys.readouterr()
    anodesim.rate(path, out, charts="single", progress=True)
    err = capsys.readouterr().err
    assert f"resuming: {len(kept)} FE runs from an interrupted rating" in err, err
    assert err.count(": from the interrupted rating, not run again") == len(kept), err
    assert _numbers(out) == want and not (out / cp.FOLDER).exists()


def test_an_entry_keeps_the_time_its_run_took(tmp_path):
    """A run's wall time is kept with it: a resumed rating bounds its wait for a stuck
    helper by its runs' times (helper.STUCK_RUNS), the interrupted rating's included. A run
    kept without one (a failed run) comes back without one."""
    case = anodesim.from_dict(reflection())
    first = _store(tmp_path, case)
    first.keep(("run", "a"), {"x": 1.0}, 2.5)
    first.keep(("run", "failed"), None)
    second = _store(tmp_path, case)
    assert second.recall(("run", "a")) == (True, {"x": 1.0}) and second.seconds == 2.5
    assert second.recall(("run", "failed")) == (True, None) and second.seconds is None
