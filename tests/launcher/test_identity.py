"""Who may do what: real Unix users, sudo, ownership, --user, the image allowlist, --dry-run."""

from __future__ import annotations

import json
import os
import pwd
import shlex
import shutil
import subprocess
import traceback
from pathlib import Path

import pytest

from ds01.cli.identity import SudoError, become_root, caller
from ds01.errors import Refusal

from .conftest import CGROUP_BASE, REPO_ROOT, SESSION, VENV_BIN, unavailable

pytestmark = pytest.mark.docker

SUDOERS = REPO_ROOT / "deploy" / "sudoers.d" / "ds01"


# --------------------------------------------------------------------------- ownership


def test_alice_cannot_see_stop_or_remove_bobs_container(launcher):
    bob = launcher.user("bob")
    made = launcher.container("bob", "run", "private", "busybox", "--cpu-only", "--json")
    assert made.code == 0, made
    bob_id = made.json()["container_id"]

    seen = launcher.process("alice", "list", "--all", "--json")
    assert seen.code == 0 and seen.json() == []
    for verb in ("stop", "rm", "start", "logs", "shell"):
        for ref in (f"ds01.{bob}.private", bob_id[:12]):
            res = launcher.process("alice", verb, ref)
            assert res.code == 1, (verb, ref, res)
            assert "NOT_PERMITTED" in res.err and "is not yours" in res.err
    own_ns = launcher.process("alice", "stop", "private")
    assert own_ns.code == 1 and "you have no container named 'private'" in own_ns.err
    as_json = launcher.container("alice", "rm", f"ds01.{bob}.private", "--json")
    assert as_json.code == 1 and as_json.json()["reason"] == "NOT_PERMITTED"
    assert set(as_json.json()) == {"ok", "reason", "message"}
    assert launcher.inspect("bob", "private")["State"]["Running"]
    assert [r["name"] for r in launcher.container("bob", "list", "--json").json()] == ["private"]


def test_only_administrators_may_pass_user(launcher):
    assert launcher.container("bob", "run", "mine", "busybox", "--cpu-only").code == 0
    for args in (("list", "--user", launcher.user("bob")),
                 ("stop", "mine", "--user", launcher.user("bob")),
                 ("run", "forbob", "busybox", "--cpu-only", "--user", launcher.user("bob"))):
        res = launcher.process("alice", *args)
        assert res.code == 1, (args, res)
        assert "NOT_PERMITTED" in res.err and "only administrators" in res.err
    assert launcher.inspect("bob", "forbob") is None
    assert launcher.container("alice", "list", "--user", launcher.user("alice")).code == 0

    admin_view = launcher.container("admin", "list", "--json", "--user", launcher.user("bob"))
    assert [r["name"] for r in admin_view.json()] == ["mine"]
    assert launcher.container("admin", "stop", "mine", "--user", launcher.user("bob")).code == 0
    assert launcher.container(None, "rm", f"ds01.{launcher.user('bob')}.mine").code == 0  # root
    assert launcher.inspect("bob", "mine") is None


def test_images_outside_the_allowlist_are_refused(launcher):
    res = launcher.process("alice", "run", "x", "ubuntu:24.04")
    assert res.code == 1 and "INVALID_REQUEST" in res.err
    assert "image 'ubuntu:24.04' is not allowed" in res.err and "busybox" in res.err
    raw = launcher.process("admin", "run", "x", "ds01-test/busybox:latest", "--cpu-only")
    assert raw.code == 1 and "allow_raw_images" in raw.err
    launcher.config["containers"]["allow_raw_images"] = True
    launcher.write()
    assert launcher.process("alice", "run", "x", "ds01-test/busybox:latest").code == 1
    ok = launcher.container("admin", "run", "x", "ds01-test/busybox:latest", "--cpu-only")
    assert ok.code == 0, ok
    assert launcher.allocations()[0].meta["image"] == "ds01-test/busybox:latest"


