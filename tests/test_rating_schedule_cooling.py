"""A schedule from cold that is not repeated is rated over the cooling after its end.

The tube is switched off after a `segments` schedule or a pulse train as after a single
load, and passes through that cooling: a node away from the spot (the coolant face) keeps
warming after the last pulse or segment, and a drift whose fast and slow parts nearly cancel
swings furthest after the switch-off. Since 2026-12-06 a lone load was rated over its
cooling (tests/test_rating_single_cooling.py); a segments schedule or a pulse train was held
only up to its end, which was optimistic (engine at constant properties, before → now):

- the test insert with a coolant-face limit 5 K over the coolant: five 20 ms pulses 20 ms
  apart 28.9 → 26.0 W (FE 25.9 W), the face peaking 66 ms after the train; 50 ms at 10 W
  then a 10 ms pause 70.1 W (erosion) → 51.3 W (the coolant face after the pause);
- the W insert in MoCu30, clamped, 0.1 µm drift limit: 10 s at full power then 10 ms at a
  fifth of it 5.89 → 4.99 W; three 1 s pulses 10 ms apart 8.16 → 7.62 W.
"""

import dataclasses as dc

import numpy as np
import pytest
from cases import reflection

import anodesim
from anodesim import rating
from anodesim.rating.engine import WARM_UP_SPAN, _shape, schedule_after
from anodesim.rating.safe import cooling_powers, cooling_s, engine_power, max_safe_loading
from anodesim.simulation import run

LEAN = {"growth": 0.3, "spot_fraction": 0.2}
COOLANT_C = 35.0  # 5 K over the coolant (30 °C)
COLUMN = "T_max_coolant_side_C"
TRAIN = {"kind": "pulse_train", "on_s": 0.02, "off_s": 0.02, "pulses": 5, "duration_s": None}
PAUSE = {"kind": "segments", "duration_s": None,
         "segment": [{"duration_s": 0.05, "power_W": 10.0}, {"duration_s": 0.01, "power_W": 0.0}]}


def _case(loading, **changes):
    beam = {"power_W": None} if loading["kind"] == "segments" else {}
    return anodesim.from_dict(reflection(mesh=LEAN, loading=loading, beam=beam, **changes))


@pytest.fixture(scope="module")
def lagging():
    """(engine, {name: case}) of the test insert with a coolant-face limit 5 K over the
    coolant, for the pulse train and the schedule ending with a pause (one engine: the
    step response does not depend on the schedule)."""
    cases = {name: _case(load, limits={"coolant_side_C": COOLANT_C})
             for name, load in (("train", TRAIN), ("pause", PAUSE))}
    return rating.build_engine(cases["train"]), cases


def _dense_after(eng, loading, nodes):
    """An independent evaluation of the schedule then the cooling: the superposition at
    20 000 instants after the end (geometric from 0.1 µs to the response's horizon)."""
    r = eng.response
    shape = _shape(loading)
    end = sum(d for d, _ in shape)
    tau = np.geomspace(1e-7, r.horizon, 20_000)
    return r.schedule(list(shape) + [(r.horizon, 0.0)], end + tau)[:, nodes] - r.T0, tau


@pytest.mark.parametrize("name", ["train", "pause"])
def test_the_engine_follows_a_lagging_node_after_the_schedule(lagging, name):
    """schedule_after takes each node's worst after the schedule's end: the coolant face
    peaks 30-100 ms after it, and the engine's figure agrees with a dense independent
    superposition within 1e-5 either way (it visits the kinks of the last switch and of the
    end, the dense one 20 000 instants). The cooling lowers the engine's power (the case's
    maximum safe loading) by more than 10 %, so its FE runs follow the cooling for
    WARM_UP_SPAN times the peak's instant (cooling_s); no node is rated below its worst up
    to the end."""
    eng, cases = lagging
    case = cases[name]
    nodes = eng.nodes[COLUMN]
    during, rise, at = schedule_after(eng, case.loading)
    dense, tau = _dense_after(eng, case.loading, nodes)
    assert dense.max() == pytest.approx(rise[nodes].max(), rel=1e-5)
    assert 0.03 < at < 0.1 and 0.03 < tau[dense.max(axis=1).argmax()] < 0.1
    assert rise[nodes].max() > 1.05 * during[nodes].max()
    assert np.all(rise >= during)
    P, binding = engine_power(eng, case)
    P_end = eng.max_power(during)[0]
    assert binding == "coolant_side" and P < 0.9 * P_end
    assert cooling_s(eng, case) == pytest.approx(WARM_UP_SPAN * at)


