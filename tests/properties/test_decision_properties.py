"""Property-based tests of the decision engine against the reference
(/work/shared/reference/iam-semantics.md, §2–§5, §9).

Every property names, in its docstring, the reference's exceptions to it. Policies come from the
small vocabulary of :mod:`strategies`, aimed at the request so that statements really match.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import assume, event, example, given
from hypothesis import strategies as st

from sidecar.engine import (
    Decision,
    DecisionKind,
    PolicyGroup,
    PolicySets,
    Principal,
    PrincipalKind,
    Request,
    evaluate,
)
from sidecar.engine.policyset import DEFAULT_RCP_SERVICES
from sidecar.policy import PolicyKind, parse_policy

from .strategies import (
    ACCOUNT_A,
    ACCOUNT_B,
    AUTHENTICATED_KINDS,
    BOUNDARY_KINDS,
    CONTEXT_KEYS,
    CONTEXT_VALUES,
    NARROW_SETTINGS,
    NOW,
    PRINCIPAL_ARNS,
    PROPERTY_SETTINGS,
    REQUEST_ACTIONS,
    REQUEST_RESOURCES,
    ROLE_SESSION_KINDS,
    SESSION_KINDS,
    USER_A,
    PrincipalSpec,
    RequestSpec,
    Scenario,
    case_variants,
    condition_blocks,
    policy_docs,
    principal_specs,
    request_specs,
    scenarios,
    statements,
    unconditional_deny,
    vary_case,
)

ALLOW = DecisionKind.ALLOW
EXPLICIT = DecisionKind.EXPLICIT_DENY
IMPLICIT = DecisionKind.IMPLICIT_DENY


def _label(decision: Decision) -> None:
    event(f"baseline {decision.kind.value}")


def _is_get_caller_identity(req: RequestSpec) -> bool:
    return req.action.lower() == "sts:getcalleridentity"


def _targets(req: RequestSpec, scen: Scenario) -> list[tuple[str, int]]:
    """Where a statement may be added for ``req``: (set, index) pairs of the sets that apply
    to its principal (§3.2). Indexes past the end mean a new policy or a new level."""
    kind = req.principal.kind
    out: list[tuple[str, int]] = [("resource", 0)]
    if kind in AUTHENTICATED_KINDS and kind is not PrincipalKind.ROOT:
        out += [("identity", i) for i in range(len(scen.identity) + 1)]
    if kind in BOUNDARY_KINDS:
        out.append(("boundary", 0))
    if kind in SESSION_KINDS:
        out.append(("session", 0))
    if kind in AUTHENTICATED_KINDS:
        out += [("scp", i) for i in range(len(scen.scp_levels) + 1)]
    if req.service in DEFAULT_RCP_SERVICES:
        out += [("rcp", i) for i in range(len(scen.rcp_levels) + 1)]
    return out


def _kind_of(where: str) -> PolicyKind:
    return {
        "identity": PolicyKind.IDENTITY,
        "resource": PolicyKind.RESOURCE,
        "boundary": PolicyKind.BOUNDARY,
        "session": PolicyKind.SESSION,
        "scp": PolicyKind.SCP,
        "rcp": PolicyKind.RCP,
    }[where]


# --- 1. explicit deny overrides --------------------------------------------------------------


@PROPERTY_SETTINGS
@given(st.data())
def test_unconditional_deny_in_any_applicable_set_is_explicit_deny(data: st.DataObject) -> None:
    """Adding, to any policy set that applies to the request, a Deny statement that matches it
    unconditionally makes the decision ExplicitDeny (§3.3 step 2): identity policies
    (authenticated non-root principals), boundary (users, roles), session policies (sessions),
    any SCP level (authenticated principals), any RCP level (services under RCPs), and the
    resource policy with a Principal / NotPrincipal that covers the requester. (No vocabulary
    principal is a service-linked role, which SCPs and RCPs skip, §3.2.)

    Exception (§3.3 step 1): ``sts:GetCallerIdentity`` by an authenticated principal stays Allow.
    """
    req = data.draw(request_specs(), label="request")
    scen = data.draw(scenarios(req), label="scenario")
    where, index = data.draw(st.sampled_from(_targets(req, scen)), label="target")
    deny = data.draw(unconditional_deny(req, _kind_of(where)), label="deny")
    _label(scen.decide(req))

    after = scen.add(where, deny, index).decide(req)

    if _is_get_caller_identity(req) and req.principal.authenticated:
        assert after.kind is ALLOW, after.reason
    else:
        assert after.kind is EXPLICIT, after.reason
        assert after.error is None


@pytest.mark.parametrize("where", ["identity", "session", "scp", "resource"])
def test_get_caller_identity_ignores_explicit_denies(where: str) -> None:
    """§3.3 step 1: sts:GetCallerIdentity is allowed even against explicit denies."""
    req = RequestSpec(
        PrincipalSpec(f"arn:aws:sts::{ACCOUNT_A}:assumed-role/app/s1"), "sts:GetCallerIdentity", "*"
    )
    deny: dict[str, Any] = {"Effect": "Deny", "Action": "*", "Resource": "*"}
    if where == "resource":
        deny["Principal"] = "*"
    assert Scenario().add(where, deny).decide(req).kind is ALLOW
    anonymous = RequestSpec(PrincipalSpec(None), "sts:GetCallerIdentity", "*")
    assert Scenario().add("resource", {**deny, "Principal": "*"}).decide(anonymous).kind is EXPLICIT


# --- 2. adding an Allow never takes access away -----------------------------------------------


@PROPERTY_SETTINGS
@given(st.data())
def test_adding_an_allow_never_turns_allow_into_deny(data: st.DataObject) -> None:
    """Adding an Allow statement to the identity policies (an existing or a new policy), the
    resource policy (creating it when absent), an existing SCP level, or an existing boundary or
    session policy never turns an Allow into a Deny, and never lifts an ExplicitDeny.

    Not "adding an Allow": creating a boundary, a session policy or an SCP level where there was
    none — a new set or level holding one Allow narrows access to that Allow (§3.3 steps 4, 7,
    8); those are properties 4 and 5. RCPs are excluded: an RCP may not Allow (§1.6 item 7a).
    No exception in the reference."""
    req = data.draw(request_specs(), label="request")
    scen = data.draw(scenarios(req), label="scenario")
    where_pool = [("identity", 0), ("identity", len(scen.identity)), ("resource", 0)]
    where_pool += [("scp", i) for i in range(len(scen.scp_levels))]  # existing levels only
    where_pool += [(w, 0) for w in ("boundary", "session") if getattr(scen, w) is not None]
    where, index = data.draw(st.sampled_from(where_pool), label="target")
    allow = data.draw(statements(_kind_of(where), effect="Allow", req=req), label="allow")
    before = scen.decide(req)
    _label(before)

    after = scen.add(where, allow, index).decide(req)

    if before.kind is ALLOW:
        assert after.kind is ALLOW, after.reason
    if before.kind is EXPLICIT:
        assert after.kind is EXPLICIT, after.reason


# --- 3. adding a Deny never grants access -----------------------------------------------------


@PROPERTY_SETTINGS
@given(st.data())
def test_adding_a_deny_never_turns_deny_into_allow(data: st.DataObject) -> None:
    """Adding a Deny statement (conditional or not, Action or NotAction, Resource or
    NotResource, Principal or NotPrincipal) anywhere — identity, resource, boundary, session,
    any SCP or RCP level, creating the set when it is absent — never turns a Deny into an
    Allow. No exception in the reference (a Deny statement only ever adds denies; a new
    boundary, session policy or SCP level holding only a Deny allows nothing)."""
    req = data.draw(request_specs(), label="request")
    scen = data.draw(scenarios(req), label="scenario")
    where = data.draw(st.sampled_from(["identity", "resource", "boundary", "session", "scp", "rcp"]))
    index = data.draw(st.integers(0, 2), label="index")
    deny = data.draw(statements(_kind_of(where), effect="Deny", req=req), label="deny")
    before = scen.decide(req)
    _label(before)

    after = scen.add(where, deny, index).decide(req)

    if before.kind is not ALLOW:
        assert after.kind is not ALLOW, after.reason
    if before.kind is EXPLICIT:
        assert after.kind is EXPLICIT


# --- 4. boundaries, SCP and RCP levels only narrow --------------------------------------------


@PROPERTY_SETTINGS
@given(st.data())
def test_boundary_scp_and_rcp_levels_never_widen(data: st.DataObject) -> None:
    """Attaching a permissions boundary where there was none (§3.3 step 7), adding an SCP level
    (step 4: every level must allow) or an RCP level (step 3: only Denies bite) never widens
    access: a Deny stays a Deny, an ExplicitDeny stays explicit. Note §2.4's boundary quirk
    (a NotPrincipal Deny always hits a principal with a boundary) only narrows further.
    No exception in the reference."""
    req = data.draw(request_specs(), label="request")
    scen = data.draw(scenarios(req), label="scenario")
    what = data.draw(st.sampled_from(["boundary", "scp", "rcp"]), label="what")
    if what == "boundary":
        scen = replace(scen, boundary=None)
        doc = data.draw(policy_docs(PolicyKind.BOUNDARY, req), label="boundary")
        changed = replace(scen, boundary=doc)
    elif what == "scp":
        doc = data.draw(policy_docs(PolicyKind.SCP, req), label="scp level")
        position = data.draw(st.integers(0, len(scen.scp_levels)), label="position")
        levels = list(scen.scp_levels)
        levels.insert(position, doc)
        changed = replace(scen, scp_levels=tuple(levels))
    else:
        doc = data.draw(policy_docs(PolicyKind.RCP, req, max_statements=2), label="rcp level")
        changed = replace(scen, rcp_levels=(*scen.rcp_levels, doc))
    before = scen.decide(req)
    _label(before)

    after = changed.decide(req)

    if before.kind is not ALLOW:
        assert after.kind is not ALLOW, after.reason
    if before.kind is EXPLICIT:
        assert after.kind is EXPLICIT


# --- 5. session policies ----------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(st.data())
def test_session_policy_never_widens_a_role_session(data: st.DataObject) -> None:
    """Passing session policies to a role session that had none never widens it (§3.3 step 8,
    §7.5: "Session policies never add permissions").

    Documented exception, not tested here: a federated-user session WITHOUT session policies has
    no permissions at all (§3.3 step 8), so giving a federated user a session policy may widen
    its access — see the two federated tests below."""
    req = data.draw(request_specs(kinds=ROLE_SESSION_KINDS), label="request")
    scen = data.draw(scenarios(req), label="scenario")
    scen = replace(scen, session=None)
    doc = data.draw(policy_docs(PolicyKind.SESSION, req), label="session policy")
    before = scen.decide(req)
    _label(before)

    after = replace(scen, session=doc).decide(req)

    if before.kind is not ALLOW:
        assert after.kind is not ALLOW, after.reason
    if before.kind is EXPLICIT:
        assert after.kind is EXPLICIT


@NARROW_SETTINGS
@given(st.data())
def test_federated_session_without_session_policy_gets_nothing_from_identity(data: st.DataObject) -> None:
    """A federated-user session created without session policies has no permissions (§3.3
    step 8), whatever the identity policies, boundary and SCPs say — unless a resource policy
    grants it (excluded here: no resource policy). Exception (§3.3 step 1):
    sts:GetCallerIdentity is always allowed."""
    req = data.draw(request_specs(kinds=frozenset({PrincipalKind.FEDERATED_USER})), label="request")
    scen = data.draw(scenarios(req), label="scenario")
    scen = replace(scen, session=None, resource=None)
    decision = scen.decide(req)
    if _is_get_caller_identity(req):
        assert decision.kind is ALLOW
    else:
        assert decision.kind is not ALLOW, decision.reason


def test_session_policy_may_widen_a_federated_user() -> None:
    """The documented exception to property 5: the same identity policy gives a federated
    user nothing without a session policy and access with one (§3.3 step 8)."""
    req = RequestSpec(PrincipalSpec(f"arn:aws:sts::{ACCOUNT_A}:federated-user/fed"), "s3:GetObject", "*")
    allow = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    without = Scenario().add("identity", allow)
    assert without.decide(req).kind is IMPLICIT
    assert without.add("session", allow).decide(req).kind is ALLOW


# --- 7. random requests never crash, and decide deterministically -----------------------------

_weird_text = st.text(max_size=30)
_weird_keys = st.one_of(
    st.sampled_from(CONTEXT_KEYS).flatmap(lambda k: st.sampled_from([k, k.upper(), k.lower()])),
    _weird_text,
    st.sampled_from(["", " ", "aws:", "${aws:username}", "aws:PrincipalTag/", "\x00", "é"]),
)
_well_formed_values = st.one_of(
    _weird_text,
    st.sampled_from(["", "true", "10.0.0.1", "2024-01-01T00:00:00Z", "-1.5", "٣", "1" * 50]),
    st.lists(_weird_text, max_size=3),
    st.booleans(),
    st.integers(),
)
_weird_values = st.one_of(
    _well_formed_values,
    st.none(),
    st.floats(),
    st.recursive(st.text(max_size=5), lambda c: st.lists(c, max_size=3), max_leaves=6),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)
_weird_actions = st.one_of(
    st.sampled_from(REQUEST_ACTIONS),
    _weird_text,
    st.sampled_from(["", ":", "s3:", ":GetObject", "*", "s3:*", "S3:GETOBJECT", "sts:getcalleridentity"]),
)
_weird_resources = st.one_of(
    st.sampled_from(REQUEST_RESOURCES),
    _weird_text,
    _weird_text.map(lambda t: "arn:" + t),
    st.lists(_weird_text.filter(lambda t: ":" not in t), min_size=5, max_size=7).map(
        lambda parts: "arn:" + ":".join(parts)
    ),
    st.sampled_from(["", "arn:", "arn:aws:s3", "arn:aws:s3:::", "arn:aws:iam::111111111111:role/", "ARN:x"]),
)


def _has_case_duplicates(context: dict[str, Any]) -> bool:
    lowered = [k.lower() for k in context]
    return len(lowered) != len(set(lowered))


@PROPERTY_SETTINGS
@given(
    data=st.data(),
    principal=principal_specs(),
    action=_weird_actions,
    resource=_weird_resources,
    resource_account=st.one_of(st.none(), st.sampled_from([ACCOUNT_A, ACCOUNT_B, ""]), _weird_text),
    well_formed=st.booleans(),
)
def test_random_requests_never_crash_and_are_deterministic(
    data: st.DataObject,
    principal: PrincipalSpec,
    action: str,
    resource: str,
    resource_account: str | None,
    well_formed: bool,
) -> None:
    """Random requests (random action and resource strings, non-ARNs, weird context keys,
    case-variant duplicate keys, list values) never make ``evaluate`` raise; the decision is
    one of the three kinds; the same input decided twice — with a warm or a fresh statement
    index — gives the same answer.

    With a well-formed context (string, number, boolean or list-of-strings values) the only
    permitted evaluation error is the documented one: a key given in two case variants (§9
    item 15). With malformed values (nested lists, objects, None) an internal error may occur
    but must deny (§3.3 step 9)."""
    values = _well_formed_values if well_formed else _weird_values
    context = data.draw(st.dictionaries(_weird_keys, values, max_size=6), label="context")
    req = RequestSpec(principal, action, resource, resource_account, context)
    scen = data.draw(scenarios(), label="scenario")
    sets = scen.build()

    first = evaluate(req.build(), sets, NOW)
    other = RequestSpec(principal, "s3:GetObject", "arn:aws:s3:::bucket-a/key1")
    evaluate(other.build(), sets, NOW)  # warm the per-action index with something else
    second = evaluate(req.build(), sets, NOW)
    fresh = evaluate(req.build(), scen.build(), NOW)

    assert isinstance(first, Decision)
    assert first.kind in (ALLOW, EXPLICIT, IMPLICIT)
    assert first.kind is second.kind is fresh.kind
    assert first.reason == second.reason == fresh.reason
    if first.error is not None:
        assert first.kind is not ALLOW
        event("evaluation error")
        if well_formed:
            assert _has_case_duplicates(context), first.error
            assert "case variants" in first.error


# --- 8. fail closed ----------------------------------------------------------------------------


def _ambiguous(key: str, value: Any, rnd: random.Random) -> dict[str, Any]:
    """``key`` given twice, in two case spellings, with different values."""
    other = vary_case(key, rnd)
    if other == key:
        other = key.upper()
    if other == key:  # pragma: no cover - every vocabulary key has letters
        raise AssertionError(key)
    second: Any = [*value, "zz"] if isinstance(value, list) else f"{value}-other"
    return {key: value, other: second}


@NARROW_SETTINGS
@given(data=st.data(), effect=st.sampled_from(["Allow", "Deny"]))
def test_condition_reading_an_ambiguous_key_fails_closed(data: st.DataObject, effect: str) -> None:
    """Fail closed (§3.3 step 9, §9 item 15): when a condition reads a context key that the
    request gives in two case variants with different values, the decision is a Deny (never an
    Allow) whose reason names the key — whether the condition sits on a Deny (read at step 2)
    or on the only Allow (read at step 6).

    Exceptions: ``Null`` only tests presence, and the key is present either way, so a Null
    clause is excluded; sts:GetCallerIdentity by an authenticated principal is decided before
    any policy is read (§3.3 step 1); and the fixed rules of §3.6 (a federated-user session may
    call no STS API but GetCallerIdentity) decide before any Allow is read — so for the Allow
    case those requests are excluded."""
    req = data.draw(
        request_specs(
            kinds=frozenset(AUTHENTICATED_KINDS - {PrincipalKind.ROOT}),
            actions=[a for a in REQUEST_ACTIONS if a != "sts:GetCallerIdentity"],
        ),
        label="request",
    )
    if effect == "Allow":
        assume(not (req.principal.kind is PrincipalKind.FEDERATED_USER and req.service == "sts"))
    block = data.draw(condition_blocks(max_clauses=2), label="condition")
    block = {op: keys for op, keys in block.items() if op != "Null"}
    assume(block)
    op = data.draw(st.sampled_from(sorted(block)), label="operator")
    key = data.draw(st.sampled_from(sorted(block[op])), label="ambiguous key")
    condition = {op: {key: block[op][key]}}  # one clause: nothing short-circuits before the key
    value = data.draw(CONTEXT_VALUES.get(key, st.just("dev")), label="value")
    context = {k: v for k, v in req.context.items() if k.lower() != key.lower()}
    context.update(_ambiguous(key, value, data.draw(st.randoms(use_true_random=True))))
    req = RequestSpec(req.principal, req.action, "*", None, context)
    statement = {"Effect": effect, "Action": "*", "Resource": "*", "Condition": condition}
    scen = Scenario().add("identity", statement)
    session = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    if req.principal.kind is PrincipalKind.FEDERATED_USER:
        scen = scen.add("session", session)  # else the session has no permissions anyway
    if effect == "Deny":
        scen = scen.add("identity", {"Effect": "Allow", "Action": "*", "Resource": "*"}, 1)

    decision = scen.decide(req)

    assert decision.kind is IMPLICIT, decision.reason
    assert decision.error is not None
    assert key.lower() in decision.reason.lower()


def test_ambiguous_key_example() -> None:
    """The brief's example: aws:SourceIp given twice; an IpAddress condition reads it."""
    req = RequestSpec(
        PrincipalSpec(USER_A),
        "s3:GetObject",
        "arn:aws:s3:::bucket-a/key1",
        context={"aws:SourceIp": "10.1.2.3", "AWS:SOURCEIP": "8.8.8.8"},
    )
    allow = {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": "*",
        "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    }
    decision = Scenario().add("identity", allow).decide(req)
    assert decision.kind is IMPLICIT
    assert decision.error is not None
    assert "aws:sourceip" in decision.reason.lower()


_VARIABLE_KEYS = ("aws:PrincipalTag/team", "aws:RequestTag/env", "s3:prefix")


@st.composite
def _variable_placements(draw: st.DrawFn, variable: str) -> dict[str, Any]:
    """Resource / condition elements that read ``${variable}`` when the request is decided."""
    ref = "${" + draw(case_variants(variable)) + "}"
    default = draw(st.sampled_from(["", ", 'dev'"]))
    ref = ref[:-1] + default + "}"
    where = draw(st.sampled_from(["Resource", "NotResource", "StringEquals", "StringLike", "ArnLike"]))
    if where in ("Resource", "NotResource"):
        return {where: f"arn:aws:s3:::bucket-a/{ref}/*"}
    if where == "ArnLike":
        return {"Resource": "*", "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{ref}"}}}
    return {"Resource": "*", "Condition": {where: {"aws:UserAgent": [f"x-{ref}", ref]}}}


