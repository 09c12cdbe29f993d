"""Shared hypothesis strategies for the property tests.

Everything is drawn from a small vocabulary (two accounts, a handful of services, actions,
ARNs, condition keys and values) so that generated policies really match generated requests:
a property about "adding an Allow" is worthless when nothing ever matches.

Requests and policy sets are generated as plain data (:class:`RequestSpec`, :class:`Scenario`)
with readable reprs, and compiled on demand, so a test can add a statement and decide again,
and hypothesis prints a useful counterexample.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from hypothesis import HealthCheck, reject, settings
from hypothesis import strategies as st

from sidecar.engine import Decision, PolicyGroup, PolicySets, Principal, PrincipalKind, Request, evaluate
from sidecar.policy import LIMIT_EXCEEDED, PolicyKind, PolicyValidationError, parse_policy

# --- settings ------------------------------------------------------------------------------

# PROPERTY_EXAMPLES=5000 (environment) runs a longer soak; the default keeps the folder fast.
_EXAMPLES = int(os.environ.get("PROPERTY_EXAMPLES", "200"))
PROPERTY_SETTINGS = settings(
    max_examples=_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
FUZZ_SETTINGS = PROPERTY_SETTINGS
# For the narrower properties (one principal kind, a fixed policy shape): half as many examples.
NARROW_SETTINGS = settings(PROPERTY_SETTINGS, max_examples=max(1, _EXAMPLES // 2))

NOW = 1_700_000_000.0  # a fixed clock: 2023-11-14T22:13:20Z

# --- vocabulary ----------------------------------------------------------------------------

ACCOUNT_A = "111111111111"
ACCOUNT_B = "222222222222"
FOREIGN_ACCOUNT = "999999999999"

USER_A = f"arn:aws:iam::{ACCOUNT_A}:user/alice"
USER_A_PATH = f"arn:aws:iam::{ACCOUNT_A}:user/team/carol"
USER_B = f"arn:aws:iam::{ACCOUNT_B}:user/bob"
ROLE_A = f"arn:aws:iam::{ACCOUNT_A}:role/app"
ROLE_A_WITH_PATH = f"arn:aws:iam::{ACCOUNT_A}:role/service/app"
ROLE_B = f"arn:aws:iam::{ACCOUNT_B}:role/ops"
SESSION_A = f"arn:aws:sts::{ACCOUNT_A}:assumed-role/app/s1"
SESSION_B = f"arn:aws:sts::{ACCOUNT_B}:assumed-role/ops/s2"
FEDERATED_A = f"arn:aws:sts::{ACCOUNT_A}:federated-user/fed"
ROOT_A = f"arn:aws:iam::{ACCOUNT_A}:root"
ROOT_B = f"arn:aws:iam::{ACCOUNT_B}:root"

PRINCIPAL_ARNS: tuple[str, ...] = (
    USER_A,
    USER_A_PATH,
    USER_B,
    ROLE_A,  # a session of the role whose session name is not known
    SESSION_A,
    SESSION_B,
    FEDERATED_A,
    ROOT_A,
    ROOT_B,
)
ARNS_BY_KIND: dict[PrincipalKind, tuple[str, ...]] = {}
for _arn in PRINCIPAL_ARNS:
    _kind = Principal.from_arn(_arn).kind
    ARNS_BY_KIND[_kind] = (*ARNS_BY_KIND.get(_kind, ()), _arn)

AUTHENTICATED_KINDS = frozenset(ARNS_BY_KIND)
ROLE_SESSION_KINDS = frozenset({PrincipalKind.ROLE_SESSION, PrincipalKind.ROLE})
SESSION_KINDS = ROLE_SESSION_KINDS | {PrincipalKind.FEDERATED_USER}
BOUNDARY_KINDS = frozenset({PrincipalKind.USER, PrincipalKind.ROLE_SESSION, PrincipalKind.ROLE})

REQUEST_ACTIONS: tuple[str, ...] = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "s3:DeleteObject",
    "ec2:RunInstances",
    "ec2:DescribeInstances",
    "iam:CreateAccessKey",
    "iam:ListAccessKeys",
    "iam:GetUser",
    "sts:AssumeRole",
    "sts:GetCallerIdentity",
    "sts:TagSession",
    "kms:Decrypt",
    "kms:Encrypt",
    "sqs:SendMessage",
)

REQUEST_RESOURCES: tuple[str, ...] = (
    "arn:aws:s3:::bucket-a/key1",
    "arn:aws:s3:::bucket-a/dir/key2",
    "arn:aws:s3:::bucket-a/alice/notes.txt",
    "arn:aws:s3:::bucket-a",
    "arn:aws:s3:::bucket-b/x",
    "arn:aws:s3:::Bucket-A/key1",
    f"arn:aws:ec2:us-east-1:{ACCOUNT_A}:instance/i-123",
    f"arn:aws:iam::{ACCOUNT_A}:user/alice",
    ROLE_A,
    ROLE_B,
    f"arn:aws:kms:us-east-1:{ACCOUNT_A}:key/k1",
    f"arn:aws:kms:us-east-1:{ACCOUNT_B}:key/k2",
    f"arn:aws:kms:us-east-1:{ACCOUNT_A}:alias/app",
    f"arn:aws:sqs:us-east-1:{ACCOUNT_B}:queue1",
    "*",
)

ACTION_PATTERNS: tuple[str, ...] = (
    "*",
    "s3:*",
    "s3:Get*",
    "s3:GetObject",
    "s3:PutObject",
    "s3:List*",
    "s3:Get?bject",
    "ec2:*",
    "ec2:Describe*",
    "iam:*AccessKey*",
    "iam:*",
    "iam:GetUser",
    "sts:AssumeRole",
    "sts:*",
    "sts:TagSession",
    "kms:Decrypt",
    "kms:*",
    "sqs:SendMessage",
)

RESOURCE_PATTERNS: tuple[str, ...] = (
    "*",
    "arn:aws:s3:::bucket-a/*",
    "arn:aws:s3:::bucket-a",
    "arn:aws:s3:::bucket-?/*",
    "arn:aws:s3:::*",
    "arn:aws:s3:::bucket-a/${aws:username}/*",
    "arn:aws:s3:::bucket-a/${aws:PrincipalTag/team}/*",
    "arn:aws:ec2:*:*:instance/*",
    f"arn:aws:iam::{ACCOUNT_A}:user/*",
    ROLE_A,
    "arn:aws:iam::*:role/*",
    f"arn:aws:kms:*:{ACCOUNT_A}:key/*",
    "arn:aws:kms:*:*:key/*",
    "arn:*:sqs:*:*:*",
)

PRINCIPAL_ENTRIES: tuple[str, ...] = (
    ACCOUNT_A,
    ACCOUNT_B,
    ROOT_A,
    USER_A,
    USER_B,
    ROLE_A,
    ROLE_B,
    SESSION_A,
    FEDERATED_A,
    f"arn:aws:iam::{FOREIGN_ACCOUNT}:user/mallory",
)

# --- principals and requests ---------------------------------------------------------------


@dataclass(frozen=True)
class PrincipalSpec:
    """A requester as data; ``arn`` None is the anonymous caller."""

    arn: str | None
    tags: tuple[tuple[str, str], ...] = ()
    role_arn: str = ""

    def build(self) -> Principal:
        if self.arn is None:
            return Principal.anonymous()
        return Principal.from_arn(self.arn, tags=dict(self.tags), role_arn=self.role_arn)

    @property
    def kind(self) -> PrincipalKind:
        return self.build().kind

    @property
    def authenticated(self) -> bool:
        return self.arn is not None


ANONYMOUS = PrincipalSpec(None)

# Drawing is the expensive part of these tests (each draw costs hypothesis ~0.1 ms), so the
# strategies below pick whole elements from precomputed option lists: few draws per statement,
# and shrinking still walks each choice towards the first (simplest) option.


@cache
def _index(n: int) -> st.SearchStrategy[int]:
    return st.integers(0, n - 1)


def pick(draw: st.DrawFn, options: Sequence[Any]) -> Any:
    """One of ``options`` (one cheap draw from a cached strategy; shrinks to the first)."""
    return options[draw(_index(len(options)))]


_TAG_SETS: tuple[tuple[tuple[str, str], ...], ...] = (
    (),
    (("team", "dev"),),
    (("team", "prod"),),
    (("env", "dev"),),
    (("team", "Dev"), ("env", "prod")),
)


@st.composite
def principal_specs(draw: st.DrawFn, kinds: frozenset[PrincipalKind] | None = None) -> PrincipalSpec:
    """A principal of one of ``kinds`` (default: every kind, anonymous included)."""
    options: list[str | None] = []
    for kind, arns in ARNS_BY_KIND.items():
        if kinds is None or kind in kinds:
            options.extend(arns)
    if kinds is None or PrincipalKind.ANONYMOUS in kinds:
        options.append(None)
    arn = pick(draw, options)
    if arn is None:
        return ANONYMOUS
    role_arn = ""
    if arn == SESSION_A and pick(draw, (False, True)):
        role_arn = ROLE_A_WITH_PATH  # the session's role carries a path (aws:PrincipalArn shows it)
    return PrincipalSpec(arn, pick(draw, _TAG_SETS), role_arn)


@dataclass(frozen=True)
class RequestSpec:
    principal: PrincipalSpec
    action: str
    resource: str
    resource_account: str | None = None
    context: Mapping[str, Any] = field(default_factory=dict)

    def build(self) -> Request:
        return Request(
            self.principal.build(),
            self.action,
            self.resource,
            resource_account=self.resource_account,
            context=dict(self.context),
        )

    @property
    def service(self) -> str:
        return self.action.lower().partition(":")[0]


CONTEXT_OPTIONS: dict[str, tuple[Any, ...]] = {
    "aws:SourceIp": ("10.1.2.3", "192.168.1.1", "8.8.8.8", "2001:db8::1", "not-an-ip"),
    "aws:SecureTransport": ("true", "false", "TRUE", True, False),
    "aws:MultiFactorAuthPresent": ("true", "false", True),
    "aws:MultiFactorAuthAge": ("100", "3600", "5000", "abc", 42, "3600.0"),
    "s3:prefix": ("dev", "prod", "dev/x", "alice", "Dev", ""),
    "aws:RequestTag/env": ("dev", "prod", "Dev"),
    "aws:TagKeys": ([], ["env"], ["team", "env"], ["cost-center"], ["Env", "team"], [""]),
    "aws:CurrentTime": ("2020-06-01T00:00:00Z", "2031-01-01T00:00:00Z", "garbage"),
    "aws:PrincipalTag/team": ("dev", "prod"),
}
CONTEXT_VALUES: dict[str, st.SearchStrategy[Any]] = {
    k: st.sampled_from(v) for k, v in CONTEXT_OPTIONS.items()
}
CONTEXT_KEYS = tuple(CONTEXT_OPTIONS)


@st.composite
def contexts(draw: st.DrawFn) -> dict[str, Any]:
    """Well-formed request contexts over the vocabulary keys (each key in one spelling)."""
    mask = draw(_index(2 ** len(CONTEXT_KEYS)))
    return {
        key: pick(draw, CONTEXT_OPTIONS[key]) for bit, key in enumerate(CONTEXT_KEYS) if mask & (1 << bit)
    }


@st.composite
def request_specs(
    draw: st.DrawFn,
    kinds: frozenset[PrincipalKind] | None = None,
    actions: Sequence[str] = REQUEST_ACTIONS,
) -> RequestSpec:
    principal = draw(principal_specs(kinds))
    return RequestSpec(
        principal,
        pick(draw, actions),
        pick(draw, REQUEST_RESOURCES),
        pick(draw, (None, None, ACCOUNT_A, ACCOUNT_B)),
        draw(contexts()),
    )


# --- case variants -------------------------------------------------------------------------


def vary_case(text: str, rnd: random.Random) -> str:
    return "".join(ch.upper() if rnd.random() < 0.5 else ch.lower() for ch in text)


def spellings(text: str) -> list[str]:
    """A few spellings of ``text``: as written, upper, lower, swapped and alternating case."""
    mixed = "".join(ch.upper() if i % 2 else ch.lower() for i, ch in enumerate(text))
    return list(dict.fromkeys([text, text.upper(), text.lower(), text.swapcase(), mixed]))


def case_variants(text: str) -> st.SearchStrategy[str]:
    return st.sampled_from(spellings(text))


# --- policy statements ---------------------------------------------------------------------


def element(draw: st.DrawFn, options: Sequence[Any]) -> Any:
    """A string entry, or now and then a list of one or two entries."""
    shape = draw(_index(8))
    first = pick(draw, options)
    if shape == 6:
        return [first]
    if shape == 7:
        return [first, pick(draw, options)]
    return first


def _targetable_action(action: str) -> bool:
    service, sep, name = action.partition(":")
    return bool(sep and service and name) and not any(c.isspace() or c in ",$*?" for c in action)


def _targetable_resource(resource: str) -> bool:
    parts = resource.split(":", 5)
    return resource.startswith("arn:") and len(parts) == 6 and "${" not in resource


def action_options(req: RequestSpec | None = None) -> list[str]:
    """Action entries; with a request, about half of them match it (exact, re-spelled, svc:*)."""
    options = list(ACTION_PATTERNS)
    if req is not None and _targetable_action(req.action):
        service = req.action.partition(":")[0]
        targeted = [*spellings(req.action), f"{service}:*", "*"]
        options += targeted * max(1, len(ACTION_PATTERNS) // len(targeted))
    return options


def resource_options(req: RequestSpec | None = None) -> list[str]:
    options = list(RESOURCE_PATTERNS)
    if req is not None and _targetable_resource(req.resource):
        options += [req.resource] * 6 + ["*"] * 2
    return options


def _requester_entries(req: RequestSpec | None) -> list[str]:
    entries = list(PRINCIPAL_ENTRIES)
    if req is not None and req.principal.arn is not None:
        p = req.principal.build()
        entries += [req.principal.arn, p.account] * 2
        if p.role_arn:
            entries.append(p.role_arn)
    return entries


def principal_options(req: RequestSpec | None = None) -> list[Any]:
    entries = _requester_entries(req)
    return [
        "*",
        {"AWS": "*"},
        *({"AWS": e} for e in entries),
        *({"AWS": [e, ACCOUNT_B]} for e in entries[::3]),
        {"Service": "ec2.amazonaws.com"},
    ]


def not_principal_options(req: RequestSpec | None = None) -> list[Any]:
    entries = _requester_entries(req)
    return [
        *({"AWS": e} for e in entries),
        *({"AWS": [e, ACCOUNT_A]} for e in entries),
        *({"AWS": [e, ROLE_A, ACCOUNT_A]} for e in entries[::2]),
    ]


# --- conditions ----------------------------------------------------------------------------

STRING_OPS = (
    "StringEquals",
    "StringNotEquals",
    "StringLike",
    "StringNotLike",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
)
STRING_KEYS = (
    "aws:username",
    "aws:PrincipalTag/team",
    "s3:prefix",
    "aws:RequestTag/env",
    "aws:PrincipalAccount",
    "aws:PrincipalType",
    "aws:userid",
)
STRING_VALUES = (
    "alice",
    "dev",
    "prod",
    "Dev",
    "dev/*",
    "a?ice",
    "*",
    ACCOUNT_A,
    "User",
    "AssumedRole",
    "${aws:username}",
    "${aws:PrincipalTag/team}",
    "${aws:PrincipalTag/team, 'dev'}",
    "${aws:RequestTag/env}",
    ["dev", "prod"],
    ["alice", "${aws:PrincipalTag/team}"],
)
SET_OPS = (
    "ForAnyValue:StringEquals",
    "ForAllValues:StringEquals",
    "ForAnyValue:StringLike",
    "ForAllValues:StringLike",
    "ForAllValues:StringNotLike",
    "ForAnyValue:StringNotEquals",
)


def _clauses(
    ops: Sequence[str], keys: Sequence[str], values: Sequence[Any], if_exists: bool = True
) -> list[tuple[str, str, Any]]:
    spelled = [*ops, *(op + "IfExists" for op in ops)] if if_exists else list(ops)
    return [(op, key, value) for op in spelled for key in keys for value in values]


CLAUSE_OPTIONS: tuple[tuple[str, str, Any], ...] = tuple(
    [
        *_clauses(("Null",), (*STRING_KEYS, *CONTEXT_KEYS), ("true", "false", True), if_exists=False),
        *_clauses(STRING_OPS, STRING_KEYS, STRING_VALUES),
        *_clauses(
            ("NumericLessThan", "NumericGreaterThanEquals", "NumericEquals", "NumericNotEquals"),
            ("aws:MultiFactorAuthAge",),
            ("300", "3600", "0", "3600.0", 100, ["100", "5000"]),
        ),
        *_clauses(
            ("IpAddress", "NotIpAddress"),
            ("aws:SourceIp",),
            ("10.0.0.0/8", "192.168.1.1", "2001:db8::/32", "0.0.0.0/0", ["10.0.0.0/8", "8.8.8.8/32"]),
        ),
        *_clauses(
            ("Bool",), ("aws:SecureTransport", "aws:MultiFactorAuthPresent"), ("true", "false", True, False)
        ),
        *_clauses(SET_OPS, ("aws:TagKeys", "s3:prefix"), ("env", "team", "cost*", "Env", ["env", "team"])),
        *_clauses(
            ("DateLessThan", "DateGreaterThan"),
            ("aws:CurrentTime",),
            ("2030-01-01T00:00:00Z", "2020-01-01", "1700000000"),
        ),
        *_clauses(
            ("ArnLike", "ArnNotLike", "ArnEquals"),
            ("aws:PrincipalArn",),
            (f"arn:aws:iam::{ACCOUNT_A}:*", "arn:aws:iam::*:role/*app", USER_A, ROLE_A_WITH_PATH),
        ),
    ]
)
CLAUSES: st.SearchStrategy[tuple[str, str, Any]] = st.sampled_from(CLAUSE_OPTIONS)


def condition_block(draw: st.DrawFn, min_clauses: int = 1, max_clauses: int = 2) -> dict[str, Any]:
    block: dict[str, dict[str, Any]] = {}
    for _ in range(min_clauses + draw(_index(max_clauses - min_clauses + 1))):
        op, key, value = pick(draw, CLAUSE_OPTIONS)
        block.setdefault(op, {})[key] = value
    return block


@st.composite
def condition_blocks(draw: st.DrawFn, min_clauses: int = 1, max_clauses: int = 2) -> dict[str, Any]:
    return condition_block(draw, min_clauses, max_clauses)


# --- statements and documents --------------------------------------------------------------


def statement(
    draw: st.DrawFn,
    kind: PolicyKind,
    effect: str | None = None,
    req: RequestSpec | None = None,
    conditions: bool = True,
) -> dict[str, Any]:
    """One VALID statement for a policy of ``kind``, often aimed at ``req``."""
    if kind is PolicyKind.RCP:
        effect = "Deny"
    elif effect is None:
        effect = pick(draw, ("Allow", "Deny", "Allow"))
    stmt: dict[str, Any] = {"Effect": effect}
    if kind in (PolicyKind.RESOURCE, PolicyKind.TRUST):
        if effect == "Deny" and kind is PolicyKind.RESOURCE and draw(_index(5)) == 4:
            stmt["NotPrincipal"] = pick(draw, not_principal_options(req))
        else:
            stmt["Principal"] = pick(draw, principal_options(req))
    elif kind is PolicyKind.RCP:
        stmt["Principal"] = pick(draw, ("*", {"AWS": "*"}))
    negations = draw(_index(12))  # 10: NotAction, 11: NotResource
    stmt["NotAction" if negations == 10 else "Action"] = element(draw, action_options(req))
    if kind is not PolicyKind.TRUST:
        stmt["NotResource" if negations == 11 else "Resource"] = element(draw, resource_options(req))
    if conditions and draw(_index(3)) == 2:
        stmt["Condition"] = condition_block(draw)
    return stmt


@st.composite
def statements(
    draw: st.DrawFn,
    kind: PolicyKind,
    *,
    effect: str | None = None,
    req: RequestSpec | None = None,
    conditions: bool = True,
) -> dict[str, Any]:
    return statement(draw, kind, effect, req, conditions)


FULL_ACCESS = {"Effect": "Allow", "Action": "*", "Resource": "*"}


def policy_doc(
    draw: st.DrawFn,
    kind: PolicyKind,
    req: RequestSpec | None = None,
    effect: str | None = None,
    max_statements: int = 2,
) -> dict[str, Any]:
    """A VALID policy document of ``kind``. SCP and boundary documents often carry a broad
    Allow too (three times in four, as FullAWSAccess does in practice), so that decisions
    are not all denies."""
    count = 1 + draw(_index(max_statements))
    stmts = [statement(draw, kind, effect, req) for _ in range(count)]
    if kind in (PolicyKind.SCP, PolicyKind.BOUNDARY) and effect is None and draw(_index(4)):
        stmts.append(dict(FULL_ACCESS))
    return {"Version": "2012-10-17", "Statement": stmts}


@st.composite
def policy_docs(
    draw: st.DrawFn,
    kind: PolicyKind,
    req: RequestSpec | None = None,
    *,
    effect: str | None = None,
    max_statements: int = 2,
) -> dict[str, Any]:
    return policy_doc(draw, kind, req, effect, max_statements)


def unconditional_deny(req: RequestSpec, kind: PolicyKind) -> st.SearchStrategy[dict[str, Any]]:
    """A Deny statement of ``kind`` that matches ``req`` whatever the context says."""
    action_els: list[dict[str, Any]] = [{"Action": "*"}, {"NotAction": "zzz:NeverCalled"}]
    action_els += [{"Action": a} for a in spellings(req.action)]
    action_els += [{"Action": f"{req.service}:*"}, {"Action": ["zzz:Other", req.action]}]
    resource_els: list[dict[str, Any]] = [{"Resource": "*"}, {"NotResource": "arn:aws:s3:::zzz-never"}]
    if _targetable_resource(req.resource):
        resource_els.append({"Resource": req.resource})
    principal_els: list[dict[str, Any]] = [{}]
    if kind is PolicyKind.RCP:
        principal_els = [{"Principal": "*"}]
    elif kind is PolicyKind.RESOURCE:
        principal_els = [
            {"Principal": "*"},
            {"Principal": {"AWS": "*"}},
            {"NotPrincipal": {"AWS": f"arn:aws:iam::{FOREIGN_ACCOUNT}:user/mallory"}},
        ]
        if req.principal.arn is not None:
            p = req.principal.build()
            principal_els += [{"Principal": {"AWS": req.principal.arn}}, {"Principal": {"AWS": p.account}}]
            if p.role_arn:
                principal_els.append({"Principal": {"AWS": p.role_arn}})
    return st.tuples(
        st.sampled_from(action_els), st.sampled_from(resource_els), st.sampled_from(principal_els)
    ).map(lambda parts: {"Effect": "Deny", **parts[0], **parts[1], **parts[2]})


# --- scenarios (policy sets as data) ------------------------------------------------------


def _doc_with(doc: Mapping[str, Any] | None, stmt: Mapping[str, Any]) -> dict[str, Any]:
    if doc is None:
        return {"Version": "2012-10-17", "Statement": [dict(stmt)]}
    old = doc["Statement"]
    old_list = list(old) if isinstance(old, list) else [old]
    return {**doc, "Statement": [*old_list, dict(stmt)]}


def _compile(doc: Mapping[str, Any], kind: PolicyKind, name: str) -> Any:
    try:
        return parse_policy(doc, kind, name=name)
    except PolicyValidationError as exc:
        if all(p.code == LIMIT_EXCEEDED for p in exc.errors):
            reject()  # grew past a size limit: not what the property is about
        raise AssertionError(f"the strategy produced an invalid {kind} policy {doc!r}: {exc}") from exc


@dataclass(frozen=True)
class Scenario:
    """The policy sets in force, as documents. None: the set is absent."""

    identity: tuple[dict[str, Any], ...] = ()
    resource: dict[str, Any] | None = None
    boundary: dict[str, Any] | None = None
    session: dict[str, Any] | None = None
    scp_levels: tuple[dict[str, Any], ...] = ()
    rcp_levels: tuple[dict[str, Any], ...] = ()

    def build(self) -> PolicySets:
        def group(docs: Sequence[Mapping[str, Any]], kind: PolicyKind) -> PolicyGroup:
            return PolicyGroup([_compile(d, kind, f"{kind}[{i}]") for i, d in enumerate(docs)])

        return PolicySets(
            identity=group(self.identity, PolicyKind.IDENTITY),
            resource=None if self.resource is None else group([self.resource], PolicyKind.RESOURCE),
            boundary=None if self.boundary is None else group([self.boundary], PolicyKind.BOUNDARY),
            scp_levels=tuple(group([d], PolicyKind.SCP) for d in self.scp_levels),
            rcp_levels=tuple(group([d], PolicyKind.RCP) for d in self.rcp_levels),
            session=None if self.session is None else group([self.session], PolicyKind.SESSION),
        )

    def decide(self, req: RequestSpec) -> Decision:
        return evaluate(req.build(), self.build(), NOW)

    # Adding statements and sets.

    def add(self, where: str, stmt: Mapping[str, Any], index: int = 0) -> Scenario:
        """Add ``stmt`` to: ``identity`` (to policy ``index``, or a new policy when out of
        range), ``resource``, ``boundary``, ``session`` (creating the set when absent),
        ``scp`` / ``rcp`` (to level ``index``, or a new level when out of range)."""
        if where == "identity":
            if index < len(self.identity):
                docs = list(self.identity)
                docs[index] = _doc_with(docs[index], stmt)
                return replace(self, identity=tuple(docs))
            return replace(self, identity=(*self.identity, _doc_with(None, stmt)))
        if where in ("resource", "boundary", "session"):
            return replace(self, **{where: _doc_with(getattr(self, where), stmt)})
        if where in ("scp", "rcp"):
            levels = list(getattr(self, f"{where}_levels"))
            if index < len(levels):
                levels[index] = _doc_with(levels[index], stmt)
            else:
                levels.append(_doc_with(None, stmt))
            return replace(self, **{f"{where}_levels": tuple(levels)})
        raise ValueError(where)


def _few(draw: st.DrawFn, kind: PolicyKind, req: RequestSpec | None, most: int, **kw: Any) -> tuple[Any, ...]:
    """Up to ``most`` documents; none about half the time."""
    count = max(0, draw(_index(2 * most + 1)) - most)
    return tuple(policy_doc(draw, kind, req, **kw) for _ in range(count))


def _sometimes(draw: st.DrawFn, kind: PolicyKind, req: RequestSpec | None, **kw: Any) -> Any:
    """A document one time in three, else None (the set is absent)."""
    return policy_doc(draw, kind, req, **kw) if draw(_index(3)) == 2 else None


@st.composite
def scenarios(draw: st.DrawFn, req: RequestSpec | None = None) -> Scenario:
    """Random VALID policy sets, aimed at ``req`` when given: then, half the time, the identity
    policies also hold an unconditional Allow for it, so that Allow decisions are common."""
    identity = _few(draw, PolicyKind.IDENTITY, req, 2)
    if req is not None and draw(_index(2)):
        grant = {
            "Effect": "Allow",
            "Action": pick(draw, action_options(req)),
            "Resource": pick(draw, ["*", *resource_options(req)[len(RESOURCE_PATTERNS) :]]),
        }
        identity = (*identity, {"Version": "2012-10-17", "Statement": [grant]})
    return Scenario(
        identity=identity,
        resource=_sometimes(draw, PolicyKind.RESOURCE, req),
        boundary=_sometimes(draw, PolicyKind.BOUNDARY, req),
        session=_sometimes(draw, PolicyKind.SESSION, req),
        scp_levels=_few(draw, PolicyKind.SCP, req, 2, max_statements=1),
        rcp_levels=_few(draw, PolicyKind.RCP, req, 1, max_statements=1),
    )


# --- arbitrary JSON-ish values and raw documents (validator fuzzing) ------------------------

POLICY_WORDS = (
    "Version",
    "Id",
    "Statement",
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
    "AWS",
    "Service",
    "Federated",
    "CanonicalUser",
    "StringEquals",
    "ForAnyValue:StringLike",
    "NumericLessThanIfExists",
    "Null",
    "aws:SourceIp",
    "version",
    "",
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(["Allow", "Deny", "*", "2012-10-17", "2008-10-17", *ACTION_PATTERNS, *RESOURCE_PATTERNS]),
)
_keys = st.one_of(st.sampled_from(POLICY_WORDS), st.text(max_size=10))

json_values: st.SearchStrategy[Any] = st.recursive(
    _scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(_keys, children, max_size=5)),
    max_leaves=15,
)


# The same without NaN and infinities, for values written out as strict JSON text.
strict_json_values: st.SearchStrategy[Any] = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False)),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(_keys, children, max_size=3)),
    max_leaves=10,
)


class Pairs(list):  # type: ignore[type-arg]
    """An object written from a list of (key, value) pairs, so a key can appear twice."""


def dumps_pairs(value: Any) -> str:
    """JSON text of ``value``; a :class:`Pairs` becomes an object that may repeat a key."""
    if isinstance(value, Pairs):
        return "{" + ",".join(f"{json.dumps(k)}:{dumps_pairs(v)}" for k, v in value) + "}"
    if isinstance(value, dict):
        return dumps_pairs(Pairs(value.items()))
    if isinstance(value, list):
        return "[" + ",".join(dumps_pairs(v) for v in value) + "]"
    return json.dumps(value)


def _containers(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        out.append(path)
        for k, v in value.items():
            out.extend(_containers(v, (*path, k)))
    elif isinstance(value, list):
        out.append(path)
        for i, v in enumerate(value):
            out.extend(_containers(v, (*path, i)))
    return out


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


MUTATIONS = ("delete", "rename", "retype", "duplicate", "wrap")


@st.composite
def mutated_docs(draw: st.DrawFn, doc: dict[str, Any]) -> tuple[str, Any]:
    """One mutation of a valid document: (mutation name, mutated document). A ``duplicate``
    mutation returns JSON text (a dict cannot hold a key twice); the others return dicts."""
    mutation = draw(st.sampled_from(MUTATIONS))
    doc = json.loads(json.dumps(doc))  # a deep copy
    containers = _containers(doc)
    path = draw(st.sampled_from(containers))
    node = _get(doc, path)
    if not node:
        return "noop", doc
    if isinstance(node, list):
        i = draw(st.integers(0, len(node) - 1))
        if mutation == "delete":
            del node[i]
        elif mutation == "duplicate":
            node.append(node[i])
            mutation = "duplicate item"
        elif mutation == "wrap":
            node[i] = [node[i]]
        else:
            node[i] = draw(json_values)
        return mutation, doc
    key = draw(st.sampled_from(sorted(node)))
    if mutation == "delete":
        del node[key]
    elif mutation == "rename":
        new_key = draw(st.one_of(case_variants(key), st.sampled_from(POLICY_WORDS), st.text(max_size=8)))
        value = node.pop(key)
        node[new_key] = value
    elif mutation == "retype":
        node[key] = draw(json_values)
    elif mutation == "wrap":
        node[key] = draw(st.sampled_from([[node[key]], {"x": node[key]}, str(node[key])]))
    else:  # duplicate: write the key twice, possibly with another value
        other = draw(st.one_of(st.just(node[key]), strict_json_values))
        parent_path, parent_key = path[:-1], path[-1] if path else None
        dup = Pairs([*node.items(), (key, other)])
        if parent_key is None:
            return mutation, dumps_pairs(dup)
        _get(doc, parent_path)[parent_key] = dup
        return mutation, dumps_pairs(doc)
    return mutation, doc
