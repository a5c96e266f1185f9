"""The decision with the other users' containers summed up per device (``Snapshot.load``, as
the store computes it in SQL) is the decision with every container listed."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from ds01.policy.allocate import Snapshot, decide
from ds01.policy.model import Holding, Request
from ds01.policy.placement import device_load
from ds01.state import AllocationRow, Store
from tests.policy.test_properties import replay, worlds


def reduced(snap: Snapshot, request: Request) -> Snapshot:
    """What ``service.gpu.current_snapshot`` builds: the requester's and the container's
    holdings in full, everything in the load."""
    mine = tuple(h for h in snap.holdings
                 if h.user == request.user or h.container == request.container)
    return Snapshot(snap.devices, mine, snap.gpu, snap.reservations,
                    load=device_load(snap.holdings))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_summed_up_snapshot_decides_the_same(world):
    for snap, request, who, now, d in replay(world):
        assert decide(reduced(snap, request), request, who, now) == d


def test_store_sums_up_as_the_policy_does(tmp_path):
    with Store(tmp_path / "state.db") as store:
        with store.write() as tx:
            for i, (devices, priority) in enumerate([(("0:0",), 10), (("0:0", "0:1"), 50),
                                                     ((), 90), (("1",), 5), (("0:1",), 20),
                                                     (("0:0", "0:1"), 30)]):
                tx.insert(AllocationRow(
                    container=f"c{i}", user=f"u{i % 2}", group="g", priority=priority,
                    devices=devices, uuids=devices, reserved=devices[:1], units=1,
                    since=f"2026-12-01T09:0{i}:00+00:00"))
        with store.read() as tx:
            everyone = [Holding._make(h) for h in tx.holdings()]
            assert tx.device_load() == device_load(everyone) == {
                "0:0": (3, 50), "0:1": (3, 50), "1": (1, 5)}
            mine = tx.holdings(user="u0", container="c1")
            assert [h[0] for h in mine] == ["c0", "c1", "c2", "c4"]  # u0's, and c1
            assert mine[1] == ("c1", "u1", 50, ("0:0", "0:1"), ("0:0",),
                               "2026-12-01T09:01:00+00:00")
