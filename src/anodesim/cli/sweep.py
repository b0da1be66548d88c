"""``anodesim sweep STUDY.toml [-o DIR] [-j N] …``: a study, locally or on SLURM."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..case import CaseError

DESCRIPTION = ("Run every case of a study, each in its own process; finished cases are skipped "
               "when it is run again. Exit status 1 when a case failed (its row says why) or "
               "is still pending, 2 on bad input, 143 on SIGTERM, 130 on Ctrl-C.")


def add_args(p) -> None:
    p.add_argument("study", help="study file (TOML), or a study folder to resume")
    p.add_argument("-o", "--output", help="study folder (default results/<study name>)")
    p.add_argument("-j", "--jobs", type=int, default=1, help="cases run at once (processes)")
    p.add_argument("--list", action="store_true", help="print the cases and their state")
    p.add_argument("--task-id", type=int, metavar="N",
                   help="run case N only (what a SLURM array task runs)")
    p.add_argument("--submit", choices=("slurm",), help="submit the unfinished cases as a "
                   "job array instead of running them here")
    p.add_argument("--wait", action="store_true", help="with --submit: wait and collect")
    p.add_argument("--collect", action="store_true",
                   help="only rebuild results.csv and the plot from the finished cases")
    p.add_argument("--retry-failed", action="store_true", help="run failed cases again (with --task-id: case N if it failed)")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--report", action="store_true",
                   help="also write report.html (self-contained; see `anodesim report`)")
    # an executor's task: run only if the folder still holds this definition (its id)
    p.add_argument("--study-id", metavar="ID", help=argparse.SUPPRESS)


def sweep(args) -> int:
    """Run, list, resume, collect or submit a study.

    Refused under a parallel MPI launch: each case runs in its own process (or SLURM task),
    so extra ranks would run the same cases again and race on their folders."""
    from .. import study as sweep

    sweep.refuse_mpi_launch("sweep", "it", "-j {n}", "or with --submit slurm")
    _refuse_together(args)
    source = Path(args.study)
    st = sweep.load(source)  # bad input: one line, nothing written
    sweep.check_jobs(args.jobs, f"-j {args.jobs}")
    # (only where -j runs cases: not with --submit, --list, --collect or one --task-id)
    runs_here = not (args.submit or args.list or args.collect or args.task_id is not None)
    crowded = sweep.jobs_over_cores(args.jobs, f"-j {args.jobs}") if runs_here else None
    if crowded:
        print(f"anodesim: warning: {crowded}", file=sys.stderr)
    from ..output import refuse_blank_folder

    refuse_blank_folder(args.output, "-o", "the default folder")
    out = Path(args.output) if args.output else sweep.default_folder(st, source)
    if args.study_id is not None and st.id != args.study_id:
        raise CaseError(f"--study-id {args.study_id}: {out} holds another definition of the "
                        f"study now (id {st.id}), given to it after this task was submitted; "
                        "its case is not run (submit the study again)")
    if args.list:
        from ..study.queue import task_states

        queued = task_states(out)  # the cases of a SLURM array still in the queue
        if st.listed_id is not None and st.listed_id != st.id:  # see open_folder's refusal
            print(f"anodesim: {out}: its study.json lists its cases under other ids (study "
                  f"{st.listed_id}) than its definition gives here (study {st.id}): "
                  "written by another build or edited by hand; its cases are listed as this "
                  "version would run them (its results are not resumed)", file=sys.stderr)
        for p in st.points:
            row = sweep.result_of(out, p) if out.is_dir() else None
            state = row["status"] if row else "invalid" if p.error else queued.get(
                p.index, "to run")
            inputs = ", ".join(f"{k} = {v}" for k, v in p.inputs.items())
            why = f"  ({p.error})" if p.error and not row else \
                f"  ({row['error']})" if row and row.get("status") == "failed" and \
                row.get("error") else ""
            print(f"{p.index:5d}  {p.id}  {state:8s}  {inputs}{why}")
        return 0
    if args.wait and args.submit is None:
        raise CaseError("--wait: expected together with --submit slurm")
    if args.task_id is not None and not 0 <= args.task_id < len(st.points):
        raise CaseError(f"--task-id {args.task_id}: expected a case index from 0 to "
                        f"{len(st.points) - 1}")
    if args.collect and not (out / "study.json").is_file():
        raise CaseError(f"--collect: {out} holds no study (no study.json); expected the folder "
                        "of a study that has run (without --collect the sweep runs it there)")
    submit = args.submit == "slurm" and args.task_id is None and not args.collect
    undo = None
    if submit:
        from ..study.folder import refuse_while_run_locally
        from ..study.slurm import preflight

        refuse_while_run_locally(out)  # its array would run the cases running here
        undo = preflight(out, st.slurm)  # a SLURM client, no earlier array of out queued
    sweep.open_folder(st, out)  # read from out itself (a task, a resume): never redefines
    try:
        return _sweep_in(args, sweep, st, out, submit, undo)
    finally:
        sweep.release_folder(out)  # run_local lets go itself; every other mode here


def _sweep_in(args, sweep, st, out: Path, submit: bool, undo) -> int:
    """The sweep once open_folder has let it into the folder `out`."""
    say = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr))
    if args.task_id is not None:
        row = sweep.run_point(st, out, st.points[args.task_id], args.retry_failed)
        say(f"case {args.task_id} {row['id']}: {row['status']} {row['error']}")
        return 0 if row["status"] == "ok" else 1
    if args.collect:
        table = sweep.collect(st, out)
        sweep.plot(st, table)
    elif submit:
        table = sweep.submit_slurm(st, out, say, wait=args.wait,
                                   retry_failed=args.retry_failed, undo=undo)
    else:
        table = sweep.run_local(st, out, args.jobs, say, retry_failed=args.retry_failed)
    counts = {s: sum(r["status"] == s for r in table.rows) for s in ("ok", "failed", "pending")}
    say(f"{counts['ok']} ok, {counts['failed']} failed, {counts['pending']} pending: "
        f"{out / 'results.csv'}")
    from . import report

    # a report written earlier (e.g. by `--submit slurm --report`, all cases pending) is
    # made again with the table: never a stale page beside a new results.csv
    if args.report or (out / report.REPORT_NAME).is_file():
        say(f"report: {report.write(out)}")
    submitted = args.submit == "slurm" and not args.wait  # its cases are pending by design
    return 1 if counts["failed"] or (counts["pending"] and not submitted) else 0


def _refuse_together(args) -> None:
    """CaseError naming two options that each choose what the sweep does (list, collect,
    submit, run one case), or --retry-failed beside one that runs nothing (list, collect)."""
    given = [f"--{o.replace('_', '-')}" + ("" if v is True else f" {v}")
             for o, v in (("list", args.list), ("collect", args.collect),
                          ("submit", args.submit), ("task_id", args.task_id))
             if v is not None and v is not False]
    if len(given) > 1:
        raise CaseError(f"{given[0]} with {given[1]}: expected at most one of --list, "
                        "--collect, --submit, --task-id")
    if given and given[0].split()[0] in ("--list", "--task-id"):  # they would be ignored
        for other in (("--wait", args.wait), ("--report", args.report)):
            if other[1]:
                raise CaseError(f"{other[0]} with {given[0]}: expected --wait with --submit "
                                "slurm, --report with a sweep that writes the table")
    # --task-id --retry-failed is a SLURM retry's array task: it replaces the failed record
    if args.retry_failed and given and given[0].split()[0] in ("--list", "--collect"):
        raise CaseError(f"--retry-failed with {given[0]}: expected it alone, with --submit "
                        "or with --task-id (it runs the failed cases again)")
