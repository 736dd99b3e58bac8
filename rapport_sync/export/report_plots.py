"""The figures of the session report, drawn with matplotlib (Agg) and returned as PNG bytes.

matplotlib is imported inside :func:`draw_figures` only, so nothing else pays for it.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from ..dsp.sync import judged, lead, shown_locking
from ..palette import PERSON_COLOURS, SYNC_COLOUR
from .aligned import AlignedSession

__all__ = ["COLORS", "draw_figures"]

COLORS = {**PERSON_COLOURS, "chance": "#bbbbbb", "gap": "#f2c94c", "marker": "#555555",
          "sync": SYNC_COLOUR}  # the people and synchrony in the monitor's colours


def _decimate(t: np.ndarray, x: np.ndarray, max_points: int = 6000
              ) -> tuple[np.ndarray, np.ndarray]:
    step = max(1, len(t) // max_points)
    return t[::step], x[::step]


def _decorate(ax: Any, session: AlignedSession, gaps: bool = True,
              only: str | None = None) -> None:
    """Markers as dashed lines, gaps (of everyone, or of person ``only``) as shaded spans."""
    if gaps:
        for p, person in session.people.items():
            if only is not None and p != only:
                continue
            for a, b in person.gaps:
                ax.axvspan(a, b, color=COLORS["gap"], alpha=0.35, lw=0,
                           label=f"gap {person.participant_id}")
    for t, _ in session.markers:
        ax.axvline(t, color=COLORS["marker"], ls="--", lw=0.8)
    ax.set_xlim(0, max(session.duration_s, 1.0))
    ax.grid(alpha=0.3)


def _legend(ax: Any) -> None:
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    if unique:
        ax.legend(unique.values(), unique.keys(), loc="lower right", bbox_to_anchor=(1, 1),
                  fontsize=8, ncol=5, frameon=False, borderaxespad=0.1)


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return buf.getvalue()


def draw_figures(session: AlignedSession) -> dict[str, bytes]:
    """PNG images: ``traces``, ``synchrony``, ``lag``, ``rates``."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    figs: dict[str, bytes] = {}
    t = session.grid_time_s
    history = session.sync_history
    ts = np.array([s.time_s for s in history])
    ids = {p: x.participant_id for p, x in session.people.items()}

    fig, axes = plt.subplots(2, 1, figsize=(11, 4.2), sharex=True)
    for ax, (p, person) in zip(axes, session.people.items()):
        x = person.grid_resp
        scale = np.nanpercentile(np.abs(x), 95) if np.isfinite(x).any() else 1.0
        ax.plot(*_decimate(t, x / (scale or 1.0)), color=COLORS[p], lw=0.7, label=ids[p])
        ax.set_ylabel(f"{ids[p]}\nbreathing")
        ax.set_yticks([])
        _decorate(ax, session, only=p)
        _legend(ax)
    axes[-1].set_xlabel("session time (s)")
    fig.suptitle("Breathing of both people (cleaned, scaled), gaps shaded, markers dashed",
                 fontsize=10)
    fig.tight_layout()
    figs["traces"] = _png(fig)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(11, 3.2))
    if len(history):
        shown = np.array([shown_locking(s) for s in history])
        given = np.array([judged(s) for s in history], bool)  # as the monitor: no line
        shown[~given, 0] = np.nan  # where no verdict is given
        ax.fill_between(ts, 0, shown[:, 1], color=COLORS["chance"], alpha=0.6, step="post",
                        label="chance level (95th percentile of surrogates)")
        ax.plot(ts, shown[:, 0], color=COLORS["sync"], lw=1.4,
                label="locking at the best lag (as on the monitor)")
        ax.plot(ts, np.where(given, [s.plv for s in history], np.nan), color=COLORS["sync"],
                lw=0.8, ls=":",
                label="zero-lag PLV")
    ax.set_ylim(0, 1)
    ax.set_ylabel("PLV")
    ax.set_xlabel("session time (s), end of each window")
    _decorate(ax, session)
    _legend(ax)
    fig.tight_layout()
    figs["synchrony"] = _png(fig)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(11, 2.8))
    if len(history):
        lag = np.array([float(s.lag_s) for s in history])
        leader = np.array([lead(s).shown for s in history])  # as the monitor reads them
        for who, color, text in (("a", COLORS["a"], f"{ids['a']} leads"),
                                 ("b", COLORS["b"], f"{ids['b']} leads"),
                                 ("unclear", COLORS["chance"], "can't tell: half a breath apart"),
                                 ("none", COLORS["chance"], "nobody leads")):
            sel = leader == who
            if who == "unclear":  # hollow, as the monitor's rings
                ax.scatter(ts[sel], lag[sel], s=10, facecolors="none", edgecolors=color,
                           label=text)
            else:
                ax.scatter(ts[sel], lag[sel], s=6, color=color, label=text)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_ylabel("lag (s)\n> 0: A leads")
    ax.set_xlabel("session time (s)")
    _decorate(ax, session)
    _legend(ax)
    fig.tight_layout()
    figs["lag"] = _png(fig)
    plt.close(fig)

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(11, 4.2), sharex=True)
    if len(history):
        ax1.plot(ts, [s.rate_a_bpm for s in history], color=COLORS["a"], label=ids["a"])
        ax1.plot(ts, [s.rate_b_bpm for s in history], color=COLORS["b"], label=ids["b"])
    ax1.set_ylabel("breaths/min")
    for p, person in session.people.items():
        ax2.plot(*_decimate(t, person.grid_hr_bpm), color=COLORS[p], lw=0.8, label=ids[p])
    ax2.set_ylabel("heart rate (bpm)")
    ax2.set_xlabel("session time (s)")
    for ax in (ax1, ax2):
        _decorate(ax, session, gaps=False)
        _legend(ax)
    fig.tight_layout()
    figs["rates"] = _png(fig)
    plt.close(fig)
    return figs
