"""EDF+ export (pyedflib): one file per person, every channel on the session clock.

Channels (label, physical dimension):

- ``Resp chest`` (a.u.; accelerometer: ``Resp acc x/y/z``, mg): the raw breathing signal at the
  device's nominal rate, resampled from the device clock to the session clock (linear,
  less than one sample of shift, never across a gap);
- ``Resp filtered`` (a.u.), ``Resp phase`` (rad), ``HR`` (bpm): the common analysis grid.

Data records last as many whole seconds as every channel needs for a whole number of
samples (:func:`record_duration_s`: 2 s for a 12.5-Hz belt), so no rate is rounded.

Data start at session second 0 (the header's start time, to the second, is the session
start in UTC; EDF+ keeps no sub-second start). EDF cannot hold NaN: in gaps every sample
holds the channel's physical minimum (``GAP_FILL`` = digital minimum -32768, just below
every real value), and an annotation ``gap`` with the gap's duration covers it; the last
data record is filled likewise after the annotation ``session end``. Markers are
annotations ``marker: <text>``; the clock alignment is an annotation at 0 s too.

Header fields hold printable ASCII without spaces (EDF+); a label written as the patient
name (``with_labels``) is transliterated by :func:`edf_header_text`.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import warnings
from pathlib import Path

import numpy as np

from ..dsp.resample import gap_step_s, interp_with_gaps
from .aligned import AlignedSession, PersonExport, latin_letters
from .staging import StagedFiles, ctrl_c_waits

__all__ = ["GAP_FILL_DIGITAL", "check_complete", "edf_header_text", "record_duration_s",
           "write_edf"]

GAP_FILL_DIGITAL = -32768
_DIGITAL = (-32768, 32767)
MAX_RECORD_S = 60  # the longest data record pyedflib writes


def edf_header_text(text: str, max_len: int = 80) -> str:
    """``text`` as an EDF+ header subfield: printable ASCII, no spaces, at most ``max_len``.

    Accents are dropped (NFKD, then the combining marks: "Zoë Müller" -> "Zoe_Muller"),
    a few Latin letters are spelled out ("ß" -> "ss"), spaces become "_" (EDF+ separates
    subfields with spaces) and any other character "_". Text with no letter or digit
    left is "X", EDF+'s "unknown".
    """
    ascii_text = "".join(c if 32 < ord(c) < 127 else "_" for c in latin_letters(text))[:max_len]
    return ascii_text if any(c.isalnum() for c in ascii_text) else "X"


def _edf_number(x: float, up: bool) -> float:
    """``x`` rounded outward to a number the 8-character EDF header field holds exactly."""
    for decimals in range(6, -1, -1):
        scale = 10.0 ** decimals
        v = (np.ceil(x * scale) if up else np.floor(x * scale)) / scale
        if len(f"{v:.{decimals}f}".rstrip("0").rstrip(".")) <= 8:
            return float(f"{v:.{decimals}f}")
    raise ValueError(f"{x} does not fit an EDF header")


def _range(x: np.ndarray) -> tuple[float, float]:
    """Physical min/max: all real values, with the digital minimum left free for gaps."""
    ok = x[np.isfinite(x)]
    lo, hi = (float(ok.min()), float(ok.max())) if ok.size else (-1.0, 1.0)
    span = max(hi - lo, 1e-3)
    lsb = span / 65535
    return _edf_number(lo - 3 * lsb, up=False), _edf_number(hi + lsb, up=True)


def _digital(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Physical values to 16-bit samples; NaN (a gap) becomes ``GAP_FILL_DIGITAL``."""
    span = _DIGITAL[1] - _DIGITAL[0]
    d = np.round((x - lo) / (hi - lo) * span + _DIGITAL[0])
    d = np.clip(np.nan_to_num(d, nan=GAP_FILL_DIGITAL), GAP_FILL_DIGITAL + 1, _DIGITAL[1])
    return np.where(np.isfinite(x), d, GAP_FILL_DIGITAL).astype(np.int32)


def record_duration_s(rates_hz: list[float]) -> int:
    """The EDF data-record duration for channels at ``rates_hz``: whole seconds, 1-60.

    The shortest in which every rate has a whole number of samples per record: 1 s for
    whole rates, 2 s for 12.5 Hz (25 samples), 16 s for 7.8125 Hz. When none up to 60 s
    fits (33.3 Hz, say), the one whose whole sample counts come closest to the rates.
    """
    def misfit_hz(record_s: int) -> float:
        return round(max(abs(round(f * record_s) - f * record_s) / record_s
                         for f in rates_hz), 9)
    return min(range(1, MAX_RECORD_S + 1), key=misfit_hz)  # the shortest of the best


