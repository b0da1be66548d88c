"""One case, end to end: a Simulation built from a Case, in the shape of FESTIM's problems.

    sim = Simulation(case)          # nothing built yet
    sim.initialise()                # resolve, mesh, spaces, forms, solvers, monitors
    result = sim.run()              # the time loop (or the steady solve) → RunResult
    again = sim.run(loading=Loading("continuous", ((0.1, 20.0),)), beam_power_W=20.0)

``run`` initialises when needed; a second ``run`` (another power or schedule) reuses the
mesh, the compiled forms and, for constant properties, the factorisations. What is recorded
lives in the monitors (monitors.py); with an output folder the run writes the files listed in
run_folder.py.
"""

from __future__ import annotations

import contextlib
import dataclasses as dc
import datetime as _dt
import math
import sys
import tempfile
import time
from pathlib import Path

from . import __version__, geometry, output
from .errors import (Terminated, all_ranks_failed, rank_zero_alone, signals_held,
                     sigterm_cleans_up, termination_requested)
from .case import (USER_GEOMETRIES, ZERO_CELSIUS_K as C, Case, CaseError, Loading, check_source,
                   regions_of)
from .plotter import FigureFailure
from .limits import check, life_summary, limits_for, rated_life_h
from .monitors import default_monitors
from .beam import deposition_summary
from .extra_focal import summary as extra_focal_summary
from .resolve import (backscatter_coefficient, incidence_deg, mesh_description, mesh_key,
                      mesh_refinement, plan_steps, prepare)
from .spot_sizes import predicted_sizes
from .results import RunResult, TimeSeries


