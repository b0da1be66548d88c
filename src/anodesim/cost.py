"""What a case will cost before it runs: cells and dofs from a fast mesh-size estimate,
time steps, and the wall time and memory on this machine, with the derived figures that
`anodesim check` prints (beam and deposited power, electron range and deposition depth,
magnification, the limits in force).

The cell count integrates the mesh's own size field, h = min(h_max, h_min + growth · ρ)
with ρ the distance from the deposition zone (geometry/axisym.py, reflection3d.py), over
the body: cells ≈ K_d ∫ dV / h^d, the level sets of ρ taken as those of the zone in a
half-space. K_d is calibrated on meshes gmsh built (CALIBRATION below).

Wall time and memory come from measured runs (CALIBRATION), scaled to this machine by a
small timing of its own (machine_timing: numpy conjugate gradients on a 120 × 120 grid's
Laplacian, best of 5) against the same timing on the machine they were measured on. The
estimate is for one process, warm form cache; it is an order of magnitude (within about 2×
on the cases tried; the load of a shared machine changes while a case runs).
Imports no dolfinx.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .beam import smallest_feature
from .case import Case, CaseError

#: Time coefficients, fitted to the CPU time (user + system; the wall time of a run that has
#: a core to itself) per stage of runs measured on the 2-core sandbox (AMD EPYC Zen 4) on
#: 2026-12-04 15:40-15:45 UTC at load average 0.4-0.9, by ``studies/benchmark_3d.py
#: --stages CASE``, with a machine timing of 4.86-4.99 ms (machine_timing; FIT_TIMING_S):
#:   studies/reflection_insert.toml (2-D): 3242 cells, 1747 dofs, 209 steps, 20 elastic
#:     solves; heat steps + per-step monitors 1.05 s, elastic 0.28 s, mesh + set-up 0.33 s
#:   studies/transmission_target.toml (2-D): 10 573 cells, 5678 dofs, 2720 steps, 3 solves;
#:     steps + monitors 34.48 s, elastic 0.22 s, mesh + set-up 0.47 s
#:   studies/reflection_3d.toml (3-D, "lu" path): 16 365 cells, 3546 dofs, 209 steps, 20
#:     solves; steps + monitors 4.71 s, elastic 1.40 s, mesh + set-up 1.09 s
#:   studies/scale_3d.toml at growth 0.1 (3-D, "gamg" path): 159 091 cells, 28 411 dofs,
#:     20 steps, 5 solves; steps + monitors 13.96 s, elastic 9.30 s, mesh + set-up 7.33 s
#:   studies/scale_3d.toml (growth 0.04, "gamg"): 1 547 861 cells, 259 081 dofs, one rank:
#:     mesh 84 s; 20 steps and 5 solves 305 s (studies/benchmark_scale.py, wall; measured
#:     2026-12-03, not re-measured)
#: 2-D: steps a + b × dofs through both cases, elastic solves b × dofs (least squares),
#: mesh + set-up a + b × cells through both. 3-D, per linear-solver path (solver_path): b
#: only; "lu" from the 3-D example; "gamg" from the 159 k-cell run, steps and solves scaled
#: by 1.10, the least-squares factor in relative error of both gamg runs (the 159 k-cell
#: run then +13 %, the 1.5 M-cell run -18 %; GAMG's CG iterations per step grow with the
#: mesh, so its cost per dof is 4x the LU path's), mesh the mean of the three 3-D runs
#: (each within 21 %). Per dimension and path: seconds per time step, per elastic solve
#: (× dofs), and for the mesh and the problem's set-up (× cells), at the machine timing
#: `timing`. The fit before (2026-12-03) over-estimated today's code: the shipped
#: reflection example at 4 s of wall time against 2.3-2.9 s measured (its elastic solves
#: 2.2x, its start-up and outputs 1.4-2.2x); the fit before that (2026-12-02, Intel Xeon
#: sandbox at load 5) scaled by this machine's timing put the 1.5 M-cell run at 68 s
#: instead of 390 s. The machine timing is a rough proxy of a machine's speed for this
#: work, so the estimate is good to about ±25 % on the machine of the fit and to a factor
#: of about 2 on others. A loaded machine stretches the wall time beyond the CPU time.
#: The machine timing of the fit in machine_timing's kernel, measured in fresh processes
#: at the refit (2026-12-04 15:40-16:10: 4.86-4.99 ms). The fit before took 0.040 s of a
#: scipy sparse LU × 0.13 (the median ratio of this kernel's time to the LU's in
#: interleaved pairs, 2026-12-04 00:37: 5.2 ms); the 1.5 M-cell run above was timed then.
#: On another machine the timing is a rough proxy (above): good to a factor of about 2.
FIT_TIMING_S = 0.0049
COEFFICIENTS = {
    2: {"lu": {"step": (1.62e-3, 1.95e-6), "solve": (0.0, 8.96e-6), "mesh": (0.268, 19.1e-6),
               "timing": FIT_TIMING_S}},
    3: {"lu": {"step": (0.0, 6.36e-6), "solve": (0.0, 19.7e-6), "mesh": (0.0, 55.7e-6),
               "timing": FIT_TIMING_S},
        "gamg": {"step": (0.0, 27.1e-6), "solve": (0.0, 72.1e-6), "mesh": (0.0, 55.7e-6),
                 "timing": FIT_TIMING_S}},
}
#: Cells per ∫dV/h^d of the size field, K = a + b × growth, fitted to gmsh's meshes: 2-D
#: (b = 0) within 10 % of the real count for the shipped examples, the test cases and a
#: 0.5 µm spot (1.8 k to 221 k cells; tests/test_cost.py). 3-D: gmsh puts more cells per
#: ∫dV/h³ into a steeply graded mesh; least squares on the 3-D example
#: (studies/reflection_3d.toml) meshed at growth 0.3, 0.2, 0.15, 0.1, 0.07, 0.05, 0.04
#: (16 365, 33 745, 62 400, 159 091, 380 797, 880 419, 1 547 861 cells, counted by
#: mesh_cells on 2026-12-02; MEASURED_3D_CELLS): within 2 % at every one.
K_CELLS = {2: (2.48, 0.0), 3: (4.31, 7.20)}
#: mesh.growth → cells gmsh built for studies/reflection_3d.toml (the K_CELLS[3] fit).
MEASURED_3D_CELLS = {0.3: 16_365, 0.2: 33_745, 0.15: 62_400, 0.1: 159_091, 0.07: 380_797,
                     0.05: 880_419, 0.04: 1_547_861}
#: Process start-up, imports and the output files (s): the whole process's wall time less
#: the run's own (summary.json timing_s.total) of studies/reflection_insert.toml, three
#: runs each, 2026-12-04: 1.37-1.57 s with the figures drawn in process (a sweep's worker,
#: a busy machine), 0.86-0.91 s with the figure process on an idle core: 1.5 s taken.
#: Form compilation of a new case kind on a cold cache (and the electron kernels' fits):
#: the same run with an empty cache took 4.0 s longer (2-D), studies/reflection_3d.toml
#: 2.9 s (2.7 and 8.8 s warm).
STARTUP_S, FIRST_COMPILE_S = 1.5, 5.0
#: Peak memory (resident set, MiB) of one process: a + b × cells / 1024 (b in KiB per cell),
#: per dimension and linear-solver path (solver_path). 2-D, fitted to the relative error of
#: five `anodesim run` processes of studies/reflection_insert.toml (10 s, drift at 20 saves,
#: the figures drawn in process: a sweep worker's, or a run on a busy machine) at mesh
#: (spot_fraction, growth) (0.05, 0.15), (0.05, 0.05), (0.03, 0.03), (0.02, 0.02),
#: (0.015, 0.015): 2 350 cells 206 MiB, 10 307 cells 296 MiB, 28 323 cells 529 MiB,
#: 63 320 cells 994 MiB, 112 392 cells 1 677 MiB (2026-12-03, the Zen 4 sandbox; the
#: direct solver's LU fill, PETSc's below 15 000 rows and MUMPS' above, grows about
#: linearly here); within -1 % to +5 % of each, mostly above. (The figure before, 330 MiB
#: + 6 KiB a cell from one small run, was 41 % low at 112 k cells.)
#: 3-D, least squares on runs of the 3-D example (studies/reflection_3d.toml) at several
#: mesh growths, one rank, the API's run without figures (an `anodesim run` of the example
#: with its figures drawn in process peaks about 30 MiB higher: 303 against 274 MiB;
#: 20 transient steps and the drift at 2 save times: the peak comes with
#: the first factorisation or hierarchy, not with the step count; 2026-12-02):
#:   "lu" (CG with an LU-factorised preconditioner, up to solver_choice.LU_PC_MAX_NODES
#:   nodes; MUMPS' fill grows faster than the cells): 16 365 cells 274 MiB, 33 745 cells
#:   402 MiB, 62 400 cells 648 MiB;
#:   "gamg" (CG + GAMG above it): 159 091 cells 463 MiB (as these), 880 419 cells
#:   1 720 MiB and 1 547 861 cells 2 942 MiB (studies/benchmark_scale.py, steady state +
#:   20 steps, README § Performance).
#: The 7.4 KiB per cell used before for every 3-D case came from runs that kept a GAMG
#: hierarchy per step size (before issue 15 shared one); it put the 1.5 M-cell case at
#: 18.7 GB. Two ranks hold 2 × 2 404 MiB of that case (gmsh's whole mesh on rank 0 first):
#: the estimate is for one process.
#: (cells, nodes) of the 3-D example's meshes above (MEMORY; 2-D: 0.54 nodes a cell): the
#: nodes per cell fall from 0.217 to 0.167 (the bulk's 1/6) as the mesh grows;
#: interpolated in log(cells), constant beyond the ends.
NODES_3D = ((16_365, 3_546), (33_745, 6_671), (62_400, 11_769), (159_091, 28_411),
            (880_419, 149_008), (1_547_861, 259_081))
MEMORY = {2: {"lu": (175.0, 13.5), "gamg": (175.0, 13.5)},
          3: {"lu": (141.0, 8.19), "gamg": (181.0, 1.81)}}  # within 2 % of every run above
#: Above these, check warns and suggests how to make the case cheaper.
WARN_S, WARN_MIB = 60.0, 4096.0
#: run refuses (unless --force) above these estimated cells.
ABSURD_CELLS = {2: 1_000_000, 3: 5_000_000}


#: A rating of every chart against one run of the case, in wall time (low, high): about 40
#: full FE runs (confirmations, chart anchors, a serial anchor several times a run), some
#: shorter than a run (steady states) and some taken again. Measured on this sandbox
#: 2026-12-05: reflection_insert.toml 25-45 s against its 2.3-3 s run (8-15x; the low end
#: was 10x until review: the range printed then excluded the measurement it quoted, and a
#: 0.01 s load of that insert rated in 27 s against its 3 s estimate, 9x);
#: transmission_target.toml 7.3 min against its 36 s estimate (12x; 22 min before a search
#: took an earlier run's results again). A rough range: only the searches of the case's own
#: schedule (its maximum safe loading, and a pulse train's at each life of the life chart
#: where a life-dependent limit binds) grow with its run, the charts' runs do not.
RATING_RUNS = (8.0, 20.0)


@dataclass
class Cost:
    """The estimate for one case (SI; memory in MiB)."""

    dim: int
    cells: int
    dofs: int
    steps: int
    solves: int
    wall_s: float
    memory_mib: float
    machine_factor: float
    solver_path: str = "lu"
    #: what shortens the schedule's steps: most of them at time.max_step_s, or (a pulse
    #: train, a schedule of many segments) held short by their segments
    step_remedy: str = "shorten the schedule or raise time.max_step_s"
    #: what takes fewer cells (mesh_remedy)
    mesh_remedy: str = ""

    def warnings(self) -> list[str]:
        """Warnings with a suggestion, above a minute or 4 GiB."""
        out = []
        if self.wall_s > WARN_S or self.memory_mib > WARN_MIB:
            out.append(f"this case is expensive (about {_duration(self.wall_s)}, "
                       f"{self.memory_mib / 1024:.1f} GiB): "
                       f"{self.mesh_remedy or COARSER_MESH}, {self.step_remedy}, or check "
                       "the spot size's unit")
        return out


COARSER_MESH = ("coarsen the mesh ([mesh]: larger spot_fraction or growth, or max_size_mm; a "
                "user's mesh in its mesher)")


def mesh_remedy(case: Case, prep) -> str:
    """How to take fewer cells. When the deposition depth sets the smallest cell (a quarter
    of it, mesh_sizes: a spot much wider than the electron range), spot_fraction changes
    nothing and a larger spot makes more cells: an 800 µm spot at 160 kV on W is meshed at
    4 µm through its whole 16 µm-deep zone (15.6 M cells on a 16 mm rod), and surface
    deposition, exact to about the depth over the spot, needs none of them."""
    from .geometry import mesh_sizes

    spot = prep.spot
    if case.geometry.kind == "user_mesh" or spot.deposition == "surface" or \
            not math.isclose(mesh_sizes(case, spot)[0], 0.25 * spot.depth_m):
        return COARSER_MESH
    return (f"coarsen the mesh: its cells through the deposition zone are a quarter of the "
            f"{spot.depth_m * 1e6:.3g} µm deposition depth across the whole "
            f"{spot.smallest_m * 1e6:.3g} µm spot, whatever [mesh] spot_fraction says; a spot "
            f"{spot.smallest_m / spot.depth_m:.0f}× wider than that depth is well modelled "
            "by beam.deposition = \"surface\" (an upper estimate of the peak), which needs "
            "none of them")


def _duration(s: float) -> str:
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.0f} min" if s < 7200 else f"{s / 3600:.1f} h"


_bench_s: float | None = None
#: How long machine_timing repeats its kernel (s, at least 5 times): the sandbox's CPU runs
#: the first 20-100 ms of a burst of work 1.5x slower (the kernel's 7.2-8.8 ms, then
#: 4.9-5.6 ms, in sequences of 16 in fresh processes, 2026-12-04), and a best of 5 caught
#: the slow phase in one `check` of three: the run-time estimate 1.5x too high.
MACHINE_TIMING_S = 0.15


def laplacian_csr(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 5-point Laplacian of an n × n grid (Dirichlet: 4 on the diagonal, −1 for each
    neighbour in the grid) as CSR arrays sorted by row: (columns, values, row starts), so
    that ``np.add.reduceat(values * x[columns], starts)`` is the product with x."""
    grid = np.arange(n * n).reshape(n, n)
    rows, cols, vals = [grid.ravel()], [grid.ravel()], [np.full(n * n, 4.0)]
    for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        here = grid[max(di, 0):n + min(di, 0), max(dj, 0):n + min(dj, 0)]
        there = grid[max(-di, 0):n + min(-di, 0), max(-dj, 0):n + min(-dj, 0)]
        rows.append(here.ravel())
        cols.append(there.ravel())
        vals.append(np.full(here.size, -1.0))
    r, c, v = (np.concatenate(x) for x in (rows, cols, vals))
    order = np.lexsort((c, r))
    starts = np.flatnonzero(np.r_[True, np.diff(r[order]) != 0])  # every row has its diagonal
    return c[order], v[order], starts


