"""Reading a session file back: :class:`SessionReader`, the records it gives, and how it
keeps what can be read of a damaged file. These names are also importable from
:mod:`rapport_sync.session.store`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from ..errors import SessionDamageWarning, SessionFileError
from ..samples import Chunk, DeviceEvent, DeviceEventKind, PayloadKind
from ..sources.base import DeviceInfo
from .store_format import APPLICATION_ID, FORMAT_VERSION, TABLES

__all__ = ["SessionReader", "StoredEvent", "StoredMarker", "merge_events"]


@dataclass(frozen=True, slots=True)
class StoredMarker:
    host_ns: int
    label: str
    source: str


@dataclass(frozen=True, slots=True)
class StoredEvent:
    device: str
    host_ns: int
    kind: DeviceEventKind
    detail: str


def merge_events(stored: list[StoredEvent], decoded: list[DeviceEvent],
                 start_ns: int) -> list[tuple[float, str, str, str]]:
    """All events of a session as ``(session s, device, kind, detail)``, in time order.

    The live session stores both the sources' link events and the events its decoders
    derived from the chunks; a replay derives the latter again. Each is listed once."""
    seen = {(e.host_ns, e.device, str(e.kind), e.detail) for e in stored}
    rows = [(e.host_ns, e.device, str(e.kind), e.detail) for e in stored]
    rows += [key for e in decoded
             if (key := (e.host_time_ns, e.device, str(e.kind), e.detail)) not in seen]
    return sorted(((t - start_ns) / 1e9, d, k, x) for t, d, k, x in rows)


# what reading raises on a damaged file: SQLite's errors, and rows that do not make
# records (an unknown kind, a chunk of an unknown device, a non-number time)
_DAMAGED = (sqlite3.DatabaseError, ValueError, KeyError, TypeError)
# what SQLite raises on a damaged file; its report of damage to the schema can hold bytes
# that are not text, and then arrives as a UnicodeDecodeError
_SQLITE_DAMAGE = (sqlite3.DatabaseError, UnicodeDecodeError)
LATE_EVENTS_NS = 60 * 10**9  # how long after the end sources may still report stopping
_UNREADABLE = "\ufffd"  # what a byte that is not UTF-8 reads as in a text column


class SessionReader:
    """Read a session file; every problem with the file is a one-line SessionFileError.

    Damage confined to some rows (a chunk, an event, a marker, a page of them that SQLite
    cannot read) does not stop the reading: those rows are left out, counted, and a
    :class:`~rapport_sync.errors.SessionDamageWarning` says how many. Bytes of a label or
    detail that are not text read as U+FFFD.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise SessionFileError(f"{self.path} is a directory, not a session file")
        if not self.path.is_file():
            raise SessionFileError(f"{self.path}: no such session file")
        if self.path.stat().st_size == 0:
            raise SessionFileError(f"{self.path} is empty (0 bytes): not a rapport_sync session")
        try:
            # mode=rw (not ro) so SQLite can replay the WAL of a session that crashed.
            mode = "rw" if os.access(self.path, os.W_OK) else "ro"
            self._conn = sqlite3.connect(f"file:{self.path}?mode={mode}", uri=True)
            self._conn.text_factory = lambda raw: raw.decode("utf-8", "replace")
            app_id = self._conn.execute("PRAGMA application_id").fetchone()[0]
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in self._conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")}
        except _SQLITE_DAMAGE as exc:
            raise SessionFileError(_describe_db_error(self.path, exc)) from exc
        if app_id != APPLICATION_ID:
            what = "an SQLite database" if tables else "an empty SQLite database"
            raise SessionFileError(f"{self.path} is {what} but not a rapport_sync session")
        if version > FORMAT_VERSION:
            raise SessionFileError(
                f"{self.path} was written by a newer rapport_sync (session format {version}; "
                f"this version reads up to {FORMAT_VERSION}): please upgrade rapport_sync")
        missing = TABLES - tables
        if missing:
            raise SessionFileError(f"{self.path} is damaged: tables {sorted(missing)} are missing")
        self.meta: dict[str, Any] = {}
        self._damaged_meta: set[str] = set()
        for key, value in self._query("SELECT key, value FROM meta"):
            try:
                self.meta[key] = json.loads(value)
            except _DAMAGED:
                self._damaged_meta.add(key)
        self._warn_left_out("settings (meta entries)", len(self._damaged_meta),
                            len(self.meta) + len(self._damaged_meta),
                            f": {', '.join(sorted(self._damaged_meta))}")
        self.devices: list[DeviceInfo] = []
        self._device_names: dict[int, str] = {}
        rows = self._query("SELECT id, device, protocol, persons, description, details "
                           "FROM devices ORDER BY id")
        for device_id, device, protocol, persons, description, details in rows:
            try:
                info = DeviceInfo(device, protocol,
                                  {int(k): v for k, v in json.loads(persons).items()},
                                  description, json.loads(details))
            except _DAMAGED:
                continue
            self.devices.append(info)
            self._device_names[device_id] = device
        self._warn_left_out("devices (with their chunks)", len(rows) - len(self.devices),
                            len(rows))
        # Everything is stored after the start and, on a clean close, soon after the end
        # (the sources' own stop events); a time outside is a damaged number.
        start, end = self.meta.get("start_host_ns"), self.meta.get("ended_host_ns")
        self._first_ns = start if isinstance(start, int) else -(2**63)
        self._last_ns = end + LATE_EVENTS_NS if isinstance(end, int) else 2**63

    @property
    def start_host_ns(self) -> int:
        if "start_host_ns" in self._damaged_meta:
            raise SessionFileError(f"{self.path} is damaged: its start time cannot be read")
        if "start_host_ns" not in self.meta:
            raise SessionFileError(f"{self.path} holds no recording: the session never "
                                   "started (its start time is missing)")
        try:
            return int(self.meta["start_host_ns"])
        except _DAMAGED as exc:
            raise SessionFileError(_describe_db_error(self.path, exc)) from exc

    @property
    def ended_cleanly(self) -> bool:
        return "ended_host_ns" in self.meta

    def chunks(self) -> Iterator[Chunk]:
        """Every readable stored chunk in arrival order."""
        names = self._device_names
        bad = 0
        rows = self._rows("chunks", "device_id, host_ns, kind, payload")
        for _, device_id, host_ns, kind, payload in rows:
            try:
                yield Chunk(names[device_id], self._time_ns(host_ns), PayloadKind(kind),
                            bytes(payload))
            except _DAMAGED:
                bad += 1
        self._warn_left_out("chunks", bad + rows.lost, rows.read + rows.lost)

    def events(self) -> list[StoredEvent]:
        names = self._device_names
        out, bad = [], 0
        rows = self._rows("events", "device_id, host_ns, kind, detail")
        for _, d, t, k, detail in rows:
            try:
                out.append(StoredEvent(names.get(d, ""), self._time_ns(t), DeviceEventKind(k),
                                       str(detail)))
            except _DAMAGED:
                bad += 1
        self._warn_left_out("events", bad + rows.lost, rows.read + rows.lost)
        return out

    def markers(self) -> list[StoredMarker]:
        out, bad = [], 0
        rows = self._rows("markers", "host_ns, label, source")
        for _, t, label, source in rows:
            try:
                out.append(StoredMarker(self._time_ns(t), str(label), str(source)))
            except _DAMAGED:
                bad += 1
        self._warn_left_out("markers", bad + rows.lost, rows.read + rows.lost)
        garbled = sum(_UNREADABLE in m.label for m in out)
        if garbled:
            _warn(f"{self.path} is damaged: {garbled} marker label(s) hold bytes that are not "
                  f"text (shown as {_UNREADABLE}); their times are kept")
        return sorted(out, key=lambda m: m.host_ns)

    def chunk_stats(self) -> dict[str, tuple[int, int, int, int]]:
        """Per device: (chunks, bytes, first host_ns, last host_ns)."""
        names = self._device_names
        try:
            rows = self._conn.execute(
                "SELECT device_id, COUNT(*), SUM(LENGTH(payload)), MIN(host_ns), "
                "MAX(host_ns) FROM chunks GROUP BY device_id").fetchall()
            if all(d in names and isinstance(t0, int) and isinstance(t1, int)
                   for d, _, _, t0, t1 in rows):
                return {names[d]: (n, b, t0, t1) for d, n, b, t0, t1 in rows}
        except _SQLITE_DAMAGE as exc:
            if not _is_damage(exc):
                raise SessionFileError(_describe_db_error(self.path, exc)) from exc
        stats: dict[str, tuple[int, int, int, int]] = {}  # the rows that can be read
        for chunk in self.chunks():
            n, b, t0, _ = stats.get(chunk.device, (0, 0, chunk.host_time_ns, 0))
            stats[chunk.device] = (n + 1, b + len(chunk.payload), t0, chunk.host_time_ns)
        return stats

    def last_host_ns(self) -> int:
        """The newest time anything was stored (the end of a session that crashed)."""
        try:
            value = self._conn.execute(
                "SELECT MAX(t) FROM (SELECT MAX(host_ns) AS t FROM chunks UNION ALL "
                "SELECT MAX(host_ns) FROM events UNION ALL "
                "SELECT MAX(host_ns) FROM markers)").fetchone()[0]
        except _SQLITE_DAMAGE as exc:
            if not _is_damage(exc):
                raise SessionFileError(_describe_db_error(self.path, exc)) from exc
            times = [c.host_time_ns for c in self.chunks()]
            times += [e.host_ns for e in self.events()] + [m.host_ns for m in self.markers()]
            value = max(times, default=None)
        return int(value) if isinstance(value, int) else self.start_host_ns

    def _time_ns(self, value: object) -> int:
        if not isinstance(value, int) or not self._first_ns <= value <= self._last_ns:
            raise ValueError(f"a time outside the session: {value!r}")
        return value

    def _rows(self, table: str, columns: str) -> _Rows:
        return _Rows(self._conn, self.path, table, columns)

    def _query(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            return self._conn.execute(sql).fetchall()
        except _SQLITE_DAMAGE as exc:
            raise SessionFileError(_describe_db_error(self.path, exc)) from exc

    def _warn_left_out(self, what: str, n: int, total: int, detail: str = "") -> None:
        if n:
            _warn(f"{self.path} is damaged: {n} of {total} {what} cannot be read and are "
                  f"left out{detail}; everything else is read")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Rows:
    """The rows of one table in ``id`` order, stepping over pages SQLite cannot read.

    Row ids are consecutive (rows are only ever appended), so the ids stepped over are
    the rows lost: ``lost`` counts them, ``read`` the rows given."""

    def __init__(self, conn: sqlite3.Connection, path: Path, table: str, columns: str) -> None:
        self._conn = conn
        self._path = path
        self._sql = f"SELECT id, {columns} FROM {table} WHERE id >= ? ORDER BY id"
        self._max_sql = f"SELECT MAX(id) FROM {table}"
        self.read = 0
        self.lost = 0

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        first = 1  # SQLite numbers appended rows from 1
        while True:
            try:
                for row in self._conn.execute(self._sql, (first,)):
                    first = row[0] + 1
                    self.read += 1
                    yield row
                return
            except _SQLITE_DAMAGE as exc:
                if not _is_damage(exc):
                    raise SessionFileError(_describe_db_error(self._path, exc)) from exc
            resume = self._readable_from(first + 1)  # the row at `first` is the bad one
            if resume is None:
                self.lost += max(1, self._last_id(first) - first + 1)
                return
            self.lost += resume - first
            first = resume

    def _probe(self, first: int) -> tuple[bool, int | None]:
        """(whether reading at ``first`` works, the id of the first row there)."""
        try:
            row = self._conn.execute(self._sql + " LIMIT 1", (first,)).fetchone()
        except _SQLITE_DAMAGE:
            return False, None
        return True, None if row is None else int(row[0])

    def _readable_from(self, first: int) -> int | None:
        """The first id at or after ``first`` from which rows read again (None: none)."""
        bad, step = first - 1, 1
        while not self._probe(bad + step)[0]:  # galloping, then bisecting
            if step > 2**62:
                return None
            step *= 2
        good = bad + step
        while good - bad > 1:
            mid = (bad + good) // 2
            if self._probe(mid)[0]:
                good = mid
            else:
                bad = mid
        return self._probe(good)[1]

    def _last_id(self, first: int) -> int:
        try:
            value = self._conn.execute(self._max_sql).fetchone()[0]
        except _SQLITE_DAMAGE:
            return first
        return int(value) if isinstance(value, int) else first


def _is_damage(exc: Exception) -> bool:
    text = str(exc)
    return ("malformed" in text or "corrupt" in text
            or isinstance(exc, (sqlite3.DataError, UnicodeDecodeError)))


def _warn(message: str) -> None:
    warnings.warn(message, SessionDamageWarning, stacklevel=3)


def _describe_db_error(path: Path, exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"{path} is damaged (corrupt database: its table layout cannot be read)"
    if not isinstance(exc, sqlite3.DatabaseError):
        return f"{path} is damaged: a record cannot be read ({type(exc).__name__}: {exc})"
    text = str(exc)
    if "not a database" in text:
        return f"{path} is not a rapport_sync session (not an SQLite database)"
    if "malformed" in text or "corrupt" in text:
        return f"{path} is damaged (corrupt or truncated database): {text}"
    return f"{path} cannot be read: {text}"