class Simulation:
    """A case's heat (and mechanics) problem, run once or again at other loadings.

    Args:
        case: a validated case.
        out_dir: run folder (created if missing); None: write nothing.
        comm: MPI communicator (default COMM_WORLD).
        progress: show a status line on stderr (rank 0).
        stored_heat: record the stored heat and the energies put in at every step (the
            energy balance's columns of timeseries.csv); a run that only checks limits on
            its series (a rating's chart anchors) saves that tally, about a tenth of a
            2-D run's time.
    """

    def __init__(self, case: Case, out_dir: str | Path | None = None, *, comm=None,
                 progress: bool = False, stored_heat: bool = True):
        from ._mpi import MPI

        check_source(case)  # an edit of case.source would not be run
        self.case = case
        self.out = Path(out_dir) if out_dir is not None else None
        self.comm = comm or MPI.COMM_WORLD
        self.rank0 = self.comm.rank == 0
        self.progress = progress
        self.stored_heat = stored_heat
        self.prep = self.domain = self.problem = None
        self.monitors = []
        self._vtx: list = []
        self.rows: list[list[float]] = []
        self.load_end_fields = None  # (reset)
        self.mesh_s = 0.0
        self._last_partial = -math.inf  # wall time of the last partial timeseries.csv
        self._partial_s = 0.0

    # ------------------------------------------------------------------ set-up
    def initialise(self) -> None:
        """Resolve the case, build (or read) the mesh, the heat problem and the monitors.

        Raises:
            CaseError: a problem with the case found while setting up (e.g. the electron
                range exceeds the target stack, or a reused mesh lacks a named group).
        """
        self.prep = prepare(self.case)
        with rank_zero_alone(self.comm, OSError):  # (a read-only parent): every rank stops
            if self.out is not None and self.rank0:
                self.out.mkdir(parents=True, exist_ok=True)
        t_mesh = time.perf_counter()
        with signals_held():  # gmsh and dolfinx call back into Python while setting up
            self.domain, self.problem, self.interfaces, self.mesh_path = build_problem(
                self.case, self.prep, self.comm, self.out)
            self.mesh_s = time.perf_counter() - t_mesh
            self._warn_source_ratio()
            self._warn_spot_resolution()
            self.monitors = default_monitors(self.case, self, stored_heat=self.stored_heat)
        self.columns = ["time_s"] + [c for m in self.monitors for c in m.columns]
        self.units = ["s"] + [u for m in self.monitors for u in m.units]
        twice = sorted({c for c in self.columns if self.columns.count(c) > 1})
        if twice:  # the case check refuses names that would do this: a bug if it is reached
            raise RuntimeError(f"time-series columns named twice: {', '.join(twice)}; one "
                               "would overwrite the other in timeseries.csv and the summary")

    def _warn_source_ratio(self) -> None:
        ratio, case, spot = self.problem.source_ratio, self.case, self.prep.spot
        if abs(ratio - 1.0) <= 1e-3 or not self.rank0:
            return
        why = "refine the user's mesh under the spot" if case.geometry.kind == "user_mesh" \
            else "refine mesh.spot_fraction"
        if case.geometry.kind in USER_GEOMETRIES and spot.deposition != "surface":
            why += (f", or the target is thinner than the electron range "
                    f"({spot.layers[0].range_m * 1e6:.3g} µm): on a user mesh all the energy "
                    "goes into the target group, none into the material below")
        print(f"anodesim: warning: the mesh resolves the beam source to {ratio:.5f} of "
              f"its power (rescaled to the requested power); {why}", file=sys.stderr)

    def spot_element_ratio(self) -> float | None:
        """A user mesh's beam-face element at the impact point over the spot's smallest
        size (geometry.user_mesh.check_resolution refuses above 0.5), else None."""
        h = getattr(self.prep.lay, "spot_element", None)
        return None if h is None else h / self.prep.spot.smallest_m

    def _warn_spot_resolution(self) -> None:
        """A user mesh coarser at the spot than WARN_ELEMENT_PER_SPOT: the peak rise comes
        out low by several per cent with the source integral still right (no other sign)."""
        from .geometry.user_mesh import WARN_ELEMENT_PER_SPOT, peak_low_percent

        ratio = self.spot_element_ratio()
        if ratio is None or ratio <= WARN_ELEMENT_PER_SPOT or not self.rank0:
            return
        print(f"anodesim: warning: the beam face's element at the impact point is {ratio:.2f} "
              f"× the spot's size: the peak rise likely comes out about "
              f"{peak_low_percent(ratio):.0f} % low (4 % at 1/7, 9 % at 0.27, 22 % at 0.6); "
              "refine the user's mesh under the spot", file=sys.stderr)

    def reset(self, loading: Loading | None = None, beam_power_W: float | None = None) -> None:
        """Back to the initial state, optionally with another loading or beam power (W)."""
        if loading is not None or beam_power_W is not None:
            beam = self.case.beam if beam_power_W is None else dc.replace(
                self.case.beam, power_W=beam_power_W)
            self.case = dc.replace(self.case, beam=beam, loading=loading or self.case.loading)
            if self.prep is not None:
                self.prep.steps = plan_steps(self.case, self.prep.spot, self.prep.mats)
        if self.problem is not None:
            self.problem.reset()
            for m in self.monitors:
                m.reset(self.case)
        self.rows = []
        #: (t, slices, field) of the temperature figures at loading.load_end_s, the end
        #: of the schedule before the pause up to repeat_every_s (run_folder.write)
        self.load_end_fields = None

    # ------------------------------------------------------------------ the loop
    def record(self, t: float, beam_W: float) -> list[float]:
        """Append a row of every monitor's values at time t (s), beam power (W)."""
        row = [t]
        for m in self.monitors:
            row += m.record(t, beam_W)
        self.rows.append(row)
        return row

    def save(self, t: float) -> None:
        """At a save time: the save-time monitors (mechanics) fill the last row, the fields
        are written, and so is the time series so far."""
        j = 1
        for m in self.monitors:
            if m.at_save_times:
                self.rows[-1][j:j + len(m.columns)] = m.at_save(t)
            j += len(m.columns)
        output.write_fields([w for _, w in self._vtx], t)

    def iterate(self, step, dt_prev: float | None) -> list[float]:
        """One time step of the plan (loading.Step); the recorded row."""
        with physical_cause(self.problem, step.power_W, step.t):
            self.problem.step(step.dt, step.power_W * self.prep.p_dep, step.restart, dt_prev)
        row = self.record(step.t, step.power_W)
        load_end = self.case.loading.load_end_s
        if load_end is not None and self.out is not None and abs(step.t - load_end) <= \
                1e-12 * load_end:  # a switch time: landed on (loading.plan)
            from . import run_folder
            self.load_end_fields = (step.t, *run_folder.field_figures(self))
        if step.save:
            self.save(step.t)
            if self.out is not None and self.rank0:
                self._write_partial_series()
        return row

    def _write_partial_series(self) -> None:
        """The time series so far, for a run that is stopped: written at a save time, but
        not more often than every PARTIAL_WRITE_S (and never taking more than a tenth of
        the run), so that long schedules (10⁴ pulses, a save per pulse) stay linear in
        time. The complete series is written at the end (run_folder.write)."""
        now = time.perf_counter()
        if now - self._last_partial < max(self.PARTIAL_WRITE_S, 10 * self._partial_s):
            return
        output.write_csv(self.out / "timeseries.csv", self.columns, self.rows,
                         exact_columns=output.SERIES_EXACT_COLUMNS)
        self._last_partial = time.perf_counter()
        self._partial_s = self._last_partial - now

    #: Shortest interval (s of wall time) between two partial writes of timeseries.csv.
    PARTIAL_WRITE_S = 2.0

    def _solve(self) -> None:
        """The steady solve, or the time loop over the planned steps."""
        if self.case.loading.kind == "steady":
            with physical_cause(self.problem, self.case.beam.power_W, None):
                self.problem.steady(self.case.beam.power_W * self.prep.p_dep)
            self.record(0.0, self.case.beam.power_W)
            self.save(0.0)
            return
        steps = self.prep.steps
        bar = _Progress(self.progress and self.rank0, len(steps))
        try:
            self.record(0.0, 0.0)
            dt_prev = None
            parallel = self.comm.size > 1
            for i, st in enumerate(steps, start=1):
                row = self.iterate(st, dt_prev)
                dt_prev = st.dt
                bar(i, st.t, row[3])
                if parallel and termination_requested(self.comm):  # SIGTERM, all ranks here
                    raise Terminated
            bar(len(steps), self.case.end_time_s, self.rows[-1][3], force=True)
        finally:
            bar.close()
        self.refine()

    def refine(self) -> None:
        """After the time loop: the save-time monitors' values at the instants between save
        times they ask for (Mechanics.finish: where a drift figure is extreme)."""
        j = 1
        for m in self.monitors:
            if m.at_save_times:
                for row, values in m.finish().items():
                    self.rows[row][j:j + len(m.columns)] = values
            j += len(m.columns)

    def run(self, loading: Loading | None = None, beam_power_W: float | None = None
            ) -> RunResult:
        """Run the case (again, at another loading or beam power if given).

        SIGTERM left at its default action ends the process, as it would have, once the
        run's files are whole (summary.json: failed, and why; errors.sigterm_cleans_up).

        Args:
            loading: another schedule (loading.Loading), or None for the case's.
            beam_power_W: another beam power (W; the steady power, and what the summary
                reports), or None.

        Returns:
            The run's time series, limits, drift and summary; with an output folder, the
            files are written (also for a failed run, with its status).

        Raises:
            CaseError: a problem with the case found while setting up.
            SolverError, OutOfRangeError, MechanicsError: the run failed.
        """
        with sigterm_cleans_up():  # a script's SIGTERM: the files whole, then the signal
            result = self._run(loading, beam_power_W)
        return result

    def _run(self, loading: Loading | None, beam_power_W: float | None) -> RunResult:
        """Simulation.run, SIGTERM handled."""
        from . import plotter, run_folder

        started = time.perf_counter()
        start_utc = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        # The figures' process (rank 0) imports matplotlib while this one meshes and solves;
        # while a mesh is built ahead (geometry.ahead) it starts once the mesh is taken: three
        # processes on two cores slowed this one's imports (the C1-class run of
        # studies/benchmark_process.py 1.99 s against 1.90 s, medians of 7 interleaved runs)
        figures = self.out is not None and self.rank0 and self.case.output.figures
        plot = plotter.start() if figures and not geometry.ahead.building() else None
        status, error, every_rank, ranks_together = "running", None, False, False
        try:
            self.reset(loading, beam_power_W)
            if self.problem is None:
                self.initialise()
            if figures and plot is None:
                plot = plotter.start()
            self._vtx = run_folder.open_fields(self) if self.out is not None else []
            t_solve = time.perf_counter()
            try:
                self._solve()
                status = "complete"
            except BaseException as e:
                status, error = "failed", _failure(e)
                if self.comm.size > 1 and all_ranks_failed(self.comm):
                    e.anodesim_every_rank = every_rank = True
                raise
            finally:
                # A failure under MPI may be one rank's alone while the others wait in a
                # collective call: writing the outputs (collective) would hang, so the error
                # goes straight to the CLI, which aborts every rank
                # (errors.abort_other_ranks), and the partial timeseries.csv written during
                # the run is kept. A failure every rank met (all_ranks_failed) is written
                # like a serial one.
                if status != "failed" or self.comm.size == 1 or every_rank:
                    result = None
                    writes = self.out is not None and self.rows
                    try:
                        with signals_held():  # the result whole (collective), then a signal
                            run_folder.close_fields(self, self._vtx, status == "complete")
                            timing = self._timing(started, t_solve)
                            result = self.result(status, error, timing, start_utc)
                        if writes:
                            # a failed run's own error is the one reported, not its figures'
                            with contextlib.suppress(FigureFailure) if status == "failed" \
                                    else contextlib.nullcontext():
                                run_folder.write(self, result, plot)
                        ranks_together = True
                    except KeyboardInterrupt as e:  # Ctrl-C, SIGTERM: files missing
                        if writes and result is not None and status == "complete" and \
                                self.rank0:
                            self._outputs_interrupted(result, e)
                        raise
        finally:
            if plot is not None:
                plot.close()
            if ranks_together and self.comm.size > 1:
                # Every rank ended the run (completed, or failed on every rank, as a run
                # that melts does) and wrote its files: a collective call is safe. petsc4py
                # parks a dropped PETSc object of a parallel communicator until this
                # collective clean-up: without it a rating's dozens of runs on one
                # Simulation (melting ones included) kept every temporary of each.
                from petsc4py import PETSc

                PETSc.garbage_cleanup(self.comm)
        return result

    def _outputs_interrupted(self, result: RunResult, e: KeyboardInterrupt) -> None:
        """A run stopped while its files were written (the figures, mostly): its time series
        and a summary that says so, "failed" (a folder that claimed "complete" would be
        reported and refused as a finished run, with figures missing). Rank 0, with no
        collective call: the other ranks may have left."""
        from . import run_folder

        why = f"{_failure(e)}, while the output files were written; the time series and " \
            "results are complete, the figures may be missing (run again with --overwrite)"
        with signals_held():  # a second Ctrl-C waits for these two files
            run_folder.write_series_and_summary(
                self, dc.replace(result, status="failed", error=why))

    def _timing(self, started: float, t_solve: float) -> dict:
        solve_s = time.perf_counter() - t_solve
        mech = self.mechanics_monitor
        mech_s = mech.seconds if mech else 0.0
        return {"mesh": self.mesh_s, "solve": solve_s, "thermal": solve_s - mech_s,
                "mechanics": mech_s, "total": time.perf_counter() - started}

    @property
    def mechanics_monitor(self):
        return next((m for m in self.monitors if m.at_save_times), None)

    # ------------------------------------------------------------------ the result
    def result(self, status: str, error: str | None, timing: dict, start_utc: str) -> RunResult:
        """The typed result of the run so far."""
        case, prep = self.case, self.prep
        series = TimeSeries(self.columns, self.units, self.rows)
        mech = self.mechanics_monitor
        temps = self.monitors[1]  # RegionTemperatures
        regions = {}
        for j, r in enumerate(prep.mats):
            m = prep.mats[r]
            regions[r] = {"min": temps.coldest[r], "damage": m.damage_K - C,
                          "melting": m.melting_K - C}
            if self.rows:
                regions[r]["max"] = max(row[4 + j] for row in self.rows)
        checks = check(limits_for(case, prep.mats), series.time,
                       {n: series[n] for n in series.names}) if self.rows else []
        return RunResult(
            case.title, case.hash(), case.to_dict(), status, error, series, checks,
            mech.summary(series) if mech else None, regions, self._beam_summary(),
            self._numerics(), timing, start_utc, __version__,
            output.provenance(self.comm.size),
            str(self.mesh_path) if self.mesh_path else None,
            tuple(p.name for p in case.probes if "T" in p.quantities), case.loading.single_load, self.out,
            life_summary(prep.mats["target"], series.time, series["T_peak_C"],
                         rated_life_h(case), case.loading.repeat_every_s)
            if self.rows else {}, case.loading.load_end_s)

    def _beam_summary(self) -> dict:
        b, prep, spot, ef = self.case.beam, self.prep, self.prep.spot, self.prep.extra_focal
        shares, mean_depth = deposition_summary(spot)
        return {"beam_power_W": b.power_W, "backscatter_energy_fraction": prep.eta,
                "backscatter_coefficient": backscatter_coefficient(self.case, prep),
                "incidence_deg": incidence_deg(getattr(prep.lay, "frame", None)),
                "deposited_power_W": b.power_W * prep.p_dep, "deposition": spot.deposition,
                "deposited_share": shares,
                "mean_deposition_depth_um": mean_depth * 1e6,
                "extra_focal_power_W": b.power_W * ef.extra_focal_fraction,
                "xray_power_W": b.power_W * ef.xray_fraction,
                "extra_focal": extra_focal_summary(ef, b.power_W),
                "heat_input_integral_ratio": self.problem.heat_input_per_W() / (
                    1.0 + ef.per_deposited_W()),
                "kernel_tables": dict(spot.kernel.table_materials) if spot.kernel else None,
                "electron_range_um": {layer.region: layer.range_m * 1e6
                                      for layer in spot.layers},
                "deposition_depth_um": prep.zone_depth * 1e6,
                "size_definition": b.size_definition,
                "given_size_um": (b.given_size_m or b.size_m) * 1e6,
                "beam_size_um": b.size_m * 1e6,
                "focal_spot_um": predicted_sizes(spot),
                "source_integral_ratio": self.problem.source_ratio,
                **self._spot_view()}

    def _spot_view(self) -> dict:
        """3-D models: footprint and effective focal spot along the view (drift.py)."""
        if self.case.geometry.dim != 3:
            return {}
        from .drift import focal_spot_view

        view = focal_spot_view(self.case, self.prep.lay, self.prep.spot)
        view.pop("incidence_deg")  # already in the summary
        return view

    def _numerics(self) -> dict:
        p, mech = self.problem, self.mechanics_monitor
        return {"cells": self.domain.cells, "dofs": p.V.dofmap.index_map.size_global,
                "time_steps": len(self.prep.steps) if self.case.loading.kind != "steady" else 0,
                "factorisations": p.factorisations, "newton_iterations": p.newton_iterations,
                "power_continuations": p.continuations, "linear_solver": p.solver,
                "linear_rtol": p.rtol if p.solver == "iterative" else None,
                "linear_iterations": p.linear_iterations,
                "mechanics_linear_iterations": mech.solver.linear_iterations if mech else 0,
                "temperature_dependent": p.nonlinear,
                "time_scheme": "BDF2 (variable step), backward Euler at each power switch",
                **({} if self.spot_element_ratio() is None else
                   {"spot_element_per_spot_size": self.spot_element_ratio()})}


