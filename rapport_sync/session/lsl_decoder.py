"""Session decoder for LSL inlet chunks: packed chunks in, samples on the session clock out.

Each stored chunk holds the sender's timestamps, the stream's clock correction and the
receiver's ``local_clock()`` at the pull (:mod:`rapport_sync.protocol.lsl_chunk`).
A sample's time is mapped in two steps:

1. sender clock → receiver's LSL clock: ``t + time_correction`` (LSL's own NTP-like
   offset estimate, refreshed by the source every few seconds);
2. receiver's LSL clock → host clock: a :class:`DeviceClock` fitted on the pairs
   (``local_clock()`` at the pull, host arrival stamp), both read at the same moment,
   so the fit is an offset (plus the drift of a sped-up demo clock), then session seconds.

What the samples are comes from the source's ``kind`` option or the stream's type:
``RR``/``IBI`` streams are RR intervals (seconds, or milliseconds when the channel unit
says ``ms``) and give :class:`HeartBeats`; ``ACC`` streams give accelerometer breathing
(three channels); anything else is a breathing belt (:attr:`SignalKind.BELT`).
A jump between sample stamps longer than :func:`rapport_sync.dsp.resample.gap_step_s` (3
nominal periods, at least 0.25 s) is reported as a GAP event, and stays a gap downstream.
"""

from __future__ import annotations

import numpy as np

from ..dsp.resample import gap_step_s
from ..errors import DecodeError
from ..protocol.lsl_chunk import parse_lsl_chunk
from ..samples import BreathSamples, Chunk, DeviceEvent, DeviceEventKind, HeartBeats, SignalKind
from ..sources.base import DeviceInfo
from .decoders import Decoded, DeviceDecoder

__all__ = ["LslDecoder", "stream_kind"]



def stream_kind(details: dict[str, object]) -> str:
    """``"belt"``, ``"acc"`` or ``"rr"`` from the source's option or the stream type."""
    kind = str(details.get("kind") or "").lower()
    if kind:
        return kind
    stream_type = str(details.get("type") or "").lower()
    if stream_type in ("rr", "ibi", "rri"):
        return "rr"
    if stream_type in ("acc", "accelerometer"):
        return "acc"
    return "belt"


class LslDecoder(DeviceDecoder):
    """Unpacks one LSL stream's chunks and maps them to session seconds."""

    def __init__(self, info: DeviceInfo, session_start_ns: int) -> None:
        super().__init__(info, session_start_ns)
        details = dict(info.details)
        self.kind = stream_kind(details)
        self.rate_hz = float(details.get("nominal_srate") or 0.0)  # type: ignore[arg-type]
        units = [str(u).lower() for u in details.get("channel_units") or []]  # type: ignore[attr-defined]
        self.rr_scale = 1e-3 if any(u in ("ms", "milliseconds") for u in units) else 1.0
        self.corrections: list[float] = []
        self._last_stamp: float | None = None

    def feed(self, chunk: Chunk) -> list[Decoded]:
        try:
            lsl = parse_lsl_chunk(chunk.payload)
        except DecodeError as exc:
            return [DeviceEvent(self.info.device, chunk.host_time_ns, DeviceEventKind.ERROR,
                                f"LSL chunk dropped: {exc}")]
        out: list[Decoded] = []
        if lsl.timestamps_s.size == 0:
            return out
        self.clock.observe(lsl.local_clock_s, chunk.host_time_ns / 1e9)
        if not self.corrections or self.corrections[-1] != lsl.time_correction_s:
            self.corrections.append(lsl.time_correction_s)
        stamps = lsl.timestamps_s
        out += self._gaps(stamps, chunk.host_time_ns)
        times = self.clock.to_host(stamps + lsl.time_correction_s) - self.session_start_ns / 1e9
        values = lsl.values
        for channel, person in self.info.persons.items():
            if self.kind == "rr":
                if channel >= values.shape[1]:
                    continue
                rr = values[:, channel] * self.rr_scale
                out.append(HeartBeats(person, times.copy(), rr))
            elif self.kind == "acc":
                if values.shape[1] < channel + 3:
                    continue
                out.append(BreathSamples(person, SignalKind.ACCELEROMETER, times.copy(),
                                         values[:, channel:channel + 3].copy(), self._rate(stamps)))
            elif channel < values.shape[1]:
                out.append(BreathSamples(person, SignalKind.BELT, times.copy(),
                                         values[:, channel].copy(), self._rate(stamps)))
        return out

    def _rate(self, stamps: np.ndarray) -> float:
        if self.rate_hz > 0:
            return self.rate_hz
        if stamps.size > 1:
            return float((stamps.size - 1) / max(stamps[-1] - stamps[0], 1e-9))
        return float("nan")

    def _gaps(self, stamps: np.ndarray, host_ns: int) -> list[Decoded]:
        previous = self._last_stamp
        self._last_stamp = float(stamps[-1])
        if self.rate_hz <= 0 or self.kind == "rr":
            return []
        limit = gap_step_s(self.rate_hz)
        joined = stamps if previous is None else np.concatenate(([previous], stamps))
        steps = np.diff(joined)
        return [DeviceEvent(self.info.device, host_ns, DeviceEventKind.GAP,
                            f"{step:.3f} s without samples (about "
                            f"{round(step * self.rate_hz) - 1} missing)")
                for step in steps[steps > limit]]

    @property
    def clock_correction_s(self) -> float:
        """The newest LSL time correction seen (NaN before the first chunk)."""
        return self.corrections[-1] if self.corrections else float("nan")