def machine_timing() -> float:
    """This machine's time (s) for the reference kernel, the best of its repeats for
    MACHINE_TIMING_S, cached per process.

    The kernel is 20 conjugate-gradient iterations on the 5-point Laplacian of a 120 × 120
    grid (laplacian_csr), its matrix-vector products as numpy gathers over the CSR arrays:
    the memory-bound, irregular access of sparse assembly and solves, in numpy alone, so
    that ``anodesim check`` imports no scipy (the sparse LU timed here before cost it 0.27 s
    of import and 0.15 s of timing: about half of check's 0.6-0.8 s). The dot products are
    einsum's, not BLAS's: OpenBLAS would thread them (a caller's OPENBLAS_NUM_THREADS, or a
    script's default), and threads that wait for a busy core made the kernel 50× slower on
    a loaded machine, the estimate with it."""
    global _bench_s
    if _bench_s is None:
        n = 120
        c, v, starts = laplacian_csr(n)
        best = math.inf
        start = time.perf_counter()
        repeats = 0
        while repeats < 5 or time.perf_counter() - start < MACHINE_TIMING_S:
            repeats += 1
            t = time.perf_counter()
            x, res = np.zeros(n * n), np.ones(n * n)
            p, rr = res.copy(), float(n * n)
            for _ in range(20):
                Ap = np.add.reduceat(v * p[c], starts)
                a = rr / np.einsum("i,i->", p, Ap)
                x += a * p  # unused after: CG's update, part of the work the reference timed
                res -= a * Ap
                rr, rr_old = np.einsum("i,i->", res, res), rr
                p = res + (rr / rr_old) * p
            best = min(best, time.perf_counter() - t)
        _bench_s = best
    return _bench_s


