"""What the sweep's fork server imports once, before it forks a worker per case
(study/local.py), and what each forked worker does first.

The server imports the Python side of the stack (mpi4py's module, UFL, Basix, FFCx, gmsh,
numpy, the scipy parts a run uses, matplotlib on its file-only backend, and every anodesim
module that does not import dolfinx) but initialises neither MPI nor PETSc: forking a
process in which MPI_Init or PetscInitialize has run is unsafe (the child inherits the MPI
library's state: its shared-memory segments, file descriptors and signal handlers), and one
such sweep once ended with a PETSc signal and MPI_Abort in a worker. petsc4py initialises
PETSc (and through it MPI) when ``petsc4py.PETSc`` is imported, and dolfinx imports it, so
dolfinx and ``petsc4py.PETSc`` are refused while preloading; each worker imports them
after the fork (about 0.15 s, against about 1.5 s for a whole new interpreter), after
:func:`init_worker` has initialised MPI in the worker itself. Importing this module runs
no case.
"""

from __future__ import annotations

import importlib
import sys

import mpi4py

# Not at import: a worker initialises MPI itself, after the fork (init_worker).
mpi4py.rc.initialize = False
mpi4py.rc.finalize = False

#: What the server imports: the Python stack of a run and the anodesim modules. A module
#: that imports dolfinx at its top (thermal, mechanics, ...) is skipped; the worker
#: imports it.
MODULES = (
    "anodesim._mpi", "numpy", "ufl", "basix", "basix.ufl", "ffcx", "ffcx.main",
    "ffcx.codegeneration.jit", "cffi", "gmsh", "scipy.sparse", "scipy.spatial",
    "scipy.linalg", "scipy.special", "rainflow", "PIL.Image", "PIL.PngImagePlugin",
    "anodesim.cli", "anodesim.cli.run", "anodesim.cli.report", "anodesim.case",
    "anodesim.simulation", "anodesim.geometry", "anodesim.geometry.axisym",
    "anodesim.geometry.mesh", "anodesim.geometry.reflection3d", "anodesim.beam",
    "anodesim.materials", "anodesim.coolant", "anodesim.cost", "anodesim.drift",
    "anodesim.electron_kernels", "anodesim.frames", "anodesim.loading", "anodesim.monitors",
    "anodesim.output", "anodesim.resolve", "anodesim.results", "anodesim.run_folder",
    "anodesim.spot_sizes", "anodesim.study.worker", "anodesim.rating", "anodesim.coupling",
    "anodesim.thermal", "anodesim.mechanics",
)

_REFUSED = ("dolfinx", "petsc4py.PETSc")


class _RefuseInitialisers:
    """An import hook that refuses dolfinx and ``petsc4py.PETSc`` (their import initialises
    PETSc and MPI) while the server preloads."""

    def find_spec(self, name, path=None, target=None):
        if any(name == r or name.startswith(r + ".") for r in _REFUSED):
            raise ImportError(f"{name} is imported after the fork, not in the fork server")
        return None


def preload() -> list[str]:
    """Import :data:`MODULES` that can be imported without initialising MPI or PETSc;
    return the names skipped (they import dolfinx)."""
    hook = _RefuseInitialisers()
    sys.meta_path.insert(0, hook)
    skipped = []
    try:
        for name in MODULES:
            try:
                importlib.import_module(name)
            except ImportError:
                skipped.append(name)
    finally:
        sys.meta_path.remove(hook)
    from .. import output

    output.warm_up()  # matplotlib (Figure on an Agg canvas), fonts loaded
    from mpi4py import MPI

    if MPI.Is_initialized() or "petsc4py.PETSc" in sys.modules:  # pragma: no cover
        raise RuntimeError("the sweep's fork server initialised MPI or PETSc")
    return skipped


def init_worker() -> None:
    """In a worker just forked from the server: initialise MPI here (the server never did),
    as ``from mpi4py import MPI`` does in a new interpreter; PETSc is initialised when the
    case imports dolfinx. The worker ends with ``os._exit`` after its case, so MPI is not
    finalised (as a process that exits without MPI_Finalize; nothing is communicated)."""
    from mpi4py import MPI

    if not MPI.Is_initialized():
        MPI.Init_thread()


preload()
