"""AssumeRole and credential callers on a real sidecar: issued sessions and their fields, every
STS refusal with its status, ErrorInfo reason and field, sessions and long-term keys as
Authorize / AuthorizeBatch / GetCallerIdentity callers, session policies, pushed snapshots
that delete the role, keysets shared between replicas (and rotated), and the CLI.

Facts of examples/snapshot.json the tests rely on (checked by the first tests below):

* alice (222222222222) has the access key AKIAIOSFODNN7EXAMPLE with the AWS example secret
  and the virtual MFA device arn:aws:iam::222222222222:mfa/alice (TOTP seed below).
* Deployer (AROADBQP57FF2AEXAMPLE, max session 7200 s, tag team=platform) trusts alice with
  MFA for sts:AssumeRole and sts:TagSession; it may lambda:UpdateFunctionCode and
  lambda:GetFunction on function:payments-* and nothing else.
* CrossAccountAuditor (AROA4QSTZ6EXAMPLEAUD1, ReadOnlyAccess) trusts account 333333333333
  with sts:ExternalId "audit-7f3c2a"; carol (333333333333, group auditors) may
  sts:AssumeRole on it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP

from sidecar.api.v1 import authorizer_pb2 as pb
from sidecar.api.v1 import authorizer_pb2_grpc
from sidecar.sts import Keyset, KeysetError, SessionClaims, TokenCodec, new_keyset_json

from .harness import REPO, RunningSidecar, running_sidecar
from .support import (
    ALICE,
    ALICE_ID,
    ALLOW,
    CAROL,
    IMPLICIT_DENY,
    OBJECT,
    UNKNOWN_USER,
    authorizer,
    error_info,
    example_doc,
    push,
    to_bytes,
)

ACCOUNT = "222222222222"
DEPLOYER = f"arn:aws:iam::{ACCOUNT}:role/Deployer"
DEPLOYER_ID = "AROADBQP57FF2AEXAMPLE"
AUDITOR = f"arn:aws:iam::{ACCOUNT}:role/CrossAccountAuditor"
AUDITOR_ID = "AROA4QSTZ6EXAMPLEAUD1"
EXTERNAL_ID = "audit-7f3c2a"
ALICE_KEY = "AKIAIOSFODNN7EXAMPLE"
ALICE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
MFA_SERIAL = f"arn:aws:iam::{ACCOUNT}:mfa/alice"
MFA_SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:payments-api"
OTHER_FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:billing-api"

ACCESS_KEY_ID = re.compile(r"ASIA[A-Z2-7]{16}")

CLI = REPO / ".venv" / "bin" / "iam-sidecar"
if not CLI.exists():  # pragma: no cover - another virtualenv layout
    CLI = Path(sys.executable).parent / "iam-sidecar"


# -- helpers -----------------------------------------------------------------------------------


def totp_code(at: float | None = None) -> str:
    totp = TOTP(base64.b32decode(MFA_SEED), 6, SHA1(), 30)
    return totp.generate(int(time.time() if at is None else at)).decode()


def wrong_code() -> str:
    """A six-digit code that is none of the codes the server accepts now (±1 step)."""
    now = time.time()
    valid = {totp_code(now + d) for d in (-60, -30, 0, 30, 60)}
    return next(c for c in (f"{i:06d}" for i in range(1_000_000)) if c not in valid)


Creds = tuple[str, str, str]  # access key id, secret, session token


def set_caller(caller: pb.Caller, principal: str | None, credentials: Creds | None) -> None:
    if credentials is not None:
        c = caller.credentials
        c.access_key_id, c.secret_access_key, c.session_token = credentials
    elif principal == "anonymous":
        caller.anonymous = True
    elif principal is not None:
        caller.principal_arn = principal


def assume_request(
    role_arn: str,
    session: str,
    *,
    principal: str | None = None,
    credentials: Creds | None = None,
    tags: list[tuple[str, str]] | None = None,
    context: dict[str, str] | None = None,
    **fields: Any,
) -> pb.AssumeRoleRequest:
    req = pb.AssumeRoleRequest(role_arn=role_arn, role_session_name=session, **fields)
    set_caller(req.caller, principal, credentials)
    for key, value in tags or []:
        req.tags.add(key=key, value=value)
    for key, value in (context or {}).items():
        req.context[key].string_value = value
    return req


def with_mfa(**fields: Any) -> dict[str, Any]:
    return {"serial_number": MFA_SERIAL, "token_code": totp_code(), **fields}


def deployer_request(session: str, **fields: Any) -> pb.AssumeRoleRequest:
    """alice → Deployer with a fresh MFA code (the trust policy requires MFA)."""
    fields.setdefault("principal", ALICE)
    return assume_request(DEPLOYER, session, **with_mfa(**fields))


def auditor_request(session: str, **fields: Any) -> pb.AssumeRoleRequest:
    """carol → CrossAccountAuditor with the external id the trust policy wants."""
    fields.setdefault("principal", CAROL)
    fields.setdefault("external_id", EXTERNAL_ID)
    return assume_request(AUDITOR, session, **fields)


def creds_of(resp: pb.AssumeRoleResponse, *, with_secret: bool = True) -> Creds:
    c = resp.credentials
    return (c.access_key_id, c.secret_access_key if with_secret else "", c.session_token)


ALICE_CREDS: Creds = (ALICE_KEY, ALICE_SECRET, "")


def authz(
    credentials: Creds | None,
    action: str,
    resource: str,
    *,
    principal: str | None = None,
    context: dict[str, str] | None = None,
    **fields: Any,
) -> pb.AuthorizeRequest:
    req = pb.AuthorizeRequest(action=action, resource=resource, **fields)
    set_caller(req.caller, principal, credentials)
    for key, value in (context or {}).items():
        req.context[key].string_value = value
    return req


def identity(credentials: Creds | None = None, principal: str | None = None) -> pb.GetCallerIdentityRequest:
    req = pb.GetCallerIdentityRequest()
    set_caller(req.caller, principal, credentials)
    return req


def rpc_error(call: Callable[[], object]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as exc:
        call()
    return exc.value


def assert_refused(
    call: Callable[[], object], code: grpc.StatusCode, reason: str, field: str | None = None
) -> grpc.RpcError:
    """The call fails with ``code`` and an ErrorInfo ``reason`` (and ``field``, when given; ""
    means no field)."""
    err = rpc_error(call)
    assert err.code() == code, (err.code(), err.details())
    info = error_info(err)
    assert info.reason == reason, (info.reason, err.details())
    if field is not None:
        assert info.metadata.get("field", "") == field, (dict(info.metadata), err.details())
        if field:
            assert err.details().startswith(field + ":"), err.details()
    return err


def tampered(token: str) -> str:
    """The token with one character in the sealed part changed (still base64url)."""
    i = len(token) // 2
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]


def session_policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(
    action: str | list[str], resource: str = "*", condition: dict[str, Any] | None = None
) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition is not None:
        st["Condition"] = condition
    return st


# -- the served sidecar ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSidecar]:
    """One sidecar (random STS key) serving the example, for the tests that push nothing."""
    with running_sidecar(tmp_path_factory.mktemp("sts")) as running:
        yield running


@pytest.fixture(scope="module")
def stub(sc: RunningSidecar) -> Iterator[authorizer_pb2_grpc.AuthorizerStub]:
    with authorizer(sc.authz_tcp) as s:
        yield s


@pytest.fixture(scope="module")
def deployer_session(stub: authorizer_pb2_grpc.AuthorizerStub) -> pb.AssumeRoleResponse:
    resp: pb.AssumeRoleResponse = stub.AssumeRole(deployer_request("deploy-1"), timeout=10)
    return resp


@pytest.fixture(scope="module")
def auditor_session(stub: authorizer_pb2_grpc.AuthorizerStub) -> pb.AssumeRoleResponse:
    resp: pb.AssumeRoleResponse = stub.AssumeRole(auditor_request("audit-1"), timeout=10)
    return resp


# -- the premises ------------------------------------------------------------------------------


def test_the_example_holds_what_these_tests_assume() -> None:
    doc = example_doc()
    prod = doc["accounts"][1]
    alice = prod["users"][0]
    assert alice["name"] == "alice"
    key = alice["access_keys"][0]
    assert key["id"] == ALICE_KEY and key["status"] == "Active"
    assert hashlib.sha256(ALICE_SECRET.encode()).hexdigest() == key["secret_sha256"]
    assert alice["mfa_devices"] == [{"serial": MFA_SERIAL, "totp_seed_base32": MFA_SEED}]
    roles = {r["name"]: r for r in prod["roles"]}
    assert roles["Deployer"]["id"] == DEPLOYER_ID
    assert roles["Deployer"]["max_session_duration"] == 7200
    assert roles["CrossAccountAuditor"]["id"] == AUDITOR_ID
    carol = doc["accounts"][2]["users"][0]
    assert carol["name"] == "carol" and carol["groups"] == ["auditors"]
    auditors = doc["accounts"][2]["groups"][0]["inline_policies"]["AssumeProdAuditor"]
    assert auditors["Statement"][0] == allow("sts:AssumeRole", AUDITOR)


# -- AssumeRole: success -----------------------------------------------------------------------


def test_assume_role_across_accounts_with_the_external_id(stub) -> None:
    before = time.time()
    resp = stub.AssumeRole(auditor_request("audit-fields"), timeout=10)
    after = time.time()
    c = resp.credentials
    assert ACCESS_KEY_ID.fullmatch(c.access_key_id), c.access_key_id
    assert len(c.secret_access_key) == 40
    assert c.session_token and c.session_token not in (c.access_key_id, c.secret_access_key)
    # The default duration: one hour (whole seconds on the wire).
    assert int(before) + 3600 <= c.expiration.seconds <= int(after) + 3600 + 1
    assert (
        resp.assumed_role_user.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/CrossAccountAuditor/audit-fields"
    )
    assert resp.assumed_role_user.assumed_role_id == f"{AUDITOR_ID}:audit-fields"
    assert resp.packed_policy_size == 0  # no session policies, no tags
    assert resp.source_identity == ""
    assert resp.snapshot_version == 1


def test_assume_role_with_mfa_tags_and_transitive_keys(stub) -> None:
    before = time.time()
    req = deployer_request(
        "deploy-tags",
        duration_seconds=7200,
        tags=[("team", "payments"), ("project", "blue")],
        transitive_tag_keys=["project"],
    )
    resp = stub.AssumeRole(req, timeout=10)
    after = time.time()
    assert ACCESS_KEY_ID.fullmatch(resp.credentials.access_key_id)
    assert len(resp.credentials.secret_access_key) == 40
    assert int(before) + 7200 <= resp.credentials.expiration.seconds <= int(after) + 7200 + 1
    assert resp.assumed_role_user.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/deploy-tags"
    assert resp.assumed_role_user.assumed_role_id == f"{DEPLOYER_ID}:deploy-tags"
    assert 0 < resp.packed_policy_size <= 100  # tags count towards the packed size
    assert resp.snapshot_version == 1


def test_every_session_gets_its_own_credentials(stub) -> None:
    one = stub.AssumeRole(auditor_request("same-name"), timeout=10)
    two = stub.AssumeRole(auditor_request("same-name"), timeout=10)
    assert one.assumed_role_user == two.assumed_role_user
    assert one.credentials.access_key_id != two.credentials.access_key_id
    assert one.credentials.secret_access_key != two.credentials.secret_access_key
    assert one.credentials.session_token != two.credentials.session_token


def test_session_name_keeps_its_case_in_the_arn(stub) -> None:
    resp = stub.AssumeRole(auditor_request("Audit.Run=7@x"), timeout=10)
    assert resp.assumed_role_user.arn.endswith("/CrossAccountAuditor/Audit.Run=7@x")
    assert resp.assumed_role_user.assumed_role_id == f"{AUDITOR_ID}:Audit.Run=7@x"


def test_a_long_term_key_assumes_a_role_with_mfa(stub) -> None:
    resp = stub.AssumeRole(
        deployer_request("deploy-key", principal=None, credentials=ALICE_CREDS), timeout=10
    )
    assert resp.assumed_role_user.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/deploy-key"
    who = stub.GetCallerIdentity(identity(creds_of(resp)), timeout=10)
    assert who.arn == resp.assumed_role_user.arn


def test_a_session_policy_arn_counts_towards_the_packed_size(stub) -> None:
    resp = stub.AssumeRole(
        auditor_request(
            "audit-arn", policy_arns=[f"arn:aws:iam::{ACCOUNT}:policy/payments/PaymentsDataRead"]
        ),
        timeout=10,
    )
    assert 0 < resp.packed_policy_size <= 100


# -- AssumeRole: refusals ----------------------------------------------------------------------

PD, IA, UA = (
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.UNAUTHENTICATED,
)
BAD_POLICY = session_policy({"Effect": "Perhaps", "Action": "s3:GetObject", "Resource": "*"})

# (id, request builder, code, ErrorInfo reason, field)
REFUSALS: list[tuple[str, Callable[[], pb.AssumeRoleRequest], grpc.StatusCode, str, str]] = [
    ("no-mfa", lambda: assume_request(DEPLOYER, "s1", principal=ALICE), PD, "AccessDenied", "role_arn"),
    (
        "wrong-mfa-code",
        lambda: assume_request(
            DEPLOYER, "s1", principal=ALICE, serial_number=MFA_SERIAL, token_code=wrong_code()
        ),
        PD,
        "AccessDenied",
        "token_code",
    ),
    (
        "another-users-mfa-device",
        lambda: assume_request(
            DEPLOYER,
            "s1",
            principal=f"arn:aws:iam::{ACCOUNT}:user/contractors/bob",
            serial_number=MFA_SERIAL,
            token_code=totp_code(),
        ),
        PD,
        "AccessDenied",
        "token_code",
    ),
    (
        "wrong-external-id",
        lambda: auditor_request("s1", external_id="audit-0000"),
        PD,
        "AccessDenied",
        "role_arn",
    ),
    (
        "missing-external-id",
        lambda: assume_request(AUDITOR, "s1", principal=CAROL),
        PD,
        "AccessDenied",
        "role_arn",
    ),
    (
        "unknown-role",
        lambda: assume_request(
            f"arn:aws:iam::{ACCOUNT}:role/NoSuchRole", "s1", principal=CAROL, external_id=EXTERNAL_ID
        ),
        PD,
        "AccessDenied",
        "role_arn",
    ),
    (
        "role-arn-with-the-wrong-path",
        lambda: assume_request(
            f"arn:aws:iam::{ACCOUNT}:role/ops/Deployer", "s1", **with_mfa(principal=ALICE)
        ),
        PD,
        "AccessDenied",
        "role_arn",
    ),
    (
        "root-caller",
        lambda: auditor_request("s1", principal="arn:aws:iam::333333333333:root"),
        PD,
        "AccessDenied",
        "caller",
    ),
    ("unknown-caller", lambda: auditor_request("s1", principal=UNKNOWN_USER), PD, "AccessDenied", "caller"),
    (
        "anonymous",
        lambda: auditor_request("s1", principal="anonymous"),
        UA,
        "MissingAuthenticationToken",
        "caller",
    ),
    (
        "source-identity-not-trusted",
        lambda: auditor_request("s1", source_identity="carol"),
        PD,
        "AccessDenied",
        "role_arn",
    ),
    (
        "bad-session-name",
        lambda: auditor_request("has space"),
        IA,
        "ValidationError",
        "role_session_name",
    ),
    ("short-session-name", lambda: auditor_request("x"), IA, "ValidationError", "role_session_name"),
    (
        "not-a-role-arn",
        lambda: assume_request(CAROL, "s1", principal=CAROL),
        IA,
        "ValidationError",
        "role_arn",
    ),
    (
        "duration-above-the-role-max",
        lambda: deployer_request("s1", duration_seconds=7201),
        IA,
        "ValidationError",
        "duration_seconds",
    ),
    (
        "duration-above-the-default-max",
        lambda: auditor_request("s1", duration_seconds=3601),
        IA,
        "ValidationError",
        "duration_seconds",
    ),
    (
        "duration-below-900",
        lambda: auditor_request("s1", duration_seconds=899),
        IA,
        "ValidationError",
        "duration_seconds",
    ),
    (
        "serial-without-code",
        lambda: assume_request(DEPLOYER, "s1", principal=ALICE, serial_number=MFA_SERIAL),
        IA,
        "ValidationError",
        "token_code",
    ),
    (
        "code-not-six-digits",
        lambda: deployer_request("s1", token_code="12345a"),
        IA,
        "ValidationError",
        "token_code",
    ),
    (
        "malformed-session-policy",
        lambda: auditor_request("s1", policy=BAD_POLICY),
        IA,
        "MalformedPolicyDocument",
        "policy",
    ),
    (
        "session-policy-not-json",
        lambda: auditor_request("s1", policy="{not json"),
        IA,
        "MalformedPolicyDocument",
        "policy",
    ),
    (
        "session-policy-too-long",
        lambda: auditor_request(
            "s1", policy=session_policy(*(allow(f"s3:GetObject{i:04d}") for i in range(60)))
        ),
        IA,
        "PackedPolicyTooLarge",
        "policy",
    ),
    (
        "unknown-policy-arn",
        lambda: auditor_request("s1", policy_arns=[f"arn:aws:iam::{ACCOUNT}:policy/DoesNotExist"]),
        IA,
        "InvalidParameterValue",
        "policy_arns",
    ),
    (
        "duplicate-tag-keys",
        lambda: deployer_request("s1", tags=[("team", "a"), ("TEAM", "b")]),
        IA,
        "InvalidParameterValue",
        "tags",
    ),
    (
        "reserved-tag-prefix",
        lambda: deployer_request("s1", tags=[("aws:team", "a")]),
        IA,
        "InvalidParameterValue",
        "tags",
    ),
    (
        "transitive-key-not-a-tag",
        lambda: deployer_request("s1", tags=[("team", "a")], transitive_tag_keys=["project"]),
        IA,
        "InvalidParameterValue",
        "transitive_tag_keys",
    ),
    (
        "session-tags-too-large",
        lambda: deployer_request(
            "s1", tags=[(f"k{i}", base64.b32encode(os.urandom(160)).decode()[:256]) for i in range(50)]
        ),
        IA,
        "PackedPolicyTooLarge",
        "tags",
    ),
    (
        "federated-user-caller",
        lambda: auditor_request("s1", principal="arn:aws:sts::333333333333:federated-user/carol"),
        PD,
        "AccessDenied",
        "caller",
    ),
    (
        "mfa-key-in-the-context",
        lambda: assume_request(
            DEPLOYER, "s1", principal=ALICE, context={"aws:MultiFactorAuthPresent": "true"}
        ),
        IA,
        "InvalidArgument",
        'context["aws:MultiFactorAuthPresent"]',
    ),
    (
        "wrong-secret",
        lambda: deployer_request("s1", principal=None, credentials=(ALICE_KEY, "x" * 40, "")),
        UA,
        "SignatureDoesNotMatch",
        "caller.credentials.secret_access_key",
    ),
]


@pytest.mark.parametrize(
    ("build", "code", "reason", "field"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_assume_role_refusals(
    stub, build: Callable[[], pb.AssumeRoleRequest], code: grpc.StatusCode, reason: str, field: str
) -> None:
    assert_refused(lambda: stub.AssumeRole(build(), timeout=10), code, reason, field)


def test_duration_sets_the_expiration(stub) -> None:
    before = time.time()
    resp = stub.AssumeRole(auditor_request("short-1", duration_seconds=900), timeout=10)
    assert int(before) + 900 <= resp.credentials.expiration.seconds <= int(time.time()) + 900 + 1


def test_assume_role_waits_for_a_snapshot_version(stub) -> None:
    err = rpc_error(lambda: stub.AssumeRole(auditor_request("wait-1", min_snapshot_version=5), timeout=0.5))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = error_info(err)
    assert (info.reason, info.metadata["field"]) == ("SnapshotVersionNotReached", "min_snapshot_version")
    assert "the active version is 1" in err.details()
    resp = stub.AssumeRole(auditor_request("wait-2", min_snapshot_version=1), timeout=10)
    assert resp.snapshot_version == 1


def test_an_unknown_role_is_refused_like_a_role_that_does_not_trust_the_caller(stub) -> None:
    unknown = f"arn:aws:iam::{ACCOUNT}:role/NoSuchRole"
    err = rpc_error(lambda: stub.AssumeRole(assume_request(unknown, "s1", principal=CAROL), timeout=10))
    assert err.details() == (
        f"role_arn: User: {CAROL} is not authorized to perform: sts:AssumeRole on resource: {unknown}"
    )
    err = rpc_error(lambda: stub.AssumeRole(assume_request(AUDITOR, "s1", principal=CAROL), timeout=10))
    assert err.details() == (
        f"role_arn: User: {CAROL} is not authorized to perform: sts:AssumeRole on resource: {AUDITOR}"
    )


def test_validation_errors_are_reported_together(stub) -> None:
    err = assert_refused(
        lambda: stub.AssumeRole(auditor_request("x y", duration_seconds=5), timeout=10),
        IA,
        "ValidationError",
        "role_session_name",
    )
    assert "2 validation errors detected" in err.details()
    assert "'roleSessionName'" in err.details() and "'durationSeconds'" in err.details()


def test_source_identity_denial_names_the_action(stub) -> None:
    err = rpc_error(lambda: stub.AssumeRole(auditor_request("s1", source_identity="carol"), timeout=10))
    assert "sts:SetSourceIdentity" in err.details()


def test_a_session_of_a_role_cannot_assume_a_role_it_is_not_trusted_by(stub, deployer_session) -> None:
    # Deployer grants no sts:AssumeRole and CrossAccountAuditor trusts only 333333333333.
    req = auditor_request("chain", principal=None, credentials=creds_of(deployer_session))
    err = assert_refused(lambda: stub.AssumeRole(req, timeout=10), PD, "AccessDenied", "role_arn")
    assert deployer_session.assumed_role_user.arn in err.details()


# -- credential callers: sessions --------------------------------------------------------------


@pytest.mark.parametrize("with_secret", [True, False], ids=["with-secret", "token-only"])
def test_a_session_has_the_roles_permissions(stub, deployer_session, with_secret: bool) -> None:
    creds = creds_of(deployer_session, with_secret=with_secret)
    cases = [
        ("lambda:UpdateFunctionCode", FUNCTION, ALLOW),
        ("lambda:GetFunction", FUNCTION, ALLOW),
        ("lambda:UpdateFunctionCode", OTHER_FUNCTION, IMPLICIT_DENY),  # not payments-*
        ("lambda:DeleteFunction", FUNCTION, IMPLICIT_DENY),  # the role does not grant it
        ("s3:GetObject", OBJECT, IMPLICIT_DENY),  # alice may; her permissions do not carry over
    ]
    for action, resource, expected in cases:
        resp = stub.Authorize(authz(creds, action, resource), timeout=10)
        assert resp.decision == expected, (action, resource)
        assert resp.snapshot_version == 1


def test_a_cross_account_session_has_the_roles_permissions(stub, auditor_session) -> None:
    creds = creds_of(auditor_session)
    assert stub.Authorize(authz(creds, "ec2:DescribeInstances", "*"), timeout=10).decision == ALLOW
    assert stub.Authorize(authz(creds, "ec2:RunInstances", "*"), timeout=10).decision == IMPLICIT_DENY


def test_a_session_in_a_batch(stub, deployer_session, auditor_session) -> None:
    deployer, auditor = creds_of(deployer_session), creds_of(auditor_session, with_secret=False)
    items = [
        (authz(deployer, "lambda:UpdateFunctionCode", FUNCTION), ALLOW),
        (authz(deployer, "s3:GetObject", OBJECT), IMPLICIT_DENY),
        (authz(None, "s3:GetObject", OBJECT, principal=ALICE), ALLOW),
        (authz(ALICE_CREDS, "s3:GetObject", OBJECT), ALLOW),
        (authz(auditor, "ec2:DescribeInstances", "*"), ALLOW),
        (authz(auditor, "lambda:UpdateFunctionCode", FUNCTION), IMPLICIT_DENY),
        (authz(deployer, "lambda:GetFunction", FUNCTION), ALLOW),
    ]
    resp = stub.AuthorizeBatch(pb.AuthorizeBatchRequest(requests=[r for r, _ in items]), timeout=10)
    assert [r.decision for r in resp.responses] == [e for _, e in items]
    assert resp.snapshot_version == 1


def test_get_caller_identity_of_a_session(stub, deployer_session) -> None:
    for with_secret in (True, False):
        who = stub.GetCallerIdentity(
            identity(creds_of(deployer_session, with_secret=with_secret)), timeout=10
        )
        assert who.account == ACCOUNT
        assert who.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/deploy-1"
        assert who.arn == deployer_session.assumed_role_user.arn
        assert who.user_id == f"{DEPLOYER_ID}:deploy-1"
        assert who.snapshot_version == 1


def test_get_caller_identity_of_a_cross_account_session(stub, auditor_session) -> None:
    who = stub.GetCallerIdentity(identity(creds_of(auditor_session)), timeout=10)
    assert (who.account, who.arn, who.user_id) == (
        ACCOUNT,  # the role's account, not carol's
        f"arn:aws:sts::{ACCOUNT}:assumed-role/CrossAccountAuditor/audit-1",
        f"{AUDITOR_ID}:audit-1",
    )


def test_a_session_and_its_asserted_arn_are_decided_alike(stub, auditor_session) -> None:
    # The session ARN asserted by a trusting caller has the role's policies too.
    arn = auditor_session.assumed_role_user.arn
    for action in ("ec2:DescribeInstances", "ec2:RunInstances"):
        by_creds = stub.Authorize(authz(creds_of(auditor_session), action, "*"), timeout=10).decision
        by_arn = stub.Authorize(authz(None, action, "*", principal=arn), timeout=10).decision
        assert by_creds == by_arn


# -- credential callers: long-term keys --------------------------------------------------------


def test_a_long_term_key_is_its_user(stub) -> None:
    who = stub.GetCallerIdentity(identity(ALICE_CREDS), timeout=10)
    assert (who.account, who.arn, who.user_id) == (ACCOUNT, ALICE, ALICE_ID)
    for action, resource in [
        ("s3:GetObject", OBJECT),
        ("ec2:RunInstances", "*"),
        ("iam:PutUserPermissionsBoundary", "*"),
        ("lambda:UpdateFunctionCode", FUNCTION),
    ]:
        by_key = stub.Authorize(authz(ALICE_CREDS, action, resource), timeout=10).decision
        by_arn = stub.Authorize(authz(None, action, resource, principal=ALICE), timeout=10).decision
        assert by_key == by_arn, action
    assert stub.Authorize(authz(ALICE_CREDS, "s3:GetObject", OBJECT), timeout=10).decision == ALLOW


# -- credential callers: refusals --------------------------------------------------------------


def test_wrong_long_term_secret(stub) -> None:
    bad = (ALICE_KEY, ALICE_SECRET[:-1] + "X", "")
    field = "caller.credentials.secret_access_key"
    assert_refused(
        lambda: stub.Authorize(authz(bad, "s3:GetObject", OBJECT), timeout=10),
        UA,
        "SignatureDoesNotMatch",
        field,
    )
    assert_refused(
        lambda: stub.GetCallerIdentity(identity(bad), timeout=10), UA, "SignatureDoesNotMatch", field
    )


def test_unknown_long_term_key(stub) -> None:
    bad = ("AKIAIOSFODNN7UNKNOWN", ALICE_SECRET, "")
    field = "caller.credentials.access_key_id"
    assert_refused(
        lambda: stub.Authorize(authz(bad, "s3:GetObject", OBJECT), timeout=10),
        UA,
        "InvalidClientTokenId",
        field,
    )


def test_a_long_term_key_without_its_secret(stub) -> None:
    bad = (ALICE_KEY, "", "")
    err = rpc_error(lambda: stub.Authorize(authz(bad, "s3:GetObject", OBJECT), timeout=10))
    assert err.code() == IA
    assert error_info(err).metadata["field"] == "caller.credentials"


def test_a_session_key_without_its_token(stub, deployer_session) -> None:
    c = deployer_session.credentials
    bad = (c.access_key_id, c.secret_access_key, "")
    assert_refused(
        lambda: stub.Authorize(authz(bad, "lambda:GetFunction", FUNCTION), timeout=10),
        UA,
        "InvalidClientTokenId",
        "caller.credentials.access_key_id",
    )


def test_a_session_with_the_wrong_secret(stub, deployer_session) -> None:
    c = deployer_session.credentials
    bad = (
        c.access_key_id,
        c.secret_access_key[:-1] + ("A" if c.secret_access_key[-1] != "A" else "B"),
        c.session_token,
    )
    assert_refused(
        lambda: stub.Authorize(authz(bad, "lambda:GetFunction", FUNCTION), timeout=10),
        UA,
        "SignatureDoesNotMatch",
    )
    assert_refused(lambda: stub.GetCallerIdentity(identity(bad), timeout=10), UA, "SignatureDoesNotMatch")


def test_a_tampered_session_token(stub, deployer_session) -> None:
    c = deployer_session.credentials
    for token in (
        tampered(c.session_token),
        c.session_token[:-4],
        c.session_token + "AAAA",
        "not-a-token",
        "!!",
    ):
        bad = (c.access_key_id, c.secret_access_key, token)
        assert_refused(
            lambda bad=bad: stub.Authorize(authz(bad, "lambda:GetFunction", FUNCTION), timeout=10),
            UA,
            "InvalidClientTokenId",
        )
    bad = (c.access_key_id, "", tampered(c.session_token))
    assert_refused(lambda: stub.GetCallerIdentity(identity(bad), timeout=10), UA, "InvalidClientTokenId")
    assert_refused(
        lambda: stub.AssumeRole(auditor_request("s1", principal=None, credentials=bad), timeout=10),
        UA,
        "InvalidClientTokenId",
    )


def test_a_session_token_with_another_access_key_id(stub, deployer_session, auditor_session) -> None:
    token = deployer_session.credentials.session_token
    for key_id in (auditor_session.credentials.access_key_id, "ASIAAAAAAAAAAAAAAAAA", ALICE_KEY):
        bad = (key_id, "", token)
        assert_refused(
            lambda bad=bad: stub.Authorize(authz(bad, "lambda:GetFunction", FUNCTION), timeout=10),
            UA,
            "InvalidClientTokenId",
        )


@pytest.mark.parametrize(
    "key", ["aws:MultiFactorAuthPresent", "aws:PrincipalTag/team", "aws:userid", "AWS:MultiFactorAuthAge"]
)
def test_a_credential_caller_cannot_set_principal_keys(stub, deployer_session, key: str) -> None:
    for creds in (creds_of(deployer_session), ALICE_CREDS):
        req = authz(creds, "lambda:GetFunction", FUNCTION, context={key: "true"})
        field = f'context["{key}"]'
        err = assert_refused(lambda req=req: stub.Authorize(req, timeout=10), IA, "InvalidArgument", field)
        assert key in err.details()


def test_a_batch_with_a_bad_long_term_secret_names_the_item(stub, deployer_session) -> None:
    good = authz(creds_of(deployer_session), "lambda:GetFunction", FUNCTION)
    bad = authz((ALICE_KEY, "nope", ""), "s3:GetObject", OBJECT)
    req = pb.AuthorizeBatchRequest(requests=[good, good, bad])
    assert_refused(
        lambda: stub.AuthorizeBatch(req, timeout=10),
        UA,
        "SignatureDoesNotMatch",
        "requests[2].caller.credentials.secret_access_key",
    )


def test_a_batch_with_a_tampered_token_names_the_item(stub, deployer_session) -> None:
    c = deployer_session.credentials
    good = authz(creds_of(deployer_session), "lambda:GetFunction", FUNCTION)
    bad = authz((c.access_key_id, "", tampered(c.session_token)), "lambda:GetFunction", FUNCTION)
    req = pb.AuthorizeBatchRequest(requests=[good, bad, good])
    err = assert_refused(lambda: stub.AuthorizeBatch(req, timeout=10), UA, "InvalidClientTokenId")
    assert error_info(err).metadata.get("field", "").startswith("requests[1].caller.credentials")


# -- what a session carries into decisions -----------------------------------------------------


def test_session_keys_reach_the_decision(stub) -> None:
    """One session policy, one statement per session key (each on its own ec2 action): every
    action is allowed only if its key has the value a session of carol's must carry."""
    session = "keys-1"
    checks = {
        "ec2:DescribeInstances": {"StringEquals": {"aws:userid": f"{AUDITOR_ID}:{session}"}},
        "ec2:DescribeVpcs": {"ArnEquals": {"aws:PrincipalArn": AUDITOR}},
        "ec2:DescribeSubnets": {"StringEquals": {"aws:PrincipalType": "AssumedRole"}},
        "ec2:DescribeImages": {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}},
        "ec2:DescribeVolumes": {"Bool": {"aws:MultiFactorAuthPresent": "false"}},
        "ec2:DescribeSnapshots": {"Null": {"aws:TokenIssueTime": "false", "aws:username": "true"}},
        "ec2:DescribeRegions": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
        "ec2:DescribeKeyPairs": {"Null": {"aws:MultiFactorAuthAge": "true"}},
    }
    policy = session_policy(*(allow(a, "*", cond) for a, cond in checks.items()))
    resp = stub.AssumeRole(auditor_request(session, policy=policy), timeout=10)
    assert resp.packed_policy_size > 0
    creds = creds_of(resp)
    batch = stub.AuthorizeBatch(
        pb.AuthorizeBatchRequest(requests=[authz(creds, a, "*") for a in checks]), timeout=10
    )
    got = {a: r.decision for a, r in zip(checks, batch.responses, strict=True)}
    assert got == dict.fromkeys(checks, ALLOW)
    # ...and the statements really are conditional: ec2 actions the policy does not name are denied.
    assert stub.Authorize(authz(creds, "ec2:DescribeTags", "*"), timeout=10).decision == IMPLICIT_DENY


