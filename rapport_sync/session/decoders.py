"""Device decoders: raw chunks of one device in, per-person samples on the session clock out.

A decoder is chosen by :attr:`DeviceInfo.protocol`. It runs the sans-I/O protocol decoder
on each chunk, maps the device's timestamps to the host clock (:class:`DeviceClock`),
converts host time to session seconds and splits channels into people. It is used both
live and on replay, so both give the same samples.
"""

from __future__ import annotations

import abc
import importlib

from ..errors import SessionFileError
from ..samples import BreathSamples, Chunk, DeviceEvent, HeartBeats
from ..sources.base import DeviceInfo
from .clock import DeviceClock

__all__ = ["Decoded", "DeviceDecoder", "DECODERS", "make_decoder"]

Decoded = BreathSamples | HeartBeats | DeviceEvent


class DeviceDecoder(abc.ABC):
    """Turns one device's chunks into samples of the people it carries; ``clock`` maps the
    device's time to the host's (exports read its fit)."""

    def __init__(self, info: DeviceInfo, session_start_ns: int) -> None:
        self.info = info
        self.session_start_ns = session_start_ns
        self.clock = DeviceClock()

    @abc.abstractmethod
    def feed(self, chunk: Chunk) -> list[Decoded]:
        """Decode one chunk. Malformed data gives a DeviceEvent of kind ERROR, never raises."""


DECODERS: dict[str, str] = {
    "belt": "rapport_sync.session.belt_decoder:BeltDecoder",
    "strap": "rapport_sync.session.strap_decoder:StrapDecoder",
    "lsl": "rapport_sync.session.lsl_decoder:LslDecoder",
}


def make_decoder(info: DeviceInfo, session_start_ns: int) -> DeviceDecoder:
    """The decoder for ``info.protocol``, imported lazily."""
    if info.protocol not in DECODERS:
        raise SessionFileError(f"device {info.device!r} speaks {info.protocol!r}, which this "
                               "rapport_sync cannot decode: please upgrade rapport_sync")
    module_name, _, attr = DECODERS[info.protocol].partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    return cls(info, session_start_ns)
