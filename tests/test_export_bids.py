"""BIDS export of a simulated session with markers and a disconnect: files, time base, gaps,
pseudonyms, and the bids-validator (npm, 1.x) when Node.js and the validator are here."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from export_sessions import FS_HZ, GAP_S, LISTED_GAP, MARKER_SLACK_S, MARKERS

from rapport_sync.export import export_session
from rapport_sync.session.replay import replay_session

PHYSIO = "sub-{n}/beh/sub-{n}_task-rapport_recording-{rec}_physio"


@pytest.fixture(scope="module")
def bids(gapped_session, tmp_path_factory):
    out = tmp_path_factory.mktemp("bids") / "dataset"
    export_session(gapped_session.path, "bids", out)
    return out


def read_physio(root: Path, n: str, rec: str) -> tuple[dict, np.ndarray]:
    stem = root / PHYSIO.format(n=n, rec=rec)
    meta = json.loads(stem.with_name(stem.name + ".json").read_text())
    with gzip.open(stem.with_name(stem.name + ".tsv.gz"), "rt") as fh:
        rows = [line.rstrip("\n").split("\t") for line in fh]
    values = np.array([[np.nan if c == "n/a" else float(c) for c in r] for r in rows])
    return meta, values


def test_physio_files_have_the_required_fields_and_no_header(bids):
    for n in ("01", "02"):
        for rec in ("raw", "aligned"):
            meta, values = read_physio(bids, n, rec)
            assert {"SamplingFrequency", "StartTime", "Columns"} <= meta.keys()
            assert values.shape[1] == len(meta["Columns"])
            assert all(meta[c]["Units"] for c in meta["Columns"])
            assert meta["ClockAlignment"]["residual_s"] < 0.05
    meta, _ = read_physio(bids, "01", "aligned")
    assert meta["Columns"] == ["respiratory", "respiratory_filtered", "breathing_phase",
                               "heart_rate"]
    assert meta["SamplingFrequency"] == 25.0


def test_raw_samples_sit_where_the_session_clock_put_them(bids, gapped_session):
    replay = replay_session(gapped_session.path)
    for n, p in (("01", "a"), ("02", "b")):
        meta, values = read_physio(bids, n, "raw")
        t = meta["StartTime"] + np.arange(len(values)) / meta["SamplingFrequency"]
        trace = replay.people[p]
        ok = np.isfinite(values[:, 0])
        assert ok.sum() == len(trace.raw_value)
        assert np.array_equal(values[ok, 0], trace.raw_value)  # untouched device values
        # The replay maps samples with the clock fit known at the time; the first seconds
        # move while the fit settles. After that each sample is within one period.
        error = np.abs(t[ok] - trace.raw_time_s)
        assert np.median(error) < 0.005
        assert np.max(error[trace.raw_time_s > 20]) < 0.02
        assert meta["NominalSamplingFrequency"] == 50.0


def test_the_disconnect_stays_a_gap(bids):
    gap = slice(int((GAP_S[0] + 1) * 25), int((GAP_S[1] - 1) * 25))
    meta_b, b = read_physio(bids, "02", "aligned")
    meta_a, a = read_physio(bids, "01", "aligned")
    assert meta_a["StartTime"] == meta_b["StartTime"]  # one grid for both people
    assert np.isnan(b[gap, :2]).all() and np.isfinite(a[gap, :2]).all()
    _, raw_b = read_physio(bids, "02", "raw")
    missing = np.isnan(raw_b[:, 0]).sum()
    assert missing == (GAP_S[1] - GAP_S[0]) * FS_HZ  # every sample of the lost frames
    gaps = json.loads((bids / (PHYSIO.format(n="02", rec="raw") + ".json")).read_text())["Gaps"]
    assert [(start, end - start) for start, end in gaps] == [LISTED_GAP]


def test_events_hold_markers_and_gaps(bids):
    lines = (bids / "sub-02/beh/sub-02_task-rapport_events.tsv").read_text().splitlines()
    assert lines[0].split("\t") == ["onset", "duration", "trial_type", "value"]
    rows = [line.split("\t") for line in lines[1:]]
    markers = [(float(r[0]), r[3]) for r in rows if r[2] == "marker"]
    assert [label for _, label in markers] == [label for _, label in MARKERS]
    assert np.allclose([t for t, _ in markers], [t for t, _ in MARKERS], atol=MARKER_SLACK_S)
    gaps = [(float(r[0]), float(r[1])) for r in rows if r[2] == "gap"]
    assert gaps == [LISTED_GAP]


def test_only_pseudonyms_unless_labels_are_asked_for(bids, gapped_session, tmp_path):
    def all_text(root: Path) -> str:
        return "".join((gzip.open(f, "rt").read() if f.suffix == ".gz" else f.read_text())
                       for f in root.rglob("*") if f.is_file())

    assert "Ann" not in all_text(bids) and "Ben" not in all_text(bids)
    assert (bids / "participants.tsv").read_text().splitlines()[1:] == [
        "sub-01\tdyad-01\tA", "sub-02\tdyad-01\tB"]
    labelled = tmp_path / "labelled"
    export_session(gapped_session.path, "bids", labelled, with_labels=True)
    assert (labelled / "sub-AnnExample").is_dir()
    assert "Ann Example" in (labelled / "participants.tsv").read_text()


def test_labels_with_accents_make_readable_ids() -> None:
    """BIDS ids allow letters and digits only: "Zoë Müller" was "sub-ZoMller"."""
    from rapport_sync.export.aligned import person_ids

    ids = person_ids({"a": {"label": "Zoë Müller"}, "b": {"label": "Łukasz Weiß"}}, True)
    assert ids == {"a": "sub-ZoeMuller", "b": "sub-LukaszWeiss"}
    assert person_ids({"a": {"label": "李雷"}, "b": {"label": "Ben"}}, True) == {
        "a": "sub-01", "b": "sub-02"}  # nothing left of one label: the pseudonyms


def test_synchrony_derivative_has_one_row_per_window(bids, gapped_session):
    rows = (bids / "derivatives/rapport_sync/dyad_task-rapport_synchrony.tsv").read_text()
    lines = rows.splitlines()
    assert len(lines) - 1 == len(gapped_session.pipeline.sync_history)
    header = lines[0].split("\t")
    late = [dict(zip(header, line.split("\t"))) for line in lines[1:]]
    late = [r for r in late if float(r["time_s"]) > 120]
    # the coupled script: locked at its lag, above the live chance band nearly always (the
    # zero-lag PLV is lower: the lag and the two breath shapes turn the phase difference)
    assert np.median([float(r["lag_plv"]) for r in late]) > 0.85
    assert np.median([float(r["plv"]) for r in late]) > 0.6
    assert np.mean([r["above_chance"] == "1" for r in late]) > 0.9
    # the coupled script: A leads by about 1.2 s
    assert np.mean([r["leader"] == "a" for r in late]) > 0.8
    assert np.median([float(r["lag_s"]) for r in late]) == pytest.approx(1.2, abs=0.6)


def test_the_files_returned_are_the_ones_written(bids, gapped_session, tmp_path):
    """"wrote N files" counted every file under --out, an earlier dataset's included."""
    out = tmp_path / "dataset"
    export_session(gapped_session.path, "bids", out / "older")
    (out / "notes.txt").write_text("the researcher's own file")
    paths = export_session(gapped_session.path, "bids", out)
    written = sorted(p.relative_to(bids) for p in bids.rglob("*") if p.is_file())
    assert len(written) == 21
    assert [p.relative_to(out) for p in paths] == written


