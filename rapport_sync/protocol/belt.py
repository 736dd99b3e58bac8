"""The firmware_bridge belt protocol, version 1 (see firmware_bridge/PROTOCOL.md).

Frames are COBS-encoded and each is followed by a ``0x00`` delimiter. A decoded frame is::

    version u8 | type u8 | seq u16 LE | body ... | crc16 LE

with CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over everything before the CRC.
All multi-byte fields are little-endian. :class:`FrameDecoder` is sans-I/O: bytes in,
frames out; it resynchronises after garbage, counts bad CRCs and reports sequence gaps.
"""

from __future__ import annotations

import binascii
import enum
import struct
from dataclasses import dataclass, field

from ..errors import DecodeError
from .cobs import cobs_decode, cobs_encode

__all__ = [
    "MAX_CHANNELS",
    "MAX_SAMPLES_PER_FRAME",
    "PROTOCOL_VERSION",
    "BeatFrame",
    "CorruptFrame",
    "DecoderStats",
    "DeviceInfoFrame",
    "Frame",
    "FrameDecoder",
    "FrameType",
    "SamplesFrame",
    "SequenceGap",
    "StatusFrame",
    "crc16_ccitt",
    "decode_frame",
    "encode_frame",
]

PROTOCOL_VERSION = 1
MAX_CHANNELS = 8
MAX_SAMPLES_PER_FRAME = 32
MAX_FRAME_BYTES = 4 + 14 + 2 * MAX_CHANNELS * MAX_SAMPLES_PER_FRAME + 2

_HEADER = struct.Struct("<BBH")  # version, type, seq
_SAMPLES = struct.Struct("<QIBB")  # device_time_us, sample_rate_mhz, n_channels, n_samples
_INFO = struct.Struct("<BBBBBIB")  # fw major, minor, patch, n_channels, adc_bits, rate_mhz, name len
_STATUS = struct.Struct("<QBBB")  # device_time_us, n_channels, connected mask, clipping mask
_BEAT = struct.Struct("<QBI")  # device_time_us, channel, ibi_us
_CRC = struct.Struct("<H")


class FrameType(enum.IntEnum):
    SAMPLES = 0x01
    DEVICE_INFO = 0x02
    STATUS = 0x03
    BEAT = 0x04


@dataclass(frozen=True, slots=True)
class SamplesFrame:
    """``samples[i][c]`` is sample ``i`` of channel ``c`` (signed ADC counts)."""

    seq: int
    device_time_us: int  # device time of the first sample in the frame
    sample_rate_mhz: int  # sampling rate in millihertz (50 Hz -> 50000)
    samples: tuple[tuple[int, ...], ...]

    @property
    def sample_rate_hz(self) -> float:
        return self.sample_rate_mhz / 1000.0

    @property
    def n_channels(self) -> int:
        return len(self.samples[0]) if self.samples else 0


@dataclass(frozen=True, slots=True)
class DeviceInfoFrame:
    seq: int
    firmware_version: tuple[int, int, int]
    n_channels: int
    adc_bits: int
    sample_rate_mhz: int
    board: str


@dataclass(frozen=True, slots=True)
class StatusFrame:
    """Per-channel belt state: ``belt_connected[c]`` and ``clipping[c]``."""

    seq: int
    device_time_us: int
    belt_connected: tuple[bool, ...]
    clipping: tuple[bool, ...]


@dataclass(frozen=True, slots=True)
class BeatFrame:
    """A heartbeat detected by the pulse sensor of ``channel`` (the person's belt channel)."""

    seq: int
    device_time_us: int
    channel: int
    ibi_us: int  # interval since the previous beat on this channel; 0 for the first


Frame = SamplesFrame | DeviceInfoFrame | StatusFrame | BeatFrame


@dataclass(frozen=True, slots=True)
class SequenceGap:
    """Frames were lost between ``expected`` and ``received`` (sequence numbers)."""

    expected: int
    received: int

    @property
    def missing(self) -> int:
        return (self.received - self.expected) % 65536


@dataclass(frozen=True, slots=True)
class CorruptFrame:
    """A delimited block that was not a valid frame (bad COBS, length, CRC or version)."""

    reason: str
    n_bytes: int


@dataclass(slots=True)
class DecoderStats:
    frames: int = 0
    crc_errors: int = 0
    malformed: int = 0
    frames_lost: int = 0
    bytes_skipped: int = 0  # bytes before the first good frame (joined mid-stream)
    unknown_types: int = 0
    by_type: dict[str, int] = field(default_factory=dict)


