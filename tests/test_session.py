"""A whole session on the simulator: stored, analysed live, replayed to the same numbers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from conftest import run_sim_session
from rapport_sync.session.replay import replay_session
from rapport_sync.session.store import SessionReader


def test_everything_is_stored_and_closed_cleanly(sim_session):
    with SessionReader(sim_session.path) as r:
        assert r.ended_cleanly
        stats = r.chunk_stats()
        n, size, first, last = stats["sim-belt-1"]
        assert n == pytest.approx(300 / 0.1, rel=0.01)  # one chunk per 100 ms frame
        assert (last - first) / 1e9 == pytest.approx(300, abs=0.5)
        assert [m.label for m in r.markers()] == ["start"]
        assert r.meta["participants"]["a"] == {"label": "Ann", "id": "sub-01"}


def test_live_rates_follow_the_simulated_people(sim_session):
    snap = sim_session.snapshot()
    a, b = snap.people["a"].breath, snap.people["b"].breath
    # At 5 minutes the default script has coupled them: B (12.5/min alone) breathes at A's rate.
    assert a.rate_bpm == pytest.approx(15.0, abs=2.0)
    assert b.rate_bpm == pytest.approx(a.rate_bpm, abs=1.5)
    assert snap.people["a"].heart.hr_bpm == pytest.approx(68, abs=6)
    assert snap.people["b"].heart.hr_bpm == pytest.approx(74, abs=6)
    assert sim_session.processing_errors == 0


def test_replay_gives_the_live_numbers(sim_session):
    replay = replay_session(sim_session.path)
    live = sim_session.pipeline.sync_history
    assert len(replay.sync_history) == len(live) > 100
    got = np.array([(s.plv, s.alignment, s.lag_s) for s in replay.sync_history])
    want = np.array([(s.plv, s.alignment, s.lag_s) for s in live])
    assert np.allclose(got, want, equal_nan=True)
    a = replay.people["a"]
    assert len(a.grid_time_s) == len(a.phase) and np.all(np.diff(a.grid_time_s) > 0)
    assert replay.ended_cleanly and replay.duration_s == pytest.approx(300, abs=1)


def test_coupled_breathing_is_found_with_its_leader(tmp_path):
    session = run_sim_session(tmp_path / "c.rapport", duration_s=240, seed=2, script="coupled")
    late = [s for s in session.pipeline.sync_history if s.time_s > 150]
    assert np.median([s.lag_plv for s in late]) > 0.8
    assert np.median([s.lag_s for s in late]) == pytest.approx(1.6, abs=0.8)  # A leads
    assert sum(s.leader == "a" for s in late) > 0.8 * len(late)


def test_independent_breathing_stays_near_chance(tmp_path):
    session = run_sim_session(tmp_path / "i.rapport", duration_s=300, seed=3,
                              script="independent")
    late = [s for s in session.pipeline.sync_history if s.time_s > 90]
    above = np.mean([s.plv > s.chance_plv95 for s in late])
    assert above < 0.25
    snap = session.snapshot()
    assert snap.people["a"].breath.rate_bpm == pytest.approx(15.0, abs=2.0)
    assert snap.people["b"].breath.rate_bpm == pytest.approx(12.5, abs=2.0)


@pytest.mark.parametrize("seconds,text", [(239.97, "04:00.0"), (59.94, "00:59.9"),
                                          (3599.96, "1:00:00.0"), (-0.25, "-00:00.2"),
                                          (61.05, "01:01.0")])
def test_info_times_round_before_they_split(seconds: float, text: str) -> None:
    """`info` printed 239.97 s as 03:60.0: the seconds were rounded after the minutes
    were taken off."""
    from rapport_sync.session.info import _clock

    assert _clock(seconds) == text


def test_the_gapped_session_is_the_same_every_run(gapped_session, tmp_path):
    """The shared session with B's link drop (exports, reports) is made on a virtual clock
    by one source thread: another run stores the same chunks at the same stamps, the same
    events and the markers at their exact times, and analyses them to the same windows.
    (On a scaled real clock a busy machine moved the gap and the markers.)"""
    from export_sessions import MARKERS, run_gapped_session

    def stored(path):  # type: ignore[no-untyped-def]
        with SessionReader(path) as r:
            start = r.meta["start_host_ns"]
            # the worker stores what the decoders report as it reads the chunks: the
            # events' rows may interleave differently, their contents may not
            return ([dataclasses.replace(c, host_time_ns=c.host_time_ns - start)
                     for c in r.chunks()],
                    sorted((e.device, e.host_ns - start, str(e.kind), e.detail)
                           for e in r.events()),
                    [(m.host_ns - start, m.label) for m in r.markers()])

    again = run_gapped_session(tmp_path / "again.rapport")
    first = stored(gapped_session.path)
    assert stored(again.path) == first
    chunks, events, markers = first
    assert {c.device for c in chunks} == {"sim-belt-1", "sim-belt-b"}
    assert markers == [(round(t_s * 1e9), label) for t_s, label in MARKERS]
    assert [kind for device, _, kind, detail in events
            if device == "sim-belt-b" and detail == "link"] == ["disconnected", "connected"]
    windows = [np.array([(s.time_s, s.plv, s.lag_s, s.chance_plv95) for s in run.pipeline
                         .sync_history]) for run in (gapped_session, again)]
    assert len(windows[0]) > 100 and np.array_equal(*windows, equal_nan=True)
