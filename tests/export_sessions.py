"""A simulated session with operator markers and one person's disconnect, for exports and reports.

Person A is on one simulated board, person B on a second one whose link drops for
``GAP_S`` of the board's own time (the frames sampled then never reach the session, as
when a USB cable or a BLE link goes), so B has a real gap while A carries on. Both
boards simulate the same dyad (same seed and script), so the coupling is the simulator's.

The session is a real :class:`LiveSession` writing a real session file, on a virtual
clock: one source thread sends both boards' chunks in the order of their arrival stamps
and adds the markers at their exact times, so every run stores the same chunks at the
same stamps. (Two source threads on one virtual clock would race to move it, and on a
scaled real clock a busy machine moves the gap and the markers.)
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

from rapport_sync.samples import Chunk, DeviceEvent, DeviceEventKind
from rapport_sync.session.live import LiveSession
from rapport_sync.sources.base import (
    Clock,
    DeviceInfo,
    Emit,
    Source,
    SourceSpec,
    VirtualClock,
    register_backend,
)
from rapport_sync.sources.sim import SimSource, open_sim

GAP_S = (70.0, 80.0)  # B's board samples these seconds with its link down
FS_HZ = 50.0  # the boards' belt rate (the simulator's default)
# Exports list a gap from the last sample before it to the first after it.
GAP_LISTED_S = (GAP_S[0] - 1 / FS_HZ, GAP_S[1])
# The session maps B's board clock to session time under the fastest arrivals, whose USB
# delay is 2 to 3 ms: the listed gap sits that much later in session time. Its length is
# the board's, to the clock fit's drift and the exports' 0.1 ms.
GAP_WHERE_SLACK_S = 0.005
GAP_LENGTH_SLACK_S = 0.001
LISTED_GAP = (pytest.approx(GAP_LISTED_S[0], abs=GAP_WHERE_SLACK_S),  # (start, length)
              pytest.approx(GAP_LISTED_S[1] - GAP_LISTED_S[0], abs=GAP_LENGTH_SLACK_S))
MARKERS = ((40.0, "baseline end"), (100.0, "task start"))
MARKER_SLACK_S = 1e-4  # markers are added at these session times exactly (EDF+ keeps 100 µs)
DURATION_S = 150.0


class TwoBoardsSource(Source):
    """A's board and B's board, whose link is down while it samples ``gap_s`` (board
    seconds), on one thread. Each board's whole run is taken first, on a virtual clock of
    its own from the session's start; then the two are sent in the order of their arrival
    stamps as the session's clock reaches them, with ``add_marker(label)`` called at each
    of ``markers`` (session seconds, label)."""

    def __init__(self, a: SimSource, b: SimSource, gap_s: tuple[float, float],
                 markers: Sequence[tuple[float, str]], add_marker: Callable[[str], object],
                 clock: Clock) -> None:
        super().__init__(clock)
        self.a, self.b = a, b
        a._stop = b._stop = self._stop  # stopping this stops the boards
        self.gap_s = gap_s
        self.markers = sorted(markers)
        self.add_marker = add_marker
        self.duration_s = a.duration_s  # the session sees a source that ends by itself

    @property
    def devices(self) -> list[DeviceInfo]:
        b = self.b.devices[0]
        return [self.a.devices[0],
                dataclasses.replace(b, description=b.description + ", link drops")]

    def _run(self, emit: Emit) -> None:
        start_ns = self.clock.now_ns()
        sent_a = self._sent(self.a, start_ns)
        sent_b = self._sent(self.b, start_ns, self.gap_s)
        markers = [(start_ns + round(t_s * 1e9), label) for t_s, label in self.markers]
        # A first at equal stamps (same seed, same USB delays)
        for item in heapq.merge(sent_a, sent_b, key=lambda item: item.host_time_ns):
            while markers and markers[0][0] <= item.host_time_ns:
                t_ns, label = markers.pop(0)
                if not self.clock.sleep_until_ns(t_ns, self._stop):
                    return
                self.add_marker(label)
            if not self.clock.sleep_until_ns(item.host_time_ns, self._stop):
                return
            emit(item)

    @staticmethod
    def _sent(board: SimSource, start_ns: int, gap_s: tuple[float, float] | None = None
              ) -> list[Chunk | DeviceEvent]:
        """What ``board`` sends in its whole run from ``start_ns``, in order; with
        ``gap_s`` its frames sampled then are lost, between a disconnect and a connect."""
        board.clock = VirtualClock(start_ns)
        sent: list[Chunk | DeviceEvent] = []
        down = False

        def relay(item: Chunk | DeviceEvent) -> None:
            nonlocal down
            if isinstance(item, Chunk) and gap_s is not None:
                frames = board.board
                sampled_s = (frames._frames_sent - 1) * frames.frame_period_s  # frame start
                in_gap = gap_s[0] <= sampled_s < gap_s[1]
                if in_gap != down:
                    down = in_gap
                    sent.append(DeviceEvent(item.device, item.host_time_ns,
                                            DeviceEventKind.DISCONNECTED if down
                                            else DeviceEventKind.CONNECTED, "link"))
                if down:
                    return
            sent.append(item)

        board._run(relay)
        return sent


def run_gapped_session(path: Path, seed: int = 1, script: str = "coupled") -> LiveSession:
    """Run the session of the module docstring (a few seconds); returns it stopped."""
    def open_boards(target: str, persons: Mapping[str | None, str], clock: Clock) -> Source:
        assert persons == {"0": "a", "1": "b"}, persons
        a, b = (open_sim(target, {channel: person}, clock)
                for channel, person in persons.items())
        b.device_id = "sim-belt-b"  # a second board
        return TwoBoardsSource(a, b, GAP_S, MARKERS, session.add_marker, clock)

    register_backend("sim-two-boards", open_boards)
    target = f"seed={seed},script={script},duration={DURATION_S},fs={FS_HZ}"
    spec = SourceSpec.parse(f"sim-two-boards:{target}")  # one source, A on 0 and B on 1
    session = LiveSession({"a": spec, "b": spec}, path, {"a": "Ann Example", "b": "Ben Example"},
                          clock=VirtualClock(start_ns=5 * 10**12), window_s=30.0)
    session.start()
    for source in session.sources:
        assert source._thread is not None
        source._thread.join(120)
    session.stop()
    return session
