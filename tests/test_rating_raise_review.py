"""Review of 6ec2f67 (+ bf31f4b, 162b856): FE runs that end with a schedule raise each
limit's excess by the engine's ratio after the end (safe.cooling_excess,
kirchhoff.raised_check). The defects found (helper `revraise`, 2026-12-06), each first a
failing test. Fixed by dropping the raise: the FE runs follow the cooling wherever a limit
the cooling worsens lies within COOLING_RUN_WITHIN of the engine's rating (safe.cooling_s).

1. Optimistic: a reversing drift raised by its constant-k ratio is short of the drift the
   tube reaches after the end at k(T). The W insert in MoCu30, clamped, 0.1 µm drift
   limit (tests/test_rating_schedule_cooling.py's `compensated` anode: 10 s at full power,
   then 10 ms at a fifth), with the coolant face limited to 63.6 °C so that the engine
   binds the coolant face (4.939 W) just below the drift over the cooling (4.990 W):
   cooling_s is 0 and the drift's FE excess is raised by δ = 0.181. The search confirms
   4.926 W, drift binding at a raised excess of -0.0011 ("every limit holds"); an FE run
   of the schedule and 1 s of cooling at 4.926 W puts the drift 0.61 % OVER its limit
   47 ms after the end (+0.0061 of its allowed figure). The FE runs over 0.34 s of
   cooling (cooling_s forced) confirm 4.884 W, drift binding at -0.0027: the raise rates
   0.86 % too high.

2. Spuriously pessimistic: the raise multiplies the FE reading of a node that has hardly
   started to warm by the end by a ratio of up to 10^7. A lone 1 ms load (the single-load
   chart's shortest point, exposure_s = 1e-3, and so a --confirm-charts point) on the test
   insert with the coolant face limited to 0.2 K over the coolant: the engine binds the
   erosion at 72.4 W (the coolant face over the cooling: 102 W); δ of the coolant face is
   6.1e7 (its engine rise at the load's end is 3e-11 K/W). The FE rise at the end, 5
   times the engine's in that negligible tail (1.6e-8 K at 19 W), raised by 6.1e7 makes the
   coolant face bind at 19.0 W. The FE runs over the cooling (what cooling_s > 0 does)
   confirm 48.3 W, erosion binding, and an independent run of the load and 2 s of cooling
   at 48 W holds every limit (coolant face 30.094 °C, 53 % under its allowed rise).
"""

import dataclasses as dc

import pytest
from cases import reflection

import anodesim
from anodesim import rating
from anodesim.case import Loading
from anodesim.rating import safe
from anodesim.rating.safe import (confirmed_power, cooling_powers, cooling_s, engine_power,
                                  max_safe_loading)
from anodesim.simulation import run

LEAN = {"growth": 0.3, "spot_fraction": 0.2}
DRIFT_UM = 0.1


def _limit(res, name: str) -> dict:
    (row,) = [x for x in res.summary_dict()["results"]["limits"] if x["limit"] == name]
    return row


def test_a_drift_raised_after_the_schedule_holds_over_the_cooling():
    """Defect 1 (optimistic): the confirmed power's schedule and 1 s of cooling, run in
    full, must hold the drift (its excess ≤ 0, the rating's promise: every limit holds);
    6ec2f67: +0.0061 at 4.926 W, 47 ms after the end."""
    top = 5.0
    case = anodesim.from_dict(reflection(
        mesh=LEAN, beam={"power_W": None},
        loading={"kind": "segments", "duration_s": None,
                 "segment": [{"duration_s": 10.0, "power_W": top},
                             {"duration_s": 0.01, "power_W": 1.0}]},
        materials={"target": "W", "heat_sink": "MoCu30"},
        limits={"drift_um": DRIFT_UM, "coolant_side_C": 63.6},
        mounts={"cooled_end": {"type": "clamped"}}, mechanics={"reference_face": "anode_face"},
        drift={"view_direction": [0.94, 0.0, 0.342], "source_object_mm": 20.0,
               "source_detector_mm": 500.0, "pixel_size_um": 100.0}))
    eng = rating.build_engine(case)
    P_engine, binding = engine_power(eng, case)
    assert binding == "coolant_side" and P_engine == pytest.approx(4.939, abs=0.005)
    end, over = cooling_powers(eng, case)[("drift", "drift_across_view_um")]
    assert end / over - 1.0 == pytest.approx(0.181, abs=0.002)
    assert cooling_s(eng, case) > 0.0  # the drift near the rating: run over the cooling
    own = max_safe_loading(case, eng)
    assert own.confirmed
    P = own.power_W
    segs = tuple((d, p * P / top) for d, p in case.loading.segments) + ((1.0, 0.0),)
    res = run(dc.replace(case, loading=Loading("segments", segs),
                         beam=dc.replace(case.beam, power_W=P)))
    drift = _limit(res, "drift")
    assert drift["excess"] <= 0.0, (P, drift["excess"], drift.get("time_s"))


def test_a_short_loads_tail_is_not_amplified_into_a_binding_limit(monkeypatch):
    """Defect 2 (spurious pessimism): the 1 ms load's confirmed power must be within 1 %
    of the FE rating over its cooling (48.3 W, erosion), not 19.0 W by the coolant face."""
    t = 1e-3
    case = anodesim.from_dict(reflection(mesh=LEAN, limits={"coolant_side_C": 30.2}))
    eng = rating.build_engine(case)
    point = dc.replace(case, loading=Loading("continuous", ((t, 10.0),)),
                       beam=dc.replace(case.beam, power_W=10.0))
    P_engine, binding = engine_power(eng, point)
    assert binding == "erosion" and P_engine == pytest.approx(72.37, abs=0.05)
    end, over = cooling_powers(eng, point)[("coolant_side", "T_max_coolant_side_C")]
    assert end / over > 1e6 and over < 1.5 * P_engine  # (run over the cooling, not raised)
    assert cooling_s(eng, point) > 0.0
    # the physics: the load and 2 s of cooling at 48 W hold every limit
    res = run(dc.replace(case, loading=Loading("segments", ((t, 48.0), (2.0, 0.0))),
                         beam=dc.replace(case.beam, power_W=48.0)))
    assert all(x["excess"] <= 0.0 for x in res.summary_dict()["results"]["limits"])
    assert _limit(res, "coolant_side")["excess"] < -0.5
    # the FE runs over the cooling instead of the raise (cooling_s > 0): 48.3 W, erosion
    with monkeypatch.context() as m:
        m.setattr(safe, "cooling_s", lambda engine, case: 2.0)
        over = confirmed_power(case, eng, t, P_engine)
    assert over.confirmed and over.binding == "erosion" and over.power_W > 48.0
    own = confirmed_power(case, eng, t, P_engine)
    assert own.confirmed
    assert own.power_W >= 0.99 * over.power_W, (own.power_W, own.binding)
