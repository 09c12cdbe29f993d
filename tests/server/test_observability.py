"""Metrics and decision logs on a real sidecar: ``/metrics`` scraped over HTTP (urllib) and
parsed with prometheus_client's own parser, decision logs read back from a file, and the
decision log's bounded queue driven in-process with a stalled writer (a stand-in for a slow
disk). Every metric test uses a fresh sidecar and compares scrapes taken before and after.

Facts of examples/snapshot.json used here (see tests/server/test_authorizer.py):
alice may s3:GetObject the payments object, is explicitly denied iam:PutUserPermissionsBoundary
(her boundary) and s3:GetObject without TLS (the bucket policy), and implicitly denied
ec2:RunInstances; bob may s3:GetObject but not s3:PutObject; carol may ec2:DescribeInstances.
carol may assume CrossAccountAuditor with the external id "audit-7f3c2a".
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from time import perf_counter
from typing import Any

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sidecar.api.v1 import authorizer_pb2 as pb
from sidecar.engine.decision import Decision, DecisionKind
from sidecar.server.app import ServerConfig, run
from sidecar.server.decision_log import MASK, DecisionLog
from sidecar.server.metrics import DECISION_BUCKETS, RPC_BUCKETS

from .harness import RunningSidecar, running_sidecar
from .support import (
    ALICE,
    ALLOW,
    BOB,
    CAROL,
    EXPLICIT_DENY,
    IMPLICIT_DENY,
    OBJECT,
    authorizer,
    bob_may_send,
    invalid_doc,
    push,
    request,
    status,
    wait_for,
)

METRICS = {"metrics_listen": "127.0.0.1:0"}
INF = float("inf")
FORBIDDEN_LABELS = {"principal", "resource", "action", "arn", "user"}
LOG_FIELDS = {
    "time",
    "request_id",
    "rpc",
    "snapshot_version",
    "principal",
    "action",
    "resource",
    "decision",
    "reason",
    "matched",
    "context",
    "latency_us",
}
AUDITOR = "arn:aws:iam::222222222222:role/CrossAccountAuditor"
EXTERNAL_ID = "audit-7f3c2a"

# (principal, action, resource, context, expected decision)
CALLS: list[tuple[str, str, str, dict[str, str | list[str]], int]] = [
    (ALICE, "s3:GetObject", OBJECT, {}, ALLOW),
    (BOB, "s3:GetObject", OBJECT, {}, ALLOW),
    (CAROL, "ec2:DescribeInstances", "*", {}, ALLOW),
    (ALICE, "ec2:RunInstances", "*", {}, IMPLICIT_DENY),
    (BOB, "s3:PutObject", OBJECT, {}, IMPLICIT_DENY),
    (ALICE, "iam:PutUserPermissionsBoundary", "*", {}, EXPLICIT_DENY),
]
KIND: dict[int, str] = {ALLOW: "Allow", IMPLICIT_DENY: "ImplicitDeny", EXPLICIT_DENY: "ExplicitDeny"}


# -- scraping ----------------------------------------------------------------------------------


class Scrape:
    """One scrape of ``/metrics``, parsed by prometheus_client."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.families = {f.name: f for f in text_string_to_metric_families(text)}

    def samples(self) -> Iterator[Any]:
        for fam in self.families.values():
            yield from fam.samples

    def value(self, name: str, **labels: str) -> float:
        """The sample ``name`` with exactly ``labels`` (0 when the series does not exist yet)."""
        found = [s.value for s in self.samples() if s.name == name and s.labels == labels]
        assert len(found) <= 1, (name, labels, found)
        return found[0] if found else 0.0

    def has(self, name: str, **labels: str) -> bool:
        return any(s.name == name and s.labels == labels for s in self.samples())

    def buckets(self, name: str, **labels: str) -> list[tuple[float, float]]:
        """(le, cumulative count) of one histogram series, in exposition order."""
        return [
            (float(s.labels["le"]), s.value)
            for s in self.samples()
            if s.name == f"{name}_bucket" and {k: v for k, v in s.labels.items() if k != "le"} == labels
        ]


def scrape(sc: RunningSidecar) -> Scrape:
    (address,) = sc.sidecar.addresses["metrics"]
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as resp:
        assert resp.status == 200
        return Scrape(resp.read().decode())


def delta(after: Scrape, before: Scrape, name: str, **labels: str) -> float:
    return after.value(name, **labels) - before.value(name, **labels)


