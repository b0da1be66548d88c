"""Command line: ``anodesim run CASE.toml [-o DIR]``, ``anodesim rate CASE.toml``,
``anodesim sweep STUDY.toml [-o DIR] [-j N]``, ``anodesim check CASE.toml``,
``anodesim materials``.

Exit status: 0 success, 1 the run failed (solver, material range, form compiler, disk), 2 bad
input (one line on stderr naming the key, the value and what was expected; nothing written),
130 interrupted. Every failure is one line on stderr; ``--debug`` (or ``ANODESIM_DEBUG=1``)
adds the traceback for a bug report. Under MPI a failure on any rank ends all ranks.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import traceback
from pathlib import Path

from . import __version__
from .case import CaseError, load
from .errors import RunFailure, abort_other_ranks, debug_enabled, rank_prefix, report


def _output_folder(out: Path) -> Path:
    """Check that out can be a run folder (bad input otherwise, before anything is written)."""
    if out.exists() and not out.is_dir():
        raise CaseError(f"-o {out}: exists and is not a directory; expected a run folder")
    parent = out
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise CaseError(f"-o {out}: {parent} is a file; expected a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CaseError(f"-o {out}: {parent} is not writable; expected a folder you can "
                        "write to")
    return out


def _run(args) -> int:
    case = load(args.case)  # validation first: a bad case writes nothing
    out = _output_folder(Path(args.output) if args.output else
                         Path("results") / Path(args.case).stem)
    from .resolve import prepare

    prepare(case)  # everything that can be checked before writing (ranges, probes, steps)
    from . import _mpi  # noqa: F401
    from .simulation import run

    quiet = args.quiet
    if not quiet:
        print(f"anodesim {__version__}: {case.title} -> {out}", file=sys.stderr)
    existed = out.exists()
    try:
        res = run(case, out, progress=not quiet)
    except CaseError:
        # Found while setting up (e.g. a probe outside the mesh): leave nothing behind.
        if not existed and out.exists():
            shutil.rmtree(out, ignore_errors=True)
        raise
    except RunFailure as e:
        if out.exists():
            raise RunFailure(f"{e} (partial results in {out})") from e
        raise
    s = res.summary_dict()
    if not quiet:
        r, n, b = s["results"], s["numerics"], s["beam"]
        print(f"  deposited power {b['deposited_power_W']:.4g} W of {b['beam_power_W']:.4g} W "
              f"(eta_E = {b['backscatter_energy_fraction']:.3g})", file=sys.stderr)
        print(f"  peak temperature {r['T_peak_max_C']:.1f} °C at t = {r['T_peak_max_time_s']:.4g} s",
              file=sys.stderr)
        for region, T in r["T_max_by_region_C"].items():
            lim = r["limits_C"][region]
            print(f"  max {region:<10s} {T:8.1f} °C   (damage {lim['damage']:.0f} °C, "
                  f"melting {lim['melting']:.0f} °C)", file=sys.stderr)
        m = s.get("mechanics")
        if m:
            if "drift_across_view_um" in m:
                d = m["drift_across_view_um"]
                print(f"  spot drift across the view axis {d['final']:.3g} µm at the end "
                      f"(largest {d['max_abs']:.3g} µm), {m['image_drift_px']['final']:.3g} px "
                      f"on the detector; along the beam {m['spot_shift_um']['final']:+.3g} µm",
                      file=sys.stderr)
            else:
                print(f"  axial spot displacement {m['u_spot_z_um']['final']:+.3g} µm at the end",
                      file=sys.stderr)
            vm = ", ".join(f"{r} {v['value']:.0f} MPa" for r, v in m["von_mises_max_MPa"].items())
            print(f"  largest von Mises stress: {vm}", file=sys.stderr)
        print(f"  {n['cells']} cells, {n['dofs']} dofs, {n['time_steps']} steps, "
              f"{s['timing_s']['total']:.1f} s wall", file=sys.stderr)
    return 0


def _rate(args) -> int:
    case = load(args.case)
    out = _output_folder(Path(args.output) if args.output else
                         Path("results") / f"{Path(args.case).stem}_rating")
    from .rating import ResponseError, precheck, rate

    charts = ("single", "duty", "continuous") if args.chart == "all" else (args.chart,)
    say = (lambda *a: None) if args.quiet else (lambda m: print(m, file=sys.stderr))
    try:
        precheck(case)  # bad input: one line, nothing written
        say(f"anodesim {__version__}: rating {case.title} -> {out}")
        rate(case, out, charts, confirm=not args.no_confirm, progress=say,
             confirm_charts=args.confirm_charts)
    except ResponseError as e:
        raise CaseError(str(e)) from None
    return 0


def _sweep(args) -> int:
    from . import study as sweep

    source = Path(args.study)
    st = sweep.load(source)  # bad input: one line, nothing written
    sweep.check_jobs(args.jobs, f"-j {args.jobs}")
    out = Path(args.output) if args.output else sweep.default_folder(st, source)
    if args.list:
        for p in st.points:
            row = sweep.result_of(out, p) if out.is_dir() else None
            state = row["status"] if row else "invalid" if p.error else "to run"
            inputs = ", ".join(f"{k} = {v}" for k, v in p.inputs.items())
            why = f"  ({p.error})" if p.error and not row else ""
            print(f"{p.index:5d}  {p.id}  {state:8s}  {inputs}{why}")
        return 0
    if args.wait and args.submit is None:
        raise CaseError("--wait: expected together with --submit slurm")
    if args.task_id is not None and not 0 <= args.task_id < len(st.points):
        raise CaseError(f"--task-id {args.task_id}: expected a case index from 0 to "
                        f"{len(st.points) - 1}")
    sweep.open_folder(st, out)
    say = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr))
    if args.task_id is not None:
        row = sweep.run_point(st, out, st.points[args.task_id])
        say(f"case {args.task_id} {row['id']}: {row['status']} {row['error']}")
        return 0 if row["status"] == "ok" else 1
    if args.collect:
        table = sweep.collect(st, out)
        sweep.plot(st, table, say)
    elif args.submit == "slurm":
        table = sweep.submit_slurm(st, out, say, wait=args.wait)
    else:
        table = sweep.run_local(st, out, args.jobs, say, retry_failed=args.retry_failed)
    counts = {s: sum(r["status"] == s for r in table.rows) for s in ("ok", "failed", "pending")}
    say(f"{counts['ok']} ok, {counts['failed']} failed, {counts['pending']} pending: "
        f"{out / 'results.csv'}")
    return 1 if counts["failed"] else 0


def _check(args) -> int:
    from .resolve import prepare

    case = load(args.case)
    prep = prepare(case)
    print(f"{args.case}: valid ({case.title}, case hash {case.hash()}; "
          f"{len(prep.steps)} time steps planned)")
    return 0


def _materials(args) -> int:
    from .materials import PROPERTY_KEYS, library

    def C(T_K: float) -> str:
        return f"{T_K - 273.15:.0f}"

    def span(t) -> str:
        lo, hi = t.range_K
        return f"{C(lo)} to {C(hi)} °C"

    print("anodesim material library: temperatures in °C; tables are interpolated linearly "
          "inside their range and never extrapolated")
    for key, m in sorted(library().items(), key=lambda kv: kv[0].lower()):
        print(f"{key:8s} {m.name:31s} k(20 °C) {float(m.k(293.15)):7.1f} W/m/K   "
              f"{m.melting_kind} {C(m.melting_K)} °C   damage {C(m.damage_K)} °C   "
              f"eta_E {m.backscatter_energy_fraction:.3g}")
        groups: dict[str, list[str]] = {}  # range -> properties, in PROPERTY_KEYS order
        for prop in PROPERTY_KEYS:
            groups.setdefault(span(m.tables[prop]), []).append(prop)
        if len(groups) == 1:
            ranges = f"all properties {next(iter(groups))}"
        else:
            ranges = "; ".join(f"{', '.join(props)} {rng}" for rng, props in groups.items())
        sy = m.yield_strength
        ys = f"yield strength {span(sy)}" if sy is not None else "yield strength: none"
        print(f"{'':8s} tables: {ranges}; {ys}")
    print("Sources, provenance and the reason for each limit: src/anodesim/data/materials.toml")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="anodesim", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"anodesim {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of a failure (also ANODESIM_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run a case and write its results")
    p.add_argument("case", help="case file (TOML)")
    p.add_argument("-o", "--output", help="run directory (default results/<case name>)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress or summary")
    p.set_defaults(func=_run)
    p = sub.add_parser("rate", help="maximum safe loading and rating charts")
    p.add_argument("case", help="case file (TOML)")
    p.add_argument("--chart", choices=("single", "duty", "continuous", "all"), default="all")
    p.add_argument("-o", "--output", help="folder (default results/<case name>_rating)")
    p.add_argument("--no-confirm", action="store_true",
                   help="skip the full FE confirmation of the maximum safe loading")
    p.add_argument("--confirm-charts", action="store_true",
                   help="also confirm every single-load chart point by full FE runs")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_rate)
    p = sub.add_parser("sweep", help="run a study: a base case and parameter axes",
                       description="Run every case of a study, each in its own process; "
                       "finished cases are skipped when it is run again. Exit status 1 when "
                       "a case failed (its row says why), 2 on bad input.")
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
    p.add_argument("--retry-failed", action="store_true", help="run failed cases again")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_sweep)
    p = sub.add_parser("check", help="validate a case file without running it")
    p.add_argument("case")
    p.set_defaults(func=_check)
    p = sub.add_parser("materials", help="list the material library")
    p.set_defaults(func=_materials)
    for p in sub.choices.values():  # --debug after the subcommand too
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if debug_enabled(args.debug):
        import logging

        logging.basicConfig(format="%(name)s: %(message)s")
        logging.getLogger("anodesim").setLevel(logging.INFO)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("anodesim: interrupted", file=sys.stderr)
        abort_other_ranks(130)
        return 130
    except Exception as e:  # every failure: one line (and the traceback only when asked)
        status, line = report(e)
        if debug_enabled(args.debug):
            traceback.print_exc()
        print(rank_prefix() + line, file=sys.stderr)
        abort_other_ranks(status)
        return status


if __name__ == "__main__":
    sys.exit(main())
