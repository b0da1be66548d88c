"""A rating's chart anchors two at a time: FE runs made ahead by a helper process on the core
the rating leaves idle.

A chart's FE anchors (kirchhoff.correct_chart) are independent full FE runs, made one after
another: on the shipped insert the serial-load charts' five anchors (2-4 s each) are 14 of
the 24 s of ``anodesim rate studies/reflection_insert.toml --chart duty``. Where a core is
idle, a helper process makes some of them while the rating makes the others:

- The helper is forked when the rating starts, before MPI does (forking a process in which
  MPI or PETSc has started is unsafe: study/preload.py), and starts MPI, PETSc and dolfinx
  itself, as a sweep's worker does. It builds its own Simulation of the rated case
  (PointRuns, the same mesh and forms).
- At each round of a chart's anchors the rating asks it for the first FE run of every
  anchor but the first, last one first (the power the anchor's iteration starts from, which
  the rating knows before it runs the anchor); the rating then solves the anchors in order.
- Each FE run is claimed under its checkpoint key (checkpoint.py: a run's results depend on
  its key alone) by whichever process starts it first: a file created exclusively in a
  private folder. The runs a resumed rating's checkpoint holds are claimed for the rating
  as its checkpoint opens (leave_to_rating): the helper skips them instead of making them
  again. The helper writes a run it made into that folder and says so through a
  pipe; a run the rating reaches is taken from there if the helper has made it, waited for
  if the helper is making it (a real event: its message, or the end of its pipe if it
  died; at most STUCK_RUNS times the longest run so far, after which the helper is taken
  for stuck, stopped, and the rating makes its runs alone), or else made by the rating
  itself, the helper then skipping it.
- The rating takes a helper's run exactly as one it made itself (checkpoint.run_kept: its
  line, "(made on the idle core)", and its checkpoint entry), so its numbers, its lines
  and its checkpoint are those of a rating made alone; a helper that fails or dies costs
  only the time of the runs it had claimed.

The helper starts only for a serial rating (not under an MPI launcher, nor where this
process has started MPI already: a script that ran anodesim before) with a chart with FE
anchors to come, a core idle (processes.idle_core) and memory for a second process of the
case (room_for); ``ANODESIM_RATING_HELPER=0`` never starts it, ``=1`` whatever the load
(not whatever the memory).
"""

from __future__ import annotations

import math
import os
import pickle
import re
import select
import shutil
import signal
import struct
import sys
import tempfile
import time
from contextlib import contextmanager, suppress

from .. import processes

ENV = "ANODESIM_RATING_HELPER"

#: The running rating's helper (this process), or the helper's own state (the helper).
_state: dict = {"helper": None, "serving": None}


class _Skip(Exception):
    """In the helper: the run asked for is the rating's (claimed there first)."""


