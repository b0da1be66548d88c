"""``anodesim drift-table CASE.toml --schedule 0:600:10 [-o FILE.csv]``: the predicted focal-spot
position at the times of a scan schedule, for reconstruction software that takes a source
position per projection.

The case is run as given (its [loading] is the tube's power against time; it needs [mounts]
and [drift]) with the thermoelastic stage solved at the schedule's times; the table gives at
each time the source position in the tube frame (x, y, z mm: the nominal impact point plus
the drift δ along the beam), δ itself (µm), the signed image shift on the detector's u and v
axes (px; v is the beam direction projected on the detector), ΔM/M and, with
``drift.detector_radius_mm``, the off-axis shift there (px). Written atomically, under MPI
by rank 0 alone (the run is shared by the ranks).
"""

from __future__ import annotations

import dataclasses as dc
import math
import sys
from pathlib import Path

import numpy as np

from ..case import CaseError, load
from ..output import output_folder

DESCRIPTION = ("Run a case (with [mounts] and [drift]) at the times of a scan schedule and write "
               "the predicted focal-spot position at each, a row per time in the schedule's "
               "order, for reconstruction software that takes a source position per "
               "projection.")


def add_args(p) -> None:
    p.add_argument("case", help="case file (TOML) with [mounts] and [drift]")
    p.add_argument("--schedule", required=True,
                   help="the times (s): START:STOP:STEP, or a file with one time per line "
                        "(a CSV whose first column is the time; a header line is skipped)")
    p.add_argument("-o", "--output", help="CSV file (default results/<case name>_drift.csv)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress")
    p.dash_values = ("--schedule",)  # a START below 0 is a value (`--schedule -1:10:1`)


def parse_schedule(text: str, end_s: float) -> list[float]:
    """The schedule's times (s), each in [0, end_s], in the order given and with its
    repeats: a row per projection, so that the table's rows line up with the projections
    (a scan that goes back, or takes two projections at one time, has them too).

    Raises:
        CaseError: an unreadable schedule or a time outside the case's loading.
    """
    if not text.strip():  # Path("") is the current folder
        raise CaseError(f"--schedule = {text!r}: empty schedule; expected START:STOP:STEP in s "
                        "or a file of times")
    if text.count(":") == 2 and not Path(text).exists():
        try:
            start, stop, step = (float(x) for x in text.split(":"))
        except ValueError:
            raise CaseError(f"--schedule = {text!r}: expected START:STOP:STEP in s") from None
        if not (step > 0 and stop >= start and math.isfinite(stop)):
            raise CaseError(f"--schedule = {text!r}: expected START:STOP:STEP with STEP > 0 "
                            "and STOP ≥ START")
        count = (stop - start) / step * (1 + 1e-12)  # inf: 0:1e308:1e-308 ("internal error")
        if not count < 100000:
            raise CaseError(f"--schedule = {text!r}: {count + 1:.4g} times; expected at most "
                            "100000")
        n = int(math.floor(count)) + 1
        times = [start + i * step for i in range(n)]
    else:
        try:
            lines = Path(text).read_text().splitlines()
        except OSError as e:
            raise CaseError(f"--schedule = {text!r}: cannot read it ({e.strerror}); expected "
                            "START:STOP:STEP or a file of times") from None
        except UnicodeDecodeError:
            raise CaseError(f"--schedule = {text!r}: not a text file (UTF-8); expected a "
                            "file of times, one a line") from None
        times = []
        for i, line in enumerate(lines):
            cell = line.split(",")[0].strip()
            if not cell or cell.startswith("#"):
                continue
            try:
                times.append(float(cell))
            except ValueError:
                if times or i > 0:
                    raise CaseError(f"--schedule = {text!r}: line {i + 1} {cell!r} is not a "
                                    "time in s") from None
        if not times:
            raise CaseError(f"--schedule = {text!r}: no times in the file")
    for t in times:
        if not (math.isfinite(t) and -1e-12 <= t <= end_s * (1 + 1e-9)):
            raise CaseError(f"--schedule: time {t:g} s: expected a time in [0, {end_s:g}] s "
                            "(the case's loading)")
    return [max(t, 0.0) for t in times]


TABLE_FIRST_LINE = "# anodesim drift table of "


