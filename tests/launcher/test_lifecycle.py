"""stop / start / rm, release on exit behind ds01's back, rollback, and reconciliation."""

from __future__ import annotations

import subprocess
import time
from datetime import datetime, timedelta

import pytest

from ds01.context import Context
from ds01.runtime import Engine
from ds01.service.core import Service
from ds01.service.gpu import allocate, release, status
from ds01.service.reconcile import ORPHAN_GRACE_S, engine_time, reconcile

pytestmark = pytest.mark.docker

#: One GPU with one MIG instance: whoever holds it blocks everyone else.
ONE_INSTANCE = """\
description: one A100 with a single MIG instance
gpus:
  - {index: 0, name: NVIDIA A100-SXM4-80GB, memory_mib: 81920, mig: enabled,
     instances: [7g.80gb]}
"""


def held(launcher) -> dict:
    return {d["id"]: [c["container"] for c in d["containers"]]
            for d in launcher.status()["devices"] if d["containers"]}


def docker_kill(name: str) -> None:
    subprocess.run(["docker", "kill", name], check=True, capture_output=True, timeout=60)


def wait_stopped(launcher, role: str, name: str) -> dict:
    deadline = time.monotonic() + 10
    while True:
        info = launcher.inspect(role, name)
        if not info["State"]["Running"]:
            return info
        assert time.monotonic() < deadline, "container did not stop"
        time.sleep(0.05)


def test_stop_releases_start_reacquires_rm_releases(launcher):
    launcher.set_hardware(ONE_INSTANCE)
    launcher.config["gpu"] = {"max_containers_per_mig": 1}
    launcher.write()
    alice, bob = launcher.user("alice"), launcher.user("bob")
    run = launcher.container("alice", "run", "work", "busybox", "--json")
    assert run.code == 0, run
    assert held(launcher) == {"0:0": [f"ds01.{alice}.work"]}

    stop = launcher.container("alice", "stop", "work")
    assert stop.code == 0 and "released 0:0" in stop.out, stop
    assert held(launcher) == {}
    stopped = launcher.inspect("alice", "work")["State"]
    ev = launcher.events(kinds=["RELEASED"], container=f"ds01.{alice}.work")[-1]
    assert datetime.fromisoformat(ev.ts) == engine_time(stopped["FinishedAt"])
    listed = launcher.container("alice", "list", "--all", "--json").json()
    assert listed[0]["state"] == "exited" and listed[0]["devices"] == []
    assert launcher.container("alice", "list", "--json").json() == []

    assert launcher.container("bob", "run", "thief", "busybox").code == 0
    refused = launcher.process("alice", "start", "work")
    assert refused.code == 1, refused
    assert f"0:0 is held by {bob} (ds01.{bob}.thief)" in refused.err
    assert "container rm work" in refused.err and "container run work" in refused.err
    assert held(launcher) == {"0:0": [f"ds01.{bob}.thief"]}
    assert not launcher.inspect("alice", "work")["State"]["Running"]

    assert launcher.container("bob", "rm", "thief").code == 0
    assert launcher.inspect("bob", "thief") is None
    start = launcher.container("alice", "start", "work", "--json")
    assert start.code == 0, start
    assert start.json()["devices"] == ["0:0"] and start.json()["changed"] is True
    assert launcher.inspect("alice", "work")["State"]["Running"]
    assert held(launcher) == {"0:0": [f"ds01.{alice}.work"]}
    again = launcher.container("alice", "start", "work")
    assert again.code == 0 and "already running" in again.out

    rm = launcher.container("alice", "rm", "work")
    assert rm.code == 0 and "released 0:0" in rm.out, rm
    assert launcher.inspect("alice", "work") is None and held(launcher) == {}
    gone = launcher.process("alice", "rm", "work")
    assert gone.code == 1 and "no container named 'work'" in gone.err


