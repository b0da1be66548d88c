"""A STEP file opened with gmsh's OpenCASCADE kernel (in metres, touching solids fragmented
so that they share their faces), and the names of its solids: the case reader lists them
(the regions of a CAD case without [geometry.regions]); geometry/cad.py meshes the file.
"""

from __future__ import annotations

from .reader import CaseError


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
        _, pieces = gmsh.model.occ.fragment(vols, [])
        gmsh.model.occ.synchronize()
        for (_, old), new in zip(vols, pieces):
            for d, t in new:
                if d == 3:
                    gmsh.model.setEntityName(3, t, names[old])
    return gmsh


def _label(gmsh, tag: int) -> str:
    gmsh.model.occ.synchronize()
    return gmsh.model.getEntityName(3, tag)


def name_of(gmsh, dim: int, tag: int) -> str:
    """The name of an entity: the last part of its label (the STEP product name)."""
    return gmsh.model.getEntityName(dim, tag).split("/")[-1]