def _refuse_a_file_not_a_drift_table(dest: Path, case_file: str, schedule: str) -> None:
    """-o may replace an earlier drift table, never the case file, the schedule's file or
    any other file (a scan's own list of projections): `-o case.toml` wrote the table over
    the case.

    Raises:
        CaseError: dest is an existing file that is not a drift table anodesim wrote.
    """
    if not dest.exists():
        return
    for given, what in ((case_file, "the case file"), (schedule, "the --schedule file")):
        if Path(given).is_file() and dest.samefile(given):
            raise CaseError(f"-o {dest}: is {what}; expected another file name for the table")
    try:
        with open(dest, encoding="utf-8") as f:
            first = f.readline()
    except (OSError, UnicodeDecodeError):
        first = ""
    if not first.startswith(TABLE_FIRST_LINE):
        raise CaseError(f"-o {dest}: exists and is not a drift table anodesim wrote; expected a "
                        "new file name or an earlier drift table to replace")


def drift_table(args) -> int:
    """Run the case at the schedule's times and write the drift-correction table."""
    from .. import output, resolve
    from ..drift import TABLE_COLUMNS, DriftMap, correction_table, shift_vector, source_point
    from ..simulation import run

    case = load(args.case)
    if case.mechanics is None or case.mechanics.drift is None:
        raise CaseError(f"{args.case}: a drift table needs the imaging geometry: add [drift] "
                        "(and [mounts])")
    times = parse_schedule(args.schedule, case.end_time_s)
    output.refuse_blank_folder(args.output, "-o", "the default file", "a CSV file name")
    dest = Path(args.output) if args.output else \
        Path("results") / f"{Path(args.case).stem}_drift.csv"
    if dest.is_dir():
        raise CaseError(f"-o {dest}: is a folder; expected a CSV file name")
    _refuse_a_file_not_a_drift_table(dest, args.case, args.schedule)
    output_folder(dest.parent)  # writable: bad input before the run, not after it
    prep = resolve.prepare(case)
    dmap = DriftMap.for_case(case, prep.lay)  # bad geometry: one line before any solve
    positive = tuple(sorted({t for t in times if t > 0}))  # the run's save times
    res = None
    if positive:
        res = run(dc.replace(case, output=dc.replace(case.output, save_times_s=positive,
                                                     fields=False)),
                  progress=not args.quiet)
    # t = 0 without a run: the initial state is the mechanics' reference (no thermal drift)
    # plus the beam-pointing drift at t = 0
    shift = {0.0: np.asarray(case.pointing.shift_m(0.0) if case.pointing is not None
                             else (0.0, 0.0, 0.0), dtype=float)}
    if res is not None:
        # thermal drift alone: δ = s b exactly; with a beam-pointing drift δ has parts across
        # the beam too, rebuilt from the drift columns (drift.shift_vector)
        s = res.column("spot_shift_um")
        cols = [res.column(c) for c in ("drift_u_um", "drift_v_um", "drift_along_view_um")]
        for i in np.flatnonzero(~np.isnan(s)):
            shift[float(res.column("time_s")[i])] = (
                shift_vector(dmap, *(c[i] for c in cols)) if case.pointing is not None
                else float(s[i]) * 1e-6 * dmap.beam)
    saved = np.array(sorted(shift))
    nearest = [float(saved[np.argmin(np.abs(saved - t))]) for t in times]
    if any(abs(n - t) > 1e-9 * max(case.end_time_s, 1.0) for n, t in zip(nearest, times)):
        raise RuntimeError("drift table: the run did not solve the mechanics at every "
                           "schedule time")
    values = [shift[n] for n in nearest]
    header = TABLE_COLUMNS + (["offaxis_shift_px"] if dmap.detector_radius_m else [])
    u_ax, v_ax = dmap.axes
    comments = [f"{TABLE_FIRST_LINE[2:]}{case.title} (case {case.hash()})",
                "tube frame: z the anode axis (towards the cathode), source = nominal impact "
                "point + the spot's shift (thermal, along the beam "
                + str([round(float(c), 9) for c in dmap.beam]) + ", plus any beam pointing)",
                f"detector u axis {[round(float(c), 9) for c in u_ax]}, v axis "
                f"{[round(float(c), 9) for c in v_ax]} (tube frame); image shift "
                "= -(M - 1) x source drift across the view / pixel",
                f"M = {dmap.magnification:.6g}, pixel {dmap.pixel_m * 1e6:.6g} um"]
    from .._mpi import MPI

    if MPI.COMM_WORLD.rank != 0:
        return 0
    dest.parent.mkdir(parents=True, exist_ok=True)
    output.write_csv(dest, header, correction_table(dmap, source_point(prep.lay), times,
                                                    values), comments)
    if not args.quiet:
        print(f"drift table: {len(times)} times -> {dest}", file=sys.stderr)
    return 0
