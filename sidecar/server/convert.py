"""Protobuf requests → engine questions, engine decisions → protobuf responses.

Validation happens here, once per request, with messages that name the field at fault
(``requests[3].context["aws:PrincipalTag/team"]``). Nothing here parses JSON or compiles
patterns: the checks are a few string tests and one precompiled regular expression.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from ..api.v1 import authorizer_pb2 as pb
from ..engine.compile import CompiledSnapshot, PrincipalEntry
from ..engine.decision import Decision, DecisionKind
from ..engine.policyset import PolicyGroup
from ..engine.principal import PrincipalError
from ..policy.arn import is_account_id
from .errors import invalid

# Principal and session keys: derived from the snapshot and the session, never from the
# caller (API.md). Lower case: context keys ignore case.
CALLER_FORBIDDEN_KEYS = frozenset(
    {
        "aws:principalarn",
        "aws:principalaccount",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:principaltype",
        "aws:principalisawsservice",
        "aws:principalservicename",
        "aws:principalservicenameslist",
        "aws:userid",
        "aws:username",
        "aws:multifactorauthpresent",
        "aws:multifactorauthage",
        "aws:tokenissuetime",
        "aws:sourceidentity",
        "aws:federatedprovider",
        "aws:assumedroot",
    }
)
CALLER_FORBIDDEN_PREFIXES = ("aws:principaltag/",)

# A request action: "service:Action". Service prefixes are lower-case letters, digits and
# hyphens; action names letters, digits, hyphens and underscores (no wildcards: a request
# names one action).
_ACTION = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*:[A-Za-z0-9][A-Za-z0-9_-]*")

DECISIONS = {
    DecisionKind.ALLOW: pb.DECISION_ALLOW,
    DecisionKind.EXPLICIT_DENY: pb.DECISION_EXPLICIT_DENY,
    DecisionKind.IMPLICIT_DENY: pb.DECISION_IMPLICIT_DENY,
}


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what one request may carry (oversize input is INVALID_ARGUMENT)."""

    max_context_keys: int = 256
    max_context_values: int = 1024  # across all keys of one request
    max_context_bytes: int = 64 * 1024  # keys and values, UTF-8 characters
    max_value_chars: int = 8192
    max_arn_chars: int = 2048
    max_batch: int = 10_000


DEFAULT_LIMITS = Limits()


class Question(NamedTuple):
    """A validated Authorize request in engine form. ``session``/``session_key``: a credential
    session's policies and identity; ``denied``: a reason to deny without deciding (a
    session whose role no longer exists)."""

    entry: PrincipalEntry
    action: str
    resource: str
    resource_account: str | None
    context: dict[str, object]
    explain: bool
    session: PolicyGroup | None = None
    session_key: str = ""
    denied: str = ""


Credentials = tuple[str, str, str]  # access key id, secret access key, session token


def parse_caller(caller: pb.Caller, field: str) -> tuple[str, Credentials | None]:
    """(principal ARN or ``"anonymous"``, None) or ("", credentials) — shapes only; the
    credentials are verified against the snapshot and the STS keyset later."""
    which = caller.WhichOneof("identity")
    if which == "principal_arn":
        arn = caller.principal_arn
        if not arn:
            raise invalid(f"{field}.principal_arn", "must not be empty")
        if not arn.startswith("arn:"):
            raise invalid(f"{field}.principal_arn", f"not a principal ARN: {arn[:128]!r}")
        return arn, None
    if which == "anonymous":
        if not caller.anonymous:
            raise invalid(f"{field}.anonymous", "must be true when set")
        return "anonymous", None
    if which == "credentials":
        c = caller.credentials
        if not c.access_key_id:
            raise invalid(f"{field}.credentials.access_key_id", "is required")
        if len(c.access_key_id) > 128 or len(c.secret_access_key) > 128 or len(c.session_token) > 16384:
            raise invalid(f"{field}.credentials", "a credential field is too long")
        if not c.session_token and not c.secret_access_key:
            raise invalid(
                f"{field}.credentials",
                "a long-term access key needs secret_access_key; a session needs session_token",
            )
        return "", (c.access_key_id, c.secret_access_key, c.session_token)
    raise invalid(field, "a caller is required: principal_arn, credentials or anonymous")


def resolve(compiled: CompiledSnapshot, arn: str, field: str) -> PrincipalEntry:
    try:
        return compiled.resolve_principal(arn)
    except PrincipalError as exc:
        raise invalid(field, str(exc)) from None


# Validated actions and resources (bounded): a sidecar sees the same few again and again, and
# a set lookup is cheaper than the checks.
_GOOD_ACTIONS: set[str] = set()
_GOOD_RESOURCES: set[str] = set()
_GOOD_LIMIT = 65536


def check_action(action: str, field: str) -> str:
    if action in _GOOD_ACTIONS:
        return action
    if not action:
        raise invalid(field, "is required (service:Action, e.g. s3:GetObject)")
    if len(action) > 256 or _ACTION.fullmatch(action) is None:
        if ":" not in action:
            raise invalid(
                field, f"{action[:128]!r} has no service prefix (service:Action, e.g. s3:GetObject)"
            )
        raise invalid(field, f"{action[:128]!r} is not an action name (service:Action, no wildcards)")
    if len(_GOOD_ACTIONS) >= _GOOD_LIMIT:
        _GOOD_ACTIONS.clear()
    _GOOD_ACTIONS.add(action)
    return action