def test_mfa_and_session_tags_reach_the_decision(stub) -> None:
    fn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:payments-"
    checks = {
        fn + "1": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        fn + "2": {"NumericLessThan": {"aws:MultiFactorAuthAge": "300"}},
        fn + "3": {"StringEquals": {"aws:PrincipalTag/team": "payments"}},  # the session tag wins
        fn + "4": {"StringEquals": {"aws:PrincipalTag/project": "blue"}},
        fn + "5": {"StringEquals": {"aws:userid": f"{DEPLOYER_ID}:tags-1"}},
        fn + "6": {"StringEquals": {"aws:PrincipalTag/team": "platform"}},  # the role's tag: overridden
    }
    policy = session_policy(*(allow("lambda:GetFunction", r, cond) for r, cond in checks.items()))
    req = deployer_request(
        "tags-1",
        policy=policy,
        tags=[("team", "payments"), ("project", "blue")],
        transitive_tag_keys=["team"],
    )
    creds = creds_of(stub.AssumeRole(req, timeout=10))
    got = {r: stub.Authorize(authz(creds, "lambda:GetFunction", r), timeout=10).decision for r in checks}
    expected = dict.fromkeys(checks, ALLOW)
    expected[fn + "6"] = IMPLICIT_DENY
    assert got == expected


