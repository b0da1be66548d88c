"""Benchmark: reflection insert, 20 µm FWHM Gaussian spot, 10 W beam, 10 s of simulated time,
with the focal-spot drift at 20 save times.

Prints cells, dofs, time steps, LU factorisations, wall time (mesh, thermal, mechanical,
total), the peak temperature and the final drift, for constant and temperature-dependent
properties. Run with ``make benchmark``. Targets: thermal part under 15 s on a 2-core machine
with constant properties; mechanical part cheaper than the thermal part.
"""

import sys
import time
from pathlib import Path

import anodesim

CASE = Path(__file__).with_name("reflection_insert.toml")


def main() -> int:
    base = anodesim.load(CASE).source
    print(f"{'properties':<22s} {'cells':>6s} {'dofs':>6s} {'steps':>5s} {'LU':>4s} "
          f"{'mesh s':>7s} {'thermal s':>9s} {'mech s':>7s} {'total s':>8s} "
          f"{'T_peak °C':>10s} {'drift µm':>9s}")
    for mode in ("constant", "temperature_dependent"):
        data = {**base, "materials": {**base["materials"], "properties": mode},
                "output": {"fields": False}}
        t0 = time.perf_counter()
        res = anodesim.run(anodesim.from_dict(data, CASE.parent))
        wall = time.perf_counter() - t0
        s = res.summary_dict()
        n, t = s["numerics"], s["timing_s"]
        drift = s["mechanics"]["drift_across_view_um"]["final"]
        print(f"{mode:<22s} {n['cells']:6d} {n['dofs']:6d} {n['time_steps']:5d} "
              f"{n['factorisations']:4d} {t['mesh']:7.2f} {t['thermal']:9.2f} "
              f"{t['mechanics']:7.2f} {wall:8.2f} {s['results']['T_peak_max_C']:10.1f} "
              f"{drift:9.3f}")
    print("(total includes form compilation on a cold cache; rerun for the warm figure)")
    return 0


if __name__ == "__main__":
    import sys

    if {"-h", "--help"} & set(sys.argv[1:]):  # the usage, not a run
        print(__doc__)
        sys.exit(0)
    sys.exit(main())
