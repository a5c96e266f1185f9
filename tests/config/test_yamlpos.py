"""YAML with positions: core-schema scalars, line numbers, and what is refused."""

from __future__ import annotations

import math

import pytest

from ds01.errors import ConfigError
from ds01.yamlpos import Node, parse_yaml, plain


def one_problem(text: str):
    with pytest.raises(ConfigError) as info:
        parse_yaml(text, "f.yaml")
    assert len(info.value.problems) == 1
    return info.value.problems[0]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2:1", "2:1"),  # YAML 1.1 would say 121
        ("10:30:00", "10:30:00"),
        ("2025-11-01T00:00:00", "2025-11-01T00:00:00"),
        ("2025-11-01", "2025-11-01"),
        ("yes", "yes"),
        ("no", "no"),
        ("on", "on"),
        ("off", "off"),
        ("y", "y"),
        ("1_000", "1_000"),
        ("0b101", "0b101"),
        ("32g", "32g"),
        ("null", None),
        ("Null", None),
        ("~", None),
        ("", None),
        ("true", True),
        ("True", True),
        ("FALSE", False),
        ("0", 0),
        ("-7", -7),
        ("+3", 3),
        ("0x1F", 31),
        ("0o17", 15),
        ("1.5", 1.5),
        (".5", 0.5),
        ("1e3", 1000.0),
        ("-2.5E-1", -0.25),
        ("1.", 1.0),
    ],
)
def test_plain_scalars_follow_the_core_schema(text, expected):
    value = plain(parse_yaml(f"k: {text}\n", "f.yaml"))["k"]
    assert value == expected
    assert type(value) is type(expected)


def test_infinity_and_nan_are_floats():
    doc = plain(parse_yaml("a: .inf\nb: -.Inf\nc: .nan\n", "f.yaml"))
    assert doc["a"] == math.inf and doc["b"] == -math.inf and math.isnan(doc["c"])


@pytest.mark.parametrize("text", ['"12"', "'true'", '"null"', '""', "'2:1'"])
def test_quoted_scalars_are_always_strings(text):
    value = plain(parse_yaml(f"k: {text}\n", "f.yaml"))["k"]
    assert isinstance(value, str) and value == text[1:-1]


def test_block_scalars_are_strings():
    assert plain(parse_yaml("k: |\n  42\n", "f.yaml")) == {"k": "42\n"}


def test_lines_are_one_based_and_keys_remember_their_line():
    text = "top:\n  a: 1\n  b:\n    - x\n    - 2\n  c:\n"
    root = parse_yaml(text, "f.yaml")
    top = root.value["top"]
    assert top.key_line == 1 and top.line == 2
    assert top.value["a"] == Node(1, 2, 2)
    b = top.value["b"]
    assert (b.key_line, b.line) == (3, 4)
    assert [(n.value, n.line, n.key_line) for n in b.value] == [("x", 4, None), (2, 5, None)]
    assert top.value["c"].value is None and top.value["c"].where == 6
    assert plain(root) == {"top": {"a": 1, "b": ["x", 2], "c": None}}


def test_mapping_order_is_kept():
    assert list(plain(parse_yaml("z: 1\na: 2\nm: 3\n", "f.yaml"))) == ["z", "a", "m"]


def test_empty_document_is_null_at_line_one():
    assert parse_yaml("", "f.yaml") == Node(None, 1)
    assert parse_yaml("# only a comment\n", "f.yaml") == Node(None, 1)


def test_top_level_scalar_and_list():
    assert plain(parse_yaml("hello\n", "f.yaml")) == "hello"
    assert plain(parse_yaml("[1, a]\n", "f.yaml")) == [1, "a"]


def test_duplicate_keys_are_refused_with_both_lines():
    p = one_problem("a: 1\nb: 2\na: 3\n")
    assert (p.file, p.line) == ("f.yaml", 3)
    assert "duplicate key 'a'" in p.message and "line 1" in p.message


def test_duplicate_keys_in_nested_mapping():
    p = one_problem("g:\n  x: 1\n  x: 2\n")
    assert p.line == 3 and "duplicate key 'x'" in p.message


@pytest.mark.parametrize("text", ["1: a\n", "true: a\n", "null: a\n", "~: a\n", "1.5: a\n"])
def test_non_string_keys_are_refused(text):
    p = one_problem(text)
    assert p.line == 1 and "not a string" in p.message


def test_quoted_number_key_is_fine():
    assert plain(parse_yaml('"1": a\n', "f.yaml")) == {"1": "a"}


def test_collection_keys_are_refused():
    p = one_problem("? [a, b]\n: 1\n")
    assert "mapping key" in p.message


@pytest.mark.parametrize(
    "text, word",
    [
        ("a: &x 1\nb: 2\n", "anchors"),
        ("a: !!str 1\n", "tags"),
        ("a: !custom 1\n", "tags"),
        ("---\na: 1\n---\nb: 2\n", "one YAML document"),
    ],
)
def test_unsupported_features_are_refused(text, word):
    assert word in one_problem(text).message


def test_alias_is_refused():
    # an alias needs an anchor, which is refused first; both lead to one clear problem
    p = one_problem("a: &x 1\nb: *x\n")
    assert p.line == 1 and "not supported" in p.message


def test_malformed_yaml_names_the_line():
    p = one_problem("a: 1\nb: [1, 2\nc: 3\n")
    assert p.file == "f.yaml" and p.line is not None and p.line >= 2
    assert p.message.startswith("not valid YAML")


def test_control_characters_are_reported_with_a_line():
    p = one_problem("a: 1\nb: \x07\n")
    assert p.line == 2 and "not valid YAML" in p.message


def test_very_deep_nesting_is_refused():
    p = one_problem("[" * 200 + "]" * 200)
    assert "deeper" in p.message


def test_plain_strips_lists_and_dicts_of_nodes():
    assert plain([Node(1, 1), {"a": Node("b", 2)}]) == [1, {"a": "b"}]
    assert plain(3) == 3


def test_pure_python_parser_gives_the_same_tree(monkeypatch):
    import yaml

    text = "a: 2:1\nb:\n  - 0x10\n  - 'q'\nc: {d: .5, e: ~}\n"
    with_c = parse_yaml(text, "f.yaml")
    monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    assert parse_yaml(text, "f.yaml") == with_c
    assert one_problem("a: 1\na: 2\n").line == 2


def test_parse_yaml_does_not_load_yaml_at_import():
    import subprocess
    import sys

    code = "import sys, ds01.yamlpos; print('yaml' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
