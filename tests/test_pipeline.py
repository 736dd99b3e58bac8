"""Grid resampling and ring buffers of the session pipeline."""

import numpy as np
import pytest

from rapport_sync.dsp.simulate import PersonParams, simulate_dyad
from rapport_sync.samples import BreathSamples, SignalKind
from rapport_sync.session.pipeline import DyadPipeline, GridResampler, RingBuffer


def test_resampler_is_causal_and_exact_on_lines():
    r = GridResampler(fs=25.0)
    t = np.arange(0.013, 4.0, 1 / 64)  # 64 Hz samples, not on the grid
    got_t, got_v = [], []
    for lo in range(0, len(t), 7):  # arbitrary chunks
        first, v = r.push(t[lo:lo + 7], 3.0 * t[lo:lo + 7] + 1.0)
        assert first / 25.0 >= (t[lo - 1] if lo else 0.0) - 1e-9 or len(v) == 0
        got_t.append((first + np.arange(len(v))) / 25.0)
        got_v.append(v)
        # nothing is produced past the newest sample
        if len(v):
            assert got_t[-1][-1] <= t[min(lo + 6, len(t) - 1)] + 1e-9
    tt, vv = np.concatenate(got_t), np.concatenate(got_v)
    assert np.allclose(np.diff(tt), 0.04)
    assert np.allclose(vv, 3.0 * tt + 1.0)


def test_gaps_stay_gaps():
    r = GridResampler(fs=25.0, max_gap_s=0.5)
    first, v = r.push(np.array([0.0, 0.04, 0.08, 2.0, 2.04]), np.ones(5))
    t = (first + np.arange(len(v))) / 25.0
    inside = (t > 0.08 + 1e-9) & (t < 2.0 - 1e-9)
    assert np.all(np.isnan(v[inside])) and np.all(v[~inside] == 1.0)


def test_three_axis_values_and_out_of_order_samples():
    r = GridResampler(fs=10.0)
    t = np.array([0.0, 0.1, 0.2, 0.15, 0.3])
    v = np.column_stack([t, 2 * t, -t])
    first, out = r.push(t, v)
    assert out.shape[1] == 3
    assert first == 0 and len(out) == 4  # ticks 0.0 .. 0.3; the late 0.15 sample is dropped
    assert np.allclose(out[:, 0], [0.0, 0.1, 0.2, 0.3]) and np.allclose(out[:, 1], 2 * out[:, 0])


def test_pad_skips_ticks():
    r = GridResampler(fs=10.0)
    r.push(np.array([0.0, 0.5]), np.zeros(2))
    assert r.next_tick == 6
    assert r.pad_to(20) == 14 and r.next_tick == 20
    first, out = r.push(np.array([2.5]), np.ones(1))
    assert first == 20 and len(out) == 6


def test_ring_buffer_keeps_the_newest_rows_in_order():
    ring = RingBuffer(capacity=10, n_columns=1)
    for lo in range(0, 35, 4):
        t = np.arange(lo, lo + 4, dtype=float)
        ring.extend(t, t * 2)
    view = ring.view()
    assert len(ring) == 10
    assert np.array_equal(view[:, 0], np.arange(26, 36))
    assert np.array_equal(view[:, 1], 2 * np.arange(26, 36))


def test_ring_buffer_chunk_larger_than_capacity():
    ring = RingBuffer(capacity=5, n_columns=1)
    t = np.arange(12, dtype=float)
    ring.extend(t, t)
    assert np.array_equal(ring.view()[:, 0], np.arange(7, 12))
    with pytest.raises(ValueError):
        ring.extend(np.arange(3.0), np.arange(4.0))


def test_ring_buffer_view_since_copies_only_the_newest_rows():
    ring = RingBuffer(capacity=10, n_columns=1)
    for lo in range(0, 37, 3):  # wrapped several times
        t = np.arange(lo, lo + 3, dtype=float)
        ring.extend(t, -t)
    full = ring.view()
    for since in (-1.0, 28.0, 30.5, 33.0, 38.0, 39.0, 100.0):
        got = ring.view(since)
        assert np.array_equal(got, full[full[:, 0] >= since])


