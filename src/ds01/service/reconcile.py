"""Reconciliation: make the recorded launcher allocations agree with the engine.

The engine's labels are the truth for what exists. Before every container decision and in
every status or list, launcher allocations are compared with this installation's containers
(``ds01.managed=true``, ``ds01.instance=<containers.instance>``):

- a container that exited, was killed or OOM-killed releases its devices, with the release
  time taken from the engine's ``State.FinishedAt`` (plus ``gpu_hold_after_stop``, when set:
  the devices are kept until then);
- an allocation whose recorded container is gone is released at once;
- an allocation with no container id that is older than ``ORPHAN_GRACE_S`` (ds01 died between
  allocating and creating) is released; younger ones belong to a launch in progress;
- a running container that holds no allocation (started behind ds01's back, or state lost) is
  recorded again from its labels;
- allocations made directly (origin ``direct``) are never touched.

An OOM kill seen in a running container's memory cgroup is recorded in its allocation's meta,
and carried into the RELEASED event's meta when the container's devices are released.
"""

from __future__ import annotations

import re
from ds01.records import field, record, replace
from datetime import datetime, timedelta
from functools import cache

from ds01.errors import Ds01Error, EngineError, StateError
from ds01.service.core import Service
from ds01.state.store import AllocationRow, Event

ORPHAN_GRACE_S = 60.0
LAUNCHER = "launcher"
RUNNING_STATES = ("running", "paused", "restarting")


@record(frozen=False)
class Reconciled:
    """What one reconciliation saw and did."""

    containers: list[dict] = field(default_factory=list)  # the engine's listing (summaries)
    released: list[str] = field(default_factory=list)  # engine names whose devices went back
    adopted: list[str] = field(default_factory=list)  # running containers recorded again
    noted: list[str] = field(default_factory=list)  # allocations whose meta was updated


def managed_labels(svc: Service) -> dict[str, str]:
    """The label filter selecting this installation's containers."""
    return {"ds01.managed": "true", "ds01.instance": svc.config.containers.instance}


def engine_time(text: str | None) -> datetime | None:
    """The engine's RFC 3339 time (nanoseconds) as an aware datetime; None for its zero time."""
    if not text or text.startswith("0001-"):
        return None
    raw = text.strip()
    if raw.endswith("Z"):
        raw = raw[:-1] + "+00:00"
    m = re.fullmatch(r"(.*T\d\d:\d\d:\d\d)(\.\d+)?(.*)", raw)
    if m is None:
        return None
    try:
        return datetime.fromisoformat(m.group(1) + (m.group(2) or "")[:7] + m.group(3))
    except ValueError:
        return None


def instant(text: str | None) -> datetime | None:
    """A stored ISO time as an aware datetime (None when missing or unreadable)."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def engine_names(item: dict) -> list[str]:
    return [n.lstrip("/") for n in item.get("Names") or []]


@cache
def cgroup_tree():
    """The host's cgroup tree (``ds01.cgroups.fs.CgroupTree`` at /sys/fs/cgroup)."""
    from ds01.cgroups.fs import CgroupTree

    return CgroupTree()


def oom_kills(container_id: str | None, parent: str | None) -> int | None:
    """Kernel OOM kills in a container's memory cgroup while it exists; None when unknown."""
    if not container_id or not parent:
        return None
    try:
        tree = cgroup_tree()
        where = tree.find_container_cgroup(container_id, parent)
        return None if where is None else tree.oom_kills(where)
    except (Ds01Error, OSError):
        return None


# --------------------------------------------------------------------------- the pass


def reconcile(svc: Service) -> Reconciled:
    """Compare launcher allocations with the engine and fix the store (see module doc)."""
    with svc.store.read() as tx:
        rows = tx.allocations()
    listing = svc.engine.list(managed_labels(svc), all=True)
    done = Reconciled(containers=listing)
    by_id = {c.get("Id"): c for c in listing}
    by_name = {n: c for c in listing for n in engine_names(c)}
    now = svc.ctx.now()
    for row in rows:
        if row.origin != LAUNCHER:
            continue
        item = by_id.get(row.container_id) if row.container_id else by_name.get(row.container)
        _settle(svc, row, item, now, done)
    held = {r.container for r in rows}
    for item in listing:
        names = engine_names(item)
        if item.get("State") == "running" and names and names[0] not in held:
            if _adopt(svc, item, names[0]):
                done.adopted.append(names[0])
    return done


def reconcile_for_status(svc: Service) -> tuple[str, ...]:
    """Reconcile when launcher allocations exist; warnings instead of engine or store errors.

    With no launcher allocation nothing is asked of the engine, so a status on a machine
    without Docker works as before.
    """
    with svc.store.read() as tx:
        launcher = any(r.origin == LAUNCHER for r in tx.allocations())
    if not launcher:
        return ()
    try:
        reconcile(svc)
    except EngineError as exc:
        return (f"launcher allocations were not checked against the container engine: "
                f"{exc.message}",)
    except StateError as exc:  # e.g. a user who may ask the engine but not write the state
        return (f"launcher allocations could not be brought up to date: {exc.message}",)
    return ()


def _age_s(row: AllocationRow, now: datetime) -> float:
    since = instant((row.meta or {}).get("allocated_at")) or instant(row.since)
    return (now - since).total_seconds() if since is not None else float("inf")


