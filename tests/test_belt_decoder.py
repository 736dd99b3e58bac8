"""The session's belt decoder on protocol bytes: unplugged belts and clipping.

The board sends a status frame at the sample where a belt comes or goes, so the samples
frame holding the samples just before the change can arrive after it. Each sample must
take the state in force at its own device time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest
from belt_vectors import VECTORS, frame_from_fields
from conftest import run_sim_session

from rapport_sync.export.aligned import load_aligned
from rapport_sync.protocol.belt import (
    DeviceInfoFrame,
    Frame,
    SamplesFrame,
    StatusFrame,
    encode_frame,
)
from rapport_sync.samples import BreathSamples, Chunk, DeviceEvent, PayloadKind
from rapport_sync.session.belt_decoder import BeltDecoder
from rapport_sync.sources.base import Clock, DeviceInfo, Source, register_backend
from rapport_sync.sources.sim import open_sim

FS_MHZ = 50_000  # 50 Hz: 20 000 us per sample
RAIL = -2048  # what an open input reads


def samples_frame(seq: int, first_us: int, b_values: list[int]) -> SamplesFrame:
    return SamplesFrame(seq, first_us, FS_MHZ, tuple((100 + k, v) for k, v in enumerate(b_values)))


def decode(frames: list[SamplesFrame | StatusFrame]) -> list:
    decoder = BeltDecoder(DeviceInfo("board", "belt", {0: "a", 1: "b"}), 0)
    out = []
    for k, frame in enumerate(frames):  # one frame per chunk, 0.1 s apart on the host
        out += decoder.feed(Chunk("board", (k + 1) * 100_000_000, PayloadKind.BELT,
                                  encode_frame(frame)))
    return out


def person_b(out: list) -> tuple[np.ndarray, np.ndarray]:
    b = [d for d in out if isinstance(d, BreathSamples) and d.person == "b"]
    return np.concatenate([d.time_s for d in b]), np.concatenate([d.value for d in b])


def test_unplug_and_replug_mid_frame_take_effect_at_their_sample() -> None:
    on, off = (True, True), (True, False)
    frames = [
        StatusFrame(0, 0, on, (False, False)),
        samples_frame(1, 0, [10, 11, 12, 13, 14]),  # samples 0-4, all connected
        StatusFrame(2, 7 * 20_000, off, (False, True)),  # B pulled at sample 7 ...
        samples_frame(3, 5 * 20_000, [15, 16, RAIL, RAIL, RAIL]),  # ... sent before 5-9
        StatusFrame(4, 13 * 20_000, on, (False, True)),  # back at sample 13, stale clip bit
        samples_frame(5, 10 * 20_000, [RAIL, RAIL, RAIL, 20, 21]),
        samples_frame(6, 15 * 20_000, [22, 23, 24, 25, 26]),
    ]
    out = decode(frames)
    _, b = person_b(out)
    finite = np.isfinite(b)
    assert finite.tolist() == [True] * 7 + [False] * 6 + [True] * 7
    assert RAIL not in b[finite]
    a = [d for d in out if isinstance(d, BreathSamples) and d.person == "a"]
    assert np.isfinite(np.concatenate([d.value for d in a])).all()
    notes = [d.detail for d in out if isinstance(d, DeviceEvent)]
    assert notes == ["belt of person b (channel 1) unplugged",
                     "belt of person b (channel 1) plugged in"]  # no clipping warning


def test_real_clipping_after_replugging_is_reported() -> None:
    on, off = (True, True), (True, False)
    frames = [
        StatusFrame(0, 0, on, (False, False)),
        StatusFrame(1, 1_000_000, off, (False, True)),
        StatusFrame(2, 2_000_000, on, (False, True)),  # the rail's bit from the unplugged second
        StatusFrame(3, 3_000_000, on, (False, True)),  # now the strap itself clips
    ]
    notes = [d.detail for d in decode(frames) if isinstance(d, DeviceEvent)]
    assert notes[-1] == ("belt of person b (channel 1) clipping: loosen the belt or lower "
                         "the gain")
    assert sum("clipping" in n for n in notes) == 1


def test_a_belt_unplugged_from_the_start_is_missing_from_the_start() -> None:
    frames = [samples_frame(0, 0, [RAIL] * 5),
              StatusFrame(1, 5 * 20_000, (True, False), (False, True)),
              samples_frame(2, 5 * 20_000, [RAIL] * 5)]
    _, b = person_b(decode(frames))
    # the first frame came before any status: nothing said it was unplugged yet
    assert np.isfinite(b[:5]).all() and np.isnan(b[5:]).all()


def test_seq_wrapping_onto_a_device_info_frame_is_not_a_restart() -> None:
    """seq wraps 65535 -> 0 every ~75 minutes of a board's frames; when 0 falls on the
    once-a-second device-info frame, that is not the board booting."""
    from rapport_sync.protocol.belt import DeviceInfoFrame, FrameDecoder
    from rapport_sync.sources.sim import VirtualBeltBoard

    dry = VirtualBeltBoard(seed=1)
    stream = b"".join(dry.next_frame_bytes()[1] for _ in range(30))
    infos = [f.seq for f in FrameDecoder().feed(stream) if isinstance(f, DeviceInfoFrame)]

    def run(first_seq: int) -> tuple[list[str], np.ndarray]:
        board = VirtualBeltBoard(seed=1)
        board._seq = first_seq
        decoder = BeltDecoder(DeviceInfo("board", "belt", {0: "a", 1: "b"}), 0)
        out = []
        for _ in range(50):  # 5 s, each frame arriving 4 ms after its last sample
            board_s, data = board.next_frame_bytes()
            host_ns = int((board.session_time_s(board_s) + 0.004) * 1e9)
            out += decoder.feed(Chunk("board", host_ns, PayloadKind.BELT, data))
        notes = [d.detail for d in out if isinstance(d, DeviceEvent)]
        a = [d for d in out if isinstance(d, BreathSamples) and d.person == "a"]
        return notes, np.concatenate([d.time_s for d in a])

    wrapped_notes, wrapped_t = run(65536 - infos[2])  # the third device-info frame is seq 0
    plain_notes, plain_t = run(100)
    assert wrapped_notes == plain_notes == [
        "board 'virtual-belt' firmware 1.0.0, 2 channels at 50 Hz"]
    assert len(wrapped_t) == 250 and np.array_equal(wrapped_t, plain_t)


def test_a_status_with_more_channels_than_the_last_one_is_decoded() -> None:
    """A one-belt board replaced by a two-belt one on the same port: the chunk holding
    the wider status (and the samples with it) is decoded, channel 1 being new."""
    decoder = BeltDecoder(DeviceInfo("board", "belt", {0: "a", 1: "b"}), 0)
    narrow = encode_frame(StatusFrame(0, 0, (True,), (False,)))
    wide = (encode_frame(StatusFrame(1, 100_000, (True, False), (False, True)))
            + encode_frame(samples_frame(2, 100_000, [RAIL] * 5)))
    assert decoder.feed(Chunk("board", 100_000_000, PayloadKind.BELT, narrow)) == []
    out = decoder.feed(Chunk("board", 300_000_000, PayloadKind.BELT, wide))
    notes = [d.detail for d in out if isinstance(d, DeviceEvent)]
    assert notes == ["belt of person b (channel 1) unplugged"]  # no clipping warning
    a = [d for d in out if isinstance(d, BreathSamples) and d.person == "a"]
    assert a[0].value.tolist() == [100, 101, 102, 103, 104]
    assert np.isnan(person_b(out)[1]).all()


UNPLUGGED_S = (30.0, 40.0)


def _open_unplugging_board(target: str, persons: Mapping[str | None, str],
                           clock: Clock) -> Source:
    """The simulated board with B's belt pulled out during ``UNPLUGGED_S`` (board time);
    the board reports it in its once-a-second status, as a real board would at the latest."""
    source = open_sim(target, persons, clock)
    board = source.board
    next_frame = board.next_frame_bytes

    def next_frame_bytes() -> tuple[float, bytes]:
        t_s = board._frames_sent * board.frame_period_s
        board.belt_connected[1] = not UNPLUGGED_S[0] <= t_s < UNPLUGGED_S[1]
        return next_frame()

    board.next_frame_bytes = next_frame_bytes  # type: ignore[method-assign]
    return source


def test_an_unplugged_stretch_is_a_gap_in_the_exports(tmp_path: Path) -> None:
    register_backend("sim-unplug", _open_unplugging_board)
    run_sim_session(tmp_path / "s.rapport", duration_s=70.0, backend="sim-unplug")
    session = load_aligned(tmp_path / "s.rapport")
    assert session.people["a"].gaps == []
    ((start, end),) = session.people["b"].gaps
    # the status comes once a second: the gap starts up to a second late
    assert start == pytest.approx(UNPLUGGED_S[0] + 0.5, abs=0.6)
    assert end == pytest.approx(UNPLUGGED_S[1] + 0.5, abs=0.6)
    grid = (session.grid_time_s > start + 0.1) & (session.grid_time_s < end - 0.1)
    assert np.isnan(session.people["b"].grid_resp_raw[grid]).all()


def test_a_beat_before_the_first_samples_frame_is_kept() -> None:
    """A board's first frame after boot can be a heartbeat: it was dropped (no clock fit
    yet) without a word. Beat frames now feed the clock fit as samples frames do, so the
    beat lands at its time; the samples after it keep theirs."""
    from rapport_sync.protocol.belt import BeatFrame
    from rapport_sync.samples import HeartBeats

    # frames arrive 0.1 s apart on the host: a beat at 50 ms, samples at 100-180 ms, a
    # beat at 250 ms
    out = decode([BeatFrame(1, 50_000, 0, 0), samples_frame(2, 100_000, [7] * 5),
                  BeatFrame(3, 250_000, 0, 200_000)])
    beats = [d for d in out if isinstance(d, HeartBeats)]
    assert [b.person for b in beats] == ["a", "a"]
    times = np.concatenate([b.time_s for b in beats])
    t_b, _ = person_b(out)
    # each is placed with the clock fit of its moment: the first, from itself alone,
    # assumes no transport delay and lands 30 ms late (the samples' 20-ms delay, the
    # beat's 50), as the first samples of a session do while the fit settles
    assert times[1] - times[0] == pytest.approx(0.2, abs=0.05)
    assert t_b[0] - times[0] == pytest.approx(0.05, abs=0.05)
    assert np.all(np.diff(t_b) == pytest.approx(0.02))


def _device_info(seq: int) -> DeviceInfoFrame:
    """The firmware's device-info frame (the shared test vector) with another seq."""
    (vector,) = [v for v in VECTORS["frames"] if v["name"] == "device_info_example"]
    frame = frame_from_fields(vector["fields"])
    assert isinstance(frame, DeviceInfoFrame)
    return dataclasses.replace(frame, seq=seq)


