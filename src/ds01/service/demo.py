"""The contract's worked examples, replayed on built-in simulated servers.

Each scenario runs in its own temporary state directory with the built-in example config, so
``ds01 demo`` needs no files and no root. The CLI prints what these functions return.
"""

from __future__ import annotations

from ds01.records import record, field
from pathlib import Path

from ds01.context import Context, parse_instant
from ds01.service.core import Service, builtin_config_path
from ds01.service.gpu import ServerStatus, allocate, release, status


@record
class Step:
    action: str  # "allocate" | "release" | "status" | "note"
    args: tuple = ()
    opts: dict = field(default_factory=dict)
    now: str | None = None  # DS01_NOW for this step


@record
class Scenario:
    title: str
    server: str  # builtin server name
    story: str
    steps: tuple[Step, ...]


def _a(user, name, now=None, **opts) -> Step:
    return Step("allocate", (user, name), opts, now)


IN_WINDOW = "2025-11-03T12:00:00"
AFTER_WINDOW = "2025-11-09T12:00:00"

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("1. Student at limit", "note-server",
             "alice (student, max 2 MIG units, 3 containers) starts containers.",
             (_a("alice", "training1"), _a("alice", "training2"), _a("alice", "training3"),
              _a("alice", "preprocessing", cpu_only=True))),
    Scenario("2. Priority order", "priority-demo",
             "GPU 1 with 3 MIG instances: 1:0 freed, bob (10) on 1:1, carol (50) on 1:2.",
             (_a("alice", "earlier-job"), _a("bob", "bob-inference"), _a("carol", "carol-test"),
              Step("release", ("earlier-job",)), _a("dave", "dave-admin"),
              _a("eve", "eve-train"), _a("frank", "frank-hw"))),
    Scenario("3. Reservation", "note-server",
             "john_doe holds GPU 0 from 2025-11-01 to 2025-11-08 (priority 100).",
             (_a("carol", "carol-big", now=IN_WINDOW, full_gpu=True),
              _a("john_doe", "thesis", now=IN_WINDOW),
              Step("status", now=AFTER_WINDOW),
              _a("carol", "carol-big2", now=AFTER_WINDOW, full_gpu=True))),
    Scenario("4. No MIG anywhere", "no-mig",
             "All 4 GPUs MIG-disabled: students get 1 GPU, researchers up to 2.",
             (_a("alice", "a1"), _a("alice", "a2"), _a("carol", "c1"), _a("carol", "c2"))),
    Scenario("5. MIG enabled, nothing created", "mig-empty",
             "GPU 2 has MIG enabled and no instances: shown with a warning, never allocated.",
             (_a("alice", "x1"), _a("bob", "x2"), _a("carol", "x3"), Step("status"))),
)


def _context(server: str, state: Path, now: str | None) -> Context:
    return Context(
        config_path=builtin_config_path(), state_dir=state, log_dir=state / "log",
        hardware=f"builtin:{server}", fixed_now=parse_instant(now) if now else None,
    )


def run_step(server: str, state: Path, step: Step):
    """Run one step; returns a Decision, a Released or a ServerStatus."""
    svc = Service(_context(server, state, step.now))
    try:
        if step.action == "allocate":
            return allocate(svc, *step.args, **step.opts)
        if step.action == "release":
            return release(svc, *step.args)
        return status(svc)
    finally:
        svc.close()


def final_status(server: str, state: Path, now: str | None) -> ServerStatus:
    return run_step(server, state, Step("status", now=now))


def error_templates() -> dict:
    """The refusal message templates of the built-in example config."""
    return Service(Context(config_path=builtin_config_path(), state_dir=Path("/nonexistent"))
                   ).config.error_messages
