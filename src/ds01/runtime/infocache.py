"""The engine's facts (``GET /info``) kept between processes.

``GET /info`` costs the engine several milliseconds (it gathers storage, plugin and runtime
details), and the launcher needs only what cannot change while the engine runs: the cgroup
driver and version, the host's CPUs and memory, the runtimes. The answer is kept as JSON in a
cache directory, keyed by the identity of the engine's socket (device, inode, change time: a
restarted engine binds a new socket) and the number of CPUs this process sees (CPU hotplug),
and trusted for at most ``MAX_AGE_S``.

The cache is an optimisation only: a file that cannot be read, written, or trusted (owned by
someone other than root or this user, or writable by group or others) means asking the engine.
"""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

from ds01.runtime.engine import Engine, EngineInfo

MAX_AGE_S = 3600.0
FILE_NAME = "engine-info.json"
_FIELDS = ("server_version", "cgroup_driver", "cgroup_version", "ncpu", "mem_total", "runtimes",
           "default_runtime")


def cache_key(engine: Engine) -> list | None:
    """What identifies one running engine here; None when the socket cannot be looked at."""
    path = getattr(engine, "socket_path", None)
    if not path:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [str(path), st.st_dev, st.st_ino, st.st_ctime_ns, os.cpu_count()]


def cached_info(engine: Engine, cache_dir: Path | None, *, max_age_s: float = MAX_AGE_S,
                now: float | None = None) -> EngineInfo:
    """``engine.info()``, from ``cache_dir`` when a fresh answer for this engine is kept there."""
    key = cache_key(engine) if cache_dir is not None else None
    if key is None:
        return engine.info()
    file = Path(cache_dir) / FILE_NAME
    now = time.time() if now is None else now
    kept = _read(file)
    if kept is not None and kept.get("key") == key and 0 <= now - kept.get("at", -1) <= max_age_s:
        try:
            return EngineInfo(
                server_version=str(kept["server_version"]),
                cgroup_driver=str(kept["cgroup_driver"]),
                cgroup_version=str(kept["cgroup_version"]), ncpu=int(kept["ncpu"]),
                mem_total=int(kept["mem_total"]), runtimes=tuple(kept["runtimes"]),
                default_runtime=str(kept["default_runtime"]))
        except (KeyError, TypeError, ValueError):
            pass  # damaged: ask the engine
    info = engine.info()
    _write(file, {"key": key, "at": now, **{k: getattr(info, k) for k in _FIELDS}})
    return info


def _read(file: Path) -> dict | None:
    try:
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if st.st_uid not in (0, os.geteuid()) or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return None
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = json.loads(fh.read(65536))
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)
    return data if isinstance(data, dict) else None


def _write(file: Path, data: dict) -> None:
    tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    try:
        file.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0),
                     0o644)
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(data, default=list))
        os.replace(tmp, file)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
