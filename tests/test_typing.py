"""The package type-checks (mypy), so the public API's annotations stay true."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO


@pytest.mark.slow
def test_mypy_is_clean():
    pytest.importorskip("mypy")
    run = subprocess.run([sys.executable, "-m", "mypy", "rapport_sync"], cwd=REPO,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:]