@contextlib.contextmanager
def physical_cause(problem, power_W: float, t: float | None):
    """Name the physics behind a solver failure: when Newton fails and the temperatures it
    was left with melt a region or leave a material table, the failure is that (an
    OutOfRangeError saying so, with the beam power and time), not the solver's."""
    from .materials import MeltingError, OutOfRangeError
    from .thermal import SolverError

    when = "in the steady state" if t is None else f"at t = {t:.4g} s"
    try:
        yield
    except SolverError as e:
        try:
            problem.check_range()  # the state the failed Newton iteration left
        except OutOfRangeError as cause:
            what = (f"the {str(cause).split(' (')[0]} {cause.verb} at a {power_W:.4g} W beam"
                    if isinstance(cause, MeltingError) else
                    f"the temperature leaves the material data at a {power_W:.4g} W beam")
            message = f"{cause} when the solver failed {when} ({e}): {what}; " + \
                melt_advice(problem)
            raise (MeltingError(message, cause.kind) if isinstance(cause, MeltingError) else
                   OutOfRangeError(message)) from e
        except SolverError:
            pass
        raise
    except OutOfRangeError as e:
        if not isinstance(e, MeltingError) or "expected" in str(e):
            raise
        # a converged step that melts a region (ThermalProblem.check_range): say where the
        # heat is held, so that the change asked for is the one that helps
        raise MeltingError(f"{e} {when} at a {power_W:.4g} W beam; "
                           f"{melt_advice(problem)}", e.kind) from None


