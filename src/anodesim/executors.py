"""Running a study: one process per case, a results table, resume after a crash or a kill.

A study folder holds::

    study.json            the study (self-contained) with its case list and provenance
    cases/<id>/           one case's outputs; result.json inside marks it finished
    results.csv           one row per case (rewritten atomically after every case)
    results.png           the quick-look plot

The per-case entry point is ``anodesim sweep FOLDER --task-id N``: it runs case N of the
study in that folder and writes ``cases/<id>/`` by an atomic rename, so any executor (the
local one here, a SLURM job array, GNU parallel, Dask) can drive it and a case is either
finished or absent.
"""

from __future__ import annotations

import csv
import datetime as _dt
import errno
import fcntl
import io
import json
import math
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from . import __version__, output
from .case import CaseError
from .study import CASE_AXIS, Point, Study

RESULT = "result.json"
FIXED_COLUMNS = ["index", "id", "status", "error", "wall_s"]


@dataclass
class Table:
    """The results of a sweep, one row (dict) per case in study order."""

    columns: list[str]
    rows: list[dict]
    out_dir: Path

    def column(self, name: str) -> list:
        """The values of one column (None where a case has none)."""
        return [row.get(name) for row in self.rows]

    @property
    def failed(self) -> list[dict]:
        return [row for row in self.rows if row["status"] == "failed"]


# --------------------------------------------------------------------------------------
# The study folder
# --------------------------------------------------------------------------------------
def default_folder(study: Study, source: Path | None) -> Path:
    """Where a study's results go unless told: a study folder is its own,
    studies/<name>/study.toml goes to results/<name>, other files to results/<file name>,
    and a study built in code to results/study-<id>."""
    if source is None:
        return Path("results") / f"study-{study.id}"
    if source.is_dir():
        return source
    return Path("results") / (source.parent.resolve().name if source.stem == "study"
                              else source.stem)


def check_jobs(jobs: int, given: str) -> None:
    """CaseError unless at least one process is asked for (`given` names the input)."""
    if jobs < 1:
        raise CaseError(f"{given}: expected at least 1 process")


def open_folder(study: Study, out: Path) -> None:
    """Create the study folder, or check that an existing one holds this study.

    Several processes may do this at once (array tasks, GNU parallel): the study.json they
    write is the same, and each one checks the one that is there.

    Raises:
        CaseError: the folder holds a different study, or other files (nothing is touched).
    """
    saved = out / "study.json"
    if not saved.exists():
        ours = {"cases", "slurm", "study.json"}  # what a concurrent task may have made first
        if out.exists() and (not out.is_dir() or any(
                f.name not in ours and not f.name.startswith(".") for f in out.iterdir())):
            raise CaseError(f"-o {out}: exists and holds no anodesim study; expected a new "
                            "or empty folder, or this study's own")
        (out / "cases").mkdir(parents=True, exist_ok=True)
        if not saved.exists():
            output.write_json(saved, {
                "id": study.id, "title": study.title, "study": study.definition,
                "cases": [{"index": p.index, "id": p.id, "inputs": p.inputs,
                           "invalid": p.error} for p in study.points],
                "created_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                "anodesim_version": __version__, "provenance": output.provenance(),
            }, durable=True)
    try:
        old = json.loads(saved.read_text())["id"]
    except (OSError, ValueError, KeyError, TypeError):
        old = None
    if old != study.id:
        raise CaseError(f"-o {out}: holds a different study (id {old}, this one is "
                        f"{study.id}); expected a new folder or this study's own")


