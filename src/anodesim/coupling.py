"""Coupling of the two sides of a split interface (coincident, unconnected nodes).

An interface with a finite conductance (heat) or a tie stiffness (mechanics) couples its two
sides by ∫ c (u_a − P u_b)·(v_a − P v_b) w dA over side a, P the node-to-node map from side
b to side a (found by coordinates). With M side a's facet mass matrix, the coupling is

    c [M, −M P; −Pᵀ M, Pᵀ M P]:

the block ∫ c u_a·v_a is an ordinary boundary integral in each problem's form (side a's
only); this module builds the other three once, as a PETSc matrix, all from M and P. Every
block coming from the one matrix M makes the coupling exactly zero for u_a = P u_b (a field
continuous across the interface, a rigid motion), whatever the two sides' coordinates: the
nodes of the second side are placed by gmsh to about 1e-14 of the first, not to the bit,
and a reused .msh file gives them other last digits than the mesh in memory. Side b's block
integrated on its own facets instead (until 2026-12-04) left c (M_b − Pᵀ M P) ≠ 0, a
spring to ground of ~1e-11 c: times the mechanical tie's stiffness (1e4 E/h_min) it moved
the largest von Mises stress at the W/Cu joint by 0.3–0.7 % between a run (mesh in memory)
and a sweep (mesh read back), and in the heat problem it leaked heat in proportion to the
absolute temperature.
Works for scalar and blocked (vector) P1 spaces and under MPI (global indices).
"""

from __future__ import annotations

from . import _mpi  # noqa: F401,I001  (MPI before dolfinx)
import dolfinx
import dolfinx.fem.petsc
import numpy as np
import ufl
from petsc4py import PETSc


def _global_scalar(imap, bs: int, local_unrolled: np.ndarray) -> np.ndarray:
    """Global PETSc (scalar) indices of local unrolled dof indices of a blocked space."""
    blocks = imap.local_to_global((local_unrolled // bs).astype(np.int32))
    return bs * blocks + local_unrolled % bs


def coincident(xa: np.ndarray, xb: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """(distance, index) of the node of xb nearest each node of xa, for two sides of an
    interface whose nodes coincide (to tol, m). Fast path: both sides sorted on coordinates
    rounded to tol, accepted when every pair lies within tol; else (a node near a rounding
    edge, sides that do not match) scipy's KD-tree, imported only then (0.6 s)."""
    if len(xa) == len(xb) and len(xa):
        qa, qb = (np.round(x / tol).astype(np.int64) for x in (xa, xb))
        ia, ib = np.lexsort(qa.T[::-1]), np.lexsort(qb.T[::-1])
        idx = np.empty(len(xa), dtype=np.intp)
        idx[ia] = ib
        dist = np.linalg.norm(xb[idx] - xa, axis=1)
        if dist.max() <= tol:
            return dist, idx
    from scipy.spatial import cKDTree

    return cKDTree(xb).query(xa)


def cross_terms(V, domain, pairs, weight, ds, bcs, sizes) -> PETSc.Mat:
    """The interface blocks other than side a's own (−M P, −Pᵀ M and Pᵀ M P, module
    docstring) as a PETSc matrix of the problem's layout; the problem's form holds
    ∫ c u·v w ds on side a only.

    Args:
        V: the (scalar or vector) P1 space.
        domain: AnodeMesh with the facet groups of both sides.
        pairs: (name, side_a group, side_b group, coefficient) per interface.
        weight: the measure weight (2πr or 1).
        ds: boundary measure with the facet tags.
        bcs: Dirichlet conditions; their rows are left to the condition.
        sizes: PETSc sizes of the problem's matrix.

    Raises:
        RuntimeError: the two sides of an interface do not have coincident nodes.
    """
    comm = domain.mesh.comm
    fdim = domain.mesh.topology.dim - 1
    X = V.tabulate_dof_coordinates()
    imap, bs = V.dofmap.index_map, V.dofmap.index_map_bs
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    C = PETSc.Mat().createAIJ(sizes, comm=comm)
    C.setPreallocationNNZ(16 * bs)  # a side-b row: its facet neighbours on both sides
    C.setOption(PETSc.Mat.Option.NEW_NONZERO_ALLOCATION_ERR, False)
    for name, side_a, side_b, coefficient in pairs:
        found = {}
        for s in (side_a, side_b):
            blocks = dolfinx.fem.locate_dofs_topological(V, fdim, domain.facets(s))
            g = imap.local_to_global(blocks.astype(np.int32))
            allx = np.concatenate(comm.allgather(X[blocks]))
            allg = np.concatenate(comm.allgather(g))
            # a node shared by ranks arrives once per rank (owned and ghost copies)
            allg, first = np.unique(allg, return_index=True)
            found[s] = (allx[first], allg)
        (xa, ga), (xb, gb) = found[side_a], found[side_b]
        scale = max(np.ptp(xb, axis=0).max(), 1e-300)
        dist, idx = coincident(xa, xb, 1e-8 * scale)
        if len(xa) != len(xb) or (len(dist) and dist.max() > 1e-8 * scale):
            raise RuntimeError(f"interface {name}: the two sides do not have coincident nodes "
                               "(the mesh must split it with matching nodes)")
        a_to_b = dict(zip(ga.tolist(), gb[idx].tolist()))  # block index maps
        M = dolfinx.fem.petsc.assemble_matrix(dolfinx.fem.form(
            coefficient * ufl.inner(u, v) * weight * ds(domain.groups[side_a])))
        M.assemble()
        rstart, rend = M.getOwnershipRange()
        indptr, cols, vals = M.getValuesCSR()
        for i in range(rend - rstart):
            gi = rstart + i
            if gi // bs not in a_to_b:
                continue
            pi = bs * a_to_b[gi // bs] + gi % bs
            for j, m in zip(cols[indptr[i]:indptr[i + 1]], vals[indptr[i]:indptr[i + 1]]):
                if m == 0.0:
                    continue
                j = int(j)
                pj = bs * a_to_b[j // bs] + j % bs
                C.setValue(gi, pj, -m, addv=PETSc.InsertMode.ADD_VALUES)
                C.setValue(pi, j, -m, addv=PETSc.InsertMode.ADD_VALUES)
                C.setValue(pi, pj, m, addv=PETSc.InsertMode.ADD_VALUES)
        M.destroy()
    C.assemble()
    rows = [np.empty(0, dtype=np.int64)]
    for bc in bcs:
        local, n_owned = bc.dof_indices()
        rows.append(_global_scalar(imap, bs, local[:n_owned]))
    # Rows of constrained dofs are replaced by their condition; their columns stay, since a
    # known value still drives its partner across the interface.
    C.zeroRows(np.concatenate(rows).astype(PETSc.IntType), diag=0.0)
    return C
