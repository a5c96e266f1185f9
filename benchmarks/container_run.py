"""Launcher latency: ``container run`` (detached, the test image, simulated note server) as a
whole process, CPU-only and with a simulated GPU (``gpu_attach: none``), against a plain
``docker run -d`` of the same image with the same limits (the command line of the spec ds01
builds, from ``--dry-run``), interleaved in the same run. Budget: ratio of medians at most 1.3
for each. Every container is removed after it is timed (ds01's through ``container rm``, which
also gives its allocation back); the state dir is temporary and the cgroup root unique.

Needs root and a Docker engine with the image ``ds01-test/busybox:latest`` (``.ci/docker-up``);
without them it prints a ``skipped`` line and exits 0 (1 when DS01_REQUIRE_DOCKER=1).

    python benchmarks/container_run.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BIN, bench_env, median, precompile  # noqa: E402

BUDGET = 1.3
IMAGE = "ds01-test/busybox:latest"
USER, UID = "benchuser", 47123  # no account needed: sudo's variables name the caller
CGROUP_MOUNT = Path("/sys/fs/cgroup")
MODES = {"cpu": ["--cpu-only"], "gpu": []}


def config_text(tag: str) -> str:
    return "\n".join([
        "defaults: {priority: 1, max_mig_instances: 2, max_full_gpus: 1,",
        "           max_containers_per_user: 3, max_cpus: 1, memory: 64m, shm_size: 16m,",
        "           pids_limit: 128, idle_timeout: null, slice_cpus: 1.5, slice_memory: 256m,",
        "           max_tasks: 512}",
        "default_group: bench",
        f"groups: {{bench: {{priority: 10, members: [{USER}],",
        "                  aggregate: {cpus: 2, memory: 512m, tasks: 2048}}}",
        f"images: {{busybox: {IMAGE}}}",
        "containers: {gpu_attach: none, allow_raw_images: false, run_as_user: true,",
        f"             mounts: {{}}, gpu_hold_after_stop: 0, instance: bench-{tag},",
        f"             cgroup_root: /ds01-bench-{tag}}}",
    ]) + "\n"


def unavailable() -> str | None:
    if os.geteuid() != 0:
        return "needs root (cgroups and the engine's socket)"
    probe = subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True)
    if probe.returncode != 0:
        return f"no Docker engine with {IMAGE} (run .ci/docker-up)"
    return None


def once(argv: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])}... failed ({proc.returncode}): "
                         f"{proc.stderr.strip()[-500:]}")
    return took, proc


def plain_argv(env: dict, mode: str, tag: str) -> list[str]:
    """``docker run -d ...`` of the spec ds01 would build, made invisible to ds01 (another
    instance label), its ``--name`` replaced per run."""
    _, proc = once([str(BIN / "container"), "run", "probe", "busybox", "--dry-run", "--json",
                    *MODES[mode]], env)
    argv = json.loads(proc.stdout)["argv"]
    return [f"ds01.instance=bench-{tag}-plain" if a == f"ds01.instance=bench-{tag}" else a
            for a in argv]


def with_name(argv: list[str], name: str) -> list[str]:
    out = list(argv)
    out[out.index("--name") + 1] = name
    return out


def measure(env: dict, tag: str, runs: int) -> dict:
    container = str(BIN / "container")
    argv = {mode: plain_argv(env, mode, tag) for mode in MODES}
    times: dict[str, list[float]] = {f"{who}_{m}": [] for m in MODES for who in ("ds01", "plain")}
    for i in range(-1, runs):  # i == -1: warm-up (cgroups, page cache), not counted
        for mode, extra in MODES.items():
            name = f"{mode}{i + 1}"
            took, _ = once([container, "run", name, "busybox", "--json", *extra], env)
            once([container, "rm", name], env)
            plain, proc = once(with_name(argv[mode], f"bench-{tag}-{name}"), env)
            once(["docker", "rm", "-f", proc.stdout.strip()], env)
            if i >= 0:
                times[f"ds01_{mode}"].append(took)
                times[f"plain_{mode}"].append(plain)
    out = {}
    for mode in MODES:
        ds01, plain = median(times[f"ds01_{mode}"]), median(times[f"plain_{mode}"])
        out[f"{mode}_ds01_ms"] = round(ds01 * 1000, 1)
        out[f"{mode}_docker_ms"] = round(plain * 1000, 1)
        out[f"{mode}_ratio"] = round(ds01 / plain, 3)
    return out


def cleanup(tag: str) -> None:
    for inst in (f"bench-{tag}", f"bench-{tag}-plain"):
        ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=ds01.instance={inst}"],
                             capture_output=True, text=True).stdout.split()
        if ids:
            subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)
    for hierarchy in [CGROUP_MOUNT, *(p for p in CGROUP_MOUNT.iterdir() if p.is_dir())]:
        top = hierarchy / f"ds01-bench-{tag}"
        if top.is_dir():
            for sub in sorted((p for p in top.rglob("*") if p.is_dir()),
                              key=lambda p: -len(p.parts)):
                sub.rmdir()
            top.rmdir()


def run(runs: int) -> dict:
    tag = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory() as tmp:
        precompile()
        cfg = Path(tmp) / "resource-limits.yaml"
        cfg.write_text(config_text(tag))
        env = {k: v for k, v in bench_env({}).items() if not k.startswith("SUDO_")}
        env.update({"DS01_CONFIG": str(cfg), "DS01_STATE_DIR": f"{tmp}/state",
                    "DS01_LOG_DIR": f"{tmp}/log", "DS01_HARDWARE": "builtin:note-server",
                    "SUDO_USER": USER, "SUDO_UID": str(UID), "SUDO_GID": str(UID)})
        try:
            figures = measure(env, tag, runs)
        finally:
            cleanup(tag)
    return {"benchmark": "container_run", "runs": runs, **figures, "budget_ratio": BUDGET}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=int(os.environ.get("RUNS", "15")))
    why = unavailable()
    if why is not None:
        print(json.dumps({"benchmark": "container_run", "skipped": why}))
        return 1 if os.environ.get("DS01_REQUIRE_DOCKER") == "1" else 0
    r = run(ap.parse_args().runs)
    print(json.dumps(r))
    return 0 if max(r["cpu_ratio"], r["gpu_ratio"]) <= BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
