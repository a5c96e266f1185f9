"""``container run`` arguments read without argparse, for the plain common case only.

Importing argparse and building its parser (gettext, locale, a formatter per argument) costs
about ten milliseconds, a few per cent of starting a container. ``parse_run`` reads exactly the
command lines argparse would read the same way: ``run NAME IMAGE`` with the options spelt out
in full (``--gpus N`` or ``--gpus=N`` with N plain digits, ``--user USER`` or ``--user=USER``,
``--full-gpu``, ``--cpu-only``, ``--dry-run``, ``--json``). Anything else (help, an
abbreviation, an unknown option, ``--``, a value that looks like an option, a missing or extra
argument) returns None and argparse reads it, with its own messages.
"""

from __future__ import annotations

from types import SimpleNamespace

FLAGS = {"--json": "json", "--full-gpu": "full_gpu", "--cpu-only": "cpu_only",
         "--dry-run": "dry_run"}


def parse_run(argv: list[str], handler) -> SimpleNamespace | None:
    """The namespace argparse would give for ``argv``, or None when argparse must decide."""
    if not argv or argv[0] != "run":
        return None
    out = {"container_command": "run", "gpus": 1, "user": None, "handler": handler,
           **{dest: False for dest in FLAGS.values()}}
    positional: list[str] = []
    rest = iter(argv[1:])
    for token in rest:
        if not token.startswith("-"):
            positional.append(token)
        elif token in FLAGS:
            out[FLAGS[token]] = True
        elif token in ("--gpus", "--user"):
            value = next(rest, None)
            if not _plain_value(value) or not _store(out, token, value):
                return None
        elif token.startswith(("--gpus=", "--user=")):
            name, _, value = token.partition("=")
            if not _plain_value(value) or not _store(out, name, value):
                return None
        else:
            return None
    if len(positional) != 2:
        return None
    out["name"], out["image"] = positional
    return SimpleNamespace(**out)


def _plain_value(value: str | None) -> bool:
    """An option value argparse surely takes as it is: present, not empty, not like an
    option (the rest, such as ``--user=-x``, is left to argparse)."""
    return value is not None and value != "" and not value.startswith("-")


def _store(out: dict, option: str, value: str) -> bool:
    if option == "--gpus":
        if not (value.isascii() and value.isdigit()):
            return False  # argparse's int() accepts more ("+1", " 1", "1_0"): let it say
        out["gpus"] = int(value)
    else:
        out["user"] = value
    return True
