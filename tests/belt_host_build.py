"""Build the firmware's framing code for the host (used by the C and serial tests).

``build_belt_host(tmp_dir)`` compiles firmware_bridge/c with the strict flags the
firmware code must pass and returns the path of the ``belt_host`` test driver, or calls
``pytest.skip`` with the reason when no C compiler is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

C_DIR = Path(__file__).resolve().parents[1] / "firmware_bridge" / "c"
STRICT_FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"]
SOURCES = ["belt_frame.c", "belt_board.c", "host/belt_host.c"]


def find_cc() -> str:
    """The C compiler to use ($CC, else gcc, else cc); skips the test if there is none."""
    for name in (os.environ.get("CC"), "gcc", "cc"):
        if name and shutil.which(name):
            return name
    pytest.skip("no C compiler (gcc or cc) on PATH: the firmware's C code cannot be built")


def build_belt_host(out_dir: Path) -> Path:
    """Compile belt_host into ``out_dir`` and return its path."""
    cc = find_cc()
    exe = out_dir / "belt_host"
    cmd = [cc, *STRICT_FLAGS, "-o", str(exe), *(str(C_DIR / s) for s in SOURCES), "-lm"]
    result = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{' '.join(cmd)}\n{result.stderr}"
    return exe
