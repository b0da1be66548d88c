"""Verification report: prints the measured error of every closed-form check of the test
suite (tests/test_verification.py), with the mesh and time-step convergence rates.

Run: ``.venv/bin/python studies/verification_report.py`` (about a minute).
"""

import math
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import brentq
from scipy.special import erfc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from cases import FWHM_PER_SIGMA, K_W, KAPPA_W, block, reflection  # noqa: E402

import anodesim  # noqa: E402
from anodesim import materials  # noqa: E402
from anodesim.simulation import run  # noqa: E402


def peak(case):
    return run(anodesim.from_dict(case)).series["T_peak_C"][-1]


def main() -> int:
    sigma = 20e-6 / FWHM_PER_SIGMA
    lax = 10.0 / (2 * math.sqrt(2 * math.pi) * K_W * sigma) - 10.0 / (2 * math.pi * K_W * 2e-3)
    print(f"steady Gaussian (Lax 1977), default-like mesh: "
          f"{peak(block()) / lax - 1:+.2e} (tolerance 1e-2)")

    a, P = 10e-6, 10.0
    q, tau = P / (math.pi * a * a), a * a / KAPPA_W
    times = [0.1 * tau, tau, 10 * tau, 100 * tau]
    res = run(anodesim.from_dict(block(
        geometry={"radius_mm": 1.0}, beam={"spot": "flat_top", "fwhm_um": None,
                                           "diameter_um": 2e6 * a},
        loading={"kind": "continuous", "duration_s": times[-1]},
        output={"save_times_s": times})))
    t, T = res.column("time_s"), res.column("T_peak_C")
    errs = []
    for ti in times:
        x = a / (2 * math.sqrt(KAPPA_W * ti))
        ierfc = math.exp(-x * x) / math.sqrt(math.pi) - x * erfc(x)
        exact = 2 * q * math.sqrt(KAPPA_W * ti) / K_W * (1 / math.sqrt(math.pi) - ierfc)
        errs.append(T[np.argmin(abs(t - ti))] / exact - 1)
    print("transient disk (Carslaw & Jaeger) at t = 0.1, 1, 10, 100 a²/κ: "
          + ", ".join(f"{e:+.2e}" for e in errs) + " (tolerance 2e-2)")

    for props in ("constant", "temperature_dependent"):
        r = run(anodesim.from_dict(reflection(
            materials={"properties": props}, boundaries=None,
            interfaces={"target_heat_sink": {"conductance_W_m2K": 1e6}},
            loading={"kind": "pulse_train", "duration_s": None, "pulses": 5, "on_s": 0.05,
                     "off_s": 0.05})))
        s = r.column("stored_heat_J")[-1]
        d = r.column("deposited_energy_J")[-1] + r.column("extra_focal_energy_J")[-1]
        print(f"energy balance, adiabatic, 5 pulses, {props}: {s / d - 1:+.2e} (tolerance 5e-3)")

    errors = []
    for level in range(4):
        f = 0.5 ** level
        errors.append(abs(peak(block(mesh={"spot_fraction": 0.2 * f, "growth": 0.4 * f,
                                           "max_size_mm": 0.4 * f})) / lax - 1))
    rate = np.polyfit(np.log([0.5 ** i for i in range(1, 4)]), np.log(errors[1:]), 1)[0]
    print("mesh convergence, errors " + ", ".join(f"{e:.2e}" for e in errors)
          + f"; fitted rate {rate:.2f} (expected 2, test requires > 1.7)")

    values = []
    for m in (2, 4, 8, 16):
        values.append(peak(block(
            geometry={"radius_mm": 1.0}, mesh={"spot_fraction": 0.1, "growth": 0.25},
            beam={"spot": "flat_top", "fwhm_um": None, "diameter_um": 2e6 * a},
            loading={"kind": "continuous", "duration_s": 8 * tau},
            # no per-segment cap (time.steps_per_segment, issue 15), or the sequences are
            # not nested and the orders meaningless (it printed "nan, 0.62")
            time={"initial_step_s": 0.5 * tau / m, "steps_per_doubling": m,
                  "max_step_s": tau / m, "steps_per_segment": 1})))
    d = np.diff(values)
    print("time-step convergence, observed orders "
          + ", ".join(f"{o:.2f}" for o in np.log2(d[:-1] / d[1:])) + " (BDF2: 2)")

    W = materials.get("W")
    rise = peak(block(materials={"properties": "temperature_dependent", "override": None},
                      beam={"power_W": 8.0}, boundaries={"far_field": {"temperature_C": 26.85}},
                      initial={"temperature_C": 26.85})) + 273.15 - 300.0
    U = 8.0 / (2 * math.sqrt(2 * math.pi) * sigma) - 8.0 / (2 * math.pi * 2e-3)
    Tc = brentq(lambda T: W.k.integral(300.0, T) - U, 300.0, 3600.0)
    print(f"k(T) Kirchhoff, W, centre {Tc:.0f} K: {rise / (Tc - 300) - 1:+.2e} (tolerance 1e-2)")
    return 0


if __name__ == "__main__":
    import sys

    if {"-h", "--help"} & set(sys.argv[1:]):  # the usage, not a run
        print(__doc__)
        sys.exit(0)
    sys.exit(main())
