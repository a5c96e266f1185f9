"""Accounting over the event history: unit-hours, whole-GPU-hours, containers, refusals.

Pure: events in, a ``Report`` out. No I/O, no clock (the caller passes ``until``), no printing.

Rules (docs/admin/monitoring.md explains them for admins):

- A container holds its devices from its ALLOCATED event to its RELEASED event (whose time is
  the engine's exit time when the container died behind ds01's back), or to ``until`` when it
  is still held. Time is clipped to the period ``[since, until)``.
- unit-hours: units held x hours, where a MIG instance is 1 unit and a whole GPU is
  ``units_per_gpu`` units. These are the units physically held (a reservation that exempts a
  user from their limit does not make the time free). A device shared by two containers
  counts once for each container.
- gpu-hours: whole GPUs held x hours. A MIG instance counts as 0 whole GPUs, so gpu-hours are
  the time of whole, unpartitioned GPUs only; unit-hours / units_per_gpu gives GPU-equivalents.
- ``--by device`` splits a container's time across its devices; ``--by day`` splits at local
  midnight. Under ``--by device`` the row ``(no device)`` holds CPU-only containers and refused
  requests (which have no device), so the rows always add up to the totals.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from ds01.records import record, field
from datetime import date, datetime, timedelta, tzinfo

from ds01 import context
from ds01.errors import UsageError
from ds01.hardware.ids import id_key, is_mig_id

BY_CHOICES = ("user", "group", "device", "day")
NO_DEVICE = "(no device)"
ALLOCATED, RELEASED, REJECTED = "ALLOCATED", "RELEASED", "REJECTED"
KINDS = (ALLOCATED, RELEASED, REJECTED)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


# --------------------------------------------------------------------------- time helpers


def parse_instant(text: str, what: str = "time") -> datetime:
    """An ISO 8601 date or time; without an offset it is local time. Aware result.

    ``ds01.context.parse_instant`` reads it; this adds a lower-case ``z`` and an error that
    also names the durations ``parse_moment`` takes."""
    raw = str(text).strip()
    if raw.endswith("z"):
        raw = raw[:-1] + "Z"
    try:
        return context.parse_instant(raw, what=what)
    except UsageError:
        raise UsageError(
            f"{what} {text!r} is neither a duration nor an ISO 8601 date/time",
            hint="write a duration back from now (30d, 12h, 90m, 2w) or a date/time like "
            "2026-12-01 or 2026-12-01T09:00:00+00:00",
        ) from None


def parse_moment(text: str, now: datetime, what: str = "--since") -> datetime:
    """``30d``/``12h``/``90m``/``2w``/``45s`` back from ``now``, ``now``, or an ISO date/time."""
    if str(text).strip().lower() == "now":
        return now
    match = _DURATION.match(str(text))
    if match:
        seconds = float(match.group(1)) * _SECONDS[match.group(2).lower()]
        return now - timedelta(seconds=seconds)
    return parse_instant(text, what)


def local_midnight(day: date, tz: tzinfo | None = None) -> datetime:
    """The start of ``day``: in ``tz``, or in the machine's local zone (DST-aware) when None."""
    if tz is None:
        return datetime(day.year, day.month, day.day).astimezone()
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def local_date(moment: datetime, tz: tzinfo | None = None) -> date:
    """The calendar date of ``moment`` in ``tz`` (default: the machine's local zone)."""
    return moment.astimezone(tz).date()


def day_windows(since: datetime, until: datetime, tz: tzinfo | None = None
                ) -> list[tuple[str, datetime, datetime]]:
    """``(YYYY-MM-DD, start, end)`` for every local day that meets ``[since, until)``."""
    out = []
    day = local_date(since, tz)
    while True:
        start, end = local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
        if start >= until:
            break
        lo, hi = max(start, since), min(end, until)
        if lo < hi:
            out.append((day.isoformat(), lo, hi))
        day += timedelta(days=1)
    return out


def _ts(text: str) -> datetime:
    return parse_instant(text, "event time")


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600.0


# --------------------------------------------------------------------------- intervals


@record
class Interval:
    """One container's hold on its devices (``end`` None: still held)."""

    container: str
    user: str
    group: str
    devices: tuple[str, ...]
    start: datetime
    end: datetime | None = None

    def overlap(self, lo: datetime, hi: datetime) -> float | None:
        """Hours held inside ``[lo, hi)``; None when the container was not held there at all.

        A container allocated and released at the same instant inside the window counts
        (0 hours), so that it still shows up in the container count.
        """
        end = hi if self.end is None else self.end
        a, b = max(self.start, lo), min(end, hi)
        if a < b:
            return _hours(b - a)
        if self.start == end and lo <= self.start < hi:
            return 0.0
        return None


