"""The machine's cores and the processes anodesim starts beside a run.

Three parts of anodesim put work on a core the run leaves idle: the figure process
(:mod:`anodesim.plotter`), the mesh built ahead (:mod:`anodesim.geometry.ahead`) and a
sweep's workers (:mod:`anodesim.study.local`). They share here how many cores this process
may use, how many other work keeps busy, whether one is idle, and how to fork a process that
dies with its parent. Nothing heavy is imported: the command line's ``check`` and ``--help``
paths stay light (tests/test_imports.py).
"""

from __future__ import annotations

import os
from contextlib import suppress


def cores() -> int:
    """The cores this process may run on (its affinity where the system tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def busy_cores() -> float:
    """How many cores other work keeps busy now: on Linux the tasks running or waiting to
    run at this instant (/proc/loadavg; threads of the whole system or container, this
    process's other threads and other MPI ranks included, this thread not), elsewhere the
    1-minute load average less this process. The average lags by a minute: runs started
    one after another from a script would each see the last one's load and leave an idle
    core unused."""
    try:
        with open("/proc/loadavg") as f:
            return running_others(f.read())
    except (OSError, ValueError, IndexError):
        return max(os.getloadavg()[0] - 1.0, 0.0) if hasattr(os, "getloadavg") else 0.0


def running_others(loadavg: str) -> int:
    """The tasks running or runnable in /proc/loadavg's text ("0.52 0.58 0.59 3/467 1234":
    its fourth field), less the one reading it."""
    return max(int(loadavg.split()[3].split("/")[0]) - 1, 0)


def idle_core() -> bool:
    """Whether a process started now would have a core of its own: this process may use
    two or more, and other work leaves one of them idle beside this one."""
    n = cores()
    return n >= 2 and busy_cores() <= n - 2


def fork() -> int:
    """os.fork(), or -1 where it fails (no process could be started: the caller does the
    work itself). Python's warning about forking a process with threads is silenced: each
    caller forks a child that touches no lock another thread may hold (the figure process's
    job reader; the run's own threads before MPI starts)."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return os.fork()
    except OSError:
        return -1


def die_with_parent() -> None:
    """In a process just started (Linux): be killed by SIGKILL when its parent ends, even
    by SIGKILL itself (a figure helper when its child ends, a sweep's worker when the
    runner does), so that no orphan goes on writing; elsewhere nothing."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def mpich_segments(pid: int | str = "self") -> set[str]:
    """The MPICH shared-memory segments (/dev/shm/mpich_shm_*) that process pid holds open or
    mapped under their names (not yet unlinked): the names _mpi.forget_shared_memory_name
    removes once MPI has started, and a rating's helper stopped inside MPI_Init leaves
    (rating/helper.py). Empty where /proc cannot be read."""
    paths = set()
    with suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with suppress(OSError):
                paths.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
    with suppress(OSError), open(f"/proc/{pid}/maps") as f:
        paths |= {fields[5].strip() for fields in (line.split(None, 5) for line in f)
                  if len(fields) == 6}
    return {p for p in paths if p.startswith("/dev/shm/mpich_shm_")
            and not p.endswith("(deleted)")}
