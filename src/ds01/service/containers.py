"""Launcher use cases: run, stop, start, rm (this module); list, logs, shell (``views``).

Every use case reconciles first (``ds01.service.reconcile``), so decisions never rest on
containers that died behind ds01's back. Allocations are recorded under the engine name
``ds01.<user>.<name>`` with origin ``launcher``; the container id is added once the engine has
created the container. When the engine fails after allocating, the allocation is given back and
any half-made container removed.
"""

from __future__ import annotations

from ds01.records import record, replace

from ds01.errors import EngineError, Refusal
from ds01.policy.model import NO_CAPACITY, RESERVED, Decision, Request
from ds01.service.core import Service
from ds01.service.gpu import allocate, release
from ds01.service.launchspec import (
    Actor,
    Launch,
    apply_cgroups,
    build_spec,
    cgroup_parent,
    check_name,
    engine_info,
    engine_name,
    ensure_mounts,
    invalid,
    resolve_image,
)
from ds01.service.lookup import allocation, locate
from ds01.service.reconcile import (
    LAUNCHER,
    RUNNING_STATES,
    engine_names,
    engine_time,
    managed_labels,
    oom_kills,
    reconcile,
    stop_meta,
)

STOP_TIMEOUT_S = 10


class AllocationRefused(Refusal):
    """The allocator said no; carries the decision (reason code, numbers, friendly text)."""

    def __init__(self, decision: Decision, templates: dict | None = None):
        from ds01.policy.messages import headline, message

        self.decision = decision
        self.headline = headline(decision)
        self.text = message(decision, templates)
        super().__init__(self.headline, code=decision.reason or "REFUSED")


@record
class RunResult:
    name: str
    engine_name: str
    container_id: str | None
    devices: tuple[str, ...]
    uuids: tuple[str, ...]
    image: str
    spec: object  # the runtime ContainerSpec
    dry_run: bool = False

    def to_dict(self) -> dict:
        if self.dry_run:
            from ds01.runtime import format_argv, to_docker_argv

            argv = to_docker_argv(self.spec)
            return {"ok": True, "dry_run": True, "name": self.name,
                    "engine_name": self.engine_name, "devices": list(self.devices),
                    "uuids": list(self.uuids), "argv": argv, "command": format_argv(argv)}
        return {"ok": True, "name": self.name, "engine_name": self.engine_name,
                "container_id": self.container_id, "devices": list(self.devices),
                "uuids": list(self.uuids)}


@record
class Changed:
    """The result of stop, start and rm."""

    name: str
    engine_name: str
    action: str  # "stopped" | "started" | "removed"
    changed: bool  # False: it already was in that state
    devices: tuple[str, ...] = ()  # released (stop, rm) or acquired (start)
    held_until: str | None = None  # stop with gpu_hold_after_stop: devices kept until then

    def to_dict(self) -> dict:
        return {"ok": True, "name": self.name, "engine_name": self.engine_name,
                "action": self.action, "changed": self.changed, "devices": list(self.devices),
                "held_until": self.held_until}


def _precise_now(svc: Service) -> str:
    return svc.ctx.now().isoformat(timespec="microseconds")


# --------------------------------------------------------------------------- run


def run(svc: Service, actor: Actor, name: str, image: str, *, count: int = 1,
        full_gpu: bool = False, cpu_only: bool = False, dry_run: bool = False) -> RunResult:
    """Allocate, create and start ``actor``'s container ``name`` from allowlisted ``image``."""
    check_name(name)
    image_name, ref = resolve_image(svc, actor, image)
    ename = engine_name(actor.user, name)
    listing = (svc.engine.list(managed_labels(svc), all=True) if dry_run
               else reconcile(svc).containers)
    _refuse_taken(svc, listing, name, ename)
    who = svc.effective(actor.user)
    info = engine_info(svc)
    parent, plan = cgroup_parent(svc, who, info.cgroup_driver)
    if dry_run:
        decision = _preview(svc, actor.user, ename, count, full_gpu, cpu_only)
    else:
        meta = {"name": name, "image": image_name, "engine_name": ename,
                "cgroup_parent": parent, "allocated_at": _precise_now(svc)}
        decision = allocate(svc, actor.user, ename, count=count, full_gpu=full_gpu,
                            cpu_only=cpu_only, origin=LAUNCHER, meta=meta)
    if not decision.ok:
        raise AllocationRefused(decision, svc.config.error_messages)
    if decision.existing:  # another `container run` with this name got there first
        raise _taken(name)
    launch = Launch(name=name, engine_name=ename, image_name=image_name, image_ref=ref,
                    devices=decision.devices, uuids=decision.uuids, cgroup_parent=parent,
                    plan=plan)
    spec = build_spec(svc, actor, who, launch, info.ncpu)
    cid = None if dry_run else _create_and_start(svc, actor, launch, spec)
    return RunResult(name=name, engine_name=ename, container_id=cid, devices=decision.devices,
                     uuids=decision.uuids, image=image_name, spec=spec, dry_run=dry_run)


