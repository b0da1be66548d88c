"""``report.html``: one self-contained page (plots embedded as base64 PNG, no network
access) to hand over a run, a rating or a study: the case (geometry picture, materials,
beam, schedule, the case text), the headline results, the limits table, the drift in µm,
px and ΔM/M, the rating in words with its charts, the study table and plot, the model's
assumptions that apply, and the provenance.

The page is rendered by Jinja2 from ``report.html.j2`` (package data) out of the folder's
own files (summary.json, rating.json, study.json, results.csv, the PNGs, case.toml), so a
report can be made again at any time from a folder alone: ``anodesim report DIR``.
"""

from __future__ import annotations

import base64
import csv
import datetime as _dt
import json
from pathlib import Path

from .. import __version__, output
from ..case import CaseError
from ..limits import coarse_yield_cells, limit_label
from ..spot_sizes import size_words
from . import assumptions, figures

#: PNGs of a run or rating folder, in the order shown, with their captions.
RUN_PLOTS = {
    "temperatures.png": "Temperatures against time; the beam power shaded behind them",
    "profiles.png": "Steady temperature profiles",
    "temperature_field.png": "Temperature field at the end of the run",
    "temperature_slices.png": "Temperature on two cuts at the end of the run",
    "drift.png": "Focal-spot drift at the save times",
}
RATING_PLOTS = {
    "rating_single.png": "Single-load rating",
    "rating_duty.png": "Serial-load rating against the duty cycle",
    "rating_period.png": "Serial-load rating against the period",
    "rating_life.png": "Continuous rating against the required life",
    "rating_heat_content.png": "Anode heat content",
}
_UNITS = {"C": "°C", "K": "K", "um": "µm", "rel": "", "px": "px"}
_CASE_NAME = "case.toml"
REPORT = "report.html"


def kind_of(folder: Path) -> str:
    """"study", "rating" or "run": what the folder holds (CaseError when none)."""
    if (folder / "study.json").is_file():
        return "study"
    if (folder / "rating.json").is_file():
        return "rating"
    if (folder / "summary.json").is_file():
        return "run"
    raise CaseError(f"report {folder}: holds no anodesim run, rating or study (expected "
                    "summary.json, rating.json or study.json in it)")


