"""The Envoy ext_authz service without Envoy: the ``ext_authz`` section of ``--config`` (every
problem listed), route templates and their matching, and ``Check`` called directly over gRPC on
a real sidecar (tests/server/harness.py) — both header forms Envoy can send, callers and their
precedence, every context key, X-Forwarded-For hops, the responses, ``on_error``, ``unmatched``
and the extra ``listen`` address. Through a real Envoy: tests/envoy/.

The snapshot is examples/snapshot.json with bob's "Conditions" policy and a user dave
(tests/envoy/harness.py ``snapshot_doc``): each sqs action on payments-events is allowed to bob
under one condition on one context key, so a decision tells whether the key arrived as expected.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import code_pb2

from sidecar.api.envoy.service.auth.v3 import ext_authz_min_pb2 as pb
from sidecar.api.envoy.service.auth.v3 import ext_authz_min_pb2_grpc as pb_grpc
from sidecar.api.v1 import authorizer_pb2, authorizer_pb2_grpc
from sidecar.server.app import ConfigError
from sidecar.server.ext_authz import ExtAuthzConfig, ExtAuthzConfigError, load_config, load_config_file
from tests.envoy.harness import DAVE, EXAMPLE_CONFIG, TRUSTED_HEADER, sidecar_config, snapshot_doc

from .harness import RunningSidecar, running_sidecar
from .support import push

ACCOUNT = "222222222222"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
BOB = f"arn:aws:iam::{ACCOUNT}:user/contractors/bob"
CAROL = "arn:aws:iam::333333333333:user/carol"
AUDITOR = f"arn:aws:iam::{ACCOUNT}:role/CrossAccountAuditor"
ALICE_KEY = "AKIAIOSFODNN7EXAMPLE"
ALICE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
FRONTEND = "spiffe://cluster.local/ns/default/sa/frontend"
CREDENTIAL_HEADERS = ["x-iam-access-key-id", "x-iam-secret-access-key", "x-iam-session-token", TRUSTED_HEADER]

# Routes only these tests use, after the example's (examples/envoy/config.json).
UNIT_ROUTES = [
    {"method": "POST", "path": "/queues/{queue}/visibility", "action": "sqs:ChangeMessageVisibility",
     "resource": "arn:aws:sqs:us-east-1:222222222222:{queue}"},
    {"method": "POST", "path": "/queues/{queue}/tags", "action": "sqs:TagQueue",
     "resource": "arn:aws:sqs:us-east-1:222222222222:{queue}"},
    {"method": "POST", "path": "/queues/{queue}/permissions", "action": "sqs:AddPermission",
     "resource": "arn:aws:sqs:us-east-1:222222222222:{queue}"},
    {"method": "*", "path": "/any/{Queue}", "action": "sqs:UntagQueue", "resource": "*"},
]  # fmt: skip


def unit_config(**changes: Any) -> dict[str, Any]:
    doc = sidecar_config(**changes)
    doc["ext_authz"]["routes"] = [*doc["ext_authz"]["routes"], *UNIT_ROUTES]
    return doc


# -- requests and responses --------------------------------------------------------------------


def check_request(
    method: str,
    path: str,
    headers: Mapping[str, str] | None = None,
    *,
    form: str = "map",
    peer: str = "127.0.0.1",
    host: str = "svc.local:10000",
    scheme: str = "http",
    principal: str = "",
    sni: str = "",
    extensions: Mapping[str, str] | None = None,
) -> pb.CheckRequest:
    """A CheckRequest as Envoy sends it; ``form``: "map" (the ``headers`` map), "raw"
    (``header_map`` with ``raw_value``, Envoy's ``encode_raw_headers``) or "value" (``header_map``
    with ``value``)."""
    req = pb.CheckRequest()
    attrs = req.attributes
    attrs.source.address.socket_address.address = peer
    attrs.source.address.socket_address.port_value = 40000
    attrs.source.principal = principal
    attrs.destination.address.socket_address.address = "127.0.0.1"
    attrs.destination.address.socket_address.port_value = 10000
    attrs.tls_session.sni = sni
    http = attrs.request.http
    http.method, http.path, http.host, http.scheme, http.protocol = method, path, host, scheme, "HTTP/1.1"
    all_headers = {":method": method, ":path": path, ":authority": host, ":scheme": scheme, **(headers or {})}
    for key, value in all_headers.items():
        if form == "map":
            http.headers[key.lower()] = value
        elif form == "raw":
            http.header_map.headers.add(key=key.lower(), raw_value=value.encode())
        else:
            http.header_map.headers.add(key=key.lower(), value=value)
    for key, value in (extensions or {}).items():
        attrs.context_extensions[key] = value
    return req


def check(target: str, req: pb.CheckRequest) -> pb.CheckResponse:
    with grpc.insecure_channel(target) as channel:
        resp: pb.CheckResponse = pb_grpc.AuthorizationStub(channel).Check(req, timeout=10)
    return resp


def outcome(resp: pb.CheckResponse) -> str:
    """ "OK", "ImplicitDeny", "ExplicitDeny", "NoRoute", "SignatureDoesNotMatch", … (the JSON
    body's ``decision`` of a refusal)."""
    if resp.WhichOneof("http_response") in (None, "ok_response"):
        assert resp.status.code == code_pb2.OK, resp
        return "OK"
    return str(body(resp)["decision"])


def body(resp: pb.CheckResponse) -> dict[str, Any]:
    kind = resp.WhichOneof("http_response")
    assert kind in ("denied_response", "error_response"), resp
    out: dict[str, Any] = json.loads(getattr(resp, kind).body)
    return out


def ok_headers(resp: pb.CheckResponse) -> dict[str, str]:
    assert resp.WhichOneof("http_response") == "ok_response", resp
    return {h.header.key: h.header.value for h in resp.ok_response.headers}


def as_principal(arn: str) -> dict[str, str]:
    return {TRUSTED_HEADER: arn}


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


@pytest.fixture(scope="module")
def sc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSidecar]:
    tmp = tmp_path_factory.mktemp("ext-authz")
    snapshot = write(tmp / "snapshot.json", snapshot_doc(1))
    config = write(tmp / "config.json", json.dumps(unit_config()))
    with running_sidecar(tmp, snapshot=snapshot, config_file=config) as running:
        yield running


