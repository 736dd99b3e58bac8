"""Polar PMD control point and data frames: byte-exact vectors, round trips, fuzz.

Vectors come from reference/sensors.md §2.4 and §2.7: the old PMD specification's H10
examples, and polar-ble-sdk's unit tests (EcgDataTest.kt, AccDataTest.kt,
PmdSettingTest.kt, BlePmdClientControlPointResponseTest.kt).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rapport_sync.errors import DecodeError
from rapport_sync.protocol.pmd import (
    ControlPointResponse,
    Features,
    MeasurementStopped,
    MeasurementType,
    Opcode,
    SettingType,
    Status,
    encode_features,
    encode_get_settings,
    encode_measurement_stopped,
    encode_request,
    encode_response,
    encode_start,
    encode_stop,
    parse_control_point,
    parse_request,
    parse_settings,
)
from rapport_sync.protocol.pmd_data import (
    H10_UNSET_CLOCK_NS,
    PMD_EPOCH_UNIX_NS,
    PmdFrame,
    decode_acc,
    decode_delta_samples,
    decode_ecg,
    encode_acc,
    encode_delta_samples,
    encode_ecg,
    encode_pmd_frame,
    parse_pmd_frame,
    sample_times_ns,
)

ACC, ECG = MeasurementType.ACC, MeasurementType.ECG
RATE, RES, RANGE = SettingType.SAMPLE_RATE, SettingType.RESOLUTION, SettingType.RANGE

# ---- control point: exact H10 command bytes (old spec, §2.4) ----------------------------


def test_h10_requests_are_byte_exact():
    assert encode_get_settings(ACC) == bytes.fromhex("01 02")
    assert encode_get_settings(ECG) == bytes.fromhex("01 00")
    assert encode_start(ECG, {RATE: 130, RES: 14}) == bytes.fromhex("02 00 00 01 82 00 01 01 0E 00")
    assert encode_start(ACC, {RATE: 200, RES: 16, RANGE: 8}) == bytes.fromhex(
        "02 02 00 01 C8 00 01 01 10 00 02 01 08 00"
    )
    assert encode_stop(ACC) == bytes.fromhex("03 02")
    assert encode_stop(ECG) == bytes.fromhex("03 00")  # 01 00 would be GET_SETTINGS


def test_request_parse_is_inverse_of_encode():
    data = bytes.fromhex("02 02 00 01 32 00 01 01 10 00 02 01 02 00")
    req = parse_request(data)
    assert (req.opcode, req.measurement_type, req.offline) == (
        Opcode.REQUEST_MEASUREMENT_START,
        2,
        False,
    )
    assert req.settings == {RATE: (50,), RES: (16,), RANGE: (2,)}
    assert encode_request(req) == data


def test_get_acc_settings_response():
    data = bytes.fromhex(
        "F0 01 02 00 00"  # response, GET_SETTINGS, ACC, SUCCESS, more = 0
        " 00 04 19 00 32 00 64 00 C8 00"  # SAMPLE_RATE x4: 25 50 100 200
        " 01 01 10 00"  # RESOLUTION x1: 16
        " 02 03 02 00 04 00 08 00"  # RANGE x3: 2 4 8
    )
    r = parse_control_point(data)
    assert isinstance(r, ControlPointResponse) and r.ok
    assert (r.opcode, r.measurement_type, r.more) == (Opcode.GET_MEASUREMENT_SETTINGS, ACC, 0)
    assert r.settings() == {RATE: (25, 50, 100, 200), RES: (16,), RANGE: (2, 4, 8)}
    assert encode_response(r) == data


def test_get_ecg_settings_and_start_stop_responses():
    r = parse_control_point(bytes.fromhex("F0 01 00 00 00 00 01 82 00 01 01 0E 00"))
    assert r.settings() == {RATE: (130,), RES: (14,)}
    for hex_, opcode, mtype in [
        ("F0 02 00 00 00 00", Opcode.REQUEST_MEASUREMENT_START, ECG),
        ("F0 02 02 00 00 01", Opcode.REQUEST_MEASUREMENT_START, ACC),
        ("F0 03 02 00 00", Opcode.STOP_MEASUREMENT, ACC),
        ("F0 03 00 00 00", Opcode.STOP_MEASUREMENT, ECG),
    ]:
        r = parse_control_point(bytes.fromhex(hex_))
        assert (r.opcode, r.measurement_type, r.status) == (opcode, mtype, Status.SUCCESS)
        assert encode_response(r) == bytes.fromhex(hex_)


def test_sdk_response_vector_and_already_running_status():
    r = parse_control_point(
        bytes.fromhex("F0 01 02 00 00 FF FF FF")
    )  # BlePmdClientControlPointResponseTest
    assert r == ControlPointResponse(1, 2, 0, 0, b"\xff\xff\xff")
    running = parse_control_point(bytes.fromhex("F0 02 02 06 00"))
    assert running.status == Status.ALREADY_IN_STATE and not running.ok
    assert running.status_name == "ALREADY_IN_STATE"
    assert parse_control_point(bytes.fromhex("F0 02 02 63 00")).status_name == "STATUS_99"


def test_settings_with_one_and_four_byte_values():
    # PmdSettingTest.kt: 52 Hz, 16 bit, ranges 245/500/1000/2000, channels 3 (1 byte)
    data = bytes.fromhex("00 01 34 00 01 01 10 00 02 04 F5 00 F4 01 E8 03 D0 07 04 01 03")
    s = parse_settings(data)
    assert s == {RATE: (52,), RES: (16,), RANGE: (245, 500, 1000, 2000), SettingType.CHANNELS: (3,)}
    factor = parse_settings(bytes.fromhex("05 01") + np.float32(2.44e-4).tobytes())
    assert factor[SettingType.FACTOR][0] == pytest.approx(2.44e-4)


@pytest.mark.parametrize("hex_", ["00 01 34", "00", "0A 01 00 00", "00 01 34 00 00 01 34 00"])
def test_bad_settings_raise(hex_):
    with pytest.raises(DecodeError):
        parse_settings(bytes.fromhex(hex_))


def test_measurement_stopped_and_features():
    assert parse_control_point(bytes.fromhex("01 02")) == MeasurementStopped((2,))
    assert encode_measurement_stopped((0, 2)) == bytes.fromhex("01 00 02")
    h10 = bytes.fromhex("0F 05 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00")
    f = parse_control_point(h10)
    assert isinstance(f, Features) and f.measurement_types == {ECG, ACC}
    assert encode_features({ECG, ACC}) == h10


@given(st.binary(max_size=40))
def test_arbitrary_control_point_bytes_give_a_message_or_decode_error(data):
    try:
        msg = parse_control_point(data)
    except DecodeError:
        return
    if isinstance(msg, ControlPointResponse):
        assert encode_response(msg) == data
        try:
            msg.settings()
        except DecodeError:
            pass


@given(st.binary(max_size=40))
def test_arbitrary_request_bytes_give_a_request_or_decode_error(data):
    try:
        req = parse_request(data)
    except DecodeError:
        return
    if not data[1] & 0x40:  # bit 6 of the type byte is reserved and not carried
        assert encode_request(req) == data  # what was read is exactly what was sent


# ---- data frames -----------------------------------------------------------------------


def test_h10_acc_frame_from_old_spec():
    data = bytes.fromhex(
        "02"  # ACC
        " EA 54 A2 42 8B 45 52 08"  # ts 599618164814402794 ns = 2019-01-01T00:36:04.814 device
        " 01"  # raw frame type 1: int16 x, y, z
        " 45 FF E4 FF B5 03  45 FF E4 FF B8 03"  # (-187, -28, 949), (-187, -28, 952) mG
    )
    f = parse_pmd_frame(data)
    assert (f.measurement_type, f.device_time_ns, f.frame_type, f.compressed) == (
        ACC,
        599618164814402794,
        1,
        False,
    )
    assert f.device_time_ns - H10_UNSET_CLOCK_NS == 2164814402794  # 36 min 4.8 s after reset
    acc = decode_acc(f)
    np.testing.assert_array_equal(acc.mg, [[-187, -28, 949], [-187, -28, 952]])
    assert encode_acc(acc.device_time_ns, acc.mg) == data
    assert encode_pmd_frame(f) == data


def test_h10_ecg_frame_from_old_spec():
    data = bytes.fromhex(
        "00 EA 1C AC CC 99 43 52 08 00"  # ECG, ts 599616028236586218, frame type 0
        " 68 00 00 58 00 00 46 00 00 3D 00 00 32 00 00 26 00 00 16 00 00 04 00 00"
    )
    ecg = decode_ecg(parse_pmd_frame(data))
    assert ecg.device_time_ns == 599616028236586218
    np.testing.assert_array_equal(ecg.microvolts, [104, 88, 70, 61, 50, 38, 22, 4])
    assert encode_ecg(ecg.device_time_ns, ecg.microvolts) == data


def test_sdk_ecg_frame_negative_and_large_values():
    data = bytes.fromhex("00 00 94 35 77 00 00 00 00 00  02 80 FF 02 80 00")  # EcgDataTest.kt
    ecg = decode_ecg(parse_pmd_frame(data))
    assert ecg.device_time_ns == 2_000_000_000
    np.testing.assert_array_equal(ecg.microvolts, [-32766, 32770])
    times = sample_times_ns(ecg.device_time_ns, 2, 130.0)
    assert times[-1] == ecg.device_time_ns


# AccDataTest.kt "process acc raw data frame type 1": 36 samples at 52 Hz, ts 2 000 000 000.
SDK_ACC_RAW_PAYLOAD = bytes.fromhex(
    "F7 FF FF FF E7 03 F8 FF FE FF E5 03 F9 FF FF FF E5 03 FA FF FF FF E6 03 FA FF FE FF E6 03"
    " F9 FF FF FF E5 03 F8 FF FF FF E6 03 F8 FF FE FF E6 03 FA FF FF FF E5 03 FA FF FF FF E7 03"
    " FA FF FF FF E5 03 F8 FF FF FF E6 03 F7 FF FF FF E6 03 F8 FF FE FF E6 03 F9 FF FE FF E7 03"
    " F9 FF 00 00 E6 03 F9 FF FF FF E6 03 F7 FF FE FF E5 03 F9 FF FF FF E5 03 F9 FF FF FF E5 03"
    " FA FF 00 00 E6 03 F9 FF FE FF E6 03 F8 FF FF FF E6 03 F8 FF FF FF E5 03 F9 FF FF FF E6 03"
    " F9 FF FF FF E5 03 FA FF FF FF E6 03 F9 FF FF FF E5 03 F9 FF FF FF E5 03 F8 FF FE FF E6 03"
    " F9 FF FF FF E6 03 F9 FF FF FF E6 03 F9 FF 00 00 E5 03 F9 FF FE FF E6 03 F8 FF FE FF E6 03"
    " F7 FF FE FF E6 03"
)


def test_sdk_acc_raw_frame():
    data = bytes.fromhex("02 00 94 35 77 00 00 00 00 01") + SDK_ACC_RAW_PAYLOAD
    acc = decode_acc(parse_pmd_frame(data))
    assert acc.mg.shape == (len(SDK_ACC_RAW_PAYLOAD) // 6, 3) == (36, 3)
    np.testing.assert_array_equal(acc.mg[:2], [[-9, -1, 999], [-8, -2, 997]])
    times = sample_times_ns(acc.device_time_ns, len(acc.mg), 52.0)  # no previous frame
    assert times[-1] == 2_000_000_000 and times[-2] == 2_000_000_000 - round(1e9 / 52)


# AccDataTest.kt "process acc compressed data type 0": 6-byte reference, one block of
# 56 ten-bit deltas; FACTOR 2.44e-4 and compressed type 0 give G, so mG = raw * f * 1000.
SDK_ACC_DELTA_PAYLOAD = bytes.fromhex(
    "71 07 F0 6A 9E 8D"  # reference (1905, 27376, -29282)
    " 0A 38"  # 10-bit deltas, 56 samples
    " BE 5C BE BA 2F 96 B3 EE 4B E5 AD FB 42 B9 EB BE 4C FE BA 2F 92 BF EE 4B E4 B1 FB 12 B9 EC"
    " BD 3C 3E BB 2F 8F D3 DE 4B E3 B5 F7 D2 B8 ED BD 30 7E 7B 2F 8B E3 CE 8B E2 BA F7 A2 B8 EE"
    " BC 20 BE 7B 2F 88 F3 CE CB E1 BD EF 52 F8 EF BC 18 FE 3B 2F 84 03 BF CB E0 C2 EF 32 B8 F0"
    " BB 04 4E BC 2E 81 13 AF 0B E0 C6 EF F2 F7 F1 B9 FC 7D BC 2E 7D 27 9F 4B DF CA EB C2 F7 F2"
    " B8 EC CD 7C 2E 7B 37 8F 4B DE CE E3 92 F7 F3 B8 E0 0D FD 2D 77 4B 7F CB DD D2 DF 62 37 F5"
    " B7 D4 4D BD 2D 74 5B 6F CB DC D7 D7 32 37 F6 B5 C8 8D 7D 2D 71 6B 4F 4B DC DC D3 F2 36 F7"
    " B4 BC DD FD 2C 6F 7B 3F 4B DB E0 CF D2 36 F8 B2 B0 2D BE 2C 6C 8F 1F CB DA E3 C7 A2 76 F9"
)


def test_sdk_acc_delta_frame_type_0_lsb_first():
    data = bytes.fromhex("02 00 94 35 77 00 00 00 00 80") + SDK_ACC_DELTA_PAYLOAD
    f = parse_pmd_frame(data)
    assert f.compressed and f.frame_type == 0
    raw = decode_delta_samples(f.payload)
    assert raw.shape == (57, 3)
    np.testing.assert_array_equal(raw[0], [1905, 27376, -29282])
    np.testing.assert_array_equal(raw[1], [1905 + 190, 27376 - 105, -29282 - 85])
    acc = decode_acc(f, factor=float(np.float32(2.44e-4)))
    np.testing.assert_array_equal(np.trunc(acc.mg[0]), [464, 6679, -7144])
    assert np.all(np.abs(acc.mg) <= 8000)  # within the 8 G range
    times = sample_times_ns(f.device_time_ns, 57, 0.0, previous_time_ns=100)
    assert times[0] == round(100 + (2_000_000_000 - 100) / 57) and times[-1] == 2_000_000_000


def test_sdk_acc_delta_frame_type_1():
    data = bytes.fromhex(
        "02 65 00 00 00 00 00 00 00 81"  # ACC, ts 101, compressed type 1
        " F1 FF 14 00 F0 03"  # reference (-15, 20, 1008)
        " 06 01 7B 0F 08"  # 6-bit deltas, 1 sample: (-5, -3, 0)
    )
    acc = decode_acc(parse_pmd_frame(data))
    np.testing.assert_array_equal(acc.mg, [[-15, 20, 1008], [-20, 17, 1008]])
    np.testing.assert_array_equal(sample_times_ns(101, 2, 52.0, previous_time_ns=100), [100, 101])


def test_verity_delta_8_bit_block():
    # Old spec v2 Verity ACC; the block count is set to 2 (the spec's frame continues).
    payload = bytes.fromhex("D0 FF 65 01 E4 0F  08 02  FC 07 FF 0C 13 F2")
    np.testing.assert_array_equal(
        decode_delta_samples(payload), [[-48, 357, 4068], [-52, 364, 4067], [-40, 383, 4053]]
    )


def test_epoch_constant_is_2000_01_01():
    import datetime as dt

    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC).timestamp()
    assert PMD_EPOCH_UNIX_NS == int(epoch) * 10**9
    h10 = dt.datetime(2019, 1, 1, tzinfo=dt.UTC).timestamp() - epoch
    assert H10_UNSET_CLOCK_NS == int(h10) * 10**9


@pytest.mark.parametrize(
    "vector",
    [
        "02 EA 54 A2 42 8B 45 52 08 01 45 FF E4 FF B5 03 45 FF E4 FF B8 03",
        "00 EA 1C AC CC 99 43 52 08 00 68 00 00 58 00 00 46 00 00",
        "02 65 00 00 00 00 00 00 00 81 F1 FF 14 00 F0 03 06 01 7B 0F 08",
    ],
)
def test_prefixes_and_trailing_bytes(vector):
    data = bytes.fromhex(vector)
    decode = decode_ecg if data[0] == 0 else decode_acc
    full = decode(parse_pmd_frame(data))
    whole = full.microvolts if data[0] == 0 else full.mg
    for n in range(len(data)):
        try:
            part = decode(parse_pmd_frame(data[:n]))
        except DecodeError:
            continue
        got = part.microvolts if data[0] == 0 else part.mg
        np.testing.assert_array_equal(got, whole[: len(got)])  # only whole samples, no garbage
        assert len(got) < len(whole)
    with pytest.raises(DecodeError):
        decode(parse_pmd_frame(data + b"\x01"))


def test_wrong_type_and_unknown_frame_types_raise():
    with pytest.raises(DecodeError):
        decode_ecg(parse_pmd_frame(bytes.fromhex("02 00 00 00 00 00 00 00 00 01")))
    with pytest.raises(DecodeError):
        decode_acc(parse_pmd_frame(bytes.fromhex("02 00 00 00 00 00 00 00 00 05 00 00 00")))
    with pytest.raises(DecodeError):
        parse_pmd_frame(bytes.fromhex("02 00 00"))


@given(
    hnp.arrays(
        np.int64, st.tuples(st.integers(1, 80), st.just(3)), elements=st.integers(-32768, 32767)
    )
)
def test_delta_round_trip(samples):
    np.testing.assert_array_equal(decode_delta_samples(encode_delta_samples(samples)), samples)


@given(
    st.integers(0, 2**64 - 1),
    hnp.arrays(
        np.int64, st.tuples(st.integers(0, 36), st.just(3)), elements=st.integers(-32768, 32767)
    ),
)
def test_acc_raw_round_trip(ts, mg):
    acc = decode_acc(parse_pmd_frame(encode_acc(ts, mg)))
    assert acc.device_time_ns == ts
    np.testing.assert_array_equal(acc.mg, mg)


@given(st.binary(max_size=64), st.integers(0, 2))
def test_arbitrary_frames_give_samples_or_decode_error(body, mtype):
    data = bytes((mtype,)) + body
    try:
        frame = parse_pmd_frame(data)
        if frame.measurement_type == ECG:
            decode_ecg(frame)
        else:
            decode_acc(frame)
    except DecodeError:
        pass
    try:
        decode_delta_samples(body)
    except DecodeError:
        pass


def test_sample_times_without_previous_frame_step_back_at_nominal_rate():
    t = sample_times_ns(10_000_000_000, 36, 200.0)
    assert np.all(np.diff(t) == 5_000_000) and t[-1] == 10_000_000_000
    frame = PmdFrame(ACC, 5, 1, False, b"")
    assert len(decode_acc(frame).mg) == 0
