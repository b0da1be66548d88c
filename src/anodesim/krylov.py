"""Conjugate gradients for several right-hand sides that share one LU factorisation.

At every save time the thermoelastic problem solves two systems with one operator: the
displacement (K u = b(T)) and the adjoint weight of the drift proxy (K z = g). Both run
CG preconditioned by the same MUMPS factorisation (linalg.SharedPreconditioner), and a
preconditioner application is a pair of triangular solves through the whole factor: 7 ms
each on the 3-D example's elastic operator (10 638 dofs, 5.3 M factor entries), about
nine of them a save. The triangular solves are bound by reading the factor, not by
arithmetic, so MUMPS solves two right-hand sides at once (MatMatSolve) for barely more
than one (this factor, in the 3-D example's run: 8.3 against 7.3 ms; alone 6.4 against
5.9 ms); the elastic stage of the run: 2.2-2.7 → 1.7 s of CPU (README § Performance).
:func:`shared_pc_cg` runs the systems' CG iterations in step and applies the
preconditioner to all their residuals in one MatMatSolve.

Each system follows PETSc's KSPCG with its default convergence test exactly (preconditioned
residual norm; with a zero initial guess relative to the first preconditioned residual,
with a nonzero one to the preconditioned right-hand side, rtol, atol, dtol and max_it of
the KSP; the same breakdown checks), so iterates and iteration counts are PETSc's up to the
summation order of the dot products. (One difference: PETSc's CG takes one iteration even
at max_it = 0; a KSP here always has max_it 2000.)
"""

from __future__ import annotations

import numpy as np
from ._mpi import MPI
from petsc4py import PETSc

_REASON = PETSc.KSP.ConvergedReason
#: PETSc's KSPConvergedReason values reported in the errors.
DIVERGED_ITS, DIVERGED_DTOL = _REASON.DIVERGED_MAX_IT, _REASON.DIVERGED_DTOL
DIVERGED_INDEFINITE_PC, DIVERGED_INDEFINITE_MAT = (_REASON.DIVERGED_INDEFINITE_PC,
                                                   _REASON.DIVERGED_INDEFINITE_MAT)
DIVERGED_NANORINF = _REASON.DIVERGED_NANORINF


def shares_factorisation(ksp: PETSc.KSP) -> bool:
    """Whether ``ksp`` is CG on an LU factorisation with the preconditioned norm and no
    PETSc option under its prefix: the solves :func:`shared_pc_cg` may take over. A user's
    options for the solver (a monitor, another convergence test, min_it, ...) keep PETSc's
    own KSP, which applies them."""
    prefix = ksp.getOptionsPrefix() or ""
    if prefix and any(key.startswith(prefix) for key in PETSc.Options().getAll()):
        return False
    return (ksp.getType() == PETSc.KSP.Type.CG and ksp.getPC().getType() == PETSc.PC.Type.LU
            and ksp.getNormType() == PETSc.KSP.NormType.PRECONDITIONED)


class _System:
    """One right-hand side's CG state (owned entries; numpy, wrapped as PETSc vectors
    where the operator is applied)."""

    def __init__(self, A: PETSc.Mat, b: PETSc.Vec, x: PETSc.Vec, guess: bool):
        self.b, self.x, self.guess = b, x, guess
        self.xa = x.getArray(readonly=True).copy() if guess else np.zeros(b.getLocalSize())
        self.r = b.getArray(readonly=True).copy()
        self.p = np.zeros_like(self.r)
        self.w = np.zeros_like(self.r)
        sizes, comm, bs = b.getSizes(), b.getComm(), A.getBlockSize()
        self.pv = PETSc.Vec().createWithArray(self.p, size=sizes, bsize=bs, comm=comm)
        self.wv = PETSc.Vec().createWithArray(self.w, size=sizes, bsize=bs, comm=comm)
        if guess:  # r = b − A x
            self.p[:] = self.xa
            A.mult(self.pv, self.wv)
            self.r -= self.w
        self.z = None  # the preconditioned residual of the last application
        self.its, self.beta, self.dpi = 0, 0.0, 0.0
        self.done = False

    def destroy(self) -> None:
        self.pv.destroy()
        self.wv.destroy()


