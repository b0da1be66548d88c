"""The run's figures drawn in a child process (plotter.py): the parent never imports
matplotlib, the child writes the PNG files, and a figure that cannot be drawn or a child
that dies surfaces as one RunFailure line after the CSV and JSON files are written."""

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest
from cases import c1, merge
from test_case import write_toml
from test_mechanics import DRIFT

from anodesim.errors import RunFailure


def test_the_child_draws_and_the_parent_never_imports_matplotlib(tmp_path):
    """In a fresh interpreter (ANODESIM_PLOT_CHILD=1: the child even on a busy machine):
    start() gives the child plotter; a time-series figure sent to it is a PNG file once
    finish() returns; matplotlib stays out of the parent."""
    code = textwrap.dedent(f"""
        import sys
        from anodesim import plotter
        p = plotter.start()
        assert isinstance(p, plotter.ChildPlotter), type(p)
        p.draw("plot_timeseries", {str(tmp_path / "t.png")!r}, [0.0, 1.0, 2.0],
               {{"T_peak_C": [30.0, 80.0, 95.0]}}, [0.0, 10.0, 10.0], "title", False)
        p.finish()
        p.close()
        assert "matplotlib" not in sys.modules
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "ANODESIM_PLOT_CHILD": "1"})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_child_that_dies_is_one_line_naming_its_figures(tmp_path):
    """The child killed (SIGKILL) and gone before its figures are sent, in a process where
    dolfinx has initialised PETSc (which catches SIGPIPE and calls MPI_Abort): the send
    fails quietly and finish() says what happened, naming the figure; the process lives
    on to write its results (in a pipe, the send aborted it: 'PETSC ERROR: Caught signal
    number 13 Broken Pipe')."""
    script = textwrap.dedent(f"""
        import dolfinx_solver, dolfinx  # PETSc's signal handlers installed
        from anodesim.errors import RunFailure
        from anodesim.plotter import ChildPlotter

        p = ChildPlotter()
        p.proc.kill()
        p.proc.wait()  # the child is gone: its end of the jobs is closed
        p.draw("plot_timeseries", {str(tmp_path / "t.png")!r}, [0.0, 1.0], {{"T": [1.0, 2.0]}},
               [0.0, 1.0], "title", False)
        try:
            p.finish()
        except RunFailure as e:
            print("FAILURE", e)
        p.close()
        print("ALIVE")
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "PETSC ERROR" not in r.stderr
    lines = r.stdout.splitlines()
    assert lines[-1] == "ALIVE"
    assert re.fullmatch(r"FAILURE the figure process ended with signal 9 before drawing "
                        r".*t\.png; the CSV and JSON results are complete", lines[-2])
    assert not (tmp_path / "t.png").exists()


def test_a_figure_that_cannot_be_written_fails_the_run_but_keeps_its_results(tmp_path):
    """A run whose drift.png cannot be written (a folder stands at its name), figures in the
    child: exit status 1, one line naming the file, no traceback; timeseries.csv and
    summary.json are complete and the other figures are written."""
    case = write_toml(tmp_path / "case.toml",
                      c1(mesh={"spot_fraction": 0.25, "growth": 0.5},
                         loading={"duration_s": 0.01}, output={"save_times_s": [0.01]},
                         **DRIFT))
    out = tmp_path / "run"
    (out / "drift.png").mkdir(parents=True)
    done = subprocess.run([sys.executable, "-m", "anodesim", "run", str(case), "-o", str(out),
                           "-q"], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "ANODESIM_PLOT_CHILD": "1"})
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith(f"anodesim: run failed: drawing {out / 'drift.png'} failed (")
    assert lines[0].endswith("; the CSV and JSON results are complete")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete"
    assert len((out / "timeseries.csv").read_text().splitlines()) > 3
    for name in ("temperatures.png", "temperature_field.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"


def test_a_run_whose_figure_process_dies_at_once_keeps_its_results(tmp_path):
    """The figure child exits before it reads anything (a sitecustomize on its path ends
    it): the run's writes into its closed input fail quietly (no SIGPIPE through PETSc's
    handler, which ended such a run with status 141 before summary.json), the CSV and
    JSON are complete and the run fails with one line naming the figures (exit status 1)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import os, sys\nif 'anodesim.plotter' in sys.orig_argv:\n    os._exit(3)\n")
    case = write_toml(tmp_path / "case.toml",
                      c1(mesh={"spot_fraction": 0.25, "growth": 0.5},
                         loading={"duration_s": 0.01}, output={"save_times_s": [0.01]},
                         **DRIFT))
    out = tmp_path / "run"
    path = os.pathsep.join([str(site)] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    done = subprocess.run([sys.executable, "-m", "anodesim", "run", str(case), "-o", str(out),
                           "-q"], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "ANODESIM_PLOT_CHILD": "1", "PYTHONPATH": path})
    assert done.returncode == 1, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("anodesim: run failed: the figure process ended with exit "
                               f"status 3 before drawing {out / 'drift.png'}")
    assert json.loads((out / "summary.json").read_text())["status"] == "complete"
    assert len((out / "timeseries.csv").read_text().splitlines()) > 3
    assert not list(out.glob("*.png"))


def test_the_inline_plotter_is_chosen_when_asked_or_matplotlib_is_loaded(monkeypatch):
    """ANODESIM_PLOT_CHILD=0, or matplotlib already imported (nothing to hide): in process."""
    import matplotlib  # noqa: F401

    from anodesim import plotter

    monkeypatch.setenv("ANODESIM_PLOT_CHILD", "1")
    assert isinstance(plotter.start(), plotter.InlinePlotter)  # matplotlib is loaded here
    monkeypatch.delitem(sys.modules, "matplotlib")
    monkeypatch.setenv("ANODESIM_PLOT_CHILD", "0")
    assert isinstance(plotter.start(), plotter.InlinePlotter)


def test_drift_points_are_joined_only_where_the_load_does_not_cycle_between_them():
    """A line between two drift points draws a path the spot never took when the load
    cycles between them (the transmission example: drift at 3 times across 10 pulses):
    such points are drawn unjoined. A heating curve, a pulse train sampled within each
    pulse and a single load keep their lines."""
    import numpy as np

    from anodesim.output import cycles_between

    t = np.linspace(0.0, 0.1, 2001)
    heating = 30.0 + 500.0 * (1.0 - np.exp(-t / 0.02))
    assert not cycles_between([0.005, 0.055, 0.1], t, heating)
    pulses = heating * (np.sin(2 * np.pi * t / 0.01) > 0) + 30.0   # 10 ms period, 10 pulses
    assert cycles_between([0.005, 0.055, 0.1], t, pulses)
    assert not cycles_between(t[::5], t, pulses)                    # sampled within each pulse
    single = np.where(t <= 0.05, heating, heating[1000] * np.exp(-(t - 0.05) / 0.01))
    assert not cycles_between([0.02, t[1000], 0.08], t, single)     # the peak is a drift row
    assert not cycles_between([0.02, 0.08], t, single)               # one rise and fall


def test_a_run_without_figures_writes_the_same_results_and_no_png(tmp_path):
    """output.figures = false (what a large sweep may set): no PNG and no child, and the
    same time series and results as the run with figures, to the last digit (the figures
    only read the results). The key is left out of the case's hash where it is true, so
    the ids of existing cases do not change; a value that is not a boolean is one line."""
    import anodesim
    from anodesim.case import CaseError, from_dict

    small = c1(mesh={"spot_fraction": 0.25, "growth": 0.5}, loading={"duration_s": 0.01},
               output={"save_times_s": [0.01]}, **DRIFT)
    quiet = c1(mesh={"spot_fraction": 0.25, "growth": 0.5}, loading={"duration_s": 0.01},
               output={"save_times_s": [0.01], "figures": False}, **DRIFT)
    assert "figures" not in from_dict(small).to_dict()["output"]  # the hash of before
    assert from_dict(small).hash() == from_dict(merge(small, {"output": {"figures": True}})).hash()
    assert from_dict(quiet).hash() != from_dict(small).hash()
    with pytest.raises(CaseError, match=r"output\.figures.*'no'.*true or false"):
        from_dict(c1(output={"figures": "no"}))
    anodesim.run(small, tmp_path / "with")
    anodesim.run(quiet, tmp_path / "without")
    assert sorted(p.name for p in (tmp_path / "with").glob("*.png")) == [
        "drift.png", "temperature_field.png", "temperatures.png"]
    assert not list((tmp_path / "without").glob("*.png"))
    csv = [(tmp_path / d / "timeseries.csv").read_text().splitlines() for d in ("with", "without")]
    assert csv[0][3:] == csv[1][3:] and len(csv[0]) > 5  # (the header names the case's hash)
    res = [json.loads((tmp_path / d / "summary.json").read_text())["results"]
           for d in ("with", "without")]
    assert res[0] == res[1]


def test_a_log_time_axis_has_minor_ticks_at_2_and_5_of_each_decade(tmp_path):
    """A single load's time axis spans up to ten decades; matplotlib's default minor ticks
    (2 ... 9 per decade, about 80 tick objects on eight decades) cost about a fifth of a
    run figure. The run
    figures draw them at 2 and 5 of each decade, and the figure is still written."""
    import numpy as np

    from anodesim import output

    figures = []
    save = output._save
    output._save = lambda fig, path: (figures.append(fig), save(fig, path))
    try:
        t = np.geomspace(1e-8, 1.0, 200)
        output.plot_timeseries(tmp_path / "T.png", t, {"peak": 30.0 + 100.0 * t ** 0.1},
                               np.full(len(t), 10.0), "ten decades", log_time=True)
    finally:
        output._save = save
    assert (tmp_path / "T.png").stat().st_size > 10_000
    axis = figures[0].axes[0].xaxis
    lo, hi = axis.get_view_interval()
    minor = np.asarray(axis.get_minorticklocs())
    minor = minor[(minor >= lo) & (minor <= hi)]
    mantissa = minor / 10.0 ** np.floor(np.log10(minor) + 1e-9)
    assert 15 <= len(minor) <= 20                                   # 2 per decade, 8 decades
    assert np.allclose(np.sort(np.unique(np.round(mantissa, 6))), [2.0, 5.0])


def _drawn(monkeypatch):
    """The figures output._save is given (still written)."""
    from anodesim import output

    figures, save = [], output._save
    monkeypatch.setattr(output, "_save", lambda fig, path: (figures.append(fig), save(fig, path)))
    return figures


def test_limits_of_equal_value_share_one_line(tmp_path, monkeypatch):
    """The interface's and the heat sink's 200 °C limits were two dashed lines drawn on top
    of each other: one line now, its legend naming both; a limit far above the curves
    (more than twice the hottest) is still left out."""
    import numpy as np

    from anodesim import output

    figures = _drawn(monkeypatch)
    t = np.geomspace(1e-6, 1.0, 50)
    curves = {name: 30.0 + k * t ** 0.1 for name, k in (("peak", 200.0), ("max Cu", 50.0),
                                                         ("probe a", 40.0), ("probe b", 20.0))}
    output.plot_timeseries(tmp_path / "T.png", t, curves,
                           np.full(len(t), 10.0), "limits", log_time=True,
                           limits={"interface": 200.0, "heat_sink": 200.0,
                                   "coolant_side": 99.97, "melting": 3422.0})
    ax = figures[0].axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert [x for x in labels if x.startswith("limit")] == [
        "limit interface, heat_sink 200 °C", "limit coolant_side 99.97 °C"]
    dashed = sorted(line.get_ydata()[0] for line in ax.get_lines() if line.get_linestyle() == "--")
    assert dashed == [99.97, 200.0]
    # in colours of their own, not a curve's
    from matplotlib.colors import to_hex

    curve = {to_hex(line.get_color()) for line in ax.get_lines() if line.get_linestyle() != "--"}
    limit = [to_hex(line.get_color()) for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(set(limit)) == 2 and not curve & set(limit)
    # more curves than the colour cycle has: the limits still take colours no curve has
    figures.clear()
    many = {f"c{i}": 30.0 + i * t for i in range(10)}
    output.plot_timeseries(tmp_path / "T10.png", t, many, np.full(len(t), 10.0), "limits",
                           log_time=True, limits={"a": 40.0, "b": 35.0})
    ax = figures[0].axes[0]
    curve = {to_hex(line.get_color()) for line in ax.get_lines() if line.get_linestyle() != "--"}
    limit = [to_hex(line.get_color()) for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(curve) == 10 and len(set(limit)) == 2 and not curve & set(limit)


def test_figure_failures_are_named_in_the_order_the_figures_were_sent():
    """Helpers end in any order: finish() names the first figure sent that failed."""
    import io
    import socket

    from anodesim.plotter import ChildPlotter

    class Done:
        stdout = io.BytesIO(b"/r/b.png failed (ValueError: x)\n/r/a.png failed (OSError: y)\n")

        def wait(self):
            return 1

    p = ChildPlotter.__new__(ChildPlotter)
    p.jobs, other = socket.socketpair()
    other.close()
    p.files, p.proc = ["/r/a.png", "/r/b.png"], Done()
    with pytest.raises(RunFailure, match=r"^drawing /r/a\.png failed \(OSError: y\) \(and 1 "
                                         r"more figures\)"):
        p.finish()


def test_temperature_maps_are_drawn_to_scale_with_ticks_along_the_whole_bar(tmp_path,
                                                                             monkeypatch):
    """A flat zoom on the spot and a tall body in one figure: each map to scale, the panels
    sized to their cuts (no empty band: the two maps' boxes fill their cells' width to
    within the colour bar), and the colour-bar ticks evenly spread along the power-law bar
    with both ends labelled (the default ticks crowded at the hot end)."""
    import numpy as np

    from anodesim import output

    figures = _drawn(monkeypatch)
    xs, ys = np.linspace(-0.2, 0.2, 41), np.linspace(19.8, 20.0, 21)
    xb, yb = np.linspace(-5.0, 5.0, 21), np.linspace(0.0, 20.0, 41)
    hot = lambda x, y, w: 30.0 + 870.0 * np.exp(-(x[None, :] ** 2 + (y[:, None] - 20.0) ** 2)  # noqa: E731
                                                  / w ** 2)
    output.plot_slices(tmp_path / "F.png", [("spot", xs, ys, hot(xs, ys, 0.05), "r", "z"),
                                            ("body", xb, yb, hot(xb, yb, 1.0), "r", "z")],
                       "maps")
    fig = figures[0]
    fig.canvas.draw()
    maps = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    for ax, (dx, dy) in zip(maps, ((0.41, 0.21), (10.5, 20.5))):  # cell edges: +1 cell
        box = ax.get_window_extent()
        assert box.width / box.height == pytest.approx(dx / dy, rel=0.01)  # to scale
    gaps = [maps[1].get_window_extent().x0 - maps[0].get_window_extent().x1]
    assert gaps[0] < 2.5 * fig.dpi  # the bar and its labels, the next map's labels
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == 2
    for bar, T in zip(bars, (hot(xs, ys, 0.05), hot(xb, yb, 1.0))):
        ticks = np.asarray(bar.get_yticks())
        lo, hi = float(T.min()), float(T.max())
        assert ticks[0] == pytest.approx(lo, rel=1e-3) and ticks[-1] == pytest.approx(hi, rel=1e-3)
        along = np.diff(((ticks - lo) / (hi - lo)) ** 0.3)  # positions along the bar
        assert len(ticks) >= 4 and along.max() < 2.5 * along.min()


def test_colour_bar_ticks_follow_the_range():
    """The ticks' resolution follows the range (tens of kelvin over 870 K, hundredths over
    0.4 K), never finer than 0.01 K: a field uniform to less gets one label, not nine
    decimals of round-off; the ends are the exact extremes (a rounded end would fall off
    the bar)."""
    from matplotlib.colors import PowerNorm

    from anodesim.output import _power_ticks

    def ticks(lo, hi):
        return _power_ticks(PowerNorm(0.3, vmin=lo, vmax=hi), lo, hi)

    assert ticks(30.8, 899.1) == ([30.8, 70.0, 190.0, 440.0, 899.1], 0)
    got, decimals = ticks(39.81, 40.23)
    assert decimals == 2 and got[0] == 39.81 and got[-1] == 40.23 and len(got) == 5
    assert all(abs(v * 100 - round(v * 100)) < 1e-6 for v in got)
    assert ticks(40.000012682, 40.000012776) == ([40.000012729], 2)
    assert ticks(20.0, 20.0) == ([20.0], 2)


def test_a_map_without_values_or_extent_is_still_drawn(tmp_path):
    """A cut that holds no body (all NaN) or has no extent along one axis draws an empty
    panel; the figure is written (no NaN reaches the colour-bar ticks)."""
    import numpy as np

    from anodesim import output

    x, y = np.linspace(0.0, 1.0, 5), np.linspace(0.0, 2.0, 7)
    output.plot_slices(tmp_path / "F.png", [
        ("empty", x, y, np.full((7, 5), np.nan), "x", "y"),
        ("line", x, np.array([1.0]), np.full((1, 5), 40.0), "x", "y")], "edge cases")
    assert (tmp_path / "F.png").stat().st_size > 5_000


def test_the_command_line_and_the_figure_process_start_numpy_with_one_blas_thread(
        tmp_path, monkeypatch):
    """numpy's OpenBLAS starts a spinning second thread at import unless
    OPENBLAS_NUM_THREADS says otherwise: the command line sets it to 1 before numpy is
    imported (seen by an import hook in a fresh interpreter running `check`), and so does the
    figure process's environment; a user's own setting is kept by both."""
    from anodesim import plotter

    case = write_toml(tmp_path / "c1.toml", c1())
    code = textwrap.dedent(f"""
        import os, sys
        seen = []
        class Hook:
            def find_spec(self, name, path=None, target=None):
                if name == "numpy" and not seen:
                    seen.append(os.environ.get("OPENBLAS_NUM_THREADS"))
        sys.meta_path.insert(0, Hook())
        from anodesim.cli import main
        assert main(["check", {str(case)!r}]) == 0
        print(seen)
    """)
    for user, want in ((None, "1"), ("3", "3")):
        env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
        if user is not None:
            env["OPENBLAS_NUM_THREADS"] = user
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=300, env=env)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().splitlines()[-1] == repr([want])
        monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
        if user is not None:
            monkeypatch.setenv("OPENBLAS_NUM_THREADS", user)
        assert plotter._child_env()["OPENBLAS_NUM_THREADS"] == want


def test_log_axis_labels_are_matplotlibs_in_plain_text_without_mathtext(tmp_path, monkeypatch):
    """The log time axes are labelled with matplotlib's own ticks and numbers (10⁻³,
    2×10⁻², −10²) in Unicode superscripts: the run figures lay out no mathtext (its parser
    is made to fail here), and the labels read as matplotlib's mathtext ones do."""
    import numpy as np
    from matplotlib import mathtext
    from matplotlib.ticker import LogFormatterSciNotation

    from anodesim import output

    assert output._plain(r"$\mathdefault{2\times10^{-3}}$") == "2×10⁻³"
    assert output._plain(r"$\mathdefault{10^{0}}$") == "10⁰"
    assert output._plain(r"$\mathdefault{-10^{12}}$") == "−10¹²"
    assert output._plain("") == "" and output._plain("0.5") == "0.5"

    def no_mathtext(*args, **kwargs):
        raise AssertionError("mathtext laid out")

    monkeypatch.setattr(mathtext.MathTextParser, "parse", no_mathtext)
    figures = []
    save = output._save
    monkeypatch.setattr(output, "_save", lambda fig, path: (figures.append(fig),
                                                            save(fig, path)))
    for decades in (10, 0.5):  # minor ticks are labelled on a short axis
        t = np.geomspace(1e-8, 1e-8 * 10 ** decades, 50)
        output.plot_timeseries(tmp_path / "T.png", t, {"peak": 30.0 + 100.0 * t ** 0.1},
                               np.full(len(t), 10.0), "decades", log_time=True)
        axis = figures[-1].axes[0].xaxis
        labels = [tick.get_text() for tick in axis.get_ticklabels(which="both")]
        mathtext_labels = LogFormatterSciNotation()
        mathtext_labels.set_axis(axis)
        assert any(labels) and not any("$" in s for s in labels)
        locs = axis.get_majorticklocs()
        want = [output._plain(s) for s in mathtext_labels.format_ticks(locs)]
        assert [tick.get_text() for tick in axis.get_ticklabels()] == want


def test_the_child_is_started_only_when_a_core_is_idle_now(monkeypatch):
    """The figure process takes a core that is idle at the run's start: busy_cores counts
    the tasks running now (not the 1-minute load average, which still shows a run that has
    just ended), and sees a process that spins on another core."""
    from anodesim import plotter, processes

    monkeypatch.delenv("ANODESIM_PLOT_CHILD", raising=False)
    monkeypatch.delitem(sys.modules, "matplotlib", raising=False)
    monkeypatch.setattr(plotter, "ChildPlotter", lambda: "child")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(os, "getloadavg", lambda: (1.5, 1.5, 1.5))  # a run just ended
    for busy, want in ((0, "child"), (1, plotter.InlinePlotter)):
        monkeypatch.setattr(processes, "busy_cores", lambda busy=busy: busy)
        got = plotter.start()
        assert got == want if want == "child" else isinstance(got, want)
    assert processes.running_others("0.52 0.58 0.59 1/467 1234") == 0  # this process alone
    assert processes.running_others("1.98 1.50 1.20 3/467 1234") == 2
    monkeypatch.undo()
    if not os.path.exists("/proc/loadavg"):
        pytest.skip("SKIPPED LOUDLY: no /proc/loadavg here (not Linux)")
    spin = subprocess.Popen(
        [sys.executable, "-c", "print('spinning', flush=True)\nwhile True: pass"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert spin.stdout.readline().strip() == "spinning"  # it runs now
        assert max(processes.busy_cores() for _ in range(20)) >= 1
    finally:
        spin.kill()
        spin.wait()


def test_the_child_draws_figures_side_by_side_in_helpers_and_reports_each_failure(tmp_path):
    """The figure child (_serve, in a fresh interpreter) hands the jobs to forked helpers,
    two at once, and draws a job itself while both are busy. Here the two helpers block
    until the child has drawn the third job (a pipe, no sleep), then one dies of SIGKILL
    and one raises: each is one line naming its file (the signal, the error with the
    helper's pid), the child's own and the later figure are written, the status is 1."""
    script = textwrap.dedent(f"""
        import os, pickle, socket, threading
        from pathlib import Path
        from anodesim import output, plotter

        gate_r, gate_w = os.pipe()  # released by the child's own job

        def fake(path, *args, **kwargs):
            if path.endswith(".kill") or path.endswith(".fail"):
                os.read(gate_r, 1)  # a helper: wait for the child's job
                if path.endswith(".kill"):
                    os.kill(os.getpid(), 9)
                raise ValueError(f"bad in {{os.getpid()}}")
            Path(path).write_text(str(os.getpid()))
            if path.endswith("c.ok"):
                os.write(gate_w, b"xx")
                os.write(done_w, b"x")

        output.plot_timeseries = fake
        plotter._helpers = lambda: 2
        ours, theirs = socket.socketpair()
        for name in ("a.kill", "b.fail", "c.ok", "d.ok"):
            ours.sendall(pickle.dumps(("plot_timeseries", ({str(tmp_path)!r} + "/" + name,),
                                       {{}})))
        done_r, done_w = os.pipe()

        def end_of_jobs():  # after c.ok: the reader thread is alive at every fork before it
            os.read(done_r, 1)
            ours.shutdown(socket.SHUT_WR)

        threading.Thread(target=end_of_jobs).start()
        r, w = os.pipe()
        with os.fdopen(w, "wb") as out:
            status = plotter._serve(theirs.makefile("rb"), out)
        print("STATUS", status, "PID", os.getpid())
        print(os.read(r, 100000).decode(), end="")
    """)
    done = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-c", script],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "DeprecationWarning" not in done.stderr, done.stderr
    first, *lines = done.stdout.splitlines()
    _, status, _, pid = first.split()
    assert status == "1"
    assert sorted(lines)[0] == f"{tmp_path}/a.kill failed (its drawing process ended with " \
                               "signal 9)"
    m = re.fullmatch(rf"{re.escape(str(tmp_path))}/b\.fail failed \(ValueError: bad in "
                     r"(\d+)\)", sorted(lines)[1])
    assert m and m.group(1) != pid, lines  # drawn by a helper, not the child
    assert len(lines) == 2
    assert (tmp_path / "c.ok").read_text() == pid  # both helpers busy: the child drew it
    assert (tmp_path / "d.ok").exists()
    assert not (tmp_path / "a.kill").exists() and not (tmp_path / "b.fail").exists()


def test_a_helper_dies_with_the_figure_child(tmp_path):
    """ChildPlotter.close kills the child (an interrupted run): a helper it had forked must
    not draw on for a run that is over. The helper here announces its pid and blocks; the
    child (this script) is killed; the helper is then gone, which the test sees as the end
    of the script's stdout, whose last holder the helper is (no sleep, no polling)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("SKIPPED LOUDLY: a helper dies with its child on Linux only (prctl)")
    script = textwrap.dedent(f"""
        import os, pickle, socket
        from anodesim import output, plotter

        never_r, never_w = os.pipe()

        def fake(path, *args, **kwargs):
            os.write(1, f"HELPER {{os.getpid()}}\\n".encode())
            os.read(never_r, 1)  # blocks for good
            open(path, "w").write("drawn after the run")

        output.plot_timeseries = fake
        plotter._helpers = lambda: 1
        ours, theirs = socket.socketpair()
        ours.sendall(pickle.dumps(("plot_timeseries", ({str(tmp_path / "late.png")!r},), {{}})))
        r, w = os.pipe()
        plotter._serve(theirs.makefile("rb"), os.fdopen(w, "wb"))
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    helper = None
    try:
        line = proc.stdout.readline()
        assert line.startswith("HELPER "), (line, proc.stderr.read()[-2000:])
        helper = int(line.split()[1])
        assert helper != proc.pid
        proc.kill()  # as ChildPlotter.close does
        proc.wait()
        rest, _ = proc.communicate(timeout=60)  # EOF once the helper has died too
        assert rest == ""
        helper = None
    finally:
        if helper is not None:
            os.kill(helper, 9)
        proc.kill()
    assert not (tmp_path / "late.png").exists()


def test_the_figure_child_imports_numpy_before_its_job_reader_starts():
    """The reader thread unpickles the jobs (numpy arrays) while the main thread imports
    matplotlib: two threads importing numpy at once can meet a "partially initialized
    module" (CPython's import deadlock avoidance), and the job stream broke once in the
    suite ("cannot import name 'asanyarray' ... most likely due to a circular import", a
    short run whose figures arrived at once). The child imports numpy before it starts the
    reader: checked here by the thread's start, in a fresh interpreter."""
    code = textwrap.dedent("""
        import io, sys, threading
        start = threading.Thread.start
        def checked(self):
            assert "numpy" in sys.modules, "the reader started before numpy was imported"
            start(self)
        threading.Thread.start = checked
        from anodesim import plotter
        sys.exit(plotter._serve(io.BytesIO(), io.BytesIO()))
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-1000:]


SWEEP_TITLE = ("W insert in Cu anode, 20 um Gaussian spot, 100 kV x 0.1 mA, 10 s (fwhm_um = 10, "
               "current_mA = 0.04, duration_s = 1, fields = False)")


@pytest.mark.parametrize("title", [SWEEP_TITLE, SWEEP_TITLE + ": t = 1 s",
                                   "W" * 40 + " " + "M" * 30 + " " + "i" * 90 + " 0123456789" * 6])
def test_a_long_title_is_broken_into_lines_inside_the_figure_above_the_axes(tmp_path,
                                                                            monkeypatch, title):
    """A sweep's case title names every swept value: it ran off both sides of the run
    figures (the reflection insert's, about 9.9 in on an 8 in figure). It is broken at
    spaces into lines that, as drawn, lie inside the figure and above the axes, and the
    figure grows by the extra lines (the axes keep their size); a title that fits is kept
    as it is on one line, the figure unchanged."""
    import numpy as np
    from PIL import Image

    from anodesim import output

    figures = _drawn(monkeypatch)
    t = np.geomspace(1e-6, 1.0, 30)
    for name, draw in (
            ("T.png", lambda p, ti: output.plot_timeseries(
                p, t, {"peak": 30.0 + 100.0 * t ** 0.1}, np.full(len(t), 10.0), ti, True)),
            ("drift.png", lambda p, ti: output.plot_drift(
                p, list(t), {"across": list(t)}, list(t), list(t), list(100 * t), ti, True,
                px_per_um=0.2, dM_rel=list(1e-6 * t))),
            ("profiles.png", lambda p, ti: output.plot_profiles(
                p, {"depth": (list(t * 1e3), list(30 + t))}, ti)),
            ("chart.png", lambda p, ti: output.plot_chart(
                p, "loading time (s)", list(t), {"peak": list(1 / t)}, "P (W)", ti, True))):
        figures.clear()
        draw(tmp_path / name, title)
        fig = figures[0]
        renderer = fig.canvas.get_renderer()
        box = fig.axes[0].title.get_window_extent(renderer)
        frame = fig.bbox
        lines = fig.axes[0].title.get_text().split("\n")
        assert len(lines) >= 2, name
        assert " ".join(lines) == title, name                   # broken at spaces only
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1, (name, box, frame)
        assert box.y1 <= frame.y1, (name, box, frame)
        assert box.y0 >= fig.axes[0].bbox.y1 - 1, name          # above the axes
        short = tmp_path / f"short_{name}"
        draw(short, "a title that fits")
        assert figures[-1].axes[0].title.get_text() == "a title that fits"
        if name != "chart.png":  # fixed margins: the figure grows by the extra lines only
            extra = output.fit_title(title, 8.0 - 0.2)[1] if name != "profiles.png" else \
                output.fit_title(title, 2 * 3.725 - 0.2)[1]
            (w0, h0), (w1, h1) = (Image.open(p).size for p in (short, tmp_path / name))
            assert w0 == w1 and h1 - h0 == pytest.approx(extra * 120, abs=1), name


def test_the_title_of_a_temperature_map_is_broken_into_lines_inside_the_figure(tmp_path,
                                                                             monkeypatch):
    """plot_slices' figure title (a suptitle) likewise."""
    import numpy as np

    from anodesim import output

    figures = _drawn(monkeypatch)
    x, y = np.linspace(-1, 1, 5), np.linspace(0, 1, 4)
    T = np.outer(y, 1 + x ** 2)
    output.plot_slices(tmp_path / "map.png", [("a cut", x, y, T, "r (mm)", "z (mm)")],
                       SWEEP_TITLE + ": t = 1 s")
    fig = figures[0]
    renderer = fig.canvas.get_renderer()
    box = fig._suptitle.get_window_extent(renderer)
    assert "\n" in fig._suptitle.get_text()
    assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1 and box.y1 <= fig.bbox.y1
    assert box.y0 >= fig.axes[0].title.get_window_extent(renderer).y1 - 1


def test_titles_with_missing_glyphs_mathtext_or_line_breaks_are_fitted_and_drawn(
        tmp_path, monkeypatch):
    """fit_title on what users write: characters the default font lacks (CJK, emoji; each
    counted one em) are drawn as before, not an error; a mathtext span is never broken
    (matplotlib parses each line on its own: a broken span would print its source); a
    title already broken into lines keeps its breaks, each line fitted, and the figure
    has room for every line."""
    import warnings

    import numpy as np

    from anodesim import output

    wide = "陽極の温度 🔥 " * 12
    text, extra = output.fit_title(wide, 7.8)
    assert text.count("\n") >= 1 and extra > 0
    assert " ".join(text.split("\n")) == " ".join(wide.split())
    math = "peak " * 20 + r"$\Delta T_{\mathrm{peak}} = 5$ at 10 W " + "x " * 20
    text, _ = output.fit_title(math, 7.8)
    assert all(line.count("$") % 2 == 0 for line in text.split("\n"))
    assert r"$\Delta T_{\mathrm{peak}} = 5$" in text
    given = "first line\n" + SWEEP_TITLE
    text, extra = output.fit_title(given, 7.8)
    lines = text.split("\n")
    assert lines[0] == "first line" and len(lines) >= 3
    assert extra == pytest.approx((len(lines) - 1) * output.TITLE_LINE_EM * 10 / 72)
    assert output.fit_title("a\nb", 7.8) == ("a\nb", pytest.approx(output.TITLE_LINE_EM * 10 / 72))
    figures = _drawn(monkeypatch)
    t = np.geomspace(1e-6, 1.0, 10)
    for i, title in enumerate((wide, math, given)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # matplotlib's missing-glyph warnings
            output.plot_timeseries(tmp_path / f"T{i}.png", t, {"peak": 30 + t},
                                   np.full(len(t), 1.0), title, True)
            fig = figures[-1]
            box = fig.axes[0].title.get_window_extent(fig.canvas.get_renderer())
        assert box.y1 <= fig.bbox.y1 and box.y0 >= fig.axes[0].bbox.y1 - 1, i
    assert (tmp_path / "T0.png").stat().st_size > 10_000
