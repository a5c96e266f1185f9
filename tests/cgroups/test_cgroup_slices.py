"""Slice names, unit text, and unit files checked by the real systemd tools."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from ds01.cgroups.slices import (
    MARKER,
    SliceEntry,
    SliceError,
    SliceLimits,
    escape,
    group_slice,
    plan_units,
    render_slice,
    root_slice,
    slice_path,
    unit_dir,
    user_slice,
    write_units,
)
from ds01.errors import UsageError

GiB = 1024**3
TRICKY = ["anne-marie", "a.b", ".x", "ü", "a b", "a_b", "a/b", "-x", "x-", "..", "a\\b",
          "Zoë-Ångström", "a:b", "100%", "tab\there", "x.slice", "UPPER_lower.09"]


@pytest.mark.parametrize("name", TRICKY)
def test_escape_matches_systemd_escape(name, tool):
    real = subprocess.run([tool("systemd-escape"), "--", name], capture_output=True, text=True,
                          check=True)
    assert escape(name) == real.stdout.rstrip("\n")


def test_escape_examples():
    assert escape("anne-marie") == "anne\\x2dmarie"
    assert escape(".x") == "\\x2ex"
    assert escape("a.b") == "a.b"
    assert escape("ü") == "\\xc3\\xbc"
    assert escape("a b") == "a\\x20b"


def test_user_with_dash_is_not_nested_under_another_user():
    anne = user_slice("students", "anne")
    anne_marie = user_slice("students", "anne-marie")
    assert anne_marie == "ds01-students-anne\\x2dmarie.slice"
    levels = slice_path(anne_marie).split("/")
    assert levels == [root_slice(), group_slice("students"), anne_marie]
    assert anne not in levels


def test_group_with_dash_nests_correctly():
    unit = user_slice("ml-lab", "bob")
    assert group_slice("ml-lab") == "ds01-ml\\x2dlab.slice"
    assert slice_path(unit) == "ds01.slice/ds01-ml\\x2dlab.slice/ds01-ml\\x2dlab-bob.slice"


@pytest.mark.parametrize("group,user", [("a/b", "u"), ("g", ""), ("g", "x\ny"), ("", "u")])
def test_unusable_names_are_refused(group, user):
    with pytest.raises(UsageError) as caught:
        user_slice(group, user)
    assert caught.value.code == "INVALID_NAME"
    assert caught.value.hint


def test_overlong_unit_name_is_refused():
    with pytest.raises(UsageError, match="255"):
        user_slice("g", "ü" * 60)  # each ü becomes 8 characters


@pytest.mark.parametrize(
    "kwargs", [{"cpus": 0}, {"cpus": -1}, {"cpus": 0.001}, {"memory": 0}, {"tasks": -5},
               {"memory": 1.5}, {"tasks": True}, {"cpus": "2"}, {"cpus": True},
               {"cpus": float("inf")}, {"cpus": float("nan")}]
)
def test_invalid_limits_are_refused(kwargs):
    with pytest.raises(UsageError) as caught:
        SliceLimits(**kwargs)
    assert caught.value.code == "INVALID_LIMIT"


def settings(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_render_slice_writes_every_limit():
    text = render_slice("ds01-g.slice", SliceLimits(cpus=1.5, memory=10 * GiB, tasks=512),
                        "group g", source="/etc/ds01/resource-limits.yaml")
    lines = text.splitlines()
    assert lines[0] == f"{MARKER} from /etc/ds01/resource-limits.yaml; do not edit."
    assert lines[1] == "[Unit]" and "[Slice]" in lines
    assert settings(text) == {
        "Description": "group g",
        "Before": "slices.target",
        "CPUAccounting": "yes",
        "MemoryAccounting": "yes",
        "TasksAccounting": "yes",
        "CPUQuota": "150%",
        "MemoryMax": str(10 * GiB),
        "MemoryHigh": str(10 * GiB * 9 // 10),
        "TasksMax": "512",
    }


def test_render_slice_omits_unset_limits():
    found = settings(render_slice("ds01.slice", SliceLimits(memory=GiB), "root"))
    assert "CPUQuota" not in found and "TasksMax" not in found
    assert found["MemoryMax"] == str(GiB) and found["MemoryHigh"] == str(GiB * 9 // 10)


@pytest.mark.parametrize("cpus,quota", [(1, "100%"), (0.125, "12.5%"), (0.07, "7%"),
                                        (16, "1600%"), (1 / 3, "33.33%")])
def test_cpu_quota_percent(cpus, quota):
    assert settings(render_slice("x.slice", SliceLimits(cpus=cpus), "x"))["CPUQuota"] == quota


def test_description_percent_is_escaped():
    text = render_slice("x.slice", SliceLimits(), "50% of\nthe lab")
    assert settings(text)["Description"] == "50%% of the lab"


def sample_entries() -> list[SliceEntry]:
    return [
        SliceEntry(SliceLimits(cpus=32, memory=200 * GiB, tasks=20000)),
        SliceEntry(SliceLimits(cpus=16, memory=64 * GiB, tasks=8192), group="ml-lab"),
        SliceEntry(SliceLimits(cpus=4, memory=16 * GiB, tasks=2048), "ml-lab", "anne-marie"),
        SliceEntry(SliceLimits(cpus=2.5, memory=8 * GiB), "ml-lab", "anne"),
        SliceEntry(SliceLimits(cpus=0.5), "students", ".hidden"),  # group without an entry
    ]


def test_plan_units_adds_implied_parents():
    units = plan_units(sample_entries(), source="/etc/ds01/resource-limits.yaml")
    assert sorted(units) == sorted([
        "ds01.slice",
        "ds01-ml\\x2dlab.slice",
        "ds01-ml\\x2dlab-anne\\x2dmarie.slice",
        "ds01-ml\\x2dlab-anne.slice",
        "ds01-students.slice",
        "ds01-students-\\x2ehidden.slice",
    ])
    assert "CPUQuota" not in settings(units["ds01-students.slice"])
    assert settings(units["ds01-ml\\x2dlab-anne\\x2dmarie.slice"])["CPUQuota"] == "400%"


def test_plan_units_refuses_duplicates_and_orphans():
    with pytest.raises(UsageError, match="two slice entries"):
        plan_units([SliceEntry(SliceLimits(), "g", "u"), SliceEntry(SliceLimits(cpus=1), "g", "u")])
    with pytest.raises(UsageError, match="names no group"):
        plan_units([SliceEntry(SliceLimits(), user="u")])


def verify(tool, paths, unit_path) -> subprocess.CompletedProcess:
    env = dict(os.environ, SYSTEMD_UNIT_PATH=f"{unit_path}:", SYSTEMD_LOG_COLOR="0")
    return subprocess.run([tool("systemd-analyze"), "verify", *map(str, paths)],
                          capture_output=True, text=True, env=env, timeout=120)


def test_generated_units_pass_systemd_analyze_verify(tmp_path, tool):
    units = plan_units(sample_entries(), source="/etc/ds01/resource-limits.yaml")
    written, removed = write_units(tmp_path, units)
    assert removed == [] and len(written) == len(units)
    result = verify(tool, written, unit_dir(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_verify_does_notice_a_broken_unit(tmp_path, tool):
    """The check above can fail: systemd-analyze reports a bad setting on stderr."""
    text = render_slice("ds01-bad.slice", SliceLimits(), "bad") + "CPUQuota=12.555%\n"
    written, _ = write_units(tmp_path, {"ds01-bad.slice": text})
    assert "Invalid CPU quota" in verify(tool, written, unit_dir(tmp_path)).stderr


def test_write_units_is_idempotent_and_removes_only_stale_generated_units(tmp_path):
    directory = unit_dir(tmp_path)
    first = plan_units(sample_entries())
    written, removed = write_units(tmp_path, first)
    assert {p.name for p in written} == set(first) and removed == []
    for path in written:
        assert path.read_text() == first[path.name]
        assert stat.S_IMODE(path.stat().st_mode) == 0o644

    hand_made = directory / "ds01-old.slice"
    hand_made.write_text("[Slice]\nCPUQuota=10%\n")
    other = directory / "docker.service"
    other.write_text(f"{MARKER}; but not a ds01 slice\n")
    assert write_units(tmp_path, first) == ([], [])

    second = plan_units(sample_entries()[:3])  # anne and the students group are gone
    written, removed = write_units(tmp_path, second)
    assert written == []
    assert {p.name for p in removed} == {
        "ds01-ml\\x2dlab-anne.slice", "ds01-students.slice", "ds01-students-\\x2ehidden.slice"
    }
    left = {p.name for p in directory.iterdir()}
    assert left == set(second) | {"ds01-old.slice", "docker.service"}
    assert hand_made.read_text() == "[Slice]\nCPUQuota=10%\n"


def test_write_units_rewrites_changed_units(tmp_path):
    write_units(tmp_path, plan_units([SliceEntry(SliceLimits(cpus=1), "g", "u")]))
    changed = plan_units([SliceEntry(SliceLimits(cpus=2), "g", "u")])
    written, removed = write_units(tmp_path, changed)
    assert [p.name for p in written] == ["ds01-g-u.slice"] and removed == []
    assert "CPUQuota=200%" in (unit_dir(tmp_path) / "ds01-g-u.slice").read_text()
    assert not [p for p in unit_dir(tmp_path).iterdir() if p.name.endswith(".tmp")]


def test_write_units_refuses_to_overwrite_a_hand_written_unit(tmp_path):
    directory = unit_dir(tmp_path)
    directory.mkdir(parents=True)
    (directory / "ds01.slice").write_text("[Slice]\nCPUQuota=50%\n")
    with pytest.raises(SliceError) as caught:
        write_units(tmp_path, plan_units([SliceEntry(SliceLimits(cpus=1), "g", "u")]))
    assert caught.value.code == "FOREIGN_UNIT" and caught.value.hint
    assert sorted(p.name for p in directory.iterdir()) == ["ds01.slice"]
    assert (directory / "ds01.slice").read_text() == "[Slice]\nCPUQuota=50%\n"


def test_write_units_refuses_bad_file_names(tmp_path):
    with pytest.raises(UsageError):
        write_units(tmp_path, {"../escape.slice": "x"})
    with pytest.raises(UsageError):
        write_units(tmp_path, {"ds01.service": "x"})
