"""The command line end to end: files written, summary contents, mesh reuse, steady output."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from cases import reflection, transmission
from test_case import write_toml

from anodesim.cli import main

#: a lean mesh for tests whose two sides share it, or that test files and processes, not
#: numbers (as test_rating_helper.py's LEAN)
LEAN_MESH = {"growth": 0.3, "spot_fraction": 0.2}


def read_rows(path):
    with open(path) as f:
        lines = [line for line in f if not line.startswith("#")]
    return list(csv.DictReader(lines))


def test_run_writes_all_outputs(tmp_path, capsys):
    case = reflection(probes={"below": {"r_mm": 0.0, "depth_mm": 0.05}},
                      output={"fields": True, "save_times_s": [0.01, 0.1]})
    path = write_toml(tmp_path / "case.toml", case)
    out = tmp_path / "run"
    assert main(["run", str(path), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "peak temperature" in err
    for name in ("mesh.msh", "timeseries.csv", "temperatures.png", "temperature_field.png",
                 "summary.json"):
        assert (out / name).is_file(), name
    assert (out / "fields.bp").is_dir() and not (out / "fields.bp.partial").exists()
    assert not list(out.glob(".*"))  # no temporary files left behind
    rows = read_rows(out / "timeseries.csv")
    t = np.array([float(r["time_s"]) for r in rows])
    assert t[0] == 0 and t[-1] == pytest.approx(0.1) and np.all(np.diff(t) > 0)
    assert {"T_peak_C", "T_max_target_C", "T_max_heat_sink_C", "T_below_C",
            "stored_heat_J"} <= set(rows[0])
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "complete"
    assert len(s["case_hash"]) == 16
    assert {"dolfinx", "PETSc", "anodesim"} <= set(s["provenance"]["versions"])
    assert s["timing_s"]["total"] > 0
    peak = max(float(r["T_peak_C"]) for r in rows)
    assert s["results"]["T_peak_max_C"] == pytest.approx(peak)
    # the probe 50 µm below the spot is cooler than the peak and warmer than the start
    assert 30.0 < float(rows[-1]["T_below_C"]) < peak


def test_reused_mesh_gives_the_same_result(tmp_path):
    first = tmp_path / "a"
    path = write_toml(tmp_path / "case.toml", reflection(mesh=LEAN_MESH))
    assert main(["run", str(path), "-o", str(first), "-q"]) == 0
    again = write_toml(tmp_path / "again.toml",
                       reflection(mesh={**LEAN_MESH, "file": str(first / "mesh.msh")}))
    assert main(["run", str(again), "-o", str(tmp_path / "b"), "-q"]) == 0
    a = json.loads((first / "summary.json").read_text())["results"]["T_peak_max_C"]
    b = json.loads((tmp_path / "b" / "summary.json").read_text())["results"]["T_peak_max_C"]
    assert a == pytest.approx(b, rel=1e-12)


def test_steady_run_writes_profiles(tmp_path):
    path = write_toml(tmp_path / "case.toml", transmission(
        interfaces={"target_window": {"conductance_W_m2K": 2.05e8}}))
    out = tmp_path / "run"
    assert main(["run", str(path), "-o", str(out), "-q"]) == 0
    assert (out / "profiles.png").is_file()
    rows = read_rows(out / "profiles.csv")
    axis = [float(r["T_C"]) for r in rows if r["line"] == "axis"]
    assert axis[0] == max(axis)  # hottest at the spot


@pytest.mark.parametrize("properties", ["temperature_dependent", "constant"])
def test_melting_stops_the_run_exit_1_keeps_partial_results(tmp_path, capsys, properties):
    """Driving W past its melting point stops the run with exit 1 and a clear reason, with
    temperature-dependent and with constant properties alike."""
    path = write_toml(tmp_path / "case.toml", reflection(
        beam={"power_W": 2000.0, "fwhm_um": 10.0}, materials={"properties": properties}))
    out = tmp_path / "run"
    assert main(["run", str(path), "-o", str(out), "-q"]) == 1
    err = capsys.readouterr().err
    assert "above the melting point 3695 K" in err
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "failed" and "target (W)" in s["error"]
    assert (out / "timeseries.csv").is_file()


def test_console_script_help():
    r = subprocess.run([sys.executable, "-m", "anodesim.cli", "--help"], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0 and "run" in r.stdout


@pytest.mark.parametrize("argv, opening", [
    (["--help"], "Simulate the heating of an X-ray tube anode: run a case,"),
    (["drift-table", "--help"], "Run a case (with [mounts] and [drift]) at the times of a "
                                "scan schedule"),
])
def test_help_describes_the_command_in_whole_sentences(capsys, argv, opening):
    """The top-level description was the module docstring's first line, cut mid-sentence
    ("Command line: ``anodesim run CASE.toml [-o DIR]``, ``anodesim rate CASE.toml``,"), and
    drift-table's was in reST markup: now whole sentences without double backticks, and the
    top level lists the exit statuses below the commands."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 0
    text = capsys.readouterr().out
    description = " ".join(text.split("\n\n")[1].split())
    assert description.startswith(opening) and description.endswith("."), description
    assert "``" not in text
    if argv == ["--help"]:
        assert " ".join(text.split()).endswith("130 interrupted, 129 hung up, 143 terminated. "
                                               "--debug adds a failure's traceback.")


