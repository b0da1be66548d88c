"""Test set-up: the wheel's import order (dolfinx_solver / mpi4py before dolfinx), and
collective clean-up after every test so PETSc objects are destroyed on all ranks together."""

import gc

try:
    import dolfinx_solver  # noqa: F401
except ImportError:
    pass
from mpi4py import MPI


def pytest_runtest_teardown(item):
    gc.collect()
    MPI.COMM_WORLD.Barrier()
