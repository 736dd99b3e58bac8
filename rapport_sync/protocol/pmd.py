"""Polar Measurement Data (PMD) control point: requests, responses, settings, features.

The control point (CP, ``FB005C81-…``) is written with requests and answers with
*indications* on the same characteristic (reading it returns only the feature bitmap).
Requests: ``opcode | (recording << 7 | measurement type) | settings TLV``. Responses:
``F0 | opcode | type | status | more | parameters``. The device may also send
``01 | type…`` on its own when it stopped a stream (MEASUREMENT_STOPPED).

Settings TLV: ``setting type u8 | count u8 | value * count``, little-endian, with value
sizes that differ per type (CHANNELS is 1 byte, FACTOR a 4-byte float).
Data frames on ``FB005C82-…`` are in :mod:`rapport_sync.protocol.pmd_data`.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import DecodeError

__all__ = [
    "PMD_CONTROL_POINT_UUID",
    "PMD_DATA_UUID",
    "PMD_SERVICE_UUID",
    "ControlPointRequest",
    "ControlPointResponse",
    "Features",
    "MeasurementStopped",
    "MeasurementType",
    "Opcode",
    "SettingType",
    "Settings",
    "Status",
    "encode_features",
    "encode_get_settings",
    "encode_measurement_stopped",
    "encode_request",
    "encode_response",
    "encode_settings",
    "encode_start",
    "encode_stop",
    "parse_control_point",
    "parse_features",
    "parse_request",
    "parse_settings",
]

PMD_SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL_POINT_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

_RESPONSE_CODE = 0xF0
_STOPPED_CODE = 0x01
_FEATURES_CODE = 0x0F
_TYPE_MASK = 0x3F
_OFFLINE_BIT = 0x80


class MeasurementType(enum.IntEnum):
    ECG = 0
    PPG = 1
    ACC = 2
    PPI = 3
    GYRO = 5
    MAGNETOMETER = 6
    SKIN_TEMP = 7
    SDK_MODE = 9
    LOCATION = 10
    PRESSURE = 11
    TEMPERATURE = 12
    OFFLINE_RECORDING = 13
    OFFLINE_HR = 14


class Opcode(enum.IntEnum):
    GET_MEASUREMENT_SETTINGS = 0x01
    REQUEST_MEASUREMENT_START = 0x02
    STOP_MEASUREMENT = 0x03
    GET_SDK_MODE_MEASUREMENT_SETTINGS = 0x04
    GET_MEASUREMENT_STATUS = 0x05
    GET_SDK_MODE_STATUS = 0x06
    GET_OFFLINE_RECORDING_TRIGGER_STATUS = 0x07
    SET_OFFLINE_RECORDING_TRIGGER_MODE = 0x08
    SET_OFFLINE_RECORDING_TRIGGER_SETTINGS = 0x09


class Status(enum.IntEnum):
    SUCCESS = 0
    INVALID_OP_CODE = 1
    INVALID_MEASUREMENT_TYPE = 2
    NOT_SUPPORTED = 3
    INVALID_LENGTH = 4
    INVALID_PARAMETER = 5
    ALREADY_IN_STATE = 6  # START while running ("already running") or STOP while stopped
    INVALID_RESOLUTION = 7
    INVALID_SAMPLE_RATE = 8
    INVALID_RANGE = 9
    INVALID_MTU = 10
    INVALID_NUMBER_OF_CHANNELS = 11
    INVALID_STATE = 12
    DEVICE_IN_CHARGER = 13
    DISK_FULL = 14


class SettingType(enum.IntEnum):
    SAMPLE_RATE = 0  # Hz, u16
    RESOLUTION = 1  # bits, u16
    RANGE = 2  # G (ACC) or other unit, u16
    RANGE_MILLIUNIT = 3  # u32, no longer used
    CHANNELS = 4  # u8
    FACTOR = 5  # float32: multiply raw values by it
    SECURITY = 6  # 16 bytes


# Value format of each setting type: a struct code per value.
_SETTING_FORMATS: dict[SettingType, struct.Struct] = {
    SettingType.SAMPLE_RATE: struct.Struct("<H"),
    SettingType.RESOLUTION: struct.Struct("<H"),
    SettingType.RANGE: struct.Struct("<H"),
    SettingType.RANGE_MILLIUNIT: struct.Struct("<I"),
    SettingType.CHANNELS: struct.Struct("<B"),
    SettingType.FACTOR: struct.Struct("<f"),
    SettingType.SECURITY: struct.Struct("<16s"),
}

Settings = dict[SettingType, tuple[object, ...]]


def parse_settings(data: bytes) -> Settings:
    """Decode a settings TLV list into ``{setting type: (values...)}`` (wire order kept).

    Raises
    ------
    DecodeError
        Unknown setting type (its size is unknown), a repeated type, or truncation.
    """
    data = bytes(data)
    out: Settings = {}
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise DecodeError("PMD settings truncated in a type/count header")
        code, count = data[pos], data[pos + 1]
        pos += 2
        try:
            kind = SettingType(code)
        except ValueError:
            raise DecodeError(f"unknown PMD setting type {code}") from None
        if kind in out:
            raise DecodeError(f"PMD setting {kind.name} appears twice")
        fmt = _SETTING_FORMATS[kind]
        if pos + fmt.size * count > len(data):
            raise DecodeError(f"PMD setting {kind.name} truncated")
        out[kind] = tuple(fmt.unpack_from(data, pos + i * fmt.size)[0] for i in range(count))
        pos += fmt.size * count
    return out


def encode_settings(settings: Mapping[SettingType, tuple[object, ...] | object]) -> bytes:
    """Encode settings as TLV; a single value is sent with count 1 (as START requests do)."""
    out = bytearray()
    for kind, values in settings.items():
        kind = SettingType(kind)
        vals = values if isinstance(values, tuple) else (values,)
        if len(vals) > 255:
            raise ValueError(f"too many values for PMD setting {kind.name}")
        out += bytes((kind, len(vals)))
        for value in vals:
            out += _SETTING_FORMATS[kind].pack(value)
    return bytes(out)


@dataclass(frozen=True, slots=True)
class ControlPointRequest:
    """A client → device CP write."""

    opcode: Opcode
    measurement_type: int
    offline: bool = False
    settings: Settings = field(default_factory=dict)


def encode_request(request: ControlPointRequest) -> bytes:
    """Bytes of a CP write (inverse of :func:`parse_request`)."""
    kind = (_OFFLINE_BIT if request.offline else 0) | (request.measurement_type & _TYPE_MASK)
    return bytes((request.opcode, kind)) + encode_settings(request.settings)


def parse_request(data: bytes) -> ControlPointRequest:
    """Decode a CP write (what the simulated strap receives)."""
    data = bytes(data)
    if len(data) < 2:
        raise DecodeError(f"PMD request too short ({len(data)} bytes)")
    try:
        opcode = Opcode(data[0])
    except ValueError:
        raise DecodeError(f"unknown PMD opcode 0x{data[0]:02X}") from None
    return ControlPointRequest(
        opcode, data[1] & _TYPE_MASK, bool(data[1] & _OFFLINE_BIT), parse_settings(data[2:])
    )


def encode_get_settings(measurement_type: int) -> bytes:
    """GET_MEASUREMENT_SETTINGS for one measurement type, e.g. ``01 02`` for ACC."""
    return encode_request(ControlPointRequest(Opcode.GET_MEASUREMENT_SETTINGS, measurement_type))


def encode_start(
    measurement_type: int, settings: Mapping[SettingType, tuple[object, ...] | object]
) -> bytes:
    """REQUEST_MEASUREMENT_START, e.g. ``02 02 00 01 C8 00 01 01 10 00 02 01 08 00``."""
    return encode_request(
        ControlPointRequest(
            Opcode.REQUEST_MEASUREMENT_START,
            measurement_type,
            False,
            {SettingType(k): v if isinstance(v, tuple) else (v,) for k, v in settings.items()},
        )
    )


def encode_stop(measurement_type: int) -> bytes:
    """STOP_MEASUREMENT, e.g. ``03 02`` for ACC (``01 xx`` is GET_SETTINGS, not stop)."""
    return encode_request(ControlPointRequest(Opcode.STOP_MEASUREMENT, measurement_type))


@dataclass(frozen=True, slots=True)
class ControlPointResponse:
    """A device → client CP indication answering a request."""

    opcode: int
    measurement_type: int
    status: int
    more: int = 0
    parameters: bytes = b""

    @property
    def ok(self) -> bool:
        return self.status == Status.SUCCESS

    @property
    def status_name(self) -> str:
        try:
            return Status(self.status).name
        except ValueError:
            return f"STATUS_{self.status}"

    def settings(self) -> Settings:
        """The parameters as a settings TLV (GET_SETTINGS and START responses)."""
        return parse_settings(self.parameters)


@dataclass(frozen=True, slots=True)
class MeasurementStopped:
    """Unsolicited CP message: the device stopped these online streams by itself."""

    measurement_types: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Features:
    """The feature bitmap returned by an ATT *read* of the CP (``0F …``)."""

    measurement_types: frozenset[MeasurementType]
    raw: bytes


def parse_control_point(data: bytes) -> ControlPointResponse | MeasurementStopped | Features:
    """Decode one CP indication (or CP read value).

    Raises
    ------
    DecodeError
        Empty, unknown leading byte, or a response shorter than its 5-byte header.
    """
    data = bytes(data)
    if not data:
        raise DecodeError("PMD control point message is empty")
    code = data[0]
    if code == _RESPONSE_CODE:
        if len(data) < 5:
            raise DecodeError(f"PMD control point response too short ({len(data)} bytes)")
        return ControlPointResponse(data[1], data[2], data[3], data[4], data[5:])
    if code == _STOPPED_CODE:
        return MeasurementStopped(tuple(b & _TYPE_MASK for b in data[1:]))
    if code == _FEATURES_CODE:
        return parse_features(data)
    raise DecodeError(f"unknown PMD control point message 0x{code:02X}")


def encode_response(response: ControlPointResponse) -> bytes:
    """Bytes of a CP response indication (inverse of :func:`parse_control_point`)."""
    r = response
    return bytes((_RESPONSE_CODE, r.opcode, r.measurement_type, r.status, r.more)) + r.parameters


def encode_measurement_stopped(measurement_types: tuple[int, ...]) -> bytes:
    """The unsolicited ``01 types…`` message."""
    return bytes((_STOPPED_CODE, *measurement_types))


# Feature bitmap: (byte index, bit) of each measurement type.
_FEATURE_BITS: dict[MeasurementType, tuple[int, int]] = {
    MeasurementType.ECG: (1, 0x01),
    MeasurementType.PPG: (1, 0x02),
    MeasurementType.ACC: (1, 0x04),
    MeasurementType.PPI: (1, 0x08),
    MeasurementType.GYRO: (1, 0x20),
    MeasurementType.MAGNETOMETER: (1, 0x40),
    MeasurementType.SKIN_TEMP: (1, 0x80),
    MeasurementType.SDK_MODE: (2, 0x02),
    MeasurementType.LOCATION: (2, 0x04),
    MeasurementType.PRESSURE: (2, 0x08),
    MeasurementType.TEMPERATURE: (2, 0x10),
    MeasurementType.OFFLINE_RECORDING: (2, 0x20),
    MeasurementType.OFFLINE_HR: (2, 0x40),
}


def parse_features(data: bytes) -> Features:
    """Decode ``0F b1 b2 …``; an H10 answers ``0F 05 00 …`` (ECG + ACC)."""
    data = bytes(data)
    if len(data) < 2 or data[0] != _FEATURES_CODE:
        raise DecodeError("not a PMD feature read response")
    padded = data + b"\x00\x00"
    types = frozenset(t for t, (i, bit) in _FEATURE_BITS.items() if padded[i] & bit)
    return Features(types, data)


def encode_features(measurement_types: frozenset[MeasurementType] | set[MeasurementType]) -> bytes:
    """A 17-byte feature read value for the given measurement types."""
    out = bytearray(17)
    out[0] = _FEATURES_CODE
    for t in measurement_types:
        i, bit = _FEATURE_BITS[MeasurementType(t)]
        out[i] |= bit
    return bytes(out)