@NARROW_SETTINGS
@given(
    data=st.data(),
    effect=st.sampled_from(["Allow", "Deny"]),
    principal=principal_specs(kinds=frozenset({PrincipalKind.USER, PrincipalKind.ROLE_SESSION})),
    via_tags=st.booleans(),
)
def test_variable_reading_an_ambiguous_key_fails_closed(
    data: st.DataObject, effect: str, principal: PrincipalSpec, via_tags: bool
) -> None:
    """Fail closed (§3.3 step 9, §9 item 15) also when the ambiguous key is read through a policy
    variable (§5) — in Resource, NotResource, or a String/ARN condition value, with or without a
    default: the decision is a Deny whose reason names the key. The ambiguity comes from the
    request context, or (for aws:PrincipalTag/team) from two principal tags differing in case.

    Exceptions: none besides the ones of the previous property; the request is built so that the
    statement is reached (the resource is an S3 ARN, the condition keys are present, the
    statement is the only Allow)."""
    key = data.draw(st.sampled_from(_VARIABLE_KEYS), label="key")
    placement = data.draw(_variable_placements(key), label="placement")
    statement = {"Effect": effect, "Action": "s3:GetObject", **placement}
    context: dict[str, Any] = {"aws:UserAgent": "x-dev", "aws:SourceArn": "arn:aws:s3:::dev"}
    if via_tags and key == "aws:PrincipalTag/team":
        principal = PrincipalSpec(principal.arn, (("team", "dev"), ("TEAM", "prod")), principal.role_arn)
    else:
        context.update({key: "dev", key.upper(): "prod"})
    req = RequestSpec(principal, "s3:GetObject", "arn:aws:s3:::bucket-a/dev/x", None, context)
    scen = Scenario().add("identity", statement)
    if effect == "Deny":
        scen = scen.add("identity", {"Effect": "Allow", "Action": "*", "Resource": "*"})

    decision = scen.decide(req)

    assert decision.kind is IMPLICIT, decision.reason
    assert decision.error is not None
    assert key.lower() in decision.reason.lower()