def check_histogram(s: Scrape, name: str, bounds: tuple[float, ...], **labels: str) -> None:
    """Buckets are the configured bounds then +Inf, cumulative, and +Inf equals _count."""
    buckets = s.buckets(name, **labels)
    assert [b for b, _ in buckets] == [*bounds, INF], labels
    counts = [c for _, c in buckets]
    assert counts == sorted(counts), (labels, counts)
    assert counts[-1] == s.value(f"{name}_count", **labels)
    assert s.value(f"{name}_sum", **labels) >= 0


# -- Authorize -----------------------------------------------------------------------------------


def test_authorize_counts_decisions_and_durations(tmp_path: Path) -> None:
    with running_sidecar(tmp_path, **METRICS) as sc:
        before = scrape(sc)
        with authorizer(sc.authz_tcp) as stub:
            for principal, action, resource, ctx, expected in CALLS:
                resp = stub.Authorize(request(principal, action, resource, context=ctx), timeout=10)
                assert resp.decision == expected, (principal, action)
            with pytest.raises(grpc.RpcError) as err:
                stub.Authorize(request(ALICE, "s3:GetObject", OBJECT, context={"nocolon": "x"}), timeout=10)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        after = scrape(sc)

        expected_kinds = Counter(KIND[c[-1]] for c in CALLS)
        assert expected_kinds == {"Allow": 3, "ImplicitDeny": 2, "ExplicitDeny": 1}
        assert after.families["iam_sidecar_decisions"].type == "counter"
        assert after.families["iam_sidecar_decision_duration_seconds"].type == "histogram"
        assert after.families["iam_sidecar_rpc_duration_seconds"].type == "histogram"
        dec = "iam_sidecar_decision_duration_seconds"
        for kind, n in expected_kinds.items():
            assert delta(after, before, "iam_sidecar_decisions_total", decision=kind) == n, kind
            assert delta(after, before, f"{dec}_count", rpc="Authorize", decision=kind) == n, kind
            check_histogram(after, dec, DECISION_BUCKETS, rpc="Authorize", decision=kind)
            # the buckets moved by exactly the new observations, cumulatively
            moved = [
                a - b
                for (_, a), (_, b) in zip(
                    after.buckets(dec, rpc="Authorize", decision=kind),
                    before.buckets(dec, rpc="Authorize", decision=kind)
                    or [(0.0, 0.0)] * (len(DECISION_BUCKETS) + 1),
                    strict=True,
                )
            ]
            assert moved == sorted(moved) and moved[-1] == n
            assert delta(after, before, f"{dec}_sum", rpc="Authorize", decision=kind) > 0
        buckets = after.buckets(dec, rpc="Authorize", decision="Allow")
        assert buckets[0][0] == 1e-06 and buckets[-2][0] == 0.1 and buckets[-1][0] == INF
        # the invalid call decided nothing
        assert sum(
            delta(after, before, "iam_sidecar_decisions_total", decision=k) for k in KIND.values()
        ) == len(CALLS)

        rpc = "iam_sidecar_rpc_duration_seconds"
        assert delta(after, before, f"{rpc}_count", rpc="Authorize", code="OK") == 6
        assert delta(after, before, f"{rpc}_count", rpc="Authorize", code="INVALID_ARGUMENT") == 1
        check_histogram(after, rpc, RPC_BUCKETS, rpc="Authorize", code="OK")
        check_histogram(after, rpc, RPC_BUCKETS, rpc="Authorize", code="INVALID_ARGUMENT")
        assert after.buckets(rpc, rpc="Authorize", code="OK")[-2][0] == 10.0


def test_cache_hit_and_miss(tmp_path: Path) -> None:
    with running_sidecar(tmp_path, **METRICS) as sc:
        cache = "iam_sidecar_cache_requests_total"
        req = request(ALICE, "s3:GetObject", OBJECT)
        before = scrape(sc)
        with authorizer(sc.authz_tcp) as stub:
            assert stub.Authorize(req, timeout=10).decision == ALLOW
            first = scrape(sc)
            assert stub.Authorize(req, timeout=10).decision == ALLOW
            second = scrape(sc)
        assert (delta(first, before, cache, result="miss"), delta(first, before, cache, result="hit")) == (
            1,
            0,
        )
        assert (delta(second, first, cache, result="miss"), delta(second, first, cache, result="hit")) == (
            0,
            1,
        )
        assert delta(second, before, cache, result="memo") == 0  # Authorize never uses the batch memo
        assert first.families["iam_sidecar_cache_requests"].type == "counter"


# -- AuthorizeBatch ----------------------------------------------------------------------------


