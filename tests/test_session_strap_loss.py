"""A strap lost mid-session, through the whole live path: the gap is recorded, the person
shows "reconnecting", the other person keeps streaming, and the strap comes back."""

from __future__ import annotations

import time

import numpy as np

from rapport_sync.session.info import count_gaps, describe_session
from rapport_sync.session.live import LiveSession
from rapport_sync.session.replay import replay_session
from rapport_sync.session.store import SessionReader
from rapport_sync.sources.base import MonotonicClock, SourceSpec


def test_one_strap_drops_out_and_the_other_keeps_streaming(tmp_path):
    spec = SourceSpec.parse("ble-sim:seed=2,script=coupled,disconnect=a@40,outage=15")
    session = LiveSession({"a": spec, "b": spec}, tmp_path / "loss.rapport",
                          clock=MonotonicClock(speed=20))
    session.start()
    seen = {}
    try:
        deadline = time.monotonic() + 30
        while session.elapsed_s < 100 and time.monotonic() < deadline:
            snap = session.snapshot()
            seen.setdefault(snap.people["a"].link, snap)
            time.sleep(0.02)
    finally:
        session.stop()
    assert session.error is None
    during = seen["reconnecting"]  # A's strap is out of reach ...
    assert during.people["b"].link == "connected"  # ... while B's keeps streaming
    after = session.snapshot()
    b_trace, a_trace = after.people["b"].trace, after.people["a"].trace
    assert b_trace[-1, 0] > 90 and a_trace[-1, 0] > 90  # A came back and streams again
    with SessionReader(tmp_path / "loss.rapport") as reader:
        device_a = next(d.device for d in reader.devices if "a" in d.persons.values())
    rep = replay_session(tmp_path / "loss.rapport")
    # each strap's own clock was fitted (the exports write these fits)
    assert len(rep.clock_fits) == 2 and device_a in rep.clock_fits
    assert all(fit is not None and fit.residual_s < 0.05 for fit in rep.clock_fits.values())
    kinds = [k for _, device, k, _ in rep.events if device == device_a]
    # stored in order: connected, the loss, the retries, connected again (then the clean
    # disconnect at the end of the session)
    rest = iter(kinds)
    assert all(k in rest for k in ("connected", "disconnected", "reconnecting", "connected",
                                   "disconnected"))
    # info counts the one outage once (the link loss, not again the data gap it left),
    # and not the two straps' "disconnected: stopped" as the session ended
    assert kinds.count("disconnected") == 2 and "gap" in kinds
    assert "\ngaps          1\n" in describe_session(tmp_path / "loss.rapport")
    # the outage stays a gap in A's breathing (never interpolated); B has none there
    a = rep.people["a"]
    in_gap = (a.grid_time_s > 45) & (a.grid_time_s < 52)
    assert in_gap.any() and np.isnan(a.signal[in_gap]).all()
    b = rep.people["b"]
    assert np.isfinite(b.signal[(b.grid_time_s > 45) & (b.grid_time_s < 52)]).mean() > 0.9


def test_gaps_are_data_missing_not_the_end_of_a_session():
    stop = [(100.4, "a", "disconnected", "stopped"), (100.5, "b", "disconnected", "stopped")]
    loss = [(40.0, "a", "disconnected", "link lost"), (55.0, "a", "connected", ""),
            (56.0, "a", "gap", "15 s of ACC missing")]
    assert count_gaps(stop, end_s=100.0) == 0  # the straps let go as the session ended
    assert count_gaps(loss + stop, end_s=100.0) == 1
    assert count_gaps(loss + [(80.0, "a", "gap", "2 s missing")], end_s=100.0) == 2
    assert count_gaps([(30.0, "b", "gap", "3 frames lost")], end_s=100.0) == 1
    # a session that crashed has no end: every lost link counts
    assert count_gaps([(99.0, "a", "disconnected", "link lost")], end_s=float("inf")) == 1
