"""A stand-in for the ``pynvml`` module (nvidia-ml-py): the subset ds01 calls, no driver needed.

``scenario(name)`` returns a fresh fake module object for one named situation, each modelled on
something real GPU servers do: a driver/library mismatch after an upgrade, a GPU that fell off
the bus, MIG switched on with nothing created, utilization "Not Supported" on MIG devices, the
mixed 4x A100-80GB server (GPU 0 whole, GPUs 1-3 at 3x 2g.20gb), and more.

The fake behaves like the bindings where it matters: errors are ``NVMLError`` subclasses named
``NVMLError_<Name>`` whose ``str()`` is NVML's text; calls before ``nvmlInit`` or after
``nvmlShutdown`` fail with ``Uninitialized``; memory is in bytes; MIG slots without a device
raise ``NotFound``. Every call is recorded in ``.calls``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

MIB = 1024 * 1024

NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18
NVML_ERROR_UNKNOWN = 999
NVML_DEVICE_MIG_DISABLE = 0
NVML_DEVICE_MIG_ENABLE = 1

_TEXT = {
    NVML_ERROR_UNINITIALIZED: "Uninitialized",
    NVML_ERROR_INVALID_ARGUMENT: "Invalid Argument",
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_NO_PERMISSION: "Insufficient Permissions",
    NVML_ERROR_NOT_FOUND: "Not Found",
    NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
    NVML_ERROR_GPU_IS_LOST: "GPU is lost",
    NVML_ERROR_LIB_RM_VERSION_MISMATCH: "RM has detected an NVML/RM version mismatch.",
    NVML_ERROR_UNKNOWN: "Unknown Error",
}


class NVMLError(Exception):
    """Base of the fake's errors; ``NVMLError(code)`` gives the matching subclass."""

    code = NVML_ERROR_UNKNOWN
    _by_code: dict[int, type] = {}

    def __new__(cls, value=None):
        if cls is NVMLError and value in NVMLError._by_code:
            cls = NVMLError._by_code[value]
        return Exception.__new__(cls)

    def __init__(self, value=None):
        super().__init__()
        self.value = self.code if value is None else value

    def __str__(self) -> str:
        return _TEXT.get(self.value, f"NVML Error with code {self.value}")


def _subclass(name: str, code: int) -> type:
    cls = type(f"NVMLError_{name}", (NVMLError,), {"code": code})
    NVMLError._by_code[code] = cls
    return cls


NVMLError_Uninitialized = _subclass("Uninitialized", NVML_ERROR_UNINITIALIZED)
NVMLError_InvalidArgument = _subclass("InvalidArgument", NVML_ERROR_INVALID_ARGUMENT)
NVMLError_NotSupported = _subclass("NotSupported", NVML_ERROR_NOT_SUPPORTED)
NVMLError_NoPermission = _subclass("NoPermission", NVML_ERROR_NO_PERMISSION)
NVMLError_NotFound = _subclass("NotFound", NVML_ERROR_NOT_FOUND)
NVMLError_DriverNotLoaded = _subclass("DriverNotLoaded", NVML_ERROR_DRIVER_NOT_LOADED)
NVMLError_LibraryNotFound = _subclass("LibraryNotFound", NVML_ERROR_LIBRARY_NOT_FOUND)
NVMLError_GpuIsLost = _subclass("GpuIsLost", NVML_ERROR_GPU_IS_LOST)
NVMLError_LibRmVersionMismatch = _subclass("LibRmVersionMismatch",
                                           NVML_ERROR_LIB_RM_VERSION_MISMATCH)
NVMLError_Unknown = _subclass("Unknown", NVML_ERROR_UNKNOWN)

# GPU instance profile ids as `nvidia-smi mig -lgip` shows them on an A100-80GB / H100.
PROFILE_IDS = {"1g.10gb": 19, "1g.10gb+me": 20, "1g.20gb": 15, "2g.20gb": 14, "3g.40gb": 9,
               "4g.40gb": 5, "7g.80gb": 0, "1g.5gb": 19, "2g.10gb": 14, "3g.20gb": 9}


@dataclass
class FakeMig:
    profile: str
    uuid: str
    memory_total_mib: int
    memory_used_mib: int = 13
    gi: int = 1
    ci: int = 0
    name: str | None = None  # None: "<GPU name> MIG <profile>", as the driver reports it
    errors: dict = field(default_factory=lambda: {"nvmlDeviceGetUtilizationRates":
                                                  NVML_ERROR_NOT_SUPPORTED})