def test_without_session_tags_the_role_tags_are_the_principal_tags(stub) -> None:
    fn = FUNCTION
    policy = session_policy(
        allow("lambda:GetFunction", fn, {"StringEquals": {"aws:PrincipalTag/team": "platform"}})
    )
    creds = creds_of(stub.AssumeRole(deployer_request("tags-2", policy=policy), timeout=10))
    assert stub.Authorize(authz(creds, "lambda:GetFunction", fn), timeout=10).decision == ALLOW


def test_a_session_policy_narrows_the_role(stub) -> None:
    policy = session_policy(allow("lambda:GetFunction", "*"), allow("s3:GetObject", "*"))
    creds = creds_of(stub.AssumeRole(deployer_request("narrow-1", policy=policy), timeout=10))
    assert stub.Authorize(authz(creds, "lambda:GetFunction", FUNCTION), timeout=10).decision == ALLOW
    # The role allows it, the session policy does not.
    assert (
        stub.Authorize(authz(creds, "lambda:UpdateFunctionCode", FUNCTION), timeout=10).decision
        == IMPLICIT_DENY
    )
    # The session policy allows it, the role does not: session policies never add.
    assert stub.Authorize(authz(creds, "s3:GetObject", OBJECT), timeout=10).decision == IMPLICIT_DENY
    # An unrestricted session of the same role still may.
    plain = creds_of(stub.AssumeRole(deployer_request("narrow-2"), timeout=10))
    assert stub.Authorize(authz(plain, "lambda:UpdateFunctionCode", FUNCTION), timeout=10).decision == ALLOW


