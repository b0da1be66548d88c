"""A rating without FE confirmation (--no-confirm, confirm=False) says so for every power it
gives: rating.json, the rating in words, the console, the report and the Python repr; no
tolerance band is claimed for an engine number and no empty limits table is shown."""

import json
import re

import pytest
from cases import reflection
from test_report import page_text

import anodesim
from anodesim.report import write_report
from anodesim.rating.safe import NOT_CONFIRMED

LEAN = {"mesh": {"growth": 0.3, "spot_fraction": 0.2},
        "time": {"steps_per_doubling": 2}}


def test_unconfirmed_rating_marks_every_power(tmp_path):
    case = anodesim.from_dict(reflection(**LEAN, rating={"exposure_points": 3}))
    lines = []
    out = tmp_path / "nc"
    r = anodesim.rating.rate(case, out, charts=("single", "continuous"), confirm=False,
                             progress=lines.append)
    data = json.loads((out / "rating.json").read_text())
    sl = data["max_safe_loading"]
    assert not sl["confirmed"] and sl["tolerance"] == NOT_CONFIRMED
    assert "0.5 %" not in sl["tolerance"] and "every limit holds" not in sl["tolerance"]
    cont = data["continuous"]
    assert cont["confirmed"] is False and cont["basis"] == NOT_CONFIRMED
    assert cont["max_continuous_beam_power_W"] == cont["max_continuous_beam_power_engine_W"]
    assert data["single_load_0.1s_from_cold"]["confirmed"] is False
    # every power in words carries the mark: "<P> W ... (NOT CONFIRMED ...)" per clause
    words = data["rating_in_words"]
    clauses = [c for c in words.split("; ") if re.search(r"\d W", c)]
    assert len(clauses) == 2 and all("NOT CONFIRMED" in c for c in clauses), words
    # every console line with a beam power
    powers = [x for x in lines if re.search(r"\d W beam power", x)]
    assert len(powers) == 3 and all("NOT CONFIRMED" in x for x in powers), powers
    assert "NOT CONFIRMED" in repr(r) and "confirmed)" not in repr(r)
    page = page_text(write_report(out).read_text())
    assert "Limits at that power" not in page
    assert "0.5 %" not in page.split("Limits rated against")[0]
    assert "NOT CONFIRMED" in page and "No full FE run was made at this power" in page


def test_report_of_an_older_unconfirmed_rating_claims_no_tolerance(tmp_path):
    """rating.json files written before the fix claimed the 0.5 % band for an engine
    number: the report shows the unconfirmed basis instead."""
    (tmp_path / "rating.json").write_text(json.dumps({
        "title": "old", "max_safe_loading": {
            "beam_power_W": 30.5, "binding": "erosion", "confirmed": False, "fe_runs": 0,
            "method": "linear-response engine", "limits_at_that_power": [],
            "tolerance": "every limit holds at this power; the binding one is met to within "
                         "0.5 % of its allowed rise, from below"}}))
    page = page_text(write_report(tmp_path).read_text())
    assert "every limit holds" not in page and NOT_CONFIRMED in page


def test_a_continuous_rating_the_fe_search_did_not_confirm_says_so(tmp_path, monkeypatch):
    """Full FE runs that end outside the 0.5 % band, or with no run that held every limit:
    the continuous rating is marked confirmed false, with the search's own tolerance, in
    rating.json, the CSV, the words, the repr, the heat-content curves and the report (it
    was marked confirmed whatever the search had found)."""
    import dataclasses as dc
    import importlib

    rate_mod = importlib.import_module("anodesim.rating.rate")  # the module, not rate()
    real = rate_mod.max_safe_loading
    monkeypatch.setattr(rate_mod, "max_safe_loading",
                        lambda *a, **k: dc.replace(real(*a, **k), confirmed=False))
    out = tmp_path / "r"
    r = anodesim.rating.rate(anodesim.from_dict(reflection(**LEAN)), out,
                             charts=("continuous",), progress=lambda m: None)
    data = json.loads((out / "rating.json").read_text())
    c = data["continuous"]
    assert c["confirmed"] is False and c["fe_runs"] >= 1
    assert c["basis"].startswith("NOT CONFIRMED")  # the search's own tolerance (safe.tolerance)
    assert re.search(r"W continuous \([^)]*\) \(NOT CONFIRMED", data["rating_in_words"])
    assert "(NOT CONFIRMED)" in repr(r)
    assert "NOT CONFIRMED" in data["heat_content"]["beam_power_basis"]
    notes = [x for x in (out / "rating_continuous.csv").read_text().splitlines()
             if x.startswith("#")]
    assert any("searched by full FE runs, NOT CONFIRMED" in x for x in notes), notes
    page = page_text(write_report(out).read_text())
    assert "continuous rating, searched by full FE runs, NOT CONFIRMED" in page


