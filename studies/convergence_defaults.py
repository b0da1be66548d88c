"""Convergence study of the default [mesh] and [time] settings (issue 15, item 6).

Every temperature rise a run reports (the spot's peak, the probes, each region's maximum)
at every save time, with the defaults, against a converged reference: the same case with
finer time steps (initial and largest step / 8, eight times as many steps per doubling) and, separately,
a finer mesh (smallest element and growth divided by 4). The reference's own error is estimated
by one more refinement (time: steps / 8; mesh: sizes / 4, which is the mesh reference)
and printed too.

Cases (the C1-class reflection insert: W in Cu, k(T), 100 kV, 20 µm Gaussian surface spot):

* ``continuous``: 10 W for 10 s, save times 1 ms ... 10 s;
* ``pulses``: 10 ms on / 10 ms off at 20 W, 5 pulses, saved at every switch, so that the
  small residual rise just before each pulse is checked as well as each pulse's peak.

    .venv/bin/python studies/convergence_defaults.py [--case pulses|continuous|all]
        [--mesh] [--time] [--set time.steps_per_doubling=6 ...]

Prints, per quantity, the worst relative error of the defaults over the save times, with
where it occurs, and the CPU time of each run with the load average.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from cases import c1_continuous, c1_pulses, refined_mesh, refined_time, rises  # noqa: E402



CASES = {"pulses": c1_pulses, "continuous": c1_continuous}


#: Rises below this fraction of the run's largest spot rise are compared in absolute terms
#: (a far face that has not warmed yet has a rise of 1e-9 K: its relative error says nothing).
NEGLIGIBLE = 1e-3


def worst(a: dict, ref: dict, saves) -> dict[str, tuple[float, float]]:
    """quantity → (largest |a − ref| / max(|ref|, NEGLIGIBLE · peak rise) over the save
    times, the time where)."""
    floor = NEGLIGIBLE * max(float(np.max(np.abs(v))) for v in ref.values())
    out = {}
    for n in ref:
        e = np.abs(a[n] - ref[n]) / np.maximum(np.abs(ref[n]), floor)
        out[n] = (float(e.max()), float(saves[int(e.argmax())]))
    return out


def with_settings(case: dict, sets: list[str]) -> dict:
    case = copy.deepcopy(case)
    for s in sets:
        key, value = s.split("=", 1)
        table, name = key.split(".")
        case.setdefault(table, {})[name] = float(value) if "." in value or "e" in value \
            else int(value)
    return case


def report(label: str, errors: dict, cost: str) -> None:
    print(f"  {label:<44s} {cost}")
    for q, (e, t) in errors.items():
        print(f"      {q:<28s} {100 * e:7.3f} %  at t = {t:g} s")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--case", choices=[*CASES, "all"], default="all")
    p.add_argument("--mesh", action="store_true", help="the mesh study only")
    p.add_argument("--time", action="store_true", help="the time study only")
    p.add_argument("--try", dest="tries", action="append", default=[],
                   metavar="TABLE.KEY=VALUE[,TABLE.KEY=VALUE]",
                   help="settings compared with the defaults (e.g. time.steps_per_doubling=6)")
    p.add_argument("--factor", type=int, default=8,
                   help="time refinement of the reference (its check: half of it)")
    args = p.parse_args()
    both = not (args.mesh or args.time)
    print(f"load average {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
    for name in (CASES if args.case == "all" else [args.case]):
        case = CASES[name]()
        runs = {"defaults": rises(case)}
        for t in args.tries:
            runs[t] = rises(with_settings(case, t.split(",")))
        saves = runs["defaults"][1]
        refs = {}
        if both or args.time:
            f = args.factor
            refs[f"time: steps / {f} (initial, largest / {f}, x{f} per doubling)"] = \
                rises(refined_time(case, f))
            check = (f"time: steps / {f // 2}, the reference's own error",
                     rises(refined_time(case, f // 2)))
        if both or args.mesh:
            refs["mesh: element sizes and growth / 4"] = rises(refined_mesh(case, 4.0))
            mcheck = ("mesh: sizes / 2, the reference's own error", rises(refined_mesh(case, 2)))
        for ref_name, ref in refs.items():
            print(f"{name}: against {ref_name} ({ref[3]} steps, CPU {ref[2]:.2f} s)")
            extra = [check] if ref_name.startswith("time") else [mcheck]
            for label, r in [*runs.items(), *extra]:
                report(label, worst(r[0], ref[0], saves), f"{r[3]} steps, CPU {r[2]:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
