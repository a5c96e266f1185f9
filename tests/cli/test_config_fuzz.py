"""Whatever the policy file holds, `ds01 config check` answers exit 0 or exit 2 with
FILE:LINE lines: never a traceback."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

KEYS = ["defaults", "groups", "user_overrides", "gpu", "wizard", "default_group", "images",
        "containers", "priority", "max_mig_instances", "memory", "members", "reserved_gpus",
        "reservation_start", "idle_timeout", "units_per_gpu", "student", "alice", "admin"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["32g", "0.5h", "2:1", "-1", "1T",
                                                           "2025-11-01T00:00:00", "yes"]))
TREES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)), max_leaves=20)


def _check(ds01, text: str) -> None:
    ds01.write_config(text)
    res = ds01.cli("config", "check")
    assert res.code in (0, 2), res
    assert "Traceback" not in res.err
    if res.code == 2:
        assert res.err.strip(), "a refusal must say why"
        first = res.err.splitlines()[0]
        assert first.startswith(str(ds01.config)), first


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=st.dictionaries(st.sampled_from(KEYS), TREES, max_size=6))
def test_random_structures(ds01, tree):
    _check(ds01, yaml.safe_dump(tree, default_flow_style=False))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from(list("ab:- \n\t[]{},'\"&*!#%|>2g0")), max_size=80))
def test_random_text(ds01, text):
    _check(ds01, text)


def test_malformed_yaml_as_a_process(ds01):
    ds01.write_config("defaults:\n  priority: [1, 2\n")
    res = ds01.process("config", "check")
    assert res.code == 2 and "Traceback" not in res.err
    assert f"{ds01.config}:" in res.err