def _taken(name: str) -> Refusal:
    return invalid(f"you already have a container named {name!r}",
                   hint=f"use it (`container start {name}`, `container shell {name}`), remove it "
                   f"(`container rm {name}`), or choose another name")


def _refuse_taken(svc: Service, listing: list[dict], name: str, ename: str) -> None:
    if any(ename in engine_names(c) for c in listing) or allocation(svc, ename) is not None:
        raise _taken(name)


def _preview(svc: Service, user: str, ename: str, count: int, full_gpu: bool,
             cpu_only: bool) -> Decision:
    """The decision ``allocate`` would make now, recording nothing (for --dry-run)."""
    from ds01.policy.allocate import decide
    from ds01.service.gpu import snapshot

    with svc.store.read() as tx:
        snap = snapshot(svc, tx.allocations())
    request = Request(user=user, container=ename, count=count, full_gpu=full_gpu,
                      cpu_only=cpu_only)
    return decide(snap, request, svc.effective(user), svc.ctx.now())


def _create_and_start(svc: Service, actor: Actor, launch: Launch, spec) -> str:
    """Cgroups, mounts, create, record the id, start; on any failure undo everything."""
    cid = None
    try:
        apply_cgroups(launch.plan)
        ensure_mounts(svc, actor)
        cid = svc.engine.create(spec)
        _record_id(svc, launch.engine_name, cid)
        svc.engine.start(cid)
        return cid
    except BaseException as exc:
        _roll_back(svc, launch, cid, exc)
        raise _explained(exc, launch) from exc


def _record_id(svc: Service, ename: str, cid: str, **meta) -> None:
    with svc.store.write() as tx:
        row = tx.get(ename)
        if row is not None:
            tx.update(replace(row, container_id=cid, meta={**row.meta, **meta}))


def _roll_back(svc: Service, launch: Launch, cid: str | None, exc: BaseException) -> None:
    if cid is not None:
        try:
            svc.engine.remove(cid, force=True)
        except EngineError as again:
            exc.add_note(f"removing the half-made container {cid[:12]} failed too: {again}")
    why = f"rolled back: {getattr(exc, 'message', None) or type(exc).__name__}"
    release(svc, launch.engine_name, why=why[:300], meta={"rolled_back": True})


def _explained(exc: BaseException, launch: Launch) -> BaseException:
    """Engine answers a student can act on; anything else unchanged."""
    from ds01.runtime import EngineResponseError

    if not isinstance(exc, EngineResponseError):
        return exc
    text = exc.engine_message.lower()
    if exc.status == 404 and "image" in text:
        return EngineError(
            f"the image {launch.image_name!r} ({launch.image_ref}) is not available in the "
            "container engine; nothing was started and your allocation was given back",
            hint=f"ask an administrator to pull it (docker pull {launch.image_ref})")
    if exc.status == 409 and "already in use" in text:
        return _taken(launch.name)
    if "device driver" in text and "nvidia" in text:
        return EngineError(
            "this container engine cannot attach GPUs (it has no NVIDIA runtime); nothing was "
            "started and your allocation was given back",
            hint="an administrator must install the NVIDIA Container Toolkit and restart the "
            "engine; on a machine without GPUs set `containers.gpu_attach: none` in the "
            "policy file; CPU-only containers (--cpu-only) work meanwhile")
    return EngineError(f"{exc.message}; nothing was started and your allocation was given back",
                       hint=exc.hint)


# --------------------------------------------------------------------------- stop


def stop(svc: Service, actor: Actor, ref: str) -> Changed:
    """Stop a container; its devices go back at once (or after gpu_hold_after_stop)."""
    found = locate(svc, actor, ref, reconcile(svc).containers)
    if found.item is None:
        raise invalid(f"container {found.name!r} does not exist in the engine any more",
                      hint=f"`container rm {found.name}` clears what is left of it")
    row = allocation(svc, found.engine_name)
    kills = oom_kills(found.id, (row.meta if row else {}).get("cgroup_parent"))
    changed = svc.engine.stop(found.id, timeout_s=STOP_TIMEOUT_S)
    state = (svc.engine.inspect(found.id) or {}).get("State") or {}
    if row is None:
        return Changed(found.name, found.engine_name, "stopped", changed)
    meta = stop_meta(row, state)
    if kills:
        meta.update(oom_killed=True, oom_kills=kills)
    finished = engine_time(state.get("FinishedAt")) or svc.ctx.now()
    hold = svc.config.containers.gpu_hold_after_stop or 0
    if hold > 0:
        from datetime import timedelta

        until = (finished + timedelta(seconds=hold)).isoformat()
        _record_id(svc, found.engine_name, found.id, stopped_at=finished.isoformat(),
                   **{k: meta[k] for k in ("oom_killed", "oom_kills") if meta.get(k)})
        return Changed(found.name, found.engine_name, "stopped", changed, (), until)
    out = release(svc, found.engine_name, when=finished.isoformat(), why="stopped by its user",
                  meta=meta, only_if_since=row.since)
    return Changed(found.name, found.engine_name, "stopped", changed, out.devices)


