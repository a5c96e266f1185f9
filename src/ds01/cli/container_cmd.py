"""``container ...`` (console script) and ``ds01 container ...``: the launcher's commands."""

from __future__ import annotations

import os
import sys

from ds01.errors import EXIT_OK, EXIT_USAGE, Ds01Error

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on every start
if TYPE_CHECKING:  # argparse is imported where a command needs it (the annotations only)
    import argparse

DESCRIPTION = (
    "Run long-lived containers with your GPU or MIG instance, CPU, memory and task limits and "
    "your workspace. Every command acts on your own containers.")
EPILOG = """exit codes: 0 success; 1 refused (limits, NOT_PERMITTED, INVALID_REQUEST);
2 usage or configuration error; 3 environment error (container engine, state store, sudo)"""


def _user_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--user", metavar="USER", default=None,
                   help="act for USER (administrators only)")


#: The sub-commands and their one-line help, in the order ``--help`` lists them.
VERBS: dict[str, str] = {
    "run": "create and start a container",
    "list": "your containers",
    "stop": "stop a container and give its GPU back",
    "start": "start a stopped container with the same devices",
    "rm": "remove a container (running or not) and give its GPU back",
    "shell": "an interactive shell in a container",
    "logs": "a container's output",
}


def add_commands(sub, parents: list, json_flag, wanted: str | None = None) -> None:
    """The launcher's sub-commands, on any argparse sub-parser collection: all of them, or
    only ``wanted`` in full and the others as one-line stubs (argparse costs milliseconds per
    parser, and a container start should not pay for six commands it does not run)."""
    for verb, text in VERBS.items():
        if wanted is None or verb == wanted:
            _BUILDERS[verb](sub, parents, json_flag, verb, text)
        else:
            sub.add_parser(verb, help=text)


def _add_run(sub, parents, json_flag, verb, text) -> None:
    run = sub.add_parser(verb, parents=parents, help=text,
                         description="Allocate a GPU or MIG instance (or none with --cpu-only), "
                         "then create and start NAME from IMAGE, a name from the server's list.")
    run.add_argument("name", metavar="NAME")
    run.add_argument("image", metavar="IMAGE")
    run.add_argument("--gpus", type=int, default=1, metavar="N",
                     help="number of GPU devices (default 1)")
    run.add_argument("--full-gpu", action="store_true", help="whole GPUs, not MIG instances")
    run.add_argument("--cpu-only", action="store_true", help="no GPU at all")
    run.add_argument("--dry-run", action="store_true",
                     help="print the engine call that would be made; change nothing")
    _user_flag(run)
    json_flag(run)
    run.set_defaults(handler=_guard(cmd_run))


def _add_list(sub, parents, json_flag, verb, text) -> None:
    ls = sub.add_parser(verb, parents=parents, help=text,
                        description="Your running containers (--all: stopped ones too): "
                        "state, devices held now, limits, uptime, exit code, OOM-killed.")
    ls.add_argument("--all", "-a", action="store_true", help="include stopped containers")
    _user_flag(ls)
    json_flag(ls)
    ls.set_defaults(handler=_guard(cmd_list))


def _add_change(sub, parents, json_flag, verb, text) -> None:
    p = sub.add_parser(verb, parents=parents, help=text,
                       description=text[0].upper() + text[1:] + ".")
    p.add_argument("name", metavar="NAME")
    _user_flag(p)
    json_flag(p)
    p.set_defaults(handler=_guard(cmd_change), verb=verb)


def _add_shell(sub, parents, json_flag, verb, text) -> None:
    sh = sub.add_parser(verb, parents=parents, help=text,
                        description="Open a shell (bash when the image has it, else sh) in "
                        "your running container NAME, as your own user.")
    sh.add_argument("name", metavar="NAME")
    _user_flag(sh)
    sh.set_defaults(handler=_guard(cmd_shell), json=False)


