"""From an inventory to the devices containers can be given (contract section 1).

A GPU with MIG disabled (or not MIG-capable) is one whole-GPU device. A GPU with MIG enabled
and instances created contributes its instances, not itself. A GPU with MIG enabled and no
instances cannot run CUDA work: it is reported as the physical GPU, not allocatable, with a
warning. A lost GPU keeps its device(s) in the list, not allocatable, with a warning.
"""

from __future__ import annotations

from collections.abc import Iterable

from ds01.config.model import GpuSettings
from ds01.hardware.ids import id_key
from ds01.hardware.model import Gpu, Inventory, MigInstance
from ds01.policy.model import (
    KIND_GPU, KIND_MIG, PROBLEM_ERROR, PROBLEM_LOST, PROBLEM_NO_INSTANCES, Device,
)

MODE_MIG = "mig"
MODE_WHOLE_GPU = "whole-gpu"


def flatten(inventory: Inventory, gpu: GpuSettings) -> tuple[Device, ...]:
    """Every device of the inventory, in natural id order ("2:0" before "10:0")."""
    out: list[Device] = []
    for g in inventory.gpus:
        out.extend(_devices_of(g, gpu))
    return tuple(sorted(out, key=lambda d: id_key(d.id)))


def server_mode(devices: Iterable[Device]) -> str:
    """``"mig"`` when at least one MIG instance exists, else ``"whole-gpu"``."""
    return MODE_MIG if any(d.kind == KIND_MIG for d in devices) else MODE_WHOLE_GPU


def empty_mig_warning(index: int) -> str:
    return (
        f"MIG is enabled on GPU {index} but no instances exist: it cannot run CUDA work and "
        f"nothing is allocated on it (hint: create instances with "
        f"nvidia-smi mig -i {index} -cgi <profiles> -C, or disable MIG with "
        f"nvidia-smi -i {index} -mig 0)"
    )


def lost_warning(g: Gpu) -> str:
    said = f": {g.error}" if g.error else ""
    return (
        f"GPU {g.index} is lost{said}; nothing is allocated on it (hint: check nvidia-smi and "
        f"the kernel log; a GPU reset or a reboot may be needed)"
    )


def _devices_of(g: Gpu, settings: GpuSettings) -> list[Device]:
    lost = lost_warning(g) if g.lost else None
    if g.mig_enabled and g.instances:
        ordered = sorted(g.instances, key=lambda i: id_key(i.id))
        return [_mig_device(g, inst, lost) for inst in ordered]
    if lost:
        return [_whole_device(g, settings, allocatable=False, warning=lost,
                              problem=PROBLEM_LOST)]
    if g.mig_enabled:
        return [_whole_device(g, settings, allocatable=False,
                              warning=empty_mig_warning(g.index), problem=PROBLEM_NO_INSTANCES)]
    # An error that did not lose the GPU (e.g. one unreadable counter) is shown, not fatal.
    return [_whole_device(g, settings, allocatable=True, warning=g.error,
                          problem=PROBLEM_ERROR if g.error else None)]


def _whole_device(g: Gpu, settings: GpuSettings, *, allocatable: bool, warning: str | None,
                  problem: str | None) -> Device:
    return Device(
        id=str(g.index),
        kind=KIND_GPU,
        gpu=g.index,
        uuid=g.uuid,
        units=settings.units_per_gpu,
        name=g.name,
        profile=None,
        memory_total_mib=g.memory_total_mib,
        memory_used_mib=g.memory_used_mib,
        utilization=g.utilization,
        allocatable=allocatable,
        warning=warning,
        problem=problem,
    )


def _mig_device(g: Gpu, inst: MigInstance, lost: str | None) -> Device:
    return Device(
        id=inst.id,
        kind=KIND_MIG,
        gpu=g.index,
        uuid=inst.uuid,
        units=1,
        name=g.name,
        profile=inst.profile,
        memory_total_mib=inst.memory_total_mib,
        memory_used_mib=inst.memory_used_mib,
        utilization=inst.utilization,
        allocatable=lost is None,
        warning=lost,
        problem=PROBLEM_LOST if lost else None,
    )
