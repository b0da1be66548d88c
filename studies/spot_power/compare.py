"""Maximum continuous power per µm of spot size against the "about 1 W per µm" rule.

Reads the results table of studies/spot_power (run it first) and plots the confirmed
maximum continuous beam power divided by the FWHM for both targets, with the rule of thumb
and the published product figures (sources in studies/spot_power/README.md):

    python studies/spot_power/compare.py results/spot_power [figure.png]
"""

import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Hamamatsu L9181-06 (sealed reflection tube): 16 µm at 10 W and 50 µm at 39 W
# (Ghani et al., characterisation paper; physics reference §4.2).
HAMAMATSU = [(16.0, 10.0), (50.0, 39.0)]
# Rule of thumb: "approximately one watt of target power per micron of focal spot size"
# (Sourceray, reflection-target microfocus tubes; physics reference §4.1).
RULE_W_PER_UM = 1.0
# Bulk W, ideal heat sink, surface heating, Gaussian FWHM, incident power with 1/3 of it
# backscattered, spot at 2500-3000 K (physics reference §4.3, derived).
BULK_BAND = (0.81, 0.96)


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else Path("results/spot_power")
    figure = Path(argv[1]) if len(argv) > 1 else folder / "w_per_um.png"
    with open(folder / "results.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["status"] == "ok"]
    fig, ax = plt.subplots(figsize=(7.5, 4.6), layout="constrained")
    for name in dict.fromkeys(r["case"] for r in rows):
        pts = sorted((float(r["beam.fwhm_um"]), float(r["max_continuous_beam_power_W"]),
                      r["binding_continuous"]) for r in rows if r["case"] == name)
        label = Path(name).stem.replace("_", " ")
        ax.plot([p[0] for p in pts], [p[1] / p[0] for p in pts], "o-", lw=1.6, label=label)
        for d, P, bind in pts:
            print(f"{label:22s} FWHM {d:7.2f} µm  {P:8.2f} W  {P / d:5.2f} W/µm  ({bind} binds)")
    ax.axhline(RULE_W_PER_UM, color="k", ls="--", lw=1.2, label="rule of thumb, 1 W/µm")
    ax.axhspan(*BULK_BAND, color="0.85", label="bulk W, surface heating (2500-3000 K)")
    ax.plot([d for d, _ in HAMAMATSU], [P / d for d, P in HAMAMATSU], "ks", ms=7,
            label="Hamamatsu L9181-06 (product data)")
    ax.set_xscale("log")
    ax.set_xlabel("focal spot FWHM (µm)")
    ax.set_ylabel("max. continuous beam power per µm (W/µm)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Continuous rating per µm of spot size", fontsize=10)
    fig.savefig(figure, dpi=120)
    print(f"figure: {figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
