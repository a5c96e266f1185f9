"""``ds01 report``, ``ds01 report daily``, ``ds01 metrics collect``, ``ds01 setup dirs`` and
``ds01 exporter``."""

from __future__ import annotations

from ds01.errors import EXIT_OK

# The same as ds01.monitor.report.BY_CHOICES and report_render.FORMATS (checked by a test);
# spelled out here so that building the parser does not import the report code.
BY_CHOICES = ("user", "group", "device", "day")
FORMATS = ("table", "csv", "json", "markdown")


def register(sub, common, json_flag) -> None:
    _register_report(sub, common, json_flag)
    met = sub.add_parser("metrics", parents=[common], help="metrics snapshots",
                         description="Metrics snapshots for reports and plots.")
    msub = met.add_subparsers(dest="metrics_command", metavar="COMMAND", required=True)
    col = msub.add_parser(
        "collect", parents=[common], help="append one snapshot to today's metrics file",
        description="Take one snapshot (per device: utilization, memory, containers; per user "
        "and group: units and containers held) and append it as a JSON line to "
        "LOG_DIR/metrics/YYYY-MM-DD.jsonl (local date). Run every 5 minutes by "
        "ds01-metrics.timer.")
    json_flag(col)
    col.set_defaults(handler=cmd_metrics_collect)

    setup = sub.add_parser("setup", parents=[common], help="prepare the server (admin)",
                           description="One-time preparation of the server.")
    ssub = setup.add_subparsers(dest="setup_command", metavar="COMMAND", required=True)
    dirs = ssub.add_parser(
        "dirs", parents=[common], help="create the log and state directories",
        description="Create LOG_DIR with metrics/, reports/ and audits/, the state directory, "
        "and the link /opt/ds01-infra/logs -> LOG_DIR, under ROOT. Safe to run again; never "
        "replaces a file or directory that is not a link (exit 2).")
    dirs.add_argument("--root", metavar="DIR", default="/",
                      help="filesystem root to create them under (default /)")
    json_flag(dirs)
    dirs.set_defaults(handler=cmd_setup_dirs)

    exp = sub.add_parser(
        "exporter", parents=[common], help="serve Prometheus metrics over HTTP",
        description="Serve /metrics in the Prometheus text format, computed on every scrape "
        "from the state store and the hardware. Runs until stopped.")
    exp.add_argument("--listen", metavar="HOST:PORT", default="127.0.0.1:9401",
                     help="address to listen on (default 127.0.0.1:9401)")
    exp.set_defaults(handler=cmd_exporter)


def _register_report(sub, common, json_flag) -> None:
    rep = sub.add_parser(
        "report", parents=[common], help="usage accounting from the allocation history",
        description="Unit-hours, whole-GPU-hours, containers, refusals by reason, peak "
        "concurrent allocations and the share of requests refused, over a period. A MIG "
        "instance is 1 unit, a whole GPU is gpu.units_per_gpu units; GPU-hours count whole "
        "GPUs only.")
    rep.add_argument("--since", metavar="WHEN", default="30d",
                     help="start: a duration back from now (30d, 12h, 90m, 2w) or an ISO "
                     "date/time (default 30d)")
    rep.add_argument("--until", metavar="WHEN", default="now",
                     help="end (exclusive), same forms as --since (default now)")
    rep.add_argument("--by", choices=BY_CHOICES, default="user", help="rows (default user)")
    rep.add_argument("--format", choices=FORMATS, default="table",
                     help="output format (default table)")
    rep.add_argument("--plot", metavar="FILE.png", default=None,
                     help="also draw allocation per group and utilization per device as PNG")
    rep.add_argument("--json", dest="format", action="store_const", const="json",
                     help="the same as --format json")
    rep.set_defaults(handler=cmd_report)
    rsub = rep.add_subparsers(dest="report_command", metavar="COMMAND")
    daily = rsub.add_parser(
        "daily", parents=[common], help="write yesterday's report to LOG_DIR/reports",
        description="Compile a day (default yesterday, local time) into "
        "LOG_DIR/reports/YYYY-MM-DD.md and YYYY-MM-DD.png. Run by ds01-report-daily.timer.")
    daily.add_argument("--day", metavar="YYYY-MM-DD", default=None,
                       help="the day to compile (default yesterday)")
    json_flag(daily)
    daily.set_defaults(handler=cmd_report_daily)


