"""The ``ds01 gpu status`` dashboard: what it shows (a small view model) and its plain text.

The design note's sample is the model: a header (mode, devices free/total, containers, users),
then one block per device with its id, profile, utilization and memory, every container on it
(user, priority, age), and markers: AVAILABLE, FULL, RESERVED (for whom, until when) and
warnings (MIG enabled without instances, a lost GPU). What the hardware source does not report
(MIG utilization under nvidia-smi, memory in use) is shown as ``n/a``, never as 0.

This module never imports ``rich``: the plain text is what pipes, scripts and ``NO_COLOR``
get, and it must stay fast. ``dashboard_rich`` draws the same view in colour on a terminal.
"""

from __future__ import annotations

from datetime import datetime

WIDTH = 70
RULE = "=" * WIDTH
NA = "n/a"

# Marker kinds, in the order they are shown under a device.
AVAILABLE = "available"
RESERVED = "reserved"
FULL = "full"
NO_INSTANCES = "no-instances"
LOST = "lost"
WARNING = "warning"


class Record:
    """A small read-only record; fields are its ``__slots__``, given by position or keyword,
    with ``_defaults`` for the optional ones. Defining one costs far less than a dataclass or
    a NamedTuple, and this module is loaded by every ``ds01 gpu status``."""

    __slots__ = ()
    _defaults: dict = {}

    def __init__(self, *args, **kwargs) -> None:
        names = self.__slots__
        values = {**self._defaults, **dict(zip(names, args)), **kwargs}
        if len(args) > len(names) or set(values) != set(names):
            raise TypeError(f"{type(self).__name__} takes the fields {', '.join(names)}")
        for name in names:
            object.__setattr__(self, name, values[name])

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and all(
            getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({inner})"


class Marker(Record):
    __slots__ = ("kind", "text")
    kind: str
    text: str  # the plain-text line, without indentation


class ContainerLine(Record):
    __slots__ = ("container", "user", "priority", "age")
    container: str
    user: str
    priority: int
    age: str


class Block(Record):
    """One device as the dashboard shows it."""

    __slots__ = ("id", "kind", "gpu", "label", "profile", "util", "util_pct", "memory",
                 "memory_fraction", "uuid", "containers", "markers")
    id: str
    kind: str  # "mig" | "gpu"
    gpu: int
    label: str  # "MIG 1:0 (2g.20gb)" / "GPU 0 (whole)"
    profile: str  # "2g.20gb" / "whole GPU"
    util: str  # "85%" / "n/a"
    util_pct: float | None
    memory: str  # "18000/20480 MiB" / "n/a/20480 MiB"
    memory_fraction: float | None
    uuid: str
    containers: tuple[ContainerLine, ...]
    markers: tuple[Marker, ...]


class Header(Record):
    __slots__ = ("title", "mode", "free", "total", "containers", "users", "now", "source")
    title: str  # "DS01 GPU SERVER STATUS (MIG ENABLED)"
    mode: str  # "mig" | "whole-gpu"
    free: int
    total: int
    containers: int
    users: int
    now: str  # "2026-12-01 09:00:00 +00:00"
    source: str


class DashboardView(Record):
    __slots__ = ("header", "blocks", "cpu_only", "warnings")
    header: Header
    blocks: tuple[Block, ...]
    cpu_only: tuple[ContainerLine, ...]
    warnings: tuple[str, ...]  # server warnings not already shown under a device


# ------------------------------------------------------------------------------ formatting


def age(since: str, now: str) -> str:
    """``2h 15m``, ``45m``, ``3d 4h`` between two ISO times; ``?`` when either is unreadable."""
    try:
        seconds = (datetime.fromisoformat(now) - datetime.fromisoformat(since)).total_seconds()
    except (TypeError, ValueError):
        return "?"
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


def memory_text(used: int | None, total: int | None) -> str:
    """``18000/20480 MiB``; an unreported side is ``n/a`` (unknown is never 0)."""
    if used is None and total is None:
        return NA
    return f"{NA if used is None else used}/{NA if total is None else total} MiB"


def util_text(util: float | None) -> str:
    return NA if util is None else f"{util:.0f}%"


def when_text(iso: str) -> str:
    """``2025-11-08 00:00`` (in the time's own offset) from an ISO time; as given if unreadable."""
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return str(iso)


def now_text(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S %z")
    except (TypeError, ValueError):
        return str(iso)


def source_text(source: str) -> str:
    """The hardware source; a description file by its name only (``file note-server.yaml``)."""
    if source.startswith("file:"):
        return "file " + source[5:].replace("\\", "/").rsplit("/", 1)[-1]
    return source


def device_label(kind: str, device_id: str, profile: str | None) -> str:
    """``MIG 1:0 (2g.20gb)`` / ``GPU 0 (whole)``."""
    return f"MIG {device_id} ({profile})" if kind == "mig" else f"GPU {device_id} (whole)"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# ------------------------------------------------------------------------------ the view


def _container_line(c: dict, now: str) -> ContainerLine:
    return ContainerLine(c["container"], c["user"], c["priority"], age(c.get("since", ""), now))


def _warning_marker(d: dict) -> Marker | None:
    """LOST / MIG-without-instances / other warning, by the policy's ``problem`` kind."""
    text = d.get("warning")
    if not text:
        return None
    from ds01.policy.model import PROBLEM_LOST, PROBLEM_NO_INSTANCES

    problem = d.get("problem")
    if problem == PROBLEM_NO_INSTANCES:
        return Marker(NO_INSTANCES, f"WARNING: {text}")
    if problem == PROBLEM_LOST:
        return Marker(LOST, f"LOST: {text}")
    return Marker(WARNING, f"WARNING: {text}")


def _cap(d: dict, sharing) -> int | None:
    if sharing is None:
        return None
    return sharing.max_containers_per_mig if d["kind"] == "mig" else sharing.max_containers_per_gpu


def _markers(d: dict, sharing) -> tuple[Marker, ...]:
    out: list[Marker] = []
    n = len(d["containers"])
    r = d.get("reserved_for")
    if d["allocatable"] and not n and not r:
        out.append(Marker(AVAILABLE, "AVAILABLE"))
    if r:
        why = f" ({r['reason']})" if r.get("reason") else ""
        out.append(Marker(RESERVED, f"RESERVED for {r['user']} until {when_text(r['end'])}{why}"))
    cap = _cap(d, sharing)
    if d["allocatable"] and cap is not None and n >= cap:
        out.append(Marker(FULL, f"FULL ({n}/{cap} containers)"))
    warn = _warning_marker(d)
    if warn is not None:
        out.append(warn)
    return tuple(out)


def _block(d: dict, now: str, sharing) -> Block:
    mig = d["kind"] == "mig"
    total, used = d.get("memory_total_mib"), d.get("memory_used_mib")
    fraction = used / total if used is not None and total else None
    return Block(
        id=d["id"], kind=d["kind"], gpu=d["gpu"],
        label=device_label(d["kind"], d["id"], d["profile"]),
        profile=d["profile"] if mig else "whole GPU",
        util=util_text(d.get("utilization")), util_pct=d.get("utilization"),
        memory=memory_text(used, total), memory_fraction=fraction, uuid=d.get("uuid") or "",
        containers=tuple(_container_line(c, now) for c in d["containers"]),
        markers=_markers(d, sharing),
    )


def build_view(status, sharing=None) -> DashboardView:
    """The dashboard's content from a ``ServerStatus``. ``sharing``: the config's ``gpu``
    settings (sharing caps), to mark devices FULL; without it no device is marked FULL."""
    data = status.to_dict()
    now = data["now"]
    devs = data["devices"]
    free = sum(1 for d in devs
               if d["allocatable"] and not d["containers"] and not d["reserved_for"])
    everyone = [c for d in devs for c in d["containers"]] + list(data["cpu_only"])
    mode = data["mode"]
    header = Header(
        title=f"DS01 GPU SERVER STATUS ({'MIG ENABLED' if mode == 'mig' else 'WHOLE-GPU MODE'})",
        mode=mode, free=free, total=len(devs),
        containers=len({c["container"] for c in everyone}),
        users=len({c["user"] for c in everyone}),
        now=now_text(now), source=source_text(data["source"]),
    )
    shown = {d["warning"] for d in devs if d.get("warning")}
    return DashboardView(
        header=header,
        blocks=tuple(_block(d, now, sharing) for d in devs),
        cpu_only=tuple(_container_line(c, now) for c in data["cpu_only"]),
        warnings=tuple(dict.fromkeys(w for w in data["warnings"] if w not in shown)),
    )


# ------------------------------------------------------------------------------ plain text


def container_text(c: ContainerLine) -> str:
    return f"{c.container} ({c.user}, priority={c.priority}, {c.age})"


def header_lines(h: Header) -> list[str]:
    return [
        RULE, h.title.center(WIDTH).rstrip(), RULE,
        f"Devices free: {h.free}/{h.total} | Containers: {h.containers} | Users: {h.users}",
        f"As of {h.now} | Source: {h.source}",
    ]


def block_lines(b: Block) -> list[str]:
    lines = [f"{b.label}: {plural(len(b.containers), 'container')}",
             f"  Util: {b.util} | Mem: {b.memory} | {b.uuid}"]
    lines += [f"    - {container_text(c)}" for c in b.containers]
    lines += [f"  {m.text}" for m in b.markers]
    return lines


def view_text(view: DashboardView) -> str:
    lines = header_lines(view.header) + [""]
    for b in view.blocks:
        lines += block_lines(b) + [""]
    if view.cpu_only:
        lines.append(f"CPU-only: {plural(len(view.cpu_only), 'container')}")
        lines += [f"    - {container_text(c)}" for c in view.cpu_only]
        lines.append("")
    lines += [f"WARNING: {w}" for w in view.warnings]
    return "\n".join(lines).rstrip()


def render_text(status, sharing=None) -> str:
    """Plain text for a ``ServerStatus`` (no colour, no escape codes)."""
    return view_text(build_view(status, sharing))


# ------------------------------------------------------------------------------ one frame


def draw(svc, *, user: str | None = None, colour: bool = False, width: int = 100) -> str:
    """One complete dashboard, read fresh through the service: the whole server, or with
    ``user`` that user's containers and what they could start (``--mine``). ``colour``: draw
    with rich for a terminal (imported only then); otherwise plain text."""
    from ds01.service.gpu import status

    st = status(svc)
    view = build_view(st, svc.config.gpu)
    if user is not None:
        from ds01.monitor.mine import mine_text, mine_view

        mine = mine_view(svc, user, st, view)
        if not colour:
            return mine_text(mine)
        from ds01.monitor.dashboard_rich import render_mine_rich

        return render_mine_rich(mine, width)
    if not colour:
        return view_text(view)
    from ds01.monitor.dashboard_rich import render_rich

    return render_rich(view, width)


def terminal_size() -> tuple[int, int]:
    """The terminal's (columns, lines), as ``shutil.get_terminal_size`` finds them (COLUMNS
    and LINES first, then the terminal of stdout, else 100x40) without importing shutil,
    which costs more than this whole module."""
    import os
    import sys

    size = [0, 0]
    for i, name in enumerate(("COLUMNS", "LINES")):
        raw = os.environ.get(name, "")
        size[i] = int(raw) if raw.isdigit() else 0
    if not all(size):
        try:
            real = os.get_terminal_size(sys.__stdout__.fileno())
        except (AttributeError, ValueError, OSError):
            real = (0, 0)
        size = [size[0] or real[0], size[1] or real[1]]
    return (size[0] or 100, size[1] or 40)


class Frames:
    """``draw`` with a fresh service for every frame: config, hardware and allocations are read
    anew each time (``--watch``), and the state store is closed after each."""

    def __init__(self, make_service, *, user: str | None = None, colour: bool = False):
        self.make_service = make_service
        self.user = user
        self.colour = colour

    def __call__(self) -> str:
        svc = self.make_service()
        try:
            width = terminal_size()[0] if self.colour else 100
            return draw(svc, user=self.user, colour=self.colour, width=width)
        finally:
            svc.close()
