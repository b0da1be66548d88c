"""Golden outputs: what the shipped examples and a few test cases produce, recorded before a
refactor so that the refactor can be shown to change nothing (to round-off).

The outputs compared are the files a user gets (summary.json, timeseries.csv, rating.json,
the rating chart CSVs and a study's results.csv), read back from disk, so that the record does
not depend on the Python objects that the refactor reshapes. Wall times, dates, versions,
paths and the machine are left out.

    python tests/golden/record.py          # (re)write tests/golden/golden.json
"""

from __future__ import annotations

import csv
import json
import math
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
GOLDEN = HERE / "golden.json"
sys.path.insert(0, str(HERE.parent))

from cases import block, merge, reflection, reflection_3d, transmission  # noqa: E402

# Keys whose values differ from run to run or machine to machine.
VOLATILE = {"timing_s", "started_utc", "anodesim_version", "provenance", "mesh_file",
            "seconds", "wall_s", "engine_seconds"}


def run_cases() -> dict:
    """Name → case (dict, or path of a shipped example)."""
    return {
        "example_reflection_insert": ROOT / "studies" / "reflection_insert.toml",
        "example_transmission_target": ROOT / "studies" / "transmission_target.toml",
        "example_reflection_3d": ROOT / "studies" / "reflection_3d.toml",
        "block_steady": block(),
        "reflection_segments_limits": reflection(
            loading={"kind": "segments", "duration_s": None,
                     "segment": [{"duration_s": 0.02, "power_W": 10.0},
                                 {"duration_s": 0.03, "power_W": 0.0},
                                 {"duration_s": 0.05, "power_W": 5.0}]},
            limits={"spot_C": 2500.0, "coolant_side_C": 31.0},
            probes={"below": {"r_mm": 0.0, "depth_mm": 0.1}}),
        "transmission_drift": transmission(
            loading={"kind": "continuous", "duration_s": 0.05},
            mounts={"rim": {"type": "clamped"}},
            drift={"view_direction": [0.94, 0.0, -0.342], "source_object_mm": 5.0,
                   "source_detector_mm": 500.0, "pixel_size_um": 50.0},
            limits={"drift_um": 1.0}),
        "reflection_3d_small": reflection_3d(loading={"kind": "continuous",
                                                      "duration_s": 0.01}),
    }


def rating_case() -> dict:
    """A small reflection insert with k(T), ρc(T): engine charts and FE confirmations."""
    return reflection(rating={"exposure_s": [0.01, 1.0], "exposure_points": 3,
                              "duty_cycles": [0.2, 0.6], "period_s": 0.1,
                              "periods_s": [0.05, 0.5], "duty_cycle": 0.5})


def study_dict() -> dict:
    """Two coarse blocks, run and rated."""
    small = merge(block(geometry={"kind": "block", "radius_mm": 0.5},
                        mesh={"spot_fraction": 0.2, "growth": 0.3}), {})
    return {"title": "golden study", "case": small,
            "axes": {"beam.power_W": [1.0, 2.0]},
            "tasks": {"run": True, "rate": ["continuous"]}}


def _clean(x):
    """Drop volatile keys; NaN → None (JSON)."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items() if k not in VOLATILE}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    if isinstance(x, float) and math.isnan(x):
        return None
    return x


def _number(s: str):
    try:
        return float(s)
    except ValueError:
        return s


def read_csv(path: Path, drop=()) -> dict:
    """Columns of a CSV (comment lines skipped) as lists, numbers as floats."""
    with open(path) as f:
        rows = list(csv.reader(line for line in f if not line.startswith("#")))
    header, body = rows[0], rows[1:]
    return {h: [_clean(_number(r[j])) for r in body]
            for j, h in enumerate(header) if h not in drop}


def run_outputs(case, out: Path) -> dict:
    """summary.json and timeseries.csv of one run."""
    import anodesim

    anodesim.run(case, out)
    summary = json.loads((out / "summary.json").read_text())
    return {"summary": _clean(summary), "timeseries": read_csv(out / "timeseries.csv")}


def rating_outputs(out: Path) -> dict:
    """rating.json and the chart CSVs of the rating case."""
    import anodesim
    from anodesim import rating

    case = anodesim.from_dict(rating_case())
    rating.rate(case, out, progress=lambda m: None)
    charts = {p.stem: read_csv(p) for p in sorted(out.glob("rating_*.csv"))}
    return {"rating": _clean(json.loads((out / "rating.json").read_text())), "charts": charts}


def study_outputs(out: Path) -> dict:
    """results.csv of the study (wall times left out)."""
    import anodesim

    anodesim.sweep(study_dict(), out)
    return read_csv(out / "results.csv", drop=("wall_s",))


def record(names=None) -> dict:
    """Every golden output (or those named), computed now."""
    from anodesim import _mpi  # noqa: F401

    got = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, case in run_cases().items():
            if names is None or name in names:
                got[name] = run_outputs(case, tmp / name)
        if names is None or "rating" in names:
            got["rating"] = rating_outputs(tmp / "rating")
        if names is None or "study" in names:
            got["study"] = study_outputs(tmp / "study")
    return got


def compare(want, got, path="", rtol=1e-9, atol=1e-12) -> list[str]:
    """Differences between two golden records, one line each (empty: they agree)."""
    if isinstance(want, dict) and isinstance(got, dict):
        out = [f"{path}.{k}: missing" for k in want if k not in got]
        out += [f"{path}.{k}: new" for k in got if k not in want]
        for k in want:
            if k in got:
                out += compare(want[k], got[k], f"{path}.{k}", rtol, atol)
        return out
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return [f"{path}: length {len(got)}, expected {len(want)}"]
        out = []
        for i, (a, b) in enumerate(zip(want, got)):
            out += compare(a, b, f"{path}[{i}]", rtol, atol)
        return out
    num = (int, float)
    if isinstance(want, num) and isinstance(got, num) and not isinstance(want, bool):
        if abs(want - got) <= atol + rtol * max(abs(want), abs(got)):
            return []
        return [f"{path}: {got!r}, expected {want!r}"]
    return [] if want == got else [f"{path}: {got!r}, expected {want!r}"]


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(record(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")
