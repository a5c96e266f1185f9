"""``ds01`` entry point: parse, dispatch to a command module, map errors to exit codes."""

from __future__ import annotations

import argparse
import sys

from ds01.errors import EXIT_OK, EXIT_USAGE, Ds01Error

SUPPRESS = argparse.SUPPRESS

EPILOG = """exit codes: 0 success; 1 refused by policy; 2 usage or configuration error;
3 environment error (hardware source, state store, container engine)"""


def _globals() -> argparse.ArgumentParser:
    """Options every command accepts, before or after the command name."""
    p = argparse.ArgumentParser(add_help=False)
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


def build_parser() -> argparse.ArgumentParser:
    from ds01.cli import commands

    common = _globals()
    parser = argparse.ArgumentParser(
        prog="ds01", parents=[common], epilog=EPILOG,
        description="GPU and container resource manager for a shared server.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse printed usage (or --help)
        return EXIT_OK if exc.code in (0, None) else EXIT_USAGE
    return run(args)


def run(args: argparse.Namespace) -> int:
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
