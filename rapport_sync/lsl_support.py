"""Importing pylsl the same way for LSL sources and outlets.

pylsl is imported only when LSL is used. Its wheels ship liblsl on most platforms; where
they don't, the user gets one line saying what to install. liblsl logs its configuration
at INFO level on stderr; unless the lab has an LSL configuration of its own
(``LSLAPICFG`` or an ``lsl_api.cfg`` where liblsl looks), rapport_sync's own
``lsl_api.cfg`` keeps liblsl to errors, so a user sees rapport_sync's one-line messages.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = ["import_pylsl"]

LIBLSL_HINT = ("pylsl could not load liblsl: on Linux aarch64 or glibc < 2.35 install it with "
               "'conda install -c conda-forge liblsl' or the liblsl package from "
               "github.com/sccn/liblsl/releases, or point PYLSL_LIB to liblsl.so")
_LAB_CONFIGS = (Path("lsl_api.cfg"), Path.home() / "lsl_api" / "lsl_api.cfg",
                Path("/etc/lsl_api/lsl_api.cfg"))


def import_pylsl() -> Any:
    """Import pylsl, turning a missing pylsl or liblsl into a one-line :class:`ConfigError`."""
    if "LSLAPICFG" not in os.environ and not any(p.is_file() for p in _LAB_CONFIGS):
        os.environ["LSLAPICFG"] = str(Path(__file__).with_name("lsl_api.cfg"))
    try:
        import pylsl
    except ImportError as exc:
        raise ConfigError(f"Lab Streaming Layer needs pylsl: pip install pylsl ({exc})") from exc
    except RuntimeError as exc:
        raise ConfigError(f"{LIBLSL_HINT} ({exc})") from exc
    return pylsl
