"""The SLURM executor: the unfinished cases as a job array of `anodesim sweep FOLDER
--task-id N` tasks, optionally waited for and collected."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

from .. import output
from ..case import CaseError
from .folder import _clean_stale, record_failure, result_of
from .local import ONE_THREAD, _sweep_command
from .spec import Study
from .table import Table, collect, plot


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
              "export " + " ".join(f"{k}={v}" for k, v in ONE_THREAD.items()),
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


#: squeue's reasons for a pending job that no amount of waiting starts (the request exceeds
#: what the partition, account or QOS allows, or a dependency failed); see squeue(1),
#: "JOB REASON CODES". --wait cancels such a job and says why instead of waiting forever.
NEVER_STARTS = {
    "PartitionConfig": "it asks for more than the partition has (CPUs, memory or nodes)",
    "PartitionNodeLimit": "it asks for more nodes than the partition allows",
    "PartitionTimeLimit": "its time limit exceeds the partition's",
    "BadConstraints": "no node satisfies its constraints",
    "InvalidAccount": "its account is invalid",
    "InvalidQOS": "its QOS is invalid",
    "AccountNotAllowed": "its account may not use the partition",
    "QOSNotAllowed": "its QOS may not use the partition",
    "DependencyNeverSatisfied": "a job it depends on failed",
}


def _in_queue(job: str) -> bool:
    """Whether any task of the job is still queued or running (squeue, retried).

    Raises:
        CaseError: the job waits for a reason that never clears (NEVER_STARTS); it is
            cancelled first.
    """
    for attempt in range(5):
        r = subprocess.run(["squeue", "-h", "-j", job, "-o", "%T|%r"], capture_output=True,
                           text=True)
        if r.returncode == 0:
            for line in r.stdout.split():
                state, _, reason = line.partition("|")
                if state == "PENDING" and reason in NEVER_STARTS:
                    subprocess.run(["scancel", job], capture_output=True)
                    raise CaseError(f"SLURM job {job} cannot start ({reason}: "
                                    f"{NEVER_STARTS[reason]}); it was cancelled")
            return bool(r.stdout.strip())
        if "Invalid job id" in r.stderr:  # gone from the controller's memory: finished
            return False
        time.sleep(2 * (attempt + 1))
    raise CaseError(f"--wait: squeue does not answer ({r.stderr.strip()}); the job {job} "
                    "may still run: collect later with --collect")


def check_client() -> None:
    """CaseError unless sbatch and squeue are on PATH (before anything is written)."""
    for tool in ("sbatch", "squeue"):
        if shutil.which(tool) is None:
            raise CaseError(f"--submit slurm: {tool} not found; expected a SLURM client on "
                            "PATH")


def active_job(out: Path) -> str | None:
    """The job recorded in out/slurm/job_id when squeue still lists it, else None (also
    when squeue cannot tell)."""
    try:
        job = (out / "slurm" / "job_id").read_text().strip()
    except OSError:
        return None
    if not job or shutil.which("squeue") is None:
        return None
    r = subprocess.run(["squeue", "-h", "-j", job, "-o", "%i"], capture_output=True, text=True)
    return job if r.returncode == 0 and r.stdout.strip() else None


def task_states(out: Path) -> dict[int, str]:
    """Case index -> "queued" or "running" for the tasks of the study folder's recorded
    job that squeue still lists (empty without a job, squeue or an answer)."""
    job = active_job(out)
    if job is None:
        return {}
    r = subprocess.run(["squeue", "-h", "-r", "-j", job, "-o", "%K|%T"], capture_output=True,
                       text=True)
    states = {}
    for line in r.stdout.split() if r.returncode == 0 else ():
        index, _, state = line.partition("|")
        if index.isdigit():
            states[int(index)] = "running" if state in ("RUNNING", "COMPLETING") else "queued"
    return states


class Undo:
    """What an invocation is about to create or replace, put back if it is refused."""

    def __init__(self, paths):
        self.saved = {p: p.read_bytes() if p.is_file() else p.exists() for p in paths}

    def restore(self) -> None:
        """Remove what was absent and rewrite the files that were replaced (newest first)."""
        for p, was in reversed(self.saved.items()):
            if was is False and p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            elif was is False:
                p.unlink(missing_ok=True)
            elif isinstance(was, bytes) and p.is_file() and p.read_bytes() != was:
                output.atomic_write(p, was.decode())


def preflight(out: Path) -> Undo:
    """Before a study is submitted and its folder opened: the SLURM client is there and no
    earlier array of the folder is still queued or running.

    Returns:
        What opening the folder may create or rewrite, to put back if sbatch refuses.

    Raises:
        CaseError: sbatch or squeue is missing, or the folder's job is still in the queue.
    """
    check_client()
    job = active_job(out)
    if job is not None:
        raise CaseError(f"--submit slurm: {out} has SLURM job {job} still queued or running; "
                        f"expected it to finish first (or `scancel {job}`), then submit again")
    return Undo([out, out / "cases", out / "slurm", out / "study.json"])


def _sbatch(script: Path, text: str, out: Path) -> str:
    """Submit the script (given to sbatch on stdin), then write it and the job id
    (out/slurm/job_id); the job id.

    Raises:
        CaseError: sbatch refuses the job (nothing of it is written)."""
    r = subprocess.run(["sbatch", "--parsable"], input=text, capture_output=True, text=True)
    if r.returncode != 0:
        why = "; ".join(line.removeprefix("sbatch: error: ").strip()
                        for line in r.stderr.splitlines() if line.strip())
        raise CaseError(f"--submit slurm: sbatch refused the job ({why or 'no reason given'}); "
                        "nothing was submitted")
    job = r.stdout.strip().split(";")[0]
    output.atomic_write(script, text)
    output.atomic_write(out / "slurm" / "job_id", job + "\n")
    return job


def submit_slurm(study: Study, out: Path, say=print, wait: bool = False,
                 retry_failed: bool = False, undo: Undo | None = None) -> Table:
    """Write the sbatch array script for the unfinished cases and submit it.

    Invalid cases are not submitted: their rows already say why. With retry_failed, the
    failed valid cases are submitted again (their failed records are removed once sbatch
    has taken the job). With wait, poll squeue until the array has left the queue, record
    the cases whose task ended without a result as failed (with the end of the task's log),
    and collect the rows.

    Args:
        undo: what this invocation created before (preflight); put back if sbatch refuses.

    Raises:
        CaseError: sbatch or squeue is missing or refuses the job.
    """
    todo, retry = {}, []
    for p in study.points:
        row = result_of(out, p)
        if p.error or p.id in todo or not (row is None or (retry_failed
                                                          and row["status"] == "failed")):
            continue
        todo[p.id] = p
        if row is not None:
            retry.append(p)
    if not todo:
        invalid = sum(bool(p.error) and result_of(out, p) is None for p in study.points)
        say("all cases have finished" + (f" ({invalid} invalid, not submitted)" if invalid
                                         else "") + "; collecting the rows")
        table = collect(study, out)
        plot(study, table)
        return table
    check_client()
    (out / "slurm").mkdir(exist_ok=True)
    _clean_stale(out)
    # set the failed records aside (a task would take them as finished), back if refused
    aside = {p.id: out / "cases" / f".{p.id}.retry.{os.getpid()}" for p in retry}
    for case_id, folder in aside.items():
        os.rename(out / "cases" / case_id, folder)
    script = out / "slurm" / "array.sh"
    indices = sorted(p.index for p in todo.values())
    try:
        job = _sbatch(script, slurm_script(study, out, indices), out)
    except CaseError:
        for case_id, folder in aside.items():
            os.rename(folder, out / "cases" / case_id)
        if undo is not None:
            undo.restore()
        raise
    for folder in aside.values():
        shutil.rmtree(folder, ignore_errors=True)
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
    plot(study, table)
    ok = sum(result_of(out, p)["status"] == "ok" for p in todo.values())
    say(f"job {job} finished: {ok} ok, {len(todo) - ok} failed of its {len(todo)} "
        f"task{'s' if len(todo) > 1 else ''}")
    return table


def run_script(case: Path, out: Path, ntasks: int, overwrite: bool = False,
               partition: str | None = None, time_limit: str | None = None,
               case_dir: Path | None = None, name: str | None = None) -> str:
    """The sbatch script of one case run as one MPI job of ntasks ranks on one node.

    The ranks are started by the MPI launcher next to this Python (the wheel's mpirun,
    which takes its hosts from the SLURM allocation), or by srun when there is none.

    Args:
        case_dir: the folder the case's relative paths refer to (default: the case file's).
        name: the job's name after anodesim-run- (default: the case file's stem).
    """
    import sys

    launcher = Path(sys.executable).parent / "mpirun"
    start = f'{shlex.quote(str(launcher))} -n "$SLURM_NTASKS"' if launcher.exists() else "srun"
    log = str(out.resolve() / "slurm" / "run-%j.out").replace('"', '\\"')
    lines = ["#!/bin/bash",
             "#SBATCH --job-name=anodesim-run-"
             + re.sub(r'[^A-Za-z0-9_.-]', '_', name or case.stem),
             f"#SBATCH --ntasks={ntasks}",
             "#SBATCH --nodes=1",
             "#SBATCH --cpus-per-task=1",
             f'#SBATCH --output="{log}"']
    if partition:
        lines.append(f"#SBATCH --partition={partition}")
    if time_limit:
        lines.append(f"#SBATCH --time={time_limit}")
    cmd = [sys.executable, "-m", "anodesim", "run", str(case.resolve()), "-o", str(out.resolve()),
           "-q"] + (["--overwrite"] if overwrite else []) + (
               ["--case-dir", str(case_dir.resolve())] if case_dir is not None else [])
    lines += ["# one case, one MPI job: every rank holds a part of the mesh",
              "export " + " ".join(f"{k}={v}" for k, v in ONE_THREAD.items()),
              start + " " + shlex.join(cmd)]
    return "\n".join(lines) + "\n"


#: The line of an anodesim failure in a job's log (any rank's), e.g. "[rank 1] anodesim:
#: run failed: ...", which an MPI launcher's abort message follows.
_ANODESIM_LINE = re.compile(r"(\[rank \d+\] )?anodesim: ")


def failure_line(log: str) -> str:
    """The line of a job's log that says why it failed: the last anodesim error line
    rather than what the MPI launcher printed after it; else the last line."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    ours = [line for line in lines if _ANODESIM_LINE.match(line)]
    return (ours or lines or ["no log"])[-1]


