"""Names and helpers shared by the runtime, cgroups and launcher tests and their fixtures."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

TEST_IMAGE = "ds01-test/busybox:latest"
#: Unique to one pytest run, so parallel runs never touch each other's containers or cgroups.
SESSION = uuid.uuid4().hex[:10]
SESSION_LABELS = {"ds01.test": "1", "ds01.test.session": SESSION}
CGROUP_ROOT = Path("/sys/fs/cgroup")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Skip on a developer machine; fail in CI, where these tests must really run."""
    if in_ci():
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def remove_cgroup_tree(rel: str) -> None:
    """Remove the (process-free) cgroup ``rel`` and everything below it, deepest first, from
    the unified mount and every v1 hierarchy; what is still busy stays."""
    if not CGROUP_ROOT.is_dir():
        return
    hierarchies = [p for p in CGROUP_ROOT.iterdir() if p.is_dir() and not p.is_symlink()]
    for hierarchy in [CGROUP_ROOT, *hierarchies]:
        top = hierarchy / rel.lstrip("/")
        if not top.is_dir():
            continue
        below = (p for p in top.rglob("*") if p.is_dir())
        for path in [*sorted(below, key=lambda p: -len(p.parts)), top]:
            try:
                path.rmdir()
            except OSError:
                pass
