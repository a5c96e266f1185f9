"""Aggregate CPU, memory and task limits for groups and users.

Two mechanisms, one set of limits (``SliceLimits``):

* ``slices``: systemd slice units ``ds01.slice`` / ``ds01-<group>.slice`` /
  ``ds01-<group>-<user>.slice`` (Docker's systemd cgroup driver, the usual cgroup v2 setup);
* ``fs``: cgroup directories ``<root>/<group>/<user>`` written directly (Docker's cgroupfs
  driver), on cgroup v1 or v2.
"""

from ds01.cgroups.fs import CgroupError, CgroupTree, RemoveResult, cgroupfs_parent, detect_version
from ds01.cgroups.slices import (
    SliceEntry,
    SliceError,
    SliceLimits,
    ensure_units,
    escape,
    group_slice,
    plan_units,
    render_slice,
    root_slice,
    slice_path,
    user_slice,
    write_units,
)

__all__ = [
    "CgroupError",
    "CgroupTree",
    "RemoveResult",
    "SliceEntry",
    "SliceError",
    "SliceLimits",
    "cgroupfs_parent",
    "ensure_units",
    "detect_version",
    "escape",
    "group_slice",
    "plan_units",
    "render_slice",
    "root_slice",
    "slice_path",
    "user_slice",
    "write_units",
]
