"""``ds01 gpu status --mine``: the caller's containers, and what the policy would give them now."""

from __future__ import annotations

import os
import pwd

from tests.monitor.test_dashboard import NOW, at, check_golden, fill_note_server, scenario1, \
    status_text


def chance_line(text: str, what: str) -> str:
    return next(line for line in text.splitlines() if line.strip().startswith(what + ":"))


def test_golden_mine_alice_scenario1(ds01):
    scenario1(ds01)
    text = status_text(ds01, "--mine", "--user", "alice")
    check_golden("mine_alice", text)
    assert "MIG units: 2/2 | whole GPUs: 0/1 | containers: 3/3" in text
    assert "training1 on MIG" in text and "preprocessing CPU-only" in text
    assert "bob" not in text  # only the caller's containers


def test_mine_only_lists_own_containers(ds01):
    scenario1(ds01)
    at(ds01, NOW, "bob", "bob-job")
    text = status_text(ds01, "--user", "bob")  # --user implies --mine
    assert "bob-job" in text and "training1" not in text and "preprocessing" not in text


def test_mine_free_instance_is_what_allocate_gives(ds01):
    at(ds01, NOW, "alice", "training1")
    text = status_text(ds01, "--mine", "--user", "alice")
    line = chance_line(text, "GPU container")
    assert "yes - a 1-unit MIG instance is free: MIG " in line
    promised = line.split("free: MIG ", 1)[1].split(" ", 1)[0]
    got = ds01.allocate("alice", "training2").json()["devices"]
    assert got == [promised], "--mine must say what allocate then does"


def test_mine_whole_gpu_over_the_unit_limit(ds01):
    text = status_text(ds01, "--mine", "--user", "alice")
    line = chance_line(text, "whole GPU (--full-gpu)")
    assert "no - it costs 4 MIG units, more than your limit of 2 (max_mig_instances)" in line
    assert chance_line(text, "CPU-only container").startswith("  CPU-only container: yes")


def test_mine_at_the_unit_limit(ds01):
    at(ds01, NOW, "alice", "t1")
    at(ds01, NOW, "alice", "t2")
    line = chance_line(status_text(ds01, "--user", "alice"), "GPU container")
    assert "no - it costs 1 MIG unit" in line and "you hold 2 of your 2" in line


def test_mine_full_server_says_why(ds01):
    fill_note_server(ds01)
    line = chance_line(status_text(ds01, "--user", "frank"), "GPU container")
    assert line.endswith("no - no MIG instance is free for you now: each of the 12 holds "
                         "2 containers")


def test_mine_full_or_higher_priority(ds01):
    ds01.set(hardware="builtin:priority-demo")
    for user, name in (("bob", "b1"), ("carol", "c1"), ("dave", "d1"), ("alice", "a1")):
        at(ds01, NOW, user, name)
    line = chance_line(status_text(ds01, "--user", "frank"), "GPU container")
    assert line.endswith("no - no MIG instance is free for you now: each of the 3 holds "
                         "2 containers or someone of higher priority")
    # and the policy agrees
    assert ds01.allocate("frank", "f1").json()["reason"] == "NO_CAPACITY"


def test_mine_shared_instance_names_who_is_there(ds01):
    ds01.set(hardware="builtin:priority-demo")
    for user, name in (("bob", "b1"), ("carol", "c1"), ("dave", "d1")):
        at(ds01, NOW, user, name)
    line = chance_line(status_text(ds01, "--user", "frank"), "GPU container")
    assert "yes - MIG 1:0 (2g.20gb) has room: you would share it with bob (priority 10)" in line


def test_mine_reservation_holder(ds01, monkeypatch):
    from tests.monitor.test_dashboard import use_utc

    use_utc(monkeypatch)
    ds01.set(now="2025-11-03T12:00:00")
    text = status_text(ds01, "--user", "john_doe")
    assert "Reservation: GPU 0 reserved for you until 2025-11-08 00:00" in text
    line = chance_line(text, "GPU container")
    assert "yes - your reserved GPU 0 (whole) is free for you" in line
    other = chance_line(status_text(ds01, "--user", "carol"), "whole GPU (--full-gpu)")
    assert "reserved for john_doe until 2025-11-08 00:00" in other


def test_mine_json_adds_a_key(ds01):
    scenario1(ds01)
    plain = ds01.status()
    res = ds01.cli("gpu", "status", "--json", "--user", "alice")
    assert res.code == 0, res.err
    data = res.json()
    assert set(data) == set(plain) | {"mine"}
    mine = data["mine"]
    assert mine["usage"]["containers"] == {"held": 3, "limit": 3}
    assert [c["container"] for c in mine["containers"]] == ["training1", "training2",
                                                            "preprocessing"]
    assert all(not c["ok"] and c["reason"] == "CONTAINER_LIMIT" for c in mine["could_start"])


def test_caller_is_sudo_user_or_login_name():
    from ds01.monitor.mine import caller_name

    me = pwd.getpwuid(os.getuid()).pw_name
    assert caller_name({}) == me
    expected = "alice" if os.geteuid() == 0 else me
    assert caller_name({"SUDO_USER": "alice"}) == expected


def test_mine_without_user_is_the_caller(ds01):
    me = pwd.getpwuid(os.getuid()).pw_name
    text = status_text(ds01, "--mine")
    assert f"DS01 GPU STATUS FOR {me}" in text


def test_mine_bad_user_name_is_a_usage_error(ds01):
    res = ds01.cli("gpu", "status", "--user", "Bad User!")
    assert res.code == 2 and "not a user name" in res.err
