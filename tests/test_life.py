"""Life models: evaporation against published vapour pressures and the review's table, the
erosion integral of a pulse train against its analytic sum, recrystallisation kinetics."""

import math

import numpy as np
import pytest

from anodesim import life


@pytest.mark.parametrize("metal", ["W", "Mo", "Cu", "Ag", "Be"])
def test_vapour_pressure_against_the_crc_table(metal):
    """The temperature at which p = 1 Pa, from the equations, against the CRC Handbook's
    table (to 1 % in temperature; the W fit extrapolated above 2300 K is 0.8 % low, on the
    safe side)."""
    from scipy.optimize import brentq

    vp = life.vapour_pressure(metal)
    T1 = brentq(lambda T: math.log(vp.pressure_Pa(T)), 500.0, 6000.0)
    assert T1 == pytest.approx(life._table()[metal]["check_1Pa_K"], rel=0.01)


@pytest.mark.parametrize("T_K,p_Pa,recession_nm_h", [
    (2200.0, 3.0e-8, 0.0071), (2600.0, 4.6e-5, 10.0), (3000.0, 1.0e-2, 2070.0)])
def test_w_evaporation_against_the_review_table(T_K, p_Pa, recession_nm_h):
    """W pressure and recession rate against source-and-limits.md section 3.1 (given there
    to two significant figures: 5 % for p, 3 % for the rate)."""
    vp = life.vapour_pressure("W")
    assert vp.pressure_Pa(T_K) == pytest.approx(p_Pa, rel=0.05)
    assert vp.recession_rate_m_s(T_K) * 1e9 * 3600 == pytest.approx(recession_nm_h, rel=0.03)


def test_hertz_knudsen_by_hand():
    """J = p sqrt(M / (2 pi R T)), recession J / rho, computed independently at 2800 K."""
    vp = life.vapour_pressure("W")
    T = 2800.0
    p = 10 ** (5.006 + 2.945 - 44094.0 / T + 1.3677 * math.log10(T))
    J = p * math.sqrt(0.18384 / (2 * math.pi * 8.314462618 * T))
    assert vp.recession_rate_m_s(T) == pytest.approx(J / 19250.0, rel=1e-12)


def test_erosion_of_a_pulse_train_is_the_analytic_sum():
    """N square pulses at T_on (t_on each) between cold pauses: depth = N t_on r(T_on)
    (the pauses at 300 K add nothing measurable)."""
    N, t_on, t_off, T_on = 50, 0.02, 0.03, 2900.0
    t, T = [], []
    for k in range(N):
        t0 = k * (t_on + t_off)
        t += [t0, t0 + t_on, t0 + t_on, (k + 1) * (t_on + t_off)]
        T += [T_on, T_on, 300.0, 300.0]
    rate = life.vapour_pressure("W").recession_rate_m_s(T_on)
    assert life.eroded_depth_m("W", t, T) == pytest.approx(N * t_on * rate, rel=1e-9)


def test_temperature_for_a_given_erosion():
    """The review's inverse table: 1 um in 8 h at 2776 K, in 1000 h at 2458 K, in 10^4 h at
    2331 K (within 3 K: the table is rounded)."""
    for hours, T in [(8.0, 2776.0), (1000.0, 2458.0), (1e4, 2331.0)]:
        assert life.temperature_for_erosion_K("W", 1e-6, hours) == pytest.approx(T, abs=3.0)


@pytest.mark.parametrize("metal", ["W", "Cu", "TZM"])
def test_temperature_for_rate_inverts_the_recession_rate(metal):
    """The bisection returns T with recession_rate(T) = rate: to its 1e-6 K tolerance (the
    rate's relative slope is below 0.05 /K here, so the rate to 1e-7 relative)."""
    for rate in (1e-14, 1e-10, 1e-6):
        T = life.temperature_for_rate_K(metal, rate)
        assert life.recession_rate(metal, T) == pytest.approx(rate, rel=1e-7)
        assert life.recession_rate(metal, T - 2e-6) < rate < life.recession_rate(metal, T + 2e-6)


def test_recrystallisation_kinetics():
    """Onset 1 h at 1300 C by definition; the activation energy gives the review's
    t(1873 K) / t(2273 K) = 56 and 5-6x per 100 K near 1500-1700 K."""
    assert life.recrystallisation_time_s(1573.15) == pytest.approx(3600.0, rel=1e-12)
    ratio = life.recrystallisation_time_s(1873.0) / life.recrystallisation_time_s(2273.0)
    assert ratio == pytest.approx(56.0, rel=0.02)
    per_100K = life.recrystallisation_time_s(1500.0) / life.recrystallisation_time_s(1600.0)
    assert 5.0 <= per_100K <= 6.0
    # half an hour at the onset temperature uses half of it
    assert life.recrystallisation_fraction([0.0, 1800.0], [1573.15, 1573.15]) == \
        pytest.approx(0.5, rel=1e-12)


