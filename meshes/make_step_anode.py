"""Make step_anode.step: a Cu rod (radius 3 mm, length 5 mm) with a W disc (radius 1 mm,
0.5 mm thick) let into its top face, as two named solids "W_disc" and "Cu_body" - the way
a CAD tool exports a two-body part (STEP AP214, lengths in mm, each body a PRODUCT whose
name is the body's name).

gmsh writes the STEP geometry but names its products "Open CASCADE STEP translator ...";
this script renames them to the bodies' names, re-reads the file and checks that gmsh
finds each named solid where it was made. Run from the repository root:

    .venv/bin/python meshes/make_step_anode.py
"""

import re
from pathlib import Path

import gmsh

HERE = Path(__file__).resolve().parent
OUT = HERE / "step_anode.step"
# body name → (centre of mass in mm, to 0.1 mm) to check the names after re-reading
BODIES = {"W_disc": (0.0, 0.0, 4.75), "Cu_body": (0.0, 0.0, 2.5)}


def build() -> None:
    gmsh.initialize(interruptible=False)
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.model.add("step_anode")
    occ = gmsh.model.occ
    rod = occ.addCylinder(0, 0, 0, 0, 0, 5.0, 3.0)
    disc = occ.addCylinder(0, 0, 4.5, 0, 0, 0.5, 1.0)
    occ.fragment([(3, rod)], [(3, disc)])  # the rod gets the disc's pocket, faces shared
    occ.synchronize()
    # gmsh writes the solids in tag order: record which body each is
    order = []
    for _, tag in sorted(gmsh.model.getEntities(3)):
        z = occ.getCenterOfMass(3, tag)[2]
        order.append("W_disc" if z > 4.5 else "Cu_body")
    tmp = OUT.with_suffix(".tmp.step")
    gmsh.write(str(tmp))
    gmsh.finalize()
    text = tmp.read_text()
    products = sorted(set(re.findall(r"PRODUCT\('(Open CASCADE STEP translator [^']*)'", text)),
                      key=len)
    assembly, parts = products[0], sorted(products[1:])
    for old, new in zip(parts, order):
        text = text.replace(f"'{old}'", f"'{new}'")
    text = text.replace(f"'{assembly}'", "'step_anode'")
    tmp.write_text(text)
    tmp.replace(OUT)


def check() -> None:
    gmsh.initialize(interruptible=False)
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.model.occ.importShapes(str(OUT))
    gmsh.model.occ.synchronize()
    for _, tag in gmsh.model.getEntities(3):
        name = gmsh.model.getEntityName(3, tag).split("/")[-1]
        z = gmsh.model.occ.getCenterOfMass(3, tag)[2]
        assert abs(z - BODIES[name][2]) < 0.1, (name, z)  # (the pocket moves Cu's)
    gmsh.finalize()


if __name__ == "__main__":
    build()
    check()
    print(f"wrote {OUT}")
