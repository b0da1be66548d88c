"""3-D reflection anode built with the gmsh OCC kernel, and the beam frame on its face.

Frame (the tube frame of the drift map): the anode rod is a cylinder of radius
``anode_radius`` along z, cooled at z = 0. Its end face is a plane through the impact point
c = (0, 0, anode_length) on the rod axis, cut at the angle α about the y axis:

    outward face normal  n  = (sin α, 0, cos α)
    face axes            e₁ = (cos α, 0, −sin α)   (down the slope),   e₂ = (0, 1, 0)

The case's ``anode_angle_deg`` θ is the textbook target angle (frames.py): the angle between
the face and the central ray, perpendicular to the beam. With the default axial entry the
beam runs along the rod, b = (0, 0, −1), the cut is α = θ and the beam meets the face θ from
its normal; the central ray is (1, 0, 0). With ``beam.entry = "side"`` the beam crosses the
rod, b = (−1, 0, 0), the cut is α = 90° − θ (incidence θ again) and the central ray runs
along the rod, (0, 0, 1). A W disc of radius ``insert_radius`` and thickness
``insert_thickness`` is let into the face, centred on c, its axis along n.

Names are those of the axisymmetric ``reflection_insert``: regions ``target`` (the disc)
and ``heat_sink`` (the rod); faces ``beam_face`` (the disc's exposed face), ``anode_face``
(the rest of the cut face), ``side`` (the rod's mantle), ``cooled_end`` (z = 0); the
interface ``target_heat_sink`` (perfect contact: one shared surface; a contact conductance
is not offered in 3-D).

User meshes get the same beam frame from the mesh itself (user_mesh.py).

The mesh is graded around the deposition zone as in 2-D: h = min(h_max, h_min + growth ·
distance from the zone), the zone being the spot's box (half-extents along its own axes in
the face) down to the deposition depth along −n.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..frames import BeamFrame, rod_frame
from .mesh import generate, start_gmsh, zone_size


@dataclass
class Layout3D:
    """The 3-D reflection anode: sizes, beam frame and the stack below the spot.

    Attributes:
        sizes: the geometry's dimensions (m).
        angle: face cut α (rad) from the plane normal to the rod axis.
        frame: the beam frame on the face.
        stack: (region, thickness m) below the spot along −n.
        scale: largest dimension (m).
        zone: (u axis in the face, half-extent along u, half-extent along w) of the spot (m).
        rim: radius of a flat-top spot (m), whose edge is embedded in the beam face and
            meshed with elements of 0.06 × rim (the inscribed polygon then holds all but
            0.06 % of the disc's area), or None.
    """
    sizes: dict[str, float]
    angle: float
    frame: BeamFrame
    stack: list[tuple[str, float]]
    scale: float
    zone: tuple = field(default=(np.array([1.0, 0.0, 0.0]), 0.0, 0.0))
    rim: float | None = None
    bounds: tuple | None = None  # user mesh: (lower, upper) corners of its bounding box

    @property
    def face_extent(self) -> float:
        """How far along the face the steady profile is drawn (m)."""
        if self.bounds is not None:
            return 0.25 * self.scale
        return 0.999 * self.sizes["insert_radius_m"]

    @property
    def depth_extent(self) -> float:
        """How deep below the face the steady profile is drawn (m)."""
        if self.bounds is not None:
            return 0.25 * self.scale
        return 0.5 * self.sizes["anode_length_m"]

    @property
    def z_beam(self) -> float:
        """Height of the impact point on the rod axis (m)."""
        return float(self.frame.origin[2])

    def contains(self, p) -> bool:
        """Whether the point p (m) lies in (or on) the rod (user mesh: in its bounding box;
        the run then checks the probe against the cells)."""
        p = np.asarray(p, dtype=float)
        tol = 1e-9 * self.scale
        if self.bounds is not None:
            return bool(np.all(p >= self.bounds[0] - tol) and np.all(p <= self.bounds[1] + tol))
        Rc = self.sizes["anode_radius_m"]
        return bool(p[2] >= -tol and math.hypot(p[0], p[1]) <= Rc + tol
                    and (p - self.frame.origin) @ self.frame.normal <= tol)


def layout(case) -> Layout3D:
    """The layout of a ``reflection_3d`` case (no gmsh involved)."""
    g = case.geometry
    s = g.sizes_m
    frame = rod_frame(g.anode_angle_rad, case.beam.entry, s["anode_length_m"])
    ti = s["insert_thickness_m"]
    stack = [("target", ti), ("heat_sink", s["anode_length_m"] - ti)]
    return Layout3D(dict(s), g.face_cut_rad, frame, stack,
                    max(s["anode_length_m"], s["anode_radius_m"]))


def build(lay: Layout3D, h_min: float, growth: float, h_max: float, zone_depth: float,
          path: Path | None = None):
    """Mesh the 3-D reflection anode with gmsh (OCC kernel); write it to ``path`` if given.

    Args:
        lay: the layout (its ``zone`` set to the spot's axes and half-extents).
        h_min: smallest element size, at the deposition zone (m).
        growth: element size growth per unit distance from the zone (-).
        h_max: largest element size (m).
        zone_depth: deposition depth below the face (m).
        path: where to write the .msh file.

    Returns:
        The gmsh module with the meshed model (caller finalises).
    """
    gmsh = start_gmsh("anode3d")
    occ = gmsh.model.occ
    s, th, fr = lay.sizes, lay.angle, lay.frame
    Rc, L = s["anode_radius_m"], s["anode_length_m"]
    Ri, ti = s["insert_radius_m"], s["insert_thickness_m"]
    top = L + Rc * math.tan(th) + 0.5 * Rc
    rod = occ.addCylinder(0, 0, 0, 0, 0, top, Rc)
    big = 8.0 * (top + Rc)
    above = occ.addBox(-big / 2, -big / 2, 0, big, big, big)  # half-space z' > 0
    occ.rotate([(3, above)], 0, 0, 0, 0, 1, 0, th)  # (0, 0, 1) → n
    occ.translate([(3, above)], *fr.origin)
    body, _ = occ.cut([(3, rod)], [(3, above)])
    base = fr.origin - ti * fr.normal
    disc = occ.addCylinder(*base, *(ti * fr.normal), Ri)
    _, pieces = occ.fragment(body, [(3, disc)])
    occ.synchronize()
    target = [t for d, t in pieces[1] if d == 3]
    sink = [t for d, t in pieces[0] if d == 3 and t not in target]
    if len(target) != 1 or len(sink) != 1:
        raise RuntimeError(f"reflection_3d: unexpected volumes after fragment ({pieces})")

    def surfaces(vol):
        return {abs(t) for _, t in gmsh.model.getBoundary([(3, vol)], oriented=False)}

    s_t, s_h = surfaces(target[0]), surfaces(sink[0])
    tol = 1e-6 * lay.scale
    groups: dict[str, list[int]] = {}
    for surf in sorted(s_t | s_h):
        com = np.array(occ.getCenterOfMass(2, surf))
        if surf in s_t and surf in s_h:
            name = "target_heat_sink"
        elif abs(com[2]) < tol:
            name = "cooled_end"
        elif abs((com - fr.origin) @ fr.normal) < tol:
            name = "beam_face" if surf in s_t else "anode_face"
        else:
            name = "side"
        groups.setdefault(name, []).append(surf)
    # A node at the impact point, where the temperature peaks (nodal maxima are reported).
    centre = occ.addPoint(*fr.origin)
    occ.synchronize()
    gmsh.model.mesh.embed(0, [centre], 2, groups["beam_face"][0])
    if lay.rim is not None:  # the flat top's edge, where the source jumps
        ring = occ.addCircle(*fr.origin, lay.rim, zAxis=list(fr.normal), xAxis=list(fr.e1))
        occ.synchronize()
        gmsh.model.mesh.embed(1, [ring], 2, groups["beam_face"][0])
    for i, (name, tags) in enumerate(sorted(groups.items()), start=1):
        gmsh.model.addPhysicalGroup(2, tags, i, name=name)
    gmsh.model.addPhysicalGroup(3, target, 10, name="target")
    gmsh.model.addPhysicalGroup(3, sink, 11, name="heat_sink")

    size = zone_size(lay, h_min, growth, h_max, zone_depth)
    return generate(gmsh, 3, size, path)
