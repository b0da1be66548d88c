"""The drift map on hand-made displacements: normal and oblique incidence, a view axis at
90° to the beam, sign conventions, and the geometry checks (exact arithmetic, 1e-12)."""

import math

import numpy as np
import pytest

from anodesim.drift import DriftInputError, DriftMap

DOWN, UP = (0, 0, -1), (0, 0, 1)


def test_normal_incidence_surface_rising_moves_spot_up_the_beam():
    """Beam down onto a face with normal up; the face rises by 2 µm: the spot moves 2 µm up
    (against the beam: spot_shift negative), whatever the lateral motion of the surface."""
    m = DriftMap.create(DOWN, UP, (1, 0, 0.2), 0.1, 1.0, 100e-6)
    d = m.apply((5e-6, 3e-6, 2e-6))  # tangential part must not matter
    assert d["spot_shift_um"] == pytest.approx(-2.0)
    np.testing.assert_allclose(m.spot_shift((5e-6, 3e-6, 2e-6)), (0, 0, 2e-6), atol=1e-18)


def test_view_at_90_degrees_sees_the_whole_shift():
    """Viewed nearly sideways (take-off 1° above the surface), all of δ lies across the view."""
    t = math.radians(1.0)
    m = DriftMap.create(DOWN, UP, (math.cos(t), 0, math.sin(t)), 0.05, 0.5, 50e-6)
    d = m.apply((0, 0, 1e-6))
    assert d["drift_across_view_um"] == pytest.approx(math.cos(t), rel=1e-12)
    # image drift: (M − 1) δ⊥ / pixel = 9 × 1 µm cos t / 50 µm
    assert d["image_drift_px"] == pytest.approx(9 * math.cos(t) / 50, rel=1e-12)
    assert d["drift_along_view_um"] == pytest.approx(math.sin(t), rel=1e-12)


def test_view_along_the_beam_changes_magnification_only():
    """Transmission target viewed along the beam: δ is along v; no lateral drift, and the
    spot approaching the detector by δ changes M by δ (1/SOD − 1/SDD)."""
    m = DriftMap.create(DOWN, UP, DOWN, 0.01, 1.0, 100e-6)
    d = m.apply((0, 0, -3e-6))  # the surface (and the spot) move 3 µm towards the detector
    assert d["drift_across_view_um"] == pytest.approx(0.0, abs=1e-12)
    assert d["drift_along_view_um"] == pytest.approx(3.0)
    assert d["magnification_change_rel"] == pytest.approx(3e-6 * (100 - 1), rel=1e-12)
    # first-order check against the exact change of M = SDD/SOD
    M0, M1 = 1.0 / 0.01, (1.0 - 3e-6) / (0.01 - 3e-6)
    assert d["magnification_change_rel"] == pytest.approx(M1 / M0 - 1, rel=1e-3)


def test_oblique_incidence_slides_along_the_beam():
    """Beam at 45° onto a face with normal up: a rise h moves the spot by h/cos 45° along the
    beam, i.e. h up and h sideways (towards where the beam comes from)."""
    b = (math.sqrt(0.5), 0, -math.sqrt(0.5))
    m = DriftMap.create(b, UP, (0, 1, 0.5), 0.1, 1.0, 100e-6)
    shift = m.spot_shift((0, 0, 1e-6))
    np.testing.assert_allclose(shift, (-1e-6, 0, 1e-6), atol=1e-18)
    assert m.apply((0, 0, 1e-6))["spot_shift_um"] == pytest.approx(-math.sqrt(2))


@pytest.mark.parametrize("beam,normal,view,sod,sdd,pix,match", [
    (UP, UP, (1, 0, 1), 0.1, 1.0, 1e-4, "misses the target"),
    ((1, 0, 0), UP, (1, 0, 1), 0.1, 1.0, 1e-4, "misses the target"),
    (DOWN, UP, (1, 0, 0), 0.1, 1.0, 1e-4, "lies in the target surface"),
    (DOWN, UP, (1, 0, 1), 0.0, 1.0, 1e-4, "distances"),
    (DOWN, UP, (1, 0, 1), 1.0, 0.5, 1e-4, "distances"),
    (DOWN, UP, (1, 0, 1), 0.1, 1.0, -1e-4, "distances"),
    (DOWN, UP, (0, 0, 0), 0.1, 1.0, 1e-4, "not a direction"),
])
def test_bad_drift_geometry(beam, normal, view, sod, sdd, pix, match):
    with pytest.raises(DriftInputError, match=match):
        DriftMap.create(beam, normal, view, sod, sdd, pix)


def test_a_zero_drift_component_is_never_minus_zero():
    """A component the geometry makes exactly zero (the u axis here, the x and y of a shift
    along the beam) came out as −0.0 and was written "-0" in the drift table, the time
    series and summary.json, which reads as a motion against the axis. Every figure and
    table entry that is zero is now +0; the others are unchanged."""
    from anodesim.drift import correction_table

    m = DriftMap.create(DOWN, UP, (1, 0, 0.2), 0.1, 1.0, 100e-6)
    for d in (m.apply((0, 0, 2e-6)), m.apply((0, 0, 0))):
        zeros = [k for k, v in d.items() if v == 0.0]
        assert zeros and all(math.copysign(1.0, d[k]) > 0 for k in zeros), d
    assert m.apply((0, 0, 2e-6))["drift_v_um"] == pytest.approx(-2 / math.sqrt(1.04))
    rows = correction_table(m, (0, 0, 0.02), [0.0, 1.0],
                            [s * 1e-6 * m.beam for s in (0.0, -2.0)])  # δ = s b
    zeros = [x for row in rows for x in row if x == 0.0]
    assert len(zeros) >= 10 and all(math.copysign(1.0, x) > 0 for x in zeros), rows
    assert rows[1][6] == pytest.approx(2.0) and rows[1][3] == pytest.approx(20.002)
