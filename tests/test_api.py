"""The Python API of the run layer: Simulation (initialise, run, re-run at another loading),
the typed RunResult (columns with units, limits, summary_dict, repr, plot) and
anodesim.rate returning a typed Rating."""

import json
import shutil
import re

import numpy as np
import pytest
from cases import block, reflection

import anodesim
from anodesim.case import Loading
from anodesim.simulation import Simulation


#: a lean mesh for tests whose two sides share it, or that test files and processes, not
#: numbers (as test_rating_helper.py's LEAN)
LEAN_MESH = {"growth": 0.3, "spot_fraction": 0.2}


def small_block(**changes):
    from cases import merge

    return merge(block(geometry={"kind": "block", "radius_mm": 0.5},
                       mesh={"spot_fraction": 0.2, "growth": 0.3}), changes)


def test_rerun_at_another_schedule_equals_a_fresh_run():
    """A Simulation re-run with another schedule and power gives what a fresh run of that
    case gives (k(T), ρc(T): the cached Jacobians are dropped, so Newton takes the same path),
    without building the mesh again."""
    case = anodesim.from_dict(reflection(loading={"duration_s": 0.02}, mesh=LEAN_MESH))
    sim = Simulation(case)
    first = sim.run()
    domain = sim.domain
    other = Loading("continuous", ((0.03, 20.0),))
    again = sim.run(loading=other, beam_power_W=20.0)
    assert sim.domain is domain
    fresh = anodesim.run(anodesim.from_dict(reflection(loading={"duration_s": 0.03},
                                                       beam={"power_W": 20.0},
                                                       mesh=LEAN_MESH)))
    for name in ("T_peak_C", "T_max_heat_sink_C", "stored_heat_J", "deposited_energy_J"):
        np.testing.assert_allclose(again.series[name], fresh.series[name], rtol=1e-10)
    assert again.summary_dict()["beam"]["beam_power_W"] == 20.0
    assert again.T_peak_max_C > first.T_peak_max_C


def test_result_is_typed_and_summary_dict_is_the_file(tmp_path):
    res = anodesim.run(small_block(limits={"spot_C": 50.0}), tmp_path / "run")
    s = res.series
    assert s.units["T_peak_C"] == "°C" and s.units["stored_heat_J"] == "J"
    assert s.names[0] == "time_s" and len(s) == 1
    assert isinstance(s["T_peak_C"], np.ndarray)
    spot = [c for c in res.limits if c.name == "spot"][0]
    assert spot.worst == pytest.approx(s["T_peak_C"].max(), rel=1e-12)
    assert spot.holds == (spot.worst <= 50.0) and spot.margin == pytest.approx(50.0 - spot.worst)
    on_disk = json.loads((tmp_path / "run" / "summary.json").read_text())
    mine = json.loads(json.dumps(res.summary_dict(), default=str))
    for key in ("results", "beam", "numerics", "case", "status", "case_hash"):
        assert on_disk[key] == mine[key]
    text = repr(res)
    assert len(text) < 300 and "complete" in text and "spot" in text
    with pytest.raises(KeyError, match="not a column"):
        s["T_nowhere_C"]


def test_peak_temperature_skips_a_nan_as_the_summary_does():
    """RunResult.T_peak_max_C took np.max of T_peak_C, summary.json's T_peak_max_C np.nanmax:
    a NaN row (a step without a number) made the API's peak NaN where the file (and the
    results table from it) gave the hottest value, at the time first_max_index skips to.
    Both are now the one property: the NaN skipped, None with no number at all."""
    import dataclasses as dc

    from anodesim.results import TimeSeries

    res = anodesim.run(small_block(loading={"kind": "continuous", "duration_s": 1e-3}))
    s = res.series
    rows = [list(r) for r in s.rows()]
    hottest = max(s["T_peak_C"])
    rows[1][s.names.index("T_peak_C")] = float("nan")
    nan = dc.replace(res, series=TimeSeries(s.names, [s.units[n] for n in s.names], rows))
    assert nan.T_peak_max_C == nan.summary_dict()["results"]["T_peak_max_C"] == hottest
    assert "peak nan" not in repr(nan)
    rows = [[float("nan") if n == "T_peak_C" else v for n, v in zip(s.names, r)]
            for r in rows]
    none = dc.replace(res, series=TimeSeries(s.names, [s.units[n] for n in s.names], rows))
    assert none.T_peak_max_C is None


def test_float_cells_keep_a_whole_value_a_float():
    """results.csv and the CSV files of a run or rating wrote 5.0 as "5": a column of whole
    values read back as integers (pandas int64, where results.parquet has floats)."""
    from anodesim.output import float_cell

    assert [float_cell(v) for v in (5.0, -3.0, 0.0, 0.1, 1e-5, 2e20, 123.456789012345)] == [
        "5.0", "-3.0", "0.0", "0.1", "1e-05", "2e+20", "123.456789"]
    assert float(float_cell(1 / 3)) == pytest.approx(1 / 3, rel=1e-9)  # 10 digits


