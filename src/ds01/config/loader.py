"""Load and validate the policy file (``resource-limits.yaml``) into a ``Config``.

Every problem is collected, each naming the file, the line and the dotted key
(``groups.student.max_mig_instances``); when there is any, ``ConfigError`` is raised and
nothing is applied. The rules are those of the contract, section 2.
"""

from __future__ import annotations

from pathlib import Path

from ds01.config.checks import BAD, GROUP_NAME, USER_NAME, Checker, join
from ds01.config.model import (
    ERROR_MESSAGE_FIELDS,
    LIMIT_KEYS,
    Config,
    GpuSettings,
    Group,
    Override,
)
from ds01.config.sections import aggregate, containers, images, monitoring, reservation
from ds01.errors import ConfigError, ConfigProblem
from ds01.yamlpos import Node, parse_yaml

TOP_KEYS = (
    "defaults",
    "default_group",
    "groups",
    "user_overrides",
    "gpu",
    "wizard",
    "images",
    "containers",
    "monitoring",
)
GROUP_ONLY = ("members", "unix_groups", "admin", "aggregate")
RESERVATION_KEYS = ("reservation_start", "reservation_end", "reserved_gpus", "reason")
OVERRIDE_ONLY = ("prefer_full_gpu",) + RESERVATION_KEYS
GROUP_KEYS = LIMIT_KEYS + GROUP_ONLY
OVERRIDE_KEYS = LIMIT_KEYS + OVERRIDE_ONLY
GPU_KEYS = ("units_per_gpu", "max_containers_per_mig", "max_containers_per_gpu")

# Where a key belongs when it turns up in the wrong place (for the message).
ELSEWHERE: dict[str, str] = {
    **{k: "in a group (groups.<name>)" for k in GROUP_ONLY},
    **{k: "in a user override (user_overrides.<user>)" for k in OVERRIDE_ONLY},
    **{k: "under defaults, a group or a user override" for k in LIMIT_KEYS},
    **{k: "under gpu" for k in GPU_KEYS},
    **{k: "under wizard.error_messages" for k in ERROR_MESSAGE_FIELDS},
    "error_messages": "under wizard",
}

CHECK_HINT = "fix the lines listed, then run `ds01 config check`; nothing was applied"


def load_config(path: Path) -> Config:
    """Read and validate the policy file at ``path``."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise _file_error(source, "configuration file not found", "create it (an example ships "
                          "as ds01/data/resource-limits.yaml) or point --config / DS01_CONFIG "
                          "at your file") from None
    except IsADirectoryError:
        raise _file_error(source, "is a directory, not a file",
                          "point --config / DS01_CONFIG at the YAML file itself") from None
    except PermissionError:
        raise _file_error(source, "cannot read: permission denied",
                          "make the file readable by the users who run ds01 (e.g. mode 0644)"
                          ) from None
    except OSError as exc:
        raise _file_error(source, f"cannot read: {exc.strerror or exc}",
                          "check the path and the disk") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            [ConfigProblem(source, line, None, "not UTF-8 text")],
            hint="save the file as UTF-8",
        ) from None
    return parse_config(text, source)


def _file_error(source: str, message: str, hint: str) -> ConfigError:
    return ConfigError([ConfigProblem(source, None, None, message)], hint=hint)


def parse_config(text: str, source: str) -> Config:
    """Validate YAML ``text`` (named ``source`` in messages) into a ``Config``."""
    try:
        root = parse_yaml(text, source)
    except ConfigError as exc:
        raise ConfigError(exc.problems, hint=CHECK_HINT) from None
    c = Checker(source)
    if root.value is not None and not isinstance(root.value, dict):
        c.wrong(root, "", "a mapping of sections (defaults:, groups:, ...) at the top level")
        raise ConfigError(c.problems, hint=CHECK_HINT)
    top = c.mapping(root, "")
    c.known_keys(top, TOP_KEYS, "", ELSEWHERE)
    default_entries = c.mapping(top.get("defaults"), "defaults")
    c.known_keys(default_entries, LIMIT_KEYS, "defaults", ELSEWHERE)
    defaults = _limits(c, default_entries, "defaults")
    groups = _groups(c, top.get("groups"))
    default_group = _default_group(c, top.get("default_group"), groups)
    config = Config(
        source=source,
        defaults=defaults,
        default_group=default_group,
        groups=groups,
        overrides=_overrides(c, top.get("user_overrides")),
        gpu=_gpu(c, top.get("gpu")),
        error_messages=_wizard(c, top.get("wizard")),
        images=images(c, top.get("images")),
        containers=containers(c, top.get("containers")),
        monitoring=monitoring(c, top.get("monitoring")),
    )
    if c.problems:
        problems = sorted(c.problems, key=lambda p: p.line or 0)
        raise ConfigError(problems, hint=CHECK_HINT)
    return config


# -- limits, groups, overrides -------------------------------------------------------------


def _limit(c: Checker, name: str, node: Node, key: str) -> object:
    """One limit key's parsed value (or BAD)."""
    if name == "priority":
        return c.integer(node, key, minimum=0, nullable=False)
    if name in ("max_mig_instances", "max_full_gpus", "max_containers_per_user"):
        return c.integer(node, key, minimum=0, nullable=True)
    if name in ("pids_limit", "max_tasks"):
        return c.integer(node, key, minimum=1, nullable=True)
    if name in ("max_cpus", "slice_cpus"):
        return c.number(node, key, nullable=True)
    if name in ("memory", "shm_size", "slice_memory"):
        return c.size(node, key, nullable=True)
    return c.duration(node, key, nullable=True)  # idle_timeout


