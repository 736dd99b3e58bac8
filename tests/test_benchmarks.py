"""The benchmarks still run against the code they measure (tiny sizes; numbers not judged).

They patch a few internals to time them, so a change of signature breaks them silently
unless something runs them.
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("pytestqt")


@pytest.mark.slow
def test_monitor_benchmark_measures_frames_and_display_delay(qtbot, capsys):
    from benchmarks import bench_monitor

    assert bench_monitor.main(["--frames", "10", "--span", "20", "--live-s", "20"]) in (0, None)
    out = capsys.readouterr().out
    rows = dict(re.findall(r"^\| (live: chunk arrival -> painted on screen|frame, expert view "
                           r"\(render \+ paint, 1400x850\))\s+\|\s+([0-9.]+) \|", out, re.MULTILINE))
    assert len(rows) == 2, out  # both measured, not "no data"
    assert all(float(v) > 0 for v in rows.values())


@pytest.mark.parametrize("batch_s", [0.0, 1.0])
def test_throughput_session_path_accounts_for_its_time(monkeypatch, batch_s):
    from benchmarks import throughput

    monkeypatch.setattr(throughput, "SECONDS", 30.0)
    how, chunks_per_s, x_real_time, us_per_chunk, *parts = throughput.session_path(batch_s)
    assert ("blocks" in how) == (batch_s > 0)
    assert chunks_per_s == pytest.approx(10.0, rel=0.05)  # the belt board's frame rate
    # the five parts (ms CPU per s of data) add up to the whole measured time
    assert len(parts) == 5 and all(p >= 0 for p in parts)
    assert sum(parts) == pytest.approx(1000.0 / x_real_time, rel=1e-6)
    assert us_per_chunk == pytest.approx(1e6 / (chunks_per_s * x_real_time), rel=0.01)


def test_the_weak_source_table_runs_on_real_beats():
    """The real ECG's R peaks (the benchmark's plain detector) form a clean RR series:
    every interval within 25 % of the median, none missed or doubled. Scored against the
    belt's reference, the belt's own live phase locks closely and the RR-derived one,
    the weakest source, less closely."""
    from benchmarks import phase_accuracy
    from benchmarks.common import real_beats, real_belt

    beats, belt = real_beats(), real_belt()
    if beats is None or belt is None:
        pytest.skip("the real recordings are not here (set RAPPORT_SYNC_DATA)")
    rr = np.diff(beats)
    assert len(beats) > 100 and np.all(np.abs(rr / np.median(rr) - 1) < 0.25)
    (source_1, *_, plv_belt, _, _), (source_2, *_, plv_rr, _, _) = phase_accuracy.rr_fallback(belt)
    assert (source_1, source_2) == ("belt", "RR of the ECG")
    assert plv_belt > 0.7 and plv_rr < plv_belt


def test_the_real_recording_plays_at_its_own_speed_twice_as_fast():
    """The files' time axis is half the recording's speed: at the files' times the ECG's
    heart rate is 35 bpm, at twice the speed that of a resting adult; the belt then
    breathes 10-20 times a minute."""
    from benchmarks.common import TRUE_SPEED, real_beats, real_belt

    from rapport_sync.dsp import ANALYSIS_RATE_HZ
    from rapport_sync.dsp.breathing import track_breathing
    from rapport_sync.dsp.events import EventKind, onset_rate_bpm

    slow, fast, belt = real_beats(), real_beats(TRUE_SPEED), real_belt(speed=TRUE_SPEED)
    if slow is None or fast is None or belt is None:
        pytest.skip("the real recordings are not here (set RAPPORT_SYNC_DATA)")
    assert 30 < 60 / np.median(np.diff(slow)) < 40
    assert 60 < 60 / np.median(np.diff(fast)) < 80
    assert len(belt) / ANALYSIS_RATE_HZ == pytest.approx(120.0, abs=0.1)
    _, events, _ = track_breathing(belt, ANALYSIS_RATE_HZ)
    rate = onset_rate_bpm([e.time_s for e in events if e.kind == EventKind.INHALE])
    assert 10 < rate < 20