def test_plot_returns_axes():
    pytest.importorskip("matplotlib")
    res = anodesim.run(reflection(loading={"duration_s": 0.005}, mesh=LEAN_MESH,
                                  probes={"below_spot": {"r_mm": 0.0, "depth_mm": 0.05}}))
    ax = res.plot()
    assert ax.get_ylabel() == "temperature (°C)"
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines)[0] == "peak (target)"
    # probes are named as such and dotted (one often lies on a region's maximum)
    probes = [label for label in lines if label.startswith("probe ")]
    assert probes == [f"probe {name}" for name in res.probes] and probes
    assert {lines[p].get_linestyle() for p in probes} == {":"}
    assert {lines[label].get_linestyle() for label in lines if label not in probes} == {"-"}


def test_rate_returns_a_typed_rating_and_writes_only_when_asked(tmp_path):
    # a lean mesh: what is checked is the Rating's type and what is written, not its numbers
    case = reflection(materials={"properties": "constant"}, mesh=LEAN_MESH)
    rating = anodesim.rate(case, charts=("continuous",), confirm=False)
    assert rating.continuous["max_continuous_beam_power_W"] > 0
    assert rating.max_safe is not None and not rating.max_safe.confirmed
    assert "continuous" in repr(rating) and len(repr(rating)) < 300
    assert not list(tmp_path.iterdir())
    anodesim.rate(case, tmp_path / "r", charts=("continuous",), confirm=False)
    assert (tmp_path / "r" / "rating.json").exists()
    assert (tmp_path / "r" / "rating_heat_content.png").exists()
    # an unconfirmed rating's table describes its own columns (it named confirmed ones)
    notes = [line for line in (tmp_path / "r" / "rating_continuous.csv").read_text()
             .splitlines() if line.startswith("#")]
    assert not any("confirmed_W" in line for line in notes)
    assert any("NOT CONFIRMED" in line and "--no-confirm" in line for line in notes)
    with pytest.raises(ValueError, match="chart 'single'"):
        rating.plot("single")
    # rated from a dict: no case file to keep, so rating.json holds the resolved case
    # (as summary.json does) and the report shows the case's sections from it (had none)
    saved = json.loads((tmp_path / "r" / "rating.json").read_text())
    assert saved["case"] == json.loads(json.dumps(anodesim.from_dict(case).to_dict()))
    assert not (tmp_path / "r" / "case.toml").exists()
    from anodesim.cli import main

    assert main(["report", str(tmp_path / "r"), "-q"]) == 0
    page = (tmp_path / "r" / "report.html").read_text()
    assert "resolved case (SI units; the case file was not kept" in page
    assert "Geometry and mesh" in page


def test_rate_takes_every_chart_name_and_refuses_unknown_ones(tmp_path):
    """charts: "all" is every chart (as --chart all), "period" the serial-load charts (as
    "duty"), a single name works as a one-name selection; an unknown name is a CaseError
    naming it and the allowed ones, before anything is computed or written."""
    from anodesim.case import CaseError

    case = reflection(materials={"properties": "constant"},
                      mesh={"growth": 0.3, "spot_fraction": 0.2},
                      rating={"exposure_points": 2, "duty_cycles": [0.1, 0.5],
                              "periods_s": [0.01, 1.0]})
    for bad in (("bogus",), ("single", "Single"), "heat", (None,), 5):
        with pytest.raises(CaseError, match=r"^charts.*expected .*single, duty, period, "
                                            r"continuous, life, all"):
            anodesim.rate(case, tmp_path / "r", charts=bad, confirm=False)
    assert not list(tmp_path.iterdir())
    every = anodesim.rate(case, charts=("all",), confirm=False)
    assert every.charts() == ["single", "duty", "period", "heat_content", "continuous", "life"]
    assert anodesim.rate(case, charts=("period",), confirm=False).charts() == [
        "duty", "period"]
    assert anodesim.rate(case, charts="single", confirm=False).charts() == ["single"]
    assert "NOT CONFIRMED" in repr(every)


def test_a_column_named_twice_stops_the_run_before_it_starts(monkeypatch):
    """The backstop behind the case check's reserved names: monitors that would write one
    column twice are an internal error at initialise, not a timeseries.csv whose second
    column silently replaces the first."""
    import anodesim.simulation as simulation

    real = simulation.default_monitors
    monkeypatch.setattr(simulation, "default_monitors",
                        lambda case, sim, **kw: (lambda ms: ms + ms[:1])(real(case, sim, **kw)))
    sim = Simulation(anodesim.from_dict(small_block()))
    with pytest.raises(RuntimeError, match="columns named twice: beam_power_W"):
        sim.initialise()


@pytest.mark.parametrize("bad", [5, None, [small_block()], 2.5])
def test_an_argument_of_the_wrong_kind_is_a_case_error_naming_it(tmp_path, monkeypatch, bad):
    """run, rate and sweep given something that is neither a case (a Case, a dict, a path)
    nor a study: a CaseError naming the argument, its value and what it takes (was
    pathlib's TypeError "argument should be a str or an os.PathLike object ...", which
    names neither); nothing written."""
    monkeypatch.chdir(tmp_path)
    from anodesim.case import CaseError

    shown = repr(bad)[:20]
    with pytest.raises(CaseError, match=r"^case = .*expected an anodesim\.Case, a dict") as e:
        anodesim.run(bad, tmp_path / "run")
    assert shown in str(e.value)
    with pytest.raises(CaseError, match=r"^case = .*expected an anodesim\.Case, a dict"):
        anodesim.rate(bad, tmp_path / "rating", charts="single")
    with pytest.raises(CaseError, match=r"^study = .*expected a study file, a study folder"):
        anodesim.sweep(bad, tmp_path / "study")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("jobs", ["2", 2.0, True, None])