def size_integral(dim: int, h_min: float, growth: float, h_max: float, zone: tuple,
                  volume: float, body=None) -> float:
    """∫ dV / h^d over a body of the given volume (area in (r, z)) around the deposition
    zone: zone = (a, b) radius and depth in (r, z), (a1, a2, b) half-extents and depth in
    3-D (m).

    The level sets of the distance ρ from the zone are those of a half-space, until the
    body's volume is used up; with ``body`` = (origin, contains_all), the impact point (m)
    and a vectorised membership test of the real body (3-D), each level set is scaled by
    the fraction of the sphere of radius ρ around the impact point that lies in the body
    (relative to the half-space's, at ρ → 0) instead: a rod is a half-space only out to
    its radius, and beyond it the far, coarse part of the rod lies farther from the spot
    than the half-space puts it (the estimate without it was 64 % high at 1.5 M cells)."""
    rho_end = 10.0 * (volume ** (1.0 / dim))
    rho = np.concatenate([[0.0], np.geomspace(1e-4 * h_min, rho_end, 4000)])
    if dim == 2:
        a, b = zone
        level = a + b + 0.5 * math.pi * rho  # length of the level set of ρ
    else:
        a1, a2, b = zone
        level = (math.pi * a1 * a2 + math.pi * (a1 + a2) * (b + 0.5 * math.pi * rho)
                 + 2.0 * math.pi * rho * (rho + b))
    h = np.minimum(h_max, h_min + growth * rho)
    if body is not None:
        level = level * _body_fraction(rho, *body, scale=volume ** (1.0 / dim))
    dV = 0.5 * (level[1:] + level[:-1]) * np.diff(rho)
    # the body ends where its volume is used up (with `body`: where its fraction is 0)
    inside = np.cumsum(dV) <= volume if body is None else np.ones(len(dV), dtype=bool)
    zone_volume = (a * b if dim == 2 else math.pi * a1 * a2 * b)
    hm = 0.5 * (h[1:] + h[:-1])
    return zone_volume / h_min ** dim + float(np.sum(dV[inside] / hm[inside] ** dim))


