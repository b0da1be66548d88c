"""Case builders shared by the tests (plain dicts, units in the key names)."""

import copy
import math

# Tungsten reference set of the physics reference §3 (k W/m/K, rho kg/m³, cp J/kg/K).
K_W, RHO_W, CP_W = 173.0, 19250.0, 132.0
KAPPA_W = K_W / (RHO_W * CP_W)
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


def block(**changes) -> dict:
    """A W hemisphere (standing for a semi-infinite solid) with constant reference
    properties, its curved far field held at 0 °C, surface-deposited Gaussian beam."""
    d = {
        "title": "semi-infinite W block",
        "geometry": {"kind": "block", "radius_mm": 2.0},
        "mesh": {"spot_fraction": 0.05, "growth": 0.125},
        "materials": {"target": "W", "properties": "constant",
                      "override": {"target": {"k_W_mK": K_W, "rho_kg_m3": RHO_W,
                                              "cp_J_kgK": CP_W}}},
        "beam": {"voltage_kV": 50, "power_W": 10.0, "spot": "gaussian", "fwhm_um": 20.0,
                 "deposition": "surface", "backscatter_energy_fraction": 0.0},
        "loading": {"kind": "steady"},
        "boundaries": {"far_field": {"type": "fixed", "temperature_C": 0.0}},
        "initial": {"temperature_C": 0.0},
        "output": {"fields": False},
    }
    return merge(d, changes)


def reflection(**changes) -> dict:
    """A small W-in-Cu reflection insert, cooled at the far end."""
    d = {
        "title": "reflection insert",
        "geometry": {"kind": "reflection_insert", "insert_radius_mm": 1.0,
                     "insert_thickness_mm": 1.0, "anode_radius_mm": 3.0,
                     "anode_length_mm": 5.0},
        "materials": {"target": "W", "heat_sink": "Cu"},
        "beam": {"voltage_kV": 100, "power_W": 10.0, "spot": "gaussian", "fwhm_um": 50.0},
        "loading": {"kind": "continuous", "duration_s": 0.1},
        "boundaries": {"cooled_end": {"type": "convection", "h_W_m2K": 5000.0,
                                      "temperature_C": 30.0}},
        "initial": {"temperature_C": 30.0},
        "output": {"fields": False},
    }
    return merge(d, changes)


def transmission(**changes) -> dict:
    """A 1 µm W film on a 0.25 mm diamond window, held at 30 °C at its rim."""
    d = {
        "title": "transmission target",
        "geometry": {"kind": "transmission", "target_thickness_um": 1.0,
                     "window_thickness_mm": 0.25, "window_radius_mm": 1.0},
        "materials": {"target": "W", "window": "diamond"},
        "beam": {"voltage_kV": 60, "power_W": 5.0, "spot": "gaussian", "fwhm_um": 5.0},
        "loading": {"kind": "steady"},
        "boundaries": {"rim": {"type": "fixed", "temperature_C": 30.0}},
        "initial": {"temperature_C": 30.0},
        "output": {"fields": False},
    }
    return merge(d, changes)


def merge(base: dict, changes: dict) -> dict:
    """Deep-merge changes into a copy of base; a value None deletes the key."""
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def reflection_3d(**changes) -> dict:
    """The 3-D reflection anode: W disc in the end face of a Cu rod with a 20° textbook anode
    angle (beam along the rod), cooled at the far end; coarse mesh, constant properties,
    surface deposition (fast)."""
    d = reflection(title="3-D reflection anode",
                   geometry={"kind": "reflection_3d", "insert_radius_mm": 0.6,
                             "insert_thickness_mm": 0.5, "anode_radius_mm": 1.5,
                             "anode_length_mm": 3.0, "anode_angle_deg": 20.0,
                             "angle_convention": "textbook"},
                   mesh={"spot_fraction": 0.25, "growth": 0.6},
                   materials={"properties": "constant"},
                   beam={"fwhm_um": 100.0, "deposition": "surface"})
    return merge(d, changes)
