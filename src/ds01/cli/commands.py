"""Sub-commands of ``ds01``: each a small handler over the service layer."""

from __future__ import annotations

from ds01.errors import EXIT_OK, EXIT_REFUSED

# ``argparse`` is not imported here: ``service_of`` is on the path of ``ds01 gpu allocate``,
# whose plain form is parsed without it (see ds01.cli.fastargs). Parsers are built by
# ds01.cli.parser, which hands them to ``register``.


def context_of(args):
    from ds01.context import Context

    return Context.build(
        config=getattr(args, "config", None),
        state_dir=getattr(args, "state_dir", None),
        log_dir=getattr(args, "log_dir", None),
        hardware=getattr(args, "hardware", None),
    )


def service_of(args):
    from ds01.service import Service

    return Service(context_of(args))


def json_flag(p) -> None:
    """Add the ``--json`` flag every command with machine-readable output takes."""
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


# Top-level commands: name, the module that defines it, one line of help. Only the module of
# the command being run is imported (see ds01.cli.main.build_parser).
TOP_LEVEL: tuple[tuple[str, str, str], ...] = (
    ("config", "ds01.cli.commands", "configuration commands"),
    ("limits", "ds01.cli.commands", "a user's effective limits and group"),
    ("gpu", "ds01.cli.gpu_cmd", "GPU and MIG allocation"),
    ("container", "ds01.cli.container_cmd", "run and manage your containers"),
    ("report", "ds01.cli.report_cmd", "usage accounting from the allocation history"),
    ("metrics", "ds01.cli.report_cmd", "metrics snapshots"),
    ("exporter", "ds01.cli.report_cmd", "serve Prometheus metrics over HTTP"),
    ("setup", "ds01.cli.report_cmd", "prepare the server (admin)"),
    ("slices", "ds01.cli.slices_cmd", "systemd slice units from the policy"),
    ("demo", "ds01.cli.demo_cmd", "replay the worked examples on a simulated server"),
)


def register(sub, common, wanted: str | None = None,
             everything: bool = True) -> None:
    """Define the commands: all of them in full, or only ``wanted`` in full and the others as
    one-line stubs (enough for ``ds01 --help`` and for rejecting a misspelt command).

    Every command module has ``register(sub, common, json_flag)`` (this one: ``register_core``).
    """
    import importlib

    done: set[str] = set()
    for name, module, _text in TOP_LEVEL:
        if (everything or name == wanted) and module not in done:
            done.add(module)
            mod = importlib.import_module(module)
            fn = mod.register_core if module == __name__ else mod.register
            fn(sub, common, json_flag)


def register_core(sub, common, json_flag) -> None:
    """``ds01 config check`` and ``ds01 limits``."""
    cfg = sub.add_parser("config", help="configuration commands", parents=[common])
    cfg_sub = cfg.add_subparsers(dest="config_command", metavar="COMMAND", required=True)
    check = cfg_sub.add_parser(
        "check", parents=[common], help="validate the policy file",
        description="Validate the policy file. Prints FILE:LINE: key: message for each problem "
        "and exits 2, or exits 0 when the file is valid.")
    json_flag(check)
    check.set_defaults(handler=cmd_config_check)

    lim = sub.add_parser(
        "limits", parents=[common], help="a user's effective limits and group",
        description="Show USER's effective limits: defaults, then the group's, then the "
        "user's override.")
    lim.add_argument("user", metavar="USER")
    lim.add_argument("--priority", action="store_true", help="print only the priority number")
    json_flag(lim)
    lim.set_defaults(handler=cmd_limits)


def cmd_config_check(args) -> int:
    from ds01.cli.output import emit_json, out

    svc = service_of(args)
    cfg = svc.config  # raises ConfigError (exit 2) with FILE:LINE lines
    if args.json:
        emit_json({"ok": True, "file": cfg.source, "groups": [g.name for g in cfg.groups],
                   "users": list(cfg.known_users())})
    else:
        out(f"{cfg.source}: OK ({len(cfg.groups)} groups, {len(cfg.known_users())} named users, "
            f"{len(cfg.reservations())} reservations)")
    return EXIT_OK


def cmd_limits(args) -> int:
    from ds01.cli.output import emit_json, out
    from ds01.cli.render import limits_text
    from ds01.errors import UsageError
    from ds01.policy.allocate import USER_NAME

    if not USER_NAME.accepts(args.user):
        raise UsageError(f"{args.user!r} is not a user name",
                         hint="a user name starts with a letter or _, then letters, digits, "
                         "_ . - (at most 32 characters)")
    svc = service_of(args)
    who = svc.effective(args.user)
    if args.priority:
        out(str(who.priority))
    elif args.json:
        emit_json(who.as_dict())
    else:
        out(limits_text(who))
    return EXIT_OK


__all__ = ["register", "json_flag", "service_of", "context_of", "EXIT_REFUSED"]
