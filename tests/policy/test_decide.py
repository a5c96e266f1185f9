"""Decision rules of contract section 3, one rule at a time."""

from __future__ import annotations

import copy

import pytest

from ds01.config.model import EffectiveLimits, GpuSettings, Limits, Reservation
from ds01.policy.allocate import Snapshot, candidates, decide, user_usage
from ds01.policy.devices import flatten
from ds01.policy.messages import headline
from ds01.policy.model import (
    CONTAINER_LIMIT,
    INVALID_REQUEST,
    NO_CAPACITY,
    RESERVED,
    USER_AT_LIMIT,
    Holding,
    Request,
)

from .builders import (
    AFTER,
    BEFORE,
    DURING,
    WINDOW_END,
    WINDOW_START,
    World,
    inventory,
    mig,
    section2_config,
    standard_server,
    whole,
)


def limits_for(user: str, priority: int = 10, *, mig_units=2, full=1, containers=3,
               prefer=False, reservation=None) -> EffectiveLimits:
    return EffectiveLimits(
        user=user, group="g", admin=False, prefer_full_gpu=prefer,
        limits=Limits(priority=priority, max_mig_instances=mig_units, max_full_gpus=full,
                      max_containers_per_user=containers),
        reservation=reservation,
    )


def snap(inv=None, holdings=(), gpu=None, reservations=()) -> Snapshot:
    gpu = gpu or GpuSettings()
    return Snapshot(flatten(inv or standard_server(), gpu), tuple(holdings), gpu,
                    tuple(reservations))


@pytest.mark.parametrize("user", ["1abc", "", "a b", "x" * 33, "bob\n", "-bob", "bö", None])
def test_bad_user_names(user):
    d = decide(snap(), Request(user, "c1"), limits_for(str(user)), BEFORE)
    assert d.reason == INVALID_REQUEST and "user name" in d.facts["why"]


@pytest.mark.parametrize("name", ["-x", "", "a/b", "x" * 129, "_x", "a b", "c1\n"])
def test_bad_container_names(name):
    d = decide(snap(), Request("alice", name), limits_for("alice"), BEFORE)
    assert d.reason == INVALID_REQUEST and "container name" in d.facts["why"]


@pytest.mark.parametrize("count", [0, -1, 65, True, 1.0, "1", None])
def test_bad_counts(count):
    d = decide(snap(), Request("alice", "c1", count=count), limits_for("alice"), BEFORE)
    assert d.reason == INVALID_REQUEST and "1 to 64" in d.facts["why"]


def test_valid_extremes_are_not_invalid():
    user, name = "_" + "a" * 31, "9" + "x.-_" * 31 + "abc"
    assert len(name) == 128
    d = decide(snap(), Request(user, name, count=64), limits_for(user, mig_units=None), BEFORE)
    assert d.reason == NO_CAPACITY  # a well-formed request the server cannot serve


def test_cpu_only_ignores_count_but_not_full_gpu():
    ok = decide(snap(), Request("alice", "c1", count=0, cpu_only=True), limits_for("alice"), BEFORE)
    assert ok.ok and ok.devices == () and ok.units == 0
    bad = Request("alice", "c1", cpu_only=True, full_gpu=True)
    assert decide(snap(), bad, limits_for("alice"), BEFORE).reason == INVALID_REQUEST


def test_limits_of_another_user_are_invalid():
    d = decide(snap(), Request("alice", "c1"), limits_for("bob"), BEFORE)
    assert d.reason == INVALID_REQUEST


def test_container_of_another_user_is_invalid_and_untouched():
    held = Holding("shared-name", "bob", 10, ("1:0",))
    s = snap(holdings=[held])
    d = decide(s, Request("alice", "shared-name"), limits_for("alice"), BEFORE)
    assert d.reason == INVALID_REQUEST and "another user (bob)" in d.facts["why"]
    assert s.holdings == (held,)


