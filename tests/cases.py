"""Case builders shared by the tests (plain dicts, units in the key names)."""

import copy
import math

# Tungsten reference set of the physics reference §3 (k W/m/K, rho kg/m³, cp J/kg/K).
K_W, RHO_W, CP_W = 173.0, 19250.0, 132.0
KAPPA_W = K_W / (RHO_W * CP_W)
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
#: A temperature limit (°C) of a Cu region just below Cu's melting point (1084.65 °C): takes
#: the limit out of play (a limit at or above it is refused, and a run stops at melting).
CU_OUT_OF_PLAY_C = 1080.0


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


def c1(**changes) -> dict:
    """The C1-class reflection insert of the process benchmark and the accuracy study: W in
    Cu with k(T), 5 mm radius, 20 mm long, a 20 µm Gaussian surface spot, a probe 50 µm
    below the spot; default [mesh] and [time]."""
    return merge(reflection(
        title="C1-class reflection insert",
        geometry={"anode_radius_mm": 5.0, "anode_length_mm": 20.0},
        materials={"properties": "temperature_dependent"},
        beam={"fwhm_um": 20.0, "deposition": "surface", "power_W": 10.0},
        interfaces={"target_heat_sink": {"conductance_W_m2K": 1e6}},
        probes={"below_spot_50um": {"r_mm": 0.0, "depth_mm": 0.05}}), changes)


def c1_pulses(n: int = 5, on: float = 0.01, off: float = 0.01, power: float = 20.0,
              **changes) -> dict:
    """c1 under a train of n pulses (on_s, off_s, W), saved at every switch: each pulse's
    peak and the residual rise just before the next."""
    import numpy as np

    ends = np.cumsum([on, off] * n)
    return merge(c1(beam={"power_W": power},
                    loading={"kind": "pulse_train", "pulses": n, "on_s": on, "off_s": off,
                             "duration_s": None},
                    output={"save_times_s": [float(t) for t in ends]}), changes)


def c1_continuous(**changes) -> dict:
    """c1 at 10 W for 10 s, saved at 1 ms ... 10 s."""
    return c1(loading={"kind": "continuous", "duration_s": 10.0},
              output={"save_times_s": [0.001, 0.01, 0.1, 1.0, 3.0, 10.0]}, **changes)


def refined_time(case: dict, factor: int = 4) -> dict:
    """The case with its plan's initial and largest step / factor and factor × its steps per
    doubling (a converged-in-time reference)."""
    from anodesim.case import from_dict
    from anodesim.resolve import prepare

    c = from_dict(case)
    steps = prepare(c).steps
    t = dict(case.get("time", {}))
    t.update(initial_step_s=steps[0].dt / factor,
             max_step_s=max(st.dt for st in steps) / factor,
             steps_per_doubling=factor * c.time.steps_per_doubling)
    return merge(case, {"time": t})


def refined_mesh(case: dict, factor: float = 2.0) -> dict:
    """The case with its smallest element and mesh growth / factor."""
    from anodesim.case import from_dict

    m = from_dict(case).mesh
    return merge(case, {"mesh": {"spot_fraction": m.spot_fraction / factor,
                                 "growth": m.growth / factor}})


def rises(case: dict):
    """Run case; ({column: rise (K) at the save times} for every reported temperature but
    the minima, save times (s), CPU s of the run, steps)."""
    import resource

    import numpy as np

    import anodesim

    def cpu():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    c0 = cpu()
    res = anodesim.run(case)
    used = cpu() - c0
    s = res.series
    T0 = case["initial"]["temperature_C"]
    saves = np.array(case["output"]["save_times_s"])
    rows = np.array([int(np.argmin(abs(s.time - t))) for t in saves])
    out = {n: s[n][rows] - T0 for n in s.names
           if n.startswith("T_") and n.endswith("_C") and not n.startswith("T_min")}
    return out, saves, used, len(s.time) - 1


def assert_engine_duty_chart_lowered(out_dir, rated, without, limit: str, below: float) -> None:
    """The engine-only duty chart `rate --no-confirm` wrote into out_dir (rated: its Rating)
    against the same chart without `limit` (rows of chart_duty): every point made by the
    constant-k engine; where `limit` binds (at least one point) below `below` × the point
    without it, elsewhere equal to the CSV's digits; rating.json leaves no limit out of the
    engine."""
    import csv
    import json

    import pytest

    from anodesim.rating.rate import ENGINE_ONLY

    with open(out_dir / "rating_duty.csv") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    assert len(rows) == len(without) == len(rated.duty)
    bound = [i for i, row in enumerate(rows) if row["binding"] == limit]
    assert bound
    for i, row in enumerate(rows):
        assert row["engine"] == ENGINE_ONLY
        P, P_off = float(row["max_peak_beam_power_W"]), without[i]["max_peak_beam_power_W"]
        assert P < below * P_off if i in bound else P == pytest.approx(P_off, rel=1e-4)
    data = json.loads((out_dir / "rating.json").read_text())
    assert data["engine"]["limits_not_in_engine"] == []


def files_of(folder) -> dict:
    """Every file under folder (relative path → bytes): a folder compared byte for byte
    before and after a command that must leave it as it was."""
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}
