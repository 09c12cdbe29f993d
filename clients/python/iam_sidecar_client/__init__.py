"""Python client of the iam-sidecar: AWS IAM policy decisions over gRPC.

    from iam_sidecar_client import SidecarClient

    with SidecarClient("unix:/tmp/iam-sidecar/authz.sock") as client:
        if client.is_allowed("arn:aws:iam::222222222222:user/alice", "s3:GetObject",
                             "arn:aws:s3:::example-payments-data/report.csv"):
            ...

:class:`AsyncSidecarClient` has the same methods as coroutines (grpc.aio). ``assume_role()``
returns an :class:`AssumedRole` whose ``credentials`` are a caller for ``authorize()``.
"""

from ._aio import AsyncSidecarClient
from ._channel import DEFAULT_TARGET
from ._errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    SidecarError,
    UnauthenticatedError,
    UnavailableError,
)
from ._sync import SidecarClient
from ._types import (
    AssumedRole,
    AuthorizeRequest,
    AuthorizeResult,
    BatchResult,
    CallerIdentity,
    Credentials,
    Decision,
    Explanation,
    MatchedStatement,
    Status,
)

__all__ = [
    "DEFAULT_TARGET",
    "AssumedRole",
    "AsyncSidecarClient",
    "AuthorizeRequest",
    "AuthorizeResult",
    "BatchResult",
    "CallerIdentity",
    "Credentials",
    "Decision",
    "Explanation",
    "FailedPreconditionError",
    "InvalidArgumentError",
    "MatchedStatement",
    "SidecarClient",
    "SidecarError",
    "Status",
    "UnauthenticatedError",
    "UnavailableError",
]
