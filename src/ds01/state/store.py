"""The SQLite state store: current allocations, the event history, and bookkeeping values.

This package is the only place that writes ds01 state. Every change happens inside
``Store.write()`` (``BEGIN IMMEDIATE``: one writer at a time, others wait up to the busy
timeout); reads happen inside ``Store.read()`` (one consistent snapshot).

Opening is cheap: one header read tells the schema version; migrations run only when the file is
behind. A database that is damaged, written by a newer ds01, or not ours is refused with a
``StateError`` and never modified.

The journal is WAL with ``synchronous = NORMAL``: a committed transaction survives the crash
of any process; a power loss may lose the last few commits but never leaves the file
inconsistent (and saves an fsync on every decision).

One ``Store`` belongs to one thread; open another in each process or thread that needs it.
"""

from __future__ import annotations

import errno
import os
import sqlite3

from ds01 import pathstr
from ds01.errors import StateError
from ds01.state import schema
from ds01.state.records import AllocationRow, Event
from ds01.state.txn import Txn

__all__ = ["AllocationRow", "Event", "Store", "Transaction", "Txn", "explain"]

# A commit that leaves more than this many pages in the WAL copies them into the database
# (a checkpoint). SQLite's default, 1000 pages, makes every ~50th decision of a long-running
# process pay for syncing 4 MB at once (15-20 ms on a busy disk, against about 1 ms for a
# decision); at 64 pages a checkpoint syncs at most 256 KB and costs one to two milliseconds.
# CLI processes rarely reach it: the last connection to close checkpoints anyway.
WAL_CHECKPOINT_PAGES = 64

# --------------------------------------------------------------------------- errors

_HINT_DAMAGED = (
    "ds01 never repairs or replaces this file by itself. Stop ds01, move {path} aside (keep it "
    "for inspection) and restore the latest backup in its place"
)
_HINT_ACCESS = (
    "check the owner and mode of {path} and of {dir}; changing ds01 state needs an admin: "
    "run the command with sudo"
)
_HINT_BUSY = (
    "another process held the state database for more than {timeout:g} s; retry, and if it "
    "keeps happening look for a stuck ds01 process (fuser -v {path})"
)
_HINT_BUG = "ds01 tried to record invalid data; report this with the command that caused it"
_HINT_DISK = "check free space and the health of the filesystem holding {dir}"
_HINT_OTHER = (
    "check the file with: sqlite3 {path} 'PRAGMA integrity_check'; if it is damaged, move it "
    "aside and restore the latest backup"
)

# SQLite primary result codes -> (what happened, hint template)
_KINDS = {
    3: ("is not accessible", _HINT_ACCESS),  # SQLITE_PERM
    5: ("is locked by another process", _HINT_BUSY),  # SQLITE_BUSY
    6: ("is locked by another process", _HINT_BUSY),  # SQLITE_LOCKED
    8: ("is read-only", _HINT_ACCESS),  # SQLITE_READONLY
    10: ("hit an I/O error", _HINT_DISK),  # SQLITE_IOERR
    11: ("is damaged", _HINT_DAMAGED),  # SQLITE_CORRUPT
    13: ("hit a full disk", _HINT_DISK),  # SQLITE_FULL
    14: ("could not be opened", _HINT_ACCESS),  # SQLITE_CANTOPEN
    19: ("refused invalid data", _HINT_BUG),  # SQLITE_CONSTRAINT
    23: ("is not accessible", _HINT_ACCESS),  # SQLITE_AUTH
    26: ("is not a database (damaged, or not a ds01 state file)", _HINT_DAMAGED),  # NOTADB
}


