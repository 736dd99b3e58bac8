"""Session decoder for belt boards: belt-protocol bytes → per-person samples and beats."""

from __future__ import annotations

import numpy as np

from ..protocol.belt import (
    BeatFrame,
    CorruptFrame,
    DeviceInfoFrame,
    FrameDecoder,
    SamplesFrame,
    SequenceGap,
    StatusFrame,
)
from ..samples import BreathSamples, Chunk, DeviceEvent, DeviceEventKind, HeartBeats, SignalKind
from ..sources.base import DeviceInfo
from .decoders import Decoded, DeviceDecoder

__all__ = ["BeltDecoder"]

# A board never sends a time this far before its newest sample (a status is at or after
# it, a beat within the frame it was found in): a frame that does comes from a board that
# restarted, whose boot frames were missed (the serial source discards what arrives while
# a board boots after the port is opened).
RESTART_BACK_S = 1.0


class BeltDecoder(DeviceDecoder):
    """Decodes one board's byte stream; the board's sample clock is shared by its channels,
    so both people of a two-belt board are on exactly one time base.

    While the board reports a belt unplugged, that person's samples are missing (NaN), not
    the rail value the open input reads: the analysis sees a gap, not a clipped belt. The
    board sends its status at the sample where a belt comes or goes, so a samples frame
    that arrives later may still hold samples from before: each sample takes the state
    in force at its own device time. The stored bytes keep what the board sent.

    A board that restarts (unplugged and plugged back) counts its clock from 0 again: a
    device-info frame with seq 0 says so, and so does a device time going back, for when
    that frame was missed; either way the clock map starts afresh. The jump in seq onto
    the restarted board is then no lost frames: a jump is judged at the next frame with a
    device time (a device-info frame has none), which may come in a later chunk, and only
    reported (and left in the frame decoder's count of lost frames) if that frame does not
    go back."""

    def __init__(self, info: DeviceInfo, session_start_ns: int) -> None:
        super().__init__(info, session_start_ns)
        self.frames = FrameDecoder()
        self.board: DeviceInfoFrame | None = None
        self._connected: tuple[bool, ...] | None = None
        self._clipping: tuple[bool, ...] | None = None
        # per channel: (device second, connected) at each change, oldest first
        self._plug_changes: dict[int, list[tuple[float, bool]]] = {}
        self._newest_us = -np.inf  # device time of the newest sample, µs
        self._last_seq: int | None = None
        # jumps in seq not judged yet (no frame with a device time since), with the host
        # time of the chunk that showed each, oldest first
        self._unjudged_gaps: list[tuple[SequenceGap, int]] = []

    def feed(self, chunk: Chunk) -> list[Decoded]:
        out: list[Decoded] = []
        host_s = chunk.host_time_ns / 1e9
        t_ns = chunk.host_time_ns
        items = self.frames.feed(chunk.payload)
        for item in items:
            if isinstance(item, (SamplesFrame, StatusFrame, BeatFrame)):
                out += self._judge_gaps(item, t_ns)
            if isinstance(item, SamplesFrame):
                out += self._samples(item, host_s)
            elif isinstance(item, BeatFrame):
                person = self.info.persons.get(item.channel)
                beat_s = item.device_time_us / 1e6
                self.clock.observe(beat_s, host_s)  # sent after the beat, like samples
                if person is not None and self.clock.fit is not None:
                    t = self._session_times(np.array([beat_s]))
                    rr = item.ibi_us / 1e6 if item.ibi_us else np.nan
                    out.append(HeartBeats(person, t, np.array([rr])))
            elif isinstance(item, StatusFrame):
                out += self._status(item, t_ns)
            elif isinstance(item, DeviceInfoFrame):
                # seq 0 is a boot, unless it follows 65535 (seq wraps every ~75 minutes)
                booted = item.seq == 0 and self._last_seq != 0xFFFF
                if self.board is not None and booted:
                    out += self._report_gaps()  # the old board's: it said where it ended
                    out.append(self._restarted(t_ns))
                if self.board is None or booted:
                    major, minor, patch = item.firmware_version
                    out.append(DeviceEvent(
                        self.info.device, t_ns, DeviceEventKind.STATUS,
                        f"board {item.board!r} firmware {major}.{minor}.{patch}, "
                        f"{item.n_channels} channels at {item.sample_rate_mhz / 1000:g} Hz"))
                self.board = item
            elif isinstance(item, SequenceGap):
                self._unjudged_gaps.append((item, t_ns))
            elif isinstance(item, CorruptFrame):
                out.append(DeviceEvent(self.info.device, t_ns, DeviceEventKind.ERROR,
                                       f"corrupt frame dropped: {item.reason}"))
            if not isinstance(item, (SequenceGap, CorruptFrame)):
                self._last_seq = item.seq
        return out

    def _judge_gaps(self, frame: SamplesFrame | StatusFrame | BeatFrame,
                    t_ns: int) -> list[DeviceEvent]:
        """Before a frame with a device time: if its time went back, the board restarted,
        and the first jump in seq since the last such frame is the restarted board
        counting from 0, not lost frames (any later jump is frames the new board lost);
        the other jumps are reported as lost frames."""
        if frame.device_time_us >= self._newest_us - RESTART_BACK_S * 1e6:
            return self._report_gaps()
        if self._unjudged_gaps:
            gap, _ = self._unjudged_gaps.pop(0)
            self.frames.restarted_at(gap)
        restart = self._restarted(t_ns, f"its clock went back from "
                                        f"{self._newest_us / 1e6:.2f} s to "
                                        f"{frame.device_time_us / 1e6:.2f} s")
        return [restart, *self._report_gaps()]

    def _report_gaps(self) -> list[DeviceEvent]:
        """The jumps in seq not judged yet, as lost frames."""
        out = [DeviceEvent(self.info.device, t_ns, DeviceEventKind.GAP,
                           f"{gap.missing} frame{'s' if gap.missing != 1 else ''} lost "
                           f"(seq {gap.expected} → {gap.received})")
               for gap, t_ns in self._unjudged_gaps]
        self._unjudged_gaps.clear()
        return out

    def _restarted(self, t_ns: int, why: str = "") -> DeviceEvent:
        """Forget the board's clock and belt states: it restarted and counts from 0."""
        self.clock.reset()
        self._plug_changes.clear()
        self._connected = self._clipping = None
        self._newest_us = -np.inf
        return DeviceEvent(self.info.device, t_ns, DeviceEventKind.STATUS,
                           f"board restarted ({why})" if why else "board restarted")

    def _session_times(self, device_s: np.ndarray) -> np.ndarray:
        host_s = self.clock.to_host(device_s)
        return host_s - self.session_start_ns / 1e9

    def _samples(self, frame: SamplesFrame, host_s: float) -> list[Decoded]:
        fs = frame.sample_rate_hz
        if fs <= 0:
            return []
        values = np.asarray(frame.samples, dtype=float)
        device_s = frame.device_time_us / 1e6 + np.arange(len(values)) / fs
        self._newest_us = max(self._newest_us, float(device_s[-1]) * 1e6)
        self.clock.observe(float(device_s[-1]), host_s)  # sent after its last sample
        times = self._session_times(device_s)
        out: list[Decoded] = []
        for channel, person in self.info.persons.items():
            if channel >= values.shape[1]:
                continue
            value = values[:, channel].copy()
            changes = self._plug_changes.get(channel)
            if changes:  # the state in force at each sample's own device time
                connected_now = np.ones(len(value), bool)
                for change_s, connected in changes:
                    connected_now[device_s >= change_s] = connected
                value[~connected_now] = np.nan
            out.append(BreathSamples(person, SignalKind.BELT, times, value, fs))
        return out

    def _status(self, frame: StatusFrame, t_ns: int) -> list[Decoded]:
        out: list[Decoded] = []
        clipping = list(frame.clipping)
        # a channel the last status did not carry (none yet, or fewer channels) is new:
        # its state holds all along
        was_connected, was_clipping = self._connected or (), self._clipping or ()
        for channel, person in self.info.persons.items():
            if channel >= len(frame.belt_connected):
                continue
            now_on, now_clip = frame.belt_connected[channel], frame.clipping[channel]
            first = channel >= len(was_connected)
            was_on = True if first else was_connected[channel]
            was_clip = False if first else was_clipping[channel]
            if now_on != was_on:
                changes = self._plug_changes.setdefault(channel, [])  # a new channel's state
                changes.append((-np.inf if first else frame.device_time_us / 1e6, now_on))
                del changes[:-4]  # a samples frame is never more than a few changes late
                state = "plugged in" if now_on else "unplugged"
                out.append(DeviceEvent(self.info.device, t_ns, DeviceEventKind.STATUS,
                                       f"belt of person {person} (channel {channel}) {state}"))
            # clipping counts only while the belt is (and was) in: an open input sits on a
            # rail, and the first status after re-plugging still carries that second's bit
            clipping[channel] = now_clip and now_on and was_on
            if clipping[channel] and not was_clip:
                out.append(DeviceEvent(self.info.device, t_ns, DeviceEventKind.STATUS,
                                       f"belt of person {person} (channel {channel}) clipping: "
                                       "loosen the belt or lower the gain"))
        self._connected, self._clipping = frame.belt_connected, tuple(clipping)
        return out
