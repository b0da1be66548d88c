"""The two kinds of failure a user meets, and how the command line reports them.

* bad input (:class:`CaseError`, also ``anodesim.case.CaseError``): exit status 2, nothing
  written;
* a run that cannot finish (:class:`RunFailure`: the solver, a property table, the form
  compiler, the disk): exit status 1.

Anything else is a bug: one line that says so, exit status 1, and the traceback only with
``--debug`` or ``ANODESIM_DEBUG=1``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import threading
import time


class CaseError(ValueError):
    """Bad input (exit status 2): a case or study file, a command-line value or an output
    folder; one line naming the key, the value and what was expected. Raised by the case
    reader (``anodesim.case.CaseError`` is this class) and by the writers' checks, which
    import nothing of the case."""


class RunFailure(Exception):
    """A run, rating or sweep that could not finish (exit status 1)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM during a command (a batch system's time limit, ``kill``, ``timeout``): unwound
    as Ctrl-C is, so that a run's summary.json says "failed" and why, and its time series
    keeps what was saved; exit status 143 (128 + SIGTERM), as a process the signal ended."""

    def __init__(self):
        super().__init__("terminated by SIGTERM (a batch system's time limit, kill or timeout)")


class HungUp(Terminated):
    """SIGHUP: the terminal of the command was closed (an ssh connection lost, a terminal
    window shut). Unwound as SIGTERM is (the run's summary says "failed" and why); exit
    status 129 (128 + SIGHUP). MPICH's initialisation had taken SIGHUP over and ignored
    it: the run went on writing to the closed terminal, and its next line failed it with
    "OSError: [Errno 5] Input/output error" (_mpi keeps SIGHUP as it was)."""

    def __init__(self):
        KeyboardInterrupt.__init__(self, "hung up (SIGHUP: the terminal was closed; nohup, "
                                         "tmux or screen keep a run going without it)")


def _ending(signum: int) -> type[Terminated]:
    """The exception that SIGTERM or SIGHUP raises (terminate)."""
    import signal

    return HungUp if signum == signal.SIGHUP else Terminated


def add_line_note(e: BaseException, text: str) -> None:
    """Add text to the one line that reports e when a signal ends the command (e.g. a SLURM
    job left running). Python's own notes (``add_note``: a codec whose decoding a signal
    interrupted adds "decoding with 'cp437' codec failed") stay out of that line."""
    e.anodesim_line_notes = [*line_notes(e), text]


def line_notes(e: BaseException | None) -> list[str]:
    """The notes add_line_note gave e (none for None)."""
    return list(getattr(e, "anodesim_line_notes", ()))


#: SIGTERM on a parallel run, noted by the command line's handler: the ranks stop together
#: at the next time step (termination_requested). A rank stopped at once could leave another
#: in a collective call it never returns from, and the run then ended through MPI_Abort
#: without its summary.
_TERMINATION = {"requested": False}


#: The signal (SIGINT, SIGTERM) that reached the command line's handler during a command,
#: or None: the command then ends with that signal's line and status, whatever its
#: unwinding raised on the way (cli.main).
_SIGNALLED = {"signum": None}


def note_signal(signum: int | None) -> None:
    """Note (or, None, forget) the signal that is ending the command (signal_received)."""
    _SIGNALLED["signum"] = signum


def signal_received() -> int | None:
    """The signal noted by note_signal during this command, or None."""
    return _SIGNALLED["signum"]


def quiet_lost_signal(unraisable) -> None:
    """sys.unraisablehook for a command: a Ctrl-C or SIGTERM whose exception landed in a
    weakref callback or a destructor is not printed (Python printed "Exception ignored in:
    … KeyboardInterrupt" with its traceback, above the command's one line; a rating
    interrupted 0.1 s after its start, during an import): raise_lost_signal raises it again
    where it can unwind. Everything else goes to Python's own hook."""
    if signal_received() is not None and isinstance(
            unraisable.exc_value, (KeyboardInterrupt, Terminated)):
        return
    sys.__unraisablehook__(unraisable)


def raise_lost_signal() -> None:
    """Raise again a Ctrl-C or SIGTERM whose exception was lost: the handler's raise landed
    in a destructor or a weakref callback (a dolfinx Vector's __del__ during a rating's
    first seconds), where Python prints and drops it, and the command ran to its end with
    exit 0. Called before each heat solve, where no unwinding is under way (one is only
    started by the handler's own raise). A SIGTERM on a parallel run is left to
    termination_requested, which stops the ranks together."""
    signum = _SIGNALLED["signum"]
    if signum is None or _TERMINATION["requested"]:
        return
    import signal

    if signum in (signal.SIGTERM, signal.SIGHUP):
        raise _ending(signum)
    raise KeyboardInterrupt


def request_termination(requested: bool = True) -> None:
    """Note (or, False, forget) a SIGTERM for termination_requested."""
    _TERMINATION["requested"] = requested


def termination_requested(comm) -> bool:
    """Whether SIGTERM reached any rank of comm: collective, every rank asks at the same
    point (after each time step)."""
    requested = _TERMINATION["requested"]
    if comm.size > 1:
        from mpi4py import MPI

        requested = comm.allreduce(requested, op=MPI.LOR)
    return requested


def terminate(signum, frame):
    """SIGTERM's (and SIGHUP's) handler during a command or a library call: Terminated
    (HungUp), or under mpirun a request that stops the ranks together at the next time
    step (termination_requested). Taken once: a second SIGTERM (SLURM signals every
    process of the step and mpirun forwards its own) would interrupt the failure path that
    writes the summary; so would the other of the two (a closed ssh session: SIGHUP from
    the terminal, SIGTERM from the session's end), which this handler also holds."""
    import signal

    for sig in {signum, signal.SIGTERM, signal.SIGHUP}:
        if sig == signum or signal.getsignal(sig) is terminate:
            signal.signal(sig, signal.SIG_IGN)
    if signal_received() is None:
        note_signal(signum)
    if launcher_size() > 1:
        request_termination()
        return
    raise _ending(signum)


@contextlib.contextmanager
def sigterm_cleans_up():
    """A library call (anodesim.run, rate, sweep, Simulation.run) under SIGTERM's default
    action: the process still ends by SIGTERM, as the script's author chose by leaving it
    at its default, but only once the call has left its folder whole.

    SIGTERM meanwhile unwinds the call as Ctrl-C does (Terminated, or under mpirun every
    rank at the next time step): a run's summary.json says "failed" and why, an earlier
    run set aside comes back, a rating's finished FE runs stay in its checkpoint for the
    next call, a sweep's workers are stopped, temporary files are removed. Then SIGTERM
    is restored to its default and raised again: the process ends with the status of a
    process SIGTERM ended (143 in a shell, -15 from subprocess), one line on stderr and
    no traceback (Python's default has no traceback either; the handler's exception
    reached the user as one, with status 1). Only in the main thread and where SIGTERM
    has its default action: a caller's own handler (or SIG_IGN) stays in charge and no
    handler is left behind; nested calls leave it to the outermost. SIGHUP (the script's
    terminal closed) alike, where it has its default action (HungUp, then SIGHUP)."""
    import signal

    ours = [sig for sig in (signal.SIGTERM, signal.SIGHUP)
            if signal.getsignal(sig) == signal.SIG_DFL] \
        if threading.current_thread() is threading.main_thread() else []
    for sig in ours:
        signal.signal(sig, terminate)
    try:
        yield
    finally:
        ended = signal_received()
        for sig in ours:
            signal.signal(sig, signal.SIG_DFL)
        if ours:
            request_termination(False)
            note_signal(None)
        if ended in ours:
            _end_by(ended)


def _end_by(signum: int) -> None:
    """End the process by the default action of signum (sigterm_cleans_up), its line
    written: no atexit handler runs, so a mesh builder's temporary folder is removed
    first."""
    import signal

    ahead = sys.modules.get("anodesim.geometry.ahead")
    if ahead is not None:
        ahead.discard()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    if not rank_prefix():  # serial, or rank 0 for all
        with contextlib.suppress(OSError):  # (a closed terminal: EIO)
            os.write(2, f"anodesim: {_ending(signum)()}\n".encode())
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signum})
    signal.raise_signal(signum)


