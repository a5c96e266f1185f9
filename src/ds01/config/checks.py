"""Small validators the loader is built from. Each one records a ConfigProblem and returns
``BAD`` when the value is wrong, so the loader can keep going and report every problem at once.
"""

from __future__ import annotations

import difflib
import math
import re
import string
from datetime import datetime

from ds01.config.units import parse_duration, parse_size
from ds01.errors import ConfigProblem
from ds01.yamlpos import Node

BAD = object()  # "this value was wrong; a problem has been recorded"

USER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9._-]{0,31}\$?")
GROUP_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
IMAGE_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
INSTANCE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
DEVICE_ID = re.compile(r"(0|[1-9][0-9]*)(:(0|[1-9][0-9]*))?")
_PATH_PART = re.compile(r"[A-Za-z0-9_-]+")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REGISTRY = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]+)?")
_REPOSITORY = re.compile(
    rf"{_COMPONENT}(?:/{_COMPONENT})*"  # path
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"  # tag
    r"(?:@sha256:[a-f0-9]{64})?"  # digest
)


def is_image_ref(text: str) -> bool:
    """A container image reference: ``[registry[:port]/]path[:tag][@sha256:digest]``.

    As with the engine, the first part is a registry only when it has a dot or a port, or is
    ``localhost``; the path is lower-case.
    """
    first, slash, rest = text.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return bool(_REGISTRY.fullmatch(first)) and bool(_REPOSITORY.fullmatch(rest))
    return bool(_REPOSITORY.fullmatch(text))


