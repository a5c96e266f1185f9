"""Fixtures for the engine seam: a real Docker engine, the registry-free test image, cleanup.

``docker_ready`` runs ``.ci/docker-up`` once per session. When the engine cannot be brought up
the docker tests fail under CI=true and are skipped (with the reason) elsewhere.

Every container a test makes carries ``ds01.test=1`` plus a label unique to this session, and
is removed at the end even when the test fails; the session's cgroup parents are removed too.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ds01.runtime import ContainerSpec, Engine

from .support import (
    CGROUP_ROOT,
    SESSION,
    SESSION_LABELS,
    TEST_IMAGE,
    remove_cgroup_tree,
    unavailable,
)

REPO = Path(__file__).resolve().parents[2]
DOCKER_UP = REPO / ".ci" / "docker-up"


@pytest.fixture(scope="session")
def docker_ready() -> None:
    """Make sure the engine answers and the test image exists (fail in CI, skip elsewhere)."""
    try:
        done = subprocess.run(
            ["bash", str(DOCKER_UP)], capture_output=True, text=True, timeout=900
        )
        problem = None if done.returncode == 0 else (done.stdout + done.stderr).strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        problem = f"{type(exc).__name__}: {exc}"
    if problem is None:
        try:
            with Engine() as engine:
                engine.ping()
        except Exception as exc:  # noqa: BLE001  (any failure means: no usable engine)
            problem = str(exc)
    if problem is not None:
        unavailable(f".ci/docker-up could not provide a usable Docker engine:\n{problem}")


@pytest.fixture
def engine(docker_ready):
    with Engine() as client:
        yield client


@pytest.fixture(scope="session")
def cgroup_base(docker_ready):
    """An absolute cgroup parent unique to this session, removed from every hierarchy after."""
    base = f"/ds01-test/{SESSION}"
    yield base
    _remove_session_containers()
    remove_cgroup_tree(base)
    for hierarchy in [CGROUP_ROOT, *CGROUP_ROOT.glob("*/")]:
        try:
            (hierarchy / "ds01-test").rmdir()  # only when no other session still uses it
        except OSError:
            pass


@pytest.fixture
def make_spec(docker_ready, cgroup_base):
    """Build a ContainerSpec with a unique name and this session's labels; remove after."""
    names: list[str] = []

    def build(tag: str = "c", **fields) -> ContainerSpec:
        name = f"ds01-test-{SESSION}-{tag}-{len(names)}"
        names.append(name)
        labels = {**SESSION_LABELS, **fields.pop("labels", {})}
        return ContainerSpec(name=name, image=fields.pop("image", TEST_IMAGE), labels=labels,
                             **fields)

    yield build
    with Engine() as client:
        for name in names:
            client.remove(name, force=True)


def _remove_session_containers() -> None:
    with Engine() as client:
        for item in client.list(SESSION_LABELS):
            client.remove(item["Id"], force=True)

