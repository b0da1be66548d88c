"""Run-directory outputs: CSV time series, JSON summary with provenance, PNG plot.

Every file is written atomically (to a temporary name in the same folder, then renamed), so
an interrupted run never leaves a half-written file; the time series is rewritten at every
field save, so a crash loses at most the steps since the last save.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
import platform
import re
import shutil
import socket
import sys
import tempfile
from pathlib import Path

from .errors import CaseError

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: Path, data: str | bytes, durable: bool = False) -> None:
    """Write data to path atomically (temporary file + rename in the same folder).

    Args:
        durable: also flush the file and its folder to the disk (fsync), so that the new
            content survives a power loss, not only a crash of the process.

    Raises:
        OSError: the write failed (the temporary file removed), naming path: a full disk's
            write names no file, and the line said only "no space left on the device".
    """
    path = Path(path)
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are for sharing
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError) and e.filename is None:
            e.filename = str(path)
        raise
    if durable:
        sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """fsync a folder, so that renames into it are on the disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _field_error(e: RuntimeError, path) -> Exception:
    """ADIOS2 reports a failed write or close as a RuntimeError with colour codes and, not
    always, 'errno = N': turn it into the OSError it is (a full disk is the usual one)."""
    from .errors import RunFailure

    m = re.search(r"errno = (\d+)", str(e))
    code = int(m.group(1)) if m else None
    if code is None:
        folder = Path(path).parent
        if folder.exists() and shutil.disk_usage(folder).free < 1 << 20:
            code = errno.ENOSPC
    if code is not None:
        return OSError(code, os.strerror(code), str(path))
    text = re.sub(r"\x1b\[[0-9;]*m|\[[A-Z][a-z]{2} [^]]*\]", "", str(e))
    return RunFailure(f"writing the field files {path} failed: {' '.join(text.split())}")


def write_fields(writers, t: float) -> None:
    """Write the VTX field files at time t (s); a failed write raises OSError."""
    for w in writers or []:
        try:
            w.write(t)
        except RuntimeError as e:
            raise _field_error(e, getattr(w, "anodesim_path", "field files")) from None


def close_fields(writers) -> None:
    """Close every VTX writer, even when one fails; the first failure is raised after.

    A writer that cannot close (its disk is full) would throw again from its C++ destructor,
    which aborts the process: it is kept alive until the process ends instead (the
    operating system closes its file; a ``.partial`` field folder is not a result anyway).
    """
    import ctypes

    first = None
    for w in writers or []:
        try:
            w.close()
        except RuntimeError as e:
            first = first or _field_error(e, getattr(w, "anodesim_path", "field files"))
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(getattr(w, "_cpp_object", w)))
    if first is not None:
        raise first


def refuse_blank_folder(value, key: str, fell_back: str,
                        expected: str = "a folder name") -> None:
    """CaseError for a folder (or file: expected) given as an empty or blank name (an unset
    shell variable, ``-o "$OUT"``), which fell back to another (fell_back: which) in
    silence."""
    if isinstance(value, str) and not value.strip():
        raise CaseError(f"{key} {value!r}: expected {expected} (it fell back to "
                        f"{fell_back})")


def output_folder(out: Path) -> Path:
    """Check that out can be a run or study folder (bad input otherwise, before anything is
    run or written).

    Raises:
        CaseError: out is a file, lies under one, or cannot be created.
    """
    if out.exists() and not out.is_dir():
        raise CaseError(f"-o {out}: exists and is not a directory; expected a folder")
    parent = out
    while not parent.exists():
        if parent.is_symlink():  # dangling: mkdir failed after the set-up, "File exists"
            raise CaseError(f"-o {out}: {parent} is a symbolic link to "
                            f"{os.readlink(parent)}, which does not exist; expected a folder")
        parent = parent.parent
    if not parent.is_dir():
        raise CaseError(f"-o {out}: {parent} is a file; expected a folder")
    if not _can_create_in(parent):
        raise CaseError(f"-o {out}: {parent} is not writable; expected a folder you can "
                        "write to")
    return out


#: atomic_write's temporary files: ".<name>." and tempfile's 8 random characters.
TEMPORARY_NAME = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}$")


