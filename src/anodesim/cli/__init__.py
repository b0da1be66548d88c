"""Command line: ``anodesim run CASE.toml [-o DIR]``, ``anodesim rate CASE.toml``,
``anodesim sweep STUDY.toml [-o DIR] [-j N]``, ``anodesim check CASE.toml``,
``anodesim drift-table CASE.toml --schedule …``, ``anodesim materials``, ``anodesim report DIR``.

Exit status: 0 success, 3 a run finished with a limit broken, 1 the run failed (solver,
material range, form compiler, disk; a sweep: a case failed or is still pending), 2 bad input (one line on stderr naming the key, the
value and what was expected; nothing written), 130 interrupted (Ctrl-C), 129 hung up (SIGHUP:
the terminal closed; ended as on SIGTERM), 143 terminated
(SIGTERM: a batch system's time limit, kill; a run's files then say "failed", as after
Ctrl-C). Every failure is one line on stderr; ``--debug`` (or ``ANODESIM_DEBUG=1``) adds
the traceback for a bug report. Under MPI a failure one rank meets ends all ranks, one
every rank meets (bad input read alike, a time limit) is one line from rank 0. A
reader that leaves early (``| head``) ends nothing: the lines are dropped, the command
finishes (_ReaderMayLeave).

One module per subcommand (run, rate, sweep, check, drift_table, report, materials), each with
``add_args(p)`` and
a thin handler over the library; ``main`` builds the parsers and turns every failure into one
line and an exit status.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import (HungUp, Terminated, abort_other_ranks, debug_enabled, echoes_rank_zero,
                      failed_on_every_rank, launcher_rank, launcher_size, line_notes, note_signal,
                      quiet_lost_signal, rank_prefix, request_termination, signal_received)
from ..errors import terminate as _terminate  # SIGTERM: Terminated, or the ranks together
from ..errors import report as failure_line

COMMANDS = [  # (name, help); the handler is the function <name> of the module .<name>
    ("run", "run a case and write its results"),
    ("rate", "maximum safe loading and rating charts"),
    ("sweep", "run a study: a base case and parameter axes"),
    ("check", "validate a case file without running it"),
    ("drift-table", "predicted focal-spot position at the times of a scan schedule (CSV)"),
    ("report", "write report.html of a run, rating or study folder"),
    ("materials", "list the material library"),
]

#: What ``anodesim --help`` says above the commands (the module docstring's first line was
#: cut mid-sentence, in reST markup), and below them.
DESCRIPTION = ("Simulate the heating of an X-ray tube anode: run a case, rate its maximum safe "
               "loading, sweep a study, check a case file, write a drift-correction table or "
               "a report, list the materials. `anodesim COMMAND --help` tells more.")
EPILOG = ("Exit status: 0 success, 3 a run finished with a limit broken, 1 the run failed, "
          "2 bad input (one line naming the key, the value and what was expected; nothing "
          "written), 130 interrupted, 129 hung up, 143 terminated. --debug adds a failure's "
          "traceback.")

#: Commands that do no MPI work: under a parallel launch rank 0 alone runs them (the others
#: would print every line again and write the same files).
SERIAL_COMMANDS = {"check", "report", "materials"}


class _Version(argparse.Action):
    """``--version``: the package metadata is read only when asked (it costs 60 ms)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help="show the version and exit"):
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from .. import __version__

        parser.exit(message=f"anodesim {__version__}\n")


class _Parser(argparse.ArgumentParser):
    """A parser whose error (a bad option, choice or number, a missing argument) is one line,
    as every other failure is: argparse printed its usage (two to five lines) above it."""

    #: The subcommand of the command line (set on the top parser by ``parser``): an
    #: argument no parser knows is reported by the top one, whose --help does not list it.
    command: str | None = None
    #: Options whose value may start with a minus and a digit (set by a command's add_args):
    #: argparse took `--schedule -1:10:1` for an option and said "expected one argument".
    dash_values: tuple[str, ...] = ()

    def parse_known_args(self, args=None, namespace=None):
        if args is not None and self.dash_values:
            args = _attach_dash_values(list(args), self.dash_values)
        return super().parse_known_args(args, namespace)

    def error(self, message):
        prog = self.prog
        if self.command and message.startswith("unrecognized arguments"):
            prog = f"{self.prog} {self.command}"
        self.exit(2, f"anodesim: error: {message} (`{prog} --help` lists the arguments)\n")

    def _print_message(self, message, file=None):
        # under mpirun every rank parses the same command line: rank 0 alone says what is
        # wrong with it, or prints --help or --version (once, not once per rank)
        if launcher_rank() == 0:
            super()._print_message(message, file)