def result_of(out: Path, point: Point) -> dict | None:
    """The finished row of a case, or None when it has not finished."""
    f = out / "cases" / point.id / RESULT
    try:
        return json.loads(f.read_text())
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------------------
# One case (the worker)
# --------------------------------------------------------------------------------------
def run_point(study: Study, out: Path, point: Point) -> dict:
    """Run one case into ``cases/<id>`` (atomically renamed when done); return its row.

    A finished case is not run again. Any failure (invalid combination, solver failure,
    material range, NaN) is recorded in the row, never raised. The work folder is locked
    while the case runs, so a sweep started meanwhile leaves it alone.
    """
    done = result_of(out, point)
    if done is not None:
        return done
    work = out / "cases" / f".{point.id}.{os.getpid()}@{socket.gethostname()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    lock = _lock(work)
    started = time.perf_counter()
    row = {"index": point.index, "id": point.id, "status": "ok", "error": "", **point.inputs}
    try:
        if point.error:
            raise CaseError(point.error)
        row.update(_outputs(study, point, work))
        bad = [k for k, v in row.items() if isinstance(v, float) and math.isnan(v)]
        if bad:
            raise FloatingPointError(f"NaN in the results ({', '.join(bad[:3])})")
    except Exception as e:  # noqa: BLE001 - a failed case is a result, the sweep goes on
        row["status"] = "failed"
        row["error"] = f"{type(e).__name__}: {e}".replace("\n", " ")
        output.atomic_write(work / "error.txt", traceback.format_exc())
    row["wall_s"] = time.perf_counter() - started
    output.write_json(work / RESULT, row, durable=True)
    _publish(work, out / "cases" / point.id)
    os.close(lock)
    return result_of(out, point) or row


def _lock(work: Path) -> int:
    """Hold an exclusive lock on work/.lock for as long as this process lives."""
    fd = os.open(work / ".lock", os.O_CREAT | os.O_RDWR, 0o666)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _publish(work: Path, final: Path) -> None:
    """Rename a finished work folder to the case folder. If another run of the same case
    finished first, its result stands and this one is dropped; a case folder is never
    absent once it has been finished."""
    try:
        os.rename(work, final)
    except OSError as e:
        if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
        if (final / RESULT).exists():
            shutil.rmtree(work, ignore_errors=True)
            return
        stale = final.with_name(f".{final.name}.stale.{os.getpid()}")
        os.rename(final, stale)  # a folder without a result: not a finished case
        os.rename(work, final)
        shutil.rmtree(stale, ignore_errors=True)
    output.sync_folder(final.parent)


def _outputs(study: Study, point: Point, work: Path) -> dict:
    """Run the case's tasks and pick the key figures for its row."""
    import dataclasses as dc

    from . import case as case_mod
    from .case import Loading

    case = case_mod.from_dict(point.data, point.base_dir)
    row: dict = {}
    if study.run:
        from . import _mpi  # noqa: F401
        from .pipeline import run
        from mpi4py import MPI

        res = run(case, work, comm=MPI.COMM_SELF)
        s = res.summary
        if s["status"] != "complete":
            raise RuntimeError(s["error"] or s["status"])
        r = s["results"]
        row["T_peak_max_C"] = r["T_peak_max_C"]
        row["T_peak_max_time_s"] = r["T_peak_max_time_s"]
        for region, T in r["T_max_by_region_C"].items():
            row[f"T_max_{region}_C"] = T
        row["limits_hold"] = all(lim["holds"] for lim in r["limits"])
        m = s.get("mechanics") or {}
        for c in ("drift_across_view_um", "image_drift_px", "u_spot_z_um", "spot_shift_um",
                  "magnification_change_rel"):
            if c in m:
                row[f"{c}_max_abs"] = m[c]["max_abs"]
                row[f"{c}_final"] = m[c]["final"]
        row["deposited_power_W"] = s["beam"]["deposited_power_W"]
        row["cells"] = s["numerics"]["cells"]
    if study.rate:
        from .rating import ResponseError, precheck, rate

        charts = ("continuous",) if "continuous" in study.rate else ()
        target = case
        if "schedule" not in study.rate:
            target = dc.replace(case, loading=Loading("steady", ()))
        try:
            precheck(target)
            res = rate(target, work / "rating", charts, confirm=True, progress=lambda m: None)
        except ResponseError as e:
            raise CaseError(str(e)) from None
        if "schedule" in study.rate:
            sl = res["max_safe_loading"]
            row["max_safe_beam_power_W"] = sl["beam_power_W"]
            segments = case.loading.segments
            if segments:  # the schedule's time-averaged beam power at that rating
                top = max(p for _, p in segments)
                mean = sum(d * p for d, p in segments) / sum(d for d, _ in segments) / top
                row["max_safe_mean_beam_power_W"] = sl["beam_power_W"] * mean
            row["binding_limit"] = sl["binding"]
        if "continuous" in study.rate:
            c = res["continuous"]
            row["max_continuous_beam_power_W"] = c["max_continuous_beam_power_confirmed_W"]
            row["binding_continuous"] = c["binding_confirmed"]
            row["max_continuous_beam_power_engine_W"] = c["max_continuous_beam_power_W"]
    return row


