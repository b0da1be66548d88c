"""The case as typed, frozen data in SI units (m, s, W, K): the vocabulary every layer may
import. The geometry kinds' names (regions, faces, interfaces) are the ones the gmsh builders
and the case file use. No behaviour beyond naming, hashing and the end time.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

ZERO_CELSIUS_K = 273.15


# --------------------------------------------------------------------------------------
# Geometry kinds: their dimension keys, regions, faces and interfaces (names used by the
# gmsh builders in geometry.py and by the case file).
# --------------------------------------------------------------------------------------
INSERT_SIZES = {"insert_radius_mm": 1e-3, "insert_thickness_mm": 1e-3, "anode_radius_mm": 1e-3,
                "anode_length_mm": 1e-3}
GEOMETRIES: dict[str, dict[str, Any]] = {
    "reflection_insert": {
        "sizes": INSERT_SIZES,
        "regions": ("target", "heat_sink"),
        "normals": {"beam_face": "z", "anode_face": "z", "side": "r", "cooled_end": "z"},
        "interfaces": ("target_heat_sink",),
    },
    "transmission": {
        "sizes": {
            "target_thickness_um": 1e-6,
            "target_radius_mm": 1e-3,
            "window_thickness_mm": 1e-3,
            "window_radius_mm": 1e-3,
        },
        "regions": ("target", "window"),
        "normals": {"beam_face": "z", "window_face": "z", "target_edge": "r", "exit_face": "z",
                    "rim": "r"},
        "interfaces": ("target_window",),
    },
    "reflection_3d": {
        # A Cu rod along z whose end face is cut at the anode angle, with a W disc inserted
        # in that face (geometry/reflection3d.py). Same region, face and interface names as
        # reflection_insert, so boundaries and mounts carry over.
        "sizes": INSERT_SIZES,
        "regions": ("target", "heat_sink"),
        "normals": {"beam_face": None, "anode_face": None, "side": None, "cooled_end": "z"},
        "interfaces": ("target_heat_sink",),
        "dim": 3,
    },
    "user_mesh": {
        # A volume mesh in any format meshio reads, with named sets: volume sets are regions
        # (one must be "target"), surface sets are faces (one must be "beam_face"); see
        # case/mesh_import.py and meshes/README.md.
        "sizes": {},
        "regions": (),
        "normals": {},
        "interfaces": (),
        "dim": 3,
    },
    "cad": {
        # A STEP file meshed with gmsh (geometry/cad.py): regions are solids chosen by name
        # or box (one must be "target"), faces likewise (one must be "beam_face").
        "sizes": {},
        "regions": (),
        "normals": {},
        "interfaces": (),
        "dim": 3,
    },
    "block": {
        # A hemisphere of one material: stands for a semi-infinite target (verification,
        # bulk targets). Its curved surface is "far_field".
        "sizes": {"radius_mm": 1e-3},
        "regions": ("target",),
        "normals": {"beam_face": "z", "far_field": None},
        "interfaces": (),
    },
}


USER_GEOMETRIES = ("user_mesh", "cad")  # geometries whose regions and faces the user names

# The parametric housing of a reflection anode (geometry/axisym.py, reflection3d.py): a
# cylindrical shell from the rod's cooled end to the mounting face the tube is bolted by.
HOUSING_SIZES = {"inner_radius_mm": 1e-3, "outer_radius_mm": 1e-3, "length_mm": 1e-3}
HOUSING_FACES = {"housing_inner": "r", "housing_outer": None, "mount_face": "z"}
HOUSING_INTERFACE = "heat_sink_housing"


def ordered_regions(names) -> list[str]:
    """A user mesh's or STEP part's region names in the order a run takes them: `target`
    first (a run's T_peak is the first region's hottest node), `heat_sink` second where
    there is one (heat_sink_C, the yield use and the heat sink's limits watch the second
    region: with a `braze` region it was the braze, alphabetically before it), the others
    after them in the order given."""
    return sorted(names, key=lambda r: (r != "target", r != "heat_sink"))


def regions_of(geometry: Geometry) -> tuple[str, ...]:
    """Region names of the geometry (the volume groups of a user mesh)."""
    if geometry.kind in USER_GEOMETRIES:
        return tuple(n for n, d in geometry.mesh_groups.items() if d == 3)
    housing = ("housing",) if geometry.housing_m else ()
    return GEOMETRIES[geometry.kind]["regions"] + housing


def interfaces_of(geometry: Geometry) -> tuple[str, ...]:
    """Interface names of the geometry (none for user meshes: perfect contact)."""
    housing = (HOUSING_INTERFACE,) if geometry.housing_m else ()
    return GEOMETRIES[geometry.kind]["interfaces"] + housing


def interface_sides(geometry: Geometry) -> dict[str, tuple[str, str]]:
    """The two regions of each interface, by its name ("<region>_<region>")."""
    regions = regions_of(geometry)
    return {n: next((a, b) for a in regions for b in regions if n == f"{a}_{b}")
            for n in interfaces_of(geometry)}


#: The regions each face of a built-in geometry bounds (a transmission film as wide as its
#: window adds its edge to the rim: face_regions).
FACE_REGIONS = {"beam_face": ("target",), "anode_face": ("heat_sink",),
                "side": ("heat_sink",), "cooled_end": ("heat_sink",),
                "housing_inner": ("housing",), "housing_outer": ("housing",),
                "mount_face": ("housing",), "window_face": ("window",),
                "target_edge": ("target",), "exit_face": ("window",), "rim": ("window",),
                "far_field": ("target",)}


def face_regions(geometry: Geometry) -> dict[str, tuple[str, ...]]:
    """The regions each face of a built-in geometry bounds (FACE_REGIONS); a user mesh's
    or STEP part's come from its cells (case.regions_by_face)."""
    out = {f: FACE_REGIONS[f] for f in faces_of(geometry)}
    if "rim" in out and "target_edge" not in out:  # the film covers the whole window
        out["rim"] = ("target", "window")
    return out