def test_batch_interpolation_follows_the_streaming_rule():
    """dsp.resample (offline, exports) and the live GridResampler agree, gaps included."""
    from rapport_sync.dsp.resample import interp_with_gaps
    rng = np.random.default_rng(3)
    t = np.cumsum(rng.uniform(0.01, 0.03, 600))
    t[300:] += 2.0  # a 2-s gap
    v = np.sin(t)
    r = GridResampler(fs=25.0, max_gap_s=0.5)
    parts = [r.push(t[i:i + 7], v[i:i + 7]) for i in range(0, len(t), 7)]
    first = parts[0][0]
    live = np.concatenate([p[1] for p in parts])
    grid = (first + np.arange(len(live))) / 25.0
    batch = interp_with_gaps(grid, t, v, 0.5)
    assert np.isnan(batch).sum() == np.isnan(live).sum() > 40
    assert np.allclose(batch, live, equal_nan=True)


def test_every_synchrony_window_is_kept_whatever_the_chunk_size():
    """A long chunk (a replay, a burst after a stall) completes several windows at once;
    each one goes into the session's history, as with small live chunks."""
    fs = 25.0
    t = np.arange(0, 200, 1 / fs)
    xa, xb = np.sin(2 * np.pi * 0.25 * t), np.sin(2 * np.pi * 0.25 * t + 0.5)
    times = {}
    for chunk_s in (0.2, 5.0):
        pipe = DyadPipeline(window_s=30.0)
        n = int(chunk_s * fs)
        for i in range(0, len(t), n):
            for person, x in (("a", xa), ("b", xb)):
                pipe.feed(BreathSamples(person, SignalKind.BELT, t[i:i + n], x[i:i + n], fs))
        times[chunk_s] = [s.time_s for s in pipe.sync_history]
    assert len(times[0.2]) > 100
    assert np.diff(times[5.0]) == pytest.approx(1.0)  # one window a second, none skipped
    assert np.isin(np.round(times[5.0], 6), np.round(times[0.2], 6)).all()


def test_a_batched_replay_gives_the_numbers_of_a_chunk_by_chunk_replay(gapped_session,
                                                                        monkeypatch):
    """Replay hands the pipeline breathing in 1-s blocks (fewer calls); a session with a
    10-s link drop of B, markers and beats gives the same traces and windows as feeding
    every stored chunk on its own, the way the live session did."""
    from rapport_sync.session import replay

    runs = {}
    for batch_s in (0.0, replay.REPLAY_BATCH_S):
        monkeypatch.setattr(replay, "REPLAY_BATCH_S", batch_s)
        runs[batch_s] = replay.replay_session(gapped_session.path)
    one, blocks = runs[0.0], runs[replay.REPLAY_BATCH_S]
    for p in ("a", "b"):
        x, y = one.people[p], blocks.people[p]
        assert np.array_equal(x.grid_time_s, y.grid_time_s)
        assert np.isnan(x.phase).sum() == np.isnan(y.phase).sum() > 25 * 10  # B's gap is in
        assert np.allclose(x.phase, y.phase, atol=1e-9, equal_nan=True)
        assert np.allclose(x.signal, y.signal, atol=1e-9, equal_nan=True)
    assert len(one.sync_history) == len(blocks.sync_history) > 100
    for s1, s2 in zip(one.sync_history, blocks.sync_history):
        assert s1.time_s == s2.time_s and s1.leader == s2.leader
        assert np.allclose([s1.plv, s1.lag_s, s1.chance_plv95, s1.rate_a_bpm, s1.rate_b_bpm],
                           [s2.plv, s2.lag_s, s2.chance_plv95, s2.rate_a_bpm, s2.rate_b_bpm],
                           atol=1e-9, equal_nan=True)


def test_window_times_are_session_times_when_one_person_connects_late():
    """B's strap comes 10 s after A's; at 100 s B turns to anti-phase. With a 60-s window
    the alignment changes sign when half the window is anti-phase, at 130 s of session
    time (not 120 s, as it would if windows counted from B's arrival), give or take the
    breath or two the live phase needs to follow B's reversal."""
    fs = 25.0
    rec = simulate_dyad(200.0, fs, seed=3)  # breathing as it comes, not a pure sine
    t, xa = rec.time_s, rec.a.belt.astype(float)
    xb = np.where(t < 100, xa, 2 * np.median(xa) - xa)
    pipe = DyadPipeline(window_s=60.0)
    for i in range(0, len(t), 5):
        pipe.feed(BreathSamples("a", SignalKind.BELT, t[i:i + 5], xa[i:i + 5], fs))
        late = t[i:i + 5] >= 10.0
        if late.any():
            pipe.feed(BreathSamples("b", SignalKind.BELT, t[i:i + 5][late], xb[i:i + 5][late], fs))
    times = np.array([s.time_s for s in pipe.sync_history])
    alignment = np.array([s.alignment for s in pipe.sync_history])
    assert np.allclose(times, np.round(times))  # on whole seconds of session time
    flipped = times[np.flatnonzero(alignment < 0)[0]]
    assert flipped == pytest.approx(131.0, abs=2.0)


