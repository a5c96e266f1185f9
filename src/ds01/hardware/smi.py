"""The ``nvidia-smi`` source: the GPU inventory from two invocations of the command.

Only these two are ever run, so a stand-in ``nvidia-smi`` on PATH can replace the real one:

- ``nvidia-smi -L``: every GPU with its MIG devices (index, profile, UUID);
- ``nvidia-smi --query-gpu=<QUERY_FIELDS> --format=csv,noheader,nounits``: memory,
  utilization and MIG mode per GPU.

nvidia-smi does not report memory use or utilization per MIG device: those stay ``None``
(unknown), never 0. A MIG device's total memory is read from its profile name (``2g.20gb`` ->
20 GiB). The one seam is the *runner*: ``runner(args) -> (returncode, stdout, stderr)``.
"""

from __future__ import annotations

import re
from ds01.records import record, field
from typing import Callable

from ds01.errors import HardwareError
from ds01.hardware.model import (
    MIG_DISABLED,
    MIG_ENABLED,
    MIG_UNSUPPORTED,
    Gpu,
    Inventory,
    MigInstance,
)

Runner = Callable[[list[str]], tuple[int, str, str]]

QUERY_FIELDS = (
    "index",
    "uuid",
    "name",
    "memory.total",
    "memory.used",
    "utilization.gpu",
    "mig.mode.current",
)
LIST_ARGS = ["-L"]
QUERY_ARGS = ["--query-gpu=" + ",".join(QUERY_FIELDS), "--format=csv,noheader,nounits"]
TIMEOUT_S = 30.0
ROW_ERROR = "_error"  # key of a query row whose GPU reported "GPU is lost" / "Unknown Error"

_GPU_LINE = re.compile(r"^GPU (?P<index>\d+): (?P<name>.+) \(UUID: (?P<uuid>[^()\s]+)\)$")
_MIG_LINE = re.compile(
    r"^MIG\s+(?P<profile>\S+)\s+Device\s+(?P<index>\d+):\s*\(UUID: (?P<uuid>[^()\s]+)\)$"
)
_PROFILE = re.compile(r"^(?:\d+c\.)?\d+g\.(?P<gb>\d+)gb(?:[+-][a-z]+)*$")
_LEGACY_MIG_UUID = re.compile(r"^MIG-(?P<gpu>GPU-[0-9a-fA-F-]+)/(?P<gi>\d+)/(?P<ci>\d+)$")
_NEW_MIG_UUID = re.compile(r"^MIG-[0-9a-fA-F-]+$")
_GPU_UUID = re.compile(r"^GPU-[0-9a-fA-F-]+$")
_UNREACHABLE = re.compile(
    r"^Unable to determine the device handle for GPU\s*(?P<bus>\S+): (?P<why>.+)$"
)
_HEADER_CELL = re.compile(r"^(?P<name>[A-Za-z_][\w.]*)(?: \[(?P<unit>[^\]]+)\])?$")

UNKNOWN_VALUES = frozenset(
    {
        "",
        "N/A",
        "[N/A]",
        "[Not Supported]",
        "Not Supported",
        "[Requested functionality has been deprecated]",
        "[Unknown]",
    }
)
LOST_VALUES = frozenset({"[GPU is lost]", "GPU is lost", "[Unknown Error]", "Unknown Error"})

_DRIVER_HINT = (
    "check that the NVIDIA driver is loaded (`lsmod | grep nvidia`, `dmesg | grep -i nvrm`); "
    "to run ds01 without GPUs, describe a simulated server with --hardware FILE"
)
# (pattern, hint) for the messages nvidia-smi prints when it cannot work at all.
_FATAL = (
    (
        re.compile(r"Failed to initialize NVML: Driver/library version mismatch", re.I),
        "the NVIDIA kernel module and the driver library have different versions, which "
        "happens after a driver upgrade without a reboot: reboot the machine, or reload the "
        "nvidia kernel modules once no process uses the GPUs",
    ),
    (re.compile(r"Failed to initialize NVML", re.I), _DRIVER_HINT),
    (re.compile(r"couldn't communicate with the NVIDIA driver", re.I), _DRIVER_HINT),
    (
        re.compile(r"No devices were found", re.I),
        "the driver is running but sees no GPU: check `dmesg` for NVRM errors and `lspci` "
        "for the cards; on a machine without GPUs use --hardware FILE",
    ),
    (
        re.compile(r"(?<!\[)Insufficient Permissions", re.I),
        "run ds01 as a user that may open /dev/nvidiactl and /dev/nvidia*, or as root",
    ),
)