def intervals(events: Iterable) -> list[Interval]:
    """Pair each ALLOCATED event with the RELEASED event of the same allocation.

    A RELEASED event names the allocation it ends by ``meta["since"]`` (the ALLOCATED time);
    when that is missing, it ends the oldest open allocation of that container. A release
    dated before its allocation ends it at the allocation time (zero length).
    """
    return _intervals((_ts(e.ts), e) for e in events)


def _intervals(timed: Iterable[tuple[datetime, object]]) -> list[Interval]:
    opened: dict[str, list[Interval]] = {}
    done: list[Interval] = []
    for moment, ev in timed:
        if ev.event == ALLOCATED:
            iv = Interval(ev.container, ev.user, ev.group, tuple(ev.devices), moment)
            opened.setdefault(ev.container, []).append(iv)
        elif ev.event == RELEASED:
            iv = _take(opened.get(ev.container, []), (ev.meta or {}).get("since"))
            if iv is not None:
                end = max(moment, iv.start)
                done.append(Interval(iv.container, iv.user, iv.group, iv.devices, iv.start, end))
    for still in opened.values():
        done.extend(still)
    return sorted(done, key=lambda i: (i.start, i.container))


def _take(candidates: list[Interval], since: str | None) -> Interval | None:
    if not candidates:
        return None
    if since:
        try:
            wanted = _ts(since)
        except UsageError:
            wanted = None
        for i, iv in enumerate(candidates):
            if iv.start == wanted:
                return candidates.pop(i)
    return candidates.pop(0)


def device_units(device: str, units_per_gpu: int) -> int:
    """A MIG instance is 1 unit; a whole GPU is ``units_per_gpu`` units."""
    return 1 if is_mig_id(device) else int(units_per_gpu)


def device_gpus(device: str) -> int:
    """Whole GPUs a device is: 1 for a whole GPU, 0 for a MIG instance."""
    return 0 if is_mig_id(device) else 1


# --------------------------------------------------------------------------- results


@record(frozen=False)
class Row:
    """One line of the report (also the shape of the totals)."""

    key: str
    unit_hours: float = 0.0
    gpu_hours: float = 0.0
    containers: int = 0
    refused: dict = field(default_factory=dict)  # reason -> count

    def add(self, units: float, gpus: float, hours: float) -> None:
        self.unit_hours += units * hours
        self.gpu_hours += gpus * hours
        self.containers += 1

    def refuse(self, reason: str) -> None:
        self.refused[reason] = self.refused.get(reason, 0) + 1

    @property
    def refused_total(self) -> int:
        return sum(self.refused.values())

    def to_dict(self) -> dict:
        return {"key": self.key, "unit_hours": round(self.unit_hours, 6),
                "gpu_hours": round(self.gpu_hours, 6), "containers": self.containers,
                "refused": dict(sorted(self.refused.items()))}


@record(frozen=False)
class Totals(Row):
    peak_allocations: int = 0
    peak_units: int = 0
    requests: int = 0  # allocation requests decided in the period (granted + refused)

    @property
    def refused_share(self) -> float | None:
        """Refused requests / all requests in the period; None when there were none."""
        return self.refused_total / self.requests if self.requests else None

    def to_dict(self) -> dict:
        out = super().to_dict()
        del out["key"]
        share = self.refused_share
        out.update(peak_allocations=self.peak_allocations, peak_units=self.peak_units,
                   requests=self.requests,
                   refused_share=None if share is None else round(share, 6))
        return out


@record
class Series:
    """Units held per group over time: a step function, value i holds on [times[i], times[i+1])."""

    times: tuple[datetime, ...]
    units: dict  # group -> tuple of units, one per step (len(times) - 1)
    allocations: tuple[int, ...]  # containers holding an allocation, per step

    def unit_hours(self, group: str | None = None) -> float:
        """The area under one group's curve (all groups when None), in unit-hours."""
        groups = [group] if group is not None else list(self.units)
        total = 0.0
        for g in groups:
            values = self.units.get(g, ())
            for i, v in enumerate(values):
                total += v * _hours(self.times[i + 1] - self.times[i])
        return total


@record
class Report:
    since: datetime
    until: datetime
    by: str
    rows: tuple[Row, ...]
    totals: Totals
    series: Series
    units_per_gpu: int

    def to_dict(self) -> dict:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(), "by": self.by,
                "rows": [r.to_dict() for r in self.rows], "totals": self.totals.to_dict()}


# --------------------------------------------------------------------------- computation


