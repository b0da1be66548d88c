"""The continuous rating holds a drift limit over the switches of the load, not only once
steady: the warm-up from cold and the cool-down after switch-off.

A W insert in a Mo-Cu (MoCu30) heat sink, clamped at its cooled end, its drift measured
from the anode face: the spot's drift first swings one way (the insert's fast bulge,
-0.0202 µm per deposited watt 0.04 s after switch-on) and settles the other way (+0.0142
µm/W once steady, the slow heat sink nearly cancelling it); switched off, the bulge
collapses first and the slow part stays: +0.0343 µm/W 0.04 s after switch-off. A tube run
at its continuous rating passes through both at every switch-on and -off (and the
serial-load charts' duty cycles just below 1 count them), so a drift specification signed
at the continuous rating must hold there: held to the steady drift alone the rating was
2.1x too high for it (the coolant face binding at 9.93 W instead of the drift at 4.82 W,
engine at constant properties)."""

import dataclasses as dc

import numpy as np
import pytest
from cases import reflection

import anodesim
from anodesim import rating
from anodesim.case import Loading
from anodesim.rating.charts import chart_continuous
from anodesim.rating.engine import (serial_rise, steady_rise, switch_excursions,
                                    switch_runs_s)
from anodesim.rating.safe import max_safe_loading
from anodesim.simulation import run

DRIFT_UM = 0.1


@pytest.fixture(scope="module")
def compensated():
    """(case, engine) of the Mo-Cu anode whose drift reverses on its switches."""
    case = anodesim.from_dict(reflection(
        materials={"target": "W", "heat_sink": "MoCu30"},
        mesh={"growth": 0.3, "spot_fraction": 0.2},
        loading={"kind": "steady", "duration_s": None},
        limits={"drift_um": DRIFT_UM}, output={"fields": False},
        mounts={"cooled_end": {"type": "clamped"}}, mechanics={"reference_face": "anode_face"},
        drift={"view_direction": [0.94, 0.0, 0.342], "source_object_mm": 20.0,
               "source_detector_mm": 500.0, "pixel_size_um": 100.0}))
    return case, rating.build_engine(case)


def test_the_engine_rates_a_steady_load_by_its_switches(compensated):
    """steady_rise takes each drift figure's largest excursion over the warm-up from cold,
    the steady state and the cool-down after switch-off (the step response's own samples:
    exact for the interpolated response), switch_excursions finds their instants, and the
    continuous rating and a duty-1 chart point use it: at a 100 s period the chart's duty
    0.99 and 1 agree (they jumped 1.7x at duty 1 before, the switch-off counted below 1
    only)."""
    case, eng = compensated
    (pos,) = eng.signed()
    r = eng.response
    S, S_inf = r.rise[:, pos], r.steady[pos]
    on = S[np.abs(S).argmax()]  # the warm-up's largest
    off = (S_inf - S)[np.abs(S_inf - S).argmax()]  # the cool-down's
    assert on < 0 < S_inf < 0.75 * abs(on) and off > 2.0 * S_inf  # reverses both ways
    assert steady_rise(eng)[pos] == off
    others = np.arange(len(r.steady)) != pos
    assert np.array_equal(steady_rise(eng)[others], r.steady[others])
    t = switch_excursions(eng)
    assert set(t) == {"warm-up", "cool-down"} and all(0.01 < x < 0.1 for x in t.values())
    assert switch_runs_s(eng) == pytest.approx({k: 10.0 * x for k, x in t.items()})
    cont = chart_continuous(eng)
    steady_only = eng.max_power(r.steady)
    assert cont["binding"] == "drift" and steady_only[1] != "drift"
    assert cont["max_continuous_beam_power_W"] == pytest.approx(
        DRIFT_UM / (eng.p_dep * off), rel=1e-9)
    assert steady_only[0] > 2.0 * cont["max_continuous_beam_power_W"]
    assert serial_rise(eng, 1.0, 1.0)[pos] == off  # the duty-1 point of a serial chart
    # at a 100 s period a 1 s pause is long enough for the switch-off's swing (0.04 s)
    assert eng.max_power(serial_rise(eng, 99.0, 100.0))[0] == pytest.approx(
        cont["max_continuous_beam_power_W"], rel=0.01)


