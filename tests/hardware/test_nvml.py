"""The NVML source against the fake pynvml scenarios (modelled on real failures)."""

from __future__ import annotations

import pytest

from ds01.errors import HardwareError
from ds01.hardware import nvml
from ds01.hardware.model import MIG_DISABLED, MIG_ENABLED, MIG_UNSUPPORTED
from tests.fakes import fake_pynvml


def read(name: str):
    fake = fake_pynvml.scenario(name)
    return nvml.read_inventory(fake), fake


def test_mixed_a100_server():
    inv, fake = read("a100-80gb-mixed")
    assert inv.source == "nvml" and inv.warnings == ()
    assert [g.mig for g in inv.gpus] == [MIG_DISABLED, MIG_ENABLED, MIG_ENABLED, MIG_ENABLED]
    assert [len(g.instances) for g in inv.gpus] == [0, 3, 3, 3]
    gpu0 = inv.gpus[0]
    assert (gpu0.name, gpu0.memory_total_mib, gpu0.memory_used_mib, gpu0.utilization) == (
        "NVIDIA A100-SXM4-80GB", 81920, 4, 0.0)
    mig = inv.gpus[2].instances[1]
    assert (mig.id, mig.profile, mig.memory_total_mib, mig.memory_used_mib) == (
        "2:1", "2g.20gb", 19968, 13)
    assert (mig.gi, mig.ci) == (4, 0)
    assert mig.uuid == fake.gpus[2].migs[1].uuid
    assert fake.shutdowns == 1 and fake.initialized == 0


def test_note_server_profiles_in_device_order():
    inv, _ = read("note-server")
    assert [m.profile for m in inv.gpus[3].instances] == ["2g.20gb"] * 3 + ["1g.10gb"]
    assert [m.id for m in inv.gpus[3].instances] == ["3:0", "3:1", "3:2", "3:3"]


def test_utilization_not_supported_under_mig_is_unknown():
    inv, _ = read("mig-util-not-supported")
    (gpu,) = inv.gpus
    assert gpu.utilization is None  # the parent under MIG: Not Supported
    assert [m.utilization for m in gpu.instances] == [None, None]
    assert [m.memory_used_mib for m in gpu.instances] == [4188, 13]  # NVML does report these


def test_mig_enabled_with_no_instances_invents_nothing():
    inv, fake = read("mig-enabled-empty")
    (gpu,) = inv.gpus
    assert gpu.mig == MIG_ENABLED and gpu.instances == ()
    assert fake.calls.count("nvmlDeviceGetMigDeviceHandleByIndex") == 7  # every slot: NotFound


def test_sparse_mig_slots_keep_nvml_indexes():
    inv, _ = read("sparse-mig-slots")
    assert [(m.id, m.profile) for m in inv.gpus[0].instances] == [
        ("0:0", "3g.40gb"), ("0:2", "2g.20gb")]


def test_profile_from_gpu_instance_when_the_name_lacks_it():
    inv, fake = read("profile-from-gi")
    assert [m.profile for m in inv.gpus[0].instances] == ["3g.40gb", "1g.10gb"]
    assert "nvmlDeviceGetGpuInstanceProfileInfoById" in fake.calls
    assert inv.warnings == ()


def test_not_mig_capable():
    inv, _ = read("not-mig-capable")
    (gpu,) = inv.gpus
    assert (gpu.mig, gpu.utilization, gpu.memory_used_mib) == (MIG_UNSUPPORTED, 37.0, 1200)


def test_gpu_lost_on_one_device_keeps_the_others():
    inv, fake = read("gpu-lost")
    lost = inv.gpus[2]
    assert lost.lost and "GPU is lost" in lost.error
    assert lost.name == "NVIDIA A100-SXM4-80GB" and lost.uuid == fake.gpus[2].uuid
    assert lost.instances == () and lost.memory_used_mib is None
    assert [g.lost for g in inv.gpus] == [False, False, True, False]
    assert [len(g.instances) for g in inv.gpus] == [0, 3, 0, 3]
    assert any("GPU is lost" in w for w in inv.warnings)
    assert fake.shutdowns == 1


