"""Boundary conditions against 1-D closed forms on a planar slab, and the solver on a 3-D
mesh (the same code path; nothing assumes two dimensions)."""

import numpy as np
import pytest
from mpi4py import MPI

import dolfinx.mesh  # noqa: I001  (after mpi4py, for the wheel)
from anodesim import geometry, materials, thermal
from anodesim.case import Boundary
from anodesim.thermal import STEFAN_BOLTZMANN

L, H = 1e-3, 0.2e-3


def slab(out_face: Boundary, q=1e6):
    """W slab, flux q into the left face, out_face on the right; steady solve."""
    lay = geometry.axisym.Layout(
        regions={"a": [(0, 0), (L, 0), (L, H), (0, H)]}, arcs={}, z_beam=H, stack=[],
        faces=lambda reg, m: "left" if m[0] < 1e-12 else "right" if abs(m[0] - L) < 1e-12
        else "sides",
        interfaces={}, scale=L)
    gm = geometry.axisym.build(lay, set(), 0.05e-3, 0.0, 0.05e-3, 0.0, 0.0)
    dom = geometry.to_dolfinx(MPI.COMM_WORLD, model=gm.model, gdim=2)
    gm.finalize()
    dom.axisymmetric = False
    W = materials.get("W").frozen_at(300.0)
    p = thermal.ThermalProblem(dom, {"a": W}, {"left": Boundary("heat_flux", q_W_m2=q),
                                               "right": out_face}, [], None, H, 300.0)
    p.steady(0.0)
    k = float(W.k(300.0))
    lo, hi = p.region_range("a")
    return lo, hi, k


def test_convection_face_temperature():
    """Flux q through the slab into a coolant: T_face = T∞ + q/h, T_left = T_face + qL/k
    (P1 exact for this linear profile: 1e-9)."""
    q, h, T_inf = 1e6, 2e4, 310.0
    lo, hi, k = slab(Boundary("convection", temperature_K=T_inf, h_W_m2K=h), q)
    assert lo == pytest.approx(T_inf + q / h, rel=1e-9)
    assert hi == pytest.approx(T_inf + q / h + q * L / k, rel=1e-9)


def test_radiation_face_temperature():
    """Flux q out by radiation: εσ(T⁴ − T_s⁴) = q at the face (Newton, tolerance 1e-3 K)."""
    q, eps, T_s = 2e5, 0.3, 300.0
    lo, hi, k = slab(Boundary("radiation", temperature_K=T_s, emissivity=eps), q)
    T_face = (q / (eps * STEFAN_BOLTZMANN) + T_s ** 4) ** 0.25
    assert lo == pytest.approx(T_face, abs=2e-3)
    assert hi == pytest.approx(T_face + q * L / k, abs=2e-3)


def test_three_dimensional_mesh_same_code_path():
    """A 3-D box through the same solver: transient energy balance (constant properties,
    adiabatic except the heated face) and the steady 1-D profile with a fixed cold face."""
    comm = MPI.COMM_WORLD
    msh = dolfinx.mesh.create_box(comm, [[0, 0, 0], [L, H, H]], [10, 2, 2])
    tdim = msh.topology.dim
    msh.topology.create_connectivity(tdim - 1, tdim)
    cells = np.arange(msh.topology.index_map(tdim).size_local, dtype=np.int32)
    ct = dolfinx.mesh.meshtags(msh, tdim, cells, np.full(len(cells), 1, dtype=np.int32))
    left = dolfinx.mesh.locate_entities_boundary(msh, tdim - 1, lambda x: np.isclose(x[0], 0))
    right = dolfinx.mesh.locate_entities_boundary(msh, tdim - 1, lambda x: np.isclose(x[0], L))
    facets = np.concatenate([left, right])
    order = np.argsort(facets)
    values = np.concatenate([np.full(len(left), 2), np.full(len(right), 3)]).astype(np.int32)
    ft = dolfinx.mesh.meshtags(msh, tdim - 1, facets[order], values[order])
    dom = geometry.AnodeMesh(msh, ct, ft, {"a": 1, "hot": 2, "cold": 3},
                             {"a": 3, "hot": 2, "cold": 2}, axisymmetric=False)
    W = materials.get("W").frozen_at(300.0)
    q = 1e6
    # transient, adiabatic cold face: stored heat = q A t exactly
    p = thermal.ThermalProblem(dom, {"a": W}, {"hot": Boundary("heat_flux", q_W_m2=q)}, [],
                               None, H, 300.0)
    for _ in range(5):
        p.step(1e-3, 0.0, restart=True)
    assert p.stored_heat() == pytest.approx(q * H * H * 5e-3, rel=1e-9)
    # steady with the cold face fixed: linear profile
    p = thermal.ThermalProblem(dom, {"a": W}, {"hot": Boundary("heat_flux", q_W_m2=q),
                                               "cold": Boundary("fixed", temperature_K=300.0)},
                               [], None, H, 300.0)
    p.steady(0.0)
    assert p.region_max("a") == pytest.approx(300.0 + q * L / float(W.k(300.0)), rel=1e-9)


def test_interface_node_matching_equals_the_kd_tree():
    """coupling.coincident (sorted rounded coordinates, KD-tree fallback) pairs the nodes of
    two interface sides exactly as scipy's cKDTree: same indices, distances equal, for sides
    listed in different orders with 1e-17 m round-off, and for a pair straddling a rounding
    edge (the fallback)."""
    from scipy.spatial import cKDTree

    from anodesim.coupling import coincident

    rng = np.random.default_rng(7)
    xb = rng.random((500, 2)) * 1e-3
    xa = xb[rng.permutation(500)] + rng.normal(0.0, 1e-17, (500, 2))
    # P straddles a rounding edge (x/tol = 0.4999995 on one side, 0.5000005 on the other),
    # so the sorted orders of P and Q differ between the sides: the KD-tree must take over
    edge_a = np.array([[0.4999995e-11, 0.0], [0.3e-11, 5e-11]])
    edge_b = np.array([[0.3e-11, 5e-11], [0.5000005e-11, 0.0]])
    for a, b in ((xa, xb), (edge_a, edge_b)):
        dist, idx = coincident(a, b, 1e-11)
        ref_d, ref_i = cKDTree(b).query(a)
        np.testing.assert_array_equal(idx, ref_i)
        np.testing.assert_allclose(dist, ref_d, rtol=0, atol=1e-25)
