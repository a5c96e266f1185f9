"""The decision: who gets which device (contract section 3).

``decide`` is pure: the snapshot (devices, holdings, settings, reservations), the request, the
user's effective limits and ``now`` go in; a ``Decision`` comes out. Checks run in the order of
the contract's table; the first that applies is the answer:

    (existing allocation) -> INVALID_REQUEST -> CONTAINER_LIMIT -> USER_AT_LIMIT
    -> RESERVED -> NO_CAPACITY

Choices where the contract is silent:
- A CPU-only request ignores ``count``; CPU-only together with ``full_gpu`` is INVALID_REQUEST.
- Whole GPUs asked for (``full_gpu`` / ``prefer_full_gpu``) in MIG mode are served with whole
  GPUs only, never with MIG instances instead.
- Overlapping reservations of two users: each holder may use the devices their own active
  reservation covers; everyone else is kept off.
- Re-asking for a container that exists but whose devices vanished from the inventory returns
  it unchanged; ``facts["missing_devices"]`` names them and their uuids are "".
"""

from __future__ import annotations

from datetime import datetime

from ds01.config.model import EffectiveLimits, GpuSettings, Limits, Reservation
from ds01.hardware.ids import id_key
from ds01.policy.devices import MODE_MIG, MODE_WHOLE_GPU, server_mode
from ds01.policy.model import (
    CONTAINER_LIMIT,
    INVALID_REQUEST,
    NO_CAPACITY,
    RESERVED,
    USER_AT_LIMIT,
    Decision,
    Device,
    Holding,
    Request,
)
from ds01.policy.placement import (
    busy_counts,
    covering,
    make_view,
    others_active,
    paying_devices,
    ranked_candidates,
    units_of,
    usage,
)
from ds01.records import record, replace

MAX_COUNT = 64

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_DIGITS = "0123456789"
_NAME_CHARS = _LETTERS + _DIGITS + "_.-"


class NamePattern:
    """A name rule: a first character from ``first``, then up to ``most - 1`` from ``rest``.

    Checked with string operations (``re`` costs more to import than a decision takes); the
    regular expression ``pattern`` says the same and is compiled only when asked for, for
    callers that use the ``re`` pattern methods (``fullmatch``, ``match``...).
    """

    def __init__(self, pattern: str, first: str, rest: str, most: int):
        self.pattern = pattern
        self._first, self._rest, self._most = first, rest, most
        self._compiled = None

    def accepts(self, text: str) -> bool:
        """True when all of ``text`` follows the rule (what ``fullmatch`` tells)."""
        return (0 < len(text) <= self._most and text[0] in self._first
                and not text[1:].strip(self._rest))

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        if self._compiled is None:
            import re

            self._compiled = re.compile(self.pattern)
        return getattr(self._compiled, name)


USER_NAME = NamePattern(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}", _LETTERS + "_", _NAME_CHARS, 32)
CONTAINER_NAME = NamePattern(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", _LETTERS + _DIGITS,
                             _NAME_CHARS, 128)


@record
class Snapshot:
    """What the decision looks at: nothing else (no files, no clock)."""

    devices: tuple[Device, ...]
    holdings: tuple[Holding, ...]
    gpu: GpuSettings
    reservations: tuple[Reservation, ...]  # every configured reservation (active or not)
    # Device id -> (containers on it, their highest recorded priority), over every allocation
    # (``placement.device_load``). None: computed from ``holdings``, which then list every
    # allocation. When given, ``holdings`` need list only the requesting user's allocations
    # and the allocation of the container asked for: the store sums up the rest in SQL, so
    # the decision costs the same with ten or ten thousand live allocations.
    load: dict | None = None

    def device(self, device_id: str) -> Device | None:
        return next((d for d in self.devices if d.id == device_id), None)

    def holding(self, container: str) -> Holding | None:
        return next((h for h in self.holdings if h.container == container), None)


def user_usage(snapshot: Snapshot, user: str, now: datetime) -> tuple[int, int, int]:
    """(units held, whole GPUs held, containers) of ``user`` at ``now``.

    Devices held through a reservation that is still active cost nothing; once it has ended
    they count like any other. Each container pays for its own devices.
    """
    return usage(snapshot.holdings, snapshot.reservations, snapshot.gpu, user, now)


