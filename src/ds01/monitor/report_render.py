"""A ``Report`` as text: an aligned table, CSV, JSON or Markdown (strings only, no I/O)."""

from __future__ import annotations

import csv
import io
import json

from ds01.errors import UsageError
from ds01.monitor.report import Report, Row

FORMATS = ("table", "csv", "json", "markdown")
TOTAL_KEY = "(total)"


def render(report: Report, fmt: str = "table") -> str:
    """``report`` in one of ``FORMATS`` (no trailing newline)."""
    if fmt == "table":
        return render_table(report)
    if fmt == "csv":
        return render_csv(report)
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2)
    if fmt == "markdown":
        return render_markdown(report)
    raise UsageError(f"unknown report format {fmt!r}", hint=f"use one of: {', '.join(FORMATS)}")


def period_text(report: Report) -> str:
    since = report.since.isoformat(timespec="seconds")
    return f"{since} to {report.until.isoformat(timespec='seconds')}"


def _hours(value: float) -> str:
    return f"{value:.2f}"


def _refused_text(row: Row) -> str:
    if not row.refused:
        return "0"
    parts = ", ".join(f"{reason}={n}" for reason, n in sorted(row.refused.items()))
    return f"{row.refused_total} ({parts})"


def _share_text(report: Report) -> str:
    share = report.totals.refused_share
    if share is None:
        return "no requests in the period"
    return f"{share * 100:.1f}% ({report.totals.refused_total} of {report.totals.requests})"


def _cells(row: Row, key: str | None = None) -> list[str]:
    return [row.key if key is None else key, _hours(row.unit_hours), _hours(row.gpu_hours),
            str(row.containers), _refused_text(row)]


def _header(report: Report) -> list[str]:
    return [report.by, "unit-hours", "GPU-hours", "containers", "refused"]


def _summary_lines(report: Report) -> list[str]:
    t = report.totals
    return [
        f"peak concurrent allocations: {t.peak_allocations} (peak units held: {t.peak_units})",
        f"requests refused: {_share_text(report)}",
        f"unit = one MIG instance; a whole GPU = {report.units_per_gpu} units; "
        "GPU-hours count whole GPUs only",
    ]


def render_table(report: Report) -> str:
    lines = [_header(report)] + [_cells(r) for r in report.rows]
    lines.append(_cells(report.totals, "TOTAL"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]

    def fmt(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        middle = [c.rjust(w) for c, w in zip(cells[1:4], widths[1:4])]
        return "  ".join([first, *middle, cells[4]]).rstrip()

    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    body = [fmt(lines[0]), rule, *(fmt(c) for c in lines[1:-1]), rule, fmt(lines[-1])]
    head = f"ds01 usage by {report.by}, {period_text(report)}"
    return "\n".join([head, "", *body, "", *_summary_lines(report)])


def _reasons(report: Report) -> list[str]:
    return sorted(report.totals.refused)


def render_csv(report: Report) -> str:
    """One line per row and a last line keyed ``(total)``; one column per refusal reason."""
    reasons = _reasons(report)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([report.by, "unit_hours", "gpu_hours", "containers", "refused",
                *(f"refused_{r}" for r in reasons)])
    for row, key in [*((r, r.key) for r in report.rows), (report.totals, TOTAL_KEY)]:
        w.writerow([key, f"{row.unit_hours:.6f}", f"{row.gpu_hours:.6f}", row.containers,
                    row.refused_total, *(row.refused.get(r, 0) for r in reasons)])
    return buf.getvalue().rstrip("\n")


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table(report: Report) -> str:
    """The rows and totals as a Markdown table (no heading)."""
    out = ["| " + " | ".join(_header(report)) + " |", "|---|---:|---:|---:|---|"]
    for r in report.rows:
        out.append("| " + " | ".join(_md_escape(c) for c in _cells(r)) + " |")
    total = _cells(report.totals, "TOTAL")
    out.append("| " + " | ".join(f"**{_md_escape(c)}**" for c in total) + " |")
    return "\n".join(out)


def render_markdown(report: Report, title: str | None = None) -> str:
    heading = title or f"ds01 usage by {report.by}"
    lines = [f"# {heading}", "", f"Period: {period_text(report)}", "", markdown_table(report), ""]
    lines += [f"- {line}" for line in _summary_lines(report)]
    return "\n".join(lines)
