"""Extract the ELSEPA elastic cross sections that emc.py uses from the PENELOPE database.

PENELOPE-2008's electron elastic database (files ``eeldxZZZ.p08``) tabulates, for each
element and 96 energies from 50 eV to 100 MeV, the total cross section, the first and second
transport cross sections and the differential cross section dσ/dΩ (cm²/sr) at 606 fixed
polar angles. The DCS were computed with ELSEPA (Dirac partial waves, static-exchange
potential of the Dirac–Fock atom, with the solid-state correlation–polarisation treatment of
the database; Salvat, Jablonski & Powell, Comput. Phys. Commun. 165, 157, 2005).

This script copies the rows from 0.3 to 400 keV for the generator's materials into
``data/elsepa_elastic.npz`` (float32, with the angle grid rebuilt as PENELOPE builds it).
The files are read from a checkout of PenRed (https://github.com/PenRed/PenRed, path
dataBases/penmaterials/pdfiles/, commit 9978863), which ships the PENELOPE-2018 database
under PENELOPE's permissive licence (notice in data/README.md).

Usage: python tools/electron_mc/extract_penelope_elastic.py PDFILES_DIR
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np

ELEMENTS = {"W": 74, "Mo": 42, "Cu": 29, "diamond": 6, "Be": 4}
E_MIN_EV, E_MAX_EV = 300.0, 4.0e5
N_ANGLES = 606


def penelope_angles_deg() -> np.ndarray:
    """PENELOPE's elastic-DCS angle grid (degrees), as built in its EELdR routine."""
    th = [0.0, 1e-4]
    while len(th) < N_ANGLES:
        t = th[-1]
        if t < 0.9999e-3:
            d = 2.5e-5
        elif t < 0.9999e-2:
            d = 2.5e-4
        elif t < 0.9999e-1:
            d = 2.5e-3
        elif t < 0.9999:
            d = 2.5e-2
        elif t < 0.9999e1:
            d = 1e-1
        elif t < 2.4999e1:
            d = 2.5e-1
        else:
            d = 0.5
        th.append(t + d)
    return np.array(th)


def read_eeldx(path: Path):
    """Energies (eV), σ0, σ1 (cm², PENELOPE's header values) and dσ/dΩ rows (cm²/sr)."""
    tok = path.read_text().split()
    E, s0, s1, dcs = [], [], [], []
    i = 0
    while i < len(tok):
        if tok[i] != "-1":
            raise ValueError(f"{path}: unexpected token {tok[i]!r} at {i}")
        E.append(float(tok[i + 2]))
        s0.append(float(tok[i + 3]))
        s1.append(float(tok[i + 4]))
        dcs.append(np.array(tok[i + 6 : i + 6 + N_ANGLES], dtype=float))
        i += 6 + N_ANGLES
    return np.array(E), np.array(s0), np.array(s1), np.array(dcs)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    src = Path(argv[0])
    out = {"theta_deg": penelope_angles_deg()}
    sha = {}
    for name, z in ELEMENTS.items():
        f = src / f"eeldx{z:03d}.p08"
        E, s0, s1, dcs = read_eeldx(f)
        keep = (E >= E_MIN_EV) & (E <= E_MAX_EV)
        out[f"{name}_E_eV"] = E[keep]
        out[f"{name}_sigma0_cm2"] = s0[keep]
        out[f"{name}_sigma1_cm2"] = s1[keep]
        out[f"{name}_dcs_cm2_sr"] = dcs[keep].astype(np.float32)
        sha[name] = hashlib.sha256(f.read_bytes()).hexdigest()
    out["source_sha256"] = np.array([f"{k}:eeldx{ELEMENTS[k]:03d}.p08:{v}" for k, v in sha.items()])
    dest = Path(__file__).resolve().parent / "data" / "elsepa_elastic.npz"
    np.savez_compressed(dest, **out)
    print(f"wrote {dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
