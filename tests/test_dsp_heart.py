"""Heart rate with artifact correction, and RSA."""

from __future__ import annotations

import numpy as np
import pytest

from rapport_sync.dsp.heart import HeartTracker, correct_rr, rsa_amplitude_ms
from rapport_sync.dsp.simulate import CouplingScript, simulate_dyad


def _beats(hr_bpm: float = 70.0, rsa_ms: float = 80.0, seconds: float = 120.0,
           breath_hz: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """RR intervals swinging ``rsa_ms`` peak to trough with the breath (4 s by default)."""
    t, times, rrs = 0.0, [], []
    while t < seconds:
        rr = 60.0 / hr_bpm - rsa_ms / 2000.0 * np.sin(2 * np.pi * breath_hz * t)
        t += rr
        times.append(t)
        rrs.append(rr)
    return np.array(times), np.array(rrs)


def test_artifacts_are_flagged_and_heart_rate_survives_them() -> None:
    t, rr = _beats()
    bad = rr.copy()
    hits = [40, 41, 80, 120]
    bad[40] = 2 * rr[40]  # missed beat
    bad[41] = 0.45 * rr[41]  # extra beat
    bad[80] = 3.5  # strap noise
    bad[120] = np.nan
    fixed, flagged = correct_rr(bad)
    assert set(np.flatnonzero(flagged)) == set(hits)
    np.testing.assert_allclose(fixed[hits], rr[hits], rtol=0.1)
    tr = HeartTracker()
    tr.update(t, bad)
    assert tr.state.hr_bpm == pytest.approx(70.0, abs=1.0)
    assert tr.state.artifact_fraction == pytest.approx(len(hits) / len(rr))
    assert tr.state.n_beats == len(rr)


def test_streaming_equals_batch() -> None:
    t, rr = _beats()
    rr[50] = 0.2
    one = HeartTracker()
    one.update(t, rr)
    many = HeartTracker()
    for i in range(0, len(t), 3):
        many.update(t[i:i + 3], rr[i:i + 3])
    assert many.state == one.state


def test_rsa_amplitude_is_the_peak_to_trough_swing() -> None:
    t, rr = _beats(rsa_ms=80.0)
    assert rsa_amplitude_ms(t, rr) == pytest.approx(80.0, rel=0.15)
    t, rr = _beats(rsa_ms=0.0)
    assert rsa_amplitude_ms(t, rr) < 5.0


@pytest.mark.parametrize("breaths_per_min", [3.5, 4, 6, 9, 15, 20])
def test_rsa_is_the_swing_at_any_breathing_rate_once_the_rate_is_known(
        breaths_per_min: float) -> None:
    """An 80-ms sinusoidal RSA at 70 beats/min reads 80 ms within 5 % from 4 to 20
    breaths/min over the tracker's 60-s window when the breathing rate is given, and at
    3.5/min (below the range: the band of 4/min, which holds it; the fixed band reads a
    tenth); the fixed band, without the rate, reads the paced 6/min breather at half (the
    band's edge)."""
    f = breaths_per_min / 60.0
    t, rr = _beats(seconds=200.0, breath_hz=f)
    tracked = HeartTracker(breath_hz=f)
    tracked.update(t, rr)
    assert tracked.state.rsa_ms == pytest.approx(80.0, rel=0.05)
    fixed = HeartTracker()
    fixed.update(t, rr)
    if breaths_per_min == 6:
        assert fixed.state.rsa_ms < 0.6 * 80.0
    if breaths_per_min == 3.5:
        assert fixed.state.rsa_ms < 0.1 * 80.0


def test_simulated_heart_rate() -> None:
    rec = simulate_dyad(120, 25.0, seed=3, script=CouplingScript.constant(0.0))
    tr = HeartTracker()
    tr.update(rec.a.beat_times_s, rec.a.rr_s)
    assert tr.state.hr_bpm == pytest.approx(68.0, abs=5.0)
    assert tr.state.rsa_ms > 20.0  # the simulator's heart follows the breath


def test_heart_rate_is_the_last_ten_seconds_of_a_long_session() -> None:
    """Two minutes at 60/min, then 20 beats at 0.85 s (a 15 % step, under the artifact
    rule's 20 %), fed beat by beat: the rate is the mean RR of the last 10 s only (older
    beats are kept for RSA, not for the rate)."""
    rr = np.r_[np.full(120, 1.0), np.full(20, 0.85)]
    t = np.cumsum(rr)
    tr = HeartTracker()
    for k in range(len(t)):
        tr.update(t[k:k + 1], rr[k:k + 1])
        seen = np.arange(len(t)) <= k
        expected = 60.0 / rr[seen & (t >= t[k] - 10.0)].mean()
        assert tr.state.hr_bpm == pytest.approx(expected, rel=1e-12)
    assert tr.state.hr_bpm == pytest.approx(60.0 / 0.85, rel=1e-12)
    assert tr.state.n_beats == len(rr) and tr.state.artifact_fraction == 0.0


@pytest.mark.parametrize("pause_s", [0.0, 40.0])
def test_a_new_heart_rate_level_is_followed_not_corrected_away(pause_s: float) -> None:
    """The heart beating 33 % faster from one beat on (a fast rise, or a strap back after
    40 s off): the first four intervals at the new level are flagged (causally, they could
    be artifacts), the fifth starts the new level, and the rate is 90/min, not the old
    60/min held for ever."""
    rr = np.r_[np.full(60, 1.0), np.full(30, 2.0 / 3.0)]
    t = np.cumsum(rr) + np.r_[np.zeros(60), np.full(30, pause_s)]
    fixed, flagged = correct_rr(rr, t)
    assert np.flatnonzero(flagged).tolist() == [60, 61, 62, 63]
    assert np.allclose(fixed[64:], 2.0 / 3.0)
    tr = HeartTracker()
    tr.update(t, rr)
    assert tr.state.hr_bpm == pytest.approx(90.0, rel=1e-9)


def test_a_fast_rise_over_a_few_beats_is_followed() -> None:
    rr = np.r_[np.full(60, 1.0), np.linspace(1.0, 2.0 / 3.0, 8), np.full(120, 2.0 / 3.0)]
    tr = HeartTracker()
    tr.update(np.cumsum(rr), rr)
    assert tr.state.hr_bpm == pytest.approx(90.0, rel=1e-9)
    assert tr.state.artifact_fraction < 0.05


def test_after_a_pause_a_halved_rate_or_a_stray_normal_beat_still_lets_the_new_level_in(
        ) -> None:
    """After 40 s without beats the rate may have halved (missed-beat-like, but after a
    pause nothing tells them apart), and one interval at the old level right after the
    pause (an ectopic's compensatory beat) does not lock the new level out."""
    for rr in (np.r_[np.full(60, 0.6), np.full(30, 1.2)],
               np.r_[np.full(60, 1.0), 0.95, np.full(30, 2.0 / 3.0)]):
        t = np.cumsum(rr)
        t[60:] += 40.0
        tr = HeartTracker()
        tr.update(t, rr)
        assert tr.state.hr_bpm == pytest.approx(60.0 / rr[-1], rel=1e-9), rr[-1]


def test_missed_beats_without_a_pause_stay_artifacts() -> None:
    """A strap that misses every other beat for 8 beats (RR 2 s, inside the plausible
    range, and agreeing with each other) does not halve the heart rate; nor do a lone
    ectopic beat and its compensatory pause."""
    rr = np.r_[np.full(60, 1.0), np.full(8, 2.0), np.full(20, 1.0)]
    t = np.cumsum(rr)
    fixed, flagged = correct_rr(rr, t)
    assert np.flatnonzero(flagged).tolist() == list(range(60, 68))
    tr = HeartTracker()
    for k in range(len(t)):
        tr.update(t[k:k + 1], rr[k:k + 1])
        assert tr.state.hr_bpm == pytest.approx(60.0, rel=1e-9)
    rr2 = np.r_[np.full(30, 1.0), 0.6, 1.4, np.full(10, 1.0)]
    assert np.flatnonzero(correct_rr(rr2, np.cumsum(rr2))[1]).tolist() == [30, 31]


def test_a_live_breathing_rate_centres_the_band_from_the_time_it_was_known() -> None:
    """A paced 6/min breather, the rate told as a live tracker would: until it is known the
    fixed band reads about half the 80-ms swing (the value of a tracker never told); from
    the first window ending after it, the swing; a rate told late, after the beats that
    closed the window, redoes that window as if it had come in time; an unknown rate
    (NaN) goes back to the fixed band."""
    f = 0.1
    t, rr = _beats(seconds=300.0, breath_hz=f)
    before = t <= 152.0
    untold, told = HeartTracker(), HeartTracker()
    untold.update(t[before], rr[before])
    told.set_breath_hz(151.0, f)  # from 151 s on: too late for the window ending at 150 s
    told.update(t[before], rr[before])
    assert told.state.rsa_ms == untold.state.rsa_ms < 0.6 * 80.0
    in_time, late = HeartTracker(), HeartTracker()
    in_time.set_breath_hz(149.0, f)
    in_time.update(t[before], rr[before])
    late.update(t[before], rr[before])
    assert late.state.rsa_ms < 0.6 * 80.0
    late.set_breath_hz(149.0, f)
    assert late.state == in_time.state
    assert in_time.state.rsa_ms == pytest.approx(80.0, rel=0.05)
    for tr in (told, in_time):
        tr.set_breath_hz(200.0, float("nan"))
        tr.update(t[~before & (t <= 199.0)], rr[~before & (t <= 199.0)])
        assert tr.state.rsa_ms == pytest.approx(80.0, rel=0.05)
        tr.update(t[t > 199.0], rr[t > 199.0])
        assert tr.state.rsa_ms < 0.6 * 80.0


def test_breathing_rates_given_while_no_beats_come_are_not_hoarded() -> None:
    """A strap off for a day while the belt breathes on at 6/min: the tracker keeps what
    the next window could need (the rate in force ten minutes back and everything since),
    not every rate it was ever told; the window after the beats return uses the latest
    (at 6/min the fixed band would read about half the swing)."""
    t, rr = _beats(seconds=120.0, breath_hz=0.1)
    tr, fixed = HeartTracker(), HeartTracker()
    tr.update(t, rr)
    for k in range(int(86_400 / 10)):  # one rate a breath
        tr.set_breath_hz(120.0 + 10.0 * k, 0.1 + 0.001 * (k % 2))
    assert len(tr._rate_t) <= 600.0 / 10.0 + 2
    later, rr2 = _beats(seconds=120.0, breath_hz=0.1)
    tr.update(later + 86_500.0, rr2)
    fixed.update(later + 86_500.0, rr2)
    assert tr.state.rsa_ms == pytest.approx(80.0, rel=0.05)
    assert fixed.state.rsa_ms < 0.7 * 80.0
