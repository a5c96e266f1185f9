"""``ds01 gpu status``: golden plain text of the dashboard on real states (real service, real
SQLite store, simulated hardware), colour only on a terminal, ``--json`` unchanged.

Golden files live in ``golden/``; regenerate them (after checking the change is wanted) with
``DS01_UPDATE_GOLDEN=1 pytest tests/monitor -k dashboard``.
"""

from __future__ import annotations

import difflib
import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"
NOW = "2026-12-01T09:00:00+00:00"
ESC = "\x1b["
# Read at import: the ds01 fixture clears DS01_* variables before each test runs.
UPDATE_GOLDEN = os.environ.get("DS01_UPDATE_GOLDEN") == "1"


# ------------------------------------------------------------------------------ helpers


def check_golden(name: str, text: str) -> None:
    """Compare with golden/NAME.txt; DS01_UPDATE_GOLDEN=1 rewrites it instead."""
    path = GOLDEN / f"{name}.txt"
    if UPDATE_GOLDEN:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        return
    assert path.exists(), f"{path} is missing: run once with DS01_UPDATE_GOLDEN=1"
    want = path.read_text()
    if text != want:
        diff = "\n".join(difflib.unified_diff(want.splitlines(), text.splitlines(),
                                              "golden", "now", lineterm=""))
        pytest.fail(f"output differs from {path.name}:\n{diff}")


def at(ds01, now: str, user: str, container: str, *flags: str) -> None:
    """Allocate at a given time (so ages differ), and insist it worked."""
    ds01.set(now=now)
    res = ds01.allocate(user, container, *flags)
    assert res.code == 0, res.err


def status_text(ds01, *args: str) -> str:
    res = ds01.cli("gpu", "status", *args)
    assert res.code == 0, res.err
    return res.out


def use_utc(monkeypatch) -> None:
    """Config times without an offset are local time: pin the zone so goldens are stable."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


@pytest.fixture(autouse=True)
def _restore_tz():
    yield
    time.tzset()  # monkeypatch restored TZ in the environment; make the process follow it


def scenario1(ds01) -> None:
    """The note's scenario 1: alice holds 2 MIG instances, is refused a third, runs CPU-only."""
    at(ds01, "2026-12-01T06:45:00+00:00", "alice", "training1")
    at(ds01, "2026-12-01T08:15:00+00:00", "alice", "training2")
    ds01.set(now="2026-12-01T08:40:00+00:00")
    assert ds01.allocate("alice", "training3").code == 1
    at(ds01, "2026-12-01T08:48:00+00:00", "alice", "preprocessing", "--cpu-only")
    ds01.set(now=NOW)


def fill_note_server(ds01) -> None:
    """Every device at its cap: GPU 0 whole (cap 1), 12 MIG instances x 2 containers."""
    at(ds01, NOW, "carol", "carol-big", "--full-gpu")
    for i in range(12):
        at(ds01, NOW, f"s{i:02d}", f"s{i:02d}-a")
        at(ds01, NOW, f"s{i:02d}", f"s{i:02d}-b")


LOST_SERVER = """\
description: two GPUs that worked, one of them lost since
gpus:
  - {{index: 0, name: NVIDIA H100 80GB HBM3, memory_mib: 81559, mig: disabled,
     memory_used_mib: 30720, utilization: 37}}
  - {{index: 1, name: NVIDIA H100 80GB HBM3, memory_mib: 81559, mig: enabled, {lost}
     instances: [{{profile: 3g.40gb, memory_used_mib: 12000}}, 3g.40gb]}}
"""