def check_resource(resource: str, field: str, limits: Limits) -> str:
    if resource in _GOOD_RESOURCES or resource == "*":
        return resource
    if not resource:
        raise invalid(field, 'is required (an ARN, or "*")')
    if len(resource) > limits.max_arn_chars:
        raise invalid(field, f"is longer than {limits.max_arn_chars} characters")
    if not resource.startswith("arn:") or resource.count(":") < 5:
        raise invalid(
            field, f'{resource[:128]!r} is not an ARN (arn:partition:service:region:account:resource) or "*"'
        )
    if len(_GOOD_RESOURCES) >= _GOOD_LIMIT:
        _GOOD_RESOURCES.clear()
    _GOOD_RESOURCES.add(resource)
    return resource


def check_context(context: Mapping[str, pb.ContextValue], field: str, limits: Limits) -> dict[str, object]:
    """The request context in engine form (lower-case keys, tuples for lists)."""
    if not context:
        return {}
    if len(context) > limits.max_context_keys:
        raise invalid(field, f"has {len(context)} keys; at most {limits.max_context_keys} are allowed")
    out: dict[str, object] = {}
    values = 0
    size = 0
    for key in context:  # keys then indexing: the protobuf map's items() is a slow generic view
        value = context[key]
        low = key.lower()
        if ":" not in key or low in CALLER_FORBIDDEN_KEYS or low.startswith(CALLER_FORBIDDEN_PREFIXES):
            _bad_key(key, _keyed(field, key))
        which = value.WhichOneof("value")
        item: object
        if which == "string_value":
            item = text = value.string_value
            values += 1
            size += len(text)
            if len(text) > limits.max_value_chars:
                raise invalid(_keyed(field, key), f"value is longer than {limits.max_value_chars} characters")
        elif which == "string_list":
            items = tuple(value.string_list.values)
            values += len(items)
            for v in items:
                size += len(v)
                if len(v) > limits.max_value_chars:
                    raise invalid(
                        _keyed(field, key), f"a value is longer than {limits.max_value_chars} characters"
                    )
            item = items
        else:
            raise invalid(_keyed(field, key), "has no value (string_value or string_list)")
        size += len(key)
        if low in out and out[low] != item:
            raise invalid(
                _keyed(field, key), "is given twice with different values (context keys ignore case)"
            )
        out[low] = item
    if values > limits.max_context_values:
        raise invalid(field, f"carries {values} values; at most {limits.max_context_values} are allowed")
    if size > limits.max_context_bytes:
        raise invalid(field, f"is {size} characters; at most {limits.max_context_bytes} are allowed")
    return out


def _keyed(field: str, key: str) -> str:
    """``context["aws:SourceIp"]``: a map entry named as in JSON."""
    return f"{field}[{json.dumps(key, ensure_ascii=False)}]"


def _bad_key(key: str, where: str) -> None:
    if ":" not in key:
        raise invalid(where, "a context key has the form prefix:name (aws:SourceIp, s3:prefix, …)")
    raise invalid(
        where,
        f"{key} is a principal or session key; the sidecar derives it from the snapshot "
        "and the session and never takes it from the caller",
    )


class Parsed(NamedTuple):
    """An Authorize request whose fields are valid on their own (before any snapshot)."""

    arn: str  # "" when the caller presented credentials
    credentials: Credentials | None
    action: str
    resource: str
    resource_account: str | None
    context: dict[str, object]
    explain: bool


def parse(request: pb.AuthorizeRequest, prefix: str, limits: Limits) -> Parsed:
    """Check every field that needs no snapshot; ``prefix`` names the request in a batch.
    Runs before any version wait, so a malformed request is refused at once."""
    arn, credentials = parse_caller(request.caller, f"{prefix}caller")
    action = check_action(request.action, f"{prefix}action")
    resource = check_resource(request.resource, f"{prefix}resource", limits)
    account = request.resource_account or None
    if account is not None and not is_account_id(account):
        raise invalid(f"{prefix}resource_account", f"{account[:64]!r} is not a 12-digit account id")
    context = check_context(request.context, f"{prefix}context", limits)
    return Parsed(arn, credentials, action, resource, account, context, request.explain)


def fill_response(out: pb.AuthorizeResponse, decision: Decision, version: int, explain: bool) -> None:
    """Write ``decision`` into ``out`` (a new message, or a batch's ``responses.add()``: adding
    in place spares a copy per decision)."""
    out.decision = DECISIONS[decision.kind]
    out.snapshot_version = version
    if explain:
        ex = out.explanation
        ex.reason = decision.reason
        if decision.decided_by is not None:
            ex.decided_by = decision.decided_by.value
        ex.missing_context_keys.extend(decision.missing_keys)
        for m in decision.matched:
            ex.matched_statements.add(
                policy_kind=m.policy_kind.value,
                policy=m.policy,
                sid=m.sid or "",
                statement_index=m.index,
                effect=m.effect,
            )


def response(decision: Decision, version: int, explain: bool) -> pb.AuthorizeResponse:
    out = pb.AuthorizeResponse()
    fill_response(out, decision, version, explain)
    return out
