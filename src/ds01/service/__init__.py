"""Use cases that tie the rooms together: allocate, release, status, limits (and, later,
running containers). ``Service`` holds one request's worth of loaded state."""

from ds01.service.core import Service

__all__ = ["Service"]