def test_fe_confirms_a_pulse_train_over_its_cooling(lagging):
    """The FE search of the train's maximum safe loading runs the train and its cooling:
    confirmed, the coolant face binding, `method` says so. An independent FE run of the
    train at that power with 2 s of cooling peaks at the limit within 1 %, after the
    train, where at the train's end the face is more than 5 % below it. Its progress lines
    name the train and its cooling."""
    from anodesim.rating.progress import reporting

    eng, cases = lagging
    case = cases["train"]
    lines = []
    with reporting(lines.append):
        own = max_safe_loading(case, eng)
    # its progress lines say what runs: the train, then the cooling (not "11 segments")
    assert lines and all("pulse train of 5 pulses and 0.656 s of cooling after it" in x
                         for x in lines), lines
    assert own.confirmed and own.binding == "coolant_side"
    assert "cooling after the schedule" in own.method
    P = own.power_W
    segs = tuple((d, p * P / case.beam.power_W) for d, p in case.loading.segments)
    point = dc.replace(case, loading=dc.replace(case.loading, segments=segs + ((2.0, 0.0),)),
                       beam=dc.replace(case.beam, power_W=P))
    res = run(point)
    face, t = res.column(COLUMN) - 30.0, res.series.time
    allowed = COOLANT_C - 30.0
    end = sum(d for d, _ in segs)
    assert face.max() == pytest.approx(allowed, rel=0.01)
    assert t[face.argmax()] > end + 0.02
    assert face[np.searchsorted(t, end - 1e-12)] < 0.95 * allowed


def test_the_cooling_runs_count_the_schedules_damage_only(lagging):
    """With its 10 ms pause the schedule is bound at k(T) by the spot's erosion, which the
    engine at constant k does not see; the FE runs follow 0.94 s of cooling for the coolant
    face. The erosion is counted over the schedule alone, so the rating equals that of the
    same schedule without the coolant-face limit (no cooling run) within the searches' 1 %
    (counted over the cooling, the damage of 60 ms would be spread over a second as hours
    of the life). At that power the coolant face, over the cooling, holds."""
    eng, cases = lagging
    case = cases["pause"]
    own = max_safe_loading(case, eng)
    assert own.confirmed and own.binding == "erosion"
    assert "cooling after the schedule" in own.method
    bare = _case(PAUSE)
    bare = max_safe_loading(bare, rating.build_engine(bare))
    assert "cooling after" not in bare.method and bare.binding == "erosion"
    assert own.power_W == pytest.approx(bare.power_W, rel=0.01)
    coolant = next(x for x in own.report if x["column"] == COLUMN)
    assert coolant["time_s"] > 0.06 and coolant["excess"] <= 0.0


