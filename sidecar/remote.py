"""The command line's calls to a running sidecar (``push``, ``status``, ``health``,
``check --server``): plain synchronous gRPC stubs, one channel per command."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from .api.v1 import authorizer_pb2, authorizer_pb2_grpc, control_pb2, control_pb2_grpc

CHUNK_BYTES = 1024 * 1024
T = TypeVar("T")


class RemoteError(Exception):
    """A failed call, said in one line: status code, ErrorInfo reason and field, message."""

    def __init__(self, err: grpc.RpcError) -> None:
        code = err.code() if isinstance(err, grpc.Call) else grpc.StatusCode.UNKNOWN
        message = err.details() if isinstance(err, grpc.Call) else str(err)
        reason = field = ""
        status = rpc_status.from_call(err) if isinstance(err, grpc.Call) else None
        details: list[Any] = list(status.details) if status is not None else []
        for detail in details:
            info = error_details_pb2.ErrorInfo()
            if detail.Unpack(info):
                reason, field = info.reason, info.metadata.get("field", "")
        self.code, self.reason, self.field, self.message = code, reason, field, message or ""
        super().__init__(f"{code.name}{f' ({reason})' if reason else ''}: {self.message}")


def channel(target: str) -> grpc.Channel:
    return grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)])


def _call(target: str, call: Callable[[grpc.Channel], T]) -> T:
    """One call on a fresh channel; a gRPC error becomes a :class:`RemoteError`."""
    with channel(target) as ch:
        try:
            return call(ch)
        except grpc.RpcError as err:
            raise RemoteError(err) from None


def _bearer(token_file: Path) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token_file.read_text().strip()}")]


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """An Ed25519 private key: PEM (PKCS#8) or 32 raw bytes."""
    data = path.read_bytes()
    if len(data) == 32:
        return Ed25519PrivateKey.from_private_bytes(data)
    key = load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: the signing key must be Ed25519")
    return key


def snapshot_chunks(
    data: bytes, signing_key: Ed25519PrivateKey | None
) -> Iterator[control_pb2.SnapshotChunk]:
    try:
        version = int(json.loads(data).get("version", 0))
    except (ValueError, AttributeError, TypeError):
        version = 0  # let the server report what is wrong with the document
    header = control_pb2.SnapshotHeader(
        version=max(version, 0), sha256=hashlib.sha256(data).hexdigest(), format="json"
    )
    if signing_key is not None:
        header.signature = signing_key.sign(data)
    yield control_pb2.SnapshotChunk(header=header)
    for start in range(0, len(data), CHUNK_BYTES):
        yield control_pb2.SnapshotChunk(data=data[start : start + CHUNK_BYTES])


def push(
    target: str, data: bytes, token_file: Path, *, signing_key: Path | None = None, timeout: float = 120.0
) -> control_pb2.PushSnapshotResponse:
    key = load_signing_key(signing_key) if signing_key is not None else None
    metadata = _bearer(token_file)
    return _call(
        target,
        lambda ch: control_pb2_grpc.ControlStub(ch).PushSnapshot(
            snapshot_chunks(data, key), metadata=metadata, timeout=timeout
        ),
    )


def status(target: str, token_file: Path, *, timeout: float = 10.0) -> control_pb2.SidecarStatus:
    metadata = _bearer(token_file)
    return _call(
        target,
        lambda ch: control_pb2_grpc.ControlStub(ch).GetStatus(
            control_pb2.GetStatusRequest(), metadata=metadata, timeout=timeout
        ),
    )


def health(target: str, service: str = "", *, timeout: float = 5.0) -> str:
    """The health status name (SERVING, NOT_SERVING, SERVICE_UNKNOWN)."""
    response = _call(
        target,
        lambda ch: health_pb2_grpc.HealthStub(ch).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=timeout
        ),
    )
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))


def authorize(
    target: str,
    principal: str,
    action: str,
    resource: str,
    *,
    resource_account: str | None = None,
    context: Mapping[str, str | list[str]] | None = None,
    explain: bool = False,
    min_snapshot_version: int = 0,
    timeout: float = 10.0,
) -> authorizer_pb2.AuthorizeResponse:
    request = authorizer_pb2.AuthorizeRequest(
        action=action,
        resource=resource,
        resource_account=resource_account or "",
        explain=explain,
        min_snapshot_version=min_snapshot_version,
    )
    if principal == "anonymous":
        request.caller.anonymous = True
    else:
        request.caller.principal_arn = principal
    for key, value in (context or {}).items():
        if isinstance(value, list):
            request.context[key].string_list.values.extend(value)
        else:
            request.context[key].string_value = value
    return _call(
        target, lambda ch: authorizer_pb2_grpc.AuthorizerStub(ch).Authorize(request, timeout=timeout)
    )


def assume_role(
    target: str,
    *,
    principal: str | None,
    credentials: tuple[str, str, str] | None,
    role_arn: str,
    role_session_name: str,
    duration_seconds: int = 0,
    policy: str | None = None,
    policy_arns: list[str] | None = None,
    tags: list[tuple[str, str]] | None = None,
    transitive_tag_keys: list[str] | None = None,
    external_id: str | None = None,
    serial_number: str | None = None,
    token_code: str | None = None,
    source_identity: str | None = None,
    timeout: float = 10.0,
) -> authorizer_pb2.AssumeRoleResponse:
    request = authorizer_pb2.AssumeRoleRequest(
        role_arn=role_arn,
        role_session_name=role_session_name,
        duration_seconds=duration_seconds,
        policy=policy or "",
        policy_arns=policy_arns or [],
        transitive_tag_keys=transitive_tag_keys or [],
        external_id=external_id or "",
        serial_number=serial_number or "",
        token_code=token_code or "",
        source_identity=source_identity or "",
    )
    for key, value in tags or []:
        request.tags.add(key=key, value=value)
    if credentials is not None:
        c = request.caller.credentials
        c.access_key_id, c.secret_access_key, c.session_token = credentials
    elif principal == "anonymous":
        request.caller.anonymous = True
    else:
        request.caller.principal_arn = principal or ""
    return _call(
        target, lambda ch: authorizer_pb2_grpc.AuthorizerStub(ch).AssumeRole(request, timeout=timeout)
    )
