"""``ds01 gpu status|allocate|release``."""

from __future__ import annotations

from ds01.errors import EXIT_OK, EXIT_REFUSED


def register(sub, common, json_flag) -> None:
    gpu = sub.add_parser("gpu", parents=[common], help="GPU and MIG allocation",
                         description="See and change who holds which GPU or MIG instance.")
    gsub = gpu.add_subparsers(dest="gpu_command", metavar="COMMAND", required=True)

    st = gsub.add_parser(
        "status", parents=[common], help="every device and who is on it",
        description="Every device: id, profile, utilization, memory, containers (user, "
        "priority, age), reservation, warnings. Free devices are marked AVAILABLE. Colour on "
        "a terminal; plain text when piped or when NO_COLOR is set.")
    st.add_argument("--watch", nargs="?", type=float, const=2.0, default=None,
                    metavar="SECONDS",
                    help="redraw every SECONDS (default 2) until Ctrl-C; status is read anew "
                    "each time")
    st.add_argument("--mine", action="store_true",
                    help="only your containers, and what you could start right now")
    st.add_argument("--user", metavar="NAME", default=None,
                    help="with --mine: look as NAME instead of yourself (implies --mine)")
    json_flag(st)
    st.set_defaults(handler=cmd_status)

    al = gsub.add_parser(
        "allocate", parents=[common], help="decide and record an allocation (admin)",
        description="Decide which device(s) CONTAINER of USER gets, and record it. "
        "Allocating again for a container that already holds devices returns them unchanged.")
    al.add_argument("user", metavar="USER")
    al.add_argument("container", metavar="CONTAINER")
    al.add_argument("--gpus", type=int, default=1, metavar="N",
                    help="number of devices (default 1)")
    al.add_argument("--full-gpu", action="store_true", help="ask for whole GPUs")
    al.add_argument("--cpu-only", action="store_true",
                    help="no device; counts only against the container limit")
    json_flag(al)
    al.set_defaults(handler=cmd_allocate)

    rl = gsub.add_parser("release", parents=[common], help="release a container's devices (admin)",
                         description="Release CONTAINER's allocation. Releasing a container "
                         "that holds nothing succeeds and says so.")
    rl.add_argument("container", metavar="CONTAINER")
    json_flag(rl)
    rl.set_defaults(handler=cmd_release)


def _state_readable(args) -> bool:
    """Can this process read the store? SQLite's WAL mode needs to create files beside it."""
    import os

    from ds01.cli.commands import context_of

    state = context_of(args).state_dir
    while not state.exists() and state != state.parent:
        state = state.parent
    return os.access(state, os.W_OK)


def _viewer(args) -> str | None:
    """Whose view ``--mine`` / ``--user`` asks for (None: the whole server).

    A caller who cannot read the store (it belongs to root on a real server) is re-run through
    ``sudo -n`` like the launcher. Under sudo the installation's paths are fixed and only
    administrators may look as someone else.
    """
    import os

    if os.geteuid() == 0 and not os.environ.get("SUDO_USER"):
        return (args.user or _root_name()) if (args.mine or args.user) else None
    from ds01.cli.identity import become_root, caller, refuse_path_options

    if os.geteuid() != 0 and not _state_readable(args):
        become_root()
    who = caller()
    refuse_path_options(args, who)
    if args.user and args.user != who.user and who.via_sudo:
        from ds01.cli.commands import service_of
        from ds01.errors import Refusal

        if not service_of(args).effective(who.user).admin:
            raise Refusal(f"only administrators may look as another user (--user {args.user})",
                          hint="use --mine to see your own containers", code="NOT_PERMITTED")
    return (args.user or who.user) if (args.mine or args.user) else None


def _root_name() -> str:
    from ds01.monitor.mine import caller_name

    return caller_name()


def cmd_status(args) -> int:
    """One dashboard (or JSON), or with --watch one per interval until Ctrl-C (exit 0)."""
    import os
    import sys

    from ds01.cli.commands import service_of
    from ds01.cli.output import emit_json, out, use_color
    from ds01.errors import UsageError

    if args.watch is not None and args.json:
        raise UsageError("--watch redraws for people and --json prints once for programs",
                         hint="drop one of --watch and --json")
    user = _viewer(args)
    if args.json:
        from ds01.service.gpu import status

        svc = service_of(args)
        try:
            if user is None:
                emit_json(status(svc).to_dict())
            else:
                from ds01.monitor.mine import status_data

                emit_json(status_data(svc, user))
        finally:
            svc.close()
        return EXIT_OK
    from ds01.monitor.dashboard import Frames, terminal_size

    draw = Frames(lambda: service_of(args), user=user, colour=use_color(sys.stdout))
    if args.watch is None:
        out(draw())
        return EXIT_OK
    from ds01.monitor.dashboard_watch import check_interval, iterations_from, watch

    def write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    interval = check_interval(args.watch)
    tty = bool(getattr(sys.stdout, "isatty", lambda: False)())
    watch(draw, write, interval=interval, in_place=tty, rows=lambda: terminal_size()[1],
          iterations=iterations_from(os.environ))
    return EXIT_OK


def cmd_allocate(args) -> int:
    from ds01.cli.commands import service_of
    from ds01.cli.output import emit_json, err, out
    from ds01.cli.render import decision_dict, decision_text, refusal_text
    from ds01.service.gpu import allocate

    svc = service_of(args)
    d = allocate(svc, args.user, args.container, count=args.gpus, full_gpu=args.full_gpu,
                 cpu_only=args.cpu_only)
    if args.json:
        emit_json(decision_dict(d))
    if not d.ok:
        err(refusal_text(d, svc.config.error_messages))
        return EXIT_REFUSED
    if not args.json:
        out(decision_text(d))
    return EXIT_OK


def cmd_release(args) -> int:
    from ds01.cli.commands import service_of
    from ds01.cli.output import emit_json, out
    from ds01.service.gpu import release

    if not args.container.strip():
        from ds01.errors import UsageError

        raise UsageError("CONTAINER is empty", hint="give the name the container was "
                         "allocated under (see ds01 gpu status)")
    r = release(service_of(args), args.container)
    if args.json:
        emit_json(r.to_dict())
    elif r.released:
        out(f"released {r.container}: {', '.join(r.devices) or 'no devices (CPU-only)'}")
    else:
        out(f"{r.container} holds no allocation; nothing to release")
    return EXIT_OK
