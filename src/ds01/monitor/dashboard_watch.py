"""``ds01 gpu status --watch``: draw the dashboard again every few seconds, in place on a
terminal, until Ctrl-C (which ends it normally).

The loop gets a ``draw`` function (which reads status afresh through the service each time)
and a ``write`` function from the CLI, so it prints nothing itself and is easy to drive.

Hidden knob for tests and scripts: the environment variable ``DS01_WATCH_ITERATIONS=N`` stops
the loop after N frames (as if Ctrl-C came after the N-th), so ``--watch`` can be run to a
bounded end without a signal.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from ds01.errors import UsageError

ENV_ITERATIONS = "DS01_WATCH_ITERATIONS"
DEFAULT_INTERVAL = 2.0
MAX_INTERVAL = 24 * 3600.0

# Terminal control (cursor movement only: no colour, so NO_COLOR does not forbid them).
HOME = "\x1b[H"
CLEAR_LINE_END = "\x1b[K"
CLEAR_BELOW = "\x1b[J"
CLEAR_SCREEN = "\x1b[2J"
HIDE_CURSOR = "\x1b[?25l"
SHOW_CURSOR = "\x1b[?25h"


def check_interval(seconds: float) -> float:
    """The refresh interval, or UsageError when it is not a positive number of seconds."""
    if not 0 < seconds <= MAX_INTERVAL:  # also refuses NaN
        raise UsageError(f"--watch takes a number of seconds above 0 and at most "
                         f"{MAX_INTERVAL:.0f}, got {seconds:g}",
                         hint=f"for example --watch 5 (default {DEFAULT_INTERVAL:g} s)")
    return seconds


def iterations_from(env: Mapping[str, str]) -> int | None:
    """The frame limit from ``DS01_WATCH_ITERATIONS`` (None: until interrupted)."""
    raw = env.get(ENV_ITERATIONS, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise UsageError(f"{ENV_ITERATIONS}={raw!r} is not a positive whole number",
                         hint=f"unset {ENV_ITERATIONS} to watch until Ctrl-C")
    return int(raw)


def redraw(frame: str, rows: int | None) -> str:
    """``frame`` drawn over the previous one: from the top-left corner, clearing what the old
    frame left to the right of each line and below the last. A frame taller than the screen
    (``rows`` lines) is cut, with a last line saying how much is hidden, so that the terminal
    never scrolls and the header stays in view (like top)."""
    lines = frame.split("\n")
    if rows is not None and len(lines) > rows - 1:
        keep = max(1, rows - 2)
        hidden = len(lines) - keep
        lines = lines[:keep] + [f"... {hidden} more lines below: make the window taller, or "
                                "run without --watch and page the output"]
    return HOME + (CLEAR_LINE_END + "\n").join(lines) + CLEAR_LINE_END + CLEAR_BELOW


def watch(draw: Callable[[], str], write: Callable[[str], None], *, interval: float,
          in_place: bool, rows: Callable[[], int | None] | None = None,
          iterations: int | None = None,
          sleep: Callable[[float], None] | None = None) -> int:
    """Draw, wait ``interval`` seconds, draw again ... until ``iterations`` frames were drawn
    or Ctrl-C. ``in_place``: redraw over the previous frame (a terminal), cut to ``rows()``
    lines (asked at each frame, so a resized window is followed); otherwise frames follow
    each other, a blank line apart. ``sleep``: default ``time.sleep`` (looked up at each
    wait). Returns the number of frames drawn."""
    drawn = 0
    if in_place:
        write(HIDE_CURSOR + HOME + CLEAR_SCREEN)
    try:
        while iterations is None or drawn < iterations:
            if drawn:
                (sleep or time.sleep)(interval)
            frame = draw()
            if in_place:
                write(redraw(frame, rows() if rows is not None else None))
            else:
                write(("\n" if drawn else "") + frame + "\n")
            drawn += 1
    except KeyboardInterrupt:
        pass
    finally:
        if in_place:
            write(SHOW_CURSOR + "\n")
    return drawn