def _body_fraction(rho: np.ndarray, origin, contains_all, scale: float,
                   directions: int = 1000, radii: int = 100) -> np.ndarray:
    """The fraction of the sphere of each radius rho (m) around origin inside the body,
    over that of the smallest sphere sampled (1e-3 × scale, m: a half-space there), at
    most 1: sampled on a Fibonacci lattice of directions at log-spaced radii, interpolated
    in log ρ (a few ms)."""
    i = np.arange(directions) + 0.5
    polar, azimuth = np.arccos(1.0 - 2.0 * i / directions), math.pi * (1.0 + 5 ** 0.5) * i
    unit = np.stack([np.cos(azimuth) * np.sin(polar), np.sin(azimuth) * np.sin(polar),
                     np.cos(polar)], axis=1)
    r = np.geomspace(1e-3 * scale, float(rho[-1]), radii)
    frac = contains_all(np.asarray(origin)[None, None, :]
                        + r[:, None, None] * unit[None, :, :]).mean(axis=1)
    frac = np.minimum(1.0, frac / frac[0])
    return np.interp(np.log(np.maximum(rho, r[0])), np.log(r), frac)


def mesh_cells(case: Case, prep) -> int:
    """The exact cell count: the user's mesh or the reused mesh file counted, or the mesh
    built by gmsh as a run would build it (a dry meshing, nothing written)."""
    from . import geometry

    dim = case.geometry.dim
    if case.geometry.kind == "user_mesh":
        return len(geometry.user_mesh.load(case.geometry).tets)
    gm = geometry.start_gmsh("count")
    try:
        if case.mesh.file:
            try:
                gm.merge(str(case.mesh.file))
            except Exception as e:  # noqa: BLE001 - gmsh raises plain Exceptions
                raise geometry.mesh_file_error(case, unreadable=e) from None
        else:
            gm.model.remove()
            geometry.build_mesh(case, prep)
        count = 0
        for _, tag in gm.model.getPhysicalGroups(dim):
            for ent in gm.model.getEntitiesForPhysicalGroup(dim, tag):
                count += sum(len(t) for t in gm.model.mesh.getElements(dim, ent)[1])
        if count == 0 and case.mesh.file:
            raise geometry.mesh_file_error(
                case, cells=f"no cells of dimension {dim} in its physical groups")
        return count
    finally:
        gm.finalize()


