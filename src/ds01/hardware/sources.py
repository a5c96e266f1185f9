"""Pick the hardware source named by ``--hardware`` / ``DS01_HARDWARE`` and read the inventory.

=================  ===========================================================================
``auto``           NVML, else nvidia-smi; with neither, an error that says why each failed.
                   Never a simulated server: that must be asked for by name.
``nvml``           NVML through nvidia-ml-py (``hardware.nvml``)
``nvidia-smi``     the nvidia-smi command (``hardware.smi``)
``builtin:NAME``   a simulated server shipped with ds01 (``hardware.simfile.builtin_names()``)
any other text     the path of a hardware description file (``hardware.simfile``)
=================  ===========================================================================

The sources are imported only when used, so importing this module stays cheap.
"""

from __future__ import annotations

from ds01.records import replace
from pathlib import Path

from ds01.errors import HardwareError, UsageError
from ds01.hardware.model import Inventory

SPECS = ("auto", "nvml", "nvidia-smi", "builtin:NAME", "FILE")


def _nvml(module) -> Inventory:
    from ds01.hardware import nvml

    return nvml.read_inventory(module)


def _smi(runner) -> Inventory:
    from ds01.hardware import smi

    return smi.read_inventory(runner)


def _auto(smi_runner, nvml_module) -> Inventory:
    try:
        return _nvml(nvml_module)
    except HardwareError as nvml_error:
        first = nvml_error
    try:
        inventory = _smi(smi_runner)
    except HardwareError as smi_error:
        hints = [f"{who}: {err.hint}" for who, err in (("NVML", first), ("nvidia-smi", smi_error))
                 if err.hint]
        raise HardwareError(
            "no GPU source works: NVML: " + first.message + "; nvidia-smi: " + smi_error.message,
            hint="; ".join(hints + ["to run ds01 on a simulated server instead, pass "
                                    "--hardware FILE (a hardware description) or "
                                    "--hardware builtin:NAME"]),
        ) from None
    note = f"NVML is unavailable ({first.message}); the inventory comes from nvidia-smi"
    return replace(inventory, warnings=(note,) + inventory.warnings)


def load_inventory(spec: str, *, smi_runner=None, nvml_module=None) -> Inventory:
    """The inventory from the source ``spec`` names (see the module docstring)."""
    spec = spec.strip()
    if spec == "auto":
        return _auto(smi_runner, nvml_module)
    if spec == "nvml":
        return _nvml(nvml_module)
    if spec == "nvidia-smi":
        return _smi(smi_runner)
    if not spec:
        raise UsageError("the hardware source is empty", hint=f"use one of: {', '.join(SPECS)}")
    from ds01.hardware import simfile

    if spec.startswith("builtin:"):
        return simfile.builtin(spec.split(":", 1)[1])
    if not Path(spec).is_file():
        raise UsageError(
            f"hardware source {spec!r} is not auto, nvml, nvidia-smi or builtin:NAME, and there "
            "is no such file",
            hint="give the path of a hardware description file (see "
            f"examples/note-server.yaml), or builtin:NAME with NAME one of "
            f"{', '.join(simfile.builtin_names())}",
        )
    return simfile.load_description(spec)
