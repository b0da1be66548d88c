"""The heat stored in the anode since the initial state, ∫ H(T) w dV with
H(T) = ∫_{T_ref}^{T} ρc dT′ per region (J), evaluated in numpy.

The same integral as the UFL form of materials.ufl_antiderivative, by the same quadrature
rule (the degree UFL estimates for it, basix's default scheme), so the two agree to
round-off (tests/test_heat_content.py), about 20× cheaper on the 3-D example: the form
evaluates the table's antiderivative as a sum of one ramp per kink (24 for tungsten's ρc)
at every quadrature point, here it is one table look-up per point. The tally is recorded at
every step (the ``stored_heat_J`` column and the energy-balance checks), so its cost counted
(issue 15: 0.8 s of the 3-D example's 13 s).

On meshes other than affine simplices (a user mesh with curved cells) the form is kept.
"""

from __future__ import annotations

import basix
import dolfinx
import numpy as np
from ufl.algorithms.estimate_degrees import estimate_total_polynomial_degree

from . import materials as mat_lib

_BASIX_CELLS = {"triangle": basix.CellType.triangle, "tetrahedron": basix.CellType.tetrahedron}


class _Antiderivative:
    """H(T) = ∫_{T_ref}^{T} f dT′ of a table's interpolant f, extended beyond the table by
    its end slopes exactly as materials.ufl_antiderivative: on each interval between kinks
    a quadratic a + b T + c T², looked up by the kink below T."""

    def __init__(self, table: mat_lib.Table, T_ref: float):
        if table.is_constant:
            v0, T0, s0, kinks = float(table.values[0]), 0.0, 0.0, []
        else:
            v0, T0, s0, kinks = table.ramps()
        self.knots = np.array([k for k, _ in kinks])
        ds = np.array([d for _, d in kinks])
        # v0 T + s0/2 (T − T0)² + Σ_{T_i < T} Δs_i/2 (T − T_i)², expanded in powers of T
        self.a = 0.5 * s0 * T0 ** 2 + np.concatenate([[0.0], np.cumsum(0.5 * ds * self.knots ** 2)])
        self.b = v0 - s0 * T0 - np.concatenate([[0.0], np.cumsum(ds * self.knots)])
        self.c = 0.5 * s0 + np.concatenate([[0.0], np.cumsum(0.5 * ds)])
        self.offset = 0.0
        self.offset = float(self(np.array([T_ref]))[0])

    def __call__(self, T: np.ndarray) -> np.ndarray:
        i = np.searchsorted(self.knots, T, side="left")  # kinks strictly below T
        return self.a[i] + (self.b[i] + self.c[i] * T) * T - self.offset


class StoredHeat:
    """∫ Σ_regions H_r(T_h) w dV over the owned cells of this rank (J).

    Args:
        T: the P1 temperature (K).
        domain: the anode mesh with its region tags (geometry.AnodeMesh).
        materials: region name → Material.
        T_ref: the reference (initial) temperature (K).
        weight: the volume weight of the heat problem (2πr in axisymmetry, 1 in 3-D).
        dx: the heat problem's cell measure with the region tags.
    """

    def __init__(self, T, domain, materials: dict, T_ref: float, weight, dx):
        self.T = T
        self._integrand = sum(
            mat_lib.ufl_antiderivative(m.rho_cp, T, T_ref) * weight * dx(domain.groups[region])
            for region, m in materials.items())
        self._form = None
        msh = domain.mesh
        cell = msh.topology.cell_type.name
        self.parts = None  # [(H, dofs (cells, nodes), weights (cells, points))] per region
        if cell not in _BASIX_CELLS or msh.geometry.cmaps[0].degree != 1:
            return
        tdim = msh.topology.dim
        nowned = msh.topology.index_map(tdim).size_local
        p1 = basix.create_element(basix.ElementFamily.P, _BASIX_CELLS[cell], 1)
        dofmap = T.function_space.dofmap.list
        self.parts = []
        for region, m in materials.items():
            cells = domain.cell_tags.find(domain.groups[region])
            cells = cells[cells < nowned]
            integrand = mat_lib.ufl_antiderivative(m.rho_cp, T, T_ref) * weight
            degree = estimate_total_polynomial_degree(integrand)
            pts, wts = basix.make_quadrature(_BASIX_CELLS[cell], degree)
            phi = p1.tabulate(0, pts)[0, :, :, 0]  # (points, vertices)
            X = msh.geometry.x[msh.geometry.dofmaps[0][cells]]  # (cells, vertices, 3)
            J = X[:, 1:, :tdim] - X[:, :1, :tdim]
            w = np.abs(np.linalg.det(J))[:, None] * wts[None, :]
            if domain.axisymmetric:
                w = w * (2 * np.pi * (X[:, :, 0] @ phi.T))
            self.parts.append((_Antiderivative(m.rho_cp, T_ref), dofmap[cells], phi.T.copy(), w))

    @property
    def form(self):
        """The compiled UFL form of the stored heat (what ``local`` evaluates on curved
        cells; compiled when first asked for: on affine simplices no run needs it, and a
        form costs about 0.3 s to compile on a cold cache)."""
        if self._form is None:
            self._form = dolfinx.fem.form(self._integrand)
        return self._form

    def local(self) -> float:
        """This rank's share of the stored heat (J): sum over ranks for the total."""
        if self.parts is None:
            return dolfinx.fem.assemble_scalar(self.form)
        Tx = self.T.x.array
        return float(sum(np.sum(H(Tx[dofs] @ phiT) * w) for H, dofs, phiT, w in self.parts))

