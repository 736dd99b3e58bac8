"""StrapDecoder on hand-made chunks: clock mapping, beat reconstruction, gaps, bad bytes."""

from __future__ import annotations

import numpy as np
import pytest

from rapport_sync.protocol.heart_rate import HeartRateMeasurement, encode_heart_rate
from rapport_sync.protocol.pmd_data import H10_UNSET_CLOCK_NS, encode_acc
from rapport_sync.samples import BreathSamples, Chunk, DeviceEvent, DeviceEventKind, HeartBeats
from rapport_sync.samples import PayloadKind as K
from rapport_sync.session.strap_decoder import BeatClock, StrapDecoder
from rapport_sync.sources.base import DeviceInfo

START_NS = 5_000_000_000
INFO = DeviceInfo("ble:X", "strap", {0: "b"}, "", {"acc_rate_hz": 50})


def chunk(kind, payload, host_s):
    return Chunk("ble:X", START_NS + int(host_s * 1e9), kind, payload)


def acc_frames(n_frames, drift_ppm=50.0, delay_s=lambda i: 0.02 + 0.03 * (i % 4)):
    """36-sample frames at 50 Hz; sample k happens at session time k/50."""
    for i in range(n_frames):
        k_last = 36 * (i + 1) - 1
        t_last = k_last / 50
        device = H10_UNSET_CLOCK_NS + int((t_last + 100.0) * (1 + drift_ppm * 1e-6) * 1e9)
        mg = np.column_stack([np.arange(36), np.zeros(36), np.full(36, 1000)]) + 36 * i
        yield chunk(K.PMD_DATA, encode_acc(device, mg), t_last + delay_s(i))


def test_acc_samples_get_their_true_times_despite_batching_and_drift():
    dec = StrapDecoder(INFO, START_NS)
    out = [x for c in acc_frames(100) for x in dec.feed(c)]
    samples = [x for x in out if isinstance(x, BreathSamples)]
    assert len(samples) == 100 and all(s.person == "b" and s.rate_hz == 50 for s in samples)
    t = np.concatenate([s.time_s for s in samples])
    # Samples that a refit moved behind already-delivered ones are dropped (warm-up only).
    assert 3600 - 36 <= len(t) <= 3600 and np.all(np.diff(t) > 0)
    settled = t[t > 7.2]  # after the first few frames the envelope holds
    late = settled - np.round((settled - 0.02) * 50) / 50
    assert np.all(late > 0.015) and np.all(late < 0.025)  # the smallest delay is 20 ms


def test_a_gap_and_a_clock_reset_are_reported_and_refitted():
    dec = StrapDecoder(INFO, START_NS)
    frames = list(acc_frames(30))
    out = [x for c in frames[:10] + frames[15:] for x in dec.feed(c)]
    gaps = [e for e in out if isinstance(e, DeviceEvent) and e.kind is DeviceEventKind.GAP]
    assert len(gaps) == 1 and "missing" in gaps[0].detail
    back = encode_acc(H10_UNSET_CLOCK_NS + 1_000_000_000, np.zeros((36, 3)))
    out = dec.feed(chunk(K.PMD_DATA, back, 30.0))
    assert [e.kind for e in out if isinstance(e, DeviceEvent)] == [DeviceEventKind.GAP]


def test_a_notification_delivered_twice_is_one_frame():
    """The same ACC bytes arriving again 30 ms later (a BLE stack repeating a notification):
    no sample is added and the clock is not refitted (it read "device clock went back",
    reset the fit and added a 2161st sample to 2160)."""
    dec = StrapDecoder(INFO, START_NS)
    out = []
    for i, c in enumerate(acc_frames(60)):
        out += dec.feed(c)
        if i == 40:
            out += dec.feed(Chunk(c.device, c.host_time_ns + 30_000_000, c.kind, c.payload))
    assert not [e for e in out if isinstance(e, DeviceEvent)]
    t = np.concatenate([s.time_s for s in out if isinstance(s, BreathSamples)])
    assert len(t) == 60 * 36 and np.all(np.diff(t) > 0)


