"""Transient and steady heat conduction in the anode, with dolfinx.

    ρc(T) ∂T/∂t = ∇·(k(T) ∇T) + q(x) P(t)      in every region,

with P1 Lagrange elements on the (r, z) mesh (all integrals weighted by 2πr, so powers and
energies are physical) or on a 3-D mesh (weight 1): the code does not assume the dimension.

Time scheme: BDF2 with variable steps (second order, A-stable), restarted with one
backward-Euler step at every power switch, where the source jumps. With step ratio
ω = Δt_n/Δt_{n−1}:
    ∂T/∂t ≈ [(1+2ω)/(1+ω) T^{n+1} − (1+ω) T^n + ω²/(1+ω) T^{n−1}] / Δt_n.
For constant properties the total heat content is updated exactly (both schemes are exact for
a linearly growing heat content), which the energy-balance test checks.

Solver: Newton on the residual F(T) = 0, with the Jacobian from UFL. When nothing depends on
T (constant properties, no radiation) the problem is linear and one Newton step is exact; the
Jacobian then depends only on the leading BDF coefficient a0/Δt, so it is assembled and
LU-factorised (MUMPS) once per distinct a0/Δt and reused from a cache. Otherwise Newton
iterates, reassembling the Jacobian, until the largest nodal update is below ``newton_tol``.

Interfaces with a thermal boundary conductance h have two unconnected sides with coincident
nodes (geometry.py); they are coupled by ∫ h (T₊ − T₋)(v₊ − v₋) w ds, whose cross terms are
assembled once from the facet mass matrix of one side and a node-to-node map.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

from . import _mpi  # noqa: F401,I001  (MPI before dolfinx)
import dolfinx
import dolfinx.fem.petsc
import numpy as np
import ufl
from mpi4py import MPI
from petsc4py import PETSc
from scipy.spatial import cKDTree

from . import materials as mat_lib
from .beam import Spot
from .case import Boundary
from .geometry import AnodeMesh

STEFAN_BOLTZMANN = 5.670374419e-8  # W/m²/K⁴, CODATA 2018


class SolverError(RuntimeError):
    """The nonlinear or linear solve failed."""


@dataclass(frozen=True)
class Interface:
    """A thermal boundary conductance h (W/m²K) between the two sides of a named interface."""

    name: str
    side_a: str  # physical-group names of the two sides
    side_b: str
    conductance: float


class ThermalProblem:
    """Heat conduction in the tagged anode mesh.

    Follows initialise() / step() / steady(): forms are compiled once; the time, step
    coefficients and beam power are ``fem.Constant`` values updated in place.

    Args:
        domain: mesh with region and face tags.
        materials: region name → Material (properties per temperature).
        boundaries: face name → Boundary (faces not named are adiabatic).
        interfaces: interfaces with a conductance.
        spot: the beam footprint and deposition, or None for no beam.
        z_beam: height of the beam face (m) along the beam axis (last coordinate).
        T_init: initial (and reference) temperature (K).
        newton_tol: Newton stops when the largest nodal update is below this (K).
        prefix: PETSc options prefix.
    """

    def __init__(self, domain: AnodeMesh, materials: dict[str, mat_lib.Material],
                 boundaries: dict[str, Boundary], interfaces: list[Interface], spot: Spot | None,
                 z_beam: float, T_init: float, newton_tol: float = 1e-3,
                 prefix: str = "anodesim_thermal_"):
        self.domain = domain
        self.materials = materials
        self.boundaries = boundaries
        self.interfaces = interfaces
        self.spot = spot
        self.z_beam = z_beam
        self.T_init = T_init
        self.newton_tol = newton_tol
        self.prefix = prefix
        self.max_newton = 30
        self.newton_iterations = 0
        self.factorisations = 0
        self.initialise()

    # ------------------------------------------------------------------ set-up
    def initialise(self) -> None:
        """Build function space, forms, boundary conditions, coupling and monitors."""
        dom = self.domain
        msh = dom.mesh
        self.comm = msh.comm
        tdim = msh.topology.dim
        msh.topology.create_connectivity(tdim - 1, tdim)
        V = self.V = dolfinx.fem.functionspace(msh, ("Lagrange", 1))
        self.T = dolfinx.fem.Function(V, name="temperature_K")
        self.T_n = dolfinx.fem.Function(V)
        self.T_nm1 = dolfinx.fem.Function(V)
        for f in (self.T, self.T_n, self.T_nm1):
            f.x.array[:] = self.T_init
        x = ufl.SpatialCoordinate(msh)
        gdim = msh.geometry.dim
        if dom.axisymmetric:
            r, z = x[0], x[1]
            w = 2 * math.pi * x[0]
        else:
            r = ufl.sqrt(x[0] ** 2 + x[1] ** 2)
            z = x[gdim - 1]
            w = 1.0
        self.weight = w
        depth = self.z_beam - z
        dx = ufl.Measure("dx", domain=msh, subdomain_data=dom.cell_tags)
        ds = ufl.Measure("ds", domain=msh, subdomain_data=dom.facet_tags)
        self.dx, self.ds = dx, ds
        c = lambda v: dolfinx.fem.Constant(msh, PETSc.ScalarType(v))  # noqa: E731
        self.c0, self.c1, self.c2 = c(0.0), c(0.0), c(0.0)
        self.power = c(0.0)  # deposited power (W)
        T, Tn, Tnm1 = self.T, self.T_n, self.T_nm1
        v = ufl.TestFunction(V)

        F = 0
        nonlinear = False
        self.region_tables: dict[str, list[mat_lib.Table]] = {}
        for region, m in self.materials.items():
            tag = dom.groups[region]
            k_tab, rc_tab = m.k, m.rho_cp
            self.region_tables[region] = [t for t in (k_tab, rc_tab) if not t.is_constant]
            nonlinear |= bool(self.region_tables[region])
            k = mat_lib.ufl_expression(k_tab, T)
            rc = mat_lib.ufl_expression(rc_tab, T)
            F += rc * (self.c0 * T + self.c1 * Tn + self.c2 * Tnm1) * v * w * dx(tag)
            F += k * ufl.inner(ufl.grad(T), ufl.grad(v)) * w * dx(tag)

        # Beam source for 1 W deposited, scaled by `power`.
        q_md = {"quadrature_degree": 6}
        self.source_forms = []
        if self.spot is not None:
            if self.spot.deposition == "surface":
                tag = dom.groups["beam_face"]
                q = self.spot.radial(r)
                self.source_forms.append(q * w * ds(tag, metadata=q_md))
                F -= self.power * q * v * w * ds(tag, metadata=q_md)
            else:
                for layer in self.spot.layers:
                    tag = dom.groups[layer.region]
                    q = self.spot.volume_density(layer, r, depth)
                    self.source_forms.append(q * w * dx(tag, metadata=q_md))
                    F -= self.power * q * v * w * dx(tag, metadata=q_md)

        fdim = tdim - 1
        self.bcs = []
        self.bc_values: dict[str, float] = {}
        for face, b in self.boundaries.items():
            facets = dom.facets(face)
            tag = dom.groups.get(face)
            if tag is None:
                continue
            if b.type == "fixed":
                dofs = dolfinx.fem.locate_dofs_topological(V, fdim, facets)
                self.bcs.append(dolfinx.fem.dirichletbc(PETSc.ScalarType(b.temperature_K), dofs, V))
            elif b.type == "convection":
                F += b.h_W_m2K * (T - b.temperature_K) * v * w * ds(tag)
            elif b.type == "radiation":
                nonlinear = True
                F += (b.emissivity * STEFAN_BOLTZMANN * (T ** 4 - b.temperature_K ** 4)
                      * v * w * ds(tag))
            elif b.type == "heat_flux":
                F -= b.q_W_m2 * v * w * ds(tag)
        for it in self.interfaces:
            for side in (it.side_a, it.side_b):
                F += it.conductance * T * v * w * ds(dom.groups[side])
        self.nonlinear = nonlinear
        self.F_form = dolfinx.fem.form(F)
        self.J_form = dolfinx.fem.form(ufl.derivative(F, T))
        self.b = dolfinx.fem.petsc.create_vector(V)
        self.du = dolfinx.fem.petsc.create_vector(V)
        self.cross = self._interface_cross_terms() if self.interfaces else None
        self._cache: OrderedDict[float, tuple] = OrderedDict()
        self._monitors()

    def _interface_cross_terms(self) -> PETSc.Mat:
        """Off-diagonal blocks −∫ h T₋ v₊ w ds (and symmetric) of the interface coupling."""
        V, dom = self.V, self.domain
        fdim = dom.mesh.topology.dim - 1
        X = V.tabulate_dof_coordinates()
        imap = V.dofmap.index_map
        u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
        template = dolfinx.fem.petsc.create_matrix(self.J_form)
        C = PETSc.Mat().createAIJ(template.getSizes(), comm=self.comm)
        C.setPreallocationNNZ(8)
        C.setOption(PETSc.Mat.Option.NEW_NONZERO_ALLOCATION_ERR, False)
        for it in self.interfaces:
            side = {}
            for s in (it.side_a, it.side_b):
                dofs = dolfinx.fem.locate_dofs_topological(V, fdim, dom.facets(s))
                g = imap.local_to_global(dofs.astype(np.int32))
                pts = self.comm.allgather(X[dofs])
                gl = self.comm.allgather(g)
                side[s] = (np.concatenate(pts), np.concatenate(gl))
            (xa, ga), (xb, gb) = side[it.side_a], side[it.side_b]
            dist, idx = cKDTree(xb).query(xa)
            scale = max(np.ptp(xb, axis=0).max(), 1e-300)
            if len(xa) != len(xb) or (len(dist) and dist.max() > 1e-8 * scale):
                raise RuntimeError(f"interface {it.name}: the two sides do not have coincident "
                                   "nodes (the mesh must split it with matching nodes)")
            a_to_b = dict(zip(ga.tolist(), gb[idx].tolist()))
            M = dolfinx.fem.petsc.assemble_matrix(dolfinx.fem.form(
                it.conductance * u * v * self.weight * self.ds(dom.groups[it.side_a])))
            M.assemble()
            rstart, rend = M.getOwnershipRange()
            indptr, cols, vals = M.getValuesCSR()
            for i in range(rend - rstart):
                gi = rstart + i
                for j, m in zip(cols[indptr[i]:indptr[i + 1]], vals[indptr[i]:indptr[i + 1]]):
                    if m == 0.0 or gi not in a_to_b:
                        continue
                    C.setValue(gi, a_to_b[int(j)], -m, addv=PETSc.InsertMode.ADD_VALUES)
                    C.setValue(a_to_b[gi], int(j), -m, addv=PETSc.InsertMode.ADD_VALUES)
            M.destroy()
        C.assemble()
        bc_rows = np.concatenate([imap.local_to_global(
            bc.dof_indices()[0][:bc.dof_indices()[1]].astype(np.int32)) for bc in self.bcs]
            or [np.empty(0, dtype=np.int64)]).astype(PETSc.IntType)
        # Rows of fixed-temperature nodes are replaced by the condition; their columns stay,
        # since the known temperature of a fixed node still drives its partner across h.
        C.zeroRows(bc_rows, diag=0.0)
        return C

    # ------------------------------------------------------------------ solves
    def _new_solver(self, A) -> PETSc.KSP:
        ksp = PETSc.KSP().create(self.comm)
        ksp.setOptionsPrefix(self.prefix)
        ksp.setOperators(A)
        ksp.setType("preonly")
        pc = ksp.getPC()
        pc.setType("lu")
        pc.setFactorSolverType("mumps")
        ksp.setErrorIfNotConverged(True)
        ksp.setFromOptions()
        return ksp

    def _assemble_jacobian(self, A=None):
        if A is None:
            A = dolfinx.fem.petsc.create_matrix(self.J_form)
        A.zeroEntries()
        dolfinx.fem.petsc.assemble_matrix(A, self.J_form, bcs=self.bcs)
        A.assemble()
        if self.cross is not None:
            A.axpy(1.0, self.cross, structure=PETSc.Mat.Structure.DIFFERENT_NONZERO_PATTERN)
        return A

    def _operator(self):
        """(A, ksp) for the current coefficients: cached per a0/Δt when linear."""
        if not self.nonlinear:
            key = float(self.c0.value)
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            A = self._assemble_jacobian()
            ksp = self._new_solver(A)
            self.factorisations += 1
            self._cache[key] = (A, ksp)
            if len(self._cache) > 160:
                _, (A_old, ksp_old) = self._cache.popitem(last=False)
                ksp_old.destroy()
                A_old.destroy()
            return A, ksp
        if not hasattr(self, "_A"):
            self._A = self._assemble_jacobian()
            self._ksp = self._new_solver(self._A)
        else:
            self._assemble_jacobian(self._A)
            self._ksp.setOperators(self._A)
        self.factorisations += 1
        return self._A, self._ksp

    def _residual(self) -> PETSc.Vec:
        b = self.b
        with b.localForm() as loc:
            loc.set(0.0)
        dolfinx.fem.petsc.assemble_vector(b, self.F_form)
        b.ghostUpdate(addv=PETSc.InsertMode.ADD_VALUES, mode=PETSc.ScatterMode.REVERSE)
        if self.cross is not None:
            self.cross.multAdd(self.T.x.petsc_vec, b, b)
        dolfinx.fem.petsc.set_bc(b, self.bcs, self.T.x.petsc_vec, -1.0)
        return b

    def _solve(self) -> None:
        """Newton iterations on F(T) = 0 from the current T."""
        for it in range(1, self.max_newton + 1):
            b = self._residual()
            _, ksp = self._operator()
            ksp.solve(b, self.du)
            self.T.x.petsc_vec.axpy(-1.0, self.du)
            self.T.x.scatter_forward()
            self.newton_iterations += 1
            if not self.nonlinear:
                return
            update = self.du.norm(PETSc.NormType.NORM_INFINITY)
            if not np.isfinite(update):
                raise SolverError("Newton produced a non-finite temperature")
            if update < self.newton_tol:
                return
        raise SolverError(f"Newton did not converge in {self.max_newton} iterations "
                          f"(last update {update:.3g} K > {self.newton_tol:g} K)")

    def steady(self, deposited_power: float) -> None:
        """Solve the steady state for a constant deposited power (W)."""
        for c in (self.c0, self.c1, self.c2):
            c.value = 0.0
        self.power.value = deposited_power
        self._solve()
        self.check_range()

    def step(self, dt: float, deposited_power: float, restart: bool,
             dt_prev: float | None = None) -> None:
        """Advance by dt (s) at a constant deposited power (W).

        Args:
            dt: step size (s).
            deposited_power: power deposited during the step (W).
            restart: take a backward-Euler step (first step after a power switch).
            dt_prev: the previous step (s), for the BDF2 coefficients.
        """
        if restart or dt_prev is None:
            a0, a1, a2 = 1.0, -1.0, 0.0
        else:
            om = dt / dt_prev
            a0, a1, a2 = (1 + 2 * om) / (1 + om), -(1 + om), om * om / (1 + om)
        self.c0.value, self.c1.value, self.c2.value = a0 / dt, a1 / dt, a2 / dt
        self.power.value = deposited_power
        self.T_nm1.x.array[:] = self.T_n.x.array
        self.T_n.x.array[:] = self.T.x.array
        self._solve()
        self.check_range()

    # ------------------------------------------------------------------ monitors
    def _monitors(self) -> None:
        dom, V = self.domain, self.V
        tdim = dom.mesh.topology.dim
        nloc = V.dofmap.index_map.size_local
        self.region_dofs = {}
        for region in self.materials:
            cells = dom.cell_tags.find(dom.groups[region])
            dofs = dolfinx.fem.locate_dofs_topological(V, tdim, cells)
            self.region_dofs[region] = dofs[dofs < nloc]
        self.heat_forms = {}
        for region, m in self.materials.items():
            H = mat_lib.ufl_antiderivative(m.rho_cp, self.T, self.T_init)
            self.heat_forms[region] = dolfinx.fem.form(
                H * self.weight * self.dx(dom.groups[region]))

    def region_range(self, region: str) -> tuple[float, float]:
        """(min, max) nodal temperature in a region (K), over all ranks."""
        vals = self.T.x.array[self.region_dofs[region]]
        lo = vals.min() if vals.size else np.inf
        hi = vals.max() if vals.size else -np.inf
        return self.comm.allreduce(lo, op=MPI.MIN), self.comm.allreduce(hi, op=MPI.MAX)

    def region_max(self, region: str) -> float:
        """Largest nodal temperature in a region (K)."""
        return self.region_range(region)[1]

    def check_range(self) -> None:
        """Raise OutOfRangeError if any region left its property tables."""
        for region, tables in self.region_tables.items():
            if tables:
                lo, hi = self.region_range(region)
                for t in tables:
                    t.check(lo, hi)

    def stored_heat(self) -> float:
        """Heat stored since the initial state, ∫∫ρc dT dV (J), summed over regions."""
        return sum(self.comm.allreduce(dolfinx.fem.assemble_scalar(f), op=MPI.SUM)
                   for f in self.heat_forms.values())

    def source_integral(self) -> float:
        """∫ q dV of the 1 W source as the mesh integrates it (ideally 1)."""
        return sum(self.comm.allreduce(dolfinx.fem.assemble_scalar(dolfinx.fem.form(f)),
                                       op=MPI.SUM) for f in self.source_forms)


class PointProbes:
    """Evaluate a P1 function at fixed points, collectively over MPI ranks.

    Args:
        V_fun: the function to evaluate (its mesh is searched once).
        points: (n, gdim) coordinates (m).
    """

    def __init__(self, fun: dolfinx.fem.Function, points: np.ndarray):
        msh = fun.function_space.mesh
        self.fun = fun
        self.comm = msh.comm
        n = len(points)
        pts = np.zeros((n, 3))
        pts[:, : points.shape[1]] = points
        tree = dolfinx.geometry.bb_tree(msh, msh.topology.dim)
        cand = dolfinx.geometry.compute_collisions_points(tree, pts)
        hits = dolfinx.geometry.compute_colliding_cells(msh, cand, pts)
        self.local = [(i, hits.links(i)[0]) for i in range(n) if len(hits.links(i))]
        found = np.zeros(n, dtype=np.int32)
        for i, _ in self.local:
            found[i] = 1
        total = self.comm.allreduce(found, op=MPI.SUM) if n else found
        self.missing = [i for i in range(n) if total[i] == 0]
        self.pts = pts
        self.n = n

    def values(self) -> np.ndarray:
        """Values at the points (NaN where a point is outside the mesh)."""
        out = np.full(self.n, -np.inf)
        if self.local:
            idx = [i for i, _ in self.local]
            cells = np.array([c for _, c in self.local], dtype=np.int32)
            out[idx] = self.fun.eval(self.pts[idx], cells).reshape(-1)
        out = self.comm.allreduce(out, op=MPI.MAX) if self.n else out
        out[np.isneginf(out)] = np.nan
        return out
