"""BIDS export: physiological recordings, events and participants of one dyad session.

Layout (BIDS 1.9 "physiological recordings"; both people share ``task`` and the session
clock, so their files line up)::

    dataset_description.json  participants.tsv  participants.json  README
    sub-01/beh/sub-01_task-rapport_recording-raw_physio.tsv.gz + .json      native rate
    sub-01/beh/sub-01_task-rapport_recording-aligned_physio.tsv.gz + .json  common grid
    sub-01/beh/sub-01_task-rapport_events.tsv + .json                       markers, gaps
    derivatives/rapport_sync/dataset_description.json
    derivatives/rapport_sync/sub-01/beh/sub-01_task-rapport_beats.tsv       beats, RR
    derivatives/rapport_sync/dyad_task-rapport_synchrony.tsv + .json        per window

Physio TSVs are gzip-compressed without a header line (names are in the JSON
``Columns``); missing samples are ``n/a``. ``StartTime`` is the first sample's time in
session seconds, the same reference for both people. How each device's clock was mapped
to the session clock, and its residual, is in ``ClockAlignment`` of every physio JSON.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from .aligned import AlignedSession, PersonExport
from .columns import ALIGNED_COLUMNS, SYNC_COLUMNS, format_table, json_safe, sync_rows
from .staging import StagedFiles

__all__ = ["TASK", "write_bids"]

TASK = "rapport"
BIDS_VERSION = "1.9.0"
_RAW_UNITS = {"belt": "a.u.", "acc": "mg"}


def _write_json(stage: StagedFiles, path: Path, obj: dict[str, Any]) -> None:
    stage.write_text(path, json.dumps(json_safe(obj), indent=2, allow_nan=False) + "\n")


def _write_physio(stage: StagedFiles, stem: Path, values: np.ndarray, fs: float, start_s: float,
                  columns: dict[str, tuple[str, str]], extra: dict[str, Any]) -> None:
    table = format_table(values, na="n/a")
    path = stem.with_name(stem.name + "_physio.tsv.gz")
    # the gzip header names the file: the final name, not the temporary one written to
    with stage.open(path, "wb") as raw, gzip.GzipFile(path.name, "wb", fileobj=raw) as gz:
        gz.write("".join("\t".join(row) + "\n" for row in table).encode())
    sidecar: dict[str, Any] = {"SamplingFrequency": fs, "StartTime": start_s,
                               "Columns": list(columns)}
    sidecar.update({name: {"Description": d, "Units": u} for name, (d, u) in columns.items()})
    sidecar.update(extra)
    _write_json(stage, stem.with_name(stem.name + "_physio.json"), sidecar)


def _person(stage: StagedFiles, out: Path, session: AlignedSession,
            person: PersonExport) -> None:
    sub = person.participant_id
    stem = out / sub / "beh" / f"{sub}_task-{TASK}"
    clock = session.clock.get(person.device, {})
    common = {"Manufacturer": clock.get("description", ""),
              "ClockAlignment": {"Device": person.device, **clock},
              "Gaps": [[round(a, 4), round(b, 4)] for a, b in person.gaps]}
    if person.raw.size:
        kind = person.kind
        if person.raw.ndim == 2:
            cols = {f"acc_{axis}": (f"chest acceleration, {axis} axis (breathing source)", "mg")
                    for axis in "xyz"}
        else:
            cols = {"respiratory": (f"breathing signal as the device sent it ({kind})",
                                    _RAW_UNITS.get(kind, "a.u."))}
        _write_physio(stage, stem.with_name(stem.name + "_recording-raw"), person.raw,
                      person.raw_fs_hz, person.raw_start_s, cols,
                      {**common, "NominalSamplingFrequency": person.raw_rate_hz,
                       "SamplingFrequencyNote": "the device's nominal rate divided by "
                       "(1 + drift) of its clock fit: the rate on the session clock"})
    grid = np.column_stack([person.grid_resp_raw, person.grid_resp, person.grid_phase,
                            person.grid_hr_bpm])
    cols = {name: (desc, unit) for name, desc, unit in ALIGNED_COLUMNS}
    _write_physio(stage, stem.with_name(stem.name + "_recording-aligned"), grid, session.fs,
                  float(session.grid_time_s[0]) if session.grid_time_s.size else 0.0, cols,
                  {**common, "Resampling": "linear interpolation of the raw samples onto "
                   "the common grid, never across a gap; heart rate held from the last "
                   "beat for at most 3 s"})
    _events(stage, stem, session, person)
    deriv = out / "derivatives" / "rapport_sync" / sub / "beh"
    beats = np.column_stack([person.beat_time_s, person.rr_s, person.rr_corrected_s])
    rows = [["onset", "rr_s", "rr_corrected_s"]] + format_table(beats, na="n/a")
    stage.write_text(deriv / f"{sub}_task-{TASK}_beats.tsv",
                     "".join("\t".join(r) + "\n" for r in rows))


def _events(stage: StagedFiles, stem: Path, session: AlignedSession,
            person: PersonExport) -> None:
    rows = [(t, 0.0, "marker", label) for t, label in session.markers]
    rows += [(a, b - a, "gap", "no samples (disconnect or lost data)") for a, b in person.gaps]
    rows.sort()
    lines = ["onset\tduration\ttrial_type\tvalue\n"]
    lines += [f"{t:.4f}\t{d:.4f}\t{kind}\t{_tsv_text(text) or 'n/a'}\n" for t, d, kind, text in rows]
    stage.write_text(stem.with_name(stem.name + "_events.tsv"), "".join(lines))
    _write_json(stage, stem.with_name(stem.name + "_events.json"), {
        "onset": {"Description": "session seconds (the physio files' time base)", "Units": "s"},
        "trial_type": {"Description": "marker: set by the operator; gap: no samples",
                       "Levels": {"marker": "operator marker", "gap": "missing data"}},
        "value": {"Description": "marker text, or what the gap is"}})


def _tsv_text(text: str) -> str:
    return " ".join(str(text).replace("\t", " ").split())


def write_bids(session: AlignedSession, out: Path) -> list[Path]:
    """Write the dataset into ``out`` (created; existing files are replaced), all or none
    (:mod:`~rapport_sync.export.staging`); returns the files written, not others in ``out``."""
    with StagedFiles(out, "the export", protect=session.source_path) as stage:
        stage.folder(out)
        _write_dataset(stage, session, out)
        return sorted(stage.commit())


def _write_dataset(stage: StagedFiles, session: AlignedSession, out: Path) -> None:
    _write_json(stage, out / "dataset_description.json", {
        "Name": "rapport_sync dyad session", "BIDSVersion": BIDS_VERSION, "DatasetType": "raw",
        "GeneratedBy": [{"Name": "rapport_sync", "Version": __version__}]})
    stage.write_text(out / "README", (
        "Breathing and heart rate of two people (a dyad) recorded with rapport_sync.\n"
        "Both participants' files share one time base (session seconds); see each "
        "_physio.json for the clock alignment and docs/researcher-guide.md of rapport_sync.\n"))
    has_label = any(p.label for p in session.people.values())
    header = "participant_id\tdyad_id\trole" + ("\tlabel" if has_label else "") + "\n"
    lines = [header] + [
        f"{p.participant_id}\tdyad-01\t{p.person.upper()}"
        + (f"\t{_tsv_text(p.label or '') or 'n/a'}" if has_label else "") + "\n"
        for p in session.people.values()]
    stage.write_text(out / "participants.tsv", "".join(lines))
    _write_json(stage, out / "participants.json", {
        "dyad_id": {"Description": "the pair the participant was recorded in"},
        "role": {"Description": "seat in the session", "Levels": {"A": "person A",
                                                                    "B": "person B"}}})
    for person in session.people.values():
        _person(stage, out, session, person)
    deriv = out / "derivatives" / "rapport_sync"
    _write_json(stage, deriv / "dataset_description.json", {
        "Name": "rapport_sync synchrony", "BIDSVersion": BIDS_VERSION,
        "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "rapport_sync", "Version": __version__}],
        "Settings": session.settings})
    rows = sync_rows(session)
    text = "\t".join(name for name, _, _ in SYNC_COLUMNS) + "\n"
    text += "".join("\t".join(r) + "\n" for r in format_table(rows, na="n/a"))
    stage.write_text(deriv / f"dyad_task-{TASK}_synchrony.tsv", text)
    _write_json(stage, deriv / f"dyad_task-{TASK}_synchrony.json", {
        name: {"Description": d, "Units": u} for name, d, u in SYNC_COLUMNS})
