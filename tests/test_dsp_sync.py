"""Dyad synchrony: identical → 1, independent → chance, known lag and leader, streaming == batch."""

from __future__ import annotations

from dataclasses import astuple

import numpy as np
import pytest
from dsp_signals import FS, calm

from rapport_sync.dsp.breathing import track_breathing
from rapport_sync.dsp.simulate import CouplingScript, simulate_dyad
from rapport_sync.dsp.sync import DyadTracker, sync_series


def _phases(seed: int, script: CouplingScript, seconds: float = 240.0, **kw):  # type: ignore[no-untyped-def]
    rec = simulate_dyad(seconds, FS, seed=seed, script=script, **kw)
    oa, _, _ = track_breathing(rec.a.belt, FS)
    ob, _, _ = track_breathing(rec.b.belt, FS)
    return oa, ob


def test_identical_breathing_gives_sync_of_one() -> None:
    oa, _ = _phases(1, CouplingScript.constant(0.0))
    last = sync_series(oa.phase, oa.phase, oa.signal, oa.signal, FS)[-1]
    assert last.plv > 0.999 and last.alignment > 0.999 and last.ppc > 0.99
    assert abs(last.mean_relative_phase_deg) < 1.0 and abs(last.lag_s) < 0.1
    assert last.leader == "none" and last.plv > last.chance_plv95


def test_independent_breathers_stay_at_chance() -> None:
    above, total = 0, 0
    for seed in (11, 12, 13):
        oa, ob = _phases(seed, CouplingScript.constant(0.0), 300.0)
        states = sync_series(oa.phase, ob.phase, oa.signal, ob.signal, FS)[::20]  # ~independent
        above += sum(s.plv > s.chance_plv95 for s in states if np.isfinite(s.plv))
        total += sum(np.isfinite(s.plv) for s in states)
    assert total >= 30
    assert above / total <= 0.15  # nominal 5 %, windows overlap and rates drift


@pytest.mark.parametrize("lag_s,leader", [(1.5, "a"), (-1.5, "b")])
def test_a_known_lag_is_recovered_with_its_sign(lag_s: float, leader: str) -> None:
    rec = simulate_dyad(200, FS, seed=21, a=calm(15.0, rate_cv=0.15), b=calm(15.0),
                        script=CouplingScript.constant(0.0))
    x = rec.a.belt.astype(float)
    d = int(abs(lag_s) * FS)
    follower = np.r_[np.full(d, x[0]), x[:-d]] + np.random.default_rng(0).normal(0, 30, x.size)
    a, b = (x, follower) if lag_s > 0 else (follower, x)
    oa, _, _ = track_breathing(a, FS)
    ob, _, _ = track_breathing(b, FS)
    last = sync_series(oa.phase, ob.phase, oa.signal, ob.signal, FS)[-1]
    assert last.lag_s == pytest.approx(lag_s, abs=0.25)
    assert last.wcc_lag_s == pytest.approx(lag_s, abs=0.25)
    assert last.leader == leader
    assert last.lag_plv > 0.9 and last.lag_plv > last.chance_lag_plv95
    assert np.sign(last.mean_relative_phase_deg) == np.sign(lag_s)


def test_streaming_equals_batch() -> None:
    oa, ob = _phases(2, CouplingScript.constant(1.0, 1.5), 150.0)
    batch = sync_series(oa.phase, ob.phase, oa.signal, ob.signal, FS)
    dy = DyadTracker(FS)
    rng = np.random.default_rng(1)
    i = 0
    assert dy.state is None
    while i < len(oa.phase):
        n = int(rng.integers(1, 30))
        dy.update(oa.phase[i:i + n], ob.phase[i:i + n], oa.signal[i:i + n], ob.signal[i:i + n])
        i += n
    assert len(dy.history) == len(batch) == 150 - 30 + 1
    np.testing.assert_equal([astuple(s) for s in dy.history], [astuple(s) for s in batch])
    assert dy.history[-1].time_s == pytest.approx(150.0)


def test_unequal_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="equal length"):
        DyadTracker(FS).update(np.zeros(3), np.zeros(4), np.zeros(3), np.zeros(3))
