"""Text and JSON shapes of decisions and limits (no I/O beyond building strings)."""

from __future__ import annotations


def decision_dict(d) -> dict:
    req = d.request
    if d.ok:
        return {
            "ok": True, "container": req.container, "user": req.user, "group": d.group,
            "priority": d.priority, "devices": list(d.devices), "uuids": list(d.uuids),
            "units_held": d.units_held, "units_limit": d.units_limit,
            "existing": d.existing,
        }
    from ds01.policy.messages import headline

    return {"ok": False, "container": req.container, "user": req.user, "reason": d.reason,
            "message": headline(d)}


def decision_text(d) -> str:
    req = d.request
    limit = "unlimited" if d.units_limit is None else str(d.units_limit)
    if not d.devices:
        what = "CPU-only (no device)"
    else:
        what = ", ".join(f"{dev} ({uuid})" for dev, uuid in zip(d.devices, d.uuids))
    again = " (already allocated; unchanged)" if d.existing else ""
    return (f"{req.container}: {what}{again}\n"
            f"  user {req.user} ({d.group}, priority {d.priority}), units held {d.units_held}"
            f"/{limit}")


def refusal_text(d, templates: dict) -> str:
    from ds01.policy.messages import headline, message

    return f"{headline(d)}\n{message(d, templates)}".rstrip()


def limits_text(who) -> str:
    from ds01.config.units import format_duration, format_size

    lim = who.limits
    rows = [("user", who.user), ("group", who.group), ("admin", "yes" if who.admin else "no"),
            ("priority", lim.priority)]
    for key, value in lim.__dict__.items():
        if key == "priority":
            continue
        if value is None:
            shown = "never" if key == "idle_timeout" else "unlimited"
        elif key in ("memory", "shm_size", "slice_memory"):
            shown = format_size(value)
        elif key == "idle_timeout":
            shown = format_duration(value)
        else:
            shown = value
        rows.append((key, shown))
    rows.append(("prefer_full_gpu", "yes" if who.prefer_full_gpu else "no"))
    r = who.reservation
    if r is not None:
        rows.append(("reservation", f"{', '.join(r.gpus)} from {r.start.isoformat()} to "
                     f"{r.end.isoformat()}" + (f" ({r.reason})" if r.reason else "")))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)
