"""Review of 47adcb7 (every schedule not repeated is rated over the cooling after its end):
the defects found (helper `revsched`, 2026-12-06), each first a failing test, now fixed.

The W insert in MoCu30, clamped, 0.1 µm drift limit (tests/test_rating_schedule_cooling.py's
`compensated` anode), its drift swinging furthest some 34 ms after the beam goes off: a
schedule repeated every 20.01 s that starts with 10 s off, then 10 s at full power and
10 ms at a fifth of it. In service the repetition's swing after its end falls in the next
repetition's first 10 s, beam off. safe.periodic_excess rates "one repetition from cold"
by engine_power of the schedule with repeat_every_s removed, which since 47adcb7 includes
the cooling after its end (schedule_after); the FE run it raises (run_excess of one
repetition, repeated: no cooling appended) does not follow that cooling. The drift's δ_L
fell from 0.183 to 0.0012, under COOLS_BACK_RTOL, so the periodic FE protocol is no longer
run and the swing is seen by neither run nor raise.

safe.cooling_s decides at constant properties whether the FE runs follow the cooling: only
where the cooling lowers the engine's power. A target whose conductivity rises with the
temperature (Ta) is cooler at k(T) than the engine finds it, the FE search raises the power
over the engine's, and a limit reached only after the end that the engine found just
clear (no cooling run) is then exceeded after the end, unseen.
"""

import dataclasses as dc

import pytest
from cases import reflection

import anodesim
from anodesim import rating
from anodesim.case import Loading
from anodesim.rating.engine import _cold_schedule_rise
from anodesim.rating.safe import (COOLS_BACK_RTOL, cooling_s, engine_power,
                                  max_safe_loading, periodic_excess)
from anodesim.simulation import run

LEAN = {"growth": 0.3, "spot_fraction": 0.2}
TRAIN = {"kind": "pulse_train", "on_s": 0.02, "off_s": 0.02, "pulses": 5, "duration_s": None}
COOLANT_C = 34.2  # 4.2 K over the coolant (30 °C)
#: 10 s off, 10 s at full power, 10 ms at a fifth: repeated back to back (no pause)
LEADING_PAUSE = ((10.0, 0.0), (10.0, 5.0), (0.01, 1.0))
DRIFT_UM = 0.1


@pytest.fixture(scope="module")
def leading_pause():
    """(engine, case) of the Mo-Cu anode whose drift reverses after the switch-off
    (tests/test_rating_schedule_cooling.py::compensated), the schedule LEADING_PAUSE
    repeated every 20.01 s."""
    case = anodesim.from_dict(reflection(
        mesh=LEAN, beam={"power_W": None},
        loading={"kind": "segments", "duration_s": None,
                 "segment": [{"duration_s": d, "power_W": p} for d, p in LEADING_PAUSE]},
        materials={"target": "W", "heat_sink": "MoCu30"},
        limits={"drift_um": DRIFT_UM}, mounts={"cooled_end": {"type": "clamped"}},
        mechanics={"reference_face": "anode_face"},
        drift={"view_direction": [0.94, 0.0, 0.342], "source_object_mm": 20.0,
               "source_detector_mm": 500.0, "pixel_size_um": 100.0}))
    own = sum(d for d, _ in LEADING_PAUSE)
    case = dc.replace(case, loading=Loading("segments", LEADING_PAUSE, own, 0.0))
    return rating.build_engine(case), case


def test_the_cold_repetitions_raise_reaches_the_periodic_state(leading_pause):
    """δ_L of the drift must lift the FE run of one repetition (no cooling) to the periodic
    state: the engine's power for that run over its periodic one, 5.894 / 4.984 W − 1 =
    0.183 (main: 0.183, the FE protocol run); 47adcb7 gives 0.0012 (the repetition's own
    cooling counted), every δ_L under COOLS_BACK_RTOL."""
    eng, case = leading_pause
    P_periodic, binding = engine_power(eng, case)
    assert binding == "drift" and P_periodic == pytest.approx(4.984, abs=0.01)
    # one repetition from cold, as its FE run sees it (a repeated schedule: no cooling)
    P_run = eng.max_power(_cold_schedule_rise(eng, case))[0]
    assert P_run == pytest.approx(5.894, abs=0.01)
    delta = periodic_excess(eng, case)
    drift = next(v for k, v in delta.items() if k[0] == "drift")
    assert drift == pytest.approx(P_run / P_periodic - 1.0, rel=1e-3)
    assert max(delta.values()) > COOLS_BACK_RTOL


