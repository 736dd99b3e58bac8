"""One exception tree for the whole package.

Every error a user can cause or meet derives from :class:`RapportSyncError`; the
command line prints its message as one line (a traceback only with ``--debug``).

- :class:`DecodeError`: a device sent bytes that do not parse.
- :class:`ConfigError`: misuse or bad configuration (a wrong source string, option, file).
- :class:`SourceError`: a device or link failed (raised ``from`` the bleak/pyserial error).
- :class:`SessionFileError`: a session file is missing, corrupt, foreign or too new.
- :class:`StoreError`: the session store could not write (disk full, permissions).

:class:`SessionDamageWarning` (a warning, not an error) says that some rows of a session
file could not be read and were left out; everything else was read.
"""

from __future__ import annotations

__all__ = [
    "RapportSyncError",
    "DecodeError",
    "ConfigError",
    "SourceError",
    "SessionFileError",
    "StoreError",
    "SessionDamageWarning",
]


class RapportSyncError(Exception):
    """Base of every error rapport_sync raises on purpose."""


class DecodeError(RapportSyncError, ValueError):
    """Bytes from a device do not form a valid frame or notification."""


class ConfigError(RapportSyncError, ValueError):
    """A source string, option or setting is wrong."""


class SourceError(RapportSyncError, OSError):
    """A device or its link failed: not found, disconnected, port vanished."""


class SessionFileError(RapportSyncError):
    """A session file cannot be read: missing, corrupt, foreign or of a newer format."""


class StoreError(RapportSyncError, OSError):
    """Writing failed (the session store, an export, a report): disk full, read-only,
    a file where a folder should be. What was committed before is kept."""


class SessionDamageWarning(UserWarning):
    """Some rows of a session file are damaged and were left out; the rest was read."""
