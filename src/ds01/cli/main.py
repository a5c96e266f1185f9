"""``ds01`` entry point: parse, dispatch to a command module, map errors to exit codes.

``ds01 gpu allocate`` and ``ds01 gpu release`` run on every container start and stop, so
their plain forms are parsed by ``ds01.cli.fastargs`` without importing ``argparse`` (which,
with ``re``, ``enum``, ``gettext`` and ``locale``, costs about half the interpreter's own
start-up). Everything else, and anything unusual on those two, goes through the full
``argparse`` parser in ``ds01.cli.parser``.
"""

from __future__ import annotations

import sys

from ds01.errors import EXIT_OK, EXIT_USAGE, Ds01Error

EPILOG = """exit codes: 0 success; 1 refused by policy; 2 usage or configuration error;
3 environment error (hardware source, state store, container engine)"""

_VALUED = ("--config", "--state-dir", "--log-dir", "--hardware")


def command_word(argv: list[str]) -> str | None:
    """The top-level command in ``argv`` (skipping global options and their values)."""
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token in _VALUED:
            skip = True
        elif not token.startswith("-"):
            return token
    return None


def build_parser(argv: list[str] | None = None):
    """The ``argparse`` parser; with ``argv``, only the command in it is built in full."""
    from ds01.cli.parser import build_parser as build

    return build(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    from ds01.cli.fastargs import parse_fast

    args = parse_fast(argv)
    if args is None:
        parser = build_parser(argv)
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # argparse printed usage (or --help)
            return EXIT_OK if exc.code in (0, None) else EXIT_USAGE
    return run(args)


def run(args) -> int:
    """Run the handler of parsed ``args`` (an ``argparse.Namespace`` or ``fastargs.Args``)."""
    from ds01.cli.output import report_error

    try:
        return int(args.handler(args) or 0)
    except Ds01Error as exc:
        return report_error(exc, as_json=getattr(args, "json", False))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


def gpu_status_main(argv: list[str] | None = None) -> int:
    """``ds01-gpu-status`` = ``ds01 gpu status``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    return main(["gpu", "status", *argv])


def entry() -> None:  # pragma: no cover - console script wrapper
    sys.exit(main())


if __name__ == "__main__":  # python -m ds01.cli.main
    sys.exit(main())