def test_fe_confirms_the_continuous_rating_over_the_switches(compensated):
    """max_safe_loading of the steady load (the continuous rating's search) runs the steady
    state, the warm-up from cold and the cool-down after switch-off from the steady state
    (engine.switch_runs_s) at each power and takes each drift limit at its worst of them.
    Checked against an independent full run at the confirmed power (temperature-dependent
    properties): a 1000 s load from cold, then 1 s off, reaches the drift limit within the
    0.5 % band (-0.5 %..0) 0.04 s after switch-off; its steady state only about a third of
    it, so a steady-only confirmation would have rated higher. Its fe_runs counts every FE
    run, three per power tried (it counted the powers)."""
    from anodesim.rating import progress

    case, eng = compensated
    lines = []
    with progress.reporting(lines.append):
        sl = max_safe_loading(case, eng)
    assert sl.fe_runs == sum(x.startswith("    FE run ") for x in lines) >= 3
    assert sl.fe_runs % 3 == 0
    assert sl.confirmed and sl.binding == "drift"
    assert "warm-up from cold" in sl.method and "cool-down after switch-off" in sl.method
    (row,) = [r for r in sl.report if r["limit"] == "drift"]
    assert row["during"] == "cool-down"
    P = sl.power_W
    at = dc.replace(case, beam=dc.replace(case.beam, power_W=P))

    def drift(res):
        return {r["limit"]: r for r in res.summary_dict()["results"]["limits"]}["drift"]

    both = drift(run(dc.replace(at, loading=Loading("segments", ((1000.0, P), (1.0, 0.0))))))
    assert 0.995 * DRIFT_UM <= both["worst_um"] <= DRIFT_UM, both
    assert 1000.0 < both["time_s"] < 1000.1  # just after switch-off, not once steady
    assert both["worst_um"] == pytest.approx(row["worst_um"], rel=1e-3)
    steady = drift(run(at))
    assert steady["worst_um"] < 0.5 * DRIFT_UM, steady


def test_a_drift_bound_chart_point_is_not_called_fe_confirmed(compensated):
    """The FE anchors of the k(T) charts run no mechanics (and a serial anchor starts from
    the mean-power steady state, not from cold where this drift is largest), so a point a
    drift limit binds is the engine's drift probe at constant properties: on this anode
    4.82 W against 4.71 W by FE at k(T) (the test above), yet such a point read "FE
    anchor" with fe_confirmed true. It now reads BY_DRIFT_PROBE, fe_confirmed false, and
    the rating's words count it apart from the anchors."""
    from anodesim.rating.kirchhoff import BY_ANCHOR, BY_DRIFT_PROBE, _made_by, drift_bound
    from anodesim.rating.rate import _serial_words

    case, eng = compensated
    assert drift_bound(eng, "drift") and not drift_bound(eng, "coolant_side")
    assert _made_by(eng, "drift", True) == {"engine": BY_DRIFT_PROBE, "fe_confirmed": False}
    assert _made_by(eng, "coolant_side", True) == {"engine": BY_ANCHOR, "fe_confirmed": True}
    rows = [{"period_s": 1.0, "duty_cycle": d, "max_peak_beam_power_W": 8.0, "binding": b,
             **_made_by(eng, b, a)}
            for d, b, a in ((0.1, "drift", True), (0.5, "coolant_side", True),
                            (0.7, "coolant_side", False), (1.0, "coolant_side", True))]
    assert ("(k(T) Kirchhoff engine corrected at 2 FE anchors, the other points interpolated; "
            "1 point bound by a drift limit, from the engine's drift probe at constant "
            "properties, not FE-corrected)") in _serial_words(rows, "duty_cycle", "period_s",
                                                              case.beam)
    drift = [{**r, "binding": "drift", **_made_by(eng, "drift", True)} for r in rows]
    assert ("(k(T) Kirchhoff engine; 4 points bound by a drift limit, from the engine's drift "
            "probe at constant properties, not FE-corrected)") in _serial_words(
                drift, "duty_cycle", "period_s", case.beam)


