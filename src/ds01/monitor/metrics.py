"""Metrics snapshots: one JSON line per collection in ``<log dir>/metrics/YYYY-MM-DD.jsonl``.

A snapshot holds, per device, utilization, memory and the number of containers on it, and per
user (and per group) the units and containers held, all taken from ``ds01.service.gpu.status``.
Unknown values stay ``null``: a missing reading is never written as 0.

The file of a snapshot is named after the local date of its time stamp.
"""

from __future__ import annotations

import json
import os
from ds01.records import record, field
from datetime import date, datetime, timedelta
from pathlib import Path

from ds01.errors import StateError, UsageError
from ds01.monitor.report import local_date, parse_instant

METRICS_DIR = "metrics"


def snapshot_of(status) -> dict:
    """A snapshot (plain JSON data) from a ``ServerStatus``."""
    devices = []
    users: dict[str, dict] = {}
    groups: dict[str, dict] = {}

    def hold(entry: dict, units: int, new_container: bool) -> None:
        for table, key in ((users, entry["user"]), (groups, entry.get("group") or "default")):
            slot = table.setdefault(key, {"units": 0, "containers": 0})
            slot["units"] += units
            slot["containers"] += 1 if new_container else 0
        users[entry["user"]].setdefault("group", entry.get("group") or "default")

    seen: set[str] = set()
    for ds in status.devices:
        d = ds.device
        devices.append({
            "id": d.id, "kind": d.kind, "gpu": d.gpu, "profile": d.profile, "units": d.units,
            "utilization": d.utilization, "memory_used_mib": d.memory_used_mib,
            "memory_total_mib": d.memory_total_mib, "allocatable": d.allocatable,
            "containers": len(ds.containers),
        })
        for entry in ds.containers:
            hold(entry, d.units, entry["container"] not in seen)
            seen.add(entry["container"])
    for entry in status.cpu_only:
        hold(entry, 0, entry["container"] not in seen)
        seen.add(entry["container"])
    return {"ts": status.now, "source": status.source, "mode": status.mode,
            "devices": devices, "users": dict(sorted(users.items())),
            "groups": dict(sorted(groups.items()))}


def metrics_file(log_dir: Path, day: date) -> Path:
    return Path(log_dir) / METRICS_DIR / f"{day.isoformat()}.jsonl"


def append_snapshot(log_dir: Path, snap: dict) -> Path:
    """Append ``snap`` as one line (one ``write()``, O_APPEND) to its day's file; return it."""
    path = metrics_file(log_dir, local_date(parse_instant(snap["ts"], "snapshot time")))
    line = (json.dumps(snap, sort_keys=True, separators=(",", ":")) + "\n").encode()
    try:
        path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            written = os.write(fd, line)
        finally:
            os.close(fd)
    except OSError as exc:
        raise StateError(
            f"cannot write the metrics file {path}: {exc.strerror or exc}",
            hint=f"check that {path.parent} exists and is writable (run `ds01 setup dirs` as "
            "root), and that the filesystem has free space",
        ) from None
    if written != len(line):
        raise StateError(f"metrics file {path}: only {written} of {len(line)} bytes written",
                         hint=f"check free space on the filesystem holding {path.parent}")
    return path


def collect(svc) -> tuple[dict, Path]:
    """Take one snapshot of ``svc`` and append it; return it and the file written."""
    from ds01.service.gpu import status

    snap = snapshot_of(status(svc))
    return snap, append_snapshot(svc.ctx.log_dir, snap)


@record(frozen=False)
class Snapshots:
    """Snapshots read back for a period, with the lines that could not be read."""

    items: list = field(default_factory=list)
    problems: list = field(default_factory=list)  # "FILE:LINE: what"


def read_snapshots(log_dir: Path, since: datetime, until: datetime) -> Snapshots:
    """Every snapshot with ``since <= ts < until``, oldest first; unreadable lines are listed."""
    out = Snapshots()
    day, last = local_date(since), local_date(until)
    while day <= last:
        path = metrics_file(log_dir, day)
        day += timedelta(days=1)
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            continue
        except OSError as exc:
            out.problems.append(f"{path}: {exc.strerror or exc}")
            continue
        for n, line in enumerate(text.splitlines(), 1):
            snap = _parse_line(line)
            if snap is None:
                if line.strip():
                    out.problems.append(f"{path}:{n}: not a metrics snapshot")
                continue
            if since <= snap[0] < until:
                out.items.append(snap[1])
    out.items.sort(key=lambda s: parse_instant(s["ts"]))
    return out


def _parse_line(line: str) -> tuple[datetime, dict] | None:
    try:
        snap = json.loads(line)
        moment = parse_instant(snap["ts"], "snapshot time")
    except (ValueError, TypeError, KeyError, UsageError):
        return None
    if not isinstance(snap, dict) or not isinstance(snap.get("devices"), list):
        return None
    return moment, snap


def utilization_series(snapshots: list[dict]) -> dict[str, list[tuple[datetime, float]]]:
    """Per device id: ``(time, percent)`` for every snapshot that reported a utilization."""
    out: dict[str, list[tuple[datetime, float]]] = {}
    for snap in snapshots:
        moment = parse_instant(snap["ts"], "snapshot time")
        for dev in snap.get("devices", []):
            value = dev.get("utilization") if isinstance(dev, dict) else None
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out.setdefault(str(dev.get("id")), []).append((moment, float(value)))
    return out
