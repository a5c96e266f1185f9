"""The design note's scenario 1, end to end: real containers on the simulated note server."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.docker


def env_inside(launcher, role: str, name: str) -> dict:
    out = launcher.exec_in(role, name, "env; echo UID=$(id -u); echo GID=$(id -g)").stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def test_scenario_one_student_at_limit(launcher, unix_users):
    alice = unix_users["alice"]
    uuid_of = {d["id"]: d["uuid"] for d in launcher.status()["devices"]}

    first = launcher.container("alice", "run", "training1", "busybox", "--json")
    assert first.code == 0, first
    one = first.json()
    assert set(one) == {"ok", "name", "engine_name", "container_id", "devices", "uuids"}
    assert one["ok"] and one["name"] == "training1"
    assert one["engine_name"] == f"ds01.{alice}.training1"
    assert len(one["devices"]) == 1 and ":" in one["devices"][0], "a MIG instance"
    assert one["uuids"] == [uuid_of[one["devices"][0]]]

    second = launcher.container("alice", "run", "training2", "busybox", "--json")
    assert second.code == 0, second
    two = second.json()
    assert ":" in two["devices"][0] and two["devices"] != one["devices"]

    for name, res in (("training1", one), ("training2", two)):
        inside = env_inside(launcher, "alice", name)
        assert inside["NVIDIA_VISIBLE_DEVICES"] == res["uuids"][0]
        assert inside["UID"] == str(launcher.sudo_env("alice")["SUDO_UID"])
        labels = launcher.inspect("alice", name)["Config"]["Labels"]
        assert labels["ds01.managed"] == "true" and labels["ds01.instance"] == launcher.instance
        assert labels["ds01.user"] == alice and labels["ds01.name"] == name
        assert labels["ds01.devices"] == res["devices"][0]
        assert labels["ds01.uuids"] == res["uuids"][0]
        assert labels["ds01.priority"] == "10" and labels["ds01.group"] == "student"

    third = launcher.process("alice", "run", "training3", "busybox")
    assert third.code == 1
    assert "USER_AT_LIMIT (2/2)" in third.err
    assert launcher.inspect("alice", "training3") is None
    third_json = launcher.container("alice", "run", "training3", "busybox", "--json")
    assert third_json.code == 1
    refusal = third_json.json()
    assert set(refusal) == {"ok", "reason", "message"}
    assert refusal["ok"] is False and refusal["reason"] == "USER_AT_LIMIT"
    assert refusal["message"].startswith("USER_AT_LIMIT (2/2)")

    cpu = launcher.container("alice", "run", "preprocessing", "busybox", "--cpu-only", "--json")
    assert cpu.code == 0, cpu
    assert cpu.json()["devices"] == [] and cpu.json()["uuids"] == []
    assert env_inside(launcher, "alice", "preprocessing")["NVIDIA_VISIBLE_DEVICES"] == "void"

    status = launcher.status()
    held = {d["id"]: d["containers"] for d in status["devices"] if d["containers"]}
    assert set(held) == {one["devices"][0], two["devices"][0]}
    entry = held[one["devices"][0]][0]
    assert entry["container"] == one["engine_name"] and entry["user"] == alice
    assert entry["name"] == "training1"
    assert [c["container"] for c in status["cpu_only"]] == [f"ds01.{alice}.preprocessing"]

    listed = launcher.container("alice", "list", "--json")
    assert listed.code == 0, listed
    rows = {r["name"]: r for r in listed.json()}
    assert set(rows) == {"training1", "training2", "preprocessing"}
    assert rows["training1"] == {
        "name": "training1", "engine_name": one["engine_name"], "user": alice,
        "state": "running", "devices": one["devices"], "exit_code": None, "oom_killed": False}


def test_same_commands_under_ds01_container(launcher):
    res = launcher.ds01("container", "run", "viads01", "busybox", "--cpu-only", "--json",
                        role="bob")
    assert res.code == 0, res
    listed = launcher.ds01("container", "list", "--json", role="bob")
    assert [r["name"] for r in listed.json()] == ["viads01"]
    text = launcher.process("bob", "list")
    assert text.code == 0 and "viads01" in text.out and "running" in text.out
