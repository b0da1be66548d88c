"""The light paths of the command line load nothing heavy: ``--help``, a bad command line
and a bad case import neither dolfinx, PETSc, scipy nor matplotlib (nor numpy for
``--help``), and ``check`` nothing heavy either. Checked structurally (the modules a fresh
interpreter has imported), never by time: studies/benchmark_process.py measures the time."""

import json
import subprocess
import sys

import pytest
from cases import block
from test_case import write_toml

HEAVY = ("dolfinx", "petsc4py", "ufl", "gmsh", "scipy", "matplotlib", "mpi4py")
PROBE = f"""
import json, sys
from anodesim.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as e:
    code = e.code
heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({list(HEAVY)!r}))
print('MODULES ' + json.dumps({{'code': code, 'heavy': heavy, 'numpy': 'numpy' in sys.modules}}),
      file=sys.__stderr__)
"""


def imported(*args) -> dict:
    """Exit code and heavy modules of `anodesim ARGS` in a fresh interpreter."""
    r = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                       timeout=300)
    line = [x for x in r.stderr.splitlines() if x.startswith("MODULES ")]
    assert line, r.stderr
    return json.loads(line[-1][len("MODULES "):])


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["bogus"], ["--version"]])
def test_help_and_bad_command_lines_import_nothing_heavy(args):
    got = imported(*args)
    assert got["code"] in (0, 2) and got["heavy"] == []
    assert not got["numpy"] or args[0] == "run"  # a subcommand's module may need numpy


def test_bad_case_and_check_import_nothing_heavy(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('title = "x"\n[beam]\nfwhm_um = "wide"\n')
    got = imported("run", str(bad), "-o", str(tmp_path / "o"))
    assert got["code"] == 2 and got["heavy"] == []
    assert not (tmp_path / "o").exists()
    good = tmp_path / "good.toml"
    write_toml(good, block())  # surface deposition: no electron-kernel fit (scipy)
    got = imported("check", str(good))
    assert got["code"] == 0
    # nor scipy: the cost estimate's machine timing is numpy alone (cost.machine_timing)
    assert got["heavy"] == []


def test_a_3d_run_with_drift_and_joint_stress_imports_no_scipy(tmp_path):
    """A run of the small 3-D case with a Gaussian footprint, mechanics (the yield check's
    ball averages: a numpy grid search, not scipy.spatial) and the predicted spot sizes
    (scipy.special only for flat-top and line spots) loads no scipy: its import cost
    0.3-0.8 s of the 3-D example's CPU time."""
    from cases import reflection_3d

    case = write_toml(tmp_path / "case.toml", reflection_3d(
        loading={"kind": "continuous", "duration_s": 0.001},
        mounts={"cooled_end": {"type": "clamped"}},
        drift={"source_object_mm": 20, "magnification": 10, "pixel_size_um": 100}))
    got = imported("run", str(case), "-o", str(tmp_path / "run"), "-q")
    assert got["code"] == 0
    assert "scipy" not in got["heavy"] and "dolfinx" in got["heavy"]  # the run did run
