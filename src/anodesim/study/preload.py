"""What the sweep's fork server imports once, before it forks a worker per case
(study/local.py): MPI before dolfinx (the wheel), dolfinx, PETSc, gmsh, the FE stages and
matplotlib on its file-only backend. Importing this module runs no case."""

from .. import _mpi  # noqa: F401  (MPI before dolfinx)
from .. import mechanics, output, run_folder, simulation, thermal  # noqa: F401
from ..cli import main  # noqa: F401
from . import worker  # noqa: F401

output._pyplot()  # matplotlib with the Agg backend
