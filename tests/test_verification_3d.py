"""Verification of the 3-D model against the axisymmetric one, and its mesh convergence.

With the anode angle set to zero and a round spot along the rod axis, the 3-D reflection
anode is the axisymmetric ``reflection_insert`` of the same sizes (perfect contact), so the
3-D results must converge to the (much cheaper, finely meshed) axisymmetric ones. The 2-D
reference is converged to 0.02 % (halving its element sizes changes the peak rise by
1e-4 and the spot displacement by 1e-3).
"""

import numpy as np
import pytest
from cases import reflection, reflection_3d

import anodesim
from anodesim.simulation import run

SIZES = {"insert_radius_mm": 0.6, "insert_thickness_mm": 0.5, "anode_radius_mm": 1.5,
         "anode_length_mm": 3.0}
T0_C = 30.0
COMMON = {"mounts": {"cooled_end": {"type": "clamped"}},
          # the same steps in both models: the comparison isolates the spatial model
          "time": {"initial_step_s": 1e-4, "steps_per_doubling": 2, "max_step_s": 5e-3}}
REFERENCE_MESH = {"spot_fraction": 0.025, "growth": 0.05, "max_size_mm": 0.1}
SAVE_TIMES = [0.03, 0.1, 0.3]


def _axisymmetric(**changes):
    return reflection(geometry=SIZES, materials={"properties": "constant"},
                      beam={"fwhm_um": 100.0, "deposition": "surface"},
                      mesh=REFERENCE_MESH, **COMMON, **changes)


def _flat_3d(mesh, **changes):
    return reflection_3d(geometry={"anode_angle_deg": 0.0}, mesh=mesh, **COMMON, **changes)


def _saved(res):
    """(time, peak rise K, axial spot displacement µm) at the save times."""
    u = res.column("u_spot_z_um")
    keep = ~np.isnan(u)
    return res.column("time_s")[keep], res.column("T_peak_C")[keep] - T0_C, u[keep]


TOLERANCE = 0.02  # the acceptance figure


@pytest.mark.slow
def test_flat_face_3d_reproduces_axisymmetric():
    """Peak temperature rise and axial spot displacement (emission-weighted, clamped cooled
    end) of the 3-D model (125 k tetrahedra, smallest 4 µm = 0.04 FWHM) within 2 % of the
    axisymmetric model, in the steady state and at 0.03, 0.1 and 0.3 s of a 10 W load.
    Measured: rise −0.7 % (steady), −1.4 to −1.6 % (transient); displacement −1.2 to
    +0.8 % (transient), +1.1 % (steady). The lateral components vanish by symmetry
    (|u_x|, |u_y| < 2 % of u_z)."""
    mesh = {"spot_fraction": 0.04, "growth": 0.25, "max_size_mm": 0.15}
    transient = {"loading": {"duration_s": SAVE_TIMES[-1]},
                 "output": {"save_times_s": SAVE_TIMES}}
    steady = {"loading": {"kind": "steady", "duration_s": None}}
    for changes in (transient, steady):
        ref = run(anodesim.from_dict(_axisymmetric(**changes)))
        res = run(anodesim.from_dict(_flat_3d(mesh, **changes)))
        (t, T_ref, u_ref), (t3, T3, u3) = _saved(ref), _saved(res)
        assert np.allclose(t, t3) and len(t) == (len(SAVE_TIMES) if changes is transient
                                                 else 1)
        assert np.all(np.abs(T3 / T_ref - 1) < TOLERANCE), (T3 / T_ref - 1)
        assert np.all(np.abs(u3 / u_ref - 1) < TOLERANCE), (u3 / u_ref - 1)
        lateral = np.hypot(res.column("u_spot_x_um"), res.column("u_spot_y_um"))
        assert np.nanmax(lateral / np.abs(res.column("u_spot_z_um"))) < TOLERANCE


