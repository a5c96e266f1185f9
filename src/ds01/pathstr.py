"""File paths as plain strings, spelled exactly as ``str(pathlib.Path(...))`` spells them.

``pathlib`` imports ``urllib.parse``, ``ipaddress``, ``fnmatch`` and more: about a third of
the interpreter's own start-up time. The modules on the CLI's allocate/release path keep paths
as strings and use these helpers instead, so that messages and cache keys read exactly as they
did with ``Path`` objects. Anything unusual (bytes, odd spellings) goes through ``pathlib``.
"""

from __future__ import annotations

import errno
import os

# Path.exists() and Path.is_dir() answer False for these errors, and raise for any other.
_IGNORED = (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP)


def _is_normal(text: str) -> bool:
    """True when ``text`` is already spelled as ``str(Path(text))`` would spell it."""
    if not text or text == ".":
        return text == "."
    body = text[2:] if text.startswith("//") and not text.startswith("///") else text[1:]
    return (
        "//" not in body
        and not (text.endswith("/") and text not in ("/", "//"))
        and not text.startswith("./")
        and "/./" not in text
        and not text.endswith("/.")
        and "\0" not in text
    )


def pathstr(path) -> str:
    """``str(Path(path))`` for a str or path-like ``path``; pathlib only for odd spellings."""
    if type(path) is str and _is_normal(path):
        return path
    from pathlib import Path

    return str(Path(path))


def join(base: str, name: str) -> str:
    """``str(Path(base) / name)`` for a normal ``base`` and one plain file ``name``."""
    if base == ".":
        return name
    return base + name if base.endswith("/") else f"{base}/{name}"


def parent(path: str) -> str:
    """``str(Path(path).parent)`` for a normal ``path``."""
    if path in ("/", "//", "."):
        return path
    cut = path.rfind("/")
    if cut < 0:
        return "."
    if cut == 0:
        return "/"
    if cut == 1 and path.startswith("//"):
        return "//"
    return path[:cut]


def name(path: str) -> str:
    """``Path(path).name`` for a normal ``path``."""
    return "" if path in ("/", "//", ".") else path[path.rfind("/") + 1:]


def _stat(path: str):
    """``os.stat(path)``, or None where ``Path.exists()`` answers False (it raises otherwise)."""
    try:
        return os.stat(path)
    except OSError as exc:
        if exc.errno not in _IGNORED:
            raise
        return None
    except ValueError:
        return None


def exists(path: str) -> bool:
    """``Path(path).exists()``: False when missing, and raises as it does for other errors."""
    return _stat(path) is not None


def is_dir(path: str) -> bool:
    """``Path(path).is_dir()``."""
    st = _stat(path)
    return st is not None and (st.st_mode & 0o170000) == 0o040000
