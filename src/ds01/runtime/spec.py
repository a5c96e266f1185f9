"""What one launcher container looks like, and its two renderings.

A ``ContainerSpec`` holds everything ds01 decides about a container: identity, labels, limits,
GPU devices, user, binds. It deliberately has no field for privileged mode, extra devices,
capabilities, network mode or mounts other than binds: nothing the launcher builds can ask the
engine for more than the policy granted.

Two renderings, kept equivalent:

- ``to_create_body(spec)``: the JSON body of the Engine API ``POST /containers/create``;
- ``to_docker_argv(spec)``: the ``docker run -d ...`` command line that creates the same
  container, for ``--dry-run`` output and benchmarks.
"""

from __future__ import annotations

import re
from ds01.records import record, field

from ds01.errors import UsageError

#: Keeps the container alive whatever the image's own command. ``sleep`` is not PID 1 under
#: ``--init`` (the engine's tini forwards SIGTERM to it), so ``docker stop`` ends it at once.
IDLE_COMMAND: tuple[str, ...] = ("sleep", "infinity")

#: Value of NVIDIA_VISIBLE_DEVICES that makes the NVIDIA runtime expose no GPU at all.
NO_GPU = "void"
GPU_ENV = "NVIDIA_VISIBLE_DEVICES"
GPU_ATTACH_MODES = ("gpus", "none")
BIND_MODES = ("ro", "rw")

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")  # the engine's rule for container names
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_USER = re.compile(r"^\d+:\d+$")
_MIN_MEMORY = 6 * 1024 * 1024  # the engine refuses less than 6 MiB


@record
class ContainerSpec:
    """One container as ds01 wants it created. Sizes are bytes; ``cpus`` may be fractional."""

    name: str
    image: str
    labels: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    cpus: float | None = None
    memory: int | None = None
    memory_swap: int | None = None  # memory + swap, like --memory-swap; -1 = unlimited swap
    shm_size: int | None = None
    pids_limit: int | None = None
    cgroup_parent: str | None = None  # absolute path with the cgroupfs driver, a slice with systemd
    gpu_uuids: tuple[str, ...] = ()
    gpu_attach: str = "gpus"  # one of GPU_ATTACH_MODES
    cpu_only: bool = False  # says "no GPU on purpose"; any spec without GPU ids gets "void"
    user: str | None = None  # "uid:gid"
    binds: tuple[tuple[str, str, str], ...] = ()  # (host path, container path, "ro"|"rw")
    workdir: str | None = None
    init: bool = True
    command: tuple[str, ...] = IDLE_COMMAND

    def __post_init__(self) -> None:
        # own copies, so a caller changing its dicts later cannot change a built spec
        object.__setattr__(self, "labels", dict(self.labels))
        object.__setattr__(self, "env", dict(self.env))
        problems = _problems(self)
        if problems:
            raise UsageError(
                f"invalid container spec for {self.name!r}: " + "; ".join(problems),
                hint="this is a bug in the caller that built the spec",
            )

    @property
    def gpu_env(self) -> str | None:
        """The NVIDIA_VISIBLE_DEVICES value this spec sets, or None when --gpus carries it."""
        if not self.gpu_uuids:
            return NO_GPU  # never leave an image's own "all" in force
        if self.gpu_attach == "none":
            return ",".join(self.gpu_uuids)
        return None

    def full_env(self) -> dict[str, str]:
        """The environment the container gets, including the GPU visibility variable."""
        env = dict(self.env)
        gpu = self.gpu_env
        if gpu is not None:
            env[GPU_ENV] = gpu
        return env