def decide(
    sc: RunningSidecar, method: str, path: str, headers: Mapping[str, str] | None = None, **kw: Any
) -> str:
    return outcome(check(sc.authz_tcp, check_request(method, path, headers, **kw)))


# -- the configuration -------------------------------------------------------------------------


def test_an_empty_section_gives_every_default() -> None:
    cfg = load_config({})
    assert cfg == ExtAuthzConfig()
    assert cfg.routes == ()
    assert (cfg.unmatched, cfg.on_error) == ("deny", "error")
    assert (cfg.access_key_header, cfg.secret_key_header, cfg.session_token_header) == (
        "x-iam-access-key-id",
        "x-iam-secret-access-key",
        "x-iam-session-token",
    )
    assert cfg.trusted_principal_header is None
    assert dict(cfg.spiffe_principals) == {}
    assert (cfg.xff_trusted_hops, cfg.matched_statement_header, cfg.listen) == (0, False, None)
    assert cfg.credential_headers == ("x-iam-access-key-id", "x-iam-secret-access-key", "x-iam-session-token")


def test_every_key_is_read_and_header_names_are_lower_cased() -> None:
    cfg = load_config(
        {
            "routes": [
                {
                    "method": "get",
                    "path": "/a/{b}",
                    "action": "s3:GetObject",
                    "resource": "arn:aws:s3:::{b}",
                    "host": "API.Example.com",
                }
            ],
            "unmatched": "allow",
            "on_error": "deny",
            "credentials": {
                "access_key_id": "X-Key",
                "secret_access_key": "X-Secret",
                "session_token": "X-Token",
            },
            "trusted_principal_header": "X-Principal",
            "spiffe_principals": {FRONTEND: ALICE},
            "xff_trusted_hops": 2,
            "matched_statement_header": True,
            "listen": "127.0.0.1:0",
        }
    )  # fmt: skip
    (route,) = cfg.routes
    assert (route.method, route.host, route.params) == ("GET", "api.example.com", ("b",))
    assert (cfg.unmatched, cfg.on_error, cfg.xff_trusted_hops, cfg.listen) == (
        "allow",
        "deny",
        2,
        "127.0.0.1:0",
    )
    assert cfg.credential_headers == ("x-key", "x-secret", "x-token", "x-principal")
    assert dict(cfg.spiffe_principals) == {FRONTEND: ALICE}
    assert cfg.matched_statement_header is True


def test_the_example_route_map_loads() -> None:
    cfg = load_config_file(EXAMPLE_CONFIG.read_bytes())
    assert cfg is not None
    assert len(cfg.routes) == 14
    assert dict(cfg.spiffe_principals) == {FRONTEND: ALICE}
    by_action = {(r.method, r.action) for r in cfg.routes}
    assert ("GET", "s3:GetObject") in by_action and ("DELETE", "s3:DeleteObject") in by_action


