"""Case files: valid cases load to SI; every kind of bad input gives one line naming the
key, the value and what was expected, exit status 2, no traceback and no output folder."""

import contextlib
import json
import math
import subprocess
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from cases import block, merge, reflection, reflection_3d, transmission

import anodesim
from anodesim.case import CaseError, from_dict
from anodesim.cli import main

STUDIES = Path(__file__).parent.parent / "studies"


def write_toml(path: Path, data: dict) -> Path:
    def fmt(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return f'"{v}"'
        if isinstance(v, list):
            return "[" + ", ".join(fmt(x) for x in v) + "]"
        if isinstance(v, float) and not math.isfinite(v):
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        return repr(v)

    lines = []

    def emit(prefix, table):
        scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
        if prefix:
            lines.append(f"[{prefix}]")
        lines.extend(f"{k} = {fmt(v)}" for k, v in scalars.items())
        for k, v in table.items():
            if isinstance(v, dict):
                emit(f"{prefix}.{k}" if prefix else k, v)

    emit("", data)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_valid_case_converts_units_once():
    case = from_dict(reflection())
    assert case.beam.voltage_V == 100e3
    assert case.beam.size_m == pytest.approx(50e-6)
    assert case.geometry.sizes_m["anode_length_m"] == pytest.approx(5e-3)
    assert case.initial_temperature_K == pytest.approx(303.15)
    assert case.boundaries["cooled_end"].temperature_K == pytest.approx(303.15)
    assert case.loading.segments == ((0.1, 10.0),)


def test_current_gives_beam_power_kV_times_mA():
    case = from_dict(reflection(beam={"power_W": None, "current_mA": 0.25}))
    assert case.beam.power_W == pytest.approx(25.0)


def test_pulse_train_from_period_and_duty_cycle():
    case = from_dict(reflection(loading={"kind": "pulse_train", "duration_s": None,
                                         "pulses": 3, "period_s": 2.0, "duty_cycle": 0.25}))
    assert case.loading.segments == ((0.5, 10.0), (1.5, 0.0)) * 3


def test_shipped_studies_are_valid():
    for path in STUDIES.glob("*.toml"):
        anodesim.load(path)


def test_hash_changes_with_input():
    assert from_dict(reflection()).hash() != from_dict(reflection(beam={"power_W": 11.0})).hash()


BAD = [
    # (description, change to the reflection case, text the message must contain)
    ("unknown key with did-you-mean", {"beam": {"fwhm_mu": 20}}, "did you mean 'fwhm_um'"),
    ("unknown section", {"bundaries": {}}, "did you mean 'boundaries'"),
    ("missing key", {"geometry": {"insert_radius_mm": None}}, "geometry.insert_radius_mm: missing"),
    ("missing section", {"beam": None}, "beam: missing"),
    ("wrong type", {"beam": {"voltage_kV": "100"}}, "beam.voltage_kV = '100'"),
    ("negative size", {"geometry": {"anode_radius_mm": -3.0}}, "geometry.anode_radius_mm = -3.0"),
    ("zero size", {"beam": {"fwhm_um": 0.0}}, "beam.fwhm_um = 0.0"),
    ("spot larger than the target", {"beam": {"fwhm_um": 2500.0}}, "no larger than the target"),
    # the run had no yield use to check and left the limit out of the limits in force
    ("yield limit on a heat sink without yield data", {
        "materials": {"heat_sink": "MoCu30"}, "mounts": {"cooled_end": {"type": "clamped"}},
        "limits": {"yield_use": 1.0}},
     "limits.yield_use = 1: the heat_sink material 'MoCu30' has no yield strength"),
    # it read whichever side's cell the search found first, without a word
    ("probe on an interface with a temperature jump", {
        "interfaces": {"target_heat_sink": {"conductance_W_m2K": 1e6}},
        "probes": {"joint": {"r_mm": 0.0, "depth_mm": 1.0}}},
     "probes.joint: (r_mm = 0, depth_mm = 1) lies on the interface target_heat_sink, where "
     "the conductance_W_m2K = 1e+06 makes the temperature jump between target and "
     "heat_sink; expected a point a little inside one of them"),
    # 1e15 ran into a Newton line-search failure at the first steps; 1e12 is a perfect contact
    ("interface conductance beyond any measured", {"interfaces": {"target_heat_sink": {
        "conductance_W_m2K": 1e15}}},
     "interfaces.target_heat_sink.conductance_W_m2K = 1000000000000000.0: expected a thermal "
     "boundary conductance in W/m²K from 0.001 to 1e+12 (leave the key out for a perfect "
     "contact)"),
    # ran as an insulated target (a cracked joint in vacuum still radiates ~0.15 W/m²K)
    ("interface conductance of nothing", {"interfaces": {"target_heat_sink": {
        "conductance_W_m2K": 1e-300}}},
     "interfaces.target_heat_sink.conductance_W_m2K = 1e-300: expected a thermal boundary "
     "conductance in W/m²K from 0.001 to 1e+12"),
    ("unknown material", {"materials": {"heat_sink": "Copper"}}, "materials.heat_sink = 'Copper'"),
    # a limit above the melting point never bound: the Cu melted first (the run stopped there)
    ("heat-sink limit above Cu's melting point", {"limits": {"heat_sink_C": 2000.0}},
     "limits.heat_sink_C = 2000: at or above the melting point of Cu (1084.65 °C, the "
     "heat_sink material); expected a limit below it"),
    # it ran, into a melting message, after writing the run folder
    ("absurd face heat flux", {"boundaries": {"side": {"type": "heat_flux", "q_W_m2": 1e12}}},
     "boundaries.side.q_W_m2 = 1000000000000.0: expected a heat flux into the body in W/m², "
     "-1e+09 to 1e+09"),
    # the largest step capped the first one: the initial step given was not the one taken
    ("initial step above the largest", {"time": {"initial_step_s": 1.0, "max_step_s": 0.01}},
     "time.initial_step_s = 1.0: expected at most time.max_step_s (0.01 s)"),
    # H² underflowed to 0: "internal error (... faces beam_face, anode_face have no area)"
    ("extra-focal distance of nothing", {"beam": {"extra_focal_distance_mm": 1e-300}},
     "beam.extra_focal_distance_mm = 1e-300: expected a distance in mm from 0.1 to 1000"),
    # 50 K passed: a converged run 50 K off
    ("absurd Newton tolerance", {"time": {"newton_tol_K": 50.0}},
     "time.newton_tol_K = 50.0: expected a Newton tolerance in K from 1e-11 (the round-off "
     "of a temperature) to 0.1"),
    # ran, exit 0, with a cooler that removed nothing (1 - exp(-UA/ṁc) rounded to 0)
    ("coolant flow of 1e300 L/min", {
        "coolant_circuit": {"heat_capacity_J_per_K": 50.0, "cooler_conductance_W_per_K": 0.5,
                            "ambient_C": 30.0, "flow_L_min": 1e300, "coolant": "water"},
        "boundaries": {"cooled_end": {"temperature_C": None, "coolant_circuit": True}}},
     "coolant_circuit.flow_L_min = 1e+300: expected a flow in L/min from 0.001 to 10000"),
    # `check` said valid and the run failed at its first step ("Newton line search failed")
    ("Newton tolerance below round-off", {"time": {"newton_tol_K": 1e-300}},
     "time.newton_tol_K = 1e-300: expected a Newton tolerance in K from 1e-11 (the round-off "
     "of a temperature) to 0.1"),
    ("duty cycle above 1", {"loading": {"kind": "pulse_train", "duration_s": None, "pulses": 2,
                                        "period_s": 1.0, "duty_cycle": 1.5}},
     "loading.duty_cycle = 1.5"),
    ("duty cycle zero", {"loading": {"kind": "pulse_train", "duration_s": None, "pulses": 2,
                                     "period_s": 1.0, "duty_cycle": 0.0}},
     "loading.duty_cycle = 0.0"),
    ("non-finite number", {"beam": {"power_W": math.inf}}, "beam.power_W = inf"),
    ("nan", {"boundaries": {"cooled_end": {"h_W_m2K": math.nan}}}, "h_W_m2K = nan"),
    ("unknown face", {"boundaries": {"coold_end": {"type": "adiabatic"}}},
     "did you mean 'cooled_end'"),
    ("unknown boundary type", {"boundaries": {"cooled_end": {"type": "convective"}}},
     "did you mean 'convection'"),
    ("both current and power", {"beam": {"current_mA": 0.1}}, "exactly one of current_mA"),
    ("temperature below absolute zero", {"initial": {"temperature_C": -300.0}},
     "initial.temperature_C = -300.0"),
    ("save time after the end", {"output": {"save_times_s": [5.0]}},
     "output.save_times_s[0] = 5.0"),
    ("save times of a steady state", {"loading": {"kind": "steady", "duration_s": None},
                                      "output": {"save_times_s": [1.0]}},
     "output.save_times_s = [1.0]: expected no save times with loading.kind = \"steady\""),
    ("insert wider than the anode", {"geometry": {"insert_radius_mm": 4.0}},
     "less than geometry.anode_radius_mm"),
    # drift and mounts (issue 3)
    ("mounts leave the body free", {"mounts": {"side": {"type": "sliding"}}},
     "free to move along the axis"),
    ("no mounts and not free", {"mechanics": {"free": False}}, "free to move along the axis"),
    ("free and mounted", {"mechanics": {"free": True},
                          "mounts": {"cooled_end": {"type": "clamped"}}}, "a free body has no"),
    ("unknown mount type", {"mounts": {"cooled_end": {"type": "glued"}}},
     "mounts.cooled_end.type = 'glued'"),
    ("view axis in the target surface", {"mounts": {"cooled_end": {"type": "clamped"}},
                                         "drift": {"view_direction": [1.0, 0.0, 0.0],
                                                   "source_object_mm": 20.0,
                                                   "magnification": 10.0,
                                                   "pixel_size_um": 100.0}},
     "drift.view_direction = [1.0, 0.0, 0.0]: expected a central ray that leaves out of the "
     "target face"),
    ("view axis into the target", {"mounts": {"cooled_end": {"type": "clamped"}},
                                   "drift": {"view_direction": [1.0, 0.0, -1.0],
                                             "source_object_mm": 20.0, "magnification": 10.0,
                                             "pixel_size_um": 100.0}},
     "drift.view_direction = [1.0, 0.0, -1.0]: expected a central ray that leaves out of"),
    ("absurd magnification", {"mounts": {"cooled_end": {"type": "clamped"}},
                              "drift": {"view_direction": [1.0, 0.0, 1.0],
                                        "source_object_mm": 20.0, "magnification": 1e308,
                                        "pixel_size_um": 100.0}},
     "drift.magnification = 1e+308"),
    ("overflowing direction", {"mounts": {"cooled_end": {"type": "clamped"}},
                               "drift": {"view_direction": [1e308, 1e308, 1e308],
                                         "source_object_mm": 20.0, "magnification": 10.0,
                                         "pixel_size_um": 100.0}},
     "drift.view_direction = [1e+308, 1e+308, 1e+308]: expected a direction"),
    ("drift limit without imaging geometry", {"limits": {"drift_um": 1.0}},
     "limits.drift_um = 1: a drift limit needs the imaging geometry"),
    ("reference temperature outside the data", {"mounts": {"cooled_end": {"type": "clamped"}},
                                                "mechanics": {"reference_temperature_C": -100.0}},
     "mechanics.reference_temperature_C = -100 (the stress-free temperature; "
     "initial.temperature_C unless given): outside the W data"),
    # unless given it is the initial temperature, which the message used not to name (now
    # refused as an initial temperature outside the data, the tables of mechanics included)
    ("initial temperature outside the data", {"mounts": {"cooled_end": {"type": "clamped"}},
                                              "initial": {"temperature_C": 5000.0}},
     "initial.temperature_C = 5000: above the melting point of W (3421.85 °C), the melting "
     "point of Cu (1084.65 °C); expected a temperature within every material's data"),
    ("zero distance", {"mounts": {"cooled_end": {"type": "clamped"}},
                       "drift": {"view_direction": [1.0, 0.0, 1.0], "source_object_mm": 0.0,
                                 "magnification": 10.0, "pixel_size_um": 100.0}},
     "drift.source_object_mm = 0.0"),
    ("negative pixel", {"mounts": {"cooled_end": {"type": "clamped"}},
                        "drift": {"view_direction": [1.0, 0.0, 1.0], "source_object_mm": 10.0,
                                  "magnification": 10.0, "pixel_size_um": -5.0}},
     "drift.pixel_size_um = -5.0"),
    ("detector nearer than object", {"mounts": {"cooled_end": {"type": "clamped"}},
                                     "drift": {"view_direction": [1.0, 0.0, 1.0],
                                               "source_object_mm": 10.0,
                                               "source_detector_mm": 5.0,
                                               "pixel_size_um": 100.0}},
     "drift.source_detector_mm = 5.0"),
    ("beam missing the target", {"mounts": {"cooled_end": {"type": "clamped"}},
                                 "drift": {"beam_direction": [0.0, 0.0, 1.0],
                                           "view_direction": [1.0, 0.0, 1.0],
                                           "source_object_mm": 10.0, "magnification": 10.0,
                                           "pixel_size_um": 100.0}},
     "drift.beam_direction = [0.0, 0.0, 1.0]: the beam travels along or away"),
    ("oblique beam on an axisymmetric anode", {
        "mounts": {"cooled_end": {"type": "clamped"}},
        "drift": {"beam_direction": [0.5, 0.0, -1.0], "view_direction": [1.0, 0.0, 1.0],
                  "source_object_mm": 10.0, "magnification": 10.0, "pixel_size_um": 100.0}},
     "axisymmetric geometries take the beam along the axis"),
]


@pytest.mark.parametrize("what,change,message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, what, change, message):
    assert_run_rejected(tmp_path, capsys, reflection(**change), message)


def assert_run_rejected(tmp_path, capsys, data: dict, message: str) -> None:
    """`anodesim run` on the case exits 2 with one line containing message, writing
    nothing."""
    path = write_toml(tmp_path / "case.toml", data)
    out = tmp_path / "out"
    status = main(["run", str(path), "-o", str(out)])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert len(err.splitlines()) == 1, err
    assert message in err, err
    assert "Traceback" not in err
    assert not out.exists()


def test_steady_without_heat_removal_is_rejected():
    with pytest.raises(CaseError, match="steady state needs"):
        from_dict(transmission(boundaries=None))


def test_unreadable_and_invalid_files(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.toml")]) == 2
    assert "cannot read the case file" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[beam\nvoltage_kV = 1\n")
    assert main(["check", str(bad)]) == 2
    assert "not valid TOML" in capsys.readouterr().err


def test_bad_input_fast_and_without_dolfinx(tmp_path):
    """Validation imports no dolfinx: a bad case fails in a fresh interpreter without it."""
    path = write_toml(tmp_path / "case.toml", reflection(beam={"fwhm_um": -1.0}))
    code = ("import sys; from anodesim.cli import main; s = main(['run', sys.argv[1]]); "
            "assert 'dolfinx' not in sys.modules; sys.exit(s)")
    r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1


def test_write_toml_roundtrip(tmp_path):
    data = reflection()
    assert tomllib.loads(write_toml(tmp_path / "c.toml", data).read_text()) == data


def test_setup_error_leaves_no_output_folder(tmp_path, capsys):
    """A case error found only when the mesh exists (a probe outside the body) still exits 2
    and removes the run folder this run created."""
    case = reflection(probes={"deep": {"r_mm": 0.0, "depth_mm": 50.0}})
    path = write_toml(tmp_path / "case.toml", case)
    out = tmp_path / "out"
    assert main(["run", str(path), "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "probes.deep" in err and "outside the mesh" in err
    # what was expected: how deep the body reaches there (the rod's 5 mm)
    assert err.endswith("expected depth_mm at most 5 at r_mm = 0 (the body's extent below "
                        "the beam face there)"), err
    assert not out.exists()


def test_a_probe_beside_the_body_is_told_its_radius():
    """r_mm beyond the rod (a reflection insert takes r past the target's radius): the line
    gives the body's radius."""
    from anodesim.resolve import check_probes_inside

    with pytest.raises(CaseError) as e:
        check_probes_inside(from_dict(reflection(probes={"x": {"r_mm": 4.0, "depth_mm": 1.0}})))
    assert str(e.value) == ("probes.x: (r_mm = 4, depth_mm = 1) is outside the mesh; expected "
                            "r_mm at most 3 (the body's radius)")
    # under the hemisphere's curved face: sqrt(2² − 1.2²) = 1.6 mm, to 4 digits
    with pytest.raises(CaseError) as e:
        check_probes_inside(from_dict(block(probes={"x": {"r_mm": 1.2, "depth_mm": 5.0}})))
    assert str(e.value).endswith("expected depth_mm at most 1.6 at r_mm = 1.2 (the body's "
                                 "extent below the beam face there)"), str(e.value)


def test_a_3d_probe_outside_the_body_is_told_how_far_the_body_reaches():
    """3-D said only "expected a point inside the body": the line now gives how deep the
    body reaches below the face at the probe's r_mm (along the face normal), or how far the
    face reaches from the spot along e₁. The 3-D test rod (radius 1.5 mm, 3 mm to the spot,
    face cut 20°): below the spot the bottom at 3/cos 20° = 3.193 mm; at r = 1 mm, (3 −
    sin 20°)/cos 20° = 2.829 mm; the face's edge at 1.5/cos 20° = 1.596 mm."""
    from anodesim.resolve import check_probes_inside

    expected = {(0.0, 50.0): "expected depth_mm at most 3.193 at r_mm = 0 (how far the body "
                              "reaches below the beam face there, along its normal)",
                (1.0, 30.0): "expected depth_mm at most 2.829 at r_mm = 1 (how far the body "
                              "reaches below the beam face there, along its normal)",
                (9.0, 0.1): "expected r_mm at most 1.596 (how far the beam face reaches from "
                            "the spot along the beam face's axis e₁)"}
    for (r, d), says in expected.items():
        with pytest.raises(CaseError) as e:
            check_probes_inside(from_dict(reflection_3d(probes={"x": {"r_mm": r,
                                                                      "depth_mm": d}})))
        assert str(e.value) == (f"probes.x: (r_mm = {r:g}, depth_mm = {d:g}) is outside the "
                                f"mesh; {says}"), str(e.value)


def test_a_user_mesh_probe_is_told_the_box_at_check_and_the_cells_in_the_run():
    """A user mesh's outline before the run is its bounding box (said so); the run's
    search of the cells (probes.inside_mesh, here on a unit cube of 1 m) gives the depth
    its cells reach."""
    from mpi4py import MPI  # (before dolfinx)

    import dolfinx

    from anodesim.probes import inside_mesh
    from anodesim.resolve import prepare, probe_outside

    mesh = Path(__file__).resolve().parents[1] / "meshes"
    data = tomllib.loads((mesh / "block_anode_case.toml").read_text())
    data["geometry"]["file"] = str(mesh / data["geometry"]["file"])
    data["probes"] = {"deep": {"r_mm": 0.0, "depth_mm": 500.0}}
    with pytest.raises(CaseError) as e:
        prepare(from_dict(data))
    line = str(e.value)
    assert line.startswith("probes.deep: (r_mm = 0, depth_mm = 500) is outside the mesh; "
                           "expected depth_mm at most ") and line.endswith(
        " at r_mm = 0 (how far the mesh's bounding box reaches below the beam face there, "
        "along its normal)"), line
    cube = dolfinx.mesh.create_unit_cube(MPI.COMM_WORLD, 2, 2, 2)
    inside = inside_mesh(cube)
    assert inside([[0.5, 0.5, 0.5], [0.5, 0.5, 1.5]]).tolist() == [True, False]
    lay = SimpleNamespace(frame=SimpleNamespace(origin=np.array([0.5, 0.5, 1.0]),
                                                e1=np.array([1.0, 0.0, 0.0]),
                                                normal=np.array([0.0, 0.0, 1.0])),
                          scale=1.0, bounds=None, contains_all=None)
    case = from_dict(reflection_3d(probes={"x": {"r_mm": 0.0, "depth_mm": 1500.0}}))
    assert str(probe_outside(case, 0, lay, inside)).endswith(
        "expected depth_mm at most 1000 at r_mm = 0 (how far the body reaches below the beam "
        "face there, along its normal)")


def test_faces_that_the_geometry_lacks_are_rejected():
    """A film covering the whole window leaves no bare window face and no film edge."""
    with pytest.raises(CaseError, match="boundaries.window_face: unknown face"):
        from_dict(transmission(boundaries={"window_face": {"type": "fixed",
                                                            "temperature_C": 30.0}}))
    ok = from_dict(transmission(geometry={"target_radius_mm": 0.5},
                                boundaries={"window_face": {"type": "fixed",
                                                            "temperature_C": 30.0}}))
    assert "window_face" in ok.boundaries


def test_non_utf8_case_file(tmp_path, capsys):
    bad = tmp_path / "latin1.toml"
    bad.write_bytes("title = 'caf\xe9'\n".encode("latin-1"))
    assert main(["check", str(bad)]) == 2
    assert "not a text file in UTF-8" in capsys.readouterr().err


def test_output_path_that_is_a_file(tmp_path, capsys):
    path = write_toml(tmp_path / "case.toml", reflection())
    (tmp_path / "out").write_text("not a folder")
    assert main(["run", str(path), "-o", str(tmp_path / "out")]) == 2
    assert "exists and is not a directory" in capsys.readouterr().err


@contextlib.contextmanager
def only_counted():
    """Within the block, a schedule's step plan may only be the small one-segment plans
    that count its steps (resolve._least_steps, no max_step): a schedule refused on its
    count must not be planned in full (a million steps, seconds) only to fail."""
    from anodesim import resolve
    from anodesim.loading import plan

    def counting_only(schedule, initial_step, max_step, *args, **kwargs):
        assert max_step == math.inf and len(schedule.segments) == 1, "a full plan was built"
        return plan(schedule, initial_step, max_step, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(resolve, "plan", counting_only)
        yield


def test_runaway_step_count_is_refused(tmp_path, capsys):
    path = write_toml(tmp_path / "case.toml", reflection(
        loading={"duration_s": 10.0}, time={"max_step_s": 1e-9}))
    with only_counted():
        assert main(["run", str(path), "-o", str(tmp_path / "out")]) == 2
    assert "more than 1,000,000 steps" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_long_pulse_train_names_the_segments_not_max_step(tmp_path, capsys):
    """A pulse train's steps are held short by its segments (each restarts at initial_step_s
    and takes at least steps_per_segment steps): the refusal names the pulses, the steps a
    segment takes and the keys that help, not time.max_step_s, which changes nothing; the
    cost warning of a train that fits gives the same advice."""
    train = {"kind": "pulse_train", "pulses": 20000, "on_s": 0.005, "off_s": 0.005,
             "duration_s": None}
    for time in ({"initial_step_s": 1e-6}, {"initial_step_s": 1e-6, "max_step_s": 1000.0}):
        path = write_toml(tmp_path / "case.toml", reflection(loading=train, time=time))
        with only_counted():
            assert main(["check", str(path)]) == 2
        err = capsys.readouterr().err.strip()
        # 76 steps a 5 ms segment (40, and 36 growing from 1 µs): 40,000 × 76
        assert err == ("anodesim: error: loading.pulses = 20000: 40,000 pulses and pauses would "
                       "take at least 3,040,000 time steps, more than the 1,000,000 a run may "
                       "take (about 76 each: time.steps_per_segment = 40, plus the steps "
                       "growing from time.initial_step_s = 1e-06 after each switch); expected "
                       "at most 6,578 pulses, a smaller time.steps_per_segment or a larger "
                       "time.initial_step_s, or `anodesim rate` for the periodic state of an "
                       "endless train"), err
    # the limit named holds: 6,578 pulses fit, and the cost warning does not suggest max_step_s
    path = write_toml(tmp_path / "case.toml", reflection(
        loading={**train, "pulses": 6578}, time={"initial_step_s": 1e-6}))
    from anodesim import cost
    from anodesim.case import load
    from anodesim.resolve import prepare

    c = load(path)
    prep = prepare(c)
    assert len(prep.steps) <= 1_000_000
    remedy = cost.step_remedy(c, prep)
    assert "steps_per_segment" in remedy and "max_step_s" not in remedy
    # one load whose steps are still doubling: neither segments nor max_step_s help
    one = load(write_toml(tmp_path / "one.toml", reflection()))
    prep = prepare(one)
    assert cost.step_remedy(one, prep) == ("shorten the schedule, take a larger "
                                           "time.initial_step_s or a smaller "
                                           "time.steps_per_doubling")


@pytest.mark.parametrize("change,message", [
    ({"probes": {"deep": {"r_mm": 0.0, "depth_mm": 50.0}}}, "probes.deep"),
    ({"geometry": {"anode_length_mm": 5.0, "insert_thickness_mm": 0.005},
      "beam": {"voltage_kV": 300.0, "deposition": "everhart_hoff"}}, None),
    ({"beam": {"voltage_kV": 300.0}}, "beam.deposition = 'kernel': electron kernels: voltage "
     "300 kV is outside the tables (10–225 kV)"),
])
def test_check_catches_what_run_would_refuse(tmp_path, capsys, change, message):
    """`check` runs the same preflight as `run` (without dolfinx)."""
    path = write_toml(tmp_path / "case.toml", reflection(**change))
    code = ("import sys; from anodesim.cli import main; s = main(['check', sys.argv[1]]); "
            "assert 'dolfinx' not in sys.modules; sys.exit(s)")
    r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                       timeout=600)
    if message is None:  # a thin insert at 300 kV (Everhart–Hoff): the range goes into the Cu
        assert r.returncode == 0, r.stderr
    else:
        assert r.returncode == 2 and message in r.stderr, r.stderr


def test_reused_mesh_must_match_geometry_and_interfaces(tmp_path, capsys):
    first = tmp_path / "a"
    path = write_toml(tmp_path / "case.toml", reflection(
        interfaces={"target_heat_sink": {"conductance_W_m2K": 1e6}}))
    assert main(["run", str(path), "-o", str(first), "-q"]) == 0
    assert (first / "mesh.json").is_file()
    mesh = str(first / "mesh.msh")
    for change, message in [
        ({}, "other interfaces"),  # split mesh reused for perfect contact
        ({"geometry": {"anode_length_mm": 6.0},
          "interfaces": {"target_heat_sink": {"conductance_W_m2K": 1e6}}}, "another geometry"),
    ]:
        bad = write_toml(tmp_path / "bad.toml", reflection(mesh={"file": mesh}, **change))
        assert main(["run", str(bad), "-o", str(tmp_path / "b"), "-q"]) == 2
        assert message in capsys.readouterr().err
        assert not (tmp_path / "b").exists()
    # refined for another spot: a 20 um mesh would under-resolve a 10 um spot (its
    # refinement is recorded in mesh.json); a mesh.json written before that is not checked
    split = {"interfaces": {"target_heat_sink": {"conductance_W_m2K": 1e6}}}
    narrow = write_toml(tmp_path / "narrow.toml", reflection(
        mesh={"file": mesh}, beam={"fwhm_um": 10.0}, **split))
    assert main(["check", str(narrow)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "its smallest element" in err, err
    assert main(["check", str(write_toml(tmp_path / "same.toml", reflection(
        mesh={"file": mesh}, beam={"power_W": 5.0}, **split)))]) == 0
    described = json.loads((first / "mesh.json").read_text())
    assert described["refinement"]["smallest_element_m"] > 0
    described.pop("refinement")
    (first / "mesh.json").write_text(json.dumps(described))
    assert main(["check", str(narrow)]) == 0
    capsys.readouterr()
    # dimensions (and a housing's) compare to round-off, as written through JSON
    same = str(tmp_path / "same.toml")
    sizes = described["sizes_m"]
    for scale, status in [(1 + 1e-12, 0), (1.01, 2)]:
        described["sizes_m"] = {k: v * scale for k, v in sizes.items()}
        (first / "mesh.json").write_text(json.dumps(described))
        assert main(["check", same]) == status
        assert ("another geometry" in capsys.readouterr().err) == (status == 2)
    foreign = tmp_path / "foreign.msh"
    foreign.write_text("not a mesh")
    bad = write_toml(tmp_path / "bad.toml", reflection(mesh={"file": str(foreign)}))
    assert main(["run", str(bad), "-o", str(tmp_path / "c"), "-q"]) == 2
    assert "expected a mesh written by an anodesim run" in capsys.readouterr().err


def _reuse(tmp_path, built_for: dict, reusing: dict, mesh: Path, capsys,
           command: str = "check") -> tuple[int, str]:
    """`anodesim check` (or run) of the case `reusing` with mesh.file on a copy of `mesh`
    described (mesh.json) as a run of the case `built_for` describes its mesh: (exit
    status, stderr)."""
    from anodesim.resolve import prepare
    from anodesim.simulation import _mesh_sidecar

    built = anodesim.from_dict(built_for)
    folder = tmp_path / f"built{len(list(tmp_path.glob('built*')))}"
    folder.mkdir()
    (folder / "mesh.msh").write_bytes(mesh.read_bytes())
    (folder / "mesh.json").write_text(json.dumps(_mesh_sidecar(built, prepare(built))))
    reusing = dict(reusing, mesh={**reusing.get("mesh", {}), "file": str(folder / "mesh.msh")})
    path = str(write_toml(tmp_path / "reusing.toml", reusing))
    status = main(["check", path] if command == "check" else
                  ["run", path, "-o", str(tmp_path / "reusing"), "-q"])
    return status, capsys.readouterr().err.strip()


def _box_mesh(path: Path) -> Path:
    """A gmsh file of a tetrahedral box with one physical volume."""
    import gmsh

    gmsh.initialize()
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.occ.addBox(0, 0, 0, 1, 1, 1)
        gmsh.model.occ.synchronize()
        gmsh.model.addPhysicalGroup(3, [1], name="target")
        gmsh.option.setNumber("Mesh.MeshSizeMax", 0.5)
        gmsh.model.mesh.generate(3)
        gmsh.write(str(path))
    finally:
        gmsh.finalize()
    return path


def _flat_top_like(gaussian: dict) -> dict:
    """The case with a flat-top spot whose refined zone and smallest element are the
    Gaussian's (bisection on the diameter): only the embedded spot edge differs."""
    from anodesim.geometry import mesh_sizes
    from anodesim.resolve import prepare

    def spot(d_um):
        case = merge(gaussian, {"beam": {"spot": "flat_top", "fwhm_um": None,
                                         "diameter_um": d_um}})
        return case, prepare(anodesim.from_dict(case)).spot

    g = anodesim.from_dict(gaussian)
    want = prepare(g).spot
    lo, hi = 1.0, 1000.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if spot(mid)[1].radius_m < want.radius_m else (lo, mid)
    case, flat = spot(0.5 * (lo + hi))
    case["mesh"] = {**case.get("mesh", {}),
                    "spot_fraction": mesh_sizes(g, want)[0] / flat.smallest_m}
    return case


def test_reused_mesh_must_be_refined_for_the_case(tmp_path, capsys):
    """The refinement mesh.json records: a rotated elliptical spot in 3-D, a flat-top spot on
    a Gaussian's mesh, another electron range are refused (one line, naming the quantity);
    a mesh whose joint corners were refined for a yield use may serve a run without
    mechanics, not the other way round (the message then names the key that would accept
    it); a CAD part's groups are part of its geometry. A user's mesh takes no [mesh] keys."""
    msh = tmp_path / "m"
    assert main(["run", str(write_toml(tmp_path / "a.toml", reflection())), "-o", str(msh),
                 "-q"]) == 0
    mesh = msh / "mesh.msh"  # (check only counts its cells)
    box = _box_mesh(tmp_path / "box.msh")  # cells for the 3-D cases to count
    ellipse = {"spot": "elliptical", "fwhm_um": None, "fwhm_major_um": 60.0,
               "fwhm_minor_um": 15.0}
    three = reflection_3d(beam=ellipse)
    rotated = reflection_3d(beam={**ellipse, "orientation_deg": 90.0})
    mech = {"mounts": {"cooled_end": {"type": "clamped"}}}
    step = Path(__file__).resolve().parent.parent / "meshes" / "step_anode_case.toml"
    cad = tomllib.loads(step.read_text())
    cad["geometry"]["file"] = str(step.parent / cad["geometry"]["file"])
    # a flat top whose refined zone and smallest element are a Gaussian's: only the rim
    # embedded in the 3-D face tells their meshes apart
    surface = reflection_3d(beam={"fwhm_um": 50.0})
    for built_for, reusing, cells, message in [
        (three, rotated, box, "refined zone's long axis"),
        (three, three, mesh, "no cells of dimension 3"),  # (a 2-D mesh)
        (surface, _flat_top_like(surface), box, "flat-top spot edge"),
        (reflection(), reflection(beam={"voltage_kV": 60}), mesh,
         "quarter of the deposition depth"),
        (reflection(), reflection(**mech), mesh, "or set mesh.joint_corner_um = 0,"),
        (cad, merge(cad, {"geometry": {"faces": {"cooled_end": {
            "box_mm": [-3.0, -3.0, 0.0, 3.0, 3.0, 0.1]}}}}), box, "other interfaces: its groups"),
    ]:
        status, err = _reuse(tmp_path, built_for, reusing, cells, capsys)
        assert status == 2 and len(err.splitlines()) == 1 and message in err, err
    status, err = _reuse(tmp_path, reflection(**mech), reflection(), mesh, capsys)
    assert status == 0, err  # finer joint corners than needed: accepted
    status, err = _reuse(tmp_path, three, three, box, capsys)
    assert status == 0, err
    # the refined zone is a box: its axis either way is the same mesh
    turned = reflection_3d(beam={**ellipse, "orientation_deg": 180.0})
    status, err = _reuse(tmp_path, three, turned, box, capsys)
    assert status == 0, err
    status, err = _reuse(tmp_path, cad, merge(cad, {"mesh": {"max_size_mm": 50.0}}), box, capsys)
    assert status == 0, err  # a CAD part's largest element is capped at a tenth of it
    garbage = tmp_path / "garbage.msh"
    garbage.write_text("not a mesh")
    status, err = _reuse(tmp_path, reflection(), reflection(), garbage, capsys)
    assert status == 2 and "cannot read it as a gmsh mesh" in err and len(err.splitlines()) == 1
    # a run reads the mesh itself: cells of another dimension are one line too
    status, err = _reuse(tmp_path, three, three, mesh, capsys, command="run")
    assert status == 2 and "a mesh of 2-D cells; expected a mesh of this 3-D geometry" in err
    # a user's mesh is geometry.file, used as it is: [mesh] keys are refused, not ignored
    block = Path(__file__).resolve().parent.parent / "meshes" / "block_anode_case.toml"
    user = tomllib.loads(block.read_text())
    user["geometry"]["file"] = str(block.parent / user["geometry"]["file"])
    for key, value in (("file", str(mesh)), ("growth", 0.05)):
        user["mesh"] = {key: value}
        assert main(["check", str(write_toml(tmp_path / "user.toml", user))]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"anodesim: error: mesh.{key} = ") and len(err.splitlines()) == 1
        assert "expected no [mesh] keys with geometry.kind = 'user_mesh'" in err


#: Mounts and an imaging geometry of magnification 25 with 96 µm pixels.
DRIFT = {"mounts": {"cooled_end": {"type": "clamped"}},
         "drift": {"view_direction": [1.0, 0.0, 1.0], "source_object_mm": 20.0,
                   "source_detector_mm": 500.0, "pixel_size_um": 96.0}}


def test_drift_limit_in_pixels_converts_to_source_micrometres():
    """drift_px: image drift (M − 1) δ⊥ / pixel, so δ⊥ = px × pixel / (M − 1) at the source."""
    drift = DRIFT
    case = from_dict(reflection(limits={"drift_px": 0.5, "spot_C": 2500.0}, **drift))
    assert case.limits.drift_um == pytest.approx(0.5 * 96.0 / 24.0)
    assert case.limits.spot_K == pytest.approx(2773.15)
    with pytest.raises(CaseError, match="not both"):
        from_dict(reflection(limits={"drift_px": 0.5, "drift_um": 1.0}, **drift))


@pytest.mark.parametrize("imaging", [
    {"source_detector_mm": 500.0},  # M = 25
    {"source_detector_mm": None, "magnification": 25.0},
    {"source_detector_mm": 20.02, "pixel_size_um": 0.1},  # M = 1.001, the smallest pixel
])
def test_pixels_and_micrometres_at_the_source_convert_by_one_rule(imaging):
    """The magnification M and the source drift of one detector pixel, pixel / (M − 1), are
    DriftSettings.magnification and source_um_per_px: the case's drift_px (held as µm at
    the source), the limit's worst_px (summary.json), `check`'s figures line, drift.png's
    pixel axis and the run's drift map (drift.DriftMap, image_drift_px) agree with them: a
    drift of source_um_per_px µm across the view is 1 px on the detector, to 1e-12."""
    from anodesim import drift as drift_mod
    from anodesim.cli.check import figures
    from anodesim.limits import LimitCheck, drift_limit
    from anodesim.run_folder import _px_per_um

    case = from_dict(reflection(limits={"drift_px": 0.5},
                                **merge(DRIFT, {"drift": imaging})))
    d = case.mechanics.drift
    M = d.source_detector_m / d.source_object_m
    assert d.magnification == M
    assert d.source_um_per_px() == pytest.approx(d.pixel_m * 1e6 / (M - 1.0), rel=1e-15)
    assert case.limits.drift_um == pytest.approx(0.5 * d.source_um_per_px(), rel=1e-15)
    lim = drift_limit(case)
    assert lim.magnification == M
    at_limit = LimitCheck(lim, worst=lim.value, time_s=0.0).to_dict()
    assert at_limit["worst_px"] == pytest.approx(0.5, rel=1e-12)
    view = np.array(d.view_direction)
    across = np.cross(view, [0.0, 1.0, 0.0])
    dmap = drift_mod.DriftMap.create(d.beam_direction or (0.0, 0.0, -1.0), (0.0, 0.0, 1.0),
                                     view, d.source_object_m, d.source_detector_m, d.pixel_m)
    shift = across / np.linalg.norm(across) * d.source_um_per_px() * 1e-6
    assert dmap.apply_shift(shift)["image_drift_px"] == pytest.approx(1.0, rel=1e-12)
    # drift.png's second axis (pixels per µm), from the run's case record
    assert _px_per_um(case.to_dict()) == pytest.approx(1.0 / d.source_um_per_px(), rel=1e-12)
    (line,) = [x for x in figures(case, SimpleNamespace(
        spot=SimpleNamespace(layers=[], deposition=""), p_dep=1.0, eta=0.0, zone_depth=0.0))
        if x.startswith("magnification")]
    assert f"is {d.source_um_per_px():.3g} µm of spot drift" in line


def test_a_drift_limit_in_pixels_is_listed_as_the_pixels_given():
    """limits.drift_px = 0.5 on a magnification-25, 96 µm-pixel geometry is held as 2 µm at
    the source; rating.json's limit listing (definition), a run's check (summary.json) and
    its console table show the 0.5 px the user gave beside it, with M and the pixel that
    convert it (they showed 2 µm with origin "case", the pixels nowhere). A limit given in
    µm stays as it was, and a case without drift_px keeps its hash (no new key)."""
    from anodesim.cli.run import limits_table
    from anodesim.limits import LimitCheck, limits_for
    from anodesim.materials import get

    mats = {"target": get("W"), "heat_sink": get("Cu")}
    case = from_dict(reflection(limits={"drift_px": 0.5}, **DRIFT))
    (lim,) = [x for x in limits_for(case, mats) if x.name == "drift"]
    d = lim.definition()
    assert d["limit_um"] == pytest.approx(0.5 * 96.0 / 24.0, rel=1e-12)
    assert (d["limit_px"], d["magnification"], d["pixel_size_um"]) == (0.5, 25.0, 96.0)
    assert d["origin"] == ("case: limits.drift_px = 0.5 px on the detector, 2 µm at the "
                           "source (px × 96 µm pixel / (M − 1), magnification M = 25)")
    check = LimitCheck(lim, worst=3.0, time_s=1.0)  # 3 µm at the source: 3 × 24 / 96 px
    assert check.to_dict()["worst_px"] == pytest.approx(0.75, rel=1e-12)
    assert check.to_dict()["limit_px"] == 0.5
    assert "(limits.drift_px = 0.5 px on the detector, worst 0.75 px; M = 25, pixel 96 µm)" \
        in limits_table([check])[-1]
    um = from_dict(reflection(limits={"drift_um": 2.0}, **DRIFT))
    (plain,) = [x for x in limits_for(um, mats) if x.name == "drift"]
    assert plain.definition() == {"limit": "drift", "label": "drift",
                                  "column": "drift_across_view_um", "unit": "um",
                                  "limit_um": 2.0, "origin": "case"}
    assert "drift_px" not in um.to_dict()["limits"]
    # the pixel as given: 100 µm, not the 99.99999999999999 of its trip through metres
    hundred = merge(DRIFT, {"drift": {"pixel_size_um": 100.0}})
    (lim,) = [x for x in limits_for(from_dict(reflection(limits={"drift_px": 3.0}, **hundred)),
                                    mats) if x.name == "drift"]
    assert lim.definition()["pixel_size_um"] == 100.0 and "100 µm pixel" in lim.origin


@pytest.mark.parametrize("value", [0.0, 1.5])
def test_magnification_limit_outside_its_range_names_the_range(value):
    """limits.magnification_change_rel is taken in (0, 1]; 1.5 was refused as "expected a
    positive relative magnification change", which it is."""
    with pytest.raises(CaseError, match=rf"^limits.magnification_change_rel = {value}: expected "
                       r"a relative magnification change in \(0, 1\] \(e.g. 1e-5\)$"):
        from_dict(reflection(limits={"magnification_change_rel": value}, **DRIFT))
    case = from_dict(reflection(limits={"magnification_change_rel": 1.0}, **DRIFT))
    assert case.limits.magnification_change_rel == 1.0


def test_segments_schedule_is_the_one_source_of_beam_power():
    """A segments schedule sets the beam power: the beam's power may be left out (it becomes
    the highest segment power), and a different one given beside it is a one-line error."""
    segs = {"kind": "segments", "duration_s": None,
            "segment": [{"duration_s": 0.1, "power_W": 5.0}, {"duration_s": 0.1, "power_W": 2.0}]}
    case = anodesim.from_dict(reflection(beam={"power_W": None}, loading=segs))
    assert case.beam.power_W == 5.0
    assert case.loading.segments == ((0.1, 5.0), (0.1, 2.0))
    same = anodesim.from_dict(reflection(beam={"power_W": 5.0}, loading=segs))
    assert same.hash() == case.hash()
    with pytest.raises(CaseError, match=r"^beam.power_W = 10.0: expected no beam power beside "
                       r"a segments schedule, or its highest segment power \(5 W\)"):
        anodesim.from_dict(reflection(loading=segs))
    with pytest.raises(CaseError, match=r"beam.current_mA = 0.2: .*\(5 W\)"):
        anodesim.from_dict(reflection(beam={"power_W": None, "current_mA": 0.2}, loading=segs))
    with pytest.raises(CaseError, match=r"found neither"):
        anodesim.from_dict(reflection(beam={"power_W": None}))


@pytest.mark.parametrize("data, message", [
    (lambda: transmission(mounts={"rim": {"type": "clamped"}}, limits={"yield_use": 1.0}),
     "limits.yield_use = 1: the window material 'diamond' has no yield strength (none: "
     "brittle"),
    (lambda: block(mounts={"far_field": {"type": "clamped"}}, limits={"yield_use": 1.0}),
     "limits.yield_use = 1: the yield use is that of the heat sink near its joint; a block "
     "geometry has one region; expected no yield_use limit"),
])
def test_a_yield_limit_no_run_can_check_is_refused(data, message):
    """A diamond window (no yield strength) or a one-region block computes no yield use: the
    run left limits.yield_use out of the limits in force and exited 0 as if it held."""
    with pytest.raises(CaseError) as e:
        from_dict(data())
    assert message in str(e.value)


def test_a_probe_on_a_perfect_joint_or_just_off_a_split_one_is_taken():
    """Only a split interface (a conductance) refuses a probe on it: on a perfect contact
    the temperature is one; 1 µm off the split one (the shipped insert's insert_bottom
    probe, 0.999 mm) is inside the W. The buried rim (r = insert radius) is refused too."""
    from anodesim.resolve import check_probes_inside

    on_joint = {"joint": {"r_mm": 0.0, "depth_mm": 1.0}}
    check_probes_inside(from_dict(reflection(probes=on_joint)))
    split = {"interfaces": {"target_heat_sink": {"conductance_W_m2K": 1e6}}}
    check_probes_inside(from_dict(reflection(
        probes={"w_side": {"r_mm": 0.0, "depth_mm": 0.999}}, **split)))
    with pytest.raises(CaseError, match="probes.rim: .* lies on the interface target_heat_sink"):
        check_probes_inside(from_dict(reflection(
            probes={"rim": {"r_mm": 1.0, "depth_mm": 0.5}}, **split)))
