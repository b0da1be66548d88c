"""Extra-focal heating: where the energy of the backscattered electrons goes.

A fraction η_E of the beam power leaves the spot with the backscattered electrons (W at
100 kV, normal incidence: η_E = 0.40, η = 0.50, so their mean energy is η_E/η ≈ 0.79 E₀;
tables in data/electron_kernels.npz). In a real tube that energy is not lost: the electrons
land on the anode face, the hood and the aperture around the spot and heat them, and that
heat flows through the anode into the coolant (Ali & Rogers, Med. Phys. 35 (2008) 4149,
EGSnrc: the first-generation backscatter of about 50 % for W re-enters the anode outside the
focal spot; review shared/reference/source-and-limits.md A5, §6.5; returning it to the
anode face raised a 30-min warm-up drift from 6.1 to 9.0 µm).

Energy balance of the beam power P (every run's summary):

    deposited (1 − η_E) P  +  extra-focal P_ef  +  X-rays leaving P_x  (+ dropped) = P,

- P_x = f_esc · ε · P, the bremsstrahlung leaving the anode. ε = k Z V is the thick-target
  X-ray efficiency (Kramers' law; k = 1.1e-9 per volt: Compton & Allison, *X-Rays in Theory
  and Experiment*, 1935 [recalled]; Kirkpatrick & Wiedmann, Phys. Rev. 67 (1945) 321 compute
  1.4e-9 [checked in the abstract]): 0.81 % of the beam on W at 100 kV. Z is the
  deposited-share mean over the layers (1 µm W on diamond at 60 kV: 0.49 × 74 + 0.51 × 6).
  f_esc: the share of that radiation that leaves the model. A thick (reflection) target
  emits about half of it into itself, where it is absorbed within a few attenuation lengths
  (W at 60 keV: about 0.14 mm) near the spot, so f_esc = 1/2 (bremsstrahlung taken as
  isotropic, the target's self-absorption of the outgoing half neglected: conservative for
  the extra-focal heat). A transmission target's thin film and low-Z window let both halves
  out (forward through the window, backward up the tube), so f_esc = 1.
- The X-rays are produced in the spot, but the deposited power keeps them (as before
  issue 12: conservative for the spot by ≤ 0.8 % of P) and the balance takes them from the
  backscattered share: P_ef = η_E P − P_x (at least 0). A case that sets η_E = 0 has no
  backscatter, no extra-focal heat and no X-ray term.

Where P_ef lands (``beam.extra_focal``):

- ``"face"`` (default), reflection anodes (reflection_insert, reflection_3d, block, user
  meshes): on the beam-side face around the spot (``beam_face`` and ``anode_face``) with the
  areal density
      f(ρ) = H² / (π (H² + ρ²)²),   ρ the distance from the impact point in the face plane,
  the landing density of electrons leaving a point with a cosine (Lambert) angular
  distribution on a plane at distance H: I(θ) ∝ cos θ per steradian, and a plane at height
  H receives cos θ · cos θ / (H/cos θ)² per unit area, ∝ cos⁴θ = H⁴/(H² + ρ²)², which
  integrates to 1 over the plane. Backscattered electrons from high-Z targets at normal
  incidence follow the cosine law closely (Niedrig, J. Appl. Phys. 53 (1982) R15
  [recalled]). In a grounded-anode tube the target sits in a nearly field-free hood; the
  electrons fly straight to the hood and aperture plate a few mm away, which are part of
  the anode assembly and conduct the heat into it. The model has no hood, so that density
  is laid on the anode face itself, renormalised to the face (what would land beyond the
  face goes into it too). H = ``extra_focal_distance_mm`` (default 5 mm, an assumed
  spot-to-hood distance of a microfocus tube, not a measured one): half the power lands
  within ρ = H, 90 % within 3H. H → ∞ gives a uniform flux on the face (the review's R5
  run); H → 0 puts it back into the spot.
- Oblique incidence (3-D models, ψ > 0): the backscattered electrons leave preferentially
  forward, away from the side the beam comes from (W at 100 kV: 61 % of the backscattered
  energy at 45°, 75 % at 70°, against 50 % at normal incidence; electron tables). The
  landing pattern is then centred at the distance s·H from the impact point along the
  beam's trace on the face, s the energy-weighted mean exit tangent u/|w| along the trace
  (tables ``bs_shift``; W at 100 kV: s ≈ 0.34 at 45°, 1.24 at 70°): the mean landing point
  of the backscattered energy on the hood plane at distance H is kept exactly (within the
  tabulated exit tangents' clip at ±10, θ ≤ 84°). The shape around that centre stays the
  cosine law: an assumption (the real pattern is also elongated forward; its second
  moment is not modelled). Normal incidence, and every axisymmetric model, has s = 0 by
  symmetry. A case that gives ``backscatter_energy_fraction``, or a target outside the
  tables, keeps s = 0.
- ``"face"``, transmission targets: the backscatter leaves the film on the vacuum side, into
  the tube's nose and the objective lens' bore (grounded, field-free; at the target the
  lens' magnetic field guides the electrons back up the bore). A flat film cannot see
  itself, so none of it comes back to the film; it heats the nose that holds the window.
  The model's joint to the nose is the window's ``rim``: P_ef is laid uniformly on it. A
  fixed-temperature rim (the shipped example) takes it without a change of the window's
  temperatures; give the rim a convection boundary (or model the nose) to see it.
- ``"off"``: P_ef leaves the model (the behaviour before issue 12); the summary reports it
  as dropped.
- ``[beam.extra_focal_faces]`` ``<face> = share``: these shares of P_ef are laid uniformly on
  the named faces (a hood, the nose, a housing face of a user mesh); the rest (1 − Σ
  shares) follows ``extra_focal``.

The FE lays each landing as a boundary source normalised by its own integral over the mesh,
so it carries its power exactly (the summary's ``extra_focal_integral_ratio`` is the mesh's
integral of the analytic density, against its closed form in the tests).

Units: SI (m, V, W); pure Python, no dolfinx (the UFL density is built on demand).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Thick-target bremsstrahlung efficiency ε = k Z V, k per volt (module docstring).
XRAY_EFFICIENCY_PER_V = 1.1e-9
#: Share of the X-rays that leave a thick (reflection) target: the outgoing half.
XRAY_ESCAPE_THICK = 0.5
#: Default spot-to-hood distance H of the cosine-law landing (m).
DEFAULT_DISTANCE_M = 5e-3
MODES = ("face", "off")
#: The faces around the spot on reflection anodes (those a mesh has are used).
REFLECTION_FACES = ("beam_face", "anode_face")


@dataclass(frozen=True)
class Landing:
    """A share of the extra-focal power laid on faces.

    Attributes:
        faces: face (facet-group) names.
        share: fraction of the extra-focal power.
        law: "cosine" (f(ρ) above, distance H) or "uniform" (per unit area).
    """

    faces: tuple[str, ...]
    share: float
    law: str


@dataclass(frozen=True)
class ExtraFocal:
    """The beam's energy balance and where the extra-focal power lands.

    Attributes:
        mode: "face" or "off".
        backscatter_fraction: η_E.
        xray_fraction: P_x / P, the X-ray power leaving.
        extra_focal_fraction: P_ef / P laid on faces of the model.
        dropped_fraction: P / P of backscattered power left out of the model ("off").
        landings: where P_ef goes (shares add up to 1 when extra_focal_fraction > 0).
        distance_m: H of the cosine law (m).
        xray_escape: f_esc.
        mean_Z: the deposited-share mean atomic number in ε = k Z V.
        xray_efficiency: ε = k Z V (before f_esc and the cap at η_E).
        forward_shift: s, the cosine law's centre offset along the beam's trace in units
            of H (0 at normal incidence).
        offset_m: (ξ, η) of the cosine law's centre in the face coordinates about the
            impact point (m): s·H along the trace.
    """

    mode: str
    backscatter_fraction: float
    xray_fraction: float
    extra_focal_fraction: float
    dropped_fraction: float
    landings: tuple[Landing, ...]
    distance_m: float
    xray_escape: float
    mean_Z: float
    xray_efficiency: float
    forward_shift: float = 0.0
    offset_m: tuple[float, float] = (0.0, 0.0)

    def landing_rho2(self, xi, eta):
        """ρ² from the cosine law's centre, for face coordinates ξ, η (UFL or numbers, m);
        exactly ξ² + η² without a shift."""
        dx, dy = self.offset_m
        if dx == 0.0 and dy == 0.0:
            return xi * xi + eta * eta
        return (xi - dx) * (xi - dx) + (eta - dy) * (eta - dy)

    @property
    def deposited_fraction(self) -> float:
        return 1.0 - self.backscatter_fraction

    def per_deposited_W(self) -> float:
        """Extra-focal watts per deposited watt (the FE scales the landings by this)."""
        return self.extra_focal_fraction / self.deposited_fraction


def plan(mode: str, eta_E: float, voltage_V: float, mean_Z: float, transmission: bool,
         faces_present, named: tuple[tuple[str, float], ...] = (),
         distance_m: float = DEFAULT_DISTANCE_M, forward_shift: float = 0.0,
         trace_angle_rad: float = 0.0) -> ExtraFocal:
    """The energy balance and the landings of a case.

    Args:
        mode: "face" or "off".
        eta_E: energy backscatter fraction.
        voltage_V: tube voltage (V).
        mean_Z: deposited-share mean atomic number of the layers below the spot.
        transmission: a transmission target (backscatter to the nose: the rim face).
        faces_present: the face names of the geometry.
        named: ((face, share), ...) from [beam.extra_focal_faces].
        distance_m: H of the cosine law (m).
        forward_shift: s, the mean exit tangent along the beam's trace (tables).
        trace_angle_rad: direction of the beam's trace on the face, from ξ towards η.
    """
    escape = 1.0 if transmission else XRAY_ESCAPE_THICK
    efficiency = XRAY_EFFICIENCY_PER_V * mean_Z * voltage_V
    x = min(escape * efficiency, eta_E)
    ef = eta_E - x
    landings = [Landing((face,), share, "uniform") for face, share in named if share > 0]
    rest = 1.0 - sum(share for _, share in named)
    dropped = 0.0
    if rest > 1e-12:
        if mode == "off":
            dropped = rest * ef
        elif transmission:
            landings.append(Landing(("rim",), rest, "uniform"))
        else:
            faces = tuple(f for f in REFLECTION_FACES if f in faces_present)
            landings.append(Landing(faces, rest, "cosine"))
    if ef <= 0.0:
        landings = []
    a = forward_shift * distance_m
    offset = (a * math.cos(trace_angle_rad), a * math.sin(trace_angle_rad)) if a else (0.0, 0.0)
    return ExtraFocal(mode, eta_E, x, ef - dropped, dropped, tuple(landings), distance_m,
                      escape, mean_Z, efficiency, forward_shift, offset)


def cosine_density(distance_m: float, rho2):
    """f(ρ) = H²/(π(H² + ρ²)²) (1/m²), ρ² a UFL expression or a number (m²)."""
    H2 = distance_m * distance_m
    return H2 / (math.pi * (H2 + rho2) ** 2)


def cosine_disc_share(distance_m: float, radius_m: float) -> float:
    """∫₀^R 2πρ f(ρ) dρ = R²/(H² + R²): the share of the cosine law on a disc of radius R."""
    return radius_m ** 2 / (distance_m ** 2 + radius_m ** 2)


def cosine_offset_disc_share(distance_m: float, radius_m: float, offset_m: float) -> float:
    """The share of the cosine law centred at the distance a from the centre of a disc of
    radius R: the configuration factor from a differential area to a parallel disc at
    distance H, offset a (e.g. Howell, A Catalog of Radiation Heat Transfer Configuration
    Factors, B-13 [recalled; checked against quadrature in the tests]):
    F = ½ [1 − (H² + a² − R²)/√((H² + a² + R²)² − 4 R² a²)]; R²/(H² + R²) at a = 0."""
    H2, R2, a2 = distance_m ** 2, radius_m ** 2, offset_m ** 2
    return 0.5 * (1.0 - (H2 + a2 - R2) / math.sqrt((H2 + a2 + R2) ** 2 - 4.0 * R2 * a2))


def summary(ef: ExtraFocal, beam_W: float) -> dict:
    """The summary's account of where the backscattered power went (W)."""
    return {
        "mode": ef.mode,
        "landings": [{"faces": list(la.faces), "law": la.law,
                      "power_W": la.share * ef.extra_focal_fraction * beam_W}
                     for la in ef.landings],
        "distance_mm": ef.distance_m * 1e3,
        "forward_shift": ef.forward_shift,
        "landing_centre_mm": [c * 1e3 for c in ef.offset_m],
        "xray_efficiency": ef.xray_efficiency,
        "xray_escape_share": ef.xray_escape,
        "dropped_power_W": ef.dropped_fraction * beam_W,
    }


def console_line(b: dict) -> str:
    """Where the backscattered power went, in one line (summary's beam section)."""
    ef = b["extra_focal"]
    if b["extra_focal_power_W"] > 0:
        where = " + ".join("/".join(la["faces"]) + f" {la['power_W']:.3g} W ({la['law']})"
                           for la in ef["landings"])
        head = f"extra-focal {b['extra_focal_power_W']:.4g} W on {where}"
    else:
        head = "extra-focal 0 W"
    if ef["dropped_power_W"] > 0:
        head += f", {ef['dropped_power_W']:.3g} W dropped (extra_focal = \"off\")"
    return head + f"; X-rays leaving {b['xray_power_W']:.3g} W"