def test_every_problem_of_a_section_is_listed_with_its_path() -> None:
    raw = {
        "routes": [
            "GET /a",
            {"method": "FETCH", "path": "/a", "action": "s3:GetObject", "resource": "*"},
            {"path": "a/{b}", "action": "s3:GetObject", "resource": "*"},
            {"path": "/a", "action": "GetObject", "resource": "*"},
            {"path": "/a", "action": "s3:GetObject", "resource": "s3://bucket"},
            {"path": "/a", "action": "s3:GetObject", "resource": "*", "host": 7},
            {"path": "/a/{bucket}", "action": "s3:GetObject", "resource": "arn:aws:s3:::{bucket}/{key}"},
            {"path": "/a", "action": "s3:GetObject", "resource": "*", "verb": "GET"},
        ],
        "unmatched": "maybe",
        "on_error": "allow",
        "credentials": {"token": "x-token"},
        "spiffe_principals": {FRONTEND: "alice"},
        "xff_trusted_hops": -1,
        "trusted_principal_header": 5,
        "listen": 50051,
        "extra": True,
    }
    with pytest.raises(ExtAuthzConfigError) as exc:
        load_config(raw)
    assert exc.value.problems == [
        "ext_authz: unknown keys ['extra']",
        "ext_authz.routes[0]: a route is an object with method, path, action, resource",
        "ext_authz.routes[1].method: 'FETCH' is not an HTTP method or *",
        "ext_authz.routes[2].path: a path template starting with / is required",
        "ext_authz.routes[3].action: service:Action is required",
        'ext_authz.routes[4].resource: an ARN template or "*" is required',
        "ext_authz.routes[5].host: a host name",
        "ext_authz.routes[6].resource: {key} is not a parameter of the path",
        "ext_authz.routes[7]: unknown keys ['verb']",
        'ext_authz.unmatched: "deny" or "allow"',
        'ext_authz.on_error: "error" (503) or "deny" (403)',
        "ext_authz.credentials: {access_key_id, secret_access_key, session_token} header names",
        "ext_authz.spiffe_principals: an object of SPIFFE id → principal ARN",
        "ext_authz.xff_trusted_hops: a non-negative integer",
        "ext_authz.trusted_principal_header: a header name",
        "ext_authz.listen: unix:/path or HOST:PORT",
    ]
    assert str(exc.value) == "; ".join(exc.value.problems)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ([], "ext_authz: an object is required"),
        ({"routes": {"GET /a": "s3:GetObject"}}, "ext_authz.routes: a list is required"),
        ({"credentials": "x-key"}, "ext_authz.credentials: {access_key_id, secret_access_key, session_token} "
                                   "header names"),
        ({"spiffe_principals": [FRONTEND]},
         "ext_authz.spiffe_principals: an object of SPIFFE id → principal ARN"),
        ({"xff_trusted_hops": "1"}, "ext_authz.xff_trusted_hops: a non-negative integer"),
        ({"routes": [{"path": "/a", "resource": "*"}]},
         "ext_authz.routes[0].action: service:Action is required"),
        ({"routes": [{"path": "/a", "action": "s3:X"}]},
         'ext_authz.routes[0].resource: an ARN template or "*" is required'),
        ({"routes": [{"action": "s3:X", "resource": "*"}]},
         "ext_authz.routes[0].path: a path template starting with / is required"),
    ],
)  # fmt: skip
def test_one_problem(raw: Any, problem: str) -> None:
    with pytest.raises(ExtAuthzConfigError) as exc:
        load_config(raw)
    assert exc.value.problems == [problem]


def test_a_parameter_named_twice_is_a_listed_problem() -> None:
    with pytest.raises(ExtAuthzConfigError) as exc:
        load_config({"routes": [{"path": "/a/{x}/b/{x}", "action": "s3:GetObject", "resource": "*"}]})
    assert exc.value.problems == ["ext_authz.routes[0].path: parameter 'x' appears twice"]


def test_every_problem_of_one_route_is_listed() -> None:
    with pytest.raises(ExtAuthzConfigError) as exc:
        load_config({"routes": [{"path": "a", "action": "GetObject", "resource": "bucket"}]})
    assert sorted(exc.value.problems) == [
        "ext_authz.routes[0].action: service:Action is required",
        "ext_authz.routes[0].path: a path template starting with / is required",
        'ext_authz.routes[0].resource: an ARN template or "*" is required',
    ]


def test_a_non_boolean_matched_statement_header_is_a_problem() -> None:
    with pytest.raises(ExtAuthzConfigError):
        load_config({"matched_statement_header": "false"})


def test_the_config_file_form() -> None:
    assert load_config_file(b'{"other": 1}') is None
    with pytest.raises(ExtAuthzConfigError) as exc:
        load_config_file(b"{not json")
    assert exc.value.problems[0].startswith("--config: not JSON: ")
    with pytest.raises(ExtAuthzConfigError) as exc:
        load_config_file(b"[1]")
    assert exc.value.problems == ["--config: a JSON object is required"]
    with pytest.raises(ExtAuthzConfigError) as exc:
        load_config_file(b'{"ext_authz": {"unmatched": "open"}}')
    assert exc.value.problems == ['ext_authz.unmatched: "deny" or "allow"']


def test_a_bad_config_file_stops_the_sidecar_before_it_listens(tmp_path: Path) -> None:
    bad = write(
        tmp_path / "bad.json", json.dumps({"ext_authz": {"routes": [{"path": "x"}], "on_error": "x"}})
    )
    with pytest.raises(ConfigError) as exc, running_sidecar(tmp_path, config_file=bad):
        pass
    assert "ext_authz.routes[0].path" in str(exc.value) and "ext_authz.on_error" in str(exc.value)
    with pytest.raises(ConfigError) as exc, running_sidecar(tmp_path, config_file=tmp_path / "missing.json"):
        pass
    assert "missing.json" in str(exc.value)


# -- route templates ---------------------------------------------------------------------------


def route(path: str, method: str = "GET", resource: str = "*", host: str | None = None) -> Any:
    raw: dict[str, Any] = {"method": method, "path": path, "action": "s3:GetObject", "resource": resource}
    if host is not None:
        raw["host"] = host
    (compiled,) = load_config({"routes": [raw]}).routes
    return compiled


