"""Shared helpers of the STS tests: snapshot documents built in code, a test clock, a fixed
keyset, TOTP codes, and a decision helper that goes through the real request path."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP

from sidecar.engine.cache import DecisionCache
from sidecar.engine.compile import CompiledSnapshot, compile_snapshot
from sidecar.engine.decision import Decision
from sidecar.engine.request import normalize_context
from sidecar.snapshot import load_snapshot
from sidecar.sts import AssumedRole, AssumeRoleParams, Authenticated, Keyset, Sts, StsError, TokenCodec

ACCT = "111122223333"
OTHER = "444455556666"
T0 = 1_700_000_000.0  # the test clock's start (epoch seconds)

SEED_ALICE = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
SEED_BOB = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"


def _secret(n: int) -> str:
    return base64.b64encode(bytes([n]) * 32).decode()


# Fixed, deterministic keys (tests only).
KEY_OLD = {"id": "2026-01", "secret_b64": _secret(1), "created": "2026-01-01T00:00:00Z"}
KEY_NEW = {"id": "2026-07", "secret_b64": _secret(2), "created": "2026-07-01T00:00:00Z"}
KEYSET_JSON = json.dumps({"keys": [KEY_OLD]})


def keyset_json(*keys: Mapping[str, str]) -> str:
    return json.dumps({"keys": [dict(k) for k in keys]})


class Clock:
    """A mutable test clock: ``clock()`` is now, ``clock.t`` can be moved."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def new_sts(clock: Clock, keyset: str = KEYSET_JSON) -> Sts:
    return Sts(TokenCodec(Keyset.from_json(keyset)), clock=clock)


# -- policy documents ---------------------------------------------------------------------------


