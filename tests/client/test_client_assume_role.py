"""``assume_role()`` of the Python client: request building and result conversion without a
server, then against the real sidecar (tests/server/harness.py) serving examples/snapshot.json,
sync and asyncio.

From the example: carol (333333333333) may assume CrossAccountAuditor (ReadOnlyAccess) with the
external id "audit-7f3c2a"; alice may assume Deployer (lambda:UpdateFunctionCode and
lambda:GetFunction on function:payments-*) with her MFA device; her long-term key is
AKIAIOSFODNN7EXAMPLE with the AWS example secret.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from google.protobuf.timestamp_pb2 import Timestamp
from iam_sidecar_client import (
    AssumedRole,
    AsyncSidecarClient,
    AuthorizeRequest,
    Credentials,
    Decision,
    InvalidArgumentError,
    SidecarClient,
    SidecarError,
    UnauthenticatedError,
    UnavailableError,
)
from iam_sidecar_client._types import assume_role_request_pb, assumed_role, authorize_request_pb

from sidecar.api.v1 import authorizer_pb2
from tests.server.harness import RunningSidecar, running_sidecar

ACCOUNT = "222222222222"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
CAROL = "arn:aws:iam::333333333333:user/carol"
DEPLOYER = f"arn:aws:iam::{ACCOUNT}:role/Deployer"
DEPLOYER_ID = "AROADBQP57FF2AEXAMPLE"
AUDITOR = f"arn:aws:iam::{ACCOUNT}:role/CrossAccountAuditor"
AUDITOR_ID = "AROA4QSTZ6EXAMPLEAUD1"
EXTERNAL_ID = "audit-7f3c2a"
ALICE_KEYS = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
MFA_SERIAL = f"arn:aws:iam::{ACCOUNT}:mfa/alice"
FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:payments-api"
OBJECT = "arn:aws:s3:::example-payments-data/report.csv"


def totp_code() -> str:
    totp = TOTP(base64.b32decode("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"), 6, SHA1(), 30)
    return totp.generate(int(time.time())).decode()


# --- request building ------------------------------------------------------------------------


def test_request_carries_every_field() -> None:
    msg = assume_role_request_pb(
        DEPLOYER,
        "deploy-1",
        principal=ALICE,
        duration_seconds=1800,
        policy='{"Version": "2012-10-17", "Statement": []}',
        policy_arns=["arn:aws:iam::aws:policy/ReadOnlyAccess"],
        tags={"team": "payments", "project": "blue"},
        transitive_tag_keys=("project",),
        external_id="ext-1",
        serial_number=MFA_SERIAL,
        token_code="123456",
        source_identity="alice",
        context={"aws:SourceIp": "10.0.0.1", "aws:TagKeys": ["team"]},
        min_snapshot_version=7,
    )
    assert msg.caller.WhichOneof("identity") == "principal_arn"
    assert msg.caller.principal_arn == ALICE
    assert (msg.role_arn, msg.role_session_name, msg.duration_seconds) == (DEPLOYER, "deploy-1", 1800)
    assert msg.policy == '{"Version": "2012-10-17", "Statement": []}'
    assert list(msg.policy_arns) == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    assert [(t.key, t.value) for t in msg.tags] == [("team", "payments"), ("project", "blue")]
    assert list(msg.transitive_tag_keys) == ["project"]
    assert (msg.external_id, msg.serial_number, msg.token_code, msg.source_identity) == (
        "ext-1",
        MFA_SERIAL,
        "123456",
        "alice",
    )
    assert msg.context["aws:SourceIp"].WhichOneof("value") == "string_value"
    assert list(msg.context["aws:TagKeys"].string_list.values) == ["team"]
    assert msg.min_snapshot_version == 7


def test_request_defaults_are_the_proto_defaults() -> None:
    msg = assume_role_request_pb(AUDITOR, "audit-1", principal=CAROL)
    assert msg.duration_seconds == 0  # the sidecar's default (3,600 s)
    assert msg.policy == "" and not msg.policy_arns and not msg.tags and not msg.transitive_tag_keys
    assert msg.external_id == msg.serial_number == msg.token_code == msg.source_identity == ""
    assert len(msg.context) == 0 and msg.min_snapshot_version == 0


def test_request_with_credentials_and_tag_pairs() -> None:
    creds = Credentials("ASIAEXAMPLEEXAMPLE01", "secret", "token")
    msg = assume_role_request_pb(AUDITOR, "audit-1", credentials=creds, tags=[("team", "a"), ("TEAM", "b")])
    assert msg.caller.WhichOneof("identity") == "credentials"
    assert (
        msg.caller.credentials.access_key_id,
        msg.caller.credentials.secret_access_key,
        msg.caller.credentials.session_token,
    ) == ("ASIAEXAMPLEEXAMPLE01", "secret", "token")
    # Pairs are sent as given: the sidecar, not the client, refuses keys that differ in case.
    assert [(t.key, t.value) for t in msg.tags] == [("team", "a"), ("TEAM", "b")]


def test_a_policy_mapping_is_sent_as_json() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
    msg = assume_role_request_pb(AUDITOR, "audit-1", principal=CAROL, policy=policy)
    assert json.loads(msg.policy) == policy


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({}, ValueError, "exactly one"),
        ({"principal": ALICE, "credentials": ALICE_KEYS}, ValueError, "exactly one"),
        ({"principal": ""}, ValueError, "principal"),
        ({"credentials": Credentials("")}, ValueError, "access_key_id"),
        ({"principal": ALICE, "duration_seconds": 0}, ValueError, "duration_seconds"),
        ({"principal": ALICE, "duration_seconds": -1}, ValueError, "duration_seconds"),
        ({"principal": ALICE, "duration_seconds": True}, ValueError, "duration_seconds"),
        ({"principal": ALICE, "duration_seconds": 1.5}, ValueError, "duration_seconds"),
        ({"principal": ALICE, "duration_seconds": 1 << 32}, ValueError, "duration_seconds"),
        ({"principal": ALICE, "min_snapshot_version": -1}, ValueError, "min_snapshot_version"),
        ({"principal": ALICE, "policy": ""}, ValueError, "policy"),
        ({"principal": ALICE, "policy": 3}, TypeError, "policy"),
        ({"principal": ALICE, "tags": "team=a"}, TypeError, "tags"),
        ({"principal": ALICE, "tags": [("team",)]}, TypeError, "pair"),
        ({"principal": ALICE, "tags": {"team": 1}}, TypeError, "str"),
        ({"principal": ALICE, "transitive_tag_keys": "team"}, TypeError, "transitive_tag_keys"),
        ({"principal": ALICE, "transitive_tag_keys": [1]}, TypeError, "transitive_tag_keys"),
        ({"principal": ALICE, "policy_arns": "arn:aws:iam::aws:policy/X"}, TypeError, "policy_arns"),
        ({"principal": ALICE, "context": {"aws:SourceIp": 3}}, TypeError, "context"),
        ({"principal": ALICE, "context": [("aws:SourceIp", "1")]}, TypeError, "context"),
    ],
)
def test_bad_requests_fail_before_any_call(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        assume_role_request_pb(DEPLOYER, "deploy-1", **kwargs)


def test_role_arn_and_session_name_are_required() -> None:
    with pytest.raises(ValueError, match="role_arn"):
        assume_role_request_pb("", "deploy-1", principal=ALICE)
    with pytest.raises(ValueError, match="role_session_name"):
        assume_role_request_pb(DEPLOYER, "", principal=ALICE)


# --- result conversion -----------------------------------------------------------------------


def _response(source_identity: str = "") -> authorizer_pb2.AssumeRoleResponse:
    expiration = Timestamp()
    expiration.FromSeconds(1_900_000_000)
    return authorizer_pb2.AssumeRoleResponse(
        credentials=authorizer_pb2.SessionCredentials(
            access_key_id="ASIAEXAMPLEEXAMPLE01",
            secret_access_key="s" * 40,
            session_token="the-token",
            expiration=expiration,
        ),
        assumed_role_user=authorizer_pb2.AssumedRoleUser(
            assumed_role_id=f"{DEPLOYER_ID}:deploy-1",
            arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/deploy-1",
        ),
        packed_policy_size=12,
        source_identity=source_identity,
        snapshot_version=3,
    )


def test_assumed_role_conversion() -> None:
    role = assumed_role(_response())
    assert role == AssumedRole(
        credentials=Credentials("ASIAEXAMPLEEXAMPLE01", "s" * 40, "the-token"),
        expiration=datetime.fromtimestamp(1_900_000_000, tz=UTC),
        assumed_role_arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/deploy-1",
        assumed_role_id=f"{DEPLOYER_ID}:deploy-1",
        packed_policy_size=12,
        source_identity=None,
        snapshot_version=3,
    )
    assert role.expiration.tzinfo is not None and role.expiration.utcoffset() == timedelta(0)
    assert assumed_role(_response("alice")).source_identity == "alice"


def test_assumed_role_is_frozen_and_hides_secrets() -> None:
    role = assumed_role(_response())
    with pytest.raises(dataclasses.FrozenInstanceError):
        role.packed_policy_size = 1  # type: ignore[misc]
    text = repr(role)
    assert "ASIAEXAMPLEEXAMPLE01" in text
    assert "s" * 40 not in text and "the-token" not in text


def test_assumed_role_credentials_are_a_caller() -> None:
    creds = assumed_role(_response()).credentials
    msg = authorize_request_pb(
        AuthorizeRequest(action="lambda:GetFunction", resource=FUNCTION, credentials=creds)
    )
    c = msg.caller.credentials
    assert (c.access_key_id, c.secret_access_key, c.session_token) == (
        "ASIAEXAMPLEEXAMPLE01",
        "s" * 40,
        "the-token",
    )
    chained = assume_role_request_pb(AUDITOR, "chain-1", credentials=creds)
    assert chained.caller.credentials.session_token == "the-token"


def test_a_response_without_credentials_is_an_error() -> None:
    with pytest.raises(SidecarError) as info:
        assumed_role(authorizer_pb2.AssumeRoleResponse(snapshot_version=1))
    assert info.value.code is grpc.StatusCode.UNKNOWN


def test_unreachable_sidecar(tmp_path: Path) -> None:
    target = f"unix:{tmp_path}/no-such.sock"
    with SidecarClient(target, timeout=0.3, retries=0) as client:
        with pytest.raises(ValueError):
            client.assume_role(AUDITOR, "audit-1")  # no caller: no call is made
        with pytest.raises(UnavailableError):
            client.assume_role(AUDITOR, "audit-1", principal=CAROL, external_id=EXTERNAL_ID)

    async def main() -> None:
        async with AsyncSidecarClient(target, timeout=0.3, retries=0) as client:
            with pytest.raises(ValueError):
                await client.assume_role(AUDITOR, "audit-1", principal=CAROL, credentials=ALICE_KEYS)
            with pytest.raises(UnavailableError):
                await client.assume_role(AUDITOR, "audit-1", principal=CAROL, external_id=EXTERNAL_ID)

    asyncio.run(main())


# --- against the sidecar ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSidecar]:
    with running_sidecar(tmp_path_factory.mktemp("sidecar")) as running:
        yield running


@pytest.fixture(params=["tcp", "unix"])
def target(request: pytest.FixtureRequest, sidecar: RunningSidecar) -> str:
    return sidecar.authz_tcp if request.param == "tcp" else sidecar.authz_unix


def test_assume_role_and_use_the_session(target: str) -> None:
    with SidecarClient(target, timeout=10) as client:
        before = datetime.now(UTC)
        role = client.assume_role(AUDITOR, "audit-sync", principal=CAROL, external_id=EXTERNAL_ID)
        assert isinstance(role, AssumedRole)
        assert role.credentials.access_key_id.startswith("ASIA") and len(role.credentials.access_key_id) == 20
        assert len(role.credentials.secret_access_key) == 40 and role.credentials.session_token
        assert role.expiration.tzinfo is not None
        expected = before + timedelta(seconds=3600)
        assert expected - timedelta(seconds=2) <= role.expiration <= expected + timedelta(seconds=5)
        assert role.assumed_role_arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/CrossAccountAuditor/audit-sync"
        assert role.assumed_role_id == f"{AUDITOR_ID}:audit-sync"
        assert (role.packed_policy_size, role.source_identity, role.snapshot_version) == (0, None, 1)

        creds = role.credentials
        assert client.authorize(credentials=creds, action="ec2:DescribeInstances").decision is Decision.ALLOW
        assert client.is_allowed(credentials=creds, action="ec2:DescribeInstances") is True
        assert (
            client.authorize(credentials=creds, action="ec2:RunInstances").decision is Decision.IMPLICIT_DENY
        )
        who = client.get_caller_identity(credentials=creds)
        assert (who.arn, who.user_id, who.account) == (role.assumed_role_arn, role.assumed_role_id, ACCOUNT)
        batch = client.authorize_batch(
            [
                AuthorizeRequest(credentials=creds, action="ec2:DescribeInstances"),
                AuthorizeRequest(credentials=creds, action="ec2:RunInstances"),
                AuthorizeRequest(CAROL, "ec2:DescribeInstances"),
            ]
        )
        assert [r.decision for r in batch] == [Decision.ALLOW, Decision.IMPLICIT_DENY, Decision.ALLOW]
        # Just the token (no secret) is enough for a session.
        token_only = dataclasses.replace(creds, secret_access_key="")
        assert client.is_allowed(credentials=token_only, action="ec2:DescribeInstances") is True


def test_mfa_tags_and_a_session_policy(sidecar: RunningSidecar) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "lambda:GetFunction",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalTag/team": "payments"}},
            }
        ],
    }
    with SidecarClient(sidecar.authz_unix, timeout=10) as client:
        role = client.assume_role(
            DEPLOYER,
            "deploy-sync",
            credentials=ALICE_KEYS,  # alice's long-term key
            serial_number=MFA_SERIAL,
            token_code=totp_code(),
            duration_seconds=7200,
            policy=policy,
            tags={"team": "payments", "project": "blue"},
            transitive_tag_keys=["project"],
        )
        assert role.assumed_role_arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/deploy-sync"
        assert role.assumed_role_id == f"{DEPLOYER_ID}:deploy-sync"
        assert 0 < role.packed_policy_size <= 100
        assert role.expiration > datetime.now(UTC) + timedelta(seconds=7100)
        creds = role.credentials
        assert client.is_allowed(credentials=creds, action="lambda:GetFunction", resource=FUNCTION) is True
        # The role allows it, the session policy does not; alice's own rights do not carry over.
        assert (
            client.is_allowed(credentials=creds, action="lambda:UpdateFunctionCode", resource=FUNCTION)
            is False
        )
        assert client.is_allowed(credentials=creds, action="s3:GetObject", resource=OBJECT) is False
        assert client.is_allowed(ALICE, "s3:GetObject", OBJECT) is True


def test_refusals_are_sidecar_errors(sidecar: RunningSidecar) -> None:
    with SidecarClient(sidecar.authz_tcp, timeout=10) as client:
        with pytest.raises(UnauthenticatedError) as denied:  # PERMISSION_DENIED
            client.assume_role(DEPLOYER, "deploy-x", principal=ALICE)  # no MFA
        err = denied.value
        assert (err.code, err.reason, err.field) == (
            grpc.StatusCode.PERMISSION_DENIED,
            "AccessDenied",
            "role_arn",
        )
        assert "is not authorized to perform: sts:AssumeRole" in err.message

        with pytest.raises(InvalidArgumentError) as invalid:
            client.assume_role(AUDITOR, "has space", principal=CAROL, external_id=EXTERNAL_ID)
        assert (invalid.value.reason, invalid.value.field) == ("ValidationError", "role_session_name")

        with pytest.raises(InvalidArgumentError) as dup:
            client.assume_role(
                DEPLOYER,
                "deploy-x",
                principal=ALICE,
                serial_number=MFA_SERIAL,
                token_code=totp_code(),
                tags=[("team", "a"), ("Team", "b")],
            )
        assert (dup.value.reason, dup.value.field) == ("InvalidParameterValue", "tags")

        with pytest.raises(InvalidArgumentError) as malformed:
            client.assume_role(AUDITOR, "audit-x", principal=CAROL, external_id=EXTERNAL_ID, policy="{nope")
        assert (malformed.value.reason, malformed.value.field) == ("MalformedPolicyDocument", "policy")

        with pytest.raises(UnauthenticatedError) as wrong_secret:
            client.assume_role(AUDITOR, "audit-x", credentials=Credentials(ALICE_KEYS.access_key_id, "wrong"))
        assert wrong_secret.value.reason == "SignatureDoesNotMatch"

        # A tampered session token: refused as a caller; is_allowed fails closed.
        role = client.assume_role(AUDITOR, "audit-y", principal=CAROL, external_id=EXTERNAL_ID)
        token = role.credentials.session_token
        bad = dataclasses.replace(
            role.credentials, session_token=token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
        )
        with pytest.raises(UnauthenticatedError) as tampered:
            client.authorize(credentials=bad, action="ec2:DescribeInstances")
        assert tampered.value.reason == "InvalidClientTokenId"
        assert client.is_allowed(credentials=bad, action="ec2:DescribeInstances") is False
        # Role chaining from the auditor session: nothing trusts CrossAccountAuditor.
        with pytest.raises(UnauthenticatedError) as chained:
            client.assume_role(DEPLOYER, "chain-x", credentials=role.credentials)
        assert chained.value.reason == "AccessDenied"


def test_async_assume_role(target: str) -> None:
    async def main() -> None:
        async with AsyncSidecarClient(target, timeout=10) as client:
            role = await client.assume_role(
                AUDITOR, "audit-async", principal=CAROL, external_id=EXTERNAL_ID, duration_seconds=900
            )
            assert role.assumed_role_id == f"{AUDITOR_ID}:audit-async"
            assert role.expiration <= datetime.now(UTC) + timedelta(seconds=905)
            creds = role.credentials
            result = await client.authorize(credentials=creds, action="ec2:DescribeInstances")
            assert result.allowed
            assert await client.is_allowed(credentials=creds, action="ec2:RunInstances") is False
            who = await client.get_caller_identity(credentials=creds)
            assert who.arn == role.assumed_role_arn
            deployer = await client.assume_role(
                DEPLOYER,
                "deploy-async",
                principal=ALICE,
                serial_number=MFA_SERIAL,
                token_code=totp_code(),
                tags=[("team", "payments")],
            )
            assert await client.is_allowed(
                credentials=deployer.credentials, action="lambda:UpdateFunctionCode", resource=FUNCTION
            )
            with pytest.raises(UnauthenticatedError) as denied:
                await client.assume_role(AUDITOR, "audit-async", principal=CAROL, external_id="audit-0000")
            assert (denied.value.reason, denied.value.field) == ("AccessDenied", "role_arn")

    asyncio.run(main())
