"""Small deterministic breathing signals for the dsp tests (the realistic ones come from
rapport_sync.dsp.simulate)."""

from __future__ import annotations

import numpy as np

from rapport_sync.dsp.simulate import PersonParams, breath_shape

FS = 25.0


def calm(rate_bpm: float = 15.0, **kw: float) -> PersonParams:
    """A regular breather without sighs or pauses."""
    base = {"rate_bpm": rate_bpm, "rate_cv": 0.03, "sigh_every_breaths": 1e9, "pause_every_breaths": 1e9}
    base.update(kw)
    return PersonParams(**base)  # type: ignore[arg-type]


def breaths_with_hold(rate_bpm: float, n_before: int, hold_s: float, n_after: int,
                      seed: int = 0) -> tuple[np.ndarray, int]:
    """Belt-like breathing, a breath hold at end-expiration, more breathing; and the breath count."""
    rng = np.random.default_rng(seed)
    period = 60.0 / rate_bpm
    u1 = np.arange(0, n_before * period, 1 / FS) / period % 1.0
    hold = np.zeros(int(hold_s * FS))
    u2 = np.arange(0, n_after * period, 1 / FS) / period % 1.0
    x = np.concatenate((breath_shape(u1, 0.4), hold, breath_shape(u2, 0.4)))
    return 500.0 * x + 5.0 * rng.standard_normal(x.size) + 1000.0, n_before + n_after
