"""Sixteen users starting containers at the same moment, on the simulated note server.

The note server has 13 devices: GPU 0 whole (shared by at most 1 container) and 12 MIG
instances (each shared by at most 2): 24 places for MIG containers. Real Unix users, each
running ``container`` as a real process the way sudo runs it, all 16 processes at once:

1. every user asks for one device (one asks for a whole GPU, which a student may not hold;
   one asks for none): 14 MIG containers, one CPU-only, one refusal;
2. every user asks for one more device at once: 10 places are left for 16 requests;
3. half the users remove a container while the other half ask for another one.

After each round: every process either started a container that runs with exactly the devices
recorded for it (labels, ``NVIDIA_VISIBLE_DEVICES`` inside, the store) or was refused with a
reason; no device holds more containers than its sharing cap; the store and the engine agree.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
from collections import Counter

import pytest

from .conftest import PREFIX, VENV_BIN, Result, unavailable

pytestmark = pytest.mark.docker

USERS = 16
MIG_CAP, GPU_CAP = 2, 1
REFUSALS = {"NO_CAPACITY", "USER_AT_LIMIT"}


@pytest.fixture(scope="module")
def crowd():
    """16 real Unix accounts for this module, deleted after."""
    if os.geteuid() != 0:
        unavailable("creating Unix users needs root")
    names = [f"{PREFIX}c{i:02d}" for i in range(USERS)]
    made = []
    try:
        for name in names:
            subprocess.run(["useradd", "--no-create-home", "--user-group", "--shell", "/bin/sh",
                            name], check=True, capture_output=True, text=True)
            made.append(name)
        yield names
    finally:
        for name in made:
            subprocess.run(["userdel", name], capture_output=True)


@pytest.fixture
def crowded(launcher, crowd):
    cfg = launcher.config
    cfg["groups"]["student"]["members"] = [*cfg["groups"]["student"]["members"], *crowd]
    cfg["gpu"] = {"units_per_gpu": 4, "max_containers_per_mig": MIG_CAP,
                  "max_containers_per_gpu": GPU_CAP}
    launcher.write()
    return launcher


def at_once(launcher, commands: list[tuple[str, list[str]]]) -> list[Result]:
    """Start every ``container ARGS`` (one per user) before waiting for any."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SUDO_")}
    base.update(launcher.env)
    procs = []
    for user, args in commands:
        entry = pwd.getpwnam(user)
        env = {**base, "SUDO_USER": user, "SUDO_UID": str(entry.pw_uid),
               "SUDO_GID": str(entry.pw_gid)}
        procs.append(subprocess.Popen([str(VENV_BIN / "container"), *args, "--json"], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        results.append(Result(proc.returncode, out, err))
    return results


def started_or_refused(results: list[Result]) -> list[dict]:
    """Each result is a started container (returned) or a refusal with a reason."""
    started = []
    for res in results:
        answer = res.json()
        if res.code == 0:
            assert answer["ok"] is True and answer["container_id"], res
            started.append(answer)
        else:
            assert res.code == 1, res
            assert answer["ok"] is False and answer["reason"] in REFUSALS, res
            assert answer["message"].startswith(answer["reason"]), res
    return started


def env_inside(container_id: str) -> str:
    script = 'echo "$NVIDIA_VISIBLE_DEVICES"'
    out = subprocess.run(["docker", "exec", container_id, "sh", "-c", script],
                         capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.strip()


def check_started(launcher, started: list[dict]) -> None:
    """Each started container runs with exactly the devices it was given and recorded."""
    rows = {r.container: r for r in launcher.allocations()}
    for answer in started:
        info = launcher.engine.inspect(answer["container_id"])
        assert info is not None and info["State"]["Running"], answer
        labels = info["Config"]["Labels"]
        assert labels["ds01.devices"] == ",".join(answer["devices"]), answer
        assert labels["ds01.uuids"] == ",".join(answer["uuids"]), answer
        row = rows[answer["engine_name"]]
        assert (row.devices, row.uuids, row.container_id) == (
            tuple(answer["devices"]), tuple(answer["uuids"]), answer["container_id"])
        assert env_inside(answer["container_id"]) == (",".join(answer["uuids"]) or "void")


def check_agreement(launcher) -> Counter:
    """No device over its cap; the store and the engine agree. Returns containers per device."""
    rows = [r for r in launcher.allocations() if r.origin == "launcher"]
    running = {engine_name(c): c for c in launcher.engine.list(
        {"ds01.managed": "true", "ds01.instance": launcher.instance}, all=False)}
    kinds = {d["id"]: d["kind"] for d in launcher.status()["devices"]}
    per_device = Counter(d for r in rows for d in r.devices)
    for device, count in per_device.items():
        cap = GPU_CAP if kinds[device] == "gpu" else MIG_CAP
        assert count <= cap, (device, count)
    by_labels = Counter(d for c in running.values()
                        for d in (c["Labels"]["ds01.devices"] or "").split(",") if d)
    assert by_labels == per_device
    for row in rows:
        item = running.get(row.container)
        assert item is not None, f"{row.container} holds {row.devices} without a container"
        labels = item["Labels"]
        assert item["Id"] == row.container_id
        assert labels["ds01.user"] == row.user
        assert labels["ds01.devices"] == ",".join(row.devices)
        assert labels["ds01.uuids"] == ",".join(row.uuids)
    assert set(running) == {r.container for r in rows}, "a running container without allocation"
    for user, units in Counter(r.user for r in rows for _ in r.devices).items():
        assert units <= 2, (user, units)  # max_mig_instances for students
    return per_device


def engine_name(item: dict) -> str:
    return item["Names"][0].lstrip("/")


def test_sixteen_users_at_once(crowded, crowd):
    launcher = crowded
    first = [(u, ["run", "job", "busybox"]) for u in crowd]
    first[0] = (crowd[0], ["run", "job", "busybox", "--full-gpu"])  # 4 units: over 2
    first[1] = (crowd[1], ["run", "job", "busybox", "--cpu-only"])
    results = at_once(launcher, first)
    started = started_or_refused(results)
    assert results[0].json()["reason"] == "USER_AT_LIMIT"
    assert results[1].json()["devices"] == []
    assert len(started) == USERS - 1
    check_started(launcher, started)
    assert sum(check_agreement(launcher).values()) == USERS - 2

    second = at_once(launcher, [(u, ["run", "more", "busybox"]) for u in crowd])
    more = started_or_refused(second)
    check_started(launcher, more)
    held = check_agreement(launcher)
    assert sum(held.values()) == 12 * MIG_CAP, "every MIG place is taken, none twice"
    assert len(more) == 12 * MIG_CAP - (USERS - 2)
    assert {r.json()["reason"] for r in second if r.code} == {"NO_CAPACITY"}

    third = at_once(launcher, [(u, ["rm", "job"] if i % 2 else ["run", "late", "busybox"])
                               for i, u in enumerate(crowd)])
    for i, res in enumerate(third):
        if i % 2:
            assert res.code == 0 and res.json()["action"] == "removed", res
    late = started_or_refused([r for i, r in enumerate(third) if not i % 2])
    check_started(launcher, late)
    check_agreement(launcher)
    removed = {f"ds01.{u}.job" for i, u in enumerate(crowd) if i % 2}
    assert removed <= {e.container for e in launcher.events(kinds=["RELEASED"])}
    assert not removed & {r.container for r in launcher.allocations()}
