"""``ds01 gpu status --mine``: one user's containers, and what they could start right now.

"What they could start" is asked of the policy itself, never guessed from the picture: the
user's effective limits and the current allocations go into ``policy.allocate.decide`` for a
container that does not exist yet (nothing is recorded), and ``policy.allocate.candidates``
counts the devices that could take them. So the answer here is the answer ``allocate`` would
give at this instant: same limits, same reservations, same sharing and priority rules.
"""

from __future__ import annotations

import os
from ds01.monitor.dashboard import (Block, Record, age, build_view, device_label, plural,
                                    when_text)

GPU_PLAIN = "GPU container"
GPU_WHOLE = "whole GPU (--full-gpu)"
CPU_ONLY = "CPU-only container"
USAGE_KEYS = {"MIG units": "mig_units", "whole GPUs": "whole_gpus", "containers": "containers"}


class Chance(Record):
    """One kind of container and whether the user could start it now."""

    __slots__ = ("what", "ok", "text", "reason", "device")
    _defaults = {"reason": None, "device": None}
    what: str  # GPU_PLAIN | GPU_WHOLE | CPU_ONLY
    ok: bool
    text: str  # why, with the numbers
    reason: str | None  # the policy's reason code when not ok
    device: str | None  # the device the policy would give (when ok)


class MyContainer(Record):
    __slots__ = ("container", "priority", "age", "devices", "others")
    container: str
    priority: int
    age: str
    devices: tuple[Block, ...]  # empty: CPU-only
    others: tuple[int, ...]  # per device: how many other containers share it


class MineView(Record):
    __slots__ = ("user", "group", "priority", "now", "usage", "reservation", "containers",
                 "chances")
    user: str
    group: str
    priority: int
    now: str
    usage: tuple[tuple[str, int, int | None], ...]  # (what, held, limit or None)
    reservation: str | None  # the user's reservation, in words
    containers: tuple[MyContainer, ...]
    chances: tuple[Chance, ...]

    def to_dict(self) -> dict:
        return {
            "user": self.user, "group": self.group, "priority": self.priority,
            "usage": {USAGE_KEYS.get(what, what): {"held": held, "limit": limit}
                      for what, held, limit in self.usage},
            "reservation": self.reservation,
            "containers": [
                {"container": c.container, "priority": c.priority, "age": c.age,
                 "devices": [b.id for b in c.devices]} for c in self.containers],
            "could_start": [
                {"what": c.what, "ok": c.ok, "text": c.text, "reason": c.reason,
                 "device": c.device} for c in self.chances],
        }


def caller_name(environ=None) -> str:
    """Who runs the command: SUDO_USER when run as root through sudo, else the login name of the
    real uid. Raises UsageError when the uid has no account name."""
    import pwd

    from ds01.errors import UsageError

    env = os.environ if environ is None else environ
    sudo = env.get("SUDO_USER", "")
    if sudo and os.geteuid() == 0:
        return sudo
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        raise UsageError(f"uid {uid} has no account name, so ds01 cannot tell whose containers "
                         "to show", hint="name the user with --user NAME") from None


# ------------------------------------------------------------------------------ the view


def status_data(svc, user: str) -> dict:
    """``--json --mine``: exactly ``ServerStatus.to_dict()`` plus one key, ``mine``: the
    user's containers and what they could start."""
    from ds01.service.gpu import status

    st = status(svc)
    data = st.to_dict()
    data["mine"] = mine_view(svc, user, st).to_dict()
    return data


def mine_view(svc, user: str, status, view=None) -> MineView:
    """The ``--mine`` content for ``user`` from the service (limits) and a ``ServerStatus``
    (its allocations too, so the numbers and the devices shown agree). ``view``: the status's ``DashboardView`` if built."""
    from ds01.errors import UsageError
    from ds01.policy.allocate import USER_NAME, user_usage
    from ds01.service.gpu import snapshot

    if not USER_NAME.fullmatch(user):
        raise UsageError(f"{user!r} is not a user name: it starts with a letter or _, then "
                         "letters, digits, _ . - (at most 32 characters)",
                         hint="check the name given to --user")
    view = view or build_view(status, svc.config.gpu)
    who = svc.effective(user)
    now = svc.ctx.now()
    snap = snapshot(svc, status.rows)  # the same read the status was built from
    units, full, containers = user_usage(snap, user, now)
    limits = who.limits
    usage: list[tuple[str, int, int | None]] = []
    if status.mode == "mig":
        usage.append(("MIG units", units, limits.max_mig_instances))
    usage += [("whole GPUs", full, limits.max_full_gpus),
              ("containers", containers, limits.max_containers_per_user)]
    return MineView(
        user=user, group=who.group, priority=who.priority, now=view.header.now,
        usage=tuple(usage), reservation=_reservation_text(who.reservation, now),
        containers=_my_containers(status, view, user),
        chances=chances(snap, who, now),
    )


