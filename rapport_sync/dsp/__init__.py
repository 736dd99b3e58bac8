"""Breathing, heart and dyad-synchrony signal processing: pure numpy/scipy.

Every method comes as a batch function plus a small streaming object whose output equals
the batch function on the same data. The live path is causal: nothing at the newest
sample depends on samples that have not arrived yet.

Submodules are imported on use (``from rapport_sync.dsp.breathing import BreathTracker``)
so that importing this package stays cheap.
"""

from __future__ import annotations

ANALYSIS_RATE_HZ = 25.0
"""The uniform grid (Hz) every person's breathing is resampled onto before analysis."""

__all__ = ["ANALYSIS_RATE_HZ"]
