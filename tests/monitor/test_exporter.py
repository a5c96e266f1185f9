"""``ds01 exporter``: a real HTTP server on loopback, scraped and parsed as Prometheus text."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.monitor.accounting_history import (  # noqa: F401 (fixtures)
    at, scripted, utc_zone,
)

READINGS = """\
description: two GPUs, some readings known
gpus:
  - {index: 0, name: NVIDIA A100-SXM4-80GB, memory_mib: 81920, mig: disabled,
     memory_used_mib: 2048, utilization: 37}
  - {index: 1, name: NVIDIA A100-SXM4-80GB, memory_mib: 81920, mig: enabled,
     instances: [{profile: 2g.20gb, memory_used_mib: 512}, 2g.20gb]}
"""


def make_service():
    from ds01.context import Context
    from ds01.service import Service

    return Service(Context.build())


@pytest.fixture
def exporter(ds01):
    """The exporter serving on 127.0.0.1 (a free port) in a thread; yields its URL."""
    from ds01.monitor.exporter import serve

    server, thread, collector = serve(make_service, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.server_port}/metrics", collector
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def scrape(url: str) -> dict:
    """Sample name -> {labels tuple: value}, parsed with prometheus_client's own parser."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        body = resp.read().decode()
    out: dict = {"__types__": {}}
    for fam in text_string_to_metric_families(body):
        out["__types__"][fam.name] = fam.type
        for s in fam.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def value(metrics: dict, name: str, **labels) -> float | None:
    return metrics.get(name, {}).get(tuple(sorted(labels.items())))


def test_counters_follow_the_history(ds01, scripted, exporter):
    url, collector = exporter
    m = scrape(url)
    assert collector.last_errors == {}
    types = m["__types__"]
    assert types["ds01_allocations"] == "counter" and types["ds01_refusals"] == "counter"
    assert types["ds01_releases"] == "counter" and types["ds01_decision_seconds"] == "histogram"
    # a1, b1, a2, f1 (students) and c1 (researcher) were allocated; a3 refused; a1, b1 released
    assert value(m, "ds01_allocations_total", group="student") == 4
    assert value(m, "ds01_allocations_total", group="researcher") == 1
    assert value(m, "ds01_refusals_total", reason="USER_AT_LIMIT", group="student") == 1
    assert value(m, "ds01_releases_total", group="student") == 2
    assert value(m, "ds01_units_held", group="student") == 1  # a2; f1 is CPU-only
    assert value(m, "ds01_units_held", group="researcher") == 4
    assert value(m, "ds01_units_held", group="admin") == 0
    assert value(m, "ds01_containers_held", group="student") == 2


def test_counters_move_after_an_allocation(ds01, exporter):
    url, _ = exporter
    before = scrape(url)
    assert value(before, "ds01_allocations_total", group="researcher") is None
    assert value(before, "ds01_device_containers", device="0", gpu="0", profile="whole") == 0
    assert ds01.allocate("carol", "big", "--full-gpu").code == 0
    after = scrape(url)
    assert value(after, "ds01_allocations_total", group="researcher") == 1
    assert value(after, "ds01_units_held", group="researcher") == 4
    assert value(after, "ds01_device_containers", device="0", gpu="0", profile="whole") == 1
    assert ds01.cli("gpu", "release", "big").code == 0
    again = scrape(url)
    assert value(again, "ds01_releases_total", group="researcher") == 1
    assert value(again, "ds01_units_held", group="researcher") == 0


def test_device_series_and_unknown_memory_is_left_out(ds01, tmp_path, exporter):
    hw = tmp_path / "readings.yaml"
    hw.write_text(READINGS)
    ds01.set(hardware=str(hw))
    url, _ = exporter
    m = scrape(url)
    assert value(m, "ds01_device_allocatable", device="0") == 1
    assert value(m, "ds01_device_containers", device="1:0", gpu="1", profile="2g.20gb") == 0
    assert value(m, "ds01_device_memory_used_bytes", device="0") == 2048 * 1024 * 1024
    assert value(m, "ds01_device_memory_used_bytes", device="1:0") == 512 * 1024 * 1024
    assert value(m, "ds01_device_memory_used_bytes", device="1:1") is None  # never 0
    assert value(m, "ds01_device_memory_total_bytes", device="1:1") == 20480 * 1024 * 1024
    assert value(m, "ds01_device_utilization_ratio", device="0") == pytest.approx(0.37)
    assert value(m, "ds01_device_utilization_ratio", device="1:0") is None


