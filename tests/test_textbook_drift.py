"""Issue 14 (textbook anode angle, signed drift, drift limits, drift table).

- The textbook convention against hand geometry at 10°, 20°, 30° (axial and side entry):
  incidence = θ, the default view is the central ray (perpendicular to the beam, θ above the
  face), footprint 20/cos θ × 20 µm, effective spot seen along the central ray
  20 tan θ × 20 µm (exact trigonometry, 1e-12).
- The drift map's signed detector-axis components, image shifts and off-axis shift on
  hand-made shifts (1e-12).
- The rating's drift probe against full runs in 2-D, 3-D and on a user mesh: the engine's
  steady drift per watt, scaled to the power at which the drift limit binds, equals the
  steady run's drift at that power (constant properties: both are the same linear solves,
  to 1e-6).
- ``anodesim drift-table``: the rows are the run's drift at the schedule's times; bad
  schedules are one line, exit 2, nothing written.
"""

import csv
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
from cases import merge, reflection, reflection_3d
from test_case import assert_run_rejected, write_toml

import anodesim
from anodesim import resolve, simulation
from anodesim.cli import main
from anodesim.drift import DriftMap, focal_spot_view
from anodesim.frames import CATHODE_CONE_DEG, detector_axes

IMAGING = {"source_object_mm": 20.0, "magnification": 10.0, "pixel_size_um": 100.0}
MOUNTED = {"mounts": {"cooled_end": {"type": "clamped"}}}


@pytest.mark.parametrize("entry", ["axial", "side"])
@pytest.mark.parametrize("angle", [10.0, 20.0, 30.0])
def test_textbook_angle_against_hand_geometry(angle, entry):
    """A round 20 µm beam on a rod with textbook anode angle θ: incidence θ, the central ray
    perpendicular to the beam and θ above the face, footprint 20/cos θ µm along the beam's
    trace by 20 µm, seen along the central ray as 20 tan θ × 20 µm (line-focus principle).
    Side entry uses the face cut 90° − θ; a long rod keeps the steep cut clear of the
    cooled end."""
    th = math.radians(angle)
    data = reflection_3d(geometry={"anode_angle_deg": angle, "anode_length_mm": 20.0},
                         beam={"spot": "footprint", "fwhm_um": 20.0, "entry": entry},
                         drift=IMAGING, **MOUNTED)
    case = anodesim.from_dict(data)
    prep = resolve.prepare(case)
    fr = prep.lay.frame
    v = np.asarray(case.mechanics.drift.view_direction)
    assert math.degrees(math.acos(fr.incidence_cos)) == pytest.approx(angle, rel=1e-12)
    assert v @ fr.beam == pytest.approx(0.0, abs=1e-12)  # central ray ⊥ beam
    assert v @ fr.normal == pytest.approx(math.sin(th), rel=1e-12)  # take-off θ
    assert np.cross(fr.beam, fr.normal) @ v == pytest.approx(0.0, abs=1e-12)  # b–n plane
    expected_cut = th if entry == "axial" else math.pi / 2 - th
    assert case.geometry.face_cut_rad == pytest.approx(expected_cut, rel=1e-12)
    spot = focal_spot_view(case, prep.lay, prep.spot)
    assert spot["incidence_deg"] == pytest.approx(angle, rel=1e-12)
    np.testing.assert_allclose(spot["footprint_um"], [20.0 / math.cos(th), 20.0], rtol=1e-12)
    np.testing.assert_allclose(spot["effective_spot_um"], [20.0 * math.tan(th), 20.0],
                               rtol=1e-12)


def test_flat_face_needs_a_view_and_matches_the_axisymmetric_drift_map():
    """At θ = 0 the textbook rod is the axisymmetric insert (beam along the axis, face
    normal +z): with the same view axis given, the 3-D and 2-D drift maps are the same map
    (the 3-D run reproduces the 2-D temperatures and displacement: test_verification_3d)."""
    view = {"view_direction": [0.94, 0.0, 0.342], **IMAGING}
    flat = anodesim.from_dict(reflection_3d(geometry={"anode_angle_deg": 0.0}, drift=view,
                                            **MOUNTED))
    axi = anodesim.from_dict(reflection(drift=view, **MOUNTED))
    m3 = DriftMap.for_case(flat, resolve.prepare(flat).lay)
    m2 = DriftMap.for_case(axi, resolve.prepare(axi).lay)
    u = (0.0, 0.0, 1e-6)
    for key, value in m2.apply(u).items():
        assert m3.apply(u)[key] == pytest.approx(value, rel=1e-12, abs=1e-15), key


