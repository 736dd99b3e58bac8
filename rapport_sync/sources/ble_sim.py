"""Simulated BLE chest straps that speak the real bytes, behind a fake bleak client.

:class:`SimulatedStrap` is a Polar H10 (or an HR-only strap) as seen over GATT: Heart
Rate Measurement notifications about once a second carrying the RR intervals of the
beats since the last one, PMD ACC frames of 36 samples (the MTU-232 frame size) stamped
with the device time of the last sample on a never-set H10 clock (2019-01-01 + uptime)
that drifts against the host, ECG frames of 73 samples, control-point indications for
every request (including ALREADY_IN_STATE when a stream survived a lost link), and
scripted faults: link losses with an outage, malformed notifications.

:class:`FakeBleakClient` implements exactly the part of ``bleak.BleakClient`` that
:mod:`rapport_sync.sources.ble` uses, with the same signatures, so the real BLE source
and the real decoders run in tests and in ``rapport-sync demo --source ble-sim``.
The breathing and heart content comes from the two-person simulator (injectable).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from bleak.exc import BleakError

from ..errors import ConfigError, DecodeError
from ..protocol.heart_rate import (
    BATTERY_LEVEL_UUID,
    HEART_RATE_MEASUREMENT_UUID,
    HeartRateMeasurement,
    encode_battery_level,
    encode_heart_rate,
)
from ..protocol.pmd import (
    PMD_CONTROL_POINT_UUID,
    PMD_DATA_UUID,
    ControlPointResponse,
    MeasurementType,
    Opcode,
    SettingType,
    Status,
    encode_features,
    encode_response,
    encode_settings,
    parse_request,
)
from ..protocol.pmd_data import H10_UNSET_CLOCK_NS, encode_acc, encode_ecg
from .base import MAX_SEED, number_option
from .ble import BleSource
from .fake_bleak import FakeBleakClient, FakeCharacteristic, FakeServiceCollection, strap_gatt

__all__ = [
    "DyadStrapContent",
    "FakeBleakClient",
    "FakeCharacteristic",
    "FakeServiceCollection",
    "SimulatedStrap",
    "StrapContent",
    "StrapScript",
    "open_ble_sim",
    "parse_ble_sim_options",
]

ACC_RATES_HZ = (25, 50, 100, 200)
ACC_RANGES_G = (2, 4, 8)
ECG_RATE_HZ = 130
ECG_PER_FRAME = 73
ACC_PER_FRAME = 36  # (232 - 3 - 10) // 6
MAX_RR_PER_NOTIFICATION = 9


class StrapContent(Protocol):
    """What one person's chest does: accelerometer samples by index, heartbeats by time."""

    def chest_mg(self, rate_hz: int, k0: int, k1: int) -> np.ndarray:
        """ACC samples ``k0 … k1-1`` (sample k at session time ``k / rate_hz``), shape (n, 3)."""

    def beats(self, t0_s: float, t1_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Beat times in ``(t0_s, t1_s]`` (session seconds) and the RR interval ending at each."""


@dataclass(frozen=True, slots=True)
class StrapScript:
    """What a simulated strap does besides streaming (session seconds)."""

    hr_only: bool = False
    acc_running_at_start: bool = False  # left running by an earlier app: START says 6
    disconnect_at_s: tuple[float, ...] = ()
    outage_s: float = 3.0  # how long the strap is out of reach after a link loss
    malformed_at_s: tuple[float, ...] = ()
    drift_ppm: float = 40.0
    uptime_s: float = 37.0  # device clock at session time 0: 2019-01-01 + uptime
    radio_delay_s: float = 0.03  # mean notification delay (connection interval, stack)
    battery_percent: int = 87


class SimulatedStrap:
    """One strap on the simulated air; serves one :class:`FakeBleakClient` at a time.

    Parameters
    ----------
    address, name : str
        How it is found.
    content : StrapContent
        The wearer's chest movement and heartbeats.
    sleeper : ClockSleeper
        Paces notifications on the session clock (``session_start_ns`` is time 0).
    script : StrapScript
        HR-only, faults, clock drift.
    """

    def __init__(
        self,
        address: str,
        name: str,
        content: StrapContent,
        sleeper: Any,
        session_start_ns: int,
        script: StrapScript = StrapScript(),
        seed: int = 0,
    ) -> None:
        self.address = address
        self.name = name
        self.content = content
        self.sleeper = sleeper
        self.start_ns = session_start_ns
        self.script = script
        self.services = strap_gatt(script.hr_only)
        self.rng = np.random.default_rng(seed)
        self.running: dict[MeasurementType, int] = {}  # stream -> rate; survives link loss
        if script.acc_running_at_start and not script.hr_only:
            self.running[MeasurementType.ACC] = 50
        self.client: FakeBleakClient | None = None
        self.out_of_reach_until_s = -math.inf
        self._faults = sorted(script.disconnect_at_s)
        self._malformed = sorted(script.malformed_at_s)
        self.sent: dict[str, int] = {"hr": 0, "acc": 0, "ecg": 0, "bad": 0}
        self._changed = asyncio.Event()

    # ---- clocks ------------------------------------------------------------------------

    def now_s(self) -> float:
        return (self.sleeper.clock.now_ns() - self.start_ns) / 1e9

    def device_ns(self, t_s: float) -> int:
        """The strap's own clock at session time ``t_s`` (drifting, never set)."""
        local = (t_s + self.script.uptime_s) * (1.0 + self.script.drift_ppm * 1e-6)
        return H10_UNSET_CLOCK_NS + round(local * 1e9)

    async def _until_or_changed(self, t_s: float) -> bool:
        """Sleep until ``t_s`` plus a radio delay; False if the streams changed first."""
        delay = self.rng.gamma(2.0, self.script.radio_delay_s / 2.0)
        self._changed.clear()
        sleep = asyncio.ensure_future(
            self.sleeper.sleep_until_ns(self.start_ns + int((t_s + delay) * 1e9))
        )
        changed = asyncio.ensure_future(self._changed.wait())
        done, _ = await asyncio.wait((sleep, changed), return_when=asyncio.FIRST_COMPLETED)
        for task in (sleep, changed):
            task.cancel()
        return sleep in done

    # ---- link --------------------------------------------------------------------------

    def attach(self, client: FakeBleakClient) -> None:
        if self.now_s() < self.out_of_reach_until_s:
            raise BleakError(f"Device with address {self.address} was not found.")
        if self.client is not None and self.client.is_connected:
            raise BleakError(f"{self.address} is already connected to another client")
        self.client = client

    def detach(self, client: FakeBleakClient) -> None:
        if self.client is client:
            self.client = None

    def on_write(self, data: bytes) -> bytes:
        """Answer a control-point write with the indication the strap sends back."""
        try:
            req = parse_request(data)
        except DecodeError:
            return encode_response(
                ControlPointResponse(data[0] if data else 0, 0, Status.INVALID_OP_CODE)
            )
        mtype, op = req.measurement_type, req.opcode

        def answer(status: int, params: bytes = b"") -> bytes:
            return encode_response(ControlPointResponse(op, mtype, status, 0, params))

        if mtype not in (MeasurementType.ACC, MeasurementType.ECG):
            return answer(Status.NOT_SUPPORTED)
        kind = MeasurementType(mtype)
        if op == Opcode.GET_MEASUREMENT_SETTINGS:
            if kind == MeasurementType.ACC:
                return answer(
                    Status.SUCCESS,
                    encode_settings(
                        {
                            SettingType.SAMPLE_RATE: ACC_RATES_HZ,
                            SettingType.RESOLUTION: (16,),
                            SettingType.RANGE: ACC_RANGES_G,
                        }
                    ),
                )
            return answer(
                Status.SUCCESS,
                encode_settings(
                    {SettingType.SAMPLE_RATE: (ECG_RATE_HZ,), SettingType.RESOLUTION: (14,)}
                ),
            )
        if op == Opcode.STOP_MEASUREMENT:
            if self.running.pop(kind, None) is None:
                return answer(Status.ALREADY_IN_STATE)
            self._changed.set()
            return answer(Status.SUCCESS)
        if op == Opcode.REQUEST_MEASUREMENT_START:
            if kind in self.running:
                return answer(Status.ALREADY_IN_STATE)
            rate = int(req.settings.get(SettingType.SAMPLE_RATE, (0,))[0])  # type: ignore[call-overload]
            allowed = ACC_RATES_HZ if kind == MeasurementType.ACC else (ECG_RATE_HZ,)
            if rate not in allowed:
                return answer(Status.INVALID_SAMPLE_RATE)
            self.running[kind] = rate
            self._changed.set()
            return answer(Status.SUCCESS, b"\x01" if kind == MeasurementType.ACC else b"\x00")
        return answer(Status.INVALID_OP_CODE)

    def read(self, char_uuid: str) -> bytes:
        if char_uuid == BATTERY_LEVEL_UUID:
            return encode_battery_level(self.script.battery_percent)
        if char_uuid == PMD_CONTROL_POINT_UUID:
            return encode_features({MeasurementType.ECG, MeasurementType.ACC})
        raise BleakError(f"characteristic {char_uuid} is not readable")

    # ---- streaming ---------------------------------------------------------------------

    async def serve(self, client: FakeBleakClient) -> None:
        """Send notifications to ``client`` until the link drops or a fault is due."""
        t = self.now_s()
        next_hr = t + 1.0 + self.rng.uniform(0, 0.2)
        last_beat = t - 0.3
        cursor: dict[MeasurementType, tuple[int, int]] = {}  # next sample index, rate
        while client.is_connected and self.client is client:
            for kind, rate in self.running.items():  # (re)started streams begin now
                if cursor.get(kind, (0, -1))[1] != rate:
                    cursor[kind] = (math.ceil(self.now_s() * rate), rate)
            for kind in [k for k in cursor if k not in self.running]:
                del cursor[kind]
            due: list[tuple[float, str]] = [(next_hr, "hr")]
            for kind, (k0, rate) in cursor.items():
                per_frame = ACC_PER_FRAME if kind == MeasurementType.ACC else ECG_PER_FRAME
                due.append(((k0 + per_frame - 1) / rate, kind.name))
            if self._faults:
                due.append((self._faults[0], "drop"))
            if self._malformed:
                due.append((self._malformed[0], "bad"))
            t_next, what = min(due)
            if not await self._until_or_changed(t_next):
                continue  # a stream was started or stopped: plan again
            if not (client.is_connected and self.client is client):
                return
            if what == "drop":
                self._faults.pop(0)
                self.out_of_reach_until_s = t_next + self.script.outage_s
                client._lose_link()
                return
            if what == "bad":
                self._malformed.pop(0)
                self.sent["bad"] += 2
                client._notify(HEART_RATE_MEASUREMENT_UUID, b"\x11\x3c")  # uint16 HR cut short
                if not self.script.hr_only:
                    client._notify(PMD_DATA_UUID, b"\x02\x01\x02")  # 3 bytes of a 10-byte header
            elif what == "hr":
                times, rr = self.content.beats(last_beat, t_next - 0.15)
                times, rr = times[-MAX_RR_PER_NOTIFICATION:], rr[-MAX_RR_PER_NOTIFICATION:]
                if len(times):
                    last_beat = float(times[-1])
                rr_1024 = tuple(round(v * 1024) for v in rr if np.isfinite(v))
                hr = round(60.0 / rr[-1]) if len(rr) and np.isfinite(rr[-1]) else 70
                client._notify(
                    HEART_RATE_MEASUREMENT_UUID,
                    encode_heart_rate(
                        HeartRateMeasurement(hr_bpm=min(hr, 255), rr_1024=rr_1024, rr_present=True)
                    ),
                )
                self.sent["hr"] += 1
                next_hr += 1.0
            else:
                kind = MeasurementType[what]
                k0, rate = cursor[kind]
                n = ACC_PER_FRAME if kind == MeasurementType.ACC else ECG_PER_FRAME
                stamp = self.device_ns((k0 + n - 1) / rate)
                if kind == MeasurementType.ACC:
                    frame = encode_acc(stamp, np.rint(self.content.chest_mg(rate, k0, k0 + n)))
                else:
                    frame = encode_ecg(stamp, self._ecg(k0, k0 + n))
                cursor[kind] = (k0 + n, rate)
                client._notify(PMD_DATA_UUID, frame)
                self.sent[kind.name.lower()] += 1

    def _ecg(self, k0: int, k1: int) -> np.ndarray:
        t = np.arange(k0, k1) / ECG_RATE_HZ
        beats, _ = self.content.beats(t[0] - 0.2, t[-1] + 0.2)
        uv = 40.0 * np.sin(2 * np.pi * 0.25 * t)
        for b in beats:
            uv += 1100.0 * np.exp(-0.5 * ((t - b) / 0.012) ** 2)
        return np.rint(uv).astype(np.int64)


@dataclass
class DyadStrapContent:
    """Both people's chests from :class:`~rapport_sync.dsp.simulate.DyadSimulator`.

    ``person("a")`` gives a :class:`StrapContent` view. The simulator runs at the ACC
    rate; the accelerometer is the simulator's chest model (gravity tilted by breathing).
    """

    rate_hz: int = 50
    seed: int = 0
    script: Any = None
    _sim: Any = field(default=None, init=False)
    _acc: dict[str, list[np.ndarray]] = field(default_factory=dict, init=False)
    _base: dict[str, int] = field(default_factory=dict, init=False)
    _beats: dict[str, list[np.ndarray]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        from ..dsp.simulate import DEFAULT_SCRIPT, DyadSimulator

        self._sim = DyadSimulator(
            float(self.rate_hz), self.seed, script=self.script or DEFAULT_SCRIPT
        )
        self._rng = np.random.default_rng(self.seed + 4242)
        for p in "ab":
            self._acc[p], self._base[p], self._beats[p] = [], 0, []

    def _advance(self, n_total: int) -> None:
        from ..dsp.simulate import chest_acceleration_mg

        while self._sim.time_s * self.rate_hz < n_total:
            block = self._sim.step(self.rate_hz)
            for p, pb in (("a", block.a), ("b", block.b)):
                self._acc[p].append(chest_acceleration_mg(pb.resp, self._rng))
                self._beats[p].append(np.column_stack([pb.beat_times_s, pb.rr_s]))

    def person(self, person: str) -> StrapContent:
        return _PersonView(self, person)


class _PersonView:
    def __init__(self, dyad: DyadStrapContent, person: str) -> None:
        self.dyad, self.p = dyad, person

    def chest_mg(self, rate_hz: int, k0: int, k1: int) -> np.ndarray:
        d = self.dyad
        if rate_hz != d.rate_hz:
            raise ConfigError(f"simulated content runs at {d.rate_hz} Hz, not {rate_hz}")
        d._advance(k1)
        acc = np.vstack(d._acc[self.p]) if d._acc[self.p] else np.zeros((0, 3))
        lo = max(k0 - d._base[self.p], 0)
        out = acc[lo : k1 - d._base[self.p]]
        d._acc[self.p], d._base[self.p] = [acc[lo:]], d._base[self.p] + lo  # drop what is past
        return out

    def beats(self, t0_s: float, t1_s: float) -> tuple[np.ndarray, np.ndarray]:
        d = self.dyad
        d._advance(math.ceil((t1_s + 1.0) * d.rate_hz))
        allb = np.vstack(d._beats[self.p]) if d._beats[self.p] else np.zeros((0, 2))
        d._beats[self.p] = [allb]
        sel = (allb[:, 0] > t0_s) & (allb[:, 0] <= t1_s)
        return allb[sel, 0], allb[sel, 1]


class SimulatedBleSource(BleSource):
    """The real :class:`BleSource` talking to simulated straps (``air``: address → strap)."""

    def __init__(self, air: Mapping[str, SimulatedStrap], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.air = dict(air)


def parse_ble_sim_options(target: str) -> dict[str, str]:
    """``hr-only``, ``hr-only=b``, ``already-running``, ``disconnect=a@20``, ``seed=3`` …"""
    options: dict[str, str] = {}
    for part in target.replace(";", ",").split(","):
        key, sep, value = part.strip().partition("=")
        if key:
            options[key.lower()] = value.strip() if sep else "all"
    known = {
        "hr-only",
        "already-running",
        "disconnect",
        "outage",
        "malformed",
        "seed",
        "acc",
        "ecg",
        "script",
    }
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(
            f"unknown ble-sim option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return options


def _applies(value: str | None, person: str) -> bool:
    return value is not None and (value == "all" or person in value.split("+"))


def _times_for(value: str | None, person: str, key: str) -> tuple[float, ...]:
    """``a@20+b@35`` → the times for ``person``; ``@20`` or ``20`` applies to everyone."""
    if not value:
        return ()
    out = []
    for item in value.split("+"):
        who, _, at = item.rpartition("@")
        if not who or who == person:
            out.append(number_option(at, key))
    return tuple(out)


def open_ble_sim(
    target: str,
    persons: Mapping[str | None, str],
    clock: Any,
    content: Callable[[str], StrapContent] | None = None,
) -> SimulatedBleSource:
    """Backend ``ble-sim``: one simulated Polar H10 per person, through the real BLE source.

    ``content(person)`` supplies each wearer's chest and heart (default: the two-person
    simulator with ``seed``).
    """
    from .ble import ClockSleeper, ReconnectPolicy, StrapConfig

    opts = parse_ble_sim_options(target)
    people = sorted(set(persons.values())) or ["a", "b"]
    rate = number_option(opts.get("acc", "50"), "acc", int, at_least=1, at_most=1000)
    seed = number_option(opts.get("seed", "0"), "seed", int, at_least=0, at_most=MAX_SEED)
    outage = number_option(opts.get("outage", "3"), "outage", positive=True, at_most=3600)
    if content is None:
        from .sim import SCRIPTS

        if opts.get("script", "default") not in SCRIPTS:
            raise ConfigError(f"unknown script {opts['script']!r}; one of {', '.join(SCRIPTS)}")
        dyad = DyadStrapContent(rate, seed, SCRIPTS[opts.get("script", "default")])
        content = dyad.person
    sleeper = ClockSleeper(clock)
    start_ns = clock.now_ns()
    air: dict[str, SimulatedStrap] = {}
    names: dict[str, str] = {}
    configs, hr_only = [], []
    for i, person in enumerate(people):
        script = StrapScript(
            hr_only=_applies(opts.get("hr-only"), person),
            acc_running_at_start=_applies(opts.get("already-running"), person),
            disconnect_at_s=_times_for(opts.get("disconnect"), person, "disconnect"),
            malformed_at_s=_times_for(opts.get("malformed"), person, "malformed"),
            outage_s=outage,
            drift_ppm=40.0 - 70.0 * i,
            uptime_s=37.0 + 911.0 * i,
        )
        address = f"A0:9E:1A:00:00:{i + 1:02X}"
        name = f"Polar H10 SIM{i + 1:04d}" if not script.hr_only else f"HRM SIM{i + 1:04d}"
        air[address] = SimulatedStrap(
            address, name, content(person), sleeper, start_ns, script, seed + 101 * i
        )
        names[name.lower()] = address
        configs.append(StrapConfig(address, person, rate, 2, _applies(opts.get("ecg"), person)))
        hr_only.append(script.hr_only)

    async def find(name: str, timeout_s: float) -> str | None:
        return names.get(name.lower())

    return SimulatedBleSource(
        air,
        configs,
        clock,
        client_factory=lambda dev, cb: FakeBleakClient(dev, cb, air=air),
        find_device=find,
        policy=ReconnectPolicy(first_s=0.5, max_s=4.0, response_timeout_s=2.0),
        description="simulated Polar H10 (real BLE source, fake bleak client)",
        device_prefix="ble-sim",
        hr_only=hr_only,
        sleeper=sleeper,
    )
