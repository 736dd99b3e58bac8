"""Simulated sensors: a virtual two-belt board that speaks the real belt protocol.

:class:`VirtualBeltBoard` turns the two-person simulator into the bytes a
firmware_bridge board sends (device info, status, sample and beat frames), on the board's
own clock (booted before the session, running ``drift_ppm`` fast). :class:`SimSource`
paces those bytes onto the host clock without drift (each frame's send time is computed
from the start, never accumulated), adds a small USB transport delay, and stamps them on
arrival like any real source. With a :class:`~rapport_sync.sources.base.VirtualClock`
a session runs as fast as the CPU allows.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..dsp.simulate import DEFAULT_SCRIPT, CouplingScript, DyadSimulator
from ..errors import ConfigError
from ..protocol.belt import BeatFrame, DeviceInfoFrame, Frame, SamplesFrame, StatusFrame, encode_frame
from ..samples import Chunk, DeviceEvent, DeviceEventKind, PayloadKind
from .base import (
    MAX_DURATION_S,
    MAX_SEED,
    Clock,
    DeviceInfo,
    Emit,
    MonotonicClock,
    Source,
    number_option,
)

__all__ = ["SCRIPTS", "VirtualBeltBoard", "SimSource", "open_sim", "parse_sim_options"]

FIRMWARE_VERSION = (1, 0, 0)

SCRIPTS: dict[str, CouplingScript] = {
    "default": DEFAULT_SCRIPT,
    "independent": CouplingScript.constant(0.0),
    "coupled": CouplingScript.constant(1.0, 1.5),
    "a-leads": CouplingScript.constant(1.0, 1.2),
    "b-leads": CouplingScript.constant(1.0, -1.5),
    "together": CouplingScript.constant(1.0, 0.0),
}


class VirtualBeltBoard:
    """A two-channel belt board (plus a pulse sensor per person) driven by the simulator.

    Parameters
    ----------
    seed : int
        Seed of the simulated people.
    fs : float
        Sampling rate of the belts in Hz.
    frame_samples : int
        Samples per frame (5 at 50 Hz = 10 frames/s).
    drift_ppm : float
        How fast the board's crystal runs, in parts per million.
    boot_s : float
        Board time at the session's first sample (it booted earlier).
    script : CouplingScript
        Coupling over time.
    """

    def __init__(self, seed: int = 0, fs: float = 50.0, frame_samples: int = 5,
                 drift_ppm: float = 30.0, boot_s: float = 12.345,
                 script: CouplingScript = DEFAULT_SCRIPT) -> None:
        self.fs = fs
        self.frame_samples = frame_samples
        self.frame_period_s = frame_samples / fs
        self.drift = drift_ppm * 1e-6
        self.boot_s = boot_s
        self.sim = DyadSimulator(fs=fs, seed=seed, script=script)
        self._seq = 0
        self._frames_sent = 0
        self._next_info_s = 0.0
        self.belt_connected = [True, True]

    def board_time_s(self, session_s: float) -> float:
        """Board clock reading at a true (session) time."""
        return self.boot_s + float(session_s) * (1.0 + self.drift)

    def session_time_s(self, board_s: float) -> float:
        return (board_s - self.boot_s) / (1.0 + self.drift)

    def _frame(self, frame_cls: type, *fields: object) -> bytes:
        frame: Frame = frame_cls(self._seq, *fields)
        self._seq = (self._seq + 1) & 0xFFFF
        return encode_frame(frame)

    def next_frame_bytes(self) -> tuple[float, bytes]:
        """Bytes of the next sample frame (with any info, status and beat frames due);
        returns the board time at which the board sends them (after its last sample)."""
        out = bytearray()
        t0_session = self._frames_sent * self.frame_period_s
        if t0_session >= self._next_info_s:
            rate_mhz = int(round(self.fs * 1000))
            out += self._frame(DeviceInfoFrame, FIRMWARE_VERSION, 2, 12, rate_mhz, "virtual-belt")
            clipping = (False, False)
            out += self._frame(StatusFrame, int(self.board_time_s(t0_session) * 1e6),
                               tuple(self.belt_connected), clipping)
            self._next_info_s += 1.0
        block = self.sim.step(self.frame_samples)
        rows = tuple(zip(block.a.belt.astype(int).tolist(), block.b.belt.astype(int).tolist()))
        t0_us = int(round(self.board_time_s(t0_session) * 1e6))
        out += self._frame(SamplesFrame, t0_us, int(round(self.fs * 1000)), rows)
        for channel, person in enumerate((block.a, block.b)):
            for beat_s, rr_s in zip(person.beat_times_s, person.rr_s):
                ibi = 0 if not np.isfinite(rr_s) else int(round(rr_s * 1e6))
                out += self._frame(BeatFrame, int(round(self.board_time_s(beat_s) * 1e6)),
                                   channel, ibi)
        self._frames_sent += 1
        last_sample_s = t0_session + (self.frame_samples - 1) / self.fs
        return self.board_time_s(last_sample_s), bytes(out)

    def read_until(self, board_time_s: float) -> bytes:
        """All bytes the board has sent up to ``board_time_s`` on its own clock."""
        out = bytearray()
        while True:
            last_s = (self._frames_sent + 1) * self.frame_period_s - 1.0 / self.fs
            if self.board_time_s(last_s) > board_time_s:
                return bytes(out)
            out += self.next_frame_bytes()[1]


def parse_sim_options(target: str) -> dict[str, str]:
    """``seed=3,script=coupled,fs=50,duration=600`` → dict; a bare word is the script."""
    options: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in target.split(","))):
        key, sep, value = part.partition("=")
        if not sep:
            key, value = "script", key
        if key not in {"seed", "script", "fs", "duration"}:
            raise ConfigError(f"unknown simulator option {key!r} (seed=, script=, fs=, duration=)")
        options[key] = value
    script = options.get("script", "default")
    if script not in SCRIPTS:
        raise ConfigError(f"unknown simulator script {script!r}; one of {', '.join(SCRIPTS)}")
    return options


class SimSource(Source):
    """Streams a :class:`VirtualBeltBoard` as if it were on a serial port."""

    def __init__(self, board: VirtualBeltBoard, persons: Mapping[int, str],
                 clock: Clock | None = None, seed: int = 0,
                 duration_s: float | None = None) -> None:
        super().__init__(clock or MonotonicClock())
        self.board = board
        self.persons = dict(persons)
        self.duration_s = duration_s
        self._rng = np.random.default_rng(seed + 7919)
        self.device_id = "sim-belt"

    @property
    def devices(self) -> list[DeviceInfo]:
        return [DeviceInfo(self.device_id, "belt", self.persons,
                           "simulated two-belt board (belt protocol v1)",
                           {"breathing": "belt", "simulated": True})]

    def _run(self, emit: Emit) -> None:
        start_ns = self.clock.now_ns()
        emit(DeviceEvent(self.device_id, start_ns, DeviceEventKind.CONNECTED, "simulated board"))
        board = self.board
        while not self._stop.is_set():
            board_s, data = board.next_frame_bytes()
            session_s = board.session_time_s(board_s)
            if self.duration_s is not None and session_s > self.duration_s:
                return
            delay_s = 0.002 + self._rng.gamma(2.0, 0.003)  # USB + OS scheduling
            due_ns = start_ns + int((session_s + delay_s) * 1e9)
            if not self.clock.sleep_until_ns(due_ns, self._stop):
                return
            emit(Chunk(self.device_id, self.clock.now_ns(), PayloadKind.BELT, data))


def open_sim(target: str, persons: Mapping[str | None, str], clock: Clock) -> SimSource:
    """Backend ``sim``: one virtual board; channel 0 and 1 are the two people."""
    options = parse_sim_options(target)
    seed = number_option(options.get("seed", "0"), "seed", int, at_least=0, at_most=MAX_SEED)
    channels: dict[int, str] = {}
    for channel, person in persons.items():
        if channel is not None and channel not in ("0", "1", 0, 1):
            raise ConfigError(f"the simulated board has channels 0 and 1, not {channel}")
        channels[int(channel) if channel is not None else (0 if person == "a" else 1)] = person
    board = VirtualBeltBoard(seed=seed, fs=number_option(options.get("fs", "50"), "fs",
                                                         at_least=1, at_most=1000),
                             script=SCRIPTS[options.get("script", "default")])
    duration = (number_option(options["duration"], "duration", positive=True,
                              at_most=MAX_DURATION_S)
                if "duration" in options else None)
    source = SimSource(board, channels, clock, seed=seed, duration_s=duration)
    source.device_id = f"sim-belt-{seed}"  # boards of other seeds are other boards
    return source