def bids_validator() -> list[str] | None:
    """The bids-validator 1.x command, if Node.js and the validator are installed.

    Looked for: ``$BIDS_VALIDATOR``, ``bids-validator`` on PATH, then the cache
    ``${XDG_CACHE_HOME:-~/.cache}/rapport_sync/node_modules/.bin/bids-validator``
    (``npm install --prefix ~/.cache/rapport_sync bids-validator@1`` puts it there).
    """
    if shutil.which("node") is None:
        return None
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rapport_sync"
    for candidate in (os.environ.get("BIDS_VALIDATOR"), shutil.which("bids-validator"),
                      str(cache / "node_modules" / ".bin" / "bids-validator")):
        if candidate and Path(candidate).exists():
            return [candidate]
    return None


def test_bids_validator_accepts_the_dataset(bids):
    command = bids_validator()
    if command is None:
        pytest.skip("bids-validator 1.x not installed (needs Node.js; install with "
                    "'npm install --prefix ~/.cache/rapport_sync bids-validator@1' "
                    "or set BIDS_VALIDATOR)")
    version = subprocess.run(command + ["--version"], check=False, capture_output=True, text=True,
                             timeout=60).stdout.strip()
    if not version.startswith("1."):
        pytest.skip(f"bids-validator {version} found; this test is written for 1.x")
    result = subprocess.run(command + ["--json", str(bids)], check=False, capture_output=True, text=True,
                            timeout=120)
    report = json.loads(result.stdout)
    errors = [e["key"] for e in report["issues"]["errors"]]
    assert errors == [], errors
    assert result.returncode == 0