def test_run_with_drift_writes_drift_outputs(tmp_path):
    """Mounts and [drift] add drift columns (filled at the 20 default save times: this
    drift rises monotonically, so no extreme lies between them), the
    displacement and stress fields, drift.png and the mechanics summary; the CSV figures
    obey the drift map's relations."""
    case = reflection(mounts={"cooled_end": {"type": "clamped"}},
                      drift={"view_direction": [0.94, 0.0, 0.342], "source_object_mm": 20.0,
                             "source_detector_mm": 500.0, "pixel_size_um": 100.0},
                      output={"fields": True}, mesh=LEAN_MESH)
    path = write_toml(tmp_path / "case.toml", case)
    out = tmp_path / "run"
    assert main(["run", str(path), "-o", str(out), "-q"]) == 0
    for name in ("drift.png", "temperatures.png"):
        assert (out / name).is_file()
    for name in ("fields.bp", "displacement.bp", "stress.bp"):
        assert (out / name).is_dir()
    rows = read_rows(out / "timeseries.csv")
    saved = [r for r in rows if r["u_spot_z_um"] != ""]
    assert len(saved) == 20
    last = saved[-1]
    M = 500.0 / 20.0
    across = float(last["drift_across_view_um"])
    assert float(last["image_drift_px"]) == pytest.approx((M - 1) * across / 100.0, rel=1e-6)
    # normal incidence: the spot moves up the beam by the surface rise
    assert float(last["spot_shift_um"]) == pytest.approx(-float(last["u_spot_z_um"]), rel=1e-9)
    view = np.array([0.94, 0.0, 0.342]) / np.linalg.norm([0.94, 0.0, 0.342])
    rise = float(last["u_spot_z_um"])
    assert across == pytest.approx(rise * np.sqrt(1 - view[2] ** 2), rel=1e-6)
    assert rise > 0 and float(last["von_mises_max_target_MPa"]) > 0
    s = json.loads((out / "summary.json").read_text())
    m = s["mechanics"]
    # the 20 save times and the initial state (the drift's shift weight); the drift rises
    # monotonically, so its extremes are at save times and need no solve between them
    assert m["solves"] == 21
    assert m["u_spot_z_um"]["final"] == pytest.approx(rise, rel=1e-9)
    assert set(m["von_mises_max_MPa"]) == {"target", "heat_sink"}
    assert s["timing_s"]["mechanics"] > 0


def test_limits_reported_with_worst_time_and_margin(tmp_path):
    """Every run reports each limit's worst value, when it occurred and the margin."""
    path = write_toml(tmp_path / "case.toml", reflection(  # coolant side 31.3 °C at most
        limits={"coolant_side_C": 32.0, "spot_C": 2000.0}))
    out = tmp_path / "run"
    assert main(["run", str(path), "-o", str(out), "-q"]) == 0
    s = json.loads((out / "summary.json").read_text())
    lims = {lim["limit"]: lim for lim in s["results"]["limits"]}
    assert set(lims) == {"spot", "erosion", "interface", "heat_sink", "coolant_side"}
    assert lims["erosion"]["limit_um"] == pytest.approx(1.0)  # default, over 10 000 h
    life = s["results"]["life"]
    assert lims["erosion"]["worst_um"] == pytest.approx(
        life["erosion_rate_nm_h"] * 1e-3 * 10_000.0, rel=1e-9)
    assert lims["spot"]["limit_C"] == pytest.approx(2000.0)
    assert lims["spot"]["worst_C"] == pytest.approx(s["results"]["T_peak_max_C"])
    assert lims["heat_sink"]["limit_C"] == pytest.approx(200.0)  # Cu damage, library default
    assert lims["spot"]["holds"] is True
    rows = read_rows(out / "timeseries.csv")
    cool = max(float(r["T_max_coolant_side_C"]) for r in rows)
    assert lims["coolant_side"]["worst_C"] == pytest.approx(cool)
    assert lims["coolant_side"]["holds"] is (cool <= 32.0)
    assert lims["coolant_side"]["margin_K"] == pytest.approx(32.0 - cool)


def test_results_get_the_umask_mode_not_mkstemp_0600(tmp_path):
    """Atomic writes go through mkstemp (mode 0600); the renamed file gets the usual
    0666 & ~umask, so a study folder written in a container or by a colleague is readable."""
    import os

    from anodesim.output import atomic_write

    umask = os.umask(0)
    os.umask(umask)
    atomic_write(tmp_path / "x.csv", "a,b\n")
    assert (tmp_path / "x.csv").stat().st_mode & 0o777 == 0o666 & ~umask
    assert 0o666 & ~umask != 0o600  # the test means something under this umask


