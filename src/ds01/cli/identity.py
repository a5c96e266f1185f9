"""Who is calling. The acting user is the caller, never an argument.

ds01 manages containers and cgroups as root, so a non-root caller is re-run through
``sudo -n`` (the drop-in ``deploy/sudoers.d/ds01`` allows it without a password). Under sudo
the caller is ``SUDO_USER``/``SUDO_UID``/``SUDO_GID``, which sudo sets and a user cannot choose;
root without ``SUDO_USER`` is root, an administrator. Only administrators (a config group with
``admin: true``, or root) may act for someone else with ``--user``.
"""

from __future__ import annotations

import os
import pwd
import sys
from ds01.records import record

from ds01.errors import Ds01Error, Refusal

SUDO_HINT = (
    "an administrator must install sudo and ds01's sudoers drop-in: copy deploy/sudoers.d/ds01 "
    "to /etc/sudoers.d/ds01 (mode 0440), adjust the paths in it to where the `container` and "
    "`ds01` scripts are installed, and check it with `visudo -cf /etc/sudoers.d/ds01`"
)
PATH_OPTIONS = ("config", "state_dir", "log_dir", "hardware")


class SudoError(Ds01Error):
    """This machine is not set up to let users run ds01 as root."""

    code = "SUDO_REFUSED"


@record
class Caller:
    """The person behind this process."""

    user: str
    uid: int
    gid: int
    via_sudo: bool = False

    @property
    def is_root(self) -> bool:
        return self.uid == 0


def script_path(argv0: str) -> str:
    """The absolute path of the running script, as sudoers names it."""
    if os.sep in argv0:
        return os.path.abspath(argv0)
    import shutil

    return shutil.which(argv0) or os.path.abspath(argv0)


def become_root(argv: list[str] | None = None) -> None:
    """Re-run this command through ``sudo -n`` unless already root (does not return then)."""
    if os.geteuid() == 0:
        return
    import shutil
    import subprocess

    argv = list(sys.argv if argv is None else argv)
    command = [script_path(argv[0]), *argv[1:]]
    if shutil.which("sudo") is None:
        raise SudoError("ds01 needs root to manage containers, and sudo is not installed here",
                        hint=SUDO_HINT)
    probe = subprocess.run(["sudo", "-n", "-l", "--", *command], capture_output=True,
                           text=True)
    if probe.returncode != 0:
        said = (probe.stderr or probe.stdout).strip().splitlines()
        raise SudoError(
            "ds01 needs root to manage containers, and sudo does not allow "
            f"{os.path.basename(command[0])} for you without a password"
            + (f" (sudo said: {said[-1]})" if said else ""),
            hint=SUDO_HINT)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp("sudo", ["sudo", "-n", "--", *command])


def caller(env: dict | None = None) -> Caller:
    """The caller: ``SUDO_*`` under sudo, otherwise the process's own user."""
    env = os.environ if env is None else env
    uid = os.geteuid()
    sudo_user = env.get("SUDO_USER") or ""
    if uid != 0 or not sudo_user or sudo_user == "root":
        return _own(uid)
    try:
        sudo_uid = int(env.get("SUDO_UID", ""))
        sudo_gid = int(env.get("SUDO_GID") or -1)
    except ValueError:
        raise Refusal(f"SUDO_UID={env.get('SUDO_UID')!r} is not a number",
                      hint="run ds01 through sudo, which sets it", code="NOT_PERMITTED") from None
    try:
        entry = pwd.getpwnam(sudo_user)
    except KeyError:
        entry = None
    if entry is not None and entry.pw_uid != sudo_uid:
        raise Refusal(f"SUDO_USER={sudo_user} does not match SUDO_UID={sudo_uid}",
                      hint="run ds01 through sudo, which sets both", code="NOT_PERMITTED")
    if sudo_gid < 0:
        sudo_gid = entry.pw_gid if entry is not None else sudo_uid
    return Caller(user=sudo_user, uid=sudo_uid, gid=sudo_gid, via_sudo=True)


def _own(uid: int) -> Caller:
    try:
        entry = pwd.getpwuid(uid)
    except KeyError:
        return Caller(user=str(uid), uid=uid, gid=os.getegid())
    return Caller(user=entry.pw_name, uid=uid, gid=entry.pw_gid)


def refuse_path_options(args, who: Caller) -> None:
    """Under sudo, the config, state, log and hardware paths are the installation's own."""
    given = [f"--{k.replace('_', '-')}" for k in PATH_OPTIONS if getattr(args, k, None)]
    if who.via_sudo and given:
        raise Refusal(f"{', '.join(given)} cannot be given when running through sudo",
                      hint="ds01 uses the installation's configuration for everyone",
                      code="NOT_PERMITTED")


def actor_for(svc, who: Caller, requested: str | None):
    """The user a command acts for: the caller, or ``requested`` when the caller is an admin."""
    from ds01.service.launchspec import Actor, invalid, not_permitted
    from ds01.service.lookup import account

    admin = (who.is_root and not who.via_sudo) or svc.effective(who.user).admin
    if not requested or requested == who.user:
        return Actor(user=who.user, uid=who.uid, gid=who.gid, admin=admin)
    if not admin:
        raise not_permitted(
            f"only administrators may act for another user (--user {requested}); "
            f"you are {who.user}",
            hint="drop --user: your commands always act on your own containers")
    from ds01.policy.allocate import USER_NAME

    if not USER_NAME.fullmatch(requested):
        raise invalid(f"{requested!r} is not a valid user name")
    uid, gid = account(requested)
    return Actor(user=requested, uid=uid, gid=gid, admin=True)
