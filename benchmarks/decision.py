"""Decision cost at scale, in-process: 8 GPUs x 7 MIG instances, 500 users, 1,000 live
allocations. Times one allocate+record (a full write transaction). Budget: p99 under 5 ms.

    python benchmarks/decision.py [--iterations N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import large_config, median, percentile  # noqa: E402

from ds01.context import Context  # noqa: E402
from ds01.service import Service  # noqa: E402
from ds01.service.gpu import allocate, release  # noqa: E402

USERS = 500
LIVE = 1000


def setup(tmp: Path) -> Context:
    cfg = tmp / "resource-limits.yaml"
    cfg.write_text(large_config(USERS))
    ctx = Context(config_path=cfg, state_dir=tmp / "state", log_dir=tmp / "log",
                  hardware="builtin:large")
    svc = Service(ctx)
    for i in range(LIVE):
        d = allocate(svc, f"u{i % USERS:03d}", f"live-{i}")
        if not d.ok:
            raise SystemExit(f"setup failed at {i}: {d.reason} {d.facts}")
    svc.close()
    return ctx


def run(iterations: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        ctx = setup(Path(tmp))
        svc = Service(ctx)
        times = []
        for i in range(iterations):
            user = f"u{(i * 7) % USERS:03d}"
            t0 = time.perf_counter()
            d = allocate(svc, user, f"bench-{i}")
            times.append(time.perf_counter() - t0)
            if d.ok:
                release(svc, f"bench-{i}")
        svc.close()
    return {"benchmark": "decision", "iterations": iterations, "live_allocations": LIVE,
            "median_ms": round(median(times) * 1000, 3),
            "p99_ms": round(percentile(times, 99) * 1000, 3), "budget_p99_ms": 5.0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=int(os.environ.get("ITER", "300")))
    result = run(ap.parse_args().iterations)
    print(json.dumps(result))
    return 0 if result["p99_ms"] < result["budget_p99_ms"] else 1


if __name__ == "__main__":
    sys.exit(main())
