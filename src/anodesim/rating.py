"""Limits, maximum safe loading and rating charts.

A loading is safe while every limit holds at every instant (physics reference §6):

- ``spot``: the hottest node of the target. Default: melting point − 200 K, the upper end of
  the 50–200 K margin below melting that tubes run at (EP3457424).
- ``interface``: the hottest node on the named interfaces (film/window, insert/heat sink).
  Default: the lower of the two materials' damage temperatures (e.g. Cu softening for a
  cast W/Cu joint, graphitisation of diamond for W on diamond).
- ``heat_sink``: the hottest node of the heat sink or window. Default: its material's damage
  temperature.
- ``coolant_side``: the hottest node of the cooled faces (convection or fixed temperature).
  No default: set it for an oil or water limit (oil 80–90 °C, physics reference §6).

Damage temperatures come from the material data file, with their sources.
"""

from __future__ import annotations

from dataclasses import dataclass

from .case import GEOMETRIES, Case

SPOT_MARGIN_K = 200.0  # EP3457424: focal spots run 50–200 K below melting


@dataclass(frozen=True)
class Limit:
    """One limit: a name, the time-series column it watches, its value (K), its origin."""

    name: str
    column: str
    value_K: float
    origin: str


def interface_columns(case: Case) -> list[str]:
    names = GEOMETRIES[case.geometry.kind]["interfaces"]
    return [f"T_max_{n}_C" for n in names]


def cooled_faces(case: Case) -> list[str]:
    return [f for f, b in case.boundaries.items() if b.type in ("fixed", "convection")]


def limits_for(case: Case, mats) -> list[Limit]:
    """The case's limits, with library defaults where the case gives none."""
    regions = GEOMETRIES[case.geometry.kind]["regions"]
    given = case.limits
    out = []
    target = mats["target"]
    out.append(Limit("spot", "T_peak_C",
                     given.spot_K or target.melting_K - SPOT_MARGIN_K,
                     "case" if given.spot_K else
                     f"{target.key} melting point − {SPOT_MARGIN_K:.0f} K (EP3457424)"))
    if len(regions) > 1:
        sink = mats[regions[1]]
        lowest = min(target.damage_K, sink.damage_K)
        which = target if target.damage_K <= sink.damage_K else sink
        for col in interface_columns(case):
            out.append(Limit("interface", col, given.interface_K or lowest,
                             "case" if given.interface_K else
                             f"{which.key} damage: {which.info.get('damage_mechanism', '')}"))
        out.append(Limit("heat_sink", f"T_max_{regions[1]}_C", given.heat_sink_K or sink.damage_K,
                         "case" if given.heat_sink_K else
                         f"{sink.key} damage: {sink.info.get('damage_mechanism', '')}"))
    if given.coolant_side_K is not None and cooled_faces(case):
        out.append(Limit("coolant_side", "T_max_coolant_side_C", given.coolant_side_K, "case"))
    return out


def report(limits: list[Limit], header: list[str], rows: list[list[float]]) -> list[dict]:
    """Worst value, its time and the margin of every limit over a run's time series."""
    out = []
    for lim in limits:
        j = header.index(lim.column)
        i = max(range(len(rows)), key=lambda k: rows[k][j])
        worst = rows[i][j]
        out.append({"limit": lim.name, "column": lim.column,
                    "limit_C": lim.value_K - 273.15, "worst_C": float(worst),
                    "time_s": rows[i][0], "margin_K": lim.value_K - 273.15 - worst,
                    "holds": bool(worst <= lim.value_K - 273.15), "origin": lim.origin})
    return out
