"""3-D verification figures: the flat-face 3-D anode against the axisymmetric model
(tests/test_verification_3d.py), and the mesh convergence of its steady peak temperature,
written to ``studies/figures/verification_3d.csv`` (the observed orders kept as data).

Run: ``.venv/bin/python studies/verification_3d.py`` (about two minutes).
"""

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from test_verification_3d import SAVE_TIMES, _axisymmetric, _flat_3d, _saved  # noqa: E402

import anodesim  # noqa: E402
from anodesim import output  # noqa: E402
from anodesim.simulation import run  # noqa: E402


def main() -> int:
    rows = []
    mesh = {"spot_fraction": 0.04, "growth": 0.25, "max_size_mm": 0.15}
    transient = {"loading": {"duration_s": SAVE_TIMES[-1]}, "output": {"save_times_s": SAVE_TIMES}}
    steady = {"loading": {"kind": "steady", "duration_s": None}}
    for label, changes in (("transient", transient), ("steady", steady)):
        ref = _saved(run(anodesim.from_dict(_axisymmetric(**changes))))
        res = run(anodesim.from_dict(_flat_3d(mesh, **changes)))
        got = _saved(res)
        cells = res.summary_dict()["numerics"]["cells"]
        for i, t in enumerate(ref[0]):
            eT, eu = got[1][i] / ref[1][i] - 1, got[2][i] / ref[2][i] - 1
            print(f"{label:9s} t = {t:5.3g} s: peak rise {ref[1][i]:7.2f} K (2-D) "
                  f"{got[1][i]:7.2f} K (3-D, {cells} cells) {eT:+.2%};  u_z {ref[2][i]:.4f} "
                  f"{got[2][i]:.4f} µm {eu:+.2%}")
            rows.append(["axisymmetric_vs_3d", label, t, cells, eT, eu, ""])
    ref = _saved(run(anodesim.from_dict(_axisymmetric(**steady))))[1][0]
    scales, errors = [1.0, 0.7, 0.5, 0.35], []
    for s in scales:
        m = {"spot_fraction": 0.2 * s, "growth": 0.6 * s, "max_size_mm": 0.3 * s}
        res = run(anodesim.from_dict(_flat_3d(m, **steady)))
        errors.append(abs(_saved(res)[1][0] / ref - 1))
        order = "" if len(errors) == 1 else \
            np.log(errors[-2] / errors[-1]) / np.log(scales[-2] / scales[-1])
        print(f"mesh scale {s:4.2f}: {res.summary_dict()['numerics']['cells']:7d} cells, peak rise "
              f"error {errors[-1]:.2%}, observed order {order if order == '' else f'{order:.2f}'}")
        rows.append(["mesh_convergence", "steady", s, res.summary_dict()["numerics"]["cells"],
                     errors[-1], "", order])
    output.write_csv(HERE / "figures" / "verification_3d.csv",
                     ["study", "load", "time_s_or_scale", "cells", "peak_rise_error",
                      "u_z_error", "observed_order"], rows)
    return 0


if __name__ == "__main__":
    import sys

    if {"-h", "--help"} & set(sys.argv[1:]):  # the usage, not a run
        print(__doc__)
        sys.exit(0)
    sys.exit(main())
