"""One reader per table of the case file (geometry, mesh, materials, beam, loading,
boundaries, interfaces, probes, time, output, rating), each converting to SI once.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from ..beam import DEPOSITIONS
from ..extra_focal import DEFAULT_DISTANCE_M, MODES as EXTRA_FOCAL_MODES
from ..frames import ENTRIES, textbook
from ..spot_sizes import DEFINITIONS as SIZE_DEFINITIONS, conversion_factor
from .model import (BOUNDARY_TYPES, COOLANT_RHO_CP, COOLANTS, GEOMETRIES, HOUSING_SIZES,
                    LOADING_KINDS, MAX_DURATION_S, MAX_STEPS, MIN_DURATION_S,
                    PROBE_QUANTITIES, ROUND_SPOTS, SPOT_SHAPES,
                    USER_GEOMETRIES,
                    ZERO_CELSIUS_K, Beam, Boundary, CoolantCircuit, Geometry, Loading,
                    Materials, MeshSettings, Output, PointingDrift, Probe,
                    RatingSettings, TimeSettings, faces_of, interfaces_of, ordered_regions,
                    near_one, pulse_too_short, rating_defaults, regions_of)
from . import user_materials
from .reader import (CaseError, UnknownKeyError, _celsius, _did_you_mean, _fail, _numbers,
                     _Section, _vector)


def _missing(key: str, given: str, base_dir: Path, expected: str) -> CaseError:
    """The CaseError of a file the case names that is not there; for a relative name, the
    folder it was looked for in (the case file's, or from_dict's base_dir: a case dict
    built in Python, e.g. from ``load(...).source``, reads it from the current folder
    unless given base_dir)."""
    error = _fail(key, str(base_dir / given), expected)
    if Path(given).is_absolute():
        return error
    return CaseError(f"{error} (a relative name is read from the case file's folder, or "
                     f"from_dict's base_dir: here {Path(base_dir).resolve()})")


# --------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------
def _user_mesh(sec: _Section, base_dir: Path, materials: dict) -> Geometry:
    from . import mesh_import  # meshio, no gmsh or dolfinx

    path = base_dir / sec.string("file")
    if not path.is_file():
        raise _missing("geometry.file", sec.string("file"), base_dir, "an existing mesh file")
    # gmsh meshes of this project are in metres; other formats must say their unit
    unit = sec.choice("mesh_unit", tuple(mesh_import.UNITS),
                      "m" if path.suffix == ".msh" else ...)
    groups = {}
    if sec.has("groups"):
        gs = sec.section("groups")
        for name in list(gs.data):
            ref = gs.raw(name)
            if isinstance(ref, bool) or not isinstance(ref, (int, str)):
                raise _fail(f"geometry.groups.{name}", ref,
                            "an integer tag of the mesh file or the name of a set in it")
            groups[name] = ref
        gs.close()
    # gmsh numbers volume and surface groups apart (Physical Volume(1), Physical Surface(1)):
    # a tag marking both is the region for a name [materials] gives a material, else the face
    regions = frozenset(k for k, v in materials.items() if isinstance(v, str)) \
        if isinstance(materials, dict) else frozenset()
    try:
        um = mesh_import.read(str(path), unit, groups or None, regions)
    except mesh_import.MeshImportError as e:
        raise CaseError(str(e)) from None
    for name, dim in (("target", 3), ("beam_face", 2)):
        if um.dims.get(name) != dim:
            raise _fail("geometry.file", str(path),
                        f"a mesh with a {'volume' if dim == 3 else 'surface'} set named "
                        f"'{name}' (found: {', '.join(sorted(um.dims)) or 'none'}"
                        f"{'; or map one in [geometry.groups]' if not groups else ''})")
    if not mesh_import.SMALLEST_M <= um.diagonal <= mesh_import.LARGEST_M:
        raise _fail("geometry.mesh_unit", unit,
                    f"the unit of the mesh's coordinates (with {unit!r} the mesh is "
                    f"{um.diagonal:.4g} m across; an anode is "
                    f"{mesh_import.SMALLEST_M * 1e3:g} mm to {mesh_import.LARGEST_M:g} m)")
    _check_region_names(um.dims, "geometry.file" if not groups else "geometry.groups")
    point = _impact_point(sec)
    sec.close()
    return Geometry("user_mesh", {}, file=str(path), impact_point_m=point,
                    mesh_groups=dict(um.dims), mesh_unit=unit, groups=groups)


#: Region names a user's mesh or CAD part may not use: a region's column T_max_<name>_C
#: would be the cooled faces' hottest node's (monitors.FaceMaxima).
RESERVED_REGIONS = ("coolant_side",)


def _check_region_names(dims: dict, key: str) -> None:
    for name in RESERVED_REGIONS:
        if dims.get(name) == 3:
            raise CaseError(f"{key}: a region named {name!r}; expected another name (its "
                            f"column T_max_{name}_C is the cooled faces' hottest node's)")


def _cad(sec: _Section, base_dir: Path) -> Geometry:
    from . import step_file  # gmsh (OpenCASCADE), no dolfinx

    path = base_dir / sec.string("file")
    if not path.is_file():
        raise _missing("geometry.file", sec.string("file"), base_dir, "an existing STEP file")
    groups, dims = {}, {}
    for table, dim in (("regions", 3), ("faces", 2)):
        ts = sec.section(table, {})
        for name in list(ts.data):
            ref = ts.raw(name)
            if isinstance(ref, dict):
                box = ts.section(name)
                ref = [c * 1e-3 for c in _numbers(box, "box_mm", (), -math.inf, math.inf,
                                                     "a box [x0, y0, z0, x1, y1, z1] in mm")]
                if len(ref) != 6 or any(ref[i] > ref[i + 3] for i in range(3)):
                    raise _fail(f"geometry.{table}.{name}.box_mm", [c * 1e3 for c in ref],
                                "a box [x0, y0, z0, x1, y1, z1] in mm with x0 <= x1, y0 <= y1, "
                                "z0 <= z1")
                box.close()
            elif not isinstance(ref, str):
                raise _fail(f"geometry.{table}.{name}", ref, "a name in the STEP file or "
                            "{ box_mm = [x0, y0, z0, x1, y1, z1] }")
            groups[name], dims[name] = ref, dim
        ts.close()
    names = step_file.solid_names(str(path))  # (reads the file: CadError if it cannot)
    if not any(d == 3 for d in dims.values()):  # the solids' own names
        for name in names:
            groups[name], dims[name] = name, 3
    if "" in groups:
        raise _fail("geometry.regions", {}, "names for the regions: the STEP file has unnamed "
                    "solids (name its bodies in the CAD tool, or choose them by box_mm)")
    for name, dim, table in (("target", 3, "regions"), ("beam_face", 2, "faces")):
        if dims.get(name) != dim:
            found = ", ".join(sorted(n for n, d in dims.items() if d == dim)) or "none"
            raise CaseError(f"geometry.{table}.{name}: missing; expected the "
                            f"{'solid' if dim == 3 else 'face'} hit by the beam (found: {found})")
    _check_region_names(dims, "geometry.regions")
    # the target first, the heat sink second, as a user mesh's (mesh_import): listed in the
    # case or the STEP file after another region, T_peak was that region's
    dims = {name: dims[name] for name in ordered_regions(dims)}
    point = _impact_point(sec)
    sec.close()
    return Geometry("cad", {}, file=str(path), impact_point_m=point, mesh_groups=dims,
                    groups=groups)


def _impact_point(sec: _Section) -> tuple[float, float, float]:
    """geometry.impact_point_mm: each coordinate within 1 km of the origin (a CAD assembly's
    coordinates may place the anode metres away; 1e300 mm reached numpy's overflow warnings
    before the "not on the beam_face" line, which said "inf mm away")."""
    point = sec.raw("impact_point_mm", expected="a point [x, y, z] in mm")
    if (not isinstance(point, list) or len(point) != 3 or any(
            isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c)
            or abs(c) > 1e6 for c in point)):
        raise _fail("geometry.impact_point_mm", point,
                    "a point [x, y, z] in mm, each coordinate from -1e6 to 1e6 (1 km)")
    return tuple(float(c) * 1e-3 for c in point)


def _geometry(root: _Section, base_dir: Path) -> Geometry:
    sec = root.section("geometry")
    kind = sec.choice("kind", tuple(GEOMETRIES))
    if kind == "user_mesh":
        return _user_mesh(sec, base_dir, root.data.get("materials", {}))
    if kind == "cad":
        return _cad(sec, base_dir)
    spec = GEOMETRIES[kind]
    sizes = {}
    for key, scale in spec["sizes"].items():
        v = _length(sec, key, scale, None if key == "target_radius_mm" else ...)
        if v is not None:
            sizes[key.rsplit("_", 1)[0] + "_m"] = v * scale
    housing = (_housing(sec, sizes) if kind in ("reflection_insert", "reflection_3d")
               and sec.has("housing") else None)
    angle = 0.0
    if kind == "reflection_3d":
        angle = math.radians(sec.number("anode_angle_deg", 0.0, lo=0.0, hi=80.0,
                                        expected="an angle in [0, 80] degrees"))
        convention = sec.choice("angle_convention", ("textbook",), None)
        if angle > 0.0 and convention is None:
            raise CaseError(
                f"geometry.anode_angle_deg = {math.degrees(angle):g} needs geometry."
                "angle_convention = \"textbook\": since issue 14 it is the textbook target "
                "angle (face to central ray, beam along the rod, incidence θ), where older case "
                "files meant the cut of the end face with the beam across the rod (incidence "
                "90° − θ); the old tube is beam.entry = \"side\" with anode_angle_deg = 90 − θ")
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
    return Geometry(kind, sizes, angle, housing_m=housing)


def _length(sec: _Section, key: str, scale: float, default=...) -> float | None:
    """A geometry length in the key's unit (scale: that unit in m), from a nanometre to a
    metre (1e300 mm passed and then failed in gmsh with "no message"; a 1e-300 µm film was
    "internal error (ZeroDivisionError)" in `check`)."""
    return sec.number(key, default, lo=1e-9 / scale, hi=1.0 / scale,
                      expected=f"a length from {1e-9 / scale:g} to {1.0 / scale:g} (1 nm to "
                      "1 m)")


def _housing(sec: _Section, sizes: dict[str, float]) -> dict[str, float]:
    """The [geometry.housing] table: a cylindrical shell below the rod (m)."""
    h = sec.section("housing")
    out = {key.rsplit("_", 1)[0] + "_m": _length(h, key, scale) * scale
           for key, scale in HOUSING_SIZES.items()}
    h.close()
    Rc = sizes["anode_radius_m"]
    if out["inner_radius_m"] >= Rc:
        raise _fail("geometry.housing.inner_radius_mm", out["inner_radius_m"] * 1e3,
                    "less than geometry.anode_radius_mm (the housing carries the rod)")
    if out["outer_radius_m"] < Rc:
        raise _fail("geometry.housing.outer_radius_mm", out["outer_radius_m"] * 1e3,
                    "at least geometry.anode_radius_mm")
    return out


def with_beam_entry(geometry: Geometry, beam: Beam) -> Geometry:
    """A reflection_3d geometry with the face cut of its beam entry (frames.textbook),
    checked to fit the rod; other geometries unchanged."""
    if geometry.kind != "reflection_3d":
        return geometry
    cut = textbook(geometry.anode_angle_rad, beam.entry)[0]
    _check_tilted_sizes(geometry.sizes_m, cut)
    return replace(geometry, face_cut_rad=cut)


def _check_tilted_sizes(sizes: dict[str, float], angle_rad: float) -> None:
    """CaseError when the tilted face of a 3-D rod reaches the cooled end or the disc leaves
    the rod (sizes in m, face cut in rad; see geometry/reflection3d.py)."""
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


def _mesh(root: _Section, base_dir: Path, geometry: Geometry) -> MeshSettings:
    sec = root.section("mesh", {})
    if geometry.kind == "user_mesh" and sec.data:
        key = next(iter(sec.data))
        raise _fail(f"mesh.{key}", sec.data[key], "no [mesh] keys with geometry.kind = "
                    "'user_mesh' (its mesh is geometry.file, used as it is: refine it in "
                    "the mesher that made it)")
    ms = MeshSettings(
        # below 0.001 (a 20 nm element under a 20 µm spot) nothing is resolved that 0.001
        # does not, and 1e-300 divided by zero in the cost estimate
        spot_fraction=sec.number("spot_fraction", 0.05, lo=1e-3, hi=1.0,
                                 expected="a number in [0.001, 1]"),
        growth=sec.number("growth", MeshSettings.growth, positive=True, hi=2.0,
                          expected="a number in (0, 2]"),
        max_size_m=None if (v := _length(sec, "max_size_mm", 1e-3, None)) is None
        else v * 1e-3,
        file=None,
        joint_corner_m=None if (c := _joint_corner_um(sec)) is None else c * 1e-6,
    )
    if sec.has("file"):
        p = base_dir / sec.string("file")
        if not p.is_file():
            raise _missing("mesh.file", sec.string("file"), base_dir, "an existing .msh file")
        ms = replace(ms, file=str(p))
    sec.close()
    return ms


def _joint_corner_um(sec: _Section) -> float | None:
    """mesh.joint_corner_um: 0 (no refinement), or 0.1 µm (a thousandth of the 0.1 mm ball
    of the yield use, which the 12.5 µm default resolves to 1.4 %) to 1e6. 1e-100 µm broke
    the mesh in silence: the beam source resolved to 0.48 of its power, rescaled, with a
    warning to refine mesh.spot_fraction."""
    expected = "a size in µm: 0 (no refinement), or 0.1 to 1e6"
    c = sec.number("joint_corner_um", None, lo=0.0, hi=1e6, expected=expected)
    if c is not None and 0.0 < c < 0.1:
        raise _fail("mesh.joint_corner_um", c, expected)
    return c


OVERRIDE_KEYS = {"k_W_mK": "k", "cp_J_kgK": "cp", "rho_kg_m3": "rho",
                 "alpha_1_K": "alpha", "E_Pa": "E", "nu_1": "nu"}


def _materials(root: _Section, geometry: Geometry, base_dir: Path) -> Materials:
    from ..materials import library  # reads a TOML data file, no dolfinx

    regions = regions_of(geometry)
    sec = root.section("materials")
    user = user_materials.read(sec, base_dir)
    lib = {**library(), **user}
    by_region = {}
    for region in regions:
        if geometry.kind in USER_GEOMETRIES and not sec.has(region):
            raise CaseError(f"materials.{region}: missing; expected a material for the region "
                            f"'{region}' of {geometry.file}")
        name = sec.string(region)
        if name not in lib:
            raise _fail(f"materials.{region}", name,
                        "a material of the library or the case: " + ", ".join(sorted(lib))
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
                if not rs.has(key):
                    continue
                if prop == "nu":  # 0.5: incompressible, no elastic operator (λ infinite)
                    what = "a Poisson ratio in (0, 0.5)"
                    v = rs.number(key, expected=what)
                    if not 0.0 < v < 0.5:
                        raise _fail(rs._key(key), v, what)
                else:
                    v = rs.number(key, positive=prop != "alpha")
                    _check_plausible(rs._key(key), prop, v)
                overrides[region][prop] = v
            rs.close()
    ov.close()
    sec.close()
    return Materials(by_region, overrides, mode == "temperature_dependent",
                     {k: v for k, v in user.items() if k in by_region.values()})


def _check_plausible(key: str, prop: str, value: float) -> None:
    """An override in a data sheet's units (E_Pa = 128 meant in GPa, alpha_1_K = 17 in
    ppm/K) is refused as a user material's table is (materials.PLAUSIBLE_AT_20_C): it ran,
    and a modulus 1e9 times too low put every stress, and the yield use, near zero."""
    from ..materials import implausible

    expected = implausible(prop, value)
    if expected:
        raise _fail(key, value, f"a value {expected}")


#: The largest beam the case layer accepts: ten times a high-power CT tube's (100 kW at
#: about 1 A); the tool's tubes run below a kilowatt.
MAX_BEAM_W, MAX_BEAM_MA = 1e6, 1e4


def _power_W(sec: _Section) -> float:
    """A beam power (W): the beam's or a segment's, 0 to MAX_BEAM_W."""
    return sec.number("power_W", nonneg=True, hi=MAX_BEAM_W,
                      expected=f"a beam power in W, 0 to {MAX_BEAM_W:g}")


def _beam(root: _Section, geometry: Geometry) -> Beam:
    sec = root.section("beam")
    # at least 1 kV: 1e-100 kV (an electron range of nothing) divided by zero in the cost
    # estimate ("internal error"), and below 1 kV the spot's mesh runs to millions of cells
    kV = sec.number("voltage_kV", lo=1.0, hi=1000.0, expected="a tube voltage in kV, 1 to 1000")
    has_i, has_p = sec.has("current_mA"), sec.has("power_W")
    if has_i and has_p:
        raise CaseError("beam: give exactly one of current_mA or power_W (found both)")
    power = None  # only a segments schedule may leave it out (_loading)
    # at most MAX_BEAM_W (a 1e300 mA beam ran into a melting message with a 300-digit
    # temperature); a current up to MAX_BEAM_MA
    if has_i:
        power = kV * sec.number("current_mA", nonneg=True, hi=MAX_BEAM_MA,
                                expected=f"a beam current in mA, 0 to {MAX_BEAM_MA:g}")
        if power > MAX_BEAM_W:
            raise _fail("beam.current_mA", power / kV,
                        f"a beam of at most {MAX_BEAM_W:g} W (kV x mA: {power:g} W here)")
    elif has_p:
        power = _power_W(sec)
    spot = sec.choice("spot", SPOT_SHAPES if geometry.dim == 3 else ROUND_SPOTS, "gaussian")
    size2, orientation = None, 0.0
    # at least 1 nm (`run` refuses below 0.1 µm unless --force): 1e-300 µm underflowed to a
    # zero cell size in the cost estimate ("internal error"); at most 1 m, the largest body
    length = lambda key: sec.number(  # noqa: E731
        key, lo=1e-3, hi=1e6, expected="a spot size in µm from 0.001 (1 nm) to 1e6 (1 m)") \
        * 1e-6
    if spot == "flat_top":
        size = length("diameter_um")
    elif spot == "elliptical":
        size, size2 = length("fwhm_major_um"), length("fwhm_minor_um")
        if size2 > size:
            raise _fail("beam.fwhm_minor_um", size2 * 1e6, "at most beam.fwhm_major_um")
    elif spot == "line":
        size, size2 = length("fwhm_um"), length("length_um")
        _check_line_length(size, size2)
    else:
        size = length("fwhm_um")
    definition = sec.choice("size_definition", SIZE_DEFINITIONS, "fwhm")
    given_m = size
    if definition != "fwhm":  # the given sizes are X-ray spot sizes: to the beam's
        f = conversion_factor(definition, spot)
        size /= f
        if spot == "elliptical":
            size2 /= f
    if spot in ("elliptical", "line"):
        orientation = math.radians(sec.number("orientation_deg", 0.0, lo=-360.0, hi=360.0,
                                              expected="an angle in degrees"))
    direction = _vector(sec, "direction") if geometry.dim == 3 and sec.has("direction") \
        else None
    entry = "axial"
    if geometry.kind == "reflection_3d":
        if direction is not None:
            raise _fail("beam.direction", list(direction),
                        "no direction on a reflection_3d anode: its beam follows beam.entry "
                        "(\"axial\", along the rod, the default; or \"side\") and the textbook "
                        "geometry.anode_angle_deg (issue 14)")
        entry = sec.choice("entry", ENTRIES, "axial")
    deposition = sec.choice("deposition", DEPOSITIONS + ("volume",), "kernel")
    if deposition == "volume":  # its name before issue 12
        deposition = "everhart_hoff"
    eta = sec.number("backscatter_energy_fraction", None, lo=0.0, hi=0.99,
                     expected="a fraction in [0, 0.99]")
    extra = sec.choice("extra_focal", EXTRA_FOCAL_MODES, "face")
    # at least 0.1 mm: the hood and aperture plate sit a few mm from the spot (README,
    # physics); 1e-300 mm underflowed H² to 0, a landing of no area ("internal error"), and
    # 0.005 (the default given in m) put the hood 5 µm from the spot
    distance = sec.number("extra_focal_distance_mm", DEFAULT_DISTANCE_M * 1e3, lo=0.1,
                          hi=1000.0, expected="a distance in mm from 0.1 to 1000") * 1e-3
    named = _extra_focal_faces(sec, geometry)
    sec.close()
    return Beam(kV * 1e3, power, spot, size, deposition, eta, size2, orientation, direction,
                definition, given_m, extra, distance, named, entry)


def _check_line_length(width_m: float, length_m: float) -> None:
    """A line focus is at least as long as it is wide: a line focus's length is several
    times its width (0.4 mm × 8 mm, 1 mm × 10 mm on diffraction tubes: a 10-20× ratio), and a
    shorter "line" is a blurred round spot. Below its width, length_um is a unit slip: a
    length in m (0.008 for 8 mm) or in mm (8) given in µm ran as a nearly round spot."""
    if length_m < width_m * (1.0 - 1e-12):
        raise _fail("beam.length_um", float(f"{length_m * 1e6:.12g}"),
                    f"a line length in µm of at least its width beam.fwhm_um = "
                    f"{width_m * 1e6:g} (a line focus is several times longer than wide; a "
                    "length in mm or m given in µm?)")


def _extra_focal_faces(beam: _Section, geometry: Geometry) -> tuple[tuple[str, float], ...]:
    """[beam.extra_focal_faces] <face> = share: faces of the geometry, shares adding up to
    at most 1."""
    sec = beam.section("extra_focal_faces", {})
    faces = tuple(faces_of(geometry))
    out = []
    for name in sec.data:
        _check_face(sec.path, name, faces)
        out.append((name, sec.number(name, lo=0.0, hi=1.0, expected="a share in [0, 1]")))
    total = sum(s for _, s in out)
    if total > 1.0 + 1e-9:
        raise _fail(sec.path, dict(out), f"shares adding up to at most 1 (they add up to "
                    f"{total:g})")
    return tuple(out)


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
        segments = [(_duration(sec, "duration_s"), P)]
    elif kind == "pulse_train":
        # a run takes at most MAX_STEPS steps, two a pulse at the least: a larger count was
        # built into a list first (9e18 pulses: 21 GB, then the out-of-memory killer)
        n = sec.integer("pulses", maximum=MAX_STEPS // 2,
                        why=f" (a run takes at most {MAX_STEPS:,} steps; `anodesim rate` "
                            "rates the periodic state of an endless train)")
        if sec.has("on_s") or sec.has("off_s"):
            both = [k for k in ("period_s", "duty_cycle") if sec.has(k)]
            if both:
                given = "on_s" if sec.has("on_s") else "off_s"
                raise CaseError(f"loading.{both[0]}: given together with loading.{given}; "
                                "expected either on_s and off_s, or period_s and duty_cycle "
                                "(they exclude each other)")
            on = _duration(sec, "on_s", "a pulse length")
            off = _duration(sec, "off_s", "a pause", zero=True)
        else:
            period = _duration(sec, "period_s", "a period", hint=" (or give on_s and off_s)")
            duty = sec.number("duty_cycle", positive=True, hi=1.0,
                              expected="a duty cycle in (0, 1]")
            on, off = duty * period, (1.0 - duty) * period
            _check_pulse("loading.duty_cycle", duty, duty, period, "loading.period_s")
        segments = []
        for _ in range(n):
            segments.append((on, P))
            if off > 0:
                segments.append((off, 0.0))
        if sec.has("cool_down_s"):
            segments.append((_duration(sec, "cool_down_s", "a cooling time"), 0.0))
    else:  # segments
        raw = sec.raw("segment", expected="a list of [[loading.segment]] tables")
        if not isinstance(raw, list) or not raw:
            raise _fail("loading.segment", raw, "a non-empty list of [[loading.segment]] tables")
        segments = []
        for i, item in enumerate(raw):
            s = _Section(item, f"loading.segment[{i}]")
            segments.append((_duration(s, "duration_s"), _power_W(s)))
            s.close()
        _check_segments_power(root, beam, max(p for _, p in segments))
    repeat, pause = _repeat_every(sec, kind, segments)
    sec.close()
    return Loading(kind, tuple(segments), repeat, pause)


def _repeat_every(sec: _Section, kind: str, segments: list[tuple[float, float]]
                  ) -> tuple[float | None, float]:
    """loading.repeat_every_s: the time (s) from one start of the schedule to the next in
    service, at least the schedule's own duration; the pause that makes it up is appended
    to the segments (zero power), so that the run simulates the cool-down between loads.
    None when not given (the life figures are then per load, limits.life_summary); with
    the pause appended (s, 0 for none)."""
    if not sec.has("repeat_every_s"):
        return None, 0.0
    if kind == "steady":
        raise _fail("loading.repeat_every_s", sec.raw("repeat_every_s"),
                    "no repetition with kind = \"steady\" (continuous operation: leave it out)")
    own = sum(d for d, _ in segments)
    expected = (f"the time in s from one start of the schedule to the next, at least the "
                f"schedule's own {own:g} s and at most {MAX_DURATION_S:g}")
    repeat = sec.number("repeat_every_s", nonneg=True, hi=MAX_DURATION_S, expected=expected)
    if repeat < own * (1.0 - 1e-12):
        raise _fail("loading.repeat_every_s", repeat, expected)
    if repeat - own > max(MIN_DURATION_S, 1e-9 * repeat):  # else back to back
        segments.append((repeat - own, 0.0))
        return repeat, repeat - own
    return repeat, 0.0


def _check_pulse(key: str, value: float, duty: float, period: float, other: str,
                 origin: str = "") -> None:
    """A duty cycle and a period whose pulse (duty × period) and pause ((1 − duty) × period)
    each last at least MIN_DURATION_S, or without a pause (duty 1): model.pulse_too_short.

    Args:
        key: the key given (value is its value), a duty cycle's or a period's.
        duty, period: the pair (s).
        other: the key of the pair's other member, for the message.
        origin: where the other member's value comes from when the case does not give
            it (", the default"), for the message.
    """
    if pulse_too_short(duty, period):
        raise _fail(key, value, f"a duty cycle and period whose pulse and pause (with {other} "
                    f"= {near_one(duty) if 'duty_cycle' in other else f'{period:g}'}{origin}) each "
                    f"last at least {MIN_DURATION_S:g} s, or duty cycle 1 (no pause)")


def _duration(sec: _Section, key: str, what: str = "a duration", *, zero: bool = False,
              hint: str = "") -> float:
    """A time span of the schedule (s): from MIN_DURATION_S to MAX_DURATION_S, or 0 where
    zero is allowed (a pulse train without pauses).

    Args:
        sec: the table.
        key: the key (a required one).
        what: what the span is, for the message ("a pause").
        zero: 0 is allowed too.
        hint: appended to what was expected.
    """
    expected = (f"{what} in s from {MIN_DURATION_S:g} to {MAX_DURATION_S:g} (11.6 days)"
                + (", or 0" if zero else "") + hint)
    v = sec.number(key, nonneg=True, hi=MAX_DURATION_S, expected=expected)
    if v < MIN_DURATION_S and not (zero and v == 0):
        raise _fail(sec._key(key), v, expected)
    return v


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
        raise UnknownKeyError(f"{table}.{name}", "face", faces)


#: Largest |heat flux| (W/m²) of a heat_flux face: 1 GW/m², above the 0.63 GW/m² of the
#: JUDITH thermal-shock test (1 ms pulses; source-and-limits.md §3.3). A face flux q raises
#: a half-space's surface by 2q√(t/π)/√(kρc) (Carslaw & Jaeger §2.9): at 1 GW/m² by 1700 K
#: in W (√(kρc) = 2.1e4 W s^½/m²K, physics.md §3 set) and 960 K in Cu within 1 ms, so any
#: anode material melts under it within milliseconds. (The focal spot's own ~1e11 W/m² is
#: the beam's, [beam].) 1e12 ran, into a melting message.
MAX_HEAT_FLUX_W_M2 = 1e9


#: Largest heat-transfer coefficient (W/m²K) of a convection face: its film resistance
#: 1/h = 1e-7 m²K/W is that of 40 µm of Cu (k ≈ 400 W/m/K), a face at the coolant's
#: temperature for any anode (type "fixed"), and 333 times the 30 000 W/m²K of forced water
#: in turbulent channels (physics.md §7). 1e300 ran.
MAX_H_W_M2K = 1e7


def _boundaries(root: _Section, geometry: Geometry) -> dict[str, Boundary]:
    faces = tuple(faces_of(geometry))
    sec = root.section("boundaries", {})
    out = {}
    for name in sec.data:
        _check_face("boundaries", name, faces)
        b = sec.section(name)
        t = b.choice("type", BOUNDARY_TYPES)
        if t == "fixed":
            bc = Boundary(t, temperature_K=_celsius(b, "temperature_C"),
                          coolant=b.choice("coolant", COOLANTS, None))
        elif t == "convection":
            circuit = b.boolean("coolant_circuit", False)
            if circuit and b.has("temperature_C"):
                raise CaseError(f"boundaries.{name}: give temperature_C or coolant_circuit = "
                                "true (the circuit sets the coolant temperature), not both")
            bc = Boundary(t, temperature_K=None if circuit else _celsius(b, "temperature_C"),
                          h_W_m2K=b.number("h_W_m2K", positive=True, hi=MAX_H_W_M2K,
                                           expected="a positive heat-transfer coefficient in "
                                           f"W/m²K, at most {MAX_H_W_M2K:g} (type = \"fixed\" "
                                           "for a face held at the coolant's temperature)"),
                          coolant=b.choice("coolant", COOLANTS, None), circuit=circuit)
        elif t == "radiation":
            bc = Boundary(t, temperature_K=_celsius(b, "temperature_C"),
                          emissivity=b.number("emissivity", positive=True, hi=1.0,
                                              expected="an emissivity in (0, 1]"))
        elif t == "heat_flux":
            bc = Boundary(t, q_W_m2=b.number(
                "q_W_m2", lo=-MAX_HEAT_FLUX_W_M2, hi=MAX_HEAT_FLUX_W_M2,
                expected=f"a heat flux into the body in W/m², -{MAX_HEAT_FLUX_W_M2:g} to "
                f"{MAX_HEAT_FLUX_W_M2:g} (1 GW/m² melts W's surface in a few ms)"))
        else:
            bc = Boundary(t)
        b.close()
        out[name] = bc
    sec.allowed.update(sec.data)
    return out


#: Bounds of [coolant_circuit] (each as (lowest, highest)), orders of magnitude beyond a
#: tube's: its oil tank or chiller holds a few to tens of litres, pumped at 2-20 L/min
#: through a cooler of some 10-1000 W/K (recalled typical values, no source in
#: reference/). Below: 1 mL of coolant (about 4 J/K of water), 1 mW/K, 1 mL/min; above: 100 m³
#: (1e9 J/K is 240 m³ of water), 10 MW/K, 10 m³/min. 1e300 L/min ran with a cooler that
#: removed nothing (1 − exp(−UA/ṁc) rounded to 0), 1e-300 J/K with a coolant of no mass.
CIRCUIT_VOLUME_L = (1e-3, 1e5)
CIRCUIT_CAPACITY_J_K = (1.0, 1e9)
COOLER_UA_W_K = (1e-3, 1e7)
CIRCUIT_FLOW_L_MIN = (1e-3, 1e4)


def _bounded(sec: _Section, key: str, bounds: tuple[float, float], what: str,
             default=...) -> float | None:
    """A number of sec within bounds (lowest, highest; in the key's unit), what it is and
    its unit in the message ("a coolant volume in L")."""
    return sec.number(key, default, lo=bounds[0], hi=bounds[1],
                      expected=f"{what} from {bounds[0]:g} to {bounds[1]:g}")


def _coolant_circuit(root: _Section, boundaries: dict[str, Boundary],
                     T0: float) -> CoolantCircuit | None:
    """The [coolant_circuit] table: the lumped coolant volume, its cooler and flow."""
    used = [f for f, b in boundaries.items() if b.circuit]
    if not root.has("coolant_circuit"):
        if used:
            raise CaseError(f"boundaries.{used[0]}.coolant_circuit = true: there is no "
                            "[coolant_circuit] table; add one (volume_L or "
                            "heat_capacity_J_per_K, cooler_conductance_W_per_K, ambient_C)")
        return None
    sec = root.section("coolant_circuit")
    if sec.has("volume_L") == sec.has("heat_capacity_J_per_K"):
        raise CaseError("coolant_circuit: give exactly one of volume_L (with coolant) or "
                        "heat_capacity_J_per_K")
    if sec.has("volume_L"):
        coolant = sec.choice("coolant", tuple(COOLANT_RHO_CP))
        capacity = _bounded(sec, "volume_L", CIRCUIT_VOLUME_L, "a coolant volume in L") \
            * 1e-3 * COOLANT_RHO_CP[coolant]
    else:
        capacity = _bounded(sec, "heat_capacity_J_per_K", CIRCUIT_CAPACITY_J_K,
                            "a heat capacity in J/K")
    if sec.has("coolant") and not (sec.has("volume_L") or sec.has("flow_L_min")):
        raise _fail("coolant_circuit.coolant", sec.raw("coolant"), "no coolant beside "
                    "heat_capacity_J_per_K without flow_L_min (it sets the heat capacity of "
                    "volume_L and of flow_L_min's flow, neither given; leave it out)")
    ua = _bounded(sec, "cooler_conductance_W_per_K", COOLER_UA_W_K, "a conductance in W/K")
    flow = _bounded(sec, "flow_L_min", CIRCUIT_FLOW_L_MIN, "a flow in L/min", None)
    flow_W_K = None
    if flow is not None:
        coolant = sec.choice("coolant", tuple(COOLANT_RHO_CP))
        flow_W_K = flow * 1e-3 / 60.0 * COOLANT_RHO_CP[coolant]
    ambient = _celsius(sec, "ambient_C")
    initial = _celsius(sec, "initial_C", T0 - ZERO_CELSIUS_K)
    sec.close()
    if not used:
        raise CaseError("coolant_circuit: no face is cooled by it; expected a convection "
                        "boundary with coolant_circuit = true")
    return CoolantCircuit(capacity, ua, ambient, initial, flow_W_K)


def _pointing(root: _Section) -> PointingDrift | None:
    """The [beam_pointing] table: time_s and the shift's x_um, y_um, z_um (each optional,
    zero when left out) in the tube frame."""
    if not root.has("beam_pointing"):
        return None
    sec = root.section("beam_pointing")
    times = sec.raw("time_s", expected="a list of increasing times in s")
    if (not isinstance(times, list) or not times or any(
            isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t)
            or t < 0 for t in times) or any(b <= a for a, b in zip(times, times[1:]))):
        raise _fail("beam_pointing.time_s", times, "a non-empty list of increasing times ≥ 0 s")
    comps = []
    for axis in ("x", "y", "z"):
        key = f"{axis}_um"
        v = sec.raw(key, [0.0] * len(times), expected=f"a list of {len(times)} shifts in µm")
        # at most 1 m, the largest body (1e300 µm ran, with numpy's overflow warning lines)
        if (not isinstance(v, list) or len(v) != len(times) or any(
                isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c)
                or abs(c) > 1e6 for c in v)):
            raise _fail(f"beam_pointing.{key}", v,
                        f"a list of {len(times)} shifts in µm, each from -1e6 to 1e6 (one per "
                        "time in time_s)")
        comps.append([float(c) * 1e-6 for c in v])
    sec.close()
    return PointingDrift(tuple(float(t) for t in times), tuple(zip(*comps)))


#: Largest interface conductance (W/m²K) taken. Measured thermal boundary conductances reach
#: about 4e9 W/m²K (Al/Cu, Gundrum, Cahill & Averback, Phys. Rev. B 72, 245426 (2005);
#: recalled); at 1e12 the interface's resistance equals 0.1 nm of W (k/G), a perfect contact
#: for every spot. Far above it (1e15) the interface rows dwarf the conduction rows and
#: Newton's line search failed on rounding (reflection insert and transmission film alike).
MAX_CONDUCTANCE_W_M2K = 1e12
#: Smallest interface conductance (W/m²K) taken: a joint cracked open in vacuum still
#: exchanges 4σT³ε/(2 − ε) by radiation, 0.15 W/m²K between polished faces (ε = 0.05) at
#: 20 °C (Stefan-Boltzmann, parallel grey plates); 1e-3 lies far below any joint, and
#: 1e-300 (a typing slip) ran as an insulated target.
MIN_CONDUCTANCE_W_M2K = 1e-3


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
        out[name] = s.number("conductance_W_m2K", lo=MIN_CONDUCTANCE_W_M2K,
                             hi=MAX_CONDUCTANCE_W_M2K,
                             expected="a thermal boundary conductance in W/m²K from "
                             f"{MIN_CONDUCTANCE_W_M2K:g} to {MAX_CONDUCTANCE_W_M2K:g} (leave "
                             "the key out for a perfect contact)")
        s.close()
    sec.allowed.update(sec.data)
    return out


def _probes(root: _Section) -> tuple[Probe, ...]:
    sec = root.section("probes", {})
    out = []
    for name in sec.data:
        if name in ("peak", "coolant") or name.startswith("max_"):
            # its column T_<name>_C would be the peak's, the coolant circuit's or a region's,
            # interface's or the cooled faces' maximum: two columns of one name, the limits
            # and figures reading the probe's
            raise _fail("probes", name, 'a probe name other than "peak" and "coolant" and not '
                        f'starting with "max_" (T_{name}_C is a column of its own)')
        p = sec.section(name)
        what = "a non-empty list of quantities from " + ", ".join(
            f'"{q}"' for q in PROBE_QUANTITIES)
        q = p.raw("quantities", ["T"], expected=what)
        if not isinstance(q, list) or not q or any(x not in PROBE_QUANTITIES for x in q) \
                or len(set(q)) != len(q):
            raise _fail(f"probes.{name}.quantities", q, what)
        # at most 2 m, the largest body (a user's mesh; 1e300 mm: numpy's overflow warning
        # before the "outside the mesh" line)
        where = "a distance in mm, 0 to 2000 (2 m)"
        out.append(Probe(name, p.number("r_mm", lo=0.0, hi=2e3, expected=where) * 1e-3,
                         p.number("depth_mm", lo=0.0, hi=2e3, expected=where) * 1e-3, tuple(q)))
        p.close()
    sec.allowed.update(sec.data)
    return tuple(out)


#: Largest Newton tolerance (K) taken: a rating confirms its binding limit within 0.5 % of
#: the limit's allowed rise (rating/safe.py), 0.35 K for a water wall 70 K above its coolant
#: (the shipped insert); the converged temperatures are within about the tolerance of
#: Newton's (README, tests/test_newton.py), so 0.1 K keeps that band. 50 K was taken.
MAX_NEWTON_TOL_K = 0.1
#: Smallest Newton tolerance (K) taken: the round-off of the temperatures. The line search
#: measures the residual in kelvin (thermal.py, ‖D⁻¹F‖₂): on the reflection test case at
#: 75 W (W spot at 3436 °C) it stalls at 1.7e-12 K, so 1e-12 K failed ("Newton line search
#: failed") and 1e-11 K converged (measured 2026-12-05); 1e-300 failed at the first step
#: after `check` had called the case valid.
MIN_NEWTON_TOL_K = 1e-11


def _time(root: _Section) -> TimeSettings:
    sec = root.section("time", {})
    step = (f"a time step in s from {MIN_DURATION_S:g} to {MAX_DURATION_S:g} (the shortest "
            "and longest durations of a schedule)")
    ts = TimeSettings(
        initial_step_s=sec.number("initial_step_s", None, lo=MIN_DURATION_S,
                                  hi=MAX_DURATION_S, expected=step),
        max_step_s=sec.number("max_step_s", None, lo=MIN_DURATION_S, hi=MAX_DURATION_S,
                              expected=step),
        # at most 1000 (24 000 steps from 1e-9 s to 10 s; the default is 6): 1e9 was
        # refused as a schedule of too many steps that named steps_per_segment instead
        steps_per_doubling=sec.integer("steps_per_doubling", TimeSettings.steps_per_doubling,
                                       maximum=1000),
        steps_per_segment=sec.integer("steps_per_segment", TimeSettings.steps_per_segment),
        newton_tol_K=sec.number("newton_tol_K", 1e-3, lo=MIN_NEWTON_TOL_K, hi=MAX_NEWTON_TOL_K,
                                expected=f"a Newton tolerance in K from {MIN_NEWTON_TOL_K:g} "
                                f"(the round-off of a temperature) to {MAX_NEWTON_TOL_K:g}"),
    )
    if ts.initial_step_s is not None and ts.max_step_s is not None and \
            ts.initial_step_s > ts.max_step_s:
        # the largest step capped the first one: the initial step given was not the one taken
        raise _fail("time.initial_step_s", ts.initial_step_s,
                    f"at most time.max_step_s ({ts.max_step_s:g} s)")
    sec.close()
    return ts


def _output(root: _Section, end_time: float) -> Output:
    sec = root.section("output", {})
    times = sec.raw("save_times_s", [], expected="a list of times in s")
    if not isinstance(times, list):
        raise _fail("output.save_times_s", times, "a list of times in s")
    if times and end_time == 0.0:  # (a steady state: "a time in (0, 0] s" before)
        raise _fail("output.save_times_s", times, "no save times with loading.kind = "
                    "\"steady\" (the steady state is the one field saved; leave the key out)")
    clean = []
    for i, t in enumerate(times):
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) \
                or t <= 0 or t > end_time * (1 + 1e-9):
            raise _fail(f"output.save_times_s[{i}]", t,
                        f"a time in (0, {end_time:g}] s (the end of the schedule)")
        clean.append(float(t))
    out = Output(tuple(sorted(set(clean))), sec.boolean("fields", True),
                 sec.boolean("figures", True))
    sec.close()
    return out


def _rating(root: _Section, loading: Loading | None = None) -> RatingSettings:
    """The [rating] table. For a pulse-train case the serial-load charts default to the
    case's own period (duty chart) and duty cycle (period chart)."""
    d = rating_defaults(loading)
    sec = root.section("rating", {})
    exposure = _numbers(sec, "exposure_s", d.exposure_s, 0.0, MAX_DURATION_S,
                        f"[shortest, longest] loading times in s up to {MAX_DURATION_S:g}, "
                        "shortest < longest")
    if len(exposure) != 2 or exposure[0] >= exposure[1]:
        raise _fail("rating.exposure_s", list(exposure),
                    "[shortest, longest] loading times in s, shortest < longest")
    out = RatingSettings(
        exposure_s=exposure,
        exposure_points=sec.integer("exposure_points", d.exposure_points, minimum=2,
                                    maximum=1000),
        preload_W=sec.number("preload_W", d.preload_W, nonneg=True, hi=MAX_BEAM_W,
                             expected=f"a pre-load beam power in W, 0 to {MAX_BEAM_W:g}"),
        period_s=sec.number("period_s", d.period_s, positive=True, hi=MAX_DURATION_S,
                            expected=f"a positive period in s up to {MAX_DURATION_S:g}"),
        duty_cycles=_numbers(sec, "duty_cycles", d.duty_cycles, 0.0, 1.0,
                             "a non-empty list of duty cycles in (0, 1]"),
        duty_cycle=sec.number("duty_cycle", d.duty_cycle, positive=True, hi=1.0,
                              expected="a duty cycle in (0, 1]"),
        periods_s=_numbers(sec, "periods_s", d.periods_s, 0.0, MAX_DURATION_S,
                           f"a non-empty list of periods in s up to {MAX_DURATION_S:g}"),
    )
    # The FE anchors are the list's first, middle and last points and the correction is
    # interpolated between neighbours in list order: out of order, a point beyond the
    # anchors took the nearest anchor's correction unchecked, and the words' "end points"
    # were not the chart's ends.
    for key, values, what in (("duty_cycles", out.duty_cycles, "duty cycles"),
                              ("periods_s", out.periods_s, "periods")):
        if any(b <= a for a, b in zip(values, values[1:])):
            raise _fail(f"rating.{key}", list(values),
                        f"{what} in increasing order, each once")
    # the serial-load charts run pulse trains: each point's pulse and pause as loading's
    # (the lists given; a pulse-train case's own period or duty cycle is the default pair)
    # (the pair's other member not given: say whence, not as if the case gave it)
    whence = lambda key, own: "" if sec.has(key) else (  # noqa: E731
        f", the default: the case's own pulse {own}" if d != RatingSettings()
        else ", the default")
    for i, duty in enumerate(out.duty_cycles if sec.has("duty_cycles") else ()):
        _check_pulse(f"rating.duty_cycles[{i}]", duty, duty, out.period_s, "rating.period_s",
                     whence("period_s", "period"))
    for i, period in enumerate(out.periods_s if sec.has("periods_s") else ()):
        _check_pulse(f"rating.periods_s[{i}]", period, out.duty_cycle, period,
                     "rating.duty_cycle", whence("duty_cycle", "duty cycle"))
    # a period or duty cycle given, its chart's list not: each point of the default list
    # (a list and its pair both defaults: rate.check_rating_input, which names the case's
    # pulse; a run of the case draws no chart and is not refused for them)
    for key, listed, pairs in (
            ("period_s", "duty_cycles", [(x, out.period_s) for x in out.duty_cycles]),
            ("duty_cycle", "periods_s", [(out.duty_cycle, x) for x in out.periods_s])):
        if sec.has(key) and not sec.has(listed):
            for duty, period in pairs:
                _check_pulse(f"rating.{key}", getattr(out, key), duty, period,
                             f"rating.{listed}", f", a point of its default list (or give "
                             f"rating.{listed})")
    sec.close()
    return out