# --------------------------------------------------------------------------------------
# The table and the plot
# --------------------------------------------------------------------------------------
def collect(study: Study, out: Path) -> Table:
    """Rows of all cases (finished or not) in study order; writes results.csv atomically."""
    rows, outputs = [], []
    for p in study.points:
        stored = result_of(out, p) or {"status": "pending", "error": ""}
        row = {**stored, "index": p.index, "id": p.id, **p.inputs}
        rows.append(row)
        for k in row:
            if k not in FIXED_COLUMNS and k not in p.inputs and k not in outputs:
                outputs.append(k)
    columns = FIXED_COLUMNS[:2] + list(study.axes) + FIXED_COLUMNS[2:] + outputs
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for row in rows:
        w.writerow([_cell(row.get(c)) for c in columns])
    output.atomic_write(out / "results.csv", buf.getvalue(), durable=True)
    return Table(columns, rows, out)


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.10g}"
    return str(v)


def plot(study: Study, table: Table, say=print) -> Path | None:
    """Quick-look PNG: an output against an axis (one curve per value of the other axes),
    or a time-series column against time for every case (``plot.x = "time_s"``). A plot
    that cannot be drawn is reported, never raised: the table is the result."""
    try:
        return _plot(study, table)
    except Exception as e:  # noqa: BLE001
        say(f"quick-look plot not drawn: {type(e).__name__}: {e}")
        return None


def _plot(study: Study, table: Table) -> Path | None:
    axes = list(study.axes)
    x = study.plot.get("x", next((a for a in axes if a != CASE_AXIS), None))
    ys = study.plot.get("y", "max_continuous_beam_power_W" if "continuous" in study.rate
                        else "max_safe_beam_power_W" if study.rate else "T_peak_max_C")
    ys = [ys] if isinstance(ys, str) else list(ys)
    ok = [r for r in table.rows if r["status"] == "ok"]
    if x is None or not ok:
        return None
    if x != "time_s":
        missing = [y for y in ys if all(r.get(y) is None for r in ok)]
        if missing:
            raise KeyError(f"plot.y: no case has a column {missing[0]!r}; the table has "
                           + ", ".join(c for c in table.columns if c not in study.axes))
    plt = output._pyplot()
    fig, axs = plt.subplots(len(ys), 1, figsize=(7.5, 3.4 * len(ys) + 0.8), squeeze=False,
                            layout="constrained")
    others = [a for a in axes if a != x and len(study.axes[a]) > 1]
    for ax, y in zip(axs[:, 0], ys):
        if x == "time_s":
            for row in ok:
                t, v = _timeseries(table.out_dir / "cases" / row["id"] / "timeseries.csv", y)
                ax.plot(t, v, "o-", ms=3, lw=1.4, label=_label(row, others))
        else:
            groups: dict[str, list] = {}
            for row in ok:
                if row.get(y) is not None:
                    groups.setdefault(_label(row, others), []).append((row[x], row[y]))
            for label, pts in groups.items():
                pts.sort()
                ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", ms=4, lw=1.6,
                        label=label or None)
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        if study.plot.get("log_x"):
            ax.set_xscale("log")
        if study.plot.get("log_y"):
            ax.set_yscale("log")
        elif ax.get_ylim()[0] >= 0:  # a positive quantity: its size, not its wiggles
            ax.set_ylim(bottom=0)
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    axs[0, 0].set_title(study.title, fontsize=10)
    path = table.out_dir / "results.png"
    output._save(fig, path)
    return path


