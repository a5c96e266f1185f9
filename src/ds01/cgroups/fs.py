"""Direct cgroup filesystem management, for Docker's ``cgroupfs`` cgroup driver.

With that driver ds01 itself creates ``<cgroup_root>/<group>/<user>`` (for example
``ds01/students/alice``), writes the aggregate limits there, and containers are started with
``--cgroup-parent=<cgroup_root>/<group>/<user>``. Both kernel interfaces are supported:

* cgroup v1 (and the "hybrid" layout): one hierarchy per controller,
  ``<mount>/cpu/...``, ``<mount>/memory/...``, ``<mount>/pids/...``;
* cgroup v2: one unified hierarchy at ``<mount>``; controllers are enabled for children by
  writing ``+cpu +memory +pids`` into each parent's ``cgroup.subtree_control``.

Kernel rules worth knowing (each shows up as a ``CgroupError`` with a hint):

* v1 ``cpu``: a cgroup's ``cpu.cfs_quota_us`` may not exceed its parent's, and a parent may not
  be lowered below a child's quota (EINVAL). ``CgroupTree.apply`` orders the writes so that a
  consistent new plan always goes through; the quota must be at least 1000 us.
* v1 ``memory``: lowering ``memory.limit_in_bytes`` below what the cgroup (with its children)
  uses makes the kernel reclaim; when it cannot, the write fails with EBUSY. Limits are rounded
  down to whole pages. On v2, lowering ``memory.max`` below usage reclaims and then OOM-kills.
* v2: a non-root cgroup that holds processes cannot enable controllers for children (EBUSY).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping
from ds01.records import record, field
from pathlib import Path

from ds01.cgroups.slices import PERIOD_US, SliceLimits, slice_path
from ds01.errors import Ds01Error, UsageError

DEFAULT_MOUNT = Path("/sys/fs/cgroup")
CONTROLLERS = ("cpu", "memory", "pids")
# v1 reports "no memory limit" as the largest page-aligned value below 2**63; any value this
# large (for page sizes up to 64 KiB) means unlimited.
V1_MEMORY_UNLIMITED_FLOOR = 2**63 - 2**16


class CgroupError(Ds01Error):
    """The kernel refused a cgroup operation, or a cgroup/controller is missing."""

    code = "CGROUP_ERROR"

    def __init__(
        self,
        message: str,
        *,
        path: Path | str,
        value: str | None = None,
        kernel: str | None = None,
        hint: str | None = None,
        code: str | None = None,
    ):
        super().__init__(message, hint=hint, code=code)
        self.path = str(path)
        self.value = value
        self.kernel = kernel

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["path"] = self.path
        if self.value is not None:
            out["value"] = self.value
        if self.kernel is not None:
            out["kernel_message"] = self.kernel
        return out


@record
class RemoveResult:
    """What ``CgroupTree.remove`` did, per cgroup directory."""

    removed: list[Path] = field(default_factory=list)
    busy: list[Path] = field(default_factory=list)  # still holds processes (or children)
    absent: list[Path] = field(default_factory=list)  # was not there

    @property
    def complete(self) -> bool:
        """True when nothing of the path is left behind."""
        return not self.busy


def detect_version(mount: Path = DEFAULT_MOUNT) -> int:
    """2 when ``mount`` is a unified (v2) hierarchy, 1 for per-controller (v1/hybrid) mounts."""
    mount = Path(mount)
    if (mount / "cgroup.controllers").is_file():
        return 2
    if mount.is_dir() and any(_v1_dir(mount, c) is not None for c in CONTROLLERS):
        return 1
    raise CgroupError(
        f"no cgroup hierarchy found at {mount}",
        path=mount,
        hint="mount cgroupfs there (v2: cgroup2 at /sys/fs/cgroup) or pass the right mount point",
        code="CGROUP_MISSING",
    )


def _v1_dir(mount: Path, controller: str) -> Path | None:
    """The v1 hierarchy holding ``controller``: ``cpu``, or a joint mount like ``cpu,cpuacct``."""
    exact = mount / controller
    if exact.is_dir():
        return exact
    for entry in sorted(mount.iterdir()):
        if controller in entry.name.split(",") and entry.is_dir():
            return entry
    return None


def _parts(rel_path: str) -> tuple[str, ...]:
    parts = tuple(p for p in str(rel_path).split("/") if p)
    if not parts or any(p in (".", "..") or "\0" in p or "\n" in p for p in parts):
        raise UsageError(
            f"{rel_path!r} is not a usable cgroup path",
            hint="give a relative path such as ds01/<group>/<user>",
            code="INVALID_NAME",
        )
    return parts


def cgroupfs_parent(group: str, user: str, root: str = "ds01") -> str:
    """``<root>/<group>/<user>``: the path to create and to pass as ``--cgroup-parent``."""
    for kind, name in (("cgroup root", root), ("group", group), ("user", user)):
        if "/" in name or name.endswith(".slice") or name in ("", ".", ".."):
            raise UsageError(
                f"{kind} name {name!r} cannot be a cgroup directory name",
                hint="names may not be empty, '.', '..', contain '/' or end in '.slice'",
                code="INVALID_NAME",
            )
    return "/".join(_parts(f"{root}/{group}/{user}"))


# --- reading and writing control files ---------------------------------------------------------


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        missing = exc.errno == errno.ENOENT
        raise CgroupError(
            f"cannot read {path}: {exc.strerror}",
            path=path,
            kernel=exc.strerror,
            hint="the cgroup does not exist (yet)" if missing else "run as root",
            code="CGROUP_MISSING" if missing else None,
        ) from exc


def _write(path: Path, value: str) -> None:
    """One write(2) of ``value``, as the kernel wants; refusals become ``CgroupError``."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)
    except OSError as exc:
        from ds01.cgroups.hints import hint_for  # only when something went wrong

        raise CgroupError(
            f"the kernel refused {value!r} for {path}: {exc.strerror}",
            path=path,
            value=value,
            kernel=exc.strerror,
            hint=hint_for(path, value, exc),
        ) from exc


