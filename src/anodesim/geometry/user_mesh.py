"""User meshes (``geometry.kind = "user_mesh"``, any format meshio reads: case/mesh_import.py):
the beam frame from the mesh itself, the normal of the beam-face triangle at the impact
point, pointing out of the target, with e₁ along the beam's trace on the face; the mesh
built in dolfinx (create_mesh and meshtags) with its named regions and faces.
"""

from __future__ import annotations

import math

import numpy as np

from ..case import CaseError
from ..frames import BeamFrame, beam_direction
from ..case import mesh_import
from ..case.mesh_import import ImportedMesh
from .mesh import AnodeMesh, start_gmsh
from .reflection3d import Layout3D

ON_FACE_TOLERANCE = 1e-4  # × the mesh's bounding-box diagonal
MAX_ELEMENT_PER_SPOT = 0.5  # the largest beam-face element at the impact point, × spot size
#: Above this (× spot size) a run warns and says how low its peak rise likely is.
WARN_ELEMENT_PER_SPOT = 0.15
#: (element at the impact point / spot's smallest size, how low the peak rise came out, %):
#: a W disc (2 mm × 0.5 mm) in a Cu rod, 100 µm Gaussian, steady, against the
#: extrapolated peak rise (check_resolution).
PEAK_LOW_PERCENT = ((0.0, 0.0), (0.085, 1.0), (0.14, 4.0), (0.27, 9.0), (0.6, 22.0),
                    (1.06, 48.0))


def peak_low_percent(ratio: float) -> float:
    """How low the peak rise likely is (%) with the element at the impact point `ratio`
    times the spot's smallest size (PEAK_LOW_PERCENT, interpolated)."""
    x, y = zip(*PEAK_LOW_PERCENT)
    return float(np.interp(ratio, x, y))


def load(geometry) -> ImportedMesh:
    """The user mesh of the geometry (read once per file, unit and mapping; any rank).

    Raises:
        CaseError: unreadable file, no volume cells, refused cell types, missing or
            overlapping sets (one line naming the key).
    """
    try:
        return mesh_import.of_geometry(geometry)
    except mesh_import.MeshImportError as e:
        raise CaseError(str(e)) from None


def check_gmsh_volumes(path: str) -> None:
    """A gmsh file lists every volume, but saves only the cells of volumes in a physical
    group (Mesh.SaveAll = 0): a volume outside every group would silently vanish.

    Raises:
        CaseError: a volume of the .msh file in no physical volume group.
    """
    gmsh = start_gmsh("user")
    try:
        gmsh.merge(path)
        named = {e for dim, group in gmsh.model.getPhysicalGroups(3)
                 for e in gmsh.model.getEntitiesForPhysicalGroup(dim, group)}
        unnamed = [t for _, t in gmsh.model.getEntities(3) if t not in named]
    finally:
        gmsh.finalize()
    if unnamed and named:
        raise CaseError(f"geometry.file = {path!r}: volume(s) {unnamed} belong to no physical "
                        "volume group; expected every volume in a named region group")


def to_dolfinx(comm, imported: ImportedMesh) -> AnodeMesh:
    """The dolfinx mesh of an imported user mesh, with its region and face tags (collective:
    rank 0 passes the cells, the partitioner distributes them)."""
    import basix.ufl
    import dolfinx
    import ufl
    from dolfinx.graph import adjacencylist
    from dolfinx.io import distribute_entity_data

    root = comm.rank == 0
    domain = ufl.Mesh(basix.ufl.element("Lagrange", "tetrahedron", 1, shape=(3,),
                                        dtype=np.float64))
    cells = imported.tets if root else np.empty((0, 4), np.int64)
    x = imported.points if root else np.empty((0, 3), np.float64)
    mesh = dolfinx.mesh.create_mesh(comm, cells, domain, x)
    tdim = mesh.topology.dim
    tags = []
    for dim, entities, values in ((tdim, imported.tets, imported.cell_tag),
                                  (tdim - 1, imported.facets, imported.facet_tag)):
        if not root:
            entities, values = np.empty((0, dim + 1), np.int64), np.empty(0, np.int32)
        local, local_values = distribute_entity_data(mesh, dim, entities.astype(np.int64),
                                                     values.astype(np.int32))
        mesh.topology.create_connectivity(dim, tdim)
        tags.append(dolfinx.mesh.meshtags_from_entities(
            mesh, dim, adjacencylist(local), local_values.astype(np.int32, copy=False)))
    return AnodeMesh(mesh, tags[0], tags[1], dict(imported.groups), dict(imported.dims),
                     axisymmetric=False)


