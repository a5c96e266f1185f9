"""Headlines and human messages for decisions, with and without administrator templates."""

from __future__ import annotations

import pytest

from ds01.policy.messages import DEFAULT_TEMPLATES, fill, headline, message
from ds01.policy.model import INVALID_REQUEST, NO_CAPACITY, RESERVED, USER_AT_LIMIT

from .builders import DURING, World, inventory, mig, section2_config, standard_server

NOTE_TEMPLATE = (
    "GPU Limit Exceeded\n\nYou requested {requested} MIG instances, but your limit is {max}.\n"
    "You currently have {current} MIG instances allocated.\n\nOptions:\n"
    "1. Reduce MIG/GPU request to {available} or fewer\n2. Stop an existing container\n"
    "3. Launch as CPU-only"
)


def at_limit():
    w = World(standard_server(), section2_config())
    w.ask("alice", "a1")
    return w.ask("alice", "a2", count=2)


def no_capacity():
    w = World(inventory(mig(1, 1)), section2_config())
    w.ask("carol", "c1")
    w.ask("eve", "e1")
    return w.ask("alice", "a1")


def reserved():
    return World(standard_server(), section2_config()).ask("carol", "c", full_gpu=True, now=DURING)


def container_limit():
    w = World(standard_server(), section2_config())
    for name in ("x", "y", "z"):
        w.ask("alice", name, cpu_only=True)
    return w.ask("alice", "w")


def test_default_user_at_limit_text():
    d = at_limit()
    assert headline(d) == "USER_AT_LIMIT (1/2)"
    text = message(d, {})
    assert "You requested 2 MIG units, but your limit (max_mig_instances) is 2." in text
    assert "You currently hold 1." in text
    assert "1. Reduce the request to 1 MIG units or fewer" in text
    assert "3. Launch as CPU-only" in text


def test_note_template_is_filled():
    text = message(at_limit(), {"gpu_limit_exceeded": NOTE_TEMPLATE})
    assert "You requested 2 MIG instances, but your limit is 2." in text
    assert "You currently have 1 MIG instances" in text and "request to 1 or fewer" in text


def test_default_texts_for_every_reason():
    limit = message(container_limit(), {})
    assert "You have 3 containers" in limit and "your limit is 3" in limit and "1. " in limit
    busy = message(no_capacity(), {})
    assert "Busy: of 1 MIG instances: 1 full" in busy and "Options:" in busy
    res = message(reserved(), {})
    assert "Device 0 reserved for john_doe until 2025-11-08 00:00 (Thesis deadline" in res
    assert "without --full-gpu" in res


def test_invalid_request_says_why():
    d = World(standard_server(), section2_config()).ask("alice", "bad name")
    assert d.reason == INVALID_REQUEST and headline(d) == INVALID_REQUEST
    assert "container name 'bad name' is not valid" in message(d, {})


def test_custom_no_capacity_template_gets_the_busy_line():
    text = message(no_capacity(), {"no_gpu_available": "All GPUs are busy. Try later."})
    assert text.startswith("All GPUs are busy. Try later.") and "Busy: of 1 MIG" in text


def test_custom_reservation_template():
    tpl = "Reserved by {reserved_user} until {end_time}: {reason}"
    text = message(reserved(), {"reservation_conflict": tpl})
    assert text == ("Reserved by john_doe until 2025-11-08 00:00: "
                    "Thesis deadline - needs dedicated GPU")


@pytest.mark.parametrize("bad", ["You asked {requested", "{max:zz}", 123, None, "}{"])
def test_broken_templates_fall_back_to_the_default(bad):
    d = at_limit()
    assert message(d, {"gpu_limit_exceeded": bad}) == message(d, {})


@pytest.mark.parametrize("tpl, expected", [
    ("{max.__class__}", "{max.__class__}"),
    ("{0} and {}", "{0} and {}"),
    ("{nobody} {max}", "{nobody} 2"),
    ("{max:>3}|{max!r}", "  2|2"),
    ("{{literal}} {current}", "{literal} 1"),
])
def test_templates_cannot_reach_beyond_plain_values(tpl, expected):
    assert message(at_limit(), {"gpu_limit_exceeded": tpl}) == expected


def test_fill_leaves_unknown_placeholders():
    assert fill("{a} {b!s:>2} {c[0]}", {"a": 1, "b": 2}) == "1  2 {c[0]}"


def test_headlines():
    assert headline(no_capacity()) == NO_CAPACITY
    assert headline(reserved()) == f"{RESERVED} (john_doe until 2025-11-08 00:00)"
    assert headline(container_limit()) == "CONTAINER_LIMIT (3/3)"
    w = World(standard_server(), section2_config())
    ok = w.ask("alice", "a")
    assert headline(ok) == "OK (1:0)" and "a gets 1:0" in message(ok, {})
    assert headline(w.ask("alice", "a")) == "OK (1:0, unchanged)"
    assert headline(w.ask("alice", "cpu", cpu_only=True)) == "OK (CPU-only)"


def test_reservation_without_a_reason():
    from ds01.config.model import Override, Reservation

    from .builders import WINDOW_END, WINDOW_START

    config = section2_config()
    res = Reservation("eve", WINDOW_START, WINDOW_END, ("0",))
    config.overrides["eve"] = Override("eve", {}, reservation=res)
    del config.overrides["john_doe"]
    d = World(standard_server(), config).ask("carol", "c", full_gpu=True, now=DURING)
    assert d.reason == RESERVED and "(no reason given)" in message(d, {})


def test_no_whole_gpu_anywhere_wording():
    mig_only = World(inventory(mig(1, 2)), section2_config()).ask("dave", "d", full_gpu=True)
    assert "every GPU is split into MIG instances" in message(mig_only, {})
    empty = World(inventory(), section2_config()).ask("dave", "d")
    assert empty.reason == NO_CAPACITY
    assert "this server has no whole GPUs" in message(empty, {})


def test_every_default_offers_numbered_options():
    for text in DEFAULT_TEMPLATES.values():
        assert "Options:\n1. " in text and "\n2. " in text and "\n3. " in text


def test_whole_gpu_limit_message():
    from .builders import whole

    w = World(inventory(whole(0), whole(1)), section2_config())
    w.ask("alice", "a")
    d = w.ask("alice", "b")
    assert d.reason == USER_AT_LIMIT
    text = message(d, {})
    assert "You requested 1 whole GPU, but your limit (max_full_gpus) is 1." in text
    assert "nothing is left within your limit" in text
