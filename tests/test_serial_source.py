"""SerialSource on real pseudo-terminals: bytes pass untouched, unplug and replug are events.

A :class:`VirtualSerialPort` (a pty with a stable symlink) stands in for the board's USB
port: closing it is an unplug, a new pty behind the same link is the board coming back.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rapport_sync.errors import ConfigError, SourceError
from rapport_sync.protocol.belt import FrameDecoder, SamplesFrame, encode_frame
from rapport_sync.samples import Chunk, DeviceEvent, DeviceEventKind, PayloadKind
from rapport_sync.sources.base import MonotonicClock, SourceSpec, open_source
from rapport_sync.sources.serial import SerialSource, open_serial, parse_channels

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX pseudo-terminals")
sim_serial = pytest.importorskip("rapport_sync.sources.sim_serial")


class Recorder:
    """Collects what a source emits, from its thread."""

    def __init__(self) -> None:
        self.items: list[Chunk | DeviceEvent] = []
        self._lock = threading.Lock()

    def __call__(self, item: Chunk | DeviceEvent) -> None:
        with self._lock:
            self.items.append(item)

    def payload(self) -> bytes:
        with self._lock:
            return b"".join(i.payload for i in self.items if isinstance(i, Chunk))

    def events(self) -> list[DeviceEventKind]:
        with self._lock:
            return [i.kind for i in self.items if isinstance(i, DeviceEvent)]

    def wait_for(self, condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            assert time.monotonic() < deadline, f"timed out; events so far: {self.events()}"
            time.sleep(0.01)


class BoardPort:
    """The board's end of the USB port at ``link``: :meth:`unplug` closes its pty (the
    board loses power), :meth:`plug_in` puts a new pty behind the link (the board is back)."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self._pty: sim_serial.VirtualSerialPort | None = None
        self.plug_in()

    def plug_in(self) -> None:
        self._pty = sim_serial.VirtualSerialPort(self.link)

    def unplug(self) -> None:
        if self._pty is not None:  # once: a closed descriptor's number may be reused
            self._pty.close()
            self._pty = None

    def write(self, data: bytes) -> int:
        assert self._pty is not None, "the board is unplugged"
        return self._pty.write(data)


@contextlib.contextmanager
def connected_source(link: Path, reset_wait_s: float
                     ) -> Iterator[tuple[Recorder, SerialSource, BoardPort]]:
    """A two-belt :class:`SerialSource` reading a board plugged in at ``link``, started
    and connected: its recorder, the source and the board's port. After the block the
    source is stopped and the board unplugged."""
    rec = Recorder()
    source = SerialSource(str(link), {0: "a", 1: "b"}, reset_wait_s=reset_wait_s,
                          reopen_interval_s=0.05)
    port = BoardPort(link)
    try:
        source.start(rec)
        rec.wait_for(lambda: DeviceEventKind.CONNECTED in rec.events())
        yield rec, source, port
    finally:
        source.stop()
        port.unplug()


def frames(seq0: int, n: int) -> bytes:
    return b"".join(encode_frame(SamplesFrame(seq0 + i, 100_000 * (seq0 + i), 50_000,
                                              ((i, -i),) * 5)) for i in range(n))


@pytest.fixture
def link(tmp_path: Path) -> Path:
    return tmp_path / "ttyBELT0"


def test_channels_map_to_persons_and_bad_ones_are_one_line_errors() -> None:
    assert parse_channels({"0": "a", "1": "b"}) == {0: "a", 1: "b"}
    assert parse_channels({"1": "a", "0": "b"}) == {1: "a", 0: "b"}  # swapped seats
    assert parse_channels({None: "b"}) == {0: "b"}
    for bad in ({"x": "a"}, {"8": "a"}, {"0": "a", None: "b"}, {None: "a", "0": "b"}, {}):
        with pytest.raises(ConfigError):
            parse_channels(bad)


def test_registry_opens_one_source_for_both_people(link: Path) -> None:
    spec = SourceSpec.parse(f"serial:{link}#1")
    assert (spec.backend, spec.target, spec.channel) == ("serial", str(link), "1")
    with pytest.raises(SourceError, match="does not exist"):  # said before any file exists
        open_source("serial", str(link), {"0": "a", "1": "b"}, MonotonicClock())
    with sim_serial.VirtualSerialPort(link):
        source = open_source("serial", str(link), {"0": "a", "1": "b"}, MonotonicClock())
    assert isinstance(source, SerialSource)
    (info,) = source.devices
    assert info.protocol == "belt" and dict(info.persons) == {0: "a", 1: "b"}
    assert source.reset_wait_s == 2.0  # a real path may reset the board on open
    assert open_serial("loop://", {None: "a"}, MonotonicClock()).reset_wait_s == 0.0


