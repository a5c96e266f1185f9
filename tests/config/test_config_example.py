"""The example policy shipped with ds01 loads cleanly and says what the design note says."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

from ds01.config.loader import load_config, parse_config
from ds01.config.model import ERROR_MESSAGE_FIELDS, LIMIT_KEYS

EXAMPLE = Path(__file__).resolve().parents[2] / "src" / "ds01" / "data" / "resource-limits.yaml"
G = 1024**3


def test_example_loads_cleanly(tmp_path):
    path = tmp_path / "resource-limits.yaml"
    shutil.copy(EXAMPLE, path)
    cfg = load_config(path)
    assert cfg.source == str(path)
    assert [g.name for g in cfg.groups] == ["student", "researcher", "admin"]
    assert cfg.default_group == "student"
    assert set(cfg.defaults) == set(LIMIT_KEYS)


def test_example_people():
    cfg = load_config(EXAMPLE)
    for user in ("alice", "bob", "frank"):
        assert cfg.effective(user).group == "student"
    for user in ("carol", "eve"):
        assert cfg.effective(user).group == "researcher"
    dave = cfg.effective("dave")
    assert dave.group == "admin" and dave.admin and dave.limits.max_mig_instances is None
    assert cfg.effective("somebody-new").group == "student"
    assert cfg.effective("x", ["ds01-students"]).group == "student"
    carol = cfg.effective("carol").limits
    assert (carol.priority, carol.max_mig_instances, carol.max_full_gpus) == (50, 8, 2)
    alice = cfg.effective("alice").limits
    assert (alice.priority, alice.max_mig_instances, alice.memory) == (10, 2, 32 * G)
    assert alice.idle_timeout == 86400.0 and alice.shm_size == 16 * G
    assert cfg.effective("lena").prefer_full_gpu is True


def test_example_reservation():
    cfg = load_config(EXAMPLE)
    john = cfg.effective("john_doe")
    assert john.priority == 100 and john.limits.max_mig_instances == 1
    r = john.reservation
    assert r.gpus == ("0",) and r.reason == "Thesis deadline - needs dedicated GPU"
    assert r.start == datetime(2025, 11, 1).astimezone()  # local time
    assert r.end == datetime(2025, 11, 8).astimezone()
    assert r.active(datetime(2025, 11, 3, 12).astimezone())
    assert not r.active(datetime(2025, 11, 8).astimezone())


def test_example_sections():
    cfg = load_config(EXAMPLE)
    assert (cfg.gpu.units_per_gpu, cfg.gpu.max_containers_per_mig,
            cfg.gpu.max_containers_per_gpu) == (4, 2, 1)
    assert set(cfg.error_messages) == set(ERROR_MESSAGE_FIELDS)
    text = cfg.error_messages["gpu_limit_exceeded"].format(
        requested=2, max=2, current=2, available=0)
    assert "You requested 2 MIG instances, but your limit is 2." in text
    assert cfg.images == {"pytorch": "nvcr.io/nvidia/pytorch:24.10-py3",
                          "busybox": "ds01-test/busybox"}
    c = cfg.containers
    assert c.gpu_attach == "gpus" and c.run_as_user and not c.allow_raw_images
    assert c.mounts_for("alice") == {"/home/alice/workspace": "/workspace"}
    assert cfg.monitoring.per_user_metrics is False
    students = cfg.group("student").aggregate
    assert students.cpus == 96 and students.memory == 384 * G


def test_every_section_of_the_example_is_introduced_by_a_comment():
    # the example is documentation: each top-level section is introduced by a comment
    lines = EXAMPLE.read_text().splitlines()
    for i, line in enumerate(lines):
        if line and not line.startswith((" ", "#")) and line.endswith(":"):
            above = [x for x in lines[max(0, i - 3):i] if x.strip()]
            assert above and above[-1].startswith("#"), f"section {line!r} has no comment"


def test_example_text_and_file_agree():
    assert parse_config(EXAMPLE.read_text(), "x.yaml").groups == load_config(EXAMPLE).groups