def _limits(c: Checker, entries: dict[str, Node], path: str) -> dict:
    """The limit keys among ``entries``, parsed; unknown keys are left to the caller."""
    out = {}
    for name, node in entries.items():
        if name in LIMIT_KEYS:
            value = _limit(c, name, node, join(path, name))
            if value is not BAD:
                out[name] = value
    return out


def _groups(c: Checker, node: Node | None) -> tuple[Group, ...]:
    out = []
    for order, (name, gnode) in enumerate(c.mapping(node, "groups").items()):
        path = join("groups", name)
        if not GROUP_NAME.fullmatch(name):
            c.problem(gnode, path, f"{name!r} is not a valid group name (letters, digits, _ -)")
        elif name == "default":
            c.problem(gnode, path, "'default' is reserved for users without a group; rename it")
        entries = c.mapping(gnode, path)
        c.known_keys(entries, GROUP_KEYS, path, ELSEWHERE)
        members = _names(c, entries, "members", path, USER_NAME, "user name")
        unix_groups = _names(c, entries, "unix_groups", path, USER_NAME, "Unix group name")
        admin = c.boolean(entries["admin"], join(path, "admin")) if "admin" in entries else False
        out.append(
            Group(
                name=name,
                settings=_limits(c, entries, path),
                members=members,
                unix_groups=unix_groups,
                admin=admin is True,
                order=order,
                aggregate=aggregate(c, entries.get("aggregate"), join(path, "aggregate")),
            )
        )
    return tuple(out)


def _names(c: Checker, entries: dict, name: str, path: str, pattern, what: str) -> tuple:
    if name not in entries:
        return ()
    value = c.string_list(entries[name], join(path, name), pattern, what)
    return () if value is BAD else value


def _default_group(c: Checker, node: Node | None, groups: tuple[Group, ...]) -> str | None:
    if node is None or node.value is None:
        return None
    if not isinstance(node.value, str):
        c.wrong(node, "default_group", "the name of a group")
        return None
    names = [g.name for g in groups]
    if node.value not in names:
        known = ", ".join(names) if names else "none are defined"
        c.problem(node, "default_group", f"no group named {node.value!r} (groups: {known})")
        return None
    return node.value


def _overrides(c: Checker, node: Node | None) -> dict:
    out = {}
    for user, onode in c.mapping(node, "user_overrides").items():
        path = join("user_overrides", user)
        if not USER_NAME.fullmatch(user):
            c.problem(onode, path, f"{user!r} is not a valid user name")
        entries = c.mapping(onode, path)
        c.known_keys(entries, OVERRIDE_KEYS, path, ELSEWHERE)
        prefer = False
        if "prefer_full_gpu" in entries:
            prefer = c.boolean(entries["prefer_full_gpu"], join(path, "prefer_full_gpu"))
        out[user] = Override(
            user=user,
            settings=_limits(c, entries, path),
            prefer_full_gpu=prefer is True,
            reservation=reservation(c, user, onode, entries, path),
        )
    return out


# -- gpu and wizard --------------------------------------------------------------------------


def _gpu(c: Checker, node: Node | None) -> GpuSettings:
    entries = c.mapping(node, "gpu")
    c.known_keys(entries, GPU_KEYS, "gpu", ELSEWHERE)
    values = {}
    for name in GPU_KEYS:
        if name in entries:
            v = c.integer(entries[name], join("gpu", name), minimum=1, nullable=False)
            if v is not BAD:
                values[name] = v
    return GpuSettings(**values)


def _wizard(c: Checker, node: Node | None) -> dict:
    entries = c.mapping(node, "wizard")
    c.known_keys(entries, ("error_messages",), "wizard", ELSEWHERE)
    messages = c.mapping(entries.get("error_messages"), "wizard.error_messages")
    keys = tuple(ERROR_MESSAGE_FIELDS)
    c.known_keys(messages, keys, "wizard.error_messages", {})
    out = {}
    for name, mnode in messages.items():
        if name in ERROR_MESSAGE_FIELDS:
            key = join("wizard.error_messages", name)
            value = c.template(mnode, key, ERROR_MESSAGE_FIELDS[name])
            if value is not BAD:
                out[name] = value
    return out