@contextlib.contextmanager
def signals_held():
    """Hold Ctrl-C (SIGINT), SIGTERM and SIGHUP back until the block ends, then act on the
    first one as its handler would have (KeyboardInterrupt, Terminated, HungUp, a noted
    request).

    For code that calls back into Python from C: gmsh's mesh-size callback, dolfinx's
    markers and interpolations. Python runs a signal's handler at the next bytecode, which
    is then inside such a callback: gmsh (through ctypes) prints the exception, takes a
    meaningless element size and meshes on (a coarser mesh, a run with wrong temperatures
    that ends "complete", the signal lost); nanobind may end the process (std::terminate).
    The block is finished first: an interrupt during meshing takes effect when the mesh
    is done; a second Ctrl-C ends the process at once (the default action, no summary).
    Return a value after the block, not from inside it: the held interrupt is raised at the
    block's end, when a value being returned is dropped with the exception set; a dolfinx
    mesh or function freed then runs mpi4py's communicator callback (commlock_free_fn) with
    an exception pending, which leaves mpi4py's lock taken (SystemError "returned a result
    with an exception set"), and the next communicator freed waits on it for ever.
    Only Python handlers are held: a signal left to its default action or to a C handler
    (PETSc's) runs no Python and is left alone, as are nested blocks and threads other
    than the main one.
    """
    import signal

    if _HELD["active"] or threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def note(signum, frame):
        if signum == signal.SIGINT and signal.SIGINT in caught:  # pressed again: now
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.raise_signal(signal.SIGINT)
        caught.append(signum)

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        handler = signal.getsignal(sig)
        if callable(handler):
            previous[sig] = signal.signal(sig, note)
    _HELD["active"] = True
    try:
        yield
    finally:
        # restored with both blocked: a signal between two restorations would raise out
        # of this loop and leave the other on `note` for good
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, previous)
        try:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            _HELD["active"] = False
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        if caught:
            previous[caught[0]](caught[0], None)  # raises (KeyboardInterrupt, Terminated)


