"""Hardware description files: a simulated server, written by hand in YAML.

```yaml
gpus:
  - {index: 0, name: NVIDIA A100-SXM4-80GB, memory_mib: 81920, mig: disabled}
  - {index: 1, name: NVIDIA A100-SXM4-80GB, memory_mib: 81920, mig: enabled,
     instances: [2g.20gb, 2g.20gb, 2g.20gb, 1g.10gb]}   # MIG device order; may be empty
```

Per GPU: ``index``, ``name``, ``memory_mib`` (required); ``mig`` (``disabled``, ``enabled``,
``n/a``; default ``n/a``); ``instances`` (only with ``mig: enabled``); optional ``uuid``,
``memory_used_mib``, ``utilization`` (percent), ``lost: true``. An instance is a profile name or
a mapping ``{profile, uuid, memory_used_mib, utilization}``. UUIDs not given are derived from the
GPU's name, index and position, so they are stable. Unknown values stay None: a simulated
server reports only what its file says. Every mistake is reported with file, line and key.
"""

from __future__ import annotations

import uuid as uuidlib
from pathlib import Path

from ds01.errors import ConfigError, ConfigProblem, UsageError
from ds01.hardware.model import (
    MIG_DISABLED,
    MIG_ENABLED,
    MIG_UNSUPPORTED,
    Gpu,
    Inventory,
    MigInstance,
)
from ds01.hardware.smi import profile_memory_mib
from ds01.yamlpos import Node, parse_yaml

_NAMESPACE = uuidlib.uuid5(uuidlib.NAMESPACE_URL, "ds01:simulated-gpu")
_MIG_VALUES = {"disabled": MIG_DISABLED, "enabled": MIG_ENABLED, "n/a": MIG_UNSUPPORTED}
_TOP_KEYS = ("gpus", "description")
_GPU_KEYS = ("index", "name", "memory_mib", "mig", "instances", "uuid", "memory_used_mib",
             "utilization", "lost")
_INSTANCE_KEYS = ("profile", "uuid", "memory_used_mib", "utilization")
_HINT = "see examples/note-server.yaml for the format of a hardware description file"


def derived_uuid(kind: str, *parts: object) -> str:
    """A stable UUID for a simulated device: ``GPU-…`` / ``MIG-…`` from its name and place."""
    return f"{kind}-{uuidlib.uuid5(_NAMESPACE, '/'.join(str(p) for p in parts))}"


class _Checker:
    """Collects every problem of one file, each with its line and key."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[ConfigProblem] = []

    def fail(self, node: Node | None, key: str | None, message: str) -> None:
        line = node.where if node is not None else None
        self.problems.append(ConfigProblem(self.source, line, key, message))

    def mapping(self, node: Node, key: str, allowed: tuple[str, ...]) -> dict[str, Node] | None:
        if not isinstance(node.value, dict):
            self.fail(node, key, f"expected a mapping, got {_kind(node.value)}")
            return None
        for name, child in node.value.items():
            if name not in allowed:
                self.fail(child, f"{key}.{name}" if key else name,
                          f"unknown key {name!r} (allowed: {', '.join(allowed)})")
        return node.value

    def integer(self, node: Node | None, key: str, *, minimum: int) -> int | None:
        if node is None:
            return None
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(node, key, f"expected a whole number, got {_kind(value)} {value!r}")
            return None
        if value < minimum:
            what = "positive" if minimum == 1 else f"at least {minimum}"
            self.fail(node, key, f"must be {what}, got {value}")
            return None
        return value

    def percent(self, node: Node | None, key: str) -> float | None:
        if node is None:
            return None
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            0 <= value <= 100
        ):
            self.fail(node, key, f"expected a percentage from 0 to 100, got {value!r}")
            return None
        return float(value)

    def text(self, node: Node | None, key: str, *, prefix: str = "") -> str | None:
        if node is None:
            return None
        value = node.value
        if not isinstance(value, str) or not value.strip():
            self.fail(node, key, f"expected text, got {_kind(value)} {value!r}")
            return None
        if prefix and not value.startswith(prefix):
            self.fail(node, key, f"must start with {prefix!r}, got {value!r}")
            return None
        return value.strip()


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    return {bool: "true/false", int: "a number", float: "a number", str: "text",
            dict: "a mapping", list: "a list"}.get(type(value), type(value).__name__)


def parse_description(text: str, source: str, *, label: str | None = None) -> Inventory:
    """Parse a description file's text. ``label`` is Inventory.source (default ``file:SOURCE``)."""
    root = parse_yaml(text, source)
    check = _Checker(source)
    top = check.mapping(root, "", _TOP_KEYS) if root.value is not None else None
    if root.value is None:
        check.fail(root, "gpus", "the file is empty: it must list the server's GPUs under gpus:")
    gpus: list[Gpu] = []
    if top is not None:
        listing = top.get("gpus")
        if listing is None or not isinstance(listing.value, list) or not listing.value:
            check.fail(listing or root, "gpus", "expected a non-empty list of GPUs")
        else:
            gpus = _gpus(check, listing.value)
        if "description" in top:
            check.text(top["description"], "description")
    if check.problems:
        raise ConfigError(check.problems, hint=_HINT)
    gpus.sort(key=lambda g: g.index)
    return Inventory(tuple(gpus), label or f"file:{source}")


