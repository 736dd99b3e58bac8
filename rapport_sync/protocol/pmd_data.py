"""Polar PMD data frames (notifications on ``FB005C82-…``): header, ECG, ACC, timestamps.

Frame layout::

    measurement type u8 | timestamp u64 LE | frame type u8 | payload

The timestamp is nanoseconds since 2000-01-01T00:00:00 on the *device* clock (an H10
whose clock was never set restarts at 2019-01-01) and belongs to the **last** sample of
the frame. Frame type bit 7 marks a delta-compressed frame; the low 7 bits number the
layout. ECG type 0: signed 24-bit µV per sample. ACC raw types 0/1/2: x, y, z as signed
8/16/24-bit integers in mG (the H10 sends type 1); compressed 0x80/0x81: a reference
sample followed by blocks ``delta bits u8 | count u8 | packed deltas`` with the bits
packed LSB first.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from ..errors import DecodeError
from .pmd import MeasurementType

__all__ = [
    "H10_UNSET_CLOCK_NS",
    "PMD_EPOCH_UNIX_NS",
    "AccSamples",
    "EcgSamples",
    "PmdFrame",
    "decode_acc",
    "decode_delta_samples",
    "decode_ecg",
    "encode_acc",
    "encode_delta_samples",
    "encode_ecg",
    "encode_pmd_frame",
    "parse_pmd_frame",
    "sample_times_ns",
]

PMD_EPOCH_UNIX_NS = 946_684_800_000_000_000  # 2000-01-01T00:00:00Z on the Unix time line
H10_UNSET_CLOCK_NS = 599_616_000_000_000_000  # 2019-01-01T00:00:00: an H10 that was never set

_HEADER = struct.Struct("<BQB")
_COMPRESSED = 0x80


@dataclass(frozen=True, slots=True)
class PmdFrame:
    """One PMD data notification, payload not yet interpreted."""

    measurement_type: int
    device_time_ns: int  # device clock, ns since 2000-01-01, time of the last sample
    frame_type: int  # low 7 bits of the frame-type byte
    compressed: bool
    payload: bytes


@dataclass(frozen=True, slots=True, eq=False)
class EcgSamples:
    """ECG samples of one frame; the last sample is at ``device_time_ns``."""

    device_time_ns: int
    microvolts: np.ndarray  # int32, shape (n,)


@dataclass(frozen=True, slots=True, eq=False)
class AccSamples:
    """Accelerometer samples of one frame in mG, shape (n, 3); last one at ``device_time_ns``."""

    device_time_ns: int
    mg: np.ndarray


def parse_pmd_frame(data: bytes) -> PmdFrame:
    """Split a PMD data notification into header fields and payload.

    Raises
    ------
    DecodeError
        Shorter than the 10-byte header.
    """
    data = bytes(data)
    if len(data) < _HEADER.size:
        raise DecodeError(f"PMD data frame too short ({len(data)} bytes, header is 10)")
    mtype, ts, ftype = _HEADER.unpack_from(data)
    return PmdFrame(mtype & 0x3F, ts, ftype & 0x7F, bool(ftype & _COMPRESSED), data[10:])


def encode_pmd_frame(frame: PmdFrame) -> bytes:
    """Inverse of :func:`parse_pmd_frame`."""
    ftype = (frame.frame_type & 0x7F) | (_COMPRESSED if frame.compressed else 0)
    return _HEADER.pack(frame.measurement_type, frame.device_time_ns, ftype) + frame.payload


def _signed_le(payload: bytes, width: int, count: int) -> np.ndarray:
    """``count`` signed little-endian integers of ``width`` bytes each, as int64."""
    raw = np.frombuffer(payload, dtype=np.uint8, count=count * width).reshape(count, width)
    value = np.zeros(count, dtype=np.int64)
    for i in range(width):
        value |= raw[:, i].astype(np.int64) << (8 * i)
    sign = np.int64(1) << (8 * width - 1)
    return (value ^ sign) - sign


def _pack_signed_le(values: np.ndarray, width: int) -> bytes:
    lo, hi = -(1 << (8 * width - 1)), (1 << (8 * width - 1)) - 1
    v = np.asarray(values, dtype=np.int64).ravel()
    if v.size and (v.min() < lo or v.max() > hi):
        raise ValueError(f"value does not fit {8 * width} bits")
    u = v & ((1 << (8 * width)) - 1)
    return (
        np.stack([(u >> (8 * i)) & 0xFF for i in range(width)], axis=-1).astype(np.uint8).tobytes()
    )


def _expect(frame: PmdFrame, mtype: MeasurementType) -> None:
    if frame.measurement_type != mtype:
        raise DecodeError(f"PMD frame is type {frame.measurement_type}, not {mtype.name}")


def decode_ecg(frame: PmdFrame) -> EcgSamples:
    """ECG frame type 0 (what the H10 sends): signed 24-bit µV per sample."""
    _expect(frame, MeasurementType.ECG)
    if frame.compressed or frame.frame_type != 0:
        raise DecodeError(f"unsupported ECG frame type 0x{frame.frame_type:02X}")
    if len(frame.payload) % 3:
        raise DecodeError(f"ECG payload of {len(frame.payload)} bytes is not whole samples")
    n = len(frame.payload) // 3
    return EcgSamples(frame.device_time_ns, _signed_le(frame.payload, 3, n).astype(np.int32))


def encode_ecg(device_time_ns: int, microvolts: np.ndarray) -> bytes:
    """An ECG frame type 0 notification."""
    payload = _pack_signed_le(np.asarray(microvolts), 3)
    return encode_pmd_frame(PmdFrame(MeasurementType.ECG, device_time_ns, 0, False, payload))


def decode_delta_samples(payload: bytes, channels: int = 3, width: int = 2) -> np.ndarray:
    """Decode a delta-compressed payload into raw integer samples, shape (n, channels).

    The reference sample is ``channels`` signed little-endian values of ``width`` bytes;
    each following block is ``delta bits | sample count | packed deltas``, deltas packed
    LSB first (bit i of byte k is stream bit 8k+i), sign-extended and accumulated.
    """
    ref_size = channels * width
    if len(payload) < ref_size:
        raise DecodeError("delta frame shorter than its reference sample")
    samples = [_signed_le(payload[:ref_size], width, channels)]
    pos = ref_size
    current = samples[0].copy()
    while pos < len(payload):
        if pos + 2 > len(payload):
            raise DecodeError("delta frame truncated in a block header")
        bits, count = payload[pos], payload[pos + 1]
        pos += 2
        if not 1 <= bits <= 32:
            raise DecodeError(f"delta frame has an invalid delta width of {bits} bits")
        nbytes = (bits * channels * count + 7) // 8
        if pos + nbytes > len(payload):
            raise DecodeError("delta frame truncated in a delta block")
        if count == 0:
            continue
        stream = np.unpackbits(np.frombuffer(payload, np.uint8, nbytes, pos), bitorder="little")[
            : bits * channels * count
        ].reshape(count * channels, bits)
        pos += nbytes
        weights = np.int64(1) << np.arange(bits, dtype=np.int64)
        deltas = stream.astype(np.int64) @ weights
        sign = np.int64(1) << (bits - 1)
        deltas = ((deltas ^ sign) - sign).reshape(count, channels)
        block = current + np.cumsum(deltas, axis=0)
        samples.extend(block)
        current = block[-1]
    return np.vstack(samples)


def encode_delta_samples(samples: np.ndarray, width: int = 2, block: int = 255) -> bytes:
    """Inverse of :func:`decode_delta_samples`, using the narrowest delta width per block."""
    s = np.asarray(samples, dtype=np.int64)
    if s.ndim != 2 or s.shape[0] == 0:
        raise ValueError("samples must have shape (n >= 1, channels)")
    out = bytearray(_pack_signed_le(s[0], width))
    deltas = np.diff(s, axis=0)
    for start in range(0, len(deltas), block):
        d = deltas[start : start + block]
        peak = int(max(d.max(), -d.min() - 1, 0))
        bits = max(1, peak.bit_length() + 1)
        u = (d.ravel() & ((1 << bits) - 1)).astype(np.uint64)
        stream = ((u[:, None] >> np.arange(bits, dtype=np.uint64)) & 1).astype(np.uint8).ravel()
        out += bytes((bits, len(d))) + np.packbits(stream, bitorder="little").tobytes()
    return bytes(out)


_RAW_WIDTH = {0: 1, 1: 2, 2: 3}


def decode_acc(frame: PmdFrame, factor: float = 1.0) -> AccSamples:
    """ACC frame to mG: raw types 0/1/2 (8/16/24-bit), compressed 0x80 (values × factor
    × 1000, G units) and 0x81 (values × factor), with a 16-bit reference sample."""
    _expect(frame, MeasurementType.ACC)
    if frame.compressed:
        if frame.frame_type not in (0, 1):
            raise DecodeError(f"unsupported compressed ACC frame type 0x{frame.frame_type:02X}")
        raw = decode_delta_samples(frame.payload, 3, 2)
        scale = factor * 1000.0 if frame.frame_type == 0 else factor
        return AccSamples(frame.device_time_ns, raw * scale)
    width = _RAW_WIDTH.get(frame.frame_type)
    if width is None:
        raise DecodeError(f"unsupported ACC frame type 0x{frame.frame_type:02X}")
    if len(frame.payload) % (3 * width):
        raise DecodeError(f"ACC payload of {len(frame.payload)} bytes is not whole samples")
    n = len(frame.payload) // (3 * width)
    raw = _signed_le(frame.payload, width, 3 * n).reshape(n, 3)
    return AccSamples(frame.device_time_ns, raw * float(factor))


def encode_acc(device_time_ns: int, mg: np.ndarray, frame_type: int = 1) -> bytes:
    """An ACC raw frame (type 0/1/2) notification from integer mG samples of shape (n, 3)."""
    width = _RAW_WIDTH[frame_type]
    payload = _pack_signed_le(np.rint(np.asarray(mg)).astype(np.int64), width)
    return encode_pmd_frame(
        PmdFrame(MeasurementType.ACC, device_time_ns, frame_type, False, payload)
    )


def sample_times_ns(
    frame_time_ns: int, n: int, rate_hz: float, previous_time_ns: int | None = None
) -> np.ndarray:
    """Device times of the ``n`` samples of a frame whose last sample is at ``frame_time_ns``.

    Polar's rule: with a previous frame of the same stream, spread the interval since it
    evenly (``Δ = (t − t_prev)/n``); without one, step back ``1/rate_hz`` per sample. The
    last sample gets the frame time exactly.
    """
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    if previous_time_ns is not None and previous_time_ns < frame_time_ns:
        step = (frame_time_ns - previous_time_ns) / n
        first = previous_time_ns + step
    else:
        step = 1e9 / rate_hz
        first = frame_time_ns - step * (n - 1)
    times = np.rint(first + step * np.arange(n)).astype(np.int64)
    times[-1] = frame_time_ns
    return times
