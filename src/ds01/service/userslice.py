"""A user's systemd slice on their first container (Docker's systemd cgroup driver).

``ds01 slices write`` writes a unit for every user the config names. A user it does not name
(one who belongs to a group through a Unix group, or falls into the default group) has no unit
until their first container; with the systemd driver the launcher passes the user's slice as
the container's cgroup parent, and systemd would make that slice up without any limit. So
before the container is created the launcher writes the user's unit, and their group's and
``ds01.slice`` when those are missing, exactly as ``ds01 slices write`` renders them, into
``<root>/etc/systemd/system``, and runs ``systemctl daemon-reload`` when it wrote anything.

Units ds01 did not generate are left alone. When the reload fails, the files written for it
are removed again, so that the next container start writes and reloads again.
"""

from __future__ import annotations

import os
from pathlib import Path

from ds01.cgroups.fs import CgroupError
from ds01.config.model import EffectiveLimits
from ds01.records import field, record
from ds01.service.core import Service

SYSTEMCTL = "systemctl"
RELOAD_TIMEOUT_S = 60


@record
class SlicePlan:
    """The units one user's containers need; ``root`` as in ``systemctl --root``."""

    unit: str  # the user's slice: the containers' cgroup parent
    units: dict = field(default_factory=dict)  # unit file name -> text
    root: str = "/"


def plan_for(svc: Service, who: EffectiveLimits, root: str = "/") -> SlicePlan:
    """The user's slice unit, their group's and ``ds01.slice``, as ``ds01 slices write``
    would write them from the current config."""
    from ds01.cgroups.slices import SliceEntry, SliceLimits, plan_units, user_slice
    from ds01.service.launchspec import aggregate_of
    from ds01.service.slices import user_limits

    agg = aggregate_of(svc, who)
    entries = [SliceEntry(SliceLimits(cpus=agg.cpus, memory=agg.memory, tasks=agg.tasks),
                          group=who.group),
               SliceEntry(user_limits(who), group=who.group, user=who.user)]
    units = plan_units(entries, source=str(svc.config.source))
    return SlicePlan(unit=user_slice(who.group, who.user), units=units, root=root)


def ensure(plan: SlicePlan, systemctl: str = SYSTEMCTL) -> list[Path]:
    """Write what is missing or out of date, then reload systemd. Returns the files written."""
    from ds01.cgroups.slices import SliceError, ensure_units

    try:
        written = ensure_units(Path(plan.root), plan.units)
    except SliceError as exc:
        raise CgroupError(
            f"could not write the systemd slice unit {plan.unit} for this user's containers: "
            f"{exc.message}; nothing was started",
            path=str(Path(plan.root) / "etc/systemd/system" / plan.unit),
            hint="ds01 runs as root through sudo; check that /etc/systemd/system is writable "
            "(or write the units beforehand with `ds01 slices write`)") from exc
    if written:
        try:
            daemon_reload(systemctl, plan.unit)
        except CgroupError:
            for path in written:
                try:
                    os.unlink(path)
                except OSError:
                    pass
            raise
    return written


def daemon_reload(systemctl: str, unit: str) -> None:
    """``systemctl daemon-reload``, so that systemd knows the new slice's limits."""
    import subprocess

    where = f"/etc/systemd/system/{unit}"
    try:
        done = subprocess.run([systemctl, "daemon-reload"], capture_output=True, text=True,
                              timeout=RELOAD_TIMEOUT_S)
    except FileNotFoundError:
        raise CgroupError(
            f"the container engine uses the systemd cgroup driver, but `{systemctl}` is not "
            f"installed here, so the slice {unit} cannot be loaded; nothing was started",
            path=where, hint="install systemd's systemctl, or configure the engine with the "
            "cgroupfs driver (\"exec-opts\": [\"native.cgroupdriver=cgroupfs\"])") from None
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CgroupError(
            f"`{systemctl} daemon-reload` could not run for the new slice {unit}: {exc}; "
            "nothing was started", path=where,
            hint="check that systemd is running (systemctl is-system-running)") from None
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise CgroupError(
            f"`{systemctl} daemon-reload` failed (exit code {done.returncode}) after ds01 wrote "
            f"the slice {unit}" + (f": {said[-1]}" if said else "") + "; nothing was started",
            path=where, kernel=said[-1] if said else None,
            hint="check that systemd is running and accepts the unit: "
            f"systemd-analyze verify {where}")
