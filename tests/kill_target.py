"""A simulated two-person session at 20x that prints a line for every chunk it hands to
the session (``emitted <monotonic seconds>``), so a test can kill it and compare what
the file kept with what had arrived. Usage: ``python kill_target.py SESSION_FILE``."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from pathlib import Path

from rapport_sync.samples import Chunk, DeviceEvent
from rapport_sync.session.live import LiveSession
from rapport_sync.sources.base import (
    Clock,
    Emit,
    MonotonicClock,
    Source,
    SourceSpec,
    register_backend,
)
from rapport_sync.sources.sim import open_sim


def open_counted(target: str, persons: Mapping[str | None, str], clock: Clock) -> Source:
    source = open_sim(target, persons, clock)
    run = source._run

    def counted(emit: Emit) -> None:
        def relay(item: Chunk | DeviceEvent) -> None:
            emit(item)
            if isinstance(item, Chunk):
                print("emitted", time.monotonic(), flush=True)
        run(relay)

    source._run = counted  # type: ignore[method-assign]
    return source


if __name__ == "__main__":
    register_backend("sim-counted", open_counted)
    spec = SourceSpec.parse("sim-counted:seed=1")
    session = LiveSession({"a": spec, "b": spec}, Path(sys.argv[1]), {"a": "A", "b": "B"},
                          clock=MonotonicClock(20.0))
    session.start()
    time.sleep(3600)
