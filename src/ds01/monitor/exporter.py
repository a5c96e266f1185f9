"""Prometheus exporter: ``/metrics`` computed on every scrape from the store and the hardware.

Counters (allocations, refusals, releases, the decision-time histogram) are counted from the
store's event history, so they survive exporter restarts and include every process's
decisions. Gauges come from the current allocations and ``ds01.service.gpu.status``. A value
the hardware does not report (memory in use, utilization) is left out, never exported as 0.

Per-user series are exported only when ``monitoring.per_user_metrics`` is true.
``prometheus_client`` is imported only when the exporter is built.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from ds01.records import record, field

from ds01.errors import Ds01Error, UsageError
from ds01.monitor.report import ALLOCATED, REJECTED, RELEASED, device_units

MIB = 1024 * 1024
DECISION_META_KEY = "decision_seconds"
DECISION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0, 30.0)
DEFAULT_LISTEN = "127.0.0.1:9401"


@record(frozen=False)
class HistoryCounts:
    """Counts over the whole event history (the source of every counter)."""

    allocations: Counter = field(default_factory=Counter)  # group -> n
    refusals: Counter = field(default_factory=Counter)  # (reason, group) -> n
    releases: Counter = field(default_factory=Counter)  # group -> n
    user_allocations: Counter = field(default_factory=Counter)  # user -> n
    user_refusals: Counter = field(default_factory=Counter)  # (user, reason) -> n
    # decision durations: how many fell at or below each of DECISION_BUCKETS, count and sum
    decision_le: list = field(default_factory=lambda: [0] * len(DECISION_BUCKETS))
    decision_count: int = 0
    decision_sum: float = 0.0
    last_id: int = 0  # the newest event counted
    last_ts: str | None = None  # and its recorded time

    def add_decision(self, seconds: float) -> None:
        for i, bound in enumerate(DECISION_BUCKETS):
            if seconds <= bound:
                self.decision_le[i] += 1
        self.decision_count += 1
        self.decision_sum += seconds


def count_history(events: Iterable, into: HistoryCounts | None = None) -> HistoryCounts:
    """Count allocations, refusals and releases and the decision durations that exist;
    ``into`` continues earlier counts with newer events."""
    c = HistoryCounts() if into is None else into
    for ev in events:
        if (ev.id or 0) > c.last_id:
            c.last_id, c.last_ts = ev.id, ev.ts
        if ev.event == ALLOCATED:
            c.allocations[ev.group] += 1
            c.user_allocations[ev.user] += 1
        elif ev.event == REJECTED:
            reason = ev.reason or "UNKNOWN"
            c.refusals[(reason, ev.group)] += 1
            c.user_refusals[(ev.user, reason)] += 1
        elif ev.event == RELEASED:
            c.releases[ev.group] += 1
            continue
        else:
            continue
        seconds = (ev.meta or {}).get(DECISION_META_KEY)
        if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and seconds >= 0:
            c.add_decision(float(seconds))
    return c


def histogram_buckets(counts: HistoryCounts) -> list[tuple[str, int]]:
    """Cumulative ``(le, count)`` pairs, ending with ``+Inf``."""
    out = [(repr(float(b)), n) for b, n in zip(DECISION_BUCKETS, counts.decision_le)]
    out.append(("+Inf", counts.decision_count))
    return out


class HistoryTally:
    """The counters, kept up to date between scrapes: each scrape reads only the events added
    since the last one (the history only grows), so a long history costs once, not per scrape.
    When the last event counted is no longer there with the same time (the store was replaced
    or restored from a backup), everything is counted again from the start."""

    def __init__(self):
        import threading

        self._lock = threading.Lock()
        self._counts = HistoryCounts()

    def update(self, tx) -> HistoryCounts:
        with self._lock:
            last = self._counts
            if last.last_id and tx.event_stamp(last.last_id) != last.last_ts:
                self._counts = HistoryCounts()
            events = tx.events(kinds=(ALLOCATED, REJECTED, RELEASED),
                               after_id=self._counts.last_id)
            return count_history(events, into=self._counts)


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9401`` for IPv6) as (host, port)."""
    host, sep, port = str(text).strip().rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"--listen {text!r} is not HOST:PORT",
                         hint=f"for example {DEFAULT_LISTEN} (or [::1]:9401)")
    return host, int(port)


class Ds01Collector:
    """A ``prometheus_client`` collector; ``make_service()`` gives a fresh Service per scrape
    (fresh hardware readings, and a store opened in the scraping thread)."""

    def __init__(self, make_service: Callable[[], object]):
        self._make_service = make_service
        self._tally = HistoryTally()
        self.last_errors: dict[str, str] = {}

    def describe(self) -> list:
        return []  # computed per scrape; nothing to describe up front

    def collect(self) -> Iterator:
        from prometheus_client.core import GaugeMetricFamily

        errors: dict[str, str] = {}
        svc = self._make_service()
        try:
            try:
                per_user = bool(svc.config.monitoring.per_user_metrics)
            except Ds01Error as exc:  # no per-user series while the switch cannot be read
                errors["config"], per_user = exc.message, False
            for part, fn in PARTS.items():
                try:
                    families = list(fn(svc, per_user, self._tally))
                except Ds01Error as exc:
                    errors[part] = exc.message
                    continue
                yield from families
        finally:
            svc.close()
        self.last_errors = errors
        up = GaugeMetricFamily("ds01_collect_success",
                               "1 when this part of the scrape could be computed, else 0",
                               labels=["part"])
        for part in ("config", *PARTS):
            up.add_metric([part], 0.0 if part in errors else 1.0)
        yield up


