"""The lumped coolant circuit: a well-mixed coolant volume between the anode's cooled faces
and a cooler (heat exchanger) to ambient, as a boundary condition of the heat problem.

    C dT_c/dt = Q(t) − G (T_c − T_amb),     Q = ∫ h (T − T_c) dA over the circuit's faces,

C the coolant's heat capacity (J/K), G the cooler's effective conductance (W/K,
case.model.CoolantCircuit.conductance_W_K). The ODE is advanced by the heat solver's own
time scheme (BDF2 with variable steps, backward Euler at a restart) and solved together with
the temperature field (thermal.ThermalProblem: the coolant temperature is one more unknown,
eliminated by a Schur complement), so the heat leaving the anode is exactly the heat the
coolant receives and the total energy, anode + coolant + removed by the cooler, equals the
deposited energy to round-off. The heat removed by the cooler is integrated by the same
scheme, so the balance holds step by step.

For a constant load P entering the coolant, from T_c(0) = T_0:
    T_c(t) = T_amb + P/G + (T_0 − T_amb − P/G) exp(−G t / C)   (closed form, ``closed_form``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .case.model import CoolantCircuit


@dataclass
class CoolantState:
    """The coolant temperature and the heat removed by the cooler, with their history for
    the BDF2 scheme (current, previous, the one before).

    Args:
        circuit: the case's coolant circuit (SI).
    """

    circuit: CoolantCircuit
    T: list[float] = field(default_factory=list)  # [T^{n+1}, T^n, T^{n−1}] (K)
    removed: list[float] = field(default_factory=list)  # heat removed by the cooler (J)

    def __post_init__(self):
        self.reset()

    @property
    def C(self) -> float:
        return self.circuit.heat_capacity_J_K

    @property
    def G(self) -> float:
        return self.circuit.conductance_W_K

    @property
    def temperature(self) -> float:
        """Current coolant temperature (K)."""
        return self.T[0]

    def reset(self) -> None:
        """Back to the initial temperature, nothing removed."""
        T0 = self.circuit.initial_K
        self.T = [T0, T0, T0]
        self.removed = [0.0, 0.0, 0.0]

    def begin_step(self) -> None:
        """Shift the history before a new step (the current value is the first guess)."""
        self.T = [self.T[0], self.T[0], self.T[1]]
        self.removed = [self.removed[0], self.removed[0], self.removed[1]]

    def residual(self, Q: float, c: tuple[float, float, float]) -> float:
        """C (c0 T_c + c1 T_c^n + c2 T_c^{n−1}) − Q + G (T_c − T_amb) (W); zero when the
        step is solved. c: the BDF coefficients divided by the step (1/s; zeros: steady)."""
        rate = c[0] * self.T[0] + c[1] * self.T[1] + c[2] * self.T[2]
        return self.C * rate - Q + self.G * (self.T[0] - self.circuit.ambient_K)

    def d_residual(self, c0: float) -> float:
        """∂residual/∂T_c at a fixed heat input (W/K)."""
        return self.C * c0 + self.G

    def finish_step(self, c: tuple[float, float, float]) -> None:
        """Integrate the heat removed by the cooler with the same scheme as the heat."""
        if c[0] == 0.0:  # steady: nothing accumulates
            return
        flow = self.G * (self.T[0] - self.circuit.ambient_K)
        self.removed[0] = (flow - c[1] * self.removed[1] - c[2] * self.removed[2]) / c[0]

    @property
    def stored_J(self) -> float:
        """Heat stored in the coolant since t = 0 (J)."""
        return self.C * (self.T[0] - self.circuit.initial_K)


def closed_form(circuit: CoolantCircuit, t: float, P: float) -> float:
    """Coolant temperature (K) at time t (s) under a constant heat input P (W)."""
    tau = circuit.heat_capacity_J_K / circuit.conductance_W_K
    T_inf = circuit.ambient_K + P / circuit.conductance_W_K
    return T_inf + (circuit.initial_K - T_inf) * math.exp(-t / tau)