def test_idempotent_whatever_the_flags():
    w = World(standard_server(), section2_config())
    first = w.ask("carol", "job", count=2)
    for again in (w.ask("carol", "job"), w.ask("carol", "job", full_gpu=True),
                  w.ask("carol", "job", cpu_only=True), w.ask("carol", "job", count=64)):
        assert again.ok and again.existing
        assert (again.devices, again.uuids) == (first.devices, first.uuids)
        assert again.units == 2 and again.units_held == 2
    assert len(w.holdings) == 1


def test_existing_with_vanished_device_says_so():
    s = snap(holdings=[Holding("job", "alice", 10, ("9:9",))])
    d = decide(s, Request("alice", "job"), limits_for("alice"), BEFORE)
    assert d.ok and d.existing and d.uuids == ("",) and d.facts["missing_devices"] == ("9:9",)


def test_invalid_comes_before_container_limit():
    held = [Holding(f"c{i}", "alice", 10, ()) for i in range(3)]
    d = decide(snap(holdings=held), Request("alice", "c9", count=0), limits_for("alice"), BEFORE)
    assert d.reason == INVALID_REQUEST


def test_container_limit_counts_every_kind_and_comes_before_user_limit():
    held = [Holding("a", "alice", 10, ("1:0",)), Holding("b", "alice", 10, ("1:1",)),
            Holding("c", "alice", 10, ())]
    d = decide(snap(holdings=held), Request("alice", "d"), limits_for("alice"), BEFORE)
    assert d.reason == CONTAINER_LIMIT and (d.facts["current"], d.facts["max"]) == (3, 3)
    unlimited = limits_for("alice", containers=None)
    assert decide(snap(holdings=held), Request("alice", "d"), unlimited, BEFORE).reason \
        == USER_AT_LIMIT


def test_user_limit_comes_before_capacity():
    inv = inventory(mig(1, 2))
    held = [Holding("a", "alice", 10, ("1:0",)), Holding("b", "alice", 10, ("1:1",)),
            Holding("x", "bob", 10, ("1:0",)), Holding("y", "bob", 10, ("1:1",))]
    d = decide(snap(inv, held), Request("alice", "c"), limits_for("alice"), BEFORE)
    assert d.reason == USER_AT_LIMIT


def test_each_container_pays_even_when_sharing_a_device():
    held = [Holding("a", "alice", 10, ("1:0",)), Holding("b", "alice", 10, ("1:0",))]
    assert user_usage(snap(holdings=held), "alice", BEFORE) == (2, 0, 2)


def test_all_or_nothing():
    inv = inventory(mig(1, 2))
    gpu = GpuSettings(max_containers_per_mig=1)
    d = decide(snap(inv, gpu=gpu), Request("dave", "c", count=3),
               limits_for("dave", 90, mig_units=None), BEFORE)
    assert d.reason == NO_CAPACITY and d.devices == ()
    assert d.facts["candidates"] == 2 and d.facts["requested"] == 3


def test_whole_gpu_in_mig_mode_costs_units_and_counts_full_gpus():
    inv = inventory(whole(0), whole(1), whole(2), mig(3, 4))
    researcher = limits_for("carol", 50, mig_units=8, full=2)
    w_holdings = []
    for name in ("c1", "c2"):
        d = decide(snap(inv, w_holdings), Request("carol", name, full_gpu=True), researcher, BEFORE)
        assert d.ok and d.units == 4
        w_holdings.append(Holding(name, "carol", 50, d.devices))
    assert user_usage(snap(inv, w_holdings), "carol", BEFORE) == (8, 2, 2)
    third = decide(snap(inv, w_holdings), Request("carol", "c3", full_gpu=True), researcher,
                   BEFORE)
    assert headline(third) == "USER_AT_LIMIT (8/8)"  # units first in MIG mode
    only_full = limits_for("carol", 50, mig_units=None, full=2)
    third = decide(snap(inv, w_holdings), Request("carol", "c3", full_gpu=True), only_full, BEFORE)
    assert headline(third) == "USER_AT_LIMIT (2/2)" and third.facts["limit_name"] == "max_full_gpus"


