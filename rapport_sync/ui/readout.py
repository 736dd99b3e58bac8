"""What the monitor says in words: pure functions from session state to short texts.

No Qt here, so every sentence the therapist reads is testable on its own. The wording
follows what the numbers mean (see the reference on synchrony, section 2.2): *locking*
(PLV) says whether the two rhythms keep a steady relation, *alignment* (mean cosine of the
phase difference) says whether that relation is in step (+1), opposite (-1) or delayed (0),
and neither means anything unless locking is above the chance level of the window.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..dsp.sync import MIN_VALID_FRACTION, above_chance, judged, lead, shown_locking

__all__ = [
    "ALIGNED",
    "MIN_VALID_FRACTION",
    "OPPOSITE",
    "SyncLevel",
    "SyncReadout",
    "above_chance",
    "describe_sync",
    "format_clock",
    "heart_text",
    "judged",
    "latest_phase",
    "lead",
    "leader_text",
    "link_text",
    "locking",
    "quality_text",
    "rate_text",
    "shows_values",
]

ALIGNED = 0.5  # alignment above this (|delta phi| mostly under 60 degrees) reads "in step"
OPPOSITE = -0.5



def format_clock(seconds: float) -> str:
    """``mm:ss`` (``h:mm:ss`` past an hour)."""
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    return (f"{h}:" if h else "") + f"{rest // 60:02d}:{rest % 60:02d}"


class SyncLevel(enum.Enum):
    """How the pair's breathing relates right now (what the headline colour shows)."""

    WAITING = "waiting"  # no complete window yet
    UNCLEAR = "unclear"  # too little clean signal in the window
    CHANCE = "chance"  # locking not above what two unrelated breathers reach
    TOGETHER = "together"  # locked and in step
    DELAYED = "delayed"  # locked with a steady delay
    OPPOSITE = "opposite"  # locked, one inhales while the other exhales


@dataclass(frozen=True, slots=True)
class SyncReadout:
    level: SyncLevel
    headline: str
    detail: str


def _finite(x: Any) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def locking(sync: Any) -> tuple[float, float]:
    """The locking shown and its chance level (:func:`rapport_sync.dsp.sync.shown_locking`)."""
    return shown_locking(sync)


def describe_sync(sync: Any | None, window_s: float) -> SyncReadout:
    """The headline about the pair: waiting, unclear, chance, together, delayed or opposite."""
    if sync is None:
        return SyncReadout(SyncLevel.WAITING, "Collecting the first window",
                           f"A verdict needs {window_s:.0f} s of both people's breathing.")
    valid = getattr(sync, "valid_fraction", 1.0)
    if _finite(valid) and valid < MIN_VALID_FRACTION:
        return SyncReadout(SyncLevel.UNCLEAR, "Not enough clean signal",
                           f"Only {valid * 100:.0f}% of the last window is usable; "
                           "check the straps.")
    value, level = locking(sync)
    if not (_finite(value) and _finite(level)):
        return SyncReadout(SyncLevel.UNCLEAR, "Not enough clean signal",
                           "No steady breathing rhythm in the last window yet.")
    chance = f"locking {value:.2f}, chance up to {level:.2f}"
    if not above_chance(sync):
        return SyncReadout(SyncLevel.CHANCE, "Not above chance",
                           f"Two unrelated breathers could look like this ({chance}).")
    if sync.alignment >= ALIGNED:
        return SyncReadout(SyncLevel.TOGETHER, "Breathing together",
                           f"In step and above chance ({chance}).")
    who = lead(sync)
    if who.leader in ("a", "b") and not (sync.alignment <= OPPOSITE and who.half_breath):
        return SyncReadout(SyncLevel.DELAYED, "Locked with a delay",
                           f"One follows the other's rhythm ({chance}).")
    if sync.alignment <= OPPOSITE:
        return SyncReadout(SyncLevel.OPPOSITE, "Locked in opposite phase",
                           f"One inhales while the other exhales ({chance}).")
    return SyncReadout(SyncLevel.DELAYED, "Locked with a delay",
                       f"Same rhythm, shifted in time ({chance}).")


