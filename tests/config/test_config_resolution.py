"""Who is who: group resolution, layered limits, reservations in time."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from textwrap import dedent

import pytest

from ds01.config.loader import parse_config
from ds01.config.model import Limits

G = 1024**3

POLICY = dedent(
    """\
    defaults:
      priority: 1
      max_mig_instances: 2
      memory: 32g
      idle_timeout: 24h
      slice_cpus: 24
    default_group: student
    groups:
      student:
        priority: 10
        members: [alice, bob, frank]
        unix_groups: [ds01-students]
      researcher:
        priority: 50
        max_mig_instances: 8
        max_full_gpus: 2
        memory: 64g
        members: [carol, eve, alice]
        unix_groups: [ds01-research]
      helpers:
        priority: 50
        max_mig_instances: 3
        unix_groups: [ds01-research, ds01-help]
      admin:
        priority: 90
        admin: true
        max_mig_instances: null
        max_full_gpus: null
        members: [dave]
    user_overrides:
      alice:
        max_mig_instances: 5
        idle_timeout: null
      eve:
        prefer_full_gpu: true
        slice_memory: 8g
    """
)


@pytest.fixture(scope="module")
def cfg():
    return parse_config(POLICY, "policy.yaml")


@pytest.mark.parametrize(
    "user, unix_groups, group",
    [
        ("bob", (), "student"),  # member
        ("zed", ("ds01-students",), "student"),  # by unix group
        ("carol", (), "researcher"),
        ("alice", (), "researcher"),  # two member lists: highest priority wins
        ("bob", ("ds01-research",), "researcher"),  # member of student, unix group of two at 50
        ("zed", ("ds01-research",), "researcher"),  # tie at 50: the one listed first
        ("zed", ("ds01-help",), "helpers"),
        ("zed", ("ds01-help", "ds01-students"), "helpers"),
        ("dave", ("ds01-research",), "admin"),
        ("nobody", (), "student"),  # default_group
        ("nobody", ("unrelated",), "student"),
    ],
)
def test_group_resolution(cfg, user, unix_groups, group):
    assert cfg.group_of(user, unix_groups).name == group
    assert cfg.effective(user, list(unix_groups)).group == group


def test_tie_goes_to_the_first_listed_whichever_order():
    text = "groups:\n  b: {priority: 5, members: [u]}\n  a: {priority: 5, members: [u]}\n"
    assert parse_config(text, "p.yaml").group_of("u").name == "b"
    text = "groups:\n  a: {priority: 5, members: [u]}\n  b: {priority: 5, members: [u]}\n"
    assert parse_config(text, "p.yaml").group_of("u").name == "a"


def test_group_priority_falls_back_to_defaults():
    text = dedent(
        """\
        defaults: {priority: 20}
        groups:
          low: {priority: 10, members: [u]}
          plain: {members: [u]}
        """
    )
    assert parse_config(text, "p.yaml").group_of("u").name == "plain"  # 20 > 10


def test_no_group_and_no_default_group_is_default():
    cfg = parse_config("defaults: {max_cpus: 4}\ngroups:\n  g: {members: [a]}\n", "p.yaml")
    who = cfg.effective("stranger")
    assert who.group == "default" and who.admin is False
    assert who.limits == Limits(max_cpus=4)
    assert cfg.group_of("stranger") is None


def test_layers_replace_only_what_they_set(cfg):
    alice = cfg.effective("alice")  # researcher + override
    assert alice.limits.priority == 50
    assert alice.limits.max_mig_instances == 5  # override
    assert alice.limits.max_full_gpus == 2  # group
    assert alice.limits.memory == 64 * G  # group
    assert alice.limits.idle_timeout is None  # override sets null = never
    assert alice.limits.slice_cpus == 24  # defaults
    assert alice.limits.max_cpus == Limits().max_cpus  # built-in default
    assert alice.limits.max_tasks == 4096 and alice.limits.slice_memory == 64 * G


def test_defaults_only_user(cfg):
    frank = cfg.effective("frank")
    assert frank.limits == Limits(priority=10, max_mig_instances=2, memory=32 * G,
                                  idle_timeout=86400.0, slice_cpus=24)


def test_admin_and_unlimited(cfg):
    dave = cfg.effective("dave")
    assert dave.admin is True and dave.priority == 90
    assert dave.limits.max_mig_instances is None and dave.limits.max_full_gpus is None
    assert cfg.effective("carol").admin is False


def test_override_flags(cfg):
    eve = cfg.effective("eve")
    assert eve.prefer_full_gpu is True and eve.limits.slice_memory == 8 * G
    assert cfg.effective("carol").prefer_full_gpu is False


def test_override_for_user_in_no_group(cfg):
    cfg2 = parse_config("user_overrides:\n  solo: {max_cpus: 2.5}\n", "p.yaml")
    who = cfg2.effective("solo")
    assert who.group == "default" and who.limits.max_cpus == 2.5


def test_known_users(cfg):
    assert cfg.known_users() == ("alice", "bob", "carol", "dave", "eve", "frank")


def test_as_dict_has_the_new_keys(cfg):
    d = cfg.effective("eve").as_dict()
    assert d["slice_memory"] == 8 * G and d["slice_cpus"] == 24 and d["max_tasks"] == 4096
    assert d["group"] == "researcher" and d["reservation"] is None


# -- reservations ------------------------------------------------------------------------------

RES = dedent(
    """\
    user_overrides:
      john_doe:
        priority: 100
        reservation_start: {start}
        reservation_end: {end}
        reserved_gpus: [0, "2:1", "3", 0]
        reason: "Thesis deadline"
    """
)


@pytest.fixture
def tz_berlin(monkeypatch):
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is not available")
    monkeypatch.setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3")  # Berlin rules, no tz database needed
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_naive_times_are_local(tz_berlin):
    text = RES.format(start='"2025-11-01T00:00:00"', end='"2025-11-08T00:00:00"')
    r = parse_config(text, "p.yaml").overrides["john_doe"].reservation
    assert r.start.utcoffset() == timedelta(hours=1)  # CET in November
    assert r.start == datetime(2025, 10, 31, 23, 0, tzinfo=timezone.utc)
    assert r.end == datetime(2025, 11, 7, 23, 0, tzinfo=timezone.utc)


def test_naive_times_follow_daylight_saving(tz_berlin):
    text = RES.format(start='"2025-07-01T12:00:00"', end='"2025-07-02T12:00:00"')
    r = parse_config(text, "p.yaml").overrides["john_doe"].reservation
    assert r.start == datetime(2025, 7, 1, 10, 0, tzinfo=timezone.utc)  # CEST


@pytest.mark.parametrize(
    "start, expected",
    [
        ('"2025-11-01T00:00:00+05:30"', datetime(2025, 10, 31, 18, 30, tzinfo=timezone.utc)),
        ('"2025-11-01T00:00:00Z"', datetime(2025, 11, 1, tzinfo=timezone.utc)),
        ('"2025-11-01 00:00:00-02:00"', datetime(2025, 11, 1, 2, 0, tzinfo=timezone.utc)),
        ("2025-11-01T00:00:00+00:00", datetime(2025, 11, 1, tzinfo=timezone.utc)),  # unquoted
    ],
)
def test_times_with_offsets_keep_them(tz_berlin, start, expected):
    text = RES.format(start=start, end='"2025-11-08T00:00:00+00:00"')
    r = parse_config(text, "p.yaml").overrides["john_doe"].reservation
    assert r.start == expected and r.start.tzinfo is not None


def test_date_only_is_local_midnight(tz_berlin):
    text = RES.format(start="2025-11-01", end="2025-11-08")
    r = parse_config(text, "p.yaml").overrides["john_doe"].reservation
    assert r.start == datetime(2025, 10, 31, 23, 0, tzinfo=timezone.utc)


def test_reservation_fields_and_window():
    text = RES.format(start='"2025-11-01T00:00:00+00:00"', end='"2025-11-08T00:00:00+00:00"')
    cfg = parse_config(text, "p.yaml")
    r = cfg.overrides["john_doe"].reservation
    assert r.user == "john_doe" and r.reason == "Thesis deadline"
    assert r.gpus == ("0", "2:1", "3")  # ints become ids; repeats dropped
    utc = timezone.utc
    assert not r.active(datetime(2025, 10, 31, 23, 59, 59, tzinfo=utc))
    assert r.active(datetime(2025, 11, 1, tzinfo=utc))  # start is inside
    assert r.active(datetime(2025, 11, 7, 23, 59, 59, tzinfo=utc))
    assert not r.active(datetime(2025, 11, 8, tzinfo=utc))  # end is outside
    assert r.covers("0") and r.covers("0:3") and r.covers("2:1") and r.covers("3:0")
    assert not r.covers("2:0") and not r.covers("1")
    assert cfg.reservations() == (r,)
    assert cfg.effective("john_doe").reservation == r
    assert cfg.effective("john_doe").as_dict()["reservation"]["gpus"] == ["0", "2:1", "3"]


def test_reason_is_optional():
    text = RES.format(start='"2025-11-01T00:00:00Z"', end='"2025-11-02T00:00:00Z"')
    text = text.replace('    reason: "Thesis deadline"\n', "")
    assert parse_config(text, "p.yaml").reservations()[0].reason is None
