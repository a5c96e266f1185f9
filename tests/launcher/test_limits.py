"""Limits in the host's cgroup files, and OOM kills reported by `container list`."""

from __future__ import annotations

import time

import pytest

from .conftest import CGROUP_BASE, cgroup_dir, read_int

pytestmark = pytest.mark.docker

MiB = 1024 * 1024
#: Holds N MiB for a few seconds: dd fills its block buffer, then blocks on a pipe nobody reads.
HOLD = "set -o pipefail; dd if=/dev/zero bs={mib}M count=1 2>/dev/null | sleep {secs}"


def v1_or_skip(launcher):
    info = launcher.engine.info()
    if info.cgroup_version != "1" or info.cgroup_driver != "cgroupfs":
        pytest.skip(f"these file checks are written for cgroup v1 + cgroupfs "
                    f"(engine: v{info.cgroup_version}, {info.cgroup_driver})")


def test_limits_in_host_cgroup_files(launcher, unix_users):
    v1_or_skip(launcher)
    res = launcher.container("alice", "run", "limited", "busybox", "--cpu-only", "--json")
    assert res.code == 0, res
    cid = res.json()["container_id"]
    user_rel = f"{CGROUP_BASE}/student/{unix_users['alice']}"
    host = launcher.inspect("alice", "limited")["HostConfig"]
    assert host["CgroupParent"] == user_rel
    ncpu = launcher.engine.info().ncpu
    cpus = min(1, 1.5, 2, ncpu)  # max_cpus, slice_cpus, group aggregate, host

    own = {c: cgroup_dir(c, f"{user_rel}/{cid}") for c in ("cpu", "memory", "pids")}
    assert read_int(own["memory"] / "memory.limit_in_bytes") == 64 * MiB
    memsw = own["memory"] / "memory.memsw.limit_in_bytes"  # only with swap accounting on
    if memsw.exists():
        assert read_int(memsw) == 64 * MiB, "no swap on top of the memory limit"
    assert read_int(own["cpu"] / "cpu.cfs_quota_us") == round(cpus * 100_000)
    assert read_int(own["cpu"] / "cpu.cfs_period_us") == 100_000
    assert (own["pids"] / "pids.max").read_text().strip() == "128"

    mine = {c: cgroup_dir(c, user_rel) for c in ("cpu", "memory", "pids")}
    assert read_int(mine["memory"] / "memory.limit_in_bytes") == 96 * MiB  # slice_memory
    assert read_int(mine["cpu"] / "cpu.cfs_quota_us") == 150_000  # slice_cpus 1.5
    assert (mine["pids"] / "pids.max").read_text().strip() == "256"  # max_tasks

    group = {c: cgroup_dir(c, f"{CGROUP_BASE}/student") for c in ("cpu", "memory", "pids")}
    assert read_int(group["memory"] / "memory.limit_in_bytes") == 512 * MiB
    assert read_int(group["cpu"] / "cpu.cfs_quota_us") == 200_000
    assert (group["pids"] / "pids.max").read_text().strip() == "2048"

    shm = launcher.exec_in("alice", "limited", "df -k /dev/shm | tail -1").stdout.split()
    assert int(shm[1]) == 16 * 1024


def oom_flags(launcher, role: str, *flags: str) -> dict:
    res = launcher.container(role, "list", "--json", *flags)
    assert res.code == 0, res
    return {r["name"]: r for r in res.json()}


def test_process_over_its_memory_limit_is_reported_oom_killed(launcher):
    assert launcher.container("alice", "run", "hog", "busybox", "--cpu-only").code == 0
    assert launcher.container("alice", "run", "calm", "busybox", "--cpu-only").code == 0
    hog = launcher.exec_in("alice", "hog", HOLD.format(mib=100, secs=1), check=False)
    assert hog.returncode != 0, "the kernel should have killed the 100 MiB process"
    launcher.exec_in("alice", "calm", "dd if=/dev/zero of=/dev/null bs=8M count=1")
    rows = oom_flags(launcher, "alice")
    assert rows["hog"]["oom_killed"] is True and rows["hog"]["state"] == "running"
    assert rows["calm"]["oom_killed"] is False
    text = launcher.container("alice", "list")
    line = next(x for x in text.out.splitlines() if x.startswith("hog "))
    assert " yes " in line

    # stopped, its cgroup gone: the flag survives in the RELEASED event and the list
    assert launcher.container("alice", "stop", "hog").code == 0
    after = oom_flags(launcher, "alice", "--all")
    assert after["hog"]["state"] == "exited" and after["hog"]["oom_killed"] is True
    released = launcher.events(kinds=["RELEASED"], container=after["hog"]["engine_name"])
    assert released[-1].meta["oom_killed"] is True


def test_two_containers_together_cannot_exceed_slice_memory(launcher):
    """Each holds 50 MiB (under its own 64 MiB), together 100 MiB > slice_memory 96 MiB."""
    import subprocess

    for name in ("left", "right"):
        assert launcher.container("alice", "run", name, "busybox", "--cpu-only").code == 0
    alice = launcher.user("alice")
    procs = [subprocess.Popen(["docker", "exec", f"ds01.{alice}.{name}", "sh", "-c",
                               HOLD.format(mib=50, secs=3)])
             for name in ("left", "right")]
    codes = [p.wait(timeout=60) for p in procs]
    assert any(c != 0 for c in codes), "one process should have been killed"
    rows = oom_flags(launcher, "alice")
    assert rows["left"]["oom_killed"] or rows["right"]["oom_killed"]


def test_killed_container_releases_at_finished_at_with_oom_flag(launcher):
    """A container that dies behind ds01's back after an OOM kill: released, flag recorded."""
    res = launcher.container("alice", "run", "dies", "busybox", "--json")
    assert res.code == 0, res
    device = res.json()["devices"][0]
    launcher.exec_in("alice", "dies", HOLD.format(mib=100, secs=1), check=False)
    assert oom_flags(launcher, "alice")["dies"]["oom_killed"] is True  # seen while it runs
    subprocess_kill(launcher, "dies")
    finished = launcher.inspect("alice", "dies")["State"]["FinishedAt"]
    status = launcher.status()
    assert not next(d for d in status["devices"] if d["id"] == device)["containers"]
    ev = launcher.events(kinds=["RELEASED"], container=res.json()["engine_name"])[-1]
    assert ev.meta["oom_killed"] is True and ev.meta["exit_code"] == 137
    assert same_instant(ev.ts, finished)


def subprocess_kill(launcher, name: str) -> None:
    import subprocess

    subprocess.run(["docker", "kill", f"ds01.{launcher.user('alice')}.{name}"], check=True,
                   capture_output=True, timeout=60)
    deadline = time.monotonic() + 10
    while launcher.inspect("alice", name)["State"]["Running"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def same_instant(ts: str, engine_time: str) -> bool:
    from datetime import datetime

    from ds01.service.reconcile import engine_time as parse

    return datetime.fromisoformat(ts) == parse(engine_time)