@pytest.mark.parametrize("task", ["continuous", "schedule"])
def test_a_study_row_says_whether_its_rating_was_confirmed(tmp_path, monkeypatch, task):
    """results.csv carries `confirmed_continuous` beside the continuous rating and
    `confirmed_schedule` beside the schedule's maximum safe power: a script that reads a
    study's table alone can tell an FE-confirmed rating from one the search did not
    confirm (before, only rating.json of each case said so)."""
    import dataclasses as dc
    import importlib

    from anodesim.study import spec
    from anodesim.study.worker import run_point

    column = f"confirmed_{task}"
    study = spec.from_dict({"title": "t", "case": reflection(**LEAN),
                            "axes": {"beam.power_W": [5.0]},
                            "tasks": {"run": False, "rate": [task]}})
    (tmp_path / "cases").mkdir()
    row = run_point(study, tmp_path, study.points[0])
    assert row["status"] == "ok" and row[column] is True, row
    rate_mod = importlib.import_module("anodesim.rating.rate")
    real = rate_mod.max_safe_loading
    monkeypatch.setattr(rate_mod, "max_safe_loading",
                        lambda *a, **k: dc.replace(real(*a, **k), confirmed=False))
    row = run_point(study, tmp_path, study.points[0], retry_failed=True)  # ok: kept
    assert row[column] is True
    other = tmp_path / "o"
    (other / "cases").mkdir(parents=True)
    row = run_point(study, other, study.points[0])
    assert row["status"] == "ok" and row[column] is False, row
    assert column in spec.RATE_COLUMNS[task]


def test_the_single_short_load_says_whether_fe_runs_confirmed_it(tmp_path, monkeypatch):
    """rating.json's single 0.1 s load from cold holds its rating under `beam_power_W` with
    `confirmed` and `tolerance`, as `max_safe_loading` does, and the engine's estimate under
    `engine_estimate_W`. It put the FE search's power under `confirmed_W` whatever the search
    had found; a search that ended outside its 0.5 % band now says so."""
    import dataclasses as dc
    import importlib

    # the chart's fewest points (2 FE anchors): the 0.1 s load is searched apart from them
    case = anodesim.from_dict(reflection(**LEAN, rating={"exposure_points": 2}))
    rate_mod = importlib.import_module("anodesim.rating.rate")
    r = anodesim.rating.rate(case, None, charts=("single",), progress=lambda m: None)
    n = r.nominal
    assert n["confirmed"] is True and n["fe_runs"] >= 1
    assert n["tolerance"].startswith("every limit holds") and n["beam_power_W"] > 0
    assert n["engine_estimate_W"] > 0 and "confirmed_W" not in n and "engine_W" not in n
    real = rate_mod.confirmed_power
    monkeypatch.setattr(rate_mod, "confirmed_power",
                        lambda *a, **k: dc.replace(real(*a, **k), confirmed=False))
    lines = []
    r = anodesim.rating.rate(case, None, charts=("single",), progress=lines.append)
    n = r.nominal
    assert n["confirmed"] is False and n["tolerance"].startswith("NOT CONFIRMED"), n
    assert any("0.1 s load" in x and "NOT CONFIRMED" in x for x in lines), lines


def test_the_single_load_figure_labels_unconfirmed_fe_points():
    """rate --confirm-charts: the figure's curve of the FE searches was labelled 'confirmed
    by FE' whatever each search had found (rating_single.csv's cold_confirmed): a curve
    with an unconfirmed point says how many."""
    from types import SimpleNamespace

    from anodesim.rating.rate import _single_figure

    rows = [{"loading_time_s": t, "max_beam_power_cold_W": 10.0,
             "max_beam_power_cold_confirmed_W": 9.9, "cold_confirmed": ok}
            for t, ok in ((1e-3, True), (1.0, False), (10.0, True))]
    rating = SimpleNamespace(single=rows, confirmed_charts=True, preload_W=0.0, engine={})
    curves = _single_figure(rating)[2]
    assert "from cold (FE searches, 1 of 3 points NOT CONFIRMED)" in curves, curves
    for row in rows:
        row["cold_confirmed"] = True
    assert "from cold (confirmed by FE)" in _single_figure(rating)[2]