def _add_logs(sub, parents, json_flag, verb, text) -> None:
    lg = sub.add_parser(verb, parents=parents, help=text,
                        description="What NAME's processes wrote to their output.")
    lg.add_argument("name", metavar="NAME")
    lg.add_argument("--tail", type=int, default=None, metavar="N", help="only the last N lines")
    lg.add_argument("--follow", "-f", action="store_true", help="keep printing new output")
    _user_flag(lg)
    lg.set_defaults(handler=_guard(cmd_logs), json=False)


_BUILDERS = {"run": _add_run, "list": _add_list, "stop": _add_change, "start": _add_change,
             "rm": _add_change, "shell": _add_shell, "logs": _add_logs}


def register(sub, common, json_flag) -> None:
    """``ds01 container ...``."""
    p = sub.add_parser("container", parents=[common], help="run and manage your containers",
                       description=DESCRIPTION, epilog=EPILOG)
    csub = p.add_subparsers(dest="container_command", metavar="COMMAND", required=True)
    add_commands(csub, [common], json_flag)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The ``container`` parser; given ``argv``, only the command it names is built in full.
    ``Parser`` (shared with ``ds01``) measures the terminal without importing ``shutil``."""
    from ds01.cli.commands import json_flag
    from ds01.cli.parser import Parser

    parser = Parser(prog="container", description=DESCRIPTION, epilog=EPILOG)
    sub = parser.add_subparsers(dest="container_command", metavar="COMMAND", required=True)
    wanted = argv[0] if argv and argv[0] in VERBS else None
    add_commands(sub, [], json_flag, wanted=wanted)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The ``container`` console script (``argv`` None), or the command in this process.

    As the console script, a process that lives for one command: the garbage collector is
    off (the process makes few cycles, and collections during the imports cost about a tenth
    of them), and once the output is flushed the process ends with ``os._exit``: the
    interpreter's orderly shutdown frees every module and object one by one, which costs
    about ten milliseconds here and does nothing a finished command needs (the state store
    and the engine connection are closed by then).
    """
    if argv is not None:
        return _run(list(argv))
    import gc

    gc.disable()
    code = _run(sys.argv[1:])
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed pipe: nothing more can be said
    os._exit(code)


def _run(argv: list[str]) -> int:
    from ds01.cli.runargs import parse_run

    args = parse_run(argv, _guard(cmd_run))  # the common case, without argparse
    if args is None:
        try:
            args = build_parser(argv).parse_args(argv)
        except SystemExit as exc:
            return EXIT_OK if exc.code in (0, None) else EXIT_USAGE
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


# --------------------------------------------------------------------------- plumbing


def _guard(handler):
    """Become root (sudo), find the actor, run ``handler``; report errors in this command's
    shapes: ``{"ok": false, "reason", "message"}`` with --json, text on stderr always."""

    def run(args) -> int:
        svc = None
        try:
            from ds01.cli import identity
            from ds01.cli.commands import service_of

            identity.become_root()
            who = identity.caller()
            identity.refuse_path_options(args, who)
            svc = service_of(args)
            actor = identity.actor_for(svc, who, getattr(args, "user", None))
            return handler(args, svc, actor)
        except Ds01Error as exc:
            return _report(exc, args)
        finally:
            if svc is not None:
                svc.close()

    return run


def _report(exc: Ds01Error, args) -> int:
    from ds01.cli.output import emit_json, err, report_error

    as_json = getattr(args, "json", False)
    decision_text = getattr(exc, "text", None)
    if as_json:
        message = exc.message if decision_text is None else f"{exc.message}\n{decision_text}"
        emit_json({"ok": False, "reason": exc.code, "message": message})
    if decision_text is not None:
        err(f"{exc.message}\n{decision_text}".rstrip())
        return exc.exit_code
    return report_error(exc, as_json=False)


# --------------------------------------------------------------------------- handlers


