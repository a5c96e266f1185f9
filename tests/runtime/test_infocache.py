"""The engine's facts kept between processes (``ds01.runtime.infocache``).

Against a scripted engine on a real unix socket that counts what it is asked, and against the
real engine.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ds01.runtime import Engine
from ds01.runtime.infocache import FILE_NAME, MAX_AGE_S, cached_info

from .peer import JSON, http, peer  # noqa: F401  (peer: the fixture)

INFO = {"ServerVersion": "20.10.24", "CgroupDriver": "systemd", "CgroupVersion": "2",
        "NCPU": 96, "MemTotal": 1 << 40, "Runtimes": {"runc": {}, "nvidia": {}},
        "DefaultRuntime": "runc"}


def answers(n: int) -> list:
    return [(http("200 OK", json.dumps(INFO).encode(), JSON), False)] * n


def asked(p) -> int:
    return sum(r.startswith(b"GET /v1.41/info ") for r in p.requests)


def test_second_process_reads_the_kept_answer(peer, tmp_path):
    path, p = peer(answers(3))
    cache = tmp_path / "cache"
    first = cached_info(Engine(path), cache)
    assert (first.cgroup_driver, first.cgroup_version, first.ncpu) == ("systemd", "2", 96)
    assert first.has_nvidia_runtime and asked(p) == 1
    kept = cache / FILE_NAME
    assert kept.stat().st_mode & 0o777 == 0o644
    second = cached_info(Engine(path), cache)  # a new client, as in the next command
    assert asked(p) == 1, "answered from the cache"
    assert (second.server_version, second.cgroup_driver, second.cgroup_version, second.ncpu,
            second.mem_total, second.runtimes, second.default_runtime) == (
        first.server_version, first.cgroup_driver, first.cgroup_version, first.ncpu,
        first.mem_total, first.runtimes, first.default_runtime)


def test_old_answers_are_asked_again(peer, tmp_path):
    path, p = peer(answers(3))
    cached_info(Engine(path), tmp_path, now=1000.0)
    cached_info(Engine(path), tmp_path, now=1000.0 + MAX_AGE_S - 1)
    assert asked(p) == 1
    cached_info(Engine(path), tmp_path, now=1000.0 + MAX_AGE_S + 1)
    assert asked(p) == 2
    cached_info(Engine(path), tmp_path, now=10.0)  # the clock went back: not trusted
    assert asked(p) == 3


def test_a_restarted_engine_is_asked_again(peer, tmp_path):
    path, p = peer(answers(1))
    cached_info(Engine(path), tmp_path)
    p.close()
    os.unlink(path)  # the engine stops; a new one binds a new socket at the same path
    path2, p2 = peer(answers(1))
    os.replace(path2, path)
    again = cached_info(Engine(path), tmp_path)
    assert asked(p2) == 1 and again.ncpu == 96


@pytest.mark.parametrize("damage", ["garbage", "writable", "other-key", "missing-field"])
def test_damaged_or_untrusted_files_are_not_used(peer, tmp_path, damage):
    path, p = peer(answers(2))
    cached_info(Engine(path), tmp_path)
    kept = tmp_path / FILE_NAME
    data = json.loads(kept.read_text())
    if damage == "garbage":
        kept.write_text("{not json")
    elif damage == "writable":
        kept.chmod(0o666)
    elif damage == "other-key":
        kept.write_text(json.dumps({**data, "key": data["key"][:-1] + [12345]}))
    else:
        del data["ncpu"]
        kept.write_text(json.dumps(data))
    assert cached_info(Engine(path), tmp_path).ncpu == 96
    assert asked(p) == 2


def test_unwritable_cache_still_answers(peer, tmp_path):
    path, p = peer(answers(2))
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    assert cached_info(Engine(path), blocked / "cache").ncpu == 96
    assert cached_info(Engine(path), None).ncpu == 96
    assert asked(p) == 2


def test_engine_down_is_not_hidden_by_the_cache(tmp_path):
    from ds01.runtime import EngineUnreachable

    with pytest.raises(EngineUnreachable):
        cached_info(Engine(str(tmp_path / "absent.sock")), tmp_path)
    assert not (tmp_path / FILE_NAME).exists()


@pytest.mark.docker
def test_real_engine_answer_is_kept_as_it_is(docker_ready, tmp_path):  # noqa: F811
    with Engine() as engine:
        live = engine.info()
        first = cached_info(engine, Path(tmp_path))
        second = cached_info(engine, Path(tmp_path))
    for info in (first, second):
        assert (info.cgroup_driver, info.cgroup_version, info.ncpu, info.runtimes) == (
            live.cgroup_driver, live.cgroup_version, live.ncpu, live.runtimes)
