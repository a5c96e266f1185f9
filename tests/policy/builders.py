"""Small builders for policy tests: servers, the section-2 configuration, an in-memory world."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from ds01.config.model import Config, GpuSettings, Group, Override, Reservation
from ds01.hardware.model import MIG_DISABLED, MIG_ENABLED, Gpu, Inventory, MigInstance
from ds01.policy.allocate import Snapshot, decide
from ds01.policy.devices import flatten
from ds01.policy.model import Decision, Holding, Request

TZ = timezone(timedelta(hours=1))
WINDOW_START = datetime(2025, 11, 1, 0, 0, tzinfo=TZ)
WINDOW_END = datetime(2025, 11, 8, 0, 0, tzinfo=TZ)
BEFORE = datetime(2025, 10, 20, 12, 0, tzinfo=TZ)
DURING = datetime(2025, 11, 3, 9, 30, tzinfo=TZ)
AFTER = datetime(2025, 11, 9, 8, 0, tzinfo=TZ)


def whole(index: int, *, used: int | None = None, lost: bool = False, mig: str = MIG_DISABLED
          ) -> Gpu:
    return Gpu(index=index, name="NVIDIA A100-SXM4-40GB", uuid=f"GPU-{index:08d}-test",
               memory_total_mib=40960, memory_used_mib=used, mig=mig, lost=lost)


def mig(index: int, count: int, *, lost: bool = False, profile: str = "1g.10gb") -> Gpu:
    instances = tuple(
        MigInstance(gpu_index=index, index=j, profile=profile, uuid=f"MIG-{index:04d}-{j:04d}-test",
                    memory_total_mib=9984)
        for j in range(count)
    )
    return Gpu(index=index, name="NVIDIA A100-SXM4-40GB", uuid=f"GPU-{index:08d}-test",
               memory_total_mib=40960, mig=MIG_ENABLED, instances=instances, lost=lost)


def mig_empty(index: int) -> Gpu:
    return mig(index, 0)


def inventory(*gpus: Gpu) -> Inventory:
    return Inventory(gpus=tuple(gpus), source="builtin:test")


def standard_server() -> Inventory:
    """GPU 0 whole (MIG disabled); GPUs 1-3 each with 4 MIG instances."""
    return inventory(whole(0), mig(1, 4), mig(2, 4), mig(3, 4))


JOHN_RESERVATION = Reservation(
    user="john_doe", start=WINDOW_START, end=WINDOW_END, gpus=("0",),
    reason="Thesis deadline - needs dedicated GPU",
)


def section2_config(gpu: GpuSettings | None = None) -> Config:
    """The configuration of contract section 2, built directly from the plain types."""
    groups = (
        Group("student", {"priority": 10}, members=("alice", "bob", "frank"),
              unix_groups=("ds01-students",), order=0),
        Group("researcher", {"priority": 50, "max_mig_instances": 8, "max_full_gpus": 2},
              members=("carol", "eve"), order=1),
        Group("admin", {"priority": 90, "max_mig_instances": None, "max_full_gpus": None},
              members=("dave",), admin=True, order=2),
    )
    overrides = {
        "john_doe": Override("john_doe", {"priority": 100, "max_mig_instances": 1},
                             reservation=JOHN_RESERVATION),
        "lena": Override("lena", {}, prefer_full_gpu=True),
    }
    defaults = {"priority": 1, "max_mig_instances": 2, "max_full_gpus": 1,
                "max_containers_per_user": 3}
    return Config(source="test.yaml", defaults=defaults, default_group="student",
                  groups=groups, overrides=overrides, gpu=gpu or GpuSettings())


@dataclass
class World:
    """A server, a config and the holdings list, changed only through ``decide``."""

    inv: Inventory
    config: Config
    holdings: list[Holding] = field(default_factory=list)

    @property
    def devices(self):
        return flatten(self.inv, self.config.gpu)

    def snapshot(self) -> Snapshot:
        return Snapshot(devices=self.devices, holdings=tuple(self.holdings),
                        gpu=self.config.gpu, reservations=self.config.reservations())

    def ask(self, user: str, container: str, *, count: int = 1, full_gpu: bool = False,
            cpu_only: bool = False, now: datetime = BEFORE) -> Decision:
        request = Request(user=user, container=container, count=count, full_gpu=full_gpu,
                          cpu_only=cpu_only)
        d = decide(self.snapshot(), request, self.config.effective(user), now)
        if d.ok and not d.existing:
            self.holdings.append(Holding(container=container, user=user, priority=d.priority,
                                         devices=d.devices, reserved=d.reserved,
                                         since=now.isoformat()))
        return d

    def put(self, user: str, container: str, *devices: str) -> None:
        """Record an existing container directly (the state before a scenario starts)."""
        priority = self.config.effective(user).priority
        self.holdings.append(Holding(container, user, priority, tuple(devices)))

    def release(self, container: str) -> None:
        self.holdings = [h for h in self.holdings if h.container != container]

    def on(self, device_id: str) -> list[str]:
        return [h.user for h in self.holdings if device_id in h.devices]
