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

With ``[geometry.housing]`` a cylindrical shell (inner radius R_h < rod radius ≤ outer
radius R_o) continues the rod from z = 0 down to the mounting face at z = −length, as in the
axisymmetric geometry: region ``housing``, faces ``housing_inner`` (r = R_h: the coolant),
``housing_outer`` (r = R_o, and the step z = 0, R_c < r < R_o when the shell is wider),
``mount_face`` (z = −length), interface ``heat_sink_housing`` (the annulus R_h < r < R_c at
z = 0); ``cooled_end`` is then the disc r < R_h. The cylinders' seams put nodes on the +x
axis of every end face; a case with a sliding mount also gets a node at the centre of
``cooled_end``: the centring pin and slot of a sliding mount in 3-D (mechanics.py) sit there.

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

from ..case.model import HOUSING_INTERFACE
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
    housing: dict[str, float] | None = None  # inner_radius_m, outer_radius_m, length_m
    pin: bool = False  # a node at the centre of cooled_end (a sliding mount's pin)
    spot_element: float | None = None  # user mesh: longest edge of the beam-face
    # triangle at the impact point (m)

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
        return bool(self.contains_all(np.asarray(p, dtype=float)[None, :])[0])

    def contains_all(self, p) -> np.ndarray:
        """contains() for many points at once: p (..., 3) m, a bool array of shape (...)."""
        p = np.asarray(p, dtype=float)
        tol = 1e-9 * self.scale
        if self.bounds is not None:
            return (np.all(p >= self.bounds[0] - tol, axis=-1)
                    & np.all(p <= self.bounds[1] + tol, axis=-1))
        Rc, r, z = self.sizes["anode_radius_m"], np.hypot(p[..., 0], p[..., 1]), p[..., 2]
        rod = ((z >= -tol) & (r <= Rc + tol)
               & ((p - self.frame.origin) @ self.frame.normal <= tol))
        hs = self.housing
        if hs:
            rod |= ((-hs["length_m"] - tol <= z) & (z <= tol)
                    & (hs["inner_radius_m"] - tol <= r) & (r <= hs["outer_radius_m"] + tol))
        return rod


def layout(case) -> Layout3D:
    """The layout of a ``reflection_3d`` case (no gmsh involved)."""
    g = case.geometry
    s = g.sizes_m
    frame = rod_frame(g.anode_angle_rad, case.beam.entry, s["anode_length_m"])
    ti = s["insert_thickness_m"]
    stack = [("target", ti), ("heat_sink", s["anode_length_m"] - ti)]
    hs = g.housing_m
    scale = max(s["anode_length_m"], s["anode_radius_m"])
    if hs:
        scale = max(s["anode_length_m"] + hs["length_m"], hs["outer_radius_m"])
    mech = case.mechanics
    pin = mech is not None and "sliding" in mech.mounts.values()
    return Layout3D(dict(s), g.face_cut_rad, frame, stack, scale, housing=hs, pin=pin)


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
    tools = [(3, disc)] + ([(3, _housing_shell(occ, lay.housing))] if lay.housing else [])
    _, pieces = occ.fragment(body, tools)
    occ.synchronize()
    target = [t for d, t in pieces[1] if d == 3]
    house = [t for d, t in pieces[2] if d == 3] if lay.housing else []
    sink = [t for d, t in pieces[0] if d == 3 and t not in target]
    if len(target) != 1 or len(sink) != 1 or len(house) != (1 if lay.housing else 0):
        raise RuntimeError(f"reflection_3d: unexpected volumes after fragment ({pieces})")
    groups = _name_surfaces(gmsh, lay, target[0], sink[0], house[0] if house else None)
    # A node at the impact point, where the temperature peaks (nodal maxima are reported).
    centre = occ.addPoint(*fr.origin)
    pin = occ.addPoint(0.0, 0.0, 0.0) if lay.pin else None
    occ.synchronize()
    gmsh.model.mesh.embed(0, [centre], 2, groups["beam_face"][0])
    if pin is not None:  # a sliding mount's centring pin
        gmsh.model.mesh.embed(0, [pin], 2, groups["cooled_end"][0])
    if lay.rim is not None:  # the flat top's edge, where the source jumps
        ring = occ.addCircle(*fr.origin, lay.rim, zAxis=list(fr.normal), xAxis=list(fr.e1))
        occ.synchronize()
        gmsh.model.mesh.embed(1, [ring], 2, groups["beam_face"][0])
    for i, (name, tags) in enumerate(sorted(groups.items()), start=1):
        gmsh.model.addPhysicalGroup(2, tags, i, name=name)
    gmsh.model.addPhysicalGroup(3, target, 10, name="target")
    gmsh.model.addPhysicalGroup(3, sink, 11, name="heat_sink")
    if house:
        gmsh.model.addPhysicalGroup(3, house, 12, name="housing")

    size = zone_size(lay, h_min, growth, h_max, zone_depth)
    return generate(gmsh, 3, size, path)


def _housing_shell(occ, hs: dict[str, float]) -> int:
    """The housing shell R_h ≤ r ≤ R_o, −length ≤ z ≤ 0 (an OCC volume tag)."""
    Lh = hs["length_m"]
    outer = occ.addCylinder(0, 0, -Lh, 0, 0, Lh, hs["outer_radius_m"])
    inner = occ.addCylinder(0, 0, -Lh, 0, 0, Lh, hs["inner_radius_m"])
    shell, _ = occ.cut([(3, outer)], [(3, inner)])
    return shell[0][1]


def _name_surfaces(gmsh, lay: Layout3D, target: int, sink: int,
                   house: int | None) -> dict[str, list[int]]:
    """Face and interface name → surface tags, from where each surface lies."""
    occ, fr = gmsh.model.occ, lay.frame

    def surfaces(vol):
        return {abs(t) for _, t in gmsh.model.getBoundary([(3, vol)], oriented=False)}

    s_t, s_h = surfaces(target), surfaces(sink)
    s_w = surfaces(house) if house is not None else set()
    tol = 1e-6 * lay.scale
    groups: dict[str, list[int]] = {}
    for surf in sorted(s_t | s_h | s_w):
        com = np.array(occ.getCenterOfMass(2, surf))
        if surf in s_t and surf in s_h:
            name = "target_heat_sink"
        elif surf in s_h and surf in s_w:
            name = HOUSING_INTERFACE
        elif surf in s_w:
            name = _housing_face(gmsh, lay.housing, surf, com, tol)
        elif abs(com[2]) < tol:
            name = "cooled_end"
        elif abs((com - fr.origin) @ fr.normal) < tol:
            name = "beam_face" if surf in s_t else "anode_face"
        else:
            name = "side"
        groups.setdefault(name, []).append(surf)
    return groups


def _housing_face(gmsh, hs: dict[str, float], surf: int, com, tol: float) -> str:
    """The name of a surface of the housing shell alone: its far end, its inside, or its
    outside (with the step at z = 0 when it is wider than the rod)."""
    if abs(com[2] + hs["length_m"]) < tol:
        return "mount_face"
    x0, y0, z0, x1, y1, z1 = gmsh.model.getBoundingBox(2, surf)
    if z1 - z0 > tol and abs(max(x1, y1, -x0, -y0) - hs["inner_radius_m"]) < 1e-3 * hs[
            "inner_radius_m"]:
        return "housing_inner"
    return "housing_outer"
