"""report.html: one self-contained page of a run, a rating or a study, checked in its HTML
and, for a shipped example, rendered by a real browser (headless Chromium)."""

import html.parser
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from cases import reflection
from test_case import write_toml
from test_study import power_study_file

from anodesim.cli import main
from anodesim.report import DRIFT, num

ROOT = Path(__file__).resolve().parents[1]


class _Text(html.parser.HTMLParser):
    """The visible text of a page (what a reader sees, tags stripped)."""

    def __init__(self):
        super().__init__()
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("style", "script")

    def handle_endtag(self, tag):
        self._skip -= tag in ("style", "script")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def page_text(markup: str) -> str:
    p = _Text()
    p.feed(markup)
    return " ".join(" ".join(p.parts).split())


def headline_numbers(summary: dict) -> list[str]:
    """The numbers of summary.json the page must show, formatted as the report does."""
    r, b = summary["results"], summary["beam"]
    want = [f"{r['T_peak_max_C']:.1f} °C", f"{num(b['deposited_power_W'])} W",
            f"{num(b['beam_power_W'])} W", f"{summary['numerics']['cells']} cells"]
    for c in r["limits"]:
        want.append(num(c[f"worst_{c['unit']}"]))
    m = summary.get("mechanics") or {}
    want += [num(m[col]["final"]) for col, _, _ in DRIFT if col in m]
    return want


def assert_self_contained(markup: str) -> None:
    """No resource is fetched from anywhere: every image is a data: URL, no scripts, no
    style sheets or fonts from outside."""
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:)""", markup)
    assert "<script" not in markup and "@import" not in markup and "url(" not in markup


def test_run_report_shows_the_summary(tmp_path, capsys):
    """A run with --report: the page holds the summary's headline numbers, the limits, the
    case file's text, the assumptions of an axisymmetric kernel-source case and its plots
    embedded (and `anodesim report DIR` makes the same page again)."""
    # a lean mesh (the page is under test, not the numbers): coolant side 31.3 °C, broken
    path = write_toml(tmp_path / "case.toml", reflection(limits={"coolant_side_C": 30.5},
                                                         mesh={"growth": 0.3,
                                                               "spot_fraction": 0.2}))
    out = tmp_path / "run"
    assert main(["run", str(path), "-o", str(out), "--report", "--no-fail-on-limits"]) == 0
    assert "report:" in capsys.readouterr().err
    markup = (out / "report.html").read_text()
    assert_self_contained(markup)
    text = page_text(markup)
    summary = json.loads((out / "summary.json").read_text())
    for value in headline_numbers(summary):
        assert value in text, value
    assert "Limit broken: coolant_side" in text and "BROKEN" in text  # 30.5 °C is exceeded
    assert path.read_text().splitlines()[0] in text  # the case file's own text
    assert "Axisymmetric (r, z) model" in text and "electron-transport kernels" in text
    # the default extra-focal heat (face, cosine law) is described, not denied
    assert "no extra-focal heating" not in text
    assert "Extra-focal heat (" in text and "cosine-law landing density" in text
    # temperatures.png, temperature_field.png, the geometry picture and the schedule, each a
    # decodable PNG
    pngs = re.findall(r'src="data:image/png;base64,([^"]+)"', markup)
    assert len(pngs) == 4
    import base64
    import io

    from matplotlib.image import imread

    for data in pngs:
        img = imread(io.BytesIO(base64.b64decode(data)))
        assert img.shape[0] > 100 and np.std(img) > 0.05
    (out / "report.html").unlink()
    assert main(["report", str(out)]) == 0
    assert page_text((out / "report.html").read_text()).split("The case")[1] == \
        text.split("The case")[1]  # the same page, but for the time it was made


@pytest.mark.parametrize("beam, kind, says, not_says", [
    ({"deposition": "kernel"}, "reflection_insert",
     ["all of it laid on the anode face", "cosine-law", "H = 5 mm"], ["dropped", "nothing else"]),
    ({"deposition": "kernel", "extra_focal_distance_m": 0.002}, "reflection_3d",
     ["H = 2 mm"], []),
    ({"deposition": "kernel", "extra_focal": "off"}, "reflection_insert",
     ["all of it dropped (extra_focal = \"off\": it heats nothing)"], ["cosine"]),
    ({"deposition": "kernel", "extra_focal_faces": [["hood", 0.3]]}, "user_mesh",
     ["named faces: hood 30 %", "the rest (70 %) laid on the anode face"], []),
    ({"deposition": "surface", "extra_focal": "off", "extra_focal_faces": [["hood", 0.3]]},
     "user_mesh", ["hood 30 %", "the rest (70 %) dropped"], []),
    ({"deposition": "kernel"}, "transmission", ["window's rim"], ["anode face"]),
    ({"deposition": "surface", "backscatter_energy_fraction": 0.0}, "block",
     ["No backscatter"], ["Extra-focal heat ("]),
])
def test_assumptions_describe_the_extra_focal_model_used(beam, kind, says, not_says):
    """The report's assumptions say where the case puts the backscattered power (was: "no
    extra-focal heating" for every kernel-source case, the default "face" included)."""
    from anodesim.report import assumptions

    b = {"voltage_V": 1e5, "power_W": 10.0, "extra_focal": "face",
         "extra_focal_distance_m": 0.005, "extra_focal_faces": [],
         "backscatter_energy_fraction": None, **beam}
    case = {"geometry": {"kind": kind}, "beam": b, "materials": {"by_region": {}}}
    text = " ".join(t for t, _ in assumptions.applying(case))
    for x in says:
        assert x in text, (x, text)
    for x in not_says:
        assert x not in text, (x, text)


