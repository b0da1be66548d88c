"""Limits of a loading, and how a time series meets them.

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
- ``drift``: the spot drift across the view axis (µm), when the case sets one.

Damage temperatures come from the material data file, with their sources. This module sits
below both the run (which reports the limits of its time series) and the rating (which finds
the power at which the binding one is just met); it imports neither, nor dolfinx.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .case import ZERO_CELSIUS_K, Case, interfaces_of, regions_of

SPOT_MARGIN_K = 200.0  # EP3457424: focal spots run 50–200 K below melting


@dataclass(frozen=True)
class Limit:
    """One limit on a time-series column, in that column's unit ("C" or "um").

    Attributes:
        name: spot, interface, heat_sink, coolant_side or drift.
        column: the time-series column it watches.
        value: the limit (°C or µm).
        unit: "C" or "um".
        origin: where the value comes from ("case", or the material data it rests on).
        baseline: the column's value at zero power (the initial temperature, or 0 µm), so
            that value − baseline is the rise the loading may cause.
    """

    name: str
    column: str
    value: float
    unit: str
    origin: str
    baseline: float

    @property
    def allowed_rise(self) -> float:
        """The rise the loading may cause (K or µm)."""
        return self.value - self.baseline

    def definition(self) -> dict:
        """The limit as rating.json lists it."""
        return {"limit": self.name, "column": self.column, "unit": self.unit,
                f"limit_{self.unit}": self.value, "origin": self.origin}


@dataclass(frozen=True)
class LimitCheck:
    """A limit against a run: the worst value, when, and the margin.

    Attributes:
        limit: the limit.
        worst: the largest value of the column (its magnitude for a drift), °C or µm.
        time_s: when the worst value occurred (s).
    """

    limit: Limit
    worst: float
    time_s: float

    @property
    def name(self) -> str:
        return self.limit.name

    @property
    def margin(self) -> float:
        """Limit − worst value (K or µm); negative when the limit is broken."""
        return self.limit.value - self.worst

    @property
    def holds(self) -> bool:
        return bool(self.worst <= self.limit.value)

    @property
    def excess(self) -> float:
        """(worst − limit) / allowed rise: 0 when the limit is just met, < 0 with margin."""
        return (self.worst - self.limit.value) / self.limit.allowed_rise

    def to_dict(self) -> dict:
        """The check as summary.json reports it."""
        lim = self.limit
        margin = "margin_K" if lim.unit == "C" else "margin_um"
        return {"limit": lim.name, "column": lim.column, "unit": lim.unit,
                f"limit_{lim.unit}": lim.value, f"worst_{lim.unit}": self.worst,
                "time_s": self.time_s, margin: self.margin, "holds": self.holds,
                "excess": self.excess, "origin": lim.origin}

    def __repr__(self) -> str:
        unit = "°C" if self.limit.unit == "C" else "µm"
        return (f"LimitCheck({self.name}: worst {self.worst:.4g} {unit} at {self.time_s:.4g} s, "
                f"limit {self.limit.value:.4g} {unit}, {'holds' if self.holds else 'BROKEN'})")


def interface_columns(case: Case) -> list[str]:
    """Time-series columns of the interface maxima."""
    return [f"T_max_{n}_C" for n in interfaces_of(case.geometry)]


def cooled_faces(case: Case) -> list[str]:
    """Faces held by a fixed temperature or a convection boundary."""
    return [f for f, b in case.boundaries.items() if b.type in ("fixed", "convection")]


def limits_for(case: Case, mats) -> list[Limit]:
    """The case's limits, with library defaults where the case gives none.

    Args:
        case: the case.
        mats: material per region (with the case's overrides).
    """
    regions = regions_of(case.geometry)
    given = case.limits
    T0 = case.initial_temperature_K - ZERO_CELSIUS_K

    def temp(name, column, value_K, origin):
        return Limit(name, column, value_K - ZERO_CELSIUS_K, "C", origin, T0)

    target = mats["target"]
    out = [temp("spot", "T_peak_C", given.spot_K or target.melting_K - SPOT_MARGIN_K,
                "case" if given.spot_K else
                f"{target.key} melting point − {SPOT_MARGIN_K:.0f} K (EP3457424)")]
    if len(regions) > 1:
        sink = mats[regions[1]]
        lowest = min(target.damage_K, sink.damage_K)
        which = target if target.damage_K <= sink.damage_K else sink
        for col in interface_columns(case):
            out.append(temp("interface", col, given.interface_K or lowest,
                            "case" if given.interface_K else
                            f"{which.key} damage: {which.info.get('damage_mechanism', '')}"))
        out.append(temp("heat_sink", f"T_max_{regions[1]}_C", given.heat_sink_K or sink.damage_K,
                        "case" if given.heat_sink_K else
                        f"{sink.key} damage: {sink.info.get('damage_mechanism', '')}"))
    if given.coolant_side_K is not None and cooled_faces(case):
        out.append(temp("coolant_side", "T_max_coolant_side_C", given.coolant_side_K, "case"))
    if given.drift_um is not None:
        out.append(Limit("drift", "drift_across_view_um", given.drift_um, "um", "case", 0.0))
    return out


def check(limits: list[Limit], time_s, columns) -> list[LimitCheck]:
    """Worst value, its time and the margin of every limit over a time series.

    Args:
        limits: the limits.
        time_s: the times of the series (s).
        columns: column name → values (NaN where not computed, e.g. drift between save
            times); limits on columns the series lacks are left out.
    """
    out = []
    for lim in limits:
        if lim.column not in columns:
            continue
        vals = np.asarray(columns[lim.column], dtype=float)
        if lim.unit == "um":
            vals = np.abs(vals)
        if len(vals) == 0 or np.all(np.isnan(vals)):
            continue
        i = int(np.nanargmax(vals))
        out.append(LimitCheck(lim, float(vals[i]), float(time_s[i])))
    return out
