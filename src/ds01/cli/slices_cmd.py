"""``ds01 slices write``: systemd slice units from the policy."""

from __future__ import annotations


def register(sub, common, json_flag) -> None:
    p = sub.add_parser("slices", parents=[common], help="systemd slice units from the policy")
    ssub = p.add_subparsers(dest="slices_command", metavar="COMMAND", required=True)
    w = ssub.add_parser(
        "write", parents=[common], help="write ds01.slice, group and user slices",
        description="Generate systemd slice units from the policy: ds01.slice, "
        "ds01-<group>.slice with the group's aggregate limits, and ds01-<group>-<user>.slice "
        "for every user the config names (slice_cpus, slice_memory, max_tasks). Units go to "
        "DIR/etc/systemd/system; stale units ds01 wrote earlier are removed. Run "
        "`systemctl daemon-reload` afterwards.")
    w.add_argument("--root", metavar="DIR", default="/",
                   help="filesystem root, as in systemctl --root (default /)")
    w.add_argument("--dry-run", action="store_true", help="print the units, write nothing")
    json_flag(w)
    w.set_defaults(handler=cmd_write)


def cmd_write(args) -> int:
    from pathlib import Path

    from ds01.cli.commands import service_of
    from ds01.cli.output import emit_json, out
    from ds01.service import slices

    svc = service_of(args)
    if args.dry_run:
        units = slices.plan(svc)
        if args.json:
            emit_json({"units": units})
        else:
            for name, text in units.items():
                out(f"### {name}\n{text}")
        return 0
    written, removed = slices.write(svc, Path(args.root))
    if args.json:
        emit_json({"written": [str(p) for p in written], "removed": [str(p) for p in removed]})
    else:
        for p in written:
            out(f"wrote   {p}")
        for p in removed:
            out(f"removed {p}")
        if not written and not removed:
            out("slice units are up to date")
    return 0
