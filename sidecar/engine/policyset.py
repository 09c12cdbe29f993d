"""The policy sets a decision reads, each statement list with a per-action index.

A :class:`PolicyGroup` holds the statements of one or more policies (all identity policies of
a principal, one SCP level, …). ``for_action`` answers "which of my statements can match this
action?" from a memo filled on first use and bounded in size, so a request touches only a
handful of statements whatever the snapshot's size. The memo is a cache of a pure function of
immutable data: filling it needs no lock (a dict store is atomic under the GIL).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..policy.document import Policy, Statement

Candidates = tuple[tuple[Statement, ...], tuple[Statement, ...]]  # (denies, allows)

# AWS's documented list of services that support RCPs (reference §3.2, §9 item 11).
DEFAULT_RCP_SERVICES = frozenset(
    {"s3", "sts", "kms", "sqs", "secretsmanager", "ecr", "aoss", "cognito-identity", "logs", "dynamodb"}
)


class PolicyGroup:
    __slots__ = ("_buckets", "_memo", "indexed", "max_memo", "policies", "statements")

    def __init__(
        self,
        policies: Iterable[Policy] = (),
        *,
        statements: Iterable[Statement] | None = None,
        max_memo: int = 4096,
        indexed: bool = True,
    ) -> None:
        self.policies = tuple(policies)
        if statements is None:
            statements = [st for p in self.policies for st in p.statements]
        self.statements = tuple(statements)
        # indexed=False is the plain path: every lookup scans every statement (the reference
        # the differential tests and benchmarks compare the index against).
        self.indexed = indexed
        self.max_memo = max_memo if indexed else 0
        self._memo: dict[str, Candidates] = {}
        # Service buckets, in statement order, built on first use of a service: a miss scans
        # only the statements that name the action's service, plus those that can match any
        # service ("*", NotAction). Lazy, because a snapshot has tens of thousands of groups.
        self._buckets: dict[str, tuple[Statement, ...]] = {}

    def for_action(self, action: str) -> Candidates:
        """Deny and Allow statements whose Action/NotAction matches ``action`` (lower-case)."""
        hit = self._memo.get(action)
        if hit is not None:
            return hit
        bucket = self._bucket(action.partition(":")[0]) if self.indexed else self.statements
        denies: list[Statement] = []
        allows: list[Statement] = []
        for st in bucket:
            if st.action_match(action):
                (allows if st.allow else denies).append(st)
        found = (tuple(denies), tuple(allows))
        memo = self._memo
        if len(memo) >= self.max_memo:
            memo.clear()  # bounded: a flood of distinct actions cannot grow memory
            if self.max_memo <= 0:
                return found
        memo[action] = found
        return found

    def _bucket(self, service: str) -> tuple[Statement, ...]:
        bucket = self._buckets.get(service)
        if bucket is None:
            bucket = tuple(st for st in self.statements if st.services is None or service in st.services)
            if len(self._buckets) >= self.max_memo:
                self._buckets.clear()
            self._buckets[service] = bucket
        return bucket

    def __len__(self) -> int:
        return len(self.statements)


EMPTY_GROUP = PolicyGroup()


@dataclass(frozen=True)
class EngineOptions:
    """``service_rules``: the optional AWS service behaviours of §9 item 21 (off by default).
    ``rcp_services``: services RCPs apply to; None means every service."""

    service_rules: bool = False
    rcp_services: frozenset[str] | None = field(default=DEFAULT_RCP_SERVICES)


DEFAULT_ENGINE_OPTIONS = EngineOptions()


@dataclass(frozen=True)
class PolicySets:
    """Everything in force for one principal (and the target resource).

    ``resource`` None: the resource has no resource-based policy. ``boundary`` None: no
    permissions boundary. ``session`` None: no session policies were passed. ``scp_levels``
    empty: the principal's account is not governed by SCPs; ``rcp_levels`` likewise for the
    resource's account. RCPFullAWSAccess is implied at every RCP level (only Denies bite)."""

    identity: PolicyGroup = EMPTY_GROUP
    resource: PolicyGroup | None = None
    boundary: PolicyGroup | None = None
    scp_levels: tuple[PolicyGroup, ...] = ()
    rcp_levels: tuple[PolicyGroup, ...] = ()
    session: PolicyGroup | None = None
    options: EngineOptions = DEFAULT_ENGINE_OPTIONS

    @property
    def own_groups(self) -> tuple[PolicyGroup, ...]:
        """Resource, identity, boundary and session groups (those present), in that order;
        computed once (the sets never change)."""
        cached: tuple[PolicyGroup, ...] | None = self.__dict__.get("_own_groups")
        if cached is None:
            cached = tuple(
                g for g in (self.resource, self.identity, self.boundary, self.session) if g is not None
            )
            self.__dict__["_own_groups"] = cached
        return cached
