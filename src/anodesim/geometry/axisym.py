"""Axisymmetric anode geometries built with gmsh and read into dolfinx with their tags.

Coordinates are (r, z) in metres; the beam travels along −z and hits the beam face at
r = 0, z = ``z_beam``. Each region is a polygon; an edge shared by two regions is one
gmsh curve (perfect thermal contact) unless the case gives the interface a conductance,
in which case each side gets its own curve, tied by ``setPeriodic`` so that the nodes
coincide but are not connected: the thermal solver couples the two sides through the
conductance. Physical groups carry the names used in the case file: regions, faces, and
interfaces (``<name>`` when shared, ``<name>@<region>`` per side when split).

The mesh is graded around the deposition zone (spot radius × deposition depth): element
size h = min(h_max, h_min + growth · distance), h_min = spot_fraction × spot size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..case import Case
from ..case.model import HOUSING_INTERFACE
from .mesh import generate, start_gmsh


AXIS = "axis"
#: Growth of the element size with distance from a refined joint corner (-): at 12.5 µm
#: corners 0.2 gives the shipped example's yield use at 10 s as 1.1073 against 1.1164 with
#: growth 0.1 (−0.8 %, within the README's 1.4 % of refined meshes) for 2 344 fewer cells
#: (3 242 against 5 586); 0.3, 1.1079 (the balls take whole cells: not monotone).
#: Measured 2026-12-05 after the coupling fix of 2026-12-04 (before it: 1.1126, 1.1115).
CORNER_GROWTH = 0.2


@dataclass
class Layout:
    """What the builders need, and what the solver needs to know of the geometry.

    Attributes:
        regions: name → polygon vertices (r, z) counter-clockwise; consecutive vertices
            define edges; ``arcs`` marks edges that are circle arcs about a centre.
        arcs: (region, edge index) → arc centre (r, z).
        z_beam: height of the beam face (m).
        stack: (region, thickness m) below the spot, from the beam face down.
        faces: classifier (region, edge midpoint) → face name (or AXIS).
        interfaces: frozenset of two regions → interface name.
        thin: region → thickness (m) for thin layers whose element size is capped.
        caps: region → largest element size there (m; e.g. a housing's wall).
    """

    regions: dict[str, list[tuple[float, float]]]
    arcs: dict[tuple[str, int], tuple[float, float]]
    z_beam: float
    stack: list[tuple[str, float]]
    faces: object
    interfaces: dict[frozenset, str]
    thin: dict[str, float] = field(default_factory=dict)
    caps: dict[str, float] = field(default_factory=dict)  # region → largest element (m)
    scale: float = 1.0  # largest dimension (m)
    embedded: list[tuple[str, tuple, tuple]] = field(default_factory=list)
    corners: list[tuple[float, float]] = field(default_factory=list)  # refined points (m)
    corner_size: float = 0.0  # element size at the corners (m)

    def joint_corners(self, region: str) -> list[tuple[float, float]]:
        """The vertices off the axis that region shares with another region: where its
        joints end or turn (bi-material corners, where the stress of a bonded joint is
        singular)."""
        own = set(self.regions[region])
        shared = {p for other, poly in self.regions.items() if other != region
                  for p in poly if p in own}
        return sorted(p for p in shared if p[0] > 1e-12 * self.scale)

    def outline(self, region: str) -> np.ndarray:
        """The region's boundary as a closed polyline (arcs as 64 segments), (n, 2)."""
        poly = self.regions[region]
        pts = []
        for i, p in enumerate(poly):
            q = poly[(i + 1) % len(poly)]
            if (region, i) in self.arcs:
                c = np.asarray(self.arcs[(region, i)])
                a0 = np.arctan2(p[1] - c[1], p[0] - c[0])
                a1 = np.arctan2(q[1] - c[1], q[0] - c[0])
                if a1 < a0:
                    a1 += 2 * np.pi
                R = np.hypot(p[0] - c[0], p[1] - c[1])
                a = np.linspace(a0, a1, 65)[:-1]
                pts.extend(np.column_stack([c[0] + R * np.cos(a), c[1] + R * np.sin(a)]))
            else:
                pts.append(p)
        return np.asarray(pts, dtype=float)

    def contains(self, r: float, z: float) -> bool:
        """Whether (r, z) lies in (or on the boundary of) any region."""
        return any(self._holds(region, r, z) for region in self.regions)

    def regions_at(self, r: float, z: float) -> list[str]:
        """The regions holding (r, z) in their interior or on their boundary (m): two on
        an interface."""
        return [region for region in self.regions if self._holds(region, r, z)]

    def _holds(self, region: str, r: float, z: float) -> bool:
        """Whether (r, z) lies in region or on its boundary (within 1e-9 of the body)."""
        tol = 1e-9 * self.scale
        xy = self.outline(region)
        nxt = np.roll(xy, -1, axis=0)
        d = nxt - xy
        t = np.clip(((r - xy[:, 0]) * d[:, 0] + (z - xy[:, 1]) * d[:, 1])
                    / np.maximum((d ** 2).sum(axis=1), 1e-300), 0.0, 1.0)
        if np.min(np.hypot(xy[:, 0] + t * d[:, 0] - r, xy[:, 1] + t * d[:, 1] - z)) <= tol:
            return True
        crossing = (xy[:, 1] > z) != (nxt[:, 1] > z)
        x_at = xy[:, 0] + (z - xy[:, 1]) * d[:, 0] / np.where(d[:, 1] == 0, 1e-300, d[:, 1])
        return np.count_nonzero(crossing & (r < x_at)) % 2 == 1

    def embed_spot_edge(self, a: float, depth: float) -> None:
        """Embed the edge r = a of a flat-top spot down to the deposition depth, so that
        the elements follow the discontinuity of the source (layer by layer). A spot as
        wide as the face (no rim vertex on it, _rim) has no edge inside the body to embed."""
        top = self.z_beam
        face = max(x for x, z in self.regions[self.stack[0][0]] if z == top)
        if _rim(a, face, top) == []:
            return
        for region, thickness in self.stack:
            bottom = top - min(depth, thickness)
            if bottom < top - thickness + 1e-12 * self.scale:  # reaches the next layer
                bottom = top - thickness
                for poly in self.regions.values():
                    _insert_vertex(poly, (a, bottom))
            self.embedded.append((region, (a, top), (a, bottom)))
            depth -= top - bottom
            top = bottom
            if depth <= 1e-12 * self.scale:
                return


def _rim(a: float, R: float, z: float) -> list[tuple[float, float]]:
    """The spot's rim vertex (a, z) on a beam face of radius R (m), or none where the spot
    is as wide as the face: a flat top of the target's diameter put a second vertex on the
    face's corner, a zero-length edge gmsh meshed into a mesh that aborted dolfinx's
    partitioner (MPI "Invalid rank", exit status 6, no message)."""
    return [(a, z)] if a < R * (1.0 - 1e-9) else []


def _insert_vertex(poly: list, p: tuple) -> None:
    """Insert p into the polygon on the straight edge that contains it (if any)."""
    for i in range(len(poly)):
        (x0, y0), (x1, y1) = poly[i], poly[(i + 1) % len(poly)]
        if p in (poly[i], poly[(i + 1) % len(poly)]):
            return
        cross = (x1 - x0) * (p[1] - y0) - (y1 - y0) * (p[0] - x0)
        inside = min(x0, x1) <= p[0] <= max(x0, x1) and min(y0, y1) <= p[1] <= max(y0, y1)
        if abs(cross) < 1e-18 and inside:
            poly.insert(i + 1, p)
            return


def _insert_layout(g, a: float) -> Layout:
    """W insert in the end face of a Cu rod cooled at its far end (z = 0); with a housing, a
    cylindrical shell (inner radius < rod radius ≤ outer radius) continues the rod from z = 0
    down to the mounting face at z = −length, the coolant inside it (``housing_inner``), its
    outside (``housing_outer``) to ambient; the rod's cooled end is the disc inside the shell."""
    s = g.sizes_m
    Ri, ti, Rc, L = (s["insert_radius_m"], s["insert_thickness_m"], s["anode_radius_m"],
                     s["anode_length_m"])
    hs = g.housing_m
    Rh = hs["inner_radius_m"] if hs else Rc
    regions = {
        "target": [(0, L - ti), (Ri, L - ti), (Ri, L)] + _rim(a, Ri, L) + [(0, L)],
        "heat_sink": [(0, 0)] + ([(Rh, 0)] if hs else [])
        + [(Rc, 0), (Rc, L), (Ri, L), (Ri, L - ti), (0, L - ti)],
    }
    interfaces = {frozenset(("target", "heat_sink")): "target_heat_sink"}
    caps, scale = {}, max(L, Rc)
    if hs:
        Ro, Lh = hs["outer_radius_m"], hs["length_m"]
        regions["housing"] = ([(Rh, -Lh), (Ro, -Lh), (Ro, 0)] + ([(Rc, 0)] if Ro > Rc else [])
                              + [(Rh, 0)])
        interfaces[frozenset(("heat_sink", "housing"))] = HOUSING_INTERFACE
        caps["housing"] = 0.5 * (Ro - Rh)  # two elements through the wall at least
        scale = max(L + Lh, Ro)

    def faces(region, m):
        r, z = m
        if r < 1e-12 * scale:
            return AXIS
        if abs(z - L) < 1e-9 * L:
            return "beam_face" if region == "target" else "anode_face"
        if region == "housing":
            if abs(z + hs["length_m"]) < 1e-9 * scale:
                return "mount_face"
            return "housing_inner" if abs(r - Rh) < 1e-9 * scale else "housing_outer"
        if abs(r - Rc) < 1e-9 * Rc:
            return "side"
        if abs(z) < 1e-9 * L:
            return "cooled_end"
        return None

    return Layout(regions, {}, L, [("target", ti), ("heat_sink", L - ti)], faces, interfaces,
                  scale=scale, caps=caps)


def layout(case: Case, spot_radius: float) -> Layout:
    """The polygon layout of the case's geometry (no gmsh involved)."""
    g = case.geometry
    s = g.sizes_m
    a = spot_radius
    if g.kind == "reflection_insert":
        return _insert_layout(g, a)
    if g.kind == "transmission":
        tf, Rf, tw, Rw = (s["target_thickness_m"], s["target_radius_m"],
                          s["window_thickness_m"], s["window_radius_m"])
        top = tw + tf
        if Rf < Rw:
            window = [(0, 0), (Rw, 0), (Rw, tw), (Rf, tw), (0, tw)]
        else:
            window = [(0, 0), (Rw, 0), (Rw, tw), (0, tw)]
        regions = {"target": [(0, tw), (Rf, tw), (Rf, top)] + _rim(a, Rf, top) + [(0, top)],
                   "window": window}

        def faces(region, m):
            r, z = m
            if r < 1e-12 * Rw:
                return AXIS
            if abs(z - top) < 1e-9 * top:
                return "beam_face"
            if region == "window" and abs(z - tw) < 1e-9 * tw:
                return "window_face"
            if abs(z) < 1e-9 * top:
                return "exit_face"
            if abs(r - Rw) < 1e-9 * Rw:
                return "rim"
            if region == "target" and abs(r - Rf) < 1e-9 * Rf:
                return "rim" if Rf >= Rw else "target_edge"
            return None

        return Layout(regions, {}, top, [("target", tf), ("window", tw)], faces,
                      {frozenset(("target", "window")): "target_window"},
                      thin={"target": tf}, scale=max(top, Rw))
    # block: a hemisphere of radius R standing for a semi-infinite target.
    R = s["radius_m"]
    regions = {"target": [(0, -R), (R, 0)] + _rim(a, R, 0.0) + [(0, 0)]}

    def faces(region, m):
        r, z = m
        if r < 1e-12 * R:
            return AXIS
        if abs(z) < 1e-12 * R:
            return "beam_face"
        return "far_field"

    return Layout(regions, {("target", 0): (0.0, 0.0)}, 0.0, [("target", R)], faces, {},
                  scale=R)


def build(lay: Layout, split: set[str], h_min: float, growth: float, h_max: float,
          zone_radius: float, zone_depth: float, path: Path | None = None):
    """Mesh the layout with gmsh; write it to ``path`` (.msh) if given.

    Args:
        lay: the polygon layout.
        split: interface names that get a conductance (their sides are not connected).
        h_min: smallest element size, at the deposition zone (m).
        growth: element size growth per unit distance from the zone (-).
        h_max: largest element size (m).
        zone_radius, zone_depth: the deposition zone below the spot (m).
        path: where to write the .msh file.

    Returns:
        The gmsh module with the meshed model (caller finalises).
    """
    gmsh = start_gmsh("anode")
    key = lambda p: (round(p[0] / lay.scale, 12), round(p[1] / lay.scale, 12))  # noqa: E731
    edges, split_side = _edge_users(lay, split, key)
    loops, groups, periodic, point = _curves(gmsh.model.geo, lay, split, key, edges,
                                             split_side)
    embedded = [(region, gmsh.model.geo.addLine(point(region, p), point(region, q)))
                for region, p, q in lay.embedded]
    gmsh.model.geo.synchronize()
    for region, line in embedded:
        gmsh.model.mesh.embed(1, [line], 2, loops[region])
    identity = [1.0, 0, 0, 0, 0, 1.0, 0, 0, 0, 0, 1.0, 0, 0, 0, 0, 1.0]
    for slave, master in periodic:
        # A reversed master is handled by gmsh matching the nodes through the transform.
        gmsh.model.mesh.setPeriodic(1, [slave], [abs(master)], identity)
    for i, ((dim, name), tags) in enumerate(sorted(groups.items()), start=1):
        gmsh.model.addPhysicalGroup(dim, tags, i, name=name)
    size = _size_field(gmsh, lay, loops, h_min, growth, h_max, zone_radius, zone_depth)
    return generate(gmsh, 2, size, path)


def _interface_of(lay: Layout, users) -> str | None:
    """The interface an edge lies on (two regions use it), or None."""
    if len(users) != 2:
        return None
    return lay.interfaces.get(frozenset(u[0] for u in users))


def _edge_users(lay: Layout, split: set[str], key):
    """(edge → [(region, index)], region → the points it owns its own copy of): the region
    on the "minus" side of a split interface uses its own copies of the points."""
    edges: dict[frozenset, list[tuple[str, int]]] = {}
    for name, poly in lay.regions.items():
        for i in range(len(poly)):
            e = frozenset((key(poly[i]), key(poly[(i + 1) % len(poly)])))
            edges.setdefault(e, []).append((name, i))
    split_side: dict[str, set] = {}
    for e, users in edges.items():
        name = _interface_of(lay, users)
        if name in split:
            minus = sorted(u[0] for u in users)[1]
            split_side.setdefault(minus, set()).update(e)
    return edges, split_side


def _curves(geo, lay: Layout, split: set[str], key, edges, split_side):
    """gmsh points, curves and plane surfaces of every region; (surface per region,
    physical groups (dim, name) → tags, periodic (slave, master) pairs, the point maker)."""
    points: dict[tuple, int] = {}

    def point(region, p):
        k = (key(p), region in split_side and key(p) in split_side[region])
        if k not in points:
            points[k] = geo.addPoint(p[0], p[1], 0.0)
        return points[k]

    lines: dict[tuple, int] = {}  # (edge, owner) -> signed line
    groups: dict[tuple[int, str], list[int]] = {}
    periodic: list[tuple[int, int]] = []
    loops = {}
    for name, poly in lay.regions.items():
        loop = []
        for i in range(len(poly)):
            p, q = poly[i], poly[(i + 1) % len(poly)]
            e = frozenset((key(p), key(q)))
            iface = _interface_of(lay, edges[e])
            owner = name if (iface in split) else "shared"
            if (e, owner) in lines:
                tag, (kp, _kq) = lines[(e, owner)]
                loop.append(tag if kp == key(p) else -tag)
                continue
            a, b = point(name, p), point(name, q)
            if (name, i) in lay.arcs:
                c = lay.arcs[(name, i)]
                tag = geo.addCircleArc(a, geo.addPoint(c[0], c[1], 0.0), b)
            else:
                tag = geo.addLine(a, b)
            lines[(e, owner)] = (tag, (key(p), key(q)))
            loop.append(tag)
            _name_curve(lay, split, name, p, q, iface, tag, e, lines, groups, periodic, key)
        loops[name] = geo.addPlaneSurface([geo.addCurveLoop(loop)])
        groups.setdefault((2, name), []).append(loops[name])
    return loops, groups, periodic, point


def _name_curve(lay: Layout, split, name, p, q, iface, tag, e, lines, groups, periodic,
                key) -> None:
    """Put a new curve in its face group, or in its interface group (one per side of a
    split interface, the second side periodic to the first)."""
    if iface is None:
        mid = (0.5 * (p[0] + q[0]), 0.5 * (p[1] + q[1]))
        face = lay.faces(name, mid)
        if face is None:
            raise RuntimeError(f"edge {p}-{q} of {name} has no face name")
        groups.setdefault((1, face), []).append(tag)
    elif iface in split:
        groups.setdefault((1, f"{iface}@{name}"), []).append(tag)
        other = [o for (ee, o) in lines if ee == e and o != name]
        if other:
            master, (mp, _mq) = lines[(e, other[0])]
            periodic.append((tag, master if mp == key(p) else -master))
    else:
        groups.setdefault((1, iface), []).append(tag)


def zone_size(lay: Layout, h_min: float, growth: float, h_max: float, zone_radius: float,
              zone_depth: float):
    """h(r, z) (m): the element size from the deposition zone alone, min(h_max, h_min +
    growth · distance from the zone: r ≤ zone_radius, from the beam face lay.z_beam down to
    zone_depth). The mesh's size field (_size_field) and the cell estimate
    (cost.corner_integral) both use it."""
    z0 = lay.z_beam

    def h(r: float, z: float) -> float:
        depth = z0 - z
        dz = max(0.0, -depth, depth - zone_depth)
        return min(h_max, h_min + growth * math.hypot(max(0.0, r - zone_radius), dz))

    return h


def _size_field(gmsh, lay: Layout, loops, h_min, growth, h_max, zone_radius, zone_depth):
    """Element size h = min(h_max, h_min + growth · distance from the deposition zone),
    at most 10 × the thickness on thin layers (films: aspect ratio ≤ 10) and the curves
    that bound them, and at most lay.corner_size + CORNER_GROWTH · distance from the
    nearest of lay.corners."""
    thin_cap = {}
    largest = {name: 10.0 * t for name, t in lay.thin.items()} | lay.caps
    for name, cap in largest.items():
        thin_cap[(2, loops[name])] = cap
        for _, c in gmsh.model.getBoundary([(2, loops[name])], oriented=False):
            thin_cap[(1, abs(c))] = min(cap, thin_cap.get((1, abs(c)), cap))
    corners, h_corner = lay.corners, lay.corner_size
    zone = zone_size(lay, h_min, growth, h_max, zone_radius, zone_depth)

    def size(dim, tag, x, y, z, lc):
        h = zone(x, y)
        for cr, cz in corners:
            h = min(h, h_corner + CORNER_GROWTH * math.hypot(x - cr, y - cz))
        cap = thin_cap.get((dim, tag))
        return h if cap is None else min(h, cap)

    return size