def _attach_dash_values(args: list[str], options: tuple[str, ...]) -> list[str]:
    """args with each of the options followed by a value that starts with a minus and a
    digit or point ("-1:10:1", "-.5") written as one word, "--schedule=-1:10:1", as argparse
    reads it (a following option, "-o", stays an option: the value is then missing)."""
    out: list[str] = []
    for a in args:
        if out and out[-1] in options and len(a) > 1 and a[0] == "-" and a[1] in "0123456789.":
            out[-1] = f"{out[-1]}={a}"
        else:
            out.append(a)
    return out


def _command_of(argv: list[str]) -> str | None:
    """The subcommand named on the command line (the first word that is one), or None."""
    names = {name for name, _ in COMMANDS}
    return next((a for a in argv if a in names), None)


def parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The command line's parser, one subparser per module.

    Only the module of the subcommand named in argv is imported (and its arguments added):
    ``anodesim --help`` and a bad command line load none of them, so they start in a
    fraction of the time (benchmark: studies/benchmark_process.py). argv None: every module.
    """
    chosen = None if argv is None else _command_of(argv)
    top = _Parser(prog="anodesim", description=DESCRIPTION, epilog=EPILOG)
    top.command = chosen
    top.add_argument("--version", action=_Version)
    top.add_argument("--debug", action="store_true",
                     help="show the traceback of a failure (also ANODESIM_DEBUG=1)")
    sub = top.add_subparsers(dest="command", required=True)
    for name, help_ in COMMANDS:
        if argv is not None and name != chosen:
            sub.add_parser(name, help=help_)  # listed in --help; never parsed this time
            continue
        handler = name.replace("-", "_")  # drift-table: module and function drift_table
        module = importlib.import_module(f".{handler}", __name__)
        p = sub.add_parser(name, help=help_, description=getattr(module, "DESCRIPTION", None))
        module.add_args(p)
        p.set_defaults(func=getattr(module, handler))
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help=argparse.SUPPRESS)  # --debug after the subcommand too
    return top


#: What the command line sets in its environment unless the user has: one OpenBLAS thread.
#: A run's parallelism is its MPI ranks; numpy's OpenBLAS would start a second thread per
#: rank at import, which spins for about 0.15 s of CPU (measured on the 2-core sandbox,
#: also in the figure process) and under mpirun oversubscribes the cores. Set before numpy
#: is imported (the command line imports it only when a command needs it).
ONE_BLAS_THREAD = {"OPENBLAS_NUM_THREADS": "1"}


class _ReaderMayLeave:
    """sys.stdout or sys.stderr of a command whose reader may go away before it ends
    (``anodesim run CASE 2>&1 | head``, a pager quit early): a write or flush that finds
    the pipe closed (EPIPE) points the descriptor at /dev/null, so this and every later line
    are dropped (C libraries' too) and the command finishes its files, instead of ending
    with a "Broken pipe" failure, or, in a run, being killed by PETSc's SIGPIPE handler
    (main blocks SIGPIPE, so that the write fails with EPIPE instead). A terminal closed
    under the command (EIO: an ssh connection lost, with SIGHUP ignored by nohup or
    delivered after the write) is a reader gone alike: the run failed with "Input/output
    error"; but only for a stream that was a terminal when the command started (a closed
    one no longer says it is): EIO writing to a file (a failing disk, an NFS server gone)
    is that file's failure, not a reader that left, and its log is not dropped silently.
    Anything else is the stream's own."""

    def __init__(self, stream):
        self._stream = stream
        self._gone = False  # closed, and no descriptor to point elsewhere
        try:
            self._terminal = bool(stream.isatty())
        except (AttributeError, OSError, ValueError):
            self._terminal = False

    def _closed_pipe(self) -> None:
        import os

        try:
            fd = self._stream.fileno()
        except (OSError, ValueError):
            self._gone = True
            return
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, fd)
        finally:
            os.close(null)

    def write(self, text):
        if not self._gone:
            try:
                return self._stream.write(text)
            except OSError as e:
                if not _reader_left(e, self._terminal):
                    raise
                self._closed_pipe()
        return len(text)

    def flush(self):
        if not self._gone:
            try:
                self._stream.flush()
            except OSError as e:
                if not _reader_left(e, self._terminal):
                    raise
                self._closed_pipe()
                if not self._gone:
                    self._stream.flush()  # what was buffered, into /dev/null now

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _reader_left(e: OSError, terminal: bool) -> bool:
    """Whether a write failed because its reader is gone: a closed pipe (EPIPE) or, on a
    stream that was a terminal, a closed terminal (EIO)."""
    import errno

    return e.errno == errno.EPIPE or e.errno == errno.EIO and terminal


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status.

    For the command, sys.stdout and sys.stderr are wrapped in _ReaderMayLeave and SIGPIPE
    is blocked (both restored after it; a SIGPIPE a write raised meanwhile is taken, not
    delivered). argv None: the process's own command line (the console script, ``python -m
    anodesim``), which an interrupt after MPI started ends at once (_end_interrupted).
    """
    import signal

    saved = sys.stdout, sys.stderr
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGPIPE})
    sys.stdout, sys.stderr = _ReaderMayLeave(saved[0]), _ReaderMayLeave(saved[1])
    try:
        return _main(argv, own_process=argv is None)
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        sys.stdout, sys.stderr = saved
        if signal.SIGPIPE in signal.sigpending():
            signal.sigwait({signal.SIGPIPE})
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _main(argv: list[str] | None, own_process: bool = False) -> int:
    import os
    import signal
    import threading

    for key, value in ONE_BLAS_THREAD.items():
        os.environ.setdefault(key, value)
    argv = sys.argv[1:] if argv is None else list(argv)
    # The handlers first, before the command's modules are imported (up to a second under
    # load): Ctrl-C there gave Python's traceback and death by the signal, not one line.
    # SIGTERM ends a command as Ctrl-C does (a sweep's runner then stops its workers, and
    # every other mode of sweep ends with the same line); in the main thread only, where
    # Python delivers signals. A SIGINT ignored (a background job, nohup) stays ignored.
    terminable = threading.current_thread() is threading.main_thread()
    previous = {}
    sigint = signal.getsignal(signal.SIGINT)  # Python's, or __main__'s before this
    if terminable and (sigint is signal.default_int_handler
                       or getattr(sigint, "before_the_command_line", False)):
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, _interrupt)
    if terminable:  # a signal's exception lost in a weakref callback: not printed
        sys.unraisablehook = quiet_lost_signal
    if terminable:
        previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, _terminate)
    # SIGHUP (the terminal closed) as SIGTERM, unless ignored (nohup): it went to MPICH's
    # handler, which ignored it, and the run failed at its next line to the closed terminal
    if terminable and signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, _terminate)
    saved_options = os.environ.get("PETSC_OPTIONS")
    if terminable and "-no_signal_handler" not in (saved_options or ""):
        # PETSc's initialisation (when the command imports dolfinx) would replace the
        # handler with its own, which ends the process through MPI_Abort: no summary
        os.environ["PETSC_OPTIONS"] = f"{saved_options or ''} -no_signal_handler".strip()
    args = None
    try:
        args = parser(argv).parse_args(argv)
        if debug_enabled(args.debug):
            import logging

            logging.basicConfig(format="%(name)s: %(message)s")
            logging.getLogger("anodesim").setLevel(logging.INFO)
        if args.command in SERIAL_COMMANDS and launcher_rank() > 0:
            return 0
        status = args.func(args)
        if own_process and signal_received() is not None:
            # a Ctrl-C lost in a destructor or weakref callback (Python prints and drops
            # it): the command finished its work, but the teardown of its MPI objects is
            # what such an interrupt can hang (_end_interrupted)
            _end_interrupted(status)
        return status
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM (Terminated)
        if signal.SIGINT in previous:  # pressed again from here: ended at once, no traceback
            signal.signal(signal.SIGINT, signal.SIG_DFL)
        status, line = _signal_line(signal.SIGHUP if isinstance(e, HungUp) else
                                    signal.SIGTERM if isinstance(e, Terminated) else
                                    signal.SIGINT, e)
        # as a failure below: under MPI, one line (rank 0's) when every rank was stopped
        # (a SLURM time limit signals them all), else this rank's and the others aborted
        every_rank = failed_on_every_rank(e)
        if not (every_rank and rank_prefix()):
            print(rank_prefix() + line, file=sys.stderr)
        if not every_rank:
            abort_other_ranks(status)
        if own_process:
            _end_interrupted(status)
        return status
    except Exception as e:  # every failure: one line (and the traceback only when asked)
        signalled = signal_received()
        if signalled is not None:  # what the interrupt's unwinding met: the signal ended it
            if signal.SIGINT in previous:
                signal.signal(signal.SIGINT, signal.SIG_DFL)
            status, line = _signal_line(signalled, None)
        else:
            status, line = failure_line(e)
        if debug_enabled(getattr(args, "debug", False)):
            import traceback

            traceback.print_exc()
        every_rank = failed_on_every_rank(e)  # then every rank wrote it and ends alike
        if not (echoes_rank_zero(e) or every_rank and rank_prefix()):  # one line, rank 0
            print(rank_prefix() + line, file=sys.stderr)
        if not every_rank:
            abort_other_ranks(status)
        if own_process and signalled is not None:
            _end_interrupted(status)
        return status
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        request_termination(False)
        note_signal(None)
        if terminable:
            if saved_options is None:
                os.environ.pop("PETSC_OPTIONS", None)
            else:
                os.environ["PETSC_OPTIONS"] = saved_options


def _signal_line(signum: int, e: BaseException | None) -> tuple[int, str]:
    """(exit status, line) of a command ended by SIGHUP, SIGTERM or else Ctrl-C."""
    import signal

    notes = "".join(f"; {n}" for n in line_notes(e))  # e.g. a job left running
    if signum == signal.SIGHUP:
        return 129, f"anodesim: {e if isinstance(e, HungUp) else HungUp()}{notes}"
    if signum == signal.SIGTERM:
        return 143, f"anodesim: {e if isinstance(e, Terminated) else Terminated()}{notes}"
    return 130, f"anodesim: interrupted{notes}"


def _end_interrupted(status: int) -> None:
    """End the process now, its line written, when a signal stopped a command after MPI
    started (serially; under mpirun the ranks end as before).

    The interrupt's unwinding has run every ``finally`` of the command (a failed run's
    summary, the figures' process ended); what is left is the teardown of the FE objects
    and MPI_Finalize, which free communicators: with an interrupt pending, mpi4py's
    callback for a freed communicator (commlock_free_fn) could leave its lock taken, and
    the next free waited for it for ever, at 0 % CPU (a tester's `anodesim rate`
    interrupted in its first seconds). Nothing remains to be written."""
    import os

    mpi = sys.modules.get("mpi4py.MPI")
    # the communicator's size, not the launcher's variables: srun --mpi=pmix sets neither
    # PMI_SIZE nor OMPI_COMM_WORLD_SIZE
    if mpi is None or launcher_size() > 1 or (
            mpi.Is_initialized() and not mpi.Is_finalized() and mpi.COMM_WORLD.size > 1):
        return
    ahead = sys.modules.get("anodesim.geometry.ahead")
    if ahead is not None:  # a mesh builder's temporary folder (no atexit after os._exit)
        ahead.discard()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)


def _interrupt(signum, frame):
    """Ctrl-C during a command: KeyboardInterrupt, as Python's own handler, noted
    (signal_received). Pressed again it raises again: a KeyboardInterrupt raised in a
    weakref callback or a destructor is printed and lost, and the next Ctrl-C must work."""
    if signal_received() is None:
        note_signal(signum)
    raise KeyboardInterrupt
