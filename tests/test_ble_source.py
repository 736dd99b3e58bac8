"""The real BLE source against simulated Polar H10 straps (real bytes, fake bleak client).

Every session runs on a VirtualClock: two minutes of straps take well under a second.
The chunks are decoded by the real StrapDecoder, so these tests cover the whole BLE path.
"""

from __future__ import annotations

import inspect
import time
from types import SimpleNamespace

import bleak
import numpy as np
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakDBusError,
)
import pytest

from rapport_sync.errors import ConfigError, SourceError
from rapport_sync.protocol.pmd import PMD_CONTROL_POINT_UUID
from rapport_sync.samples import (
    BreathSamples,
    Chunk,
    DeviceEvent,
    DeviceEventKind,
    HeartBeats,
    PayloadKind,
    SignalKind,
)
from rapport_sync.session.strap_decoder import StrapDecoder
from rapport_sync.sources import ble, ble_scan
from rapport_sync.sources.base import VirtualClock
from rapport_sync.sources.ble_sim import FakeBleakClient, open_ble_sim

T0 = 10**12
PERSONS = {"0": "a", "1": "b"}


def run_sim(target: str, seconds: float = 60.0):
    """Run ble-sim for ``seconds`` of virtual time; return source, raw output, decoded per person."""
    clock = VirtualClock(T0)
    source = open_ble_sim(target, PERSONS, clock)
    out: list = []
    source.start(out.append)
    deadline = time.monotonic() + 20
    while clock.now_ns() - T0 < seconds * 1e9 and time.monotonic() < deadline:
        time.sleep(0.002)
    source.stop()
    assert source.error is None and not source.running
    decoders = {info.device: StrapDecoder(info, T0) for info in source.devices}
    decoded: dict[str, list] = {info.persons[0]: [] for info in source.devices}
    for item in out:
        if isinstance(item, Chunk):
            decoder = decoders[item.device]
            decoded[decoder.person] += decoder.feed(item)
    return source, out, decoded


def of(items, cls):
    return [x for x in items if isinstance(x, cls)]


def events(out, device_suffix, kinds=None):
    return [
        x
        for x in out
        if isinstance(x, DeviceEvent)
        and x.device.endswith(device_suffix)
        and (kinds is None or x.kind in kinds)
    ]


@pytest.fixture(scope="module")
def faulty_session():
    # a loses its link at 20 s; b's ACC was left running; b sends garbage at 12 s.
    return run_sim("disconnect=a@20,already-running=b,malformed=b@12,outage=3", 60.0)


def test_two_straps_stream_acc_and_beats(faulty_session):
    source, _out, decoded = faulty_session
    for person in "ab":
        acc = of(decoded[person], BreathSamples)
        assert acc and all(
            a.kind is SignalKind.ACCELEROMETER and a.value.shape[1] == 3 for a in acc
        )
        t = np.concatenate([a.time_s for a in acc])
        assert np.all(np.diff(t) > 0)
        beats = np.concatenate([b.time_s for b in of(decoded[person], HeartBeats)])
        beats = beats[beats < 55]  # virtual time runs on until stop() takes effect
        assert 40 < len(beats) < 80  # 60-80 bpm for 55 s, minus a's outage
    assert {d.details["hr_only"] for d in source.devices} == {False}


def test_acc_sample_times_are_device_times_not_arrival(faulty_session):
    _, _, decoded = faulty_session
    for person in "ab":
        t = np.concatenate([a.time_s for a in of(decoded[person], BreathSamples)])
        # The simulated strap samples at exactly k/50 s of session time; the clock map
        # recovers that to within the smallest radio delay, although frames arrive
        # 36 samples (0.72 s) at a time.
        err = t - np.round(t * 50) / 50
        assert np.median(np.abs(err)) < 0.008 and np.max(np.abs(err)) < 0.0101


