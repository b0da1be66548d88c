"""Studies: a base case and parameter axes, expanded into the cases of a sweep.

A study file (TOML) names a base case (``case = "file.toml"``, a list of files, or an inline
``[case]`` table) and its axes as dotted keys into the case::

    title = "Maximum continuous power against spot size"
    case = "../reflection_insert.toml"
    combine = "grid"                      # or "zip"

    [axes]
    "beam.fwhm_um" = {start = 5, stop = 100, num = 6, scale = "log"}
    "beam.voltage_kV" = [60, 100]

    [tasks]
    run = true                            # the case as given: temperatures, drift
    rate = ["continuous"]                 # and/or "schedule"

    [plot]
    x = "beam.fwhm_um"
    y = "max_continuous_beam_power_W"

Every point of the sweep is one case; its id is the hash of its resolved (SI) input and the
tasks, so an interrupted sweep finds its finished cases again. Nothing here imports dolfinx.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import hashlib
import itertools
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import case as case_mod
from ..case import CaseError
from ..case.reader import UnknownKeyError, _did_you_mean, _fail, read_toml

COMBINE = ("grid", "zip")
RATINGS = ("schedule", "continuous")
CASE_AXIS = "case"  # the axis of base case files, when `case` is a list
#: The first columns of results.csv (the swept inputs come after the id).
FIXED_COLUMNS = ["index", "id", "status", "error", "wall_s"]


@dataclass(frozen=True)
class Point:
    """One case of a sweep.

    Attributes:
        index: position in the sweep (0-based; the SLURM array task id).
        inputs: the swept values, by dotted key (and ``case`` for the base file).
        data: the case as a dict (units in the key names), base plus inputs.
        base_dir: folder that relative paths in that case refer to.
        id: 12 hex digits of the hash of the resolved case and the tasks.
        error: why the case is invalid (None when it validates); the sweep records it as failed.
    """

    index: int
    inputs: dict[str, Any]
    data: dict
    base_dir: str
    id: str
    error: str | None = None


@dataclass(frozen=True)
class Study:
    """A validated study: its definition (as plain data) and its expanded points."""

    title: str
    definition: dict  # self-contained: base cases inline, axes as value lists
    axes: dict[str, list]
    combine: str
    run: bool
    rate: tuple[str, ...]
    plot: dict
    slurm: dict
    points: list[Point] = field(repr=False)
    #: The study folder whose study.json this was read from (None: a study file or dict):
    #: open_folder never gives that folder this definition back once it holds another.
    folder: str | None = field(default=None, repr=False, compare=False)
    #: The id and the anodesim version study.json listed when this study was read from its
    #: folder (None: a study file or dict). An id other than the one computed here means the
    #: file's cases are not those of its definition in this version (an earlier version that
    #: resolved them otherwise, or a hand edit): open_folder refuses to resume them.
    listed_id: str | None = field(default=None, repr=False, compare=False)
    listed_version: str | None = field(default=None, repr=False, compare=False)

    @property
    def id(self) -> str:
        """Hash of the axes, the points and the tasks: a folder holds this study iff its
        study.json has the same id."""
        blob = json.dumps([self.run, self.rate, list(self.axes),
                           [[p.id, p.inputs] for p in self.points]], default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


#: Most cases a study may hold: each is validated when the study is read (1e8 values of one
#: axis ran for 10 minutes at 9.4 GB before this cap), and a sweep of more is a job for
#: several studies.
MAX_CASES = 100_000


def _values(key: str, spec: Any) -> list:
    """The values of one axis: a list, or a range {start, stop, num, scale}."""
    where = f'axes."{key}"'
    # a script's numpy array (np.linspace) or pandas Series, its numbers: Python's
    spec = case_mod.plain_data(spec)
    if isinstance(spec, (list, tuple)):
        if not spec:
            raise CaseError(f"{where} = []: empty axis; expected at least one value")
        return [_plain(where, v) for v in spec]
    if isinstance(spec, dict):
        unknown = set(spec) - {"start", "stop", "num", "scale"}
        if unknown:
            k = sorted(unknown)[0]
            hint = _did_you_mean(k, ["start", "stop", "num", "scale"])
            raise CaseError(f"{where}.{k}: unknown key{hint}; expected start, stop, num, scale")
        for k in ("start", "stop", "num"):
            if k not in spec:
                raise CaseError(f"{where}.{k}: missing; a range needs start, stop and num")
        start, stop, num = (spec[k] for k in ("start", "stop", "num"))
        scale = spec.get("scale", "linear")
        for k, v in (("start", start), ("stop", stop)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise _fail(f"{where}.{k}", v, "a finite number")
        if isinstance(num, bool) or not isinstance(num, int) or not 1 <= num <= MAX_CASES:
            raise _fail(f"{where}.num", num,
                        f"an integer from 1 to {MAX_CASES:,} (the number of values)")
        if scale not in ("linear", "log"):
            raise _fail(f"{where}.scale", scale, '"linear" or "log"')
        if scale == "log" and (start <= 0 or stop <= 0):
            raise _fail(f"{where}.start", start, "positive start and stop on a log scale")
        if num == 1:
            return [float(start)]
        if scale == "log":
            a, b = math.log(start), math.log(stop)
            return [math.exp(a + (b - a) * i / (num - 1)) for i in range(num)]
        return [start + (stop - start) * i / (num - 1) for i in range(num)]
    raise _fail(where, spec, "a list of values or a range {start, stop, num, scale}")


def _plain(where: str, v: Any) -> Any:
    """An axis value as plain TOML data, as the case reader takes a case's
    (case.plain_data: a script's numpy numbers and arrays, and tuples, at any depth)."""
    v = case_mod.plain_data(v)
    if isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (list, dict)):
        try:
            return json.loads(json.dumps(v))
        except (TypeError, ValueError):  # a value no TOML holds, inside it
            pass
    raise _fail(where, v, "numbers, strings, booleans, lists or tables")


