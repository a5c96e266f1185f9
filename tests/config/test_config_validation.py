"""Every validation rule of the policy file, each with its exact file, line and key."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from ds01.config.loader import load_config, parse_config
from ds01.errors import EXIT_USAGE, ConfigError, ConfigProblem

SOURCE = "policy.yaml"


def problems(text: str) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as info:
        parse_config(dedent(text), SOURCE)
    err = info.value
    assert err.exit_code == EXIT_USAGE and err.code == "CONFIG_ERROR"
    assert err.hint and "ds01 config check" in err.hint
    assert all(p.file == SOURCE for p in err.problems)
    return err.problems


def only(text: str) -> tuple[int | None, str | None, str]:
    found = problems(text)
    assert len(found) == 1, found
    p = found[0]
    return p.line, p.key, p.message


# -- unknown keys and did-you-mean -----------------------------------------------------------


@pytest.mark.parametrize(
    "text, line, key, words",
    [
        ("priorty: 3\n", 1, "priorty", "did you mean 'priority'? (it belongs under defaults"),
        ("group:\n  a: {}\n", 1, "group", "did you mean 'groups'?"),
        ("defaults:\n  max_mig_instance: 2\n", 2, "defaults.max_mig_instance",
         "did you mean 'max_mig_instances'?"),
        ("defaults:\n  members: [a]\n", 2, "defaults.members", "belongs in a group"),
        ("groups:\n  g:\n    memebers: [a]\n", 3, "groups.g.memebers", "did you mean 'members'?"),
        ("groups:\n  g:\n    prefer_full_gpu: true\n", 3, "groups.g.prefer_full_gpu",
         "belongs in a user override"),
        ("user_overrides:\n  u:\n    admin: true\n", 3, "user_overrides.u.admin",
         "belongs in a group"),
        ("user_overrides:\n  u:\n    reserved_gpu: [0]\n", 3, "user_overrides.u.reserved_gpu",
         "did you mean 'reserved_gpus'?"),
        ("gpu:\n  units_per_gpus: 4\n", 2, "gpu.units_per_gpus", "did you mean 'units_per_gpu'?"),
        ("wizard:\n  error_message: {}\n", 2, "wizard.error_message",
         "did you mean 'error_messages'?"),
        ("wizard:\n  error_messages:\n    gpu_limit_exceded: x\n", 3,
         "wizard.error_messages.gpu_limit_exceded", "did you mean 'gpu_limit_exceeded'?"),
        ("containers:\n  gpu_atach: gpus\n", 2, "containers.gpu_atach",
         "did you mean 'gpu_attach'?"),
        ("monitoring:\n  per_user_metric: true\n", 2, "monitoring.per_user_metric",
         "did you mean 'per_user_metrics'?"),
        ("groups:\n  g:\n    aggregate: {cpu: 4}\n", 3, "groups.g.aggregate.cpu",
         "did you mean 'cpus'?"),
        ("zebra: 1\n", 1, "zebra", "allowed here: defaults, default_group, groups"),
    ],
)
def test_unknown_keys(text, line, key, words):
    got_line, got_key, message = only(text)
    assert (got_line, got_key) == (line, key)
    assert message.startswith(f"unknown key {key.rsplit('.', 1)[-1]!r}")
    assert words in message


# -- limit values -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("priority", "high", "whole number >= 0"),
        ("priority", "null", "whole number >= 0, got null"),
        ("priority", "-1", "at least 0, got -1"),
        ("priority", "1.5", "whole number"),
        ("priority", "true", "got true"),
        ("max_mig_instances", "-1", "at least 0, got -1"),
        ("max_mig_instances", "two", "or null (unlimited)"),
        ("max_full_gpus", "2.0", "whole number"),
        ("max_containers_per_user", "[3]", "got a list"),
        ("max_cpus", "0", "more than 0"),
        ("max_cpus", "-2", "more than 0"),
        ("max_cpus", "lots", "a number greater than 0"),
        ("max_cpus", ".inf", "a number greater than 0"),
        ("memory", "32x", "unknown size unit in '32x'"),
        ("memory", "-1g", "negative"),
        ("memory", "0", "more than 0 bytes; use null"),
        ("memory", "1.5", "got 1.5"),
        ("shm_size", "lots", "unknown size unit"),
        ("pids_limit", "0", "at least 1"),
        ("idle_timeout", "1y", "unknown duration unit"),
        ("idle_timeout", "-1h", "negative"),
        ("idle_timeout", "0", "longer than 0 seconds; use null for never"),
        ("slice_cpus", "0", "more than 0"),
        ("slice_memory", "many", "unknown size unit"),
        ("max_tasks", "0", "at least 1"),
        ("max_tasks", "1e3", "whole number"),
    ],
)
@pytest.mark.parametrize("where", ["defaults", "groups.g", "user_overrides.u"])
def test_bad_limit_values(where, key, value, words):
    parts = where.split(".")
    text = ""
    for depth, part in enumerate(parts):
        text += "  " * depth + f"{part}:\n"
    text += "\n" * 3 + "  " * len(parts) + f"{key}: {value}\n"
    line, got_key, message = only(text)
    assert (line, got_key) == (len(parts) + 4, f"{where}.{key}")
    assert words in message


@pytest.mark.parametrize(
    "key, value, parsed",
    [
        ("max_mig_instances", "null", None),
        ("max_full_gpus", "0", 0),
        ("max_cpus", "0.5", 0.5),
        ("memory", "512m", 512 * 1024**2),
        ("memory", "1073741824", 1024**3),
        ("idle_timeout", "null", None),
        ("idle_timeout", "90", 90.0),
        ("idle_timeout", "0.5h", 1800.0),
        ("slice_memory", "null", None),
        ("max_tasks", "null", None),
    ],
)
def test_good_limit_values(key, value, parsed):
    cfg = parse_config(f"defaults:\n  {key}: {value}\n", SOURCE)
    assert cfg.defaults == {key: parsed}


# -- structure --------------------------------------------------------------------------------


def test_top_level_must_be_a_mapping():
    line, key, message = only("- a\n- b\n")
    assert line == 1 and key is None and "mapping of sections" in message


@pytest.mark.parametrize(
    "text, line, key",
    [
        ("defaults: 3\n", 1, "defaults"),
        ("groups: [a, b]\n", 1, "groups"),
        ("groups:\n  g: [a]\n", 2, "groups.g"),
        ("user_overrides: yes\n", 1, "user_overrides"),
        ("user_overrides:\n  u: 5\n", 2, "user_overrides.u"),
        ("gpu: 4\n", 1, "gpu"),
        ("wizard:\n  error_messages: [x]\n", 2, "wizard.error_messages"),
        ("images: [pytorch]\n", 1, "images"),
        ("containers: true\n", 1, "containers"),
        ("monitoring: off\n", 1, "monitoring"),
        ("groups:\n  g:\n    aggregate: 4\n", 3, "groups.g.aggregate"),
        ("containers:\n  mounts: /a\n", 2, "containers.mounts"),
    ],
)
def test_sections_must_be_mappings(text, line, key):
    got_line, got_key, message = only(text)
    assert (got_line, got_key) == (line, key)
    assert "must be a mapping" in message


def test_empty_sections_are_fine():
    cfg = parse_config(
        "defaults:\ngroups:\nuser_overrides:\ngpu:\nwizard:\n  error_messages:\nimages:\n"
        "containers:\nmonitoring:\ndefault_group:\n",
        SOURCE,
    )
    assert cfg.groups == () and cfg.overrides == {} and cfg.images == {}
    assert cfg.default_group is None and cfg.error_messages == {}
    assert cfg.containers.mounts == {"/home/{user}/workspace": "/workspace"}


def test_empty_file_is_all_defaults():
    cfg = parse_config("", SOURCE)
    assert cfg.effective("anyone").group == "default"


def test_problems_are_all_collected_and_sorted_by_line():
    found = problems(
        """\
        monitoring:
          per_user_metrics: maybe
        defaults:
          memory: 32x
          max_cpus: -1
        groups:
          g:
            priority: high
        """
    )
    assert [(p.line, p.key) for p in found] == [
        (2, "monitoring.per_user_metrics"),
        (4, "defaults.memory"),
        (5, "defaults.max_cpus"),
        (8, "groups.g.priority"),
    ]
    text = str(ConfigError(found))
    assert "policy.yaml:4: defaults.memory: unknown size unit" in text


def test_yaml_syntax_error_is_a_config_error():
    line, key, message = only("defaults:\n  memory: [32g\n")
    assert key is None and line is not None and "not valid YAML" in message


def test_duplicate_key_is_a_config_error():
    line, key, message = only("defaults:\n  memory: 1g\n  memory: 2g\n")
    assert line == 3 and "duplicate key 'memory'" in message


# -- groups -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, line, key, words",
    [
        ("    members: alice\n", 3, "groups.g.members", "a list of user names"),
        ("    members: [alice, 3]\n", 3, "groups.g.members[1]", "a valid user name, got 3"),
        ("    members: [alice, null]\n", 3, "groups.g.members[1]", "got null"),
        ("    members: ['bad name']\n", 3, "groups.g.members[0]", "valid user name"),
        ("    members:\n      - ok\n      - '-x'\n", 5, "groups.g.members[1]", "valid user name"),
        ("    unix_groups: [ds01-students, 7]\n", 3, "groups.g.unix_groups[1]",
         "valid Unix group name"),
        ("    unix_groups: ds01\n", 3, "groups.g.unix_groups", "a list of Unix group names"),
        ("    admin: yes\n", 3, "groups.g.admin", "true or false, got 'yes' (read as text"),
        ("    admin: 1\n", 3, "groups.g.admin", "true or false, got 1"),
        ("    aggregate: {cpus: 0}\n", 3, "groups.g.aggregate.cpus", "more than 0"),
        ("    aggregate: {memory: lots}\n", 3, "groups.g.aggregate.memory", "unknown size unit"),
        ("    aggregate: {tasks: -4}\n", 3, "groups.g.aggregate.tasks", "at least 1"),
    ],
)
def test_group_rules(body, line, key, words):
    got_line, got_key, message = only("groups:\n  g:\n" + body)
    assert (got_line, got_key) == (line, key)
    assert words in message


def test_group_name_rules():
    line, key, message = only("groups:\n  ok: {}\n  'bad name': {}\n")
    assert (line, key) == (3, "groups['bad name']") and "not a valid group name" in message
    line, key, message = only("groups:\n  default: {}\n")
    assert (line, key) == (2, "groups.default") and "reserved" in message


def test_group_aggregate_and_lists_parse():
    cfg = parse_config(
        "groups:\n  g:\n    members: [a, b, a]\n    unix_groups: []\n"
        "    aggregate: {cpus: 96, memory: 384g, tasks: null}\n  h:\n",
        SOURCE,
    )
    g, h = cfg.groups
    assert g.members == ("a", "b") and g.unix_groups == ()
    assert (g.aggregate.cpus, g.aggregate.memory, g.aggregate.tasks) == (96, 384 * 1024**3, None)
    assert g.aggregate.is_set() and not h.aggregate.is_set()
    assert (g.order, h.order) == (0, 1)


@pytest.mark.parametrize(
    "value, words",
    [
        ("nobody", "no group named 'nobody' (groups: student)"),
        ("3", "must be the name of a group, got 3"),
        ("[student]", "got a list"),
    ],
)
def test_default_group_must_exist(value, words):
    text = f"groups:\n  student: {{}}\n\ndefault_group: {value}\n"
    line, key, message = only(text)
    assert (line, key) == (4, "default_group") and words in message


def test_default_group_without_groups():
    line, key, message = only("default_group: student\n")
    assert (line, key) == (1, "default_group") and "none are defined" in message


# -- user overrides and reservations ----------------------------------------------------------

RES = """\
user_overrides:
  john_doe:
    reservation_start: {start}
    reservation_end: {end}
    reserved_gpus: {gpus}
