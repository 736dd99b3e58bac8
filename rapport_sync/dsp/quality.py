"""Signal quality of one breathing channel, so a bad strap shows as bad, not as low synchrony.

Each check is a pure function of the recent raw and cleaned samples; :func:`assess_quality`
combines them in order of severity.
"""

from __future__ import annotations

import enum

import numpy as np

__all__ = ["Quality", "assess_quality", "clipped_fraction", "has_motion", "is_flat"]


class Quality(enum.StrEnum):
    """Quality of a person's breathing channel, worst first after the two good states."""

    GOOD = "good"
    WEAK_SOURCE = "weak_source"  # usable, but from RR intervals or ECG (indirect, noisier)
    WARMING_UP = "warming_up"  # not enough data yet to know the rate
    CONTACT_LOST = "contact_lost"  # samples missing (strap off, link lost)
    FLAT = "flat"  # the sensor sends a constant: unplugged, stuck, or not worn
    CLIPPED = "clipped"  # the signal sits on a rail of the sensor range
    MOTION = "motion"  # movement artefacts dominate
    NO_BREATHING = "no_breathing"  # a signal, but no breathing rhythm in it

    @property
    def usable(self) -> bool:
        """Whether phase and rate from this channel can be trusted."""
        return self in (Quality.GOOD, Quality.WEAK_SOURCE)


def is_flat(raw: np.ndarray) -> bool:
    """True if the finite samples are (numerically) constant. ``raw`` may be (n,) or (n, k)."""
    raw = raw.reshape(len(raw), -1)
    if np.isnan(raw).any():
        raw = raw[np.all(np.isfinite(raw), axis=1)]
    if len(raw) < 2:
        return False
    hi, lo = raw.max(axis=0), raw.min(axis=0)
    scale = np.maximum(np.maximum(np.abs(hi), np.abs(lo)), 1.0)
    return bool(np.all(hi - lo <= 1e-9 * scale))


def clipped_fraction(raw: np.ndarray) -> float:
    """Largest share of samples sitting exactly on the window's max or min (any axis)."""
    raw = raw.reshape(len(raw), -1)
    worst = 0.0
    for col in raw.T:
        if np.isnan(col).any():
            col = col[np.isfinite(col)]
        if col.size < 10:
            continue
        hi, lo = col.max(), col.min()
        if hi == lo:
            continue
        tol = 1e-6 * (hi - lo)
        at_rail = max(np.count_nonzero(col >= hi - tol), np.count_nonzero(col <= lo + tol))
        worst = max(worst, at_rail / col.size)
    return float(worst)


def has_motion(cleaned: np.ndarray, raw_step: float, depth_ref: float,
               step_floor: float = 0.0) -> bool:
    """Movement: the cleaned signal swings far past a normal breath, or the raw signal jumps.

    ``raw_step`` is the largest sample-to-sample change of the (projected) raw signal in
    the last seconds, ``step_floor`` its median (the noise floor: white noise alone makes
    the largest step ~5x the median); ``depth_ref`` the typical breath depth, same units.
    """
    if not np.isfinite(depth_ref) or depth_ref <= 0:
        return False
    c = cleaned[np.isfinite(cleaned)]
    swing = np.ptp(c) if c.size else 0.0
    jump = raw_step > 0.6 * depth_ref and raw_step > 10.0 * step_floor
    return bool(swing > 3.5 * depth_ref or jump)


def assess_quality(*, missing_fraction: float, flat: bool, clipped: float, motion: bool,
                   warmed_up: bool, concentration: float, seconds_since_breath: float,
                   weak_source: bool) -> Quality:
    """Combine the checks into one :class:`Quality` (most severe first)."""
    if missing_fraction > 0.5:
        return Quality.CONTACT_LOST
    if flat:
        return Quality.FLAT
    if clipped > 0.08:
        return Quality.CLIPPED
    if not warmed_up:
        return Quality.WARMING_UP
    if concentration < 0.3 or seconds_since_breath > 30.0:
        return Quality.NO_BREATHING
    if motion:
        return Quality.MOTION
    return Quality.WEAK_SOURCE if weak_source else Quality.GOOD