class _Broken:
    """Not a PolicyGroup: every use of it fails inside the engine."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"broken policy group: {name}")


@NARROW_SETTINGS
@given(
    req=request_specs(actions=[a for a in REQUEST_ACTIONS if a != "sts:GetCallerIdentity"]),
    broken=st.sampled_from(["identity", "resource", "boundary", "session"]),
)
def test_broken_policy_sets_fail_closed(req: RequestSpec, broken: str) -> None:
    """Fail closed (§3.3 step 9): a PolicySets holding a deliberately broken object instead of
    a PolicyGroup gives ImplicitDeny with ``error`` set, never Allow. The identity group is read
    for every request (its Denies, step 2); the others whenever present.

    Exception (§3.3 step 1): sts:GetCallerIdentity by an authenticated principal is allowed
    before any policy is read, so it is excluded."""
    kwargs: dict[str, Any] = {broken: _Broken()}
    decision = evaluate(req.build(), PolicySets(**kwargs), NOW)
    assert decision.kind is IMPLICIT
    assert decision.error is not None
    assert "fail closed" in decision.reason


def test_broken_identity_group_with_get_caller_identity() -> None:
    """The documented exception: GetCallerIdentity never reads a policy, so it is allowed."""
    req = RequestSpec(PrincipalSpec(USER_A), "sts:GetCallerIdentity", "*")
    assert evaluate(req.build(), PolicySets(identity=_Broken()), NOW).kind is ALLOW  # type: ignore[arg-type]


# --- 9. case-insensitivity ---------------------------------------------------------------------


def _vary_policy_case(value: Any, rnd: random.Random, parent: str = "") -> Any:
    """Case-vary Action / NotAction entries and condition-key names in a document."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if parent == "operator":
                out[vary_case(k, rnd)] = v  # a condition key
            elif k in ("Action", "NotAction"):
                out[k] = [vary_case(a, rnd) for a in v] if isinstance(v, list) else vary_case(v, rnd)
            elif k == "Condition":
                out[k] = {op: _vary_policy_case(keys, rnd, "operator") for op, keys in v.items()}
            else:
                out[k] = _vary_policy_case(v, rnd)
        return out
    if isinstance(value, list | tuple):
        return type(value)(_vary_policy_case(v, rnd) for v in value)
    return value


