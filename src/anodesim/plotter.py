"""A run's PNG figures, drawn in a child process while the run solves.

matplotlib costs about 0.4 s CPU to import and 0.2–0.3 s per figure: more than the solve of
a small 2-D case. :func:`start` (rank 0, at the start of a run) launches a child interpreter
(``python -m anodesim.plotter``) that imports matplotlib while the parent meshes and solves,
on the second core.
The parent then sends each figure as soon as its data is ready: the name of a plotting
function of :mod:`anodesim.output` and its arguments, pickled through the child's stdin. The
child draws and writes them (atomically, as in process) while the parent samples the field
and writes the CSV and JSON files, and :meth:`ChildPlotter.finish` waits for the child to end.
The figures arrive together at the end of the run, when the parent only waits: the child
hands them to forked helpers (one on 2 cores; the child draws a figure itself while its
helpers are busy), so that they are drawn side by side (the C1-class case's wait for its
three figures 0.73 → 0.50 s, median of 8 interleaved runs). A helper dies with the child
(ChildPlotter.close ends the child: no figure is drawn on for a run that is over).

Failures never lose the run: the CSV and JSON are written by the parent before it waits.
A figure the child could not draw is reported by :meth:`ChildPlotter.finish` as one
:class:`FigureFailure` (a RunFailure) line naming the file (exit status 1), as is a child
that died (a signal, no interpreter). If the parent is interrupted, :meth:`ChildPlotter.close`
ends the child; if the parent is killed, the child reads the end of its input and exits.

The jobs travel through a socket pair, not a pipe, and are sent with MSG_NOSIGNAL: PETSc
(initialised in the parent by dolfinx) catches SIGPIPE and aborts the process through
MPI_Abort, so a write into the pipe of a child that had died would have ended the run
there, before its CSV and JSON files; on the socket the write fails with EPIPE instead.

A process that has imported matplotlib already (a sweep's fork server preloads it, a
notebook, the test suite) gains nothing from a child, nor does a machine without an idle
core (the child's own start-up then only adds CPU time): :func:`start` returns an
:class:`InlinePlotter` that draws in process, after the CSV and JSON files.
"""

from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys

from . import processes
from .errors import RunFailure


class FigureFailure(RunFailure):
    """A figure could not be drawn; the run's other files are complete (exit status 1)."""


class InlinePlotter:
    """Draws the figures in this process, when finish() is called (after the CSV and JSON
    files, as the child would; errors propagate as they are)."""

    def __init__(self):
        self.jobs: list[tuple] = []

    def draw(self, name: str, *args, **kwargs) -> None:
        """Queue ``anodesim.output.<name>(*args, **kwargs)`` (a ``plot_*`` function)."""
        self.jobs.append((name, args, kwargs))

    def finish(self) -> None:
        """Draw the queued figures."""
        jobs, self.jobs = self.jobs, []
        for name, args, kwargs in jobs:
            _call(name, args, kwargs)

    def close(self) -> None:
        """Nothing to end."""


class NoFigures(InlinePlotter):
    """A run with ``output.figures = false``: the figures are not drawn."""

    def draw(self, name: str, *args, **kwargs) -> None:
        """Nothing to draw."""


#: send() flag: fail with EPIPE instead of raising SIGPIPE (Linux, the BSDs; macOS has no
#: such flag and keeps the signal)
_NO_SIGNAL = getattr(socket, "MSG_NOSIGNAL", 0)