def melt_advice(problem) -> str:
    """What to change when a region melts, from where the heat is (K ranges of the regions
    over the initial temperature): the whole body more than half-way to its hottest rise
    (its coldest point too) cannot shed the power, so its cooling must grow (a 10 W steady
    state through h = 10 W/m²K on the rod's end); the whole hottest region so, with the
    body's coldest point cool, holds the heat behind its joint (an insert behind a 100
    W/m²K contact); a face with a heat flux into the body that holds the hottest node, hotter
    than the beam face, is named with its q_W_m2 (the beam's power and spot do not help;
    with the whole body hot, its q_W_m2 is named beside the beam power); else the spot
    itself melts (a lower power, a larger spot). A joint with
    a conductance whose two sides are far apart is named in the last two, with its value: it
    can hold the heat in the layer above it (a W film on diamond behind 1e3 W/m²K melts in
    1 µs at 6 W; at the measured 2.05e8 it stays at 550 °C)."""
    T0 = problem.T_init
    ranges = problem.region_ranges()
    region, (lo, hi) = max(ranges.items(), key=lambda kv: kv[1][1])
    coldest = min(r[0] for r in ranges.values())
    rise = hi - T0
    # the joints that hold heat back: hottest nodes of their two sides a quarter of the rise
    # apart (a 1e3 W/m²K film joint: thousands of K; the shipped insert's 1e6 W/m²K joint,
    # 1 mm below a spot melting in 6 µs: both sides still at the initial temperature)
    joints = " or ".join(
        f"interfaces.{i.name}.conductance_W_m2K (now {i.conductance:g})"
        for i in getattr(problem, "interfaces", ())
        if abs(problem.face_max([i.side_a]) - problem.face_max([i.side_b])) > 0.25 * rise)
    heated = {name: b.q_W_m2 for name, b in getattr(problem, "boundaries", {}).items()
              if b.type == "heat_flux" and b.q_W_m2 > 0}
    inputs = "".join(f" or a lower boundaries.{f}.q_W_m2 (now {q:g})"
                     for f, q in heated.items())
    if coldest - T0 > 0.5 * rise:
        circuit = "" if getattr(problem, "coolant", None) is None else (
            " (with the coolant circuit: a larger coolant_circuit.cooler_conductance_W_per_K)")
        return (f"the whole body is hot (its coldest point {coldest - 273.15:.5g} °C): the "
                "cooled faces cannot carry the power away; expected more cooling (a larger "
                f"h_W_m2K or cooled face, a colder coolant{circuit}) or a lower beam power"
                + inputs)
    hottest = _hottest_heated_face(problem, heated, hi, rise)
    if hottest is not None:
        face, T_face, T_beam = hottest
        return (f"the heat_flux face {face} is where it is hottest ({T_face - 273.15:.5g} °C, "
                f"the beam face {T_beam - 273.15:.5g} °C): its heat input, not the beam, "
                f"melts it; expected a lower boundaries.{face}.q_W_m2 (now {heated[face]:g}) "
                "or more cooling near that face")
    if lo - T0 > 0.5 * rise and len(ranges) > 1:
        joint = f"a better joint (a higher {joints}) or " if joints else ""
        return (f"the whole {region} is hot (its coldest point {lo - 273.15:.5g} °C): the "
                f"heat does not leave it; expected {joint}better cooling of it, or a lower "
                "beam power")
    return "expected a lower beam power or a larger spot" + (f", or a higher {joints}"
                                                            if joints else "")


