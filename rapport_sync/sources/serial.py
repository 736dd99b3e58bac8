"""Belt boards on a serial port (pyserial): the ``serial`` source backend.

One board carries both people's belts, sampled by one timer, so one :class:`SerialSource`
serves both: its bytes go to the session untouched (decoding and the mapping of the
board's sample clock to the host clock happen in the session's belt decoder), and the
two people's samples share the board's clock exactly.

The source opens a port by path (``/dev/ttyACM0``, ``COM3``) or by pyserial URL
(``loop://``, ``socket://host:port``, ``rfc2217://...``), waits out the reset most boards
do when the port is opened, then reads on its own thread. If the board is unplugged it
reports :attr:`~rapport_sync.samples.DeviceEventKind.DISCONNECTED`, tries to reopen the
same path (``RECONNECTING``) until the port comes back (``CONNECTED``), and carries on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import serial

from ..errors import ConfigError, SourceError
from ..samples import Chunk, DeviceEvent, DeviceEventKind, PayloadKind
from .base import Clock, DeviceInfo, Emit, Source

__all__ = ["DEFAULT_BAUDRATE", "SerialSource", "open_serial", "parse_channels"]

DEFAULT_BAUDRATE = 115_200
MAX_CHANNEL = 7  # the belt protocol carries up to 8 channels
PortFactory = Callable[..., Any]  # serial.serial_for_url or a stand-in with its signature


def parse_channels(persons: Mapping[str | None, str]) -> dict[int, str]:
    """Map channel strings from the source text to belt channel numbers.

    ``{"0": "a", "1": "b"}`` → ``{0: "a", 1: "b"}``; a person given without a channel
    (``serial:/dev/ttyACM0``) reads channel 0.

    Raises
    ------
    ConfigError
        If a channel is not a number 0..7, two people share a channel, or more than one
        person is given without a channel.
    """
    channels: dict[int, str] = {}
    for text, person in persons.items():
        if text is None:
            channel = 0
        else:
            try:
                channel = int(text)
            except ValueError:
                raise ConfigError(f"serial channel {text!r} is not a number; use #0 or #1"
                                  ) from None
            if not 0 <= channel <= MAX_CHANNEL:
                raise ConfigError(f"serial channel {channel} is out of range 0..{MAX_CHANNEL}")
        if channel in channels:
            raise ConfigError(f"persons {channels[channel]!r} and {person!r} both read belt "
                              f"channel {channel}; give each one its own, e.g. #0 and #1")
        channels[channel] = person
    if not channels:
        raise ConfigError("a serial source needs at least one person")
    return channels


class SerialSource(Source):
    """Reads a belt board's byte stream from a serial port on a thread of its own.

    Parameters
    ----------
    port : str
        Device path or pyserial URL.
    persons : Mapping[int, str]
        Belt channel → person (``{0: "a", 1: "b"}``).
    clock : Clock, optional
        Stamps each chunk on arrival (``time.monotonic_ns()`` by default).
    baudrate : int
        Ignored by native-USB boards; 115200 for boards with a UART bridge.
    reset_wait_s : float
        Time to let the board boot after opening (opening toggles DTR, which resets most
        Arduinos); what arrives meanwhile is discarded. 0 for ports that do not reset.
    reopen_interval_s : float
        First wait between reopen attempts after an unplug; doubles up to 2 s.
    port_factory : callable
        ``serial.serial_for_url`` (default) or a stand-in with the same signature.
    """

    def __init__(self, port: str, persons: Mapping[int, str], clock: Clock | None = None, *,
                 baudrate: int = DEFAULT_BAUDRATE, reset_wait_s: float = 2.0,
                 reopen_interval_s: float = 0.25, read_timeout_s: float = 0.05,
                 port_factory: PortFactory = serial.serial_for_url) -> None:
        super().__init__(clock)
        if not port:
            raise ConfigError("serial source needs a port, e.g. serial:/dev/ttyACM0#0")
        self.port = port
        self.persons = dict(persons)
        self.baudrate = baudrate
        self.reset_wait_s = reset_wait_s
        self.reopen_interval_s = reopen_interval_s
        self.read_timeout_s = read_timeout_s
        self._port_factory = port_factory
        self.device = f"serial:{port}"
        self.bytes_read = 0
        self.reconnects = 0

    @property
    def devices(self) -> list[DeviceInfo]:
        return [DeviceInfo(self.device, "belt", self.persons,
                           f"belt board on {self.port} (belt protocol v1)",
                           {"port": self.port, "baudrate": self.baudrate, "breathing": "belt"})]

    def _open(self) -> Any:
        kwargs: dict[str, Any] = {"baudrate": self.baudrate, "timeout": self.read_timeout_s}
        if "://" not in self.port:
            kwargs["exclusive"] = True  # a second reader would steal bytes from the first
        try:
            port = self._port_factory(self.port, **kwargs)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise SourceError(f"cannot open serial port {self.port}: {exc}") from exc
        try:
            if self.reset_wait_s > 0:
                if self._stop.wait(self.reset_wait_s):
                    return port
                port.reset_input_buffer()  # boot messages and half frames
        except (serial.SerialException, OSError) as exc:
            port.close()
            raise SourceError(f"serial port {self.port} failed while opening: {exc}") from exc
        return port

    def _reopen(self, emit: Emit) -> Any | None:
        """Retry the same path until it opens (returns the port) or the source stops."""
        wait_s = self.reopen_interval_s
        attempt = 0
        while not self._stop.is_set():
            attempt += 1
            emit(DeviceEvent(self.device, self.clock.now_ns(), DeviceEventKind.RECONNECTING,
                             f"reopening {self.port} (attempt {attempt})"))
            try:
                return self._open()
            except SourceError:
                if self._stop.wait(wait_s):
                    return None
                wait_s = min(2.0 * wait_s, 2.0)
        return None

    def _run(self, emit: Emit) -> None:
        port: Any | None = self._open()  # a wrong port fails here, clearly
        try:
            while not self._stop.is_set():
                if port is None:
                    port = self._reopen(emit)
                    if port is None:
                        return
                    self.reconnects += 1
                emit(DeviceEvent(self.device, self.clock.now_ns(), DeviceEventKind.CONNECTED,
                                 f"{self.port} open"))
                reason = self._read_until_lost(port, emit)
                port.close()
                port = None
                if reason is not None:
                    emit(DeviceEvent(self.device, self.clock.now_ns(),
                                     DeviceEventKind.DISCONNECTED, reason))
        finally:
            if port is not None:
                port.close()

    def _read_until_lost(self, port: Any, emit: Emit) -> str | None:
        """Read until stopped (returns None) or the port fails (returns why)."""
        while not self._stop.is_set():
            try:
                data = port.read(max(1, port.in_waiting))
            except (serial.SerialException, OSError) as exc:
                return f"{self.port} lost: {exc}"
            if data:
                self.bytes_read += len(data)
                emit(Chunk(self.device, self.clock.now_ns(), PayloadKind.BELT, bytes(data)))
        return None


def open_serial(target: str, persons: Mapping[str | None, str], clock: Clock) -> SerialSource:
    """Backend ``serial``: ``serial:PORT#CHANNEL``, one source for both people on a port.

    Ports given as URLs (``loop://``, ``socket://``) do not reset on open, so the source
    does not wait for them.
    """
    channels = parse_channels(persons)
    port = target.strip()
    if "://" not in port and not os.path.exists(port) and os.name != "nt":
        # said before the session file exists, rather than from the reader thread after
        raise SourceError(f"serial port {port} does not exist (is the board plugged in? "
                          "see 'ls /dev/ttyACM* /dev/ttyUSB*')")
    return SerialSource(port, channels, clock, reset_wait_s=0.0 if "://" in port else 2.0)
