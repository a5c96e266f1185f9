"""Finding a user's container in the engine, with the ownership rule: a user may act only on
their own containers (administrators on anyone's)."""

from __future__ import annotations

import pwd
import re
from ds01.records import record

from ds01.service.core import Service
from ds01.service.launchspec import (
    ENGINE_PREFIX,
    NAME,
    Actor,
    engine_name,
    invalid,
    not_permitted,
)
from ds01.service.reconcile import LAUNCHER, engine_names
from ds01.state.store import AllocationRow

_HEX = re.compile(r"[0-9a-f]{12,64}")


@record
class Found:
    """One container a command acts on. ``item`` is None when only its allocation exists."""

    owner: Actor
    name: str
    engine_name: str
    item: dict | None

    @property
    def id(self) -> str | None:
        return None if self.item is None else self.item.get("Id")

    @property
    def state(self) -> str:
        return "missing" if self.item is None else str(self.item.get("State") or "unknown")

    @property
    def labels(self) -> dict:
        return {} if self.item is None else (self.item.get("Labels") or {})


def account(user: str) -> tuple[int | None, int | None]:
    """(uid, gid) of a Unix account, or (None, None) when there is none."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return None, None
    return entry.pw_uid, entry.pw_gid


def owner_actor(actor: Actor, owner: str) -> Actor:
    if owner == actor.user:
        return actor
    uid, gid = account(owner)
    return Actor(user=owner, uid=uid, gid=gid, admin=actor.admin)


def locate(svc: Service, actor: Actor, ref: str, listing: list[dict]) -> Found:
    """The container ``ref`` names: the actor's own NAME, an engine name ``ds01.<user>.<name>``
    or a container id (12 or more hex digits). Refuses another user's container
    (NOT_PERMITTED) and a name that matches nothing (INVALID_REQUEST)."""
    if not isinstance(ref, str) or not ref:
        raise invalid("a container name is required")
    item = None
    if NAME.fullmatch(ref):
        own = engine_name(actor.user, ref)
        item = _by_name(listing, own)
        if item is not None or not _HEX.fullmatch(ref):
            return _found(svc, actor, ref, own, item)
    if ref.startswith(f"{ENGINE_PREFIX}."):
        item = _by_name(listing, ref)
    elif _HEX.fullmatch(ref):
        matches = [c for c in listing if str(c.get("Id", "")).startswith(ref)]
        item = matches[0] if len(matches) == 1 else None
    if item is None:
        raise _no_such(ref)
    labels = item.get("Labels") or {}
    owner = labels.get("ds01.user") or ""
    if owner != actor.user and not actor.admin:
        raise not_permitted(
            f"container {ref!r} is not yours: you may list, stop, start, remove, open a shell "
            f"in and read the logs of your own containers only",
            hint="`container list --all` shows yours")
    who = owner_actor(actor, owner)
    return Found(who, labels.get("ds01.name") or ref, engine_names(item)[0], item)


def _found(svc: Service, actor: Actor, name: str, ename: str, item: dict | None) -> Found:
    if item is None and allocation(svc, ename) is None:
        raise _no_such(name)
    return Found(actor, name, ename, item)


def _by_name(listing: list[dict], name: str) -> dict | None:
    return next((c for c in listing if name in engine_names(c)), None)


def _no_such(ref: str):
    return invalid(f"you have no container named {ref!r}",
                   hint="`container list --all` shows your containers, stopped ones too")


def allocation(svc: Service, ename: str) -> AllocationRow | None:
    """The launcher allocation recorded under ``ename``, or None."""
    with svc.store.read() as tx:
        row = tx.get(ename)
    return row if row is not None and row.origin == LAUNCHER else None