def _channels(session: AlignedSession, person: PersonExport
              ) -> tuple[int, list[tuple[str, str, float, np.ndarray, str]]]:
    """The record duration (s) and (label, dimension, rate, samples from session 0 to the
    last record's end, prefilter) of each channel of one person."""
    has_raw = bool(person.raw.size) and np.isfinite(person.raw_rate_hz) and person.raw_rate_hz > 0
    record_s = record_duration_s([session.fs] + ([person.raw_rate_hz] if has_raw else []))
    n_records = max(1, int(np.ceil(session.duration_s / record_s)))

    def edf_rate(rate_hz: float) -> tuple[float, int]:  # the rate written, its sample count
        per_record = round(rate_hz * record_s)
        return per_record / record_s, per_record * n_records

    chans = []
    if has_raw:
        raw_fs, n_raw = edf_rate(person.raw_rate_hz)
        t = person.raw_start_s + np.arange(len(person.raw)) / person.raw_fs_hz
        at = np.arange(n_raw) / raw_fs
        max_step = gap_step_s(person.raw_rate_hz)
        if person.raw.ndim == 2:
            for axis in range(person.raw.shape[1]):
                chans.append((f"Resp acc {'xyz'[axis]}", "mg", raw_fs,
                              interp_with_gaps(at, t, person.raw[:, axis], max_step), "none"))
        else:
            chans.append(("Resp chest", "a.u.", raw_fs,
                          interp_with_gaps(at, t, person.raw, max_step),
                          "none (device signal)"))
    fs, n = edf_rate(session.fs)
    first = round(session.grid_time_s[0] * fs) if session.grid_time_s.size else 0

    def grid(x: np.ndarray) -> np.ndarray:
        out = np.full(n, np.nan)
        lo, hi = max(first, 0), min(first + len(x), n)
        if hi > lo:
            out[lo:hi] = x[lo - first:hi - first]
        return out

    chans += [("Resp filtered", "a.u.", fs, grid(person.grid_resp), "causal band-pass"),
              ("Resp phase", "rad", fs, grid(person.grid_phase), "causal phase"),
              ("HR", "bpm", fs, grid(person.grid_hr_bpm), "RR corrected, held 3 s")]
    return record_s, chans


def _write_person(path: Path, session: AlignedSession, person: PersonExport) -> None:
    """Write ``path`` and check that it came out whole (:func:`check_complete`)."""
    import pyedflib

    record_s, chans = _channels(session, person)
    with ctrl_c_waits():  # interrupted inside, the writer's __del__ prints a traceback
        writer = pyedflib.EdfWriter(str(path), len(chans), file_type=pyedflib.FILETYPE_EDFPLUS)
    try:
        headers: list[dict[str, str | int | float | None]] = []
        data = []
        for label, dim, fs, x, prefilter in chans:
            lo, hi = _range(np.array([-np.pi, np.pi]) if dim == "rad" else x)
            headers.append({"label": label, "dimension": dim, "sample_frequency": fs,
                            "physical_min": lo, "physical_max": hi,
                            "digital_min": _DIGITAL[0], "digital_max": _DIGITAL[1],
                            "transducer": "breathing belt" if label.startswith("Resp c")
                            else "", "prefilter": prefilter})
            data.append(_digital(x, lo, hi))
        writer.setSignalHeaders(headers)
        with warnings.catch_warnings():  # its warning is for durations the rates do not fit
            warnings.filterwarnings("ignore", "Forcing a specific record_duration")
            writer.setDatarecordDuration(record_s)
        writer.setPatientCode(person.participant_id)
        if person.label:  # the patient subfields share 80 characters with 15 of separators,
            # sex and birth date (pyedflib warns past that)
            writer.setPatientName(edf_header_text(
                person.label, max_len=80 - 15 - len(person.participant_id)))
        writer.setEquipment("rapport_sync")
        try:
            start = dt.datetime.fromisoformat(session.started_utc).replace(tzinfo=None)
            writer.setStartdatetime(start.replace(microsecond=0))
        except ValueError:
            pass
        writer.writeSamples(data, digital=True)
        for t, label in session.markers:
            writer.writeAnnotation(float(t), -1, f"marker: {label}"[:40])
        for a, b in person.gaps:
            writer.writeAnnotation(float(a), float(b - a), "gap")
        writer.writeAnnotation(float(session.duration_s), -1, "session end")
        clock = session.clock.get(person.device, {})
        if "drift_ppm" in clock:
            writer.writeAnnotation(0.0, -1, f"clock drift {clock['drift_ppm']:.1f} ppm "
                                   f"resid {clock['residual_s'] * 1e3:.2f} ms"[:40])
    finally:
        writer.close()
    check_complete(path)


def check_complete(path: Path) -> None:
    """Raise ``OSError`` unless the EDF file at ``path`` is as long as its header says.

    edflib writes through C stdio and reports no failed write: on a full disk or past a
    file-size limit it leaves a truncated file and says nothing. The missing bytes are
    then written once more here, so the error carries the system's reason (disk full,
    file too large); should that write succeed, the error says where the file ends.
    """
    size = path.stat().st_size
    declared = -1
    with path.open("rb") as fh:
        head = fh.read(256)
        try:
            n_signals = int(head[252:256])
            fh.seek(256 + 216 * n_signals)  # the samples-per-record fields, 8 bytes each
            per_record = sum(int(fh.read(8)) for _ in range(n_signals))
            declared = int(head[184:192]) + int(head[236:244]) * 2 * per_record
        except ValueError:  # the header itself is cut short
            pass
    if size == declared:
        return
    with path.open("r+b") as fh:
        fh.seek(size)
        fh.write(bytes(declared - size if declared > size else 1 << 16))
        fh.flush()
        os.fsync(fh.fileno())
    raise OSError(errno.EIO, f"the EDF writer stopped after {size} bytes", str(path))


def write_edf(session: AlignedSession, out: Path) -> list[Path]:
    """Write ``<participant>_task-rapport.edf`` per person into ``out``, both or none
    (:mod:`~rapport_sync.export.staging`); returns them."""
    import pyedflib  # noqa: F401 - loaded before any file exists: Ctrl-C inside an import is lost

    with StagedFiles(out, "the export", protect=session.source_path) as stage:
        stage.folder(out)
        for person in session.people.values():
            final = out / f"{person.participant_id}_task-rapport.edf"
            _write_person(stage.path(final), session, person)
        return stage.commit()
