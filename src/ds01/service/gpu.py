"""GPU use cases: allocate, release, status. Each decision is read, decided and written in
one write transaction, so concurrent processes can never double-book or lose an allocation."""

from __future__ import annotations

import time

from ds01.records import field, record
from ds01.service.core import Service
from ds01.state.store import AllocationRow, Event

# The policy (and with it the configuration and hardware models) is imported inside the
# functions that decide, not here: ``ds01 gpu release`` runs on every container stop and
# needs none of it (annotations name its types: Snapshot, Decision, Holding, EffectiveLimits).


@record
class Released:
    container: str
    released: bool
    devices: tuple[str, ...] = ()
    user: str | None = None

    def to_dict(self) -> dict:
        return {
            "ok": True,
            "container": self.container,
            "released": self.released,
            "devices": list(self.devices),
        }


def holding_of(row: AllocationRow) -> Holding:
    from ds01.policy.model import Holding

    return Holding(
        container=row.container,
        user=row.user,
        priority=row.priority,
        devices=row.devices,
        reserved=row.reserved,
        since=row.since,
    )


def current_snapshot(svc: Service, tx, request: Request) -> Snapshot:
    """The decision's view of the server for ``request``, read inside ``tx``.

    Only the requester's allocations and the requested container's are read in full, the
    others as a per-device summary (``Snapshot.load``) that SQLite computes, so that the
    decision's cost does not grow with the number of live allocations.
    """
    from ds01.policy.model import Holding

    mine = tx.holdings(user=request.user, container=request.container)
    return _snapshot(svc, map(Holding._make, mine), load=tx.device_load())


def snapshot(svc: Service, rows) -> Snapshot:
    """The decision's view with every allocation (``rows``: AllocationRows)."""
    return _snapshot(svc, map(holding_of, rows))


def _snapshot(svc: Service, holdings, load: dict | None = None) -> Snapshot:
    from ds01.policy.allocate import Snapshot

    return Snapshot(
        devices=svc.devices,
        holdings=tuple(holdings),
        gpu=svc.config.gpu,
        reservations=svc.config.reservations(),
        load=load,
    )


def allocate(
    svc: Service,
    user: str,
    container: str,
    *,
    count: int = 1,
    full_gpu: bool = False,
    cpu_only: bool = False,
    origin: str = "direct",
    meta: dict | None = None,
    only: tuple[str, ...] | None = None,
) -> Decision:
    """Decide and record. Returns the decision (ok or refused); never raises for a refusal.

    ``only``: a constraint, the device ids the allocation may use (every other device counts
    as not allocatable for this decision); used to re-acquire a stopped container's devices.
    """
    from ds01.policy.allocate import decide
    from ds01.policy.model import Request

    started = time.perf_counter()
    who = svc.effective(user)
    request = Request(user=user, container=container, count=count, full_gpu=full_gpu,
                      cpu_only=cpu_only)
    now = svc.ctx.now()
    with svc.store.write() as tx:
        snap = current_snapshot(svc, tx, request)
        if only is not None:
            snap = restricted(snap, only)
        decision = decide(snap, request, who, now)
        event = _record(tx, decision, who, now.isoformat(timespec="seconds"), origin, meta,
                        started)
    if event is not None:
        _log(svc, event)
    return decision


def restricted(snap: Snapshot, only: tuple[str, ...]) -> Snapshot:
    """``snap`` where only the devices ``only`` names may be given out."""
    from ds01.records import replace

    wanted = set(only)
    devices = tuple(d if d.id in wanted else replace(d, allocatable=False) for d in snap.devices)
    return replace(snap, devices=devices)


def _record(tx, decision: Decision, who: EffectiveLimits, ts: str, origin: str, meta,
            started: float):
    if decision.existing:
        return None
    req = decision.request
    if decision.ok:
        tx.insert(
            AllocationRow(
                container=req.container, user=req.user, group=who.group,
                priority=decision.priority, devices=decision.devices, uuids=decision.uuids,
                reserved=decision.reserved, units=decision.units, since=ts, origin=origin,
                meta=dict(meta or {}),
            )
        )
    event = Event(
        ts=ts, event="ALLOCATED" if decision.ok else "REJECTED", user=req.user,
        group=who.group, container=req.container, priority=decision.priority,
        devices=decision.devices, units=decision.units, units_held=decision.units_held,
        units_limit=decision.units_limit, reason=decision.reason,
        message=None if decision.ok else _headline(decision),
        meta={"origin": origin, "count": req.count, "full_gpu": req.full_gpu,
              "cpu_only": req.cpu_only,
              # wall time from the request to the decision, lock waiting included
              "decision_seconds": round(time.perf_counter() - started, 6)},
    )
    tx.add_event(event)
    return event


