"""The warm-up drift table of the study: drift at given times and the time to settle.

    python studies/warmup_drift/summarise.py results/warmup_drift

For every case of the sweep (results.csv), from its time series at the save times: the drift
across the view axis (µm at the source, px on the detector), ΔM/M, and the time after which
the image drift stays within 0.1 px of its value at the end of the run (60 min). A drift still
moving at the end is reported with its rate over the last 10 minutes, so "settled" is never
claimed for a curve that has not flattened.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

TIMES_MIN = (1, 5, 15, 30, 60)
SETTLE_PX = 0.1


def settle_time(t: np.ndarray, px: np.ndarray, tol: float = SETTLE_PX) -> float:
    """First save time after which |px − px(end)| ≤ tol at every later save time (s)."""
    outside = np.flatnonzero(np.abs(px - px[-1]) > tol)
    return float(t[0]) if len(outside) == 0 else float(t[min(outside[-1] + 1, len(t) - 1)])


def read(path: Path) -> dict[str, np.ndarray]:
    """Columns of a timeseries.csv (comment lines skipped) at the save times."""
    with open(path) as f:
        reader = csv.reader(line for line in f if not line.startswith("#"))
        names = next(reader)
        data = np.array([[float(v) if v else np.nan for v in row] for row in reader])
    saved = ~np.isnan(data[:, names.index("image_drift_px")])
    return {n: data[saved, i] for i, n in enumerate(names)}


def rows(folder: Path) -> list[dict]:
    with open(folder / "results.csv") as f:
        table = list(csv.DictReader(f))
    out = []
    for case in table:
        ts = read(folder / "cases" / case["id"] / "timeseries.csv")
        t, px = ts["time_s"], ts["image_drift_px"]
        um, dm = ts["drift_across_view_um"], ts["magnification_change_rel"]
        row = {"case": case["case"],
               "cooler_W_K": case["coolant_circuit.cooler_conductance_W_per_K"]}
        for m in TIMES_MIN:
            i = int(np.argmin(np.abs(t - 60.0 * m)))
            row[f"{m} min"] = f"{um[i]:.2f} µm / {px[i]:.2f} px / {dm[i]:.2e}"
        late = t >= t[-1] - 600.0
        rate = np.polyfit(t[late] / 60.0, px[late], 1)[0] if late.sum() > 1 else np.nan
        row["settled within 0.1 px of the 60 min value after"] = \
            f"{settle_time(t, px) / 60.0:.1f} min"
        row["px/min over the last 10 min"] = f"{rate:.4f}"
        row["T_coolant at 60 min"] = (f"{ts['T_coolant_C'][-1]:.2f} °C"
                                      if "T_coolant_C" in ts else "")
        out.append(row)
    return out


def main(argv: list[str]) -> None:
    folder = Path(argv[1] if len(argv) > 1 else "results/warmup_drift")
    table = rows(folder)
    print("| " + " | ".join(table[0]) + " |")
    print("|" + "---|" * len(table[0]))
    for row in table:
        print("| " + " | ".join(str(v) for v in row.values()) + " |")


if __name__ == "__main__":
    main(sys.argv)
