"""Many processes, killed processes: real SQLite files and real child processes."""

from __future__ import annotations

import collections
import signal
import sqlite3
from pathlib import Path

import pytest

from ds01.state import Store

pytestmark = pytest.mark.slow

WORKERS = 16
ROUNDS = 50


def _ready(proc, expected: str = "ready") -> None:
    line = proc.stdout.readline().strip()
    if line != expected:
        proc.kill()
        raise AssertionError(f"worker said {line!r}, expected {expected!r}: {proc.stderr.read()}")


def test_concurrent_read_modify_write_loses_nothing(db: Path, worker):
    Store(db).close()
    procs = [worker("rmw", db, ROUNDS, f"w{i:02d}") for i in range(WORKERS)]
    for proc in procs:
        _ready(proc)
    for proc in procs:  # all start together: real contention for the write lock
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out.strip() == "done"
        assert "locked" not in err

    with Store(db) as store, store.read() as txn:
        rows = txn.allocations()
        counter = txn.get_meta("counter")
    total = WORKERS * ROUNDS
    assert counter == str(total)
    names = sorted(r.container for r in rows)
    assert names == [f"c{i:05d}" for i in range(total)]  # no gap (lost update), no duplicate
    per_worker = collections.Counter(r.meta["worker"] for r in rows)
    assert per_worker == {f"w{i:02d}": ROUNDS for i in range(WORKERS)}


def _kill(proc) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL


def _check_after_crash(db: Path, container: str) -> tuple[bool, bool]:
    """Open the store after a crash: it must be intact. Returns (row there, event there)."""
    with Store(db, busy_timeout_s=5) as store:
        assert store.integrity_check() == []
        with store.read() as txn:
            has_row = txn.get(container) is not None
            has_event = any(e.container == container for e in txn.events())
        # and it still takes writes
        with store.write() as txn:
            txn.set_meta("after-crash", "ok")
    raw = sqlite3.connect(db)
    try:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        raw.close()
    return has_row, has_event


@pytest.mark.parametrize("command", ["hold", "spill"])
def test_killed_inside_a_write_transaction_leaves_nothing(db: Path, worker, command):
    Store(db).close()
    proc = worker(command, db)
    _ready(proc)
    if command == "spill":  # the uncommitted pages really reached the WAL file
        assert Path(f"{db}-wal").stat().st_size > 1_000_000
    _kill(proc)
    assert _check_after_crash(db, "crashed") == (False, False)
    with Store(db) as store, store.read() as txn:
        assert txn.events() == []


def test_killed_right_after_commit_keeps_everything(db: Path, worker):
    Store(db).close()
    proc = worker("commit", db)
    _ready(proc, "committed")
    _kill(proc)
    assert _check_after_crash(db, "committed") == (True, True)
