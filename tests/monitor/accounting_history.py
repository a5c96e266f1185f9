"""Shared pieces of the accounting tests: a scripted allocation history and a time zone switch.

Test modules import the fixtures from here (`from tests.monitor.accounting_history import ...`).
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

DAY = "2026-12-01"


def at(clock: str) -> str:
    """``HH:MM`` on the scripted day, in UTC."""
    return f"{DAY}T{clock}:00+00:00"


@dataclass
class History:
    """What the scripted history did: container -> devices."""

    devices: dict = field(default_factory=dict)


def _allocate(ds01, history: History, clock: str, user: str, name: str, *flags: str) -> None:
    ds01.set(now=at(clock))
    res = ds01.allocate(user, name, *flags)
    assert res.code == 0, res.err
    history.devices[name] = res.json()["devices"]


@pytest.fixture
def scripted(ds01) -> History:
    """A day on the note's server (GPU 0 whole = 4 units; GPUs 1-3 split into MIG instances).

    ====== ===================================================================
    09:00  alice a1 (one MIG instance)
    10:00  carol c1 --full-gpu (GPU 0: 4 units, 1 whole GPU)
    10:00  bob b1 (one MIG instance)
    10:30  alice a2 (one MIG instance)
    10:45  alice a3: refused, USER_AT_LIMIT (2/2)
    11:00  bob's b1 is found dead: released with the engine's exit time 10:15
    11:00  frank f1 --cpu-only
    11:30  alice a1 released
    12:00  now (a2, c1, f1 still held)
    ====== ===================================================================
    """
    from ds01.context import Context
    from ds01.service import Service
    from ds01.service.gpu import release

    h = History()
    _allocate(ds01, h, "09:00", "alice", "a1")
    _allocate(ds01, h, "10:00", "carol", "c1", "--full-gpu")
    _allocate(ds01, h, "10:00", "bob", "b1")
    _allocate(ds01, h, "10:30", "alice", "a2")
    ds01.set(now=at("10:45"))
    refused = ds01.allocate("alice", "a3")
    assert refused.code == 1 and refused.json()["reason"] == "USER_AT_LIMIT"
    ds01.set(now=at("11:00"))
    svc = Service(Context.build())
    try:
        assert release(svc, "b1", when=at("10:15"), why="container exited").released
    finally:
        svc.close()
    _allocate(ds01, h, "11:00", "frank", "f1", "--cpu-only")
    ds01.set(now=at("11:30"))
    assert ds01.cli("gpu", "release", "a1").code == 0
    ds01.set(now=at("12:00"))
    assert h.devices["c1"] == ["0"] and h.devices["f1"] == []
    assert all(":" in h.devices[n][0] for n in ("a1", "a2", "b1"))
    return h


@contextmanager
def _zone_restored():
    old = os.environ.get("TZ")

    def switch(name: str) -> None:
        os.environ["TZ"] = name
        time.tzset()

    try:
        yield switch
    finally:
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old
        time.tzset()


@pytest.fixture
def local_zone():
    """Switch the process's local time zone (``local_zone("Europe/Berlin")``); restored after."""
    with _zone_restored() as switch:
        yield switch


@pytest.fixture(autouse=True)
def utc_zone():
    """Accounting tests run with UTC as the local zone unless a test switches it."""
    with _zone_restored() as switch:
        switch("UTC")
        yield
