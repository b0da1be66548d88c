"""The single-load chart's pre-loaded curve holds a drift limit whether the tube returns to
the pre-load after the load or is switched off.

For a temperature, back at the pre-load is the hotter ending (the beam off is cooler by
P_pre S(τ)). For a drift that reverses it is not: switched off after the load, the
pre-load's own fast bulge collapses too, and the slow part of pre-load and load stays. Found
by the review of the change (2026-12-06) on the MoCu30 anode of tests/test_rating_warm_up.py
(0.1 µm drift limit): pre-load 3 W held to steady, then 10 s at the chart's pre-loaded
6.7074 W drifted 0.1000 µm back at the pre-load but 0.1366 µm with the beam off (engine;
FE at k(T) 0.1403 µm, 42 ms after the switch-off). Now the curve is capped at the cold one
and held by preload_off_power too.
"""

import numpy as np
import pytest
from test_rating_warm_up import DRIFT_UM, compensated  # noqa: F401 (the fixture)

from anodesim.rating.charts import chart_single
from anodesim.rating.engine import preload_off_power


def _worst_drift(eng, P_pre, t, P, end_W):
    """Largest |drift| (µm) from the steady state at P_pre (W), then P (W) for t (s), then
    end_W (W), superposed exactly on the interpolated response at its kinks (independent of
    preload_off_power's closed form)."""
    r = eng.response
    (pos,) = eng.signed()
    H = r.horizon
    at = np.unique(np.concatenate([H + r.times[r.times > 0], H + t + r.times]))
    segs = [(H, P_pre * eng.p_dep), (t, P * eng.p_dep), (H, end_W * eng.p_dep)]
    return float(np.abs(r.columns([pos]).schedule(segs, at)[:, 0] - r.T0).max())


def test_the_preloaded_point_holds_the_drift_when_the_beam_is_switched_off(compensated):
    """Every pre-loaded point holds the drift limit with either ending (to 1e-9), and where
    the beam-off ending binds the point meets the limit there (to 1e-6): the closed form of
    preload_off_power against the superposed schedule."""
    _, eng = compensated
    bound_off = 0
    for P_pre in (1.0, 3.0, 4.0):
        for t in (0.04, 1.0, 10.0):
            (row,) = chart_single(eng, [t], preload_W=P_pre)
            P = row["max_beam_power_preloaded_W"]
            back = _worst_drift(eng, P_pre, t, P, P_pre)
            off = _worst_drift(eng, P_pre, t, P, 0.0)
            assert max(back, off) <= DRIFT_UM * (1 + 1e-9), (P_pre, t, back, off)
            P_off, b_off = preload_off_power(eng, t, P_pre * eng.p_dep)
            if P == pytest.approx(P_off, rel=1e-12):
                bound_off += 1
                assert b_off == row["binding_preloaded"] == "drift"
                assert off == pytest.approx(DRIFT_UM, rel=1e-6), (P_pre, t)
    assert bound_off >= 2
