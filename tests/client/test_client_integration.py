"""The Python client against the real sidecar (tests/server/harness.py) serving
examples/snapshot.json, over TCP and the Unix socket, sync and asyncio.

Expected decisions were computed with the engine (compile_snapshot + authorize) and follow from
the example policies:

* alice (developers + payments groups, DeveloperBoundary) reads the payments bucket: ALLOW via
  ReadOnlyAccess, within the boundary's AllowedServices;
* with aws:SecureTransport=false the bucket policy's DenyInsecureTransport: EXPLICIT_DENY;
* alice iam:PutUserPermissionsBoundary: the boundary's NoBoundaryEscape Deny: EXPLICIT_DENY;
* bob (developers only, ReadOnlyAccess) s3:PutObject / kms:Decrypt: IMPLICIT_DENY;
* a PaymentsApp role session PutObject under incoming/: ALLOW.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from iam_sidecar_client import (
    AsyncSidecarClient,
    AuthorizeRequest,
    Decision,
    FailedPreconditionError,
    InvalidArgumentError,
    SidecarClient,
    SidecarError,
    UnauthenticatedError,
)

from tests.server.harness import RunningSidecar, running_sidecar

ACCOUNT = "222222222222"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
BOB = f"arn:aws:iam::{ACCOUNT}:user/contractors/bob"
PAYMENTS_APP = f"arn:aws:sts::{ACCOUNT}:assumed-role/PaymentsApp/i-0abc"
BUCKET = "arn:aws:s3:::example-payments-data"
OBJECT = f"{BUCKET}/report.csv"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
INSECURE = {"aws:SecureTransport": "false"}

# (principal, action, resource, context, expected)
CASES = [
    (ALICE, "s3:GetObject", OBJECT, None, Decision.ALLOW),
    (ALICE, "s3:GetObject", OBJECT, {"aws:SecureTransport": "true"}, Decision.ALLOW),
    (ALICE, "s3:GetObject", OBJECT, INSECURE, Decision.EXPLICIT_DENY),
    (ALICE, "iam:PutUserPermissionsBoundary", "*", None, Decision.EXPLICIT_DENY),
    (BOB, "s3:GetObject", OBJECT, None, Decision.ALLOW),
    (BOB, "s3:PutObject", OBJECT, None, Decision.IMPLICIT_DENY),
    (BOB, "kms:Decrypt", KEY, None, Decision.IMPLICIT_DENY),
    (PAYMENTS_APP, "s3:PutObject", f"{BUCKET}/incoming/batch-1.csv", None, Decision.ALLOW),
]


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSidecar]:
    with running_sidecar(tmp_path_factory.mktemp("sidecar")) as running:
        yield running


@pytest.fixture(params=["tcp", "unix"])
def target(request: pytest.FixtureRequest, sidecar: RunningSidecar) -> str:
    return sidecar.authz_tcp if request.param == "tcp" else sidecar.authz_unix


def test_harness_addresses(sidecar: RunningSidecar) -> None:
    assert sidecar.authz_tcp.startswith("127.0.0.1:")
    assert sidecar.authz_unix.startswith("unix:/")
    assert sidecar.control


# --- sync client -----------------------------------------------------------------------------


def test_authorize_sync(target: str) -> None:
    with SidecarClient(target) as client:
        for principal, action, resource, context, expected in CASES:
            result = client.authorize(principal, action, resource, context=context)
            assert result.decision is expected, (principal, action, resource, context)
            assert result.allowed is (expected is Decision.ALLOW)
            assert result.snapshot_version == 1
            assert result.explanation is None
            allowed = client.is_allowed(principal, action, resource, context=context)
            assert allowed is (expected is Decision.ALLOW)


def test_explain_allow(sidecar: RunningSidecar) -> None:
    with SidecarClient(sidecar.authz_tcp) as client:
        result = client.authorize(ALICE, "s3:GetObject", OBJECT, explain=True)
    assert result.decision is Decision.ALLOW
    ex = result.explanation
    assert ex is not None
    assert ex.reason
    assert ex.decided_by == "identity"
    read_only = [m for m in ex.matched_statements if m.sid == "ReadOnly"]
    assert read_only, ex.matched_statements
    assert read_only[0].policy == "arn:aws:iam::aws:policy/ReadOnlyAccess"
    assert read_only[0].policy_kind == "identity"
    assert read_only[0].effect == "Allow"
    assert read_only[0].statement_index == 0


def test_explain_explicit_deny(sidecar: RunningSidecar) -> None:
    with SidecarClient(sidecar.authz_unix) as client:
        result = client.authorize(ALICE, "s3:GetObject", OBJECT, context=INSECURE, explain=True)
    assert result.decision is Decision.EXPLICIT_DENY
    ex = result.explanation
    assert ex is not None
    assert ex.decided_by == "resource"
    (deny,) = [m for m in ex.matched_statements if m.effect == "Deny"]
    assert (deny.policy_kind, deny.policy, deny.sid, deny.statement_index) == (
        "resource",
        BUCKET,
        "DenyInsecureTransport",
        0,
    )


def test_explain_missing_context_keys(sidecar: RunningSidecar) -> None:
    with SidecarClient(sidecar.authz_tcp) as client:
        result = client.authorize(BOB, "s3:PutObject", OBJECT, explain=True)
    assert result.decision is Decision.IMPLICIT_DENY
    assert result.explanation is not None
    assert result.explanation.reason
    assert "aws:securetransport" in {k.lower() for k in result.explanation.missing_context_keys}


def test_batch_keeps_order(sidecar: RunningSidecar) -> None:
    requests = [AuthorizeRequest(p, a, r, context=c) for p, a, r, c, _ in CASES]
    with SidecarClient(sidecar.authz_unix) as client:
        batch = client.authorize_batch(requests)
        reverse = client.authorize_batch(requests[::-1], min_snapshot_version=1)
    assert [r.decision for r in batch] == [expected for *_, expected in CASES]
    assert [r.decision for r in reverse] == [expected for *_, expected in CASES][::-1]
    assert batch.snapshot_version == 1
    assert all(r.snapshot_version == batch.snapshot_version for r in batch)


def test_batch_error_names_the_item(sidecar: RunningSidecar) -> None:
    requests = [AuthorizeRequest(ALICE, "s3:GetObject", OBJECT), AuthorizeRequest(ALICE, "s3:*", OBJECT)]
    with SidecarClient(sidecar.authz_tcp) as client, pytest.raises(InvalidArgumentError) as info:
        client.authorize_batch(requests)
    assert info.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.reason == "InvalidArgument"
    assert info.value.field == "requests[1].action"


def test_server_error_is_sidecar_error(sidecar: RunningSidecar) -> None:
    with SidecarClient(sidecar.authz_tcp) as client:
        with pytest.raises(InvalidArgumentError) as info:
            client.authorize(ALICE, "s3:Get*", OBJECT)
        assert info.value.field == "action"
        assert info.value.reason == "InvalidArgument"
        assert "action" in str(info.value)
        # Principal keys are never taken from the caller.
        with pytest.raises(InvalidArgumentError) as info:
            client.authorize(ALICE, "s3:GetObject", OBJECT, context={"aws:username": "bob"})
        assert "aws:username" in info.value.field
        # ... and is_allowed fails closed instead of raising.
        assert client.is_allowed(ALICE, "s3:Get*", OBJECT) is False


def test_min_snapshot_version_not_reached(sidecar: RunningSidecar) -> None:
    with SidecarClient(sidecar.authz_tcp) as client:
        with pytest.raises(SidecarError) as info:
            client.authorize(ALICE, "s3:GetObject", OBJECT, min_snapshot_version=99, timeout=0.5)
        assert client.is_allowed(ALICE, "s3:GetObject", OBJECT, min_snapshot_version=99, timeout=0.5) is False
    # The server answers before the deadline when it can; a deadline hit is also acceptable.
    assert info.value.code in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.DEADLINE_EXCEEDED)
    if isinstance(info.value, FailedPreconditionError):
        assert info.value.field == "min_snapshot_version"


def test_get_caller_identity(target: str) -> None:
    with SidecarClient(target) as client:
        ident = client.get_caller_identity(ALICE)
    assert ident.account == ACCOUNT
    assert ident.arn == ALICE
    assert ident.user_id == "AIDAJQABLZS4A3QDU576Q"
    assert ident.snapshot_version == 1


def test_status_with_token(sidecar: RunningSidecar) -> None:
    with SidecarClient(sidecar.authz_tcp, control_target=sidecar.control, token=sidecar.token) as client:
        status = client.status()
    assert status.serving is True
    assert status.version == 1
    assert len(status.sha256) == 64
    assert status.loaded_at is not None and status.loaded_at.tzinfo is not None
    assert status.counts["users"] == 3
    assert status.counts["accounts"] == 3
    assert status.last_error == ""
    assert status.highest_version == 1


def test_status_with_token_file(sidecar: RunningSidecar) -> None:
    with SidecarClient(
        sidecar.authz_unix, control_target=sidecar.control, token_file=sidecar.token_file
    ) as client:
        assert client.status().version == 1


def test_status_with_wrong_token(sidecar: RunningSidecar, tmp_path: Path) -> None:
    client = SidecarClient(sidecar.authz_tcp, control_target=sidecar.control, token="not-the-token")
    with client, pytest.raises(SidecarError) as info:
        client.status()
    assert info.value.code is grpc.StatusCode.UNAUTHENTICATED
    assert isinstance(info.value, UnauthenticatedError)
    # A token file is read at every call: fixing the file fixes the client.
    token_file = tmp_path / "token"
    token_file.write_text("wrong\n")
    with SidecarClient(sidecar.authz_tcp, control_target=sidecar.control, token_file=token_file) as client:
        with pytest.raises(UnauthenticatedError):
            client.status()
        token_file.write_text(sidecar.token + "\n")
        assert client.status().serving


# --- asyncio client --------------------------------------------------------------------------


def test_authorize_async(target: str) -> None:
    async def main() -> None:
        async with AsyncSidecarClient(target) as client:
            for principal, action, resource, context, expected in CASES:
                result = await client.authorize(principal, action, resource, context=context)
                assert result.decision is expected, (principal, action, resource, context)
                assert result.snapshot_version == 1
                allowed = await client.is_allowed(principal, action, resource, context=context)
                assert allowed is (expected is Decision.ALLOW)
            results = await asyncio.gather(*(client.authorize(p, a, r, context=c) for p, a, r, c, _ in CASES))
            assert [r.decision for r in results] == [expected for *_, expected in CASES]

    asyncio.run(main())


def test_async_explain_batch_identity_status(sidecar: RunningSidecar) -> None:
    async def main() -> None:
        async with AsyncSidecarClient(
            sidecar.authz_unix, control_target=sidecar.control, token_file=sidecar.token_file
        ) as client:
            result = await client.authorize(ALICE, "s3:GetObject", OBJECT, context=INSECURE, explain=True)
            assert result.decision is Decision.EXPLICIT_DENY
            assert result.explanation is not None
            assert result.explanation.decided_by == "resource"

            batch = await client.authorize_batch(
                [AuthorizeRequest(p, a, r, context=c) for p, a, r, c, _ in CASES]
            )
            assert [r.decision for r in batch] == [expected for *_, expected in CASES]

            ident = await client.get_caller_identity(ALICE)
            assert (ident.account, ident.arn, ident.user_id) == (ACCOUNT, ALICE, "AIDAJQABLZS4A3QDU576Q")

            status = await client.status()
            assert status.serving and status.version == 1

            with pytest.raises(InvalidArgumentError) as info:
                await client.authorize(ALICE, "s3:Get*", OBJECT)
            assert info.value.field == "action"

        async with AsyncSidecarClient(sidecar.authz_tcp, control_target=sidecar.control, token="nope") as bad:
            with pytest.raises(UnauthenticatedError) as denied:
                await bad.status()
            assert denied.value.code is grpc.StatusCode.UNAUTHENTICATED

    asyncio.run(main())
