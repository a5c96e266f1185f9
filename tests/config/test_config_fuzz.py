"""Whatever the file holds, the loader answers with a Config or a ConfigError, nothing else."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ds01.config.loader import TOP_KEYS, load_config, parse_config
from ds01.config.model import ERROR_MESSAGE_FIELDS, LIMIT_KEYS, Config
from ds01.config.sections import AGGREGATE_KEYS, CONTAINER_KEYS
from ds01.errors import ConfigError
from ds01.yamlpos import plain, parse_yaml

EXAMPLE = Path(__file__).resolve().parents[2] / "src" / "ds01" / "data" / "resource-limits.yaml"
KNOWN = sorted(
    set(TOP_KEYS) | set(LIMIT_KEYS) | set(ERROR_MESSAGE_FIELDS) | set(AGGREGATE_KEYS)
    | set(CONTAINER_KEYS)
    | {"members", "unix_groups", "admin", "aggregate", "prefer_full_gpu", "reservation_start",
       "reservation_end", "reserved_gpus", "reason", "error_messages", "units_per_gpu",
       "per_user_metrics", "student", "alice", "/home/{user}/workspace"}
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["32g", "1.5g", "24h", "0.5h", "2:1", "0", "gpus", "none", "/ds01",
                     "2025-11-01T00:00:00", "2025-11-08T00:00:00+01:00", "{max}", "{x}", "{",
                     "nvcr.io/nvidia/pytorch:24.10-py3", "student", "yes", "null", ""]),
)
keys = st.one_of(st.sampled_from(KNOWN), st.text(max_size=12))
trees = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(keys, inner, max_size=5),
    ),
    max_leaves=30,
)
documents = st.dictionaries(st.sampled_from(KNOWN), trees, max_size=8)


def outcome(text: str) -> Config | ConfigError:
    try:
        result = parse_config(text, "fuzz.yaml")
    except ConfigError as err:
        assert err.problems, "a ConfigError must list its problems"
        for p in err.problems:
            assert p.file == "fuzz.yaml" and p.message
            breaks = sum(text.count(c) for c in "\n\r\x85\u2028\u2029")  # YAML line breaks
            assert p.line is None or 1 <= p.line <= breaks + 2
        return err
    assert isinstance(result, Config)
    for user in ("alice", "dave", "nobody"):
        result.effective(user, ["ds01-students"])  # a valid config answers for anyone
    return result


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
@example("a: [")
@example("\x00")
@example("? [a]\n: 1\n")
@example("defaults: &a {x: 1}\ngroups: *a\n")
@example("- 1\n- 2\n")
@example("'unterminated")
def test_random_text(text):
    outcome(text)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=":-[]{}#&*!|>'\"%@` \n\t,?abc01", max_size=120))
def test_yaml_punctuation_soup(text):
    outcome(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees)
def test_random_structures(tree):
    outcome(yaml.safe_dump(tree, allow_unicode=True))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_random_documents_with_known_sections(doc):
    outcome(yaml.safe_dump(doc, allow_unicode=True, default_flow_style=False))


def _paths(tree, prefix=()):
    yield prefix
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from _paths(v, prefix + (i,))


BASE = plain(parse_yaml(EXAMPLE.read_text(), "example"))
BASE_PATHS = [p for p in _paths(BASE) if p]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(BASE_PATHS), trees), min_size=1, max_size=3))
def test_mutated_example(changes):
    import copy

    doc = copy.deepcopy(BASE)
    for path, value in changes:
        node = doc
        try:
            for step in path[:-1]:
                node = node[step]
            node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change replaced this part
    outcome(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_in_a_file(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "c.yaml"
    path.write_bytes(data)
    try:
        assert isinstance(load_config(path), Config)
    except ConfigError as err:
        assert err.problems and all(p.file == str(path) for p in err.problems)
