"""The firmware's C framing code, built on the host with gcc, against the shared vectors.

The C side must encode every vector in firmware_bridge/test_vectors/belt_v1.json to the
stored wire bytes and decode the stored bytes to the stored fields; frames made by the
Python encoder must decode in C and the other way round; and the firmware's board logic
(``belt_host stream``) must give a stream the Python decoder reads without a single error.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from belt_host_build import C_DIR, STRICT_FLAGS, build_belt_host, find_cc
from belt_vectors import VECTORS, frame_from_fields

from rapport_sync.protocol.belt import (
    BeatFrame,
    DeviceInfoFrame,
    FrameDecoder,
    SamplesFrame,
    StatusFrame,
    encode_frame,
)

C_ERRORS = {"cobs": -2, "length": -3, "crc": -4, "version": -5, "type": -6, "field": -7}


@pytest.fixture(scope="module")
def belt_host(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_belt_host(tmp_path_factory.mktemp("belt_c"))


def run(belt_host: Path, commands: list[str]) -> list[str]:
    out = subprocess.run([str(belt_host)], input="\n".join(commands) + "\n",
                         capture_output=True, text=True, check=True, timeout=30)
    lines = out.stdout.splitlines()
    assert len(lines) == len(commands)
    return lines


def c_line(frame: SamplesFrame | DeviceInfoFrame | StatusFrame | BeatFrame) -> str:
    """A frame in belt_host's text syntax, written independently of the vector file."""
    def mask(flags: tuple[bool, ...]) -> int:
        return sum(1 << c for c, on in enumerate(flags) if on)

    if isinstance(frame, SamplesFrame):
        flat = " ".join(str(v) for row in frame.samples for v in row)
        return (f"samples {frame.seq} {frame.device_time_us} {frame.sample_rate_mhz} "
                f"{frame.n_channels} {len(frame.samples)} {flat}")
    if isinstance(frame, DeviceInfoFrame):
        major, minor, patch = frame.firmware_version
        return (f"info {frame.seq} {major} {minor} {patch} {frame.n_channels} "
                f"{frame.adc_bits} {frame.sample_rate_mhz} {frame.board or '-'}")
    if isinstance(frame, StatusFrame):
        return (f"status {frame.seq} {frame.device_time_us} {len(frame.belt_connected)} "
                f"{mask(frame.belt_connected)} {mask(frame.clipping)}")
    return f"beat {frame.seq} {frame.device_time_us} {frame.channel} {frame.ibi_us}"


def test_framing_code_compiles_cleanly_as_c_and_cpp(tmp_path: Path) -> None:
    """The files the sketch uses build warning-free with extra checks, as C and as C++."""
    cc = find_cc()
    for name in ("belt_frame.c", "belt_board.c"):
        for lang, flags in (("c", [*STRICT_FLAGS, "-Wconversion", "-Wshadow"]),
                            ("c++", ["-std=c++11", "-Wall", "-Wextra", "-Werror"])):
            compiler = cc if lang == "c" else "g++"
            if shutil.which(compiler) is None:
                continue
            cmd = [compiler, "-x", lang, *flags, "-c", str(C_DIR / name),
                   "-o", str(tmp_path / f"{name}.{lang}.o")]
            result = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, result.stderr


def test_c_encoder_gives_every_vectors_wire_bytes(belt_host: Path) -> None:
    frames = VECTORS["frames"]
    assert len(frames) >= 10
    answers = run(belt_host, [f"encode {f['c_frame']}" for f in frames])
    for vector, wire in zip(frames, answers):
        assert wire == vector["wire"], vector["name"]


def test_c_decoder_gives_every_vectors_fields(belt_host: Path) -> None:
    frames = VECTORS["frames"]
    answers = run(belt_host, [f"decode {f['wire'][:-2]}" for f in frames])
    for vector, line in zip(frames, answers):
        expected = c_line(frame_from_fields(vector["fields"]))
        assert vector["c_frame"] == expected, vector["name"]
        assert line == expected, vector["name"]


def test_c_decoder_rejects_invalid_vectors_with_the_right_reason(belt_host: Path) -> None:
    invalid = VECTORS["invalid"]
    answers = run(belt_host, [f"decode {v['block']}" for v in invalid])
    for vector, line in zip(invalid, answers):
        assert line.split()[:2] == ["error", str(C_ERRORS[vector["error"]])], vector["name"]


