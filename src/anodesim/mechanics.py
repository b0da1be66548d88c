"""Quasi-static small-strain thermoelasticity on the thermal mesh.

    ∇·σ = 0,   σ = λ tr(ε) I + 2μ ε − (3λ + 2μ) ε_th(T) I,   ε_th(T) = ∫_{T_ref}^{T} α dT′,

with E(T), ν(T) and the tangent expansion coefficient α(T) from the material library
(interpolated at the nodes, as in the heat solver), per region. Axisymmetric (r, z): the
displacement is (u_r, u_z), the strain includes the hoop component u_r/r, every integral
carries 2πr, and u_r = 0 on the axis. 3-D meshes use the full strain (same code path).

Solved at save times only (no inertia: the elastic waves are many orders of magnitude faster
than the heat). Mounts per named face: clamped (u = 0) or sliding (normal component zero,
for faces normal to a coordinate axis; in 3-D, sliding faces alone are held in their plane
by a pin and a slot at two nodes, which stress nothing); a free body has its rigid axial translation removed
by fixing its centre of mass. Interfaces that are split for a thermal conductance are bonded
here: their two sides are tied by a penalty stiffness of 1e4 E_max / h_min, which leaves a
gap of ~1e-4 of an element's elastic deformation.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from . import _mpi  # noqa: F401,I001  (MPI before dolfinx)
import dolfinx
import dolfinx.fem.petsc
import numpy as np
import ufl
from ._mpi import MPI
from petsc4py import PETSc

from . import coupling, materials as mat_lib
from .errors import RunFailure
from .geometry import AnodeMesh
from .krylov import shared_pc_cg, shares_factorisation
from .solver_choice import lu_preconditioned, resolve_solver
from .linalg import CoefficientGather, SharedPreconditioner, linear_solver, solve_linear

PROPS = ("E", "nu")


class MechanicsError(RunFailure, RuntimeError):
    """The thermoelastic problem cannot be set up or solved."""


class YieldUse(NamedTuple):
    """The largest regularised yield use of a region (ThermoElasticProblem.yield_use)."""

    ratio: float  #: averaged von Mises stress over the yield strength (-)
    stress_Pa: float  #: the ball's averaged von Mises stress (Pa)
    yield_strength_Pa: float  #: the yield strength at the ball's mean temperature (Pa)
    centre_m: np.ndarray  #: the ball's centre (m)
    #: size (m) of the cell the ball is centred in (None without balls): the average
    #: converges once the cells there are well below the ball's radius
    cell_m: float | None


class ThermoElasticProblem:
    """Thermoelastic displacement and stress for a given temperature field.

    Args:
        domain: mesh with region and face tags (as for the heat solver).
        materials: region name → Material.
        temperature: the heat solver's temperature Function (K); read at each solve.
        mounts: face name → "clamped" or "sliding".
        free: remove the rigid axial translation instead of mounting the body.
        T_ref: stress-free temperature (K).
        ties: (name, side_a, side_b) of split interfaces to bond.
        prefix: PETSc options prefix.
        solver: "direct" (MUMPS LU) or "iterative" (CG preconditioned by LU up to
            solver_choice.LU_PC_MAX_NODES nodes, by GAMG with the rigid-body modes as
            near-nullspace above).
        rtol: relative tolerance of the iterative solver.
        reference_face: the face displacements are measured from (its mean displacement,
            ``reference_displacement``), or None.
        T_floor: the lowest temperature the exact heat solution can take (K; the heat
            problem's T_floor): the tables are checked from there, as the heat solver's
            undershoot below it is no temperature the body reaches.
    """

    def __init__(self, domain: AnodeMesh, materials: dict[str, mat_lib.Material], temperature,
                 mounts: dict[str, str], free: bool, T_ref: float, ties=(),
                 prefix: str = "anodesim_mechanics_", solver: str = "direct",
                 rtol: float = 1e-10, reference_face: str | None = None,
                 T_floor: float = -math.inf):
        self.domain, self.materials, self.T = domain, materials, temperature
        self.T_floor = T_floor
        self.reference_face = reference_face
        self.mounts, self.free, self.T_ref, self.ties = mounts, free, T_ref, list(ties)
        self.prefix = prefix
        self.solver, self.rtol = solver, rtol
        self.solves = 0
        self.linear_iterations = 0
        self._mean_forms = None  # weighted_mean_displacement's compiled forms
        self._shift = None  # shift_weight's adjoint weight and forms
        self._shift_g_for = None  # the normal its right-hand side g is assembled for
        self._balls = {}  # yield_use's averaging matrices, per (region, faces, radius)
        self._ball_cell_m = {}  # and the size of the cell each is centred in (m)
        self.initialise()

    def initialise(self) -> None:
        """Build the space, the forms, the mounts, the solver and the stress output (named
        steps, as the heat problem)."""
        self._define_function_space()
        a, L, E_max = self._define_elasticity()
        self._L = L  # the thermal load, also contracted with the shift weight (shift_weight)
        a, pairs = self._define_ties(a, E_max)
        self._define_mounts()
        if self.free:
            self._define_free_body()
        self._create_solver(a, L, pairs)
        self._define_stress_output()

    def _define_function_space(self) -> None:
        """P1 displacement space, the volume weight (2πr in axisymmetry), measures and the
        small-strain tensor (with the hoop strain u_r/r in axisymmetry)."""
        dom = self.domain
        msh = dom.mesh
        self.comm = msh.comm
        tdim, gdim = msh.topology.dim, msh.geometry.dim
        msh.topology.create_connectivity(tdim - 1, tdim)
        msh.topology.create_connectivity(tdim, tdim)
        self.V = dolfinx.fem.functionspace(msh, ("Lagrange", 1, (gdim,)))
        self.u = dolfinx.fem.Function(self.V, name="displacement_m")
        x = ufl.SpatialCoordinate(msh)
        axisym = dom.axisymmetric
        self.weight = 2 * np.pi * x[0] if axisym else 1.0
        self.dx = ufl.Measure("dx", domain=msh, subdomain_data=dom.cell_tags,
                              metadata={"quadrature_degree": 2})
        self.ds = ufl.Measure("ds", domain=msh, subdomain_data=dom.facet_tags)
        self._I3 = ufl.Identity(3 if axisym else gdim)
        self.region_cells = {r: dom.cell_tags.find(dom.groups[r]) for r in self.materials}

        def eps(u):
            if not axisym:
                return ufl.sym(ufl.grad(u))
            g = ufl.grad(u)
            return ufl.as_tensor([[g[0, 0], 0, 0.5 * (g[0, 1] + g[1, 0])],
                                  [0, u[0] / x[0], 0],
                                  [0.5 * (g[0, 1] + g[1, 0]), 0, g[1, 1]]])

        self._eps = eps

    def _define_elasticity(self):
        """Bilinear form and thermal load of linear thermoelasticity per region, with nodal
        E(T), ν(T) and thermal strain; (a, L, the largest Young's modulus in Pa).

        On affine tetrahedra the strain of a P1 displacement is constant in each cell, so
        the cell's stiffness is ∫λ dx and ∫μ dx times fixed matrices and its load
        ∫(3λ + 2μ) ε_th dx times a fixed vector: the forms take these integrals' cell means
        (CellMeans, the same quadrature in numpy) as DG0 coefficients at one quadrature
        point, the same integrals to round-off at 2.5× less cost (55 → 22 ms an assembly
        of the 3-D example's operator)."""
        dom, w, dx, eps, I3 = self.domain, self.weight, self.dx, self._eps, self._I3
        Q = self.T.function_space
        u_, v_ = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        a, L = 0, 0
        self.nodal = []  # (Material, Function E, Function nu, Function eps_th) per region
        self.sigma = {}
        E_max = 0.0
        self.cell_means = CellMeans.for_problem(self)
        means = self.cell_means
        for region, m in self.materials.items():
            tag = dom.groups[region]
            E, nu, eth = (dolfinx.fem.Function(Q) for _ in range(3))
            self.nodal.append((m, E, nu, eth))
            lam = E * nu / ((1 + nu) * (1 - 2 * nu))
            mu = E / (2 * (1 + nu))
            if means is None:
                a += ufl.inner(lam * ufl.tr(eps(u_)) * I3 + 2 * mu * eps(u_), eps(v_)) \
                    * w * dx(tag)
                L += ufl.inner((3 * lam + 2 * mu) * eth * I3, eps(v_)) * w * dx(tag)
            else:
                a += ufl.inner(means.lam * ufl.tr(eps(u_)) * I3 + 2 * means.mu * eps(u_),
                               eps(v_)) * means.dx(tag)
                L += means.load * ufl.tr(eps(v_)) * means.dx(tag)
            self.sigma[region] = (lambda u, lam=lam, mu=mu, eth=eth:
                                  lam * ufl.tr(eps(u)) * I3 + 2 * mu * eps(u)
                                  - (3 * lam + 2 * mu) * eth * I3)
            E_max = max(E_max, float(np.max(m.E.values)))
        return a, L, E_max

    def _define_ties(self, a, E_max: float):
        """Tie the sides of split interfaces (bonded), penalty stiffness k (Pa/m); (a, the
        tied pairs for the cross terms). The tie is k ∫ (u_a − P u_b)·(v_a − P v_b) w dA
        over side a, P the node map (coupling): it resists no rigid motion, to the bit,
        even where gmsh placed the two sides' nodes 1e-14 m apart; side b's block
        integrated on its own facets (until 2026-12-04) held side b to the ground by a
        spring of ~1e-11 k, which moved the stresses near the joint by up to 0.7 % between
        a mesh in memory and the same mesh read back from its file."""
        msh, w, ds = self.domain.mesh, self.weight, self.ds
        tdim = msh.topology.dim
        u_, v_ = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        pairs = []
        if self.ties:
            h_min = self.comm.allreduce(float(np.min(msh.h(tdim, np.arange(
                msh.topology.index_map(tdim).size_local, dtype=np.int32)))), op=MPI.MIN)
            # A constant, not a float in the form: h_min follows the spot size, so a float
            # would compile new tie forms for every spot size of a sweep.
            k_tie = dolfinx.fem.Constant(msh, PETSc.ScalarType(1e4 * E_max / h_min))
            for name, sa, sb in self.ties:
                # side a's block; the other three from its facet matrix (coupling.cross_terms)
                a += k_tie * ufl.inner(u_, v_) * w * ds(self.domain.groups[sa])
                pairs.append((name, sa, sb, k_tie))
        return a, pairs

    def _define_mounts(self) -> None:
        """Clamped faces (u = 0), sliding faces (normal component 0), u_r = 0 on the axis."""
        dom, V = self.domain, self.V
        fdim = dom.mesh.topology.dim - 1
        gdim = dom.mesh.geometry.dim
        self.bcs = []
        zero = PETSc.ScalarType(0)
        sliding = {}
        for face, kind in self.mounts.items():
            facets = dom.facets(face)
            if kind == "clamped":
                dofs = dolfinx.fem.locate_dofs_topological(V, fdim, facets)
                self.bcs.append(dolfinx.fem.dirichletbc(np.zeros(gdim), dofs, V))
            else:
                c = sliding[face] = self._normal_component(facets, face)
                dofs = dolfinx.fem.locate_dofs_topological(V.sub(c), fdim, facets)
                self.bcs.append(dolfinx.fem.dirichletbc(zero, dofs, V.sub(c)))
        if not dom.axisymmetric and sliding and "clamped" not in self.mounts.values():
            self._define_kinematic_hold(sliding)
        if dom.axisymmetric and "axis" in dom.groups:
            dofs = dolfinx.fem.locate_dofs_topological(V.sub(0), fdim, dom.facets("axis"))
            self.bcs.append(dolfinx.fem.dirichletbc(zero, dofs, V.sub(0)))

    def _define_kinematic_hold(self, sliding: dict[str, int]) -> None:
        """3-D bodies on sliding mounts only: hold the rigid motions they leave free with
        the fewest point constraints, which stress nothing (a uniform expansion stays
        stress-free). Sliding faces normal to one axis leave the two in-plane translations
        and the turn about the axis: a centring pin at the face's node P nearest its centre
        (both in-plane components) and a slot at the node Q of the same line through P along
        the first in-plane axis farthest from P (the other component). Faces normal to two
        axes leave the third translation: the pin alone, in that component. The mesh
        needs two nodes on that line (the parametric geometries place them)."""
        axes = set(sliding.values())
        if len(axes) == 3:
            return
        face = min(sliding)  # the same face on every rank
        free = [i for i in range(3) if i not in axes]
        pts = np.vstack(self.comm.allgather(self._face_points(self.domain.facets(face))))
        pts = np.unique(pts[:, :3], axis=0)
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        centre, tol = 0.5 * (lo + hi), 1e-9 * max(float(np.max(hi - lo)), 1e-300)
        if len(free) == 1:
            pins = [(pts[np.argmin(np.linalg.norm(pts - centre, axis=1))], free)]
        else:
            i, j = free
            line = pts[np.abs(pts[:, j] - centre[j]) <= tol]
            if len(line) < 2:
                raise MechanicsError(
                    f"mounts.{face}: a sliding mount in 3-D is held in its plane by a pin and a "
                    f"slot on mesh nodes along the line through the face's centre parallel to "
                    f"axis {'xyz'[i]}; the mesh has fewer than two nodes there; expected a "
                    "clamped face, or sliding faces normal to all three axes")
            P = line[np.argmin(np.linalg.norm(line - centre, axis=1))]
            Q = line[np.argmax(np.abs(line[:, i] - P[i]))]
            pins = [(P, free), (Q, [j])]
        V = self.V
        for point, components in pins:
            for c in components:
                dofs = dolfinx.fem.locate_dofs_geometrical(
                    (V.sub(c), V.sub(c).collapse()[0]),
                    lambda x, p=point: np.all(np.abs(x - p[:, None]) <= tol, axis=0))[0]
                self.bcs.append(dolfinx.fem.dirichletbc(PETSc.ScalarType(0), dofs, V.sub(c)))

    def _face_points(self, facets) -> np.ndarray:
        """Coordinates of the local vertices of the given facets (n, 3; m)."""
        msh = self.domain.mesh
        fdim = msh.topology.dim - 1
        msh.topology.create_connectivity(fdim, 0)
        verts = dolfinx.mesh.entities_to_geometry(msh, fdim, facets)
        return msh.geometry.x[verts.reshape(-1)] if len(facets) else np.zeros((0, 3))

    def _define_free_body(self) -> None:
        """A free axisymmetric body: u_z pinned at one axis node, the centre of mass fixed
        after each solve (the mass forms)."""
        dom, V, msh, w, dx = self.domain, self.V, self.domain.mesh, self.weight, self.dx
        if not dom.axisymmetric:
            raise MechanicsError("free bodies are only supported on axisymmetric meshes")
        # Pin u_z at one node of the axis (then fix the centre of mass after the solve).
        zs = msh.geometry.x[:, 1]
        z_low = self.comm.allreduce(float(zs.min()), op=MPI.MIN)
        ax = dolfinx.fem.locate_dofs_geometrical(
            (V.sub(1), V.sub(1).collapse()[0]),
            lambda p: np.isclose(p[0], 0.0) & np.isclose(p[1], z_low, atol=1e-12))[0]
        n_found = self.comm.allreduce(len(ax), op=MPI.SUM)
        if n_found == 0:
            raise MechanicsError("free body: no node on the axis at the lowest z to pin")
        if self.comm.rank != min(self.comm.allgather(self.comm.rank if len(ax) else
                                                     self.comm.size)):
            ax = ax[:0]
        self.bcs.append(dolfinx.fem.dirichletbc(PETSc.ScalarType(0), ax[:1], V.sub(1)))
        rho = sum(float(m.rho(self.T_ref)) * w * dx(dom.groups[r])
                  for r, m in self.materials.items())
        self._mass = dolfinx.fem.form(rho)
        self._mass_uz = dolfinx.fem.form(
            sum(float(m.rho(self.T_ref)) * self.u[1] * w * dx(dom.groups[r])
                for r, m in self.materials.items()))

    def _create_solver(self, a, L, pairs) -> None:
        """Compiled forms, matrix, the tie cross terms and the linear solver."""
        self.a_form = dolfinx.fem.form(a)
        self.L_form = dolfinx.fem.form(L)
        dim = self.domain.mesh.topology.dim
        self.solver = resolve_solver(self.solver, dim, self.T.function_space.dofmap.index_map
                                     .size_global)
        # 3-D, LU-preconditioned (MUMPS): a block matrix (3×3 blocks, one per node pair)
        # assembles 1.6× faster than the scalar one (141 → 88 ms on studies/reflection_3d);
        # MUMPS takes it as it is. GAMG and PETSc's own LU keep the scalar AIJ matrix.
        blocked = (self.solver == "iterative" and dim == 3 and not pairs
                   and lu_preconditioned(dim, self.V.dofmap.index_map.size_global))
        self.A = dolfinx.fem.petsc.create_matrix(self.a_form, kind="baij" if blocked else None)
        self.b = dolfinx.fem.petsc.create_vector(self.V)
        self._stiffness_assembled = False  # (solve: constant E and ν assemble A once)
        self.cross = (coupling.cross_terms(self.V, self.domain, pairs, self.weight, self.ds,
                                           self.bcs, self.A.getSizes())
                      if pairs else None)
        self.ksp = linear_solver(self.comm, self.A, self.prefix, self.solver, self.rtol,
                                 self._rigid_body_modes() if self.solver == "iterative"
                                 else None, dim=dim)
        # Iterative: the preconditioner (LU or GAMG) of the first solve serves the later
        # ones (E(T) moves the operator little) until the iterations double; see
        # SharedPreconditioner.
        self._shared = SharedPreconditioner(self.ksp) if self.solver == "iterative" else None

    def _define_stress_output(self) -> None:
        """von Mises stress per cell (DG0), region by region, and each region's owned
        temperature nodes (for the range checks of E, ν, α)."""
        msh = self.domain.mesh
        tdim = msh.topology.dim
        self.W0 = self.cell_means.V0 if self.cell_means is not None else \
            dolfinx.fem.functionspace(msh, ("DG", 0))
        self.von_mises = dolfinx.fem.Function(self.W0, name="von_mises_Pa")
        self.vm_expr = {}
        for region in self.materials:
            s = self.sigma[region](self.u)
            dev = s - ufl.tr(s) / 3 * ufl.Identity(s.ufl_shape[0])
            vm = ufl.sqrt(1.5 * ufl.inner(dev, dev))
            self.vm_expr[region] = dolfinx.fem.Expression(
                vm, self.W0.element.interpolation_points)
        Q = self.T.function_space
        self._region_nodes, self._region_dofs = {}, {}  # owned; all of the region's cells'
        for region in self.materials:
            dofs = dolfinx.fem.locate_dofs_topological(Q, tdim, self.region_cells[region])
            self._region_dofs[region] = dofs
            self._region_nodes[region] = dofs[dofs < Q.dofmap.index_map.size_local]

    def _rigid_body_modes(self) -> PETSc.NullSpace:
        """Translations and rotations of the owned nodes (3 in 2-D, 6 in 3-D), the
        near-nullspace that lets GAMG build coarse spaces for elasticity."""
        V, gdim = self.V, self.domain.mesh.geometry.dim
        n = V.dofmap.index_map.size_local
        xyz = V.tabulate_dof_coordinates()[:n, :gdim].copy()
        coords = PETSc.Vec().createWithArray(xyz.reshape(-1), bsize=gdim, comm=self.comm)
        self._coords = coords  # PETSc keeps a reference to the array
        return PETSc.NullSpace().createRigidBody(coords)

    def _normal_component(self, facets, face: str) -> int:
        """Index of the coordinate axis normal to a plane face (for a sliding mount)."""
        msh = self.domain.mesh
        pts = self._face_points(facets)
        gdim = msh.geometry.dim
        lo = np.array([self.comm.allreduce(float(pts[:, i].min()) if len(pts) else np.inf,
                                           op=MPI.MIN) for i in range(gdim)])
        hi = np.array([self.comm.allreduce(float(pts[:, i].max()) if len(pts) else -np.inf,
                                           op=MPI.MAX) for i in range(gdim)])
        span = hi - lo
        flat = np.flatnonzero(span <= 1e-9 * max(span.max(), 1e-300))
        if len(flat) != 1:
            raise MechanicsError(f"mounts.{face}: a sliding mount needs a plane face normal to a "
                                 "coordinate axis")
        return int(flat[0])

    def _update_coefficients(self, stiffness: bool = True) -> None:
        """Nodal E, ν and ε_th of each region (and on affine tetrahedra their cell means:
        the thermal load's, with `stiffness` the operator's too); a region's temperatures
        outside its tables (above T_floor) stop the run (OutOfRangeError), never a silent
        clip or extrapolation."""
        Tx = self.T.x.array
        for (m, E, nu, eth), region in zip(self.nodal, self.region_cells):
            own = self._region_nodes[region]
            lo = self.comm.allreduce(float(Tx[own].min()) if own.size else np.inf, op=MPI.MIN)
            hi = self.comm.allreduce(float(Tx[own].max()) if own.size else -np.inf, op=MPI.MAX)
            for table in (m.E, m.nu, m.alpha):
                mat_lib.check_in_region(table, m, region, max(lo, self.T_floor), hi)
            # evaluated at the nodes of the region's cells only (ghosts included): the
            # region's forms and stresses use no other (a third of the per-step drift
            # proxy's table look-ups saved on the 3-D example); clamped, as the range check
            # covers the owned nodes only
            used = self._region_dofs[region]
            T_used = Tx[used]
            E.x.array[used] = m.E(np.clip(T_used, *m.E.range_K))
            nu.x.array[used] = m.nu(np.clip(T_used, *m.nu.range_K))
            eth.x.array[used] = m.alpha.antiderivative(np.clip(T_used, *m.alpha.range_K),
                                                       self.T_ref)
            if self.cell_means is not None:
                self.cell_means.update(region, E.x.array, nu.x.array, eth.x.array,
                                       stiffness)

    def solve(self, weight=None) -> dolfinx.fem.Function:
        """Displacement (m) for the current temperature field; updates the von Mises field.

        Args:
            weight: (terms, normal) as for shift_weight, to solve the drift proxy's shift
                weight on this operator too. With a shared LU factorisation the two
                systems run their CG iterations together, one two-column triangular
                solve per iteration (krylov.shared_pc_cg: about half the elastic solve
                time of the 3-D example); otherwise one after the other.
        """
        # E and ν held constant (temperature_dependent = false, the rating's step
        # response: 1 341 elastic solves at 32 samples a doubling): the operator of the
        # first solve serves every later one, assembled once (the same matrix bit for bit)
        fixed = self._stiffness_assembled and all(
            m.E.is_constant and m.nu.is_constant for m, *_ in self.nodal)
        self._update_coefficients(stiffness=not fixed)
        A = self.A
        if not fixed:
            A.zeroEntries()
            dolfinx.fem.petsc.assemble_matrix(A, self.a_form, bcs=self.bcs)
            A.assemble()
            if self.cross is not None:
                A.axpy(1.0, self.cross,
                       structure=PETSc.Mat.Structure.DIFFERENT_NONZERO_PATTERN)
            self._stiffness_assembled = True
        with self.b.localForm() as loc:
            loc.set(0.0)
        dolfinx.fem.petsc.assemble_vector(self.b, self.L_form)
        self.b.ghostUpdate(addv=PETSc.InsertMode.ADD_VALUES, mode=PETSc.ScatterMode.REVERSE)
        dolfinx.fem.petsc.set_bc(self.b, self.bcs)
        if self._shared is not None:
            self._shared.use(A)
        else:
            self.ksp.setOperators(A)
        shift = self._shift_system(*weight) if weight is not None else None
        if shift is not None and self._shared is not None and shares_factorisation(self.ksp):
            g, z, guess = shift
            its = shared_pc_cg(self.ksp, [(self.b, self.u.x.petsc_vec, False),
                                          (g, z.x.petsc_vec, guess)],
                               MechanicsError, ["displacement", "shift weight"])[0]
            shift = None  # solved with the displacement
        else:
            solve_linear(self.ksp, self.b, self.u.x.petsc_vec, MechanicsError, "displacement")
            its = self.ksp.getIterationNumber()
        self.linear_iterations += its
        if self._shared is not None:
            self._shared.solved(its)
        if shift is not None:
            self._solve_shift(*shift)
        if weight is not None:
            self._shift_done()
        self.u.x.scatter_forward()
        if self.free:  # fix the centre of mass: remove the rigid axial translation
            mass = self.comm.allreduce(dolfinx.fem.assemble_scalar(self._mass), op=MPI.SUM)
            muz = self.comm.allreduce(dolfinx.fem.assemble_scalar(self._mass_uz), op=MPI.SUM)
            self.u.x.array.reshape(-1, 2)[:, 1] -= muz / mass
        for region, expr in self.vm_expr.items():
            self.von_mises.interpolate(expr, cells0=self.region_cells[region])
        self.von_mises.x.scatter_forward()
        self.solves += 1
        return self.u

    def weighted_mean_displacement(self, terms) -> np.ndarray:
        """∫ q u w / ∫ q w over the beam source terms [(q, measure)] (m, 3 components).

        The terms are fixed for the life of the heat problem (the spot's constants are set
        when it is built), so the vectors G_i = ∫ q φ_i w (one per displacement component)
        and ∫ q w (their entries' sum) are computed once, on the first call (_beam_weights);
        each call is then G_i · u, the same integral as assembling ∫ q u_i w (u is P1),
        without a pass over the cells.
        """
        den, weights = self._beam_weights(terms)
        mean = np.zeros(3)
        for out, G in weights:
            mean[out] = G.dot(self.u.x.petsc_vec) / den
        return mean

    def _beam_weights(self, terms) -> tuple[float, list]:
        """(∫ q w, [(component of the mean, G_i)]) of the beam source terms, assembled once
        for them: G_i = ∫ q φ_i w over the P1 basis of displacement component i.

        One vector form for all components: ∫ q (Σ_i v_i) w, whose entries at the dofs of
        component i are G_i's (each basis function has one component), split into one
        vector per component; ∫ q w is the sum of one component's entries (its hat
        functions sum to 1, the same quadrature rule). One form to compile instead of one
        per component and a scalar one (about 0.3 s each on a cold form cache).
        """
        key = tuple((id(q), id(meas)) for q, meas in terms)
        if self._mean_forms is None or self._mean_forms[0] != key:
            v, w = ufl.TestFunction(self.V), self.weight
            # (component of u, component of the mean): axisymmetric, the radial parts cancel
            # around the axis and u_z (component 1 of (r, z)) is the mean's z
            components = [(1, 2)] if self.domain.axisymmetric else \
                [(i, i) for i in range(self.domain.mesh.geometry.dim)]
            test = sum(v[i] for i, _ in components)
            G_all = dolfinx.fem.petsc.assemble_vector(
                dolfinx.fem.form(sum(q * test * w * meas for q, meas in terms)))
            G_all.ghostUpdate(addv=PETSc.InsertMode.ADD_VALUES,
                              mode=PETSc.ScatterMode.REVERSE)
            bs = self.V.dofmap.index_map_bs
            weights = []
            for i, out in components:
                G = G_all.copy()
                with G.localForm() as loc:  # owned and ghost entries: zero but component i
                    mask = np.ones(bs, dtype=bool)
                    mask[i] = False
                    loc.array.reshape(-1, bs)[:, mask] = 0.0
                weights.append((out, G))
            G_all.destroy()
            den = float(weights[0][1].sum())
            # the terms are kept alive with their key (it holds their identities)
            self._mean_forms = (key, terms, den, weights)
        return self._mean_forms[2], self._mean_forms[3]

    def shift_weight(self, terms, normal) -> None:
        """Solve for the adjoint weight z of the spot's normal shift on the current operator
        (the last solve's E(T), ν(T)): afterwards ``normal_shift()`` gives
        J = n·(weighted_mean_displacement(terms) − reference_displacement()) for any
        temperature field without a displacement solve.

        J is linear in u, J(u) = g·u, and u = K⁻¹ b(T) with K symmetric, so
        J = (K⁻¹ g)·b(T) = L(z; T): the thermal load contracted with z = K⁻¹ g. Exact while
        E and ν stay those of the last solve (constant properties: always); otherwise a
        proxy whose error is the change of the operator since then. The free body's
        centre-of-mass correction is part of g.

        Args:
            terms: the beam source terms [(q, measure)] of weighted_mean_displacement.
            normal: the outward surface normal n at the spot (3 components, tube frame).
        """
        self._solve_shift(*self._shift_system(terms, normal))
        self._shift_done()

    def _shift_system(self, terms, normal):
        """The shift weight's system (g, z, guess): g = ∂J/∂u, assembled when the terms
        or n change, z its Function, guess: whether CG may start from the last z."""
        n = np.asarray(normal, dtype=float)
        c = n if self.domain.mesh.geometry.dim == 3 else np.array([0.0, n[2]])  # (r, z)
        key = tuple((id(q), id(meas)) for q, meas in terms)
        if self._shift is None or self._shift[0] != key:
            self._shift_g_for = None  # g is assembled for these terms below
            # the normalising integrals are Constants, not floats in the forms: they follow
            # the spot size, and a float would compile new forms for every spot of a sweep
            v = ufl.TestFunction(self.V)
            form = dolfinx.fem.form
            const = lambda: dolfinx.fem.Constant(self.domain.mesh,  # noqa: E731
                                                 PETSc.ScalarType(0.0))
            coef = [const() for _ in c]  # c_i / ∫q w
            g = sum(coef[i] * q * v[i] * self.weight * meas
                    for q, meas in terms for i in range(len(c)))
            ref = [const() for _ in c]  # c_i / ∫w dA of the reference face
            if self.reference_face is not None:
                ds = self.ds(self.domain.groups[self.reference_face])
                g -= sum(ref[i] * v[i] * self.weight * ds for i in range(len(c)))
            free = const()  # c_z / mass of a free body (no reference face)
            if self.free and self.reference_face is None:  # u_z − ∫ρ u_z w/mass
                g -= sum(float(m.rho(self.T_ref)) * free * v[1] * self.weight
                         * self.dx(self.domain.groups[r]) for r, m in self.materials.items())
            z = dolfinx.fem.Function(self.V, name="shift_weight")
            one = dolfinx.fem.Constant(self.domain.mesh, PETSc.ScalarType(1.0))
            norms = ([form(one * self.weight * ds)] if self.reference_face is not None else [],
                     [self._mass] if self.free else [])
            # affine tetrahedra: J = Σ_cells load_c ∫_cell div z dx, a dot product; else
            # the thermal load's form contracted with z
            if self.cell_means is not None:
                J_form = None
                div_z = self.cell_means.divergence_form(
                    z, [self.domain.groups[r] for r in self.materials])
            else:
                J_form, div_z = form(ufl.action(self._L, z)), None
            # ∫q w, the reference face's area and the mass do not change during a run (the
            # terms are fixed, the mass is at T_ref): integrated once
            scales = (self._beam_weights(terms)[0],) + tuple(
                sum(self.comm.allreduce(dolfinx.fem.assemble_scalar(f), op=MPI.SUM)
                    for f in forms) if forms else 1.0 for forms in norms)
            self._shift = (key, (coef, ref, free), form(g), z, J_form,
                           dolfinx.fem.petsc.create_vector(self.V), scales, terms,
                           CoefficientGather(J_form) if J_form is not None else None, div_z)
        _, (coef, ref, free), g_form, z, J_form, g, (den, area, mass), _, _, div_z = self._shift
        # g depends on the terms and n only, not on the temperature: assembled once for
        # them; each later call solves on the new operator only
        if self._shift_g_for != tuple(c):
            for k, r, ci in zip(coef, ref, c):
                k.value, r.value = ci / den, ci / area
            free.value = c[-1] / mass
            with g.localForm() as loc:
                loc.set(0.0)
            dolfinx.fem.petsc.assemble_vector(g, g_form)
            g.ghostUpdate(addv=PETSc.InsertMode.ADD_VALUES, mode=PETSc.ScatterMode.REVERSE)
            dolfinx.fem.petsc.set_bc(g, self.bcs)
            self._shift_g_for, guess = tuple(c), False
        else:
            # CG from the last weight: E(T) and ν(T) move the operator little between saves,
            # so it is close (3-D example: 1-2 iterations instead of 3-6, each a pair of
            # triangular solves); to the same tolerance, rtol × |g|. A direct solve ignores it.
            guess = self._shared is not None
        return g, z, guess

    def _solve_shift(self, g, z, guess: bool) -> None:
        """The shift weight's own solve on the KSP's operator (from z when guess)."""
        self.ksp.setInitialGuessNonzero(guess)
        try:
            solve_linear(self.ksp, g, z.x.petsc_vec, MechanicsError, "shift weight")
        finally:
            self.ksp.setInitialGuessNonzero(False)

    def _shift_done(self) -> None:
        """After the shift weight's solve: its ghosts, and on affine tetrahedra the cell
        integrals of its divergence (normal_shift's dot product)."""
        z, div_z = self._shift[3], self._shift[9]
        z.x.scatter_forward()
        if div_z is not None:
            self._div_z = self.cell_means.integrate(div_z)

    def normal_shift(self) -> float:
        """n·(weighted mean − reference displacement) (m) of the current temperature field
        through the weight of shift_weight (which must have been solved): one assembly of
        the thermal load (on affine tetrahedra a dot product of cell values), no solve. On
        affine tetrahedra only the load's cell means follow the temperature here; the
        operator's (λ, μ) stay those of the last solve, which refreshes them."""
        if self._shift is None:
            raise MechanicsError("normal_shift needs the weight of shift_weight first")
        self._update_coefficients(stiffness=False)
        if self.cell_means is not None:
            local = self.cell_means.dot_load(self._div_z)
        else:
            local = dolfinx.fem.assemble_scalar(self._shift[4], coeffs=self._shift[8]())
        return self.comm.allreduce(local, op=MPI.SUM)

    def reference_displacement(self) -> np.ndarray:
        """Mean displacement of the reference face, ∫ u w dA / ∫ w dA (m, 3 components; zero
        without a reference face). Axisymmetric: (0, 0, mean u_z), the radial part of a
        face around the axis being no translation. The face's rotation is not removed (a
        mounting face normal to the axis does not tilt in axisymmetry)."""
        if self.reference_face is None:
            return np.zeros(3)
        if not hasattr(self, "_ref_forms"):
            ds = self.ds(self.domain.groups[self.reference_face])
            gdim = self.domain.mesh.geometry.dim
            one = dolfinx.fem.Constant(self.domain.mesh, PETSc.ScalarType(1.0))
            self._ref_forms = [dolfinx.fem.form(one * self.weight * ds)] + [
                dolfinx.fem.form(self.u[i] * self.weight * ds) for i in range(gdim)]
        area, *parts = (self.comm.allreduce(dolfinx.fem.assemble_scalar(f), op=MPI.SUM)
                        for f in self._ref_forms)
        mean = np.array(parts) / area
        if self.domain.axisymmetric:
            return np.array([0.0, 0.0, mean[1]])
        return mean

    def region_stress_max(self, region: str) -> tuple[float, np.ndarray]:
        """(largest von Mises stress Pa, cell-centre location m) in a region."""
        msh = self.domain.mesh
        cells = self.region_cells[region]
        cells = cells[cells < msh.topology.index_map(msh.topology.dim).size_local]
        vals = self.von_mises.x.array[cells]
        if len(vals):
            i = int(np.argmax(vals))
            best = (float(vals[i]), dolfinx.mesh.compute_midpoints(
                msh, msh.topology.dim, cells[i:i + 1])[0])
        else:
            best = (-np.inf, np.zeros(3))
        return max(self.comm.allgather(best), key=lambda b: b[0])

    def yield_balls(self, region: str, near: list[str], radius_m: float):
        """The averaging balls of :meth:`yield_use` (built on first use): ((rows, cols,
        weights) of the sparse cell-to-ball averaging matrix, the ball centres (m), the
        region's cells the columns index), or None when the material has no yield data.
        The rating engine's stress probe averages its own stresses with them."""
        mat = self.materials[region]
        key = (region, tuple(near), radius_m)
        if mat.yield_strength is not None and key not in self._balls:
            self._balls[key] = self._ball_averages(region, near, radius_m)
        return self._balls.get(key)

    def yield_use(self, region: str, near: list[str], radius_m: float) -> YieldUse:
        """Regularised von Mises stress against the yield strength in a region, near faces.

        The von Mises stress of a perfectly bonded joint is singular at the corner where the
        joint meets a free surface; its nodal or cell maximum grows without bound as the mesh
        is refined. The measure here has a limit as the mesh is refined: the volume average
        of the cell stress over a ball of radius_m (r-weighted on axisymmetric meshes) around
        each cell of the region within radius_m of the named faces, divided by the yield
        strength at the ball's mean temperature; the largest such ratio. It converges once
        the cells near the joint are well below radius_m (order 0.6 in the mesh size on the
        shipped insert, whose largest ball sits at the insert's buried rim: with 0.1 mm
        cells there 8-9 % low, with the default refinement of the joint's corners to
        radius_m / 8 (limits.JOINT_CORNER_M) within 1.4 %, low:
        studies/convergence_mechanics.py, README "accuracy of the defaults").

        Args:
            region: the region (its material needs ``yield_strength``).
            near: face groups the ball centres must be near (the joint's interfaces).
            radius_m: the averaging radius (m).

        Returns:
            The largest ratio, with its averaged stress, the yield strength there, the ball
            centre and the size of the cell it is centred in (YieldUse); ratio NaN when the
            material has no yield data.
        """
        mat = self.materials[region]
        balls = self.yield_balls(region, near, radius_m)
        if balls is None:
            return YieldUse(math.nan, math.nan, math.nan, np.zeros(3), None)
        (rows, cols, w), centres, cells = balls
        Tdm = self.T.function_space.dofmap
        T_cell = self.T.x.array[Tdm.list[cells]].mean(axis=1)
        vm = self.von_mises.x.array[cells]
        T_cell, vm = (np.concatenate(self.comm.allgather(a)) for a in (T_cell, vm))
        s_avg, T_avg = (np.bincount(rows, weights=w * x[cols], minlength=len(centres))
                        for x in (vm, T_cell))
        lo, hi = mat.yield_strength.range_K
        # above the yield table there are no data: counted as yielded (ratio inf)
        sy = np.where(T_avg <= hi, mat.yield_strength(np.clip(T_avg, lo, hi)), 0.0)
        with np.errstate(divide="ignore"):
            ratio = np.where(sy > 0, s_avg / np.where(sy > 0, sy, 1.0), math.inf)
        i = int(np.argmax(ratio))  # the first of equal ratios, as a scan would keep
        return YieldUse(float(ratio[i]), float(s_avg[i]), float(sy[i]), centres[i],
                        float(self._ball_cell_m[(region, tuple(near), radius_m)][i]))

    def _ball_averages(self, region: str, near: list[str], radius_m: float):
        """The geometry of yield_use, built once: ((rows, cols, w), the ball centres (m),
        the region's owned cells): the averaging matrix in coordinate form, row i the volume
        weights w (r-weighted on axisymmetric meshes) of the region's cells cols within
        radius_m of ball centre i over their sum, for the cell midpoints within radius_m of
        the named faces (all ranks' cells, in allgather order); None when there are no such
        cells or faces. Neighbours by a grid of radius_m cubes (pairs_within), numpy only
        (scipy.spatial's import alone cost 0.44 s of a 3-D run)."""
        msh = self.domain.mesh
        tdim = msh.topology.dim
        cells = self.region_cells[region]
        cells = cells[cells < msh.topology.index_map(tdim).size_local]
        mid = dolfinx.mesh.compute_midpoints(msh, tdim, cells)
        geo = msh.geometry.x[dolfinx.mesh.entities_to_geometry(msh, tdim, cells)]
        if tdim == 2:
            e1, e2 = geo[:, 1] - geo[:, 0], geo[:, 2] - geo[:, 0]
            area = 0.5 * np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])
            vol, size = area * np.abs(mid[:, 0]), np.sqrt(2.0 * area)
        else:
            e = geo[:, 1:4] - geo[:, :1]
            vol = np.abs(np.linalg.det(e)) / 6.0
            size = np.cbrt(6.0 * vol)
        fdim = tdim - 1
        facets = np.concatenate([self.domain.facets(g) for g in near]) if near else \
            np.empty(0, dtype=np.int32)
        fmid = dolfinx.mesh.compute_midpoints(msh, fdim, facets) if len(facets) else \
            np.zeros((0, 3))
        gather = self.comm.allgather
        mid, vol, size = (np.concatenate(gather(a)) for a in (mid, vol, size))
        fmid = np.concatenate(gather(fmid))
        if len(mid) == 0 or len(fmid) == 0:
            return None
        near_face = np.zeros(len(mid), dtype=bool)
        near_face[pairs_within(fmid, mid, radius_m)[1]] = True
        if not near_face.any():
            # Cells coarser than the ball (a 3-D rod meshed at growth 0.6: no midpoint
            # within 0.1 mm of the joint): the cell nearest each joint facet, the one on
            # it, carries the ball, so the yield use is that of the joint's own cells,
            # reported with their size as likely low, not NaN (a NaN column dropped a
            # limits.yield_use from the limits in force without a word).
            i, j = pairs_within(mid, fmid, float(size.max()) * 2.0)
            if len(i):
                d = np.sum((mid[i] - fmid[j]) ** 2, axis=1)
                order = np.lexsort((d, j))
                first = np.unique(j[order], return_index=True)[1]
                near_face[i[order][first]] = True
        centres = np.flatnonzero(near_face)
        if len(centres) == 0:
            return None
        # the cells there, as the legs of a right triangle or tetrahedron of their area or
        # volume: the ball average converges once they are well below radius_m
        self._ball_cell_m[(region, tuple(near), radius_m)] = size[centres]
        cols, rows = pairs_within(mid, mid[centres], radius_m)
        order = np.lexsort((cols, rows))  # row by row, cells in index order
        rows, cols = rows[order], cols[order]
        w = vol[cols]
        w = w / np.bincount(rows, weights=w, minlength=len(centres))[rows]
        return (rows, cols, w), mid[centres], cells


class CellMeans:
    """Cell means of the elastic coefficients λ(T), μ(T) and (3λ + 2μ) ε_th(T) on affine
    tetrahedra, as DG0 Functions (``lam``, ``mu``, ``load``; Pa, Pa, Pa).

    A mean is the elastic form's own quadrature (degree 2, basix's default rule) of the
    nodal (P1) E, ν and ε_th divided by the cell's volume, evaluated in numpy; with
    ``dx`` (one quadrature point) the forms then integrate exactly what the degree-2 forms
    on the nodal coefficients do, to round-off, because the strain of a P1 displacement is
    constant in an affine cell.

    Args:
        V0: the DG0 space.
        Q: the P1 temperature space.
        region_cells: region name → its local cells (ghosts included).
        dx: the elastic problem's cell measure (its subdomain data, the region tags).
    """

    #: Cells evaluated at once: few enough that numpy's OpenBLAS computes a product of
    #: their nodal values with the basis (4096 × 4 × 4 = 65 536 multiply-adds, its smallest
    #: threshold for threads, times GEMM_MULTITHREAD_THRESHOLD) on this thread. A larger
    #: product starts threads that then spin on the other core for the rest of the run (the
    #: 3-D example's CPU time 1.7×) where OPENBLAS_NUM_THREADS is not 1 (the command line
    #: sets it; a script calling the library may not).
    CHUNK = 4096

    def __init__(self, V0, Q, region_cells: dict[str, np.ndarray], dx):
        import basix

        self.V0 = V0
        self.lam, self.mu, self.load = (dolfinx.fem.Function(V0) for _ in range(3))
        self.dx = dx.reconstruct(metadata={"quadrature_degree": 0})
        pts, wts = basix.make_quadrature(basix.CellType.tetrahedron, 2)
        p1 = basix.create_element(basix.ElementFamily.P, basix.CellType.tetrahedron, 1)
        self.phiT = p1.tabulate(0, pts)[0, :, :, 0].T.copy()  # (vertices, points)
        self.w = wts / wts.sum()
        self.nodes = {r: Q.dofmap.list[c] for r, c in region_cells.items()}
        self.slots = {r: V0.dofmap.list[c, 0] for r, c in region_cells.items()}
        self.n_owned = V0.dofmap.index_map.size_local

    @classmethod
    def for_problem(cls, problem) -> CellMeans | None:
        """The cell means of a ThermoElasticProblem's mesh, or None where they do not
        apply (axisymmetric or curved or non-tetrahedral cells)."""
        dom = problem.domain
        msh = dom.mesh
        if dom.axisymmetric or msh.topology.cell_type.name != "tetrahedron" \
                or msh.geometry.cmaps[0].degree != 1:
            return None
        return cls(dolfinx.fem.functionspace(msh, ("DG", 0)), problem.T.function_space,
                   problem.region_cells, problem.dx)

    def update(self, region: str, E: np.ndarray, nu: np.ndarray, eth: np.ndarray,
               stiffness: bool = True) -> None:
        """The means in a region's cells from its nodal values.

        Args:
            region: the region's name.
            E, nu, eth: Young's modulus (Pa), Poisson's ratio and thermal strain at every
                local node (the region's material, P1 arrays).
            stiffness: also λ's and μ's means (the operator's); else the load's only.
        """
        nodes, slots = self.nodes[region], self.slots[region]
        # the weighted sums over the points by einsum, not BLAS (a matrix-vector product
        # this size would start threads, see CHUNK)
        for i in range(0, len(nodes), self.CHUNK):
            n = nodes[i:i + self.CHUNK]
            Eq, nuq, eq = (x[n] @ self.phiT for x in (E, nu, eth))  # (cells, points)
            s = slots[i:i + self.CHUNK]
            # 3λ + 2μ = E / (1 − 2ν), the bulk modulus × 3
            self.load.x.array[s] = np.einsum("cq,q->c", Eq / (1 - 2 * nuq) * eq, self.w)
            if stiffness:
                self.lam.x.array[s] = np.einsum(
                    "cq,q->c", Eq * nuq / ((1 + nuq) * (1 - 2 * nuq)), self.w)
                self.mu.x.array[s] = np.einsum("cq,q->c", Eq / (2 * (1 + nuq)), self.w)

    def divergence_form(self, z, tags: list[int]):
        """The compiled form of the cell integrals ∫_cell div z dx (m³ per m of z).

        Args:
            z: a P1 vector Function (the shift weight).
            tags: the region tags to integrate over (a DG0 vector, zero elsewhere).
        """
        v0 = ufl.TestFunction(self.V0)
        return dolfinx.fem.form(sum(ufl.div(z) * v0 * self.dx(t) for t in tags))

    def integrate(self, form) -> np.ndarray:
        """The owned cells' values of a DG0 vector form (divergence_form)."""
        return dolfinx.fem.assemble_vector(form).array[:self.n_owned].copy()

    def dot_load(self, cell_values: np.ndarray) -> float:
        """Σ over the owned cells of load × cell_values (this rank's share)."""
        return float(np.einsum("c,c->", self.load.x.array[:self.n_owned], cell_values))


def pairs_within(points: np.ndarray, queries: np.ndarray, radius: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (point i, query j) with |points[i] − queries[j]| ≤ radius (m): index
    arrays (i, j). The points are binned in cubes of side radius; each query looks in its
    own cube and the 26 around it (numpy only, vectorised; points (n, 3), queries (m, 3))."""
    empty = (np.empty(0, dtype=np.int64),) * 2
    if len(points) == 0 or len(queries) == 0:
        return empty
    lo = np.minimum(points.min(axis=0), queries.min(axis=0))
    cube = lambda x: np.floor((x - lo) / radius).astype(np.int64)  # noqa: E731
    cp, cq = cube(points), cube(queries)
    shape = np.maximum(cp.max(axis=0), cq.max(axis=0)) + 3  # a margin for the offsets
    key = lambda c: ((c[:, 0] + 1) * shape[1] + c[:, 1] + 1) * shape[2] + c[:, 2] + 1  # noqa: E731
    order = np.argsort(key(cp), kind="stable")
    sorted_keys = key(cp)[order]
    found_i, found_j = [], []
    for offset in np.array(np.meshgrid([-1, 0, 1], [-1, 0, 1], [-1, 0, 1])).reshape(3, -1).T:
        k = key(cq + offset)
        start = np.searchsorted(sorted_keys, k, side="left")
        count = np.searchsorted(sorted_keys, k, side="right") - start
        j = np.repeat(np.arange(len(queries)), count)
        first = np.cumsum(count) - count
        i = order[np.arange(count.sum()) - np.repeat(first - start, count)]
        close = np.sum((points[i] - queries[j]) ** 2, axis=1) <= radius * radius
        found_i.append(i[close])
        found_j.append(j[close])
    return np.concatenate(found_i), np.concatenate(found_j)
