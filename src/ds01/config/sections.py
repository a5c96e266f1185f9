"""Validation of the smaller sections: reservations, group aggregates, images, containers,
monitoring. Used by ``ds01.config.loader``; every function records problems on the Checker.
"""

from __future__ import annotations

from ds01.config.checks import (
    BAD,
    DEVICE_ID,
    IMAGE_NAME,
    INSTANCE_NAME,
    Checker,
    is_image_ref,
    join,
)
from ds01.config.model import Aggregate, ContainerSettings, MonitoringSettings, Reservation
from ds01.yamlpos import Node

TIME_KEYS = ("reservation_start", "reservation_end", "reserved_gpus")
AGGREGATE_KEYS = ("cpus", "memory", "tasks")
CONTAINER_KEYS = (
    "gpu_attach",
    "allow_raw_images",
    "run_as_user",
    "mounts",
    "gpu_hold_after_stop",
    "instance",
    "cgroup_root",
)
GPU_ATTACH = ("gpus", "none")


def reservation(
    c: Checker, user: str, onode: Node, entries: dict[str, Node], path: str
) -> Reservation | None:
    """The override's reservation: its keys come together (``reason`` optional)."""
    present = [k for k in TIME_KEYS if k in entries]
    if not present:
        if "reason" in entries:
            c.problem(entries["reason"], join(path, "reason"),
                      "a reason only goes with a reservation (reservation_start, "
                      "reservation_end and reserved_gpus)")
        return None
    start = c.instant(entries["reservation_start"], join(path, "reservation_start")) \
        if "reservation_start" in entries else BAD
    end = c.instant(entries["reservation_end"], join(path, "reservation_end")) \
        if "reservation_end" in entries else BAD
    gpus = _reserved_ids(c, entries["reserved_gpus"], join(path, "reserved_gpus")) \
        if "reserved_gpus" in entries else BAD
    reason = None
    if "reason" in entries and entries["reason"].value is not None:
        reason = c.text(entries["reason"], join(path, "reason"), what="why the GPUs are reserved")
    missing = [k for k in TIME_KEYS if k not in entries]
    if missing:
        c.problem(onode, path, "a reservation needs reservation_start, reservation_end and "
                  f"reserved_gpus together; missing: {', '.join(missing)}")
        return None
    if start is not BAD and end is not BAD and end <= start:
        c.problem(entries["reservation_end"], join(path, "reservation_end"),
                  f"must be after reservation_start ({start.isoformat()}), "
                  f"got {end.isoformat()}")
        return None
    if BAD in (start, end, gpus, reason):
        return None
    return Reservation(user=user, start=start, end=end, gpus=gpus, reason=reason)


def _reserved_ids(c: Checker, node: Node, key: str) -> object:
    """GPU indexes (0, "1") and MIG ids ("2:1") as device-id strings."""
    if not isinstance(node.value, list):
        return c.wrong(node, key, 'a list of GPU indexes or MIG ids, like [0, "2:1"]')
    if not node.value:
        return c.problem(node, key, 'must name at least one GPU or MIG id, like [0] or ["2:1"]')
    out: list[str] = []
    ok = True
    for i, item in enumerate(node.value):
        v = item.value
        if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
            text = str(v)
        elif isinstance(v, str) and DEVICE_ID.fullmatch(v):
            text = v
        else:
            c.wrong(item, join(key, i), 'a GPU index (0) or a MIG id in quotes ("2:1")')
            ok = False
            continue
        if text not in out:
            out.append(text)
    return tuple(out) if ok else BAD


def aggregate(c: Checker, node: Node | None, path: str) -> Aggregate:
    """A group's limits on all its members together."""
    entries = c.mapping(node, path)
    c.known_keys(entries, AGGREGATE_KEYS, path, {})
    values = {}
    if "cpus" in entries:
        values["cpus"] = c.number(entries["cpus"], join(path, "cpus"), nullable=True)
    if "memory" in entries:
        values["memory"] = c.size(entries["memory"], join(path, "memory"), nullable=True)
    if "tasks" in entries:
        values["tasks"] = c.integer(entries["tasks"], join(path, "tasks"), minimum=1,
                                    nullable=True)
    return Aggregate(**{k: v for k, v in values.items() if v is not BAD})


def images(c: Checker, node: Node | None) -> dict:
    """The allowlist: short name -> image reference."""
    out = {}
    for name, inode in c.mapping(node, "images").items():
        key = join("images", name)
        if not IMAGE_NAME.fullmatch(name):
            c.problem(inode, key, f"{name!r} is not a valid image name "
                      "(lower-case letters, digits, . _ -; starting with a letter or digit)")
            continue
        ref = c.text(inode, key)
        if ref is not BAD and not is_image_ref(ref):
            ref = c.problem(inode, key, f"{ref!r} is not an image reference "
                            "(like nvcr.io/nvidia/pytorch:24.10-py3)")
        if ref is not BAD:
            out[name] = ref
    return out


def containers(c: Checker, node: Node | None) -> ContainerSettings:
    """How containers are started."""
    entries = c.mapping(node, "containers")
    c.known_keys(entries, CONTAINER_KEYS, "containers", {})
    values: dict = {}
    for name, vnode in entries.items():
        if name not in CONTAINER_KEYS:
            continue
        key = join("containers", name)
        if name == "gpu_attach":
            v = c.text(vnode, key)
            if v is not BAD and v not in GPU_ATTACH:
                v = c.problem(vnode, key, f"must be 'gpus' or 'none', got {v!r}")
        elif name in ("allow_raw_images", "run_as_user"):
            v = c.boolean(vnode, key)
        elif name == "mounts":
            v = _mounts(c, vnode, key)
        elif name == "gpu_hold_after_stop":
            v = c.duration(vnode, key, nullable=False, zero_ok=True)
        elif name == "instance":
            v = c.text(vnode, key, INSTANCE_NAME,
                       "a short name (lower-case letters, digits, _ -), like ds01")
        else:  # cgroup_root
            v = c.abs_path(vnode, key)
        if v is not BAD:
            values[name] = v
    return ContainerSettings(**values)


def _mounts(c: Checker, node: Node, key: str) -> object:
    """Host path template ({user} allowed) -> container path."""
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    ok = True
    for host, cnode in c.mapping(node, key).items():
        mkey = join(key, host)
        h = c.abs_path(Node(host, cnode.where), mkey, placeholders=("user",))
        target = c.abs_path(cnode, mkey, placeholders=("user",))
        if h is BAD or target is BAD:
            ok = False
            continue
        if target in seen:
            c.problem(cnode, mkey, f"{target!r} is already the target of {seen[target]!r}")
            ok = False
            continue
        seen[target] = host
        out[host] = target
    return out if ok else BAD


def monitoring(c: Checker, node: Node | None) -> MonitoringSettings:
    entries = c.mapping(node, "monitoring")
    c.known_keys(entries, ("per_user_metrics",), "monitoring", {})
    if "per_user_metrics" in entries:
        v = c.boolean(entries["per_user_metrics"], "monitoring.per_user_metrics")
        if v is not BAD:
            return MonitoringSettings(per_user_metrics=v)
    return MonitoringSettings()
