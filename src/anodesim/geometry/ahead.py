"""A serial run's mesh built ahead: gmsh meshes in a forked process while the run imports
mpi4py, PETSc and dolfinx and sets up its problem.

On the C1-class case of ``studies/benchmark_process.py`` gmsh takes about 0.23 s of a 2.0 s
run, and the run's own process spends about as long on its imports before it needs the
mesh; the second core is idle then (the figure process starts with the simulation). Built
there, the mesh leaves the path the user waits on. Every built mesh is read by the run from
the .msh file it was written to (simulation._mesh), so a run is the same to the last digit
whether its mesh was built ahead or in process, in a sweep (whose cases share mesh files) or
alone, or reused with ``mesh.file``.

Only where it is safe and can gain (:func:`start` returns False otherwise): Linux (fork and
PR_SET_PDEATHSIG), a single process by the MPI launcher with MPI not yet started (a fork
after MPI_Init is not safe under every MPI), a mesh gmsh builds (not a user's mesh nor
``mesh.file``), no sweep mesh cache (a sweep keeps its cores busy), and an idle core
(processes.idle_core), and a folder in the system's temporary folder (a full /tmp must not
fail a run that writes elsewhere). ``ANODESIM_MESH_AHEAD=0`` turns it off, ``1`` on whatever
the load.

The forked process builds the mesh and leaves with os._exit (no atexit handlers, no flush
of the parent's buffers). A build that fails exits non-zero and the run builds the mesh in
process, where the failure is reported as it always was. The mesh is taken by the run whose
mesh inputs have the same key; a run with other inputs, or the end of the process (atexit),
ends the child and removes its folder; a parent killed outright takes the child with it
(PR_SET_PDEATHSIG), and only its temporary folder is left.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

#: "0": never build ahead; "1": whenever it is possible, whatever the load.
ENV = "ANODESIM_MESH_AHEAD"

#: A folder of meshes shared by the cases of a sweep (set by the sweep's workers; read by
#: simulation._mesh): cases whose mesh inputs are equal read the mesh built by the first.
MESH_CACHE_ENV = "ANODESIM_MESH_CACHE"


class _Ahead:
    """The forked builder of one mesh: its process, its folder and the key of its inputs."""

    def __init__(self, key: str, pid: int, folder: Path):
        self.key, self.pid, self.folder = key, pid, folder
        self.status: int | None = None  # its exit status once reaped

    def _reap(self, block: bool) -> None:
        """Collect the builder's exit status if it has ended (block: wait for it)."""
        if self.status is not None or self.pid is None:
            return
        try:
            pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere (a caller's SIGCHLD handler)
            self.status = -1
            return
        if pid:
            self.status = os.waitstatus_to_exitcode(status)

    def running(self) -> bool:
        """Whether the builder still runs (reaped here if it has ended)."""
        self._reap(block=False)
        return self.status is None and self.pid is not None

    def wait(self) -> Path | None:
        """Wait for the builder; its .msh file, or None if it did not write one whole."""
        self._reap(block=True)
        path = self.folder / "mesh.msh"
        return path if self.status == 0 and path.is_file() else None

    def close(self) -> None:
        """End the builder if it still runs; remove its folder."""
        if self.status is None and self.pid is not None:
            with contextlib.suppress(OSError):
                os.kill(self.pid, 9)
                os.waitpid(self.pid, 0)
            self.status = -9
        shutil.rmtree(self.folder, ignore_errors=True)


_pending: _Ahead | None = None


def start(case, key: str, build) -> bool:
    """Build a case's mesh in a forked process, if that is possible and can gain (module
    docstring): build(path) writes it (geometry.build_mesh of the prepared case); key names
    its mesh inputs (resolve.mesh_key: taken() gives the mesh to the run with the same
    key). Whether a builder was started."""
    global _pending
    discard()
    if not _wanted(case):
        return False
    from ..errors import signals_held
    from ..processes import fork

    # Ctrl-C and SIGTERM once the builder is known to discard(): a handler's exception
    # raised in the interpreter's at-fork callbacks (logging's lock) is printed as a
    # traceback and lost, and one raised before _pending is set leaves the folder behind
    with signals_held():
        try:
            folder = Path(tempfile.mkdtemp(prefix="anodesim-mesh-"))
        except OSError:  # a full or unusable temporary folder: the run meshes as it would
            return False  # have without a builder (its own folder may lie elsewhere)
        parent = os.getpid()
        pid = fork()
        if pid == 0:
            _build(build, folder / "mesh.msh", parent)  # never returns
        if pid < 0:
            shutil.rmtree(folder, ignore_errors=True)
            return False
        _pending = _Ahead(key, pid, folder)
    return True


@contextlib.contextmanager
def taken(key: str):
    """The .msh file built ahead for these mesh inputs (waiting for it), or None (none was
    started, another mesh was, or its build failed); the file is removed on leaving."""
    global _pending
    ahead, _pending = _pending, None
    try:
        yield ahead.wait() if ahead is not None and ahead.key == key else None
    finally:
        if ahead is not None:
            ahead.close()


def building() -> int:
    """How many builders run now (0 or 1): a run then starts its figure process once it has
    taken the mesh (Simulation.run), not beside the builder."""
    return int(_pending is not None and _pending.running())


def discard() -> None:
    """End a builder no run took, and remove its folder."""
    global _pending
    ahead, _pending = _pending, None
    if ahead is not None:
        ahead.close()


atexit.register(discard)


def _wanted(case) -> bool:
    choice = os.environ.get(ENV, "")
    if choice == "0" or sys.platform != "linux" or not hasattr(os, "fork"):
        return False
    if case.geometry.kind == "user_mesh" or case.mesh.file or os.environ.get(MESH_CACHE_ENV):
        return False
    from ..errors import launcher_size

    if launcher_size() > 1 or "mpi4py.MPI" in sys.modules:
        return False
    if choice == "1":
        return True
    from ..processes import idle_core

    return idle_core()


def _build(build, path: Path, parent: int) -> None:
    """The forked builder: the mesh to path, then out (status 0 if it was written)."""
    code = 1
    try:
        import signal

        # Ctrl-C reaches the whole process group: the run decides, and ends this process
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        from ..processes import die_with_parent

        die_with_parent()
        if os.getppid() == parent:  # (else the run ended before the signal was armed)
            build(path)
            code = 0
    except BaseException:  # noqa: BLE001 - the run builds it again and reports the failure
        pass
    finally:
        os._exit(code)