#: Geometries whose cells are counted, not estimated: a mesh the user made, and CAD bodies
#: (no size-field estimate of an arbitrary solid here) up to CAD_COUNT_CELLS.
COUNTED = ("user_mesh", "cad")
#: A CAD part is meshed to count its cells only when cad_cells estimates at most this many:
#: gmsh meshes it with a Python size callback, under held signals (Ctrl-C waits for it), at
#: about 2 700 cells/s on the loaded 2-core sandbox (233 070 cells in 85 s, 2026-12-05), and
#: an 800 µm spot on a 16 mm rod (kernel deposition at 160 kV: 4 µm cells through the
#: zone, an estimated 15.6 M cells) kept `check` meshing for over 10 min.
CAD_COUNT_CELLS = 500_000


def cad_cells(case: Case, prep) -> int:
    """A CAD part's cells estimated from the size field (milliseconds) in the half-space
    model of size_integral, the part's volume taken as its bounding box's and h_max
    clamped as cad.build does. The shipped STEP anode at spot_fraction 0.25, 0.1 and 0.05:
    34 932, 94 825 and 211 506 against 32 727, 97 622 and 233 070 meshed (+7 %, −3 %,
    −9 %; tests/test_cad.py holds the first to 10 %)."""
    from .geometry import mesh_sizes

    h_min, growth, h_max = mesh_sizes(case, prep.spot)
    lower, upper = (np.asarray(c, dtype=float) for c in prep.lay.bounds)
    h_max = max(min(h_max, 0.1 * float(np.linalg.norm(upper - lower))), h_min)
    _, a1, a2 = prep.lay.zone
    a, b = K_CELLS[3]
    return int((a + b * growth) * size_integral(3, h_min, growth, h_max,
                                                (a1, a2, prep.zone_depth),
                                                float(np.prod(upper - lower)), None))


