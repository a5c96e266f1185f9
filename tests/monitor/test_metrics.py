"""``ds01 metrics collect`` and ``ds01 report daily``: real files under the log directory."""

from __future__ import annotations

import json
from datetime import datetime

from tests.monitor.accounting_history import (  # noqa: F401 (fixtures)
    at, local_zone, scripted, utc_zone,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# A small simulated server whose readings are partly known (our own sample values).
READINGS = """\
description: two GPUs, some readings known
gpus:
  - {index: 0, name: NVIDIA A100-SXM4-80GB, memory_mib: 81920, mig: disabled,
     memory_used_mib: 2048, utilization: 37}
  - {index: 1, name: NVIDIA A100-SXM4-80GB, memory_mib: 81920, mig: enabled,
     instances: [{profile: 2g.20gb, memory_used_mib: 512, utilization: 12}, 2g.20gb]}
"""


def lines_of(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_collect_appends_one_snapshot_per_run(ds01, scripted):
    path = ds01.root / "log" / "metrics" / "2026-12-01.jsonl"
    res = ds01.cli("metrics", "collect")
    assert res.code == 0, res.err
    assert str(path) in res.out
    ds01.set(now=at("12:05"))
    res = ds01.cli("metrics", "collect", "--json")
    assert res.code == 0 and res.json()["file"] == str(path)
    snaps = lines_of(path)
    assert [s["ts"] for s in snaps] == [at("12:00"), at("12:05")]
    snap = snaps[-1]
    assert res.json()["snapshot"] == snap
    devices = {d["id"]: d for d in snap["devices"]}
    assert len(devices) == 13  # GPU 0 whole + 3 x 4 MIG instances
    assert devices["0"]["containers"] == 1 and devices["0"]["units"] == 4
    assert devices[scripted.devices["a2"][0]]["containers"] == 1
    # Held at 12:00: alice a2 (1 unit), carol c1 (GPU 0: 4 units), frank f1 (CPU-only).
    assert snap["users"] == {
        "alice": {"group": "student", "units": 1, "containers": 1},
        "carol": {"group": "researcher", "units": 4, "containers": 1},
        "frank": {"group": "student", "units": 0, "containers": 1},
    }
    assert snap["groups"] == {"researcher": {"units": 4, "containers": 1},
                              "student": {"units": 1, "containers": 2}}


def test_snapshot_keeps_unknown_readings_null(ds01, tmp_path):
    hw = tmp_path / "readings.yaml"
    hw.write_text(READINGS)
    ds01.set(hardware=str(hw))
    res = ds01.cli("metrics", "collect", "--json")
    assert res.code == 0, res.err
    devices = {d["id"]: d for d in res.json()["snapshot"]["devices"]}
    assert devices["0"]["utilization"] == 37 and devices["0"]["memory_used_mib"] == 2048
    assert devices["1:0"]["utilization"] == 12 and devices["1:0"]["memory_used_mib"] == 512
    assert devices["1:1"]["utilization"] is None  # not reported: null, never 0
    assert devices["1:1"]["memory_used_mib"] is None
    assert devices["1:1"]["memory_total_mib"] == 20480


def test_snapshot_file_is_named_by_local_date(ds01, local_zone):
    local_zone("Europe/Berlin")
    ds01.set(now="2026-12-01T23:30:00+00:00")  # already 2 December in Berlin
    assert ds01.cli("metrics", "collect").code == 0
    assert (ds01.root / "log" / "metrics" / "2026-12-02.jsonl").exists()
    assert not (ds01.root / "log" / "metrics" / "2026-12-01.jsonl").exists()


def test_collect_reports_an_unwritable_metrics_dir(ds01):
    (ds01.root / "log").mkdir()
    (ds01.root / "log" / "metrics").write_text("a file where the directory belongs")
    res = ds01.cli("metrics", "collect")
    assert res.code == 3
    assert "metrics" in res.err and "hint:" in res.err


def test_report_daily_compiles_yesterday(ds01, scripted):
    assert ds01.cli("metrics", "collect").code == 0
    ds01.set(now="2026-12-02T00:10:00+00:00")
    res = ds01.cli("report", "daily", "--json")
    assert res.code == 0, res.err
    out = res.json()
    reports = ds01.root / "log" / "reports"
    md, png = reports / "2026-12-01.md", reports / "2026-12-01.png"
    assert out["day"] == "2026-12-01" and out["markdown"] == str(md) and out["plot"] == str(png)
    assert png.read_bytes()[:8] == PNG_SIGNATURE
    text = md.read_text()
    assert text.startswith("# ds01 daily report, 2026-12-01\n")
    assert "![Allocation and utilization](2026-12-01.png)" in text
    for section in ("## By group", "## By user", "## By device"):
        assert section in text
    # Held to midnight: a2 10:30-24:00 (13.5 h), c1 10:00-24:00 (14 h x 4 units).
    assert "| alice | 16.00 | 0.00 | 2 | 1 (USER_AT_LIMIT=1) |" in text
    assert "| carol | 56.00 | 14.00 | 1 | 0 |" in text
    assert out["totals"]["unit_hours"] == 16.0 + 0.25 + 56.0


def test_report_daily_for_a_given_day_and_again(ds01, scripted):
    ds01.set(now="2026-12-05T08:00:00+00:00")
    res = ds01.cli("report", "daily", "--day", "2026-12-01")
    assert res.code == 0, res.err
    md = ds01.root / "log" / "reports" / "2026-12-01.md"
    first = md.read_text()
    assert ds01.cli("report", "daily", "--day", "2026-12-01").code == 0
    assert md.read_text() == first  # compiling again gives the same report
    assert ds01.cli("report", "daily", "--day", "1 Dec").code == 2


def test_read_snapshots_skips_other_days(ds01, scripted):
    from ds01.monitor.metrics import read_snapshots

    assert ds01.cli("metrics", "collect").code == 0
    ds01.set(now="2026-12-02T09:00:00+00:00")
    assert ds01.cli("metrics", "collect").code == 0
    since = datetime.fromisoformat(at("00:00"))
    until = datetime.fromisoformat("2026-12-02T00:00:00+00:00")
    got = read_snapshots(ds01.root / "log", since, until)
    assert [s["ts"] for s in got.items] == [at("12:00")] and got.problems == []
