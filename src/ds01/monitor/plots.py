"""The report as a picture: units held per group (stacked) and utilization per device.

``plot_data`` turns a ``Report`` (the same object the table is printed from) and the metrics
snapshots into the exact arrays that are drawn; ``draw`` writes them as a PNG with matplotlib
(imported here, lazily, on the Agg backend).
"""

from __future__ import annotations

from ds01.records import record
from datetime import datetime, timedelta
from pathlib import Path

from ds01.monitor.files import write_atomic
from ds01.monitor.report import Report

NO_METRICS = "no metrics collected"
NO_UTILIZATION = "no utilization reported in {n} metrics snapshots"
NO_ALLOCATIONS = "no allocations in this period"


@record
class PlotData:
    """What the picture shows. ``units[g][i]`` holds on ``[times[i], times[i+1])``; the last
    value repeats the one before it, as a step plot needs."""

    title: str
    times: tuple[datetime, ...]
    units: dict  # group -> tuple[int, ...], len(times) values
    utilization: dict  # device id -> tuple[(datetime, percent), ...]
    units_per_gpu: int
    snapshots: int = 0  # metrics snapshots found in the period

    def unit_hours(self, group: str | None = None) -> float:
        """Area under one group's band (or all bands), in unit-hours."""
        total = 0.0
        for g in ([group] if group is not None else list(self.units)):
            values = self.units[g]
            for i in range(len(self.times) - 1):
                total += values[i] * (self.times[i + 1] - self.times[i]).total_seconds() / 3600
        return total


def _offset(moment: datetime) -> str:
    """``UTC``, ``UTC+01:00``, ``UTC-05:30``: the zone of ``moment`` for labels."""
    minutes = int((moment.utcoffset() or timedelta(0)).total_seconds() // 60)
    if minutes == 0:
        return "UTC"
    sign, minutes = ("+" if minutes > 0 else "-"), abs(minutes)
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def plot_data(report: Report, utilization: dict | None = None, snapshots: int = 0) -> PlotData:
    """The arrays to draw, taken from ``report.series`` (the computation behind the table)."""
    s = report.series
    units = {g: tuple(v) + (v[-1] if v else 0,) for g, v in s.units.items()}
    since, until = report.since, report.until
    title = (f"ds01 GPU allocation, {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} "
             f"({_offset(since)})")
    util = {dev: tuple(points) for dev, points in sorted((utilization or {}).items())}
    return PlotData(title, tuple(s.times), units, util, report.units_per_gpu, snapshots)


def _local(moments, tz) -> list[datetime]:
    """Naive datetimes in the period's zone, so the axis shows the period's clock time."""
    return [m.astimezone(tz).replace(tzinfo=None) for m in moments]


def draw(data: PlotData, path: Path) -> Path:
    """Write ``data`` as a PNG at ``path`` (replaced atomically); return ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    tz = data.times[0].tzinfo
    fig = Figure(figsize=(11, 7.5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    x = _local(data.times, tz)
    if data.units:
        groups = list(data.units)
        top.stackplot(x, *(data.units[g] for g in groups), labels=groups, step="post",
                      alpha=0.85)
        top.legend(loc="upper left", fontsize="small", title="group")
    else:
        top.text(0.5, 0.5, NO_ALLOCATIONS, transform=top.transAxes, ha="center", va="center")
    top.set_ylabel(f"units held\n(MIG instance = 1, GPU = {data.units_per_gpu})")
    top.set_title("Allocation per group (stacked)")
    top.set_ylim(bottom=0)
    _draw_utilization(bottom, data, tz)
    bottom.set_xlim(x[0], x[-1])
    bottom.set_xlabel(f"time ({_offset(data.times[0])})")
    fig.suptitle(data.title, fontsize="large")
    fig.autofmt_xdate()
    return _save(fig, Path(path))


def _draw_utilization(ax, data: PlotData, tz) -> None:
    ax.set_title("Utilization per device (from metrics snapshots)")
    ax.set_ylabel("utilization (%)")
    ax.set_ylim(0, 100)
    if not data.utilization:
        text = NO_UTILIZATION.format(n=data.snapshots) if data.snapshots else NO_METRICS
        ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center")
        return
    for dev, points in data.utilization.items():
        ax.plot(_local([p[0] for p in points], tz), [p[1] for p in points],
                label=f"device {dev}", marker="." if len(points) < 50 else None)
    ax.legend(loc="upper left", fontsize="small", ncol=max(1, len(data.utilization) // 8))


def _save(fig, path: Path) -> Path:
    return write_atomic(path, lambda fh: fig.savefig(fh, format="png", dpi=100), binary=True,
                        what="plot")


def plot_report(report: Report, path: Path, utilization: dict | None = None,
                snapshots: int = 0) -> PlotData:
    """Draw ``report`` (and the utilization points) to ``path``; return what was drawn."""
    data = plot_data(report, utilization, snapshots)
    draw(data, path)
    return data
