"""The Source interface, source strings and the lazy backend registry.

A source moves bytes from one physical device (a BLE strap, a belt board on a serial
port, a simulator) into the session. It stamps every chunk on arrival with the clock's
``now_ns()`` (``time.monotonic_ns()`` in real use) and never decodes: decoding happens in
the session, so a stored session can be replayed through the same decoders.

One source may serve both people (a two-belt board, the simulator); which channel is
which person is declared in :class:`DeviceInfo`.
"""

from __future__ import annotations

import abc
import importlib
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from ..samples import Chunk, DeviceEvent

__all__ = [
    "Clock",
    "MonotonicClock",
    "VirtualClock",
    "DeviceInfo",
    "Emit",
    "Source",
    "SourceSpec",
    "BACKENDS",
    "MAX_DURATION_S",
    "MAX_SEED",
    "number_option",
    "parse_number",
    "register_backend",
    "open_source",
]

Emit = Callable[[Chunk | DeviceEvent], None]


class Clock(abc.ABC):
    """Host clock used for arrival stamps and pacing; injectable so tests run fast."""

    @abc.abstractmethod
    def now_ns(self) -> int:
        """Current host time in nanoseconds (monotonic)."""

    @abc.abstractmethod
    def sleep_until_ns(self, t_ns: int, stop: threading.Event) -> bool:
        """Wait until ``now_ns() >= t_ns``; return False at once if ``stop`` is set."""