def invalid_reason(request: Request, who: EffectiveLimits) -> str | None:
    """Why the request is malformed, or None."""
    user, name = request.user, request.container
    if not isinstance(user, str) or not USER_NAME.accepts(user):
        return (f"user name {user!r} is not valid: it starts with a letter or _, then letters, "
                f"digits, _ . - (at most 32 characters)")
    if not isinstance(name, str) or not CONTAINER_NAME.accepts(name):
        return (f"container name {name!r} is not valid: it starts with a letter or digit, then "
                f"letters, digits, _ . - (at most 128 characters)")
    if who.user != user:
        return f"the limits given are those of {who.user!r}, not of {user!r}"
    if request.cpu_only:
        if request.full_gpu:
            return "a CPU-only container cannot ask for whole GPUs (drop --full-gpu or --cpu-only)"
        return None
    count = request.count
    if type(count) is not int or not 1 <= count <= MAX_COUNT:
        return f"the number of devices must be a whole number from 1 to {MAX_COUNT}, got {count!r}"
    return None


def wants_whole(request: Request, who: EffectiveLimits, mode: str) -> bool:
    """Whole GPUs are the kind asked for: --full-gpu, prefer_full_gpu, or no MIG on the server."""
    return mode == MODE_WHOLE_GPU or bool(request.full_gpu) or who.prefer_full_gpu


def candidates(snapshot: Snapshot, who: EffectiveLimits, now: datetime, *,
               whole: bool | None = None, ignore_others: bool = False
               ) -> tuple[tuple[Device, ...], tuple[Device, ...]]:
    """(the user's own reserved candidates, the other candidates), each ranked best first.

    ``whole``: whole GPUs asked for; None means as a plain request (MIG instances in MIG mode,
    unless the user prefers whole GPUs). ``ignore_others``: blind to others' reservations.
    """
    snapshot = _with_own_reservation(snapshot, who)
    if whole is None:
        whole = wants_whole(Request(who.user, "-"), who, server_mode(snapshot.devices))
    view = make_view(snapshot.holdings, snapshot.reservations, snapshot.gpu, who.user,
                     who.priority, whole, now, ignore_others=ignore_others, load=snapshot.load)
    return ranked_candidates(snapshot.devices, view)


def decide(snapshot: Snapshot, request: Request, who: EffectiveLimits, now: datetime) -> Decision:
    """Answer one request. Never raises for a refusal; inputs are not modified."""
    snapshot = _with_own_reservation(snapshot, who)
    held = snapshot.holding(request.container) if isinstance(request.container, str) else None
    if held is not None:
        return _existing(snapshot, request, who, held, now)
    current = user_usage(snapshot, request.user, now)
    why = invalid_reason(request, who)
    if why is not None:
        return _refuse(INVALID_REQUEST, request, who, current, {"why": why})
    cap = who.limits.max_containers_per_user
    if cap is not None and current[2] >= cap:
        facts = {"current": current[2], "max": cap, "held": current[2], "limit": cap}
        return _refuse(CONTAINER_LIMIT, request, who, current, facts)
    if request.cpu_only:
        return _decision(request, who, current, ok=True, facts={"cpu_only": True})
    return _place(snapshot, request, who, now, current)


def _with_own_reservation(snapshot: Snapshot, who: EffectiveLimits) -> Snapshot:
    """Make sure the user's own reservation is among the snapshot's (no input is modified)."""
    r = who.reservation
    if r is None or r in snapshot.reservations:
        return snapshot
    return replace(snapshot, reservations=snapshot.reservations + (r,))


def _decision(request: Request, who: EffectiveLimits, current: tuple[int, int, int], *,
              ok: bool, facts: dict, reason: str | None = None, units: int = 0, **kw
              ) -> Decision:
    return Decision(
        ok=ok, request=request, priority=who.priority, group=who.group, reason=reason,
        facts=facts, units=units, units_held=current[0] + units,
        units_limit=who.limits.max_mig_instances, **kw,
    )


def _refuse(reason: str, request: Request, who: EffectiveLimits,
            current: tuple[int, int, int], facts: dict) -> Decision:
    return _decision(request, who, current, ok=False, facts=facts, reason=reason)


def _existing(snapshot: Snapshot, request: Request, who: EffectiveLimits, held: Holding,
              now: datetime) -> Decision:
    """The container already holds an allocation: return it unchanged (same user only)."""
    if held.user != request.user:
        why = (f"container name {request.container!r} is already in use by another user "
               f"({held.user}); choose another name")
        return _refuse(INVALID_REQUEST, request, who, user_usage(snapshot, request.user, now),
                       {"why": why, "holder": held.user})
    found = {d.id: d for d in snapshot.devices}
    missing = tuple(d for d in held.devices if d not in found)
    facts: dict = {"since": held.since}
    if missing:
        facts["missing_devices"] = missing
    units_now = user_usage(snapshot, held.user, now)[0]
    paying = paying_devices(held, snapshot.reservations, now)
    return Decision(
        ok=True, request=request, priority=held.priority, group=who.group,
        devices=held.devices,
        uuids=tuple(found[d].uuid if d in found else "" for d in held.devices),
        reserved=held.reserved, existing=True, facts=facts,
        units=sum(units_of(d, snapshot.gpu) for d in paying), units_held=units_now,
        units_limit=who.limits.max_mig_instances,
    )


