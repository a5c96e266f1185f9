"""The worked examples of the contract (section 4), as pure decisions."""

from __future__ import annotations

import pytest

from ds01.config.model import GpuSettings
from ds01.policy.allocate import user_usage
from ds01.policy.messages import headline, message
from ds01.policy.model import CONTAINER_LIMIT, KIND_GPU, NO_CAPACITY, RESERVED, USER_AT_LIMIT

from .builders import (
    AFTER,
    BEFORE,
    DURING,
    World,
    inventory,
    mig,
    mig_empty,
    section2_config,
    standard_server,
    whole,
)


def test_example1_student_at_limit():
    w = World(standard_server(), section2_config())
    first = w.ask("alice", "training1")
    assert first.ok and first.devices == ("1:0",)
    assert (first.units, first.units_held, first.units_limit) == (1, 1, 2)
    assert w.on("1:1") == []  # the next one is still empty
    second = w.ask("alice", "training2")
    assert second.ok and second.devices == ("1:1",)
    assert (second.units_held, second.units_limit) == (2, 2)
    third = w.ask("alice", "training3")
    assert not third.ok and third.reason == USER_AT_LIMIT
    assert headline(third) == "USER_AT_LIMIT (2/2)"
    assert third.facts["requested"] == 1 and third.facts["available"] == 0
    cpu = w.ask("alice", "preprocessing", cpu_only=True)
    assert cpu.ok and cpu.devices == () and cpu.units == 0 and cpu.units_held == 2
    assert user_usage(w.snapshot(), "alice", BEFORE) == (2, 0, 3)
    fourth = w.ask("alice", "more", cpu_only=True)
    assert fourth.reason == CONTAINER_LIMIT and headline(fourth) == "CONTAINER_LIMIT (3/3)"


def _example2_world() -> World:
    w = World(inventory(mig(1, 3)), section2_config())
    assert w.ask("bob", "earlier").devices == ("1:0",)
    w.put("bob", "bob-job", "1:1")
    w.put("carol", "carol-job", "1:2")
    w.release("earlier")  # 1:0 is empty again: its container was released
    return w


def test_example2_priority_order():
    w = _example2_world()
    dave = w.ask("dave", "dave-job")
    assert dave.ok and dave.devices == ("1:0",)  # empty first
    eve = w.ask("eve", "eve-job")
    assert eve.ok and eve.devices == ("1:1",)  # shares with the lower priority (bob, not carol)
    frank = w.ask("frank", "frank-job")
    assert not frank.ok and frank.reason == NO_CAPACITY
    assert frank.facts["busy"] == {"not_allocatable": 0, "reserved": 0, "full": 1,
                                   "higher_priority": 2}
    assert headline(frank) == "NO_CAPACITY"
    text = message(frank, {})
    assert "2 used by higher-priority users" in text and "1 full" in text


@pytest.mark.parametrize("share_cap", [2, 3])
def test_example2_researcher_shares_with_student_and_students_stay_with_students(share_cap):
    w = World(inventory(mig(1, 3)), section2_config(GpuSettings(max_containers_per_mig=share_cap)))
    for user in ("alice", "bob", "frank"):
        assert w.ask(user, f"{user}-job").ok
    assert [w.on(d) for d in ("1:0", "1:1", "1:2")] == [["alice"], ["bob"], ["frank"]]
    carol = w.ask("carol", "carol-job")
    assert carol.ok and carol.devices == ("1:0",)  # a student's instance, lowest id
    gina = w.ask("gina", "gina-job")  # not listed anywhere: the default group (student)
    assert gina.ok and gina.devices == ("1:1",)  # only students there, never carol's
    assert gina.priority == 10
    assert w.ask("henry", "henry-job").devices == ("1:2",)


