"""Plain records of the state store and their encoding in SQLite rows.

Lists of device ids and ``meta`` mappings are stored as JSON text; event times are stored as
given (ISO 8601 with offset) and, for ordering and filtering, as microseconds since the epoch.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

from ds01.errors import StateError
from ds01.records import field, record
from ds01.state import jsontext

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)

ROW_COLUMNS = (
    "container, user, grp, priority, devices, uuids, reserved, units, since, origin, "
    "container_id, meta"
)
EVENT_COLUMNS = (
    "id, ts, event, user, grp, container, priority, devices, units, units_held, units_limit, "
    "reason, message, meta"
)


@record
class AllocationRow:
    """One container's current allocation (devices may be empty for a CPU-only container)."""

    container: str
    user: str
    group: str
    priority: int
    devices: tuple[str, ...]
    uuids: tuple[str, ...]
    reserved: tuple[str, ...]
    units: int
    since: str
    origin: str = "direct"
    container_id: str | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("devices", "uuids", "reserved"):
            value = getattr(self, name)
            if not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))


@record
class Event:
    """One entry of the history: an allocation, a rejection, a release (or later kinds)."""

    ts: str
    event: str
    user: str
    group: str
    container: str
    priority: int
    devices: tuple[str, ...] = ()
    units: int = 0
    units_held: int | None = None
    units_limit: int | None = None
    reason: str | None = None
    message: str | None = None
    meta: dict = field(default_factory=dict)
    id: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.devices, tuple):
            object.__setattr__(self, "devices", tuple(self.devices))


# --------------------------------------------------------------------------- encoding


def dump_list(values: Iterable[str]) -> str:
    return jsontext.dumps_list([str(v) for v in values])


def dump_meta(meta: dict) -> str:
    try:
        return jsontext.dumps_mapping(meta or {})
    except (TypeError, ValueError) as exc:
        raise StateError(
            f"cannot record meta {meta!r}: {exc}",
            hint="meta may hold only JSON values (text, numbers, booleans, lists, mappings)",
        ) from None


def _load_json(text: str, expect: type, where: str):
    try:
        value = jsontext.loads(text)
    except (TypeError, ValueError):
        value = None
    if not isinstance(value, expect):
        raise StateError(
            f"state database holds unreadable data in {where}: {text!r}",
            hint="the file was changed outside ds01; restore it from a backup",
        )
    return value


def instant_us(value: str | datetime, *, what: str) -> int:
    """Microseconds since the epoch of an ISO 8601 instant that carries its UTC offset."""
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value).strip()
        try:
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            raise StateError(
                f"{what} {value!r} is not an ISO 8601 time",
                hint="write it like 2026-12-01T09:00:00+00:00",
            ) from None
    if moment.tzinfo is None:
        raise StateError(
            f"{what} {value!r} has no UTC offset", hint="write it like 2026-12-01T09:00:00+00:00"
        )
    return (moment - _EPOCH) // _US


def row_from(record: tuple) -> AllocationRow:
    """An AllocationRow from a SELECT of ROW_COLUMNS."""
    name = record[0]
    where = f"allocations (container {name!r})"
    return AllocationRow(
        container=name,
        user=record[1],
        group=record[2],
        priority=record[3],
        devices=tuple(_load_json(record[4], list, where)),
        uuids=tuple(_load_json(record[5], list, where)),
        reserved=tuple(_load_json(record[6], list, where)),
        units=record[7],
        since=record[8],
        origin=record[9],
        container_id=record[10],
        meta=_load_json(record[11], dict, where),
    )


def event_from(record: tuple) -> Event:
    """An Event from a SELECT of EVENT_COLUMNS."""
    where = f"events (id {record[0]})"
    return Event(
        id=record[0],
        ts=record[1],
        event=record[2],
        user=record[3],
        group=record[4],
        container=record[5],
        priority=record[6],
        devices=tuple(_load_json(record[7], list, where)),
        units=record[8],
        units_held=record[9],
        units_limit=record[10],
        reason=record[11],
        message=record[12],
        meta=_load_json(record[13], dict, where),
    )


def row_values(row: AllocationRow) -> tuple:
    """The column values of ``row``, in INSERT/UPDATE order (container last)."""
    if len(set(row.devices)) != len(row.devices):
        raise StateError(
            f"allocation for container {row.container!r} lists a device twice: "
            f"{', '.join(row.devices)}"
        )
    return (
        row.user,
        row.group,
        int(row.priority),
        dump_list(row.devices),
        dump_list(row.uuids),
        dump_list(row.reserved),
        int(row.units),
        row.since,
        row.origin,
        row.container_id,
        dump_meta(row.meta),
        row.container,
    )
