"""A compiled-form cache for files that are expensive to parse (the YAML config, hardware files).

The CLI runs on every container start; parsing YAML costs more than the whole decision. A
validated object is stored under the state directory's cache folder, keyed by the source's path,
size, mtime (ns), inode and device, plus the ds01 version and the cache format. Any change to
the file, or to ds01, misses the cache and the file is parsed (and validated) again.

The cache is an optimisation only: when it cannot be read or written, the file is parsed. Any
damage (unreadable, truncated, bytes changed: there is a checksum, of another format, naming
classes whose fields changed) is a miss. A cache file is trusted only when it is owned by root
or by the current user and is not writable by group or others.

The format is ``marshal`` of plain data, not ``pickle``: ``marshal`` is built into the
interpreter (``pickle`` costs several milliseconds to import, a tenth of a CLI run) and cannot
run code while loading. Records and datetimes become tagged tuples ``(..., kind, ...)``
(``...`` never occurs in the data: it is not a supported value) and are rebuilt on load the way
``pickle`` rebuilt them: ``__dict__`` filled in, ``__init__`` not called. Containers that hold
no record are stored and loaded as they are, without walking them. A value holding anything
else (a set, a ``Path``, a custom class) is simply not cached.
"""

from __future__ import annotations

import marshal
import os
import stat
import sys
from datetime import datetime, timedelta, timezone

from ds01 import __version__
from ds01.pathstr import join, name, parent, pathstr

_FORMAT = "marshal-1"
# Each file starts with the length of the data (8 bytes) and a checksum of it (4 bytes): the
# data read as one big integer modulo a prime below 2**30, which int arithmetic computes in a
# few microseconds per kilobyte without importing zlib or hashlib. A damaged file (a changed,
# lost or added byte) is a miss instead of a wrong configuration.
_PRIME = 1073741789
_HEADER = 12
_SCALARS = frozenset({str, int, float, bool, bytes, type(None)})
_RECORD, _TUPLE, _LIST, _DICT, _DATETIME = range(5)


class _Unsupported(Exception):
    """The value holds something the cache format does not store."""


def _key(path: str, tag: str) -> tuple:
    st = os.stat(path)
    return (tag, __version__, _FORMAT, marshal.version, path, st.st_size, st.st_mtime_ns,
            st.st_ino, st.st_dev)


def _cache_file(cache_dir: str, path: str, tag: str) -> str:
    flat = path.replace("%", "%25").replace("/", "%2F")
    return join(cache_dir, f"{tag}-{flat}.marshal")


# --------------------------------------------------------------------------- encoding


def _encode(value, classes: dict) -> tuple:
    """(encoded value, True when it holds no tagged node and is stored as it is)."""
    kind = type(value)
    if kind in _SCALARS:
        return value, True
    if kind is tuple or kind is list:
        items = [_encode(v, classes) for v in value]
        if all(plain for _, plain in items):
            return value, True
        return (..., _TUPLE if kind is tuple else _LIST, tuple(v for v, _ in items)), False
    if kind is dict:
        if not all(type(k) in _SCALARS for k in value):
            raise _Unsupported(kind)
        items = [_encode(v, classes) for v in value.values()]
        if all(plain for _, plain in items):
            return value, True
        return (..., _DICT, tuple(value), tuple(v for v, _ in items)), False
    if kind is datetime:
        return _encode_datetime(value), False
    return _encode_record(value, classes), False


def _encode_record(value, classes: dict) -> tuple:
    kind = type(value)
    fields = getattr(kind, "__record_fields__", None)
    state = getattr(value, "__dict__", None)
    if fields is None or state is None:
        raise _Unsupported(kind)
    names = tuple(f.name for f in fields)
    if len(state) != len(names) or any(n not in state for n in names):
        raise _Unsupported(kind)  # extra attributes: pickle kept them, this format does not
    entry = (kind.__module__, kind.__qualname__, names)
    index = classes.setdefault(entry, len(classes))
    return (..., _RECORD, index, tuple(_encode(state[n], classes)[0] for n in names))


