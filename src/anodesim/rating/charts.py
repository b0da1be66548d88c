"""Rating charts from the linear-response engine (constant properties at the initial
temperature; kirchhoff.py corrects them for k(T), rho*c(T)): single load (against loading
time, cold or after a pre-load), serial load (against duty cycle or period), heating and
cooling of the anode heat content (IEC 60613-style curves at one power: no maximum anode
heat content and no housing curve, which a stationary microfocus anode is not rated by),
continuous rating.
"""

from __future__ import annotations

import numpy as np

from .engine import Engine, SpotHistory, serial_rise


def chart_single(engine: Engine, times, preload_W: float = 0.0) -> list[dict]:
    """Maximum beam power against loading time, from a cold start and from a pre-load
    (a constant beam power held until steady before the load). The fatigue limit counts
    one cycle per load, from the initial (or the pre-load's) temperature to the peak
    (SpotHistory)."""
    r = engine.response
    rows = []
    pre_dep = preload_W * engine.p_dep
    for t in times:
        S = engine.single_load_rise([t])[0]
        cold, b_cold = engine.max_power(S, spot=SpotHistory.single(engine, t))
        row = {"loading_time_s": float(t), "max_beam_power_cold_W": cold, "binding_cold": b_cold}
        if preload_W > 0:
            # T = T0 + P_pre S_∞ + (P − P_pre) S(t): P ≤ P_pre + (H − P_pre S_∞) / S per node
            hot, b_hot = engine.max_power(S, preload_rise=r.steady, preload_dep=pre_dep,
                                          spot=SpotHistory.preloaded(engine, t, pre_dep))
            row.update({"max_beam_power_preloaded_W": hot, "binding_preloaded": b_hot})
        rows.append(row)
    return rows


def _serial_load(engine: Engine, pairs) -> list[dict]:
    """Maximum peak and mean beam power for (period s, duty cycle) pairs, in the periodic
    steady state of the pulse train (a drift figure over the whole train from cold:
    serial_rise); the fatigue limit on one cycle of the periodic swing per period."""
    rows = []
    for T, d in pairs:
        P, b = engine.max_power(serial_rise(engine, d * T, T),
                                spot=SpotHistory.periodic(engine, d * T, T))
        rows.append({"period_s": float(T), "duty_cycle": float(d), "max_peak_beam_power_W": P,
                     "max_mean_beam_power_W": d * P, "binding": b})
    return rows


def chart_duty(engine: Engine, period_s: float, duty_cycles) -> list[dict]:
    """Serial-load rating against duty cycle at a fixed period."""
    return _serial_load(engine, [(period_s, d) for d in duty_cycles])


def chart_period(engine: Engine, duty_cycle: float, periods) -> list[dict]:
    """Serial-load rating against period at a fixed duty cycle."""
    return _serial_load(engine, [(T, duty_cycle) for T in periods])


def heating_cooling(engine: Engine, beam_W: float, times) -> list[dict]:
    """Heating and cooling curves of the anode heat content (J) at a constant
    beam power: heating from cold, H(t) = P h(t); cooling after switch-off from the steady
    heat content, H_∞ − P h(t) (superposition, linear-response engine).

    With no source the heat content can only fall after switch-off. Once the computed
    cooling value stops falling, the difference H_∞ − P h(t) is below the resolution of the
    step response (its solves' tolerances: on the shipped insert it follows e^(−t/14 s) to
    4e-10 of H_∞ at 310 s and stalls by 440 s, measured 2026-12-05 at 32 samples per
    doubling) and is reported as 0 from there on, not as the round-off it is (which the
    log-scale chart drew as a noisy tail)."""
    P = beam_W * engine.p_dep
    h = np.interp(times, engine.response.times, engine.heat, right=engine.heat_steady)
    cooling = P * (engine.heat_steady - h)
    order = np.argsort(times)
    c = cooling[order]
    stalled = np.flatnonzero((c <= 0.0) | (np.diff(c, prepend=np.inf) >= 0.0))
    if len(stalled):
        cooling[order[stalled[0]:]] = 0.0
    return [{"time_s": float(t), "beam_power_W": beam_W, "heating_J": P * float(x),
             "cooling_J": float(q)} for t, x, q in zip(times, h, cooling)]


def chart_continuous(engine: Engine) -> dict:
    """Steady-state (continuous) rating: maximum constant beam power (a steady spot has
    no thermal cycles: the fatigue limit does not bind it, as in a steady FE run)."""
    P, b = engine.max_power(engine.response.steady)
    return {"max_continuous_beam_power_W": P, "binding": b}
