"""Launcher use cases that only look: list, logs, and the shell command line."""

from __future__ import annotations

from datetime import datetime

from ds01.records import field, record
from ds01.service.core import Service
from ds01.service.launchspec import Actor, invalid
from ds01.service.lookup import locate
from ds01.service.reconcile import (
    RUNNING_STATES,
    engine_names,
    engine_time,
    oom_kills,
    reconcile,
)

#: Runs bash when the image has it, sh otherwise.
SHELL_PICK = "if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi"


@record
class ContainerView:
    """One container as ``container list`` shows it."""

    name: str
    engine_name: str
    user: str
    state: str
    devices: tuple[str, ...]  # held now (none once stopped and released)
    exit_code: int | None
    oom_killed: bool
    image: str = ""
    container_id: str = ""
    uptime_s: float | None = None
    limits: dict = field(default_factory=dict)  # cpus, memory, shm_size, pids_limit

    def to_dict(self) -> dict:
        return {"name": self.name, "engine_name": self.engine_name, "user": self.user,
                "state": self.state, "devices": list(self.devices),
                "exit_code": self.exit_code, "oom_killed": self.oom_killed}


def list_containers(svc: Service, actor: Actor, *, all: bool = False) -> list[ContainerView]:
    """``actor``'s containers (running ones; ``all``: stopped ones too), by name."""
    listing = reconcile(svc).containers
    mine = [c for c in listing if (c.get("Labels") or {}).get("ds01.user") == actor.user]
    if not all:
        mine = [c for c in mine if c.get("State") in RUNNING_STATES]
    with svc.store.read() as tx:
        rows = {r.container: r for r in tx.allocations(user=actor.user)}
    now = svc.ctx.now()
    views = []
    for item in mine:
        info = svc.engine.inspect(item["Id"])
        if info is None:
            continue  # removed while we looked
        views.append(_view(svc, item, info, rows, now))
    return sorted(views, key=lambda v: v.name)


def _view(svc: Service, item: dict, info: dict, rows: dict, now) -> ContainerView:
    labels = item.get("Labels") or {}
    ename = engine_names(item)[0]
    state = info.get("State") or {}
    host = info.get("HostConfig") or {}
    row = rows.get(ename)
    running = state.get("Status") in RUNNING_STATES
    return ContainerView(
        name=labels.get("ds01.name") or ename, engine_name=ename,
        user=labels.get("ds01.user") or "", state=str(state.get("Status") or item.get("State")),
        devices=row.devices if row is not None else (),
        exit_code=None if running or state.get("Status") == "created" else state.get("ExitCode"),
        oom_killed=_oom(svc, info, row, ename),
        image=labels.get("ds01.image") or "", container_id=info.get("Id", ""),
        uptime_s=uptime_s(state.get("StartedAt"), now) if running else None,
        limits={"cpus": (host.get("NanoCpus") or 0) / 1e9 or None,
                "memory": host.get("Memory") or None, "shm_size": host.get("ShmSize") or None,
                "pids_limit": host.get("PidsLimit") or None},
    )


def uptime_s(started: str | None, now: datetime) -> float | None:
    """Seconds since the engine's ``StartedAt`` (None when it never started)."""
    began = engine_time(started)
    return None if began is None else max(0.0, (now - began).total_seconds())


def _oom(svc: Service, info: dict, row, ename: str) -> bool:
    """OOM-killed: the engine's flag, the kernel's count in the container's memory cgroup
    (while it exists), or what reconcile/stop recorded when the container went."""
    if (info.get("State") or {}).get("OOMKilled"):
        return True
    if row is not None and row.meta.get("oom_killed"):
        return True
    parent = (info.get("HostConfig") or {}).get("CgroupParent")
    if oom_kills(info.get("Id"), parent):
        return True
    with svc.store.read() as tx:
        events = tx.events(container=ename, kinds=["RELEASED"])
    return any(e.meta.get("container_id") == info.get("Id") and e.meta.get("oom_killed")
               for e in events)


def logs(svc: Service, actor: Actor, ref: str, tail: int | None = None) -> bytes:
    """The container's output so far."""
    found = locate(svc, actor, ref, reconcile(svc).containers)
    if found.item is None:
        raise invalid(f"container {found.name!r} does not exist in the engine any more")
    return svc.engine.logs(found.id, tail=tail)


def logs_argv(svc: Service, actor: Actor, ref: str, tail: int | None = None) -> list[str]:
    """``docker logs -f`` for the container (to exec: follows until Ctrl-C)."""
    found = locate(svc, actor, ref, reconcile(svc).containers)
    if found.item is None:
        raise invalid(f"container {found.name!r} does not exist in the engine any more")
    return ["docker", "logs", "-f", "--tail", "all" if tail is None else str(tail), found.id]


def shell_argv(svc: Service, actor: Actor, ref: str, *, tty: bool = True) -> list[str]:
    """``docker exec -it`` into the container as its owner (bash if the image has it)."""
    found = locate(svc, actor, ref, reconcile(svc).containers)
    if found.state not in RUNNING_STATES:
        raise invalid(f"container {found.name!r} is not running ({found.state})",
                      hint=f"start it first: container start {found.name}")
    argv = ["docker", "exec", "-it" if tty else "-i"]
    owner = found.owner
    if svc.config.containers.run_as_user and owner.uid is not None:
        gid = owner.gid if owner.gid is not None else owner.uid
        argv += ["--user", f"{owner.uid}:{gid}"]
    return argv + [found.id, "/bin/sh", "-c", SHELL_PICK]