def test_breathing_is_in_the_accelerometer(faulty_session):
    _, _, decoded = faulty_session
    for person in "ab":
        acc = of(decoded[person], BreathSamples)
        t = np.concatenate([a.time_s for a in acc])
        y = np.concatenate([a.value for a in acc])[:, 1]
        # The y axis (gravity tilted by the chest) follows breathing: its spectrum
        # peaks between 8 and 20 breaths/min, well above the sensor noise.
        sel = t < 19.5
        f = np.fft.rfftfreq(sel.sum(), 1 / 50)
        p = np.abs(np.fft.rfft((y[sel] - y[sel].mean()) * np.hanning(sel.sum())))
        band = (f > 0.05) & (f < 1.0)
        assert 8 <= 60 * f[band][np.argmax(p[band])] <= 20


def test_heartbeats_follow_the_true_beats(faulty_session):
    source, _, decoded = faulty_session
    for i, person in enumerate("ab"):
        bt = np.concatenate([b.time_s for b in of(decoded[person], HeartBeats)])
        # The envelope needs a few notifications after each (re)connect to settle.
        bt = bt[((bt > 8) & (bt < 19)) | ((bt > 33) & (bt < 55))]
        true_t, _ = source.air[f"A0:9E:1A:00:00:{i + 1:02X}"].content.beats(0, 60)
        near = true_t[np.argmin(np.abs(true_t[None, :] - bt[:, None]), axis=1)]
        err = bt - near
        # Beats are reported >= 0.15 s after they happen: a constant latency, small spread.
        assert 0.1 < np.median(err) < 0.35
        assert np.percentile(np.abs(err - np.median(err)), 90) < 0.12


def test_disconnect_then_reconnect_with_events_and_the_other_keeps_streaming(faulty_session):
    _, out, decoded = faulty_session
    kinds = [e.kind for e in events(out, ":01")]
    assert kinds[0] is DeviceEventKind.CONNECTED
    i = kinds.index(DeviceEventKind.DISCONNECTED)
    assert kinds[i + 1] is DeviceEventKind.RECONNECTING
    assert DeviceEventKind.CONNECTED in kinds[i + 1 :]
    lost = events(out, ":01", {DeviceEventKind.DISCONNECTED})[0].host_time_ns
    back = next(e for e in events(out, ":01", {DeviceEventKind.CONNECTED}) if e.host_time_ns > lost)
    gap_s = (back.host_time_ns - lost) / 1e9
    assert 20 < (lost - T0) / 1e9 < 21 and 3.0 <= gap_s < 6.0  # 3 s outage + backoff
    # a's samples stop during the gap and resume; b's continue without a hole.
    ta = np.concatenate([a.time_s for a in of(decoded["a"], BreathSamples)])
    tb = np.concatenate([a.time_s for a in of(decoded["b"], BreathSamples)])
    assert np.max(np.diff(ta)) > 3.0 and ta[-1] > 50
    assert np.max(np.diff(tb)) < 0.1
    assert any(e.kind is DeviceEventKind.GAP for e in of(decoded["a"], DeviceEvent))


def test_already_running_is_stopped_and_started_again(faulty_session):
    _, out, _ = faulty_session
    cp = [
        c.payload
        for c in out
        if isinstance(c, Chunk) and c.device.endswith(":02") and c.kind is PayloadKind.PMD_CONTROL
    ]
    # START ACC -> 6 (ALREADY_IN_STATE); STOP ACC -> ok; START ACC -> ok; final STOP on exit
    assert cp[:3] == [
        bytes.fromhex("F0 02 02 06 00"),
        bytes.fromhex("F0 03 02 00 00"),
        bytes.fromhex("F0 02 02 00 00 01"),
    ]
    assert cp[-1] == bytes.fromhex("F0 03 02 00 00")
    assert any("already running" in e.detail for e in events(out, ":02", {DeviceEventKind.STATUS}))


