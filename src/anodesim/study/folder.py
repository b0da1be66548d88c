"""The study folder: study.json, the finished cases (cases/<id>/result.json, published by
an atomic rename under a lock), failures and stale work folders."""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import fcntl
import json
import os
import re
import shutil
import socket
import time
from pathlib import Path

from .. import __version__, output
from ..case import CaseError
from .queue import _squeue, recorded_job
from .spec import FIXED_COLUMNS, Point, Study

RESULT = "result.json"


def default_folder(study: Study, source: Path | None) -> Path:
    """Where a study's results go unless told: a study folder is its own,
    studies/<name>/study.toml goes to results/<name>, other files to results/<file name>,
    and a study built in code to results/study-<id>."""
    if source is None:
        return Path("results") / f"study-{study.id}"
    if source.is_dir():
        return source
    return Path("results") / (source.parent.resolve().name if source.stem == "study"
                              else source.stem)


def refuse_mpi_launch(what: str, run: str, jobs: str, other: str = "") -> None:
    """CaseError when a sweep (`what`) is started on several MPI ranks: each case runs in its
    own process, so every rank would run every case again, race on the folder, and hand
    its workers the launcher's rank variables. `run` names what to start without mpirun,
    `jobs` the option of cases at once ({n}: the ranks), `other` what else to do."""
    from ..errors import launcher_size

    n = launcher_size()
    if n > 1:
        raise CaseError(f"{what}: started on {n} MPI ranks; expected one process (each case "
                        f"runs in its own process): run {run} without mpirun, with "
                        f"{jobs.format(n=n)} to run {n} cases at once{', ' + other if other else ''}")


#: Most cases a local sweep runs at once. More processes than cores only share the cores
#: (`anodesim sweep` warns: jobs_over_cores), which a user may want (a machine's other work
#: idle at night); each case is a process of about 0.2-0.3 GB (a 2-D run), so 1024 is some
#: 250 GB of memory: nothing a single machine runs. -j 100000000 was taken.
MAX_JOBS = 1024


def check_jobs(jobs: int, given: str) -> int:
    """The number of processes asked for, as an int (a numpy integer from a script's sweep
    over job counts too); CaseError unless it is a whole number from 1 to MAX_JOBS (`given`
    names the input)."""
    import operator

    try:
        n = None if isinstance(jobs, bool) else operator.index(jobs)  # jobs="2", 2.0: no
    except TypeError:
        n = None
    if n is None:
        raise CaseError(f"{given}: expected a whole number of processes, at least 1")
    if not 1 <= n <= MAX_JOBS:
        raise CaseError(f"{given}: expected from 1 to {MAX_JOBS} processes (each case is one "
                        "process on this machine, of some 0.2 GB or more)")
    return n


def jobs_over_cores(jobs: int, given: str) -> str | None:
    """A warning when more cases run at once than this process has cores
    (processes.cores): they share the cores, each adds its memory; None otherwise."""
    from ..processes import cores

    n = cores()
    if jobs <= n:
        return None
    return (f"{given}: more cases at once than the {n} cores this machine gives the sweep; "
            "they share them (each case is one single-threaded process) and each adds its "
            "memory")