def _gpus(check: _Checker, items: list[Node]) -> list[Gpu]:
    gpus: list[Gpu] = []
    seen_index: dict[int, int] = {}
    seen_uuid: dict[str, str] = {}
    for position, item in enumerate(items):
        gpu = _gpu(check, item, f"gpus[{position}]")
        if gpu is None:
            continue
        if gpu.index in seen_index:
            check.fail(item.value["index"], f"gpus[{position}].index",
                       f"duplicate GPU index {gpu.index} (first on line {seen_index[gpu.index]})")
            continue
        seen_index[gpu.index] = item.value["index"].where
        for device, key in [(gpu.uuid, f"gpus[{position}].uuid")] + [
            (m.uuid, f"gpus[{position}].instances[{m.index}]") for m in gpu.instances
        ]:
            if device in seen_uuid:
                check.fail(item, key, f"UUID {device} is also used by {seen_uuid[device]}")
            seen_uuid[device] = key
        gpus.append(gpu)
    return gpus


def _gpu(check: _Checker, item: Node, key: str) -> Gpu | None:
    fields = check.mapping(item, key, _GPU_KEYS)
    if fields is None:
        return None
    before = len(check.problems)
    for required in ("index", "name", "memory_mib"):
        if required not in fields:
            check.fail(item, f"{key}.{required}", f"missing (every GPU needs {required})")
    index = check.integer(fields.get("index"), f"{key}.index", minimum=0)
    name = check.text(fields.get("name"), f"{key}.name")
    total = check.integer(fields.get("memory_mib"), f"{key}.memory_mib", minimum=1)
    used = check.integer(fields.get("memory_used_mib"), f"{key}.memory_used_mib", minimum=0)
    if used is not None and total is not None and used > total:
        check.fail(fields["memory_used_mib"], f"{key}.memory_used_mib",
                   f"{used} MiB used is more than the {total} MiB the GPU has")
    mig = _mig_mode(check, fields, key)
    instances = _instances(check, fields, key, index, name, mig)
    lost = fields.get("lost")
    if lost is not None and not isinstance(lost.value, bool):
        check.fail(lost, f"{key}.lost", f"expected true or false, got {lost.value!r}")
    if len(check.problems) > before:
        return None
    is_lost = bool(lost and lost.value)
    return Gpu(
        index=index,
        name=name,
        uuid=check.text(fields.get("uuid"), f"{key}.uuid", prefix="GPU-")
        or derived_uuid("GPU", name, index),
        memory_total_mib=total,
        memory_used_mib=used,
        utilization=check.percent(fields.get("utilization"), f"{key}.utilization"),
        mig=mig,
        instances=instances,
        lost=is_lost,
        error="marked lost in the hardware description file" if is_lost else None,
    )


