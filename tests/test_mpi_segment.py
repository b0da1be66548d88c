"""MPICH's shared-memory segment loses its name as soon as MPI has started
(anodesim._mpi.forget_shared_memory_name), so that a process ended without MPI_Finalize
leaves nothing in /dev/shm: a sweep's worker (os._exit after its case), a command ended by
a signal, a process or an MPI job killed. Each such end used to leave
``/dev/shm/mpich_shm_<pid>_0`` (1 MiB of memory) for good: 5 762 of them had collected on
the development machine, and where /dev/shm is small (Docker's default 64 MiB) MPI_Init
itself then died of SIGBUS, so that every later anodesim process failed.

Each test first checks, with a process that starts MPI without anodesim, that this MPI
leaves such a segment at all (MPICH's naming); where it does not (another MPI, no
/dev/shm) there is nothing to test and the tests skip, saying why."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from test_case import write_toml
from test_study import read_table, small_block

SHM = Path("/dev/shm")


def _left_by(code: str) -> list[str]:
    """The MPICH segments that a fresh Python process running code (which ends it) left in
    /dev/shm under its process id; removed here after they are listed."""
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    err = p.communicate(timeout=300)[1]
    left = sorted(SHM.glob(f"mpich_shm_{p.pid:x}_*"))
    for path in left:
        path.unlink(missing_ok=True)
    assert p.returncode in (0, -signal.SIGKILL, -signal.SIGTERM), err
    return [path.name for path in left]


@pytest.fixture(scope="module")
def mpich_leaves_segments():
    """The control: MPI started without anodesim, the process ended by os._exit."""
    if not _left_by("from mpi4py import MPI; import os; os._exit(0)"):
        pytest.skip("MPI here leaves no /dev/shm/mpich_shm_<pid>_* segment (not MPICH, or "
                    "no /dev/shm): nothing to release")


@pytest.mark.parametrize("end", ["os._exit(0)", "os.kill(os.getpid(), signal.SIGKILL)",
                                 "os.kill(os.getpid(), signal.SIGTERM)"])
def test_a_process_ended_without_mpi_finalize_leaves_no_segment(mpich_leaves_segments, end):
    assert _left_by(f"import os, signal; import anodesim._mpi; {end}") == []


def test_a_process_that_ends_normally_still_ends_cleanly(mpich_leaves_segments):
    """PETSc's and MPI's finalisation at exit after the name is gone: no error, exit 0,
    nothing left (MPICH ignores the unlink that finds nothing)."""
    assert _left_by("import anodesim._mpi, dolfinx\n"
                    "from mpi4py import MPI\n"
                    "from petsc4py import PETSc\n"
                    "assert MPI.COMM_WORLD.allreduce(1) == 1\n"
                    "assert PETSc.Vec().createSeq(3).sum() == 0") == []


def test_a_sweep_worker_leaves_no_segment(mpich_leaves_segments):
    """A sweep's forked worker starts MPI itself (study.preload.init_worker) and ends with
    os._exit after its case: every case of a sweep left a segment."""
    assert _left_by("import mpi4py, os\n"
                    "mpi4py.rc.initialize = False\n"
                    "from anodesim.study.preload import init_worker\n"
                    "init_worker()\n"
                    "from mpi4py import MPI\n"
                    "assert MPI.Is_initialized() and MPI.COMM_WORLD.size == 1\n"
                    "os._exit(0)") == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_a_child_forked_after_mpi_started_keeps_its_memory(mpich_leaves_segments):
    """The segment's memory stays mapped once its name is gone: a child forked after MPI
    started (the figure process) and the parent still use MPI, and nothing is left."""
    assert _left_by("import os\n"
                    "import anodesim._mpi\n"
                    "from mpi4py import MPI\n"
                    "pid = os.fork()\n"
                    "if pid == 0:\n"
                    "    os._exit(0 if MPI.COMM_WORLD.allreduce(2) == 2 else 1)\n"
                    "assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0\n"
                    "assert MPI.COMM_WORLD.allreduce(3) == 3") == []


def _in_small_shm(size: str, cmd: list, cwd: Path) -> subprocess.CompletedProcess:
    """cmd run with a private /dev/shm of this size (a tmpfs in a new user and mount
    namespace: what a container's --shm-size gives)."""
    return subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                           f'mount -t tmpfs -o size={size} tmpfs /dev/shm && exec "$@"', "sh",
                           *map(str, cmd)], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def small_shm(tmp_path_factory):
    """Skips (saying why) where no private /dev/shm can be mounted."""
    probe = _in_small_shm("1m", ["true"], tmp_path_factory.mktemp("probe")) \
        if shutil.which("unshare") else None
    if probe is None or probe.returncode != 0:
        pytest.skip("cannot mount a private /dev/shm here (unshare --user --mount: "
                    f"{'absent' if probe is None else probe.stderr.strip()})")