def test_signed_detector_components_and_off_axis_shift():
    """Beam −z, view 20° above a flat face along +x: δ⊥ lies on the detector's v axis (the
    beam's projection), u = v × view; the image moves by −(M − 1) δ⊥·v / pixel; a detector
    point at r moves by r ΔM/M (M = 10, pixel 100 µm, r = 0.2 m; 1e-12)."""
    t = math.radians(20.0)
    view = (math.cos(t), 0.0, math.sin(t))
    m = DriftMap.create((0, 0, -1), (0, 0, 1), view, 0.02, 0.2, 100e-6, 0.2)
    u_ax, v_ax = detector_axes(m.beam, m.view)
    np.testing.assert_allclose([u_ax @ v_ax, u_ax @ m.view, v_ax @ m.view], 0.0, atol=1e-15)
    np.testing.assert_allclose(np.cross(u_ax, v_ax), m.view, atol=1e-15)
    d = m.apply((0.0, 0.0, 1e-6))  # the face rises 1 µm: the spot moves 1 µm up the beam
    assert d["drift_u_um"] == pytest.approx(0.0, abs=1e-12)
    assert d["drift_v_um"] == pytest.approx(-math.cos(t), rel=1e-12)  # against b's projection
    assert abs(d["drift_v_um"]) == pytest.approx(d["drift_across_view_um"], rel=1e-12)
    assert d["image_shift_v_px"] == pytest.approx(9 * math.cos(t) / 100, rel=1e-12)
    assert d["offaxis_shift_um"] == pytest.approx(0.2 * d["magnification_change_rel"] * 1e6,
                                                  rel=1e-12)
    assert d["magnification_change_rel"] == pytest.approx(
        math.sin(t) * 1e-6 * (1 / 0.02 - 1 / 0.2), rel=1e-12)  # δ·view > 0: closer


def test_view_into_the_cathode_refused_in_2d(tmp_path, capsys):
    """`view_direction = [0, 0, 1]` on an axisymmetric reflection anode looks straight back
    up the beam: one line, exit 2, nothing written."""
    data = reflection(drift={"view_direction": [0.0, 0.0, 1.0], **IMAGING}, **MOUNTED)
    assert_run_rejected(tmp_path, capsys, data,
                        "drift.view_direction = [0.0, 0.0, 1.0]: the view axis runs back up "
                        f"the beam, 0° from −b (less than {CATHODE_CONE_DEG:g}°)")


EXAMPLE = Path(__file__).resolve().parent.parent / "meshes" / "block_anode_case.toml"


def _user_mesh(**changes) -> dict:
    data = tomllib.loads(EXAMPLE.read_text())
    data["geometry"]["file"] = str(EXAMPLE.parent / data["geometry"]["file"])
    return merge(data, changes)


LIMITED = {"limits": {"drift_um": 0.01, "magnification_change_rel": 1e-3}}
PROBE_CASES = {
    "2d": lambda: reflection(materials={"properties": "constant"},
                             drift={"view_direction": [0.94, 0.0, 0.342], **IMAGING},
                             **MOUNTED, **LIMITED),
    "3d": lambda: reflection_3d(drift=IMAGING, **MOUNTED, **LIMITED),
    "user_mesh": lambda: _user_mesh(initial={"temperature_C": 30.0}, **LIMITED),
}


