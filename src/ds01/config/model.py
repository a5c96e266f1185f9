"""Plain data types of the configuration, and who-is-who resolution. No I/O here.

Parsing and validation live in ``ds01.config.loader``; it produces a ``Config``.
"""

from __future__ import annotations

from ds01.records import record, field, fields
from datetime import datetime

# Limit keys that defaults, groups and user overrides may set. Values are already parsed:
# sizes in bytes, durations in seconds, None = unlimited / never.
LIMIT_KEYS: tuple[str, ...] = (
    "priority",
    "max_mig_instances",
    "max_full_gpus",
    "max_containers_per_user",
    "max_cpus",
    "memory",
    "shm_size",
    "pids_limit",
    "idle_timeout",
    "slice_cpus",
    "slice_memory",
    "max_tasks",
)

# Reason keys of `wizard.error_messages` and the placeholders each template may use.
ERROR_MESSAGE_FIELDS: dict[str, tuple[str, ...]] = {
    "gpu_limit_exceeded": ("requested", "max", "current", "available"),
    "container_limit_exceeded": ("current", "max"),
    "no_gpu_available": (),
    "reservation_conflict": ("reserved_user", "end_time", "reason"),
}


@record
class Limits:
    """Effective values of every limit key for one user (parsed units)."""

    priority: int = 1
    max_mig_instances: int | None = 2
    max_full_gpus: int | None = 1
    max_containers_per_user: int | None = 3
    max_cpus: float | None = 16
    memory: int | None = 32 * 1024**3  # bytes
    shm_size: int | None = 16 * 1024**3  # bytes
    pids_limit: int | None = 4096
    idle_timeout: float | None = 24 * 3600.0  # seconds
    slice_cpus: float | None = 32  # all of one user's containers together
    slice_memory: int | None = 64 * 1024**3  # bytes, all of one user's containers together
    max_tasks: int | None = 4096  # processes + threads, all of one user's containers together

    def replaced(self, settings: dict) -> "Limits":
        known = {f.name for f in fields(self)}
        return Limits(**{**self.__dict__, **{k: v for k, v in settings.items() if k in known}})


@record
class Reservation:
    """A time window during which some devices are for one user only."""

    user: str
    start: datetime  # aware
    end: datetime  # aware, > start
    gpus: tuple[str, ...]  # GPU indexes ("0": every device of GPU 0) or MIG ids ("2:1")
    reason: str | None = None

    def active(self, now: datetime) -> bool:
        return self.start <= now < self.end

    def covers(self, device_id: str) -> bool:
        """True when this reservation names the device or its whole GPU."""
        gpu = device_id.split(":", 1)[0]
        return device_id in self.gpus or gpu in self.gpus


@record
class Aggregate:
    """Limits on a whole group together (all its members' containers); None = no limit."""

    cpus: float | None = None
    memory: int | None = None  # bytes
    tasks: int | None = None

    def is_set(self) -> bool:
        return any(v is not None for v in (self.cpus, self.memory, self.tasks))


@record
class Group:
    name: str
    settings: dict  # limit keys this group sets (parsed values)
    members: tuple[str, ...] = ()
    unix_groups: tuple[str, ...] = ()
    admin: bool = False
    order: int = 0  # position in the file: ties on priority go to the first listed
    aggregate: Aggregate = field(default_factory=Aggregate)


@record
class Override:
    user: str
    settings: dict  # limit keys this override sets (parsed values)
    prefer_full_gpu: bool = False
    reservation: Reservation | None = None


@record
class GpuSettings:
    units_per_gpu: int = 4
    max_containers_per_mig: int = 2
    max_containers_per_gpu: int = 1


DEFAULT_MOUNTS: dict[str, str] = {"/home/{user}/workspace": "/workspace"}


