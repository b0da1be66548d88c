"""A serial run's mesh built ahead in a forked process (geometry.ahead): the run is the same
bit for bit with and without it, a builder nobody takes is ended, and a failed build leaves
the run to build the mesh itself.

The builder only starts before MPI does (a fork after MPI_Init is not safe under every
MPI), so these tests run the command line in a fresh interpreter; the test process itself
has MPI started.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cases import reflection
from test_case import write_toml

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the builder needs Linux's fork")

#: Runs the command line in this interpreter with ahead.taken watched: prints "ahead FILE"
#: for the mesh file a run took from a builder (or "ahead None"), then the exit status.
_WATCHED_RUN = """
import contextlib, os, sys
from anodesim import cli
from anodesim.geometry import ahead
taken = ahead.taken

@contextlib.contextmanager
def watched(key):
    with taken(key) as path:
        print("ahead", path is not None, flush=True)
        yield path

ahead.taken = watched
{patch}
print("exit", cli.main(sys.argv[1:]), flush=True)
"""


def _run(case: Path, out: Path, ahead: str, patch: str = "") -> list[str]:
    """`anodesim run case -o out -q` with ANODESIM_MESH_AHEAD=ahead in a fresh interpreter
    whose temporary folder is tmp/ beside the case (empty afterwards); its stdout lines."""
    tmp = case.parent / "tmp"
    tmp.mkdir(exist_ok=True)
    env = {**os.environ, "ANODESIM_MESH_AHEAD": ahead, "ANODESIM_PLOT_CHILD": "0",
           "TMPDIR": str(tmp)}
    r = subprocess.run([sys.executable, "-c", _WATCHED_RUN.format(patch=patch), "run",
                        str(case), "-o", str(out), "-q"], env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert not list(tmp.iterdir()), "a builder's folder was left"
    return r.stdout.split("\n")


#: The case of the runs compared with and without a builder, on a lean mesh (both sides of
#: each comparison mesh the same case, so its fineness is not under test).
CASE = reflection(mesh={"growth": 0.3, "spot_fraction": 0.2})


@pytest.fixture(scope="module")
def built_here(tmp_path_factory) -> tuple[Path, list[str]]:
    """The run of CASE without a builder (ANODESIM_MESH_AHEAD=0): its output folder and
    stdout lines, the reference of every comparison below (made once)."""
    folder = tmp_path_factory.mktemp("here")
    return folder / "here", _run(write_toml(folder / "case.toml", CASE), folder / "here", "0")


def test_a_mesh_built_ahead_gives_the_run_bit_for_bit(tmp_path, built_here):
    """With the builder (ANODESIM_MESH_AHEAD=1, whatever the load) the run takes the mesh it
    built; without it (=0) the run builds it: the mesh file and the time series are equal
    byte for byte, and so is every number of the summary but the wall times and paths."""
    case = write_toml(tmp_path / "case.toml", CASE)
    with_ahead = _run(case, tmp_path / "ahead", "1")
    here, without = built_here
    assert "ahead True" in with_ahead and "exit 0" in with_ahead, with_ahead
    assert "ahead False" in without and "exit 0" in without, without
    for name in ("mesh.msh", "timeseries.csv"):
        assert (tmp_path / "ahead" / name).read_bytes() == (here / name).read_bytes()
    import json

    a, b = (json.loads((d / "summary.json").read_text()) for d in (tmp_path / "ahead", here))
    assert a["results"] == b["results"] and a["mechanics"] == b["mechanics"]


def test_a_failed_build_ahead_leaves_the_run_to_build_the_mesh(tmp_path, built_here):
    """A builder that fails (here: gmsh raises in the forked process only) exits non-zero;
    the run builds the mesh itself, as it would have without a builder, and its results
    are those of a run without one."""
    case = write_toml(tmp_path / "case.toml", CASE)
    patch = textwrap.dedent("""
        import anodesim.geometry as g
        build, parent = g.build_mesh, os.getpid()
        def failing(*a, **k):
            if os.getpid() != parent:
                raise RuntimeError("gmsh failed in the builder")
            return build(*a, **k)
        g.build_mesh = failing  # (the command line passes geometry.build_mesh)
        """)
    lines = _run(case, tmp_path / "failed", "1", patch)
    assert "ahead False" in lines and "exit 0" in lines, lines
    here, _ = built_here
    assert (tmp_path / "failed" / "timeseries.csv").read_bytes() == \
        (here / "timeseries.csv").read_bytes()


_OTHER_KEY = """
import os, sys
import anodesim
import functools
from anodesim import geometry, resolve
from anodesim.geometry import ahead
case = anodesim.load(sys.argv[1])
build = functools.partial(geometry.build_mesh, case, resolve.prepare(case))
assert ahead.start(case, "one mesh", build)
folder, pid = ahead._pending.folder, ahead._pending.pid
with ahead.taken("another mesh") as path:
    assert path is None