def test_sweep_jobs_of_the_wrong_kind_is_a_case_error(tmp_path, jobs):
    """jobs must be a whole number: "2" was a TypeError from a comparison ('<' not
    supported between 'str' and 'int'), 2.0 got past the check; nothing written."""
    from anodesim.case import CaseError

    study = {"case": small_block(), "axes": {"beam.power_W": [1.0]}}
    with pytest.raises(CaseError, match=rf"^jobs = {re.escape(repr(jobs))}: expected a whole "
                                        "number of processes"):
        anodesim.sweep(study, tmp_path / "s", jobs=jobs)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("bad", [[1, 2], None, "beam"])
def test_from_dict_of_something_else_names_the_case(bad):
    """The root of a case is not a dict: the line names it (it said " = [1, 2]: expected a
    table", with no name before the '=')."""
    with pytest.raises(anodesim.CaseError, match=r"^case = .*: expected a dict of the case"):
        anodesim.from_dict(bad)


def test_a_run_that_cannot_finish_is_an_anodesim_run_failure():
    """A script catches a run that cannot finish (here the target melts) as
    anodesim.RunFailure, beside anodesim.CaseError for bad input: it was only importable
    from anodesim.errors, which the README does not name."""
    from anodesim import errors

    assert anodesim.RunFailure is errors.RunFailure and "RunFailure" in anodesim.__all__
    with pytest.raises(anodesim.RunFailure, match="melting point"):
        anodesim.run(small_block(beam={"power_W": 5000.0}))


def test_sweep_from_python_retries_the_failed_cases(tmp_path):
    """anodesim.sweep(..., retry_failed=True) is `sweep --retry-failed`: a failed case
    (here one whose worker left no result, recorded as SLURM or a crash records it) runs
    again and its new result replaces the failure; without it the failure stands (Python
    had no way to retry: the table came back failed at every call)."""
    from anodesim import study as study_mod

    study = {"case": small_block(), "axes": {"beam.power_W": [1.0, 2.0]}}
    out = tmp_path / "s"
    first = anodesim.sweep(study, out)
    assert [r["status"] for r in first.rows] == ["ok", "ok"]
    st = study_mod.load(out)
    shutil.rmtree(out / "cases" / st.points[1].id)
    study_mod.record_failure(out, st.points[1], "worker killed (test)")
    assert [r["status"] for r in anodesim.sweep(study, out).rows] == ["ok", "failed"]
    again = anodesim.sweep(study, out, retry_failed=True)
    assert [r["status"] for r in again.rows] == ["ok", "ok"]
    assert again.column("T_peak_max_C") == first.column("T_peak_max_C")


def test_a_case_dict_whose_mesh_file_is_relative_says_where_it_looked(tmp_path,
                                                                       monkeypatch):
    """load(...).source is the file as a dict; its relative geometry.file is read, by
    from_dict, from the current folder unless base_dir names the case file's. The line
    says which folder it looked in and how to change it (it said only "expected an
    existing mesh file", of a file the user could see beside the case)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    data = anodesim.load(root / "meshes" / "block_anode_case.toml").source
    monkeypatch.chdir(tmp_path)
    with pytest.raises(anodesim.CaseError, match=re.escape(
            "geometry.file = 'block_anode.msh': expected an existing mesh file (a relative "
            "name is read from the case file's folder, or from_dict's base_dir: here "
            f"{tmp_path.resolve()})")):
        anodesim.from_dict(data)
    case = anodesim.from_dict(data, base_dir=root / "meshes")
    assert Path(case.geometry.file).resolve() == root / "meshes" / "block_anode.msh"


def test_a_misspelt_table_column_is_a_key_error(tmp_path):
    """Table.column of a name the table does not have: KeyError with the nearest names (it
    returned a list of Nones, one per case, which a script plotted as nothing); as
    RunResult.column does. The sweep is given a numpy integer for jobs."""
    import numpy as np

    # jobs from a numpy array of job counts (a script's timing sweep): a whole number too
    # (it was refused: "expected a whole number of processes")
    table = anodesim.sweep({"case": small_block(), "axes": {"beam.power_W": [1.0]}},
                           tmp_path / "s", jobs=np.arange(1, 3)[0])
    assert table.column("T_peak_max_C")[0] > 0
    with pytest.raises(KeyError, match=r"'T_peak_max': not a column of the results table "
                                       r"\(did you mean 'T_peak_max_C'"):
        table.column("T_peak_max")


def test_run_and_rate_from_a_file_keep_the_case_text_for_the_report(tmp_path):
    """anodesim.run / rate given a case file and a folder keep its text as case.toml, as
    `anodesim run` and `rate` do, so `anodesim report` shows the file the user wrote (it
    showed "resolved case (SI units; the case file was not kept in this folder)")."""
    from anodesim.cli import main
    from test_case import write_toml

    case = tmp_path / "mine.toml"
    write_toml(case, small_block())
    anodesim.run(case, tmp_path / "run")
    assert (tmp_path / "run" / "case.toml").read_text() == case.read_text()
    assert main(["report", str(tmp_path / "run"), "-q"]) == 0
    page = (tmp_path / "run" / "report.html").read_text()
    assert "Input: case file" in page and "not kept in this folder" not in page
    anodesim.run(small_block(), tmp_path / "dict")  # no file: nothing to keep
    assert not (tmp_path / "dict" / "case.toml").exists()
    rated = tmp_path / "rated.toml"
    write_toml(rated, reflection(materials={"properties": "constant"},
                                 mesh={"growth": 0.3, "spot_fraction": 0.2}))
    anodesim.rate(rated, tmp_path / "rating", charts="single", confirm=False)
    assert (tmp_path / "rating" / "case.toml").read_text() == rated.read_text()


class _PathLike:
    """A path-like that is not a str or pathlib.Path (os.DirEntry, a framework's own path
    type): os.fspath gives its name."""

    def __init__(self, path):
        self.path = str(path)

    def __fspath__(self):
        return self.path


def test_a_case_file_given_as_any_path_like_is_kept(tmp_path):
    """A case file given as an os.PathLike other than str and Path was run but not known as
    the case's file: no case.toml was kept, and --overwrite-like replacement (overwrite=True)
    did not spare it when it lay in the run's folder. Now any path-like is the case file."""
    from test_case import write_toml

    case = tmp_path / "mine.toml"
    write_toml(case, small_block())
    anodesim.run(_PathLike(case), tmp_path / "run")
    assert (tmp_path / "run" / "case.toml").read_text() == case.read_text()
    inside = tmp_path / "run" / "edited.toml"  # a case file in the folder it replaces
    write_toml(inside, small_block(beam={"power_W": 2.0}))
    anodesim.run(_PathLike(inside), tmp_path / "run", overwrite=True)
    assert inside.is_file() and (tmp_path / "run" / "case.toml").read_text() == \
        inside.read_text()


