"""Focal-spot size definitions of the standards, and the predicted X-ray focal-spot size.

A datasheet's focal-spot size is read from an X-ray image by a standard; the beam's FWHM is
what the heat source needs. Definitions (review §4.2 of shared/reference/source-and-limits.md,
thresholds read in the standards' texts there):

- ``"fwhm"``: the full width at half maximum of the line-spread function (LSF, the image
  profile integrated along the other axis); for a Gaussian, the beam FWHM itself. For a
  flat-top spot the size given (``diameter_um``) is the beam diameter.
- ``"en12543-5"`` (EN 12543-5 / ISO 32543-3, 5–300 µm): the 50 % → 90 % widths of the two
  edges of the edge-spread function (ESF, the cumulative of the LSF), added.
- ``"iec60336"`` (IEC 60336:2020): the width of the LSF at 15 % of its maximum.
- ``"astm-e1165"`` (ASTM E1165 / EN 12543-2 pinhole): the diameter of the 10 % isodose
  contour of the 2-D image.

For a Gaussian of FWHM F = 2√(2 ln 2) σ: EN 12543-5 gives 2 × 1.2816σ = 1.089 F (1.2816 =
Φ⁻¹(0.9)); IEC 60336 gives 2σ√(2 ln(1/0.15)) = 1.654 F; ASTM E1165 gives 2σ√(2 ln 10) =
1.823 F (review §4.3; the 1.09, 1.65, 1.82 of issue 12). For a uniform disc of diameter d
the LSF is the semicircle √(1 − (2x/d)²): its FWHM is 0.866 d, its 15 % width
2·√(1 − 0.15²)·d/2 = 0.989 d; the 10 % isodose of the disc is d itself; the ESF 50 → 90 %
widths of a semicircle LSF add to 0.687 d (computed here, review §4.3 agrees). These
factors convert a size given under a definition to the beam's FWHM (diameter for flat top):
beam size = given / factor.

The predicted X-ray spot (``predicted_sizes``) applies the same definitions to the image of
the deposited energy: the spot convolved with the kernel's lateral spread (the depth-summed
core and halo Gaussians of the top layer), taking X-ray emission proportional to the
deposited energy (assumption: it ignores the depth dependence of bremsstrahlung yield and
absorption). Below a few µm this is larger than the beam.

Units: SI (m). Pure numpy.
"""

from __future__ import annotations

import math

import numpy as np

from .beam import blurred_disc_norm

DEFINITIONS = ("fwhm", "en12543-5", "iec60336", "astm-e1165")
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


def _gaussian_factor(definition: str) -> float:
    """Size under the definition / FWHM for a Gaussian (closed forms above)."""
    s = 1.0 / FWHM_PER_SIGMA
    return {"fwhm": 1.0,
            "en12543-5": 2.0 * 1.2815515655446004 * s,  # Φ⁻¹(0.9)
            "iec60336": 2.0 * math.sqrt(2.0 * math.log(1 / 0.15)) * s,
            "astm-e1165": 2.0 * math.sqrt(2.0 * math.log(10.0)) * s}[definition]


def _disc_factor(definition: str) -> float:
    """Size under the definition / diameter for a uniform disc ("fwhm": the diameter itself,
    the meaning of diameter_um)."""
    if definition in ("fwhm", "astm-e1165"):
        return 1.0
    if definition == "iec60336":
        return math.sqrt(1.0 - 0.15**2)
    x = np.linspace(-0.5, 0.5, 200001)
    lsf = np.sqrt(np.clip(1 - (2 * x) ** 2, 0, None))
    return _edge_width(x, lsf)


def conversion_factor(definition: str, shape: str) -> float:
    """Given size / beam size (FWHM; diameter for a flat top) under a definition.

    Args:
        definition: one of DEFINITIONS.
        shape: the spot shape ("flat_top" or a Gaussian shape).
    """
    return _disc_factor(definition) if shape == "flat_top" else _gaussian_factor(definition)


def size_words(shape: str, size_m: float, size2_m: float | None = None,
               definition: str = "fwhm", given_m: float | None = None) -> str:
    """The beam's size as what it is, in µm: "FWHM 20 µm" (Gaussian shapes; a footprint's:
    of the round beam across its axis), "diameter 20 µm" (flat top), "FWHM 30 × 10 µm"
    (elliptical: major × minor), "FWHM 5 µm across, 2000 µm long" (line); a size given
    under a standard's definition adds what was given ("; given as 5 µm en12543-5"), since
    size_m is already converted to the beam's FWHM or diameter.

    Args:
        shape: the spot shape (model.SPOT_SHAPES).
        size_m, size2_m: the beam's sizes (m), as case.model.Beam holds them.
        definition: the size definition the case gave (DEFINITIONS).
        given_m: the size as given (m), before conversion.
    """
    um = lambda x: f"{x * 1e6:.4g}"  # noqa: E731
    if shape == "flat_top":
        text = f"diameter {um(size_m)} µm"
    elif shape == "elliptical" and size2_m is not None:
        text = f"FWHM {um(size_m)} × {um(size2_m)} µm (major × minor)"
    elif shape == "line" and size2_m is not None:
        text = f"FWHM {um(size_m)} µm across, {um(size2_m)} µm long"
    else:
        text = f"FWHM {um(size_m)} µm" + (" (the round beam's, across its axis)"
                                          if shape == "footprint" else "")
    if definition != "fwhm" and given_m is not None:
        text += f"; given as {um(given_m)} µm {definition}"
    return text


