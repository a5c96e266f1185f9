"""Hints for cgroup errors: read the situation around a refused write and say what to do.

Reading here is best effort: a hint never fails, it only says less when it cannot look.
"""

from __future__ import annotations

import errno
from pathlib import Path

from ds01.cgroups.slices import PERIOD_US


def hint_for(path: Path, value: str, exc: OSError) -> str:
    """What to do when the kernel refused ``value`` for control file ``path``."""
    name = path.name
    if exc.errno in (errno.EACCES, errno.EPERM, errno.ENOENT) and not path.exists():
        if not path.parent.exists():
            return f"the cgroup {path.parent} does not exist; create it first"
        return (
            f"{name} does not exist: its controller is not available in {path.parent} "
            "(v1: not mounted; v2: not enabled in the parent's cgroup.subtree_control)"
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "cgroups are managed as root: run ds01 with root privileges"
    if name == "cpu.cfs_quota_us" and exc.errno == errno.EINVAL and value.lstrip("-").isdigit():
        return _v1_cpu_hint(path, int(value))
    if name == "memory.limit_in_bytes" and exc.errno == errno.EBUSY:
        usage = _read_int_or_none(path.parent / "memory.usage_in_bytes")
        uses = "more" if usage is None else f"{usage} bytes, more"
        return (
            f"the cgroup uses {uses} than the new limit of {value} bytes, and the kernel could "
            "not reclaim enough; stop some of its containers or choose a higher limit"
        )
    if name == "cgroup.subtree_control" and exc.errno == errno.EBUSY:
        return (
            f"{path.parent} holds processes itself; on cgroup v2 only a cgroup without "
            "processes of its own can enable controllers for its children"
        )
    if name == "cgroup.subtree_control" and exc.errno == errno.ENOENT:
        return f"a controller in {value!r} is not available in {path.parent}/cgroup.controllers"
    return "check the value against the kernel's cgroup documentation for this file"


def _read_int_or_none(path: Path) -> int | None:
    """For hints only: a number from a control file, or None if it cannot be read."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _v1_cpu_hint(path: Path, quota: int) -> str:
    cgroup = path.parent
    parent = _read_int_or_none(cgroup.parent / "cpu.cfs_quota_us")
    try:
        below = sorted(child for child in cgroup.iterdir() if child.is_dir())
    except OSError:
        below = []
    children = [
        q
        for child in below
        for q in [_read_int_or_none(child / "cpu.cfs_quota_us")]
        if q is not None and q > 0
    ]
    if quota > 0 and parent is not None and parent > 0 and quota > parent:
        return (
            f"on cgroup v1 a CPU quota may not exceed its parent's: {cgroup.parent} allows "
            f"{parent} us per {PERIOD_US} us; raise the parent first (CgroupTree.apply orders "
            "the writes) or give this cgroup a lower CPU limit"
        )
    if quota > 0 and children and max(children) > quota:
        return (
            f"on cgroup v1 a CPU quota may not be lower than a child's: children of {cgroup} "
            f"hold quotas up to {max(children)} us; lower those first (containers included)"
        )
    return f"the quota must be -1 or at least 1000 us (0.01 CPUs) per {PERIOD_US} us period"