def _problems(spec: ContainerSpec) -> list[str]:
    """Everything wrong with ``spec``, as short phrases (empty when it is valid)."""
    out: list[str] = []
    if not _NAME.match(spec.name or ""):
        out.append("name must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")
    if not spec.image or any(c.isspace() for c in spec.image):
        out.append("image must be a non-empty reference without spaces")
    out.extend(_limit_problems(spec))
    out.extend(_gpu_problems(spec))
    for key in spec.labels:
        if not key or "=" in key:
            out.append(f"label key {key!r} is empty or contains '='")
    for key in spec.env:
        if not _ENV_KEY.match(key):
            out.append(f"environment name {key!r} is not a valid variable name")
    if GPU_ENV in spec.env:
        out.append(f"{GPU_ENV} is set by ds01 from the allocation, not by env")
    if spec.user is not None and not _USER.match(spec.user):
        out.append(f"user {spec.user!r} must be numeric uid:gid")
    if spec.workdir is not None and not spec.workdir.startswith("/"):
        out.append(f"workdir {spec.workdir!r} must be an absolute path")
    out.extend(_bind_problems(spec.binds))
    if not spec.command or not all(isinstance(a, str) for a in spec.command):
        out.append("command must be a non-empty tuple of strings")
    return out


def _limit_problems(spec: ContainerSpec) -> list[str]:
    out: list[str] = []
    if spec.cpus is not None and not spec.cpus > 0:
        out.append(f"cpus must be > 0 (got {spec.cpus})")
    if spec.memory is not None and spec.memory < _MIN_MEMORY:
        out.append(f"memory must be at least {_MIN_MEMORY} bytes (got {spec.memory})")
    if spec.memory_swap is not None:
        if spec.memory is None:
            out.append("memory_swap needs memory")
        elif spec.memory_swap != -1 and spec.memory_swap < spec.memory:
            out.append(f"memory_swap ({spec.memory_swap}) must be -1 or >= memory ({spec.memory})")
    if spec.shm_size is not None and spec.shm_size <= 0:
        out.append(f"shm_size must be > 0 (got {spec.shm_size})")
    if spec.pids_limit is not None and spec.pids_limit <= 0:
        out.append(f"pids_limit must be > 0 (got {spec.pids_limit})")
    if spec.cgroup_parent is not None and (
        not spec.cgroup_parent or any(c.isspace() or c == "," for c in spec.cgroup_parent)
    ):
        out.append(f"cgroup_parent {spec.cgroup_parent!r} is empty or has spaces/commas")
    return out


def _gpu_problems(spec: ContainerSpec) -> list[str]:
    out: list[str] = []
    if spec.gpu_attach not in GPU_ATTACH_MODES:
        out.append(f"gpu_attach must be one of {GPU_ATTACH_MODES} (got {spec.gpu_attach!r})")
    if not isinstance(spec.gpu_uuids, tuple):
        out.append("gpu_uuids must be a tuple")
    for uuid in spec.gpu_uuids:
        if not uuid or any(c in uuid for c in ',"\' ') or uuid != uuid.strip():
            out.append(f"GPU id {uuid!r} is empty or contains a comma, quote or space")
    if spec.cpu_only and spec.gpu_uuids:
        out.append("a cpu_only container cannot have GPU devices")
    return out


def _bind_problems(binds: tuple[tuple[str, str, str], ...]) -> list[str]:
    out: list[str] = []
    for bind in binds:
        if len(bind) != 3:
            out.append(f"bind {bind!r} must be (host path, container path, mode)")
            continue
        host, target, mode = bind
        for path in (host, target):
            if not path.startswith("/") or ":" in path or "," in path:
                out.append(f"bind path {path!r} must be absolute, without ':' or ','")
        if mode not in BIND_MODES:
            out.append(f"bind mode {mode!r} must be one of {BIND_MODES}")
    return out


def nano_cpus(cpus: float) -> int:
    """CPUs as the engine's NanoCpus (billionths of a CPU), rounded to the nearest unit.

    Exact in the decimal the number prints as (``0.1`` is one tenth, not the binary float
    just above it); halves round to even. Plain integer arithmetic: importing ``decimal``
    would cost the launcher more than the computation.
    """
    text = repr(cpus).lower()
    mantissa, _, exponent = text.partition("e")
    whole, _, frac = mantissa.partition(".")
    try:
        digits, shift = int(whole + frac), 9 + int(exponent or 0) - len(frac)
    except ValueError:
        raise ValueError(f"cpus must be a finite number (got {cpus!r})") from None
    if shift >= 0:
        return digits * 10**shift
    unit = 10**-shift
    quotient, rest = divmod(abs(digits), unit)
    if 2 * rest > unit or (2 * rest == unit and quotient % 2):
        quotient += 1
    return -quotient if digits < 0 else quotient