def test_the_rating_says_the_switch_binds(compensated):
    """rating.json's continuous rating lists the limits held over a switch (its largest
    figure, when, and which switch), and the words say it binds there: "limited by the
    focal-spot drift" beside a steady drift far under the 0.1 µm limit read as a
    contradiction."""
    from anodesim.rating.rate import in_words

    case, _ = compensated
    r = anodesim.rate(case, charts=("continuous",))
    (row,) = r.continuous["switches"]
    assert row["label"] == "drift" and row["during"] == "cool-down"
    assert 0.995 * DRIFT_UM <= row["worst_um"] <= DRIFT_UM and row["time_s"] < 0.1
    words = in_words(case, r)
    assert (f"limited by the focal-spot drift during the cool-down after switch-off "
            f"({row['worst_um']:.3g} µm {row['time_s']:.3g} s after switch-off)") in words, \
        words
    assert "in steady state there the spot drifts 0.0" in words, words


class _ExactRuns:
    """Stand-in for kirchhoff.PointRuns with mechanics (a yield limit present): each FE anchor
    reports the drift the constant-property run of its own history makes, the engine's own
    figure for it (exact here: the engine is linear). A serial anchor runs the periodic state
    from the mean-power steady state (a duty-1 one the steady state), a single-load anchor
    the load from cold."""

    def __init__(self, eng):
        self.eng = eng
        (self.lim,) = [lim for lim in eng.limits if lim.name == "drift"]
        (self.pos,) = eng.signed()

    def _check(self, per_W, P):
        from anodesim.limits import LimitCheck

        return [LimitCheck(self.lim, self.lim.baseline + P * self.eng.p_dep * abs(per_W), 0.0)]

    def serial(self, period, duty, P, pulses=None):
        r = self.eng.response
        per_W = r.steady[self.pos] if duty >= 1.0 else r.pulse_train_peak(
            duty * period, period, None)[self.pos]
        return self._check(per_W, P)

    def single(self, t, P, cooling_s=0.0):  # the load, and its cooling where it runs it
        return self._check(self.eng.single_load_rise([t], cooling=cooling_s > 0)[0][self.pos],
                           P)


def test_a_serial_anchors_drift_never_corrects_the_probes(compensated):
    """A serial anchor (from the mean-power steady state; at duty 1 the steady state) does
    not run the history the engine's drift figure is taken over (the whole train, the
    warm-up, from cold): with a yield limit present its runs carry mechanics, and the
    correction of the drift it gave, its FE drift over the engine's warm-up excursion
    (0.70 at duty 1 on this anode), raised a drift-bound point back to the steady-only
    power (8.20 -> 11.7 W at duty 1) while it read BY_DRIFT_PROBE, "not FE-corrected".
    With anchors that run exactly what the engine predicts of their own history
    (_ExactRuns), the drift-bound serial points stay the probe's; a single-load anchor,
    from cold as the probe, may correct its drift (here by 1: unchanged)."""
    from anodesim.rating.charts import chart_duty, chart_single
    from anodesim.rating.kirchhoff import (BY_DRIFT_PROBE, Transform, correct_serial,
                                           correct_single)

    case, eng = compensated
    tr = Transform(eng.response.T0, {})  # constant properties: the engine is the FE run
    rows = chart_duty(eng, 1.0, [0.5, 0.9, 1.0])
    engine_W = [r["max_peak_beam_power_W"] for r in rows]
    assert rows[-1]["binding"] == "drift"
    correct_serial(eng, tr, _ExactRuns(eng), rows, "duty_cycle")
    for r, P in zip(rows, engine_W):
        if r["binding"] == "drift":
            assert r["max_peak_beam_power_W"] == pytest.approx(P, rel=1e-9), r
            assert r["engine"] == BY_DRIFT_PROBE and not r["fe_confirmed"]
    single = chart_single(eng, [0.01, 0.04, 1000.0])
    cold_W = [r["max_beam_power_cold_W"] for r in single]
    correct_single(eng, tr, _ExactRuns(eng), single)
    for r, P in zip(single, cold_W):
        assert r["max_beam_power_cold_W"] == pytest.approx(P, rel=1e-6), r
    drift_bound = [r for r in single if r["binding_cold"] == "drift"]
    assert drift_bound and all(r["engine"] != BY_DRIFT_PROBE for r in drift_bound)


