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
LU-factorised (MUMPS) once per distinct a0/Δt and reused from a cache. Otherwise a modified
Newton iterates from an extrapolated start until the largest nodal update is below
``newton_tol``, with a lagged Jacobian: kept across iterations and steps (for a new step
size shifted by Δ(a0/Δt) × the heat-capacity matrix instead of reassembled) and reassembled
at the current T when the iteration stops contracting fast.

Interfaces with a thermal boundary conductance h have two unconnected sides with coincident
nodes (geometry.py); they are coupled by ∫ h (T₊ − T₋)(v₊ − v₋) w ds over one side, whose
blocks other than that side's own are assembled once from its facet mass matrix and a
node-to-node map (coupling.py).

The linear solvers (LU or CG by size, the preconditioner shared across step sizes) are in
linalg.py, shared with mechanics.py; a field's values at fixed points in probes.py.
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
from ._mpi import MPI
from petsc4py import PETSc

from . import coupling, materials as mat_lib
from .beam import Spot
from .case import Boundary
from .errors import RunFailure, raise_lost_signal
from .geometry import AnodeMesh
from .linalg import CoefficientGather, SharedPreconditioner, linear_solver, solve_linear
from .solver_choice import resolve_solver

STEFAN_BOLTZMANN = 5.670374419e-8  # W/m²/K⁴, CODATA 2018


class SolverError(RunFailure, RuntimeError):
    """The nonlinear or linear solve failed."""


@dataclass(frozen=True)
class Interface:
    """A thermal boundary conductance h (W/m²K) between the two sides of a named interface."""

    name: str
    side_a: str  # physical-group names of the two sides
    side_b: str
    conductance: float