def _cpus_text(nano: int) -> str:
    """NanoCpus back as the exact decimal that ``docker run --cpus`` parses to the same value."""
    whole, frac = divmod(abs(nano), 1_000_000_000)
    return f"{'-' if nano < 0 else ''}{whole}.{frac:09d}".rstrip("0").rstrip(".")


def _bind_text(bind: tuple[str, str, str]) -> str:
    host, target, mode = bind
    return f"{host}:{target}:{mode}"


def to_create_body(spec: ContainerSpec) -> dict:
    """The Engine API body for ``POST /containers/create?name=<spec.name>``."""
    host: dict = {}
    if spec.cpus is not None:
        host["NanoCpus"] = nano_cpus(spec.cpus)
    if spec.memory is not None:
        host["Memory"] = spec.memory
    if spec.memory_swap is not None:
        host["MemorySwap"] = spec.memory_swap
    if spec.shm_size is not None:
        host["ShmSize"] = spec.shm_size
    if spec.pids_limit is not None:
        host["PidsLimit"] = spec.pids_limit
    if spec.cgroup_parent is not None:
        host["CgroupParent"] = spec.cgroup_parent
    if spec.init:
        host["Init"] = True
    if spec.binds:
        host["Binds"] = [_bind_text(b) for b in spec.binds]
    if spec.gpu_uuids and spec.gpu_attach == "gpus":
        host["DeviceRequests"] = [
            {
                "Driver": "nvidia",
                "Count": 0,
                "DeviceIDs": list(spec.gpu_uuids),
                "Capabilities": [["gpu"]],
                "Options": {},
            }
        ]
    body: dict = {
        "Image": spec.image,
        "Cmd": list(spec.command),
        "Labels": dict(spec.labels),
        "Env": [f"{k}={v}" for k, v in spec.full_env().items()],
        "HostConfig": host,
    }
    if spec.user is not None:
        body["User"] = spec.user
    if spec.workdir is not None:
        body["WorkingDir"] = spec.workdir
    return body


def to_docker_argv(spec: ContainerSpec, docker: str = "docker") -> list[str]:
    """The ``docker run -d ...`` command line that creates the same container as the API body.

    Arguments are separate list items (no shell). The ``--gpus`` value keeps its inner double
    quotes, which the CLI needs so the commas between device ids are not read as separators.
    """
    argv = [docker, "run", "-d", "--name", spec.name]
    if spec.cpus is not None:
        argv += ["--cpus", _cpus_text(nano_cpus(spec.cpus))]
    if spec.memory is not None:
        argv += ["--memory", str(spec.memory)]
    if spec.memory_swap is not None:
        argv += ["--memory-swap", str(spec.memory_swap)]
    if spec.shm_size is not None:
        argv += ["--shm-size", str(spec.shm_size)]
    if spec.pids_limit is not None:
        argv += ["--pids-limit", str(spec.pids_limit)]
    if spec.cgroup_parent is not None:
        argv += ["--cgroup-parent", spec.cgroup_parent]
    if spec.init:
        argv.append("--init")
    if spec.gpu_uuids and spec.gpu_attach == "gpus":
        argv += ["--gpus", '"device=' + ",".join(spec.gpu_uuids) + '"']
    for key, value in spec.labels.items():
        argv += ["--label", f"{key}={value}"]
    for key, value in spec.full_env().items():
        argv += ["-e", f"{key}={value}"]
    if spec.user is not None:
        argv += ["--user", spec.user]
    if spec.workdir is not None:
        argv += ["--workdir", spec.workdir]
    for bind in spec.binds:
        argv += ["-v", _bind_text(bind)]
    argv.append(spec.image)
    argv.extend(spec.command)
    return argv


def format_argv(argv: list[str]) -> str:
    """One shell-ready line for ``argv`` (what ``--dry-run`` prints)."""
    import shlex

    return shlex.join(argv)