def test_assumptions_of_a_run_made_before_extra_focal_heat_was_modelled():
    """A run folder of an anodesim that did not model extra-focal heat (its summary's beam
    has no extra_focal keys; a folder of efd533a, 2026-12-01, reproduced it): the report
    says the backscattered power heated nothing (it said "all of it laid on the anode face
    ... cosine-law", which that run never did)."""
    from anodesim.report import assumptions

    b = {"voltage_V": 1e5, "power_W": 10.0, "spot": "gaussian", "size_m": 2e-5,
         "deposition": "volume", "backscatter_energy_fraction": None}
    case = {"geometry": {"kind": "reflection_insert"}, "beam": b,
            "materials": {"by_region": {}}}
    text = " ".join(t for t, _ in assumptions.applying(case))
    assert "Extra-focal heat not modelled" in text and "cosine" not in text, text


@pytest.mark.parametrize("target, user, says, not_says", [
    ("W", {}, ["Spot limit from the life: Hertz–Knudsen", "(library tables,"],
     ["No erosion limit"]),
    ("W_lot7", {"W_lot7": {}}, ["No erosion limit: the target's W_lot7 has no vapour-pressure "
                                "data (a user material has those of its electron_data "
                                "material only)",
                                "(library and user tables,"], ["Hertz–Knudsen"]),
    ("W_lot8", {"W_lot8": {"electron_data": "W"}},
     ["Spot limit from the life: Hertz–Knudsen evaporation of the target (as W, its "
      "electron_data)"], ["No erosion limit"]),
    ("diamond", {}, ["No erosion limit: the target's diamond has no vapour-pressure data;"],
     ["Hertz–Knudsen", "user material"]),
])
def test_assumptions_name_the_spot_limit_in_force(target, user, says, not_says):
    """A target without vapour-pressure data (a user material whose electron data are
    numbers; diamond) has no erosion limit (limits.limits_for): the report said 'Spot limit
    from the life: Hertz–Knudsen evaporation of the target' for it all the same. A user W
    with electron_data = "W" evaporates as W."""
    from anodesim.report import assumptions

    b = {"voltage_V": 1e5, "power_W": 10.0, "extra_focal": "off", "deposition": "surface",
         "backscatter_energy_fraction": None}
    case = {"geometry": {"kind": "user_mesh"}, "beam": b, "limits": {"spot": "life"},
            "materials": {"by_region": {"target": target}, "user": user,
                          "temperature_dependent": True}}
    text = " ".join(t for t, _ in assumptions.applying(case))
    for x in says:
        assert x in text, (x, text)
    for x in not_says:
        assert x not in text, (x, text)