def test_the_case_kept_is_the_file_as_run_not_as_edited_meanwhile(tmp_path, monkeypatch):
    """A case file edited while its run goes on (the next case of a hand sweep prepared in
    the same file): `anodesim run` and anodesim.run kept the file as it was at the end of
    the run as case.toml, beside results of the case as it was read, so the report showed
    a case that was not run. Now the text read with the case is kept. The edit is made
    from inside the run (a wrapped simulation.run), so the test needs no timing."""
    from anodesim import simulation
    from anodesim.cli import main
    from test_case import write_toml

    case = tmp_path / "mine.toml"
    write_toml(case, small_block())
    as_run = case.read_text()
    original = simulation.run

    def edited_meanwhile(*args, **kwargs):
        case.write_text(as_run.replace("power_W", "power_W_edited_later"))
        return original(*args, **kwargs)

    monkeypatch.setattr(simulation, "run", edited_meanwhile)
    assert main(["run", str(case), "-o", str(tmp_path / "cli"), "-q"]) == 0
    case.write_text(as_run)
    anodesim.run(case, tmp_path / "api")
    for out in ("cli", "api"):
        assert (tmp_path / out / "case.toml").read_text() == as_run, out
    assert case.read_text() != as_run  # the file was edited in both runs


def test_a_failed_run_from_a_file_keeps_the_case_text_for_the_report(tmp_path):
    """A run from a case file that fails (here the target melts before its first result)
    keeps, as `anodesim run` does, the file's text as case.toml beside what it wrote (the
    mesh): the folder kept no word of the case the user wrote."""
    from test_case import write_toml

    case = tmp_path / "melts.toml"
    write_toml(case, small_block(beam={"power_W": 5000.0}))
    with pytest.raises(anodesim.RunFailure, match="melting point"):
        anodesim.run(case, tmp_path / "run")
    assert (tmp_path / "run" / "mesh.msh").exists()
    assert (tmp_path / "run" / "case.toml").read_text() == case.read_text()


def test_a_table_column_no_case_has_given_yet_is_its_nones(tmp_path):
    """A results column no row has (every case failed, here the target melts, or is
    pending after --submit slurm): the table cannot tell a misspelt name from an output no
    case has given yet, so column() gives one None per case as it did, not a KeyError
    calling T_peak_max_C "not a column" (a script's table.column("T_peak_max_C") after a
    sweep whose cases all failed raised; the misspelt name still is a KeyError once a
    case has finished)."""
    table = anodesim.sweep({"case": small_block(), "axes": {"beam.power_W": [5e3, 6e3]}},
                           tmp_path / "s")
    assert [r["status"] for r in table.rows] == ["failed", "failed"]
    assert table.column("T_peak_max_C") == [None, None]
    assert table.column("beam.power_W") == [5e3, 6e3]


@pytest.mark.parametrize("flag", ["no", "False", 1, None])
def test_sweep_retry_failed_takes_only_true_or_false(tmp_path, flag):
    """retry_failed="no" (a string from a config file or argv) ran the failed cases again:
    bool("no") is True. Anything but True or False is a CaseError naming it, before
    anything is written."""
    study = {"case": small_block(), "axes": {"beam.power_W": [1.0]}}
    with pytest.raises(anodesim.CaseError, match=r"^retry_failed = .*: expected True or "
                                                 r"False"):
        anodesim.sweep(study, tmp_path / "s", retry_failed=flag)
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("call", ["run", "rate", "sweep"])
def test_an_out_dir_of_another_kind_is_a_case_error(tmp_path, call, monkeypatch):
    """out_dir=5 (or a list) raised pathlib's TypeError naming no argument; it is a
    CaseError naming out_dir, its value and what it takes, nothing written."""
    monkeypatch.chdir(tmp_path)
    case = small_block()
    args = {"run": (case,), "rate": (case,),
            "sweep": ({"case": case, "axes": {"beam.power_W": [1.0]}},)}[call]
    with pytest.raises(anodesim.CaseError, match=r"^out_dir = 5 \(int\): expected a folder"):
        getattr(anodesim, call)(*args, out_dir=5)
    assert list(tmp_path.iterdir()) == []