def _board_frames(first_seq: int, first_us: int, lost: set[int]) -> list[Frame]:
    """What a board sends from ``first_seq`` on: a device-info and a status frame, then ten
    samples frames; the frames whose seq is in ``lost`` never reach the host."""
    frames: list[Frame] = [_device_info(first_seq),
                           StatusFrame(first_seq + 1, first_us, (True, True), (False, False))]
    frames += [samples_frame(first_seq + 2 + k, first_us + k * 100_000, [k] * 5)
               for k in range(10)]
    return [f for f in frames if f.seq not in lost]


def _feed(decoder: BeltDecoder, chunks: list[list[Frame]]) -> list[str]:
    """The notes of the device events, chunks 0.1 s apart on the host."""
    out = []
    for k, frames in enumerate(chunks):
        data = b"".join(encode_frame(f) for f in frames)
        out += decoder.feed(Chunk("board", (k + 1) * 100_000_000, PayloadKind.BELT, data))
    return [d.detail for d in out if isinstance(d, DeviceEvent)]


# A board up for a minute loses seq 5 and 6; it is unplugged and plugged back, its boot
# frames (seq 0 to 39) fall in the port's reset wait, and the new board loses seq 45.
OLD_BOARD = _board_frames(0, 60_000_000, lost={5, 6})
NEW_BOARD = _board_frames(40, 2_000_000, lost={45})
RESTART_NOTES = ["board 'esp32' firmware 1.0.0, 2 channels at 50 Hz",
                 "2 frames lost (seq 5 → 7)",
                 "board restarted (its clock went back from 60.98 s to 2.00 s)",
                 "1 frame lost (seq 45 → 46)"]