def test_headline_has_the_yield_use_and_the_backscattered_power():
    """The run report's headline shows what the console prints: the heat sink's yield use
    near the joint and the extra-focal and X-ray power (summary.json's beam section)."""
    from anodesim.report import headline

    summary = {
        "status": "complete", "results": {"T_peak_max_C": 919.0, "T_peak_max_time_s": 10.0},
        "beam": {"beam_power_W": 10.0, "deposited_power_W": 6.043,
                 "backscatter_energy_fraction": 0.396, "extra_focal_power_W": 3.916,
                 "xray_power_W": 0.0407,
                 "extra_focal": {"mode": "face", "dropped_power_W": 0.0, "landings": [
                     {"faces": ["beam_face", "anode_face"], "law": "cosine",
                      "power_W": 3.916}]}},
        "mechanics": {"yield_use_heat_sink_rel": {"final": 1.1068, "max_abs": 1.1068,
                                                  "time_of_max_s": 10.0, "cell_um": 22.2},
                      "von_mises_max_MPa": {}},
        "numerics": {"cells": 1, "dofs": 1, "time_steps": 1}, "timing_s": {"total": 1.0}}
    rows = dict(headline(summary))
    assert rows["yield use near the joint, heat_sink"].startswith("1.11 × its yield strength")
    ef = rows["backscattered power: extra-focal heat and X-rays leaving"]
    assert "extra-focal 3.916 W on beam_face/anode_face" in ef and "X-rays leaving 0.0407 W" in ef


# the maxima as the page shows them: 4 digits rounded down (output.rounded_down)
CONFIRMED_ROWS = [("continuous rating, confirmed by full FE runs (W)", "19.54"),
                  ("binding limit (FE)", "erosion"), ("FE runs", 4),
                  ("linear-response engine estimate at constant properties, NOT CONFIRMED (W)",
                   "27.59"), ("binding limit (engine)", "coolant_side")]
UNCONFIRMED_ROWS = [("continuous rating: the engine's estimate, NOT CONFIRMED by FE runs (W)",
                     "27.59"), ("binding limit (engine)", "coolant_side"), ("basis", "not FE")]


