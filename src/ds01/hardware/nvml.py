"""The NVML source: the GPU inventory through the ``nvidia-ml-py`` package (module ``pynvml``).

Every NVML call goes through ``Nvml.call``, the one place that turns NVML errors into ours:
"Not Supported" means the value is unknown (None); "GPU is lost" / "Unknown Error" mark that one
GPU lost (it is reported, never allocated); anything else is a HardwareError with NVML's words
and a hint. ``pynvml`` is imported only when this source is used; tests pass a stand-in module.
"""

from __future__ import annotations

import re
from ds01.records import replace

from ds01.errors import HardwareError
from ds01.hardware.model import (
    MIG_DISABLED,
    MIG_ENABLED,
    MIG_UNSUPPORTED,
    Gpu,
    Inventory,
    MigInstance,
)

MIB = 1024 * 1024
_PROFILE_IN_NAME = re.compile(r"\bMIG\s+(?P<profile>(?:\d+c\.)?\d+g\.\d+gb(?:[+-][a-z]+)*)\b")

_HINTS = {
    "LibRmVersionMismatch": "the NVIDIA kernel module and the driver library have different "
    "versions, which happens after a driver upgrade without a reboot: reboot the machine, or "
    "reload the nvidia kernel modules once no process uses the GPUs",
    "DriverNotLoaded": "load the NVIDIA driver (`modprobe nvidia`) and check `dmesg`",
    "LibraryNotFound": "install the NVIDIA driver (it provides libnvidia-ml.so.1)",
    "NoPermission": "run ds01 as a user that may open /dev/nvidiactl and /dev/nvidia*, or as root",
    "Timeout": "the driver did not answer: check `dmesg` for Xid/NVRM errors",
}
_DEFAULT_HINT = "check the driver (`nvidia-smi`, `dmesg | grep -i nvrm`); to run without GPUs, " \
    "describe a simulated server with --hardware FILE"
_LOST = ("GpuIsLost", "Unknown")  # the device fell off the bus or stopped answering


class DeviceLost(HardwareError):
    """One GPU stopped answering; the rest of the inventory can still be read."""