def _label(row: dict, keys) -> str:
    return ", ".join(f"{k.split('.')[-1]} = {row[k]:.4g}" if isinstance(row[k], float)
                     else f"{k.split('.')[-1]} = {row[k]}" for k in keys)


def _timeseries(path: Path, column: str) -> tuple[list[float], list[float]]:
    lines = [ln for ln in path.read_text().splitlines() if not ln.startswith("#")]
    reader = csv.DictReader(lines)
    t, v = [], []
    for rec in reader:
        if rec.get(column):
            t.append(float(rec["time_s"]))
            v.append(float(rec[column]))
    return t, v


# --------------------------------------------------------------------------------------
# Executors
# --------------------------------------------------------------------------------------
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


def record_failure(out: Path, p: Point, reason: str, log: str = "") -> dict:
    """Record a failed row for a case whose worker left no result (crash, kill, SLURM)."""
    row = {"index": p.index, "id": p.id, "status": "failed", "error": reason, **p.inputs,
           "wall_s": None}
    work = out / "cases" / f".{p.id}.failed.{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    output.atomic_write(work / "error.txt", (log or reason) + "\n")
    output.write_json(work / RESULT, row, durable=True)
    _publish(work, out / "cases" / p.id)
    return result_of(out, p) or row


def _clean_stale(out: Path) -> None:
    """Remove the work folders of cases whose process has died (their lock is free)."""
    for d in (out / "cases").glob(".*"):
        if not d.is_dir():
            continue
        try:
            fd = os.open(d / ".lock", os.O_RDWR)
        except FileNotFoundError:  # never locked: its worker died at once, or is starting
            if _worker_gone(d) or time.time() - d.stat().st_mtime > 60:
                shutil.rmtree(d, ignore_errors=True)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # its worker is running (here, or as another executor's task)
        finally:
            os.close(fd)
        shutil.rmtree(d, ignore_errors=True)


def _worker_gone(work: Path) -> bool:
    """Whether the worker of a work folder ``.<id>.<pid>@<host>`` is known to be gone: it
    ran on this host and its process no longer runs (or is a zombie)."""
    name, _, host = work.name.rpartition("@")
    if host != socket.gethostname():
        return False  # another node's worker: only its lock or the folder's age tell
    try:
        pid = int(name.rsplit(".", 1)[1])
    except (IndexError, ValueError):
        return False
    if not Path("/proc/self/stat").exists():  # no procfs: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    except (OSError, IndexError):
        return False
    return state in ("Z", "X")


def _duration(s: float) -> str:
    return f"{s:.0f} s" if s < 90 else f"{s / 60:.0f} min" if s < 5400 else f"{s / 3600:.1f} h"


# --------------------------------------------------------------------------------------
# SLURM job arrays
# --------------------------------------------------------------------------------------
def slurm_script(study: Study, out: Path, indices: list[int]) -> str:
    """The sbatch script of a job array over the given case indices."""
    s = study.slurm
    log = str(out.resolve() / "slurm" / "%A_%a.out").replace('"', '\\"')
    lines = ["#!/bin/bash",
             f"#SBATCH --job-name=anodesim-{study.id}",
             f"#SBATCH --array={_ranges(indices)}",
             f'#SBATCH --output="{log}"',
             "#SBATCH --ntasks=1",
             "#SBATCH --cpus-per-task=1"]
    if s.get("partition"):
        lines.append(f"#SBATCH --partition={s['partition']}")
    if s.get("time"):
        lines.append(f"#SBATCH --time={s['time']}")
    lines += [f"#SBATCH {x}" for x in s.get("extra", [])]
    lines += ["# one array task = one case of the study; its result lands in cases/<id>/",
              "export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1",
              shlex.join(_sweep_command(out)) + ' --task-id "$SLURM_ARRAY_TASK_ID" -q']
    return "\n".join(lines) + "\n"