@pytest.mark.parametrize("continuous, rows", [
    ({"max_continuous_beam_power_W": 19.54, "binding": "erosion", "confirmed": True,
      "fe_runs": 4, "max_continuous_beam_power_engine_W": 27.59,
      "binding_engine": "coolant_side"}, CONFIRMED_ROWS),
    # rating.json of earlier versions: the rating's key held the engine's estimate
    ({"max_continuous_beam_power_confirmed_W": 19.54, "binding_confirmed": "erosion",
      "fe_runs": 4, "max_continuous_beam_power_W": 27.59, "binding": "coolant_side"},
     CONFIRMED_ROWS),
    ({"max_continuous_beam_power_W": 27.59, "binding": "coolant_side", "confirmed": False,
      "basis": "not FE", "max_continuous_beam_power_engine_W": 27.59,
      "binding_engine": "coolant_side"}, UNCONFIRMED_ROWS),
    ({"max_continuous_beam_power_W": 27.59, "binding": "coolant_side", "confirmed": False,
      "basis": "not FE"}, UNCONFIRMED_ROWS),
    # hand-trimmed files: confirmed by their own flag; no binding at all
    ({"max_continuous_beam_power_W": 19.54, "binding": "erosion", "confirmed": True,
      "fe_runs": 4}, CONFIRMED_ROWS[:3]),
    ({"max_continuous_beam_power_W": 27.59, "confirmed": False}, UNCONFIRMED_ROWS[:1]),
    # searched by FE runs that did not confirm it within the band
    ({"max_continuous_beam_power_W": 19.0, "binding": "erosion", "confirmed": False,
      "fe_runs": 10, "max_continuous_beam_power_engine_W": 27.59,
      "binding_engine": "coolant_side", "basis": "NOT CONFIRMED: x"},
     [("continuous rating, searched by full FE runs, NOT CONFIRMED (W)", "19.00"),
      ("binding limit (FE)", "erosion"), ("FE runs", 10), CONFIRMED_ROWS[3], CONFIRMED_ROWS[4],
      ("basis", "NOT CONFIRMED: x")]),
])
def test_continuous_rating_on_the_page_puts_the_confirmed_figure_first(continuous, rows):
    """The report's continuous table: the FE-confirmed rating first, the engine's figure
    labelled as the constant-property estimate (was: raw keys, the engine's 27.59 W above
    the confirmed 19.54 W); an unconfirmed rating once, marked; from the rating.json of
    this version and of earlier ones alike."""
    from anodesim.report import continuous_rows

    assert continuous_rows(continuous) == rows


def test_the_steady_state_at_the_rating_is_on_the_page():
    """The drift and yield use at the continuous rating, labelled, after the rating (the
    yield use was shown under its raw key, yield_use_heat_sink_rel)."""
    from anodesim.report import continuous_rows

    rows = continuous_rows({"max_continuous_beam_power_W": 19.54, "binding": "erosion",
                            "confirmed": True, "max_continuous_beam_power_engine_W": 27.59,
                            "binding_engine": "coolant_side", "steady_state_at_rating": {
                                "beam_power_W": 19.54, "method": "one steady FE run",
                                "u_spot_z_um": 18.9, "drift_across_view_um": 17.7,
                                "image_drift_px": 4.26, "yield_use_heat_sink_rel": 4.36}})
    assert rows[-3:] == [
        ("in steady state at the rating: focal-spot drift across the view (µm)", 17.7),
        ("in steady state at the rating: image drift (detector px)", 4.26),
        ("in steady state at the rating: yield use near the joint, heat_sink (× its yield "
         "strength)", 4.36)]
    assert rows[:2] == CONFIRMED_ROWS[:2]


