"""CLI latency: ``ds01 gpu allocate`` and ``ds01 gpu release`` as whole processes (hardware
file), median, against ``python -c pass`` measured in the same run. Budget: each at most 3x.

    python benchmarks/cli_latency.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BIN, REPO, bench_env, median, precompile, timed  # noqa: E402

BUDGET = 3.0


def run(runs: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        precompile()
        env = bench_env({"DS01_CONFIG": str(REPO / "examples" / "resource-limits.yaml"),
                         "DS01_STATE_DIR": f"{tmp}/state", "DS01_LOG_DIR": f"{tmp}/log",
                         "DS01_HARDWARE": str(REPO / "examples" / "note-server.yaml")})
        ds01 = str(BIN / "ds01")
        timed([ds01, "gpu", "allocate", "alice", "warm"], env, 2)  # fill the compiled cache
        timed([ds01, "gpu", "release", "warm"], env, 1)
        floor, alloc, rel = [], [], []
        for _ in range(runs):  # interleave so drift hits all three alike
            floor += timed([sys.executable, "-c", "pass"], env, 1)
            alloc += timed([ds01, "gpu", "allocate", "alice", "bench"], env, 1)
            rel += timed([ds01, "gpu", "release", "bench"], env, 1)
    f = median(floor)
    return {"benchmark": "cli_latency", "runs": runs, "floor_ms": round(f * 1000, 2),
            "allocate_ms": round(median(alloc) * 1000, 2),
            "release_ms": round(median(rel) * 1000, 2),
            "allocate_ratio": round(median(alloc) / f, 2),
            "release_ratio": round(median(rel) / f, 2), "budget_ratio": BUDGET}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=int(os.environ.get("RUNS", "40")))
    r = run(ap.parse_args().runs)
    print(json.dumps(r))
    return 0 if max(r["allocate_ratio"], r["release_ratio"]) <= BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
