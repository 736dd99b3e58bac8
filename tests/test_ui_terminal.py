"""The terminal view as a plain 80-column terminal shows it (no Qt)."""

from __future__ import annotations

import io
import re

from rapport_sync.session.live import LiveSession
from rapport_sync.sources.base import MonotonicClock, SourceSpec
from rapport_sync.ui.terminal import fit_to_width, run_terminal_view

COLUMNS = 80


class Terminal(io.StringIO):
    """What is written, as a terminal of ``COLUMNS`` columns would show it: text wraps at
    the right edge, ESC[F moves to the start of the previous row, ESC[K clears the row."""

    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        raise OSError("not a real terminal")  # the view falls back to 80 columns

    def screen(self) -> list[str]:
        rows, r, c = [""], 0, 0
        for token in re.split(r"(\x1b\[F|\x1b\[K|\n)", self.getvalue()):
            if token == "\x1b[F":
                r, c = max(0, r - 1), 0
            elif token == "\x1b[K":
                rows[r] = rows[r][:c]
            elif token == "\n":
                r, c = r + 1, 0
                rows += [""] * (r + 1 - len(rows))
            else:
                for ch in token:
                    if c == COLUMNS:  # autowrap
                        r, c = r + 1, 0
                        rows += [""] * (r + 1 - len(rows))
                    rows[r] = rows[r][:c].ljust(c) + ch + rows[r][c + 1:]
                    c += 1
        return rows


def test_live_block_redraws_in_place_on_an_80_column_terminal(tmp_path):
    # the status lines (the synchrony line is 110-140 characters) were written as they
    # were; the terminal wrapped them, the redraw moved up one row per line, not per row,
    # and every redraw left part of the previous block on the screen
    spec = SourceSpec.parse("sim:seed=1,script=coupled")
    session = LiveSession({"a": spec, "b": spec}, tmp_path / "s.rapport",
                          {"a": "Alexandra-Marie", "b": "Sam"}, clock=MonotonicClock(40.0))
    session.start()
    term = Terminal()
    assert run_terminal_view(session, duration_s=90.0, title="demo", stream=term) == 0
    text = term.getvalue()
    live, _, summary = text.rpartition("session ended after")
    blocks = live.count("rapport_sync demo ")
    assert blocks >= 3  # redrawn several times
    screen = [row.rstrip() for row in Terminal(live).screen()]
    while screen and not screen[-1]:
        screen.pop()
    # one block on screen: the newest, whole, every row written within the width
    assert sum(row.startswith("rapport_sync demo ") for row in screen) == 1
    assert screen[0].startswith("rapport_sync demo  01:")
    assert any(row.startswith("synchrony  ") for row in screen)
    # the bar grows to 100 % and stops there (the closing second past the duration read 101 %)
    percents = [int(p) for p in re.findall(r"\] +(\d+)%", live)]
    assert percents == sorted(percents) and percents[-1] == 100
    # and the view itself wrote no line the terminal would have to wrap
    written = re.split(r"\x1b\[F|\x1b\[K|\n", live)
    assert max(len(line) for line in written) <= COLUMNS


def test_fit_to_width_keeps_short_lines_and_all_the_words():
    lines = ["           breathing     heart  signal",
             "synchrony  Locked with a delay: One follows the other's rhythm (locking 0.93, "
             "chance up to 0.55).  Alex leads by 1.4 s; alignment +0.12"]
    rows = fit_to_width(lines, 80)
    assert rows[0] == lines[0]
    assert all(len(r) < 80 for r in rows) and len(rows) == 3
    assert " ".join(r.strip() for r in rows[1:]).split() == lines[1].split()


def test_the_progress_bar_stops_at_100_percent():
    """The session closes a moment after its duration: 05:03 / 05:00 read 101 %."""
    from rapport_sync.ui.terminal import _bar

    assert _bar(303.0 / 300.0, width=10) == "[##########] 100%"
    assert _bar(0.5, width=10) == "[#####-----]  50%"