def test_report_of_a_failed_run_says_so_first(tmp_path, capsys):
    """A run that failed (the target melts) keeps a summary with status "failed" and its
    partial series: its report opens with a banner saying so, why, and how far it got (it
    showed a "Limit broken" banner and the failure only as one row of the table, as if
    the numbers were those of the whole schedule); a complete run's page has no banner."""
    from test_study import small_block

    case = tmp_path / "melt.toml"
    write_toml(case, small_block(beam={"power_W": 2000.0},
                                 loading={"kind": "continuous", "duration_s": 1.0}))
    out = tmp_path / "run"
    # with --report the failed run's report is written too, and its one line names it
    assert main(["run", str(case), "-o", str(out), "-q", "--report"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith(
        f"(partial results in {out}; report: {out / 'report.html'})"), err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed"
    text = page_text((out / "report.html").read_text())
    banner = text.split("Headline results", 1)[1].split("status", 1)[0]
    assert "Run failed." in banner and summary["error"] in banner, banner
    final = summary["results"]["final"]["time_s"]
    assert f"up to t = {num(final)} s" in banner
    case2 = tmp_path / "fine.toml"
    write_toml(case2, small_block())
    assert main(["run", str(case2), "-o", str(tmp_path / "fine"), "-q", "--report"]) == 0
    assert "Run failed" not in (tmp_path / "fine" / "report.html").read_text()


def test_report_of_a_read_only_folder_is_bad_input(tmp_path, capsys):
    """A result folder the user may read but not write (an archive, a read-only mount, a
    colleague's): one line saying so, exit 2, as README's "report exits 0 or 2" (it was
    "run failed: ...: Read-only file system; choose a folder you can write to (-o DIR)",
    exit 1, pointing at an option `report` does not have)."""
    import os

    from test_study import small_block

    case = tmp_path / "case.toml"
    write_toml(case, small_block())
    out = tmp_path / "run"
    assert main(["run", str(case), "-o", str(out), "-q"]) == 0
    before = sorted(p.name for p in out.iterdir())
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() != 0:  # the owner's write bit is what counts
        ro, mounted = out, None
        out.chmod(0o555)
    else:  # root writes anywhere but on a read-only mount
        mounted = subprocess.run(["mount", "--bind", str(out), str(ro)]).returncode == 0 and \
            subprocess.run(["mount", "-o", "remount,ro,bind", str(ro)]).returncode == 0
        if not mounted:
            subprocess.run(["umount", str(ro)], capture_output=True)
            pytest.skip("SKIPPED LOUDLY: root without mount here: no read-only folder to "
                        "report on")
    try:
        assert main(["report", str(ro)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"anodesim: error: report {ro}: ") \
            and "not writable" in err and "-o DIR" not in err, err
    finally:
        if mounted:
            subprocess.run(["umount", str(ro)], check=True)
        out.chmod(0o755)
    assert sorted(p.name for p in out.iterdir()) == before  # no report, no temporary file


def test_report_of_a_folder_without_results_is_bad_input(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "holds no anodesim run, rating or study" in err and err.count("\n") == 0
    assert not (tmp_path / "report.html").exists()


@pytest.mark.parametrize("content, what", [
    ({"title": "x", "max_safe_loading": 5}, "max_safe_loading = 5; expected a table"),
    ({"title": "x", "limits": "abc"}, 'limits = "abc"; expected a list of limit tables'),
    ({"title": "x", "max_safe_loading": {"beam_power_W": None,
                                         "limits_at_that_power": [{"limit": "erosion"}]}},
     "max_safe_loading.limits_at_that_power[0].unit = null; expected a string"),
    ({"title": 5}, "title = 5; expected a string"),
    ({"title": "x", "continuous": {"max_continuous_beam_power_W": "big"}},
     'continuous.max_continuous_beam_power_W = "big"; expected a number'),
    ({"title": "x", "max_safe_loading": {"beam_power_W": "20 W"}},
     'max_safe_loading.beam_power_W = "20 W"; expected a number'),
])
def test_report_of_a_damaged_rating_is_one_line(tmp_path, capsys, content, what):
    """A damaged or hand-edited rating.json: exit 2 and one line naming the file and what
    is wrong in it (was: internal error, exit 1); nothing written."""
    (tmp_path / "rating.json").write_text(json.dumps(content))
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "internal error" not in err
    assert f"report {tmp_path}: rating.json: {what}" in err
    assert not (tmp_path / "report.html").exists()


def test_report_of_a_sparse_rating_renders(tmp_path):
    """Parts anodesim may leave out (a maximum safe loading without its limit checks, an
    unconfirmed one) render with what is there."""
    (tmp_path / "rating.json").write_text(json.dumps(
        {"title": "x", "max_safe_loading": {"beam_power_W": 3.0, "binding": "erosion"}}))
    assert main(["report", str(tmp_path)]) == 0
    assert "No full FE run was made at this power" in (tmp_path / "report.html").read_text()


@pytest.mark.slow
def test_study_report_lists_every_case(tmp_path):
    """A sweep with --report: the study's table (every case, its power and peak) and its
    plot are on the page."""
    study = power_study_file(tmp_path, "study.toml", [1.0, 2.0])
    out = tmp_path / "study"
    assert main(["sweep", str(study), "-o", str(out), "-q", "--report"]) == 0
    markup = (out / "report.html").read_text()
    assert_self_contained(markup)
    text = page_text(markup)
    rows = (out / "results.csv").read_text().splitlines()
    assert "2 cases" in text
    for line in rows[1:]:
        for cell in line.split(","):
            assert cell in text, cell
    assert len(re.findall(r'src="data:image/png;base64,', markup)) == 1  # results.png
    for case in json.loads((out / "study.json").read_text())["cases"]:  # per-case titles
        title = json.loads((out / "cases" / case["id"] / "summary.json").read_text())["title"]
        assert title.endswith(f"(power_W = {case['inputs']['beam.power_W']:g})"), title


def chromium() -> str | None:
    return next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)


@pytest.mark.slow
def test_report_of_the_shipped_example_in_chromium(tmp_path):
    """The shipped reflection example's report rendered by headless Chromium: the
    screenshot is not blank (text and coloured plots drawn, so the embedded PNGs decoded)
    and the rendered page's text holds the headline numbers of summary.json."""
    browser = chromium()
    if browser is None:
        pytest.skip("SKIPPED LOUDLY: no Chromium on this machine (install the Debian package "
                    "`chromium`; .ci/run does so in CI) - the report was not rendered by a "
                    "browser")
    out = tmp_path / "demo"
    assert main(["run", str(ROOT / "studies" / "reflection_insert.toml"), "-o", str(out),
                 "-q", "--report"]) == 0
    url = (out / "report.html").as_uri()
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1100,2400"]
    shot = tmp_path / "report.png"
    subprocess.run(flags + [f"--screenshot={shot}", url], check=True, capture_output=True,
                   timeout=300)
    dom = subprocess.run(flags + ["--dump-dom", url], check=True, capture_output=True,
                         text=True, timeout=300).stdout
    from matplotlib.image import imread

    img = imread(shot)[:, :, :3]
    assert img.shape[:2] == (2400, 1100)
    dark = (img.max(axis=2) < 0.5).mean()  # text, lines
    coloured = ((img.max(axis=2) - img.min(axis=2)) > 0.35).mean()  # the plots' curves
    assert dark > 0.002 and coloured > 0.001, (dark, coloured)
    text = page_text(dom)
    summary = json.loads((out / "summary.json").read_text())
    for value in headline_numbers(summary):
        assert value in text, value


def rendered_width(browser: str, page: Path, profile: Path, width: int) -> int:
    """The width Chromium lays `page` out to in a window `width` px wide (the document's
    scrollWidth: above the window's width, the whole page scrolls sideways)."""
    probe = page.with_name("width-probe.html")
    probe.write_text(page.read_text().replace(
        "</body>", "<script>document.body.setAttribute('data-width', "
        "document.documentElement.scrollWidth)</script></body>"))
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                          f"--user-data-dir={profile}", f"--window-size={width},1200",
                          "--dump-dom", probe.as_uri()],
                         check=True, capture_output=True, text=True, timeout=300).stdout
    return int(re.search(r'data-width="(\d+)"', dom).group(1))


@pytest.mark.slow
def test_study_table_does_not_widen_the_page_in_chromium(tmp_path):
    """A study's results table has some 40 columns: it scrolls inside its own box, and the
    page (its plots, headings and text) stays as wide as the window, as a run's does."""
    browser = chromium()
    if browser is None:
        pytest.skip("SKIPPED LOUDLY: no Chromium on this machine (install the Debian package "
                    "`chromium`) - the study report's layout was not checked in a browser")
    study = tmp_path / "study.toml"  # the shipped example's columns: drift, stresses, limits
    study.write_text(f'case = "{(ROOT / "studies" / "reflection_insert.toml").as_posix()}"\n'
                     '[axes]\n"loading.duration_s" = [0.01]\n"output.figures" = [false]\n')
    out = tmp_path / "study"
    assert main(["sweep", str(study), "-o", str(out), "-q", "--report"]) == 0
    header = (out / "results.csv").read_text().splitlines()[0]
    assert header.count(",") > 30  # a table wider than the window, were it not boxed
    width = 1100
    assert rendered_width(browser, out / "report.html", tmp_path / "profile", width) <= width


def test_a_study_report_is_made_again_with_the_table(tmp_path, capsys):
    """A study folder's report.html follows its results.csv: a later --collect (or a
    resume) rewrites the page it finds, as after `sweep --submit slurm --report`, whose
    page shows every case pending, then `--collect` (the page stayed "pending" beside a
    finished table)."""
    study = power_study_file(tmp_path, "study.toml", [1.0, 2.0])
    out = tmp_path / "study"
    assert main(["sweep", str(study), "-o", str(out), "-q", "--report"]) == 0
    st = json.loads((out / "study.json").read_text())
    shutil.rmtree(out / "cases" / st["cases"][1]["id"])  # as if its task had not run yet
    assert main(["sweep", str(out), "--collect", "-q", "--report"]) == 1
    assert "pending" in page_text((out / "report.html").read_text())
    assert main(["sweep", str(out), "-q"]) == 0  # the case runs: the page follows
    text = page_text((out / "report.html").read_text())
    rows = (out / "results.csv").read_text().splitlines()[1:]
    assert "pending" not in text and all(c in text for line in rows for c in line.split(","))


def test_a_study_report_is_made_again_by_the_python_api(tmp_path, capsys):
    """anodesim.sweep rewrites results.csv as `anodesim sweep` does, and so the page it
    finds beside it (the README: made again whenever a sweep rewrites results.csv): it left
    the page saying pending beside a finished table."""
    import anodesim

    study = power_study_file(tmp_path, "study.toml", [1.0, 2.0])
    out = tmp_path / "study"
    assert main(["sweep", str(study), "-o", str(out), "-q"]) == 0
    st = json.loads((out / "study.json").read_text())
    shutil.rmtree(out / "cases" / st["cases"][1]["id"])  # as if its task had not run yet
    assert main(["sweep", str(out), "--collect", "-q", "--report"]) == 1
    assert "pending" in page_text((out / "report.html").read_text())
    table = anodesim.sweep(out)
    assert [r["status"] for r in table.rows] == ["ok", "ok"]
    text = page_text((out / "report.html").read_text())
    rows = (out / "results.csv").read_text().splitlines()[1:]
    assert "pending" not in text and all(c in text for line in rows for c in line.split(","))


def test_the_case_on_the_page_names_its_coolant_circuit_and_repetition():
    """A case cooled by the lumped coolant circuit and repeated every repeat_every_s shows
    both on the page: the circuit's faces read as convection with no temperature and the
    schedule as one load (bug hunt of 2026-12-05), so a signed report hid what the rating
    assumed of the coolant and of the loads' spacing."""
    from anodesim import load
    from anodesim.report import case_sections

    case = load(ROOT / "studies/warmup_drift/tube.toml").to_dict()
    case["loading"]["repeat_every_s"] = 7200.0
    sections = {name: dict(rows) for name, rows in case_sections(case)}
    bc = sections["Boundaries and interfaces"]
    # tube.toml: 1.5 L of oil at 1.62 MJ/m³K, a 3 W/K cooler to 30 °C room air, from 30 °C
    assert bc["coolant circuit"] == "heat capacity 2427 J/K, cooler 3 W/K to 30 °C, from 30 °C"
    assert bc["cooled_end"] == ("convection, h = 5000 W/m²K, coolant oil, "
                                "the coolant circuit's temperature")
    assert bc["housing_outer"] == "convection, 30 °C, h = 10 W/m²K, coolant air"
    assert sections["Schedule"]["repeated every"] == "7200 s, start to start"