def write_report(folder: str | Path, case_text: str | None = None) -> Path:
    """Write ``report.html`` into a run, rating or study folder (atomically).

    Args:
        folder: the folder of ``anodesim run``, ``rate`` or ``sweep``.
        case_text: the case file's text; default the folder's case.toml, if any.

    Returns:
        The report's path.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CaseError(f"report {folder}: not a folder; expected a run, rating or study "
                        "folder")
    kind = kind_of(folder)
    if not output._can_create_in(folder):  # before the page is made: bad input, exit 2
        raise CaseError(f"report {folder}: the folder is not writable (report.html goes into "
                        "it); expected a folder you can write to, e.g. a copy of this one "
                        "(the report is made from its files alone)")
    if case_text is None and (folder / _CASE_NAME).is_file():
        # as kept by run and rate (UTF-8, read when the case was); damaged bytes shown as �
        case_text = (folder / _CASE_NAME).read_text(errors="replace")
    ctx = {"study": _study, "rating": _rating, "run": _run}[kind](folder, case_text)
    ctx.update(kind=kind, folder=str(folder), generated_utc=_now(), version=__version__,
               made_with=output.provenance())
    html = _template().render(**ctx)
    path = folder / REPORT
    output.atomic_write(path, html)
    return path


def _template():
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("anodesim", "report"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["num"] = num
    return env.get_template("report.html.j2")


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def num(v, digits: int = 4) -> str:
    """A number for the page: `digits` significant figures, '–' for none."""
    if v is None:
        return "–"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    return f"{v:.{digits}g}"


def _b64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode("ascii") if data else None


def _plots(folder: Path, names: dict[str, str]) -> list[dict]:
    return [{"caption": cap, "file": name, "png": _b64((folder / name).read_bytes())}
            for name, cap in names.items() if (folder / name).is_file()]


# ---------------------------------------------------------------------------------------
# The case
# ---------------------------------------------------------------------------------------
def case_sections(case: dict) -> list[tuple[str, list[tuple[str, str]]]]:
    """(section, [(key, value in engineering units)]) of a case dict (Case.to_dict())."""
    geo, beam, load = case["geometry"], case["beam"], case["loading"]
    g = [("kind", geo["kind"])]
    g += [(k[:-2], f"{num(v * 1e3)} mm") for k, v in (geo.get("sizes_m") or {}).items()]
    if geo.get("anode_angle_rad"):
        g.append(("anode angle", f"{num(geo['anode_angle_rad'] * 57.29577951308232)}°"))
    if geo.get("file"):
        g.append(("mesh file", geo["file"]))
    m = [(region, mat) for region, mat in case["materials"]["by_region"].items()]
    m.append(("properties", "temperature-dependent" if case["materials"].get(
        "temperature_dependent") else "constant"))
    for region, over in (case["materials"].get("overrides") or {}).items():
        m.append((f"{region} overrides", ", ".join(f"{k} = {num(v)}" for k, v in over.items())))
    V, P = beam["voltage_V"], beam["power_W"]
    b = [("voltage", f"{num(V / 1e3)} kV"), ("beam power", f"{num(P)} W"),
         ("current", f"{num(P / V * 1e3)} mA" if V else "–"),
         ("spot", f"{beam['spot']}, " + size_words(
             beam["spot"], beam["size_m"], beam.get("size2_m"),
             beam.get("size_definition", "fwhm"), beam.get("given_size_m"))),
         ("deposition", str(beam.get("deposition")))]
    segs = load.get("segments") or []
    s = [("kind", load["kind"])]
    if segs:
        total = sum(d for d, _ in segs)
        s += [("segments", str(len(segs))), ("duration", f"{num(total)} s"),
              ("highest beam power", f"{num(max(p for _, p in segs))} W"),
              ("mean beam power", f"{num(sum(d * p for d, p in segs) / total)} W")]
    if load.get("repeat_every_s") is not None:
        s.append(("repeated every", f"{num(load['repeat_every_s'])} s, start to start"))
    bc = [(name, _boundary(v)) for name, v in (case.get("boundaries") or {}).items()]
    bc += [(f"interface {name}", f"{num(h)} W/m²K") for name, h in
           (case.get("interfaces") or {}).items()]
    if case.get("coolant_circuit"):
        bc.append(("coolant circuit", _circuit(case["coolant_circuit"])))
    bc.append(("initial temperature", f"{num(case['initial_temperature_K'] - 273.15)} °C"))
    return [("Geometry", g), ("Materials", m), ("Beam", b), ("Schedule", s),
            ("Boundaries and interfaces", bc)]


def _boundary(bc: dict) -> str:
    parts = [bc["type"]]
    if bc.get("temperature_K") is not None:
        parts.append(f"{num(bc['temperature_K'] - 273.15)} °C")
    if bc.get("h_W_m2K") is not None:
        parts.append(f"h = {num(bc['h_W_m2K'])} W/m²K")
    if bc.get("emissivity") is not None:
        parts.append(f"ε = {num(bc['emissivity'])}")
    if bc.get("q_W_m2") is not None:
        parts.append(f"q = {num(bc['q_W_m2'])} W/m²")
    if bc.get("coolant"):
        parts.append(f"coolant {bc['coolant']}")
    if bc.get("circuit"):
        parts.append("the coolant circuit's temperature")
    return ", ".join(parts)


def _circuit(c: dict) -> str:
    """The lumped coolant circuit (case.CoolantCircuit as a dict) in words."""
    text = (f"heat capacity {num(c['heat_capacity_J_K'])} J/K, cooler {num(c['cooler_UA_W_K'])}"
            f" W/K to {num(c['ambient_K'] - 273.15)} °C")
    if c.get("flow_W_K") is not None:
        text += f" (flow {num(c['flow_W_K'])} W/K)"
    return text + f", from {num(c['initial_K'] - 273.15)} °C"


def _case_part(folder: Path, case: dict, case_text: str | None, title: str) -> dict:
    """The case's part of the page: sections, pictures, text."""
    mesh = folder / "mesh.msh"
    pictures = []
    geo = figures.geometry_png(mesh, title, case["beam"].get("size_m")) if mesh.is_file() else None
    if geo:
        pictures.append({"caption": "Geometry and mesh (mesh.msh)", "png": _b64(geo)})
    sched = figures.schedule_png(case["loading"].get("segments"), "beam power schedule")
    if sched:
        pictures.append({"caption": "Beam power schedule", "png": _b64(sched)})
    return {"sections": case_sections(case), "pictures": pictures,
            "case_text": case_text if case_text is not None else json.dumps(case, indent=2),
            "case_text_kind": "case file" if case_text is not None else
            "resolved case (SI units; the case file was not kept in this folder)",
            "assumptions": assumptions.applying(case)}


