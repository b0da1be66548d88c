"""``anodesim run CASE.toml [-o DIR] [-q]``: one case, its files and its key figures."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from .. import __version__
from ..case import CaseError, load
from ..errors import RunFailure, failed_on_every_rank, rank_zero_alone
from ..extra_focal import console_line as extra_focal_line
from ..limits import ImageDriftLimit
from ..output import output_folder, refuse_blank_folder, refuse_other_result
from ..plotter import FigureFailure
from . import report


def add_args(p) -> None:
    p.add_argument("case", help="case file (TOML)")
    p.add_argument("-o", "--output", help="run directory (default results/<case name>)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress or summary")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier run in the folder (its files are set aside "
                        "until the new run has a summary, and come back if it stops before; "
                        "other files in the folder stay)")
    p.add_argument("--no-fail-on-limits", action="store_true",
                   help="exit 0 even when a limit is broken (the results say so)")
    p.add_argument("--force", action="store_true",
                   help="run a case that looks absurd (a spot below the model's validity, "
                        "millions of cells in 2-D); see `anodesim check`")
    p.add_argument("--report", action="store_true",
                   help="also write report.html (self-contained; see `anodesim report`)")
    p.add_argument("--submit", choices=("slurm",),
                   help="submit the run to SLURM as one MPI job instead of running it here")
    p.add_argument("--ntasks", type=int, default=None, metavar="N",
                   help="with --submit: MPI ranks of the job (one node)")
    p.add_argument("--wait", action="store_true", help="with --submit: wait for the job")
    # what a submitted job runs: the copy of the case made at submission, whose relative
    # paths refer to the original file's folder
    p.add_argument("--case-dir", help=argparse.SUPPRESS)


#: Most MPI ranks of a --submit slurm run: the job is one node (#SBATCH --nodes=1), and the
#: largest nodes have 2 x 192 cores (AMD EPYC 9965), 768 hardware threads. 100000000 was
#: submitted and waited in the queue for a node of that size for ever.
MAX_NTASKS = 1024

#: Exit status of a run that finished with a limit broken.
LIMIT_BROKEN = 3
_UNITS = {"C": "°C", "um": "µm", "rel": "(-)"}
#: Least width of the limits table's name column: "interface target_heat_sink".
LABEL_WIDTH = 26


def limits_table(checks) -> list[str]:
    """Console lines of the limit checks: limit, worst value, when, margin, holds/BROKEN."""
    lines = ["  limits in force (worst over the run):"]
    # as wide as the longest name (a housing's joint, "interface heat_sink_housing", or a
    # user mesh's region, "region <name>", is longer than the 26 characters of the others)
    width = max([LABEL_WIDTH, *(len(c.label) for c in checks)])
    for c in checks:
        unit = _UNITS.get(c.limit.unit, c.limit.unit)
        margin_unit = "K" if c.limit.unit == "C" else unit
        lines.append(f"    {c.label:<{width}s} limit {c.limit.value:9.4g} {unit:<4s} worst "
                     f"{c.worst:9.4g} {unit:<4s} at t = {c.time_s:<9.4g} s  margin "
                     f"{c.margin:+9.4g} {margin_unit:<4s} {'holds' if c.holds else 'BROKEN'}")
        if isinstance(c.limit, ImageDriftLimit):  # the limit as the case gave it
            d = c.to_dict()
            lines.append(f"    {'':<{width}s} (limits.drift_px = {d['limit_px']:g} px on the "
                         f"detector, worst {d['worst_px']:.4g} px; M = "
                         f"{c.limit.magnification:.4g}, pixel {c.limit.pixel_um:g} µm)")
    return lines


#: Least width of the region column of `run`'s "max <region>" lines: "heat_sink".
REGION_WIDTH = 10


def region_maxima(by_region: dict[str, float]) -> list[str]:
    """Console lines of each region's hottest temperature (°C), the numbers in one column:
    the names padded to the longest of the case (a user mesh's "heat_sink_housing_braze"
    pushed its number out of the column of the others, padded to 10), at least
    REGION_WIDTH (README's quoted run)."""
    width = max([REGION_WIDTH, *(len(r) for r in by_region)])
    return [f"  max {region:<{width}s} {T:8.1f} °C" for region, T in by_region.items()]


def signed(x: float) -> str:
    """x with its sign to 3 significant digits ("+1.06", "-4.72"), and zero as "0": a shift
    that is exactly zero (the u of a view in the anode's symmetry plane) read "+0"."""
    return f"{x:+.3g}" if x else "0"


def broken_line(checks) -> str | None:
    """One line naming the broken limits (an interface by its joint), or None when every
    limit holds."""
    bad = [c for c in checks if not c.holds]
    if not bad:
        return None
    unit = lambda c: _UNITS.get(c.limit.unit, c.limit.unit)  # noqa: E731
    what = "; ".join(f"{c.label} reached {c.worst:.4g} {unit(c)} at t = {c.time_s:.4g} s "
                     f"(limit {c.limit.value:.4g} {unit(c)})" for c in bad)
    return f"anodesim: limit broken: {what}"


def _submit(args, out: Path) -> int:
    """``--submit slurm``: the case as one MPI job; with --wait, its exit status."""
    if args.submit is None:
        raise CaseError("--wait: expected together with --submit slurm")
    args.ntasks = 1 if args.ntasks is None else args.ntasks
    if not 1 <= args.ntasks <= MAX_NTASKS:
        raise CaseError(f"--ntasks {args.ntasks}: expected from 1 to {MAX_NTASKS} MPI ranks "
                        "(the job runs on one node; the largest have 384 cores)")
    from ..study.slurm import submit_run

    say = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr))
    s = submit_run(Path(args.case), out, args.ntasks, say, args.wait, args.overwrite,
                   args.report)  # the job writes report.html: also without --wait
    if s is None:
        return 0
    if s["status"] != "complete":
        raise RunFailure(f"the SLURM run failed: {s.get('error') or s['status']}")
    broken = [lim for lim in s["results"]["limits"] if not lim["holds"]]
    from ..study.local import plural

    ranks = plural(s['provenance'].get('mpi_ranks', args.ntasks), 'rank')
    say(f"  peak temperature {s['results']['T_peak_max_C']:.1f} °C; "
        f"{s['numerics']['cells']} cells on {ranks}, {s['timing_s']['total']:.1f} s wall")
    if args.report and (out / "report.html").is_file():
        say(f"  report: {out / 'report.html'}")
    return LIMIT_BROKEN if broken and not args.no_fail_on_limits else 0


