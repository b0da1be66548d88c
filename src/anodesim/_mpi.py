"""Import order required by the dolfinx-solver-real wheel: dolfinx_solver (or mpi4py)
must be imported before dolfinx, or libmpi is not found. Also puts the lock around the
form compiler's cache (:mod:`anodesim.jitcache`) before any form is compiled."""

try:  # the pip wheel; absent in Docker images with their own dolfinx
    import dolfinx_solver  # noqa: F401
except ImportError:
    pass
from mpi4py import MPI  # noqa: F401,E402

from .jitcache import install as _install_jit_lock  # noqa: E402

_install_jit_lock()
