"""The IAM decision algorithm (reference §3): ``evaluate(request, policy_sets, now)``.

Order of the checks, each a named reason in the Decision:

1. ``sts:GetCallerIdentity`` by an authenticated principal is always allowed.
2. An applicable Deny in any RCP level, SCP level, the resource policy, identity policies,
   the boundary or session policies → explicit deny.
3. Fixed service rules (temporary-credential limits, root and AssumeRole, optional §9 item 21).
4. SCPs: every level of the principal's account must allow (RCP levels always allow: the
   AWS-managed RCPFullAWSAccess is implied).
5. The resource policy, by principal match level (direct / role / parent / account), with the
   role-trust and KMS key-policy exceptions; same account: either side may grant; across
   accounts both must.
6–8. Identity policies, permissions boundary, session policies.

Anything unexpected while deciding is a Deny (``fail_closed``), never an Allow.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from ..policy.conditions import AmbiguousKeyError
from ..policy.document import PolicyKind, PrincipalSet, Statement
from .decision import Decision, DecisionKind, fail_closed
from .policyset import PolicyGroup, PolicySets
from .principal import IAM_KINDS, Principal, PrincipalKind
from .request import Request, parse_resource

# Principal match levels (reference §2.4), ranked.
NO_MATCH, ACCOUNT_LEVEL, ROLE_LEVEL, DIRECT_LEVEL = 0, 1, 2, 3
PARENT_LEVEL = ROLE_LEVEL  # a federated session of the named user: cut by boundary/session like a role grant

TRUST_ACTIONS = frozenset(
    {
        "sts:assumerole",
        "sts:assumerolewithsaml",
        "sts:assumerolewithwebidentity",
        "sts:tagsession",
        "sts:setsourceidentity",
    }
)
_ASSUME_ACTIONS = frozenset({"sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity"})
_GET_CALLER_IDENTITY = "sts:getcalleridentity"

ALLOW = DecisionKind.ALLOW
EXPLICIT = DecisionKind.EXPLICIT_DENY
IMPLICIT = DecisionKind.IMPLICIT_DENY


def principal_level(ps: PrincipalSet, p: Principal) -> int:
    """How a Principal element matches the requester (reference §2.4)."""
    if ps.any:
        return DIRECT_LEVEL
    k = p.kind
    level = NO_MATCH
    if k is PrincipalKind.USER:
        if p.arn in ps.users or (p.unique_id and p.unique_id in ps.unique_ids):
            return DIRECT_LEVEL
    elif k is PrincipalKind.ROLE_SESSION or k is PrincipalKind.ROLE:
        if k is PrincipalKind.ROLE_SESSION and p.arn in ps.sessions:
            return DIRECT_LEVEL
        if p.role_key in ps.roles or (p.role_id and p.role_id in ps.unique_ids):
            level = ROLE_LEVEL
    elif k is PrincipalKind.FEDERATED_USER:
        if p.arn in ps.federated_users:
            return DIRECT_LEVEL
        if p.parent_user_arn in ps.users or (p.parent_user_id and p.parent_user_id in ps.unique_ids):
            level = PARENT_LEVEL
    elif k is PrincipalKind.SERVICE:
        return DIRECT_LEVEL if p.name in ps.services else NO_MATCH
    elif k is PrincipalKind.ANONYMOUS:
        return NO_MATCH
    if level == NO_MATCH and p.account in ps.accounts:
        return ACCOUNT_LEVEL
    return level


def not_principal_excludes(ps: PrincipalSet, p: Principal) -> bool:
    """NotPrincipal spares the requester only when every link of its identity chain is listed
    (account; then user / role and session / federated user) — §2.4, §9 item 16."""
    if ps.any:
        return True
    k = p.kind
    if k is PrincipalKind.ANONYMOUS:
        return False
    if k is PrincipalKind.SERVICE:
        return p.name in ps.services
    if p.account not in ps.accounts:
        return False
    if k is PrincipalKind.ROOT:
        return True
    if k is PrincipalKind.USER:
        return p.arn in ps.users or bool(p.unique_id and p.unique_id in ps.unique_ids)
    role_listed = p.role_key in ps.roles or bool(p.role_id and p.role_id in ps.unique_ids)
    if k is PrincipalKind.ROLE:
        return role_listed
    if k is PrincipalKind.ROLE_SESSION:
        return role_listed and p.arn in ps.sessions
    return p.arn in ps.federated_users


class _Evaluation:
    """The state of one decision. The context is built on first use: a decision whose
    candidate statements have no condition and no policy variable never builds it."""

    __slots__ = ("_ctx", "has_boundary", "norm", "now", "principal", "request", "split")

    def __init__(self, request: Request, has_boundary: bool, now: float | None) -> None:
        self.request = request
        self.principal = request.principal
        self.split = request.resource_split
        self.norm = request.resource_norm
        self.has_boundary = has_boundary
        self.now = now
        self._ctx: dict[str, object] | None = None

    @property
    def ctx(self) -> dict[str, object]:
        ctx = self._ctx
        if ctx is None:
            ctx = self._ctx = build_context(self.request, self.now)
        return ctx

    def principal_applies(self, st: Statement) -> bool:
        ps = st.principal
        if ps is None:
            return True
        if st.not_principal:
            if self.has_boundary and self.principal.kind in (
                PrincipalKind.USER,
                PrincipalKind.ROLE_SESSION,
                PrincipalKind.ROLE,
            ):
                return True  # a NotPrincipal Deny always hits a principal with a boundary (§2.4)
            return not not_principal_excludes(ps, self.principal)
        return principal_level(ps, self.principal) != NO_MATCH

    def applicable(
        self, statements: tuple[Statement, ...], out: list[Statement] | None = None
    ) -> Statement | None:
        """The first statement that applies (resource, principal, condition; the action index
        already matched the action). With ``out``, collect every one instead. Inlined: this
        loop is the hot path of every decision."""
        split, norm = self.split, self.norm
        for st in statements:
            if not st.resource_all:
                if st.resource_templates or st.not_resource or norm is None:
                    ctx = self.ctx if st.resource_templates else _NO_CONTEXT
                    if not st.matches_resource(split, ctx, norm):
                        continue
                elif not st.resource_static(norm):  # the common case: one C call
                    continue
            if st.principal is not None and not self.principal_applies(st):
                continue
            cond = st.condition
            if cond is not None:
                ctx = self.ctx
                for clause in cond.clauses:
                    if not clause.evaluate(ctx):
                        break
                else:
                    cond = None
                if cond is not None:
                    continue
            if out is None:
                return st
            out.append(st)
        return None

    def applies(self, st: Statement) -> bool:
        return self.applicable((st,)) is not None

    def first_allow(self, group: PolicyGroup, action: str) -> Statement | None:
        return self.applicable(group.for_action(action)[1])

    def best_resource_allow(self, group: PolicyGroup, action: str) -> tuple[int, Statement | None]:
        best, best_st = NO_MATCH, None
        p = self.principal
        for st in group.for_action(action)[1]:
            if st.principal is None:
                continue
            level = principal_level(st.principal, p)
            if level > best and self.applies(st):
                best, best_st = level, st
                if level == DIRECT_LEVEL:
                    break
        return best, best_st


_NO_CONTEXT: dict[str, object] = {}
_time_memo: dict[int, tuple[str, str]] = {}


def _clock_keys(now: float) -> tuple[str, str]:
    second = int(now)
    hit = _time_memo.get(second)
    if hit is None:
        stamp = datetime.fromtimestamp(second, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        hit = (stamp, str(second))
        if len(_time_memo) > 64:
            _time_memo.clear()
        _time_memo[second] = hit
    return hit


def build_context(request: Request, now: float | None) -> dict[str, object]:
    """Derived keys (principal, resource account, clock) overlaid by the request's own keys,
    then by the resource keys the snapshot knows. The gRPC server never lets a caller set
    principal keys; the test runner may (FORMAT.md)."""
    return context_for(request.principal, request.owner, now, request.context, request.resource_context)


def context_for(
    principal: Principal,
    owner: str,
    now: float | None,
    context: Mapping[str, object] | None,
    resource_context: Mapping[str, object] | None,
) -> dict[str, object]:
    """The condition context of a decision (one implementation for both paths)."""
    ctx = dict(principal.context)
    if owner:
        ctx["aws:resourceaccount"] = owner
    if now is not None:
        ctx["aws:currenttime"], ctx["aws:epochtime"] = _clock_keys(now)
    if context:
        ctx.update(context)
    if resource_context:
        ctx.update(resource_context)
    return ctx


def evaluate(request: Request, policy_sets: PolicySets, now: float | None = None) -> Decision:
    """Decide ``request`` against ``policy_sets``; ``now`` (epoch seconds) feeds
    aws:CurrentTime / aws:EpochTime. Never raises, never allows on an internal error."""
    try:
        ev = _Evaluation(request, policy_sets.boundary is not None, now)
        decision = _decide(ev, request, policy_sets)
        if request.explain and decision.kind is not ALLOW:
            decision = decision.with_missing_keys(_missing_keys(ev, request, policy_sets))
        return decision
    except AmbiguousKeyError as exc:
        return fail_closed(str(exc))
    except Exception as exc:  # fail closed: any defect here must deny, not allow
        return fail_closed(f"{type(exc).__name__}: {exc}")


_FAST_KINDS = frozenset({PrincipalKind.USER, PrincipalKind.ROLE, PrincipalKind.ROLE_SESSION})
_IDENTITY_DENY = f"explicitly denied by {PolicyKind.IDENTITY.with_article}"
_IDENTITY_ALLOW = "allowed by identity-based policy"
_NO_IDENTITY_ALLOW = "no identity-based policy allows the action"


def decide_identity_only(
    principal: Principal,
    sets: PolicySets,
    action: str,
    resource: str,
    owner: str,
    context: Mapping[str, object] | None,
    resource_context: Mapping[str, object] | None,
    now: float | None,
) -> Decision | None:
    """The common decision, without the general machinery: a user or role session whose
    policies are identity policies (and SCP levels), asking about a resource of its own
    account that has no resource policy, outside STS, KMS keys and the optional service rules.
    Then the algorithm reduces to: an applicable SCP Deny, then identity Deny → explicit deny;
    a level without an applicable SCP Allow → implicit deny; an identity Allow → allow; else
    implicit deny. Returns None whenever anything else could matter (the caller then runs
    :func:`evaluate`, whose answer this must equal, statements and reasons included: the
    differential tests compare them). ``action`` is lower-case."""
    if (
        sets.resource is not None
        or sets.boundary is not None
        or sets.session is not None
        or sets.options.service_rules
        or principal.kind not in _FAST_KINDS
        or owner != principal.account
    ):
        return None
    service = action.partition(":")[0]
    if service == "sts" or service == "kms":
        return None
    split, norm, partition, _ = parse_resource(resource)
    if partition is not None and partition != principal.partition and partition != "*":
        return None
    scps = sets.scp_levels if not principal.is_service_linked else ()
    rcp_services = sets.options.rcp_services
    rcps = (
        sets.rcp_levels
        if not principal.is_service_linked and (rcp_services is None or service in rcp_services)
        else ()
    )
    scan = _Scan(principal, split, norm, owner, now, context, resource_context)
    try:
        for level in rcps:  # RCPs only deny, and name every principal ("*")
            candidates = level.for_action(action)[0]
            if any(st.principal is None or not st.principal.any or st.not_principal for st in candidates):
                return None
            st = scan.first(candidates)
            if st is not None:
                return Decision(EXPLICIT, _RCP_DENY, (st,), PolicyKind.RCP)
        for level in scps:
            st = scan.first(level.for_action(action)[0])
            if st is not None:
                return Decision(EXPLICIT, _SCP_DENY, (st,), PolicyKind.SCP)
        denies, allows = sets.identity.for_action(action)
        st = scan.first(denies)
        if st is not None:
            return Decision(EXPLICIT, _IDENTITY_DENY, (st,), PolicyKind.IDENTITY)
        matched: list[Statement] = []
        for i, level in enumerate(scps):
            st = scan.first(level.for_action(action)[1])
            if st is None:
                return Decision(IMPLICIT, _scp_level_reason(i), tuple(matched), PolicyKind.SCP)
            matched.append(st)
        st = scan.first(allows)
    except Exception:  # let the general path decide (and fail closed) with its own reason
        return None
    if st is None:
        return Decision(IMPLICIT, _NO_IDENTITY_ALLOW, tuple(matched), PolicyKind.IDENTITY)
    matched.append(st)
    return Decision(ALLOW, _IDENTITY_ALLOW, tuple(matched), PolicyKind.IDENTITY)


class _Scan:
    """Statement applicability for the short path: resource and condition only (identity
    policies and SCPs name no principal); the context is built on first need."""

    __slots__ = ("_ctx", "context", "norm", "now", "owner", "principal", "resource_context", "split")

    def __init__(
        self,
        principal: Principal,
        split: tuple[str, str] | None,
        norm: str | None,
        owner: str,
        now: float | None,
        context: Mapping[str, object] | None,
        resource_context: Mapping[str, object] | None,
    ) -> None:
        self.principal = principal
        self.split = split
        self.norm = norm
        self.owner = owner
        self.now = now
        self.context = context
        self.resource_context = resource_context
        self._ctx: dict[str, object] | None = None

    def ctx(self) -> dict[str, object]:
        ctx = self._ctx
        if ctx is None:
            ctx = self._ctx = context_for(
                self.principal, self.owner, self.now, self.context, self.resource_context
            )
        return ctx

    def first(self, statements: tuple[Statement, ...]) -> Statement | None:
        norm = self.norm
        for st in statements:
            if not st.resource_all:
                if st.resource_templates or st.not_resource or norm is None:
                    ctx = self.ctx() if st.resource_templates else _NO_CONTEXT
                    if not st.matches_resource(self.split, ctx, norm):
                        continue
                elif not st.resource_static(norm):
                    continue
            cond = st.condition
            if cond is not None and not cond.evaluate(self.ctx()):
                continue
            return st
        return None


def _scp_level_reason(level: int) -> str:
    return (
        f"no service control policy allows the action at organisation level {level} (every level must allow)"
    )


_SCP_DENY = f"explicitly denied by {PolicyKind.SCP.with_article}"
_RCP_DENY = f"explicitly denied by {PolicyKind.RCP.with_article}"


def _rcps_apply(request: Request, sets: PolicySets) -> bool:
    services = sets.options.rcp_services
    return (
        bool(sets.rcp_levels)
        and not request.principal.is_service_linked
        and (services is None or request.service in services)
    )


def _groups_in_force(request: Request, sets: PolicySets) -> tuple[PolicyGroup, ...]:
    """Every group whose Deny statements count for this request, in algorithm order."""
    rcp = _rcps_apply(request, sets)
    scp = bool(sets.scp_levels) and _scps_apply(request.principal)
    if not rcp and not scp:
        return sets.own_groups
    return (
        *(sets.rcp_levels if rcp else ()),
        *(sets.scp_levels if scp else ()),
        *sets.own_groups,
    )


def _scps_apply(p: Principal) -> bool:
    return p.kind in IAM_KINDS and not p.is_service_linked


def _decide(ev: _Evaluation, request: Request, sets: PolicySets) -> Decision:
    p = request.principal
    action = request.action_lower
    if action == _GET_CALLER_IDENTITY and p.kind in IAM_KINDS:
        return Decision(ALLOW, "sts:GetCallerIdentity is allowed for every authenticated principal")

    # Step 2: an explicit Deny anywhere wins.
    denied: list[Statement] = []
    explain = request.explain
    for group in _groups_in_force(request, sets):
        denies = group.for_action(action)[0]
        if not denies:
            continue
        if explain:
            ev.applicable(denies, denied)
        else:
            st = ev.applicable(denies)
            if st is not None:
                denied.append(st)
                break
    if denied:
        first = denied[0].policy.kind
        return Decision(EXPLICIT, f"explicitly denied by {first.with_article}", tuple(denied), first)

    # Step 3: service rules that no policy can override.
    if request.service == "sts" or sets.options.service_rules:
        rule = _service_rule(request, sets)
        if rule is not None:
            return Decision(IMPLICIT, rule)

    if p.kind is PrincipalKind.ANONYMOUS or p.kind is PrincipalKind.SERVICE:
        return _decide_without_identity(ev, request, sets)

    # Step 4: every SCP level of the principal's account must allow.
    matched: list[Statement] = []
    if sets.scp_levels and _scps_apply(p):
        for i, scp_level in enumerate(sets.scp_levels):
            st = ev.first_allow(scp_level, action)
            if st is None:
                return Decision(
                    IMPLICIT,
                    _scp_level_reason(i),
                    tuple(matched),
                    PolicyKind.SCP,
                )
            matched.append(st)

    # Step 5: the resource-based policy.
    level, rbp_st = NO_MATCH, None
    if sets.resource is not None:
        level, rbp_st = ev.best_resource_allow(sets.resource, action)
        if rbp_st is not None:
            matched.append(rbp_st)
    owner = request.owner
    partition = request.partition
    cross_partition = partition is not None and partition != p.partition and partition != "*"
    trust_request = action in TRUST_ACTIONS and _is_role_arn(request)
    needs_rbp = trust_request or (request.service == "kms" and _is_kms_key(request))
    same_account = owner == p.account and not cross_partition

    if same_account:
        if needs_rbp and level == NO_MATCH:
            what = "role trust policy" if trust_request else "KMS key policy"
            return Decision(
                IMPLICIT,
                f"the {what} does not allow this principal (it must, whatever identity policies say)",
                tuple(matched),
                PolicyKind.TRUST if trust_request else PolicyKind.RESOURCE,
            )
        if level == DIRECT_LEVEL:
            if trust_request and sets.boundary is not None and ev.first_allow(sets.boundary, action) is None:
                return Decision(
                    IMPLICIT,
                    "the permissions boundary does not allow the action (required for "
                    "role assumption even when the trust policy names the principal)",
                    tuple(matched),
                    PolicyKind.BOUNDARY,
                )
            return Decision(
                ALLOW,
                "allowed by a resource-based policy that names the principal",
                tuple(matched),
                rbp_st.policy.kind if rbp_st else PolicyKind.RESOURCE,
            )
        rbp_grant = level == ROLE_LEVEL
        return _identity_side(
            ev,
            request,
            sets,
            matched,
            rbp_grant,
            allow_reason=(
                "allowed by a resource-based policy naming the role or parent user, within boundary "
                "and session policies"
                if rbp_grant
                else "allowed by identity-based policy"
            ),
        )

    # Cross account: the principal's account and the resource's account must both allow.
    if cross_partition:
        return Decision(
            IMPLICIT,
            f"the resource is in partition {partition!r}, the principal in {p.partition!r}",
            tuple(matched),
        )
    side = _identity_side(ev, request, sets, matched, False, allow_reason="")
    if side.kind is not ALLOW:
        return side
    if level == NO_MATCH:
        what = "no resource-based policy" if sets.resource is None else "the resource-based policy does not"
        verb = "exists" if sets.resource is None else "allow the principal"
        return Decision(
            IMPLICIT,
            f"cross-account request: {what} {verb}; the resource's account must allow it too",
            tuple(matched),
            PolicyKind.RESOURCE,
        )
    return Decision(
        ALLOW,
        "cross-account request allowed by both the principal's policies and the resource-based policy",
        tuple(matched),
        PolicyKind.RESOURCE,
    )


def _identity_side(
    ev: _Evaluation,
    request: Request,
    sets: PolicySets,
    matched: list[Statement],
    rbp_grant: bool,
    allow_reason: str,
) -> Decision:
    """Steps 6–8: identity policies (or a role/parent-level resource grant), boundary, session."""
    p = request.principal
    action = request.action_lower
    if p.kind is PrincipalKind.ROOT:
        return Decision(
            ALLOW,
            "the account root user needs no identity-based policy",
            tuple(matched),
            PolicyKind.IDENTITY,
        )
    st = ev.first_allow(sets.identity, action)
    if st is not None:
        matched.append(st)
    elif not rbp_grant:
        return Decision(
            IMPLICIT, "no identity-based policy allows the action", tuple(matched), PolicyKind.IDENTITY
        )
    if sets.boundary is not None:
        st = ev.first_allow(sets.boundary, action)
        if st is None:
            return Decision(
                IMPLICIT,
                "the permissions boundary does not allow the action",
                tuple(matched),
                PolicyKind.BOUNDARY,
            )
        matched.append(st)
    if p.is_session:
        if sets.session is not None:
            st = ev.first_allow(sets.session, action)
            if st is None:
                return Decision(
                    IMPLICIT,
                    "the session policies do not allow the action",
                    tuple(matched),
                    PolicyKind.SESSION,
                )
            matched.append(st)
        elif p.kind is PrincipalKind.FEDERATED_USER:
            return Decision(
                IMPLICIT,
                "a federated-user session without a session policy has no permissions",
                tuple(matched),
                PolicyKind.SESSION,
            )
    return Decision(
        ALLOW, allow_reason or "allowed by identity-based policy", tuple(matched), PolicyKind.IDENTITY
    )


def _decide_without_identity(ev: _Evaluation, request: Request, sets: PolicySets) -> Decision:
    """Anonymous callers and service principals: only a resource policy that names them
    (``*``, or the service) can allow; SCPs do not apply."""
    if sets.resource is not None:
        level, st = ev.best_resource_allow(sets.resource, request.action_lower)
        if level == DIRECT_LEVEL and st is not None:
            return Decision(
                ALLOW,
                "allowed by a resource-based policy that grants this caller",
                (st,),
                st.policy.kind,
            )
    who = (
        "an anonymous caller" if request.principal.kind is PrincipalKind.ANONYMOUS else "a service principal"
    )
    return Decision(IMPLICIT, f"no resource-based policy grants {who}", (), PolicyKind.RESOURCE)


def _is_role_arn(request: Request) -> bool:
    split = request.resource_split
    return split is not None and split[0].split(":")[2] == "iam" and split[1].startswith("role/")


def _is_kms_key(request: Request) -> bool:
    split = request.resource_split
    return (
        request.service == "kms"
        and split is not None
        and split[0].split(":")[2] == "kms"
        and split[1].startswith("key/")
    )


_FEDERATION_TOKENS = frozenset({"sts:getfederationtoken", "sts:getsessiontoken"})
_ROLE_WRITE_PREFIXES = (
    "create",
    "delete",
    "update",
    "put",
    "attach",
    "detach",
    "tag",
    "untag",
    "add",
    "remove",
)
_MANAGED_POLICY_WRITES = frozenset(
    {
        "iam:createpolicy",
        "iam:createpolicyversion",
        "iam:deletepolicy",
        "iam:deletepolicyversion",
        "iam:setdefaultpolicyversion",
        "iam:tagpolicy",
        "iam:untagpolicy",
    }
)


def _service_rule(request: Request, sets: PolicySets) -> str | None:
    """AWS behaviours outside policy evaluation: temporary-credential limits (§3.6), root and
    AssumeRole, and, when enabled, the optional rules of §9 item 21."""
    p = request.principal
    action = request.action_lower
    if request.service == "sts":
        if p.kind is PrincipalKind.ROOT and action in _ASSUME_ACTIONS:
            return "roles may not be assumed by root accounts"
        if p.kind in (PrincipalKind.ROLE_SESSION, PrincipalKind.ROLE) and action in _FEDERATION_TOKENS:
            return "role sessions cannot call sts:GetFederationToken or sts:GetSessionToken"
        if p.kind is PrincipalKind.FEDERATED_USER and action != _GET_CALLER_IDENTITY:
            return "federated-user sessions may call no STS API except GetCallerIdentity"
    if not sets.options.service_rules or request.resource_split is None:
        return None
    prefix, rest = request.resource_split
    service = prefix.split(":")[2]
    name = action.partition(":")[2]
    if (
        action in ("kms:createalias", "kms:updatealias", "kms:deletealias")
        and service == "kms"
        and rest.startswith("alias/aws/")
    ):
        return "AWS-managed KMS aliases (alias/aws/*) cannot be changed"
    if request.service == "iam" and service == "iam":
        if (
            rest.startswith("role/aws-reserved/") or rest.startswith("role/aws-service-role/")
        ) and name.startswith(_ROLE_WRITE_PREFIXES):
            return "protected IAM roles (aws-reserved, service-linked) cannot be changed"
        if action in _MANAGED_POLICY_WRITES and prefix.endswith(":aws") and rest.startswith("policy/"):
            return "AWS-managed policies cannot be created, versioned, deleted or tagged"
    return None


def _missing_keys(ev: _Evaluation, request: Request, sets: PolicySets) -> tuple[str, ...]:
    """For explanations: the keys whose absence made an otherwise matching statement's
    condition false."""
    ctx = ev.ctx
    keys: list[str] = []
    for group in _groups_in_force(request, sets):
        denies, allows = group.for_action(request.action_lower)
        for st in (*denies, *allows):
            cond = st.condition
            if cond is None or not st.matches_resource(ev.split, ctx, ev.norm):
                continue
            if st.principal is not None and not ev.principal_applies(st):
                continue
            if not cond.evaluate(ctx):
                keys.extend(cond.missing_keys(ctx))
    return tuple(dict.fromkeys(keys))