def test_a_single_load_holds_the_drift_after_its_switch_off(compensated):
    """A single load from cold ends with a switch-off too: the single-load chart's point and
    its FE confirmation (safe.confirmed_power, rate's confirm_charts and its 0.1 s load) hold
    the drift over the cooling after the load (Engine.single_load_rise). A 10 s load on this
    anode: 8.20 W held to the load's end, 4.99 W with the cooling (engine); the FE search
    runs the load and its cooling and confirms the drift limit within its 0.5 % band, and an
    independent run of the load and 1 s of cooling at that power reaches it after the
    switch-off, at the load's end under two thirds of it."""
    from anodesim.rating.charts import chart_single
    from anodesim.rating.safe import confirmed_power

    case, eng = compensated
    t = 10.0
    P_end, b_end = eng.max_power(eng.single_load_rise([t], cooling=False)[0])
    P_eng, b = eng.max_power(eng.single_load_rise([t])[0])
    assert b == b_end == "drift" and P_end > 1.6 * P_eng
    (row,) = chart_single(eng, [t])
    assert row["max_beam_power_cold_W"] == pytest.approx(P_eng, rel=1e-12)
    assert 0.0 < eng.single_load_cooling_s(t) < 1.0
    sl = confirmed_power(case, eng, t, P_eng)
    assert sl.confirmed and sl.binding == "drift"
    P = sl.power_W
    at = dc.replace(case, beam=dc.replace(case.beam, power_W=P),
                    loading=Loading("segments", ((t, P), (1.0, 0.0))))
    res = run(at)
    (drift,) = [r for r in res.summary_dict()["results"]["limits"] if r["limit"] == "drift"]
    assert 0.995 * DRIFT_UM <= drift["worst_um"] <= DRIFT_UM, drift
    assert t < drift["time_s"] < t + 0.2
    d = np.abs(res.column(drift["column"]))
    time = res.series.time
    assert np.nanmax(d[time <= t]) < 2.0 / 3.0 * DRIFT_UM


def test_the_preloaded_curve_is_capped_at_the_cold_one(compensated):
    """After a pre-load only the load's increment swings: for this drift, which swings
    against the pre-load's steady one, the engine allows more after a 4 W pre-load than
    from cold (a 0.04 s load: 9.39 W against 8.20 W, |P_pre S_inf + (P - P_pre) r| within
    the limit). The single-load chart does not give it: its pre-loaded curve is capped at the
    cold one, by the engine alone (--no-confirm) as by the FE-corrected chart."""
    from anodesim.rating.charts import chart_single

    _, eng = compensated
    t, pre = 0.04, 4.0
    S = eng.single_load_rise([t])[0]
    cold = eng.max_power(S)[0]
    hot = eng.max_power(S, preload_rise=eng.response.steady, preload_dep=pre * eng.p_dep)[0]
    assert hot > 1.1 * cold
    (row,) = chart_single(eng, [t], preload_W=pre)
    assert row["max_beam_power_preloaded_W"] == row["max_beam_power_cold_W"] == cold
    assert row["binding_preloaded"] == row["binding_cold"] == "drift"
