"""The trust-policy conformance cases, through the REAL AssumeRole path.

Each case of tests/conformance/sts_trust.jsonl, and the trust cases of the shared conformance
file (copied below), is an authorization question in the neutral format (FORMAT.md) whose
action is sts:AssumeRole, sts:TagSession or sts:SetSourceIdentity on a role. Here each is
*realised*: a snapshot document with the case's accounts, the caller (a user with the case's
identity policies, boundary and tags; or a session of a role with those policies, made by a
real AssumeRole with the case's session policy), the target role with the case's resource
policy as its trust policy, SCPs as an organisation; and the request context becomes real
AssumeRole parameters (RoleSessionName, ExternalId, Tags, TransitiveTagKeys, SourceIdentity,
a TOTP code for MultiFactorAuthPresent, aws:SourceIp as a request key). Then AssumeRole must
succeed exactly when the case expects Allow, and fail with AccessDenied otherwise.

Callers are tried every way they can be expressed: a user by trusted ARN and by long-term
access key; a role session by trusted ARN (when it has no session policy) and by the session
credentials of a real AssumeRole. Cases that cannot be expressed as a snapshot are skipped
with the reason in their id.

sts:TagSession / sts:SetSourceIdentity cases: a real AssumeRole with tags or a source identity
asks sts:AssumeRole *and* that action. In every such case here the trust (and, across
accounts, the identity policy) allows sts:AssumeRole for the caller in the same context, so
the AssumeRole outcome is the outcome of the case's own action.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sidecar.engine.principal import Principal, PrincipalKind
from sidecar.policy.arn import parse_arn
from sidecar.sts import AssumeRoleParams, Authenticated, StsError
from sidecar.sts.errors import ACCESS_DENIED

from .support import (
    SEED_ALICE,
    Clock,
    account,
    compiled,
    doc,
    login,
    mfa_serial,
    new_sts,
    params,
    role,
    snapshot,
    totp,
    trust,
    user,
    user_arn,
    user_keys,
)

CASES_FILE = Path(__file__).resolve().parents[1] / "conformance" / "sts_trust.jsonl"

# The trust-policy cases of the shared conformance file (/work/shared/conformance/cases.jsonl),
# copied verbatim next to this module: the test suite never reads /work/shared.
SHARED_CASES_FILE = Path(__file__).resolve().parent / "shared_trust_cases.jsonl"

TRUST_ACTIONS = {"sts:assumerole", "sts:tagsession", "sts:setsourceidentity"}

# Cases whose request context cannot be produced by a real caller of this kind.
UNREALISABLE = {
    "trust-mfa-age-stale": "MultiFactorAuthAge 7200 for a user's own call: a TOTP code is verified in the "
    "AssumeRole call itself, so the age is always 0 (stale MFA ages are covered by "
    "test_sessions.py::test_mfa_age_in_a_chained_trust_policy)",
}

# Context keys a realisation turns into snapshot facts or AssumeRole parameters.
HANDLED = {
    "sts:rolesessionname",
    "sts:externalid",
    "sts:sourceidentity",
    "sts:transitivetagkeys",
    "aws:tagkeys",
    "aws:multifactorauthpresent",
    "aws:multifactorauthage",
    "aws:sourceip",
    "aws:principalorgid",
    "aws:principalarn",
}
HANDLED_PREFIXES = ("aws:requesttag/", "aws:resourcetag/", "aws:principaltag/")

BOOT = "bootstrap"
MGMT = "999999999999"


@dataclass
class Realised:
    """A case as a snapshot document, a caller, and AssumeRole parameters."""

    document: dict[str, Any]
    principal: str
    kind: PrincipalKind
    modes: list[str]
    target: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    session_policy: str | None = None  # for a role-session caller made by a real AssumeRole
    mfa: bool = False


def _load_cases() -> list[dict[str, Any]]:
    lines = [*SHARED_CASES_FILE.read_text().splitlines(), *CASES_FILE.read_text().splitlines()]
    cases = [json.loads(line) for line in lines if line.strip()]
    return [c for c in cases if c["request"]["action"].lower() in TRUST_ACTIONS]


def _path_and_name(iam_arn: str) -> tuple[str, str, str]:
    """(account, path, name) of an iam user/role ARN."""
    parsed = parse_arn(iam_arn)
    assert parsed is not None
    resource = parsed.resource.split("/", 1)[1]
    path, _, name = resource.rpartition("/")
    return parsed.account, f"/{path}/" if path else "/", name


def _merge(policies: list[dict[str, Any]]) -> dict[str, Any]:
    """Several session policies as one inline session policy (any statement may allow)."""
    return doc(
        *(
            st
            for p in policies
            for st in (p["Statement"] if isinstance(p["Statement"], list) else [p["Statement"]])
        )
    )


def realise(case: dict[str, Any]) -> Realised | str:
    """The realisation of a case, or the reason it cannot be realised."""
    if case["id"] in UNREALISABLE:
        return UNREALISABLE[case["id"]]
    req, pol = case["request"], case["policies"]
    ctx = {k.lower(): v for k, v in (req.get("context") or {}).items()}
    unhandled = [k for k in ctx if k not in HANDLED and not k.startswith(HANDLED_PREFIXES)]
    if unhandled:
        return f"context keys with no real source: {unhandled}"
    if pol.get("rcp"):
        return "RCPs are not realised by this port"
    arn = req["principal"]
    if arn == "anonymous":
        return "an anonymous caller cannot call AssumeRole at all (MissingAuthenticationToken)"
    principal = Principal.from_arn(arn)
    kind = principal.kind
    target_account, target_path, target_name = _path_and_name(req["resource"])
    target = req["resource"]
    if req.get("resource_account") not in (None, target_account):
        return "the resource account differs from the role ARN's account"

    accounts: dict[str, dict[str, Any]] = {}

    def acct(account_id: str) -> dict[str, Any]:
        if account_id not in accounts:
            accounts[account_id] = account(account_id)
        return accounts[account_id]

    acct(target_account)
    home = acct(principal.account)
    identity = list(pol.get("identity") or [])
    boundary_arn = None
    if pol.get("boundary"):
        home["policies"].append({"name": "CaseBoundary", "path": "/", "document": pol["boundary"]})
        boundary_arn = f"arn:aws:iam::{principal.account}:policy/CaseBoundary"
    principal_tags = {k.split("/", 1)[1]: v for k, v in ctx.items() if k.startswith("aws:principaltag/")}
    resource_tags = {k.split("/", 1)[1]: v for k, v in ctx.items() if k.startswith("aws:resourcetag/")}

    modes: list[str]
    session_policy = None
    target_trust = pol.get("resource")
    extra_target_trust: list[dict[str, Any]] = []
    if kind is PrincipalKind.USER:
        if ctx.get("aws:principalarn", arn) != arn:
            return "aws:PrincipalArn differs from the user ARN"
        _, path, name = _path_and_name(arn)
        home["users"].append(
            user(
                name,
                account=principal.account,
                path=path,
                policies=identity,
                boundary=boundary_arn,
                tags=principal_tags,
                mfa_seed=SEED_ALICE,
            )
        )
        modes = ["arn", "keys"]
    elif kind is PrincipalKind.ROLE_SESSION:
        role_arn_ = ctx.get("aws:principalarn", principal.role_arn)
        r_account, r_path, r_name = _path_and_name(role_arn_)
        if (r_account, r_name) != (principal.account, principal.name):
            return "aws:PrincipalArn names another role than the session ARN"
        boot_stmt = trust(user_arn(BOOT, principal.account))
        home["users"].append(user(BOOT, account=principal.account, key_status=None))
        if (r_account, r_name.lower()) == (target_account, target_name.lower()):
            # The caller is a session of the target itself: the target's trust is the case's,
            # plus a statement letting the bootstrap user (nobody else) make the first session.
            extra_target_trust.append(boot_stmt)
        else:
            home["roles"].append(
                role(
                    r_name,
                    doc(boot_stmt),
                    account=r_account,
                    path=r_path,
                    policies=identity,
                    boundary=boundary_arn,
                    tags=principal_tags,
                )
            )
        if pol.get("session"):
            session_policy = json.dumps(_merge(pol["session"]))
        modes = ["token"] if session_policy else ["arn", "token"]
    elif kind in (PrincipalKind.ROOT, PrincipalKind.FEDERATED_USER):
        modes = ["arn"]  # refused for its kind, whatever the policies
    else:
        return f"a {kind.value} principal is not realised"

    if target_trust is not None:
        trust_doc = json.loads(json.dumps(target_trust))
        statements = (
            trust_doc["Statement"] if isinstance(trust_doc["Statement"], list) else [trust_doc["Statement"]]
        )
        trust_doc["Statement"] = [*statements, *extra_target_trust]
        self_role = kind is PrincipalKind.ROLE_SESSION and bool(extra_target_trust)
        accounts[target_account]["roles"].append(
            role(
                target_name,
                trust_doc,
                account=target_account,
                path=target_path,
                policies=identity if self_role else [],
                boundary=boundary_arn if self_role else None,
                tags={**resource_tags, **(principal_tags if self_role else {})},
            )
        )
    elif resource_tags:
        return "resource tags without a role"

    organization = None
    org_id = ctx.get("aws:principalorgid")
    scps = list(pol.get("scp") or [])
    if org_id is not None or scps:
        levels = scps or [doc({"Effect": "Allow", "Action": "*", "Resource": "*"})]
        names = [f"L{i}" for i in range(len(levels))]
        units = [{"id": "r-case", "parent": None, "scps": [names[0]], "rcps": []}]
        for i in range(1, len(levels) - 1):
            units.append({"id": f"ou-case-{i}", "parent": units[-1]["id"], "scps": [names[i]], "rcps": []})
        organization = {
            "id": org_id or "o-case000001",
            "management_account": MGMT,
            "policies": dict(zip(names, levels, strict=True)),
            "units": units,
        }
        home["unit"] = units[-1]["id"]
        home["scps"] = [names[-1]] if len(levels) > 1 else [names[0]]

    kwargs: dict[str, Any] = {"role_session_name": ctx.get("sts:rolesessionname", "s1")}
    if "sts:externalid" in ctx:
        kwargs["external_id"] = ctx["sts:externalid"]
    if "sts:sourceidentity" in ctx:
        kwargs["source_identity"] = ctx["sts:sourceidentity"]
    request_tags = {k.split("/", 1)[1]: v for k, v in ctx.items() if k.startswith("aws:requesttag/")}
    tag_keys = ctx.get("aws:tagkeys", [])
    if [k.lower() for k in tag_keys] != list(request_tags) and (tag_keys or request_tags):
        return "aws:TagKeys does not list exactly the aws:RequestTag keys"
    if tag_keys:
        kwargs["tags"] = tuple((k, request_tags[k.lower()]) for k in tag_keys)
    if "sts:transitivetagkeys" in ctx:
        kwargs["transitive_tag_keys"] = tuple(ctx["sts:transitivetagkeys"])
    if "aws:sourceip" in ctx:
        kwargs["context"] = {"aws:sourceip": ctx["aws:sourceip"]}
    mfa = str(ctx.get("aws:multifactorauthpresent", "false")).lower() == "true"
    if "aws:multifactorauthage" in ctx and not mfa:
        return "an MFA age without MFA"
    if mfa and kind is not PrincipalKind.USER:
        return "MFA in the caller's own call needs an IAM user with a device"

    document = snapshot(*accounts.values(), organization=organization)
    return Realised(document, arn, kind, modes, target, kwargs, session_policy, mfa)


def _params() -> list[Any]:
    out = []
    for case in _load_cases():
        realised = realise(case)
        if isinstance(realised, str):
            out.append(
                pytest.param(case, None, id=f"{case['id']}-skipped", marks=pytest.mark.skip(reason=realised))
            )
            continue
        for mode in realised.modes:
            out.append(pytest.param(case, mode, id=f"{case['id']}-{mode}"))
    return out


PARAMS = _params()


def _caller(r: Realised, mode: str, sts: Any, snap: Any) -> Authenticated:
    if mode == "arn":
        return sts.authenticate_arn(snap, r.principal)
    if mode == "keys":
        return user_keys(sts, snap, _path_and_name(r.principal)[2])
    # token: a real session of the role, made by the bootstrap user, then authenticated.
    principal = Principal.from_arn(r.principal)
    role_arn_ = next(
        f"arn:aws:iam::{a['id']}:role{ro['path']}{ro['name']}"
        for a in r.document["accounts"]
        for ro in a["roles"]
        if a["id"] == principal.account and ro["name"] == principal.name
    )
    boot = sts.authenticate_arn(snap, user_arn(BOOT, principal.account))
    first = sts.assume_role(snap, boot, params(role_arn_, principal.session_name, policy=r.session_policy))
    assert first.arn == r.principal
    return login(sts, snap, first)


@pytest.mark.parametrize(("case", "mode"), PARAMS)
def test_trust_case_through_assume_role(case: dict[str, Any], mode: str) -> None:
    r = realise(case)
    assert not isinstance(r, str)
    clock = Clock()
    sts = new_sts(clock)
    snap = compiled(r.document)
    caller = _caller(r, mode, sts, snap)
    kwargs = dict(r.kwargs)
    if r.mfa:
        name = _path_and_name(r.principal)[2]
        kwargs["serial_number"] = mfa_serial(name, Principal.from_arn(r.principal).account)
        kwargs["token_code"] = totp(SEED_ALICE, clock())
    request = AssumeRoleParams(role_arn=r.target, **kwargs)
    if case["expect"] == "Allow":
        out = sts.assume_role(snap, caller, request)
        assert out.claims.role_arn == r.target
    else:
        with pytest.raises(StsError) as info:
            sts.assume_role(snap, caller, request)
        assert info.value.code == ACCESS_DENIED, info.value.message
        if r.kind in (PrincipalKind.USER, PrincipalKind.ROLE_SESSION):  # refused by authorization
            assert f"{r.principal} is not authorized to perform: sts:" in info.value.message


def test_port_covers_the_trust_cases() -> None:
    cases = _load_cases()
    realised = [c for c in cases if not isinstance(realise(c), str)]
    assert len(cases) >= 60
    assert len(realised) >= len(cases) - 1  # all but the stale-MFA-age case
    assert {c["id"] for c in cases} >= {"v63a-trust-account-needs-identity", "trust-cross-role-chain"}
