"""Human text for decisions: a one-line headline and a friendly message with what to do next.

Administrators may replace the message of each refusal with a template (the config's
``wizard.error_messages``). Template keys and their placeholders:

    gpu_limit_exceeded        USER_AT_LIMIT    {requested} {max} {current} {available}
    container_limit_exceeded  CONTAINER_LIMIT  {current} {max}
    no_gpu_available          NO_CAPACITY      (none needed; {busy} is offered)
    reservation_conflict      RESERVED         {reserved_user} {end_time} {reason}

Every template may also use {user} {container} {group} {priority}, plus {unit} {limit_name}
for the limit and {devices} for the reservation. A placeholder that is not offered is left as
written; a template that cannot be read at all (unbalanced braces, not text) is ignored and the
built-in text is used. Templates never reach attributes or items of the values.
"""

from __future__ import annotations

import string

from ds01.policy.model import (
    CONTAINER_LIMIT,
    INVALID_REQUEST,
    NO_CAPACITY,
    RESERVED,
    USER_AT_LIMIT,
    Decision,
)

TEMPLATE_KEYS = {
    USER_AT_LIMIT: "gpu_limit_exceeded",
    CONTAINER_LIMIT: "container_limit_exceeded",
    NO_CAPACITY: "no_gpu_available",
    RESERVED: "reservation_conflict",
}

DEFAULT_TEMPLATES = {
    "gpu_limit_exceeded": (
        "GPU limit reached.\n"
        "You requested {requested} {unit}, but your limit ({limit_name}) is {max}.\n"
        "You currently hold {current}.{unit_note}\n"
        "\n"
        "Options:\n"
        "1. {reduce}\n"
        "2. Stop one of your running containers to free its devices\n"
        "3. Launch as CPU-only (--cpu-only)"
    ),
    "container_limit_exceeded": (
        "Container limit reached.\n"
        "You have {current} containers (GPU and CPU-only alike); your limit is {max}.\n"
        "\n"
        "Options:\n"
        "1. Stop and remove a container you no longer need\n"
        "2. Reuse one of your existing containers\n"
        "3. Ask an administrator if you need more at once"
    ),
    "no_gpu_available": (
        "No GPU is free for you right now.\n"
        "Busy: {busy}.\n"
        "\n"
        "Options:\n"
        "1. Try again later (ds01-gpu-status shows what is in use)\n"
        "2. Ask for fewer devices\n"
        "3. Launch as CPU-only (--cpu-only)"
    ),
    "reservation_conflict": (
        "GPU reserved.\n"
        "{devices} reserved for {reserved_user} until {end_time} ({reason}).\n"
        "\n"
        "Options:\n"
        "1. Try again after {end_time}\n"
        "2. {alternative}\n"
        "3. Launch as CPU-only (--cpu-only)"
    ),
}

_BUSY_WORDS = (
    ("full", "full"),
    ("higher_priority", "used by higher-priority users"),
    ("reserved", "reserved for someone else"),
    ("not_allocatable", "not allocatable"),
)


def headline(decision: Decision) -> str:
    """One line: ``USER_AT_LIMIT (2/2)``, ``RESERVED (john_doe until 2025-11-08 00:00)``, ..."""
    f = decision.facts or {}
    if decision.ok:
        if not decision.devices:
            return "OK (CPU-only)"
        what = ", ".join(decision.devices)
        return f"OK ({what}, unchanged)" if decision.existing else f"OK ({what})"
    code = decision.reason or "REFUSED"
    if code in (USER_AT_LIMIT, CONTAINER_LIMIT) and "held" in f and "limit" in f:
        return f"{code} ({f['held']}/{f['limit']})"
    if code == RESERVED and f.get("reserved_user"):
        return f"{code} ({f['reserved_user']} until {f.get('end_time', '?')})"
    return code


def message(decision: Decision, templates: dict[str, str] | None = None) -> str:
    """The human text: why, with the numbers, and what to do next (no headline)."""
    req = decision.request
    if decision.ok:
        return _ok_text(decision)
    if decision.reason == INVALID_REQUEST:
        why = (decision.facts or {}).get("why", "the request is malformed")
        return f"The request was not accepted: {why}."
    key = TEMPLATE_KEYS.get(decision.reason or "")
    if key is None:
        return f"Refused for {req.user}: {decision.reason}."
    values = _values(decision)
    custom = (templates or {}).get(key)
    text = fill(custom, values) if custom is not None else None
    if text is None:
        return fill(DEFAULT_TEMPLATES[key], values) or DEFAULT_TEMPLATES[key]
    if decision.reason == NO_CAPACITY and "{busy}" not in custom:
        text = f"{text.rstrip()}\nBusy: {values['busy']}."
    return text


