"""Writing report and plot files atomically (a reader never sees half a file)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ds01.errors import StateError


def write_atomic(path: Path, fill, *, binary: bool, what: str) -> Path:
    """Create ``path`` (0644) through a temporary file that ``fill(fh)`` writes."""
    try:
        path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb" if binary else "w", **({} if binary else
                                                             {"encoding": "utf-8"})) as fh:
                fill(fh)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise StateError(f"cannot write the {what} {path}: {exc.strerror or exc}",
                         hint=f"check that {path.parent} exists and is writable (run "
                         "`ds01 setup dirs` as root)") from None
    return path
