"""A STEP file opened with gmsh's OpenCASCADE kernel (in metres, touching solids fragmented
so that they share their faces), the names of its solids (the case reader lists them: the
regions of a CAD case without [geometry.regions]), the case's selections of regions and
faces in it, and the regions each selected face bounds (the case reader's and the rating's
coolant-side rule, model.cooled_regions); geometry/cad.py meshes the file.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

from .reader import CaseError

#: The fuzzy tolerance of the fragmentation that joins the solids, × the model's bounding-box
#: diagonal (0.1 µm on a 10 mm anode): an overlap or a gap below it is a CAD export's or a
#: unit conversion's round-off, far below any feature of an anode; larger ones are refused.
BOOLEAN_TOLERANCE = 1e-5


class CadError(CaseError):
    """A STEP file or selection that cannot be used (one line naming the key)."""


def solid_names(path: str) -> dict[str, int]:
    """Body name → number of solids of that name in the STEP file (unnamed: '')."""
    gmsh = open_step(path)
    try:
        out: dict[str, int] = {}
        for _, tag in gmsh.model.getEntities(3):
            name = name_of(gmsh, 3, tag)
            out[name] = out.get(name, 0) + 1
        return out
    finally:
        gmsh.finalize()


def open_step(path: str):
    """gmsh with the STEP file imported in metres and its solids fragmented."""
    import gmsh

    if not gmsh.isInitialized():
        gmsh.initialize(interruptible=False)
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.model.add("cad")
    gmsh.option.setString("Geometry.OCCTargetUnit", "M")
    try:
        vols = gmsh.model.occ.importShapes(str(path))
    except Exception as e:  # noqa: BLE001 - gmsh raises plain Exceptions
        gmsh.finalize()
        raise CadError(f"geometry.file = {str(path)!r}: gmsh cannot read it as STEP ({e}); "
                       "expected a STEP file with solids") from None
    vols = [v for v in vols if v[0] == 3]
    if not vols:
        gmsh.finalize()
        raise CadError(f"geometry.file = {str(path)!r}: no solids in it; expected a STEP "
                       "file with solid bodies (not surfaces)")
    names = {t: _label(gmsh, t) for _, t in vols}
    gmsh.model.occ.synchronize()
    if len(vols) > 1:  # shared faces between touching bodies: conformal mesh
        # solids a CAD export or a unit conversion leaves overlapping or apart by a hair
        # (1 nm, 0.1 µm) are joined, not refused: the boolean's fuzzy tolerance
        box = gmsh.model.getBoundingBox(-1, -1)
        size = math.dist(box[:3], box[3:])
        gmsh.option.setNumber("Geometry.ToleranceBoolean", BOOLEAN_TOLERANCE * size)
        _, pieces = gmsh.model.occ.fragment(vols, [])
        gmsh.model.occ.synchronize()
        owner: dict[int, str] = {}
        for (_, old), new in zip(vols, pieces):
            for d, t in new:
                if d == 3 and t in owner:  # a piece of two solids: they overlap
                    gmsh.finalize()
                    pair = " and ".join(repr(n.split("/")[-1] or "(unnamed)")
                                        for n in (owner[t], names[old]))
                    raise CadError(f"geometry.file = {str(path)!r}: the solids {pair} overlap; "
                                   "expected solids that touch without overlapping (cut the "
                                   "one from the other in CAD: the overlap has no material)")
                if d == 3:
                    owner[t] = names[old]
                    gmsh.model.setEntityName(3, t, names[old])
        _check_touching(gmsh, path)
    return gmsh


def _check_touching(gmsh, path) -> None:
    """The fragmented solids form one body: each joined to the rest through shared faces
    (solids apart exchange no heat: a steady run would be singular, a transient one would
    heat the target as if insulated)."""
    solids = [t for _, t in gmsh.model.getEntities(3)]
    part = {t: t for t in solids}

    def root(t):
        while part[t] != t:
            t = part[t]
        return t

    by_face: dict[int, int] = {}
    for t in solids:
        for f in gmsh.model.getAdjacencies(3, t)[1]:
            if f in by_face:
                part[root(t)] = root(by_face[f])
            by_face[f] = t
    bodies: dict[int, list[str]] = {}
    for t in solids:
        bodies.setdefault(root(t), []).append(name_of(gmsh, 3, t) or "(unnamed)")
    if len(bodies) > 1:
        gmsh.finalize()
        listed = "; ".join(", ".join(sorted(set(b))) for b in bodies.values())
        raise CadError(f"geometry.file = {str(path)!r}: the solids fall into {len(bodies)} "
                       f"bodies that do not touch ({listed}); expected solids that touch, "
                       "sharing faces (no heat crosses a gap)")


def _label(gmsh, tag: int) -> str:
    gmsh.model.occ.synchronize()
    return gmsh.model.getEntityName(3, tag)


def name_of(gmsh, dim: int, tag: int) -> str:
    """The name of an entity: the last part of its label (the STEP product name)."""
    return gmsh.model.getEntityName(dim, tag).split("/")[-1]


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


def selections(gmsh, geometry) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """(region → volume tags, face → surface tags) of the case's selections."""
    eps = 1e-4 * diagonal(gmsh)  # (OCC pads bounding boxes by its tolerance, 1e-7 m)
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
        regions, faces = selections(gmsh, geometry)
        owner = {t: name for name, tags in regions.items() for t in tags}
        return {name: tuple(r for r in regions if any(
                    owner.get(int(v)) == r for t in tags
                    for v in gmsh.model.getAdjacencies(2, t)[0]))
                for name, tags in faces.items()}
    finally:
        gmsh.finalize()


def diagonal(gmsh) -> float:
    """The diagonal of the open model's bounding box (m)."""
    b = gmsh.model.getBoundingBox(-1, -1)
    return math.dist(b[:3], b[3:])
