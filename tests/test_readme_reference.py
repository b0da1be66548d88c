"""README's case-file reference against the case readers: every key they read is documented,
and the ranges and rules the reference states are the ones the readers enforce (a tube
engineer writes case files from that table)."""

import ast
from pathlib import Path

import pytest
from cases import block, merge, reflection, reflection_3d, transmission

from anodesim.case import CaseError, from_dict, model, tables

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
REFERENCE = README[README.index("## Case-file reference"):README.index("## How it works")]
OWN_MATERIALS = README[README.index("### Your own materials"):
                       README.index("## How hard may it be driven")]
READERS = ("tables.py", "imaging.py", "__init__.py", "user_materials.py")
GETTERS = {"number", "integer", "choice", "string", "boolean", "raw", "has", "section",
           "length"}  # (_beam's spot sizes)
HELPERS = {"_celsius", "_duration", "_numbers", "_vector", "_length", "_kelvin", "_bounded"}


def _keys_read() -> set[str]:
    """The key names the case readers ask their tables for (string literals given to the
    _Section getters and the reading helpers), with the geometry and override keys."""
    keys = set()
    for name in READERS:
        tree = ast.parse((ROOT / "src" / "anodesim" / "case" / name).read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            called = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
            at = 0 if called in GETTERS else 1 if called in HELPERS else None
            if at is not None and len(node.args) > at and \
                    isinstance(node.args[at], ast.Constant) and \
                    isinstance(node.args[at].value, str):
                keys.add(node.args[at].value)
    for spec in model.GEOMETRIES.values():
        keys |= set(spec.get("sizes", {}))
    from anodesim.materials import ELECTRON_KEYS, YIELD_KEY
    built = {"melting_C", "melting_K", "damage_C", "damage_K", "x_um", "y_um", "z_um",
             "spot_C", "interface_C", "heat_sink_C", "coolant_side_C", "regions", "faces"}
    return (keys | set(model.HOUSING_SIZES) | set(tables.OVERRIDE_KEYS) | set(ELECTRON_KEYS)
            | {YIELD_KEY} | built)  # (the keys the readers build in loops and f-strings)


def test_every_key_the_readers_read_is_in_the_reference():
    keys = _keys_read()
    assert {"fwhm_um", "repeat_every_s", "joint_corner_um", "flow_L_min"} <= keys  # (read)
    undocumented = sorted(k for k in keys if f"`{k}`" not in REFERENCE
                          and f"`{k}`" not in OWN_MATERIALS and f"`{k} " not in REFERENCE
                          and f"{k} = " not in REFERENCE + OWN_MATERIALS
                          and f"[{k}" not in REFERENCE and f".{k}" not in REFERENCE)
    assert not undocumented, undocumented


CIRCUIT = {"coolant_circuit": {"heat_capacity_J_per_K": 50.0,
                               "cooler_conductance_W_per_K": 0.5, "ambient_C": 30.0},
           "boundaries": {"cooled_end": {"temperature_C": None, "coolant_circuit": True}}}
DRIFT = {"mounts": {"cooled_end": {"type": "clamped"}},
         "drift": {"view_direction": [1.0, 0.0, 1.0], "source_object_mm": 20.0,
                   "pixel_size_um": 50.0}}

#: a transmission target's drift, viewed along the beam through its window (the 0.25 mm
#: diamond of cases.transmission under a 1 µm W film)
TRANSMISSION_DRIFT = {"mounts": {"rim": {"type": "clamped"}},
                      "drift": {"view_direction": [0.0, 0.0, -1.0], "magnification": 10,
                                "pixel_size_um": 50.0}}

#: (what README's reference states, the case builder, a change just outside the stated range
#: or rule, one just inside it, what the refusal names). Each stated range or rule is one
#: the reader enforces, at its edge.
STATED = [
    ("above 0 and at most 2 (default 0.1", reflection,
     {"mesh": {"growth": 2.01}}, {"mesh": {"growth": 2.0}}, "mesh.growth = 2.01"),
    ("η_E (0 to 0.99)", reflection, {"beam": {"backscatter_energy_fraction": 0.991}},
     {"beam": {"backscatter_energy_fraction": 0.99}}, "beam.backscatter_energy_fraction"),
    ("(0.1 to 1000 mm; default 5 mm", reflection,
     {"beam": {"extra_focal_distance_mm": 1000.5}},
     {"beam": {"extra_focal_distance_mm": 1000.0}}, "beam.extra_focal_distance_mm = 1000.5"),
    # 1e-300 underflowed H² to 0: "internal error" (a landing of no area); 0.005 is 5 mm in m
    ("(0.1 to 1000 mm; default 5 mm", reflection,
     {"beam": {"extra_focal_distance_mm": 0.005}},
     {"beam": {"extra_focal_distance_mm": 0.1}},
     "beam.extra_focal_distance_mm = 0.005: expected a distance in mm from 0.1 to 1000"),
    ("`emissivity` above 0 and at most 1", reflection,
     {"boundaries": {"side": {"type": "radiation", "emissivity": 1.01, "temperature_C": 20}}},
     {"boundaries": {"side": {"type": "radiation", "emissivity": 1.0, "temperature_C": 20}}},
     "boundaries.side.emissivity = 1.01"),
    ("1e-14 to 1e-3 (default 1e-10;", reflection,
     {"numerics": {"rtol": 1.1e-3}}, {"numerics": {"rtol": 1e-3}}, "numerics.rtol = 0.0011"),
    # 1e-300: "run failed: the temperature linear solver (cg/lu) did not converge"
    ("1e-14 to 1e-3 (default 1e-10;", reflection,
     {"numerics": {"rtol": 1e-300}}, {"numerics": {"rtol": 1e-14}},
     "numerics.rtol = 1e-300: expected a relative tolerance in [1e-14, 1e-3]"),
    ("`magnification` above 1 and at most 1e6", reflection,
     merge(DRIFT, {"drift": {"magnification": 1.1e6}}),
     merge(DRIFT, {"drift": {"magnification": 1e6, "source_object_mm": 0.01}}),
     "drift.magnification = 1100000.0"),
    # 1e-300 made ΔM/M 1e300; an object 50 µm from the spot (projection microscopy) was
    # refused by a 0.1 mm bound
    ("`source_object_mm` 1e-3 to 1e4 mm (1 µm to 10 m", reflection,
     merge(DRIFT, {"drift": {"source_object_mm": 1e-300, "magnification": 10}}),
     merge(DRIFT, {"drift": {"source_object_mm": 0.05, "source_detector_mm": 1e4}}),
     "drift.source_object_mm = 1e-300: expected a distance in mm from 0.001 to 10000"),
    # 0.2 is 200 mm given in m, inside the 1 µm film on the 0.25 mm window
    ("on a transmission target at least its film and window thickness", transmission,
     merge(TRANSMISSION_DRIFT, {"drift": {"source_object_mm": 0.2}}),
     merge(TRANSMISSION_DRIFT, {"drift": {"source_object_mm": 0.251}}),
     "drift.source_object_mm = 0.2: expected at least the film and window thickness, 0.251 mm "
     "(the object lies beyond the window's exit face)"),
    ("`source_detector_mm` 0.1 to 1e4 mm,", reflection,
     merge(DRIFT, {"drift": {"source_object_mm": 0.01, "source_detector_mm": 0.09}}),
     merge(DRIFT, {"drift": {"source_object_mm": 0.01, "source_detector_mm": 0.1}}),
     "drift.source_detector_mm = 0.09: expected a distance in mm from 0.1 to 10000"),
    ("`source_detector_mm` 0.1 to 1e4 mm,", reflection,
     merge(DRIFT, {"drift": {"source_detector_mm": 1.1e4}}),
     merge(DRIFT, {"drift": {"source_detector_mm": 500.0}}),
     "drift.source_detector_mm = 11000.0: expected a distance in mm from 0.1 to 10000"),
    ("(0.1 to 1e4 mm) |", reflection,
     merge(DRIFT, {"drift": {"magnification": 10, "detector_radius_mm": 1e300}}),
     merge(DRIFT, {"drift": {"magnification": 10, "detector_radius_mm": 1e4}}),
     "drift.detector_radius_mm = 1e+300: expected a distance in mm from 0.1 to 10000"),
    # 1e-300 µm made the image drift 1e300 px; 0.05 is a 50 µm pixel given in mm
    ("detector pixel, 0.1 to 1e4 µm", reflection,
     merge(DRIFT, {"drift": {"magnification": 10, "pixel_size_um": 0.05}}),
     merge(DRIFT, {"drift": {"magnification": 10, "pixel_size_um": 0.1}}),
     "drift.pixel_size_um = 0.05: expected a pixel size in µm from 0.1 to 10000"),
    ("SDD more than SOD", reflection, merge(DRIFT, {"drift": {"source_detector_mm": 20.0}}),
     merge(DRIFT, {"drift": {"source_detector_mm": 20.1}}), "drift.source_detector_mm = 20"),
    ("the view axis τ (0.5° to 90°)", reflection_3d,
     merge(DRIFT, {"drift": {"view_direction": None, "take_off_angle_deg": 0.49,
                             "magnification": 10}}),
     merge(DRIFT, {"drift": {"view_direction": None, "take_off_angle_deg": 0.5,
                             "magnification": 10}}), "drift.take_off_angle_deg = 0.49"),
    ("`magnification_change_rel` (above 0, at most 1)", reflection,
     merge(DRIFT, {"drift": {"magnification": 10}, "limits": {"magnification_change_rel": 1.01}}),
     merge(DRIFT, {"drift": {"magnification": 10}, "limits": {"magnification_change_rel": 1.0}}),
     "limits.magnification_change_rel = 1.01"),
    ("axisymmetric geometries only (3-D contacts are perfect: refused there)", reflection_3d,
     {"interfaces": {"target_heat_sink": {"conductance_W_m2K": 1e6}}}, {},
     "interfaces.target_heat_sink: a contact conductance is not available on 3-D"),
    ("(axisymmetric geometries without a housing: refused in 3-D", reflection_3d,
     {"mechanics": {"free": True}}, {"mounts": {"cooled_end": {"type": "clamped"}}},
     "mechanics.free = true: free bodies are supported on axisymmetric geometries only"),
    ("and with `[geometry.housing]`", reflection,
     {"geometry": {"housing": {"inner_radius_mm": 2.0, "outer_radius_mm": 4.0,
                               "length_mm": 5.0}},
      "materials": {"housing": "SS304"}, "mechanics": {"free": True}},
     {"mechanics": {"free": True}}, "mechanics.free = true: a tube with a housing"),
    ("(1e-12 to 1000; W targets)", reflection,
     {"materials": {"target": "Mo"}, "limits": {"recrystallisation_fraction": 1.0}},
     {"limits": {"recrystallisation_fraction": 1.0}},
     "limits.recrystallisation_fraction = 1: the recrystallisation kinetics are those of W"),
    ("`fatigue` (W targets;", reflection,
     {"materials": {"target": "Mo"}, "limits": {"fatigue": True}},
     {"loading": {"repeat_every_s": 10.0}, "limits": {"fatigue": True}},
     "limits.fatigue = true: the crack-initiation estimate needs the target's tensile data"),
    ("E 0.5 MPa to 5 TPa, \\|α\\| at most 1e-3 /K", reflection,
     {"materials": {"override": {"heat_sink": {"E_Pa": 128.0}}}},
     {"materials": {"override": {"heat_sink": {"E_Pa": 128e9, "alpha_1_K": -1e-3}}}},
     "materials.override.heat_sink.E_Pa = 128.0: expected a value in Pa from 500000 to "
     "5e+12, where a tube's materials lie (given in GPa or MPa?)"),
    ("|α\\| at most 1e-3 /K", reflection,
     {"materials": {"override": {"target": {"alpha_1_K": 4.5}}}},
     {"materials": {"override": {"target": {"alpha_1_K": 1e-3}}}},
     "materials.override.target.alpha_1_K = 4.5"),
    ("cp 100 to 20 000 J/kg/K, ρ 25 to 50 000 kg/m³", reflection,
     {"materials": {"override": {"target": {"rho_kg_m3": 19.3}}}},
     {"materials": {"override": {"target": {"rho_kg_m3": 25.0, "cp_J_kgK": 100.0}}}},
     "materials.override.target.rho_kg_m3 = 19.3"),
    ("(which it needs; a `[coolant_circuit]` no face uses is refused)", reflection,
     {"coolant_circuit": {"heat_capacity_J_per_K": 50.0, "cooler_conductance_W_per_K": 0.5,
                          "ambient_C": 30.0}},
     {"coolant_circuit": {"heat_capacity_J_per_K": 50.0, "cooler_conductance_W_per_K": 0.5,
                          "ambient_C": 30.0},
      "boundaries": {"cooled_end": {"temperature_C": None, "coolant_circuit": True}}},
     "coolant_circuit: no face is cooled by it"),
    *[(stated, reflection, {"time": {key: out}}, {"time": {key: inside}},
       f"time.{key} = {out!r}: expected {what}") for stated, key, out, inside, what in (
        ("first step after every power switch, 1e-12 to 1e6 s", "initial_step_s", 0.99e-12,
         1e-12, "a time step in s from 1e-12 to 1e+06"),
        ("first step after every power switch, 1e-12 to 1e6 s", "initial_step_s", 1.01e6,
         1e6, "a time step in s from 1e-12 to 1e+06"),
        ("largest step, 1e-12 to 1e6 s (default: run time / 50, at least the initial step)",
         "max_step_s", -1.0, 0.1, "a time step in s from 1e-12 to 1e+06"),
        ("largest step, 1e-12 to 1e6 s", "max_step_s", 1.01e6, 1e6,
         "a time step in s from 1e-12 to 1e+06"),
        ("before it doubles, an integer from 1 to 1000 (default 6)", "steps_per_doubling",
         1.5, 1, "an integer from 1 to 1,000"),
        # 1e9 was refused as too many steps, naming steps_per_segment
        ("before it doubles, an integer from 1 to 1000 (default 6)", "steps_per_doubling",
         10 ** 9, 1000, "an integer from 1 to 1,000"),
        ("1/this of its segment, an integer from 1", "steps_per_segment", 0, 1,
         "an integer >= 1"),
        # 1e-300 (and 1e-12 on a W spot at 3436 °C) failed in the run: "Newton line search
        # failed" at the round-off of the temperatures, after `check` called it valid
        ("below this, from 1e-11 to 0.1 K (default 1e-3 K", "newton_tol_K", 0.99e-11, 1e-11,
         "a Newton tolerance in K from 1e-11 (the round-off of a temperature) to 0.1"),
        ("below this, from 1e-11 to 0.1 K (default 1e-3 K", "newton_tol_K", 0.11, 0.1,
         "a Newton tolerance in K from 1e-11 (the round-off of a temperature) to 0.1"))],
    ("and at most `max_step_s` when both are given", reflection,
     {"time": {"initial_step_s": 0.02, "max_step_s": 0.01}},
     {"time": {"initial_step_s": 0.01, "max_step_s": 0.01}},
     "time.initial_step_s = 0.02: expected at most time.max_step_s (0.01 s)"),
    ("(`q_W_m2`, into the body, −1e9 to 1e9 W/m²", reflection,
     {"boundaries": {"side": {"type": "heat_flux", "q_W_m2": -1.01e9}}},
     {"boundaries": {"side": {"type": "heat_flux", "q_W_m2": -1e9}}},
     "boundaries.side.q_W_m2 = -1010000000.0: expected a heat flux into the body in W/m², "
     "-1e+09 to 1e+09"),
    ("(`q_W_m2`, into the body, −1e9 to 1e9 W/m²", reflection,
     {"boundaries": {"side": {"type": "heat_flux", "q_W_m2": 1e12}}},
     {"boundaries": {"side": {"type": "heat_flux", "q_W_m2": 1e9}}},
     "boundaries.side.q_W_m2 = 1000000000000.0"),
    ("`heat_sink_C` the heat sink's or window's", reflection,
     {"limits": {"heat_sink_C": 1084.65}}, {"limits": {"heat_sink_C": 1084.6}},
     "limits.heat_sink_C = 1084.65: at or above the melting point of Cu (1084.65 °C, the "
     "heat_sink material); expected a limit below it"),
    ("`interface_C` both sides' of every interface", reflection,
     {"limits": {"interface_C": 2000.0}}, {"limits": {"interface_C": 1084.6}},
     "limits.interface_C = 2000: at or above the melting point of Cu (1084.65 °C, the lowest "
     "of the target, heat_sink materials)"),
    ("`spot_C` the target's", reflection,
     {"limits": {"spot_C": 3421.85}}, {"limits": {"spot_C": 3421.8}},
     "limits.spot_C = 3421.85: at or above the melting point of W (3421.85 °C"),
    ("`coolant_side_C` that of each region a cooled face bounds", transmission,
     {"limits": {"coolant_side_C": 2300.0}}, {"limits": {"coolant_side_C": 2200.0}},
     "limits.coolant_side_C = 2300: at or above the end of the data of diamond (2224.85 °C"),
    ("`heat_sink_C` needs a second region", block,
     {"limits": {"heat_sink_C": 100.0}}, {"limits": {"spot_C": 100.0}},
     "limits.heat_sink_C = 100: this case has no heat sink or window (a second region); "
     "expected no heat_sink_C limit"),
    ("`interface_C` an interface", block,
     {"limits": {"interface_C": 100.0}}, {},
     "limits.interface_C = 100: this case has no interface between regions"),
    ("`coolant_side_C` a face of type `fixed` or `convection`)", reflection,
     {"boundaries": {"cooled_end": {"type": "radiation", "h_W_m2K": None, "emissivity": 0.3}},
      "limits": {"coolant_side_C": 80.0}},
     {"limits": {"coolant_side_C": 80.0}},
     "limits.coolant_side_C = 80: this case has no cooled face (boundary type fixed or "
     "convection)"),
    # 1e-100 µm broke the mesh in silence (the source resolved to 0.48 of its power)
    ("0 turns it off, else 0.1 to 1e6 µm", reflection, {"mesh": {"joint_corner_um": 0.099}},
     {"mesh": {"joint_corner_um": 0.1}},
     "mesh.joint_corner_um = 0.099: expected a size in µm: 0 (no refinement), or 0.1 to 1e6"),
    ("0 turns it off, else 0.1 to 1e6 µm", reflection, {"mesh": {"joint_corner_um": 1.1e6}},
     {"mesh": {"joint_corner_um": 0}}, "mesh.joint_corner_um = 1100000.0"),
    ("`\"convection\"` (`h_W_m2K` at most 1e7 W/m²K", reflection,
     {"boundaries": {"cooled_end": {"h_W_m2K": 1e300}}},
     {"boundaries": {"cooled_end": {"h_W_m2K": 1e7}}},
     "boundaries.cooled_end.h_W_m2K = 1e+300: expected a positive heat-transfer coefficient "
     "in W/m²K, at most 1e+07"),
    # a 1e-300 µm film: "internal error (ZeroDivisionError)" in check
    ("every length below is at least 1 nm and at most 1 m", transmission,
     {"geometry": {"target_thickness_um": 1e-300}, "beam": {"deposition": "surface"}},
     {"geometry": {"target_thickness_um": 1e-3}, "beam": {"deposition": "surface"}},
     "geometry.target_thickness_um = 1e-300: expected a length from 0.001 to 1e+06 (1 nm to "
     "1 m)"),
    # 1e-300 made 2e-302 s pulses: "run failed: Newton produced a non-finite temperature"
    ("Every duration, pulse, pause, period and cooling time lies in 1e-12 s to 1e6 s",
     reflection,
     {"loading": {"kind": "pulse_train", "duration_s": None, "pulses": 3, "period_s": 0.02,
                  "duty_cycle": 1e-300}},
     {"loading": {"kind": "pulse_train", "duration_s": None, "pulses": 3, "period_s": 0.02,
                  "duty_cycle": 1.0}},
     "loading.duty_cycle = 1e-300: expected a duty cycle and period whose pulse and pause "
     "(with loading.period_s = 0.02) each last at least 1e-12 s, or duty cycle 1 (no pause)"),
    ("Every duration, pulse, pause, period and cooling time lies in 1e-12 s to 1e6 s",
     reflection,
     {"loading": {"kind": "pulse_train", "duration_s": None, "pulses": 3, "period_s": 0.02,
                  "duty_cycle": 1.0 - 1e-16}},
     {"loading": {"kind": "pulse_train", "duration_s": None, "pulses": 3, "period_s": 0.02,
                  "duty_cycle": 1.0 - 1e-10}},
     "loading.duty_cycle = 0.9999999999999999"),
    ("largest element, 1e-6 to 1000 mm (1 nm to 1 m)", reflection,
     {"mesh": {"max_size_mm": 1e300}}, {"mesh": {"max_size_mm": 1000.0}},
     "mesh.max_size_mm = 1e+300: expected a length from 1e-06 to 1000 (1 nm to 1 m)"),
    # 80 (a percentage) allowed 80 times the yield strength
    ("`yield_use` (above 0, at most 10)", reflection,
     {"mounts": {"cooled_end": {"type": "clamped"}}, "limits": {"yield_use": 80.0}},
     {"mounts": {"cooled_end": {"type": "clamped"}}, "limits": {"yield_use": 10.0}},
     "limits.yield_use = 80.0: expected a multiple of the heat sink's yield strength above 0 "
     "and at most 10 (1: elastic; a percentage?)"),
    ("narrower than the rod and shorter than it", reflection,
     {"geometry": {"insert_thickness_mm": 5.0}}, {"geometry": {"insert_thickness_mm": 4.9}},
     "geometry.insert_thickness_mm = 5.0: expected less than geometry.anode_length_mm"),
    ("`target_radius_mm` (optional, at most the window radius, default it)", transmission,
     {"geometry": {"target_radius_mm": 1.01}}, {"geometry": {"target_radius_mm": 1.0}},
     "geometry.target_radius_mm = 1.01: expected at most geometry.window_radius_mm"),
    ("`fwhm_minor_um` at most the major, `orientation_deg` from −360 to 360", reflection_3d,
     {"beam": {"spot": "elliptical", "fwhm_um": None, "fwhm_major_um": 100.0,
               "fwhm_minor_um": 50.0, "orientation_deg": 360.5}},
     {"beam": {"spot": "elliptical", "fwhm_um": None, "fwhm_major_um": 100.0,
               "fwhm_minor_um": 100.0, "orientation_deg": -360.0}},
     "beam.orientation_deg = 360.5"),
    ("(each above 0 and at most 1e6 s, shortest < longest;", reflection,
     {"rating": {"exposure_s": [1.0, 1.1e6]}}, {"rating": {"exposure_s": [1e-9, 1e6]}},
     "rating.exposure_s = [1.0, 1100000.0]"),
    ("(0 to 1e6 W, default 0;", reflection, {"rating": {"preload_W": 1.01e6}},
     {"rating": {"preload_W": 1e6}}, "rating.preload_W = 1010000.0"),
    ("`time_s` (increasing, none below 0 s)", reflection,
     merge(DRIFT, {"drift": {"magnification": 10},
                   "beam_pointing": {"time_s": [0.0, 0.0], "x_um": [0.0, 1.0]}}),
     merge(DRIFT, {"drift": {"magnification": 10},
                   "beam_pointing": {"time_s": [0.0, 0.1], "x_um": [0.0, 1.0]}}),
     "beam_pointing.time_s = [0.0, 0.0]"),
    # 1e300 ran, with numpy's overflow warnings on the console
    ("(one value per time, −1e6 to 1e6 µm;", reflection,
     merge(DRIFT, {"drift": {"magnification": 10},
                   "beam_pointing": {"time_s": [0.0, 0.1], "x_um": [0.0, 1e300]}}),
     merge(DRIFT, {"drift": {"magnification": 10},
                   "beam_pointing": {"time_s": [0.0, 0.1], "y_um": [-1e6, 1e6]}}),
     "beam_pointing.x_um = [0.0, 1e+300]: expected a list of 2 shifts in µm, each from -1e6"),
    # bounds of the inputs session (2026-12-05): each was taken, 1e300 L/min with a cooler
    # that removed nothing (1 - exp(-UA/ṁc) rounded to 0), 1e-300 J/K a coolant of no mass
    *[(stated, reflection, merge(CIRCUIT, {"coolant_circuit": outside}),
       merge(CIRCUIT, {"coolant_circuit": inside}), refusal)
      for stated, outside, inside, refusal in (
        ("`volume_L` 1e-3 to 1e5 L, `heat_capacity_J_per_K` 1 to 1e9 J/K",
         {"heat_capacity_J_per_K": 0.99}, {"heat_capacity_J_per_K": 1.0},
         "coolant_circuit.heat_capacity_J_per_K = 0.99: expected a heat capacity in J/K from 1 "
         "to 1e+09"),
        ("`volume_L` 1e-3 to 1e5 L, `heat_capacity_J_per_K` 1 to 1e9 J/K",
         {"heat_capacity_J_per_K": None, "volume_L": 1.01e5, "coolant": "oil"},
         {"heat_capacity_J_per_K": None, "volume_L": 1e5, "coolant": "oil"},
         "coolant_circuit.volume_L = 101000.0: expected a coolant volume in L from 0.001 to "
         "100000"),
        ("(UA 1e-3 to 1e7 W/K;", {"cooler_conductance_W_per_K": 1e-300},
         {"cooler_conductance_W_per_K": 1e-3},
         "coolant_circuit.cooler_conductance_W_per_K = 1e-300: expected a conductance in W/K "
         "from 0.001 to 1e+07"),
        ("the flow through the cooler, 1e-3 to 1e4 L/min",
         {"flow_L_min": 1e300, "coolant": "water"}, {"flow_L_min": 1e4, "coolant": "water"},
         "coolant_circuit.flow_L_min = 1e+300: expected a flow in L/min from 0.001 to 10000"))],
    *[(stated, reflection, merge(DRIFT, {"drift": {"magnification": 10}, "limits": outside}),
       merge(DRIFT, {"drift": {"magnification": 10}, "limits": inside}), refusal)
      for stated, outside, inside, refusal in (
        ("`drift_um` (1e-6 to 1e5 µm:", {"drift_um": 1e-300}, {"drift_um": 1e-6},
         "limits.drift_um = 1e-300: expected a drift in µm from 1e-6 to 1e5 (10 cm)"),
        ("`drift_um` (1e-6 to 1e5 µm:", {"drift_um": 1e300}, {"drift_um": 1e5},
         "limits.drift_um = 1e+300: expected a drift in µm from 1e-6 to 1e5 (10 cm)"),
        ("`drift_px` (1e-6 to 1e5 pixels,", {"drift_px": 2e5}, {"drift_px": 1e4},
         "limits.drift_px = 200000.0: expected an image drift in detector pixels from 1e-6 to "
         "1e5"),
        # 50 µm pixels at M = 10: 5.6 µm at the source a pixel, so 1.8e4 px is 1e5 µm
        ("and the drift at the source it gives, px × pixel / (M − 1), within `drift_um`'s",
         {"drift_px": 2e4}, {"drift_px": 1.8e4},
         "limits.drift_px = 20000.0: expected an image drift whose drift at the source, px × "
         "pixel / (M − 1) = 1.111e+05 µm here, lies from 1e-06 to 100000 µm as "
         "limits.drift_um's (here 1e-06 to 18000 px)"))],
    # 1e6 at 20 mm put the detector 20 km away
    ("and the SDD it gives, M × SOD, at most 1e4 mm", reflection,
     merge(DRIFT, {"drift": {"magnification": 1e6}}),
     merge(DRIFT, {"drift": {"magnification": 500.0}}),
     "drift.magnification = 1000000.0: expected a magnification whose source-detector "
     "distance, M × source_object_mm = 20000000 mm here, is at most 10000 mm (at most 500)"),
    ("thermal boundary conductance, 1e-3 to 1e12 W/m²K", reflection,
     {"interfaces": {"target_heat_sink": {"conductance_W_m2K": 0.99e-3}}},
     {"interfaces": {"target_heat_sink": {"conductance_W_m2K": 1e-3}}},
     "interfaces.target_heat_sink.conductance_W_m2K = 0.00099: expected a thermal boundary "
     "conductance in W/m²K from 0.001 to 1e+12"),
    ("Each point's pulse and pause, as a pulse train's, last at least 1e-12 s", reflection,
     {"rating": {"duty_cycles": [1e-300, 0.5, 1.0]}},
     {"rating": {"duty_cycles": [1e-12, 0.5, 1.0]}},
     "rating.duty_cycles[0] = 1e-300: expected a duty cycle and period whose pulse and pause "
     "(with rating.period_s = 1, the default) each last at least 1e-12 s, or duty cycle 1 "
     "(no pause)"),
    ("Each point's pulse and pause, as a pulse train's, last at least 1e-12 s", reflection,
     {"rating": {"periods_s": [1e-300, 1.0]}}, {"rating": {"periods_s": [2e-12, 1.0]}},
     "rating.periods_s[0] = 1e-300: expected a duty cycle and period whose pulse and pause "
     "(with rating.duty_cycle = 0.5, the default) each last at least 1e-12 s, or duty cycle 1 "
     "(no pause)"),
]


@pytest.mark.parametrize("stated, build, outside, inside, refusal", STATED,
                         ids=[s[0][:40] for s in STATED])
def test_stated_ranges_and_rules_are_enforced(stated, build, outside, inside, refusal):
    assert stated in REFERENCE
    with pytest.raises(CaseError, match=None) as e:
        from_dict(build(**outside))
    assert str(e.value).startswith(refusal) and "\n" not in str(e.value), str(e.value)
    from_dict(build(**inside))


def test_the_default_spot_is_gaussian_and_the_film_caps_the_smallest_element():
    """`spot` left out is "gaussian" (the reference says so); on a film the smallest element is
    at most half the film thickness, and under volume deposition a quarter of the depth."""
    assert '`"gaussian"` (the default;' in REFERENCE
    case = from_dict(merge(reflection(), {"beam": {"spot": None}}))
    assert case.beam.spot == "gaussian"
    assert "on films at most half the film thickness" in REFERENCE
    assert "at most a quarter of the deposition depth unless" in REFERENCE
    from anodesim import resolve
    from anodesim.geometry.mesh import mesh_sizes

    rod = from_dict(reflection(mesh={"spot_fraction": 1.0}))  # 50 µm spot, 100 kV kernel
    spot = resolve.prepare(rod).spot
    assert 0.25 * spot.depth_m < 0.5 * spot.smallest_m  # the depth binds, not the spot
    assert mesh_sizes(rod, spot)[0] == pytest.approx(0.25 * spot.depth_m, rel=1e-12)
    film = from_dict(transmission(mesh={"spot_fraction": 1.0},
                                  beam={"deposition": "surface"}))  # 5 µm spot, 1 µm film
    assert mesh_sizes(film, resolve.prepare(film).spot)[0] == pytest.approx(0.5e-6, rel=1e-12)


def test_the_serial_load_charts_default_to_a_pulse_trains_own_period_and_duty():
    """[rating] period_s and duty_cycle default to the case's pulse train (tables._rating);
    the reference said 1 s and 0.5 for every case."""
    assert "(default: a pulse-train case's own period, else 1 s;" in REFERENCE
    assert "(default: a pulse-train case's own duty cycle, else 0.5;" in REFERENCE
    train = {"kind": "pulse_train", "duration_s": None, "pulses": 3, "on_s": 0.01,
             "off_s": 0.03}
    rating = from_dict(reflection(loading=train)).rating
    assert rating.period_s == pytest.approx(0.04, rel=1e-12)
    assert rating.duty_cycle == pytest.approx(0.25, rel=1e-12)
    rating = from_dict(reflection()).rating
    assert (rating.period_s, rating.duty_cycle) == (1.0, 0.5)


def test_a_study_range_is_linear_by_default_and_log_needs_positive_ends():
    """The study table's range: scale "linear" unless given (spec._values), num 1 to 100 000,
    a log range from a positive start to a positive stop."""
    from anodesim.study.spec import _values

    assert '(`num` 1 to 100 000, `scale` by default `"linear"`; `"log"` needs a positive ' \
        'start and stop)' in README
    assert _values("k", {"start": 1.0, "stop": 3.0, "num": 3}) == [1.0, 2.0, 3.0]
    for bad, refusal in (
            ({"num": 100_001}, 'axes."k".num = 100001: expected an integer from 1 to 100,000'),
            ({"scale": "log", "start": 0.0}, 'axes."k".start = 0.0: expected positive')):
        with pytest.raises(CaseError) as e:
            _values("k", {"start": 1.0, "stop": 3.0, "num": 3, **bad})
        assert str(e.value).startswith(refusal), str(e.value)


def test_a_user_materials_melting_point_is_at_most_4500_K():
    """'Your own materials': melting and damage temperatures at most 4500 K (no material
    melts above about 4200 K); 1e300 °C passed, and the run's melting check and the limits
    below the melting point then held nothing."""
    assert "(each at most 4500 K, 4226.85 °C: no material melts above about 4200 K)" \
        in OWN_MATERIALS
    own = {"source": "test", "damage_C": 500.0, "electron_data": "Cu", "k_W_mK": 390.0,
           "cp_J_kgK": 385.0, "rho_kg_m3": 8900.0, "alpha_1_K": 1.7e-5, "E_Pa": 128e9,
           "nu_1": 0.33}
    for melting, taken in (({"melting_C": 1e300}, False), ({"melting_K": 4500.01}, False),
                           ({"melting_K": 4500.0}, True), ({"melting_C": 4226.85}, True)):
        data = reflection(materials={"heat_sink": "X", "define": {"X": {**own, **melting}}})
        if taken:
            assert from_dict(data).materials.by_region["heat_sink"] == "X"
            continue
        with pytest.raises(CaseError) as e:
            from_dict(data)
        key = next(iter(melting))
        assert str(e.value).startswith(f"materials.define.X.{key} = ") and \
            "(no material melts above about 4200 K)" in str(e.value), str(e.value)


def test_a_user_material_may_have_a_zero_or_negative_cte_but_no_zero_conductivity(tmp_path):
    """'Your own materials': values finite and positive, but the tangent CTE may be zero or
    negative (materials.PLAUSIBLE_AT_20_C: |α| below 1e-3 /K); the section said positive."""
    assert "positive (the tangent CTE α may also be zero or negative)" in OWN_MATERIALS
    own = {"source": "test", "melting_C": 1075.0, "damage_C": 500.0, "electron_data": "Cu",
           "k_W_mK": 390.0, "cp_J_kgK": 385.0, "rho_kg_m3": 8900.0, "E_Pa": 128e9,
           "nu_1": 0.33}
    for alpha in (0.0, -1e-6):
        case = from_dict(reflection(materials={"heat_sink": "X", "define": {
            "X": {**own, "alpha_1_K": alpha}}}))
        assert case.materials.by_region["heat_sink"] == "X"
    with pytest.raises(CaseError, match=r"^materials.define.X.k_W_mK"):
        from_dict(reflection(materials={"heat_sink": "X", "define": {
            "X": {**own, "alpha_1_K": 1e-5, "k_W_mK": 0.0}}}))
