"""What a tube engineer reads in a rating's files: the comment lines of its CSV charts and
the legends of its PNG charts say only what is true of the numbers they carry, and a number
goes nowhere without the warning its run gives it. Mostly text: rows laid out as rate.py
writes them; the numbers themselves are verified in test_rating*.py."""

import csv
import tomllib
from pathlib import Path

import matplotlib
import pytest

from anodesim.rating.kirchhoff import BY_ANCHOR, BY_INTERPOLATION
from anodesim.rating.rate import ANCHOR_NOTE, Rating, write

matplotlib.use("Agg")


def _rating(**charts) -> Rating:
    return Rating("text check", "0" * 16, [], {"method": "step response"}, "continuous",
                  **charts)


def _comments(path) -> list[str]:
    return [x[2:] for x in path.read_text().splitlines() if x.startswith("# ")]


def _serial_rows(anchors) -> list[dict]:
    """Period-chart rows at duty cycle 0.5 with the engine columns rate._serial writes."""
    return [{"period_s": T, "duty_cycle": 0.5, "max_peak_beam_power_W": 20.0 - i,
             "max_mean_beam_power_W": 10.0 - 0.5 * i, "binding": "erosion",
             "engine_constant_k_W": 30.0 - i, "binding_engine_constant_k": "erosion",
             "engine": BY_ANCHOR if a else BY_INTERPOLATION, "fe_confirmed": a}
            for i, (T, a) in enumerate(zip((1e-3, 1e-2, 0.1), anchors))]


def test_heat_content_csv_describes_its_own_columns(tmp_path):
    """rating_heat_content.csv (time_s, beam_power_W, heating_J, cooling_J) carried the
    charts' notes on columns 'engine', engine_constant_k* and 'confirmed' it does not have,
    and nothing on its own; now each of its notes is about its columns, and says the curves
    are the constant-property engine's at the rated power."""
    rows = [{"time_s": t, "beam_power_W": 19.5, "heating_J": 0.02 * t, "cooling_J": 301.0}
            for t in (1e-3, 1e-2)]
    write(_rating(heat_content=rows,
                  heat_content_steady={"beam_power_W": 19.5, "beam_power_basis": "x",
                                       "steady_heat_content_J": 301.3}), tmp_path)
    notes = _comments(tmp_path / "rating_heat_content.csv")
    assert not any("'engine'" in x or "engine_constant_k" in x or "'confirmed'" in x
                   for x in notes), notes
    assert any("heating_J from cold, cooling_J after switch-off" in x for x in notes), notes
    assert any("constant properties at the initial temperature" in x and "not FE runs" in x
               for x in notes), notes
    header = next(csv.reader(x for x in (tmp_path / "rating_heat_content.csv").open()
                             if not x.startswith("#")))
    assert header == ["time_s", "beam_power_W", "heating_J", "cooling_J"]
    # the PNG's legend: the power's basis, and what the curves are (they are not FE runs)
    ax = _rating(heat_content=rows, heat_content_steady={
        "beam_power_W": 19.5, "beam_power_basis": "the continuous rating, confirmed by FE",
        "steady_heat_content_J": 301.3}).plot("heat_content")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == ("heating at 19.5 W (the continuous rating, confirmed by FE; curves: "
                         "constant-property engine, not FE)"), labels


def test_serial_chart_csv_notes_match_its_columns(tmp_path):
    """A serial chart has 'engine', engine_constant_k* and fe_confirmed, but no *_confirmed_W
    column: the note on secant-corrected 'confirmed' FE columns was about another chart's."""
    write(_rating(period=_serial_rows([True, False, True])), tmp_path)
    notes = _comments(tmp_path / "rating_period.csv")
    assert any(x.startswith("column 'engine': ") for x in notes), notes
    assert any(x.startswith("columns engine_constant_k*") for x in notes), notes
    assert not any("secant-corrected" in x for x in notes), notes
    # what an anchor's power is: within 1 % of brute-force FE, not confirmed from below
    # (a run at that power may break the binding limit by 1e-4 of its rise, README)
    assert ANCHOR_NOTE in notes and "within 1 % of brute-force FE" in ANCHOR_NOTE


@pytest.mark.parametrize("anchors,legend", [
    ([True, True, True], ["FE anchor (k(T) runs, within 1 %)"]),
    ([True, False, True], ["FE anchor (k(T) runs, within 1 %)",
                           "NOT FE-confirmed: interpolated correction"]),
])
def test_period_chart_legend_claims_only_the_points_it_has(anchors, legend):
    """Every point an FE anchor: the legend said 'NOT FE-confirmed: interpolated correction'
    all the same (an empty plot keeps its label). It names only the kinds of points drawn."""
    ax = _rating(period=_serial_rows(anchors)).plot("period")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert [x for x in labels if not x.startswith(("peak power", "mean power"))] == legend


