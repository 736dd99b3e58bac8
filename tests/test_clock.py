"""Device-clock fitting: offset and drift recovered from arrival times with random delays."""

import numpy as np
import pytest

from rapport_sync.session.clock import DeviceClock, fit_device_clock


def arrivals(n=600, offset=3.2, drift_ppm=50.0, seed=0, spacing=0.1):
    rng = np.random.default_rng(seed)
    device = np.arange(n) * spacing + 100.0
    delay = 0.002 + rng.exponential(0.010, n)  # always positive, sometimes large
    delay[rng.random(n) < 0.05] += rng.uniform(0.05, 0.5, int((rng.random(n) < 0.05).sum()) or 1)[0]
    host = offset + device * (1 + drift_ppm * 1e-6) + delay
    return device, host


@pytest.mark.parametrize("drift_ppm", [-80.0, 0.0, 35.0])
def test_fit_recovers_offset_and_drift(drift_ppm):
    device, host = arrivals(drift_ppm=drift_ppm, n=3000)
    fit = fit_device_clock(device, host)
    assert fit.drift_ppm == pytest.approx(drift_ppm, abs=2.0)
    mapped = fit.to_host(device)
    true = 3.2 + device * (1 + drift_ppm * 1e-6)
    # The envelope sits at the minimum transport delay (2 ms) above the true mapping.
    assert np.all(np.abs(mapped - true - 0.002) < 0.002)
    assert np.all(host - mapped >= -1e-9)  # nothing arrives before it was sent


def test_single_point_uses_offset_only():
    fit = fit_device_clock(np.array([5.0]), np.array([8.0]))
    assert fit.drift == 0 and fit.offset_s == pytest.approx(3.0)


def test_streaming_clock_converges_like_the_batch_fit():
    device, host = arrivals(n=3000, drift_ppm=40.0)
    clock = DeviceClock(bin_s=2.0)
    for d, h in zip(device, host):
        clock.observe(d, h)
    batch = fit_device_clock(device, host)
    probe = np.array([100.0, 250.0, 399.0])
    assert np.max(np.abs(clock.to_host(probe) - batch.to_host(probe))) < 0.003


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        fit_device_clock(np.array([]), np.array([]))


def test_short_or_jittery_spans_fit_no_drift():
    """Two seconds of arrivals cannot tell drift from jitter: the offset alone is used."""
    device = np.array([0.0, 1.0, 2.0])
    host = np.array([10.0, 11.4, 12.0])  # 40 % "drift" between two jittery points
    fit = fit_device_clock(device, host)
    assert fit.drift == 0 and fit.offset_s == pytest.approx(10.0)
    wild = fit_device_clock(np.array([0.0, 30.0, 60.0]), np.array([0.0, 30.5, 60.1]))
    assert wild.drift == 0  # 1.7e-3 would be no crystal
