"""The SQLite session store: round trip, permissions, crash-safety and every bad file."""

from __future__ import annotations

import os
import random
import sqlite3
import stat
import warnings

import pytest
from conftest import break_page

from rapport_sync.errors import SessionFileError, StoreError
from rapport_sync.samples import Chunk, DeviceEvent, DeviceEventKind, PayloadKind
from rapport_sync.session.store import FORMAT_VERSION, SessionReader, SessionWriter
from rapport_sync.sources.base import DeviceInfo

BOARD = DeviceInfo("belt0", "belt", {0: "a", 1: "b"}, "two-belt board", {"breathing": "belt"})


def make_session(path, n_chunks=10, close=True):
    writer = SessionWriter.create(path, {"start_host_ns": 1_000, "participants": {"a": {"id": "sub-01"}}})
    writer.add_device(BOARD)
    for i in range(n_chunks):
        writer.add_chunk(Chunk("belt0", 1_000 + i, PayloadKind.BELT, bytes([i % 256, 0, 255]) * 20))
    writer.add_event(DeviceEvent("belt0", 1_005, DeviceEventKind.GAP, "3 frames lost"))
    writer.add_marker(1_007, "laughs together")
    if close:
        writer.close(2_000)
    return writer


def test_round_trip_keeps_every_byte_and_record(tmp_path):
    path = tmp_path / "s.rapport"
    make_session(path)
    with SessionReader(path) as r:
        chunks = list(r.chunks())
        assert [c.payload for c in chunks] == [bytes([i, 0, 255]) * 20 for i in range(10)]
        assert [c.host_time_ns for c in chunks] == list(range(1_000, 1_010))
        assert {c.kind for c in chunks} == {PayloadKind.BELT}
        assert r.devices == [BOARD]
        assert [(e.kind, e.detail) for e in r.events()] == [(DeviceEventKind.GAP, "3 frames lost")]
        assert [(m.host_ns, m.label) for m in r.markers()] == [(1_007, "laughs together")]
        assert r.ended_cleanly and r.meta["ended_host_ns"] == 2_000
        assert r.meta["participants"]["a"]["id"] == "sub-01"


def test_file_is_private_and_in_wal_mode(tmp_path):
    path = tmp_path / "s.rapport"
    writer = make_session(path, close=False)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    wal = path.with_name(path.name + "-wal")
    assert wal.exists() and stat.S_IMODE(os.stat(wal).st_mode) & 0o077 == 0
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    writer.close(2_000)


def test_never_overwrites(tmp_path):
    path = tmp_path / "s.rapport"
    make_session(path)
    with pytest.raises(StoreError, match="already exists"):
        SessionWriter.create(path, {"start_host_ns": 0})


def test_uncommitted_tail_is_lost_but_commits_survive(tmp_path):
    """A session that was never closed opens with everything up to its last commit."""
    path = tmp_path / "s.rapport"
    writer = make_session(path, n_chunks=5, close=False)
    writer.commit()
    writer.add_chunk(Chunk("belt0", 9_999, PayloadKind.BELT, b"uncommitted"))
    # Simulate a crash: copy the files as they are on disk now, without closing.
    crashed = tmp_path / "crashed.rapport"
    for suffix in ("", "-wal"):
        src = path.with_name(path.name + suffix)
        crashed.with_name(crashed.name + suffix).write_bytes(src.read_bytes())
    with SessionReader(crashed) as r:
        assert not r.ended_cleanly
        payloads = [c.payload for c in r.chunks()]
        assert payloads == [bytes([i, 0, 255]) * 20 for i in range(5)]
        assert r.last_host_ns() == 1_007  # the marker was committed too


