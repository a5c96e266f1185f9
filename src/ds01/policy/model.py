"""Plain data types the decision works on and returns."""

from __future__ import annotations

from collections import namedtuple

from ds01.records import field, record

# Reason codes, in the order the checks run (contract section 3).
INVALID_REQUEST = "INVALID_REQUEST"
CONTAINER_LIMIT = "CONTAINER_LIMIT"
USER_AT_LIMIT = "USER_AT_LIMIT"
RESERVED = "RESERVED"
NO_CAPACITY = "NO_CAPACITY"
REASONS = (INVALID_REQUEST, CONTAINER_LIMIT, USER_AT_LIMIT, RESERVED, NO_CAPACITY)

KIND_MIG = "mig"
KIND_GPU = "gpu"

# What is wrong with a device that carries a warning (Device.problem), for displays that mark
# each kind differently without parsing the warning's wording.
PROBLEM_LOST = "lost"  # the source lost the GPU: not allocatable
PROBLEM_NO_INSTANCES = "mig_no_instances"  # MIG enabled, no instances: not allocatable
PROBLEM_ERROR = "error"  # the source reported an error but the GPU works: still allocatable


@record
class Device:
    """What one container can be given: a MIG instance or a whole GPU."""

    id: str  # "0" or "1:2"
    kind: str  # KIND_MIG | KIND_GPU
    gpu: int  # the physical GPU index
    uuid: str
    units: int  # 1 for a MIG instance, units_per_gpu for a whole GPU
    name: str = ""  # the GPU's product name
    profile: str | None = None  # MIG profile ("2g.20gb"); None for a whole GPU
    memory_total_mib: int | None = None
    memory_used_mib: int | None = None  # None: not reported (never proof of free memory)
    utilization: float | None = None  # percent; None: not reported
    allocatable: bool = True
    warning: str | None = None
    problem: str | None = None  # PROBLEM_* when there is a warning

    @property
    def memory_fraction(self) -> float:
        """Fraction of memory in use, for ranking only: unknown ranks as 0."""
        if not self.memory_total_mib or self.memory_used_mib is None:
            return 0.0
        return self.memory_used_mib / self.memory_total_mib


Holding = namedtuple(
    "Holding", ["container", "user", "priority", "devices", "reserved", "since"],
    defaults=((), (), ""),
)
Holding.__doc__ = """One container's current allocation, as recorded: ``container``, ``user``,
``priority`` (recorded when it was allocated), ``devices`` (empty for a CPU-only container),
``reserved`` (the devices taken through the holder's reservation), ``since`` (ISO time).

A named tuple rather than a record: the decision builds one per live allocation, and with a
thousand of them tuple construction is measurably cheaper (``typing.NamedTuple`` would cost
more at import than it saves)."""


@record
class Request:
    user: str
    container: str
    count: int = 1
    full_gpu: bool = False
    cpu_only: bool = False


@record
class Decision:
    """The answer. ``ok`` with devices, or exactly one reason with the numbers behind it."""

    ok: bool
    request: Request
    priority: int
    group: str
    devices: tuple[str, ...] = ()
    uuids: tuple[str, ...] = ()
    reserved: tuple[str, ...] = ()  # devices granted through the user's reservation
    existing: bool = False  # the container already held this allocation (idempotent)
    reason: str | None = None
    # Numbers for messages and templates: requested, max, current, available, held, limit,
    # limit_name, reserved_user, end_time, reason_text, busy ...
    facts: dict = field(default_factory=dict)
    units: int = 0  # the units this container pays for (after reservation exemption)
    units_held: int = 0  # the user's units after this decision
    units_limit: int | None = None  # the user's max_mig_instances (None = unlimited)
