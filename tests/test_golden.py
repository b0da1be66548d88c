"""Golden outputs: the shipped examples, a few test cases, a rating and a study give the
numbers recorded in tests/golden/golden.json (by tests/golden/record.py) to round-off
(relative 1e-9). A refactor that changes behaviour fails here; a change of physics or
numerics re-records the file and says why in its commit."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "golden"))
import record  # noqa: E402

WANT = json.loads(record.GOLDEN.read_text())
RUNS = list(record.run_cases())


def check(name, got):
    diffs = record.compare(WANT[name], got[name], name)
    assert not diffs, f"{len(diffs)} differences, first ones:\n" + "\n".join(diffs[:20])


@pytest.mark.slow
@pytest.mark.parametrize("name", RUNS)
def test_run_matches_golden(name):
    check(name, record.record([name]))


@pytest.mark.slow
def test_rating_matches_golden():
    check("rating", record.record(["rating"]))


@pytest.mark.slow
def test_study_matches_golden():
    check("study", record.record(["study"]))


def test_compare_reports_a_change_beyond_round_off():
    """The comparison itself: round-off passes, a change in the 8th digit does not."""
    want = {"a": [1.0, 2.0], "b": {"c": "x", "n": 3}}
    assert record.compare(want, {"a": [1.0 + 1e-13, 2.0], "b": {"c": "x", "n": 3}}) == []
    diffs = record.compare(want, {"a": [1.0, 2.0 + 2e-8], "b": {"c": "y", "n": 3, "d": 1}})
    assert diffs == [".a[1]: 2.00000002, expected 2.0", ".b.d: new", ".b.c: 'y', expected 'x'"]