def user_layout(case) -> Layout3D:
    """The beam frame on a user mesh (no dolfinx): the beam_face triangle nearest to the
    impact point gives the face normal, oriented against the beam.

    Raises:
        CaseError: the impact point is not on the beam face (farther than 1e-4 of the mesh
            size from it), or the beam does not hit the face there.
    """
    g = case.geometry
    if str(g.file).endswith(".msh"):
        check_gmsh_volumes(str(g.file))
    um = load(g)
    check_faces_on_surface(case, um)
    xyz = um.points
    lower, upper = xyz.min(axis=0), xyz.max(axis=0)
    tris, tets = um.group("beam_face"), um.group("target")
    corners = xyz[tris]
    p = np.asarray(g.impact_point_m)
    dist, normals, nearest = _distance_to_triangles(p, corners)
    scale = float(np.linalg.norm(upper - lower))
    i = int(np.argmin(dist))
    if dist[i] > ON_FACE_TOLERANCE * scale:
        raise CaseError(f"geometry.impact_point_mm = {[float(c) * 1e3 for c in p]}: expected a "
                        "point on "
                        f"the beam_face group of {g.file} (the nearest point of it is "
                        f"{dist[i] * 1e3:.4g} mm away; the mesh spans "
                        f"{_mm(lower)} to {_mm(upper)} mm with geometry.mesh_unit = "
                        f"{g.mesh_unit!r})")
    # outward: away from the fourth node of the target tetrahedron on that triangle
    tri = set(tris[i].tolist())
    tet = next((t for t in tets if tri <= set(t.tolist())), None)
    if tet is None:
        raise CaseError(f"geometry.file = {str(g.file)!r}: the beam_face group at the impact "
                        "point does not bound the target volume; expected beam_face on the "
                        "surface of the target group")
    inner = xyz[[v for v in tet if v not in tri][0]]
    n = normals[i] if (inner - corners[i, 0]) @ normals[i] < 0 else -normals[i]
    # on the face: a volume source's depth is measured from the frame's origin
    lay = frame_layout(case, nearest[i], n, scale, (lower, upper))
    lay.spot_element = float(np.linalg.norm(corners[i] - np.roll(corners[i], 1, axis=0),
                                            axis=1).max())
    return lay


def check_resolution(case, lay: Layout3D, spot) -> None:
    """The user's mesh resolves the spot: the beam-face triangle at the impact point is at
    most MAX_ELEMENT_PER_SPOT of the spot's smallest size (FWHM, minor FWHM or diameter).

    Coarser meshes spread the source over elements wider than the spot and give the peak
    temperature far too low, with the source integral still right (so no warning):
    measured on a W disc (2 mm × 0.5 mm) in a Cu rod (6 mm × 5 mm), 100 µm Gaussian, 18 W
    deposited, steady, against the extrapolated peak rise (599 K): with the longest edge at
    the impact point 0.085 × the FWHM the rise is 1 % low, 0.14: 4 %, 0.27: 9 %, 0.6: 22 %,
    1.06: 48 %.

    Raises:
        CaseError: the element at the impact point is larger.
    """
    h, size = lay.spot_element, spot.smallest_m
    if h is not None and h > MAX_ELEMENT_PER_SPOT * size:
        raise CaseError(f"geometry.file = {str(case.geometry.file)!r}: the beam face's "
                        f"element at the impact point is {h * 1e6:.3g} µm across, more than "
                        f"{MAX_ELEMENT_PER_SPOT:g} × the spot's {size * 1e6:.3g} µm; expected "
                        "a mesh graded to about 1/7 of the spot there (the peak rise comes out "
                        "4 % low at 1/7, 22 % at 0.6, 48 % at 1)")