@pytest.mark.slow
def test_3d_peak_temperature_mesh_convergence():
    """Steady peak rise of the flat 3-D anode under uniform scaling s of all element sizes
    (h_min = 0.2 s FWHM, growth 0.6 s, h_max 0.3 s mm), against the axisymmetric reference:
    the error falls at every level and the observed order between the coarsest and the
    finest level is at least 1 (P1 nodal maxima: 2 on nested meshes; these unstructured
    graded meshes are not nested, so successive orders scatter: measured 1.3, 2.1; overall
    1.7 for 4.8 %, 3.0 %, 1.5 % at s = 1, 0.7, 0.5)."""
    steady = {"loading": {"kind": "steady", "duration_s": None}}
    ref = _saved(run(anodesim.from_dict(_axisymmetric(**steady))))[1][0]
    scales = [1.0, 0.7, 0.5]
    errors = []
    for s in scales:
        mesh = {"spot_fraction": 0.2 * s, "growth": 0.6 * s, "max_size_mm": 0.3 * s}
        rise = _saved(run(anodesim.from_dict(_flat_3d(mesh, **steady))))[1][0]
        errors.append(abs(rise / ref - 1))
    orders = np.diff(np.log(errors)) / np.diff(np.log(scales))
    overall = np.log(errors[0] / errors[-1]) / np.log(scales[0] / scales[-1])
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    assert overall >= 1.0, (errors, orders)
    assert errors[-1] < 0.02


HOUSING = {"inner_radius_mm": 1.0, "outer_radius_mm": 2.0, "length_mm": 4.0}
HOUSED = {"materials": {"properties": "constant", "housing": "SS304"},
          "loading": {"kind": "steady", "duration_s": None},
          "boundaries": {"cooled_end": None,
                         "housing_inner": {"type": "convection", "h_W_m2K": 5000.0,
                                           "temperature_C": T0_C},
                         "housing_outer": {"type": "convection", "h_W_m2K": 10.0,
                                           "temperature_C": T0_C}},
          "mounts": {"mount_face": {"type": "sliding"}}}


def _housed_figures(res):
    """(peak rise K, heat-sink rise K, spot displacement relative to the mount µm)."""
    r = res.summary_dict()["results"]["final"]
    return np.array([r["T_peak_C"] - T0_C, r["T_max_heat_sink_C"] - T0_C, r["u_spot_z_um"]])


@pytest.mark.slow
def test_housed_3d_at_zero_angle_converges_to_axisymmetric():
    """Rod on an SS304 housing shell (4 mm, cooled inside, 10 W/m²K outside), sliding mount
    face, 10 W steady: the flat 3-D anode against the axisymmetric one for the peak rise, the
    heat sink's rise and the spot's rise relative to the mounting face. The 2-D reference
    (h_max 0.025 mm) converges at first order (h_max 0.1 → 0.05 → 0.025 mm: heat sink
    189.46, 190.54, 191.06 K; drift 13.200, 13.248, 13.271 µm), so it is itself within
    0.3 % and 0.2 % of its limit. Two 3-D levels (h_min 0.25 → 0.15 FWHM, growth 0.6 →
    0.4, h_max 0.3 → 0.2 mm; 13 k → 42 k tetrahedra): every error falls (measured
    2026-12-05 −8.7, −3.9, −2.5 % → −4.5, −2.7, −1.8 %, as the README says; the inscribed facets of the coarse cylinders take
    area from the shell and the rod), and the finer level is within 6 %, 3.5 % and 2.5 %.
    (The comparison without housing above reaches 2 % on the peak at 125 k tetrahedra.)"""
    ref = _housed_figures(run(anodesim.from_dict(reflection(
        geometry={**SIZES, "housing": HOUSING}, beam={"fwhm_um": 100.0, "deposition": "surface"},
        mesh={"spot_fraction": 0.0125, "growth": 0.025, "max_size_mm": 0.025}, **HOUSED))))
    errors = []
    for mesh in ({"spot_fraction": 0.25, "growth": 0.6, "max_size_mm": 0.3},
                 {"spot_fraction": 0.15, "growth": 0.4, "max_size_mm": 0.2}):
        res = run(anodesim.from_dict(reflection_3d(
            geometry={"anode_angle_deg": 0.0, "housing": HOUSING}, mesh=mesh, **HOUSED)))
        errors.append(_housed_figures(res) / ref - 1)
    coarse, fine = np.abs(errors)
    assert np.all(fine < coarse), errors
    assert np.all(fine < [0.06, 0.035, 0.025]), errors
