"""Decision cases in the neutral JSON-lines format: parse one, decide it, compare.

A case names the policy sets in force (identity, resource, boundary, SCP and RCP levels,
session), a request and the expected answer (``Allow``, ``ExplicitDeny``, ``ImplicitDeny``,
``Deny`` for either deny, or ``Invalid`` when a policy must be rejected). In this format only,
context keys given by the case override the keys derived from the principal. The resource
policy of a role ARN under an ``sts:`` trust action is read as a role trust policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..policy.document import Policy, PolicyKind, parse_policy
from ..policy.errors import PolicyValidationError, Problem
from .decision import Decision
from .evaluate import TRUST_ACTIONS, evaluate
from .policyset import EngineOptions, PolicyGroup, PolicySets
from .principal import Principal, PrincipalError
from .request import Request, normalize_context

EXPECTATIONS = frozenset({"Allow", "ExplicitDeny", "ImplicitDeny", "Deny", "Invalid"})


class CaseError(ValueError):
    """A case line that is not a well-formed case."""


@dataclass(frozen=True)
class CaseResult:
    case_id: str
    expected: str
    got: str
    reason: str
    problems: tuple[Problem, ...] = ()
    decision: Decision | None = None

    @property
    def passed(self) -> bool:
        if self.expected == "Deny":
            return self.got in ("ExplicitDeny", "ImplicitDeny")
        return self.expected == self.got


def _kind_for_resource_policy(request: Mapping[str, Any]) -> PolicyKind:
    action = str(request.get("action", "")).lower()
    resource = str(request.get("resource", ""))
    parts = resource.split(":", 5)
    is_role = len(parts) == 6 and parts[2] == "iam" and parts[5].startswith("role/")
    return PolicyKind.TRUST if action in TRUST_ACTIONS and is_role else PolicyKind.RESOURCE


def _policies(raw: Any, kind: PolicyKind, name: str, problems: list[Problem]) -> list[Policy]:
    if raw is None:
        return []
    docs = raw if isinstance(raw, list) else [raw]
    out = []
    for i, doc in enumerate(docs):
        label = f"{name}[{i}]" if isinstance(raw, list) else name
        try:
            out.append(parse_policy(doc, kind, name=label))
        except PolicyValidationError as exc:
            problems.extend(p.within(("policies", label)) for p in exc.errors)
    return out


def _principal(request: Mapping[str, Any]) -> Principal:
    who = request.get("principal")
    if who == "anonymous":
        return Principal.anonymous()
    if not isinstance(who, str):
        raise CaseError('request.principal must be an ARN or "anonymous"')
    context = request.get("context") or {}
    role_arn = next(
        (v for k, v in context.items() if k.lower() == "aws:principalarn" and isinstance(v, str)), ""
    )
    try:
        if ":assumed-role/" in who and role_arn:
            return Principal.from_arn(who, role_arn=role_arn)
        return Principal.from_arn(who)
    except PrincipalError as exc:
        raise CaseError(f"request.principal: {exc}") from exc


def run_case(
    case: Mapping[str, Any],
    *,
    now: float | None = None,
    options: EngineOptions | None = None,
    indexed: bool = True,
) -> CaseResult:
    """Decide one case. Malformed cases raise CaseError. ``indexed=False`` decides on the
    plain path (no action index), the reference of the differential tests."""
    if not isinstance(case, Mapping):
        raise CaseError("a case must be a JSON object")
    case_id = str(case.get("id", "?"))
    expected = case.get("expect")
    if expected not in EXPECTATIONS:
        raise CaseError(f"case {case_id}: expect must be one of {sorted(EXPECTATIONS)}")
    policies = case.get("policies", {})
    request = case.get("request")
    if not isinstance(policies, Mapping) or not isinstance(request, Mapping):
        raise CaseError(f"case {case_id}: policies and request must be objects")

    problems: list[Problem] = []
    identity = _policies(policies.get("identity"), PolicyKind.IDENTITY, "identity", problems)
    resource = _policies(policies.get("resource"), _kind_for_resource_policy(request), "resource", problems)
    boundary = _policies(policies.get("boundary"), PolicyKind.BOUNDARY, "boundary", problems)
    scps = _policies(policies.get("scp"), PolicyKind.SCP, "scp", problems)
    rcps = _policies(policies.get("rcp"), PolicyKind.RCP, "rcp", problems)
    session = _policies(policies.get("session"), PolicyKind.SESSION, "session", problems)
    if problems:
        return CaseResult(
            case_id, str(expected), "Invalid", "; ".join(str(p) for p in problems), tuple(problems)
        )

    def group(policies: list[Policy]) -> PolicyGroup:
        return PolicyGroup(policies, indexed=indexed)

    sets = PolicySets(
        identity=group(identity),
        resource=group(resource) if resource else None,
        boundary=group(boundary) if boundary else None,
        scp_levels=tuple(group([p]) for p in scps),
        rcp_levels=tuple(group([p]) for p in rcps),
        session=group(session) if session else None,
        options=options or EngineOptions(),
    )
    action = request.get("action")
    resource_arn = request.get("resource", "*")
    if not isinstance(action, str) or not isinstance(resource_arn, str):
        raise CaseError(f"case {case_id}: request.action and request.resource must be strings")
    context = request.get("context") or {}
    if not isinstance(context, Mapping):
        raise CaseError(f"case {case_id}: request.context must be an object")
    req = Request(
        _principal(request),
        action,
        resource_arn,
        resource_account=str(request["resource_account"]) if request.get("resource_account") else None,
        context=normalize_context(context),
        normalized=True,
        explain=True,
    )
    decision = evaluate(req, sets, now)
    return CaseResult(case_id, str(expected), decision.kind.value, decision.reason, decision=decision)