def _probe_per_watt(case):
    """The rating engine's drift probe on its linear case, at the steady state of 1 W
    deposited: (|drift across the view| µm/W, |ΔM/M| per W, deposited fraction)."""
    from mpi4py import MPI

    from anodesim.rating.engine import _DriftProbe, _thermoelastic, linear_case

    lin = linear_case(case, 1e6)
    prep = resolve.prepare(lin)
    domain, problem, interfaces, _ = simulation.build_problem(lin, prep, MPI.COMM_WORLD)
    solver = _thermoelastic(lin, prep, domain, problem, interfaces, "drift")
    probe = _DriftProbe(lin, prep, problem, solver, ["drift", "magnification"])
    problem.steady(1.0)
    drift, mag = np.abs(probe())
    return drift, mag, 1.0 - prep.eta


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(PROBE_CASES))
def test_drift_limit_rating_against_a_full_run(kind):
    """The engine's drift probe (the run's drift map, on the engine's linear case) gives the
    steady drift per deposited watt; the continuous beam power at which the 0.01 µm drift
    limit binds (the engine's steady rating, P = limit / drift per watt / deposited
    fraction), run in full to its steady state, drifts 0.01 µm across the view, and its
    ΔM/M is the probe's scaled to that power, to 1e-6 (both are the same linear solves with
    constant properties; the full engine path in 2-D: test_rating)."""
    case = anodesim.from_dict(PROBE_CASES[kind]())
    drift, mag, p_dep = _probe_per_watt(case)
    P = 0.01 / drift / p_dep
    run_case = anodesim.from_dict(merge(PROBE_CASES[kind](), {
        "loading": {"kind": "steady", "duration_s": None},
        "beam": {"power_W": P, "current_mA": None}}))
    res = simulation.run(run_case)
    assert res.column("drift_across_view_um")[-1] == pytest.approx(0.01, rel=1e-6)
    assert abs(res.column("drift_v_um")[-1]) == pytest.approx(0.01, rel=1e-6)
    assert abs(res.column("magnification_change_rel")[-1]) == pytest.approx(
        P * p_dep * mag, rel=1e-6, abs=1e-18)
    check = {c.name: c for c in res.limits}
    assert check["drift"].worst == pytest.approx(0.01, rel=1e-6)


def _table_case(tmp_path) -> Path:
    data = reflection(loading={"kind": "continuous", "duration_s": 0.1},
                      drift={"view_direction": [0.94, 0.0, 0.342], "detector_radius_mm": 200.0,
                             **IMAGING}, **MOUNTED,
                      mesh={"spot_fraction": 0.2, "growth": 0.3})
    return write_toml(tmp_path / "case.toml", data)


def test_drift_table_rows_are_the_runs_drift(tmp_path, capsys):
    """The table at 0, 0.02, …, 0.1 s: the source position is the impact point plus
    δ = s b (s the run's spot shift at that time), the image shift and ΔM/M are the run's
    columns at those times (to the CSV's 10 digits), and t = 0 has no drift."""
    path = _table_case(tmp_path)
    out = tmp_path / "table.csv"
    assert main(["drift-table", str(path), "--schedule", "0:0.1:0.02", "-o", str(out),
                 "-q"]) == 0
    with open(out) as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    times = [float(r["time_s"]) for r in rows]
    np.testing.assert_allclose(times, [0.0, 0.02, 0.04, 0.06, 0.08, 0.1], atol=1e-15)
    case = anodesim.load(path)
    import dataclasses as dc
    res = simulation.run(dc.replace(case, output=dc.replace(case.output,
                                                            save_times_s=tuple(times[1:]))))
    keep = ~np.isnan(res.column("spot_shift_um"))
    s = res.column("spot_shift_um")[keep]
    z0 = resolve.prepare(case).lay.z_beam
    got = np.array([[float(r[k]) for k in ("source_z_mm", "shift_z_um", "image_shift_v_px",
                                           "magnification_change_rel", "offaxis_shift_px")]
                    for r in rows])
    assert np.all(got[0, 1:] == 0.0) and got[0, 0] == pytest.approx(z0 * 1e3, rel=1e-10)
    np.testing.assert_allclose(got[1:, 1], -s, rtol=1e-9)  # δ = s b, b = −z
    np.testing.assert_allclose(got[1:, 0], z0 * 1e3 - s * 1e-3, rtol=1e-9)
    for j, col in ((2, "image_shift_v_px"), (3, "magnification_change_rel"),
                   (4, "offaxis_shift_px")):
        np.testing.assert_allclose(got[1:, j], res.column(col)[keep], rtol=1e-8, atol=1e-18)
    assert all(float(r["shift_x_um"]) == 0.0 for r in rows)