def test_a_plain_parameter_matches_exactly_one_segment() -> None:
    r = route("/buckets/{bucket}")
    assert r.match("GET", "h", "/buckets/logs") == {"bucket": "logs"}
    assert r.match("GET", "h", "/buckets/logs/more") is None
    assert r.match("GET", "h", "/buckets/") is None
    assert r.match("GET", "h", "/buckets") is None
    assert r.match("GET", "h", "/buckets/logs/") is None


def test_a_plus_parameter_matches_one_or_more_segments() -> None:
    r = route("/buckets/{bucket}/objects/{key+}", resource="arn:aws:s3:::{bucket}/{key}")
    params = r.match("GET", "h", "/buckets/logs/objects/2024/01/app.log")
    assert params == {"bucket": "logs", "key": "2024/01/app.log"}
    assert r.resource_for(params) == "arn:aws:s3:::logs/2024/01/app.log"
    assert r.match("GET", "h", "/buckets/logs/objects/") is None
    assert r.match("GET", "h", "/buckets/logs/objects") is None


def test_the_method_matches_exactly_or_any_with_a_star() -> None:
    get = route("/a", method="get")
    assert get.method == "GET"
    assert get.match("GET", "h", "/a") == {}
    assert get.match("POST", "h", "/a") is None
    anything = route("/a", method="*")
    assert all(anything.match(m, "h", "/a") == {} for m in ("GET", "DELETE", "PATCH", "OPTIONS"))
    assert (
        load_config({"routes": [{"path": "/a", "action": "s3:X", "resource": "*"}]}).routes[0].method == "*"
    )


def test_the_host_restricts_a_route() -> None:
    r = route("/a", host="Admin.Example.com")
    assert r.match("GET", "admin.example.com", "/a") == {}
    assert r.match("GET", "www.example.com", "/a") is None
    assert route("/a").match("GET", "anything", "/a") == {}


def test_parameters_are_percent_decoded_after_matching_the_raw_path() -> None:
    r = route("/buckets/{bucket}/objects/{key+}", resource="arn:aws:s3:::{bucket}/{key}")
    # %2F stays inside its segment for matching, and is a "/" in the value.
    assert r.match("GET", "h", "/buckets/my%20logs/objects/a%2Fb") == {"bucket": "my logs", "key": "a/b"}
    assert route("/b/{x}").match("GET", "h", "/b/a%2Fb") == {"x": "a/b"}
    # One decoding only.
    assert route("/b/{x}").match("GET", "h", "/b/a%252Fb") == {"x": "a%2Fb"}


def test_template_text_is_literal() -> None:
    r = route("/v1.0/{x}")
    assert r.match("GET", "h", "/v1.0/a") == {"x": "a"}
    assert r.match("GET", "h", "/v1x0/a") is None
    assert route("/a+b/{x}").match("GET", "h", "/a+b/c") == {"x": "c"}


# -- Check: callers and both header forms ------------------------------------------------------


@pytest.mark.parametrize("form", ["map", "raw", "value"])
def test_both_header_forms_decide_alike(sc: RunningSidecar, form: str) -> None:
    allowed = check(
        sc.authz_tcp, check_request("GET", "/tables/payments-ledger/items/1", as_principal(BOB), form=form)
    )
    assert outcome(allowed) == "OK"
    assert ok_headers(allowed)["x-iam-principal"] == BOB
    denied = check(
        sc.authz_tcp,
        check_request(
            "PUT", "/tables/payments-ledger/items/1", {**as_principal(BOB), "X-Request-Id": "r-7"}, form=form
        ),
    )
    assert outcome(denied) == "ImplicitDeny"
    assert body(denied)["request_id"] == "r-7"


def test_an_allow_names_the_caller_and_removes_credential_headers(sc: RunningSidecar) -> None:
    resp = check(sc.authz_tcp, check_request("GET", "/tables/payments-ledger/items/1", as_principal(BOB)))
    assert resp.status.code == code_pb2.OK
    assert ok_headers(resp) == {"x-iam-principal": BOB, "x-iam-snapshot-version": "1"}
    assert list(resp.ok_response.headers_to_remove) == [*CREDENTIAL_HEADERS, "x-iam-matched-statement"]


def test_a_deny_is_403_with_a_json_body(sc: RunningSidecar) -> None:
    resp = check(
        sc.authz_tcp,
        check_request("DELETE", "/tables/payments-ledger", {**as_principal(BOB), "x-request-id": "req-1"}),
    )
    assert resp.status.code == code_pb2.PERMISSION_DENIED
    assert resp.WhichOneof("http_response") == "denied_response"
    assert resp.denied_response.status.code == 403
    assert [(h.header.key, h.header.value) for h in resp.denied_response.headers] == [
        ("content-type", "application/json")
    ]
    doc = body(resp)
    assert set(doc) == {"decision", "reason", "request_id"}
    assert doc["decision"] == "ImplicitDeny" and doc["request_id"] == "req-1"
    assert doc["reason"] and resp.status.message == doc["reason"]
    # No x-request-id: null.
    assert body(check(sc.authz_tcp, check_request("DELETE", "/tables/payments-ledger")))["request_id"] is None


