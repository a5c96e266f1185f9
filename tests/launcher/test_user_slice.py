"""A user's systemd slice unit on their first container (the engine's systemd cgroup driver).

This machine has no systemd as PID 1, so the units go to a temporary root (as with
``systemctl --root``) and ``systemctl`` is a stand-in script on PATH that records how it was
called and can be told to fail the way systemctl does.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ds01.cgroups.fs import CgroupError
from ds01.context import Context
from ds01.records import replace
from ds01.service import Service
from ds01.service import slices as slices_service
from ds01.service.launchspec import apply_cgroups, cgroup_parent
from ds01.service.userslice import ensure, plan_for

CONFIG = """\
defaults: {priority: 1, max_mig_instances: 2, max_cpus: 4, memory: 8g, slice_cpus: 6,
           slice_memory: 16g, max_tasks: 2048}
default_group: student
groups:
  student:
    priority: 10
    members: [named]
    aggregate: {cpus: 32, memory: 128g, tasks: 16384}
"""
NEWCOMER = "anne-marie"  # named nowhere; the dash must not nest her under a user "anne"
UNIT = "ds01-student-anne\\x2dmarie.slice"
FAKE_SYSTEMCTL = """#!/bin/sh
echo "$*" >> "$FAKE_SYSTEMCTL_LOG"
if [ -n "$FAKE_SYSTEMCTL_FAIL" ]; then
  echo "Failed to reload daemon: Access denied" >&2
  exit 1
fi
"""


@pytest.fixture
def svc(tmp_path, monkeypatch):
    cfg = tmp_path / "resource-limits.yaml"
    cfg.write_text(CONFIG)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "systemctl"
    fake.write_text(FAKE_SYSTEMCTL)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_SYSTEMCTL_LOG", str(tmp_path / "systemctl.log"))
    monkeypatch.delenv("FAKE_SYSTEMCTL_FAIL", raising=False)
    service = Service(Context(config_path=cfg, state_dir=tmp_path / "state",
                              log_dir=tmp_path / "log", hardware="builtin:note-server"))
    yield service
    service.close()


def calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "systemctl.log"
    return log.read_text().splitlines() if log.exists() else []


def units_dir(root: Path) -> Path:
    return root / "etc" / "systemd" / "system"


def test_cgroup_parent_is_the_users_slice_with_its_units(svc):
    who = svc.effective(NEWCOMER)
    parent, plan = cgroup_parent(svc, who, "systemd")
    assert parent == UNIT == plan.unit and plan.root == "/"
    assert sorted(plan.units) == ["ds01-student-anne\\x2dmarie.slice", "ds01-student.slice",
                                  "ds01.slice"]
    text = plan.units[UNIT]
    for line in ("CPUQuota=600%", f"MemoryMax={16 << 30}", f"MemoryHigh={(16 << 30) * 9 // 10}",
                 "TasksMax=2048"):
        assert line in text.splitlines()
    written_by_slices_write = slices_service.plan(svc)  # names only the group and `named`
    for name in ("ds01.slice", "ds01-student.slice"):
        assert plan.units[name] == written_by_slices_write[name], "the same text, never a fight"
    assert UNIT not in written_by_slices_write


def test_first_container_writes_the_units_and_reloads_once(svc, tmp_path):
    root = tmp_path / "root"
    plan = replace(cgroup_parent(svc, svc.effective(NEWCOMER), "systemd")[1], root=str(root))
    apply_cgroups(plan)
    where = units_dir(root)
    assert sorted(p.name for p in where.iterdir()) == sorted(plan.units)
    for name, text in plan.units.items():
        assert (where / name).read_text() == text
        assert (where / name).stat().st_mode & 0o777 == 0o644
    assert calls(tmp_path) == ["daemon-reload"]
    assert ensure(plan) == [], "the second container finds everything in place"
    assert calls(tmp_path) == ["daemon-reload"], "and does not reload again"


def test_changed_limits_rewrite_only_what_changed(svc, tmp_path):
    root = tmp_path / "root"
    ensure(replace(plan_for(svc, svc.effective(NEWCOMER)), root=str(root)))
    cfg = Path(svc.ctx.config_path)
    cfg.write_text(CONFIG.replace("slice_cpus: 6", "slice_cpus: 3"))
    fresh = Service(svc.ctx)
    try:
        plan = replace(plan_for(fresh, fresh.effective(NEWCOMER)), root=str(root))
    finally:
        fresh.close()
    assert ensure(plan) == [units_dir(root) / UNIT]
    assert "CPUQuota=300%" in (units_dir(root) / UNIT).read_text()
    assert calls(tmp_path) == ["daemon-reload", "daemon-reload"]


def test_a_unit_written_by_hand_is_left_alone(svc, tmp_path):
    root = tmp_path / "root"
    where = units_dir(root)
    where.mkdir(parents=True)
    own = "[Slice]\nCPUQuota=800%\n"
    (where / "ds01-student.slice").write_text(own)
    written = ensure(replace(plan_for(svc, svc.effective(NEWCOMER)), root=str(root)))
    assert sorted(p.name for p in written) == ["ds01-student-anne\\x2dmarie.slice", "ds01.slice"]
    assert (where / "ds01-student.slice").read_text() == own


def test_failed_reload_is_a_clear_error_and_leaves_nothing_half_done(svc, tmp_path, monkeypatch):
    root = tmp_path / "root"
    plan = replace(plan_for(svc, svc.effective(NEWCOMER)), root=str(root))
    monkeypatch.setenv("FAKE_SYSTEMCTL_FAIL", "1")
    with pytest.raises(CgroupError) as info:
        ensure(plan)
    err = info.value
    assert err.exit_code == 3 and err.code == "CGROUP_ERROR"
    assert "`systemctl daemon-reload` failed (exit code 1)" in err.message
    assert "Access denied" in err.message and UNIT in err.message
    assert "nothing was started" in err.message and "systemd-analyze verify" in err.hint
    assert list(units_dir(root).iterdir()) == [], "written units are taken back"
    monkeypatch.delenv("FAKE_SYSTEMCTL_FAIL")
    assert len(ensure(plan)) == 3, "so the next start writes and reloads again"
    assert calls(tmp_path) == ["daemon-reload", "daemon-reload"]


def test_missing_systemctl_and_unwritable_root(svc, tmp_path, monkeypatch):
    plan = replace(plan_for(svc, svc.effective(NEWCOMER)), root=str(tmp_path / "root"))
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(CgroupError) as info:
        ensure(plan)
    assert "`systemctl` is not installed" in info.value.message
    assert "cgroupfs" in info.value.hint
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    with pytest.raises(CgroupError) as info:
        ensure(replace(plan, root=str(blocked)))
    assert f"could not write the systemd slice unit {UNIT}" in info.value.message
    assert info.value.hint and info.value.exit_code == 3


def test_cgroupfs_driver_needs_no_unit(svc):
    parent, plan = cgroup_parent(svc, svc.effective(NEWCOMER), "cgroupfs")
    assert parent == f"/ds01/student/{NEWCOMER}"
    assert isinstance(plan, dict)
