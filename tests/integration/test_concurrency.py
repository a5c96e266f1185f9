"""Many processes deciding at once: no lost or duplicated allocation, no cap exceeded."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent

# 32 users over the note's server: 12 MIG instances (cap 2) + GPU 0.
CONFIG = """
defaults: {priority: 10, max_mig_instances: 2, max_full_gpus: 1, max_containers_per_user: 3}
default_group: student
groups:
  student: {priority: 10}
  researcher: {priority: 50, max_mig_instances: 8, max_full_gpus: 2, members: [%s]}
gpu: {units_per_gpu: 4, max_containers_per_mig: 2, max_containers_per_gpu: 1}
"""

USERS = [f"user{i:02d}" for i in range(32)]


def _env(ds01) -> dict:
    return {**os.environ, **ds01.env}


def _spawn(ds01, args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "ds01"), *args], env=_env(ds01), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _check_invariants(ds01, limits: dict[str, int]) -> dict:
    status = ds01.status()
    caps = {"mig": 2, "gpu": 1}
    per_user_units: Counter = Counter()
    seen_containers: Counter = Counter()
    for dev in status["devices"]:
        assert len(dev["containers"]) <= caps[dev["kind"]], dev
        for c in dev["containers"]:
            per_user_units[c["user"]] += dev["units"]
            seen_containers[c["container"]] += 1
    for user, units in per_user_units.items():
        assert units <= limits.get(user, 2), (user, units)
    return status


@pytest.mark.slow
def test_32_processes_allocate_at_once(ds01):
    ds01.write_config(CONFIG % "")
    procs = [_spawn(ds01, ["gpu", "allocate", u, f"{u}-job", "--json"]) for u in USERS]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert "Traceback" not in err, err
        assert p.returncode in (0, 1), err
        results.append(json.loads(out))
    ok = [r for r in results if r["ok"]]
    refused = [r for r in results if not r["ok"]]
    assert all(r["reason"] == "NO_CAPACITY" for r in refused)
    # 12 instances x 2 + GPU 0 only for full-GPU requests: exactly 24 can get one
    assert len(ok) == 24
    status = _check_invariants(ds01, {})
    on_devices = {c["container"] for d in status["devices"] for c in d["containers"]}
    assert on_devices == {r["container"] for r in ok}
    db = sqlite3.connect(ds01.root / "state" / "state.db")
    events = Counter(row[0] for row in db.execute("SELECT event FROM events"))
    assert events["ALLOCATED"] == 24 and events["REJECTED"] == 8


def _worker_script() -> str:
    # Each operation builds a fresh Service, as a separate ds01 process would.
    return r"""
import json, random, sys
from ds01.context import Context
from ds01.service import Service
from ds01.service.gpu import allocate, release
user, seed, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
mine = []
for i in range(n):
    svc = Service(Context.build())
    if mine and rng.random() < 0.45:
        name = mine.pop(rng.randrange(len(mine)))
        assert release(svc, name).released
    else:
        name = f"{user}-c{i}"
        if allocate(svc, user, name, cpu_only=rng.random() < 0.2).ok:
            mine.append(name)
    svc.close()
print(json.dumps(mine))
"""


@pytest.mark.slow
def test_16_processes_mixed_allocate_release(ds01, tmp_path):
    ds01.write_config(CONFIG % "user00")
    script = tmp_path / "worker.py"
    script.write_text(_worker_script())
    n = int(os.environ.get("DS01_STRESS_OPS", "50"))
    procs = [subprocess.Popen([sys.executable, str(script), USERS[i], str(i), str(n)],
                              env=_env(ds01), text=True, stdout=subprocess.PIPE)
             for i in range(16)]
    held: set[str] = set()
    for p in procs:
        out, _ = p.communicate(timeout=600)
        assert p.returncode == 0, out
        held |= set(json.loads(out.strip().splitlines()[-1]))
    _check_invariants(ds01, {"user00": 8})
    db = sqlite3.connect(ds01.root / "state" / "state.db")
    rows = [r[0] for r in db.execute("SELECT container FROM allocations")]
    assert len(rows) == len(set(rows)), "a container on two allocations"
    assert set(rows) == held, "store and workers disagree"
    per_user = Counter(name.split("-c")[0] for name in rows)
    assert max(per_user.values(), default=0) <= 3  # max_containers_per_user
    alloc = db.execute("SELECT COUNT(*) FROM events WHERE event='ALLOCATED'").fetchone()[0]
    rel = db.execute("SELECT COUNT(*) FROM events WHERE event='RELEASED'").fetchone()[0]
    assert alloc - rel == len(rows)
