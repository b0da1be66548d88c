"""Meshes without equations: layouts (regions, faces, the beam frame, the stack below the
spot) and gmsh meshes read into dolfinx with their named tags.

- axisym.py: axisymmetric polygon layouts and their gmsh geo builder;
- reflection3d.py: the 3-D reflection anode (gmsh OCC);
- user_mesh.py: a user's mesh (read by case/mesh_import.py) in dolfinx, its beam frame;
- cad.py: a STEP anode (gmsh OpenCASCADE), its regions and faces by name or box;
- mesh.py: gmsh sessions, AnodeMesh, to_dolfinx, the element sizes of a case.
"""

from . import ahead, axisym, cad, reflection3d, user_mesh
from .mesh import AnodeMesh, generate, mesh_sizes, start_gmsh, to_dolfinx

__all__ = ["AnodeMesh", "ahead", "axisym", "build_mesh", "cad", "generate", "mesh_file_error",
           "mesh_sizes", "reflection3d", "start_gmsh", "to_dolfinx", "user_mesh"]


def build_mesh(case, prep, path=None):
    """Mesh a prepared case's geometry (built-in or CAD; resolve.prepare) with gmsh as a
    run does, at the sizes of mesh_sizes, written to path (.msh) if given: the gmsh module
    with the meshed model (the caller finalises)."""
    if case.geometry.kind == "user_mesh":  # a caller's bug: that mesh is read, not built
        raise RuntimeError("build_mesh: a user's mesh is read from geometry.file, not built")
    h_min, growth, h_max = mesh_sizes(case, prep.spot)
    if case.geometry.kind == "cad":
        return cad.build(case, prep.lay, h_min, growth, h_max, prep.zone_depth, path)
    if case.geometry.dim == 3:
        return reflection3d.build(prep.lay, h_min, growth, h_max, prep.zone_depth, path)
    return axisym.build(prep.lay, set(case.interfaces), h_min, growth, h_max,
                        prep.spot.radius_m, prep.zone_depth, path)


def mesh_file_error(case, unreadable: Exception | None = None, cells: str = ""):
    """The CaseError of a mesh.file that cannot serve the case, worded once for both of its
    readers (cost.mesh_cells through gmsh, simulation._mesh through dolfinx): gmsh could
    not read it (unreadable: gmsh's exception), or its cells are not of the geometry's
    dimension (cells: what was found instead)."""
    from ..errors import CaseError

    where = f"mesh.file = {case.mesh.file!r}"
    if unreadable is not None:
        return CaseError(f"{where}: cannot read it as a gmsh mesh ({unreadable})")
    return CaseError(f"{where}: {cells}; expected a mesh of this {case.geometry.dim}-D "
                     "geometry")
