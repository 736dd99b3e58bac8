"""LSL inlet source and decoder on loopback with real pylsl outlets and inlets."""

from __future__ import annotations

import time
import uuid

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rapport_sync.errors import ConfigError, DecodeError, SourceError
from rapport_sync.protocol.lsl_chunk import encode_lsl_chunk, parse_lsl_chunk
from rapport_sync.samples import BreathSamples, Chunk, DeviceEvent, DeviceEventKind, HeartBeats
from rapport_sync.session.decoders import make_decoder
from rapport_sync.sources.base import MonotonicClock, SourceSpec, open_source
from rapport_sync.sources.lsl import parse_lsl_target

pylsl = pytest.importorskip("pylsl")
LOOPBACK_CFG = ("[multicast]\nResolveScope = machine\n[ports]\nIPv6 = disable\n"
                "[log]\nlevel = -2\n")


@pytest.fixture(scope="module", autouse=True)
def loopback_only():
    pylsl.set_config_content(LOOPBACK_CFG)  # no effect if liblsl already started


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"  # other test runs may share this machine


def outlet(name: str, type_: str = "Resp", channels: int = 1, rate: float = 50.0,
           unit: str = "a.u.") -> pylsl.StreamOutlet:
    info = pylsl.StreamInfo(name, type_, channels, rate, pylsl.cf_float32, name + "-sid")
    chans = info.desc().append_child("channels")
    for i in range(channels):
        ch = chans.append_child("channel")
        ch.append_child_value("label", f"ch{i}")
        ch.append_child_value("unit", unit)
    return pylsl.StreamOutlet(info)


def record(spec: str, push, persons=None, settle_s: float = 0.3):  # type: ignore[no-untyped-def]
    """Open the source named by ``spec``, run ``push()``, return (source, items, start_ns)."""
    clock = MonotonicClock()
    parsed = SourceSpec.parse(spec)
    source = open_source("lsl", parsed.target, persons or {None: "a"}, clock)
    items: list = []
    start_ns = clock.now_ns()
    source.start(items.append)
    time.sleep(settle_s)  # inlet connected and clock correction taken
    pushed = push()
    time.sleep(0.3)
    source.stop()
    assert source.error is None
    return source, items, start_ns, pushed


def decode(source, items, start_ns):  # type: ignore[no-untyped-def]
    decoder = make_decoder(source.devices[0], start_ns)
    out = []
    for item in items:
        out += decoder.feed(item) if isinstance(item, Chunk) else [item]
    return decoder, out


def test_breathing_stream_arrives_on_the_session_clock():
    name = unique("RespA")
    out = outlet(name, unit="mV")

    def push():  # type: ignore[no-untyped-def]
        host = []
        for i in range(60):
            host.append(time.monotonic_ns())
            out.push_sample([np.sin(2 * np.pi * 0.25 * i / 50)], pylsl.local_clock())
            time.sleep(0.01)
        return np.array(host)

    source, items, start_ns, host_ns = record(f"lsl:name={name}", push)
    info = source.devices[0]
    assert info.protocol == "lsl" and info.details["channel_units"] == ["mV"]
    decoder, out_items = decode(source, items, start_ns)
    samples = [i for i in out_items if isinstance(i, BreathSamples)]
    t = np.concatenate([s.time_s for s in samples])
    v = np.concatenate([s.value for s in samples])
    assert len(t) == 60 and all(s.person == "a" and s.kind == "belt" for s in samples)
    assert samples[0].rate_hz == 50.0
    # LSL stamps corrected and mapped: each sample lands where the host clock saw it pushed
    assert np.max(np.abs(t - (host_ns - start_ns) / 1e9)) < 0.005
    assert np.allclose(v, np.sin(2 * np.pi * 0.25 * np.arange(60) / 50), atol=1e-6)
    assert abs(decoder.clock_correction_s) < 0.01  # same machine: LSL measures ~0
    kinds = [i.kind for i in out_items if isinstance(i, DeviceEvent)]
    assert kinds[0] == DeviceEventKind.CONNECTED and kinds[-1] == DeviceEventKind.DISCONNECTED


def test_one_two_channel_stream_carries_both_people_and_gaps_stay_gaps():
    name = unique("RespAB")
    out = outlet(name, channels=2)

    def push():  # type: ignore[no-untyped-def]
        t0 = pylsl.local_clock()
        stamps = np.r_[np.arange(25), np.arange(75, 100)] / 50.0 + t0  # 1 s missing
        for k, ts in enumerate(stamps):
            out.push_sample([float(k), -float(k)], float(ts))
        return stamps

    source, items, start_ns, _ = record(f"lsl:name={name}", push, {"0": "a", "1": "b"})
    _, out_items = decode(source, items, start_ns)
    by_person = {p: np.concatenate([s.value for s in out_items
                                    if isinstance(s, BreathSamples) and s.person == p])
                 for p in "ab"}
    assert np.array_equal(by_person["a"], np.arange(50.0))
    assert np.array_equal(by_person["b"], -np.arange(50.0))
    gaps = [i for i in out_items if isinstance(i, DeviceEvent) and i.kind == DeviceEventKind.GAP]
    assert len(gaps) == 1 and "about 50 missing" in gaps[0].detail


