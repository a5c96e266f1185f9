"""ContainerSpec validation and its two renderings (API body, docker run argv)."""

from __future__ import annotations

from ds01 import records

import pytest

from ds01.errors import UsageError
from ds01.runtime import (
    IDLE_COMMAND,
    ContainerSpec,
    format_argv,
    nano_cpus,
    to_create_body,
    to_docker_argv,
)

MIG = ("MIG-4f5c7e1a-0b2d-5e3f-9a8b-1c2d3e4f5a6b", "MIG-9a8b7c6d-5e4f-5a3b-8c2d-1e0f9a8b7c6d")


def spec(**fields) -> ContainerSpec:
    base = {"name": "alice-train", "image": "pytorch:latest"}
    base.update(fields)
    return ContainerSpec(**base)


def test_defaults_keep_the_container_idle_under_init():
    s = spec()
    body = to_create_body(s)
    assert body["Cmd"] == list(IDLE_COMMAND) == ["sleep", "infinity"]
    assert body["HostConfig"] == {"Init": True}
    argv = to_docker_argv(s)
    assert argv == ["docker", "run", "-d", "--name", "alice-train", "--init",
                    "-e", "NVIDIA_VISIBLE_DEVICES=void", "pytorch:latest", "sleep", "infinity"]


def test_limits_render_in_both_forms():
    s = spec(cpus=2.5, memory=8 << 30, memory_swap=8 << 30, shm_size=1 << 30, pids_limit=4096,
             cgroup_parent="/ds01/alice", labels={"ds01.user": "alice"})
    host = to_create_body(s)["HostConfig"]
    assert host["NanoCpus"] == 2_500_000_000
    assert host["Memory"] == host["MemorySwap"] == 8 << 30
    assert host["ShmSize"] == 1 << 30
    assert host["PidsLimit"] == 4096
    assert host["CgroupParent"] == "/ds01/alice"
    text = format_argv(to_docker_argv(s))
    for part in ("--cpus 2.5", f"--memory {8 << 30}", f"--memory-swap {8 << 30}",
                 f"--shm-size {1 << 30}", "--pids-limit 4096", "--cgroup-parent /ds01/alice",
                 "--init", "--label ds01.user=alice"):
        assert part in text


@pytest.mark.parametrize(
    ("cpus", "nano", "text"),
    [(0.1, 100_000_000, "0.1"), (2.0, 2_000_000_000, "2"), (1.25, 1_250_000_000, "1.25"),
     (16, 16_000_000_000, "16"), (0.333333333, 333_333_333, "0.333333333")],
)
def test_cpus_are_exact_nano_cpus(cpus, nano, text):
    assert nano_cpus(cpus) == nano
    argv = to_docker_argv(spec(cpus=cpus))
    assert argv[argv.index("--cpus") + 1] == text


def test_gpus_attach_as_device_request_with_quoted_cli_value():
    s = spec(gpu_uuids=MIG)
    body = to_create_body(s)
    assert body["HostConfig"]["DeviceRequests"] == [{
        "Driver": "nvidia", "Count": 0, "DeviceIDs": list(MIG),
        "Capabilities": [["gpu"]], "Options": {},
    }]
    assert not any(e.startswith("NVIDIA_VISIBLE_DEVICES=") for e in body["Env"])
    argv = to_docker_argv(s)
    assert argv[argv.index("--gpus") + 1] == '"device=' + ",".join(MIG) + '"'
    assert f"--gpus '\"device={MIG[0]},{MIG[1]}\"'" in format_argv(argv)


def test_gpu_attach_none_only_sets_visible_devices():
    s = spec(gpu_uuids=MIG, gpu_attach="none")
    body = to_create_body(s)
    assert "DeviceRequests" not in body["HostConfig"]
    assert body["Env"] == ["NVIDIA_VISIBLE_DEVICES=" + ",".join(MIG)]
    argv = to_docker_argv(s)
    assert "--gpus" not in argv
    assert "NVIDIA_VISIBLE_DEVICES=" + ",".join(MIG) in argv


def test_no_device_means_void_so_an_image_default_cannot_expose_gpus():
    for s in (spec(cpu_only=True), spec()):
        assert to_create_body(s)["Env"] == ["NVIDIA_VISIBLE_DEVICES=void"]
        assert "--gpus" not in to_docker_argv(s)


