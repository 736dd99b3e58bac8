"""The columns every export writes, with descriptions and units, and their text form."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..dsp.sync import above_chance, lead, shown_locking

__all__ = ["ALIGNED_COLUMNS", "SYNC_COLUMNS", "format_table", "json_safe", "sync_rows"]

# name, description, units: per person on the common grid.
ALIGNED_COLUMNS = [
    ("respiratory", ("breathing signal as the device sent it, interpolated onto the grid "
     "(never across a gap)"), "a.u."),
    ("respiratory_filtered", ("cleaned breathing signal of the live pipeline (band-passed, "
     "causal)"), "a.u."),
    ("breathing_phase", ("causal instantaneous breathing phase (Hilbert convention: 0 at the "
     "end-inspiration peak, +-pi at the end-expiration trough), wrapped; n/a where not valid"), "rad"),
    ("heart_rate", "heart rate of the last corrected RR interval, held for at most 3 s",
     "bpm"),
]

# name, description, units: per synchrony window (dyad).
SYNC_COLUMNS = [
    ("time_s", "end of the window, session seconds", "s"),
    ("window_s", "window length", "s"),
    ("plv", "phase-locking value |<exp(i(phase_a - phase_b))>| at zero lag", "1"),
    ("ppc", "pairwise phase consistency (bias-free PLV^2) over the breaths in the window", "1"),
    ("alignment", "<cos(phase_a - phase_b)>: +1 in phase, -1 in anti-phase", "1"),
    ("mean_relative_phase_deg", "circular mean of phase_a - phase_b (> 0: A ahead)", "deg"),
    ("lag_s", "lag of maximal locking (> 0: B follows A, A leads)", "s"),
    ("leader", "a, b or none", "n/a"),
    ("lag_plv", "locking at the best lag", "1"),
    ("chance_plv95", "95th percentile of the PLV of circularly shifted B (chance band)", "1"),
    ("chance_lag_plv95", "95th percentile of the lagged locking of shifted B", "1"),
    ("above_chance", "1 if locking at the best lag > chance_lag_plv95 (plv > chance_plv95 "
                     "when no lag is found): what the monitor shows", "1"),
    ("valid_fraction", "share of the window with a valid phase for both", "1"),
    ("n_breaths", "breaths in the window (mean of both)", "1"),
    ("rate_a_bpm", "breathing rate of A", "breaths/min"),
    ("rate_b_bpm", "breathing rate of B", "breaths/min"),
    ("rate_diff_bpm", "rate of A minus rate of B", "breaths/min"),
    ("rate_mismatch", "|rate_a - rate_b| / mean rate", "1"),
    ("wcc_r", "windowed lagged cross-correlation of the signals, peak nearest zero lag", "1"),
    ("wcc_lag_s", "lag of that peak (> 0: A leads)", "s"),
    ("lead", "who leads as the monitor and the report read it: a or b (a judged window "
             "above chance), unclear (the best lag is about half a breath: either could be "
             "ahead), or none", "n/a"),
]


def _cell(x: Any, na: str) -> str:
    if isinstance(x, str):
        return x
    if x is None:
        return na
    x = float(x)
    return na if not math.isfinite(x) else format(x, ".10g")


def format_table(values: np.ndarray | Sequence[Sequence[Any]], na: str) -> list[list[str]]:
    """Rows of text cells; NaN, inf and None become ``na``. Numbers keep 10 digits."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
        # plain Python, not np.char.mod: that can lose a Ctrl-C pressed while it runs, and
        # is no faster (0.36 s against 0.31 s for 100 000 rows of 4)
        values = values.reshape(len(values), -1).astype(float).tolist()
    return [[_cell(x, na) for x in row] for row in values]


def sync_rows(session: Any) -> list[list[Any]]:
    """One row per synchrony window, in :data:`SYNC_COLUMNS` order."""
    rows = []
    for s in session.sync_history:
        value, chance = shown_locking(s)
        above = float(above_chance(s)) if math.isfinite(value) and math.isfinite(chance) else None
        rows.append([
            s.time_s, s.window_s, s.plv, s.ppc, s.alignment, s.mean_relative_phase_deg,
            float(s.lag_s), s.leader, s.lag_plv, s.chance_plv95, s.chance_lag_plv95, above,
            s.valid_fraction, s.n_breaths, s.rate_a_bpm, s.rate_b_bpm, s.rate_diff_bpm,
            s.rate_mismatch, s.wcc_r, float(s.wcc_lag_s), lead(s).shown])
    return rows


def json_safe(obj: Any) -> Any:
    """A copy of ``obj`` with NaN/inf as None and numpy scalars as Python numbers."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj
