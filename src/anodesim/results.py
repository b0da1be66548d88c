"""Typed results of a run: the time series with units, the limit checks, the drift and the
stress maxima, the provenance; ``summary_dict()`` is what summary.json holds.

Imports no dolfinx; ``plot()`` imports matplotlib when called.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .limits import LimitCheck, first_max_index

SIGN_CONVENTIONS = [
    "u_spot_z_um: emission-weighted mean axial displacement of the deposition region "
    "(positive: towards the cathode, out of the target); 3-D models also give u_spot_x_um, "
    "u_spot_y_um (tube frame) and the x, y, z components of the drift across the view axis",
    "spot_shift_um: shift of the impact point along the fixed beam, (u.n)/(b.n) "
    "(positive: along the beam, into the target; negative: the spot moves towards the cathode)",
    "drift_across_view_um: apparent source shift across the view axis (magnitude); "
    "image_drift_px: (M - 1) x that shift / pixel size, the image of a fixed object point "
    "moving opposite to the source",
    "drift_u_um, drift_v_um: that shift on the detector's image axes, signed; v is the "
    "beam direction projected on the detector (the anode-cathode axis, pointing the way the "
    "electrons travel), u = v x view; image_shift_u_px, image_shift_v_px: -(M - 1) x those "
    "components / pixel size, the signed image motion to correct",
    "drift_along_view_um: shift along the view axis (positive: towards the detector); "
    "magnification_change_rel: dM/M = drift_along_view x (1/SOD - 1/SDD); "
    "offaxis_shift_um/_px: detector_radius x dM/M, the radial image shift at that detector "
    "radius (positive: outward)",
    "mechanics columns are filled at the save times and, with a drift map, at the steps "
    "between them where a drift figure is largest or smallest",
]


class TimeSeries:
    """Named columns of equal length (numpy arrays) with their units.

    ``series["T_peak_C"]`` is a column; ``series.units["T_peak_C"]`` its unit; the first column
    is the time ``time_s``. Mechanics columns are NaN between save times.
    """

    def __init__(self, names: list[str], units: list[str], rows: list[list[float]]):
        self.names = list(names)
        self.units = dict(zip(names, units))
        data = np.array(rows, dtype=float).reshape(len(rows), len(names))
        self._data = {n: data[:, j] for j, n in enumerate(names)}

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self._data[name]
        except KeyError:
            raise KeyError(f"{name!r}: not a column; the columns are {self.names}") from None

    def __contains__(self, name: str) -> bool:
        return name in self._data

    def __len__(self) -> int:
        return len(self._data[self.names[0]]) if self.names else 0

    @property
    def time(self) -> np.ndarray:
        """Times (s)."""
        return self["time_s"]

    def rows(self) -> list[list[float]]:
        """The table row by row (for CSV)."""
        return [[self._data[n][i] for n in self.names] for i in range(len(self))]

    def __repr__(self) -> str:
        return (f"TimeSeries({len(self)} times to {self.time[-1]:.4g} s, "
                f"{len(self.names)} columns: {', '.join(self.names[:6])}"
                f"{', …' if len(self.names) > 6 else ''})") if len(self) else "TimeSeries(empty)"


@dataclass(frozen=True)
class Extremum:
    """A drift figure over a run, in its column's unit.

    Attributes:
        final: the value at the end of the run.
        max_abs: the largest magnitude, reached at time_of_max_s (s).
        largest: the value there, with its sign: the largest excursion and its direction
            (max_abs alone dropped it: a drift that reverses, or a ΔM/M that falls, read
            as the final value's sign). None for an Extremum made without it.
    """

    final: float
    max_abs: float
    time_of_max_s: float
    largest: float | None = None


@dataclass(frozen=True)
class StressMax:
    """Largest von Mises stress of a region (MPa), when (s) and where (mm)."""

    value_MPa: float
    time_s: float | None
    location_mm: list[float] | None


@dataclass(frozen=True)
class MechanicsSummary:
    """Drift and stress of a run (from the thermoelastic solves at the save times).

    Attributes:
        solves: thermoelastic solves.
        axes: names of the location coordinates ("r", "z" or "x", "y", "z").
        extremes: column (u_spot_*, drift columns) → final value and largest magnitude.
        stress_max: region → largest von Mises stress.
        yield_cell_um: size (µm) of the cell in which the ball of the largest yield use is
            centred (README "accuracy of the defaults": well below the ball's radius for
            a converged figure).
    """

    solves: int
    axes: tuple[str, ...]
    extremes: dict[str, Extremum]
    stress_max: dict[str, StressMax]
    yield_cell_um: float | None = None  # the cell size where the largest yield_use sits

    def to_dict(self) -> dict:
        """The "mechanics" part of summary.json."""
        where = "location_" + "_".join(self.axes) + "_mm"
        out: dict = {"solves": self.solves, "sign_conventions": SIGN_CONVENTIONS}
        for c, e in self.extremes.items():
            out[c] = {"final": e.final, "max_abs": e.max_abs, "time_of_max_s": e.time_of_max_s,
                      "largest": e.largest}
            if c.startswith("yield_use_") and self.yield_cell_um is not None:
                out[c]["cell_um"] = self.yield_cell_um
        out["von_mises_max_MPa"] = {r: {"value": s.value_MPa, "time_s": s.time_s,
                                        where: s.location_mm}
                                    for r, s in self.stress_max.items()}
        return out


@dataclass(repr=False)
class RunResult:
    """What a run produced.

    Attributes:
        title: the case's title.
        case_hash: the case's id.
        case: the case as a dict (units in the key names).
        status: "complete" or "failed".
        error: why it failed, or None.
        series: the time series.
        limits: every limit against the series.
        mechanics: drift and stress, or None without mechanics.
        regions: region → hottest and coldest node (°C), damage and melting points (°C).
        beam: beam power (W), η_E, deposited power (W), ranges and depth (µm), source ratio.
        numerics: cells, dofs, steps, factorisations, iterations, solver.
        timing_s: wall times (s) of the mesh, the solves and the whole run.
        started_utc, version, provenance: when, which anodesim, on what.
        mesh_file: the mesh written or read, or None.
        probes: the probe names (their columns are T_<name>_C).
        single_load: one constant load (the plots take a logarithmic time axis).
        out_dir: the run folder, or None when nothing was written.
        life: erosion rate (nm/h) and recrystallisation fraction per hour at the spot
            (limits.life_summary).
        load_end_s: the end of the schedule before the pause appended up to
            loading.repeat_every_s (s), or None without one.
    """

    title: str
    case_hash: str
    case: dict
    status: str
    error: str | None
    series: TimeSeries
    limits: list[LimitCheck]
    mechanics: MechanicsSummary | None
    regions: dict[str, dict[str, float]]
    beam: dict
    numerics: dict
    timing_s: dict
    started_utc: str
    version: str
    provenance: dict
    mesh_file: str | None
    probes: tuple[str, ...] = ()
    single_load: bool = False
    out_dir: Path | None = None
    life: dict = field(default_factory=dict)
    load_end_s: float | None = None

    @property
    def drift(self) -> dict[str, Extremum]:
        """Drift figures (spot shift, drift across the view axis, image drift, …)."""
        return self.mechanics.extremes if self.mechanics else {}

    @property
    def T_peak_max_C(self) -> float | None:
        """Hottest target temperature of the run (°C), NaN skipped as summary.json's
        T_peak_max_C and its time (first_max_index) skip it; None without a step or a
        number."""
        peak = self.series["T_peak_C"] if len(self.series) else np.array([np.nan])
        return None if np.isnan(peak).all() else float(np.nanmax(peak))

    def column(self, name: str) -> np.ndarray:
        """A column of the time series."""
        return self.series[name]

    def summary_dict(self) -> dict:
        """The content of summary.json."""
        s = self.series
        results: dict = {"T_peak_max_C": None, "T_peak_max_time_s": None,
                         "T_max_by_region_C": {}, "T_min_by_region_C": {}, "limits": [],
                         "final": {}, "limits_C": {}}
        if len(s):
            peak = s["T_peak_C"]
            i = first_max_index(peak)
            last = {n: s[n][-1] for n in s.names}
            results.update({
                "T_peak_max_C": self.T_peak_max_C, "T_peak_max_time_s": s.time[i],
                "T_max_by_region_C": {r: v["max"] for r, v in self.regions.items()},
                "limits": [c.to_dict() for c in self.limits], "final": last})
        results["T_min_by_region_C"] = {r: v["min"] for r, v in self.regions.items()}
        results["limits_C"] = {r: {"damage": v["damage"], "melting": v["melting"]}
                               for r, v in self.regions.items()}
        if self.load_end_s is not None and len(s) and s.time[-1] >= self.load_end_s:
            # the load's end figures, as "final" is without the pause (the first row there:
            # the step that lands on it, beam still on, drift saved)
            i = int(np.searchsorted(s.time, self.load_end_s * (1 - 1e-12)))
            results["load_end"] = {n: s[n][i] for n in s.names}
        results["life"] = self.life
        return {"title": self.title, "status": self.status, "error": self.error,
                "case_hash": self.case_hash, "case": self.case, "results": results,
                "beam": self.beam, "numerics": self.numerics,
                "mechanics": self.mechanics.to_dict() if self.mechanics else None,
                "timing_s": self.timing_s, "started_utc": self.started_utc,
                "anodesim_version": self.version, "provenance": self.provenance,
                "mesh_file": self.mesh_file}

    def plot(self, ax=None, log_time: bool | None = None):
        """Temperatures against time (peak, region maxima, probes) with the beam power
        behind them, as in temperatures.png.

        Args:
            ax: matplotlib axes to draw on (default: a new figure).
            log_time: logarithmic time axis (default: for a single load).

        Returns:
            The temperature axes (the beam power is on its twin).
        """
        from . import output

        if log_time is None:
            log_time = self.single_load
        return output.draw_timeseries(ax, *temperature_curves(self), self.title, log_time)

    def __repr__(self) -> str:
        peak = self.T_peak_max_C
        broken = [c.label for c in self.limits if not c.holds]
        lims = (f"limits: {len(self.limits)} checked, "
                + (f"broken: {', '.join(broken)}" if broken else "all hold"))
        peak_s = f"peak {peak:.1f} °C" if peak is not None else "no steps"
        return (f"<RunResult {self.title!r}: {self.status}, {len(self.series)} times, {peak_s}, "
                f"{lims}{', drift' if self.mechanics and self.drift else ''}>")


def temperature_limit_lines(checks) -> dict[str, float]:
    """The temperature limits in force as temperatures.png draws them, legend name → °C:
    by limit name (spot, interface, heat_sink, coolant_side), except a name whose columns
    hold different values, each then by its label (an Al6061 housing's joint at 120 °C,
    "interface heat_sink_housing", beside the insert's "interface target_heat_sink" at
    200 °C: keyed by name, one of the two was left off the figure); a region limit after
    the heat sink always by its label ("region housing").

    Args:
        checks: the run's limit checks (LimitCheck).
    """
    temps = [c for c in checks if c.limit.unit == "C"]
    values: dict[str, set[float]] = {}
    for c in temps:
        values.setdefault(c.name, set()).add(c.limit.value)
    # a region limit's name says no region: by its label always ("region housing")
    return {c.name if len(values[c.name]) == 1 and c.name != "region" else c.label:
            c.limit.value for c in temps}


def temperature_curves(result: RunResult):
    """(t, curves, beam power) of temperatures.png: the peak, the other regions' maxima and
    the probes ("probe NAME", drawn dotted; °C), the beam power (W)."""
    s = result.series
    curves = {"peak (target)": list(s["T_peak_C"])}
    for r in list(result.regions)[1:]:
        curves[f"max {r}"] = list(s[f"T_max_{r}_C"])
    for name in result.probes:
        curves[f"probe {name}"] = list(s[f"T_{name}_C"])
    return list(s.time), curves, list(s["beam_power_W"])
