"""The single-load chart after a pre-load (rating.preload_W): the same Kirchhoff engine and
FE correction as the cold curve, never above it, and a pre-load the anode cannot hold
refused. A coarse reflection insert keeps every rating here to a few seconds."""

import csv

import numpy as np
import pytest
from cases import reflection
from test_case import write_toml

import anodesim
from anodesim.case import CaseError
from anodesim.cli import main
from anodesim.rating import kirchhoff as kh
from anodesim.rating.rate import SINGLE_LOAD_SCOPE

LEAN = {"mesh": {"growth": 0.3, "spot_fraction": 0.2},
        "time": {"steps_per_doubling": 2},
        "loading": {"kind": "steady", "duration_s": None}}


def _case(preload_W, **changes):
    return reflection(**LEAN, rating={"exposure_points": 4, "preload_W": preload_W}, **changes)


@pytest.fixture(scope="module")
def kT_folder(tmp_path_factory):
    """The k(T) insert's single-load chart after a 5 W pre-load, rated once into a folder:
    (its Rating, the folder)."""
    out = tmp_path_factory.mktemp("preload") / "r"
    return anodesim.rate(anodesim.from_dict(_case(5.0)), out, charts=("single",)), out


@pytest.fixture(scope="module")
def kT_rating(kT_folder):
    return kT_folder[0]


def test_preloaded_curve_uses_the_cold_curves_kirchhoff_correction(kT_rating):
    """With k(T) (W: k falls with T) the pre-loaded curve is the Kirchhoff engine with the
    cold curve's FE correction, not the constant-k engine (about 1.5x high for W at short
    loads): below the cold curve at every loading time, above the pre-load, equal to the
    cold curve where the load reaches steady state (1000 s), and labelled not FE-confirmed."""
    rows = kT_rating.single
    for row in rows:
        cold, hot = row["max_beam_power_cold_W"], row["max_beam_power_preloaded_W"]
        assert 5.0 < hot <= cold
        assert row["engine_preloaded"] == kh.BY_COLD_CORRECTION
        assert "not FE-confirmed" in row["engine_preloaded"]
    short = rows[0]  # 1 ms, erosion-bound: the constant-k figure is far above the cold curve
    assert short["engine_constant_k_preloaded_W"] > 1.3 * short["max_beam_power_cold_W"]
    # the pre-load's own cost at 1 ms is the constant-k engine's, scaled by the correction
    drop_kT = short["max_beam_power_cold_W"] - short["max_beam_power_preloaded_W"]
    drop_k = short["engine_constant_k_cold_W"] - short["engine_constant_k_preloaded_W"]
    assert 0 < drop_kT <= drop_k * 1.01
    assert rows[-1]["max_beam_power_preloaded_W"] == pytest.approx(
        rows[-1]["max_beam_power_cold_W"], rel=1e-6)


@pytest.mark.slow
def test_preloaded_points_within_one_percent_of_fe_runs_from_the_preload(kT_rating):
    """The pre-loaded curve against full k(T) runs that start from the pre-load's steady
    state (PointRuns.preloaded; the chart itself makes none): every point P is bracketed, a
    run at 0.99 P holds every limit and one at 1.01 P breaks one, so the FE root lies within
    1 % of P (measured: the binding limit met to within 0.1 % of its allowed rise at P, at
    1 ms to 1000 s; the 10 s point 0.09 % over)."""
    case = anodesim.from_dict(_case(5.0))
    runs = kh.PointRuns(case)
    for row in kT_rating.single:
        t, P = row["loading_time_s"], row["max_beam_power_preloaded_W"]
        assert kh.excess(runs.preloaded(t, 0.99 * P, 5.0)) <= 0.0 \
            < kh.excess(runs.preloaded(t, 1.01 * P, 5.0)), (t, P)


def test_constant_properties_preloaded_curve_matches_the_linear_engine():
    """With constant properties the transform is the identity and the FE corrections are
    near 1: the corrected pre-loaded curve is the linear engine's within 2 %."""
    r = anodesim.rate(anodesim.from_dict(_case(5.0, materials={"properties": "constant"})),
                      charts=("single",))
    for row in r.single:
        assert row["max_beam_power_preloaded_W"] == pytest.approx(
            row["engine_constant_k_preloaded_W"], rel=0.02)


