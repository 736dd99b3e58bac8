"""A virtual belt board on a pseudo-terminal: ``rapport-sync sim-serial``.

It creates a pty whose far end behaves like the USB serial port of a firmware_bridge
board: the simulator's two people, encoded as real belt-protocol frames by
:class:`~rapport_sync.sources.sim.VirtualBeltBoard`, paced in real time. Anyone can then
try the serial path without hardware::

    $ rapport-sync sim-serial
    /dev/pts/7
    $ rapport-sync record --a serial:/dev/pts/7#0 --b serial:/dev/pts/7#1

POSIX only (Linux, macOS). Like a real board whose host is not reading, the virtual board
drops bytes when nobody reads the port and its buffer is full.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import threading
import time
from pathlib import Path
from typing import Self

from ..errors import ConfigError, SourceError
from .sim import SCRIPTS, VirtualBeltBoard

__all__ = ["VirtualSerialPort", "add_sim_serial_arguments", "run_sim_serial", "stream_board"]


class VirtualSerialPort:
    """A pty pair: write to :attr:`master_fd`; readers open :attr:`path`.

    Parameters
    ----------
    link : str, optional
        Also make a symbolic link at this path pointing at the pty, so the port has a
        stable name (a new pty behind the same link looks like a board plugged back in).
    """

    def __init__(self, link: str | os.PathLike[str] | None = None) -> None:
        try:
            import pty
            import tty
        except ImportError as exc:  # Windows
            raise ConfigError("sim-serial needs a POSIX system (pseudo-terminals)") from exc
        self.master_fd, self._slave_fd = pty.openpty()
        # Raw from the start: no echo, no CR/LF translation of frames written before a
        # reader opens the port. Keeping our slave fd open keeps the pty alive between
        # readers.
        tty.setraw(self._slave_fd)
        os.set_blocking(self.master_fd, False)
        self.device_path = os.ttyname(self._slave_fd)
        self.link = Path(link) if link is not None else None
        if self.link is not None:
            if self.link.is_symlink():
                self.link.unlink()
            try:
                self.link.symlink_to(self.device_path)
            except OSError as exc:
                self.close()
                raise ConfigError(f"cannot create the link {self.link}: {exc}") from exc
        self.bytes_dropped = 0

    @property
    def path(self) -> str:
        """What a reader opens: the link if there is one, else the pty device."""
        return str(self.link) if self.link is not None else self.device_path

    def write(self, data: bytes) -> int:
        """Write without blocking; bytes that do not fit are dropped (and counted)."""
        written = 0
        while written < len(data):
            try:
                written += os.write(self.master_fd, data[written:])
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno in (errno.EIO, errno.EAGAIN):
                    break
                raise SourceError(f"virtual port {self.device_path} failed: {exc}") from exc
        self.bytes_dropped += len(data) - written
        try:  # discard anything a reader sends to the board
            os.read(self.master_fd, 4096)
        except OSError:
            pass
        return written

    def close(self) -> None:
        """Close both ends (a reader sees the board unplugged) and remove the link."""
        for fd in (self.master_fd, self._slave_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.link is not None and self.link.is_symlink():
            self.link.unlink()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stream_board(board: VirtualBeltBoard, port: VirtualSerialPort, stop: threading.Event,
                 duration_s: float | None = None) -> None:
    """Write the board's bytes to ``port`` in real time until ``stop`` is set.

    Each write is computed from the start time (``read_until`` of the elapsed board
    time), so pacing never drifts however late a wake-up is.
    """
    start = time.monotonic()
    period_s = board.frame_period_s
    while not stop.is_set():
        elapsed = time.monotonic() - start
        if duration_s is not None and elapsed > duration_s:
            return
        port.write(board.read_until(float(board.board_time_s(elapsed))))
        next_s = (int(elapsed / period_s) + 1) * period_s
        stop.wait(max(0.0, next_s - (time.monotonic() - start)))


def add_sim_serial_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``rapport-sync sim-serial``."""
    parser.add_argument("--seed", type=int, default=0, metavar="N")
    parser.add_argument("--script", default="default", metavar="NAME",
                        help=f"coupling over time: {', '.join(SCRIPTS)}")
    parser.add_argument("--link", metavar="PATH",
                        help="also make a symbolic link at PATH to the port (a stable name)")


def run_sim_serial(args: argparse.Namespace) -> int:
    """Run the virtual board until interrupted; the first output line is the port path."""
    script = getattr(args, "script", "default")
    if script not in SCRIPTS:
        raise ConfigError(f"unknown script {script!r}; one of {', '.join(SCRIPTS)}")
    board = VirtualBeltBoard(seed=getattr(args, "seed", 0), script=SCRIPTS[script])
    duration_s = getattr(args, "duration", None)
    with VirtualSerialPort(getattr(args, "link", None)) as port:
        print(port.path, flush=True)
        print(f"virtual two-belt board on {port.path}; try:\n"
              f"  rapport-sync record --a serial:{port.path}#0 --b serial:{port.path}#1\n"
              "Ctrl-C to stop.", file=sys.stderr, flush=True)
        try:
            stream_board(board, port, threading.Event(), duration_s)
        except KeyboardInterrupt:
            pass
    return 0
