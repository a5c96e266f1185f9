"""Systemd slice units generated from the policy: ds01.slice, one slice per group (its
``aggregate`` limits) and one per user the config names (``slice_cpus``, ``slice_memory``,
``max_tasks``). Users met later get theirs on their first container; ``slices write`` keeps
the units of every user who holds containers now, named in the config or not."""

from __future__ import annotations

from pathlib import Path

from ds01.cgroups.slices import SliceEntry, SliceLimits, plan_units, write_units
from ds01.config.model import EffectiveLimits
from ds01.service.core import Service


def user_limits(who: EffectiveLimits) -> SliceLimits:
    lim = who.limits
    return SliceLimits(cpus=lim.slice_cpus, memory=lim.slice_memory, tasks=lim.max_tasks)


def plan(svc: Service) -> dict[str, str]:
    """Unit file name -> unit text for everything the config names."""
    cfg = svc.config
    entries = []
    for g in cfg.groups:
        agg = g.aggregate
        entries.append(SliceEntry(SliceLimits(cpus=agg.cpus, memory=agg.memory, tasks=agg.tasks),
                                  group=g.name))
    for user in sorted(set(cfg.known_users()) | current_users(svc)):
        who = svc.effective(user)
        entries.append(SliceEntry(user_limits(who), group=who.group, user=user))
    return plan_units(entries, source=str(cfg.source))


def current_users(svc: Service) -> set[str]:
    """Users who hold launcher containers now (their slice is the containers' parent)."""
    if not svc.ctx.db_path.exists():
        return set()
    with svc.store.read() as tx:
        return {row.user for row in tx.allocations() if row.origin == "launcher"}


def write(svc: Service, root: Path) -> tuple[list[Path], list[Path]]:
    """Write the units under ``root``/etc/systemd/system; remove stale ones ds01 wrote."""
    return write_units(root, plan(svc))