def _headline(decision: Decision) -> str:
    from ds01.policy.messages import headline

    return headline(decision)


def release(svc: Service, container: str, *, when: str | None = None, why: str | None = None,
            meta: dict | None = None, only_if_since: str | None = None) -> Released:
    """Release a container's devices. Releasing what holds nothing succeeds and says so.

    ``meta`` is added to the RELEASED event's meta. ``only_if_since``: release only the
    allocation made at that time (a newer one for the same container is left alone).
    """
    ts = when or svc.ctx.now().isoformat(timespec="seconds")
    with svc.store.write() as tx:
        current = tx.get(container)
        if current is None or (only_if_since is not None and current.since != only_if_since):
            return Released(container=container, released=False)
        row = tx.delete(container)
        event = Event(
            ts=ts, event="RELEASED", user=row.user, group=row.group, container=row.container,
            priority=row.priority, devices=row.devices, units=row.units,
            reason=why, meta={"origin": row.origin, "since": row.since, **(meta or {})},
        )
        tx.add_event(event)
    _log(svc, event)
    return Released(container=container, released=True, devices=row.devices, user=row.user)


def _log(svc: Service, event: Event) -> None:
    from ds01.state.log import append, format_event

    append(svc.ctx.allocation_log_file, [format_event(event)])


@record
class DeviceStatus:
    device: object  # policy.model.Device
    containers: tuple[dict, ...] = ()
    reserved_for: dict | None = None

    def to_dict(self) -> dict:
        d = self.device
        return {
            "id": d.id, "kind": d.kind, "gpu": d.gpu, "profile": d.profile, "uuid": d.uuid,
            "name": d.name, "units": d.units, "memory_total_mib": d.memory_total_mib,
            "memory_used_mib": d.memory_used_mib, "utilization": d.utilization,
            "allocatable": d.allocatable, "warning": d.warning, "problem": d.problem,
            "reserved_for": self.reserved_for, "containers": list(self.containers),
        }


@record
class ServerStatus:
    mode: str
    devices: tuple[DeviceStatus, ...]
    now: str
    source: str
    cpu_only: tuple[dict, ...] = field(default=())
    warnings: tuple[str, ...] = field(default=())
    # the allocations this status was built from (one read), for views that need more of them
    rows: tuple = field(default=(), repr=False, compare=False)

    def to_dict(self) -> dict:
        return {
            "mode": self.mode, "now": self.now, "source": self.source,
            "devices": [d.to_dict() for d in self.devices],
            "cpu_only": list(self.cpu_only), "warnings": list(self.warnings),
        }


def status(svc: Service, *, reconcile: bool = True) -> ServerStatus:
    """Every device with who is on it, reservations and warnings.

    ``reconcile``: first release what launcher containers that died no longer need (only when
    there are launcher allocations; an unreachable engine becomes a warning).
    """
    from ds01.policy.devices import server_mode

    notes: tuple[str, ...] = ()
    if reconcile:
        from ds01.service.reconcile import reconcile_for_status

        notes = reconcile_for_status(svc)
    now = svc.ctx.now()
    with svc.store.read() as tx:
        rows = tx.allocations()
    on: dict[str, list[dict]] = {}
    cpu_only = []
    for r in rows:
        entry = {"container": r.container, "user": r.user, "priority": r.priority,
                 "since": r.since, "group": r.group, **_launcher_fields(r)}
        if not r.devices:
            cpu_only.append(entry)
        for dev in r.devices:
            on.setdefault(dev, []).append(entry)
    active = [res for res in svc.config.reservations() if res.active(now)]
    out = []
    for d in svc.devices:
        res = next((x for x in active if x.covers(d.id)), None)
        reserved = None if res is None else {
            "user": res.user, "end": res.end.isoformat(), "reason": res.reason}
        out.append(DeviceStatus(d, tuple(on.get(d.id, ())), reserved))
    warnings = tuple(d.warning for d in svc.devices if d.warning) + notes
    return ServerStatus(
        mode=server_mode(svc.devices), devices=tuple(out),
        now=now.isoformat(timespec="seconds"), source=svc.inventory.source,
        cpu_only=tuple(cpu_only), warnings=warnings + tuple(svc.inventory.warnings),
        rows=tuple(rows),
    )


def _launcher_fields(row: AllocationRow) -> dict:
    meta = row.meta or {}
    return {"name": meta["name"]} if "name" in meta else {}