def test_a_column_only_an_unfinished_base_case_gives_is_not_refused(tmp_path):
    """With several base cases (the `case` axis), a column that only one base's cases give
    (its window's maximum) was a KeyError while that base's cases were pending, though it is
    the table's column once they finish. It is refused only once every base case has a
    finished case; a misspelt name is still refused then."""
    from anodesim.study.table import Table

    cols = ["index", "id", "case", "status", "T_peak_max_C"]
    rows = [{"index": 0, "id": "a", "case": "reflection.toml", "status": "ok",
             "T_peak_max_C": 900.0},
            {"index": 1, "id": "b", "case": "transmission.toml", "status": "pending"}]
    table = Table(cols, rows, tmp_path)
    assert table.column("T_max_window_C") == [None, None]
    rows[1].update(status="ok", T_peak_max_C=1600.0, T_max_window_C=400.0)
    table = Table([*cols, "T_max_window_C"], rows, tmp_path)
    assert table.column("T_max_window_C") == [None, 400.0]
    with pytest.raises(KeyError, match="did you mean 'T_max_window_C'"):
        table.column("T_max_windo_C")
    # a base case whose every case failed gives no column and never will: a misspelt name
    # is still refused (it was one None a case for good, though no case was pending)
    rows[1].update(status="failed", T_max_window_C=None)
    table = Table(cols, rows, tmp_path)
    with pytest.raises(KeyError, match="did you mean 'T_peak_max_C'"):
        table.column("T_peak_maxx_C")


def test_a_case_whose_source_was_edited_is_refused_not_run_as_read(tmp_path):
    """A script that edits case.source between runs (case.source["beam"]["power_W"] = p;
    anodesim.run(case)) ran the case as it was read, every time, in silence: 10 W where
    5 W was asked. The edit is now a CaseError naming the key, old and new value, before
    anything runs or is written (run, rate, Simulation); the edited dict runs through
    from_dict. A dict edited after from_dict made a case of it leaves that case's source
    alone (from_dict kept the caller's dict itself as the source)."""
    d = small_block()
    case = anodesim.from_dict(d)
    d["beam"]["power_W"] = 20.0  # the caller's own dict, reused for the next case
    assert case.source["beam"]["power_W"] == 10.0
    anodesim.run(case)  # its source unchanged: runs
    case.source["beam"]["power_W"] = 5.0
    expected = r"^case\.source: changed after the case was made \(beam\.power_W: 10\.0 -> 5\.0\)"
    with pytest.raises(anodesim.CaseError, match=expected) as e:
        anodesim.run(case, tmp_path / "run")
    assert "anodesim.from_dict(case.source" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(anodesim.CaseError, match=expected):
        anodesim.rate(case, tmp_path / "rating", charts="single")
    with pytest.raises(anodesim.CaseError, match=expected):
        Simulation(case)
    assert not list(tmp_path.iterdir())
    del case.source["beam"]["power_W"]  # a key taken out is named too
    with pytest.raises(anodesim.CaseError, match=r"\(beam\.power_W: 10\.0 -> missing\)"):
        anodesim.run(case)
    case.source["beam"]["power_W"] = 5.0
    edited = anodesim.run(anodesim.from_dict(case.source))
    assert edited.summary_dict()["beam"]["beam_power_W"] == 5.0


_OVERWRITING_RUN = """
import sys
sys.path.insert(0, {tests!r})
import anodesim
from anodesim.simulation import Simulation
from cases import reflection

written = Simulation._write_partial_series

def written_and_told(self):  # the new run is stepping: its first time series is out
    written(self)
    print("stepping", flush=True)

Simulation._write_partial_series = written_and_told
# a long run (50 000 steps, the first saved at 1 ms): stopped while it steps
anodesim.run(reflection(loading={{"duration_s": 1000.0}}, time={{"max_step_s": 0.02}},
                        output={{"save_times_s": [0.001, 1000.0]}}, mesh={lean!r}), {out!r},
             overwrite=True)
"""


