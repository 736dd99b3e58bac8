"""Map a device's clock to the host clock: offset plus drift, from the lower envelope.

Each chunk carries a device timestamp (time of a sample on the device's own clock) and
the host arrival time. Arrival = device time mapped to host time + transport delay,
where the delay is always positive and sometimes large (BLE connection intervals, USB
buffering, OS scheduling). The fastest arrivals carry the least delay, so the mapping is
fitted to the *lower envelope* of ``host - device`` against device time (pylsl/pyxdf do
the same for LSL clock offsets).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ClockFit", "fit_device_clock", "DeviceClock"]


@dataclass(frozen=True, slots=True)
class ClockFit:
    """``host_s = offset_s + (1 + drift) * device_s``, with the fit's residual spread."""

    offset_s: float
    drift: float
    residual_s: float  # median distance of the envelope points above the fitted line
    n_points: int

    def to_host(self, device_s: np.ndarray | float) -> np.ndarray:
        return self.offset_s + (1.0 + self.drift) * np.asarray(device_s, dtype=float)

    @property
    def drift_ppm(self) -> float:
        return self.drift * 1e6


def _lower_hull(x: np.ndarray | list[float], y: np.ndarray | list[float]) -> np.ndarray:
    """Indices of the lower convex hull of points sorted by x (monotone chain)."""
    hull: list[int] = []
    x, y = np.asarray(x, dtype=float).tolist(), np.asarray(y, dtype=float).tolist()
    for i in range(len(x)):  # plain floats: numpy scalars would cost ten times more
        while len(hull) >= 2:
            j, k = hull[-2], hull[-1]
            cross = (x[k] - x[j]) * (y[i] - y[j]) - (y[k] - y[j]) * (x[i] - x[j])
            if cross > 0:
                break
            hull.pop()
        hull.append(i)
    return np.asarray(hull, dtype=int)


MIN_SPAN_S = 20.0  # below this, arrival jitter swamps the drift: offset only
MAX_DRIFT = 1e-3  # 1000 ppm: far beyond any crystal; a larger slope is jitter, not drift


def fit_device_clock(device_s: np.ndarray, host_s: np.ndarray,
                     min_span_s: float = MIN_SPAN_S) -> ClockFit:
    """Fit host time as a linear function of device time under the arrival envelope.

    Parameters
    ----------
    device_s : array
        Device timestamps in seconds (any origin), one per chunk.
    host_s : array
        Host arrival times in seconds, same length.

    min_span_s : float
        Device time the points must span before a drift is fitted.

    Returns
    -------
    ClockFit
        The line under all points that touches the lower convex hull where it is
        longest-lived (the hull edge spanning the middle of the recording). Over less
        than ``min_span_s``, or when the slope would exceed 1000 ppm (jitter, not a
        crystal), drift is 0 and the offset is the minimum delay.
    """
    device_s = np.asarray(device_s, dtype=float)
    host_s = np.asarray(host_s, dtype=float)
    if device_s.shape != host_s.shape or device_s.size == 0:
        raise ValueError("device_s and host_s must be non-empty and of equal length")
    order = np.argsort(device_s, kind="stable")
    x, d = device_s[order], host_s[order] - device_s[order]
    if np.ptp(x) < max(min_span_s, 1e-9):
        return _offset_only(d)
    hull = _lower_hull(x, d)
    mid = 0.5 * (x[0] + x[-1])
    # The hull edge whose span covers the middle of the record: a support line below
    # every point, so delays are never negative, and its slope is the drift.
    k = int(np.clip(np.searchsorted(x[hull], mid) - 1, 0, len(hull) - 2)) if len(hull) > 1 else 0
    if len(hull) == 1:
        slope, offset = 0.0, float(d[hull[0]])
    else:
        i, j = hull[k], hull[k + 1]
        slope = (d[j] - d[i]) / (x[j] - x[i])
        offset = float(d[i] - slope * x[i])
    if abs(slope) > MAX_DRIFT:
        return _offset_only(d)
    residual = float(np.median(d - (offset + slope * x)))
    return ClockFit(offset, float(slope), residual, int(x.size))


def _offset_only(delay: np.ndarray) -> ClockFit:
    offset = float(delay.min())
    return ClockFit(offset, 0.0, float(np.median(delay - offset)), int(delay.size))


class DeviceClock:
    """Streaming clock map: feed (device, host) pairs, map device times to host times.

    Keeps the minimum-delay point of every ``bin_s`` seconds of device time (the
    envelope is all that the fit uses) so memory stays bounded over long sessions, and
    refits when a new bin opens. Before two bins exist it uses the offset alone.
    """

    REFIT_EVERY = 10  # bins (20 s) between refits once 40 s are in

    def __init__(self, bin_s: float = 2.0, max_bins: int = 1800) -> None:
        self.bin_s = bin_s
        self.max_bins = max_bins
        self._bins: dict[int, tuple[float, float]] = {}
        self.fit: ClockFit | None = None

    def observe(self, device_s: float, host_s: float) -> None:
        key = int(device_s // self.bin_s)
        delay = host_s - device_s
        best = self._bins.get(key)
        new_bin = best is None
        if best is None or delay < best[1] - best[0]:
            self._bins[key] = (device_s, host_s)
        if new_bin and len(self._bins) > self.max_bins:
            del self._bins[min(self._bins)]
        # Refit on every new bin while the fit is young, then every REFIT_EVERY bins: the
        # envelope of a long recording moves slowly, and a refit walks all the bins.
        young = len(self._bins) <= 2 * self.REFIT_EVERY
        if self.fit is None or len(self._bins) == 1 or (
                new_bin and (young or key % self.REFIT_EVERY == 0)):
            self._refit()

    def _refit(self) -> None:
        pts = np.array(list(self._bins.values()))
        self.fit = fit_device_clock(pts[:, 0], pts[:, 1])

    def reset(self) -> None:
        """Forget the fit (a device rebooted or reconnected with a new time base)."""
        self._bins.clear()
        self.fit = None

    def to_host(self, device_s: np.ndarray | float) -> np.ndarray:
        if self.fit is None:
            raise RuntimeError("no clock observation yet")
        return self.fit.to_host(device_s)