def test_bad_series_and_unknown_metals():
    with pytest.raises(ValueError, match="same length"):
        life.eroded_depth_m("W", [0.0, 1.0], [3000.0])
    with pytest.raises(ValueError, match="must not decrease"):
        life.eroded_depth_m("W", [1.0, 0.0], [3000.0, 3000.0])
    with pytest.raises(KeyError, match="there are: Ag, Be, Cu"):
        life.vapour_pressure("Xx")
    assert np.all(np.diff(life.vapour_pressure("Cu").pressure_Pa([1300, 1357, 1358, 1400])) > 0)


def test_thermal_cycles_of_a_known_schedule():
    """Rainflow count of the spot temperature on known histories (exact): 5 pulses of a
    1000 K swing in 0.1 s are 5 cycles of 1000 K, 180 000 per hour; ripples under a tenth of
    the largest swing are not counted; a single load (the schedule repeated) is one cycle;
    a steady state none."""
    t = np.linspace(0.0, 0.1, 11)
    T = np.array([300.0] + [1300.0, 300.0] * 5)
    c = life.thermal_cycles(t, T)
    assert c["cycles_per_run"] == 5.0 and c["largest_swing_K"] == 1000.0
    assert c["cycles_per_h"] == pytest.approx(5 * 3600 / 0.1, rel=1e-12)
    rippled = [300.0] + [1300.0, 1250.0, 1300.0, 300.0] * 5  # a 50 K ripple in each pulse
    c = life.thermal_cycles(np.linspace(0.0, 0.1, 21), rippled)
    assert c["cycles_per_run"] == 5.0 and c["largest_swing_K"] == 1000.0
    single = life.thermal_cycles([0.0, 1.0, 10.0], [300.0, 900.0, 1000.0])
    assert single["cycles_per_run"] == 1.0 and single["largest_swing_K"] == 700.0
    assert life.thermal_cycles([0.0], [1000.0])["cycles_per_run"] == 0.0


def test_a_repeated_schedule_counts_the_same_from_any_start():
    """The schedule repeated is a periodic history, so its rainflow count cannot depend on
    where one period starts: every cyclic shift of a history gives the same cycles. A warm
    start that the schedule cools further, 600 → 1000 → 450 °C and back to 600 at the next
    repetition, is one cycle of 550 K per run (by hand: the only peak and the only valley),
    not 1.5 (half cycles of 400, 550 and 150 K, as the history closed at its first sample
    counted it)."""
    warm = life.thermal_cycles([0.0, 5.0, 10.0], [873.15, 1273.15, 723.15])
    assert warm["cycles_per_run"] == 1.0
    assert warm["largest_swing_K"] == pytest.approx(550.0, rel=1e-12)
    T = np.array([700.0, 1200.0, 500.0, 1100.0, 650.0, 1300.0, 400.0, 900.0])
    t = np.linspace(0.0, 1.0, len(T))
    first = life.thermal_cycles(t, T)
    for k in range(1, len(T)):
        shifted = life.thermal_cycles(t, np.roll(T, k))
        assert shifted["cycles_per_run"] == first["cycles_per_run"]
        assert shifted["largest_swing_K"] == pytest.approx(first["largest_swing_K"], rel=1e-12)
    closed, start = life.periodic_history(T)
    assert start == 5 and closed[0] == closed[-1] == 1300.0 and len(closed) == len(T) + 1


@pytest.mark.parametrize("T", [
    [3.0, 5.0, 1.0, 5.0, 1.0],             # equal maxima and minima, the start between them
    [2.0, 5.0, 5.0, 1.0, 5.0, 1.0, 2.0],   # a plateau at the top, a minimum that recurs
    [4.0, 0.0, 4.0, 2.0, 2.0, 0.0, 3.0],   # equal maxima, one at the first sample
    [1.0, 2.0, 3.0, 4.0],                  # rising only: one load from cold, never cooled
    [3.0, -9.0, 2.0, 1.0, 2.5],            # the largest excursion is a minimum (signed)
    [6.0, 2.0],                            # two samples
])
def test_one_period_counts_what_each_further_repetition_adds(T):
    """The cycles of one period (history_cycles: every cycle, index pairs into the run) are
    those each further repetition of the schedule adds to a plain rainflow count of the
    repeated history (rainflow of K and of 2K repetitions, their difference over K, every
    range to 1e-12), with equal maxima, plateaus, a rising-only run and a largest
    excursion that is a minimum. Before, the count closed at the first sample differed for
    the first two (2.5 cycles per run for 2 in the first), and the cycles under a tenth of
    the largest were left out (the 1 K cycle beside the 12 K one of the fifth)."""
    import rainflow

    v = np.asarray(T)
    (i, j, count), per_h = life.history_cycles(np.arange(len(v), dtype=float), v)
    mine: dict = {}
    for a, b, c in zip(i, j, count):
        mine[abs(v[a] - v[b])] = mine.get(abs(v[a] - v[b]), 0.0) + c
    K = 8
    plain = [dict(rainflow.count_cycles(np.tile(v, k))) for k in (K, 2 * K)]
    added = {r: (plain[1].get(r, 0.0) - plain[0].get(r, 0.0)) / K for r in plain[1]}
    added = {r: c for r, c in added.items() if r > 0 and c != 0}
    assert sorted(mine) == pytest.approx(sorted(added), rel=1e-12)
    assert [mine[r] for r in sorted(mine)] == pytest.approx([added[r] for r in sorted(added)],
                                                            rel=1e-12)
    assert life.thermal_cycles(np.arange(len(v), dtype=float), v)["largest_swing_K"] == \
        pytest.approx(max(added), rel=1e-12)
    assert per_h == pytest.approx(3600.0 / (len(v) - 1), rel=1e-12)


