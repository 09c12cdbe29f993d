"""Typed requests and results, and their conversion to and from the protobuf messages."""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import grpc

from sidecar.api.v1 import authorizer_pb2, control_pb2

from ._errors import SidecarError

ContextInput = Mapping[str, str | Sequence[str]]
TagsInput = Mapping[str, str] | Sequence[tuple[str, str]]
PolicyInput = str | Mapping[str, Any]


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
class AssumedRole:
    """A role session from ``assume_role``. ``credentials`` can be passed as is to
    ``authorize(credentials=...)``, ``authorize_batch`` (in an AuthorizeRequest),
    ``get_caller_identity`` and ``assume_role`` (role chaining); they stop working at
    ``expiration`` (UTC). ``assumed_role_arn`` is ``arn:PARTITION:sts::ACCOUNT:assumed-role/
    ROLE/SESSION``, ``assumed_role_id`` ``AROA…:SESSION``; ``packed_policy_size`` is the
    percentage of the session policy and tag allowance used (0 without either);
    ``source_identity`` is None when the session has none."""

    credentials: Credentials
    expiration: datetime
    assumed_role_arn: str
    assumed_role_id: str
    packed_policy_size: int
    source_identity: str | None
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


def _fill_context(out: Any, context: ContextInput | None) -> None:
    """Copy ``context`` into a protobuf ``map<string, ContextValue>``."""
    if not context:
        return
    if not isinstance(context, Mapping):
        raise TypeError(f"context must be a mapping, not {type(context).__name__}")
    for key, value in context.items():
        if not isinstance(key, str):
            raise TypeError(f"context keys must be str, not {type(key).__name__}")
        out[key].CopyFrom(context_value_pb(key, value))


def authorize_request_pb(req: AuthorizeRequest) -> authorizer_pb2.AuthorizeRequest:
    msg = authorizer_pb2.AuthorizeRequest(
        caller=caller_pb(req.principal, req.credentials, req.anonymous),
        action=req.action,
        resource=req.resource,
        resource_account=req.resource_account or "",
        explain=req.explain,
        min_snapshot_version=req.min_snapshot_version,
    )
    _fill_context(msg.context, req.context)
    return msg


def _strings(name: str, values: Sequence[str]) -> list[str]:
    """A list of str from a list/tuple (a lone str is refused: it would be split into letters)."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a list or tuple of str, not {type(values).__name__}")
    out = list(values)
    for v in out:
        if not isinstance(v, str):
            raise TypeError(f"{name} must contain str, not {type(v).__name__}")
    return out


def _tag_pairs(tags: TagsInput) -> list[tuple[str, str]]:
    """Session tags from a mapping or from (key, value) pairs (pairs keep duplicates, so the
    sidecar can refuse keys that differ only in case)."""
    if isinstance(tags, Mapping):
        pairs: list[Any] = list(tags.items())
    elif isinstance(tags, str | bytes) or not isinstance(tags, Sequence):
        raise TypeError(f"tags must be a mapping or a list of (key, value) pairs, not {type(tags).__name__}")
    else:
        pairs = list(tags)
    out: list[tuple[str, str]] = []
    for pair in pairs:
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise TypeError(f"each tag must be a (key, value) pair, not {pair!r}")
        key, value = pair
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"tag keys and values must be str, not {pair!r}")
        out.append((key, value))
    return out


def assume_role_request_pb(
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
) -> authorizer_pb2.AssumeRoleRequest:
    """An AssumeRoleRequest; ValueError/TypeError for what is wrong before any call (the
    sidecar checks the rest: lengths, patterns, ranges)."""
    if (principal is None) == (credentials is None):
        raise ValueError("exactly one of principal or credentials must be given")
    if principal is not None and not principal:
        raise ValueError("principal must be a non-empty ARN")
    if credentials is not None and not credentials.access_key_id:
        raise ValueError("credentials.access_key_id must be non-empty")
    if not role_arn:
        raise ValueError("role_arn is required (arn:aws:iam::ACCOUNT:role/NAME)")
    if not role_session_name:
        raise ValueError("role_session_name is required")
    if duration_seconds is not None and (
        isinstance(duration_seconds, bool) or not isinstance(duration_seconds, int) or duration_seconds <= 0
    ):
        raise ValueError("duration_seconds must be a positive int (None: the default, 3,600 s)")
    if duration_seconds is not None and duration_seconds >= 1 << 32:
        raise ValueError("duration_seconds is too large")
    if min_snapshot_version < 0:
        raise ValueError("min_snapshot_version must be >= 0")
    if policy is not None and not isinstance(policy, str):
        if not isinstance(policy, Mapping):
            raise TypeError(f"policy must be JSON text or a mapping, not {type(policy).__name__}")
        policy = json.dumps(policy, separators=(",", ":"))
    if policy == "":
        raise ValueError("policy must not be empty (None: no session policy)")
    msg = authorizer_pb2.AssumeRoleRequest(
        caller=caller_pb(principal, credentials),
        role_arn=role_arn,
        role_session_name=role_session_name,
        duration_seconds=duration_seconds or 0,
        policy=policy or "",
        policy_arns=_strings("policy_arns", policy_arns),
        tags=[authorizer_pb2.Tag(key=k, value=v) for k, v in _tag_pairs(tags)],
        transitive_tag_keys=_strings("transitive_tag_keys", transitive_tag_keys),
        external_id=external_id or "",
        serial_number=serial_number or "",
        token_code=token_code or "",
        source_identity=source_identity or "",
        min_snapshot_version=min_snapshot_version,
    )
    _fill_context(msg.context, context)
    return msg


def assumed_role(msg: authorizer_pb2.AssumeRoleResponse) -> AssumedRole:
    c = msg.credentials
    if not c.access_key_id or not c.session_token:
        raise SidecarError(grpc.StatusCode.UNKNOWN, "the sidecar answered AssumeRole without credentials")
    return AssumedRole(
        credentials=Credentials(c.access_key_id, c.secret_access_key, c.session_token),
        expiration=c.expiration.ToDatetime(tzinfo=UTC),
        assumed_role_arn=msg.assumed_role_user.arn,
        assumed_role_id=msg.assumed_role_user.assumed_role_id,
        packed_policy_size=msg.packed_policy_size,
        source_identity=msg.source_identity or None,
        snapshot_version=msg.snapshot_version,
    )


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