#: The file that marks a folder as holding each kind of result, the first found naming it
#: (a study folder holds run folders; mesh.json alone: a run stopped while setting up).
RESULT_MARKERS = (("study.json", "study"), ("rating.json", "rating"), ("summary.json", "run"),
                  ("timeseries.csv", "run"), ("mesh.json", "run"))


def held_result(out: Path) -> tuple[str, str] | None:
    """(kind, marker file) of the result out holds ("run", "rating" or "study"), or None."""
    if not out.is_dir():
        return None
    return next(((kind, m) for m, kind in RESULT_MARKERS if (out / m).exists()), None)


def refuse_other_result(out: Path, kind: str, key: str = "-o") -> tuple[str, str] | None:
    """The result of this kind that out holds already (its replacement is the caller's
    decision: --overwrite), or None for a new or empty folder.

    Raises:
        CaseError: out holds a result of another kind (a rating written over a run would
            replace its case.toml and leave a report mixing the two).
    """
    held = held_result(out)
    if held is not None and held[0] != kind:
        raise CaseError(f"{key} {out}: holds a {held[0]} ({held[1]}); expected a new or "
                        f"empty folder for this {kind}")
    return held


def remove_files(out: Path, ours, keep=()) -> list[str]:
    """Remove from out the entries whose names ours(name) claims (files, and folders such
    as a run's field files), with the temporary files of their interrupted atomic writes
    (TEMPORARY_NAME), but none of `keep` (a new result's inputs, which may lie in the folder
    under such a name); anything else stays (notes, an editor's swap file, a SLURM job's
    log folder). Returns the names removed."""
    kept = {Path(p).resolve() for p in keep}
    removed = []
    for entry in sorted(out.iterdir()):
        temporary = TEMPORARY_NAME.match(entry.name)
        if not (ours(entry.name) or temporary is not None and ours(temporary["name"])) \
                or entry.resolve() in kept:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
        removed.append(entry.name)
    return removed


