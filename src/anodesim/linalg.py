"""The linear algebra the heat (thermal.py) and thermoelastic (mechanics.py) stages share:
the KSP for an operator (sparse LU or conjugate gradients, by solver_choice's measured
thresholds), a preconditioner shared by a family of operators (step sizes, lagged
Jacobians, E(T)), a form's coefficients packed by one gather, and a solve whose failure
to converge is raised, never ignored."""

from __future__ import annotations

from . import _mpi  # noqa: F401,I001  (MPI before dolfinx)
import dolfinx
import dolfinx.fem
import numpy as np
from petsc4py import PETSc

from .solver_choice import lu_preconditioned

#: Largest operator (rows, one MPI rank) that the "direct" solver factorises with PETSc's own
#: sparse LU (nested-dissection ordering) rather than MUMPS, by topological dimension.
#: Measured (studies/benchmark_linear_solvers.py, 2-core machine): set-up incl. the first
#: solve, PETSc LU / MUMPS: 2-D 961 dofs 1.3 / 3.4 ms; 3-D 2 197 dofs 31 / 11 ms, 6 859 dofs
#: 0.33 / 0.10 s (PETSc LU fills in badly in 3-D). A run refactorises numerically on the
#: sparsity it has (new step sizes, refreshed Jacobians) and makes 3-7 solves a
#: factorisation: numeric refactorisation / solve on the unit square, PETSc LU against
#: MUMPS, 5 041 rows 5.9 / 0.23 against 5.5 / 0.56 ms, 10 201 rows 19 / 0.56 against
#: 20 / 1.7 ms, 19 881 rows 56 / 1.3 against 24 / 2.9 ms, 48 841 rows 207 / 4.7 against
#: 108 / 20 ms; on anode Jacobians 22 687 rows 68 / 1.8 against 28 / 5.3 ms. So PETSc's LU
#: up to about 15 000 rows (its solves are 2-3x faster) and MUMPS above (its numeric
#: factorisation 2x faster): the reflection insert at growth 0.02 (22 687 dofs, 209 steps)
#: takes 23.8-31.7 s of CPU with MUMPS against 31.6-41.0 s with PETSc's LU (3 runs each,
#: interleaved; the same temperatures to the printed digits). MUMPS keeps every run on more
#: than one rank.
PETSC_LU_MAX_ROWS = {2: 15_000, 3: 1_000}