def test_beats_from_batched_rr_land_on_the_true_beats():
    rng = np.random.default_rng(1)
    rr_true = 0.8 + 0.05 * np.sin(np.arange(200) / 3)
    beats_true = 0.5 + np.cumsum(rr_true)
    dec = StrapDecoder(INFO, START_NS)
    got = []
    sent = 0
    for k in range(1, 160):  # one notification per second, beats reported 0.1-0.6 s late
        t = float(k)
        ready = np.searchsorted(beats_true, t - 0.1 - rng.uniform(0, 0.5))
        rr = tuple(round(v * 1024) for v in rr_true[sent:ready])
        sent = ready
        hrm = encode_heart_rate(HeartRateMeasurement(75, rr_1024=rr, rr_present=True))
        got += [x for x in dec.feed(chunk(K.HEART_RATE, hrm, t)) if isinstance(x, HeartBeats)]
    t = np.concatenate([g.time_s for g in got])
    assert len(t) == sent and np.all(np.diff(t) > 0.5)
    err = t[20:] - beats_true[20:sent]
    # Never earlier than the true beat plus the 0.1 s minimum report delay, and a steady lag.
    assert np.all(err >= 0.09) and np.all(err < 0.45) and np.std(err) < 0.06


def test_beat_clock_starts_a_new_segment_after_lost_notifications():
    clock = BeatClock()
    clock.beats(np.array([1.0, 1.0]), 10.0)
    clock.beats(np.array([1.0]), 11.0)
    assert clock.segments == 1
    t = clock.beats(np.array([1.0]), 30.0)  # 19 s passed for 1 s of RR
    assert clock.segments == 2 and t[0] == 30.0


def test_malformed_and_foreign_chunks_give_error_events():
    dec = StrapDecoder(INFO, START_NS)
    for kind, payload in [
        (K.PMD_DATA, b"\x02\x00"),
        (K.HEART_RATE, b""),
        (K.BATTERY, b"\xff"),
        (K.PMD_CONTROL, b"\x77"),
        (K.BELT, b"\x00"),
    ]:
        (event,) = dec.feed(chunk(kind, payload, 1.0))
        assert isinstance(event, DeviceEvent) and event.kind is DeviceEventKind.ERROR
    assert dec.errors == 5


def test_a_pmd_time_stamp_beyond_int64_is_an_error_event_and_decoding_goes_on():
    dec = StrapDecoder(INFO, START_NS)
    frames = list(acc_frames(3))
    assert isinstance(dec.feed(frames[0])[0], BreathSamples)
    (event,) = dec.feed(chunk(K.PMD_DATA, encode_acc(2**63, np.zeros((36, 3))), 0.9))
    assert event.kind is DeviceEventKind.ERROR and "past the year 2292" in event.detail
    (good,) = dec.feed(frames[1])
    assert isinstance(good, BreathSamples) and good.value[:, 0].tolist() == list(range(36, 72))
    assert good.time_s[0] - 36 / 50 == pytest.approx(0.02, abs=1e-3)  # sample 36 at 0.72 s


def test_control_point_and_battery_status():
    dec = StrapDecoder(INFO, START_NS)
    (stopped,) = dec.feed(chunk(K.PMD_CONTROL, bytes.fromhex("01 02"), 1.0))
    assert stopped.kind is DeviceEventKind.STATUS and "ACC" in stopped.detail
    (running,) = dec.feed(chunk(K.PMD_CONTROL, bytes.fromhex("F0 02 02 06 00"), 1.0))
    assert "ALREADY_IN_STATE" in running.detail
    assert dec.feed(chunk(K.PMD_CONTROL, bytes.fromhex("F0 02 02 00 00 01"), 1.0)) == []
    (battery,) = dec.feed(chunk(K.BATTERY, b"\x57", 1.0))
    assert battery.detail == "battery 87 %"
