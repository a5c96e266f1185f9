"""The allocation contract's worked examples (section 4), through the CLI."""

from __future__ import annotations

NOTE_WHOLE = "0"


def devices_of(res) -> list[str]:
    assert res.code == 0, res.err
    return res.json()["devices"]


def test_example1_student_at_limit(ds01):
    first = devices_of(ds01.allocate("alice", "training1"))
    assert len(first) == 1 and ":" in first[0], "a MIG instance, not GPU 0"
    assert ds01.allocate("alice", "training1").json()["units_held"] == 1
    second = devices_of(ds01.allocate("alice", "training2"))
    assert ":" in second[0] and second != first
    third = ds01.allocate("alice", "training3")
    assert third.code == 1
    assert third.json()["reason"] == "USER_AT_LIMIT"
    assert "USER_AT_LIMIT (2/2)" in third.err
    cpu = ds01.allocate("alice", "preprocessing", "--cpu-only")
    assert cpu.code == 0 and cpu.json()["devices"] == []
    fourth = ds01.allocate("alice", "another", "--cpu-only")
    assert fourth.code == 1 and fourth.json()["reason"] == "CONTAINER_LIMIT"


def test_example1_second_instance_is_empty(ds01):
    a = devices_of(ds01.allocate("alice", "training1"))[0]
    b = devices_of(ds01.allocate("alice", "training2"))[0]
    st = {d["id"]: d for d in ds01.status()["devices"]}
    assert len(st[a]["containers"]) == 1 and len(st[b]["containers"]) == 1


def test_example2_priority_order(ds01):
    ds01.set(hardware="builtin:priority-demo")
    assert devices_of(ds01.allocate("alice", "earlier")) == ["1:0"]
    assert devices_of(ds01.allocate("bob", "bob1")) == ["1:1"]
    assert devices_of(ds01.allocate("carol", "carol1")) == ["1:2"]
    assert ds01.cli("gpu", "release", "earlier").code == 0
    assert devices_of(ds01.allocate("dave", "dave1")) == ["1:0"]
    assert devices_of(ds01.allocate("eve", "eve1")) == ["1:1"]
    frank = ds01.allocate("frank", "frank1")
    assert frank.code == 1 and frank.json()["reason"] == "NO_CAPACITY"


def test_example2_students_share_with_students(ds01):
    ds01.set(hardware="builtin:priority-demo")
    for user in ("alice", "bob", "frank"):
        assert ds01.allocate(user, f"{user}1").code == 0
    eve = devices_of(ds01.allocate("eve", "eve1"))[0]
    alice2 = devices_of(ds01.allocate("alice", "alice2"))[0]
    assert alice2 != eve
    st = {d["id"]: d for d in ds01.status()["devices"]}
    assert {c["user"] for c in st[alice2]["containers"]} <= {"alice", "bob", "frank"}


def test_example3_reservation(ds01):
    ds01.set(now="2025-11-03T12:00:00")
    carol = ds01.allocate("carol", "carol-big", "--full-gpu")
    assert carol.code == 1 and carol.json()["reason"] == "RESERVED"
    assert "john_doe" in carol.err and "2025-11-08" in carol.err
    john = ds01.allocate("john_doe", "thesis")
    assert devices_of(john) == [NOTE_WHOLE]
    ds01.set(now="2025-11-09T12:00:00")
    gpu0 = {d["id"]: d for d in ds01.status()["devices"]}[NOTE_WHOLE]
    assert gpu0["reserved_for"] is None
    assert [c["user"] for c in gpu0["containers"]] == ["john_doe"]
    # after the window the GPU counts against john_doe's limits (max_mig_instances 1)
    more = ds01.allocate("john_doe", "thesis2")
    assert more.code == 1 and more.json()["reason"] == "USER_AT_LIMIT"


def test_example4_no_mig_anywhere(ds01):
    ds01.set(hardware="builtin:no-mig")
    assert ds01.status()["mode"] == "whole-gpu"
    assert len(devices_of(ds01.allocate("alice", "a1"))) == 1
    second = ds01.allocate("alice", "a2")
    assert second.code == 1 and second.json()["reason"] == "USER_AT_LIMIT"
    assert "(1/1)" in second.err
    c1 = devices_of(ds01.allocate("carol", "c1"))
    c2 = devices_of(ds01.allocate("carol", "c2"))
    assert c1 != c2 and ":" not in c1[0] + c2[0]
    assert ds01.allocate("carol", "c3").json()["reason"] == "USER_AT_LIMIT"


def test_example5_mig_enabled_nothing_created(ds01):
    ds01.set(hardware="builtin:mig-empty")
    st = ds01.status()
    gpu2 = [d for d in st["devices"] if d["gpu"] == 2]
    assert len(gpu2) == 1 and gpu2[0]["kind"] == "gpu"
    assert gpu2[0]["allocatable"] is False and gpu2[0]["warning"]
    for i, user in enumerate(["alice", "bob", "frank", "carol", "eve", "dave"]):
        res = ds01.allocate(user, f"job{i}")
        if res.code == 0:
            assert all(not d.startswith("2") for d in res.json()["devices"])
    text = ds01.cli("gpu", "status")
    assert "WARNING" in text.out and "MIG" in text.out
