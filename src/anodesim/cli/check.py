"""``anodesim check CASE.toml``: validate a case without running it."""

from __future__ import annotations

from ..case import load


def add_args(p) -> None:
    p.add_argument("case")


def check(args) -> int:
    """Validate a case, including what resolving it checks."""
    from ..resolve import prepare

    case = load(args.case)
    prep = prepare(case)
    print(f"{args.case}: valid ({case.title}, case hash {case.hash()}; "
          f"{len(prep.steps)} time steps planned)")
    return 0
