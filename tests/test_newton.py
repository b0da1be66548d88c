"""The modified Newton of thermal.py (extrapolated start, lagged Jacobian kept across
iterations and step sizes) against full Newton (the Jacobian refreshed at every
iteration): the same temperatures to 1e-8 K on a small k(T), ρc(T) case when both iterate
to 1e-8 K (measured: 2e-13 K); full Newton reaches round-off; and the shift of a lagged Jacobian to a new step size is the Jacobian
assembled for that step size (to round-off, where ρc is constant)."""

import numpy as np
from cases import reflection

import anodesim
from anodesim import simulation

TIGHT = {"newton_tol_K": 1e-8}
#: A lean mesh for the tests that compare two runs of one case (modified against full
#: Newton, recycled solvers against new ones): both sides share it, so its fineness is not
#: under test.
LEAN_MESH = {"growth": 0.3, "spot_fraction": 0.2}


def _run(data, lag: bool):
    sim = simulation.Simulation(anodesim.from_dict(data))
    sim.initialise()
    sim.problem.lag_jacobian = sim.problem.predictor = lag
    res = sim.run()
    return sim.problem, res


def test_modified_newton_converges_to_full_newton():
    """k(T) and ρc(T) of W and Cu, 10 W on a 50 µm spot for 0.1 s (a growing step sequence,
    so the step size changes at almost every step): every node's final temperature and the
    peak temperature at every step agree to 1e-8 K, with far fewer Jacobian assemblies
    (most new step sizes are shifted, not assembled)."""
    data = reflection(time=TIGHT, mesh=LEAN_MESH)
    mod, res_mod = _run(data, lag=True)
    full, res_full = _run(data, lag=False)
    assert mod.nonlinear
    assert np.max(np.abs(mod.T.x.array - full.T.x.array)) < 1e-8
    assert np.max(np.abs(res_mod.column("T_peak_C") - res_full.column("T_peak_C"))) < 1e-8
    assert res_full.column("T_peak_C")[-1] > 40.0  # the beam heated the spot
    assert mod.shifted > 0 and full.shifted == 0
    assert mod.factorisations < full.factorisations


def test_full_newton_iterates_to_round_off_of_the_temperature():
    """The line search measures the residual row by row in kelvin (‖D⁻¹F‖₂, D the
    Jacobian's diagonal), so the rows of the micrometre cells under the spot count as much
    as those of the millimetre cells. On ‖F‖₂ the large cells' rounding (~1e-16 of
    ρc·V/Δt·T) hid the spot's rows: full Newton stalled at 1e-9 K on this case ("line search
    failed", ‖F‖ = 2e-8 W), and a 1 µm spot on the shipped insert failed at its second
    step. Now full Newton reaches 1e-11 K, and its peak temperatures agree with those at
    1e-9 K to 1e-9 K."""
    peaks = []
    for tol in (1e-9, 1e-11):
        full, res = _run(reflection(time={"newton_tol_K": tol}), lag=False)
        assert full.nonlinear
        peaks.append(res.column("T_peak_C"))
    assert peaks[0][-1] > 40.0  # the beam heated the spot
    assert np.max(np.abs(peaks[0] - peaks[1])) < 1e-9


def test_shifted_jacobian_is_the_jacobian_of_the_new_step_size():
    """With ρc constant (k(T) only, so the Jacobian depends on the step size only through
    a0/Δt × the heat-capacity matrix): the operator shifted to a new a0/Δt equals the one
    assembled for it at the same temperature, to round-off (relative 1e-12 in the
    Frobenius norm), and is marked lagged (not fresh)."""
    data = reflection(materials={"override": {"target": {"rho_kg_m3": 19250.0,
                                                         "cp_J_kgK": 132.0},
                                              "heat_sink": {"rho_kg_m3": 8960.0,
                                                            "cp_J_kgK": 385.0}}})
    sim = simulation.Simulation(anodesim.from_dict(data))
    sim.initialise()
    p = sim.problem
    assert p.nonlinear and p.materials["target"].rho_cp.is_constant
    p.step(1e-4, 10.0, restart=True)
    p._last_iterations = 0  # as after a fast step
    p._operator(refresh=True)  # the last operator and the mass matrix at the current T
    p.c0.value = 3.0 * float(p.c0.value)
    shifted, fresh = p._shifted_jacobian(float(p.c0.value))
    assembled = p._assemble_jacobian()
    assert not fresh
    diff = shifted.copy()
    diff.axpy(-1.0, assembled)
    assert diff.norm() < 1e-12 * assembled.norm()


def test_slow_step_assembles_the_next_jacobian():
    """After a step that needed more than LAG_MAX_ITERATIONS Newton iterations, a new step
    size gets a freshly assembled Jacobian instead of a shifted one."""
    sim = simulation.Simulation(anodesim.from_dict(reflection()))
    sim.initialise()
    p = sim.problem
    p.step(1e-4, 10.0, restart=True)
    p._last_iterations = p.LAG_MAX_ITERATIONS + 1
    p.c0.value = 2.0 * float(p.c0.value)
    _, fresh = p._shifted_jacobian(float(p.c0.value))
    assert fresh
    p._last_iterations = p.LAG_MAX_ITERATIONS
    p.c0.value = 2.0 * float(p.c0.value)
    _, fresh = p._shifted_jacobian(float(p.c0.value))
    assert not fresh