def test_a_repeated_schedule_holds_its_drift_in_service(leading_pause):
    """The confirmed rating at 47adcb7 is 5.80 W (engine 4.98 W; main: 4.88 W by the
    periodic protocol); an FE run of one repetition and the next one's first second (beam
    off) at it reaches 0.1189 µm 37 ms after the repetition's end, 18.9 % over the 0.1 µm
    limit (main's 4.88 W: 0.0996 µm)."""
    eng, case = leading_pause
    own = max_safe_loading(case, eng)
    assert own.binding == "drift"
    P = own.power_W
    top = max(p for _, p in LEADING_PAUSE)
    segs = tuple((d, p * P / top) for d, p in LEADING_PAUSE) + ((1.0, 0.0),)
    res = run(dc.replace(case, loading=Loading("segments", segs),
                         beam=dc.replace(case.beam, power_W=P)))
    (drift,) = [x for x in res.summary_dict()["results"]["limits"] if x["limit"] == "drift"]
    assert drift["worst_um"] <= DRIFT_UM * (1.0 + 0.005)


def test_a_limit_reached_after_the_train_holds_at_the_fe_power():
    """Ta in Cu (k of Ta rises with T), five 20 ms pulses 20 ms apart, coolant face 4.2 K
    over the coolant: engine 21.61 W, erosion binding (the coolant face, over the cooling,
    allows 21.78 W, during the train 24.7 W), cooling_s 0; the FE search at k(T) confirms
    22.93 W (erosion, 3 runs, each ending with the train: the face -7.4 % at 0.20 s). An FE
    run of the train and 2 s of cooling at 22.93 W: the coolant face 34.42 °C 66 ms after
    the train, 5.2 % over its allowed rise. (main, no cooling at all: the same.) Fixed:
    the FE runs follow the cooling wherever a limit the cooling worsens lies within
    COOLING_RUN_WITHIN of the engine's rating (safe.cooling_s), here the coolant face at
    21.78 W."""
    case = anodesim.from_dict(reflection(
        mesh=LEAN, loading=TRAIN, materials={"target": "Ta", "heat_sink": "Cu"},
        limits={"coolant_side_C": COOLANT_C}))
    eng = rating.build_engine(case)
    assert engine_power(eng, case)[1] == "erosion"
    assert cooling_s(eng, case) > 0.0
    own = max_safe_loading(case, eng)
    assert own.confirmed and own.binding == "coolant_side"
    assert "cooling after the schedule" in own.method
    P = own.power_W
    segs = tuple((d, p * P / case.beam.power_W) for d, p in case.loading.segments)
    res = run(dc.replace(case, loading=dc.replace(case.loading, segments=segs + ((2.0, 0.0),)),
                         beam=dc.replace(case.beam, power_W=P)))
    face = res.column("T_max_coolant_side_C") - 30.0
    assert face.max() <= (COOLANT_C - 30.0) * (1.0 + 0.005)


def test_the_life_chart_superposes_the_trains_cooling_once(monkeypatch):
    """rate --chart life of the test insert's five-pulse train (engine only): the train's
    schedule_after is computed 7 times (its own rating, then once per life, the 6 lives'
    engine copies each without the cache), the life chart 3.3-3.6 s on main, 6.0-8.5 s at
    47adcb7 (load average 3.8; the superposition is the dear part, more so with a stress
    probe: 2-18 s a train on the clamped insert)."""
    from anodesim.rating import engine

    computed = []
    superpose = engine._schedule_after

    def counted(eng, loading):
        computed.append(loading.kind)
        return superpose(eng, loading)

    monkeypatch.setattr(engine, "_schedule_after", counted)
    case = anodesim.from_dict(reflection(mesh=LEAN, loading=TRAIN,
                                         limits={"coolant_side_C": 35.0}))
    anodesim.rate(case, charts=("life",), confirm=False, progress=lambda *a, **k: None)
    assert computed.count("pulse_train") == 1


def test_the_life_chart_of_a_repeated_train_keeps_its_spot_ceiling():
    """rate --chart life of a repeated pulse train raised KeyError ('spot', 'T_peak_C')
    (a traceback to the user, on main too): a repeated schedule's spot has the melting
    ceiling under the erosion budget, which the life chart's steady copy lacks. The life
    copies now keep a limit of the case's own they lack; every life rated."""
    case = anodesim.from_dict(reflection(mesh=LEAN, loading=dict(TRAIN, repeat_every_s=1.0)))
    rated = anodesim.rate(case, charts=("life",), confirm=False,
                          progress=lambda *a, **k: None)
    assert len(rated.life) == 6 and all(row["max_peak_beam_power_W"] > 0
                                        for row in rated.life)
    assert any(lim.name == "spot" for lim in rated.limits)
