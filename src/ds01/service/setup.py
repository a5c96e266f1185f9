"""``ds01 setup dirs``: the log and state directory layout, and the convenience link.

Under a filesystem root (``/`` on the server; another directory when preparing an image)::

    <log dir>/               /var/log/ds01 by default
        metrics/ reports/ audits/
    <state dir>/             /var/lib/ds01 by default
    /opt/ds01-infra/logs  -> <log dir>

The link holds the log directory's absolute path as the installed system sees it (without the
root prefix), so it stays right when the tree is copied onto the server. Running again changes
nothing; a link that points elsewhere is corrected; anything that is not a link at the link's
place is left alone and reported.
"""

from __future__ import annotations

import os
from ds01.records import record
from pathlib import Path

from ds01.context import Context
from ds01.errors import StateError, UsageError

LOG_SUBDIRS = ("metrics", "reports", "audits")
LINK = Path("/opt/ds01-infra/logs")


@record
class Step:
    """One thing setup looked at: ``action`` is created, exists, linked, relinked or ok."""

    action: str
    path: str
    detail: str = ""

    def to_dict(self) -> dict:
        return {"action": self.action, "path": self.path, "detail": self.detail}

    def __str__(self) -> str:
        return f"{self.action:<8} {self.path}" + (f" {self.detail}" if self.detail else "")


def under(root: Path, path: Path) -> Path:
    """``path`` (absolute on the installed system) placed under ``root``."""
    path = Path(os.path.abspath(path))
    return Path(root) / path.relative_to(path.anchor)


def _mkdir(real: Path, shown: Path) -> Step:
    if real.is_dir():
        return Step("exists", str(shown))
    try:
        real.mkdir(mode=0o755, parents=True)
        os.chmod(real, 0o755)
    except FileExistsError:
        raise UsageError(f"{shown} exists and is not a directory ({real})",
                         hint="move it aside, then run `ds01 setup dirs` again") from None
    except OSError as exc:
        raise StateError(f"cannot create {real}: {exc.strerror or exc}",
                         hint="creating the ds01 directories needs root: run it with sudo"
                         ) from None
    return Step("created", str(shown))


def _link(root: Path, target: Path) -> list[Step]:
    real = under(root, LINK)
    wanted = str(Path(os.path.abspath(target)))
    if real.is_symlink():
        current = os.readlink(real)
        if current == wanted:
            return [Step("ok", str(LINK), f"-> {wanted}")]
        _replace_link(real, wanted)
        return [Step("relinked", str(LINK), f"-> {wanted} (was -> {current})")]
    if os.path.lexists(real):
        kind = "directory" if real.is_dir() else "file"
        raise UsageError(
            f"{real} is a {kind}, not a link; ds01 will not replace it with the link to {wanted}",
            hint=f"move {real} aside (keep what is in it), then run `ds01 setup dirs` again")
    parent = _mkdir(real.parent, LINK.parent)
    try:
        os.symlink(wanted, real)
    except OSError as exc:
        raise StateError(f"cannot create the link {real}: {exc.strerror or exc}",
                         hint="creating the ds01 directories needs root: run it with sudo"
                         ) from None
    return [parent, Step("linked", str(LINK), f"-> {wanted}")]


def _replace_link(real: Path, wanted: str) -> None:
    tmp = real.with_name(f".{real.name}.ds01-new")
    try:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(wanted, tmp)
        os.replace(tmp, real)
    except OSError as exc:
        raise StateError(f"cannot update the link {real}: {exc.strerror or exc}",
                         hint="creating the ds01 directories needs root: run it with sudo"
                         ) from None


def setup_dirs(ctx: Context, root: Path = Path("/")) -> list[Step]:
    """Create what is missing (0755 directories, the link); return what was found and done."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"--root {root} is not a directory",
                         hint="give an existing directory (the default is /)")
    log_dir = Path(os.path.abspath(ctx.log_dir))
    steps = [_mkdir(under(root, log_dir), log_dir)]
    for name in LOG_SUBDIRS:
        steps.append(_mkdir(under(root, log_dir / name), log_dir / name))
    state_dir = Path(os.path.abspath(ctx.state_dir))
    steps.append(_mkdir(under(root, state_dir), state_dir))
    steps.extend(_link(root, log_dir))
    return steps
