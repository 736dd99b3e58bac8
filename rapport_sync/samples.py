"""Records that cross layer boundaries: the stamped raw chunk and aligned per-person samples.

A source produces :class:`Chunk` objects: the bytes a device sent, untouched, stamped on
arrival with ``time.monotonic_ns()`` (or the injected clock). Everything downstream is
derived from chunks, so a session can always be replayed from its raw store.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

__all__ = [
    "PayloadKind",
    "Chunk",
    "SignalKind",
    "BreathSamples",
    "HeartBeats",
    "DeviceEventKind",
    "DeviceEvent",
]


class PayloadKind(enum.StrEnum):
    """What the bytes of a chunk are, so the right decoder can be chosen on replay."""

    BELT = "belt"  # a byte stream of the firmware_bridge belt protocol (COBS frames)
    HEART_RATE = "hrm"  # one BLE Heart Rate Measurement (0x2A37) notification
    PMD_DATA = "pmd_data"  # one Polar PMD data notification
    PMD_CONTROL = "pmd_cp"  # one Polar PMD control-point indication
    BATTERY = "battery"  # one Battery Level (0x2A19) read or notification
    LSL = "lsl"  # one pulled LSL chunk, packed (see sources/lsl.py)


@dataclass(frozen=True, slots=True)
class Chunk:
    """Bytes from one device as they arrived.

    Attributes
    ----------
    device : str
        Stable id of the device within the session (e.g. ``"belt0"``, ``"ble:AA:BB:..."``).
    host_time_ns : int
        Arrival time on the host's monotonic clock, in nanoseconds.
    kind : PayloadKind
        Which decoder reads ``payload``.
    payload : bytes
        The bytes exactly as the device sent them.
    """

    device: str
    host_time_ns: int
    kind: PayloadKind
    payload: bytes


class SignalKind(enum.StrEnum):
    """Where a person's breathing signal comes from; the weaker ones get a lower quality."""

    BELT = "belt"  # stretch/force belt: the most direct breathing signal
    ACCELEROMETER = "acc"  # chest accelerometer (e.g. Polar H10 ACC)
    ECG_DERIVED = "edr"  # ECG-derived respiration
    RR_DERIVED = "rr"  # respiratory sinus arrhythmia from RR intervals: weakest fallback


@dataclass(frozen=True, slots=True, eq=False)
class BreathSamples:
    """Breathing samples of one person on the session clock.

    ``time_s`` are session seconds (device clock mapped to host clock), ``value`` the
    raw signal in device units (belt ADC counts, acceleration in mg ...). For
    accelerometer signals ``value`` has shape (n, 3).
    """

    person: str
    kind: SignalKind
    time_s: np.ndarray
    value: np.ndarray
    rate_hz: float


@dataclass(frozen=True, slots=True, eq=False)
class HeartBeats:
    """Heartbeats of one person: beat times in session seconds and the RR interval ending there."""

    person: str
    time_s: np.ndarray
    rr_s: np.ndarray


class DeviceEventKind(enum.StrEnum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    RECONNECTING = "reconnecting"
    GAP = "gap"  # samples missing (sequence gap, dropped bytes)
    STATUS = "status"  # device-reported status (belt unplugged, clipping, battery)
    ERROR = "error"  # malformed data, counted and skipped


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """Something that happened to a device, stamped on the host clock."""

    device: str
    host_time_ns: int
    kind: DeviceEventKind
    detail: str = ""
