"""Electron deposition kernels of the beam heat source, read from the shipped tables.

The tables (``data/electron_kernels.npz``, provenance in ``data/electron_kernels.json``) were
made by the electron Monte Carlo of ``tools/electron_mc`` (condensed-history; elastic
scattering from the ELSEPA cross sections of the PENELOPE database for the 10–30 kV rows and
from the Joy-screened Rutherford with a Mott correction for W and Mo below 50 keV for the
50–225 kV rows (``rows`` in the .json); Bethe/Joy–Luo continuous slowing down; physics, sources,
statistical errors and validation in ``tools/electron_mc/README.md``). They hold, for the
half-space targets W, Mo, Cu, diamond and Be at 10–225 kV and 0–80° incidence (angle from
the surface normal):

- the backscatter coefficient η (number of electrons leaving the surface per incident
  electron) and the energy backscatter fraction η_E (energy carried out by them, as a
  fraction of the beam energy), with their standard errors;
- the energy-weighted mean deposition depth, the depths holding 50/90/99/99.9 % and the radii
  (from the entry point of a pencil beam) holding 50/90 % of the deposited energy;
- the deposition kernel: the fraction of the beam energy deposited in each (depth, radius)
  bin around the entry point of a pencil beam, with the energy-weighted mean lateral offset
  along the beam's in-plane direction per depth bin (non-zero at oblique incidence: the
  kernel of an oblique beam is the axisymmetric one shifted by that offset);
- the energy backscattered per polar-angle bin (for the extra-focal load), the share of it
  leaving forward (along the beam's in-plane direction) and the energy-weighted mean exit
  tangent along that direction (where the backscatter lands on a plane parallel to the
  face, in units of its distance; extra_focal.py);

and for layered targets (W film on diamond, W film on Be, normal incidence) the shares of
the beam energy deposited in the film and in the substrate and η_E, against film
thickness 0.1–20 µm at the same voltages.

Interpolation: linear in log(voltage) and in the angle. Lengths are interpolated in
log(length). The kernel bins are fixed fractions of the CSDA range R0(material, voltage),
so kernels of neighbouring voltages are interpolated bin by bin at the same scaled
position and then scaled by R0 at the requested voltage. Film shares are interpolated
between the neighbouring table voltages at the same thickness in units of R0 (film share
is close to a function of t/R0), linear in log(thickness). Outside the tables every
function raises :class:`ElectronKernelRangeError` (a ValueError) naming the quantity and
the covered range: there is no extrapolation.

Units: SI (V, m), angles in degrees (named ``*_deg``); energies are fractions of the beam
energy. Pure numpy; no dolfinx.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

TABLE_PATH = Path(__file__).resolve().parent / "data" / "electron_kernels.npz"

_LENGTHS = ("mean_depth_um", "mean_depth_se_um", "z50_um", "z90_um", "z99_um", "z999_um",
            "r50_um", "r90_um")


class ElectronKernelRangeError(ValueError):
    """A request outside the shipped electron kernel tables (material, voltage, angle, film)."""


@dataclass(frozen=True)
class Kernel:
    """Energy deposited by a pencil beam, binned in depth and radius about its entry point.

    Attributes:
        z_edges_m: depth bin edges (m), from the surface; len nz + 1.
        r_edges_m: radius bin edges (m), from the entry point; len nr + 1. The last bins
            reach the CSDA range, an upper bound of both depth and radius.
        energy: fraction of the beam energy deposited per (depth, radius) bin, shape (nz, nr);
            it sums to 1 − η_E.
        x_offset_m: energy-weighted mean offset (m) of the deposition in each depth bin along
            the in-plane direction of the beam (0 at normal incidence), shape (nz,).
        eta_E: energy backscatter fraction of this beam.
    """

    z_edges_m: np.ndarray
    r_edges_m: np.ndarray
    energy: np.ndarray
    x_offset_m: np.ndarray
    eta_E: float

    def depth_profile(self) -> np.ndarray:
        """Fraction of the beam energy deposited per depth bin, shape (nz,)."""
        return self.energy.sum(axis=1)

    def depth_density_per_m(self) -> np.ndarray:
        """Depth profile per unit depth (1/m): fraction per bin / bin height, shape (nz,)."""
        return self.depth_profile() / np.diff(self.z_edges_m)

    def volume_density_per_m3(self) -> np.ndarray:
        """Bin-averaged deposited energy fraction per unit volume (1/m³), shape (nz, nr).

        The volume of a bin is π (r₂² − r₁²)(z₂ − z₁), so that the sum of density × volume
        over the bins is 1 − η_E.
        """
        dz = np.diff(self.z_edges_m)
        ring = math.pi * np.diff(self.r_edges_m**2)
        return self.energy / (dz[:, None] * ring[None, :])

    def mean_depth_m(self) -> float:
        """Energy-weighted mean depth (m) from the bin centres (the tables' own value,
        :meth:`ElectronKernels.mean_deposition_depth_m`, is exact)."""
        zc = 0.5 * (self.z_edges_m[1:] + self.z_edges_m[:-1])
        p = self.depth_profile()
        return float((p * zc).sum() / p.sum())


@dataclass(frozen=True)
class FilmShare:
    """Shares of the beam energy in a film-on-substrate target at normal incidence.

    Attributes:
        film: fraction of the beam energy deposited in the film.
        substrate: fraction deposited in the (semi-infinite) substrate.
        eta_E: energy backscatter fraction of the layered target.
        film_se: standard error of film (Monte Carlo statistics, nearest table point).
    """

    film: float
    substrate: float
    eta_E: float
    film_se: float


class ElectronKernels:
    """The shipped electron transport tables with interpolation.

    Args:
        path: the .npz table; default the one shipped with anodesim.
    """

    def __init__(self, path: str | Path | None = None):
        path = Path(path) if path is not None else TABLE_PATH
        with np.load(path) as d:
            self._d = {k: d[k] for k in d.files}
        d = self._d
        self.materials: tuple[str, ...] = tuple(str(m) for m in d["materials"])
        self.voltages_V: np.ndarray = d["voltage_kV"] * 1e3
        self.incidence_deg: np.ndarray = d["incidence_deg"].astype(float)
        self.film_pairs: tuple[tuple[str, str], ...] = tuple(
            tuple(str(p).split("/")) for p in d["film_pairs"])
        self.film_thickness_m: np.ndarray = d["film_thickness_um"] * 1e-6
        self.n_histories_bulk = int(d["n_bulk"])
        self.n_histories_film = int(d["n_film"])

    # -- indexing and weights ---------------------------------------------------------
    def _material(self, material: str) -> int:
        if material not in self.materials:
            raise ElectronKernelRangeError(
                f"electron kernels: no table for material {material!r}; "
                f"tabulated: {', '.join(self.materials)}")
        return self.materials.index(material)

    def _check(self, what: str, value: float, grid: np.ndarray, unit: str, scale: float) -> None:
        lo, hi = grid[0], grid[-1]
        if not (lo * (1 - 1e-9) <= value <= hi * (1 + 1e-9)):
            raise ElectronKernelRangeError(
                f"electron kernels: {what} {value / scale:g} {unit} is outside the tables "
                f"({lo / scale:g}–{hi / scale:g} {unit})")

    @staticmethod
    def _bracket(x: float, grid: np.ndarray) -> tuple[int, int, float]:
        """Indices i, i+1 and the weight of i+1 for linear interpolation at x in grid."""
        x = min(max(x, grid[0]), grid[-1])
        i = int(np.clip(np.searchsorted(grid, x, side="right") - 1, 0, len(grid) - 2))
        f = (x - grid[i]) / (grid[i + 1] - grid[i])
        return i, i + 1, float(f)

    def _weights(self, voltage_V: float, incidence_deg: float):
        """[(iv, ia, weight)] of the bilinear interpolation in (log V, angle)."""
        self._check("voltage", voltage_V, self.voltages_V, "kV", 1e3)
        self._check("incidence angle", incidence_deg, self.incidence_deg, "°", 1.0)
        v0, v1, fv = self._bracket(math.log(voltage_V), np.log(self.voltages_V))
        a0, a1, fa = self._bracket(float(incidence_deg), self.incidence_deg)
        return [(v0, a0, (1 - fv) * (1 - fa)), (v1, a0, fv * (1 - fa)),
                (v0, a1, (1 - fv) * fa), (v1, a1, fv * fa)]

    def _scalar(self, key: str, material: str, voltage_V: float, incidence_deg: float) -> float:
        im = self._material(material)
        tab = self._d[key][im]
        w = self._weights(voltage_V, incidence_deg)
        if key in _LENGTHS:
            return float(math.exp(sum(f * math.log(max(tab[iv, ia], 1e-300)) for iv, ia, f in w)))
        return float(sum(f * tab[iv, ia] for iv, ia, f in w))

    def csda_range_m(self, material: str, voltage_V: float) -> float:
        """CSDA range (m) of the Monte Carlo's stopping power (log-log interpolated)."""
        im = self._material(material)
        self._check("voltage", voltage_V, self.voltages_V, "kV", 1e3)
        lr = np.interp(math.log(voltage_V), np.log(self.voltages_V),
                       np.log(self._d["csda_range_um"][im]))
        return float(math.exp(lr)) * 1e-6

    # -- half-space quantities ------------------------------------------------------------
    def backscatter_energy_fraction(self, material: str, voltage_V: float,
                                    incidence_deg: float = 0.0) -> float:
        """Energy backscatter fraction η_E (energy leaving the surface / beam energy).

        Args:
            material: "W", "Mo", "Cu", "diamond" or "Be".
            voltage_V: tube voltage (V), 10–225 kV.
            incidence_deg: angle between the beam and the surface normal (°), 0–80.
        """
        return self._scalar("eta_E", material, voltage_V, incidence_deg)

    def backscatter_coefficient(self, material: str, voltage_V: float,
                                incidence_deg: float = 0.0) -> float:
        """Backscatter coefficient η (electrons leaving the surface per incident electron)."""
        return self._scalar("eta", material, voltage_V, incidence_deg)

    def deposited_fraction(self, material: str, voltage_V: float,
                           incidence_deg: float = 0.0) -> float:
        """Fraction of the beam energy deposited in the target, 1 − η_E (bremsstrahlung,
        under 1.5 % below 225 kV, is included in it)."""
        return self._scalar("deposited", material, voltage_V, incidence_deg)

    def mean_deposition_depth_m(self, material: str, voltage_V: float,
                                incidence_deg: float = 0.0) -> float:
        """Energy-weighted mean depth (m) of the deposited energy, along the normal."""
        return self._scalar("mean_depth_um", material, voltage_V, incidence_deg) * 1e-6

    def depth_quantile_m(self, material: str, voltage_V: float, q: float,
                         incidence_deg: float = 0.0) -> float:
        """Depth (m) above which the fraction q of the deposited energy lies.

        Args:
            q: 0.5, 0.9, 0.99 or 0.999 (the tabulated quantiles).
        """
        key = {0.5: "z50_um", 0.9: "z90_um", 0.99: "z99_um", 0.999: "z999_um"}.get(q)
        if key is None:
            raise ElectronKernelRangeError(
                f"electron kernels: depth quantile {q} is not tabulated (0.5, 0.9, 0.99, 0.999)")
        return self._scalar(key, material, voltage_V, incidence_deg) * 1e-6

    def lateral_radius_m(self, material: str, voltage_V: float, q: float,
                         incidence_deg: float = 0.0) -> float:
        """Radius (m) about a pencil beam's entry point holding the fraction q of the
        deposited energy (all depths).

        Args:
            q: 0.5 or 0.9 (the tabulated quantiles).
        """
        key = {0.5: "r50_um", 0.9: "r90_um"}.get(q)
        if key is None:
            raise ElectronKernelRangeError(
                f"electron kernels: lateral quantile {q} is not tabulated (0.5, 0.9)")
        return self._scalar(key, material, voltage_V, incidence_deg) * 1e-6

    def standard_errors(self, material: str, voltage_V: float,
                        incidence_deg: float = 0.0) -> dict[str, float]:
        """Monte Carlo standard errors of η, η_E and the mean depth (m) at this point
        (interpolated like the values)."""
        return {
            "eta": self._scalar("eta_se", material, voltage_V, incidence_deg),
            "eta_E": self._scalar("eta_E_se", material, voltage_V, incidence_deg),
            "mean_depth_m": self._scalar("mean_depth_se_um", material, voltage_V,
                                         incidence_deg) * 1e-6,
        }

    def backscatter_polar_distribution(self, material: str, voltage_V: float,
                                       incidence_deg: float = 0.0):
        """Backscattered energy per polar-angle bin of the exit direction.

        Returns:
            (cos_edges, fractions): the bin edges in cos θ (θ from the outward normal,
            equal-width bins from 0 to 1) and the fraction of the beam energy leaving in
            each bin (they sum to η_E).
        """
        im = self._material(material)
        tab = self._d["bs_theta"][im].astype(float)
        frac = sum(f * tab[iv, ia] for iv, ia, f in self._weights(voltage_V, incidence_deg))
        return np.linspace(0.0, 1.0, tab.shape[-1] + 1), frac

    def backscatter_forward(self, material: str, voltage_V: float,
                            incidence_deg: float = 0.0) -> tuple[float, float]:
        """Forward skew of the backscatter at oblique incidence.

        Returns:
            (forward_share, shift): the share of the backscattered energy leaving forward
            (exit direction with a positive component along the beam's in-plane direction)
            and the energy-weighted mean exit tangent along that direction (each exit
            clipped to ±10, θ ≤ 84°): the mean landing offset, in units of H, on a plane
            parallel to the face at distance H. At normal incidence they are 1/2 and 0 by
            symmetry (the table's 0° column holds the Monte Carlo's estimates, their noise:
            |shift| ≲ 0.1, and is not used).
        """
        im = self._material(material)
        out = []
        for key, sym in (("bs_forward", 0.5), ("bs_shift", 0.0)):
            tab = self._d[key][im].copy()
            tab[:, self.incidence_deg == 0.0] = sym
            out.append(float(sum(f * tab[iv, ia]
                                 for iv, ia, f in self._weights(voltage_V, incidence_deg))))
        return out[0], out[1]

    def kernel(self, material: str, voltage_V: float, incidence_deg: float = 0.0) -> Kernel:
        """The pencil-beam deposition kernel at this voltage and incidence (see Kernel)."""
        im = self._material(material)
        w = self._weights(voltage_V, incidence_deg)
        R0 = self.csda_range_m(material, voltage_V)
        energy = sum(f * self._d["kernel"][im, iv, ia].astype(float) for iv, ia, f in w)
        xoff = sum(f * self._d["xmean_frac"][im, iv, ia].astype(float) for iv, ia, f in w)
        return Kernel(
            z_edges_m=self._d["z_edges_frac"] * R0,
            r_edges_m=self._d["r_edges_frac"] * R0,
            energy=energy,
            x_offset_m=xoff * R0,
            eta_E=self.backscatter_energy_fraction(material, voltage_V, incidence_deg),
        )

    # -- layered targets -------------------------------------------------------------------
    def _pair(self, film: str, substrate: str) -> int:
        if (film, substrate) not in self.film_pairs:
            raise ElectronKernelRangeError(
                f"electron kernels: no layered table for {film} on {substrate}; tabulated: "
                + ", ".join(f"{f} on {s}" for f, s in self.film_pairs))
        return self.film_pairs.index((film, substrate))

    def film_share(self, film: str, substrate: str, thickness_m: float,
                   voltage_V: float) -> FilmShare:
        """Energy shares of a film on a semi-infinite substrate, normal incidence.

        Args:
            film: film material ("W").
            substrate: substrate material ("diamond" or "Be").
            thickness_m: film thickness (m), 0.1–20 µm.
            voltage_V: tube voltage (V), 10–225 kV.

        Returns:
            The FilmShare.
        """
        ip = self._pair(film, substrate)
        self._check("film thickness", thickness_m, self.film_thickness_m, "µm", 1e-6)
        self._check("voltage", voltage_V, self.voltages_V, "kV", 1e3)
        v0, v1, fv = self._bracket(math.log(voltage_V), np.log(self.voltages_V))
        R = self.csda_range_m(film, voltage_V)
        lt = np.log(self.film_thickness_m)
        out = np.zeros(4)
        for iv, f in ((v0, 1 - fv), (v1, fv)):
            if f == 0.0:
                continue
            # the same thickness in units of the film's CSDA range at the table voltage
            t = thickness_m * self.csda_range_m(film, self.voltages_V[iv]) / R
            cols = [self._d[key][ip, iv] for key in
                    ("film_share", "film_substrate_share", "film_eta_E", "film_share_se")]
            t_min = self.film_thickness_m[0]
            # beyond 20 µm (the thickest film) the 20 µm shares are kept: saturated to
            # within 2 % of the deposited energy up to 225 kV
            if t >= t_min:
                vals = [float(np.interp(math.log(t), lt, c)) for c in cols]
            else:  # thinner than the thinnest film: film share proportional to thickness
                film0 = cols[0][0]
                vals = [film0 * t / t_min, cols[1][0] + film0 * (1.0 - t / t_min),
                        cols[2][0], cols[3][0]]
            out += f * np.array(vals)
        return FilmShare(film=float(out[0]), substrate=float(out[1]), eta_E=float(out[2]),
                         film_se=float(out[3]))


@lru_cache(maxsize=1)
def load() -> ElectronKernels:
    """The shipped tables (read once)."""
    return ElectronKernels()
