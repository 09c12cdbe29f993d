"""The Authorizer service on a real sidecar: decisions over the Unix socket and TCP, explanations,
every INVALID_ARGUMENT with its ErrorInfo field, identities, batches and version waits."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from sidecar.api.v1 import authorizer_pb2 as pb
from sidecar.api.v1 import authorizer_pb2_grpc

from .harness import EXAMPLE, RunningSidecar, running_sidecar
from .support import (
    ALICE,
    ALICE_ID,
    ALLOW,
    BOB,
    BUCKET,
    CAROL,
    EXPLICIT_DENY,
    IMPLICIT_DENY,
    LEDGER,
    OBJECT,
    PAYMENTS_ROLE_ID,
    PAYMENTS_SESSION,
    QUEUE,
    UNKNOWN_USER,
    authorizer,
    engine_decision,
    error_info,
    example_doc,
    request,
    to_bytes,
)

EXAMPLE_BYTES = EXAMPLE.read_bytes()


@pytest.fixture(scope="module")
def sc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSidecar]:
    """One sidecar serving the example (version 1) for the read-only tests of this module."""
    with running_sidecar(tmp_path_factory.mktemp("authz")) as running:
        yield running


@pytest.fixture(scope="module")
def stub(sc: RunningSidecar) -> Iterator[authorizer_pb2_grpc.AuthorizerStub]:
    with authorizer(sc.authz_tcp) as s:
        yield s


def code_of(call: Callable[[], object]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as exc:
        call()
    return exc.value


# -- decisions ---------------------------------------------------------------------------------

# (principal, action, resource, context, expected): each answer is plain from the policies.
DECISIONS = [
    # alice reads the payments bucket (group payments → PaymentsDataRead; boundary allows s3:*).
    (ALICE, "s3:GetObject", OBJECT, {}, ALLOW),
    # ...not over plain HTTP: the bucket policy denies aws:SecureTransport false.
    (ALICE, "s3:GetObject", OBJECT, {"aws:SecureTransport": "false"}, EXPLICIT_DENY),
    # her permissions boundary denies touching her own boundary.
    (ALICE, "iam:PutUserPermissionsBoundary", "*", {}, EXPLICIT_DENY),
    # the DenyLeaveOrg SCP of the prod OU.
    (ALICE, "organizations:LeaveOrganization", "*", {}, EXPLICIT_DENY),
    # nothing grants EC2 writes.
    (ALICE, "ec2:RunInstances", "*", {}, IMPLICIT_DENY),
    # bob (developers: ReadOnlyAccess) may read, not write.
    (BOB, "s3:GetObject", OBJECT, {}, ALLOW),
    (BOB, "s3:PutObject", OBJECT, {}, IMPLICIT_DENY),
    (BOB, "sqs:SendMessage", QUEUE, {}, IMPLICIT_DENY),
    # the PaymentsApp session writes incoming/ (its inline policy).
    (PAYMENTS_SESSION, "s3:PutObject", BUCKET + "/incoming/x.json", {}, ALLOW),
    # carol (333...) is not named by the bucket policy: cross-account needs both sides.
    (CAROL, "s3:GetObject", OBJECT, {}, IMPLICIT_DENY),
    (CAROL, "ec2:DescribeInstances", "*", {}, ALLOW),
]


@pytest.mark.parametrize("transport", ["unix", "tcp"])
@pytest.mark.parametrize(
    ("principal", "action", "resource", "context", "expected"),
    DECISIONS,
    ids=[f"{p.rsplit('/', 1)[-1]}-{a}-{e}" for p, a, _, ctx, e in DECISIONS],
)
def test_authorize_decisions(
    sc: RunningSidecar,
    transport: str,
    principal: str,
    action: str,
    resource: str,
    context: dict[str, str],
    expected: int,
) -> None:
    target = sc.authz_unix if transport == "unix" else sc.authz_tcp
    assert target.startswith("unix:") == (transport == "unix")
    with authorizer(target) as s:
        resp = s.Authorize(request(principal, action, resource, context=dict(context)), timeout=10)
    assert resp.decision == expected
    assert resp.snapshot_version == 1
    # The engine agrees on the same document (context keys in the engine's lower case).
    ctx = {k.lower(): v for k, v in context.items()}
    assert engine_decision(EXAMPLE_BYTES, principal, action, resource, ctx) == expected


def test_action_is_case_insensitive(stub) -> None:
    assert stub.Authorize(request(ALICE, "S3:getobject", OBJECT), timeout=10).decision == ALLOW
    assert stub.Authorize(request(ALICE, "IAM:putUserPermissionsBoundary", "*"), timeout=10).decision == (
        EXPLICIT_DENY
    )


def test_context_list_values_are_accepted(stub) -> None:
    resp = stub.Authorize(
        request(ALICE, "s3:GetObject", OBJECT, context={"aws:SecureTransport": ["true"]}), timeout=10
    )
    assert resp.decision == ALLOW


# -- explanations ------------------------------------------------------------------------------


def matched(resp: pb.AuthorizeResponse) -> set[tuple[str, str, str, int, str]]:
    return {
        (m.policy_kind, m.policy, m.sid, m.statement_index, m.effect)
        for m in resp.explanation.matched_statements
    }


def test_explain_resource_policy_deny(stub) -> None:
    resp = stub.Authorize(
        request(ALICE, "s3:GetObject", OBJECT, context={"aws:SecureTransport": "false"}, explain=True),
        timeout=10,
    )
    assert resp.decision == EXPLICIT_DENY
    ex = resp.explanation
    assert ("resource", BUCKET, "DenyInsecureTransport", 0, "Deny") in matched(resp)
    assert ex.decided_by == "resource"
    assert "denied" in ex.reason and "resource-based policy" in ex.reason


def test_explain_scp_deny(stub) -> None:
    resp = stub.Authorize(request(ALICE, "organizations:LeaveOrganization", "*", explain=True), timeout=10)
    assert resp.decision == EXPLICIT_DENY
    assert ("scp", "scp:DenyLeaveOrg", "DenyLeaveOrganization", 0, "Deny") in matched(resp)
    assert resp.explanation.decided_by == "scp"
    assert "service control policy" in resp.explanation.reason


def test_explain_boundary_deny_names_the_statement(stub) -> None:
    resp = stub.Authorize(request(ALICE, "iam:PutUserPermissionsBoundary", "*", explain=True), timeout=10)
    assert resp.decision == EXPLICIT_DENY
    assert [
        (m.policy_kind, m.policy, m.sid, m.statement_index, m.effect)
        for m in resp.explanation.matched_statements
    ] == [("boundary", "arn:aws:iam::222222222222:policy/DeveloperBoundary", "NoBoundaryEscape", 2, "Deny")]
    assert resp.explanation.decided_by == "boundary"
    assert resp.explanation.reason == "explicitly denied by a permissions boundary"


def test_explain_boundary_cuts_an_identity_allow(stub) -> None:
    # ReadOnlyAccess (group developers) allows ec2:Describe*, alice's boundary does not.
    resp = stub.Authorize(request(ALICE, "ec2:DescribeInstances", "*", explain=True), timeout=10)
    assert resp.decision == IMPLICIT_DENY
    assert ("identity", "arn:aws:iam::aws:policy/ReadOnlyAccess", "ReadOnly", 0, "Allow") in matched(resp)
    assert resp.explanation.decided_by == "boundary"
    assert "boundary" in resp.explanation.reason
    # bob has the same group and no boundary.
    assert stub.Authorize(request(BOB, "ec2:DescribeInstances", "*"), timeout=10).decision == ALLOW
    # An allow lists the boundary statement that let it through, as a boundary.
    allow = stub.Authorize(request(ALICE, "s3:GetObject", OBJECT, explain=True), timeout=10)
    assert (
        "boundary",
        "arn:aws:iam::222222222222:policy/DeveloperBoundary",
        "AllowedServices",
        0,
        "Allow",
    ) in matched(allow)


def test_explain_allow(stub) -> None:
    resp = stub.Authorize(request(BOB, "s3:GetObject", OBJECT, explain=True), timeout=10)
    assert resp.decision == ALLOW
    assert ("identity", "arn:aws:iam::aws:policy/ReadOnlyAccess", "ReadOnly", 0, "Allow") in matched(resp)
    assert ("scp", "scp:FullAWSAccess", "", 0, "Allow") in matched(resp)
    assert resp.explanation.decided_by == "identity"
    assert resp.explanation.reason == "allowed by identity-based policy"
    assert list(resp.explanation.missing_context_keys) == []


def test_explain_implicit_deny_lists_missing_context_keys(stub) -> None:
    # The bucket policy's DenyInsecureTransport reads aws:SecureTransport; bob's PutObject is
    # denied and the request did not carry the key.
    resp = stub.Authorize(request(BOB, "s3:PutObject", OBJECT, explain=True), timeout=10)
    assert resp.decision == IMPLICIT_DENY
    assert "aws:SecureTransport" in resp.explanation.missing_context_keys
    assert resp.explanation.reason == "no identity-based policy allows the action"
    assert resp.explanation.decided_by == "identity"
    # With the key present it is no longer missing.
    resp = stub.Authorize(
        request(BOB, "s3:PutObject", OBJECT, context={"aws:SecureTransport": "true"}, explain=True),
        timeout=10,
    )
    assert resp.decision == IMPLICIT_DENY
    assert "aws:SecureTransport" not in resp.explanation.missing_context_keys


def test_without_explain_the_explanation_is_empty(stub) -> None:
    for req in (
        request(ALICE, "s3:GetObject", OBJECT),
        request(ALICE, "iam:PutUserPermissionsBoundary", "*"),
        request(BOB, "s3:PutObject", OBJECT),
    ):
        resp = stub.Authorize(req, timeout=10)
        assert not resp.HasField("explanation")
        assert resp.explanation == pb.Explanation()
        assert resp.snapshot_version == 1


TABLE_OTHER = "arn:aws:dynamodb:us-east-1:222222222222:table/other"


def test_resource_keys_come_from_the_snapshot_when_it_knows_the_resource(stub) -> None:
    # alice's TeamTables: dynamodb:PutItem where aws:ResourceTag/team equals her team (payments).
    def put(resource: str, context: dict[str, str]) -> pb.AuthorizeResponse:
        req = request(ALICE, "dynamodb:PutItem", resource, context=context, explain=True)
        return stub.Authorize(req, timeout=10)

    assert put(LEDGER, {}).decision == ALLOW  # the ledger is tagged team=payments in the snapshot
    # The caller cannot re-tag a resource the snapshot knows.
    assert put(LEDGER, {"aws:ResourceTag/team": "platform"}).decision == ALLOW
    # An unknown table has no tags: denied, and the key is reported missing...
    other = put(TABLE_OTHER, {})
    assert other.decision == IMPLICIT_DENY
    assert list(other.explanation.missing_context_keys) == ["aws:ResourceTag/team"]
    # ...unless the caller says how it is tagged.
    assert put(TABLE_OTHER, {"aws:ResourceTag/team": "payments"}).decision == ALLOW
    assert put(TABLE_OTHER, {"aws:ResourceTag/team": "platform"}).decision == IMPLICIT_DENY


# -- anonymous and unknown principals ----------------------------------------------------------


def test_anonymous_caller(stub) -> None:
    # The prod OU's RCP denies s3 to principals outside the organisation: anonymous included.
    resp = stub.Authorize(request("anonymous", "s3:GetObject", OBJECT, explain=True), timeout=10)
    assert resp.decision == EXPLICIT_DENY
    assert resp.explanation.decided_by == "rcp"
    assert ("rcp", "rcp:DenyS3OutsideOrg", "EnforceOrgIdentities", 0, "Deny") in matched(resp)
    # Nothing grants "*" on the queue: implicit deny, and identity policies never count.
    resp = stub.Authorize(request("anonymous", "sqs:SendMessage", QUEUE, explain=True), timeout=10)
    assert resp.decision == IMPLICIT_DENY
    assert "anonymous" in resp.explanation.reason


def test_anonymous_caller_allowed_by_a_public_resource_policy(tmp_path: Path) -> None:
    doc = example_doc()
    doc["accounts"][2]["resources"] = [
        {
            "arn": "arn:aws:s3:::public-docs",
            "policy": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "Public",
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::public-docs/*",
                    }
                ],
            },
        }
    ]
    path = tmp_path / "snapshot.json"
    path.write_bytes(to_bytes(doc))
    with running_sidecar(tmp_path, snapshot=path) as sc, authorizer(sc.authz_unix) as s:
        ok = s.Authorize(request("anonymous", "s3:GetObject", "arn:aws:s3:::public-docs/a.txt"), timeout=10)
        assert ok.decision == ALLOW
        # The grant is s3:GetObject only.
        put = s.Authorize(request("anonymous", "s3:PutObject", "arn:aws:s3:::public-docs/a.txt"), timeout=10)
        assert put.decision == IMPLICIT_DENY


def test_unknown_principal_in_a_known_account_has_no_identity_policies(stub) -> None:
    # alice is allowed (group policies); mallory of the same account has none.
    assert stub.Authorize(request(ALICE, "s3:GetObject", OBJECT), timeout=10).decision == ALLOW
    assert stub.Authorize(request(ALICE, "dynamodb:GetItem", LEDGER), timeout=10).decision == ALLOW
    for action, resource in (("s3:GetObject", OBJECT), ("dynamodb:GetItem", LEDGER)):
        resp = stub.Authorize(request(UNKNOWN_USER, action, resource, explain=True), timeout=10)
        assert resp.decision == IMPLICIT_DENY
        assert not [m for m in resp.explanation.matched_statements if m.policy_kind == "identity"]
        assert resp.explanation.reason == "no identity-based policy allows the action"


# -- INVALID_ARGUMENT --------------------------------------------------------------------------


def _set(req: pb.AuthorizeRequest, fn: Callable[[pb.AuthorizeRequest], object]) -> pb.AuthorizeRequest:
    fn(req)
    return req


def _valid() -> pb.AuthorizeRequest:
    return request(ALICE, "s3:GetObject", OBJECT)


def _empty_value(key: str) -> pb.AuthorizeRequest:
    req = _valid()
    req.context[key].CopyFrom(pb.ContextValue())  # the map entry exists, with neither field
    return req


def _many_keys(n: int) -> pb.AuthorizeRequest:
    return request(ALICE, "s3:GetObject", OBJECT, context={f"app:key{i}": "v" for i in range(n)})


INVALID = [
    ("no-caller", lambda: request(None, "s3:GetObject", OBJECT), "caller"),
    (
        "empty-principal-arn",
        lambda: _set(_valid(), lambda r: setattr(r.caller, "principal_arn", "")),
        "caller.principal_arn",
    ),
    ("bad-principal-arn", lambda: request("not-an-arn", "s3:GetObject", OBJECT), "caller.principal_arn"),
    (
        "policy-arn-as-principal",
        lambda: request("arn:aws:iam::222222222222:policy/Foo", "s3:GetObject", OBJECT),
        "caller.principal_arn",
    ),
    (
        "anonymous-false",
        lambda: _set(request(None, "s3:GetObject", OBJECT), lambda r: setattr(r.caller, "anonymous", False)),
        "caller.anonymous",
    ),
    ("empty-action", lambda: request(ALICE, "", OBJECT), "action"),
    ("action-without-service", lambda: request(ALICE, "GetObject", OBJECT), "action"),
    ("action-wildcard", lambda: request(ALICE, "s3:Get*", OBJECT), "action"),
    ("action-star", lambda: request(ALICE, "*", OBJECT), "action"),
    ("empty-resource", lambda: request(ALICE, "s3:GetObject", ""), "resource"),
    ("resource-not-arn", lambda: request(ALICE, "s3:GetObject", "example-payments-data"), "resource"),
    ("resource-too-few-colons", lambda: request(ALICE, "s3:GetObject", "arn:aws:s3"), "resource"),
    (
        "resource-account-short",
        lambda: request(ALICE, "s3:GetObject", OBJECT, resource_account="12345"),
        "resource_account",
    ),
    (
        "resource-account-letters",
        lambda: request(ALICE, "s3:GetObject", OBJECT, resource_account="abcdefghijkl"),
        "resource_account",
    ),
    *(
        (
            f"principal-key-{key}",
            (lambda key=key: request(ALICE, "s3:GetObject", OBJECT, context={key: "x"})),
            f"context[{json.dumps(key)}]",
        )
        for key in (
            "aws:PrincipalTag/team",
            "AWS:PRINCIPALTAG/Team",
            "aws:userid",
            "aws:UserId",
            "aws:PrincipalArn",
            "AWS:PRINCIPALARN",
            "aws:PrincipalOrgID",
            "aws:MultiFactorAuthPresent",
        )
    ),
    (
        "same-key-twice-with-different-values",
        lambda: request(
            ALICE, "s3:GetObject", OBJECT, context={"aws:SourceIp": "10.0.0.1", "AWS:SOURCEIP": "10.0.0.2"}
        ),
        # whichever spelling the server meets second (map order is not specified)
        ('context["AWS:SOURCEIP"]', 'context["aws:SourceIp"]'),
    ),
    ("action-too-long", lambda: request(ALICE, "s3:" + "a" * 300, OBJECT), "action"),
    ("action-with-space", lambda: request(ALICE, "s3:Get Object", OBJECT), "action"),
    ("resource-too-long", lambda: request(ALICE, "s3:GetObject", BUCKET + "/" + "k" * 2100), "resource"),
    ("too-many-keys", lambda: _many_keys(257), "context"),
    (
        "too-long-value",
        lambda: request(ALICE, "s3:GetObject", OBJECT, context={"s3:prefix": "x" * 8193}),
        'context["s3:prefix"]',
    ),
    (
        "too-long-list-value",
        lambda: request(ALICE, "s3:GetObject", OBJECT, context={"s3:prefix": ["ok", "y" * 8193]}),
        'context["s3:prefix"]',
    ),
    (
        "too-many-values",
        lambda: request(ALICE, "s3:GetObject", OBJECT, context={"app:list": [str(i) for i in range(1025)]}),
        "context",
    ),
    (
        "too-many-characters",
        lambda: request(ALICE, "s3:GetObject", OBJECT, context={f"app:k{i}": "z" * 8000 for i in range(9)}),
        "context",
    ),
    ("value-with-neither-field", lambda: _empty_value("aws:SourceIp"), 'context["aws:SourceIp"]'),
    (
        "key-without-prefix",
        lambda: request(ALICE, "s3:GetObject", OBJECT, context={"nocolon": "v"}),
        'context["nocolon"]',
    ),
]


@pytest.mark.parametrize(("build", "field"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_argument_names_the_field(
    stub, build: Callable[[], pb.AuthorizeRequest], field: str | tuple[str, ...]
) -> None:
    err = code_of(lambda: stub.Authorize(build(), timeout=10))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.details()
    info = error_info(err)
    assert info.reason == "InvalidArgument"
    fields = field if isinstance(field, tuple) else (field,)
    assert info.metadata["field"] in fields
    assert err.details().startswith(info.metadata["field"] + ":")


def test_context_at_the_limits_is_accepted(stub) -> None:
    # Exactly 256 keys and an 8,192-character value are within the limits.
    assert stub.Authorize(_many_keys(256), timeout=10).decision == ALLOW
    req = request(ALICE, "s3:GetObject", OBJECT, context={"s3:prefix": "x" * 8192})
    assert stub.Authorize(req, timeout=10).decision == ALLOW


def test_credentials_caller_is_authenticated(stub) -> None:
    # alice's long-term key (examples/snapshot.json stores the sha256 of the AWS example secret).
    req = pb.AuthorizeRequest(action="s3:GetObject", resource=OBJECT)
    req.caller.credentials.access_key_id = "AKIAIOSFODNN7EXAMPLE"
    req.caller.credentials.secret_access_key = "secret"
    err = code_of(lambda: stub.Authorize(req, timeout=10))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    info = error_info(err)
    assert info.reason == "SignatureDoesNotMatch"
    assert info.metadata["field"] == "caller.credentials.secret_access_key"
    req.caller.credentials.secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert stub.Authorize(req, timeout=10).decision == ALLOW  # decided as alice


def test_assume_role_is_served(stub) -> None:
    # Deployer's trust policy wants MFA: without it, AccessDenied (tests/server/test_sts.py has more).
    req = pb.AssumeRoleRequest(
        role_arn="arn:aws:iam::222222222222:role/Deployer", role_session_name="deploy-1"
    )
    req.caller.principal_arn = ALICE
    err = code_of(lambda: stub.AssumeRole(req, timeout=10))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    info = error_info(err)
    assert (info.reason, info.metadata["field"]) == ("AccessDenied", "role_arn")


# -- GetCallerIdentity -------------------------------------------------------------------------


def _identity(stub, principal: str) -> pb.GetCallerIdentityResponse:
    req = pb.GetCallerIdentityRequest()
    if principal == "anonymous":
        req.caller.anonymous = True
    else:
        req.caller.principal_arn = principal
    return stub.GetCallerIdentity(req, timeout=10)


def test_get_caller_identity_of_users(stub) -> None:
    resp = _identity(stub, ALICE)
    assert (resp.account, resp.arn, resp.user_id) == ("222222222222", ALICE, ALICE_ID)
    assert resp.snapshot_version == 1
    resp = _identity(stub, BOB)
    assert (resp.account, resp.arn, resp.user_id) == ("222222222222", BOB, "AIDAIOSFODNN7EXAMPLE2")
    resp = _identity(stub, CAROL)
    assert (resp.account, resp.user_id) == ("333333333333", "AIDA5CAROLEXAMPLE0001")


def test_get_caller_identity_of_a_role_session_and_root(stub) -> None:
    resp = _identity(stub, PAYMENTS_SESSION)
    assert resp.account == "222222222222"
    assert resp.arn == PAYMENTS_SESSION
    assert resp.user_id == f"{PAYMENTS_ROLE_ID}:i-0abc"
    resp = _identity(stub, "arn:aws:iam::333333333333:root")
    assert (resp.account, resp.user_id) == ("333333333333", "333333333333")


def test_get_caller_identity_refusals(stub) -> None:
    err = code_of(lambda: _identity(stub, "anonymous"))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_info(err).metadata["field"] == "caller.anonymous"
    err = code_of(lambda: stub.GetCallerIdentity(pb.GetCallerIdentityRequest(), timeout=10))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(err).metadata["field"] == "caller"
    err = code_of(lambda: _identity(stub, "not-an-arn"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(err).metadata["field"] == "caller.principal_arn"


# -- AuthorizeBatch ----------------------------------------------------------------------------


def test_authorize_batch_answers_in_order(stub) -> None:
    items = [DECISIONS[i % len(DECISIONS)] for i in range(66)]
    reqs = [request(p, a, r, context=dict(ctx)) for p, a, r, ctx, _ in items]
    reqs[7].explain = True
    resp = stub.AuthorizeBatch(pb.AuthorizeBatchRequest(requests=reqs), timeout=10)
    assert resp.snapshot_version == 1
    assert len(resp.responses) == len(items)
    assert [r.decision for r in resp.responses] == [e for *_, e in items]
    assert {r.snapshot_version for r in resp.responses} == {1}
    assert {ALLOW, EXPLICIT_DENY, IMPLICIT_DENY} <= {r.decision for r in resp.responses}
    # Only the item that asked for an explanation has one.
    assert resp.responses[7].explanation.reason
    assert [i for i, r in enumerate(resp.responses) if r.HasField("explanation")] == [7]
    # Each answer is the one Authorize gives alone.
    for req, got in zip(reqs[:11], resp.responses[:11], strict=True):
        assert stub.Authorize(req, timeout=10).decision == got.decision


def test_authorize_batch_too_many_items(stub) -> None:
    reqs = [request(ALICE, "s3:GetObject", OBJECT)] * 10_001
    err = code_of(lambda: stub.AuthorizeBatch(pb.AuthorizeBatchRequest(requests=reqs), timeout=20))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(err).metadata["field"] == "requests"


def test_authorize_batch_empty(stub) -> None:
    resp = stub.AuthorizeBatch(pb.AuthorizeBatchRequest(), timeout=10)
    assert list(resp.responses) == []
    assert resp.snapshot_version == 1


@pytest.mark.parametrize(
    ("index", "spoil", "field"),
    [
        (37, lambda r: setattr(r, "action", "s3:Get*"), "requests[37].action"),
        (0, lambda r: r.ClearField("caller"), "requests[0].caller"),
        (12, lambda r: setattr(r, "resource", "bucket"), "requests[12].resource"),
        (49, lambda r: setattr(r, "resource_account", "1"), "requests[49].resource_account"),
        (
            5,
            lambda r: r.context["aws:userid"].MergeFrom(pb.ContextValue(string_value="AIDA")),
            'requests[5].context["aws:userid"]',
        ),
        (
            50,
            lambda r: setattr(r.caller, "principal_arn", "arn:aws:s3:::bucket"),
            "requests[50].caller.principal_arn",
        ),
    ],
)
def test_authorize_batch_malformed_item_names_its_index(
    stub, index: int, spoil: Callable[[pb.AuthorizeRequest], object], field: str
) -> None:
    reqs = [request(ALICE, "s3:GetObject", OBJECT) for _ in range(51)]
    spoil(reqs[index])
    err = code_of(lambda: stub.AuthorizeBatch(pb.AuthorizeBatchRequest(requests=reqs), timeout=10))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    info = error_info(err)
    assert info.reason == "InvalidArgument"
    assert info.metadata["field"] == field
    assert err.details().startswith(field + ":")


# -- versions and deadlines --------------------------------------------------------------------


def test_min_snapshot_version_already_reached(stub) -> None:
    resp = stub.Authorize(request(ALICE, "s3:GetObject", OBJECT, min_snapshot_version=1), timeout=10)
    assert (resp.decision, resp.snapshot_version) == (ALLOW, 1)


def test_min_snapshot_version_never_arriving_respects_a_short_deadline(stub) -> None:
    started = time.monotonic()
    err = code_of(
        lambda: stub.Authorize(request(ALICE, "s3:GetObject", OBJECT, min_snapshot_version=7), timeout=0.3)
    )
    elapsed = time.monotonic() - started
    assert err.code() in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.FAILED_PRECONDITION)
    assert elapsed < 2.0  # bounded by the caller's deadline, not max_version_wait (5 s)
    if err.code() == grpc.StatusCode.FAILED_PRECONDITION:
        assert error_info(err).reason == "SnapshotVersionNotReached"


def test_max_version_wait_caps_the_wait(tmp_path: Path) -> None:
    with running_sidecar(tmp_path, max_version_wait=0.2) as sc, authorizer(sc.authz_tcp) as s:
        started = time.monotonic()
        err = code_of(
            lambda: s.Authorize(request(ALICE, "s3:GetObject", OBJECT, min_snapshot_version=7), timeout=5)
        )
        elapsed = time.monotonic() - started
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "snapshot version 7 was asked for" in err.details()
        assert "the active version is 1" in err.details()
        info = error_info(err)
        assert info.reason == "SnapshotVersionNotReached"
        assert info.metadata["field"] == "min_snapshot_version"
        assert 0.15 <= elapsed < 3.0
        # A batch counts the largest of its own and its items' min_snapshot_version.
        item = request(ALICE, "s3:GetObject", OBJECT, min_snapshot_version=4)
        err = code_of(lambda: s.AuthorizeBatch(pb.AuthorizeBatchRequest(requests=[item]), timeout=5))
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "snapshot version 4 was asked for" in err.details()
        err = code_of(
            lambda: s.AuthorizeBatch(
                pb.AuthorizeBatchRequest(requests=[item], min_snapshot_version=9), timeout=5
            )
        )
        assert "snapshot version 9 was asked for" in err.details()


def test_no_snapshot_yet_is_unavailable(tmp_path: Path) -> None:
    with running_sidecar(tmp_path, snapshot=None) as sc, authorizer(sc.authz_unix) as s:
        calls = [
            lambda: s.Authorize(request(ALICE, "s3:GetObject", OBJECT), timeout=5),
            lambda: s.AuthorizeBatch(
                pb.AuthorizeBatchRequest(requests=[request(ALICE, "s3:GetObject", OBJECT)]), timeout=5
            ),
            lambda: s.GetCallerIdentity(pb.GetCallerIdentityRequest(caller=pb.Caller(principal_arn=ALICE))),
        ]
        for call in calls:
            err = code_of(call)
            assert err.code() == grpc.StatusCode.UNAVAILABLE
            assert error_info(err).reason == "NoSnapshot"