def test_a_sweep_in_a_small_shared_memory_runs_every_case(tmp_path, mpich_leaves_segments,
                                                          small_shm):
    """Six cases in a 3 MiB /dev/shm (room for two segments): every worker left its segment,
    so from the third case on MPI_Init died of SIGBUS ("worker process ended with signal 7",
    4 of 6 failed). Docker's default 64 MiB gave out after about 60 cases."""
    write_toml(tmp_path / "base.toml", small_block())
    study = tmp_path / "s.toml"
    study.write_text('case = "base.toml"\n[axes]\n"beam.power_W" = [1.0, 2.0, 3.0, 4.0, '
                     '5.0, 6.0]\n')
    p = _in_small_shm("3m", [sys.executable, "-m", "anodesim", "sweep", study, "-o",
                             tmp_path / "out", "-j", "1", "-q"], tmp_path)
    assert p.returncode == 0, p.stderr
    rows = read_table(tmp_path / "out" / "results.csv")
    assert [r["status"] for r in rows] == ["ok"] * 6, [r["error"] for r in rows]


def test_a_run_without_shared_memory_for_mpi_is_one_line(tmp_path, mpich_leaves_segments,
                                                         small_shm):
    """A /dev/shm too small for MPI's segment (filled by other processes): one line that
    names it and what to do, exit status 1, instead of SIGBUS inside MPI_Init (exit 135, no
    word); a sweep's case records the same line as its failure."""
    write_toml(tmp_path / "base.toml", small_block())
    p = _in_small_shm("1m", [sys.executable, "-m", "anodesim", "run", "base.toml", "-o",
                             tmp_path / "run"], tmp_path)
    assert p.returncode == 1, p.stderr
    assert p.stderr.strip().splitlines() == [
        "anodesim: run failed: /dev/shm has 1.0 MiB free, and MPI needs about 1 MiB of "
        "shared memory there for each process; remove what processes no longer running "
        "left in it (e.g. /dev/shm/mpich_shm_*), or give a container more (docker run "
        "--shm-size=256m)"]
    assert not (tmp_path / "run").exists()
    study = tmp_path / "s.toml"
    study.write_text('case = "base.toml"\n[axes]\n"beam.power_W" = [1.0]\n')
    _in_small_shm("1m", [sys.executable, "-m", "anodesim", "sweep", study, "-o",
                         tmp_path / "out", "-q"], tmp_path)
    (row,) = read_table(tmp_path / "out" / "results.csv")
    assert row["status"] == "failed" and row["error"].endswith(
        "anodesim: run failed: /dev/shm has 1.0 MiB free, and MPI needs about 1 MiB of "
        "shared memory there for each process; remove what processes no longer running "
        "left in it (e.g. /dev/shm/mpich_shm_*), or give a container more (docker run "
        "--shm-size=256m)"), row["error"]


# What a process alone uses of /dev/shm once MPI has started, in bytes, and whether UCX_TLS
# is left in its environment: started by anodesim._mpi's import, or as a sweep's worker does
# (study.preload.init_worker), then a PETSc vector summed (MPI and PETSc in use).
_USED = ("import os\n"
         "from petsc4py import PETSc\n"
         "assert PETSc.Vec().createSeq(3).sum() == 0\n"
         "st = os.statvfs('/dev/shm')\n"
         "print((st.f_blocks - st.f_bfree) * st.f_frsize, os.environ.get('UCX_TLS'))\n")