def check_faces_on_surface(case, um: ImportedMesh) -> None:
    """The faces the case uses (the beam face, the extra-focal landings, boundaries, mounts
    and the reference face) lie on the mesh's surface. A face with triangles inside the
    mesh (an interface between two regions) would put its boundary condition or heat
    inside the body: dolfinx integrates such a facet from one of its cells as if it were
    on the surface.

    Raises:
        CaseError: the first such face, under the case key that uses it.
    """
    b, mech = case.beam, case.mechanics
    uses = [(f"boundaries.{f}", f) for f in case.boundaries]
    uses += [(f"beam.extra_focal_faces.{f}", f) for f, _ in b.extra_focal_faces]
    if mech is not None:
        uses += [(f"mounts.{f}", f) for f in mech.mounts]
        if mech.reference_face is not None:
            uses.append(("mechanics.reference_face", mech.reference_face))
    g = case.geometry
    for face in ("beam_face", "anode_face") if b.extra_focal != "off" else ("beam_face",):
        uses.append((f"geometry.groups.{face} = {g.groups[face]!r}" if face in g.groups
                     else f"geometry.file = {str(g.file)!r}", face))
    for key, face in uses:
        n = um.inner.get(face, 0)
        if n:
            total = int((um.facet_tag == um.groups[face]).sum())
            raise CaseError(f"{key}: {n} of the {total} triangles of the face '{face}' lie "
                            "inside the mesh, between two volume cells; expected a face on "
                            "the mesh's outer surface (an interface between regions takes no "
                            "boundary condition or beam)")


def frame_layout(case, p, n, scale: float, bounds) -> Layout3D:
    """The 3-D layout of a user geometry: beam frame at the impact point p with outward
    face normal n (m; the beam must hit the face at least 1° from grazing)."""
    b = beam_direction(case.beam.direction)
    if -(b @ n) < math.sin(math.radians(1.0)):
        raise CaseError(f"beam.direction = {list(case.beam.direction)}: expected a beam that "
                        f"hits the beam face (at least 1° from grazing; face normal "
                        f"{[round(float(c), 6) + 0.0 for c in n]})")  # (+ 0.0: no -0.0)
    t = b - (b @ n) * n
    if np.linalg.norm(t) < 1e-9:  # normal incidence: any axis in the face
        t = np.eye(3)[int(np.argmin(np.abs(n)))]
        t = t - (t @ n) * n
    e1 = t / np.linalg.norm(t)
    frame = BeamFrame(np.asarray(p, float), n, e1, np.cross(n, e1), b)
    return Layout3D({}, 0.0, frame, [("target", scale)], scale, bounds=bounds)


def _mm(x) -> list[float]:
    return [round(float(c) * 1e3, 4) for c in x]


def _distance_to_triangles(p: np.ndarray, tri: np.ndarray):
    """Distance (m) from p to each triangle (n, 3, 3), measured to p's projection on the
    triangle's plane clipped into the triangle (exact when p projects inside it, an upper
    bound otherwise), the triangles' unit normals, and those points (n, 3)."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    nrm = np.cross(b - a, c - a)
    nrm /= np.linalg.norm(nrm, axis=1)[:, None]
    # barycentric projection of p on each plane, clipped into the triangle
    v0, v1, v2 = b - a, c - a, p - a
    d00, d01, d11 = (v0 * v0).sum(1), (v0 * v1).sum(1), (v1 * v1).sum(1)
    d20, d21 = (v2 * v0).sum(1), (v2 * v1).sum(1)
    den = d00 * d11 - d01 * d01
    v = np.clip((d11 * d20 - d01 * d21) / den, 0.0, 1.0)
    w = np.clip((d00 * d21 - d01 * d20) / den, 0.0, 1.0)
    s = v + w
    over = np.where(s > 1, s, 1.0)
    v, w = v / over, w / over
    q = a + v[:, None] * v0 + w[:, None] * v1
    return np.linalg.norm(q - p, axis=1), nrm, q
