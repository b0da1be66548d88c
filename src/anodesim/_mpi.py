"""Import order required by the dolfinx-solver-real wheel: dolfinx_solver (or mpi4py)
must be imported before dolfinx, or libmpi is not found."""

try:  # the pip wheel; absent in Docker images with their own dolfinx
    import dolfinx_solver  # noqa: F401
except ImportError:
    pass
from mpi4py import MPI  # noqa: F401,E402