def submit_run(case: Path, out: Path, ntasks: int, say=print, wait: bool = False,
               overwrite: bool = False) -> dict | None:
    """Submit one case as one MPI job (sbatch, ntasks ranks); with wait, wait for it.

    The job runs the case as it was validated: a copy of the case file
    (out/slurm/case.toml), its relative paths read from the original file's folder.

    Returns:
        The run's summary.json (as a dict) when waited for, else None.

    Raises:
        CaseError: sbatch or squeue is missing, or sbatch refuses the job (then what this
            submission wrote is removed).
        RunFailure: (wait) the job ended without a summary.
    """
    import json

    from ..errors import RunFailure

    check_client()
    snapshot = out / "slurm" / "case.toml"
    undo = Undo([out, out / "slurm", snapshot])
    (out / "slurm").mkdir(parents=True, exist_ok=True)
    output.atomic_write(snapshot, case.read_text())
    script = out / "slurm" / "run.sh"
    try:
        job = _sbatch(script, run_script(snapshot, out, ntasks, overwrite,
                                         case_dir=case.resolve().parent, name=case.stem), out)
    except CaseError:
        undo.restore()
        raise
    say(f"submitted SLURM job {job}: {case} on {ntasks} MPI rank{'s' if ntasks > 1 else ''} "
        f"-> {out} (log {out / 'slurm' / f'run-{job}.out'})")
    if not wait:
        return None
    while _in_queue(job):
        time.sleep(2)
    summary = out / "summary.json"
    if not summary.exists():
        log = out / "slurm" / f"run-{job}.out"
        text = log.read_text(errors="replace") if log.exists() else ""
        raise RunFailure(f"SLURM job {job} ended without a result: {failure_line(text)}")
    return json.loads(summary.read_text())
