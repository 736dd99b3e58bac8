"""Research exports of a stored session: BIDS, EDF+ and CSV, plus the HTML report and LSL outlets.

``rapport-sync export SESSION --format bids|edf|csv --out DIR`` runs :func:`run_export`;
:func:`export_session` is the same from Python. Every format carries both people on the
session clock, pseudonymous participant ids unless ``with_labels`` is set, and gaps as
gaps (see docs/researcher-guide.md).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..errors import ConfigError

__all__ = ["FORMATS", "export_session", "run_export"]

FORMATS = ("bids", "edf", "csv")


def export_session(session: str | os.PathLike[str], fmt: str, out: str | os.PathLike[str],
                   with_labels: bool = False) -> list[Path]:
    """Export a session file; returns the files written.

    Parameters
    ----------
    session : path
        A ``.rapport`` session file (a crashed session exports what was stored).
    fmt : {"bids", "edf", "csv"}
        Output format.
    out : path
        Output directory (created). Its files are written whole or not at all: on a full
        disk, any other write error or an interrupt nothing in it changes
        (:mod:`~rapport_sync.export.staging`).
    with_labels : bool
        Write the labels typed in the monitor instead of ``sub-01``/``sub-02``.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; one of {', '.join(FORMATS)}")
    from .aligned import load_aligned

    aligned = load_aligned(session, with_labels=with_labels)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} exists and is not a directory")
    if fmt == "bids":
        from .bids import write_bids as write
    elif fmt == "edf":
        from .edf import write_edf as write
    else:
        from .csv_files import write_csv as write
    return write(aligned, out)  # a failed write is a StoreError naming the file and why


def run_export(args: argparse.Namespace) -> int:
    """``rapport-sync export``: write the files and say where they are."""
    paths = export_session(args.session, args.format, args.out,
                           with_labels=getattr(args, "with_labels", False))
    print(f"wrote {len(paths)} files ({args.format}) to {args.out}")
    return 0