def _hottest_heated_face(problem, heated: dict, hi: float,
                         rise: float) -> tuple[str, float, float] | None:
    """(face, its hottest node K, the beam face's K) of the face with a heat flux into the
    body (heated: face → q > 0) that holds the hottest node (hi, within 1 % of the rise)
    and is hotter than the beam face; None when there is none: the beam heats most."""
    if not heated:
        return None
    beam = problem.face_max(["beam_face"])
    hot = {f: problem.face_max([f]) for f in heated}
    face = max(hot, key=hot.get)
    return (face, hot[face], beam) if hot[face] >= hi - 0.01 * rise and hot[face] > beam \
        else None


def _failure(e: BaseException) -> str:
    """The summary's error text: the message of a run failure, else the exception's type too."""
    from .materials import OutOfRangeError
    from .thermal import SolverError

    if isinstance(e, (SolverError, OutOfRangeError)):
        return str(e)
    text = str(e) or ("interrupted (Ctrl-C or SIGINT)" if isinstance(e, KeyboardInterrupt)
                      else "no message")
    return f"{type(e).__name__}: {text}"


def build_problem(case: Case, prep, comm, out: Path | None = None):
    """Mesh (built, or read from mesh.file) and the heat problem of a prepared case.

    Returns:
        (domain, problem, interfaces, mesh_path); a built mesh is written to out/mesh.msh
        with its description beside it (mesh.json).
    """
    with signals_held():  # (errors.signals_held: gmsh's and dolfinx's callbacks)
        built = _build_problem(case, prep, comm, out)
    # returned after the block, not from it (errors.signals_held: a value returned from the
    # block is dropped while the held interrupt is raised, and freeing a mesh then left
    # mpi4py's lock held: the process hung)
    return built