def _settle(svc: Service, row: AllocationRow, item: dict | None, now: datetime,
            done: Reconciled) -> None:
    """Decide about one launcher allocation and act."""
    young = _age_s(row, now) < ORPHAN_GRACE_S
    if row.container_id is None:
        if item is None:
            if not young:
                _release(svc, row, done, now, "orphaned: no container was created")
            return
        if young:
            return
        if item.get("State") in RUNNING_STATES:
            _note(svc, row, done, container_id=item.get("Id"))
            return
        _release(svc, row, done, now, "orphaned: the container was never started")
        return
    if item is None:
        _release(svc, row, done, now, "container removed", {"container_id": row.container_id})
        return
    state = item.get("State")
    if state in RUNNING_STATES:
        _check_oom(svc, row, done)
    elif state == "created":
        if not young:
            _release(svc, row, done, now, "container never started",
                     {"container_id": row.container_id})
    else:
        _settle_stopped(svc, row, item, now, done, young)


def _settle_stopped(svc: Service, row: AllocationRow, item: dict, now: datetime,
                    done: Reconciled, young: bool) -> None:
    info = svc.engine.inspect(item["Id"]) or {}
    state = info.get("State") or {}
    finished = engine_time(state.get("FinishedAt"))
    allocated = instant((row.meta or {}).get("allocated_at")) or instant(row.since)
    if finished is not None and allocated is not None and allocated > finished:
        # allocated after the container stopped: a `container start` in progress
        if not young:
            _release(svc, row, done, now, "start did not complete",
                     {"container_id": row.container_id})
        return
    hold = timedelta(seconds=svc.config.containers.gpu_hold_after_stop or 0)
    until = (finished or now) + hold
    if until > now:
        return  # still held after stopping
    meta = stop_meta(row, state)
    _release(svc, row, done, until, stop_reason(state, meta), meta)


def stop_meta(row: AllocationRow, state: dict) -> dict:
    """Facts of a stopped container for the RELEASED event."""
    oom = bool(state.get("OOMKilled")) or bool((row.meta or {}).get("oom_killed"))
    out = {"container_id": row.container_id, "exit_code": state.get("ExitCode"),
           "oom_killed": oom, "finished_at": state.get("FinishedAt")}
    kills = (row.meta or {}).get("oom_kills")
    if kills:
        out["oom_kills"] = kills
    return out


def stop_reason(state: dict, meta: dict) -> str:
    if meta.get("oom_killed") and state.get("OOMKilled"):
        return f"container OOM-killed (exit code {state.get('ExitCode')})"
    return f"container exited (exit code {state.get('ExitCode')})"


def _check_oom(svc: Service, row: AllocationRow, done: Reconciled) -> None:
    meta = row.meta or {}
    kills = oom_kills(row.container_id, meta.get("cgroup_parent"))
    if kills and kills != meta.get("oom_kills"):
        _note(svc, row, done, meta={**meta, "oom_killed": True, "oom_kills": kills})


def _note(svc: Service, row: AllocationRow, done: Reconciled, **changes) -> None:
    """Update one allocation if it is still the one we looked at."""
    with svc.store.write() as tx:
        current = tx.get(row.container)
        if current is None or current.since != row.since:
            return
        tx.update(replace(current, **changes))
    done.noted.append(row.container)


def _release(svc: Service, row: AllocationRow, done: Reconciled, when: datetime, why: str,
             meta: dict | None = None) -> None:
    from ds01.service.gpu import release

    out = release(svc, row.container, when=when.isoformat(), why=why, meta=meta,
                  only_if_since=row.since)
    if out.released:
        done.released.append(row.container)


def _adopt(svc: Service, item: dict, name: str) -> bool:
    """Record a running labelled container that holds no allocation. True when recorded."""
    from ds01.policy.placement import units_of
    from ds01.state.log import append, format_event

    labels = item.get("Labels") or {}
    devices = tuple(d for d in (labels.get("ds01.devices") or "").split(",") if d)
    uuids = tuple(u for u in (labels.get("ds01.uuids") or "").split(",") if u)
    user, group = labels.get("ds01.user"), labels.get("ds01.group") or "default"
    if not user:
        return False
    try:
        priority = int(labels.get("ds01.priority") or 0)
    except ValueError:
        priority = 0
    ts = svc.ctx.now().isoformat(timespec="seconds")
    with svc.store.write() as tx:
        if tx.get(name) is not None:
            return False
        info = svc.engine.inspect(item["Id"])  # still running, now that we hold the lock?
        if not info or not (info.get("State") or {}).get("Running"):
            return False
        units = sum(units_of(d, svc.config.gpu) for d in devices)
        meta = {"name": labels.get("ds01.name"), "image": labels.get("ds01.image"),
                "engine_name": name, "adopted": True,
                "cgroup_parent": (info.get("HostConfig") or {}).get("CgroupParent")}
        tx.insert(AllocationRow(container=name, user=user, group=group, priority=priority,
                                devices=devices, uuids=uuids, reserved=(), units=units,
                                since=ts, origin=LAUNCHER, container_id=item["Id"], meta=meta))
        event = Event(ts=ts, event="ALLOCATED", user=user, group=group, container=name,
                      priority=priority, devices=devices, units=units,
                      reason="adopted: running container without an allocation",
                      meta={"origin": LAUNCHER, "adopted": True, "container_id": item["Id"]})
        tx.add_event(event)
    append(svc.ctx.allocation_log, [format_event(event)])
    return True