def test_batching_keeps_a_partner_who_breathes_by_heart_beats_in_step():
    """A on a belt, B with a heart-rate strap only (breathing from RR, beats notified once a
    second, some missed so an RR is 2 s): batched feeding gives the numbers of feeding
    each item as it came, with B's breathing never filled in as silent too early."""
    from rapport_sync.samples import HeartBeats

    fs = 50.0
    rec = simulate_dyad(300.0, fs=fs, seed=1, b=PersonParams(heart_rate_bpm=55.0))
    t = rec.time_s
    items = [(t[i + 4] + 0.01, BreathSamples("a", SignalKind.BELT, t[i:i + 5],
                                             rec.a.belt[i:i + 5], fs))
             for i in range(0, len(t) - 4, 5)]
    beats = rec.b.beat_times_s[np.random.default_rng(5).random(len(rec.b.beat_times_s)) > 0.05]
    rr = np.r_[np.nan, np.diff(beats)]
    for k in np.arange(1.0, 300.0):
        sel = (beats > k - 1) & (beats <= k)
        if sel.any():
            items.append((k + 0.02, HeartBeats("b", beats[sel], rr[sel])))
    items.sort(key=lambda pair: pair[0])
    runs = []
    for batch_s in (0.0, 1.0):
        pipe = DyadPipeline(window_s=60.0, record=True, batch_s=batch_s)
        for _, item in items:
            pipe.feed(item)
        pipe.flush()
        runs.append(pipe)
    live, batched = runs
    assert live.people["b"].kind == batched.people["b"].kind == SignalKind.RR_DERIVED
    for p in ("a", "b"):
        x, y = (np.concatenate([part[2] for part in r.people[p].recorder]) for r in runs)
        assert len(x) == len(y) and np.isnan(x).sum() == np.isnan(y).sum()
        assert np.allclose(x, y, atol=1e-9, equal_nan=True)
    assert len(live.sync_history) == len(batched.sync_history) > 200
    assert all(np.allclose([s1.plv, s1.lag_plv], [s2.plv, s2.lag_plv], atol=1e-9, equal_nan=True)
               for s1, s2 in zip(live.sync_history, batched.sync_history))


def test_a_failing_piece_of_a_batch_does_not_take_the_others_with_it(monkeypatch):
    fs = 25.0
    t = np.arange(0, 4, 1 / fs)
    pipe = DyadPipeline(batch_s=10.0, record=True)
    for i in range(0, len(t), 5):
        for p in ("b", "a"):
            pipe.feed(BreathSamples(p, SignalKind.BELT, t[i:i + 5], np.sin(t[i:i + 5]), fs))
    assert pipe.people["a"].recorder == []  # all still held

    def broken(first, x):
        raise RuntimeError("analysis bug")

    monkeypatch.setattr(pipe.people["b"], "grid", broken)
    from rapport_sync.samples import HeartBeats

    with pytest.raises(RuntimeError, match="analysis bug"):  # B's first beat: flush, then it
        pipe.feed(HeartBeats("b", np.array([4.0]), np.array([0.9])))
    assert sum(len(part[1]) for part in pipe.people["a"].recorder) >= 3.9 * fs  # A's block went in
    assert pipe.people["b"].heart.state.n_beats == 1  # and so did the beat that flushed



@pytest.mark.parametrize("rate_bpm", [6.0, 20.0])
def test_live_rsa_is_the_swing_of_slow_and_fast_breathers(rate_bpm):
    """An 80-ms sinusoidal RSA driven by the simulated person's own breathing phase, read
    live: the heart tracker's band is centred on the breathing tracker's rate as known at
    each window's end, so a paced 6/min breather and a fast 20/min one read within 5 % in
    median and 10 % in every window once the rate and a whole window are known (the fixed
    band read 42 and 74 ms). A replay's 1-s blocks give the same readings as live chunks."""
    from benchmarks.rsa_live import live_items, live_rsa

    items = live_items(rate_bpm, 300.0)
    live, pipe = live_rsa(items)
    assert pipe.people["a"].breath.rate_bpm == pytest.approx(rate_bpm, rel=0.15)
    assert len(live) >= 30  # a new window every 5 s of beats
    assert np.median(live) == pytest.approx(80.0, rel=0.05)
    assert np.all(np.abs(np.array(live) - 80.0) < 8.0), live
    assert live_rsa(items, batch_s=1.0)[0] == live
