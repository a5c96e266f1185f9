"""The allocation log: one greppable line per event, appended safely by many processes.

Two lines (each one physical line in the file, wrapped here)::

    2026-12-01T09:00:00+00:00 ALLOCATED user=alice container=training1 devices=1:0
        priority=10 units=1/2 group=researchers
    2026-12-01T09:05:00+00:00 REJECTED user=bob container=t2 devices=- priority=10
        units=2/2 group=students reason=USER_AT_LIMIT message="limit reached (2/2)"

Fields are ``key=value``; a value that is empty or holds spaces, quotes, backslashes, ``=`` or
unprintable characters is double-quoted with backslash escapes, so a line is always exactly one
physical line. ``units`` is held/limit (``unlimited`` when there is no limit) and is left out
when the event does not say what is held.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from ds01 import pathstr
from ds01.errors import StateError
from ds01.state.records import Event

_SPECIAL = frozenset(' "\\=')
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def quote(value: object) -> str:
    """``value`` as a log field value: bare when safe, else double-quoted and escaped."""
    text = str(value)
    if text and text.isprintable() and not any(c in _SPECIAL for c in text):
        return text
    return '"' + "".join(_escape_char(c) for c in text) + '"'


def _escape_char(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    if char.isprintable():
        return char
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def format_event(event: Event) -> str:
    """One log line (no newline) for ``event``."""
    fields: list[tuple[str, object]] = [
        ("user", event.user),
        ("container", event.container),
        ("devices", ",".join(str(d) for d in event.devices) or "-"),
        ("priority", event.priority),
    ]
    if event.units_held is not None:
        limit = "unlimited" if event.units_limit is None else event.units_limit
        fields.append(("units", f"{event.units_held}/{limit}"))
    fields.append(("group", event.group))
    if event.reason is not None:
        fields.append(("reason", event.reason))
    if event.message is not None:
        fields.append(("message", event.message))
    head = f"{quote(event.ts)} {quote(event.event)}"
    return head + "".join(f" {key}={quote(value)}" for key, value in fields)


def append(path, lines: Iterable[str] | str) -> None:
    """Append ``lines`` to the log at ``path``, one ``write()`` per line (O_APPEND).

    Creates the directory (0755) and the file (0644) when missing. Concurrent writers never
    interleave within a line. A line holding a line break is refused. ``path``: str or Path
    (kept as a string inside: no pathlib on the CLI's allocate/release path).
    """
    path = pathstr.pathstr(path)
    chunks = []
    for line in [lines] if isinstance(lines, str) else lines:
        if "\n" in line or "\r" in line:
            raise StateError(f"refusing to log a line with a line break: {line!r}")
        chunks.append((line + "\n").encode("utf-8", errors="backslashreplace"))
    try:
        fd = _open_for_append(path)
        try:
            for chunk in chunks:
                written = os.write(fd, chunk)
                if written != len(chunk):
                    raise StateError(
                        f"allocation log {path}: only {written} of {len(chunk)} bytes written",
                        hint=f"check free space on the filesystem holding {pathstr.parent(path)}",
                    )
        finally:
            os.close(fd)
    except OSError as exc:
        raise StateError(
            f"cannot write the allocation log {path}: {exc.strerror or exc}",
            hint=f"check that {pathstr.parent(path)} exists and is writable (and has free space); "
            "logging allocations needs an admin: run the command with sudo",
        ) from None


def _open_for_append(path: str) -> int:
    """Open ``path`` for appending, creating it (and its directory) with fixed modes if missing."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC
    directory = pathstr.parent(path)
    if not pathstr.is_dir(directory):
        os.makedirs(directory, mode=0o755, exist_ok=True)
        os.chmod(directory, 0o755)
    for _ in range(3):
        try:
            return os.open(path, flags)
        except FileNotFoundError:
            pass
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue  # created meanwhile by another writer: open it as it is
        os.fchmod(fd, 0o644)
        return fd
    return os.open(path, flags | os.O_CREAT, 0o644)
