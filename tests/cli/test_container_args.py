"""``container run`` read without argparse (``ds01.cli.runargs``) agrees with argparse exactly;
and the ``container`` parser built for one command says the same as the full one."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ds01.cli import container_cmd
from ds01.cli.runargs import parse_run


def handler(args):  # stands for the guarded cmd_run
    return 0


def reference(argv: list[str]) -> dict | None:
    """What argparse makes of ``argv`` (None when it refuses it); handler left out."""
    try:
        got = vars(container_cmd.build_parser(argv).parse_args(argv))
    except SystemExit:
        return None
    got.pop("handler", None)
    return got


def fast(argv: list[str]) -> dict | None:
    got = parse_run(argv, handler)
    if got is None:
        return None
    got = vars(got)
    assert got.pop("handler") is handler
    return got


PLAIN = [
    ["run", "training1", "pytorch"],
    ["run", "training1", "pytorch", "--json"],
    ["run", "--cpu-only", "a", "b", "--json", "--json"],
    ["run", "a", "--gpus", "2", "b", "--full-gpu", "--dry-run"],
    ["run", "a", "b", "--gpus=3", "--gpus", "1", "--user", "bob", "--user=carol"],
    ["run", "", "b"],
    ["run", "run", "run"],
    ["run", "a", "b", "--gpus", "007"],
]


@pytest.mark.parametrize("argv", PLAIN, ids=" ".join)
def test_plain_forms_are_read_as_argparse_reads_them(argv):
    got = fast(argv)
    assert got is not None and got == reference(argv)


OTHERS = [
    [], ["run"], ["run", "a"], ["run", "a", "b", "c"], ["list"], ["stop", "a"],
    ["run", "a", "b", "-h"], ["run", "a", "b", "--help"], ["run", "a", "b", "--cpu"],
    ["run", "a", "b", "--gpus", "-1"], ["run", "a", "b", "--gpus", "two"],
    ["run", "a", "b", "--gpus", "+1"], ["run", "a", "b", "--gpus", " 1"],
    ["run", "a", "b", "--gpus"], ["run", "a", "b", "--user"], ["run", "a", "b", "--user="],
    ["run", "a", "b", "--user", "--json"], ["run", "a", "b", "--user=-x"],
    ["run", "--", "a", "b"], ["run", "-1", "b"], ["run", "a", "b", "--json=yes"],
    ["run", "a", "b", "-"], ["run", "a", "b", "--gpus", "１"],
]


@pytest.mark.parametrize("argv", OTHERS, ids=lambda a: " ".join(a) or "nothing")
def test_everything_else_is_left_to_argparse(argv):
    assert parse_run(argv, handler) is None


TOKENS = ["run", "list", "a", "b", "", "--json", "--gpus", "2", "--gpus=1", "--gpus=", "-1",
          "x y", "--full-gpu", "--cpu-only", "--dry-run", "--user", "bob", "--user=eve", "--",
          "-h", "--gp", "--cpu", "٣"]


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=9))
def test_never_disagrees_with_argparse(argv):
    got = fast(argv)
    if got is not None:
        assert got == reference(argv)


def test_all_orders_of_a_full_run():
    parts = [["--gpus", "2"], ["--full-gpu"], ["--json"], ["--user", "bob"], ["NAME"],
             ["IMAGE"]]
    for order in itertools.permutations(parts):
        argv = ["run", *itertools.chain(*order)]
        got = fast(argv)
        assert got is not None and got == reference(argv)


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["stop"], ["bogus"], [],
                                  ["logs", "--help"], ["run", "a"], ["shell", "-h"]])
def test_parser_for_one_command_says_what_the_full_one_says(argv, capsys):
    import argparse

    def said(parser: argparse.ArgumentParser) -> tuple:
        try:
            parser.parse_args(argv)
            code = None
        except SystemExit as exc:
            code = exc.code
        out = capsys.readouterr()
        return code, out.out, out.err

    full = container_cmd.build_parser()
    assert said(container_cmd.build_parser(argv)) == said(full)