class MonotonicClock(Clock):
    """``time.monotonic_ns()``, optionally running ``speed`` times faster than real time."""

    def __init__(self, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ConfigError(f"speed must be positive, got {speed}")
        self.speed = float(speed)
        self._origin = time.monotonic_ns()

    def now_ns(self) -> int:
        elapsed = time.monotonic_ns() - self._origin
        return self._origin + int(elapsed * self.speed)

    def sleep_until_ns(self, t_ns: int, stop: threading.Event) -> bool:
        while True:
            remaining = (t_ns - self.now_ns()) / self.speed / 1e9
            if remaining <= 0:
                return not stop.is_set()
            if stop.wait(min(remaining, 0.1)):
                return False


class VirtualClock(Clock):
    """A clock that jumps forward when slept on: simulated sessions at full CPU speed."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns
        self._lock = threading.Lock()

    def now_ns(self) -> int:
        with self._lock:
            return self._now

    def sleep_until_ns(self, t_ns: int, stop: threading.Event) -> bool:
        with self._lock:
            self._now = max(self._now, t_ns)
        return not stop.is_set()


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What one device is and whose data it carries.

    ``persons`` maps a device channel (belt channel index; 0 for a one-person strap)
    to the person (``"a"`` or ``"b"``) whose signal it is.
    """

    device: str
    protocol: str  # which session decoder reads it: "belt", "strap" (BLE), "lsl"
    persons: Mapping[int, str]
    description: str = ""
    details: Mapping[str, object] = field(default_factory=dict)


class Source(abc.ABC):
    """Moves bytes from one device to the session on a thread of its own.

    Subclasses implement :meth:`_run`, which loops until ``self._stop`` is set, calling
    ``emit`` with each :class:`~rapport_sync.samples.Chunk` (stamped with
    ``self.clock.now_ns()`` on arrival) and each :class:`DeviceEvent`.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or MonotonicClock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    @property
    @abc.abstractmethod
    def devices(self) -> list[DeviceInfo]:
        """The devices this source reads, known before :meth:`start`."""

    @abc.abstractmethod
    def _run(self, emit: Emit) -> None:
        """Acquire until ``self._stop`` is set. Runs on the source's own thread."""

    def start(self, emit: Emit) -> None:
        """Start acquiring on a background thread."""
        if self._thread is not None:
            raise ConfigError(f"{type(self).__name__} already started")

        def run() -> None:
            try:
                self._run(emit)
            except BaseException as exc:  # reported to the session, never lost silently
                self.error = exc

        self._thread = threading.Thread(target=run, name=type(self).__name__, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Ask the thread to end (streams stopped, devices disconnected) and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A parsed source string: ``backend:target#channel``.

    Examples: ``sim``, ``ble:Polar H10 1A2B3C4D``, ``ble:AA:BB:CC:DD:EE:FF``,
    ``serial:/dev/ttyACM0#0``, ``lsl:name=RespA``, ``replay:session.rapport#a``.
    """

    backend: str
    target: str = ""
    channel: str | None = None

    @classmethod
    def parse(cls, text: str) -> SourceSpec:
        text = text.strip()
        backend, _, rest = text.partition(":")
        backend = backend.lower()
        if backend not in BACKENDS:
            known = ", ".join(sorted(BACKENDS))
            raise ConfigError(f"unknown source {text!r}: the kind before ':' must be one of {known}")
        target, _, channel = rest.rpartition("#") if "#" in rest else (rest, "", "")
        return cls(backend, target.strip(), channel.strip() or None)

    def __str__(self) -> str:
        text = self.backend + (f":{self.target}" if self.target else "")
        return text + (f"#{self.channel}" if self.channel is not None else "")


# A source factory takes the target (port, address, name...), the persons it must serve
# as {channel string or None: person}, and the clock; it returns one Source.
SourceFactory = Callable[[str, Mapping[str | None, str], Clock], Source]

BACKENDS: dict[str, str] = {
    "sim": "rapport_sync.sources.sim:open_sim",
    "ble-sim": "rapport_sync.sources.ble_sim:open_ble_sim",
    "ble": "rapport_sync.sources.ble:open_ble",
    "serial": "rapport_sync.sources.serial:open_serial",
    "lsl": "rapport_sync.sources.lsl:open_lsl",
    "replay": "rapport_sync.session.replay_source:open_replay",  # reads the store
}
_INJECTED: dict[str, SourceFactory] = {}


MAX_SEED = 2**32 - 1  # simulation and surrogate seeds are 0 ... MAX_SEED
MAX_DURATION_S = 7 * 24 * 3600.0  # a session of more than a week is a typo


def parse_number(text: str, kind: type = float, positive: bool = False,
                 at_least: float | None = None, at_most: float | None = None) -> Any:
    """``kind(text)``; a ValueError says why not in words that follow the text: "is not a
    number" (or "an integer"), with ``positive`` "must be a number greater than 0"
    (infinity and NaN included), and outside ``at_least`` … ``at_most`` "must be between
    … and …" (or "at least …"). Source options and command-line values both use it."""
    try:
        number = kind(text)
    except (ValueError, OverflowError):
        raise ValueError(f"is not a{'n integer' if kind is int else ' number'}") from None
    if positive and not (number > 0 and math.isfinite(number)):
        raise ValueError("must be a number greater than 0")
    low = -math.inf if at_least is None else at_least
    high = math.inf if at_most is None else at_most
    if not low <= number <= high:
        if at_least is None:
            raise ValueError(f"must be at most {_plain(high)}")
        if at_most is None:
            raise ValueError(f"must be at least {_plain(low)}")
        raise ValueError(f"must be between {_plain(low)} and {_plain(high)}")
    return number


def _plain(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def number_option(value: str, key: str, kind: type = float, positive: bool = False,
                  at_least: float | None = None, at_most: float | None = None) -> Any:
    """A source option's number (``seed=3``, ``fs=50``); a ConfigError names the option."""
    try:
        return parse_number(value, kind, positive, at_least, at_most)
    except ValueError as exc:
        raise ConfigError(f"option {key}={value!r} {exc}") from None


def register_backend(name: str, factory: SourceFactory) -> None:
    """Make ``factory`` the backend for ``name`` (tests inject fakes this way)."""
    BACKENDS.setdefault(name, "<injected>")
    _INJECTED[name] = factory


def open_source(
    backend: str, target: str, persons: Mapping[str | None, str], clock: Clock
) -> Source:
    """Create the source for one device, importing its backend only now."""
    factory = _INJECTED.get(backend)
    if factory is None:
        module_name, _, attr = BACKENDS[backend].partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(f"source kind {backend!r} is not available: {exc}") from exc
        factory = getattr(module, attr)
    return factory(target, persons, clock)
