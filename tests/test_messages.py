"""Input messages a new user meets: a mistyped key names the key meant (other letter case,
another unit, a near spelling) instead of calling the intended one missing; a case file given
to `sweep` or a study given to `run` says what it is; under MPI only rank 0 prints."""

import json
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cases import block, files_of, merge, reflection, reflection_3d, transmission
from test_case import write_toml

from anodesim.case import CaseError, from_dict
from anodesim.cli import main

STUDIES = Path(__file__).resolve().parents[1] / "studies"
MPIRUN = shutil.which("mpirun", path=str(Path(sys.executable).parent)) or shutil.which("mpirun")


def renamed(section: str | None, old: str, new: str) -> dict:
    d = reflection()
    table = d if section is None else d[section]
    table[new] = table.pop(old)
    return d


@pytest.mark.parametrize("case, message", [
    (renamed("beam", "fwhm_um", "fwhm_mm"),
     "beam.fwhm_mm: unknown key (did you mean 'fwhm_um'? units are part of key names)"),
    (renamed("beam", "voltage_kV", "voltage_kv"),
     "beam.voltage_kv: unknown key (did you mean 'voltage_kV'? names are case-sensitive)"),
    (renamed(None, "beam", "Beam"),
     "Beam: unknown key (did you mean 'beam'? names are case-sensitive)"),
    # a near spelling could be another valid key not read yet: the required one is missing,
    # and the key spelt like it is named
    (renamed("beam", "voltage_kV", "volt_kV"), "beam.voltage_kV: missing; expected a tube "
     "voltage in kV, 1 to 1000 "
     "(the table has 'volt_kV', not a key read so far: a misspelling of 'voltage_kV'?)"),
])
def test_a_mistyped_required_key_is_unknown_not_missing(case, message):
    with pytest.raises(CaseError) as e:
        from_dict(case)
    assert str(e.value).startswith(message)


def test_a_misspelt_name_is_not_called_another_unit_and_a_misspelt_table_is_named():
    """"cooled_edn" was "cooled_end" in another unit (any short suffix counted as one), and
    a misspelt required table ([loadng]) was only "loading: missing"."""
    d = reflection()
    d["boundaries"]["cooled_edn"] = d["boundaries"].pop("cooled_end")
    with pytest.raises(CaseError) as e:
        from_dict(d)
    assert str(e.value).startswith("boundaries.cooled_edn: unknown face (did you mean "
                                   "'cooled_end'?); expected one of:"), str(e.value)
    d = reflection()
    d["loadng"] = d.pop("loading")
    with pytest.raises(CaseError) as e:
        from_dict(d)
    assert str(e.value) == ("loading: missing; expected a table [loading] (the file has "
                            "'loadng', not a key read so far: a misspelling of 'loading'?)")


def test_a_case_file_with_a_byte_order_mark_is_read(tmp_path, capsys):
    """A UTF-8 file with a byte-order mark (as Windows editors save it): "not valid TOML
    (Invalid statement (at line 1, column 1))", exit 2, on a file that looks right."""
    path = tmp_path / "c.toml"
    path.write_bytes(b"\xef\xbb\xbf" + (STUDIES / "reflection_insert.toml").read_bytes())
    assert main(["check", str(path)]) == 0, capsys.readouterr().err


def test_an_optional_key_in_another_unit_gets_the_unit_hint():
    d = reflection()
    d["initial"]["temperature_K"] = 300.0
    del d["initial"]["temperature_C"]
    with pytest.raises(CaseError, match=r"initial.temperature_K: unknown key \(did you mean "
                                        r"'temperature_C'\? units are part of key names\)"):
        from_dict(d)


