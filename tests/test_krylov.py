"""krylov.shared_pc_cg against PETSc's own KSPCG on the same operator and the same LU
preconditioner: the same iteration counts and the same solutions to round-off (the
summation order of the dot products), for a zero and a nonzero initial guess solved
together, a guess that is already converged, a zero right-hand side with a nonzero guess;
the same failures (max_it, an indefinite preconditioner) with PETSc's reasons, and a
failed factorisation as the caller's error, not a PETSc one."""

import contextlib

import numpy as np
import pytest

from anodesim import _mpi  # noqa: F401,I001  (MPI before PETSc)
from petsc4py import PETSc

from anodesim.krylov import (DIVERGED_INDEFINITE_PC, DIVERGED_ITS, shared_pc_cg,
                              shares_factorisation)

N = 30  # grid points per side: 900 unknowns


def laplacian(scale: np.ndarray | None = None) -> PETSc.Mat:
    """The 5-point Laplacian plus a unit mass term on an N x N grid (SPD); the diagonal
    times `scale` for a perturbed copy (an inexact preconditioner)."""
    n = N * N
    A = PETSc.Mat().createAIJ([n, n], nnz=5, comm=PETSc.COMM_SELF)
    for i in range(N):
        for j in range(N):
            row = i * N + j
            d = 5.0 if scale is None else 5.0 * scale[row]
            A.setValue(row, row, d)
            for ii, jj in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1)):
                if 0 <= ii < N and 0 <= jj < N:
                    A.setValue(row, ii * N + jj, -1.0)
    A.assemble()
    return A


def cg_lu(A, P, rtol=1e-10, max_it=200) -> PETSc.KSP:
    ksp = PETSc.KSP().create(PETSc.COMM_SELF)
    ksp.setOperators(A, P)
    ksp.setType("cg")
    ksp.getPC().setType("lu")
    ksp.getPC().setFactorSolverType("mumps")
    ksp.setTolerances(rtol=rtol, atol=0.0, max_it=max_it)
    ksp.setErrorIfNotConverged(True)
    return ksp


@pytest.fixture
def problem():
    rng = np.random.default_rng(7)
    A = laplacian()
    P = laplacian(1.0 + 0.3 * rng.random(N * N))  # several CG iterations, not one
    rhs = []
    for _ in range(2):
        b = A.createVecLeft()
        b.setArray(rng.standard_normal(N * N))
        rhs.append(b)
    return A, P, rhs, rng


def petsc_cg(A, P, b, x0=None, **tol):
    """PETSc's KSPCG from x0 (zero if None): (solution, iterations)."""
    ksp = cg_lu(A, P, **tol)
    x = b.duplicate()
    if x0 is not None:
        x0.copy(x)
        ksp.setInitialGuessNonzero(True)
    ksp.solve(b, x)
    return x.getArray().copy(), ksp.getIterationNumber()


def test_two_systems_match_petsc_cg(problem):
    A, P, (b1, b2), rng = problem
    exact2, _ = petsc_cg(A, P, b2, rtol=1e-14)
    guess = b2.duplicate()
    guess.setArray(exact2 * (1.0 + 1e-3 * rng.standard_normal(N * N)))  # a close guess
    ref1, its1 = petsc_cg(A, P, b1)
    ref2, its2 = petsc_cg(A, P, b2, x0=guess)
    assert its1 >= 4 and 1 <= its2 < its1  # a real iteration each, the guess saves some

    x1, x2 = b1.duplicate(), guess.copy()
    its = shared_pc_cg(cg_lu(A, P), [(b1, x1, False), (b2, x2, True)], RuntimeError,
                       ["first", "second"])
    assert its == [its1, its2]
    for x, ref in ((x1, ref1), (x2, ref2)):
        assert np.max(np.abs(x.getArray() - ref)) <= 1e-12 * np.max(np.abs(ref))
    # and the solutions are those of the systems, to the tolerance (rtol 1e-10 x kappa)
    r = b1.duplicate()
    A.mult(x1, r)
    r.axpy(-1.0, b1)
    assert r.norm() <= 1e-8 * b1.norm()


def test_converged_guess_takes_no_iteration(problem):
    A, P, (b1, _), _ = problem
    exact, _ = petsc_cg(A, P, b1, rtol=1e-14)
    x = b1.duplicate()
    x.setArray(exact)
    ref, its_ref = petsc_cg(A, P, b1, x0=x)
    its = shared_pc_cg(cg_lu(A, P), [(b1, x, True)], RuntimeError, ["x"])
    assert its == [its_ref] == [0]
    assert np.array_equal(x.getArray(), ref)


def petsc_reason(A, P, b, **tol) -> int:
    """PETSc's KSPCG's converged reason (negative: it failed)."""
    ksp = cg_lu(A, P, **tol)
    ksp.setErrorIfNotConverged(False)
    ksp.solve(b, b.duplicate())
    return ksp.getConvergedReason()