def test_example3_reservation_during_window():
    w = World(standard_server(), section2_config())
    carol = w.ask("carol", "carol-big", full_gpu=True, now=DURING)
    assert not carol.ok and carol.reason == RESERVED
    assert carol.facts["reserved_user"] == "john_doe"
    assert carol.facts["end_time"] == "2025-11-08 00:00"
    assert headline(carol) == "RESERVED (john_doe until 2025-11-08 00:00)"
    text = message(carol, {})
    assert "john_doe" in text and "Thesis deadline" in text and "2025-11-08" in text
    # others' MIG requests are not affected by a reservation of GPU 0
    assert w.ask("alice", "alice-job", now=DURING).devices == ("1:0",)
    john = w.ask("john_doe", "thesis", now=DURING)
    assert john.ok and john.devices == ("0",) and john.reserved == ("0",)
    assert john.units == 0 and john.units_held == 0 and john.units_limit == 1
    assert john.priority == 100
    # his limit still applies to everything outside the reservation
    extra = w.ask("john_doe", "thesis-extra", now=DURING)
    assert extra.ok and extra.units_held == 1
    assert headline(w.ask("john_doe", "thesis-more", now=DURING)) == "USER_AT_LIMIT (1/1)"


def test_example3_after_window_gpu0_is_ordinary_and_counts():
    w = World(standard_server(), section2_config())
    assert w.ask("john_doe", "thesis", now=DURING).devices == ("0",)
    # he keeps it after the window, and from then on it counts: 4 units against his limit of 1
    again = w.ask("john_doe", "thesis", now=AFTER)
    assert again.existing and again.devices == ("0",) and again.units == 4
    assert user_usage(w.snapshot(), "john_doe", AFTER) == (4, 1, 1)
    assert headline(w.ask("john_doe", "other", now=AFTER)) == "USER_AT_LIMIT (4/1)"
    carol = w.ask("carol", "carol-big", full_gpu=True, now=AFTER)
    assert carol.reason == NO_CAPACITY  # busy, not reserved any more
    w.release("thesis")
    carol = w.ask("carol", "carol-big", full_gpu=True, now=AFTER)
    assert carol.ok and carol.devices == ("0",) and carol.reserved == () and carol.units == 4


def test_example3_others_already_on_reserved_gpu_stay():
    w = World(standard_server(), section2_config())
    assert w.ask("carol", "carol-big", full_gpu=True, now=BEFORE).devices == ("0",)
    assert w.ask("carol", "carol-big", now=DURING).existing
    john = w.ask("john_doe", "thesis", now=DURING)
    assert john.ok and john.devices == ("1:0",) and john.reserved == () and john.units == 1


def test_example4_no_mig_anywhere():
    w = World(inventory(whole(0), whole(1), whole(2), whole(3)), section2_config())
    alice = w.ask("alice", "a1")
    assert alice.ok and alice.devices == ("0",)  # whole-GPU mode: max_mig_instances ignored
    second = w.ask("alice", "a2")
    assert second.reason == USER_AT_LIMIT and headline(second) == "USER_AT_LIMIT (1/1)"
    assert second.facts["limit_name"] == "max_full_gpus"
    carol = w.ask("carol", "c1", count=2)
    assert carol.ok and carol.devices == ("1", "2") and carol.units == 8
    assert headline(w.ask("carol", "c2")) == "USER_AT_LIMIT (2/2)"


def test_example5_mig_enabled_without_instances():
    w = World(inventory(whole(0), mig(1, 4), mig_empty(2), mig(3, 4)), section2_config())
    devices = {d.id: d for d in w.devices}
    assert not any(i.startswith("2:") for i in devices)
    gpu2 = devices["2"]
    assert gpu2.kind == KIND_GPU and not gpu2.allocatable
    assert "MIG is enabled on GPU 2 but no instances exist" in gpu2.warning
    assert "nvidia-smi mig" in gpu2.warning
    dave = w.ask("dave", "d1", count=8)
    assert dave.ok and all(not d.startswith("2") for d in dave.devices)
    two = w.ask("dave", "d2", full_gpu=True, count=2)
    assert two.reason == NO_CAPACITY and two.facts["busy"]["not_allocatable"] == 1
    assert w.ask("dave", "d2", full_gpu=True).devices == ("0",)
    assert w.ask("dave", "d3", full_gpu=True).reason == NO_CAPACITY
    assert all("2" not in h.devices for h in w.holdings)


def test_example5_only_empty_mig_gpus_nothing_allocated():
    w = World(inventory(mig_empty(0), mig_empty(1)), section2_config())
    d = w.ask("dave", "d1")
    assert d.reason == NO_CAPACITY and d.facts["busy"]["not_allocatable"] == 2
