"""Linear-response engine: temperatures for any power schedule from one step response.

With constant properties and no radiation the heat problem is linear in the power, and with
the boundaries at the initial temperature the zero-power state is stationary. The rise of
the nodal temperatures after a unit step of deposited power at t = 0, S(t) (K/W), then gives
the response to any piecewise-constant schedule by superposition (Duhamel):

    T(t) = T0 + Σ_j (P_j − P_{j−1}) S(t − t_j).

S is computed once by the finite-element solver on the geometric time steps (dense near
t = 0, where the spot heats in microseconds, sparse later), out to a horizon where it has
reached the steady state S_∞ (computed by a steady solve), and interpolated linearly in
between. Under a pulse train of on-time t_on and period τ the rise at phi after the start
of the last pulse is Σ_k [S(kτ + phi) − S(kτ + phi − t_on)] (S = 0 before 0). S rises
monotonically (a heat source and fixed-ambient boundaries), so each pulse adds heat and the
last period is the worst; within it a node near the spot peaks at the end of the on-phase,
one farther away (the coolant face) later, so the engine takes the largest value over
instants of the period. Each sum is taken exactly for the interpolated S in O(samples) by
counting the k per sample interval (an arithmetic series), to infinity for the periodic
steady state (no truncated tail: its mean over the period is the mean-power steady state).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


#: (Instant, power step) pairs whose interpolation weights StepResponse.schedule forms at
#: once (memory: a few arrays of this many doubles, about 16 MB each).
SUPERPOSITION_PAIRS = 2_000_000

#: (Instant, power step, sample interval) entries whose lattice weights
#: StepResponse.periodic forms at once (memory: a few arrays of this many doubles, 32 MB).
LATTICE_ENTRIES = 4_000_000

#: Segments of a schedule whose every kink worst_in_schedule evaluates (a few hundred
#: samples each); beyond them only the segment ends.
PREFIX_SEGMENTS = 200

#: Uniform instants per period where pulse_train_peak first looks (besides the end of the
#: on-phase and NEAR instants after it); each node's largest of them is then refined on
#: REFINE instants between its two neighbours.
PHASES = 48

#: Instants in geometric progression from 1e-5 of the pause to its end where
#: pulse_train_peak first looks after the end of the on-phase.
NEAR = 16

#: Instants between the neighbours of a node's largest sampled instant where
#: pulse_train_peak evaluates the train again. A node away from the spot peaks in a bump
#: much narrower than a long pause (on the shipped insert, 2 ms after a 50 ms pulse just
#: under the spot, about 1 s after it at the coolant face, in 30-100 s periods): the
#: parabola through three of 48 uniform instants used until 2026-12-05 read such peaks 10-24 %
#: high or low. Now every node of the shipped insert is within 0.4 % below its maximum
#: over 42 000 instants for those trains, and within 0.02 % for duty cycles of 1 % and more
#: (tests/test_response.py checks analytic lagging systems to 0.5 %).
REFINE = 32


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
    _peaks: dict = field(default_factory=dict, repr=False, compare=False)  # memo
    # (pulse_train_peak's results, the lattice sums' matrices)

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

    def worst_until(self, t) -> np.ndarray:
        """Per time in t and node, the value of largest magnitude of S over [0, t]:
        (len(t), n_nodes). S(t) itself for a monotone (temperature) node; for a signed
        figure whose step response reverses (a drift) the extreme before t, which the
        interpolated S reaches at a sample time or at t."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        now = self.at(t)
        run = np.maximum.accumulate(np.abs(self.rise), axis=0)  # largest |S| so far
        i = np.clip(np.searchsorted(self.times, t, side="right") - 1, 0, len(self.times) - 1)
        first = np.argmax(np.abs(self.rise)[None, :, :] >= run[i][:, None, :], axis=1)
        before = np.take_along_axis(self.rise, first, axis=0)
        return np.where(np.abs(before) > np.abs(now), before, now)

    def worst_in_schedule(self, segments) -> np.ndarray:
        """Per node, the value of largest magnitude of the response to segments
        [(duration s, deposited W)] (minus T0) over the schedule: exact for the interpolated
        S, whose superposition is piecewise linear with its kinks at the segment starts plus
        the sample times, where it is evaluated (for the first PREFIX_SEGMENTS segments: a
        schedule's prefix is itself a schedule, later segments cannot change it; the
        segment ends beyond)."""
        seg = list(segments)
        head = seg[:PREFIX_SEGMENTS]
        starts = np.concatenate([[0.0], np.cumsum([d for d, _ in head])])
        kinks = (starts[:-1, None] + self.times[None, :]).ravel()
        t = np.unique(np.concatenate([kinks[kinks <= starts[-1]], starts[1:]]))
        worst = _extreme(self.schedule(head, t) - self.T0)
        if len(seg) > len(head):
            ends = np.cumsum([d for d, _ in seg])
            worst = _extreme(np.vstack([worst, self.schedule(seg, ends) - self.T0]))
        return worst

    def schedule(self, segments, t_eval) -> np.ndarray:
        """Nodal temperatures (K) at t_eval for segments [(duration s, deposited W)].

        The superposition T0 + Σ_j ΔP_j S(t - t_j) of `at`'s interpolated S: each term is a
        weighted pair of S's samples, so the weights of every (instant, power step) pair
        are summed onto the samples first and the nodes enter once, through one product
        with the sample table, at O((instants × steps) + instants × samples × nodes)
        instead of O(instants × steps × nodes) (a schedule of thousands of segments at
        every segment end: minutes before)."""
        starts = np.concatenate([[0.0], np.cumsum([d for d, _ in segments])[:-1]])
        powers = np.array([p for _, p in segments], dtype=float)
        steps = np.diff(np.concatenate([[0.0], powers]))
        starts, steps = starts[steps != 0.0], steps[steps != 0.0]
        t_eval = np.atleast_1d(np.asarray(t_eval, dtype=float))
        T = np.full((len(t_eval), self.rise.shape[1]), self.T0)
        if len(steps) == 0:
            return T
        n = len(self.times)
        table = np.vstack([self.rise, self.steady[None, :]])  # row n: beyond the horizon
        block = max(1, SUPERPOSITION_PAIRS // len(steps))
        for a in range(0, len(t_eval), block):
            dt = t_eval[a:a + block, None] - starts[None, :]
            i = np.clip(np.searchsorted(self.times, dt, side="right") - 1, 0, n - 2)
            t0, t1 = self.times[i], self.times[i + 1]
            w = np.clip((dt - t0) / (t1 - t0), 0.0, 1.0)
            lo, hi = (1.0 - w) * steps, w * steps
            lo[dt <= 0], hi[dt <= 0] = 0.0, 0.0
            beyond = dt >= self.horizon
            lo[beyond], hi[beyond] = steps[np.nonzero(beyond)[1]], 0.0
            i = np.where(beyond, n, i)
            rows = np.arange(dt.shape[0])[:, None] * (n + 1)
            weights = np.bincount(np.concatenate([(rows + i).ravel(), (rows + i + 1).ravel()]),
                                  np.concatenate([lo.ravel(), hi.ravel()]),
                                  minlength=dt.shape[0] * (n + 1) + 1)
            T[a:a + block] += weights[:dt.shape[0] * (n + 1)].reshape(-1, n + 1) @ table
        return T

    def periodic(self, segments, t_eval) -> np.ndarray:
        """Nodal temperatures (K) at the phases t_eval (s, 0 < φ ≤ R) of the periodic
        steady state of segments [(duration s, deposited W)] repeated forever, R their total
        duration (a repeated case's schedule: the pause up to loading.repeat_every_s is its
        last segment).

        With the power steps ΔP_j = P_j − P_{j−1} at the segment starts s_j in [0, R) (the
        first from the last segment's power: Σ_j ΔP_j = 0 over a period), the schedule
        started at −MR and M → ∞ gives

            T(φ) − T0 = P(φ) S_∞ + Σ_j ΔP_j Σ_{m≥0} g(φ − s_j + mR),   g = S − S_∞ (t ≥ 0),

        P(φ) the power from φ on (every step up to φ summed, S_∞ each; the steps of a
        repetition m ≥ 1 back sum to zero and leave their g only). The inner sums are
        lattice sums (_lattice_weights), exact for the interpolated S and to infinity;
        train_rise is the case of one pulse. Their interpolation weights are summed over the steps first
        (in blocks of LATTICE_ENTRIES), so the nodes enter once, through one product
        with the sample table: O(instants × steps × samples + instants × samples × nodes).
        """
        durations = np.array([d for d, _ in segments], dtype=float)
        powers = np.array([p for _, p in segments], dtype=float)
        starts = np.concatenate([[0.0], np.cumsum(durations)[:-1]])
        period = float(np.sum(durations))
        steps = powers - np.roll(powers, 1)
        s, dP = starts[steps != 0.0], steps[steps != 0.0]
        phi = np.atleast_1d(np.asarray(t_eval, dtype=float))
        # the power from φ on within this repetition (at φ = R the last segment's)
        level = powers[np.clip(np.searchsorted(starts, phi, side="right") - 1, 0,
                               len(powers) - 1)]
        T = self.T0 + level[:, None] * self.steady[None, :]
        if len(dP) == 0:
            return T
        m = len(self.times) - 1
        block = max(1, LATTICE_ENTRIES // (m * len(dP)))
        below, slope = self._lattice_matrices()
        for a in range(0, len(phi), block):
            c = (phi[a:a + block, None] - s[None, :]).ravel()
            n, w = self._lattice_weights(c, period, None)
            k = len(c) // len(dP)
            n = np.einsum("ijm,j->im", n.reshape(k, len(dP), m), dP)
            w = np.einsum("ijm,j->im", w.reshape(k, len(dP), m), dP)
            T[a:a + block] += n @ below + w @ slope
        return T

    def pulse_train_peak(self, t_on: float, period: float, pulses: int | None,
                         preload: float = 0.0) -> np.ndarray:
        """Nodal rise per watt of pulse power at the worst instant of the last period, for
        `pulses` pulses or, if None, the periodic steady state; `preload` is a constant
        power (W) applied before and during the train, as a factor times the steady rise
        (returned separately by the caller).

        The worst instant of a node near the spot ends an on-phase; one farther away (the
        coolant face) lags and peaks later in the period. The rise is therefore evaluated
        at PHASES instants of the last period (the end of the on-phase among them), then
        around each node's largest of them (_refined), and the largest value per node
        (largest in magnitude: a signed drift figure) is returned.
        Each instant's value is the exact sum of the interpolated step response over the
        pulses (train_rise), so the periodic state has no truncated tail: its mean over
        the period is the mean-power steady state and its peak is at least that."""
        if period <= 0 or not 0 < t_on <= period:
            raise ResponseError("a pulse needs 0 < on-time <= period")
        if t_on >= period:  # continuous
            return self.steady.copy() if pulses is None else self.at([t_on * (pulses or 1)])[0]
        memo = (t_on, period, pulses)
        if memo not in self._peaks:  # the charts and their FE correction ask twice
            phi = self.phases(t_on, period)
            self._peaks[memo] = self._refined(t_on, period, pulses, phi,
                                              self.train_rise(t_on, period, pulses, phi))
        return self._peaks[memo].copy()

    def columns(self, idx) -> StepResponse:
        """The response of a subset of the nodes (indices)."""
        return StepResponse(self.times, self.rise[:, idx], self.steady[idx], self.T0)

    @staticmethod
    def phases(t_on: float, period: float) -> np.ndarray:
        """Instants (s after the start of the last pulse) where pulse_train_peak looks:
        the end of the on-phase (the near nodes' peak, a kink), NEAR instants after it in
        geometric progression (a node just under the spot peaks within milliseconds of it
        whatever the pause), and a uniform grid over the period (the lagging nodes' smooth
        peak)."""
        near = t_on + (period - t_on) * np.concatenate([[0.0], np.geomspace(1e-5, 1.0, NEAR)])
        grid = period * np.arange(1, PHASES + 1) / PHASES
        return np.unique(np.concatenate([near[near <= period], grid]))

    def _refined(self, t_on: float, period: float, pulses: int | None, phi: np.ndarray,
                 values: np.ndarray) -> np.ndarray:
        """Per node (column), the value of largest magnitude of the train's rise: its largest
        over the instants phi (rows of values), then over REFINE instants spread between that
        instant's two neighbours (from 0 before the first), each an exact lattice sum. Only
        exact values are compared, so the result never exceeds the train's true extreme."""
        cols = np.arange(values.shape[1])
        j = np.abs(values).argmax(axis=0)
        best = values[j, cols]
        groups = np.unique(j)
        lo = np.where(groups > 0, phi[np.maximum(groups - 1, 0)], 0.0)
        hi = phi[np.minimum(groups + 1, len(phi) - 1)]
        u = np.linspace(0.0, 1.0, REFINE + 2)[1:-1]
        fine = lo[:, None] + (hi - lo)[:, None] * u  # (groups, REFINE)
        n_on, w_on = self._lattice_weights(fine.ravel(), period, pulses)
        n_off, w_off = self._lattice_weights(fine.ravel() - t_on, period, pulses)
        weights = np.hstack([n_on - n_off, w_on - w_off])
        order = np.argsort(j, kind="stable")  # the nodes of each group side by side
        ends = np.searchsorted(j[order], groups, side="right")
        matrices = np.vstack(self._lattice_matrices())[:, order]
        steady = self.steady[order]
        start = 0
        for g, end in enumerate(ends):
            v = weights[g * REFINE:(g + 1) * REFINE] @ matrices[:, start:end]
            v += np.where(fine[g] < t_on, 1.0, 0.0)[:, None] * steady[start:end]
            top = v[np.abs(v).argmax(axis=0), np.arange(end - start)]
            idx = order[start:end]
            best[idx] = np.where(np.abs(top) > np.abs(best[idx]), top, best[idx])
            start = end
        return best

    def train_rise(self, t_on: float, period: float, pulses: int | None, phi) -> np.ndarray:
        """Rise per watt at phi (s, 0 < phi <= period; an array: one row each) after the
        start of the last of `pulses` pulses (None: the periodic steady state):
        Σ_k [S(kτ + phi) − S(kτ + phi − t_on)], S = 0 before 0."""
        phi = np.asarray(phi, dtype=float)
        c = np.atleast_1d(phi)
        # the two lattice sums' weights are subtracted before the one product with the
        # sample table (the nodes enter once: half the work of two separate products)
        n_on, w_on = self._lattice_weights(c, period, pulses)
        n_off, w_off = self._lattice_weights(c - t_on, period, pulses)
        below, slope = self._lattice_matrices()
        g = (n_on - n_off) @ below + (w_on - w_off) @ slope
        g += np.where(c < t_on, 1.0, 0.0)[:, None] * self.steady
        return g[0] if phi.ndim == 0 else g

    def _lattice_weights(self, c: np.ndarray, tau: float, count: int | None
                         ) -> tuple[np.ndarray, np.ndarray]:
        """(pulses falling in each sample interval, Σ of their interpolation weights) per
        offset c, for the lattice sum Σ_{k=0}^{count−1} g(kτ + c) = n @ (S_i − S_∞) +
        w @ (S_{i+1} − S_i), g = S − S_∞ for t ≥ 0 (0 before; count None: to infinity, g = 0
        past the horizon): exact for the linearly interpolated S, the k falling in each
        sample interval [t_i, t_{i+1}) counted with the arithmetic series, O(samples)
        whatever the number of pulses."""
        t = self.times
        kmax = np.inf if count is None else float(count)
        c = np.asarray(c, dtype=float)[:, None]
        lo = np.clip(np.ceil((t[:-1] - c) / tau), 0.0, kmax)
        hi = np.clip(np.ceil((t[1:] - c) / tau), 0.0, kmax)
        n = hi - lo
        sum_k = 0.5 * (lo + hi - 1.0) * n
        return n, (n * c + tau * sum_k - n * t[:-1]) / np.diff(t)

    def _lattice_matrices(self) -> tuple[np.ndarray, np.ndarray]:
        """(S_i − S_∞, S_{i+1} − S_i) per sample interval and node, computed once."""
        if "lattice" not in self._peaks:
            # flushed to zero below 1e-200 K/W: a far node's first samples are subnormal
            # numbers, which slow the matrix products a hundredfold
            self._peaks["lattice"] = tuple(np.where(np.abs(m) < 1e-200, 0.0, m) for m in (
                self.rise[:-1] - self.steady, np.diff(self.rise, axis=0)))
        return self._peaks["lattice"]


def _extreme(values: np.ndarray) -> np.ndarray:
    """Per column, the value of largest magnitude over the rows."""
    return values[np.abs(values).argmax(axis=0), np.arange(values.shape[1])]