def test_malformed_notifications_become_error_events_and_streaming_goes_on(faulty_session):
    _, _, decoded = faulty_session
    errors = [e for e in of(decoded["b"], DeviceEvent) if e.kind is DeviceEventKind.ERROR]
    assert len(errors) == 2 and {e.detail.split(":")[0] for e in errors} == {"hrm", "pmd_data"}
    t = np.concatenate([a.time_s for a in of(decoded["b"], BreathSamples)])
    assert t[-1] > 50


def test_streams_are_stopped_on_exit(faulty_session):
    source, out, _ = faulty_session
    assert all(not strap.running for strap in source.air.values())
    for suffix in (":01", ":02"):
        assert events(out, suffix)[-1].kind is DeviceEventKind.DISCONNECTED


def test_hr_only_strap_gives_beats_and_says_so():
    source, out, decoded = run_sim("hr-only=b", 30.0)
    info_b = next(d for d in source.devices if d.persons[0] == "b")
    assert info_b.details["hr_only"] is True and info_b.details["breathing"] == "rr"
    assert not of(decoded["b"], BreathSamples) and of(decoded["a"], BreathSamples)
    assert sum(len(b.time_s) for b in of(decoded["b"], HeartBeats)) > 20
    assert not [
        c
        for c in out
        if isinstance(c, Chunk)
        and c.device.endswith(":02")
        and c.kind in (PayloadKind.PMD_DATA, PayloadKind.PMD_CONTROL)
    ]
    assert any("HR-only" in e.detail for e in events(out, ":02", {DeviceEventKind.STATUS}))


def test_fake_client_matches_bleak_signatures():
    for name in (
        "connect",
        "disconnect",
        "start_notify",
        "stop_notify",
        "write_gatt_char",
        "read_gatt_char",
    ):
        real = inspect.signature(getattr(bleak.BleakClient, name))
        fake = inspect.signature(getattr(FakeBleakClient, name))
        assert list(real.parameters) == list(fake.parameters), name
        assert inspect.iscoroutinefunction(getattr(FakeBleakClient, name))
    for prop in ("is_connected", "services", "address", "name"):
        assert isinstance(getattr(FakeBleakClient, prop), property)
    real_init = list(inspect.signature(bleak.BleakClient.__init__).parameters)[:4]
    assert list(inspect.signature(FakeBleakClient.__init__).parameters)[:4] == real_init


def test_every_client_member_the_source_uses_is_faked_and_real():
    """What the BLE source calls on its client (read from its code) exists on both
    bleak.BleakClient and the fake, so the tests exercise the calls real straps get."""
    import re

    used = set(re.findall(r"client\.(\w+)", inspect.getsource(ble)))
    assert {"connect", "disconnect", "start_notify", "write_gatt_char"} <= used
    for name in used:
        assert hasattr(bleak.BleakClient, name), name
        assert hasattr(FakeBleakClient, name), name
    assert PMD_CONTROL_POINT_UUID in ble.__dict__.values()


def test_scan_rows_and_message():
    hr = "0000180d-0000-1000-8000-00805f9b34fb"
    found = {
        "A": (
            SimpleNamespace(address="A0:9E:1A:00:00:01", name=None),
            SimpleNamespace(local_name="Polar H10 1A2B3C4D", rssi=-61, service_uuids=[hr]),
        ),
        "B": (
            SimpleNamespace(address="C0:00:00:00:00:02", name="HRM-Pro"),
            SimpleNamespace(local_name=None, rssi=-48, service_uuids=[hr.upper()]),
        ),
        "C": (
            SimpleNamespace(address="D0:00:00:00:00:03", name="TV"),
            SimpleNamespace(local_name="TV", rssi=-40, service_uuids=[]),
        ),
    }
    rows = ble_scan.scan_results(found)
    assert [(r.name, r.heart_rate, r.pmd) for r in rows] == [
        ("TV", False, False),
        ("HRM-Pro", True, False),
        ("Polar H10 1A2B3C4D", True, True),
    ]
    text = ble_scan.format_scan(rows)
    assert "TV" not in text and "HR+PMD" in text and "-61 dBm" in text
    assert "no heart-rate straps" in ble_scan.format_scan(rows[:1])