def test_max_it_raises_with_petsc_reason(problem):
    A, P, (b1, b2), _ = problem
    assert petsc_reason(A, P, b1, max_it=2) == DIVERGED_ITS  # PETSc's own, at that limit
    with pytest.raises(RuntimeError, match=f"the first linear solver .* reason {DIVERGED_ITS} "
                                           "after 2 iterations"):
        shared_pc_cg(cg_lu(A, P, max_it=2), [(b1, b1.duplicate(), False),
                                              (b2, b2.duplicate(), False)],
                     RuntimeError, ["first", "second"])


def test_shares_factorisation_only_for_cg_on_lu(problem):
    A, P, _, _ = problem
    assert shares_factorisation(cg_lu(A, P))
    preonly = cg_lu(A, P)
    preonly.setType("preonly")
    assert not shares_factorisation(preonly)
    gamg = cg_lu(A, P)
    gamg.getPC().setType("gamg")
    assert not shares_factorisation(gamg)
    unpreconditioned = cg_lu(A, P)
    unpreconditioned.setNormType(PETSc.KSP.NormType.UNPRECONDITIONED)
    assert not shares_factorisation(unpreconditioned)


def test_zero_rhs_with_a_guess_converges_as_petsc(problem):
    """b = 0 with a nonzero guess: PETSc measures against the first residual then (its
    reference ‖B b‖ is zero), and so does shared_pc_cg, to the same iteration."""
    A, P, (b1, _), rng = problem
    zero = b1.duplicate()
    zero.set(0.0)
    guess = b1.duplicate()
    guess.setArray(rng.standard_normal(N * N))
    ref, its_ref = petsc_cg(A, P, zero, x0=guess)
    x = guess.copy()
    its = shared_pc_cg(cg_lu(A, P), [(zero, x, True)], RuntimeError, ["x"])
    assert its == [its_ref] and its_ref > 0
    assert np.max(np.abs(x.getArray() - ref)) <= 1e-12 * np.max(np.abs(guess.getArray()))


def test_an_indefinite_preconditioner_stops_as_petsc(problem):
    """A preconditioner with negative pivots: PETSc's CG stops on beta·beta_old < 0
    (DIVERGED_INDEFINITE_PC) and so does shared_pc_cg, with that reason."""
    A, _, (b1, _), rng = problem
    scale = 1.0 + 0.3 * rng.random(N * N)
    scale[::7] *= -1.0  # some negative diagonal entries: an indefinite factorisation
    P = laplacian(scale)
    assert petsc_reason(A, P, b1) == DIVERGED_INDEFINITE_PC
    with pytest.raises(RuntimeError, match=f"reason {DIVERGED_INDEFINITE_PC} "):
        shared_pc_cg(cg_lu(A, P), [(b1, b1.duplicate(), False)], RuntimeError, ["x"])


def test_a_failed_factorisation_is_the_callers_error(problem):
    """A singular operator (a zero row): MUMPS fails to factorise it; the caller's error
    (a RunFailure in a run: one line, exit status 1) is raised, not a PETSc error."""
    A, _, (b1, _), _ = problem
    S = A.duplicate(copy=True)
    S.zeroRows([5], diag=0.0)
    with pytest.raises(RuntimeError, match="shared factorisation\\) failed \\(PETSc error"):
        shared_pc_cg(cg_lu(S, S), [(b1, b1.duplicate(), False)], RuntimeError, ["x"])


def test_options_under_the_prefix_keep_petscs_own_solver(problem):
    """A user's PETSc options for the solver (here a monitor) are applied by PETSc's KSP
    only: shares_factorisation declines when any option carries the KSP's prefix."""
    A, P, _, _ = problem
    ksp = cg_lu(A, P)
    ksp.setOptionsPrefix("krylov_test_")
    assert shares_factorisation(ksp)
    options = PETSc.Options()
    options["krylov_test_ksp_monitor"] = None
    try:
        assert not shares_factorisation(ksp)
    finally:
        options.delValue("krylov_test_ksp_monitor")
    assert shares_factorisation(ksp)


def test_solve_linear_reports_non_convergence_also_after_an_earlier_petsc_error(problem):
    """PETSc raises on a KSP that did not converge (error-if-not-converged) only the first
    time in a process: after one such error was caught, a second KSP over its iteration
    limit returns normally with a negative reason. linalg.solve_linear checks the reason
    itself, so every failure is the caller's error."""
    from anodesim.linalg import solve_linear

    A, P, (b1, _), _ = problem
    for attempt in range(3):
        ksp = cg_lu(A, P, max_it=2)
        with pytest.raises(RuntimeError, match=f"did not converge: reason {DIVERGED_ITS} "
                                               "after 2 iterations"):
            solve_linear(ksp, b1, b1.duplicate(), RuntimeError, "test")
    ksp = cg_lu(A, P, max_it=2)  # PETSc itself (this wheel) no longer raises here
    with contextlib.suppress(PETSc.Error):
        ksp.solve(b1, b1.duplicate())
    assert ksp.getConvergedReason() == DIVERGED_ITS
