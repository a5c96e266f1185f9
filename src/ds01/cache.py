"""A compiled-form cache for files that are expensive to parse (the YAML config, hardware files).

The CLI runs on every container start; parsing YAML costs more than the whole decision. A
validated object is pickled under the state directory's cache folder, keyed by the source's path,
size, mtime (ns), inode and device, plus the ds01 version. Any change to the file, or to ds01,
misses the cache and the file is parsed (and validated) again.

The cache is an optimisation only: when it cannot be read or written, the file is parsed.
A cache file is trusted only when it is owned by root or by the current user and is not writable
by group or others (pickle must never load what another user could have written).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ds01 import __version__

def _key(path: Path, tag: str) -> tuple:
    st = os.stat(path)
    return (tag, __version__, str(path), st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


def _cache_file(cache_dir: Path, path: Path, tag: str) -> Path:
    flat = str(path).replace("%", "%25").replace("/", "%2F")
    return cache_dir / f"{tag}-{flat}.pickle"


def _trusted(fd: int) -> bool:
    st = os.fstat(fd)
    owner_ok = st.st_uid in (0, os.geteuid())
    return owner_ok and not (st.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def _read(file: Path, key: tuple):
    try:
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        if not _trusted(fd):
            return None
        with os.fdopen(fd, "rb", closefd=False) as fh:
            import pickle

            stored_key, value = pickle.load(fh)
    except Exception:  # a damaged cache is a miss, never an answer
        return None
    finally:
        os.close(fd)
    return value if stored_key == key else None


def _write(file: Path, key: tuple, value) -> None:
    import pickle

    try:
        file.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        with os.fdopen(fd, "wb") as fh:
            pickle.dump((key, value), fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, file)
    except OSError:
        return  # read-only state dir, no permission: parse every time


def load_cached(path: Path, loader, cache_dir: Path | None, tag: str):
    """``loader(path)``, or its cached result when ``path`` has not changed since."""
    try:
        key = _key(path, tag)
    except OSError:
        return loader(path)  # the loader reports a missing or unreadable file properly
    if cache_dir is None:
        return loader(path)
    file = _cache_file(cache_dir, path, tag)
    value = _read(file, key)
    if value is None:
        value = loader(path)
        _write(file, key, value)
    return value