def fill(template: object, values: dict) -> str | None:
    """``template`` with its plain ``{name}`` placeholders filled from ``values``.

    Unknown names, attribute or item access stay as written. None when the template is not a
    string or cannot be parsed, or a format spec does not fit its value.
    """
    if not isinstance(template, str):
        return None
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError:
        return None
    out: list[str] = []
    for literal, field, spec, conversion in parts:
        out.append(literal)
        if field is None:
            continue
        if not field.isidentifier() or field not in values:
            out.append(_as_written(field, spec, conversion))
            continue
        value = values[field]
        if conversion == "r":
            value = repr(value)
        elif conversion == "a":
            value = ascii(value)
        try:
            out.append(format(value, spec or ""))
        except (ValueError, TypeError):
            return None
    return "".join(out)


def busy_text(facts: dict) -> str:
    """``of 12 MIG instances: 5 full, 3 used by higher-priority users`` and the like."""
    kind = facts.get("kind", "devices")
    total = facts.get("total")
    if total == 0:
        if kind == "whole GPUs" and facts.get("mode") == "mig":
            return ("this server has no whole GPU to give (every GPU is split into MIG "
                    "instances; ask without --full-gpu)")
        return f"this server has no {kind}"
    busy = facts.get("busy") or {}
    said = [f"{busy[k]} {words}" for k, words in _BUSY_WORDS if busy.get(k)]
    head = f"of {total} {kind}" if total is not None else kind
    need = facts.get("requested")
    free = facts.get("candidates")
    tail = f" ({free} free for you, {need} requested)" if need is not None and free is not None \
        else ""
    return f"{head}: {', '.join(said) or 'none free'}{tail}"


def _values(decision: Decision) -> dict:
    f = dict(decision.facts or {})
    req = decision.request
    values = {
        "user": req.user, "container": req.container, "group": decision.group,
        "priority": decision.priority,
    }
    values.update({k: v for k, v in f.items() if isinstance(v, (str, int, float))})
    if decision.reason == USER_AT_LIMIT:
        values.update(_limit_values(f))
    if decision.reason == NO_CAPACITY:
        values["busy"] = busy_text(f)
    if decision.reason == RESERVED:
        values["reason"] = f.get("reason_text") or "no reason given"
        devices = f.get("reserved_devices") or ()
        values["devices"] = ("Device " if len(devices) == 1 else "Devices ") + ", ".join(devices) \
            if devices else "The device"
        values["alternative"] = (
            "Ask for a MIG instance instead of a whole GPU (without --full-gpu)"
            if req.full_gpu else "Ask for fewer devices"
        )
    return values


def _limit_values(f: dict) -> dict:
    requested, available = f.get("requested"), f.get("available")
    whole = f.get("limit_name") == "max_full_gpus"
    word = "whole GPU" if whole else "MIG unit"
    out = {"unit": word if requested == 1 else word + "s"}
    per_gpu = f.get("units_per_gpu")
    out["unit_note"] = "" if whole or per_gpu is None else (
        f" (a MIG instance counts 1 unit, a whole GPU {per_gpu})")
    if isinstance(available, int) and available > 0:
        out["reduce"] = f"Reduce the request to {available} {word}s or fewer"
    else:
        out["reduce"] = ("Wait for one of your containers to finish: nothing is left within "
                         "your limit")
    return out


def _as_written(field: str, spec: str | None, conversion: str | None) -> str:
    inner = field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
    return "{" + inner + "}"


def _ok_text(decision: Decision) -> str:
    req = decision.request
    if not decision.devices:
        return f"{req.container}: CPU-only container recorded (no GPU)."
    what = ", ".join(decision.devices)
    if decision.existing:
        return f"{req.container} already holds {what}; nothing changed."
    via = f" ({', '.join(decision.reserved)} through your reservation)" if decision.reserved else ""
    return f"{req.container} gets {what}{via}."
