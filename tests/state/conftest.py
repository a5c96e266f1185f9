"""Fixtures for the state tests: database paths, sample rows, and child processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ds01.state import AllocationRow, Event

WORKER = Path(__file__).with_name("state_worker.py")
TS = "2026-12-01T09:00:00+00:00"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Where a state database goes (its directory does not exist yet)."""
    return tmp_path / "state" / "state.db"


@pytest.fixture
def make_row():
    def make(container: str = "training1", **changes) -> AllocationRow:
        values = dict(
            container=container, user="alice", group="researchers", priority=10,
            devices=("1:0",), uuids=("MIG-aaaa",), reserved=(), units=1, since=TS,
        )
        values.update(changes)
        return AllocationRow(**values)

    return make


@pytest.fixture
def make_event():
    def make(container: str = "training1", **changes) -> Event:
        values = dict(
            ts=TS, event="ALLOCATED", user="alice", group="researchers", container=container,
            priority=10, devices=("1:0",), units=1, units_held=1, units_limit=2,
        )
        values.update(changes)
        return Event(**values)

    return make


@pytest.fixture
def worker():
    """Start ``state_worker.py`` children; any still running at teardown are killed."""
    started: list[subprocess.Popen] = []

    def start(*args: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, str(WORKER), *map(str, args)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream:
                stream.close()
