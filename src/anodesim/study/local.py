"""The local executor: one worker process per case, at most `jobs` at once; a killed sweep
resumes where it stopped.

Each case runs in a fresh process of its own. By default it is forked from a fork server
(multiprocessing's "forkserver") that has imported the Python stack of a run once (UFL,
Basix, FFCx, gmsh, matplotlib, the anodesim modules) but has initialised neither MPI nor
PETSc (study/preload.py): each worker initialises MPI itself after the fork and imports
dolfinx and PETSc (about 0.15 s), instead of starting a new interpreter (about 1.5 s of
imports). ``ANODESIM_SWEEP_FORK=0`` starts each case as a new interpreter instead
(``python -m anodesim sweep DIR --task-id N``, what a SLURM array task runs).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ..processes import die_with_parent
from .folder import (_clean_stale, check_jobs, record_failure, release_folder, result_of,
                     set_aside, sole_runner)
from .queue import recorded_job, task_states
from .spec import Point, Study
from .table import Table, collect, plot, warm_up


#: Set to 0 to start each case of a local sweep as a new interpreter instead of forking it.
FORK_ENV = "ANODESIM_SWEEP_FORK"


def _sweep_command(out: Path) -> list[str]:
    """`anodesim sweep` on the study folder `out`, with this Python."""
    return [sys.executable, "-m", "anodesim", "sweep", str(out.resolve())]


def worker_command(out: Path, index: int, study_id: str | None = None,
                   retry: bool = False) -> list[str]:
    """The command that runs case `index` of the study in folder `out` (any executor);
    with study_id, only if the folder still holds that definition (else exit 2); with
    retry, also if the case failed, its new result replacing the failure."""
    return _sweep_command(out) + ["--task-id", str(index), "-q"] + (
        ["--study-id", study_id] if study_id else []) + (["--retry-failed"] if retry else [])


#: One thread per case: the processes are the parallelism.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def _worker_env() -> dict:
    return {**os.environ, **ONE_THREAD}


def _case_env(out: Path) -> dict:
    """What a worker adds to its environment: the sweep's mesh cache (meshes/ in the study
    folder), so that cases with equal mesh inputs mesh once (simulation.MESH_CACHE_ENV)."""
    from ..simulation import MESH_CACHE_ENV

    return {MESH_CACHE_ENV: str(out.resolve() / "meshes")}


def _fork_context():
    """The fork server's context (None: start each worker with a new interpreter, as
    ``ANODESIM_SWEEP_FORK=0`` asks).

    The server is started with one thread per case in its environment and preloads
    :mod:`anodesim.study.preload`."""
    if os.environ.get(FORK_ENV, "1") == "0" or \
            "forkserver" not in multiprocessing.get_all_start_methods():
        return None
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["anodesim.study.preload"])
    return ctx


def _start_fork_server() -> None:
    """Start the fork server (if it is not running) with one thread per case in its
    environment; this process's own environment is left as it was (a sweep run from a
    script must not change what the script's later subprocesses see)."""
    from multiprocessing import forkserver

    saved = {k: os.environ.get(k) for k in ONE_THREAD}
    os.environ.update(ONE_THREAD)
    try:
        forkserver.ensure_running()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class _SentFd:
    """A file descriptor sent to a forked worker: the fork server's children do not share
    the runner's descriptor table, so the descriptor travels with the pickled arguments
    (multiprocessing.reduction.DupFd) and is the worker's own copy on arrival."""

    def __init__(self, fd: int):
        self.fd = fd

    def __reduce__(self):
        from multiprocessing import reduction

        return _received_fd, (reduction.DupFd(self.fd),)


def _received_fd(dup) -> _SentFd:
    return _SentFd(dup.detach())


