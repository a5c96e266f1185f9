"""Damaged, unreadable and unwritable databases: a clear StateError, and the file untouched."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest

from ds01.errors import StateError
from ds01.state import Store


def _fill(db: Path, make_row, n: int = 200) -> None:
    with Store(db) as store, store.write() as txn:
        for i in range(n):
            txn.insert(make_row(f"c{i:04d}", meta={"pad": "x" * 200}))


def _refused(db: Path) -> StateError:
    """Open ``db`` and read everything; return the StateError that must come."""
    with pytest.raises(StateError) as caught:
        with Store(db, busy_timeout_s=1) as store, store.read() as txn:
            txn.allocations()
            txn.events()
    return caught.value


def test_garbage_file_is_refused_and_left_as_it_was(db: Path):
    db.parent.mkdir()
    garbage = bytes(range(256)) * 64
    db.write_bytes(garbage)
    error = _refused(db)
    assert str(db) in error.message
    assert "not a database" in error.message  # what SQLite said
    assert "move" in error.hint and "backup" in error.hint
    assert db.read_bytes() == garbage


def test_damaged_table_page_is_refused_and_left_as_it_was(db: Path, make_row):
    _fill(db, make_row)
    raw = sqlite3.connect(db)
    page_size = raw.execute("PRAGMA page_size").fetchone()[0]
    sql = "SELECT rootpage FROM sqlite_master WHERE name = 'allocations'"
    root = raw.execute(sql).fetchone()[0]
    raw.close()
    assert root > 1  # the header page stays valid: only the table is damaged
    with open(db, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\xa5" * page_size)
    damaged = db.read_bytes()
    error = _refused(db)
    assert "damaged" in error.message and "malformed" in error.message
    assert "restore" in error.hint
    assert db.read_bytes() == damaged


def test_truncated_file_is_refused(db: Path, make_row):
    _fill(db, make_row)
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 3])
    before = db.read_bytes()
    error = _refused(db)
    assert str(db) in error.message
    assert db.read_bytes() == before


def test_directory_where_the_file_should_be(db: Path):
    db.mkdir(parents=True)
    error = _refused(db)
    assert str(db) in error.message and "unable to open" in error.message
    assert "sudo" in error.hint
    assert db.is_dir() and list(db.iterdir()) == []


def test_file_where_the_state_directory_should_be(tmp_path: Path):
    blocker = tmp_path / "state"
    blocker.write_text("not a directory")
    with pytest.raises(StateError) as caught:
        Store(blocker / "state.db")
    assert "state.db" in caught.value.message and caught.value.hint
    assert blocker.read_text() == "not a directory"


@pytest.fixture
def shared_dir():
    """A directory an unprivileged user can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="ds01-state-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def _as_unprivileged(worker, db: Path) -> dict:
    """Open and write ``db`` in a child that drops root to 'nobody' (or runs as is)."""
    proc = worker("locked-out", db)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return json.loads(out)


def test_permission_denied_on_the_file(shared_dir: Path, make_row, worker):
    db = shared_dir / "state.db"
    _fill(db, make_row, n=3)
    shared_dir.chmod(0o777)  # the directory is open: only the file's mode stands in the way
    db.chmod(0o000)
    before = os.stat(db)
    try:
        result = _as_unprivileged(worker, db)
    finally:
        db.chmod(0o644)
    assert "error" in result, result
    assert str(db) in result["error"] and "unable to open" in result["error"]
    assert "sudo" in result["hint"]
    after = os.stat(db)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def test_read_only_database_refuses_writes(shared_dir: Path, make_row, worker):
    db = shared_dir / "state.db"
    _fill(db, make_row, n=3)
    before = db.read_bytes()
    db.chmod(0o444)
    shared_dir.chmod(0o555)
    try:
        result = _as_unprivileged(worker, db)
    finally:
        shared_dir.chmod(0o755)
        db.chmod(0o644)
    assert "error" in result, result
    assert str(db) in result["error"]
    assert "sudo" in result["hint"]
    assert db.read_bytes() == before
    with Store(db) as store, store.read() as txn:
        assert txn.get_meta("touched") is None


def test_row_changed_outside_ds01_is_reported(db: Path, make_row):
    _fill(db, make_row, n=1)
    raw = sqlite3.connect(db)
    raw.execute("UPDATE allocations SET devices = 'not json' WHERE container = 'c0000'")
    raw.commit()
    raw.close()
    with Store(db) as store, store.read() as txn:
        with pytest.raises(StateError, match="unreadable data in allocations") as caught:
            txn.get("c0000")
    assert "backup" in caught.value.hint


def test_missing_database_with_a_leftover_journal_is_refused(db: Path):
    db.parent.mkdir()
    wal = Path(f"{db}-wal")
    wal.write_bytes(b"journal of a database that is gone")
    with pytest.raises(StateError, match="is missing but its journal") as caught:
        Store(db)
    assert "backup" in caught.value.hint
    assert not db.exists()
    assert wal.read_bytes() == b"journal of a database that is gone"