def test_a_session_policy_deny_explains_itself(stub) -> None:
    policy = session_policy(
        allow("lambda:*"), {"Effect": "Deny", "Action": "lambda:UpdateFunctionCode", "Resource": "*"}
    )
    creds = creds_of(stub.AssumeRole(deployer_request("narrow-3", policy=policy), timeout=10))
    resp = stub.Authorize(authz(creds, "lambda:UpdateFunctionCode", FUNCTION, explain=True), timeout=10)
    assert resp.decision == pb.DECISION_EXPLICIT_DENY
    assert [(m.policy_kind, m.effect) for m in resp.explanation.matched_statements if m.effect == "Deny"] == [
        ("session", "Deny")
    ]
    assert stub.Authorize(authz(creds, "lambda:GetFunction", FUNCTION), timeout=10).decision == ALLOW


def test_a_managed_session_policy_narrows_the_role(stub) -> None:
    # CrossAccountAuditor (ReadOnlyAccess) ∩ PaymentsDataRead: the payments objects, no ec2.
    req = auditor_request(
        "narrow-arn", policy_arns=[f"arn:aws:iam::{ACCOUNT}:policy/payments/PaymentsDataRead"]
    )
    creds = creds_of(stub.AssumeRole(req, timeout=10))
    assert stub.Authorize(authz(creds, "s3:GetObject", OBJECT), timeout=10).decision == ALLOW
    assert stub.Authorize(authz(creds, "ec2:DescribeInstances", "*"), timeout=10).decision == IMPLICIT_DENY