def doc(*statements: Mapping[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [dict(s) for s in statements]}


def allow(action: str | Sequence[str], resource: str | Sequence[str] = "*", **extra: Any) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": resource}
    st.update(extra)
    return st


def deny(action: str | Sequence[str], resource: str | Sequence[str] = "*", **extra: Any) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": "Deny", "Action": action, "Resource": resource}
    st.update(extra)
    return st


def trust(
    principal: str | Sequence[str] | Mapping[str, Any],
    actions: str | Sequence[str] = "sts:AssumeRole",
    condition: Mapping[str, Any] | None = None,
    effect: str = "Allow",
) -> dict[str, Any]:
    """A trust-policy statement; a string or list principal means ``{"AWS": …}``."""
    who = principal if isinstance(principal, Mapping) or principal == "*" else {"AWS": principal}
    st: dict[str, Any] = {"Effect": effect, "Principal": who, "Action": actions}
    if condition:
        st["Condition"] = dict(condition)
    return st


# -- identities ---------------------------------------------------------------------------------


def user_arn(name: str, account: str = ACCT, path: str = "/") -> str:
    return f"arn:aws:iam::{account}:user{path}{name}"


def role_arn(name: str, account: str = ACCT, path: str = "/") -> str:
    return f"arn:aws:iam::{account}:role{path}{name}"


def session_arn(role: str, session: str, account: str = ACCT) -> str:
    return f"arn:aws:sts::{account}:assumed-role/{role}/{session}"


def mfa_serial(name: str, account: str = ACCT) -> str:
    return f"arn:aws:iam::{account}:mfa/{name}"


def _ident(prefix: str, name: str, salt: str = "") -> str:
    body = re.sub(r"[^A-Z0-9]", "", (name + salt).upper())
    return (prefix + body + "0" * 16)[:20]


def user_id(name: str, account: str = ACCT) -> str:
    return _ident("AIDA", name, account[-3:])


def role_id(name: str, account: str = ACCT, salt: str = "") -> str:
    return _ident("AROA", name, account[-3:] + salt)


def access_key_id(name: str) -> str:
    return _ident("AKIA", name)


def secret_of(name: str) -> str:
    return f"wJalrXUtnFEMI/K7MDENG/{name}-secret-key"


def user(
    name: str,
    *,
    account: str = ACCT,
    path: str = "/",
    policies: Sequence[Mapping[str, Any]] = (),
    managed: Sequence[str] = (),
    boundary: str | None = None,
    tags: Mapping[str, str] | None = None,
    key_status: str | None = "Active",
    mfa_seed: str | None = None,
    groups: Sequence[str] = (),
) -> dict[str, Any]:
    """A user with an access key (``access_key_id(name)`` / ``secret_of(name)``) unless
    ``key_status`` is None, and an MFA device ``mfa_serial(name)`` when ``mfa_seed`` is given."""
    out: dict[str, Any] = {
        "name": name,
        "path": path,
        "id": user_id(name, account),
        "groups": list(groups),
        "managed_policies": list(managed),
        "inline_policies": {f"p{i}": p for i, p in enumerate(policies)},
        "tags": dict(tags or {}),
    }
    if boundary is not None:
        out["permissions_boundary"] = boundary
    if key_status is not None:
        sha = hashlib.sha256(secret_of(name).encode()).hexdigest()
        out["access_keys"] = [{"id": access_key_id(name), "secret_sha256": sha, "status": key_status}]
    if mfa_seed is not None:
        out["mfa_devices"] = [{"serial": mfa_serial(name, account), "totp_seed_base32": mfa_seed}]
    return out


def role(
    name: str,
    trust_policy: Mapping[str, Any],
    *,
    account: str = ACCT,
    path: str = "/",
    policies: Sequence[Mapping[str, Any]] = (),
    managed: Sequence[str] = (),
    boundary: str | None = None,
    tags: Mapping[str, str] | None = None,
    max_session_duration: int = 3600,
    rid: str | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "path": path,
        "id": rid or role_id(name, account),
        "trust_policy": dict(trust_policy),
        "max_session_duration": max_session_duration,
        "managed_policies": list(managed),
        "inline_policies": {f"p{i}": p for i, p in enumerate(policies)},
        "tags": dict(tags or {}),
    }
    if boundary is not None:
        out["permissions_boundary"] = boundary
    return out


def account(
    account_id: str = ACCT,
    *,
    users: Sequence[Mapping[str, Any]] = (),
    roles: Sequence[Mapping[str, Any]] = (),
    policies: Mapping[str, Mapping[str, Any]] | None = None,
    groups: Sequence[Mapping[str, Any]] = (),
    unit: str | None = None,
    scps: Sequence[str] = (),
) -> dict[str, Any]:
    """An account; ``policies`` are customer-managed policies by name (path /)."""
    out: dict[str, Any] = {
        "id": account_id,
        "users": [dict(u) for u in users],
        "roles": [dict(r) for r in roles],
        "groups": [dict(g) for g in groups],
        "policies": [
            {"name": name, "path": "/", "document": dict(body)} for name, body in (policies or {}).items()
        ],
    }
    if unit is not None:
        out["unit"] = unit
        out["scps"] = list(scps)
    return out


def snapshot(
    *accounts: Mapping[str, Any],
    organization: Mapping[str, Any] | None = None,
    aws_managed: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"version": 1, "partition": "aws", "accounts": [dict(a) for a in accounts]}
    if organization is not None:
        out["organization"] = dict(organization)
    if aws_managed:
        out["aws_managed_policies"] = {k: dict(v) for k, v in aws_managed.items()}
    return out


def compiled(document: Mapping[str, Any]) -> CompiledSnapshot:
    return compile_snapshot(load_snapshot(json.loads(json.dumps(document))))


# -- STS conveniences ---------------------------------------------------------------------------


def totp(seed_b32: str, at: float) -> str:
    seed = base64.b32decode(seed_b32 + "=" * (-len(seed_b32) % 8))
    return TOTP(seed, 6, SHA1(), 30).generate(int(at)).decode()


def params(role: str, session: str = "s1", **kwargs: Any) -> AssumeRoleParams:
    return AssumeRoleParams(role_arn=role, role_session_name=session, **kwargs)


def login(sts: Sts, snap: CompiledSnapshot, assumed: AssumedRole, *, secret: bool = True) -> Authenticated:
    """Authenticate with the credentials an AssumeRole returned (the real credential path)."""
    c = assumed.credentials
    return sts.authenticate_keys(
        snap, c.access_key_id, c.secret_access_key if secret else "", c.session_token
    )


def user_keys(sts: Sts, snap: CompiledSnapshot, name: str) -> Authenticated:
    return sts.authenticate_keys(snap, access_key_id(name), secret_of(name), "")


@contextmanager
def sts_error(code: str, field: str | None = None) -> Iterator[pytest.ExceptionInfo[StsError]]:
    with pytest.raises(StsError) as info:
        yield info
    assert info.value.code == code, f"expected {code}, got {info.value.code}: {info.value.message}"
    if field is not None:
        assert info.value.field == field, info.value.field


def decide(
    snap: CompiledSnapshot,
    auth: Authenticated,
    action: str,
    resource: str,
    now: float,
    context: Mapping[str, object] | None = None,
    *,
    cache: DecisionCache | None = None,
) -> Decision:
    """A decision for a requester, as the server asks it: normalised context plus the
    session's time-dependent keys, its session policies and session key."""
    ctx = {**normalize_context(context or {}), **auth.request_keys(now)}
    return snap.authorize(
        auth.entry,
        action,
        resource,
        context=ctx,
        session=auth.session,
        session_key=auth.session_key,
        now=now,
        explain=cache is None,
        cache=cache,
        scope=1,
    )


class World:
    """One snapshot, one clock, one Sts: the usual scene of an AssumeRole test.

    ``roles`` and ``users`` go into account ACCT; ``accounts`` are extra account documents."""

    def __init__(
        self,
        *roles: Mapping[str, Any],
        users: Sequence[Mapping[str, Any]] | None = None,
        policies: Mapping[str, Mapping[str, Any]] | None = None,
        accounts: Sequence[Mapping[str, Any]] = (),
        organization: Mapping[str, Any] | None = None,
        unit: str | None = None,
        scps: Sequence[str] = (),
        aws_managed: Mapping[str, Mapping[str, Any]] | None = None,
        clock: Clock | None = None,
    ) -> None:
        if users is None:
            users = [
                user("alice", tags={"team": "red"}, mfa_seed=SEED_ALICE),
                user("bob", tags={"team": "blue"}, mfa_seed=SEED_BOB),
            ]
        main = account(ACCT, users=users, roles=roles, policies=policies, unit=unit, scps=scps)
        self.document = snapshot(main, *accounts, organization=organization, aws_managed=aws_managed)
        self.snap = compiled(self.document)
        self.clock = clock or Clock()
        self.sts = new_sts(self.clock)

    @property
    def now(self) -> float:
        return self.clock.t

    def arn(self, arn_or_user: str) -> Authenticated:
        """A trusted-ARN caller (a bare name means a user of ACCT; "anonymous" is anonymous)."""
        arn = (
            arn_or_user
            if arn_or_user.startswith("arn:") or arn_or_user == "anonymous"
            else user_arn(arn_or_user)
        )
        return self.sts.authenticate_arn(self.snap, arn)

    def keys(self, name: str) -> Authenticated:
        return user_keys(self.sts, self.snap, name)

    def assume(self, caller: Authenticated, role_name_or_arn: str, **kwargs: Any) -> AssumedRole:
        arn = role_name_or_arn if role_name_or_arn.startswith("arn:") else role_arn(role_name_or_arn)
        kwargs.setdefault("role_session_name", "s1")
        return self.sts.assume_role(self.snap, caller, AssumeRoleParams(role_arn=arn, **kwargs))

    def login(self, assumed: AssumedRole) -> Authenticated:
        return login(self.sts, self.snap, assumed)

    def mfa(self, name: str, seed: str, at: float | None = None) -> dict[str, str]:
        """SerialNumber and TokenCode for the user's device, for a code of time ``at`` (now)."""
        return {"serial_number": mfa_serial(name), "token_code": totp(seed, self.now if at is None else at)}