# ---------------------------------------------------------------------------------------
# Limits, results, drift
# ---------------------------------------------------------------------------------------
def limit_rows(checks: list[dict]) -> list[dict]:
    """Rows of the limits table from summary.json's (or rating.json's) limit checks."""
    rows = []
    for c in checks:
        unit = c["unit"]
        shown = _UNITS.get(unit, unit)
        margin_key = next((k for k in c if k.startswith("margin_")), None)
        rows.append({
            "name": limit_label(c["limit"], c.get("column", "")), "unit": shown,
            "limit": c.get(f"limit_{unit}"), "worst": c.get(f"worst_{unit}"),
            "time_s": c.get("time_s"),
            "margin": c.get(margin_key) if margin_key else None,
            "margin_unit": _UNITS.get(margin_key[len("margin_"):], "") if margin_key else "",
            "holds": c.get("holds"), "origin": c.get("origin", ""), "note": _worst_note(c)})
    return rows


def _worst_note(c: dict) -> str:
    """What a limit's worst value is measured on besides its own unit: a life limit is
    rated and its tolerance met on the equivalent constant spot temperature (0.909 µm of
    a 1 µm budget is the binding limit met to 0.25 % of that temperature's allowed rise,
    not 9 % short of it), a drift limit given in pixels in pixels."""
    eq, lim = c.get("equivalent_spot_temperature_C"), c.get(
        "limit_equivalent_spot_temperature_C")
    if _is_number(eq) and _is_number(lim):
        return f"the spot as if held at {num(eq, 5)} °C (allowed {num(lim, 5)} °C)"
    if _is_number(c.get("worst_px")) and _is_number(c.get("limit_px")):
        return f"{num(c['worst_px'], 3)} px on the detector (allowed {num(c['limit_px'])} px)"
    return ""


def headline(s: dict) -> list[tuple[str, str]]:
    """(quantity, value) of a run's headline results."""
    r, b, n = s["results"], s["beam"], s["numerics"]
    out = [("status", s["status"] + (f": {s['error']}" if s.get("error") else ""))]
    if r.get("T_peak_max_C") is not None:
        out.append(("peak temperature", f"{r['T_peak_max_C']:.1f} °C at t = "
                    f"{num(r['T_peak_max_time_s'])} s"))
    out.append(("beam power / deposited power",
                f"{num(b['beam_power_W'])} W / {num(b['deposited_power_W'])} W "
                f"(η_E = {num(b['backscatter_energy_fraction'], 3)})"))
    if b.get("extra_focal_power_W") is not None and isinstance(b.get("extra_focal"), dict):
        from ..extra_focal import console_line

        out.append(("backscattered power: extra-focal heat and X-rays leaving",
                    console_line(b)))
    for region, T in r.get("T_max_by_region_C", {}).items():
        out.append((f"hottest {region}", f"{T:.1f} °C"))
    if b.get("electron_range_um"):
        out.append(("electron range", ", ".join(f"{k} {num(v, 3)} µm"
                                                for k, v in b["electron_range_um"].items())))
    if b.get("deposition_depth_um") is not None:
        out.append(("deposition depth (99.9 % of the energy)",
                    f"{num(b['deposition_depth_um'], 3)} µm"))
    lf = r.get("life") or {}
    if lf.get("erosion_rate_nm_h") is not None:
        out.append(("evaporation at the spot", f"{num(lf['erosion_rate_nm_h'], 3)} nm/h"))
    if lf.get("life_basis"):
        out.append(("life figures", lf["life_basis"]))
    if lf.get("repeat_note"):
        out.append(("WARNING: repetition", lf["repeat_note"]))
    if lf.get("fatigue_verdict"):
        out.append(("thermal fatigue of the spot", lf["fatigue_verdict"]))
    m = s.get("mechanics") or {}
    for region, v in (m.get("von_mises_max_MPa") or {}).items():
        out.append((f"largest von Mises stress, {region}", f"{v['value']:.0f} MPa"))
    for key in (k for k in m if k.startswith("yield_use_") and k.endswith("_rel")):
        use, cell = m[key].get("max_abs"), m[key].get("cell_um")
        coarse = coarse_yield_cells(cell) if _is_number(cell) else None  # as the console
        out.append((f"yield use near the joint, {key[len('yield_use_'):-len('_rel')]}",
                    f"{num(use, 3)} × its yield strength (von Mises stress averaged over a "
                    f"0.1 mm ball, at t = {num(m[key].get('time_of_max_s'))} s"
                    + (f"; WARNING: {coarse}" if coarse else
                       f"; cells of {num(cell, 3)} µm there" if cell is not None else "")
                    + ")"))
    out.append(("mesh and steps", f"{n['cells']} cells, {n['dofs']} dofs, "
                f"{n['time_steps']} time steps, {s['timing_s']['total']:.1f} s wall"))
    return out