def test_case_and_study_files_in_the_wrong_command(tmp_path, capsys):
    case = write_toml(tmp_path / "case.toml", block())
    assert main(["sweep", str(case), "-o", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "this is a case file, not a study" in err
    assert main(["run", str(STUDIES / "spot_power" / "study.toml"), "-o",
                 str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "this is a study file" in err
    assert not (tmp_path / "s").exists() and not (tmp_path / "r").exists()


@pytest.mark.mpi
@pytest.mark.skipif(MPIRUN is None, reason="no mpirun found next to the interpreter or on PATH")
def test_only_rank_0_prints(tmp_path):
    path = write_toml(tmp_path / "c.toml", block())
    r = subprocess.run([MPIRUN, "-n", "2", sys.executable, "-m", "anodesim", "run", str(path),
                        "-o", str(tmp_path / "out")], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("peak temperature") == 1 and r.stderr.count("anodesim ") == 1


def test_run_into_a_folder_of_an_earlier_run(tmp_path, capsys):
    """A folder holding an earlier run is refused (exit 2, untouched) unless --overwrite,
    which removes the earlier run's files first (no stale plot beside the new results), and
    only those: the user's own files in the folder (the case file itself, notes) stay. It
    used to remove the whole folder, and the run then failed on its own deleted case file."""
    out = tmp_path / "out"
    out.mkdir()
    # the case file inside its run folder, under the name of the copy a run keeps there
    path = write_toml(out / "case.toml", block())
    notes = out / "notes.txt"
    notes.write_text("mine")
    swap = out / ".case.toml.swp"  # an editor's, not an interrupted atomic write
    swap.write_text("vim")
    assert main(["run", str(path), "-o", str(out), "-q"]) == 0
    from anodesim.run_folder import RUN_FILES

    # what --overwrite removes covers what a run wrote (the user's three files aside)
    assert {p.name for p in out.iterdir()} - {"case.toml", "notes.txt", swap.name} <= RUN_FILES
    stale = out / "drift.png"  # a figure an earlier run with a drift map drew
    stale.write_bytes(b"old")
    (out / "fields.bp.partial").mkdir()  # an interrupted run's unfinished field folder
    (out / ".timeseries.csv.k3j9x2ab").write_text("half")  # an interrupted atomic write
    (out / "mesh.tmp.msh").write_text("half")  # gmsh's unfinished write
    before = (out / "summary.json").read_bytes()
    capsys.readouterr()
    assert main(["run", str(path), "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "holds an earlier run (summary.json)" in err
    assert (out / "summary.json").read_bytes() == before and stale.exists()
    assert main(["run", str(path), "-o", str(out), "-q", "--overwrite"]) == 0
    assert not stale.exists() and (out / "summary.json").is_file()
    assert not (out / "fields.bp.partial").exists()
    assert not (out / ".timeseries.csv.k3j9x2ab").exists() and not (out / "mesh.tmp.msh").exists()
    assert path.is_file() and notes.read_text() == "mine" and swap.read_text() == "vim"
    # a mesh of the earlier run reused by the next (mesh.file, README): read, not removed
    reuse = block()
    reuse["mesh"] = {**reuse.get("mesh", {}), "file": str(out / "mesh.msh")}
    path2 = write_toml(tmp_path / "reuse.toml", reuse)
    assert main(["run", str(path2), "-o", str(out), "-q", "--overwrite"]) == 0
    assert (out / "mesh.msh").is_file() and (out / "mesh.json").is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["run", str(path), "-o", str(empty), "-q"]) == 0  # an empty folder is fine


def test_bad_input_found_while_setting_up_leaves_an_earlier_run_as_it_was(tmp_path, capsys):
    """run --overwrite removed the earlier run's files before the new run was set up: a
    case whose bad input shows only then (a mesh.file that cannot be read) exited 2 with
    the earlier results gone. They are now set aside until the set-up is done and brought
    back for bad input: the folder is as it was, byte for byte, with nothing hidden left."""
    out = tmp_path / "out"
    path = write_toml(tmp_path / "c.toml", block())
    assert main(["run", str(path), "-o", str(out), "-q"]) == 0
    (out / "notes.txt").write_text("mine")
    shutil.copy(out / "mesh.json", tmp_path / "cut.json")  # its description, a cut mesh
    (tmp_path / "cut.msh").write_bytes((out / "mesh.msh").read_bytes()[:2000])
    before = files_of(out)
    bad = block()
    bad["mesh"] = {**bad.get("mesh", {}), "file": str(tmp_path / "cut.msh")}
    capsys.readouterr()
    assert main(["run", str(write_toml(tmp_path / "bad.toml", bad)), "-o", str(out), "-q",
                 "--overwrite"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot read it as a gmsh mesh" in err, err
    after = files_of(out)
    assert after == before and "summary.json" in {str(p) for p in after}
    assert main(["run", str(path), "-o", str(out), "-q", "--overwrite"]) == 0  # still works
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("failure", ["disk full", "internal error", "a file that will not move"])
def test_a_new_run_that_stops_without_a_result_leaves_the_earlier_one(tmp_path, capsys,
                                                                    monkeypatch, failure):
    """run --overwrite whose new run stops before it has a summary for any reason, not only
    bad input or a signal (a full disk, an internal error), or whose earlier files cannot
    all be moved aside (one busy: a mount, a file open on a share): the earlier run is as
    it was, byte for byte, nothing hidden left (it was deleted with its hidden folder:
    the reviewer's full disk left only a truncated mesh.msh)."""
    import errno

    from anodesim import run_folder, simulation

    out = tmp_path / "out"
    path = write_toml(tmp_path / "c.toml", block())
    assert main(["run", str(path), "-o", str(out), "-q"]) == 0
    (out / "notes.txt").write_text("mine")
    before = files_of(out)

    def stops(case, out_dir, **kw):
        (Path(out_dir) / "mesh.msh").write_text("the new run's first file")
        if failure == "disk full":
            raise OSError(errno.ENOSPC, "No space left on device")
        raise RuntimeError("something unforeseen")

    if failure == "a file that will not move":
        real = Path.rename

        def busy(self, target):
            if self.name == "timeseries.csv":
                raise OSError(errno.EBUSY, "Device or resource busy", str(self))
            return real(self, target)

        monkeypatch.setattr(Path, "rename", busy)
    else:
        monkeypatch.setattr(simulation, "run", stops)
    capsys.readouterr()
    assert main(["run", str(path), "-o", str(out), "-q", "--overwrite"]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    monkeypatch.undo()
    after = files_of(out)
    assert after == before
    assert not [p for p in out.iterdir() if p.name.startswith(run_folder.ASIDE_PREFIX)]


def test_the_api_overwrite_keeps_the_earlier_run_until_the_new_one_has_a_result(tmp_path):
    """anodesim.run(case, out, overwrite=True) deleted the earlier run before setting up
    (reviewer: a mesh.file cut short raised CaseError and left the folder empty), where the
    command line sets it aside: it does so too now."""
    import anodesim
    from anodesim.case import CaseError

    out = tmp_path / "out"
    anodesim.run(block(), out)
    before = files_of(out)
    (tmp_path / "cut.msh").write_bytes((out / "mesh.msh").read_bytes()[:2000])
    shutil.copy(out / "mesh.json", tmp_path / "cut.json")
    bad = block()
    bad["mesh"] = {**bad.get("mesh", {}), "file": str(tmp_path / "cut.msh")}
    with pytest.raises(CaseError, match="cannot read it as a gmsh mesh"):
        anodesim.run(bad, out, overwrite=True)
    after = files_of(out)
    assert after == before
    anodesim.run(block(), out, overwrite=True)  # a good one replaces it, nothing hidden left
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_a_rating_that_cannot_be_written_leaves_the_earlier_one(tmp_path, capsys,
                                                              monkeypatch):
    """rate --overwrite removed the earlier rating before writing the new one: a failure
    or a SIGKILL while the new files were written (seconds of figures) lost both
    (reviewer). The new files are written into a hidden folder first and moved in by
    renames: a failure leaves the earlier rating byte for byte, nothing hidden left."""
    import errno
    import importlib

    from cases import reflection

    rate_mod = importlib.import_module("anodesim.rating.rate")
    # a lean mesh: the files written and kept are under test, not the rating's numbers
    path = write_toml(tmp_path / "c.toml", reflection(materials={"properties": "constant"},
                                                      mesh={"growth": 0.3,
                                                            "spot_fraction": 0.2}))
    out = tmp_path / "r"
    assert main(["rate", str(path), "--chart", "continuous", "--no-confirm", "-o", str(out),
                 "-q"]) == 0
    before = files_of(out)
    real = rate_mod.write

    def fails(rating, folder):
        real(rating, folder)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rate_mod, "write", fails)
    capsys.readouterr()
    assert main(["rate", str(path), "--chart", "continuous", "--no-confirm", "-o", str(out),
                 "-q", "--overwrite"]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    after = files_of(out)
    assert after == before and not [p for p in out.iterdir() if p.name.startswith(".")]
    monkeypatch.undo()
    assert main(["rate", str(path), "--chart", "continuous", "--no-confirm", "-o", str(out),
                 "-q", "--overwrite"]) == 0
    assert (out / "rating.json").exists() and not [p for p in out.iterdir()
                                                    if p.name.startswith(".")]


def test_a_mesh_gmsh_could_not_write_whole_is_not_kept(tmp_path, capsys, monkeypatch):
    """gmsh reports a failed write (a full disk) on its terminal only: the file cut short
    was renamed to mesh.msh (reviewer: 151 552 bytes on a full tmpfs). It is checked: one
    line, exit 1, no mesh.msh."""
    import gmsh

    def cut_short(path):
        Path(path).write_text("$MeshFormat\n4.1 0 8\n$EndMeshFormat\n$Nodes\n1 2 3\n")

    monkeypatch.setattr(gmsh, "write", cut_short)
    out = tmp_path / "out"
    assert main(["run", str(write_toml(tmp_path / "c.toml", block())), "-o", str(out),
                 "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "could not write the whole mesh" in err, err
    assert not (out / "mesh.msh").exists() and not (out / "mesh.tmp.msh").exists()


def test_an_earlier_run_left_aside_by_a_killed_overwrite_is_put_back(tmp_path, capsys):
    """run --overwrite killed with SIGKILL (the out-of-memory killer, SLURM, a crash) while
    the earlier run was set aside: the folder held the new run's first files and a hidden
    folder nothing mentioned (report: "holds no anodesim run"). The next run puts the
    earlier run back (saying so) when the new one has no summary, and removes the hidden
    folder when it has one."""
    from anodesim import run_folder

    out = tmp_path / "out"
    path = write_toml(tmp_path / "c.toml", block())
    assert main(["run", str(path), "-o", str(out), "-q"]) == 0
    (out / "notes.txt").write_text("mine")
    before = files_of(out)
    aside = run_folder.aside_folder(out)  # what the killed run left
    run_folder.set_aside_run(out, aside)
    (out / "mesh.tmp.msh").write_text("the killed run's unfinished mesh")
    capsys.readouterr()
    assert main(["run", str(path), "-o", str(out)]) == 2  # without --overwrite: refused
    err = capsys.readouterr().err
    assert "put back the earlier run that an interrupted run --overwrite had set aside" in err
    after = files_of(out)
    assert after == before
    # a hidden folder beside a run that stood: removed
    stale = run_folder.aside_folder(out)
    (stale / "summary.json").write_text("{}")
    assert main(["run", str(path), "-o", str(out), "--overwrite", "-q"]) == 0
    assert not stale.exists()


def test_a_folder_holds_one_kind_of_result(tmp_path, capsys):
    """`run` and `rate` refuse a folder holding another kind of result (exit 2, untouched):
    a rating written over a run replaced its case.toml and left a report mixing the two
    (found by a tester, 2026-12-04). `rate` over an earlier rating needs --overwrite, which
    removes that rating's files first (no stale chart beside the new ones). The Python API
    does the same (overwrite=True)."""
    import anodesim

    path = write_toml(tmp_path / "c.toml", block())
    run_dir, rating, study = tmp_path / "run", tmp_path / "rating", tmp_path / "study"
    assert main(["run", str(path), "-o", str(run_dir), "-q"]) == 0
    rate = ["rate", str(path), "--chart", "continuous", "--no-confirm", "-q", "-o"]
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    capsys.readouterr()
    for args, what in [(rate + [str(run_dir)], "holds a run (summary.json)"),
                       (rate + [str(run_dir), "--overwrite"], "holds a run (summary.json)")]:
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and what in err, err
    assert {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()} == before
    assert main(rate + [str(rating)]) == 0
    stale = rating / "rating_single.png"  # a chart only an earlier rating drew
    stale.write_bytes(b"old")
    assert main(rate + [str(rating)]) == 2
    assert "holds an earlier rating (rating.json)" in capsys.readouterr().err
    assert stale.exists()
    assert main(rate + [str(rating), "--overwrite"]) == 0
    assert not stale.exists() and (rating / "rating.json").is_file()
    assert (rating / "case.toml").read_text() == path.read_text()
    assert main(["run", str(path), "-o", str(rating), "-q", "--overwrite"]) == 2
    assert "holds a rating (rating.json)" in capsys.readouterr().err
    study.mkdir()
    (study / "study.json").write_text("{}")
    assert main(["run", str(path), "-o", str(study), "-q"]) == 2
    assert "holds a study (study.json)" in capsys.readouterr().err
    assert sorted(p.name for p in study.iterdir()) == ["study.json"]
    # the Python API
    with pytest.raises(anodesim.CaseError, match="overwrite=True"):
        anodesim.run(path, run_dir)
    with pytest.raises(anodesim.CaseError, match="holds a rating"):
        anodesim.run(path, rating, overwrite=True)
    with pytest.raises(anodesim.CaseError, match="holds a run"):
        anodesim.rate(path, run_dir, charts=("continuous",), confirm=False)
    stale = run_dir / "drift.png"  # a transient run's with a drift map, not this steady one's
    stale.write_bytes(b"old")
    own = run_dir / "case.toml"  # run again from the folder's own copy of its case
    own.write_text(path.read_text())
    anodesim.run(own, run_dir, overwrite=True)
    assert not stale.exists() and (run_dir / "summary.json").is_file()
    assert own.read_text() == path.read_text()  # an input: never removed


def test_a_broken_limit_speaks_up(tmp_path, capsys):
    """A run that breaks a limit prints the limits table with the broken one marked, one
    line naming it, and exits 3; --no-fail-on-limits exits 0 with the same line."""
    path = write_toml(tmp_path / "c.toml", block(limits={"spot_C": 1.0}))
    assert main(["run", str(path), "-o", str(tmp_path / "a")]) == 3
    err = capsys.readouterr().err
    table = [ln for ln in err.splitlines() if ln.strip().startswith("spot ")]
    assert len(table) == 1 and table[0].rstrip().endswith("BROKEN")
    last = err.strip().splitlines()[-1]
    assert last.startswith("anodesim: limit broken: spot reached") and "exit status 3" in last
    # the limit carries its unit ("(limit 0.25)" said nothing of an erosion budget in µm)
    assert "(limit 1 °C)" in last
    summary = (tmp_path / "a" / "summary.json").read_text()
    assert '"holds": false' in summary  # the results are written all the same
    assert main(["run", str(path), "-o", str(tmp_path / "b"), "-q", "--no-fail-on-limits"]) == 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("anodesim: limit broken: spot")


@pytest.mark.parametrize("given", [{"period_s": 0.1}, {"duty_cycle": 0.5},
                                   {"period_s": 0.1, "duty_cycle": 0.5}])
def test_keys_that_exclude_each_other_say_so(given):
    loading = {"kind": "pulse_train", "duration_s": None, "pulses": 3, "on_s": 0.01,
               "off_s": 0.02, **given}
    first = next(iter(given))
    with pytest.raises(CaseError, match=re.escape(
            f"loading.{first}: given together with loading.on_s; expected either on_s and "
            "off_s, or period_s and duty_cycle (they exclude each other)")):
        from_dict(reflection(loading=loading))


@pytest.mark.parametrize("change, message", [
    ({"beam": {"power_W": 0.0}}, "beam.power_W = 0.0: expected a beam power above 0"),
    ({"beam": {"power_W": None, "current_mA": 0.0}},
     "beam.current_mA = 0.0: expected a beam power above 0"),
    ({"beam": {"power_W": None}, "loading": {"kind": "segments", "duration_s": None,
                                             "segment": [{"duration_s": 1.0, "power_W": 0.0}]}},
     "loading.segment: every segment has power_W = 0"),
])
def test_a_beam_without_power_is_refused(change, message):
    with pytest.raises(CaseError, match=re.escape(message)):
        from_dict(reflection(**change))


def test_pauses_inside_a_schedule_stay_valid():
    case = from_dict(reflection(beam={"power_W": None}, loading={
        "kind": "segments", "duration_s": None,
        "segment": [{"duration_s": 1.0, "power_W": 0.0}, {"duration_s": 1.0, "power_W": 5.0}]}))
    assert case.beam.power_W == 5.0


def _refused_by_check_and_run(tmp_path, capsys, change, message) -> None:
    """The reflection insert (with a probe) changed by change(d): check and run each give
    one line with message, exit 2, and run writes no folder."""
    d = reflection()
    d["probes"] = {"below_spot": {"r_mm": 0.0, "depth_mm": 0.05}}
    change(d)
    _case_refused(tmp_path, capsys, d, message)


def _case_refused(tmp_path, capsys, d: dict, message: str) -> None:
    """check and run of the case d each give one line with message, exit 2, and run writes
    no folder."""
    path = write_toml(tmp_path / "c.toml", d)
    for cmd in (["check", str(path)], ["run", str(path), "-o", str(tmp_path / "out"), "-q"]):
        assert main(cmd) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("change, message", [
    # a probe named "peak" wrote a second T_peak_C column, and the summary, the console and
    # the spot limit read the probe's 32 °C instead of the spot's 889 °C (exit 0, not 3)
    (lambda d: d["probes"].update(peak=d["probes"].pop("below_spot")),
     "probes = 'peak': expected a probe name other than \"peak\" and \"coolant\" and not "
     "starting with \"max_\" (T_peak_C is a column of its own)"),
    (lambda d: d["probes"].update(max_target=d["probes"].pop("below_spot")),
     "probes = 'max_target': expected a probe name other than \"peak\""),
    (lambda d: d["probes"].update(coolant=d["probes"].pop("below_spot")),  # a circuit's column
     "probes = 'coolant': expected a probe name other than \"peak\""),
    # 0.5 was accepted and the elastic solve failed inside (an internal error, or with -q
    # a run "complete" without its drift and stress columns); 0.7 was "not positive"
    (lambda d: d["materials"].update(override={"target": {"nu_1": 0.5}}),
     "materials.override.target.nu_1 = 0.5: expected a Poisson ratio in (0, 0.5)"),
    (lambda d: d["materials"].update(override={"target": {"nu_1": 0.7}}),
     "materials.override.target.nu_1 = 0.7: expected a Poisson ratio in (0, 0.5)"),
    # exit 0 with numpy's overflow warning, and summary.json's deposited energy Infinity
    (lambda d: d["loading"].update(duration_s=1e308),
     "loading.duration_s = 1e+308: expected a duration in s from 1e-12 to 1e+06 (11.6 days)"),
    (lambda d: d.update(loading={"kind": "pulse_train", "pulses": 3, "on_s": 1e-300,
                                 "off_s": 0.01}),
     "loading.on_s = 1e-300: expected a pulse length in s from 1e-12 to 1e+06"),
    (lambda d: d.update(loading={"kind": "pulse_train", "pulses": 3, "on_s": 0.01,
                                 "off_s": 1e7}),
     "loading.off_s = 10000000.0: expected a pause in s from 1e-12 to 1e+06 (11.6 days), or 0"),
    (lambda d: d.update(loading={"kind": "pulse_train", "pulses": 3, "period_s": 1e300,
                                 "duty_cycle": 0.5}),
     "loading.period_s = 1e+300: expected a period in s from 1e-12 to 1e+06 (11.6 days) (or "
     "give on_s and off_s)"),
    (lambda d: d.update(loading={"kind": "pulse_train", "pulses": 3, "on_s": 0.01,
                                 "off_s": 0.01, "cool_down_s": 1e308}),
     "loading.cool_down_s = 1e+308: expected a cooling time in s from 1e-12"),
    (lambda d: d.update(rating={"exposure_s": [1e-3, 1e308]}),
     "rating.exposure_s = [0.001, 1e+308]: expected [shortest, longest] loading times in s up "
     "to 1e+06"),
])
def test_inputs_that_passed_and_gave_wrong_or_broken_results(tmp_path, capsys, change, message):
    """Bad input found by an audit of the command line (2026-12-04) that check accepted:
    now one line naming the key, the value and what was expected, exit 2, nothing written."""
    _refused_by_check_and_run(tmp_path, capsys, change, message)


CIRCUIT = {"coolant_circuit": {"heat_capacity_J_per_K": 50.0,
                               "cooler_conductance_W_per_K": 0.5, "ambient_C": 30.0},
           "boundaries": {"cooled_end": {"type": "convection", "h_W_m2K": 5000.0,
                                         "temperature_C": None, "coolant_circuit": True}}}
DATA = ("expected a temperature within every material's data, at most its melting point "
        "(W: -23.15 to 3421.85 °C, Cu: -23.15 to 1084.65 °C)")


@pytest.mark.parametrize("change, message", [
    # check: "run failed" (exit 1, which check never gives) for W.k's table; run: exit 1
    ({"initial": {"temperature_C": -100.0}},
     f"initial.temperature_C = -100: outside the data of W, Cu; {DATA}"),
    # check: valid; run: failed at its first step (exit 1), a partial folder left
    ({"initial": {"temperature_C": 1100.0}},
     f"initial.temperature_C = 1100: above the melting point of Cu (1084.65 °C); {DATA}"),
    ({"boundaries": {"cooled_end": {"type": "fixed", "temperature_C": 1200.0,
                                    "h_W_m2K": None}}},
     "boundaries.cooled_end.temperature_C = 1200: above the melting point of Cu (1084.65 °C); "
     + DATA),
    ({"boundaries": {"cooled_end": {"temperature_C": -250.0}}},
     f"boundaries.cooled_end.temperature_C = -250: outside the data of W, Cu; {DATA}"),
    ({"boundaries": {"anode_face": {"type": "radiation", "emissivity": 0.3,
                                    "temperature_C": -260.0}}},
     f"boundaries.anode_face.temperature_C = -260: outside the data of W, Cu; {DATA}"),
    (merge(CIRCUIT, {"coolant_circuit": {"ambient_C": -100.0}}),
     f"coolant_circuit.ambient_C = -100: outside the data of W, Cu; {DATA}"),
    (merge(CIRCUIT, {"coolant_circuit": {"initial_C": 1100.0}}),
     "coolant_circuit.initial_C = 1100: above the melting point of Cu (1084.65 °C)"),
    ({"materials": {"heat_sink": "CuCrZr"}, "initial": {"temperature_C": 1080.0}},
     "initial.temperature_C = 1080: above the solidus of CuCrZr (1075 °C); expected a "
     "temperature within every material's data, at most its melting point (W: -23.15 to "
     "3421.85 °C, CuCrZr: -23.15 to 1075 °C)"),
])
def test_temperatures_outside_the_material_data_are_refused(tmp_path, capsys, change,
                                                            message):
    """A temperature the case gives (initial, a face's, the coolant's) outside a material's
    data or above its melting point: `check` and `run` exit 2 with one line naming the key,
    and nothing is written (check said valid, or "run failed", and run exited 1)."""
    path = write_toml(tmp_path / "c.toml", reflection(**change))
    for cmd in (["check", str(path)], ["run", str(path), "-o", str(tmp_path / "out"), "-q"]):
        assert main(cmd) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "out").exists()


def test_constant_properties_take_only_the_initial_temperature_from_the_data(tmp_path, capsys):
    """With constant properties (all taken at the initial temperature) a coolant below the
    tables is valid, as the run that holds them constant finds; the initial temperature
    and the melting points still bound the input."""
    constant = {"materials": {"properties": "constant"}}
    path = write_toml(tmp_path / "c.toml", reflection(
        **constant, boundaries={"cooled_end": {"temperature_C": -250.0}}))
    assert main(["check", str(path)]) == 0
    capsys.readouterr()
    for change, message in [
        ({"initial": {"temperature_C": -100.0}},
         f"initial.temperature_C = -100: outside the data of W, Cu; {DATA}"),
        ({"boundaries": {"cooled_end": {"temperature_C": 1200.0}}},
         "boundaries.cooled_end.temperature_C = 1200: above the melting point of Cu "
         "(1084.65 °C); expected a temperature at most every material's melting point "
         "(W: 3421.85 °C, Cu: 1084.65 °C)")]:
        path = write_toml(tmp_path / "c.toml", reflection(**constant, **change))
        assert main(["check", str(path)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err


def test_a_limit_below_the_initial_temperature_is_valid_and_check_warns(tmp_path, capsys):
    """limits.heat_sink_C below the initial temperature is valid input: `run` reports the
    limit broken (exit 3, results written), so `check` says valid (exit 0) and warns that
    it will be, and that `rate` refuses the case (no positive power meets it)."""
    # a lean mesh: broken at any mesh (25 °C lies below the initial 30 °C)
    path = write_toml(tmp_path / "c.toml", reflection(limits={"heat_sink_C": 25.0},
                                                      mesh={"growth": 0.3,
                                                            "spot_fraction": 0.2}))
    assert main(["check", str(path)]) == 0
    warnings = [ln for ln in capsys.readouterr().err.splitlines() if "warning" in ln]
    assert warnings == [
        "anodesim: warning: limits.heat_sink_C = 25: at or below the initial temperature 30 °C, "
        "so no positive power can meet it: `run` reports it broken (exit status 3) and `rate` "
        "refuses the case"]
    assert main(["run", str(path), "-o", str(tmp_path / "out"), "-q"]) == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("anodesim: limit broken: heat_sink reached")
    assert (tmp_path / "out" / "summary.json").is_file()


@pytest.mark.parametrize("coolant, h, warned", [("air", 1e5, True), ("air", 250.0, False),
                                                 ("oil", 5000.0, True), ("water", 5000.0, False),
                                                 ("water", 1e5, True)])
def test_check_warns_of_an_h_its_coolant_cannot_reach(tmp_path, capsys, coolant, h, warned):
    """Forced air reaches about 250 W/m²K, oil 1500, water 30 000 (Incropera's ranges,
    physics reference §7): air at 1e5 W/m²K was valid without a word, and a run or rating
    from it as optimistic as the h. `check` stays valid (exit 0) and warns in one line."""
    path = write_toml(tmp_path / "c.toml", reflection(
        boundaries={"cooled_end": {"h_W_m2K": h, "coolant": coolant}}))
    assert main(["check", str(path)]) == 0
    warnings = [ln for ln in capsys.readouterr().err.splitlines() if "warning" in ln]
    if warned:
        assert warnings == [f"anodesim: warning: boundaries.cooled_end.h_W_m2K = {h:g} with "
                            f"coolant = \"{coolant}\": above the "
                            f"{ {'air': 250, 'oil': 1500, 'water': 30000}[coolant]} W/m²K "
                            f"forced {coolant} reaches (Incropera's ranges, physics reference "
                            "§7), so the cooling and every rating from it are likely optimistic"]
    else:
        assert warnings == []


def test_a_segments_duration_is_bounded_too():
    """As a continuous load's and a pulse train's spans (above): a [[loading.segment]]'s."""
    d = reflection(beam={"power_W": None}, loading={"kind": "segments", "duration_s": None,
                                                    "segment": [{"duration_s": 0.01,
                                                                 "power_W": 10.0},
                                                                {"duration_s": 1e308,
                                                                 "power_W": 0.0}]})
    with pytest.raises(CaseError, match=r"^loading\.segment\[1\]\.duration_s = 1e\+308: "
                       r"expected a duration in s from 1e-12 to 1e\+06 \(11\.6 days\)$"):
        from_dict(d)


@pytest.mark.parametrize("change, message", [
    # 1e-300 divided by zero in the cost estimate ("internal error")
    (lambda d: d.update(mesh={"spot_fraction": 1e-300}),
     "mesh.spot_fraction = 1e-300: expected a number in [0.001, 1]"),
    (lambda d: d.update(mesh={"joint_corner_um": -5}),
     "mesh.joint_corner_um = -5.0: expected a size in µm: 0 (no refinement), or 0.1 to 1e6"),
    # 9e18 pulses were built into a list first: 21 GB, then the out-of-memory killer
    (lambda d: d.update(loading={"kind": "pulse_train", "pulses": 9223372036854775807,
                                 "on_s": 0.01, "off_s": 0.01}),
     "loading.pulses = 9223372036854775807: expected an integer from 1 to 500,000 (a run "
     "takes at most 1,000,000 steps"),
    # 1e8 chart points: rate ran on past 90 s (1.7 s with the default 13)
    (lambda d: d.update(rating={"exposure_points": 100_000_000}),
     "rating.exposure_points = 100000000: expected an integer from 2 to 1,000"),
    # passed check, then gmsh failed with "Exception: no message" and left a folder
    (lambda d: d["geometry"].update(anode_radius_mm=1e300),
     "geometry.anode_radius_mm = 1e+300: expected a length from 1e-06 to 1000 (1 nm to 1 m)"),
    # passed check, then "faces have no area" (ValueError) after writing the mesh
    (lambda d: d["beam"].update(extra_focal_distance_mm=1e300),
     "beam.extra_focal_distance_mm = 1e+300: expected a distance in mm from 0.1 to 1000"),
    # a melting message with a 300-digit temperature
    (lambda d: d["beam"].update(power_W=1e300),
     "beam.power_W = 1e+300: expected a beam power in W, 0 to 1e+06"),
    (lambda d: (d["beam"].pop("power_W", None), d["beam"].update(voltage_kV=1000,
                                                                  current_mA=5000)),
     "beam.current_mA = 5000.0: expected a beam of at most 1e+06 W (kV x mA: 5e+06 W here)"),
    (lambda d: d["geometry"].update(housing={"inner_radius_mm": 1, "outer_radius_mm": 20,
                                             "length_mm": 1e300}),
     "geometry.housing.length_mm = 1e+300: expected a length from 1e-06 to 1000 (1 nm to 1 m)"),
    # numpy's divide-by-zero warnings (four lines), then a garbled line naming no key
    (lambda d: d.update(mounts={"cooled_end": {"type": "clamped"}},
                        drift={"view_direction": [1e-300, 0, 1e-300], "source_object_mm": 20,
                               "source_detector_mm": 500}),
     "drift.view_direction = [1e-300, 0, 1e-300]: expected a direction [x, y, z] of moderate "
     "numbers"),
])
def test_sizes_that_ran_away_are_refused_at_once(tmp_path, capsys, change, message):
    d = reflection()
    change(d)
    path = write_toml(tmp_path / "c.toml", d)
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err


def test_report_of_a_folder_with_broken_files_is_one_line(tmp_path, capsys):
    """A summary.json edited or cut short by hand: one line, exit 2 (it was a
    JSONDecodeError, KeyError or TypeError: "internal error", exit 1)."""
    for text, what in (("{not json", "summary.json is not JSON"),
                       ("{}", "summary.json has no title, case, results"),
                       ("[1, 2]", "summary.json has no title, case, results")):
        folder = tmp_path / f"f{len(text)}"
        folder.mkdir()
        (folder / "summary.json").write_text(text)
        assert main(["report", str(folder)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and what in err, err
        assert not (folder / "report.html").exists()


def test_a_schedule_file_that_is_not_text_is_one_line(tmp_path, capsys):
    schedule = tmp_path / "times.csv"
    schedule.write_bytes(b"0\n\xff\xfe1\n")
    path = STUDIES / "reflection_insert.toml"  # with [drift]
    assert main(["drift-table", str(path), "--schedule", str(schedule)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not a text file (UTF-8)" in err, err


def test_a_failed_runs_figures_add_no_warning_lines(tmp_path):
    """A run that fails in its first steps (a heat flux of 1 GW/m², the largest taken, which
    melts the Cu face in about a millisecond; 1e300 W/m² before heat fluxes were bounded, a
    conductivity of 1e300 W/m/K before overrides were held to a tube's materials' range):
    its figures of the partial results drew six lines of matplotlib UserWarning (log scale
    of no positive values) before the run's one line."""
    d = reflection()
    d["boundaries"]["side"] = {"type": "heat_flux", "q_W_m2": 1e9}
    path = write_toml(tmp_path / "c.toml", d)
    r = subprocess.run([sys.executable, "-m", "anodesim", "run", str(path), "-o",
                        str(tmp_path / "out"), "-q"], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("anodesim: run failed: ") and \
        lines[0].endswith(f"(partial results in {tmp_path / 'out'})"), r.stderr
    assert (tmp_path / "out" / "temperatures.png").is_file()  # the figures were drawn


@pytest.mark.parametrize("digits, shown", [(401, "401"), (5001, "about 5001")])
def test_an_integer_past_64_bits_in_a_script_dict_is_refused_as_in_a_file(digits, shown):
    """A file's integer past 64 bits is refused at reading (below); the same in a case dict
    built by a script reached float() in the number's check: an internal OverflowError
    (the bug hunt of 2026-12-05). Now the file's line; past 4300 digits, where str()
    refuses the integer, with its size estimated."""
    d = reflection()
    d["beam"]["power_W"] = 10 ** (digits - 1)
    with pytest.raises(CaseError) as e:
        from_dict(d)
    assert str(e.value) == (f"beam.power_W = (an integer of {shown} digits): expected a TOML "
                            "integer of 64 bits, -9223372036854775808 to 9223372036854775807 "
                            "(a larger number is a float: 1e25)")


@pytest.mark.parametrize("change, message", [
    # an integer past 64 bits (tomllib reads any length): float() overflowed in the number's
    # check, "internal error" (exit 1), in every numeric key and list
    (lambda d: d["beam"].update(voltage_kV=10 ** 400),
     "beam.voltage_kV = (an integer of 401 digits): expected a TOML integer of 64 bits, "
     "-9223372036854775808 to 9223372036854775807"),
    (lambda d: d.update(rating={"exposure_s": [1, 2 ** 64]}),
     "rating.exposure_s[1] = (an integer of 20 digits): expected a TOML integer of 64 bits"),
    # the erosion budget over the life as a recession rate no temperature of 200-8000 K
    # gives: check said "internal error" (ValueError); run wrote the mesh, fields.bp (under
    # its final name) and timeseries.csv, then "internal error", exit 1
    (lambda d: d.update(limits={"erosion_um": 1e300}),
     "limits.erosion_um = 1e+300: expected an erosion budget in µm, 1e-6 to 1000"),
    (lambda d: d.update(limits={"life_h": 1e-300}),
     "limits.life_h = 1e-300: expected a life in hours, 1e-4 to 1e7"),
    # an equivalent spot temperature of -338 °C, below absolute zero (exit 0)
    (lambda d: d.update(limits={"recrystallisation_fraction": 1e300}),
     "limits.recrystallisation_fraction = 1e+300: expected a fraction of W's "
     "recrystallisation time used over the life, 1e-12 to 1000"),
    # 1e-100 kV and a 1e-300 µm spot: divided by zero in the cost estimate, "internal error"
    (lambda d: d["beam"].update(voltage_kV=1e-100),
     "beam.voltage_kV = 1e-100: expected a tube voltage in kV, 1 to 1000"),
    (lambda d: d["beam"].update(fwhm_um=1e-300),
     "beam.fwhm_um = 1e-300: expected a spot size in µm from 0.001 (1 nm) to 1e6 (1 m)"),
    # numpy's overflow warning (two lines) before the "outside the mesh" line
    (lambda d: d["probes"]["below_spot"].update(depth_mm=1e300),
     "probes.below_spot.depth_mm = 1e+300: expected a distance in mm, 0 to 2000 (2 m)"),
])
def test_input_found_by_the_second_audit(tmp_path, capsys, change, message):
    """Bad input found by the audit of 2026-12-04 evening that gave an internal error, extra
    lines or a partial folder: one line naming the key, the value and what was expected,
    exit 2, nothing written, from `check` and from `run`."""
    _refused_by_check_and_run(tmp_path, capsys, change, message)


def test_an_integer_of_thousands_of_digits_is_one_line(tmp_path, capsys):
    """tomllib's int() refuses over 4300 digits with a ValueError ("internal error")."""
    path = tmp_path / "c.toml"
    path.write_text("[beam]\nvoltage_kV = 1" + "0" * 5000 + "\n")
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"anodesim: error: {path}: not valid TOML (a number of thousands of digits; "
                   "expected a TOML integer of 64 bits, -9223372036854775808 to "
                   "9223372036854775807)")


@pytest.mark.parametrize("schedule, message", [
    # the count overflowed int(): "internal error"
    ("0:1e308:1e-308", "--schedule = '0:1e308:1e-308': inf times; expected at most 100000"),
    # the count was printed with all its 300 digits
    ("0:0.5:1e-300", "--schedule = '0:0.5:1e-300': 5e+299 times; expected at most 100000"),
])
def test_a_schedule_of_too_many_times_is_one_short_line(tmp_path, capsys, schedule, message):
    out = tmp_path / "d.csv"
    path = STUDIES / "reflection_insert.toml"  # with [drift]
    assert main(["drift-table", str(path), "--schedule", schedule, "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"anodesim: error: {message}", err
    assert not out.exists()


@pytest.mark.parametrize("words, message", [
    # argparse took the value for an option: "argument --schedule: expected one argument"
    (["--schedule", "-1:10:1"], "--schedule: time -1 s: expected a time in [0, 10] s (the "
     "case's loading)"),
    (["--schedule", "-.5:1:1"], "--schedule: time -0.5 s: expected a time in [0, 10] s"),
    # an option after it is still an option: the value is missing
    (["--schedule", "-q"], "argument --schedule: expected one argument"),
])
def test_a_schedule_starting_with_a_minus_is_its_value(tmp_path, capsys, words, message):
    out = tmp_path / "d.csv"
    path = STUDIES / "reflection_insert.toml"
    try:
        status = main(["drift-table", str(path), *words, "-o", str(out)])
    except SystemExit as e:  # (argparse's error exits)
        status = e.code
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"anodesim: error: {message}") and "\n" not in err, err
    assert not out.exists()


def test_a_drift_table_replaces_an_earlier_table_and_no_other_file(tmp_path, capsys):
    """`drift-table case.toml -o case.toml` wrote the table over the user's case file, and
    -o onto a scan's own list of times or any other file replaced it in silence (bug hunt
    of 2026-12-05): each is one line, exit 2, the file untouched, before the run. An
    earlier drift table is replaced, as before."""
    case = tmp_path / "case.toml"
    # the shipped example on a lean mesh: the files the table may replace are under test
    shipped = (STUDIES / "reflection_insert.toml").read_text()
    lean = shipped.replace("\nspot_fraction = 0.05 ", "\nspot_fraction = 0.2 ").replace(
        "\ngrowth = 0.15 ", "\ngrowth = 0.3 ")
    assert lean.count(" = 0.2 ") > shipped.count(" = 0.2 ") and "growth = 0.3 " in lean
    case.write_text(lean)
    text = case.read_text()
    times = tmp_path / "angles.csv"
    times.write_text("time_s,angle_deg\n0,0\n5,0.5\n")
    other = tmp_path / "notes.csv"
    other.write_text("my notes\n")
    for out, what in ((case, "is the case file; expected another file name for the table"),
                      (times, "is the --schedule file; expected another file name"),
                      (other, "exists and is not a drift table anodesim wrote; expected a new "
                              "file name or an earlier drift table to replace")):
        assert main(["drift-table", str(case), "--schedule", str(times), "-o", str(out),
                     "-q"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"anodesim: error: -o {out}: {what}") and "\n" not in err, err
    assert case.read_text() == text and other.read_text() == "my notes\n"
    assert times.read_text().startswith("time_s,angle_deg")
    table = tmp_path / "table.csv"
    for _ in range(2):  # written, then replaced
        assert main(["drift-table", str(case), "--schedule", str(times), "-o", str(table),
                     "-q"]) == 0
    assert table.read_text().startswith("# anodesim drift table of ")


@pytest.fixture(scope="module")
def a_run(tmp_path_factory):
    """A finished run's summary.json and case.toml (the report's inputs)."""
    out = tmp_path_factory.mktemp("run") / "out"
    path = write_toml(out.parent / "c.toml", reflection())
    assert main(["run", str(path), "-o", str(out), "-q"]) == 0
    return out


@pytest.mark.parametrize("change, what", [
    (lambda s: s.pop("status"), "summary.json: no entry 'status' where one is read"),
    (lambda s: s["case"].update(geometry="x"),
     "summary.json: an entry not in the shape anodesim writes (string indices must be "
     "integers, not 'str')"),
    (lambda s: s["results"].update(limits=[{"limit": "spot"}]),
     "summary.json: no entry 'unit' where one is read"),
])
def test_report_of_a_summary_with_a_damaged_entry_is_one_line(tmp_path, capsys, a_run,
                                                              change, what):
    """An entry of summary.json edited or cut by hand (the top-level keys present): it was a
    KeyError or TypeError, "internal error", exit 1; now one line naming the file, exit 2,
    no report.html (rating.json's entries were checked already)."""
    folder = tmp_path / "f"
    folder.mkdir()
    s = json.loads((a_run / "summary.json").read_text())
    change(s)
    (folder / "summary.json").write_text(json.dumps(s))
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"anodesim: error: report {folder}: {what}; expected the file as anodesim " \
        "wrote it", err
    assert not (folder / "report.html").exists()


def test_report_with_a_case_toml_that_is_not_utf8(tmp_path, capsys, a_run):
    """A damaged case.toml beside the summary: UnicodeDecodeError, "internal error"; the
    report is written, the bytes shown as replacement characters."""
    folder = tmp_path / "f"
    folder.mkdir()
    shutil.copy(a_run / "summary.json", folder)
    (folder / "case.toml").write_bytes((a_run / "case.toml").read_bytes() + b"\xff\xfe\n")
    assert main(["report", "-q", str(folder)]) == 0
    assert "\ufffd" in (folder / "report.html").read_text()


@pytest.mark.parametrize("damage, message", [
    # not a table: "internal error" (AttributeError: 'list' object has no attribute ...)
    (lambda d: [1], "expected a mesh written by an anodesim run, with its description "
                    "m.json beside it"),
    # an entry of the refinement not a number: "internal error" (TypeError) in the message
    (lambda d: {**d, "refinement": {**d["refinement"], "zone_m": ["x"]}},
     "its refined zone (the spot with its electrons' lateral spread"),
])
def test_a_reused_mesh_with_a_damaged_description_is_one_line(tmp_path, capsys, a_run,
                                                              damage, message):
    """mesh.file's description (the mesh.json beside it) edited by hand: one line, exit 2."""
    shutil.copy(a_run / "mesh.msh", tmp_path / "m.msh")
    d = json.loads((a_run / "mesh.json").read_text())
    (tmp_path / "m.json").write_text(json.dumps(damage(d)))
    case = reflection()
    case["mesh"] = {**case.get("mesh", {}), "file": str(tmp_path / "m.msh")}
    assert main(["check", str(write_toml(tmp_path / "c.toml", case))]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err


def test_report_of_an_empty_folder_name_is_refused(tmp_path, capsys, monkeypatch, a_run):
    """`anodesim report ""` (an unset shell variable) reported the current folder, and wrote
    report.html there when it held a run: refused as `run -o ""` is."""
    monkeypatch.chdir(a_run)
    before = sorted(p.name for p in a_run.iterdir())
    assert main(["report", ""]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "anodesim: error: report '': expected a folder name (it fell back to the " \
        "current folder)", err
    assert sorted(p.name for p in a_run.iterdir()) == before


def test_an_output_folder_that_is_a_dangling_link_is_one_line(tmp_path, capsys):
    """-o a symbolic link to nothing (a moved results disk): "run failed: ...: File exists",
    exit 1, after the case was prepared; now bad input, one line, exit 2, nothing made."""
    link = tmp_path / "out"
    link.symlink_to(tmp_path / "gone")
    path = write_toml(tmp_path / "c.toml", block())
    shipped = STUDIES / "reflection_insert.toml"
    for cmd in (["run", str(path), "-o", str(link), "-q"],
                ["rate", str(path), "-o", str(link), "-q"],
                ["drift-table", str(shipped), "--schedule", "0:10:5", "-o", str(link / "d.csv")]):
        assert main(cmd) == 2
        err = capsys.readouterr().err.strip()
        assert err == (f"anodesim: error: -o {link}: "
                       f"{link} is a symbolic link to {tmp_path / 'gone'}, which does not "
                       "exist; expected a folder"), err
        assert not (tmp_path / "gone").exists()


def test_a_failure_after_partial_series_is_not_said_to_have_no_results(tmp_path, capsys,
                                                                        monkeypatch):
    """A failure that leaves the partial timeseries.csv but no summary.json (under MPI, a
    rank failing alone: rank 0 writes the partial series at save times, no rank writes a
    summary) has partial results: the line said 'no results: it failed before its first
    result' because it looked for summary.json alone."""
    from anodesim import simulation
    from anodesim.errors import RunFailure

    def failing(case, out, **kwargs):
        out.mkdir(parents=True, exist_ok=True)
        (out / "timeseries.csv").write_text("time_s,T_peak_C\n0.0,30.0\n0.5,812.0\n")
        raise RunFailure("the solver diverged")

    monkeypatch.setattr(simulation, "run", failing)
    path = write_toml(tmp_path / "c.toml", reflection())
    out = tmp_path / "out"
    assert main(["run", str(path), "-o", str(out), "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"anodesim: run failed: the solver diverged (partial results in {out})", err


@pytest.mark.parametrize("where, case, advice", [
    ("body", lambda: reflection(loading={"kind": "steady", "duration_s": None},
                                boundaries={"cooled_end": {"h_W_m2K": 10.0}},
                                mesh={"growth": 0.5}),
     "in the steady state at a 10 W beam; the whole body is hot (its coldest point "),
    ("joint", lambda: reflection(
        interfaces={"target_heat_sink": {"conductance_W_m2K": 100.0}},
        beam={"power_W": 600.0, "spot": "flat_top", "fwhm_um": None, "diameter_um": 1800.0,
              "deposition": "surface"}, mesh={"growth": 0.5, "spot_fraction": 0.25}),
     "at a 600 W beam; the whole target is hot (its coldest point "),
    ("circuit", lambda: reflection(
        loading={"kind": "steady", "duration_s": None}, mesh={"growth": 0.5},
        boundaries={"cooled_end": {"coolant_circuit": True, "temperature_C": None}},
        coolant_circuit={"volume_L": 1.0, "coolant": "water",
                         "cooler_conductance_W_per_K": 1e-3, "ambient_C": 30.0}),
     "the whole body is hot (its coldest point "),
    ("film joint", lambda: transmission(
        interfaces={"target_window": {"conductance_W_m2K": 1e3}},
        loading={"kind": "continuous", "duration_s": 1e-4}, mesh={"growth": 0.5}),
     "at a 5 W beam; expected a lower beam power or a larger spot, or a higher "
     "interfaces.target_window.conductance_W_m2K (now 1000)"),
    ("spot above a distant joint", lambda: reflection(
        interfaces={"target_heat_sink": {"conductance_W_m2K": 1e6}},
        beam={"power_W": 100.0, "fwhm_um": 10.0, "deposition": "surface"},
        mesh={"growth": 0.5}),
     "at a 100 W beam; expected a lower beam power or a larger spot"),
    ("spot", lambda: block(beam={"power_W": 3000.0}, mesh={"growth": 0.5}),
     "in the steady state at a 3000 W beam; expected a lower beam power or a larger spot"),
])
def test_a_melting_run_says_where_the_heat_is_held_and_what_to_change(where, case, advice):
    """A converged step that melts a region said only "target (W): ... is above the melting
    point", whether the spot melted, the whole body could not shed its power (a steady 10 W
    through h = 10 W/m²K: 35 000 °C everywhere) or an insert held its heat behind a 100
    W/m²K joint: the line now gives the time, the beam power and the change that helps."""
    from anodesim.materials import OutOfRangeError
    from anodesim.simulation import run

    with pytest.raises(OutOfRangeError) as e:
        run(from_dict(case()))
    line = str(e.value)
    assert "target (W): " in line and "is above the melting point 3695 K" in line
    assert advice in line, line
    assert {"body": "expected more cooling (a larger h_W_m2K",
            "joint": "expected a better joint (a higher interfaces.target_heat_sink."
                     "conductance_W_m2K (now 100)) or better cooling of it",
            "spot": "expected a lower beam power", "film joint": "conductance_W_m2K (now",
            "spot above a distant joint": "larger spot",
            "circuit": "a larger coolant_circuit.cooler_conductance_W_per_K"}[where] in line
    if where == "spot above a distant joint":  # its joint, 1 mm below, is not named
        assert line.endswith("expected a lower beam power or a larger spot"), line


def test_a_heat_flux_face_that_melts_the_body_is_named_not_the_beam():
    """A heat_flux face (not the beam) that melts the body was given the beam's advice,
    "expected a lower beam power or a larger spot", which does not help: a 1e9 W/m² flux on
    the rod's side melts its Cu in milliseconds under a 1 W beam. The line names that face
    and its q_W_m2. With the whole body hot, the flux is named beside the beam power."""
    from anodesim.materials import MeltingError
    from anodesim.simulation import run

    side = {"side": {"type": "heat_flux", "q_W_m2": 1e9}}
    with pytest.raises(MeltingError) as e:
        run(from_dict(reflection(beam={"power_W": 1.0}, boundaries=side, mesh={"growth": 0.5})))
    line = str(e.value)
    assert line.startswith("heat_sink (Cu): ") and "at a 1 W beam; the heat_flux face side is " \
        "where it is hottest (" in line, line
    assert line.endswith("its heat input, not the beam, melts it; expected a lower "
                         "boundaries.side.q_W_m2 (now 1e+09) or more cooling near that face"), \
        line
    assert "larger spot" not in line
    # a steady 2.8 W from the side (3e4 W/m² on its 94 mm²) through h = 10 W/m²K: all hot
    with pytest.raises(MeltingError) as e:
        run(from_dict(reflection(
            beam={"power_W": 1.0}, loading={"kind": "steady", "duration_s": None},
            boundaries={"side": {"type": "heat_flux", "q_W_m2": 3e4},
                        "cooled_end": {"h_W_m2K": 10.0}}, mesh={"growth": 0.5})))
    assert str(e.value).endswith("or a lower beam power or a lower boundaries.side.q_W_m2 "
                                 "(now 30000)"), str(e.value)


def test_a_region_above_its_solidus_is_said_so_and_given_the_melting_advice():
    """A heat sink whose melting_K is a solidus (CuCrZr, MoCu30) was said to be "above the
    melting point"; the melting advice matched that phrase, so a solidus would have lost
    it. The line names the solidus, and the failure is a MeltingError (the advice follows
    the type, not the words)."""
    from anodesim import simulation
    from anodesim.materials import MeltingError

    sim = simulation.Simulation(from_dict(reflection(materials={"heat_sink": "CuCrZr"},
                                                     mesh={"growth": 0.5})))
    sim.initialise()
    p = sim.problem
    p.T.x.array[:] = 1360.0  # above CuCrZr's 1348.15 K solidus, W still solid
    with pytest.raises(MeltingError) as e:
        with simulation.physical_cause(p, 10.0, 2.0):
            p.check_range()
    line = str(e.value)
    assert "heat_sink (CuCrZr): 1360 K (1086.8 °C) is above the solidus 1348 K" in line, line
    assert "melting point" not in line
    assert "at t = 2 s at a 10 W beam; the whole body is hot" in line, line
    assert e.value.kind == "solidus" and pickle.loads(pickle.dumps(e.value)).kind == "solidus"
    # a solver failure that left the heat sink above its solidus: said so, with its verb
    from anodesim.thermal import SolverError

    with pytest.raises(MeltingError) as e:
        with simulation.physical_cause(p, 10.0, 2.0):
            raise SolverError("Newton line search failed")
    assert "the heat_sink starts to melt at a 10 W beam; the whole body is hot" in \
        str(e.value), str(e.value)


@pytest.mark.parametrize("value", ["abc", "-5", "nan"])
def test_a_bad_form_compile_timeout_in_the_environment_is_one_line(tmp_path, value):
    """ANODESIM_JIT_TIMEOUT_S was read with float() when a run imported the form cache:
    "abc" gave "internal error (ValueError: could not convert string to float)"; -5 and nan
    were taken. Now one line naming the variable, exit 2, nothing written."""
    import os

    path = write_toml(tmp_path / "c.toml", reflection())
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "anodesim", "run", str(path), "-o", str(out),
                        "-q"], capture_output=True, text=True, timeout=600,
                       env={**os.environ, "ANODESIM_JIT_TIMEOUT_S": value})
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == (
        f"anodesim: error: ANODESIM_JIT_TIMEOUT_S = {value!r}: expected a time in s above 0 "
        "(the longest wait for another process's compile of one form; default 1800)")
    assert not out.exists()


LINE = {"spot": "line", "fwhm_um": 40.0, "length_um": 500.0}


@pytest.mark.parametrize("length_um, message", [
    # 8 mm given in m: ran as a nearly round 40 µm spot
    (0.008, "beam.length_um = 0.008: expected a line length in µm of at least its width "
             "beam.fwhm_um = 40 (a line focus is several times longer than wide; a length in "
             "mm or m given in µm?)"),
    # 0.5 mm given in mm
    (0.5, "beam.length_um = 0.5: expected a line length in µm of at least its width"),
    # 8 mm on the 1.2 mm disc: most of the line beside the target
    (8000.0, "beam.length_um = 8000.0: expected a line no longer than the target face (1200 "
             "µm across)"),
])
def test_line_length_unit_slips(tmp_path, capsys, length_um, message):
    """A line focus's length in the wrong unit: one line naming beam.length_um, exit 2 from
    `check` and `run`, nothing written; from_dict alike. Its width and its disc's diameter
    are the accepted range's ends."""
    data = reflection_3d(beam={**LINE, "length_um": length_um})
    with pytest.raises(CaseError, match=re.escape(message)):
        from_dict(data)
    _case_refused(tmp_path, capsys, data, message)
    for ok in (40.0, 1200.0):
        assert from_dict(reflection_3d(beam={**LINE, "length_um": ok})).beam.size2_m == \
            pytest.approx(ok * 1e-6, rel=1e-12)


HOUSED = {"geometry": {"housing": {"inner_radius_mm": 2.0, "outer_radius_mm": 4.0,
                                   "length_mm": 5.0}},
          "materials": {"housing": "Al6061"}, "limits": {"coolant_side_C": 700.0}}


def test_coolant_side_limit_is_held_to_the_regions_its_cooled_faces_bound(tmp_path, capsys):
    """limits.coolant_side_C watches the cooled faces' hottest node, so it lies below the
    melting point of the regions those faces bound only: on a Cu rod cooled at its end in
    an Al6061 housing no coolant touches, 700 °C (below Cu's 1084.65 °C, above Al6061's
    solidus) was refused by the housing's solidus. With the housing's inside cooled too, its
    solidus bounds the limit (check and run: one line, exit 2, nothing written)."""
    case = from_dict(reflection(**HOUSED))
    assert case.limits.coolant_side_K == pytest.approx(700.0 + 273.15, rel=1e-12)
    cooled = merge(HOUSED, {"boundaries": {"housing_inner": {
        "type": "convection", "h_W_m2K": 5000.0, "temperature_C": 30.0}}})
    from anodesim.materials import get

    solidus = get("Al6061").melting_K - 273.15
    message = (f"limits.coolant_side_C = 700: at or above the solidus of Al6061 ({solidus:g} "
               "°C, the lowest of the heat_sink, housing materials)")
    with pytest.raises(CaseError, match=re.escape(message)):
        from_dict(reflection(**cooled))
    _case_refused(tmp_path, capsys, reflection(**cooled), message)


def test_a_user_meshs_coolant_side_limit_is_held_to_the_regions_its_cooled_faces_bound(
        tmp_path, capsys):
    """On a user mesh (or STEP part) coolant_side_C was held to every region, its faces
    "not mapped to regions before meshing": the block anode with half its Cu heat sink made
    an Al6061 `braze`, cooled at its end (a face of the Cu alone, from the tetrahedra its
    triangles bound), refused 700 °C by Al6061's solidus, which no coolant touches. Now it
    is held to the regions its cooled faces bound, as a built-in geometry's: 700 °C is
    taken, Cu's melting point still bounds it (check and run: one line, exit 2, nothing
    written), and a cooled side (Cu and braze) is bound by the braze's solidus again."""
    from test_user_mesh import with_braze

    from anodesim.materials import get

    data = with_braze(tmp_path, materials={"braze": "Al6061"},
                      limits={"coolant_side_C": 700.0})
    assert get("Al6061").melting_K - 273.15 < 700.0 < get("Cu").melting_K - 273.15
    assert from_dict(data).limits.coolant_side_K == pytest.approx(973.15, rel=1e-12)
    hot = merge(data, {"limits": {"coolant_side_C": 1090.0}})
    message = ("limits.coolant_side_C = 1090: at or above the melting point of Cu (1084.65 "
               "°C, the heat_sink material)")
    with pytest.raises(CaseError, match=re.escape(message)):
        from_dict(hot)
    _case_refused(tmp_path, capsys, hot, message)
    side = merge(data, {"boundaries": {"side": {"type": "convection", "h_W_m2K": 500.0,
                                                "temperature_C": 30.0}}})
    solidus = get("Al6061").melting_K - 273.15
    with pytest.raises(CaseError, match=re.escape(
            f"limits.coolant_side_C = 700: at or above the solidus of Al6061 ({solidus:g} °C, "
            "the lowest of the heat_sink, braze materials)")):
        from_dict(side)


def test_rate_refuses_a_newton_tolerance_wider_than_its_confirmation_band(tmp_path, capsys):
    """A rating confirms its binding limit within 0.5 % of the limit's allowed rise, and the
    converged temperatures are within about time.newton_tol_K of Newton's (README): with a
    coolant-side limit 2 K above its 30 °C coolant, 0.1 K (5 % of that rise) was rated
    without a word. `rate` (and anodesim.rate) now refuses it in one line, exit 2, nothing
    written; 0.01 K, 0.5 % of 2 K, is taken."""
    import anodesim
    from anodesim.rating.rate import check_rating_input
    from anodesim.resolve import region_materials

    data = reflection(limits={"coolant_side_C": 32.0}, time={"newton_tol_K": 0.1})
    message = ("time.newton_tol_K = 0.1: above 0.5% of the coolant_side limit's allowed rise "
               "(2 K over the anode at rest); expected at most 0.01 K, so a rating confirms "
               "its limits within its 0.5% band")
    path = write_toml(tmp_path / "c.toml", data)
    assert main(["rate", str(path), "-o", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "out").exists()
    with pytest.raises(CaseError, match=re.escape(message)):
        anodesim.rate(data, tmp_path / "api")
    assert not (tmp_path / "api").exists()
    # any bad rating input into a folder not made yet: FileNotFoundError from the
    # checkpoint's clean-up (the folder it lists was never made) instead of the CaseError
    with pytest.raises(CaseError, match="limits.heat_sink_C = 25: no positive power"):
        anodesim.rate(reflection(limits={"heat_sink_C": 25.0}), tmp_path / "api")
    assert not (tmp_path / "api").exists()
    ok = from_dict(merge(data, {"time": {"newton_tol_K": 0.01}}))
    check_rating_input(ok, region_materials(ok), 1e-9)


def test_check_warns_of_the_newton_tolerance_rate_refuses_and_names_the_default(tmp_path,
                                                                              capsys):
    """A coolant-side limit 0.1 K above the 30 °C start (a head that small): `rate` refuses
    the default 1e-3 K (2 % of it) and said "time.newton_tol_K = 0.001", a key the case
    never gave, while `check` had called the case valid without a word. Now `rate` says it is
    the default, and `check` warns (exit 0: `run` takes it) with the same words; at a head of
    0.25 K (0.5 % of it, 1.25e-3 K, above the default) `check` says nothing."""
    refusal = ("time.newton_tol_K = 0.001 (the default): above 0.5% of the coolant_side limit's "
               "allowed rise (0.1 K over the anode at rest); expected at most 0.0005 K")
    path = write_toml(tmp_path / "c.toml", reflection(limits={"coolant_side_C": 30.1}))
    assert main(["rate", str(path), "--no-confirm", "-o", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and refusal in err, err
    assert not (tmp_path / "out").exists()
    assert main(["check", str(path)]) == 0
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if "newton_tol_K" in x]
    assert lines == [f"anodesim: warning: `rate` refuses this case: {refusal}, so a rating "
                     "confirms its limits within its 0.5% band"], err
    path = write_toml(tmp_path / "d.toml", reflection(limits={"coolant_side_C": 30.25}))
    assert main(["check", str(path)]) == 0
    assert "newton_tol_K" not in capsys.readouterr().err


def test_check_warns_of_the_default_chart_points_rate_refuses(tmp_path, capsys):
    """A pulse train on 10 s, off 1e-12 s is a case to run, and `check` called it valid
    without a word, while `rate` (its default, every chart) refused the 1e-16 s pause of
    the period chart's default 1 ms point at the case's own duty cycle. Now `check` warns
    (exit 0) with `rate`'s own line and which charts it refuses; `rate --chart continuous`
    takes the case."""
    from anodesim.cli.check import chart_points_warnings
    from anodesim.resolve import prepare

    loading = {"kind": "pulse_train", "duration_s": None, "pulses": 3, "on_s": 10.0,
               "off_s": 1e-12}
    path = write_toml(tmp_path / "c.toml", reflection(loading=loading))
    assert main(["rate", str(path), "--no-confirm", "-o", str(tmp_path / "out"), "-q"]) == 2
    refusal = capsys.readouterr().err.strip()
    assert len(refusal.splitlines()) == 1 and "rating.periods_s (not given" in refusal
    assert not (tmp_path / "out").exists()
    assert main(["check", str(path)]) == 0
    lines = [x for x in capsys.readouterr().err.splitlines() if "`rate` refuses" in x]
    assert lines == ["anodesim: warning: `rate` refuses the serial-load charts (--chart duty, "
                     "period or all, the default) of this case: "
                     + refusal.removeprefix("anodesim: error: ")], lines
    ok = from_dict(reflection())
    assert chart_points_warnings(ok, prepare(ok)) == []


@pytest.mark.parametrize("sod_mm, refused, most", [(7.0, 1429.0, "1428"),
                                                    (3.0, 3334.0, "3333"),
                                                    (100.0, 100.5, "100")])
def test_a_too_large_magnification_names_the_largest_it_takes(sod_mm, refused, most):
    """drift.magnification whose SDD, M × source_object_mm, passes 1e4 mm (f7ba5c8): the
    message said "M × source_object_mm = 1e+04 mm here, is at most 10000 mm (at most 1429)"
    at 7 mm, refusing 1429 while offering it (1e4 / 7 = 1428.57, rounded to 4 digits up).
    Now the SDD to 8 digits and the largest M rounded down, which is taken."""
    drift = {"mounts": {"cooled_end": {"type": "clamped"}},
             "drift": {"view_direction": [1.0, 0.0, 1.0], "pixel_size_um": 50.0,
                       "source_object_mm": sod_mm}}
    with pytest.raises(CaseError) as err:
        from_dict(reflection(**merge(drift, {"drift": {"magnification": refused}})))
    msg = str(err.value)
    assert msg.startswith(f"drift.magnification = {refused}: expected a magnification whose "
                          "source-detector distance"), msg
    assert f"{refused * sod_mm:.8g} mm here, is at most 10000 mm (at most {most})" in msg, msg
    from_dict(reflection(**merge(drift, {"drift": {"magnification": float(most)}})))


def test_a_rating_points_pulse_names_the_cases_own_period_it_takes():
    """rating.duty_cycles on a pulse-train case without rating.period_s pair with the case's
    own pulse period (tables._rating): 0.001 at a 1e-10 s period (a 1e-13 s pulse) was
    refused "(with rating.period_s = 1e-10)", a key the case never gave. Now it says whence
    the value comes; a rating.period_s given is named as before; a pulse of 1e-12 s taken."""
    pt = {"kind": "pulse_train", "period_s": 1e-10, "duty_cycle": 0.5, "pulses": 3,
          "duration_s": None}
    with pytest.raises(CaseError, match=re.escape(
            "rating.duty_cycles[0] = 0.001: expected a duty cycle and period whose pulse and "
            "pause (with rating.period_s = 1e-10, the default: the case's own pulse period) "
            "each last at least 1e-12 s")):
        from_dict(reflection(loading=pt, rating={"duty_cycles": [0.001, 0.5]}))
    with pytest.raises(CaseError, match=re.escape("(with rating.period_s = 1e-10) each")):
        from_dict(reflection(loading=pt, rating={"period_s": 1e-10, "duty_cycles": [0.001]}))
    with pytest.raises(CaseError, match=re.escape(
            "(with rating.duty_cycle = 0.999, the default: the case's own pulse duty cycle)")):
        from_dict(reflection(loading={**pt, "period_s": 1.0, "duty_cycle": 0.999},
                             rating={"periods_s": [1e-10, 1.0]}))
    assert from_dict(reflection(loading=pt, rating={"duty_cycles": [0.01, 0.5]})).rating \
        .duty_cycles == (0.01, 0.5)


@pytest.mark.parametrize("given, message", [
    ({"period_s": 1e-11}, "rating.period_s = 1e-11: expected a duty cycle and period whose "
     "pulse and pause (with rating.duty_cycles = 0.02, a point of its default list (or give "
     "rating.duty_cycles)) each last at least 1e-12 s"),
    ({"duty_cycle": 1 - 1e-13}, "rating.duty_cycle = 0.9999999999999: expected a duty cycle "
     "and period whose pulse and pause (with rating.periods_s = 0.001, a point of its default "
     "list (or give rating.periods_s)) each last at least 1e-12 s")])
def test_a_rating_period_or_duty_given_is_checked_with_its_default_list(given, message):
    """rating.period_s (or duty_cycle) given without its chart's list: each point of the
    default list is its pair; only a list given was checked, so a 1e-11 s period drew
    2e-13 s pulses at the default duty 0.02 unrefused. Now the key given is named, with the
    default point and the list to give; a list given with it is taken."""
    with pytest.raises(CaseError, match=re.escape(message)):
        from_dict(reflection(rating=given))
    key, listed = (("period_s", "duty_cycles") if "period_s" in given else
                   ("duty_cycle", "periods_s"))
    ok = {**given, listed: [0.5] if listed == "duty_cycles" else [10.0]}
    assert getattr(from_dict(reflection(rating=ok)).rating, key) == given[key]


@pytest.mark.parametrize("px, pixel_um, M, lo, hi", [
    (1e-6, 0.1, 1e4, "0.09999", "100000"),  # 1e-11 µm at the source: rated at 2e-11 W
    (1e5, 1e4, 1.000001, "1e-06", "9.999e-06")])  # 1e15 µm: never binds
def test_a_drift_px_limit_is_held_to_drift_ums_bounds_at_the_source(px, pixel_um, M, lo, hi):
    """limits.drift_px (1e-6 to 1e5 px, 50561fe) becomes px × pixel / (M − 1) at the source,
    which escaped drift_um's own 1e-6 to 1e5 µm: 1e-6 px of 0.1 µm at M = 1e4 was a limit of
    1e-11 µm (rate --no-confirm rated 2.3e-11 W), 1e5 px of 1 cm at M = 1.000001 one of
    1e15 µm. Refused now, naming drift_px, the µm it gives and the px range taken here (to
    4 digits, rounded inwards: both ends are taken)."""
    mounts = {"cooled_end": {"type": "clamped"}}
    drift = {"view_direction": [1.0, 0.0, 1.0], "pixel_size_um": pixel_um,
             "source_object_mm": 1.0, "magnification": M}
    with pytest.raises(CaseError) as err:
        from_dict(reflection(mounts=mounts, drift=drift, limits={"drift_px": px}))
    msg = str(err.value)
    assert msg.startswith(f"limits.drift_px = {px}: expected an image drift whose drift at the "
                          "source, px × pixel / (M − 1) = "), msg
    assert msg.endswith(f"µm here, lies from 1e-06 to 100000 µm as limits.drift_um's (here {lo} "
                        f"to {hi} px)"), msg
    for ok in (lo, hi):
        case = from_dict(reflection(mounts=mounts, drift=drift,
                                    limits={"drift_px": float(ok)}))
        assert 1e-6 * (1 - 1e-12) <= case.limits.drift_um <= 1e5 * (1 + 1e-12)
