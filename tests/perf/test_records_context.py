"""Records build the same instances before and after their ``__init__`` is compiled; the
``Context`` keeps its paths as strings and still hands out ``Path`` objects."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import pytest

from ds01 import records
from ds01.context import Context
from ds01.records import FrozenInstanceError, field, record


def make_class():
    @record
    class Thing:
        a: int
        b: str = "x"
        c: dict = field(default_factory=dict)

        def __post_init__(self):
            object.__setattr__(self, "a", self.a * 1)

    return Thing


CALLS = [((1,), {}), ((1, "y"), {}), ((), {"a": 2, "c": {1: 2}}), ((1,), {"c": [3]}),
         ((1, "z", {}), {})]
BAD = [((), {}), ((1,), {"a": 2}), ((1,), {"z": 3}), ((1, 2, 3, 4), {})]


def outcomes(cls) -> list:
    out = []
    for args, kwargs in CALLS:
        obj = cls(*args, **kwargs)
        out.append((repr(obj), list(obj.__dict__)))
    for args, kwargs in BAD:
        with pytest.raises(TypeError) as info:
            cls(*args, **kwargs)
        out.append(str(info.value))
    return out


def test_generic_and_compiled_init_agree():
    generic = make_class()
    first = outcomes(generic)
    compiled = make_class()
    records._compile_init(compiled)
    assert outcomes(compiled) == first
    for _ in range(records._COMPILE_AFTER + 1):
        generic(1)
    assert generic.__init__.__code__.co_varnames[:4] == ("self", "a", "b", "c")  # compiled
    assert outcomes(generic) == first


def test_a_field_without_default_after_one_with_is_refused():
    with pytest.raises(TypeError, match="'b' without a default"):
        @record
        class Bad:
            a: int = 1
            b: int


def test_context_paths(tmp_path):
    ctx = Context(config_path=tmp_path / "c.yaml", state_dir=f"{tmp_path}//state/",
                  log_dir="log")
    assert ctx.config_path == tmp_path / "c.yaml" and isinstance(ctx.state_dir, Path)
    assert ctx.state_root == str(tmp_path / "state") and ctx.log_root == "log"
    assert ctx.db_path == tmp_path / "state" / "state.db" == Path(ctx.db_file)
    assert ctx.cache_dir == Path(ctx.cache_root) == tmp_path / "state" / "cache"
    assert ctx.allocation_log == Path("log/gpu-allocations.log") == Path(
        ctx.allocation_log_file)
    assert ctx.with_(log_dir=Path("other")).log_dir == Path("other")
    assert ctx.with_(hardware="nvml") != ctx == ctx.with_(env={"X": "1"})
    assert "state" in repr(ctx)
    assert copy.deepcopy(ctx) == ctx == pickle.loads(pickle.dumps(ctx))
    with pytest.raises(FrozenInstanceError):
        ctx.hardware = "nvml"
    with pytest.raises(TypeError):
        ctx.with_(nothing=1)


def test_context_build_defaults_and_environment():
    ctx = Context.build(env={})
    assert ctx.config_path == Path("/etc/ds01/resource-limits.yaml")
    assert ctx.db_path == Path("/var/lib/ds01/state.db") and ctx.hardware == "auto"
    ctx = Context.build(state_dir="/s", env={"DS01_STATE_DIR": "/e", "DS01_LOG_DIR": "/l",
                                             "DS01_NOW": "2026-12-01T09:00:00Z"})
    assert ctx.state_root == "/s" and ctx.log_root == "/l"
    assert ctx.now().isoformat() == "2026-12-01T09:00:00+00:00"