# -- role chaining (a variant of the example) -------------------------------------------------

CHAINED = f"arn:aws:iam::{ACCOUNT}:role/Chained"
CHAINED_ID = "AROACHAINEDEXAMPLE001"
TRUST_ACTIONS = ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]


def chain_doc() -> dict[str, Any]:
    """The example plus: Deployer may assume Chained (and tag, and set a source identity);
    Chained (max 12 h, tags team=chain, project=none) trusts the Deployer role and grants
    lambda:GetFunction; alice's boundary and Deployer's trust allow sts:SetSourceIdentity;
    alice has a second, inactive key."""
    doc = example_doc()
    prod = doc["accounts"][1]
    deployer = next(r for r in prod["roles"] if r["name"] == "Deployer")
    deployer["trust_policy"]["Statement"][0]["Action"] = TRUST_ACTIONS
    deployer["inline_policies"]["Chain"] = {
        "Version": "2012-10-17",
        "Statement": [allow(TRUST_ACTIONS, CHAINED)],
    }
    prod["roles"].append(
        {
            "name": "Chained",
            "path": "/",
            "id": CHAINED_ID,
            "max_session_duration": 43200,
            "trust_policy": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"AWS": DEPLOYER}, "Action": TRUST_ACTIONS}],
            },
            "inline_policies": {"Get": {"Version": "2012-10-17", "Statement": [allow("lambda:GetFunction")]}},
            "tags": {"team": "chain", "project": "none"},
        }
    )
    boundary = next(p for p in prod["policies"] if p["name"] == "DeveloperBoundary")
    boundary["document"]["Statement"][0]["Action"].append("sts:SetSourceIdentity")
    alice = prod["users"][0]
    alice["access_keys"].append(
        {
            "id": "AKIAINACTIVEEXAMPLE1",
            "secret_sha256": hashlib.sha256(b"inactive-secret").hexdigest(),
            "status": "Inactive",
        }
    )
    return doc


