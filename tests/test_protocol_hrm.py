"""Heart Rate Measurement (0x2A37) and Battery Level: byte-exact vectors, round trips, fuzz.

Vectors: the first eight are polar-ble-sdk's BleHrClientTest.kt test vectors, the last
three are constructed H10/H7-style frames (reference/sensors.md §1.4).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rapport_sync.errors import DecodeError
from rapport_sync.protocol.heart_rate import (
    HeartRateMeasurement,
    SensorContact,
    encode_battery_level,
    encode_heart_rate,
    parse_battery_level,
    parse_heart_rate,
)

U = SensorContact.UNSUPPORTED
# (hex, hr_bpm, contact, energy_kj, rr in 1/1024 s, rr in ms rounded to 0.01)
VECTORS = [
    ("00 FF", 255, U, None, (), ()),  # flags 0: uint8 HR
    ("01 7F 7F", 32639, U, None, (), ()),  # bit0: uint16 HR, 0x7F7F
    ("06 00", 0, SensorContact.DETECTED, None, (), ()),  # bits 1+2: supported, detected
    ("04 00", 0, SensorContact.NOT_DETECTED, None, (), ()),  # bit 2 only: supported, no contact
    ("09 00 00 FF FF", 0, U, 65535, (), ()),  # uint16 HR + energy 0xFFFF kJ
    ("08 00 7F 80", 0, U, 32895, (), ()),  # energy 0x807F
    ("10 00 FF FF", 0, U, None, (65535,), (63999.02,)),  # one RR 0xFFFF
    ("11 00 00 FF FF 7F 80", 0, U, None, (65535, 32895), (63999.02, 32124.02)),
    ("10 3C 00 04", 60, U, None, (1024,), (1000.0,)),  # constructed: H10 flags 0x10
    ("10 48 1C 03 2A 03", 72, U, None, (796, 810), (777.34, 791.02)),  # constructed
    ("16 3C 00 04", 60, SensorContact.DETECTED, None, (1024,), (1000.0,)),  # constructed, H7
]


@pytest.mark.parametrize(("hex_", "hr", "contact", "energy", "rr", "rr_ms"), VECTORS)
def test_vectors_decode_exactly_and_reencode(hex_, hr, contact, energy, rr, rr_ms):
    data = bytes.fromhex(hex_)
    m = parse_heart_rate(data)
    assert (m.hr_bpm, m.contact, m.energy_kj, m.rr_1024) == (hr, contact, energy, rr)
    assert tuple(round(v * 1000, 2) for v in m.rr_s) == rr_ms
    assert encode_heart_rate(m) == data


def test_polar_rounding_of_rr_matches_reference_ms():
    # Polar rounds 65535 * 1000/1024 = 63999.02 to 63999; we keep the raw value instead.
    m = parse_heart_rate(bytes.fromhex("10 00 FF FF"))
    assert round(m.rr_s[0] * 1000) == 63999
    assert m.rr_1024 == (65535,)


def test_contact_field_is_a_two_bit_enum_not_a_bool():
    assert parse_heart_rate(b"\x02\x3c").contact is SensorContact.UNSUPPORTED_STATUS_SET
    assert parse_heart_rate(b"\x02\x3c").contact.detected is None
    assert parse_heart_rate(b"\x04\x3c").contact.detected is False
    assert parse_heart_rate(b"\x06\x3c").contact.detected is True


@pytest.mark.parametrize(("hex_",) + ("hr", "contact", "energy", "rr", "rr_ms"), VECTORS)
def test_every_prefix_is_a_consistent_record_or_decode_error(hex_, hr, contact, energy, rr, rr_ms):
    data = bytes.fromhex(hex_)
    for n in range(len(data)):
        try:
            m = parse_heart_rate(data[:n])
        except DecodeError:
            continue
        # A prefix can only be valid by dropping whole RR values at the end.
        assert (m.hr_bpm, m.energy_kj) == (hr, energy)
        assert m.rr_1024 == rr[: len(m.rr_1024)] and len(m.rr_1024) < len(rr)


@pytest.mark.parametrize(
    "hex_",
    ["", "01 3C", "08 3C 01", "11 3C 00 00 04 00", "00 3C 00"],
    ids=["empty", "uint16-truncated", "energy-truncated", "odd-rr-byte", "trailing-without-rr"],
)
def test_malformed_payloads_raise_decode_error(hex_):
    with pytest.raises(DecodeError):
        parse_heart_rate(bytes.fromhex(hex_))


def test_trailing_byte_after_rr_pairs_is_rejected_not_misread():
    good = bytes.fromhex("10 48 1C 03 2A 03")
    with pytest.raises(DecodeError, match="odd number"):
        parse_heart_rate(good + b"\x00")
    assert parse_heart_rate(good + b"\x00\x04").rr_1024 == (796, 810, 1024)


def test_rr_flag_without_values_round_trips():
    data = bytes.fromhex("10 3C")
    m = parse_heart_rate(data)
    assert m.rr_1024 == () and encode_heart_rate(m) == data


def test_reserved_flag_bits_are_ignored_but_kept():
    data = bytes.fromhex("E0 3C")
    m = parse_heart_rate(data)
    assert m.hr_bpm == 60 and encode_heart_rate(m) == data


def test_encode_rejects_hr_that_does_not_fit():
    with pytest.raises(ValueError):
        encode_heart_rate(HeartRateMeasurement(hr_bpm=300))


measurements = st.builds(
    HeartRateMeasurement,
    hr_bpm=st.integers(0, 255),
    contact=st.sampled_from(SensorContact),
    energy_kj=st.none() | st.integers(0, 0xFFFF),
    rr_1024=st.lists(st.integers(0, 0xFFFF), max_size=9).map(tuple),
    hr_uint16=st.booleans(),
)


@given(measurements)
def test_round_trip_record_bytes_record(m):
    assert parse_heart_rate(encode_heart_rate(m)) == m


@given(st.binary(max_size=24))
def test_arbitrary_bytes_give_a_record_or_decode_error(data):
    try:
        m = parse_heart_rate(data)
    except DecodeError:
        return
    assert encode_heart_rate(m) == data


def test_battery_level():
    assert parse_battery_level(b"\x57") == 87
    assert encode_battery_level(87) == b"\x57"
    for bad in (b"", b"\x65", b"\x50\x00"):
        with pytest.raises(DecodeError):
            parse_battery_level(bad)
