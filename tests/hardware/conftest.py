"""Helpers for the hardware tests: our own nvidia-smi captures and a runner that replays them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ds01.hardware import smi

TESTS = Path(__file__).resolve().parents[1]
CAPTURES = TESTS / "fixtures" / "nvidia-smi"
FAKES = TESTS / "fakes"


def capture(name: str) -> str:
    """The text of one of our own capture files (bytes kept: CRLF stays CRLF)."""
    return (CAPTURES / name).read_bytes().decode("utf-8")


class Replay:
    """A runner (the nvidia-smi seam) that answers the two calls from capture files."""

    def __init__(self, listing: str, query: str | None = None, *, list_rc: int = 0,
                 query_rc: int = 0, stderr: str = "") -> None:
        self.listing, self.query = listing, query
        self.list_rc, self.query_rc, self.stderr = list_rc, query_rc, stderr
        self.calls: list[list[str]] = []

    def __call__(self, args: list[str]) -> tuple[int, str, str]:
        self.calls.append(list(args))
        if args == smi.LIST_ARGS:
            return self.list_rc, capture(self.listing), self.stderr
        if args == smi.QUERY_ARGS and self.query is not None:
            return self.query_rc, capture(self.query), self.stderr
        raise AssertionError(f"unexpected nvidia-smi call {args}")


@pytest.fixture
def fake_smi_on_path(monkeypatch, tmp_path):
    """Put the fake nvidia-smi script (and nothing else named so) first on PATH.

    Returns a function ``use(listing, query=None, **env)`` that picks the capture files.
    """
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nvidia-smi").symlink_to(FAKES / "nvidia-smi")
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    for name in ("FAKE_NVIDIA_SMI_LIST", "FAKE_NVIDIA_SMI_QUERY", "FAKE_NVIDIA_SMI_RC",
                 "FAKE_NVIDIA_SMI_SLEEP"):
        monkeypatch.delenv(name, raising=False)

    def use(listing: str, query: str | None = None, **env: str) -> None:
        monkeypatch.setenv("FAKE_NVIDIA_SMI_LIST", str(CAPTURES / listing))
        if query is not None:
            monkeypatch.setenv("FAKE_NVIDIA_SMI_QUERY", str(CAPTURES / query))
        for key, value in env.items():
            monkeypatch.setenv(f"FAKE_NVIDIA_SMI_{key.upper()}", value)

    return use
