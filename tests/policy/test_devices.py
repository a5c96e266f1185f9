"""Contract section 1: which devices a server has, and the server's mode."""

from __future__ import annotations

from ds01.config.model import GpuSettings
from ds01.hardware.model import MIG_UNSUPPORTED, Gpu
from ds01.policy.devices import MODE_MIG, MODE_WHOLE_GPU, flatten, server_mode
from ds01.policy.model import KIND_GPU, KIND_MIG

from .builders import inventory, mig, mig_empty, standard_server, whole


def test_standard_server_devices():
    devices = flatten(standard_server(), GpuSettings())
    assert [d.id for d in devices][:6] == ["0", "1:0", "1:1", "1:2", "1:3", "2:0"]
    assert len(devices) == 13
    gpu0, first = devices[0], devices[1]
    assert (gpu0.kind, gpu0.units, gpu0.profile) == (KIND_GPU, 4, None)
    assert gpu0.uuid == "GPU-00000000-test"
    assert (first.kind, first.units, first.gpu, first.profile) == (KIND_MIG, 1, 1, "1g.10gb")
    assert first.uuid == "MIG-0001-0000-test" and first.name == "NVIDIA A100-SXM4-40GB"
    assert all(d.allocatable and d.warning is None for d in devices)
    assert server_mode(devices) == MODE_MIG


def test_natural_order_and_units_per_gpu():
    inv = inventory(mig(10, 2), whole(2), mig(3, 3))
    devices = flatten(inv, GpuSettings(units_per_gpu=7))
    assert [d.id for d in devices] == ["2", "3:0", "3:1", "3:2", "10:0", "10:1"]
    assert devices[0].units == 7


def test_mig_enabled_gpu_contributes_instances_not_itself():
    devices = flatten(inventory(mig(1, 2)), GpuSettings())
    assert [d.id for d in devices] == ["1:0", "1:1"]


def test_mig_enabled_without_instances_is_one_unallocatable_gpu():
    devices = flatten(inventory(whole(0), mig_empty(1)), GpuSettings())
    assert [d.id for d in devices] == ["0", "1"]
    empty = devices[1]
    assert empty.kind == KIND_GPU and not empty.allocatable
    assert empty.warning.startswith("MIG is enabled on GPU 1 but no instances exist")
    assert "hint: create instances with nvidia-smi mig -i 1 -cgi" in empty.warning
    assert "disable MIG" in empty.warning
    assert server_mode(devices) == MODE_WHOLE_GPU


def test_not_mig_capable_gpu_is_whole():
    g = Gpu(index=0, name="Tesla V100", uuid="GPU-v100", mig=MIG_UNSUPPORTED,
            memory_total_mib=16384, memory_used_mib=4096, utilization=12.0)
    (d,) = flatten(inventory(g), GpuSettings())
    assert d.kind == KIND_GPU and d.allocatable and d.memory_fraction == 0.25
    assert d.utilization == 12.0


def test_lost_gpu_is_listed_not_allocatable():
    lost_whole = Gpu(index=0, name="A100", uuid="GPU-a", lost=True, error="GPU is lost")
    devices = flatten(inventory(lost_whole, mig(1, 2, lost=True), whole(2)), GpuSettings())
    by_id = {d.id: d for d in devices}
    assert not by_id["0"].allocatable and "GPU 0 is lost: GPU is lost" in by_id["0"].warning
    assert not by_id["1:0"].allocatable and not by_id["1:1"].allocatable
    assert "GPU 1 is lost" in by_id["1:1"].warning and "hint:" in by_id["1:1"].warning
    assert by_id["2"].allocatable


def test_error_without_loss_is_shown_but_allocatable():
    g = Gpu(index=0, name="A100", uuid="GPU-a", error="utilization not readable")
    (d,) = flatten(inventory(g), GpuSettings())
    assert d.allocatable and d.warning == "utilization not readable"


def test_server_mode():
    assert server_mode(()) == MODE_WHOLE_GPU
    assert server_mode(flatten(inventory(whole(0), whole(1)), GpuSettings())) == MODE_WHOLE_GPU
    lost = flatten(inventory(mig(0, 1, lost=True)), GpuSettings())
    assert server_mode(lost) == MODE_MIG  # the instances exist, though unusable now


def test_every_warning_names_its_problem():
    """Displays mark devices by Device.problem, never by parsing the warning's wording."""
    from ds01.config.model import GpuSettings
    from ds01.hardware.model import Gpu, Inventory, MigInstance
    from ds01.policy.devices import flatten
    from ds01.policy.model import PROBLEM_ERROR, PROBLEM_LOST, PROBLEM_NO_INSTANCES

    inst = MigInstance(gpu_index=3, index=0, profile="1g.10gb", uuid="MIG-x")
    inv = Inventory(gpus=(
        Gpu(0, "A100", "GPU-0", mig="disabled"),
        Gpu(1, "A100", "GPU-1", mig="enabled"),
        Gpu(2, "A100", "GPU-2", mig="disabled", lost=True, error="GPU is lost"),
        Gpu(3, "A100", "GPU-3", mig="enabled", instances=(inst,), lost=True),
        Gpu(4, "A100", "GPU-4", mig="disabled", error="utilization unreadable"),
    ), source="test")
    problems = {d.id: d.problem for d in flatten(inv, GpuSettings())}
    assert problems == {"0": None, "1": PROBLEM_NO_INSTANCES, "2": PROBLEM_LOST,
                        "3:0": PROBLEM_LOST, "4": PROBLEM_ERROR}
    assert all((d.problem is None) == (d.warning is None) for d in flatten(inv, GpuSettings()))