def run(args) -> int:
    """Run a case into its folder; print the key figures unless quiet."""
    case = load(args.case, args.case_dir)  # validation first: a bad case writes nothing
    text = report.case_text(args.case)  # kept as case.toml: the file as run, not as edited since
    if args.ntasks is not None and not (args.submit or args.wait):
        raise CaseError(f"--ntasks {args.ntasks}: expected together with --submit slurm (a "
                        f"local MPI run is `mpirun -n {args.ntasks} anodesim run ...`)")
    refuse_blank_folder(args.output, "-o", "the default folder")
    out = output_folder(Path(args.output) if args.output is not None else
                         Path("results") / Path(args.case).stem)
    from ..errors import launcher_size
    from ..run_folder import recover_set_aside

    inputs = [args.case, case.mesh.file, case.geometry.file]  # kept in the folder
    # serial runs only: under mpirun the ranks would look at the folder while it changes
    recovered = recover_set_aside(out, inputs) if launcher_size() <= 1 else None
    if recovered and not args.quiet:
        print(f"anodesim: {recovered}", file=sys.stderr)
    earlier = refuse_other_result(out, "run")  # a rating's or a study's folder: refused
    found = earlier[1] if earlier else None  # the file that marks an earlier run
    if found and not args.overwrite:
        raise CaseError(f"-o {out}: holds an earlier run ({found}); expected a new or empty "
                        "folder, or --overwrite to replace that run")
    from ..resolve import prepare

    prep = prepare(case)  # everything that can be checked before writing (ranges, probes, steps)
    if not args.force:
        from .. import cost

        cost.refuse_absurd(case, prep, args.case, "--force runs it anyway")
    if args.submit or args.wait:
        return _submit(args, out)
    import functools

    from .. import geometry
    from ..resolve import mesh_key

    # gmsh on the idle core while MPI, PETSc and dolfinx load (geometry.ahead)
    geometry.ahead.start(case, mesh_key(case, prep),
                         functools.partial(geometry.build_mesh, case, prep))
    from .._mpi import MPI

    from ..simulation import run

    from ..run_folder import aside_folder, earlier_comes_back, set_aside_run, settle_set_aside

    quiet = args.quiet or MPI.COMM_WORLD.rank > 0  # under MPI, rank 0 speaks for all
    # --overwrite: no file of the earlier run may sit beside the new one; its files only
    # (notes beside them stay, and so do this run's inputs), set aside until the new run
    # has a result (bad input found while setting up, or a stop then, brings them back)
    aside = None
    existed = out.exists()
    try:
        if found:
            # (a file that cannot be moved): every rank stops
            with rank_zero_alone(MPI.COMM_WORLD, OSError):
                if MPI.COMM_WORLD.rank == 0:
                    aside = aside_folder(out)
                    set_aside_run(out, aside, inputs)
        if not quiet:
            print(f"anodesim {__version__}: {case.title} -> {out}", file=sys.stderr)
        res = run(case, out, progress=not quiet)
    except CaseError:
        # Found while setting up (e.g. a probe outside the mesh, a mesh.file that cannot be
        # read): leave the folder as it was (an earlier run comes back below)
        if not existed and out.exists():
            shutil.rmtree(out, ignore_errors=True)
        raise
    except RunFailure as e:
        if out.exists() and not earlier_comes_back(out, aside):
            if MPI.COMM_WORLD.rank == 0:
                report.keep_case_text(text, out)
            if isinstance(e, FigureFailure):  # the run is complete but for a figure
                raise
            # the summary, or the partial series alone (under MPI a rank that failed alone:
            # no summary, the series rank 0 wrote at the save times)
            if any((out / f).exists() for f in ("summary.json", "timeseries.csv")):
                failure = RunFailure(f"{e} (partial results in {out}"
                                     f"{_failed_report(args, out)})")
            else:
                failure = RunFailure(f"{e} (no results: it failed before its first result; "
                                     f"{out} keeps the case and the mesh)")
            # a failure every rank met (a melting run) stays one: one line, no MPI_Abort
            failure.anodesim_every_rank = failed_on_every_rank(e)
            raise failure from e
        raise
    except KeyboardInterrupt:  # Ctrl-C, SIGTERM: the partial results keep their case
        if out.exists() and MPI.COMM_WORLD.rank == 0 and not earlier_comes_back(out, aside):
            report.keep_case_text(text, out)
        raise
    finally:  # the earlier run goes once the new one has a summary, else it comes back
        settle_set_aside(out, aside, inputs)
    if MPI.COMM_WORLD.rank == 0:
        report.keep_case_text(text, out)
        if args.report:
            path = report.write(out)
            if not quiet:
                print(f"  report: {path}", file=sys.stderr)
    s = res.summary_dict()
    if not quiet:
        r, n, b = s["results"], s["numerics"], s["beam"]
        print(f"  deposited power {b['deposited_power_W']:.4g} W of {b['beam_power_W']:.4g} W "
              f"(eta_E = {b['backscatter_energy_fraction']:.3g})", file=sys.stderr)
        print("  " + extra_focal_line(b), file=sys.stderr)
        print(f"  peak temperature {r['T_peak_max_C']:.1f} °C at t = {r['T_peak_max_time_s']:.4g} s",
              file=sys.stderr)
        if b.get("footprint_um"):
            eff = b["effective_spot_um"]
            print(f"  incidence {b['incidence_deg']:.3g}°, footprint "
                  f"{b['footprint_um'][0]:.3g} x {b['footprint_um'][1]:.3g} µm, seen along the "
                  "view axis " + (f"{eff[0]:.3g} x {eff[1]:.3g} µm" if eff else "(no view axis)"),
                  file=sys.stderr)
        for line in region_maxima(r["T_max_by_region_C"]):
            print(line, file=sys.stderr)
        lf = r.get("life", {})
        if lf.get("erosion_rate_nm_h") is not None:
            rx = lf.get("recrystallisation_fraction_per_h")
            print(f"  life at the spot: evaporation {lf['erosion_rate_nm_h']:.3g} nm/h"
                  + (f", {rx:.3g} of the recrystallisation time used per hour"
                     if rx is not None else ""), file=sys.stderr)
        if lf.get("fatigue_verdict"):
            print(f"  thermal fatigue: {lf['fatigue_verdict']}", file=sys.stderr)
        if lf.get("repeat_note"):
            print(f"  warning: {lf['repeat_note']}", file=sys.stderr)
        m = s.get("mechanics")
        if m:
            if "drift_across_view_um" in m:
                d = m["drift_across_view_um"]
                print(f"  spot drift across the view axis {d['final']:.3g} µm at the end "
                      f"(largest {d['max_abs']:.3g} µm), image shift (u, v) "
                      f"({signed(m['image_shift_u_px']['final'])}, "
                      f"{signed(m['image_shift_v_px']['final'])}) px; along the beam "
                      f"{signed(m['spot_shift_um']['final'])} µm", file=sys.stderr)
                if {"magnification_change_rel", "drift_along_view_um"} <= set(m):  # the only
                    dM = m["magnification_change_rel"]  # effect of a drift along the view
                    print(f"  magnification change dM/M {signed(dM['final'])} at the end "
                          f"(largest {signed(dM['largest'])}); spot shift along the view "
                          f"{signed(m['drift_along_view_um']['final'])} µm", file=sys.stderr)
            else:
                print(f"  axial spot displacement {signed(m['u_spot_z_um']['final'])} µm at "
                      "the end", file=sys.stderr)
            vm = ", ".join(f"{r} {v['value']:.0f} MPa" for r, v in m["von_mises_max_MPa"].items())
            print(f"  largest von Mises stress: {vm}", file=sys.stderr)
            from ..limits import coarse_yield_cells

            for key in (k for k in m if k.startswith("yield_use_")):
                coarse = coarse_yield_cells(m[key].get("cell_um"))
                coarse = f"; {coarse}" if coarse else ""
                print(f"  {key[len('yield_use_'):-len('_rel')]} near the joint: "
                      f"{m[key]['max_abs']:.3g} x its yield strength (0.1 mm average{coarse})",
                      file=sys.stderr)
        print(f"  {n['cells']} cells, {n['dofs']} dofs, {n['time_steps']} steps, "
              f"{s['timing_s']['total']:.1f} s wall", file=sys.stderr)
        for line in limits_table(res.limits):
            print(line, file=sys.stderr)
    broken = broken_line(res.limits)
    if broken and MPI.COMM_WORLD.rank == 0:
        fix = "" if args.no_fail_on_limits else " (exit status 3; --no-fail-on-limits: 0)"
        print(broken + fix, file=sys.stderr)
    return LIMIT_BROKEN if broken and not args.no_fail_on_limits else 0


def _failed_report(args, out) -> str:
    """With --report, the report of a run that failed (its banner says why and how far the
    partial results go), and the words naming it for the run's one line; else ""."""
    from .._mpi import MPI

    if not args.report or MPI.COMM_WORLD.rank != 0 or not (out / "summary.json").exists():
        return ""
    try:
        return f"; report: {report.write(out)}"
    except Exception:  # noqa: BLE001 - the run's own failure is the one to report
        return "; its report could not be written"
