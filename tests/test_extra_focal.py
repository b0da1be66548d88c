"""Extra-focal heating (issue 12 item 3): the beam's energy balance, where the backscattered
power lands and that the finite elements put exactly that power into the mesh.

Tolerances:
- the summary's balance deposited + extra-focal + X-rays (+ dropped) = beam power: 1e-12
  (arithmetic);
- the assembled source vector (spot + extra-focal, P1 hat functions summing to 1) against
  1 + P_ef/P_dep: 1e-10;
- the mesh's integral of the cosine law on the anode face against its closed form
  R²/(H² + R²) (axisymmetric disc, exact geometry; found 3e-14): 1e-9; on the 3-D tilted
  face (an ellipse approximated by the mesh's polygon; found −0.55 % on the coarse test
  mesh), with the landing centre moved forward by the oblique backscatter, against a 1-D
  quadrature about that centre: 1 %;
- the moved cosine law on a disc against the closed-form configuration factor of a
  differential area to an offset parallel disc, both by 2-D scipy quadrature: 1e-8;
- steady state: the heat leaving through the cooled end equals deposited + extra-focal
  (constant properties, LU): 1e-9; adiabatic transient: stored heat = deposited +
  extra-focal energy: 1e-8 (BDF2 conserves exactly to the solver's tolerance).
"""

import math

import dolfinx
import pytest
from cases import reflection, reflection_3d, transmission
from mpi4py import MPI

import anodesim
from anodesim import extra_focal as xf, resolve, simulation
from anodesim.case import CaseError
from anodesim.electron_kernels import load

KV = 1e3


def _setup(data):
    case = anodesim.from_dict(data)
    prep = resolve.prepare(case)
    domain, problem, _, _ = simulation.build_problem(case, prep, MPI.COMM_WORLD)
    return case, prep, domain, problem


def _balance(beam: dict) -> float:
    return (beam["deposited_power_W"] + beam["extra_focal_power_W"] + beam["xray_power_W"]
            + beam["extra_focal"]["dropped_power_W"])


# -- the energy balance (no finite elements) -----------------------------------------------
def test_reflection_balance_and_xray_share():
    """W at 100 kV, normal incidence: P_x = ½ · 1.1e-9 · 74 · 1e5 · P = 0.407 % of P (the
    outgoing half of Kramers' thick-target efficiency), P_ef = η_E P − P_x."""
    prep = resolve.prepare(anodesim.from_dict(reflection()))
    ef = prep.extra_focal
    eta = load().backscatter_energy_fraction("W", 100 * KV)
    assert ef.xray_fraction == pytest.approx(0.5 * 1.1e-9 * 74 * 100e3, rel=1e-12)
    assert ef.extra_focal_fraction == pytest.approx(eta - ef.xray_fraction, rel=1e-12)
    assert prep.p_dep + ef.extra_focal_fraction + ef.xray_fraction == pytest.approx(1.0,
                                                                                    rel=1e-12)
    assert [la.faces for la in ef.landings] == [("beam_face", "anode_face")]
    assert ef.landings[0].law == "cosine"


def test_transmission_sends_backscatter_to_the_rim_and_lets_all_xrays_out():
    """Transmission target: the backscatter leaves the film on the vacuum side, into the
    nose (the model's rim); all X-rays leave (f_esc = 1); Z is the deposited-share mean."""
    prep = resolve.prepare(anodesim.from_dict(transmission()))
    ef = prep.extra_focal
    shares = prep.spot.kernel.shares
    mean_Z = 74 * shares["target"] + 6 * shares["window"]
    assert ef.mean_Z == pytest.approx(mean_Z, rel=1e-12)
    assert ef.xray_fraction == pytest.approx(1.1e-9 * mean_Z * 60e3, rel=1e-12)
    assert [(la.faces, la.law, la.share) for la in ef.landings] == [(("rim",), "uniform", 1.0)]
    assert prep.p_dep + ef.extra_focal_fraction + ef.xray_fraction == pytest.approx(1.0,
                                                                                    rel=1e-12)


def test_named_faces_take_their_share_and_the_rest_follows_the_mode():
    case = reflection(beam={"extra_focal_faces": {"side": 0.25}})
    ef = resolve.prepare(anodesim.from_dict(case)).extra_focal
    assert [(la.faces, la.share, la.law) for la in ef.landings] == [
        (("side",), 0.25, "uniform"), (("beam_face", "anode_face"), 0.75, "cosine")]
    off = resolve.prepare(anodesim.from_dict(
        reflection(beam={"extra_focal": "off", "extra_focal_faces": {"side": 0.25}}))).extra_focal
    assert off.extra_focal_fraction == pytest.approx(0.25 * ef.extra_focal_fraction, rel=1e-12)
    assert off.dropped_fraction == pytest.approx(0.75 * ef.extra_focal_fraction, rel=1e-12)


