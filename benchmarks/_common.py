"""Shared helpers for the benchmarks: a large simulated server and a populated store."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def large_config(users: int, groups: int = 5) -> str:
    """A config naming ``users`` users in ``groups`` groups; sharing wide enough for 1,000."""
    lines = [
        "defaults: {priority: 10, max_mig_instances: 8, max_full_gpus: 2,",
        "           max_containers_per_user: 8}",
        "default_group: g0",
        "gpu: {units_per_gpu: 7, max_containers_per_mig: 32, max_containers_per_gpu: 4}",
        "groups:",
    ]
    for g in range(groups):
        members = ", ".join(f"u{i:03d}" for i in range(users) if i % groups == g)
        priority = 50 if g == groups - 1 else 10  # one group of researchers, the rest students
        lines.append(f"  g{g}: {{priority: {priority}, members: [{members}]}}")
    return "\n".join(lines) + "\n"


def bench_env(extra: dict) -> dict:
    """The environment for timed processes: bytecode caching on, as on an installed system
    (pip compiles .pyc files at install time; an editable checkout compiles on first run)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra)
    return env


def precompile() -> None:
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "src")], check=True,
                   env=bench_env({}), stdout=subprocess.DEVNULL)


def timed(argv: list[str], env: dict, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)
        out.append(time.perf_counter() - t0)
    return out


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]