class ChildPlotter:
    """Draws the figures in a child interpreter started now (see the module docstring)."""

    def __init__(self):
        self.jobs, theirs = socket.socketpair()  # the child's stdin (module docstring)
        try:
            for end in (self.jobs, theirs):  # whatever socket.setdefaulttimeout says
                end.setblocking(True)
            self.proc = subprocess.Popen([sys.executable, "-m", "anodesim.plotter"],
                                         stdin=theirs.fileno(), stdout=subprocess.PIPE,
                                         env=_child_env())
        except BaseException:
            self.jobs.close()
            raise
        finally:
            theirs.close()
        self.files: list[str] = []

    def draw(self, name: str, *args, **kwargs) -> None:
        """Send ``anodesim.output.<name>(path, ...)`` to the child (the first argument is
        the file it writes)."""
        self.files.append(str(args[0]))
        try:
            self.jobs.sendall(pickle.dumps((name, args, kwargs),
                                           protocol=pickle.HIGHEST_PROTOCOL), _NO_SIGNAL)
        except OSError:  # the child died (EPIPE, not SIGPIPE): finish() says how
            pass

    def finish(self) -> None:
        """Wait for the child to draw everything sent and end.

        Raises:
            FigureFailure: a figure could not be drawn, or the child died (one line).
        """
        try:
            self.jobs.shutdown(socket.SHUT_WR)  # the end of the jobs
        except OSError:
            pass
        self.jobs.close()
        out = self.proc.stdout.read()
        status = self.proc.wait()
        self.proc.stdout.close()
        failures = [line for line in out.decode(errors="replace").splitlines() if line]
        # helpers end in any order: name the failures in the order the figures were sent
        failures.sort(key=lambda line: next((i for i, f in enumerate(self.files)
                                             if line.startswith(f + " failed")),
                                            len(self.files)))
        if failures:
            raise FigureFailure(f"drawing {failures[0]}"
                             + (f" (and {len(failures) - 1} more figures)"
                                if len(failures) > 1 else "")
                             + "; the CSV and JSON results are complete")
        if status != 0:
            how = f"signal {-status}" if status < 0 else f"exit status {status}"
            raise FigureFailure(f"the figure process ended with {how} before drawing "
                             f"{', '.join(self.files) or 'its figures'}; the CSV and JSON "
                             "results are complete")

    def close(self) -> None:
        """End the child if it still runs (an interrupted or failed run)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for f in (self.jobs, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


def _child_env() -> dict:
    """The child's environment: this one, with one OpenBLAS thread unless the user chose
    (numpy's second thread spins for about 0.15 s of CPU at import; the child does no
    linear algebra)."""
    return {"OPENBLAS_NUM_THREADS": "1", **os.environ}


def start() -> InlinePlotter | ChildPlotter:
    """A child plotter when it can gain: matplotlib is not loaded here yet and a core is
    free (processes.idle_core: this process may use two or more, one of them idle); else an
    inline one. On a busy machine the child only adds its start-up (about 0.3 s CPU).
    ``ANODESIM_PLOT_CHILD=1`` always starts the child, ``0`` never."""
    choice = os.environ.get("ANODESIM_PLOT_CHILD", "")
    if choice == "0" or "matplotlib" in sys.modules:
        return InlinePlotter()
    if choice != "1":
        if not processes.idle_core():
            return InlinePlotter()
    try:
        return ChildPlotter()
    except OSError:  # no process could be started (limits): draw in process
        return InlinePlotter()


def _serve(stdin, stdout) -> int:
    """The child: read (name, args, kwargs) jobs until the end of stdin and draw each, in a
    forked helper while one is free (_helpers), else here; one line on stdout per figure
    that failed; wait for every helper before returning. A reader thread drains the socket
    so that the parent never waits on a full socket buffer while a figure is drawn."""
    import queue
    import threading

    jobs: queue.Queue = queue.Queue()

    def read():
        while True:
            try:
                jobs.put(pickle.load(stdin))
            except EOFError:
                break
            except Exception as e:  # noqa: BLE001 - a broken job stream: report, stop
                jobs.put(("", (f"the figure data ({type(e).__name__}: {e}) after the last "
                               "figure",), {}))
                break
        jobs.put(None)

    # numpy first: the jobs carry numpy arrays, and the reader's unpickling would otherwise
    # import numpy in its thread while this one imports it for matplotlib ("partially
    # initialized module", a broken job stream, seen when a short run sent its figures at once)
    import numpy  # noqa: F401

    threading.Thread(target=read, daemon=True).start()
    from . import output

    # While the parent solves: matplotlib.figure and the axes (not imported by the Agg
    # backend itself), the fonts and the first draw's caches, so that the figures the parent
    # sends at its end do not pay for them (0.2-0.35 s of the 3-D example's wall time, whose
    # figures all wait for the end of the run). A warm-up that fails leaves it to the
    # figures to report their own failure.
    try:
        output.warm_up()
    except Exception:  # noqa: BLE001, S110
        pass

    helpers = _helpers()
    running: dict[int, str] = {}  # helper pid → the file it draws
    failed = 0
    while (job := jobs.get()) is not None:
        failed += _reap(running, stdout, block=False)
        if job[0] and len(running) < helpers:
            parent = os.getpid()
            pid = processes.fork()
            if pid == 0:  # the helper: this one figure, then out (no atexit, no flush)
                code = 2
                try:
                    _bind_to(parent, stdin)
                    code = _draw(job, stdout)
                finally:
                    os._exit(code)
            if pid > 0:
                running[pid] = str(job[1][0])
                continue
        failed += _draw(job, stdout)
    failed += _reap(running, stdout, block=True)
    return 1 if failed else 0


def _helpers() -> int:
    """How many figures the child hands to forked helpers at once: the parent sends its
    figures together at the end of its run and then waits, so they can be drawn side by
    side on the cores it leaves (the child draws a figure itself when every helper is busy).
    One on a 2-core machine (the child and the helper one core each): the three figures
    of a run in about two thirds of the time (a second helper measured 0.43 against 0.46
    s). None on one core, or where there is no fork."""
    if not hasattr(os, "fork"):
        return 0
    return max(0, min(processes.cores() - 1, 2))


def _bind_to(parent: int, stdin) -> None:
    """In a helper just forked: die with the child that forked it (ChildPlotter.close ends
    the child; a helper must not draw on for a run that is over), and close its copy of the
    job socket (so that the parent's sends fail, not block, once the child is gone)."""
    processes.die_with_parent()
    if os.getppid() != parent:  # the child ended before the signal was armed
        os._exit(2)
    try:
        os.close(stdin.fileno())
    except (OSError, ValueError):
        pass


def _call(name: str, args, kwargs) -> None:
    """``anodesim.output.<name>(*args, **kwargs)`` with Python's warnings kept off stderr:
    the figures of a failed run (non-finite or non-positive data) drew six lines of
    matplotlib UserWarning before the run's one line."""
    import warnings

    from . import output

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        getattr(output, name)(*args, **kwargs)


def _draw(job: tuple, stdout) -> int:
    """Draw one job; on failure write its line and return 1 (else 0)."""
    name, args, kwargs = job
    try:
        if not name:  # the stream broke: args[0] says how
            raise RunFailure("the job stream broke")
        _call(name, args, kwargs)
        return 0
    except Exception as e:  # noqa: BLE001 - every figure failure becomes one line
        text = " ".join(str(e).split())[:1000] or "no message"  # a line is one write
        stdout.write(f"{args[0]} failed ({type(e).__name__}: {text})\n".encode())
        stdout.flush()
        return 1


def _reap(running: dict[int, str], stdout, block: bool) -> int:
    """Collect the helpers that ended (all of them if block); the failures among them. A
    helper that failed wrote its own line (exit status 1); one that ended otherwise (a
    signal, an error outside the figure) gets a line here."""
    failed = 0
    for pid, path in list(running.items()):
        done, status = os.waitpid(pid, 0 if block else os.WNOHANG)
        if done == 0:
            continue
        del running[pid]
        code = os.waitstatus_to_exitcode(status)
        if code == 1:
            failed += 1
        elif code != 0:
            how = f"signal {-code}" if code < 0 else f"exit status {code}"
            stdout.write(f"{path} failed (its drawing process ended with {how})\n".encode())
            stdout.flush()
            failed += 1
    return failed


if __name__ == "__main__":
    import signal

    # Ctrl-C at a terminal reaches the whole process group: the run decides (it draws a
    # failed run's figures too) and ends this process when it is over (close). Raised here,
    # it ended the interpreter while the job reader held stdin: "Fatal Python error:
    # _enter_buffered_busy" on the user's terminal. SIGTERM and SIGHUP alike: a SLURM time
    # limit signals every process of the step, a closed terminal the whole job, and this
    # process died at once, so the stopped run's temperatures.png was never drawn. A run
    # killed outright ends it all the same: its jobs' socket closes (EOF), and close() or
    # the helpers' die_with_parent take care of the rest.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    sys.exit(_serve(sys.stdin.buffer, sys.stdout.buffer))
