"""Values of a finite-element field at fixed points (probes, sampled sections, the spot),
collectively over the MPI ranks: the cells holding the points found once, by barycentric
coordinates on the simplex meshes anodesim builds."""

from __future__ import annotations

from . import _mpi  # noqa: F401,I001  (MPI before dolfinx)
import dolfinx
import dolfinx.geometry
import numpy as np
from ._mpi import MPI


def locate_cells(msh, pts: np.ndarray, tol: float = 1e-10) -> np.ndarray:
    """The first local cell containing each point (its index; -1 where none does).

    Candidates from the bounding-box tree (in its order); on affine simplex meshes (P1
    geometry: the triangles and tetrahedra anodesim builds and imports) the point is tested
    by its barycentric coordinates in each candidate, all at once (λ ≥ −tol, relative to
    the cell: on an edge or face counts as inside, and the first candidate holding the point
    keeps it, so a point on a split interface keeps one side). dolfinx's
    compute_colliding_cells (other meshes) is about 10× slower here and accepts any cell
    within an *absolute* 1 µm of the point (its GJK test is squared distance < 1e-12, in
    the mesh's unit, metres): near a micrometre spot that is several cells, and a point
    would be evaluated by extrapolating a neighbour's linear field.

    Args:
        msh: the mesh.
        pts: (n, 3) coordinates (m).
        tol: tolerance on the barycentric coordinates (-).
    """
    tdim, gdim = msh.topology.dim, msh.geometry.dim
    tree = dolfinx.geometry.bb_tree(msh, tdim)
    cand = dolfinx.geometry.compute_collisions_points(tree, pts)
    n = len(pts)
    cell = np.full(n, -1, dtype=np.int32)
    simplex = msh.topology.cell_type.name in ("triangle", "tetrahedron")
    if not (simplex and msh.geometry.cmaps[0].degree == 1 and tdim == gdim):
        hits = dolfinx.geometry.compute_colliding_cells(msh, cand, pts)
        some = np.flatnonzero(np.diff(hits.offsets) > 0)
        cell[some] = hits.array[hits.offsets[some]]
        return cell
    owner = np.repeat(np.arange(n), np.diff(cand.offsets))
    cells = cand.array
    # The candidate lists repeat few cells (a slice of the 3-D example: 198 069 candidates
    # in 971 cells): invert each cell's map once.
    unique, which = np.unique(cells, return_inverse=True)
    X = msh.geometry.x[msh.geometry.dofmaps[0][unique]][:, :, :gdim]
    J_inv = np.linalg.inv(np.swapaxes(X[:, 1:] - X[:, :1], 1, 2))  # edges from vertex 0
    X0 = X[:, 0]
    for chunk in np.array_split(np.arange(len(cells)), max(1, len(cells) // 200_000)):
        k = which[chunk]
        lam = np.einsum("nij,nj->ni", J_inv[k], pts[owner[chunk], :gdim] - X0[k])
        inside = np.minimum(lam.min(axis=1), 1.0 - lam.sum(axis=1)) >= -tol
        hit_pts, first = owner[chunk][inside], cells[chunk][inside]
        new = cell[hit_pts] < 0  # the first candidate found keeps the point
        pt, at = np.unique(hit_pts[new], return_index=True)
        cell[pt] = first[new][at]
    return cell


def inside_mesh(msh):
    """A callable of (n, 3) points (m) → bool array (n,): whether each lies in a cell of msh
    on some rank (collective: every rank calls it with the same points)."""
    def inside(pts) -> np.ndarray:
        pts = np.asarray(pts, dtype=float).reshape(-1, 3)
        found = (locate_cells(msh, pts) >= 0).astype(np.int32)
        msh.comm.Allreduce(MPI.IN_PLACE, found, op=MPI.MAX)
        return found > 0

    return inside


class PointProbes:
    """Evaluate a P1 function (scalar or vector) at fixed points, collectively over MPI ranks.

    Args:
        fun: the function to evaluate (its mesh is searched once).
        points: (n, gdim) coordinates (m).
    """

    def __init__(self, fun: dolfinx.fem.Function, points: np.ndarray):
        msh = fun.function_space.mesh
        self.fun = fun
        self.comm = msh.comm
        n = len(points)
        pts = np.zeros((n, 3))
        pts[:, : points.shape[1]] = points
        cell = locate_cells(msh, pts)
        self.idx = np.flatnonzero(cell >= 0)
        self.cells = cell[self.idx]
        found = (cell >= 0).astype(np.int32)
        total = found.copy()
        self.comm.Allreduce(found, total, op=MPI.SUM)
        self.missing = np.flatnonzero(total == 0).tolist()
        self.pts = pts
        self.n = n
        self.size = int(np.prod(fun.function_space.value_shape, dtype=int))

    def values(self) -> np.ndarray:
        """Values at the points, (n,) for a scalar, (n, components) for a vector (NaN where
        a point is outside the mesh)."""
        out = np.full((self.n, self.size), -np.inf)
        if len(self.idx):
            out[self.idx] = self.fun.eval(self.pts[self.idx], self.cells).reshape(
                len(self.idx), self.size)
        # Each point is found on some rank: the largest of the ranks' values (the others
        # hold −inf) is its value, component by component.
        self.comm.Allreduce(MPI.IN_PLACE, out, op=MPI.MAX)
        out[np.isneginf(out)] = np.nan
        return out[:, 0] if self.size == 1 else out
