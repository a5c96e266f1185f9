"""Dashboard render time: ``ds01 gpu status`` as a whole process on 8 GPUs x 7 MIG instances
with 100 containers, median, against ``python -c pass`` measured in the same run.
Budgets: output piped at most 4x the floor; on a terminal (a pty, in colour) at most 6x.
``--json`` (the same status read, no dashboard) is timed too, as a reference without budget.

    python benchmarks/dashboard_render.py [--runs N]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BIN, bench_env, large_config, median, precompile, timed  # noqa: E402

from ds01.context import Context  # noqa: E402
from ds01.service import Service  # noqa: E402
from ds01.service.gpu import allocate  # noqa: E402

BUDGET_PIPED = 4.0
BUDGET_TTY = 6.0
USERS = 25
CONTAINERS = 100
COLUMNS, LINES = 120, 50


def populate(tmp: Path) -> dict:
    """A temp installation on ``builtin:large`` holding CONTAINERS allocations; its env."""
    cfg = tmp / "resource-limits.yaml"
    cfg.write_text(large_config(USERS))
    env = {"DS01_CONFIG": str(cfg), "DS01_STATE_DIR": str(tmp / "state"),
           "DS01_LOG_DIR": str(tmp / "log"), "DS01_HARDWARE": "builtin:large"}
    svc = Service(Context.build(env=env))
    # Students first: a student never joins a device a researcher (higher priority) is on.
    users = sorted((f"u{i % USERS:03d}" for i in range(CONTAINERS)),
                   key=lambda u: svc.effective(u).priority)
    for i, user in enumerate(users):
        d = allocate(svc, user, f"job-{i:03d}")
        if not d.ok:
            raise SystemExit(f"setup failed at container {i}: {d.reason} {d.facts}")
    svc.close()
    return env


def piped(argv: list[str], env: dict) -> float:
    """One run with stdout a real pipe (read to the end)."""
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t0


def on_terminal(argv: list[str], env: dict) -> tuple[float, bytes]:
    """One run with stdout a pseudo-terminal of COLUMNS x LINES; (seconds, what it drew)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=slave, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    while True:  # drain, or the child blocks on a full terminal buffer
        ready, _, _ = select.select([master], [], [], 5)
        if not ready:
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    proc.wait()
    elapsed = time.perf_counter() - t0
    os.close(master)
    return elapsed, b"".join(chunks)


def check(status: list[str], env: dict) -> None:
    """Both paths really draw the dashboard (a failing command would time as fast)."""
    proc = subprocess.run(status, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or "DS01 GPU SERVER STATUS" not in proc.stdout:
        raise SystemExit(f"ds01 gpu status failed (exit {proc.returncode}): {proc.stderr}")
    if "\x1b" in proc.stdout:
        raise SystemExit("the piped output has escape codes")
    _, drawn = on_terminal(status, env)
    if b"DS01 GPU SERVER STATUS" not in drawn or b"\x1b[" not in drawn:
        raise SystemExit("the terminal run drew no ANSI colour: the colour path was not taken")


def run(runs: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        base = populate(Path(tmp))
        precompile()
        env = bench_env({**base, "TERM": "xterm-256color", "COLUMNS": str(COLUMNS),
                         "LINES": str(LINES)})
        env.pop("NO_COLOR", None)  # the terminal run must take the colour path
        status = [str(BIN / "ds01"), "gpu", "status"]
        timed(status, env, 2)  # fill the compiled caches
        check(status, env)
        floor, pipe, tty, js = [], [], [], []
        for _ in range(runs):  # interleave so drift hits all alike
            floor += timed([sys.executable, "-c", "pass"], env, 1)
            pipe.append(piped(status, env))
            tty.append(on_terminal(status, env)[0])
            js.append(piped(status + ["--json"], env))  # reference: same read, no dashboard
    f = median(floor)
    return {"benchmark": "dashboard_render", "runs": runs, "containers": CONTAINERS,
            "devices": 56, "floor_ms": round(f * 1000, 2),
            "piped_ms": round(median(pipe) * 1000, 2), "tty_ms": round(median(tty) * 1000, 2),
            "piped_ratio": round(median(pipe) / f, 2), "tty_ratio": round(median(tty) / f, 2),
            "json_ms": round(median(js) * 1000, 2), "json_ratio": round(median(js) / f, 2),
            "budget_piped_ratio": BUDGET_PIPED, "budget_tty_ratio": BUDGET_TTY}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=int(os.environ.get("RUNS", "30")))
    r = run(ap.parse_args().runs)
    print(json.dumps(r))
    ok = r["piped_ratio"] <= BUDGET_PIPED and r["tty_ratio"] <= BUDGET_TTY
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