def cmd_run(args, svc, actor) -> int:
    from ds01.cli.output import emit_json, err, out
    from ds01.runtime import format_argv, to_docker_argv
    from ds01.service.containers import run

    res = run(svc, actor, args.name, args.image, count=args.gpus, full_gpu=args.full_gpu,
              cpu_only=args.cpu_only, dry_run=args.dry_run)
    if args.json:
        emit_json(res.to_dict())
        return EXIT_OK
    if res.dry_run:
        out(format_argv(to_docker_argv(res.spec)))
        err(f"dry run: nothing was changed; {res.name} would get {_devices(res)}")
        return EXIT_OK
    out(f"started {res.name} ({res.engine_name}, id {res.container_id[:12]})")
    out(f"  devices: {_devices(res)}")
    out(f"  limits:  {_limits_text(res.spec)}")
    out(f"  next:    container shell {res.name}")
    return EXIT_OK


def _devices(res) -> str:
    if not res.devices:
        return "no GPU (CPU-only)"
    return ", ".join(f"{d} ({u})" for d, u in zip(res.devices, res.uuids))


def _limits_text(spec) -> str:
    from ds01.config.units import format_size

    parts = []
    if spec.cpus is not None:
        parts.append(f"{spec.cpus:g} CPU" + ("" if spec.cpus == 1 else "s"))
    if spec.memory is not None:
        parts.append(f"{format_size(spec.memory)} memory")
    if spec.shm_size is not None:
        parts.append(f"{format_size(spec.shm_size)} /dev/shm")
    if spec.pids_limit is not None:
        parts.append(f"{spec.pids_limit} tasks")
    return ", ".join(parts) or "none"


def cmd_list(args, svc, actor) -> int:
    from ds01.cli.output import emit_json, out
    from ds01.service.views import list_containers

    views = list_containers(svc, actor, all=args.all)
    if args.json:
        emit_json([v.to_dict() for v in views])
        return EXIT_OK
    if not views:
        out("no containers" if args.all else
            "no running containers (container list --all shows stopped ones too)")
        return EXIT_OK
    out(_table(views))
    return EXIT_OK


def _table(views) -> str:
    from ds01.config.units import format_duration, format_size

    head = ("NAME", "STATE", "DEVICES", "CPUS", "MEMORY", "UPTIME", "EXIT", "OOM", "IMAGE")
    rows = [head]
    for v in views:
        lim = v.limits
        rows.append((
            v.name, v.state, ",".join(v.devices) or "-",
            f"{lim['cpus']:g}" if lim.get("cpus") else "-",
            format_size(lim["memory"]) if lim.get("memory") else "-",
            format_duration(round(v.uptime_s)) if v.uptime_s is not None else "-",
            "-" if v.exit_code is None else str(v.exit_code),
            "yes" if v.oom_killed else "no", v.image or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def cmd_change(args, svc, actor) -> int:
    from ds01.cli.output import emit_json, out
    from ds01.service import containers

    act = {"stop": containers.stop, "start": containers.start, "rm": containers.remove}
    res = act[args.verb](svc, actor, args.name)
    if args.json:
        emit_json(res.to_dict())
        return EXIT_OK
    devices = ", ".join(res.devices)
    if res.action == "stopped":
        if res.held_until:
            out(f"stopped {res.name}; its devices are kept for you until {res.held_until}")
        elif not res.changed:
            out(f"{res.name} was not running" + (f"; released {devices}" if devices else ""))
        else:
            out(f"stopped {res.name}" + (f"; released {devices}" if devices else ""))
    elif res.action == "started":
        state = "started" if res.changed else "already running:"
        out(f"{state} {res.name}" + (f" with {devices}" if devices else " (no GPU)"))
    else:
        out(f"removed {res.name}" + (f"; released {devices}" if devices else ""))
    return EXIT_OK


def cmd_shell(args, svc, actor) -> int:
    import os

    from ds01.service.views import shell_argv

    tty = sys.stdin.isatty() and sys.stdout.isatty()
    argv = shell_argv(svc, actor, args.name, tty=tty)
    svc.close()
    sys.stdout.flush()
    os.execvp(argv[0], argv)
    return EXIT_OK  # not reached


def cmd_logs(args, svc, actor) -> int:
    import os

    from ds01.service import views

    if args.follow:
        argv = views.logs_argv(svc, actor, args.name, tail=args.tail)
        svc.close()
        sys.stdout.flush()
        os.execvp(argv[0], argv)
    data = views.logs(svc, actor, args.name, tail=args.tail)
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