def _vary_scenario_case(scen: Scenario, rnd: random.Random) -> Scenario:
    return Scenario(**{k: _vary_policy_case(v, rnd) for k, v in scen.__dict__.items()})


@PROPERTY_SETTINGS
@given(data=st.data(), rnd=st.randoms(use_true_random=True))
def test_action_and_context_key_case_never_change_the_decision(
    data: st.DataObject, rnd: random.Random
) -> None:
    """Action names compare case-insensitively (§2.2) and so do context-key names (§4.2), in the
    request and in the policies: case-varying the request action, the request's context keys,
    and the policies' Action/NotAction entries and condition keys never changes the decision.
    No exception in the reference (resource case is another matter: see below)."""
    req = data.draw(request_specs(), label="request")
    scen = data.draw(scenarios(req), label="scenario")
    before = scen.decide(req)
    _label(before)

    varied_req = RequestSpec(
        req.principal,
        vary_case(req.action, rnd),
        req.resource,
        req.resource_account,
        {vary_case(k, rnd): v for k, v in req.context.items()},
    )
    assert scen.decide(varied_req).kind is before.kind
    assert _vary_scenario_case(scen, rnd).decide(varied_req).kind is before.kind


def _vary_arn_head(resource: str, rnd: random.Random) -> str:
    """Case-vary the service and region components of an ARN (not the resource part)."""
    parts = resource.split(":", 5)
    if len(parts) < 6:
        return resource
    # The partition is left alone: see test_partition_case_regression (a suspected bug).
    parts[2] = vary_case(parts[2], rnd)
    parts[3] = vary_case(parts[3], rnd)
    return ":".join(parts)