assert not folder.exists()
try:
    os.kill(pid, 0)
    print("alive")
except ProcessLookupError:
    print("ended")
assert ahead.start(case, "left at exit", build)
print(ahead._pending.folder, flush=True)
"""


def test_a_builder_no_run_takes_is_ended_and_its_folder_removed(tmp_path):
    """A builder of other mesh inputs than the run's is killed and its folder removed when
    the run asks for its mesh; one that no run asked for is at the process's exit."""
    case = write_toml(tmp_path / "case.toml", reflection())
    r = subprocess.run([sys.executable, "-c", _OTHER_KEY, str(case)], capture_output=True,
                       text=True, timeout=300,
                       env={**os.environ, "ANODESIM_MESH_AHEAD": "1"})
    assert r.returncode == 0, r.stderr
    state, left = r.stdout.split()
    assert state == "ended"
    assert not Path(left).exists()


def test_a_sigterm_as_the_builder_starts_leaves_no_folder_and_no_traceback(tmp_path):
    """SIGTERM arriving just as the builder is forked (here sent by the run to itself right
    after the fork) ends the run as any SIGTERM does (one line, status 143): the builder
    is killed and its temporary folder removed, though the command line ends the process
    with os._exit (no atexit), and no traceback reaches the user."""
    case = write_toml(tmp_path / "case.toml", reflection())
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    code = textwrap.dedent("""
        import os, signal, sys
        from anodesim import cli, processes
        fork = processes.fork
        def fork_then_sigterm():
            pid = fork()
            if pid > 0:
                os.kill(os.getpid(), signal.SIGTERM)
            return pid
        processes.fork = fork_then_sigterm
        sys.exit(cli.main(sys.argv[1:]))
        """)
    r = subprocess.run([sys.executable, "-c", code, "run", str(case), "-o",
                        str(tmp_path / "out"), "-q"], capture_output=True, text=True,
                       timeout=300, env={**os.environ, "ANODESIM_MESH_AHEAD": "1",
                                         "TMPDIR": str(tmp)})
    assert r.returncode == 143, r.stderr
    assert r.stderr.strip().splitlines() == [
        "anodesim: terminated by SIGTERM (a batch system's time limit, kill or timeout)"], \
        r.stderr
    assert not list(tmp.iterdir())


def test_a_full_temporary_folder_leaves_the_run_to_build_the_mesh(tmp_path, built_here):
    """The builder's folder cannot be made (the system's temporary folder is full: here
    mkdtemp raises ENOSPC, as it does on a full /tmp): no builder starts and the run meshes
    itself, its results those of a run without a builder. It failed before ('run failed:
    ... no space left on the device', exit 1) though the run's own folder had room."""
    case = write_toml(tmp_path / "case.toml", CASE)
    patch = textwrap.dedent("""
        import errno, tempfile
        mkdtemp = tempfile.mkdtemp
        def full(*a, prefix=None, **k):
            if prefix == "anodesim-mesh-":
                raise OSError(errno.ENOSPC, "No space left on device", "/tmp/anodesim-mesh-")
            return mkdtemp(*a, prefix=prefix, **k)
        tempfile.mkdtemp = full
        """)
    lines = _run(case, tmp_path / "full", "1", patch)
    assert "ahead False" in lines and "exit 0" in lines, lines
    here, _ = built_here
    for name in ("mesh.msh", "timeseries.csv"):
        assert (tmp_path / "full" / name).read_bytes() == (here / name).read_bytes()