def _text(value: object) -> str:
    """NVML strings may come back as bytes (older bindings) or str."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


class Nvml:
    """The one wrapper around the pynvml module (real or stand-in)."""

    def __init__(self, module) -> None:
        self.nv = module

    def _is(self, exc: BaseException, kind: str) -> bool:
        cls = getattr(self.nv, "NVMLError_" + kind, None)
        return isinstance(cls, type) and isinstance(exc, cls)

    def call(self, name: str, *args, what: str = "", none_on: tuple[str, ...] = ("NotSupported",)):
        """Call ``pynvml.<name>(*args)``; errors named in ``none_on`` give None."""
        function = getattr(self.nv, name, None)
        if function is None:
            raise HardwareError(f"this pynvml has no {name}()",
                                hint="install the nvidia-ml-py version ds01 requires")
        try:
            return function(*args)
        except self.nv.NVMLError as exc:
            if any(self._is(exc, kind) for kind in none_on):
                return None
            label = f"{name}({what})" if what else f"{name}()"
            message = f"NVML {label} failed: {_text(exc)}"
            if any(self._is(exc, kind) for kind in _LOST):
                raise DeviceLost(message, hint="a GPU that fell off the bus needs a reboot; "
                                 "see `dmesg` for Xid errors") from None
            hint = next((h for k, h in _HINTS.items() if self._is(exc, k)), _DEFAULT_HINT)
            raise HardwareError(message, hint=hint) from None

    def init(self) -> None:
        try:
            self.call("nvmlInit", none_on=())
        except HardwareError as exc:
            said = exc.message.removeprefix("NVML ")
            raise HardwareError(f"NVML could not start: {said}", hint=exc.hint) from None

    def shutdown(self) -> str | None:
        """Shut NVML down; return what went wrong, if anything (the data is already read)."""
        try:
            self.call("nvmlShutdown", none_on=())
        except HardwareError as exc:
            return exc.message
        return None


def _import_pynvml():
    try:
        import pynvml
    except ImportError as exc:
        raise HardwareError(f"the NVML Python bindings cannot be imported: {exc}",
                            hint="install nvidia-ml-py (module pynvml), or use "
                            "--hardware nvidia-smi") from None
    return pynvml


def read_inventory(module=None) -> Inventory:
    """The GPU inventory as NVML reports it. ``module``: a pynvml stand-in (tests)."""
    nvml = Nvml(module if module is not None else _import_pynvml())
    nvml.init()
    try:
        inventory = _read_all(nvml)
    finally:
        problem = nvml.shutdown()
    if problem:
        inventory = replace(inventory, warnings=inventory.warnings + (problem,))
    return inventory


def _read_all(nvml: Nvml) -> Inventory:
    count = nvml.call("nvmlDeviceGetCount", none_on=())
    if not count:
        raise HardwareError("NVML found no GPUs",
                            hint="check `dmesg` for NVRM errors and `lspci` for the cards; on a "
                            "machine without GPUs use --hardware FILE")
    gpus, warnings = [], []
    for index in range(count):
        gpu, notes = _read_gpu(nvml, index)
        gpus.append(gpu)
        warnings.extend(notes)
    return Inventory(tuple(gpus), "nvml", tuple(warnings))


def _read_gpu(nvml: Nvml, index: int) -> tuple[Gpu, list[str]]:
    """One GPU; if it stops answering part-way, it is returned lost with what was read."""
    seen: dict = {"index": index, "name": "unknown", "uuid": "unknown"}
    notes: list[str] = []
    try:
        handle = nvml.call("nvmlDeviceGetHandleByIndex", index, what=str(index), none_on=())
        seen["name"] = _text(nvml.call("nvmlDeviceGetName", handle, what=f"GPU {index}",
                                       none_on=()))
        seen["uuid"] = _text(nvml.call("nvmlDeviceGetUUID", handle, what=f"GPU {index}",
                                       none_on=()))
        total, used = _memory(nvml, handle, f"GPU {index}")
        seen.update(memory_total_mib=total, memory_used_mib=used)
        seen["utilization"] = _utilization(nvml, handle, f"GPU {index}")
        seen["mig"] = _mig_mode(nvml, handle, index)
        if seen["mig"] == MIG_ENABLED:
            seen["instances"] = tuple(_read_migs(nvml, handle, index, notes))
    except DeviceLost as lost:
        seen.pop("instances", None)
        return Gpu(**seen, lost=True, error=lost.message), notes + [lost.message]
    return Gpu(**seen), notes


def _memory(nvml: Nvml, handle, what: str) -> tuple[int | None, int | None]:
    info = nvml.call("nvmlDeviceGetMemoryInfo", handle, what=what)
    if info is None:
        return None, None
    return int(info.total) // MIB, int(info.used) // MIB


def _utilization(nvml: Nvml, handle, what: str) -> float | None:
    rates = nvml.call("nvmlDeviceGetUtilizationRates", handle, what=what)
    return None if rates is None else float(rates.gpu)


def _mig_mode(nvml: Nvml, handle, index: int) -> str:
    modes = nvml.call("nvmlDeviceGetMigMode", handle, what=f"GPU {index}")
    if modes is None:
        return MIG_UNSUPPORTED
    current = modes[0]
    enable = getattr(nvml.nv, "NVML_DEVICE_MIG_ENABLE", 1)
    return MIG_ENABLED if current == enable else MIG_DISABLED


def _read_migs(nvml: Nvml, handle, gpu_index: int, notes: list[str]) -> list[MigInstance]:
    what = f"GPU {gpu_index}"
    slots = nvml.call("nvmlDeviceGetMaxMigDeviceCount", handle, what=what)
    if slots is None:
        raise HardwareError(f"NVML reports MIG enabled on GPU {gpu_index} but cannot count "
                            "its MIG devices", hint=_DEFAULT_HINT)
    found = []
    for slot in range(slots):
        mig = nvml.call("nvmlDeviceGetMigDeviceHandleByIndex", handle, slot,
                        what=f"{what}, {slot}", none_on=("NotFound",))
        if mig is not None:  # NotFound: no MIG device at this index
            found.append(_read_mig(nvml, handle, mig, gpu_index, slot, notes))
    return found


def _read_mig(nvml: Nvml, parent, mig, gpu_index: int, slot: int, notes: list[str]) -> MigInstance:
    what = f"MIG device {gpu_index}:{slot}"
    uuid = _text(nvml.call("nvmlDeviceGetUUID", mig, what=what, none_on=()))
    total, used = _memory(nvml, mig, what)
    gi = nvml.call("nvmlDeviceGetGpuInstanceId", mig, what=what)
    ci = nvml.call("nvmlDeviceGetComputeInstanceId", mig, what=what)
    profile = _profile(nvml, parent, mig, gi, what)
    if profile is None:
        notes.append(f"NVML: cannot tell the MIG profile of {what} ({uuid})")
        profile = "unknown"
    return MigInstance(
        gpu_index=gpu_index,
        index=slot,
        profile=profile,
        uuid=uuid,
        memory_total_mib=total,
        memory_used_mib=used,
        utilization=_utilization(nvml, mig, what),
        gi=gi,
        ci=ci,
    )


def _profile(nvml: Nvml, parent, mig, gi: int | None, what: str) -> str | None:
    """The profile from the MIG device's name ("... MIG 2g.20gb"), else from its GPU instance."""
    name = nvml.call("nvmlDeviceGetName", mig, what=what)
    match = _PROFILE_IN_NAME.search(_text(name)) if name is not None else None
    if match:
        return match.group("profile")
    if gi is None:
        return None
    instance = nvml.call("nvmlDeviceGetGpuInstanceById", parent, gi, what=f"{what}, GI {gi}")
    info = nvml.call("nvmlGpuInstanceGetInfo", instance, what=what) if instance else None
    if info is None:
        return None
    profile_info = nvml.call("nvmlDeviceGetGpuInstanceProfileInfoById", parent, info.profileId,
                             what=f"{what}, profile {info.profileId}")
    label = _text(getattr(profile_info, "name", b"")) if profile_info is not None else ""
    match = _PROFILE_IN_NAME.search(label)
    return match.group("profile") if match else None