def _encode_datetime(value: datetime) -> tuple:
    tz = value.tzinfo
    if tz is not None and type(tz) is not timezone:
        raise _Unsupported(type(tz))
    parts = (value.year, value.month, value.day, value.hour, value.minute, value.second,
             value.microsecond, value.fold)
    if tz is None:
        return (..., _DATETIME, parts, None)
    offset, *label = tz.__getinitargs__()  # (offset,) or (offset, name), as pickle stores it
    return (..., _DATETIME, parts, (offset.days, offset.seconds, offset.microseconds, *label))


# --------------------------------------------------------------------------- decoding


def _resolve(classes) -> list:
    """The record classes named in a cache file; ValueError when one no longer matches."""
    out = []
    for module, qualname, names in classes:
        __import__(module)
        cls = sys.modules[module]
        for part in qualname.split("."):
            cls = getattr(cls, part)
        if tuple(f.name for f in cls.__record_fields__) != names:
            raise ValueError(f"{qualname} has other fields now")
        out.append((cls, names))
    return out


def _decode(value, classes: list):
    if type(value) is not tuple or not value or value[0] is not ...:
        return value
    kind = value[1]
    if kind == _RECORD:
        cls, names = classes[value[2]]
        if len(value[3]) != len(names):
            raise ValueError("record of the wrong length")
        obj = cls.__new__(cls)
        state = obj.__dict__
        for n, v in zip(names, value[3]):
            state[n] = _decode(v, classes)
        return obj
    if kind == _TUPLE:
        return tuple([_decode(v, classes) for v in value[2]])
    if kind == _LIST:
        return [_decode(v, classes) for v in value[2]]
    if kind == _DICT:
        return dict(zip(value[2], [_decode(v, classes) for v in value[3]], strict=True))
    if kind == _DATETIME:
        tz = value[3]
        if tz is not None:
            tz = timezone(timedelta(tz[0], tz[1], tz[2]), *tz[3:])
        *parts, fold = value[2]
        return datetime(*parts, tzinfo=tz, fold=fold)
    raise ValueError(f"unknown node {kind!r}")


# --------------------------------------------------------------------------- files


def _header(payload: bytes) -> bytes:
    checksum = int.from_bytes(payload, "little") % _PRIME
    return len(payload).to_bytes(8, "little") + checksum.to_bytes(4, "little")


def _trusted(fd: int) -> bool:
    st = os.fstat(fd)
    owner_ok = st.st_uid in (0, os.geteuid())
    return owner_ok and not (st.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def _read(file: str, key: tuple):
    try:
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        if not _trusted(fd):
            return None
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        data = b"".join(chunks)
        payload = data[_HEADER:]
        if data[:_HEADER] != _header(payload):
            return None
        stored_key, classes, tree = marshal.loads(payload)
        if stored_key != key:
            return None
        return _decode(tree, _resolve(classes))
    except Exception:  # a damaged cache is a miss, never an answer
        return None
    finally:
        os.close(fd)


def _write(file: str, key: tuple, value) -> None:
    classes: dict = {}
    try:
        tree = _encode(value, classes)[0]
    except (_Unsupported, RecursionError):
        return  # not storable: parse every time
    payload = marshal.dumps((key, tuple(classes), tree))
    try:
        os.makedirs(parent(file), mode=0o755, exist_ok=True)
        tmp = join(parent(file), f".{name(file)}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(_header(payload) + payload)
        os.replace(tmp, file)
    except OSError:
        return  # read-only state dir, no permission: parse every time


def load_cached(path, loader, cache_dir, tag: str):
    """``loader(Path(path))``, or its cached result when ``path`` has not changed since.

    ``path`` and ``cache_dir`` are str or path-like; ``cache_dir`` None disables the cache.
    """
    path = pathstr(path)
    if cache_dir is None:
        return _load(loader, path)
    try:
        key = _key(path, tag)
    except OSError:
        return _load(loader, path)  # the loader reports a missing or unreadable file properly
    file = _cache_file(pathstr(cache_dir), path, tag)
    value = _read(file, key)
    if value is None:
        value = _load(loader, path)
        _write(file, key, value)
    return value


def _load(loader, path: str):
    from pathlib import Path

    return loader(Path(path))
