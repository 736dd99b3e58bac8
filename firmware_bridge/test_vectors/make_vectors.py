"""Write belt_v1.json: protocol test vectors produced by the C encoder.

Run from the repository root after ``make -C firmware_bridge/c``::

    python firmware_bridge/test_vectors/make_vectors.py [--belt-host PATH]

Each case is defined once here, encoded by the firmware's C code (``belt_host``), and
stored with its decoded fields, so the Python tests (tests/test_protocol_belt.py) and
the C tests (tests/test_firmware_c.py) check the same bytes. Depends on the standard
library only.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _samples(seq, t_us, rate, rows, note):
    flat = " ".join(str(v) for row in rows for v in row)
    line = f"samples {seq} {t_us} {rate} {len(rows[0])} {len(rows)} {flat}"
    fields = {"type": "samples", "seq": seq, "device_time_us": t_us,
              "sample_rate_mhz": rate, "samples": [list(r) for r in rows]}
    return line, fields, note


def _info(seq, fw, nc, bits, rate, name, note):
    line = f"info {seq} {fw[0]} {fw[1]} {fw[2]} {nc} {bits} {rate} {name or '-'}"
    fields = {"type": "device_info", "seq": seq, "firmware_version": list(fw),
              "n_channels": nc, "adc_bits": bits, "sample_rate_mhz": rate, "board": name}
    return line, fields, note


def _status(seq, t_us, connected, clipping, note):
    mask = lambda flags: sum(1 << c for c, on in enumerate(flags) if on)
    line = f"status {seq} {t_us} {len(connected)} {mask(connected)} {mask(clipping)}"
    fields = {"type": "status", "seq": seq, "device_time_us": t_us,
              "belt_connected": list(connected), "clipping": list(clipping)}
    return line, fields, note


def _beat(seq, t_us, channel, ibi_us, note):
    line = f"beat {seq} {t_us} {channel} {ibi_us}"
    fields = {"type": "beat", "seq": seq, "device_time_us": t_us, "channel": channel,
              "ibi_us": ibi_us}
    return line, fields, note


CASES = {
    "samples_example": _samples(7, 1_000_000, 50_000, [(100, -200), (101, -201)],
                                "PROTOCOL.md worked example: 2 samples x 2 channels at 50 Hz"),
    "device_info_example": _info(0, (1, 0, 0), 2, 12, 50_000, "esp32",
                                 "PROTOCOL.md worked example; seq 0 marks a board reset"),
    "beat_example": _beat(3, 2_500_000, 1, 850_000,
                          "PROTOCOL.md worked example: 70.6 bpm on person B's pulse"),
    "status_example": _status(4, 3_000_000, (True, False), (False, True),
                              "PROTOCOL.md worked example: belt 1 unplugged and clipping"),
    "samples_one": _samples(0, 0, 1_000, [(0,)],
                            "smallest samples frame: 1 sample of 1 channel, all-zero fields"),
    "samples_extremes": _samples(65535, 2**40 + 12345, 1_234_567,
                                 [(-32768, 32767, -1, 0), (1, -2, 256, -256)],
                                 "i16 limits, seq about to wrap, device time past 2^32 us"),
    "samples_largest": _samples(
        300 % 65536, 987_654_321, 250_000,
        [tuple(((s * 8 + c) * 37) % 4096 - 2048 for c in range(8)) for s in range(32)],
        "largest frame: 32 samples x 8 channels (532 bytes; COBS blocks of 254 bytes)"),
    "samples_no_zero_run": _samples(
        0x0101, 0x0101010101010101, 0x01010101, [(0x0101,) * 8] * 15 + [(0x0101,) * 7 + (1,)],
        "no zero byte until the CRC: exercises COBS code 0xFF (254-byte runs)"),
    "device_info_no_name": _info(1, (2, 3, 4), 1, 10, 100_000, "",
                                 "empty board name (ATmega, 10-bit ADC, 100 Hz)"),
    "device_info_long_name": _info(2, (255, 255, 255), 8, 16, 4_294_967_295, "B" * 32,
                                   "32-character name, every numeric field at its maximum"),
    "status_eight": _status(9, 123_456_789, (True,) * 8, (False, True) * 4,
                            "eight channels, all plugged in, odd channels clipping"),
    "beat_first": _beat(10, 5_000, 0, 0, "first beat of a channel: IBI 0"),
}


def _hex_block(wire_hex: str) -> str:
    assert wire_hex.endswith("00")
    return wire_hex[:-2]


def run_c(belt_host: Path, commands: list[str]) -> list[str]:
    """Send ``commands`` to belt_host, one per line; return its answer lines."""
    out = subprocess.run([str(belt_host)], input="\n".join(commands) + "\n",
                         capture_output=True, text=True, check=True, timeout=30)
    lines = out.stdout.splitlines()
    assert len(lines) == len(commands), out.stdout
    return lines


def build(belt_host: Path) -> dict:
    names = list(CASES)
    wires = run_c(belt_host, [f"encode {CASES[n][0]}" for n in names])
    frames = []
    for name, wire in zip(names, wires):
        line, fields, note = CASES[name]
        if wire.startswith("error"):
            raise SystemExit(f"C encoder refused {name}: {wire}")
        (raw,) = run_c(belt_host, [f"uncobs {_hex_block(wire)}"])
        frames.append({"name": name, "note": note, "c_frame": line, "fields": fields,
                       "frame": raw, "wire": wire})

    by_name = {f["name"]: f for f in frames}
    example = bytes.fromhex(by_name["samples_example"]["frame"])
    cobs_cases = [b"", b"\x00", b"\x00\x00", b"\x11\x22\x00\x33", b"\x11\x22\x33\x44",
                  b"\x11\x00\x00\x00", bytes(range(1, 255)), bytes(range(1, 256)),
                  bytes(range(256)), bytes(range(2, 256)) + b"\x00", example]
    cobs = [{"data": d.hex(), "encoded": e}
            for d, e in zip(cobs_cases, run_c(belt_host, [f"cobs {d.hex() or '-'}"
                                                          for d in cobs_cases]))]
    crc_cases = [b"123456789", b"", example[:-2]]
    crc = [{"data": d.hex(), "crc": c}
           for d, c in zip(crc_cases, run_c(belt_host, [f"crc {d.hex() or '-'}"
                                                        for d in crc_cases]))]

    def reframe(raw: bytes) -> str:
        (c,) = run_c(belt_host, [f"crc {raw.hex()}"])
        full = raw + int(c, 16).to_bytes(2, "little")
        (enc,) = run_c(belt_host, [f"cobs {full.hex()}"])
        return enc

    body = example[:-2]
    long_name = bytes.fromhex(by_name["device_info_long_name"]["frame"])[:-2]
    good = _hex_block(by_name["samples_example"]["wire"])
    invalid = [
        {"name": "bad_crc", "error": "crc", "block": good[:-2] + f"{int(good[-2:], 16) ^ 1:02x}",
         "note": "samples example with the last CRC byte flipped"},
        {"name": "version_2", "error": "version", "block": reframe(b"\x02" + body[1:]),
         "note": "a valid CRC over protocol version 2"},
        {"name": "unknown_type", "error": "type", "block": reframe(body[:1] + b"\x09" + body[2:]),
         "note": "frame type 0x09 with a valid CRC"},
        {"name": "samples_count_mismatch", "error": "length",
         "block": reframe(body[:-2]), "note": "one sample value cut off, CRC recomputed"},
        {"name": "zero_sample_rate", "error": "field",
         "block": reframe(body[:12] + b"\0\0\0\0" + body[16:]),
         "note": "a samples frame at 0 Hz: sample times cannot be computed"},
        {"name": "eight_channels_too_many", "error": "field",
         "block": reframe(bytes.fromhex(by_name["status_eight"]["frame"])[:12] + b"\x09"
                          + bytes.fromhex(by_name["status_eight"]["frame"])[13:-2]),
         "note": "a status frame that claims 9 channels"},
        {"name": "name_too_long", "error": "length",
         "block": reframe(long_name[:13] + b"\x21" + long_name[14:] + b"B"),
         "note": "a 33-byte board name (the limit is 32)"},
        {"name": "too_short", "error": "length", "block": reframe(b"\x01\x01"),
         "note": "4 bytes: no room for a header and a CRC"},
        {"name": "cobs_overrun", "error": "cobs", "block": "0511223344"[:-2],
         "note": "a COBS code that points past the end of the block"},
    ]
    return {
        "protocol": "firmware_bridge belt protocol",
        "version": 1,
        "about": ("Produced by make_vectors.py with the firmware's C encoder. 'frame' is the "
                  "decoded frame, 'wire' the bytes on the line (COBS block and 00). "
                  "'c_frame' is the same frame in the belt_host command syntax."),
        "crc16": crc,
        "cobs": cobs,
        "frames": frames,
        "invalid": invalid,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--belt-host", type=Path,
                        default=HERE.parent / "c" / "build" / "belt_host")
    parser.add_argument("--out", type=Path, default=HERE / "belt_v1.json")
    args = parser.parse_args()
    args.out.write_text(json.dumps(build(args.belt_host), indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
