"""The session store: one SQLite file per session, written before anything else runs.

The file's tables are described in :mod:`.store_format`; reading a file back, a damaged
one included, is :mod:`.store_reader`, whose names are importable from here too.

The file is opened in WAL mode and committed at least every ``commit_every_s`` (0.5 s by
default), so a crash or SIGKILL loses at most that much; SQLite's journal makes every
commit atomic. Reading a damaged file leaves out the rows it cannot read, with a warning,
and keeps the rest. Session files hold health data: they are created readable and writable by
their owner only.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from ..errors import StoreError
from ..samples import Chunk, DeviceEvent
from ..sources.base import DeviceInfo
from .store_format import APPLICATION_ID, FORMAT_VERSION, SCHEMA, SUFFIX
from .store_reader import SessionReader, StoredEvent, StoredMarker, merge_events

__all__ = [
    "APPLICATION_ID",
    "FORMAT_VERSION",
    "SUFFIX",
    "SessionReader",
    "SessionWriter",
    "StoredEvent",
    "StoredMarker",
    "default_session_dir",
    "merge_events",
]


def default_session_dir() -> Path:
    """Where sessions go when no ``--out`` is given (``$RAPPORT_SYNC_HOME/sessions``,
    else the platform's per-user data directory)."""
    home = os.environ.get("RAPPORT_SYNC_HOME")
    if home:
        return Path(home) / "sessions"
    if os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif os.uname().sysname == "Darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "rapport_sync" / "sessions"


def _store_error(exc: sqlite3.Error, path: Path) -> StoreError:
    text = str(exc)
    kept = "everything up to the last commit is kept"
    if "full" in text:
        return StoreError(f"disk full while writing {path}; {kept}")
    if "I/O" in text:
        return StoreError(f"cannot write {path}: disk I/O error (disk full, over quota or "
                          f"removed?); {kept}")
    return StoreError(f"cannot write session {path}: {text}; {kept}")


class SessionWriter:
    """Append-only writer of one session file (used from one thread)."""

    def __init__(self, path: Path, conn: sqlite3.Connection, commit_every_s: float) -> None:
        self.path = path
        self._conn = conn
        self.commit_every_s = commit_every_s
        self._last_commit = time.monotonic()
        self._device_ids: dict[str, int] = {}
        self.closed = False
        self.n_chunks = 0  # chunks committed to the file
        self._pending_chunks = 0

    @classmethod
    def create(cls, path: str | os.PathLike[str], meta: dict[str, Any],
               commit_every_s: float = 0.5) -> SessionWriter:
        """Create a new session file (never overwrites) with mode 0600."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            os.close(fd)
        except FileExistsError:
            raise StoreError(f"{path} already exists; choose another --out") from None
        except OSError as exc:
            raise StoreError(f"cannot create session {path}: {exc.strerror}") from exc
        try:
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version={FORMAT_VERSION}")
            conn.executescript(SCHEMA)
            conn.execute("BEGIN")
            writer = cls(path, conn, commit_every_s)
            for key, value in meta.items():
                writer.set_meta(key, value)
            writer.commit()
        except sqlite3.Error as exc:
            raise _store_error(exc, path) from exc
        return writer

    def set_meta(self, key: str, value: Any) -> None:
        self._execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def add_device(self, info: DeviceInfo) -> None:
        cur = self._execute(
            "INSERT INTO devices (device, protocol, persons, description, details) "
            "VALUES (?, ?, ?, ?, ?)",
            (info.device, info.protocol, json.dumps({str(k): v for k, v in info.persons.items()}),
             info.description, json.dumps(dict(info.details), default=str)),
        )
        self._device_ids[info.device] = int(cur.lastrowid or 0)

    def add_chunk(self, chunk: Chunk) -> None:
        device_id = self._device_ids.get(chunk.device)
        if device_id is None:
            raise StoreError(f"a chunk came from device {chunk.device!r}, which the session "
                             "did not register")
        self._execute(
            "INSERT INTO chunks (device_id, host_ns, kind, payload) VALUES (?, ?, ?, ?)",
            (device_id, chunk.host_time_ns, str(chunk.kind), chunk.payload),
        )
        self._pending_chunks += 1

    def add_event(self, event: DeviceEvent) -> None:
        self._execute(
            "INSERT INTO events (device_id, host_ns, kind, detail) VALUES (?, ?, ?, ?)",
            (self._device_ids.get(event.device), event.host_time_ns, str(event.kind),
             event.detail),
        )

    def add_marker(self, host_ns: int, label: str, source: str = "user") -> None:
        self._execute("INSERT INTO markers (host_ns, label, source) VALUES (?, ?, ?)",
                      (host_ns, label, source))

    def maybe_commit(self) -> None:
        """Commit if the last commit is older than ``commit_every_s`` (wall time)."""
        if time.monotonic() - self._last_commit >= self.commit_every_s:
            self.commit()

    def commit(self) -> None:
        try:
            self._conn.execute("COMMIT")
            self._conn.execute("BEGIN")
        except sqlite3.Error as exc:
            raise _store_error(exc, self.path) from exc
        self._last_commit = time.monotonic()
        self.n_chunks += self._pending_chunks
        self._pending_chunks = 0

    @property
    def wal_path(self) -> Path:
        """SQLite's write-ahead log beside the file: committed data not yet folded in."""
        return self.path.with_name(self.path.name + "-wal")

    def close(self, end_host_ns: int | None, clean: bool = True) -> None:
        """Commit what is left; on a clean close record the end; fold the WAL in.

        After a failed write (``clean=False``) what is left uncommitted is dropped and the
        WAL is still folded in if the disk allows; if not, the committed data stay in the
        WAL beside the file and :attr:`wal_kept` is True: the two files belong together."""
        if self.closed:
            return
        self.closed = True
        failed: sqlite3.Error | None = None
        try:
            if clean and end_host_ns is not None:
                self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                   ("ended_host_ns", json.dumps(end_host_ns)))
            self._conn.execute("COMMIT")
            self.n_chunks += self._pending_chunks
        except sqlite3.Error as exc:
            failed = exc
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # no transaction was left open
        self._pending_chunks = 0
        try:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            failed = failed or exc
        finally:
            self._conn.close()  # checkpoints once more, and removes an emptied WAL
        if failed is not None:
            raise _store_error(failed, self.path) from failed

    @property
    def wal_kept(self) -> bool:
        """True when a closed session still has data in its WAL (the disk was too full to
        fold them into the file): the session is the file *and* its ``-wal`` file."""
        try:
            return self.closed and self.wal_path.stat().st_size > 0
        except OSError:
            return False

    def where_stored(self) -> str:
        """Where the session's data are, for a message to the user."""
        if self.wal_kept:
            return (f"{self.path} and {self.wal_path} (the disk was too full to fold the "
                    f"second into the first): keep, copy and move the two files together; "
                    f"{self.path.name} alone is incomplete")
        return str(self.path)

    def _execute(self, sql: str, args: tuple[Any, ...]) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql, args)
        except sqlite3.Error as exc:
            raise _store_error(exc, self.path) from exc