_STARTS = {"anodesim._mpi": "import anodesim._mpi\n",
           "sweep worker": ("import mpi4py\n"
                            "mpi4py.rc.initialize = False\n"
                            "from anodesim.study.preload import init_worker\n"
                            "init_worker()\n")}


@pytest.mark.parametrize("start", list(_STARTS))
def test_a_process_alone_uses_only_mpich_segment_of_shared_memory(tmp_path, small_shm,
                                                                  start):
    """MPICH's UCX (the wheel's ch4:ucx) also put a 4 MiB POSIX shared-memory segment in
    /dev/shm where it had room, unlinked at once and freed at the process's end: a process
    alone used 5.1 MiB there (measured), so Docker's default 64 MiB held 22 processes at
    once and a sweep with -j 24 in a container failed 8 of its 30 cases. A process alone
    talks to no other rank: UCX's POSIX transport is left out of its MPI_Init (the 1 MiB
    left is MPICH's segment), and the environment is as it was afterwards (a job started
    from it is not affected)."""
    p = _in_small_shm("64m", [sys.executable, "-c", _STARTS[start] + _USED], tmp_path)
    assert p.returncode == 0, p.stderr
    used, ucx_tls = p.stdout.split()
    # MPICH's segment, 1 061 440 bytes in 4 KiB pages (1 064 960); before, 5 398 528
    assert int(used) <= 1_064_960, f"{int(used) / 2**20:.2f} MiB used in /dev/shm"
    assert ucx_tls == "None"


@pytest.mark.parametrize("start", list(_STARTS))
def test_mpi_starts_in_a_16_mib_shared_memory(tmp_path, small_shm, start):
    """With a /dev/shm of exactly 16 MiB (e.g. docker run --shm-size=16m) MPI_Init died of
    SIGSEGV inside UCX's POSIX transport, with no word, in every process (also with a plain
    ``from mpi4py import MPI``); 15 and 17 MiB were fine (measured, MPICH 5.0.2)."""
    p = _in_small_shm("16m", [sys.executable, "-c", _STARTS[start] + _USED], tmp_path)
    assert p.returncode == 0, f"exit status {p.returncode}: {p.stderr}"


MPIRUN = shutil.which("mpirun", path=str(Path(sys.executable).parent)) or shutil.which("mpirun")


@pytest.mark.mpi
@pytest.mark.skipif(MPIRUN is None, reason="no mpirun found next to the interpreter or on PATH")
def test_an_mpi_job_killed_leaves_no_segment(mpich_leaves_segments):
    """Under mpirun the ranks of a node share one segment (2 MiB for two), removed by
    MPI_Finalize only: an aborted or killed job left it. Its name now goes once every rank
    of the node has started MPI; both ranks print the segment they map, then rank 0 is
    killed (SIGKILL)."""
    import re

    code = ("import os, signal\n"
            "import anodesim._mpi\n"
            "from mpi4py import MPI\n"
            "print([l.split(None, 5)[5] for l in open('/proc/self/maps') if 'mpich_shm' in l],"
            " flush=True)\n"
            "MPI.COMM_WORLD.Barrier()\n"
            "if MPI.COMM_WORLD.rank == 0:\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n"
            "MPI.COMM_WORLD.Barrier()\n")
    p = subprocess.run([MPIRUN, "-n", "2", sys.executable, "-c", code], capture_output=True,
                       text=True, timeout=300)
    names = set(re.findall(r"/dev/shm/mpich_shm_\w+", p.stdout))
    left = [name for name in names if Path(name).exists()]
    for name in left:
        Path(name).unlink(missing_ok=True)
    assert len(names) == 1 and p.stdout.count("mpich_shm") == 2, p.stdout + p.stderr
    assert left == []
