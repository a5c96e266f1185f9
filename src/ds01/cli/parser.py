"""The ``argparse`` parser of ``ds01``: every command, with help (see ``ds01.cli.main``)."""

from __future__ import annotations

import argparse
import os
import sys

from ds01.cli.main import EPILOG, command_word

SUPPRESS = argparse.SUPPRESS


def _terminal_width() -> int:
    """What argparse would use, without importing shutil (and with it bz2, lzma...)."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 80
    return max(columns - 2, 20)


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose help formatter is cheap to create (argparse makes one per
    argument to validate it, and the stock one imports shutil to measure the terminal)."""

    def _get_formatter(self):
        return self.formatter_class(prog=self.prog, width=_terminal_width())


def _globals() -> argparse.ArgumentParser:
    """Options every command accepts, before or after the command name."""
    p = Parser(add_help=False)
    g = p.add_argument_group("global options")
    g.add_argument("--config", metavar="FILE", default=SUPPRESS,
                   help="policy file (env DS01_CONFIG; default /etc/ds01/resource-limits.yaml)")
    g.add_argument("--state-dir", metavar="DIR", default=SUPPRESS,
                   help="state directory (env DS01_STATE_DIR; default /var/lib/ds01)")
    g.add_argument("--log-dir", metavar="DIR", default=SUPPRESS,
                   help="log directory (env DS01_LOG_DIR; default /var/log/ds01)")
    g.add_argument("--hardware", metavar="SOURCE", default=SUPPRESS,
                   help="auto, nvml, nvidia-smi, builtin:NAME or a hardware description file "
                   "(env DS01_HARDWARE; default auto)")
    return p


class _OnlyOne:
    """Sub-parser registry that builds only the command being run in full.

    Building every command's parser costs more than a whole allocation decision. A module
    that defines several commands asks for each; the ones not being run are swallowed (the
    caller has already added a one-line stub for each of them).
    """

    def __init__(self, sub, wanted: str | None):
        self._sub = sub
        self._wanted = wanted

    def add_parser(self, name, **kwargs):
        if name == self._wanted:
            return self._sub.add_parser(name, **kwargs)
        return _Sink()


class _Sink:
    """Swallows the definition of a command that is not being run."""

    def __getattr__(self, name):
        return lambda *a, **k: _Sink()


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv``, only the command in it is built in full."""
    from ds01.cli import commands

    common = _globals()
    parser = Parser(
        prog="ds01", parents=[common], epilog=EPILOG,
        description="GPU and container resource manager for a shared server.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    if argv is None:
        commands.register(sub, common)
    else:
        wanted = command_word(argv)
        for name, _module, text in commands.TOP_LEVEL:
            if name != wanted:
                sub.add_parser(name, help=text, add_help=False)
        commands.register(_OnlyOne(sub, wanted), common, wanted, everything=False)
    return parser
