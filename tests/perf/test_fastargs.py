"""The argparse-free reading of ``ds01 gpu allocate|release`` matches argparse exactly."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ds01.cli import gpu_cmd
from ds01.cli.fastargs import parse_fast
from ds01.cli.main import build_parser


def reference(argv: list[str]) -> dict | None:
    """What argparse makes of ``argv`` (None when it refuses it)."""
    try:
        return vars(build_parser(argv).parse_args(argv))
    except SystemExit:
        return None


PLAIN = [
    ["gpu", "allocate", "alice", "t1"],
    ["gpu", "allocate", "alice", "t1", "--json"],
    ["gpu", "allocate", "alice", "t1", "--gpus", "2", "--full-gpu"],
    ["gpu", "allocate", "--cpu-only", "alice", "--gpus=3", "t1", "--json", "--json"],
    ["--state-dir", "/tmp/s", "gpu", "--config", "c.yaml", "allocate", "alice", "t1",
     "--log-dir=/tmp/l", "--hardware", "builtin:note-server", "--config", "other.yaml"],
    ["gpu", "release", "t1"],
    ["gpu", "release", "--json", "t1", "--state-dir", "/x y/z"],
    ["gpu", "allocate", "", "t1"],
    ["gpu", "allocate", "gpu", "allocate", "--gpus", " 7 "],
]


@pytest.mark.parametrize("argv", PLAIN, ids=" ".join)
def test_plain_forms_are_read_as_argparse_reads_them(argv):
    fast = parse_fast(argv)
    assert fast is not None
    assert vars(fast) == reference(argv)
    want = gpu_cmd.cmd_allocate if argv.count("allocate") else gpu_cmd.cmd_release
    assert fast.handler is want


OTHERS = [
    [], ["gpu"], ["gpu", "status"], ["gpu", "allocate", "alice"], ["gpu", "release"],
    ["gpu", "allocate", "alice", "t1", "extra"], ["gpu", "release", "t1", "--gpus", "2"],
    ["gpu", "allocate", "alice", "t1", "--gpu", "2"], ["gpu", "allocate", "alice", "t1", "-h"],
    ["gpu", "allocate", "alice", "t1", "--gpus", "-1"], ["gpu", "allocate", "alice", "t1",
                                                         "--gpus", "two"],
    ["gpu", "allocate", "alice", "t1", "--json=yes"], ["--json", "gpu", "release", "t1"],
    ["gpu", "--gpus", "2", "allocate", "alice", "t1"], ["gpu", "allocate", "-x", "t1"],
    ["gpu", "allocate", "alice", "t1", "--config"], ["gpu", "release", "t1", "--config="],
    ["gpu", "release", "--", "t1"], ["limits", "alice"], ["gpu", "allocate", "alice", "t1",
                                                          "--state-dir", "--json"],
]


@pytest.mark.parametrize("argv", OTHERS, ids=lambda a: " ".join(a) or "nothing")
def test_everything_else_is_left_to_argparse(argv):
    assert parse_fast(argv) is None


TOKENS = ["gpu", "allocate", "release", "alice", "t1", "", "--json", "--gpus", "2", "--gpus=1",
          "-1", "x", "--full-gpu", "--cpu-only", "--config", "c.yaml", "--state-dir=/s",
          "--log-dir", "--hardware", "--", "-h", "--gp", "status"]


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=9))
def test_never_disagrees_with_argparse(argv):
    fast = parse_fast(argv)
    if fast is not None:
        assert vars(fast) == reference(argv)


def test_all_orders_of_a_full_allocate():
    parts = [["--gpus", "2"], ["--full-gpu"], ["--json"], ["--config", "c.yaml"]]
    for order in itertools.permutations(parts):
        argv = ["gpu", "allocate", "alice", "t1", *itertools.chain(*order)]
        fast = parse_fast(argv)
        assert fast is not None and vars(fast) == reference(argv)
