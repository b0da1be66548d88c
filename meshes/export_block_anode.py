"""Write the block anode (block_anode.msh) through meshio in the formats of other FE tools,
as they would carry its regions and faces:

- block_anode.inp  Abaqus input, mm: element sets (ELSET) target, heat_sink, beam_face, ...
- block_anode.vtu  VTK, m: only a tag array (gmsh:physical); names mapped in the case
- block_anode.med  Salome MED, mm: groups (families) of cells
- block_anode.exo  Exodus II, mm: one element block per region (unnamed: blocks 1, 2), the
                   faces as named node sets

    .venv/bin/python meshes/export_block_anode.py OUTDIR

prints, per file, the [geometry] table of a case that reads it (the README's worked
examples; tests/test_user_mesh.py runs them against the .msh).
"""

import sys
from pathlib import Path

import meshio
import numpy as np

MSH = Path(__file__).resolve().parent / "block_anode.msh"
FORMATS = ("inp", "vtu", "med", "exo")


def export(out_dir: Path, fmt: str) -> dict:
    """Write block_anode.<fmt> into out_dir; the case's [geometry] keys that read it."""
    m = meshio.read(MSH)
    names = {int(v[0]): k for k, v in m.field_data.items()}
    tags = m.cell_data["gmsh:physical"]
    path = Path(out_dir) / f"block_anode.{fmt}"
    geometry = {"kind": "user_mesh", "file": str(path), "mesh_unit": "mm",
                "impact_point_mm": [0.0, 0.0, 0.0]}
    if fmt == "exo":  # one element block per region, in the .msh's order; faces: node sets
        faces = {k: np.unique(np.concatenate([b.data.ravel() for b, a in zip(m.cells, tags)
                                              if b.type == "triangle" and a[0] == v[0]]))
                 for k, v in m.field_data.items() if v[1] == 2}
        meshio.write(path, meshio.Mesh(m.points * 1e3, [b for b in m.cells if b.type == "tetra"],
                                       point_sets=faces))
        blocks = [int(a[0]) for a, b in zip(tags, m.cells) if b.type == "tetra"]
        geometry["groups"] = {**{names[t]: i for i, t in enumerate(blocks, start=1)},
                              "beam_face": "beam_face", "cooled_end": "cooled_end"}
        return geometry
    types = list(dict.fromkeys(b.type for b in m.cells))  # one block per type (MED needs it)
    cells = [(t, np.concatenate([b.data for b in m.cells if b.type == t])) for t in types]
    tag = [np.concatenate([a for a, b in zip(tags, m.cells) if b.type == t]) for t in types]
    if fmt == "inp":
        sets = {n: [np.flatnonzero(a == t) for a in tag] for t, n in names.items()}
        meshio.write(path, meshio.Mesh(m.points * 1e3, cells, cell_sets=sets))
    elif fmt == "vtu":
        meshio.write(path, meshio.Mesh(m.points, cells, cell_data={"gmsh:physical": tag}))
        geometry["mesh_unit"] = "m"
        geometry["groups"] = {n: t for t, n in names.items()}
    elif fmt == "med":  # negative family numbers for cells, each family in one group
        med = meshio.Mesh(m.points * 1e3, cells, cell_data={"cell_tags": [-a for a in tag]})
        med.cell_tags = {-t: [n] for t, n in names.items()}
        meshio.write(path, med)
    else:
        raise ValueError(f"format {fmt!r}; expected one of {FORMATS}")
    return geometry


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    out.mkdir(parents=True, exist_ok=True)
    for fmt in FORMATS:
        print(fmt, export(out, fmt))