def _run_recycling(data, recycle: bool):
    sim = simulation.Simulation(anodesim.from_dict(data))
    sim.initialise()
    if not recycle:
        sim.problem._recycle = lambda A: None  # a new solver for every new step size
    res = sim.run()
    return sim.problem, res


def test_a_new_step_size_takes_over_the_solver_of_one_that_did_not_come_back():
    """Direct solver (thermal._recycle): a new step size takes over the newest solver when
    that step size has not come back, and refactorises numerically on its analysis. The
    factors are those of a new solver per step size, so the temperatures are the same bit
    for bit: on a growing step plan (every step size new; the solvers handed on) and on a
    pulse train (step sizes come back: each gets its own solver again)."""
    for data, repeats in ((reflection(mesh=LEAN_MESH), False),
                          (reflection(mesh=LEAN_MESH,
                                      loading={"kind": "pulse_train", "pulses": 3,
                                               "on_s": 0.01, "off_s": 0.01,
                                               "duration_s": None}), True)):
        mine, res = _run_recycling(data, recycle=True)
        ref, res_ref = _run_recycling(data, recycle=False)
        assert mine.solver == "direct" and mine.nonlinear
        assert np.array_equal(mine.T.x.array, ref.T.x.array)
        assert np.array_equal(res.column("T_peak_C"), res_ref.column("T_peak_C"))
        solvers = sum(ksp is not None for _, ksp in mine._cache.values())
        assert len(ref._cache) == len(mine._cache) > 10  # every step size's operator kept
        if repeats:  # the pulses' step sizes came back and kept their solvers
            assert mine._repeating and solvers >= len(mine._repeating)
        else:  # one solver handed from step size to step size
            assert not mine._repeating and solvers == 1


def test_the_heat_capacity_matrix_assembled_on_demand_gives_the_same_temperatures(
        monkeypatch):
    """The heat-capacity matrix a new step size shifts the lagged Jacobian by is that of the
    last full Jacobian's temperature, assembled only when a shift needs it: bit for bit the
    temperatures of assembling it with every Jacobian (k(T), ρc(T), a growing step
    sequence), with fewer assemblies (the case shifts fewer Jacobians than it assembles)."""
    from anodesim import thermal

    data = reflection()
    made = []
    now = thermal.ThermalProblem._mass_matrix_now

    def counted(self):
        made.append(self._mass_at is not None)
        return now(self)

    monkeypatch.setattr(thermal.ThermalProblem, "_mass_matrix_now", counted)
    lazy, res_lazy = _run(data, lag=True)
    lazy_made = sum(made)
    assemble = thermal.ThermalProblem._assemble_jacobian

    def eager(self, A=None):
        A = assemble(self, A)
        self._mass_matrix_now()
        return A

    monkeypatch.setattr(thermal.ThermalProblem, "_assemble_jacobian", eager)
    made.clear()
    full, res_full = _run(data, lag=True)
    assert lazy.shifted == full.shifted > 0
    assert np.array_equal(lazy.T.x.array, full.T.x.array)
    assert np.array_equal(res_lazy.column("T_peak_C"), res_full.column("T_peak_C"))
    assert 0 < lazy_made < sum(made), (lazy_made, sum(made))


def test_direct_solver_takes_petsc_lu_up_to_its_size_and_mumps_above():
    """numerics.solver "direct" on one rank: PETSc's own LU up to PETSC_LU_MAX_ROWS rows of a
    2-D operator (its solves are faster), MUMPS above (its numeric refactorisation is);
    both solve the same backward-Euler heat operator to round-off (1e-12 relative)."""
    from anodesim import _mpi  # noqa: F401  (MPI before dolfinx)

    import dolfinx
    import dolfinx.fem.petsc
    import ufl
    from mpi4py import MPI
    from petsc4py import PETSc

    from anodesim import linalg

    limit = linalg.PETSC_LU_MAX_ROWS[2]
    # 3 721 rows: PETSc's LU; 20 449 rows: MUMPS (a 22 687-row run 1.3x faster with it)
    for n, package in ((60, "petsc"), (142, "mumps")):
        msh = dolfinx.mesh.create_unit_square(MPI.COMM_SELF, n, n)
        V = dolfinx.fem.functionspace(msh, ("Lagrange", 1))
        u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
        A = dolfinx.fem.petsc.assemble_matrix(dolfinx.fem.form(
            (1e3 * u * v + ufl.inner(ufl.grad(u), ufl.grad(v))) * ufl.dx))
        A.assemble()
        assert (A.getSize()[0] <= limit) == (package == "petsc")
        b = A.createVecRight()
        b.setRandom()
        solutions = {}
        for choice in ("chosen", "other"):
            if choice == "chosen":
                ksp = linalg.linear_solver(MPI.COMM_SELF, A, "t_", "direct", 1e-10)
                assert ksp.getPC().getFactorSolverType() == package
            else:  # the other package, on the same operator
                ksp = PETSc.KSP().create(MPI.COMM_SELF)
                ksp.setOperators(A)
                ksp.setType("preonly")
                ksp.getPC().setType("lu")
                ksp.getPC().setFactorSolverType("mumps" if package == "petsc" else "petsc")
            x = b.duplicate()
            ksp.solve(b, x)
            solutions[choice] = x.array.copy()
            ksp.destroy()
        scale = np.abs(solutions["chosen"]).max()
        assert np.abs(solutions["chosen"] - solutions["other"]).max() <= 1e-12 * scale
