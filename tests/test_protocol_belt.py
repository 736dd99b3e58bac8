"""The Python side of the belt protocol against the vectors the C encoder produced.

Every vector: encoded equal to its wire bytes, decoded whole, one byte at a time and with
trailing bytes; invalid vectors rejected for the right reason; the stream decoder
resyncs after garbage, counts bad CRCs and reports sequence gaps; arbitrary bytes give
frames, gaps and corrupt-block reports, never an exception.
"""

from __future__ import annotations

import pytest
from belt_vectors import REPO, VECTORS, frame_from_fields
from hypothesis import given, settings
from hypothesis import strategies as st

from rapport_sync.errors import DecodeError
from rapport_sync.protocol.belt import (
    BeatFrame,
    CorruptFrame,
    DeviceInfoFrame,
    FrameDecoder,
    SamplesFrame,
    SequenceGap,
    StatusFrame,
    crc16_ccitt,
    decode_frame,
    encode_frame,
)
from rapport_sync.protocol.cobs import cobs_decode, cobs_encode

FRAMES = {v["name"]: v for v in VECTORS["frames"]}
ERROR_WORDS = {"crc": ("CRC",), "version": ("version",), "type": ("type",),
               "length": ("length", "short", "long"), "cobs": ("COBS",),
               "field": ("rate", "channels")}


def wire(name: str) -> bytes:
    return bytes.fromhex(FRAMES[name]["wire"])


def frames_only(items: list) -> list:
    return [x for x in items if not isinstance(x, (SequenceGap, CorruptFrame))]


@pytest.mark.parametrize("name", list(FRAMES))
def test_vector_encodes_to_its_wire_bytes(name: str) -> None:
    vector = FRAMES[name]
    frame = frame_from_fields(vector["fields"])
    assert encode_frame(frame) == wire(name)
    assert cobs_decode(wire(name)[:-1]) == bytes.fromhex(vector["frame"])


@pytest.mark.parametrize("name", list(FRAMES))
def test_vector_decodes_whole_byte_by_byte_and_with_trailing_bytes(name: str) -> None:
    expected = frame_from_fields(FRAMES[name]["fields"])
    data = wire(name)
    assert decode_frame(data[:-1]) == expected
    assert FrameDecoder().feed(data) == [expected]

    decoder = FrameDecoder()
    out = [item for i in range(len(data)) for item in decoder.feed(data[i : i + 1])]
    assert out == [expected]

    decoder = FrameDecoder()
    following = wire("beat_first")
    assert decoder.feed(data + following[:7]) == [expected]  # the next frame's first bytes
    assert frames_only(decoder.feed(following[7:])) == [frame_from_fields(FRAMES["beat_first"]["fields"])]


def test_worked_examples_in_protocol_md_match_the_vectors() -> None:
    text = (REPO / "firmware_bridge/PROTOCOL.md").read_text()
    documented = [line.split(None, 1)[1].split("crc=")[0].strip()
                  for line in text.splitlines() if line.startswith("wire ")]
    examples = [n for n in FRAMES if n.endswith("_example")]
    assert len(documented) == len(examples) == 4
    assert sorted(documented) == sorted(wire(n).hex(" ") for n in examples)


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda v: v["name"])
def test_invalid_vector_is_rejected_for_its_reason(vector: dict) -> None:
    with pytest.raises(DecodeError) as err:
        decode_frame(bytes.fromhex(vector["block"]))
    assert any(word in str(err.value) for word in ERROR_WORDS[vector["error"]])


def test_cobs_and_crc_vectors() -> None:
    for case in VECTORS["cobs"]:
        data, encoded = bytes.fromhex(case["data"]), bytes.fromhex(case["encoded"])
        assert cobs_encode(data) == encoded and 0 not in encoded
        assert cobs_decode(encoded) == data
    assert cobs_decode(bytes.fromhex("ff") + bytes(range(1, 255))) == bytes(range(1, 255))
    for case in VECTORS["crc16"]:
        assert crc16_ccitt(bytes.fromhex(case["data"])) == int(case["crc"], 16)


def test_resync_after_garbage_gives_exactly_the_good_frame() -> None:
    decoder = FrameDecoder()
    garbage = bytes([0x37, 0x99, 0x04, 0x01, 0xFE]) + wire("samples_example")[3:12]
    out = decoder.feed(garbage + b"\x00" + wire("status_example"))
    assert frames_only(out) == [frame_from_fields(FRAMES["status_example"]["fields"])]
    assert decoder.stats.frames == 1 and decoder.stats.bytes_skipped > 0
    assert decoder.stats.crc_errors == 0  # bytes before the first frame are "joined late"


