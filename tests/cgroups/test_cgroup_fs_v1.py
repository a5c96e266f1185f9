"""cgroupfs management on this machine's REAL cgroup v1 hierarchy (needs root).

These tests skip on a machine without cgroup v1 and fail there in CI (CI=true).
"""

from __future__ import annotations

import errno
import json
import os
import time

import pytest

from ds01.cgroups import fs
from ds01.cgroups.fs import CgroupError, CgroupTree, cgroupfs_parent, detect_version
from ds01.cgroups.slices import SliceLimits

MiB = 1024**2
CONTAINER_ID = "0123456789abcdef" * 4

# A child that waits for a line on stdin, then allocates (and touches) memory without end.
HOG = """
import sys
sys.stdin.readline()
held = []
while True:
    held.append(b"\\x01" * (4 << 20))
"""
# A child that allocates (and touches) SIZE bytes, says so, and waits.
HOLD = """
import sys, time
sys.stdin.readline()
held = b"\\x01" * {size}
print("held", flush=True)
time.sleep(600)
"""
SLEEPER = "import time\ntime.sleep(600)\n"


def read(path) -> str:
    return path.read_text().strip()


def test_detects_v1(v1):
    tree, _ = v1
    assert detect_version(tree.mount) == 1 and tree.version == 1


def test_ensure_creates_each_level_in_each_controller(v1):
    tree, root = v1
    rel = f"{root}/ml-lab/anne-marie"
    dirs = tree.ensure(rel, SliceLimits(cpus=1.5, memory=256 * MiB, tasks=300))
    assert dirs == [tree.path(rel, c) for c in ("cpu", "memory", "pids")]
    for controller in ("cpu", "memory", "pids"):
        for sub in (root, f"{root}/ml-lab", rel):
            assert tree.path(sub, controller).is_dir()
    cpu, memory, pids = dirs
    assert read(cpu / "cpu.cfs_period_us") == "100000"
    assert read(cpu / "cpu.cfs_quota_us") == "150000"
    assert read(memory / "memory.limit_in_bytes") == str(256 * MiB)
    assert read(pids / "pids.max") == "300"
    # Levels above got no limits of their own.
    assert read(tree.path(root, "cpu") / "cpu.cfs_quota_us") == "-1"
    assert read(tree.path(root, "pids") / "pids.max") == "max"
    assert tree.read_limits(rel) == SliceLimits(cpus=1.5, memory=256 * MiB, tasks=300)


def test_ensure_is_idempotent_and_updates_limits(v1):
    tree, root = v1
    rel = cgroupfs_parent("students", "bob", root=root)
    first = tree.ensure(rel, SliceLimits(cpus=2, memory=128 * MiB, tasks=100))
    assert tree.ensure(rel, SliceLimits(cpus=2, memory=128 * MiB, tasks=100)) == first
    tree.ensure(rel, SliceLimits(cpus=0.5, memory=64 * MiB, tasks=50))
    assert tree.read_limits(rel) == SliceLimits(cpus=0.5, memory=64 * MiB, tasks=50)
    tree.ensure(rel, SliceLimits())
    assert tree.read_limits(rel) == SliceLimits()
    cpu, memory, pids = first
    assert read(cpu / "cpu.cfs_quota_us") == "-1"
    assert read(pids / "pids.max") == "max"
    assert int(read(memory / "memory.limit_in_bytes")) > 2**62


def test_child_quota_above_parent_is_refused_with_a_hint(v1):
    tree, root = v1
    tree.ensure(f"{root}/g", SliceLimits(cpus=2))
    with pytest.raises(CgroupError) as caught:
        tree.ensure(f"{root}/g/u", SliceLimits(cpus=4))
    err = caught.value
    assert err.kernel == "Invalid argument" and err.value == "400000"
    assert err.path.endswith(f"{root}/g/u/cpu.cfs_quota_us")
    assert "may not exceed its parent's" in err.hint and "200000" in err.hint
    assert err.exit_code == 3 and err.to_dict()["kernel_message"] == "Invalid argument"


def test_parent_quota_below_child_is_refused_with_a_hint(v1):
    tree, root = v1
    tree.apply({f"{root}/g": SliceLimits(cpus=4), f"{root}/g/u": SliceLimits(cpus=3)})
    with pytest.raises(CgroupError) as caught:
        tree.ensure(f"{root}/g", SliceLimits(cpus=2))
    assert "lower those first" in caught.value.hint and "300000" in caught.value.hint
    assert tree.read_limits(f"{root}/g").cpus == 4


