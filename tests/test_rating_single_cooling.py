"""The single-load chart holds its limits over the load and the cooling after it.

A node away from the spot keeps warming after the load ends, its heat still on the way: on
the test insert (tests/cases.reflection) the coolant face's rise peaks about 0.09 s after a
0.1 s load, 1.50 times its end-of-load rise. With a coolant-face limit 5 K over the coolant
the chart held to the end of the load allowed 38.6 W for a 0.1 s load (engine at constant
properties); the coolant face then passes its limit after the load. Now 25.7 W, and
FE-confirmed at k(T) by an independent run of the load and its cooling. (The switch-off's
drift of a reversing anode, the other effect, is in tests/test_rating_warm_up.py.)"""

import dataclasses as dc

import numpy as np
import pytest
from cases import reflection

import anodesim
from anodesim import rating
from anodesim.case import Loading
from anodesim.rating.engine import WARM_UP_SPAN, single_load_after
from anodesim.rating.kirchhoff import PointRuns
from anodesim.simulation import run

LEAN = {"growth": 0.3, "spot_fraction": 0.2}
COOLANT_C = 35.0  # 5 K over the coolant (30 °C)
COLUMN = "T_max_coolant_side_C"


@pytest.fixture(scope="module")
def lagging():
    """(case, engine) of the test insert with a coolant-face limit 5 K over the coolant."""
    case = anodesim.from_dict(reflection(mesh=LEAN, limits={"coolant_side_C": COOLANT_C},
                                         rating={"exposure_s": [0.1, 1.0],
                                                 "exposure_points": 3}))
    return case, rating.build_engine(case)


def test_the_engine_follows_a_lagging_node_into_the_cooling(lagging):
    """single_load_rise takes the coolant face's largest rise after the load: S(t + τ) −
    S(τ) at the kinks of the interpolated response, exact for it (a dense independent
    superposition on 20 000 instants reaches it within 1e-4 and never passes it); the
    load's end alone is 1.5x lower at 0.1 s. The FE run of the point follows the cooling
    (WARM_UP_SPAN times the instant of the peak) only where the cooling lowers the
    point's power: not at 10 s (the face near steady) nor at 10 ms (the erosion binding)."""
    case, eng = lagging
    r = eng.response
    nodes = eng.nodes[COLUMN]
    t = 0.1
    tau = np.geomspace(1e-7, r.horizon, 20_000)
    dense = (r.at(t + tau) - r.at(tau))[:, nodes].max()
    with_cooling = eng.single_load_rise([t])[0][nodes].max()
    at_end = eng.single_load_rise([t], cooling=False)[0][nodes].max()
    assert at_end == pytest.approx(r.at([t])[0][nodes].max(), rel=1e-12)
    assert dense <= with_cooling * (1 + 1e-12) and dense == pytest.approx(with_cooling,
                                                                          rel=1e-4)
    assert with_cooling > 1.45 * at_end
    # every node at least its end-of-load rise
    assert np.all(eng.single_load_rise([t])[0] >= eng.single_load_rise([t], cooling=False)[0])
    P_end, b_end = eng.max_power(eng.single_load_rise([t], cooling=False)[0])
    P, b = eng.max_power(eng.single_load_rise([t])[0])
    assert (b_end, b) == ("coolant_side", "coolant_side") and P_end > 1.45 * P
    _, _, peak = single_load_after(eng, t)
    assert 0.05 < peak < 0.2
    assert eng.single_load_cooling_s(t) == pytest.approx(WARM_UP_SPAN * peak)
    assert eng.single_load_cooling_s(10.0) == 0.0 and eng.single_load_cooling_s(0.01) == 0.0


def test_fe_anchors_hold_the_coolant_face_after_the_load(lagging):
    """The k(T) single-load chart's anchors run the load and its cooling: the 0.1 s point
    is bound by the coolant face, and an independent FE run of the load at that power and
    2 s of cooling peaks at the limit within the anchors' 1 % (ANCHOR_RTOL) after the
    load, while at the load's end the face is far below it. The 0.1 s load's FE search and
    the case's own 0.1 s schedule's (a lone load) agree within 1 %."""
    case, eng = lagging
    rated = anodesim.rate(case, charts=("single",))
    row = rated.single[0]
    assert row["loading_time_s"] == pytest.approx(0.1)
    assert row["binding_cold"] == "coolant_side" and row["fe_confirmed"]
    P = row["max_beam_power_cold_W"]
    assert P < 0.8 * eng.max_power(eng.single_load_rise([0.1], cooling=False)[0])[0]
    point = dc.replace(case, loading=Loading("continuous", ((0.1, P), (2.0, 0.0))),
                       beam=dc.replace(case.beam, power_W=P))
    res = run(point)
    face = res.column(COLUMN)
    t = res.series.time
    allowed = COOLANT_C - 30.0
    assert face.max() - 30.0 == pytest.approx(allowed, rel=0.01)
    assert t[face.argmax()] > 0.1 + 0.02  # after the load
    assert face[np.searchsorted(t, 0.1 - 1e-12)] - 30.0 < 0.8 * allowed
    # the 0.1 s load the chart rated: the one the case's 0.1 s schedule is rated by too,
    # its own maximum safe loading (one load from cold: engine.lone_load_s) as well
    assert rated.nominal["binding"] == "coolant_side"
    assert rated.nominal["beam_power_W"] == pytest.approx(P, rel=0.01)
    own = rated.max_safe
    assert own.confirmed and own.binding == "coolant_side"
    assert own.power_W == pytest.approx(P, rel=0.01)
    assert "cooling after the load" in own.method


def test_a_cooling_run_counts_the_loads_damage_only(lagging):
    """A chart anchor that follows the cooling checks the life limits (the spot's erosion)
    over the load: the same damage as the run of the load alone (within 1e-5 of its
    equivalent temperature: the two step plans differ slightly near the switch-off), not
    spread over the cooling as hours of the rated life; the other limits over the whole
    run."""
    case, _ = lagging
    runs = PointRuns(case)
    alone = {c.limit.name: c for c in runs.single(0.1, 20.0)}
    cooled = {c.limit.name: c for c in runs.single(0.1, 20.0, cooling_s=1.0)}
    assert cooled["erosion"].equivalent_C == pytest.approx(alone["erosion"].equivalent_C,
                                                           rel=1e-5)
    assert cooled["coolant_side"].worst > alone["coolant_side"].worst + 0.1
    assert cooled["coolant_side"].time_s > 0.1
