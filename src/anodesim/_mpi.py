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
under a launcher, which may use it, MPI's handler stays."""

import signal
import threading

from .errors import launcher_size, signals_held

_HANGUP = signal.getsignal(signal.SIGHUP) if launcher_size() == 1 and \
    threading.current_thread() is threading.main_thread() else None

with signals_held():
    try:  # the pip wheel; absent in Docker images with their own dolfinx
        import dolfinx_solver  # noqa: F401
    except ImportError:
        pass
    from mpi4py import MPI  # noqa: F401

    from .jitcache import install as _install_jit_lock

    _install_jit_lock()

if _HANGUP is not None:  # (None: a handler not set from Python, left alone)
    signal.signal(signal.SIGHUP, _HANGUP)
