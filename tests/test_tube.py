"""The tube around the anode: the lumped coolant circuit (energy conservation, the ODE's
closed form), the housing and its mount (free expansion α ΔT L), point displacements against
the thermoelastic closed forms, and the user's beam-pointing drift. Tolerances per test."""

import math
import re

import numpy as np
import pytest
from cases import merge, reflection

import anodesim
from anodesim import coolant
from anodesim.case import CaseError
from anodesim.simulation import Simulation

CIRCUIT = {"coolant_circuit": {"heat_capacity_J_per_K": 50.0,
                               "cooler_conductance_W_per_K": 0.5, "ambient_C": 30.0},
           "boundaries": {"cooled_end": {"type": "convection", "h_W_m2K": 5000.0,
                                         "temperature_C": None, "coolant_circuit": True}}}


def test_coolant_circuit_energy_conserved():
    """W-in-Cu anode cooled only through the circuit, 10 W for 200 s then 100 s off (restart
    and BDF2 steps): anode heat + coolant heat + heat removed by the cooler equals the
    deposited energy to 1e-6 (relative; measured 2e-13), at every step."""
    case = anodesim.from_dict(reflection(
        **CIRCUIT, materials={"properties": "constant"},
        loading={"kind": "segments", "duration_s": None,
                 "segment": [{"duration_s": 200.0, "power_W": 10.0},
                             {"duration_s": 100.0, "power_W": 0.0}]},
        beam={"power_W": None}))
    res = Simulation(case).run()
    total = (res.column("stored_heat_J") + res.column("coolant_heat_J")
             + res.column("cooler_removed_heat_J"))
    dep = res.column("deposited_energy_J")
    assert dep[-1] > 1000.0
    assert np.abs(total - dep).max() < 1e-6 * dep[-1]
    # the coolant warmed and the cooler removed heat
    assert res.column("T_coolant_C")[-1] > 30.5
    assert res.column("cooler_removed_heat_J")[-1] > 0.0


def test_coolant_closed_form_constant_load():
    """A near-massless, highly conducting anode passes the deposited power P straight to the
    coolant: T_c(t) = T_amb + P/G (1 − exp(−G t/C)). Within 1e-3 of the rise P/G at five
    times over 2 τ (the anode's heat capacity is 1e-6 of the coolant's; the time error of
    BDF2 with 2 s steps is what remains: measured 5e-5 of the rise)."""
    tiny = {"rho_kg_m3": 1.0, "cp_J_kgK": 1e-3, "k_W_mK": 1e4}
    case = anodesim.from_dict(reflection(
        **CIRCUIT, materials={"properties": "constant",
                              "override": {"target": tiny, "heat_sink": tiny}},
        beam={"power_W": 10.0, "backscatter_energy_fraction": 0.0},
        loading={"duration_s": 200.0}, time={"max_step_s": 2.0}))
    res = Simulation(case).run()
    t, Tc = res.column("time_s"), res.column("T_coolant_C") + 273.15
    P = 10.0 * (1.0 - 0.0)
    rise = P / case.coolant_circuit.conductance_W_K
    for tt in (20.0, 50.0, 100.0, 150.0, 200.0):
        i = int(np.argmin(np.abs(t - tt)))
        exact = coolant.closed_form(case.coolant_circuit, t[i], P)
        assert abs(Tc[i] - exact) < 1e-3 * rise, (t[i], Tc[i], exact)


def test_coolant_circuit_steady_and_flow():
    """Steady state: the coolant settles at T_amb + P/G (1e-9 relative to the rise); a flow
    rate C_f lowers the cooler's conductance to C_f (1 − exp(−UA/C_f)) (ε-NTU, C_r = 0)."""
    case = anodesim.from_dict(reflection(
        **CIRCUIT, materials={"properties": "constant"}, loading={"kind": "steady",
                                                                   "duration_s": None},
        beam={"backscatter_energy_fraction": 0.0}))
    res = Simulation(case).run()
    rise = 10.0 / 0.5
    assert res.column("T_coolant_C")[-1] == pytest.approx(30.0 + rise, rel=1e-9 * rise / 50)
    flow = anodesim.from_dict(reflection(**{**CIRCUIT, "coolant_circuit": {
        "volume_L": 1.0, "coolant": "water", "flow_L_min": 0.01,
        "cooler_conductance_W_per_K": 0.5, "ambient_C": 30.0}}))
    Cf = 0.01e-3 / 60 * 998.0 * 4182.0
    assert flow.coolant_circuit.conductance_W_K == pytest.approx(
        Cf * (1 - math.exp(-0.5 / Cf)), rel=1e-12)
    assert flow.coolant_circuit.heat_capacity_J_K == pytest.approx(1e-3 * 998.0 * 4182.0)


@pytest.mark.parametrize("change, message", [
    ({"coolant_circuit": None}, "boundaries.cooled_end.coolant_circuit = true: there is no"),
    ({"coolant_circuit": {"volume_L": 1.0}}, "coolant_circuit: give exactly one of"),
    ({"boundaries": {"cooled_end": {"temperature_C": 20.0}}},
     "boundaries.cooled_end: give temperature_C or coolant_circuit"),
])
def test_coolant_circuit_bad_input(change, message):
    with pytest.raises(CaseError, match=re.escape(message)):
        anodesim.from_dict(reflection(**merge(CIRCUIT, change)))
