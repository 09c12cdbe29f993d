"""The snapshot model: an organisation's accounts, identities, policies and resources.

Plain, immutable data (frozen slotted dataclasses). Every embedded policy is already parsed and
validated with the right kind (:class:`~sidecar.policy.Policy`), so the engine room compiles
without re-reading JSON. :mod:`sidecar.snapshot.load` builds it from the snapshot document of
API.md and reports every problem; nothing here reads files or clocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..policy.document import Policy
from ..policy.errors import Problem

EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class AccessKey:
    id: str
    secret_sha256: str
    status: str = "Active"


@dataclass(frozen=True, slots=True)
class MfaDevice:
    serial: str
    totp_seed_base32: str


@dataclass(frozen=True, slots=True)
class ManagedPolicy:
    """A customer-managed (``arn:…:iam::ACCOUNT:policy/…``) or AWS-managed policy."""

    arn: str
    name: str
    path: str
    policy: Policy


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    path: str
    arn: str
    managed_policies: tuple[str, ...] = ()  # policy ARNs
    inline_policies: tuple[Policy, ...] = ()


@dataclass(frozen=True, slots=True)
class User:
    name: str
    path: str
    arn: str
    id: str
    account: str
    groups: tuple[str, ...] = ()  # group names in the same account
    managed_policies: tuple[str, ...] = ()
    inline_policies: tuple[Policy, ...] = ()
    permissions_boundary: str | None = None  # a managed policy ARN
    tags: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    access_keys: tuple[AccessKey, ...] = ()
    mfa_devices: tuple[MfaDevice, ...] = ()


@dataclass(frozen=True, slots=True)
class Role:
    name: str
    path: str
    arn: str
    id: str
    account: str
    trust_policy: Policy
    max_session_duration: int = 3600
    managed_policies: tuple[str, ...] = ()
    inline_policies: tuple[Policy, ...] = ()
    permissions_boundary: str | None = None
    tags: Mapping[str, str] = field(default_factory=lambda: EMPTY)

    @property
    def is_service_linked(self) -> bool:
        return self.path.startswith("/aws-service-role/")


@dataclass(frozen=True, slots=True)
class Resource:
    arn: str
    account: str
    policy: Policy | None = None
    tags: Mapping[str, str] = field(default_factory=lambda: EMPTY)


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    unit: str | None = None  # the organisation unit it sits in (None: outside the organisation)
    scps: tuple[str, ...] = ()  # names in organization.policies attached to the account itself
    rcps: tuple[str, ...] = ()
    users: tuple[User, ...] = ()
    groups: tuple[Group, ...] = ()
    roles: tuple[Role, ...] = ()
    policies: tuple[ManagedPolicy, ...] = ()
    resources: tuple[Resource, ...] = ()


@dataclass(frozen=True, slots=True)
class OrgUnit:
    """The organisation root (``parent`` None) or an OU."""

    id: str
    parent: str | None
    scps: tuple[str, ...] = ()
    rcps: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Organization:
    id: str
    management_account: str
    policies: Mapping[str, Policy]  # SCPs and RCPs by name
    units: tuple[OrgUnit, ...] = ()

    def unit_path(self, unit_id: str) -> tuple[OrgUnit, ...]:
        """Root first, down to ``unit_id``."""
        by_id = {u.id: u for u in self.units}
        path: list[OrgUnit] = []
        current: str | None = unit_id
        while current is not None and current in by_id and len(path) <= len(by_id):
            unit = by_id[current]
            path.append(unit)
            current = unit.parent
        return tuple(reversed(path))


@dataclass(frozen=True, slots=True)
class Snapshot:
    version: int
    partition: str = "aws"
    accounts: tuple[Account, ...] = ()
    organization: Organization | None = None
    aws_managed_policies: Mapping[str, ManagedPolicy] = field(default_factory=dict)  # by ARN
    sha256: str = ""  # of the document bytes, set by the loader
    warnings: tuple[Problem, ...] = ()  # what validation warned about (the loader sets it)

    def statement_count(self) -> int:
        """Statements of every distinct policy document in the snapshot."""
        seen: set[int] = set()
        total = 0

        def add(policy: Policy | None) -> None:
            nonlocal total
            if policy is not None and id(policy) not in seen:
                seen.add(id(policy))
                total += len(policy.statements)

        for mp in self.aws_managed_policies.values():
            add(mp.policy)
        if self.organization is not None:
            for p in self.organization.policies.values():
                add(p)
        for account in self.accounts:
            for mp in account.policies:
                add(mp.policy)
            for user in account.users:
                for p in user.inline_policies:
                    add(p)
            for group in account.groups:
                for p in group.inline_policies:
                    add(p)
            for role in account.roles:
                add(role.trust_policy)
                for p in role.inline_policies:
                    add(p)
            for resource in account.resources:
                add(resource.policy)
        return total
