"""The results table (results.csv, one row per case in study order) and its quick-look plot
(results.png)."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from .. import output
from .folder import FIXED_COLUMNS, result_of
from .spec import CASE_AXIS, MECHANICS_ROW, Study


@dataclass
class Table:
    """The results of a sweep, one row (dict) per case in study order."""

    columns: list[str]
    rows: list[dict]
    out_dir: Path

    def column(self, name: str) -> list:
        """The values of one column (None where a case has none).

        Raises:
            KeyError: not a column of the table (as RunResult.column), with the nearest
                names: a misspelt name gave a column of Nones. Only once a case of every
                base case has finished: before, the results' columns are not all known
                (a region or probe only another base case has), and any name is one None
                per case.
        """
        if name not in self.columns and self._columns_known():
            import difflib

            near = difflib.get_close_matches(name, self.columns, n=3, cutoff=0.6)
            hint = f" (did you mean {', '.join(map(repr, near))}?)" if near else ""
            raise KeyError(f"{name!r}: not a column of the results table{hint}; the "
                           f"columns are {self.columns}")
        return [row.get(name) for row in self.rows]

    def _columns_known(self) -> bool:
        """Whether a case has finished and every base case (the `case` axis; one when there
        is none) has one finished or none pending (all its cases failed: it gives no
        column), so that the columns are all those the study's cases give."""
        done = {row.get(CASE_AXIS) for row in self.rows if row.get("status") == "ok"}
        waiting = {row.get(CASE_AXIS) for row in self.rows if row.get("status") == "pending"}
        return bool(done) and waiting <= done

    @property
    def failed(self) -> list[dict]:
        return [row for row in self.rows if row["status"] == "failed"]

    def to_pandas(self):
        """The table as a pandas DataFrame (columns in the order of results.csv); yes/no
        columns (limits_hold, confirmed_*) as pandas' nullable booleans, empty where a
        case failed or is pending, as results.parquet holds them.

        Raises:
            ImportError: pandas is not installed (``pip install pandas``).
        """
        import pandas as pd

        df = pd.DataFrame([[row.get(c) for c in self.columns] for row in self.rows],
                          columns=self.columns)
        for c in df.columns:
            given = df[c].dropna()
            if df[c].dtype == object and len(given) and all(isinstance(v, bool)
                                                            for v in given):
                df[c] = df[c].astype("boolean")
        return df

    def to_parquet(self, path: Path | None = None) -> Path | None:
        """Write the table as Parquet (default results.parquet beside results.csv) when
        pandas and pyarrow are installed; None (nothing written) when they are not."""
        if not parquet_writable():
            return None
        path = Path(path) if path else self.out_dir / "results.parquet"
        df = self.to_pandas()
        for c in df.columns:  # mixed columns (a failed row's empty cells) as text
            if df[c].dtype == object:
                df[c] = df[c].map(lambda v: None if v is None else str(v))
        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        output.atomic_write(path, buf.getvalue())
        return path


def parquet_writable() -> bool:
    """Whether pandas and pyarrow are installed (results.parquet can be written)."""
    try:
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def warm_up() -> None:
    """Import what the end of a sweep uses (pandas and pyarrow for results.parquet,
    matplotlib's pyplot for results.png) and write one small Parquet table and figure
    in memory: about 0.9 s that a runner can spend while its last cases run on the other
    cores. Anything missing is left to the end to report (Parquet is then not written).
    pyplot is left alone where it is loaded already (an interactive session: its backend
    is not switched from another thread)."""
    try:
        import pandas as pd

        pd.DataFrame({"x": [1.0], "s": ["a"]}).to_parquet(io.BytesIO(), index=False)
    except Exception:  # noqa: BLE001, S110 - no pandas or pyarrow: no results.parquet
        pass
    import sys

    if "matplotlib.pyplot" in sys.modules:  # a session's pyplot (and its backend) is not
        return  # switched from this thread: plot() does it, in the caller's
    output._pyplot()
    output.warm_up()  # a small figure with text: fonts and the first draw's caches


def collect(study: Study, out: Path, parquet: bool = True) -> Table:
    """Rows of all cases (finished or not) in study order; writes results.csv atomically
    (and results.parquet, with parquet and where pandas and pyarrow are installed). An
    invalid case not run yet has the row its run would give (failed, and why), not
    pending: running it changes nothing."""
    rows, outputs = [], []
    for p in study.points:
        stored = result_of(out, p) or (
            {"status": "failed", "error": f"CaseError: {p.error}"} if p.error
            else {"status": "pending", "error": ""})
        row = {**stored, "index": p.index, "id": p.id, **p.inputs}
        if row["status"] == "ok":
            for k, v in summary_columns(out / "cases" / p.id / "summary.json").items():
                row.setdefault(k, v)
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
    try:
        changed = (out / "results.csv").read_bytes() != buf.getvalue().encode()
    except OSError:
        changed = True
    if changed:
        output.atomic_write(out / "results.csv", buf.getvalue(), durable=True)
    table = Table(columns, rows, out)
    stale = out / "results.parquet"
    if parquet and parquet_writable():
        table.to_parquet()
    elif changed and stale.exists():  # an older table's: not left beside the new results.csv
        stale.unlink()
        if not parquet_writable():
            print(f"{stale}: removed, as it no longer matches results.csv and pandas and "
                  "pyarrow are not installed to write it again", file=sys.stderr)
    return table


