"""The ds01 commands: shapes of output, exit codes, errors people can act on."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO


def test_config_check_ok(ds01):
    res = ds01.cli("config", "check")
    assert res.code == 0 and "OK" in res.out


def test_config_check_reports_file_line_key(ds01):
    path = ds01.write_config("defaults:\n  priority: 1\n  max_mig_instancs: 2\n")
    res = ds01.cli("config", "check")
    assert res.code == 2
    assert re.search(rf"^{re.escape(str(path))}:3: .*max_mig_instancs", res.err, re.M)
    assert "did you mean" in res.err and "max_mig_instances" in res.err


def test_config_missing_file_is_exit_2(ds01, tmp_path):
    ds01.set(config=str(tmp_path / "nope.yaml"))
    res = ds01.cli("config", "check")
    assert res.code == 2 and "not found" in res.err and "Traceback" not in res.err


def test_limits_json_and_priority(ds01):
    res = ds01.cli("limits", "carol", "--json")
    assert res.code == 0
    data = res.json()
    assert data["user"] == "carol" and data["group"] == "researcher"
    assert data["priority"] == 50 and data["max_mig_instances"] == 8
    assert data["admin"] is False
    assert ds01.cli("limits", "dave", "--priority").out.strip() == "90"
    assert ds01.cli("limits", "john_doe", "--json").json()["priority"] == 100
    unknown = ds01.cli("limits", "zed", "--json").json()
    assert unknown["group"] == "student"


def test_limits_text_mentions_every_key(ds01):
    out = ds01.cli("limits", "alice").out
    for key in ("group", "priority", "max_mig_instances", "max_full_gpus", "memory"):
        assert key in out


def test_allocate_json_shape(ds01):
    data = ds01.allocate("alice", "t1").json()
    assert data["ok"] is True
    for key in ("container", "user", "group", "priority", "devices", "uuids", "units_held",
                "units_limit"):
        assert key in data
    assert data["uuids"][0].startswith("MIG-")
    assert data["units_held"] == 1 and data["units_limit"] == 2


def test_allocate_is_idempotent(ds01):
    first = ds01.allocate("alice", "t1").json()
    again = ds01.allocate("alice", "t1", "--full-gpu").json()
    assert again["devices"] == first["devices"]
    assert again["units_held"] == 1


def test_other_users_container_name_is_invalid(ds01):
    ds01.allocate("alice", "shared-name")
    res = ds01.allocate("bob", "shared-name")
    assert res.code == 1 and res.json()["reason"] == "INVALID_REQUEST"


def test_release_shapes(ds01):
    devices = ds01.allocate("alice", "t1").json()["devices"]
    res = ds01.cli("gpu", "release", "t1", "--json")
    assert res.code == 0
    assert res.json() == {"ok": True, "container": "t1", "released": True, "devices": devices}
    again = ds01.cli("gpu", "release", "t1", "--json")
    assert again.code == 0 and again.json()["released"] is False
    text = ds01.cli("gpu", "release", "t1")
    assert "nothing to release" in text.out


def test_status_json_shape(ds01):
    ds01.allocate("alice", "t1")
    st = ds01.status()
    assert st["mode"] == "mig"
    ids = [d["id"] for d in st["devices"]]
    assert ids[0] == "0" and "1:0" in ids and "3:3" in ids and len(ids) == 13
    dev = next(d for d in st["devices"] if d["containers"])
    for key in ("id", "kind", "gpu", "profile", "uuid", "units", "memory_total_mib",
                "memory_used_mib", "allocatable", "warning", "reserved_for", "containers"):
        assert key in dev
    assert dev["containers"][0]["user"] == "alice"
    assert set(dev["containers"][0]) >= {"container", "user", "priority", "since"}


def test_status_text_marks_available(ds01):
    out = ds01.cli("gpu", "status").out
    assert "AVAILABLE" in out and "DS01 GPU SERVER STATUS" in out


def test_allocation_log_lines(ds01):
    ds01.allocate("alice", "training1")
    ds01.allocate("alice", "training2")
    ds01.allocate("alice", "training3")
    ds01.cli("gpu", "release", "training1")
    log = (ds01.root / "log" / "gpu-allocations.log").read_text().splitlines()
    assert len(log) == 4
    assert re.match(r"^2026-12-01T09:00:00\+00:00 ALLOCATED user=alice container=training1 "
                    r"devices=\d:\d priority=10 units=1/2( |$)", log[0])
    assert " REJECTED " in log[2] and "reason=USER_AT_LIMIT" in log[2]
    assert " RELEASED " in log[3]
    assert all("priority=" in line for line in log)


def test_bad_count_is_invalid_request(ds01):
    res = ds01.allocate("alice", "t1", "--gpus", "0")
    assert res.code == 1 and res.json()["reason"] == "INVALID_REQUEST"
    res = ds01.allocate("Bad User!", "t1")
    assert res.code == 1 and res.json()["reason"] == "INVALID_REQUEST"


def test_usage_error_exit_2(ds01):
    assert ds01.cli("gpu", "allocate").code == 2
    assert ds01.cli("nonsense").code == 2


def test_hardware_auto_without_gpu_is_exit_3(ds01, monkeypatch, tmp_path):
    ds01.set(hardware="auto")
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi anywhere
    res = ds01.cli("gpu", "status")
    assert res.code == 3 and "nvidia-smi" in res.err and "Traceback" not in res.err


def test_corrupt_state_is_exit_3_and_untouched(ds01):
    state = ds01.root / "state"
    state.mkdir()
    db = state / "state.db"
    db.write_bytes(b"this is not a database" * 100)
    before = db.read_bytes()
    res = ds01.cli("gpu", "allocate", "alice", "t1")
    assert res.code == 3 and "hint" in res.err
    assert db.read_bytes() == before


def test_global_options_before_and_after(ds01, tmp_path):
    other = tmp_path / "other-state"
    a = ds01.cli("--state-dir", str(other), "gpu", "allocate", "alice", "x1")
    b = ds01.cli("gpu", "status", "--json", "--state-dir", str(other))
    assert a.code == 0 and b.code == 0
    assert any(d["containers"] for d in b.json()["devices"])
    assert not any(d["containers"] for d in ds01.status()["devices"])


def test_gpu_status_alias_process(ds01):
    res = ds01.process("--json", exe="ds01-gpu-status")
    assert res.code == 0, res.err
    assert '"mode"' in res.out


COMMANDS = [
    [], ["config"], ["config", "check"], ["limits"], ["gpu"], ["gpu", "status"],
    ["gpu", "allocate"], ["gpu", "release"], ["demo"], ["slices"], ["slices", "write"],
    ["report"], ["report", "daily"], ["metrics"], ["metrics", "collect"], ["setup"],
    ["setup", "dirs"], ["exporter"], ["container"], ["container", "run"], ["container", "list"],
    ["container", "stop"], ["container", "start"], ["container", "rm"], ["container", "shell"],
    ["container", "logs"],
]


@pytest.mark.parametrize("words", COMMANDS, ids=lambda w: " ".join(w) or "ds01")
def test_every_command_has_help(ds01, words):
    res = ds01.cli(*words, "--help")
    assert res.code == 0
    assert "usage: ds01" in res.out and len(res.out.splitlines()) > 3


def test_every_command_is_documented():
    docs = "\n".join(p.read_text() for p in (REPO / "docs").rglob("*.md"))
    for words in COMMANDS:
        if not words:
            continue
        name = " ".join(words)
        # the launcher's commands are documented as the `container` console script
        assert f"ds01 {name}" in docs or (words[0] == "container" and name in docs), \
            f"docs do not mention ds01 {name}"


def test_limits_of_a_malformed_user_name_is_a_usage_error(ds01):
    for name in ("", "bad user", "x" * 40):
        res = ds01.cli("limits", name)
        assert res.code == 2 and "not a user name" in res.err


def test_release_of_an_empty_name_is_a_usage_error(ds01):
    res = ds01.cli("gpu", "release", "")
    assert res.code == 2 and "empty" in res.err
