"""The local executor: one worker process per case, at most `jobs` at once; a killed sweep
resumes where it stopped."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .folder import _clean_stale, check_jobs, record_failure, result_of
from .spec import Point, Study
from .table import Table, collect, plot


def _sweep_command(out: Path) -> list[str]:
    """`anodesim sweep` on the study folder `out`, with this Python."""
    return [sys.executable, "-m", "anodesim", "sweep", str(out.resolve())]


def worker_command(out: Path, index: int) -> list[str]:
    """The command that runs case `index` of the study in folder `out` (any executor)."""
    return _sweep_command(out) + ["--task-id", str(index), "-q"]


def _worker_env() -> dict:
    # One thread per case: the processes are the parallelism.
    return {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def _die_with_parent() -> None:
    """In a worker (Linux): be killed when the runner dies, even by SIGKILL, so that no
    orphan goes on writing into the study folder."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def run_local(study: Study, out: Path, jobs: int = 1, say=print,
              retry_failed: bool = False) -> Table:
    """Run the unfinished cases, each in its own process, `jobs` at a time."""
    check_jobs(jobs, f"jobs = {jobs}")
    unique = list({p.id: p for p in study.points}.values())  # equal cases run once
    pending = []
    for p in unique:
        row = result_of(out, p)
        if row is None or (retry_failed and row["status"] == "failed"):
            if row is not None:
                shutil.rmtree(out / "cases" / p.id)
            pending.append(p)
    done_before = len(unique) - len(pending)
    say(f"{study.title}: {len(unique)} cases, {done_before} already finished, "
        f"{len(pending)} to run with {jobs} process{'es' if jobs > 1 else ''} -> {out}")
    _clean_stale(out)
    running: dict[subprocess.Popen, tuple[Point, object]] = {}
    finished, failures = 0, 0
    t0 = time.perf_counter()
    queue = list(pending)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        while queue or running:
            while queue and len(running) < jobs:
                p = queue.pop(0)
                log = tempfile.TemporaryFile()  # a file, not a pipe: a chatty worker never blocks
                proc = subprocess.Popen(worker_command(out, p.index), env=_worker_env(),
                                        stdout=subprocess.DEVNULL, stderr=log,
                                        preexec_fn=_die_with_parent)
                running[proc] = (p, log)
            time.sleep(0.05)
            for proc in [q for q in running if q.poll() is not None]:
                p, log = running.pop(proc)
                log.seek(0)
                err = log.read().decode(errors="replace").strip()
                log.close()
                row = result_of(out, p)
                if row is None:  # the worker died without a result (crash, out of memory)
                    code = proc.returncode
                    what = f"signal {-code}" if code < 0 else f"exit status {code}"
                    last = err.splitlines()[-1] if err else ""
                    row = record_failure(out, p, f"worker process ended with {what}"
                                         f"{': ' + last if last else ''}", err)
                finished += 1
                failures += row["status"] == "failed"
                left = len(queue) + len(running)
                eta = (time.perf_counter() - t0) / finished * left
                reason = f" ({row['error'][:120]})" if row["status"] == "failed" else ""
                say(f"[{done_before + finished}/{len(unique)}] case {p.index} {p.id} "
                    f"{row['status']} in {row.get('wall_s') or 0:.1f} s{reason}; "
                    f"{failures} failed, about {_duration(eta)} left")
                collect(study, out)
    except KeyboardInterrupt:
        for proc in running:
            proc.send_signal(signal.SIGINT)
        for proc in running:
            proc.wait()
        collect(study, out)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    table = collect(study, out)
    plot(study, table, say)
    return table


def _duration(s: float) -> str:
    return f"{s:.0f} s" if s < 90 else f"{s / 60:.0f} min" if s < 5400 else f"{s / 3600:.1f} h"
