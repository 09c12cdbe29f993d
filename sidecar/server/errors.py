"""Typed request errors of the server room and how they become gRPC statuses.

Every refusal carries a ``google.rpc.ErrorInfo`` detail: ``reason`` is the IAM/STS-style code
(the vocabulary of API.md), ``domain`` is ``iam-sidecar``, and ``metadata["field"]`` names the
request field at fault when there is one — so a client can act on it without parsing text.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

DOMAIN = "iam-sidecar"

# ErrorInfo reasons (IAM/STS vocabulary plus the sidecar's own).
INVALID_ARGUMENT = "InvalidArgument"
VALIDATION_ERROR = "ValidationError"
ACCESS_DENIED = "AccessDenied"
NO_SNAPSHOT = "NoSnapshot"
SNAPSHOT_TOO_OLD = "SnapshotVersionNotReached"
MISSING_TOKEN = "MissingAuthenticationToken"
INVALID_TOKEN = "InvalidToken"
INVALID_SIGNATURE = "InvalidSignature"
NOT_IMPLEMENTED = "NotImplemented"
INTERNAL = "InternalFailure"


class RequestError(Exception):
    """A call the server refuses: a gRPC code, an ErrorInfo reason, a message, and the field."""

    def __init__(self, code: grpc.StatusCode, reason: str, message: str, field: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.field = field

    def status(self) -> grpc.Status:
        info = error_details_pb2.ErrorInfo(reason=self.reason, domain=DOMAIN)
        if self.field:
            info.metadata["field"] = self.field
        detail = any_pb2.Any()
        detail.Pack(info)
        return rpc_status.to_status(
            status_pb2.Status(code=self.code.value[0], message=self.message, details=[detail])
        )

    async def abort(self, context: grpc.aio.ServicerContext) -> None:  # type: ignore[type-arg]
        """End the call with this error (raises, as ``context.abort`` does)."""
        status = self.status()
        await context.abort(status.code, status.details, status.trailing_metadata)


def invalid(field: str, message: str, reason: str = INVALID_ARGUMENT) -> RequestError:
    return RequestError(grpc.StatusCode.INVALID_ARGUMENT, reason, f"{field}: {message}", field)


# STS error codes → gRPC statuses (API.md).
_STS_STATUS = {
    "AccessDenied": grpc.StatusCode.PERMISSION_DENIED,
    "ValidationError": grpc.StatusCode.INVALID_ARGUMENT,
    "MalformedPolicyDocument": grpc.StatusCode.INVALID_ARGUMENT,
    "PackedPolicyTooLarge": grpc.StatusCode.INVALID_ARGUMENT,
    "InvalidParameterValue": grpc.StatusCode.INVALID_ARGUMENT,
    "ExpiredToken": grpc.StatusCode.UNAUTHENTICATED,
    "InvalidClientTokenId": grpc.StatusCode.UNAUTHENTICATED,
    "SignatureDoesNotMatch": grpc.StatusCode.UNAUTHENTICATED,
    "MissingAuthenticationToken": grpc.StatusCode.UNAUTHENTICATED,
}


def from_sts(code: str, message: str, field: str = "", prefix: str = "") -> RequestError:
    """An STS refusal as a request error; ``prefix`` names the request in a batch."""
    status = _STS_STATUS.get(code, grpc.StatusCode.INTERNAL)
    where = f"{prefix}{field}" if field else ""
    return RequestError(status, code, f"{where}: {message}" if where else message, where)
