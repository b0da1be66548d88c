"""``anodesim report DIR``: one self-contained report.html of a run, rating or study folder."""

from __future__ import annotations

import sys
from pathlib import Path

DESCRIPTION = ("Write DIR/report.html: the case, the headline results, the limits, the drift, "
               "the rating or the study, the model's assumptions and the provenance, every "
               "plot embedded (the page needs no network access).")


#: The page's name in the folder (report.REPORT).
REPORT_NAME = "report.html"


def add_args(p) -> None:
    p.add_argument("folder", help="folder of anodesim run, rate or sweep")
    p.add_argument("-q", "--quiet", action="store_true", help="do not print the report's path")


def report(args) -> int:
    """Write the report of a folder."""
    if not args.folder.strip():  # Path("") is the current folder (an unset variable)
        from ..case import CaseError

        raise CaseError(f"report {args.folder!r}: expected a folder name (it fell back to the "
                        "current folder)")
    path = write(Path(args.folder))
    if not args.quiet:
        print(path, file=sys.stderr)
    return 0


def write(folder: Path, case_text: str | None = None) -> Path:
    """The report of a folder (what ``--report`` on run, rate and sweep calls)."""
    from ..report import write_report

    return write_report(folder, case_text)


def case_text(case_file: str | Path) -> str:
    """The case file's text, read when the case is: what keep_case_text keeps (the file may
    be edited while the run or rating goes on)."""
    return Path(case_file).read_text(encoding="utf-8")


def keep_case_text(text: str, out: Path) -> None:
    """The case file's text (case_text) into the folder as case.toml (for the report)."""
    from .. import output

    if out.is_dir():
        output.atomic_write(out / "case.toml", text)
