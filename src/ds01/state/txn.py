"""Operations inside one transaction of the state store."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from datetime import datetime

from ds01.errors import StateError
from ds01.state import jsontext
from ds01.state.records import (
    EVENT_COLUMNS,
    ROW_COLUMNS,
    AllocationRow,
    Event,
    dump_list,
    dump_meta,
    event_from,
    instant_us,
    row_from,
    row_values,
)


class Txn:
    """Operations inside one transaction; valid only inside its ``with`` block."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        explain: Callable[[BaseException, str], StateError],
        *,
        writable: bool,
    ):
        self._explain = explain
        self._conn = conn
        self._writable = writable
        self._open = True

    def _run(self, sql: str, params: Iterable = (), *, action: str) -> sqlite3.Cursor:
        if not self._open:
            raise StateError(f"{action}: the transaction has already ended")
        try:
            return self._conn.execute(sql, tuple(params))
        except sqlite3.Error as exc:
            raise self._explain(exc, action) from exc

    def _need_write(self, action: str) -> None:
        if not self._open:
            raise StateError(f"{action}: the transaction has already ended")
        if not self._writable:
            raise StateError(f"{action}: not allowed in a read transaction; use Store.write()")

    # allocations ---------------------------------------------------------------------

    def allocations(self, *, user: str | None = None) -> list[AllocationRow]:
        """Every current allocation (or one user's), oldest first."""
        sql = f"SELECT {ROW_COLUMNS} FROM allocations"
        params: tuple = ()
        if user is not None:
            sql, params = sql + " WHERE user = ?", (user,)
        cur = self._run(sql + " ORDER BY since, container", params, action="reading allocations")
        return [row_from(r) for r in cur.fetchall()]

    def holdings(self, *, user: str | None = None, container: str | None = None
                 ) -> list[tuple]:
        """What the decision needs of the allocations, fast: one tuple per allocation,
        ``(container, user, priority, devices, reserved, since)``, oldest first.

        Every allocation; or, given ``user`` and/or ``container``, only those of ``user`` and
        the one of ``container`` (the decision's own; ``device_load`` sums up the others).
        """
        sql = "SELECT container, user, priority, devices, reserved, since FROM allocations"
        terms = [t for t, v in (("user = ?", user), ("container = ?", container)) if v is not None]
        params = tuple(v for v in (user, container) if v is not None)
        if terms:
            sql += " WHERE " + " OR ".join(terms)
        rows = self._run(sql + " ORDER BY since, container", params,
                         action="reading allocations").fetchall()
        try:
            return [(r[0], r[1], r[2], tuple(_id_list(r[3])), tuple(_id_list(r[4])), r[5])
                    for r in rows]
        except (TypeError, ValueError):
            raise StateError(
                "state database holds unreadable device lists in allocations",
                hint="the file was changed outside ds01; restore it from a backup",
            ) from None

    def device_load(self) -> dict[str, tuple[int, int]]:
        """Device id -> (containers on it, their highest recorded priority), over every
        allocation: what the decision needs to know of the other users' containers.

        One scan of ``allocation_devices`` in its primary-key order (device, container), which
        carries each holder's priority since schema version 3: the decision builds no row per
        allocation.
        """
        rows = self._run(
            "SELECT device, count(*), max(priority) FROM allocation_devices GROUP BY device",
            action="reading device use",
        ).fetchall()
        return {device: (count, top) for device, count, top in rows}

    def get(self, container: str) -> AllocationRow | None:
        """The allocation of ``container``, or None."""
        cur = self._run(
            f"SELECT {ROW_COLUMNS} FROM allocations WHERE container = ?",
            (container,),
            action=f"reading the allocation of {container!r}",
        )
        record = cur.fetchone()
        return row_from(record) if record else None

    def on_device(self, device: str) -> list[AllocationRow]:
        """The allocations that use ``device``, oldest first."""
        cols = ", ".join(f"a.{c.strip()}" for c in ROW_COLUMNS.split(","))
        cur = self._run(
            f"SELECT {cols} FROM allocation_devices d JOIN allocations a "
            "ON a.container = d.container WHERE d.device = ? ORDER BY a.since, a.container",
            (device,),
            action=f"reading who uses device {device}",
        )
        return [row_from(r) for r in cur.fetchall()]

    def insert(self, row: AllocationRow) -> None:
        """Record a new allocation; a container that already holds one is a StateError."""
        action = f"recording the allocation of {row.container!r}"
        self._need_write(action)
        values = row_values(row)
        try:
            self._conn.execute(
                "INSERT INTO allocations (user, grp, priority, devices, uuids, reserved, units, "
                "since, origin, container_id, meta, container) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
        except sqlite3.IntegrityError as exc:
            if getattr(exc, "sqlite_errorname", "") == "SQLITE_CONSTRAINT_PRIMARYKEY":
                raise StateError(
                    f"container {row.container!r} already holds an allocation",
                    hint="release it first, or update the existing allocation",
                ) from exc
            raise StateError(f"invalid allocation for {row.container!r}: {exc}") from exc
        except sqlite3.Error as exc:
            raise self._explain(exc, action) from exc
        self._put_devices(row, action)

    def update(self, row: AllocationRow) -> None:
        """Replace the allocation of ``row.container``; it must exist."""
        action = f"updating the allocation of {row.container!r}"
        self._need_write(action)
        cur = self._run(
            "UPDATE allocations SET user = ?, grp = ?, priority = ?, devices = ?, uuids = ?, "
            "reserved = ?, units = ?, since = ?, origin = ?, container_id = ?, meta = ? "
            "WHERE container = ?",
            row_values(row),
            action=action,
        )
        if cur.rowcount == 0:
            raise StateError(f"container {row.container!r} holds no allocation to update")
        self._run("DELETE FROM allocation_devices WHERE container = ?", (row.container,),
                  action=action)
        self._put_devices(row, action)

    def _put_devices(self, row: AllocationRow, action: str) -> None:
        if not row.devices:
            return
        try:
            self._conn.executemany(
                "INSERT INTO allocation_devices (device, container, priority) VALUES (?, ?, ?)",
                [(str(d), row.container, row.priority) for d in dict.fromkeys(row.devices)],
            )
        except sqlite3.Error as exc:
            raise self._explain(exc, action) from exc

    def delete(self, container: str) -> AllocationRow | None:
        """Remove the allocation of ``container``; return what it was (None if there was none)."""
        action = f"removing the allocation of {container!r}"
        self._need_write(action)
        row = self.get(container)
        if row is not None:
            self._run("DELETE FROM allocations WHERE container = ?", (container,), action=action)
        return row

    # events --------------------------------------------------------------------------

    def add_event(self, event: Event) -> int:
        """Append ``event`` to the history; return its id."""
        action = f"recording a {event.event} event"
        self._need_write(action)
        ts_us = instant_us(event.ts, what="event time")
        cur = self._run(
            "INSERT INTO events (ts, ts_us, event, user, grp, container, priority, devices, "
            "units, units_held, units_limit, reason, message, meta) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                event.ts, ts_us, event.event, event.user, event.group, event.container,
                int(event.priority), dump_list(event.devices), int(event.units),
                event.units_held, event.units_limit, event.reason, event.message,
                dump_meta(event.meta),
            ),
            action=action,
        )
        return int(cur.lastrowid)

    def event_stamp(self, event_id: int) -> str | None:
        """The recorded time of event ``event_id`` (None when there is no such event): with
        the id, enough to tell whether a history is still the one counted before."""
        row = self._run("SELECT ts FROM events WHERE id = ?", (int(event_id),),
                        action="reading the event history").fetchone()
        return None if row is None else row[0]

    def events(
        self,
        *,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        kinds: Iterable[str] | None = None,
        user: str | None = None,
        container: str | None = None,
        after_id: int | None = None,
    ) -> list[Event]:
        """Events in time order; ``since`` is inclusive, ``until`` exclusive; ``after_id``:
        only events recorded after that one."""
        where: list[str] = []
        params: list = []
        if after_id is not None:
            where.append("id > ?")
            params.append(int(after_id))
        if since is not None:
            where.append("ts_us >= ?")
            params.append(instant_us(since, what="since"))
        if until is not None:
            where.append("ts_us < ?")
            params.append(instant_us(until, what="until"))
        if kinds is not None:
            wanted = [kinds] if isinstance(kinds, str) else list(kinds)
            if not wanted:
                return []
            where.append(f"event IN ({', '.join('?' * len(wanted))})")
            params.extend(wanted)
        for column, value in (("user", user), ("container", container)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = f"SELECT {EVENT_COLUMNS} FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        cur = self._run(sql + " ORDER BY ts_us, id", params, action="reading events")
        return [event_from(r) for r in cur.fetchall()]

    # bookkeeping ---------------------------------------------------------------------

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        """A bookkeeping value, or ``default``."""
        cur = self._run("SELECT value FROM meta WHERE key = ?", (key,), action=f"reading {key!r}")
        record = cur.fetchone()
        return record[0] if record else default

    def set_meta(self, key: str, value: str | None) -> None:
        """Set a bookkeeping value (text); None removes it."""
        action = f"setting {key!r}"
        self._need_write(action)
        if value is None:
            self._run("DELETE FROM meta WHERE key = ?", (key,), action=action)
            return
        if not isinstance(value, str):
            raise StateError(f"{action}: value must be text, got {type(value).__name__}")
        self._run(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
            action=action,
        )


def _id_list(text: str) -> list:
    """A JSON list (ValueError when the text is not one)."""
    value = jsontext.loads(text)
    if not isinstance(value, list):
        raise ValueError(f"not a list: {text!r}")
    return value
