"""The blocking client (grpc). Thread-safe: share one instance."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message

from sidecar.api.v1 import authorizer_pb2, control_pb2

from ._channel import (
    AUTHORIZER_SERVICE,
    CONTROL_SERVICE,
    DEFAULT,
    DEFAULT_TARGET,
    Timeout,
    TokenSource,
    channel_options,
    normalize_target,
    resolve_timeout,
)
from ._errors import from_rpc_error
from ._types import (
    AssumedRole,
    AuthorizeRequest,
    AuthorizeResult,
    BatchResult,
    CallerIdentity,
    ContextInput,
    Credentials,
    PolicyInput,
    Status,
    TagsInput,
    assume_role_request_pb,
    assumed_role,
    authorize_request_pb,
    authorize_result,
    batch_result,
    caller_identity,
    caller_pb,
    status_result,
)

log = logging.getLogger("iam_sidecar_client")


Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)


def _method(
    channel: grpc.Channel, service: str, name: str, req: type[Req], resp: type[Resp]
) -> grpc.UnaryUnaryMultiCallable[Req, Resp]:
    return channel.unary_unary(  # type: ignore[call-arg]
        f"/{service}/{name}",
        request_serializer=req.SerializeToString,
        response_deserializer=resp.FromString,
        _registered_method=True,
    )


class SidecarClient:
    """A client of the sidecar's Authorizer service (``target``) and, optionally, its Control
    service (``control_target`` with ``token`` or ``token_file``).

    Every call gets ``timeout`` seconds unless given its own (None: no deadline). Calls that
    fail with UNAVAILABLE are retried ``retries`` times with exponential backoff. Every gRPC
    failure is raised as :class:`SidecarError`; :meth:`is_allowed` never raises."""

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        timeout: float | None = 1.0,
        control_target: str | None = None,
        token: str | None = None,
        token_file: str | Path | None = None,
        retries: int = 3,
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        opts = channel_options(retries, options)
        self._token = TokenSource(token, token_file)
        self._timeout = timeout
        self._channel = grpc.insecure_channel(normalize_target(target), options=opts)
        self._authorize = _method(
            self._channel,
            AUTHORIZER_SERVICE,
            "Authorize",
            authorizer_pb2.AuthorizeRequest,
            authorizer_pb2.AuthorizeResponse,
        )
        self._authorize_batch = _method(
            self._channel,
            AUTHORIZER_SERVICE,
            "AuthorizeBatch",
            authorizer_pb2.AuthorizeBatchRequest,
            authorizer_pb2.AuthorizeBatchResponse,
        )
        self._get_caller_identity = _method(
            self._channel,
            AUTHORIZER_SERVICE,
            "GetCallerIdentity",
            authorizer_pb2.GetCallerIdentityRequest,
            authorizer_pb2.GetCallerIdentityResponse,
        )
        self._assume_role = _method(
            self._channel,
            AUTHORIZER_SERVICE,
            "AssumeRole",
            authorizer_pb2.AssumeRoleRequest,
            authorizer_pb2.AssumeRoleResponse,
        )
        self._control: grpc.Channel | None = None
        self._get_status: (
            grpc.UnaryUnaryMultiCallable[control_pb2.GetStatusRequest, control_pb2.SidecarStatus] | None
        ) = None
        if control_target is not None:
            self._control = grpc.insecure_channel(normalize_target(control_target), options=opts)
            self._get_status = _method(
                self._control,
                CONTROL_SERVICE,
                "GetStatus",
                control_pb2.GetStatusRequest,
                control_pb2.SidecarStatus,
            )

    def __enter__(self) -> SidecarClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()
        if self._control is not None:
            self._control.close()

    def authorize(
        self,
        principal: str | None = None,
        action: str = "",
        resource: str = "*",
        *,
        context: ContextInput | None = None,
        resource_account: str | None = None,
        explain: bool = False,
        min_snapshot_version: int = 0,
        credentials: Credentials | None = None,
        anonymous: bool = False,
        timeout: Timeout = DEFAULT,
    ) -> AuthorizeResult:
        """One decision. Raises ValueError/TypeError for a bad request, SidecarError on failure."""
        req = AuthorizeRequest(
            principal,
            action,
            resource,
            context,
            resource_account,
            explain,
            min_snapshot_version,
            credentials,
            anonymous,
        )
        msg = authorize_request_pb(req)
        try:
            resp = self._authorize(msg, timeout=resolve_timeout(timeout, self._timeout))
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None
        return authorize_result(resp)

    def is_allowed(
        self,
        principal: str | None = None,
        action: str = "",
        resource: str = "*",
        *,
        context: ContextInput | None = None,
        resource_account: str | None = None,
        explain: bool = False,
        min_snapshot_version: int = 0,
        credentials: Credentials | None = None,
        anonymous: bool = False,
        timeout: Timeout = DEFAULT,
    ) -> bool:
        """True only for an ALLOW decision; False on a deny and on ANY error (fail closed)."""
        try:
            return self.authorize(
                principal,
                action,
                resource,
                context=context,
                resource_account=resource_account,
                explain=explain,
                min_snapshot_version=min_snapshot_version,
                credentials=credentials,
                anonymous=anonymous,
                timeout=timeout,
            ).allowed
        except Exception as exc:
            log.debug("is_allowed: denying after error: %s", exc)
            return False

    def authorize_batch(
        self,
        requests: Sequence[AuthorizeRequest],
        *,
        min_snapshot_version: int = 0,
        timeout: Timeout = DEFAULT,
    ) -> BatchResult:
        """Many decisions, in order, all against one snapshot version."""
        msg = authorizer_pb2.AuthorizeBatchRequest(
            requests=[authorize_request_pb(r) for r in requests], min_snapshot_version=min_snapshot_version
        )
        try:
            resp = self._authorize_batch(msg, timeout=resolve_timeout(timeout, self._timeout))
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None
        return batch_result(resp)

    def get_caller_identity(
        self,
        principal: str | None = None,
        *,
        credentials: Credentials | None = None,
        timeout: Timeout = DEFAULT,
    ) -> CallerIdentity:
        """Account, ARN and user id of a principal ARN or of credentials."""
        if (principal is None) == (credentials is None):
            raise ValueError("exactly one of principal or credentials must be given")
        msg = authorizer_pb2.GetCallerIdentityRequest(caller=caller_pb(principal, credentials))
        try:
            resp = self._get_caller_identity(msg, timeout=resolve_timeout(timeout, self._timeout))
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None
        return caller_identity(resp)

    def assume_role(
        self,
        role_arn: str,
        role_session_name: str,
        *,
        principal: str | None = None,
        credentials: Credentials | None = None,
        duration_seconds: int | None = None,
        policy: PolicyInput | None = None,
        policy_arns: Sequence[str] = (),
        tags: TagsInput = (),
        transitive_tag_keys: Sequence[str] = (),
        external_id: str | None = None,
        serial_number: str | None = None,
        token_code: str | None = None,
        source_identity: str | None = None,
        context: ContextInput | None = None,
        min_snapshot_version: int = 0,
        timeout: Timeout = DEFAULT,
    ) -> AssumedRole:
        """Temporary credentials of a role session (STS AssumeRole), for the caller given by
        exactly one of ``principal`` (an ARN the calling service vouches for) or ``credentials``
        (a user's long-term key, or a session's credentials: role chaining).

        ``policy``: an inline session policy (JSON text or a mapping); ``policy_arns``: managed
        session policies; ``tags``: session tags (a mapping or (key, value) pairs);
        ``serial_number`` + ``token_code``: the caller's MFA device and its current code.
        Raises ValueError/TypeError for a bad request and SidecarError when the sidecar refuses
        (``reason``: AccessDenied, ValidationError, MalformedPolicyDocument,
        PackedPolicyTooLarge, InvalidParameterValue, InvalidClientTokenId, ...)."""
        msg = assume_role_request_pb(
            role_arn,
            role_session_name,
            principal=principal,
            credentials=credentials,
            duration_seconds=duration_seconds,
            policy=policy,
            policy_arns=policy_arns,
            tags=tags,
            transitive_tag_keys=transitive_tag_keys,
            external_id=external_id,
            serial_number=serial_number,
            token_code=token_code,
            source_identity=source_identity,
            context=context,
            min_snapshot_version=min_snapshot_version,
        )
        try:
            resp = self._assume_role(msg, timeout=resolve_timeout(timeout, self._timeout))
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None
        return assumed_role(resp)

    def status(self, *, timeout: Timeout = DEFAULT) -> Status:
        """The serving snapshot and last error, from the Control service (needs the token)."""
        if self._get_status is None:
            raise ValueError("status() needs the Control service: pass control_target='host:port'")
        metadata = self._token.metadata()
        try:
            resp = self._get_status(
                control_pb2.GetStatusRequest(),
                timeout=resolve_timeout(timeout, self._timeout),
                metadata=metadata,
            )
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None
        return status_result(resp)