def _ranges(indices: list[int]) -> str:
    parts, start = [], None
    for i, v in enumerate(indices):
        if start is None:
            start = v
        if i + 1 == len(indices) or indices[i + 1] != v + 1:
            parts.append(f"{start}" if start == v else f"{start}-{v}")
            start = None
    return ",".join(parts)


def _in_queue(job: str) -> bool:
    """Whether any task of the job is still queued or running (squeue, retried)."""
    for attempt in range(5):
        r = subprocess.run(["squeue", "-h", "-j", job, "-o", "%i"], capture_output=True,
                           text=True)
        if r.returncode == 0:
            return bool(r.stdout.strip())
        if "Invalid job id" in r.stderr:  # gone from the controller's memory: finished
            return False
        time.sleep(2 * (attempt + 1))
    raise CaseError(f"--wait: squeue does not answer ({r.stderr.strip()}); the job {job} "
                    "may still run: collect later with --collect")


def submit_slurm(study: Study, out: Path, say=print, wait: bool = False) -> Table:
    """Write the sbatch array script for the unfinished cases and submit it.

    With wait, poll squeue until the array has left the queue, record the cases whose task
    ended without a result as failed (with the end of the task's log), and collect the rows.

    Raises:
        CaseError: sbatch or squeue is missing or refuses the job.
    """
    todo = {p.id: p for p in study.points if result_of(out, p) is None}
    if not todo:
        say("all cases have finished; collecting the rows")
        table = collect(study, out)
        plot(study, table, say)
        return table
    for tool in ("sbatch", "squeue"):
        if shutil.which(tool) is None:
            raise CaseError(f"--submit slurm: {tool} not found; expected a SLURM client on "
                            "PATH")
    (out / "slurm").mkdir(exist_ok=True)
    _clean_stale(out)
    script = out / "slurm" / "array.sh"
    indices = sorted(p.index for p in todo.values())
    output.atomic_write(script, slurm_script(study, out, indices))
    r = subprocess.run(["sbatch", "--parsable", str(script)], capture_output=True, text=True)
    if r.returncode != 0:
        raise CaseError(f"--submit slurm: sbatch refused the job ({r.stderr.strip()}); "
                        f"the script is in {script}")
    job = r.stdout.strip().split(";")[0]
    output.atomic_write(out / "slurm" / "job_id", job + "\n")
    say(f"submitted SLURM array job {job}: {len(todo)} cases ({script}); run "
        f"`anodesim sweep {out} --collect` when it has finished")
    table = collect(study, out)
    if not wait:
        return table
    last = time.monotonic()
    while _in_queue(job):
        time.sleep(2)
        if time.monotonic() - last > 60:
            last = time.monotonic()
            done = sum(result_of(out, p) is not None for p in todo.values())
            say(f"job {job}: {done} of {len(todo)} cases finished")
    for p in todo.values():
        if result_of(out, p) is None:
            log = out / "slurm" / f"{job}_{p.index}.out"
            text = log.read_text(errors="replace").strip() if log.exists() else ""
            last_line = text.splitlines()[-1] if text else "no log"
            record_failure(out, p, f"SLURM array task {job}_{p.index} ended without a "
                           f"result (cancelled, timed out or killed?): {last_line}", text)
    table = collect(study, out)
    plot(study, table, say)
    say(f"job {job} finished: {sum(r['status'] == 'ok' for r in table.rows)} ok, "
        f"{len(table.failed)} failed")
    return table
