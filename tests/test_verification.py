"""Verification of the heat solver against closed forms, conservation and convergence.

Each test states its tolerance. Closed forms: physics reference §3 (Carslaw & Jaeger 1959,
Lax 1977, the Kirchhoff transform). The semi-infinite solid is a hemisphere of radius R whose
curved surface is held at the initial temperature; for a source of size ≪ R this lowers the
centre temperature by exactly P/(2πkR) relative to the infinite half-space (the hemisphere
Green's function 1/ρ − 1/R of a point source, to O(σ²/R²)), so that correction is applied.
"""

import math

import numpy as np
import pytest
from cases import CP_W, FWHM_PER_SIGMA, K_W, KAPPA_W, RHO_W, block, reflection
from mpi4py import MPI
from scipy.optimize import brentq
from scipy.special import erfc

import anodesim
from anodesim import geometry, materials, thermal
from anodesim.case import Boundary
from anodesim.electron_kernels import load
from anodesim.simulation import run


def gaussian_centre_rise(P, sigma, k, R):
    """Steady centre rise of a Gaussian surface flux on a half-space (Lax 1977),
    P/(2√(2π) k σ), minus the hemisphere correction P/(2πkR)."""
    return P / (2 * math.sqrt(2 * math.pi) * k * sigma) - P / (2 * math.pi * k * R)


def test_steady_gaussian_surface_flux_semi_infinite():
    """Centre rise within 1 % of P/(2√(2π) k σ) (corrected for the finite hemisphere)."""
    res = run(anodesim.from_dict(block()))
    sigma = 20e-6 / FWHM_PER_SIGMA
    exact = gaussian_centre_rise(10.0, sigma, K_W, 2e-3)
    assert res.series["T_peak_C"][-1] == pytest.approx(exact, rel=0.01)


def _ierfc(x):
    return math.exp(-x * x) / math.sqrt(math.pi) - x * erfc(x)


def test_transient_disk_flux_carslaw_jaeger():
    """Centre temperature of a uniform disk flux switched on at t = 0 on a semi-infinite
    solid (Carslaw & Jaeger §10.5): within 2 % at four times spanning three decades."""
    a, P = 10e-6, 10.0
    q = P / (math.pi * a * a)
    tau = a * a / KAPPA_W
    times = [0.1 * tau, tau, 10 * tau, 100 * tau]
    case = block(geometry={"radius_mm": 1.0},
                 beam={"spot": "flat_top", "fwhm_um": None, "diameter_um": 2e6 * a},
                 loading={"kind": "continuous", "duration_s": times[-1]},
                 output={"save_times_s": times})
    res = run(anodesim.from_dict(case))
    t, T = res.column("time_s"), res.column("T_peak_C")
    for ti in times:
        fe = T[np.argmin(abs(t - ti))]
        exact = 2 * q * math.sqrt(KAPPA_W * ti) / K_W * (
            1 / math.sqrt(math.pi) - _ierfc(a / (2 * math.sqrt(KAPPA_W * ti))))
        assert np.isclose(t[np.argmin(abs(t - ti))], ti, rtol=1e-12)  # step landed on it
        assert fe == pytest.approx(exact, rel=0.02), f"t = {ti / tau:g} a²/κ"