def test_a_drift_probe_point_is_not_called_an_interpolated_correction():
    """A point a drift limit binds is the engine's drift probe, uncorrected
    (kirchhoff.BY_DRIFT_PROBE, fe_confirmed false): the legend drew it as 'NOT FE-confirmed:
    interpolated correction', which its CSV note and the words say it is not."""
    from anodesim.rating.kirchhoff import BY_DRIFT_PROBE

    rows = _serial_rows([True, False, True])
    rows[1].update({"binding": "drift", "engine": BY_DRIFT_PROBE})
    ax = _rating(period=rows).plot("period")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert [x for x in labels if not x.startswith(("peak power", "mean power"))] == [
        "FE anchor (k(T) runs, within 1 %)",
        "NOT FE-confirmed: the engine's drift probe (constant properties)"]


def test_a_coarse_yield_use_carries_the_runs_warning_wherever_the_rating_quotes_it():
    """The run warns that a yield use on cells over a quarter of the 0.1 mm ball is likely
    low (3-D meshes, or the insert's joint corners left coarse: 8-9 % low, README); the
    rating quoted the same figure of its steady run at the continuous rating without it, in
    its words, rating.json and its report. One steady FE run with mechanics of the shipped
    insert with mesh.joint_corner_um = 0 (its cell there about 130 µm,
    test_accuracy_defaults), and one at the default mesh, where nothing is said."""
    import anodesim
    from anodesim.limits import YIELD_RADIUS_M, coarse_yield_cells
    from anodesim.rating.rate import _mechanics_words, steady_mechanics
    from anodesim.report import continuous_rows

    example = Path(__file__).parents[1] / "studies" / "reflection_insert.toml"
    data = tomllib.loads(example.read_text())
    data["mesh"]["joint_corner_um"] = 0
    at = steady_mechanics(anodesim.from_dict(data, example.parent), 10.0)
    cell = at["yield_cell_um"]
    assert 0.25 * YIELD_RADIUS_M * 1e6 < cell < 170.0
    warning = coarse_yield_cells(cell)
    assert at["yield_warning"] == warning and "likely low" in warning
    assert f"the heat sink at {at['yield_use_heat_sink_rel']:.2g}× its yield strength near " \
        f"the joint ({warning})" in _mechanics_words(at)
    rows = continuous_rows({"max_continuous_beam_power_W": 10.0, "binding": "erosion",
                            "confirmed": True, "steady_state_at_rating": at})
    assert rows[-1] == ("WARNING: yield use near the joint", warning)
    fine = steady_mechanics(anodesim.from_dict(tomllib.loads(example.read_text()),
                                               example.parent), 10.0)
    assert fine["yield_cell_um"] <= 0.25 * YIELD_RADIUS_M * 1e6
    assert "yield_warning" not in fine and "likely low" not in _mechanics_words(fine)


def test_the_limits_table_says_what_a_life_limit_is_met_on():
    """The rating's "Limits at that power" read erosion: allowed 1 µm, worst 0.9094 µm,
    under "the binding one is met to within 0.5 % of its allowed rise": true of the
    equivalent spot temperature it is rated on (2052.7 °C of 2057.6 °C, 0.25 % of the rise
    from 30 °C), which the page did not show. Now the worst value carries it; a drift limit
    given in pixels carries its pixels. (Numbers of the shipped insert's rating.)"""
    from anodesim.report import limit_rows

    erosion = {"limit": "erosion", "column": "T_peak_C", "unit": "um", "limit_um": 1.0,
               "worst_um": 0.9094460616662327, "time_s": 10.0, "margin_um": 0.0905539,
               "holds": True, "excess": -0.00245, "origin": "default",
               "equivalent_spot_temperature_C": 2052.6686739054508,
               "limit_equivalent_spot_temperature_C": 2057.637828413304}
    drift = {"limit": "drift", "column": "drift_across_view_um", "unit": "um",
             "limit_um": 12.5, "worst_um": 13.3, "margin_um": -0.8, "holds": False,
             "limit_px": 3.0, "worst_px": 3.192, "origin": "case: limits.drift_px = 3 px"}
    plain = {**erosion, "limit": "spot", "unit": "C", "limit_C": 1500.0, "worst_C": 1499.0}
    for k in ("equivalent_spot_temperature_C", "limit_equivalent_spot_temperature_C"):
        plain.pop(k)
    rows = limit_rows([erosion, drift, plain])
    assert rows[0]["note"] == "the spot as if held at 2052.7 °C (allowed 2057.6 °C)"
    assert rows[1]["note"] == "3.19 px on the detector (allowed 3 px)"
    assert rows[2]["note"] == ""