def explain(path, exc: BaseException, action: str, timeout_s: float = 0.0) -> StateError:
    """Turn an sqlite3/OS error into a StateError naming the file, what SQLite said, and a hint."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(exc, OSError):
        source, said = "the system", exc.strerror or str(exc)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO):
            kind, hint = ("hit a disk problem", _HINT_DISK)
        else:
            kind, hint = ("is not accessible", _HINT_ACCESS)
    else:
        source, said = "SQLite", str(exc) or type(exc).__name__
        kind, hint = _KINDS.get(code & 0xFF if code is not None else -1, ("failed", _HINT_OTHER))
    message = f"state database {path} {kind} while {action}; {source} said: {said}"
    path = pathstr.pathstr(path)
    values = {"path": path, "dir": pathstr.parent(path), "timeout": timeout_s}
    return StateError(message, hint=hint.format(**values))


# --------------------------------------------------------------------------- the store


def _rollback(conn: sqlite3.Connection, cause: BaseException) -> None:
    """Roll back after ``cause``; a failing rollback is noted on ``cause``, never hides it.

    Nothing uncommitted ever becomes visible, so a failed rollback loses no data; the
    connection is then closed so that no later statement runs in an unknown state.
    """
    if not conn.in_transaction:
        return
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        cause.add_note(f"rollback failed too: {exc}; the connection was closed")
        conn.close()


class Transaction:
    """The ``with`` block of one transaction: yields a ``Txn``; COMMIT at the end, ROLLBACK
    when the block raises (an sqlite3 error becomes a StateError).

    A class rather than ``contextlib.contextmanager``: contextlib and what it imports cost
    more at start-up than a whole allocation decision.
    """

    __slots__ = ("_store", "_begin", "_action", "_writable", "_txn")

    def __init__(self, store: "Store", begin: str, action: str, writable: bool):
        self._store = store
        self._begin = begin
        self._action = action
        self._writable = writable
        self._txn: Txn | None = None

    def __enter__(self) -> Txn:
        store = self._store
        conn = store._begin(self._begin, self._action)
        self._txn = Txn(conn, store._explain, writable=self._writable)
        return self._txn

    def __exit__(self, kind, exc, traceback) -> bool:
        store, txn = self._store, self._txn
        conn = txn._conn
        txn._open = False
        store._busy = False
        if exc is not None:
            _rollback(conn, exc)
            if isinstance(exc, sqlite3.Error):
                raise store._explain(exc, self._action) from exc
            return False
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as err:
            _rollback(conn, err)
            raise store._explain(err, f"{self._action} (commit)") from err
        return False


class Store:
    """The state database at ``db_path`` (created with its directory when ``create``)."""

    def __init__(self, db_path, *, busy_timeout_s: float = 30.0, create: bool = True):
        # Kept as a string: pathlib is not imported on the CLI's allocate/release path.
        self.file = pathstr.pathstr(db_path)
        self.busy_timeout_s = float(busy_timeout_s)
        self._conn: sqlite3.Connection | None = None
        self._busy = False
        self._prepare_path(create)
        self._conn = self._connect()

    @property
    def path(self):
        """The database file, as a ``Path``."""
        from pathlib import Path

        return Path(self.file)

    # opening -------------------------------------------------------------------------

    def _explain(self, exc: BaseException, action: str) -> StateError:
        return explain(self.file, exc, action, self.busy_timeout_s)

    def _prepare_path(self, create: bool) -> None:
        """Make sure the directory and the file exist (created 0755 / 0644 when allowed)."""
        try:
            os.stat(self.file)
            return
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise self._explain(exc, "opening it") from None
        if not create:
            raise StateError(
                f"no state database at {self.file}",
                hint="check --state-dir / DS01_STATE_DIR; ds01 creates the file on first use",
            )
        leftover = f"{self.file}-wal"
        if pathstr.exists(leftover):
            raise StateError(
                f"state database {self.file} is missing but its journal {leftover} is still "
                "there; ds01 will not start a new database over it",
                hint=f"restore {self.file} from a backup, or move {leftover} aside to start empty",
            )
        directory = pathstr.parent(self.file)
        try:
            if not pathstr.is_dir(directory):
                os.makedirs(directory, mode=0o755, exist_ok=True)
                os.chmod(directory, 0o755)
            fd = os.open(self.file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return
        except OSError as exc:
            raise self._explain(exc, "creating it") from None
        try:
            os.fchmod(fd, 0o644)
        finally:
            os.close(fd)

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.file, timeout=self.busy_timeout_s, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._explain(exc, "opening it") from exc
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            version, app_id = self._header(conn)
            self._refuse_foreign_or_newer(conn, version, app_id)
            if version < schema.LATEST_VERSION:
                self._migrate(conn)
            elif conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                self._enable_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
        except StateError:
            conn.close()
            raise
        except sqlite3.Error as exc:
            conn.close()
            raise self._explain(exc, "opening it") from exc
        return conn

    @staticmethod
    def _header(conn: sqlite3.Connection) -> tuple[int, int]:
        return conn.execute(
            "SELECT user_version, application_id FROM pragma_user_version, pragma_application_id"
        ).fetchone()

    def _refuse_foreign_or_newer(self, conn: sqlite3.Connection, version: int, app_id: int):
        foreign = app_id != schema.APPLICATION_ID and (app_id != 0 or version != 0)
        if not foreign and version == 0:
            foreign = conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
            ).fetchone()[0] > 0
        if foreign:
            raise StateError(
                f"{self.file} is an SQLite database but not a ds01 state database "
                f"(application_id {app_id}, user_version {version}); ds01 left it untouched",
                hint="point --state-dir / DS01_STATE_DIR at the ds01 state directory, or move "
                "this file aside",
            )
        if version > schema.LATEST_VERSION:
            raise StateError(
                f"state database {self.file} has schema version {version}, newer than this "
                f"ds01 understands ({schema.LATEST_VERSION}); it was left untouched",
                hint="upgrade ds01 on this machine to the version that wrote it",
            )

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower()
        if mode != "wal":
            raise StateError(
                f"state database {self.file}: cannot switch to WAL journal mode (got {mode})",
                hint="keep the state directory on a local filesystem",
            )

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Bring the schema up to date in one transaction (re-checked under the write lock)."""
        self._enable_wal(conn)
        conn.execute("BEGIN IMMEDIATE")
        try:
            version, app_id = self._header(conn)
            self._refuse_foreign_or_newer(conn, version, app_id)
            if version < schema.LATEST_VERSION:
                schema.apply(conn, version)
            conn.execute("COMMIT")
        except BaseException as exc:
            _rollback(conn, exc)
            if isinstance(exc, sqlite3.Error):
                raise self._explain(exc, "updating its schema") from exc
            raise

    # transactions --------------------------------------------------------------------

    def _begin(self, statement: str, action: str) -> sqlite3.Connection:
        if self._conn is None:
            raise StateError(f"state database {self.file} is closed")
        if self._busy:
            raise StateError(f"{action}: a transaction is already open on this store")
        try:
            self._conn.execute(statement)
        except sqlite3.Error as exc:
            raise self._explain(exc, action) from exc
        self._busy = True
        return self._conn

    def write(self) -> "Transaction":
        """A write transaction: BEGIN IMMEDIATE ... COMMIT, ROLLBACK when the block raises."""
        return Transaction(self, "BEGIN IMMEDIATE", "writing state", True)

    def read(self) -> "Transaction":
        """A read-only transaction: every read inside it sees the same snapshot."""
        return Transaction(self, "BEGIN", "reading state", False)

    # maintenance ---------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        """The schema version of the open database."""
        return self._query("PRAGMA user_version", "reading the schema version")[0][0]

    def integrity_check(self) -> list[str]:
        """Run SQLite's full integrity check (slow; for admin tools); [] when all is well."""
        rows = self._query("PRAGMA integrity_check", "checking integrity")
        problems = [r[0] for r in rows if r[0] != "ok"]
        problems += [
            f"foreign key: {r[0]} row {r[1]} -> {r[2]}"
            for r in self._query("PRAGMA foreign_key_check", "checking foreign keys")
        ]
        return problems

    def _query(self, sql: str, action: str) -> list[tuple]:
        if self._conn is None:
            raise StateError(f"state database {self.file} is closed")
        try:
            return self._conn.execute(sql).fetchall()
        except sqlite3.Error as exc:
            raise self._explain(exc, action) from exc

    def close(self) -> None:
        """Close the database (idempotent)."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
