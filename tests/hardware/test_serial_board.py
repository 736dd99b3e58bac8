"""Opt-in test on a real belt board: ``pytest tests/hardware --serial-port /dev/ttyACM0``.

Flash firmware_bridge (docs/belts.md), plug both belts in and wear them (or stretch them
by hand now and then). The test streams for about 20 s through the real serial source and
the session's belt decoder; without the option it is skipped.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from rapport_sync.samples import BreathSamples, Chunk, DeviceEvent, DeviceEventKind
from rapport_sync.session.belt_decoder import BeltDecoder
from rapport_sync.sources.base import MonotonicClock
from rapport_sync.sources.serial import open_serial

pytestmark = pytest.mark.hardware


@pytest.fixture
def serial_port(request):
    port = request.config.getoption("--serial-port")
    if not port:
        pytest.skip("no board named: pass --serial-port PORT to run the belt board test")
    return port


def test_board_streams_both_belts_on_one_clock(serial_port):
    clock = MonotonicClock()
    source = open_serial(serial_port, {"0": "a", "1": "b"}, clock)
    start = clock.now_ns()
    got: list = []
    source.start(got.append)
    time.sleep(22.0)  # 2 s reset wait + 20 s of data
    source.stop()
    assert source.error is None, source.error
    decoder = BeltDecoder(source.devices[0], start)
    decoded = [d for item in got if isinstance(item, Chunk) for d in decoder.feed(item)]
    errors = [d for d in decoded if isinstance(d, DeviceEvent) and d.kind in
              (DeviceEventKind.ERROR, DeviceEventKind.GAP)]
    assert not errors, errors[:3]
    assert decoder.board is not None  # the board introduced itself (device-info frame)
    for person in "ab":
        samples = [d for d in decoded if isinstance(d, BreathSamples) and d.person == person]
        t = np.concatenate([s.time_s for s in samples])
        rate = samples[0].rate_hz
        assert len(t) == pytest.approx(20 * rate, rel=0.1)
        assert np.allclose(np.diff(t), 1 / rate, atol=0.2 / rate)  # the board's own clock
    a = np.concatenate([d.time_s for d in decoded if isinstance(d, BreathSamples) and d.person == "a"])
    b = np.concatenate([d.time_s for d in decoded if isinstance(d, BreathSamples) and d.person == "b"])
    assert np.array_equal(a, b)  # both belts sampled by the same timer
