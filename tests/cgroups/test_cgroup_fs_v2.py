"""cgroup v2 logic against a fake tree that uses a v2 kernel's file names and formats.

Also uses this machine's real unified (v2) mount where one exists beside v1 (hybrid layout).
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ds01.cgroups.fs import CgroupError, CgroupTree, detect_version
from ds01.cgroups.slices import SliceLimits, slice_path

GiB = 1024**3
CONTAINER_ID = "fedcba9876543210" * 4
REAL_UNIFIED = Path("/sys/fs/cgroup/unified")


def read(path: Path) -> str:
    return path.read_text().strip()


def test_detect_version(fake_v2, tmp_path):
    assert detect_version(fake_v2) == 2
    v1 = tmp_path / "v1"
    (v1 / "cpu,cpuacct").mkdir(parents=True)
    (v1 / "memory").mkdir()
    assert detect_version(v1) == 1
    assert CgroupTree(v1).controller_dir("cpu") == v1 / "cpu,cpuacct"
    with pytest.raises(CgroupError, match="pids controller is not mounted"):
        CgroupTree(v1).controller_dir("pids")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CgroupError):
        detect_version(tmp_path / "empty")


def test_ensure_enables_controllers_and_writes_limits(fake_v2):
    tree = CgroupTree(fake_v2)
    assert tree.version == 2
    rel = "ds01/ml-lab/anne-marie"
    dirs = tree.ensure(rel, SliceLimits(cpus=1.5, memory=10 * GiB, tasks=512))
    leaf = fake_v2 / "ds01" / "ml-lab" / "anne-marie"
    assert dirs == [leaf]
    for parent in (fake_v2, fake_v2 / "ds01", fake_v2 / "ds01" / "ml-lab"):
        assert read(parent / "cgroup.subtree_control") == "+cpu +memory +pids"
    assert not (leaf / "cgroup.subtree_control").exists()  # Docker's runtime enables the leaf
    assert read(leaf / "cpu.max") == "150000 100000"
    assert read(leaf / "memory.max") == str(10 * GiB)
    assert read(leaf / "memory.high") == str(9 * GiB)
    assert read(leaf / "pids.max") == "512"
    assert tree.read_limits(rel) == SliceLimits(cpus=1.5, memory=10 * GiB, tasks=512)


def test_unlimited_is_written_as_max(fake_v2):
    tree = CgroupTree(fake_v2)
    leaf = tree.ensure("ds01/g", SliceLimits())[0]
    assert read(leaf / "cpu.max") == "max 100000"
    assert read(leaf / "memory.max") == "max"
    assert read(leaf / "memory.high") == "max"
    assert read(leaf / "pids.max") == "max"
    assert tree.read_limits("ds01/g") == SliceLimits()


def test_second_run_only_enables_what_is_missing(fake_v2_factory, tmp_path, settle):
    mount = fake_v2_factory(tmp_path / "cg", enabled="cpuset cpu io memory pids")
    tree = CgroupTree(mount)
    tree.ensure("ds01/g/u", SliceLimits(cpus=2))
    assert read(mount / "cgroup.subtree_control") == "cpuset cpu io memory pids"  # untouched
    settle(mount)
    before = {p: p.stat().st_mtime_ns for p in mount.rglob("cgroup.subtree_control")}
    time.sleep(0.01)
    tree.ensure("ds01/g/u", SliceLimits(cpus=3, memory=GiB))
    assert {p: p.stat().st_mtime_ns for p in mount.rglob("cgroup.subtree_control")} == before
    assert tree.read_limits("ds01/g/u") == SliceLimits(cpus=3, memory=GiB)


def test_partly_enabled_parent_gets_the_rest(fake_v2_factory, tmp_path):
    mount = fake_v2_factory(tmp_path / "cg", enabled="memory")
    CgroupTree(mount).ensure("ds01", SliceLimits())
    assert read(mount / "cgroup.subtree_control") == "+cpu +pids"


def test_leaf_that_becomes_a_parent_later(fake_v2, settle):
    tree = CgroupTree(fake_v2)
    tree.ensure("ds01/g", SliceLimits(cpus=4))
    settle(fake_v2)
    assert read(fake_v2 / "ds01" / "g" / "cgroup.subtree_control") == ""
    tree.ensure("ds01/g/u", SliceLimits(cpus=1))
    assert read(fake_v2 / "ds01" / "g" / "cgroup.subtree_control") == "+cpu +memory +pids"
    settle(fake_v2)
    assert read(fake_v2 / "ds01" / "g" / "u" / "cgroup.controllers") == "cpu memory pids"


def test_apply_writes_every_path(fake_v2):
    tree = CgroupTree(fake_v2)
    plan = {
        "ds01/g/u": SliceLimits(cpus=8),  # v2 has no ordering rule: a child may ask for more
        "ds01/g": SliceLimits(cpus=4),
        "ds01": SliceLimits(memory=GiB),
    }
    tree.apply(plan)
    for rel, limits in plan.items():
        assert tree.read_limits(rel) == limits


def test_missing_controller_is_a_clear_error(fake_v2_factory, tmp_path):
    mount = fake_v2_factory(tmp_path / "cg", controllers="cpuset cpu io memory")
    with pytest.raises(CgroupError) as caught:
        CgroupTree(mount).ensure("ds01/g", SliceLimits())
    err = caught.value
    assert err.code == "CGROUP_MISSING" and "pids" in err.message and err.hint
    assert err.path == str(mount / "cgroup.controllers")
    assert not (mount / "ds01").exists()


def test_oom_kills_from_memory_events(fake_v2):
    tree = CgroupTree(fake_v2)
    parent = "ds01/g/u"
    tree.ensure(parent, SliceLimits(memory=GiB))
    container = fake_v2 / "ds01" / "g" / "u" / CONTAINER_ID
    container.mkdir()
    (container / "memory.events").write_text(
        "low 0\nhigh 12\nmax 40\noom 3\noom_kill 2\noom_group_kill 0\n"
    )
    found = tree.find_container_cgroup(CONTAINER_ID[:12], parent)
    assert found == container
    assert tree.oom_kills(found) == 2
    (container / "memory.events").write_text("low 0\nhigh 0\nmax 0\noom 0\n")
    assert tree.oom_kills(found) is None  # a kernel without the counter: unknown, not 0
    assert tree.oom_kills(container / "gone") is None


def test_find_container_cgroup_systemd_driver(fake_v2):
    tree = CgroupTree(fake_v2)
    unit = "ds01-ml\\x2dlab-anne\\x2dmarie.slice"
    scope = fake_v2.joinpath(*slice_path(unit).split("/"), f"docker-{CONTAINER_ID}.scope")
    scope.mkdir(parents=True)
    assert tree.find_container_cgroup(CONTAINER_ID, unit) == scope
    assert tree.find_container_cgroup(CONTAINER_ID[:12], unit) == scope
    assert tree.find_container_cgroup(CONTAINER_ID, "ds01-other.slice") is None


def test_find_container_cgroup_ambiguous_and_bad_ids(fake_v2):
    from ds01.errors import UsageError

    tree = CgroupTree(fake_v2)
    tree.ensure("ds01/g/u", SliceLimits())
    for cid in ("abc1" + "0" * 60, "abc2" + "0" * 60):
        (fake_v2 / "ds01" / "g" / "u" / cid).mkdir()
    with pytest.raises(UsageError, match="matches 2"):
        tree.find_container_cgroup("abc", "ds01/g/u")
    assert tree.find_container_cgroup("abc2", "ds01/g/u").name.startswith("abc2")
    with pytest.raises(UsageError):
        tree.find_container_cgroup("../etc", "ds01/g/u")
    with pytest.raises(UsageError):
        tree.read_limits("../outside")


# --- the real unified hierarchy (present beside v1 on hybrid machines) -------------------------


@pytest.fixture
def unified():
    if not (REAL_UNIFIED / "cgroup.controllers").is_file():
        pytest.skip("no cgroup v2 hierarchy mounted beside v1 here")
    tree = CgroupTree(REAL_UNIFIED)
    root = f"ds01-test-{secrets.token_hex(4)}"
    yield tree, root
    assert tree.remove(root).complete


def test_real_unified_mount_without_controllers(unified):
    tree, root = unified
    assert tree.version == 2
    available = read(REAL_UNIFIED / "cgroup.controllers").split()
    if all(c in available for c in ("cpu", "memory", "pids")):
        pytest.skip("this unified mount has every controller")
    with pytest.raises(CgroupError) as caught:
        tree.ensure(f"{root}/g", SliceLimits())
    assert caught.value.code == "CGROUP_MISSING"


def test_real_v2_new_cgroup_and_remove(unified):
    """A fresh v2 cgroup enables nothing for its children; remove() handles busy ones."""
    tree, root = unified
    cgroup = REAL_UNIFIED / root / "g"
    cgroup.mkdir(parents=True)
    assert read(cgroup / "cgroup.subtree_control") == ""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        tree.attach(f"{root}/g", sleeper.pid)
        result = tree.remove(root)
        assert result.busy == [cgroup, REAL_UNIFIED / root] and not result.complete
    finally:
        sleeper.kill()
        sleeper.wait(timeout=30)
    deadline = time.monotonic() + 10
    while (cgroup / "cgroup.procs").read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.05)
    result = tree.remove(root)
    assert result.removed == [cgroup, REAL_UNIFIED / root] and result.complete
