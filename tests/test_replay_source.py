"""The replay source: a stored session sent again through the live path."""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import cli, run_sim_session

from rapport_sync.errors import ConfigError, SessionFileError
from rapport_sync.session.live import LiveSession, group_sources
from rapport_sync.session.store import SessionReader
from rapport_sync.sources.base import SourceSpec, VirtualClock


def replay(tmp_path, stored, a="a", b="b", name="replayed.rapport"):
    specs = {"a": SourceSpec.parse(f"replay:{stored}#{a}"),
             "b": SourceSpec.parse(f"replay:{stored}#{b}")}
    session = LiveSession(specs, tmp_path / name, clock=VirtualClock(start_ns=7 * 10**12))
    session.start()
    for source in session.sources:
        source._thread.join(60)
    session.stop()
    return session


@pytest.fixture(scope="module")
def coupled(tmp_path_factory):
    path = tmp_path_factory.mktemp("replay") / "coupled.rapport"
    return run_sim_session(path, duration_s=200, seed=4, script="coupled")


def test_a_replay_gives_the_recorded_numbers(tmp_path, coupled):
    again = replay(tmp_path, coupled.path)
    want = np.array([(s.time_s, s.lag_plv, s.lag_s) for s in coupled.pipeline.sync_history])
    got = np.array([(s.time_s, s.lag_plv, s.lag_s) for s in again.pipeline.sync_history])
    assert len(got) == len(want) > 100
    assert np.allclose(got, want, equal_nan=True)
    assert again.error is None and again.acquisition_done


def test_swapping_the_people_swaps_the_leader(tmp_path, coupled):
    swapped = replay(tmp_path, coupled.path, a="b", b="a")
    late = [s for s in swapped.pipeline.sync_history if s.time_s > 120]
    assert np.median([s.lag_s for s in late]) == pytest.approx(-1.5, abs=0.5)  # now B leads
    assert sum(s.leader == "b" for s in late) > 0.8 * len(late)


def test_channels_name_stored_people_not_board_channels():
    specs = {"a": SourceSpec.parse("replay:x.rapport#b"), "b": SourceSpec.parse("replay:x.rapport#a")}
    assert group_sources(specs) == [("replay", "x.rapport", {"b": "a", "a": "b"})]
    both = {p: SourceSpec.parse("sim") for p in "ab"}
    assert group_sources(both) == [("sim", "", {"0": "a", "1": "b"})]


def test_bad_replays_are_one_clear_error(tmp_path, coupled):
    with pytest.raises(SessionFileError, match="no such session file"):
        replay(tmp_path, tmp_path / "missing.rapport", name="x.rapport")
    with pytest.raises(ConfigError, match="a stored person, a or b"):
        replay(tmp_path, coupled.path, a="c", name="y.rapport")


def test_one_stored_person_cannot_be_both_people():
    for a, b in (("#a", "#a"), ("#b", "")):
        specs = {"a": SourceSpec.parse(f"replay:x.rapport{a}"),
                 "b": SourceSpec.parse(f"replay:x.rapport{b}")}
        with pytest.raises(ConfigError, match=r"same channel of replay:x.rapport \(stored "
                                              r"person B?A?\)"):
            group_sources(specs)
    same = {p: SourceSpec.parse("serial:/dev/ttyACM0#0") for p in "ab"}
    with pytest.raises(ConfigError, match="same channel of serial:/dev/ttyACM0"):
        group_sources(same)
    # without '#', each person replays the same side
    plain = {p: SourceSpec.parse("replay:x.rapport") for p in "ab"}
    assert group_sources(plain) == [("replay", "x.rapport", {"a": "a", "b": "b"})]


def test_a_replay_only_session_is_due_when_the_data_ends(tmp_path, coupled):
    again = replay(tmp_path, coupled.path)
    assert again.due(None)  # no --duration: over when the replayed data is
    assert again.due(1e6)  # a longer --duration does not keep it running
    # a session with a source that runs until stopped (a strap, a board) is over only
    # when its --duration has come, and never without one
    live = LiveSession({p: SourceSpec.parse("sim:seed=1") for p in "ab"},
                       tmp_path / "live.rapport", clock=VirtualClock(5 * 10**12))
    assert not live.due(None, elapsed_s=1e6)
    assert not live.due(60.0, elapsed_s=59.9) and live.due(60.0, elapsed_s=60.0)


# -- through the command line, in real time -------------------------------------------

def record(tmp_path, a, b, *extra, timeout=60):
    out = tmp_path / "recorded.rapport"
    start = time.monotonic()
    run = cli("record", "--a", a, "--b", b, "--headless", "--out", str(out), *extra,
              timeout=timeout)
    return run, time.monotonic() - start, out


@pytest.fixture(scope="module")
def short(tmp_path_factory):
    """Six stored seconds of two simulated people."""
    path = tmp_path_factory.mktemp("short") / "short.rapport"
    return run_sim_session(path, duration_s=6, seed=5).path


def session_seconds(path):
    with SessionReader(path) as r:
        return (r.meta["ended_host_ns"] - r.start_host_ns) / 1e9


def test_duration_ends_a_session_beside_a_longer_replay(tmp_path, coupled):
    """200 stored seconds beside a live simulator, --duration 3: over after 3 s (it used
    to wait up to 30 s more for the replay)."""
    run, wall_s, out = record(tmp_path, f"replay:{coupled.path}#a", "sim", "--duration", "3")
    assert run.returncode == 0, run.stderr
    assert wall_s < 15
    assert session_seconds(out) == pytest.approx(3.0, abs=0.5)


def test_a_replay_only_session_ends_with_its_data(tmp_path, short):
    """Two replays and no --duration: the session ends when the six stored seconds do."""
    run, wall_s, out = record(tmp_path, f"replay:{short}#a", f"replay:{short}#b")
    assert run.returncode == 0, run.stderr
    assert "session saved to" in run.stdout
    assert session_seconds(out) == pytest.approx(6.0, abs=1.0)
    with SessionReader(out) as r:
        assert {p for d in r.devices for p in d.persons.values()} == {"a", "b"}


def test_the_same_stored_person_twice_is_one_line_and_no_file(tmp_path, short):
    run, _, out = record(tmp_path, f"replay:{short}#a", f"replay:{short}#a", "--duration", "2")
    assert run.returncode == 1
    assert run.stderr.count("\n") == 1 and "same channel" in run.stderr
    assert not out.exists()
