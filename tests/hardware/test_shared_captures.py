"""Conformance: the nvidia-smi parsers against every real capture in the shared folder.

The folder is ``<repo>/../shared/fixtures/nvidia-smi`` (or ``$DS01_SHARED_DIR/fixtures/...``).
When it is missing these tests skip, unless ``DS01_REQUIRE_SHARED=1``: then they fail.

- every ``-L`` capture parses; GPU and MIG counts match the lines that name them, and exactly
  the known layout for the files listed below;
- every ``.csv`` parses with the field list its row in SOURCES.md names (header or not);
- every ``error-*`` capture is a HardwareError quoting nvidia-smi's words;
- every other capture (tables, XML, ``mig -lgi`` ...) fed to ``parse_list`` gives a clean parse
  or a HardwareError, never another exception and never MIG devices that are not there.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from ds01.errors import HardwareError
from ds01.hardware import smi

REPO = Path(__file__).resolve().parents[2]


def _shared_captures() -> Path:
    base = Path(os.environ.get("DS01_SHARED_DIR") or REPO / ".." / "shared")
    return base / "fixtures" / "nvidia-smi"


FOLDER = _shared_captures()
PRESENT = FOLDER.is_dir() and any(FOLDER.iterdir())


def _files() -> list[Path]:
    if not PRESENT:
        return []
    return sorted(p for p in FOLDER.iterdir() if p.is_file() and p.name != "SOURCES.md")


def _is_list_capture(path: Path) -> bool:
    return bool(re.search(r"-L(-[^/]*)?\.txt$", path.name))


def _is_error_capture(path: Path) -> bool:
    return path.name.startswith("error-")


FILES = _files()
LIST_FILES = [p for p in FILES if _is_list_capture(p)]
ERROR_FILES = [p for p in FILES if _is_error_capture(p)]
CSV_FILES = [p for p in FILES if p.suffix == ".csv"]
OTHER_FILES = [p for p in FILES if p not in LIST_FILES and p not in ERROR_FILES]


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


@pytest.fixture(autouse=True)
def _need_folder():
    if PRESENT:
        return
    if os.environ.get("DS01_REQUIRE_SHARED") == "1":
        pytest.fail(f"DS01_REQUIRE_SHARED=1 but there are no shared captures at {FOLDER}")
    pytest.skip(f"no shared nvidia-smi captures at {FOLDER}")


def test_folder_is_there_and_has_every_kind():
    assert LIST_FILES and ERROR_FILES and CSV_FILES and OTHER_FILES


def read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


# MIG devices per GPU, for files whose layout is known from SOURCES.md.
KNOWN_LAYOUTS = {
    "a100-80gb-4gpu-mixed-mig-3x2g.20gb-L-r510.txt": [0, 3, 3, 3],
    "a100-40gb-8gpu-dgx-mixed-mig-L.txt": [7, 3, 2, 1, 6, 1, 3, 3],
    "a100-40gb-dgx-pod-6gpu-7g.40gb-L-r470.txt": [1, 1, 1, 1, 1, 1],
    "a100-40gb-dgx-pod-mig-disabled-L-r470.txt": [0],
    "a100-40gb-mig-2x3g.20gb-L-doc.txt": [2],
    "a100-40gb-mig-3g-2g-1g-L-legacy-uuid-r450.txt": [3],
    "a100-40gb-mig-7x1g.5gb-L-legacy-uuid-r450.txt": [7],
    "a30-24gb-mig-not-partitioned-L-r515.txt": [0],
    "gh200-480gb-mig-3x1g.24gb-1g.12gb-L.txt": [4],
    "h100-80gb-mig-3x1c.3g.40gb-2x1g.10gb-L.txt": [5],
    "h100-80gb-mig-7x1g.10gb-L.txt": [7],
    "h100-80gb-mig-disabled-L.txt": [0],
    "h100-80gb-mig-mixed-3g.40gb-1c-2x1g.10gb-L.txt": [3],
    "h200-141gb-mig-5dev-shared-gi-L-masked.txt": [5],
}


def _count_lines(text: str, pattern: str) -> int:
    return sum(1 for line in text.splitlines() if re.match(pattern, line.strip()))


@pytest.mark.parametrize("path", LIST_FILES, ids=_ids(LIST_FILES))
def test_list_capture_parses(path):
    text = read(path)
    gpus = smi.parse_list(text)
    assert len(gpus) == _count_lines(text, r"GPU \d+: ")
    assert sum(len(g.instances) for g in gpus) == _count_lines(text, r"MIG \S+\s+Device\s+\d+:")
    assert [g.index for g in gpus] == list(range(len(gpus)))
    for gpu in gpus:
        assert gpu.uuid.startswith("GPU-") and gpu.name
        assert [m.index for m in gpu.instances] == list(range(len(gpu.instances)))
        for mig in gpu.instances:
            assert mig.uuid.startswith("MIG-") and mig.gpu_index == gpu.index
            assert mig.memory_total_mib and mig.memory_total_mib % 1024 == 0
            assert mig.memory_used_mib is None and mig.utilization is None
    if path.name in KNOWN_LAYOUTS:
        assert [len(g.instances) for g in gpus] == KNOWN_LAYOUTS[path.name]


def test_known_layouts_are_all_checked():
    missing = set(KNOWN_LAYOUTS) - {p.name for p in LIST_FILES}
    assert not missing, f"captures named in KNOWN_LAYOUTS are gone: {missing}"


def test_known_details():
    dgx = smi.parse_list(read(FOLDER / "a100-40gb-8gpu-dgx-mixed-mig-L.txt"))
    assert [m.profile for m in dgx[6].instances] == ["1c.7g.40gb", "2c.7g.40gb", "3c.7g.40gb"]
    assert dgx[0].name == "A100-SXM4-40GB"
    legacy = smi.parse_list(read(FOLDER / "a100-40gb-mig-3g-2g-1g-L-legacy-uuid-r450.txt"))
    assert [(m.gi, m.ci) for m in legacy[0].instances] == [(2, 0), (3, 0), (9, 0)]
    mixed = smi.parse_list(read(FOLDER / "a100-80gb-4gpu-mixed-mig-3x2g.20gb-L-r510.txt"))
    assert mixed[1].instances[2].id == "1:2" and mixed[1].instances[2].profile == "2g.20gb"
    crlf = read(FOLDER / "h100-80gb-mig-7x1g.10gb-L.txt")
    assert "\r\n" in crlf and smi.parse_list(crlf)[0].name == "NVIDIA H100 80GB HBM3"


# -- csv: the field list from SOURCES.md --------------------------------------------------


def _commands() -> dict[str, str]:
    """File name -> the command its SOURCES.md row names ("same query as" rows resolved)."""
    commands: dict[str, str] = {}
    last_query: dict[str, str] = {}
    sources = FOLDER / "SOURCES.md"
    if not sources.is_file():
        return commands
    for line in sources.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if len(cells) < 3 or not cells[0].endswith(".csv"):
            continue
        kind = "compute-apps" if "compute-apps" in cells[0] else "gpu"
        command = cells[2].strip("`")
        if "--query-" in command:
            last_query[kind] = command
        elif "same query as" in command and kind in last_query:
            command = last_query[kind]
        commands[cells[0]] = command
    return commands


def _fields_for(name: str) -> tuple[list[str] | None, str]:
    command = _commands().get(name, "")
    match = re.search(r"--query-[a-z-]+=([\w.,]+)", command)
    fields = match.group(1).split(",") if match else None
    return (fields if "noheader" in command else None), command


@pytest.mark.parametrize("path", CSV_FILES, ids=_ids(CSV_FILES))
def test_csv_capture_parses(path):
    fields, command = _fields_for(path.name)
    text = read(path)
    rows = smi.parse_query(text, fields)
    data_lines = [line for line in text.splitlines() if line.strip()]
    assert len(rows) == len(data_lines) - (0 if fields else 1)
    names = fields or list(rows[0])
    assert all(list(row) == names for row in rows)  # no row error, every field present
    if match := re.search(r"--query-[a-z-]+=([\w.,]+)", command):
        if fields is None and "<every field" not in command:  # a header that must match
            assert names == match.group(1).split(",")
    for row in rows:
        if "uuid" in row:
            assert row["uuid"].startswith("GPU-")
        if "mig.mode.current" in row:
            assert row["mig.mode.current"] in ("Enabled", "Disabled")
        for key in ("memory.total", "memory.used", "used_gpu_memory"):
            if row.get(key) is not None:
                assert row[key].isdigit(), (key, row[key])  # units stripped
        if "utilization.gpu" in row and row.get("mig.mode.current") == "Enabled":
            assert row["utilization.gpu"] is None  # [N/A] under MIG


def test_csv_known_values():
    (row,) = smi.parse_query(read(FOLDER / "h100-80gb-mig-disabled-query-gpu.csv"),
                             _fields_for("h100-80gb-mig-disabled-query-gpu.csv")[0])
    assert (row["index"], row["utilization.gpu"], row["memory.total"]) == ("0", "100", "81559")
    (row,) = smi.parse_query(read(FOLDER / "h100-80gb-mig-3g-2g-2x1g-query-gpu-allfields.csv"),
                             None)
    assert (row["mig.mode.current"], row["memory.used"], row["utilization.gpu"]) == (
        "Enabled", "11125", None)
    (row,) = smi.parse_query(read(FOLDER / "a100-40gb-mig-enabled-query-busid-migmode.csv"),
                             ["pci.bus_id", "mig.mode.current"])
    assert row == {"pci.bus_id": "00000000:36:00.0", "mig.mode.current": "Enabled"}


# -- errors and everything else ----------------------------------------------------------------


@pytest.mark.parametrize("path", ERROR_FILES, ids=_ids(ERROR_FILES))
def test_error_capture_is_a_hardware_error_with_its_words(path):
    text = read(path)
    first_line = text.strip().splitlines()[0].strip()
    with pytest.raises(HardwareError) as info:
        smi.parse_list(text)
    assert first_line in info.value.message and info.value.hint
    runner_output = (255, text, "")
    with pytest.raises(HardwareError) as info:
        smi.read_inventory(lambda args: runner_output)
    assert first_line in info.value.message and info.value.hint


@pytest.mark.parametrize("path", OTHER_FILES, ids=_ids(OTHER_FILES))
def test_other_capture_is_a_clean_parse_or_a_hardware_error(path):
    text = read(path)
    try:
        gpus = smi.parse_list(text)
    except HardwareError as exc:
        assert exc.message and exc.hint
        return
    # a clean parse may only report devices that are really listed in -L form
    assert sum(len(g.instances) for g in gpus) == _count_lines(text, r"MIG \S+\s+Device\s+\d+:")
    assert len(gpus) == _count_lines(text, r"GPU \d+: .* \(UUID: ")