_HELD = {"active": False}


def debug_enabled(flag: bool = False) -> bool:
    """--debug given, or ANODESIM_DEBUG set to anything but '' or '0'."""
    return flag or os.environ.get("ANODESIM_DEBUG", "") not in ("", "0")


def _os_line(e: OSError) -> str:
    where = f"{e.filename}: " if e.filename else ""
    if e.errno == errno.ENOSPC:
        return (f"{where}no space left on the device; free some space and run again "
                "(finished cases and results written before are kept)")
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{where}{e.strerror}; choose a folder you can write to (-o DIR)"
    if e.errno == errno.ENOENT and e.filename and os.sep not in str(e.filename):
        return f"{e.filename}: command not found; install it or put it on PATH"
    return f"{where}{e.strerror or e}"


def report(e: BaseException) -> tuple[int, str]:
    """(exit status, the one line for stderr) of an exception that ended a command."""
    if isinstance(e, CaseError):
        return 2, f"anodesim: error: {e}"
    if isinstance(e, RunFailure):
        return 1, f"anodesim: run failed: {e}"
    if isinstance(e, OSError):
        return 1, f"anodesim: run failed: {_os_line(e)}"
    if isinstance(e, MemoryError):
        return 1, ("anodesim: run failed: out of memory; coarsen the mesh ([mesh], or a user's "
                   "mesh in its mesher) or run under MPI")
    text = " ".join(str(e).split()) or "no message"
    return 1, (f"anodesim: internal error ({type(e).__name__}: {text}); please report it "
               "with the output of the same command run with --debug")


def abort_other_ranks(status: int) -> None:
    """Under MPI with several ranks, end them all now (a rank that raised alone would leave
    the others waiting in a collective call for ever)."""
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is not None and mpi.COMM_WORLD.size > 1:
        sys.stderr.flush()
        sys.stdout.flush()
        mpi.COMM_WORLD.Abort(status)


#: How long a failing rank waits for the others to fail too (s): a failure every rank
#: meets (a diverging solve, an interrupt) is written like a serial one; a rank failing
#: alone finds the others busy in a collective call and aborts them after this wait.
SHARED_FAILURE_WAIT_S = 10.0


