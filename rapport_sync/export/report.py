"""``rapport-sync report SESSION --out report.html``: one self-contained HTML file.

Sections: the session at a glance, traces overview, synchrony over time with the chance
band, lag and leader, rates, per-marker epochs, surrogate statistics, signal quality and
gaps (with each device's clock alignment), and the settings used. Plots are PNG images
embedded as base64, so the file can be mailed or archived alone. Participants appear
under their pseudonymous ids only.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import html
import itertools
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..dsp.events import EventKind, find_breath_events, onset_rate_bpm
from ..dsp.sync import above_chance, judged, lead
from ..errors import RapportSyncError
from .aligned import AlignedSession, load_aligned
from .staging import StagedFiles

__all__ = ["build_report", "epoch_table", "run_report", "surrogate_table", "write_report"]

_CSS = """body{font-family:system-ui,sans-serif;max-width:1050px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;
padding:3px 8px;text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{
text-align:left}img{max-width:100%}.note{color:#666;font-size:.9em}h2{margin-top:1.6em}"""


def _f(x: Any, fmt: str = ".2f", unit: str = "") -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return html.escape(str(x))
    return "–" if not math.isfinite(v) else f"{v:{fmt}}{unit}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


NAN = float("nan")


def _window_stats(history: list[Any]) -> dict[str, float]:
    """Means over the windows a verdict is given on (:func:`~rapport_sync.dsp.sync.judged`,
    as the monitor)."""
    counts = {"judged": float(sum(map(judged, history))), "windows": float(len(history))}
    history = [s for s in history if judged(s)]
    if not history:
        return {**{k: NAN for k in ("plv", "above", "lag", "lead_a", "lead_b", "lead_unclear")},
                **counts}
    plv = np.array([s.plv for s in history])
    shown = [lead(s).shown for s in history]  # as the monitor reads them
    return {**counts, "plv": float(np.nanmean(plv)),
            "above": float(np.mean([above_chance(s) for s in history])),
            "lag": float(np.nanmedian([float(s.lag_s) for s in history])),
            "lead_a": shown.count("a") / len(shown), "lead_b": shown.count("b") / len(shown),
            "lead_unclear": shown.count("unclear") / len(shown)}


def epoch_table(session: AlignedSession, onsets: dict[str, list[float]] | None = None
                ) -> list[dict[str, Any]]:
    """Synchrony between consecutive markers: one row per epoch (start, end, label, stats,
    and the breathing rates from the inhalation onsets inside the epoch; ``onsets`` from
    :func:`inhalation_onsets` if already at hand).

    A window belongs to the epoch its end time falls in (windows look back
    ``window_s``, so the first window of an epoch still reaches into the one before).
    A window's end time is one grid step after its last sample, so the last window can
    end after the session did (stopped within that step of its last sample): it belongs
    to the last epoch.
    """
    if onsets is None:
        onsets = inhalation_onsets(session)
    bounds = [(0.0, "session start")] + sorted(session.markers) + [(session.duration_s, "end")]
    rows = []
    for (t0, label), (t1, _) in itertools.pairwise(bounds):
        if t1 <= t0:
            continue
        until = math.inf if t1 == session.duration_s else t1
        inside = [s for s in session.sync_history if t0 <= s.time_s < until]
        rows.append({"start_s": t0, "end_s": t1, "label": label, "n_windows": len(inside),
                     **_window_stats(inside), **_onset_rates(onsets, t0, t1)})
    return rows


def inhalation_onsets(session: AlignedSession) -> dict[str, list[float]]:
    """Each person's inhalation onsets (s) over the whole session."""
    out = {}
    for p, person in session.people.items():
        events = find_breath_events(person.grid_resp, session.fs)
        out[p] = [e.time_s for e in events if e.kind == EventKind.INHALE]
    return out


def _onset_rates(onsets: dict[str, list[float]], t0: float = -math.inf,
                 t1: float = math.inf) -> dict[str, float]:
    """Breathing rates from the inhalation onsets between ``t0`` and ``t1``, the formula
    of ``analyze`` (the windows' rates from the phase's advance leave out pauses and read
    high where there is one)."""
    return {key: onset_rate_bpm([t for t in onsets.get(p, []) if t0 <= t < t1])
            for p, key in (("a", "ra"), ("b", "rb"))}


def surrogate_table(session: AlignedSession, n: int, seed: int = 0) -> tuple[list[Any], str]:
    """Surrogate statistics of the session from :mod:`rapport_sync.analysis`.

    The same numbers as ``rapport-sync analyze SESSION --surrogates N`` (offline reference
    phases, mean windowed PLV against each surrogate type). Returns rows
    ``(type, observed, mean, p95, z, effect size, p, n)`` and a note; when the analysis
    module is missing or the session too short, no rows and a note saying why.
    """
    try:
        from ..analysis import analyze_arrays, replay_arrays
    except ImportError as exc:
        return [], f"surrogate statistics unavailable in this installation ({exc})"
    window = float(session.settings.get("window_s") or 60.0)
    try:  # the session as already replayed for the report, not read and replayed again
        result = analyze_arrays(**replay_arrays(session.replay), window_s=window,
                                n_surrogates=n, seed=seed)
    except RapportSyncError as exc:
        return [], f"no surrogate statistics: {exc}"
    observed = result.get("mean_windowed_plv")
    rows = [(kind, observed, r.get("mean"), r.get("p95"), r.get("z"), r.get("effect_size"),
             r.get("p"), r.get("n")) for kind, r in result.get("surrogates", {}).items()]
    verdict = ("significant" if result.get("significant") else "not significant")
    return rows, (
        f"statistic: mean PLV over {window:g}-s windows of the offline reference phases; "
        f"up to {n} surrogates per type (n per type in the table), seed {seed}; "
        "p = (1 + #surrogates ≥ observed)/(1 + n), one-sided; z on the Fisher scale. "
        f"Primary test ({result.get('primary_surrogate')}, alpha {result.get('alpha')}): "
        f"{verdict}. The same numbers as 'rapport-sync analyze' with these settings.")


def _img(png: bytes, alt: str) -> str:
    return (f'<img alt="{html.escape(alt)}" src="data:image/png;base64,'
            f'{base64.b64encode(png).decode()}">')


def build_report(session: AlignedSession, surrogates: int = 200, seed: int = 0) -> str:
    """The whole report as one HTML string."""
    from .report_plots import draw_figures

    ids = {p: x.participant_id for p, x in session.people.items()}
    onsets = inhalation_onsets(session)
    stats = {**_window_stats(session.sync_history), **_onset_rates(onsets)}
    figs = draw_figures(session)
    parts = [(f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>rapport_sync report "
             f"{html.escape(Path(session.source_path).name)}</title><style>{_CSS}</style>"
             "</head><body>"),
             f"<h1>Session report: {html.escape(Path(session.source_path).name)}</h1>",
             _table(["", ""], [
                 ["started (UTC)", html.escape(session.started_utc)],
                 ["duration", _f(session.duration_s / 60, ".1f", " min")],
                 ["ended cleanly", "yes" if session.ended_cleanly else
                  "no (recovered after a crash: everything committed is here)"],
                 ["participants", f"A = {ids['a']}, B = {ids['b']}"],
                 ["windows with a verdict (at least half clean signal)",
                  f"{stats['judged']:.0f} of {stats['windows']:.0f}"],
                 ["mean phase locking (PLV)", _f(stats["plv"])],
                 ["windows above chance", _f(100 * stats["above"], ".0f", " %")],
                 ["median lag (> 0: A leads)", _f(stats["lag"], ".2f", " s")],
                 ["A leads / B leads / can't tell (half a breath apart)",
                  (f"{_f(100 * stats['lead_a'], '.0f', ' %')} / "
                   f"{_f(100 * stats['lead_b'], '.0f', ' %')} / "
                   f"{_f(100 * stats['lead_unclear'], '.0f', ' %')}")],
                 ["breathing rate A / B (whole session)", (f"{_f(stats['ra'], '.1f')} / "
                                                 f"{_f(stats['rb'], '.1f')} breaths/min")]]),
             "<h2>Traces</h2>", _img(figs["traces"], "breathing traces"),
             "<h2>Synchrony over time</h2>",
             "" if session.sync_history else (
                 "<p>No synchrony window: the session is shorter than one window "
                 f"({_f(session.settings.get('window_s'), '.0f', ' s')}) of both people's "
                 "breathing.</p>"),
             _img(figs["synchrony"], "synchrony"),
             ("<p class='note'>Purple: the locking at the best lag within ±3 s (dotted: at "
             "zero lag). Grey: the chance band, the 95th percentile of the same best-lag "
             "locking between A and circularly shifted copies of B. Above it, the two rhythms "
             "lock more than chance would give. The means above and per epoch count only the "
             "windows with at least half of their signal clean, as the monitor does.</p>"),
             "<h2>Lag and leader</h2>", _img(figs["lag"], "lag and leader"),
             "<h2>Rates</h2>", _img(figs["rates"], "breathing and heart rates"),
             "<h2>Epochs between markers</h2>"]
    epochs = epoch_table(session, onsets)
    parts.append(_table(
        ["epoch", "from (s)", "to (s)", "windows", "mean PLV", "above chance", "median lag",
         "A leads", "B leads", "rate A", "rate B"],
        [[html.escape(e["label"]), _f(e["start_s"], ".1f"), _f(e["end_s"], ".1f"),
          str(e["n_windows"]), _f(e["plv"]), _f(100 * e["above"], ".0f", " %"),
          _f(e["lag"], ".2f", " s"), _f(100 * e["lead_a"], ".0f", " %"),
          _f(100 * e["lead_b"], ".0f", " %"), _f(e["ra"], ".1f"), _f(e["rb"], ".1f")]
         for e in epochs]))
    results, note = surrogate_table(session, surrogates, seed)
    parts.append("<h2>Surrogate statistics</h2>")
    if results:
        parts.append(_table(["surrogate type", "observed", "surrogate mean", "95th pct.",
                             "z", "effect size", "p", "n"],
                            [[html.escape(str(kind)), _f(obs, ".3f"), _f(mean, ".3f"),
                              _f(p95, ".3f"), _f(z), _f(es), _f(p, ".3f"), str(count)]
                             for kind, obs, mean, p95, z, es, p, count in results]))
    parts.append(f"<p class='note'>{html.escape(note)}</p>")
    parts.append("<h2>Signal quality and gaps</h2>")
    rows = []
    for p, x in session.people.items():
        span = max(session.duration_s, 1e-9)
        missing = sum(b - a for a, b in x.gaps)
        rows.append([ids[p], html.escape(x.kind or "–"), html.escape(x.device),
                     _f(100 * (1 - missing / span), ".1f", " %"),
                     _f(100 * np.mean(np.isfinite(x.grid_phase)), ".0f", " %"),
                     str(len(x.gaps)), "; ".join(f"{a:.1f}–{b:.1f} s" for a, b in x.gaps)
                     or "none"])
    parts.append(_table(["participant", "breathing source", "device", "coverage",
                         "valid phase", "gaps", "where"], rows))
    parts.append(_table(["device", "clock mapping", "offset (s)", "drift (ppm)",
                         "residual (ms)", "fit points"],
                        [[html.escape(d), html.escape(c.get("protocol", "")),
                          _f(c.get("offset_s"), ".4f"), _f(c.get("drift_ppm"), ".1f"),
                          _f(1e3 * c.get("residual_s", float("nan")), ".2f"),
                          str(c.get("n_points", "–"))] for d, c in session.clock.items()]))
    counts: dict[str, int] = {}
    for _, _, kind, _ in session.events:
        counts[kind] = counts.get(kind, 0) + 1
    parts.append("<p>Device events: " + (", ".join(f"{html.escape(k)} × {v}" for k, v in
                                                    sorted(counts.items())) or "none") + "</p>")
    settings = dict(session.settings)
    settings.update({"surrogates per type": surrogates, "surrogate seed": seed})
    parts.append("<h2>Settings</h2>")
    parts.append(_table(["setting", "value"], [[html.escape(str(k)), html.escape(str(v))]
                                               for k, v in settings.items()]))
    parts.append(f"<p class='note'>rapport_sync {__version__}, report made "
                 f"{dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}.</p></body></html>")
    return "\n".join(parts)


def write_report(session_path: str | os.PathLike[str], out: str | os.PathLike[str],
                 surrogates: int = 200, seed: int = 0) -> Path:
    """Replay ``session_path`` and write the report to ``out``, a new file.

    An existing ``out`` (the session itself included) is refused with a
    :class:`~rapport_sync.errors.StoreError` before anything is replayed, as a session's
    ``--out`` is: nothing is ever written over. The file is written whole or not at all
    (:mod:`~rapport_sync.export.staging`).
    """
    out = Path(out)
    stage = StagedFiles(out, "the report", replace=False)
    stage.check(out)
    text = build_report(load_aligned(session_path), surrogates=surrogates, seed=seed)
    with stage:
        stage.write_text(out, text)
        stage.commit()
    return out


def run_report(args: argparse.Namespace) -> int:
    """``rapport-sync report``."""
    path = write_report(args.session, args.out, surrogates=args.surrogates)
    print(f"report written to {path}")
    return 0
