"""Import order required by the dolfinx-solver-real wheel: dolfinx_solver (or mpi4py)
must be imported before dolfinx, or libmpi is not found. Also puts the lock around the
form compiler's cache (:mod:`anodesim.jitcache`) before any form is compiled.

Ctrl-C and SIGTERM wait for these imports (errors.signals_held): the form compiler brings
basix, whose C++ extension calls back into Python while it initialises; an interrupt raised
there ended the process with "terminate called without an active exception" (SIGABRT) or
SIGSEGV, instead of one line (found signalling `anodesim rate` 0.3 s after its start).
dolfinx itself is first imported under the hold of simulation.build_problem.

SIGHUP is kept as it was before MPI started: MPICH's initialisation (a singleton, without
mpirun) installs its own handler, which ignores it, so that a run whose terminal was
closed went on and failed at its next line with "Input/output error" (errors.HungUp);
under a launcher, which may use it, MPI's handler stays.

MPI's shared-memory segment loses its name as soon as MPI has started
(:func:`forget_shared_memory_name`), so that no way of ending the process leaves it in
/dev/shm; a /dev/shm too full to hold it is one line (:func:`check_shared_memory`). A
process alone starts MPI without UCX's own shared-memory segment
(:func:`alone_without_ucx_shared_memory`)."""

import os
import signal
import sys
import threading
from contextlib import contextmanager, suppress

import mpi4py

from .errors import launcher_size, signals_held
from .processes import mpich_segments

#: Free shared memory (bytes) that MPI_Init of a singleton needs in /dev/shm: MPICH's segment
#: is 1 061 440 bytes (MPICH 5.0.2 of the dolfinx-solver-real wheel, measured); with less,
#: MPI_Init dies of SIGBUS (no line, exit status 135) at its first write to it.
SEGMENT_BYTES = 1_100_000


def check_shared_memory(folder: str = "/dev/shm") -> None:
    """Refuse with one line, before MPI starts, where the shared memory cannot hold MPI's
    segment: a process would otherwise die of SIGBUS inside MPI_Init, with no word why.

    Only for a process that starts MPI itself, alone (not under a launcher, whose ranks
    share a larger segment; not where MPI is running already or mpi4py does not start it
    at import: a sweep's fork server checks in each worker, study.preload.init_worker).

    Raises:
        RunFailure: the folder has less than SEGMENT_BYTES free.
    """
    from .errors import RunFailure

    mpi = sys.modules.get("mpi4py.MPI")
    if launcher_size() > 1 or (mpi is not None and mpi.Is_initialized()):
        return
    try:
        st = os.statvfs(folder)
    except OSError:  # no such folder (not Linux): MPI keeps its segment elsewhere
        return
    free = st.f_bavail * st.f_frsize
    if free < SEGMENT_BYTES:
        raise RunFailure(
            f"{folder} has {free / 2**20:.1f} MiB free, and MPI needs about 1 MiB of shared "
            "memory there for each process; remove what processes no longer running left in "
            f"it (e.g. {folder}/mpich_shm_*), or give a container more (docker run "
            "--shm-size=256m)")


@contextmanager
def alone_without_ucx_shared_memory():
    """Around MPI_Init of a process alone: UCX's POSIX shared-memory transport left out.

    The wheel's MPICH (device ch4:ucx) lets UCX put a 4 MiB segment of its own in /dev/shm
    besides MPICH's 1 MiB one (unlinked at once, freed at the process's end). A process alone
    talks to no other rank through it, yet it took 5.1 MiB of /dev/shm instead of 1.0
    (measured, MPICH 5.0.2), so that Docker's default 64 MiB held 22 processes at once, not
    60; and with a /dev/shm of exactly 16 MiB, MPI_Init itself died of SIGSEGV (plain
    ``from mpi4py import MPI``; 15 and 17 MiB were fine). ``UCX_TLS=^posix`` (every UCX
    transport but that one: a leading '^' excludes the listed ones, UCX FAQ,
    https://openucx.readthedocs.io/en/master/faq.html) is set for the initialisation only, so
    that a job started from this process (a launcher's ranks, which may share memory) gets
    the environment as it was. Nothing is done under a launcher or where the user set
    UCX_TLS."""
    if launcher_size() > 1 or "UCX_TLS" in os.environ:
        yield
        return
    os.environ["UCX_TLS"] = "^posix"
    try:
        yield
    finally:
        os.environ.pop("UCX_TLS", None)


if mpi4py.rc.initialize:  # (a sweep's fork server: each worker checks, init_worker)
    check_shared_memory()

_HANGUP = signal.getsignal(signal.SIGHUP) if launcher_size() == 1 and \
    threading.current_thread() is threading.main_thread() else None

with signals_held(), alone_without_ucx_shared_memory():
    _STARTED_HERE = "mpi4py.MPI" not in sys.modules and mpi4py.rc.initialize
    try:  # the pip wheel; absent in Docker images with their own dolfinx
        import dolfinx_solver  # noqa: F401
    except ImportError:
        pass
    from mpi4py import MPI  # noqa: F401

    from .jitcache import install as _install_jit_lock

    _install_jit_lock()


def forget_shared_memory_name(started_here: bool = True) -> None:
    """Unlink the name of MPICH's shared-memory segment of this process (of this node's
    ranks under a launcher), leaving the memory mapped.

    MPICH's initialisation creates ``/dev/shm/mpich_shm_<id>_0`` (1 MiB for one process,
    2 MiB for two ranks) and unlinks it only in MPI_Finalize. Every process that ends
    without it kept its segment for good: a sweep's worker (os._exit after its case), a
    command ended by SIGTERM, SIGHUP or Ctrl-C (cli._end_interrupted skips the
    finalisation, which could hang), an MPI job aborted, a process killed (SIGKILL, the
    out-of-memory killer). /dev/shm is memory (tmpfs): the development machine had
    collected 5 762 of them (5.8 GiB) in a day; where it is small (Docker's default of
    64 MiB) MPI_Init itself dies of SIGBUS once it is full, so every anodesim process
    started after about 60 such ends failed (reproduced on a 3 MiB tmpfs: the third process
    died with "Bus error"). The segment is attached by its name only in MPI_Init (a forked
    child inherits the mapping, not the name), so the name is not needed once every rank of
    the node is past it; the kernel frees the memory when the last process mapping it ends,
    however it ends, and MPI_Finalize's own unlink finds nothing to remove, which MPICH
    ignores. Nothing is done for another MPI or where /proc is absent.

    Args:
        started_here: MPI was initialised by this module's import, so that every rank is
            here at once (MPI_Init is collective); under a launcher the node's ranks then
            wait for each other before the name goes. Where a script started MPI itself,
            its ranks may come here apart: only a process alone in MPI_COMM_WORLD then.
    """
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is None or not mpi.Is_initialized() or mpi.Is_finalized():
        return
    world = mpi.COMM_WORLD
    if world.size > 1:
        if not started_here:
            return
        node = world.Split_type(mpi.COMM_TYPE_SHARED)
        try:
            node.Barrier()  # every rank of this node has attached the segment
            if node.rank > 0:
                return
        finally:
            node.Free()
    for path in mpich_segments():
        with suppress(OSError):
            os.unlink(path)


forget_shared_memory_name(_STARTED_HERE)

if _HANGUP is not None:  # (None: a handler not set from Python, left alone)
    signal.signal(signal.SIGHUP, _HANGUP)
