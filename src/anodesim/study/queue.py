"""Calls to the SLURM client (sbatch, squeue, scancel, scontrol) with a time limit, and the
job a study or run folder recorded (slurm/job_id): what slurm.py submits with and what the
folder protocol (folder.py) asks before a study's definition changes. Imports nothing of
the study package, so both can use it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ..case import CaseError

#: How long one sbatch, squeue, scancel or scontrol call may take before it counts as not
#: answering (a hung controller would otherwise hang the command).
SLURM_TIMEOUT_S = 30


def _slurm(args: list[str], text: str | None = None) -> subprocess.CompletedProcess:
    """Run a SLURM client command (its input on stdin), at most SLURM_TIMEOUT_S.

    Raises:
        CaseError: it did not answer in time, or could not be started."""
    try:
        return subprocess.run(args, input=text, capture_output=True, text=True,
                              timeout=SLURM_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise CaseError(f"--submit slurm: {args[0]} did not answer in {SLURM_TIMEOUT_S} s; "
                        "expected a SLURM controller that answers (see `sinfo`)") from None
    except OSError as e:
        raise CaseError(f"--submit slurm: {args[0]} could not be started ({e.strerror}); "
                        "expected a SLURM client on PATH") from None


def _squeue(job: str, fmt: str, tasks: bool = False) -> tuple[str | None, str]:
    """squeue's lines for a job in the format fmt (tasks: one line per array task) and why
    it could not tell: ("", "") once the job has left the queue (an empty answer, or the
    controller no longer knows the id), (None, why) when squeue does not answer."""
    try:
        r = _slurm(["squeue", "-h", *(["-r"] if tasks else []), "-j", job, "-o", fmt])
    except CaseError as e:
        return None, str(e).removeprefix("--submit slurm: ")
    if r.returncode == 0:
        return r.stdout, ""
    if "Invalid job id" in r.stderr:  # gone from the controller's memory: finished
        return "", ""
    why = "; ".join(line.strip() for line in r.stderr.splitlines() if line.strip())
    return None, why or f"exit status {r.returncode}"


def check_client() -> None:
    """CaseError unless sbatch and squeue are on PATH (before anything is written)."""
    for tool in ("sbatch", "squeue"):
        if shutil.which(tool) is None:
            raise CaseError(f"--submit slurm: {tool} not found; expected a SLURM client on "
                            "PATH")


def recorded_job(out: Path) -> str | None:
    """The job id in out/slurm/job_id (the folder's last submission), or None."""
    try:
        return (out / "slurm" / "job_id").read_text().strip() or None
    except OSError:
        return None


def task_states(out: Path) -> dict[int, str]:
    """Case index -> "queued" or "running" for the tasks of the study folder's recorded
    job that squeue still lists (one squeue call; empty without a job, squeue or an
    answer: --list and a local sweep only inform, the first result to finish stands)."""
    job = recorded_job(out)
    if job is None or shutil.which("squeue") is None:
        return {}
    lines, _ = _squeue(job, "%K|%T", tasks=True)
    states = {}
    for line in (lines or "").split():
        index, _, state = line.partition("|")
        if index.isdigit():
            states[int(index)] = "running" if state in ("RUNNING", "COMPLETING") else "queued"
    return states