def compute(events: Sequence, since: datetime, until: datetime, by: str = "user", *,
            units_per_gpu: int = 4, tz: tzinfo | None = None) -> Report:
    """The report for ``[since, until)`` from the whole history up to ``until``.

    ``events`` must include the allocations made before ``since`` (they may still be held).
    Events at or after ``until`` are ignored. The table and the plot series both come from here.
    """
    if by not in BY_CHOICES:
        raise UsageError(f"cannot report by {by!r}", hint=f"use one of: {', '.join(BY_CHOICES)}")
    if not since < until:
        raise UsageError(
            f"empty period: since {since.isoformat()} is not before until {until.isoformat()}",
            hint="give --since earlier than --until")
    timed = []  # (time, event), only the kinds that count and only before `until`
    for e in events:
        if e.event in KINDS and (moment := _ts(e.ts)) < until:
            timed.append((moment, e))
    held = _intervals(timed)
    days = day_windows(since, until, tz) if by == "day" else []
    rows: dict[str, Row] = {key: Row(key) for key, _, _ in days}
    totals = Totals("total")
    for iv in held:
        _account(iv, rows, totals, (since, until), by, units_per_gpu, days)
    _refusals(timed, rows, totals, since, until, by, tz)
    series = _series(held, since, until, units_per_gpu)
    totals.peak_allocations = max(series.allocations, default=0)
    totals.peak_units = max((sum(step) for step in zip(*series.units.values())), default=0)
    return Report(since, until, by, _ordered(rows, by), totals, series, units_per_gpu)


def _account(iv: Interval, rows: dict, totals: Totals, period: tuple, by: str, upg: int,
             days: list) -> None:
    hours = iv.overlap(*period)
    if hours is None:
        return
    units = sum(device_units(d, upg) for d in iv.devices)
    gpus = sum(device_gpus(d) for d in iv.devices)
    totals.add(units, gpus, hours)
    if by in ("user", "group"):
        key = iv.user if by == "user" else iv.group
        rows.setdefault(key, Row(key)).add(units, gpus, hours)
    elif by == "device":
        for d in iv.devices:
            rows.setdefault(d, Row(d)).add(device_units(d, upg), device_gpus(d), hours)
        if not iv.devices:
            rows.setdefault(NO_DEVICE, Row(NO_DEVICE)).add(0, 0, hours)
    else:
        end = period[1] if iv.end is None else min(iv.end, period[1])
        first = max(bisect_right(days, iv.start, key=lambda w: w[1]) - 1, 0)
        for key, lo, hi in days[first:]:
            if lo > end:
                break
            part = iv.overlap(lo, hi)
            if part is not None:
                rows[key].add(units, gpus, part)


def _refusals(timed: Sequence, rows: dict, totals: Totals, since, until, by: str, tz) -> None:
    for moment, ev in timed:
        if ev.event not in (ALLOCATED, REJECTED):
            continue
        if not since <= moment < until:
            continue
        totals.requests += 1
        if ev.event != REJECTED:
            continue
        reason = ev.reason or "UNKNOWN"
        totals.refuse(reason)
        if by == "user":
            key = ev.user
        elif by == "group":
            key = ev.group
        elif by == "device":
            key = NO_DEVICE
        else:
            key = local_date(moment, tz).isoformat()
        rows.setdefault(key, Row(key)).refuse(reason)


def _ordered(rows: dict, by: str) -> tuple[Row, ...]:
    def sort_key(key: str):
        if by == "device":
            return (1, (), key) if key == NO_DEVICE else (0, id_key(key), key)
        return (0, (), key)

    return tuple(rows[k] for k in sorted(rows, key=sort_key))


def _series(held: list[Interval], since: datetime, until: datetime, upg: int) -> Series:
    """Units per group and allocation count, as step functions over ``[since, until)``."""
    unit_delta: dict[datetime, dict[str, int]] = {}
    count_delta: dict[datetime, int] = {}
    groups: list[str] = []
    for iv in held:
        end = until if iv.end is None else iv.end
        a, b = max(iv.start, since), min(end, until)
        if not a < b:
            continue
        units = sum(device_units(d, upg) for d in iv.devices)
        if iv.group not in groups:
            groups.append(iv.group)
        for moment, sign in ((a, 1), (b, -1)):
            per = unit_delta.setdefault(moment, {})
            per[iv.group] = per.get(iv.group, 0) + sign * units
            count_delta[moment] = count_delta.get(moment, 0) + sign
    times = sorted({since, until, *unit_delta})
    running = {g: 0 for g in groups}
    count = 0
    steps: dict[str, list[int]] = {g: [] for g in sorted(groups)}
    counts: list[int] = []
    for moment in times[:-1]:
        for g, d in unit_delta.get(moment, {}).items():
            running[g] += d
        count += count_delta.get(moment, 0)
        for g in steps:
            steps[g].append(running[g])
        counts.append(count)
    return Series(tuple(times), {g: tuple(v) for g, v in steps.items()}, tuple(counts))
