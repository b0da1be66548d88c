"""Case file (TOML) → validated, typed :class:`Case` in SI units.

Input keys carry their unit in the name (``fwhm_um``, ``power_W``, ``temperature_C``); this
module converts once, here, and everything downstream is SI (m, s, W, K). It imports no
dolfinx, so a bad case fails in well under a second with one :class:`CaseError` line that
names the key path, the value and what was expected.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .frames import DriftInputError, beam_direction, check_imaging, face_normal, view_direction

ZERO_CELSIUS_K = 273.15


class CaseError(ValueError):
    """A bad case file: one line naming the key, the value and what was expected."""


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
        # in that face (geometry3d.py). Same region, face and interface names as
        # reflection_insert, so boundaries and mounts carry over.
        "sizes": INSERT_SIZES,
        "regions": ("target", "heat_sink"),
        "normals": {"beam_face": None, "anode_face": None, "side": None, "cooled_end": "z"},
        "interfaces": ("target_heat_sink",),
        "dim": 3,
    },
    "user_mesh": {
        # A gmsh .msh with physical groups: volumes are regions (one must be "target"),
        # surfaces are faces (one must be "beam_face"); see meshes/README.md.
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


def regions_of(geometry: Geometry) -> tuple[str, ...]:
    """Region names of the geometry (the volume groups of a user mesh)."""
    if geometry.kind == "user_mesh":
        return tuple(n for n, d in geometry.mesh_groups.items() if d == 3)
    return GEOMETRIES[geometry.kind]["regions"]


def interfaces_of(geometry: Geometry) -> tuple[str, ...]:
    """Interface names of the geometry (none for user meshes: perfect contact)."""
    return GEOMETRIES[geometry.kind]["interfaces"]


def faces_of(geometry: Geometry) -> dict[str, str | None]:
    """Faces this geometry actually has, with their normal axis ("z", "r" or None)."""
    if geometry.kind == "user_mesh":
        return {n: None for n, d in geometry.mesh_groups.items() if d == 2}
    normals = dict(GEOMETRIES[geometry.kind]["normals"])
    if geometry.kind == "reflection_3d" and geometry.anode_angle_rad == 0.0:
        normals["beam_face"] = normals["anode_face"] = "z"
    s = geometry.sizes_m
    if geometry.kind == "transmission" and s["target_radius_m"] >= s["window_radius_m"]:
        # the film covers the whole window: no bare window face, no separate film edge
        normals.pop("window_face")
        normals.pop("target_edge")
    return normals


SPOT_SHAPES = ("gaussian", "flat_top", "elliptical", "footprint", "line")
ROUND_SPOTS = ("gaussian", "flat_top")
SOLVERS = ("auto", "direct", "iterative")
BOUNDARY_TYPES = ("adiabatic", "fixed", "convection", "radiation", "heat_flux")
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
        anode_angle_rad: 3-D reflection anode: angle between the target face and the plane
            normal to the rod axis (0: a flat end face); see geometry3d.py.
        file: user mesh: the .msh file.
        impact_point_m: user mesh: where the beam axis meets the beam face (m).
        mesh_groups: user mesh: physical-group name → dimension (3 regions, 2 faces).
    """

    kind: str
    sizes_m: dict[str, float]
    anode_angle_rad: float = 0.0
    file: str | None = None
    impact_point_m: tuple[float, float, float] | None = None
    mesh_groups: dict[str, int] = field(default_factory=dict)

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
    """

    spot_fraction: float = 0.05
    growth: float = 0.15
    max_size_m: float | None = None
    file: str | None = None


@dataclass(frozen=True)
class Materials:
    """Material name per region, constant overrides (SI) and the property mode."""

    by_region: dict[str, str]
    overrides: dict[str, dict[str, float]]
    temperature_dependent: bool = True


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
            first in-plane axis towards its second (geometry3d.py).
        direction: travel direction of the electrons (tube frame), or None: the default of
            the geometry.
    """

    voltage_V: float
    power_W: float
    spot: str
    size_m: float
    deposition: str  # "volume" | "surface"
    backscatter_energy_fraction: float | None = None
    size2_m: float | None = None
    orientation_rad: float = 0.0
    direction: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class Loading:
    """Beam power schedule as constant-power segments (duration s, beam power W)."""

    kind: str
    segments: tuple[tuple[float, float], ...]  # empty for steady


@dataclass(frozen=True)
class Boundary:
    """One boundary condition on a named face (SI, temperatures in K)."""

    type: str
    temperature_K: float | None = None
    h_W_m2K: float | None = None
    emissivity: float | None = None
    q_W_m2: float | None = None


@dataclass(frozen=True)
class Probe:
    """A point probe at radius r and depth below the spot centre (m)."""

    name: str
    r_m: float
    depth_m: float


@dataclass(frozen=True)
class TimeSettings:
    """Time stepping: restart at initial_step after each power switch, double every
    steps_per_doubling steps, never above max_step. None means automatic."""

    initial_step_s: float | None = None
    max_step_s: float | None = None
    steps_per_doubling: int = 4
    newton_tol_K: float = 1e-3


