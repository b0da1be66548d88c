"""``anodesim materials``: the material library."""

from __future__ import annotations


def add_args(p) -> None:
    """No arguments."""


def materials(args) -> int:
    """List the material library with its ranges and limits."""
    from ..materials import PROPERTY_KEYS, library

    def C(T_K: float) -> str:
        return f"{T_K - 273.15:.0f}"

    def span(t) -> str:
        lo, hi = t.range_K
        return f"{C(lo)} to {C(hi)} °C"

    print("anodesim material library: temperatures in °C; tables are interpolated linearly "
          "inside their range and never extrapolated")
    for key, m in sorted(library().items(), key=lambda kv: kv[0].lower()):
        print(f"{key:8s} {m.name:31s} k(20 °C) {float(m.k(293.15)):7.1f} W/m/K   "
              f"{m.melting_kind} {C(m.melting_K)} °C   damage {C(m.damage_K)} °C   "
              f"eta_E {m.backscatter_energy_fraction:.3g}")
        groups: dict[str, list[str]] = {}  # range -> properties, in PROPERTY_KEYS order
        for prop in PROPERTY_KEYS:
            groups.setdefault(span(m.tables[prop]), []).append(prop)
        if len(groups) == 1:
            ranges = f"all properties {next(iter(groups))}"
        else:
            ranges = "; ".join(f"{', '.join(props)} {rng}" for rng, props in groups.items())
        sy = m.yield_strength
        ys = f"yield strength {span(sy)}" if sy is not None else "yield strength: none"
        print(f"{'':8s} tables: {ranges}; {ys}")
    print("Sources, provenance and the reason for each limit: src/anodesim/data/materials.toml")
    return 0
