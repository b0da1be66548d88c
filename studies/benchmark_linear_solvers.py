"""Linear-solver choice by size: factorisation + solve time of MUMPS LU, PETSc's own LU
(nested-dissection ordering) and CG + GAMG (rtol 1e-10), one rank, on a P1 heat operator
(mass/Δt + stiffness, the backward-Euler Jacobian) on the unit square and the unit cube.

Prints, per mesh size: dofs, the set-up (factorisation or GAMG set-up) and the time of 10
solves with that set-up, and the load average. The thresholds in linalg.linear_solver
(``DIRECT_MAX_DOFS``) come from this table.

Then, for the two LU packages, what a run pays once the first factorisation is done: a
numeric refactorisation of new values on the same sparsity (a run's new step sizes and
refreshed Jacobians; median of 10) and one solve (median of 20), and from them the number
of solves per factorisation below which MUMPS costs less than PETSc's LU (a run makes 3-7).
``PETSC_LU_MAX_ROWS`` in linalg.py comes from this table.

    .venv/bin/python studies/benchmark_linear_solvers.py
"""

import os
import sys
import time

try:
    import dolfinx_solver  # noqa: F401
except ImportError:
    pass
from mpi4py import MPI

import dolfinx
import dolfinx.fem.petsc
import ufl
from petsc4py import PETSc

CONFIGS = {"mumps": {"ksp_type": "preonly", "pc_type": "lu",
                     "pc_factor_mat_solver_type": "mumps"},
           "petsc-lu": {"ksp_type": "preonly", "pc_type": "lu",
                        "pc_factor_mat_solver_type": "petsc",
                        "pc_factor_mat_ordering_type": "nd"},
           "cg+gamg": {"ksp_type": "cg", "pc_type": "gamg", "ksp_rtol": 1e-10}}


def operator(msh):
    V = dolfinx.fem.functionspace(msh, ("Lagrange", 1))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    a = dolfinx.fem.form((1e3 * u * v + ufl.inner(ufl.grad(u), ufl.grad(v))) * ufl.dx)
    A = dolfinx.fem.petsc.assemble_matrix(a)
    A.assemble()
    b = A.createVecRight()
    b.setRandom()
    return A, b


def solver(A, name: str) -> PETSc.KSP:
    """A KSP on A configured as CONFIGS[name] (through an options prefix of its own)."""
    prefix = f"b_{name.replace('-', '_').replace('+', '_')}_"
    o = PETSc.Options()
    for k, val in CONFIGS[name].items():
        o[prefix + k] = val
    ksp = PETSc.KSP().create(MPI.COMM_SELF)
    ksp.setOptionsPrefix(prefix)
    ksp.setOperators(A)
    ksp.setFromOptions()
    return ksp


def measure(A, b, name: str) -> tuple[float, float]:
    ksp = solver(A, name)
    x = b.duplicate()
    t0 = time.perf_counter()
    ksp.setUp()
    ksp.solve(b, x)
    setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(10):
        ksp.solve(b, x)
    solves = time.perf_counter() - t0
    ksp.destroy()
    return setup, solves


def refactor(A, b, name: str) -> tuple[float, float]:
    """(numeric refactorisation s, one solve s) of an LU package, medians, after a first
    factorisation: A's values change, its sparsity does not."""
    import statistics

    B = A.duplicate(copy=True)
    ksp = solver(B, name)
    x = b.duplicate()
    ksp.setUp()
    numeric = []
    for _ in range(10):
        B.shift(1e-9)  # new values, the same sparsity
        ksp.setOperators(B)
        t0 = time.perf_counter()
        ksp.setUp()
        numeric.append(time.perf_counter() - t0)
    solves = []
    for _ in range(20):
        t0 = time.perf_counter()
        ksp.solve(b, x)
        solves.append(time.perf_counter() - t0)
    ksp.destroy()
    B.destroy()
    return statistics.median(numeric), statistics.median(solves)


def main() -> int:
    print(f"load average {os.getloadavg()[0]:.2f} (1 min), cores {os.cpu_count()}; "
          "seconds: set-up incl. first solve / 10 further solves")
    print(f"{'mesh':<10s} {'dofs':>7s} " + " ".join(f"{n:>20s}" for n in CONFIGS))
    cases = [("2-D", n) for n in (30, 70, 140, 220)] + [("3-D", n) for n in (12, 18, 26, 34)]
    for dim, n in cases:
        msh = (dolfinx.mesh.create_unit_square(MPI.COMM_SELF, n, n) if dim == "2-D" else
               dolfinx.mesh.create_unit_cube(MPI.COMM_SELF, n, n, n))
        A, b = operator(msh)
        cols = []
        for name in CONFIGS:
            s, r = measure(A, b, name)
            cols.append(f"{s:9.4f} / {r:8.4f}")
        print(f"{dim + ' ' + str(n):<10s} {A.getSize()[0]:7d} " + " ".join(f"{c:>20s}" for c in cols),
              flush=True)
    print("\nLU on the same sparsity (ms): numeric refactorisation / one solve; MUMPS cheaper "
          "below this many solves per factorisation")
    for n in (70, 100, 140, 220, 300):
        msh = dolfinx.mesh.create_unit_square(MPI.COMM_SELF, n, n)  # kept: A's communicator
        A, b = operator(msh)
        (fp, sp), (fm, sm) = (refactor(A, b, name) for name in ("petsc-lu", "mumps"))
        even = "never" if fm >= fp else ("always" if sm <= sp else f"{(fp - fm) / (sm - sp):.1f}")
        print(f"2-D {n:<6d} {A.getSize()[0]:7d}   PETSc LU {1e3 * fp:7.2f} / {1e3 * sp:6.3f}   "
              f"MUMPS {1e3 * fm:7.2f} / {1e3 * sm:6.3f}   break-even {even}", flush=True)
    print(f"load average after {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):  # the usage, not a run
        print(__doc__)
        sys.exit(0)
    sys.exit(main())