def test_full_disk_is_a_store_error_and_keeps_committed_data(tmp_path):
    path = tmp_path / "s.rapport"
    writer = make_session(path, n_chunks=3, close=False)
    writer.commit()
    # SQLite reports SQLITE_FULL exactly as for a full disk when the page limit is hit.
    writer._conn.execute("PRAGMA max_page_count=" + str(
        writer._conn.execute("PRAGMA page_count").fetchone()[0] + 2))
    with pytest.raises(StoreError, match="disk full"):
        for i in range(10_000):
            writer.add_chunk(Chunk("belt0", 5_000 + i, PayloadKind.BELT, os.urandom(512)))
            writer.maybe_commit()
    with SessionReader(path) as r:
        assert len(list(r.chunks())) >= 3


@pytest.mark.parametrize("content, message", [
    (b"this is a text file, not a session\n" * 100, "not an SQLite database"),
    (b"", "is empty"),
])
def test_garbage_files_give_one_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.rapport"
    path.write_bytes(content)
    with pytest.raises(SessionFileError, match=message):
        SessionReader(path)


def test_truncated_session_is_reported_as_damaged(tmp_path):
    path = tmp_path / "s.rapport"
    make_session(path, n_chunks=2000)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(SessionFileError, match="damaged|not a rapport|cannot be read"):
        with SessionReader(path) as r:
            list(r.chunks())
            r.events()


def test_foreign_sqlite_file(tmp_path):
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE songs (title TEXT)")
    con.commit()
    con.close()
    with pytest.raises(SessionFileError, match="SQLite database but not a rapport_sync session"):
        SessionReader(path)


def test_newer_format_says_so(tmp_path):
    path = tmp_path / "s.rapport"
    make_session(path)
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version={FORMAT_VERSION + 1}")
    con.commit()
    con.close()
    with pytest.raises(SessionFileError, match="newer rapport_sync"):
        SessionReader(path)


def test_missing_file(tmp_path):
    with pytest.raises(SessionFileError, match="no such session file"):
        SessionReader(tmp_path / "nope.rapport")


def test_flipped_bits_read_in_part_or_give_one_clear_error(sim_session, tmp_path):
    """Copies of a real session with 20 or 200 random bits flipped: each is read as far as
    it can be (what was left out is said in a SessionDamageWarning) or refused with a
    SessionFileError, never another exception; most stay readable."""
    from rapport_sync.errors import RapportSyncError, SessionDamageWarning
    from rapport_sync.session.info import describe_session
    from rapport_sync.session.replay import replay_session

    original = sim_session.path.read_bytes()
    readable = 0
    for seed in range(12):
        rng = random.Random(seed)
        data = bytearray(original)
        for _ in range(20 if seed < 6 else 200):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        path = tmp_path / f"flipped-{seed}.rapport"
        path.write_bytes(bytes(data))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SessionDamageWarning)
            try:
                assert "streams" in describe_session(path)
                assert replay_session(path).duration_s > 0
                readable += 1
            except RapportSyncError as exc:
                assert "\n" not in str(exc) and str(path) in str(exc)
    assert readable >= 6


def test_a_damaged_page_is_stepped_over(tmp_path):
    """A page of chunks SQLite cannot read: the chunks before and after it are read, and
    a warning counts the ones left out."""
    from rapport_sync.errors import SessionDamageWarning

    path = tmp_path / "s.rapport"
    make_session(path, n_chunks=3000)
    data = bytearray(path.read_bytes())
    break_page(data, bytes([200, 0, 255]) * 20, path)  # the payload of chunks 200, 456, ...
    path.write_bytes(bytes(data))
    with SessionReader(path) as r, pytest.warns(SessionDamageWarning, match="chunks cannot"):
        times = [c.host_time_ns - 1_000 for c in r.chunks()]
        assert [m.label for m in r.markers()] == ["laughs together"]
    lost = sorted(set(range(3000)) - set(times))
    assert 0 < len(lost) < 100 and times == sorted(times)
    assert lost == list(range(lost[0], lost[-1] + 1)) and 0 < lost[0] <= 200 <= lost[-1]