# --- the tree ----------------------------------------------------------------------------------


class CgroupTree:
    """ds01's cgroups under one cgroup mount point, on cgroup v1 or v2."""

    def __init__(self, mount: Path = DEFAULT_MOUNT, version: int | None = None):
        self.mount = Path(mount)
        self.version = detect_version(self.mount) if version is None else version
        if self.version not in (1, 2):
            raise UsageError(f"cgroup version {version!r} is not 1 or 2", code="INVALID_VALUE")

    def controller_dir(self, controller: str) -> Path:
        """The hierarchy root that holds ``controller`` (the mount itself on v2)."""
        if self.version == 2:
            return self.mount
        found = _v1_dir(self.mount, controller)
        if found is None:
            raise CgroupError(
                f"the {controller} controller is not mounted under {self.mount}",
                path=self.mount / controller,
                hint=f"mount the cgroup v1 {controller} controller, or run on cgroup v2",
                code="CGROUP_MISSING",
            )
        return found

    def bases(self) -> list[Path]:
        """Every hierarchy root ds01 writes into (one per controller on v1)."""
        if self.version == 2:
            return [self.mount]
        return [self.controller_dir(c) for c in CONTROLLERS]

    def path(self, rel_path: str, controller: str = "memory") -> Path:
        """The directory of ``rel_path`` in the hierarchy holding ``controller``."""
        return self.controller_dir(controller).joinpath(*_parts(rel_path))

    # ... creating and limiting

    def ensure(self, rel_path: str, limits: SliceLimits) -> list[Path]:
        """Create ``rel_path`` (every level) and write ``limits`` on it. Idempotent.

        Returns the cgroup directories of ``rel_path`` (one per controller on v1).
        """
        return self.apply({rel_path: limits})

    def apply(self, plan: Mapping[str, SliceLimits]) -> list[Path]:
        """Create every path of ``plan`` and write its limits, in an order the kernel accepts.

        Paths are created parents first. On v1, CPU quotas that grow are written parents
        first and quotas that shrink children first, so any plan where no child's quota
        exceeds its parent's goes through whatever the current values are.
        """
        order = sorted(plan, key=lambda rel: (len(_parts(rel)), _parts(rel)))
        if self.version == 2:
            self._check_v2_controllers()
        created: set[Path] = set()
        dirs = [d for rel in order for d in self._create(rel, created)]
        if self.version == 2:
            for rel in order:
                self._write_v2(rel, plan[rel])
            return dirs
        for rel in order:
            self._write_v1_cpu(rel, plan[rel].cpus, grow=True)
        for rel in reversed(order):
            self._write_v1_cpu(rel, plan[rel].cpus, grow=False)
        for rel in order:
            self._write_v1_memory_pids(rel, plan[rel])
        return dirs

    def _mkdir(self, path: Path) -> bool:
        """Create one cgroup directory; True when it is new."""
        try:
            path.mkdir()
            return True
        except FileExistsError:
            if path.is_dir():
                return False
            raise CgroupError(
                f"{path} exists and is not a cgroup directory",
                path=path,
                hint="a control file has this name; choose another group or user name",
                code="INVALID_NAME",
            ) from None
        except OSError as exc:
            raise CgroupError(
                f"cannot create cgroup {path}: {exc.strerror}",
                path=path,
                kernel=exc.strerror,
                hint=f"{path.parent} does not exist"
                if exc.errno == errno.ENOENT
                else "cgroups are managed as root: run ds01 with root privileges",
            ) from exc

    def _create(self, rel_path: str, created: set[Path]) -> list[Path]:
        """Create every level of ``rel_path``; ``created`` collects directories made now."""
        parts = _parts(rel_path)
        if self.version == 1:
            leaves = []
            for base in self.bases():
                leaf = base.joinpath(*parts)
                if not os.path.isdir(leaf):  # the usual case: there since the first container
                    for depth in range(1, len(parts) + 1):
                        self._mkdir(base.joinpath(*parts[:depth]))
                leaves.append(leaf)
            return leaves
        parent = self.mount
        for part in parts:
            self._enable_v2(parent, fresh=parent in created)
            child = parent / part
            if self._mkdir(child):
                created.add(child)
            parent = child
        return [parent]

    def _check_v2_controllers(self) -> None:
        path = self.mount / "cgroup.controllers"
        available = _read(path).split()
        missing = [c for c in CONTROLLERS if c not in available]
        if missing:
            raise CgroupError(
                f"cgroup v2 controller(s) {' '.join(missing)} not available at {self.mount}",
                path=path,
                value=" ".join(available),
                hint="the kernel lacks them or they are bound to a v1 hierarchy; boot with "
                "systemd.unified_cgroup_hierarchy=1 and without cgroup_no_v1 exceptions",
                code="CGROUP_MISSING",
            )

    def _enable_v2(self, cgroup: Path, fresh: bool) -> None:
        """Enable cpu, memory and pids for the children of ``cgroup`` (v2).

        A cgroup created during this call has an empty ``cgroup.subtree_control``, so the
        file is only read for cgroups that existed before.
        """
        control = cgroup / "cgroup.subtree_control"
        enabled = [] if fresh else _read(control).split()
        missing = [c for c in CONTROLLERS if c not in enabled]
        if missing:
            _write(control, " ".join(f"+{c}" for c in missing))

    def _write_v2(self, rel_path: str, limits: SliceLimits) -> None:
        cgroup = self.mount.joinpath(*_parts(rel_path))
        quota = "max" if limits.cpus is None else str(round(limits.cpus * PERIOD_US))
        _write(cgroup / "cpu.max", f"{quota} {PERIOD_US}")
        memory = "max" if limits.memory is None else str(limits.memory)
        high = "max" if limits.memory_high is None else str(limits.memory_high)
        _write(cgroup / "memory.max", memory)
        _write(cgroup / "memory.high", high)
        _write(cgroup / "pids.max", "max" if limits.tasks is None else str(limits.tasks))

    def _write_v1_cpu(self, rel_path: str, cpus: float | None, *, grow: bool) -> None:
        """Write the CPU quota if it moves in the wanted direction (-1 = no limit)."""
        cgroup = self.path(rel_path, "cpu")
        period = _read(cgroup / "cpu.cfs_period_us")
        if period != str(PERIOD_US):
            _write(cgroup / "cpu.cfs_period_us", str(PERIOD_US))
        new = -1 if cpus is None else round(cpus * PERIOD_US)
        current = int(_read(cgroup / "cpu.cfs_quota_us"))
        if new != current and (_quota_rank(new) > _quota_rank(current)) == grow:
            _write(cgroup / "cpu.cfs_quota_us", str(new))

    def _write_v1_memory_pids(self, rel_path: str, limits: SliceLimits) -> None:
        memory = "-1" if limits.memory is None else str(limits.memory)
        _write(self.path(rel_path, "memory") / "memory.limit_in_bytes", memory)
        tasks = "max" if limits.tasks is None else str(limits.tasks)
        _write(self.path(rel_path, "pids") / "pids.max", tasks)

    # ... reading back

    def read_limits(self, rel_path: str) -> SliceLimits:
        """The limits the kernel holds for ``rel_path`` (memory rounded to pages on v1)."""
        if self.version == 2:
            cgroup = self.mount.joinpath(*_parts(rel_path))
            quota, period = _read(cgroup / "cpu.max").split()
            cpus = None if quota == "max" else int(quota) / int(period)
            memory_text = _read(cgroup / "memory.max")
            memory = None if memory_text == "max" else int(memory_text)
            tasks_text = _read(cgroup / "pids.max")
        else:
            cpu = self.path(rel_path, "cpu")
            quota_v1 = int(_read(cpu / "cpu.cfs_quota_us"))
            period_v1 = int(_read(cpu / "cpu.cfs_period_us"))
            cpus = None if quota_v1 < 0 else quota_v1 / period_v1
            raw = int(_read(self.path(rel_path, "memory") / "memory.limit_in_bytes"))
            memory = None if raw >= V1_MEMORY_UNLIMITED_FLOOR else raw
            tasks_text = _read(self.path(rel_path, "pids") / "pids.max")
        tasks = None if tasks_text == "max" else int(tasks_text)
        if memory == 0 or tasks == 0:
            raise CgroupError(
                f"{rel_path} allows no memory or no tasks at all (memory={memory}, tasks={tasks})",
                path=rel_path,
                hint="ds01 never writes 0 (a v1 memory limit under one page rounds down to 0); "
                "apply the configured limits again",
                code="CGROUP_ZERO_LIMIT",
            )
        return SliceLimits(cpus=cpus, memory=memory, tasks=tasks)

    def attach(self, rel_path: str, pid: int) -> None:
        """Move process ``pid`` into ``rel_path`` (in every ds01 controller on v1)."""
        for base in self.bases():
            _write(base.joinpath(*_parts(rel_path)) / "cgroup.procs", str(pid))

    # ... removing

    def remove(self, rel_path: str) -> RemoveResult:
        """Remove ``rel_path`` and everything below it, leaves first, in every hierarchy.

        A cgroup that still holds processes (or a child that could not go) is left in place
        and listed as busy; one that is not there is listed as absent. Nothing is raised for
        those two cases.
        """
        result = RemoveResult()
        for base in self.bases():
            top = base.joinpath(*_parts(rel_path))
            if not top.is_dir():
                result.absent.append(top)
                continue
            below = [Path(d) for d, _subdirs, _files in os.walk(top, topdown=False)]
            for cgroup in below:
                self._rmdir(cgroup, result)
        return result

    @staticmethod
    def _rmdir(cgroup: Path, result: RemoveResult) -> None:
        try:
            cgroup.rmdir()
            result.removed.append(cgroup)
        except FileNotFoundError:
            result.absent.append(cgroup)
        except OSError as exc:
            if exc.errno in (errno.EBUSY, errno.ENOTEMPTY):
                result.busy.append(cgroup)
                return
            raise CgroupError(
                f"cannot remove cgroup {cgroup}: {exc.strerror}",
                path=cgroup,
                kernel=exc.strerror,
                hint="cgroups are managed as root: run ds01 with root privileges",
            ) from exc

    # ... containers

    def find_container_cgroup(self, container_id: str, parent_rel: str) -> Path | None:
        """The memory-controller cgroup of one container, or None if it has none (yet).

        ``parent_rel`` is what the container got as ``--cgroup-parent``: a path such as
        ``ds01/<group>/<user>`` (cgroupfs driver: the container's cgroup is ``<parent>/<id>``)
        or a slice name such as ``ds01-<group>-<user>.slice`` (systemd driver:
        ``<slice path>/docker-<id>.scope``). A unique id prefix (a short id) is enough.
        """
        if not container_id or any(c not in "0123456789abcdef" for c in container_id):
            raise UsageError(
                f"{container_id!r} is not a container id",
                hint="pass the hexadecimal id Docker reports (full or a unique prefix)",
                code="INVALID_NAME",
            )
        base = self.controller_dir("memory")
        if parent_rel.endswith(".slice") and "/" not in parent_rel.strip("/"):
            parent = base.joinpath(*slice_path(parent_rel.strip("/")).split("/"))
            prefix, suffix = f"docker-{container_id}", ".scope"
        else:
            parent = base.joinpath(*_parts(parent_rel))
            prefix, suffix = container_id, ""
        exact = parent / f"{prefix}{suffix}"
        if exact.is_dir():
            return exact
        if not parent.is_dir():
            return None
        found = [
            e for e in parent.iterdir()
            if e.is_dir() and e.name.startswith(prefix) and e.name.endswith(suffix)
        ]
        if len(found) > 1:
            raise UsageError(
                f"container id {container_id!r} matches {len(found)} cgroups under {parent}",
                hint="give more characters of the id",
                code="AMBIGUOUS_ID",
            )
        return found[0] if found else None

    def oom_kills(self, cgroup_dir: Path) -> int | None:
        """How many processes the kernel OOM-killed in ``cgroup_dir``.

        v1 reads ``memory.oom_control`` (its ``oom_kill`` line, kernels 4.13 and later), which
        counts kills of this cgroup's own processes, wherever the limit that was hit sits; v2
        reads ``memory.events``, which also counts kills in descendants. None when the cgroup
        is gone or the kernel keeps no count (unknown, never 0).
        """
        cgroup_dir = Path(cgroup_dir)
        if not cgroup_dir.is_dir():
            return None
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        counters = _parse_flat_keyed(_read(cgroup_dir / name))
        return counters.get("oom_kill")

    def under_oom(self, cgroup_dir: Path) -> bool | None:
        """v1 only: whether the cgroup is out of memory right now (OOM killer disabled)."""
        if self.version == 2 or not Path(cgroup_dir).is_dir():
            return None
        value = _parse_flat_keyed(_read(Path(cgroup_dir) / "memory.oom_control")).get("under_oom")
        return None if value is None else value != 0


def _quota_rank(quota_us: int) -> float:
    """Order v1 CPU quotas by how much they allow: -1 (no limit) is the most."""
    return float("inf") if quota_us < 0 else float(quota_us)


def _parse_flat_keyed(text: str) -> dict[str, int]:
    """Parse ``key value`` lines (the kernel's flat keyed format)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key and value.strip().lstrip("-").isdigit():
            out[key] = int(value)
    return out
