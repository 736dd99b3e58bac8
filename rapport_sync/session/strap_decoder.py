"""Decoder for BLE chest straps: HRM and Polar PMD chunks in, samples on the session clock out.

- **ACC** (PMD data): per-sample device times from the frame timestamp (time of the last
  sample) with Polar's spacing rule, mapped to the host clock by a :class:`DeviceClock`
  fitted under the arrival envelope (offset + drift), then to session seconds. The
  chest accelerometer is the person's breathing signal (:attr:`SignalKind.ACCELEROMETER`).
- **HRM**: RR intervals have no timestamps and arrive batched, up to seconds late. Their
  running sum is a clock of its own (the heart's); the last beat of a notification
  happened at or before its arrival, so the same lower-envelope fit of (RR sum, arrival)
  maps every beat to host time. A gap in the RR sequence (lost notifications, a
  reconnect) starts a new segment.
- **ECG** frames are checked and kept in the store only; control-point messages and
  battery reads become status events. Malformed data gives an ERROR event, never raises.
"""

from __future__ import annotations

import numpy as np

from ..errors import DecodeError
from ..protocol.heart_rate import parse_battery_level, parse_heart_rate
from ..protocol.pmd import (
    ControlPointResponse,
    MeasurementStopped,
    MeasurementType,
    Opcode,
    SettingType,
    parse_control_point,
)
from ..protocol.pmd_data import decode_acc, decode_ecg, parse_pmd_frame, sample_times_ns
from ..samples import (
    BreathSamples,
    Chunk,
    DeviceEvent,
    DeviceEventKind,
    HeartBeats,
    PayloadKind,
    SignalKind,
)
from ..sources.base import DeviceInfo
from .decoders import Decoded, DeviceDecoder

__all__ = ["BeatClock", "StrapDecoder"]

GAP_FACTOR = 1.5  # frame spacing above 1.5x the nominal one is a gap (pitfall 6)
CLOCK_JUMP_S = 1.0  # device time ahead of the fitted line by more than this: clock reset
MAX_DEVICE_TIME_NS = 2**63 - 1  # PMD time stamps are u64; sample times are int64 ns
RR_SEGMENT_SLACK_S = 3.0  # host time passing this much beyond the RR sum: beats were lost


class BeatClock:
    """Beat times on the host clock from batched RR intervals and arrival times.

    The running RR sum is the heart's own clock. Each notification's last beat happened
    at or before its arrival, so ``arrival - RR sum`` is the transport delay plus a fixed
    offset, and its minimum over the recent notifications (``window``) is the offset
    (the lower envelope; drift between the strap and the host is far below beat-timing
    noise over a window of a minute). Feed ``(rr_s, arrival_s)`` per notification.
    """

    def __init__(self, window: int = 60) -> None:
        self.window = window
        self._offsets: list[float] = []
        self._sum_s = 0.0
        self._last_arrival_s: float | None = None
        self.segments = 0

    def beats(self, rr_s: np.ndarray, arrival_s: float) -> np.ndarray:
        """Host times (seconds) of the beats that end the given RR intervals."""
        rr = np.asarray(rr_s, dtype=float)
        last = self._last_arrival_s
        if last is None or (arrival_s - last) - float(rr.sum()) > RR_SEGMENT_SLACK_S:
            self._offsets.clear()  # beats were lost (or a reconnect): a new segment
            self._sum_s = 0.0
            self.segments += 1
        self._last_arrival_s = arrival_s
        beat_sum = self._sum_s + np.cumsum(rr)
        self._sum_s = float(beat_sum[-1])
        self._offsets.append(arrival_s - self._sum_s)
        del self._offsets[: -self.window]
        return np.minimum(min(self._offsets) + beat_sum, arrival_s)


