"""CSV export: documented columns, empty cells in gaps, per-window metrics, the CLI."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest
from conftest import cli, small_disk
from export_sessions import FS_HZ, GAP_S

from rapport_sync.cli import main
from rapport_sync.errors import StoreError
from rapport_sync.export import export_session
from rapport_sync.export.columns import SYNC_COLUMNS
from rapport_sync.export.edf import check_complete


@pytest.fixture(scope="module")
def csv_dir(gapped_session, tmp_path_factory):
    out = tmp_path_factory.mktemp("csv")
    assert main(["export", str(gapped_session.path), "--format", "csv", "--out", str(out)]) == 0
    return out


def rows(path):  # type: ignore[no-untyped-def]
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_aligned_columns_are_documented_and_gaps_are_empty(csv_dir):
    table = rows(csv_dir / "aligned.csv")
    meta = json.loads((csv_dir / "metadata.json").read_text())
    assert list(table[0]) == list(meta["columns"]["aligned.csv"])
    assert list(table[0])[:5] == ["time", "a_resp", "a_resp_filtered", "a_phase", "a_hr"]
    inside = [r for r in table if GAP_S[0] + 1 < float(r["time"]) < GAP_S[1] - 1]
    assert len(inside) == pytest.approx((GAP_S[1] - GAP_S[0] - 2) * 25, abs=2)
    assert all(r["b_resp"] == "" and r["b_resp_filtered"] == "" for r in inside)
    assert all(r["a_resp"] != "" for r in inside)
    t = np.array([float(r["time"]) for r in table])
    assert np.allclose(np.diff(t), 0.04)


def test_raw_files_keep_rows_for_missing_samples(csv_dir):
    raw_b = rows(csv_dir / "raw_sub-02.csv")
    empty = [r for r in raw_b if r["value"] == ""]
    assert len(empty) == (GAP_S[1] - GAP_S[0]) * FS_HZ  # every sample of the lost frames
    assert {r["participant"] for r in rows(csv_dir / "gaps.csv")} == {"sub-02"}


def test_synchrony_has_every_window_and_the_pseudonyms_only(csv_dir, gapped_session):
    sync = rows(csv_dir / "synchrony.csv")
    assert list(sync[0]) == [name for name, _, _ in SYNC_COLUMNS]
    assert len(sync) == len(gapped_session.pipeline.sync_history)
    late = [r for r in sync if float(r["time_s"]) > 120]  # the coupled script: locked at a lag
    assert np.median([float(r["lag_plv"]) for r in late]) > 0.85
    assert np.mean([r["above_chance"] == "1" for r in late]) > 0.9
    text = "".join(p.read_text() for p in csv_dir.iterdir())
    assert "Ann" not in text and "Ben" not in text


def test_synchrony_says_who_leads_as_the_monitor_does(csv_dir, gapped_session):
    """`leader` is the lag scan's; `lead` is the reading the monitor and the report show:
    A leads the coupled script by about 0.4 of a breath, so many windows are "unclear"
    (either could be ahead) where the scan names A, and none names B."""
    from rapport_sync.dsp.sync import lead

    sync = rows(csv_dir / "synchrony.csv")
    readings = [lead(s) for s in gapped_session.pipeline.sync_history]
    assert [r["lead"] for r in sync] == [
        "unclear" if x.half_breath else x.leader for x in readings]
    late = [r for r in sync if float(r["time_s"]) > 120]
    assert {r["lead"] for r in late} <= {"a", "unclear"}
    assert all(r["leader"] == "a" for r in late if r["lead"] == "unclear")
    assert sum(r["lead"] == "unclear" for r in sync) > 0


@pytest.mark.parametrize("fmt", ["csv", "edf", "bids"])
def test_an_output_that_cannot_be_written_is_a_store_error(gapped_session, tmp_path, fmt):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match=f"cannot write the export to {tmp_path}"):
        export_session(gapped_session.path, fmt, blocker / "sub" / "out")
    assert blocker.read_text() == "not a folder"


def files_in(folder):  # type: ignore[no-untyped-def]
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("earlier", [False, True], ids=["new", "over-an-earlier-export"])
@pytest.mark.parametrize("fmt", ["csv", "edf", "bids"])
def test_a_full_disk_writes_nothing_and_says_so_in_one_line(gapped_session, tmp_path, fmt,
                                                           earlier):
    """No file may grow past 48 kB: a real failed write, as on a full disk. Each format has
    larger files (aligned.csv 366 kB, each EDF 56 kB, the aligned BIDS physio 73 kB), so
    the export fails part way. EDF used to say "wrote 2 files" with a truncated file; CSV
    and BIDS left truncated files that looked valid."""
    out = tmp_path / "out"
    if earlier:
        export_session(gapped_session.path, fmt, out)
        (out / "notes.txt").write_text("the researcher's own file")
    before = files_in(out) if earlier else {}
    run = cli("export", str(gapped_session.path), "--format", fmt, "--out", str(out),
              preexec_fn=small_disk(48_000))
    assert run.returncode == 1 and run.stdout == ""
    first_big = {"csv": "aligned.csv", "edf": "sub-01_task-rapport.edf",
                 "bids": "sub-01/beh/sub-01_task-rapport_recording-aligned_physio.tsv.gz"}[fmt]
    assert run.stderr == (f"rapport-sync: error: cannot write the export to {out}: file too "
                          "large (the disk's or the process's file-size limit) while writing "
                          f"{out / first_big}; nothing was written\n")
    assert files_in(out) == before if earlier else not out.exists()


def test_an_export_never_replaces_the_session_it_reads(gapped_session, tmp_path):
    session = tmp_path / "aligned.csv"  # a session under the name of an export file
    session.write_bytes(gapped_session.path.read_bytes())
    with pytest.raises(StoreError, match=f"{session} is the session being exported"):
        export_session(session, "csv", tmp_path)
    assert session.read_bytes() == gapped_session.path.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["aligned.csv"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
@pytest.mark.parametrize("fmt", ["csv", "edf", "bids"])
def test_a_read_only_folder_is_permission_denied(gapped_session, tmp_path, fmt):
    """EDF said "can not open file, no such file or directory" (pyedflib's message)."""
    out = tmp_path / "read-only"
    out.mkdir(mode=0o555)
    with pytest.raises(StoreError, match=f"cannot write the export to {out}: Permission "
                       "denied while writing"):
        export_session(gapped_session.path, fmt, out)
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("keep", [40_000, 300], ids=["in-the-data", "in-the-header"])
def test_an_edf_file_cut_short_is_found(gapped_session, tmp_path, keep):
    """edflib reports no failed write: the file is checked against its own header."""
    export_session(gapped_session.path, "edf", tmp_path)
    path = tmp_path / "sub-01_task-rapport.edf"
    check_complete(path)
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(OSError, match=f"the EDF writer stopped after {keep} bytes"):
        check_complete(path)


def test_analysing_the_exported_csv_agrees_with_analysing_the_session(csv_dir, gapped_session,
                                                                       capsys):
    """A researcher who re-analyses the exported aligned.csv gets the session's numbers:
    both go through the same pipeline and the same gap rule (B's 10-s drop included)."""
    results = []
    for source in (gapped_session.path, csv_dir / "aligned.csv"):
        assert main(["analyze", str(source), "--json", "--surrogates", "20"]) == 0
        results.append(json.loads(capsys.readouterr().out))
    session, exported = results
    meta = json.loads((csv_dir / "metadata.json").read_text())
    assert meta["participants"]["a"]["raw_rate_hz"] == 50.0  # what analyze now reads
    # the CSV holds the session's grid samples to 6-7 significant digits: the same input
    # but for rounding, which can move a gating decision here and there
    for key in ("plv", "ppc", "alignment", "mean_windowed_plv"):
        assert exported[key] == pytest.approx(session[key], abs=0.02), (key, session, exported)
    assert exported["mean_relative_phase_deg"] == pytest.approx(
        session["mean_relative_phase_deg"], abs=3.0)
    assert exported["leader"] == session["leader"] == "a"
    assert exported["lag_s"] == pytest.approx(session["lag_s"], abs=0.21)  # one 5-Hz lag step
    # session rates count inhalation onsets over ~140 s: rounding can move one onset near
    # B's restart after the gap across the detector's threshold, 60/140 = 0.43 breaths/min
    for rate in ("rate_a_bpm", "rate_b_bpm"):
        assert exported[rate] == pytest.approx(session[rate], abs=0.5)