@record
class ListedGpu:
    """One ``GPU n:`` entry of ``nvidia-smi -L`` with the MIG devices listed under it."""

    index: int
    name: str
    uuid: str
    instances: tuple[MigInstance, ...] = ()


@record
class ListScan:
    """What ``nvidia-smi -L`` printed: the GPUs, and the lines about GPUs it could not reach."""

    gpus: list[ListedGpu]
    unreachable: list[str] = field(default_factory=list)


def profile_memory_mib(profile: str) -> int | None:
    """The memory a MIG profile names, in MiB (``2g.20gb`` -> 20480); None if not a profile."""
    match = _PROFILE.match(profile)
    return int(match.group("gb")) * 1024 if match else None


def is_profile(text: str) -> bool:
    """True for MIG profile names like ``2g.20gb``, ``1c.3g.40gb``, ``1g.10gb+me``."""
    return bool(_PROFILE.match(text))


def _lines(text: str) -> list[tuple[int, str]]:
    """Numbered, stripped, non-blank lines (CRLF and trailing spaces tolerated)."""
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _quote(text: str, limit: int = 5) -> str:
    lines = [line for _, line in _lines(text)]
    shown = " / ".join(lines[:limit])
    return shown + (f" / ... ({len(lines) - limit} more lines)" if len(lines) > limit else "")


def check_known_errors(text: str, what: str = "nvidia-smi") -> None:
    """Raise HardwareError if the output is one of nvidia-smi's "cannot work" messages."""
    for pattern, hint in _FATAL:
        if pattern.search(text):
            raise HardwareError(f"{what} failed: {_quote(text)!r}", hint=hint)


def _bad_line(what: str, number: int, line: str, why: str) -> HardwareError:
    shown = line if len(line) <= 160 else line[:157] + "..."
    return HardwareError(
        f"{what}: line {number} is not in the expected format ({why}): {shown!r}",
        hint="this nvidia-smi prints a format ds01 does not know; use --hardware nvml, "
        "or report the output",
    )


def scan_list(text: str) -> ListScan:
    """Parse ``nvidia-smi -L`` output strictly; any line not understood is a HardwareError."""
    check_known_errors(text, "nvidia-smi -L")
    gpus: list[ListedGpu] = []
    migs: dict[int, list[MigInstance]] = {}
    unreachable: list[str] = []
    for number, line in _lines(text):
        if _UNREACHABLE.match(line):
            unreachable.append(line)
            continue
        gpu = _GPU_LINE.match(line)
        if gpu:
            gpus.append(_listed_gpu(gpu, number, line, gpus))
            migs[gpus[-1].index] = []
            continue
        mig = _MIG_LINE.match(line)
        if mig is None:
            raise _bad_line("nvidia-smi -L", number, line, "neither a GPU nor a MIG device")
        if not gpus:
            raise _bad_line("nvidia-smi -L", number, line, "a MIG device before any GPU")
        parent = gpus[-1]
        migs[parent.index].append(_mig_instance(mig, number, line, parent, migs[parent.index]))
    if unreachable and not gpus:
        raise HardwareError(
            f"nvidia-smi -L reached no GPU: {_quote(text)!r}",
            hint="a GPU that fell off the bus needs a reboot (see `dmesg` for Xid errors)",
        )
    listed = [
        ListedGpu(g.index, g.name, g.uuid, tuple(migs[g.index])) for g in gpus
    ]
    return ListScan(listed, unreachable)


def parse_list(text: str) -> list[ListedGpu]:
    """The GPUs (with MIG devices) of ``nvidia-smi -L`` output. See ``scan_list``."""
    return scan_list(text).gpus


def _listed_gpu(match: re.Match, number: int, line: str, seen: list[ListedGpu]) -> ListedGpu:
    index = int(match.group("index"))
    uuid = match.group("uuid")
    if not _GPU_UUID.match(uuid):
        raise _bad_line("nvidia-smi -L", number, line, f"GPU UUID {uuid!r}")
    if any(g.index == index for g in seen):
        raise _bad_line("nvidia-smi -L", number, line, f"GPU {index} listed twice")
    return ListedGpu(index, match.group("name").strip(), uuid)


def _mig_instance(
    match: re.Match, number: int, line: str, parent: ListedGpu, siblings: list[MigInstance]
) -> MigInstance:
    profile, uuid = match.group("profile"), match.group("uuid")
    index = int(match.group("index"))
    if not is_profile(profile):
        raise _bad_line("nvidia-smi -L", number, line, f"MIG profile {profile!r}")
    if any(m.index == index for m in siblings):
        raise _bad_line("nvidia-smi -L", number, line, f"MIG device {index} listed twice")
    gi = ci = None
    legacy = _LEGACY_MIG_UUID.match(uuid)
    if legacy:
        gi, ci = int(legacy.group("gi")), int(legacy.group("ci"))
    elif not _NEW_MIG_UUID.match(uuid):
        raise _bad_line("nvidia-smi -L", number, line, f"MIG UUID {uuid!r}")
    return MigInstance(
        gpu_index=parent.index,
        index=index,
        profile=profile,
        uuid=uuid,
        memory_total_mib=profile_memory_mib(profile),
        gi=gi,
        ci=ci,
    )


