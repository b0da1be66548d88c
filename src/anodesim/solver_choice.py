"""Which linear solver a run uses, by numerics.solver and the size of the mesh: the measured
thresholds, in a module that imports no dolfinx (so `anodesim check`'s cost estimate,
cost.py, picks the same path as the run; linalg.py, thermal.py and mechanics.py use them)."""

from __future__ import annotations

#: numerics.solver = "auto": factorise (LU) up to this many temperature dofs, conjugate
#: gradients + GAMG above, by topological dimension. In 2-D a factorisation stays cheap far
#: beyond the meshes anodesim builds. In 3-D the shipped example (6 199 dofs, k(T), 157 steps,
#: 95 distinct Jacobians) took 33.7 s of CPU with MUMPS against 30.4 s with CG and a shared
#: GAMG hierarchy (README § Performance), and the single-operator figures of
#: studies/benchmark_linear_solvers.py break even near 2 000 dofs: iterative throughout.
#: With the LU-preconditioned CG of LU_PC_MAX_NODES (issue 15d; 3 546 dofs, 209 steps,
#: whole run, load 1.5-1.7): "direct" 12.0 and 12.4 s CPU (107 factorisations) against
#: 11.0 and 10.7 s for "iterative" (36): iterative stays the choice in 3-D.
DIRECT_MAX_DOFS = {2: 500_000, 3: 0}

#: "iterative" solver: conjugate gradients preconditioned by a MUMPS LU factorisation (of
#: the operator the shared preconditioner was last built for, see SharedPreconditioner) up
#: to this many mesh nodes (rows / block size: the heat and the elastic operator of one
#: mesh choose alike), by GAMG above. A factorisation reused across step sizes, Newton
#: iterations and E(T) is an almost exact preconditioner (about 4 CG iterations a solve
#: against 16 with GAMG); a nonlinear heat problem factorises each lagged Jacobian for its
#: own solves instead (1 iteration; linalg.SharedPreconditioner exact: no slower at
#: 11 769 nodes, README § Performance). Measured on studies/reflection_3d.toml refined (one rank, whole
#: run, CPU time; README § Performance): LU 39.1 s against GAMG 43.6 s at 9 471 nodes,
#: 66.3 s against 61.2 s at 15 787 nodes: the crossover near 12 000 nodes.
LU_PC_MAX_NODES = {2: 0, 3: 12_000}


def resolve_solver(kind: str, dim: int, dofs: int) -> str:
    """"direct" or "iterative" for numerics.solver = kind on a mesh of dimension dim with
    this many temperature dofs ("auto": by the measured thresholds of DIRECT_MAX_DOFS)."""
    if kind != "auto":
        return kind
    return "direct" if dofs <= DIRECT_MAX_DOFS[dim] else "iterative"


def lu_preconditioned(dim: int, nodes: int) -> bool:
    """Whether the "iterative" solver preconditions CG by an LU factorisation (True) or by
    GAMG (False) on a mesh of dimension dim with this many nodes (all ranks)."""
    return nodes <= LU_PC_MAX_NODES[dim]
