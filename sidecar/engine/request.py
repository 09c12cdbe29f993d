"""The question: principal, action, resource, resource owner and request context."""

from __future__ import annotations

from collections.abc import Mapping

from ..policy.arn import is_account_id
from ..policy.conditions import AMBIGUOUS
from .principal import Principal

ContextInput = Mapping[str, object]


def context_value(value: object) -> str | tuple[str, ...]:
    """A context value in engine form: ``str``, or a tuple for a multivalued key."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return tuple(context_value(v) for v in value)  # type: ignore[misc]
    return str(value)


def normalize_context(context: ContextInput) -> dict[str, object]:
    """Lower-case the keys (context keys ignore case) and freeze lists into tuples. A key
    given twice with different values in different case is marked ambiguous (§9 item 15)."""
    out: dict[str, object] = {}
    for key, value in context.items():
        low = key.lower()
        v = context_value(value)
        if low in out and out[low] != v:
            out[low] = AMBIGUOUS
        else:
            out[low] = v
    return out


_ResourceParts = tuple["tuple[str, str] | None", "str | None", "str | None", str]
_resource_memo: dict[str, _ResourceParts] = {}


def parse_resource(resource: str) -> _ResourceParts:
    """(split, normalised form, partition, account) of a resource ARN; memoised (bounded):
    requests name the same resources over and over."""
    hit = _resource_memo.get(resource)
    if hit is not None:
        return hit
    parts = resource.split(":", 5) if resource.startswith("arn:") else ()
    if len(parts) == 6:
        prefix = ":".join(parts[:5]).lower()
        account = parts[4] if is_account_id(parts[4]) else ""
        hit = ((prefix, parts[5]), prefix + ":" + parts[5], parts[1].lower(), account)
    else:
        hit = (None, None, None, "")
    if len(_resource_memo) >= 65536:
        _resource_memo.clear()
    _resource_memo[resource] = hit
    return hit


class Request:
    """One authorization question. ``context`` is already normalised (lower-case keys)."""

    __slots__ = (
        "action",
        "action_lower",
        "context",
        "explain",
        "owner",
        "partition",
        "principal",
        "resource",
        "resource_account",
        "resource_context",
        "resource_norm",
        "resource_split",
        "service",
    )

    def __init__(
        self,
        principal: Principal,
        action: str,
        resource: str,
        *,
        resource_account: str | None = None,
        context: ContextInput | None = None,
        explain: bool = False,
        normalized: bool = False,
        resource_context: Mapping[str, object] | None = None,
    ) -> None:
        self.principal = principal
        self.action = action
        self.action_lower = action.lower()
        self.service = self.action_lower.partition(":")[0]
        self.resource = resource
        self.resource_split, self.resource_norm, self.partition, arn_account = parse_resource(resource)
        self.resource_account = resource_account or None
        # Resource ownership: the given account, else the ARN's account, else the principal's
        # ("aws" in arn:aws:iam::aws:policy/… is AWS itself, not an account: no cross-account rule).
        self.owner: str = resource_account or arn_account or principal.account
        if context is None:
            self.context: Mapping[str, object] = {}
        elif normalized:
            self.context = context
        else:
            self.context = normalize_context(context)
        self.explain = explain
        # Resource keys the snapshot knows (aws:ResourceTag/*, aws:ResourceOrgID …), lower-case;
        # they take precedence over the caller's (API.md).
        self.resource_context = resource_context

    def owner_account(self) -> str:
        return self.owner

    def resource_partition(self) -> str | None:
        return self.partition