def test_c_cobs_and_crc_match_vectors(belt_host: Path) -> None:
    cobs = VECTORS["cobs"]
    assert run(belt_host, [f"cobs {c['data'] or '-'}" for c in cobs]) == [
        c["encoded"] for c in cobs]
    assert run(belt_host, [f"uncobs {c['encoded']}" for c in cobs]) == [
        c["data"] or "-" for c in cobs]
    crcs = VECTORS["crc16"]
    assert run(belt_host, [f"crc {c['data'] or '-'}" for c in crcs]) == [c["crc"] for c in crcs]
    assert crcs[0] == {"data": b"123456789".hex(), "crc": "29b1"}  # the CRC's check value


def random_frames(seed: int, n: int) -> list[SamplesFrame | DeviceInfoFrame | StatusFrame | BeatFrame]:
    rng = random.Random(seed)
    frames: list[SamplesFrame | DeviceInfoFrame | StatusFrame | BeatFrame] = []
    for _ in range(n):
        seq, t_us = rng.randrange(65536), rng.randrange(2**64)
        kind = rng.randrange(4)
        if kind == 0:
            nc, ns = rng.randint(1, 8), rng.randint(1, 32)
            rows = tuple(tuple(rng.randint(-32768, 32767) for _ in range(nc)) for _ in range(ns))
            frames.append(SamplesFrame(seq, t_us, rng.randrange(1, 2**32), rows))
        elif kind == 1:
            # no "-": to belt_host a lone "-" means "no name"
            name = "".join(rng.choice("abcxyz019_.") for _ in range(rng.randint(0, 32)))
            frames.append(DeviceInfoFrame(seq, (rng.randrange(256), rng.randrange(256),
                                                rng.randrange(256)), rng.randint(1, 8),
                                          rng.randint(8, 16), rng.randrange(2**32), name))
        elif kind == 2:
            nc = rng.randint(1, 8)
            frames.append(StatusFrame(seq, t_us, tuple(rng.random() < 0.5 for _ in range(nc)),
                                      tuple(rng.random() < 0.5 for _ in range(nc))))
        else:
            frames.append(BeatFrame(seq, t_us, rng.randrange(256), rng.randrange(2**32)))
    return frames


def test_random_frames_agree_between_c_and_python(belt_host: Path) -> None:
    """Python-encoded frames decode in C; C-encoded frames are byte-identical to Python's."""
    frames = random_frames(seed=20240601, n=300)
    wires = [encode_frame(f) for f in frames]
    decoded = run(belt_host, [f"decode {w[:-1].hex()}" for w in wires])
    assert decoded == [c_line(f) for f in frames]
    encoded = run(belt_host, [f"encode {c_line(f)}" for f in frames])
    assert encoded == [w.hex() for w in wires]


def breaths_per_min(t_s: np.ndarray, x: np.ndarray) -> float:
    """Rate from the mean interval between upward zero crossings (interpolated)."""
    i = np.flatnonzero((x[:-1] < 0) & (x[1:] >= 0))
    t_cross = t_s[i] + (t_s[i + 1] - t_s[i]) * (-x[i]) / (x[i + 1] - x[i])
    return 60.0 / float(np.mean(np.diff(t_cross)))


