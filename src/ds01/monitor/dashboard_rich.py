"""The dashboard in colour for a terminal: rich styles on a fixed-column grid.

Imported only when the output is a terminal and colour is wanted, never on the piped path.
Colours and text attributes are ``rich`` styles (``rich.style.Style`` renders the ANSI codes);
the grid is laid out here. ``rich.console`` and ``rich.table`` are deliberately not used:
importing the console and measuring a table of 56 devices and 100 containers costs several
times a bare Python start, and the dashboard has a budget of 6x for the whole process. The
content is the plain dashboard's view (``dashboard.build_view`` / ``mine.mine_view``); only
the look differs. The result is a string; the CLI writes it.
"""

from __future__ import annotations

import zlib

from rich.color import ColorSystem
from rich.style import Style

from ds01.monitor import dashboard as dash

USER_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "bright_cyan", "bright_magenta",
                "bright_green", "bright_blue", "bright_yellow")
MARKER_STYLE = {
    dash.AVAILABLE: ("● AVAILABLE", "bold green"),
    dash.RESERVED: (None, "bold yellow"),
    dash.FULL: (None, "magenta"),
    dash.NO_INSTANCES: ("! MIG enabled, no instances", "bold red"),
    dash.LOST: ("✗ LOST", "bold red"),
    dash.WARNING: ("! warning", "yellow"),
}
GAP = "  "

Segment = tuple[str, str]  # (text, rich style definition; "" for none)


class Painter:
    """Turns (text, style) segments into ANSI text; parsed styles are kept."""

    def __init__(self) -> None:
        self._styles: dict[str, Style] = {}

    def __call__(self, segments: list[Segment]) -> str:
        out = []
        for text, style in segments:
            if not style or not text:
                out.append(text)
                continue
            parsed = self._styles.get(style)
            if parsed is None:
                parsed = self._styles[style] = Style.parse(style)
            out.append(parsed.render(text, color_system=ColorSystem.STANDARD))
        return "".join(out)


def _user_style(user: str) -> str:
    return USER_COLOURS[zlib.crc32(user.encode()) % len(USER_COLOURS)]


def _level_style(value: float | None, *, high: float = 90, mid: float = 50) -> str:
    if value is None:
        return "dim"
    return "red" if value >= high else "yellow" if value >= mid else "green"


def _width(segments: list[Segment]) -> int:
    return sum(len(t) for t, _ in segments)


def _pad(segments: list[Segment], width: int, right: bool = False) -> list[Segment]:
    fill = " " * max(0, width - _width(segments))
    return [(fill, ""), *segments] if right else [*segments, (fill, "")]


def _container(c: dash.ContainerLine) -> list[Segment]:
    return [(c.container, "bold"), (" ", ""), (c.user, _user_style(c.user)),
            (f" p{c.priority} {c.age}", "dim")]


def _marker(m: dash.Marker) -> list[Segment]:
    label, style = MARKER_STYLE.get(m.kind, (None, ""))
    if m.kind == dash.RESERVED:
        label = "◆ " + m.text.split(" (", 1)[0]
    return [(label or m.text, style)]


def _header(h: dash.Header) -> list[list[Segment]]:
    return [
        [(h.title, "bold"), (f"   {h.now}", "dim")],
        [(f"{h.free}/{h.total}", "bold green" if h.free else "bold red"),
         (" devices free · ", ""), (str(h.containers), "bold"),
         (f" {'container' if h.containers == 1 else 'containers'} · ", ""),
         (str(h.users), "bold"), (f" {'user' if h.users == 1 else 'users'} · ", ""),
         (f"source {h.source}", "dim")],
    ]


def _grid(rows: list[list[list[Segment]] | None], right: set[int]) -> list[list[Segment]]:
    """Rows of cells (each cell a segment list) padded to common column widths; None: a blank
    line. The last column is not padded."""
    cells = [r for r in rows if r is not None]
    ncol = max(len(r) for r in cells)
    widths = [max(_width(r[i]) for r in cells if i < len(r)) for i in range(ncol)]
    out: list[list[Segment]] = []
    for r in rows:
        if r is None:
            out.append([])
            continue
        line: list[Segment] = []
        for i, cell in enumerate(r):
            if i:
                line.append((GAP, ""))
            line += cell if i == len(r) - 1 else _pad(cell, widths[i], i in right)
        out.append(line)
    return out