def batch_request() -> pb.AuthorizeBatchRequest:
    return pb.AuthorizeBatchRequest(
        requests=[request(p, a, r, context=c) for p, a, r, c, _ in CALLS],
    )


def test_batch_items_count_one_by_one_and_a_repeat_is_answered_from_the_memo(tmp_path: Path) -> None:
    k = len(CALLS)
    kinds = Counter(KIND[c[-1]] for c in CALLS)
    dec = "iam_sidecar_decision_duration_seconds_count"
    cache = "iam_sidecar_cache_requests_total"
    with running_sidecar(tmp_path, **METRICS) as sc:
        s0 = scrape(sc)
        with authorizer(sc.authz_tcp) as stub:
            first = stub.AuthorizeBatch(batch_request(), timeout=10)
            s1 = scrape(sc)
            again = stub.AuthorizeBatch(batch_request(), timeout=10)
            s2 = scrape(sc)
        assert [r.decision for r in first.responses] == [c[-1] for c in CALLS]
        assert [r.decision for r in again.responses] == [c[-1] for c in CALLS]

        # the first batch: K decisions, each timed, each through the decision cache
        for kind, n in kinds.items():
            assert delta(s1, s0, "iam_sidecar_decisions_total", decision=kind) == n
            assert delta(s1, s0, dec, rpc="AuthorizeBatch", decision=kind) == n
            check_histogram(
                s1,
                "iam_sidecar_decision_duration_seconds",
                DECISION_BUCKETS,
                rpc="AuthorizeBatch",
                decision=kind,
            )
        assert delta(s1, s0, cache, result="miss") == k
        assert delta(s1, s0, cache, result="memo") == 0

        # the repeat: K memo answers, still K decisions, no engine time, no cache lookups
        assert delta(s2, s1, cache, result="memo") == k
        for kind, n in kinds.items():
            assert delta(s2, s1, "iam_sidecar_decisions_total", decision=kind) == n
            assert delta(s2, s1, dec, rpc="AuthorizeBatch", decision=kind) == 0
        assert delta(s2, s1, cache, result="miss") == 0
        assert delta(s2, s1, cache, result="hit") == 0
        rpc = "iam_sidecar_rpc_duration_seconds_count"
        assert delta(s2, s0, rpc, rpc="AuthorizeBatch", code="OK") == 2
        assert delta(s2, s0, rpc, rpc="Authorize", code="OK") == 0


def test_a_malformed_batch_is_counted_by_its_code(tmp_path: Path) -> None:
    with running_sidecar(tmp_path, **METRICS) as sc:
        before = scrape(sc)
        bad = batch_request()
        bad.requests.add(action="s3:GetObject", resource=OBJECT).caller.principal_arn = ALICE
        bad.requests[-1].context["nocolon"].string_value = "x"
        with authorizer(sc.authz_tcp) as stub, pytest.raises(grpc.RpcError) as err:
            stub.AuthorizeBatch(bad, timeout=10)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        after = scrape(sc)
        rpc = "iam_sidecar_rpc_duration_seconds_count"
        assert delta(after, before, rpc, rpc="AuthorizeBatch", code="INVALID_ARGUMENT") == 1
        assert delta(after, before, rpc, rpc="AuthorizeBatch", code="OK") == 0


