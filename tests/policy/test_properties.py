"""Property-based tests: random servers, people, reservations and request sequences.

Every step goes through ``decide`` and, when granted, is applied to an in-memory holdings
list; the invariants of contract section 3 are checked after every step.
"""

from __future__ import annotations

from ds01.records import replace
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ds01.config.model import EffectiveLimits, GpuSettings, Limits, Reservation
from ds01.policy.allocate import Snapshot, decide, user_usage
from ds01.policy.devices import flatten
from ds01.policy.messages import headline, message
from ds01.policy.model import INVALID_REQUEST, REASONS, RESERVED, USER_AT_LIMIT, Holding, Request

from . import oracle
from .builders import inventory, mig, mig_empty, whole

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=timezone.utc)
USERS = ("u0", "u1", "u2", "u3", "u4")
CONTAINERS = tuple(f"c{i}" for i in range(8))


@st.composite
def servers(draw):
    indexes = sorted(draw(st.sets(st.sampled_from([0, 1, 2, 3, 10, 11]), min_size=1, max_size=4)))
    gpus = []
    for i in indexes:
        kind = draw(st.sampled_from(["whole", "mig", "mig", "empty"]))
        lost = draw(st.booleans()) and draw(st.booleans()) and draw(st.booleans())
        if kind == "whole":
            used = draw(st.none() | st.integers(0, 40960))
            gpus.append(whole(i, used=used, lost=lost))
        elif kind == "mig":
            gpus.append(mig(i, draw(st.integers(1, 4)), lost=lost))
        else:
            gpus.append(mig_empty(i))
    return inventory(*gpus)


@st.composite
def people(draw):
    out = {}
    for user in USERS:
        limits = Limits(
            priority=draw(st.sampled_from([10, 10, 50, 90])),
            max_mig_instances=draw(st.sampled_from([None, 0, 1, 2, 4, 8])),
            max_full_gpus=draw(st.sampled_from([None, 0, 1, 2])),
            max_containers_per_user=draw(st.sampled_from([None, 1, 2, 3, 4])),
        )
        prefer = draw(st.booleans()) and draw(st.booleans())
        out[user] = EffectiveLimits(user=user, group="g", admin=False, prefer_full_gpu=prefer,
                                    limits=limits)
    return out


def reservations_for(draw, device_ids, gpu_ids):
    names = sorted(set(device_ids) | set(gpu_ids))
    out = []
    for _ in range(draw(st.sampled_from([0, 1, 1, 2, 3]))):
        start = draw(st.integers(0, 5))
        end = draw(st.integers(start + 1, 12))
        covered = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
        out.append(Reservation(draw(st.sampled_from(USERS)), T0 + timedelta(hours=start),
                               T0 + timedelta(hours=end), tuple(covered),
                               reason=draw(st.none() | st.just("deadline"))))
    return tuple(out)


STEP = st.sampled_from([0, 0, 1, 2])  # hours between two operations
FEW = st.sampled_from([False, False, False, True])
operations = st.one_of(
    st.tuples(st.just("alloc"), st.sampled_from(USERS), st.sampled_from(CONTAINERS),
              st.sampled_from([1, 1, 1, 1, 1, 2, 2, 3, 0, 65]), FEW, FEW, STEP),
    st.tuples(st.just("alloc"), st.sampled_from(USERS), st.sampled_from(CONTAINERS),
              st.just(1), FEW, st.just(False), STEP),
    st.tuples(st.just("release"), st.sampled_from(CONTAINERS), STEP),
)


@st.composite
def worlds(draw):
    inv = draw(servers())
    gpu = GpuSettings(units_per_gpu=draw(st.integers(1, 4)),
                      max_containers_per_mig=draw(st.integers(1, 3)),
                      max_containers_per_gpu=draw(st.integers(1, 2)))
    devices = flatten(inv, gpu)
    reservations = reservations_for(draw, [d.id for d in devices],
                                    [str(g.index) for g in inv.gpus])
    who = draw(people())
    who = {u: replace(w, reservation=next((r for r in reservations if r.user == u), None))
           for u, w in who.items()}
    ops = draw(st.lists(operations, min_size=3, max_size=30))
    return devices, gpu, reservations, who, ops


def cap_of(device, gpu):
    return gpu.max_containers_per_mig if device.kind == "mig" else gpu.max_containers_per_gpu