@pytest.fixture(scope="module")
def chain_stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[authorizer_pb2_grpc.AuthorizerStub]:
    tmp = tmp_path_factory.mktemp("chain")
    snapshot = tmp / "chain.json"
    snapshot.write_bytes(to_bytes(chain_doc()))
    with running_sidecar(tmp, snapshot=snapshot) as sc, authorizer(sc.authz_tcp) as s:
        yield s


@pytest.fixture(scope="module")
def first_link(chain_stub) -> pb.AssumeRoleResponse:
    """alice → Deployer with MFA, tags team=payments and project=blue (transitive), source
    identity alice-si."""
    req = deployer_request(
        "link-1",
        tags=[("team", "payments"), ("project", "blue")],
        transitive_tag_keys=["project"],
        source_identity="alice-si",
    )
    resp: pb.AssumeRoleResponse = chain_stub.AssumeRole(req, timeout=10)
    return resp


def test_a_chained_session(chain_stub, first_link) -> None:
    assert first_link.source_identity == "alice-si"
    resp = chain_stub.AssumeRole(
        assume_request(CHAINED, "link-2", credentials=creds_of(first_link)), timeout=10
    )
    assert resp.assumed_role_user.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/Chained/link-2"
    assert resp.assumed_role_user.assumed_role_id == f"{CHAINED_ID}:link-2"
    assert resp.source_identity == "alice-si"  # inherited without being asked for
    creds = creds_of(resp)
    who = chain_stub.GetCallerIdentity(identity(creds), timeout=10)
    assert (who.arn, who.user_id) == (resp.assumed_role_user.arn, f"{CHAINED_ID}:link-2")
    assert chain_stub.Authorize(authz(creds, "lambda:GetFunction", FUNCTION), timeout=10).decision == ALLOW
    # Deployer's permissions do not carry over.
    assert (
        chain_stub.Authorize(authz(creds, "lambda:UpdateFunctionCode", FUNCTION), timeout=10).decision
        == IMPLICIT_DENY
    )


def test_a_chained_session_inherits_transitive_tags_and_the_source_identity(chain_stub, first_link) -> None:
    checks = {
        # project was transitive: it replaces the role's tag; team was not: the role's tag stays.
        FUNCTION + "-1": {"StringEquals": {"aws:PrincipalTag/project": "blue"}},
        FUNCTION + "-2": {"StringEquals": {"aws:PrincipalTag/team": "chain"}},
        FUNCTION + "-3": {"StringEquals": {"aws:SourceIdentity": "alice-si"}},
        FUNCTION + "-4": {"StringEquals": {"aws:userid": f"{CHAINED_ID}:link-3"}},
    }
    policy = session_policy(*(allow("lambda:GetFunction", r, cond) for r, cond in checks.items()))
    req = assume_request(CHAINED, "link-3", credentials=creds_of(first_link), policy=policy)
    creds = creds_of(chain_stub.AssumeRole(req, timeout=10))
    got = {
        r: chain_stub.Authorize(authz(creds, "lambda:GetFunction", r), timeout=10).decision for r in checks
    }
    assert got == dict.fromkeys(checks, ALLOW)


CHAIN_REFUSALS = [
    ("duration-above-one-hour", {"duration_seconds": 3601}, IA, "ValidationError", "duration_seconds"),
    ("overriding-a-transitive-tag", {"tags": [("Project", "red")]}, IA, "InvalidParameterValue", "tags"),
    ("changing-the-source-identity", {"source_identity": "mallory"}, PD, "AccessDenied", "source_identity"),
]


@pytest.mark.parametrize(
    ("fields", "code", "reason", "field"), [c[1:] for c in CHAIN_REFUSALS], ids=[c[0] for c in CHAIN_REFUSALS]
)
def test_chain_refusals(
    chain_stub, first_link, fields: dict[str, Any], code: grpc.StatusCode, reason: str, field: str
) -> None:
    req = assume_request(CHAINED, "link-x", credentials=creds_of(first_link), **fields)
    assert_refused(lambda: chain_stub.AssumeRole(req, timeout=10), code, reason, field)


def test_chain_duration_one_hour_and_the_same_source_identity_are_fine(chain_stub, first_link) -> None:
    req = assume_request(
        CHAINED, "link-4", credentials=creds_of(first_link), duration_seconds=3600, source_identity="alice-si"
    )
    assert chain_stub.AssumeRole(req, timeout=10).source_identity == "alice-si"


def test_an_inactive_long_term_key_is_refused(chain_stub) -> None:
    bad = ("AKIAINACTIVEEXAMPLE1", "inactive-secret", "")
    assert_refused(
        lambda: chain_stub.GetCallerIdentity(identity(bad), timeout=10),
        UA,
        "InvalidClientTokenId",
        "caller.credentials.access_key_id",
    )


# -- pushed snapshots --------------------------------------------------------------------------


def without_role(version: int, name: str) -> bytes:
    doc = example_doc()
    doc["version"] = version
    roles = doc["accounts"][1]["roles"]
    doc["accounts"][1]["roles"] = [r for r in roles if r["name"] != name]
    assert len(doc["accounts"][1]["roles"]) == len(roles) - 1
    return to_bytes(doc)


def with_recreated_role(version: int, name: str, new_id: str) -> bytes:
    doc = example_doc()
    doc["version"] = version
    role = next(r for r in doc["accounts"][1]["roles"] if r["name"] == name)
    role["id"] = new_id
    return to_bytes(doc)


def test_a_pushed_snapshot_without_the_role_denies_its_sessions(tmp_path: Path) -> None:
    with running_sidecar(tmp_path) as sc, authorizer(sc.authz_tcp) as stub:
        session = stub.AssumeRole(auditor_request("gone-1"), timeout=10)
        creds = creds_of(session)
        before = stub.Authorize(authz(creds, "ec2:DescribeInstances", "*"), timeout=10)
        assert (before.decision, before.snapshot_version) == (ALLOW, 1)
        assert push(sc.control, sc.token, without_role(2, "CrossAccountAuditor")).accepted
        after = stub.Authorize(authz(creds, "ec2:DescribeInstances", "*", explain=True), timeout=10)
        assert (after.decision, after.snapshot_version) == (IMPLICIT_DENY, 2)  # a deny, not an error
        batch = stub.AuthorizeBatch(
            pb.AuthorizeBatchRequest(
                requests=[
                    authz(creds, "ec2:DescribeInstances", "*"),
                    authz(None, "ec2:DescribeInstances", "*", principal=CAROL),
                ]
            ),
            timeout=10,
        )
        assert [r.decision for r in batch.responses] == [IMPLICIT_DENY, ALLOW]
        # The session cannot be used to ask who it is, nor to assume another role.
        assert_refused(lambda: stub.GetCallerIdentity(identity(creds), timeout=10), PD, "AccessDenied")
        assert_refused(
            lambda: stub.AssumeRole(deployer_request("s1", principal=None, credentials=creds), timeout=10),
            PD,
            "AccessDenied",
        )
        # The session's credentials are still checked first: a bad token is still UNAUTHENTICATED.
        bad = (creds[0], "", tampered(creds[2]))
        assert_refused(
            lambda: stub.Authorize(authz(bad, "ec2:DescribeInstances", "*"), timeout=10),
            UA,
            "InvalidClientTokenId",
        )


