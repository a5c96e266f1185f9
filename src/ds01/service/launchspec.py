"""How a launcher container is built: names, image, limits, cgroup parent, devices, mounts.

Everything here turns policy (the user's effective limits, the group's aggregate, the
``containers:`` settings) and the granted devices into one ``ContainerSpec``. Nothing a user
types reaches the engine except the container's name and the image's short name.
"""

from __future__ import annotations

import os
import re
from ds01.records import record
from pathlib import Path

from ds01.config.model import Aggregate, EffectiveLimits
from ds01.errors import Ds01Error, Refusal
from ds01.service.core import Service

ENGINE_PREFIX = "ds01"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,47}")
NAME_RULE = "1 to 48 letters, digits, '-' or '_', starting with a letter or digit"
INVALID_REQUEST = "INVALID_REQUEST"
NOT_PERMITTED = "NOT_PERMITTED"


@record
class Actor:
    """Whose containers a command works on, and whether the caller is an administrator.

    ``uid``/``gid``: the account's numeric ids (the container's processes run as them); None
    when the user has no Unix account here (then the image's own user is kept).
    """

    user: str
    uid: int | None = None
    gid: int | None = None
    admin: bool = False


def invalid(message: str, hint: str | None = None) -> Refusal:
    return Refusal(message, hint=hint, code=INVALID_REQUEST)


def not_permitted(message: str, hint: str | None = None) -> Refusal:
    return Refusal(message, hint=hint, code=NOT_PERMITTED)


def engine_name(user: str, name: str) -> str:
    """The engine's name for ``user``'s container ``name``: ``ds01.<user>.<name>``."""
    return f"{ENGINE_PREFIX}.{user}.{name}"


def check_name(name: str) -> None:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise invalid(f"{name!r} is not a valid container name: use {NAME_RULE}",
                      hint="for example: container run training1 pytorch")


def resolve_image(svc: Service, actor: Actor, image: str) -> tuple[str, str]:
    """(short name, engine reference) for IMAGE: a name from the allowlist, or a raw reference
    when the config allows raw images and the caller is an administrator."""
    images = svc.config.images
    if image in images:
        return image, images[image]
    allowed = ", ".join(sorted(images)) or "(none configured)"
    raw_ok = svc.config.containers.allow_raw_images and actor.admin
    if raw_ok:
        from ds01.config.checks import is_image_ref

        if is_image_ref(image):
            return image, image
        raise invalid(f"{image!r} is not an image reference", hint=f"allowed names: {allowed}")
    hint = f"choose one of: {allowed}; ask an administrator to add an image you need"
    if actor.admin:
        hint += " (raw references need containers.allow_raw_images: true)"
    raise invalid(f"image {image!r} is not allowed on this server", hint=hint)


# --------------------------------------------------------------------------- limits


def _smallest(*values):
    present = [v for v in values if v is not None]
    return min(present) if present else None


def aggregate_of(svc: Service, who: EffectiveLimits) -> Aggregate:
    group = svc.config.group(who.group)
    return group.aggregate if group is not None else Aggregate()


def container_cpus(who: EffectiveLimits, agg: Aggregate, host_cpus: int) -> float:
    """The smallest of max_cpus, slice_cpus, the group's aggregate and the host's CPUs."""
    lim = who.limits
    return float(_smallest(lim.max_cpus, lim.slice_cpus, agg.cpus, host_cpus or None) or 1)


def slice_plan(svc: Service, who: EffectiveLimits, agg: Aggregate) -> dict:
    """cgroupfs: relative cgroup path -> SliceLimits, for the group and the user."""
    from ds01.cgroups.fs import cgroupfs_parent
    from ds01.cgroups.slices import SliceLimits

    cgroupfs_parent(who.group, who.user)  # refuses names that cannot be directories
    root = svc.config.containers.cgroup_root.strip("/")
    lim = who.limits
    group_path = f"{root}/{who.group}"
    user_limits = SliceLimits(cpus=_smallest(lim.slice_cpus, agg.cpus),
                              memory=_smallest(lim.slice_memory, agg.memory),
                              tasks=_smallest(lim.max_tasks, agg.tasks))
    return {group_path: SliceLimits(cpus=agg.cpus, memory=agg.memory, tasks=agg.tasks),
            f"{group_path}/{who.user}": user_limits}


def cgroup_parent(svc: Service, who: EffectiveLimits, driver: str) -> tuple[str, object]:
    """(the --cgroup-parent value, what to apply before the container is created).

    systemd driver: the user's slice unit, and its ``SlicePlan`` (the unit files, written on
    the user's first container: ``ds01.service.userslice``). cgroupfs: the absolute path
    ``<cgroup_root>/<group>/<user>``, and the plan of cgroups ds01 creates with the aggregate
    limits.
    """
    if driver == "systemd":
        from ds01.service.userslice import plan_for

        plan = plan_for(svc, who)
        return plan.unit, plan
    plan = slice_plan(svc, who, aggregate_of(svc, who))
    user_path = max(plan, key=len)
    return "/" + user_path, plan


