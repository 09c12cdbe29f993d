"""Snapshot → :class:`CompiledSnapshot`: what a decision needs, computed once per snapshot.

Per principal (user, role, account root) the merged identity statements (user + groups, or
role), the boundary and the SCP chain of its account; per account the RCP chain; per resource
its policy and the keys the snapshot knows about it (tags, owner, organisation). Identity sets
with the same policies are shared, so their action indexes are too. A CompiledSnapshot never
changes after it is built; its memos (session principals, policy sets per resource, context
keys per action) are bounded caches of pure functions of it.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from typing import Any

from ..policy.document import Policy, PolicyKind, PolicyRef
from ..snapshot.model import Account, Organization, Role, Snapshot, User
from .cache import DecisionCache
from .decision import Decision
from .evaluate import decide_identity_only, evaluate
from .policyset import DEFAULT_ENGINE_OPTIONS, EngineOptions, PolicyGroup, PolicySets
from .principal import Principal, PrincipalError, PrincipalKind
from .request import Request, parse_resource

_TIME_KEYS = frozenset({"aws:currenttime", "aws:epochtime"})
_EMPTY_CONTEXT: Mapping[str, object] = {}
ANONYMOUS = "anonymous"  # the principal "ARN" of an unauthenticated caller
_MEMO_LIMIT = 65536


class PrincipalEntry:
    """A resolved requester: the principal, its base policy sets (identity, boundary, SCPs),
    and ``key``, the identity the decision cache uses."""

    __slots__ = ("key", "principal", "sets")

    def __init__(self, principal: Principal, sets: PolicySets, key: str) -> None:
        self.principal = principal
        self.sets = sets
        self.key = key


class ResourceEntry:
    """A resource the snapshot knows: owner, resource-based policy, derived keys.
    ``owns_tags``: the snapshot holds this very resource, so its tags are all it has (false
    for the objects of a known bucket: they share its policy, not its tags)."""

    __slots__ = ("account", "arn", "context", "owns_tags", "policy")

    def __init__(
        self,
        arn: str,
        account: str,
        policy: PolicyGroup | None,
        context: dict[str, object],
        owns_tags: bool = True,
    ) -> None:
        self.arn = arn
        self.account = account
        self.policy = policy
        self.context = context
        self.owns_tags = owns_tags


_RESOURCE_KEY_PREFIXES = (
    "aws:resourcetag/",
    "aws:resourceaccount",
    "aws:resourceorgid",
    "aws:resourceorgpaths",
)


def _snapshot_resource_keys(context: Mapping[str, object], known: ResourceEntry) -> Mapping[str, object]:
    """The request context without the caller's resource keys the snapshot owns (API.md:
    resource keys come from the snapshot when it knows the resource): a caller's
    aws:ResourceAccount / ResourceOrgID / ResourceOrgPaths, and — for a resource the snapshot
    holds itself — aws:ResourceTag/*, are dropped unless the snapshot supplies the same key
    (then its value wins anyway). Objects of a known bucket keep the caller's tags: the
    bucket's tags are not theirs."""
    prefixes = _RESOURCE_KEY_PREFIXES if known.owns_tags else _RESOURCE_KEY_PREFIXES[1:]
    if not any(k.startswith(prefixes) for k in context):
        return context
    own = known.context
    return {k: v for k, v in context.items() if not k.startswith(prefixes) or k in own}


def _is_bucket(arn: str) -> bool:
    parts = arn.split(":", 5)
    return len(parts) == 6 and parts[2] == "s3" and "/" not in parts[5]


def _tags_context(prefix: str, tags: Mapping[str, str]) -> dict[str, object]:
    return {prefix + key.lower(): value for key, value in tags.items()}


class CompiledSnapshot:
    """The immutable, indexed form of a snapshot. ``authorize`` is the request path."""

    def __init__(
        self, snapshot: Snapshot, *, options: EngineOptions = DEFAULT_ENGINE_OPTIONS, indexed: bool = True
    ) -> None:
        started = time.perf_counter()
        self.indexed = indexed
        self.snapshot = snapshot
        self.version = snapshot.version
        self.sha256 = snapshot.sha256
        self.partition = snapshot.partition
        self.options = options
        self.principals: dict[str, PrincipalEntry] = {}
        self.roles: dict[tuple[str, str], Role] = {}  # (account, lower-case name)
        self.role_entries: dict[str, PrincipalEntry] = {}  # by role ARN
        self.users_by_access_key: dict[str, User] = {}
        self.users_by_arn: dict[str, User] = {}
        self.resources: dict[str, ResourceEntry] = {}
        self.scp_levels: dict[str, tuple[PolicyGroup, ...]] = {}
        self.rcp_levels: dict[str, tuple[PolicyGroup, ...]] = {}
        self.org_context: dict[str, tuple[dict[str, object], dict[str, object]]] = {}
        self._managed: dict[str, Policy] = {
            arn: mp.policy for arn, mp in snapshot.aws_managed_policies.items()
        }
        self._identity_groups: dict[tuple[int, ...], PolicyGroup] = {}
        self._boundary_groups: dict[str, PolicyGroup] = {}
        self._sessions: dict[str, PrincipalEntry] = {}
        self._buckets: dict[str, ResourceEntry] = {}  # S3 bucket ARN → the entry of its objects
        self._anonymous = PrincipalEntry(Principal.anonymous(), PolicySets(options=options), ANONYMOUS)
        self._sets: dict[tuple[Any, ...], PolicySets] = {}
        self._keys: dict[tuple[int, str], tuple[PolicySets, tuple[str, ...]]] = {}
        for account in snapshot.accounts:
            for mp in account.policies:
                self._managed[mp.arn] = mp.policy
        self._compile_organization(snapshot.organization)
        for account in snapshot.accounts:
            self._compile_account(account)
        self.counts = {
            "accounts": len(snapshot.accounts),
            "users": sum(len(a.users) for a in snapshot.accounts),
            "groups": sum(len(a.groups) for a in snapshot.accounts),
            "roles": sum(len(a.roles) for a in snapshot.accounts),
            "policies": len(self._managed),
            "resources": sum(len(a.resources) for a in snapshot.accounts),
            "statements": snapshot.statement_count(),
        }
        self._identity_groups.clear()  # only needed while compiling
        self._boundary_groups.clear()
        self.compile_seconds = time.perf_counter() - started

    # --- compilation ---------------------------------------------------------------------

    def _compile_organization(self, org: Organization | None) -> None:
        if org is None:
            return
        unit_groups = {
            u.id: (
                self._group([org.policies[name] for name in u.scps]),
                self._group([org.policies[name] for name in u.rcps]) if u.rcps else None,
            )
            for u in org.units
        }
        self._unit_groups = unit_groups

    def _org_levels(self, account: Account) -> tuple[tuple[PolicyGroup, ...], tuple[PolicyGroup, ...]]:
        org = self.snapshot.organization
        if org is None or account.unit is None or account.id == org.management_account:
            return (), ()  # outside the organisation, or its management account
        path = org.unit_path(account.unit)
        scps = [self._unit_groups[u.id][0] for u in path]
        scps.append(self._group([org.policies[name] for name in account.scps]))
        rcps = [g for u in path if (g := self._unit_groups[u.id][1]) is not None]
        if account.rcps:
            rcps.append(self._group([org.policies[name] for name in account.rcps]))
        return tuple(scps), tuple(rcps)

    def _org_keys(self, account: Account) -> tuple[dict[str, object], dict[str, object]]:
        org = self.snapshot.organization
        if org is None or account.unit is None:
            return {}, {}
        units = "/".join(u.id for u in org.unit_path(account.unit))
        paths = (f"{org.id}/{units}/",)
        return (
            {"aws:principalorgid": org.id, "aws:principalorgpaths": paths},
            {"aws:resourceorgid": org.id, "aws:resourceorgpaths": paths},
        )

    def _group(self, policies: list[Policy]) -> PolicyGroup:
        return PolicyGroup(policies, indexed=self.indexed)

    def _identity(self, policies: list[Policy]) -> PolicyGroup:
        key = tuple(id(p) for p in policies)
        group = self._identity_groups.get(key)
        if group is None:
            group = self._identity_groups[key] = self._group(policies)
        return group

    def _boundary(self, arn: str | None) -> PolicyGroup | None:
        """The boundary group of a managed policy: its statements again, each naming the
        policy as a boundary, so an explanation says which role the policy played."""
        if arn is None:
            return None
        group = self._boundary_groups.get(arn)
        if group is None:
            ref = PolicyRef(PolicyKind.BOUNDARY, self._managed[arn].name)
            statements = []
            for st in self._managed[arn].statements:
                clone = copy.copy(st)
                clone.policy = ref
                statements.append(clone)
            group = self._boundary_groups[arn] = PolicyGroup(statements=statements, indexed=self.indexed)
        return group

    def _entry(
        self,
        principal: Principal,
        policies: list[Policy],
        boundary: str | None,
        scps: tuple[PolicyGroup, ...],
    ) -> PrincipalEntry:
        sets = PolicySets(
            identity=self._identity(policies),
            boundary=self._boundary(boundary),
            scp_levels=scps,
            options=self.options,
        )
        return PrincipalEntry(principal, sets, principal.arn)

    def _compile_account(self, account: Account) -> None:
        partition = self.partition
        scps, rcps = self._org_levels(account)
        self.scp_levels[account.id] = scps
        self.rcp_levels[account.id] = rcps
        principal_keys, resource_keys = self._org_keys(account)
        self.org_context[account.id] = (principal_keys, resource_keys)
        base = PolicySets(scp_levels=scps, options=self.options)

        root = Principal(
            PrincipalKind.ROOT,
            arn=f"arn:{partition}:iam::{account.id}:root",
            partition=partition,
            account=account.id,
            extra_context=principal_keys,  # type: ignore[arg-type]
        )
        self.principals[root.arn] = PrincipalEntry(root, base, root.arn)

        groups = {g.name: g for g in account.groups}
        for user in account.users:
            policies = [*user.inline_policies, *(self._managed[a] for a in user.managed_policies)]
            for name in user.groups:
                group = groups[name]
                policies.extend(group.inline_policies)
                policies.extend(self._managed[a] for a in group.managed_policies)
            principal = Principal(
                PrincipalKind.USER,
                arn=user.arn,
                partition=partition,
                account=account.id,
                name=user.name,
                unique_id=user.id,
                tags=user.tags,
                extra_context=principal_keys,  # type: ignore[arg-type]
            )
            self.principals[user.arn] = self._entry(principal, policies, user.permissions_boundary, scps)
            self.users_by_arn[user.arn] = user
            for key in user.access_keys:
                self.users_by_access_key[key.id] = user

        for role in account.roles:
            policies = [*role.inline_policies, *(self._managed[a] for a in role.managed_policies)]
            # SCPs and RCPs do not apply to service-linked roles (the engine checks the path).
            principal = Principal(
                PrincipalKind.ROLE,
                arn=role.arn,
                partition=partition,
                account=account.id,
                name=role.name,
                role_arn=role.arn,
                role_id=role.id,
                tags=role.tags,
                extra_context=principal_keys,  # type: ignore[arg-type]
            )
            entry = self._entry(principal, policies, role.permissions_boundary, scps)
            self.principals[role.arn] = entry
            self.role_entries[role.arn] = entry
            self.roles[(account.id, role.name.lower())] = role
            # The role as a resource: its trust policy is the resource policy of sts:AssumeRole.
            ctx: dict[str, object] = {"aws:resourceaccount": account.id, **resource_keys}
            ctx.update(_tags_context("aws:resourcetag/", role.tags))
            self.resources[role.arn] = ResourceEntry(
                role.arn, account.id, self._group([role.trust_policy]), ctx
            )

        for resource in account.resources:
            ctx = {"aws:resourceaccount": account.id, **resource_keys}
            ctx.update(_tags_context("aws:resourcetag/", resource.tags))
            policy = self._group([resource.policy]) if resource.policy is not None else None
            self.resources[resource.arn] = ResourceEntry(resource.arn, account.id, policy, ctx)
            if _is_bucket(resource.arn):
                # Objects belong to their bucket: its policy and owner govern them. The bucket's
                # tags are not the objects' tags, so those keys stay with the bucket.
                object_ctx = {"aws:resourceaccount": account.id, **resource_keys}
                self._buckets[resource.arn] = ResourceEntry(
                    resource.arn + "/*", account.id, policy, object_ctx, owns_tags=False
                )

    # --- the request path ----------------------------------------------------------------

    def resolve_principal(self, arn: str) -> PrincipalEntry:
        """The requester for a principal ARN. A role-session ARN gets its role's policies; an
        ARN the snapshot does not know gets no identity policies (only resource policies can
        grant it) but its account's SCPs. Raises PrincipalError for a non-principal ARN."""
        entry = self.principals.get(arn) or self._sessions.get(arn)
        if entry is not None:
            return entry
        if arn == ANONYMOUS:
            return self._anonymous
        principal = Principal.from_arn(arn)
        account = principal.account
        org_keys = self.org_context.get(account, ({}, {}))[0]
        base: PolicySets | None = None
        if principal.kind is PrincipalKind.ROLE_SESSION:
            role = self.roles.get((account, principal.name.lower()))
            if role is not None:
                role_entry = self.role_entries[role.arn]
                principal = Principal(
                    PrincipalKind.ROLE_SESSION,
                    arn=arn,
                    partition=principal.partition,
                    account=account,
                    name=role.name,
                    session_name=principal.session_name,
                    role_arn=role.arn,
                    role_id=role.id,
                    tags=role.tags,
                    extra_context=org_keys,  # type: ignore[arg-type]
                )
                base = role_entry.sets
        if base is None:
            if org_keys:
                principal = Principal.from_arn(arn, extra_context=org_keys)  # type: ignore[arg-type]
            base = PolicySets(scp_levels=self.scp_levels.get(account, ()), options=self.options)
        entry = PrincipalEntry(principal, base, arn)
        if len(self._sessions) >= _MEMO_LIMIT:
            self._sessions.clear()
        self._sessions[arn] = entry
        return entry

    def managed_policy(self, arn: str) -> Policy | None:
        """A customer- or AWS-managed policy by ARN (for session policy ARNs)."""
        return self._managed.get(arn)

    def role(self, arn: str) -> Role | None:
        """The role with exactly this ARN (path included)."""
        entry = self.role_entries.get(arn)
        if entry is None:
            return None
        return self.roles.get((entry.principal.account, entry.principal.name.lower()))

    def session_entry(
        self,
        role_arn: str,
        session_name: str,
        tags: Mapping[str, str],
        extra_context: Mapping[str, object],
    ) -> PrincipalEntry | None:
        """A role session as STS made it: the role's policy sets, the session's effective tags
        (``aws:PrincipalTag/*``) and its session keys (``extra_context``: aws:TokenIssueTime,
        aws:MultiFactorAuthPresent, aws:SourceIdentity, …). None if the role no longer exists."""
        base = self.role_entries.get(role_arn)
        if base is None:
            return None
        role = base.principal
        arn = f"arn:{role.partition}:sts::{role.account}:assumed-role/{role.name}/{session_name}"
        org_keys = self.org_context.get(role.account, ({}, {}))[0]
        principal = Principal(
            PrincipalKind.ROLE_SESSION,
            arn=arn,
            partition=role.partition,
            account=role.account,
            name=role.name,
            session_name=session_name,
            role_arn=role_arn,
            role_id=role.role_id,
            tags=tags,
            extra_context={**org_keys, **extra_context},  # type: ignore[dict-item]
        )
        return PrincipalEntry(principal, base.sets, arn)

    def policy_sets(
        self,
        entry: PrincipalEntry,
        resource: ResourceEntry | None,
        owner: str,
        session: PolicyGroup | None = None,
    ) -> PolicySets:
        """The principal's sets plus the resource policy, the owner's RCPs and any session
        policies; memoised per combination."""
        rcps = self.rcp_levels.get(owner, ())
        policy = resource.policy if resource is not None else None
        if policy is None and not rcps and session is None:
            return entry.sets
        key = (entry.key, id(policy), owner, id(session))
        sets = self._sets.get(key)
        # ids are only unique among live objects: a session group freed and another allocated
        # at its address must not find the first one's sets (the sets hold their groups, so a
        # hit whose groups are these very objects is sound).
        if sets is not None and (sets.session is not session or sets.resource is not policy):
            sets = None
        if sets is None:
            base = entry.sets
            sets = PolicySets(
                identity=base.identity,
                resource=policy,
                boundary=base.boundary,
                scp_levels=base.scp_levels,
                rcp_levels=rcps,
                session=session,
                options=self.options,
            )
            if len(self._sets) >= _MEMO_LIMIT:
                self._sets.clear()
            self._sets[key] = sets
        return sets

    def context_keys(self, sets: PolicySets, action: str) -> tuple[str, ...]:
        """The context keys any candidate statement for ``action`` can read (sorted)."""
        memo_key = (id(sets), action)
        hit = self._keys.get(memo_key)
        if hit is not None and hit[0] is sets:  # the same live object, not a reused id
            return hit[1]
        found: set[str] = set()
        groups = (*sets.rcp_levels, *sets.scp_levels, *sets.own_groups)
        for group in groups:
            denies, allows = group.for_action(action)
            for st in denies:
                found |= st.context_keys
            for st in allows:
                found |= st.context_keys
        keys = tuple(sorted(found))
        if len(self._keys) >= _MEMO_LIMIT:
            self._keys.clear()
        self._keys[memo_key] = (sets, keys)
        return keys

    def context_key_universe(self) -> frozenset[str]:
        """Every context key a statement of this snapshot reads (conditions and variables),
        lower-case; computed on first use. Lets a caller skip building keys nobody reads."""
        cached: frozenset[str] | None = self.__dict__.get("_key_universe")
        if cached is None:
            keys: set[str] = set()
            snap = self.snapshot
            policies: list[Policy] = list(self._managed.values())
            if snap.organization is not None:
                policies.extend(snap.organization.policies.values())
            for account in snap.accounts:
                for user in account.users:
                    policies.extend(user.inline_policies)
                for group in account.groups:
                    policies.extend(group.inline_policies)
                for role in account.roles:
                    policies.append(role.trust_policy)
                    policies.extend(role.inline_policies)
                policies.extend(r.policy for r in account.resources if r.policy is not None)
            for policy in policies:
                for st in policy.statements:
                    keys |= st.context_keys
            cached = self.__dict__["_key_universe"] = frozenset(keys)
        return cached

    def reads_clock(
        self, entry: PrincipalEntry, action: str, resource: str, resource_account: str | None = None
    ) -> bool:
        """Whether a statement that could decide this question reads aws:CurrentTime or
        aws:EpochTime (then its answer may change with the clock alone)."""
        known = self.resource_entry(resource)
        owner = self.owner_of(entry, resource, known, resource_account)
        keys = self.context_keys(self.policy_sets(entry, known, owner), action.lower())
        return not _TIME_KEYS.isdisjoint(keys)

    def resource_entry(self, resource: str) -> ResourceEntry | None:
        """The resource as the snapshot knows it: by its ARN, or an S3 object by its bucket."""
        known = self.resources.get(resource)
        if known is None and self._buckets and ":s3:::" in resource:
            bucket, sep, _ = resource.partition("/")
            if sep:
                known = self._buckets.get(bucket)
        return known

    def owner_of(
        self, entry: PrincipalEntry, resource: str, known: ResourceEntry | None, resource_account: str | None
    ) -> str:
        """Resource ownership (API.md): the request's account, else the account whose resources
        hold the ARN, else the ARN's account, else the principal's."""
        if resource_account:
            return resource_account
        if known is not None:
            return known.account
        return parse_resource(resource)[3] or entry.principal.account

    def prepare(
        self,
        entry: PrincipalEntry,
        action: str,
        resource: str,
        *,
        resource_account: str | None = None,
        context: Mapping[str, object] | None = None,
        explain: bool = False,
        session: PolicyGroup | None = None,
    ) -> tuple[Request, PolicySets]:
        """The engine's request and policy sets for a question. ``context`` must already be
        normalised (lower-case keys, tuples for lists)."""
        known = self.resource_entry(resource)
        owner = self.owner_of(entry, resource, known, resource_account)
        if context and known is not None:
            context = _snapshot_resource_keys(context, known)
        return self._request(entry, action, resource, owner, known, context, explain), self.policy_sets(
            entry, known, owner, session
        )

    @staticmethod
    def _request(
        entry: PrincipalEntry,
        action: str,
        resource: str,
        owner: str,
        known: ResourceEntry | None,
        context: Mapping[str, object] | None,
        explain: bool,
    ) -> Request:
        return Request(
            entry.principal,
            action,
            resource,
            resource_account=owner,
            context=context,
            normalized=True,
            explain=explain,
            resource_context=known.context if known is not None else None,
        )

    def authorize(
        self,
        entry: PrincipalEntry,
        action: str,
        resource: str,
        *,
        resource_account: str | None = None,
        context: Mapping[str, object] | None = None,
        now: float | None = None,
        explain: bool = False,
        session: PolicyGroup | None = None,
        session_key: str = "",
        cache: DecisionCache | None = None,
        scope: int = 0,
    ) -> Decision:
        """Decide, through ``cache`` when given (``scope``: the activation id;
        ``session_key``: what tells apart two sessions with one ARN). A cache hit builds no
        request: the key needs only the owner, the policy sets and the context values."""
        known = self.resource_entry(resource)
        owner = self.owner_of(entry, resource, known, resource_account)
        sets = self.policy_sets(entry, known, owner, session)
        action_lower = action.lower()
        if context and known is not None:
            context = _snapshot_resource_keys(context, known)
        if cache is None or explain:
            if self.indexed and not explain:  # the plain path stays the unabridged reference
                fast = decide_identity_only(
                    entry.principal,
                    sets,
                    action_lower,
                    resource,
                    owner,
                    context,
                    known.context if known is not None else None,
                    now,
                )
                if fast is not None:
                    return fast
            return evaluate(self._request(entry, action, resource, owner, known, context, explain), sets, now)
        keys = self.context_keys(sets, action_lower)
        ctx = context or _EMPTY_CONTEXT
        values = tuple([ctx.get(k) for k in keys])
        clock = int(now) if now is not None and keys and not _TIME_KEYS.isdisjoint(keys) else None
        key = (scope, entry.key, session_key, action_lower, resource, owner, values, clock)
        hit = cache.get(key)
        if hit is not None:
            return hit
        decision = (
            decide_identity_only(
                entry.principal,
                sets,
                action_lower,
                resource,
                owner,
                context,
                known.context if known is not None else None,
                now,
            )
            if self.indexed
            else None
        ) or evaluate(self._request(entry, action, resource, owner, known, context, False), sets, now)
        cache.put(key, decision)
        return decision


def compile_snapshot(
    snapshot: Snapshot, *, options: EngineOptions = DEFAULT_ENGINE_OPTIONS, indexed: bool = True
) -> CompiledSnapshot:
    """Compile a snapshot. ``indexed=False`` builds the plain path: no action index, no
    shared per-action memo — the reference the indexed engine is tested against."""
    return CompiledSnapshot(snapshot, options=options, indexed=indexed)


__all__ = ["CompiledSnapshot", "PrincipalEntry", "PrincipalError", "ResourceEntry", "compile_snapshot"]
