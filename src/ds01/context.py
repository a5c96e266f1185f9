"""All paths and outside-world choices in one object that tests can redirect.

Built from command-line options first, then environment variables, then defaults:

=============  ==================  ===============================
option         environment         default
=============  ==================  ===============================
--config       DS01_CONFIG         /etc/ds01/resource-limits.yaml
--state-dir    DS01_STATE_DIR      /var/lib/ds01
--log-dir      DS01_LOG_DIR        /var/log/ds01
--hardware     DS01_HARDWARE       auto
(clock)        DS01_NOW            the real clock
=============  ==================  ===============================
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from ds01.errors import UsageError
from ds01.pathstr import join, pathstr
from ds01.records import FrozenInstanceError

DEFAULT_CONFIG = "/etc/ds01/resource-limits.yaml"
DEFAULT_STATE_DIR = "/var/lib/ds01"
DEFAULT_LOG_DIR = "/var/log/ds01"
DEFAULT_HARDWARE = "auto"


def parse_instant(text: str, *, what: str = "DS01_NOW") -> datetime:
    """Parse an ISO 8601 instant; a naive one is local time. Always returns an aware datetime."""
    raw = text.strip()
    if raw.endswith("Z"):
        raw = raw[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise UsageError(
            f"{what}={text!r} is not an ISO 8601 time",
            hint="write it like 2026-12-01T09:00:00+00:00",
        ) from None
    if value.tzinfo is None:
        value = value.astimezone()  # local time, made explicit
    return value


def _path_of(attribute: str) -> property:
    """A read-only property: the string attribute ``attribute`` as a ``pathlib.Path``."""

    def get(self):
        from pathlib import Path

        return Path(getattr(self, attribute))

    return property(get)


class Context:
    """Where ds01 reads and writes, which hardware source it uses, and what time it is.

    Immutable. The paths are given as str or ``Path`` and read back as ``Path`` objects
    (``config_path``, ``state_dir``, ``log_dir``, ``db_path``, ``cache_dir``,
    ``allocation_log``). They are kept as strings spelled like ``str(Path(...))``, and each
    has a ``*_file`` / ``*_root`` string twin: the allocate/release path uses those and so
    never imports ``pathlib`` (a third of the interpreter's own start-up time).
    """

    __slots__ = ("config_file", "state_root", "log_root", "hardware", "fixed_now", "env")

    def __init__(self, config_path=DEFAULT_CONFIG, state_dir=DEFAULT_STATE_DIR,
                 log_dir=DEFAULT_LOG_DIR, hardware: str = DEFAULT_HARDWARE,
                 fixed_now: datetime | None = None, env: dict | None = None):
        values = (pathstr(config_path), pathstr(state_dir), pathstr(log_dir), hardware,
                  fixed_now, {} if env is None else env)
        for slot, value in zip(self.__slots__, values):
            object.__setattr__(self, slot, value)

    @classmethod
    def build(
        cls,
        *,
        config: str | None = None,
        state_dir: str | None = None,
        log_dir: str | None = None,
        hardware: str | None = None,
        env: dict | None = None,
    ) -> "Context":
        env = dict(os.environ if env is None else env)
        now = env.get("DS01_NOW")
        return cls(
            config_path=config or env.get("DS01_CONFIG") or DEFAULT_CONFIG,
            state_dir=state_dir or env.get("DS01_STATE_DIR") or DEFAULT_STATE_DIR,
            log_dir=log_dir or env.get("DS01_LOG_DIR") or DEFAULT_LOG_DIR,
            hardware=hardware or env.get("DS01_HARDWARE") or DEFAULT_HARDWARE,
            fixed_now=parse_instant(now) if now else None,
            env=env,
        )

    def with_(self, **changes) -> "Context":
        values = {"config_path": self.config_file, "state_dir": self.state_root,
                  "log_dir": self.log_root, "hardware": self.hardware,
                  "fixed_now": self.fixed_now, "env": self.env}
        unknown = set(changes) - set(values)
        if unknown:
            raise TypeError(f"Context has no field {sorted(unknown)[0]!r}")
        values.update(changes)
        return Context(**values)

    def now(self) -> datetime:
        """The current time (aware), or the one fixed by DS01_NOW."""
        if self.fixed_now is not None:
            return self.fixed_now
        return datetime.now(timezone.utc).astimezone()

    # -- the paths as strings (no pathlib) --------------------------------------------------
    @property
    def db_file(self) -> str:
        return join(self.state_root, "state.db")

    @property
    def cache_root(self) -> str:
        return join(self.state_root, "cache")

    @property
    def allocation_log_file(self) -> str:
        return join(self.log_root, "gpu-allocations.log")

    # -- the paths as Path objects, for everything else ---------------------------------------
    config_path = _path_of("config_file")
    state_dir = _path_of("state_root")
    log_dir = _path_of("log_root")
    db_path = _path_of("db_file")
    cache_dir = _path_of("cache_root")
    allocation_log = _path_of("allocation_log_file")

    # -- value semantics, as the record this class used to be (env is not compared) ---------
    def _key(self) -> tuple:
        return (self.config_file, self.state_root, self.log_root, self.hardware, self.fixed_now)

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (f"Context(config_path={self.config_path!r}, state_dir={self.state_dir!r}, "
                f"log_dir={self.log_dir!r}, hardware={self.hardware!r}, "
                f"fixed_now={self.fixed_now!r})")

    def __reduce__(self):  # copy and pickle, as for the record this class used to be
        return (Context, (self.config_file, self.state_root, self.log_root, self.hardware,
                          self.fixed_now, self.env))

    def __setattr__(self, name, value):
        raise FrozenInstanceError(f"cannot assign to field {name!r} of a frozen record")

    def __delattr__(self, name):
        raise FrozenInstanceError(f"cannot delete field {name!r} of a frozen record")
