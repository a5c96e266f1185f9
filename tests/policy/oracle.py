"""A literal, slow reading of contract section 3, to check ``decide`` against.

Written independently of ``ds01.policy.placement``: one plain loop per rule, no shared helpers.
"""

from __future__ import annotations

from datetime import datetime

from ds01.config.model import EffectiveLimits, GpuSettings, Reservation
from ds01.policy.model import (
    CONTAINER_LIMIT,
    INVALID_REQUEST,
    NO_CAPACITY,
    RESERVED,
    USER_AT_LIMIT,
    Device,
    Holding,
    Request,
)


def units(device_id: str, gpu: GpuSettings) -> int:
    return 1 if ":" in device_id else gpu.units_per_gpu


def is_active(r: Reservation, now: datetime) -> bool:
    return r.start <= now and now < r.end


def covers(r: Reservation, device_id: str) -> bool:
    return device_id in r.gpus or device_id.split(":")[0] in r.gpus


def own_covers(reservations, user: str, device_id: str, now: datetime) -> bool:
    return any(r.user == user and is_active(r, now) and covers(r, device_id) for r in reservations)


def other_covers(reservations, user: str, device_id: str, now: datetime) -> bool:
    return any(r.user != user and is_active(r, now) and covers(r, device_id) for r in reservations)


def usage(holdings, reservations, gpu: GpuSettings, user: str, now: datetime):
    held_units = held_full = containers = 0
    for h in holdings:
        if h.user != user:
            continue
        containers += 1
        for dev in h.devices:
            if dev in h.reserved and own_covers(reservations, user, dev, now):
                continue
            held_units += units(dev, gpu)
            if ":" not in dev:
                held_full += 1
    return held_units, held_full, containers


def on_device(holdings, device_id: str) -> list[Holding]:
    return [h for h in holdings if device_id in h.devices]


def is_candidate(d: Device, user: str, priority: int, whole: bool, holdings, reservations,
                 gpu: GpuSettings, now: datetime, ignore_others: bool = False) -> bool:
    mine = own_covers(reservations, user, d.id, now)
    if whole:
        kind_ok = d.kind == "gpu"
    else:
        kind_ok = d.kind == "mig" or (d.kind == "gpu" and mine)
    if not kind_ok or not d.allocatable:
        return False
    if not ignore_others and not mine and other_covers(reservations, user, d.id, now):
        return False
    there = on_device(holdings, d.id)
    cap = gpu.max_containers_per_mig if d.kind == "mig" else gpu.max_containers_per_gpu
    if len(there) >= cap:
        return False
    return all(h.priority <= priority for h in there)


def rank(d: Device, holdings) -> tuple:
    there = on_device(holdings, d.id)
    top = max([h.priority for h in there] or [0])
    return (len(there), top, d.memory_fraction, tuple(int(p) for p in d.id.split(":")))


def valid(request: Request) -> bool:
    import re

    if not isinstance(request.user, str) or not re.fullmatch(r"[A-Za-z_][\w.-]{0,31}",
                                                              request.user, re.ASCII):
        return False
    if not isinstance(request.container, str) or not re.fullmatch(
            r"[A-Za-z0-9][\w.-]{0,127}", request.container, re.ASCII):
        return False
    if request.cpu_only:
        return not request.full_gpu
    return type(request.count) is int and 1 <= request.count <= 64


def expected(devices, holdings, gpu, reservations, request: Request, who: EffectiveLimits,
             now: datetime) -> str | None:
    """The reason the contract gives (None: success), checks in table order."""
    for h in holdings:
        if h.container == request.container:
            return None if h.user == request.user else INVALID_REQUEST
    if not valid(request):
        return INVALID_REQUEST
    held_units, held_full, containers = usage(holdings, reservations, gpu, request.user, now)
    lim = who.limits
    if lim.max_containers_per_user is not None and containers >= lim.max_containers_per_user:
        return CONTAINER_LIMIT
    if request.cpu_only:
        return None
    mig_mode = any(d.kind == "mig" for d in devices)
    whole = (not mig_mode) or request.full_gpu or who.prefer_full_gpu
    args = (who.user, who.priority, whole, holdings, reservations, gpu, now)
    found = [d for d in devices if is_candidate(d, *args)]
    own = [d for d in found if own_covers(reservations, who.user, d.id, now)]
    rest_needed = request.count - min(request.count, len(own))
    if rest_needed > 0:
        pay = rest_needed * (gpu.units_per_gpu if whole else 1)
        if mig_mode and lim.max_mig_instances is not None \
                and held_units + pay > lim.max_mig_instances:
            return USER_AT_LIMIT
        if whole and lim.max_full_gpus is not None \
                and held_full + rest_needed > lim.max_full_gpus:
            return USER_AT_LIMIT
    if len(found) >= request.count:
        return None
    blind = [d for d in devices if is_candidate(d, *args, ignore_others=True)]
    return RESERVED if len(blind) >= request.count else NO_CAPACITY
