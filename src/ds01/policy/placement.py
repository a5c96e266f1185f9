"""Who holds what, and which devices a user may be given (contract section 3).

Pure helpers under ``allocate.decide``: usage with reservation exemptions, the candidate rules
and the ranking. No I/O, no clock (``now`` is always a parameter).
"""

from __future__ import annotations

from collections.abc import Iterable
from ds01.records import record
from datetime import datetime

from ds01.config.model import GpuSettings, Reservation
from ds01.hardware.ids import id_key, is_mig_id
from ds01.policy.model import KIND_GPU, KIND_MIG, Device, Holding

# Why a device is not a candidate, in the order the rules are checked.
OTHER_KIND = "other_kind"  # not of the kind asked for (never counted as busy)
NOT_ALLOCATABLE = "not_allocatable"
RESERVED_FOR_OTHER = "reserved"
FULL = "full"
HIGHER_PRIORITY = "higher_priority"
BUSY_REASONS = (NOT_ALLOCATABLE, RESERVED_FOR_OTHER, FULL, HIGHER_PRIORITY)


def units_of(device_id: str, gpu: GpuSettings) -> int:
    """1 for a MIG instance, ``units_per_gpu`` for a whole GPU (decided by the id alone)."""
    return 1 if is_mig_id(device_id) else gpu.units_per_gpu


def device_load(holdings: Iterable[Holding]) -> dict[str, tuple[int, int]]:
    """Device id -> (containers on it, the highest priority among them).

    All the candidate rules and the ranking need to know of the other containers: a summary
    rather than the containers themselves, so that the store can also compute it in SQL.
    """
    load: dict[str, tuple[int, int]] = {}
    for h in holdings:
        priority = h.priority
        for dev in dict.fromkeys(h.devices):
            seen = load.get(dev)
            load[dev] = (1, priority) if seen is None else (seen[0] + 1, max(seen[1], priority))
    return load


def active_of(reservations: Iterable[Reservation], user: str, now: datetime
              ) -> tuple[Reservation, ...]:
    """``user``'s reservations that are active at ``now``."""
    return tuple(r for r in reservations if r.user == user and r.active(now))


def others_active(reservations: Iterable[Reservation], user: str, now: datetime
                  ) -> tuple[Reservation, ...]:
    """Active reservations held by anyone but ``user``."""
    return tuple(r for r in reservations if r.user != user and r.active(now))


def covering(reservations: Iterable[Reservation], device_id: str) -> Reservation | None:
    return next((r for r in reservations if r.covers(device_id)), None)


def exempt_devices(holding: Holding, reservations: Iterable[Reservation], now: datetime
                   ) -> tuple[str, ...]:
    """The holding's devices taken through a reservation of its user that is still active."""
    mine = active_of(reservations, holding.user, now)
    return tuple(d for d in holding.reserved if d in holding.devices and covering(mine, d))


def paying_devices(holding: Holding, reservations: Iterable[Reservation], now: datetime
                   ) -> tuple[str, ...]:
    """The devices this container pays for now (all but the still-exempt reserved ones)."""
    free = set(exempt_devices(holding, reservations, now))
    return tuple(d for d in holding.devices if d not in free)


def usage(holdings: Iterable[Holding], reservations: tuple[Reservation, ...], gpu: GpuSettings,
          user: str, now: datetime) -> tuple[int, int, int]:
    """(units held, whole GPUs held, containers) of ``user``; each container pays its own."""
    units = full = containers = 0
    for h in holdings:
        if h.user != user:
            continue
        containers += 1
        for dev in paying_devices(h, reservations, now):
            units += units_of(dev, gpu)
            full += 0 if is_mig_id(dev) else 1
    return units, full, containers


def rank_key(device: Device, count: int, top: int) -> tuple:
    """(containers on it, their highest priority, memory fraction, natural id): lowest first.
    ``count`` and ``top`` are 0 for a device nobody is on."""
    return (count, top, device.memory_fraction, id_key(device.id))


_NOBODY = (0, 0)


@record
class View:
    """Everything the candidate rules need for one user at one instant."""

    user: str
    priority: int
    whole: bool  # whole GPUs are asked for (or the server has no MIG instance)
    mine: tuple[Reservation, ...]  # the user's active reservations
    others: tuple[Reservation, ...]  # other users' active reservations (empty: ignored)
    load: dict  # device id -> (containers on it, their highest priority); see device_load
    gpu: GpuSettings

    def load_of(self, device: Device) -> tuple[int, int]:
        """(containers on ``device``, their highest priority); (0, 0) when nobody is on it."""
        return self.load.get(device.id, _NOBODY)

    def is_mine(self, device: Device) -> bool:
        return bool(self.mine) and covering(self.mine, device.id) is not None

    def blocker(self, device: Device) -> str | None:
        """The first candidate rule ``device`` fails for this user, or None: a candidate."""
        if not self._kind_ok(device):
            return OTHER_KIND
        if not device.allocatable:
            return NOT_ALLOCATABLE
        # Overlapping reservations: a device any of the user's own active ones covers is theirs.
        if (self.others and not self.is_mine(device)
                and covering(self.others, device.id) is not None):
            return RESERVED_FOR_OTHER
        count, top = self.load_of(device)
        cap = self.gpu.max_containers_per_mig if device.kind == KIND_MIG \
            else self.gpu.max_containers_per_gpu
        if count >= cap:
            return FULL
        if count and top > self.priority:
            return HIGHER_PRIORITY
        return None

    def _kind_ok(self, device: Device) -> bool:
        if self.whole:
            return device.kind == KIND_GPU
        return device.kind == KIND_MIG or (device.kind == KIND_GPU and self.is_mine(device))


def make_view(holdings: Iterable[Holding], reservations: tuple[Reservation, ...], gpu: GpuSettings,
              user: str, priority: int, whole: bool, now: datetime, *,
              ignore_others: bool = False, load: dict | None = None) -> View:
    """The rules' view for ``user``; ``ignore_others`` makes it blind to others' reservations.
    ``load``: ``device_load`` of every allocation, when known; else computed from ``holdings``.
    """
    return View(
        user=user,
        priority=priority,
        whole=whole,
        mine=active_of(reservations, user, now),
        others=() if ignore_others else others_active(reservations, user, now),
        load=device_load(holdings) if load is None else load,
        gpu=gpu,
    )


def ranked_candidates(devices: Iterable[Device], view: View
                      ) -> tuple[tuple[Device, ...], tuple[Device, ...]]:
    """(the user's own reserved candidates, the other candidates), each ranked best first."""
    own: list[Device] = []
    rest: list[Device] = []
    for d in devices:
        if view.blocker(d) is None:
            (own if view.is_mine(d) else rest).append(d)

    def key(d: Device) -> tuple:
        return rank_key(d, *view.load_of(d))

    return tuple(sorted(own, key=key)), tuple(sorted(rest, key=key))


def busy_counts(devices: Iterable[Device], view: View) -> tuple[int, dict[str, int]]:
    """(devices of the asked kind, how many of them fail each candidate rule)."""
    total = 0
    busy = {reason: 0 for reason in BUSY_REASONS}
    for d in devices:
        why = view.blocker(d)
        if why == OTHER_KIND:
            continue
        total += 1
        if why is not None:
            busy[why] += 1
    return total, busy
