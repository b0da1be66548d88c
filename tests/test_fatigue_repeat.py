"""How a run's schedule is repeated for its life figures (loading.repeat_every_s).

Without the key the fatigue figures are per load (each load from the initial state): a
single load repeated "back to back" was counted as one cold-start cycle per run's duration,
3.6e13 cycles in 10 000 h for a 1 µs load, as if the anode cooled instantly between loads.
With it the run simulates the cool-down up to the next start, and every figure is per hour
of loads repeated at that interval.
"""

import math

import numpy as np
import pytest
from cases import reflection
from test_case import write_toml

import anodesim
from anodesim import life
from anodesim.case import CaseError
from anodesim.cli import main
from anodesim.materials import get
from anodesim.simulation import run

W = get("W")

#: A 1 µs load of 30 W on a 20 µm spot: the spot swings about 1260 K from 30 °C.
MICRO = {"beam": {"power_W": 30.0, "fwhm_um": 20.0}}


def _micro(repeat=None):
    loading = {"kind": "continuous", "duration_s": 1e-6}
    if repeat is not None:
        loading["repeat_every_s"] = repeat
    return anodesim.from_dict(reflection(loading=loading, **MICRO))


def test_a_one_microsecond_load_is_counted_per_load_or_per_repetition():
    """The 1 µs load (failed before: 3.6e13 cycles in 10 000 h, a cycle per µs of the
    life). Without a repetition: one damaging cycle per load, the damage per load and the
    loads to crack initiation, no hours. Repeated every 60 s: the run covers the 60 s (the
    cool-down simulated, the spot back at its start to 1e-6 K), and the figures over the
    life are the per-load ones times 10 000 h × 60 loads per hour, exactly (1e-12):
    6e5 damaging cycles, damage per hour 60 × damage per load, crack initiation after
    loads / 60 h. The erosion per hour falls by the ratio of the times, 6e7, to 1e-3
    (the pause erodes nothing measurable; the load's own steps differ between the runs,
    whose largest step follows their length)."""
    once = run(_micro())
    L = once.life
    assert L["thermal_damaging_cycles_per_run"] == 1.0 and L["thermal_largest_swing_K"] > 1000
    assert L["fatigue_cycles_over_life"] is None and L["fatigue_crack_initiation_h"] is None
    assert L["thermal_cycles_per_h"] is None and L["fatigue_damage_per_h"] is None
    assert L["fatigue_crack_initiation_loads"] == pytest.approx(
        1.0 / L["fatigue_damage_per_load"], rel=1e-12)
    assert L["fatigue_verdict"].startswith("1 cycle per load of this schedule (each from 30 °C)")
    assert "3.6e+13" not in L["fatigue_verdict"]

    again = run(_micro(60.0))
    R = again.life
    assert again.series.time[-1] == pytest.approx(60.0, rel=1e-12)
    assert abs(R["repeat_end_rise_K"]) < 1e-6 and "warmer" not in R["fatigue_verdict"]
    per_h = 3600.0 / 60.0
    assert R["fatigue_cycles_over_life"] == pytest.approx(1e4 * per_h, rel=1e-12)
    assert R["fatigue_damage_per_h"] == pytest.approx(R["fatigue_damage_per_load"] * per_h,
                                                      rel=1e-12)
    assert R["fatigue_crack_initiation_h"] == pytest.approx(
        R["fatigue_crack_initiation_loads"] / per_h, rel=1e-12)
    assert R["fatigue_verdict"].startswith("6e+05 cycles in 10000 h of this schedule, "
                                           "repeated every 60 s,")
    assert R["erosion_rate_nm_h"] == pytest.approx(L["erosion_rate_nm_h"] * 1e-6 / 60.0,
                                                   rel=1e-3)


