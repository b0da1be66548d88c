"""Limits of a loading, and how a time series meets them.

A loading is safe while every limit holds (physics reference §6):

- ``erosion`` (default spot limit, ``limits.spot = "life"``): the depth evaporated from the
  spot over the rated life, ``limits.erosion_um`` over ``limits.life_h`` operating hours of
  the case's schedule, repeated (every ``loading.repeat_every_s``, the cool-down simulated;
  without it, hours of the schedule's own time, each load from the initial state). Default 1 µm over 10 000 h: a sealed tube's target is not
  replaced, and 1 µm is 5 % of a 20 µm spot and under a tenth of the 100 kV electron range
  in W (12.6 µm), so the spot keeps its size and output for its life. For W this is a
  constant spot temperature of 2058 °C (source-and-limits.md §3.1: 1 µm in 10⁴ h at
  2331 K; A1: "a sealed tube meant to last 10⁴ h needs about ≤ 2200 °C").
- ``spot``: the hottest node of the target, when ``limits.spot_C`` is given, or with
  ``limits.spot = "short_exposure"``: melting point − 200 K, the upper end of the 50–200 K
  margin below melting that tubes run at (EP3457424), for single exposures or open tubes
  whose target is moved; it erodes W at ≈ 0.3 mm/h (life.recession_rate, Alcock 1984;
  source-and-limits.md A1 estimated 0.2 mm/h from an older vapour-pressure anchor).
- ``interface``: the hottest node on the named interfaces (film/window, insert/heat sink,
  heat sink/housing). Default: the lower of its two materials' damage temperatures (e.g. Cu
  softening for a cast W/Cu joint, graphitisation of diamond for W on diamond; the regions
  each limit watches: case.limit_watches).
- ``heat_sink``: the hottest node of the heat sink or window. Default: its material's damage
  temperature.
- ``region``: the hottest node of each region after the heat sink (a housing, a user mesh's
  or STEP part's braze or other parts; column ``T_max_<region>_C``, shown as "region
  <region>"), held to its own material's damage temperature, as the heat sink by default;
  ``limits.heat_sink_C`` sets the heat sink's alone.
- ``coolant_side``: the hottest node of the cooled faces. Default per coolant
  (``boundaries.<face>.coolant``, COOLANT_WALL_C): oil 105 °C, water 99.97 °C, air none; a
  convection face that names no coolant gets the lower of the liquid ones. Where a limit
  above saturation lets a water wall boil, its heat flux is also held below the critical
  heat flux (WATER_CHF_W_M2).
- ``yield``: the heat sink's von Mises stress near the joint, volume-averaged over
  YIELD_RADIUS_M, over its yield strength at that temperature (``limits.yield_use``, e.g. 1),
  when the case sets one and has mechanics; every run with mechanics reports the ratio.
- ``drift``: the spot drift across the view axis (µm; ``limits.drift_um``, or ``drift_px`` on
  the detector converted at the source), when the case sets one.
- ``magnification``: |ΔM/M| (``limits.magnification_change_rel``), when the case sets one.
- ``fatigue`` (``limits.fatigue = true``; opt-in): the spot's thermal-fatigue crack-initiation
  life, ESTIMATED from tensile data (modified universal slopes with ASME-type design factors,
  life.py), must be at least the rated life ``limits.life_h`` for the case's schedule,
  repeated every ``loading.repeat_every_s`` (which it needs, except for a steady loading:
  the loads over the life are counted from it). Off by default: the estimate is not validated against W strain-life data, and
  every on/off cycle of a microfocus spot from below W's DBTT cracks it in the estimate.
  The rating engines rate it on the spot's history over each schedule, counted as this
  check counts a run's (rating/engine.py SpotHistory).

Every run also reports the erosion rate (nm/h), the recrystallisation fraction used per
hour, the thermal cycles of the spot (rainflow count, largest swing, cycles per hour) and,
for targets with tensile data, the estimated hours of the schedule to thermal-fatigue crack
initiation (``life_summary``). Damage temperatures come from the material data file,
with their sources. This module sits below both the run (which reports the limits of its
time series) and the rating (which finds the power at which the binding one is just met); it
imports neither, nor dolfinx.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import life
from .case import (ZERO_CELSIUS_K, Case, TimeSettings, heat_sink_region, limit_watches,
                   model)

SPOT_MARGIN_K = 200.0  # EP3457424: focal spots run 50–200 K below melting

#: Default rated life (operating hours) of a sealed tube, whose target is never replaced
#: (source-and-limits.md A1 and §3.1: "a sealed tube meant to last 10⁴ h").
LIFE_H = 10_000.0
#: Default erosion budget of the spot over that life (µm): 5 % of a 20 µm spot, under a
#: tenth of W's 12.6 µm electron range at 100 kV; the review's §3.1 inverse table is for 1 µm.
#: At most SPOT_EROSION_FRACTION of the spot and FILM_EROSION_FRACTION of a film target
#: (default_erosion_um).
EROSION_UM = 1.0
#: Largest default erosion as a fraction of the spot's smallest FWHM (or flat-top diameter):
#: the 1 µm default's own 5 % of a 20 µm spot, kept for smaller spots, where 1 µm would be a
#: crater half as deep as a 2 µm spot is wide (engineering judgement, a tube engineer's review
#: of 2026-12-04; set limits.erosion_um to override).
SPOT_EROSION_FRACTION = 0.05
#: Largest default erosion as a fraction of a transmission target's film: its X-ray output
#: and the heat it spreads scale with its thickness, and 1 µm would evaporate the whole of
#: the shipped 1 µm W film over the rated life (engineering judgement, same review).
FILM_EROSION_FRACTION = 0.1

#: Margins (K) below a material's damage temperature for its default limits, where the
#: damage temperature is an onset: diamond graphitises from 1300 °C in vacuum, and the
#: physics reference recommends ≤ 1000–1200 °C (physics.md §1.5; W/diamond carbide forms
#: after 2 h at 800 °C, §1.9): 1100 °C, the middle of that range (source-and-limits.md A11).
DAMAGE_MARGIN_K = {"diamond": 200.0}


def limit_K(mat) -> float:
    """Default temperature limit (K) of a material: its damage temperature less its margin."""
    return mat.damage_K - DAMAGE_MARGIN_K.get(mat.key, 0.0)


def _damage_origin(mat) -> str:
    margin = DAMAGE_MARGIN_K.get(mat.key)
    text = f"{mat.key} damage: {mat.info.get('damage_mechanism', '')}"
    return text + (f"; less a {margin:g} K margin (physics.md §1.5)" if margin else "")


#: Averaging radius (m) of the heat sink's regularised stress near the joint
#: (mechanics.ThermoElasticProblem.yield_use): 0.1 mm, about one grain of cast or annealed
#: OFHC Cu (grain sizes 50-200 µm [R]), the smallest volume a 0.2 % yield strength measured
#: on polycrystals describes; the singular corner stress of a perfect bond is averaged out.
YIELD_RADIUS_M = 0.1e-3
#: Element size (m) at the corners of the heat sink's joints on axisymmetric meshes, where
#: the yield use is computed: an eighth of YIELD_RADIUS_M. The largest averaged stress sits
#: at a bi-material corner (the insert's buried rim on the shipped example), and without
#: this the cells there were about 0.1 mm, as large as the ball, and the yield use 8-9 % low;
#: with it within 1.4 % of refined meshes (low), for 18 % more cells
#: (studies/convergence_mechanics.py, README "Mechanical figures"; mesh.joint_corner_um sets
#: another size, 0 none).
JOINT_CORNER_M = YIELD_RADIUS_M / 8


def coarse_yield_cells(cell_um: float | None) -> str | None:
    """The warning a yield use carries wherever it is quoted (a run's console and report, a
    rating's words, rating.json, its report) when the cell under its largest ball is over a
    quarter of YIELD_RADIUS_M: coarse cells average the joint's stress concentration away
    (8-9 % low on the shipped insert without its corners refined, README "accuracy of the
    defaults"); 3-D meshes are not refined there. None when the cells are fine enough or
    unknown."""
    if cell_um is None or cell_um <= 0.25 * YIELD_RADIUS_M * 1e6:
        return None
    return (f"cells of {cell_um:.3g} µm there, over a quarter of the ball: likely low, refine "
            "[mesh], see the README's accuracy of the defaults")


def yield_column(region: str) -> str:
    """Time-series column of a region's regularised stress over its yield strength."""
    return f"yield_use_{region}_rel"


#: Coolant-side wall temperature limits (°C) and their sources, per coolant.
#:  oil: 105 °C, the top-oil limit of mineral transformer oil under normal cyclic loading
#:       (IEC 60076-7:2018, Table 4; its hot-spot limit, 120 °C, is for paper insulation);
#:       the wall is the hottest oil, so the bulk-oil limit applied there is conservative.
#:  water: 99.97 °C, saturation at 101.325 kPa (IAPWS-IF97): no boiling at the wall of an
#:       unpressurised circuit (nucleate boiling needs a wall above saturation).
#:  air: no wall limit (air neither boils nor cracks); the heat sink's own limit applies.
COOLANT_WALL_C = {"oil": 105.0, "water": 99.97, "air": None}
COOLANT_SOURCES = {
    "oil": "oil wall ≤ 105 °C: IEC 60076-7 top-oil limit (normal cyclic loading)",
    "water": "water wall ≤ 99.97 °C: saturation at 101.325 kPa (IAPWS-IF97), no boiling",
    "unnamed": "convection face without a coolant: the lower of the oil (105 °C, IEC "
               "60076-7) and water (99.97 °C, saturation) wall limits",
}


#: The largest convective heat-transfer coefficient (W/m²K) each coolant gives by forced
#: convection: forced air 25-250, forced oil 200-1500, forced water 1 000-20 000 and in
#: turbulent channels up to 30 000 (Incropera, Fundamentals of Heat and Mass Transfer,
#: Table 1.1-type ranges; physics reference §7). An h above it (air at 1e5) makes the
#: cooling, and every rating from it, optimistic: `check` warns.
COOLANT_H_MAX_W_M2K = {"air": 250.0, "oil": 1500.0, "water": 30000.0}


def implausible_cooling(case: Case) -> list[str]:
    """A warning for each convection face whose h exceeds what its named coolant reaches
    (COOLANT_H_MAX_W_M2K)."""
    out = []
    for face, b in case.boundaries.items():
        top = COOLANT_H_MAX_W_M2K.get(b.coolant)
        if b.type == "convection" and top is not None and b.h_W_m2K > top:
            out.append(f"boundaries.{face}.h_W_m2K = {b.h_W_m2K:g} with coolant = "
                       f"\"{b.coolant}\": above the {top:g} W/m²K forced {b.coolant} reaches "
                       "(Incropera's ranges, physics reference §7), so the cooling and every "
                       "rating from it are likely optimistic")
    return out


#: Limits on signed drift figures: they bound the magnitude (drift.py, either way).
SIGNED_LIMITS = ("drift", "magnification")


#: Limits with one column per joint or region, shown with it (limit_label).
LABELLED_LIMITS = ("interface", "region")


def limit_label(name: str, column: str) -> str:
    """A limit's name as shown to a user and as a rating names its binding limit:
    ``interface`` limits (one per joint, e.g. the target/heat-sink joint and the
    heat-sink/housing joint) add the joint's interface name, ``region`` limits (one per
    region after the heat sink) the region's: "interface heat_sink_housing",
    "region housing" (the column T_max_<that name>_C)."""
    if name in LABELLED_LIMITS and column.startswith("T_max_") and column.endswith("_C"):
        return f"{name} {column[len('T_max_'):-len('_C')]}"
    return name


@dataclass(frozen=True)
class Limit:
    """One limit on a time-series column, in that column's unit ("C", "um" or "rel").

    Attributes:
        name: erosion, spot, interface, heat_sink, region, coolant_side, yield, drift or
            magnification (and recrystallisation, fatigue).
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
    def label(self) -> str:
        """The name shown to a user: an interface limit names its joint."""
        return limit_label(self.name, self.column)

    @property
    def allowed_rise(self) -> float:
        """The rise the loading may cause (K or µm)."""
        return self.value - self.baseline

    def definition(self) -> dict:
        """The limit as rating.json lists it."""
        return {"limit": self.name, "label": self.label, "column": self.column,
                "unit": self.unit, f"limit_{self.unit}": self.value, "origin": self.origin}


@dataclass(frozen=True)
class ImageDriftLimit(Limit):
    """A drift limit the case gave on the detector (``limits.drift_px``), held at the source
    across the view axis (value in µm): δ⊥ = px × pixel / (M − 1), the image of a fixed
    object point moving (M − 1) times the source's shift (drift.py).

    Attributes:
        pixels: the limit as given (detector pixels).
        magnification: M = source-detector / source-object distance.
        pixel_um: the detector pixel (µm).
    """

    pixels: float = 0.0
    magnification: float = 1.0
    pixel_um: float = 0.0

    def definition(self) -> dict:
        d = super().definition()
        d.update({"limit_px": self.pixels, "magnification": self.magnification,
                  "pixel_size_um": self.pixel_um})
        return d


def drift_limit(case: Case) -> Limit | None:
    """The case's drift limit at the source (µm), or None; one given in detector pixels
    says so in its origin, with the magnification and pixel size that convert it."""
    given = case.limits
    if given.drift_um is None:
        return None
    if given.drift_px is None:
        return Limit("drift", "drift_across_view_um", given.drift_um, "um", "case", 0.0)
    d = case.mechanics.drift
    M = d.magnification
    pixel_um = float(f"{d.pixel_m * 1e6:.12g}")  # the µm given (not 99.99999999999999)
    origin = (f"case: limits.drift_px = {given.drift_px:g} px on the detector, "
              f"{given.drift_um:.4g} µm at the source (px × {pixel_um:g} µm pixel / "
              f"(M − 1), magnification M = {M:.4g})")
    return ImageDriftLimit("drift", "drift_across_view_um", given.drift_um, "um", origin,
                           0.0, given.drift_px, M, pixel_um)


@dataclass(frozen=True)
class LifeLimit(Limit):
    """A thermally activated damage of the spot accumulated over the rated life (column
    T_peak_C): erosion (µm) or recrystallisation (fraction of its time). Its rate rises
    steeply with temperature, so it is rated and checked as its equivalent constant spot
    temperature.

    Attributes:
        material: the target material.
        life_h: rated life (operating hours of the case's schedule, repeated: every
            loading.repeat_every_s, else back to back, each load from the initial state).
        temperature_C: the constant spot temperature that uses exactly the budget over the
            life (°C); the linear-response engine rates against it, which is exact for a
            steady spot and conservative for pulsed loads (never hotter than it, never more
            damage).
    """

    material: str = "W"
    life_h: float = LIFE_H
    temperature_C: float = 0.0
    initial_C: float = 0.0  # the spot's temperature at zero power (°C)

    @property
    def temperature_rise(self) -> float:
        """Rise (K) of the equivalent constant spot temperature over the initial one."""
        return self.temperature_C - self.initial_C

    def rate(self, T_K):
        """Damage per second (the limit's unit) of a spot held at T_K (K)."""
        raise NotImplementedError

    def temperature_for_rate_K(self, rate: float) -> float:
        """The constant spot temperature (K) of a given damage rate (unit/s)."""
        raise NotImplementedError

    def definition(self) -> dict:
        d = super().definition()
        d.update({"life_h": self.life_h, "material": self.material,
                  "equivalent_spot_temperature_C": self.temperature_C})
        return d


@dataclass(frozen=True)
class ErosionLimit(LifeLimit):
    """The erosion budget of the spot over the rated life (value in µm): Hertz-Knudsen
    evaporation (life.py)."""

    def rate(self, T_K):
        return life.recession_rate(self.material, T_K) * 1e6

    def temperature_for_rate_K(self, rate: float) -> float:
        return life.temperature_for_rate_K(self.material, rate * 1e-6)


@dataclass(frozen=True)
class RecrystallisationLimit(LifeLimit):
    """The fraction of W's recrystallisation time the spot may use over the rated life
    (value "rel": 1 = recrystallised, at the onset definition, by the end of the life;
    356 kJ/mol, onset 1 h at 1300 °C, life.py)."""

    def rate(self, T_K):
        return 1.0 / life.recrystallisation_time_s(T_K)

    def temperature_for_rate_K(self, rate: float) -> float:
        return life.temperature_for_recrystallisation_rate_K(rate)


@dataclass(frozen=True)
class FatigueLimit(Limit):
    """The spot's thermal-fatigue crack initiation over the rated life (column T_peak_C,
    value "rel"): the fraction of the estimated design crack-initiation life that the
    rated life uses, life_h / hours to crack initiation, at most `value` (1).

    Attributes:
        material: the target material (with tensile data, life.tensile_data).
        life_h: rated life (operating hours of the case's schedule, repeated every
            loading.repeat_every_s; the run covers one repetition, so its duration is the
            period; the rating's own loads without one, back to back).
    """

    material: str = "W"
    life_h: float = LIFE_H
    initial_C: float = 0.0  # the spot's temperature at zero power (°C)
    tables: dict | None = field(default=None, repr=False, compare=False)  # "alpha", "E"

    def definition(self) -> dict:
        d = super().definition()
        d.update({"life_h": self.life_h, "material": self.material})
        return d


@dataclass(frozen=True)
class LimitCheck:
    """A limit against a run: the worst value, when, and the margin.

    Attributes:
        limit: the limit.
        worst: the largest value of the column (its magnitude for a drift), °C, µm or a
            ratio; for the erosion limit the depth eroded over the life (µm).
        time_s: when the worst value occurred (s); erosion: when the spot was hottest.
        equivalent_C: erosion only: the constant spot temperature (°C) that erodes as much.
    """

    limit: Limit
    worst: float
    time_s: float
    equivalent_C: float | None = None  # erosion: constant spot T of the same erosion (°C)
    #: fatigue only: the factor on the spot's rise over its initial temperature at which the
    #: crack-initiation life equals the rated life (life.crack_initiation_scale)
    scale: float | None = None

    @property
    def name(self) -> str:
        return self.limit.name

    @property
    def label(self) -> str:
        return self.limit.label

    @property
    def margin(self) -> float:
        """Limit − worst value (K, µm or ratio); negative when the limit is broken."""
        return self.limit.value - self.worst

    @property
    def holds(self) -> bool:
        return bool(self.worst <= self.limit.value)

    @property
    def excess(self) -> float:
        """(worst − limit) / allowed rise: 0 when the limit is just met, < 0 with margin.

        For a life limit (erosion, recrystallisation) it is taken on the equivalent constant
        spot temperature ((T_eq − T_lim) / (T_lim − T0)), which is nearly linear in the
        power, where the damage itself grows exponentially with it."""
        lim = self.limit
        if isinstance(lim, LifeLimit):
            return (self.equivalent_C - lim.temperature_C) / lim.temperature_rise
        if isinstance(lim, FatigueLimit):  # on the spot's rise, linear in the power
            return 1.0 / self.scale - 1.0
        return (self.worst - lim.value) / lim.allowed_rise

    def to_dict(self) -> dict:
        """The check as summary.json reports it."""
        lim = self.limit
        margin = "margin_K" if lim.unit == "C" else f"margin_{lim.unit}"
        d = {"limit": lim.name, "label": lim.label, "column": lim.column, "unit": lim.unit,
             f"limit_{lim.unit}": lim.value, f"worst_{lim.unit}": self.worst,
             "time_s": self.time_s, margin: self.margin, "holds": self.holds,
             "excess": self.excess, "origin": lim.origin}
        if isinstance(lim, LifeLimit):
            d.update({"life_h": lim.life_h, "equivalent_spot_temperature_C": self.equivalent_C,
                      "limit_equivalent_spot_temperature_C": lim.temperature_C})
        if isinstance(lim, FatigueLimit):
            d.update({"life_h": lim.life_h,
                      "crack_initiation_h": lim.life_h / self.worst if self.worst > 0
                      else None,
                      "allowed_spot_rise_factor": None if math.isinf(self.scale)
                      else self.scale})
        if isinstance(lim, ImageDriftLimit):  # the pixels the case gave, on the detector
            d.update({"limit_px": lim.pixels, "worst_px": self.worst * lim.pixels / lim.value})
        return d

    def __repr__(self) -> str:
        unit = {"C": "°C", "um": "µm"}.get(self.limit.unit, "")
        return (f"LimitCheck({self.label}: worst {self.worst:.4g} {unit} at {self.time_s:.4g} s, "
                f"limit {self.limit.value:.4g} {unit}, {'holds' if self.holds else 'BROKEN'})")


def cooled_faces(case: Case) -> list[str]:
    """Faces held by a fixed temperature or a convection boundary (the faces coolant_side
    watches, case.model.cooled_faces)."""
    return model.cooled_faces(case.boundaries)


def limits_for(case: Case, mats) -> list[Limit]:
    """The case's limits, with library defaults where the case gives none.

    Args:
        case: the case.
        mats: material per region (with the case's overrides).
    """
    given = case.limits
    T0 = case.initial_temperature_K - ZERO_CELSIUS_K

    def temp(name, column, value_K, origin):
        return Limit(name, column, value_K - ZERO_CELSIUS_K, "C", origin, T0)

    target = mats["target"]
    out = []
    vapour = life.evaporates_as(target.key, target.info.get("electron_data"))
    erosion = erosion_limit(case, vapour, target.key)
    def ceiling(why: str) -> Limit:  # short_exposure's spot limit (EP3457424)
        return temp("spot", "T_peak_C", target.melting_K - SPOT_MARGIN_K,
                    f"{target.key} melting point − {SPOT_MARGIN_K:.0f} K (EP3457424; {why})")

    if given.spot_K is not None:
        out.append(temp("spot", "T_peak_C", given.spot_K, "case"))
    elif given.spot == "short_exposure" or erosion is None:
        out.append(ceiling("short-exposure option" if given.spot == "short_exposure" else
                           f"no vapour-pressure data for {target.key}: no erosion limit"))
    if given.spot == "life" and erosion is not None:
        out.append(erosion)
        if given.spot_K is None and (
                case.loading.repeat_every_s is not None
                or erosion.temperature_C + ZERO_CELSIUS_K > target.melting_K - SPOT_MARGIN_K):
            # The erosion budget bounds the spot only through the time it is hot: with
            # sparse loads (a pause up to repeat_every_s) or a short life it allows a spot
            # at the melting point (a 0.1 s load every 1e5 s over 1 h: rated 116.7 W,
            # 'erosion binds', where 117.2 W melted). No tube runs its spot closer to
            # melting than short_exposure's margin, so that ceiling holds here too.
            out.append(ceiling("the ceiling under the erosion budget, which sparse loads or "
                               "a short life leave above it"))
    recrystallisation = recrystallisation_limit(case)
    if recrystallisation is not None:
        out.append(recrystallisation)
    for name, value_K in (("interface", given.interface_K), ("heat_sink", given.heat_sink_K),
                          ("region", None)):
        # each column's default: the lowest limit of the materials it watches (an
        # interface: its two sides; the heat_sink_housing joint its own, not the insert's);
        # a region after the heat sink (housing, braze) its own, which heat_sink_C does
        # not set
        for col, where in limit_watches(f"{name}_C", case.geometry, case.boundaries).items():
            low = min((mats[r] for r in where), key=limit_K)
            out.append(temp(name, col, value_K or limit_K(low),
                            "case" if value_K else _damage_origin(low)))
    if cooled_faces(case):
        wall = (given.coolant_side_K - ZERO_CELSIUS_K, "case") \
            if given.coolant_side_K is not None else coolant_wall_limit(case)
        wall = critical_heat_flux_bound(case, wall)
        if wall is not None:
            out.append(temp("coolant_side", "T_max_coolant_side_C", wall[0] + ZERO_CELSIUS_K,
                            wall[1]))
    sink = heat_sink_region(case.geometry)
    if given.yield_use is not None and sink is not None and case.mechanics is not None:
        out.append(Limit("yield", yield_column(sink), given.yield_use, "rel", "case", 0.0))
    drift = drift_limit(case)
    if drift is not None:
        out.append(drift)
    if given.magnification_change_rel is not None:
        out.append(Limit("magnification", "magnification_change_rel",
                         given.magnification_change_rel, "rel", "case", 0.0))
    if given.fatigue:
        out.append(FatigueLimit(
            "fatigue", "T_peak_C", 1.0, "rel",
            f"case (limits.fatigue); {FATIGUE_MODEL}", 0.0, target.key, rated_life_h(case),
            T0, target.tables))
    return out


def rise_allowed(lim: Limit) -> float:
    """The rise (K, or µm of drift) a limit allows over the anode at rest: a life limit's
    equivalent spot temperature over the initial one, else the limit over its baseline. At
    or below 0 no positive power meets the limit: a run breaks it from its first step."""
    return lim.temperature_rise if isinstance(lim, LifeLimit) else lim.allowed_rise


def coolant_wall_limit(case: Case) -> tuple[float, str] | None:
    """Default coolant-side wall limit (°C, origin): the lowest of the cooled faces' coolants
    (COOLANT_WALL_C; a convection face naming none counts as an unnamed liquid), or None when
    every coolant is air or every cooled face is held at a fixed temperature."""
    found = []
    for face in cooled_faces(case):
        b = case.boundaries[face]
        if b.coolant is None and b.type == "fixed":
            continue  # a face held at its temperature: the case's own coolant model
        name = b.coolant or "unnamed"
        value = COOLANT_WALL_C["oil" if name == "unnamed" else name]
        if name == "unnamed":
            value = min(v for v in COOLANT_WALL_C.values() if v is not None)
        if value is not None:
            found.append((value, f"boundaries.{face}: {COOLANT_SOURCES[name]}"))
    return min(found) if found else None


#: Critical heat flux of water (W/m²): Zuber's pool-boiling CHF, saturated water at
#: 101.325 kPa, q = (π/24) ρ_v^½ h_fg [σ g (ρ_l − ρ_v)]^¼ (N. Zuber, AEC Report AECU-4439,
#: 1959; Incropera & DeWitt, Fundamentals of Heat and Mass Transfer, eq. 10.7), with
#: ρ_v = 0.5974 kg/m³, ρ_l = 958.35 kg/m³, h_fg = 2.2565 MJ/kg, σ = 0.05891 N/m
#: (IAPWS-IF97 and IAPWS 2014 surface tension at 100 °C [R: values recalled]): 1.11 MW/m².
#: Pool boiling at saturation is the lower bound: flow and subcooling raise the CHF of the
#: subcooled flow boiling in a cooling channel (e.g. Hall & Mudawar's correlations), which
#: needs the channel's velocity and size the case does not give; so this is conservative.
WATER_CHF_W_M2 = (math.pi / 24.0 * math.sqrt(0.5974) * 2.2565e6
                  * (0.05891 * 9.80665 * (958.35 - 0.5974)) ** 0.25)


def coolant_floor_K(case: Case) -> float:
    """The lowest temperature the coolant circuit's coolant can take (K): the lowest of its
    initial and ambient temperatures, the body's initial temperature and every face's fixed
    (coolant, surroundings or wall) temperature. Not the circuit's initial and ambient
    alone: a body that starts colder, or is cooled by a colder face, draws heat from the
    coolant and takes it below both (measured: a body at 5 °C on a 25 °C circuit, 10 W,
    C = 5 J/K, G = 0.05 W/K, the coolant at 24.60 °C after the start). With no face
    drawing heat out (a negative heat_flux), the maximum principle keeps every temperature,
    the coolant's too, at or above this floor (thermal.ThermalProblem.T_floor)."""
    circuit = case.coolant_circuit
    return min([circuit.initial_K, circuit.ambient_K, case.initial_temperature_K]
               + [b.temperature_K for b in case.boundaries.values()
                  if b.temperature_K is not None])


def critical_heat_flux_bound(case: Case, wall: tuple[float, str] | None):
    """The coolant-side wall limit (°C, origin), lowered where a water face would reach its
    critical heat flux: when the limit lets the wall boil (above saturation, 99.97 °C), the
    wall heat flux h (T_wall − T_coolant) of each water convection face must stay below
    WATER_CHF_W_M2, i.e. T_wall ≤ max(saturation, T_coolant + q_CHF / h). Below saturation
    the wall does not boil and CHF cannot occur, so the default is never lowered. A face
    cooled by the coolant circuit has no fixed T_coolant: the lowest the circuit's coolant
    can be is taken (coolant_floor_K), which gives the lowest, i.e. conservative, bound."""
    if wall is None:
        return None
    sat = COOLANT_WALL_C["water"]
    for face in cooled_faces(case):
        b = case.boundaries[face]
        if b.coolant != "water" or b.type != "convection" or wall[0] <= sat:
            continue
        T_c = b.temperature_K
        if T_c is None:  # the coolant circuit's face
            T_c = coolant_floor_K(case)
        bound = max(sat, T_c - ZERO_CELSIUS_K + WATER_CHF_W_M2 / b.h_W_m2K)
        if bound < wall[0]:
            wall = (bound, f"boundaries.{face}: water critical heat flux "
                           f"{WATER_CHF_W_M2 / 1e6:.3g} MW/m² at h = {b.h_W_m2K:g} W/m²K "
                           "(Zuber pool-boiling CHF at 1 atm, a lower bound for flow boiling)")
    return wall


def rated_life_h(case: Case) -> float:
    """The rated life (h) the life limits and the fatigue count use: ``limits.life_h``, else
    LIFE_H."""
    return case.limits.life_h if case.limits.life_h is not None else LIFE_H


def default_erosion_um(case: Case) -> tuple[float, str]:
    """The default erosion budget of the spot (µm) and what sets it: EROSION_UM, at most
    SPOT_EROSION_FRACTION of the spot's smallest FWHM (flat top: diameter; elliptical: the
    minor axis; line: across the line) and FILM_EROSION_FRACTION of a transmission film."""
    b = case.beam
    spot = min(b.size_m, b.size2_m) if b.spot == "elliptical" and b.size2_m else b.size_m
    budgets = [(EROSION_UM, f"{EROSION_UM:g} µm"),
               (SPOT_EROSION_FRACTION * spot * 1e6,
                f"{SPOT_EROSION_FRACTION:.0%} of the {spot * 1e6:.3g} µm spot")]
    if case.geometry.kind == "transmission":
        film = case.geometry.sizes_m["target_thickness_m"] * 1e6
        budgets.append((FILM_EROSION_FRACTION * film,
                        f"{FILM_EROSION_FRACTION:.0%} of the {film:.3g} µm film"))
    return min(budgets)


def erosion_limit(case: Case, material: str | None, target: str | None = None
                  ) -> ErosionLimit | None:
    """The erosion budget of the spot over the rated life, or None when the target has no
    vapour-pressure data.

    Args:
        case: the case.
        material: the library material the target evaporates as (life.evaporates_as), or
            None (no data).
        target: the target's own material key, when it is another (a user material).
    """
    if material is None or life.composition(material) is None:
        return None
    given = case.limits
    budget_um, why = default_erosion_um(case)
    if given.erosion_um is not None:
        budget_um = given.erosion_um
    hours = rated_life_h(case)
    T_K = life.temperature_for_erosion_K(material, budget_um * 1e-6, hours)
    if given.erosion_um is not None:
        origin = "case (limits.erosion_um)"
    else:
        origin = (f"default: {budget_um:.3g} µm over {hours:g} h"
                  + (" (limits.life_h)" if given.life_h is not None else "")
                  + f", the least of {EROSION_UM:g} µm, {SPOT_EROSION_FRACTION:.0%} of the "
                  f"spot and {FILM_EROSION_FRACTION:.0%} of a film target (here {why}): a "
                  "sealed tube's spot kept for its life (source-and-limits.md A1, §3.1)")
    T0 = case.initial_temperature_K - ZERO_CELSIUS_K
    as_of = "" if target in (None, material) else \
        f" (the vapour pressure of {target}'s electron_data)"
    return ErosionLimit("erosion", "T_peak_C", budget_um, "um",
                        f"{origin}; Hertz-Knudsen evaporation of {material}{as_of} "
                        "(Alcock 1984)",
                        0.0, material, hours, T_K - ZERO_CELSIUS_K, T0)


def recrystallisation_limit(case: Case) -> RecrystallisationLimit | None:
    """The recrystallisation budget of the spot over the rated life, when the case sets one
    (``limits.recrystallisation_fraction``; W targets only, checked when the case is read)."""
    given = case.limits
    if given.recrystallisation_fraction is None:
        return None
    hours = rated_life_h(case)
    rate = given.recrystallisation_fraction / (hours * life.SECONDS_PER_HOUR)
    T_K = life.temperature_for_recrystallisation_rate_K(rate)
    return RecrystallisationLimit(
        "recrystallisation", "T_peak_C", given.recrystallisation_fraction, "rel",
        "case; W recrystallisation, 356 kJ/mol, onset 1 h at 1300 °C (life.py)", 0.0, "W",
        hours, T_K - ZERO_CELSIUS_K, case.initial_temperature_K - ZERO_CELSIUS_K)


def _mean_rate_m_s(material: str, time_s, T_C) -> float:
    """Mean recession rate (m/s) over a series; one sample (steady state): its rate."""
    return _mean(time_s, life.recession_rate(material, np.asarray(T_C, dtype=float)
                                             + ZERO_CELSIUS_K))


def _mean(time_s, values) -> float:
    """Time mean of a series; one sample (steady state): its largest value."""
    t = np.asarray(time_s, dtype=float)
    v = np.asarray(values, dtype=float)
    if len(t) < 2 or t[-1] <= t[0]:
        return float(np.max(v))
    return float(np.trapezoid(v, t) / (t[-1] - t[0]))


#: Values within this fraction of their maximum count as reaching it (first_max_index).
MAX_TIE_RTOL = 1e-9


def first_max_index(values) -> int:
    """Index of the first value within MAX_TIE_RTOL of the maximum (NaN skipped): when the
    maximum is reached again and again (the pulses of a train in its periodic state, a
    steady plateau), the first time it is reached, not whichever repetition the rounding of
    the arithmetic made larger by 1e-13 (which differed between an AVX-512 and an AVX2
    machine: 0.025 against 0.055 s on the shipped transmission example). An infinite
    maximum (a yield ratio whose ball is hotter than the yield table) is dated at its
    first occurrence; no values, or only NaN: 0."""
    v = np.asarray(values, dtype=float)
    if v.size == 0 or np.isnan(v).all():
        return 0
    top = float(np.nanmax(v))
    if not math.isfinite(top):  # +inf (a yield ratio beyond its table): its first time
        return int(np.flatnonzero(v == top)[0])
    return int(np.flatnonzero(v >= top - MAX_TIE_RTOL * abs(top))[0])


def _life_check(lim: LifeLimit, time_s, T_peak_C) -> LimitCheck:
    """Damage over the life (the run repeated: it covers one repetition of the schedule,
    the pause up to loading.repeat_every_s included) and its equivalent temperature."""
    rate = _mean(time_s, lim.rate(np.asarray(T_peak_C, dtype=float) + ZERO_CELSIUS_K))
    used = rate * lim.life_h * life.SECONDS_PER_HOUR
    T_eq = lim.temperature_for_rate_K(rate) - ZERO_CELSIUS_K
    i = first_max_index(T_peak_C)
    return LimitCheck(lim, used, float(time_s[i]), max(T_eq, lim.initial_C))


def _fatigue_check(lim: FatigueLimit, time_s, T_peak_C) -> LimitCheck:
    """Fraction of the crack-initiation life the rated life uses, and the factor on the
    spot's rise that would use it exactly (the excess)."""
    T_K = np.asarray(T_peak_C, dtype=float) + ZERO_CELSIUS_K
    tensile = life.tensile_data(lim.material)
    hours = life.crack_initiation(time_s, T_K, lim.tables, tensile)["hours"]
    scale = life.crack_initiation_scale(time_s, T_K, lim.initial_C + ZERO_CELSIUS_K,
                                        lim.tables, tensile, lim.life_h)
    i = first_max_index(T_peak_C)
    return LimitCheck(lim, lim.life_h / hours, float(time_s[i]), scale=scale)


#: The thermal-fatigue model as the summaries and limits name it.
FATIGUE_MODEL = ("ESTIMATE of crack initiation from tensile data (no W strain-life data): "
                 "modified universal slopes (Muralidharan & Manson 1988; Park & Song 1995), "
                 "design factors 2 on strain / 20 on cycles (ASME III practice, recalled), "
                 "strain range 2·ᾱ·ΔT of a surface held in its plane, each cycle at its cold "
                 "and hot end's tensile properties (brittle below the DBTT), Miner's rule "
                 "over the rainflow cycles (ASTM E1049) of the spot, schedule repeated")


#: The spot counts as cooled back when a repetition ends within this fraction of its largest
#: rise over its start (life_summary: above it, loads repeated every repeat_every_s start
#: warmer than the run, which its figures do not include, and the summary says so).
#: Engineering judgement: a 5 % warmer start moves a cycle's ends by that share of its swing,
#: within the factor 2 on strain of the design curve (life.DESIGN_FACTOR_STRAIN).
COOLED_FRACTION = 0.05


def life_summary(target_material, time_s, T_peak_C, life_h: float = LIFE_H,
                 repeat_every_s: float | None = None) -> dict:
    """Erosion rate, recrystallisation use and thermal cycles at the spot, for every run's
    summary.

    The run is one load of the case's schedule from the initial state. Its repetition in
    service (loading.repeat_every_s) decides what "per hour" means:

    - given: the run covers one repetition, the cool-down up to repeat_every_s simulated
      (case reader), and every figure is per hour of operation, the loads repeated every
      repeat_every_s, each from the run's start (the warm-up of loads repeated before the
      anode cools is not simulated: `repeat_end_rise_K` says how far the spot is from its
      start when the schedule repeats, and the verdict says so above COOLED_FRACTION of its
      swing);
    - not given: the fatigue figures are per load (cycles, damage and loads to crack
      initiation; no hours: a load repeated back to back without a pause is continuous
      operation, not a cycle per repetition, and a load repeated every T s cools only
      for T − t_load, so hours need T); erosion and recrystallisation are per hour of the
      schedule's own time, its loads each from the initial state (the pauses between loads,
      with the spot back near the anode's temperature, add no measurable erosion);
    - a steady run (one sample): continuous operation, no cycles, the steady rates.

    Recrystallisation is reported for W-based targets only (the 356 kJ/mol kinetics are
    those of W, life.py), as the fraction of the recrystallisation time used per hour
    (1 or more: the spot recrystallises within the hour, which any useful microfocus spot
    does; it mostly shortens fatigue life, source-and-limits.md §3.2).

    Thermal cycles are held against the target's fatigue limit (life.py): the swing that
    reaches it at the coldest temperature of the run, the damaging cycles per load (and
    per hour and over ``life_h`` with a repetition), and a one-line verdict.

    Args:
        target_material: the target's Material.
        time_s: the run's times (s).
        T_peak_C: the spot (hottest target node) temperature (°C).
        life_h: the rated life (h) the cycles are counted over.
        repeat_every_s: loading.repeat_every_s (s), or None.
    """
    target = target_material.key
    out: dict = {"material": target}
    if len(T_peak_C) == 0:
        return out
    t = np.asarray(time_s, dtype=float)
    steady = len(t) < 2 or t[-1] <= t[0]
    hourly = steady or repeat_every_s is not None
    basis = ("steady state" if steady else
             f"per hour of operation, the schedule repeated every {repeat_every_s:g} s "
             "(cool-down simulated), each load from the run's start"
             if repeat_every_s is not None else
             "per hour of the schedule's own time, each load from the initial state")
    out.update({"repeat_every_s": repeat_every_s, "life_basis": basis})
    vapour = life.evaporates_as(target, target_material.info.get("electron_data"))
    if vapour is not None:
        rate = _mean_rate_m_s(vapour, time_s, T_peak_C)
        out.update({"erosion_rate_nm_h": rate * 1e9 * life.SECONDS_PER_HOUR,
                    "erosion_model": "Hertz-Knudsen evaporation into vacuum, sticking "
                                     f"coefficient 1, Alcock 1984 vapour pressure"
                                     f"{'' if vapour == target else ' of ' + vapour}; mean "
                                     "over the run (life_basis)"})
    else:
        out["erosion_rate_nm_h"] = None
    T_K = np.asarray(T_peak_C, dtype=float) + ZERO_CELSIUS_K
    if target == "W":
        per_s = 1.0 / life.recrystallisation_time_s(T_K)
        mean = float(np.max(per_s)) if steady else float(np.trapezoid(per_s, t) / (t[-1] - t[0]))
        out.update({"recrystallisation_fraction_per_h": mean * life.SECONDS_PER_HOUR,
                    "recrystallisation_model": "W, 356 kJ/mol, onset 1 h at 1300 °C "
                                               "(life.py); pure-W kinetics"})
    fatigue = life.fatigue_limit(target)
    swing = None
    if fatigue is not None:
        tab, T_cold = target_material.tables, float(np.min(T_K))
        swing = fatigue.swing_K(float(tab["E"](T_cold)), float(tab["alpha"](T_cold)),
                                float(tab["nu"](T_cold)))
    cycles = life.thermal_cycles(time_s, T_K, swing)
    if not hourly:
        cycles.update({k: None for k in cycles if k.endswith("_per_h")})
    out.update({"thermal_" + k: v for k, v in cycles.items()})
    out["thermal_fatigue_model"] = ("spot temperature cycles counted (rainflow, ASTM E1049, "
                                    "each load closed back to its start)")
    rise = float(np.max(T_K) - T_K[0])
    end_rise = None if steady or repeat_every_s is None else float(T_K[-1] - T_K[0])
    warm = end_rise if end_rise is not None and end_rise > COOLED_FRACTION * rise else None
    out.update({"repeat_end_rise_K": end_rise, "repeat_note": None if warm is None else (
        f"the spot is still {warm:.0f} K above its start when the schedule repeats (every "
        f"{repeat_every_s:g} s): repeated loads start warmer than this run, which its life "
        "figures and limits do not include (`anodesim rate` rates the schedule in its "
        "periodic state, every repetition starting where the one before left the anode)")})
    tensile = life.tensile_data(target)
    crack = None
    if tensile is not None:
        crack = life.crack_initiation(time_s, T_K, target_material.tables, tensile)
        per_load = crack["damage_per_run"]
        out.update({"fatigue_crack_initiation_h": _finite(crack["hours"]) if hourly else None,
                    "fatigue_damage_per_h": crack["damage_per_h"] if hourly else None,
                    "fatigue_damage_per_load": per_load,
                    "fatigue_crack_initiation_loads": 1.0 / per_load if per_load > 0
                    else None,
                    "fatigue_shortest_cycle_life": _finite(crack["shortest_cycle_life"]),
                    "fatigue_crack_model": FATIGUE_MODEL,
                    "fatigue_tensile_source": tensile.source})
    if fatigue is not None:
        over_life = cycles["damaging_cycles_per_h"] * life_h if hourly else None
        out.update({"fatigue_limit_swing_K": swing, "fatigue_cycles_over_life": over_life,
                    "fatigue_source": fatigue.source,
                    "fatigue_verdict": _fatigue_verdict(
                        fatigue, swing, cycles, life_h, crack, repeat_every_s,
                        T_K[0] - ZERO_CELSIUS_K, warm)})
    return out


def _finite(x: float) -> float | None:
    """x, or None (JSON null: unlimited) where it is infinite."""
    return None if math.isinf(x) else float(x)


def _fatigue_verdict(fatigue, swing_K: float, cycles: dict, life_h: float,
                     crack: dict | None = None, repeat_every_s: float | None = None,
                     start_C: float = 0.0, warm_K: float | None = None) -> str:
    """One line on the spot's thermal cycles against the fatigue limit and, with tensile
    data, the estimated crack-initiation life: over the rated life with a repetition (or in
    steady state), per load of the schedule without one (life_summary).

    Args:
        swing_K: the largest spot swing the fatigue limit allows (K).
        cycles: life.thermal_cycles of the run (per-hour entries None without hours).
        start_C: the spot's temperature at the start of a load (°C).
        warm_K: the spot's rise over its start when the schedule repeats, where that is
            not small (None: cooled back, or no repetition).
    """
    largest_K = cycles["largest_swing_K"]
    deepest = f"; the deepest spot cycle swings {largest_K:.0f} K" if largest_K else ""
    limit = (f"{fatigue.material} fatigue limit (allowed swing {swing_K:.0f} K, "
             f"{fatigue.stress_range_Pa / 1e6:.0f} MPa stress range")
    per_load = cycles["damaging_cycles_per_run"]
    if per_load == 0:
        return f"no spot cycle exceeds the {limit}{deepest})"
    hourly = cycles["damaging_cycles_per_h"] is not None
    every = f" every {repeat_every_s:g} s" if repeat_every_s is not None else ""
    if hourly:
        count = (f"{cycles['damaging_cycles_per_h'] * life_h:.3g} cycles in {life_h:.0f} h "
                 f"of this schedule, repeated{every}, exceed")
    else:
        count = (f"{per_load:.3g} cycle{'s' * (per_load != 1)} per load of this schedule "
                 f"(each from {start_C:.0f} °C) exceed{'s' * (per_load == 1)}")
    text = (f"{count} the {limit}, {fatigue.runout_cycles:.0e}-cycle run-out{deepest}): "
            "cracking and roughening of the spot expected")
    if warm_K is not None:
        text += (f"; the spot is still {warm_K:.0f} K above its start when the schedule "
                 "repeats: repeated loads start warmer than this run, which these figures "
                 "do not include (`anodesim rate` rates the schedule in its periodic state)")
    if crack is None:
        return text + "; cycles to crack not predicted (no tensile data)"
    if crack["damage_per_run"] <= 0:
        return text
    worst = crack["shortest_cycle_life"]
    worst = ("the deepest cycle's design life is under one cycle: its first occurrence may "
             "start a crack" if worst <= life.CYCLES_MIN
             else f"the deepest cycle's design life is {worst:.3g} cycles")
    loads = 1.0 / crack["damage_per_run"]
    if hourly:
        when = (f"{crack['hours']:.3g} h of this schedule{',' * bool(every)} repeated{every} "
                f"({loads:.3g} loads; {worst}")
    else:
        when = (f"{loads:.3g} loads of this schedule ({worst}; hours need "
                "loading.repeat_every_s")
    return text + (f"; crack initiation ESTIMATED after {when}; from tensile data, no W "
                   "strain-life data)")


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
        if isinstance(lim, LifeLimit):
            if len(vals):
                out.append(_life_check(lim, time_s, vals))
            continue
        if isinstance(lim, FatigueLimit):
            if len(vals):
                out.append(_fatigue_check(lim, time_s, vals))
            continue
        if lim.name in SIGNED_LIMITS:
            vals = np.abs(vals)
        if len(vals) == 0 or np.all(np.isnan(vals)):
            continue
        i = first_max_index(vals)
        out.append(LimitCheck(lim, float(np.nanmax(vals)), float(time_s[i])))
    return out


def check_load(limits: list[Limit], time_s, columns, life_until: float | None = None
               ) -> list[LimitCheck]:
    """check, with the life limits taken over the series up to life_until (s) only, if
    given: a single load followed by its cooling (a single-load chart point) damages the
    spot over the load; counted over the cooling too, the damage would be spread over it as
    hours of the rated life (a 0.1 s load with 0.9 s of cooling: 10x the life's hours at
    the load's rate, 48.2 W allowed instead of 45.8 W on the test insert)."""
    time_s = np.asarray(time_s, dtype=float)
    if life_until is None or len(time_s) == 0 or time_s[-1] <= life_until * (1 + 1e-12):
        return check(limits, time_s, columns)
    load = time_s <= life_until * (1 + 1e-12)
    lives = [lim for lim in limits if isinstance(lim, LifeLimit)]
    by_id = {id(c.limit): c for c in
             check(lives, time_s[load], {n: np.asarray(v)[load] for n, v in columns.items()})
             + check([lim for lim in limits if not isinstance(lim, LifeLimit)], time_s,
                     columns)}
    return [by_id[id(lim)] for lim in limits if id(lim) in by_id]


#: A rating confirms its binding limit within this share of the limit's allowed rise
#: (safe.max_safe_loading's rtol); the Newton tolerance must lie within it (README:
#: the converged temperatures are within about time.newton_tol_K of Newton's).
CONFIRM_RTOL = 0.005


def newton_band_breach(case: Case, lim: Limit) -> str | None:
    """The refusal of a time.newton_tol_K above CONFIRM_RTOL of a temperature limit's allowed
    rise (K), or None: the drift limit's rise is in µm and fatigue's and yield's are ratios,
    which Newton's tolerance does not set. `check` warns of it; `rate` refuses it."""
    tol, rise = case.time.newton_tol_K, rise_allowed(lim)
    if not (isinstance(lim, LifeLimit) or lim.unit == "C") or tol <= CONFIRM_RTOL * rise:
        return None
    # (a head of 0.1 K refused the default, which the user never gave: say so)
    given = " (the default)" if tol == TimeSettings.newton_tol_K else ""
    return (f"time.newton_tol_K = {tol:g}{given}: above {CONFIRM_RTOL:.1%} of the {lim.label} "
            f"limit's allowed rise ({rise:.4g} K over the anode at rest); expected at most "
            f"{CONFIRM_RTOL * rise:.3g} K, so a rating confirms its limits within its "
            f"{CONFIRM_RTOL:.1%} band")