def _closed_pipe() -> int:
    """The write end of a pipe whose reader has already gone: every write to it fails
    with EPIPE (and raises SIGPIPE), as after `| head` has read its lines."""
    import os

    read, write = os.pipe()
    os.close(read)
    return write


def test_json_files_hold_no_infinity_or_nan_tokens(tmp_path):
    """An infinite or NaN number is written as null (an unlimited life already was), never
    as Infinity or NaN, which are not JSON (a 1e308 s load wrote "deposited_energy_J":
    Infinity into summary.json); finite numbers, numpy's float64 included, are kept."""
    from anodesim import output

    data = {"energy_J": float("inf"), "rows": [1.5, float("nan"), np.float64(-np.inf)],
            "pair": (np.float64(2.0), -float("inf")), "nested": {"n": 3, "s": "inf"}}
    output.write_json(tmp_path / "x.json", data)

    def refuse(token):
        raise AssertionError(f"{token} written")

    got = json.loads((tmp_path / "x.json").read_text(), parse_constant=refuse)
    assert got == {"energy_J": None, "rows": [1.5, None, None], "pair": [2.0, None],
                   "nested": {"n": 3, "s": "inf"}}


def test_a_reader_that_leaves_does_not_end_the_run(tmp_path):
    """`anodesim run CASE 2>&1 | head -1`: once the reader has gone, the progress lines are
    dropped and the run finishes every file, with its own exit status. It used to be killed
    by PETSc's SIGPIPE handler at its next line, its files left partial (or, before PETSc
    started, to fail with "Broken pipe")."""
    path = write_toml(tmp_path / "case.toml",
                      reflection(output={"fields": True}, mesh=LEAN_MESH))
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "anodesim", "run", str(path), "-o",
                             str(out)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    first = proc.stdout.readline()  # the title, written before the run starts
    proc.stdout.close()  # the reader leaves; the step and summary lines follow
    assert proc.wait(timeout=600) == 0
    assert first.startswith(b"anodesim ")
    assert json.loads((out / "summary.json").read_text())["status"] == "complete"
    assert (out / "temperatures.png").is_file() and (out / "fields.bp").is_dir()
    assert not list(out.glob("*.partial")) and not list(out.glob(".*"))


def test_a_listing_into_a_closed_pipe_ends_quietly():
    """`anodesim materials | head -1`: no "run failed: Broken pipe" line, exit status 0."""
    import os

    pipe = _closed_pipe()
    try:
        proc = subprocess.run([sys.executable, "-m", "anodesim", "materials"], stdout=pipe,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(pipe)
    assert (proc.returncode, proc.stderr) == (0, "")


@pytest.mark.parametrize("argv, line", [
    (["run", "c.toml", "--ntasks", "abc"],
     "anodesim: error: argument --ntasks: invalid int value: 'abc' (`anodesim run --help` "
     "lists the arguments)"),
    (["rate", "c.toml", "--chart", "bogus"],
     "anodesim: error: argument --chart: invalid choice: 'bogus' (choose from 'single', "
     "'duty', 'period', 'continuous', 'life', 'all') (`anodesim rate --help` lists the "
     "arguments)"),
    (["drift-table", "c.toml"],
     "anodesim: error: the following arguments are required: --schedule (`anodesim "
     "drift-table --help` lists the arguments)"),
    (["check"], "anodesim: error: the following arguments are required: case (`anodesim "
                "check --help` lists the arguments)"),
    (["bogus"], "anodesim: error: argument command: invalid choice: 'bogus' (choose from "),
    # an option no parser knows is found by the top parser: its help is the subcommand's
    (["run", "c.toml", "--bogus"], "anodesim: error: unrecognized arguments: --bogus "
                                   "(`anodesim run --help` lists the arguments)"),
    (["check", "c.toml", "extra"], "anodesim: error: unrecognized arguments: extra "
                                   "(`anodesim check --help` lists the arguments)"),
])
def test_a_bad_command_line_is_one_line(tmp_path, capsys, argv, line):
    """argparse printed its usage, two to five lines, above its error line: now the one
    line, exit 2, as every other failure."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith(line), err


def test_a_signed_figure_that_is_zero_prints_without_a_sign():
    """The console's signed drift figures: exactly zero (the u image shift of a view in the
    anode's symmetry plane, as in the shipped example) read "+0"; now "0", the others keep
    their sign."""
    from anodesim.cli.run import signed

    assert [signed(x) for x in (0.0, -0.0, 1.0612, -4.7219, 7.74e-5)] == [
        "0", "0", "+1.06", "-4.72", "+7.74e-05"]
