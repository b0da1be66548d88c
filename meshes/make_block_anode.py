"""Mesh block_anode.geo into block_anode.msh (metres, gmsh 4.1 format).

Run: ``.venv/bin/python meshes/make_block_anode.py`` (a few seconds).
"""

from pathlib import Path

import gmsh

HERE = Path(__file__).resolve().parent


def main() -> None:
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.open(str(HERE / "block_anode.geo"))
        gmsh.model.mesh.generate(3)
        gmsh.write(str(HERE / "block_anode.msh"))
    finally:
        gmsh.finalize()


if __name__ == "__main__":
    main()