@dataclass(frozen=True)
class Output:
    """Save times for fields (s) and whether to write fields at all."""

    save_times_s: tuple[float, ...] = ()
    fields: bool = True


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


@dataclass(frozen=True)
class Mechanics:
    """Thermoelastic settings.

    Attributes:
        mounts: face name → "clamped" or "sliding".
        free: no mounts; the rigid axial translation is removed (centre of mass fixed).
        reference_temperature_K: stress-free temperature.
        drift: imaging geometry, or None (displacements and stresses only).
    """

    mounts: dict[str, str]
    free: bool
    reference_temperature_K: float
    drift: DriftSettings | None


@dataclass(frozen=True)
class Limits:
    """Temperature limits (K); None: the default from the material library (rating.py)."""

    spot_K: float | None = None
    interface_K: float | None = None
    heat_sink_K: float | None = None
    coolant_side_K: float | None = None
    drift_um: float | None = None  # across the view axis, at the source


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


@dataclass(frozen=True)
class Numerics:
    """Linear solvers.

    Attributes:
        solver: "direct" (MUMPS LU), "iterative" (CG with algebraic multigrid, GAMG; for
            elasticity with the rigid-body modes as near-nullspace) or "auto" (direct on
            axisymmetric meshes, iterative on 3-D ones).
        rtol: relative tolerance of the iterative solver on the preconditioned residual.
    """

    solver: str = "auto"
    rtol: float = 1e-10

    def resolved(self, dim: int) -> str:
        """"direct" or "iterative" for a mesh of topological dimension dim."""
        if self.solver != "auto":
            return self.solver
        return "iterative" if dim == 3 else "direct"


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
    source: dict = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict:
        """The resolved case (SI) as plain data, for the summary and the hash."""
        d = asdict(self)
        d.pop("source")
        return d

    def hash(self) -> str:
        """SHA-256 of the resolved case (first 16 hex digits)."""
        blob = json.dumps(self.to_dict(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    @property
    def end_time_s(self) -> float:
        """Total simulated time of the schedule (0 for steady state)."""
        return sum(d for d, _ in self.loading.segments)


# --------------------------------------------------------------------------------------
# Reading helpers: every check raises one CaseError line.
# --------------------------------------------------------------------------------------
def _fail(path: str, value: Any, expected: str) -> CaseError:
    return CaseError(f"{path} = {value!r}: expected {expected}")


class _Section:
    """A table of the case file, read key by key; unread keys are rejected at the end."""

    def __init__(self, data: Any, path: str):
        if not isinstance(data, dict):
            raise _fail(path, data, "a table")
        self.data = data
        self.path = path
        self.allowed: set[str] = set()

    def _key(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        self.allowed.add(key)
        return key in self.data

    def raw(self, key: str, default: Any = ..., *, expected: str = "a value") -> Any:
        self.allowed.add(key)
        if key not in self.data:
            if default is ...:
                raise CaseError(f"{self._key(key)}: missing; expected {expected}")
            return default
        return self.data[key]

    def number(self, key, default: Any = ..., *, positive=False, nonneg=False, lo=None, hi=None,
               expected=None) -> float | None:
        what = expected or (
            "a positive number" if positive else "a non-negative number" if nonneg else "a number"
        )
        if key not in self.data and default is not ...:
            self.allowed.add(key)
            return default
        v = self.raw(key, expected=what)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _fail(self._key(key), v, what)
        v = float(v)
        if not math.isfinite(v):
            raise _fail(self._key(key), v, f"a finite number ({what})")
        if (positive and v <= 0) or (nonneg and v < 0):
            raise _fail(self._key(key), v, what)
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise _fail(self._key(key), v, what)
        return v

    def integer(self, key, default: Any = ..., *, minimum=1) -> int:
        what = f"an integer >= {minimum}"
        v = self.raw(key, default, expected=what)
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            raise _fail(self._key(key), v, what)
        return v

    def choice(self, key, options, default: Any = ...) -> str:
        what = "one of " + ", ".join(f'"{o}"' for o in options)
        v = self.raw(key, default, expected=what)
        if v not in options:
            hint = _did_you_mean(str(v), options)
            raise _fail(self._key(key), v, what + hint)
        return v

    def string(self, key, default: Any = ...) -> str:
        v = self.raw(key, default, expected="a string")
        if not isinstance(v, str):
            raise _fail(self._key(key), v, "a string")
        return v

    def boolean(self, key, default: Any = ...) -> bool:
        v = self.raw(key, default, expected="true or false")
        if not isinstance(v, bool):
            raise _fail(self._key(key), v, "true or false")
        return v

    def section(self, key, default: Any = ...) -> _Section:
        v = self.raw(key, {} if default is ... else default, expected="a table")
        if default is ... and key not in self.data:
            raise CaseError(f"{self._key(key)}: missing; expected a table [{self._key(key)}]")
        return _Section(v, self._key(key))

    def close(self) -> None:
        """Reject keys that were never read (with a did-you-mean)."""
        for key in self.data:
            if key not in self.allowed:
                hint = _did_you_mean(key, sorted(self.allowed))
                raise CaseError(
                    f"{self._key(key)}: unknown key{hint or ''}; "
                    f"expected one of: {', '.join(sorted(self.allowed)) or '(none)'}"
                )


def _did_you_mean(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _celsius(sec: _Section, key: str, default: Any = ...) -> float | None:
    v = sec.number(key, default, lo=-ZERO_CELSIUS_K,
                   expected="a temperature in °C above absolute zero")
    return None if v is None else v + ZERO_CELSIUS_K


# --------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------
def msh_groups(path: Path) -> dict[str, int]:
    """Physical-group name → dimension from the $PhysicalNames section of a gmsh .msh file
    (ASCII or binary: that section is text in both)."""
    groups, inside = {}, False
    with open(path, "rb") as f:
        for raw in f:
            line = raw.decode("utf-8", "replace").strip()
            if line == "$PhysicalNames":
                inside = True
                next(f)  # the count
                continue
            if line == "$EndPhysicalNames":
                break
            if inside:
                dim, _tag, name = line.split(maxsplit=2)
                groups[name.strip('"')] = int(dim)
            elif line.startswith("$Nodes"):
                break
    return groups


def _user_mesh(sec: _Section, base_dir: Path) -> Geometry:
    path = base_dir / sec.string("file")
    if not path.is_file():
        raise _fail("geometry.file", str(path), "an existing gmsh .msh file")
    try:
        groups = msh_groups(path)
    except (OSError, ValueError, StopIteration):
        groups = {}
    if not groups:
        raise _fail("geometry.file", str(path), "a gmsh .msh file with named physical groups")
    for name, dim in (("target", 3), ("beam_face", 2)):
        if groups.get(name) != dim:
            raise _fail("geometry.file", str(path),
                        f"a mesh with a {'volume' if dim == 3 else 'surface'} physical group "
                        f"named '{name}' (found: {', '.join(sorted(groups))})")
    point = sec.raw("impact_point_mm", expected="a point [x, y, z] in mm")
    if (not isinstance(point, list) or len(point) != 3 or any(
            isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c)
            for c in point)):
        raise _fail("geometry.impact_point_mm", point, "a point [x, y, z] in mm")
    sec.close()
    return Geometry("user_mesh", {}, file=str(path),
                    impact_point_m=tuple(float(c) * 1e-3 for c in point), mesh_groups=groups)


def _geometry(root: _Section, base_dir: Path) -> Geometry:
    sec = root.section("geometry")
    kind = sec.choice("kind", tuple(GEOMETRIES))
    if kind == "user_mesh":
        return _user_mesh(sec, base_dir)
    spec = GEOMETRIES[kind]
    sizes = {}
    for key, scale in spec["sizes"].items():
        optional = key == "target_radius_mm"
        v = sec.number(key, None if optional else ..., positive=True,
                       expected="a positive length")
        if v is not None:
            sizes[key.rsplit("_", 1)[0] + "_m"] = v * scale
    angle = 0.0
    if kind == "reflection_3d":
        angle = math.radians(sec.number("anode_angle_deg", 0.0, lo=0.0, hi=60.0,
                                        expected="an angle in [0, 60] degrees"))
    sec.close()
    if kind == "transmission":
        sizes.setdefault("target_radius_m", sizes["window_radius_m"])
        if sizes["target_radius_m"] > sizes["window_radius_m"]:
            raise _fail("geometry.target_radius_mm", sizes["target_radius_m"] * 1e3,
                        "at most geometry.window_radius_mm")
    if kind in ("reflection_insert", "reflection_3d"):
        if sizes["insert_radius_m"] >= sizes["anode_radius_m"]:
            raise _fail("geometry.insert_radius_mm", sizes["insert_radius_m"] * 1e3,
                        "less than geometry.anode_radius_mm")
        if sizes["insert_thickness_m"] >= sizes["anode_length_m"]:
            raise _fail("geometry.insert_thickness_mm", sizes["insert_thickness_m"] * 1e3,
                        "less than geometry.anode_length_mm")
    if kind == "reflection_3d":
        _check_tilted_sizes(sizes, angle)
    return Geometry(kind, sizes, angle)


def _check_tilted_sizes(sizes: dict[str, float], angle_rad: float) -> None:
    """CaseError when the tilted face of a 3-D rod reaches the cooled end or the disc leaves
    the rod (sizes in m, anode angle in rad; see geometry3d.py)."""
    Rc, L = sizes["anode_radius_m"], sizes["anode_length_m"]
    Ri, ti = sizes["insert_radius_m"], sizes["insert_thickness_m"]
    low = L - Rc * math.tan(angle_rad)  # lowest point of the cut face
    if low <= ti + 0.1 * Rc:
        raise CaseError(f"geometry.anode_length_mm = {L * 1e3:g}: expected more than "
                        f"{(Rc * math.tan(angle_rad) + ti + 0.1 * Rc) * 1e3:.4g} mm, so the "
                        "cut face stays clear of the insert depth and the cooled end")
    if Ri + ti * math.sin(angle_rad) >= 0.95 * Rc:
        raise CaseError(f"geometry.insert_radius_mm = {Ri * 1e3:g}: expected less than "
                        f"{(0.95 * Rc - ti * math.sin(angle_rad)) * 1e3:.4g} mm, so the tilted "
                        "insert stays inside the rod")


def _mesh(root: _Section, base_dir: Path) -> MeshSettings:
    sec = root.section("mesh", {})
    ms = MeshSettings(
        spot_fraction=sec.number("spot_fraction", 0.05, positive=True, hi=1.0,
                                 expected="a number in (0, 1]"),
        growth=sec.number("growth", 0.15, positive=True, hi=2.0,
                          expected="a number in (0, 2]"),
        max_size_m=None if (v := sec.number("max_size_mm", None, positive=True)) is None
        else v * 1e-3,
        file=None,
    )
    if sec.has("file"):
        p = base_dir / sec.string("file")
        if not p.is_file():
            raise _fail("mesh.file", str(p), "an existing .msh file")
        ms = MeshSettings(ms.spot_fraction, ms.growth, ms.max_size_m, str(p))
    sec.close()
    return ms


OVERRIDE_KEYS = {"k_W_mK": "k", "cp_J_kgK": "cp", "rho_kg_m3": "rho",
                 "alpha_1_K": "alpha", "E_Pa": "E", "nu_1": "nu"}


def _materials(root: _Section, geometry: Geometry) -> Materials:
    from .materials import library  # reads a TOML data file, no dolfinx

    lib = library()
    regions = regions_of(geometry)
    sec = root.section("materials")
    by_region = {}
    for region in regions:
        if geometry.kind == "user_mesh" and not sec.has(region):
            raise CaseError(f"materials.{region}: missing; expected a material for the region "
                            f"'{region}' of {geometry.file}")
        name = sec.string(region)
        if name not in lib:
            raise _fail(f"materials.{region}", name,
                        "a material of the library: " + ", ".join(sorted(lib))
                        + _did_you_mean(name, lib))
        by_region[region] = name
    mode = sec.choice("properties", ("temperature_dependent", "constant"),
                      "temperature_dependent")
    overrides: dict[str, dict[str, float]] = {}
    ov = sec.section("override", {})
    for region in regions:
        if ov.has(region):
            rs = ov.section(region)
            overrides[region] = {}
            for key, prop in OVERRIDE_KEYS.items():
                if rs.has(key):
                    overrides[region][prop] = rs.number(
                        key, positive=prop != "alpha",
                        lo=0.0 if prop == "nu" else None, hi=0.5 if prop == "nu" else None)
            rs.close()
    ov.close()
    sec.close()
    return Materials(by_region, overrides, mode == "temperature_dependent")


def _beam(root: _Section, geometry: Geometry) -> Beam:
    sec = root.section("beam")
    kV = sec.number("voltage_kV", positive=True, expected="a positive voltage in kV")
    if kV > 1000:
        raise _fail("beam.voltage_kV", kV, "a tube voltage in kV (at most 1000)")
    has_i, has_p = sec.has("current_mA"), sec.has("power_W")
    if has_i and has_p:
        raise CaseError("beam: give exactly one of current_mA or power_W (found both)")
    power = None  # only a segments schedule may leave it out (_loading)
    if has_i:
        power = kV * sec.number("current_mA", nonneg=True)  # kV × mA = W
    elif has_p:
        power = sec.number("power_W", nonneg=True)
    spot = sec.choice("spot", SPOT_SHAPES if geometry.dim == 3 else ROUND_SPOTS, "gaussian")
    size2, orientation = None, 0.0
    length = lambda key: sec.number(  # noqa: E731
        key, positive=True, expected="a positive spot size in µm") * 1e-6
    if spot == "flat_top":
        size = length("diameter_um")
    elif spot == "elliptical":
        size, size2 = length("fwhm_major_um"), length("fwhm_minor_um")
        if size2 > size:
            raise _fail("beam.fwhm_minor_um", size2 * 1e6, "at most beam.fwhm_major_um")
    elif spot == "line":
        size, size2 = length("fwhm_um"), length("length_um")
    else:
        size = length("fwhm_um")
    if spot in ("elliptical", "line"):
        orientation = math.radians(sec.number("orientation_deg", 0.0, lo=-360.0, hi=360.0,
                                              expected="an angle in degrees"))
    direction = _vector(sec, "direction") if geometry.dim == 3 and sec.has("direction") \
        else None
    deposition = sec.choice("deposition", ("volume", "surface"), "volume")
    eta = sec.number("backscatter_energy_fraction", None, lo=0.0, hi=0.99,
                     expected="a fraction in [0, 0.99]")
    sec.close()
    return Beam(kV * 1e3, power, spot, size, deposition, eta, size2, orientation, direction)


def _loading(root: _Section, beam: Beam) -> Loading:
    """The schedule: the one source of the beam power over time.

    ``steady``, ``continuous`` and ``pulse_train`` run at the beam's power (beam.power_W or
    voltage × current_mA). A ``segments`` schedule gives the power of every segment itself;
    the beam's power is then its highest segment power, and beam.power_W / current_mA may
    be left out or, if given, must equal it.
    """
    sec = root.section("loading")
    kind = sec.choice("kind", LOADING_KINDS)
    P = beam.power_W
    if P is None and kind != "segments":
        raise CaseError("beam: give exactly one of current_mA or power_W (found neither)")
    if kind == "steady":
        segments: list[tuple[float, float]] = []
    elif kind == "continuous":
        segments = [(sec.number("duration_s", positive=True), P)]
    elif kind == "pulse_train":
        n = sec.integer("pulses")
        if sec.has("on_s") or sec.has("off_s"):
            on = sec.number("on_s", positive=True)
            off = sec.number("off_s", nonneg=True)
        else:
            period = sec.number("period_s", positive=True,
                                expected="a positive period (or give on_s and off_s)")
            duty = sec.number("duty_cycle", positive=True, hi=1.0,
                              expected="a duty cycle in (0, 1]")
            on, off = duty * period, (1.0 - duty) * period
        segments = []
        for _ in range(n):
            segments.append((on, P))
            if off > 0:
                segments.append((off, 0.0))
        if sec.has("cool_down_s"):
            segments.append((sec.number("cool_down_s", positive=True), 0.0))
    else:  # segments
        raw = sec.raw("segment", expected="a list of [[loading.segment]] tables")
        if not isinstance(raw, list) or not raw:
            raise _fail("loading.segment", raw, "a non-empty list of [[loading.segment]] tables")
        segments = []
        for i, item in enumerate(raw):
            s = _Section(item, f"loading.segment[{i}]")
            segments.append((s.number("duration_s", positive=True),
                             s.number("power_W", nonneg=True)))
            s.close()
        _check_segments_power(root, beam, max(p for _, p in segments))
    sec.close()
    return Loading(kind, tuple(segments))


def _check_segments_power(root: _Section, beam: Beam, top_W: float) -> None:
    """A beam power given beside a segments schedule must be its highest segment power."""
    if beam.power_W is None or math.isclose(beam.power_W, top_W, rel_tol=1e-9, abs_tol=1e-12):
        return
    raw = root.data.get("beam", {})
    key, value = (("current_mA", raw["current_mA"]) if "current_mA" in raw
                  else ("power_W", raw["power_W"]))
    raise _fail(f"beam.{key}", value,
                f"no beam power beside a segments schedule, or its highest segment power "
                f"({top_W:g} W): the segments set the beam power")


def _check_face(table: str, name: str, faces) -> None:
    """CaseError for a face name the geometry does not have (with a did-you-mean)."""
    if name not in faces:
        raise CaseError(f"{table}.{name}: unknown face{_did_you_mean(name, faces) or ''}; "
                        f"expected one of: {', '.join(faces)}")


def _boundaries(root: _Section, geometry: Geometry) -> dict[str, Boundary]:
    faces = tuple(faces_of(geometry))
    sec = root.section("boundaries", {})
    out = {}
    for name in sec.data:
        _check_face("boundaries", name, faces)
        b = sec.section(name)
        t = b.choice("type", BOUNDARY_TYPES)
        if t == "fixed":
            bc = Boundary(t, temperature_K=_celsius(b, "temperature_C"))
        elif t == "convection":
            bc = Boundary(t, temperature_K=_celsius(b, "temperature_C"),
                          h_W_m2K=b.number("h_W_m2K", positive=True))
        elif t == "radiation":
            bc = Boundary(t, temperature_K=_celsius(b, "temperature_C"),
                          emissivity=b.number("emissivity", positive=True, hi=1.0,
                                              expected="an emissivity in (0, 1]"))
        elif t == "heat_flux":
            bc = Boundary(t, q_W_m2=b.number("q_W_m2"))
        else:
            bc = Boundary(t)
        b.close()
        out[name] = bc
    sec.allowed.update(sec.data)
    return out


def _interfaces(root: _Section, geometry: Geometry) -> dict[str, float]:
    names = interfaces_of(geometry)
    sec = root.section("interfaces", {})
    out = {}
    for name in sec.data:
        if name not in names:
            raise CaseError(f"interfaces.{name}: unknown interface"
                            f"{_did_you_mean(name, names) or ''}; expected one of: "
                            f"{', '.join(names) or '(none for this geometry)'}")
        if geometry.dim == 3:
            raise CaseError(f"interfaces.{name}: a contact conductance is not available on 3-D "
                            "geometries (perfect contact); remove [interfaces]")
        s = sec.section(name)
        out[name] = s.number("conductance_W_m2K", positive=True,
                             expected="a positive thermal boundary conductance in W/m²K")
        s.close()
    sec.allowed.update(sec.data)
    return out


def _probes(root: _Section) -> tuple[Probe, ...]:
    sec = root.section("probes", {})
    out = []
    for name in sec.data:
        p = sec.section(name)
        out.append(Probe(name, p.number("r_mm", nonneg=True) * 1e-3,
                         p.number("depth_mm", nonneg=True) * 1e-3))
        p.close()
    sec.allowed.update(sec.data)
    return tuple(out)


def _time(root: _Section) -> TimeSettings:
    sec = root.section("time", {})
    ts = TimeSettings(
        initial_step_s=sec.number("initial_step_s", None, positive=True),
        max_step_s=sec.number("max_step_s", None, positive=True),
        steps_per_doubling=sec.integer("steps_per_doubling", 4),
        newton_tol_K=sec.number("newton_tol_K", 1e-3, positive=True),
    )
    sec.close()
    return ts


def _output(root: _Section, end_time: float) -> Output:
    sec = root.section("output", {})
    times = sec.raw("save_times_s", [], expected="a list of times in s")
    if not isinstance(times, list):
        raise _fail("output.save_times_s", times, "a list of times in s")
    clean = []
    for i, t in enumerate(times):
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) \
                or t <= 0 or t > end_time * (1 + 1e-9):
            raise _fail(f"output.save_times_s[{i}]", t,
                        f"a time in (0, {end_time:g}] s (the end of the schedule)")
        clean.append(float(t))
    out = Output(tuple(sorted(set(clean))), sec.boolean("fields", True))
    sec.close()
    return out


def _vector(sec: _Section, key: str, default: Any = ...) -> tuple[float, float, float]:
    v = sec.raw(key, default, expected="a direction [x, y, z]")
    if (not isinstance(v, (list, tuple)) or len(v) != 3
            or any(isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c)
                   for c in v) or not any(v)):
        raise _fail(sec._key(key), v, "a non-zero direction [x, y, z] of three numbers")
    if not np.isfinite(np.linalg.norm(np.asarray(v, dtype=float))):
        raise _fail(sec._key(key), v, "a direction [x, y, z] of moderate numbers")
    return tuple(float(c) for c in v)


def _mechanics(root: _Section, geometry: Geometry, beam_cfg: Beam,
               T_init: float) -> Mechanics | None:
    has_mounts, has_mech = root.has("mounts"), root.has("mechanics")
    has_drift = root.has("drift")
    if not (has_mounts or has_mech or has_drift):
        return None
    normals = faces_of(geometry)
    mounts = {}
    sec = root.section("mounts", {})
    for face in sec.data:
        _check_face("mounts", face, tuple(normals))
        m = sec.section(face)
        kind = m.choice("type", MOUNT_TYPES)
        m.close()
        if kind == "sliding" and normals[face] is None:
            raise _fail(f"mounts.{face}.type", kind,
                        "\"clamped\" (a sliding mount needs a plane face)")
        mounts[face] = kind
    sec.allowed.update(sec.data)
    mech = root.section("mechanics", {})
    free = mech.boolean("free", False)
    T_ref = _celsius(mech, "reference_temperature_C", None)
    mech.close()
    axial = any(k == "clamped" or normals[f] == "z" for f, k in mounts.items())
    if free and geometry.dim == 3:
        raise CaseError("mechanics.free = true: free bodies are supported on axisymmetric "
                        "geometries only; expected [mounts] (e.g. cooled_end clamped)")
    if free and mounts:
        raise CaseError("mechanics.free = true: a free body has no mounts; remove [mounts] "
                        "or set free = false")
    if not free and not axial:
        raise CaseError("mounts: " + (", ".join(f"{f} = {k}" for f, k in mounts.items())
                                      or "none") +
                        ": the body is free to move along the axis; expected a clamped face "
                        "or a sliding face normal to the axis, or mechanics.free = true")
    drift = None
    if has_drift:
        d = root.section("drift")
        beam = _vector(d, "beam_direction", [0.0, 0.0, -1.0])
        take_off = None
        if geometry.dim == 3 and d.has("take_off_angle_deg"):
            if d.has("view_direction"):
                raise CaseError("drift: give the view axis as view_direction or as "
                                "take_off_angle_deg (with view_azimuth_deg), not both")
            take_off = (math.radians(d.number("take_off_angle_deg", lo=0.5, hi=90.0,
                                              expected="a take-off angle in [0.5, 90] degrees")),
                        math.radians(d.number("view_azimuth_deg", 0.0, lo=-360.0, hi=360.0,
                                              expected="an angle in degrees")))
            view = tuple(view_direction(geometry.anode_angle_rad, *take_off))
        else:
            view = _vector(d, "view_direction")
        sod = d.number("source_object_mm", positive=True,
                       expected="a positive distance in mm") * 1e-3
        if d.has("source_detector_mm") == d.has("magnification"):
            raise CaseError("drift: give exactly one of source_detector_mm or magnification")
        if d.has("magnification"):
            M = d.number("magnification", lo=1.0, hi=1e6, expected="a magnification in (1, 1e6]")
            if M <= 1.0:
                raise _fail("drift.magnification", M, "a magnification > 1")
            sdd = M * sod
        else:
            sdd = d.number("source_detector_mm", positive=True,
                           expected="a positive distance in mm") * 1e-3
            if sdd <= sod:
                raise _fail("drift.source_detector_mm", sdd * 1e3,
                            "more than drift.source_object_mm")
        pixel = d.number("pixel_size_um", positive=True, expected="a positive size in µm") * 1e-6
        d.close()
        v = np.asarray(view) / np.linalg.norm(view)
        if geometry.kind == "user_mesh":  # the face normal is known once the mesh is read
            return Mechanics(mounts, free, T_ref if T_ref is not None else T_init,
                             DriftSettings(tuple(beam_cfg.direction), view, sod, sdd, pixel,
                                           take_off))
        if geometry.dim == 3:
            normal = face_normal(geometry.anode_angle_rad)
            b_case = beam_direction(geometry.anode_angle_rad, beam_cfg.direction)
            if d.has("beam_direction") and np.linalg.norm(
                    np.asarray(beam) / np.linalg.norm(beam) - b_case) > 1e-9:
                raise _fail("drift.beam_direction", list(beam),
                            f"the beam direction of the case {[round(float(c), 6) for c in b_case]} "
                            "(give it as beam.direction)")
            beam = tuple(b_case)
            if v @ normal < np.sin(np.radians(0.5)):
                raise _fail("drift.view_direction", list(view),
                            "a central ray that leaves the target face (take-off angle above "
                            "0.5°)")
        else:
            normal = np.array([0.0, 0.0, 1.0])
            outward = -1.0 if geometry.kind == "transmission" else 1.0  # through the window
            if outward * v[2] < np.sin(np.radians(0.5)):
                side = ("through the window (z < 0)" if geometry.kind == "transmission"
                        else "out of the target face (z > 0)")
                raise _fail("drift.view_direction", list(view),
                            f"a central ray that leaves {side} at more than 0.5°")
            b = np.asarray(beam) / np.linalg.norm(beam)
            if abs(b[0]) > 1e-9 or abs(b[1]) > 1e-9:
                raise _fail("drift.beam_direction", list(beam),
                            "the anode axis [0, 0, -1] (axisymmetric geometries take the beam "
                            "along the axis)")
        try:
            check_imaging(beam, normal, view, sod, sdd, pixel)
        except DriftInputError as e:
            key = str(e).split(":")[0]
            value = {"beam_direction": list(beam), "view_direction": list(view)}.get(key)
            raise CaseError(f"drift.{key} = {value!r}: {str(e).split(': ', 1)[-1]}") from None
        drift = DriftSettings(beam, view, sod, sdd, pixel)
    return Mechanics(mounts, free, T_ref if T_ref is not None else T_init, drift)


def _numbers(sec: _Section, key: str, default, lo: float, hi: float, what: str) -> tuple:
    v = sec.raw(key, list(default), expected=what)
    if (not isinstance(v, list) or not v
            or any(isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x)
                   or not lo < x <= hi for x in v)):
        raise _fail(sec._key(key), v, what)
    return tuple(float(x) for x in v)


