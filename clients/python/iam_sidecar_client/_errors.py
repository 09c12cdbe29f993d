"""Errors: every gRPC failure becomes a :class:`SidecarError` carrying the status code and the
server's ``google.rpc.ErrorInfo`` (an IAM/STS-style ``reason`` and the request ``field`` at fault)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2

_DETAILS_KEY = "grpc-status-details-bin"


class SidecarError(Exception):
    """A failed call. ``code`` is the gRPC status code, ``reason`` the IAM/STS-style code from
    the server's ErrorInfo (``AccessDenied``, ``ValidationError``, ...; "" when none),
    ``field`` the request field at fault ("" when none), ``metadata`` all ErrorInfo metadata."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        reason: str = "",
        field: str = "",
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason
        self.field = field
        self.metadata: dict[str, str] = dict(metadata or {})

    def __str__(self) -> str:
        head = f"{self.reason} ({self.code.name})" if self.reason else self.code.name
        tail = f" [field: {self.field}]" if self.field else ""
        return f"{head}: {self.message}{tail}" if self.message else head + tail

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code.name}, reason={self.reason!r}, "
            f"field={self.field!r}, message={self.message!r})"
        )


class InvalidArgumentError(SidecarError):
    """INVALID_ARGUMENT: the request is malformed (see ``field``)."""


class UnauthenticatedError(SidecarError):
    """UNAUTHENTICATED / PERMISSION_DENIED: bad credentials or control-plane token."""


class FailedPreconditionError(SidecarError):
    """FAILED_PRECONDITION: e.g. no snapshot as new as ``min_snapshot_version`` yet."""


class UnavailableError(SidecarError):
    """UNAVAILABLE / DEADLINE_EXCEEDED: the sidecar could not be reached in time."""


_CLASSES: dict[grpc.StatusCode, type[SidecarError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: UnauthenticatedError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: UnavailableError,
}


def make_error(
    code: grpc.StatusCode,
    message: str,
    *,
    reason: str = "",
    field: str = "",
    metadata: Mapping[str, str] | None = None,
) -> SidecarError:
    """The most specific SidecarError subclass for ``code``."""
    cls = _CLASSES.get(code, SidecarError)
    return cls(code, message, reason=reason, field=field, metadata=metadata)


def _error_info(trailing: Iterable[tuple[str, str | bytes]] | None) -> error_details_pb2.ErrorInfo | None:
    for key, value in trailing or ():
        if key != _DETAILS_KEY or not isinstance(value, bytes):
            continue
        try:
            status = status_pb2.Status.FromString(value)
        except DecodeError:
            return None
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                return info
    return None


def from_rpc_error(exc: grpc.RpcError) -> SidecarError:
    """Convert a (sync or aio) grpc.RpcError, reading the ErrorInfo from the trailing metadata."""
    call: Any = exc
    try:
        code = call.code()
        message = call.details() or ""
        trailing = call.trailing_metadata()
    except Exception:  # an RpcError that is not a Call: keep what we can
        code, message, trailing = None, str(exc), None
    if not isinstance(code, grpc.StatusCode):
        code = grpc.StatusCode.UNKNOWN
    info = _error_info(trailing)
    if info is None:
        return make_error(code, message)
    meta = {str(k): str(v) for k, v in info.metadata.items()}
    return make_error(code, message, reason=str(info.reason), field=meta.get("field", ""), metadata=meta)
