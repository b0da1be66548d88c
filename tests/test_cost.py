"""What `check` tells before a run: the cell estimate against gmsh's real meshes, the
derived figures, the cost warnings, and `run` refusing an absurd case unless --force."""

import pytest
from cases import block, reflection, transmission
from test_case import write_toml

from anodesim import cost
from anodesim.case import from_dict
from anodesim.cli import main
from anodesim.resolve import prepare


@pytest.mark.parametrize("case", [
    reflection(), transmission(), block(),
    reflection(mesh={"spot_fraction": 0.02, "growth": 0.05}),
], ids=["reflection", "transmission", "block", "fine reflection"])
def test_cell_estimate_within_15_percent_of_the_mesh(case):
    """The size-field estimate against the cells gmsh builds for the same case (measured:
    within 10 % for these and the shipped examples, 1.8 k to 221 k cells)."""
    c = from_dict(case)
    prep = prepare(c)
    estimated, built = cost.cell_count(c, prep), cost.mesh_cells(c, prep)
    assert estimated == pytest.approx(built, rel=0.15)


def test_check_prints_figures_cost_and_limits(tmp_path, capsys):
    path = write_toml(tmp_path / "case.toml", reflection(
        mounts={"cooled_end": {"type": "clamped"}},
        drift={"view_direction": [0.94, 0.0, 0.342], "source_object_mm": 20,
               "source_detector_mm": 500, "pixel_size_um": 100}))
    assert main(["check", str(path), "--mesh"]) == 0
    out = capsys.readouterr().out
    c = from_dict(__import__("tomllib").loads(path.read_text()), tmp_path)
    prep = prepare(c)
    # deposited power = (1 - eta_E) x beam power, as the run reports it
    assert f"deposited {10.0 * prep.p_dep:.4g} W" in out and "beam 100 kV, 10 W (0.1 mA)" in out
    assert f"deposition depth {prep.zone_depth * 1e6:.3g} µm" in out
    assert "magnification 25 " in out and "100 µm is 4.17 µm of spot drift" in out  # 100/24
    assert f"{cost.mesh_cells(c, prep):,} cells (counted in the mesh)" in out
    assert f"{len(prep.steps):,} time steps" in out
    from anodesim.limits import limits_for

    limits = limits_for(c, prep.mats)  # the limits the run will check, in one column
    width = max(len(lim.label) for lim in limits)
    for lim in limits:
        assert f"    {lim.label:<{width}s} {lim.value:9.4g}" in out
    assert "estimated wall time" in out and "MiB on this machine" in out


def test_expensive_case_warns_and_absurd_case_is_refused_unless_forced(tmp_path, capsys,
                                                                        monkeypatch):
    path = write_toml(tmp_path / "case.toml", reflection(beam={"fwhm_um": 0.05}))
    assert main(["check", str(path)]) == 0
    err = capsys.readouterr().err
    assert "warning: this case is expensive" in err and "check the spot size's unit" in err
    assert "run` refuses this case unless --force: beam spot 0.05 µm" in err
    out = tmp_path / "run"
    assert main(["run", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "below the model's validity" in err and "--force" in err and err.count("\n") == 0
    assert not out.exists()
    # the cell limit, lowered to what this small case has: refused, then run with --force
    monkeypatch.setitem(cost.ABSURD_CELLS, 2, 100)
    small = write_toml(tmp_path / "small.toml", reflection())
    assert main(["run", str(small), "-o", str(out), "-q"]) == 2
    assert "cells in 2-D (more than 100" in capsys.readouterr().err
    assert main(["run", str(small), "-o", str(out), "-q", "--force"]) == 0


def test_newton_failure_past_the_melting_point_names_the_melting(tmp_path, capsys,
                                                                 monkeypatch):
    """A Newton failure whose iterate has passed the melting point (what a 0.5 µm spot at
    10 W does on a 200 k-cell mesh, too costly for the suite) is reported as the target
    melting at that beam power. The failure is provoked: the solve of the first heated step
    leaves W 100 K above its melting point and raises the solver's own error."""
    from anodesim import thermal

    real = thermal.ThermalProblem._solve

    def failing(self):
        real(self)
        if float(self.power.value) > 0:
            self.T.x.array[:] = self.materials["target"].melting_K + 100.0
            raise thermal.SolverError("Newton line search failed (provoked)")

    monkeypatch.setattr(thermal.ThermalProblem, "_solve", failing)
    path = write_toml(tmp_path / "case.toml", reflection(beam={"power_W": 7.0}))
    assert main(["run", str(path), "-o", str(tmp_path / "run"), "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "above the melting point 3695 K" in err
    assert "the target melts at a 7 W beam" in err and "Newton line search failed" in err


def test_a_long_warm_up_saves_the_drift_densely_in_its_minutes():
    """A 20 min single load with mechanics: the 20 log-spaced save times of a short load
    plus 30 equal intervals, so no gap in the drift history is longer than a minute (the
    warm-up plots are drawn on a linear minutes axis); a 10 s load keeps its 20."""
    from anodesim.resolve import save_times

    mech = {"mounts": {"cooled_end": {"type": "clamped"}}}
    long = from_dict(reflection(loading={"kind": "continuous", "duration_s": 1200.0}, **mech))
    t = save_times(long)
    assert t[0] == pytest.approx(1.2e-3) and t[-1] == pytest.approx(1200.0)
    assert max(b - a for a, b in zip(t, t[1:]) if a >= 40.0) <= 40.0 + 1e-9
    short = from_dict(reflection(loading={"kind": "continuous", "duration_s": 10.0}, **mech))
    assert len(save_times(short)) == 20