def test_student_cannot_take_a_whole_gpu_in_mig_mode():
    d = decide(snap(), Request("alice", "c", full_gpu=True), limits_for("alice"), BEFORE)
    assert d.reason == USER_AT_LIMIT and headline(d) == "USER_AT_LIMIT (0/2)"
    assert d.facts["requested"] == 4


def test_prefer_full_gpu_is_served_with_whole_gpus():
    lena = limits_for("lena", mig_units=4, full=1, prefer=True)
    d = decide(snap(), Request("lena", "c"), lena, BEFORE)
    assert d.ok and d.devices == ("0",) and d.units == 4
    held = [Holding("c", "lena", 10, ("0",))]
    assert decide(snap(holdings=held), Request("lena", "c2"), lena, BEFORE).reason \
        == USER_AT_LIMIT


def test_full_gpu_asked_never_falls_back_to_mig():
    inv = inventory(mig(1, 4))
    carol = limits_for("carol", 50, mig_units=8)
    d = decide(snap(inv), Request("carol", "c", full_gpu=True), carol, BEFORE)
    assert d.reason == NO_CAPACITY and d.facts["total"] == 0


def test_memory_in_use_ranks_after_empty_memory_and_unknown_ranks_as_zero():
    inv = inventory(whole(0, used=30000), whole(1, used=None), whole(2, used=100))
    d = decide(snap(inv), Request("alice", "c"), limits_for("alice"), BEFORE)
    assert d.devices == ("1",)  # unknown ranks as 0, then natural order
    held = [Holding("x", "bob", 10, ("1",))]
    assert decide(snap(inv, held), Request("alice", "c"), limits_for("alice"), BEFORE).devices \
        == ("2",)


def test_recorded_priority_is_what_counts():
    held = [Holding(f"x{i}", "carol", 5, (f"1:{i}",)) for i in range(4)]  # recorded at 5
    inv = inventory(mig(1, 4))
    d = decide(snap(inv, held), Request("alice", "c"), limits_for("alice", 10), BEFORE)
    assert d.ok and d.devices == ("1:0",)
    held = [Holding(f"x{i}", "bob", 11, (f"1:{i}",)) for i in range(4)]
    d = decide(snap(inv, held), Request("alice", "c"), limits_for("alice", 10), BEFORE)
    assert d.reason == NO_CAPACITY and d.facts["busy"]["higher_priority"] == 4


def test_equal_priority_may_share():
    held = [Holding(f"x{i}", "bob", 10, (f"1:{i}",)) for i in range(4)]
    d = decide(snap(inventory(mig(1, 4)), held), Request("alice", "c"), limits_for("alice"), BEFORE)
    assert d.ok and d.devices == ("1:0",)


def test_reserved_first_then_limits_for_the_rest():
    w = World(standard_server(), section2_config())
    two = w.ask("john_doe", "t2", count=2, now=DURING)
    assert two.ok and two.devices == ("0", "1:0") and two.reserved == ("0",) and two.units == 1
    w.release("t2")
    three = w.ask("john_doe", "t3", count=3, now=DURING)
    assert three.reason == USER_AT_LIMIT and headline(three) == "USER_AT_LIMIT (0/1)"
    assert three.facts["requested"] == 2


def test_reserved_mig_instances_go_to_the_holder_first_and_to_no_one_else():
    res = Reservation("eve", WINDOW_START, WINDOW_END, ("1:2", "1:3"), reason=None)
    inv = inventory(mig(1, 4))
    gpu = GpuSettings(max_containers_per_mig=1)
    eve = limits_for("eve", 50, mig_units=8, reservation=res)
    d = decide(snap(inv, gpu=gpu, reservations=[res]), Request("eve", "e"), eve, DURING)
    assert d.devices == ("1:2",) and d.reserved == ("1:2",) and d.units == 0
    held = [Holding("a", "alice", 10, ("1:0",)), Holding("b", "bob", 10, ("1:1",))]
    s = snap(inv, held, gpu=gpu, reservations=[res])
    frank = decide(s, Request("frank", "f"), limits_for("frank"), DURING)
    assert frank.reason == RESERVED and frank.facts["reserved_devices"] == ("1:2",)
    assert headline(frank).startswith("RESERVED (eve until 2025-11-08 00:00")
    assert decide(s, Request("frank", "f"), limits_for("frank"), AFTER).devices == ("1:2",)
    # the holder's own reservation counts even when the snapshot did not list it
    assert decide(snap(inv, held, gpu=gpu), Request("eve", "e"), eve, DURING).reserved == ("1:2",)