def test_hold_after_stop_keeps_devices_until_it_expires(launcher):
    launcher.config["containers"]["gpu_hold_after_stop"] = "2s"
    launcher.write()
    alice = launcher.user("alice")
    res = launcher.container("alice", "run", "paused", "busybox", "--json")
    device = res.json()["devices"][0]
    stop = launcher.container("alice", "stop", "paused", "--json")
    assert stop.code == 0 and stop.json()["held_until"], stop
    assert held(launcher)[device] == [f"ds01.{alice}.paused"]  # kept during the hold
    finished = engine_time(launcher.inspect("alice", "paused")["State"]["FinishedAt"])
    time.sleep(max(0.0, (finished + timedelta(seconds=2.2) - datetime.now(finished.tzinfo))
                   .total_seconds()))
    assert device not in held(launcher)
    ev = launcher.events(kinds=["RELEASED"], container=f"ds01.{alice}.paused")[-1]
    assert datetime.fromisoformat(ev.ts) == finished + timedelta(seconds=2)


def test_docker_kill_behind_our_back_frees_the_device_at_next_status(launcher):
    alice = launcher.user("alice")
    res = launcher.container("alice", "run", "victim", "busybox", "--json")
    assert res.code == 0, res
    device = res.json()["devices"][0]
    docker_kill(f"ds01.{alice}.victim")
    finished = wait_stopped(launcher, "alice", "victim")["State"]["FinishedAt"]
    text = launcher.process(None, "gpu", "status", exe="ds01")
    assert text.code == 0, text
    assert device not in held(launcher)
    ev = launcher.events(kinds=["RELEASED"], container=f"ds01.{alice}.victim")
    assert len(ev) == 1
    assert datetime.fromisoformat(ev[0].ts) == engine_time(finished)
    assert ev[0].meta["exit_code"] == 137 and ev[0].meta["container_id"] == \
        res.json()["container_id"]
    listed = launcher.container("alice", "list", "--all", "--json").json()
    assert listed[0]["state"] == "exited" and listed[0]["exit_code"] == 137


def test_engine_failure_after_allocating_rolls_back(launcher):
    alice = launcher.user("alice")
    res = launcher.container("alice", "run", "broken", "missing", "--json")
    assert res.code == 3, res
    body = res.json()
    assert body == {"ok": False, "reason": "ENGINE_ERROR", "message": body["message"]}
    assert "not available in the container engine" in body["message"]
    assert "docker pull" in res.err
    assert launcher.allocations() == [] and held(launcher) == {}
    assert launcher.inspect("alice", "broken") is None
    kinds = [e.event for e in launcher.events(container=f"ds01.{alice}.broken")]
    assert kinds == ["ALLOCATED", "RELEASED"]
    assert launcher.events(kinds=["RELEASED"])[-1].reason.startswith("rolled back")
    assert launcher.container("alice", "run", "broken", "busybox").code == 0