def open_folder(study: Study, out: Path, redefine: bool | None = None) -> None:
    """Create the study folder, or check that an existing one holds this study or an
    earlier form of it, which it then becomes.

    A study grows: with the same axes (the same dotted keys) but other values or base
    cases, the folder takes the new definition (study.json; the earlier ones are listed in
    its "earlier" entry). Every finished case whose resolved input is unchanged keeps its
    result (case ids are hashes of the resolved case); cases no longer in the study keep
    their folders under cases/ but leave results.csv.

    Several processes may do this at once (array tasks, workers, GNU parallel). Each then
    holds a shared lock on the folder until it ends (or release_folder), so the definition
    cannot change under a running sweep's workers (they read it by case index): another
    definition is refused while one is held. A process whose study is the folder's takes
    that lock and reads study.json up to its id; only a change of the definition takes the
    folder's mutex (one at a time), waiting at most MUTEX_WAIT_S for another's.

    Args:
        redefine: whether the folder may take this definition if it holds another; default
            (None): unless the study was read from this folder's own study.json (a worker,
            an array task, a resume), which is refused once the folder has taken another
            definition, never written back.

    Raises:
        CaseError: the folder holds a study over other axes, or other files, or a sweep of
            another definition is running there or queued on SLURM, or (redefine False)
            study.json has changed since it was read (nothing is touched).
    """
    saved = out / "study.json"
    if not saved.exists():
        output.output_folder(out)  # one line before any case runs, not a failed run
        ours = {"cases", "slurm", "study.json"}  # what a concurrent task may have made first
        if out.exists() and (not out.is_dir() or any(
                f.name not in ours and not f.name.startswith(".") for f in out.iterdir())):
            raise CaseError(f"-o {out}: exists and holds no anodesim study; expected a new "
                            "or empty folder, or this study's own")
        (out / "cases").mkdir(parents=True, exist_ok=True)
    elif not output._can_create_in(out):  # an archive, a read-only mount: bad input
        raise CaseError(f"{out}: the study folder is not writable; expected a folder you "
                        "can write to (--list reads it as it is; a copy of it resumes and "
                        "collects alike)")
    release_folder(out)  # this process's earlier sweep of the folder is over
    if redefine is None:
        redefine = study.folder is None or Path(study.folder) != out.resolve()
    deadline = time.monotonic() + MUTEX_WAIT_S
    active = os.open(out / ACTIVE, os.O_CREAT | os.O_RDWR, 0o666)
    try:
        if _saved_id(saved) == study.id:  # the folder's own study: no change to make
            _lock_by(active, fcntl.LOCK_SH, deadline, out)
            if _saved_id(saved) == study.id:  # still, and no writer while the lock is held
                _HELD[out.resolve()] = active
                return
            fcntl.flock(active, fcntl.LOCK_UN)
        mutex = os.open(out / MUTEX, os.O_CREAT | os.O_RDWR, 0o666)
        try:
            _lock_by(mutex, fcntl.LOCK_EX, deadline, out)  # one definition change at a time
            _define(study, out, saved, active, redefine)
        finally:
            os.close(mutex)
    except BaseException:
        os.close(active)
        raise
    _HELD[out.resolve()] = active


#: The folder's locks: MUTEX is held (exclusively) while a process checks or changes the
#: definition in study.json; ACTIVE is held shared by every process that works on the folder
#: (a runner, its workers, array tasks), so a definition can change only while none does.
MUTEX, ACTIVE = ".study.mutex", ".study.active"
_HELD: dict[Path, int] = {}  # study folder -> this process's shared lock on its ACTIVE
#: Longest wait (s) for a folder's lock that another process holds while it writes
#: study.json (a moment, unless that process hangs: then one line, not a hang).
MUTEX_WAIT_S = 60.0
_ID = re.compile(rb'\{\s*"id":\s*"([0-9a-f]+)"')


def _saved_id(saved: Path) -> str | None:
    """The id in study.json, read from its beginning (write_json puts it first), without
    parsing the whole file (100,000 cases make megabytes); None when there is none."""
    try:
        with open(saved, "rb") as f:
            head = f.read(256)
    except OSError:
        return None
    m = _ID.match(head)
    return m.group(1).decode() if m else None


