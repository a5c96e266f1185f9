"""The compiled-form cache: a hit gives back exactly what parsing gives; damage is a miss."""

from __future__ import annotations

import marshal
import os
from datetime import datetime, timedelta, timezone

import pytest

from ds01 import cache
from ds01.config.loader import load_config
from ds01.config.model import Config, Override, Reservation
from ds01.hardware.simfile import load_description
from tests.conftest import REPO

CONFIG = REPO / "examples" / "resource-limits.yaml"
SERVER = REPO / "examples" / "note-server.yaml"


class Counting:
    """A loader that counts its calls."""

    def __init__(self, load):
        self.load, self.calls = load, 0

    def __call__(self, path):
        self.calls += 1
        return self.load(path)


@pytest.mark.parametrize("source, load", [(CONFIG, load_config), (SERVER, load_description)])
def test_hit_equals_a_fresh_parse(tmp_path, source, load):
    loader = Counting(load)
    first = cache.load_cached(source, loader, tmp_path, "t")
    again = cache.load_cached(str(source), loader, str(tmp_path), "t")
    assert loader.calls == 1
    assert again == first == load(source)
    assert repr(again) == repr(first)


def test_no_cache_dir_parses_every_time(tmp_path):
    loader = Counting(load_config)
    first = cache.load_cached(CONFIG, loader, None, "t")
    assert cache.load_cached(CONFIG, loader, None, "t") == first == load_config(CONFIG)
    assert loader.calls == 2


def test_datetimes_keep_their_offset_and_name(tmp_path):
    tz = timezone(timedelta(hours=5, minutes=30), "IST")
    when = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=tz)
    res = Reservation("alice", when, when + timedelta(days=1, microseconds=1), ("0", "1:2"))
    value = Config(source="x", overrides={"alice": Override("alice", {"priority": 5},
                                                                reservation=res)},
                   images={"naive": datetime(2026, 1, 1)})  # any mapping value will do
    file = tmp_path / "cache.bin"
    cache._write(str(file), ("k",), value)
    back = cache._read(str(file), ("k",))
    assert back == value
    got = back.overrides["alice"].reservation
    assert got.start.tzinfo.tzname(None) == "IST" and got.start.utcoffset() == tz.utcoffset(None)
    assert back.images["naive"].tzinfo is None


def test_unstorable_values_are_not_cached(tmp_path):
    file = tmp_path / "cache.bin"
    cache._write(str(file), ("k",), Config(source="x", images={"a": {1, 2}}))
    assert not file.exists()


def cached_file(tmp_path) -> str:
    cache.load_cached(CONFIG, load_config, tmp_path, "config")
    (name,) = [n for n in os.listdir(tmp_path) if not n.startswith(".")]
    return str(tmp_path / name)


@pytest.mark.parametrize("damage", [
    lambda data: data[: len(data) // 2],
    lambda data: b"garbage" + data,
    lambda data: b"",
    lambda data: marshal.dumps(("not", "a", "cache", "file")),
    lambda data: data.replace(b"ds01.config.model", b"ds01.config.nosuch"),
    lambda data: data.replace(b"max_mig_instances", b"max_mig_instanceZ"),
])
def test_any_damage_is_a_miss(tmp_path, damage):
    file = cached_file(tmp_path)
    with open(file, "rb") as fh:
        data = fh.read()
    with open(file, "wb") as fh:
        fh.write(damage(data))
    loader = Counting(load_config)
    assert cache.load_cached(CONFIG, loader, tmp_path, "config") == load_config(CONFIG)
    assert loader.calls == 1


def test_a_file_others_could_write_is_not_trusted(tmp_path):
    file = cached_file(tmp_path)
    os.chmod(file, 0o666)
    loader = Counting(load_config)
    cache.load_cached(CONFIG, loader, tmp_path, "config")
    assert loader.calls == 1


def test_a_changed_source_is_a_miss(tmp_path):
    source = tmp_path / "resource-limits.yaml"
    source.write_text(CONFIG.read_text())
    loader = Counting(load_config)
    cache.load_cached(source, loader, tmp_path / "c", "config")
    source.write_text(CONFIG.read_text() + "\n# changed\n")
    cache.load_cached(source, loader, tmp_path / "c", "config")
    assert loader.calls == 2
