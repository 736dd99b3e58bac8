"""Consistent Overhead Byte Stuffing (Cheshire & Baker, 1999).

COBS removes every zero byte from a frame so that ``0x00`` can delimit frames on a byte
stream; a reader that joins mid-stream resynchronises at the next zero.
"""

from __future__ import annotations

from ..errors import DecodeError

__all__ = ["cobs_decode", "cobs_encode"]


def cobs_encode(data: bytes) -> bytes:
    """Encode ``data`` so it contains no zero byte (the delimiter is not added)."""
    out = bytearray()
    for part in bytes(data).split(b"\0"):  # each zero ends a block; 254 bytes at most
        while len(part) >= 254:
            out.append(255)
            out += part[:254]
            part = part[254:]
        out.append(len(part) + 1)
        out += part
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Decode one COBS block (without its delimiter); raise DecodeError if malformed."""
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        code = data[i]
        if code == 0:
            raise DecodeError("COBS block contains a zero byte")
        end = i + code
        block = data[i + 1 : end]
        if len(block) != code - 1:
            raise DecodeError("COBS block is truncated")
        if 0 in block:
            raise DecodeError("COBS block contains a zero byte")
        out += block
        i = end
        if code != 255 and i < n:
            out.append(0)
    return bytes(out)
