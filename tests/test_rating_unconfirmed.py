"""A rating without FE confirmation (--no-confirm, confirm=False) says so for every power it
gives: rating.json, the rating in words, the console, the report and the Python repr; no
tolerance band is claimed for an engine number and no empty limits table is shown."""

import json
import re

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
