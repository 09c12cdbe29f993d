"""The naive baseline: a straightforward IAM evaluator over plain policy dicts (ANCHORS §2 (d)).

It walks the caller's own statements in order, with ``fnmatch`` for actions and resources, and
implements only what the benchmark workload uses: identity-policy Allow/Deny, wildcard
Action/Resource, and the condition operators ``StringEquals``, ``IpAddress`` and
``NotIpAddress``. A matching Deny returns at once; otherwise any matching Allow allows. No
index, no compiling: the only caches are ``fnmatch``'s own pattern cache and two small LRU
caches for parsing IP text, as a plain script would have.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any

ALLOW = "Allow"
EXPLICIT_DENY = "ExplicitDeny"
IMPLICIT_DENY = "ImplicitDeny"


@lru_cache(maxsize=4096)
def _address(text: str) -> Any:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def _network(text: str) -> Any:
    return ipaddress.ip_network(text, strict=False)


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def conditions_hold(block: Mapping[str, Mapping[str, Any]], ctx: Mapping[str, str]) -> bool:
    """Every operator × key must hold; the values of one key OR (NOR for NotIpAddress).
    ``ctx`` has lower-case keys. A missing key fails a positive operator and satisfies
    ``NotIpAddress`` (IAM's rule for negated operators)."""
    for operator, entries in block.items():
        for key, raw in entries.items():
            value = ctx.get(key.lower())
            values = _as_list(raw)
            if operator == "StringEquals":
                if value is None or value not in values:
                    return False
            elif operator == "IpAddress":
                address = _address(value) if value is not None else None
                if address is None or not any(address in _network(v) for v in values):
                    return False
            elif operator == "NotIpAddress":
                if value is None:
                    continue
                address = _address(value)
                if address is None or any(address in _network(v) for v in values):
                    return False
            else:
                raise NotImplementedError(f"the naive baseline does not implement {operator}")
    return True


def _any_match(text: str, patterns: str | list[str]) -> bool:
    if isinstance(patterns, str):
        return fnmatchcase(text, patterns)
    for pattern in patterns:
        if fnmatchcase(text, pattern):
            return True
    return False


def evaluate(
    statements: Sequence[Mapping[str, Any]], action: str, resource: str, ctx: Mapping[str, str]
) -> str:
    """``Allow``, ``ExplicitDeny`` or ``ImplicitDeny`` for ``action`` on ``resource``. Actions
    compare as given: the workload's actions are lower-case in policies and requests alike."""
    allowed = False
    for st in statements:
        if not _any_match(action, st["Action"]) or not _any_match(resource, st["Resource"]):
            continue
        condition = st.get("Condition")
        if condition and not conditions_hold(condition, ctx):
            continue
        if st["Effect"] == "Deny":
            return EXPLICIT_DENY
        allowed = True
    return ALLOW if allowed else IMPLICIT_DENY


def from_document(doc: Mapping[str, Any]) -> dict[str, tuple[list[Mapping[str, Any]], dict[str, str]]]:
    """Per user ARN of a snapshot document (API.md): the statements of its groups' managed
    policies, in order, and its principal context (``aws:principaltag/…``, lower-case keys).
    Only what the benchmark workload uses: managed policies attached to groups, user tags."""
    out: dict[str, tuple[list[Mapping[str, Any]], dict[str, str]]] = {}
    for account in doc["accounts"]:
        prefix = f"arn:{doc.get('partition', 'aws')}:iam::{account['id']}:"
        documents = {
            f"{prefix}policy{p.get('path', '/')}{p['name']}": p["document"] for p in account["policies"]
        }
        groups = {g["name"]: g for g in account["groups"]}
        for user in account["users"]:
            statements: list[Mapping[str, Any]] = []
            for name in user.get("groups", ()):
                for arn in groups[name]["managed_policies"]:
                    statements.extend(_as_list(documents[arn]["Statement"]))  # type: ignore[arg-type]
            tags = {f"aws:principaltag/{k.lower()}": v for k, v in user.get("tags", {}).items()}
            out[f"{prefix}user{user.get('path', '/')}{user['name']}"] = (statements, tags)
    return out