def engine_info(svc: Service):
    """The engine's facts (cgroup driver, CPUs), kept between processes in the state
    directory's cache (``ds01.runtime.infocache``)."""
    from ds01.runtime.infocache import cached_info

    return cached_info(svc.engine, svc.ctx.cache_dir)


def apply_cgroups(plan) -> None:
    """Make the user's cgroups (cgroupfs: a path -> limits dict) or slice units (systemd: a
    ``SlicePlan``) exist with the current limits."""
    if isinstance(plan, dict):
        if plan:
            from ds01.service.reconcile import cgroup_tree

            cgroup_tree().apply(plan)
    elif plan is not None:
        from ds01.service.userslice import ensure

        ensure(plan)


# --------------------------------------------------------------------------- mounts


def binds_of(svc: Service, user: str) -> tuple[tuple[str, str, str], ...]:
    return tuple((h, c, "rw") for h, c in svc.config.containers.mounts_for(user).items())


def ensure_mounts(svc: Service, actor: Actor) -> None:
    """Create the user's own mount directories when missing.

    In a template such as ``/home/{user}/workspace`` the directories from the first one naming
    ``{user}`` down (``/home/alice``, ``/home/alice/workspace``) are the user's: each one
    missing is created owned by the user, mode 0750. Everything above (``/home``), and a
    shared mount without ``{user}``, must already exist: ds01 never lets the engine create a
    host directory as root, and never creates a shared one.
    """
    for template in svc.config.containers.mounts:
        host = Path(template.format(user=actor.user))
        if host.is_dir():
            continue
        parts = Path(template).parts
        first = next((i for i, p in enumerate(parts) if "{user}" in p), None)
        shared = Path(*parts[:first]) if first is not None else host
        if first is None or not shared.is_dir():
            raise Ds01Error(
                f"{shared} does not exist on this server, so {host} cannot be mounted",
                hint="an administrator must create it, or change containers.mounts",
                code="MOUNT_MISSING")
        _make_owned(shared, [p.format(user=actor.user) for p in parts[first:]], actor)


def _make_owned(base: Path, names: list[str], actor: Actor) -> None:
    path = base
    for name in names:
        path = path / name
        try:
            path.mkdir(mode=0o750)
        except FileExistsError:
            continue
        except OSError as exc:
            raise Ds01Error(f"cannot create {path} for {actor.user}: {exc.strerror}",
                            hint="run ds01 as root (through sudo), or create it by hand",
                            code="MOUNT_MISSING") from exc
        if actor.uid is not None:
            os.chown(path, actor.uid, actor.gid if actor.gid is not None else -1)


# --------------------------------------------------------------------------- the spec


@record
class Launch:
    """Everything decided about one container before it is created."""

    name: str
    engine_name: str
    image_name: str
    image_ref: str
    devices: tuple[str, ...]
    uuids: tuple[str, ...]
    cgroup_parent: str
    plan: object  # what cgroup_parent() returned to apply (a dict, a SlicePlan) or None


def labels_of(svc: Service, actor: Actor, who: EffectiveLimits, launch: Launch) -> dict:
    return {
        "ds01.managed": "true",
        "ds01.instance": svc.config.containers.instance,
        "ds01.user": actor.user,
        "ds01.name": launch.name,
        "ds01.image": launch.image_name,
        "ds01.devices": ",".join(launch.devices),
        "ds01.uuids": ",".join(launch.uuids),
        "ds01.priority": str(who.priority),
        "ds01.group": who.group,
    }


def build_spec(svc: Service, actor: Actor, who: EffectiveLimits, launch: Launch, host_cpus: int):
    """The ``ContainerSpec`` for ``launch``."""
    from ds01.runtime import ContainerSpec

    settings = svc.config.containers
    lim = who.limits
    binds = binds_of(svc, actor.user)
    workdir = binds[0][1] if binds else None
    user = None
    env: dict[str, str] = {}
    if settings.run_as_user and actor.uid is not None:
        user = f"{actor.uid}:{actor.gid if actor.gid is not None else actor.uid}"
        if workdir:
            env["HOME"] = workdir
    return ContainerSpec(
        name=launch.engine_name, image=launch.image_ref,
        labels=labels_of(svc, actor, who, launch), env=env,
        cpus=container_cpus(who, aggregate_of(svc, who), host_cpus),
        memory=lim.memory, memory_swap=lim.memory, shm_size=lim.shm_size,
        pids_limit=lim.pids_limit, cgroup_parent=launch.cgroup_parent,
        gpu_uuids=tuple(launch.uuids), gpu_attach=settings.gpu_attach,
        cpu_only=not launch.devices, user=user, binds=binds, workdir=workdir,
    )