def _place(snapshot: Snapshot, request: Request, who: EffectiveLimits, now: datetime,
           current: tuple[int, int, int]) -> Decision:
    """Limits first (reserved devices exempt), then the first ``count`` candidates or a refusal."""
    mode = server_mode(snapshot.devices)
    whole = wants_whole(request, who, mode)
    view = make_view(snapshot.holdings, snapshot.reservations, snapshot.gpu, who.user,
                     who.priority, whole, now, load=snapshot.load)
    own, rest = ranked_candidates(snapshot.devices, view)
    n = request.count
    taken_own = own[:n]
    m = n - len(taken_own)
    unit = snapshot.gpu.units_per_gpu if whole else 1
    over = _over_limit(mode, who.limits, current, m * unit, m if whole else 0)
    if over is not None:
        facts = {"mode": mode, "units_per_gpu": snapshot.gpu.units_per_gpu, **over}
        return _refuse(USER_AT_LIMIT, request, who, current, facts)
    if len(rest) >= m:
        return _grant(snapshot, request, who, current, taken_own, rest[:m], mode)
    return _no_room(snapshot, request, who, now, current, view, (own, rest), m, mode)


def _over_limit(mode: str, limits: Limits, current: tuple[int, int, int], pay_units: int,
                pay_full: int) -> dict | None:
    """Facts of the first limit the new devices would exceed, or None when they fit."""
    units, full, _ = current
    cap = limits.max_mig_instances
    if mode == MODE_MIG and pay_units > 0 and cap is not None and units + pay_units > cap:
        return _limit_facts("max_mig_instances", "MIG units", pay_units, cap, units)
    cap = limits.max_full_gpus
    if pay_full > 0 and cap is not None and full + pay_full > cap:
        return _limit_facts("max_full_gpus", "whole GPUs", pay_full, cap, full)
    return None


def _limit_facts(name: str, unit: str, requested: int, cap: int, held: int) -> dict:
    return {
        "limit_name": name, "unit": unit, "requested": requested, "max": cap,
        "current": held, "available": max(0, cap - held), "held": held, "limit": cap,
    }


def _grant(snapshot: Snapshot, request: Request, who: EffectiveLimits,
           current: tuple[int, int, int], own: tuple[Device, ...], rest: tuple[Device, ...],
           mode: str) -> Decision:
    taken = sorted(own + rest, key=lambda d: id_key(d.id))
    paying = sum(units_of(d.id, snapshot.gpu) for d in rest)
    return _decision(
        request, who, current, ok=True, facts={"mode": mode},
        devices=tuple(d.id for d in taken), uuids=tuple(d.uuid for d in taken),
        reserved=tuple(d.id for d in sorted(own, key=lambda d: id_key(d.id))),
        units=paying,
    )


def _no_room(snapshot: Snapshot, request: Request, who: EffectiveLimits, now: datetime,
             current: tuple[int, int, int], view, found: tuple, m: int, mode: str) -> Decision:
    """RESERVED when ignoring others' active reservations would succeed, else NO_CAPACITY."""
    own, rest = found
    blind = make_view(snapshot.holdings, snapshot.reservations, snapshot.gpu, who.user,
                      who.priority, view.whole, now, ignore_others=True, load=view.load)
    _, rest_blind = ranked_candidates(snapshot.devices, blind)
    if len(rest_blind) >= m:
        blocked = [d for d in rest_blind[:m] if d not in rest]
        holder = covering(others_active(snapshot.reservations, who.user, now), blocked[0].id)
        facts = _reserved_facts(holder, blocked)
        return _refuse(RESERVED, request, who, current, {"mode": mode, **facts})
    total, busy = busy_counts(snapshot.devices, view)
    facts = {
        "mode": mode, "kind": "whole GPUs" if view.whole else "MIG instances",
        "requested": request.count, "candidates": len(own) + len(rest), "total": total,
        "busy": busy,
    }
    return _refuse(NO_CAPACITY, request, who, current, facts)


def _reserved_facts(holder: Reservation, blocked: list[Device]) -> dict:
    return {
        "reserved_user": holder.user,
        "end": holder.end.isoformat(),
        "end_time": holder.end.strftime("%Y-%m-%d %H:%M"),
        "reason_text": holder.reason,
        "reserved_devices": tuple(d.id for d in sorted(blocked, key=lambda d: id_key(d.id))),
    }
