"""The run's figures drawn in a child process (plotter.py): the parent never imports
matplotlib, the child writes the PNG files, and a figure that cannot be drawn or a child
that dies surfaces as one RunFailure line after the CSV and JSON files are written."""

import json
import os
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
    """The child killed (SIGKILL) before its figures: finish() says so, naming them."""
    from anodesim.plotter import ChildPlotter

    p = ChildPlotter()
    p.proc.kill()
    p.draw("plot_timeseries", tmp_path / "t.png", [0.0, 1.0], {"T": [1.0, 2.0]}, [0.0, 1.0],
           "title", False)
    with pytest.raises(RunFailure, match=r"ended with signal 9 before drawing .*t\.png; the "
                                         "CSV and JSON results are complete"):
        p.finish()
    p.close()
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
