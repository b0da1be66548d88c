"""Command line: ``anodesim run CASE.toml [-o DIR]``, ``anodesim rate CASE.toml``,
``anodesim sweep STUDY.toml [-o DIR] [-j N]``, ``anodesim check CASE.toml``,
``anodesim drift-table CASE.toml --schedule …``, ``anodesim materials``, ``anodesim report DIR``.

Exit status: 0 success, 3 a run finished with a limit broken, 1 the run failed (solver,
material range, form compiler, disk), 2 bad input (one line on stderr naming the key, the
value and what was expected; nothing written), 130 interrupted. Every failure is one line on stderr; ``--debug`` (or ``ANODESIM_DEBUG=1``)
adds the traceback for a bug report. Under MPI a failure on any rank ends all ranks.

One module per subcommand (run, rate, sweep, check, drift_table, report, materials), each with
``add_args(p)`` and
a thin handler over the library; ``main`` builds the parsers and turns every failure into one
line and an exit status.
"""

from __future__ import annotations

import argparse
import sys
import traceback

from .. import __version__
from ..errors import abort_other_ranks, debug_enabled, rank_prefix
from ..errors import report as failure_line
from . import check, drift_table, materials, rate, report, run, sweep

COMMANDS = [  # (name, module, help)
    ("run", run, "run a case and write its results"),
    ("rate", rate, "maximum safe loading and rating charts"),
    ("sweep", sweep, "run a study: a base case and parameter axes"),
    ("check", check, "validate a case file without running it"),
    ("drift-table", drift_table, "predicted focal-spot position at the times of a scan "
                                 "schedule (CSV)"),
    ("report", report, "write report.html of a run, rating or study folder"),
    ("materials", materials, "list the material library"),
]


def parser() -> argparse.ArgumentParser:
    """The command line's parser, one subparser per module."""
    top = argparse.ArgumentParser(prog="anodesim", description=__doc__.split("\n")[0])
    top.add_argument("--version", action="version", version=f"anodesim {__version__}")
    top.add_argument("--debug", action="store_true",
                     help="show the traceback of a failure (also ANODESIM_DEBUG=1)")
    sub = top.add_subparsers(dest="command", required=True)
    for name, module, help_ in COMMANDS:
        p = sub.add_parser(name, help=help_, description=getattr(module, "DESCRIPTION", None))
        module.add_args(p)
        p.set_defaults(func=getattr(module, name.replace("-", "_")))
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help=argparse.SUPPRESS)  # --debug after the subcommand too
    return top


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = parser().parse_args(argv)
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
        status, line = failure_line(e)
        if debug_enabled(args.debug):
            traceback.print_exc()
        print(rank_prefix() + line, file=sys.stderr)
        abort_other_ranks(status)
        return status
