"""Submitting to SLURM: the [slurm] table is checked before anything is written."""

import json
import re
from pathlib import Path

import pytest
from test_case import write_toml
from test_study import small_block

from anodesim import study as study_mod
from anodesim.case import CaseError
from anodesim.cli import main


def study_file(folder, values, slurm_table: str = "") -> Path:
    """A study over the spot size of the small block (no figures), its base case beside it."""
    write_toml(folder / "base.toml", small_block())
    path = folder / "study.toml"
    path.write_text(f'case = "base.toml"\n[axes]\n"beam.fwhm_um" = {values!r}\n'
                    f'"output.figures" = [false]\n{slurm_table}')
    return path


# --------------------------------------------------------------------------------------
# Bad [slurm] input: refused when the study is read, before anything is written
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("table, message", [
    ({"time": "5 minutes"}, "slurm.time = '5 minutes': expected a SLURM time: minutes, "
     "MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS"),
    ({"time": "1:2:3:4"}, "slurm.time = '1:2:3:4': expected a SLURM time"),
    ({"extra": ["--mem=1G\nrm -rf /tmp/x"]}, "slurm.extra = '--mem=1G\\nrm -rf /tmp/x': "
     "expected an sbatch long option on one line"),
    ({"extra": ["--mem=1G\x07"]}, "expected an sbatch long option on one line"),
    ({"extra": ["mem=1G"]}, "slurm.extra = 'mem=1G': expected an sbatch long option"),
    ({"extra": ["-n 2"]}, "slurm.extra = '-n 2': expected an sbatch long option"),
    ({"extra": ["--ntasks=2"]}, "slurm.extra = '--ntasks=2': expected an option the array "
     "script does not set itself"),
    ({"extra": ["--array=0-9"]}, "slurm.extra = '--array=0-9': expected an option the array"),
])
def test_bad_slurm_table_is_one_line(table, message, tmp_path, capsys):
    with pytest.raises(CaseError, match=re.escape(message)):
        study_mod.from_dict({"case": small_block(), "axes": {"beam.power_W": [1.0]},
                             "slurm": table})
    # the command line: exit 2, one line, nothing written
    path = study_file(tmp_path, [20.0], "[slurm]\n" + "".join(
        f"{k} = {json.dumps(v)}\n" for k, v in table.items()))
    out = tmp_path / "out"
    assert main(["sweep", str(path), "-o", str(out), "--submit", "slurm"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message.split(":")[0] in err
    assert not out.exists()


@pytest.mark.parametrize("time_", ["90", "10:00", "02:00:00", "1-12", "1-12:30",
                                   "1-12:30:00"])
def test_slurm_time_formats_are_accepted(time_):
    st = study_mod.from_dict({"case": small_block(), "axes": {"beam.power_W": [1.0]},
                              "slurm": {"time": time_, "extra": ["--mem=1G", "--exclusive"]}})
    script = study_mod.slurm_script(st, Path("o"), [0])
    assert f"#SBATCH --time={time_}\n" in script and "#SBATCH --exclusive\n" in script
