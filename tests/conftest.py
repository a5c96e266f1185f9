"""Shared fixtures: an isolated ds01 installation per test (config, state, logs, hardware)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "src" / "ds01" / "data"
EXAMPLE_CONFIG = DATA / "resource-limits.yaml"


def shared_dir() -> Path:
    return Path(os.environ.get("DS01_SHARED_DIR") or REPO.parent / "shared")


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


@dataclass
class Ds01Env:
    """One isolated installation: paths in env vars, commands run in-process or as processes."""

    root: Path
    env: dict
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture

    @property
    def config(self) -> Path:
        return Path(self.env["DS01_CONFIG"])

    def set(self, **values: str | None) -> None:
        for key, value in values.items():
            name = key if key.startswith("DS01_") else f"DS01_{key.upper()}"
            if value is None:
                self.env.pop(name, None)
                self.monkeypatch.delenv(name, raising=False)
            else:
                self.env[name] = str(value)
                self.monkeypatch.setenv(name, str(value))

    def write_config(self, text: str) -> Path:
        path = self.root / "resource-limits.yaml"
        path.write_text(text)
        self.set(config=str(path))
        return path

    def cli(self, *args: str) -> CliResult:
        """Run ``ds01 ARGS`` in this process (fast); output captured."""
        from ds01.cli.main import main

        self.capsys.readouterr()
        code = main([str(a) for a in args])
        captured = self.capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    def process(self, *args: str, exe: str = "ds01", timeout: float = 60) -> CliResult:
        """Run a console script as a real process (for exit codes, tracebacks, concurrency)."""
        script = Path(sys.executable).parent / exe
        proc = subprocess.run([str(script), *map(str, args)], env={**os.environ, **self.env},
                              capture_output=True, text=True, timeout=timeout)
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    def allocate(self, user: str, container: str, *flags: str) -> CliResult:
        return self.cli("gpu", "allocate", user, container, *flags, "--json")

    def status(self) -> dict:
        res = self.cli("gpu", "status", "--json")
        assert res.code == 0, res.err
        return res.json()


@pytest.fixture
def ds01(tmp_path, monkeypatch, capsys) -> Ds01Env:
    """A fresh ds01 with the example config on the note's simulated server."""
    for name in list(os.environ):
        if name.startswith("DS01_") and name not in ("DS01_SHARED_DIR", "DS01_REQUIRE_SHARED",
                                                     "DS01_REQUIRE_DOCKER"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("NO_COLOR", raising=False)
    config = tmp_path / "resource-limits.yaml"
    shutil.copy(EXAMPLE_CONFIG, config)
    env = Ds01Env(tmp_path, {}, monkeypatch, capsys)
    env.set(config=str(config), state_dir=str(tmp_path / "state"),
            log_dir=str(tmp_path / "log"), hardware="builtin:note-server",
            now="2026-12-01T09:00:00+00:00")
    return env