"""


def res(start='"2025-11-01T00:00:00"', end='"2025-11-08T00:00:00"', gpus="[0]") -> str:
    return RES.format(start=start, end=end, gpus=gpus)


@pytest.mark.parametrize(
    "text, line, key, words",
    [
        (res(end='"2025-10-01T00:00:00"'), 4, "user_overrides.john_doe.reservation_end",
         "must be after reservation_start"),
        (res(end='"2025-11-01T00:00:00"'), 4, "user_overrides.john_doe.reservation_end",
         "must be after reservation_start"),
        (res(start='"next week"'), 3, "user_overrides.john_doe.reservation_start",
         "not an ISO 8601 time"),
        (res(start="20251101"), 3, "user_overrides.john_doe.reservation_start",
         "an ISO 8601 time in quotes"),
        (res(end='"2025-13-01T00:00:00"'), 4, "user_overrides.john_doe.reservation_end",
         "not an ISO 8601 time"),
        (res(gpus="0"), 5, "user_overrides.john_doe.reserved_gpus", "a list of GPU indexes"),
        (res(gpus="[]"), 5, "user_overrides.john_doe.reserved_gpus", "at least one"),
        (res(gpus='[0, "2:x"]'), 5, "user_overrides.john_doe.reserved_gpus[1]", "got '2:x'"),
        (res(gpus="[-1]"), 5, "user_overrides.john_doe.reserved_gpus[0]", "got -1"),
        (res(gpus="[true]"), 5, "user_overrides.john_doe.reserved_gpus[0]", "got true"),
        (res(gpus='["01"]'), 5, "user_overrides.john_doe.reserved_gpus[0]", "got '01'"),
        (res(gpus='["2:1:0"]'), 5, "user_overrides.john_doe.reserved_gpus[0]", "got '2:1:0'"),
        (res(gpus="[1.5]"), 5, "user_overrides.john_doe.reserved_gpus[0]", "got 1.5"),
        (res() + "    reason: [a]\n", 6, "user_overrides.john_doe.reason", "must be a string"),
    ],
)
def test_reservation_rules(text, line, key, words):
    got_line, got_key, message = only(text)
    assert (got_line, got_key) == (line, key)
    assert words in message


@pytest.mark.parametrize(
    "keys, missing",
    [
        (("reservation_start",), "reservation_end, reserved_gpus"),
        (("reservation_start", "reservation_end"), "reserved_gpus"),
        (("reserved_gpus",), "reservation_start, reservation_end"),
        (("reservation_end", "reserved_gpus"), "reservation_start"),
    ],
)
def test_reservation_keys_come_together(keys, missing):
    values = {
        "reservation_start": '"2025-11-01T00:00:00"',
        "reservation_end": '"2025-11-08T00:00:00"',
        "reserved_gpus": "[0]",
    }
    body = "".join(f"    {k}: {values[k]}\n" for k in keys)
    line, key, message = only("user_overrides:\n  # the thesis\n  john_doe:\n" + body)
    assert (line, key) == (3, "user_overrides.john_doe")
    assert message.endswith(f"missing: {missing}")


def test_reason_without_reservation():
    line, key, message = only("user_overrides:\n  u:\n    priority: 3\n    reason: why\n")
    assert (line, key) == (4, "user_overrides.u.reason")
    assert "only goes with a reservation" in message


def test_missing_keys_and_bad_values_are_both_reported():
    found = problems("user_overrides:\n  u:\n    reserved_gpus: [x]\n")
    assert [(p.line, p.key) for p in found] == [
        (2, "user_overrides.u"),
        (3, "user_overrides.u.reserved_gpus[0]"),
    ]


def test_override_rules():
    line, key, message = only("user_overrides:\n  'bad user': {}\n")
    assert (line, key) == (2, "user_overrides['bad user']") and "not a valid user name" in message
    line, key, message = only("user_overrides:\n  lena:\n    prefer_full_gpu: on\n")
    assert (line, key) == (3, "user_overrides.lena.prefer_full_gpu") and "true or false" in message


def test_user_names_may_have_dots_and_dashes():
    cfg = parse_config("user_overrides:\n  john.doe: {priority: 3}\n  a-b_c: {}\n", SOURCE)
    assert set(cfg.overrides) == {"john.doe", "a-b_c"}


# -- gpu and wizard ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("units_per_gpu", "0", "at least 1, got 0"),
        ("units_per_gpu", "null", "got null"),
        ("max_containers_per_mig", "two", "whole number >= 1"),
        ("max_containers_per_gpu", "-1", "at least 1"),
    ],
)
def test_gpu_rules(key, value, words):
    line, got_key, message = only(f"gpu:\n  {key}: {value}\n")
    assert (line, got_key) == (2, f"gpu.{key}") and words in message


@pytest.mark.parametrize(
    "name, template, words",
    [
        ("gpu_limit_exceeded", '"{requested} of {limit}"', "unknown placeholder {limit}"),
        ("gpu_limit_exceeded", '"{} left"', "unknown placeholder {}"),
        ("gpu_limit_exceeded", '"{max.real}"', "unknown placeholder {max.real}"),
        ("container_limit_exceeded", '"{requested}"', "allowed here: {current}, {max}"),
        ("no_gpu_available", '"{max}"', "allowed here: none"),
        ("reservation_conflict", '"until {end_time"', "broken braces"),
        ("reservation_conflict", '"x } y"', "broken braces"),
        ("reservation_conflict", "42", "must be a message text, got 42"),
    ],
)
def test_wizard_template_rules(name, template, words):
    line, key, message = only(f"wizard:\n  error_messages:\n    {name}: {template}\n")
    assert (line, key) == (3, f"wizard.error_messages.{name}") and words in message


def test_wizard_templates_parse():
    cfg = parse_config(
        "wizard:\n  error_messages:\n"
        '    gpu_limit_exceeded: "{requested}/{max} ({current} held, {available} left) {{ok}}"\n'
        '    reservation_conflict: "{reserved_user} until {end_time}: {reason!r:>5}"\n'
        '    no_gpu_available: "none free"\n',
        SOURCE,
    )
    assert set(cfg.error_messages) == {"gpu_limit_exceeded", "reservation_conflict",
                                       "no_gpu_available"}
    rendered = cfg.error_messages["gpu_limit_exceeded"].format(
        requested=2, max=2, current=2, available=0)
    assert rendered == "2/2 (2 held, 0 left) {ok}"


# -- images, containers, monitoring -----------------------------------------------------------


@pytest.mark.parametrize(
    "body, line, key, words",
    [
        ("images:\n  PyTorch: nvcr.io/nvidia/pytorch:24.10-py3\n", 2, "images.PyTorch",
         "not a valid image name"),
        ("images:\n  _x: busybox\n", 2, "images._x", "not a valid image name"),
        ("images:\n  bad: 'Not A Ref'\n", 2, "images.bad", "not an image reference"),
        ("images:\n  bad: 'Upper/case:1'\n", 2, "images.bad", "not an image reference"),
        ("images:\n  bad: ''\n", 2, "images.bad", "not an image reference"),
        ("images:\n  bad: 3\n", 2, "images.bad", "must be a string"),
        ("images:\n  bad:\n", 2, "images.bad", "must be a string"),
        ("containers:\n  gpu_attach: all\n", 2, "containers.gpu_attach",
         "must be 'gpus' or 'none', got 'all'"),
        ("containers:\n  allow_raw_images: no\n", 2, "containers.allow_raw_images",
         "true or false"),
        ("containers:\n  run_as_user: 1\n", 2, "containers.run_as_user", "true or false"),
        ("containers:\n  gpu_hold_after_stop: -5\n", 2, "containers.gpu_hold_after_stop",
         "negative"),
        ("containers:\n  gpu_hold_after_stop: soon\n", 2, "containers.gpu_hold_after_stop",
         "unknown duration unit"),
        ("containers:\n  gpu_hold_after_stop:\n", 2, "containers.gpu_hold_after_stop",
         "got None"),
        ("containers:\n  instance: DS01\n", 2, "containers.instance", "not a short name"),
        ("containers:\n  instance: 5\n", 2, "containers.instance", "must be a string"),
        ("containers:\n  cgroup_root: ds01\n", 2, "containers.cgroup_root", "absolute path"),
        ("containers:\n  cgroup_root: /\n", 2, "containers.cgroup_root", "absolute path"),
        ("containers:\n  cgroup_root: /a/../b\n", 2, "containers.cgroup_root", "'..'"),
        ("containers:\n  cgroup_root: /ds01/\n", 2, "containers.cgroup_root", "trailing"),
        ("containers:\n  cgroup_root: /ds01/{user}\n", 2, "containers.cgroup_root",
         "only no placeholders"),
        ("containers:\n  mounts:\n    home/{user}: /w\n", 3, "containers.mounts['home/{user}']",
         "absolute path"),
        ("containers:\n  mounts:\n    /home/{uid}: /w\n", 3, "containers.mounts['/home/{uid}']",
         "only {user} may be used"),
        ("containers:\n  mounts:\n    /home/{user!r}: /w\n", 3,
         "containers.mounts['/home/{user!r}']", "only {user} may be used"),
        ("containers:\n  mounts:\n    /home/{user: /w\n", 3, "containers.mounts['/home/{user']",
         "broken braces"),
        ("containers:\n  mounts:\n    /data: relative\n", 3, "containers.mounts['/data']",
         "absolute path"),
        ("containers:\n  mounts:\n    /data: 3\n", 3, "containers.mounts['/data']",
         "must be an absolute path, got 3"),
        ("containers:\n  mounts:\n    /a: /w\n    /b: /w\n", 4, "containers.mounts['/b']",
         "already the target of '/a'"),
        ("monitoring:\n  per_user_metrics: 'true'\n", 2, "monitoring.per_user_metrics",
         "true or false"),
    ],
)
def test_images_containers_monitoring_rules(body, line, key, words):
    got_line, got_key, message = only(body)
    assert (got_line, got_key) == (line, key)
    assert words in message


def test_containers_and_images_parse():
    cfg = parse_config(
        dedent(
            """\
            images:
              pytorch: nvcr.io/nvidia/pytorch:24.10-py3
              busybox: ds01-test/busybox
              local: localhost:5000/team/tool_x:v1.2
              pinned: busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
            containers:
              gpu_attach: none
              allow_raw_images: true
              run_as_user: false
              mounts:
                /home/{user}/workspace: /workspace
                /srv/datasets: /data
              gpu_hold_after_stop: 10m
              instance: lab-2
              cgroup_root: /ds01/lab2
            monitoring:
              per_user_metrics: true
            """
        ),
        SOURCE,
    )
    assert list(cfg.images) == ["pytorch", "busybox", "local", "pinned"]
    c = cfg.containers
    assert (c.gpu_attach, c.allow_raw_images, c.run_as_user) == ("none", True, False)
    assert c.gpu_hold_after_stop == 600.0 and c.instance == "lab-2"
    assert c.cgroup_root == "/ds01/lab2"
    assert c.mounts_for("alice") == {
        "/home/alice/workspace": "/workspace",
        "/srv/datasets": "/data",
    }
    assert cfg.monitoring.per_user_metrics is True


def test_containers_defaults():
    c = parse_config("containers: {}\n", SOURCE).containers
    assert (c.gpu_attach, c.allow_raw_images, c.run_as_user) == ("gpus", False, True)
    assert c.mounts == {"/home/{user}/workspace": "/workspace"}
    assert (c.gpu_hold_after_stop, c.instance, c.cgroup_root) == (0.0, "ds01", "/ds01")
    assert parse_config("containers:\n  mounts: {}\n", SOURCE).containers.mounts == {}


# -- files ------------------------------------------------------------------------------------


def test_load_config_names_the_real_file(tmp_path):
    path = tmp_path / "resource-limits.yaml"
    path.write_text("defaults:\n  memory: 32x\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}:2: defaults.memory:")


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    (p,) = info.value.problems
    assert p.file == str(tmp_path / "nope.yaml") and p.line is None
    assert "not found" in p.message and "DS01_CONFIG" in info.value.hint


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert "directory" in info.value.problems[0].message


def test_unreadable_file(tmp_path):
    import os

    path = tmp_path / "secret.yaml"
    path.write_text("defaults: {}\n")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as root: permissions do not apply")
        with pytest.raises(ConfigError) as info:
            load_config(path)
        assert "permission denied" in info.value.problems[0].message
        assert "readable" in info.value.hint
    finally:
        path.chmod(0o644)


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"defaults:\n  # caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    p = info.value.problems[0]
    assert (p.line, p.message) == (2, "not UTF-8 text")


def test_error_to_dict_carries_every_problem():
    with pytest.raises(ConfigError) as info:
        parse_config("defaults:\n  memory: 1x\n  max_cpus: 0\n", SOURCE)
    d = info.value.to_dict()
    assert d["reason"] == "CONFIG_ERROR" and len(d["problems"]) == 2
    assert d["problems"][0] == {"file": SOURCE, "line": 2, "key": "defaults.memory",
                                "message": d["problems"][0]["message"]}


def test_path_is_accepted_as_str_or_path(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("defaults: {priority: 4}\n")
    assert load_config(Path(str(path))).defaults == {"priority": 4}


def test_path_below_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "file" / "c.yaml")
    assert info.value.problems[0].message.startswith("cannot read:")


@pytest.mark.parametrize(
    "ref, ok",
    [
        ("busybox", True),
        ("library/busybox:1.36", True),
        ("nvcr.io/nvidia/pytorch:24.10-py3", True),
        ("localhost/x", True),
        ("localhost:5000/team/tool_x:v1.2", True),
        ("Registry.Example.com/team/x", True),
        ("busybox:latest@sha256:" + "a" * 64, True),
        ("Upper/case", False),
        ("busybox:", False),
        ("busybox@sha256:abc", False),
        ("a//b", False),
        ("-x", False),
        ("nvcr.io/", False),
        ("with space", False),
    ],
)
def test_image_references(ref, ok):
    text = f"images:\n  x: '{ref}'\n"
    if ok:
        assert parse_config(text, SOURCE).images == {"x": ref}
    else:
        assert "not an image reference" in only(text)[2]