def _rating(root: _Section) -> RatingSettings:
    d = RatingSettings()
    sec = root.section("rating", {})
    exposure = _numbers(sec, "exposure_s", d.exposure_s, 0.0, math.inf,
                        "[shortest, longest] loading times in s, shortest < longest")
    if len(exposure) != 2 or exposure[0] >= exposure[1]:
        raise _fail("rating.exposure_s", list(exposure),
                    "[shortest, longest] loading times in s, shortest < longest")
    out = RatingSettings(
        exposure_s=exposure,
        exposure_points=sec.integer("exposure_points", d.exposure_points, minimum=2),
        preload_W=sec.number("preload_W", d.preload_W, nonneg=True),
        period_s=sec.number("period_s", d.period_s, positive=True),
        duty_cycles=_numbers(sec, "duty_cycles", d.duty_cycles, 0.0, 1.0,
                             "a non-empty list of duty cycles in (0, 1]"),
        duty_cycle=sec.number("duty_cycle", d.duty_cycle, positive=True, hi=1.0,
                              expected="a duty cycle in (0, 1]"),
        periods_s=_numbers(sec, "periods_s", d.periods_s, 0.0, math.inf,
                           "a non-empty list of periods in s"),
    )
    sec.close()
    return out


# --------------------------------------------------------------------------------------
# Cross-checks and entry points
# --------------------------------------------------------------------------------------
def _target_face_diameter(g: Geometry) -> float:
    s = g.sizes_m
    if g.kind == "user_mesh":
        return math.inf  # the deposited-power check of the run covers it
    return 2 * {"reflection_insert": s.get("insert_radius_m"),
                "reflection_3d": s.get("insert_radius_m"),
                "transmission": s.get("target_radius_m"),
                "block": s.get("radius_m")}[g.kind]