NO_BLUETOOTH = [
    FileNotFoundError(2, "No such file or directory"),  # no D-Bus socket
    ConnectionRefusedError(111, "Connection refused"),
    BleakDBusError("org.freedesktop.DBus.Error.ServiceUnknown",
                   ["The name org.bluez was not provided by any .service files"]),
    BleakDBusError("org.freedesktop.DBus.Error.AccessDenied", ["Rejected send message"]),
    bleak.exc.BleakError("Bleak requires BlueZ >= 5.55."),
    BleakBluetoothNotAvailableError("No Bluetooth adapters found.",
                                    BleakBluetoothNotAvailableReason.NO_BLUETOOTH),
    BleakBluetoothNotAvailableError("No powered Bluetooth adapters found. Turn on Bluetooth "
                                    "and try again.", BleakBluetoothNotAvailableReason.POWERED_OFF),
]
NO_BLUETOOTH_IDS = ["no D-Bus", "D-Bus refuses", "no bluetoothd", "D-Bus denies", "old BlueZ",
                    "no adapter", "powered off"]


@pytest.mark.parametrize("error", NO_BLUETOOTH, ids=NO_BLUETOOTH_IDS)
def test_scan_without_bluetooth_is_one_clear_error(monkeypatch, error):
    class NoBluetooth:
        @classmethod
        async def discover(cls, timeout=5.0, *, return_adv=False, **kwargs):
            raise error

    monkeypatch.setattr(bleak, "BleakScanner", NoBluetooth)
    with pytest.raises(SourceError, match="^no Bluetooth adapter available") as info:
        ble_scan.run_scan(SimpleNamespace(timeout=0.1))
    assert "\n" not in str(info.value) and "Reason" not in str(info.value)


def test_a_scan_that_fails_otherwise_says_so(monkeypatch):
    class Busy:
        @classmethod
        async def discover(cls, timeout=5.0, *, return_adv=False, **kwargs):
            raise bleak.exc.BleakError("Operation already in progress")

    monkeypatch.setattr(bleak, "BleakScanner", Busy)
    with pytest.raises(SourceError, match="^Bluetooth scan failed: Operation already in"):
        ble_scan.run_scan(SimpleNamespace(timeout=0.1))


def _connecting_with(error: BaseException, seconds: float = 30.0) -> tuple[ble.BleSource, list]:
    """A strap whose every connection attempt raises ``error``, for ``seconds`` of virtual time."""
    class Refusing:  # the members of bleak's client that the source uses before connecting
        is_connected = False

        def __init__(self, target, on_disconnect):
            self.address = target

        async def connect(self, **kwargs):
            raise error

        async def disconnect(self):
            return True

    clock = VirtualClock(T0)
    source = ble.BleSource([ble.StrapConfig("A0:9E:1A:12:34:56", "a")], clock,
                           client_factory=Refusing)
    out: list = []
    source.start(out.append)
    deadline = time.monotonic() + 10
    while source.running and clock.now_ns() - T0 < seconds * 1e9 and time.monotonic() < deadline:
        time.sleep(0.005)
    source.stop()
    return source, out


@pytest.mark.parametrize("error", NO_BLUETOOTH, ids=NO_BLUETOOTH_IDS)
def test_connecting_without_bluetooth_ends_with_the_same_line_and_no_retries(error):
    """Scan and connect judge "no Bluetooth" by one rule: no retry can cure it."""
    source, out = _connecting_with(error)
    assert isinstance(source.error, SourceError)
    assert str(source.error).startswith("no Bluetooth adapter available")
    assert not [x for x in out if isinstance(x, DeviceEvent)
                and x.kind is DeviceEventKind.RECONNECTING]


