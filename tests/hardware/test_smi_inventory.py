"""smi.read_inventory: -L merged with --query-gpu, through a replaying runner and through the
fake nvidia-smi executable on PATH (the default runner, a real subprocess)."""

from __future__ import annotations

import pytest

from ds01.errors import HardwareError
from ds01.hardware import smi
from ds01.hardware.model import MIG_DISABLED, MIG_ENABLED, MIG_UNSUPPORTED
from tests.hardware.conftest import Replay


def test_note_server_merged():
    runner = Replay("list-note-server.txt", "query-note-server.csv")
    inv = smi.read_inventory(runner)
    assert runner.calls == [smi.LIST_ARGS, smi.QUERY_ARGS]
    assert inv.source == "nvidia-smi" and inv.warnings == ()
    gpu0, gpu1 = inv.gpus[0], inv.gpus[1]
    assert (gpu0.mig, gpu0.memory_total_mib, gpu0.memory_used_mib, gpu0.utilization) == (
        MIG_DISABLED, 81920, 1203, 35.0)
    assert gpu0.instances == ()
    assert gpu1.mig == MIG_ENABLED and gpu1.utilization is None
    assert [m.id for m in gpu1.instances] == ["1:0", "1:1", "1:2", "1:3"]
    assert all(m.memory_used_mib is None and m.utilization is None
               for g in inv.gpus for m in g.instances)
    assert not any(g.lost for g in inv.gpus)


def test_query_order_arguments_are_exactly_the_documented_ones():
    assert smi.LIST_ARGS == ["-L"]
    assert smi.QUERY_ARGS == [
        "--query-gpu=index,uuid,name,memory.total,memory.used,utilization.gpu,mig.mode.current",
        "--format=csv,noheader,nounits",
    ]


def test_mig_enabled_without_instances_is_kept_empty():
    inv = smi.read_inventory(Replay("list-mig-enabled-empty.txt", "query-mig-enabled-empty.csv"))
    (gpu,) = inv.gpus
    assert gpu.mig == MIG_ENABLED and gpu.instances == () and not gpu.lost


def test_not_mig_capable_and_unknown_values():
    inv = smi.read_inventory(Replay("list-t4.txt", "query-t4-unknown-values.csv"))
    assert [g.mig for g in inv.gpus] == [MIG_UNSUPPORTED, MIG_UNSUPPORTED]
    assert inv.gpus[0].utilization == 0.0  # reported zero
    assert (inv.gpus[1].memory_total_mib, inv.gpus[1].memory_used_mib,
            inv.gpus[1].utilization) == (None, None, None)  # unknown, never 0


@pytest.mark.parametrize(
    "query, index, words",
    [("query-note-server-gpu3-lost.csv", 3, "GPU is lost"),
     ("query-note-server-gpu0-unknown-error.csv", 0, "Unknown Error")],
)
def test_lost_gpu_row_marks_that_gpu_lost(query, index, words):
    inv = smi.read_inventory(Replay("list-note-server.txt", query))
    lost = [g for g in inv.gpus if g.lost]
    assert [g.index for g in lost] == [index]
    assert lost[0].error == words
    assert lost[0].memory_used_mib is None
    assert len(inv.gpus) == 4


def test_unreachable_gpu_is_a_warning_and_others_are_read():
    runner = Replay("list-lost-gpu.txt", "query-lost-gpu.csv", list_rc=15, query_rc=15)
    inv = smi.read_inventory(runner)
    assert [g.index for g in inv.gpus] == [0, 2]
    assert not any(g.lost for g in inv.gpus)
    assert len(inv.warnings) == 2 and all("0000:47:00.0" in w for w in inv.warnings)


def test_mig_disabled_with_mig_devices_listed_is_an_error():
    with pytest.raises(HardwareError, match="GPU 2 has MIG disabled but -L lists 4"):
        smi.read_inventory(Replay("list-note-server.txt", "query-note-server-gpu2-disabled.csv"))


def test_uuid_mismatch_between_calls_is_an_error():
    with pytest.raises(HardwareError) as info:
        smi.read_inventory(Replay("list-note-server.txt", "query-note-server-uuid-changed.csv"))
    assert "GPU 1" in info.value.message and "try again" in info.value.hint


def test_gpu_missing_from_query_is_lost():
    inv = smi.read_inventory(Replay("list-note-server.txt", "query-note-server-missing-gpu3.csv"))
    assert [g.index for g in inv.gpus if g.lost] == [3]
    assert "missing from --query-gpu" in inv.gpus[3].error
    assert len(inv.gpus[3].instances) == 4  # still reported, never allocatable


