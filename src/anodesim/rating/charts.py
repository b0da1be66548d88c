"""Rating charts from the linear-response engine (constant properties at the initial
temperature; kirchhoff.py corrects them for k(T), rho*c(T)): single load (against loading
time, cold or after a pre-load), serial load (against duty cycle or period), heating and
cooling of the anode heat content (IEC 60613-style curves at one power: no maximum anode
heat content and no housing curve, which a stationary microfocus anode is not rated by),
continuous rating.
"""

from __future__ import annotations

import math

import numpy as np

from .engine import Engine, SpotHistory, preload_off_power, serial_rise, steady_rise


def chart_single(engine: Engine, times, preload_W: float = 0.0) -> list[dict]:
    """Maximum beam power against loading time, from a cold start and from a pre-load
    (a constant beam power held until steady before the load, and after it either again or
    none: preload_off_power), each limit held over the load and the cooling after it
    (Engine.single_load_rise), the pre-loaded curve at most the cold one. The
    fatigue limit counts one cycle per load, from the initial (or the pre-load's)
    temperature to the peak (SpotHistory)."""
    r = engine.response
    rows = []
    pre_dep = preload_W * engine.p_dep
    for t in times:
        S = engine.single_load_rise([t])[0]
        cold, b_cold = engine.max_power(S, spot=SpotHistory.single(engine, t))
        row = {"loading_time_s": float(t), "max_beam_power_cold_W": cold, "binding_cold": b_cold}
        if preload_W > 0:
            # T = T0 + P_pre S_∞ + (P − P_pre) S(t): P ≤ P_pre + (H − P_pre S_∞) / S per node
            hot, b_hot = min(engine.max_power(S, preload_rise=r.steady, preload_dep=pre_dep,
                                              spot=SpotHistory.preloaded(engine, t, pre_dep)),
                             preload_off_power(engine, t, pre_dep), key=lambda x: x[0])
            if hot > cold:  # at most the cold curve, as the FE-corrected one (correct_single)
                hot, b_hot = cold, b_cold
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


#: The capped_by column of a serial-load point held at the continuous rating (cap_serial).
CAPPED_BY_CONTINUOUS = "continuous rating"


def cap_serial(rows: list[dict], continuous_W: float, binding: str,
               settles_duty_one: bool = True) -> float:
    """Hold serial-load chart rows (chart_duty / chart_period, FE-corrected or not) in place
    at the continuous rating: every point's mean power (duty × peak) at most continuous_W,
    the duty-1 points (a steady load) exactly it when settles_duty_one; column capped_by
    names the continuous rating where it set the point, else is empty.

    Why a cap and not an error: for a linear anode (the engine; the Kirchhoff-transformed
    one with k(T)) the time-average of every node's temperature over a period of the
    periodic state is its steady state at the mean power, so the peak is at least that
    steady state (physics.md §3.5: the periodic state is the superposed step response,
    whose time-average is the mean power's steady state; README "Verification", pulse-train
    sums: peak ≥ mean-power steady state, mean = it) and no serial load takes a mean power above
    the continuous rating under the same limits; the life limits' damage rates are convex
    in T (erosion ∝ exp(−E/kT)): by Jensen the same bound. The chart's points are within
    1 % of brute-force FE (kirchhoff.ANCHOR_RTOL), the continuous rating within 0.5 % from
    below (safe.max_safe_loading): a point above it is that tolerance, and the datasheet
    would show two numbers for one load, the larger one unconfirmed (the duty-1 point 7.513
    W against 7.4957 W, 0.24 %, on an air-cooled insert, 2026-12-06).

    Args:
        rows: serial-load rows (duty_cycle, max_peak_beam_power_W, max_mean_beam_power_W,
            binding).
        continuous_W: the continuous rating (beam W): the FE-confirmed one, or the
            engine's with --no-confirm.
        binding: the limit that binds it (a capped point's binding).
        settles_duty_one: whether continuous_W is the steady load's rating to put at a
            duty-1 point even above the chart's own value (FE-confirmed, or the engine's
            as the charts' points are); false for a continuous rating the FE search did not
            confirm (perhaps above a limit): a duty-1 point is then only held at most at it.

    Returns:
        The largest relative excess of a point's mean power over continuous_W before the
        cap (negative: every point below it).
    """
    worst = -math.inf
    for row in rows:
        duty = row["duty_cycle"]
        mean = duty * row["max_peak_beam_power_W"]
        worst = max(worst, mean / continuous_W - 1.0)
        capped = (duty >= 1.0 and settles_duty_one) or mean > continuous_W
        if capped:
            row.update({"max_peak_beam_power_W": continuous_W / duty,
                        "max_mean_beam_power_W": continuous_W, "binding": binding})
        row["capped_by"] = CAPPED_BY_CONTINUOUS if capped else ""
    return worst


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
    """Steady-state (continuous) rating: maximum constant beam power held until the anode is
    steady, a drift limit over its switch-on and -off too (engine.steady_rise; a steady spot
    has no thermal cycles: the fatigue limit does not bind it, as in a steady FE run)."""
    P, b = engine.max_power(steady_rise(engine))
    return {"max_continuous_beam_power_W": P, "binding": b}
