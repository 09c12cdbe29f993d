"""The asyncio client (grpc.aio). The channels are created on first use, inside the running
event loop; use one client per event loop."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import grpc
import grpc.aio
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
    channel: grpc.aio.Channel, service: str, name: str, req: type[Req], resp: type[Resp]
) -> grpc.aio.UnaryUnaryMultiCallable[Req, Resp]:
    return channel.unary_unary(  # type: ignore[call-arg]
        f"/{service}/{name}",
        request_serializer=req.SerializeToString,
        response_deserializer=resp.FromString,
        _registered_method=True,
    )


class _Authorizer:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.channel = channel
        svc = AUTHORIZER_SERVICE
        self.authorize = _method(
            channel, svc, "Authorize", authorizer_pb2.AuthorizeRequest, authorizer_pb2.AuthorizeResponse
        )
        self.authorize_batch = _method(
            channel,
            svc,
            "AuthorizeBatch",
            authorizer_pb2.AuthorizeBatchRequest,
            authorizer_pb2.AuthorizeBatchResponse,
        )
        self.get_caller_identity = _method(
            channel,
            svc,
            "GetCallerIdentity",
            authorizer_pb2.GetCallerIdentityRequest,
            authorizer_pb2.GetCallerIdentityResponse,
        )
        self.assume_role = _method(
            channel, svc, "AssumeRole", authorizer_pb2.AssumeRoleRequest, authorizer_pb2.AssumeRoleResponse
        )


class _Control:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.channel = channel
        self.get_status = _method(
            channel, CONTROL_SERVICE, "GetStatus", control_pb2.GetStatusRequest, control_pb2.SidecarStatus
        )


class AsyncSidecarClient:
    """The asyncio twin of :class:`SidecarClient`: same constructor, same methods (coroutines)."""

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
        self._options = channel_options(retries, options)
        self._token = TokenSource(token, token_file)
        self._timeout = timeout
        self._target = normalize_target(target)
        self._control_target = normalize_target(control_target) if control_target is not None else None
        self._authorizer: _Authorizer | None = None
        self._control: _Control | None = None
        self._closed = False

    async def __aenter__(self) -> AsyncSidecarClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        self._closed = True
        authorizer, control = self._authorizer, self._control
        self._authorizer = self._control = None
        if authorizer is not None:
            await authorizer.channel.close(None)
        if control is not None:
            await control.channel.close(None)

    def _authz(self) -> _Authorizer:
        if self._closed:
            raise ValueError("the client is closed")
        if self._authorizer is None:
            self._authorizer = _Authorizer(grpc.aio.insecure_channel(self._target, options=self._options))
        return self._authorizer

    def _ctl(self) -> _Control:
        if self._closed:
            raise ValueError("the client is closed")
        if self._control_target is None:
            raise ValueError("status() needs the Control service: pass control_target='host:port'")
        if self._control is None:
            self._control = _Control(grpc.aio.insecure_channel(self._control_target, options=self._options))
        return self._control

    async def _call(
        self,
        multi: grpc.aio.UnaryUnaryMultiCallable[Req, Resp],
        request: Req,
        timeout: Timeout,
        metadata: tuple[tuple[str, str], ...] | None = None,
    ) -> Resp:
        try:
            return await multi(request, timeout=resolve_timeout(timeout, self._timeout), metadata=metadata)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None

    async def authorize(
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
        resp = await self._call(self._authz().authorize, authorize_request_pb(req), timeout)
        return authorize_result(resp)

    async def is_allowed(
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
            result = await self.authorize(
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
            )
        except Exception as exc:
            log.debug("is_allowed: denying after error: %s", exc)
            return False
        return result.allowed

    async def authorize_batch(
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
        resp = await self._call(self._authz().authorize_batch, msg, timeout)
        return batch_result(resp)

    async def get_caller_identity(
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
        resp = await self._call(self._authz().get_caller_identity, msg, timeout)
        return caller_identity(resp)

    async def assume_role(
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
        resp = await self._call(self._authz().assume_role, msg, timeout)
        return assumed_role(resp)

    async def status(self, *, timeout: Timeout = DEFAULT) -> Status:
        """The serving snapshot and last error, from the Control service (needs the token)."""
        control = self._ctl()
        metadata = self._token.metadata()
        resp = await self._call(control.get_status, control_pb2.GetStatusRequest(), timeout, metadata)
        return status_result(resp)
