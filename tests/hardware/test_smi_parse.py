"""The nvidia-smi parsers on our own captures, written in the formats real drivers print."""

from __future__ import annotations

import pytest

from ds01.errors import HardwareError
from ds01.hardware import smi
from tests.hardware.conftest import capture

# -- nvidia-smi -L -----------------------------------------------------------------------


def test_list_note_server():
    gpus = smi.parse_list(capture("list-note-server.txt"))
    assert [g.index for g in gpus] == [0, 1, 2, 3]
    assert [len(g.instances) for g in gpus] == [0, 4, 4, 4]
    assert {g.name for g in gpus} == {"NVIDIA A100-SXM4-80GB"}
    assert gpus[0].uuid == "GPU-81c37bab-b745-4e3a-93d6-1238c8881649"
    last = gpus[3].instances[3]
    assert (last.id, last.profile, last.uuid) == (
        "3:3", "1g.10gb", "MIG-90ce8cc3-51d9-4d69-92fe-175f1b806726")
    assert [m.profile for m in gpus[1].instances] == ["2g.20gb"] * 3 + ["1g.10gb"]


def test_list_mig_memory_from_profile_and_unknowns_stay_none():
    mig = smi.parse_list(capture("list-note-server.txt"))[1].instances[0]
    assert mig.memory_total_mib == 20 * 1024
    assert mig.memory_used_mib is None and mig.utilization is None
    assert mig.gi is None and mig.ci is None  # new-style UUIDs do not carry them


def test_list_crlf_and_leading_spaces():
    text = capture("list-crlf-leading-space.txt")
    assert "\r\n" in text and text.startswith(" GPU 0:")
    (gpu,) = smi.parse_list(text)
    assert gpu.name == "NVIDIA H100 80GB HBM3"
    assert gpu.uuid == "GPU-c41f7a09-2e6b-4d83-95a0-b7e3d1f80c52"
    assert [m.profile for m in gpu.instances] == ["3g.40gb", "2g.20gb", "1g.10gb"]
    assert gpu.instances[2].uuid == "MIG-f0a3d7b6-9c15-5e82-8b4d-2a6e0f1c9d37"


def test_list_single_space_form():
    (gpu,) = smi.parse_list(capture("list-single-space-r450.txt"))
    assert gpu.name == "A100-SXM4-40GB"
    assert [(m.index, m.profile) for m in gpu.instances] == [
        (0, "3g.20gb"), (1, "2g.10gb"), (2, "1g.5gb")]
    assert gpu.instances[2].memory_total_mib == 5 * 1024


def test_list_legacy_uuids_give_gi_and_ci():
    gpus = smi.parse_list(capture("list-legacy-uuid-r450.txt"))
    first = gpus[0].instances
    assert [(m.gi, m.ci) for m in first] == [(1, 0), (7, 0), (13, 0)]
    assert first[1].uuid == "MIG-GPU-2c7a1a3e-93b0-44bb-8d4a-5e7bbf0f6c21/7/0"
    second = gpus[1].instances
    assert [(m.profile, m.gi, m.ci) for m in second] == [
        ("1c.7g.40gb", 0, 0), ("2c.7g.40gb", 0, 1)]


def test_list_compute_instance_and_media_profiles():
    (gpu,) = smi.parse_list(capture("list-ci-and-me-profiles.txt"))
    assert [m.profile for m in gpu.instances] == [
        "1c.3g.40gb", "1c.3g.40gb", "1c.3g.40gb", "1g.10gb+me", "1g.10gb"]
    # a compute instance shares its GPU instance's memory: the profile names that memory
    assert gpu.instances[0].memory_total_mib == 40 * 1024
    assert gpu.instances[3].memory_total_mib == 10 * 1024


def test_list_names_with_spaces_and_parentheses():
    gpus = smi.parse_list(capture("list-name-parens.txt"))
    assert gpus[0].name == "NVIDIA Graphics Device (PG506 engineering sample)"
    assert gpus[0].uuid == "GPU-4a1e7c2b-6d90-4e35-b8f1-c27d05a3e96f"
    assert gpus[1].name == "NVIDIA RTX A6000"


def test_list_without_mig_devices():
    gpus = smi.parse_list(capture("list-t4.txt"))
    assert [(g.index, g.name, g.instances) for g in gpus] == [
        (0, "Tesla T4", ()), (1, "Tesla T4", ())]


def test_list_unreachable_gpu_is_reported_not_dropped():
    scan = smi.scan_list(capture("list-lost-gpu.txt"))
    assert [g.index for g in scan.gpus] == [0, 2]
    assert len(scan.unreachable) == 1 and "GPU is lost" in scan.unreachable[0]
    assert "0000:47:00.0" in scan.unreachable[0]


def test_list_with_every_gpu_unreachable_is_an_error():
    with pytest.raises(HardwareError) as info:
        smi.parse_list(capture("list-all-lost.txt"))
    assert "Unknown Error" in info.value.message and "reboot" in info.value.hint


def test_list_empty_output_is_no_gpus():
    assert smi.parse_list("") == [] and smi.parse_list("\n\r\n") == []


