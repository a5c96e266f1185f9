"""Sizes and durations as people write them in the policy file, and back for display.

Sizes use binary units in any case, with an optional trailing ``b``/``ib``: ``512m``, ``32g``,
``32GiB``, ``1.5g``, ``1T``, ``100k``; a plain integer is a number of bytes. Durations: ``30s``,
``30m``, ``0.5h``, ``2d``, ``1w``; a plain number is seconds. Bad input raises ``ValueError``
with a message that says what was expected. Kept free of heavy imports (no ``re``, no yaml).
"""

from __future__ import annotations

SIZE_UNITS: dict[str, int] = {
    "": 1,
    "k": 1024,
    "m": 1024**2,
    "g": 1024**3,
    "t": 1024**4,
    "p": 1024**5,
}
DURATION_UNITS: dict[str, int] = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

_SIZE_EXAMPLE = "a size like 512m, 32g, 1.5g or 1T (binary units), or a whole number of bytes"
_DURATION_EXAMPLE = "a duration like 30s, 30m, 0.5h, 2d or 1w, or a number of seconds"


def _decimal(text: str) -> tuple[int, int] | None:
    """``"1.25"`` -> ``(125, 100)``: digits with at most one dot, as an exact fraction; else None.

    (Plain integer arithmetic instead of ``fractions``, which would import ``re`` and ``decimal``.)
    """
    if not text or text == "." or text.count(".") > 1:
        return None
    if any(c not in "0123456789." for c in text):
        return None
    whole, _, frac = text.partition(".")
    scale = 10 ** len(frac)
    return int(whole or "0") * scale + int(frac or "0"), scale


def parse_size(value: object) -> int:
    """Bytes from ``32g`` / ``512MiB`` / ``1.5g`` / ``1024`` (int = bytes)."""
    if isinstance(value, bool):
        raise ValueError(f"expected {_SIZE_EXAMPLE}, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"a size cannot be negative (got {value})")
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected {_SIZE_EXAMPLE}, got {value!r}")
    text = value.strip().lower()
    if text.startswith("-"):
        raise ValueError(f"a size cannot be negative (got {value!r})")
    if text.endswith("ib") and len(text) > 2 and text[-3] in SIZE_UNITS:
        text = text[:-2]
    elif text.endswith("b"):
        text = text[:-1]
    unit = text[-1:] if text[-1:].isalpha() else ""
    if unit not in SIZE_UNITS:
        raise ValueError(f"unknown size unit in {value!r}; expected {_SIZE_EXAMPLE}")
    number = _decimal(text[: len(text) - len(unit)])
    if number is None:
        raise ValueError(f"{value!r} is not {_SIZE_EXAMPLE}")
    numerator, scale = number
    total, rest = divmod(numerator * SIZE_UNITS[unit], scale)
    if rest and not unit:
        raise ValueError(f"{value!r}: a number of bytes must be whole")
    return total  # a fraction of a byte (0.3k) is rounded down


def parse_duration(value: object) -> float:
    """Seconds from ``30m`` / ``0.5h`` / ``2d`` / ``1w`` / ``90`` (a number = seconds)."""
    if isinstance(value, bool):
        raise ValueError(f"expected {_DURATION_EXAMPLE}, got {value!r}")
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"expected {_DURATION_EXAMPLE}, got {value!r}")
        if value < 0:
            raise ValueError(f"a duration cannot be negative (got {value})")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"expected {_DURATION_EXAMPLE}, got {value!r}")
    text = value.strip().lower()
    if text.startswith("-"):
        raise ValueError(f"a duration cannot be negative (got {value!r})")
    unit = text[-1:] if text[-1:].isalpha() else ""
    if unit and unit not in DURATION_UNITS:
        raise ValueError(f"unknown duration unit in {value!r}; expected {_DURATION_EXAMPLE}")
    number = _decimal(text[: len(text) - len(unit)])
    if number is None:
        raise ValueError(f"{value!r} is not {_DURATION_EXAMPLE}")
    numerator, scale = number
    return numerator * DURATION_UNITS.get(unit, 1) / scale


def format_size(value: int | None) -> str:
    """``34359738368`` -> ``"32g"``; exact in the largest unit that divides, else one decimal."""
    if value is None:
        return "unlimited"
    if value < 1024:
        return str(value)
    units = [(u, f) for u, f in SIZE_UNITS.items() if u]
    for unit, factor in reversed(units):
        if value % factor == 0:
            return f"{value // factor}{unit}"
    for unit, factor in reversed(units):
        if value >= factor:
            return f"{value / factor:.1f}{unit}"
    return str(value)  # pragma: no cover - value >= 1024 always finds a unit


def format_duration(seconds: float | None) -> str:
    """``86400`` -> ``"24h"`` (hours up to two days), ``1800`` -> ``"30m"``, ``None`` -> never."""
    if seconds is None:
        return "never"
    if seconds == 0:
        return "0s"
    if seconds != int(seconds):
        if seconds < 60:
            return f"{seconds:g}s"
        return f"{seconds / 3600:.2g}h" if seconds >= 3600 else f"{seconds / 60:.2g}m"
    whole = int(seconds)
    for unit in ("w", "d", "h", "m"):
        factor = DURATION_UNITS[unit]
        if unit in ("w", "d") and whole <= 2 * 86400:
            continue  # "24h" and "48h" read better than "1d" and "2d"
        if whole % factor == 0:
            return f"{whole // factor}{unit}"
    return f"{whole}s"