def cmd_report(args) -> int:
    from ds01.cli.commands import service_of
    from ds01.cli.output import err, out
    from ds01.monitor.accounting import build_report, write_plot
    from ds01.monitor.report import parse_moment
    from ds01.monitor.report_render import render

    svc = service_of(args)
    now = svc.ctx.now()
    until = parse_moment(args.until, now, "--until")
    since = parse_moment(args.since, now, "--since")
    report = build_report(svc, since, until, args.by)
    out(render(report, args.format))
    if args.plot:
        _, problems = write_plot(svc, report, args.plot)
        for p in problems:
            err(f"warning: unreadable metrics line skipped: {p}")
        err(f"plot written to {args.plot}")
    return EXIT_OK


def cmd_report_daily(args) -> int:
    from datetime import date

    from ds01.cli.commands import service_of
    from ds01.cli.output import emit_json, err, out
    from ds01.errors import UsageError
    from ds01.monitor.accounting import write_daily

    day = None
    if args.day:
        try:
            day = date.fromisoformat(args.day)
        except ValueError:
            raise UsageError(f"--day {args.day!r} is not a date",
                             hint="write it like 2026-12-01") from None
    res = write_daily(service_of(args), day)
    for p in res.problems:
        err(f"warning: unreadable metrics line skipped: {p}")
    if args.json:
        emit_json({"ok": True, "day": res.day.isoformat(), "markdown": str(res.markdown),
                   "plot": str(res.plot), "totals": res.reports[0].totals.to_dict()})
    else:
        out(f"wrote {res.markdown}\nwrote {res.plot}")
    return EXIT_OK


def cmd_metrics_collect(args) -> int:
    from ds01.cli.commands import service_of
    from ds01.cli.output import emit_json, out
    from ds01.monitor.metrics import collect

    snap, path = collect(service_of(args))
    if args.json:
        emit_json({"ok": True, "file": str(path), "snapshot": snap})
    else:
        out(f"appended a snapshot to {path} ({len(snap['devices'])} devices, "
            f"{len(snap['users'])} users holding allocations)")
    return EXIT_OK


def cmd_setup_dirs(args) -> int:
    from pathlib import Path

    from ds01.cli.commands import context_of
    from ds01.cli.output import emit_json, out
    from ds01.service.setup import setup_dirs

    steps = setup_dirs(context_of(args), Path(args.root))
    if args.json:
        emit_json({"ok": True, "root": args.root, "steps": [s.to_dict() for s in steps]})
    else:
        prefix = "" if args.root == "/" else f"(under {args.root})\n"
        out(prefix + "\n".join(str(s) for s in steps))
    return EXIT_OK


def cmd_exporter(args) -> int:
    from ds01.cli.commands import context_of
    from ds01.cli.output import err
    from ds01.errors import Ds01Error
    from ds01.monitor.exporter import parse_listen, serve
    from ds01.service import Service

    host, port = parse_listen(args.listen)
    ctx = context_of(args)
    try:
        Service(ctx).config
    except Ds01Error as exc:
        err(f"warning: {exc.message.splitlines()[0]}; serving anyway (see "
            "ds01_collect_success)")
    server, thread, _ = serve(lambda: Service(ctx), host, port)
    shown = f"[{host}]" if ":" in host else host
    err(f"ds01 exporter: serving http://{shown}:{server.server_port}/metrics")
    try:
        thread.join()
    finally:
        server.shutdown()
    return EXIT_OK
