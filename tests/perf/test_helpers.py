"""The string-based stand-ins used on the start-up path say exactly what the stdlib says:
paths as ``pathlib`` spells them, JSON as ``json`` writes and reads it, names as the
regular expressions accept them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ds01 import pathstr
from ds01.policy.allocate import CONTAINER_NAME, USER_NAME
from ds01.state import jsontext

SEGMENTS = st.sampled_from(["", ".", "..", "a", "b c", "x.y", "-", "é", "\0"])


@st.composite
def path_texts(draw):
    lead = draw(st.sampled_from(["", "/", "//", "///", "./"]))
    return lead + "/".join(draw(st.lists(SEGMENTS, max_size=4))) + draw(
        st.sampled_from(["", "/", "/.", "//"]))


@settings(max_examples=800, deadline=None)
@given(path_texts())
def test_paths_are_spelled_as_pathlib_spells_them(text):
    path = Path(text)
    norm = pathstr.pathstr(text)
    assert norm == str(path)
    assert pathstr.pathstr(path) == str(path)
    assert pathstr.parent(norm) == str(path.parent)
    assert pathstr.name(norm) == path.name
    assert pathstr.join(norm, "state.db") == str(path / "state.db")


def test_exists_and_is_dir_answer_as_pathlib(tmp_path):
    (tmp_path / "f").write_text("x")
    for p in (tmp_path, tmp_path / "f", tmp_path / "none", tmp_path / "f" / "below",
              Path("bad\0name")):
        assert pathstr.exists(str(p)) == p.exists()
        assert pathstr.is_dir(str(p)) == p.is_dir()


TEXT = st.text(st.sampled_from('ab:-_ é"\\\n\t\x7f'), max_size=6)
FLAT = st.one_of(TEXT, st.integers(-10**20, 10**20), st.booleans(), st.none(),
                 st.floats(allow_nan=True, allow_infinity=True))


@settings(max_examples=800, deadline=None)
@given(st.lists(TEXT, max_size=5), st.dictionaries(TEXT, FLAT | st.lists(FLAT), max_size=5))
def test_json_text_is_what_json_writes_and_reads(items, mapping):
    text = jsontext.dumps_list(items)
    assert text == json.dumps(items)
    assert jsontext.loads(text) == json.loads(text) == items
    text = jsontext.dumps_mapping(mapping)
    assert text == json.dumps(mapping, sort_keys=True)
    assert repr(jsontext.loads(text)) == repr(json.loads(text))


@settings(max_examples=800)
@given(st.text(max_size=12) | st.text(st.sampled_from('[]{}", \\a:é\n'), max_size=12))
def test_json_text_reads_any_text_as_json_does(text):
    try:
        want = json.loads(text)
    except ValueError as exc:
        want = type(exc)
    try:
        got = jsontext.loads(text)
    except ValueError as exc:
        got = type(exc)
    assert repr(got) == repr(want)


NAME_CHARS = st.sampled_from("aZ_0.-9 é\n$")


@settings(max_examples=800)
@given(st.text(NAME_CHARS, max_size=3) | st.text(NAME_CHARS, min_size=30, max_size=130))
def test_name_rules_accept_what_the_patterns_match(text):
    for rule in (USER_NAME, CONTAINER_NAME):
        assert rule.accepts(text) == bool(re.fullmatch(rule.pattern, text))
        assert bool(rule.fullmatch(text)) == rule.accepts(text)  # the re methods still work
