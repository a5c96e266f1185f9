"""A parser for the plain forms of ``ds01 gpu allocate`` and ``ds01 gpu release``.

These two run on every container start and stop. ``argparse`` and what it imports (``re``,
``enum``, ``gettext``, ``locale``), plus building the parsers, cost about half of the
interpreter's own start-up, more than the whole decision. The forms below are read here into
exactly the namespace ``argparse`` would build (tests compare the two); anything else, including
every error, ``--help``, abbreviated options and values starting with ``-``, returns None and
goes to ``argparse``, which stays the one reference for the command line:

    ds01 [GLOBAL...] gpu [GLOBAL...] allocate USER CONTAINER [--gpus N] [--full-gpu]
                                              [--cpu-only] [--json] [GLOBAL...]
    ds01 [GLOBAL...] gpu [GLOBAL...] release CONTAINER [--json] [GLOBAL...]

GLOBAL is ``--config``, ``--state-dir``, ``--log-dir`` or ``--hardware`` with a value (as
``--opt VALUE`` or ``--opt=VALUE``). Options and operands may come in any order after the
sub-command; a repeated option keeps its last value, as with ``argparse``.
"""

from __future__ import annotations

_GLOBAL = {"--config": "config", "--state-dir": "state_dir", "--log-dir": "log_dir",
           "--hardware": "hardware"}

# sub-command -> (operands, options with an int value, flags, defaults)
_COMMANDS = {
    "allocate": (("user", "container"), {"--gpus": "gpus"},
                 {"--full-gpu": "full_gpu", "--cpu-only": "cpu_only", "--json": "json"},
                 {"gpus": 1, "full_gpu": False, "cpu_only": False, "json": False}),
    "release": (("container",), {}, {"--json": "json"}, {"json": False}),
}


class Args:
    """The parsed command line: what ``argparse.Namespace`` holds, for these two commands."""

    def __init__(self, **values):
        self.__dict__.update(values)

    def __eq__(self, other) -> bool:
        return vars(self) == vars(other) if hasattr(other, "__dict__") else NotImplemented

    def __contains__(self, key: str) -> bool:
        return key in self.__dict__

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in sorted(self.__dict__.items()))
        return f"Args({inner})"


def parse_fast(argv: list[str]) -> Args | None:
    """The namespace of ``argv`` when it is a plain allocate/release; None for anything else."""
    values: dict = {}
    words: list[str] = []
    command = None
    i = 0
    while i < len(argv):
        token = argv[i]
        i += 1
        if not token.startswith("-"):
            if (not words and token != "gpu") or (len(words) == 1 and token not in _COMMANDS):
                return None
            words.append(token)
            command = _COMMANDS.get(token) if len(words) == 2 else command
            continue
        name, eq, value = token.partition("=")
        valued = dict(_GLOBAL, **command[1]) if command else _GLOBAL
        if name in valued:
            if not eq:
                if i == len(argv):
                    return None
                value, i = argv[i], i + 1
            if not value or value.startswith("-"):
                return None
            values[valued[name]] = value
        elif command and not eq and token in command[2]:
            values[command[2][token]] = True
        else:
            return None
    return _namespace(words, values)


def _namespace(words: list[str], values: dict) -> Args | None:
    if len(words) < 2:
        return None
    operands, ints, _flags, defaults = _COMMANDS[words[1]]
    if len(words) != 2 + len(operands):
        return None
    for dest in ints.values():
        if dest in values:
            try:
                values[dest] = int(values[dest])
            except ValueError:
                return None
    from ds01.cli import gpu_cmd

    handler = gpu_cmd.cmd_allocate if words[1] == "allocate" else gpu_cmd.cmd_release
    return Args(**{**defaults, **dict(zip(operands, words[2:])), **values,
                   "command": words[0], "gpu_command": words[1], "handler": handler})
