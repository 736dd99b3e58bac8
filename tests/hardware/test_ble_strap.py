"""Opt-in tests on a real strap: ``pytest tests/hardware --ble-device AA:BB:CC:DD:EE:FF``.

Wear the strap (electrodes wet) within a metre of the computer, close other apps that
might hold it (Polar Beat, Polar Flow), and give ``--ble-device`` twice to test two
straps at once. Each test streams for about 20 s through the real BLE source and the
real decoders; without the option they are skipped.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from rapport_sync.samples import BreathSamples, Chunk, DeviceEvent, DeviceEventKind, HeartBeats
from rapport_sync.session.strap_decoder import StrapDecoder
from rapport_sync.sources.base import MonotonicClock
from rapport_sync.sources.ble import BleSource, StrapConfig

pytestmark = pytest.mark.hardware


@pytest.fixture
def ble_devices(request):
    devices = request.config.getoption("--ble-device")
    if not devices:
        pytest.skip("no strap named: pass --ble-device ADDRESS to run hardware tests")
    return devices


def stream(devices, seconds=20.0):
    clock = MonotonicClock()
    straps = [StrapConfig(d, "ab"[i]) for i, d in enumerate(devices[:2])]
    source = BleSource(straps, clock)
    start = clock.now_ns()
    out: list = []
    source.start(out.append)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and source.running:  # ends early on a fatal error
        time.sleep(0.1)
    source.stop(timeout_s=15)
    assert source.error is None, source.error
    decoders = {i.device: StrapDecoder(i, start) for i in source.devices}
    decoded = {i.device: [] for i in source.devices}
    for item in out:
        if isinstance(item, Chunk):
            decoded[item.device] += decoders[item.device].feed(item)
    return source, out, decoded


def test_straps_connect_stream_and_stop_cleanly(ble_devices):
    source, out, decoded = stream(ble_devices)
    for info in source.devices:
        kinds = [e.kind for e in out if isinstance(e, DeviceEvent) and e.device == info.device]
        assert DeviceEventKind.CONNECTED in kinds and kinds[-1] is DeviceEventKind.DISCONNECTED
        beats = [b for b in decoded[info.device] if isinstance(b, HeartBeats)]
        rr = np.concatenate([b.rr_s for b in beats])
        assert len(rr) >= 10 and np.all((rr > 0.25) & (rr < 2.0))  # 30-240 bpm
        errors = [
            e
            for e in decoded[info.device]
            if isinstance(e, DeviceEvent) and e.kind is DeviceEventKind.ERROR
        ]
        assert not errors, errors
        if info.details.get("hr_only") is False:
            acc = [a for a in decoded[info.device] if isinstance(a, BreathSamples)]
            t = np.concatenate([a.time_s for a in acc])
            g = np.linalg.norm(np.vstack([a.value for a in acc]), axis=1)
            assert np.all(np.diff(t) > 0) and 800 < np.median(g) < 1200  # gravity, in mG
            # ~50 Hz on the device clock, with no sample time in the future of its arrival
            assert 45 < (len(t) - 1) / (t[-1] - t[0]) < 55