@pytest.mark.parametrize(
    "before,after",
    [
        ((2, 1), (4, 3)),  # both grow: parent first
        ((4, 3), (2, 1)),  # both shrink: child first
        ((2, None), (None, 4)),  # parent unlimited, child newly limited above the old parent
        ((4, 1), (2, 2)),  # parent shrinks to what the child grows to
    ],
)
def test_apply_orders_v1_cpu_writes(v1, before, after):
    tree, root = v1
    group, user = f"{root}/g", f"{root}/g/u"
    tree.apply({group: SliceLimits(cpus=before[0]), user: SliceLimits(cpus=before[1])})
    tree.apply({user: SliceLimits(cpus=after[1]), group: SliceLimits(cpus=after[0])})
    assert tree.read_limits(group).cpus == after[0]
    assert tree.read_limits(user).cpus == after[1]


def test_memory_is_rounded_to_pages_on_read_back(v1):
    tree, root = v1
    tree.ensure(f"{root}/g", SliceLimits(memory=64 * MiB + 100))
    assert tree.read_limits(f"{root}/g").memory == 64 * MiB


def test_oom_kill_is_counted(v1, children):
    """The user's aggregate limit kills a process in a container below it; the kill counts."""
    tree, root = v1
    user = cgroupfs_parent("g", "u", root=root)
    tree.ensure(user, SliceLimits(memory=64 * MiB))
    container = f"{user}/{CONTAINER_ID}"
    tree.ensure(container, SliceLimits())  # what Docker creates under --cgroup-parent
    found = tree.find_container_cgroup(CONTAINER_ID[:12], user)
    assert found == tree.path(container, "memory")
    assert tree.oom_kills(found) == 0

    hog = children(HOG)
    tree.attach(container, hog.pid)
    assert str(hog.pid) in read(found / "cgroup.procs").split()
    hog.stdin.write(b"go\n")
    hog.stdin.flush()
    assert hog.wait(timeout=60) == -9  # SIGKILL from the OOM killer
    assert tree.oom_kills(found) >= 1
    assert tree.under_oom(found) is False
    # The memory really was charged to the cgroup: it peaked at the user's limit (give or
    # take the kernel's own small charges).
    peak = int(read(found / "memory.max_usage_in_bytes"))
    assert 48 * MiB <= peak <= 66 * MiB


def test_lowering_memory_below_usage_gives_a_clear_error(v1, children):
    tree, root = v1
    rel = f"{root}/g"
    tree.ensure(rel, SliceLimits(memory=256 * MiB))
    holder = children(HOLD.format(size=96 * MiB))
    tree.attach(rel, holder.pid)
    holder.stdin.write(b"go\n")
    holder.stdin.flush()
    assert holder.stdout.readline() == b"held\n"
    with pytest.raises(CgroupError) as caught:
        tree.ensure(rel, SliceLimits(memory=32 * MiB))
    err = caught.value
    assert err.kernel == "Device or resource busy" and err.value == str(32 * MiB)
    assert "could not reclaim" in err.hint and "uses " in err.hint and "bytes, more" in err.hint
    assert holder.poll() is None  # nothing was killed
    assert tree.read_limits(rel).memory == 256 * MiB


def test_pids_limit_is_enforced(v1, children):
    tree, root = v1
    rel = f"{root}/g"
    tree.ensure(rel, SliceLimits(tasks=4))
    code = """
import sys, threading, time
sys.stdin.readline()
started = 0
try:
    for _ in range(10):
        threading.Thread(target=time.sleep, args=(5,), daemon=True).start()
        started += 1
except RuntimeError:
    pass
print(started, flush=True)
"""
    proc = children(code)
    tree.attach(rel, proc.pid)
    proc.stdin.write(b"go\n")
    proc.stdin.flush()
    out, _ = proc.communicate(timeout=60)
    assert int(out) == 3  # the main thread plus three others fill pids.max=4
    events = read(tree.path(rel, "pids") / "pids.events")
    assert events.startswith("max ") and int(events.split()[1]) >= 1