def _forked_case(out: str, index: int, log: _SentFd, env: dict, study_id: str,
                 retry: bool) -> None:
    """In a forked worker: run case `index` of the study in folder `out`, as
    ``anodesim sweep OUT --task-id INDEX -q`` does (worker_command), in the runner's
    environment `env` (the server keeps the one it was started with); stderr goes to the
    runner's log file."""
    log_fd = log.fd
    die_with_parent()  # no orphan writes into the study folder
    _let_go_of_the_server()
    os.environ.clear()
    os.environ.update(env)
    from ..errors import RunFailure
    from .preload import init_worker

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(log_fd, 2)
    try:
        init_worker()  # MPI is initialised here, in the worker, never in the server
    except RunFailure as e:  # no shared memory left for MPI: the case's failure says why
        sys.stderr.write(f"anodesim: run failed: {e}\n")
        sys.stderr.flush()
        os._exit(1)
    from ..cli import main

    code = main(worker_command(Path(out), index, study_id, retry)[3:])  # after "python -m anodesim"
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # no atexit handlers of the server's modules in the child


def _let_go_of_the_server() -> None:
    """In a forked worker: close its copy of the fork server's "alive" pipe. The server
    ends when every copy of that pipe's write end is closed, and each worker inherits one:
    after a SIGKILL of the runner, the running workers' copies kept the server (and with it
    the workers, which die with the server) alive until their cases ended."""
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)  # private: absent in another Python
    fd = getattr(server, "_forkserver_alive_fd", None)
    if fd is not None:
        forkserver._forkserver._forkserver_alive_fd = None
        with contextlib.suppress(OSError):
            os.close(fd)


@contextlib.contextmanager
def _without_main_module():
    """While a worker is started: multiprocessing would have the worker import the runner's
    main module again (a user's script, which may itself start a sweep without an
    ``if __name__ == "__main__"`` guard); a worker needs only its target function, so the
    main module is left out of what is sent to it."""
    from multiprocessing import spawn

    full = spawn.get_preparation_data

    def without_main(name):
        data = full(name)
        data.pop("init_main_from_name", None)
        data.pop("init_main_from_path", None)
        return data

    spawn.get_preparation_data = without_main
    try:
        yield
    finally:
        spawn.get_preparation_data = full


class _Forked:
    """A forked worker seen through the Popen interface the runner polls."""

    def __init__(self, ctx, out: Path, index: int, log, study_id: str, retry: bool):
        env = {**_worker_env(), **_case_env(out)}
        self.proc = ctx.Process(target=_forked_case, args=(str(out.resolve()), index,
                                                           _SentFd(log.fileno()), env,
                                                           study_id, retry),
                                daemon=False)
        with _without_main_module():
            self.proc.start()

    def poll(self):
        return self.proc.exitcode

    def ended(self):
        """What becomes readable when the worker has ended (multiprocessing.connection.wait)."""
        return self.proc.sentinel

    def release(self) -> None:
        """Nothing to close: multiprocessing closes the sentinel with the process."""

    @property
    def returncode(self):
        return self.proc.exitcode

    def send_signal(self, sig) -> None:
        if self.proc.pid is not None and self.proc.exitcode is None:
            os.kill(self.proc.pid, sig)

    def wait(self, timeout: float | None = None):
        """The exit code once the worker has ended, or None after timeout seconds."""
        self.proc.join(timeout)
        return self.proc.exitcode


