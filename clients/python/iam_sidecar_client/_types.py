"""Typed requests and results, and their conversion to and from the protobuf messages."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import grpc

from sidecar.api.v1 import authorizer_pb2, control_pb2

from ._errors import SidecarError

ContextInput = Mapping[str, str | Sequence[str]]


class Decision(enum.Enum):
    """The answer to an authorization question."""

    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"

    @property
    def allowed(self) -> bool:
        return self is Decision.ALLOW


_DECISIONS: dict[int, Decision] = {
    authorizer_pb2.DECISION_ALLOW: Decision.ALLOW,
    authorizer_pb2.DECISION_EXPLICIT_DENY: Decision.EXPLICIT_DENY,
    authorizer_pb2.DECISION_IMPLICIT_DENY: Decision.IMPLICIT_DENY,
}


@dataclass(frozen=True, slots=True)
class Credentials:
    """Long-term user keys (secret required) or an AssumeRole session (session token required)."""

    access_key_id: str
    secret_access_key: str = field(default="", repr=False)
    session_token: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class MatchedStatement:
    """A statement that decided (or contributed to) a decision."""

    policy_kind: str
    policy: str
    sid: str
    statement_index: int
    effect: str


@dataclass(frozen=True, slots=True)
class Explanation:
    matched_statements: tuple[MatchedStatement, ...]
    missing_context_keys: tuple[str, ...]
    reason: str
    decided_by: str


@dataclass(frozen=True, slots=True)
class AuthorizeResult:
    decision: Decision
    snapshot_version: int
    explanation: Explanation | None = None

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW


@dataclass(frozen=True, slots=True)
class BatchResult:
    """``results[i]`` answers ``requests[i]``; all were decided against ``snapshot_version``."""

    results: tuple[AuthorizeResult, ...]
    snapshot_version: int

    def __iter__(self) -> Iterator[AuthorizeResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, index: int) -> AuthorizeResult:
        return self.results[index]


@dataclass(frozen=True, slots=True)
class CallerIdentity:
    account: str
    arn: str
    user_id: str
    snapshot_version: int


@dataclass(frozen=True, slots=True)
class Status:
    """The control plane's view of the sidecar (``Control.GetStatus``)."""

    serving: bool
    version: int
    sha256: str
    loaded_at: datetime | None
    source: str
    compile_seconds: float
    counts: dict[str, int]
    last_error: str
    activation_id: int
    highest_version: int
    previous_version: int


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    """One authorization question. Exactly one of ``principal`` / ``credentials`` /
    ``anonymous`` identifies the caller. Context values: a ``str`` is a single value, a list or
    tuple is multivalued (even with one element). Invalid combinations raise ValueError."""

    principal: str | None = None
    action: str = ""
    resource: str = "*"
    context: ContextInput | None = None
    resource_account: str | None = None
    explain: bool = False
    min_snapshot_version: int = 0
    credentials: Credentials | None = None
    anonymous: bool = False

    def __post_init__(self) -> None:
        given = (self.principal is not None) + (self.credentials is not None) + bool(self.anonymous)
        if given != 1:
            raise ValueError("exactly one of principal, credentials or anonymous=True must be given")
        if self.principal is not None and not self.principal:
            raise ValueError("principal must be a non-empty ARN")
        if self.credentials is not None and not self.credentials.access_key_id:
            raise ValueError("credentials.access_key_id must be non-empty")
        if not self.action:
            raise ValueError("action is required (e.g. 's3:GetObject')")
        if not self.resource:
            raise ValueError("resource must be an ARN or '*'")
        if self.min_snapshot_version < 0:
            raise ValueError("min_snapshot_version must be >= 0")


def caller_pb(
    principal: str | None, credentials: Credentials | None, anonymous: bool = False
) -> authorizer_pb2.Caller:
    if principal is not None:
        return authorizer_pb2.Caller(principal_arn=principal)
    if credentials is not None:
        return authorizer_pb2.Caller(
            credentials=authorizer_pb2.Credentials(
                access_key_id=credentials.access_key_id,
                secret_access_key=credentials.secret_access_key,
                session_token=credentials.session_token,
            )
        )
    if anonymous:
        return authorizer_pb2.Caller(anonymous=True)
    raise ValueError("exactly one of principal, credentials or anonymous=True must be given")


def context_value_pb(key: str, value: str | Sequence[str]) -> authorizer_pb2.ContextValue:
    if isinstance(value, str):
        return authorizer_pb2.ContextValue(string_value=value)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return authorizer_pb2.ContextValue(string_list=authorizer_pb2.StringList(values=value))
    raise TypeError(f"context[{key!r}] must be a str or a list/tuple of str, not {type(value).__name__}")


def authorize_request_pb(req: AuthorizeRequest) -> authorizer_pb2.AuthorizeRequest:
    msg = authorizer_pb2.AuthorizeRequest(
        caller=caller_pb(req.principal, req.credentials, req.anonymous),
        action=req.action,
        resource=req.resource,
        resource_account=req.resource_account or "",
        explain=req.explain,
        min_snapshot_version=req.min_snapshot_version,
    )
    if req.context:
        for key, value in req.context.items():
            if not isinstance(key, str):
                raise TypeError(f"context keys must be str, not {type(key).__name__}")
            msg.context[key].CopyFrom(context_value_pb(key, value))
    return msg


def authorize_result(msg: authorizer_pb2.AuthorizeResponse) -> AuthorizeResult:
    decision = _DECISIONS.get(msg.decision)
    if decision is None:
        raise SidecarError(
            grpc.StatusCode.UNKNOWN, f"the sidecar answered without a decision ({msg.decision})"
        )
    explanation = None
    if msg.HasField("explanation"):
        ex = msg.explanation
        explanation = Explanation(
            matched_statements=tuple(
                MatchedStatement(m.policy_kind, m.policy, m.sid, m.statement_index, m.effect)
                for m in ex.matched_statements
            ),
            missing_context_keys=tuple(ex.missing_context_keys),
            reason=ex.reason,
            decided_by=ex.decided_by,
        )
    return AuthorizeResult(decision, msg.snapshot_version, explanation)


def batch_result(msg: authorizer_pb2.AuthorizeBatchResponse) -> BatchResult:
    return BatchResult(tuple(authorize_result(r) for r in msg.responses), msg.snapshot_version)


def caller_identity(msg: authorizer_pb2.GetCallerIdentityResponse) -> CallerIdentity:
    return CallerIdentity(msg.account, msg.arn, msg.user_id, msg.snapshot_version)


def status_result(msg: control_pb2.SidecarStatus) -> Status:
    loaded_at = None
    if msg.HasField("loaded_at") and (msg.loaded_at.seconds or msg.loaded_at.nanos):
        loaded_at = msg.loaded_at.ToDatetime(tzinfo=UTC)
    return Status(
        serving=msg.serving,
        version=msg.version,
        sha256=msg.sha256,
        loaded_at=loaded_at,
        source=msg.source,
        compile_seconds=msg.compile_seconds,
        counts=dict(msg.counts),
        last_error=msg.last_error,
        activation_id=msg.activation_id,
        highest_version=msg.highest_version,
        previous_version=msg.previous_version,
    )