def test_bluetooth_gone_for_a_moment_mid_session_is_retried():
    """Strap a's link drops at 20 s and its first reconnection finds the radio powered off
    (a laptop resuming, bluetoothd restarting): once a strap has streamed, that may pass,
    so it is retried with the reason shown, and the strap comes back."""
    clock = VirtualClock(T0)
    source = open_ble_sim("disconnect=a@20,outage=3", PERSONS, clock)
    attempts: dict[str, int] = {}
    real_factory = source._client_factory

    class PoweredOff:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        async def connect(self, **kwargs):
            raise NO_BLUETOOTH[-1]  # powered off

    def factory(device, on_disconnect):
        client = real_factory(device, on_disconnect)
        attempts[device] = attempts.get(device, 0) + 1
        return PoweredOff(client) if device.endswith("01") and attempts[device] == 2 else client

    source._client_factory = factory
    out: list = []
    source.start(out.append)
    deadline = time.monotonic() + 20
    while clock.now_ns() - T0 < 60e9 and time.monotonic() < deadline:
        time.sleep(0.002)
    source.stop()
    assert source.error is None
    kinds = [(x.kind, x.detail) for x in events(out, ":01")]
    assert any(k is DeviceEventKind.RECONNECTING and d.startswith("no Bluetooth adapter")
               for k, d in kinds)
    assert [k for k, _ in kinds].count(DeviceEventKind.CONNECTED) == 2


@pytest.mark.parametrize("error", [
    bleak.exc.BleakError("Device with address A0:9E:1A:12:34:56 was not found."),
    BleakDBusError("org.bluez.Error.Failed", ["le-connection-abort-by-local"]),
    TimeoutError(),
], ids=["out of reach", "BlueZ abort", "timeout"])
def test_a_strap_out_of_reach_is_retried_with_backoff(error):
    source, out = _connecting_with(error)
    assert source.error is None
    retries = [x for x in out if isinstance(x, DeviceEvent)
               and x.kind is DeviceEventKind.RECONNECTING]
    assert len(retries) >= 3
    assert "retrying in 0.5 s" in retries[0].detail and "retrying in 1.0 s" in retries[1].detail


def test_options_and_addresses():
    assert ble.is_address("A0:9E:1A:12:34:56") and not ble.is_address("Polar H10 1A2B3C4D")
    src = ble.open_ble("Polar H10 1A2B3C4D;acc=100;ecg", {None: "b"}, VirtualClock())
    assert src.straps[0] == ble.StrapConfig("Polar H10 1A2B3C4D", "b", 100, 2, True)
    assert src.devices[0].protocol == "strap" and src.devices[0].persons == {0: "b"}
    for bad in ("X;acc=30", "X;range=3", ""):
        with pytest.raises(ConfigError):
            ble.open_ble(bad, {None: "a"}, VirtualClock())
    with pytest.raises(ConfigError):
        open_ble_sim("teleport", PERSONS, VirtualClock())
    demo = open_ble_sim("seed=0,script=default", PERSONS, VirtualClock())  # what demo passes
    assert [d.persons[0] for d in demo.devices] == ["a", "b"]


def test_settings_the_strap_refuses_stop_the_source_with_one_line():
    """An H10 does ACC at 25, 50, 100 or 200 Hz; 30 Hz is refused (INVALID_SAMPLE_RATE),
    and no reconnection can change that: the source ends with the reason instead of
    retrying for ever."""
    clock = VirtualClock(T0)
    source = open_ble_sim("acc=30", PERSONS, clock)
    out: list = []
    source.start(out.append)
    deadline = time.monotonic() + 20
    while source.running and time.monotonic() < deadline:
        time.sleep(0.01)
    source.stop()
    assert isinstance(source.error, ConfigError)
    assert "refuses ACC" in str(source.error) and "INVALID_SAMPLE_RATE" in str(source.error)
    retries = [x for x in out if isinstance(x, DeviceEvent)
               and x.kind is DeviceEventKind.RECONNECTING]
    assert retries == []
