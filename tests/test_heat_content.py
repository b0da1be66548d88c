"""The stored-heat tally in numpy (heat_content.py) against the UFL form it replaces: the
same integral by the same quadrature, so equal to round-off (relative 1e-12) at
temperatures across the tables' kinks and beyond their ends, in (r, z) and in 3-D; and
the antiderivative itself against numerical integration of the table."""

import dolfinx
import numpy as np
import pytest
from cases import reflection, reflection_3d
from mpi4py import MPI

import anodesim
from anodesim import materials, resolve, simulation
from anodesim.heat_content import _Antiderivative


@pytest.mark.parametrize("table", ["W", "Cu"])
def test_antiderivative_integrates_the_table(table):
    """H(T) = ∫ρc dT′ of the piecewise-linear table: the trapezoid rule on a grid that
    contains the knots is exact for it (relative 1e-12), and the end slopes continue
    beyond the table as in materials.ufl_antiderivative (H'(T) = the extrapolated ρc)."""
    t = materials.get(table).rho_cp
    H = _Antiderivative(t, 300.0)
    grid = np.union1d(t.T_K, np.linspace(300.0, t.T_K[-1], 7))
    grid = grid[grid >= 300.0]
    exact = np.concatenate([[0.0], np.cumsum(np.diff(grid) * 0.5 * (
        np.interp(grid[1:], t.T_K, t.values) + np.interp(grid[:-1], t.T_K, t.values)))])
    assert np.allclose(H(grid), exact, rtol=1e-12, atol=1e-12 * exact[-1])
    v0, T0, s0, _ = t.ramps()
    lo = t.T_K[0] - 50.0
    slope = (H(np.array([lo + 1e-3])) - H(np.array([lo - 1e-3])))[0] / 2e-3
    assert slope == pytest.approx(v0 + s0 * (lo - T0), rel=1e-6)


@pytest.mark.parametrize("data", [
    reflection(), reflection_3d(materials={"properties": "temperature_dependent"})],
    ids=["rz", "3d"])
def test_numpy_tally_equals_the_form(data):
    """With k(T), ρc(T) in W and Cu and a temperature field spanning 200-3000 K (below and
    above the tables, across every kink): numpy and the UFL form agree to 1e-12."""
    case = anodesim.from_dict(data)
    prep = resolve.prepare(case)
    _, problem, _, _ = simulation.build_problem(case, prep, MPI.COMM_WORLD)
    heat = problem.heat
    assert heat.parts is not None and problem.nonlinear
    gdim = problem.domain.mesh.geometry.dim
    x = problem.V.tabulate_dof_coordinates()[:, :gdim]
    s = (x - x.min(axis=0)) / np.ptp(x, axis=0)
    problem.T.x.array[:] = 200.0 + 2800.0 * (0.6 * s[:, 0] + 0.4 * s[:, -1])
    form = MPI.COMM_WORLD.allreduce(dolfinx.fem.assemble_scalar(heat.form), op=MPI.SUM)
    assert problem.stored_heat() == pytest.approx(form, rel=1e-12)
    assert abs(form) > 0


@pytest.mark.parametrize("key", sorted(materials.library()))
def test_nodal_lookup_is_np_interp(key):
    """The nodal coefficients' table lookup (thermal._NodalLookup, at every Newton
    iteration) gives np.interp's value to the bit, with the table's end values outside it,
    and the slope of the interval it lies on (the last interval's at and above the top
    node): at random temperatures from 100 K below to 100 K above the table, at every
    node and at every interval's midpoint."""
    from anodesim.thermal import _NodalLookup

    for t in (materials.get(key).k, materials.get(key).rho_cp):
        if t.is_constant:
            continue
        T_K, v = np.asarray(t.T_K), np.asarray(t.values)
        T = np.concatenate([np.random.default_rng(7).uniform(T_K[0] - 100, T_K[-1] + 100, 5000),
                            T_K, 0.5 * (T_K[1:] + T_K[:-1])])
        values, slopes = np.full(2 * len(T), np.nan), np.full(2 * len(T), np.nan)
        at = np.arange(len(T)) * 2  # scattered into every other entry, as into a region's
        _NodalLookup(t).evaluate(T.copy(), values, slopes, at)
        assert np.array_equal(values[at], np.interp(T, T_K, v))
        assert np.isnan(values[1::2]).all() and np.isnan(slopes[1::2]).all()
        interval = np.clip(np.searchsorted(T_K, T, side="right") - 1, 0, len(T_K) - 2)
        assert np.array_equal(slopes[at], (np.diff(v) / np.diff(T_K))[interval])


def test_runs_without_the_tally_are_the_same_runs():
    """Simulation(stored_heat=False) (a rating's chart anchors) leaves out the three energy
    columns and nothing else: every other column of a k(T) run's series is equal to the
    bit."""
    case = anodesim.from_dict(reflection())
    full = simulation.Simulation(case).run().series
    bare = simulation.Simulation(case, stored_heat=False).run().series
    energy = ("stored_heat_J", "deposited_energy_J", "extra_focal_energy_J")
    assert [n for n in full.names if n not in energy] == list(bare.names)
    assert all(n in full.names for n in energy)
    for n in bare.names:
        assert np.array_equal(full[n], bare[n]), n
