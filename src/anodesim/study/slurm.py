"""The SLURM executor: the unfinished cases as a job array of `anodesim sweep FOLDER
--task-id N` tasks, optionally waited for and collected."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import time
from pathlib import Path

from .. import output
from ..case import CaseError
from ..errors import add_line_note
from .folder import _clean_stale, record_failure, result_of
from .local import ONE_THREAD, _sweep_command, plural
from .queue import _slurm, _squeue, check_client, recorded_job
from .spec import CONTROL_CHARS, Study, check_slurm
from .table import Table, collect, plot

#: The options a job script must keep (the array, its log, one task a case, the run's
#: ranks on one node): given on sbatch's command line too, where they win over any
#: #SBATCH line (the [slurm] table's, however abbreviated). The job's name and CPUs per
#: task are #SBATCH lines only, which the table may override.
COMMAND_LINE = ("--array", "--output", "--ntasks", "--nodes")


def _command_line(options: list[str]) -> list[str]:
    return [o for o in options if o.partition("=")[0] in COMMAND_LINE]


def array_options(study: Study, out: Path, indices: list[int]) -> list[str]:
    """What the array script sets itself: one task of one CPU per case, logged where --wait
    reads the log (#SBATCH lines; COMMAND_LINE's also on sbatch's command line)."""
    return [f"--job-name=anodesim-{study.id}", f"--array={_ranges(indices)}",
            f"--output={out.resolve() / 'slurm' / '%A_%a.out'}", "--ntasks=1",
            "--cpus-per-task=1"]


def _sbatch_lines(options: list[str]) -> list[str]:
    """#SBATCH lines of options, their values quoted (a path with spaces)."""
    lines = []
    for o in options:
        name, eq, value = o.partition("=")
        quoted = '"' + value.replace('"', '\\"') + '"' if name == "--output" else value
        lines.append(f"#SBATCH {name}{eq}{quoted}")
    return lines


def slurm_script(study: Study, out: Path, indices: list[int], retry: bool = False) -> str:
    """The sbatch script of a job array over the given case indices; with retry, a task
    runs its case again when its record is a failure (and replaces that record). Each task
    runs its case only if the folder still holds this definition (--study-id): one given
    to the folder while the job was queued has other cases under the same indices.

    Raises:
        CaseError: a [slurm] value that cannot go into a script (a saved study.json's)."""
    s = study.slurm
    check_slurm(s, forms=False)
    lines = ["#!/bin/bash"] + _sbatch_lines(array_options(study, out, indices))
    if s.get("partition"):
        lines.append(f"#SBATCH --partition={s['partition']}")
    if s.get("time"):
        lines.append(f"#SBATCH --time={s['time']}")
    lines += [f"#SBATCH {x}" for x in s.get("extra", [])]
    lines += ["# one array task = one case of the study; its result lands in cases/<id>/",
              "export " + " ".join(f"{k}={v}" for k, v in ONE_THREAD.items()),
              shlex.join(_sweep_command(out)) + ' --task-id "$SLURM_ARRAY_TASK_ID" -q'
              + f" --study-id {study.id}" + (" --retry-failed" if retry else "")]
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
            cancelled first. Or squeue does not answer.
    """
    for attempt in range(5):
        lines, why = _squeue(job, "%T|%r")
        if lines is not None:
            for line in lines.split():
                state, _, reason = line.partition("|")
                if state == "PENDING" and reason in NEVER_STARTS:
                    _slurm(["scancel", job])
                    raise CaseError(f"SLURM job {job} cannot start ({reason}: "
                                    f"{NEVER_STARTS[reason]}); it was cancelled")
            return bool(lines.strip())
        time.sleep(2 * (attempt + 1))  # a controller restarting: ask again
    raise CaseError(f"--wait: squeue does not answer ({why}); the job {job} "
                    "may still run: collect later with --collect")


class Undo:
    """What an invocation is about to create or replace, put back if it is refused."""

    def __init__(self, paths):
        """Note what is there now.

        Args:
            paths: the files and folders the invocation may create or rewrite, parents
                first; the first one's missing parent folders (``-o a/b/c`` makes a/b) are
                noted too, and removed by restore when they are left empty.
        """
        paths = list(paths)
        self.parents = []  # missing ancestors of the first path, nearest first
        parent = paths[0].absolute().parent if paths else None
        while parent is not None and not parent.exists() and parent != parent.parent:
            self.parents.append(parent)
            parent = parent.parent
        self.saved = {p: p.read_bytes() if p.is_file() else p.exists() for p in paths}

    def restore(self) -> None:
        """Remove what was absent and rewrite the files that were replaced (newest first),
        then the parent folders that were made for them (when nothing else is in them)."""
        for p, was in reversed(self.saved.items()):
            if was is False and p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            elif was is False:
                p.unlink(missing_ok=True)
            elif isinstance(was, bytes) and p.is_file() and p.read_bytes() != was:
                output.atomic_write(p, was.decode())
        for parent in self.parents:
            try:
                parent.rmdir()
            except OSError:  # something else was put there meanwhile: it stays
                break


def preflight(out: Path, slurm: dict | None = None,
              names: tuple[str, ...] = ("cases", "slurm", "study.json")) -> Undo:
    """Before a submission writes anything: the SLURM client is there, the folder's name and
    the [slurm] values can go into a job script, and no earlier job of the folder is still
    queued or running (squeue must say so: when it cannot tell, the submission is refused).

    Args:
        slurm: the study's [slurm] table (a saved study.json's is checked only here).
        names: what the submission may create or rewrite in out.

    Returns:
        What the submission may create or rewrite, to put back if sbatch refuses.

    Raises:
        CaseError: sbatch or squeue is missing or does not answer, a value cannot go into a
            script, or the folder's job is still in the queue.
    """
    check_client()
    if CONTROL_CHARS.search(str(out.absolute())):
        raise CaseError(f"-o {str(out)!r}: expected a folder name without control characters "
                        "(it is written into the job script)")
    if slurm is not None:
        check_slurm(slurm, forms=False)
    job = recorded_job(out)
    if job is not None:
        lines, why = _squeue(job, "%i")
        if lines is None:
            raise CaseError(f"--submit slurm: squeue cannot tell whether {out}'s SLURM job "
                            f"{job} is still queued ({why}); expected squeue to answer "
                            "(submit again when it does)")
        if lines.strip():
            raise CaseError(f"--submit slurm: {out} has SLURM job {job} still queued or "
                            f"running; expected it to finish first (or `scancel {job}`), "
                            "then submit again")
    return Undo([out] + [out / n for n in names])


#: What sbatch --parsable prints for a job it has taken: its id, ";cluster" on a federation.
_JOB_ID = re.compile(r"\d+(;\S+)?")


class MaybeSubmitted(CaseError):
    """sbatch did not answer in time: the job may be queued, so what the submission wrote
    stays (a task needs the folder's study.json; undoing it would fail every task)."""


def _sbatch(script: Path, text: str, out: Path, options: list[str]) -> str:
    """Submit the script (given to sbatch on stdin, with its own options on the command
    line, where they win over any #SBATCH line), then write it and the job id
    (out/slurm/job_id); the job id.

    Raises:
        CaseError: sbatch refuses the job, does not answer or prints no job id (nothing of
            it is written)."""
    try:
        r = _slurm(["sbatch", "--parsable", *options], text)
    except CaseError as e:  # the folder is kept: the job may be queued and need it
        raise MaybeSubmitted(f"{e}; the job may have been submitted: see `squeue --me` "
                             f"(the folder {out} is kept for it)") from None
    why = "; ".join(line.removeprefix("sbatch: error: ").removeprefix("sbatch: ").strip()
                    for line in r.stderr.splitlines() if line.strip())
    if r.returncode != 0:
        raise CaseError(f"--submit slurm: sbatch refused the job ({why or 'no reason given'}); "
                        "nothing was submitted")
    answer = r.stdout.strip()
    if not _JOB_ID.fullmatch(answer):
        raise CaseError(f"--submit slurm: sbatch gave no job id ({answer!r}"
                        f"{'; ' + why if why else ''}); expected a job number (--test-only "
                        "submits nothing)")
    job = answer.split(";")[0]
    output.atomic_write(script, text)
    output.atomic_write(out / "slurm" / "job_id", job + "\n")
    return job


def submit_slurm(study: Study, out: Path, say=print, wait: bool = False,
                 retry_failed: bool = False, undo: Undo | None = None) -> Table:
    """Write the sbatch array script for the unfinished cases and submit it.

    Invalid cases are not submitted: their rows already say why. With retry_failed, the
    failed valid cases are submitted again: their tasks run with --retry-failed and replace
    the failed record themselves (nothing is moved here, so an interrupt loses nothing).
    With wait, poll squeue until the array has left the queue, record the cases whose task
    ended without a (new) result as failed (with the end of the task's log), and collect
    the rows.

    Args:
        undo: what this invocation created before (preflight, which has checked the SLURM
            client and the queue); put back if sbatch refuses. Without it, the client is
            checked here.

    Raises:
        CaseError: sbatch or squeue is missing or refuses the job.
    """
    todo, retry = {}, {}
    for p in study.points:
        row = result_of(out, p)
        if p.error or p.id in todo or not (row is None or (retry_failed
                                                          and row["status"] == "failed")):
            continue
        todo[p.id] = p
        if row is not None:
            retry[p.id] = row
    if not todo:
        invalid = sum(bool(p.error) and result_of(out, p) is None for p in study.points)
        say("all cases have finished" + (f" ({invalid} invalid, not submitted)" if invalid
                                         else "") + "; collecting the rows")
        table = collect(study, out)
        plot(study, table)
        return table
    if undo is None:
        check_client()
    script = out / "slurm" / "array.sh"
    indices = sorted(p.index for p in todo.values())
    try:
        text = slurm_script(study, out, indices, retry=bool(retry))
        (out / "slurm").mkdir(exist_ok=True)
        _clean_stale(out)
        job = _sbatch(script, text, out, _command_line(array_options(study, out, indices)))
    except CaseError as e:
        if undo is not None and not isinstance(e, MaybeSubmitted):
            undo.restore()
        raise
    n = len(todo)
    then = "waiting for it to finish" if wait else \
        f"run `anodesim sweep {out} --collect` when it has finished"
    say(f"submitted SLURM array job {job}: {plural(n, 'case')} ({script}); {then}")
    table = collect(study, out)
    if not wait:
        return table

    def finished(p) -> bool:  # a result, and not the failure a retried task replaces
        row = result_of(out, p)
        return row is not None and row != retry.get(p.id)

    last = time.monotonic()
    with _still_running(job, f"`anodesim sweep {out} --collect` gathers its results"):
        while _in_queue(job):
            time.sleep(2)
            if time.monotonic() - last > 60:
                last = time.monotonic()
                done = sum(finished(p) for p in todo.values())
                say(f"job {job}: {done} of {n} cases finished")
    for p in todo.values():
        if not finished(p):
            log = out / "slurm" / f"{job}_{p.index}.out"
            text = log.read_text(errors="replace").strip() if log.exists() else ""
            last_line = text.splitlines()[-1] if text else "no log"
            record_failure(out, p, f"SLURM array task {job}_{p.index} ended without a "
                           f"result (cancelled, timed out or killed?): {last_line}", text,
                           replace=True)
    table = collect(study, out)
    plot(study, table)
    ok = sum(result_of(out, p)["status"] == "ok" for p in todo.values())
    say(f"job {job} finished: {ok} ok, {n - ok} failed of its {plural(n, 'task')}")
    return table


@contextlib.contextmanager
def _still_running(job: str, then: str):
    """Ctrl-C or SIGTERM while --wait waits for a job: the command stops waiting, the job
    does not stop; its line (cli._signal_line) says so, and how to stop it or follow up."""
    try:
        yield
    except KeyboardInterrupt as e:
        add_line_note(e, f"stopped waiting: SLURM job {job} is not cancelled and runs on "
                         f"(`scancel {job}` stops it; {then})")
        raise


def run_options(out: Path, ntasks: int, name: str) -> list[str]:
    """What the run script sets itself: ntasks ranks on one node, logged where --wait reads
    the log (#SBATCH lines; COMMAND_LINE's also on sbatch's command line)."""
    return [f"--job-name=anodesim-run-{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}",
            f"--ntasks={ntasks}", "--nodes=1", "--cpus-per-task=1",
            f"--output={out.resolve() / 'slurm' / 'run-%j.out'}"]


def run_script(case: Path, out: Path, ntasks: int, overwrite: bool = False,
               partition: str | None = None, time_limit: str | None = None,
               case_dir: Path | None = None, name: str | None = None,
               report: bool = False) -> str:
    """The sbatch script of one case run as one MPI job of ntasks ranks on one node.

    The ranks are started by the MPI launcher next to this Python (the wheel's mpirun,
    which takes its hosts from the SLURM allocation), or by srun when there is none.

    Args:
        case_dir: the folder the case's relative paths refer to (default: the case file's),
            as given (a symbolic link is not followed, as case.load does not).
        name: the job's name after anodesim-run- (default: the case file's stem).
        report: the job also writes report.html (``run --report``).

    Raises:
        CaseError: a partition or time that cannot go into a script.
    """
    import sys

    check_slurm({k: v for k, v in (("partition", partition), ("time", time_limit)) if v},
                forms=False)
    launcher = Path(sys.executable).parent / "mpirun"
    start = f'{shlex.quote(str(launcher))} -n "$SLURM_NTASKS"' if launcher.exists() else "srun"
    lines = ["#!/bin/bash"] + _sbatch_lines(run_options(out, ntasks, name or case.stem))
    if partition:
        lines.append(f"#SBATCH --partition={partition}")
    if time_limit:
        lines.append(f"#SBATCH --time={time_limit}")
    cmd = [sys.executable, "-m", "anodesim", "run", str(case.resolve()), "-o", str(out.resolve()),
           "-q"] + (["--overwrite"] if overwrite else []) + (["--report"] if report else []) + (
               ["--case-dir", str(case_dir.absolute())] if case_dir is not None else [])
    lines += ["# one case, one MPI job: every rank holds a part of the mesh",
              "export " + " ".join(f"{k}={v}" for k, v in ONE_THREAD.items()),
              start + " " + shlex.join(cmd)]
    return "\n".join(lines) + "\n"


#: The line of an anodesim failure in a job's log (any rank's), e.g. "[rank 1] anodesim:
#: run failed: ...", which an MPI launcher's abort message follows; not a warning.
_ANODESIM_LINE = re.compile(r"(\[rank \d+\] )?anodesim: (?!warning:)")
#: SLURM's line for a job it ended: "slurmstepd: error: *** JOB 7 ON node CANCELLED AT ...
#: DUE TO TIME LIMIT ***" (or a step's).
_CANCELLED_LINE = re.compile(r"slurmstepd: error: \*\*\* (JOB|STEP) .*CANCELLED")


def failure_line(log: str) -> str:
    """The line of a job's log that says why it failed: SLURM's cancellation (a time limit,
    scancel), else the last anodesim error line (not a warning) rather than what the MPI
    launcher printed after it; else the last line."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    for pattern in (_CANCELLED_LINE, _ANODESIM_LINE):
        found = [line for line in lines if pattern.match(line)]
        if found:
            return found[-1]
    return (lines or ["no log"])[-1]


def _refuse_own_case(case: Path, out: Path) -> None:
    """CaseError when the case file is one the run writes into its folder (DIR/case.toml):
    the job would remove it (--overwrite) and write its copy of the case over it, losing
    any edit made after the submission."""
    from ..run_folder import RUN_FILES

    if case.name in RUN_FILES and out.is_dir() and case.parent.is_dir() and \
            os.path.samefile(case.absolute().parent, out):
        raise CaseError(f"--submit slurm: {case} is the run folder's own {case.name} (the job "
                        "writes its copy of the case there); expected a case file outside "
                        f"{out}, or another -o")


def submit_run(case: Path, out: Path, ntasks: int, say=print, wait: bool = False,
               overwrite: bool = False, report: bool = False) -> dict | None:
    """Submit one case as one MPI job (sbatch, ntasks ranks); with wait, wait for it.

    The job runs the case as it was validated: a copy of the case file
    (out/slurm/case.toml), its relative paths read from the original file's folder (as
    given: a symbolic link to the file is not followed, as when it is checked); with
    report, the job writes report.html beside its results, as ``run --report`` does.

    Returns:
        The run's summary.json (as a dict) when waited for, else None.

    Raises:
        CaseError: sbatch or squeue is missing, the case file is the folder's case.toml,
            the folder's earlier job is still queued (or squeue cannot tell), or sbatch
            refuses the job (then what this submission wrote is removed).
        RunFailure: (wait) the job ended without a summary.
    """
    import json

    from ..errors import RunFailure

    _refuse_own_case(case, out)
    undo = preflight(out, names=("slurm", "slurm/case.toml"))
    snapshot = out / "slurm" / "case.toml"
    script = out / "slurm" / "run.sh"
    try:
        (out / "slurm").mkdir(parents=True, exist_ok=True)
        output.atomic_write(snapshot, case.read_text())
        text = run_script(snapshot, out, ntasks, overwrite, case_dir=case.absolute().parent,
                          name=case.stem, report=report)
        job = _sbatch(script, text, out, _command_line(run_options(out, ntasks, case.stem)))
    except CaseError as e:
        if not isinstance(e, MaybeSubmitted):
            undo.restore()
        raise
    say(f"submitted SLURM job {job}: {case} on {plural(ntasks, 'MPI rank')} "
        f"-> {out} (log {out / 'slurm' / f'run-{job}.out'})")
    if not wait:
        return None
    with _still_running(job, f"its results go to {out}"):
        while _in_queue(job):
            time.sleep(2)
    summary = out / "summary.json"
    if not summary.exists():
        log = out / "slurm" / f"run-{job}.out"
        text = log.read_text(errors="replace") if log.exists() else ""
        raise RunFailure(f"SLURM job {job} ended without a result: {failure_line(text)}")
    return json.loads(summary.read_text())
