"""The ``replay`` source: a stored session sent again as if its devices were live.

It lives in ``session/`` (not ``sources/``) because it reads the session store.
Use: ``replay:FILE#a``.

The chunks of the devices that carried the named person are sent again, byte for byte,
at their original pace relative to the session start (scaled by the clock, so a replay
can run faster than real time), and their link events with them. The person can be
mapped to either side of the new session: ``--a replay:s.rapport#b`` makes the stored
person B the new person A; without ``#`` a person replays the same stored person. One
stored person cannot be both people (refused).

A replay ends by itself after the last stored chunk. A session whose sources are all
replays ends then; ``--duration`` can end it sooner. A session with a live source beside
a replay runs until ``--duration`` or Ctrl-C; after the replayed data ends, that person
has no more samples.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..errors import ConfigError, SessionFileError
from ..samples import Chunk, DeviceEvent
from ..sources.base import Clock, DeviceInfo, Emit, Source
from .store import SessionReader

__all__ = ["ReplaySource", "open_replay"]

PEOPLE = ("a", "b")


class ReplaySource(Source):
    """Re-sends the stored chunks of some devices of a session file."""

    def __init__(self, path: Path, wanted: Mapping[str, str], clock: Clock) -> None:
        super().__init__(clock)
        self.path = path
        with SessionReader(path) as reader:
            self._start_ns = reader.start_host_ns
            end_ns = reader.meta.get("ended_host_ns") or reader.last_host_ns()
            self.duration_s: float | None = (end_ns - self._start_ns) / 1e9
            self._devices: dict[str, DeviceInfo] = {}
            for info in reader.devices:
                persons = {ch: wanted[old] for ch, old in info.persons.items() if old in wanted}
                if persons:
                    self._devices[info.device] = DeviceInfo(
                        f"replay:{info.device}", info.protocol, persons,
                        f"replay of {info.description or info.device} from {path.name}",
                        dict(info.details))
        missing = set(wanted) - {old for info in self._devices.values()
                                 for old in _stored_people(info, wanted)}
        if not self._devices or missing:
            raise ConfigError(f"{path} has no data of person "
                              f"{', '.join(sorted(p.upper() for p in (missing or wanted)))}")

    @property
    def devices(self) -> list[DeviceInfo]:
        return list(self._devices.values())

    def _run(self, emit: Emit) -> None:
        start = self.clock.now_ns()
        with SessionReader(self.path) as reader:
            events = sorted((e for e in reader.events() if e.device in self._devices),
                            key=lambda e: e.host_ns)
            pending = iter(events)
            event = next(pending, None)
            for chunk in reader.chunks():
                info = self._devices.get(chunk.device)
                if info is None:
                    continue
                due = start + (chunk.host_time_ns - self._start_ns)
                while event is not None and event.host_ns <= chunk.host_time_ns:
                    emit(DeviceEvent(f"replay:{event.device}", start + event.host_ns
                                     - self._start_ns, event.kind, event.detail))
                    event = next(pending, None)
                if not self.clock.sleep_until_ns(due, self._stop):
                    return
                emit(Chunk(info.device, self.clock.now_ns(), chunk.kind, chunk.payload))


def _stored_people(info: DeviceInfo, wanted: Mapping[str, str]) -> set[str]:
    """Which stored people a replayed device carries (the keys of ``wanted`` it maps)."""
    return {old for old, new in wanted.items() if new in info.persons.values()}


def open_replay(target: str, persons: Mapping[str | None, str], clock: Clock) -> ReplaySource:
    """Backend ``replay``: ``replay:FILE#a`` (the stored person; default: the same side)."""
    path = Path(target).expanduser()
    if path.is_dir():
        raise SessionFileError(f"{path} is a directory, not a session file to replay")
    if not path.is_file():
        raise SessionFileError(f"{path}: no such session file to replay")
    wanted: dict[str, str] = {}
    for channel, person in persons.items():
        old = (channel or person).lower()
        if old not in PEOPLE:
            raise ConfigError(f"replay:{target}#{channel}: the part after '#' is a stored "
                              "person, a or b")
        wanted[old] = person
    return ReplaySource(path, wanted, clock)
