"""LSL outlets of a session, read on loopback by real pylsl inlets."""

from __future__ import annotations

import time
import uuid

import numpy as np
import pytest
from conftest import run_sim_session

from rapport_sync.cli import main
from rapport_sync.export.lsl_outlets import SessionOutlets

pylsl = pytest.importorskip("pylsl")


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    path = tmp_path_factory.mktemp("lsl") / "s.rapport"
    return run_sim_session(path, duration_s=90.0, seed=2, script="coupled",
                           markers=("hello",))


def inlet_for(name: str):  # type: ignore[no-untyped-def]
    found = pylsl.resolve_bypred(f"name='{name}'", 1, 5.0)
    assert found, f"stream {name} not found"
    inlet = pylsl.StreamInlet(found[0], max_buflen=600)
    inlet.open_stream(timeout=5.0)
    return inlet


def pull_all(inlet, expect: int, timeout_s: float = 5.0):  # type: ignore[no-untyped-def]
    samples, stamps = [], []
    deadline = time.monotonic() + timeout_s
    while len(stamps) < expect and time.monotonic() < deadline:
        s, t = inlet.pull_chunk(timeout=0.2, max_samples=100000)
        samples += s
        stamps += t
    return samples, np.array(stamps)


def channels(info) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    out, ch = [], info.desc().child("channels").child("channel")
    while not ch.empty():
        out.append((ch.child_value("label"), ch.child_value("unit")))
        ch = ch.next_sibling()
    return out


def test_outlets_publish_what_the_session_measured(session):
    prefix = f"rs{uuid.uuid4().hex[:6]}"
    outlets = SessionOutlets(session, prefix=prefix)
    try:
        inlets = {k: inlet_for(f"{prefix}_{n}") for k, n in (
            ("a", "sub-01_resp"), ("hr", "sub-02_hr"), ("sync", "synchrony"),
            ("markers", "markers"))}
        snap = session.snapshot()
        outlets.update(snap)
        trace = snap.people["a"].trace
        samples, stamps = pull_all(inlets["a"], len(trace))
        values = np.array(samples)
        assert len(values) == len(trace)
        assert np.allclose(values, trace[:, 1:3].astype(np.float32), equal_nan=True)
        # stamps are measurement times on LSL's clock: the 25-Hz grid, exactly spaced
        assert np.allclose(np.diff(stamps), 0.04, atol=1e-6)
        assert stamps[0] == pytest.approx(float(outlets.lsl_time(trace[0, 0])), abs=1e-6)
        sync, _ = pull_all(inlets["sync"], len(snap.sync_history))
        late = [row for row, s in zip(sync, snap.sync_history) if s.time_s > 60]
        published = np.array([r[:5] for r in late], dtype=float)
        measured = np.array([[s.plv, s.chance_plv95, s.alignment, s.lag_s, s.lag_plv]
                             for s in snap.sync_history if s.time_s > 60], dtype=float)
        assert np.allclose(published, measured, equal_nan=True, atol=1e-6)
        # the coupled script (A leads by 1.5 s) is locked at its best lag
        assert np.median([r[4] for r in late]) > 0.8
        assert np.mean([r[5] == 1.0 for r in late]) > 0.7  # A leads in "coupled"
        # `lead` is the monitor's reading: A, or nobody where the lag is about half a breath
        from rapport_sync.dsp.sync import lead

        shown = [lead(s) for s in snap.sync_history if s.time_s > 60]
        assert [r[8] for r in late] == [
            0.0 if x.half_breath else {"a": 1.0, "b": -1.0}.get(x.leader, 0.0) for x in shown]
        assert {r[8] for r in late} <= {0.0, 1.0}
        hr, _ = pull_all(inlets["hr"], len(snap.people["b"].hr_trace))
        assert np.nanmedian(hr) == pytest.approx(74, abs=6)
        markers, _ = pull_all(inlets["markers"], 1)
        assert markers == [["hello"]]

        info = inlets["a"].info()
        assert (info.type(), info.nominal_srate()) == ("RESP", 25.0)
        assert channels(info) == [("resp", "a.u."), ("phase", "rad")]
        assert info.source_id().endswith("/sub-01/resp")
        acq = info.desc().child("acquisition")
        assert acq.child_value("participant_id") == "sub-01"
        assert "Ann" not in info.as_xml() and "Ben" not in info.as_xml()

        outlets.update(session.snapshot())  # nothing new: nothing pushed
        again, _ = pull_all(inlets["a"], 1, timeout_s=0.5)
        assert again == []
    finally:
        outlets.close()


def test_demo_with_lsl_publishes_while_it_runs(tmp_path, capsys):
    import threading

    import pylsl
    found: list = []

    def look() -> None:  # another program on the network, looking while the demo runs
        found.extend(pylsl.resolve_byprop("type", "Synchrony", minimum=1, timeout=20.0))

    looker = threading.Thread(target=look)
    looker.start()
    code = main(["demo", "--headless", "--lsl", "--duration", "90", "--speed", "10",
                 "--out", str(tmp_path / "demo.rapport")])
    looker.join()
    assert code == 0 and "session saved" in capsys.readouterr().out
    assert found and found[0].name() == "rapport_sync_synchrony"
    assert found[0].source_id().endswith("/dyad/sync") and found[0].channel_count() == 9
