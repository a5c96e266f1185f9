"""Sizes and durations: parsing what people write, and formatting for display."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ds01.config.units import format_duration, format_size, parse_duration, parse_size

K, M, G, T = 1024, 1024**2, 1024**3, 1024**4


@pytest.mark.parametrize(
    "text, expected",
    [
        ("512m", 512 * M),
        ("512M", 512 * M),
        ("32g", 32 * G),
        ("32G", 32 * G),
        ("1T", T),
        ("1t", T),
        ("1.5g", 3 * G // 2),
        ("100k", 100 * K),
        ("32GiB", 32 * G),
        ("32gib", 32 * G),
        ("32gb", 32 * G),
        ("32GB", 32 * G),
        ("2p", 2 * 1024**5),
        ("512b", 512),
        ("512", 512),
        (" 8g ", 8 * G),
        ("0.5k", 512),
        (".5g", G // 2),
        (1024, 1024),
        (0, 0),
    ],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    "bad, words",
    [
        ("", "not a size"),
        ("g", "not a size"),
        ("1.2.3g", "not a size"),
        ("32x", "unknown size unit"),
        ("32 gigs", "unknown size unit"),
        ("-1g", "negative"),
        (-5, "negative"),
        ("1e3", "not a size"),
        ("1_000", "not a size"),
        ("1.5", "whole"),
        (1.5, "got 1.5"),
        (True, "got True"),
        (None, "got None"),
        (["1g"], "got ['1g']"),
        ("nan", "unknown size unit"),
    ],
)
def test_parse_size_refuses(bad, words):
    with pytest.raises(ValueError) as info:
        parse_size(bad)
    assert words in str(info.value)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("30s", 30.0),
        ("30m", 1800.0),
        ("30M", 1800.0),
        ("0.5h", 1800.0),
        ("24h", 86400.0),
        ("2d", 172800.0),
        ("1w", 604800.0),
        ("90", 90.0),
        (90, 90.0),
        (1.5, 1.5),
        (0, 0.0),
        ("0", 0.0),
    ],
)
def test_parse_duration(text, expected):
    value = parse_duration(text)
    assert value == expected and isinstance(value, float)


@pytest.mark.parametrize(
    "bad, words",
    [
        ("", "not a duration"),
        ("h", "not a duration"),
        ("1y", "unknown duration unit"),
        ("1h30m", "not a duration"),
        ("-1h", "negative"),
        (-3, "negative"),
        (float("nan"), "got nan"),
        (float("inf"), "got inf"),
        (True, "got True"),
        (None, "got None"),
        ("soon", "unknown duration unit"),
    ],
)
def test_parse_duration_refuses(bad, words):
    with pytest.raises(ValueError) as info:
        parse_duration(bad)
    assert words in str(info.value)


@pytest.mark.parametrize(
    "value, shown",
    [
        (32 * G, "32g"),
        (512 * M, "512m"),
        (T, "1t"),
        (3 * G // 2, "1536m"),
        (100 * K, "100k"),
        (512, "512"),
        (0, "0"),
        (10**9, "953.7m"),
        (None, "unlimited"),
    ],
)
def test_format_size(value, shown):
    assert format_size(value) == shown


@pytest.mark.parametrize(
    "value, shown",
    [
        (86400, "24h"),
        (172800, "48h"),
        (259200, "3d"),
        (604800, "1w"),
        (3600, "1h"),
        (1800, "30m"),
        (90, "90s"),
        (30, "30s"),
        (0, "0s"),
        (1.5, "1.5s"),
        (None, "never"),
    ],
)
def test_format_duration(value, shown):
    assert format_duration(value) == shown


@given(st.integers(min_value=0, max_value=2**60))
def test_exact_sizes_round_trip(n):
    shown = format_size(n)
    if "." not in shown:
        assert parse_size(shown) == n


@given(st.integers(min_value=0, max_value=10**8))
def test_whole_second_durations_round_trip(n):
    assert parse_duration(format_duration(n)) == n


@given(st.one_of(st.text(max_size=12), st.integers(), st.floats(), st.none(), st.booleans()))
def test_parsers_raise_only_value_error(value):
    for parse in (parse_size, parse_duration):
        try:
            result = parse(value)
        except ValueError:
            continue
        assert result >= 0


def test_units_module_stays_light():
    import subprocess
    import sys

    code = "import sys, ds01.config.units, ds01.config.model; print('yaml' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