def test_no_backscatter_no_extra_focal_no_xray_term():
    """η_E = 0 given: all the power is deposited; nothing is left for the face or X-rays."""
    ef = resolve.prepare(anodesim.from_dict(
        reflection(beam={"backscatter_energy_fraction": 0.0}))).extra_focal
    assert ef.extra_focal_fraction == 0.0 and ef.xray_fraction == 0.0 and not ef.landings


@pytest.mark.parametrize("beam,message", [
    ({"extra_focal": "hood"}, "beam.extra_focal = 'hood'"),
    ({"extra_focal_distance_mm": 0.0}, "beam.extra_focal_distance_mm = 0.0"),
    ({"extra_focal_faces": {"hood": 1.0}}, "beam.extra_focal_faces.hood"),
    ({"extra_focal_faces": {"side": 0.7, "cooled_end": 0.6}}, "add up to 1.3"),
    ({"extra_focal_faces": {"side": -0.1}}, "beam.extra_focal_faces.side = -0.1"),
])
def test_bad_extra_focal_keys_are_one_line_errors(beam, message):
    with pytest.raises(CaseError) as e:
        anodesim.from_dict(reflection(beam=beam))
    assert message in str(e.value) and "\n" not in str(e.value)


def test_cosine_law_closed_form():
    """f(ρ) = H²/(π(H² + ρ²)²) integrates to 1 over the plane, R²/(H² + R²) over a disc
    (50 % within ρ = H, 90 % within 3H): against scipy quadrature to 1e-10."""
    from scipy.integrate import quad

    H = 5e-3
    for R in (1e-3, H, 3 * H, 1.0):
        num = quad(lambda r: 2 * math.pi * r * xf.cosine_density(H, r * r), 0, R,
                   epsabs=0, epsrel=1e-12)[0]
        assert num == pytest.approx(xf.cosine_disc_share(H, R), rel=1e-10)
    assert xf.cosine_disc_share(H, H) == pytest.approx(0.5)
    assert xf.cosine_disc_share(H, 3 * H) == pytest.approx(0.9)


def test_offset_cosine_law_closed_form():
    """The cosine law centred at the distance a from the centre of a disc of radius R: its
    share on the disc against the configuration factor ½[1 − (H² + a² − R²)/√((H² + a² +
    R²)² − 4R²a²)] (a 2-D scipy quadrature over the disc, 1e-8), and the same share by the
    1-D quadrature about the law's centre used for the 3-D face (1e-8)."""
    from scipy.integrate import dblquad, quad

    H = 5e-3
    for R, a in ((1.5e-3, 0.6e-3), (H, 2 * H), (3 * H, 0.5 * H), (1e-3, 4e-3)):
        ef = xf.plan("face", 0.4, 1e5, 74.0, False, ("beam_face",), distance_m=H,
                     forward_shift=a / H, trace_angle_rad=0.3)
        assert math.hypot(*ef.offset_m) == pytest.approx(a, rel=1e-12)
        num = dblquad(lambda r, p: r * xf.cosine_density(
            H, ef.landing_rho2(r * math.cos(p), r * math.sin(p))), 0, 2 * math.pi, 0, R,
            epsabs=0, epsrel=1e-11)[0]
        ref = xf.cosine_offset_disc_share(H, R, a)
        assert num == pytest.approx(ref, rel=1e-8)
        if a < R:  # the centre inside the disc: the ray from it meets the circle once
            def share(p, a=a, R=R):
                rho = -a * math.cos(p) + math.sqrt(R * R - (a * math.sin(p)) ** 2)
                return rho * rho / (H * H + rho * rho) / (2 * math.pi)
            assert quad(share, 0, 2 * math.pi, epsrel=1e-12)[0] == pytest.approx(ref, rel=1e-8)
    assert xf.cosine_offset_disc_share(H, 3 * H, 0.0) == pytest.approx(0.9, rel=1e-12)