def _build_problem(case: Case, prep, comm, out: Path | None):
    from . import thermal

    domain, mesh_path = _mesh(case, prep, comm, out)
    regions = regions_of(case.geometry)
    for region in regions:
        if region not in domain.groups:
            raise CaseError(f"mesh.file = {case.mesh.file!r}: expected a physical group "
                            f"named '{region}'")
    interfaces = []
    for name, h in case.interfaces.items():
        sides = [f"{name}@{r}" for r in regions if f"{name}@{r}" in domain.groups]
        if len(sides) != 2:
            raise CaseError(f"interfaces.{name}: the mesh does not split this interface "
                            "(rebuild it without mesh.file)")
        interfaces.append(thermal.Interface(name, sides[0], sides[1], h))
    lay, spot = prep.lay, prep.spot
    problem = thermal.ThermalProblem(
        domain, prep.mats, case.boundaries, interfaces, spot, lay.z_beam,
        case.initial_temperature_K, case.time.newton_tol_K,
        frame=lay.frame if case.geometry.dim == 3 else None,
        solver=case.numerics.solver, rtol=case.numerics.rtol,  # "auto": by size (thermal)
        extra_focal=prep.extra_focal, circuit=case.coolant_circuit)
    return domain, problem, interfaces, mesh_path


def _mesh(case: Case, prep, comm, out: Path | None):
    """(domain, mesh path): the user's mesh, a reused one, or one built with gmsh."""
    if case.geometry.kind == "user_mesh":
        um = geometry.user_mesh
        return um.to_dolfinx(comm, um.load(case.geometry)), Path(case.geometry.file)
    if case.mesh.file:
        mesh_path = Path(case.mesh.file)
        try:
            domain = geometry.to_dolfinx(comm, path=mesh_path, gdim=case.geometry.dim)
        except Exception as e:  # noqa: BLE001 - gmsh raises plain Exceptions
            raise geometry.mesh_file_error(case, unreadable=e) from None
        if domain.mesh.topology.dim != case.geometry.dim:
            raise geometry.mesh_file_error(
                case, cells=f"a mesh of {domain.mesh.topology.dim}-D cells")
        return domain, mesh_path
    rank0 = comm.rank == 0
    mesh_path = out / "mesh.msh" if out is not None else None
    cached = _mesh_cache_file(case, prep)
    if cached is not None:
        return _cached_mesh(case, prep, comm, mesh_path, cached)
    # Every built mesh is read back from its .msh file, as a sweep's cases and a run with
    # mesh.file read theirs: the model's own nodes differ from the file's by up to 1e-14 m
    # (gmsh places a periodic interface's nodes again as it reads), so a run on the model
    # differed from the same case in a sweep in the last digits
    with contextlib.ExitStack() as stack:
        path = model = None
        with rank_zero_alone(comm):  # the other ranks would wait in the read for ever
            if rank0:
                path = mesh_path or _temporary_mesh_path(stack)
                ahead = stack.enter_context(geometry.ahead.taken(mesh_key(case, prep)))
                if ahead is not None:  # built while this process imported dolfinx
                    _place(ahead, path)
                else:
                    model = _build_to(case, prep, path, mesh_path is None)
                    if model is not None:  # read below, then the gmsh session is ended
                        stack.callback(model.finalize)
                        path = None
                if mesh_path is not None:
                    output.write_json(mesh_path.with_suffix(".json"),
                                      _mesh_sidecar(case, prep))
        # (other ranks pass neither: to_dolfinx reads on rank 0 only)
        domain = geometry.to_dolfinx(comm, model=model and model.model, path=path,
                                     gdim=case.geometry.dim)
    return domain, mesh_path


