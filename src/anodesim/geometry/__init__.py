"""Meshes without equations: layouts (regions, faces, the beam frame, the stack below the
spot) and gmsh meshes read into dolfinx with their named tags.

- axisym.py: axisymmetric polygon layouts and their gmsh geo builder;
- reflection3d.py: the 3-D reflection anode (gmsh OCC);
- user_mesh.py: a user's mesh (read by case/mesh_import.py) in dolfinx, its beam frame;
- cad.py: a STEP anode (gmsh OpenCASCADE), its regions and faces by name or box;
- mesh.py: gmsh sessions, AnodeMesh, to_dolfinx, the element sizes of a case.
"""

from . import axisym, cad, reflection3d, user_mesh
from .mesh import AnodeMesh, generate, mesh_sizes, start_gmsh, to_dolfinx

__all__ = ["AnodeMesh", "axisym", "cad", "generate", "mesh_sizes", "reflection3d", "start_gmsh",
           "to_dolfinx", "user_mesh"]