def test_a_refused_batch_records_no_decisions(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    with running_sidecar(tmp_path, decision_log=str(path), **METRICS) as sc:
        before = scrape(sc)
        bad = batch_request()
        bad.requests.add(action="s3:GetObject", resource=OBJECT).caller.principal_arn = ALICE
        bad.requests[-1].context["nocolon"].string_value = "x"
        with authorizer(sc.authz_tcp) as stub:
            with pytest.raises(grpc.RpcError) as err:
                stub.AuthorizeBatch(bad, metadata=[("x-request-id", "refused")], timeout=10)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            # a marker decision: the log is FIFO, so anything of the refused batch comes before it
            marker = request(ALICE, "ec2:RunInstances", "*")
            stub.Authorize(marker, metadata=[("x-request-id", "marker")], timeout=10)
        wait_for_lines(path, 1)
        after = scrape(sc)
        stop(sc)
        lines = read_log(path)
    assert [line["request_id"] for line in lines] == ["marker"]
    decided = {k: delta(after, before, "iam_sidecar_decisions_total", decision=k) for k in KIND.values()}
    assert decided == {"Allow": 0, "ImplicitDeny": 1, "ExplicitDeny": 0}  # the marker only


# -- GetCallerIdentity and AssumeRole ------------------------------------------------------------


def auditor_request(external_id: str, principal: str = CAROL, **fields: Any) -> pb.AssumeRoleRequest:
    req = pb.AssumeRoleRequest(role_arn=AUDITOR, role_session_name="audit", external_id=external_id, **fields)
    req.caller.principal_arn = principal
    return req


def test_assume_role_results(tmp_path: Path) -> None:
    with running_sidecar(tmp_path, **METRICS) as sc:
        before = scrape(sc)
        with authorizer(sc.authz_tcp) as stub:
            ok = stub.AssumeRole(auditor_request(EXTERNAL_ID), timeout=10)
            assert ok.credentials.access_key_id.startswith("ASIA")
            ok2 = stub.AssumeRole(auditor_request(EXTERNAL_ID), timeout=10)
            assert ok2.credentials.access_key_id != ok.credentials.access_key_id
            with pytest.raises(grpc.RpcError) as denied:
                stub.AssumeRole(auditor_request("audit-0000"), timeout=10)
            assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        after = scrape(sc)
        total = "iam_sidecar_assume_role_total"
        assert delta(after, before, total, result="success") == 2
        assert delta(after, before, total, result="AccessDenied") == 1
        assert after.families["iam_sidecar_assume_role"].type == "counter"
        rpc = "iam_sidecar_rpc_duration_seconds_count"
        assert delta(after, before, rpc, rpc="AssumeRole", code="OK") == 2
        assert delta(after, before, rpc, rpc="AssumeRole", code="PERMISSION_DENIED") == 1
        # AssumeRole decides its trust policy inside STS: not an Authorize decision
        assert not [
            s for s in after.samples() if s.labels.get("rpc") == "AssumeRole" and "decision" in s.labels
        ]


def test_get_caller_identity_is_timed_by_code(tmp_path: Path) -> None:
    with running_sidecar(tmp_path, **METRICS) as sc:
        before = scrape(sc)
        with authorizer(sc.authz_tcp) as stub:
            me = pb.GetCallerIdentityRequest()
            me.caller.principal_arn = ALICE
            assert stub.GetCallerIdentity(me, timeout=10).arn == ALICE
            anon = pb.GetCallerIdentityRequest()
            anon.caller.anonymous = True
            with pytest.raises(grpc.RpcError) as err:
                stub.GetCallerIdentity(anon, timeout=10)
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        after = scrape(sc)
        rpc = "iam_sidecar_rpc_duration_seconds_count"
        assert delta(after, before, rpc, rpc="GetCallerIdentity", code="OK") == 1
        assert delta(after, before, rpc, rpc="GetCallerIdentity", code="UNAUTHENTICATED") == 1
        assert (
            sum(delta(after, before, "iam_sidecar_decisions_total", decision=k) for k in KIND.values()) == 0
        )


def _wait_until_waiting(sc: RunningSidecar) -> None:
    """Until a call is parked in the store waiting for a future snapshot version."""
    assert wait_for(lambda: sc.store._async_waiters, timeout=5), "the call never started waiting"


def _recorded(sc: RunningSidecar, before: Scrape, rpc: str) -> Scrape:
    """The first scrape in which ``rpc`` has one more recorded call (any code)."""

    def moved() -> Scrape | None:
        s = scrape(sc)
        total = sum(
            v.value - before.value(v.name, **v.labels)
            for v in s.samples()
            if v.name == "iam_sidecar_rpc_duration_seconds_count" and v.labels.get("rpc") == rpc
        )
        return s if total >= 1 else None

    found = wait_for(moved, timeout=10)
    assert found is not None, f"the cancelled {rpc} was never recorded"
    return found


def test_a_cancelled_authorize_is_not_recorded_as_ok(tmp_path: Path) -> None:
    with running_sidecar(tmp_path, max_version_wait=30.0, **METRICS) as sc:
        before = scrape(sc)
        with authorizer(sc.authz_tcp) as stub:
            call = stub.Authorize.future(request(ALICE, "s3:GetObject", OBJECT, min_snapshot_version=99))
            _wait_until_waiting(sc)
            call.cancel()
            after = _recorded(sc, before, "Authorize")
        rpc = "iam_sidecar_rpc_duration_seconds_count"
        assert delta(after, before, rpc, rpc="Authorize", code="OK") == 0
        assert delta(after, before, rpc, rpc="Authorize", code="CANCELLED") == 1


def test_a_cancelled_assume_role_is_not_a_success(tmp_path: Path) -> None:
    with running_sidecar(tmp_path, max_version_wait=30.0, **METRICS) as sc:
        before = scrape(sc)
        with authorizer(sc.authz_tcp) as stub:
            call = stub.AssumeRole.future(auditor_request(EXTERNAL_ID, min_snapshot_version=99))
            _wait_until_waiting(sc)
            call.cancel()
            after = _recorded(sc, before, "AssumeRole")
        assert delta(after, before, "iam_sidecar_assume_role_total", result="success") == 0
        assert (
            delta(after, before, "iam_sidecar_rpc_duration_seconds_count", rpc="AssumeRole", code="OK") == 0
        )


# -- the snapshot --------------------------------------------------------------------------------


def assert_snapshot_gauges_match(s: Scrape, st: Any) -> None:
    assert s.value("iam_sidecar_serving") == (1 if st.serving else 0)
    assert s.value("iam_sidecar_snapshot_version") == st.version
    assert s.value("iam_sidecar_snapshot_activation_id") == st.activation_id
    assert s.value("iam_sidecar_snapshot_loaded_timestamp_seconds") == pytest.approx(
        st.loaded_at.ToNanoseconds() / 1e9, abs=1e-6
    )
    assert s.value("iam_sidecar_snapshot_compile_seconds") == pytest.approx(st.compile_seconds, abs=1e-12)
    assert s.value("iam_sidecar_snapshot_statements") == st.counts["statements"]
    for name in (
        "iam_sidecar_serving",
        "iam_sidecar_snapshot_version",
        "iam_sidecar_snapshot_activation_id",
        "iam_sidecar_snapshot_loaded_timestamp_seconds",
        "iam_sidecar_snapshot_compile_seconds",
        "iam_sidecar_snapshot_statements",
    ):
        assert s.families[name].type == "gauge", name


def test_snapshot_gauges_follow_get_status_and_failures_are_counted(tmp_path: Path) -> None:
    failures = "iam_sidecar_snapshot_load_failures_total"
    with running_sidecar(tmp_path, **METRICS) as sc:
        s1 = scrape(sc)
        st1 = status(sc.control, sc.token)
        assert st1.version == 1 and st1.serving
        assert_snapshot_gauges_match(s1, st1)
        assert s1.value("iam_sidecar_snapshot_statements") > 0

        assert push(sc.control, sc.token, bob_may_send(2)).accepted
        s2 = scrape(sc)
        st2 = status(sc.control, sc.token)
        assert st2.version == 2
        assert_snapshot_gauges_match(s2, st2)
        assert s2.value("iam_sidecar_snapshot_activation_id") > s1.value("iam_sidecar_snapshot_activation_id")
        assert s2.value("iam_sidecar_snapshot_loaded_timestamp_seconds") >= s1.value(
            "iam_sidecar_snapshot_loaded_timestamp_seconds"
        )
        assert s2.value("iam_sidecar_snapshot_statements") == s1.value("iam_sidecar_snapshot_statements") + 1
        assert delta(s2, s1, failures, reason="ValidationFailed") == 0

        bad = push(sc.control, sc.token, invalid_doc(3))
        assert not bad.accepted and bad.report.code == "ValidationFailed"
        s3 = scrape(sc)
        assert delta(s3, s2, failures, reason="ValidationFailed") == 1
        assert delta(s3, s2, failures, reason="VersionConflict") == 0

        conflict = push(sc.control, sc.token, bob_may_send(2, sid="SomethingElse"))
        assert not conflict.accepted and conflict.report.code == "VersionConflict"
        s4 = scrape(sc)
        assert delta(s4, s3, failures, reason="VersionConflict") == 1
        assert delta(s4, s3, failures, reason="ValidationFailed") == 0
        assert s4.families["iam_sidecar_snapshot_load_failures"].type == "counter"

        # refused pushes leave the serving gauges alone
        assert_snapshot_gauges_match(s4, status(sc.control, sc.token))
        assert s4.value("iam_sidecar_snapshot_version") == 2
        assert s4.value("iam_sidecar_snapshot_activation_id") == s2.value(
            "iam_sidecar_snapshot_activation_id"
        )


def test_serving_gauge_before_and_after_the_first_snapshot(tmp_path: Path) -> None:
    with running_sidecar(tmp_path, snapshot=None, **METRICS) as sc:
        s0 = scrape(sc)
        assert s0.value("iam_sidecar_serving") == 0
        assert not s0.has("iam_sidecar_snapshot_version")
        assert not s0.has("iam_sidecar_snapshot_statements")
        assert push(sc.control, sc.token, bob_may_send(4)).accepted
        s1 = scrape(sc)
        assert s1.value("iam_sidecar_serving") == 1
        assert_snapshot_gauges_match(s1, status(sc.control, sc.token))
        assert s1.value("iam_sidecar_snapshot_version") == 4


# -- the exposition as a whole -----------------------------------------------------------------


def test_no_label_carries_principals_resources_or_actions(tmp_path: Path) -> None:
    with running_sidecar(tmp_path, **METRICS) as sc:
        with authorizer(sc.authz_tcp) as stub:
            for principal, action, resource, ctx, _ in CALLS:
                stub.Authorize(request(principal, action, resource, context=ctx), timeout=10)
            stub.AuthorizeBatch(batch_request(), timeout=10)
            stub.AuthorizeBatch(batch_request(), timeout=10)
            stub.AssumeRole(auditor_request(EXTERNAL_ID), timeout=10)
            with pytest.raises(grpc.RpcError):
                stub.AssumeRole(auditor_request("audit-0000"), timeout=10)
        push(sc.control, sc.token, invalid_doc(2))
        s = scrape(sc)
        label_names = {name for sample in s.samples() for name in sample.labels}
        assert not label_names & FORBIDDEN_LABELS, label_names & FORBIDDEN_LABELS
        ours = [x for x in s.samples() if x.name.startswith("iam_sidecar_")]
        assert ours
        assert {n for x in ours for n in x.labels} <= {"rpc", "decision", "code", "le", "result", "reason"}
        for x in ours:  # and no value smuggles one in
            for value in x.labels.values():
                assert "arn:" not in value and ":" not in value.replace("+Inf", ""), x


def test_process_metrics_are_exposed(tmp_path: Path) -> None:
    with running_sidecar(tmp_path, **METRICS) as sc:
        s = scrape(sc)
        for name in (
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_virtual_memory_bytes",
            "process_start_time_seconds",
            "process_open_fds",
        ):
            assert s.has(name), name
        assert s.value("process_resident_memory_bytes") > 0
        assert 0 < s.value("process_start_time_seconds") <= time.time() + 1
        assert any(x.name == "python_info" for x in s.samples())
        for name in (
            "iam_sidecar_decision_duration_seconds",
            "iam_sidecar_rpc_duration_seconds",
            "iam_sidecar_decisions",
            "iam_sidecar_cache_requests",
            "iam_sidecar_assume_role",
            "iam_sidecar_decision_log_dropped",
            "iam_sidecar_snapshot_version",
            "iam_sidecar_snapshot_activation_id",
            "iam_sidecar_snapshot_loaded_timestamp_seconds",
            "iam_sidecar_snapshot_compile_seconds",
            "iam_sidecar_snapshot_statements",
            "iam_sidecar_serving",
            "iam_sidecar_snapshot_load_failures",
        ):
            assert name in s.families, name
        assert s.value("iam_sidecar_decision_log_dropped_total") == 0  # no decision log: nothing dropped


# -- decision logs -------------------------------------------------------------------------------


def read_log(path: Path) -> list[dict[str, Any]]:
    """Complete lines only (the writer may be mid-line); each must be a JSON object."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]


def wait_for_lines(path: Path, n: int) -> list[dict[str, Any]]:
    lines = wait_for(lambda: (lambda got: got if len(got) >= n else None)(read_log(path)), timeout=10)
    assert lines is not None, f"{path} never reached {n} lines: {read_log(path)}"
    return lines


def stop(sc: RunningSidecar) -> None:
    """Drain the sidecar (the decision log writes what is queued and closes the file)."""
    sc.call(sc.sidecar.stop(0.5))


def check_line(line: dict[str, Any]) -> None:
    assert set(line) == LOG_FIELDS, set(line) ^ LOG_FIELDS
    stamp = datetime.strptime(line["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(stamp.timestamp() - time.time()) < 120
    assert line["request_id"] is None or isinstance(line["request_id"], str)
    assert line["rpc"] in ("Authorize", "AuthorizeBatch")
    assert isinstance(line["snapshot_version"], int)
    assert line["decision"] in ("Allow", "ExplicitDeny", "ImplicitDeny")
    assert isinstance(line["reason"], str) and line["reason"]
    assert isinstance(line["matched"], list) and all(isinstance(m, str) for m in line["matched"])
    assert isinstance(line["context"], dict)
    assert isinstance(line["latency_us"], int | float) and line["latency_us"] >= 0


def test_decision_log_lines(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "decisions.jsonl"
    with running_sidecar(
        tmp_path, decision_log=str(path), decision_log_mask=("aws:SourceIp", "aws:Referer"), **METRICS
    ) as sc:
        with authorizer(sc.authz_tcp) as stub:
            allow = request(
                ALICE,
                "s3:GetObject",
                OBJECT,
                context={
                    "AWS:sourceIP": "10.1.2.3",
                    "aws:UserAgent": "curl/8.0",
                    "aws:Referer": "https://secret.example/",
                    "s3:prefix": ["reports/", "other/"],
                },
            )
            assert (
                stub.Authorize(allow, metadata=[("x-request-id", "req-allow-1")], timeout=10).decision
                == ALLOW
            )
            explicit = request(ALICE, "s3:GetObject", OBJECT, context={"aws:SecureTransport": "false"})
            resp = stub.Authorize(explicit, metadata=[("x-request-id", "req-deny-2")], timeout=10)
            assert resp.decision == EXPLICIT_DENY
            assert (
                stub.Authorize(request(ALICE, "ec2:RunInstances", "*"), timeout=10).decision == IMPLICIT_DENY
            )
        lines = wait_for_lines(path, 3)
        stop(sc)
        lines = read_log(path)
        text = path.read_text(encoding="utf-8")

    assert len(lines) == 3
    for line in lines:
        check_line(line)
        assert line["rpc"] == "Authorize"
        assert line["snapshot_version"] == 1
        assert line["principal"] == ALICE
    a, e, i = lines
    assert (a["request_id"], e["request_id"], i["request_id"]) == ("req-allow-1", "req-deny-2", None)
    assert (a["decision"], e["decision"], i["decision"]) == ("Allow", "ExplicitDeny", "ImplicitDeny")
    assert (a["action"], a["resource"]) == ("s3:GetObject", OBJECT)
    assert (i["action"], i["resource"]) == ("ec2:RunInstances", "*")
    assert any("ReadOnlyAccess" in m for m in a["matched"]), a["matched"]
    assert any("DenyInsecureTransport" in m for m in e["matched"]), e["matched"]
    assert not [m for m in i["matched"] if m.startswith("identity ")], i["matched"]  # nothing allowed it
    # masked keys (matched without regard to case) show the mask; the others keep their values
    assert a["context"] == {
        "aws:sourceip": MASK,
        "aws:useragent": "curl/8.0",
        "aws:referer": MASK,
        "s3:prefix": ["reports/", "other/"],
    }
    assert e["context"] == {"aws:securetransport": "false"}
    assert i["context"] == {}
    assert "10.1.2.3" not in text and "secret.example" not in text


def test_sampling_zero_keeps_every_deny_and_no_allow(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    with running_sidecar(tmp_path, decision_log=str(path), decision_log_sample=0.0, **METRICS) as sc:
        before = scrape(sc)
        with authorizer(sc.authz_tcp) as stub:
            for n, (principal, action, resource, ctx, expected) in enumerate(CALLS):
                resp = stub.Authorize(
                    request(principal, action, resource, context=ctx),
                    metadata=[("x-request-id", f"call-{n}")],
                    timeout=10,
                )
                assert resp.decision == expected
        wait_for_lines(path, 3)
        after = scrape(sc)
        stop(sc)
        lines = read_log(path)
    for line in lines:
        check_line(line)
    denies = [(n, c) for n, c in enumerate(CALLS) if c[-1] != ALLOW]
    assert [(line["request_id"], line["principal"], line["action"], line["decision"]) for line in lines] == [
        (f"call-{n}", p, a, KIND[d]) for n, (p, a, _r, _c, d) in denies
    ]
    # sampling thins the log, never the metrics
    assert delta(after, before, "iam_sidecar_decisions_total", decision="Allow") == 3


def test_batches_are_logged_item_by_item_and_bypass_the_memo(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    k = len(CALLS)
    with running_sidecar(tmp_path, decision_log=str(path), **METRICS) as sc:
        before = scrape(sc)
        with authorizer(sc.authz_tcp) as stub:
            for n in range(2):
                stub.AuthorizeBatch(batch_request(), metadata=[("x-request-id", f"batch-{n}")], timeout=10)
        wait_for_lines(path, 2 * k)
        after = scrape(sc)
        stop(sc)
        lines = read_log(path)
    assert len(lines) == 2 * k
    for line in lines:
        check_line(line)
        assert line["rpc"] == "AuthorizeBatch"
    assert [line["request_id"] for line in lines] == ["batch-0"] * k + ["batch-1"] * k
    expected = [(p, a, r, KIND[d]) for p, a, r, _c, d in CALLS] * 2
    assert [(x["principal"], x["action"], x["resource"], x["decision"]) for x in lines] == expected
    # the memo is off while a decision log is kept: every item is decided (and timed)
    assert delta(after, before, "iam_sidecar_cache_requests_total", result="memo") == 0
    timed = sum(
        delta(
            after, before, "iam_sidecar_decision_duration_seconds_count", rpc="AuthorizeBatch", decision=kind
        )
        for kind in KIND.values()
    )
    assert timed == 2 * k


def test_dropped_metric_is_the_logs_counter(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    with running_sidecar(tmp_path, decision_log=str(path), **METRICS) as sc:
        with authorizer(sc.authz_tcp) as stub:
            for principal, action, resource, ctx, _ in CALLS:
                stub.Authorize(request(principal, action, resource, context=ctx), timeout=10)
        wait_for_lines(path, len(CALLS))
        s = scrape(sc)
        log = sc.sidecar.decision_log
        assert log is not None
        assert s.families["iam_sidecar_decision_log_dropped"].type == "counter"
        assert s.value("iam_sidecar_decision_log_dropped_total") == log.dropped == 0
        assert log.written == len(CALLS)


def test_an_unwritable_decision_log_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = tmp_path / "control.token"
    token.write_text("t" * 32 + "\n")
    not_a_dir = tmp_path / "a-file"
    not_a_dir.write_text("")
    config = ServerConfig(
        snapshot=None,
        listen=("127.0.0.1:0",),
        control="127.0.0.1:0",
        control_token_file=token,
        state_dir=tmp_path / "state",
        decision_log=str(not_a_dir / "decisions.jsonl"),
    )
    assert asyncio.run(asyncio.wait_for(run(config), 20)) == 2
    err = capsys.readouterr().err
    assert "iam-sidecar serve:" in err and "decisions.jsonl" in err


# -- the decision log's queue, in-process --------------------------------------------------------


def test_a_full_queue_drops_and_counts_without_blocking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "decisions.jsonl"
    capacity = 2
    log = DecisionLog(str(target), capacity=capacity)
    entered = threading.Event()
    release = threading.Event()
    real_format = log.format

    def slow_disk(item: tuple[Any, ...]) -> str:  # the writer stalls as on a slow disk
        entered.set()
        release.wait(30)
        return real_format(item)

    monkeypatch.setattr(log, "format", slow_disk)
    decision = Decision(DecisionKind.IMPLICIT_DENY, "r")
    durations: list[float] = []

    def record(n: int) -> None:
        t0 = perf_counter()
        log.record(
            "Authorize",
            f"req-{n}",
            1,
            ALICE,
            f"s3:Action{n}",
            OBJECT,
            {"aws:sourceip": "10.0.0.1"},
            decision,
            2e-6,
        )
        durations.append(perf_counter() - t0)

    log.start()
    try:
        record(0)
        assert entered.wait(10), "the writer never picked up the first entry"
        for n in range(1, 100):
            record(n)
        assert max(durations) < 0.005, max(durations)
        assert sum(durations) < 0.5, sum(durations)
        held = 1  # the entry the stalled writer holds
        assert log.dropped == 100 - (capacity + held)
        assert log.queue.qsize() == capacity
        assert log.written == 0
    finally:
        release.set()
    log.stop()
    lines = read_log(target)
    assert [(x["request_id"], x["action"]) for x in lines] == [
        (f"req-{n}", f"s3:Action{n}") for n in range(3)
    ]
    for line in lines:
        check_line(line)
        assert line["decision"] == "ImplicitDeny" and line["reason"] == "r"
        assert line["latency_us"] == 2.0
    assert log.written == 3
    assert log.dropped == 97


def test_sampled_out_allows_are_not_drops(tmp_path: Path) -> None:
    log = DecisionLog(str(tmp_path / "d.jsonl"), sample=0.0, capacity=1)
    allow = Decision(DecisionKind.ALLOW, "ok")
    deny = Decision(DecisionKind.EXPLICIT_DENY, "no")
    for _ in range(10):
        log.record("Authorize", "", 1, ALICE, "s3:GetObject", OBJECT, {}, allow, 1e-6)
    assert (log.queue.qsize(), log.dropped) == (0, 0)
    log.record("Authorize", "", 1, ALICE, "s3:GetObject", OBJECT, {}, deny, 1e-6)
    log.record("Authorize", "", 1, ALICE, "s3:GetObject", OBJECT, {}, deny, 1e-6)
    assert (log.queue.qsize(), log.dropped) == (1, 1)
    with pytest.raises(ValueError):
        DecisionLog("stdout", sample=1.5)