def _temporary_mesh_path(stack: contextlib.ExitStack) -> Path | None:
    """mesh.msh in a temporary folder removed with the stack, or None where the system's
    temporary folder is full or unusable (the run then reads the meshed model)."""
    try:
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="anodesim-mesh-"))
    except OSError:
        return None
    return Path(folder) / "mesh.msh"


def _build_to(case: Case, prep, path: Path | None, scratch: bool):
    """Mesh the case with gmsh and write it to path, ending the session: None, the mesh is
    read from path. Only where path is scratch (a run without an output folder) and cannot
    be written (None: a full or unusable temporary folder): the gmsh module with the meshed
    model, which the caller reads and finalises. That model's nodes differ from the file's
    by up to 1e-14 m (a run on it differs from one on the file in the last digits), but a
    run, or a whole rating, that writes nothing does not fail for a full /tmp."""
    gm = geometry.build_mesh(case, prep)
    try:
        if path is None:
            return gm
        geometry.mesh.write(gm, path)
    except Exception:  # noqa: BLE001 - gmsh raises plain Exceptions; OSError: cut short
        if not scratch:
            gm.finalize()
            raise
        return gm
    gm.finalize()
    return None


def _place(built: Path, path: Path) -> None:
    """Move a .msh file built elsewhere to path, atomically (across file systems, the
    system's temporary folder and the run's, a copy written by output.atomic_write)."""
    import os

    try:
        os.replace(built, path)
    except OSError:
        output.atomic_write(path, built.read_bytes())


