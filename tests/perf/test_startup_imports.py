"""Start-up cost of the commands that run on every container start and stop.

``ds01 gpu allocate`` and ``ds01 gpu release`` must stay within a small multiple of the
interpreter's own start-up (benchmarks/cli_latency.py). Most of that budget is kept by never
importing heavy modules on their path; this test runs both as real processes under
``python -X importtime`` and fails when one of those modules shows up.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

# Each costs a millisecond or more to import (most pull in more: re, enum, urllib...).
FORBIDDEN = (
    "typing", "dataclasses", "inspect", "shutil", "pathlib", "pickle", "yaml", "rich",
    "difflib", "argparse", "json", "re", "enum", "gettext", "locale", "contextlib",
    "urllib", "ipaddress", "fnmatch", "string", "textwrap", "tempfile", "threading",
    "subprocess", "logging",
)

# What the console script runs (``python -m`` would add runpy's own imports).
ENTRY = "import sys; from ds01.cli.main import main; sys.exit(main())"


@pytest.fixture
def env(tmp_path) -> dict:
    out = {k: v for k, v in os.environ.items()
           if not k.startswith("DS01_") and k != "PYTHONDONTWRITEBYTECODE"}
    out.update(DS01_CONFIG=str(REPO / "examples" / "resource-limits.yaml"),
               DS01_STATE_DIR=str(tmp_path / "state"), DS01_LOG_DIR=str(tmp_path / "log"),
               DS01_HARDWARE=str(REPO / "examples" / "note-server.yaml"))
    return out


def imported(args: list[str], env: dict) -> list[str]:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", ENTRY, *args], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [line.split("|")[-1].strip() for line in proc.stderr.splitlines()
            if line.startswith("import time:") and "|" in line]


def heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if m.split(".")[0] in FORBIDDEN]


def test_allocate_and_release_import_nothing_heavy(env):
    # The first run parses the YAML files and fills the compiled-form cache.
    warm = subprocess.run([sys.executable, "-c", ENTRY, "gpu", "allocate", "alice", "warm"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert warm.returncode == 0, warm.stderr
    allocate = imported(["gpu", "allocate", "alice", "bench", "--gpus", "1"], env)
    release = imported(["gpu", "release", "bench"], env)
    assert "ds01.policy.allocate" in allocate and "sqlite3" in allocate
    assert heavy(allocate) == []
    assert heavy(release) == []
    # release decides nothing: no policy, no configuration
    assert not [m for m in release if m.startswith(("ds01.policy", "ds01.config"))]
