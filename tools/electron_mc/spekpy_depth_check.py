"""Cross-check: mean deposition depths of W, Mo and Cu from the PENELOPE electron data of SpekPy.

SpekPy (MIT licence; Poludniowski, Omar, Bujila et al., Med. Phys. 48, 3630, 2021) ships two
sets of Monte Carlo electron data for its X-ray spectrum models. Only the second measures
the quantity anodesim tabulates, the mean depth of the deposited energy along the normal:

- ``data/tables/advanced/Z{74,42,29}_*.npz`` (model "kqp"; Omar, Andreo & Poludniowski,
  Med. Phys. 47, 4763, 2020, computed with PENELOPE): ``NE[u, x]``, the electron
  *track length* per unit depth x (in CSDA ranges) and per unit energy E = u E0, at normal
  incidence, for W at 10–500 keV and Mo, Cu at 10–50 keV. Track length per unit depth
  times the stopping power is the depth–dose of the continuous slowing down:
  D(x) = ∫ NE(u, x) S(u E0) dE, and z̄ = R ∫ x D dx / ∫ D dx with R SpekPy's CSDA range
  (``CSDA.npz``) of the same tables. Evidence that NE is a track length: its surface value
  is 1.86–1.89 for W (one incoming crossing plus the backscattered electrons' exits, each
  weighted 1/|cos θ|; a crossing count would give 1 + η ≈ 1.5), SpekPy's own code converts
  it to the isotropic "diversion" 2 when it assumes instant diffusion (SpekAniso.py), and
  ∫∫ NE S dE dx R = 0.59–0.66 E0 for W at 50–200 keV, the deposited fraction 1 − η_E.
  S is ours (emc.py; these tables come without one). It weights the energies present at
  a depth: a stopping power whose slope differs by 5 % per e-fold of energy loss moves z̄
  by 0.6–0.7 % (W 10–100 keV, Cu 30 keV).
- ``data/tables/ne.dat`` and ``pe.dat`` (the legacy SpekCalc model; Poludniowski & Evans,
  Med. Phys. 34, 2164, 2007): ``ne`` is the *number* of electrons crossing the depth t
  (1.49 at the surface for W = 1 + η), not a track length. Weighting it by the stopping
  power under-weights the deep layers, where the electrons are diffuse and travel
  1/|cos θ| > 1 per unit depth: it gives z̄ = 0.133 R for W at 50–150 keV against 0.143 /
  0.139 / 0.136 R from the track lengths, i.e. 7 % too shallow at 50 keV (0.666 µm against
  0.700 µm), and ∫ ne S dt R = 0.28–0.32 E0, half the deposited energy. An earlier version
  of this script used it; the test reference 0.666 µm came from it (see README).

Independence: PENELOPE uses the same ELSEPA elastic cross sections as our tables (its
database), so this checks the transport (the mixed scheme, the continuous slowing down
against PENELOPE's inelastic model with straggling and secondaries, the scoring), not the
elastic cross sections; those are checked against measured η (Hunger–Küchler) in the tests.

Run (needs SpekPy; it is not a dependency of anodesim):

    pip install --no-deps --target /tmp/spekpy spekpy
    python tools/electron_mc/spekpy_depth_check.py /tmp/spekpy

The mean depths in CSDA ranges printed are those of tests/test_electron_kernels.py
(PENELOPE_MEAN_DEPTH), which compares them with the shipped table's mean depth over the same
depths [0, x_max R] in its own CSDA ranges R.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import emc  # noqa: E402

ATOMIC_NUMBER = {"W": 74, "Mo": 42, "Cu": 29}


def _tables(root: Path) -> Path:
    """SpekPy's data/tables folder under an installed package or a --target folder."""
    if root is None:
        import spekpy  # noqa: PLC0415

        root = Path(spekpy.__file__).resolve().parent.parent
    return Path(root) / "spekpy" / "data" / "tables"


def penelope_mean_depth(tables: Path, material: str, E0_keV: float) -> tuple[float, float, float]:
    """Mean deposition depth from the track-length tables, by the trapezoid rule on their
    depth nodes, which end at x_max = 0.5 (W, Mo) or 0.7 (Cu) CSDA ranges.

    Returns:
        (mean depth µm, SpekPy's CSDA range µm, x_max).

    Raises:
        KeyError: E0 is not one of the tabulated energies.
    """
    Z = ATOMIC_NUMBER[material]
    m = emc.Material.get(material)
    for f in sorted((tables / "advanced").glob(f"Z{Z}_[0-9]*.npz")):
        d = np.load(f)
        e0 = [float(e) for e in d["E0_table"]]
        if E0_keV in e0:
            k = e0.index(E0_keV)
            break
    else:
        raise KeyError(f"{material} {E0_keV} keV is not tabulated")
    x, u = d["x"].astype(float), d["u"].astype(float)
    NE = d["NE"][:, :, k].astype(float)
    csda = np.load(tables / "advanced" / "CSDA.npz")
    R_um = float(np.interp(E0_keV, csda[f"E0{Z:02d}"], csda[f"rng{Z}"])) / m.rho * 1e4
    S = m.stopping_keV_um(np.maximum(u * E0_keV, 0.3))
    D = np.trapezoid(NE * S[:, None], u * E0_keV, axis=0)
    return float(np.trapezoid(D * x, x) / np.trapezoid(D, x) * R_um), R_um, float(x[-1])


def legacy_mean_depth(tables: Path, E0_keV: float) -> float:
    """W mean depth (µm) from the legacy crossing-number tables (biased shallow, see above)."""
    pe = json.loads((tables / "pe.dat").read_text())
    ne = np.array(json.loads((tables / "ne.dat").read_text())["ne"])
    er = json.loads((tables / "erange.dat").read_text())
    W = emc.Material.get("W")
    p = np.array(pe["pe"])
    i = int(round(E0_keV / pe["dE0"]))
    t = np.arange(ne.shape[1]) * pe["dt_scaled"]
    u = np.arange(p.shape[2]) * pe["du"]
    pn = p[i] / np.maximum(p[i].sum(axis=1, keepdims=True), 1e-300)
    D = ne[i] * (pn * W.stopping_keV_um(np.maximum(u * E0_keV, 0.3))[None, :]).sum(axis=1)
    R_um = np.interp(E0_keV / 1e3, er["E0"], er["range_csda"]) / W.rho * 1e4
    return float((D * t).sum() / D.sum() * R_um)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    tables = _tables(Path(argv[0]) if argv else None)
    print("material  E0 (keV)  mean depth (µm)  in CSDA ranges  x_max  SpekPy R_CSDA (µm)  "
          "ours R_CSDA (µm)  legacy crossing count (µm)")
    for mat, energies in (("W", (10, 20, 30, 50, 75, 100, 150, 200)),
                          ("Mo", (10, 20, 30, 50)), ("Cu", (10, 20, 30, 50))):
        for E0 in energies:
            zbar, R, x_max = penelope_mean_depth(tables, mat, E0)
            legacy = f"{legacy_mean_depth(tables, E0):.3f}" if mat == "W" else "-"
            print(f"{mat:8s}  {E0:8d}  {zbar:15.4f}  {zbar / R:14.4f}  {x_max:5.2f}  {R:18.3f}  "
                  f"{emc.Material.get(mat).csda_range_um(E0):16.3f}  {legacy:>26s}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