def test_unknown_error_on_handle_marks_that_gpu_lost():
    inv, _ = read("handle-unknown-error")
    gpu = inv.gpus[1]
    assert gpu.lost and "Unknown Error" in gpu.error and gpu.uuid == "unknown"
    assert [g.lost for g in inv.gpus] == [False, True, False, False]


@pytest.mark.parametrize(
    "name, words, hint_words",
    [
        ("driver-mismatch", "NVML/RM version mismatch", "reboot"),
        ("library-not-found", "NVML Shared Library Not Found", "libnvidia-ml.so.1"),
        ("driver-not-loaded", "Driver Not Loaded", "modprobe"),
    ],
)
def test_init_failures(name, words, hint_words):
    fake = fake_pynvml.scenario(name)
    with pytest.raises(HardwareError) as info:
        nvml.read_inventory(fake)
    assert info.value.message.startswith("NVML could not start")
    assert words in info.value.message and hint_words in info.value.hint
    assert fake.calls == ["nvmlInit"]  # nothing else, and no shutdown of what never started


def test_other_errors_are_hardware_errors_and_still_shut_down():
    fake = fake_pynvml.scenario("no-permission")
    with pytest.raises(HardwareError) as info:
        nvml.read_inventory(fake)
    assert "nvmlDeviceGetMemoryInfo(GPU 0)" in info.value.message
    assert "Insufficient Permissions" in info.value.message and "/dev/nvidia" in info.value.hint
    assert fake.shutdowns == 1


def test_no_gpus_is_an_error():
    fake = fake_pynvml.scenario("no-gpus")
    with pytest.raises(HardwareError, match="NVML found no GPUs"):
        nvml.read_inventory(fake)
    assert fake.shutdowns == 1


def test_shutdown_failure_after_a_good_read_is_a_warning():
    inv, fake = read("shutdown-fails")
    assert len(inv.gpus) == 4
    assert inv.warnings == ("NVML nvmlShutdown() failed: Unknown Error",)


def test_every_call_goes_through_the_wrapper():
    """A fake whose every function fails with an unexpected NVML error: never a raw NVMLError."""
    fake = fake_pynvml.scenario("a100-80gb-mixed")
    for name in ("nvmlDeviceGetName", "nvmlDeviceGetUUID", "nvmlDeviceGetMigMode",
                 "nvmlDeviceGetMaxMigDeviceCount"):
        fake.gpus[1].errors = {name: fake_pynvml.NVML_ERROR_NO_PERMISSION}
        with pytest.raises(HardwareError, match=name):
            nvml.read_inventory(fake)
    fake.gpus[1].errors = {"mig:nvmlDeviceGetGpuInstanceId": fake_pynvml.NVML_ERROR_NO_PERMISSION}
    with pytest.raises(HardwareError, match="nvmlDeviceGetGpuInstanceId"):
        nvml.read_inventory(fake)
    assert fake.initialized == 0


def test_not_supported_values_become_none():
    fake = fake_pynvml.scenario("a100-80gb-mixed")
    fake.gpus[0].errors = {"nvmlDeviceGetMemoryInfo": fake_pynvml.NVML_ERROR_NOT_SUPPORTED,
                           "nvmlDeviceGetUtilizationRates": fake_pynvml.NVML_ERROR_NOT_SUPPORTED}
    gpu = nvml.read_inventory(fake).gpus[0]
    assert (gpu.memory_total_mib, gpu.memory_used_mib, gpu.utilization) == (None, None, None)


def test_real_pynvml_without_a_driver_is_a_hardware_error():
    """The installed nvidia-ml-py (a dependency) without libnvidia-ml: a clean error."""
    try:
        inv = nvml.read_inventory()
    except HardwareError as exc:
        assert exc.message.startswith("NVML could not start")
        assert exc.hint
    else:  # a machine with a real GPU
        assert inv.gpus and inv.source == "nvml"
