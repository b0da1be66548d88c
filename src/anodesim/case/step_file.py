"""A STEP file opened with gmsh's OpenCASCADE kernel (in metres, touching solids fragmented
so that they share their faces), and the names of its solids: the case reader lists them
(the regions of a CAD case without [geometry.regions]); geometry/cad.py meshes the file.
"""

from __future__ import annotations

import math

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


