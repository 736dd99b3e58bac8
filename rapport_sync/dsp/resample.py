"""Irregular samples onto a uniform grid by linear interpolation, never across a gap.

The batch counterpart of the session's streaming grid resampler
(:class:`rapport_sync.session.pipeline.GridResampler`), with the same rule: a grid point
on a sample takes its value, one between two samples is interpolated unless they are more
than ``max_gap_s`` apart, and points outside the data are NaN.
"""

from __future__ import annotations

import numpy as np

__all__ = ["GAP_MIN_S", "GAP_PERIODS", "GRID_MAX_GAP_S", "RR_MAX_GAP_S", "gap_step_s",
           "interp_with_gaps"]

GAP_PERIODS = 3.0  # a jump of more than this many sample periods between samples is a gap
GAP_MIN_S = 0.25  # ... and never less than this
GRID_MAX_GAP_S = 0.5  # breathing samples further apart are not joined on the analysis grid
RR_MAX_GAP_S = 3.0  # breathing from RR intervals: interpolated between beats up to this apart


def gap_step_s(rate_hz: float) -> float:
    """The longest step between samples of a ``rate_hz`` signal that is not a gap."""
    return max(GAP_PERIODS / rate_hz, GAP_MIN_S)


def interp_with_gaps(grid: np.ndarray, t: np.ndarray, v: np.ndarray,
                     max_gap_s: float) -> np.ndarray:
    """Values of ``v(t)`` at ``grid``; ``v`` may be 1-D or (n, k). NaN samples are dropped.

    Parameters
    ----------
    grid : ndarray
        Ascending times to evaluate at.
    t, v : ndarray
        Sample times (any order; repeated times keep their first value) and values.
    max_gap_s : float
        Neighbouring samples further apart than this are a gap: nothing is made up there.
    """
    grid = np.asarray(grid, dtype=float)
    t = np.asarray(t, dtype=float)
    v = np.asarray(v, dtype=float)
    shape = (len(grid),) + v.shape[1:]
    if len(v) < 2:
        return np.full(shape, np.nan)
    cols = v.reshape(len(v), -1)
    ok = np.isfinite(t) & np.all(np.isfinite(cols), axis=1)
    t, first = np.unique(t[ok], return_index=True)
    cols = cols[ok][first]
    if t.size < 2:
        return np.full(shape, np.nan)
    out = np.column_stack([np.interp(grid, t, c) for c in cols.T])
    j = np.clip(np.searchsorted(t, grid, side="right") - 1, 0, len(t) - 2)
    on_sample = (grid == t[j]) | (grid == t[j + 1])
    bad = (grid < t[0]) | (grid > t[-1]) | ((t[j + 1] - t[j] > max_gap_s) & ~on_sample)
    out[bad] = np.nan
    return out.reshape(shape)