def test_a_recreated_role_does_not_revive_old_sessions(tmp_path: Path) -> None:
    with running_sidecar(tmp_path) as sc, authorizer(sc.authz_tcp) as stub:
        # Issued under v1 and not used before the push (nothing is remembered of it).
        creds = creds_of(stub.AssumeRole(auditor_request("old-1"), timeout=10))
        assert push(
            sc.control, sc.token, with_recreated_role(2, "CrossAccountAuditor", "AROA4QSTZ6RECREATED1")
        ).accepted
        resp = stub.Authorize(authz(creds, "ec2:DescribeInstances", "*"), timeout=10)
        assert (resp.decision, resp.snapshot_version) == (IMPLICIT_DENY, 2)
        # A new session of the recreated role works and carries the new id.
        fresh = stub.AssumeRole(auditor_request("new-1"), timeout=10)
        assert fresh.assumed_role_user.assumed_role_id == "AROA4QSTZ6RECREATED1:new-1"
        assert (
            stub.Authorize(authz(creds_of(fresh), "ec2:DescribeInstances", "*"), timeout=10).decision == ALLOW
        )


def test_a_push_that_changes_the_roles_policies_changes_its_sessions(tmp_path: Path) -> None:
    with running_sidecar(tmp_path) as sc, authorizer(sc.authz_tcp) as stub:
        creds = creds_of(stub.AssumeRole(auditor_request("change-1"), timeout=10))
        assert stub.Authorize(authz(creds, "ec2:RunInstances", "*"), timeout=10).decision == IMPLICIT_DENY
        doc = example_doc()
        doc["version"] = 2
        role = next(r for r in doc["accounts"][1]["roles"] if r["name"] == "CrossAccountAuditor")
        role["inline_policies"] = {"Run": {"Version": "2012-10-17", "Statement": [allow("ec2:RunInstances")]}}
        assert push(sc.control, sc.token, to_bytes(doc)).accepted
        resp = stub.Authorize(authz(creds, "ec2:RunInstances", "*"), timeout=10)
        assert (resp.decision, resp.snapshot_version) == (ALLOW, 2)


def test_a_session_memo_does_not_outlive_its_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sidecar.sts.service as service

    # Two snapshots never alive at once may share an id(); make every snapshot's id collide.
    monkeypatch.setattr(service, "id", lambda _obj: 1, raising=False)
    with running_sidecar(tmp_path) as sc, authorizer(sc.authz_tcp) as stub:
        creds = creds_of(stub.AssumeRole(auditor_request("memo-1"), timeout=10))
        assert stub.Authorize(authz(creds, "ec2:DescribeInstances", "*"), timeout=10).decision == ALLOW
        assert push(sc.control, sc.token, without_role(2, "CrossAccountAuditor")).accepted
        resp = stub.Authorize(authz(creds, "ec2:DescribeInstances", "*"), timeout=10)
        assert resp.snapshot_version == 2
        assert resp.decision == IMPLICIT_DENY


# -- keysets: replicas and rotation ------------------------------------------------------------


def keyset_file(path: Path, *keys: tuple[str, datetime]) -> Path:
    entries = []
    for key_id, created in keys:
        entries.extend(json.loads(new_keyset_json(key_id, now=created))["keys"])
    path.write_text(json.dumps({"keys": entries}))
    return path


def merged(path: Path, *files: Path) -> Path:
    keys = [k for f in files for k in json.loads(f.read_text())["keys"]]
    path.write_text(json.dumps({"keys": keys}))
    return path


def test_replicas_sharing_a_keyset_and_rotation(tmp_path: Path) -> None:
    k1 = tmp_path / "k1.json"
    r = subprocess.run(
        [str(CLI), "sts-keygen", "--id", "k1"], capture_output=True, text=True, timeout=30, check=False
    )
    assert r.returncode == 0, r.stderr
    k1.write_text(r.stdout)
    k2_only = keyset_file(tmp_path / "k2-only.json", ("k2", datetime(2099, 1, 1, tzinfo=UTC)))
    k12 = merged(tmp_path / "k12.json", k1, k2_only)  # k2 is newer: it signs
    other = keyset_file(tmp_path / "other.json", ("k9", datetime(2025, 1, 1, tzinfo=UTC)))

    def start(stack: ExitStack, name: str, keyset: Path | None) -> tuple[RunningSidecar, Any]:
        d = tmp_path / name
        d.mkdir()
        sc = stack.enter_context(running_sidecar(d, sts_keyset=keyset))
        return sc, stack.enter_context(authorizer(sc.authz_tcp))

    def describe(stub: Any, creds: Creds) -> int:
        return int(stub.Authorize(authz(creds, "ec2:DescribeInstances", "*"), timeout=10).decision)

    with ExitStack() as stack:
        (a, a_stub), (_a2, a2_stub) = start(stack, "a", k1), start(stack, "a2", k1)
        (b, b_stub), (_c, c_stub) = start(stack, "b", k12), start(stack, "c", k12)
        _, other_stub = start(stack, "other", other)
        assert a.sidecar.sts.codec.keyset.signing.id == "k1"
        assert b.sidecar.sts.codec.keyset.signing.id == "k2"

        # A token A issues is accepted by A2 (same file), secret included, and by B ([k1, k2]).
        from_a = a_stub.AssumeRole(auditor_request("replica-1"), timeout=10)
        creds = creds_of(from_a)
        for stub in (a_stub, a2_stub, b_stub, c_stub):
            assert describe(stub, creds) == ALLOW
            who = stub.GetCallerIdentity(identity(creds), timeout=10)
            assert who.arn == from_a.assumed_role_user.arn
        # A sidecar with other keys refuses it.
        assert_refused(lambda: describe(other_stub, creds), UA, "InvalidClientTokenId")

        # B signs with k2: its tokens verify on C ([k1, k2]) but not on A or A2 (k1 only).
        creds_b = creds_of(b_stub.AssumeRole(auditor_request("replica-2"), timeout=10))
        assert describe(b_stub, creds_b) == ALLOW
        assert describe(c_stub, creds_b) == ALLOW
        for stub in (a_stub, a2_stub, other_stub):
            assert_refused(lambda stub=stub: describe(stub, creds_b), UA, "InvalidClientTokenId")

        # A random-key sidecar's token means nothing to a keyset replica (and vice versa).
        _, rnd_stub = start(stack, "random", None)
        creds_r = creds_of(rnd_stub.AssumeRole(auditor_request("replica-3"), timeout=10))
        assert describe(rnd_stub, creds_r) == ALLOW
        assert_refused(lambda: describe(a_stub, creds_r), UA, "InvalidClientTokenId")
        assert_refused(lambda: describe(rnd_stub, creds), UA, "InvalidClientTokenId")


