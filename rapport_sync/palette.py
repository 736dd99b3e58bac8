"""The colours of each person and of synchrony, shared by the monitor and the report
(Okabe–Ito: told apart with the common colour-vision deficiencies)."""

from __future__ import annotations

__all__ = ["PERSON_COLOURS", "SYNC_COLOUR"]

PERSON_COLOURS = {"a": "#0072B2", "b": "#D55E00"}
SYNC_COLOUR = "#5B2A86"
