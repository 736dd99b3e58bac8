"""Bluetooth SIG Heart Rate Measurement (0x2A37) and Battery Level (0x2A19), sans-I/O.

One BLE notification is one already-framed payload, so the API is
``parse_heart_rate(payload) -> HeartRateMeasurement`` with its inverse
:func:`encode_heart_rate`. Layout (little-endian)::

    flags u8 | hr u8 or u16 | [energy expended u16, kJ] | [RR u16 * k, 1/1024 s]

Flag bits: 0 = HR is uint16, 1-2 = sensor contact (2-bit field), 3 = energy present,
4 = RR intervals present (zero or more, oldest first, until the end of the payload).
The measurement carries no timestamp: RR values may be seconds old when they arrive.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from ..errors import DecodeError

__all__ = [
    "BATTERY_LEVEL_UUID",
    "BATTERY_SERVICE_UUID",
    "BODY_SENSOR_LOCATION_UUID",
    "HEART_RATE_MEASUREMENT_UUID",
    "HEART_RATE_SERVICE_UUID",
    "RR_UNITS_PER_S",
    "HeartRateMeasurement",
    "SensorContact",
    "encode_battery_level",
    "encode_heart_rate",
    "parse_battery_level",
    "parse_heart_rate",
]

HEART_RATE_SERVICE_UUID = "0000180d-0000-1000-8000-00805f9b34fb"
HEART_RATE_MEASUREMENT_UUID = "00002a37-0000-1000-8000-00805f9b34fb"
BODY_SENSOR_LOCATION_UUID = "00002a38-0000-1000-8000-00805f9b34fb"
BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"

RR_UNITS_PER_S = 1024  # RR intervals are counted in 1/1024 s

_FLAG_HR_UINT16 = 0x01
_CONTACT_SHIFT = 1
_CONTACT_MASK = 0x06
_FLAG_ENERGY = 0x08
_FLAG_RR = 0x10
_FLAGS_KNOWN = 0x1F

_U8 = struct.Struct("<B")
_U16 = struct.Struct("<H")


class SensorContact(enum.IntEnum):
    """The 2-bit sensor-contact field (flag bits 1-2), value = ``(flags >> 1) & 3``.

    Bit 2 says whether the feature is supported; bit 1 is the status and means nothing
    when the feature is unsupported. A Polar H10 reports "unsupported" on current
    firmware, so never treat 0/1 as "no contact".
    """

    UNSUPPORTED = 0
    UNSUPPORTED_STATUS_SET = 1  # status bit set without the supported bit: still unsupported
    NOT_DETECTED = 2
    DETECTED = 3

    @property
    def supported(self) -> bool:
        return self >= SensorContact.NOT_DETECTED

    @property
    def detected(self) -> bool | None:
        """True/False when supported, None when the strap cannot tell."""
        return (self == SensorContact.DETECTED) if self.supported else None


@dataclass(frozen=True, slots=True)
class HeartRateMeasurement:
    """One decoded 0x2A37 notification.

    ``rr_1024`` keeps the RR intervals losslessly in 1/1024 s units (oldest first);
    ``rr_s`` gives them in seconds. ``hr_uint16`` records the wire format of the heart
    rate so that encoding gives back the exact bytes.
    """

    hr_bpm: int
    contact: SensorContact = SensorContact.UNSUPPORTED
    energy_kj: int | None = None
    rr_1024: tuple[int, ...] = ()
    hr_uint16: bool = False
    rr_present: bool | None = None  # None: flag set iff rr_1024 is non-empty
    reserved_flags: int = 0  # flag bits 5-7 as received (ignored, kept for exact re-encoding)

    @property
    def rr_s(self) -> tuple[float, ...]:
        """RR intervals in seconds, oldest first."""
        return tuple(v / RR_UNITS_PER_S for v in self.rr_1024)

    @property
    def flags(self) -> int:
        rr_flag = bool(self.rr_1024) if self.rr_present is None else self.rr_present
        return (
            (_FLAG_HR_UINT16 if self.hr_uint16 else 0)
            | (int(self.contact) << _CONTACT_SHIFT)
            | (_FLAG_ENERGY if self.energy_kj is not None else 0)
            | (_FLAG_RR if rr_flag else 0)
            | (self.reserved_flags & ~_FLAGS_KNOWN & 0xFF)
        )


def parse_heart_rate(payload: bytes) -> HeartRateMeasurement:
    """Decode one Heart Rate Measurement notification.

    Parameters
    ----------
    payload : bytes
        The notification value exactly as received.

    Returns
    -------
    HeartRateMeasurement

    Raises
    ------
    DecodeError
        Empty or truncated payload, an odd number of RR bytes,
        or bytes left over when no RR field is announced.
    """
    data = bytes(payload)
    if not data:
        raise DecodeError("heart rate notification is empty")
    flags = data[0]
    pos = 1
    hr_uint16 = bool(flags & _FLAG_HR_UINT16)
    fmt = _U16 if hr_uint16 else _U8
    if len(data) < pos + fmt.size:
        raise DecodeError("heart rate notification truncated in the heart rate field")
    (hr_bpm,) = fmt.unpack_from(data, pos)
    pos += fmt.size
    energy: int | None = None
    if flags & _FLAG_ENERGY:
        if len(data) < pos + 2:
            raise DecodeError("heart rate notification truncated in the energy field")
        (energy,) = _U16.unpack_from(data, pos)
        pos += 2
    rest = data[pos:]
    rr_present = bool(flags & _FLAG_RR)
    if not rr_present and rest:
        raise DecodeError(f"heart rate notification has {len(rest)} unexpected trailing bytes")
    if len(rest) % 2:
        raise DecodeError("heart rate notification has an odd number of RR bytes")
    rr = struct.unpack(f"<{len(rest) // 2}H", rest)
    return HeartRateMeasurement(
        hr_bpm=hr_bpm,
        contact=SensorContact((flags & _CONTACT_MASK) >> _CONTACT_SHIFT),
        energy_kj=energy,
        rr_1024=tuple(rr),
        hr_uint16=hr_uint16,
        rr_present=None if bool(rr) == rr_present else rr_present,
        reserved_flags=flags & ~_FLAGS_KNOWN,
    )


def encode_heart_rate(measurement: HeartRateMeasurement) -> bytes:
    """Encode a measurement as a 0x2A37 notification (inverse of :func:`parse_heart_rate`).

    Raises
    ------
    ValueError
        A field does not fit its wire format (HR > 255 without ``hr_uint16``, RR > 65535).
    """
    m = measurement
    if not 0 <= m.hr_bpm <= (0xFFFF if m.hr_uint16 else 0xFF):
        raise ValueError(f"heart rate {m.hr_bpm} does not fit the chosen format")
    out = bytearray(_U8.pack(m.flags))
    out += (_U16 if m.hr_uint16 else _U8).pack(m.hr_bpm)
    if m.energy_kj is not None:
        out += _U16.pack(m.energy_kj)
    if m.rr_1024:
        out += struct.pack(f"<{len(m.rr_1024)}H", *m.rr_1024)
    return bytes(out)


def parse_battery_level(payload: bytes) -> int:
    """Battery Level (0x2A19): one byte, percent 0-100; DecodeError otherwise."""
    data = bytes(payload)
    if len(data) != 1:
        raise DecodeError(f"battery level must be 1 byte, got {len(data)}")
    if data[0] > 100:
        raise DecodeError(f"battery level {data[0]} % is out of range")
    return data[0]


def encode_battery_level(percent: int) -> bytes:
    """Inverse of :func:`parse_battery_level`."""
    if not 0 <= percent <= 100:
        raise ValueError(f"battery level {percent} % is out of range")
    return _U8.pack(percent)