@pytest.mark.parametrize(
    "name, line, words",
    [
        ("bad-default-table.txt", 1, "neither a GPU nor a MIG device"),
        ("bad-mig-before-gpu.txt", 1, "before any GPU"),
        ("bad-duplicate-gpu.txt", 2, "GPU 0 listed twice"),
        ("bad-duplicate-mig.txt", 3, "MIG device 0 listed twice"),
        ("bad-profile.txt", 2, "MIG profile '2x.20gb'"),
        ("bad-truncated.txt", 2, "neither a GPU nor a MIG device"),
    ],
)
def test_list_unexpected_format_names_the_line(name, line, words):
    with pytest.raises(HardwareError) as info:
        smi.parse_list(capture(name))
    assert f"line {line} " in info.value.message and words in info.value.message
    assert info.value.hint


# -- error output ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, words, hint_words",
    [
        ("error-driver-library-mismatch.txt",
         "Failed to initialize NVML: Driver/library version mismatch", "reboot"),
        ("error-driver-library-mismatch-two-lines.txt", "NVML library version: 575.51", "reboot"),
        ("error-no-devices-were-found.txt", "No devices were found", "dmesg"),
        ("error-insufficient-permissions.txt", "Insufficient Permissions", "/dev/nvidia"),
        ("error-cannot-communicate-with-driver.txt",
         "couldn't communicate with the NVIDIA driver", "lsmod"),
        ("error-nvml-unknown-error.txt", "Failed to initialize NVML: Unknown Error", "dmesg"),
    ],
)
def test_error_output_quotes_nvidia_smi_and_hints(name, words, hint_words):
    for parse in (smi.parse_list, smi.parse_query):
        with pytest.raises(HardwareError) as info:
            parse(capture(name))
        assert words in info.value.message
        assert hint_words in info.value.hint


# -- --query-gpu csv --------------------------------------------------------------------------


def test_query_noheader_nounits():
    rows = smi.parse_query(capture("query-note-server.csv"), smi.QUERY_FIELDS)
    assert len(rows) == 4
    assert rows[0] == {
        "index": "0", "uuid": "GPU-81c37bab-b745-4e3a-93d6-1238c8881649",
        "name": "NVIDIA A100-SXM4-80GB", "memory.total": "81920", "memory.used": "1203",
        "utilization.gpu": "35", "mig.mode.current": "Disabled",
    }
    assert rows[1]["utilization.gpu"] is None and rows[1]["mig.mode.current"] == "Enabled"


def test_query_with_header_strips_units():
    with_header = smi.parse_query(capture("query-note-server-header.csv"), smi.QUERY_FIELDS)
    plain = smi.parse_query(capture("query-note-server.csv"), smi.QUERY_FIELDS)
    assert with_header == plain
    assert smi.parse_query(capture("query-note-server-header.csv"), None) == plain


def test_query_header_for_other_fields_is_refused():
    with pytest.raises(HardwareError) as info:
        smi.parse_query(capture("bad-query-wrong-header.csv"), smi.QUERY_FIELDS)
    assert "line 1 " in info.value.message and "memory.free" in info.value.message


def test_query_without_header_or_fields_is_refused():
    with pytest.raises(HardwareError, match="no header line"):
        smi.parse_query(capture("query-note-server.csv"), None)


def test_query_unknown_values_are_none():
    rows = smi.parse_query(capture("query-t4-unknown-values.csv"))
    assert rows[0]["mig.mode.current"] is None
    assert rows[0]["utilization.gpu"] == "0"  # a real zero stays a zero
    second = rows[1]
    assert second["memory.total"] is None  # [Not Supported]
    assert second["memory.used"] is None  # [Requested functionality has been deprecated]
    assert second["utilization.gpu"] is None  # N/A
    assert smi.ROW_ERROR not in second


@pytest.mark.parametrize(
    "name, index, words",
    [("query-note-server-gpu3-lost.csv", 3, "GPU is lost"),
     ("query-note-server-gpu0-unknown-error.csv", 0, "Unknown Error")],
)
def test_query_lost_gpu_row_carries_the_words(name, index, words):
    rows = smi.parse_query(capture(name))
    row = rows[index]
    assert row[smi.ROW_ERROR] == words
    assert row["memory.total"] is None and row["memory.used"] is None
    assert all(smi.ROW_ERROR not in r for i, r in enumerate(rows) if i != index)


def test_query_unreachable_line_is_an_error_row():
    rows = smi.parse_query(capture("query-lost-gpu.csv"))
    assert [r["index"] for r in rows] == ["0", None, "2"]
    assert "GPU is lost" in rows[1][smi.ROW_ERROR]


def test_query_wrong_number_of_values_names_the_line():
    with pytest.raises(HardwareError) as info:
        smi.parse_query(capture("bad-query-columns.csv"))
    assert "line 2 " in info.value.message and "5 values for 7 fields" in info.value.message


def test_query_crlf():
    text = capture("query-note-server.csv").replace("\n", "\r\n")
    assert smi.parse_query(text) == smi.parse_query(capture("query-note-server.csv"))


def test_profile_helpers():
    assert smi.profile_memory_mib("2g.20gb") == 20480
    assert smi.profile_memory_mib("1c.3g.40gb") == 40960
    assert smi.profile_memory_mib("1g.10gb+me") == 10240
    assert smi.profile_memory_mib("7g.80gb") == 81920
    assert smi.profile_memory_mib("2g") is None
    assert smi.profile_memory_mib("20gb") is None
    assert not smi.is_profile("MIG 2g.20gb")
