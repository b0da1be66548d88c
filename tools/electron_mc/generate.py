"""Generate anodesim's electron deposition kernel tables with the Monte Carlo of emc.py.

Usage (from the repository root; about 20–25 min of one core with the defaults):

    nice -n 10 python tools/electron_mc/generate.py \\
        --out src/anodesim/data/electron_kernels.npz

    # one point only, printed as JSON (used by the slow test):
    python tools/electron_mc/generate.py --point W 100 0 --n 2000 --seed 7

The table layout is described in README.md and in src/anodesim/electron_kernels.py.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import emc  # noqa: E402

BULK = ["W", "Mo", "Cu", "diamond", "Be"]
VOLTAGES_KV = [10, 20, 30, 50, 75, 100, 130, 160, 190, 225]
ANGLES_DEG = [0, 15, 30, 45, 60, 70, 80]
FILMS = [("W", "diamond"), ("W", "Be")]
THICKNESS_UM = [0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0]
NZ, NR = 48, 40
# bin edges as fractions of the CSDA range R0: quadratic spacing, fine near the surface
# and the axis where the energy of high-Z targets is concentrated
Z_EDGES_FRAC = (np.arange(NZ + 1) / NZ) ** 2
R_EDGES_FRAC = (np.arange(NR + 1) / NR) ** 2


SOURCES = [
    "Salvat, Jablonski & Powell, ELSEPA, Comput. Phys. Commun. 165, 157 (2005): Dirac partial-wave "
    "elastic cross sections; as tabulated in the PENELOPE database files eeldx004/006/029/042/074.p08 "
    "(copied from PenRed, github.com/PenRed/PenRed, dataBases/penmaterials/pdfiles, commit 9978863; "
    "PENELOPE licence, Universitat de Barcelona; tools/electron_mc/data/README.md)",
    "Fano, Phys. Rev. 93, 117 (1954) [recalled, not re-read]: the Z(Z+1) rule, here (Z+1)/Z on the "
    "ELSEPA DCS for the angular deflections by the atomic electrons",
    "Joy, Monte Carlo Modeling for Electron Microscopy and Microanalysis (OUP 1995): screened "
    "Rutherford cross section and screening parameter",
    "ICRU Report 37 (1984): collision stopping power of electrons; mean excitation energies",
    "Joy & Luo, Scanning 11, 176 (1989): low-energy correction of the Bethe stopping power",
    "Browning, Li, Chui, Ye, Pease, Czyzewski & Joy, J. Appl. Phys. 76, 2016 (1994): empirical "
    "fit to Mott elastic cross sections (0.1-30 keV): the energy dependence of the Mott correction "
    "below 50 keV for Z > 34 (W, Mo)",
    "McKinley & Feshbach, Phys. Rev. 74, 1759 (1948): Mott/Rutherford ratio for low Z (why C and "
    "Be keep the screened Rutherford cross section)",
    "Salvat, Fernandez-Varea & Sempau, PENELOPE manual (NEA): mixed class II elastic scheme, "
    "random hinge",
    "Kanaya & Okayama, J. Phys. D 5, 43 (1972): range used as a bound in the tests",
]
LAYOUT = (
    "axes [material, voltage_kV, incidence_deg] for eta, eta_se, eta_E, eta_E_se, deposited, "
    "mean_depth_um, mean_depth_se_um, z50/z90/z99/z999_um (depths holding that share of the "
    "deposited energy), r50/r90_um (radii from the entry point); kernel[..., z, r] = fraction "
    "of the beam energy per bin, edges z_edges_frac/r_edges_frac x csda_range_um[material, "
    "voltage]; xmean_frac[..., z] = energy-weighted mean x offset / csda range; "
    "bs_theta[..., 9] = backscattered energy fraction per equal cos(theta) bin from 0 to 1; "
    "bs_forward = share of the backscattered energy leaving with u > 0 (forward, along the "
    "beam's in-plane direction); bs_shift = energy-weighted mean exit tangent u/|w| (each exit "
    f"clipped to +-{emc.BS_TAN_MAX:g}), the mean landing offset on a parallel plane at distance H "
    "in units of H; "
    "film_* [pair, voltage_kV, film_thickness_um] for normal incidence"
)


def seed_for(*key) -> int:
    """A reproducible seed per table point."""
    return int.from_bytes(json.dumps(key).encode(), "little") % (2**31 - 1)


def percentile(fine: np.ndarray, h: float, q: float) -> float:
    """Position (µm) below which the fraction q of the tallied energy lies."""
    c = np.cumsum(fine)
    c = c / c[-1]
    i = int(np.searchsorted(c, q))
    lo = c[i - 1] if i > 0 else 0.0
    return float(h * (i + (q - lo) / max(c[i] - lo, 1e-300)))


def bulk_point(mat: str, kv: float, psi: float, n: int, seed: int) -> dict:
    """Run one half-space point; return scalars, kernel histogram and moments."""
    R0 = emc.Material.get(mat).csda_range_um(kv)
    r = emc.simulate(
        kv, psi, mat, n=n, seed=seed,
        z_edges_um=Z_EDGES_FRAC * R0, r_edges_um=R_EDGES_FRAC * R0, fine_max_um=R0,
    )
    h = R0 / emc.N_FINE
    dep = r.hist.sum()
    zsum = r.hist.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        xmean = np.where(zsum > 0, r.xmom / np.where(zsum > 0, zsum, 1.0), 0.0)
    return dict(
        eta=r.eta, eta_se=r.eta_se, eta_E=r.eta_E, eta_E_se=r.eta_E_se,
        deposited=dep, mean_depth_um=r.mean_depth_um, mean_depth_se_um=r.mean_depth_se_um,
        z50_um=percentile(r.fine_z, h, 0.5), z90_um=percentile(r.fine_z, h, 0.9),
        z99_um=percentile(r.fine_z, h, 0.99), z999_um=percentile(r.fine_z, h, 0.999),
        r50_um=percentile(r.fine_r, h, 0.5), r90_um=percentile(r.fine_r, h, 0.9),
        kernel=r.hist, xmean_frac=xmean / R0, bs_theta=r.bs_theta, csda_um=R0,
        bs_forward=r.bs_forward, bs_shift=r.bs_shift,
    )


def film_point(film: str, sub: str, kv: float, t_um: float, n: int, seed: int) -> dict:
    """Run one film-on-substrate point at normal incidence."""
    r = emc.simulate(kv, 0.0, film, sub, t_um, n=n, seed=seed)
    return dict(
        film=r.dep_film, film_se=r.dep_film_se, substrate=r.dep_total - r.dep_film,
        eta=r.eta, eta_E=r.eta_E, eta_E_se=r.eta_E_se,
    )


def method_text() -> str:
    """One-paragraph description of the Monte Carlo physics for the provenance file."""
    if emc.ELASTIC == "elsepa":
        elastic = ("elastic scattering from the ELSEPA differential cross sections of the PENELOPE "
                   "database (eeldxZZZ.p08, tabulated on PENELOPE's 606 angles, log-log "
                   f"interpolated onto {emc.N_EGRID} energies"
                   + (", times (Z+1)/Z for the angular deflections by inelastic collisions"
                      if emc.INELASTIC_DEFLECTION else "") + "), ")
    else:
        elastic = ("screened Rutherford elastic scattering (Joy screening, relativistic "
                   "kinematics, Z(Z+1)), "
                   + ("Mott-corrected for Z > %d below %g keV (total and transport cross "
                      "sections scaled by the energy dependence of Browning et al.'s Mott fit "
                      "relative to the screened Rutherford one, anchored at %g keV), "
                      % (emc.MOTT_MIN_Z, emc.MOTT_E_REF_KEV, emc.MOTT_E_REF_KEV)
                      if emc.MOTT else "no Mott correction, "))
    return ("condensed-history (class II mixed) electron Monte Carlo: " + elastic
            + f"hard collisions above the cutoff with lambda_h = max(lambda_el, {emc.C1} "
            "lambda_1), random-hinge soft deflection, CSDA with the ICRU 37 Bethe collision "
            "stopping power and the Joy-Luo low-energy correction, "
            f"step energy loss <= {emc.F_E:.0%}, cutoff max({emc.E_CUT_MIN_KEV} keV, "
            f"{emc.E_CUT_FRAC} E0)")


def _rows_provenance(redo: set, base_prov: dict | None) -> dict:
    """Which voltage rows were made by which physics (a partial regeneration keeps rows)."""
    this = ", ".join(f"{v:g}" for v in VOLTAGES_KV if v in redo) + " kV"
    rows = {this: {"method": method_text(), "generated_utc":
                   time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}}
    if base_prov is not None:
        kept = [v for v in VOLTAGES_KV if v not in redo]
        if kept:
            rows[", ".join(f"{v:g}" for v in kept) + " kV"] = {
                "method": base_prov["method"], "generated_utc": base_prov["generated_utc"],
                "generator_commit": base_prov.get("generator_commit", ""),
                "cpu_seconds_of_the_whole_base_table": base_prov.get("cpu_seconds"),
                "note": base_prov.get("note", "")}
    return rows


def _timed_bulk(args):
    """bulk_point(*args) and its wall time (s), for a worker pool."""
    t0 = time.time()
    return bulk_point(*args), time.time() - t0


def _timed_film(args):
    """film_point(*args) and its wall time (s), for a worker pool."""
    t0 = time.time()
    return film_point(*args), time.time() - t0


def _children_cpu_s() -> float:
    """CPU seconds (user + system) of the finished worker processes."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("src/anodesim/data/electron_kernels.npz"))
    ap.add_argument("--n-bulk", type=int, default=10000, help="histories per half-space point")
    ap.add_argument("--n-film", type=int, default=6000, help="histories per film point")
    ap.add_argument("--point", nargs=3, metavar=("MATERIAL", "KV", "DEG"),
                    help="run one half-space point and print its scalars as JSON")
    ap.add_argument("--n", type=int, default=2000, help="histories for --point")
    ap.add_argument("--seed", type=int, default=12345, help="seed for --point")
    ap.add_argument("--elastic", choices=("elsepa", "rutherford"), default="elsepa",
                    help="elastic model: the ELSEPA DCS (default) or the Joy-screened Rutherford "
                         "with the Mott correction for W and Mo (the 50–225 kV rows before "
                         "2026-12-02c)")
    ap.add_argument("--no-mott", action="store_true",
                    help="with --elastic rutherford: no Mott correction (the first tables)")
    ap.add_argument("--jobs", type=int, default=1,
                    help="worker processes (the table does not depend on it: seeds are per point)")
    ap.add_argument("--voltages", type=int, nargs="+", metavar="KV",
                    help="regenerate only these table voltages (bulk and film rows); the other "
                         "rows are copied from --base")
    ap.add_argument("--base", type=Path, default=None,
                    help="with --voltages: the table whose other rows are kept (default --out)")
    a = ap.parse_args(argv)
    emc.MOTT = not a.no_mott
    emc.ELASTIC = a.elastic

    if a.point:
        mat, kv, psi = a.point[0], float(a.point[1]), float(a.point[2])
        res = bulk_point(mat, kv, psi, a.n, a.seed)
        print(json.dumps({k: v for k, v in res.items() if np.ndim(v) == 0}))
        return 0

    t_start = time.process_time()
    nm, nv, na, nt = len(BULK), len(VOLTAGES_KV), len(ANGLES_DEG), len(THICKNESS_UM)
    scal = ["eta", "eta_se", "eta_E", "eta_E_se", "deposited", "mean_depth_um",
            "mean_depth_se_um", "z50_um", "z90_um", "z99_um", "z999_um", "r50_um", "r90_um",
            "bs_forward", "bs_shift"]
    out = {k: np.zeros((nm, nv, na)) for k in scal}
    kernel = np.zeros((nm, nv, na, NZ, NR), dtype=np.float32)
    xmean = np.zeros((nm, nv, na, NZ), dtype=np.float32)
    bs_theta = np.zeros((nm, nv, na, emc.N_THETA_BS), dtype=np.float32)
    csda = np.zeros((nm, nv))
    ko = np.zeros((nm, nv))
    redo = set(VOLTAGES_KV)
    base = base_prov = None
    if a.voltages:
        redo = set(a.voltages)
        if not redo <= set(VOLTAGES_KV):
            ap.error(f"--voltages must be among {VOLTAGES_KV}")
        base_path = a.base or a.out
        base = dict(np.load(base_path))
        base_prov = json.loads(base_path.with_suffix(".json").read_text())
        for key in scal:
            out[key][:] = base[key]
        kernel[:], xmean[:], bs_theta[:] = base["kernel"], base["xmean_frac"], base["bs_theta"]
    for i, mat in enumerate(BULK):
        for j, kv in enumerate(VOLTAGES_KV):
            csda[i, j] = emc.Material.get(mat).csda_range_um(kv)
            ko[i, j] = emc.Material.get(mat).kanaya_okayama_um(kv)
    pool = multiprocessing.get_context("fork").Pool(a.jobs) if a.jobs > 1 else None
    run = pool.imap if pool else map
    bulk_keys = [(i, j, k) for i in range(nm) for j in range(nv) for k in range(na)
                 if VOLTAGES_KV[j] in redo]
    bulk_args = [(BULK[i], VOLTAGES_KV[j], ANGLES_DEG[k], a.n_bulk,
                  seed_for("bulk", BULK[i], VOLTAGES_KV[j], ANGLES_DEG[k])) for i, j, k in bulk_keys]
    for (i, j, k), (res, wall) in zip(bulk_keys, run(_timed_bulk, bulk_args)):
                mat, kv, psi = BULK[i], VOLTAGES_KV[j], ANGLES_DEG[k]
                for key in scal:
                    out[key][i, j, k] = res[key]
                kernel[i, j, k] = res["kernel"]
                xmean[i, j, k] = res["xmean_frac"]
                bs_theta[i, j, k] = res["bs_theta"]
                print(f"{mat:8s} {kv:4d} kV {psi:3d}°  η={res['eta']:.3f} ηE={res['eta_E']:.3f} "
                      f"z̄={res['mean_depth_um']:.3g} µm  {wall:.1f} s", flush=True)
    fshape = (len(FILMS), nv, nt)
    film = {k: np.zeros(fshape) for k in ("film", "film_se", "substrate", "eta", "eta_E", "eta_E_se")}
    if base is not None:
        for key, bkey in (("film", "film_share"), ("film_se", "film_share_se"),
                          ("substrate", "film_substrate_share"), ("eta", "film_eta"),
                          ("eta_E", "film_eta_E"), ("eta_E_se", "film_eta_E_se")):
            film[key][:] = base[bkey]
    film_keys = [(i, j, k) for i in range(len(FILMS)) for j in range(nv) for k in range(nt)
                 if VOLTAGES_KV[j] in redo]
    film_args = [(*FILMS[i], VOLTAGES_KV[j], THICKNESS_UM[k], a.n_film,
                  seed_for("film", *FILMS[i], VOLTAGES_KV[j], THICKNESS_UM[k]))
                 for i, j, k in film_keys]
    for (i, j, k), (res, wall) in zip(film_keys, run(_timed_film, film_args)):
                (f, s), kv, t_um = FILMS[i], VOLTAGES_KV[j], THICKNESS_UM[k]
                for key in film:
                    film[key][i, j, k] = res[key]
                print(f"{f}/{s} {kv:4d} kV {t_um:5.1f} µm  film={res['film']:.3f} "
                      f"ηE={res['eta_E']:.3f}  {wall:.1f} s", flush=True)
    if pool:
        pool.close()
        pool.join()
    cpu_s = time.process_time() - t_start + _children_cpu_s()

    a.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        a.out,
        materials=np.array(BULK), voltage_kV=np.array(VOLTAGES_KV, float),
        incidence_deg=np.array(ANGLES_DEG, float),
        z_edges_frac=Z_EDGES_FRAC, r_edges_frac=R_EDGES_FRAC,
        csda_range_um=csda, kanaya_okayama_um=ko,
        kernel=kernel, xmean_frac=xmean, bs_theta=bs_theta,
        **out,
        film_pairs=np.array([f"{f}/{s}" for f, s in FILMS]),
        film_thickness_um=np.array(THICKNESS_UM),
        film_share=film["film"], film_share_se=film["film_se"],
        film_substrate_share=film["substrate"], film_eta=film["eta"],
        film_eta_E=film["eta_E"], film_eta_E_se=film["eta_E_se"],
        n_bulk=a.n_bulk, n_film=a.n_film,
    )
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=False).stdout.strip()
    except OSError:
        commit = ""
    prov = {
        "generator": "tools/electron_mc/generate.py (Monte Carlo: tools/electron_mc/emc.py)",
        "method": (method_text() if redo == set(VOLTAGES_KV) else
                   "rows made with two models: see 'rows' (a partial regeneration, --voltages)"),
        "rows": _rows_provenance(redo, base_prov),
        "materials": {m: emc.MATERIALS[m] for m in BULK},
        "histories_per_bulk_point": a.n_bulk,
        "histories_per_film_point": a.n_film,
        "cpu_seconds": round(cpu_s, 1),
        "generated_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "generator_commit": commit,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "statistical_uncertainty": "standard errors per point are in the table (eta_se, "
                                   "eta_E_se, mean_depth_se_um, film_share_se), batch method "
                                   "with 20 groups of histories",
        "validation": "tests/test_electron_kernels.py; tools/electron_mc/README.md",
        "sources": SOURCES,
        "layout": LAYOUT,
    }
    a.out.with_suffix(".json").write_text(json.dumps(prov, indent=2) + "\n")
    print(f"wrote {a.out} ({os.path.getsize(a.out) / 1e6:.2f} MB), CPU {cpu_s:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
