"""Bluetooth LE chest straps on bleak: any heart-rate strap, plus Polar H10 ACC/ECG.

:class:`BleSource` runs one asyncio event loop on the source's thread and drives one
:class:`StrapLink` per strap in it. A link connects (one strap at a time, across all
sources of the process: concurrent connects misbehave on BlueZ), subscribes to the PMD
control point's indications *before* writing to it, starts ACC (and optionally ECG)
— an "already running" answer is met with STOP and a new START — and subscribes to the
Heart Rate Measurement. Every notification is emitted raw, stamped on arrival; the
session decodes. On a link loss the link emits DISCONNECTED, RECONNECTING (with
exponential backoff) and CONNECTED again and restarts the streams; the other strap
keeps streaming. On stop it sends STOP for its streams and disconnects.

The bleak client is injected (``client_factory``) so the same code runs against the
simulated straps of :mod:`rapport_sync.sources.ble_sim`.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from bleak.exc import BleakError

from ..errors import ConfigError, DecodeError, SourceError
from ..protocol.heart_rate import BATTERY_LEVEL_UUID, HEART_RATE_MEASUREMENT_UUID
from ..protocol.pmd import (
    PMD_CONTROL_POINT_UUID,
    PMD_DATA_UUID,
    ControlPointResponse,
    MeasurementStopped,
    MeasurementType,
    SettingType,
    Status,
    encode_start,
    encode_stop,
    parse_control_point,
)
from ..samples import Chunk, DeviceEvent, DeviceEventKind, PayloadKind
from .base import Clock, DeviceInfo, Emit, MonotonicClock, Source, VirtualClock
from .ble_scan import bluetooth_unavailable

__all__ = [
    "BleSource",
    "ClockSleeper",
    "ReconnectPolicy",
    "StrapConfig",
    "StrapLink",
    "is_address",
    "open_ble",
]

_ADDRESS = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$|^[0-9A-Fa-f-]{36}$")
LINK_ERRORS = (BleakError, OSError, asyncio.TimeoutError, SourceError, DecodeError)
# Answers to a start request that no retry changes (the settings themselves are wrong).
REFUSED_SETTINGS = frozenset({Status.NOT_SUPPORTED, Status.INVALID_PARAMETER,
                              Status.INVALID_RESOLUTION, Status.INVALID_SAMPLE_RATE,
                              Status.INVALID_RANGE, Status.INVALID_NUMBER_OF_CHANNELS})
# One connect at a time in the whole process (bleak #618: parallel connects on BlueZ).
CONNECT_LOCK = threading.Lock()

ClientFactory = Callable[[Any, Callable[[Any], None]], Any]
DeviceFinder = Callable[[str, float], Any]


def is_address(target: str) -> bool:
    """True for a Bluetooth address (``AA:BB:…``) or a macOS device UUID."""
    return bool(_ADDRESS.match(target.strip()))


@dataclass(frozen=True, slots=True)
class StrapConfig:
    """One strap to read: who wears it and which streams to start on a Polar H10."""

    target: str  # address or advertised name (or a unique part of it)
    person: str
    acc_rate_hz: int = 50  # 25/50/100/200 on the H10; 50 Hz is plenty for breathing
    acc_range_g: int = 2  # 2/4/8 G: 2 G gives the finest steps for small chest movements
    ecg: bool = False  # ECG at 130 Hz, kept in the store (EDR), not needed for breathing


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    first_s: float = 0.5
    factor: float = 2.0
    max_s: float = 10.0
    connect_timeout_s: float = 20.0
    response_timeout_s: float = 5.0


class ClockSleeper:
    """``await`` a time on the source's :class:`Clock` inside an event loop.

    With a real clock this is ``asyncio.sleep`` (scaled by the clock's speed). With a
    :class:`VirtualClock` sleepers wait in a queue and the earliest is woken after the
    loop has run everything that was ready, jumping the clock: simulated straps and
    the reconnect backoff then share one virtual time line that runs at CPU speed.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._heap: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._runner: asyncio.Task[None] | None = None
        self._never = threading.Event()
        self.holds = 0  # while > 0, virtual time stands still (a link is mid-handshake)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Freeze virtual time while a link connects or talks to its control point.

        Real BLE handshakes take real time that the straps' notifications must not
        overtake in a simulation; with a real clock this does nothing.
        """
        self.holds += 1
        try:
            yield
        finally:
            self.holds -= 1

    async def sleep_until_ns(self, t_ns: int) -> None:
        if not isinstance(self.clock, VirtualClock):
            speed = getattr(self.clock, "speed", 1.0)
            await asyncio.sleep(max(0.0, (t_ns - self.clock.now_ns()) / speed / 1e9))
            return
        if self._runner is None or self._runner.done():
            self._runner = asyncio.get_running_loop().create_task(self._run_virtual())
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (t_ns, next(self._seq), fut))
        await fut

    async def sleep_s(self, seconds: float) -> None:
        await self.sleep_until_ns(self.clock.now_ns() + int(seconds * 1e9))

    async def _run_virtual(self) -> None:
        while True:
            for _ in range(4):  # let everything that is ready run first
                await asyncio.sleep(0)
            if not self._heap or self.holds:
                await asyncio.sleep(0.0005)
                continue
            t_ns, _, fut = heapq.heappop(self._heap)
            if fut.done():
                continue
            self.clock.sleep_until_ns(t_ns, self._never)
            fut.set_result(None)


async def _acquire(lock: threading.Lock, stopping: asyncio.Event) -> bool:
    while not lock.acquire(blocking=False):
        if stopping.is_set():
            return False
        await asyncio.sleep(0.02)
    return True


async def find_device_by_name(name: str, timeout_s: float) -> Any:
    """The first advertising device whose name equals or contains ``name`` (case-insensitive)."""
    from bleak import BleakScanner

    wanted = name.strip().lower()

    def match(device: Any, adv: Any) -> bool:
        seen = (adv.local_name or device.name or "").lower()
        return bool(seen) and (seen == wanted or wanted in seen)

    return await BleakScanner.find_device_by_filter(match, timeout=timeout_s)


def _bleak_client(device: Any, on_disconnect: Callable[[Any], None]) -> Any:
    from bleak import BleakClient

    return BleakClient(device, disconnected_callback=on_disconnect, timeout=20.0)


@dataclass
class _Streams:
    """Which PMD streams this link runs; set after each successful START."""

    wanted: list[tuple[MeasurementType, dict[SettingType, int]]] = field(default_factory=list)
    running: set[MeasurementType] = field(default_factory=set)


class StrapLink:
    """The connection to one strap: connect, start streams, forward notifications, reconnect."""

    def __init__(
        self,
        config: StrapConfig,
        info: DeviceInfo,
        emit: Emit,
        clock: Clock,
        sleeper: ClockSleeper,
        client_factory: ClientFactory,
        find_device: Callable[[str, float], Any],
        policy: ReconnectPolicy,
        stopping: asyncio.Event,
    ) -> None:
        self.config = config
        self.info = info
        self.device = info.device
        self._emit = emit
        self.clock = clock
        self.sleeper = sleeper
        self._client_factory = client_factory
        self._find_device = find_device
        self.policy = policy
        self.stopping = stopping
        self.client: Any = None
        self._lost = asyncio.Event()
        self._restart = asyncio.Event()
        self._responses: asyncio.Queue[ControlPointResponse] = asyncio.Queue()
        self._streams = _Streams()
        self.connections = 0
        self._up = False  # connected and streaming
        self._was_up = False  # has been, at least once in this session

    # ---- notifications: stamped and emitted raw --------------------------------------

    def _chunk(self, kind: PayloadKind, data: bytearray) -> None:
        self._emit(Chunk(self.device, self.clock.now_ns(), kind, bytes(data)))

    def _event(self, kind: DeviceEventKind, detail: str = "") -> None:
        self._emit(DeviceEvent(self.device, self.clock.now_ns(), kind, detail))

    def _on_heart_rate(self, _sender: Any, data: bytearray) -> None:
        self._chunk(PayloadKind.HEART_RATE, data)

    def _on_pmd_data(self, _sender: Any, data: bytearray) -> None:
        self._chunk(PayloadKind.PMD_DATA, data)

    def _on_control_point(self, _sender: Any, data: bytearray) -> None:
        self._chunk(PayloadKind.PMD_CONTROL, data)
        try:
            message = parse_control_point(bytes(data))
        except DecodeError:
            return  # stored raw; the session's decoder reports it
        if isinstance(message, ControlPointResponse):
            self._responses.put_nowait(message)
        elif isinstance(message, MeasurementStopped):
            self._streams.running.difference_update(message.measurement_types)
            self._restart.set()

    def _on_disconnect(self, _client: Any) -> None:
        self._lost.set()

    # ---- control point ---------------------------------------------------------------

    async def _request(self, data: bytes) -> ControlPointResponse:
        """Write a CP request and wait for the indication that answers it."""
        opcode, mtype = data[0], data[1] & 0x3F
        while not self._responses.empty():
            self._responses.get_nowait()
        await self.client.write_gatt_char(PMD_CONTROL_POINT_UUID, data, response=True)
        deadline = asyncio.get_running_loop().time() + self.policy.response_timeout_s
        while True:
            left = deadline - asyncio.get_running_loop().time()
            try:
                r = await asyncio.wait_for(self._responses.get(), max(left, 0.0))
            except TimeoutError:
                raise SourceError(
                    f"{self.device}: no answer to PMD request {data.hex(' ')} "
                    f"within {self.policy.response_timeout_s:g} s"
                ) from None
            if r.opcode == opcode and r.measurement_type == mtype:
                return r

    async def _start_stream(self, mtype: MeasurementType, settings: dict[SettingType, int]) -> None:
        r = await self._request(encode_start(mtype, settings))
        if r.status == Status.ALREADY_IN_STATE:
            # Left running by an earlier session or a lost link: stop it, start it afresh.
            self._event(DeviceEventKind.STATUS, f"{mtype.name} was already running: restarting it")
            await self._request(encode_stop(mtype))
            r = await self._request(encode_start(mtype, settings))
        if r.status in REFUSED_SETTINGS:  # asking again cannot help: stop with one line
            raise ConfigError(f"{self.device}: the strap refuses {mtype.name} with these "
                              f"settings ({r.status_name}); check the acc= / ecg= options")
        if not r.ok:
            raise SourceError(f"{self.device}: starting {mtype.name} failed: {r.status_name}")
        self._streams.running.add(mtype)

    async def _start_streams(self) -> None:
        for mtype, settings in self._streams.wanted:
            if mtype not in self._streams.running:
                await self._start_stream(mtype, settings)

    # ---- connection ------------------------------------------------------------------

    async def _connect(self) -> None:
        if not await _acquire(CONNECT_LOCK, self.stopping):
            return
        try:
            target: Any = self.config.target
            if not is_address(target):
                found = await self._find_device(target, self.policy.connect_timeout_s)
                if found is None:
                    raise SourceError(f"no strap named {target!r} is advertising nearby")
                target = found
            self._lost.clear()
            self.client = self._client_factory(target, self._on_disconnect)
            await asyncio.wait_for(self.client.connect(), self.policy.connect_timeout_s)
        finally:
            CONNECT_LOCK.release()
        await self._setup()

    async def _setup(self) -> None:
        services = self.client.services
        has_pmd = services.get_characteristic(PMD_CONTROL_POINT_UUID) is not None
        has_hr = services.get_characteristic(HEART_RATE_MEASUREMENT_UUID) is not None
        if not has_hr and not has_pmd:
            raise SourceError(f"{self.device} has neither a heart rate nor a PMD service")
        self._streams = _Streams()
        self._restart.clear()
        if has_pmd:
            acc = {
                SettingType.SAMPLE_RATE: self.config.acc_rate_hz,
                SettingType.RESOLUTION: 16,
                SettingType.RANGE: self.config.acc_range_g,
            }
            self._streams.wanted.append((MeasurementType.ACC, acc))
            if self.config.ecg:
                ecg = {SettingType.SAMPLE_RATE: 130, SettingType.RESOLUTION: 14}
                self._streams.wanted.append((MeasurementType.ECG, ecg))
            # Indications first, then data, then the requests (pitfalls 1 and 3).
            await self.client.start_notify(PMD_CONTROL_POINT_UUID, self._on_control_point)
            await self.client.start_notify(PMD_DATA_UUID, self._on_pmd_data)
            await self._start_streams()
        if has_hr:
            await self.client.start_notify(HEART_RATE_MEASUREMENT_UUID, self._on_heart_rate)
        if services.get_characteristic(BATTERY_LEVEL_UUID) is not None:
            try:
                self._chunk(
                    PayloadKind.BATTERY, await self.client.read_gatt_char(BATTERY_LEVEL_UUID)
                )
            except LINK_ERRORS:
                pass  # a battery read failing is no reason to drop the link
        details = self.info.details
        if isinstance(details, dict):  # filled in once the strap's services are known
            details["hr_only"] = not has_pmd
            details["breathing"] = "acc" if has_pmd else "rr"
        streams = "+".join(["HR"] * has_hr + [m.name for m, _ in self._streams.wanted])
        self.connections += 1
        self._up = self._was_up = True
        self._event(DeviceEventKind.CONNECTED, f"{self.config.target}: {streams}")
        if not has_pmd:
            self._event(
                DeviceEventKind.STATUS,
                "HR-only strap: breathing estimated from RR intervals (lower quality)",
            )

    async def _shutdown(self) -> None:
        """Stop the streams (an H10 keeps running otherwise) and disconnect."""
        client, self.client = self.client, None
        if client is None:
            return
        try:
            if client.is_connected:
                for mtype in list(self._streams.running):
                    try:
                        await self._request_on(client, encode_stop(mtype))
                    except LINK_ERRORS:
                        pass
                self._streams.running.clear()
        finally:
            try:
                await asyncio.wait_for(client.disconnect(), self.policy.connect_timeout_s)
            except LINK_ERRORS:
                pass

    async def _request_on(self, client: Any, data: bytes) -> None:
        self.client = client
        try:
            await self._request(data)
        finally:
            self.client = None

    async def _wait_for_trouble(self) -> str:
        """Wait until the link is lost, a stream stopped by itself, or the source stops."""
        while True:
            if self.stopping.is_set():
                return "stop"
            if self._lost.is_set():
                return "lost"
            if self._restart.is_set():
                self._restart.clear()
                self._event(DeviceEventKind.STATUS, "the strap stopped a stream: restarting it")
                with self.sleeper.hold():
                    await self._start_streams()
                continue
            waits = [
                asyncio.ensure_future(e.wait()) for e in (self.stopping, self._lost, self._restart)
            ]
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()

    async def run(self) -> None:
        """Connect and stream until stopped, reconnecting with backoff after failures."""
        backoff = self.policy.first_s
        while not self.stopping.is_set():
            reason = ""
            try:
                with self.sleeper.hold():
                    await self._connect()
                backoff = self.policy.first_s
                if await self._wait_for_trouble() == "stop":
                    break
                reason = "link lost"
            except LINK_ERRORS as exc:
                unavailable = bluetooth_unavailable(exc)
                if unavailable and not self._was_up:  # from the start: retrying cannot help
                    raise SourceError(unavailable) from exc
                # mid-session (the radio toggled, the laptop resuming, bluetoothd
                # restarting) it may pass: retry with backoff, saying why
                reason = unavailable or str(exc) or type(exc).__name__
            if self.stopping.is_set():
                break
            was_up = self._up
            await self._drop()
            if was_up:
                self._event(DeviceEventKind.DISCONNECTED, reason)
            self._event(
                DeviceEventKind.RECONNECTING, f"{reason.rstrip('.')}; retrying in {backoff:.1f} s"
            )
            await self.sleeper.sleep_s(backoff)
            backoff = min(backoff * self.policy.factor, self.policy.max_s)
        with self.sleeper.hold():
            await self._shutdown()
        self._event(DeviceEventKind.DISCONNECTED, "stopped")

    async def _drop(self) -> None:
        client, self.client = self.client, None
        self._up = False
        self._streams.running.clear()
        if client is not None:
            try:
                await asyncio.wait_for(client.disconnect(), 2.0)
            except LINK_ERRORS:
                pass


class BleSource(Source):
    """One or more BLE straps read in one event loop on the source's thread.

    Parameters
    ----------
    straps : sequence of StrapConfig
        The straps (one per person).
    clock : Clock
        Arrival stamps and backoff waits.
    client_factory : callable, optional
        ``factory(address_or_device, disconnected_callback) -> client`` with bleak's
        ``BleakClient`` interface; bleak itself by default.
    find_device : callable, optional
        ``async find(name, timeout_s) -> device or None`` for targets given by name.
    policy : ReconnectPolicy
        Backoff and timeouts.
    description : str
        Shown in DeviceInfo (e.g. "simulated Polar H10").
    device_prefix : str
        Device ids are ``prefix:target``.
    hr_only : sequence of bool or None, optional
        Whether each strap is known to be HR-only before connecting (None: find out).
    sleeper : ClockSleeper, optional
        Shared with simulated straps so that they and the backoff use one time line.
    """

    def __init__(
        self,
        straps: Sequence[StrapConfig],
        clock: Clock | None = None,
        *,
        client_factory: ClientFactory | None = None,
        find_device: DeviceFinder | None = None,
        policy: ReconnectPolicy | None = None,
        description: str = "BLE chest strap",
        device_prefix: str = "ble",
        hr_only: Sequence[bool | None] | None = None,
        sleeper: ClockSleeper | None = None,
    ) -> None:
        super().__init__(clock or MonotonicClock())
        if not straps:
            raise ConfigError("a BLE source needs at least one strap")
        self.straps = list(straps)
        self._client_factory = client_factory or _bleak_client
        self._find_device = find_device or find_device_by_name
        self.policy = policy or ReconnectPolicy()
        known = list(hr_only) if hr_only is not None else [None] * len(self.straps)
        self._infos = [
            DeviceInfo(
                f"{device_prefix}:{s.target}",
                "strap",
                {0: s.person},
                description,
                {
                    "acc_rate_hz": s.acc_rate_hz,
                    "ecg": s.ecg,
                    "hr_only": hr,  # None until connected for a real strap
                    "breathing": {None: "acc or rr", True: "rr", False: "acc"}[hr],
                },
            )
            for s, hr in zip(self.straps, known, strict=True)
        ]
        self.links: list[StrapLink] = []
        self.sleeper = sleeper

    @property
    def devices(self) -> list[DeviceInfo]:
        return list(self._infos)

    def _run(self, emit: Emit) -> None:
        asyncio.run(self._main(emit))

    async def _main(self, emit: Emit) -> None:
        stopping = asyncio.Event()
        sleeper = self.sleeper or ClockSleeper(self.clock)
        self.links = [
            StrapLink(
                cfg,
                info,
                emit,
                self.clock,
                sleeper,
                self._client_factory,
                self._find_device,
                self.policy,
                stopping,
            )
            for cfg, info in zip(self.straps, self._infos, strict=True)
        ]
        tasks = [asyncio.create_task(link.run()) for link in self.links]
        try:
            while not self._stop.is_set() and not all(t.done() for t in tasks):
                await asyncio.sleep(0.02)
        finally:
            stopping.set()
            results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result


def open_ble(target: str, persons: Any, clock: Clock) -> BleSource:
    """Backend ``ble``: one strap, by address or advertised name, for one person.

    Options may follow the target after ``;``: ``ble:Polar H10 1A2B3C4D;acc=100;ecg=1``.
    """
    name, *opts = [part.strip() for part in target.split(";")]
    if not name:
        raise ConfigError("ble needs an address or a name, e.g. ble:Polar H10 1A2B3C4D")
    people = list(dict(persons).values())
    if len(people) != 1:
        raise ConfigError(f"a BLE strap is worn by one person, got {len(people)}")
    options = _parse_options(opts)
    return BleSource([_strap_config(name, people[0], options)], clock)


def _parse_options(parts: Sequence[str]) -> dict[str, str]:
    options: dict[str, str] = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if not key:
            continue
        options[key.strip().lower()] = value.strip() if sep else "1"
    return options


def _strap_config(target: str, person: str, options: dict[str, str]) -> StrapConfig:
    try:
        rate = int(options.get("acc", 50))
        range_g = int(options.get("range", 2))
    except ValueError as exc:
        raise ConfigError(f"bad BLE option: {exc}") from None
    if rate not in (25, 50, 100, 200):
        raise ConfigError(f"acc rate must be 25, 50, 100 or 200 Hz, got {rate}")
    if range_g not in (2, 4, 8):
        raise ConfigError(f"acc range must be 2, 4 or 8 G, got {range_g}")
    ecg = options.get("ecg", "0").lower() in ("1", "yes", "true", "on")
    return StrapConfig(target, person, rate, range_g, ecg)
