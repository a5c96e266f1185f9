"""Reports from the state store: read the history, compute, and (for the daily report) write
``<log dir>/reports/YYYY-MM-DD.md`` and ``.png``. Reads state; never writes it."""

from __future__ import annotations

from ds01.records import record
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path

from ds01.monitor.files import write_atomic
from ds01.monitor.report import KINDS, Report, compute, local_date, local_midnight

REPORTS_DIR = "reports"
DAILY_SECTIONS = ("group", "user", "device")


def history(svc, until: datetime) -> list:
    """Every allocation, release and refusal recorded before ``until``, in time order."""
    with svc.store.read() as tx:
        return tx.events(until=until, kinds=KINDS)


def build_report(svc, since: datetime, until: datetime, by: str = "user",
                 tz: tzinfo | None = None, events: list | None = None) -> Report:
    """The report for ``[since, until)`` from the store of ``svc``."""
    evs = history(svc, until) if events is None else events
    return compute(evs, since, until, by, units_per_gpu=svc.config.gpu.units_per_gpu, tz=tz)


def utilization(svc, since: datetime, until: datetime) -> tuple[dict, int, list[str]]:
    """Utilization points per device from the period's metrics snapshots, how many snapshots
    there were, and the lines that could not be read."""
    from ds01.monitor.metrics import read_snapshots, utilization_series

    snaps = read_snapshots(svc.ctx.log_dir, since, until)
    return utilization_series(snaps.items), len(snaps.items), snaps.problems


def write_plot(svc, report: Report, path: Path):
    """Draw ``report`` with the period's utilization to ``path``; return (PlotData, problems)."""
    from ds01.monitor.plots import plot_report

    util, count, problems = utilization(svc, report.since, report.until)
    return plot_report(report, Path(path), util, count), problems


@record
class DailyReport:
    day: date
    markdown: Path
    plot: Path
    reports: tuple[Report, ...]
    problems: tuple[str, ...] = ()


def yesterday(svc, tz: tzinfo | None = None) -> date:
    return local_date(svc.ctx.now(), tz) - timedelta(days=1)


def write_daily(svc, day: date | None = None, tz: tzinfo | None = None) -> DailyReport:
    """Compile ``day`` (default: yesterday, local time) into the reports directory."""
    from ds01.monitor.report_render import markdown_table, period_text

    day = day or yesterday(svc, tz)
    since, until = local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
    events = history(svc, until)
    reports = tuple(build_report(svc, since, until, by, tz, events) for by in DAILY_SECTIONS)
    out_dir = Path(svc.ctx.log_dir) / REPORTS_DIR
    png = out_dir / f"{day.isoformat()}.png"
    _, problems = write_plot(svc, reports[0], png)
    lines = [f"# ds01 daily report, {day.isoformat()}", "", f"Period: {period_text(reports[0])}",
             "", f"![Allocation and utilization]({png.name})", ""]
    for rep in reports:
        lines += [f"## By {rep.by}", "", markdown_table(rep), ""]
    t = reports[0].totals
    share = "n/a (no requests)" if t.refused_share is None else f"{t.refused_share * 100:.1f}%"
    lines += ["## Summary", "",
              f"- peak concurrent allocations: {t.peak_allocations}",
              f"- peak units held: {t.peak_units}",
              f"- requests: {t.requests}, refused: {t.refused_total} ({share})",
              f"- a MIG instance is 1 unit, a whole GPU {reports[0].units_per_gpu} units; "
              "GPU-hours count whole GPUs only", ""]
    if problems:
        lines += ["## Unreadable metrics lines", "", *(f"- {p}" for p in problems), ""]
    md = write_text(out_dir / f"{day.isoformat()}.md", "\n".join(lines))
    return DailyReport(day, md, png, reports, tuple(problems))


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (0644)."""
    return write_atomic(path, lambda fh: fh.write(text), binary=False, what="report")
