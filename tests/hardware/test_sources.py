"""sources.load_inventory: which source a --hardware value picks, and "auto" never simulates."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ds01.errors import ConfigError, HardwareError, UsageError
from ds01.hardware import sources
from tests.fakes import fake_pynvml
from tests.hardware.conftest import Replay


def broken_runner(args):
    return 255, "Failed to initialize NVML: Driver/library version mismatch\n", ""


def test_auto_prefers_nvml():
    runner = Replay("list-note-server.txt", "query-note-server.csv")
    inv = sources.load_inventory("auto", smi_runner=runner,
                                 nvml_module=fake_pynvml.scenario("a100-80gb-mixed"))
    assert inv.source == "nvml" and [len(g.instances) for g in inv.gpus] == [0, 3, 3, 3]
    assert runner.calls == []


def test_auto_falls_back_to_nvidia_smi_and_says_why():
    runner = Replay("list-note-server.txt", "query-note-server.csv")
    inv = sources.load_inventory("auto", smi_runner=runner,
                                 nvml_module=fake_pynvml.scenario("library-not-found"))
    assert inv.source == "nvidia-smi" and [len(g.instances) for g in inv.gpus] == [0, 4, 4, 4]
    assert "NVML Shared Library Not Found" in inv.warnings[0]


def test_auto_with_neither_names_both_and_suggests_a_file():
    with pytest.raises(HardwareError) as info:
        sources.load_inventory("auto", smi_runner=broken_runner,
                               nvml_module=fake_pynvml.scenario("driver-mismatch"))
    message, hint = info.value.message, info.value.hint
    assert "NVML:" in message and "NVML/RM version mismatch" in message
    assert "nvidia-smi:" in message and "Driver/library version mismatch" in message
    assert "--hardware FILE" in hint and "reboot" in hint


def test_auto_on_this_machine_without_a_driver(monkeypatch, tmp_path):
    """Real pynvml, and no nvidia-smi on PATH: an error, never a simulated server."""
    monkeypatch.setenv("PATH", str(tmp_path))
    try:
        inv = sources.load_inventory("auto")
    except HardwareError as exc:
        assert "nvidia-smi not found on PATH" in exc.message and "--hardware FILE" in exc.hint
    else:  # a machine with a GPU driver: the real thing
        assert inv.source == "nvml"


def test_explicit_sources():
    module = fake_pynvml.scenario("note-server")
    assert sources.load_inventory("nvml", nvml_module=module).source == "nvml"
    runner = Replay("list-t4.txt", "query-t4-unknown-values.csv")
    assert sources.load_inventory(" nvidia-smi ", smi_runner=runner).source == "nvidia-smi"
    with pytest.raises(HardwareError, match="NVML could not start"):
        sources.load_inventory("nvml", nvml_module=fake_pynvml.scenario("driver-mismatch"))
    with pytest.raises(HardwareError, match="Driver/library version mismatch"):
        sources.load_inventory("nvidia-smi", smi_runner=broken_runner)


def test_builtin_and_files(tmp_path):
    assert sources.load_inventory("builtin:priority-demo").source == "builtin:priority-demo"
    path = tmp_path / "mine.yaml"
    path.write_text("gpus:\n  - {index: 0, name: Tesla T4, memory_mib: 15360}\n")
    inv = sources.load_inventory(str(path))
    assert inv.source == f"file:{path}" and inv.gpus[0].name == "Tesla T4"
    path.write_text("gpus:\n  - {index: 0, name: Tesla T4, memory_mib: lots}\n")
    with pytest.raises(ConfigError):
        sources.load_inventory(str(path))


def test_bad_specs_are_usage_errors(tmp_path):
    with pytest.raises(UsageError) as info:
        sources.load_inventory(str(tmp_path / "missing.yaml"))
    assert "no such file" in info.value.message and "note-server" in info.value.hint
    with pytest.raises(UsageError):
        sources.load_inventory("builtin:nope")
    with pytest.raises(UsageError):
        sources.load_inventory("  ")
    with pytest.raises(UsageError):
        sources.load_inventory(str(tmp_path))  # a directory is not a description file


def test_imports_stay_light():
    """Importing the hardware room loads neither yaml nor pynvml (the CLI starts often)."""
    code = ("import sys; import ds01.hardware.sources, ds01.hardware.smi, ds01.hardware.nvml, "
            "ds01.hardware.simfile; print(sorted(m for m in ('yaml', 'pynvml', 'subprocess') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
