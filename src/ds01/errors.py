"""One error family for the whole project.

Every error a user can cause is a ``Ds01Error`` subclass. It carries a short reason ``code``, a
human ``message`` (what happened, with numbers), an optional ``hint`` (what to do next) and the
process ``exit_code`` the CLI uses. Only the CLI turns these into text.
"""

from __future__ import annotations

from ds01.records import record

EXIT_OK = 0
EXIT_REFUSED = 1  # refused by policy (including INVALID_REQUEST, NOT_PERMITTED)
EXIT_USAGE = 2  # bad command line or bad configuration
EXIT_ENVIRONMENT = 3  # hardware source, state store, container engine


class Ds01Error(Exception):
    """Base of every error ds01 reports to a person."""

    exit_code = EXIT_ENVIRONMENT
    code = "ERROR"

    def __init__(self, message: str, *, hint: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:
            self.code = code

    def to_dict(self) -> dict:
        out = {"ok": False, "reason": self.code, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        return out


class UsageError(Ds01Error):
    exit_code = EXIT_USAGE
    code = "USAGE"


@record
class ConfigProblem:
    """One thing wrong in a configuration file, located as precisely as we can."""

    file: str
    line: int | None
    key: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        key = f" {self.key}:" if self.key else ""
        return f"{where}:{key} {self.message}"


class ConfigError(Ds01Error):
    """The configuration (or a hardware description file) is invalid; nothing was applied."""

    exit_code = EXIT_USAGE
    code = "CONFIG_ERROR"

    def __init__(self, problems: list[ConfigProblem], *, hint: str | None = None):
        self.problems = list(problems)
        text = "\n".join(str(p) for p in self.problems) or "invalid configuration"
        super().__init__(text, hint=hint)

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["problems"] = [
            {"file": p.file, "line": p.line, "key": p.key, "message": p.message}
            for p in self.problems
        ]
        return out


class Refusal(Ds01Error):
    """A request refused by policy. ``code`` is the contract's reason code."""

    exit_code = EXIT_REFUSED
    code = "REFUSED"


class HardwareError(Ds01Error):
    """The GPU inventory could not be read (NVML, nvidia-smi, description file)."""

    code = "HARDWARE_ERROR"


class StateError(Ds01Error):
    """The state store is unreadable, corrupt, locked too long, or not writable."""

    code = "STATE_ERROR"


class EngineError(Ds01Error):
    """The container engine is down or failing."""

    code = "ENGINE_ERROR"