def test_explicit_deny_wins_over_allow(sc: RunningSidecar) -> None:
    # alice may read the payments bucket, but its policy denies plain HTTP.
    obj = "/buckets/example-payments-data/objects/reports/2024.csv"
    assert decide(sc, "GET", obj, as_principal(ALICE)) == "ExplicitDeny"
    assert decide(sc, "GET", obj, as_principal(ALICE), scheme="https") == "OK"


def test_no_caller_is_anonymous(sc: RunningSidecar) -> None:
    assert decide(sc, "GET", "/buckets/example-logs/objects/a") == "ImplicitDeny"
    assert decide(sc, "GET", "/buckets/example-logs/objects/a", as_principal(ALICE)) == "OK"


def test_an_unmatched_request_is_denied_no_route(sc: RunningSidecar) -> None:
    resp = check(sc.authz_tcp, check_request("PATCH", "/buckets/a/objects/b", as_principal(ALICE)))
    assert resp.denied_response.status.code == 403
    assert body(resp)["decision"] == "NoRoute"
    assert body(resp)["reason"] == "no route for PATCH /buckets/a/objects/b"
    assert decide(sc, "GET", "/nothing/here", as_principal(ALICE)) == "NoRoute"


def test_the_query_string_is_not_part_of_the_path(sc: RunningSidecar) -> None:
    assert decide(sc, "GET", "/tables/payments-ledger/items/1?x=/a/b&y=2", as_principal(BOB)) == "OK"


def test_a_host_route_takes_the_host_without_its_port(sc: RunningSidecar) -> None:
    path = "/users/alice"
    assert decide(sc, "GET", path, as_principal(ALICE), host="admin.localhost:10000") == "OK"
    assert decide(sc, "GET", path, as_principal(ALICE), host="ADMIN.localhost") == "OK"
    assert decide(sc, "GET", path, as_principal(ALICE), host="www.localhost:10000") == "NoRoute"
    # No http.host: the :authority header.
    assert (
        decide(sc, "GET", path, {**as_principal(ALICE), ":authority": "admin.localhost:1"}, host="") == "OK"
    )


def test_the_resource_gets_decoded_parameters(sc: RunningSidecar) -> None:
    # dave may s3:GetObject arn:aws:s3:::unit-bucket/a b/c and nothing else.
    who = as_principal(DAVE)
    assert decide(sc, "GET", "/buckets/unit-bucket/objects/a%20b%2Fc", who) == "OK"
    assert decide(sc, "GET", "/buckets/unit-bucket/objects/a%20b/c", who) == "OK"
    assert decide(sc, "GET", "/buckets/unit-bucket/objects/a%2520b/c", who) == "ImplicitDeny"
    assert decide(sc, "GET", "/buckets/unit-bucket/objects/a b/c", who) == "OK"


def test_long_term_keys_in_headers(sc: RunningSidecar) -> None:
    keys = {"X-IAM-Access-Key-Id": ALICE_KEY, "x-iam-secret-access-key": ALICE_SECRET}
    resp = check(sc.authz_tcp, check_request("GET", "/buckets/example-logs/objects/a", keys))
    assert outcome(resp) == "OK" and ok_headers(resp)["x-iam-principal"] == ALICE
    # Credentials come first: the trusted header does not change the caller.
    resp = check(
        sc.authz_tcp, check_request("GET", "/buckets/example-logs/objects/a", {**keys, **as_principal(BOB)})
    )
    assert ok_headers(resp)["x-iam-principal"] == ALICE


@pytest.mark.parametrize(
    ("headers", "decision"),
    [
        ({"x-iam-access-key-id": ALICE_KEY, "x-iam-secret-access-key": "wrong"}, "SignatureDoesNotMatch"),
        ({"x-iam-access-key-id": ALICE_KEY}, "MissingAuthenticationToken"),
        ({"x-iam-access-key-id": "AKIAUNKNOWNKEY000000", "x-iam-secret-access-key": "s"},
         "InvalidClientTokenId"),
        ({"x-iam-access-key-id": "ASIAUNKNOWNKEY000000", "x-iam-secret-access-key": "s",
          "x-iam-session-token": "not-a-token"}, None),
        ({TRUSTED_HEADER: "not-an-arn"}, "InvalidPrincipal"),
    ],
)  # fmt: skip
def test_bad_credentials_are_401(sc: RunningSidecar, headers: dict[str, str], decision: str | None) -> None:
    resp = check(sc.authz_tcp, check_request("GET", "/buckets/example-logs/objects/a", headers))
    assert resp.status.code == code_pb2.UNAUTHENTICATED
    assert resp.denied_response.status.code == 401
    if decision is not None:
        assert body(resp)["decision"] == decision
    else:
        assert body(resp)["decision"]