def replay(world):
    """Apply the world's operations in order; yields (snapshot before, request, who, now,
    decision) for every allocation, and keeps the holdings as the store would."""
    devices, gpu, reservations, who, ops = world
    holdings: list[Holding] = []
    now = T0
    for op in ops:
        now += timedelta(hours=op[-1])
        if op[0] == "release":
            holdings = [h for h in holdings if h.container != op[1]]
            continue
        _, user, container, count, full, cpu, _ = op
        request = Request(user, container, count=count, full_gpu=full, cpu_only=cpu)
        snap = Snapshot(devices, tuple(holdings), gpu, reservations)
        d = decide(snap, request, who[user], now)
        yield snap, request, who[user], now, d
        if d.ok and not d.existing:
            holdings.append(Holding(container, user, d.priority, d.devices, d.reserved))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_random_sequences_keep_the_invariants(world):
    devices, gpu, reservations, who, _ops = world
    by_id = {d.id: d for d in devices}
    for snap, request, me, now, d in replay(world):
        event(d.reason or ("existing" if d.existing else "granted"))
        if d.reserved:
            event("granted through a reservation")
        check_decision(d, snap, request, me, now)
        holdings = list(snap.holdings)
        if d.ok and not d.existing:
            check_grant(d, snap, me, now, by_id)
            holdings.append(Holding(request.container, request.user, d.priority, d.devices,
                                    d.reserved))
            check_repeats(d, Snapshot(devices, tuple(holdings), gpu, reservations), who, now)
        check_state(holdings, by_id, gpu)


def check_decision(d, snap, request, who, now):
    """Exactly one reason, the first applicable one; RESERVED only if reservations are why."""
    want = oracle.expected(snap.devices, snap.holdings, snap.gpu, snap.reservations, request,
                           who, now)
    assert d.reason == want, (d.reason, want, d.facts)
    assert d.ok == (d.reason is None)
    if not d.ok:
        assert d.reason in REASONS and d.devices == () and d.uuids == ()
        assert headline(d).startswith(d.reason) and message(d, {})
    if d.reason == RESERVED:
        mine = tuple(r for r in snap.reservations if r.user == request.user)
        assert decide(replace(snap, reservations=mine), request, who, now).ok
    if d.reason == USER_AT_LIMIT:
        free = replace(who, limits=replace(who.limits, max_mig_instances=None, max_full_gpus=None))
        assert decide(snap, request, free, now).reason != USER_AT_LIMIT


def check_grant(d, snap, who, now, by_id):
    n = 0 if d.request.cpu_only else d.request.count
    assert len(d.devices) == n and len(set(d.devices)) == n
    assert d.uuids == tuple(by_id[i].uuid for i in d.devices)
    assert set(d.reserved) <= set(d.devices)
    whole = not any(x.kind == "mig" for x in snap.devices) or d.request.full_gpu \
        or who.prefer_full_gpu
    for dev in d.devices:
        there = oracle.on_device(snap.holdings, dev)
        assert all(h.priority <= who.priority for h in there)  # never joins a higher priority
        assert len(there) < cap_of(by_id[dev], snap.gpu)
        assert by_id[dev].allocatable
        mine = oracle.own_covers(snap.reservations, who.user, dev, now)
        assert mine or not oracle.other_covers(snap.reservations, who.user, dev, now)
        assert (dev in d.reserved) == mine
        if not mine:
            assert by_id[dev].kind == ("gpu" if whole else "mig")
    check_order(d, snap, who, now, whole)
    check_limits(d, snap, who, now)


def check_order(d, snap, who, now, whole):
    """Own reserved candidates first; within each group, the best-ranked ones were taken."""
    args = (who.user, who.priority, whole, snap.holdings, snap.reservations, snap.gpu, now)
    found = [x for x in snap.devices if oracle.is_candidate(x, *args)]
    own = [x for x in found if oracle.own_covers(snap.reservations, who.user, x.id, now)]
    assert len(d.reserved) == min(len(own), len(d.devices))
    for group in (own, [x for x in found if x not in own]):
        taken = [oracle.rank(x, snap.holdings) for x in group if x.id in d.devices]
        left = [oracle.rank(x, snap.holdings) for x in group if x.id not in d.devices]
        if taken and left:
            assert max(taken) < min(left)


def check_limits(d, snap, who, now):
    before = user_usage(snap, who.user, now)
    paying = [x for x in d.devices if x not in d.reserved]
    assert d.units == sum(oracle.units(x, snap.gpu) for x in paying)
    assert d.units_held == before[0] + d.units
    if not paying:
        return
    after_units = before[0] + d.units
    after_full = before[1] + sum(1 for x in paying if ":" not in x)
    lim = who.limits
    mig_mode = any(x.kind == "mig" for x in snap.devices)
    if mig_mode and lim.max_mig_instances is not None:
        assert after_units <= lim.max_mig_instances
    if lim.max_full_gpus is not None:
        assert after_full <= lim.max_full_gpus


def check_repeats(d, snap, who, now):
    """Asking again is idempotent; another user asking for the same name is refused."""
    req = d.request
    again = decide(snap, replace(req, count=1, full_gpu=not req.full_gpu), who[req.user], now)
    assert again.ok and again.existing and again.devices == d.devices
    assert again.uuids == d.uuids and again.reserved == d.reserved
    other = next(u for u in USERS if u != req.user)
    assert decide(snap, replace(req, user=other), who[other], now).reason == INVALID_REQUEST


def check_state(holdings, by_id, gpu):
    names = [h.container for h in holdings]
    assert len(names) == len(set(names))
    for dev_id, dev in by_id.items():
        assert len(oracle.on_device(holdings, dev_id)) <= cap_of(dev, gpu)
    for h in holdings:
        assert len(set(h.devices)) == len(h.devices)
