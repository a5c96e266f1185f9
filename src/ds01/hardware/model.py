"""Plain data types of the GPU inventory. No I/O here: every source produces these."""

from __future__ import annotations

from ds01.records import record, field

MIG_DISABLED = "disabled"  # MIG-capable, switched off: one whole-GPU device
MIG_ENABLED = "enabled"  # MIG on: instances (if any) are the devices
MIG_UNSUPPORTED = "n/a"  # not MIG-capable: one whole-GPU device


@record
class MigInstance:
    """One MIG device as ``nvidia-smi -L`` lists it ("MIG 2g.20gb Device 2")."""

    gpu_index: int
    index: int  # the MIG device index printed by nvidia-smi -L
    profile: str  # e.g. "2g.20gb", "1c.3g.40gb", "1g.10gb+me"
    uuid: str  # "MIG-..." (or legacy "MIG-GPU-<uuid>/<gi>/<ci>")
    memory_total_mib: int | None = None
    memory_used_mib: int | None = None  # None: the source does not report it
    utilization: float | None = None  # percent; None: not reported (MIG under nvidia-smi)
    gi: int | None = None  # GPU instance id, where known
    ci: int | None = None  # compute instance id, where known

    @property
    def id(self) -> str:
        return f"{self.gpu_index}:{self.index}"


@record
class Gpu:
    """One physical GPU."""

    index: int
    name: str
    uuid: str
    memory_total_mib: int | None = None
    memory_used_mib: int | None = None
    utilization: float | None = None
    mig: str = MIG_UNSUPPORTED  # MIG_DISABLED | MIG_ENABLED | MIG_UNSUPPORTED
    instances: tuple[MigInstance, ...] = ()
    lost: bool = False  # the source saw it before but cannot read it now (e.g. "GPU is lost")
    error: str | None = None  # what the source said about it, if anything went wrong

    @property
    def mig_enabled(self) -> bool:
        return self.mig == MIG_ENABLED


@record
class Inventory:
    """Every GPU the machine has, in index order, and where the facts came from."""

    gpus: tuple[Gpu, ...]
    source: str  # "nvml", "nvidia-smi", or "file:<path>" / "builtin:<name>"
    warnings: tuple[str, ...] = field(default=())