def test_bad_and_taken_names_are_refused(launcher):
    for bad in ("has.dot", "_lead", "a" * 49, "sp ace", "ümlaut"):
        res = launcher.container("alice", "run", bad, "busybox", "--json")
        assert res.code == 1 and res.json()["reason"] == "INVALID_REQUEST", bad
    assert launcher.container("alice", "run", "twice", "busybox", "--cpu-only").code == 0
    again = launcher.process("alice", "run", "twice", "busybox", "--cpu-only")
    assert again.code == 1 and "already have a container named 'twice'" in again.err
    other = launcher.container("bob", "run", "twice", "busybox", "--cpu-only")
    assert other.code == 0, "names are per user"


def test_path_options_are_refused_through_sudo(launcher, tmp_path):
    res = launcher.process("alice", "container", "--config", str(tmp_path / "mine.yaml"),
                           "list", exe="ds01")
    assert res.code == 1 and "NOT_PERMITTED" in res.err and "--config" in res.err


def test_dry_run_prints_the_engine_call_and_changes_nothing(launcher):
    alice = launcher.user("alice")
    before = (launcher.allocations(), len(launcher.events()),
              launcher.engine.list({"ds01.instance": launcher.instance}))
    res = launcher.process("alice", "run", "preview", "busybox", "--dry-run")
    assert res.code == 0, res
    argv = shlex.split(res.out.strip())
    assert argv[:5] == ["docker", "run", "-d", "--name", f"ds01.{alice}.preview"]
    assert argv[-3:] == ["ds01-test/busybox:latest", "sleep", "infinity"]
    pairs = dict(zip(argv, argv[1:]))
    assert pairs["--cgroup-parent"] == f"{CGROUP_BASE}/student/{alice}"
    assert pairs["--memory"] == pairs["--memory-swap"] == str(64 * 1024 * 1024)
    entry = pwd.getpwnam(alice)
    assert pairs["--user"] == f"{entry.pw_uid}:{entry.pw_gid}"
    gpu_env = next(a for a in argv if a.startswith("NVIDIA_VISIBLE_DEVICES="))
    assert gpu_env.split("=", 1)[1].startswith("MIG-")
    assert "--privileged" not in argv and "--gpus" not in argv  # gpu_attach: none
    after = (launcher.allocations(), len(launcher.events()),
             launcher.engine.list({"ds01.instance": launcher.instance}))
    assert after == before
    assert not (launcher.home / alice).exists(), "not even the workspace"
    as_json = launcher.container("alice", "run", "preview", "busybox", "--dry-run", "--json")
    assert as_json.json()["argv"] == argv and launcher.allocations() == []


def test_shell_and_logs_as_the_owner(launcher):
    alice = launcher.user("alice")
    assert launcher.container("alice", "run", "box", "busybox", "--cpu-only").code == 0
    shell = launcher.process("alice", "shell", "box",
                             stdin="id -u; pwd; echo hello-from-shell > /proc/1/fd/1; exit\n")
    assert shell.code == 0, shell
    lines = shell.out.split()
    assert lines[:2] == [str(pwd.getpwnam(alice).pw_uid), "/workspace"]
    workspace = launcher.home / alice / "workspace"
    assert workspace.is_dir() and workspace.stat().st_uid == pwd.getpwnam(alice).pw_uid
    logs = launcher.process("alice", "logs", "box", "--tail", "5")
    assert logs.code == 0 and "hello-from-shell" in logs.out, logs
    assert launcher.container("alice", "stop", "box").code == 0
    closed = launcher.process("alice", "shell", "box")
    assert closed.code == 1 and "is not running" in closed.err


# --------------------------------------------------------------------------- identity


def test_caller_comes_from_sudo_and_never_from_arguments(unix_users):
    entry = pwd.getpwnam(unix_users["alice"])
    who = caller({"SUDO_USER": entry.pw_name, "SUDO_UID": str(entry.pw_uid),
                  "SUDO_GID": str(entry.pw_gid)})
    assert (who.user, who.uid, who.gid, who.via_sudo) == (entry.pw_name, entry.pw_uid,
                                                          entry.pw_gid, True)
    root = caller({})
    assert root.user == "root" and root.is_root and not root.via_sudo
    with pytest.raises(Refusal) as bad:
        caller({"SUDO_USER": entry.pw_name, "SUDO_UID": str(entry.pw_uid + 1)})
    assert bad.value.code == "NOT_PERMITTED"