def counted(case: Case, dry_mesh: bool, cells: int) -> bool:
    """Whether cell_count(case, prep, dry_mesh) that gave ``cells`` counted them in a mesh
    (else they are the size field's estimate)."""
    return bool(dry_mesh or case.mesh.file or case.geometry.kind == "user_mesh"
                or (case.geometry.kind == "cad" and cells <= CAD_COUNT_CELLS))


def cell_count(case: Case, prep, dry_mesh: bool = False) -> int:
    """The cells of a prepared case's mesh: counted in its mesh file, counted in a dry
    meshing (dry_mesh; a CAD part estimated at most CAD_COUNT_CELLS), or estimated from the
    size field (milliseconds, ±10 %; a larger CAD part: cad_cells)."""
    if case.geometry.kind == "cad" and not dry_mesh:
        estimate = cad_cells(case, prep)
        if estimate > CAD_COUNT_CELLS:
            return estimate
    if dry_mesh or case.mesh.file or case.geometry.kind in COUNTED:
        return mesh_cells(case, prep)
    return size_field_cells(case, prep)


def size_field_cells(case: Case, prep) -> int:
    """The cells of a built-in geometry's mesh estimated from the size field (milliseconds,
    ±10 %), also where a reused mesh file holds them (that mesh was made by the same size
    field: resolve.prepare checks it)."""
    from .geometry import mesh_sizes

    dim, spot = case.geometry.dim, prep.spot
    h_min, growth, h_max = mesh_sizes(case, spot)
    if dim == 2:
        volume = sum(_area(prep.lay.outline(r)) for r in prep.lay.regions)
        zone, body = (spot.radius_m, prep.zone_depth), None
    else:
        s = case.geometry.sizes_m
        volume = math.pi * s["anode_radius_m"] ** 2 * s["anode_length_m"]
        _, a1, a2 = prep.lay.zone
        zone = (a1, a2, prep.zone_depth)
        body = (prep.lay.frame.origin, prep.lay.contains_all)
    a, b = K_CELLS[dim]
    integral = size_integral(dim, h_min, growth, h_max, zone, volume, body)
    if dim == 2:
        integral += corner_integral(prep.lay, h_min, growth, h_max, zone)
    return int((a + b * growth) * integral)


def corner_integral(lay, h_min: float, growth: float, h_max: float, zone: tuple) -> float:
    """What the refined joint corners of an axisymmetric layout (lay.corners, lay.corner_size;
    geometry.axisym._size_field) add to ∫ dA / h²: around each corner, within the distance D
    where its size h_c + g d reaches the zone's size h_z there, ∫ (1/(h_c + g d)² − 1/h_z²)
    dA over the part of the disc inside the body (sampled in 64 directions at D / 4)."""
    from .geometry.axisym import CORNER_GROWTH as g, zone_size

    zone_h = zone_size(lay, h_min, growth, h_max, *zone)
    hc, total = lay.corner_size, 0.0
    angles = np.linspace(0.0, 2.0 * math.pi, 64, endpoint=False)
    for r, z in lay.corners if hc > 0 else ():
        hz = zone_h(r, z)
        if hz <= hc:
            continue
        D = (hz - hc) / g
        inside = np.mean([lay.contains(r + 0.25 * D * math.cos(t), z + 0.25 * D * math.sin(t))
                          for t in angles])
        disc = (2.0 * math.pi / g ** 2) * (math.log(hz / hc) + hc / hz - 1.0)
        total += inside * (disc - math.pi * D ** 2 / hz ** 2)
    return total