@pytest.mark.slow
@pytest.mark.parametrize("properties", ["constant", "temperature_dependent"])
def test_energy_balance_adiabatic_pulse_train(properties):
    """Adiabatic W/Cu anode under 5 pulses: the stored heat ∫∫ρc dT dV equals the deposited
    plus the extra-focal energy (all of the beam but the X-rays leaving) within 0.5 %
    (measured 2026-12-05 at the end and at the pulse ends: at most 4e-12 with constant
    properties, 4e-7 with k(T), ρc(T), as studies/verification_report.py prints; the 2e-5
    quoted before was not this code's)."""
    case = reflection(materials={"properties": properties},
                      geometry={"anode_radius_mm": 3.0, "anode_length_mm": 5.0},
                      boundaries=None,
                      interfaces={"target_heat_sink": {"conductance_W_m2K": 1e6}},
                      loading={"kind": "pulse_train", "duration_s": None, "pulses": 5,
                               "on_s": 0.05, "off_s": 0.05})
    res = run(anodesim.from_dict(case))
    stored, deposited = res.column("stored_heat_J"), res.column("deposited_energy_J")
    put_in = deposited + res.column("extra_focal_energy_J")
    eta = load().backscatter_energy_fraction("W", 100e3)  # electron tables, W at 100 kV
    xray = 0.5 * 1.1e-9 * 74 * 100e3  # the outgoing half of Kramers' efficiency (W, 100 kV)
    assert deposited[-1] == pytest.approx(5 * 0.05 * 10.0 * (1 - eta), rel=1e-12)
    assert put_in[-1] == pytest.approx(5 * 0.05 * 10.0 * (1 - xray), rel=1e-12)
    assert stored[-1] == pytest.approx(put_in[-1], rel=0.005)
    # and at every pulse end as well, not only at the end
    ends = [np.argmin(abs(res.column("time_s") - t)) for t in (0.05, 0.25, 0.45)]
    np.testing.assert_allclose(stored[ends], put_in[ends], rtol=0.005)


# Expected convergence rate of the peak temperature for P1 elements: O(h²); the test accepts
# a fitted rate above 1.7 (the measured rates are kept here as data).
MESH_RATE_EXPECTED = 2.0
MESH_RATE_MIN = 1.7


def test_mesh_convergence_peak_temperature():
    """The peak (spot centre) temperature converges at second order under uniform scaling
    of all element sizes (h_min, growth, h_max halved together)."""
    sigma = 20e-6 / FWHM_PER_SIGMA
    exact = gaussian_centre_rise(10.0, sigma, K_W, 2e-3)
    errors, hs = [], []
    for level in range(4):
        s = 0.5 ** level
        case = block(mesh={"spot_fraction": 0.2 * s, "growth": 0.4 * s, "max_size_mm": 0.4 * s})
        res = run(anodesim.from_dict(case))
        errors.append(abs(res.series["T_peak_C"][-1] - exact) / exact)
        hs.append(s)
    rate = np.polyfit(np.log(hs[1:]), np.log(errors[1:]), 1)[0]
    assert errors[-1] < 1e-3
    assert rate > MESH_RATE_MIN, f"errors {errors}, rate {rate:.2f}"


TIME_ORDER_EXPECTED = 2.0  # BDF2
TIME_ORDER_MIN = 1.8


def test_time_step_convergence_order():
    """Observed order of the time scheme (BDF2, backward-Euler restart) from three nested
    refinements of the step sequence on a fixed mesh: ≥ 1.8 (measured 2.0–2.1). The
    sequence is set by the test alone (no per-segment cap), so that it halves exactly."""
    a = 10e-6
    tau = a * a / KAPPA_W
    values = []
    for m in (2, 4, 8, 16):
        case = block(geometry={"radius_mm": 1.0},
                     mesh={"spot_fraction": 0.1, "growth": 0.25},
                     beam={"spot": "flat_top", "fwhm_um": None, "diameter_um": 2e6 * a},
                     loading={"kind": "continuous", "duration_s": 8 * tau},
                     time={"initial_step_s": 0.5 * tau / m, "steps_per_doubling": m,
                           "max_step_s": tau / m, "steps_per_segment": 1})
        values.append(run(anodesim.from_dict(case)).series["T_peak_C"][-1])
    d = np.diff(values)
    orders = np.log2(d[:-1] / d[1:])
    assert np.all(orders > TIME_ORDER_MIN), f"orders {orders}"


def test_temperature_dependent_conductivity_kirchhoff():
    """Steady Gaussian spot on bulk W with the library's k(T): the centre temperature obeys
    ∫_{T0}^{Tc} k dT = P/(2√(2π)σ) − P/(2πR) (Kirchhoff transform) within 1 % of the rise
    (measured 0.3 %)."""
    W = materials.get("W")
    P, R = 8.0, 2e-3
    case = block(materials={"properties": "temperature_dependent", "override": None},
                 beam={"power_W": P},
                 boundaries={"far_field": {"temperature_C": 26.85}},
                 initial={"temperature_C": 26.85})
    res = run(anodesim.from_dict(case))
    sigma = 20e-6 / FWHM_PER_SIGMA
    U = gaussian_centre_rise(P, sigma, 1.0, R)
    Tc = brentq(lambda T: W.k.integral(300.0, T) - U, 300.0, 3600.0)
    rise_fe = res.series["T_peak_C"][-1] + 273.15 - 300.0
    assert Tc > 1500  # a strongly nonlinear case: k falls by a third
    assert rise_fe == pytest.approx(Tc - 300.0, rel=0.01)


