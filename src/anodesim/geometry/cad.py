"""CAD anodes (``geometry.kind = "cad"``): a STEP file read by gmsh's OpenCASCADE kernel,
its solids fragmented so that touching bodies share their faces (perfect contact), regions
and faces chosen by name or by box, meshed with the project's grading around the spot.

Selections (case/tables.py reads them into ``Geometry.groups``; lengths there in m):

- a region is a name of solids in the STEP file (the last part of gmsh's label
  ``Shapes/<assembly>/<n>/<body name>``: the body or part name the CAD tool exported), or
  ``[x0, y0, z0, x1, y1, z1]``: every solid inside that box;
- a face is a face name in the file (few CAD tools export those), or a box: every face of
  the fragmented solids inside it.
Without ``[geometry.regions]`` every named solid is a region of its own name.

The beam frame comes from the CAD face itself: the normal of the beam face at the point
nearest the impact point, pointing out of the target; e₁ along the beam's trace (as for
user meshes, user_mesh.frame_layout).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..case import CaseError
from ..case.step_file import CadError, diagonal, open_step, selections
from .mesh import generate, zone_size
from .reflection3d import Layout3D
from .user_mesh import ON_FACE_TOLERANCE, frame_layout


def layout(case) -> Layout3D:
    """The beam frame on the CAD beam face at the impact point (no mesh).

    Raises:
        CaseError: the impact point is not on the beam face (farther than 1e-4 of the
            model's size), or the beam does not hit it from outside the target.
    """
    g = case.geometry
    gmsh = open_step(g.file)
    try:
        regions, faces = selections(gmsh, g)
        p = np.asarray(g.impact_point_m, float)
        scale = diagonal(gmsh)
        best = None
        for tag in faces["beam_face"]:
            q, uv = gmsh.model.getClosestPoint(2, tag, p)
            d = float(np.linalg.norm(np.asarray(q) - p))
            if best is None or d < best[0]:
                best = (d, tag, uv, np.asarray(q, float))
        d, tag, uv, q = best
        if d > ON_FACE_TOLERANCE * scale:
            raise CadError(f"geometry.impact_point_mm = {[float(c) * 1e3 for c in p]}: "
                           f"expected a point on the beam face (the nearest point of it is "
                           f"{d * 1e3:.4g} mm away)")
        n = np.asarray(gmsh.model.getNormal(tag, uv), float)
        n /= np.linalg.norm(n)
        step = 1e-5 * scale
        inside = [any(gmsh.model.isInside(3, v, list(q + s * step * n)) > 0
                      for v in regions["target"]) for s in (1.0, -1.0)]
        lower, upper = np.array(gmsh.model.getBoundingBox(-1, -1)).reshape(2, 3)
    finally:
        gmsh.finalize()
    if inside[0] == inside[1]:
        raise CaseError("geometry.faces.beam_face: the face at the impact point does not "
                        "bound the target region; expected beam_face on the target's surface")
    if inside[0]:
        n = -n
    # on the face: a volume source's depth is measured from the frame's origin, and the
    # mesh gets a node there
    return frame_layout(case, q, n, scale, (lower, upper))


def build(case, lay: Layout3D, h_min: float, growth: float, h_max: float, zone_depth: float,
          path: Path | None = None):
    """Mesh the STEP anode with the grading of the built-in 3-D anode (element size
    h_min at the deposition zone, growing by ``growth`` per unit distance up to h_max, m),
    a node at the impact point; write it to ``path`` if given.

    h_max is at most a tenth of the model's bounding-box diagonal.

    Returns:
        The gmsh module with the meshed model (caller finalises).
    """
    g = case.geometry
    gmsh = open_step(g.file)
    regions, faces = selections(gmsh, g)
    h_max = min(h_max, 0.1 * diagonal(gmsh))  # (mesh.max_size_mm, else a tenth of the part)
    fr = lay.frame
    centre = gmsh.model.occ.addPoint(*fr.origin)
    gmsh.model.occ.synchronize()
    face = min(faces["beam_face"], key=lambda t: np.linalg.norm(
        np.asarray(gmsh.model.getClosestPoint(2, t, fr.origin)[0]) - fr.origin))
    gmsh.model.mesh.embed(0, [centre], 2, face)
    for i, (name, tags) in enumerate(regions.items(), start=1):
        gmsh.model.addPhysicalGroup(3, tags, i, name=name)
    for i, (name, tags) in enumerate(faces.items(), start=100):
        gmsh.model.addPhysicalGroup(2, tags, i, name=name)
    return generate(gmsh, 3, zone_size(lay, h_min, growth, h_max, zone_depth), path)
