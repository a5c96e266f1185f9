"""The decision: pure functions over snapshots (no I/O, no clock, no printing).

``devices.flatten`` turns an inventory into allocatable devices (contract section 1);
``allocate.decide`` answers one request (contract section 3).
"""
