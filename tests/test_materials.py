"""Material library: every table sourced, interpolation, no silent extrapolation."""

import numpy as np
import pytest

from anodesim import materials
from anodesim.materials import OutOfRangeError, Table

REQUIRED = ("W", "Mo", "Cu", "diamond", "Be")


def test_required_materials_with_all_properties_and_sources():
    lib = materials.library()
    for key in REQUIRED:
        m = lib[key]
        assert m.melting_K > m.damage_K > 300
        for prop in materials.PROPERTY_KEYS:
            t = m.tables[prop]
            assert t.source.strip(), f"{key}.{prop} has no source"
            assert np.all(np.diff(t.T_K) > 0)
            assert t.T_K[0] <= 250.0, f"{key}.{prop} starts above 250 K"


def test_tungsten_matches_reference_values():
    """Tolias 2017 / NASA SNP values of the physics reference table (±1 %)."""
    W = materials.get("W")
    assert float(W.k(300.0)) == pytest.approx(179.9, rel=0.01)
    assert float(W.k(2000.0)) == pytest.approx(100.4, rel=0.01)
    assert float(W.cp(1000.0)) == pytest.approx(148.3, rel=0.01)
    assert float(W.rho(300.0)) == pytest.approx(19248, rel=0.01)
    # ∫300^2500 k dT = 2.54e5 W/m (physics reference §3.6, Tolias fit)
    assert W.k.integral(300.0, 2500.0) == pytest.approx(2.54e5, rel=0.01)


def test_interpolation_is_linear_between_points():
    t = Table(np.array([300.0, 400.0, 600.0]), np.array([10.0, 20.0, 0.0]), "x.k")
    assert float(t(350.0)) == pytest.approx(15.0)
    assert float(t(500.0)) == pytest.approx(10.0)
    assert t.integral(300.0, 600.0) == pytest.approx(0.5 * 100 * 30 + 0.5 * 200 * 20)


def test_outside_the_table_is_an_error_not_an_extrapolation():
    W = materials.get("W")
    with pytest.raises(OutOfRangeError, match=r"W.k: temperature 4000.0 K .* outside"):
        W.k(4000.0)
    with pytest.raises(OutOfRangeError):
        W.k(np.array([300.0, 100.0]))


def test_overrides_and_frozen_properties():
    W = materials.get("W")
    w2 = W.with_overrides({"k": 150.0})
    assert float(w2.k(2000.0)) == 150.0 and w2.k.is_constant
    assert float(w2.cp(1000.0)) == float(W.cp(1000.0))
    frozen = W.frozen_at(500.0)
    assert all(t.is_constant for t in frozen.tables.values())
    assert float(frozen.rho_cp(3000.0)) == pytest.approx(float(W.rho(500.0) * W.cp(500.0)))


def test_ufl_forms_match_the_table():
    """The branch-free ramp form used in UFL reproduces the interpolant and its integral."""
    W = materials.get("W")
    t = W.k
    v0, T0, s0, kinks = t.ramps()
    for T in np.linspace(260.0, 3600.0, 97):
        ramp = v0 + s0 * (T - T0) + sum(ds * max(T - Ti, 0.0) for Ti, ds in kinks)
        assert ramp == pytest.approx(float(t(T)), rel=1e-10)


def test_antiderivative_is_the_exact_integral():
    """Thermal strain ∫α dT: the vectorised antiderivative equals the exact integral."""
    a = materials.get("W").alpha
    T = np.array([250.0, 293.15, 800.0, 2000.0, 3500.0])
    exact = [a.integral(293.15, t) for t in T]
    np.testing.assert_allclose(a.antiderivative(T, 293.15), exact, rtol=1e-12, atol=1e-18)
    # W from 20 °C to 1000 °C grows by about 0.45 % (NASA SNP dL/L0: 0.339 % at 1000 K,
    # 0.004 % at 300 K; physics reference §1.1 table): check the 300 K → 1000 K difference.
    assert a.integral(300.0, 1000.0) == pytest.approx(0.00339 - 0.00004, rel=0.03)