def test_only_the_cold_curve_carries_the_anchor_markers(kT_rating):
    """The PNG marks FE anchors (squares) and interpolated points (circles) on the cold
    curve alone: the pre-loaded curve has no FE anchor."""
    ax = kT_rating.plot("single")
    cold = {round(row["max_beam_power_cold_W"], 9) for row in kT_rating.single}
    marked = [line for line in ax.lines if line.get_linestyle() == "None"]  # the markers
    assert marked
    for line in marked:
        assert {round(float(y), 9) for y in line.get_ydata()} <= cold
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("pre-load" in t and "NOT FE-confirmed" in t for t in labels)


def test_preload_the_anode_cannot_hold_is_refused(tmp_path, capsys):
    """A pre-load at or above the continuous rating (FE-confirmed, or the engine's when not
    confirming) is one line naming rating.preload_W; an absurd one is refused on reading,
    like a beam power; nothing is written and an earlier rating is kept. Confirming, one
    steady FE run at the pre-load decides, before the step response: the refusal came
    after the continuous rating's search (4 FE runs after the step response's solves)."""
    ok = anodesim.rate(anodesim.from_dict(_case(1.0)), charts=("continuous",))
    confirmed = ok.continuous["max_continuous_beam_power_W"]
    engine = ok.continuous["max_continuous_beam_power_engine_W"]
    capsys.readouterr()
    with pytest.raises(CaseError, match=r"^rating\.preload_W = .*: a steady full FE run at "
                                        r"this beam power meets within 0\.5% of its allowed "
                                        r"rise the .* limit .*confirmed by FE.*expected a "
                                        r"pre-load below about"):
        anodesim.rate(anodesim.from_dict(_case(confirmed)), charts=("single",), progress=True)
    lines = capsys.readouterr().err.splitlines()
    assert sum(x.strip().startswith("FE run ") for x in lines) == 1 and not any(
        "step response" in x for x in lines), lines
    # twice the rating breaks its limit: below about half of it, from the run's excess
    with pytest.raises(CaseError) as e:
        anodesim.rate(anodesim.from_dict(_case(2.0 * confirmed)), charts=("single",))
    about = float(str(e.value).split("expected a pre-load below about ")[1].split(" W")[0])
    assert " breaks the " in str(e.value) and about == pytest.approx(confirmed, rel=0.15)
    with pytest.raises(CaseError, match=r"^rating\.preload_W = .*NOT CONFIRMED"):
        anodesim.rate(anodesim.from_dict(_case(engine * 1.001)), charts=("single",),
                      confirm=False)
    for bad in (1e9, -1.0, float("nan")):
        with pytest.raises(CaseError, match=r"^rating\.preload_W = "):
            anodesim.from_dict(_case(bad))
    out = tmp_path / "rate"
    good = write_toml(tmp_path / "good.toml", _case(1.0))
    assert main(["rate", str(good), "--chart", "continuous", "-q", "-o", str(out)]) == 0
    before = (out / "rating.json").read_text()
    over = write_toml(tmp_path / "over.toml", _case(2.0 * confirmed))
    assert main(["rate", str(over), "--chart", "single", "-q", "-o", str(out),
                 "--overwrite"]) == 2
    assert (out / "rating.json").read_text() == before
    assert main(["rate", str(over), "--chart", "single", "-q", "-o",
                 str(tmp_path / "new")]) == 2
    assert not (tmp_path / "new").exists()


def test_preloaded_csv_says_what_produced_each_curve(kT_folder):
    out = kT_folder[1]
    text = (out / "rating_single.csv").read_text()
    assert "column 'engine_preloaded'" in text
    # the chart's scope in the file itself: a lagging node warms after the load (README)
    assert "# " + SINGLE_LOAD_SCOPE in text
    rows = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
    assert all(r["engine_preloaded"] == kh.BY_COLD_CORRECTION for r in rows)
    hot = np.array([float(r["max_beam_power_preloaded_W"]) for r in rows])
    cold = np.array([float(r["max_beam_power_cold_W"]) for r in rows])
    assert np.all(hot <= cold)
