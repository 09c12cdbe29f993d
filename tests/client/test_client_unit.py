"""The Python client without a server: request building, retry config, result and error
conversion, and fail-closed behaviour against a socket that does not exist."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from iam_sidecar_client import (
    AsyncSidecarClient,
    AuthorizeRequest,
    AuthorizeResult,
    Credentials,
    Decision,
    FailedPreconditionError,
    InvalidArgumentError,
    SidecarClient,
    SidecarError,
    UnauthenticatedError,
    UnavailableError,
)
from iam_sidecar_client._channel import (
    DEFAULT,
    TokenSource,
    channel_options,
    normalize_target,
    resolve_timeout,
    service_config,
)
from iam_sidecar_client._errors import from_rpc_error
from iam_sidecar_client._types import (
    authorize_request_pb,
    authorize_result,
    batch_result,
    caller_identity,
    status_result,
)

from sidecar.api.v1 import authorizer_pb2, control_pb2

ALICE = "arn:aws:iam::222222222222:user/alice"
OBJECT = "arn:aws:s3:::example-payments-data/report.csv"


# --- request building ------------------------------------------------------------------------


def test_context_str_is_single_value_and_list_is_multivalued() -> None:
    msg = authorize_request_pb(
        AuthorizeRequest(
            ALICE,
            "s3:GetObject",
            OBJECT,
            context={"aws:SourceIp": "10.0.0.1", "s3:prefix": ["a/"], "aws:TagKeys": ("x", "y")},
        )
    )
    assert msg.context["aws:SourceIp"].WhichOneof("value") == "string_value"
    assert msg.context["aws:SourceIp"].string_value == "10.0.0.1"
    # A one-element list is still multivalued.
    assert msg.context["s3:prefix"].WhichOneof("value") == "string_list"
    assert list(msg.context["s3:prefix"].string_list.values) == ["a/"]
    assert list(msg.context["aws:TagKeys"].string_list.values) == ["x", "y"]
    empty = authorize_request_pb(AuthorizeRequest(ALICE, "s3:GetObject", context={"s3:prefix": []}))
    assert empty.context["s3:prefix"].WhichOneof("value") == "string_list"
    assert list(empty.context["s3:prefix"].string_list.values) == []


@pytest.mark.parametrize("bad", [1, None, True, ["a", 2], {"a": "b"}, b"bytes"])
def test_context_rejects_other_types(bad: object) -> None:
    with pytest.raises(TypeError, match="context"):
        authorize_request_pb(AuthorizeRequest(ALICE, "s3:GetObject", context={"k:v": bad}))  # type: ignore[dict-item]


def test_request_fields() -> None:
    msg = authorize_request_pb(
        AuthorizeRequest(
            ALICE,
            "s3:GetObject",
            OBJECT,
            resource_account="222222222222",
            explain=True,
            min_snapshot_version=7,
        )
    )
    assert msg.action == "s3:GetObject"
    assert msg.resource == OBJECT
    assert msg.resource_account == "222222222222"
    assert msg.explain is True
    assert msg.min_snapshot_version == 7
    default = authorize_request_pb(AuthorizeRequest(ALICE, "s3:ListAllMyBuckets"))
    assert default.resource == "*"
    assert default.resource_account == ""
    assert not default.explain
    assert len(default.context) == 0


def test_caller_oneof() -> None:
    by_arn = authorize_request_pb(AuthorizeRequest(ALICE, "s3:GetObject"))
    assert by_arn.caller.WhichOneof("identity") == "principal_arn"
    assert by_arn.caller.principal_arn == ALICE

    creds = Credentials("AKIAIOSFODNN7EXAMPLE", "secret", "token")
    by_keys = authorize_request_pb(AuthorizeRequest(action="s3:GetObject", credentials=creds))
    assert by_keys.caller.WhichOneof("identity") == "credentials"
    assert by_keys.caller.credentials.access_key_id == "AKIAIOSFODNN7EXAMPLE"
    assert by_keys.caller.credentials.secret_access_key == "secret"
    assert by_keys.caller.credentials.session_token == "token"

    anon = authorize_request_pb(AuthorizeRequest(action="s3:GetObject", anonymous=True))
    assert anon.caller.WhichOneof("identity") == "anonymous"
    assert anon.caller.anonymous is True


def test_credentials_repr_hides_secrets() -> None:
    text = repr(Credentials("AKIAIOSFODNN7EXAMPLE", "s3cr3t", "t0k3n"))
    assert "AKIAIOSFODNN7EXAMPLE" in text
    assert "s3cr3t" not in text
    assert "t0k3n" not in text


@pytest.mark.parametrize(
    "kwargs",
    [
        {},  # no caller
        {"principal": ALICE, "anonymous": True},
        {"principal": ALICE, "credentials": Credentials("AKIA1", "s")},
        {"credentials": Credentials("AKIA1", "s"), "anonymous": True},
        {"principal": ""},
        {"credentials": Credentials("")},
    ],
)
def test_exactly_one_caller(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        AuthorizeRequest(action="s3:GetObject", **kwargs)  # type: ignore[arg-type]


def test_action_and_resource_are_required() -> None:
    with pytest.raises(ValueError, match="action"):
        AuthorizeRequest(ALICE)
    with pytest.raises(ValueError, match="resource"):
        AuthorizeRequest(ALICE, "s3:GetObject", "")
    with pytest.raises(ValueError, match="min_snapshot_version"):
        AuthorizeRequest(ALICE, "s3:GetObject", min_snapshot_version=-1)


def test_client_validates_before_calling() -> None:
    # Bad arguments fail fast with ValueError (no RPC is made); is_allowed fails closed.
    with SidecarClient("unix:/nonexistent/iam-sidecar-test.sock", timeout=0.2, retries=0) as client:
        with pytest.raises(ValueError):
            client.authorize(ALICE, "s3:GetObject", anonymous=True)
        with pytest.raises(ValueError):
            client.get_caller_identity()
        with pytest.raises(ValueError):
            client.get_caller_identity(ALICE, credentials=Credentials("AKIA1", "s"))
        assert client.is_allowed(action="s3:GetObject") is False
        assert client.is_allowed(ALICE, "s3:GetObject", context={"k:v": 3}) is False  # type: ignore[dict-item]


# --- channel configuration -------------------------------------------------------------------


def test_service_config_retry_policy() -> None:
    config = service_config(3)
    (method,) = config["methodConfig"]
    assert method["name"] == [{"service": "iam_sidecar.v1.Authorizer"}, {"service": "iam_sidecar.v1.Control"}]
    assert method["retryPolicy"] == {
        "maxAttempts": 4,
        "initialBackoff": "0.05s",
        "maxBackoff": "1s",
        "backoffMultiplier": 2,
        "retryableStatusCodes": ["UNAVAILABLE"],
    }
    assert service_config(1)["methodConfig"][0]["retryPolicy"]["maxAttempts"] == 2
    assert service_config(4)["methodConfig"][0]["retryPolicy"]["maxAttempts"] == 5
    assert service_config(100)["methodConfig"][0]["retryPolicy"]["maxAttempts"] == 5
    assert "retryPolicy" not in service_config(0)["methodConfig"][0]
    with pytest.raises(ValueError):
        service_config(-1)


def test_channel_options() -> None:
    opts = dict(channel_options(3))
    assert opts["grpc.enable_retries"] == 1
    assert json.loads(opts["grpc.service_config"]) == service_config(3)
    assert dict(channel_options(0))["grpc.enable_retries"] == 0
    # Caller options come last and replace ours with the same key.
    merged = channel_options(3, [("grpc.enable_retries", 0), ("grpc.max_receive_message_length", 1 << 20)])
    assert [k for k, _ in merged].count("grpc.enable_retries") == 1
    assert dict(merged)["grpc.enable_retries"] == 0
    assert dict(merged)["grpc.max_receive_message_length"] == 1 << 20


def test_targets_and_timeouts() -> None:
    assert normalize_target("/run/authz.sock") == "unix:/run/authz.sock"
    assert normalize_target("unix:/run/authz.sock") == "unix:/run/authz.sock"
    assert normalize_target("127.0.0.1:50051") == "127.0.0.1:50051"
    with pytest.raises(ValueError):
        normalize_target("")
    assert resolve_timeout(DEFAULT, 1.0) == 1.0
    assert resolve_timeout(None, 1.0) is None
    assert resolve_timeout(0.25, 1.0) == 0.25


def test_token_source(tmp_path: Path) -> None:
    assert TokenSource(" abc\n", None).metadata() == (("authorization", "Bearer abc"),)
    path = tmp_path / "token"
    path.write_text("first\n")
    source = TokenSource(None, path)
    assert source.metadata() == (("authorization", "Bearer first"),)
    path.write_text("  second  \n")  # rotation: read at every call
    assert source.metadata() == (("authorization", "Bearer second"),)
    path.write_text("\n")
    with pytest.raises(ValueError, match="empty"):
        source.metadata()
    with pytest.raises(ValueError, match="token"):
        TokenSource(None, None).metadata()
    with pytest.raises(ValueError, match="not both"):
        TokenSource("a", path)


def test_status_needs_control_target_and_token() -> None:
    with SidecarClient("127.0.0.1:1", token="t") as client, pytest.raises(ValueError, match="control_target"):
        client.status()
    with (
        SidecarClient("127.0.0.1:1", control_target="127.0.0.1:1") as client,
        pytest.raises(ValueError, match="token"),
    ):
        client.status()


# --- result conversion -----------------------------------------------------------------------


def test_authorize_result_with_explanation() -> None:
    msg = authorizer_pb2.AuthorizeResponse(
        decision=authorizer_pb2.DECISION_EXPLICIT_DENY,
        snapshot_version=42,
        explanation=authorizer_pb2.Explanation(
            matched_statements=[
                authorizer_pb2.MatchedStatement(
                    policy_kind="resource",
                    policy="arn:aws:s3:::example-payments-data",
                    sid="DenyInsecureTransport",
                    statement_index=0,
                    effect="Deny",
                ),
                authorizer_pb2.MatchedStatement(
                    policy_kind="scp", policy="scp:FullAWSAccess", effect="Allow"
                ),
            ],
            missing_context_keys=["aws:SecureTransport"],
            reason="explicitly denied by a resource-based policy",
            decided_by="resource",
        ),
    )
    result = authorize_result(msg)
    assert result.decision is Decision.EXPLICIT_DENY
    assert not result.allowed
    assert result.snapshot_version == 42
    ex = result.explanation
    assert ex is not None
    assert ex.reason == "explicitly denied by a resource-based policy"
    assert ex.decided_by == "resource"
    assert ex.missing_context_keys == ("aws:SecureTransport",)
    first, second = ex.matched_statements
    assert (first.policy_kind, first.policy, first.sid, first.statement_index, first.effect) == (
        "resource",
        "arn:aws:s3:::example-payments-data",
        "DenyInsecureTransport",
        0,
        "Deny",
    )
    assert second.sid == ""
    assert second.statement_index == 0


def test_authorize_result_decisions() -> None:
    allow = authorize_result(
        authorizer_pb2.AuthorizeResponse(decision=authorizer_pb2.DECISION_ALLOW, snapshot_version=3)
    )
    assert allow == AuthorizeResult(Decision.ALLOW, 3, None)
    assert allow.allowed and allow.decision.allowed
    implicit = authorize_result(
        authorizer_pb2.AuthorizeResponse(decision=authorizer_pb2.DECISION_IMPLICIT_DENY)
    )
    assert implicit.decision is Decision.IMPLICIT_DENY and not implicit.allowed
    assert implicit.explanation is None
    assert not Decision.EXPLICIT_DENY.allowed
    # No decision is not an answer: raise (is_allowed turns it into False).
    with pytest.raises(SidecarError):
        authorize_result(authorizer_pb2.AuthorizeResponse())


def test_batch_result_keeps_order() -> None:
    kinds = [
        authorizer_pb2.DECISION_IMPLICIT_DENY,
        authorizer_pb2.DECISION_ALLOW,
        authorizer_pb2.DECISION_EXPLICIT_DENY,
    ]
    msg = authorizer_pb2.AuthorizeBatchResponse(
        responses=[authorizer_pb2.AuthorizeResponse(decision=k, snapshot_version=5) for k in kinds],
        snapshot_version=5,
    )
    result = batch_result(msg)
    assert [r.decision for r in result] == [Decision.IMPLICIT_DENY, Decision.ALLOW, Decision.EXPLICIT_DENY]
    assert len(result) == 3
    assert result[1].allowed
    assert result.snapshot_version == 5


def test_caller_identity_and_status_conversion() -> None:
    ident = caller_identity(
        authorizer_pb2.GetCallerIdentityResponse(
            account="222222222222", arn=ALICE, user_id="AIDAJQABLZS4A3QDU576Q", snapshot_version=1
        )
    )
    assert (ident.account, ident.arn, ident.user_id, ident.snapshot_version) == (
        "222222222222",
        ALICE,
        "AIDAJQABLZS4A3QDU576Q",
        1,
    )
    msg = control_pb2.SidecarStatus(
        serving=True,
        version=9,
        sha256="ab" * 32,
        source="push",
        compile_seconds=0.5,
        counts={"users": 3, "roles": 4},
        last_error="",
        activation_id=2,
        highest_version=9,
        previous_version=8,
    )
    msg.loaded_at.FromDatetime(datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC))
    status = status_result(msg)
    assert status.serving and status.version == 9 and status.sha256 == "ab" * 32
    assert status.loaded_at == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert status.counts == {"users": 3, "roles": 4}
    assert (status.activation_id, status.highest_version, status.previous_version) == (2, 9, 8)
    assert status.source == "push" and status.compile_seconds == 0.5
    assert status_result(control_pb2.SidecarStatus()).loaded_at is None


# --- errors ----------------------------------------------------------------------------------


class _FakeCallError(grpc.RpcError):
    """What grpc raises for a failed call: an RpcError that is also a Call."""

    def __init__(self, code: grpc.StatusCode, details: str, trailing: tuple[tuple[str, str | bytes], ...]):
        self._code, self._details, self._trailing = code, details, trailing

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> Any:
        return self._trailing


def _status_bin(code: grpc.StatusCode, message: str, reason: str, **metadata: str) -> bytes:
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.ErrorInfo(reason=reason, domain="iam-sidecar", metadata=metadata))
    data: bytes = status_pb2.Status(code=code.value[0], message=message, details=[detail]).SerializeToString()
    return data


def test_error_info_is_read_from_trailing_metadata() -> None:
    code = grpc.StatusCode.INVALID_ARGUMENT
    message = "requests[1].action: 's3:Get*' is not an action name"
    exc = _FakeCallError(
        code,
        message,
        (
            ("other", "x"),
            (
                "grpc-status-details-bin",
                _status_bin(code, message, "InvalidArgument", field="requests[1].action"),
            ),
        ),
    )
    err = from_rpc_error(exc)
    assert isinstance(err, InvalidArgumentError)
    assert err.code is code
    assert err.reason == "InvalidArgument"
    assert err.field == "requests[1].action"
    assert err.message == message
    assert err.metadata == {"field": "requests[1].action"}
    assert str(err) == f"InvalidArgument (INVALID_ARGUMENT): {message} [field: requests[1].action]"


def test_error_without_details() -> None:
    err = from_rpc_error(_FakeCallError(grpc.StatusCode.UNAVAILABLE, "connect failed", ()))
    assert isinstance(err, UnavailableError)
    assert (err.reason, err.field, err.message) == ("", "", "connect failed")
    assert str(err) == "UNAVAILABLE: connect failed"
    garbage = _FakeCallError(grpc.StatusCode.INTERNAL, "boom", (("grpc-status-details-bin", b"\xff\xff"),))
    assert type(from_rpc_error(garbage)) is SidecarError


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (grpc.StatusCode.UNAUTHENTICATED, UnauthenticatedError),
        (grpc.StatusCode.PERMISSION_DENIED, UnauthenticatedError),
        (grpc.StatusCode.FAILED_PRECONDITION, FailedPreconditionError),
        (grpc.StatusCode.DEADLINE_EXCEEDED, UnavailableError),
        (grpc.StatusCode.INTERNAL, SidecarError),
    ],
)
def test_error_classes(code: grpc.StatusCode, cls: type[SidecarError]) -> None:
    err = from_rpc_error(
        _FakeCallError(code, "m", ((("grpc-status-details-bin", _status_bin(code, "m", "R")),)))
    )
    assert type(err) is cls
    assert err.reason == "R" and err.code is code


def test_bare_rpc_error() -> None:
    err = from_rpc_error(grpc.RpcError("odd"))
    assert err.code is grpc.StatusCode.UNKNOWN


# --- fail closed against a real channel to nowhere --------------------------------------------


def test_unreachable_socket_sync(tmp_path: Path) -> None:
    target = f"unix:{tmp_path}/no-such.sock"
    with SidecarClient(target, timeout=0.3) as client:
        assert client.is_allowed(ALICE, "s3:GetObject", OBJECT) is False
        with pytest.raises(UnavailableError) as info:
            client.authorize(ALICE, "s3:GetObject", OBJECT)
        assert info.value.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    with SidecarClient(target, timeout=0.3, retries=0) as client:
        assert client.is_allowed(ALICE, "s3:GetObject", OBJECT, timeout=0.1) is False


def test_unreachable_socket_async(tmp_path: Path) -> None:
    target = f"unix:{tmp_path}/no-such.sock"

    async def main() -> None:
        async with AsyncSidecarClient(target, timeout=0.3) as client:
            assert await client.is_allowed(ALICE, "s3:GetObject", OBJECT) is False
            assert await client.is_allowed(action="s3:GetObject") is False  # bad arguments
            with pytest.raises(UnavailableError):
                await client.authorize(ALICE, "s3:GetObject", OBJECT)
            with pytest.raises(UnavailableError):
                await client.get_caller_identity(ALICE)
        with pytest.raises(ValueError, match="closed"):
            await client.authorize(ALICE, "s3:GetObject", OBJECT)
        assert await client.is_allowed(ALICE, "s3:GetObject", OBJECT) is False

    asyncio.run(main())
