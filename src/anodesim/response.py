"""Linear-response engine: temperatures for any power schedule from one step response.

With constant properties and no radiation the heat problem is linear in the power, and with
the boundaries at the initial temperature the zero-power state is stationary. The rise of
the nodal temperatures after a unit step of deposited power at t = 0, S(t) (K/W), then gives
the response to any piecewise-constant schedule by superposition (Duhamel):

    T(t) = T0 + Σ_j (P_j − P_{j−1}) S(t − t_j).

S is computed once by the finite-element solver on the geometric time steps (dense near
t = 0, where the spot heats in microseconds, sparse later), out to a horizon where it has
reached the steady state S_∞ (computed by a steady solve), and interpolated linearly in
between. Because S rises monotonically (a heat source and fixed-ambient boundaries), the
temperature under a pulse train peaks at the end of an on-phase, and the end of the last
pulse is the worst instant. Its value is an O(N) sum over the pulses. The periodic steady
state is the same sum taken to convergence, with the tail Σ_{k≥K} (S(kτ + t_on) − S(kτ)) ≈
(t_on/τ)(S_∞ − S(Kτ)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class ResponseError(ValueError):
    """The case does not fit the linear-response engine."""


@dataclass
class StepResponse:
    """Nodal temperature rise per watt of deposited power after a unit step at t = 0.

    Attributes:
        times: sample times (s), times[0] = 0, increasing.
        rise: (len(times), n_nodes) rise per watt (K/W); rise[0] = 0.
        steady: (n_nodes,) steady rise per watt (K/W).
        T0: initial (ambient) temperature (K).
    """

    times: np.ndarray
    rise: np.ndarray
    steady: np.ndarray
    T0: float

    @property
    def horizon(self) -> float:
        return float(self.times[-1])

    def at(self, t) -> np.ndarray:
        """S(t) for an array of times: (len(t), n_nodes); 0 before 0, S_∞ after the horizon."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        i = np.clip(np.searchsorted(self.times, t, side="right") - 1, 0, len(self.times) - 2)
        t0, t1 = self.times[i], self.times[i + 1]
        w = np.clip((t - t0) / (t1 - t0), 0.0, 1.0)[:, None]
        out = (1 - w) * self.rise[i] + w * self.rise[i + 1]
        out[t <= 0] = 0.0
        out[t >= self.horizon] = self.steady
        return out

    def schedule(self, segments, t_eval) -> np.ndarray:
        """Nodal temperatures (K) at t_eval for segments [(duration s, deposited W)]."""
        starts = np.concatenate([[0.0], np.cumsum([d for d, _ in segments])[:-1]])
        powers = np.array([p for _, p in segments], dtype=float)
        steps = np.diff(np.concatenate([[0.0], powers]))
        t_eval = np.atleast_1d(np.asarray(t_eval, dtype=float))
        T = np.full((len(t_eval), self.rise.shape[1]), self.T0)
        for t_j, dP in zip(starts, steps):
            if dP != 0.0:
                T += dP * self.at(t_eval - t_j)
        return T

    def pulse_train_peak(self, t_on: float, period: float, pulses: int | None,
                         preload: float = 0.0) -> np.ndarray:
        """Nodal rise per watt of pulse power at the end of the last pulse (the worst
        instant), for `pulses` pulses or, if None, the periodic steady state; `preload` is a
        constant power (W) applied before and during the train, as a factor times the
        steady rise (returned separately by the caller)."""
        if period <= 0 or not 0 < t_on <= period:
            raise ResponseError("a pulse needs 0 < on-time <= period")
        if t_on >= period:  # continuous
            return self.steady.copy() if pulses is None else self.at([t_on * (pulses or 1)])[0]
        K = int(min(pulses if pulses is not None else np.inf,
                    np.ceil(self.horizon / period) + 1, 20000))
        k = np.arange(K) * period
        total = np.zeros(self.rise.shape[1])
        for chunk in np.array_split(np.arange(K), max(1, K // 2000)):
            total += (self.at(k[chunk] + t_on) - self.at(k[chunk])).sum(axis=0)
        if pulses is None or pulses > K:
            # tail of the series: (t_on/τ)(S_∞ − S(Kτ)) (zero once Kτ passes the horizon)
            total += (t_on / period) * (self.steady - self.at([K * period])[0])
        return total