def test_oblique_backscatter_lands_forward_normal_incidence_centred():
    """3-D anode at ψ = 20°: the landing centre moves by s·H along the beam's trace on the
    face, s the tables' mean exit tangent (W, 100 kV, 20°; forward: s > 0); axisymmetric
    (normal incidence): no shift and ρ² = ξ² + η² exactly."""
    prep = resolve.prepare(anodesim.from_dict(reflection_3d()))
    ef, frame = prep.extra_focal, prep.lay.frame
    psi = resolve.incidence_deg(frame)
    assert psi == pytest.approx(20.0, abs=1e-9)
    forward, s = load().backscatter_forward("W", 100 * KV, psi)
    assert s > 0.05 and forward > 0.5
    assert ef.forward_shift == pytest.approx(s, rel=1e-12)
    t = frame.beam - (frame.beam @ frame.normal) * frame.normal
    t = t / math.hypot(*t)
    offset = ef.offset_m[0] * frame.e1 + ef.offset_m[1] * frame.e2
    assert offset @ t == pytest.approx(s * ef.distance_m, rel=1e-9)
    assert math.hypot(*ef.offset_m) == pytest.approx(s * ef.distance_m, rel=1e-12)
    flat = resolve.prepare(anodesim.from_dict(reflection())).extra_focal
    assert flat.forward_shift == 0.0 and flat.offset_m == (0.0, 0.0)
    assert flat.landing_rho2(3.0, 4.0) == 25.0


# -- the finite elements --------------------------------------------------------------------
def test_axisymmetric_face_integral_and_assembled_source():
    """Reflection insert: the mesh integrates the cosine law over the anode's face (a disc
    of the anode radius) to its closed form within 1e-9 (degree-6 quadrature on straight
    radial edges), and the assembled source vector
    carries 1 + P_ef/P_dep per deposited watt to 1e-10."""
    case, prep, domain, problem = _setup(reflection())
    ef = prep.extra_focal
    R = case.geometry.sizes_m["anode_radius_m"]
    assert problem.extra_focal_integrals[0] == pytest.approx(
        xf.cosine_disc_share(ef.distance_m, R), rel=1e-9)
    assert problem.heat_input_per_W() == pytest.approx(1.0 + ef.per_deposited_W(), rel=1e-10)


def test_3d_tilted_face_integral_and_assembled_source():
    """3-D reflection anode (20° cut): the face is an ellipse of semi-axes R/cos 20° and R
    centred on the impact point; the cosine law's centre c is moved forward by the oblique
    backscatter (s·H along the trace). The mesh's integral of the law over the face against
    the 1-D quadrature ∫ ρ(φ)²/(H² + ρ(φ)²) dφ/2π, ρ(φ) the distance from c to the ellipse
    in the direction φ, within 1 %; the assembled source (energy: spot + every landing's
    share) to 1e-10."""
    from scipy.integrate import quad

    case, prep, domain, problem = _setup(reflection_3d())
    ef = prep.extra_focal
    R, H = case.geometry.sizes_m["anode_radius_m"], ef.distance_m
    a = R / math.cos(math.radians(20.0))
    cx, cy = ef.offset_m
    assert cx * cx / a ** 2 + cy * cy / R ** 2 < 1.0  # the centre lies on the face

    def share(phi):
        c, s = math.cos(phi), math.sin(phi)
        A = c * c / a ** 2 + s * s / R ** 2
        B = 2.0 * (cx * c / a ** 2 + cy * s / R ** 2)
        C = cx * cx / a ** 2 + cy * cy / R ** 2 - 1.0
        rho = (-B + math.sqrt(B * B - 4.0 * A * C)) / (2.0 * A)
        return rho * rho / (H * H + rho * rho) / (2 * math.pi)

    ref = quad(share, 0, 2 * math.pi, epsrel=1e-12)[0]
    assert problem.extra_focal_integrals[0] == pytest.approx(ref, rel=1e-2)
    assert problem.heat_input_per_W() == pytest.approx(1.0 + ef.per_deposited_W(), rel=1e-10)


def test_steady_heat_out_equals_deposited_plus_extra_focal():
    """Steady state with constant properties: what leaves through the cooled end is the
    deposited plus the extra-focal power (to 1e-9, LU); with extra_focal = "off" only the
    deposited power."""
    for mode in ("face", "off"):
        data = reflection(materials={"properties": "constant"},
                          loading={"kind": "steady", "duration_s": None},
                          beam={"extra_focal": mode})
        case, prep, domain, problem = _setup(data)
        P_dep = case.beam.power_W * prep.p_dep
        problem.steady(P_dep)
        b = case.boundaries["cooled_end"]
        out = dolfinx.fem.form(b.h_W_m2K * (problem.T - b.temperature_K) * problem.weight
                               * problem.ds(domain.groups["cooled_end"]))
        Q = MPI.COMM_WORLD.allreduce(dolfinx.fem.assemble_scalar(out), op=MPI.SUM)
        expect = case.beam.power_W * (prep.p_dep + prep.extra_focal.extra_focal_fraction)
        assert Q == pytest.approx(expect, rel=1e-9)
        if mode == "off":
            assert Q == pytest.approx(P_dep, rel=1e-9)