# --------------------------------------------------------------------------- start


def start(svc: Service, actor: Actor, ref: str) -> Changed:
    """Start a stopped container again with the same devices, or refuse clearly."""
    found = locate(svc, actor, ref, reconcile(svc).containers)
    if found.item is None:
        raise invalid(f"container {found.name!r} does not exist in the engine any more",
                      hint=f"`container rm {found.name}` then `container run {found.name} IMAGE`")
    row = allocation(svc, found.engine_name)
    if found.state in RUNNING_STATES:
        return Changed(found.name, found.engine_name, "started", False,
                       row.devices if row else ())
    current = ((svc.engine.inspect(found.id) or {}).get("HostConfig") or {}).get("CgroupParent")
    acquired = row is None
    devices = _reacquire(svc, found, current) if acquired else row.devices
    _refresh_cgroups(svc, found, current)
    try:
        svc.engine.start(found.id)
    except BaseException:
        if acquired:
            release(svc, found.engine_name, why="rolled back: the engine could not start it")
        raise
    return Changed(found.name, found.engine_name, "started", True, devices)


def _reacquire(svc: Service, found, cgroup_parent: str | None) -> tuple[str, ...]:
    """Allocate exactly the devices the container was created with (its labels)."""
    labels = found.labels
    wanted = tuple(d for d in (labels.get("ds01.devices") or "").split(",") if d)
    uuids = tuple(u for u in (labels.get("ds01.uuids") or "").split(",") if u)
    known = {d.id: d for d in svc.devices}
    gone = [d for d in wanted if d not in known or known[d].uuid not in uuids]
    if gone:
        raise invalid(
            f"cannot start {found.name!r}: its device(s) {', '.join(gone)} no longer exist as "
            f"they were when it was created (the GPU layout changed)",
            hint=f"`container rm {found.name}` then `container run {found.name} IMAGE`")
    meta = {"name": found.name, "image": labels.get("ds01.image"),
            "engine_name": found.engine_name, "allocated_at": _precise_now(svc),
            "cgroup_parent": cgroup_parent}
    full = any(known[d].kind == "gpu" for d in wanted)
    decision = allocate(svc, found.owner.user, found.engine_name, count=max(1, len(wanted)),
                        full_gpu=full, cpu_only=not wanted, origin=LAUNCHER, meta=meta,
                        only=wanted)
    if not decision.ok:
        if decision.reason in (NO_CAPACITY, RESERVED) and wanted:
            raise _held_elsewhere(svc, found, wanted, decision)
        raise AllocationRefused(decision, svc.config.error_messages)
    _record_id(svc, found.engine_name, found.id)
    return decision.devices


def _held_elsewhere(svc: Service, found, wanted: tuple[str, ...], decision: Decision):
    from ds01.policy.messages import headline

    with svc.store.read() as tx:
        holders = {d: [r for r in tx.on_device(d) if r.container != found.engine_name]
                   for d in wanted}
    said = []
    for dev, rows in holders.items():
        if rows:
            said.append(f"{dev} is held by " + ", ".join(f"{r.user} ({r.container})"
                                                         for r in rows))
    if decision.reason == RESERVED:
        said.append(headline(decision))
    what = "; ".join(said) or headline(decision)
    return Refusal(
        f"cannot start {found.name!r}: it needs the same device(s) it was created with "
        f"({', '.join(wanted)}), and they are taken: {what}",
        hint=f"`container rm {found.name}` then `container run {found.name} IMAGE` gives you "
        "a container on whatever device is free now",
        code=decision.reason or NO_CAPACITY)


def _refresh_cgroups(svc: Service, found, current: str | None) -> None:
    """Re-create the user's cgroups with the current limits (cgroupfs; e.g. after a reboot),
    when the container's cgroup parent ``current`` is still the one they would get now."""
    info = engine_info(svc)
    who = svc.effective(found.owner.user)
    parent, plan = cgroup_parent(svc, who, info.cgroup_driver)
    if plan and current == parent:
        apply_cgroups(plan)


# --------------------------------------------------------------------------- rm


def remove(svc: Service, actor: Actor, ref: str) -> Changed:
    """Remove a container (running or not) and give its devices back."""
    found = locate(svc, actor, ref, reconcile(svc).containers)
    row = allocation(svc, found.engine_name)
    meta: dict = {"container_id": found.id or (row.container_id if row else None)}
    if found.item is not None:
        kills = oom_kills(found.id, (row.meta if row else {}).get("cgroup_parent"))
        if kills or (row and row.meta.get("oom_killed")):
            meta.update(oom_killed=True, oom_kills=kills or row.meta.get("oom_kills"))
        svc.engine.remove(found.id, force=True)
    out = release(svc, found.engine_name, why="removed by its user", meta=meta)
    return Changed(found.name, found.engine_name, "removed", True, out.devices)