def test_a_maximum_in_the_rating_words_is_rounded_down():
    """The rating in words, the figure a tube engineer quotes, rounded each maximum power and
    its tube current to the nearest 3 digits: the shipped insert's duty chart at duty 1
    (19.578 W) read "19.6 W (0.196 mA)", a power above its rating. Now rounded down (and a
    float's round-off, 20.1 computed as 20.099999999999998, is not taken for a power above
    its 3 digits); each of the 3 digits is shown: 20.06 W reads "20.0 W", not "20 W"."""
    import anodesim
    from anodesim.rating.rate import in_words, rounded_down

    assert [rounded_down(x) for x in (19.578, 22.392, 20.128, 9.996, 0.19578,
                                      20.099999999999998, 45.6, 100.0, 20.0639, 0.099)] == [
        "19.5", "22.3", "20.1", "9.99", "0.195", "20.1", "45.6", "100", "20.0", "0.0990"]
    example = Path(__file__).parents[1] / "studies" / "reflection_insert.toml"
    case = anodesim.from_dict(tomllib.loads(example.read_text()), example.parent)
    rows = [{"period_s": 1.0, "duty_cycle": d, "max_peak_beam_power_W": P,
             "max_mean_beam_power_W": d * P, "binding": "erosion", "fe_confirmed": True}
            for d, P in ((0.02, 22.39240464), (1.0, 19.57833918))]
    words = in_words(case, _rating(duty=rows))
    assert ("22.3 W peak (0.223 mA) at duty cycle 0.02 to 19.5 W (0.195 mA) at 1" in words), \
        words


def test_the_words_say_interpolated_only_where_a_point_is():
    """The rating in words said "corrected at 3 FE anchors, the other points interpolated"
    of a 3-point chart whose every point is an anchor (a 0.5 mm W block's duty chart), as
    the legend said "NOT FE-confirmed" there."""
    import anodesim
    from anodesim.rating.rate import in_words

    example = Path(__file__).parents[1] / "studies" / "reflection_insert.toml"
    case = anodesim.from_dict(tomllib.loads(example.read_text()), example.parent)
    every = in_words(case, _rating(period=_serial_rows([True, True, True])))
    assert "corrected at 3 FE anchors: every point an anchor)" in every, every
    assert "interpolated" not in every
    some = in_words(case, _rating(period=_serial_rows([True, False, True])))
    assert "corrected at 2 FE anchors, the other points interpolated)" in some, some


def test_the_words_say_how_many_points_the_continuous_rating_holds():
    """The serial-load cap (charts.cap_serial) was in rating.json and the CSV's capped_by
    only: the rating in words, which the report page and a datasheet quote, gave a capped
    chart's numbers without saying that the continuous rating set some of them."""
    import anodesim
    from anodesim.rating.charts import CAPPED_BY_CONTINUOUS
    from anodesim.rating.rate import in_words

    example = Path(__file__).parents[1] / "studies" / "reflection_insert.toml"
    case = anodesim.from_dict(tomllib.loads(example.read_text()), example.parent)
    rows = _serial_rows([True, False, True])
    for r, capped in zip(rows, (False, True, True)):
        r["capped_by"] = CAPPED_BY_CONTINUOUS if capped else ""
    words = in_words(case, _rating(period=rows))
    assert ("other points interpolated; 2 points held at the continuous rating's mean power)"
            in words), words
    rows[1]["capped_by"] = ""
    assert "; 1 point held at the continuous rating's mean power)" in in_words(
        case, _rating(period=rows))
    rows[2]["capped_by"] = ""
    assert "held at" not in in_words(case, _rating(period=rows))


