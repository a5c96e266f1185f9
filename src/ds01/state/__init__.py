"""State: the SQLite store of allocations and events, and the greppable allocation log."""

from ds01.state.log import append, format_event
from ds01.state.schema import LATEST_VERSION
from ds01.state.store import AllocationRow, Event, Store, Txn

__all__ = ["AllocationRow", "Event", "LATEST_VERSION", "Store", "Txn", "append", "format_event"]