@pytest.mark.parametrize("new_board_chunks", [
    [[f] for f in NEW_BOARD],  # the jump shows on a device-info frame that ends its chunk
    [NEW_BOARD],  # the jump, and the clock going back, in one chunk
], ids=["one frame a chunk", "one chunk"])
def test_a_restart_loses_no_frames_and_losses_around_it_are_counted(
        new_board_chunks: list[list[Frame]]) -> None:
    """The jump in seq onto a restarted board (12 → 40 here, 28 frames as seq counts) is
    no lost frames, whether or not the frame after it shows the clock going back in the
    same chunk; the frames lost before and after the restart are counted, in the events
    and in the frame decoder's count."""
    decoder = BeltDecoder(DeviceInfo("board", "belt", {0: "a", 1: "b"}), 0)
    notes = _feed(decoder, [[f] for f in OLD_BOARD] + new_board_chunks)
    assert notes == RESTART_NOTES
    assert decoder.frames.stats.frames_lost == 3


def test_a_jump_just_before_an_announced_boot_is_the_old_boards_loss() -> None:
    """A jump that shows on a device-info frame is judged at the next frame with a device
    time; when the board's boot frame (seq 0) comes first, the jump was the old board's."""
    old = [*OLD_BOARD, _device_info(14)]  # seq 12 and 13 lost
    new = _board_frames(0, 0, lost=set())
    decoder = BeltDecoder(DeviceInfo("board", "belt", {0: "a", 1: "b"}), 0)
    notes = _feed(decoder, [[f] for f in old + new])
    assert notes == [*RESTART_NOTES[:2], "2 frames lost (seq 12 → 14)", "board restarted",
                     "board 'esp32' firmware 1.0.0, 2 channels at 50 Hz"]
    assert decoder.frames.stats.frames_lost == 4


def test_session_info_counts_no_gap_for_a_board_restart(tmp_path: Path) -> None:
    """``rapport-sync info`` on a recording of that restart: two gaps, the restart as a
    status event, and no line of frames lost across it."""
    from rapport_sync.session.info import describe_session
    from rapport_sync.session.store import SessionWriter

    path = tmp_path / "restart.rapport"
    writer = SessionWriter.create(path, {"start_host_ns": 0})
    writer.add_device(DeviceInfo("board", "belt", {0: "a", 1: "b"}, "two-belt board"))
    for k, frame in enumerate(OLD_BOARD + NEW_BOARD):  # one frame a chunk
        writer.add_chunk(Chunk("board", (k + 1) * 100_000_000, PayloadKind.BELT,
                               encode_frame(frame)))
    writer.close((len(OLD_BOARD) + len(NEW_BOARD) + 1) * 100_000_000)
    text = describe_session(path)
    assert "\ngaps          2\n" in text
    events = [line.split(": ", 1)[1] for line in text.splitlines() if "  board  " in line]
    assert events == RESTART_NOTES