def test_a_lagging_limit_near_binding_is_run_over_the_cooling():
    """The coolant face near binding or far from it. 15 K over the coolant: the engine
    binds the train by the spot's erosion (71.7 W), which the cooling does not change, but
    the coolant face, 11 % worse after the train than up to its end, allows only 77.9 W
    over the cooling, within COOLING_RUN_WITHIN of it: temperature-dependent properties move
    the limits apart (the erosion binds at 46.6 W by FE, a Ta spot would rise), so the FE
    runs follow the cooling (cooling_s > 0) and the coolant face is checked after the train.
    With the default coolant-face limit (near the coolant's boiling point) it is far from
    binding and the FE runs end with the train."""
    case = _case(TRAIN, limits={"coolant_side_C": 45.0})
    eng = rating.build_engine(case)
    assert engine_power(eng, case) == (pytest.approx(71.68, abs=0.05), "erosion")
    powers = cooling_powers(eng, case)
    end, over = powers[("coolant_side", COLUMN)]
    assert over == pytest.approx(77.88, abs=0.05) and end / over - 1.0 == pytest.approx(
        0.113, abs=0.002)
    assert powers[("erosion", "T_peak_C")][0] == powers[("erosion", "T_peak_C")][1]
    assert cooling_s(eng, case) > 0.0
    own = max_safe_loading(case, eng)
    assert own.confirmed and own.binding == "erosion"
    assert "cooling after the schedule" in own.method
    face = next(x for x in own.report if x["column"] == COLUMN)
    assert face["time_s"] > 0.2 and face["excess"] < 0.0
    default = _case(TRAIN)
    assert cooling_s(rating.build_engine(default), default) == 0.0


@pytest.fixture(scope="module")
def compensated():
    """(engine, case) of the Mo-Cu anode whose drift reverses on its switches
    (tests/test_rating_warm_up.py): 10 s at full power, then 10 ms at a fifth of it."""
    case = _case(
        {"kind": "segments", "duration_s": None,
         "segment": [{"duration_s": 10.0, "power_W": 5.0}, {"duration_s": 0.01, "power_W": 1.0}]},
        materials={"target": "W", "heat_sink": "MoCu30"},
        limits={"drift_um": 0.1}, mounts={"cooled_end": {"type": "clamped"}},
        mechanics={"reference_face": "anode_face"},
        drift={"view_direction": [0.94, 0.0, 0.342], "source_object_mm": 20.0,
               "source_detector_mm": 500.0, "pixel_size_um": 100.0})
    return rating.build_engine(case), case


def test_a_reversing_drift_is_held_after_the_schedule(compensated):
    """The drift swings furthest 34 ms after the schedule's end, when the insert's fast
    bulge has collapsed and the heat sink's slow growth stays: the engine's extreme agrees
    with the dense superposition within 1e-5, 18 % beyond its worst up to the end, and the
    rating falls from 5.89 to 4.99 W. A pulse train of three 1 s pulses 10 ms apart, the
    same anode: 8.16 → 7.62 W. The FE search follows the cooling; an independent run of the
    schedule and 1 s of cooling at the confirmed power reaches the limit within 1 %, after
    the end."""
    eng, case = compensated
    (pos,) = eng.signed()
    during, rise, at = schedule_after(eng, case.loading)
    dense, _ = _dense_after(eng, case.loading, [pos])
    assert dense[np.abs(dense).argmax()] == pytest.approx(rise[pos], rel=1e-5)
    assert abs(rise[pos]) > 1.15 * abs(during[pos]) and 0.02 < at < 0.05
    P, binding = engine_power(eng, case)
    assert binding == "drift" and P == pytest.approx(4.99, abs=0.01)
    assert eng.max_power(during)[0] == pytest.approx(5.89, abs=0.01)
    train = dc.replace(case, loading=dc.replace(
        case.loading, kind="pulse_train", segments=((1.0, 5.0), (0.01, 0.0)) * 3))
    assert engine_power(eng, train)[0] == pytest.approx(7.62, abs=0.01)
    assert eng.max_power(schedule_after(eng, train.loading)[0])[0] == pytest.approx(
        8.16, abs=0.01)

    own = max_safe_loading(case, eng)
    assert own.confirmed and own.binding == "drift"
    assert "cooling after the schedule" in own.method
    P = own.power_W
    segs = tuple((d, p * P / 5.0) for d, p in case.loading.segments) + ((1.0, 0.0),)
    res = run(dc.replace(case, loading=dc.replace(case.loading, segments=segs),
                         beam=dc.replace(case.beam, power_W=P)))
    # the run's own drift limit, tracked between its save times (as the rating's)
    (drift,) = [x for x in res.summary_dict()["results"]["limits"] if x["limit"] == "drift"]
    assert drift["worst_um"] == pytest.approx(0.1, rel=0.01)
    assert 10.01 < drift["time_s"] < 10.2
