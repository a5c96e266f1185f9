"""``ds01 slices write``: units from the policy, verified by the real systemd-analyze."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

CONFIG = """
defaults: {slice_cpus: 8, slice_memory: 16g, max_tasks: 2048}
default_group: student
groups:
  student: {priority: 10, members: [anne, anne-marie], aggregate: {cpus: 24, memory: 96g, tasks: 16384}}
  ml-lab: {priority: 50, members: [carol], slice_cpus: 16, slice_memory: 64g}
user_overrides:
  anne-marie: {slice_memory: 8g}
"""


def _verify(unit_dir):
    tool = shutil.which("systemd-analyze")
    if tool is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is required in CI")
        pytest.skip("systemd-analyze not installed")
    units = sorted(str(p) for p in unit_dir.glob("*.slice"))
    env = {**os.environ, "SYSTEMD_UNIT_PATH": f"{unit_dir}:"}
    proc = subprocess.run([tool, "verify", *units], env=env, capture_output=True, text=True)
    return proc


def test_slices_write_verifies_and_escapes(ds01, tmp_path):
    ds01.write_config(CONFIG)
    root = tmp_path / "root"
    res = ds01.cli("slices", "write", "--root", str(root), "--json")
    assert res.code == 0, res.err
    unit_dir = root / "etc" / "systemd" / "system"
    names = sorted(p.name for p in unit_dir.iterdir())
    assert "ds01.slice" in names and "ds01-student.slice" in names
    assert "ds01-ml\\x2dlab.slice" in names and "ds01-ml\\x2dlab-carol.slice" in names
    assert "ds01-student-anne.slice" in names
    assert "ds01-student-anne\\x2dmarie.slice" in names  # not nested under anne
    anne_marie = (unit_dir / "ds01-student-anne\\x2dmarie.slice").read_text()
    assert "CPUQuota=800%" in anne_marie and f"MemoryMax={8 * 1024**3}" in anne_marie
    assert "TasksMax=2048" in anne_marie
    group = (unit_dir / "ds01-student.slice").read_text()
    assert "CPUQuota=2400%" in group and f"MemoryMax={96 * 1024**3}" in group
    proc = _verify(unit_dir)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_slices_write_removes_stale_units(ds01, tmp_path):
    ds01.write_config(CONFIG)
    root = tmp_path / "root"
    assert ds01.cli("slices", "write", "--root", str(root)).code == 0
    without = CONFIG.replace("anne, anne-marie", "anne").replace(
        "  anne-marie: {slice_memory: 8g}\n", "")
    ds01.write_config(without)
    res = ds01.cli("slices", "write", "--root", str(root))
    assert res.code == 0 and "removed" in res.out and "anne\\x2dmarie" in res.out
    unit_dir = root / "etc" / "systemd" / "system"
    assert not (unit_dir / "ds01-student-anne\\x2dmarie.slice").exists()
    again = ds01.cli("slices", "write", "--root", str(root))
    assert "up to date" in again.out


def test_slices_write_keeps_units_of_users_holding_containers(ds01, tmp_path):
    """A user the config does not name got a slice on their first container; rewriting the
    units from the policy must not delete it while they hold containers."""
    from ds01.context import Context
    from ds01.service import Service
    from ds01.service.gpu import allocate

    ds01.write_config(CONFIG)
    svc = Service(Context.build())
    assert allocate(svc, "zoe", "ds01.zoe.job", cpu_only=True, origin="launcher").ok
    svc.close()
    root = tmp_path / "root"
    assert ds01.cli("slices", "write", "--root", str(root)).code == 0
    unit_dir = root / "etc" / "systemd" / "system"
    assert (unit_dir / "ds01-student-zoe.slice").exists()