#: summary.json "mechanics" columns of the drift table: (column, what, unit).
DRIFT = [("drift_across_view_um", "apparent spot shift across the view axis", "µm"),
         ("image_drift_px", "image drift on the detector", "px"),
         ("drift_along_view_um", "spot shift along the view axis", "µm"),
         ("magnification_change_rel", "magnification change ΔM/M", ""),
         ("spot_shift_um", "shift along the beam (< 0: towards the cathode)", "µm"),
         ("u_spot_z_um", "axial displacement of the spot", "µm")]


def drift_rows(mech: dict | None) -> list[dict]:
    """Rows of the drift table (final and largest magnitude with its time)."""
    return [{"what": what, "unit": unit, "final": mech[col]["final"],
             "max_abs": mech[col]["max_abs"], "time_s": mech[col]["time_of_max_s"]}
            for col, what, unit in DRIFT if mech and col in mech]


def _provenance(s: dict) -> list[tuple[str, str]]:
    p = s.get("provenance") or {}
    rows = [("anodesim", s.get("anodesim_version", "–")), ("case id", s.get("case_hash", "–")),
            ("started (UTC)", s.get("started_utc") or s.get("created_utc") or "–"),
            ("host", p.get("host", "–")), ("platform", p.get("platform", "–")),
            ("python", p.get("python", "–")), ("MPI ranks", str(p.get("mpi_ranks", "–")))]
    rows += [(k, v) for k, v in (p.get("versions") or {}).items()]
    return rows