def pty_run(argv: list[str], env: dict, cols: int = 120, rows: int = 60,
            timeout: float = 30) -> tuple[int, str]:
    """Run ``argv`` with a pseudo-terminal as stdout; (exit code, what it drew)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    proc = subprocess.Popen(argv, env=env, stdout=slave, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    code = proc.wait(timeout=timeout)
    os.close(master)
    assert not proc.stderr.read(), "the command wrote to stderr"
    return code, b"".join(chunks).decode("utf-8", "replace")


def process_env(ds01, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(ds01.env, TERM="xterm-256color", **extra)
    return env


def ds01_exe() -> str:
    return str(Path(sys.executable).parent / "ds01")


# ------------------------------------------------------------------------------ goldens


def test_golden_note_server_scenario1(ds01):
    scenario1(ds01)
    text = status_text(ds01)
    check_golden("note_scenario1", text)
    assert "2h 15m" in text and "45m" in text and "12m" in text
    assert "CPU-only: 1 container" in text


def test_golden_full_server(ds01):
    fill_note_server(ds01)
    text = status_text(ds01)
    check_golden("full_server", text)
    assert "Devices free: 0/13" in text
    assert "AVAILABLE" not in text
    assert text.count("FULL (2/2 containers)") == 12 and "FULL (1/1 containers)" in text


def test_golden_reservation(ds01, monkeypatch):
    use_utc(monkeypatch)
    ds01.set(now="2025-11-03T12:00:00")  # inside john_doe's window (example config)
    at(ds01, "2025-11-03T12:00:00", "alice", "alice-1")
    at(ds01, "2025-11-03T12:00:00", "john_doe", "thesis")
    ds01.set(now="2025-11-03T14:30:00")
    text = status_text(ds01)
    check_golden("reservation", text)
    assert ("RESERVED for john_doe until 2025-11-08 00:00 "
            "(Thesis deadline - needs dedicated GPU)") in text


def test_reserved_free_device_is_not_available(ds01, monkeypatch):
    use_utc(monkeypatch)
    ds01.set(now="2025-11-03T12:00:00")
    block = status_text(ds01).split("\n\n")[1]
    assert block.startswith("GPU 0 (whole): 0 containers")
    assert "RESERVED for john_doe" in block and "AVAILABLE" not in block


def test_golden_mig_enabled_without_instances(ds01):
    ds01.set(hardware="builtin:mig-empty")
    at(ds01, NOW, "alice", "a1")
    text = status_text(ds01)
    check_golden("mig_empty", text)
    gpu2 = next(b for b in text.split("\n\n") if b.startswith("GPU 2 "))
    assert "WARNING: MIG is enabled on GPU 2 but no instances exist" in gpu2
    assert "AVAILABLE" not in gpu2
    assert "MIG 2:" not in text


def test_golden_lost_device(ds01):
    hw = ds01.root / "lost-server.yaml"
    hw.write_text(LOST_SERVER.format(lost=""))
    ds01.set(hardware=str(hw))
    at(ds01, "2026-12-01T07:00:00+00:00", "carol", "carol-1")
    at(ds01, "2026-12-01T07:30:00+00:00", "carol", "carol-2")
    hw.write_text(LOST_SERVER.format(lost="lost: true,"))
    ds01.set(now=NOW)
    text = status_text(ds01)
    check_golden("lost_device", text)
    lost = [b for b in text.split("\n\n") if b.startswith("MIG 1:")]
    assert len(lost) == 2 and all("LOST: GPU 1 is lost" in b for b in lost)
    assert "Util: 37% | Mem: 30720/81559 MiB" in text
    assert "Util: n/a | Mem: 12000/40960 MiB" in text  # MIG utilization not reported


# ------------------------------------------------------------------------------ content


def test_unreported_values_are_na_never_zero(ds01):
    scenario1(ds01)
    text = status_text(ds01)
    assert "Util: 0%" not in text and "Mem: 0/" not in text
    assert "Util: n/a | Mem: n/a/20480 MiB" in text


def test_json_is_unchanged(ds01):
    scenario1(ds01)
    data = ds01.status()
    assert set(data) == {"mode", "now", "source", "devices", "cpu_only", "warnings"}
    assert set(data["devices"][0]) == {
        "id", "kind", "gpu", "profile", "uuid", "name", "units", "memory_total_mib",
        "memory_used_mib", "utilization", "allocatable", "warning", "problem",
        "reserved_for", "containers"}
    assert [c["container"] for c in data["cpu_only"]] == ["preprocessing"]


def test_json_refuses_watch(ds01):
    res = ds01.cli("gpu", "status", "--json", "--watch")
    assert res.code == 2 and "--watch" in res.err


# ------------------------------------------------------------------------------ colour


def test_piped_output_has_no_escapes_and_no_rich(ds01):
    scenario1(ds01)
    code = ("import sys; from ds01.cli.main import main; rc = main(['gpu', 'status']); "
            "sys.stderr.write('rich' if any(m.startswith('rich') for m in sys.modules) else '');"
            "sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code], env=process_env(ds01),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert "DS01 GPU SERVER STATUS" in proc.stdout and ESC not in proc.stdout
    assert proc.stderr == "", "rich was imported on the piped path"


def test_terminal_output_is_coloured(ds01):
    scenario1(ds01)
    code, drawn = pty_run([ds01_exe(), "gpu", "status"], process_env(ds01))
    assert code == 0
    assert ESC in drawn and "AVAILABLE" in drawn and "training1" in drawn
    assert "DS01 GPU SERVER STATUS" in drawn


def test_no_color_on_terminal_has_no_escapes(ds01):
    scenario1(ds01)
    code, drawn = pty_run([ds01_exe(), "gpu", "status"], process_env(ds01, NO_COLOR="1"))
    assert code == 0
    assert "DS01 GPU SERVER STATUS" in drawn and "training1" in drawn
    assert ESC not in drawn and "\x1b" not in drawn


def test_terminal_shows_every_marker(ds01):
    hw = ds01.root / "lost-server.yaml"
    hw.write_text(LOST_SERVER.format(lost="lost: true,"))
    ds01.set(hardware=str(hw))
    code, drawn = pty_run([ds01_exe(), "gpu", "status"], process_env(ds01))
    assert code == 0 and "LOST" in drawn and "AVAILABLE" in drawn
    assert "GPU 1 is lost" in drawn  # the full warning, once, below the table