def test_capacity_beats_reserved_when_ignoring_reservations_would_not_help():
    res = Reservation("eve", WINDOW_START, WINDOW_END, ("1:3",))
    gpu = GpuSettings(max_containers_per_mig=1)
    held = [Holding(f"x{i}", "bob", 10, (f"1:{i}",)) for i in range(3)]
    s = snap(inventory(mig(1, 4)), held, gpu=gpu, reservations=[res])
    d = decide(s, Request("alice", "a", count=2), limits_for("alice"), DURING)
    assert d.reason == NO_CAPACITY and d.facts["busy"]["reserved"] == 1
    assert decide(s, Request("alice", "a"), limits_for("alice"), DURING).reason == RESERVED


def test_overlapping_reservations_let_both_holders_in():
    a = Reservation("alice", WINDOW_START, WINDOW_END, ("0",))
    b = Reservation("bob", WINDOW_START, WINDOW_END, ("0",))
    inv = inventory(whole(0))
    gpu = GpuSettings(max_containers_per_gpu=2)
    s = snap(inv, gpu=gpu, reservations=[a, b])
    assert decide(s, Request("alice", "x"), limits_for("alice", reservation=a), DURING).ok
    assert decide(s, Request("bob", "x"), limits_for("bob", reservation=b), DURING).ok
    assert decide(s, Request("frank", "x"), limits_for("frank"), DURING).reason == RESERVED


def test_exemption_only_while_the_reservation_is_active():
    res = Reservation("john_doe", WINDOW_START, WINDOW_END, ("0",))
    held = [Holding("t", "john_doe", 100, ("0", "1:0"), reserved=("0",))]
    s = snap(holdings=held, reservations=[res])
    assert user_usage(s, "john_doe", DURING) == (1, 0, 1)
    assert user_usage(s, "john_doe", AFTER) == (5, 1, 1)


def test_candidates_helper_ranks_own_reserved_first():
    res = Reservation("eve", WINDOW_START, WINDOW_END, ("3",))
    eve = limits_for("eve", 50, mig_units=8, reservation=res)
    own, rest = candidates(snap(), eve, DURING)
    assert [d.id for d in own] == ["3:0", "3:1", "3:2", "3:3"]
    assert [d.id for d in rest][:2] == ["1:0", "1:1"] and "0" not in [d.id for d in rest]


def test_decide_does_not_modify_its_inputs():
    res = Reservation("eve", WINDOW_START, WINDOW_END, ("1",))
    held = [Holding("b", "bob", 10, ("1:0",))]
    s = snap(holdings=held, reservations=[res])
    before = copy.deepcopy(s)
    who = limits_for("eve", 50, reservation=res)
    decide(s, Request("eve", "e", count=2), who, DURING)
    decide(s, Request("alice", "a", count=9), limits_for("alice"), DURING)
    assert s == before


def test_order_fewest_containers_before_lowest_priority():
    gpu = GpuSettings(max_containers_per_mig=3)
    held = [Holding("a", "alice", 10, ("1:0",)), Holding("b", "bob", 10, ("1:0",)),
            Holding("c", "carol", 50, ("1:1",))]
    s = snap(inventory(mig(1, 2)), held, gpu=gpu)
    d = decide(s, Request("eve", "e"), limits_for("eve", 50), BEFORE)
    assert d.devices == ("1:1",)  # one container there, though of a higher priority
    # among equally shared devices the lower priority wins, then the lower memory use
    held = held + [Holding("d", "dave", 90, ("1:1",))]
    s = snap(inventory(mig(1, 2)), held, gpu=gpu)
    assert decide(s, Request("zed", "z"), limits_for("zed", 95), BEFORE).devices == ("1:0",)
