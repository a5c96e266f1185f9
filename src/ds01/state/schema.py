"""The state database schema, as an ordered list of migration steps.

The schema version lives in ``PRAGMA user_version``; a database at version ``v`` has had exactly
the steps numbered ``1..v`` applied. The store applies the missing steps, all in one
transaction, only when a database is behind. Steps are append-only: never edit a released step,
add a new one instead.

The ``application_id`` header field marks a file as a ds01 state database, so that another
program's SQLite file is never mistaken for ours and migrated.
"""

from __future__ import annotations

import sqlite3
from ds01.records import record

APPLICATION_ID = 0x44533031  # "DS01"


@record
class Migration:
    """One schema step: the version it brings the database to, and its statements."""

    version: int
    summary: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        summary="base schema: allocations, allocation_devices, events, meta",
        statements=(
            f"PRAGMA application_id = {APPLICATION_ID}",
            """
            CREATE TABLE allocations (
                container    TEXT PRIMARY KEY NOT NULL,
                user         TEXT NOT NULL,
                grp          TEXT NOT NULL,
                priority     INTEGER NOT NULL,
                devices      TEXT NOT NULL DEFAULT '[]',
                uuids        TEXT NOT NULL DEFAULT '[]',
                reserved     TEXT NOT NULL DEFAULT '[]',
                units        INTEGER NOT NULL DEFAULT 0,
                since        TEXT NOT NULL,
                origin       TEXT NOT NULL DEFAULT 'direct',
                container_id TEXT,
                meta         TEXT NOT NULL DEFAULT '{}'
            )
            """,
            """
            CREATE TABLE allocation_devices (
                device    TEXT NOT NULL,
                container TEXT NOT NULL
                          REFERENCES allocations(container) ON DELETE CASCADE ON UPDATE CASCADE,
                PRIMARY KEY (device, container)
            ) WITHOUT ROWID
            """,
            "CREATE INDEX allocation_devices_container ON allocation_devices(container)",
            """
            CREATE TABLE events (
                id          INTEGER PRIMARY KEY AUTOINCREMENT,
                ts          TEXT NOT NULL,
                ts_us       INTEGER NOT NULL,
                event       TEXT NOT NULL,
                user        TEXT NOT NULL,
                grp         TEXT NOT NULL,
                container   TEXT NOT NULL,
                priority    INTEGER NOT NULL,
                devices     TEXT NOT NULL DEFAULT '[]',
                units       INTEGER NOT NULL DEFAULT 0,
                units_held  INTEGER,
                units_limit INTEGER,
                reason      TEXT,
                message     TEXT,
                meta        TEXT NOT NULL DEFAULT '{}'
            )
            """,
            """
            CREATE TABLE meta (
                key   TEXT PRIMARY KEY NOT NULL,
                value TEXT NOT NULL
            ) WITHOUT ROWID
            """,
        ),
    ),
    Migration(
        version=2,
        summary="indexes: events by time and by user, allocations by user",
        statements=(
            "CREATE INDEX events_ts ON events(ts_us, id)",
            "CREATE INDEX events_user ON events(user, ts_us)",
            "CREATE INDEX allocations_user ON allocations(user)",
        ),
    ),
    Migration(
        version=3,
        summary="allocation_devices carries the holder's priority (per-device load in one scan)",
        statements=(
            "ALTER TABLE allocation_devices ADD COLUMN priority INTEGER NOT NULL DEFAULT 0",
            "UPDATE allocation_devices SET priority = (SELECT a.priority FROM allocations a"
            " WHERE a.container = allocation_devices.container)",
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version if MIGRATIONS else 0


def pending(current: int, target: int | None = None) -> list[Migration]:
    """The steps that bring a database at ``current`` up to ``target`` (default: the latest)."""
    goal = LATEST_VERSION if target is None else target
    return [m for m in MIGRATIONS if current < m.version <= goal]


def apply(conn: sqlite3.Connection, current: int, target: int | None = None) -> int:
    """Run the missing steps on ``conn`` inside the caller's transaction; return the new version.

    The caller owns the transaction (BEGIN IMMEDIATE ... COMMIT): a failing step leaves the
    database exactly as it was.
    """
    version = current
    for step in pending(current, target):
        for statement in step.statements:
            conn.execute(statement)
        version = step.version
    conn.execute(f"PRAGMA user_version = {int(version)}")
    return version
