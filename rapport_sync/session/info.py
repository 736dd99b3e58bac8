"""``rapport-sync info``: a plain-text account of what a session file holds."""

from __future__ import annotations

import os
from collections import Counter

from ..samples import BreathSamples, DeviceEvent, DeviceEventKind, HeartBeats
from .decoders import make_decoder
from .store import SessionReader, merge_events

__all__ = ["describe_session", "count_streams", "count_gaps"]

REPORTED_AGAIN_S = 10.0  # a data gap this soon after a reconnection is the link loss again


def _clock(seconds: float) -> str:
    """``mm:ss.s`` (``h:mm:ss.s`` past an hour), rounded to the tenth before it is split
    (239.97 s is 04:00.0, not 03:60.0)."""
    sign = "-" if seconds < 0 else ""
    m, tenths = divmod(round(abs(seconds) * 10), 600)
    h, m = divmod(m, 60)
    s = tenths / 10
    return f"{sign}{h}:{m:02d}:{s:04.1f}" if h else f"{sign}{m:02d}:{s:04.1f}"


def count_streams(reader: SessionReader) -> tuple[dict[tuple[str, str], list[float]],
                                                   list[DeviceEvent]]:
    """Decode every chunk: per (person, stream) [samples, first s, last s, rate]; events."""
    start = reader.start_host_ns
    decoders = {d.device: make_decoder(d, start) for d in reader.devices}
    streams: dict[tuple[str, str], list[float]] = {}
    events: list[DeviceEvent] = []
    for chunk in reader.chunks():
        for item in decoders[chunk.device].feed(chunk):
            if isinstance(item, DeviceEvent):
                events.append(item)
                continue
            if isinstance(item, BreathSamples):
                key, n, rate = (item.person, f"breathing ({item.kind})"), len(item.time_s), item.rate_hz
            elif isinstance(item, HeartBeats):
                key, n, rate = (item.person, "heartbeats"), len(item.time_s), float("nan")
            else:
                continue
            if n == 0:
                continue
            entry = streams.setdefault(key, [0.0, float(item.time_s[0]), 0.0, rate])
            entry[0] += n
            entry[2] = float(item.time_s[-1])
    return streams, events


def count_gaps(events: list[tuple[float, str, str, str]], end_s: float) -> int:
    """How many times data went missing: links lost before the session's end and gaps
    in a device's data. A source's own disconnect as the session stops (after the
    recorded end) is none, and a link loss is one gap even when the data, on coming back,
    report it again (the first data gap within ``REPORTED_AGAIN_S`` of reconnecting)."""
    gaps = 0
    back_at: dict[str, float] = {}  # device -> when its link came back after a loss
    lost: set[str] = set()
    for t, device, kind, _ in events:
        if kind == DeviceEventKind.DISCONNECTED and t < end_s:
            gaps += 1
            lost.add(device)
            back_at.pop(device, None)
        elif kind == DeviceEventKind.CONNECTED and device in lost:
            lost.discard(device)
            back_at[device] = t
        elif kind == DeviceEventKind.GAP:
            back = back_at.pop(device, None)
            if back is None or t - back > REPORTED_AGAIN_S:
                gaps += 1
    return gaps


def describe_session(path: str | os.PathLike[str], max_events: int = 25) -> str:
    """Participants, devices, start and duration, samples per stream, gaps and events,
    markers, and whether the session ended cleanly or was recovered after a crash."""
    with SessionReader(path) as reader:
        meta = reader.meta
        start = reader.start_host_ns
        end = meta.get("ended_host_ns") or reader.last_host_ns()
        duration = (end - start) / 1e9
        lines = [f"session       {reader.path}"]
        if reader.ended_cleanly:
            lines.append("status        ended cleanly")
        else:
            lines.append("status        NOT closed cleanly (the recording was interrupted); "
                         f"recovered everything up to the last commit, {_clock(duration)} "
                         "into the session")
        started = meta.get("started_utc", "?")
        lines.append(f"started       {started} (UTC)   duration {_clock(duration)}")
        config = meta.get("config", {})
        settings = ", ".join(f"{k}={v}" for k, v in config.items())
        lines.append(f"software      rapport_sync {meta.get('software_version', '?')}   {settings}")
        lines.append("participants")
        sources = meta.get("sources", {})
        for p, who in sorted(meta.get("participants", {}).items()):
            lines.append(f"  {p.upper()}  {who.get('label', '')!s:20s} id {who.get('id', '')}   "
                         f"source {sources.get(p, '?')}")
        stats = reader.chunk_stats()
        lines.append("devices")
        for d in reader.devices:
            n, size, _, _ = stats.get(d.device, (0, 0, 0, 0))
            who = ", ".join(f"channel {c} → {p.upper()}" for c, p in sorted(d.persons.items()))
            lines.append(f"  {d.device}: {d.description} ({d.protocol}); {who}; "
                         f"{n} chunks, {size / 1024:.0f} KiB")
        streams, decoded_events = count_streams(reader)
        lines.append("streams")
        if not streams:
            lines.append("  (no samples)")
        for (person, name), (count, t0, t1, rate) in sorted(streams.items()):
            rate_text = f" at {rate:g} Hz" if rate == rate else ""
            lines.append(f"  {person.upper()} {name:22s} {int(count):8d} "
                         f"{'beats' if name == 'heartbeats' else 'samples'}{rate_text}, "
                         f"{_clock(t0)} – {_clock(t1)}")
        events = merge_events(reader.events(), decoded_events, start)
        kinds = Counter(k for _, _, k, _ in events)
        end_s = (meta["ended_host_ns"] - start) / 1e9 if reader.ended_cleanly else float("inf")
        gaps = count_gaps(events, end_s)
        summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"
        lines.append(f"events        {summary}")
        lines.append(f"gaps          {gaps or 'none'}")
        for t, device, kind, detail in events[:max_events]:
            lines.append(f"  {_clock(t)}  {device}  {kind}: {detail}")
        if len(events) > max_events:
            lines.append(f"  … {len(events) - max_events} more")
        markers = reader.markers()
        lines.append(f"markers       {len(markers) or 'none'}")
        for m in markers:
            lines.append(f"  {_clock((m.host_ns - start) / 1e9)}  {m.label or '(no label)'}")
    return "\n".join(lines)