class _NodalLookup:
    """Linear interpolation in a property table at many temperatures, with its slope, as
    few numpy calls as it takes (it runs at every Newton iteration on every region: a
    quarter of a rating's FE anchors' time with np.clip and a masked fix-up).

    The value is np.interp's own formula on the interval it finds, slope·(T − T_i) + v_i,
    with the table's end values outside it (the solution itself is range-checked); the
    slope is the interval's, the last interval's at and above the top end. One search
    serves both: the search gives the top node itself the interval index n − 1, where the
    value's slope is 0 (so the value is v_{n−1} exactly) and the derivative's the last
    interval's.
    """

    def __init__(self, table: mat_lib.Table):
        self.T_K = np.asarray(table.T_K, dtype=float)
        self.values = np.asarray(table.values, dtype=float)
        slopes = np.diff(self.values) / np.diff(self.T_K)
        self.value_slopes = np.append(slopes, 0.0)
        self.slopes = np.append(slopes, slopes[-1])
        self.lo, self.hi = float(self.T_K[0]), float(self.T_K[-1])

    def evaluate(self, T: np.ndarray, values: np.ndarray, slopes: np.ndarray,
                 at: np.ndarray) -> None:
        """Write the table's value and slope at temperatures T (K; a scratch copy, clipped
        in place) into values[at] and slopes[at]."""
        np.maximum(T, self.lo, out=T)
        np.minimum(T, self.hi, out=T)
        i = self.T_K.searchsorted(T, side="right")
        i -= 1  # ≥ 0: T ≥ T_K[0]; n − 1 only at the top node
        values[at] = self.value_slopes[i] * (T - self.T_K[i]) + self.values[i]
        slopes[at] = self.slopes[i]


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
        frame: the beam frame on a tilted 3-D face (frames.BeamFrame); None: the beam
            face is normal to the last coordinate at z_beam, the spot centred on the axis.
        solver: "direct" (MUMPS LU) or "iterative" (CG + LU or GAMG, linear_solver).
        rtol: relative tolerance of the iterative solver.
        extra_focal: where the backscattered power lands (extra_focal.ExtraFocal), laid
            on faces in proportion to the deposited power; None: nowhere.
        circuit: the lumped coolant circuit the ``circuit`` convection faces exchange heat
            with (coolant.py), or None.
    """

    def __init__(self, domain: AnodeMesh, materials: dict[str, mat_lib.Material],
                 boundaries: dict[str, Boundary], interfaces: list[Interface], spot: Spot | None,
                 z_beam: float, T_init: float, newton_tol: float = 1e-3,
                 prefix: str = "anodesim_thermal_", frame=None, solver: str = "direct",
                 rtol: float = 1e-10, extra_focal=None, circuit=None):
        from .coolant import CoolantState

        self.domain = domain
        self.coolant = CoolantState(circuit) if circuit is not None else None
        self.materials = materials
        self.boundaries = boundaries
        self.interfaces = interfaces
        self.spot = spot
        self.z_beam = z_beam
        self.T_init = T_init
        self.newton_tol = newton_tol
        self.prefix = prefix
        self.frame = frame
        self.solver = solver
        self.rtol = rtol
        self.extra_focal = extra_focal
        self.linear_iterations = 0
        self.max_newton = 30
        # Nonlinear problems (modified Newton, _solve): start each step from the linear
        # extrapolation of the last two states, and keep the lagged Jacobian across step
        # sizes (shifted, _shifted_jacobian) after a step that converged in at most
        # LAG_MAX_ITERATIONS iterations; False/False: Newton with the Jacobian refreshed at
        # every iteration (full Newton, the reference of tests/test_newton.py).
        self.predictor = True
        self.lag_jacobian = True
        self.shifted = 0  # operators obtained by shifting a lagged one to a new step size
        self._last_iterations = 0
        self.newton_iterations = 0
        self.continuations = 0  # steady solves that needed power continuation
        self.factorisations = 0
        self.initialise()

    # ------------------------------------------------------------------ set-up
    def initialise(self) -> None:
        """Build function space, forms, boundary conditions, coupling and monitors (named
        steps, as FESTIM's problems)."""
        self._define_function_space()
        xi, eta, depth = self._define_measures_and_coordinates()
        F, J_extra, nonlinear = self._define_heat_equation()
        self._update_coefficients()
        self._define_source(xi, eta, depth)
        F, nonlinear_bc = self._define_boundary_conditions(F)
        self.nonlinear = nonlinear or nonlinear_bc
        self._create_forms(F, J_extra)
        self._define_circuit()
        self._monitors()

    def _define_function_space(self) -> None:
        """P1 temperature space and the temperatures T, T_n, T_{n−1} at the initial value."""
        msh = self.domain.mesh
        self.comm = msh.comm
        tdim = msh.topology.dim
        msh.topology.create_connectivity(tdim - 1, tdim)
        msh.topology.create_connectivity(tdim, tdim)
        V = self.V = dolfinx.fem.functionspace(msh, ("Lagrange", 1))
        self.T = dolfinx.fem.Function(V, name="temperature_K")
        self.T_n = dolfinx.fem.Function(V)
        self.T_nm1 = dolfinx.fem.Function(V)
        for f in (self.T, self.T_n, self.T_nm1):
            f.x.array[:] = self.T_init
        self._ranges = None
        c = lambda v: dolfinx.fem.Constant(msh, PETSc.ScalarType(v))  # noqa: E731
        self.c0, self.c1, self.c2 = c(0.0), c(0.0), c(0.0)
        self.power = c(0.0)  # deposited power (W)
        self.T_coolant = c(self.coolant.temperature if self.coolant else 0.0)  # K

    def _define_measures_and_coordinates(self):
        """Measures with the region and face tags, the volume weight (2πr in axisymmetry)
        and the face coordinates of the beam: (ξ, η) on the face and the depth below it."""
        dom = self.domain
        msh = dom.mesh
        x = ufl.SpatialCoordinate(msh)
        gdim = msh.geometry.dim
        if dom.axisymmetric:
            xi, eta, z = x[0], 0.0, x[1]
            self.weight = 2 * math.pi * x[0]
        else:
            xi, eta, z = x[0], x[1], x[gdim - 1]
            self.weight = 1.0
        depth = self.z_beam - z
        if self.frame is not None:  # face coordinates on a tilted face
            fr = self.frame
            vec = lambda a: ufl.as_vector([float(c) for c in a])  # noqa: E731
            d = x - vec(fr.origin)
            xi, eta, depth = ufl.dot(d, vec(fr.e1)), ufl.dot(d, vec(fr.e2)), -ufl.dot(
                d, vec(fr.normal))
        self.dx = ufl.Measure("dx", domain=msh, subdomain_data=dom.cell_tags)
        self.ds = ufl.Measure("ds", domain=msh, subdomain_data=dom.facet_tags)
        return xi, eta, depth

    def _define_heat_equation(self):
        """Residual of ρc ∂T/∂t − ∇·(k∇T) per region (BDF coefficients c0, c1, c2), the
        Jacobian terms of the nodal k(T), ρc(T), and whether any property depends on T."""
        dom, V, w, dx = self.domain, self.V, self.weight, self.dx
        T, Tn, Tnm1 = self.T, self.T_n, self.T_nm1
        v, du = ufl.TestFunction(V), ufl.TrialFunction(V)
        F = 0
        J_extra = 0  # Jacobian terms from the T-dependence of nodal coefficients
        nonlinear = False
        self.mass = 0  # ∂F/∂(a0/Δt) at fixed T: the heat-capacity matrix ∫ ρc φ_j φ_i w dV
        self.region_tables: dict[str, list[mat_lib.Table]] = {}
        self.nodal: list[tuple[mat_lib.Table, dolfinx.fem.Function, dolfinx.fem.Function]] = []
        self._nodal_dofs: list[np.ndarray] = []  # where each nodal coefficient is used
        tdim = dom.mesh.topology.dim
        for region, m in self.materials.items():
            tag = dom.groups[region]
            tables = {"k": m.k, "rc": m.rho_cp}
            self.region_tables[region] = [t for t in tables.values() if not t.is_constant]
            nonlinear |= bool(self.region_tables[region])
            # Temperature-dependent properties are interpolated at the nodes (group finite
            # elements, O(h²) consistent): k_h = Σ k(T_j) φ_j, and likewise ρc. Their
            # derivatives dk/dT enter the Jacobian explicitly below.
            coef, dcoef = {}, {}
            region_dofs = None
            for name, t in tables.items():
                if t.is_constant:
                    coef[name], dcoef[name] = float(t.values[0]), None
                else:
                    f, df = dolfinx.fem.Function(V), dolfinx.fem.Function(V)
                    self.nodal.append((t, f, df))
                    # the nodes of the region's cells: its coefficients enter its integrals
                    # only, so they are evaluated there (_update_coefficients)
                    if region_dofs is None:
                        region_dofs = dolfinx.fem.locate_dofs_topological(
                            V, tdim, dom.cell_tags.find(tag))
                    self._nodal_dofs.append(region_dofs)
                    coef[name], dcoef[name] = f, df
            # Quadrature exact for constant properties on P1 (with the 2πr weight).
            dx_c = dx(tag, metadata={"quadrature_degree": 3})
            dx_k = dx(tag, metadata={"quadrature_degree": 2})
            rate = self.c0 * T + self.c1 * Tn + self.c2 * Tnm1
            F += coef["rc"] * rate * v * w * dx_c
            self.mass += coef["rc"] * du * v * w * dx_c
            F += coef["k"] * ufl.inner(ufl.grad(T), ufl.grad(v)) * w * dx_k
            if dcoef["rc"] is not None:
                J_extra += dcoef["rc"] * du * rate * v * w * dx_c
            if dcoef["k"] is not None:
                J_extra += dcoef["k"] * du * ufl.inner(ufl.grad(T), ufl.grad(v)) * w * dx_k
        return F, J_extra, nonlinear

    def _define_source(self, xi, eta, depth) -> None:
        """Beam source for 1 W deposited: assembled once into a vector, scaled by `power`."""
        dom, w, dx, ds = self.domain, self.weight, self.dx, self.ds
        v = ufl.TestFunction(self.V)
        q_md = {"quadrature_degree": 6}
        self.source_terms = []  # (q, measure): the deposition
        # (q Z, measure): where the X-rays come from. Bremsstrahlung yield per deposited
        # energy is proportional to Z (Kramers 1923; efficiency ≈ 1e-9 Z U/V, e.g. Dyson,
        # X-rays in Atomic and Nuclear Physics, ch. 2), so the spot's emission weight is the
        # deposition × Z of the local material (in a layered target mostly the film).
        self.emission_terms = []
        source = 0
        if self.spot is not None:
            # The spot's size, orientation and normalisation enter as constants: the forms
            # are the same for every spot size of a shape (compiled once in a sweep).
            p = {k: dolfinx.fem.Constant(dom.mesh, PETSc.ScalarType(v))
                 for k, v in self.spot.parameters().items()}
            if self.spot.deposition == "surface":
                parts = [("target", self.spot.areal(xi, eta, None, p),
                          ds(dom.groups["beam_face"], metadata=q_md))]
            else:
                parts = [(region, q, dx(dom.groups[region], metadata=q_md))
                         for region, q in self._volume_sources(xi, eta, depth, p)]
            for region, q, meas in parts:
                self.source_terms.append((q, meas))
                self.emission_terms.append((q * self.materials[region].atomic_number, meas))
                source += q * v * w * meas
        self.source_vector = None
        self.source_ratio = 1.0
        if source != 0:
            self.source_vector = dolfinx.fem.petsc.assemble_vector(dolfinx.fem.form(source))
            self.source_vector.ghostUpdate(addv=PETSc.InsertMode.ADD_VALUES,
                                           mode=PETSc.ScatterMode.REVERSE)
            # The shape is normalised analytically; the mesh integrates it to source_ratio
            # (1 to 1e-3 with the default grading). Scale so the requested power is deposited.
            self.source_ratio = self._source_integral()
            if not self.source_ratio > 0:
                raise ValueError("the beam source misses the mesh (zero deposited power)")
            self.source_vector.scale(1.0 / self.source_ratio)
        self._add_extra_focal(xi, eta)

    def _add_extra_focal(self, xi, eta) -> None:
        """Extra-focal heat (extra_focal.py) added to the source vector: each landing's
        density on its faces, normalised by its own integral over the mesh (kept in
        extra_focal_integrals, the unnormalised ∫ f dA per landing) to its share, the whole
        scaled to extra-focal watts per deposited watt."""
        ef = self.extra_focal
        self.extra_focal_integrals = []
        if ef is None or not ef.landings or self.source_vector is None:
            return
        from .extra_focal import cosine_density

        dom, w = self.domain, self.weight
        v = ufl.TestFunction(self.V)
        md = {"quadrature_degree": 6}
        total = None
        for la in ef.landings:
            missing = [f for f in la.faces if f not in dom.groups]
            if missing:
                raise ValueError(f"beam.extra_focal: this mesh has no face named {missing[0]!r}")
            ds = self.ds(tuple(dom.groups[f] for f in la.faces), metadata=md)
            H = dolfinx.fem.Constant(dom.mesh, PETSc.ScalarType(ef.distance_m))
            q = (cosine_density(H, ef.landing_rho2(xi, eta)) if la.law == "cosine"
                 else dolfinx.fem.Constant(dom.mesh, PETSc.ScalarType(1.0)))
            vec = dolfinx.fem.petsc.assemble_vector(dolfinx.fem.form(q * v * w * ds))
            vec.ghostUpdate(addv=PETSc.InsertMode.ADD_VALUES, mode=PETSc.ScatterMode.REVERSE)
            raw = float(vec.sum())  # ∫ q w dA: the hat functions sum to 1 (_source_integral)
            if not raw > 0:
                raise ValueError(f"beam.extra_focal: the faces {', '.join(la.faces)} have no "
                                 "area in this mesh")
            self.extra_focal_integrals.append(raw)
            vec.scale(la.share / raw)
            if total is None:
                total = vec
            else:
                total.axpy(1.0, vec)
                vec.destroy()
        self.source_vector.axpy(ef.per_deposited_W(), total)
        total.destroy()

    def _volume_sources(self, xi, eta, depth, p):
        """[(region, q per watt)] of the volume depositions (kernel, film, Everhart–Hoff);
        p: the spot's shape constants (Spot.parameters)."""
        spot = self.spot
        if spot.deposition == "kernel":
            return [(lk.region, spot.kernel_density(lk, xi, eta, depth, p))
                    for lk in spot.kernel.layers]
        if spot.deposition == "film":
            return [(spot.layers[0].region, spot.film_density(xi, eta, depth, p))]
        return [(layer.region, spot.volume_density(layer, spot.areal(xi, eta, None, p), depth))
                for layer in spot.layers]

    def _define_boundary_conditions(self, F):
        """Fixed temperatures (Dirichlet), convection, radiation and heat-flux terms, and
        the interface conductance's diagonal terms; (F, radiation makes it nonlinear)."""
        dom, V, w, ds, T = self.domain, self.V, self.weight, self.ds, self.T
        v = ufl.TestFunction(V)
        fdim = dom.mesh.topology.dim - 1
        nonlinear = False
        self.bcs = []
        self.bc_values: dict[str, float] = {}
        self._circuit_flux = 0  # ∫ h v w ds over the faces cooled by the circuit
        for face, b in self.boundaries.items():
            facets = dom.facets(face)
            tag = dom.groups.get(face)
            if tag is None or self.comm.allreduce(len(facets), op=MPI.SUM) == 0:
                raise ValueError(f"boundaries.{face}: this mesh has no face of that name")
            if b.type == "fixed":
                dofs = dolfinx.fem.locate_dofs_topological(V, fdim, facets)
                self.bcs.append(dolfinx.fem.dirichletbc(PETSc.ScalarType(b.temperature_K), dofs, V))
            elif b.type == "convection" and b.circuit:
                if self.coolant is None:
                    raise ValueError(f"boundaries.{face}: cooled by a coolant circuit, but the "
                                     "problem has none")
                F += b.h_W_m2K * (T - self.T_coolant) * v * w * ds(tag)
                self._circuit_flux += b.h_W_m2K * v * w * ds(tag)
            elif b.type == "convection":
                F += b.h_W_m2K * (T - b.temperature_K) * v * w * ds(tag)
            elif b.type == "radiation":
                nonlinear = True
                F += (b.emissivity * STEFAN_BOLTZMANN * (T ** 4 - b.temperature_K ** 4)
                      * v * w * ds(tag))
            elif b.type == "heat_flux":
                F -= b.q_W_m2 * v * w * ds(tag)
        for it in self.interfaces:  # side a's block; the others: coupling.cross_terms
            F += it.conductance * T * v * w * ds(dom.groups[it.side_a])
        return F, nonlinear

    def _create_forms(self, F, J_extra) -> None:
        """Compiled residual and Jacobian, work vectors, the interface cross terms and the
        (empty) operator cache."""
        V = self.V
        du = ufl.TrialFunction(V)
        self.F_form = dolfinx.fem.form(F)
        self.J_form = dolfinx.fem.form(ufl.derivative(F, self.T, du) + J_extra)
        self.M_form = dolfinx.fem.form(self.mass) if self.nonlinear else None
        self._packed = {k: CoefficientGather(f) for k, f in
                        (("F", self.F_form), ("J", self.J_form), ("M", self.M_form))
                        if f is not None}
        self._mass_matrix = None  # at the last full Jacobian's T (nonlinear only), on demand
        self._mass_at = None  # that T (nodal, K) while the matrix is still to be assembled
        self.b = dolfinx.fem.petsc.create_vector(V)
        self.du = dolfinx.fem.petsc.create_vector(V)
        # Newton's work vectors (x0, D⁻¹, D⁻¹F), made once: petsc4py frees a dropped vector
        # of a communicator of more than one rank only at PETSc.garbage_cleanup(), so one per
        # solve grew a rank's memory without bound on large meshes
        self._newton_work = None
        self.cross = None
        if self.interfaces:
            sizes = dolfinx.fem.petsc.create_matrix(self.J_form).getSizes()
            self.cross = coupling.cross_terms(
                V, self.domain,
                [(i.name, i.side_a, i.side_b, i.conductance) for i in self.interfaces],
                self.weight, self.ds, self.bcs, sizes)
        self._cache: OrderedDict[float, tuple] = OrderedDict()
        self._repeating: set[float] = set()  # a0/Δt that came back after others
        self._template = None  # the Jacobian's sparsity, copied for each new operator
        self.solver = resolve_solver(self.solver, self.domain.mesh.topology.dim,
                                     V.dofmap.index_map.size_global)
        self._shared = None  # iterative: one CG (LU or GAMG preconditioner) for every operator

    def _define_circuit(self) -> None:
        """The coupling of the coolant circuit: g = ∫ h φ_i w ds (so the heat into the
        coolant is Q = g·T − H T_c, H = Σ g_i) and f = g without the fixed-temperature dofs,
        the residual's derivative −∂F/∂T_c."""
        self.circuit_g = self.circuit_f = None
        self._z_cache: dict[float, PETSc.Vec] = {}
        if self.coolant is None:
            return
        if isinstance(self._circuit_flux, int):
            raise ValueError("coolant_circuit: no face of this mesh is cooled by it")
        g = dolfinx.fem.petsc.assemble_vector(dolfinx.fem.form(self._circuit_flux))
        g.ghostUpdate(addv=PETSc.InsertMode.ADD_VALUES, mode=PETSc.ScatterMode.REVERSE)
        self.circuit_g = g
        self.circuit_H = g.sum()
        f = g.copy()
        dolfinx.fem.petsc.set_bc(f, self.bcs, alpha=0.0)
        self.circuit_f = f

    def coolant_heat_input(self) -> float:
        """Heat flowing from the anode into the coolant, ∫ h (T − T_c) dA (W)."""
        return self.circuit_g.dot(self.T.x.petsc_vec) - self.circuit_H * float(
            self.T_coolant.value)

    def _solve_coupled(self) -> None:
        """The temperature field and the coolant temperature together.

        Newton on the coolant's scalar residual R(T_c) with the field eliminated: after the
        field solve at the current T_c, the field's sensitivity z = J⁻¹ f (f = −∂F/∂T_c)
        gives dQ/dT_c = g·z − H, the update ΔT_c = −R / (∂R/∂T_c − dQ/dT_c), and T += ΔT_c z.
        For linear problems one update is exact (z is cached per operator); the loop stops
        when |ΔT_c| is below ``newton_tol``.
        """
        cc = self.coolant
        if cc is None:
            self._solve()
            return
        c = (float(self.c0.value), float(self.c1.value), float(self.c2.value))
        for _ in range(self.max_newton):
            self._solve()
            R = cc.residual(self.coolant_heat_input(), c)
            z = self._circuit_sensitivity()
            dQ = self.circuit_g.dot(z) - self.circuit_H
            dT = -R / (cc.d_residual(c[0]) - dQ)
            cc.T[0] += dT
            self.T_coolant.value = cc.T[0]
            self.T.x.petsc_vec.axpy(dT, z)
            self.T.x.scatter_forward()
            if abs(dT) < self.newton_tol:
                cc.finish_step(c)
                return
        raise SolverError(f"the coolant circuit did not converge in {self.max_newton} "
                          f"iterations (last update {dT:.3g} K)")

    def _circuit_sensitivity(self) -> PETSc.Vec:
        """z = J⁻¹ f with the current (cached) operator; cached per operator when linear."""
        key = float(self.c0.value)
        if not self.nonlinear and key in self._z_cache:
            return self._z_cache[key]
        _, ksp, _ = self._operator()
        if self.nonlinear:  # used at once: one vector (a dropped one leaks on 2+ ranks)
            if getattr(self, "_z_work", None) is None:
                self._z_work = self.circuit_f.duplicate()
            z = self._z_work
        else:
            z = self.circuit_f.duplicate()
        solve_linear(ksp, self.circuit_f, z, SolverError, "coolant sensitivity")
        if not self.nonlinear:
            self._z_cache[key] = z
        return z

    def reset(self) -> None:
        """Back to the initial temperature for another run, the counters from zero.

        A linear problem keeps its factorisations (its operators do not depend on the power
        or on T). A nonlinear one drops its cached Jacobians: they were assembled at the
        temperatures of the previous run, and modified Newton starting from them would take
        another path than a fresh run.
        """
        for f in (self.T, self.T_n, self.T_nm1):
            f.x.array[:] = self.T_init
        if self.coolant is not None:
            self.coolant.reset()
            self.T_coolant.value = self.coolant.temperature
        self._ranges = None
        self.linear_iterations = self.newton_iterations = 0
        self.continuations = self.factorisations = self.shifted = 0
        self._last_iterations = 0
        self._repeating.clear()
        self._mass_at = None
        if self.nonlinear:
            while self._cache:
                self._drop_oldest()
        if self._shared is not None:  # a rerun builds its preconditioners as a fresh run
            self._shared.reset()

    # ------------------------------------------------------------------ solves
    #: Operators kept per distinct a0/Δt: factorisations (direct), matrices (iterative).
    CACHE_SIZE = {"direct": 160, "iterative": 8}

    def _new_solver(self, A) -> PETSc.KSP:
        if self.solver != "iterative":
            return linear_solver(self.comm, A, self.prefix, self.solver, self.rtol,
                                 dim=self.domain.mesh.topology.dim)
        if self._shared is None:
            ksp = linear_solver(self.comm, A, self.prefix, self.solver, self.rtol,
                                dim=self.domain.mesh.topology.dim)
            # a lagged Jacobian serves several Newton solves: factorise each one exactly
            exact = self.nonlinear and self.lag_jacobian and ksp.getPC().getType() == "lu"
            self._shared = SharedPreconditioner(ksp, exact=exact)
        return self._shared.ksp

    def _drop_oldest(self) -> None:
        key_old, (A_old, ksp_old) = self._cache.popitem(last=False)
        z_old = self._z_cache.pop(key_old, None)
        if z_old is not None:
            z_old.destroy()
        if ksp_old is not None and (self._shared is None or ksp_old is not self._shared.ksp):
            ksp_old.destroy()
        A_old.destroy()

    def _new_matrix(self):
        """An empty Jacobian: the sparsity pattern is built once and copied (creating it
        from the form costs as much as an assembly)."""
        if self._template is None:
            self._template = dolfinx.fem.petsc.create_matrix(self.J_form)
            # assembled once, so that every entry of the pattern is stored (an unfilled
            # matrix loses its preallocated pattern when assembled)
            dolfinx.fem.petsc.assemble_matrix(self._template, self.J_form, bcs=self.bcs)
            self._template.assemble()
            if self.cross is not None:  # the interface cross terms widen the pattern (α = 1:
                self._template.axpy(1.0, self.cross,  # α = 0 would not; the values are
                                    structure=PETSc.Mat.Structure.DIFFERENT_NONZERO_PATTERN)
                # overwritten by every assembly into a copy of the template)
        return self._template.duplicate(copy=False)

    def _assemble_jacobian(self, A=None):
        self._update_coefficients()
        if A is None:
            A = self._new_matrix()
        A.zeroEntries()
        dolfinx.fem.petsc.assemble_matrix(A, self.J_form, bcs=self.bcs,
                                          coeffs=self._packed["J"]())
        A.assemble()
        if self.cross is not None:
            A.axpy(1.0, self.cross, structure=PETSc.Mat.Structure.SUBSET_NONZERO_PATTERN)
        if self.M_form is not None and self.lag_jacobian:
            # the heat-capacity matrix at this T, assembled when a new step size shifts this
            # Jacobian (_mass_matrix_now): most Jacobians are never shifted (10 of 35 on
            # the 3-D example)
            self._mass_at = self.T.x.array.copy()
        return A

    def _mass_matrix_now(self) -> PETSc.Mat:
        """The heat-capacity matrix at the temperature of the last full Jacobian: assembled
        now if it has not been (at that T, then T is restored; the same matrix bit for bit
        as assembled with the Jacobian)."""
        if self._mass_at is not None:
            if self._mass_matrix is None:
                self._mass_matrix = self._new_matrix()
            now = self.T.x.array.copy()
            self.T.x.array[:] = self._mass_at
            try:
                self._update_coefficients()
                M = self._mass_matrix
                M.zeroEntries()  # zero rows and columns at fixed temperatures: A keeps its 1s
                dolfinx.fem.petsc.assemble_matrix(M, self.M_form, bcs=self.bcs, diag=0.0,
                                                  coeffs=self._packed["M"]())
                M.assemble()
            finally:
                self.T.x.array[:] = now
                self._update_coefficients()
            self._mass_at = None
        return self._mass_matrix

    #: A step that took more Newton iterations than this (a lagged Jacobian that no longer
    #: contracts fast) makes the next new step size assemble its Jacobian afresh.
    #: Measured on studies/reflection_3d.toml (209 steps): 1 → 107 assemblies, 2 → 35
    #: assemblies and 492 Newton iterations, 3 → 563 iterations.
    LAG_MAX_ITERATIONS = 2

    def _shifted_jacobian(self, key: float):
        """(A, fresh) for a new a0/Δt = key: a nonlinear problem shifts the operator it used
        last by (key − its key) × the heat-capacity matrix of the last assembly (the
        Jacobian at that temperature for the new step size, but for the small dρc/dT term of
        the rate; a lagged Jacobian, refreshed by _solve when Newton contracts slowly);
        otherwise (or with nothing to shift) a fresh assembly at the current T."""
        if ((self._mass_matrix is None and self._mass_at is None) or not self._cache
                or not self.lag_jacobian
                or self._last_iterations > self.LAG_MAX_ITERATIONS):
            return self._assemble_jacobian(), True
        last_key, (A_last, _) = next(reversed(self._cache.items()))
        A = A_last.duplicate(copy=True)
        A.axpy(key - last_key, self._mass_matrix_now(),
               structure=PETSc.Mat.Structure.SUBSET_NONZERO_PATTERN)
        self.shifted += 1
        return A, False

    def _operator(self, refresh: bool = False):
        """(A, ksp, fresh) for the current a0/Δt, from a cache keyed by a0/Δt.

        Linear problems: the Jacobian is exact whatever T, so it is assembled and factorised
        once per key. Nonlinear problems: the cached Jacobian was assembled at an earlier
        temperature (modified Newton); ``refresh`` reassembles it at the current T.
        Iterative solver: one KSP for all keys, its preconditioner shared while it works
        (SharedPreconditioner); ``factorisations`` counts the hierarchies built.
        """
        key = float(self.c0.value)
        fresh = True
        if key in self._cache:
            if key != next(reversed(self._cache)):
                self._repeating.add(key)  # back after other step sizes (a pulse train)
            A, ksp = self._cache[key]
            if refresh:
                self._assemble_jacobian(A)
            else:
                self._cache.move_to_end(key)
                fresh = False
            if ksp is None:  # its solver went to a newer step size (_recycle)
                ksp = self._new_solver(A)
                self._cache[key] = (A, ksp)
            elif refresh:
                ksp.setOperators(A)
        else:
            A, fresh = self._shifted_jacobian(key)
            recycled = self._recycle(A)
            A, ksp = recycled if recycled else (A, self._new_solver(A))
            self._cache[key] = (A, ksp)
            if len(self._cache) > self.CACHE_SIZE[self.solver]:
                self._drop_oldest()
        if self._shared is not None:
            self.factorisations += self._shared.use(A, key, changed=fresh)
        elif fresh:
            self.factorisations += 1
        return A, ksp, fresh

    def _recycle(self, A):
        """(matrix, solver) for a new a0/Δt with operator A: the newest cache entry's, when
        its step size has not come back (none of a geometric step plan does); None
        otherwise, and for the iterative solver (one shared KSP already).

        A direct solver factorises its operator once; a new solver for every new step size
        redoes the ordering and symbolic factorisation, the same each time (all operators
        share the Jacobian template's sparsity). Copying A's values into the newest entry's
        matrix lets its solver refactorise numerically only, on the analysis it has: the
        same factors (the ordering depends on the sparsity alone), 4.1 instead of 9.6 ms on
        the 4 169-dof Jacobian of the C1-class case. The entry keeps a copy of its operator
        without a solver: if its step size comes back it gets a solver for that operator
        again (the factorisation it had), so every step solves with the same factors as
        with a solver per step size, and step sizes that come back (pulse trains) keep
        theirs from then on.
        """
        if self.solver != "direct" or not self._cache:
            return None
        last_key, (A_last, ksp_last) = next(reversed(self._cache.items()))
        total = PETSc.Mat.InfoType.GLOBAL_SUM  # summed over ranks: every rank decides alike
        if ksp_last is None or last_key in self._repeating or \
                A_last.getSizes() != A.getSizes() or (
                A_last.getInfo(total)["nz_allocated"] != A.getInfo(total)["nz_allocated"]):
            return None
        self._cache[last_key] = (A_last.duplicate(copy=True), None)
        A.copy(A_last, structure=PETSc.Mat.Structure.SAME_NONZERO_PATTERN)
        A.destroy()
        ksp_last.setOperators(A_last)  # new values: a numeric refactorisation when solved
        return A_last, ksp_last

    def _update_coefficients(self) -> None:
        """Nodal values of the temperature-dependent properties and their derivatives, at
        the nodes of their region's cells (elsewhere a region's coefficient is not used).

        Values outside a table use the end value here; the solution itself is range-checked
        (check_range), so no result rests on an extrapolated property.
        """
        Tx = self.T.x.array
        last = getattr(self, "_coefficients_at", None)
        if last is not None and np.array_equal(last, Tx):
            return  # the residual after the Jacobian, at the same T: nothing to redo
        self._coefficients_at = Tx.copy()
        if not hasattr(self, "_lookups"):
            self._lookups = [_NodalLookup(t) for t, _, _ in self.nodal]
        for (_, f, df), lookup, dofs in zip(self.nodal, self._lookups, self._nodal_dofs):
            lookup.evaluate(Tx[dofs], f.x.array, df.x.array, dofs)

    def _residual(self) -> PETSc.Vec:
        self._update_coefficients()
        b = self.b
        with b.localForm() as loc:
            loc.set(0.0)
        dolfinx.fem.petsc.assemble_vector(b, self.F_form, coeffs=self._packed["F"]())
        b.ghostUpdate(addv=PETSc.InsertMode.ADD_VALUES, mode=PETSc.ScatterMode.REVERSE)
        if self.source_vector is not None:
            b.axpy(-float(self.power.value), self.source_vector)
        if self.cross is not None:
            self.cross.multAdd(self.T.x.petsc_vec, b, b)
        dolfinx.fem.petsc.set_bc(b, self.bcs, self.T.x.petsc_vec, -1.0)
        return b

    def _impose_fixed_temperatures(self) -> None:
        """Write the fixed temperatures into T, so the Newton update is zero on those dofs
        (the Jacobian's Dirichlet columns are zeroed, so nothing else may change them)."""
        for bc in self.bcs:
            bc.set(self.T.x.array)
        self.T.x.scatter_forward()

    def _solve(self) -> None:
        """Newton iterations on F(T) = 0 from the current T.

        Linear problems: one step with the cached factorisation is exact. Nonlinear ones
        start from the cached (lagged) Jacobian, or for a new step size from the last one
        shifted to it (_shifted_jacobian), and refresh it at the current T when the
        updates stop shrinking 5× per iteration or a lagged step fails to reduce the
        residual (modified Newton: the residual is exact, so the converged T is Newton's); a backtracking line search on ‖D⁻¹F‖₂ (_residual_norm; halving, sufficient
        decrease 1e-4)
        makes Newton robust far from the solution (e.g. radiation from a cold start). The
        iteration stops when the largest nodal update is below ``newton_tol`` (K).
        """
        self._ranges = None  # T is about to change
        self._impose_fixed_temperatures()
        A, ksp, fresh = self._operator(refresh=self.nonlinear and not self.lag_jacobian)
        b = self._residual()
        x = self.T.x.petsc_vec
        if not self.nonlinear:
            self._linear_solve(ksp, b)
            x.axpy(-1.0, self.du)
            self.T.x.scatter_forward()
            self.newton_iterations += 1
            return
        if self._newton_work is None:
            self._newton_work = (x.duplicate(), A.createVecLeft(), A.createVecLeft())
        x0, d, w = self._newton_work
        norm = self._residual_norm(A, d, w)
        norm0 = norm(b)
        previous = None
        for _ in range(self.max_newton):
            self._linear_solve(ksp, b)
            self.newton_iterations += 1
            update = self.du.norm(PETSc.NormType.NORM_INFINITY)
            if not np.isfinite(update):
                raise SolverError("Newton produced a non-finite temperature")
            x.copy(x0)
            alpha = 1.0
            while True:
                x.waxpy(-alpha, self.du, x0)
                self.T.x.scatter_forward()
                if update < self.newton_tol:
                    return
                b = self._residual()
                norm_b = norm(b)
                if np.isfinite(norm_b) and norm_b <= (1.0 - 1e-4 * alpha) * norm0:
                    break
                if not fresh:  # a lagged Jacobian may be the problem: refresh, re-solve
                    break
                alpha *= 0.5
                if alpha < 1e-4:
                    raise SolverError("Newton line search failed (no decrease of the "
                                      f"residual along the Newton direction, ‖D⁻¹F‖ = {norm0:.3g} K)")
            if not fresh and not (np.isfinite(norm_b) and norm_b <= (1.0 - 1e-4) * norm0):
                x0.copy(x)
                self.T.x.scatter_forward()
                _, ksp, fresh = self._operator(refresh=True)
                b = self._residual()
                norm0 = norm(b)
                previous = None
                continue
            update *= alpha
            fresh = False  # T moved: the Jacobian now lags behind it
            if not self.lag_jacobian or (previous is not None and update > 0.2 * previous):
                _, ksp, fresh = self._operator(refresh=True)
            previous, norm0 = update, norm_b
        raise SolverError(f"Newton did not converge in {self.max_newton} iterations "
                          f"(last update {update:.3g} K > {self.newton_tol:g} K)")

    @staticmethod
    def _residual_norm(A, d, w):
        """‖D⁻¹F‖₂ for the line search, D the diagonal of the Jacobian A: each nodal
        residual (W) as the temperature change (K) that would cancel it on its own.

        The plain ‖F‖₂ is dominated by the largest cells: their rows carry ρc·V/Δt·T, so
        their rounding error (~1e-16 of that) outweighs the whole residual of the rows under
        a micrometre spot, whose volumes (2πr·area, r → 0 on the axis) are 10⁻¹⁰ of theirs.
        A 1 µm spot on the shipped insert failed at its second step with ‖F‖ = 0.00185,
        the rounding level of its 2 mm cells. Scaled rows have rounding ~1e-16·T (K), and
        D is fixed for the whole solve, so norms within it compare.

        Args:
            A: the Jacobian (its diagonal is read into d).
            d, w: work vectors of A's row layout (unghosted: their localForm is empty on
                more than one rank, so only whole-vector operations are used): D⁻¹ and D⁻¹F.
        """
        A.getDiagonal(d)
        d.abs()
        d.reciprocal()  # (a zero diagonal, which no heat operator has, would weigh 0)

        def norm(b) -> float:
            w.pointwiseMult(d, b)
            return w.norm()
        return norm

    def _linear_solve(self, ksp, b) -> None:
        """One linear solve for the Newton update du.

        A solve that PETSc ends with an error part-way (a singular operator's factorisation
        in the preconditioner) leaves the right-hand side locked read-only: KSPSolve's error
        path skips the unlock, and petsc4py has no call to undo it. The next residual then
        failed with PETSc error 73 ("locked for read-only access"), an internal error where
        the steady solve's power continuation retries. The residual gets a fresh vector."""
        try:
            solve_linear(ksp, b, self.du, SolverError, "temperature")
        except SolverError:
            if b is self.b:
                self.b = b.duplicate()
            raise
        self.linear_iterations += ksp.getIterationNumber()
        if self._shared is not None:
            self._shared.solved()

    def steady(self, deposited_power: float) -> None:
        """Solve the steady state for a constant deposited power (W)."""
        raise_lost_signal()
        for c in (self.c0, self.c1, self.c2):
            c.value = 0.0
        start = self.T.x.array.copy()
        self.power.value = deposited_power
        try:
            self._solve_coupled()
        except SolverError:
            self._continue_power(start, deposited_power)
        self.check_range()

    def _continue_power(self, start: np.ndarray, deposited_power: float) -> None:
        """Reach a hot steady state through intermediate powers, each solve starting from
        the last: with k(T) falling at high temperature, Newton from a cold start can fail to
        find the hot solution directly (natural-parameter continuation)."""
        def restore(values):
            self.T.x.array[:] = values
            self.T.x.scatter_forward()

        restore(start)
        self.continuations += 1
        done, step = 0.0, 0.25
        while done < 1.0:
            trial = min(1.0, done + step)
            last = self.T.x.array.copy()
            self.power.value = trial * deposited_power
            try:
                self._solve_coupled()
            except SolverError:
                restore(last)
                step /= 2.0
                if step < 1.0 / 64.0:
                    raise
                continue
            done, step = trial, 2.0 * step

    def step(self, dt: float, deposited_power: float, restart: bool,
             dt_prev: float | None = None) -> None:
        """Advance by dt (s) at a constant deposited power (W).

        Args:
            dt: step size (s).
            deposited_power: power deposited during the step (W).
            restart: take a backward-Euler step (first step after a power switch).
            dt_prev: the previous step (s), for the BDF2 coefficients.
        """
        raise_lost_signal()
        if restart or dt_prev is None:
            a0, a1, a2 = 1.0, -1.0, 0.0
        else:
            om = dt / dt_prev
            a0, a1, a2 = (1 + 2 * om) / (1 + om), -(1 + om), om * om / (1 + om)
        self.c0.value, self.c1.value, self.c2.value = a0 / dt, a1 / dt, a2 / dt
        self.power.value = deposited_power
        self.T_nm1.x.array[:] = self.T_n.x.array
        self.T_n.x.array[:] = self.T.x.array
        if self.nonlinear and self.predictor and not restart and dt_prev is not None:
            # Newton starts from the linear extrapolation of the last two states (saves
            # about one iteration in six; the answer is that of the exact residual)
            self.T.x.array[:] += (dt / dt_prev) * (self.T_n.x.array - self.T_nm1.x.array)
        if self.coolant is not None:
            self.coolant.begin_step()
        n0 = self.newton_iterations
        self._solve_coupled()
        self._last_iterations = self.newton_iterations - n0
        self.check_range()

    # ------------------------------------------------------------------ monitors
    def _monitors(self) -> None:
        dom, V = self.domain, self.V
        tdim = dom.mesh.topology.dim
        nloc = V.dofmap.index_map.size_local
        self.region_dofs = {}
        self._face_dofs: dict[tuple, np.ndarray] = {}
        for region in self.materials:
            cells = dom.cell_tags.find(dom.groups[region])
            dofs = dolfinx.fem.locate_dofs_topological(V, tdim, cells)
            self.region_dofs[region] = dofs[dofs < nloc]
        from .heat_content import StoredHeat

        # The heat of every region in one pass (numpy; the UFL form on curved meshes).
        self.heat = StoredHeat(self.T, dom, self.materials, self.T_init, self.weight, self.dx)
        self._ranges = None  # (lo, hi) per region at the current T, while T is unchanged

    def face_max(self, groups: list[str]) -> float:
        """Largest nodal temperature on the named facet groups (K), over all ranks."""
        key = tuple(groups)
        if key not in self._face_dofs:
            dom, V = self.domain, self.V
            fdim = dom.mesh.topology.dim - 1
            nloc = V.dofmap.index_map.size_local
            dofs = np.unique(np.concatenate(
                [dolfinx.fem.locate_dofs_topological(V, fdim, dom.facets(g)) for g in groups]
                or [np.empty(0, dtype=np.int32)]))
            self._face_dofs[key] = dofs[dofs < nloc]
        vals = self.T.x.array[self._face_dofs[key]]
        return float(_reduce(self.comm, np.array([vals.max() if vals.size else -np.inf]),
                             MPI.MAX)[0])

    def region_ranges(self) -> dict[str, tuple[float, float]]:
        """(min, max) nodal temperature of every region (K), over all ranks: one reduction
        for all regions, computed once per temperature state (step, steady, reset)."""
        if self._ranges is None:
            T = self.T.x.array
            ext = np.array([(-v.min(), v.max()) if v.size else (-np.inf, -np.inf)
                            for v in (T[d] for d in self.region_dofs.values())]).reshape(-1)
            ext = _reduce(self.comm, ext, MPI.MAX).reshape(-1, 2)
            self._ranges = {r: (float(-lo), float(hi)) for r, (lo, hi) in
                            zip(self.region_dofs, ext)}
        return self._ranges

    def region_range(self, region: str) -> tuple[float, float]:
        """(min, max) nodal temperature in a region (K), over all ranks."""
        return self.region_ranges()[region]

    def region_max(self, region: str) -> float:
        """Largest nodal temperature in a region (K)."""
        return self.region_range(region)[1]

    @property
    def T_floor(self) -> float:
        """The lowest temperature the exact solution can take (K): with no heat sink (no
        negative heat flux on a face; the beam only heats), the maximum principle keeps it
        at or above the lowest of the initial, face and coolant temperatures. Nodal values
        below it are the discretisation's undershoot ahead of a steep front (measured 4.4 K
        on the block anode of meshes/ in its first second), not temperatures the body
        reaches; −inf where a face draws heat out."""
        if any(b.type == "heat_flux" and b.q_W_m2 < 0 for b in self.boundaries.values()):
            return -math.inf
        given = [self.T_init] + [b.temperature_K for b in self.boundaries.values()
                                 if b.temperature_K is not None]
        if self.coolant is not None:
            given += [self.coolant.circuit.ambient_K, self.coolant.circuit.initial_K]
        return min(given)

    def check_range(self) -> None:
        """Raise OutOfRangeError if any region melts or leaves its property tables (below,
        from the lowest temperature the exact solution can take: T_floor)."""
        self._ranges = None  # T has just changed
        floor = self.T_floor
        for region, (lo, hi) in self.region_ranges().items():
            m = self.materials[region]
            if not (np.isfinite(lo) and np.isfinite(hi)):
                raise SolverError(f"non-finite temperature in {region} (singular system?)")
            if hi > m.melting_K:
                raise mat_lib.MeltingError(
                    f"{region} ({m.key}): {hi:.5g} K ({hi - 273.15:.5g} °C) is above the "
                    f"{mat_lib.MELTING_WORDS[m.melting_kind]} {m.melting_K:.0f} K "
                    f"({m.melting_K - 273.15:.0f} °C)", m.melting_kind)
            for t in self.region_tables[region]:
                mat_lib.check_in_region(t, m, region, max(lo, floor), hi)

    def stored_heat(self) -> float:
        """Heat stored since the initial state, ∫∫ρc dT dV (J), summed over regions."""
        return float(_reduce(self.comm, np.array([self.heat.local()]), MPI.SUM)[0])

    def heat_input_per_W(self) -> float:
        """Σ of the assembled source vector (owned entries, all ranks): the heat the solver
        puts into the mesh per deposited watt, spot and extra-focal (P1 hat functions sum
        to 1, so this is ∫ q dV + ∫ q_ef dA as assembled; ideally 1 + P_ef/P_dep)."""
        if self.source_vector is None:
            return 0.0
        return float(self.source_vector.sum())

    def _source_integral(self) -> float:
        """∫ q dV of the 1 W source as the mesh integrates it (ideally 1): called on the
        spot's source vector as assembled, before it is normalised and the extra-focal
        heat is added.

        The sum of the source vector's entries: the P1 hat functions sum to 1 in every
        cell, so Σ_i ∫ q φ_i w dV is ∫ q w dV by the same quadrature rule (the source
        measures fix its degree) to round-off, without a scalar form of its own to compile
        (about 0.3 s a new case on a cold form cache).
        """
        return float(self.source_vector.sum()) if self.source_vector is not None else 0.0


def _reduce(comm, values: np.ndarray, op) -> np.ndarray:
    """Element-wise reduction of a float array over the ranks (a buffer Allreduce, no
    pickling; nothing at all on one rank)."""
    if comm.size == 1:
        return values
    out = np.empty_like(values)
    comm.Allreduce(values, out, op=op)
    return out