def test_no_figure_quoted_of_a_rating_lies_above_it(tmp_path):
    """The words round each maximum down (3 digits), but the console's 4-digit lines, the
    report's tables and the heat-content legend rounded to the nearest: the shipped insert's
    20.128 W and 19.5385 W read "20.13 W" and "19.54 W" on the console and the report page,
    and a heat-content legend at 19.578 W "19.6 W" beside words saying 19.5 W, each a power
    above the rating. Now every one is rounded down (output.rounded_down), exact decimals
    kept (27.59 W "27.59"), and a power from 1000 W up whole, not in powers of ten."""
    import json
    import re

    from anodesim.cli import main
    from anodesim.output import rounded_down
    from anodesim.rating.safe import SafeLoading

    assert [rounded_down(x, 4) for x in (20.128, 19.5385, 27.59, 19.0, 0.099061, 1234.56)] == [
        "20.12", "19.53", "27.59", "19.00", "0.09906", "1234"]
    # a kW anode's words read "1.23e+03 W" ("{:.3g}", before and after rounding down)
    assert rounded_down(1234.56) == "1230" and rounded_down(45678.9, 4) == "45670"
    cont = {"max_continuous_beam_power_W": 19.5385, "binding": "erosion", "confirmed": True,
            "fe_runs": 4, "max_continuous_beam_power_engine_W": 27.5949,
            "binding_engine": "coolant_side"}
    shown = repr(_rating(max_safe=SafeLoading(20.128, "erosion", 30.46, True, 4, [], "m"),
                         continuous=cont))
    assert "max safe 20.12 W" in shown and "continuous 19.53 W" in shown, shown
    ax = _rating(heat_content=[{"time_s": 1.0, "beam_power_W": 19.578, "heating_J": 1.0,
                                "cooling_J": 300.0}],
                 heat_content_steady={"beam_power_W": 19.578, "beam_power_basis": "b",
                                      "steady_heat_content_J": 301.3}).plot("heat_content")
    assert ax.get_legend().get_texts()[0].get_text().startswith("heating at 19.5 W (b;")
    (tmp_path / "rating.json").write_text(json.dumps(
        {"title": "x", "max_safe_loading": {"beam_power_W": 20.128, "binding": "erosion",
                                            "confirmed": True},
         "continuous": cont}))
    assert main(["report", str(tmp_path)]) == 0
    page = re.sub(r"<[^>]+>", " ", (tmp_path / "report.html").read_text())
    assert re.search(r"maximum safe beam power\s+20\.12 W", page), page
    assert re.search(r"continuous rating, confirmed by full FE runs \(W\)\s+19\.53\b", page)
    assert re.search(r"NOT CONFIRMED \(W\)\s+27\.59\b", page)
    assert "20.13" not in page and "19.54" not in page


def test_a_user_parts_second_region_is_named_as_its_user_named_it():
    """The rating's words called a user mesh's or STEP part's second region "the heat
    sink" ("limited by the heat sink temperature", "not rated: the heat sink's yield") and
    spelled its yield use's region with spaces for underscores: the STEP example with its
    Cu body named Cu_body read "the Cu body at 4.6× its yield strength", a name the part
    does not have. Its own name now; a built-in geometry keeps "heat sink". Text only."""
    import anodesim
    from anodesim.rating.rate import _mechanics_words, binding_words, in_words

    step = Path(__file__).parents[1] / "meshes" / "step_anode_case.toml"
    data = tomllib.loads(step.read_text())
    data["geometry"]["regions"] = {"target": "W_disc", "Cu_body": "Cu_body"}
    data["materials"] = {"target": "W", "Cu_body": "Cu"}
    data["mounts"] = {"cooled_end": {"type": "clamped"}}
    case = anodesim.from_dict(data, step.parent)
    rows = [{**row, "binding": "heat_sink"} for row in _serial_rows([True, True, True])]
    words = in_words(case, _rating(period=rows))
    assert "limited by the Cu_body temperature (" in words, words
    assert "the Cu_body's yield (limits.yield_use)" in words and "heat sink" not in words
    at = {"yield_use_Cu_body_rel": 4.6}
    assert _mechanics_words(at, case.geometry) == \
        "the Cu_body at 4.6× its yield strength near the joint"
    insert = Path(__file__).parents[1] / "studies" / "reflection_insert.toml"
    built = anodesim.from_dict(tomllib.loads(insert.read_text()), insert.parent)
    assert binding_words("heat_sink", built.geometry) == "the heat sink temperature"
    assert _mechanics_words({"yield_use_heat_sink_rel": 4.6}, built.geometry) == \
        "the heat sink at 4.6× its yield strength near the joint"
    assert "limited by the heat sink temperature (" in in_words(built, _rating(period=rows))


def test_no_yield_is_called_unrated_where_no_run_reports_one():
    """A case with mechanics whose second region has no yield strength (a Mo-Cu heat sink:
    check refuses a yield_use limit there, and a run reports no yield use) said "not rated
    (reported by a run only): ... the heat sink's yield"; it now names only what a run
    reports. The shipped insert's Cu heat sink keeps the words. Text only."""
    import anodesim
    from anodesim.rating.rate import in_words

    insert = Path(__file__).parents[1] / "studies" / "reflection_insert.toml"
    data = tomllib.loads(insert.read_text())
    rows = _serial_rows([True, True, True])
    built = anodesim.from_dict(data, insert.parent)
    assert "the heat sink's yield (limits.yield_use)" in in_words(built, _rating(period=rows))
    data["materials"]["heat_sink"] = "MoCu30"
    mocu = anodesim.from_dict(data, insert.parent)
    words = in_words(mocu, _rating(period=rows))
    assert "yield" not in words, words
    assert "not rated (reported by a run only): thermal fatigue of the spot" in words, words
