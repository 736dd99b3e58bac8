"""The session file's format: what the writer (:mod:`.store`) creates and the reader
(:mod:`.store_reader`) checks.

Schema (format version 1, ``PRAGMA user_version``; ``PRAGMA application_id`` marks the
file as a rapport_sync session):

- ``meta(key, value)``: JSON values. ``participants``, ``software_version``, ``config``,
  ``started_utc``, ``start_host_ns``, and on a clean close ``ended_host_ns``.
- ``devices(id, device, protocol, persons, description, details)``
- ``chunks(id, device_id, host_ns, kind, payload)``: every raw chunk as it arrived.
- ``events(id, device_id, host_ns, kind, detail)``: connect, disconnect, gaps, errors.
- ``markers(id, host_ns, label, source)``.
"""

from __future__ import annotations

__all__ = ["APPLICATION_ID", "FORMAT_VERSION", "SCHEMA", "SUFFIX", "TABLES"]

FORMAT_VERSION = 1
APPLICATION_ID = 0x52535943  # "RSYC"
SUFFIX = ".rapport"

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE devices (
    id INTEGER PRIMARY KEY, device TEXT NOT NULL UNIQUE, protocol TEXT NOT NULL,
    persons TEXT NOT NULL, description TEXT NOT NULL, details TEXT NOT NULL);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY, device_id INTEGER NOT NULL REFERENCES devices(id),
    host_ns INTEGER NOT NULL, kind TEXT NOT NULL, payload BLOB NOT NULL);
CREATE TABLE events (
    id INTEGER PRIMARY KEY, device_id INTEGER REFERENCES devices(id),
    host_ns INTEGER NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TABLE markers (
    id INTEGER PRIMARY KEY, host_ns INTEGER NOT NULL, label TEXT NOT NULL,
    source TEXT NOT NULL);
"""
TABLES = frozenset({"meta", "devices", "chunks", "events", "markers"})  # what SCHEMA creates