class _Interpreter(subprocess.Popen):
    """A worker started as a new interpreter, with a descriptor that becomes readable when
    it ends (a pidfd, Linux 5.3 and later), or None where there is none."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        try:
            self._pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):  # not Linux, an old kernel, a seccomp filter
            self._pidfd = None

    def ended(self):
        return self._pidfd

    def release(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None


def _start(ctx, out: Path, p: Point, log, study_id: str, retry: bool):
    """A worker for case p of the study study_id (with retry, a failed case run again):
    forked from the server, or a new interpreter."""
    if ctx is not None:
        return _Forked(ctx, out, p.index, log, study_id, retry)
    return _Interpreter(worker_command(out, p.index, study_id, retry),
                        env={**_worker_env(), **_case_env(out)},
                        stdout=subprocess.DEVNULL, stderr=log, preexec_fn=die_with_parent)


#: Longest wait (s) between looks at workers that cannot be waited on (no pidfd).
POLL_S = 0.05


def _wait_for_one(running) -> None:
    """Return when a running worker has ended (at once if one has): a wait on their
    sentinels or pidfds, so that the next case starts the moment a worker is free; a
    look every POLL_S where a worker has neither."""
    from multiprocessing.connection import wait

    handles = [w.ended() for w in running]
    if any(h is None for h in handles):
        wait([h for h in handles if h is not None], timeout=POLL_S)
    else:
        wait(handles)


def plural(n: int, word: str, suffix: str = "s") -> str:
    """``1 case``, ``2 cases``."""
    return f"{n} {word}{'' if n == 1 else suffix}"


def run_local(study: Study, out: Path, jobs: int = 1, say=print,
              retry_failed: bool = False) -> Table:
    """Run the unfinished cases, each in its own process, `jobs` at a time; the folder
    (open_folder's lock) is let go of when the final table and plot are written.

    SIGTERM at its default action ends the process once the workers are stopped and the
    folder let go of (errors.sigterm_cleans_up); a caller's handler (the command line's,
    for every mode of the sweep) stays in charge."""
    from ..errors import sigterm_cleans_up

    jobs = check_jobs(jobs, f"jobs = {jobs}")
    with sigterm_cleans_up():
        try:
            with sole_runner(out):  # a second sweep of the folder is refused
                table = _run_cases(study, out, jobs, say, retry_failed)
        finally:
            release_folder(out)
    return table


def _run_cases(study: Study, out: Path, jobs: int, say, retry_failed: bool) -> Table:
    unique = list({p.id: p for p in study.points}.values())  # equal cases run once
    pending = []
    failed = {}  # case id -> the failure a retry replaces once it has a new result
    for p in unique:
        aside = set_aside(out / "cases" / p.id)
        if aside is not None:
            say(f"case {p.index} {p.id}: result.json unreadable; the folder is kept as "
                f"{aside.name} and the case runs again")
        row = result_of(out, p)
        if row is None or (retry_failed and row["status"] == "failed"):
            if row is not None:  # kept until replaced: an interrupted retry leaves it failed
                failed[p.id] = row
            pending.append(p)
    pending, left_to_slurm = _not_in_slurm(out, pending)
    done_before = len(unique) - len(pending) - len(left_to_slurm)
    say(f"{study.title}: {plural(len(unique), 'case')}, {done_before} already finished, "
        f"{len(pending)} to run with {plural(jobs, 'process', 'es')} -> {out}")
    if left_to_slurm:
        say(f"{plural(len(left_to_slurm), 'case')} left to the folder's SLURM job "
            f"{recorded_job(out)}, queued or running there "
            f"({'case' if len(left_to_slurm) == 1 else 'cases'} "
            f"{', '.join(str(p.index) for p in left_to_slurm)}); `anodesim sweep {out} "
            "--collect` gathers the job's results when it has finished")
    _clean_stale(out)
    running: dict = {}  # worker (_Interpreter or _Forked) -> (case, log file)
    finished, failures = 0, 0
    t0 = time.perf_counter()
    queue = list(pending)
    ctx = _fork_context() if pending else None
    if ctx is not None:
        _start_fork_server()
    tail = None  # the end's imports, once a core is left idle (_warm_tail)
    try:
        while queue or running:
            while queue and len(running) < jobs:
                p = queue.pop(0)
                log = tempfile.TemporaryFile()  # a file, not a pipe: a chatty worker never blocks
                running[_start(ctx, out, p, log, study.id, p.id in failed)] = (p, log)
            if tail is None and not queue and len(running) < jobs:
                tail = _warm_tail()
            _wait_for_one(running)
            for proc in [q for q in running if q.poll() is not None]:
                p, log = running.pop(proc)
                proc.release()
                log.seek(0)
                err = log.read().decode(errors="replace").strip()
                log.close()
                row = result_of(out, p)
                code = proc.returncode
                last = err.splitlines()[-1] if err else ""
                if row is not None and row == failed.get(p.id) and code == 2:
                    # refused before it ran (the folder holds another definition now):
                    # the case's own failure stands
                    say(f"case {p.index} {p.id}: not run again ({last}); its failure stands")
                elif row is None or row == failed.get(p.id):  # the worker died without a
                    what = f"signal {-code}" if code < 0 else f"exit status {code}"  # result
                    row = record_failure(out, p, f"worker process ended with {what}"
                                         f"{': ' + last if last else ''}", err,
                                         replace=p.id in failed)
                finished += 1
                failures += row["status"] == "failed"
                left = len(queue) + len(running)
                eta = (time.perf_counter() - t0) / finished * left
                reason = f" ({row['error'][:120]})" if row["status"] == "failed" else ""
                say(f"[{done_before + finished}/{len(unique)}] case {p.index} {p.id} "
                    f"{row['status']} in {row.get('wall_s') or 0:.1f} s{reason}; "
                    f"{failures} failed, about {_duration(eta)} left")
                collect(study, out, parquet=False)  # results.parquet once, at the end
    except KeyboardInterrupt:
        _stop(running)
        _join(tail)
        collect(study, out)
        raise
    finally:
        _join(tail)  # matplotlib is not thread-safe: the warm-up ends before plot
    table = collect(study, out)
    plot(study, table)
    return table


def _not_in_slurm(out: Path, pending: list[Point]) -> tuple[list[Point], list[Point]]:
    """The pending cases split into those to run here and those the folder's SLURM array
    job (`sweep --submit slurm`) still has queued or running: running them here too
    doubled the work (the first result to finish stands, study.folder._publish)."""
    states = task_states(out)
    if not states:
        return pending, []
    return ([p for p in pending if p.index not in states],
            [p for p in pending if p.index in states])


#: How long a worker has to end after the sweep's Ctrl-C (or SIGTERM) before it is sent
#: SIGINT again, then SIGKILL (s): an interrupt can be lost in a worker (one that lands in a
#: destructor or weakref callback is printed and dropped by Python), and the sweep then
#: waited for the whole case, minutes or hours, and recorded it as finished.
STOP_GRACE_S = 10.0


def _stop(running) -> None:
    """Interrupt the running workers (SIGINT: each ends its case as a run ends on Ctrl-C)
    and wait for them, asking again and then killing those still running after
    STOP_GRACE_S each time. A sweep started with SIGINT ignored (``cmd &`` in a script,
    nohup) has workers that ignore it too: they are asked with SIGTERM (which they end on
    as on Ctrl-C), not left to be killed after twice the grace."""
    ask = signal.SIGTERM if signal.getsignal(signal.SIGINT) is signal.SIG_IGN else signal.SIGINT
    for sig in (ask, ask, signal.SIGKILL):
        for proc in running:
            if proc.poll() is None:
                proc.send_signal(sig)
        deadline = time.monotonic() + STOP_GRACE_S
        for proc in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.0, deadline - time.monotonic()))
        if all(proc.poll() is not None for proc in running):
            break
    for proc in running:
        proc.wait()
        proc.release()


def _warm_tail():
    """Start table.warm_up in a thread of this runner, once the last cases run and a worker
    slot is idle: the end's writers (pandas, pyarrow, matplotlib) are then imported on the
    core the cases leave, not after the last case (the 50-case benchmark's end: 1.5 → 0.35
    s). A warm-up that fails leaves it to the end to report."""
    def warm():
        try:
            warm_up()
        except Exception:  # noqa: BLE001, S110
            pass

    thread = threading.Thread(target=warm, name="sweep-tail-warm-up", daemon=True)
    thread.start()
    return thread


def _join(thread) -> None:
    """Wait for the warm-up thread, if one was started (every way out of run_local)."""
    if thread is not None:
        thread.join()


def _duration(s: float) -> str:
    return f"{s:.0f} s" if s < 90 else f"{s / 60:.0f} min" if s < 5400 else f"{s / 3600:.1f} h"