# ---------------------------------------------------------------------------------------
# The three kinds of folder
# ---------------------------------------------------------------------------------------
def _load(folder: Path, name: str, keys: tuple[str, ...]) -> dict:
    """A JSON file of the folder as anodesim wrote it: a table with `keys`; bad input (one
    line, exit 2) when it is not JSON or not such a table (edited or cut short by hand)."""
    try:
        data = json.loads((folder / name).read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise CaseError(f"report {folder}: {name} is not JSON ({e}); expected the file as "
                        "anodesim wrote it") from None
    missing = [k for k in keys if not isinstance(data, dict) or k not in data]
    if missing:
        raise CaseError(f"report {folder}: {name} has no {', '.join(missing)}; expected the "
                        "file as anodesim wrote it")
    return data


def _run(folder: Path, case_text: str | None) -> dict:
    s = _load(folder, "summary.json", ("title", "case", "results"))
    try:
        return {"title": str(s["title"]),
                "case": _case_part(folder, s["case"], case_text, s["title"]),
                "headline": headline(s), "limits": limit_rows(s["results"].get("limits", [])),
                "drift": drift_rows(s.get("mechanics")), "plots": _plots(folder, RUN_PLOTS),
                "rating": None, "study": None, "provenance": _provenance(s),
                "failure": _failure(s)}
    except CaseError:
        raise
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as e:
        # an entry edited or cut by hand ("status" removed, the case a string): was
        # "internal error", exit 1; rating.json is checked entry by entry (_check_rating)
        what = f"no entry {e.args[0]!r} where one is read" if isinstance(e, KeyError) else \
            f"an entry not in the shape anodesim writes ({e})"
        raise CaseError(f"report {folder}: summary.json: {what}; expected the file as "
                        "anodesim wrote it") from None


def _failure(s: dict) -> str | None:
    """The banner of a run that did not complete (failed, interrupted): what stopped it and
    how far it got; None for a complete run."""
    if s.get("status", "complete") == "complete":
        return None
    final = (s["results"].get("final") or {}).get("time_s")
    until = f" up to t = {num(final)} s" if isinstance(final, (int, float)) else ""
    why = f": {s['error']}" if s.get("error") else ""
    return (f"The run did not complete ({s.get('status')}){why}. The results below are "
            f"what it saved{until}, not those of the whole schedule.")


def _damaged(folder: Path, name: str, where: str, value, what: str) -> CaseError:
    shown = json.dumps(value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return CaseError(f"report {folder}: {name}: {where} = {shown}; expected {what}, as "
                     "anodesim wrote it")


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_limit_list(folder: Path, name: str, where: str, value) -> None:
    """A list of limit tables (definitions or checks), each naming its limit and unit."""
    what = "a list of limit tables, each with a 'limit' and a 'unit' string"
    if not isinstance(value, list):
        raise _damaged(folder, name, where, value, what)
    for i, c in enumerate(value):
        if not isinstance(c, dict):
            raise _damaged(folder, name, f"{where}[{i}]", c, what)
        for k in ("limit", "unit"):
            if not isinstance(c.get(k), str):
                raise _damaged(folder, name, f"{where}[{i}].{k}", c.get(k), "a string")
        for k in ("column", "origin"):
            if k in c and not isinstance(c[k], str):
                raise _damaged(folder, name, f"{where}[{i}].{k}", c[k], "a string")


def _check_rating(folder: Path, r: dict) -> None:
    """The parts of rating.json the report reads, in the shape anodesim writes them: a
    damaged or hand-edited file is bad input naming what is wrong (CaseError), not an
    internal error."""
    name = "rating.json"
    if not isinstance(r["title"], str):
        raise _damaged(folder, name, "title", r["title"], "a string")
    for k in ("rating_in_words", "case_hash"):
        if r.get(k) is not None and not isinstance(r[k], str):
            raise _damaged(folder, name, k, r[k], "a string")
    if r.get("seconds") is not None and not _is_number(r["seconds"]):
        raise _damaged(folder, name, "seconds", r["seconds"], "a number")
    if "limits" in r:
        _check_limit_list(folder, name, "limits", r["limits"])
    sl = r.get("max_safe_loading")
    if sl is not None:
        if not isinstance(sl, dict):
            raise _damaged(folder, name, "max_safe_loading", sl, "a table")
        if sl.get("beam_power_W") is not None and not _is_number(sl["beam_power_W"]):
            raise _damaged(folder, name, "max_safe_loading.beam_power_W", sl["beam_power_W"],
                           "a number")
        for k in ("binding", "method", "tolerance"):
            if k in sl and not isinstance(sl[k], str):
                raise _damaged(folder, name, f"max_safe_loading.{k}", sl[k], "a string")
        if not isinstance(sl.get("confirmed", False), bool):
            raise _damaged(folder, name, "max_safe_loading.confirmed", sl["confirmed"],
                           "true or false")
        _check_limit_list(folder, name, "max_safe_loading.limits_at_that_power",
                          sl.get("limits_at_that_power", []))
    c = r.get("continuous")
    if c is not None:
        if not isinstance(c, dict):
            raise _damaged(folder, name, "continuous", c, "a table")
        for k, v in c.items():
            if k.endswith("_W") and not _is_number(v):
                raise _damaged(folder, name, f"continuous.{k}", v, "a number")


def _rating(folder: Path, case_text: str | None) -> dict:
    r = _load(folder, "rating.json", ("title",))
    _check_rating(folder, r)
    case = None
    if case_text is not None:
        import tomllib

        from ..case import from_dict

        try:  # relative file names in the case are taken from the rating folder
            case = from_dict(tomllib.loads(case_text), folder).to_dict()
        except (CaseError, tomllib.TOMLDecodeError):
            case = None
    from_json = case is None and r.get("case") is not None  # rated from a Case object (API)
    if from_json:
        case = r["case"]
    run = _load(folder, "summary.json", ("title", "case", "results")) if (
        folder / "summary.json").is_file() else None
    sl = r.get("max_safe_loading")
    shown = None if sl is None else {  # what the page shows of it, "–" where missing
        "beam_power_W": _maximum(sl.get("beam_power_W")), "binding": sl.get("binding", "–"),
        "confirmed": sl.get("confirmed", False), "method": sl.get("method", "–")}
    rating = {"in_words": r.get("rating_in_words"), "max_safe": shown,
              "limits": limit_rows(sl.get("limits_at_that_power", [])) if sl else [],
              "tolerance": _tolerance(sl) if sl else None,
              "definitions": [{"name": limit_label(d["limit"], d.get("column", "")),
                               "value": d.get(f"limit_{d['unit']}"),
                               "unit": _UNITS.get(d["unit"], d["unit"]),
                               "origin": d.get("origin", "")} for d in r.get("limits", [])],
              "continuous": continuous_rows(r.get("continuous")), "life": r.get("life"),
              "plots": _plots(folder, RATING_PLOTS), "seconds": r.get("seconds")}
    try:
        part = _case_part(folder, case, case_text, r["title"]) if case else None
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as e:
        if not from_json:
            raise
        raise _damaged(folder, "rating.json", "case", case, "the resolved case (an object "
                       f"with its sections; {type(e).__name__} {e})") from None
    if part is None and case_text is not None:
        part = {"sections": [], "pictures": [], "case_text": case_text,
                "case_text_kind": "case file", "assumptions": []}
    return {"title": r["title"], "case": part,
            "headline": headline(run) if run else [],
            "limits": limit_rows(run["results"].get("limits", [])) if run else [],
            "drift": drift_rows(run.get("mechanics")) if run else [],
            "plots": _plots(folder, RUN_PLOTS), "rating": rating, "study": None,
            "provenance": _provenance(run) if run else
            [("case id", r.get("case_hash", "–"))]}


#: The continuous rating's entries on the page, in this order: (key, label).
CONTINUOUS = (
    ("max_continuous_beam_power_W", "continuous rating, confirmed by full FE runs (W)"),
    ("binding", "binding limit (FE)"),
    ("fe_runs", "FE runs"),
    ("max_continuous_beam_power_engine_W", "linear-response engine estimate at constant "
                                           "properties, NOT CONFIRMED (W)"),
    ("binding_engine", "binding limit (engine)"),
    ("basis", "basis"),
)

#: The continuous rating's maxima (W), shown rounded down (_maximum).
MAXIMA = ("max_continuous_beam_power_W", "max_continuous_beam_power_engine_W")


def _maximum(v):
    """A rated maximum for the page: 4 significant digits rounded down
    (output.rounded_down), never above the rating as num's nearest could be (19.538 W read
    "19.54 W"); anything else as it is."""
    return output.rounded_down(v, 4) if _is_number(v) else v


#: The keys of a rating.json of earlier versions, whose rating key held the engine's
#: estimate, the confirmed figure having a key of its own: old → current.
_OLD_CONTINUOUS = {"max_continuous_beam_power_W": "max_continuous_beam_power_engine_W",
                   "binding": "binding_engine",
                   "max_continuous_beam_power_confirmed_W": "max_continuous_beam_power_W",
                   "binding_confirmed": "binding"}


def _old_continuous(c: dict) -> bool:
    """Whether a continuous table has the keys of earlier versions (_OLD_CONTINUOUS)."""
    if "max_continuous_beam_power_confirmed_W" in c or "binding_confirmed" in c:
        return True
    if "max_continuous_beam_power_engine_W" in c or c.get("confirmed") is True:
        return False
    return "confirmed" not in c or "binding_engine" not in c


def continuous_rows(c: dict | None) -> list[tuple[str, object]]:
    """(label, value) of rating.json's continuous rating: the confirmed figure first, the
    engine's constant-property estimate labelled as such, an unconfirmed rating labelled
    as not confirmed; other entries under their keys. Reads the keys of earlier versions."""
    if not c:
        return []
    if _old_continuous(c):
        c = {_OLD_CONTINUOUS.get(k, k): v for k, v in c.items()}
        if c.get("confirmed") is False:  # its only figure was the engine's
            for key, old in (("max_continuous_beam_power_W", "max_continuous_beam_power_engine_W"),
                             ("binding", "binding_engine")):
                if old in c:
                    c[key] = c[old]
    labels = dict(CONTINUOUS)
    hidden = {"confirmed"}
    if c.get("confirmed") is False and c.get("fe_runs"):  # searched, not confirmed
        labels["max_continuous_beam_power_W"] = ("continuous rating, searched by full FE runs, "
                                                 "NOT CONFIRMED (W)")
    elif c.get("confirmed") is False:  # the rating is the engine's estimate: shown once
        labels.update({"max_continuous_beam_power_W": "continuous rating: the engine's "
                                                      "estimate, NOT CONFIRMED by FE runs (W)",
                       "binding": "binding limit (engine)"})
        hidden |= {"max_continuous_beam_power_engine_W", "binding_engine"}
    at = c.get("steady_state_at_rating")
    hidden.add("steady_state_at_rating")
    keys = [k for k, _ in CONTINUOUS if k in c] + [k for k in c if k not in labels]
    rows = [(labels.get(k, k), _maximum(c[k]) if k in MAXIMA else c[k])
            for k in keys if k not in hidden]
    if isinstance(at, dict):  # one steady FE run with mechanics at the rating
        rows += [(f"in steady state at the rating: {_steady_label(k)}", v)
                 for k, v in at.items() if k in STEADY_AT_RATING or k.startswith("yield_use_")]
        if at.get("yield_warning"):  # beside the number it qualifies, as the run says it
            rows.append(("WARNING: yield use near the joint", at["yield_warning"]))
    return rows


def _steady_label(key: str) -> str:
    """The page's label of a figure of the steady run at the continuous rating: the yield
    use of a region (key yield_use_<region>_rel) as the run's headline words it."""
    if key.startswith("yield_use_") and key.endswith("_rel"):
        return (f"yield use near the joint, {key[len('yield_use_'):-len('_rel')]} "
                "(× its yield strength)")
    return STEADY_AT_RATING.get(key, key)


#: The figures of the steady run at the continuous rating shown on the page (the rest are
#: in rating.json): key → label.
STEADY_AT_RATING = {"drift_across_view_um": "focal-spot drift across the view (µm)",
                    "image_drift_px": "image drift (detector px)",
                    "magnification_change_rel": "ΔM/M"}


def _tolerance(sl: dict) -> str:
    """What the maximum safe loading guarantees: its rating.json tolerance when confirmed;
    for an unconfirmed power no band (files written before 2026-12-04 claimed one)."""
    from ..rating.safe import NOT_CONFIRMED

    if sl.get("confirmed"):
        return str(sl.get("tolerance", ""))
    tol = str(sl.get("tolerance", ""))
    return tol if tol.startswith("NOT CONFIRMED") or tol == NOT_CONFIRMED else NOT_CONFIRMED


def _study(folder: Path, case_text: str | None) -> dict:
    st = _load(folder, "study.json", ("id",))
    columns, rows = [], []
    if (folder / "results.csv").is_file():
        with open(folder / "results.csv", newline="") as f:
            reader = csv.reader(line for line in f if not line.startswith("#"))
            columns = next(reader, [])
            rows = list(reader)
    failed = [r for r in rows if "status" in columns and r[columns.index("status")] == "failed"]
    study = {"definition": json.dumps(st.get("study"), indent=2), "columns": columns,
             "rows": rows, "failed": len(failed),
             "plots": _plots(folder, {"results.png": "The study's quick-look plot"})}
    return {"title": st.get("title") or f"study {st['id']}", "case": None, "headline": [],
            "limits": [], "drift": [], "plots": [], "rating": None, "study": study,
            "provenance": _provenance({**st, "case_hash": st["id"]})}
