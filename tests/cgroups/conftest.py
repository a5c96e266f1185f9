"""Fixtures for the cgroups room: the real v1 hierarchy of this machine, and fake v2 trees."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ds01.cgroups.fs import CgroupTree, detect_version
from tests.runtime.support import unavailable

REAL_MOUNT = Path("/sys/fs/cgroup")
# Controllers a v2 kernel typically lists in the root's cgroup.controllers.
V2_CONTROLLERS = "cpuset cpu io memory hugetlb pids rdma misc"


def _real_v1_tree() -> CgroupTree:
    try:
        version = detect_version(REAL_MOUNT)
    except Exception as exc:  # noqa: BLE001 - any reason means "not available here"
        unavailable(f"no cgroup hierarchy at {REAL_MOUNT}: {exc}")
    if version != 1:
        unavailable(f"{REAL_MOUNT} is cgroup v{version}, these tests need v1")
    if os.geteuid() != 0:
        unavailable("managing cgroups needs root")
    return CgroupTree(REAL_MOUNT)


@pytest.fixture
def v1():
    """(tree, root): the real v1 hierarchy and a unique top-level name; removed afterwards."""
    tree = _real_v1_tree()
    root = f"ds01-test-{secrets.token_hex(4)}"
    yield tree, root
    result = tree.remove(root)
    assert result.complete, f"test cgroups left behind: {result.busy}"


@pytest.fixture
def children():
    """Start helper processes; every one still running is killed at the end."""
    started: list[subprocess.Popen] = []

    def start(code: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)


def make_fake_v2(root: Path, controllers: str = V2_CONTROLLERS, enabled: str = "") -> Path:
    """A directory laid out like the root of a cgroup v2 mount."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "cgroup.controllers").write_text(controllers + "\n")
    (root / "cgroup.subtree_control").write_text(enabled + ("\n" if enabled else ""))
    for name in ("cgroup.procs", "cgroup.threads", "cgroup.max.depth", "cpu.stat"):
        (root / name).write_text("")
    return root


def settle_v2(root: Path) -> None:
    """Play the kernel's part in a fake v2 tree, top down.

    A new cgroup directory gets its core files (``cgroup.procs``, an empty
    ``cgroup.subtree_control``, ``cgroup.controllers`` listing what its parent enabled), and
    ``+cpu +memory`` written to ``cgroup.subtree_control`` reads back as ``cpu memory``.
    """
    for cgroup in sorted([root, *(p for p in root.rglob("*") if p.is_dir())]):
        control = cgroup / "cgroup.subtree_control"
        if cgroup != root:
            parent_enabled = (cgroup.parent / "cgroup.subtree_control").read_text()
            (cgroup / "cgroup.controllers").write_text(parent_enabled)
            (cgroup / "cgroup.procs").touch()
            control.touch()
        names = [w.lstrip("+") for w in control.read_text().split()]
        control.write_text(" ".join(names) + ("\n" if names else ""))


@pytest.fixture
def fake_v2(tmp_path):
    """The root of a fake cgroup v2 mount (every controller available, none enabled)."""
    return make_fake_v2(tmp_path / "cgroup")


@pytest.fixture
def fake_v2_factory():
    """make_fake_v2, for tests that need other controllers or a pre-enabled root."""
    return make_fake_v2


@pytest.fixture
def settle():
    """settle_v2: play the kernel's part after writes to cgroup.subtree_control."""
    return settle_v2


@pytest.fixture
def tool():
    """Find a command-line tool; skip (fail in CI) when it is missing."""

    def find(name: str) -> str:
        path = shutil.which(name)
        if path is None:
            unavailable(f"{name} is not installed")
        return path

    return find