def test_a_run_without_swings_has_no_cycles():
    """A constant history (a steady spot, or a run too short to heat it), of one, two or
    many samples, has no cycles and an unlimited crack-initiation life."""
    from anodesim.materials import get

    W = get("W")
    for n in (1, 2, 5):
        t, T = np.linspace(0.0, 1.0, n), np.full(n, 1500.0)
        assert life.thermal_cycles(t, T)["cycles_per_run"] == 0.0
        assert not len(life.history_cycles(t, T)[0][2])
        assert life.crack_initiation(t, T, W.tables, life.tensile_data("W"))["hours"] == math.inf


def test_fatigue_swing_of_w_by_hand():
    """The swing at which a W surface held in its plane reaches the fatigue limit:
    150 MPa x (1 - 0.28) / (400 GPa x 4.5e-6 /K) = 60 K (exact arithmetic, 1e-12), and the
    library's W at room temperature gives 55-65 K (E 398 GPa, alpha 4.4-4.75e-6 /K, nu 0.28:
    the tables' spread)."""
    from anodesim import materials

    w = life.fatigue_limit("W")
    assert w.stress_range_Pa == 150e6 and w.runout_cycles == 2e6 and "Habainy" in w.source
    assert w.swing_K(400e9, 4.5e-6, 0.28) == pytest.approx(60.0, rel=1e-12)
    tab = materials.get("W").tables
    T = 300.0
    assert 55.0 < w.swing_K(float(tab["E"](T)), float(tab["alpha"](T)),
                            float(tab["nu"](T))) < 65.0
    assert life.fatigue_limit("diamond") is None


def test_damaging_cycles_of_a_known_schedule():
    """Cycles above a swing are counted exactly: five 1000 K pulses with a 50 K ripple each,
    in 0.1 s, against a 60 K limit are 5 damaging cycles per run (180 000 per hour; the
    ripples stay below the limit), against a 40 K limit 10 (the ripples count too)."""
    t = np.linspace(0.0, 0.1, 21)
    T = [300.0] + [1300.0, 1250.0, 1300.0, 300.0] * 5
    assert life.thermal_cycles(t, T, 60.0)["damaging_cycles_per_h"] == pytest.approx(
        5 * 36000, rel=1e-12)
    assert life.thermal_cycles(t, T, 40.0)["damaging_cycles_per_h"] == pytest.approx(
        10 * 36000, rel=1e-12)
    assert life.thermal_cycles([0.0], [1000.0], 60.0)["damaging_cycles_per_h"] == 0.0


def test_fatigue_verdict_in_the_life_summary():
    """The run summary's fatigue entries: a 10 ms on / 10 ms off train on W (50 cycles per
    second of a 900 K swing), 1 s long and repeated every second (it ends cooled), gives
    1.8e5 damaging cycles per hour, 1.8e9 over 10 000 h, and a verdict that says cracking is
    expected; without the repetition, 50 cycles per load and no hours; a steady spot gives
    none."""
    from anodesim import materials
    from anodesim.limits import life_summary

    w = materials.get("W")
    t = np.arange(0.0, 1.0 + 1e-12, 0.01)
    T_C = np.where(np.arange(len(t)) % 2 == 1, 1000.0, 100.0)
    s = life_summary(w, t, T_C, 10_000.0, repeat_every_s=1.0)
    assert s["thermal_damaging_cycles_per_h"] == pytest.approx(50 * 3600, rel=1e-12)
    assert s["fatigue_cycles_over_life"] == pytest.approx(1.8e9, rel=1e-12)
    assert s["repeat_end_rise_K"] == 0.0 and "warmer" not in s["fatigue_verdict"]
    per_load = life_summary(w, t, T_C, 10_000.0)
    assert per_load["thermal_damaging_cycles_per_run"] == 50.0
    assert per_load["thermal_damaging_cycles_per_h"] is None
    assert per_load["fatigue_cycles_over_life"] is None
    assert per_load["fatigue_verdict"].startswith("50 cycles per load of this schedule")
    assert "cracking" in s["fatigue_verdict"] and "Habainy" in s["fatigue_source"]
    # the verdict tells the allowed swing from the spot's own (the reader took one for the other)
    allowed = s["fatigue_limit_swing_K"]
    assert f"allowed swing {allowed:.0f} K" in s["fatigue_verdict"] and 40 < allowed < 80
    assert "the deepest spot cycle swings 900 K" in s["fatigue_verdict"]
    steady = life_summary(w, [0.0], [1000.0], 10_000.0)
    assert steady["fatigue_cycles_over_life"] == 0.0
    assert steady["fatigue_verdict"].startswith("no spot cycle")