def linear_solver(comm, A, prefix: str, kind: str, rtol: float,
                  near_nullspace=None, dim: int = 2) -> PETSc.KSP:
    """A KSP for the symmetric positive definite operator A.

    Args:
        comm: MPI communicator.
        A: the assembled matrix (its near-nullspace, if any, already attached).
        prefix: PETSc options prefix (options from the command line still apply).
        kind: "direct": sparse LU, factorised once per operator (PETSc's own LU on one rank
            for small operators, PETSC_LU_MAX_ROWS; MUMPS otherwise); "iterative":
            conjugate gradients preconditioned by smoothed-aggregation algebraic multigrid
            (GAMG; PETSc here has no hypre), converged when the preconditioned residual has
            dropped by rtol, which bounds the relative error by about rtol × κ(P⁻¹A)
            (κ = O(1) to O(100) for GAMG on these operators); up to LU_PC_MAX_NODES nodes
            the preconditioner is a MUMPS LU factorisation instead (of a nearby operator
            when reused, see SharedPreconditioner).
        rtol: relative tolerance of the iterative solver.
        near_nullspace: a PETSc.NullSpace for GAMG (rigid-body modes of elasticity).
        dim: topological dimension of the mesh (chooses the LU package).
    """
    ksp = PETSc.KSP().create(comm)
    ksp.setOptionsPrefix(prefix)
    if near_nullspace is not None:
        A.setNearNullSpace(near_nullspace)
    ksp.setOperators(A)
    pc = ksp.getPC()
    if kind == "direct":
        ksp.setType("preonly")
        pc.setType("lu")
        if comm.size == 1 and A.getSize()[0] <= PETSC_LU_MAX_ROWS[dim]:
            pc.setFactorSolverType("petsc")
            pc.setFactorOrdering("nd")
        else:
            pc.setFactorSolverType("mumps")
    else:
        ksp.setType("cg")
        if lu_preconditioned(dim, A.getSize()[0] // A.getBlockSize()):
            pc.setType("lu")
            pc.setFactorSolverType("mumps")
        else:
            pc.setType("gamg")
        ksp.setTolerances(rtol=rtol, atol=0.0, max_it=2000)
    ksp.setErrorIfNotConverged(True)
    ksp.setFromOptions()
    return ksp


class SharedPreconditioner:
    """One CG solver for a family of operators (step sizes, lagged Jacobians, E(T)): the
    preconditioner (an LU factorisation or a GAMG hierarchy, see linear_solver) is built for
    one operator and reused for the others while it stays a good preconditioner. Valid
    because CG always iterates with the true operator to the same tolerance: reuse changes
    the iteration count, not the accuracy.

    The hierarchy is rebuilt when the leading coefficient (a0/Δt, 1/s) moves by more than
    ``ratio`` from the one it was built for, or when a solve needs more than twice the
    iterations (+5) of the first solve after the last build; with ``exact``, for every
    operator other than the one it was built for (a new, shifted or reassembled matrix):
    an exact factorisation makes every solve one CG iteration, which pays where an operator
    serves several solves, as a lagged Newton Jacobian does (k(T) in 3-D: 492 solves on
    107 operators; about 4 iterations a solve with the shared factorisation, and a
    factorisation costs about 10 triangular solves). An exact factorisation is of a private
    copy of the operator, one matrix object for all operators of the same sparsity, so
    that each new factorisation is numeric only: the ordering and symbolic analysis of the
    first one serve the rest (MUMPS on the 3-D example: 18 instead of 30 ms a Jacobian).
    """

    def __init__(self, ksp: PETSc.KSP, ratio: float = 4.0, exact: bool = False):
        self.ksp, self.ratio, self.exact = ksp, ratio, exact
        if exact:
            # CG with an exact factorisation converges in one iteration. Tested on the
            # preconditioned residual, that iteration applies the factorisation twice (the
            # second only to measure the residual); on the true residual (which CG updates
            # anyway) once: half the triangular solves, the same iterate (same α, p).
            ksp.setNormType(PETSc.KSP.NormType.UNPRECONDITIONED)
        self._factored = None  # exact: the copy of the operator that is factorised
        self.reset()

    def reset(self) -> None:
        self.key = self.baseline = self.built_for = None
        self.stale = True

    def _factor_source(self, A, rebuild: bool):
        """Exact: the matrix to factorise for A (A's values copied into the private
        copy when rebuilding; a new copy when A's size or number of nonzeros differs from
        it: the heat operators all share the Jacobian template's sparsity). The counts are
        summed over the ranks, so that every rank takes the same (collective) branch."""
        P = self._factored
        total = PETSc.Mat.InfoType.GLOBAL_SUM
        if P is None or P.getSizes() != A.getSizes() or (
                P.getInfo(total)["nz_allocated"] != A.getInfo(total)["nz_allocated"]):
            self._factored = A.duplicate(copy=True)
        elif rebuild:
            A.copy(P, structure=PETSc.Mat.Structure.SAME_NONZERO_PATTERN)
        return self._factored

    def use(self, A, key: float = 0.0, changed: bool = False) -> bool:
        """Set A as the operator (changed: its values are new, e.g. reassembled in place);
        True when the preconditioner will be rebuilt for it."""
        if self.key is not None and not self.stale:
            lo, hi = sorted((abs(key), abs(self.key)))
            self.stale = hi > 0 and (lo == 0 or hi / lo > self.ratio)
        if self.exact and (changed or A is not self.built_for):
            self.stale = True
        rebuild = self.stale
        self.ksp.setOperators(A, self._factor_source(A, rebuild) if self.exact else A)
        self.ksp.getPC().setReusePreconditioner(not rebuild)
        if rebuild:
            self.key, self.baseline, self.stale, self.built_for = key, None, False, A
        return rebuild

    def solved(self, its: int | None = None) -> None:
        """After a solve: note its iterations (default: the KSP's last solve's), and mark
        the hierarchy stale if they grew."""
        its = self.ksp.getIterationNumber() if its is None else its
        if self.baseline is None:
            self.baseline = its
        elif its > 2 * self.baseline + 5:
            self.stale = True


#: Largest index + buffer (bytes) of one form's CoefficientGather on a rank
#: (CoefficientGather.packed_bytes): the 3-D example's forms (16 k tetrahedra) take 2-11 MiB
#: and are gathered; on a 159 k-cell mesh the heat residual's, Jacobian's and drift
#: weight's (68, 107 and 87 MiB) keep dolfinx's packing.
GATHER_MAX_BYTES = 64 * 2 ** 20


class CoefficientGather:
    """A form's packed coefficients by one numpy gather from its coefficient Functions.

    dolfinx packs a form's coefficients cell by cell for every assembly (about half the
    cost of the heat residual on the 3-D example). For P1 (and other elements without sign
    changes) packing is a pure gather of dof values, whose indices are found once by
    packing the dof numbers themselves; afterwards each packing is one fancy-indexing
    copy, the same numbers bit for bit (checked once against dolfinx's packing; a form
    where it differs keeps dolfinx's).

    The index and the buffer it fills are kept for the life of the form: 16 bytes per
    packed value (an 8-byte index, a float64), 19-107 MiB per form on a 159 k-cell
    tetrahedral mesh, 2.7 GB in all for the four forms of the 1.5 M-cell anode of
    studies/scale_3d.toml (whose peak memory on one rank it doubled). A form whose gather
    would take more than GATHER_MAX_BYTES (packed_bytes) keeps dolfinx's packing, which
    allocates them only while it assembles; that costs time (a run on 159 k cells 2.5 %,
    on 1.5 M cells 18 %: dolfinx packs 3-10x slower), but memory a user sized by
    ``anodesim check`` must hold.

    Args:
        form: the compiled form (dolfinx.fem.Form).
    """

    def __init__(self, form):
        self.form = form
        self.funcs = list(form._cpp_object.coefficients)
        self.index = None
        if not self.funcs or self.packed_bytes(form, self.funcs) > GATHER_MAX_BYTES:
            return
        saved = [f.x.array.copy() for f in self.funcs]
        # dof j of Function i is numbered starts[i] + j; 0 stands for the zeros dolfinx
        # leaves where an integral does not use a coefficient
        starts = np.concatenate([[1], 1 + np.cumsum([len(a) for a in saved])])
        for f, start, a in zip(self.funcs, starts, saved):
            f.x.array[:] = start + np.arange(len(a))
        packed = dolfinx.fem.pack_coefficients(form)
        for f, a in zip(self.funcs, saved):
            f.x.array[:] = a
        index = {k: np.rint(v.real).astype(np.intp) for k, v in packed.items()}
        if not all(np.array_equal(v, index[k]) and (v.size == 0 or (v.min() >= 0 and v.max()
                   < starts[-1])) for k, v in packed.items()):
            return
        self.index = index
        self._zero = np.zeros(1, dtype=saved[0].dtype)
        self._out = {k: np.empty(i.shape, dtype=saved[0].dtype) for k, i in index.items()}
        truth = dolfinx.fem.pack_coefficients(form)
        if not all(np.array_equal(got, truth[k]) for k, got in self().items()):
            self.index = None

    @staticmethod
    def packed_bytes(form, funcs) -> int:
        """Bytes of the index and buffer of a form's gather: 16 per packed value, i.e. per
        integration entity of this rank (an interior facet packs its two cells) and
        coefficient dof of a cell, as dolfinx packs them."""
        cpp = form._cpp_object
        per_cell = sum(f.function_space.dofmap.dof_layout.num_dofs * f.function_space.dofmap.bs
                       for f in funcs)
        rows = sum(cpp.domains(t, i).shape[0] * (2 if t.name == "interior_facet" else 1)
                   for t in cpp.integral_types for i in range(cpp.num_integrals(t, 0)))
        return 16 * rows * per_cell

    def __call__(self):
        """The packed coefficients at the Functions' current values (the assemblers'
        ``coeffs``), or None: let dolfinx pack them."""
        if self.index is None:
            return None
        values = np.concatenate([self._zero] + [f.x.array for f in self.funcs])
        # into buffers kept from call to call (a new 4 MB array each time costs as much in
        # page faults as the copy itself); the assembler reads them at once
        return {k: np.take(values, i, out=self._out[k], mode="clip")
                for k, i in self.index.items()}


def solve_linear(ksp, b, x, error, what: str) -> None:
    """ksp.solve, with a failure to converge (an iterative solver over its iteration limit,
    a breakdown, a failed factorisation) raised as `error` with PETSc's reason, not as a
    bare PETSc error.

    The reason is checked after the solve as well: PETSc raises on a KSP that did not
    converge (KSPSetErrorIfNotConverged) only the first time in a process; once one such
    error has been caught, later ones return normally with a negative reason (seen with
    this wheel's PETSc: tests/test_krylov.py). An API user's second run, or a rating's
    later FE runs, would otherwise go on with an unconverged solution."""
    raised = ""
    try:
        ksp.solve(b, x)
    except PETSc.Error as e:
        raised = f" (PETSc error {e.ierr})"
    if raised or ksp.getConvergedReason() < 0:
        raise error(f"the {what} linear solver ({ksp.getType()}/{ksp.getPC().getType()}) did "
                    f"not converge: reason {ksp.getConvergedReason()} after "
                    f"{ksp.getIterationNumber()} iterations{raised}")
