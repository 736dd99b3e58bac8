"""EDF+ export read back with pyedflib: labels, units, values, gap fill, annotations."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import run_sim_session
from export_sessions import DURATION_S, GAP_S, LISTED_GAP, MARKER_SLACK_S, MARKERS

from rapport_sync.export import export_session
from rapport_sync.export.aligned import load_aligned
from rapport_sync.export.edf import GAP_FILL_DIGITAL

pyedflib = pytest.importorskip("pyedflib")


@pytest.fixture(scope="module")
def edf(gapped_session, tmp_path_factory):
    out = tmp_path_factory.mktemp("edf")
    export_session(gapped_session.path, "edf", out)
    return out, load_aligned(gapped_session.path)


def read(path):  # type: ignore[no-untyped-def]
    with pyedflib.EdfReader(str(path)) as r:
        signals = {r.getLabel(i): (r.getPhysicalDimension(i), r.getSampleFrequency(i),
                                   r.readSignal(i), r.getPhysicalMinimum(i),
                                   r.getPhysicalMaximum(i), r.readSignal(i, digital=True))
                   for i in range(r.signals_in_file)}
        onsets, durations, texts = r.readAnnotations()
        return signals, list(zip(onsets, durations, texts)), r.getPatientCode()


def test_channels_units_and_values_read_back(edf):
    out, aligned = edf
    signals, _, code = read(out / "sub-01_task-rapport.edf")
    assert code == "sub-01"
    assert {k: v[:2] for k, v in signals.items()} == {
        "Resp chest": ("a.u.", 50.0), "Resp filtered": ("a.u.", 25.0),
        "Resp phase": ("rad", 25.0), "HR": ("bpm", 25.0)}
    a = aligned.people["a"]
    first = round(aligned.grid_time_s[0] * aligned.fs)
    _, _, phase, lo, hi, _ = signals["Resp phase"]
    got = phase[first:first + len(a.grid_phase)]
    ok = np.isfinite(a.grid_phase)
    assert np.max(np.abs(got[ok] - a.grid_phase[ok])) <= (hi - lo) / 65535 * 1.01
    _, _, hr, _, _, _ = signals["HR"]
    assert np.median(hr[hr > 0]) == pytest.approx(np.nanmedian(a.grid_hr_bpm), abs=0.1)
    assert np.median(hr[hr > 0]) == pytest.approx(68.0, abs=6.0)  # the simulated heart


def test_gaps_hold_the_fill_value_and_an_annotation(edf):
    out, _ = edf
    signals, notes, _ = read(out / "sub-02_task-rapport.edf")
    _dim, fs, raw, lo, _, digital = signals["Resp chest"]
    inside = slice(int((GAP_S[0] + 1) * fs), int((GAP_S[1] - 1) * fs))
    assert np.all(digital[inside] == GAP_FILL_DIGITAL)  # the documented fill value
    assert np.allclose(raw[inside], lo)  # = the physical minimum
    after = digital[int((GAP_S[1] + 1) * fs):int(145 * fs)]
    assert np.all(after > GAP_FILL_DIGITAL)  # real data never takes the fill value
    # the session ends when the last frame arrives, a few ms after its last sample
    assert [o for o, _, t in notes if t == "session end"] == [
        pytest.approx(DURATION_S, abs=0.02)]
    assert [(o, d) for o, d, t in notes if t == "gap"] == [LISTED_GAP]
    markers = [(o, t) for o, _, t in notes if t.startswith("marker: ")]
    assert [t for _, t in markers] == [f"marker: {label}" for _, label in MARKERS]
    assert np.allclose([o for o, _ in markers], [t for t, _ in MARKERS], atol=MARKER_SLACK_S)
    _signals_a, notes_a, _ = read(out / "sub-01_task-rapport.edf")
    assert not [n for n in notes_a if n[2] == "gap"]  # A did not disconnect


def test_labels_become_ascii_header_text_without_a_warning(tmp_path):
    """EDF+ header fields are ASCII: "Zoë Müller" came out as mojibake ("ZoA< MA ller",
    UTF-8 bytes read as ASCII), with a UserWarning from pyedflib on the terminal."""
    session = run_sim_session(tmp_path / "labels.rapport", duration_s=40.0,
                              labels=("Zoë Müller", "李 雷"))
    out = tmp_path / "edf"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        export_session(session.path, "edf", out, with_labels=True)
    fields = {n: (out / f"sub-{n}_task-rapport.edf").read_bytes()[8:88].decode("ascii")
              for n in ("01", "02")}
    # EDF+ local patient identification: code, sex, birth date, name ("X": unknown); with no
    # Latin letter to keep, the name is unknown too
    assert fields == {"01": "sub-01 X X Zoe_Muller".ljust(80), "02": "sub-02 X X X".ljust(80)}
    with pyedflib.EdfReader(str(out / "sub-01_task-rapport.edf")) as r:
        assert r.getPatientName() == "Zoe Muller"  # pyedflib reads "_" as a space


@pytest.mark.parametrize(("fs_hz", "record_s"), [(12.5, 2.0), (50.0, 1.0)])
def test_a_belt_keeps_its_nominal_rate(tmp_path, fs_hz, record_s):
    """A 12.5-Hz belt was written as a 12-Hz channel (resampled): EDF+ records of 2 s hold
    25 of its samples, so it keeps its rate, and the grid channels 50 samples a record."""
    session = run_sim_session(tmp_path / "belt.rapport", duration_s=41.0, fs_hz=fs_hz)
    export_session(session.path, "edf", tmp_path / "edf")
    aligned = load_aligned(session.path)
    with pyedflib.EdfReader(str(tmp_path / "edf" / "sub-01_task-rapport.edf")) as r:
        rates = {r.getLabel(i): r.getSampleFrequency(i) for i in range(r.signals_in_file)}
        counts = dict(zip(r.getSignalLabels(), r.getNSamples()))
        digital = r.readSignal(r.getSignalLabels().index("Resp chest"), digital=True)
        assert r.datarecord_duration == record_s
        seconds = r.getFileDuration()
    # whole records, the last one reaching past the session's end
    assert seconds % record_s == 0 and 0 <= seconds - aligned.duration_s < record_s
    assert rates == {"Resp chest": fs_hz, "Resp filtered": 25.0, "Resp phase": 25.0,
                     "HR": 25.0}
    assert counts == {"Resp chest": seconds * fs_hz, "Resp filtered": seconds * 25,
                      "Resp phase": seconds * 25, "HR": seconds * 25}
    # every sample the belt sent has its place, one EDF sample each (no more, no fewer)
    raw = aligned.people["a"].raw
    assert abs(np.sum(digital > GAP_FILL_DIGITAL) - np.isfinite(raw).sum()) <= 1