def test_drift_table_keeps_the_beam_pointing_drift(tmp_path):
    """With a [beam_pointing] drift across the beam ((5, 0, 0) µm, and y from 0 to 3 µm),
    the table's δ is the thermal shift along the beam plus the pointing drift, and its image
    shifts and ΔM/M are the run's columns (it rebuilt δ as s b from the spot_shift_um
    column and dropped every part of the pointing drift across the beam: at 0.1 s it gave
    (0, +0.024) px and ΔM/M 4.3e-6 against the run's (+0.270, −0.130) px and 2.16e-4)."""
    data = tomllib.loads(_table_case(tmp_path).read_text())
    data["beam_pointing"] = {"time_s": [0.0, 0.1], "x_um": [5.0, 5.0], "y_um": [0.0, 3.0]}
    path = write_toml(tmp_path / "pointing.toml", data)
    out = tmp_path / "table.csv"
    assert main(["drift-table", str(path), "--schedule", "0:0.1:0.05", "-o", str(out),
                 "-q"]) == 0
    with open(out) as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    case = anodesim.load(path)
    import dataclasses as dc
    res = simulation.run(dc.replace(case, output=dc.replace(case.output,
                                                            save_times_s=(0.05, 0.1))))
    keep = ~np.isnan(res.column("spot_shift_um"))
    np.testing.assert_allclose([float(r["time_s"]) for r in rows], res.column("time_s")[keep],
                               atol=1e-15)
    s = res.column("spot_shift_um")[keep]  # along b = −z
    for k, expect in (("shift_x_um", [5.0, 5.0, 5.0]), ("shift_y_um", [0.0, 1.5, 3.0]),
                      ("shift_z_um", -s)):
        np.testing.assert_allclose([float(r[k]) for r in rows], expect, rtol=1e-9, atol=1e-12)
    for col in ("image_shift_u_px", "image_shift_v_px", "magnification_change_rel",
                "offaxis_shift_px"):
        np.testing.assert_allclose([float(r[col]) for r in rows], res.column(col)[keep],
                                   rtol=1e-8, atol=1e-15)
    assert abs(float(rows[-1]["image_shift_u_px"])) > 0.1  # the pointing drift is there


def test_drift_table_keeps_the_files_order_and_repeats(tmp_path):
    """A source position per projection: the rows follow the schedule file line by line,
    out of order and repeated as given (they were sorted and de-duplicated, so a file of
    3, 1, 2 gave the rows of 1, 2, 3 and a file of 1, 1 one row); a repeated time gives the
    same row, t = 0 no drift, and the drift at 0.1 s is not the one at 0.02 s."""
    from anodesim.cli.drift_table import parse_schedule

    for text, times in (("3\n1\n2\n", [3.0, 1.0, 2.0]), ("1\n1\n", [1.0, 1.0]),
                        ("time_s,angle\n2,0\n0,90\n2,180\n", [2.0, 0.0, 2.0])):
        f = tmp_path / "times.csv"
        f.write_text(text)
        assert parse_schedule(str(f), 5.0) == times
    path = _table_case(tmp_path)
    f = tmp_path / "projections.csv"
    f.write_text("0.1\n0.02\n0\n0.02\n")
    out = tmp_path / "table.csv"
    assert main(["drift-table", str(path), "--schedule", str(f), "-o", str(out), "-q"]) == 0
    with open(out) as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    assert [float(r["time_s"]) for r in rows] == [0.1, 0.02, 0.0, 0.02]
    assert rows[1] == rows[3] and float(rows[2]["shift_z_um"]) == 0.0
    assert abs(float(rows[0]["shift_z_um"])) > abs(float(rows[1]["shift_z_um"])) > 0


@pytest.mark.parametrize("schedule,message", [
    ("0:0.5:0.1", "--schedule: time 0.2 s: expected a time in [0, 0.1] s"),
    ("0:0.1:0", "--schedule = '0:0.1:0': expected START:STOP:STEP with STEP > 0"),
    ("missing.csv", "--schedule = 'missing.csv': cannot read it"),
    ("", "--schedule = '': empty schedule; expected START:STOP:STEP"),  # was: Is a directory
    ("  ", "--schedule = '  ': empty schedule"),
])
def test_drift_table_bad_schedule_one_line(tmp_path, capsys, schedule, message):
    path = _table_case(tmp_path)
    out = tmp_path / "table.csv"
    assert main(["drift-table", str(path), "--schedule", schedule, "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not out.exists()


def test_drift_table_output_checked_before_the_run(tmp_path, capsys):
    """An output that cannot be the CSV (a folder) is bad input found before the run: one
    line, exit 2, nothing written."""
    path = _table_case(tmp_path)
    (tmp_path / "out").mkdir()
    assert main(["drift-table", str(path), "--schedule", "0:0.1:0.02", "-o",
                 str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [f"anodesim: error: -o {tmp_path / 'out'}: is a folder; "
                                "expected a CSV file name"], err
    assert list((tmp_path / "out").iterdir()) == []