def _stop_an_overwriting_run(out, sig):
    """Start a script whose anodesim.run replaces the run in out, and send it sig once the
    new run is stepping (its first time series written, which the script tells), the
    earlier run set aside."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    tests = str(Path(__file__).parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(anodesim.__file__).parent.parent), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", _OVERWRITING_RUN.format(
        tests=tests, out=str(out), lean=LEAN_MESH)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"stepping\n", proc.stderr.read().decode()
        assert any(p.name.startswith(".anodesim-earlier-run-") for p in out.iterdir())
        proc.send_signal(sig)
        return proc.wait(120), proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_python_run_stopped_by_sigterm_or_sigkill_keeps_its_folder_whole(tmp_path, capsys):
    """anodesim.run(case, out, overwrite=True) in a script ended by SIGTERM (a batch
    system's time limit, timeout) died at once: no summary, the earlier run hidden in
    .anodesim-earlier-run-*, the new run's partial files in its place, and the next
    anodesim.run (overwrite) set those aside over it, the earlier run lost for good.
    SIGTERM now ends it as Ctrl-C does, as `anodesim run` and anodesim.sweep end: a failed
    summary.json that says so, the case kept, nothing set aside; then the process ends by
    SIGTERM, as its default action would have ended it (status -15, one line; it raised
    errors.Terminated out of the script, a traceback and status 1). After a SIGKILL, which no
    code outlives, the next anodesim.run puts the earlier run back and says so, as
    `anodesim run` does."""
    import signal

    out = tmp_path / "run"
    anodesim.run(reflection(mesh=LEAN_MESH), out)
    code, err = _stop_an_overwriting_run(out, signal.SIGTERM)
    assert code == -signal.SIGTERM and err.splitlines() == [TERMINATED], err  # no traceback
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed" and "SIGTERM" in summary["error"]
    assert not [p for p in out.iterdir() if p.name.startswith(".anodesim-earlier-run-")]
    stopped = summary["started_utc"]
    code, err = _stop_an_overwriting_run(out, signal.SIGKILL)
    assert code == -signal.SIGKILL and not (out / "summary.json").exists()
    capsys.readouterr()
    with pytest.raises(anodesim.CaseError, match="holds an earlier run"):
        anodesim.run(reflection(), out)  # not replaced without overwrite=True
    assert "put back the earlier run" in capsys.readouterr().err
    assert json.loads((out / "summary.json").read_text())["started_utc"] == stopped
    assert not [p for p in out.iterdir() if p.name.startswith(".anodesim-earlier-run-")]


TERMINATED = "anodesim: terminated by SIGTERM (a batch system's time limit, kill or timeout)"

_STOPPED_SIMULATION = """
import signal, sys
sys.path.insert(0, {tests!r})
import anodesim
from anodesim.simulation import Simulation
from cases import reflection

written = Simulation._write_partial_series

def written_and_told(self):
    written(self)
    print("stepping", flush=True)

Simulation._write_partial_series = written_and_told
for sig in (signal.SIGTERM, signal.SIGHUP):  # at their defaults, whatever the test's are
    signal.signal(sig, signal.SIG_DFL)
if {own!r}:  # the script's own handler: in charge, not replaced
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(7))
handler = signal.getsignal(signal.SIGTERM)
quick = anodesim.from_dict(reflection(mesh={lean!r}))
Simulation(quick).run()
assert signal.getsignal(signal.SIGTERM) is handler, "a handler left behind"
case = anodesim.from_dict(reflection(loading={{"duration_s": 1000.0}},
                                     time={{"max_step_s": 0.02}},
                                     output={{"save_times_s": [0.001, 1000.0]}},
                                     mesh={lean!r}))
Simulation(case, {out!r}).run()
"""


@pytest.mark.parametrize("own,sig", [(False, "SIGTERM"), (True, "SIGTERM"), (False, "SIGHUP")],
                         ids=["default", "own-handler", "SIGHUP"])
def test_a_simulation_stopped_by_sigterm_leaves_its_folder_whole(tmp_path, own, sig):
    """Simulation(case, out).run() in a script (the class the documentation shows) died at
    once on SIGTERM: a partial timeseries.csv and mesh, no summary.json, a folder that
    claimed nothing. Now, with SIGTERM at its default action, the run ends as Ctrl-C ends
    it (summary.json "failed" and why, the figures' process ended, no temporary file),
    then the process ends by SIGTERM as the default would have (-15, one line, no
    traceback). A script's own handler is left in charge (here it exits 7: the run is
    unwound by its SystemExit, its summary says so), and a run leaves no handler behind.
    SIGHUP (the script's terminal closed) alike: MPICH's initialisation had made it
    ignored, and the run went on (anodesim._mpi keeps SIGHUP as it was)."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "run"
    tests = str(Path(__file__).parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(anodesim.__file__).parent.parent), os.environ.get("PYTHONPATH", "")])}
    script = _STOPPED_SIMULATION.format(tests=tests, out=str(out), own=own, lean=LEAN_MESH)
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"stepping\n", proc.stderr.read().decode()
        proc.send_signal(getattr(signal, sig))
        code, err = proc.wait(120), proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed"
    assert {p.name for p in out.iterdir()} == {"mesh.json", "mesh.msh",
                                                "summary.json", "timeseries.csv",
                                                "temperatures.png"}
    if own:
        assert code == 7 and "SystemExit" in summary["error"], err
    elif sig == "SIGHUP":
        assert code == -signal.SIGHUP and err.splitlines() == [
            "anodesim: hung up (SIGHUP: the terminal was closed; nohup, tmux or screen keep "
            "a run going without it)"], err
        assert summary["error"].startswith("HungUp: hung up")
    else:
        assert code == -signal.SIGTERM and err.splitlines() == [TERMINATED], err
        assert "SIGTERM" in summary["error"]