def test_user_binds_workdir_env_labels():
    s = spec(user="1000:1000", binds=(("/home/alice", "/workspace", "rw"), ("/data", "/data", "ro")),
             workdir="/workspace", env={"HOME": "/workspace"}, labels={"a": "1", "b": "x=y"},
             command=("sh", "-c", "echo hi"))
    body = to_create_body(s)
    assert body["User"] == "1000:1000"
    assert body["WorkingDir"] == "/workspace"
    assert body["HostConfig"]["Binds"] == ["/home/alice:/workspace:rw", "/data:/data:ro"]
    assert body["Env"] == ["HOME=/workspace", "NVIDIA_VISIBLE_DEVICES=void"]
    assert body["Labels"] == {"a": "1", "b": "x=y"}
    assert body["Cmd"] == ["sh", "-c", "echo hi"]
    argv = to_docker_argv(s)
    assert argv[-4:] == ["pytorch:latest", "sh", "-c", "echo hi"]
    assert ["--user", "1000:1000"] == argv[argv.index("--user"):argv.index("--user") + 2]
    assert argv.count("-v") == 2 and "/data:/data:ro" in argv
    assert "b=x=y" in argv


def test_init_can_be_left_to_the_engine_default():
    s = spec(init=False)
    assert "Init" not in to_create_body(s)["HostConfig"]
    assert "--init" not in to_docker_argv(s)


@pytest.mark.parametrize(
    ("fields", "phrase"),
    [
        ({"name": "-bad"}, "name must match"),
        ({"name": "a b"}, "name must match"),
        ({"image": ""}, "image"),
        ({"cpus": 0}, "cpus must be > 0"),
        ({"memory": 1024}, "memory must be at least"),
        ({"memory_swap": 1 << 30}, "memory_swap needs memory"),
        ({"memory": 1 << 30, "memory_swap": 1 << 20}, "must be -1 or >= memory"),
        ({"shm_size": 0}, "shm_size"),
        ({"pids_limit": 0}, "pids_limit"),
        ({"gpu_attach": "all"}, "gpu_attach"),
        ({"gpu_uuids": ("GPU-a,GPU-b",)}, "comma"),
        ({"gpu_uuids": ["GPU-a"]}, "tuple"),
        ({"cpu_only": True, "gpu_uuids": ("GPU-a",)}, "cpu_only"),
        ({"env": {"NVIDIA_VISIBLE_DEVICES": "all"}}, "set by ds01"),
        ({"env": {"A=B": "1"}}, "not a valid variable name"),
        ({"labels": {"": "x"}}, "label key"),
        ({"user": "alice"}, "numeric uid:gid"),
        ({"workdir": "rel"}, "absolute"),
        ({"binds": (("/a", "/b", "z"),)}, "bind mode"),
        ({"binds": (("rel", "/b", "ro"),)}, "must be absolute"),
        ({"binds": (("/a:/c", "/b", "ro"),)}, "without ':'"),
        ({"command": ()}, "command"),
    ],
)
def test_invalid_specs_are_refused(fields, phrase):
    with pytest.raises(UsageError) as info:
        spec(**fields)
    assert phrase in info.value.message
    assert info.value.hint


def test_spec_has_no_way_to_ask_for_more_than_policy_grants():
    names = {f.name for f in records.fields(ContainerSpec)}
    for forbidden in ("privileged", "devices", "cap_add", "capabilities", "network_mode",
                      "mounts", "security_opt", "extra_args", "runtime", "ipc_mode"):
        assert forbidden not in names
    with pytest.raises(TypeError):
        ContainerSpec(name="x", image="y", privileged=True)  # type: ignore[call-arg]


def test_spec_is_frozen():
    s = spec()
    with pytest.raises(records.FrozenInstanceError):
        s.cpus = 4  # type: ignore[misc]


def test_spec_keeps_its_own_copies_of_labels_and_env():
    labels, env = {"ds01.user": "alice"}, {"A": "1"}
    s = spec(labels=labels, env=env)
    labels["ds01.user"] = "mallory"
    env["NVIDIA_VISIBLE_DEVICES"] = "all"
    assert s.labels == {"ds01.user": "alice"}
    assert to_create_body(s)["Env"] == ["A=1", "NVIDIA_VISIBLE_DEVICES=void"]
