"""The two-person simulator: physiology, reproducibility, coupling script, real bytes, pacing."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from rapport_sync.dsp.simulate import (CouplingScript, PersonParams, breath_shape,
                                       simulate_dyad)
from rapport_sync.protocol.belt import BeatFrame, FrameDecoder, SamplesFrame
from rapport_sync.samples import Chunk
from rapport_sync.sources.base import VirtualClock
from rapport_sync.sources.sim import SimSource, VirtualBeltBoard, open_sim


@pytest.fixture(scope="module")
def ten_minutes():
    return simulate_dyad(600, fs=25, seed=3)


def cycles(rec_block):
    return np.floor(np.unwrap(rec_block.cycle_phase) / (2 * np.pi))


def test_same_seed_same_session_other_seed_other_session():
    one, two, other = (simulate_dyad(60, fs=25, seed=s) for s in (5, 5, 6))
    assert np.array_equal(one.a.belt, two.a.belt)
    assert np.array_equal(one.b.rr_s, two.b.rr_s, equal_nan=True)
    assert not np.array_equal(one.a.belt, other.a.belt)


def test_streaming_equals_batch():
    from rapport_sync.dsp.simulate import DyadSimulator
    batch = simulate_dyad(30, fs=25, seed=2)
    sim = DyadSimulator(fs=25, seed=2)
    parts = [sim.step(n) for n in (1, 7, 250, 492)]
    assert np.array_equal(np.concatenate([p.a.belt for p in parts]), batch.a.belt)
    # beat times are interpolated from a cumulative sum: equal up to float rounding
    assert np.allclose(np.concatenate([p.b.beat_times_s for p in parts]), batch.b.beat_times_s,
                       rtol=0, atol=1e-9)


def test_breathing_rates_are_those_asked_for(ten_minutes):
    # Pauses and sighs slow the average a little; the rate while breathing is the parameter.
    for block, expected in ((ten_minutes.a, 15.0), (ten_minutes.b, 12.5)):
        n = np.count_nonzero(np.diff(cycles(block)) > 0)
        breathing_min = (~block.paused).sum() / 25 / 60
        assert n / breathing_min == pytest.approx(expected, rel=0.12)


def test_inhale_is_shorter_than_exhale():
    u = np.linspace(0, 1, 1000, endpoint=False)
    shape = breath_shape(u, 0.4)
    peak = u[np.argmax(shape)]
    assert peak == pytest.approx(0.4, abs=0.01)  # inhale 40 %, exhale 60 % of the cycle
    assert shape[0] == pytest.approx(0.0, abs=1e-9) and shape.max() == pytest.approx(1.0)


def test_breath_to_breath_variability_sighs_and_pauses(ten_minutes):
    block = ten_minutes.a
    c = cycles(block)
    onsets = np.nonzero(np.diff(c) > 0)[0]
    paused = np.array([block.paused[i:j].any() for i, j in zip(onsets[:-1], onsets[1:])])
    periods = np.diff(onsets)[~paused] / 25.0  # breath-to-breath, pauses aside
    assert 0.05 < np.std(periods) / np.mean(periods) < 0.3
    depth = np.array([block.resp[(c == k)].max() for k in np.unique(c)[1:-1]])
    assert depth.max() > 2.0 * np.median(depth)  # at least one sigh
    assert block.paused.any()  # at least one pause


def test_heart_rate_with_rsa(ten_minutes):
    a = ten_minutes.a
    rr = a.rr_s[1:]
    assert 60 / np.mean(rr) == pytest.approx(68, abs=4)
    # RSA: heart rate is higher while the chest is expanded (inhaled) than when it is not.
    expansion = np.interp(a.beat_times_s[1:], ten_minutes.time_s, a.resp)
    high, low = expansion > np.quantile(expansion, 0.7), expansion < np.quantile(expansion, 0.3)
    assert 60 / rr[high].mean() - 60 / rr[low].mean() > 2.0


def best_lag_plv(pa, pb, fs, max_lag_s=4.0):
    best = (0.0, 0.0)
    for k in range(-int(max_lag_s * fs), int(max_lag_s * fs) + 1):
        x, y = (pa[: len(pa) - k], pb[k:]) if k >= 0 else (pa[-k:], pb[: len(pb) + k])
        best = max(best, (abs(np.mean(np.exp(1j * (x - y)))), k / fs))
    return best


def test_default_script_goes_independent_coupled_independent(ten_minutes):
    fs = 25
    pa, pb = ten_minutes.a.cycle_phase, ten_minutes.b.cycle_phase
    plv_indep, _ = best_lag_plv(pa[: 110 * fs], pb[: 110 * fs], fs)
    plv_coupled, lag = best_lag_plv(pa[260 * fs : 420 * fs], pb[260 * fs : 420 * fs], fs)
    plv_after, _ = best_lag_plv(pa[500 * fs :], pb[500 * fs :], fs)
    assert plv_coupled > 0.9
    assert 1.0 <= lag <= 2.5
    assert plv_indep < 0.5 and plv_after < 0.5


def test_negative_lag_makes_b_lead():
    rec = simulate_dyad(200, fs=25, seed=4, script=CouplingScript.constant(1.0, -1.5))
    plv, lag = best_lag_plv(rec.a.cycle_phase[50 * 25 :], rec.b.cycle_phase[50 * 25 :], 25)
    assert plv > 0.85 and -2.5 <= lag <= -1.0


def test_virtual_board_sends_valid_frames_with_beats():
    board = VirtualBeltBoard(seed=1)
    decoder = FrameDecoder()
    frames = decoder.feed(board.read_until(board.board_time_s(30.0)))
    assert decoder.stats.crc_errors == decoder.stats.malformed == decoder.stats.frames_lost == 0
    samples = [f for f in frames if isinstance(f, SamplesFrame)]
    beats = [f for f in frames if isinstance(f, BeatFrame)]
    assert len(samples) == pytest.approx(30 / board.frame_period_s, abs=1)
    assert {b.channel for b in beats} == {0, 1}
    # the board's clock runs drift_ppm fast and started before the session
    t = np.array([f.device_time_us for f in samples]) / 1e6
    assert np.allclose(np.diff(t), board.frame_period_s * (1 + 30e-6), atol=2e-6)


def test_pacing_is_drift_free_on_a_virtual_clock():
    clock = VirtualClock(start_ns=10**12)
    source = open_sim("seed=2", {None: "a"}, clock)
    assert isinstance(source, SimSource)
    source.duration_s = 120.0
    got: list[Chunk] = []
    done = threading.Event()
    source.start(lambda item: got.append(item) if isinstance(item, Chunk) else None)
    source._thread.join(30)  # type: ignore[union-attr]
    done.set()
    stamps = (np.array([c.host_time_ns for c in got]) - 10**12) / 1e9
    frame_end = (np.arange(len(stamps)) + 1) * source.board.frame_period_s - 1 / 50
    delay = stamps - frame_end
    assert len(got) == pytest.approx(120 / source.board.frame_period_s, abs=2)
    assert 0.0 < delay.min() and delay.max() < 0.1  # no accumulated drift over 2 minutes
    assert abs(np.polyfit(frame_end, delay, 1)[0]) < 1e-4
