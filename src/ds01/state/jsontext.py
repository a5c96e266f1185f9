"""The JSON text of the store's columns (device lists, ``meta`` mappings), fast for the usual
shapes and exactly as the ``json`` module writes and reads them.

``json`` imports ``re`` and its own scanner and encoder: several milliseconds, a tenth of a
CLI run. What the allocate/release path stores is nearly always a list of device ids or a flat
mapping of text, numbers and booleans; those are written and read here with string
operations, producing exactly the text ``json.dumps`` produces (``", "`` and ``": "``
separators, ASCII only). Anything else (nesting, escapes, other spacing) goes to ``json``.
"""

from __future__ import annotations

_INF = float("inf")


def _plain(text: str) -> bool:
    """True when ``json.dumps`` writes ``text`` as it is between quotes."""
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


def _scalar(value) -> str | None:
    """The JSON text of a flat value, or None when ``json`` must write it."""
    kind = type(value)
    if kind is str:
        return f'"{value}"' if _plain(value) else None
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return repr(value)
    if kind is float:
        return repr(value) if -_INF < value < _INF else None  # NaN, infinities: json's names
    if value is None:
        return "null"
    return None


def dumps_list(values: list[str]) -> str:
    """``json.dumps(values)`` for a list of str."""
    if all(_plain(v) for v in values):
        return "[" + ", ".join([f'"{v}"' for v in values]) + "]"
    import json

    return json.dumps(values)


def dumps_mapping(mapping: dict) -> str:
    """``json.dumps(mapping, sort_keys=True)``; raises what it raises (TypeError, ValueError)."""
    parts = []
    for key in sorted(mapping) if all(type(k) is str for k in mapping) else ():
        text = _scalar(mapping[key])
        if text is None or not _plain(key):
            break
        parts.append(f'"{key}": {text}')
    else:
        if len(parts) == len(mapping):
            return "{" + ", ".join(parts) + "}"
    import json

    return json.dumps(mapping, sort_keys=True)


def loads(text):
    """``json.loads(text)``; raises ValueError (or TypeError) where it does."""
    if type(text) is str:
        if text == "[]":
            return []
        if text == "{}":
            return {}
        if text.startswith('["') and text.endswith('"]') and len(text) >= 4:
            items = text[2:-2].split('", "')
            if all(_plain(v) for v in items):
                return items
    import json

    return json.loads(text)