def summary_columns(path: Path) -> dict:
    """Columns a case's summary.json adds to its row: beam power and current, the worst
    value of every temperature column a limit watches (interfaces, coolant side), the
    drift along the view, every drift figure's largest excursion with its sign
    (<column>_largest; none from a summary written before 2026-12-05), and the largest von
    Mises stress per region. Empty when the case
    wrote no summary (a rating-only case)."""
    try:
        s = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    b = s.get("beam") or {}
    V = ((s.get("case") or {}).get("beam") or {}).get("voltage_V")
    out: dict = {}
    if b.get("beam_power_W") is not None:
        out["beam_power_W"] = b["beam_power_W"]
        if V:
            out["current_mA"] = b["beam_power_W"] / V * 1e3
    res = s.get("results") or {}
    regions = {f"T_max_{r}_C" for r in res.get("T_max_by_region_C", {})}  # in the row already
    for c in res.get("limits", []):
        if c.get("unit") == "C" and c.get("column", "").startswith("T_") and \
                c["column"] not in regions:
            out[f"{c['column'][:-2]}_worst_C"] = c.get("worst_C")
    m = s.get("mechanics") or {}
    for c in ("drift_along_view_um",):
        if c in m:
            out[f"{c}_max_abs"] = m[c]["max_abs"]
            out[f"{c}_final"] = m[c]["final"]
    for c in MECHANICS_ROW:  # the largest excursion with its sign (max_abs drops it)
        if (m.get(c) or {}).get("largest") is not None:
            out[f"{c}_largest"] = m[c]["largest"]
    for region, v in (m.get("von_mises_max_MPa") or {}).items():
        out[f"von_mises_max_{region}_MPa"] = v["value"]
    return out


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):  # 5.0 as "5.0": read back as a float, as results.parquet has it
        return output.float_cell(v)
    return str(v)


def plot(study: Study, table: Table) -> Path | None:
    """Quick-look PNG: an output against an axis (one curve per value of the other axes),
    or a time-series column against time for every case (``plot.x = "time_s"``). A plot
    that cannot be drawn is reported on stderr, never raised: the table is the result. The
    report is made even when progress is silent (``-q``, ``progress=False``): a [plot] key
    naming no column of the table is a mistake in the study file that only the finished
    table shows (its columns depend on the case's probes and regions), not progress."""
    try:
        return _plot(study, table)
    except Exception as e:  # noqa: BLE001
        what = str(e) if isinstance(e, _NoColumn) else f"{type(e).__name__}: {e}"
        print(f"quick-look plot not drawn: {what}", file=sys.stderr)
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
            raise _NoColumn(missing[0], [c for c in table.columns if c not in study.axes])
    else:
        series = [_timeseries_columns(table.out_dir / "cases" / r["id"] / "timeseries.csv")
                  for r in ok]
        missing = [y for y in ys if not any(y in cols for cols in series)]
        if missing:
            raise _NoColumn(missing[0], sorted(set().union(*series)), "time series")
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
        failed = [r for r in table.rows if r["status"] == "failed" and x != "time_s"
                  and isinstance(r.get(x), (int, float))]
        if failed:  # failed points are shown, not dropped: a red cross on the x axis
            ax.plot([r[x] for r in failed], [0.0] * len(failed), "x", color="tab:red", ms=9,
                    mew=2, transform=ax.get_xaxis_transform(), clip_on=False,
                    label=f"failed ({len(failed)}; see results.csv)")
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        if study.plot.get("log_x"):
            ax.set_xscale("log")
            output.plain_log_labels(ax.xaxis)
        if study.plot.get("log_y"):
            ax.set_yscale("log")
            output.plain_log_labels(ax.yaxis)
        elif ax.get_ylim()[0] >= 0:  # a positive quantity: its size, not its wiggles
            # with headroom: the autoscaled top of a nearly flat curve is its own maximum
            # plus a margin of its wiggles, and clipped the markers there
            ax.set_ylim(0, max(ax.get_ylim()[1], 1.05 * ax.dataLim.y1))
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    axs[0, 0].set_title(output.fit_title(study.title, 7.5 - 0.6)[0], fontsize=10)
    path = table.out_dir / "results.png"
    output._save(fig, path)
    return path


class _NoColumn(Exception):
    """plot.y names a column no finished case has: one short line, with the nearest."""

    def __init__(self, y: str, columns: list[str], where: str = "table"):
        import difflib

        near = difflib.get_close_matches(y, columns, n=3, cutoff=0.5)
        super().__init__(f"plot.y = {y!r}: no finished case has it in its {where}"
                         + (f" (nearest: {', '.join(near)})" if near else ""))


def _timeseries_columns(path: Path) -> set[str]:
    """The columns of a case's timeseries.csv (none when it has none)."""
    try:
        with open(path) as f:
            return set(next(csv.reader(ln for ln in f if not ln.startswith("#")), []))
    except OSError:
        return set()


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