def test_rr_stream_in_milliseconds_gives_heartbeats():
    name = unique("RR")
    out = outlet(name, type_="RR", rate=pylsl.IRREGULAR_RATE, unit="ms")

    def push():  # type: ignore[no-untyped-def]
        for rr in (800.0, 820.0, 790.0):
            out.push_sample([rr], pylsl.local_clock())

    source, items, start_ns, _ = record(f"lsl:name={name}", push)
    _, out_items = decode(source, items, start_ns)
    beats = [i for i in out_items if isinstance(i, HeartBeats)]
    assert np.allclose(np.concatenate([b.rr_s for b in beats]), [0.8, 0.82, 0.79])


def test_a_missing_stream_is_one_clear_error():
    with pytest.raises(SourceError, match="no LSL stream with name='nobody"):
        open_source("lsl", f"name=nobody-{uuid.uuid4().hex[:6]},timeout=0.2", {None: "a"},
                    MonotonicClock())


@pytest.mark.parametrize("target", ["", "name", "colour=red", "name=a'b", "name=x,kind=ecg"])
def test_bad_targets_are_config_errors(target):
    with pytest.raises(ConfigError):
        parse_lsl_target(target)


def test_chunk_round_trip_and_damage():
    ts = np.array([1.0, 1.02, 1.04])
    values = np.arange(6.0).reshape(3, 2)
    payload = encode_lsl_chunk(ts, values, -2.5e-5, 1.05)
    back = parse_lsl_chunk(payload)
    assert np.array_equal(back.timestamps_s, ts) and np.array_equal(back.values, values)
    assert (back.time_correction_s, back.local_clock_s) == (-2.5e-5, 1.05)
    for damaged in (payload[:-1], payload + b"\0", b"XX" + payload[2:], payload[:10]):
        with pytest.raises(DecodeError):
            parse_lsl_chunk(damaged)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_give_a_chunk_or_decode_error(data):
    try:
        chunk = parse_lsl_chunk(data)
    except DecodeError:
        return
    assert encode_lsl_chunk(chunk.timestamps_s, chunk.values, chunk.time_correction_s,
                            chunk.local_clock_s) == data


def test_a_session_records_two_lsl_streams_and_finds_their_coupling(tmp_path):
    from rapport_sync.dsp.simulate import CouplingScript, simulate_dyad
    from rapport_sync.session.live import LiveSession
    from rapport_sync.session.replay import replay_session

    sim = simulate_dyad(180.0, fs=50.0, seed=2, script=CouplingScript.constant(1.0, 1.5))
    names = {p: unique(f"Resp{p.upper()}") for p in "ab"}
    outlets = {p: outlet(names[p]) for p in "ab"}
    session = LiveSession({p: SourceSpec.parse(f"lsl:name={names[p]}") for p in "ab"},
                          tmp_path / "lsl.rapport", clock=MonotonicClock())
    session.start()
    t0 = pylsl.local_clock() + 0.5
    step = 25  # 0.5 s of data every 10 ms: 180 s in a few seconds, the streams interleaved
    for i in range(0, len(sim.time_s), step):
        for p, block in (("a", sim.a), ("b", sim.b)):
            outlets[p].push_chunk(block.belt[i:i + step, None].astype(np.float32),
                                  (t0 + sim.time_s[i:i + step]).tolist())
        time.sleep(0.01)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        snap = session.snapshot()
        if all(len(x.raw) and x.raw[-1, 0] > 179 for x in snap.people.values()):
            break
        time.sleep(0.1)
    session.stop()
    assert session.error is None and session.processing_errors == 0
    replay = replay_session(session.path)
    late = [s for s in replay.sync_history if s.time_s > 120]  # windows past the warm-up
    assert late and np.median([s.lag_plv for s in late]) > 0.8
    assert np.median([s.lag_s for s in late]) == pytest.approx(1.5, abs=0.6)  # A leads
    for p in "ab":
        assert len(replay.people[p].raw_value) == len(sim.time_s)
        assert replay.clock_fits[f"lsl:{names[p]}:{names[p]}-sid"].residual_s < 0.01


@pytest.mark.parametrize("target, message", [
    ("name=x,timeout=abc", "timeout must be a number"),
    ("name=x,timeout=-1", "timeout must be a number"),
    ("name=x,kind=sonar", "kind must be one of"),
    ("timeout=2", "needs a stream to look for"),
])
def test_bad_lsl_targets_are_one_clear_error(target, message):
    from rapport_sync.errors import ConfigError
    from rapport_sync.sources.lsl import parse_lsl_target
    with pytest.raises(ConfigError, match=message):
        parse_lsl_target(target)
    assert parse_lsl_target("name=x,kind=RR")[1]["kind"] == "rr"  # case does not matter
