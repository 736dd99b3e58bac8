"""Shared pytest options and fixtures: simulated sessions through the real pipeline,
the real recordings, and the opt-in hardware option."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import rapport_sync  # noqa: F401  (first: it sets the BLAS threads before numpy loads)

REPO = Path(__file__).resolve().parents[1]
# the command line as a user meets it: no display, so no monitor window
CLI_ENV = {**os.environ, "QT_QPA_PLATFORM": "", "DISPLAY": "", "WAYLAND_DISPLAY": ""}


def cli(*args: str, timeout: float = 120, env: dict[str, str] | None = None,
        preexec_fn: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    """``rapport-sync ARGS`` in a new process; its exit code, stdout and stderr."""
    return subprocess.run([sys.executable, "-m", "rapport_sync", *args], check=False,
                          capture_output=True, text=True, timeout=timeout, env=env or CLI_ENV,
                          cwd=REPO, preexec_fn=preexec_fn)


def small_disk(limit_bytes: int) -> Callable[[], None]:
    """A ``preexec_fn``: no file of the new process can grow past ``limit_bytes``. The
    kernel then refuses the write (EFBIG) as a full disk does (ENOSPC): a real failed
    write, without root or a small file system."""
    def limit() -> None:
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
    return limit


def pytest_addoption(parser):  # type: ignore[no-untyped-def]
    parser.addoption(
        "--ble-device",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="run the BLE hardware tests against this strap (address or name; repeat for two)",
    )
    parser.addoption(
        "--serial-port",
        default=None,
        metavar="PORT",
        help="run the belt-board hardware test on this serial port (e.g. /dev/ttyACM0)",
    )


def data_dir() -> Path:
    """Real recordings (RAPPORT_SYNC_DATA, default ../shared/data beside the repository)."""
    return Path(os.environ.get("RAPPORT_SYNC_DATA", REPO.parent / "shared" / "data"))


def run_sim_session(
    path: Path,
    duration_s: float = 120.0,
    seed: int = 1,
    script: str = "default",
    window_s: float = 60.0,
    markers=(),
    backend: str = "sim",
    labels: tuple[str, str] = ("Ann", "Ben"),
    fs_hz: float = 50.0,
):
    """A whole session of two simulated people on a virtual clock (as fast as the CPU);
    ``backend`` names a registered variant of the simulated board, ``labels`` are the
    people's labels as typed in the monitor, ``fs_hz`` the belts' sampling rate."""
    from rapport_sync.session.live import LiveSession
    from rapport_sync.sources.base import SourceSpec, VirtualClock

    spec = SourceSpec.parse(f"{backend}:seed={seed},script={script},duration={duration_s},"
                            f"fs={fs_hz}")
    session = LiveSession(
        {"a": spec, "b": spec},
        path,
        dict(zip("ab", labels)),
        clock=VirtualClock(start_ns=5 * 10**12),
        window_s=window_s,
    )
    session.start()
    for label in markers:
        session.add_marker(label)
    for source in session.sources:
        source._thread.join(120)  # the simulated board stops after duration_s
    session.stop()
    return session


@pytest.fixture(scope="session")
def sim_session(tmp_path_factory):
    """Five simulated minutes of the default script, stored and closed."""
    path = tmp_path_factory.mktemp("sessions") / "five-minutes.rapport"
    return run_sim_session(path, duration_s=300.0, seed=1, markers=("start",))


@pytest.fixture(scope="session")
def gapped_session(tmp_path_factory):
    """Markers at 40 and 100 s and a 10-s link drop of B at 70 s (exports, reports)."""
    from export_sessions import run_gapped_session
    return run_gapped_session(tmp_path_factory.mktemp("gapped") / "gapped.rapport")


def break_page(data: bytearray, needle: bytes, session: Path) -> None:
    """Make the SQLite page of ``session``'s bytes ``data`` that holds ``needle`` (a chunk's
    payload) unreadable: its b-tree page type (a table leaf, 0x0D) becomes 0xEE."""
    import sqlite3

    with sqlite3.connect(session) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    at = bytes(data).index(needle) // page_size * page_size
    assert data[at] == 0x0D  # a table leaf page
    data[at] = 0xEE