def _send(fd: int, message) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(struct.pack("<Q", len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _read_exactly(fd: int, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = os.read(fd, n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _receive(fd: int):
    """The next message on fd (blocking), or None at its end."""
    head = _read_exactly(fd, 8)
    if head is None:
        return None
    body = _read_exactly(fd, struct.unpack("<Q", head)[0])
    return None if body is None else pickle.loads(body)


#: Chart names (anodesim rate --chart, anodesim.rate's charts) with FE anchors.
ANCHORED = frozenset({"single", "duty", "period", "all"})


def anchored(charts) -> bool:
    """Whether a rating of these charts (a name or names) solves FE anchors; False for
    anything else (the rating refuses it with its own line: chart_selection)."""
    try:
        names = {charts} if isinstance(charts, str) else set(charts or ())
    except TypeError:  # not a sequence of names (a number; a list of lists)
        return False
    return bool(names & ANCHORED)


#: Set by an MPI launcher in every process it starts, one rank too (Hydra, the wheel's
#: mpirun: PMI_RANK, PMI_SIZE and PMI_FD, its connection to the launcher; Open MPI; PMIx):
#: a process forked from one would start MPI through the same connection.
LAUNCHED = ("PMI_RANK", "PMI_SIZE", "PMI_FD", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK")


def wanted() -> bool:
    """Whether a helper would start now (module docstring)."""
    choice = os.environ.get(ENV, "")
    if choice == "0" or not hasattr(os, "fork") or sys.platform != "linux":
        return False
    mpi = sys.modules.get("mpi4py.MPI")
    if any(v in os.environ for v in LAUNCHED) or (mpi is not None and mpi.Is_initialized()):
        return False
    return choice == "1" or processes.idle_core()


class Helper:
    """The rating's side of a running helper."""

    def __init__(self, pid: int, to_helper: int, from_helper: int, folder: str):
        self.pid, self.to_helper, self.from_helper = pid, to_helper, from_helper
        self.folder = folder
        self.made: set[str] = set()  # key digests the helper has made (their files)
        self.settled: set[str] = set()  # ... or left to the rating (given up, or the
        # rating's own claim: a key it reaches again is made again, as alone, not waited for)
        self.alive = True
        self.taken = 0
        self.longest = 0.0  # s: the longest FE run of this rating measured so far (measured)
        self.stuck = False  # given up on: no word within STUCK_RUNS runs' time (take)
        self.stopped = False  # SIGSTOP sent (stop)

    def leave_to_rating(self, digests) -> None:
        """Claim the runs of these key digests for the rating: those its checkpoint holds
        (an interrupted rating's), which it takes from there; the helper, asked for one,
        skips it instead of making it again. Each is settled here, so that a run whose entry
        turns out unreadable is made by the rating at once, not waited for."""
        for digest in digests:
            if _claim(self.folder, digest):
                self.settled.add(digest)

    def ask(self, message) -> None:
        if not self.alive:
            return
        try:
            _send(self.to_helper, message)
        except OSError:  # the helper has gone: the rating makes everything itself
            self.alive = False

    def _read(self, wait_s: float = 0.0) -> bool:
        """Take the helper's messages that have arrived, waiting up to wait_s (s) for the
        first; whether any came (or the pipe's end: the helper has ended)."""
        if not self.alive:  # (stopped: its pipe closed)
            return False
        poller = select.poll()  # (select.select refuses a descriptor above 1023)
        poller.register(self.from_helper, select.POLLIN)
        came = False
        while self.alive:
            # (poll refuses a wait above 2^31 - 1 ms, 24.8 days: OverflowError)
            if not poller.poll(min(max(0, math.ceil(wait_s * 1000)), POLL_MAX_MS)):
                return came
            came = True
            message = _receive(self.from_helper)
            if message is None:  # it ended (killed, failed): nothing more comes
                self.alive = False
                return came
            what, digest = message
            (self.made if what == "made" else self.settled).add(digest)
            wait_s = 0.0
        return came

    def take(self, text: str, digest: str):
        """(value or exception, seconds) of the run under this key if the helper made it;
        None: the rating makes it (claimed for it here, or the helper given up on as stuck:
        no word from it within STUCK_RUNS times the longest run measured so far)."""
        self._read()
        deadline = None
        while True:
            if digest in self.made:
                return self._load(text, digest)
            if digest in self.settled or not self.alive:
                return None
            if _claim(self.folder, digest):
                self.settled.add(digest)
                return None
            # the helper is making it: wait for its word (made, settled, or its pipe's end)
            if not self.longest:  # no run measured to bound the wait by: made here too
                self.settled.add(digest)
                return None
            if deadline is None:
                deadline = time.monotonic() + STUCK_RUNS * self.longest
            if not self._read(deadline - time.monotonic()):  # stuck (stopped, deadlocked)
                self.stuck = True
                self.stop()
                return None

    def measured(self, seconds: float) -> None:
        """An FE run of this rating took seconds (s): made here, by the helper, or by the
        interrupted rating whose checkpoint this one resumes); a time that is not one (not
        finite, negative: a damaged entry's) is not taken."""
        if math.isfinite(seconds) and seconds >= 0:
            self.longest = max(self.longest, seconds)

    def _load(self, text: str, digest: str):
        try:
            with open(os.path.join(self.folder, f"{digest}.run"), "rb") as f:
                key_text, outcome, seconds = pickle.load(f)
        except Exception:  # unreadable: made here after all
            return None
        if key_text != text:
            return None
        self.taken += 1
        self.measured(seconds)
        return outcome, seconds

    def stop(self) -> None:
        """End the helper (SIGKILL), and remove the name of its MPI shared-memory segment
        if it still had one: killed inside MPI_Init, before _mpi unlinks the name (a bad
        input refused in the rating's first second: 2 of 8 anodesim.rate calls with an
        out_dir that is a file left /dev/shm/mpich_shm_<helper>_0, 1 MiB each, the leak
        _mpi.forget_shared_memory_name ends); stopped first (SIGSTOP), so that the names
        it holds are read while it can make no new one. Each step is done once, so that a
        call interrupted part way (a Ctrl-C while the rating stops a stuck helper: take)
        is finished by the next (started's), which would otherwise leave the helper
        stopped, neither killed nor reaped, and closes no descriptor twice (its number may
        be another file's by then). A pid that is not a child's (0 or below: os.kill would
        signal the process group or every process of the user) is never signalled."""
        self.alive = False
        if self.to_helper is not None:
            fd, self.to_helper = self.to_helper, None
            with suppress(OSError):
                os.close(fd)
        if self.pid > 0:
            names, ended = set(), False
            if not self.stopped:  # (stopped once already: its stop reported, a second
                # SIGSTOP would be reported never, and waitpid wait for it for ever)
                self.stopped = True
                with suppress(OSError):
                    os.kill(self.pid, signal.SIGSTOP)
                    ended = not os.WIFSTOPPED(os.waitpid(self.pid, os.WUNTRACED)[1])
                    names = set() if ended else processes.mpich_segments(self.pid)
            if not ended:
                with suppress(OSError):
                    os.kill(self.pid, signal.SIGKILL)
                with suppress(ChildProcessError):
                    os.waitpid(self.pid, 0)
            self.pid = 0  # reaped: never signalled again (its number may be reused)
            for name in names:
                with suppress(OSError):
                    os.unlink(name)
        if self.from_helper is not None:
            fd, self.from_helper = self.from_helper, None
            with suppress(OSError):
                os.close(fd)
        shutil.rmtree(self.folder, ignore_errors=True)


#: How long the rating waits for the helper's word on a run the helper is making before it
#: takes the helper for stuck (stopped, deadlocked, swapped out: not dead, whose pipe's end
#: would say so) and makes the run itself, in units of the longest FE run of the rating
#: measured so far (its own, the helper's, the interrupted rating's: Helper.measured). The
#: helper started the run before the rating reached it, and makes it on a core of its own
#: in about the time the rating would. Generous, as taking a slow helper for stuck costs
#: its help for the rest of the rating, and a stuck one is rare: a run twice the longest so
#: far (a serial anchor after the confirmations: 2-4 s against 2.3-3 s on the shipped
#: insert; a single-load chart's longest load after its shortest) made at a quarter of the
#: speed (a core shared with other work) is still within it. Nothing measured yet (no run
#: made nor kept): not waited for. A helper given up on is stopped, and the rating makes the
#: rest alone; its numbers are the same either way (a run's results depend on its key
#: alone).
STUCK_RUNS = 8.0

#: The longest wait (ms) poll takes (a C int).
POLL_MAX_MS = 2**31 - 1


def _claim(folder: str, digest: str) -> bool:
    """Claim the run of this key digest for this process: True if no process had."""
    try:
        os.close(os.open(os.path.join(folder, f"{digest}.claim"),
                         os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        return True
    except FileExistsError:
        return False
    except OSError:  # a folder that fails: neither takes it from the other
        return True


#: Where available_mib reads the memory (tests point them at a made-up tree).
MEMINFO, CGROUPS, CGROUP_ROOT = "/proc/meminfo", "/proc/self/cgroup", "/sys/fs/cgroup"


def available_mib() -> float | None:
    """The memory (MiB) this process may still use: the system's MemAvailable, or less where
    a memory control group of this process or of one above it holds less (a container's
    --memory, a batch job's allocation: SLURM's cgroup, whose out-of-memory killer ends the
    job's largest process, the rating, though the machine has memory to spare): its limit
    less its use, the inactive file cache counted free (reclaimed first), as ``docker stats``
    counts it. cgroup v2 (memory.max, memory.current) and v1 (memory.limit_in_bytes,
    memory.usage_in_bytes); None where MemAvailable cannot be read."""
    try:
        with open(MEMINFO) as f:
            fields = dict(line.split(":", 1) for line in f)
        available = int(fields["MemAvailable"].split()[0]) * 1024.0
    except (OSError, KeyError, ValueError):
        return None
    for folder, files in _memory_groups():
        limit, used, stat = (os.path.join(folder, n) for n in files)
        try:
            with open(limit) as f:
                text = f.read().strip()
            if text == "max":
                continue
            with open(used) as f:
                use = int(f.read())
            free = 0
            with suppress(OSError, ValueError), open(stat) as f:
                cache = dict(line.split() for line in f if line.strip())
                free = int(cache.get("inactive_file", cache.get("total_inactive_file", 0)))
            available = min(available, max(int(text) - use + free, 0))
        except (OSError, ValueError):  # no such group here (a container's view): not limited
            continue
    return available / 2**20


def _memory_groups():
    """(folder, (limit, usage, stat file names)) of this process's memory control group and
    each group above it, to the root of the hierarchy (also where a container shows its own
    group as the root)."""
    try:
        with open(CGROUPS) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # v2: the unified hierarchy
            root, files = CGROUP_ROOT, ("memory.max", "memory.current", "memory.stat")
        elif "memory" in controllers.split(","):  # v1
            root = os.path.join(CGROUP_ROOT, "memory")
            files = ("memory.limit_in_bytes", "memory.usage_in_bytes", "memory.stat")
        else:
            continue
        parts = [p for p in path.split("/") if p]
        out += [(os.path.join(root, *parts[:n]), files) for n in range(len(parts), -1, -1)]
    return out


#: Memory the helper needs free when the rating starts, in units of the case's estimated
#: peak (cost.case_memory_mib, about one run's): the rating's own process holds a
#: confirmation Simulation, the chart anchors' and the engine's step response (peak RSS of
#: `anodesim rate studies/reflection_insert.toml --chart duty` 507 MB against 222 MB for
#: its run and an estimate of 217 MiB, 2026-12-05), and the helper one Simulation more: some
#: 2.3 + 1 estimates, less the imports the rating holds already. Twice, as before, left a
#: large 3-D rating short by about one run's memory.
ROOM_FOR_HELPER = 3.0


def room_for(case) -> bool:
    """Whether the memory available now (available_mib) holds a second process of the case
    (the helper's Simulation) besides what the rating itself has still to take:
    ROOM_FOR_HELPER times the case's estimated peak (cost.case_memory_mib), so that the
    helper never brings the out-of-memory killer to a large 3-D rating."""
    available = available_mib()
    if available is None:
        return False
    from .. import cost
    from ..resolve import prepare

    try:
        need = cost.case_memory_mib(case, prepare(case))
    except Exception:  # a case the rating will refuse: no helper for it
        return False
    return ROOM_FOR_HELPER * need <= available


@contextmanager
def started(needed: bool, case=None, runs=None):
    """A helper for the rating of case inside this block, if needed (a chart with FE
    anchors), wanted() and the memory has room_for it; stopped (killed) at its end, however
    it ends. runs: kirchhoff.PointRuns, which the helper makes its runs with (given by the
    caller: this module, which checkpoint and kirchhoff import, imports neither)."""
    _remove_stale()  # at every rating's start, whether or not a helper starts now
    helper = _start(runs) if needed and wanted() and room_for(case) else None
    _state["helper"] = helper
    try:
        yield helper
    finally:
        _state["helper"] = None
        if helper is not None:
            helper.stop()


#: The helper's folder: PREFIX<pid of the rating>-<random>, in the temporary folder.
PREFIX = "anodesim-rating-"


#: A helper's folder as tempfile.mkdtemp names it (8 characters of its own after the
#: prefix), and the files in it: nothing else is removed as stale (a user's folder in /tmp
#: named anodesim-rating-2026-12-05 is not a helper's).
_FOLDER = re.compile(re.escape(PREFIX) + r"(\d+)-[a-z0-9_]{8}")
_FILE = re.compile(r"[0-9a-f]{32}\.(claim|run|run\.tmp)")


def _remove_stale() -> None:
    """Remove the folders of ratings that have ended without removing theirs (a SIGKILL:
    their helper died with them): a helper's folder (by its name and files) whose rating's
    process has ended."""
    with suppress(OSError):
        root = tempfile.gettempdir()
        for name in os.listdir(root):
            match = _FOLDER.fullmatch(name)
            if match is None or os.path.exists(f"/proc/{match[1]}"):
                continue
            folder = os.path.join(root, name)
            with suppress(OSError):
                if not os.path.islink(folder) and all(_FILE.fullmatch(f)
                                                      for f in os.listdir(folder)):
                    shutil.rmtree(folder, ignore_errors=True)


def _start(runs) -> Helper | None:
    """A helper forked now, or None where none can be (no folder: a full or unwritable
    temporary folder; no pipe or process: the system's limits): the rating alone."""
    try:
        folder = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-")
    except OSError:
        return None
    fds: list[int] = []
    try:
        for _ in range(2):
            fds += os.pipe()
    except OSError:
        for fd in fds:
            os.close(fd)
        shutil.rmtree(folder, ignore_errors=True)
        return None
    to_r, to_w, from_r, from_w = fds
    for stream in (sys.stdout, sys.stderr):  # nothing buffered is written twice
        with suppress(OSError, ValueError):
            stream.flush()
    pid = processes.fork()
    if pid == 0:
        code = 1
        try:
            _quiet()
            os.close(to_w)
            os.close(from_r)
            code = _serve(to_r, from_w, folder, runs)
        finally:
            os._exit(code)
    if pid < 0:
        for fd in (to_r, to_w, from_r, from_w):
            os.close(fd)
        shutil.rmtree(folder, ignore_errors=True)
        return None
    os.close(to_r)
    os.close(from_w)
    return Helper(pid, to_w, from_r, folder)


def _quiet() -> None:
    """In the helper, first thing after the fork: its stdout and stderr (descriptors 1 and
    2: Python's warnings and tracebacks, MPI's and PETSc's messages) to /dev/null. Nothing
    of the helper's reaches the user: a run it fails is the rating's to make and report;
    an error of its own ends it, which costs only time (its pipe's end)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)


def _serve(requests: int, results: int, folder: str, runs) -> int:
    """The helper: make the FE runs asked for, with runs(case) (kirchhoff.PointRuns), until
    its pipe ends (the rating has ended)."""
    processes.die_with_parent()
    ending = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    # ignored where the rating's process had them ignored (nohup: SIGHUP; a job started
    # in the background by a script: SIGINT), else their default actions once MPI has
    # started; not while it starts (its segment's name: Helper.stop removes it)
    after = {sig: signal.SIG_IGN if signal.getsignal(sig) == signal.SIG_IGN else
             signal.SIG_DFL for sig in ending}
    for sig in ending:
        signal.signal(sig, signal.SIG_IGN)
    from .. import _mpi  # noqa: F401  (MPI, PETSc and dolfinx started here, after the fork)

    for sig in ending:
        signal.signal(sig, after[sig])  # Ctrl-C or a job's signal: end at once, quiet
    from ..simulation import Simulation  # noqa: F401

    _state["serving"] = (folder, results)
    points: dict = {}  # runs(case) per rated case (its hash)
    while (message := _receive(requests)) is not None:
        if message[0] == "prepare":  # ("prepare", case): sent when the rating makes its own
            case = message[1]
            if case.hash() not in points:
                points[case.hash()] = runs(case)
                points[case.hash()].prepare()
            continue
        _, case_hash, method, args, options, power_W = message  # ("run", ...)
        point_runs = points.get(case_hash)
        if point_runs is None:
            continue
        try:
            getattr(point_runs, method)(*args, power_W, **options)
        except _Skip:
            pass
    return 0


def serving() -> bool:
    """Whether this process is a rating's helper."""
    return _state["serving"] is not None


def make_here(text: str, digest: str, make):
    """In the helper: make the run under this key (unless the rating has claimed it), write
    it into the shared folder and say so; its value as checkpoint.run_kept returns it."""
    from ..materials import OutOfRangeError
    from ..thermal import SolverError

    folder, results = _state["serving"]
    if not _claim(folder, digest):
        raise _Skip
    start = time.perf_counter()
    try:
        outcome = value = make()
    except OutOfRangeError as e:  # far over (physics: the key's own): the rating's run says so
        outcome, value = e, None
    except SolverError:  # maybe this process's alone (out of memory beside the rating, which
        # a run that fails counts as far over): the rating makes it itself, as alone
        _send(results, ("settled", digest))
        return None
    try:
        data = pickle.dumps((text, outcome, time.perf_counter() - start),
                            protocol=pickle.HIGHEST_PROTOCOL)
        path = os.path.join(folder, f"{digest}.run")
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.replace(path + ".tmp", path)
        _send(results, ("made", digest))
    except Exception:  # not kept (an outcome that does not pickle): made by the rating
        _send(results, ("settled", digest))
    return value


def running() -> bool:
    """Whether this rating has a helper to ask (this process is the rating's side)."""
    return _state["helper"] is not None


def take(text: str, digest: str):
    """In the rating: (value or exception, seconds) of the run under this key made by the
    helper; None: make it here."""
    helper = _state["helper"]
    return None if helper is None else helper.take(text, digest)


def measured(seconds: float | None) -> None:
    """In the rating: an FE run of it took seconds (s), None: not known (Helper.measured)."""
    helper = _state["helper"]
    if helper is not None and seconds is not None:
        helper.measured(seconds)


def leave_to_rating(digests) -> None:
    """In the rating: the runs (key digests) its checkpoint holds are not the helper's to
    make (Helper.leave_to_rating)."""
    helper = _state["helper"]
    if helper is not None:
        helper.leave_to_rating(digests)


def ask(message) -> None:
    """Ask the running rating's helper (if any) for a message's work."""
    helper = _state["helper"]
    if helper is not None:
        helper.ask(message)
