"""The ``ds01 gpu status`` dashboard as plain text (the design note's sample is the model)."""

from __future__ import annotations

from datetime import datetime

RULE = "=" * 70


def _age(since: str, now: str) -> str:
    try:
        seconds = (datetime.fromisoformat(now) - datetime.fromisoformat(since)).total_seconds()
    except ValueError:
        return "?"
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


def _memory(d: dict) -> str:
    total, used = d["memory_total_mib"], d["memory_used_mib"]
    total_s = "?" if total is None else str(total)
    used_s = "n/a" if used is None else str(used)
    return f"{used_s}/{total_s} MiB"


def _util(d: dict) -> str:
    u = d["utilization"]
    return "n/a" if u is None else f"{u:.0f}%"


def _device_lines(d: dict, now: str) -> list[str]:
    label = f"MIG {d['id']} ({d['profile']})" if d["kind"] == "mig" else f"GPU {d['id']} (whole)"
    n = len(d["containers"])
    lines = [f"{label}: {n} container{'s' if n != 1 else ''}",
             f"  Util: {_util(d)} | Mem: {_memory(d)} | {d['uuid']}"]
    for c in d["containers"]:
        lines.append(f"    - {c['container']} ({c['user']}, priority={c['priority']}, "
                     f"{_age(c['since'], now)})")
    if d["warning"]:
        lines.append(f"  WARNING: {d['warning']}")
    if d["reserved_for"]:
        r = d["reserved_for"]
        lines.append(f"  RESERVED for {r['user']} until {r['end']}"
                     + (f" ({r['reason']})" if r.get("reason") else ""))
    if d["allocatable"] and not d["containers"] and not d["reserved_for"]:
        lines.append("  AVAILABLE")
    return lines


def render_text(status) -> str:
    """Plain text for a ServerStatus (no colour)."""
    data = status.to_dict()
    devs = data["devices"]
    free = sum(1 for d in devs if d["allocatable"] and not d["containers"])
    containers = {c["container"] for d in devs for c in d["containers"]}
    containers |= {c["container"] for c in data["cpu_only"]}
    users = {c["user"] for d in devs for c in d["containers"]} | {
        c["user"] for c in data["cpu_only"]}
    mode = "MIG ENABLED" if data["mode"] == "mig" else "WHOLE-GPU MODE"
    lines = [RULE, f"DS01 GPU SERVER STATUS ({mode})".center(70), RULE,
             f"Devices free: {free}/{len(devs)} | Containers: {len(containers)} | "
             f"Users: {len(users)} | Source: {data['source']}", ""]
    for d in devs:
        lines.extend(_device_lines(d, data["now"]))
        lines.append("")
    if data["cpu_only"]:
        lines.append("CPU-only containers:")
        for c in data["cpu_only"]:
            lines.append(f"    - {c['container']} ({c['user']}, priority={c['priority']}, "
                         f"{_age(c['since'], data['now'])})")
    return "\n".join(lines).rstrip()
