"""Fixtures for the launcher: the real engine, real cgroups, real Unix users, an isolated ds01.

- The engine and the registry-free test image come from the runtime tests' ``docker_ready``
  (``.ci/docker-up``).
- Unix users (alice, bob, an admin) are created for the session with a unique prefix, and the
  test config names exactly them; they are deleted at the end.
- Each test gets its own state, logs, config and ``containers.instance`` label value, so its
  containers are found and removed by that label; the session's ``containers.cgroup_root``
  (``/ds01-test-<session>``) is removed from every cgroup hierarchy at the end.
- Commands run as a user the way sudo runs them: as root with SUDO_USER/SUDO_UID/SUDO_GID.
"""

from __future__ import annotations

import itertools
import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ds01.runtime import Engine
from tests.runtime.conftest import docker_ready  # noqa: F401  (the engine + the test image)
from tests.runtime.support import (  # noqa: F401  (unavailable: for the tests here)
    CGROUP_ROOT,
    SESSION,
    TEST_IMAGE,
    remove_cgroup_tree,
    unavailable,
)

VENV_BIN = Path(sys.executable).parent
REPO_ROOT = Path(__file__).resolve().parents[2]
PREFIX = f"u{SESSION[:6]}"
ROLES = ("alice", "bob", "admin")
CGROUP_BASE = f"/ds01-test-{SESSION}"
MISSING_IMAGE = f"ds01-test/absent-{SESSION}:latest"
_instances = itertools.count()
_used_instances: list[str] = []


class Result:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    def json(self):
        return json.loads(self.out)

    def __repr__(self) -> str:
        return f"Result(code={self.code}, out={self.out[-400:]!r}, err={self.err[-400:]!r})"


@pytest.fixture(scope="session")
def unix_users():
    """role -> real account name, created for this session and deleted after."""
    if os.geteuid() != 0:
        unavailable("creating Unix users and cgroups needs root")
    names = {role: f"{PREFIX}{role}" for role in ROLES}
    made = []
    try:
        for name in names.values():
            subprocess.run(["useradd", "--no-create-home", "--user-group", "--shell",
                            "/bin/sh", name], check=True, capture_output=True, text=True)
            made.append(name)
        yield names
    finally:
        for name in made:
            subprocess.run(["userdel", name], capture_output=True)


@pytest.fixture(scope="session")
def session_cgroups(docker_ready):  # noqa: F811
    """The session's cgroup root; every container of the session is removed first."""
    yield CGROUP_BASE
    with Engine() as engine:
        for inst in _used_instances:
            for item in engine.list({"ds01.instance": inst}):
                engine.remove(item["Id"], force=True)
    remove_cgroup_tree(CGROUP_BASE)


def base_config(users: dict, instance: str, home: Path) -> dict:
    return {
        "defaults": {
            "priority": 1, "max_mig_instances": 2, "max_full_gpus": 1,
            "max_containers_per_user": 3, "max_cpus": 1, "memory": "64m", "shm_size": "16m",
            "pids_limit": 128, "idle_timeout": None, "slice_cpus": 1.5, "slice_memory": "96m",
            "max_tasks": 256,
        },
        "groups": {
            "student": {"priority": 10, "members": [users["alice"], users["bob"]],
                        "aggregate": {"cpus": 2, "memory": "512m", "tasks": 2048}},
            "staff": {"priority": 90, "admin": True, "members": [users["admin"]]},
        },
        "images": {"busybox": TEST_IMAGE, "missing": MISSING_IMAGE},
        "containers": {
            "gpu_attach": "none", "allow_raw_images": False, "run_as_user": True,
            "mounts": {f"{home}/{{user}}/workspace": "/workspace"},
            "gpu_hold_after_stop": 0, "instance": instance, "cgroup_root": CGROUP_BASE,
        },
    }


