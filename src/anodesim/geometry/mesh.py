"""gmsh sessions, meshing with a size callback, and the mesh read into dolfinx with its
named region, face and interface tags (AnodeMesh); the element sizes of a case.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import math

import numpy as np

from ..case import Case


def start_gmsh(name: str):
    """The gmsh module, initialised (quietly) with a new model of the given name."""
    import gmsh

    if not gmsh.isInitialized():
        gmsh.initialize(interruptible=False)
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.model.add(name)
    return gmsh


def generate(gmsh, dim: int, size, path: Path | None):
    """Mesh the model in dim dimensions with element sizes from the callback
    size(dim, tag, x, y, z, lc) only; write it atomically to ``path`` (binary .msh 4.1,
    which gmsh and meshio read) if given.
    Ctrl-C and SIGTERM wait for the mesh (errors.signals_held): raised inside the callback
    they would give gmsh a meaningless size and be lost."""
    from ..errors import signals_held

    gmsh.model.mesh.setSizeCallback(size)
    for opt in ("MeshSizeFromPoints", "MeshSizeFromCurvature", "MeshSizeExtendFromBoundary"):
        gmsh.option.setNumber(f"Mesh.{opt}", 0)
    gmsh.option.setNumber("Mesh.Algorithm", 6)
    with signals_held():
        gmsh.model.mesh.generate(dim)
    if path is not None:
        write(gmsh, path)
    return gmsh


def write(gmsh, path: Path) -> None:
    """Write the meshed model atomically to ``path`` (binary .msh 4.1).

    Raises:
        OSError: the file was cut short (a full disk); gmsh's Exception: it could not be
            opened."""
    tmp = Path(path).with_suffix(".tmp.msh")
    # binary: the nodes' coordinates exactly; as text gmsh writes 16 digits, and a node
    # read back from the film top of a transmission target lay above it by an ulp
    # (a profile or probe point there was "outside the mesh")
    gmsh.option.setNumber("Mesh.Binary", 1)
    gmsh.write(str(tmp))
    _check_written(tmp)
    tmp.replace(path)


def _check_written(msh: Path) -> None:
    """gmsh reports a failed write (a full disk) on its terminal only: a file cut short
    was renamed to mesh.msh. A whole .msh file ends with a section's ``$End…`` line.

    Raises:
        OSError: the file is missing or cut short (the temporary is removed).
    """
    import errno
    import os

    try:
        with open(msh, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - 64))
            last = f.read().rstrip().rsplit(b"\n", 1)[-1]
    except FileNotFoundError:
        last = b""
    if not last.startswith(b"$End"):
        msh.unlink(missing_ok=True)
        raise OSError(errno.EIO, "gmsh could not write the whole mesh (is the disk full?)",
                      str(msh))


def zone_size(lay, h_min: float, growth: float, h_max: float, zone_depth: float):
    """The size callback of the 3-D meshes: h = min(h_max, h_min + growth · distance from
    the deposition zone), the zone being the spot's box (``lay.zone``: in-face axis and
    half-extents) down to zone_depth along −n; near a flat top's rim (``lay.rim``) at most
    0.06 × rim + growth · distance from the rim; in a housing shell (``lay.housing``, z < 0) at
    most half its wall, two elements through it as in 2-D (all m)."""
    fr = lay.frame
    hs = lay.housing
    wall = 0.5 * (hs["outer_radius_m"] - hs["inner_radius_m"]) if hs else math.inf
    u_axis, a_u, a_w = lay.zone
    w_axis = np.cross(fr.normal, u_axis)
    # Plain floats: gmsh calls this once per point (18 551 times for studies/reflection_3d),
    # and 3-vector numpy products cost 5× the arithmetic; the products are summed in the
    # same order as numpy's, so the sizes are the same to the bit (checked on 2·10⁵ points).
    c0, c1, c2 = (float(v) for v in fr.origin)
    n0, n1, n2 = (float(v) for v in fr.normal)
    u0, u1, u2 = (float(v) for v in u_axis)
    w0, w1, w2 = (float(v) for v in w_axis)
    rim = lay.rim

    def size(dim, tag, x, y, z, lc):
        d0, d1, d2 = x - c0, y - c1, z - c2
        dn = d0 * n0 + d1 * n1 + d2 * n2
        depth = -dn
        du = max(0.0, abs(d0 * u0 + d1 * u1 + d2 * u2) - a_u)
        dw = max(0.0, abs(d0 * w0 + d1 * w1 + d2 * w2) - a_w)
        dz = max(0.0, -depth, depth - zone_depth)
        h = min(h_max, h_min + growth * math.sqrt(du * du + dw * dw + dz * dz))
        if rim is not None:
            off = math.hypot(math.sqrt(max(d0 * d0 + d1 * d1 + d2 * d2 - dn ** 2, 0.0)) - rim,
                             dn)
            h = min(h, 0.06 * rim + growth * off)
        return min(h, wall) if z < 0.0 else h

    return size


@dataclass
class AnodeMesh:
    """A dolfinx mesh with its tags and named groups.

    Attributes:
        mesh: the dolfinx mesh.
        cell_tags, facet_tags: MeshTags of regions and faces.
        groups: physical-group name → tag.
        axisymmetric: (r, z) coordinates with r-weighted measures.
    """

    mesh: object
    cell_tags: object
    facet_tags: object
    groups: dict[str, int]
    group_dims: dict[str, int]
    axisymmetric: bool = True

    @property
    def cells(self) -> int:
        return self.mesh.topology.index_map(self.mesh.topology.dim).size_global

    def facets(self, name: str) -> np.ndarray:
        """Local indices of the facets in the named group (empty if absent)."""
        if name not in self.groups:
            return np.empty(0, dtype=np.int32)
        return self.facet_tags.find(self.groups[name])


def to_dolfinx(comm, model=None, path: Path | None = None, gdim: int = 2) -> AnodeMesh:
    """Read a gmsh model or a .msh file into dolfinx, with tags and names (collective).

    Args:
        comm: MPI communicator; every rank calls this with the same arguments.
        model: the gmsh model, meshed on rank 0 (other ranks pass the same object unused).
        path: a .msh file to read instead (when model is None).
        gdim: geometric dimension (2 for (r, z)).
    """
    import dolfinx.io.gmsh

    if model is not None:
        md = dolfinx.io.gmsh.model_to_mesh(model, comm, 0, gdim=gdim)
    else:  # read on rank 0 with gmsh's terminal output off
        gm = start_gmsh("file") if comm.rank == 0 else None
        try:
            if gm is not None:
                gm.merge(str(path))
            md = dolfinx.io.gmsh.model_to_mesh(gm.model if gm else None, comm, 0, gdim=gdim)
        finally:
            if gm is not None:
                gm.finalize()
    groups = {name: pg.tag for name, pg in md.physical_groups.items()}
    dims = {name: pg.dim for name, pg in md.physical_groups.items()}
    return AnodeMesh(md.mesh, md.cell_tags, md.facet_tags, groups, dims, axisymmetric=(gdim == 2))


def mesh_sizes(case: Case, spot) -> tuple[float, float, float]:
    """(h_min, growth, h_max) for the case (m, -, m).

    h_min is spot_fraction × spot size, and at most a quarter of the deposition depth for
    volume deposition (so the depth–dose curve is integrated to 0.1 %) and half the film
    thickness of a transmission target.
    """
    h_min = case.mesh.spot_fraction * spot.smallest_m
    if spot.deposition != "surface":
        h_min = min(h_min, 0.25 * spot.depth_m)
    g = case.geometry
    if g.kind == "transmission":
        h_min = min(h_min, 0.5 * g.sizes_m["target_thickness_m"])
    scale = max(g.sizes_m.values()) if g.sizes_m else math.inf  # (cad: its build clamps)
    h_max = case.mesh.max_size_m or scale / 10.0
    return h_min, case.mesh.growth, max(h_max, h_min)