@dataclass
class FakeGpu:
    name: str
    uuid: str
    memory_total_mib: int
    memory_used_mib: int = 0
    utilization: int = 0
    mig_mode: int | None = NVML_DEVICE_MIG_DISABLE  # None: not MIG-capable (Not Supported)
    migs: list = field(default_factory=list)  # FakeMig, or None for an empty slot
    max_migs: int = 7
    errors: dict = field(default_factory=dict)  # function name -> error code for this GPU


@dataclass(frozen=True)
class _Handle:
    gpu: int
    slot: int | None = None


class FakePynvml:
    """One fake module instance. Attribute access mirrors ``import pynvml``."""

    NVMLError = NVMLError
    NVMLError_Uninitialized = NVMLError_Uninitialized
    NVMLError_InvalidArgument = NVMLError_InvalidArgument
    NVMLError_NotSupported = NVMLError_NotSupported
    NVMLError_NoPermission = NVMLError_NoPermission
    NVMLError_NotFound = NVMLError_NotFound
    NVMLError_DriverNotLoaded = NVMLError_DriverNotLoaded
    NVMLError_LibraryNotFound = NVMLError_LibraryNotFound
    NVMLError_GpuIsLost = NVMLError_GpuIsLost
    NVMLError_LibRmVersionMismatch = NVMLError_LibRmVersionMismatch
    NVMLError_Unknown = NVMLError_Unknown
    NVML_DEVICE_MIG_DISABLE = NVML_DEVICE_MIG_DISABLE
    NVML_DEVICE_MIG_ENABLE = NVML_DEVICE_MIG_ENABLE

    def __init__(self, gpus: list[FakeGpu], *, init_error: int | None = None,
                 shutdown_error: int | None = None) -> None:
        self.gpus = gpus
        self.init_error = init_error
        self.shutdown_error = shutdown_error
        self.initialized = 0
        self.shutdowns = 0
        self.calls: list[str] = []

    # -- library --------------------------------------------------------------------
    def nvmlInit(self) -> None:
        self.calls.append("nvmlInit")
        if self.init_error is not None:
            raise NVMLError(self.init_error)
        self.initialized += 1

    def nvmlShutdown(self) -> None:
        self.calls.append("nvmlShutdown")
        self._ready()
        self.initialized -= 1
        self.shutdowns += 1
        if self.shutdown_error is not None:
            raise NVMLError(self.shutdown_error)

    def _ready(self) -> None:
        if self.initialized <= 0:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)

    def _enter(self, name: str, handle: _Handle | None = None):
        """Record the call; raise the error the scenario set for this device, if any."""
        self.calls.append(name)
        self._ready()
        if handle is None:
            return None
        gpu = self.gpus[handle.gpu]
        if handle.slot is None:
            code = gpu.errors.get(name)
            target = gpu
        else:
            target = gpu.migs[handle.slot]
            code = target.errors.get(name) or gpu.errors.get("mig:" + name)
        if code is not None:
            raise NVMLError(code)
        return target

    # -- devices --------------------------------------------------------------------
    def nvmlDeviceGetCount(self) -> int:
        self._enter("nvmlDeviceGetCount")
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> _Handle:
        self._enter("nvmlDeviceGetHandleByIndex")
        if not 0 <= index < len(self.gpus):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        code = self.gpus[index].errors.get("nvmlDeviceGetHandleByIndex")
        if code is not None:
            raise NVMLError(code)
        return _Handle(index)

    def nvmlDeviceGetName(self, handle: _Handle) -> str:
        target = self._enter("nvmlDeviceGetName", handle)
        if handle.slot is None:
            return target.name
        parent = self.gpus[handle.gpu].name
        return target.name if target.name is not None else f"{parent} MIG {target.profile}"

    def nvmlDeviceGetUUID(self, handle: _Handle) -> str:
        return self._enter("nvmlDeviceGetUUID", handle).uuid

    def nvmlDeviceGetMemoryInfo(self, handle: _Handle):
        target = self._enter("nvmlDeviceGetMemoryInfo", handle)
        total, used = target.memory_total_mib * MIB, target.memory_used_mib * MIB
        return SimpleNamespace(total=total, used=used, free=total - used)

    def nvmlDeviceGetUtilizationRates(self, handle: _Handle):
        target = self._enter("nvmlDeviceGetUtilizationRates", handle)
        gpu = self.gpus[handle.gpu]
        if handle.slot is None and gpu.mig_mode == NVML_DEVICE_MIG_ENABLE:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)  # as the driver does under MIG
        return SimpleNamespace(gpu=target.utilization, memory=0)

    def nvmlDeviceGetMigMode(self, handle: _Handle) -> list[int]:
        gpu = self._enter("nvmlDeviceGetMigMode", handle)
        if gpu.mig_mode is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return [gpu.mig_mode, gpu.mig_mode]

    def nvmlDeviceGetMaxMigDeviceCount(self, handle: _Handle) -> int:
        gpu = self._enter("nvmlDeviceGetMaxMigDeviceCount", handle)
        return gpu.max_migs if gpu.mig_mode is not None else 0

    def nvmlDeviceGetMigDeviceHandleByIndex(self, handle: _Handle, index: int) -> _Handle:
        gpu = self._enter("nvmlDeviceGetMigDeviceHandleByIndex", handle)
        if gpu.mig_mode != NVML_DEVICE_MIG_ENABLE:
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        if index >= gpu.max_migs:
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        if index >= len(gpu.migs) or gpu.migs[index] is None:
            raise NVMLError(NVML_ERROR_NOT_FOUND)
        return _Handle(handle.gpu, index)

    def nvmlDeviceGetGpuInstanceId(self, handle: _Handle) -> int:
        return self._mig(handle, "nvmlDeviceGetGpuInstanceId").gi

    def nvmlDeviceGetComputeInstanceId(self, handle: _Handle) -> int:
        return self._mig(handle, "nvmlDeviceGetComputeInstanceId").ci

    def _mig(self, handle: _Handle, name: str) -> FakeMig:
        target = self._enter(name, handle)
        if handle.slot is None:
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)  # not a MIG device handle
        return target

    # -- GPU instances (profile fallback) ------------------------------------------
    def nvmlDeviceGetGpuInstanceById(self, handle: _Handle, gi: int):
        gpu = self._enter("nvmlDeviceGetGpuInstanceById", handle)
        for mig in gpu.migs:
            if mig is not None and mig.gi == gi:
                return SimpleNamespace(gpu=handle.gpu, gi=gi, profile=mig.profile)
        raise NVMLError(NVML_ERROR_NOT_FOUND)

    def nvmlGpuInstanceGetInfo(self, instance):
        self._enter("nvmlGpuInstanceGetInfo")
        return SimpleNamespace(id=instance.gi, profileId=PROFILE_IDS[instance.profile])

    def nvmlDeviceGetGpuInstanceProfileInfoById(self, handle: _Handle, profile_id: int):
        gpu = self._enter("nvmlDeviceGetGpuInstanceProfileInfoById", handle)
        for mig in gpu.migs:
            if mig is not None and PROFILE_IDS.get(mig.profile) == profile_id:
                slices = int(mig.profile.split("g.")[0].split(".")[-1])
                return SimpleNamespace(id=profile_id, sliceCount=slices,
                                       memorySizeMB=mig.memory_total_mib,
                                       name=f"MIG {mig.profile}".encode())
        raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)