def test_bad_crc_is_dropped_counted_and_shows_as_a_gap() -> None:
    decoder = FrameDecoder()
    good = [SamplesFrame(s, 20_000 * 5 * s, 50_000, ((s, -s),) * 5) for s in range(5)]
    data = [bytearray(encode_frame(f)) for f in good]
    data[2][6] ^= 0x10  # one flipped bit in frame 2
    out = decoder.feed(b"".join(data))
    assert frames_only(out) == [good[0], good[1], good[3], good[4]]
    assert [x for x in out if isinstance(x, SequenceGap)] == [SequenceGap(2, 3)]
    assert decoder.stats.crc_errors == 1 and decoder.stats.frames_lost == 1


def test_dropped_byte_loses_one_frame_only() -> None:
    frames = [BeatFrame(s, 1000 * s, s % 2, 800_000) for s in range(6)]
    data = bytearray(b"".join(encode_frame(f) for f in frames))
    del data[len(encode_frame(frames[0])) + 3]  # a byte of frame 1 vanishes
    decoder = FrameDecoder()
    out = decoder.feed(bytes(data))
    assert frames_only(out) == [frames[0], *frames[2:]]
    assert SequenceGap(1, 2) in out and decoder.stats.frames_lost == 1


def test_sequence_wrap_is_not_a_gap_and_a_board_reset_is_not_either() -> None:
    info = frame_from_fields(FRAMES["device_info_example"]["fields"])  # seq 0
    frames = [BeatFrame(65534, 1, 0, 0), BeatFrame(65535, 2, 0, 0), BeatFrame(0, 3, 0, 0),
              BeatFrame(1, 4, 0, 0), info, BeatFrame(1, 5, 0, 0)]
    out = FrameDecoder().feed(b"".join(encode_frame(f) for f in frames))
    assert out == frames


def test_missing_delimiter_noise_is_bounded() -> None:
    decoder = FrameDecoder()
    out = decoder.feed(b"\x5a" * 5000)
    assert all(isinstance(x, CorruptFrame) for x in out) and out
    assert frames_only(decoder.feed(b"\x00" + wire("beat_example"))) == [
        frame_from_fields(FRAMES["beat_example"]["fields"])]


def test_encoder_refuses_frames_the_wire_cannot_carry() -> None:
    with pytest.raises(ValueError):
        encode_frame(SamplesFrame(0, 0, 50_000, ((1,) * 9,)))
    with pytest.raises(ValueError):
        encode_frame(SamplesFrame(0, 0, 0, ((1,),)))
    with pytest.raises(ValueError):
        encode_frame(StatusFrame(0, 0, (True,), (True, False)))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.integers(min_value=1, max_value=64))
def test_arbitrary_bytes_give_frames_or_reports_never_an_exception(data: bytes, step: int) -> None:
    decoder = FrameDecoder()
    out = []
    for i in range(0, len(data), step):
        out += decoder.feed(data[i : i + step])
    kinds = (SamplesFrame, DeviceInfoFrame, StatusFrame, BeatFrame, SequenceGap, CorruptFrame)
    assert all(isinstance(x, kinds) for x in out)
    # and afterwards a good frame still comes through
    good = frame_from_fields(FRAMES["status_example"]["fields"])
    assert good in decoder.feed(b"\x00" + encode_frame(good))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_decode_frame_on_arbitrary_blocks_gives_a_frame_or_decode_error(block: bytes) -> None:
    try:
        frame = decode_frame(block)
    except DecodeError:
        return
    assert encode_frame(frame)[:-1] == cobs_encode(cobs_decode(block))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**64 - 1), st.integers(0, 255),
                          st.integers(0, 2**32 - 1)), min_size=1, max_size=20),
       st.integers(0, 65535), st.data())
def test_any_stream_of_frames_round_trips_in_any_chunking(
    beats: list[tuple[int, int, int]], seq0: int, data: st.DataObject
) -> None:
    frames = [BeatFrame((seq0 + i) & 0xFFFF, *b) for i, b in enumerate(beats)]
    stream = b"".join(encode_frame(f) for f in frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    decoder, out, start = FrameDecoder(), [], 0
    for cut in [*cuts, len(stream)]:
        out += decoder.feed(stream[start:cut])
        start = cut
    assert out == frames