def test_decision_histogram_from_recorded_durations(ds01, exporter):
    from ds01.state.store import Event, Store

    with Store(ds01.root / "state" / "state.db") as store, store.write() as tx:
        for i, seconds in enumerate((0.004, 0.02, 0.3)):
            tx.add_event(Event(ts=at("09:00"), event="ALLOCATED", user="alice", group="student",
                               container=f"c{i}", priority=10, devices=("1:0",), units=1,
                               meta={"decision_seconds": seconds}))
        tx.add_event(Event(ts=at("09:01"), event="REJECTED", user="bob", group="student",
                           container="x", priority=10, reason="NO_CAPACITY",
                           meta={"decision_seconds": 2.0}))
        tx.add_event(Event(ts=at("09:02"), event="ALLOCATED", user="bob", group="student",
                           container="old", priority=10))  # recorded before durations existed
    url, _ = exporter
    m = scrape(url)
    assert value(m, "ds01_decision_seconds_count") == 4
    assert value(m, "ds01_decision_seconds_sum") == pytest.approx(2.324)
    assert value(m, "ds01_decision_seconds_bucket", le="0.005") == 1
    assert value(m, "ds01_decision_seconds_bucket", le="0.025") == 2
    assert value(m, "ds01_decision_seconds_bucket", le="0.5") == 3
    assert value(m, "ds01_decision_seconds_bucket", le="+Inf") == 4
    assert value(m, "ds01_allocations_total", group="student") == 4
    assert value(m, "ds01_refusals_total", reason="NO_CAPACITY", group="student") == 1


def test_per_user_series_only_when_switched_on(ds01, scripted, exporter):
    url, _ = exporter
    off = scrape(url)
    assert not [name for name in off if name.startswith("ds01_user_")]
    text = ds01.config.read_text()
    assert "per_user_metrics: false" in text
    ds01.config.write_text(text.replace("per_user_metrics: false", "per_user_metrics: true"))
    on = scrape(url)
    assert value(on, "ds01_user_units_held", user="carol") == 4
    assert value(on, "ds01_user_containers_held", user="frank") == 1
    assert value(on, "ds01_user_allocations_total", user="alice") == 2
    assert value(on, "ds01_user_refusals_total", user="alice", reason="USER_AT_LIMIT") == 1


def test_broken_hardware_keeps_the_counters(ds01, scripted, exporter, tmp_path):
    ds01.set(hardware=str(tmp_path / "missing.yaml"))
    url, collector = exporter
    m = scrape(url)
    assert value(m, "ds01_allocations_total", group="student") == 4
    assert value(m, "ds01_collect_success", part="history") == 1
    assert value(m, "ds01_collect_success", part="devices") == 0
    assert "devices" in collector.last_errors
    assert "ds01_device_allocatable" not in m


def test_counters_survive_a_restart(ds01, scripted):
    from ds01.monitor.exporter import serve

    seen = []
    for _ in range(2):
        server, thread, _ = serve(make_service, "127.0.0.1", 0)
        try:
            seen.append(scrape(f"http://127.0.0.1:{server.server_port}/metrics"))
        finally:
            server.shutdown()
            server.server_close()
    for name in ("ds01_allocations_total", "ds01_refusals_total", "ds01_releases_total"):
        assert seen[0][name] == seen[1][name] and seen[0][name]


def test_listen_parsing():
    from ds01.errors import UsageError
    from ds01.monitor.exporter import parse_listen

    assert parse_listen("127.0.0.1:9401") == ("127.0.0.1", 9401)
    assert parse_listen("[::1]:9401") == ("::1", 9401)
    for bad in ("9401", "127.0.0.1", "127.0.0.1:http", ":9401", "127.0.0.1:70000"):
        with pytest.raises(UsageError):
            parse_listen(bad)


@pytest.mark.slow
def test_exporter_command_as_a_process(ds01, scripted):
    exe = Path(sys.executable).parent / "ds01"
    proc = subprocess.Popen([str(exe), "exporter", "--listen", "127.0.0.1:0"],
                            env={**os.environ, **ds01.env}, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stderr], [], [], 30)
        assert ready, "the exporter did not say where it listens"
        line = proc.stderr.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/metrics", line)
        assert found, line
        url = f"http://127.0.0.1:{found.group(1)}/metrics"
        m = scrape(url)
        assert value(m, "ds01_allocations_total", group="researcher") == 1
        ds01.set(now=at("12:30"))
        assert ds01.allocate("eve", "e1").code == 0  # another process's decision
        assert value(scrape(url), "ds01_allocations_total", group="researcher") == 2
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_listen_on_a_busy_port_is_a_usage_error(ds01, exporter):
    url, _ = exporter
    port = url.split(":")[2].split("/")[0]
    res = ds01.cli("exporter", "--listen", f"127.0.0.1:{port}")
    assert res.code == 2 and "cannot listen on 127.0.0.1" in res.err
    assert scrape(url)


def test_counters_continue_between_scrapes_and_restart_with_a_new_store(ds01, exporter):
    """Each scrape counts only the events added since the last one; a store that was
    replaced (the last event counted is gone) is counted again from the start."""
    url, _collector = exporter
    assert ds01.allocate("alice", "t1").code == 0
    assert value(scrape(url), "ds01_allocations_total", group="student") == 1
    assert ds01.allocate("bob", "t2").code == 0
    assert ds01.allocate("frank", "t3").code == 0
    m = scrape(url)
    assert value(m, "ds01_allocations_total", group="student") == 3
    assert value(m, "ds01_decision_seconds_count") == 3
    state = ds01.root / "state"
    for leftover in state.glob("state.db*"):
        leftover.unlink()
    assert ds01.allocate("carol", "t4").code == 0
    m = scrape(url)
    assert value(m, "ds01_allocations_total", group="student") is None
    assert value(m, "ds01_allocations_total", group="researcher") == 1