# -- scenarios -------------------------------------------------------------------------
A100_80 = "NVIDIA A100-SXM4-80GB"
A100_80_MIB = 81920
H100 = "NVIDIA H100 80GB HBM3"


def _uuid(kind: str, gpu: int, slot: int = 0xFFF) -> str:
    return f"{kind}-5a17e0c3-{gpu:04x}-4d2e-{slot:04x}-7c1f0b9e{gpu:02x}{slot % 256:02x}"


def _migs(gpu: int, profiles: list[str], **extra) -> list[FakeMig]:
    sizes = {"1g.10gb": 9984, "2g.20gb": 19968, "3g.40gb": 40192, "1g.5gb": 4864}
    return [
        FakeMig(profile=p, uuid=_uuid("MIG", gpu, j), memory_total_mib=sizes.get(p, 10240),
                gi=3 + j, ci=0, **extra)
        for j, p in enumerate(profiles)
    ]


def _a100(index: int, profiles: list[str] | None) -> FakeGpu:
    if profiles is None:
        return FakeGpu(A100_80, _uuid("GPU", index), A100_80_MIB, memory_used_mib=4,
                       utilization=0)
    return FakeGpu(A100_80, _uuid("GPU", index), A100_80_MIB, memory_used_mib=3 * len(profiles),
                   mig_mode=NVML_DEVICE_MIG_ENABLE, migs=_migs(index, profiles))