def test_board_logic_stream_reads_cleanly_with_physiology_intact(belt_host: Path) -> None:
    """60 s of the firmware's board logic: no error, no gap, both people on one clock."""
    wire = subprocess.run([str(belt_host), "stream", "60", "1", "40"], capture_output=True,
                          check=True, timeout=30).stdout
    decoder = FrameDecoder()
    items = decoder.feed(wire)
    assert decoder.stats.crc_errors == decoder.stats.malformed == decoder.stats.frames_lost == 0
    samples = [f for f in items if isinstance(f, SamplesFrame)]
    assert len(samples) == 60 * 50 // 5
    t_us = np.concatenate([f.device_time_us + np.arange(len(f.samples)) * 20_000
                           for f in samples])
    assert np.all(np.diff(t_us) == 20_000)  # one timer, no jitter in device time
    values = np.array([row for f in samples for row in f.samples], dtype=float)
    t_s = t_us / 1e6
    before = t_s < 40
    assert breaths_per_min(t_s, values[:, 0]) == pytest.approx(15.0, abs=0.2)
    assert breaths_per_min(t_s[before], values[before, 1]) == pytest.approx(12.0, abs=0.2)

    beats = [f for f in items if isinstance(f, BeatFrame)]
    for channel, bpm in ((0, 72.0), (1, 60.0)):
        ibi_s = np.array([b.ibi_us for b in beats if b.channel == channel][1:]) / 1e6
        assert len(ibi_s) >= 55 * bpm / 60
        assert 60.0 / np.median(ibi_s) == pytest.approx(bpm, abs=0.5)

    status = [f for f in items if isinstance(f, StatusFrame)]
    unplugged = [s for s in status if not s.belt_connected[1]]
    assert unplugged[0].device_time_us == 40_000_000  # reported at once, not a second later
    assert unplugged[0].belt_connected[0] and unplugged[0].clipping[1]
    infos = [f for f in items if isinstance(f, DeviceInfoFrame)]
    assert len(infos) == 61 and infos[0].seq == 0 and infos[0].board == "host-sim"


ARDUINO_STUB = """
#pragma once
#include <stdint.h>
#include <stddef.h>
#define A0 14
#define A1 15
#define A2 16
#define A3 17
#define IRAM_ATTR
#define F_CPU 16000000UL
#define WGM12 3
#define CS11 1
#define CS10 0
#define OCIE1A 1
#define ISR(vector) extern "C" void vector(void)
inline volatile uint8_t TCCR1A, TCCR1B, TIMSK1; inline volatile uint16_t TCNT1, OCR1A;
typedef struct { int x; } hw_timer_t;
typedef struct { int x; } portMUX_TYPE;
#define portMUX_INITIALIZER_UNLOCKED {0}
inline void portENTER_CRITICAL(portMUX_TYPE *) {}
inline void portEXIT_CRITICAL(portMUX_TYPE *) {}
inline void portENTER_CRITICAL_ISR(portMUX_TYPE *) {}
inline void portEXIT_CRITICAL_ISR(portMUX_TYPE *) {}
inline hw_timer_t *timerBegin(uint32_t) { static hw_timer_t t; return &t; }
inline hw_timer_t *timerBegin(uint8_t, uint16_t, bool) { static hw_timer_t t; return &t; }
inline void timerAttachInterrupt(hw_timer_t *, void (*)(void)) {}
inline void timerAttachInterrupt(hw_timer_t *, void (*)(void), bool) {}
inline void timerAlarm(hw_timer_t *, uint64_t, bool, uint64_t) {}
inline void timerAlarmWrite(hw_timer_t *, uint64_t, bool) {}
inline void timerAlarmEnable(hw_timer_t *) {}
inline void noInterrupts() {}
inline void interrupts() {}
inline void delay(unsigned long) {}
inline int analogRead(uint8_t) { return 0; }
inline void analogReadResolution(int) {}
struct SerialStub { void begin(unsigned long) {} size_t write(const uint8_t *, size_t n) { return n; } };
inline SerialStub Serial;
"""


@pytest.mark.parametrize("board", [["-DARDUINO_ARCH_ESP32", "-DESP_ARDUINO_VERSION_MAJOR=3"],
                                   ["-DARDUINO_ARCH_ESP32", "-DESP_ARDUINO_VERSION_MAJOR=2"],
                                   ["-DARDUINO_ARCH_AVR"]], ids=["esp32-core3", "esp32-core2", "avr"])
def test_sketch_compiles_against_a_stub_arduino_core(board: list[str], tmp_path: Path) -> None:
    """Catches typos and type errors in the sketch; the real cores are not installed here."""
    if shutil.which("g++") is None:
        pytest.skip("no g++ on PATH")
    (tmp_path / "Arduino.h").write_text(ARDUINO_STUB)
    sketch = C_DIR.parent / "firmware" / "belt_bridge" / "belt_bridge.ino"
    cmd = ["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", *board, "-I", str(tmp_path),
           "-I", str(C_DIR), "-x", "c++", "-c", str(sketch), "-o", str(tmp_path / "sketch.o")]
    result = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