def _can_create_in(folder: Path) -> bool:
    """Whether a file can be created in folder, tried with an anonymous temporary file that
    leaves nothing behind, not asked of os.access: it answers yes for root on any folder,
    /proc and read-only bind mounts included (a drift table found out only after its run)."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


#: A time series' columns written to the last digit (Python's shortest repr, which reads
#: back to the same float) instead of 10 significant digits: the run's time. A step
#: restarts at initial_step_s (1e-9 s for the shipped examples) after every power switch,
#: so from 10 s on 10 digits printed the switch and the first steps of the next pulse as
#: the same time, and a row picked by its time ("the residual just before pulse k") was
#: the wrong one: 11.1 K instead of 5.2 K before the third pulse of a 2 s on / 3 s off train.
SERIES_EXACT_COLUMNS = ("time_s",)


def float_cell(v: float) -> str:
    """A float as a CSV cell: 10 significant digits, and always read back as a float: 5.0 is
    "5.0", not "5" (a column of whole values read as integers by pandas and the csv sniffers
    of spreadsheets, where results.parquet has them as floats, and a column of 5 and 5.5
    mixed the two); exponents as Python writes them ("1e-05"); NaN and inf as "nan", "inf"
    (callers write NaN as an empty cell)."""
    text = f"{v:.10g}"
    return text + ".0" if text.lstrip("-").isdigit() else text


def rounded_down(x: float, digits: int = 3) -> str:
    """A maximum as a rating quotes it: `digits` significant digits, rounded down, never
    up, each shown: 19.578 W is "19.5 W", where "19.6 W" (rounded to nearest) is a power
    above the rating that a tube engineer would sign; 20.06 W is "20.0 W". The rating in
    words takes 3 digits; the console's and the report's rated maxima 4 (19.538 W "19.53",
    not "19.54"), the heat-content chart's legend 3, so that no figure quoted of a rating
    lies above it. Whole from 10**digits up (1234.5 W "1230", not "1.23e+03")."""
    text = f"{x:#.{digits}g}"
    # (a float's round-off, 20.1 computed as 20.099999999999998, is not a power above)
    if math.isfinite(x) and x > 0.0 and float(text) > x * (1.0 + 1e-12):
        unit = 10.0 ** (math.floor(math.log10(x)) - digits + 1)
        text = f"{math.floor(x / unit * (1.0 + 1e-12)) * unit:#.{digits}g}"
    if "e" in text and float(text) >= 1.0:  # 1234 W as "1230", not "1.23e+03"
        return str(round(float(text)))
    # its digits all shown: 20.06 W is "20.0 W", not "20 W"; 100 W "100", not "100."
    return text.rstrip(".") if "e" not in text else text


def write_csv(path: Path, header: list[str], rows: list[list[float]], comments=(),
              exact_columns=()) -> None:
    """Write a CSV table atomically; comment lines (starting with #) go first. Floats have
    10 significant digits (float_cell: a whole value keeps its ".0"), those of the columns
    named in exact_columns every digit (repr: a time series' time, SERIES_EXACT_COLUMNS)."""
    buf = io.StringIO()
    for c in comments:
        buf.write(f"# {c}\n")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    exact = {i for i, h in enumerate(header) if h in exact_columns}
    for row in rows:  # NaN (a value not computed at that row) is left empty
        w.writerow(["" if isinstance(v, float) and v != v else
                    (repr(float(v)) if i in exact else float_cell(v))
                    if isinstance(v, float) else v for i, v in enumerate(row)])
    atomic_write(path, buf.getvalue())


def write_json(path: Path, data: dict, durable: bool = False) -> None:
    """Write data as JSON atomically. An infinite or NaN number is written as null (as the
    unlimited lives of summary.json already are, limits._finite), never as the tokens
    Infinity or NaN, which are not JSON and which other readers refuse."""
    atomic_write(path, json.dumps(json_safe(data), indent=2, sort_keys=False, default=str,
                                  allow_nan=False) + "\n", durable)


def json_safe(data):
    """data with every non-finite float in its dicts, lists and tuples (numpy's float64
    included: a float) replaced by None. (Other numpy scalars reach json's default, str.)"""
    if isinstance(data, dict):
        return {k: json_safe(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [json_safe(v) for v in data]
    if isinstance(data, float) and not math.isfinite(data):
        return None
    return data


def provenance(comm_size: int = 1) -> dict:
    """Versions of the package and its stack, and where it ran."""
    from importlib import metadata

    versions = {}
    for dist in ("anodesim", "dolfinx-solver-real", "fenics-basix", "fenics-ffcx",
                 "fenics-ufl", "gmsh", "numpy", "scipy", "petsc4py", "mpi4py"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    from .errors import signals_held

    try:
        # dolfinx's first import (a rating's checkpoint identity makes it, before the
        # mesh): its nanobind modules call back into Python as they load, and a Ctrl-C
        # raised there ended the process by SIGSEGV or SIGABRT without a line
        with signals_held():
            import dolfinx
            from petsc4py import PETSc
        versions["dolfinx"] = dolfinx.__version__
        versions["PETSc"] = ".".join(map(str, PETSc.Sys.getVersion()))
    except Exception:  # noqa: BLE001 - provenance must never fail a run
        pass
    return {"versions": versions, "python": sys.version.split()[0],
            "platform": platform.platform(), "host": socket.gethostname(),
            "mpi_ranks": comm_size}


def _pyplot():
    """matplotlib's pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _figure(margins_in: tuple[float, float, float, float] | None = None, wspace: float = 0.2,
            title_in: float = 0.0, **kwargs):
    """A matplotlib Figure on an Agg canvas of its own, without pyplot (whose import and
    figure manager a file-only figure does not need); kwargs as for Figure.subplots plus
    figsize.

    Args:
        margins_in: fixed margins (left, right, bottom, top) in inches, for the figures
            every run draws: matplotlib's constrained layout measures every label in
            several passes and costs about half of a figure's CPU time (0.94 → 0.48 s for
            the drift figure, 1.00 → 0.52 s for the slices, 0.71 → 0.37 s for the time
            series, measured on the 2-core sandbox). None: constrained layout, for
            figures whose labels vary too much to lay out by hand (rating charts).
        wspace: width between panels, a fraction of the mean panel width (fixed margins).
        title_in: height (inches) of a title's lines after its first (fit_title), added to
            the figure and to its top margin (fixed margins): the axes keep their size.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    width, height = kwargs.pop("figsize")
    size = (width, height + title_in)
    fig = Figure(figsize=size, layout=None if margins_in else "constrained")
    FigureCanvasAgg(fig)
    if margins_in:
        left, right, bottom, top = margins_in
        top += title_in
        fig.subplots_adjust(left=left / size[0], right=1.0 - right / size[0],
                            bottom=bottom / size[1], top=1.0 - top / size[1], wspace=wspace)
    return fig, fig.subplots(**kwargs)


#: Margins (left, right, bottom, top; inches) of the run figures: tick labels and an axis
#: label on each side that has them, a title above.
RUN_MARGINS_IN = (0.85, 0.85, 0.6, 0.4)

#: Height of a title's line (em): matplotlib's line spacing (1.2) with room to spare.
TITLE_LINE_EM = 1.25


#: Advance widths of characters (points) by (font size, character): a title's width is the
#: sum of its characters' (fit_title)
_ADVANCE_PT: dict[tuple[float, str], float] = {}


def _width_pt(text: str, fontsize: float) -> float:
    """Width of a line of text in the default font (points): the sum of its characters'
    unhinted advances, each looked up once a process (a FreeType glyph load, about 14 µs;
    matplotlib 3.11's own layout of a string costs as much a glyph, on every call). A
    character the font lacks (CJK, emoji: matplotlib draws it from a fallback font, or a
    box) counts as one em, as wide as the widest common glyphs."""
    missing = {c for c in text if (fontsize, c) not in _ADVANCE_PT}
    if missing:
        from matplotlib.font_manager import FontProperties, findfont, get_font
        from matplotlib.ft2font import LoadFlags

        font = get_font(findfont(FontProperties(size=fontsize)))
        font.set_size(fontsize, 72.0)  # 1 pixel = 1 point
        for c in missing:  # 16.16 fixed point
            try:
                advance = font.load_char(ord(c), flags=LoadFlags.NO_HINTING) \
                    .linearHoriAdvance / 65536.0 if font.get_char_index(ord(c)) else fontsize
            except RuntimeError:  # FreeType could not load it
                advance = fontsize
            _ADVANCE_PT[(fontsize, c)] = advance
    return sum(_ADVANCE_PT[(fontsize, c)] for c in text)


#: Headroom of fit_title over the summed advances: kerning, and the renderer's hinted
#: advances (at 120 dpi about 2 % wider than the unhinted sum on a 130-character title)
TITLE_WIDTH_MARGIN = 1.04

#: The words of a title: runs of non-spaces, a mathtext span ($...$) with its spaces kept
#: whole (matplotlib parses each line of a text on its own)
_WORD = re.compile(r"(?:\$[^$]*\$|[^\s$]|\$)+")


def fit_title(title: str, width_in: float, fontsize: float = 10.0) -> tuple[str, float]:
    """The title broken at spaces into lines no wider than width_in (inches) at fontsize
    (points), and the height its lines after the first take (inches): a sweep's case title
    names every swept value and ran off both sides of a run figure.

    A title that fits is returned as it is (its figure unchanged to the pixel). A title
    already broken into lines keeps its breaks, each line fitted on its own. A mathtext
    span ($...$) is not broken (measured as its source text); a single word wider than
    the figure stays whole.
    """
    limit = width_in * 72.0 / TITLE_WIDTH_MARGIN  # points
    given = title.split("\n")
    if all(_width_pt(line, fontsize) <= limit for line in given):
        return title, (len(given) - 1) * TITLE_LINE_EM * fontsize / 72.0
    space = _width_pt(" ", fontsize)
    lines: list[list[str]] = []
    for line in given:
        lines.append([])
        used = 0.0
        for word in _WORD.findall(line):
            w = _width_pt(word, fontsize)
            if lines[-1] and used + space + w <= limit:
                lines[-1].append(word)
                used += space + w
            else:
                if lines[-1]:
                    lines.append([])
                lines[-1].append(word)
                used = w
    return ("\n".join(" ".join(line) for line in lines),
            (len(lines) - 1) * TITLE_LINE_EM * fontsize / 72.0)


def warm_up() -> None:
    """Import matplotlib and draw a small figure with text once (fonts, the first draw's
    caches), so that the run's first figure does not pay for it."""
    fig, ax = _figure(figsize=(2, 1.5), margins_in=(0.3, 0.1, 0.3, 0.2))
    ax.plot([1.0, 10.0], [0.0, 1.0], label="warm-up (°C, µm)")
    ax.set_xscale("log")
    _log_minor_ticks(ax.xaxis)
    ax.legend(fontsize=8)
    ax.set_title("warm-up", fontsize=10)
    fig.savefig(io.BytesIO(), format="png", dpi=40)


def _save(fig, path: Path) -> None:
    """Write a figure as PNG atomically and release it (pyplot's figures are closed)."""
    buf = io.BytesIO()
    # zlib level 3, not 6: the same pixels, files 10 % larger, 0.08 s of CPU less for a
    # run's three figures (of a sweep's 50 cases, 3 s)
    fig.savefig(buf, format="png", dpi=120, pil_kwargs={"compress_level": 3})
    if getattr(fig.canvas, "manager", None) is not None:  # made by pyplot
        _pyplot().close(fig)
    atomic_write(path, buf.getvalue())


#: Runs at least this long (s) are drawn on a linear axis in minutes: a warm-up's minutes
#: matter, its first microseconds do not.
MINUTES_FROM_S = 600.0


def _time_axis(ax, t, log_time: bool):
    """Set ax's time axis for times t (s) and return the times to plot: minutes on a linear
    axis for long runs, seconds (logarithmic for a single load) otherwise."""
    import numpy as np

    t = np.asarray(t, dtype=float)
    if len(t) and t[-1] >= MINUTES_FROM_S:
        ax.set_xlabel("time (min)")
        return t / 60.0
    ax.set_xlabel("time (s)")
    if log_time:
        ax.set_xscale("log")
        _log_minor_ticks(ax.xaxis)
    return t


def _log_minor_ticks(axis) -> None:
    """Minor ticks at 2 and 5 times each decade of a logarithmic axis, not at 2 ... 9:
    a single load's time axis spans up to eight decades with minor ticks (matplotlib drops
    them from nine), and each of the about 80 default ones there is an object of its own
    (about a fifth of a run figure's CPU time). Its labels are plain text
    (plain_log_labels)."""
    from matplotlib.ticker import LogLocator

    axis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
    plain_log_labels(axis)


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
_MATHDEFAULT = re.compile(r"^\$\\mathdefault\{(.*)\}\$$")  # a label's mathtext wrapper
_POWER = re.compile(r"\^\{(-?[0-9]+)\}")  # a mathtext superscript: an integer exponent


def plain_log_labels(axis) -> None:
    """Label a logarithmic axis's ticks as matplotlib does (10⁻³, 2×10⁻³: the same ticks,
    the same numbers) in plain text with Unicode superscripts, not in mathtext: laying out
    mathtext parses each label with pyparsing, about 0.25 s of CPU for the first figure of
    a process (the parser's construction included) and 20 ms for each new label after."""
    from matplotlib.ticker import LogFormatterSciNotation

    class PlainLogFormatter(LogFormatterSciNotation):
        def __call__(self, x, pos=None):
            return _plain(super().__call__(x, pos))

    for get, put in ((axis.get_major_formatter, axis.set_major_formatter),
                     (axis.get_minor_formatter, axis.set_minor_formatter)):
        old = get()
        if type(old) is not LogFormatterSciNotation:
            continue  # not a log scale's own formatter (a linear axis, a user's choice)
        new = PlainLogFormatter.__new__(PlainLogFormatter)
        new.__dict__.update(vars(old))  # the same base, thresholds and labelled subset
        put(new)


def _plain(label: str) -> str:
    """A tick label of LogFormatterSciNotation ("$\\mathdefault{2\\times10^{-3}}$") in
    plain text ("2×10⁻³")."""
    match = _MATHDEFAULT.match(label)
    if match is None:  # plain already, or another form (usetex): as matplotlib wrote it
        return label
    text = match.group(1).replace("\\times", "×")
    text = _POWER.sub(lambda m: m.group(1).translate(_SUPERSCRIPT), text)
    return text.replace("-", "−", 1) if text.startswith("-") else text


def plot_timeseries(path: Path, t, curves: dict[str, list[float]], power, title: str,
                    log_time: bool, limits: dict[str, float] | None = None) -> None:
    """PNG of temperatures against time, with the beam power as a shaded background
    (arguments as for draw_timeseries)."""
    title, extra = fit_title(title, 8.0 - 0.2)  # centred on axes centred in the figure
    fig, ax = _figure(figsize=(8, 4.8), margins_in=RUN_MARGINS_IN, title_in=extra)
    draw_timeseries(ax, t, curves, power, title, log_time, limits)
    _save(fig, path)


def draw_timeseries(ax, t, curves: dict[str, list[float]], power, title: str,
                    log_time: bool, limits: dict[str, float] | None = None):
    """Temperatures against time on ax (None: a new figure), with the beam power as a shaded
    background on a twin axis.

    Args:
        t: times (s); power[i] is the beam power (W) during the step ending at t[i].
        curves: label → temperatures (°C); a label starting with "probe " is drawn dotted.
        log_time: logarithmic time axis (a single load) or linear (a schedule of pulses);
            runs of MINUTES_FROM_S or more are drawn in minutes on a linear axis.
        limits: temperature limits in force, name → °C, drawn as dashed lines (those
            within twice the hottest curve's range, so a far limit does not flatten it).

    Returns:
        The temperature axes.
    """
    if ax is None:  # constrained layout makes room for the lines of the title
        _, ax = _pyplot().subplots(figsize=(8, 4.8), layout="constrained")
        title = fit_title(title, 8.0 - 0.6)[0]
    tp = _time_axis(ax, t, log_time)
    for label, values in curves.items():
        # a probe often sits at a region's hottest point (the joint below the insert): drawn
        # dotted on top, so that neither curve hides the other
        probe = label.startswith("probe ")
        ax.plot(tp, values, label=label, lw=2.0 if probe else 1.6, ls=":" if probe else "-")
    ax.set_ylabel("temperature (°C)")
    top = max((max(v) for v in curves.values() if len(v)), default=0.0)
    # limits of equal value (the interface's and the heat sink's 200 °C) share one line
    shown: dict[str, list[str]] = {}
    for name, value in (limits or {}).items():
        if value <= 2.0 * max(top, 1.0):
            shown.setdefault(f"{value:.4g}", []).append(name)
    colours = _unused_colours(ax, len(shown))
    for colour, (value, names) in zip(colours, shown.items()):
        ax.axhline(float(value), color=colour, ls="--", lw=1.0,
                   label=f"limit {', '.join(names)} {value} °C")
    ax.grid(True, which="major", alpha=0.3)
    ax2 = ax.twinx()
    ax2.stairs(power[1:], tp, fill=True, color="0.9", linewidth=0)
    ax2.stairs(power[1:], tp, color="0.6", linewidth=0.8)
    ax2.set_ylabel("beam power (W)", color="0.4")
    ax2.set_ylim(0, 1.15 * max(max(power), 1e-12))
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(title, fontsize=10)
    return ax


def _unused_colours(ax, n: int) -> list:
    """n colours for the limit lines that no line on ax has (a limit drawn in a curve's
    colour reads as that curve's limit): the colour cycle's others first, then greys."""
    import matplotlib
    from matplotlib.colors import to_hex

    used = {to_hex(line.get_color()) for line in ax.get_lines()}
    cycle = matplotlib.rcParams["axes.prop_cycle"].by_key().get("color", [])
    greys = ["#000000", "#595959", "#8c8c8c", "#404040", "#737373", "#a6a6a6"]
    free = [c for c in dict.fromkeys(to_hex(c) for c in cycle + greys) if c not in used]
    return [free[i % len(free)] if free else "#000000" for i in range(n)]


def plot_profiles(path: Path, profiles: dict[str, tuple[list[float], list[float]]],
                  title: str) -> None:
    """PNG of steady temperature profiles (x in µm, T in °C)."""
    # the title is centred on the axes, 3.725 in from the figure's right edge
    title, extra = fit_title(title, 2 * 3.725 - 0.2)
    fig, ax = _figure(figsize=(8, 4.8), margins_in=(0.85, 0.3, 0.6, 0.4), title_in=extra)
    for label, (x, T) in profiles.items():
        ax.plot(x, T, label=label, lw=1.6)
    ax.set_xscale("symlog", linthresh=1.0)
    plain_log_labels(ax.xaxis)
    ax.set_xlabel("distance from the spot centre (µm)")
    ax.set_ylabel("temperature (°C)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    _save(fig, path)


def plot_slices(path: Path, panels: list[tuple], title: str) -> None:
    """PNG of temperature maps on plane cuts: panels of (label, x, y, T, xlabel, ylabel),
    x and y axes (mm), T (°C, NaN outside the body) of shape (len(y), len(x)).

    The maps are drawn to scale, each panel as wide as its cut at a common height (within
    limits; a flat cut is lower), with a colour bar of a fixed width as tall as its map: a
    tall body and a flat zoom on the spot share the figure without an empty band."""
    import numpy as np
    from matplotlib.colors import PowerNorm
    from matplotlib.ticker import FuncFormatter

    tall, bar, gap, right = 3.4, 0.22, 1.75, 1.0  # inches: maps, bar, between, after
    aspects = [max(float(np.ptp(x)) / max(float(np.ptp(y)), 1e-300), 1e-6)
               for _, x, y, *_ in panels]
    widths = [min(max(tall * a, 1.2), 5.0) for a in aspects]
    heights = [min(w / a, tall) for w, a in zip(widths, aspects)]  # the maps' own heights
    height = max(heights)
    cells = [w + bar + 0.15 for w in widths]  # a map, the bar's pad and the bar
    width = 1.0 + sum(cells) + gap * (len(panels) - 1) + right
    title, extra = fit_title(title, width - 0.2)  # the figure's title, centred on it
    fig, axes = _figure(nrows=1, ncols=len(panels), figsize=(width, height + 1.15),
                        margins_in=(1.0, right, 0.6, 0.55), title_in=extra,
                        wspace=gap / float(np.mean(cells)),
                        gridspec_kw={"width_ratios": cells})
    for ax, cell, h, (label, x, y, T, xlabel, ylabel) in zip(np.atleast_1d(axes), cells,
                                                             heights, panels):
        finite = np.asarray(T)[np.isfinite(T)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        if hi - lo < 0.1:  # uniform to 0.1 K: one colour, not round-off stretched over all
            lo, hi = 0.5 * (lo + hi) - 0.05, 0.5 * (lo + hi) + 0.05
        # a power-law colour scale: the spot is hundreds of kelvin above the rest
        norm = PowerNorm(0.3, vmin=lo, vmax=hi)
        im = ax.pcolormesh(x, y, np.ma.masked_invalid(T), shading="auto", cmap="inferno",
                           norm=norm)
        ax.set_aspect("equal")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(label, fontsize=9)
        cb = fig.colorbar(im, ax=ax, label="temperature (°C)", fraction=bar / cell,
                          pad=0.15 / cell, shrink=max(h / height, 0.4))
        ticks, decimals = _power_ticks(norm, lo, hi)
        cb.set_ticks(ticks)
        cb.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _, d=decimals: f"{v:.{d}f}"))
    fig.suptitle(title, fontsize=10)
    _save(fig, path)


def _power_ticks(norm, lo: float, hi: float, n: int = 6) -> tuple[list[float], int]:
    """About n colour-bar ticks evenly spaced along a PowerNorm's bar (not in temperature,
    where the default ticks crowd at the hot end) with both ends, and the decimals to
    print them with: the inner ticks rounded to a tenth of the range's order of magnitude
    (870 K: tens; 0.4 K: hundredths; never finer than 0.01 K), the ends exact (a rounded
    end falls off the bar)."""
    import math

    import numpy as np

    # hundredths of a kelvin at the finest: a field uniform to less (a body back at its
    # coolant's temperature) gets one label, mid-bar
    step = 10.0 ** math.floor(math.log10(max((hi - lo) / 10.0, 0.01)))
    decimals = max(0, -math.floor(math.log10(step)))
    if not hi - lo > 2 * step:
        return [0.5 * (lo + hi)], decimals
    inner = sorted({round(float(norm.inverse(u)) / step) * step
                    for u in np.linspace(0.0, 1.0, n)[1:-1]})
    return [lo] + [v for v in inner if lo + step / 2 < v < hi - step / 2] + [hi], decimals


def cycles_between(t_saved, t, T_peak) -> bool:
    """Whether the peak temperature oscillates between two consecutive drift times: its path
    there varies more than one excursion beyond the two ends would (total variation above
    |T(b) − T(a)| plus twice the overshoots). The drift follows the load, so a line joining
    the two drift points would draw a path the spot never took (e.g. across the pulses of a
    train); a monotone stretch or a single rise and fall keeps its line."""
    import numpy as np

    ts, t, T = (np.asarray(a, dtype=float) for a in (t_saved, t, T_peak))
    if len(ts) < 2 or len(T) < 3:
        return False
    tol = 1e-3 * max(float(np.ptp(T)), 1e-12)  # ignore solver-level ripples
    for a, b in zip(ts[:-1], ts[1:]):
        inside = (t > a) & (t < b)
        if not np.any(inside):
            continue
        ends = np.interp([a, b], t, T)
        path = np.concatenate(([ends[0]], T[inside], [ends[1]]))
        single = (abs(ends[1] - ends[0]) + 2 * max(path.max() - ends.max(), 0.0)
                  + 2 * max(ends.min() - path.min(), 0.0))
        if np.abs(np.diff(path)).sum() > single + tol:
            return True
    return False


def plot_drift(path: Path, t_saved, drift: dict[str, list[float]], image_px, t, T_peak,
               title: str, log_time: bool, px_per_um: float | None = None,
               dM_rel: list[float] | None = None) -> None:
    """PNG of the focal-spot drift at the save times (µm at the source; detector pixels on
    a second axis when px_per_um is given), the relative magnification change ΔM/M in a
    lower panel when given, and the peak temperature behind the drift."""
    rows = 2 if dM_rel else 1
    title, extra = fit_title(title, 8.0 - 0.2)
    fig, axs = _figure(nrows=rows, ncols=1, figsize=(8, 4.8 + 2.0 * (rows - 1)),
                       squeeze=False, sharex=True,
                       gridspec_kw={"height_ratios": [3, 1.3][:rows]},
                       margins_in=RUN_MARGINS_IN, title_in=extra)
    ax = axs[0, 0]
    ts = _time_axis(ax, t_saved, log_time)
    style = "o" if cycles_between(t_saved, t, T_peak) else "o-"
    for label, values in drift.items():
        ax.plot(ts, values, style, ms=3.5, lw=1.6, label=label)
    ax.set_ylabel("focal-spot drift at the source (µm)")
    ax.grid(True, alpha=0.3)
    ax.axhline(0.0, color="0.5", lw=0.8)
    if px_per_um:
        sec = ax.secondary_yaxis("right", functions=(lambda u: u * px_per_um,
                                                     lambda p: p / px_per_um))
        sec.set_ylabel("image drift across the view (detector px)")
    ax2 = ax.twinx()
    ax2.plot(_time_axis(ax2, t, log_time), T_peak, color="tab:red", lw=1.0, alpha=0.35,
             label="peak temperature")
    ax2.set_yticks([])
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    if image_px:
        ax.plot([], [], " ", label=f"image drift at the end: {image_px[-1]:.3g} px")
    if style == "o":
        ax.plot([], [], " ", label="drift points not joined: the load cycles between them")
    ax.plot([], [], color="tab:red", alpha=0.35, label="peak temperature (shape only)")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(title, fontsize=10)
    if dM_rel:
        bx = axs[1, 0]
        bx.plot(_time_axis(bx, t_saved, log_time), dM_rel, style, ms=3, lw=1.4, color="tab:green")
        bx.set_ylabel("ΔM/M")
        bx.grid(True, alpha=0.3)
        bx.axhline(0.0, color="0.5", lw=0.8)
        bx.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
        ax.set_xlabel("")
    _save(fig, path)


def plot_chart(path: Path, xlabel: str, x, curves: dict[str, list[float]], ylabel: str,
               title: str, log_x: bool) -> None:
    """PNG of a rating chart (arguments as for draw_chart)."""
    fig, ax = _figure(figsize=(7, 4.6))  # constrained layout: room for a title's lines
    draw_chart(ax, xlabel, x, curves, ylabel, fit_title(title, 7.0 - 0.6)[0], log_x)
    _save(fig, path)


def draw_chart(ax, xlabel: str, x, curves: dict[str, list[float]], ylabel: str, title: str,
               log_x: bool):
    """A rating chart (maximum power against loading time, duty cycle or period) on ax
    (None: a new figure); returns the axes."""
    if ax is None:  # constrained layout makes room for the lines of the title
        _, ax = _pyplot().subplots(figsize=(7, 4.6), layout="constrained")
        title = fit_title(title, 7.0 - 0.6)[0]  # the axes sit right of their label
    for label, y in curves.items():
        ax.plot(x, y, "o-", ms=4, lw=1.6, label=label)
    if log_x:
        ax.set_xscale("log")
        plain_log_labels(ax.xaxis)
        values = [v for y in curves.values() for v in y if v > 0]
        if values and max(values) > 10 * min(values):
            ax.set_yscale("log")
            plain_log_labels(ax.yaxis)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    return ax