@record
class ContainerSettings:
    """How ds01 starts containers (the `containers:` section)."""

    gpu_attach: str = "gpus"  # "gpus": the engine's GPU request; "none": no GPU attach at all
    allow_raw_images: bool = False  # may users run images that are not in `images`?
    run_as_user: bool = True  # run as the calling user's uid:gid, not as root
    mounts: dict = field(default_factory=lambda: dict(DEFAULT_MOUNTS))  # host template -> path
    gpu_hold_after_stop: float = 0.0  # seconds a stopped container keeps its GPU
    instance: str = "ds01"  # name of this installation (labels, cgroup names)
    cgroup_root: str = "/ds01"  # where ds01's cgroups live, under the cgroup mount

    def mounts_for(self, user: str) -> dict[str, str]:
        """The mounts with ``{user}`` filled in: host path -> container path."""
        return {h.format(user=user): c.format(user=user) for h, c in self.mounts.items()}


@record
class MonitoringSettings:
    per_user_metrics: bool = False  # export metrics labelled with user names


@record
class EffectiveLimits:
    """Everything the decision needs to know about one user."""

    user: str
    group: str  # the group's name, or "default" when no group applies
    admin: bool
    prefer_full_gpu: bool
    limits: Limits
    reservation: Reservation | None = None

    @property
    def priority(self) -> int:
        return self.limits.priority

    def as_dict(self) -> dict:
        out = {"user": self.user, "group": self.group, "admin": self.admin}
        out.update(self.limits.__dict__)
        out["prefer_full_gpu"] = self.prefer_full_gpu
        r = self.reservation
        out["reservation"] = (
            None
            if r is None
            else {
                "start": r.start.isoformat(),
                "end": r.end.isoformat(),
                "gpus": list(r.gpus),
                "reason": r.reason,
            }
        )
        return out


@record
class Config:
    """A validated configuration. Build it with ``ds01.config.loader.load_config``."""

    source: str  # the file it came from (for messages)
    defaults: dict = field(default_factory=dict)  # limit keys set under `defaults`
    default_group: str | None = None
    groups: tuple[Group, ...] = ()
    overrides: dict = field(default_factory=dict)  # user -> Override
    gpu: GpuSettings = field(default_factory=GpuSettings)
    error_messages: dict = field(default_factory=dict)  # reason key -> template
    images: dict = field(default_factory=dict)  # allowlist: short name -> image reference
    containers: ContainerSettings = field(default_factory=ContainerSettings)
    monitoring: MonitoringSettings = field(default_factory=MonitoringSettings)

    def group(self, name: str) -> Group | None:
        """The group called ``name``, or None."""
        for g in self.groups:
            if g.name == name:
                return g
        return None

    def group_of(self, user: str, unix_groups: tuple[str, ...] | list[str] = ()) -> Group | None:
        """The user's group: highest priority among matches, first listed on ties."""
        matches = [
            g
            for g in self.groups
            if user in g.members or any(u in g.unix_groups for u in unix_groups)
        ]
        if matches:
            return min(matches, key=lambda g: (-self._group_priority(g), g.order))
        if self.default_group is not None:
            return self.group(self.default_group)
        return None

    def _group_priority(self, group: Group) -> int:
        return int(group.settings.get("priority", self.defaults.get("priority", Limits.priority)))

    def effective(
        self, user: str, unix_groups: tuple[str, ...] | list[str] = ()
    ) -> EffectiveLimits:
        """defaults, then the group's keys, then the user's override keys."""
        group = self.group_of(user, unix_groups)
        limits = Limits().replaced(self.defaults)
        if group is not None:
            limits = limits.replaced(group.settings)
        override = self.overrides.get(user)
        if override is not None:
            limits = limits.replaced(override.settings)
        return EffectiveLimits(
            user=user,
            group=group.name if group else "default",
            admin=bool(group and group.admin),
            prefer_full_gpu=bool(override and override.prefer_full_gpu),
            limits=limits,
            reservation=override.reservation if override else None,
        )

    def reservations(self) -> tuple[Reservation, ...]:
        return tuple(o.reservation for o in self.overrides.values() if o.reservation)

    def known_users(self) -> tuple[str, ...]:
        names = {m for g in self.groups for m in g.members} | set(self.overrides)
        return tuple(sorted(names))
