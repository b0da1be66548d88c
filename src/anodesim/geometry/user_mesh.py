"""User meshes (``geometry.kind = "user_mesh"``): the beam frame from the mesh itself, the
normal of the beam-face triangle at the impact point, pointing out of the target, with e₁
along the beam's trace on the face; the layout checks of the physical groups.
"""

from __future__ import annotations

import math

import numpy as np

from ..case import CaseError
from ..frames import BeamFrame, beam_direction
from .mesh import start_gmsh
from .reflection3d import Layout3D

ON_FACE_TOLERANCE = 1e-4  # × the mesh's bounding-box diagonal


def _unnamed_volumes(gmsh) -> list[int]:
    """Volume entities of the loaded model in no physical volume group: their cells would
    have no region and no material (gmsh does not even save their cells by default)."""
    named = {e for dim, group in gmsh.model.getPhysicalGroups(3)
             for e in gmsh.model.getEntitiesForPhysicalGroup(dim, group)}
    return [t for _, t in gmsh.model.getEntities(3) if t not in named]


def user_layout(case) -> Layout3D:
    """The beam frame on a user mesh (read with gmsh, no dolfinx): the beam_face triangle
    nearest to the impact point gives the face normal, oriented against the beam.

    Raises:
        CaseError: the impact point is not on the beam face (farther than 1e-4 of the mesh
            size from it), or the beam does not hit the face there.
    """
    import gmsh

    g = case.geometry
    start_gmsh("user")
    try:
        gmsh.merge(g.file)
        tags, coords, _ = gmsh.model.mesh.getNodes()
        xyz = coords.reshape(-1, 3)
        lower, upper = xyz.min(axis=0), xyz.max(axis=0)
        tris, tets = _group_elements(gmsh, 2, "beam_face"), _group_elements(gmsh, 3, "target")
        unnamed = _unnamed_volumes(gmsh)
        index = np.zeros(int(tags.max()) + 1, dtype=np.int64)
        index[tags.astype(np.int64)] = np.arange(len(tags))
        corners = xyz[index[tris]]
    finally:
        gmsh.finalize()
    if unnamed:
        raise CaseError(f"geometry.file = {str(g.file)!r}: volume(s) {unnamed} belong to no "
                        "physical volume group; expected every volume in a named region group")
    p = np.asarray(g.impact_point_m)
    dist, normals = _distance_to_triangles(p, corners)
    scale = float(np.linalg.norm(upper - lower))
    i = int(np.argmin(dist))
    if dist[i] > ON_FACE_TOLERANCE * scale:
        raise CaseError(f"geometry.impact_point_mm = {[float(c) * 1e3 for c in p]}: expected a "
                        "point on "
                        f"the beam_face group of {g.file} (the nearest point of it is "
                        f"{dist[i] * 1e3:.4g} mm away)")
    b = beam_direction(case.beam.direction)
    # outward: away from the fourth node of the target tetrahedron on that triangle
    tri = set(tris[i].tolist())
    tet = next((t for t in tets if tri <= set(t.tolist())), None)
    if tet is None:
        raise CaseError(f"geometry.file = {str(g.file)!r}: the beam_face group at the impact "
                        "point does not bound the target volume; expected beam_face on the "
                        "surface of the target group")
    inner = xyz[index[[v for v in tet if v not in tri][0]]]
    n = normals[i] if (inner - corners[i, 0]) @ normals[i] < 0 else -normals[i]
    if -(b @ n) < math.sin(math.radians(1.0)):
        raise CaseError(f"beam.direction = {list(case.beam.direction)}: expected a beam that "
                        f"hits the beam face (at least 1° from grazing; face normal "
                        f"{[round(float(c), 6) for c in n]})")
    t = b - (b @ n) * n
    if np.linalg.norm(t) < 1e-9:  # normal incidence: any axis in the face
        t = np.eye(3)[int(np.argmin(np.abs(n)))]
        t = t - (t @ n) * n
    e1 = t / np.linalg.norm(t)
    frame = BeamFrame(p, n, e1, np.cross(n, e1), b)
    return Layout3D({}, 0.0, frame, [("target", scale)], scale, bounds=(lower, upper))


def _group_elements(gmsh, dim: int, name: str) -> np.ndarray:
    """Corner node tags (n, dim + 1) of the elements in the named physical group."""
    out = []
    for d, tag in gmsh.model.getPhysicalGroups(dim):
        if gmsh.model.getPhysicalName(d, tag) != name:
            continue
        for entity in gmsh.model.getEntitiesForPhysicalGroup(d, tag):
            types, _, nodes = gmsh.model.mesh.getElements(dim, entity)
            for t, n in zip(types, nodes):
                k = gmsh.model.mesh.getElementProperties(t)[3]  # nodes per element
                out.append(np.asarray(n, dtype=np.int64).reshape(-1, k)[:, :dim + 1])
    return np.concatenate(out)


def _distance_to_triangles(p: np.ndarray, tri: np.ndarray):
    """Distance (m) from p to each triangle (n, 3, 3), measured to p's projection on the
    triangle's plane clipped into the triangle (exact when p projects inside it, an upper
    bound otherwise), and the triangles' unit normals."""
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
    return np.linalg.norm(q - p, axis=1), nrm
