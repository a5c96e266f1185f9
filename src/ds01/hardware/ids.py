"""Device ids: ``"0"`` for a whole GPU, ``"1:2"`` for MIG device 2 of GPU 1. Sorted naturally."""

from __future__ import annotations

_ID = r"^(0|[1-9][0-9]*)(?::(0|[1-9][0-9]*))?$"
_id_pattern = None  # compiled on first use: the CLI's start-up path does not import ``re``


def is_device_id(text: str) -> bool:
    global _id_pattern
    if _id_pattern is None:
        import re

        _id_pattern = re.compile(_ID)
    return bool(_id_pattern.match(text))


def id_key(device_id: str) -> tuple[int, ...]:
    """Natural sort key: "2:0" < "10:0"; a whole GPU "1" sorts before its instances "1:0"."""
    return tuple(int(part) for part in device_id.split(":"))


def is_mig_id(device_id: str) -> bool:
    return ":" in device_id


def gpu_of(device_id: str) -> int:
    return int(device_id.split(":", 1)[0])
