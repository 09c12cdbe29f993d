"""The command line's calls to a running sidecar (``push``, ``status``, ``health``,
``check --server``): plain synchronous gRPC stubs, one channel per command."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from .api.v1 import authorizer_pb2, authorizer_pb2_grpc, control_pb2, control_pb2_grpc

CHUNK_BYTES = 1024 * 1024


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
    with channel(target) as ch:
        stub = control_pb2_grpc.ControlStub(ch)
        try:
            response: control_pb2.PushSnapshotResponse = stub.PushSnapshot(
                snapshot_chunks(data, key), metadata=_bearer(token_file), timeout=timeout
            )
        except grpc.RpcError as err:
            raise RemoteError(err) from None
    return response


def status(target: str, token_file: Path, *, timeout: float = 10.0) -> control_pb2.SidecarStatus:
    with channel(target) as ch:
        try:
            response: control_pb2.SidecarStatus = control_pb2_grpc.ControlStub(ch).GetStatus(
                control_pb2.GetStatusRequest(), metadata=_bearer(token_file), timeout=timeout
            )
        except grpc.RpcError as err:
            raise RemoteError(err) from None
    return response


def health(target: str, service: str = "", *, timeout: float = 5.0) -> str:
    """The health status name (SERVING, NOT_SERVING, SERVICE_UNKNOWN)."""
    with channel(target) as ch:
        try:
            response = health_pb2_grpc.HealthStub(ch).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout
            )
        except grpc.RpcError as err:
            raise RemoteError(err) from None
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
    with channel(target) as ch:
        try:
            response: authorizer_pb2.AuthorizeResponse = authorizer_pb2_grpc.AuthorizerStub(ch).Authorize(
                request, timeout=timeout
            )
        except grpc.RpcError as err:
            raise RemoteError(err) from None
    return response