def _flatten_axes(table: dict, prefix: str = "") -> dict[str, Any]:
    """Axes by dotted key; unquoted dotted keys arrive from TOML as nested tables."""
    out: dict[str, Any] = {}
    for k, v in table.items():
        key = f"{prefix}.{k}" if prefix else k
        inner = _flatten_axes(v, key) if isinstance(v, dict) and not (
            {"start", "stop", "num"} & set(v)) else {key: v}
        for k2, v2 in inner.items():
            if k2 in out:  # "beam.fwhm_um" = [...] beside beam.fwhm_um = [...]: one was lost
                raise CaseError(f'axes."{k2}": given twice (as a quoted key and as a dotted '
                                "one); expected each axis once")
            out[k2] = v2
    return out


def set_key(data: dict, key: str, value: Any) -> None:
    """Set a dotted key in a case dict, creating missing tables (``a.b.0.c`` indexes lists)."""
    parts = key.split(".")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        here = ".".join(parts[: i + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise CaseError(f'axes."{key}": {".".join(parts[:i])} has {len(node)} '
                                f"entries; expected an index below {len(node)}")
            node = node[int(part)]
            continue
        nxt = node.setdefault(part, {})
        if not isinstance(nxt, (dict, list)):
            raise CaseError(f'axes."{key}": {here} is a value ({nxt!r}), not a table')
        node = nxt
    last = parts[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise CaseError(f'axes."{key}": expected an index below {len(node)}')
        node[int(last)] = value
    else:
        node[last] = value


def _check_key_exists(key: str, base: dict, base_dir: str, value: Any) -> None:
    """A dotted key the case does not know is a bad study (with a did-you-mean)."""
    data = copy.deepcopy(base)
    set_key(data, key, value)
    try:
        case_mod.from_dict(data, base_dir)
    except UnknownKeyError as e:
        path = e.path.replace("[", ".").replace("]", "")
        if key == path or key.startswith(path + "."):
            hint = ""
            if e.suggestion:
                parent = path.rsplit(".", 1)[0] + "." if "." in path else ""
                hint = f' (did you mean "{parent}{e.suggestion}"?)'
            raise CaseError(f'axes."{key}": not a key of the case{hint}') from None
    except CaseError:
        return  # some other problem of this value: recorded per case when it runs


def _point_id(case_or_data, tasks) -> str:
    """Hash of the resolved case and the tasks. A reused mesh counts by its content, not
    its path, so the ids stay the same when the study moves (another machine, a container)."""
    if hasattr(case_or_data, "to_dict"):
        resolved = case_or_data.to_dict()
        mesh_file = resolved["mesh"].get("file")
        if mesh_file and Path(mesh_file).is_file():
            digest = hashlib.sha256(Path(mesh_file).read_bytes()).hexdigest()
            resolved["mesh"]["file"] = f"sha256:{digest}"
    else:
        resolved = case_or_data
    blob = json.dumps({"case": resolved, "tasks": tasks}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def from_dict(data: dict, base_dir: Path | str = ".") -> Study:
    """Validate a study given as a dict (as read from TOML) and expand its points.

    Args:
        data: the study; ``case`` may be a path (relative to base_dir), a list of paths or a
            case table.
        base_dir: folder of the study file.

    Raises:
        CaseError: one line naming the key, the value and what was expected.
    """
    return _study(data, Path(base_dir))


def load(path: str | Path) -> Study:
    """Read and validate a study file (TOML), or the study.json of a study folder."""
    path = Path(path)
    if path.is_dir():
        path = path / "study.json"
        if not path.exists():
            raise CaseError(f"{path.parent}: not a study folder (no study.json); "
                            "expected a study file (TOML) or a study folder")
        try:
            record = json.loads(path.read_text())
            saved = record["study"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise CaseError(f"{path}: not a study written by anodesim ({type(e).__name__}); "
                            "expected the study.json of a study folder") from None
        listed_id, version = record.get("id"), record.get("anodesim_version")
        return dataclasses.replace(
            _study(saved, path.parent, saved=True), folder=str(path.parent.resolve()),
            listed_id=listed_id if isinstance(listed_id, str) else None,
            listed_version=version if isinstance(version, str) else None)
    data = read_toml(path, "study file")
    if "axes" not in data and {"beam", "geometry"} & set(data):
        raise CaseError(f"{path}: this is a case file, not a study (a study names its `case` "
                        "and has [axes]); run it with `anodesim run`")
    return _study(data, path.parent)


def _study(data: dict, base_dir: Path, saved: bool = False) -> Study:
    """Check a study table and expand its axes into points (saved: a study.json)."""
    if not isinstance(data, dict):
        raise _fail("study", data, "a table")
    allowed = {"title", "case", "combine", "axes", "tasks", "plot", "slurm"}
    for k in data:
        if k not in allowed | ({"bases"} if saved else set()):
            raise CaseError(f"{k}: unknown key{_did_you_mean(k, sorted(allowed))}; "
                            f"expected one of: {', '.join(sorted(allowed))}")
    title = data.get("title", "anodesim study")
    if not isinstance(title, str):
        raise _fail("title", title, "a string")
    bases = _bases(data, base_dir.resolve())
    axes, combine = _axes(data, bases, saved)
    run, rate = _tasks(data.get("tasks", {}))
    plot = _plot_table(data, axes, run)
    slurm = _slurm_table(data, saved)
    for key, values in axes.items():
        if key != CASE_AXIS:
            for base, bdir in bases.values():
                _check_key_exists(key, base, bdir, values[0])
    task_spec = {"run": run, "rate": list(rate)}
    points, columns = _points(axes, combine, bases, task_spec, saved)
    if not saved:  # a folder written by an earlier version loads as it was (its plot's y is
        _check_plot_y(plot, axes, run, rate, columns)  # then told after the run)
    # Self-contained: the base cases inline, the axes as value lists. A study folder keeps
    # this copy, so its workers never read files that may have changed since.
    definition = {"title": title, "combine": combine, "axes": axes, "tasks": task_spec,
                  "plot": plot, "slurm": slurm,
                  "bases": {n: {"case": d, "dir": b} for n, (d, b) in bases.items()}}
    return Study(title, definition, axes, combine, run, rate, plot, slurm, points)


def _axes(data: dict, bases: dict, saved: bool) -> tuple[dict[str, list], str]:
    """(dotted key → values, "grid" or "zip"); several base cases add the case axis."""
    axes_raw = data.get("axes", {})
    if not isinstance(axes_raw, dict):
        raise _fail("axes", axes_raw, "a table of dotted keys and their values")
    axes = {k: _values(k, v) for k, v in _flatten_axes(axes_raw).items()}
    if CASE_AXIS in axes and not saved:
        raise CaseError('axes.case: the base cases are given by the top-level key "case"')
    if len(bases) > 1 and CASE_AXIS not in axes:
        axes = {CASE_AXIS: list(bases), **axes}
    combine = data.get("combine", "grid")
    if combine not in COMBINE:
        raise _fail("combine", combine, '"grid" (every combination) or "zip" (axes in step)')
    if combine == "grid" and not saved:  # zipped axes may repeat a value beside others
        for k, values in axes.items():
            _refuse_repeats(f'axes."{k}"', values)
    if combine == "zip" and len({len(v) for v in axes.values()}) > 1:
        lengths = ", ".join(f"{k} {len(v)}" for k, v in axes.items())
        raise CaseError(f'combine = "zip": the axes have different lengths ({lengths}); '
                        "expected equal lengths")
    return axes, combine


def _refuse_repeats(where: str, values: list) -> None:
    """CaseError on a value given twice in one axis (20 and 20.0 alike): it would be one
    case counted twice."""
    seen = set()
    for v in values:
        key = json.dumps(v, sort_keys=True) if isinstance(v, (list, dict)) else v
        if key in seen:
            raise CaseError(f"{where}: the value {v!r} is given twice; expected each value "
                            "once")
        seen.add(key)


def _plot_table(data: dict, axes: dict, run: bool) -> dict:
    """The [plot] table: x an axis (or time_s for the time series), y columns."""
    plot = _table(data, "plot", ("x", "y", "log_x", "log_y"))
    if "x" in plot and (not isinstance(plot["x"], str) or
                        (plot["x"] not in axes and plot["x"] != "time_s")):
        raise _fail("plot.x", plot["x"], "one of the axes (" + ", ".join(axes) + ") or time_s")
    if plot.get("x") == "time_s" and not run:
        raise _fail("plot.x", "time_s", "an axis: the time series needs tasks.run = true")
    y = plot.get("y", "")
    if not (isinstance(y, str) or (isinstance(y, list) and y
                                   and all(isinstance(v, str) for v in y))):
        raise _fail("plot.y", y, "a column name of the results table, or a list of them")
    for k in ("log_x", "log_y"):
        if not isinstance(plot.get(k, False), bool):
            raise _fail(f"plot.{k}", plot[k], "true or false")
    return plot


#: sbatch's time formats: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS, or no limit.
SLURM_TIME = re.compile(r"\d+(:\d+){0,2}|\d+-\d+(:\d+){0,2}|UNLIMITED|INFINITE|-1")
#: A partition name (or a comma-separated list of them), as written after --partition=.
SLURM_PARTITION = re.compile(r"[A-Za-z0-9_.,-]+")
#: An sbatch option, alone or with its value: --option, --option=value, --option value,
#: -X, -Xvalue, -X value.
SBATCH_OPTION = re.compile(r"--[A-Za-z][A-Za-z0-9-]*([= ].+)?|-[A-Za-z]( ?.+)?")
#: Options the job scripts set themselves (also given on sbatch's command line, which wins
#: over an #SBATCH line): one task of one rank per case, logged where --wait reads the
#: log. Any abbreviation of them (sbatch takes an unambiguous prefix) and their one-letter
#: forms are refused too.
SBATCH_OWN = ("--array", "--ntasks", "--ntasks-per-node", "--output", "--error")
SBATCH_OWN_SHORT = ("-a", "-n", "-o", "-e")
#: Control characters: a newline in a value written into a job script starts a shell line.
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def check_slurm(slurm: dict, forms: bool = True) -> None:
    """CaseError unless the [slurm] values are safe to write into a job script: one line
    each, a partition name, extra entries that are sbatch options and not the script's own.
    With forms (a study file, not a saved study.json), also the forms sbatch takes (time).

    A saved study.json is checked only when it is submitted (forms=False): a folder written
    by an earlier version, with values that version and sbatch accept, still opens."""
    for k in ("partition", "time"):
        v = slurm.get(k)
        if isinstance(v, str) and CONTROL_CHARS.search(v):
            raise _fail(f"slurm.{k}", v, "one line without control characters")
    if "partition" in slurm and not SLURM_PARTITION.fullmatch(slurm["partition"]):
        raise _fail("slurm.partition", slurm["partition"], "a partition name (letters, "
                    "digits, _ . -; several separated by commas)")
    if forms and "time" in slurm and not SLURM_TIME.fullmatch(slurm["time"]):
        raise _fail("slurm.time", slurm["time"], "a SLURM time: minutes, MM:SS, HH:MM:SS, "
                    "D-HH, D-HH:MM, D-HH:MM:SS, UNLIMITED, INFINITE or -1")
    for v in slurm.get("extra", []):
        if CONTROL_CHARS.search(v) or not SBATCH_OPTION.fullmatch(v):
            raise _fail("slurm.extra", v, "an sbatch option on one line: --option, "
                        '--option=value, --option value, -X or -X value (e.g. "--mem=4G", '
                        '"-A proj")')
        name = re.split(r"[= ]", v, maxsplit=1)[0]
        own = any(o.startswith(name) for o in SBATCH_OWN) if name.startswith("--") \
            else name[:2] in SBATCH_OWN_SHORT
        if own:
            raise _fail("slurm.extra", v, "an option the job script does not set itself "
                        f"({', '.join(SBATCH_OWN + SBATCH_OWN_SHORT)} and abbreviations of "
                        "them are its own: each task runs one case on one rank)")


def _slurm_table(data: dict, saved: bool = False) -> dict:
    """The [slurm] table: partition, time and extra sbatch options (their content checked
    here for a study file; for a saved study.json when it is submitted)."""
    slurm = _table(data, "slurm", ("partition", "time", "extra"))
    for k in ("partition", "time"):
        if not isinstance(slurm.get(k, ""), str):
            raise _fail(f"slurm.{k}", slurm[k], 'a string (e.g. "compute", "02:00:00")')
    extra = slurm.get("extra", [])
    if not isinstance(extra, list) or not all(isinstance(v, str) for v in extra):
        raise _fail("slurm.extra", extra, 'a list of sbatch options, e.g. ["--mem=4G"]')
    if not saved:
        check_slurm(slurm)
    return slurm


def _points(axes: dict, combine: str, bases: dict, task_spec: dict,
            saved: bool = False) -> list[Point]:
    """Every combination of the axes (grid) or the axes in step (zip), with its case id;
    a point whose case is invalid (bad input, or a probe outside the body) keeps the
    reason (its row says it when it runs). Two points that are the same case are refused
    in a study file; a saved study.json (an earlier version wrote such folders) keeps
    them, as that version did (one case, run once, two rows)."""
    count = math.prod(len(v) for v in axes.values()) if combine == "grid" else \
        max((len(v) for v in axes.values()), default=1)
    if count > MAX_CASES:
        sizes = (" x " if combine == "grid" else ", ").join(f"{len(v)} ({k})"
                                                            for k, v in axes.items())
        raise CaseError(f"axes: {sizes} values make {count:,} cases; expected at most "
                        f"{MAX_CASES:,} (split the study)")
    combos = (itertools.product(*axes.values()) if combine == "grid"
              else zip(*axes.values())) if axes else [()]
    points, columns = [], {"table": set(), "series": set(), "mechanics": False}
    for i, combo in enumerate(combos):
        inputs = dict(zip(axes, combo))
        base, bdir = bases[inputs.get(CASE_AXIS, next(iter(bases)))]
        case_data = copy.deepcopy(base)
        for k, v in inputs.items():
            if k != CASE_AXIS:
                set_key(case_data, k, v)
        try:
            case = case_mod.from_own_dict(case_data, bdir)  # (case_data: the point's own)
        except CaseError as e:
            pid, err = _point_id(case_data, task_spec), str(e)
        else:
            pid, err = _point_id(case, task_spec), _invalid_before_run(case)
            _add_columns(columns, case)
        points.append(Point(i, inputs, case_data, bdir, pid, err))
    if points and all(p.error for p in points):
        raise CaseError(f"every case of the study is invalid; the first: {points[0].error}")
    first: dict[str, Point] = {}
    for p in points if not saved else ():
        q = first.setdefault(p.id, p)
        if q is not p:  # e.g. two base files of equal content: one case, one row
            raise CaseError(f"axes: cases {q.index} ({_inputs(q)}) and {p.index} "
                            f"({_inputs(p)}) are the same case (id {p.id}); expected "
                            "different cases")
    return points, columns


#: Columns of results.csv that a run (tasks.run), a rating or a case with mechanics gives
#: (study/worker.py and table.summary_columns write them), besides those named after the
#: case's regions; and the time series' columns (monitors.py) named after nothing.
RUN_COLUMNS = ("T_peak_max_C", "T_peak_max_time_s", "limits_hold", "deposited_power_W",
               "cells", "beam_power_W", "current_mA")
RATE_COLUMNS = {"schedule": ("max_safe_beam_power_W", "max_safe_mean_beam_power_W",
                             "binding_limit", "confirmed_schedule"),
                "continuous": ("max_continuous_beam_power_W", "binding_continuous",
                               "confirmed_continuous", "max_continuous_beam_power_engine_W")}
MECHANICS_ROW = ("drift_across_view_um", "image_drift_px", "u_spot_z_um", "spot_shift_um",
                 "magnification_change_rel", "drift_along_view_um")
SERIES_COLUMNS = ("time_s", "beam_power_W", "deposited_power_W", "T_peak_C", "stored_heat_J",
                  "deposited_energy_J", "extra_focal_energy_J", "T_coolant_C",
                  "coolant_heat_J", "cooler_removed_heat_J", "T_max_coolant_side_C")
#: Beginnings of the time series' mechanics columns (displacements, drift, image, stress).
MECHANICS_SERIES = ("u_", "drift_", "image_", "spot_shift_", "magnification_", "von_mises_",
                    "yield_use_")


def _add_columns(columns: dict, case) -> None:
    """Add the column names a case's run can give (table and time series) to columns."""
    from ..case import interfaces_of, regions_of

    regions = regions_of(case.geometry)
    temps = {f"T_max_{r}_C" for r in regions}
    columns["table"] |= temps | {f"T_max_{i}_worst_C" for i in interfaces_of(case.geometry)}
    columns["series"] |= temps | {f"T_max_{i}_C" for i in interfaces_of(case.geometry)}
    columns["series"] |= {f"T_{p.name}_C" for p in case.probes if "T" in p.quantities}
    if case.mechanics is not None:
        from ..drift import drift_columns

        columns["mechanics"] = True
        if case.mechanics.drift is not None:  # the drift map's own (offaxis_shift_um, ...)
            columns["series"] |= set(drift_columns(
                case.mechanics.drift.detector_radius_m is not None, case.geometry.dim))
        columns["table"] |= {f"{c}_{s}" for c in MECHANICS_ROW
                             for s in ("max_abs", "largest", "final")}
        columns["table"] |= {f"von_mises_max_{r}_MPa" for r in regions}


def _check_plot_y(plot: dict, axes: dict, run: bool, rate: tuple[str, ...],
                  columns: dict) -> None:
    """CaseError when plot.y names a column that none of the study's cases can give (the
    table's, or with plot.x = "time_s" the time series'), with the nearest names. A name a
    case may give is let through: whether it does can depend on its run (a limit's column)."""
    ys = plot.get("y")
    if ys is None:
        return
    if plot.get("x") == "time_s":
        known = set(SERIES_COLUMNS) | columns["series"]
        what = "a column of the cases' timeseries.csv"
    else:
        known = set(FIXED_COLUMNS) | set(axes)
        if run:
            known |= columns["table"] | set(RUN_COLUMNS)
        known |= {c for r in rate for c in RATE_COLUMNS[r]}
        what = "a column of the results table"
    for y in [ys] if isinstance(ys, str) else ys:
        if y in known or (plot.get("x") == "time_s" and columns["mechanics"]
                          and y.startswith(MECHANICS_SERIES)) or (
                run and plot.get("x") != "time_s" and y.startswith("T_")
                and y.endswith("_worst_C")):
            continue
        near = difflib.get_close_matches(y, sorted(known), n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        raise _fail("plot.y", y, f"{what}{hint}")


def _inputs(p: Point) -> str:
    return ", ".join(f"{k} = {v!r}" for k, v in p.inputs.items()) or "the base case"


def _invalid_before_run(case) -> str | None:
    """Why a valid case fails as `check` finds it without the electron tables or the time
    plan (microseconds a case): a probe outside the body, a temperature outside the
    materials' data; or None. So --list calls it invalid and a sweep records it at once,
    not after starting the run. The case id stays the resolved case's."""
    from ..resolve import check_input_temperatures, check_probes_inside

    try:
        check_probes_inside(case)
        check_input_temperatures(case)
    except CaseError as e:
        return str(e)
    return None


def _bases(data: dict, base_dir: Path) -> dict[str, tuple[dict, str]]:
    """The base cases by name, each with the folder its relative paths refer to."""
    if "bases" in data:  # a study folder's own copy
        return {n: (b["case"], b["dir"]) for n, b in data["bases"].items()}
    raw = data.get("case")
    if raw is None:
        raise CaseError("case: missing; expected a case file name, a list of them, or a "
                        "[case] table")
    if isinstance(raw, dict):  # (a script's: numpy numbers as Python ones, for study.json)
        return {"(inline)": (case_mod.plain_data(raw), str(base_dir))}
    names = [os.fspath(n) if isinstance(n, os.PathLike) else n  # a script's pathlib.Path
             for n in (raw if isinstance(raw, list) else [raw])]
    if any(isinstance(n, case_mod.Case) for n in names):  # (its repr: thousands of characters)
        c = next(n for n in names if isinstance(n, case_mod.Case))
        raise CaseError(f"case = <anodesim.Case {c.title[:40]!r}>: expected a case file name, "
                        "a list of them, or a case dict; a Case holds no folder for its "
                        "relative file names: give its file, or its dict case.source (whose "
                        "relative file names are then read from the current folder)")
    raw = names if isinstance(raw, list) else names[0]
    if not names or not all(isinstance(n, str) for n in names):
        raise _fail("case", raw, "a case file name, a non-empty list of them, or a table")
    _refuse_repeats("case", names)
    bases = {}
    for n in names:
        p = (base_dir / n).resolve()
        bases[n] = (read_toml(p, "base case file"), str(p.parent))
    return bases


def _tasks(tasks: Any) -> tuple[bool, tuple[str, ...]]:
    if not isinstance(tasks, dict):
        raise _fail("tasks", tasks, "a table")
    for k in tasks:
        if k not in ("run", "rate"):
            raise CaseError(f"tasks.{k}: unknown key{_did_you_mean(k, ['run', 'rate'])}; "
                            "expected run, rate")
    run = tasks.get("run", True)
    if not isinstance(run, bool):
        raise _fail("tasks.run", run, "true or false")
    rate = tasks.get("rate", [])
    rate = [rate] if isinstance(rate, str) else rate
    if not isinstance(rate, list) or any(r not in RATINGS for r in rate):
        raise _fail("tasks.rate", rate, 'a list of "schedule" and/or "continuous"')
    if not run and not rate:
        raise CaseError("tasks: nothing to do (run = false and no rate); expected a task")
    return run, tuple(r for r in RATINGS if r in rate)


def _table(data: dict, name: str, keys: tuple[str, ...]) -> dict:
    t = data.get(name, {})
    if not isinstance(t, dict):
        raise _fail(name, t, "a table")
    for k in t:
        if k not in keys:
            raise CaseError(f"{name}.{k}: unknown key{_did_you_mean(k, keys)}; "
                            f"expected one of: {', '.join(keys)}")
    return t