class StrapDecoder(DeviceDecoder):
    """Decoder for ``DeviceInfo.protocol == "strap"`` (BLE heart-rate straps, Polar H10)."""

    def __init__(self, info: DeviceInfo, session_start_ns: int) -> None:
        super().__init__(info, session_start_ns)
        self.person = info.persons.get(0) or next(iter(info.persons.values()))
        self.acc_rate_hz = float(info.details.get("acc_rate_hz", 50) or 50)  # type: ignore[arg-type]
        self.acc_factor = 1.0
        self._device_origin_ns: int | None = None
        self._previous_ns: dict[tuple[int, int, bool], int] = {}
        self._last_payload: dict[tuple[int, int, bool], bytes] = {}  # per stream
        self._beats = BeatClock()
        self._last_acc_s = -np.inf
        self._last_beat_s = -np.inf
        self.errors = 0

    def _event(self, chunk: Chunk, kind: DeviceEventKind, detail: str) -> DeviceEvent:
        return DeviceEvent(chunk.device, chunk.host_time_ns, kind, detail)

    def feed(self, chunk: Chunk) -> list[Decoded]:
        try:
            if chunk.kind == PayloadKind.PMD_DATA:
                return self._pmd_data(chunk)
            if chunk.kind == PayloadKind.HEART_RATE:
                return self._heart_rate(chunk)
            if chunk.kind == PayloadKind.PMD_CONTROL:
                return self._control(chunk)
            if chunk.kind == PayloadKind.BATTERY:
                level = parse_battery_level(chunk.payload)
                return [self._event(chunk, DeviceEventKind.STATUS, f"battery {level} %")]
            raise DecodeError(f"a strap does not send {chunk.kind.value!r} chunks")
        except DecodeError as exc:
            self.errors += 1
            return [self._event(chunk, DeviceEventKind.ERROR, f"{chunk.kind.value}: {exc}")]

    # ---- heart rate ------------------------------------------------------------------------

    def _heart_rate(self, chunk: Chunk) -> list[Decoded]:
        m = parse_heart_rate(chunk.payload)
        if not m.rr_1024:
            return []
        rr = np.asarray(m.rr_s)
        host_s = self._beats.beats(rr, chunk.host_time_ns / 1e9)
        t = host_s - self.session_start_ns / 1e9
        keep = t > self._last_beat_s
        if not keep.any():
            return []
        self._last_beat_s = float(t[keep][-1])
        return [HeartBeats(self.person, t[keep], rr[keep])]

    # ---- PMD -------------------------------------------------------------------------------

    def _control(self, chunk: Chunk) -> list[Decoded]:
        msg = parse_control_point(chunk.payload)
        if isinstance(msg, MeasurementStopped):
            names = ", ".join(_type_name(t) for t in msg.measurement_types)
            return [self._event(chunk, DeviceEventKind.STATUS, f"strap stopped {names}")]
        if not isinstance(msg, ControlPointResponse):
            return []
        if msg.ok and msg.opcode == Opcode.REQUEST_MEASUREMENT_START and msg.parameters:
            try:  # newer firmware returns FACTOR with the START answer
                factor = msg.settings().get(SettingType.FACTOR)
            except DecodeError:
                factor = None
            if factor and msg.measurement_type == MeasurementType.ACC:
                self.acc_factor = float(factor[0])  # type: ignore[arg-type]
        if msg.ok:
            return []
        detail = f"PMD {_op_name(msg.opcode)} {_type_name(msg.measurement_type)}: {msg.status_name}"
        return [self._event(chunk, DeviceEventKind.STATUS, detail)]

    def _pmd_data(self, chunk: Chunk) -> list[Decoded]:
        frame = parse_pmd_frame(chunk.payload)
        if frame.device_time_ns > MAX_DEVICE_TIME_NS:
            raise DecodeError(f"PMD time stamp {frame.device_time_ns} ns is past the year "
                              "2292: not a strap's clock")
        if frame.measurement_type == MeasurementType.ECG:
            decode_ecg(frame)  # validated and stored raw; EDR may use it later
            return []
        if frame.measurement_type != MeasurementType.ACC:
            return []
        acc = decode_acc(frame, self.acc_factor)
        n = len(acc.mg)
        if n == 0:
            return []
        out: list[Decoded] = []
        ts = frame.device_time_ns
        key = (frame.measurement_type, frame.frame_type, frame.compressed)
        previous = self._previous_ns.get(key)
        arrival_s = chunk.host_time_ns / 1e9
        if previous is not None and ts == previous and chunk.payload == self._last_payload.get(key):
            return []  # the same notification delivered again: nothing new
        self._last_payload[key] = chunk.payload
        if previous is not None and ts <= previous:
            out.append(self._event(chunk, DeviceEventKind.GAP, "device clock went back: refitting"))
            self._reset_time_base()
            previous = None
        elif previous is not None and (ts - previous) / n > GAP_FACTOR * 1e9 / self.acc_rate_hz:
            missing = (ts - previous) / 1e9 - n / self.acc_rate_hz
            out.append(self._event(chunk, DeviceEventKind.GAP, f"{missing:.2f} s of ACC missing"))
            previous = None
        if self._device_origin_ns is not None and self.clock.fit is not None:
            ahead = self.clock.to_host((ts - self._device_origin_ns) / 1e9) - arrival_s
            if float(ahead) > CLOCK_JUMP_S:
                out.append(
                    self._event(chunk, DeviceEventKind.GAP, "device clock jumped: refitting")
                )
                self._reset_time_base()
                previous = None
        self._previous_ns[key] = ts
        if self._device_origin_ns is None:
            self._device_origin_ns = ts
        origin = self._device_origin_ns
        self.clock.observe((ts - origin) / 1e9, arrival_s)
        device_ns = sample_times_ns(ts, n, self.acc_rate_hz, previous)
        t = self.clock.to_host((device_ns - origin) / 1e9) - self.session_start_ns / 1e9
        keep = t > self._last_acc_s
        if keep.any():
            self._last_acc_s = float(t[keep][-1])
            out.append(
                BreathSamples(
                    self.person, SignalKind.ACCELEROMETER, t[keep], acc.mg[keep], self.acc_rate_hz
                )
            )
        return out

    def _reset_time_base(self) -> None:
        self.clock.reset()
        self._device_origin_ns = None
        self._previous_ns.clear()


def _type_name(value: int) -> str:
    try:
        return MeasurementType(value).name
    except ValueError:
        return f"type {value}"


def _op_name(value: int) -> str:
    try:
        return Opcode(value).name
    except ValueError:
        return f"opcode {value}"