def _mig_mode(check: _Checker, fields: dict[str, Node], key: str) -> str:
    node = fields.get("mig")
    if node is None:
        return MIG_UNSUPPORTED
    mode = _MIG_VALUES.get(node.value) if isinstance(node.value, str) else None
    if mode is None:
        check.fail(node, f"{key}.mig",
                   f"expected one of {', '.join(_MIG_VALUES)}, got {node.value!r}")
        return MIG_UNSUPPORTED
    return mode


def _instances(check: _Checker, fields: dict[str, Node], key: str, index: int | None,
               name: str | None, mig: str) -> tuple[MigInstance, ...]:
    node = fields.get("instances")
    if node is None:
        return ()
    if mig != MIG_ENABLED:
        check.fail(node, f"{key}.instances",
                   f"instances need mig: enabled (this GPU has mig: {mig})")
        return ()
    if not isinstance(node.value, list):
        check.fail(node, f"{key}.instances",
                   f"expected a list of MIG profiles, got {_kind(node.value)}")
        return ()
    out = []
    for position, item in enumerate(node.value):
        instance = _instance(check, item, f"{key}.instances[{position}]", index, name, position)
        if instance is not None:
            out.append(instance)
    return tuple(out)


def _instance(check: _Checker, item: Node, key: str, gpu_index: int | None, gpu_name: str | None,
              position: int) -> MigInstance | None:
    if isinstance(item.value, str):
        fields: dict[str, Node] | None = {"profile": item}
    elif isinstance(item.value, dict):
        fields = check.mapping(item, key, _INSTANCE_KEYS)
    else:
        check.fail(item, key, f"expected a MIG profile like 2g.20gb (or a mapping with "
                   f"profile:), got {_kind(item.value)} {item.value!r}")
        return None
    if fields is None:
        return None
    before = len(check.problems)
    if "profile" not in fields:
        check.fail(item, f"{key}.profile", "missing (every MIG instance needs a profile)")
        return None
    profile = check.text(fields["profile"], f"{key}.profile")
    size = profile_memory_mib(profile) if profile else None
    if profile and size is None:
        check.fail(fields["profile"], f"{key}.profile",
                   f"{profile!r} is not a MIG profile (like 1g.10gb, 2g.20gb, 1c.3g.40gb)")
    used = check.integer(fields.get("memory_used_mib"), f"{key}.memory_used_mib", minimum=0)
    if used is not None and size is not None and used > size:
        check.fail(fields["memory_used_mib"], f"{key}.memory_used_mib",
                   f"{used} MiB used is more than the {size} MiB of {profile}")
    util = check.percent(fields.get("utilization"), f"{key}.utilization")
    given = check.text(fields.get("uuid"), f"{key}.uuid", prefix="MIG-")
    if len(check.problems) > before or gpu_index is None:
        return None
    return MigInstance(
        gpu_index=gpu_index,
        index=position,
        profile=profile,
        uuid=given or derived_uuid("MIG", gpu_name, gpu_index, position),
        memory_total_mib=size,
        memory_used_mib=used,
        utilization=util,
    )


def load_description(path: str | Path) -> Inventory:
    """Read and parse a hardware description file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError([ConfigProblem(str(path), None, None,
                                         f"cannot read the hardware description: {reason}")],
                          hint=_HINT) from None
    return parse_description(text, str(path))


def _servers_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "servers"


def builtin_names() -> list[str]:
    """Names of the simulated servers shipped with ds01 (``builtin:NAME``)."""
    return sorted(p.stem for p in _servers_dir().glob("*.yaml"))


def builtin(name: str) -> Inventory:
    """One of the simulated servers shipped with ds01."""
    path = _servers_dir() / f"{name}.yaml"
    if name not in builtin_names():
        raise UsageError(f"there is no builtin server {name!r}",
                         hint=f"choose one of: {', '.join(builtin_names())}")
    return parse_description(path.read_text(encoding="utf-8"), str(path), label=f"builtin:{name}")