def _reservation_text(r, now) -> str | None:
    if r is None:
        return None
    what = _names(r.gpus)
    why = f" ({r.reason})" if r.reason else ""
    start, end = when_text(r.start.isoformat()), when_text(r.end.isoformat())
    if r.active(now):
        return f"{what} reserved for you until {end}{why}"
    if now < r.start:
        return f"{what} will be reserved for you from {start} until {end}{why}"
    return f"your reservation of {what} ended {end}{why}"


def _my_containers(status, view, user: str) -> tuple[MyContainer, ...]:
    blocks = {b.id: b for b in view.blocks}
    found: dict[str, dict] = {}
    for ds in status.devices:
        for c in ds.containers:
            if c["user"] != user:
                continue
            entry = found.setdefault(c["container"], {"c": c, "devices": [], "others": []})
            entry["devices"].append(blocks[ds.device.id])
            entry["others"].append(len(ds.containers) - 1)
    for c in status.cpu_only:
        if c["user"] == user:
            found.setdefault(c["container"], {"c": c, "devices": [], "others": []})
    out = []
    for name, e in found.items():
        c = e["c"]
        out.append(MyContainer(name, c["priority"], age(c.get("since", ""), status.now),
                               tuple(e["devices"]), tuple(e["others"])))
    return tuple(out)


# ------------------------------------------------------------------------------ the chances


def chances(snap, who, now) -> tuple[Chance, ...]:
    """What ``who`` could start at ``now``: a GPU container as asked by default, a whole GPU
    where the server also has whole GPUs in MIG mode, and a CPU-only container."""
    from ds01.policy.allocate import decide, user_usage, wants_whole
    from ds01.policy.devices import MODE_MIG, server_mode
    from ds01.policy.model import Request

    probe = _probe_name(snap, who.user)
    mode = server_mode(snap.devices)
    plain = decide(snap, Request(who.user, probe), who, now)
    out = [_gpu_chance(GPU_PLAIN, plain, snap, who, now)]
    whole_by_default = wants_whole(Request(who.user, probe), who, mode)
    if mode == MODE_MIG and not whole_by_default and any(d.kind == "gpu" for d in snap.devices):
        whole = decide(snap, Request(who.user, probe, full_gpu=True), who, now)
        out.append(_gpu_chance(GPU_WHOLE, whole, snap, who, now))
    cpu = decide(snap, Request(who.user, probe, cpu_only=True), who, now)
    out.append(_cpu_chance(cpu, who, user_usage(snap, who.user, now)[2]))
    return tuple(out)


def _probe_name(snap, user: str) -> str:
    """A container name nobody holds (the question is asked for a new container)."""
    taken = {h.container for h in snap.holdings}
    n = 0
    while f"new-{user}-{n}" in taken:  # starts with a letter, as container names must
        n += 1
    return f"new-{user}-{n}"


def _gpu_chance(what: str, d, snap, who, now) -> Chance:
    if not d.ok:
        return Chance(what, False, refusal_text(d, snap), reason=d.reason)
    device = snap.device(d.devices[0])
    return Chance(what, True, _grant_text(d, device, snap, who, now), device=device.id)


def _names(ids) -> str:
    """``GPU 0, MIG 1:2``: device ids in words."""
    return ", ".join(f"MIG {x}" if ":" in x else f"GPU {x}" for x in ids)


def _grant_text(d, device, snap, who, now) -> str:
    from ds01.policy.allocate import candidates

    holders = [h for h in snap.holdings if device.id in h.devices]
    label = device_label(device.kind, device.id, device.profile)
    if d.reserved:
        return f"your reserved {label} is free for you (it does not count against your limits)"
    if holders:
        who_there = ", ".join(f"{h.user} (priority {h.priority})" for h in holders)
        text = f"{label} has room: you would share it with {who_there}"
    elif device.kind == "mig":
        text = f"a {device.units}-unit MIG instance is free: {label}"
    else:
        mig_mode = any(x.kind == "mig" for x in snap.devices)
        text = f"a whole GPU is free: {label}" + (
            f", it costs {device.units} MIG units" if mig_mode else "")
    own, rest = candidates(snap, who, now, whole=device.kind == "gpu")
    n = len(own) + len(rest)
    return text + (f" ({n} devices could take you now)" if n > 1 else "")


