"""The systemd units under deploy/systemd pass ``systemd-analyze verify`` with nothing on stderr.

The units start ``/usr/local/bin/ds01``; verify checks that the binary exists, so the test
copies the units to a temporary directory and points ExecStart at a real executable there.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.runtime.support import unavailable

REPO = Path(__file__).resolve().parents[2]
UNITS = REPO / "deploy" / "systemd"
INSTALLED = "/usr/local/bin/ds01"
EXPECTED = ("ds01-metrics.service", "ds01-metrics.timer", "ds01-report-daily.service",
            "ds01-report-daily.timer", "ds01-exporter.service")


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string((UNITS / name).read_text())
    return parser


@pytest.fixture
def analyze() -> str:
    """``systemd-analyze``: skipped where it is missing, a failure in CI."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        unavailable("systemd-analyze is not installed")
    return tool


def test_units_run_the_right_commands():
    assert set(EXPECTED) <= {p.name for p in UNITS.iterdir()}
    assert unit("ds01-metrics.service")["Service"]["ExecStart"] == f"{INSTALLED} metrics collect"
    assert unit("ds01-report-daily.service")["Service"]["ExecStart"] == f"{INSTALLED} report daily"
    exporter = unit("ds01-exporter.service")["Service"]["ExecStart"]
    assert exporter == f"{INSTALLED} exporter --listen 127.0.0.1:9401"
    assert unit("ds01-metrics.timer")["Timer"]["OnCalendar"] == "*:0/5"
    assert unit("ds01-report-daily.timer")["Timer"]["OnCalendar"] == "*-*-* 00:10:00"


@pytest.mark.parametrize("calendar,expected", [("*:0/5", "*-*-* *:00/5:00"),
                                               ("*-*-* 00:10:00", "*-*-* 00:10:00")])
def test_timer_schedules_mean_what_they_say(analyze, calendar, expected):
    res = subprocess.run([analyze, "calendar", calendar], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    assert f"Normalized form: {expected}" in res.stdout


def test_units_pass_systemd_analyze_verify(analyze, tmp_path):
    fake = tmp_path / "bin" / "ds01"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    copies = []
    for name in EXPECTED:
        text = (UNITS / name).read_text()
        copy = tmp_path / name
        copy.write_text(text.replace(INSTALLED, str(fake)))
        copies.append(str(copy))
    res = subprocess.run([analyze, "verify", *copies], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert res.stderr == "", res.stderr
    assert res.returncode == 0


def test_verify_would_catch_a_broken_unit(analyze, tmp_path):
    broken = tmp_path / "ds01-metrics.timer"
    broken.write_text((UNITS / "ds01-metrics.timer").read_text()
                      .replace("OnCalendar=*:0/5", "OnCalendar=every five minutes"))
    res = subprocess.run([analyze, "verify", str(broken)], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert "calendar" in res.stderr.lower()