def leader_text(sync: Any | None, labels: dict[str, str], level: SyncLevel | None = None) -> str:
    """Who leads and by how much, in agreement with the headline of :func:`describe_sync`
    (pass its ``level`` when it is at hand) and with the lag plot: both read the lead with
    :func:`rapport_sync.dsp.sync.lead`. A leader is named only when the rhythms are locked
    with a delay; about half a breath apart, both readings are given and neither chosen."""
    if sync is None:
        return ""
    level = level or describe_sync(sync, 0.0).level
    who = lead(sync)
    if level in (SyncLevel.WAITING, SyncLevel.UNCLEAR):
        return "No leader: not enough clean signal"
    if level == SyncLevel.CHANCE:
        return "No leader: not locked"
    if level == SyncLevel.TOGETHER:
        return "Nobody leads: in step"
    if who.half_breath and who.leader in labels:
        other = "b" if who.leader == "a" else "a"
        # a no-break space: the wrapped line never leaves "s ahead" without its number
        return (f"Can't tell who leads: {labels[who.leader]} {abs(who.lag_s):.1f}\u00a0s "
                f"ahead or {labels[other]} {who.other_lag_s:.1f}\u00a0s ahead")
    if level == SyncLevel.OPPOSITE:
        # opposite without a lag (a leader would read as a delay): nobody to name
        return "No leader: half a breath apart"
    if who.leader not in labels or not _finite(who.lag_s):
        return "Leader unclear: no steady lag"
    return f"{labels[who.leader]} leads by {abs(who.lag_s):.1f} s"


def shows_values(link: str) -> bool:
    """Whether a person's rates are current: not while their device is being reconnected
    or awaited (the last values would read as live; the card says why they are gone)."""
    return link not in ("reconnecting", "waiting")


def rate_text(breath: Any | None) -> str:
    rate = getattr(breath, "rate_bpm", None)
    return f"{rate:.1f} breaths/min" if _finite(rate) else "– breaths/min"


def heart_text(heart: Any | None) -> str:
    hr = getattr(heart, "hr_bpm", None)
    return f"{hr:.0f} beats/min" if _finite(hr) else "– beats/min"


_QUALITY_WORDS = {
    "good": ("good signal", "good"),
    "weak_source": ("usable (from heart beats)", "warn"),
    "warming_up": ("warming up", "idle"),
    "contact_lost": ("poor contact: samples missing", "bad"),
    "flat": ("no signal: strap off or sensor stuck", "bad"),
    "clipped": ("poor contact: signal clipped", "bad"),
    "motion": ("movement disturbs the signal", "warn"),
    "no_breathing": ("no breathing rhythm found", "bad"),
}


def quality_text(breath: Any | None) -> tuple[str, str]:
    """Signal quality in words and a level: ``good``, ``warn``, ``bad`` or ``idle``."""
    if breath is None:
        return "waiting for data", "idle"
    q = str(getattr(breath, "quality", "warming_up"))
    return _QUALITY_WORDS.get(q, (q.replace("_", " "), "warn"))


_LINK_WORDS = {"connected": ("connected", "good"), "waiting": ("waiting for device", "idle"),
               "reconnecting": ("reconnecting…", "warn"),
               "disconnected": ("disconnected", "bad")}


def link_text(link: str) -> tuple[str, str]:
    """Connection state in words and a level."""
    return _LINK_WORDS.get(link, (link, "warn"))


def latest_phase(trace: np.ndarray, max_age_s: float | None = None) -> float | None:
    """The newest finite phase (rad) of a person's trace, or None.

    ``trace`` has columns time_s, signal, phase. With ``max_age_s``, a phase older than
    that relative to the newest row counts as none (the person went silent).
    """
    if len(trace) == 0:
        return None
    phase = trace[-256:, 2]
    ok = np.flatnonzero(np.isfinite(phase))
    if ok.size == 0:
        return None
    row = len(trace) - len(phase) + int(ok[-1])
    if max_age_s is not None and trace[-1, 0] - trace[row, 0] > max_age_s:
        return None
    return float(trace[row, 2])