def heat_sink_region(geometry: Geometry) -> str | None:
    """The heat sink or window: the second region (user meshes: ordered_regions), whose
    hottest node heat_sink_C and whose stress near the joint yield_use watch; None for a
    body of one region."""
    regions = regions_of(geometry)
    return regions[1] if len(regions) > 1 else None


#: Boundary types that cool a face: the faces coolant_side_C watches.
COOLING_TYPES = ("fixed", "convection")


def cooled_faces(boundaries: dict) -> list[str]:
    """Faces held by a fixed temperature or a convection boundary (COOLING_TYPES)."""
    return [f for f, b in boundaries.items() if b.type in COOLING_TYPES]


def cooled_regions(geometry: Geometry, boundaries: dict,
                   by_face: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The regions that carry the cooled faces (cooled_faces), in region order: the regions
    coolant_side_C is held to (their melting points bound it, case reader) and whose k(T)
    transforms its rise (rating.kirchhoff.transform_for). An indium foil or an Al housing
    that no cooled face touches does not bound it. The one rule of both.

    Args:
        geometry: the case's geometry.
        boundaries: the case's boundaries (face → Boundary).
        by_face: face → the regions it bounds (case.regions_by_face: a built-in geometry's
            by face name, a user mesh's from its tetrahedra, a STEP part's from its solids).
            A cooled face it maps to no region is held to every region (the conservative
            rule); so is a case without a cooled face.
    """
    regions = regions_of(geometry)
    cooled = {r for f in cooled_faces(boundaries) for r in (by_face.get(f) or regions)}
    return tuple(r for r in regions if r in cooled) or regions


#: limit_watches' key of the limits on the regions after the heat sink: no key of
#: [limits] sets them (limits.limits_for: each region's material's default).
REGION_LIMIT_KEY = "region_C"


def limit_watches(key: str, geometry: Geometry,
                  boundaries: dict) -> dict[str, tuple[str, ...]]:
    """What a temperature limit of [limits] watches: its time-series columns, each with the
    regions whose materials it is held to (their melting points bound it, their damage
    temperatures give its default, the lowest). The one rule the case reader, `check` and
    the limits in force (limits.limits_for) share.

    - spot_C: the target's hottest node (T_peak_C);
    - heat_sink_C: the heat sink's or window's (heat_sink_region), none for one region;
    - region_C (REGION_LIMIT_KEY, no [limits] key: defaults only): each region after the
      heat sink (a housing, a user mesh's or STEP part's braze or other parts), its own
      hottest node held to its own material, none with two regions or fewer;
    - interface_C: each interface's hottest node, held to its two sides;
    - coolant_side_C: the cooled faces' hottest node (COOLING_TYPES), every region here
      (a cooled face may bound any of them; cooled_regions keeps those its cooled faces
      bound, which needs the face map of a user mesh or STEP part); none without a cooled
      face.

    Args:
        key: spot_C, heat_sink_C, region_C, interface_C or coolant_side_C.
        geometry: the case's geometry.
        boundaries: the case's boundaries (face → Boundary).
    """
    if key == "spot_C":
        return {"T_peak_C": ("target",)}
    if key == "heat_sink_C":
        sink = heat_sink_region(geometry)
        return {} if sink is None else {f"T_max_{sink}_C": (sink,)}
    if key == REGION_LIMIT_KEY:
        return {f"T_max_{r}_C": (r,) for r in regions_of(geometry)[2:]}
    if key == "interface_C":
        return {f"T_max_{n}_C": sides for n, sides in interface_sides(geometry).items()}
    if key == "coolant_side_C":
        return {"T_max_coolant_side_C": regions_of(geometry)} if cooled_faces(boundaries) \
            else {}
    raise KeyError(key)


def watched_regions(key: str, geometry: Geometry, boundaries: dict) -> tuple[str, ...]:
    """Every region a temperature limit watches (limit_watches), each once, in region
    order."""
    watched = {r for regions in limit_watches(key, geometry, boundaries).values()
               for r in regions}
    return tuple(r for r in regions_of(geometry) if r in watched)


def faces_of(geometry: Geometry) -> dict[str, str | None]:
    """Faces this geometry actually has, with their normal axis ("z", "r" or None)."""
    if geometry.kind in USER_GEOMETRIES:
        return {n: None for n, d in geometry.mesh_groups.items() if d == 2}
    normals = dict(GEOMETRIES[geometry.kind]["normals"])
    if geometry.kind == "reflection_3d" and geometry.face_cut_rad == 0.0:
        normals["beam_face"] = normals["anode_face"] = "z"
    s = geometry.sizes_m
    if geometry.kind == "transmission" and s["target_radius_m"] >= s["window_radius_m"]:
        # the film covers the whole window: no bare window face, no separate film edge
        normals.pop("window_face")
        normals.pop("target_edge")
    if geometry.housing_m:
        normals.update(HOUSING_FACES)
        if geometry.dim == 3:  # the shell's inside is a cylinder, not a plane, in 3-D
            normals["housing_inner"] = None
    return normals


SPOT_SHAPES = ("gaussian", "flat_top", "elliptical", "footprint", "line")
ROUND_SPOTS = ("gaussian", "flat_top")
SOLVERS = ("auto", "direct", "iterative")
BOUNDARY_TYPES = ("adiabatic", "fixed", "convection", "radiation", "heat_flux")
COOLANTS = ("oil", "water", "air")
SPOT_LIMITS = ("life", "short_exposure")
MOUNT_TYPES = ("clamped", "sliding")
LOADING_KINDS = ("continuous", "pulse_train", "segments", "steady")


# --------------------------------------------------------------------------------------
# Typed case (SI inside)
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Geometry:
    """Geometry kind and its dimensions (m).

    Attributes:
        kind: a key of GEOMETRIES.
        sizes_m: dimensions (m).
        anode_angle_rad: 3-D reflection anode: the textbook target angle θ, between the
            target face and the central ray perpendicular to the beam (= the angle of
            incidence from the face normal); see frames.py.
        face_cut_rad: 3-D reflection anode: the cut α of the rod's end face from the plane
            normal to the rod axis that gives θ for the beam entry (axial: α = θ; side:
            α = 90° − θ); 0: a flat end face.
        file: user mesh: the mesh file; cad: the STEP file.
        impact_point_m: user mesh, cad: where the beam axis meets the beam face (m).
        mesh_groups: user mesh, cad: group name → dimension (3 regions, 2 faces).
        mesh_unit: user mesh: length unit of the file's coordinates ("m" or "mm").
        groups: user mesh: ``[geometry.groups]``, name → the file's tag (int) or set name
            (str); empty: the file's own named sets. cad: region or face name → a name
            in the STEP file (str) or a box [x0, y0, z0, x1, y1, z1] (m).
        housing_m: reflection_insert, reflection_3d: the housing shell's inner_radius_m,
            outer_radius_m and length_m (from the rod's cooled end to the mounting face), or
            None.
    """

    kind: str
    sizes_m: dict[str, float]
    anode_angle_rad: float = 0.0
    face_cut_rad: float = 0.0
    file: str | None = None
    impact_point_m: tuple[float, float, float] | None = None
    mesh_groups: dict[str, int] = field(default_factory=dict)
    mesh_unit: str = "m"
    groups: dict[str, int | str] = field(default_factory=dict)
    housing_m: dict[str, float] | None = None

    @property
    def dim(self) -> int:
        """Topological dimension of the model: 2 (axisymmetric r, z) or 3."""
        return GEOMETRIES[self.kind].get("dim", 2)


@dataclass(frozen=True)
class MeshSettings:
    """Mesh grading: smallest element = spot_fraction × spot size, growing with distance.

    Attributes:
        spot_fraction: smallest element size as a fraction of the spot size (FWHM/diameter).
        growth: element size grows by this much per unit distance from the spot (-).
        max_size_m: largest element size (m).
        file: an existing .msh to reuse instead of building one (None: build).
        joint_corner_m: element size at the joint's corners (m; see the field).
    """

    spot_fraction: float = 0.05
    # 0.1, not 0.15: with 0.15 a 20 µm surface spot's reported rises (peak, a probe 50 µm
    # deep, the heat sink's maximum) were up to 0.8 % off the converged mesh, with 0.1 within
    # 0.35 % (studies/convergence_defaults.py; README "Accuracy of the defaults").
    growth: float = 0.1
    max_size_m: float | None = None
    file: str | None = None
    #: Element size (m) at the corners of the heat sink's joints on axisymmetric meshes;
    #: None: limits.JOINT_CORNER_M where the heat sink's yield use is computed (mechanics on,
    #: yield data), none elsewhere; 0: none.
    joint_corner_m: float | None = None


@dataclass(frozen=True)
class Materials:
    """Material name per region, constant overrides (SI) and the property mode.

    Attributes:
        user: user materials of the case (case/user_materials.py): name → entry in the
            library's data-file schema (K, SI), checked like the library.
    """

    by_region: dict[str, str]
    overrides: dict[str, dict[str, float]]
    temperature_dependent: bool = True
    user: dict[str, dict] = field(default_factory=dict)


@dataclass(frozen=True)
class Beam:
    """Electron beam. Power is the beam power kV × mA (W), before backscatter.

    Attributes:
        power_W: the power of steady, continuous and pulse-train loadings; for a segments
            schedule (which gives every segment's power) its highest segment power, which
            is what the summary reports as the beam power.
        spot: one of SPOT_SHAPES; only "gaussian" and "flat_top" on axisymmetric models.
        size_m: FWHM (gaussian, footprint: of the round beam across its axis; elliptical:
            along the major axis; line: across the line) or diameter (flat_top).
        size2_m: elliptical: FWHM along the minor axis; line: length of the line.
        orientation_rad: elliptical, line: angle of the major axis (line) from the face's
            first in-plane axis towards its second (geometry/reflection3d.py).
        direction: travel direction of the electrons (tube frame; user meshes), or None: the
            default of the geometry.
        entry: reflection_3d: "axial" (beam along the rod, the default) or "side" (across
            it); frames.textbook gives the face cut and the beam.
        deposition: one of beam.DEPOSITIONS ("kernel" default; "volume" in a case file is
            read as "everhart_hoff").
        size_definition: how the given size was measured (spot_sizes.DEFINITIONS); size_m
            and size2_m are already converted to the beam's FWHM (diameter for flat top).
        given_size_m: the size as given in the case (m), before that conversion.
        extra_focal: where the backscattered power (less the X-rays) goes:
            extra_focal.MODES, "face" (default: on the anode face around the spot; the
            transmission target's rim) or "off" (dropped).
        extra_focal_distance_m: H of the cosine-law landing on the face (m).
        extra_focal_faces: ((face, share of the extra-focal power), ...) laid uniformly on
            named faces; the rest follows extra_focal.
    """

    voltage_V: float
    power_W: float
    spot: str
    size_m: float
    deposition: str  # beam.DEPOSITIONS
    backscatter_energy_fraction: float | None = None
    size2_m: float | None = None
    orientation_rad: float = 0.0
    direction: tuple[float, float, float] | None = None
    size_definition: str = "fwhm"
    given_size_m: float | None = None
    extra_focal: str = "face"
    extra_focal_distance_m: float = 5e-3
    extra_focal_faces: tuple[tuple[str, float], ...] = ()
    entry: str = "axial"


@dataclass(frozen=True)
class Loading:
    """Beam power schedule as constant-power segments (duration s, beam power W).

    Attributes:
        kind: LOADING_KINDS.
        segments: the schedule (empty for steady), with the pause up to repeat_every_s
            appended (zero power) when that is longer than the schedule.
        repeat_every_s: time (s) from one start of the schedule to the next in service
            (loading.repeat_every_s), or None: the life figures are then per load
            (limits.life_summary).
        pause_s: the pause (s) appended up to repeat_every_s as the last segment, 0 if
            none (not in Case.to_dict: it follows from the two above).
    """

    kind: str
    segments: tuple[tuple[float, float], ...]  # empty for steady
    repeat_every_s: float | None = None
    pause_s: float = 0.0

    @property
    def single_load(self) -> bool:
        """One constant load, with or without the pause up to repeat_every_s after it:
        drift saved log-spaced over it, plotted on a log axis."""
        return len(self.segments) - (self.pause_s > 0) == 1

    @property
    def load_end_s(self) -> float | None:
        """End (s) of the schedule's own time, where an appended pause starts (the
        switch time, as loading.Schedule sums it), or None without a pause."""
        if not self.pause_s:
            return None
        return float(np.cumsum([d for d, _ in self.segments])[-2])


@dataclass(frozen=True)
class Boundary:
    """One boundary condition on a named face (SI, temperatures in K)."""

    type: str
    temperature_K: float | None = None
    h_W_m2K: float | None = None
    emissivity: float | None = None
    q_W_m2: float | None = None
    coolant: str | None = None  # "oil", "water" or "air" (limits.COOLANT_WALL_C)
    circuit: bool = False  # convection to the lumped coolant circuit (its temperature)


# Volumetric heat capacity ρ c_p of the coolants at 20-40 °C (J/m³K), for volume_L:
# water 998 kg/m³ × 4182 J/kgK (NIST Chemistry WebBook, IAPWS-95, 20 °C);
# transformer/insulating oil ~870 kg/m³ × ~1860 J/kgK (mineral insulating oil per IEC 60296,
# typical data-sheet values; recalled, not verified against a data sheet).
COOLANT_RHO_CP = {"water": 998.0 * 4182.0, "oil": 870.0 * 1860.0}


@dataclass(frozen=True)
class CoolantCircuit:
    """A lumped, well-mixed coolant volume fed by the convective faces that name it, cooled by
    a heat exchanger to ambient (coolant.py).

    Attributes:
        heat_capacity_J_K: thermal mass of the coolant in the circuit (J/K).
        cooler_UA_W_K: the cooler's conductance UA to ambient (W/K).
        flow_W_K: flow heat-capacity rate ṁ c_p of the coolant through the cooler (W/K);
            None: a well-mixed circuit whose cooler sees the bulk temperature.
        ambient_K: temperature of the cooler's cold side (K).
        initial_K: coolant temperature at t = 0 (K).
    """

    heat_capacity_J_K: float
    cooler_UA_W_K: float
    ambient_K: float
    initial_K: float
    flow_W_K: float | None = None

    @property
    def conductance_W_K(self) -> float:
        """Effective conductance G from the bulk coolant to ambient (W/K): UA for a
        well-mixed cooler; with a flow rate C = ṁ c_p, ε C with the ε-NTU effectiveness of
        an exchanger against a constant-temperature sink, ε = 1 − exp(−UA/C) (Incropera &
        DeWitt, Fundamentals of Heat and Mass Transfer, ε-NTU relations, C_r = 0)."""
        if self.flow_W_K is None:
            return self.cooler_UA_W_K
        # −expm1(−x), not 1 − exp(−x): exact for a flow far above UA, where 1 − exp rounds
        return -self.flow_W_K * math.expm1(-self.cooler_UA_W_K / self.flow_W_K)


PROBE_QUANTITIES = ("T", "u")  # temperature at every step, displacement at save times


@dataclass(frozen=True)
class Probe:
    """A point probe at radius r and depth below the spot centre (m), recording the
    quantities named (PROBE_QUANTITIES)."""

    name: str
    r_m: float
    depth_m: float
    quantities: tuple[str, ...] = ("T",)


#: Most time steps a run may take (resolve.prepare refuses a plan that needs more; a pulse
#: train takes at least two a pulse).
MAX_STEPS = 1_000_000

#: Time spans a case may give (s): a load, a pulse, a pause, a segment, a period, a rating
#: chart's exposure. Below a picosecond the electrons' energy is not yet heat (electron-phonon
#: coupling takes picoseconds); 1e6 s (11.6 days) is far past any anode's steady state (hours;
#: loading.kind = "steady" gives it), and 1e308 s overflowed the deposited energy to inf.
MIN_DURATION_S, MAX_DURATION_S = 1e-12, 1e6


@dataclass(frozen=True)
class TimeSettings:
    """Time stepping: restart at initial_step after each power switch, double every
    steps_per_doubling steps, never above max_step nor 1/steps_per_segment of the segment.
    None means automatic."""

    initial_step_s: float | None = None
    max_step_s: float | None = None
    # 6, not 4: a continuous load's heat-sink rise at 10 ms was 0.47 % off the converged
    # step sequence with 4, 0.18 % with 6 (studies/convergence_defaults.py); pulse trains
    # are held by the per-segment step cap (steps_per_segment below).
    steps_per_doubling: int = 6
    # no step longer than 1/steps_per_segment of its segment: 40 holds the residual rise
    # before each pulse of a 10 ms / 10 ms train to 0.14 % (1.9 % without; the study above)
    steps_per_segment: int = 40
    newton_tol_K: float = 1e-3


@dataclass(frozen=True)
class Output:
    """Save times for fields (s), whether to write fields at all, and whether to draw the
    PNG figures (false: the CSV and JSON files only, e.g. for the cases of a large sweep,
    where the figures cost about as much CPU time as a small case's solve)."""

    save_times_s: tuple[float, ...] = ()
    fields: bool = True
    figures: bool = True


@dataclass(frozen=True)
class DriftSettings:
    """Imaging geometry for the drift map (directions in the tube frame x, y, z; z is the
    anode axis, pointing from the target towards the cathode)."""

    beam_direction: tuple[float, float, float]
    view_direction: tuple[float, float, float]
    source_object_m: float
    source_detector_m: float
    pixel_m: float
    take_off: tuple[float, float] | None = None  # (τ, φ) rad: the view on a user mesh's face
    detector_radius_m: float | None = None  # where the off-axis image shift is reported

    @property
    def magnification(self) -> float:
        """M = source-detector / source-object distance (the reader keeps it above 1)."""
        return self.source_detector_m / self.source_object_m

    def source_um_per_px(self) -> float:
        """The drift across the view at the source (µm) that moves the image of a fixed
        object point by one detector pixel (source_um_per_px)."""
        return source_um_per_px(self.source_object_m, self.source_detector_m, self.pixel_m)


def source_um_per_px(source_object_m: float, source_detector_m: float,
                     pixel_m: float) -> float:
    """The drift across the view at the source (µm) that moves the image of a fixed object
    point by one detector pixel: pixel / (M − 1), M = SDD / SOD, the image moving (M − 1)
    times the source's shift (drift.py). Distances and pixel in m."""
    return pixel_m / (source_detector_m / source_object_m - 1.0) * 1e6


@dataclass(frozen=True)
class Mechanics:
    """Thermoelastic settings.

    Attributes:
        mounts: face name → "clamped" or "sliding".
        free: no mounts; the rigid axial translation is removed (centre of mass fixed).
        reference_temperature_K: stress-free temperature.
        drift: imaging geometry, or None (displacements and stresses only).
        reference_face: displacements (spot, probes, drift) are measured relative to the
            mean displacement of this face (the mounting face the tube is bolted by); None:
            relative to the mounts' fixed frame.
    """

    mounts: dict[str, str]
    free: bool
    reference_temperature_K: float
    drift: DriftSettings | None
    reference_face: str | None = None


@dataclass(frozen=True)
class Limits:
    """Limits (temperatures in K); None: the default of limits.py (material library,
    coolant, sealed-tube life).

    Attributes:
        spot: "life" (the erosion budget over the life limits the spot) or "short_exposure"
            (melting − 200 K instead; erosion only reported).
        erosion_um: erosion budget of the spot over the life (µm).
        life_h: rated life (operating hours of the case's schedule).
    """

    spot_K: float | None = None
    interface_K: float | None = None
    heat_sink_K: float | None = None
    coolant_side_K: float | None = None
    drift_um: float | None = None  # across the view axis, at the source
    #: the image drift limit as the case gave it (detector pixels), converted into drift_um
    drift_px: float | None = None
    magnification_change_rel: float | None = None  # |ΔM/M|
    spot: str = "life"
    erosion_um: float | None = None
    life_h: float | None = None
    yield_use: float | None = None  # heat sink: regularised stress / yield strength (-)
    #: fraction of W's recrystallisation time the spot may use over the life (-)
    recrystallisation_fraction: float | None = None
    #: the spot's estimated thermal-fatigue crack-initiation life must reach the life
    fatigue: bool = False


@dataclass(frozen=True)
class RatingSettings:
    """Chart ranges for `anodesim rate`."""

    exposure_s: tuple[float, float] = (1e-3, 1000.0)
    exposure_points: int = 13
    preload_W: float = 0.0
    period_s: float = 1.0
    duty_cycles: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
    duty_cycle: float = 0.5
    periods_s: tuple[float, ...] = (1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0)


def pulse_too_short(duty: float, period: float, least_on_s: float = MIN_DURATION_S
                    ) -> str | None:
    """The one rule for a serial load's pulse and pause (a period in s at a duty cycle):
    "pulse" if the pulse, duty × period, is shorter than least_on_s (s; at least
    MIN_DURATION_S), "pause" if the pause, (1 − duty) × period, is above 0 but below
    MIN_DURATION_S (duty 1 has none), else None. 1e-300 made 2e-302 s pulses ("Newton
    produced a non-finite temperature"), 1 − 1e-16 a 2e-18 s pause."""
    if duty * period < max(least_on_s, MIN_DURATION_S):
        return "pulse"
    return "pause" if 0.0 < (1.0 - duty) * period < MIN_DURATION_S else None


def near_one(x: float, spec: str = "g") -> str:
    """A duty cycle (or other value) as a message shows it, formatted by spec; one a hair
    below 1 that spec would show as "1" (a pulse train on 10 s, off 1e-12 s: 1 − 1e-13)
    as its distance from 1, "1 - 1e-13", so that it does not read as duty cycle 1."""
    text = format(x, spec)
    return f"1 - {1.0 - x:.3g}" if float(text) == 1.0 and x < 1.0 else text


def own_pulse(loading: Loading | None) -> tuple[float, float] | None:
    """A pulse-train case's own pulse (on s, pause s), which its serial-load charts default
    to; None for another loading (or a train without pauses)."""
    if loading is None or loading.kind != "pulse_train" or len(loading.segments) < 2 \
            or loading.segments[1][1] != 0.0:
        return None
    (on, _), (off, _) = loading.segments[:2]
    return on, off


def rating_defaults(loading: Loading | None) -> RatingSettings:
    """The [rating] defaults of a case with this loading: RatingSettings(), with a
    pulse-train case's serial-load charts at its own period (duty chart) and duty cycle
    (period chart) (own_pulse)."""
    pulse = own_pulse(loading)
    if pulse is None:
        return RatingSettings()
    on, off = pulse
    return RatingSettings(period_s=on + off, duty_cycle=on / (on + off))


@dataclass(frozen=True)
class Numerics:
    """Linear solvers.

    Attributes:
        solver: "direct" (MUMPS LU), "iterative" (CG preconditioned by a reused LU
            factorisation up to solver_choice.LU_PC_MAX_NODES nodes, by algebraic multigrid, GAMG,
            above; for elasticity with the rigid-body modes as near-nullspace) or "auto"
            (by the number of temperature dofs, solver_choice.DIRECT_MAX_DOFS, measured by
            studies/benchmark_linear_solvers.py).
        rtol: relative tolerance of the iterative solver on the preconditioned residual.
    """

    solver: str = "auto"
    rtol: float = 1e-10


@dataclass(frozen=True)
class PointingDrift:
    """The user's beam-pointing drift: the spot's shift from electron optics (which the
    model does not compute) against time, added to the thermal spot shift in the drift map.

    Attributes:
        times_s: increasing times (s).
        shifts_m: the shift at each time (m, tube frame x, y, z); linear between the times,
            the end values held before the first and after the last.
    """

    times_s: tuple[float, ...]
    shifts_m: tuple[tuple[float, float, float], ...]

    def shift_m(self, t: float) -> tuple[float, float, float]:
        """The shift at time t (s), in m."""
        s = np.asarray(self.shifts_m)
        return tuple(float(np.interp(t, self.times_s, s[:, i])) for i in range(3))


def source_text(data) -> str:
    """A case's source dict as text, equal for equal content (Case._source_made)."""
    try:
        return json.dumps(data, sort_keys=True, default=repr)
    except (TypeError, ValueError):  # keys json cannot sort (a script's mixed keys), a cycle
        return repr(data)


@dataclass(frozen=True)
class Case:
    """A complete, validated case in SI units."""

    title: str
    geometry: Geometry
    mesh: MeshSettings
    materials: Materials
    beam: Beam
    loading: Loading
    boundaries: dict[str, Boundary]
    interfaces: dict[str, float]  # name -> conductance W/m²K
    initial_temperature_K: float
    probes: tuple[Probe, ...]
    time: TimeSettings
    output: Output
    mechanics: Mechanics | None = None
    limits: Limits = Limits()
    rating: RatingSettings = RatingSettings()
    numerics: Numerics = Numerics()
    coolant_circuit: CoolantCircuit | None = None
    pointing: PointingDrift | None = None
    source: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        # the source as the case was made of it: an edit of case.source afterwards changes
        # nothing of the case, and check_source (case/__init__.py) tells it
        object.__setattr__(self, "_source_made", source_text(self.source))

    def to_dict(self) -> dict:
        """The resolved case (SI) as plain data, for the summary and the hash."""
        d = asdict(self)
        d.pop("source")
        if self.geometry.kind not in USER_GEOMETRIES:  # (keys of user geometries only)
            for key in ("mesh_unit", "groups"):
                d["geometry"].pop(key)
        if not self.materials.user:
            d["materials"].pop("user")
        # issue 14's keys only where used, so the hash of a case without them stays
        for key in ("coolant_circuit", "pointing"):
            if d[key] is None:
                d.pop(key)
        if d["geometry"]["housing_m"] is None:
            d["geometry"].pop("housing_m")
        if d["output"]["figures"]:  # (issue 15's key only where used, as above)
            d["output"].pop("figures")
        for b in d["boundaries"].values():
            if not b["circuit"]:
                b.pop("circuit")
        for p in d["probes"]:
            if tuple(p["quantities"]) == ("T",):
                p.pop("quantities")
        if d["mechanics"] is not None and d["mechanics"]["reference_face"] is None:
            d["mechanics"].pop("reference_face")
        if d["mesh"]["joint_corner_m"] is None:  # (the joint-corner key only where given)
            d["mesh"].pop("joint_corner_m")
        if d["loading"]["repeat_every_s"] is None:  # (the repetition only where given)
            d["loading"].pop("repeat_every_s")
        d["loading"].pop("pause_s")  # (in the segments and repeat_every_s)
        if d["limits"]["drift_px"] is None:  # (the pixel limit only where given)
            d["limits"].pop("drift_px")
        return d

    def hash(self) -> str:
        """SHA-256 of the resolved case (first 16 hex digits)."""
        blob = json.dumps(self.to_dict(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    @property
    def end_time_s(self) -> float:
        """Total simulated time of the schedule (0 for steady state)."""
        return sum(d for d, _ in self.loading.segments)