def all_ranks_failed(comm, timeout_s: float = SHARED_FAILURE_WAIT_S) -> bool:
    """Whether every rank of comm has reached its failure path: a non-blocking barrier
    that completes only when all ranks have entered it, polled until timeout_s.

    True means every rank stands at the same point, so collective writes are safe."""
    request = comm.Ibarrier()
    deadline = time.monotonic() + timeout_s
    while not request.Test():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)  # poll interval of the barrier's completion, not a synchronisation
    return True


def share_rank_zero_failure(comm, failure: Exception | None) -> None:
    """After work rank 0 did alone (building the mesh, making the run folder), before the
    collective call that uses it: every rank of comm raises if rank 0 failed, as one
    failure every rank met (failed_on_every_rank), so that the command line writes one
    line from rank 0 with its status (2 bad input, 1 a failure or a bug) and no rank is
    aborted; serially, rank 0's failure is raised as it is.

    The other ranks used to wait in the collective read for a mesh rank 0 never built:
    `anodesim run` under mpirun ended through MPI_Abort (a second line from the launcher),
    and anodesim.run in a script under mpirun hung for ever. Their exception is a
    CaseError when rank 0's is one, else a RunFailure, with rank 0's message."""
    if comm.size > 1:
        said = None if failure is None else (isinstance(failure, CaseError),
                                             report(failure)[1].removeprefix("anodesim: "))
        said = comm.bcast(said, root=0)
        if said is not None and failure is None:
            bad_input, line = said
            failure = CaseError(line.removeprefix("error: ")) if bad_input else \
                RunFailure(f"on rank 0: {line}")
        if failure is not None:
            failure.anodesim_every_rank = True
    if failure is not None:
        raise failure


@contextlib.contextmanager
def rank_zero_alone(comm, kinds: type | tuple = Exception):
    """A block of work rank 0 does alone (the other ranks pass through it): a failure of
    kinds there is raised on every rank once the block ends (share_rank_zero_failure, also
    the ranks' barrier); any other exception (Ctrl-C) passes as it is."""
    failure = None
    try:
        yield
    except kinds as e:
        failure = e
    share_rank_zero_failure(comm, failure)


def failed_on_every_rank(e: BaseException) -> bool:
    """Whether e was raised on every rank of a parallel run (see all_ranks_failed)."""
    return getattr(e, "anodesim_every_rank", False)


def rank_prefix() -> str:
    """'[rank N] ' on ranks other than 0 of a parallel run, else ''."""
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is not None and mpi.COMM_WORLD.size > 1 and mpi.COMM_WORLD.rank > 0:
        return f"[rank {mpi.COMM_WORLD.rank}] "
    return ""


#: Environment variables in which MPI launchers give a process its rank and the number of
#: ranks (MPICH/Hydra, the wheel's mpirun: PMI_*; Open MPI: OMPI_COMM_WORLD_*).
LAUNCHER_VARIABLES = {"rank": ("PMI_RANK", "OMPI_COMM_WORLD_RANK"),
                      "size": ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")}


def _launcher(what: str, default: int) -> int:
    for var in LAUNCHER_VARIABLES[what]:
        value = os.environ.get(var, "")
        if value.isdigit():
            return int(value)
    return default


def launcher_rank() -> int:
    """This process's rank as its MPI launcher set it, read without starting MPI (0 when
    not launched by mpirun/mpiexec)."""
    return _launcher("rank", 0)


def launcher_size() -> int:
    """The number of ranks the MPI launcher started, read without starting MPI (1 when not
    launched by mpirun/mpiexec)."""
    return _launcher("size", 1)


def echoes_rank_zero(e: BaseException) -> bool:
    """Whether this failure is one rank 0 reports for every rank: bad input found before
    MPI started (reading the case, the command line, the output folder) on a rank other than
    0 of a parallel launch. Every rank read the same input and raised the same line; after
    MPI starts a failure may be this rank's alone, so it is reported (with its rank)."""
    return (isinstance(e, CaseError) and "mpi4py.MPI" not in sys.modules
            and launcher_rank() > 0)
