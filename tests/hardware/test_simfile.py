"""Hardware description files (simulated servers): valid files, each mistake with its line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ds01.errors import ConfigError, UsageError
from ds01.hardware import simfile
from ds01.hardware.model import MIG_DISABLED, MIG_ENABLED, MIG_UNSUPPORTED

REPO = Path(__file__).resolve().parents[2]

FULL = """\
description: a test server
gpus:
  - {index: 1, name: NVIDIA A100-SXM4-80GB, memory_mib: 81920, mig: enabled,
     memory_used_mib: 2048,
     instances: [2g.20gb,
                 {profile: 1g.10gb+me, uuid: MIG-11111111-2222-3333-4444-555555555555,
                  memory_used_mib: 5000, utilization: 42.5},
                 1c.3g.40gb]}
  - index: 0
    name: NVIDIA A100-SXM4-80GB
    memory_mib: 81920
    mig: disabled
    uuid: GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee
    memory_used_mib: 100
    utilization: 7
  - {index: 2, name: Tesla T4, memory_mib: 15360, lost: true}
  - {index: 3, name: NVIDIA A100-SXM4-80GB, memory_mib: 81920, mig: enabled, instances: []}
"""


def parse(text: str, source: str = "server.yaml"):
    return simfile.parse_description(text, source)


def problems(text: str) -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(ConfigError) as info:
        parse(text)
    assert all(p.file == "server.yaml" for p in info.value.problems)
    assert info.value.hint
    return [(p.line, p.key, p.message) for p in info.value.problems]


def test_full_description():
    inv = parse(FULL)
    assert inv.source == "file:server.yaml" and inv.warnings == ()
    assert [g.index for g in inv.gpus] == [0, 1, 2, 3]  # sorted by index
    gpu0, gpu1, gpu2, gpu3 = inv.gpus
    assert (gpu0.mig, gpu0.uuid, gpu0.memory_used_mib, gpu0.utilization) == (
        MIG_DISABLED, "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", 100, 7.0)
    assert gpu1.mig == MIG_ENABLED and gpu1.memory_used_mib == 2048
    assert [m.profile for m in gpu1.instances] == ["2g.20gb", "1g.10gb+me", "1c.3g.40gb"]
    assert [m.id for m in gpu1.instances] == ["1:0", "1:1", "1:2"]
    plain, detailed, ci = gpu1.instances
    assert (plain.memory_total_mib, plain.memory_used_mib, plain.utilization) == (20480, None, None)
    assert (detailed.uuid, detailed.memory_used_mib, detailed.utilization) == (
        "MIG-11111111-2222-3333-4444-555555555555", 5000, 42.5)
    assert ci.memory_total_mib == 40960
    assert gpu2.mig == MIG_UNSUPPORTED and gpu2.lost and gpu2.error
    assert gpu3.mig == MIG_ENABLED and gpu3.instances == ()


def test_derived_uuids_are_stable_distinct_and_well_formed():
    first, second = parse(FULL), parse(FULL)
    assert first == second
    uuids = [g.uuid for g in first.gpus] + [m.uuid for g in first.gpus for m in g.instances]
    assert len(set(uuids)) == len(uuids)
    assert first.gpus[1].uuid.startswith("GPU-") and len(first.gpus[1].uuid) == 40
    assert first.gpus[1].instances[0].uuid.startswith("MIG-")


@pytest.mark.parametrize(
    "text, line, key, words",
    [
        ("gpus:\n  - {index: 0, name: A, memory_mib: 1}\n  - {index: 0, name: B, memory_mib: 1}\n",
         3, "gpus[1].index", "duplicate GPU index 0 (first on line 2)"),
        ("gpus:\n  - index: 0\n    name: A\n    memory_mb: 10\n",
         4, "gpus[0].memory_mb", "unknown key 'memory_mb'"),
        ("gpus:\n  - {index: 0, name: A, memory_mib: 10, mig: on}\n",
         2, "gpus[0].mig", "expected one of disabled, enabled, n/a, got 'on'"),
        ("gpus:\n  - index: 0\n    name: A\n    memory_mib: 10\n    mig: disabled\n"
         "    instances: [1g.10gb]\n",
         6, "gpus[0].instances", "instances need mig: enabled"),
        ("gpus:\n  - index: 0\n    name: A\n    memory_mib: 10\n    mig: enabled\n"
         "    instances:\n      - 1g.10gb\n      - 2g.20GB\n",
         8, "gpus[0].instances[1].profile", "'2g.20GB' is not a MIG profile"),
        ("gpus:\n  - {index: 0, name: A, memory_mib: 0}\n",
         2, "gpus[0].memory_mib", "must be positive, got 0"),
        ("gpus:\n  - {index: 0, name: A, memory_mib: -5}\n",
         2, "gpus[0].memory_mib", "must be positive, got -5"),
        ("gpus:\n  - {index: 0, name: A, memory_mib: 80GB}\n",
         2, "gpus[0].memory_mib", "expected a whole number, got text '80GB'"),
        ("gpus:\n  - {index: -1, name: A, memory_mib: 5}\n",
         2, "gpus[0].index", "must be at least 0"),
        ("gpus:\n  - {index: true, name: A, memory_mib: 5}\n",
         2, "gpus[0].index", "expected a whole number"),
        ("gpus:\n  - {name: A, memory_mib: 5}\n",
         2, "gpus[0].index", "missing"),
        ("gpus:\n  - {index: 0, name: A, memory_mib: 5, memory_used_mib: 6}\n",
         2, "gpus[0].memory_used_mib", "6 MiB used is more than the 5 MiB"),
        ("gpus:\n  - {index: 0, name: A, memory_mib: 5, utilization: 101}\n",
         2, "gpus[0].utilization", "percentage from 0 to 100"),
        ("gpus:\n  - {index: 0, name: A, memory_mib: 5, uuid: abc}\n",
         2, "gpus[0].uuid", "must start with 'GPU-'"),
        ("gpus:\n  - {index: 0, name: A, memory_mib: 5, lost: yes}\n",
         2, "gpus[0].lost", "expected true or false"),
        ("gpus:\n  - {index: 0, name: A, memory_mib: 5, mig: enabled,\n"
         "     instances: [{profile: 1g.10gb, memory_used_mib: 20000}]}\n",
         3, "gpus[0].instances[0].memory_used_mib", "more than the 10240 MiB of 1g.10gb"),
        ("gpus:\n  - {index: 0, name: A, memory_mib: 5, mig: enabled,\n"
         "     instances: [{profile: 1g.10gb, colour: red}]}\n",
         3, "gpus[0].instances[0].colour", "unknown key 'colour'"),
        ("gpus:\n  - {index: 0, name: A, memory_mib: 5, mig: enabled,\n"
         "     instances: [{uuid: MIG-1}]}\n",
         3, "gpus[0].instances[0].profile", "missing"),
        ("gpus:\n  - {index: 0, name: A, memory_mib: 5, mig: enabled, instances: [7]}\n",
         2, "gpus[0].instances[0]", "expected a MIG profile like 2g.20gb"),
        ("gpus:\n  - {index: 0, name: A, memory_mib: 5, mig: enabled, instances: 1g.10gb}\n",
         2, "gpus[0].instances", "expected a list of MIG profiles"),
        ("servers:\n  - {index: 0}\ngpus: []\n", 1, "servers", "unknown key 'servers'"),
        ("gpus: []\n", 1, "gpus", "expected a non-empty list of GPUs"),
        ("gpus:\n  - just a string\n", 2, "gpus[0]", "expected a mapping"),
    ],
)
def test_each_mistake_names_line_and_key(text, line, key, words):
    found = problems(text)
    assert any(p_line == line and p_key == key and words in message
               for p_line, p_key, message in found), found


def test_duplicate_uuid():
    text = ("gpus:\n  - {index: 0, name: A, memory_mib: 5, uuid: GPU-1}\n"
            "  - {index: 1, name: A, memory_mib: 5, uuid: GPU-1}\n")
    ((line, key, message),) = problems(text)
    assert (line, key) == (3, "gpus[1].uuid") and "also used by gpus[0].uuid" in message


def test_all_problems_are_reported_at_once():
    text = ("gpus:\n  - {index: 0, name: A, memory_mib: 0}\n"
            "  - {index: 1, name: B, memory_mib: 5, mig: maybe}\n")
    assert [(line, key) for line, key, _ in problems(text)] == [
        (2, "gpus[0].memory_mib"), (3, "gpus[1].mig")]


def test_empty_file_and_yaml_errors():
    assert problems("")[0][1] == "gpus"
    assert problems("# only a comment\n")[0][1] == "gpus"
    with pytest.raises(ConfigError) as info:
        parse("gpus:\n  - {index: 0, name: A\n")
    assert info.value.problems[0].file == "server.yaml" and info.value.problems[0].line
    with pytest.raises(ConfigError, match="duplicate key 'name'"):
        parse("gpus:\n  - {index: 0, name: A, name: B, memory_mib: 5}\n")


def test_message_has_file_line_and_key():
    with pytest.raises(ConfigError) as info:
        parse("gpus:\n  - {index: 0, name: A, memory_mib: 5, mig: sometimes}\n")
    assert str(info.value).startswith("server.yaml:2: gpus[0].mig: expected one of")


def test_load_description(tmp_path):
    path = tmp_path / "server.yaml"
    path.write_text(FULL)
    inv = simfile.load_description(path)
    assert inv.source == f"file:{path}" and len(inv.gpus) == 4
    path.write_text("gpus:\n  - {index: 0, name: A, memory_mib: 5, lost: maybe}\n")
    with pytest.raises(ConfigError) as info:
        simfile.load_description(str(path))
    assert info.value.problems[0].file == str(path) and info.value.problems[0].line == 2


def test_load_description_missing_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        simfile.load_description(tmp_path / "nope.yaml")
    assert "cannot read" in info.value.message and "nope.yaml" in info.value.message


# -- the builtin servers ----------------------------------------------------------------------


def test_builtin_names():
    assert simfile.builtin_names() == ["large", "mig-empty", "no-mig", "note-server",
                                       "priority-demo"]


def layout(name: str) -> list[tuple[int, str, list[str]]]:
    inv = simfile.builtin(name)
    assert inv.source == f"builtin:{name}"
    assert {g.name for g in inv.gpus} <= {"NVIDIA A100-SXM4-80GB", "NVIDIA H100 80GB HBM3"}
    return [(g.index, g.mig, [m.profile for m in g.instances]) for g in inv.gpus]


NOTE_MIG = ["2g.20gb", "2g.20gb", "2g.20gb", "1g.10gb"]


def test_builtin_note_server():
    assert layout("note-server") == [(0, MIG_DISABLED, []), (1, MIG_ENABLED, NOTE_MIG),
                                     (2, MIG_ENABLED, NOTE_MIG), (3, MIG_ENABLED, NOTE_MIG)]
    inv = simfile.builtin("note-server")
    assert all(g.memory_total_mib == 81920 and g.memory_used_mib is None for g in inv.gpus)


def test_builtin_variants():
    assert layout("no-mig") == [(i, MIG_DISABLED, []) for i in range(4)]
    assert layout("mig-empty") == [(0, MIG_DISABLED, []), (1, MIG_ENABLED, NOTE_MIG),
                                   (2, MIG_ENABLED, []), (3, MIG_ENABLED, NOTE_MIG)]
    assert layout("priority-demo") == [(1, MIG_ENABLED, ["2g.20gb"] * 3)]
    assert layout("large") == [(i, MIG_ENABLED, ["1g.10gb"] * 7) for i in range(8)]


def test_builtin_unknown_name():
    with pytest.raises(UsageError) as info:
        simfile.builtin("nope")
    assert "note-server" in info.value.hint


def test_example_is_a_link_to_the_note_server():
    example = REPO / "examples" / "note-server.yaml"
    assert example.is_symlink()
    assert os.readlink(example) == "../src/ds01/data/servers/note-server.yaml"
    assert simfile.load_description(example).gpus == simfile.builtin("note-server").gpus
