"""YAML with line numbers, for files a person writes (the policy file, hardware descriptions).

``parse_yaml`` turns text into a tree of ``Node`` objects that remember the line they start on
(and, for mapping values, the line of their key), so every complaint can name ``file:line``.

Plain scalars are resolved with the YAML 1.2 core schema only: ``null``/``~``/empty are None,
``true``/``false`` (any case) are booleans, decimal, ``0x`` and ``0o`` integers are ints,
decimal floats (``.5``, ``1e3``, ``.inf``, ``.nan``) are floats, and everything else is a
string. So ``2:1`` stays ``"2:1"`` (YAML 1.1 would read 121), ``yes``/``no``/``on``/``off``
and timestamps stay strings. Quoted and block scalars are always strings.

Not supported (reported as errors): anchors, aliases, explicit tags, several documents in one
file, duplicate keys, mapping keys that are not strings.
"""

from __future__ import annotations

import re
from ds01.records import record

from ds01.errors import ConfigError, ConfigProblem

MAX_DEPTH = 64  # nesting deeper than this is surely a mistake

_INT10 = re.compile(r"[-+]?[0-9]+")
_INT8 = re.compile(r"0o[0-7]+")
_INT16 = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)")
_NAN = re.compile(r"\.(nan|NaN|NAN)")


@record
class Node:
    """A YAML value with its position.

    ``value`` is ``dict[str, Node]``, ``list[Node]`` or a scalar (None, bool, int, float, str).
    ``line`` is where the value starts (1-based). ``key_line`` is the line of the key a mapping
    value sits under (None for the document root and list items); prefer it when complaining
    about the key.
    """

    value: object
    line: int
    key_line: int | None = None

    @property
    def where(self) -> int:
        """The best line to name in a message about this entry."""
        return self.key_line if self.key_line is not None else self.line


def resolve_plain(text: str) -> object:
    """The value of a plain (unquoted) scalar under the YAML 1.2 core schema."""
    lowered = text.lower()
    if text in ("", "~") or lowered == "null":
        return None
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    if _INT10.fullmatch(text):
        return int(text)
    if _INT8.fullmatch(text):
        return int(text[2:], 8)
    if _INT16.fullmatch(text):
        return int(text[2:], 16)
    if _FLOAT.fullmatch(text):
        return float(text)
    if _INF.fullmatch(text):
        return float("-inf") if text.startswith("-") else float("inf")
    if _NAN.fullmatch(text):
        return float("nan")
    return text


def plain(node: object) -> object:
    """Strip positions: a Node tree (or anything holding Nodes) to plain Python values."""
    if isinstance(node, Node):
        node = node.value
    if isinstance(node, dict):
        return {k: plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    return node


class _Fail(Exception):
    def __init__(self, line: int | None, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


def _line(event) -> int:
    mark = getattr(event, "start_mark", None)
    return mark.line + 1 if mark is not None else 1


class _Builder:
    """Builds the Node tree from a stream of parser events."""

    def __init__(self) -> None:
        # Each open collection: [kind, line, key_line, items, pending_key, pending_key_line]
        self.stack: list[list] = []
        self.root: Node | None = None
        self.documents = 0

    def feed(self, event, yaml) -> None:
        if isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise _Fail(_line(event), "only one YAML document is allowed per file")
            return
        if not isinstance(event, yaml.NodeEvent) and not isinstance(
            event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)
        ):
            return  # stream and document boundaries
        if isinstance(event, yaml.AliasEvent):
            raise _Fail(_line(event), f"YAML aliases (*{event.anchor}) are not supported")
        if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            kind, line, key_line, items, _, _ = self.stack.pop()
            self._add(Node(items, line), key_line)
            return
        if event.anchor is not None:
            raise _Fail(_line(event), f"YAML anchors (&{event.anchor}) are not supported")
        if getattr(event, "tag", None) is not None:
            raise _Fail(_line(event), f"YAML tags ({event.tag}) are not supported")
        if isinstance(event, yaml.ScalarEvent):
            value = event.value if event.style else resolve_plain(event.value)
            self._add(Node(value, _line(event)), None, is_scalar_text=event.value)
            return
        if len(self.stack) >= MAX_DEPTH:
            raise _Fail(_line(event), f"nesting is deeper than {MAX_DEPTH} levels")
        key_line = self._pending_key_line()
        if isinstance(event, yaml.MappingStartEvent):
            self.stack.append(["map", _line(event), key_line, {}, None, None])
        else:
            self.stack.append(["seq", _line(event), key_line, [], None, None])

    def _pending_key_line(self) -> int | None:
        if self.stack and self.stack[-1][0] == "map":
            return self.stack[-1][5]
        return None

    def _add(self, node: Node, key_line: int | None, is_scalar_text: str | None = None) -> None:
        if not self.stack:
            self.root = node
            return
        top = self.stack[-1]
        if top[0] == "seq":
            top[3].append(node)
            return
        if top[4] is None and top[5] is None:  # this node is a key
            if is_scalar_text is None:
                raise _Fail(node.line, "a mapping key must be a plain string, not a collection")
            if not isinstance(node.value, str):
                raise _Fail(
                    node.line,
                    f"mapping key {is_scalar_text!r} is not a string; quote it if you mean one",
                )
            if node.value in top[3]:
                first = top[3][node.value].where
                raise _Fail(node.line, f"duplicate key {node.value!r} (first set on line {first})")
            top[4], top[5] = node.value, node.line
            return
        key, kline = top[4], top[5]
        top[3][key] = Node(node.value, node.line, kline if key_line is None else key_line)
        top[4], top[5] = None, None


def parse_yaml(text: str, source: str) -> Node:
    """Parse one YAML document into a Node tree; raise ConfigError naming ``source:line``."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    builder = _Builder()
    try:
        for event in yaml.parse(text, Loader=loader):
            builder.feed(event, yaml)
    except _Fail as fail:
        raise ConfigError([ConfigProblem(source, fail.line, None, fail.message)]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([_problem_from(exc, source, text)]) from None
    if builder.root is None:
        return Node(None, 1)
    return builder.root


def _problem_from(exc: Exception, source: str, text: str) -> ConfigProblem:
    """A ConfigProblem from a PyYAML error, keeping its line and its own words."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    position = getattr(exc, "position", None)  # reader errors: a character offset
    if line is None and isinstance(position, int):
        line = text.count("\n", 0, position) + 1
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if problem:
        message = f"{context}, {problem}" if context else str(problem)
    else:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return ConfigProblem(source, line, None, f"not valid YAML: {message}")