def join(path: str, key: object) -> str:
    """``groups`` + ``student`` -> ``groups.student``; odd keys are quoted: ``mounts['/x']``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    text = str(key)
    if not _PATH_PART.fullmatch(text):
        return f"{path}[{text!r}]"
    return f"{path}.{text}" if path else text


def _shown(value: object) -> str:
    if value is None:
        return "null (empty)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


class Checker:
    """Collects problems for one file."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[ConfigProblem] = []

    def problem(self, node: Node | None, key: str | None, message: str) -> object:
        line = node.where if node is not None else None
        self.problems.append(ConfigProblem(self.source, line, key or None, message))
        return BAD

    def wrong(self, node: Node, key: str, expected: str) -> object:
        return self.problem(node, key, f"must be {expected}, got {_shown(node.value)}")

    # -- structure -------------------------------------------------------------------------
    def mapping(self, node: Node | None, key: str) -> dict[str, Node]:
        """The node's entries; an empty section (null) is an empty mapping; else a problem."""
        if node is None or node.value is None:
            return {}
        if isinstance(node.value, dict):
            return node.value
        self.wrong(node, key, "a mapping (key: value lines)")
        return {}

    def known_keys(
        self, entries: dict[str, Node], allowed: tuple[str, ...], path: str, elsewhere: dict
    ) -> None:
        """Report each key not in ``allowed``, with a suggestion."""
        for name, node in entries.items():
            if name in allowed:
                continue
            message = f"unknown key {name!r}"
            if name in elsewhere:
                message += f"; {name!r} belongs {elsewhere[name]}"
            else:
                close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
                far = difflib.get_close_matches(name, list(elsewhere), n=1, cutoff=0.75)
                if close:
                    message += f"; did you mean {close[0]!r}?"
                elif far:
                    message += f"; did you mean {far[0]!r}? (it belongs {elsewhere[far[0]]})"
                else:
                    message += f" (allowed here: {', '.join(allowed)})"
            self.problem(node, join(path, name), message)

    def string_list(self, node: Node, key: str, pattern: re.Pattern, what: str) -> object:
        """A list of names matching ``pattern`` (an empty entry is an empty list)."""
        if node.value is None:
            return ()
        if not isinstance(node.value, list):
            return self.wrong(node, key, f"a list of {what}s, like [a, b]")
        out: list[str] = []
        ok = True
        for i, item in enumerate(node.value):
            if not isinstance(item.value, str) or not pattern.fullmatch(item.value):
                self.wrong(item, join(key, i), f"a valid {what}")
                ok = False
            elif item.value not in out:
                out.append(item.value)
        return tuple(out) if ok else BAD

    # -- scalars ---------------------------------------------------------------------------
    def boolean(self, node: Node, key: str) -> object:
        if isinstance(node.value, bool):
            return node.value
        if isinstance(node.value, str) and node.value.lower() in ("yes", "no", "on", "off"):
            return self.problem(
                node, key, f"must be true or false, got {node.value!r} (read as text here)"
            )
        return self.wrong(node, key, "true or false")

    def integer(self, node: Node, key: str, *, minimum: int, nullable: bool) -> object:
        v = node.value
        if v is None and nullable:
            return None
        if isinstance(v, int) and not isinstance(v, bool):
            if v >= minimum:
                return v
            return self.problem(node, key, f"must be at least {minimum}, got {v}")
        tail = " or null (unlimited)" if nullable else ""
        return self.wrong(node, key, f"a whole number >= {minimum}{tail}")

    def number(self, node: Node, key: str, *, nullable: bool) -> object:
        """A positive, finite number (CPU counts)."""
        v = node.value
        if v is None and nullable:
            return None
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            if v > 0:
                return v
            return self.problem(node, key, f"must be more than 0, got {v}")
        tail = " or null (unlimited)" if nullable else ""
        return self.wrong(node, key, f"a number greater than 0, like 4 or 0.5{tail}")

    def size(self, node: Node, key: str, *, nullable: bool) -> object:
        tail = "; use null for unlimited" if nullable else ""
        return self._measure(node, key, parse_size, nullable,
                             f"must be more than 0 bytes{tail}")

    def duration(self, node: Node, key: str, *, nullable: bool, zero_ok: bool = False) -> object:
        tail = "; use null for never" if nullable else ""
        return self._measure(node, key, parse_duration, nullable,
                             None if zero_ok else f"must be longer than 0 seconds{tail}")

    def _measure(self, node: Node, key: str, parse, nullable: bool, if_zero: str | None) -> object:
        """``parse(node.value)``; ``if_zero`` (when given) is the problem with a zero value."""
        if node.value is None and nullable:
            return None
        try:
            value = parse(node.value)
        except ValueError as exc:
            return self.problem(node, key, str(exc))
        if value == 0 and if_zero is not None:
            return self.problem(node, key, if_zero)
        return value

    def text(
        self, node: Node, key: str, pattern: re.Pattern | None = None, what: str = ""
    ) -> object:
        v = node.value
        if not isinstance(v, str):
            return self.wrong(node, key, f"a string{' (' + what + ')' if what else ''}")
        if pattern is not None and not pattern.fullmatch(v):
            return self.problem(node, key, f"{v!r} is not {what}")
        return v

    def instant(self, node: Node, key: str) -> object:
        """An ISO 8601 time; without an offset it is local time. Returns an aware datetime."""
        v = node.value
        if not isinstance(v, str):
            return self.wrong(node, key, 'an ISO 8601 time in quotes, like "2025-11-01T00:00:00"')
        try:
            when = datetime.fromisoformat(v.strip())
        except ValueError:
            return self.problem(
                node, key, f"{v!r} is not an ISO 8601 time (like 2025-11-01T00:00:00+01:00)"
            )
        return when.astimezone() if when.tzinfo is None else when

    def template(self, node: Node, key: str, fields: tuple[str, ...]) -> object:
        """A message template whose {placeholders} are all in ``fields``."""
        v = node.value
        if not isinstance(v, str):
            return self.wrong(node, key, "a message text")
        allowed = ", ".join("{" + f + "}" for f in fields) or "none"
        try:
            parts = list(string.Formatter().parse(v))
        except ValueError as exc:
            return self.problem(
                node, key, f"broken braces ({exc}); write {{{{ and }}}} for literal ones"
            )
        ok = True
        for _, name, spec, _ in parts:
            if name is None:
                continue
            if name not in fields or (spec and "{" in spec):
                shown = "{" + name + "}" if name else "{}"
                self.problem(node, key, f"unknown placeholder {shown}; allowed here: {allowed}")
                ok = False
        return v if ok else BAD

    def abs_path(self, node: Node, key: str, *, placeholders: tuple[str, ...] = ()) -> object:
        """An absolute path without ``.``/``..``/empty parts; may use ``{user}`` if allowed."""
        v = node.value
        if not isinstance(v, str):
            return self.wrong(node, key, "an absolute path")
        if not v.startswith("/") or v == "/":
            return self.problem(node, key, f"{v!r} must be an absolute path below /, like /srv/x")
        parts = v[1:].split("/")
        if any(p in ("", ".", "..") for p in parts):
            return self.problem(node, key, f"{v!r}: no empty, '.' or '..' parts (or trailing /)")
        return self._placeholders(node, key, v, placeholders)

    def _placeholders(self, node: Node, key: str, v: str, allowed: tuple[str, ...]) -> object:
        try:
            parts = list(string.Formatter().parse(v))
        except ValueError as exc:
            return self.problem(node, key, f"{v!r}: broken braces ({exc})")
        for _, name, spec, conv in parts:
            if name is not None and (name not in allowed or spec or conv):
                what = ", ".join("{" + a + "}" for a in allowed) or "no placeholders"
                return self.problem(node, key, f"{v!r}: only {what} may be used here")
        return v
