"""The engine client against the real Docker engine, with the registry-free busybox image."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from ds01.errors import EngineError
from ds01.runtime import Engine, EngineResponseError, format_argv, to_docker_argv

from .support import CGROUP_ROOT, SESSION, SESSION_LABELS, TEST_IMAGE

pytestmark = pytest.mark.docker

MiB = 1024 * 1024
LIMIT_KEYS = ("NanoCpus", "Memory", "MemorySwap", "ShmSize", "PidsLimit", "CgroupParent", "Init",
              "Binds")


def wait_until(predicate, timeout_s: float = 10.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout_s}s")


def docker_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120,
                          check=check)


def cgroup_file(engine: Engine, parent: str, ident: str, v1: str, v2: str) -> Path:
    """Where the engine put one control file of a container under an absolute cgroup parent."""
    rel = f"{parent.lstrip('/')}/{ident}"
    if engine.info().cgroup_version == "2":
        return CGROUP_ROOT / rel / v2
    controller = v1.split(".")[0]
    return CGROUP_ROOT / controller / rel / v1


def test_info_matches_the_docker_cli(engine):
    info = engine.info()
    cli = json.loads(docker_cli("info", "--format", "{{json .}}").stdout)
    assert info.cgroup_driver == cli["CgroupDriver"] and info.cgroup_driver in ("cgroupfs", "systemd")
    assert info.cgroup_version == str(cli.get("CgroupVersion") or "1") in ("1", "2")
    assert info.ncpu == cli["NCPU"] >= 1
    assert info.mem_total == cli["MemTotal"] > 0
    assert set(info.runtimes) == set(cli["Runtimes"])
    assert info.has_nvidia_runtime == ("nvidia" in cli["Runtimes"])
    assert engine.ping() is True
    assert engine.image_exists(TEST_IMAGE) and engine.image_exists("ds01-test/busybox")
    assert not engine.image_exists(f"ds01-test/absent-{SESSION}:latest")


def test_round_trip_with_limits(engine, make_spec, cgroup_base):
    parent = f"{cgroup_base}/round-trip"
    spec = make_spec("rt", cpus=0.5, memory=64 * MiB, memory_swap=128 * MiB, shm_size=16 * MiB,
                     pids_limit=64, cgroup_parent=parent, labels={"ds01.user": "alice"})
    ident = engine.create(spec)
    assert len(ident) == 64

    created = engine.inspect(ident)
    host = created["HostConfig"]
    assert host["NanoCpus"] == 500_000_000
    assert host["Memory"] == 64 * MiB and host["MemorySwap"] == 128 * MiB
    assert host["ShmSize"] == 16 * MiB and host["PidsLimit"] == 64
    assert host["CgroupParent"] == parent and host["Init"] is True
    assert created["Name"] == f"/{spec.name}" and created["State"]["Status"] == "created"
    assert created["Config"]["Labels"]["ds01.user"] == "alice"
    assert "NVIDIA_VISIBLE_DEVICES=void" in created["Config"]["Env"]

    assert engine.start(ident) is True
    assert engine.start(ident) is False  # 304: already running
    assert engine.inspect(spec.name)["State"]["Running"] is True

    # the limits reached the kernel under the requested parent
    mem = cgroup_file(engine, parent, ident, "memory.limit_in_bytes", "memory.max")
    pids = cgroup_file(engine, parent, ident, "pids.max", "pids.max")
    assert int(mem.read_text()) == 64 * MiB
    assert int(pids.read_text()) == 64

    mine = engine.list({"ds01.test.session": SESSION, "ds01.user": "alice"})
    assert [c["Id"] for c in mine] == [ident]
    assert mine[0]["Names"] == [f"/{spec.name}"] and mine[0]["State"] == "running"
    assert engine.list({"ds01.user": None, "ds01.test.session": SESSION})[0]["Id"] == ident
    assert engine.list({"ds01.test.session": SESSION, "ds01.user": "bob"}) == []

    assert engine.stop(ident, timeout_s=10) is True
    assert engine.stop(ident, timeout_s=10) is False  # 304: already stopped
    assert engine.inspect(ident)["State"]["Running"] is False
    assert [c["State"] for c in engine.list({"ds01.test.session": SESSION, "ds01.user": "alice"})] == ["exited"]
    assert engine.list({"ds01.test.session": SESSION, "ds01.user": "alice"}, all=False) == []

    assert engine.remove(ident) is True
    assert engine.inspect(ident) is None
    assert engine.list({"ds01.test.session": SESSION, "ds01.user": "alice"}) == []


def test_logs_are_demultiplexed_and_wait_gives_the_exit_code(engine, make_spec):
    script = "echo one; echo two; sleep 0.05; echo oops >&2; exit 3"
    spec = make_spec("logs", command=("sh", "-c", script))
    ident = engine.create(spec)
    engine.start(ident)
    assert engine.wait(ident, timeout_s=30) == 3
    assert engine.logs(ident) == b"one\ntwo\noops\n"
    assert engine.logs(ident, stderr=False) == b"one\ntwo\n"
    assert engine.logs(ident, stdout=False) == b"oops\n"
    assert engine.logs(ident, tail=2) == b"two\noops\n"
    assert engine.logs(ident, tail=0) == b""
    engine.remove(ident)
    assert engine.wait(ident) is None
    with pytest.raises(EngineResponseError) as info:
        engine.logs(ident)
    assert info.value.status == 404


def test_gone_semantics(engine, make_spec):
    spec = make_spec("gone")
    ident = engine.create(spec)
    assert engine.kill(ident) is False  # 409 "is not running": nothing to kill
    assert engine.stop(ident) is False  # never started: 304
    engine.start(ident)
    assert engine.kill(ident, "SIGKILL") is True
    wait_until(lambda: not engine.inspect(ident)["State"]["Running"])

    assert engine.remove(ident) is True
    assert engine.remove(ident) is False  # 404: already gone
    assert engine.stop(ident) is False
    assert engine.kill(ident) is False
    assert engine.inspect(ident) is None
    assert engine.inspect(f"ds01-test-{SESSION}-never-made") is None

    with pytest.raises(EngineResponseError) as info:
        engine.start(ident)  # starting something missing is an error, not "done"
    assert info.value.status == 404 and isinstance(info.value, EngineError)


def test_engine_refusals_carry_status_message_and_hint(engine, make_spec):
    spec = make_spec("dup")
    engine.create(spec)
    with pytest.raises(EngineResponseError) as info:
        engine.create(spec)
    err = info.value
    assert err.status == 409 and "already in use" in err.engine_message
    assert err.engine_message in err.message and "remove the old container" in err.hint

    missing = make_spec("noimg", image=f"ds01-test/absent-{SESSION}:latest")
    with pytest.raises(EngineResponseError) as info:
        engine.create(missing)
    assert info.value.status == 404 and "image" in info.value.hint
    assert engine.inspect(missing.name) is None


def test_docker_run_argv_creates_the_same_container(engine, make_spec, cgroup_base, tmp_path):
    (tmp_path / "data").mkdir()
    fields = dict(cpus=0.25, memory=48 * MiB, memory_swap=96 * MiB, shm_size=8 * MiB,
                  pids_limit=32, cgroup_parent=f"{cgroup_base}/argv", init=True,
                  labels={"ds01.user": "alice", "ds01.note": "a b=c"},
                  env={"GREETING": "hello world"}, user="65534:65534", workdir="/tmp",
                  binds=((str(tmp_path / "data"), "/data", "ro"),))
    by_api = make_spec("api", **fields)
    by_cli = make_spec("cli", **fields)
    api_id = engine.create(by_api)
    engine.start(api_id)
    argv = to_docker_argv(by_cli)
    assert argv[:3] == ["docker", "run", "-d"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{format_argv(argv)}\n{done.stderr}"

    a, c = engine.inspect(api_id), engine.inspect(by_cli.name)
    assert c["Id"] == done.stdout.strip()
    for key in LIMIT_KEYS:
        assert a["HostConfig"][key] == c["HostConfig"][key], key
    for key in ("Labels", "User", "WorkingDir", "Cmd", "Image"):
        assert a["Config"][key] == c["Config"][key], key
    # the same variables; the docker CLI does not always keep the order of its -e flags
    assert sorted(a["Config"]["Env"]) == sorted(c["Config"]["Env"])
    assert a["State"]["Running"] and c["State"]["Running"]


def test_gpu_argv_and_body_ask_for_the_same_devices(engine, make_spec):
    """No GPU here: both containers are created, then starting fails on the missing driver."""
    uuids = (f"GPU-{SESSION}-0", f"MIG-{SESSION}-1")
    by_api = make_spec("gpu-api", gpu_uuids=uuids)
    by_cli = make_spec("gpu-cli", gpu_uuids=uuids)
    engine.create(by_api)
    subprocess.run(to_docker_argv(by_cli), capture_output=True, text=True, timeout=120)
    a, c = engine.inspect(by_api.name), engine.inspect(by_cli.name)
    assert c is not None, "docker run did not even create the container"
    (ra,), (rc,) = a["HostConfig"]["DeviceRequests"], c["HostConfig"]["DeviceRequests"]
    assert ra["DeviceIDs"] == rc["DeviceIDs"] == list(uuids)
    assert ra["Capabilities"] == rc["Capabilities"] == [["gpu"]]
    assert ra["Driver"] == "nvidia"


@pytest.mark.parametrize("how", ["cli", "api"])
def test_idle_command_stops_promptly(engine, make_spec, how):
    spec = make_spec(f"stop-{how}")
    ident = engine.create(spec)
    engine.start(ident)
    wait_until(lambda: engine.inspect(ident)["State"]["Running"])
    time.sleep(0.2)  # let tini start the idle command
    started = time.monotonic()
    if how == "cli":
        docker_cli("stop", "-t", "10", spec.name)
    else:
        assert engine.stop(ident, timeout_s=10) is True
    elapsed = time.monotonic() - started
    state = engine.inspect(ident)["State"]
    assert not state["Running"]
    assert elapsed < 2.0, f"stop took {elapsed:.2f}s: SIGTERM did not reach the idle command"
    assert state["ExitCode"] == 143  # 128 + SIGTERM, not 137 (SIGKILL after the grace time)


def test_one_connection_is_reused(engine):
    engine.ping()
    first = engine._conn
    engine.info()
    engine.list(SESSION_LABELS)
    assert engine._conn is first and first.sock is not None
