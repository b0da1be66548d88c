"""The results table (results.csv, one row per case in study order) and its quick-look plot
(results.png)."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

from .. import output
from .folder import FIXED_COLUMNS, result_of
from .spec import CASE_AXIS, Study


@dataclass
class Table:
    """The results of a sweep, one row (dict) per case in study order."""

    columns: list[str]
    rows: list[dict]
    out_dir: Path

    def column(self, name: str) -> list:
        """The values of one column (None where a case has none)."""
        return [row.get(name) for row in self.rows]

    @property
    def failed(self) -> list[dict]:
        return [row for row in self.rows if row["status"] == "failed"]


def collect(study: Study, out: Path) -> Table:
    """Rows of all cases (finished or not) in study order; writes results.csv atomically."""
    rows, outputs = [], []
    for p in study.points:
        stored = result_of(out, p) or {"status": "pending", "error": ""}
        row = {**stored, "index": p.index, "id": p.id, **p.inputs}
        rows.append(row)
        for k in row:
            if k not in FIXED_COLUMNS and k not in p.inputs and k not in outputs:
                outputs.append(k)
    columns = FIXED_COLUMNS[:2] + list(study.axes) + FIXED_COLUMNS[2:] + outputs
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for row in rows:
        w.writerow([_cell(row.get(c)) for c in columns])
    output.atomic_write(out / "results.csv", buf.getvalue(), durable=True)
    return Table(columns, rows, out)


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.10g}"
    return str(v)


def plot(study: Study, table: Table, say=print) -> Path | None:
    """Quick-look PNG: an output against an axis (one curve per value of the other axes),
    or a time-series column against time for every case (``plot.x = "time_s"``). A plot
    that cannot be drawn is reported, never raised: the table is the result."""
    try:
        return _plot(study, table)
    except Exception as e:  # noqa: BLE001
        say(f"quick-look plot not drawn: {type(e).__name__}: {e}")
        return None


def _plot(study: Study, table: Table) -> Path | None:
    axes = list(study.axes)
    x = study.plot.get("x", next((a for a in axes if a != CASE_AXIS), None))
    ys = study.plot.get("y", "max_continuous_beam_power_W" if "continuous" in study.rate
                        else "max_safe_beam_power_W" if study.rate else "T_peak_max_C")
    ys = [ys] if isinstance(ys, str) else list(ys)
    ok = [r for r in table.rows if r["status"] == "ok"]
    if x is None or not ok:
        return None
    if x != "time_s":
        missing = [y for y in ys if all(r.get(y) is None for r in ok)]
        if missing:
            raise KeyError(f"plot.y: no case has a column {missing[0]!r}; the table has "
                           + ", ".join(c for c in table.columns if c not in study.axes))
    plt = output._pyplot()
    fig, axs = plt.subplots(len(ys), 1, figsize=(7.5, 3.4 * len(ys) + 0.8), squeeze=False,
                            layout="constrained")
    others = [a for a in axes if a != x and len(study.axes[a]) > 1]
    for ax, y in zip(axs[:, 0], ys):
        if x == "time_s":
            for row in ok:
                t, v = _timeseries(table.out_dir / "cases" / row["id"] / "timeseries.csv", y)
                ax.plot(t, v, "o-", ms=3, lw=1.4, label=_label(row, others))
        else:
            groups: dict[str, list] = {}
            for row in ok:
                if row.get(y) is not None:
                    groups.setdefault(_label(row, others), []).append((row[x], row[y]))
            for label, pts in groups.items():
                pts.sort()
                ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", ms=4, lw=1.6,
                        label=label or None)
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        if study.plot.get("log_x"):
            ax.set_xscale("log")
        if study.plot.get("log_y"):
            ax.set_yscale("log")
        elif ax.get_ylim()[0] >= 0:  # a positive quantity: its size, not its wiggles
            ax.set_ylim(bottom=0)
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    axs[0, 0].set_title(study.title, fontsize=10)
    path = table.out_dir / "results.png"
    output._save(fig, path)
    return path


def _label(row: dict, keys) -> str:
    return ", ".join(f"{k.split('.')[-1]} = {row[k]:.4g}" if isinstance(row[k], float)
                     else f"{k.split('.')[-1]} = {row[k]}" for k in keys)


def _timeseries(path: Path, column: str) -> tuple[list[float], list[float]]:
    lines = [ln for ln in path.read_text().splitlines() if not ln.startswith("#")]
    reader = csv.DictReader(lines)
    t, v = [], []
    for rec in reader:
        if rec.get(column):
            t.append(float(rec["time_s"]))
            v.append(float(rec[column]))
    return t, v
