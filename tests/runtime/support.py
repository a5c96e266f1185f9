"""Names shared by the runtime tests and their fixtures."""

from __future__ import annotations

import uuid
from pathlib import Path

TEST_IMAGE = "ds01-test/busybox:latest"
#: Unique to one pytest run, so parallel runs never touch each other's containers or cgroups.
SESSION = uuid.uuid4().hex[:10]
SESSION_LABELS = {"ds01.test": "1", "ds01.test.session": SESSION}
CGROUP_ROOT = Path("/sys/fs/cgroup")