def test_adiabatic_transient_stores_deposited_plus_extra_focal(tmp_path):
    """No face cooled: the stored heat equals the deposited plus the extra-focal energy at
    every step (1e-8); the summary's balance closes to 1e-12 and reports the FE's
    assembled input ratio 1 to 1e-10."""
    res = simulation.run(anodesim.from_dict(reflection(
        boundaries=None, materials={"properties": "constant"},
        loading={"duration_s": 0.02})), tmp_path)
    stored = res.column("stored_heat_J")
    put_in = res.column("deposited_energy_J") + res.column("extra_focal_energy_J")
    assert res.column("extra_focal_energy_J")[-1] > 0.5 * res.column("deposited_energy_J")[-1]
    assert stored == pytest.approx(put_in, rel=1e-8, abs=1e-9 * put_in[-1])
    beam = res.summary_dict()["beam"]
    assert _balance(beam) == pytest.approx(beam["beam_power_W"], rel=1e-12)
    assert beam["heat_input_integral_ratio"] == pytest.approx(1.0, rel=1e-10)


def test_fixed_rim_takes_the_transmission_backscatter():
    """Transmission with the shipped fixed-temperature rim: the extra-focal power laid on
    the rim is taken by the boundary, the window's temperatures are those of
    extra_focal = "off" (to 1e-9 K); with a convective rim it warms the window. The three
    runs share one lean mesh (the comparison is on one discretisation)."""
    lean = {"growth": 0.3, "spot_fraction": 0.2}
    peaks = {}
    for mode, rim in (("face", None), ("off", None),
                      ("face", {"type": "convection", "h_W_m2K": 1e4, "temperature_C": 30.0})):
        bounds = {"rim": rim} if rim else {}
        res = simulation.run(anodesim.from_dict(transmission(beam={"extra_focal": mode},
                                                             boundaries=bounds, mesh=lean)))
        peaks[(mode, rim is None)] = res.series["T_max_window_C"][-1]
    assert peaks[("face", True)] == pytest.approx(peaks[("off", True)], abs=1e-9)
    assert peaks[("face", False)] > peaks[("face", True)]


@pytest.mark.slow
def test_warm_up_drift_against_the_review_run():
    """The review's run R5 (shared/reference/source-and-limits.md A5): the shipped
    reflection insert (20 mm Cu rod, 10 W, 30 min) drifted 6.14 µm across the view with
    6.75 W deposited and 9.03 µm with 3.25 W more laid uniformly on the anode face (the same
    tool, Everhart–Hoff source, η_E = 0.325). The rod's growth follows the heat put into it,
    so with the electron tables (6.02 W deposited, 3.94 W extra-focal, cosine law) expect
    those drifts scaled by the heat ratio, within 2 % (found 2026-12-05: +0.03 %, −0.05 %;
    5.50 and 8.99 µm, as the README's Verification table says). R5 ran with the Cu
    expansion of the ARMI fit (dL/L = 5.0298e-9 T² + 1.3042e-5 T + const), which the SRM 736
    table replaced on 2026-12-05: its drifts are also scaled by the ratio of the Cu strains,
    ∫α dT from 30 °C to the heat sink's hottest, now over then (1.038 here: found −0.14 %,
    −0.18 %; 5.70 and 9.32 µm)."""
    import tomllib
    from pathlib import Path

    from anodesim import materials

    def strain_ratio(T_K):
        def armi(T):
            return 5.0298e-9 * T ** 2 + 1.3042e-5 * T
        return materials.get("Cu").alpha.integral(303.15, T_K) / (armi(T_K) - armi(303.15))

    path = Path(__file__).parents[1] / "studies" / "reflection_insert.toml"
    base = tomllib.loads(path.read_text())
    base["loading"]["duration_s"] = 1800.0
    base["output"] = {"fields": False}
    for mode, ref_um, ref_W in (("off", 6.14, 6.75), ("face", 9.03, 10.0)):
        data = {**base, "beam": {**base["beam"], "extra_focal": mode}}
        res = simulation.run(anodesim.from_dict(data))
        b = res.summary_dict()["beam"]
        heat = b["deposited_power_W"] + b["extra_focal_power_W"]
        drift = res.summary_dict()["mechanics"]["drift_across_view_um"]["final"]
        sink_K = res.summary_dict()["results"]["T_max_by_region_C"]["heat_sink"] + 273.15
        assert drift == pytest.approx(ref_um * heat / ref_W * strain_ratio(sink_K),
                                      rel=0.02), mode
