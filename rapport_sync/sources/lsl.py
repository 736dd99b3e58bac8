"""Lab Streaming Layer inlet source: breathing (or RR) streams published by other programs.

``lsl:name=RespA`` or ``lsl:type=Resp,source_id=belt-7`` resolves one stream on this
machine or the local network, opens an inlet and moves every pulled chunk into the
session, packed with the stream's clock correction (:mod:`rapport_sync.protocol.lsl_chunk`).
Like every source it never interprets samples; the session's LSL decoder applies the
clock correction and maps the stream to session time.

Options (comma-separated, ``key=value``): ``name``, ``type``, ``source_id``, ``hostname``
(matched exactly; at least one is needed), ``timeout`` (seconds to wait for the stream,
default 5), ``kind`` (``belt``, ``acc`` or ``rr``: what the samples are; by default the
stream's type decides: ``RR``/``IBI`` streams are RR intervals, ``ACC`` accelerometer,
anything else a breathing belt). A channel after ``#`` picks the stream's channel for that person,
so one two-channel stream can carry both people (``lsl:name=Resp#0``, ``lsl:name=Resp#1``).

pylsl is imported only when an LSL source is opened. Its wheels ship liblsl on Linux
x86-64 (glibc >= 2.35), macOS and Windows; elsewhere liblsl must be installed separately.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import ConfigError, SourceError
from ..lsl_support import import_pylsl
from ..protocol.lsl_chunk import encode_lsl_chunk
from ..samples import Chunk, DeviceEvent, DeviceEventKind, PayloadKind
from .base import Clock, DeviceInfo, Emit, Source

__all__ = ["LslSource", "open_lsl", "parse_lsl_target", "stream_details"]

log = logging.getLogger(__name__)
_MATCH_KEYS = ("name", "type", "source_id", "hostname")
_KINDS = ("belt", "acc", "rr")



def parse_lsl_target(target: str) -> tuple[dict[str, str], dict[str, str]]:
    """``name=RespA,timeout=2`` → ``({"name": "RespA"}, {"timeout": "2"})``."""
    match: dict[str, str] = {}
    options: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in target.split(","))):
        key, sep, value = part.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep or not value:
            raise ConfigError(f"LSL source option {part!r} must look like key=value "
                              "(e.g. lsl:name=RespA)")
        if key in _MATCH_KEYS:
            if not re.fullmatch(r"[^'\"]+", value):
                raise ConfigError(f"LSL {key} {value!r} must not contain quotes")
            match[key] = value
        elif key == "timeout":
            try:
                if not float(value) > 0:
                    raise ValueError
            except ValueError:
                raise ConfigError(f"LSL timeout must be a number of seconds > 0, not {value!r}") \
                    from None
            options[key] = value
        elif key == "kind":
            options[key] = value.lower()
        else:
            raise ConfigError(f"unknown LSL source option {key!r} "
                              f"(one of {', '.join(_MATCH_KEYS + ('timeout', 'kind'))})")
    if not match:
        raise ConfigError("an LSL source needs a stream to look for, e.g. lsl:name=RespA or "
                          "lsl:type=Resp,source_id=belt-7")
    if options.get("kind", "belt") not in _KINDS:
        raise ConfigError(f"LSL kind must be one of {', '.join(_KINDS)}, not {options['kind']!r}")
    return match, options


def stream_details(info: Any) -> dict[str, Any]:
    """The metadata of a pylsl ``StreamInfo`` the decoder and exports need (JSON-able)."""
    labels: list[str] = []
    units: list[str] = []
    ch = info.desc().child("channels").child("channel")
    while not ch.empty() and len(labels) < info.channel_count():
        labels.append(ch.child_value("label"))
        units.append(ch.child_value("unit"))
        ch = ch.next_sibling()
    return {"name": info.name(), "type": info.type(), "source_id": info.source_id(),
            "hostname": info.hostname(), "uid": info.uid(),
            "channel_count": info.channel_count(), "nominal_srate": info.nominal_srate(),
            "channel_format": info.channel_format(), "channel_labels": labels,
            "channel_units": units}


class LslSource(Source):
    """One resolved LSL stream, pulled in chunks on the source's thread.

    Every ``poll_s`` it pulls what arrived, packs it with the newest
    ``time_correction()`` (refreshed every ``correction_every_s``) and emits one chunk.
    When no sample arrives for ``silent_s`` it reports a disconnect (the inlet recovers by
    itself when the stream comes back, and a reconnect is reported).
    """

    def __init__(self, inlet: Any, persons: Mapping[int, str], clock: Clock,
                 kind: str = "", poll_s: float = 0.02, silent_s: float = 2.0,
                 correction_every_s: float = 5.0) -> None:
        super().__init__(clock)
        self.inlet = inlet
        info = inlet.info(timeout=10.0)  # the full header, with desc() (channels, units)
        self.persons = dict(persons)
        self.details = {**stream_details(info), "kind": kind}
        self.poll_s = poll_s
        self.silent_s = silent_s
        self.correction_every_s = correction_every_s
        sid = self.details["source_id"] or self.details["uid"]
        self._device = f"lsl:{self.details['name']}:{sid}"

    @property
    def devices(self) -> list[DeviceInfo]:
        d = self.details
        return [DeviceInfo(self._device, "lsl", self.persons,
                           f"LSL stream {d['name']!r} ({d['type']}, {d['channel_count']} ch, "
                           f"{d['nominal_srate']:g} Hz) from {d['hostname']}", self.details)]

    def _run(self, emit: Emit) -> None:
        pylsl = import_pylsl()
        if self.details["channel_format"] == pylsl.cf_string:
            raise SourceError(f"LSL stream {self.details['name']!r} carries strings, not "
                              "numbers: not a breathing stream")
        inlet = self.inlet
        try:
            correction = inlet.time_correction(timeout=5.0)
        except Exception as exc:  # liblsl raises TimeoutError/LostError/RuntimeError
            raise SourceError(f"cannot open LSL stream {self.details['name']!r}: {exc}") from exc
        emit(DeviceEvent(self._device, self.clock.now_ns(), DeviceEventKind.CONNECTED,
                         f"LSL stream {self.details['name']!r}, clock correction "
                         f"{correction * 1e3:+.3f} ms"))
        last_correction = last_data = pylsl.local_clock()
        silent = False
        try:
            while True:
                stopping = self._stop.wait(self.poll_s)  # one last pull drains the inlet
                samples, stamps = inlet.pull_chunk(timeout=0.0, max_samples=4096)
                now = pylsl.local_clock()
                if now - last_correction >= self.correction_every_s:
                    try:
                        correction = inlet.time_correction(timeout=0.5)
                    except (TimeoutError, RuntimeError) as exc:  # keep the last value
                        log.debug("LSL time correction failed: %s", exc)
                    last_correction = now
                if not stamps:
                    if stopping:
                        break
                    if not silent and now - last_data > self.silent_s:
                        silent = True
                        emit(DeviceEvent(self._device, self.clock.now_ns(),
                                         DeviceEventKind.DISCONNECTED,
                                         f"no samples for {self.silent_s:g} s"))
                    continue
                host_ns = self.clock.now_ns()
                if silent:
                    silent = False
                    emit(DeviceEvent(self._device, host_ns, DeviceEventKind.CONNECTED,
                                     "samples again"))
                last_data = now
                payload = encode_lsl_chunk(np.asarray(stamps), np.asarray(samples),
                                           correction, now)
                emit(Chunk(self._device, host_ns, PayloadKind.LSL, payload))
                if stopping and len(stamps) < 4096:
                    break
        finally:
            inlet.close_stream()
            emit(DeviceEvent(self._device, self.clock.now_ns(), DeviceEventKind.DISCONNECTED,
                             "inlet closed"))


def open_lsl(target: str, persons: Mapping[str | None, str], clock: Clock) -> LslSource:
    """Backend ``lsl``: resolve the stream named by ``target`` and open a source for it.

    Raises
    ------
    SourceError
        No matching stream appeared within the timeout.
    """
    match, options = parse_lsl_target(target)
    pylsl = import_pylsl()
    predicate = " and ".join(f"{k}='{v}'" for k, v in match.items())
    timeout = float(options.get("timeout", 5.0))
    found = pylsl.resolve_bypred(predicate, 1, timeout)
    if not found:
        raise SourceError(f"no LSL stream with {predicate} within {timeout:g} s (is the "
                          "sender running, on this network, with the same SessionID?)")
    info = found[0]
    try:
        inlet = pylsl.StreamInlet(info, max_buflen=360, recover=True)
        inlet.open_stream(timeout=10.0)  # samples are buffered from now on
    except Exception as exc:
        raise SourceError(f"cannot open LSL stream {info.name()!r}: {exc}") from exc
    channels: dict[int, str] = {}
    for channel, person in persons.items():
        if channel is not None and not channel.isdigit():
            raise ConfigError(f"lsl:{target}#{channel}: the part after '#' is a channel number")
        index = int(channel) if channel is not None else 0
        if index in channels:
            raise ConfigError(f"both people are on channel {index} of LSL stream {info.name()!r}")
        if index >= info.channel_count():
            raise ConfigError(f"LSL stream {info.name()!r} has {info.channel_count()} "
                              f"channels; there is no channel {index}")
        channels[index] = person
    return LslSource(inlet, channels, clock, kind=options.get("kind", ""))
