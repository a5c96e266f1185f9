"""``ds01 report --plot``: a real PNG, drawn from the same numbers as the table."""

from __future__ import annotations

import json

import pytest

from tests.monitor.accounting_history import (  # noqa: F401 (fixtures)
    at, scripted, utc_zone,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
START = at("09:00")


def read_png(path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image as mpimg

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    pixels = mpimg.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 300 and pixels.shape[1] > 500
    return pixels


def service():
    from ds01.context import Context
    from ds01.service import Service

    return Service(Context.build())


def plot_since_start(by: str, path):
    """``write_plot`` of the report by ``by`` from START to now, through a real service."""
    from ds01.monitor.accounting import build_report, write_plot
    from ds01.monitor.report import parse_moment

    svc = service()
    try:
        now = svc.ctx.now()
        return write_plot(svc, build_report(svc, parse_moment(START, now), now, by), path)
    finally:
        svc.close()


def test_plot_file_is_a_png_and_table_output_is_unchanged(ds01, scripted, tmp_path):
    png = tmp_path / "out" / "usage.png"
    res = ds01.cli("report", "--since", START, "--format", "json", "--plot", str(png))
    assert res.code == 0, res.err
    json.loads(res.out)  # stdout stays pure JSON; the plot note goes to stderr
    assert f"plot written to {png}" in res.err
    pixels = read_png(png)
    assert pixels[..., :3].std() > 0.01  # not a blank canvas


def test_plot_data_come_from_the_report_numbers(ds01, scripted, tmp_path):
    from ds01.monitor.accounting import build_report
    from ds01.monitor.plots import plot_report
    from ds01.monitor.report import parse_moment

    table = ds01.cli("report", "--since", START, "--by", "group", "--format", "json").json()
    svc = service()
    try:
        now = svc.ctx.now()
        rep = build_report(svc, parse_moment(START, now), now, "group")
    finally:
        svc.close()
    data = plot_report(rep, tmp_path / "g.png")
    read_png(tmp_path / "g.png")
    assert data.title.startswith("ds01 GPU allocation, 2026-12-01 09:00 to 2026-12-01 12:00")
    groups = {r["key"]: r["unit_hours"] for r in table["rows"]}
    assert set(data.units) == set(groups)
    for group, hours in groups.items():
        assert data.unit_hours(group) == pytest.approx(hours)  # the area under each band
    assert data.unit_hours() == pytest.approx(table["totals"]["unit_hours"])  # 12.25
    peak = max(sum(step) for step in zip(*data.units.values()))
    assert peak == table["totals"]["peak_units"]
    assert data.times[0].isoformat() == START and data.times[-1].isoformat() == at("12:00")


def test_plot_without_metrics_says_so(ds01, scripted, tmp_path):
    from matplotlib.figure import Figure

    from ds01.monitor.plots import NO_METRICS, _draw_utilization

    data, problems = plot_since_start("user", tmp_path / "u.png")
    assert data.utilization == {} and data.snapshots == 0 and problems == []
    read_png(tmp_path / "u.png")
    ax = Figure().subplots()  # the utilization panel, drawn as in the file
    _draw_utilization(ax, data, data.times[0].tzinfo)
    assert [t.get_text() for t in ax.texts] == [NO_METRICS] == ["no metrics collected"]


def write_snapshots(log_dir, points):
    """Metrics lines in the format `ds01 metrics collect` writes (our own sample values)."""
    lines = []
    for ts, util in points:
        lines.append(json.dumps({
            "ts": ts, "source": "test", "mode": "mig", "users": {}, "groups": {},
            "devices": [
                {"id": "0", "kind": "gpu", "gpu": 0, "profile": None, "units": 4,
                 "utilization": util, "memory_used_mib": 1024, "memory_total_mib": 81920,
                 "allocatable": True, "containers": 1},
                {"id": "1:0", "kind": "mig", "gpu": 1, "profile": "2g.20gb", "units": 1,
                 "utilization": None, "memory_used_mib": None, "memory_total_mib": 20480,
                 "allocatable": True, "containers": 0},
            ]}))
    path = log_dir / "metrics" / "2026-12-01.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\nnot json at all\n")
    return path


def test_plot_uses_metrics_snapshots_of_the_period(ds01, scripted, tmp_path):
    path = write_snapshots(ds01.root / "log", [(at("08:00"), 5.0), (at("10:00"), 40.0),
                                               (at("10:05"), 55.5), (at("11:55"), 90.0)])
    data, problems = plot_since_start("group", tmp_path / "m.png")
    assert data.snapshots == 3  # 08:00 is before the period
    assert [v for _, v in data.utilization["0"]] == [40.0, 55.5, 90.0]
    assert "1:0" not in data.utilization  # no utilization reported: no points, never 0
    assert problems == [f"{path}:5: not a metrics snapshot"]
    read_png(tmp_path / "m.png")
    res = ds01.cli("report", "--since", START, "--plot", str(tmp_path / "cli.png"))
    assert res.code == 0 and "unreadable metrics line skipped" in res.err