def test_interface_conductance_jump_1d():
    """1-D two-layer W|Cu slab, flux q in at the left, 300 K at the right, conductance h at
    the interface: the temperature jump equals q/h within 0.5 % (P1 is exact here: 1e-9),
    and the left-face temperature is 300 + q(L_Cu/k_Cu + 1/h + L_W/k_W)."""
    L1, L2, H = 1e-3, 2e-3, 0.2e-3
    lay = geometry.axisym.Layout(
        regions={"a": [(0, 0), (L1, 0), (L1, H), (0, H)],
                 "b": [(L1, 0), (L1 + L2, 0), (L1 + L2, H), (L1, H)]},
        arcs={}, z_beam=H, stack=[],
        faces=lambda reg, m: ("left" if m[0] < 1e-12 else
                              "right" if abs(m[0] - L1 - L2) < 1e-12 else "sides"),
        interfaces={frozenset(("a", "b")): "ab"}, scale=L1 + L2)
    gm = geometry.axisym.build(lay, {"ab"}, 0.05e-3, 0.0, 0.05e-3, 0.0, 0.0)
    dom = geometry.to_dolfinx(MPI.COMM_WORLD, model=gm.model, gdim=2)
    gm.finalize()
    dom.axisymmetric = False  # planar slab
    mats = {"a": materials.get("W").frozen_at(300.0), "b": materials.get("Cu").frozen_at(300.0)}
    q, h = 1e7, 1e6
    p = thermal.ThermalProblem(
        dom, mats, {"left": Boundary("heat_flux", q_W_m2=q),
                    "right": Boundary("fixed", temperature_K=300.0)},
        [thermal.Interface("ab", "ab@a", "ab@b", h)], None, H, 300.0)
    p.steady(0.0)
    jump = p.region_range("a")[0] - p.region_range("b")[1]
    assert jump == pytest.approx(q / h, rel=0.005)
    kA, kB = float(mats["a"].k(300.0)), float(mats["b"].k(300.0))
    assert p.region_max("a") == pytest.approx(300 + q * (L2 / kB + 1 / h + L1 / kA), rel=1e-9)


def test_constant_properties_reference_set():
    """The block case really uses the reference W set (guards the override path)."""
    case = anodesim.from_dict(block())
    assert case.materials.overrides["target"] == {"k": K_W, "rho": RHO_W, "cp": CP_W}


def test_maximum_principle_film_on_window_with_conductance():
    """W film on diamond with a conductance at the interface and the rim held at 30 °C: with
    heat input only, no node may be colder than the rim (a check on the interface coupling
    next to fixed-temperature nodes), and the film/window jump under the spot is positive."""
    from cases import transmission

    case = transmission(interfaces={"target_window": {"conductance_W_m2K": 2.05e8}})
    res = run(anodesim.from_dict(case))
    final = res.summary_dict()["results"]["final"]
    assert res.summary_dict()["status"] == "complete"
    # Every region's coldest node is at least the rim temperature (to solver round-off).
    assert min(final["T_max_target_C"], final["T_max_window_C"]) > 30.0
    lo = res.summary_dict()["results"]["T_min_by_region_C"]
    assert min(lo.values()) >= 30.0 - 1e-6