def test_engine_down_is_a_clear_error_and_changes_nothing(launcher, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    res = launcher.process("alice", "run", "nowhere", "busybox")
    assert res.code == 3 and "ENGINE_ERROR" in res.err and "not reachable" in res.err, res
    assert launcher.allocations() == []


def service(launcher, now: datetime | None = None) -> Service:
    ctx = Context.build()
    return Service(ctx.with_(fixed_now=now) if now else ctx)


def test_reconcile_orphans_gone_containers_and_leaves_direct_allocations(launcher):
    alice = launcher.user("alice")
    run = launcher.container("alice", "run", "real", "busybox", "--cpu-only", "--json")
    launcher.engine.remove(run.json()["container_id"], force=True)  # behind ds01's back
    past = datetime.now().astimezone() - timedelta(seconds=ORPHAN_GRACE_S + 30)
    old = service(launcher, past)  # ds01 died after allocating, before creating
    meta = {"allocated_at": past.isoformat()}
    assert allocate(old, alice, f"ds01.{alice}.orphan", origin="launcher", meta=meta).ok
    old.close()
    fresh = service(launcher)
    assert allocate(fresh, alice, f"ds01.{alice}.starting", origin="launcher").ok
    assert allocate(fresh, launcher.user("bob"), "handed-out", origin="direct").ok

    done = reconcile(fresh)
    assert sorted(done.released) == [f"ds01.{alice}.orphan", f"ds01.{alice}.real"]
    left = sorted(r.container for r in launcher.allocations())
    assert left == [f"ds01.{alice}.starting", "handed-out"]
    reasons = {e.container: e.reason for e in launcher.events(kinds=["RELEASED"])}
    assert reasons[f"ds01.{alice}.orphan"].startswith("orphaned")
    assert reasons[f"ds01.{alice}.real"] == "container removed"
    fresh.close()


def test_running_container_without_allocation_is_recorded_again(launcher):
    alice = launcher.user("alice")
    res = launcher.container("alice", "run", "lost", "busybox", "--json")
    svc = service(launcher)
    release(svc, f"ds01.{alice}.lost")  # the store forgot it; the engine still runs it
    assert held(launcher) == {}  # no launcher allocation left: status does not ask the engine
    assert launcher.container("alice", "list").code == 0  # reconciles
    assert held(launcher) == {res.json()["devices"][0]: [f"ds01.{alice}.lost"]}
    row = launcher.allocations()[0]
    assert row.origin == "launcher" and row.container_id == res.json()["container_id"]
    assert row.meta["adopted"] is True
    svc.close()


def test_status_without_launcher_allocations_never_asks_the_engine(launcher, tmp_path):
    nowhere = Engine(str(tmp_path / "absent.sock"))
    svc = Service(Context.build(), engine=nowhere)
    assert allocate(svc, launcher.user("bob"), "direct-one").ok
    assert status(svc).warnings == ()
    assert allocate(svc, launcher.user("bob"), "ds01.x.y", origin="launcher").ok
    warned = status(svc).warnings
    assert any("not checked against the container engine" in w for w in warned)
    svc.close()


def test_missing_shared_mount_is_refused_and_rolled_back(launcher, tmp_path):
    shared = tmp_path / "not-there"
    launcher.config["containers"]["mounts"][f"{shared}/datasets"] = "/data"
    launcher.write()
    res = launcher.process("alice", "run", "needsdata", "busybox")
    assert res.code == 3 and "MOUNT_MISSING" in res.err and str(shared) in res.err, res
    assert launcher.allocations() == [] and launcher.inspect("alice", "needsdata") is None
    assert not shared.exists(), "a shared folder is never created by ds01"


@pytest.fixture
def unstartable_image(launcher, tmp_path):
    """An image the engine creates a container from but cannot start: /workspace is a file
    there, so the workspace (a directory) cannot be mounted on it."""
    from .conftest import SESSION

    ref = f"ds01-test/unstartable-{SESSION}:latest"
    root = tmp_path / "rootfs"
    root.mkdir()
    (root / "workspace").write_text("a file where the launcher mounts a directory\n")
    tar = subprocess.run(["tar", "-C", str(root), "-c", "."], capture_output=True, check=True)
    subprocess.run(["docker", "import", "-", ref], input=tar.stdout, capture_output=True,
                   check=True, timeout=120)
    launcher.config["images"]["unstartable"] = ref
    launcher.write()
    yield ref
    subprocess.run(["docker", "rmi", "-f", ref], capture_output=True, timeout=120)


def test_start_failure_removes_the_half_made_container(launcher, unstartable_image):
    alice = launcher.user("alice")
    res = launcher.container("alice", "run", "halfmade", "unstartable", "--json")
    assert res.code == 3 and res.json()["reason"] == "ENGINE_ERROR", res
    assert "allocation was given back" in res.json()["message"]
    assert "ENGINE_ERROR" in res.err and "workspace" in res.err, res.err
    assert launcher.inspect("alice", "halfmade") is None, "the created container is removed"
    assert launcher.allocations() == []
    kinds = [e.event for e in launcher.events(container=f"ds01.{alice}.halfmade")]
    assert kinds == ["ALLOCATED", "RELEASED"]
