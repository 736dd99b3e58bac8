"""The replay source: a stored session sent again through the live path."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import run_sim_session
from rapport_sync.errors import ConfigError, SessionFileError
from rapport_sync.session.live import LiveSession, group_sources
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
