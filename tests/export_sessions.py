"""A simulated session with operator markers and one person's disconnect, for exports and reports.

Person A is on one simulated board, person B on a second one whose link drops for
``GAP_S`` of the board's own time (the frames sampled then never reach the session, as
when a USB cable or a BLE link goes), so B has a real gap while A carries on. The drop
follows the board's clock, not the host's, so a busy machine moves it by no more than
the clock mapping's offset. Both boards simulate the same dyad (same seed and
script), so the coupling is the simulator's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rapport_sync.samples import Chunk, DeviceEvent, DeviceEventKind
from rapport_sync.session.live import LiveSession
from rapport_sync.sources.base import (
    Clock,
    DeviceInfo,
    Emit,
    MonotonicClock,
    Source,
    SourceSpec,
    register_backend,
)
from rapport_sync.sources.sim import SimSource, open_sim

GAP_S = (70.0, 80.0)
MARKERS = ((40.0, "baseline end"), (100.0, "task start"))
DURATION_S = 150.0
SPEED = 20.0  # paced, not virtual: two sources on a virtual clock would race each other
# Where the session puts the board's gap depends on the host's delays, magnified by SPEED
# (a 30-ms stall on a busy machine is 0.6 s of session time); its length does not.
GAP_WHERE_SLACK_S = 1.0
GAP_LENGTH_SLACK_S = 0.3
_ON_TIME: list = []


class LinkDropSource(Source):
    """A simulated board whose link is down while it samples ``gap_s`` (board seconds);
    calls ``on_time`` with the host's session time as chunks pass."""

    def __init__(self, inner: SimSource, gap_s: tuple[float, float], clock: Clock) -> None:
        super().__init__(clock)
        self.inner = inner
        self.inner._stop = self._stop  # stopping this stops the board
        self.gap_s = gap_s
        self.name = "sim-belt-b"
        self.on_time = _ON_TIME[-1] if _ON_TIME else (lambda t_s: None)

    @property
    def devices(self) -> list[DeviceInfo]:
        info = self.inner.devices[0]
        return [DeviceInfo(self.name, info.protocol, info.persons, info.description + ", "
                           "link drops", info.details)]

    def _run(self, emit: Emit) -> None:
        start_ns = self.clock.now_ns()
        down = False

        board = self.inner.board

        def relay(item: Chunk | DeviceEvent) -> None:
            nonlocal down
            self.on_time((self.clock.now_ns() - start_ns) / 1e9)
            if not isinstance(item, Chunk):
                emit(DeviceEvent(self.name, item.host_time_ns, item.kind, item.detail))
                return
            sampled_s = (board._frames_sent - 1) * board.frame_period_s  # this frame's start
            in_gap = self.gap_s[0] <= sampled_s < self.gap_s[1]
            if in_gap != down:
                down = in_gap
                emit(DeviceEvent(self.name, item.host_time_ns, DeviceEventKind.DISCONNECTED
                                 if down else DeviceEventKind.CONNECTED, "link"))
            if not down:
                emit(Chunk(self.name, item.host_time_ns, item.kind, item.payload))

        self.inner._run(relay)


def _open_link_drop(target: str, persons: Mapping[str | None, str], clock: Clock) -> Source:
    return LinkDropSource(open_sim(target, persons, clock), GAP_S, clock)


def run_gapped_session(path: Path, seed: int = 1, script: str = "coupled") -> LiveSession:
    """Run the session of the module docstring (about 8 s); returns it stopped."""
    register_backend("sim-link-drop", _open_link_drop)
    target = f"seed={seed},script={script},duration={DURATION_S}"
    session = LiveSession(
        {"a": SourceSpec.parse(f"sim:{target}"), "b": SourceSpec.parse(f"sim-link-drop:{target}")},
        path, {"a": "Ann Example", "b": "Ben Example"}, clock=MonotonicClock(SPEED),
        window_s=30.0)
    pending = list(MARKERS)

    def on_time(t_s: float) -> None:  # runs on B's source thread, at virtual time t_s
        while pending and t_s >= pending[0][0]:
            session.add_marker(pending.pop(0)[1])

    _ON_TIME.append(on_time)
    try:
        session.start()
    finally:
        _ON_TIME.pop()
    for source in session.sources:
        assert source._thread is not None
        source._thread.join(120)
    session.stop()
    return session
