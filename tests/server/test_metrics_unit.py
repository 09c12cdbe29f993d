"""Unit tests of the lock-free metric primitives (FastHistogram, Counts) and of the Metrics
collector over a real SnapshotStore: "le" bucket placement at the bounds, sums, cumulative
exposition, several label sets, and the snapshot gauges before and after an activation."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from sidecar.server.metrics import DECISION_BUCKETS, RPC_BUCKETS, Counts, FastHistogram, Metrics
from sidecar.store import SnapshotStore

from .support import example_doc, invalid_doc, to_bytes

BOUNDS = (0.001, 0.01, 0.1, 1.0)
INF = float("inf")


def buckets_of(fam: object, labels: dict[str, str]) -> list[tuple[float, float]]:
    """(upper bound, cumulative count) of one series, in exposition order."""
    return [
        (float(s.labels["le"]), s.value)
        for s in fam.samples  # type: ignore[attr-defined]
        if s.name.endswith("_bucket") and {k: v for k, v in s.labels.items() if k != "le"} == labels
    ]


def sample(fam: object, suffix: str, labels: dict[str, str]) -> float:
    found = [
        s.value
        for s in fam.samples  # type: ignore[attr-defined]
        if s.name.endswith(suffix) and s.labels == labels
    ]
    assert len(found) == 1, (suffix, labels, found)
    return float(found[0])


def per_bucket(cumulative: list[tuple[float, float]]) -> list[float]:
    """Non-cumulative counts from cumulative buckets."""
    out, previous = [], 0.0
    for _bound, count in cumulative:
        out.append(count - previous)
        previous = count
    return out


# -- FastHistogram -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "bucket"),
    [
        (0.0, 0),
        (0.0005, 0),
        (0.001, 0),  # equal to a bound: in that bound's bucket ("le")
        (0.0010000001, 1),
        (0.01, 1),
        (0.05, 2),
        (0.1, 2),
        (1.0, 3),  # the last finite bound
        (1.0000001, 4),  # above every bound: +Inf only
        (1e9, 4),
    ],
)
def test_bucket_placement_is_le(value: float, bucket: int) -> None:
    h = FastHistogram(BOUNDS)
    h.observe(("x",), value)
    fam = h.family("t_seconds", "doc", ["k"])
    cumulative = buckets_of(fam, {"k": "x"})
    assert [b for b, _ in cumulative] == [*BOUNDS, INF]
    expected = [0.0] * (len(BOUNDS) + 1)
    expected[bucket] = 1.0
    assert per_bucket(cumulative) == expected
    # cumulative: every bucket at or above the value's bound counts it
    assert [c for _, c in cumulative] == [1.0 if i >= bucket else 0.0 for i in range(len(BOUNDS) + 1)]
    assert sample(fam, "_count", {"k": "x"}) == 1.0
    assert sample(fam, "_sum", {"k": "x"}) == value


def test_every_bound_lands_in_its_own_bucket() -> None:
    for bounds in (BOUNDS, DECISION_BUCKETS, RPC_BUCKETS):
        h = FastHistogram(bounds)
        for b in bounds:
            h.observe(("a",), b)
        cumulative = buckets_of(h.family("t", "doc", ["k"]), {"k": "a"})
        assert per_bucket(cumulative) == [1.0] * len(bounds) + [0.0]


def test_sum_count_and_cumulative_buckets() -> None:
    h = FastHistogram(BOUNDS)
    values = [0.0002, 0.001, 0.002, 0.02, 0.02, 0.5, 3.0, 7.5]
    for v in values:
        h.observe(("GET",), v)
    fam = h.family("req_seconds", "doc", ["method"])
    assert fam.type == "histogram"
    cumulative = buckets_of(fam, {"method": "GET"})
    assert cumulative == [(0.001, 2.0), (0.01, 3.0), (0.1, 5.0), (1.0, 6.0), (INF, 8.0)]
    counts = [c for _, c in cumulative]
    assert counts == sorted(counts)  # never decreasing
    assert sample(fam, "_count", {"method": "GET"}) == len(values) == cumulative[-1][1]
    assert sample(fam, "_sum", {"method": "GET"}) == pytest.approx(sum(values))


def test_several_label_sets_are_separate_series() -> None:
    h = FastHistogram(BOUNDS)
    h.observe(("Authorize", "Allow"), 0.0005)
    h.observe(("Authorize", "Allow"), 0.05)
    h.observe(("Authorize", "ImplicitDeny"), 0.5)
    h.observe(("AuthorizeBatch", "Allow"), 2.0)
    fam = h.family("d_seconds", "doc", ["rpc", "decision"])
    a = {"rpc": "Authorize", "decision": "Allow"}
    d = {"rpc": "Authorize", "decision": "ImplicitDeny"}
    b = {"rpc": "AuthorizeBatch", "decision": "Allow"}
    assert per_bucket(buckets_of(fam, a)) == [1.0, 0.0, 1.0, 0.0, 0.0]
    assert per_bucket(buckets_of(fam, d)) == [0.0, 0.0, 0.0, 1.0, 0.0]
    assert per_bucket(buckets_of(fam, b)) == [0.0, 0.0, 0.0, 0.0, 1.0]
    assert sample(fam, "_count", a) == 2.0
    assert sample(fam, "_sum", a) == pytest.approx(0.0505)
    assert sample(fam, "_count", d) == 1.0
    assert sample(fam, "_count", b) == 1.0
    assert sample(fam, "_sum", b) == 2.0
    assert {frozenset(s.labels.items()) for s in fam.samples if s.name.endswith("_count")} == {
        frozenset(x.items()) for x in (a, d, b)
    }


def test_an_unobserved_histogram_has_no_series() -> None:
    fam = FastHistogram(BOUNDS).family("empty_seconds", "doc", ["k"])
    assert fam.samples == []


def test_family_is_a_copy_of_the_moment() -> None:
    """Scraping takes a copy: later observations do not change an exposed family."""
    h = FastHistogram(BOUNDS)
    h.observe(("x",), 0.5)
    fam = h.family("t", "doc", ["k"])
    h.observe(("x",), 0.5)
    h.observe(("y",), 0.5)
    assert sample(fam, "_count", {"k": "x"}) == 1.0
    assert not [s for s in fam.samples if s.labels.get("k") == "y"]
    assert sample(h.family("t", "doc", ["k"]), "_count", {"k": "x"}) == 2.0


def test_the_shipped_bounds() -> None:
    assert DECISION_BUCKETS[0] == 1e-6 and DECISION_BUCKETS[-1] == 0.1
    assert RPC_BUCKETS[0] == 1e-5 and RPC_BUCKETS[-1] == 10.0
    for bounds in (DECISION_BUCKETS, RPC_BUCKETS):
        assert list(bounds) == sorted(set(bounds))


# -- Counts ------------------------------------------------------------------------------------


def test_counts() -> None:
    c = Counts()
    c.inc(("Allow",))
    c.inc(("Allow",))
    c.inc(("ExplicitDeny",), 5)
    c.inc(("ImplicitDeny",), 0)
    fam = c.family("decisions", "doc", ["decision"])
    assert fam.type == "counter"
    values = {s.labels["decision"]: s.value for s in fam.samples}
    assert values == {"Allow": 2, "ExplicitDeny": 5, "ImplicitDeny": 0}
    assert {s.name for s in fam.samples} == {"decisions_total"}
    assert Counts().family("none", "doc", ["decision"]).samples == []


def test_counts_with_several_labels() -> None:
    c = Counts()
    c.inc(("a", "1"))
    c.inc(("a", "2"), 3)
    c.inc(("a", "1"))
    fam = c.family("pairs", "doc", ["x", "y"])
    assert {(s.labels["x"], s.labels["y"]): s.value for s in fam.samples} == {("a", "1"): 2, ("a", "2"): 3}


# -- the collector ---------------------------------------------------------------------------


def exposition(metrics: Metrics) -> dict[str, object]:
    registry = CollectorRegistry()
    registry.register(metrics)
    text = generate_latest(registry).decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def only(fams: dict[str, object], name: str, **labels: str) -> float | None:
    values = [s.value for s in fams[name].samples if s.labels == labels]  # type: ignore[attr-defined]
    assert len(values) <= 1
    return values[0] if values else None


def test_collector_through_the_text_format() -> None:
    store = SnapshotStore(None)
    dropped = [0]
    m = Metrics(store, memo_hits=lambda: 7, dropped=lambda: dropped[0])
    fams = exposition(m)
    assert only(fams, "iam_sidecar_serving") == 0
    for gauge in (
        "iam_sidecar_snapshot_version",
        "iam_sidecar_snapshot_activation_id",
        "iam_sidecar_snapshot_loaded_timestamp_seconds",
        "iam_sidecar_snapshot_compile_seconds",
        "iam_sidecar_snapshot_statements",
    ):
        assert fams[gauge].samples == [], gauge  # type: ignore[attr-defined]
    assert only(fams, "iam_sidecar_cache_requests", result="memo") == 7
    assert only(fams, "iam_sidecar_cache_requests", result="hit") is None  # no cache given
    assert only(fams, "iam_sidecar_decision_log_dropped") == 0

    m.decision("Authorize", "Allow", 1e-6)  # exactly the first bound
    m.decision("Authorize", "Allow", 0.2)  # above the last bound
    m.decision("AuthorizeBatch", "ExplicitDeny", 3e-6)
    m.rpc("Authorize", "OK", 0.001)
    m.assume_role.inc(("success",))
    dropped[0] = 4
    assert store.activate(to_bytes(example_doc()), source="test").accepted
    assert not store.activate(invalid_doc(2), source="test").accepted

    fams = exposition(m)
    assert only(fams, "iam_sidecar_decisions", decision="Allow") == 2
    assert only(fams, "iam_sidecar_decisions", decision="ExplicitDeny") == 1
    hist = fams["iam_sidecar_decision_duration_seconds"]
    allow = {"rpc": "Authorize", "decision": "Allow"}
    cumulative = buckets_of(hist, allow)
    assert [b for b, _ in cumulative] == [*DECISION_BUCKETS, INF]
    assert cumulative[0] == (1e-6, 1.0)
    assert cumulative[-2] == (0.1, 1.0)
    assert cumulative[-1] == (INF, 2.0)
    assert sample(hist, "_sum", allow) == pytest.approx(0.200001)
    assert only(fams, "iam_sidecar_assume_role", result="success") == 1
    assert only(fams, "iam_sidecar_decision_log_dropped") == 4
    assert only(fams, "iam_sidecar_serving") == 1
    st = store.status()
    assert only(fams, "iam_sidecar_snapshot_version") == st.version == 1
    assert only(fams, "iam_sidecar_snapshot_activation_id") == st.activation_id
    assert only(fams, "iam_sidecar_snapshot_loaded_timestamp_seconds") == st.loaded_at
    assert only(fams, "iam_sidecar_snapshot_compile_seconds") == st.compile_seconds
    assert only(fams, "iam_sidecar_snapshot_statements") == st.counts["statements"] > 0
    assert only(fams, "iam_sidecar_snapshot_load_failures", reason="ValidationFailed") == 1