def estimate(case: Case, prep, dry_mesh: bool = False) -> Cost:
    """Cells, dofs, steps, wall time and memory of a prepared case (resolve.prepare).

    Args:
        dry_mesh: count the cells of the real mesh (gmsh, seconds to minutes) instead of
            estimating them from the size field (milliseconds); a mesh file is always
            counted.
    """
    from .resolve import save_times

    dim = case.geometry.dim
    cells = cell_count(case, prep, dry_mesh)
    dofs = nodes(dim, cells)
    steps = len(prep.steps)
    solves = (len(save_times(case)) or 1) if case.mechanics else 0
    path = solver_path(case, dofs)
    factor = machine_timing() / _coefficients(dim, path)["timing"]
    wall = factor * fitted_seconds(dim, path, cells, dofs, steps, solves) + STARTUP_S
    return Cost(dim, cells, dofs, steps, solves, wall, memory_mib(dim, path, cells), factor,
                path, step_remedy(case, prep), mesh_remedy(case, prep))


def step_remedy(case: Case, prep) -> str:
    """How to take fewer time steps: a larger time.max_step_s if most steps are at it;
    otherwise the segments hold them short (each restarts at time.initial_step_s and takes
    at least time.steps_per_segment steps), and max_step_s changes nothing; or, one load
    whose steps are still doubling, the first step and the doubling."""
    from .resolve import time_steps

    if not prep.steps:
        return "shorten the schedule or raise time.max_step_s"
    dt_max = time_steps(case, prep.spot, prep.mats)[1]
    at_max = sum(1 for s in prep.steps if s.dt >= dt_max * (1 - 1e-9))
    if 2 * at_max >= len(prep.steps):
        return "shorten the schedule or raise time.max_step_s"
    if case.loading.kind == "pulse_train":
        fewer = "fewer pulses (`anodesim rate` rates an endless train)"
    elif not case.loading.single_load:  # (a single load's pause up to repeat_every_s aside)
        fewer = "fewer segments"
    else:  # one load, its steps still doubling from the first: the doubling sets them
        return ("shorten the schedule, take a larger time.initial_step_s or a smaller "
                "time.steps_per_doubling")
    return f"take {fewer}, a smaller time.steps_per_segment or a larger time.initial_step_s"


def _coefficients(dim: int, path: str) -> dict:
    """The time coefficients of a dimension and solver path (2-D has one fit, from LU runs,
    used for either path)."""
    paths = COEFFICIENTS[dim]
    return paths.get(path, paths["lu"])


def fitted_seconds(dim: int, path: str, cells: int, dofs: int, steps: int,
                   solves: int) -> float:
    """CPU seconds of the mesh and set-up, the time steps (with their monitors) and the
    elastic solves on the machine of the fit (COEFFICIENTS; no start-up, no scaling)."""
    co = _coefficients(dim, path)
    linear = lambda key, n: co[key][0] + co[key][1] * n  # noqa: E731
    return (max(steps, 1) * linear("step", dofs) + solves * linear("solve", dofs)
            + linear("mesh", cells))


def nodes(dim: int, cells: int) -> int:
    """P1 nodes (temperature dofs) of a mesh of this many cells, as measured (NODES)."""
    if dim == 2:
        return int(0.54 * cells)
    c, n = np.array(NODES_3D).T
    return int(cells * np.interp(np.log(cells), np.log(c), n / c))


def solver_path(case: Case, dofs: int) -> str:
    """The linear solver a run of the case will use with this many temperature dofs
    (nodes), for the time and memory models: "lu" (a factorisation: the direct solver, or
    CG with an LU preconditioner) or "gamg" (CG + algebraic multigrid), as
    linalg.linear_solver chooses."""
    from .solver_choice import lu_preconditioned, resolve_solver

    dim = case.geometry.dim
    kind = resolve_solver(case.numerics.solver, dim, dofs)
    return "lu" if kind == "direct" or lu_preconditioned(dim, dofs) else "gamg"


