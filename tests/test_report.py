"""The HTML session report: self-contained, complete, pseudonymous, and honest about gaps."""

from __future__ import annotations

import base64
import re
import sys

import pytest
from conftest import cli, small_disk
from export_sessions import GAP_LISTED_S, MARKERS

from rapport_sync.cli import main
from rapport_sync.export.aligned import load_aligned
from rapport_sync.export.report import epoch_table, surrogate_table

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def report(gapped_session, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    assert main(["report", str(gapped_session.path), "--out", str(out),
                 "--surrogates", "19"]) == 0
    return out.read_text(encoding="utf-8")


def test_report_is_self_contained_with_every_section(report):
    assert not re.search(r'(src|href)="(?!data:)', report)  # nothing loaded from elsewhere
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', report)
    assert len(images) == 4
    assert all(base64.b64decode(img)[:8] == b"\x89PNG\r\n\x1a\n" for img in images)
    for section in ("Traces", "Synchrony over time", "Lag and leader", "Rates",
                    "Epochs between markers", "Surrogate statistics",
                    "Signal quality and gaps", "Settings"):
        assert f"<h2>{section}</h2>" in report
    text = re.sub(r'src="data:[^"]+"', "", report)
    assert "Ann" not in text and "Ben" not in text
    assert "A = sub-01, B = sub-02" in report


def test_coupled_breathing_beats_every_surrogate_and_the_gap_is_listed(report):
    rows = re.findall(r"<tr><td>(circular_shift|segment_shuffle|iaaft)</td>(.*?)</tr>", report)
    assert [kind for kind, _ in rows] == ["circular_shift", "segment_shuffle", "iaaft"]
    for _, cells in rows:
        values = re.findall(r"<td>([^<]*)</td>", cells)
        p, z = float(values[5]), float(values[3])
        assert p == pytest.approx(1 / 20) and z > 2.0  # 19 surrogates: it beats them all
    gap_rows = dict(re.findall(r"<tr><td>(sub-0[12])</td>((?:<td>[^<]*</td>)*)</tr>", report))
    a_cells = re.findall(r"<td>([^<]*)</td>", gap_rows["sub-01"])
    b_cells = re.findall(r"<td>([^<]*)</td>", gap_rows["sub-02"])
    assert a_cells[-2:] == ["0", "none"], a_cells
    assert b_cells[-2] == "1", b_cells
    assert b_cells[-1] == f"{GAP_LISTED_S[0]:.1f}–{GAP_LISTED_S[1]:.1f} s", b_cells  # to 0.1 s


def test_epochs_split_the_windows_at_the_markers(gapped_session):
    session = load_aligned(gapped_session.path)
    epochs = epoch_table(session)
    assert [e["label"] for e in epochs] == ["session start"] + [m for _, m in MARKERS]
    assert sum(e["n_windows"] for e in epochs) == len(session.sync_history)
    # coupled all along: 30-s windows of two differently shaped breaths 1.2 s apart (zero-lag
    # PLV, which the lag lowers) and most windows above the live chance band, B's gap too
    assert all(e["plv"] > 0.5 and e["above"] > 0.5 for e in epochs), epochs


def test_a_last_window_ending_after_the_session_is_in_the_last_epoch(gapped_session):
    """A window's time is one grid step after its last sample; a session stopped within
    that step of its last sample has its last window end after the session did, and the
    epoch table left that window out of every epoch."""
    import dataclasses

    session = load_aligned(gapped_session.path)
    last = session.sync_history[-1]
    ended = dataclasses.replace(session, duration_s=last.time_s - 0.5 / session.fs)
    epochs = epoch_table(ended)
    assert [e["n_windows"] for e in epochs] == [e["n_windows"] for e in epoch_table(session)]
    assert epochs[-1]["end_s"] == ended.duration_s
    assert sum(e["n_windows"] for e in epochs) == len(session.sync_history)


def test_without_the_surrogate_module_the_report_says_so(gapped_session, monkeypatch):
    monkeypatch.setitem(sys.modules, "rapport_sync.analysis", None)
    results, note = surrogate_table(load_aligned(gapped_session.path), n=19)
    assert results == [] and "unavailable" in note


@pytest.mark.parametrize("target", ["session", "other"])
def test_an_existing_output_is_refused_and_left_as_it_was(gapped_session, tmp_path, capsys,
                                                          target):
    """`report S --out S` used to replace the recording with the report."""
    session = tmp_path / "session.rapport"
    session.write_bytes(gapped_session.path.read_bytes())
    before = session.read_bytes()
    out = session if target == "session" else tmp_path / "old-report.html"
    if target == "other":
        out.write_text("an earlier report")
    assert main(["report", str(session), "--out", str(out), "--surrogates", "5"]) == 1
    err = capsys.readouterr().err
    assert err == f"rapport-sync: error: {out} already exists; choose another --out\n"
    assert session.read_bytes() == before
    if target == "other":
        assert out.read_text() == "an earlier report"
    assert load_aligned(session).duration_s > 140  # the recording still reads


def test_a_full_disk_leaves_no_report(gapped_session, tmp_path):
    """No file may grow past 100 kB (a real failed write, as on a full disk); the report
    with its four plots is larger. It used to stay behind cut short."""
    out = tmp_path / "report.html"
    run = cli("report", str(gapped_session.path), "--out", str(out), "--surrogates", "5",
              preexec_fn=small_disk(100_000))
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr == (f"rapport-sync: error: cannot write the report to {out}: file too "
                          "large (the disk's or the process's file-size limit) while writing "
                          f"{out}; nothing was written\n")
    assert list(tmp_path.iterdir()) == []


def test_the_means_count_only_windows_with_a_verdict(gapped_session, report):
    """Windows with under half of their signal clean get no verdict on the monitor; the
    report's means left them in (a strap outage's near-zero locking pulled the mean
    down). Half the session's windows made unclean and zero-locking: the means are those
    of the other half, and the summary table says how many windows were judged."""
    import dataclasses

    import numpy as np

    from rapport_sync.dsp.sync import judged
    from rapport_sync.export.report import _window_stats

    history = load_aligned(gapped_session.path).sync_history
    half = len(history) // 2
    spoiled = [dataclasses.replace(s, valid_fraction=0.3, plv=0.0, lag_plv=0.0)
               for s in history[:half]] + list(history[half:])
    kept = [s for s in history[half:] if judged(s)]
    stats = _window_stats(spoiled)
    assert stats["judged"] == len(kept) and stats["windows"] == len(history)
    assert stats["plv"] == pytest.approx(np.mean([s.plv for s in kept]))
    given = sum(map(judged, history))
    assert re.search(rf"windows with a verdict[^<]*</td><td>{given} of {len(history)}<", report)


def test_a_session_shorter_than_a_window_says_why_it_has_no_synchrony(tmp_path):
    """Twenty simulated seconds, a 60-s window: the synchrony and lag plots are empty, and
    the report now says why; the breathing rates come from the breathing itself (they
    read "– / –" with no window to take them from)."""
    from conftest import run_sim_session

    path = tmp_path / "short.rapport"
    run_sim_session(path, duration_s=20.0)
    out = tmp_path / "short.html"
    assert main(["report", str(path), "--out", str(out), "--surrogates", "19"]) == 0
    text = out.read_text(encoding="utf-8")
    assert "No synchrony window: the session is shorter than one window (60 s)" in text
    rates = re.search(r"breathing rate A / B \(whole session\)</td><td>([\d.]+) / ([\d.]+) breaths",
                      text)
    # the default script's people breathe at about 15 and 12.5 breaths/min
    assert rates is not None
    assert [float(r) for r in rates.groups()] == [pytest.approx(15.0, abs=2.0),
                                                  pytest.approx(12.5, abs=2.0)]


def test_the_breathing_rates_count_pauses_as_the_simulated_breaths_do(tmp_path):
    """Person A of seed 0 holds the breath for 10 % of five minutes. The report took the
    median of the windows' rates, from the phase's advance where the phase is given,
    which leaves the pauses out: 14.7/min where A breathes 13.4/min. The session's and
    each epoch's rates now count inhalation onsets, as `analyze` does, and match the
    simulator's own breaths (its generative inhalation onsets), per epoch too."""
    import numpy as np
    from conftest import run_sim_session

    from rapport_sync.dsp.events import onset_rate_bpm
    from rapport_sync.dsp.simulate import DyadSimulator

    path = tmp_path / "pauses.rapport"
    run_sim_session(path, duration_s=300.0, seed=0)
    people = DyadSimulator(fs=50.0, seed=0).step(50 * 300)
    truth = []
    for person in (people.a, people.b):
        onsets = (np.flatnonzero(np.diff(person.cycle_phase) < -np.pi) + 1) / 50.0
        truth.append(onset_rate_bpm(list(onsets)))
    assert people.a.paused.mean() > 0.05  # the case: A pauses, B does not
    out = tmp_path / "pauses.html"
    assert main(["report", str(path), "--out", str(out), "--surrogates", "19"]) == 0
    text = out.read_text(encoding="utf-8")
    rates = re.search(r"breathing rate A / B \(whole session\)</td><td>([\d.]+) / ([\d.]+) br",
                      text)
    assert rates is not None
    assert [float(r) for r in rates.groups()] == [pytest.approx(t, abs=0.3) for t in truth]
    session = load_aligned(path)
    (epoch,) = epoch_table(session)  # no marker: one epoch, the whole session
    assert [epoch["ra"], epoch["rb"]] == [pytest.approx(float(r), abs=0.05) for r in rates.groups()]
    # the windows' rates (the rates plot, the exports) count the pauses as well
    windowed = [np.nanmedian([s.rate_a_bpm for s in session.sync_history]),
                np.nanmedian([s.rate_b_bpm for s in session.sync_history])]
    assert windowed == [pytest.approx(t, abs=0.5) for t in truth]


def test_the_report_reads_who_leads_as_the_monitor_does(gapped_session):
    """A leader named by the lag scan at about half a breath is "can't tell" on the
    monitor (either person could be ahead); the report counted it as that person leading."""
    import dataclasses

    from rapport_sync.dsp.sync import HALF_BREATH, judged
    from rapport_sync.export.report import _window_stats

    history = [s for s in load_aligned(gapped_session.path).sync_history if judged(s)]
    history = [dataclasses.replace(s, plv=0.9, lag_plv=0.95, chance_plv95=0.5,
                                   chance_lag_plv95=0.5, leader="a") for s in history]
    near = [dataclasses.replace(s, lag_s=0.2 * s.cycle_s) for s in history]
    half = [dataclasses.replace(s, lag_s=(HALF_BREATH + 0.05) * s.cycle_s) for s in history]
    stats_near, stats_half = _window_stats(near), _window_stats(half)
    assert (stats_near["lead_a"], stats_near["lead_unclear"]) == (1.0, 0.0)
    assert (stats_half["lead_a"], stats_half["lead_b"], stats_half["lead_unclear"]) == (0.0, 0.0, 1.0)