def _split_row(line: str) -> list[str]:
    return [cell.strip() for cell in line.split(",")]


def _read_header(cells: list[str]) -> tuple[list[str], list[str | None]] | None:
    """(names, units) if these cells look like a csv header line, else None."""
    matches = [_HEADER_CELL.match(cell) for cell in cells]
    if not all(matches) or not any("." in c or "_" in c or "[" in c for c in cells):
        return None
    return [m.group("name") for m in matches], [m.group("unit") for m in matches]


def _value(raw: str, unit: str | None) -> tuple[str | None, str | None]:
    """(value, error) of one csv cell: unknown -> None; a lost GPU -> (None, its words)."""
    if raw in UNKNOWN_VALUES:
        return None, None
    if raw in LOST_VALUES:
        return None, raw.strip("[]")
    if unit and raw.endswith(" " + unit):
        raw = raw[: -len(unit) - 1].strip()
    return raw, None


def parse_query(text: str, fields: tuple[str, ...] | list[str] | None = QUERY_FIELDS) -> list[dict]:
    """Rows of ``--query-gpu``/``--query-*`` csv output as dicts keyed by field name.

    Works with ``--format=csv,noheader,nounits`` (give ``fields``) and with a header line
    (``--format=csv``; units in the header are stripped from the values; ``fields`` may be None).
    Unknown values (``[N/A]``, ``[Not Supported]``, ...) are None. A row with ``[GPU is lost]`` or
    ``Unknown Error`` carries those words under ``ROW_ERROR``, and so does a line
    "Unable to determine the device handle ..." (with every field None).
    """
    check_known_errors(text, "nvidia-smi --query")
    lines = _lines(text)
    names = list(fields) if fields is not None else None
    units: list[str | None] = [None] * len(names or ())
    if lines:
        header = _read_header(_split_row(lines[0][1]))
        if header is not None:
            if names is not None and header[0] != names:
                raise _bad_line("nvidia-smi --query", lines[0][0], lines[0][1],
                                f"header names {header[0]}, expected {names}")
            names, units = header
            lines = lines[1:]
    if names is None:
        number, line = lines[0] if lines else (1, "")
        raise _bad_line("nvidia-smi --query", number, line, "no header line and no field list")
    return [_row(number, line, names, units) for number, line in lines]


def _row(number: int, line: str, names: list[str], units: list[str | None]) -> dict:
    if _UNREACHABLE.match(line):
        row: dict = dict.fromkeys(names)
        row[ROW_ERROR] = line
        return row
    cells = _split_row(line)
    if len(cells) != len(names):
        raise _bad_line("nvidia-smi --query", number, line,
                        f"{len(cells)} values for {len(names)} fields")
    row, errors = {}, []
    for name, unit, raw in zip(names, units, cells):
        row[name], error = _value(raw, unit)
        if error and error not in errors:
            errors.append(error)
    if errors:
        row[ROW_ERROR] = "; ".join(errors)
    return row


def default_runner(args: list[str]) -> tuple[int, str, str]:
    """Run the ``nvidia-smi`` found on PATH with a timeout."""
    import shutil
    import subprocess

    binary = shutil.which("nvidia-smi")
    if binary is None:
        raise HardwareError(
            "nvidia-smi not found on PATH",
            hint="install the NVIDIA driver utilities (nvidia-smi), use --hardware nvml, or "
            "describe a simulated server with --hardware FILE",
        )
    command = "nvidia-smi " + " ".join(args)
    try:
        done = subprocess.run(
            [binary, *args], capture_output=True, text=True, errors="replace",
            timeout=TIMEOUT_S, check=False,
        )
    except subprocess.TimeoutExpired:
        raise HardwareError(
            f"{command} did not answer within {TIMEOUT_S:g} s",
            hint="the driver may be hung: check `dmesg` for Xid/NVRM errors",
        ) from None
    except OSError as exc:
        raise HardwareError(f"cannot run {binary}: {exc.strerror or exc}",
                            hint="check that the file is an executable nvidia-smi") from None
    return done.returncode, done.stdout, done.stderr