def _edge_width(x: np.ndarray, lsf: np.ndarray) -> float:
    """EN 12543-5: both edges' 50 % → 90 % widths of the ESF, added."""
    esf = np.cumsum(lsf)
    esf = esf / esf[-1]
    left = np.interp(0.9, esf, x) - np.interp(0.5, esf, x)
    rev = np.cumsum(lsf[::-1])
    rev = rev / rev[-1]
    right = np.interp(0.9, rev, -x[::-1]) - np.interp(0.5, rev, -x[::-1])
    return float(left + right)


def _width_at(x: np.ndarray, prof: np.ndarray, level: float) -> float:
    """Width (m) of a single-peaked profile at level × its maximum (linear interpolation)."""
    p = prof / prof.max()
    i = np.nonzero(p >= level)[0]
    lo, hi = i[0], i[-1]

    def cross(a, b):
        return x[a] + (level - p[a]) * (x[b] - x[a]) / (p[b] - p[a]) if p[b] != p[a] else x[a]
    xl = cross(lo - 1, lo) if lo > 0 else x[0]
    xr = cross(hi, hi + 1) if hi < len(x) - 1 else x[-1]
    return float(xr - xl)


def image(shape: str, size_m: float, size2_m: float | None, angle_rad: float,
          blur: list[tuple[float, float]], u: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Deposited-energy image on the grid (u along the spot's major axis, w across):
    Σ_k weight_k · spot ⊗ N(0, v_k), blur = [(weight, v m²)]; shapes as in beam.Spot.

    Gaussian, elliptical and line spots blurred by a round Gaussian are separable in u and
    w: the image is Σ_k a_k(u) b_k(w), one matrix product of the 1-D profiles instead of a
    2-D exponential per blur term (a kernel's top layer has tens of terms)."""
    if shape in ("flat_top", "line"):  # only these need it: scipy.special's import costs
        from scipy.special import erf, erfc  # 0.3-0.8 s of a run (Gaussian spots: none)
    if shape == "flat_top":
        U, W = np.meshgrid(u, w, indexing="ij")
        out = np.zeros_like(U)
        a = 0.5 * size_m
        for wt, v in blur:
            sd = math.sqrt(v + (1e-4 * a) ** 2)
            out += wt * 0.5 * erfc((np.hypot(U, W) - a) / (math.sqrt(2) * sd)) / \
                blurred_disc_norm(a, sd)
        return out
    if not blur:
        return np.zeros((len(u), len(w)))
    along, across = [], []  # columns a_k(u) (weight included), b_k(w)
    for wt, v in blur:
        if shape == "line":
            s2 = (size_m / FWHM_PER_SIGMA) ** 2 + v
            half, k = 0.5 * size2_m, 1 / math.sqrt(2 * s2)
            along.append(wt * (erf((half - u) * k) + erf((half + u) * k)) / (4 * half))
            across.append(np.exp(-w * w / (2 * s2)) / math.sqrt(2 * math.pi * s2))
        else:
            s1 = (size_m / FWHM_PER_SIGMA) ** 2 + v
            s2 = ((size2_m if shape == "elliptical" else size_m) / FWHM_PER_SIGMA) ** 2 + v
            along.append(wt * np.exp(-u * u / (2 * s1)) / (2 * math.pi * math.sqrt(s1 * s2)))
            across.append(np.exp(-w * w / (2 * s2)))
    return np.column_stack(along) @ np.column_stack(across).T


def sizes_of_image(u: np.ndarray, w: np.ndarray, img: np.ndarray) -> dict:
    """{definition: (size along u, size along w)} (m) of a centred image."""
    out = {}
    iu, iw = len(u) // 2, len(w) // 2
    for axis, x, lsf, prof in ((0, u, img.sum(axis=1), img[:, iw]),
                               (1, w, img.sum(axis=0), img[iu, :])):
        vals = {"fwhm": _width_at(x, lsf, 0.5), "en12543-5": _edge_width(x, lsf),
                "iec60336": _width_at(x, lsf, 0.15), "astm-e1165": _width_at(x, prof, 0.1)}
        for k, v in vals.items():
            out.setdefault(k, [0.0, 0.0])[axis] = v
    return {k: tuple(v) for k, v in out.items()}


def predicted_sizes(spot, n: int = 401) -> dict:
    """Predicted X-ray focal-spot sizes (µm) of a beam.Spot under every definition, with
    the kernel's lateral spread of the top layer (none for other depositions).

    Returns:
        {definition: size µm} for round spots; {definition: [along u, along w] µm} for
        elliptical, footprint and line spots.
    """
    blur = [(1.0, 0.0)]
    if spot.deposition == "kernel" and spot.kernel is not None:
        lk = spot.kernel.layers[0]
        g = np.asarray(lk.density_per_m) * lk.step_m
        g[0] *= 0.5
        g[-1] *= 0.5
        blur = [(gi * wi, v1) for gi, wi, v1 in zip(g, lk.core_weight, lk.core_var_m2)] + \
               [(gi * (1 - wi), v2) for gi, wi, v2 in zip(g, lk.core_weight, lk.halo_var_m2)]
        blur = [(wt, v) for wt, v in blur if wt > 0]
    ext = spot.half_extents_m
    half = 1.3 * max(ext) + 1e-9
    x = np.linspace(-half, half, n)
    sizes = sizes_of_image(x, x, image(spot.shape, spot.size_m, spot.size2_m, 0.0, blur, x, x))
    if spot.shape in ("gaussian", "flat_top"):
        return {k: 0.5 * (a + b) * 1e6 for k, (a, b) in sizes.items()}
    return {k: [a * 1e6, b * 1e6] for k, (a, b) in sizes.items()}
