"""Ratings: the maximum safe loading of a schedule and the rating charts (single load, serial
load, continuous: the IEC 60613 chart families; its terms only where their definitions are
met, rate.SHORT_LOAD_NOTE).

- engine.py: the linear-response engine (FE step response, superposition);
- safe.py: maximum safe loading, confirmed by re-runs of one Simulation;
- charts.py: single load, serial load (duty cycle, period), heat content, continuous;
- kirchhoff.py: those charts right with k(T), rho*c(T) (Kirchhoff engine, FE anchors);
- rate.py: the whole rating as a typed :class:`Rating`, and its files;
- checkpoint.py: its finished FE runs kept in the output folder, taken back by a re-run
  after a kill or a crash.

The limits themselves are in anodesim.limits (below both the run and the rating).
"""

from ..response import ResponseError
from .charts import (chart_continuous, chart_duty, chart_period, chart_single,
                     heating_cooling)
from .engine import Engine, build_engine, linear_case, schedule_rise
from .rate import Rating, check_rating_input, precheck, rate, write
from .safe import SafeLoading, confirmation_simulation, confirmed_power, max_safe_loading

__all__ = ["Engine", "Rating", "ResponseError", "SafeLoading", "build_engine",
           "chart_continuous", "chart_duty", "chart_period", "chart_single",
           "check_rating_input", "confirmation_simulation", "confirmed_power",
           "heating_cooling", "linear_case", "max_safe_loading", "precheck", "rate",
           "schedule_rise", "write"]