def test_film_on_window_with_conductance_against_a_fourier_bessel_series():
    """The transmission target's steady temperatures under its layered kernel source: 1 µm
    W film (k 100) on 0.25 mm diamond (k 1800), 205 MW/m²K between them, 5 µm spot at
    60 kV, rim held: the film's peak, the interface's hottest node (the film's side of the
    jump) and the window's maximum, each within 0.5 % (the default mesh's accuracy for a
    temperature rise) of an independent Fourier–Bessel series with a finite-volume solve
    per mode (tests/semianalytic.film_on_window_rise: the same source description, no
    finite elements). Measured 2026-12-05: −0.04 %, −0.008 %, −0.08 % (408.8, 246.2,
    80.7 K; the shipped example at constant properties: −0.03 %, +0.002 %, −0.04 %).
    Before this test only the maximum principle checked this geometry."""
    import semianalytic as sa
    from cases import transmission

    from anodesim import resolve

    case = anodesim.from_dict(transmission(
        materials={"properties": "constant",
                   "override": {"target": {"k_W_mK": 100.0}, "window": {"k_W_mK": 1800.0}}},
        interfaces={"target_window": {"conductance_W_m2K": 2.05e8}}))
    res = run(case)
    final = res.summary_dict()["results"]["final"]
    P_dep = res.summary_dict()["beam"]["deposited_power_W"]
    layers = resolve.prepare(case).spot.kernel.layers
    ref = sa.film_on_window_rise(layers, 5e-6 / FWHM_PER_SIGMA, 100.0, 1800.0, 2.05e8,
                                 0.25e-3, 1.0e-3, power_W=P_dep)
    assert final["T_peak_C"] - 30.0 == pytest.approx(ref["film_top"], rel=5e-3)
    assert final["T_max_target_window_C"] - 30.0 == pytest.approx(ref["interface_film"],
                                                                  rel=5e-3)
    assert final["T_max_window_C"] - 30.0 == pytest.approx(ref["window_max"], rel=5e-3)
    # the limit is taken on the film's side of the jump, the hotter one
    assert ref["interface_film"] > 2 * ref["interface_window"]


def test_fixed_temperature_differs_from_initial_steady():
    """Steady state with the far field fixed at 200 °C and an initial 20 °C: the result must
    not depend on the initial temperature (the fixed values are imposed before the solve)."""
    hot = run(anodesim.from_dict(block(boundaries={"far_field": {"temperature_C": 200.0}},
                                       initial={"temperature_C": 20.0})))
    ref = run(anodesim.from_dict(block(boundaries={"far_field": {"temperature_C": 200.0}},
                                       initial={"temperature_C": 200.0})))
    assert hot.series["T_peak_C"][-1] == pytest.approx(ref.series["T_peak_C"][-1], rel=1e-12)
    sigma = 20e-6 / FWHM_PER_SIGMA
    assert hot.series["T_peak_C"][-1] - 200.0 == pytest.approx(gaussian_centre_rise(10.0, sigma, K_W, 2e-3),
                                                    rel=0.01)


def test_fixed_rim_warmer_than_initial_maximum_principle():
    """Transmission target, rim at 80 °C, start at 30 °C, steady: no node below the rim."""
    from cases import transmission

    res = run(anodesim.from_dict(transmission(
        boundaries={"rim": {"temperature_C": 80.0}},
        interfaces={"target_window": {"conductance_W_m2K": 2.05e8}})))
    assert min(res.summary_dict()["results"]["T_min_by_region_C"].values()) >= 80.0 - 1e-6


def test_power_continuation_reaches_the_same_steady_state(monkeypatch):
    """When Newton fails from a cold start, the steady solve approaches the power through
    intermediate powers. Forced here (the first direct solve is made to fail), it must land
    on the same solution as the direct solve, to the Newton tolerance (1e-6 relative)."""
    case = anodesim.from_dict(block(
        materials={"properties": "temperature_dependent", "override": None},
        beam={"power_W": 8.0}, boundaries={"far_field": {"temperature_C": 26.85}},
        initial={"temperature_C": 26.85}))
    direct = run(case)
    assert direct.summary_dict()["numerics"]["power_continuations"] == 0
    real_solve, calls = thermal.ThermalProblem._solve, []

    def fail_first(self):
        calls.append(float(self.power.value))
        if len(calls) == 1:
            raise thermal.SolverError("forced failure of the direct solve")
        return real_solve(self)

    monkeypatch.setattr(thermal.ThermalProblem, "_solve", fail_first)
    continued = run(case)
    assert continued.summary_dict()["numerics"]["power_continuations"] == 1
    assert len(calls) >= 4 and calls[1] < calls[-1] == pytest.approx(8.0)  # via lower powers
    assert continued.series["T_peak_C"][-1] == pytest.approx(direct.series["T_peak_C"][-1], rel=1e-6)
