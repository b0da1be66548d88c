"""Input messages a new user meets: a mistyped key names the key meant (other letter case,
another unit, a near spelling) instead of calling the intended one missing; a case file given
to `sweep` or a study given to `run` says what it is; under MPI only rank 0 prints."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cases import block, reflection
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
    # a near spelling could be another valid key not read yet: the required one is missing
    (renamed("beam", "voltage_kV", "volt_kV"), "beam.voltage_kV: missing"),
])
def test_a_mistyped_required_key_is_unknown_not_missing(case, message):
    with pytest.raises(CaseError) as e:
        from_dict(case)
    assert str(e.value).startswith(message)


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
    which removes the earlier run's files first (no stale plot beside the new results)."""
    path = write_toml(tmp_path / "c.toml", block())
    out = tmp_path / "out"
    assert main(["run", str(path), "-o", str(out), "-q"]) == 0
    stale = out / "profiles_of_an_older_run.png"
    stale.write_bytes(b"old")
    before = (out / "summary.json").read_bytes()
    capsys.readouterr()
    assert main(["run", str(path), "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "holds an earlier run (summary.json)" in err
    assert (out / "summary.json").read_bytes() == before and stale.exists()
    assert main(["run", str(path), "-o", str(out), "-q", "--overwrite"]) == 0
    assert not stale.exists() and (out / "summary.json").is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["run", str(path), "-o", str(empty), "-q"]) == 0  # an empty folder is fine
