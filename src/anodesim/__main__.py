"""``python -m anodesim`` and the ``anodesim`` command (the sweep's worker processes too).

Ctrl-C or SIGTERM before the command line's own handlers are in place, while its modules
are imported (0.05-0.3 s, longer on a loaded machine), end the process at once with the
line the command line gives: nothing has been written yet, and Python's default gave a
traceback from inside an import. Only the interpreter's own start (its first tens of
milliseconds) is left uncovered. A library import of anodesim installs nothing.
"""

import os
import signal
import sys

#: The command line's last line and exit status for each signal (cli._signal_line).
EARLY_LINES = {
    signal.SIGINT: (130, "anodesim: interrupted"),
    signal.SIGTERM: (143, "anodesim: terminated by SIGTERM (a batch system's time limit, kill "
                          "or timeout)"),
}


def _early(signum, frame):
    status, line = EARLY_LINES[signum]
    os.write(2, f"{line}\n".encode())
    os._exit(status)


_early.before_the_command_line = True  # cli.main replaces it with its own handler


def main() -> int:
    """Install the early handlers, import the command line and run it."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when ignored
        signal.signal(signal.SIGINT, _early)
    signal.signal(signal.SIGTERM, _early)
    from .cli import main as command_line

    return command_line()


if __name__ == "__main__":
    sys.exit(main())
