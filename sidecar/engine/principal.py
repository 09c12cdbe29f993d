"""Who is asking: the requester of a decision and the context keys derived from it.

A :class:`Principal` is built once (the compiled snapshot keeps one per user and role) and
carries its derived, lower-cased context keys, so a decision only merges dictionaries.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from ..policy.arn import PARTITIONS, is_account_id, parse_arn, root_arn
from ..policy.conditions import AMBIGUOUS


class PrincipalKind(StrEnum):
    """The kinds of requester; the values are what ``aws:PrincipalType`` says."""

    USER = "User"
    ROLE_SESSION = "AssumedRole"
    ROLE = "Role"  # a session of a role whose session name is not known (FORMAT.md)
    FEDERATED_USER = "FederatedUser"
    ROOT = "Account"
    ANONYMOUS = "Anonymous"
    SERVICE = "Service"


SESSION_KINDS = frozenset({PrincipalKind.ROLE_SESSION, PrincipalKind.ROLE, PrincipalKind.FEDERATED_USER})
IAM_KINDS = frozenset(
    {
        PrincipalKind.USER,
        PrincipalKind.ROLE_SESSION,
        PrincipalKind.ROLE,
        PrincipalKind.FEDERATED_USER,
        PrincipalKind.ROOT,
    }
)


class PrincipalError(ValueError):
    """A principal ARN that names no requester."""


class Principal:
    """A requester. ``arn`` is its caller-identity ARN (the session ARN for a role session);
    ``role_arn`` the role's IAM ARN with its path; ``context`` the derived keys."""

    __slots__ = (
        "account",
        "arn",
        "context",
        "is_service_linked",
        "kind",
        "name",
        "parent_user_arn",
        "parent_user_id",
        "partition",
        "role_arn",
        "role_id",
        "role_key",
        "session_name",
        "tags",
        "unique_id",
    )

    def __init__(
        self,
        kind: PrincipalKind,
        *,
        arn: str = "",
        partition: str = "aws",
        account: str = "",
        name: str = "",
        session_name: str = "",
        role_arn: str = "",
        unique_id: str = "",
        role_id: str = "",
        parent_user_arn: str = "",
        parent_user_id: str = "",
        tags: Mapping[str, str] | None = None,
        extra_context: Mapping[str, str | tuple[str, ...]] | None = None,
    ) -> None:
        self.kind = kind
        self.arn = arn
        self.partition = partition
        self.account = account
        self.name = name
        self.session_name = session_name
        self.role_arn = role_arn
        self.unique_id = unique_id
        self.role_id = role_id
        self.parent_user_arn = parent_user_arn
        self.parent_user_id = parent_user_id
        self.tags: Mapping[str, str] = dict(tags or {})
        role = parse_arn(role_arn) if role_arn else None
        self.role_key = (partition, account, role.resource_name) if role else None
        self.is_service_linked = bool(role and role.resource.startswith("role/aws-service-role/"))
        self.context = self._derive(extra_context or {})

    def _derive(self, extra: Mapping[str, str | tuple[str, ...]]) -> dict[str, object]:
        """The principal and session keys of reference §6.1 / §6.3, lower-cased."""
        k = self.kind
        ctx: dict[str, object] = {"aws:principaltype": "AssumedRole" if k is PrincipalKind.ROLE else k.value}
        if k is PrincipalKind.ANONYMOUS:
            ctx["aws:userid"] = "anonymous"
            return ctx
        if k is PrincipalKind.SERVICE:
            ctx["aws:principalisawsservice"] = "true"
            ctx["aws:principalservicename"] = self.name
            return ctx
        ctx["aws:principalisawsservice"] = "false"
        ctx["aws:principalaccount"] = self.account
        if k is PrincipalKind.USER:
            ctx["aws:principalarn"] = self.arn
            ctx["aws:username"] = self.name
            if self.unique_id:
                ctx["aws:userid"] = self.unique_id
        elif k in (PrincipalKind.ROLE_SESSION, PrincipalKind.ROLE):
            ctx["aws:principalarn"] = self.role_arn
            if self.role_id and self.session_name:
                ctx["aws:userid"] = f"{self.role_id}:{self.session_name}"
        elif k is PrincipalKind.FEDERATED_USER:
            ctx["aws:principalarn"] = self.arn
            ctx["aws:userid"] = f"{self.account}:{self.name}"
        elif k is PrincipalKind.ROOT:
            ctx["aws:principalarn"] = self.arn
            ctx["aws:userid"] = self.account
        seen: dict[str, str] = {}
        for key, tag_value in self.tags.items():
            ck = "aws:principaltag/" + key.lower()
            if ck in seen and seen[ck] != key:
                ctx[ck] = AMBIGUOUS  # two tags differing only in case (§9 item 15)
                continue
            seen[ck] = key
            ctx[ck] = tag_value
        for key, value in extra.items():
            ctx[key.lower()] = value
        return ctx

    @property
    def is_session(self) -> bool:
        return self.kind in SESSION_KINDS

    def __repr__(self) -> str:
        return f"Principal({self.kind.name}, {self.arn or self.name!r})"

    @classmethod
    def anonymous(cls) -> Principal:
        return cls(PrincipalKind.ANONYMOUS)

    @classmethod
    def from_arn(
        cls,
        arn: str,
        *,
        tags: Mapping[str, str] | None = None,
        unique_id: str = "",
        role_arn: str = "",
        extra_context: Mapping[str, str | tuple[str, ...]] | None = None,
    ) -> Principal:
        """A principal from its ARN alone: user, role (a session of unknown name), assumed-role
        session, federated user or account root. ``role_arn`` gives a session's role path."""
        parsed = parse_arn(arn)
        if (
            parsed is None
            or parsed.partition not in PARTITIONS
            or not is_account_id(parsed.account)
            or parsed.region
            or (parsed.resource != "root" and not parsed.resource_name)
        ):
            raise PrincipalError(f"not a principal ARN: {arn!r}")
        part, acct, res = parsed.partition, parsed.account, parsed.resource
        kind_name, _, rest = res.partition("/")

        def make(kind: PrincipalKind, **fields: str) -> Principal:
            return cls(
                kind, arn=arn, partition=part, account=acct, tags=tags, extra_context=extra_context, **fields
            )

        if parsed.service == "iam":
            if res == "root":
                return make(PrincipalKind.ROOT)
            if kind_name == "user" and rest:
                return make(PrincipalKind.USER, name=parsed.resource_name, unique_id=unique_id)
            if kind_name == "role" and rest:
                return make(PrincipalKind.ROLE, name=parsed.resource_name, role_arn=arn, role_id=unique_id)
        elif parsed.service == "sts":
            if kind_name == "assumed-role" and rest.count("/") == 1 and all(rest.split("/")):
                role_name, session = rest.split("/")
                default_role = f"arn:{part}:iam::{acct}:role/{role_name}"
                return make(
                    PrincipalKind.ROLE_SESSION,
                    name=role_name,
                    session_name=session,
                    role_arn=role_arn or default_role,
                    role_id=unique_id,
                )
            if kind_name == "federated-user" and rest and "/" not in rest:
                return make(PrincipalKind.FEDERATED_USER, name=rest)
        raise PrincipalError(f"not a user, role, role-session, federated-user or root ARN: {arn!r}")


def account_root(partition: str, account: str) -> Principal:
    return Principal(
        PrincipalKind.ROOT, arn=root_arn(partition, account), partition=partition, account=account
    )