@NARROW_SETTINGS
@given(data=st.data(), rnd=st.randoms(use_true_random=True))
def test_resource_arn_head_case_never_changes_the_decision(data: st.DataObject, rnd: random.Random) -> None:
    """The service, region and account of a resource ARN compare case-insensitively (§2.3
    [impl]); case-varying them in the request never changes the decision. Only the resource
    part (after the fifth colon) is case-sensitive — see the example test below. (The partition
    is also case-insensitive per §2.3 but is excluded here: suspected bug, see the xfail.)"""
    req = data.draw(request_specs(), label="request")
    scen = data.draw(scenarios(req), label="scenario")
    before = scen.decide(req)
    _label(before)
    varied = RequestSpec(
        req.principal, req.action, _vary_arn_head(req.resource, rnd), req.resource_account, req.context
    )
    assert scen.decide(varied).kind is before.kind


def test_resource_part_case_can_change_the_decision() -> None:
    """§2.3: the resource component is case-sensitive."""
    allow = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket-a/*"}
    scen = Scenario().add("identity", allow)
    lower = RequestSpec(PrincipalSpec(USER_A), "s3:GetObject", "arn:aws:s3:::bucket-a/key1")
    upper = RequestSpec(PrincipalSpec(USER_A), "s3:GetObject", "arn:aws:s3:::BUCKET-A/key1")
    assert scen.decide(lower).kind is ALLOW
    assert scen.decide(upper).kind is IMPLICIT


@example(action="S3:GETOBJECT")
@example(action="s3:getobject")
@given(
    action=st.just("s3:GetObject").flatmap(
        lambda a: st.randoms(use_true_random=True).map(lambda r: vary_case(a, r))
    )
)
def test_action_case_example(action: str) -> None:
    """§2.2: ``iam:ListAccessKeys`` equals ``IAM:listaccesskeys``; same for s3."""
    allow = {"Effect": "Allow", "Action": "s3:getOBJECT", "Resource": "*"}
    req = RequestSpec(PrincipalSpec(USER_A), action, "arn:aws:s3:::bucket-a/key1")
    assert Scenario().add("identity", allow).decide(req).kind is ALLOW


# --- regression examples for suspected bugs -----------------------------------------------------


def test_ambiguous_key_in_policy_variable_regression() -> None:
    """Regression (§9 item 15, §3.3 step 9): aws:PrincipalTag/team is 'x' in one spelling and 'y'
    in another. The Deny applies for 'x'; with both spellings the request must not be allowed.
    Found by these tests on the committed code (the variable was read as absent, so the Deny
    stopped applying and the request was ALLOWED); fixed in the working tree while they were
    being written, so this is a plain regression test now."""
    identity = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::b/${aws:PrincipalTag/team}/*",
            },
        ],
    }
    scen = Scenario(identity=(identity,))
    resource = "arn:aws:s3:::b/x/obj"
    plain = RequestSpec(
        PrincipalSpec(USER_A), "s3:GetObject", resource, context={"aws:PrincipalTag/team": "x"}
    )
    assert scen.decide(plain).kind is EXPLICIT
    ambiguous = RequestSpec(
        PrincipalSpec(USER_A),
        "s3:GetObject",
        resource,
        context={"aws:PrincipalTag/team": "x", "AWS:PRINCIPALTAG/TEAM": "y"},
    )
    assert scen.decide(ambiguous).kind is not ALLOW
    tagged = RequestSpec(PrincipalSpec(USER_A, (("team", "x"), ("TEAM", "y"))), "s3:GetObject", resource)
    assert scen.decide(tagged).kind is not ALLOW


def test_partition_case_regression() -> None:
    allow = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket-a/*"}
    scen = Scenario().add("identity", allow)
    req = RequestSpec(PrincipalSpec(USER_A), "s3:GetObject", "arn:AWS:s3:::bucket-a/key1")
    assert scen.decide(req).kind is ALLOW


def test_principal_arns_are_valid() -> None:
    """Sanity: every vocabulary principal parses, and every kind of requester is covered."""
    kinds = {Principal.from_arn(a).kind for a in PRINCIPAL_ARNS}
    assert kinds == AUTHENTICATED_KINDS
    assert {PrincipalKind.USER, PrincipalKind.ROLE, PrincipalKind.ROLE_SESSION} <= kinds
    assert {PrincipalKind.FEDERATED_USER, PrincipalKind.ROOT} <= kinds
    assert ACCOUNT_B in {Principal.from_arn(a).account for a in PRINCIPAL_ARNS}
    policy = parse_policy({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}, "identity")
    sets = PolicySets(identity=PolicyGroup([policy]))
    assert evaluate(Request(Principal.from_arn(USER_A), "s3:GetObject", "*"), sets, NOW).allowed
