"""CSV export: plain comma-separated files with a header line, empty cells for gaps.

Files (``<id>`` is the participant id, ``sub-01`` / ``sub-02`` unless labels were asked for):

- ``aligned.csv``: the common grid. ``time`` (session s), then per person ``a_resp``,
  ``a_resp_filtered``, ``a_phase``, ``a_hr`` and the same for ``b`` (units and meaning in
  ``metadata.json``). It is a valid input of ``rapport-sync analyze``.
- ``raw_<id>.csv``: ``time_s`` and ``value`` (or ``acc_x,acc_y,acc_z``) at the device's
  native rate; missing samples keep their row with empty values.
- ``beats_<id>.csv``: ``time_s``, ``rr_s``, ``rr_corrected_s``.
- ``synchrony.csv``: the synchrony metrics per window (columns as in ``metadata.json``).
- ``markers.csv`` (``time_s``, ``label``), ``gaps.csv`` (``participant``, ``start_s``,
  ``end_s``), ``events.csv`` (device events).
- ``metadata.json``: participants, clock alignment per device, settings, column docs.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from .. import __version__
from .aligned import AlignedSession
from .columns import ALIGNED_COLUMNS, SYNC_COLUMNS, format_table, json_safe, sync_rows
from .staging import StagedFiles

__all__ = ["write_csv"]

_SHORT = {"respiratory": "resp", "respiratory_filtered": "resp_filtered",
          "breathing_phase": "phase", "heart_rate": "hr"}


def _write(stage: StagedFiles, path: Path, header: list[str], rows: list[list[str]]) -> None:
    with stage.open(path, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def write_csv(session: AlignedSession, out: Path) -> list[Path]:
    """Write the CSV files listed in the module docstring into ``out``, all or none
    (:mod:`~rapport_sync.export.staging`); returns them."""
    with StagedFiles(out, "the export", protect=session.source_path) as stage:
        stage.folder(out)
        _write_files(stage, session, out)
        return stage.commit()


def _write_files(stage: StagedFiles, session: AlignedSession, out: Path) -> None:
    header = ["time"]
    columns = [session.grid_time_s]
    for p, person in session.people.items():
        header += [f"{p}_{_SHORT[name]}" for name, _, _ in ALIGNED_COLUMNS]
        columns += [person.grid_resp_raw, person.grid_resp, person.grid_phase,
                    person.grid_hr_bpm]
    _write(stage, out / "aligned.csv", header, format_table(np.column_stack(columns), na=""))
    for person in session.people.values():
        pid = person.participant_id
        if person.raw.size:
            t = person.raw_start_s + np.arange(len(person.raw)) / person.raw_fs_hz
            cols = ["acc_x", "acc_y", "acc_z"] if person.raw.ndim == 2 else ["value"]
            _write(stage, out / f"raw_{pid}.csv", ["time_s", *cols],
                   format_table(np.column_stack([t, person.raw]), na=""))
        beats = np.column_stack([person.beat_time_s, person.rr_s, person.rr_corrected_s])
        _write(stage, out / f"beats_{pid}.csv", ["time_s", "rr_s", "rr_corrected_s"],
               format_table(beats, na=""))
    _write(stage, out / "synchrony.csv", [n for n, _, _ in SYNC_COLUMNS],
           format_table(sync_rows(session), na=""))
    _write(stage, out / "markers.csv", ["time_s", "label"],
           [[f"{t:.4f}", label] for t, label in session.markers])
    _write(stage, out / "gaps.csv", ["participant", "start_s", "end_s"],
           [[p.participant_id, f"{a:.4f}", f"{b:.4f}"]
            for p in session.people.values() for a, b in p.gaps])
    _write(stage, out / "events.csv", ["time_s", "device", "kind", "detail"],
           [[f"{t:.4f}", d, k, text] for t, d, k, text in session.events])
    meta = {
        "software": f"rapport_sync {__version__}",
        "time_base": "session seconds: 0 = session start on the host clock",
        "started_utc": session.started_utc,
        "participants": {p: {"participant_id": x.participant_id, "role": p.upper(),
                             **({"label": x.label} if x.label else {}),
                             "breathing_source": x.kind, "device": x.device,
                             "raw_rate_hz": x.raw_rate_hz, "raw_fs_on_session_clock_hz":
                             x.raw_fs_hz} for p, x in session.people.items()},
        "clock_alignment": session.clock,
        "settings": session.settings,
        "grid_rate_hz": session.fs,
        "columns": {
            "aligned.csv": {"time": {"description": "session seconds", "units": "s"},
                            **{f"{p}_{_SHORT[n]}": {"description": d, "units": u}
                               for p in session.people for n, d, u in ALIGNED_COLUMNS}},
            "synchrony.csv": {n: {"description": d, "units": u} for n, d, u in SYNC_COLUMNS},
        },
        "gaps": "empty cells; nothing is interpolated across a gap",
    }
    stage.write_text(out / "metadata.json",
                     json.dumps(json_safe(meta), indent=2, allow_nan=False) + "\n")
