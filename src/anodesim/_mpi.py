"""Import order required by the dolfinx-solver-real wheel: dolfinx_solver (or mpi4py)
must be imported before dolfinx, or libmpi is not found. Also puts the lock around the
form compiler's cache (:mod:`anodesim.jitcache`) before any form is compiled.

Ctrl-C and SIGTERM wait for these imports (errors.signals_held): the form compiler brings
basix, whose C++ extension calls back into Python while it initialises; an interrupt raised
there ended the process with "terminate called without an active exception" (SIGABRT) or
SIGSEGV, instead of one line (found signalling `anodesim rate` 0.3 s after its start).
dolfinx itself is first imported under the hold of simulation.build_problem."""

from .errors import signals_held

with signals_held():
    try:  # the pip wheel; absent in Docker images with their own dolfinx
        import dolfinx_solver  # noqa: F401
    except ImportError:
        pass
    from mpi4py import MPI  # noqa: F401

    from .jitcache import install as _install_jit_lock

    _install_jit_lock()
