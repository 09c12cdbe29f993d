"""Prometheus metrics built for microsecond decisions.

``prometheus_client``'s own Histogram takes a lock and walks its buckets on every
``observe()``: a few microseconds, as much as a decision. So the request path records into
plain per-series arrays (a bisect and two additions, no lock: the event loop is the only
writer) and a custom collector turns them into exposition at scrape time. Everything that is
state rather than traffic — the snapshot, the cache counters, load failures, dropped log lines
— is read at scrape time too, costing the request path nothing.

No principal, resource or action labels: their cardinality is the caller's to choose.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from ..engine.cache import DecisionCache
from ..store import SnapshotStore

# Seconds: 1 µs … 100 ms for decisions; 10 µs … 10 s for whole RPCs (version waits, pushes).
DECISION_BUCKETS = (
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1,
)  # fmt: skip
RPC_BUCKETS = (
    1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
)  # fmt: skip


class FastHistogram:
    """Bucket counts and a sum per label set, written without locks by one thread."""

    __slots__ = ("bounds", "series")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.series: dict[tuple[str, ...], list[float]] = {}  # labels → [counts…, +Inf, sum]

    def observe(self, labels: tuple[str, ...], seconds: float) -> None:
        row = self.series.get(labels)
        if row is None:
            row = self.series[labels] = [0.0] * (len(self.bounds) + 2)
        row[bisect.bisect_left(self.bounds, seconds)] += 1
        row[-1] += seconds

    def family(self, name: str, doc: str, label_names: list[str]) -> HistogramMetricFamily:
        fam = HistogramMetricFamily(name, doc, labels=label_names)
        for labels, row in list(self.series.items()):
            row = list(row)  # a consistent copy (the writer may be adding)
            cumulative = 0.0
            buckets: list[tuple[str, float]] = []
            for bound, count in zip((*self.bounds, float("inf")), row[:-1], strict=True):
                cumulative += count
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
            fam.add_metric(list(labels), buckets, row[-1])
        return fam


class Counts:
    """Plain counters per label value, written without locks by one thread."""

    __slots__ = ("values",)

    def __init__(self) -> None:
        self.values: dict[tuple[str, ...], int] = {}

    def inc(self, labels: tuple[str, ...], n: int = 1) -> None:
        self.values[labels] = self.values.get(labels, 0) + n

    def family(self, name: str, doc: str, label_names: list[str]) -> CounterMetricFamily:
        fam = CounterMetricFamily(name, doc, labels=label_names)
        for labels, value in list(self.values.items()):
            fam.add_metric(list(labels), value)
        return fam


class Metrics(Collector):
    """The sidecar's metrics; ``collect`` is called by prometheus_client at scrape time."""

    def __init__(
        self,
        store: SnapshotStore,
        *,
        cache: DecisionCache | None = None,
        memo_hits: Callable[[], int] | None = None,
        dropped: Callable[[], int] | None = None,
        write_errors: Callable[[], int] | None = None,
    ) -> None:
        self.store = store
        self.cache = cache
        self.memo_hits = memo_hits
        self.dropped = dropped
        self.write_errors = write_errors
        self.decision_seconds = FastHistogram(DECISION_BUCKETS)  # (rpc, decision)
        self.rpc_seconds = FastHistogram(RPC_BUCKETS)  # (rpc, code)
        self.decisions = Counts()  # (decision,)
        self.assume_role = Counts()  # (result,)

    # -- the request path (cheap) ----------------------------------------------------------------

    def decision(self, rpc: str, decision: str, seconds: float) -> None:
        self.decision_seconds.observe((rpc, decision), seconds)
        key = (decision,)
        values = self.decisions.values
        values[key] = values.get(key, 0) + 1

    def rpc(self, rpc: str, code: str, seconds: float) -> None:
        self.rpc_seconds.observe((rpc, code), seconds)

    # -- scrape time -------------------------------------------------------------------------------

    def collect(self) -> Iterator[Any]:
        yield self.decision_seconds.family(
            "iam_sidecar_decision_duration_seconds",
            "Engine time of one decision (cache included), by RPC and outcome",
            ["rpc", "decision"],
        )
        yield self.rpc_seconds.family(
            "iam_sidecar_rpc_duration_seconds",
            "Handler time of an RPC, by RPC and status code",
            ["rpc", "code"],
        )
        yield self.decisions.family(
            "iam_sidecar_decisions",
            "Decisions answered, by outcome (batch items counted one by one)",
            ["decision"],
        )
        yield self.assume_role.family(
            "iam_sidecar_assume_role",
            "AssumeRole calls by result (success or the STS error code)",
            ["result"],
        )
        cache = CounterMetricFamily(
            "iam_sidecar_cache_requests",
            "Decision-cache lookups: hit, miss, or memo (a batch item answered by its exact bytes)",
            labels=["result"],
        )
        if self.cache is not None:
            cache.add_metric(["hit"], self.cache.hits)
            cache.add_metric(["miss"], self.cache.misses)
        if self.memo_hits is not None:
            cache.add_metric(["memo"], self.memo_hits())
        yield cache
        dropped = CounterMetricFamily(
            "iam_sidecar_decision_log_dropped", "Decision-log entries dropped because the queue was full"
        )
        dropped.add_metric([], self.dropped() if self.dropped is not None else 0)
        yield dropped
        errors = CounterMetricFamily(
            "iam_sidecar_decision_log_write_errors",
            "Decision-log entries the writer could not format or write (e.g. a full disk)",
        )
        errors.add_metric([], self.write_errors() if self.write_errors is not None else 0)
        yield errors
        yield from self._snapshot_families()

    def _snapshot_families(self) -> Iterator[Any]:
        st = self.store.status()
        serving = st.version is not None

        def gauge(name: str, doc: str, value: float | None) -> GaugeMetricFamily:
            fam = GaugeMetricFamily(name, doc)
            if value is not None:
                fam.add_metric([], value)
            return fam

        yield gauge("iam_sidecar_snapshot_version", "Version of the serving snapshot", st.version)
        yield gauge(
            "iam_sidecar_snapshot_activation_id", "Activation id of the serving snapshot", st.activation_id
        )
        yield gauge(
            "iam_sidecar_snapshot_loaded_timestamp_seconds",
            "When the serving snapshot was activated (Unix time)",
            st.loaded_at,
        )
        yield gauge(
            "iam_sidecar_snapshot_compile_seconds",
            "Compile time of the serving snapshot (after loading and validating it)",
            st.compile_seconds,
        )
        yield gauge(
            "iam_sidecar_snapshot_statements",
            "Policy statements in the serving snapshot",
            st.counts.get("statements") if serving else None,
        )
        yield gauge("iam_sidecar_serving", "1 once a snapshot is active, else 0", 1 if serving else 0)
        failures = CounterMetricFamily(
            "iam_sidecar_snapshot_load_failures",
            "Snapshots refused or unreadable, by reason (ValidationFailed, VersionConflict, …)",
            labels=["reason"],
        )
        for reason, count in sorted(self.store.failure_counts().items()):
            failures.add_metric([reason], count)
        yield failures


def registry_for(metrics: Metrics) -> CollectorRegistry:
    """A registry of our metrics plus the process and platform collectors."""
    registry = CollectorRegistry()
    registry.register(metrics)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


def serve_metrics(registry: CollectorRegistry, address: str) -> tuple[Any, str]:
    """Start ``/metrics`` on HOST:PORT in a daemon thread; (server, bound address)."""
    host, _, port = address.rpartition(":")
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host  # [::] → ::
    server, _thread = start_http_server(int(port), addr=bare, registry=registry)
    bound_port = server.server_address[1]
    return server, f"{host}:{bound_port}"