def crc16_ccitt(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final xor
    (``binascii.crc_hqx`` is this CRC from any start value; check value 0x29B1)."""
    return binascii.crc_hqx(data, crc)


def _bits(mask: int, n: int) -> tuple[bool, ...]:
    return tuple(bool(mask >> c & 1) for c in range(n))


def _mask(flags: tuple[bool, ...]) -> int:
    return sum(1 << c for c, on in enumerate(flags) if on)


def _body(frame: Frame) -> tuple[FrameType, bytes]:
    if isinstance(frame, SamplesFrame):
        ns, nc = len(frame.samples), frame.n_channels
        if not (1 <= ns <= MAX_SAMPLES_PER_FRAME and 1 <= nc <= MAX_CHANNELS):
            raise ValueError(f"a samples frame holds 1..{MAX_SAMPLES_PER_FRAME} samples "
                             f"of 1..{MAX_CHANNELS} channels, got {ns}x{nc}")
        if frame.sample_rate_mhz <= 0:
            raise ValueError("a samples frame needs a positive sample rate")
        if any(len(row) != nc for row in frame.samples):
            raise ValueError("every sample row must have the same number of channels")
        flat = [v for row in frame.samples for v in row]
        head = _SAMPLES.pack(frame.device_time_us, frame.sample_rate_mhz, nc, ns)
        return FrameType.SAMPLES, head + struct.pack(f"<{len(flat)}h", *flat)
    if isinstance(frame, DeviceInfoFrame):
        name = frame.board.encode("ascii")[:32]
        major, minor, patch = frame.firmware_version
        head = _INFO.pack(major, minor, patch, frame.n_channels, frame.adc_bits,
                          frame.sample_rate_mhz, len(name))
        return FrameType.DEVICE_INFO, head + name
    if isinstance(frame, StatusFrame):
        n = len(frame.belt_connected)
        if len(frame.clipping) != n or not 1 <= n <= MAX_CHANNELS:
            raise ValueError("status flags need one entry per channel (1..8)")
        body = _STATUS.pack(frame.device_time_us, n, _mask(frame.belt_connected),
                            _mask(frame.clipping))
        return FrameType.STATUS, body
    if isinstance(frame, BeatFrame):
        return FrameType.BEAT, _BEAT.pack(frame.device_time_us, frame.channel, frame.ibi_us)
    raise TypeError(f"not a belt frame: {frame!r}")


def encode_frame(frame: Frame) -> bytes:
    """The bytes on the wire for ``frame``: COBS block plus the ``0x00`` delimiter."""
    kind, body = _body(frame)
    raw = _HEADER.pack(PROTOCOL_VERSION, kind, frame.seq & 0xFFFF) + body
    raw += _CRC.pack(crc16_ccitt(raw))
    return cobs_encode(raw) + b"\x00"


def _parse_body(kind: int, seq: int, body: bytes) -> Frame:
    if kind == FrameType.SAMPLES:
        if len(body) < _SAMPLES.size:
            raise DecodeError("samples frame shorter than its header")
        t_us, rate, nc, ns = _SAMPLES.unpack_from(body)
        if not (1 <= nc <= MAX_CHANNELS and 1 <= ns <= MAX_SAMPLES_PER_FRAME):
            raise DecodeError(f"samples frame claims {ns} samples x {nc} channels")
        if rate == 0:  # sample times are device_time_us + i * 1e9 / rate
            raise DecodeError("samples frame has a sample rate of 0")
        if len(body) != _SAMPLES.size + 2 * nc * ns:
            raise DecodeError("samples frame length does not match its sample count")
        flat = struct.unpack_from(f"<{nc * ns}h", body, _SAMPLES.size)
        rows = tuple(tuple(flat[i * nc : (i + 1) * nc]) for i in range(ns))
        return SamplesFrame(seq, t_us, rate, rows)
    if kind == FrameType.DEVICE_INFO:
        if len(body) < _INFO.size:
            raise DecodeError("device-info frame shorter than its header")
        major, minor, patch, nc, bits, rate, n_name = _INFO.unpack_from(body)
        name = body[_INFO.size :]
        if n_name > 32 or len(name) != n_name:
            raise DecodeError("device-info frame length does not match its name length")
        try:
            board = name.decode("ascii")
        except UnicodeDecodeError as exc:
            raise DecodeError("device-info board name is not ASCII") from exc
        return DeviceInfoFrame(seq, (major, minor, patch), nc, bits, rate, board)
    if kind == FrameType.STATUS:
        if len(body) != _STATUS.size:
            raise DecodeError("status frame has the wrong length")
        t_us, nc, connected, clipping = _STATUS.unpack(body)
        if not 1 <= nc <= MAX_CHANNELS:
            raise DecodeError(f"status frame claims {nc} channels")
        return StatusFrame(seq, t_us, _bits(connected, nc), _bits(clipping, nc))
    if kind == FrameType.BEAT:
        if len(body) != _BEAT.size:
            raise DecodeError("beat frame has the wrong length")
        t_us, channel, ibi = _BEAT.unpack(body)
        return BeatFrame(seq, t_us, channel, ibi)
    raise DecodeError(f"unknown frame type 0x{kind:02x}")


def decode_frame(block: bytes) -> Frame:
    """Decode one COBS block (without the delimiter) into a frame, or raise DecodeError."""
    raw = cobs_decode(block)
    if len(raw) < _HEADER.size + _CRC.size:
        raise DecodeError(f"frame of {len(raw)} bytes is too short")
    if len(raw) > MAX_FRAME_BYTES:
        raise DecodeError(f"frame of {len(raw)} bytes is too long")
    (crc,) = _CRC.unpack_from(raw, len(raw) - 2)
    if crc16_ccitt(raw[:-2]) != crc:
        raise DecodeError("CRC mismatch")
    version, kind, seq = _HEADER.unpack_from(raw)
    if version != PROTOCOL_VERSION:
        raise DecodeError(f"protocol version {version} is not supported (this reads {PROTOCOL_VERSION})")
    return _parse_body(kind, seq, raw[_HEADER.size : -2])


class FrameDecoder:
    """Sans-I/O stream decoder: ``feed(bytes)`` returns frames, gaps and corrupt blocks.

    It never raises on device data. A block that fails to decode is returned as
    :class:`CorruptFrame` and counted; bytes before the first good frame are counted as
    skipped (a reader that joins mid-stream sees the tail of a frame first). A jump in
    sequence numbers is returned as :class:`SequenceGap` before the frame that shows it,
    and counted as lost frames unless the caller finds it was a board restart
    (:meth:`restarted_at`).
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._next_seq: int | None = None
        self._seen_good = False
        self.stats = DecoderStats()

    def feed(self, data: bytes) -> list[Frame | SequenceGap | CorruptFrame]:
        out: list[Frame | SequenceGap | CorruptFrame] = []
        self._buffer += data
        while True:
            end = self._buffer.find(0)
            if end < 0:
                if len(self._buffer) > 2 * MAX_FRAME_BYTES:  # no delimiter: line noise
                    out.append(self._reject(bytes(self._buffer), "no frame delimiter"))
                    self._buffer.clear()
                return out
            block = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if not block:
                continue  # idle delimiters are allowed between frames
            try:
                frame = decode_frame(block)
            except DecodeError as exc:
                out.append(self._reject(block, str(exc)))
                continue
            self._seen_good = True
            restarted = isinstance(frame, DeviceInfoFrame) and frame.seq == 0  # board reset
            if self._next_seq is not None and frame.seq != self._next_seq and not restarted:
                gap = SequenceGap(self._next_seq, frame.seq)
                self.stats.frames_lost += gap.missing
                out.append(gap)
            self._next_seq = (frame.seq + 1) & 0xFFFF
            self.stats.frames += 1
            name = type(frame).__name__
            self.stats.by_type[name] = self.stats.by_type.get(name, 0) + 1
            out.append(frame)

    def restarted_at(self, gap: SequenceGap) -> None:
        """Say that the board restarted at ``gap``, which this decoder returned: the jump
        in seq was the new board counting from 0, not lost frames, so it comes off
        ``stats.frames_lost``. A device-info frame with seq 0 says so by itself; when that
        frame was missed, only the frames' device times going back show it (the caller's
        judgement: a board's times are not checked here)."""
        self.stats.frames_lost -= gap.missing

    def _reject(self, block: bytes, reason: str) -> CorruptFrame:
        if not self._seen_good:
            self.stats.bytes_skipped += len(block)
        elif reason == "CRC mismatch":
            self.stats.crc_errors += 1
        elif reason.startswith("unknown frame type"):
            self.stats.unknown_types += 1
        else:
            self.stats.malformed += 1
        return CorruptFrame(reason, len(block))