def test_a_case_the_command_refuses_as_absurd_is_refused_by_anodesim_run_too(tmp_path):
    """anodesim.run ran what `anodesim run` refuses unless --force: a spot below the model's
    validity (0.05 µm: a size meant in mm?), on the shipped insert some 28 M cells and
    370 GiB, meshed for hours from a script. Now the same line, a CaseError with nothing
    written, and force=True runs it anyway. The forced run of a small block (563 cells):
    its steady peak within 3 % of the Gaussian half-space's (Lax, physics reference §3.2,
    less the hemisphere's far field P/(2πkR)), as the same mesh gives at 20 µm."""
    import math

    from cases import FWHM_PER_SIGMA, K_W

    tiny = small_block(beam={"fwhm_um": 0.05, "power_W": 1e-3})
    with pytest.raises(anodesim.CaseError, match=r"^case: beam.fwhm_um: beam spot "
                                                 r"0\.05 µm: below the model's validity "
                                                 r".*force=True runs it"):
        anodesim.run(tiny, tmp_path / "run")
    assert not (tmp_path / "run").exists()
    res = anodesim.run(tiny, force=True)
    sigma, P, R = 0.05e-6 / FWHM_PER_SIGMA, 1e-3, 0.5e-3
    lax = P / (2 * math.sqrt(2 * math.pi) * K_W * sigma) - P / (2 * math.pi * K_W * R)
    assert res.T_peak_max_C == pytest.approx(lax, rel=0.03)  # 0 °C far field: the rise


def test_a_case_the_run_refuses_as_absurd_is_refused_by_rate_too(tmp_path, capsys):
    """`anodesim rate` and anodesim.rate rated what `anodesim run` refuses unless --force,
    with tens of full FE runs of it (the shipped insert at 0.05 µm: about 28 M cells each).
    Now the run's line, exit 2 and nothing written (--force / force=True skip the refusal,
    as for a run; not rated here: the engine's linear runs at 1 W melt so small a spot)."""
    from test_case import write_toml

    from anodesim.cli import main

    tiny = small_block(beam={"fwhm_um": 0.05, "power_W": 1e-3},
                       loading={"kind": "continuous", "duration_s": 0.01})
    path = write_toml(tmp_path / "tiny.toml", tiny)
    assert main(["rate", str(path), "-o", str(tmp_path / "cli"), "--chart", "continuous",
                 "--no-confirm"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(
        f"anodesim: error: {path}: beam.fwhm_um: beam spot 0.05 µm: below the model's "
        "validity") \
        and err.endswith("`anodesim check` tells the cost, --force rates it anyway"), err
    assert not (tmp_path / "cli").exists()
    with pytest.raises(anodesim.CaseError, match=r"^case: beam.fwhm_um: beam spot "
                                                 r"0\.05 µm: below the model's validity "
                                                 r".*force=True rates it"):
        anodesim.rate(tiny, tmp_path / "api", charts=(), confirm=False)
    assert not (tmp_path / "api").exists()


@pytest.mark.parametrize("power", [np.int64(2), np.float32(2.0), np.array(2.0)])
def test_a_case_dict_with_numpy_numbers_is_the_case_of_plain_ones(power):
    """A script's case dict holding numpy numbers (np.arange's integers, a float32 array's
    values, a DataFrame row) was refused with a line that contradicts itself ("beam.power_W
    = np.int64(2): expected a beam power in W, 0 to 1e+06"); a vector as a numpy array
    likewise ("expected a non-zero direction [x, y, z] of three numbers"). They are the
    case of the same plain numbers now (equal Case, equal id), its source plain data; a
    study's inline base case too (its study.json wrote np.int64(2) as the text "2", which
    is no power)."""
    from anodesim import study as study_mod

    plain = anodesim.from_dict(reflection(beam={"power_W": 2.0}))
    case = anodesim.from_dict(reflection(beam={"power_W": power}))
    assert case == plain and case.hash() == plain.hash()
    assert type(case.source["beam"]["power_W"]) in (int, float)
    drift = {"mounts": {"cooled_end": {"type": "clamped"}},
             "drift": {"view_direction": [0.94, 0.0, 0.342], "source_object_mm": 20,
                       "source_detector_mm": 500, "pixel_size_um": 100}}
    as_array = reflection(**{**drift, "drift": {**drift["drift"],
                                                "view_direction": np.array([0.94, 0.0, 0.342])}})
    assert anodesim.from_dict(as_array) == anodesim.from_dict(reflection(**drift))
    axes = {"beam.fwhm_um": [20.0, 40.0]}
    st = study_mod.from_dict({"case": reflection(beam={"power_W": power}), "axes": axes})
    same = study_mod.from_dict({"case": reflection(beam={"power_W": 2.0}), "axes": axes})
    assert [p.id for p in st.points] == [p.id for p in same.points]
    assert all(p.error is None for p in st.points)
    saved = json.loads(json.dumps(st.definition, default=str))
    assert type(saved["bases"]["(inline)"]["case"]["beam"]["power_W"]) in (int, float)


@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_out_dir_is_refused_not_the_current_or_default_folder(tmp_path, monkeypatch,
                                                                       capsys, blank):
    """out_dir "" (an unset variable: os.environ.get("OUT", "")) was the current folder for
    anodesim.run, rate and sweep: a run's files were written among the script's (with
    overwrite=True, a summary.json there set aside); `anodesim sweep` and `rate` with
    -o "" fell back to the default folder in silence (where `run -o ""` is refused). Now
    one line each, nothing written."""
    from anodesim.cli import main
    from test_case import write_toml

    monkeypatch.chdir(tmp_path)
    case = small_block()
    for call in (lambda: anodesim.run(case, blank),
                 lambda: anodesim.rate(case, blank, charts="continuous"),
                 lambda: anodesim.sweep({"case": case}, blank)):
        with pytest.raises(anodesim.CaseError, match=rf"^out_dir = '{blank}': expected a "
                                                     r"folder name \(it fell back to the "
                                                     r"current folder; None writes nothing\)"):
            call()
    write_toml(tmp_path / "case.toml", case)
    (tmp_path / "study.toml").write_text('case = "case.toml"\n[axes]\n"beam.power_W" = [1.0]\n')
    for argv in (["rate", "case.toml", "--chart", "continuous"], ["sweep", "study.toml"]):
        assert main([*argv, "-o", blank, "-q"]) == 2
        assert capsys.readouterr().err == f"anodesim: error: -o '{blank}': expected a folder " \
            "name (it fell back to the default folder)\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.toml", "study.toml"]
    # drift-table -o "" fell back to the default file likewise (refused before its run)
    drift = reflection(mounts={"cooled_end": {"type": "clamped"}},
                       drift={"view_direction": [0.94, 0.0, 0.342], "source_object_mm": 20,
                              "source_detector_mm": 500, "pixel_size_um": 100})
    write_toml(tmp_path / "drift.toml", drift)
    assert main(["drift-table", "drift.toml", "--schedule", "0:0.1:0.05", "-o", blank]) == 2
    assert capsys.readouterr().err == f"anodesim: error: -o '{blank}': expected a CSV file " \
        "name (it fell back to the default file)\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.toml", "drift.toml",
                                                           "study.toml"]