def from_dict(data: dict, base_dir: Path | str = ".") -> Case:
    """Validate a case given as a dict (as read from TOML, units in the key names).

    Args:
        data: the parsed case file.
        base_dir: folder that relative paths in the case (mesh.file) refer to.

    Returns:
        The validated case in SI units.

    Raises:
        CaseError: on the first bad key, with its path, value and what was expected.
    """
    root = _Section(data, "")
    title = root.string("title", "anodesim case")
    geometry = _geometry(root, Path(base_dir))
    mesh = _mesh(root, Path(base_dir))
    materials = _materials(root, geometry)
    beam = _beam(root, geometry)
    if geometry.kind == "user_mesh" and beam.direction is None:
        raise CaseError("beam.direction: missing; expected the electrons' travel direction "
                        "[x, y, z] (a user mesh has no default beam)")
    face = _target_face_diameter(geometry)
    if beam.spot == "flat_top" and beam.size_m > face:
        raise _fail("beam.diameter_um", beam.size_m * 1e6,
                    f"a spot no larger than the target face ({face * 1e6:g} µm across)")
    from .beam import GAUSSIAN_RADIUS_PER_FWHM

    largest = 0.5 * face / GAUSSIAN_RADIUS_PER_FWHM
    if beam.spot == "gaussian" and beam.size_m > largest * (1 + 1e-12):
        raise _fail("beam.fwhm_um", beam.size_m * 1e6,
                    f"a spot no larger than the target face allows: FWHM at most "
                    f"{largest * 1e6:.4g} µm (target radius / 1.58), or more than 0.1 % "
                    "of the beam power falls beside the target")
    loading = _loading(root, beam)
    if beam.power_W is None:  # a segments schedule: the beam's power is its highest
        beam = replace(beam, power_W=max(p for _, p in loading.segments))
    boundaries = _boundaries(root, geometry)
    interfaces = _interfaces(root, geometry)
    init = root.section("initial", {})
    T0 = _celsius(init, "temperature_C", 20.0)
    init.close()
    probes = _probes(root)
    time = _time(root)
    end = sum(d for d, _ in loading.segments)
    output = _output(root, end)
    mechanics = _mechanics(root, geometry, beam, T0)
    lim = root.section("limits", {})
    temps = [_celsius(lim, k, None) for k in
             ("spot_C", "interface_C", "heat_sink_C", "coolant_side_C")]
    drift_um = lim.number("drift_um", None, positive=True, expected="a positive drift in µm")
    drift_px = lim.number("drift_px", None, positive=True,
                          expected="a positive image drift in detector pixels")
    lim.close()
    key, given = ("drift_px", drift_px) if drift_px is not None else ("drift_um", drift_um)
    if drift_um is not None and drift_px is not None:
        raise CaseError("limits: give the drift tolerance as drift_um or drift_px, not both")
    if given is not None and (mechanics is None or mechanics.drift is None):
        raise CaseError(f"limits.{key} = {given:g}: a drift limit needs the imaging "
                        "geometry: add [drift] (and [mounts])")
    if drift_px is not None:  # image drift (M − 1) δ⊥ / pixel → δ⊥ at the source, in µm
        d = mechanics.drift
        M = d.source_detector_m / d.source_object_m
        drift_um = drift_px * d.pixel_m / (M - 1.0) * 1e6
    limits = Limits(*temps, drift_um=drift_um)
    rating = _rating(root)
    num = root.section("numerics", {})
    numerics = Numerics(num.choice("solver", SOLVERS, "auto"),
                        num.number("rtol", 1e-10, positive=True, hi=1e-3,
                                   expected="a relative tolerance in (0, 1e-3]"))
    num.close()
    root.close()
    if loading.kind == "steady" and not any(
            b.type in ("fixed", "convection", "radiation") for b in boundaries.values()):
        raise CaseError("boundaries: a steady state needs at least one face with type "
                        "fixed, convection or radiation (all faces are adiabatic)")
    for p in probes:
        if p.r_m > _target_face_diameter(geometry) / 2 and geometry.kind not in (
                "reflection_insert", "reflection_3d"):
            raise _fail(f"probes.{p.name}.r_mm", p.r_m * 1e3, "a radius inside the target")
    return Case(title, geometry, mesh, materials, beam, loading, boundaries, interfaces, T0,
                probes, time, output, mechanics, limits, rating, numerics, source=data)


def read_toml(path: str | Path, what: str = "case file") -> dict:
    """Parse a TOML file (a case or a study) into a dict.

    Raises:
        CaseError: the file cannot be read, is not UTF-8 text or is not valid TOML (one line).
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise CaseError(f"{path}: cannot read the {what} ({e.strerror or e})") from None
    except tomllib.TOMLDecodeError as e:
        raise CaseError(f"{path}: not valid TOML ({e})") from None
    except UnicodeDecodeError:
        raise CaseError(f"{path}: not a text file in UTF-8 (a TOML {what} is expected)") \
            from None


def load(path: str | Path) -> Case:
    """Read and validate a case file.

    Raises:
        CaseError: unreadable file, bad TOML or bad content (one line).
    """
    path = Path(path)
    return from_dict(read_toml(path), path.parent)
