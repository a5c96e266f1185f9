"""``ds01 setup dirs``: the log/state layout and the /opt/ds01-infra/logs link under a tmp root."""

from __future__ import annotations

import os
import stat

import pytest

LAYOUT = ("--log-dir", "/var/log/ds01", "--state-dir", "/var/lib/ds01")


@pytest.fixture
def root(tmp_path):
    path = tmp_path / "root"
    path.mkdir()
    return path


def setup(ds01, root, *extra: str):
    return ds01.cli("setup", "dirs", "--root", str(root), *LAYOUT, *extra)


def test_creates_the_layout_and_the_link(ds01, root):
    res = setup(ds01, root, "--json")
    assert res.code == 0, res.err
    steps = {(s["action"], s["path"]) for s in res.json()["steps"]}
    for sub in ("", "/metrics", "/reports", "/audits"):
        path = root / f"var/log/ds01{sub}"
        assert path.is_dir() and stat.S_IMODE(path.stat().st_mode) == 0o755
        assert ("created", f"/var/log/ds01{sub}") in steps
    assert (root / "var/lib/ds01").is_dir() and ("created", "/var/lib/ds01") in steps
    link = root / "opt/ds01-infra/logs"
    assert link.is_symlink() and os.readlink(link) == "/var/log/ds01"
    assert ("linked", "/opt/ds01-infra/logs") in steps


def test_running_again_changes_nothing(ds01, root):
    assert setup(ds01, root).code == 0
    (root / "var/log/ds01/metrics/2026-12-01.jsonl").write_text("{}\n")
    res = setup(ds01, root)
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    assert lines[0] == f"(under {root})"
    assert all(line.split()[0] in ("exists", "ok") for line in lines[1:]), res.out
    assert "ok       /opt/ds01-infra/logs -> /var/log/ds01" in lines
    assert (root / "var/log/ds01/metrics/2026-12-01.jsonl").read_text() == "{}\n"


def test_a_link_pointing_elsewhere_is_corrected(ds01, root):
    (root / "opt/ds01-infra").mkdir(parents=True)
    os.symlink("/somewhere/else", root / "opt/ds01-infra/logs")
    res = setup(ds01, root)
    assert res.code == 0, res.err
    assert os.readlink(root / "opt/ds01-infra/logs") == "/var/log/ds01"
    assert "relinked /opt/ds01-infra/logs -> /var/log/ds01 (was -> /somewhere/else)" in res.out


@pytest.mark.parametrize("kind", ["file", "directory"])
def test_refuses_to_replace_what_is_not_a_link(ds01, root, kind):
    place = root / "opt/ds01-infra/logs"
    place.parent.mkdir(parents=True)
    if kind == "file":
        place.write_text("old notes\n")
    else:
        place.mkdir()
        (place / "keep.txt").write_text("keep me\n")
    res = setup(ds01, root)
    assert res.code == 2
    assert f"{place} is a {kind}, not a link" in res.err and "hint: move" in res.err
    assert not place.is_symlink()
    if kind == "file":
        assert place.read_text() == "old notes\n"
    else:
        assert (place / "keep.txt").read_text() == "keep me\n"


def test_uses_the_configured_directories(ds01, root):
    res = ds01.cli("setup", "dirs", "--root", str(root), "--log-dir", "/srv/ds01/logs",
                   "--state-dir", "/srv/ds01/state")
    assert res.code == 0, res.err
    assert (root / "srv/ds01/logs/reports").is_dir() and (root / "srv/ds01/state").is_dir()
    assert os.readlink(root / "opt/ds01-infra/logs") == "/srv/ds01/logs"


def test_missing_root_is_a_usage_error(ds01, tmp_path):
    res = setup(ds01, tmp_path / "nowhere")
    assert res.code == 2 and "is not a directory" in res.err