def test_remove_reports_busy_then_removes_leaves_first(v1, children):
    tree, root = v1
    tree.ensure(f"{root}/g/u", SliceLimits())
    tree.ensure(f"{root}/g/v", SliceLimits())
    sleeper = children(SLEEPER)
    tree.attach(f"{root}/g/u", sleeper.pid)

    result = tree.remove(f"{root}/g")
    assert not result.complete
    assert tree.path(f"{root}/g/u", "memory") in result.busy
    assert tree.path(f"{root}/g", "memory") in result.busy
    assert tree.path(f"{root}/g/v", "memory") in result.removed
    assert tree.path(f"{root}/g/u", "memory").is_dir()

    sleeper.kill()
    sleeper.wait(timeout=30)
    deadline = time.monotonic() + 10
    result = tree.remove(f"{root}/g")
    while not result.complete and time.monotonic() < deadline:  # exit is reaped asynchronously
        time.sleep(0.1)
        result = tree.remove(f"{root}/g")
    assert result.complete
    assert [p.name for p in result.removed[:2]] == ["u", "g"]
    assert not tree.path(f"{root}/g", "cpu").exists()
    again = tree.remove(f"{root}/g")
    assert again.removed == [] and len(again.absent) == 3 and again.complete


def test_find_container_cgroup_systemd_layout(v1):
    tree, root = v1
    top = root.replace("-", "")  # a dash in a slice name is a nesting level
    unit = f"{top}-g-u.slice"
    scope = f"{top}.slice/{top}-g.slice/{unit}/docker-{CONTAINER_ID}.scope"
    tree.ensure(scope, SliceLimits())
    try:
        assert tree.find_container_cgroup(CONTAINER_ID, unit) == tree.path(scope, "memory")
        assert tree.find_container_cgroup(CONTAINER_ID[:12], unit) == tree.path(scope, "memory")
        assert tree.find_container_cgroup("fff", unit) is None
    finally:
        assert tree.remove(f"{top}.slice").complete


def test_read_limits_of_a_missing_cgroup(v1):
    tree, root = v1
    with pytest.raises(CgroupError) as caught:
        tree.read_limits(f"{root}/nothing")
    assert caught.value.code == "CGROUP_MISSING"


def test_control_file_name_as_user_name(v1):
    tree, root = v1
    tree.ensure(f"{root}/g", SliceLimits())
    with pytest.raises(CgroupError) as caught:
        tree.ensure(f"{root}/g/tasks", SliceLimits())
    assert caught.value.code == "INVALID_NAME"


def test_quota_below_kernel_minimum_is_reported(v1):
    tree, root = v1
    tree.ensure(f"{root}/g", SliceLimits())
    # SliceLimits refuses such a limit, so hand the value to the writer directly.
    quota = tree.path(f"{root}/g", "cpu") / "cpu.cfs_quota_us"
    with pytest.raises(CgroupError) as caught:
        fs._write(quota, "500")
    assert caught.value.kernel == os.strerror(errno.EINVAL)
    assert "at least 1000 us" in caught.value.hint
    assert read(quota) == "-1"


def as_nobody(action) -> dict:
    """Run ``action()`` in a forked child that dropped root; return the CgroupError it got."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: no exec, the modules are already loaded
        status = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            try:
                action()
                out = {"raised": None}
            except CgroupError as err:
                out = err.to_dict()
            os.write(write_end, json.dumps(out).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return json.loads(data)


def test_unprivileged_caller_gets_a_permission_hint(v1):
    """A real non-root process is refused by the kernel; the error says so and what to do."""
    tree, root = v1
    tree.ensure(f"{root}/g", SliceLimits(cpus=1))
    report = as_nobody(lambda: CgroupTree(tree.mount).ensure(f"{root}/g", SliceLimits(cpus=2)))
    assert report["reason"] == "CGROUP_ERROR"
    assert report["kernel_message"] == os.strerror(errno.EACCES)
    assert report["path"].endswith(f"{root}/g/cpu.cfs_quota_us") and report["value"] == "200000"
    assert "root" in report["hint"]
    assert tree.read_limits(f"{root}/g").cpus == 1
    report = as_nobody(lambda: CgroupTree(tree.mount).ensure(f"{root}/g/new", SliceLimits()))
    assert report["kernel_message"] == os.strerror(errno.EACCES) and "root" in report["hint"]
    assert not tree.path(f"{root}/g/new", "cpu").exists()


def test_missing_mount_is_an_error(tmp_path):
    with pytest.raises(CgroupError) as caught:
        CgroupTree(tmp_path)
    assert caught.value.code == "CGROUP_MISSING" and caught.value.hint