def run_as_user(name: str, fn) -> tuple[int, str, str]:
    """Run ``fn`` in a forked child that has become ``name``; (exit code, stdout, stderr)."""
    entry = pwd.getpwnam(name)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 99
        try:
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.setgroups([])
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
            code = fn()
        except SudoError as exc:
            os.write(2, f"{exc.code}: {exc.message}\nhint: {exc.hint}\n".encode())
            code = exc.exit_code
        except BaseException:  # noqa: BLE001
            os.write(2, traceback.format_exc().encode())
        finally:
            os._exit(code)
    os.close(out_w)
    os.close(err_w)
    with os.fdopen(out_r) as out, os.fdopen(err_r) as err:
        stdout, stderr = out.read(), err.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), stdout, stderr


def test_non_root_caller_without_sudo_rights_gets_a_clear_error(launcher):
    script = str(VENV_BIN / "container")
    code, out, err = run_as_user(launcher.user("alice"), lambda: become_root([script, "list"]))
    assert code == 3, err
    assert "SUDO_REFUSED" in err and "deploy/sudoers.d/ds01" in err
    assert ("sudo is not installed" in err) or ("does not allow container" in err)


@pytest.fixture
def test_sudoers(launcher):
    """The shipped drop-in, pointed at this virtualenv's scripts and keeping the test's
    DS01_* paths, installed under /etc/sudoers.d for the test only."""
    for tool in ("sudo", "visudo"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is not installed (apt-get install sudo)")
    alias = f"DS01_TEST_{SESSION.upper()}"
    text = SUDOERS.read_text().replace("/usr/local/bin/", f"{VENV_BIN}/")
    text = text.replace("DS01_LAUNCHER", alias)
    text += f'Defaults!{alias} env_keep += "{" ".join(sorted(launcher.env))}"\n'
    candidate = launcher.root / "sudoers-test"
    candidate.write_text(text)
    check = subprocess.run(["visudo", "-cf", str(candidate)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    target = Path("/etc/sudoers.d") / f"ds01-test-{SESSION}"
    shutil.copyfile(candidate, target)
    os.chmod(target, 0o440)
    try:
        yield target
    finally:
        target.unlink()


def test_non_root_caller_runs_through_real_sudo(launcher, test_sudoers):
    alice = launcher.user("alice")
    assert launcher.container("alice", "run", "viasudo", "busybox", "--cpu-only").code == 0
    assert launcher.container("bob", "run", "notyours", "busybox", "--cpu-only").code == 0
    script = str(VENV_BIN / "container")

    code, out, err = run_as_user(alice, lambda: become_root([script, "list", "--json"]))
    assert code == 0, err
    assert [(r["name"], r["user"]) for r in json.loads(out)] == [("viasudo", alice)]
    code, out, err = run_as_user(
        alice, lambda: become_root([script, "stop", "notyours", "--user", launcher.user("bob")]))
    assert code == 1 and "only administrators" in err
    assert launcher.inspect("bob", "notyours")["State"]["Running"]


def test_shipped_sudoers_drop_in_is_valid():
    visudo = shutil.which("visudo")
    if visudo is None:
        unavailable("visudo is not installed (apt-get install sudo)")
    res = subprocess.run([visudo, "-cf", str(SUDOERS)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    text = SUDOERS.read_text()
    assert 'env_keep = "NO_COLOR TERM"' in text and "NOPASSWD" in text


def test_gpu_status_through_real_sudo_shows_the_callers_view(launcher, test_sudoers):
    alice, bob = launcher.user("alice"), launcher.user("bob")
    assert launcher.container("alice", "run", "mine1", "busybox", "--cpu-only").code == 0
    script = str(VENV_BIN / "ds01-gpu-status")
    code, out, err = run_as_user(alice, lambda: become_root([script, "--mine", "--json"]))
    assert code == 0, err
    data = json.loads(out)
    assert data["mine"]["user"] == alice
    code, out, err = run_as_user(alice, lambda: become_root([script, "--user", bob]))
    assert code == 1 and "only administrators" in err