def test_an_expired_session_is_refused(tmp_path: Path) -> None:
    ks = keyset_file(tmp_path / "k.json", ("k1", datetime(2025, 1, 1, tzinfo=UTC)))
    codec = TokenCodec(Keyset.load(ks))  # a replica's codec: same keys as the sidecar
    now = time.time()

    def issue(expires_at: float) -> Creds:
        claims = SessionClaims(
            access_key_id="ASIAEXPIREDEXAMPLE01",
            role_arn=AUDITOR,
            role_id=AUDITOR_ID,
            session_name="expired",
            account=ACCOUNT,
            partition="aws",
            issued_at=now - 7200,
            expires_at=expires_at,
        )
        issued = codec.issue(claims)
        return (issued.access_key_id, issued.secret_access_key, issued.session_token)

    (tmp_path / "sc").mkdir()
    with running_sidecar(tmp_path / "sc", sts_keyset=ks) as sc, authorizer(sc.authz_tcp) as stub:
        live = issue(now + 600)
        assert stub.Authorize(authz(live, "ec2:DescribeInstances", "*"), timeout=10).decision == ALLOW
        expired = issue(now - 1)
        assert_refused(
            lambda: stub.Authorize(authz(expired, "ec2:DescribeInstances", "*"), timeout=10),
            UA,
            "ExpiredToken",
        )
        assert_refused(lambda: stub.GetCallerIdentity(identity(expired), timeout=10), UA, "ExpiredToken")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"keys": []}, "at least one key"),
        (
            {
                "keys": [
                    {
                        "id": "k1",
                        "secret_b64": base64.b64encode(b"x" * 16).decode(),
                        "created": "2025-01-01T00:00:00Z",
                    }
                ]
            },
            "32",
        ),
        (
            {
                "keys": [
                    {
                        "id": "k 1",
                        "secret_b64": base64.b64encode(os.urandom(32)).decode(),
                        "created": "2025-01-01T00:00:00Z",
                    }
                ]
            },
            ".id",
        ),
        ({"keys": [{"id": "k1", "secret_b64": "%%%", "created": "2025-01-01T00:00:00Z"}]}, "base64"),
        (
            {
                "keys": [
                    {
                        "id": "k1",
                        "secret_b64": base64.b64encode(os.urandom(32)).decode(),
                        "created": "yesterday",
                    }
                ]
            },
            "RFC 3339",
        ),
        ({"nokeys": True}, "keys"),
    ],
    ids=["empty", "short-secret", "bad-id", "not-base64", "bad-time", "no-keys"],
)
def test_a_bad_keyset_stops_the_start(tmp_path: Path, doc: dict[str, Any], message: str) -> None:
    ks = tmp_path / "bad.json"
    ks.write_text(json.dumps(doc))
    with pytest.raises(KeysetError, match=re.escape(message)), running_sidecar(tmp_path, sts_keyset=ks):
        pass  # pragma: no cover


def test_duplicate_key_ids_stop_the_start(tmp_path: Path) -> None:
    one = keyset_file(tmp_path / "one.json", ("k1", datetime(2025, 1, 1, tzinfo=UTC)))
    ks = merged(tmp_path / "twice.json", one, one)
    with pytest.raises(KeysetError, match="twice"), running_sidecar(tmp_path, sts_keyset=ks):
        pass  # pragma: no cover


# -- the command line --------------------------------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IAM_SIDECAR_")}
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=60, env=env, check=False)


def test_cli_assume_role(sc: RunningSidecar, stub) -> None:
    base = ("assume-role", "--server", sc.authz_tcp, "--principal", CAROL, "--role-arn", AUDITOR)
    r = cli(*base, "--role-session-name", "cli-1", "--external-id", EXTERNAL_ID)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    c = out["credentials"]
    assert ACCESS_KEY_ID.fullmatch(c["access_key_id"])
    assert len(c["secret_access_key"]) == 40 and c["session_token"]
    assert datetime.fromisoformat(c["expiration"].replace("Z", "+00:00")).timestamp() > time.time() + 3500
    assert out["assumed_role_user"] == {
        "assumed_role_id": f"{AUDITOR_ID}:cli-1",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/CrossAccountAuditor/cli-1",
    }
    assert int(out["snapshot_version"]) == 1
    creds = (c["access_key_id"], c["secret_access_key"], c["session_token"])
    assert stub.Authorize(authz(creds, "ec2:DescribeInstances", "*"), timeout=10).decision == ALLOW

    r = cli(*base, "--role-session-name", "cli-2", "--external-id", EXTERNAL_ID, "--env")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert [line.split("=", 1)[0] for line in lines] == [
        "export AWS_ACCESS_KEY_ID",
        "export AWS_SECRET_ACCESS_KEY",
        "export AWS_SESSION_TOKEN",
    ]
    env = dict(line.removeprefix("export ").split("=", 1) for line in lines)
    creds = (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"])
    assert ACCESS_KEY_ID.fullmatch(creds[0])
    assert stub.GetCallerIdentity(identity(creds), timeout=10).user_id == f"{AUDITOR_ID}:cli-2"

    # Denied (wrong external id): exit 1, the reason and the field on stderr.
    r = cli(*base, "--role-session-name", "cli-3", "--external-id", "audit-0000")
    assert r.returncode == 1
    assert r.stdout == ""
    assert "AccessDenied" in r.stderr and "[role_arn]" in r.stderr
    # A shape error is exit 1 too; a malformed --tag is a usage error (2).
    r = cli(*base, "--role-session-name", "bad name", "--external-id", EXTERNAL_ID)
    assert r.returncode == 1 and "ValidationError" in r.stderr
    r = cli(*base, "--role-session-name", "cli-4", "--tag", "novalue")
    assert r.returncode == 2 and "KEY=VALUE" in r.stderr


def test_cli_assume_role_with_a_key_mfa_and_a_session_policy(
    sc: RunningSidecar, stub, tmp_path: Path
) -> None:
    policy = tmp_path / "session.json"
    policy.write_text(session_policy(allow("lambda:GetFunction")))
    r = cli(
        "assume-role",
        "--server",
        sc.authz_unix,
        "--access-key-id",
        ALICE_KEY,
        "--secret-access-key",
        ALICE_SECRET,
        "--role-arn",
        DEPLOYER,
        "--role-session-name",
        "cli-mfa",
        "--serial-number",
        MFA_SERIAL,
        "--token-code",
        totp_code(),
        "--policy",
        str(policy),
        "--tag",
        "team=payments",
        "--duration-seconds",
        "1800",
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["assumed_role_user"]["arn"].endswith("/Deployer/cli-mfa")
    assert out["packed_policy_size"] > 0
    c = out["credentials"]
    creds = (c["access_key_id"], c["secret_access_key"], c["session_token"])
    assert stub.Authorize(authz(creds, "lambda:GetFunction", FUNCTION), timeout=10).decision == ALLOW
    assert (
        stub.Authorize(authz(creds, "lambda:UpdateFunctionCode", FUNCTION), timeout=10).decision
        == IMPLICIT_DENY
    )


def test_cli_sts_keygen() -> None:
    r = cli("sts-keygen", "--id", "2026-11")
    assert r.returncode == 0, r.stderr
    keyset = Keyset.from_json(r.stdout)
    assert list(keyset.by_id) == ["2026-11"]
    assert len(keyset.signing.secret) == 32
    assert keyset.signing.created.tzinfo is not None
    again = Keyset.from_json(cli("sts-keygen", "--id", "2026-11").stdout)
    assert again.signing.secret != keyset.signing.secret  # a fresh random key each time


def test_cli_serve_with_a_keyset(tmp_path: Path) -> None:
    ks = keyset_file(tmp_path / "k.json", ("k1", datetime(2025, 1, 1, tzinfo=UTC)))
    token_file = tmp_path / "token"
    token_file.write_text("cli-token\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IAM_SIDECAR_")}
    args = [
        str(CLI),
        "serve",
        "--snapshot",
        str(REPO / "examples" / "snapshot.json"),
        "--listen",
        "127.0.0.1:0",
        "--control",
        "127.0.0.1:0",
        "--control-token-file",
        str(token_file),
        "--state-dir",
        str(tmp_path / "state"),
        "--sts-keyset",
        str(ks),
    ]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, env=env)
    started: dict[str, Any] = {}
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if not started and '"event": "started"' in line:
                started.update(json.loads(line[line.index("{") :]))
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(30), "iam-sidecar serve did not start"
        assert started, "".join(lines)
        assert started["sts_keys"] == ["k1"] and started["sts_signing_key"] == "k1"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