def _counter(name: str, doc: str, labels: list[str], counts: Counter):
    """A counter family with one sample per key of ``counts`` (a tuple key: several labels),
    in key order."""
    from prometheus_client.core import CounterMetricFamily

    fam = CounterMetricFamily(name, doc, labels=labels)
    for key, n in sorted(counts.items()):
        fam.add_metric(list(key) if isinstance(key, tuple) else [key], n)
    return fam


def _history_families(svc, per_user: bool, tally: HistoryTally) -> Iterator:
    from prometheus_client.core import HistogramMetricFamily

    with svc.store.read() as tx:
        counts = tally.update(tx)
    yield _counter("ds01_allocations_total", "Allocations granted", ["group"],
                   counts.allocations)
    yield _counter("ds01_refusals_total", "Allocation requests refused", ["reason", "group"],
                   counts.refusals)
    yield _counter("ds01_releases_total", "Allocations released", ["group"], counts.releases)
    hist = HistogramMetricFamily("ds01_decision_seconds",
                                 "Time to decide and record an allocation request")
    hist.add_metric([], histogram_buckets(counts), counts.decision_sum)
    yield hist
    if per_user:
        yield _counter("ds01_user_allocations_total", "Allocations granted, per user",
                       ["user"], counts.user_allocations)
        yield _counter("ds01_user_refusals_total", "Requests refused, per user",
                       ["user", "reason"], counts.user_refusals)


def _held_gauges(held: dict, label: str, names: tuple[str, str], docs: tuple[str, str]):
    """The units-held and containers-held gauges, one sample per ``label`` value of ``held``
    (value -> [units, containers])."""
    from prometheus_client.core import GaugeMetricFamily

    units = GaugeMetricFamily(names[0], docs[0], labels=[label])
    containers = GaugeMetricFamily(names[1], docs[1], labels=[label])
    for key, (n_units, n_containers) in sorted(held.items()):
        units.add_metric([key], n_units)
        containers.add_metric([key], n_containers)
    return units, containers


def _holding_families(svc, per_user: bool, _tally=None) -> Iterator:
    upg = svc.config.gpu.units_per_gpu
    with svc.store.read() as tx:
        rows = tx.allocations()
    groups = {g.name: [0, 0] for g in svc.config.groups}  # name -> [units, containers]
    users: dict[str, list] = {}
    for r in rows:
        units = sum(device_units(d, upg) for d in r.devices)
        for table, key in ((groups, r.group), (users, r.user)):
            slot = table.setdefault(key, [0, 0])
            slot[0] += units
            slot[1] += 1
    yield from _held_gauges(
        groups, "group", ("ds01_units_held", "ds01_containers_held"),
        ("GPU units held now (MIG instance = 1, whole GPU = gpu.units_per_gpu)",
         "Containers holding an allocation now (GPU or CPU-only)"))
    if per_user:
        yield from _held_gauges(
            users, "user", ("ds01_user_units_held", "ds01_user_containers_held"),
            ("GPU units held now, per user", "Containers holding an allocation now, per user"))


def _device_families(svc, per_user: bool, _tally=None) -> Iterator:
    from prometheus_client.core import GaugeMetricFamily

    from ds01.service.gpu import status

    st = status(svc)
    fams = {
        "containers": GaugeMetricFamily("ds01_device_containers", "Containers on the device",
                                        labels=["device", "gpu", "profile"]),
        "allocatable": GaugeMetricFamily("ds01_device_allocatable", "1 when ds01 may allocate "
                                         "the device, 0 otherwise", labels=["device"]),
        "units": GaugeMetricFamily("ds01_device_units", "Units the device counts as",
                                   labels=["device"]),
        "used": GaugeMetricFamily("ds01_device_memory_used_bytes", "Device memory in use "
                                  "(absent when not reported)", labels=["device"]),
        "total": GaugeMetricFamily("ds01_device_memory_total_bytes", "Device memory size",
                                   labels=["device"]),
        "util": GaugeMetricFamily("ds01_device_utilization_ratio", "Device utilization, 0 to 1 "
                                  "(absent when not reported)", labels=["device"]),
    }
    for ds in st.devices:
        d = ds.device
        fams["containers"].add_metric([d.id, str(d.gpu), d.profile or "whole"],
                                      len(ds.containers))
        fams["allocatable"].add_metric([d.id], 1.0 if d.allocatable else 0.0)
        fams["units"].add_metric([d.id], d.units)
        if d.memory_used_mib is not None:
            fams["used"].add_metric([d.id], d.memory_used_mib * MIB)
        if d.memory_total_mib is not None:
            fams["total"].add_metric([d.id], d.memory_total_mib * MIB)
        if d.utilization is not None:
            fams["util"].add_metric([d.id], d.utilization / 100.0)
    yield from fams.values()


PARTS = {"history": _history_families, "holdings": _holding_families,
         "devices": _device_families}


def registry_for(make_service: Callable[[], object]):
    """A fresh ``CollectorRegistry`` holding only the ds01 collector, and the collector."""
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry(auto_describe=False)
    collector = Ds01Collector(make_service)
    registry.register(collector)
    return registry, collector


def serve(make_service: Callable[[], object], host: str, port: int):
    """Start the HTTP server in a daemon thread; return ``(server, thread, collector)``.

    Port 0 picks a free port (``server.server_port`` tells which).
    """
    from prometheus_client import start_http_server

    registry, collector = registry_for(make_service)
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                         hint="choose a free port with --listen HOST:PORT") from None
    return server, thread, collector