def _mixed() -> FakePynvml:
    """The hydra1-style server: GPU 0 whole, GPUs 1-3 with 3x 2g.20gb each."""
    return FakePynvml([_a100(0, None)] + [_a100(i, ["2g.20gb"] * 3) for i in (1, 2, 3)])


def _note_server() -> FakePynvml:
    profiles = ["2g.20gb", "2g.20gb", "2g.20gb", "1g.10gb"]
    return FakePynvml([_a100(0, None)] + [_a100(i, profiles) for i in (1, 2, 3)])


def _gpu_lost() -> FakePynvml:
    """GPU 2 fell off the bus: its handle and name still come back, its memory does not."""
    fake = _mixed()
    fake.gpus[2].errors["nvmlDeviceGetMemoryInfo"] = NVML_ERROR_GPU_IS_LOST
    return fake


def _handle_unknown_error() -> FakePynvml:
    """GPU 1 cannot even be opened ("Unable to determine the device handle ...: Unknown Error")."""
    fake = _mixed()
    fake.gpus[1].errors["nvmlDeviceGetHandleByIndex"] = NVML_ERROR_UNKNOWN
    return fake


def _mig_enabled_empty() -> FakePynvml:
    return FakePynvml([FakeGpu("NVIDIA A100-SXM4-40GB", _uuid("GPU", 0), 40960,
                               mig_mode=NVML_DEVICE_MIG_ENABLE, migs=[])])


def _mig_util_not_supported() -> FakePynvml:
    """H100 with 2x 1g.10gb: every utilization read under MIG answers Not Supported."""
    gpu = FakeGpu(H100, _uuid("GPU", 0), 81559, memory_used_mib=4225,
                  mig_mode=NVML_DEVICE_MIG_ENABLE, migs=_migs(0, ["1g.10gb", "1g.10gb"]))
    gpu.migs[0].memory_used_mib = 4188
    return FakePynvml([gpu])


def _sparse_slots() -> FakePynvml:
    """A compute instance was destroyed: slot 1 is empty, slots 0 and 2 hold devices."""
    gpu = _a100(0, ["3g.40gb", "2g.20gb", "2g.20gb"])
    gpu.migs[1] = None
    return FakePynvml([gpu])


def _profile_from_gi() -> FakePynvml:
    """MIG device names without the profile: it must come from the GPU instance's profile."""
    gpu = _a100(0, ["3g.40gb", "1g.10gb"])
    for mig in gpu.migs:
        mig.name = A100_80
    return FakePynvml([gpu])


def _not_mig_capable() -> FakePynvml:
    return FakePynvml([FakeGpu("Tesla T4", _uuid("GPU", 0), 15360, memory_used_mib=1200,
                               utilization=37, mig_mode=None)])


def _no_permission() -> FakePynvml:
    fake = _mixed()
    fake.gpus[0].errors["nvmlDeviceGetMemoryInfo"] = NVML_ERROR_NO_PERMISSION
    return fake


def _shutdown_fails() -> FakePynvml:
    fake = _mixed()
    fake.shutdown_error = NVML_ERROR_UNKNOWN
    return fake


SCENARIOS = {
    "a100-80gb-mixed": _mixed,
    "note-server": _note_server,
    "driver-mismatch": lambda: FakePynvml([], init_error=NVML_ERROR_LIB_RM_VERSION_MISMATCH),
    "library-not-found": lambda: FakePynvml([], init_error=NVML_ERROR_LIBRARY_NOT_FOUND),
    "driver-not-loaded": lambda: FakePynvml([], init_error=NVML_ERROR_DRIVER_NOT_LOADED),
    "no-gpus": lambda: FakePynvml([]),
    "gpu-lost": _gpu_lost,
    "handle-unknown-error": _handle_unknown_error,
    "mig-enabled-empty": _mig_enabled_empty,
    "mig-util-not-supported": _mig_util_not_supported,
    "sparse-mig-slots": _sparse_slots,
    "profile-from-gi": _profile_from_gi,
    "not-mig-capable": _not_mig_capable,
    "no-permission": _no_permission,
    "shutdown-fails": _shutdown_fails,
}


def scenario(name: str) -> FakePynvml:
    """A fresh fake pynvml module for the named scenario."""
    return SCENARIOS[name]()
