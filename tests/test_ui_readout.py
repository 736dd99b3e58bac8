"""What the monitor says, from real synchrony states of known phase relations (no Qt)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from rapport_sync.dsp.sync import window_sync
from rapport_sync.ui.readout import (
    SyncLevel,
    above_chance,
    describe_sync,
    latest_phase,
    leader_text,
)

FS = 5.0
LABELS = {"a": "Alex", "b": "Sam"}


def breathing_phase(seconds: float, rate_bpm: float, seed: int) -> np.ndarray:
    """Phase of a breather whose rate wanders (CV about 10 %)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    f = rate_bpm / 60.0 * np.exp(np.cumsum(rng.normal(0, 0.02, n)) * 0.3)
    return np.cumsum(2 * np.pi * f / FS)


def state(pa: np.ndarray, pb: np.ndarray):  # type: ignore[no-untyped-def]
    wrap = lambda p: np.angle(np.exp(1j * p))
    return window_sync(wrap(pa), wrap(pb), np.cos(pa), np.cos(pb), FS, time_s=60.0)


def test_in_step_breathers_read_together():
    pa = breathing_phase(60, 15, 1)
    s = state(pa, pa + 0.1)
    r = describe_sync(s, 60)
    assert r.level == SyncLevel.TOGETHER and above_chance(s)
    assert leader_text(s, LABELS) == "Nobody leads: in step"


def test_opposite_breathers_read_locked_opposite():
    pa = breathing_phase(60, 15, 2)
    s = state(pa, pa + math.pi)
    assert describe_sync(s, 60).level == SyncLevel.OPPOSITE
    # half a breath ahead or behind: the same picture, so no leader is named
    assert leader_text(s, LABELS) == "No leader: half a breath apart"


def test_follower_reads_delayed_and_the_leader_is_named():
    pa = breathing_phase(80, 15, 3)
    lag = int(1.5 * FS)  # Sam breathes what Alex breathed 1.5 s earlier
    s = state(pa[lag:], pa[:-lag])
    assert describe_sync(s, 60).level == SyncLevel.DELAYED
    text = leader_text(s, LABELS)
    assert text.startswith("Alex leads by ")
    assert float(text.split()[-2]) == pytest.approx(1.5, abs=0.3)


def test_a_lead_of_about_half_a_breath_gives_both_readings():
    """Sam breathes what Alex breathed 1.8 s earlier, 0.45 of a 4-s breath: the same
    phases as Sam leading by 2.2 s, so the line gives both and names neither. A breath is
    the phases' cycle: rates that count a pause in the window (a longer period) change
    nothing."""
    import dataclasses

    from rapport_sync.dsp.sync import lead

    pa = breathing_phase(80, 15, 3)
    lag = int(1.8 * FS)
    s = state(pa[lag:], pa[:-lag])
    who = lead(s)
    assert s.cycle_s == pytest.approx(4.0, rel=0.15)
    assert who.leader == "a" and who.half_breath
    assert who.lag_s == pytest.approx(1.8, abs=0.3)
    assert who.other_lag_s == pytest.approx(2.2, abs=0.3)  # Sam ahead by the rest of it
    paused = dataclasses.replace(s, rate_a_bpm=0.75 * s.rate_a_bpm, rate_b_bpm=0.75 * s.rate_b_bpm)
    assert lead(paused) == who
    assert describe_sync(s, 60).level == SyncLevel.OPPOSITE
    text = re.fullmatch(r"Can't tell who leads: Alex (\d\.\d)\u00a0s ahead or Sam "
                        r"(\d\.\d)\u00a0s ahead", leader_text(s, LABELS))
    assert text is not None
    assert [float(x) for x in text.groups()] == [pytest.approx(1.8, abs=0.35),
                                                 pytest.approx(2.2, abs=0.35)]


def test_independent_breathers_are_not_above_chance():
    levels = [describe_sync(state(breathing_phase(60, 15, 10 + k),
                                  breathing_phase(60, 16.2, 50 + k)), 60).level
              for k in range(10)]
    assert levels.count(SyncLevel.CHANCE) >= 8  # a 95 % band: about 1 in 20 false alarms


def test_no_state_yet_and_too_little_signal():
    assert describe_sync(None, 60).level == SyncLevel.WAITING
    pa = breathing_phase(60, 15, 4)
    pb = pa.copy()
    pb[: int(0.7 * len(pb))] = np.nan  # 70 % of one person's window missing
    assert describe_sync(state(pa, pb), 60).level == SyncLevel.UNCLEAR
    assert leader_text(state(pa, pb), LABELS) == "No leader: not enough clean signal"


def test_latest_phase_ignores_gaps_and_silence():
    t = np.arange(100) / 25.0
    trace = np.column_stack((t, np.cos(t), np.angle(np.exp(1j * t))))
    assert latest_phase(trace) == pytest.approx(trace[-1, 2])
    trace[-10:, 2] = np.nan  # the newest 0.4 s have no phase
    assert latest_phase(trace) == pytest.approx(trace[-11, 2])
    assert latest_phase(trace, max_age_s=0.2) is None
    assert latest_phase(np.empty((0, 3))) is None