def case_memory_mib(case: Case, prep) -> float:
    """Peak resident set (MiB) of one process running the prepared case (resolve.prepare):
    estimate()'s memory, without its machine timing, from the cells estimated without
    meshing (a CAD part: cad_cells; a built-in geometry: size_field_cells, its mesh file not
    read; a user's mesh counted): check's dry meshing of a CAD part takes up to minutes
    (CAD_COUNT_CELLS) and holds Ctrl-C."""
    dim, kind = case.geometry.dim, case.geometry.kind
    cells = (cad_cells(case, prep) if kind == "cad" else mesh_cells(case, prep)
             if kind == "user_mesh" else size_field_cells(case, prep))
    return memory_mib(dim, solver_path(case, nodes(dim, cells)), cells)


def memory_mib(dim: int, path: str, cells: int) -> float:
    """Peak resident set of one process (MiB) for a mesh of this many cells (MEMORY)."""
    base, kib = MEMORY[dim][path]
    return base + kib * cells / 1024.0


def _area(poly) -> float:
    x, y = np.asarray(poly)[:, 0], np.asarray(poly)[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def refusal(case: Case, prep) -> str | None:
    """Why a run refuses the case unless forced (absurd, with the cells the run would mesh:
    none counted for a mesh file or a user's mesh, made on purpose; a CAD part estimated
    by the size field over its bounding box, not meshed), or None. `anodesim run`,
    `anodesim rate`, anodesim.run, anodesim.rate and a sweep's run task ask it alike."""
    made = case.mesh.file or case.geometry.kind == "user_mesh"
    cells = 0 if made else cad_cells(case, prep) if case.geometry.kind == "cad" \
        else cell_count(case, prep)
    return absurd(case, cells, mesh_remedy(case, prep))


def refuse_absurd(case: Case, prep, who: str, forced_by: str) -> None:
    """Raise the refusal of an absurd case (refusal) as one CaseError line: who (the case
    file, or "case"), why, and what runs it anyway (forced_by: "--force runs it anyway")."""
    why = refusal(case, prep)
    if why:
        raise CaseError(f"{who}: {why}; `anodesim check` tells the cost, {forced_by}")


def absurd(case: Case, cells: int, remedy: str = "") -> str | None:
    """Why a case is clearly not what was meant (run refuses it unless --force), or None;
    remedy: mesh_remedy's advice for a case too finely meshed."""
    key, size_m = smallest_spot_size(case.beam)
    size_um = size_m * 1e6
    if size_um < SMALLEST_SPOT_UM:
        return (f"beam.{key}: beam spot {size_um:.3g} µm: below the model's validity "
                f"({SMALLEST_SPOT_UM:g} µm; Fourier conduction and the electron kernels' "
                "lateral fits do not hold there); was the size meant in another unit?")
    dim = case.geometry.dim
    if cells > ABSURD_CELLS[dim]:
        return (f"an estimated {cells:,} cells in {dim}-D (more than {ABSURD_CELLS[dim]:,}, "
                f"about {memory_mib(dim, solver_path(case, nodes(dim, cells)), cells) / 1024:.0f} "
                "GiB): " + (f"expected fewer cells: {remedy}" if remedy and remedy != COARSER_MESH
                           else "expected a coarser mesh ([mesh], or a user's mesh in its "
                           "mesher) or a larger spot"))
    return None


def smallest_spot_size(beam) -> tuple[str, float]:
    """(key, size in m) of the beam's smallest spot feature, the rule that sizes its mesh
    (beam.smallest_feature: an ellipse's minor axis, a line's width whatever its length,
    else its one size; after size_definition's conversion to the beam's)."""
    second, size = smallest_feature(beam.spot, beam.size_m, beam.size2_m)
    if second:
        return "fwhm_minor_um", size
    return {"flat_top": "diameter_um", "elliptical": "fwhm_major_um"}.get(beam.spot,
                                                                         "fwhm_um"), size


#: Smallest beam size (µm) the model is meant for: the electron kernels' lateral fits are
#: verified for 2-20 µm spots (README, Beam) and heat carriers' mean free paths in metals
#: are tens of nm (recalled), so below 0.1 µm continuum conduction is not a model of it.
SMALLEST_SPOT_UM = 0.1
