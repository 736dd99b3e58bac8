"""How one pulled Lab Streaming Layer chunk is stored: packed bytes, sans-I/O.

The LSL source (``sources/lsl.py``) never interprets samples: it packs what
``StreamInlet.pull_chunk`` returned, the stream's clock correction and the receiver's
``local_clock()`` at the moment of the pull into one payload, which the session store keeps
as a ``PayloadKind.LSL`` chunk. The session's LSL decoder unpacks it. Layout
(little-endian)::

    magic "RL" | version u8 | 0 u8 | n_samples u32 | n_channels u16 | 0 u16
    | time_correction_s f64 | local_clock_s f64 | timestamps f64 * n | values f64 * n * c

``timestamps`` are the sender's ``local_clock()`` stamps as LSL delivered them (no
correction applied); ``time_correction_s`` is the last value of
``inlet.time_correction()`` (add it to a timestamp to get the receiver's clock);
``local_clock_s`` is the receiver's ``local_clock()`` right after the pull. Values are
stored as float64 whatever the stream's numeric channel format was.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from ..errors import DecodeError

__all__ = ["LSL_CHUNK_VERSION", "LslChunk", "encode_lsl_chunk", "parse_lsl_chunk"]

LSL_CHUNK_VERSION = 1
_MAGIC = b"RL"
_HEADER = struct.Struct("<2sBBIHHdd")


@dataclass(frozen=True, slots=True, eq=False)
class LslChunk:
    """One pulled chunk: ``values`` has shape ``(n_samples, n_channels)``."""

    timestamps_s: np.ndarray
    values: np.ndarray
    time_correction_s: float
    local_clock_s: float


def encode_lsl_chunk(timestamps_s: np.ndarray, values: np.ndarray, time_correction_s: float,
                     local_clock_s: float) -> bytes:
    """Pack one chunk (inverse of :func:`parse_lsl_chunk`).

    Parameters
    ----------
    timestamps_s : array, shape (n,)
        Sender clock stamps of the samples.
    values : array, shape (n, c)
        Samples (any numeric dtype; stored as float64).
    time_correction_s, local_clock_s : float
        See the module docstring.
    """
    ts = np.ascontiguousarray(timestamps_s, dtype="<f8").reshape(-1)
    v = np.asarray(values, dtype="<f8")
    if v.ndim == 1:
        v = v.reshape(len(ts), -1) if len(ts) else v.reshape(0, 1)
    if v.ndim != 2 or v.shape[0] != ts.size:
        raise ValueError(f"values of shape {v.shape} do not match {ts.size} timestamps")
    header = _HEADER.pack(_MAGIC, LSL_CHUNK_VERSION, 0, ts.size, v.shape[1], 0,
                          float(time_correction_s), float(local_clock_s))
    return header + ts.tobytes() + np.ascontiguousarray(v).tobytes()


def parse_lsl_chunk(payload: bytes) -> LslChunk:
    """Unpack one stored chunk; anything malformed raises :class:`DecodeError`."""
    if len(payload) < _HEADER.size:
        raise DecodeError(f"LSL chunk of {len(payload)} bytes is shorter than its header "
                          f"({_HEADER.size} bytes)")
    magic, version, _, n, c, _, correction, local = _HEADER.unpack_from(payload)
    if magic != _MAGIC:
        raise DecodeError(f"not an LSL chunk (magic {magic!r})")
    if version != LSL_CHUNK_VERSION:
        raise DecodeError(f"LSL chunk version {version} is not supported (expected "
                          f"{LSL_CHUNK_VERSION})")
    expected = _HEADER.size + 8 * n * (1 + c)
    if len(payload) != expected:
        raise DecodeError(f"LSL chunk of {n} samples x {c} channels needs {expected} bytes, "
                          f"got {len(payload)}")
    body = np.frombuffer(payload, dtype="<f8", offset=_HEADER.size)
    ts = body[:n].astype(float)
    values = body[n:].astype(float).reshape(n, c)
    return LslChunk(ts, values, float(correction), float(local))