def test_counts_of_a_constructed_repeated_history():
    """A 10 s load from 30 to 919 °C, then 50 s of cooling back to 31 °C, repeated every
    60 s: one cycle per load (rainflow of the closed period, by hand), 60 per hour, 6e5
    over 10 000 h, damage per hour 60 / N(30 °C, 919 °C), crack hours N / 60 (1e-12). Back
    to back (repeated every 10 s, never cooled) the verdict says the repetitions start
    warmer than the run, 889 K above its start."""
    from anodesim.limits import life_summary

    t = np.array([0.0, 10.0, 60.0])
    T_C = np.array([30.0, 919.0, 31.0])
    s = life_summary(W, t, T_C, 1e4, 60.0)
    N = float(life.cycle_design_life(W.tables, life.tensile_data("W"), 30.0 + 273.15,
                                     919.0 + 273.15))
    assert s["thermal_damaging_cycles_per_run"] == 1.0
    assert s["thermal_damaging_cycles_per_h"] == pytest.approx(60.0, rel=1e-12)
    assert s["fatigue_cycles_over_life"] == pytest.approx(6e5, rel=1e-12)
    assert s["fatigue_damage_per_h"] == pytest.approx(60.0 / N, rel=1e-12)
    assert s["fatigue_crack_initiation_h"] == pytest.approx(N / 60.0, rel=1e-12)
    assert s["repeat_end_rise_K"] == pytest.approx(1.0, rel=1e-9)
    assert "warmer" not in s["fatigue_verdict"]
    hot = life_summary(W, t[:2], T_C[:2], 1e4, 10.0)
    assert hot["repeat_end_rise_K"] == pytest.approx(889.0, rel=1e-12)
    assert "889 K above its start when the schedule repeats" in hot["fatigue_verdict"]
    assert hot["repeat_note"].startswith("the spot is still 889 K above its start when the "
                                         "schedule repeats (every 10 s)")
    assert s["repeat_note"] is None