def refusal_text(d, snap) -> str:
    """Why the policy would refuse, in one line with the numbers."""
    from ds01.policy import model as m

    f = d.facts or {}
    if d.reason == m.CONTAINER_LIMIT:
        return (f"you have {f.get('current')} containers and your limit is {f.get('max')}: "
                "stop one first")
    if d.reason == m.USER_AT_LIMIT:
        cost, held, limit = f.get("requested"), f.get("held"), f.get("limit")
        unit = str(f.get("unit") or "units")
        head = f"it costs {cost} {unit.removesuffix('s') if cost == 1 else unit}"
        if isinstance(cost, int) and isinstance(limit, int) and cost > limit:
            return f"{head}, more than your limit of {limit} ({f.get('limit_name')})"
        return (f"{head} and you hold {held} of your {limit} ({f.get('limit_name')}): "
                "release one first")
    if d.reason == m.RESERVED:
        why = f" ({f['reason_text']})" if f.get("reason_text") else ""
        devices = _names(f.get("reserved_devices") or ()) or "the free device"
        return (f"what is free ({devices}) is reserved for {f.get('reserved_user')} until "
                f"{f.get('end_time')}{why}")
    if d.reason == m.NO_CAPACITY:
        return _busy_text(f, snap.gpu)
    return f"cannot tell: {f.get('why', d.reason)}"


# Busy reasons of policy.placement -> (one of them does, several do).
def _busy_words(kind_one: str, gpu) -> dict[str, tuple[str, str]]:
    cap = gpu.max_containers_per_mig if kind_one == "MIG instance" else gpu.max_containers_per_gpu
    held = plural(cap, "container")
    return {
        "full": (f"holds {held}", f"hold {held}"),
        "higher_priority": ("holds someone of higher priority", "hold someone of higher priority"),
        "reserved": ("is reserved for someone else", "are reserved for someone else"),
        "not_allocatable": ("cannot be used (see its warning)", "cannot be used (see warnings)"),
    }


def _busy_text(f: dict, gpu) -> str:
    """``no MIG instance is free for you now: each of the 12 holds 2 containers or someone of
    higher priority`` and the like, from the policy's NO_CAPACITY facts."""
    kinds = f.get("kind") or "devices"
    one = kinds[:-1] if kinds.endswith("s") else kinds
    total = f.get("total") or 0
    if total == 0:
        return f"this server has no {one}"
    busy = {k: v for k, v in (f.get("busy") or {}).items() if v}
    words = _busy_words(one, gpu)
    head = f"no {one} is free for you now"
    if busy and sum(busy.values()) >= total:
        return f"{head}: each of the {total} " + _or_join([words[k][0] for k in busy])
    parts = [f"{n} {words[k][1]}" for k, n in busy.items()]
    return f"{head}: of {total}, " + (", ".join(parts) or "none is free")


def _or_join(phrases: list[str]) -> str:
    """``holds 2 containers or someone of higher priority``: a repeated verb is said once."""
    out = phrases[:1]
    for prev, p in zip(phrases, phrases[1:]):
        verb = p.split(" ", 1)[0] + " "
        out.append(p[len(verb):] if prev.startswith(verb) else p)
    return " or ".join(out)


def _cpu_chance(d, who, held: int) -> Chance:
    cap = who.limits.max_containers_per_user
    if d.ok:
        limit = "no limit" if cap is None else f"your limit is {cap}"
        return Chance(CPU_ONLY, True, f"you have {plural(held, 'container')}, {limit}")
    return Chance(CPU_ONLY, False, refusal_text(d, None), reason=d.reason)


# ------------------------------------------------------------------------------ plain text


def _usage_text(usage) -> str:
    return " | ".join(f"{what}: {held}/{'no limit' if limit is None else limit}"
                      for what, held, limit in usage)


def mine_lines(v: MineView) -> list[str]:
    from ds01.monitor.dashboard import RULE, WIDTH

    lines = [RULE, f"DS01 GPU STATUS FOR {v.user}".center(WIDTH).rstrip(), RULE,
             f"{v.user}: group {v.group}, priority {v.priority} | As of {v.now}",
             _usage_text(v.usage)]
    if v.reservation:
        lines.append(f"Reservation: {v.reservation}")
    lines += ["", f"Your containers: {len(v.containers)}"]
    for c in v.containers:
        where = f"on {', '.join(b.label for b in c.devices)}" if c.devices else "CPU-only"
        lines.append(f"    - {c.container} {where} (priority={c.priority}, {c.age})")
        for b, others in zip(c.devices, c.others):
            shared = "alone on it" if not others else \
                f"shared with {plural(others, 'other container')}"
            label = f"{b.label}: " if len(c.devices) > 1 else ""
            lines.append(f"        {label}Util: {b.util} | Mem: {b.memory} | {shared}")
    lines += ["", "What you could start now:"]
    for ch in v.chances:
        lines.append(f"  {ch.what}: {'yes' if ch.ok else 'no'} - {ch.text}")
    return lines


def mine_text(v: MineView) -> str:
    return "\n".join(mine_lines(v))