def _run(runner: Runner, args: list[str]) -> str:
    """Run nvidia-smi; return stdout, or raise HardwareError quoting what it said."""
    command = "nvidia-smi " + " ".join(args)
    code, out, err = runner(args)
    check_known_errors(f"{out}\n{err}", command)
    if code != 0:
        lines = [line for _, line in _lines(out)]
        partial = any(_UNREACHABLE.match(line) for line in lines) and not all(
            _UNREACHABLE.match(line) for line in lines
        )
        if not partial:
            said = _quote(f"{err}\n{out}") or "nothing"  # stderr first: it says why
            raise HardwareError(
                f"{command} failed with exit status {code}; it said: {said!r}",
                hint="run the same command by hand to see the problem; check the driver "
                "(`dmesg | grep -i nvrm`)",
            )
    return out


def read_inventory(runner: Runner | None = None) -> Inventory:
    """The GPU inventory as nvidia-smi reports it (``-L`` merged with ``--query-gpu``)."""
    run = runner if runner is not None else default_runner
    scan = scan_list(_run(run, LIST_ARGS))
    if not scan.gpus:
        raise HardwareError("nvidia-smi -L listed no GPUs",
                            hint="check the driver, or use --hardware FILE for a simulated server")
    rows = parse_query(_run(run, QUERY_ARGS), QUERY_FIELDS)
    warnings = [f"nvidia-smi: {line}" for line in scan.unreachable]
    by_index: dict[int, dict] = {}
    for row in rows:
        if row.get("index") is None:
            warnings.append(f"nvidia-smi --query-gpu: {row.get(ROW_ERROR) or row}")
            continue
        by_index[_int(row, "index")] = row
    gpus = [_merge(listed, by_index.pop(listed.index, None)) for listed in scan.gpus]
    for index, row in sorted(by_index.items()):
        gpus.append(_unlisted(index, row))
    gpus.sort(key=lambda g: g.index)
    return Inventory(tuple(gpus), "nvidia-smi", tuple(warnings))


def _number(row: dict, name: str, kind: type, what: str):
    """The cell ``name`` as ``kind`` (int or float); None when unknown."""
    value = row.get(name)
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        raise HardwareError(f"nvidia-smi --query-gpu: {name} is {value!r}, not {what}",
                            hint="report this nvidia-smi output") from None


def _int(row: dict, name: str) -> int | None:
    return _number(row, name, int, "a whole number")


def _float(row: dict, name: str) -> float | None:
    return _number(row, name, float, "a number")


def _mig_mode(listed: ListedGpu, row: dict) -> str:
    raw = row.get("mig.mode.current")
    if raw is None:
        return MIG_ENABLED if listed.instances else MIG_UNSUPPORTED
    mode = {"enabled": MIG_ENABLED, "disabled": MIG_DISABLED}.get(raw.lower())
    if mode is None:
        raise HardwareError(f"nvidia-smi --query-gpu: GPU {listed.index} mig.mode.current is "
                            f"{raw!r} (expected Enabled, Disabled or [N/A])")
    if mode == MIG_DISABLED and listed.instances:
        raise HardwareError(
            f"nvidia-smi: GPU {listed.index} has MIG disabled but -L lists "
            f"{len(listed.instances)} MIG devices",
            hint="the MIG layout changed while ds01 was reading it; try again",
        )
    return mode


def _merge(listed: ListedGpu, row: dict | None) -> Gpu:
    base = dict(index=listed.index, name=listed.name, uuid=listed.uuid)
    if row is None:
        return Gpu(**base, instances=listed.instances, lost=True,
                   error="listed by nvidia-smi -L but missing from --query-gpu")
    if row.get("uuid") is not None and row["uuid"] != listed.uuid:
        raise HardwareError(
            f"nvidia-smi: GPU {listed.index} is {listed.uuid} in -L but {row['uuid']} in "
            "--query-gpu", hint="the GPUs changed between the two calls; try again")
    if row.get(ROW_ERROR):
        return Gpu(**base, instances=listed.instances, lost=True, error=row[ROW_ERROR])
    return Gpu(
        **base,
        memory_total_mib=_int(row, "memory.total"),
        memory_used_mib=_int(row, "memory.used"),
        utilization=_float(row, "utilization.gpu"),
        mig=_mig_mode(listed, row),
        instances=listed.instances,
    )


def _unlisted(index: int, row: dict) -> Gpu:
    """A GPU that --query-gpu reports but -L does not: never allocatable."""
    return Gpu(
        index=index,
        name=row.get("name") or "unknown",
        uuid=row.get("uuid") or "unknown",
        lost=True,
        error=row.get(ROW_ERROR) or "reported by --query-gpu but missing from nvidia-smi -L",
    )