def test_gpu_only_in_query_is_lost():
    inv = smi.read_inventory(Replay("list-t4.txt", "query-t4-third-gpu-lost.csv"))
    assert [(g.index, g.lost) for g in inv.gpus] == [(0, False), (1, False), (2, True)]
    assert inv.gpus[2].error == "GPU is lost" and inv.gpus[2].uuid == "unknown"


def test_bad_numbers_and_mig_mode_are_errors():
    with pytest.raises(HardwareError, match="memory.total is '80 GiB'"):
        smi.read_inventory(Replay("list-note-server.txt", "bad-query-not-a-number.csv"))
    with pytest.raises(HardwareError, match="'Pending'"):
        smi.read_inventory(Replay("list-note-server.txt", "bad-query-mig-mode.csv"))


def test_number_cells():
    row = {"memory.total": "81920", "utilization.gpu": "12.5", "memory.used": None,
           "index": "1.5", "util": "busy"}
    assert (smi._int(row, "memory.total"), smi._float(row, "utilization.gpu")) == (81920, 12.5)
    assert smi._int(row, "memory.used") is None and smi._float(row, "memory.used") is None
    with pytest.raises(HardwareError, match="index is '1.5', not a whole number"):
        smi._int(row, "index")
    with pytest.raises(HardwareError, match="util is 'busy', not a number") as info:
        smi._float(row, "util")
    assert info.value.hint


@pytest.mark.parametrize(
    "listing, words",
    [
        ("error-driver-library-mismatch.txt", "Driver/library version mismatch"),
        ("error-driver-library-mismatch-two-lines.txt", "NVML library version: 575.51"),
        ("error-no-devices-were-found.txt", "No devices were found"),
        ("error-insufficient-permissions.txt", "Insufficient Permissions"),
        ("error-cannot-communicate-with-driver.txt", "couldn't communicate"),
    ],
)
def test_failing_nvidia_smi_is_a_hardware_error(listing, words):
    runner = Replay(listing, list_rc=255)
    with pytest.raises(HardwareError) as info:
        smi.read_inventory(runner)
    assert words in info.value.message and info.value.hint
    assert runner.calls == [smi.LIST_ARGS]  # nothing else was tried


def test_nonzero_exit_with_unknown_words_is_an_error_quoting_them():
    runner = Replay("list-note-server.txt", list_rc=6, stderr="Something odd happened\n")
    with pytest.raises(HardwareError) as info:
        smi.read_inventory(runner)
    assert "exit status 6" in info.value.message
    assert "Something odd happened" in info.value.message


def test_garbage_output_is_an_error_not_devices():
    with pytest.raises(HardwareError, match="line 1 "):
        smi.read_inventory(Replay("bad-default-table.txt", "query-note-server.csv"))


def test_no_gpus_listed_is_an_error():
    with pytest.raises(HardwareError, match="listed no GPUs"):
        smi.read_inventory(lambda args: (0, "", ""))


# -- the default runner, with the fake nvidia-smi executable on PATH -------------------------


def test_default_runner_with_fake_executable(fake_smi_on_path):
    fake_smi_on_path("list-note-server.txt", "query-note-server.csv")
    inv = smi.read_inventory()
    assert [len(g.instances) for g in inv.gpus] == [0, 4, 4, 4]
    assert inv.gpus[0].memory_used_mib == 1203


def test_default_runner_error_file_exits_nonzero(fake_smi_on_path):
    fake_smi_on_path("error-driver-library-mismatch-two-lines.txt")
    assert smi.default_runner(["-L"])[0] == 255
    with pytest.raises(HardwareError) as info:
        smi.read_inventory()
    assert "Driver/library version mismatch" in info.value.message
    assert "reboot" in info.value.hint


def test_default_runner_unexpected_exit_status(fake_smi_on_path):
    fake_smi_on_path("list-note-server.txt", "query-note-server.csv", rc="9")
    with pytest.raises(HardwareError, match="exit status 9"):
        smi.read_inventory()


def test_default_runner_refuses_other_arguments(fake_smi_on_path):
    fake_smi_on_path("list-note-server.txt")
    code, _, err = smi.default_runner(["-q"])
    assert code == 2 and "unexpected arguments" in err


def test_default_runner_timeout(fake_smi_on_path, monkeypatch):
    fake_smi_on_path("list-note-server.txt", sleep="5")
    monkeypatch.setattr(smi, "TIMEOUT_S", 0.3)
    with pytest.raises(HardwareError, match="did not answer within 0.3 s"):
        smi.read_inventory()


def test_missing_binary(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(HardwareError) as info:
        smi.read_inventory()
    assert info.value.message == "nvidia-smi not found on PATH"
    assert "--hardware FILE" in info.value.hint
