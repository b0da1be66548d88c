"""Mesh convergence of the mechanical figures a run reports: the focal-spot drift and the
largest von Mises stress in each region, with the default [mesh] settings.

The shipped reflection example (studies/reflection_insert.toml: W insert in Cu, k(T),
kernel deposition, 10 W for 10 s, rod clamped at its cooled end, drift at 20 save times) is
run with the default mesh (spot_fraction 0.05, growth 0.1, the joint's corners at
limits.JOINT_CORNER_M = 12.5 µm) or the example's own (growth 0.15, ``--example-mesh``),
and with the smallest element, the growth and the corners' size divided by 2, 4 and 8
(``--levels``). ``--try mesh.joint_corner_um=0`` shows the yield use without the corners. For each figure the script prints its value on every mesh and the
Richardson extrapolation of the last three (observed order p from their differences;
"no order" when they do not converge monotonically), and the default mesh's error against
it. The time series' drift at every save time is compared with the finest mesh too.
``--try mesh.max_size_mm=0.5`` runs other [mesh] settings once and prints their errors
against the same references.

    .venv/bin/python studies/convergence_mechanics.py [--levels 1 2 4 8] [--example-mesh]
                                                      [--try mesh.KEY=VALUE[,...] ...]

The finest level (8: about 150 000 cells) takes about 2 min on the 2-core sandbox.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from anodesim.limits import JOINT_CORNER_M  # no dolfinx

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE / "reflection_insert.toml"

#: The summary figures compared: (label, path in summary.json).
FIGURES = [
    ("peak temperature rise (K)", ("results", "T_peak_max_C")),
    ("drift across the view, end (µm)", ("mechanics", "drift_across_view_um", "final")),
    ("spot shift along the beam, end (µm)", ("mechanics", "spot_shift_um", "final")),
    ("magnification change, end", ("mechanics", "magnification_change_rel", "final")),
    ("largest von Mises, target (MPa)", ("mechanics", "von_mises_max_MPa", "target", "value")),
    ("largest von Mises, heat sink (MPa)",
     ("mechanics", "von_mises_max_MPa", "heat_sink", "value")),
    ("heat sink yield use near the joint", ("mechanics", "yield_use_heat_sink_rel", "final")),
]


def _get(d: dict, path: tuple):
    for k in path:
        if not isinstance(d, dict) or k not in d:
            return math.nan
        d = d[k]
    return float(d)


def run_level(k: int, growth: float, out: Path, extra: dict | None = None
              ) -> tuple[dict, list[float], float]:
    """(summary, drift across the view at the save times, CPU s) with sizes / k (and the
    [mesh] settings `extra`)."""
    from mpi4py import MPI

    from anodesim import case as case_mod
    from anodesim.simulation import run

    data = tomllib.loads(EXAMPLE.read_text())
    data["mesh"] = {"spot_fraction": 0.05 / k, "growth": growth / k,
                    "joint_corner_um": JOINT_CORNER_M * 1e6 / k, **(extra or {})}
    data.setdefault("output", {})["figures"] = False
    c0 = time.process_time()
    run(case_mod.from_dict(data, EXAMPLE.parent), out, comm=MPI.COMM_SELF)
    cpu = time.process_time() - c0
    summary = json.loads((out / "summary.json").read_text())
    with open(out / "timeseries.csv") as f:
        rows = [r for r in csv.DictReader(row for row in f if not row.startswith("#"))]
    drift = [float(r["drift_across_view_um"]) for r in rows
             if r["drift_across_view_um"] not in ("", "nan")]
    return summary, drift, cpu


def richardson(values: list[float], ratio: float = 2.0) -> tuple[float, float]:
    """(extrapolated value, observed order) from the last three values of a sequence whose
    sizes shrink by `ratio` each; (nan, nan) if the differences do not shrink monotonically."""
    a, b, c = values[-3:]
    d1, d2 = b - a, c - b
    if d1 == 0 or d2 == 0 or d1 * d2 < 0 or abs(d2) >= abs(d1):
        return math.nan, math.nan
    p = math.log(abs(d1 / d2)) / math.log(ratio)
    return c + d2 / (ratio ** p - 1.0), p


def main() -> int:
    from anodesim import _mpi  # noqa: F401  (before dolfinx)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--example-mesh", action="store_true",
                        help="start from the example's growth 0.15, not the default 0.1")
    parser.add_argument("--try", dest="tries", action="append", default=[],
                        metavar="mesh.KEY=VALUE[,mesh.KEY=VALUE]",
                        help="[mesh] settings run once and compared with the references")
    args = parser.parse_args()
    growth = 0.15 if args.example_mesh else 0.1
    print(f"load average {os.getloadavg()[0]:.2f}; {EXAMPLE.name}, spot_fraction 0.05, "
          f"growth {growth}, refined by {args.levels}")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in args.levels:
            s, drift, cpu = run_level(k, growth, Path(tmp) / f"k{k}")
            results.append((k, s, drift))
            print(f"  sizes / {k}: {s['numerics']['cells']} cells, CPU {cpu:.1f} s", flush=True)
        tried = []
        for t in args.tries:
            extra = {kv.split("=")[0].removeprefix("mesh."): float(kv.split("=")[1])
                     for kv in t.split(",")}
            s, _, cpu = run_level(1, growth, Path(tmp) / f"try{len(tried)}", extra)
            tried.append((t, s))
            print(f"  {t}: {s['numerics']['cells']} cells, CPU {cpu:.1f} s", flush=True)
    T0 = tomllib.loads(EXAMPLE.read_text())["initial"]["temperature_C"]
    print(f"{'figure':40s} " + " ".join(f"{'/' + str(k):>10s}" for k, _, _ in results)
          + f" {'extrap.':>10s} {'order':>6s} {'default err.':>12s}")
    for label, path in FIGURES:
        vals = [_get(s, path) - (T0 if label.startswith("peak") else 0.0)
                for _, s, _ in results]
        ext, p = richardson(vals) if len(vals) >= 3 else (math.nan, math.nan)
        ref = ext if math.isfinite(ext) else vals[-1]
        err = (vals[0] - ref) / abs(ref) if ref else math.nan
        print(f"{label:40s} " + " ".join(f"{v:10.5g}" for v in vals)
              + f" {ext:10.5g} {p:6.2f} {100 * err:+11.2f}%"
              + ("" if math.isfinite(ext) else "  (against the finest: no monotone order)"))
        for t, s in tried:
            v = _get(s, path) - (T0 if label.startswith("peak") else 0.0)
            print(f"    {t:36s} {v:10.5g} {100 * (v - ref) / abs(ref):+11.2f}%")
    d0, dn = results[0][2], results[-1][2]
    if len(d0) == len(dn) and dn:
        scale = max(abs(v) for v in dn)
        worst = max(abs(a - b) for a, b in zip(d0, dn)) / scale
        print(f"drift across the view at the {len(dn)} save times: default against sizes / "
              f"{results[-1][0]}, largest difference {100 * worst:.2f} % of the largest drift")
    return 0


if __name__ == "__main__":
    sys.exit(main())