def _mesh_sidecar(case: Case, prep) -> dict:
    """mesh.json: what the mesh was built for (geometry, split interfaces) and how it is
    refined, for a later run that reuses it (mesh.file)."""
    return mesh_description(case) | {
        "refinement": mesh_refinement(case, prep.lay, prep.spot, prep.zone_depth)}


#: A folder of meshes shared by the cases of a sweep (set by the sweep's workers): cases
#: whose mesh inputs are equal read the mesh built by the first of them.
MESH_CACHE_ENV = geometry.ahead.MESH_CACHE_ENV


def _mesh_cache_file(case: Case, prep) -> Path | None:
    """The shared mesh file of this case's mesh inputs, or None without a mesh cache."""
    import os

    folder = os.environ.get(MESH_CACHE_ENV)
    if not folder:
        return None
    return Path(folder) / f"{mesh_key(case, prep)}.msh"


def _cached_mesh(case: Case, prep, comm, mesh_path: Path | None, cached: Path):
    """(domain, mesh path) from the mesh cache, building the mesh first if it is missing.

    Every case of a cached sweep reads its mesh from the file (also the case that built it),
    so equal inputs give bit-identical meshes whichever case ran first."""
    import os

    rank0 = comm.rank == 0
    with rank_zero_alone(comm):  # (a barrier: the other ranks wait for the file)
        if rank0 and not cached.exists():
            cached.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f".{cached.stem}.", suffix=".msh",
                                        dir=cached.parent)
            os.close(fd)
            tmp = Path(name)
            try:
                geometry.build_mesh(case, prep, tmp)  # (a CAD part too: it failed here)
                import gmsh

                gmsh.finalize()
                os.replace(tmp, cached)  # atomic: a concurrent reader sees all or nothing
            finally:
                tmp.unlink(missing_ok=True)  # a failed or interrupted build leaves nothing
    if rank0 and mesh_path is not None:
        output.atomic_write(mesh_path, cached.read_bytes())
        output.write_json(mesh_path.with_suffix(".json"), _mesh_sidecar(case, prep))
    return geometry.to_dolfinx(comm, path=cached, gdim=case.geometry.dim), mesh_path


class _Progress:
    """One status line on stderr (rank 0), refreshed at most twice a second."""

    def __init__(self, enabled: bool, total: int):
        self.enabled, self.total, self.last = enabled, total, 0.0
        self.tty = sys.stderr.isatty()

    def __call__(self, i: int, t: float, T_peak_C: float, force=False) -> None:
        now = time.perf_counter()
        if not self.enabled or (not force and now - self.last < (0.5 if self.tty else 5.0)):
            return
        self.last = now
        line = f"  t = {t:.4g} s   step {i}/{self.total}   peak {T_peak_C:.1f} °C"
        sys.stderr.write(("\r" + line.ljust(70)) if self.tty else line + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            sys.stderr.write("\n")


def run(case: Case, out_dir: str | Path | None = None, *, progress: bool = False,
        comm=None) -> RunResult:
    """Run one case; write its outputs to out_dir (None: write nothing).

    Args:
        case: a validated case.
        out_dir: run directory (created if missing).
        progress: show a status line on stderr.
        comm: MPI communicator (default COMM_WORLD).

    Returns:
        The run's typed result (time series, limits, drift, summary_dict()).

    Raises:
        CaseError: a problem with the case found while setting up (e.g. the electron range
            exceeds the target stack, or a reused mesh lacks a named group).
    """
    return Simulation(case, out_dir, comm=comm, progress=progress).run()
