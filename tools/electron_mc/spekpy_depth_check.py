"""Cross-check: W mean deposition depth from the PENELOPE-derived electron data of SpekPy.

SpekPy (MIT licence; Poludniowski, Omar, Bujila et al., Med. Phys. 48, 3630, 2021) ships,
for its W-target spectrum model, tabulated electron penetration data from Monte Carlo:
``ne`` (the relative number of electrons at a depth t scaled by the CSDA range) and ``pe``
(the conditional distribution of their residual energy fraction u). A depth–dose follows as
D(t) ∝ ne(t) ∫ pe(u | t) S(u E0) du with our stopping power S, hence the mean deposition
depth ∫ t D dt / ∫ D dt × R_CSDA. The absolute scale of ``ne`` is not a track-length
fluence, so only the shape (mean depth) is compared, not the deposited fraction.

Run (needs ``pip install spekpy``; not a dependency of anodesim):

    python tools/electron_mc/spekpy_depth_check.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import emc  # noqa: E402


def main() -> int:
    import spekpy  # noqa: PLC0415

    tables = Path(spekpy.__file__).resolve().parent / "data" / "tables"
    pe = np.array(json.loads((tables / "pe.dat").read_text())["pe"])
    ne = np.array(json.loads((tables / "ne.dat").read_text())["ne"])
    er = json.loads((tables / "erange.dat").read_text())
    E_MeV, R_g_cm2 = np.array(er["E0"]), np.array(er["range_csda"])
    W = emc.Material.get("W")
    t = np.linspace(0.0, 1.0, ne.shape[1])
    u = np.linspace(0.0, 1.0, pe.shape[2])
    print("E0 (keV)  R_CSDA spekpy (µm)  R_CSDA emc (µm)  mean depth from spekpy data (µm)")
    for E0 in (30, 50, 100, 150, 160, 200):
        i = int(round(E0 / 10.0))  # spekpy's grid: 0–1000 keV in 10 keV steps
        R_um = np.interp(E0 / 1e3, E_MeV, R_g_cm2) / W.rho * 1e4
        pn = pe[i] / np.maximum(pe[i].sum(axis=1, keepdims=True), 1e-300)
        S = W.stopping_keV_um(np.maximum(u * E0, 0.3))
        D = ne[i] * (pn * S[None, :]).sum(axis=1)
        zbar = float((D * t).sum() / D.sum() * R_um)
        print(f"{E0:8d}  {R_um:18.2f}  {W.csda_range_um(E0):15.2f}  {zbar:10.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
