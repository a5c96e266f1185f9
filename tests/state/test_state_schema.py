"""Schema versions and migrations, on real SQLite files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ds01.errors import StateError
from ds01.state import LATEST_VERSION, Store, schema


def _raw(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(db, isolation_level=None)


def _names(db: Path, kind: str) -> set[str]:
    raw = _raw(db)
    try:
        return {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = ?", (kind,))}
    finally:
        raw.close()


def _version(db: Path) -> int:
    raw = _raw(db)
    try:
        return raw.execute("PRAGMA user_version").fetchone()[0]
    finally:
        raw.close()


def test_migration_list_is_ordered_and_has_several_steps():
    versions = [m.version for m in schema.MIGRATIONS]
    assert versions == list(range(1, len(versions) + 1))
    assert len(versions) >= 2
    assert LATEST_VERSION == versions[-1]


def test_new_database_gets_the_latest_schema(db: Path):
    with Store(db) as store:
        assert store.schema_version == LATEST_VERSION
    assert {"allocations", "allocation_devices", "events", "meta"} <= _names(db, "table")
    assert {"events_ts", "events_user"} <= _names(db, "index")


def test_empty_file_is_initialised(db: Path, make_row):
    db.parent.mkdir()
    db.write_bytes(b"")
    with Store(db) as store:
        with store.write() as txn:
            txn.insert(make_row())
        assert store.schema_version == LATEST_VERSION


def _make_old(db: Path, version: int) -> None:
    db.parent.mkdir(parents=True, exist_ok=True)
    raw = _raw(db)
    try:
        raw.execute("PRAGMA journal_mode = WAL")
        raw.execute("BEGIN IMMEDIATE")
        schema.apply(raw, 0, target=version)
        raw.execute(
            "INSERT INTO allocations (container, user, grp, priority, devices, uuids, reserved, "
            "units, since) VALUES ('old', 'alice', 'students', 10, '[\"0\"]', '[\"GPU-x\"]', "
            "'[]', 2, '2026-01-01T00:00:00+00:00')"
        )
        raw.execute("INSERT INTO allocation_devices (device, container) VALUES ('0', 'old')")
        raw.execute(
            "INSERT INTO events (ts, ts_us, event, user, grp, container, priority) VALUES "
            "('2026-01-01T00:00:00+00:00', 1767225600000000, 'ALLOCATED', 'alice', "
            "'students', 'old', 10)"
        )
        raw.execute("COMMIT")
    finally:
        raw.close()


@pytest.mark.parametrize("old_version", range(1, LATEST_VERSION))
def test_migrates_from_an_older_version_keeping_data(db: Path, old_version: int):
    _make_old(db, old_version)
    assert _version(db) == old_version
    assert ("events_ts" in _names(db, "index")) == (old_version >= 2)
    with Store(db) as store:
        assert store.schema_version == LATEST_VERSION
        assert store.integrity_check() == []
        with store.read() as txn:
            old = txn.get("old")
            assert old.devices == ("0",) and old.units == 2 and old.origin == "direct"
            assert [e.container for e in txn.events(user="alice")] == ["old"]
            assert txn.on_device("0") == [old]
            # version 3 copied the holder's priority beside each device
            assert txn.device_load() == {"0": (1, 10)}
    assert {"events_ts", "events_user"} <= _names(db, "index")


def test_failed_migration_changes_nothing(db: Path, monkeypatch):
    _make_old(db, LATEST_VERSION)
    broken = schema.Migration(
        version=LATEST_VERSION + 1,
        summary="adds a table, then fails",
        statements=("CREATE TABLE half_done (x)", "THIS IS NOT SQL"),
    )
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, broken))
    monkeypatch.setattr(schema, "LATEST_VERSION", LATEST_VERSION + 1)
    with pytest.raises(StateError) as caught:
        Store(db)
    assert "updating its schema" in caught.value.message
    monkeypatch.undo()
    assert _version(db) == LATEST_VERSION
    assert "half_done" not in _names(db, "table")
    with Store(db) as store, store.read() as txn:
        assert txn.get("old") is not None


def test_newer_database_is_refused_and_untouched(db: Path):
    _make_old(db, LATEST_VERSION)
    raw = _raw(db)
    raw.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    raw.close()
    before = db.read_bytes()
    with pytest.raises(StateError) as caught:
        Store(db)
    assert f"schema version {LATEST_VERSION + 1}" in caught.value.message
    assert "upgrade ds01" in caught.value.hint
    assert db.read_bytes() == before
    assert _version(db) == LATEST_VERSION + 1


def test_someone_elses_sqlite_file_is_refused_and_untouched(db: Path):
    db.parent.mkdir()
    raw = _raw(db)
    raw.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
    raw.execute("INSERT INTO photos (name) VALUES ('cat.jpg')")
    raw.close()
    before = db.read_bytes()
    with pytest.raises(StateError, match="not a ds01 state database"):
        Store(db)
    assert db.read_bytes() == before
    assert _names(db, "table") == {"photos"}


def test_opening_an_up_to_date_database_runs_no_migration(db: Path, monkeypatch):
    Store(db).close()

    def refuse(*args, **kwargs):
        raise AssertionError("migration ran on an up-to-date database")

    monkeypatch.setattr(schema, "apply", refuse)
    with Store(db) as store, store.read() as txn:
        assert txn.allocations() == []


def test_journal_mode_is_restored_to_wal(db: Path):
    Store(db).close()
    raw = _raw(db)
    assert raw.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
    raw.close()
    Store(db).close()
    raw = _raw(db)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        raw.close()
