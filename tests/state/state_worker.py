"""Child process for the state tests: run as ``python state_worker.py COMMAND ARGS...``.

Commands:
  rmw DB COUNT NAME      wait for "go" on stdin, then COUNT read-modify-write transactions
  hold DB                open a write txn, insert a row and an event, say "ready", sleep
  spill DB               like hold, but with a transaction big enough to spill into the WAL
  commit DB              insert a row and an event, commit, say "committed", sleep
  append LOG COUNT NAME  wait for "go", then append COUNT lines of varying length
  locked-out DB          as an unprivileged user (when run as root), open DB and write; print
                         the outcome as JSON
"""

from __future__ import annotations

import json
import os
import sys
import time
import zlib
from pathlib import Path

from ds01.errors import StateError
from ds01.state.log import append
from ds01.state.store import AllocationRow, Event, Store

NOBODY = 65534
TS = "2026-12-01T09:00:00+00:00"


def row(container: str, **meta) -> AllocationRow:
    return AllocationRow(
        container=container, user="alice", group="students", priority=10, devices=("1:0",),
        uuids=("MIG-test",), reserved=(), units=1, since=TS, meta=meta,
    )


def event(container: str, message: str | None = None) -> Event:
    return Event(
        ts=TS, event="ALLOCATED", user="alice", group="students", container=container,
        priority=10, devices=("1:0",), units=1, units_held=1, units_limit=2, message=message,
    )


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def wait_for_go() -> None:
    say("ready")
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("no go")


def rmw(db: str, count: str, name: str) -> None:
    store = Store(Path(db))
    wait_for_go()
    for _ in range(int(count)):
        with store.write() as txn:
            n = int(txn.get_meta("counter", "0"))
            txn.insert(row(f"c{n:05d}", worker=name))
            txn.set_meta("counter", str(n + 1))
    store.close()
    say("done")


def hold(db: str, spill: bool = False) -> None:
    store = Store(Path(db))
    with store.write() as txn:
        txn.insert(row("crashed"))
        txn.add_event(event("crashed"))
        if spill:  # more dirty pages than the page cache holds: SQLite writes them to the WAL
            for i in range(4000):
                txn.add_event(event(f"bulk{i}", message="x" * 1000))
        say("ready")
        time.sleep(120)


def commit(db: str) -> None:
    store = Store(Path(db))
    with store.write() as txn:
        txn.insert(row("committed"))
        txn.add_event(event("committed"))
    say("committed")
    time.sleep(120)


def append_lines(log: str, count: str, name: str) -> None:
    wait_for_go()
    for i in range(int(count)):
        body = f"{name}-{i}-" + "abcdefghij" * (i * 37 % 900)
        append(Path(log), f"{body} crc={zlib.crc32(body.encode()):08x}")
    say("done")


def locked_out(db: str) -> None:
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    try:
        store = Store(Path(db), busy_timeout_s=1.0)
        with store.write() as txn:
            txn.set_meta("touched", "yes")
        store.close()
    except StateError as exc:
        say(json.dumps({"error": exc.message, "hint": exc.hint}))
        return
    say(json.dumps({"ok": True}))


def main(argv: list[str]) -> None:
    command, args = argv[0], argv[1:]
    actions = {
        "rmw": rmw,
        "hold": hold,
        "spill": lambda db: hold(db, spill=True),
        "commit": commit,
        "append": append_lines,
        "locked-out": locked_out,
    }
    actions[command](*args)


if __name__ == "__main__":
    main(sys.argv[1:])