def test_sweep_from_a_script_under_mpirun_is_refused(tmp_path, monkeypatch):
    """`mpirun -n 2 python script.py` calling anodesim.sweep ran the whole sweep on every
    rank (each case twice, racing on the folder, its workers handed the launcher's rank
    variables), where `anodesim sweep` under mpirun is refused (test_parallel): the same
    refusal, naming jobs=, nothing written. (The launcher's size is read from its
    variables, as for the command.)"""
    from anodesim.errors import LAUNCHER_VARIABLES

    monkeypatch.setenv(LAUNCHER_VARIABLES["size"][0], "2")
    with pytest.raises(anodesim.CaseError, match=r"^anodesim\.sweep: started on 2 MPI ranks; "
                                                 r"expected one process .*run the script "
                                                 r"without mpirun, with jobs=2 to run 2 cases"):
        anodesim.sweep({"case": small_block(), "axes": {"beam.power_W": [1.0]}},
                       tmp_path / "s")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("flag", ["no", "false", 0, None])
def test_a_yes_no_argument_other_than_true_or_false_is_refused(tmp_path, flag):
    """anodesim.run(case, out, overwrite="no") replaced the earlier run in out (a string
    from a script's settings is true), and rate's overwrite, fresh, confirm and
    confirm_charts were taken likewise, where sweep's retry_failed is refused for the same
    reason: a CaseError naming the argument and its value; the earlier run is kept."""
    out = tmp_path / "run"
    first = anodesim.run(small_block(), out)
    calls = {"overwrite": lambda: anodesim.run(small_block(), out, overwrite=flag),
             "force": lambda: anodesim.run(small_block(), force=flag),
             "fresh": lambda: anodesim.rate(small_block(), charts="continuous", fresh=flag),
             "confirm": lambda: anodesim.rate(small_block(), charts="continuous",
                                              confirm=flag),
             "confirm_charts": lambda: anodesim.rate(small_block(), charts="continuous",
                                                     confirm_charts=flag)}
    for name, call in calls.items():
        with pytest.raises(anodesim.CaseError,
                           match=rf"^{name} = {re.escape(repr(flag))} \(.*\): expected True "
                                 "or False$"):
            call()
    kept = json.loads((out / "summary.json").read_text())
    assert kept["started_utc"] == first.started_utc


def test_a_case_read_from_the_file_in_its_run_folder_keeps_that_file(tmp_path):
    """A case file kept in its run folder as case.toml, read with anodesim.load and run (or
    rated) over the earlier result with overwrite=True, was deleted with the earlier
    result's files: a Case was taken as one with no file, where the file's path spared it.
    A Case read by load() is now its file for run and rate (kept, and its text kept as the
    folder's case.toml for the report), unless the file no longer reads as that case."""
    from test_case import write_toml

    def small(**changes):  # no figures: the case file and its copy are under test
        return small_block(output={"figures": False}, **changes)

    for kind, call in (("run", lambda c, out: anodesim.run(c, out, overwrite=True)),
                       ("rating", lambda c, out: anodesim.rate(c, out, charts="continuous",
                                                              overwrite=True))):
        out = tmp_path / kind
        out.mkdir()
        mine = write_toml(out / "case.toml", small())
        text = mine.read_text()
        call(mine, out)  # the earlier result, from the path
        call(anodesim.load(mine), out)
        assert mine.is_file() and mine.read_text() == text, kind
    other = write_toml(tmp_path / "other.toml", small())
    case = anodesim.load(other)
    anodesim.run(case, tmp_path / "from_case")
    assert (tmp_path / "from_case" / "case.toml").read_text() == other.read_text()
    write_toml(other, small(beam={"power_W": 2.0}))  # edited since it was read
    anodesim.run(case, tmp_path / "edited")
    assert not (tmp_path / "edited" / "case.toml").exists()  # not the case that ran