def _lock_by(fd: int, how: int, deadline: float, out: Path) -> None:
    """flock without blocking, tried again until the deadline (time.monotonic()).

    Raises:
        CaseError: the lock is still held by another process at the deadline."""
    pause = 0.01
    while True:
        try:
            fcntl.flock(fd, how | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise CaseError(f"-o {out}: another process has been changing the study's "
                                f"definition for {MUTEX_WAIT_S:.0f} s (its {MUTEX} or "
                                f"{ACTIVE} is locked); expected it to finish (is it "
                                "hanging?)") from None
            time.sleep(pause)  # a retry of a lock, not a synchronisation by sleeping
            pause = min(2 * pause, 0.5)


def release_folder(out: Path) -> None:
    """Let other definitions of the study into the folder again (as far as this process
    goes): the end of a sweep that open_folder let in."""
    fd = _HELD.pop(Path(out).resolve(), None)
    if fd is not None:
        os.close(fd)


#: The lock of the folder's local runner (run_local): held exclusively while it runs, and
#: naming it (process, host, start) for a second runner, which is refused.
RUNNER = ".study.runner"


@contextlib.contextmanager
def sole_runner(out: Path):
    """Hold the study folder's runner lock for the block, or refuse a second local sweep.

    Two sweeps of one study started at once (two terminals, a script run twice) each
    computed every case: a case's work folder is locked only by its own worker, so each
    runner started its own copy and the first result to be published stood. A second
    runner now stops before it runs anything, naming the one running. Workers and SLURM
    array tasks do not take this lock (the runner's own workers run in the folder). The
    lock goes with the runner's process (flock: also after a SIGKILL); workers are started
    through exec (a new interpreter, or the fork server), so none inherits it.

    Raises:
        CaseError: another process runs a sweep in out."""
    fd = os.open(out / RUNNER, os.O_CREAT | os.O_RDWR, 0o666)
    try:
        _take_runner_lock(fd, out)
        started = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"process {os.getpid()} on {socket.gethostname()}, started "
                      f"{started}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # (the lock with it)


def refuse_while_run_locally(out: Path) -> None:
    """CaseError when a local sweep runs in out (sole_runner's lock is held), for a SLURM
    submission of the study: its array would run the cases that sweep is running (each
    computed twice, the first result to finish standing), as a second local sweep did.
    The lock is only tested, not kept: a local sweep started once the array is queued is
    let in and leaves the array's cases to it (local._not_in_slurm)."""
    try:
        fd = os.open(out / RUNNER, os.O_RDWR)
    except OSError:  # no local sweep ever ran there (or a folder open_folder refuses)
        return
    try:
        _take_runner_lock(fd, out)
    finally:
        os.close(fd)  # (the lock with it)


def _take_runner_lock(fd: int, out: Path) -> None:
    """flock fd (out's RUNNER) exclusively, or CaseError naming the sweep that holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            who = (out / RUNNER).read_text().strip()
        except OSError:
            who = ""
        raise CaseError(
            f"-o {out}: a sweep of this study is already running in this folder "
            f"({who or 'a process that is starting'}); expected one sweep per folder: "
            "let it finish, or stop it and run this one again (it resumes)") from None


def _define(study: Study, out: Path, saved: Path, active: int, redefine: bool) -> None:
    """With the folder's mutex held: make study.json this study's (or refuse), and hold the
    shared lock on `active`."""
    try:
        old = json.loads(saved.read_text())
        old_id, old_axes = old["id"], set(old["study"]["axes"])
    except FileNotFoundError:
        old, old_id, old_axes = {}, None, set(study.axes)
    except (OSError, ValueError, KeyError, TypeError):
        old, old_id, old_axes = None, None, None
    if old_id == study.id:
        fcntl.flock(active, fcntl.LOCK_SH)  # no writer: they hold the mutex while they write
        return
    if not redefine and old_id is not None and old_id == study.listed_id:
        # study.json is as this process read it, but its definition gives other case ids
        # here: its finished results are another resolution of the cases (an earlier
        # version's defaults, a hand edit). Resumed, they would sit in one table beside
        # cases run under this one, which no row would tell apart.
        v = study.listed_version
        by = (f"anodesim {v}" if v and v != __version__ else
              "another build of anodesim (study.json's provenance names it)")
        raise CaseError(
            f"{out}: its study.json lists its cases under ids (study {old_id}) that its "
            f"definition does not give here (study {study.id}): written by {by}, which "
            "resolved the cases otherwise, a mesh file a case names has changed, or "
            "edited by hand; its results are not resumed, "
            "collected or submitted beside this one's; expected the study file run into "
            f"it (`anodesim sweep STUDY.toml -o {out}`: its cases run under the ids this "
            "version gives them, a result already under one is kept; the others stay in "
            "cases/ and in study.json's \"earlier\"), or that build to finish it")
    if not redefine and old_id is not None:
        raise CaseError(f"{out}: its study.json has been given another definition (id "
                        f"{old_id}) since this process read it (id {study.id}); expected "
                        "the folder's own study: run it again")
    if old is None or old_axes != set(study.axes):
        raise CaseError(f"-o {out}: holds a different study (id {old_id}, axes "
                        f"{', '.join(sorted(old_axes or ())) or 'unknown'}; this one is "
                        f"{study.id} over {', '.join(sorted(study.axes))}); expected a new "
                        "folder, this study's own, or one of a study over the same axes")
    try:
        fcntl.flock(active, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise CaseError(f"-o {out}: a sweep of another definition of this study (id {old_id})"
                        f" is running there; expected it to end first (this one is "
                        f"{study.id}), or another folder") from None
    try:
        _refuse_while_queued(out, old_id, study.id)
    except CaseError:
        fcntl.flock(active, fcntl.LOCK_UN)
        raise
    earlier = old.get("earlier", []) + ([{
        "id": old_id, "created_utc": old.get("created_utc"),
        "cases": [c["id"] for c in old.get("cases", [])]}] if old_id else [])
    output.write_json(saved, _record(study, earlier), durable=True)
    fcntl.flock(active, fcntl.LOCK_SH)  # not atomic, but the mutex keeps others out


def _refuse_while_queued(out: Path, old_id: str | None, new_id: str) -> None:
    """CaseError when the folder's SLURM array (slurm/job_id) is still queued or running:
    its tasks would find another definition. Where squeue is missing or cannot tell, the
    tasks themselves refuse a definition that is not theirs (sweep --study-id)."""
    job = recorded_job(out)
    if job is None or shutil.which("squeue") is None:
        return
    lines, _ = _squeue(job, "%i")
    if lines and lines.strip():
        raise CaseError(f"-o {out}: its SLURM job {job} of another definition of the study "
                        f"(id {old_id}) is still queued or running; expected it to finish "
                        f"first (or `scancel {job}`; this one is {new_id}), or another folder")


def _record(study: Study, earlier: list) -> dict:
    """The content of study.json."""
    return {"id": study.id, "title": study.title, "study": study.definition,
            "cases": [{"index": p.index, "id": p.id, "inputs": p.inputs, "invalid": p.error}
                      for p in study.points],
            "created_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "anodesim_version": __version__, "provenance": output.provenance(),
            "earlier": earlier}


def result_of(out: Path, point: Point) -> dict | None:
    """The finished row of a case, or None when it has not finished."""
    f = out / "cases" / point.id / RESULT
    try:
        return json.loads(f.read_text())
    except (OSError, ValueError):
        return None


def _lock(work: Path) -> int:
    """Hold an exclusive lock on work/.lock for as long as this process lives."""
    fd = os.open(work / ".lock", os.O_CREAT | os.O_RDWR, 0o666)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _publish(work: Path, final: Path, replace_failed: bool = False) -> None:
    """Rename a finished work folder to the case folder. If another run of the same case
    finished first, its result stands and this one is dropped (with replace_failed, unless
    that result is a failure: a retried case replaces it); a case folder whose result.json
    cannot be read is set aside (set_aside) and replaced; a case folder is never absent
    once it has been finished but while a failure is replaced."""
    for _ in range(10):  # each round: another process changed final meanwhile
        try:
            os.rename(work, final)
            break
        except OSError as e:
            if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
        try:
            earlier = json.loads((final / RESULT).read_text())
        except FileNotFoundError:
            earlier = None
        except (OSError, ValueError):  # unreadable (torn, disk fault): kept aside
            set_aside(final)
            continue
        if earlier is not None and not (replace_failed and earlier.get("status") == "failed"):
            shutil.rmtree(work, ignore_errors=True)
            return
        stale = final.with_name(f".{final.name}.stale.{os.getpid()}")
        try:
            os.rename(final, stale)  # no result, or a failure that a retry replaces
        except FileNotFoundError:
            continue
        shutil.rmtree(stale, ignore_errors=True)
    else:
        raise OSError(errno.EBUSY, f"{final}: replaced by other processes ten times while "
                      "this case was published")
    output.sync_folder(final.parent)


def _readable(path: Path) -> bool:
    try:
        json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return True


def set_aside(final: Path) -> Path | None:
    """Rename a case folder whose result.json cannot be read to ``<id>.unreadable-<time>``
    beside it (not a case: the case runs again; kept for a look, never removed); None when
    the folder holds a readable result or no result at all.

    The folder renamed is the one judged: if another process set it aside and published
    a good result meanwhile (between the read and the rename), that folder is put back."""
    try:
        judged = os.stat(final).st_ino
    except FileNotFoundError:
        return None
    if not (final / RESULT).exists() or _readable(final / RESULT):
        return None
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S")
    aside = final.with_name(f"{final.name}.unreadable-{stamp}-{os.getpid()}")
    try:
        os.rename(final, aside)
    except FileNotFoundError:  # another executor set it aside first
        return None
    if os.stat(aside).st_ino != judged:  # not the folder read: another's, newer
        try:
            os.rename(aside, final)
        except OSError:  # a third result took the place meanwhile: both stay
            pass
        return None
    return aside


def record_failure(out: Path, p: Point, reason: str, log: str = "",
                   replace: bool = False) -> dict:
    """Record a failed row for a case whose worker left no result (crash, kill, SLURM);
    with replace, in place of an earlier failure of the case (a retry that left none)."""
    row = {"index": p.index, "id": p.id, "status": "failed", "error": reason, **p.inputs,
           "wall_s": None}
    work = out / "cases" / f".{p.id}.failed.{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    output.atomic_write(work / "error.txt", (log or reason) + "\n")
    output.write_json(work / RESULT, row, durable=True)
    _publish(work, out / "cases" / p.id, replace_failed=replace)
    return result_of(out, p) or row


def _clean_stale(out: Path) -> None:
    """Remove the work folders of cases whose process has died (their lock is free)."""
    for d in (out / "cases").glob(".*"):
        if not d.is_dir():
            continue
        try:
            fd = os.open(d / ".lock", os.O_RDWR)
        except FileNotFoundError:  # never locked: its worker died at once, or is starting
            if _worker_gone(d) or time.time() - d.stat().st_mtime > 60:
                shutil.rmtree(d, ignore_errors=True)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # its worker is running (here, or as another executor's task)
        finally:
            os.close(fd)
        shutil.rmtree(d, ignore_errors=True)


def _worker_gone(work: Path) -> bool:
    """Whether the worker of a work folder ``.<id>.<pid>@<host>`` is known to be gone: it
    ran on this host and its process no longer runs (or is a zombie)."""
    name, _, host = work.name.rpartition("@")
    if host != socket.gethostname():
        return False  # another node's worker: only its lock or the folder's age tell
    try:
        pid = int(name.rsplit(".", 1)[1])
    except (IndexError, ValueError):
        return False
    if not Path("/proc/self/stat").exists():  # no procfs: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    except (OSError, IndexError):
        return False
    return state in ("Z", "X")
