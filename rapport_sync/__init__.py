"""rapport_sync: live breathing synchrony between two people.

Importing the package loads no Bluetooth, serial or Qt code; each backend is imported
only when it is used.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import (ConfigError, DecodeError, RapportSyncError, SessionFileError,
                     SourceError, StoreError)

__all__ = [
    "__version__",
    "RapportSyncError",
    "DecodeError",
    "ConfigError",
    "SourceError",
    "SessionFileError",
    "StoreError",
]
