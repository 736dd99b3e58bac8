"""rapport_sync: live breathing synchrony between two people.

Importing the package loads no Bluetooth, serial or Qt code; each backend is imported
only when it is used.
"""

from __future__ import annotations

import os

# The engine's matrix work is small (a 250 x 250 system every 20 s per person): BLAS
# threads would only spin against the session's own threads on a small machine. Set
# before numpy loads its BLAS (when this package is imported first); an explicit
# setting wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
del _var

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