class Launcher:
    """One isolated installation, and ways to run its commands as a given user."""

    def __init__(self, root: Path, users: dict, monkeypatch, capsys):
        self.root = root
        self.users = users
        self.monkeypatch = monkeypatch
        self.capsys = capsys
        self.instance = f"t{SESSION}-{next(_instances)}"
        _used_instances.append(self.instance)
        self.home = root / "home"
        self.home.mkdir()
        self.config = base_config(users, self.instance, self.home)
        self.env = {"DS01_CONFIG": str(root / "resource-limits.yaml"),
                    "DS01_STATE_DIR": str(root / "state"), "DS01_LOG_DIR": str(root / "log"),
                    "DS01_HARDWARE": "builtin:note-server"}
        for key, value in self.env.items():
            monkeypatch.setenv(key, value)
        for key in ("DS01_NOW", "SUDO_USER", "SUDO_UID", "SUDO_GID"):
            monkeypatch.delenv(key, raising=False)
        self.engine = Engine()
        self.write()

    def write(self) -> None:
        Path(self.env["DS01_CONFIG"]).write_text(yaml.safe_dump(self.config))

    def set_hardware(self, text: str) -> None:
        path = self.root / "hardware.yaml"
        path.write_text(text)
        self.env["DS01_HARDWARE"] = str(path)
        self.monkeypatch.setenv("DS01_HARDWARE", str(path))

    def user(self, role: str) -> str:
        return self.users.get(role, role)

    def sudo_env(self, role: str | None) -> dict:
        if role is None:
            return {}
        entry = pwd.getpwnam(self.user(role))
        return {"SUDO_USER": entry.pw_name, "SUDO_UID": str(entry.pw_uid),
                "SUDO_GID": str(entry.pw_gid)}

    def container(self, role: str | None, *args: str) -> Result:
        """``container ARGS`` in this process, as ``role`` called it through sudo."""
        from ds01.cli.container_cmd import main

        return self._in_process(main, role, args)

    def ds01(self, *args: str, role: str | None = None) -> Result:
        from ds01.cli.main import main

        return self._in_process(main, role, args)

    def _in_process(self, main, role, args) -> Result:
        env = self.sudo_env(role)
        for key, value in env.items():
            self.monkeypatch.setenv(key, value)
        self.capsys.readouterr()
        try:
            code = main([str(a) for a in args])
        finally:
            for key in env:
                self.monkeypatch.delenv(key, raising=False)
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def process(self, role: str | None, *args: str, exe: str = "container",
                stdin: str | None = None, timeout: float = 60) -> Result:
        """The console script as a real process (exit codes, exec of docker)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SUDO_")}
        env.update(self.env)
        env.update(self.sudo_env(role))
        proc = subprocess.run([str(VENV_BIN / exe), *map(str, args)], env=env, input=stdin,
                              capture_output=True, text=True, timeout=timeout)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def inspect(self, role: str, name: str) -> dict | None:
        return self.engine.inspect(f"ds01.{self.user(role)}.{name}")

    def exec_in(self, role: str, name: str, script: str, check: bool = True):
        return subprocess.run(["docker", "exec", f"ds01.{self.user(role)}.{name}", "sh", "-c",
                               script], capture_output=True, text=True, timeout=60, check=check)

    def status(self) -> dict:
        res = self.ds01("gpu", "status", "--json")
        assert res.code == 0, res
        return res.json()

    def events(self, **filters) -> list:
        from ds01.state.store import Store

        store = Store(Path(self.env["DS01_STATE_DIR"]) / "state.db")
        try:
            with store.read() as tx:
                return tx.events(**filters)
        finally:
            store.close()

    def allocations(self) -> list:
        from ds01.state.store import Store

        store = Store(Path(self.env["DS01_STATE_DIR"]) / "state.db")
        try:
            with store.read() as tx:
                return tx.allocations()
        finally:
            store.close()

    def cleanup(self) -> None:
        for item in self.engine.list({"ds01.instance": self.instance}):
            self.engine.remove(item["Id"], force=True)
        self.engine.close()


@pytest.fixture
def launcher(tmp_path, monkeypatch, capsys, unix_users, session_cgroups) -> Launcher:
    inst = Launcher(tmp_path, unix_users, monkeypatch, capsys)
    yield inst
    inst.cleanup()


def cgroup_dir(controller: str, rel: str) -> Path:
    return CGROUP_ROOT / controller / rel.lstrip("/")


def read_int(path: Path) -> int:
    return int(path.read_text().split()[0])
