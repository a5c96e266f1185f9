"""``ds01 report``: figures checked against hand-computed unit-hours of the scripted history."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import datetime, timezone

import pytest

from tests.monitor.accounting_history import (  # noqa: F401 (fixtures)
    at, local_zone, scripted, utc_zone,
)

START = at("09:00")

# Hand-computed for [09:00, 12:00) (see the `scripted` fixture's table):
#   alice: a1 09:00-11:30 (2.5 h) + a2 10:30-12:00 (1.5 h), one MIG unit each  = 4.0 unit-h
#   bob:   b1 10:00-10:15 (died; released with the engine's exit time)          = 0.25 unit-h
#   carol: c1 10:00-12:00 on GPU 0, 4 units, 1 whole GPU             = 8.0 unit-h, 2.0 GPU-h
#   frank: f1 11:00-12:00 CPU-only                                                 = 0
BY_USER = {
    "alice": (4.0, 0.0, 2, {"USER_AT_LIMIT": 1}),
    "bob": (0.25, 0.0, 1, {}),
    "carol": (8.0, 2.0, 1, {}),
    "frank": (0.0, 0.0, 1, {}),
}
BY_GROUP = {
    "researcher": (8.0, 2.0, 1, {}),
    "student": (4.25, 0.0, 4, {"USER_AT_LIMIT": 1}),
}


def report_json(ds01, *args: str) -> dict:
    res = ds01.cli("report", "--format", "json", *args)
    assert res.code == 0, res.err
    return res.json()


def rows_of(data: dict) -> dict:
    return {r["key"]: (r["unit_hours"], r["gpu_hours"], r["containers"], r["refused"])
            for r in data["rows"]}


def test_by_user_matches_hand_computed_figures(ds01, scripted):
    data = report_json(ds01, "--since", START, "--by", "user")
    assert data["by"] == "user"
    assert data["since"] == START and data["until"] == at("12:00")
    assert rows_of(data) == BY_USER
    t = data["totals"]
    assert (t["unit_hours"], t["gpu_hours"], t["containers"]) == (12.25, 2.0, 5)
    assert t["refused"] == {"USER_AT_LIMIT": 1}
    assert t["peak_allocations"] == 4  # 11:00-11:30: a1, a2, c1, f1
    assert t["peak_units"] == 6  # a MIG + GPU 0 + a MIG
    assert t["requests"] == 6
    assert t["refused_share"] == pytest.approx(1 / 6, abs=1e-6)
    assert all(isinstance(r["unit_hours"], float) and isinstance(r["gpu_hours"], float)
               for r in data["rows"])


def test_by_group(ds01, scripted):
    assert rows_of(report_json(ds01, "--since", START, "--by", "group")) == BY_GROUP


def test_default_period_is_the_last_30_days_up_to_now(ds01, scripted):
    data = report_json(ds01)
    assert data["since"] == "2026-11-01T12:00:00+00:00" and data["until"] == at("12:00")
    assert rows_of(data) == BY_USER


def test_by_device_splits_time_across_devices(ds01, scripted):
    data = report_json(ds01, "--since", START, "--by", "device")
    hours = {"a1": 2.5, "a2": 1.5, "b1": 0.25}
    expected = defaultdict(float)
    for name, h in hours.items():
        expected[scripted.devices[name][0]] += h  # one MIG instance = 1 unit
    rows = rows_of(data)
    assert rows["0"] == (8.0, 2.0, 1, {})
    for dev, h in expected.items():
        assert rows[dev][0] == pytest.approx(h) and rows[dev][1] == 0.0
    # CPU-only containers and refused requests have no device: they share one row.
    assert rows["(no device)"] == (0.0, 0.0, 1, {"USER_AT_LIMIT": 1})
    assert list(rows)[-1] == "(no device)"
    assert sum(r[0] for r in rows.values()) == pytest.approx(data["totals"]["unit_hours"])


def test_by_device_splits_a_multi_device_container(ds01):
    ds01.set(now=at("09:00"))
    res = ds01.allocate("carol", "pair", "--gpus", "2")
    assert res.code == 0, res.err
    devs = res.json()["devices"]
    assert len(devs) == 2
    ds01.set(now=at("12:00"))
    rows = rows_of(report_json(ds01, "--since", START, "--by", "device"))
    for dev in devs:
        units = 1 if ":" in dev else 4
        assert rows[dev][0] == pytest.approx(3.0 * units) and rows[dev][2] == 1
    user = rows_of(report_json(ds01, "--since", START))["carol"]
    assert user[0] == pytest.approx(sum(3.0 * (1 if ":" in d else 4) for d in devs))
    assert user[2] == 1


def test_clipping_at_since_and_until(ds01, scripted):
    data = report_json(ds01, "--since", at("10:00"), "--until", at("11:00"))
    assert rows_of(data) == {
        "alice": (1.5, 0.0, 2, {"USER_AT_LIMIT": 1}),  # a1 10:00-11:00, a2 10:30-11:00
        "bob": (0.25, 0.0, 1, {}),
        "carol": (4.0, 1.0, 1, {}),
    }  # frank's f1 starts at 11:00: outside [10:00, 11:00)
    t = data["totals"]
    assert (t["unit_hours"], t["gpu_hours"], t["containers"]) == (5.75, 1.0, 4)
    assert (t["requests"], t["refused_share"], t["peak_allocations"]) == (4, 0.25, 3)


def test_period_inside_every_interval(ds01, scripted):
    data = report_json(ds01, "--since", at("11:15"), "--until", at("11:45"))
    assert rows_of(data) == {
        "alice": (0.75, 0.0, 2, {}),  # a1 11:15-11:30, a2 11:15-11:45
        "carol": (2.0, 0.5, 1, {}),
        "frank": (0.0, 0.0, 1, {}),
    }
    assert data["totals"]["requests"] == 0 and data["totals"]["refused_share"] is None


def test_durations_and_later_until(ds01, scripted):
    ds01.set(now=at("14:00"))  # still held: a2, c1 up to now
    data = report_json(ds01, "--since", "5h", "--until", "1h")
    assert data["since"] == START and data["until"] == at("13:00")
    assert rows_of(data)["carol"] == (12.0, 3.0, 1, {})
    assert rows_of(data)["alice"][0] == 2.5 + 2.5


def test_by_day_splits_at_local_midnight(ds01, local_zone):
    local_zone("Europe/Berlin")  # UTC+01:00 in December
    ds01.set(now="2026-12-01T22:30:00+00:00")  # 23:30 in Berlin
    assert ds01.allocate("alice", "late").code == 0
    ds01.set(now="2026-12-02T01:00:00+00:00")  # 02:00 in Berlin
    assert ds01.cli("gpu", "release", "late").code == 0
    data = report_json(ds01, "--since", "2026-12-01T00:00:00+01:00", "--by", "day")
    assert rows_of(data) == {"2026-12-01": (0.5, 0.0, 1, {}), "2026-12-02": (2.0, 0.0, 1, {})}
    # A date without a time is local midnight.
    assert report_json(ds01, "--since", "2026-12-02", "--by", "day")["since"] == \
        "2026-12-02T00:00:00+01:00"


def test_by_day_lists_quiet_days_and_totals_add_up(ds01, scripted):
    data = report_json(ds01, "--since", "2026-11-29T00:00:00+00:00", "--by", "day")
    rows = rows_of(data)
    assert list(rows) == ["2026-11-29", "2026-11-30", "2026-12-01"]
    assert rows["2026-11-29"] == (0.0, 0.0, 0, {})
    assert rows["2026-12-01"] == (12.25, 2.0, 5, {"USER_AT_LIMIT": 1})


def test_compute_by_day_in_an_explicit_zone(ds01):
    from ds01.monitor.report import compute
    from ds01.state.store import Event

    events = [
        Event(ts="2026-12-01T22:30:00+00:00", event="ALLOCATED", user="u", group="g",
              container="c", priority=1, devices=("1:0",), units=1),
        Event(ts="2026-12-02T01:00:00+00:00", event="RELEASED", user="u", group="g",
              container="c", priority=1, devices=("1:0",), units=1,
              meta={"since": "2026-12-01T22:30:00+00:00"}),
    ]
    since = datetime(2026, 12, 1, tzinfo=timezone.utc)
    until = datetime(2026, 12, 3, tzinfo=timezone.utc)
    rep = compute(events, since, until, "day", units_per_gpu=4, tz=timezone.utc)
    assert [(r.key, r.unit_hours) for r in rep.rows] == [("2026-12-01", 1.5),
                                                         ("2026-12-02", 1.0)]


def test_mig_instance_counts_zero_whole_gpus(ds01):
    ds01.set(now=at("09:00"))
    assert ds01.allocate("alice", "m").code == 0
    ds01.set(now=at("11:00"))
    row = rows_of(report_json(ds01, "--since", START))["alice"]
    assert row == (2.0, 0.0, 1, {})


# --------------------------------------------------------------------------- formats


def test_table_format(ds01, scripted):
    res = ds01.cli("report", "--since", START)
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    assert lines[0] == f"ds01 usage by user, {START} to {at('12:00')}"
    alice = next(line for line in lines if line.startswith("alice "))
    assert alice.split()[:4] == ["alice", "4.00", "0.00", "2"]
    assert "USER_AT_LIMIT=1" in alice
    total = next(line for line in lines if line.startswith("TOTAL"))
    assert total.split()[:4] == ["TOTAL", "12.25", "2.00", "5"]
    assert "peak concurrent allocations: 4" in res.out
    assert "requests refused: 16.7% (1 of 6)" in res.out


def test_csv_format(ds01, scripted):
    res = ds01.cli("report", "--since", START, "--format", "csv", "--by", "group")
    assert res.code == 0, res.err
    rows = list(csv.DictReader(io.StringIO(res.out)))
    by_key = {r["group"]: r for r in rows}
    assert set(by_key) == {"researcher", "student", "(total)"}
    assert float(by_key["student"]["unit_hours"]) == 4.25
    assert float(by_key["researcher"]["gpu_hours"]) == 2.0
    assert by_key["student"]["refused_USER_AT_LIMIT"] == "1"
    assert float(by_key["(total)"]["unit_hours"]) == 12.25
    assert by_key["(total)"]["containers"] == "5"


def test_markdown_format(ds01, scripted):
    res = ds01.cli("report", "--since", START, "--format", "markdown")
    assert res.code == 0, res.err
    assert res.out.startswith("# ds01 usage by user\n")
    assert "| user | unit-hours | GPU-hours | containers | refused |" in res.out
    assert "| carol | 8.00 | 2.00 | 1 | 0 |" in res.out
    assert "| **TOTAL** | **12.25** | **2.00** | **5** |" in res.out


def test_json_format_is_plain_json(ds01, scripted):
    res = ds01.cli("report", "--since", START, "--format", "json")
    data = json.loads(res.out)
    assert set(data) == {"since", "until", "by", "rows", "totals"}
    assert set(data["rows"][0]) == {"key", "unit_hours", "gpu_hours", "containers", "refused"}
    assert {"unit_hours", "gpu_hours", "containers", "refused", "peak_allocations",
            "refused_share"} <= set(data["totals"])


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("args", [
    ["--since", "yesterday-ish"],
    ["--since", at("12:00"), "--until", at("10:00")],
    ["--until", "12x"],
    ["--by", "planet"],
])
def test_bad_period_or_options_are_usage_errors(ds01, args):
    res = ds01.cli("report", *args)
    assert res.code == 2
    assert res.err.strip()


def test_parse_moment_forms():
    from ds01.errors import UsageError
    from ds01.monitor.report import parse_moment

    now = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
    assert parse_moment("30d", now).isoformat() == "2026-11-01T12:00:00+00:00"
    assert parse_moment("12h", now).isoformat() == "2026-12-01T00:00:00+00:00"
    assert parse_moment("90m", now).isoformat() == "2026-12-01T10:30:00+00:00"
    assert parse_moment("2w", now).isoformat() == "2026-11-17T12:00:00+00:00"
    assert parse_moment("2026-11-05T10:00:00Z", now).isoformat() == "2026-11-05T10:00:00+00:00"
    assert parse_moment("now", now) == now
    with pytest.raises(UsageError, match="--since 'soon'"):
        parse_moment("soon", now)


# --------------------------------------------------------------------------- pairing


def ev(ts: str, kind: str, container: str, devices=("1:0",), **meta):
    from ds01.state.store import Event

    return Event(ts=at(ts), event=kind, user="u", group="g", container=container, priority=1,
                 devices=tuple(devices), units=len(devices), meta=meta)


def test_intervals_pair_releases_with_their_allocation():
    from ds01.monitor.report import intervals

    got = intervals([
        ev("09:00", "ALLOCATED", "c"),
        ev("10:00", "RELEASED", "c", since=at("09:00")),
        ev("10:30", "ALLOCATED", "c"),  # the name used again
        ev("11:00", "RELEASED", "c"),  # no meta: ends the oldest open one
        ev("11:10", "ALLOCATED", "d"),
        ev("11:05", "RELEASED", "d", since=at("11:10")),  # dated before it began: zero length
        ev("11:20", "RELEASED", "nobody"),  # nothing open: ignored
        ev("11:30", "ALLOCATED", "e"),  # still held
    ])
    spans = [(i.container, i.start.strftime("%H:%M"), i.end and i.end.strftime("%H:%M"))
             for i in got]
    assert spans == [("c", "09:00", "10:00"), ("c", "10:30", "11:00"), ("d", "11:10", "11:10"),
                     ("e", "11:30", None)]


def test_compute_counts_zero_length_and_ignores_events_after_until():
    from ds01.monitor.report import compute

    events = [ev("09:00", "ALLOCATED", "a", ("0",)), ev("09:30", "ALLOCATED", "z"),
              ev("09:30", "RELEASED", "z", since=at("09:30")),
              ev("12:00", "RELEASED", "a", ("0",), since=at("09:00")),
              ev("12:30", "ALLOCATED", "late")]
    since, until = datetime.fromisoformat(at("09:00")), datetime.fromisoformat(at("11:00"))
    rep = compute(events, since, until, "user", units_per_gpu=7)
    assert (rep.totals.unit_hours, rep.totals.gpu_hours) == (14.0, 2.0)  # GPU 0 = 7 units
    assert rep.totals.containers == 2 and rep.totals.requests == 2
    assert rep.totals.peak_allocations == 1
    assert rep.series.unit_hours() == 14.0


def test_cli_choices_match_the_report_code():
    from ds01.cli import report_cmd
    from ds01.monitor.report import BY_CHOICES
    from ds01.monitor.report_render import FORMATS

    assert report_cmd.BY_CHOICES == BY_CHOICES and report_cmd.FORMATS == FORMATS


def test_report_json_flag_is_format_json(ds01):
    a = ds01.cli("report", "--json")
    b = ds01.cli("report", "--format", "json")
    assert a.code == b.code == 0 and a.out == b.out and a.out.lstrip().startswith("{")
