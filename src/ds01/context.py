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
from ds01.records import record, field, replace
from datetime import datetime, timezone
from pathlib import Path

from ds01.errors import UsageError

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


@record
class Context:
    """Where ds01 reads and writes, which hardware source it uses, and what time it is."""

    config_path: Path = Path(DEFAULT_CONFIG)
    state_dir: Path = Path(DEFAULT_STATE_DIR)
    log_dir: Path = Path(DEFAULT_LOG_DIR)
    hardware: str = DEFAULT_HARDWARE
    fixed_now: datetime | None = None
    env: dict = field(default_factory=dict, compare=False, repr=False)

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
            config_path=Path(config or env.get("DS01_CONFIG") or DEFAULT_CONFIG),
            state_dir=Path(state_dir or env.get("DS01_STATE_DIR") or DEFAULT_STATE_DIR),
            log_dir=Path(log_dir or env.get("DS01_LOG_DIR") or DEFAULT_LOG_DIR),
            hardware=hardware or env.get("DS01_HARDWARE") or DEFAULT_HARDWARE,
            fixed_now=parse_instant(now) if now else None,
            env=env,
        )

    def with_(self, **changes) -> "Context":
        return replace(self, **changes)

    def now(self) -> datetime:
        """The current time (aware), or the one fixed by DS01_NOW."""
        if self.fixed_now is not None:
            return self.fixed_now
        return datetime.now(timezone.utc).astimezone()

    @property
    def db_path(self) -> Path:
        return self.state_dir / "state.db"

    @property
    def cache_dir(self) -> Path:
        return self.state_dir / "cache"

    @property
    def allocation_log(self) -> Path:
        return self.log_dir / "gpu-allocations.log"
