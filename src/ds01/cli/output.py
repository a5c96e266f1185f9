"""Writing results: JSON on stdout for --json, text otherwise; errors on stderr."""

from __future__ import annotations

import os
import sys

from ds01.errors import Ds01Error


def use_color(stream=None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR", "") != "":
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def emit_json(data) -> None:
    import json  # here, not at the top: plain-text runs need not pay for importing it

    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def err(text: str) -> None:
    sys.stderr.write(text + "\n")


def report_error(exc: Ds01Error, *, as_json: bool = False) -> int:
    """Print an error for a person (stderr), and as JSON on stdout when asked. Returns its exit
    code."""
    if as_json:
        emit_json(exc.to_dict())
    problems = getattr(exc, "problems", None)
    if problems:
        for p in problems:
            err(str(p))
    else:
        err(f"ds01: {exc.code}: {exc.message}" if exc.code != "ERROR" else exc.message)
    if exc.hint:
        err(f"hint: {exc.hint}")
    return exc.exit_code