def test_session_credentials_from_assume_role(sc: RunningSidecar) -> None:
    req = authorizer_pb2.AssumeRoleRequest(
        role_arn=AUDITOR, role_session_name="unit", external_id="audit-7f3c2a"
    )
    req.caller.principal_arn = CAROL
    with grpc.insecure_channel(sc.authz_tcp) as channel:
        creds = authorizer_pb2_grpc.AuthorizerStub(channel).AssumeRole(req, timeout=10).credentials
    headers = {
        "x-iam-access-key-id": creds.access_key_id,
        "x-iam-secret-access-key": creds.secret_access_key,
        "x-iam-session-token": creds.session_token,
    }
    resp = check(sc.authz_tcp, check_request("GET", "/buckets/example-logs/objects/a", headers))
    assert (
        ok_headers(resp)["x-iam-principal"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/CrossAccountAuditor/unit"
    )
    assert decide(sc, "DELETE", "/buckets/example-logs/objects/a", headers) == "ImplicitDeny"
    tampered = {**headers, "x-iam-session-token": creds.session_token[:-4] + "AAAA"}
    resp = check(sc.authz_tcp, check_request("GET", "/buckets/example-logs/objects/a", tampered))
    assert resp.denied_response.status.code == 401


def test_the_spiffe_id_maps_to_a_principal_after_the_trusted_header(sc: RunningSidecar) -> None:
    obj = "/buckets/example-logs/objects/a"
    resp = check(sc.authz_tcp, check_request("GET", obj, principal=FRONTEND))
    assert ok_headers(resp)["x-iam-principal"] == ALICE
    resp = check(sc.authz_tcp, check_request("GET", obj, as_principal(BOB), principal=FRONTEND))
    assert ok_headers(resp)["x-iam-principal"] == BOB
    # An unmapped SPIFFE id is anonymous.
    assert decide(sc, "GET", obj, principal="spiffe://cluster.local/ns/default/sa/other") == "ImplicitDeny"


# -- Check: context keys -----------------------------------------------------------------------

Q = "/queues/payments-events"


def test_aws_source_ip_is_the_peer(sc: RunningSidecar) -> None:
    bob = as_principal(BOB)
    assert decide(sc, "POST", f"{Q}/messages", bob) == "OK"  # 127.0.0.1/32
    assert decide(sc, "POST", f"{Q}/messages", bob, peer="192.0.2.7") == "ImplicitDeny"
    assert decide(sc, "DELETE", f"{Q}/messages/r-1", bob, peer="10.1.2.3") == "OK"  # 10.0.0.0/8
    # xff_trusted_hops 0 (the default): X-Forwarded-For is not believed.
    spoof = {**bob, "x-forwarded-for": "10.1.2.3"}
    assert decide(sc, "DELETE", f"{Q}/messages/r-1", spoof) == "ImplicitDeny"


def test_aws_secure_transport(sc: RunningSidecar) -> None:
    bob = as_principal(BOB)
    assert decide(sc, "GET", f"{Q}/messages", bob) == "ImplicitDeny"
    assert decide(sc, "GET", f"{Q}/messages", bob, scheme="https") == "OK"
    assert decide(sc, "GET", f"{Q}/messages", bob, principal=FRONTEND) == "OK"  # a client certificate
    assert decide(sc, "GET", f"{Q}/messages", bob, sni="svc.local") == "OK"


def test_request_headers_are_http_header_keys(sc: RunningSidecar) -> None:
    bob = as_principal(BOB)
    assert decide(sc, "DELETE", f"{Q}/messages", {**bob, "X-Team": "payments"}) == "OK"
    assert decide(sc, "DELETE", f"{Q}/messages", {**bob, "x-team": "platform"}) == "ImplicitDeny"
    assert decide(sc, "DELETE", f"{Q}/messages", bob) == "ImplicitDeny"
    assert decide(sc, "DELETE", f"{Q}/messages", {**bob, "x-team": "payments"}, form="raw") == "OK"


def test_credential_and_trusted_headers_are_not_context_keys(sc: RunningSidecar) -> None:
    # The policy wants http:header/x-test-principal to exist: it never does.
    assert decide(sc, "POST", f"{Q}/permissions", as_principal(BOB)) == "ImplicitDeny"


def test_user_agent_and_referer(sc: RunningSidecar) -> None:
    bob = as_principal(BOB)
    assert decide(sc, "POST", f"{Q}/visibility", {**bob, "user-agent": "curl/8.5.0"}) == "OK"
    assert (
        decide(sc, "POST", f"{Q}/visibility", {**bob, "user-agent": "python-urllib/3.11"}) == "ImplicitDeny"
    )
    assert decide(sc, "POST", f"{Q}/tags", {**bob, "referer": "https://console.example/"}) == "OK"
    assert decide(sc, "POST", f"{Q}/tags", bob) == "ImplicitDeny"


def test_route_parameters_and_context_extensions(sc: RunningSidecar) -> None:
    bob = as_principal(BOB)
    # route:<name>, lower-cased ({Queue} in the template), with any method (*).
    assert decide(sc, "DELETE", "/any/payments-events", bob) == "OK"
    assert decide(sc, "GET", "/any/payments-events", bob) == "OK"
    assert decide(sc, "GET", "/any/other-queue", bob) == "ImplicitDeny"
    # ext:<key> from Envoy's per-route context_extensions.
    assert decide(sc, "PUT", f"{Q}/attributes", bob, extensions={"Gateway": "edge"}) == "OK"
    assert decide(sc, "PUT", f"{Q}/attributes", bob, extensions={"gateway": "mesh"}) == "ImplicitDeny"
    assert decide(sc, "PUT", f"{Q}/attributes", bob) == "ImplicitDeny"


def test_forwarded_for_with_trusted_hops(tmp_path: Path) -> None:
    snapshot = write(tmp_path / "snapshot.json", snapshot_doc(1))
    config = write(tmp_path / "config.json", json.dumps(unit_config(xff_trusted_hops=2)))
    with running_sidecar(tmp_path, snapshot=snapshot, config_file=config) as sc:
        bob = as_principal(BOB)
        delete, send = ("DELETE", f"{Q}/messages/r-1"), ("POST", f"{Q}/messages")
        # Two trusted hops: the second address from the right.
        assert decide(sc, *delete, {**bob, "x-forwarded-for": "10.1.2.3, 192.0.2.9"}) == "OK"
        assert decide(sc, *delete, {**bob, "x-forwarded-for": "192.0.2.1,10.1.2.3, 127.0.0.1"}) == "OK"
        assert (
            decide(sc, *send, {**bob, "x-forwarded-for": "192.0.2.1,10.1.2.3, 127.0.0.1"}) == "ImplicitDeny"
        )
        # Fewer addresses than hops: the peer.
        assert decide(sc, *delete, {**bob, "x-forwarded-for": "10.1.2.3"}) == "ImplicitDeny"
        assert decide(sc, *send, {**bob, "x-forwarded-for": "10.1.2.3"}) == "OK"
        assert decide(sc, *send, bob) == "OK"


# -- Check: configuration variants -------------------------------------------------------------


def test_custom_credential_header_names(tmp_path: Path) -> None:
    names = {"access_key_id": "X-Key-Id", "secret_access_key": "X-Key-Secret", "session_token": "X-Key-Token"}
    config = write(tmp_path / "config.json", json.dumps(unit_config(credentials=names)))
    with running_sidecar(tmp_path, config_file=config) as sc:
        keys = {"x-key-id": ALICE_KEY, "x-key-secret": ALICE_SECRET}
        resp = check(sc.authz_tcp, check_request("GET", "/buckets/example-logs/objects/a", keys))
        assert ok_headers(resp)["x-iam-principal"] == ALICE
        assert list(resp.ok_response.headers_to_remove) == [
            "x-key-id",
            "x-key-secret",
            "x-key-token",
            TRUSTED_HEADER,
            "x-iam-matched-statement",
        ]
        # The default names mean nothing now: anonymous.
        default = {"x-iam-access-key-id": ALICE_KEY, "x-iam-secret-access-key": ALICE_SECRET}
        assert decide(sc, "GET", "/buckets/example-logs/objects/a", default) == "ImplicitDeny"


def test_the_matched_statement_header(tmp_path: Path) -> None:
    config = write(tmp_path / "config.json", json.dumps(unit_config(matched_statement_header=True)))
    snapshot = write(tmp_path / "snapshot.json", snapshot_doc(1))
    with running_sidecar(tmp_path, snapshot=snapshot, config_file=config) as sc:
        resp = check(sc.authz_tcp, check_request("POST", f"{Q}/messages", as_principal(BOB)))
        matched = ok_headers(resp)["x-iam-matched-statement"]
        assert "Conditions" in matched and "#0" in matched, matched


def test_no_snapshot_is_503_error_response_by_default(tmp_path: Path) -> None:
    config = write(tmp_path / "config.json", json.dumps(unit_config()))
    with running_sidecar(tmp_path, snapshot=None, config_file=config) as sc:
        resp = check(sc.authz_tcp, check_request("GET", "/buckets/a/objects/b", {"x-request-id": "r-9"}))
        assert resp.status.code == code_pb2.UNAVAILABLE
        assert resp.WhichOneof("http_response") == "error_response"
        assert resp.error_response.status.code == 503
        assert body(resp) == {"decision": "Error", "reason": "no snapshot is active yet", "request_id": "r-9"}
        # A push, and the next Check decides.
        push(sc.control, sc.token, snapshot_doc(1))
        assert decide(sc, "GET", "/tables/payments-ledger/items/1", as_principal(BOB)) == "OK"


def test_no_snapshot_is_a_403_with_on_error_deny(tmp_path: Path) -> None:
    config = write(tmp_path / "config.json", json.dumps(unit_config(on_error="deny")))
    with running_sidecar(tmp_path, snapshot=None, config_file=config) as sc:
        resp = check(sc.authz_tcp, check_request("GET", "/buckets/a/objects/b"))
        assert resp.status.code == code_pb2.PERMISSION_DENIED
        assert resp.WhichOneof("http_response") == "denied_response"
        assert resp.denied_response.status.code == 403
        assert body(resp) == {"decision": "Error", "reason": "no snapshot is active yet", "request_id": None}


def test_unmatched_allow_lets_unmapped_requests_through(tmp_path: Path) -> None:
    config = write(tmp_path / "config.json", json.dumps(unit_config(unmatched="allow")))
    with running_sidecar(tmp_path, config_file=config) as sc:
        resp = check(sc.authz_tcp, check_request("GET", "/static/app.js", as_principal(ALICE)))
        assert resp.status.code == code_pb2.OK
        assert ok_headers(resp) == {"x-iam-principal": "anonymous", "x-iam-snapshot-version": "1"}
        assert list(resp.ok_response.headers_to_remove) == [*CREDENTIAL_HEADERS, "x-iam-matched-statement"]
        # A mapped route is still decided.
        assert decide(sc, "DELETE", "/buckets/example-logs/objects/a", as_principal(ALICE)) == "ImplicitDeny"


def test_an_extra_listener_with_only_the_check_service(tmp_path: Path) -> None:
    config = write(tmp_path / "config.json", json.dumps(unit_config(listen="127.0.0.1:0")))
    with running_sidecar(tmp_path, config_file=config) as sc:
        (extra,) = sc.sidecar.addresses["ext_authz"]
        assert extra != sc.authz_tcp
        assert outcome(check(extra, check_request("GET", "/users/alice", as_principal(ALICE),
                                                  host="admin.localhost"))) == "OK"  # fmt: skip
        # Still on the Authorizer listeners too.
        assert outcome(check(sc.authz_tcp, check_request("GET", "/nope"))) == "NoRoute"
        # The Authorizer service is not on the extra listener.
        req = authorizer_pb2.AuthorizeRequest(action="s3:GetObject", resource="arn:aws:s3:::a/b")
        req.caller.principal_arn = ALICE
        with grpc.insecure_channel(extra) as channel, pytest.raises(grpc.RpcError) as exc:
            authorizer_pb2_grpc.AuthorizerStub(channel).Authorize(req, timeout=10)
        assert exc.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_without_an_ext_authz_section_there_is_no_check_service(tmp_path: Path) -> None:
    config = write(tmp_path / "config.json", "{}")
    with running_sidecar(tmp_path, config_file=config) as sc:
        assert sc.sidecar.ext_authz is None
        with pytest.raises(grpc.RpcError) as exc:
            check(sc.authz_tcp, check_request("GET", "/a"))
        assert exc.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_the_decision_log_records_checks_and_masks_listed_headers(tmp_path: Path) -> None:
    """Request headers (as http:header/ keys) are in the decision log's context: secrets such as
    Authorization need --decision-log-mask (docs/envoy.md); the sidecar's own credential
    headers never are."""
    log = tmp_path / "decisions.jsonl"
    config = write(tmp_path / "config.json", json.dumps(unit_config()))
    snapshot = write(tmp_path / "snapshot.json", snapshot_doc(1))  # some statement reads each key below
    with running_sidecar(
        tmp_path,
        snapshot=snapshot,
        config_file=config,
        decision_log=str(log),
        decision_log_mask=("http:header/authorization",),
    ) as sc:
        headers = {
            "x-iam-access-key-id": ALICE_KEY,
            "x-iam-secret-access-key": ALICE_SECRET,
            "authorization": "Bearer secret-token",
            "cookie": "session=abc",
            "x-request-id": "log-1",
        }
        req = check_request(
            "GET", "/buckets/example-logs/objects/a%20b", headers, extensions={"gateway": "edge"}
        )
        assert outcome(check(sc.authz_tcp, req)) == "OK"
    (entry,) = [json.loads(line) for line in log.read_text().splitlines() if '"rpc":"Check"' in line]
    assert (
        entry["request_id"],
        entry["principal"],
        entry["action"],
        entry["resource"],
        entry["decision"],
    ) == (
        "log-1",
        ALICE,
        "s3:GetObject",
        "arn:aws:s3:::example-logs/a b",
        "Allow",
    )
    ctx = entry["context"]
    assert ctx["http:header/authorization"] == "***"
    assert ctx["http:header/cookie"] == "session=abc"  # not listed: in clear
    assert ctx["route:bucket"] == "example-logs" and ctx["route:key"] == "a b"
    assert ctx["ext:gateway"] == "edge"
    assert (ctx["aws:sourceip"], ctx["aws:securetransport"]) == ("127.0.0.1", "false")
    assert not any(k.startswith("http:header/x-iam-") for k in ctx), ctx


def test_the_path_is_matched_as_sent_so_envoy_must_normalize_it(sc: RunningSidecar) -> None:
    """The sidecar does not resolve dot segments: ``..`` is matched (and ends up in the resource)
    as sent. Envoy's normalize_path (docs/envoy.md; tests/envoy) is what makes the authorized path
    the served one: unnormalized, this reads the payments bucket as an example-logs object."""
    sneaky = "/buckets/example-logs/objects/../../example-payments-data/objects/reports/2024.csv"
    assert decide(sc, "GET", sneaky, as_principal(ALICE)) == "OK"
    normalized = "/buckets/example-payments-data/objects/reports/2024.csv"
    assert decide(sc, "GET", normalized, as_principal(ALICE)) == "ExplicitDeny"


def test_a_host_route_for_a_bare_ipv6_literal(tmp_path: Path) -> None:
    route = {
        "method": "GET",
        "host": "[::1]",
        "path": "/v6",
        "action": "s3:ListAllMyBuckets",
        "resource": "*",
    }
    config = write(tmp_path / "config.json", json.dumps({"ext_authz": {"routes": [route]}}))
    with running_sidecar(tmp_path, config_file=config) as sc:
        assert decide(sc, "GET", "/v6", host="[::1]:10000") != "NoRoute"
        assert decide(sc, "GET", "/v6", host="[::1]") != "NoRoute"
