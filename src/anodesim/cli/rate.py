"""``anodesim rate CASE.toml [--chart …] [-o DIR]``: maximum safe loading and the charts."""

from __future__ import annotations

import sys
from pathlib import Path

from .. import __version__
from ..case import CaseError, load
from ..output import output_folder, refuse_blank_folder, refuse_other_result
from . import report


def add_args(p) -> None:
    p.add_argument("case", help="case file (TOML)")
    p.add_argument("--chart", choices=("single", "duty", "period", "continuous", "life", "all"),
                   default="all")
    p.add_argument("-o", "--output", help="folder (default results/<case name>_rating)")
    p.add_argument("--no-confirm", action="store_true",
                   help="skip the full FE confirmation of the maximum safe loading")
    p.add_argument("--confirm-charts", action="store_true",
                   help="also confirm every single-load chart point by full FE runs")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier rating in the output folder")
    p.add_argument("--fresh", action="store_true",
                   help="make every FE run again: discard the runs an interrupted rating "
                        "kept in the output folder (by default a re-run resumes from them)")
    p.add_argument("--force", action="store_true",
                   help="rate a case that looks absurd (a spot below the model's validity, "
                        "millions of cells in 2-D); see `anodesim check`")
    p.add_argument("--report", action="store_true",
                   help="also write report.html (self-contained; see `anodesim report`)")


def rate(args) -> int:
    """Rate a case into its folder (rating charts, rating.json).

    Under MPI every rank computes the rating (the FE confirmations are shared, the
    response engine is each rank's own), and rank 0 alone prints and writes the folder.
    Each full FE run is kept in the folder's checkpoint as it finishes: run again after a
    kill or a crash, the same command takes those runs back (rating.checkpoint)."""
    case = load(args.case)
    text = report.case_text(args.case)  # kept as case.toml: the file as rated
    refuse_blank_folder(args.output, "-o", "the default folder")
    out = output_folder(Path(args.output) if args.output else
                         Path("results") / f"{Path(args.case).stem}_rating")
    earlier = refuse_other_result(out, "rating")  # a run's or a study's folder
    if earlier and not args.overwrite:
        raise CaseError(f"-o {out}: holds an earlier rating ({earlier[1]}); expected a new or "
                        "empty folder, or --overwrite to replace that rating")
    from ..rating import helper
    from ..rating.kirchhoff import PointRuns

    # a helper for the FE anchors on the idle core, forked before MPI starts
    with helper.started(not args.no_confirm and helper.anchored(args.chart), case,
                        PointRuns):
        from .._mpi import MPI

        from ..rating import ResponseError, precheck, rate

        from ..rating.rate import chart_selection

        charts = chart_selection(args.chart)
        lead = MPI.COMM_WORLD.rank == 0
        say = (lambda *a: None) if args.quiet or not lead else (
            lambda m: print(m, file=sys.stderr))
        try:
            prep = precheck(case, charts)  # bad input: one line, nothing written
            if not args.force:  # tens of full FE runs: refused as `anodesim run` refuses
                from .. import cost

                cost.refuse_absurd(case, prep, args.case, "--force rates it anyway")
            say(f"anodesim {__version__}: rating {case.title} -> {out}")
            # written only once rated: input refused while rating (a pre-load the anode
            # cannot hold) leaves an earlier rating in place
            rating = rate(case, None, charts, confirm=not args.no_confirm, progress=say,
                          confirm_charts=args.confirm_charts, checkpoint=out,
                          fresh=args.fresh)
        except ResponseError as e:
            raise CaseError(str(e)) from None
    if lead:
        from ..rating.rate import publish

        publish(rating, out, case, text, replace=earlier is not None, keep=[args.case])
        if args.report:
            say(f"  report: {report.write(out)}")
    return 0
