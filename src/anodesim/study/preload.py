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
from pathlib import Path

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
    # what FFCx's cache lookup and the run import on first use
    "cffi.cparser", "pycparser.c_parser", "importlib.resources.readers", "encodings.cp437",
)

#: Compiled libraries a worker imports (package, file name pattern), mapped here without
#: being imported: loading and relocating them (PETSc, DOLFINx and what they link) is
#: about 0.05 s of each worker's 0.15-0.2 s of imports after the fork; the import then only
#: runs their module initialisation (which initialises PETSc).
LIBRARIES = (("petsc4py", "lib/PETSc*.so"), ("dolfinx", "cpp*.so"))

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
    _map_libraries()
    from .. import electron_kernels, output

    output.warm_up()  # matplotlib (Figure on an Agg canvas), fonts loaded
    electron_kernels.load()  # the electron transport tables, read once for every worker
    from mpi4py import MPI

    if MPI.Is_initialized() or "petsc4py.PETSc" in sys.modules:  # pragma: no cover
        raise RuntimeError("the sweep's fork server initialised MPI or PETSc")
    return skipped


def _map_libraries() -> None:
    """Load LIBRARIES with the flags of an import (sys.getdlopenflags(): local symbols, as
    the import would), without their module initialisation; one that is missing or fails
    to load is left to the import, which then reports it."""
    import ctypes
    from importlib.machinery import PathFinder

    for package, pattern in LIBRARIES:
        spec = PathFinder.find_spec(package)  # finds, imports nothing
        for folder in (spec.submodule_search_locations or []) if spec else []:
            for path in sorted(Path(folder).glob(pattern)):
                try:
                    ctypes.CDLL(str(path), mode=sys.getdlopenflags())
                except OSError:
                    pass


def init_worker() -> None:
    """In a worker just forked from the server: initialise MPI here (the server never did),
    as ``from mpi4py import MPI`` does in a new interpreter; PETSc is initialised when the
    case imports dolfinx. The worker ends with ``os._exit`` after its case, so MPI is not
    finalised (as a process that exits without MPI_Finalize; nothing is communicated):
    its shared-memory segment's name is removed at once instead, or every case left 1 MiB
    in /dev/shm (_mpi.forget_shared_memory_name)."""
    from mpi4py import MPI

    from .._mpi import (alone_without_ucx_shared_memory, check_shared_memory,
                        forget_shared_memory_name)

    if not MPI.Is_initialized():
        check_shared_memory()
        with alone_without_ucx_shared_memory():
            MPI.Init_thread()
    forget_shared_memory_name()


preload()