def shared_pc_cg(ksp: PETSc.KSP, systems: list[tuple[PETSc.Vec, PETSc.Vec, bool]],
                 error: type[Exception], whats: list[str]) -> list[int]:
    """Solve A x_i = b_i for every (b_i, x_i, nonzero_guess_i) with CG on the KSP's
    operator and LU preconditioner, one MatMatSolve per iteration for all of them.

    Args:
        ksp: a KSP for which shares_factorisation() holds (its operators set; its
            factorisation is built or reused here by ksp.setUp()).
        systems: (b, x, guess): right-hand side, solution (overwritten; the initial
            guess when guess is True) as PETSc vectors of the operator's layout.
        error: the exception raised when a system does not converge.
        whats: a name per system for the error message.

    Returns:
        The iteration count of each system (as KSPGetIterationNumber would give; the KSP's
        own iteration number and converged reason are not set by these solves).

    Raises:
        error: a system diverged or reached max_it (PETSc's reason in the message).
    """
    A = ksp.getOperators()[0]
    rtol, atol, dtol, max_it = ksp.getTolerances()
    comm = A.getComm().tompi4py()
    state: list[_System] = []
    mats: dict[int, tuple] = {}

    def apply(columns: list[np.ndarray]) -> list[np.ndarray]:
        """The preconditioner applied to every column at once (one MatMatSolve). The
        results are views of one buffer, overwritten by the next application with as
        many columns: each is used before then."""
        k = len(columns)
        if k not in mats:
            n, N = A.getSizes()[0]
            bufs = [np.zeros((n, k), order="F") for _ in range(2)]
            dense = [PETSc.Mat().createDense(((n, N), (PETSc.DECIDE, k)),
                                             array=buf.reshape(-1, order="F"),
                                             comm=A.getComm()) for buf in bufs]
            for M in dense:
                M.assemble()
            mats[k] = (bufs, dense)
        (rhs, sol), (R, Z) = mats[k]
        for j, c in enumerate(columns):
            rhs[:, j] = c
        factor.matSolve(R, Z)
        return [sol[:, j] for j in range(k)]

    def fail(s: _System, reason: int, what: str):
        return error(f"the {what} linear solver (cg/lu, shared factorisation) did not "
                     f"converge: reason {reason} after {s.its} iterations")

    def sums(pairs: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        local = np.array([np.dot(a, b) for a, b in pairs])
        return comm.allreduce(local, op=MPI.SUM) if comm.size > 1 else local

    try:
        ksp.setUp()  # the factorisation (new, or the shared one reused)
        factor = ksp.getPC().getFactorMatrix()
        state.extend(_System(A, b, x, guess) for b, x, guess in systems)
        # iteration 0: z = B r, and B b for a nonzero guess (the default test's reference)
        guessed = [s for s in state if s.guess]
        z = apply([s.r for s in state] + [s.b.getArray(readonly=True) for s in guessed])
        for s, zs in zip(state, z):
            s.z = zs
        Bb = dict(zip((id(s) for s in guessed), z[len(state):]))
        vals = sums([(s.z, s.z) for s in state] + [(Bb[id(s)], Bb[id(s)]) for s in guessed]
                    + [(s.z, s.r) for s in state])
        n = len(state)
        snorm = dict(zip((id(s) for s in guessed), np.sqrt(vals[n:n + len(guessed)])))
        for s, what, dp2, beta in zip(state, whats, vals[:n], vals[-n:]):
            dp = float(np.sqrt(dp2))
            if not np.isfinite(dp):
                raise fail(s, DIVERGED_NANORINF, what)
            # a nonzero guess: relative to ‖B b‖, or to the residual when b = 0 (PETSc's
            # special case)
            s.rnorm0 = (float(snorm[id(s)]) or dp) if s.guess else dp
            s.ttol = max(rtol * s.rnorm0, atol)
            s.done = dp <= s.ttol
            if not s.done and dtol > 0 and dp >= dtol * s.rnorm0:
                raise fail(s, DIVERGED_DTOL, what)
            s.beta = float(beta)
        i = 0
        while True:
            active = [(s, what) for s, what in zip(state, whats) if not s.done]
            if not active:
                break
            if i >= max_it:
                s, what = active[0]
                raise fail(s, DIVERGED_ITS, what)
            for s, what in active:
                s.its = i + 1
                if s.beta == 0.0:  # KSP_CONVERGED_ATOL
                    s.done = True
                elif i > 0 and s.beta * s.betaold < 0.0:
                    raise fail(s, DIVERGED_INDEFINITE_PC, what)
            active = [(s, what) for s, what in active if not s.done]
            if not active:
                break
            for s, _ in active:
                if i == 0:
                    s.p[:] = s.z
                else:
                    s.p *= s.beta / s.betaold
                    s.p += s.z
                A.mult(s.pv, s.wv)
            dpis = sums([(s.p, s.w) for s, _ in active])
            for (s, what), dpi in zip(active, dpis):
                dpi = float(dpi)
                if dpi == 0.0 or (i > 0 and np.sign(dpi) * np.sign(s.dpi) < 0):
                    raise fail(s, DIVERGED_INDEFINITE_MAT, what)
                s.dpi, s.betaold = dpi, s.beta
                a = s.beta / dpi
                s.xa += a * s.p
                s.r -= a * s.w
            z = apply([s.r for s, _ in active])
            vals = sums([(zs, zs) for zs in z] + [(zs, s.r) for (s, _), zs in zip(active, z)])
            m = len(active)
            for (s, what), zs, dp2, beta in zip(active, z, vals[:m], vals[m:]):
                s.z = zs
                dp = float(np.sqrt(dp2))
                if not np.isfinite(dp):
                    raise fail(s, DIVERGED_NANORINF, what)
                if dp <= s.ttol:
                    s.done = True
                elif dtol > 0 and dp >= dtol * s.rnorm0:
                    raise fail(s, DIVERGED_DTOL, what)
                s.beta = float(beta)
            i += 1
        for s in state:
            s.x.setArray(s.xa)
        return [s.its for s in state]
    except PETSc.Error as e:  # a factorisation or a solve failed inside PETSc
        raise error(f"the {' and '.join(whats)} linear solver (cg/lu, shared factorisation) "
                    f"failed (PETSc error {e.ierr})") from None
    finally:
        for s in state:
            s.destroy()
        for _, dense in mats.values():
            for M in dense:
                M.destroy()
