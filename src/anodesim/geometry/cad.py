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

import functools
from pathlib import Path

import numpy as np

from ..case import CaseError
from ..case.step_file import CadError, name_of, open_step
from .mesh import generate, zone_size
from .reflection3d import Layout3D
from .user_mesh import ON_FACE_TOLERANCE, frame_layout


def _select(gmsh, dim: int, key: str, ref, eps: float) -> list[int]:
    """Entities of dimension dim named ref, or inside the box ref (m)."""
    if isinstance(ref, str):
        tags = [t for _, t in gmsh.model.getEntities(dim) if name_of(gmsh, dim, t) == ref]
        if not tags:
            found = sorted({name_of(gmsh, dim, t)
                            for _, t in gmsh.model.getEntities(dim)} - {""})
            raise CadError(f"{key} = {ref!r}: no {'solid' if dim == 3 else 'face'} of this "
                           f"name in the STEP file; expected one of: "
                           f"{', '.join(found) or '(none named)'} - or a box_mm")
        return tags
    x0, y0, z0, x1, y1, z1 = ref
    tags = [t for _, t in gmsh.model.getEntitiesInBoundingBox(
        x0 - eps, y0 - eps, z0 - eps, x1 + eps, y1 + eps, z1 + eps, dim)]
    if not tags:
        raise CadError(f"{key}.box_mm = {[round(c * 1e3, 6) for c in ref]}: no "
                       f"{'solid' if dim == 3 else 'face'} lies inside this box; expected a "
                       "box around it (mm)")
    return tags


def _groups(gmsh, geometry) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """(region → volume tags, face → surface tags) of the case's selections."""
    eps = 1e-4 * _diagonal(gmsh)  # (OCC pads bounding boxes by its tolerance, 1e-7 m)
    regions, faces = {}, {}
    for name, ref in geometry.groups.items():
        dim = geometry.mesh_groups[name]
        key = f"geometry.{'regions' if dim == 3 else 'faces'}.{name}"
        (regions if dim == 3 else faces)[name] = _select(gmsh, dim, key, ref, eps)
    owner: dict[int, str] = {}
    for name, tags in regions.items():
        for t in tags:
            if t in owner:
                raise CadError(f"geometry.regions.{name}: solid {t} is also in the region "
                               f"'{owner[t]}'; expected each solid in one region")
            owner[t] = name
    left = [t for _, t in gmsh.model.getEntities(3) if t not in owner]
    if left:
        names = ", ".join(repr(name_of(gmsh, 3, t)) for t in left)
        raise CadError(f"geometry.regions: the solid(s) {names} are in no region; expected "
                       "every solid in a region (by name or box)")
    return regions, _one_group_per_face(faces)


def _one_group_per_face(faces: dict[str, list[int]]) -> dict[str, list[int]]:
    """The face selections with each CAD face in one group. beam_face's faces leave every
    other selection: a flat box over the anode's top (anode_face) holds the target's face
    too, and a face in two groups went to whichever the case listed first (anode_face
    before beam_face left the beam no face: an internal error). Any other face in two
    groups is refused.

    Raises:
        CadError: a face in two groups other than beam_face, or a selection left empty.
    """
    beam = set(faces.get("beam_face", ()))
    out, owner = {}, {t: "beam_face" for t in beam}
    for name, tags in faces.items():
        if name == "beam_face":
            out[name] = tags
            continue
        kept = [t for t in tags if t not in beam]
        if not kept:
            raise CadError(f"geometry.faces.{name}: every face it selects is beam_face's; "
                           "expected a face of its own (a box around it)")
        for t in kept:
            if t in owner:
                raise CadError(f"geometry.faces.{name}: face {t} is also in the face "
                               f"'{owner[t]}'; expected each face in one group (beam_face "
                               "alone may lie inside another's box)")
            owner[t] = name
        out[name] = kept
    return out


def face_regions(geometry) -> dict[str, tuple[str, ...]]:
    """The regions each face of the case bounds: the solids on either side of its CAD faces
    (gmsh's upward adjacencies of the surfaces), by region name; cached on the STEP file's
    path, size and time and the case's selections (a rating asks for them several times).

    Raises:
        CadError: a selection matches nothing (as when the case is read).
    """
    st = Path(geometry.file).stat()
    chosen = tuple((n, tuple(r) if isinstance(r, list) else r)
                   for n, r in geometry.groups.items())
    return _face_regions(str(geometry.file), st.st_size, st.st_mtime_ns, chosen,
                         tuple(geometry.mesh_groups.items()))


@functools.lru_cache(maxsize=4)
def _face_regions(path, _size, _mtime, chosen, dims) -> dict[str, tuple[str, ...]]:
    from types import SimpleNamespace

    geometry = SimpleNamespace(groups={n: list(r) if isinstance(r, tuple) else r
                                       for n, r in chosen}, mesh_groups=dict(dims))
    gmsh = open_step(path)
    try:
        regions, faces = _groups(gmsh, geometry)
        owner = {t: name for name, tags in regions.items() for t in tags}
        return {name: tuple(r for r in regions if any(
                    owner.get(int(v)) == r for t in tags
                    for v in gmsh.model.getAdjacencies(2, t)[0]))
                for name, tags in faces.items()}
    finally:
        gmsh.finalize()


def _diagonal(gmsh) -> float:
    b = np.array(gmsh.model.getBoundingBox(-1, -1))
    return float(np.linalg.norm(b[3:] - b[:3]))


def layout(case) -> Layout3D:
    """The beam frame on the CAD beam face at the impact point (no mesh).

    Raises:
        CaseError: the impact point is not on the beam face (farther than 1e-4 of the
            model's size), or the beam does not hit it from outside the target.
    """
    g = case.geometry
    gmsh = open_step(g.file)
    try:
        regions, faces = _groups(gmsh, g)
        p = np.asarray(g.impact_point_m, float)
        scale = _diagonal(gmsh)
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
    regions, faces = _groups(gmsh, g)
    h_max = min(h_max, 0.1 * _diagonal(gmsh))  # (mesh.max_size_mm, else a tenth of the part)
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