@pytest.mark.parametrize("change,message", [
    ({"loading": {"repeat_every_s": 0.05}},
     "loading.repeat_every_s = 0.05: expected the time in s from one start of the schedule "
     "to the next, at least the schedule's own 0.1 s"),
    ({"loading": {"repeat_every_s": "1 min"}}, "loading.repeat_every_s = '1 min': expected"),
    ({"loading": {"repeat_every_s": -1.0}}, "loading.repeat_every_s = -1.0: expected"),
    ({"loading": {"kind": "steady", "duration_s": None, "repeat_every_s": 10.0}},
     "loading.repeat_every_s = 10.0: expected no repetition with kind = \"steady\""),
    ({"limits": {"fatigue": True}},
     "loading.repeat_every_s: missing with limits.fatigue = true; expected the time in s "
     "from one start of the schedule to the next (at least its 0.1 s)"),
    # a life shorter than one repetition counted a fraction of the one load (reviewer)
    ({"loading": {"repeat_every_s": 1e5}, "limits": {"life_h": 1.0}},
     "limits.life_h = 1: shorter than one repetition of the schedule "
     "(loading.repeat_every_s = 100000 s); expected a life of at least 27.78 h"),
])
def test_bad_repetition_is_one_line_and_exit_2(tmp_path, capsys, change, message):
    """Bad or missing repetition: one line naming the key, the value and what was expected,
    from the reader, `anodesim check` and `anodesim run` (exit 2, no output folder)."""
    with pytest.raises(CaseError) as e:
        anodesim.from_dict(reflection(**change))
    assert message in str(e.value) and "\n" not in str(e.value)
    path = write_toml(tmp_path / "case.toml", reflection(**change))
    capsys.readouterr()
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err
    out = tmp_path / "out"
    assert main(["run", str(path), "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and not out.exists()


def test_repetition_equal_to_the_schedule_appends_no_pause():
    """repeat_every_s equal to the schedule's duration (a pulse train that ends with its own
    cool-down) leaves the schedule as it is; a longer one appends the pause at zero power,
    and a fatigue limit is then accepted."""
    train = {"kind": "pulse_train", "duration_s": None, "pulses": 2, "on_s": 0.01,
             "off_s": 0.04, "cool_down_s": 0.1}
    plain = anodesim.from_dict(reflection(loading=train))
    same = anodesim.from_dict(reflection(loading={**train, "repeat_every_s": 0.2},
                                         limits={"fatigue": True}))
    assert same.loading.segments == plain.loading.segments
    assert same.loading.repeat_every_s == 0.2 and plain.loading.repeat_every_s is None
    longer = anodesim.from_dict(reflection(loading={**train, "repeat_every_s": 1.0}))
    assert longer.loading.segments[:-1] == plain.loading.segments
    pause, power = longer.loading.segments[-1]
    assert power == 0.0 and pause == pytest.approx(0.8, rel=1e-12)
    assert math.isclose(longer.end_time_s, 1.0, rel_tol=1e-12)


def test_back_to_back_repetition_warns_on_the_console(tmp_path, capsys):
    """A 0.1 s load repeated back to back (repeat_every_s = its duration) never cools: the
    run prints one warning line that repeated loads start warmer than the run (its life
    figures do not include the warm-up), with the spot's rise at the repetition; the same
    load every 10 s cools back (the spot within 5 % of its swing) and prints none. The
    report's headline says the same (report.headline, from summary.json)."""
    import json

    from anodesim.report import headline

    for repeat, warned in ((0.1, True), (10.0, False)):
        path = write_toml(tmp_path / f"case{repeat}.toml",
                          reflection(loading={"repeat_every_s": repeat}))
        out = tmp_path / f"out{repeat}"
        assert main(["run", str(path), "-o", str(out)]) == 0
        err = capsys.readouterr().err
        lines = [x for x in err.splitlines() if x.startswith("  warning: the spot is still ")]
        assert len(lines) == (1 if warned else 0), err
        rows = dict(headline(json.loads((out / "summary.json").read_text())))
        assert rows["life figures"].startswith(f"per hour of operation, the schedule repeated "
                                               f"every {repeat:g} s")
        assert ("WARNING: repetition" in rows) == warned
        if warned:
            assert "start warmer than this run" in lines[0] and "(every 0.1 s)" in lines[0]
            assert rows["WARNING: repetition"] == lines[0][len("  warning: "):]


@pytest.mark.parametrize("loading,said", [
    ({"kind": "continuous", "duration_s": 0.1}, "5.08 W in 0.1 s loads repeated every 2 s "
                                                 "(0.0508 mA), in their periodic state (the "
                                                 "anode never back to cold)"),
    ({"kind": "pulse_train", "duration_s": None, "pulses": 3, "on_s": 0.02, "off_s": 0.08},
     "5.08 W peak, in this pulse train repeated every 2 s (0.0508 mA), in its periodic "
     "state (the anode never back to cold)"),
])
def test_the_rating_in_words_names_the_repetition(loading, said):
    """The rating's one-paragraph quote of the case's own schedule names how often it
    repeats: with repeat_every_s the life limits (erosion per hour, fatigue loads over the
    life) count loads so repeated, and the same power quoted "in single 0.1 s loads, each
    from cold" (as it read before) holds only at that interval (the small rating case,
    fatigue on, rated 5.08 W every 2 s; back to back a fatigue-bound single load rates
    lower). Without the key the wording is the one before. Since the periodic state is
    rated (tests/test_periodic_rating.py) the quote says so instead of "each from cold"
    (which it read before)."""
    from anodesim.rating.rate import Rating, in_words
    from anodesim.rating.safe import SafeLoading

    sl = SafeLoading(5.084, "fatigue", 5.084, True, 1, [], "engine, confirmed")
    for repeat in (2.0, None):
        case = anodesim.from_dict(reflection(loading={
            **loading, **({} if repeat is None else {"repeat_every_s": repeat})}))
        text = in_words(case, Rating("t", "h", [], {}, case.loading.kind, max_safe=sl))
        if repeat is None:
            assert "repeated every" not in text and ("in single 0.1 s loads" in text
                                                     or "in this pulse train (" in text)
        else:
            assert said in text, text


def test_a_repeated_single_load_keeps_its_drift_history():
    """A 10 s load with mechanics, repeated every 60 s: the drift is saved at the same 20
    log-spaced times over the load as without the key (exactly), and log-spaced again over
    the 50 s cool-down (20 more, the last at 60 s); before, the appended pause made it a
    two-segment schedule saved at 10 s and 60 s only (the drift history over the load
    lost). Its plots keep the single load's log time axis. A 20 min warm-up every 40 min
    keeps no gap longer than 40 s after its first 40 s, in the load and in the pause."""
    from anodesim.resolve import save_times

    mech = {"mounts": {"cooled_end": {"type": "clamped"}}}
    load = {"kind": "continuous", "duration_s": 10.0}
    plain = anodesim.from_dict(reflection(loading=load, **mech))
    again = anodesim.from_dict(reflection(loading={**load, "repeat_every_s": 60.0}, **mech))
    t0, t = save_times(plain), save_times(again)
    assert len(t0) == 20 and t[:20] == t0
    assert len(t) == 40 and t[20] == pytest.approx(10.0 + 50e-6, rel=1e-12)
    assert t[-1] == pytest.approx(60.0, rel=1e-12)
    assert again.loading.single_load
    warm = anodesim.from_dict(reflection(loading={"kind": "continuous", "duration_s": 1200.0,
                                                  "repeat_every_s": 2400.0}, **mech))
    t = save_times(warm)
    assert t[-1] == pytest.approx(2400.0, rel=1e-12)
    assert max(b - a for a, b in zip(t, t[1:]) if a >= 40.0) <= 40.0 + 1e-9


def test_a_repeated_load_keeps_its_end_of_load_fields(tmp_path):
    """With the pause up to repeat_every_s appended, the run ends cooled (a 0.1 s load of
    10 W every 1 s: the spot back within a few K of 30 °C), so the figures' temperature
    field, drawn at the end of the run, showed the cold anode. It is now sampled at the end
    of the load (t = 0.1 s, titled so): its hottest sample is the run's T_peak at 0.1 s
    within 1e-3 of the spot's rise (measured 1e-13: the 121-point grid holds the spot's
    node; it may miss it, never exceed it), 346 K above the run's final spot. fields.bp
    gets the load's end as a save time even without mechanics; without the key nothing
    changes (the end only). summary.json's results gain load_end, the row at the load's
    end (beam on), next to final (the run's end); not without the key."""
    from anodesim.resolve import save_times
    from anodesim.simulation import Simulation

    case = anodesim.from_dict(reflection(loading={"repeat_every_s": 1.0}))
    assert case.loading.load_end_s == 0.1 and save_times(case) == (0.1,)
    assert save_times(anodesim.from_dict(reflection())) == ()
    sim = Simulation(case, tmp_path / "out")
    result = sim.run()
    t_peak = dict(zip(result.series.time, result.series["T_peak_C"]))[0.1]
    final = result.series["T_peak_C"][-1]
    t, slices, field = sim.load_end_fields
    assert t == 0.1 and slices is None
    hottest = max(float(np.nanmax(panel[3])) for panel in field)
    assert abs(hottest - t_peak) <= 1e-3 * (t_peak - 30.0) and t_peak - final > 100.0
    assert (tmp_path / "out" / "temperature_field.png").exists()
    end = result.summary_dict()["results"]["load_end"]  # "final" is at 1 s, cooled
    assert end["time_s"] == 0.1 and end["beam_power_W"] == 10.0 and end["T_peak_C"] == t_peak
    assert "load_end" not in run(anodesim.from_dict(reflection())).summary_dict()["results"]


def test_sparse_loads_and_short_lives_keep_the_spot_below_melting():
    """The default life spot limit (erosion over the life) bounds the spot only through the
    time it is hot: with sparse loads (a 0.1 s load every 1e5 s over a 30 h life) the budget
    allowed a spot at the melting point (the reviewer's case rated 116.7 W, 'erosion binds',
    where 117.2 W melted). Such cases, and lives too short for erosion to bind below it,
    now carry short_exposure's ceiling, W's melting point less 200 K; the default case
    (no repetition, 10 000 h) does not (its erosion bounds the spot at 2058 °C)."""
    from anodesim import limits
    from anodesim.resolve import region_materials

    def spot_limit(case):
        found = [x for x in limits.limits_for(case, region_materials(case)) if x.name == "spot"]
        return found[0].value if found else None

    ceiling = W.melting_K - limits.SPOT_MARGIN_K - 273.15
    sparse = anodesim.from_dict(reflection(
        loading={"kind": "continuous", "duration_s": 0.1, "repeat_every_s": 1e5},
        limits={"life_h": 30.0}))
    short = anodesim.from_dict(reflection(limits={"life_h": 1e-4}))
    assert spot_limit(sparse) == pytest.approx(ceiling, abs=1e-9)
    assert spot_limit(short) == pytest.approx(ceiling, abs=1e-9)
    assert spot_limit(anodesim.from_dict(reflection())) is None
    rated = anodesim.rate(sparse, charts=(), confirm=False, progress=lambda *a: None)
    assert [x.value for x in rated.limits if x.name == "spot"] == [pytest.approx(ceiling)]