def test_bytes_arrive_untouched_stamped_in_order(link: Path) -> None:
    with connected_source(link, reset_wait_s=0.0) as (rec, source, port):
        sent = frames(0, 40) + bytes(range(256))  # every byte value, including 0x0d, 0x0a
        for i in range(0, len(sent), 97):
            port.write(sent[i : i + 97])
            time.sleep(0.002)
        rec.wait_for(lambda: len(rec.payload()) >= len(sent))
    assert not source.running and source.error is None
    assert rec.payload() == sent
    chunks = [i for i in rec.items if isinstance(i, Chunk)]
    assert all(c.kind is PayloadKind.BELT and c.device == f"serial:{link}" for c in chunks)
    stamps = [c.host_time_ns for c in chunks]
    assert stamps == sorted(stamps)


def test_waits_out_the_board_reset_and_discards_boot_noise(link: Path) -> None:
    with sim_serial.VirtualSerialPort(link) as port:
        source = SerialSource(str(link), {0: "a"}, reset_wait_s=0.3)
        rec = Recorder()
        source.start(rec)
        time.sleep(0.1)
        port.write(b"ets Jun  8 2016 00:22:57\r\nrst:0x1 (POWERON_RESET)\r\n")  # boot banner
        rec.wait_for(lambda: DeviceEventKind.CONNECTED in rec.events())
        port.write(frames(0, 3))
        rec.wait_for(lambda: len(rec.payload()) >= len(frames(0, 3)))
        source.stop()
    assert rec.payload() == frames(0, 3)


def test_unplug_is_an_event_and_the_port_is_reopened_when_it_returns(link: Path) -> None:
    with connected_source(link, reset_wait_s=0.0) as (rec, source, port):
        port.write(frames(0, 10))
        rec.wait_for(lambda: len(rec.payload()) >= len(frames(0, 10)))
        port.unplug()
        rec.wait_for(lambda: DeviceEventKind.RECONNECTING in rec.events())
        time.sleep(0.2)  # a few failed attempts while the port is gone
        port.plug_in()  # a new pty
        rec.wait_for(lambda: rec.events().count(DeviceEventKind.CONNECTED) == 2)
        port.write(frames(10, 10))
        rec.wait_for(lambda: len(rec.payload()) >= len(frames(0, 20)))
    events = rec.events()
    assert events[0] is DeviceEventKind.CONNECTED
    assert events[1] is DeviceEventKind.DISCONNECTED
    assert set(events[2:-1]) == {DeviceEventKind.RECONNECTING} and len(events[2:-1]) >= 2
    assert events[-1] is DeviceEventKind.CONNECTED
    assert source.reconnects == 1 and source.error is None
    decoder = FrameDecoder()
    decoded = decoder.feed(rec.payload())
    assert [f.seq for f in decoded if isinstance(f, SamplesFrame)] == list(range(20))


def test_a_port_that_does_not_exist_is_a_source_error(tmp_path: Path) -> None:
    source = SerialSource(str(tmp_path / "no-such-port"), {0: "a"}, reset_wait_s=0.0)
    source.start(Recorder())
    source.stop()
    assert isinstance(source.error, SourceError)
    assert "no-such-port" in str(source.error) and source.error.__cause__ is not None


def test_pyserial_url_loop_is_accepted() -> None:
    source = open_serial("loop://", {"0": "a", "1": "b"}, MonotonicClock())
    rec = Recorder()
    source.start(rec)
    rec.wait_for(lambda: DeviceEventKind.CONNECTED in rec.events())
    source.stop()
    assert source.error is None and not source.running


def test_stop_returns_promptly_while_waiting_for_a_board_reset(link: Path) -> None:
    with sim_serial.VirtualSerialPort(link):
        source = SerialSource(str(link), {0: "a"}, reset_wait_s=30.0)
        source.start(Recorder())
        time.sleep(0.05)
        t0 = time.monotonic()
        source.stop()
        assert time.monotonic() - t0 < 1.0 and not source.running
