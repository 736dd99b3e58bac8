"""End to end: the firmware's C board logic behind a real pty, read by SerialSource.

The C encoder built on this machine (``belt_host stream``) plays the board. Its bytes go
through a pseudo-terminal with line noise, one dropped byte and an unplug (the board
comes back reset), and are read by :class:`SerialSource` and decoded by the session's
belt decoder. A second test runs ``rapport-sync sim-serial`` as a process and reads it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from belt_host_build import build_belt_host
from test_serial_source import Recorder, connected_source

from rapport_sync.protocol.belt import (
    DeviceInfoFrame,
    FrameDecoder,
    SamplesFrame,
    SequenceGap,
    StatusFrame,
)
from rapport_sync.samples import BreathSamples, Chunk, DeviceEvent, DeviceEventKind
from rapport_sync.sources.serial import SerialSource

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX pseudo-terminals")
sim_serial = pytest.importorskip("rapport_sync.sources.sim_serial")
NOISE = b"\x13\x37\xff\x00\x42\x99"  # contains a 0x00: cuts a frame in two


@pytest.fixture(scope="module")
def belt_host(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_belt_host(tmp_path_factory.mktemp("belt_e2e"))


def relay(port: object, data: bytes, chunk: int = 256) -> None:
    """Write like a USB-serial link: small bursts, never all at once."""
    for i in range(0, len(data), chunk):
        port.write(data[i : i + chunk])  # type: ignore[attr-defined]
        time.sleep(0.001)


def test_c_board_through_pty_with_noise_dropped_byte_and_unplug(
    belt_host: Path, tmp_path: Path
) -> None:
    first = bytearray(subprocess.run([str(belt_host), "stream", "20"], capture_output=True,
                                     check=True, timeout=30).stdout)
    second = subprocess.run([str(belt_host), "stream", "4", "1", "2.0"],  # belt B pulled at 2 s
                            capture_output=True, check=True, timeout=30).stdout
    cut = len(first) // 3
    first[cut:cut] = NOISE  # line noise
    del first[2 * len(first) // 3]  # one dropped byte

    with connected_source(tmp_path / "ttyBELT", reset_wait_s=0.0) as (rec, source, port):
        relay(port, bytes(first))
        rec.wait_for(lambda: len(rec.payload()) >= len(first))
        port.unplug()
        rec.wait_for(lambda: DeviceEventKind.DISCONNECTED in rec.events())
        port.plug_in()  # the board boots again
        rec.wait_for(lambda: rec.events().count(DeviceEventKind.CONNECTED) == 2)
        relay(port, second)
        rec.wait_for(lambda: len(rec.payload()) >= len(first) + len(second))
    assert source.error is None
    assert rec.payload() == bytes(first) + second  # the source changes no byte

    # Protocol level: exactly the damaged frames are lost, the reset is not a gap.
    decoder = FrameDecoder()
    items = decoder.feed(rec.payload())
    gaps = [i for i in items if isinstance(i, SequenceGap)]
    assert len(gaps) == 2 and decoder.stats.frames_lost == 2
    assert decoder.stats.crc_errors + decoder.stats.malformed >= 2
    infos = [i for i in items if isinstance(i, DeviceInfoFrame)]
    assert [i.seq for i in infos].count(0) == 2  # two boots
    status = [i for i in items if isinstance(i, StatusFrame)]
    assert status[-1].belt_connected == (True, False)

    # Session level: the session's belt decoder turns the chunks into both people's samples.
    from rapport_sync.session.belt_decoder import BeltDecoder

    (info,) = source.devices
    chunks = [i for i in rec.items if isinstance(i, Chunk)]
    belt = BeltDecoder(info, chunks[0].host_time_ns)
    out = [d for c in chunks for d in belt.feed(c)]
    a = [d for d in out if isinstance(d, BreathSamples) and d.person == "a"]
    b = [d for d in out if isinstance(d, BreathSamples) and d.person == "b"]
    assert len(a) == len(b) == sum(isinstance(i, SamplesFrame) for i in items)
    for sa, sb in zip(a, b):  # one board, one clock: identical sample times
        assert np.array_equal(sa.time_s, sb.time_s)
    assert sum(isinstance(d, DeviceEvent) and d.kind is DeviceEventKind.GAP for d in out) == 2
    values_a = np.concatenate([s.value for s in a[: len(a) // 3]])
    assert np.ptp(values_a) == pytest.approx(1200, abs=10)  # the C board's ±600 counts
    # Belt B pulled: the board says so (and that the open input sits on the rail); the
    # session hears "unplugged", not "clipping", and B's samples are missing from then on.
    notes = [d.detail for d in out if isinstance(d, DeviceEvent)
             and d.kind is DeviceEventKind.STATUS and "person b" in d.detail]
    assert notes == ["belt of person b (channel 1) unplugged"]
    pulled = next(i for i, d in enumerate(out) if isinstance(d, DeviceEvent)
                  and d.detail in notes)
    after_b = [d for d in out[pulled:] if isinstance(d, BreathSamples) and d.person == "b"]
    after_a = [d for d in out[pulled:] if isinstance(d, BreathSamples) and d.person == "a"]
    assert len(after_b) >= 15 and all(np.isnan(d.value).all() for d in after_b)
    assert all(np.isfinite(d.value).all() for d in after_a)
    before_b = [d for d in out[:pulled] if isinstance(d, BreathSamples) and d.person == "b"]
    assert all(np.isfinite(d.value).all() for d in before_b)


def test_sim_serial_command_streams_the_protocol_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    link = tmp_path / "ttyVIRTUAL"
    proc = subprocess.Popen([sys.executable, "-m", "rapport_sync.cli", "sim-serial",
                             "--seed", "3", "--link", str(link)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first_line = proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert first_line == str(link)
        rec = Recorder()
        source = SerialSource(first_line, {0: "a", 1: "b"}, reset_wait_s=0.0)
        source.start(rec)
        time.sleep(2.5)
        source.stop()
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr
    assert not link.exists()  # the link is removed on exit

    decoder = FrameDecoder()
    items = decoder.feed(rec.payload())
    assert decoder.stats.crc_errors == decoder.stats.malformed == decoder.stats.frames_lost == 0
    samples = [i for i in items if isinstance(i, SamplesFrame)]
    # Paced in real time: about 10 frames of 5 samples a second over 2.5 s.
    assert 18 <= len(samples) <= 30
    assert all(s.sample_rate_mhz == 50_000 and s.n_channels == 2 for s in samples)
    assert any(isinstance(i, DeviceInfoFrame) for i in items)


def test_a_board_replugged_during_the_reset_wait_is_a_restart_not_the_past(
    tmp_path: Path,
) -> None:
    """Opening the port waits out the board's boot and discards what it sent meanwhile,
    its device-info frame with seq 0 included: the board's clock going back says it
    restarted, and its samples land when they arrive, not back on the old board's line."""
    from rapport_sync.session.belt_decoder import BeltDecoder
    from rapport_sync.sources.sim import VirtualBeltBoard

    def play(board: VirtualBeltBoard, port: object, seconds: float) -> None:
        start = time.monotonic()
        while True:  # in real time: the clock fit sees true arrival times
            board_s, data = board.next_frame_bytes()
            due_s = board.session_time_s(board_s)
            if due_s > seconds:
                return
            time.sleep(max(0.0, due_s - (time.monotonic() - start)))
            port.write(data)  # type: ignore[attr-defined]

    with connected_source(tmp_path / "ttyBELT", reset_wait_s=0.4) as (rec, source, port):
        play(VirtualBeltBoard(seed=1, boot_s=60.0), port, 2.0)  # up for a minute already
        port.unplug()
        rec.wait_for(lambda: DeviceEventKind.RECONNECTING in rec.events())
        port.plug_in()  # it boots at once ...
        second = VirtualBeltBoard(seed=2, boot_s=0.0)
        port.write(second.read_until(0.1))  # ... and its boot frames fall in the wait
        replugged_ns = time.monotonic_ns()
        rec.wait_for(lambda: rec.events().count(DeviceEventKind.CONNECTED) == 2)
        play(second, port, 2.0)
    assert source.error is None
    chunks = [i for i in rec.items if isinstance(i, Chunk)]
    items = FrameDecoder().feed(b"".join(c.payload for c in chunks))
    assert 0 not in [i.seq for i in items if isinstance(i, DeviceInfoFrame)][1:]  # discarded

    (info,) = source.devices
    belt = BeltDecoder(info, chunks[0].host_time_ns)
    out = [(c, d) for c in chunks for d in belt.feed(c)]
    events = [d.detail for _, d in out if isinstance(d, DeviceEvent)]
    assert sum(e.startswith("board restarted (its clock went back from 6") for e in events) == 1
    assert not [e for e in events if "frames lost" in e]  # a restart, not 60000 lost frames
    replugged_s = (replugged_ns - chunks[0].host_time_ns) / 1e9
    a = [(c, d) for c, d in out if isinstance(d, BreathSamples) and d.person == "a"]
    before = [d for c, d in a if c.host_time_ns < replugged_ns]
    after = [(c, d) for c, d in a if c.host_time_ns > replugged_ns]
    assert len(before) >= 15 and len(after) >= 10
    assert before[-1].time_s[-1] < replugged_s < after[0][1].time_s[0]
    for c, d in after:  # each frame's last sample just before the chunk that carried it
        lag_s = (c.host_time_ns - chunks[0].host_time_ns) / 1e9 - d.time_s[-1]
        assert -1e-9 <= lag_s < 0.05