def _device_rows(b: dash.Block) -> list[list[list[Segment]]]:
    frac = None if b.memory_fraction is None else b.memory_fraction * 100
    conts = [_container(c) for c in b.containers] or [[("—", "dim")]]
    marks = [_marker(m) for m in b.markers]
    rows = []
    for i in range(max(len(conts), len(marks))):
        first = i == 0
        rows.append([
            [(b.id, "bold cyan")] if first else [],
            [(b.profile, "")] if first else [],
            [(b.util, _level_style(b.util_pct))] if first else [],
            [(b.memory.removesuffix(" MiB"), _level_style(frac))] if first else [],
            conts[i] if i < len(conts) else [],
            marks[i] if i < len(marks) else [],
        ])
    return rows


def _device_lines(view: dash.DashboardView) -> list[list[Segment]]:
    titles = ("Device", "Profile", "Util", "Memory MiB", "Containers", "Status")
    rows: list[list[list[Segment]] | None] = [[[(t, "bold")] for t in titles]]
    for i, b in enumerate(view.blocks):
        if i and b.gpu != view.blocks[i - 1].gpu:
            rows.append(None)
        rows += _device_rows(b)
    lines = _grid(rows, right={2, 3})
    rule = [("─" * max(_width(line) for line in lines), "dim")]
    return [lines[0], rule, *lines[1:]]


def _warnings(view: dash.DashboardView) -> list[list[Segment]]:
    texts = [m.text for b in view.blocks for m in b.markers
             if m.kind in (dash.LOST, dash.NO_INSTANCES, dash.WARNING)]
    texts += [f"WARNING: {w}" for w in view.warnings]
    return [[(t, "red")] for t in dict.fromkeys(texts)]


def render_rich(view: dash.DashboardView, width: int = 100) -> str:
    """The whole dashboard with colour codes. ``width``: the terminal's columns (the grid is
    as wide as its content; long lines wrap as the terminal wraps them)."""
    lines = _header(view.header) + [[]] + _device_lines(view)
    if view.cpu_only:
        cpu: list[Segment] = [("CPU-only: ", "bold")]
        for i, c in enumerate(view.cpu_only):
            cpu += ([(", ", "")] if i else []) + _container(c)
        lines += [[], cpu]
    warnings = _warnings(view)
    if warnings:
        lines += [[]] + warnings
    paint = Painter()
    return "\n".join(paint(line) for line in lines)


# ------------------------------------------------------------------------------ --mine


def _usage(v) -> list[Segment]:
    out: list[Segment] = []
    for i, (what, held, limit) in enumerate(v.usage):
        if i:
            out.append((" · ", ""))
        full = limit is not None and held >= limit
        numbers = f"{held}/{'∞' if limit is None else limit}"
        out += [(numbers, "bold red" if full else "bold green"), (f" {what}", "")]
    return out


def _my_rows(v) -> list[list[list[Segment]] | None]:
    titles = ("Container", "Device", "Util", "Memory MiB", "Shared", "Age")
    rows: list[list[list[Segment]] | None] = [[[(t, "bold")] for t in titles]]
    for c in v.containers:
        if not c.devices:
            rows.append([[(c.container, "bold")], [("CPU-only", "dim")], [], [], [],
                         [(c.age, "dim")]])
        for i, (b, others) in enumerate(zip(c.devices, c.others)):
            shared = ("alone", "green") if not others else (
                f"+{others} other{'s' if others != 1 else ''}", "yellow")
            rows.append([[(c.container, "bold")] if i == 0 else [], [(b.label, "cyan")],
                         [(b.util, _level_style(b.util_pct))],
                         [(b.memory.removesuffix(" MiB"), "")], [shared],
                         [(c.age, "dim")] if i == 0 else []])
    return rows


def render_mine_rich(v, width: int = 100) -> str:
    """The ``--mine`` view with colour codes."""
    lines: list[list[Segment]] = [
        [(f"DS01 GPU STATUS FOR {v.user}", "bold"), (f"   {v.now}", "dim")],
        [(f"group {v.group}, priority {v.priority} · ", "")] + _usage(v),
    ]
    if v.reservation:
        lines.append([(f"◆ {v.reservation}", "yellow")])
    lines.append([])
    if v.containers:
        grid = _grid(_my_rows(v), right={2, 3})
        lines += [grid[0], [("─" * max(_width(g) for g in grid), "dim")], *grid[1:]]
    else:
        lines.append([("You have no containers.", "dim")])
    lines += [[], [("What you could start now", "bold")]]
    for ch in v.chances:
        mark = ("  ✓ ", "bold green") if ch.ok else ("  ✗ ", "bold red")
        lines.append([mark, (ch.what, "bold"), (f": {ch.text}", "")])
    paint = Painter()
    return "\n".join(paint(line) for line in lines)
