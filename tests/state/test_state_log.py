"""The allocation log: line format, quoting, and safe appends from many processes."""

from __future__ import annotations

import stat
import zlib
from pathlib import Path

import pytest

from ds01.errors import StateError
from ds01.state import append, format_event
from ds01.state.log import quote


def test_allocated_line(make_event):
    event = make_event("training1", group="researchers")
    assert format_event(event) == (
        "2026-12-01T09:00:00+00:00 ALLOCATED user=alice container=training1 devices=1:0 "
        "priority=10 units=1/2 group=researchers"
    )


def test_several_devices_unlimited_and_no_devices(make_event):
    many = make_event(devices=("0", "1:2"), units_held=3, units_limit=None)
    assert " devices=0,1:2 " in format_event(many)
    assert " units=3/unlimited " in format_event(many)
    released = make_event(event="RELEASED", devices=(), units_held=None)
    line = format_event(released)
    assert " devices=- " in line and "units=" not in line


def test_rejected_line_carries_reason_and_quoted_message(make_event):
    event = make_event(
        "t2", event="REJECTED", user="bob", group="students", devices=(), units=0,
        units_held=2, units_limit=2, reason="USER_AT_LIMIT",
        message='bob holds 2 of 2 units (limit "max_mig_instances")',
    )
    assert format_event(event) == (
        "2026-12-01T09:00:00+00:00 REJECTED user=bob container=t2 devices=- priority=10 "
        "units=2/2 group=students reason=USER_AT_LIMIT "
        'message="bob holds 2 of 2 units (limit \\"max_mig_instances\\")"'
    )


@pytest.mark.parametrize(
    "value, expected",
    [
        ("plain", "plain"),
        ("", '""'),
        ("two words", '"two words"'),
        ("a=b", '"a=b"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("line\nbreak\r\ttab", '"line\\nbreak\\r\\ttab"'),
        ("bell\x07", '"bell\\x07"'),
        ("sep\u2028arator", '"sep\\u2028arator"'),
        ("naïve", "naïve"),
    ],
)
def test_quote(value, expected):
    assert quote(value) == expected


def test_a_line_is_always_one_physical_line(make_event):
    nasty = "a\nb\rc\x0bd\x0ce\x1cf\x1dg\x1eh\x85i\u2028j\u2029k"
    line = format_event(make_event(user=nasty, container=nasty, message=nasty, reason=nasty))
    assert len(line.splitlines()) == 1
    assert "\n" not in line and "\r" not in line


def test_append_creates_directory_and_file(tmp_path: Path, make_event):
    log = tmp_path / "log" / "ds01" / "gpu-allocations.log"
    append(log, [format_event(make_event("a")), format_event(make_event("b"))])
    append(log, format_event(make_event("c")))
    lines = log.read_text().splitlines()
    assert [line.split("container=")[1].split()[0] for line in lines] == ["a", "b", "c"]
    assert stat.S_IMODE(log.stat().st_mode) == 0o644
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o755


def test_append_refuses_line_breaks(tmp_path: Path):
    log = tmp_path / "a.log"
    with pytest.raises(StateError, match="line break"):
        append(log, ["fine", "not\nfine"])
    assert not log.exists()


def test_unwritable_log_is_a_state_error(tmp_path: Path):
    log = tmp_path / "gpu-allocations.log"
    log.mkdir()  # a directory where the file should be: not writable, even for root
    with pytest.raises(StateError) as caught:
        append(log, ["x"])
    assert str(log) in caught.value.message
    assert "sudo" in caught.value.hint


@pytest.mark.slow
def test_concurrent_appends_never_interleave(tmp_path: Path, worker):
    log = tmp_path / "gpu-allocations.log"
    writers, count = 8, 150
    procs = [worker("append", log, count, f"p{i}") for i in range(writers)]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and out.strip() == "done", err
    data = log.read_bytes()
    assert data.endswith(b"\n")
    lines = data.decode().split("\n")[:-1]
    assert len(lines) == writers * count
    seen = set()
    for line in lines:
        body, _, crc = line.rpartition(" crc=")
        assert f"{zlib.crc32(body.encode()):08x}" == crc, line[:80]
        name, number, _ = body.split("-", 2)
        seen.add((name, int(number)))
    assert seen == {(f"p{i}", n) for i in range(writers) for n in range(count)}
