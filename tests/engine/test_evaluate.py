"""evaluate(): the content of decisions (reference §2.4, §3, §6, §9), not only their kind."""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.engine import (
    Decision,
    DecisionKind,
    EngineOptions,
    MatchedStatement,
    PolicyGroup,
    PolicySets,
    Principal,
    PrincipalKind,
    Request,
    evaluate,
    fail_closed,
)
from sidecar.engine.evaluate import (
    ACCOUNT_LEVEL,
    DIRECT_LEVEL,
    NO_MATCH,
    PARENT_LEVEL,
    ROLE_LEVEL,
    build_context,
    not_principal_excludes,
    principal_level,
)
from sidecar.policy import Policy, PolicyKind, PrincipalSet, parse_policy

A = "111122223333"
B = "444455556666"
ALICE_ID = "AIDAEXAMPLEALICE00001"
BOB_ID = "AIDAEXAMPLEBOB0000001"
ROLE_ID = "AROAEXAMPLEROLE000001"

ALICE_ARN = f"arn:aws:iam::{A}:user/alice"
BOB_ARN = f"arn:aws:iam::{A}:user/bob"
ROOT_A = f"arn:aws:iam::{A}:root"
ROLE_ARN = f"arn:aws:iam::{A}:role/team/Admin"
SESSION_ARN = f"arn:aws:sts::{A}:assumed-role/Admin/s1"
OTHER_SESSION_ARN = f"arn:aws:sts::{A}:assumed-role/Admin/s2"
FED_ARN = f"arn:aws:sts::{A}:federated-user/fed"
TARGET_ROLE = f"arn:aws:iam::{A}:role/Target"
KEY_ARN = f"arn:aws:kms:us-east-1:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ALIAS_ARN = f"arn:aws:kms:us-east-1:{A}:alias/mine"
OBJ = "arn:aws:s3:::bucket/key"

IDENTITY = PolicyKind.IDENTITY
RESOURCE = PolicyKind.RESOURCE
TRUST = PolicyKind.TRUST
BOUNDARY = PolicyKind.BOUNDARY
SCP = PolicyKind.SCP
RCP = PolicyKind.RCP
SESSION = PolicyKind.SESSION

ALLOW = DecisionKind.ALLOW
EXPLICIT = DecisionKind.EXPLICIT_DENY
IMPLICIT = DecisionKind.IMPLICIT_DENY


# --- helpers ---------------------------------------------------------------------------------


def pol(kind: PolicyKind, *statements: dict[str, Any], name: str = "p") -> Policy:
    return parse_policy({"Version": "2012-10-17", "Statement": list(statements)}, kind, name=name)


def stmt(
    effect: str, action: str | list[str] = "*", resource: str | None = "*", **extra: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {"Effect": effect, "Action": action}
    if resource is not None:
        out["Resource"] = resource
    out.update(extra)
    return out


def grp(kind: PolicyKind, *statements: dict[str, Any], name: str = "p") -> PolicyGroup:
    return PolicyGroup([pol(kind, *statements, name=name)])


ALLOW_ALL_IDENTITY = grp(IDENTITY, stmt("Allow"), name="allow-all")
ALLOW_ALL_BOUNDARY = grp(BOUNDARY, stmt("Allow"), name="boundary-all")


def user(name: str = "alice", account: str = A, **kw: Any) -> Principal:
    return Principal.from_arn(f"arn:aws:iam::{account}:user/{name}", **kw)


def session(arn: str = SESSION_ARN, role_arn: str = ROLE_ARN, **kw: Any) -> Principal:
    return Principal.from_arn(arn, role_arn=role_arn, unique_id=ROLE_ID, **kw)


def federated(parent: str = ALICE_ARN, parent_id: str = "") -> Principal:
    return Principal(
        PrincipalKind.FEDERATED_USER,
        arn=FED_ARN,
        account=A,
        name="fed",
        parent_user_arn=parent,
        parent_user_id=parent_id,
    )


def root(account: str = A) -> Principal:
    return Principal.from_arn(f"arn:aws:iam::{account}:root")


SERVICE = Principal(PrincipalKind.SERVICE, name="s3.amazonaws.com")
ANON = Principal.anonymous()


def decide(
    principal: Principal,
    action: str,
    resource: str = OBJ,
    sets: PolicySets | None = None,
    *,
    now: float | None = None,
    **kw: Any,
) -> Decision:
    return evaluate(Request(principal, action, resource, **kw), sets or PolicySets(), now)


def pset(value: Any) -> PrincipalSet:
    """The compiled Principal element of a one-statement resource policy."""
    policy = pol(RESOURCE, stmt("Allow", "s3:GetObject", Principal=value))
    ps = policy.statements[0].principal
    assert ps is not None
    return ps


def not_pset(value: Any) -> PrincipalSet:
    policy = pol(RESOURCE, stmt("Deny", "s3:GetObject", NotPrincipal=value))
    st = policy.statements[0]
    assert st.not_principal and st.principal is not None
    return st.principal


def ms(kind: PolicyKind, policy: str, sid: str | None, index: int, effect: str) -> MatchedStatement:
    return MatchedStatement(kind, policy, sid, index, effect)


# --- Decision content ------------------------------------------------------------------------


def test_allow_by_identity_names_the_statement() -> None:
    identity = grp(
        IDENTITY,
        stmt("Allow", "s3:PutObject", Sid="Put"),
        stmt("Allow", "s3:GetObject", "arn:aws:s3:::bucket/*", Sid="Get"),
        name="alice-inline",
    )
    d = decide(user(), "s3:GetObject", sets=PolicySets(identity=identity))
    assert d.kind is ALLOW and d.allowed
    assert d.reason == "allowed by identity-based policy"
    assert d.decided_by is IDENTITY
    assert d.matched == (ms(IDENTITY, "alice-inline", "Get", 1, "Allow"),)
    assert d.statements == (identity.statements[1],)
    assert d.missing_keys == ()
    assert d.error is None


def test_matched_statement_str() -> None:
    assert (
        str(ms(IDENTITY, "pol", "Get", 1, "Allow"))
        == "Allow in identity-based policy pol statement 1 Sid Get"
    )
    assert str(ms(SCP, "", None, 0, "Deny")) == "Deny in service control policy (unnamed) statement 0"


def test_implicit_deny_without_any_policy() -> None:
    d = decide(user(), "s3:GetObject")
    assert d.kind is IMPLICIT and not d.allowed
    assert d.reason == "no identity-based policy allows the action"
    assert d.decided_by is IDENTITY
    assert d.statements == ()
    assert d.error is None


def _two_denies() -> PolicySets:
    return PolicySets(
        identity=PolicyGroup(
            [
                pol(
                    IDENTITY,
                    stmt("Allow", "s3:*", Sid="All"),
                    stmt("Deny", "s3:*", "arn:aws:s3:::bucket/*", Sid="NoBucket"),
                    name="first",
                ),
                pol(IDENTITY, stmt("Deny", "s3:GetObject", Sid="NoGet"), name="second"),
            ]
        ),
        boundary=grp(BOUNDARY, stmt("Allow"), stmt("Deny", "s3:Get*", Sid="BoundaryDeny"), name="pb"),
        scp_levels=(grp(SCP, stmt("Allow"), stmt("Deny", "s3:GetObject", Sid="ScpDeny"), name="root-scp"),),
    )


def test_explicit_deny_names_the_first_deny_only_without_explain() -> None:
    d = decide(user(), "s3:GetObject", sets=_two_denies())
    assert d.kind is EXPLICIT
    # SCPs are checked before identity policies, so the SCP decides.
    assert d.decided_by is SCP
    assert d.reason == "explicitly denied by a service control policy"
    assert d.matched == (ms(SCP, "root-scp", "ScpDeny", 1, "Deny"),)


def test_explicit_deny_collects_every_deny_under_explain() -> None:
    d = decide(user(), "s3:GetObject", sets=_two_denies(), explain=True)
    assert d.kind is EXPLICIT
    assert d.decided_by is SCP
    assert d.matched == (
        ms(SCP, "root-scp", "ScpDeny", 1, "Deny"),
        ms(IDENTITY, "first", "NoBucket", 1, "Deny"),
        ms(IDENTITY, "second", "NoGet", 0, "Deny"),
        ms(BOUNDARY, "pb", "BoundaryDeny", 1, "Deny"),
    )
    assert d.missing_keys == ()


def test_explicit_deny_by_identity_reason_and_kind() -> None:
    sets = PolicySets(identity=grp(IDENTITY, stmt("Allow"), stmt("Deny", "s3:GetObject", Sid="D"), name="i"))
    d = decide(user(), "s3:GetObject", sets=sets)
    assert d.kind is EXPLICIT
    assert d.decided_by is IDENTITY
    assert d.reason.startswith("explicitly denied by ")
    assert d.reason.endswith("identity-based policy")
    assert d.matched == (ms(IDENTITY, "i", "D", 1, "Deny"),)


def test_deny_that_does_not_apply_is_not_reported() -> None:
    sets = PolicySets(
        identity=grp(IDENTITY, stmt("Allow", Sid="A"), stmt("Deny", "s3:PutObject", Sid="D"), name="i")
    )
    d = decide(user(), "s3:GetObject", sets=sets, explain=True)
    assert d.kind is ALLOW
    assert d.matched == (ms(IDENTITY, "i", "A", 0, "Allow"),)


def test_allow_collects_statements_of_every_layer() -> None:
    sets = PolicySets(
        identity=grp(IDENTITY, stmt("Allow", "s3:GetObject", Sid="Idp"), name="idp"),
        boundary=grp(BOUNDARY, stmt("Allow", "s3:*", Sid="Pb"), name="pb"),
        session=grp(SESSION, stmt("Allow", "s3:Get*", Sid="Sp"), name="sp"),
        scp_levels=(
            grp(SCP, stmt("Allow", Sid="Root"), name="scp-root"),
            grp(SCP, stmt("Allow", Sid="Ou"), name="scp-ou"),
        ),
    )
    d = decide(session(), "s3:GetObject", sets=sets)
    assert d.kind is ALLOW
    assert d.reason == "allowed by identity-based policy"
    assert d.decided_by is IDENTITY
    assert d.matched == (
        ms(SCP, "scp-root", "Root", 0, "Allow"),
        ms(SCP, "scp-ou", "Ou", 0, "Allow"),
        ms(IDENTITY, "idp", "Idp", 0, "Allow"),
        ms(BOUNDARY, "pb", "Pb", 0, "Allow"),
        ms(SESSION, "sp", "Sp", 0, "Allow"),
    )


# --- reasons, one per branch -----------------------------------------------------------------


def test_scp_level_without_allow() -> None:
    sets = PolicySets(
        identity=ALLOW_ALL_IDENTITY,
        scp_levels=(
            grp(SCP, stmt("Allow", Sid="Root"), name="root"),
            grp(SCP, stmt("Allow", "ec2:*"), name="ou"),
            grp(SCP, stmt("Allow"), name="acct"),
        ),
    )
    d = decide(user(), "s3:GetObject", sets=sets)
    assert d.kind is IMPLICIT
    assert d.decided_by is SCP
    assert (
        d.reason
        == "no service control policy allows the action at organisation level 1 (every level must allow)"
    )
    assert d.matched == (ms(SCP, "root", "Root", 0, "Allow"),)


def test_boundary_without_allow() -> None:
    sets = PolicySets(identity=ALLOW_ALL_IDENTITY, boundary=grp(BOUNDARY, stmt("Allow", "ec2:*"), name="pb"))
    d = decide(user(), "s3:GetObject", sets=sets)
    assert d.kind is IMPLICIT
    assert d.decided_by is BOUNDARY
    assert d.reason == "the permissions boundary does not allow the action"
    assert d.matched == (ms(IDENTITY, "allow-all", None, 0, "Allow"),)


def test_session_policy_without_allow() -> None:
    sets = PolicySets(identity=ALLOW_ALL_IDENTITY, session=grp(SESSION, stmt("Allow", "ec2:*")))
    d = decide(session(), "s3:GetObject", sets=sets)
    assert d.kind is IMPLICIT
    assert d.decided_by is SESSION
    assert d.reason == "the session policies do not allow the action"


def test_role_session_without_session_policies_is_allowed() -> None:
    d = decide(session(), "s3:GetObject", sets=PolicySets(identity=ALLOW_ALL_IDENTITY))
    assert d.kind is ALLOW
    assert d.reason == "allowed by identity-based policy"


def test_session_policies_do_not_apply_to_users() -> None:
    sets = PolicySets(identity=ALLOW_ALL_IDENTITY, session=grp(SESSION, stmt("Allow", "ec2:*")))
    assert decide(user(), "s3:GetObject", sets=sets).kind is ALLOW


def test_federated_user_without_session_policy_has_no_permissions() -> None:
    d = decide(federated(), "s3:GetObject", sets=PolicySets(identity=ALLOW_ALL_IDENTITY))
    assert d.kind is IMPLICIT
    assert d.decided_by is SESSION
    assert d.reason == "a federated-user session without a session policy has no permissions"
    sets = PolicySets(identity=ALLOW_ALL_IDENTITY, session=grp(SESSION, stmt("Allow", "s3:GetObject")))
    assert decide(federated(), "s3:GetObject", sets=sets).kind is ALLOW


def test_root_needs_no_identity_policy() -> None:
    d = decide(root(), "s3:GetObject")
    assert d.kind is ALLOW
    assert d.decided_by is IDENTITY
    assert d.statements == ()


def test_root_allow_reason_says_root() -> None:
    d = decide(root(), "s3:GetObject")
    assert d.reason == "the account root user needs no identity-based policy"


def test_root_is_subject_to_scps_and_explicit_denies() -> None:
    scp = PolicySets(scp_levels=(grp(SCP, stmt("Allow", "ec2:*")),))
    assert decide(root(), "s3:GetObject", sets=scp).kind is IMPLICIT
    rbp = PolicySets(resource=grp(RESOURCE, stmt("Deny", "s3:*", Principal={"AWS": A})))
    d = decide(root(), "s3:GetObject", sets=rbp)
    assert d.kind is EXPLICIT
    assert d.decided_by is RESOURCE


# --- missing keys under explain --------------------------------------------------------------

COND_POLICY = grp(
    IDENTITY,
    stmt(
        "Allow",
        "s3:GetObject",
        Condition={"StringEquals": {"aws:SourceVpc": "vpc-1"}, "Bool": {"aws:SecureTransport": "true"}},
    ),
)


def test_missing_keys_reported_under_explain() -> None:
    d = decide(user(), "s3:GetObject", sets=PolicySets(identity=COND_POLICY), explain=True)
    assert d.kind is IMPLICIT
    assert d.missing_keys == ("aws:SourceVpc", "aws:SecureTransport")


def test_missing_keys_only_for_absent_keys() -> None:
    sets = PolicySets(identity=COND_POLICY)
    d = decide(user(), "s3:GetObject", sets=sets, explain=True, context={"aws:SecureTransport": "true"})
    assert d.missing_keys == ("aws:SourceVpc",)
    d = decide(
        user(),
        "s3:GetObject",
        sets=sets,
        explain=True,
        context={"aws:SourceVpc": "vpc-2", "aws:SecureTransport": "true"},
    )
    assert d.kind is IMPLICIT
    assert d.missing_keys == ()


def test_missing_keys_empty_without_explain() -> None:
    d = decide(user(), "s3:GetObject", sets=PolicySets(identity=COND_POLICY))
    assert d.kind is IMPLICIT
    assert d.missing_keys == ()


def test_missing_keys_ignore_statements_for_other_resources() -> None:
    identity = grp(
        IDENTITY,
        stmt(
            "Allow",
            "s3:GetObject",
            "arn:aws:s3:::other/*",
            Condition={"StringEquals": {"aws:SourceVpc": "v"}},
        ),
    )
    d = decide(user(), "s3:GetObject", sets=PolicySets(identity=identity), explain=True)
    assert d.kind is IMPLICIT
    assert d.missing_keys == ()


def test_missing_keys_not_reported_on_allow() -> None:
    identity = grp(
        IDENTITY,
        stmt("Allow", "s3:GetObject"),
        stmt("Allow", "s3:GetObject", Condition={"StringEquals": {"aws:SourceVpc": "v"}}),
    )
    d = decide(user(), "s3:GetObject", sets=PolicySets(identity=identity), explain=True)
    assert d.kind is ALLOW
    assert d.missing_keys == ()


# --- build_context and resource ownership ----------------------------------------------------


def test_build_context_derived_keys_resource_account_and_clock() -> None:
    p = user(unique_id=ALICE_ID, tags={"Team": "blue"})
    ctx = build_context(Request(p, "s3:GetObject", f"arn:aws:sqs:us-east-1:{B}:queue"), 1700000000.9)
    assert ctx["aws:principalarn"] == ALICE_ARN
    assert ctx["aws:userid"] == ALICE_ID
    assert ctx["aws:username"] == "alice"
    assert ctx["aws:principaltype"] == "User"
    assert ctx["aws:principalaccount"] == A
    assert ctx["aws:principaltag/team"] == "blue"
    assert ctx["aws:resourceaccount"] == B
    assert ctx["aws:currenttime"] == "2023-11-14T22:13:20Z"
    assert ctx["aws:epochtime"] == "1700000000"


@pytest.mark.parametrize(
    ("now", "stamp"),
    [
        (0, "1970-01-01T00:00:00Z"),
        (951782400, "2000-02-29T00:00:00Z"),
        (1735689599.999, "2024-12-31T23:59:59Z"),
    ],
)
def test_clock_format(now: float, stamp: str) -> None:
    ctx = build_context(Request(user(), "s3:GetObject", OBJ), now)
    assert ctx["aws:currenttime"] == stamp
    assert ctx["aws:epochtime"] == str(int(now))


def test_no_clock_keys_without_now() -> None:
    ctx = build_context(Request(user(), "s3:GetObject", OBJ), None)
    assert "aws:currenttime" not in ctx
    assert "aws:epochtime" not in ctx


def test_caller_context_overrides_derived_keys() -> None:
    req = Request(
        user(),
        "s3:GetObject",
        OBJ,
        context={
            "AWS:CurrentTime": "2020-01-01T00:00:00Z",
            "aws:PrincipalArn": BOB_ARN,
            "aws:ResourceAccount": B,
        },
    )
    ctx = build_context(req, 1700000000)
    assert ctx["aws:currenttime"] == "2020-01-01T00:00:00Z"
    assert ctx["aws:epochtime"] == "1700000000"
    assert ctx["aws:principalarn"] == BOB_ARN
    assert ctx["aws:resourceaccount"] == B


def test_build_context_does_not_mutate_principal() -> None:
    p = user()
    build_context(Request(p, "s3:GetObject", OBJ, context={"aws:username": "x"}), 0)
    assert p.context["aws:username"] == "alice"
    assert "aws:currenttime" not in p.context


def test_now_feeds_date_conditions() -> None:
    identity = grp(
        IDENTITY,
        stmt(
            "Allow", "s3:GetObject", Condition={"DateLessThan": {"aws:CurrentTime": "2024-01-01T00:00:00Z"}}
        ),
    )
    sets = PolicySets(identity=identity)
    assert decide(user(), "s3:GetObject", sets=sets, now=1700000000).kind is ALLOW  # 2023-11-14
    assert decide(user(), "s3:GetObject", sets=sets, now=1800000000).kind is IMPLICIT  # 2027
    assert decide(user(), "s3:GetObject", sets=sets, now=None).kind is IMPLICIT  # key absent
    epoch = grp(
        IDENTITY,
        stmt("Allow", "s3:GetObject", Condition={"NumericLessThan": {"aws:EpochTime": "1700000001"}}),
    )
    assert decide(user(), "s3:GetObject", sets=PolicySets(identity=epoch), now=1700000000.99).kind is ALLOW


@pytest.mark.parametrize(
    ("resource", "resource_account", "owner"),
    [
        (f"arn:aws:sqs:us-east-1:{B}:q", A, A),  # given account wins over the ARN
        (f"arn:aws:sqs:us-east-1:{B}:q", None, B),  # then the ARN's account
        (f"arn:aws:sqs:us-east-1:{B}:q", "", B),
        ("arn:aws:s3:::bucket/key", None, A),  # no account in the ARN: the principal's
        ("*", None, A),
        ("*", B, B),
    ],
)
def test_resource_ownership_order(resource: str, resource_account: str | None, owner: str) -> None:
    req = Request(user(), "sqs:SendMessage", resource, resource_account=resource_account)
    assert req.owner_account() == owner
    assert build_context(req, None)["aws:resourceaccount"] == owner


def test_resource_account_decides_same_or_cross_account() -> None:
    sets = PolicySets(identity=ALLOW_ALL_IDENTITY)
    q = f"arn:aws:sqs:us-east-1:{B}:q"
    assert decide(user(), "sqs:SendMessage", q, sets).kind is IMPLICIT  # cross-account, no RBP
    assert decide(user(), "sqs:SendMessage", q, sets, resource_account=A).kind is ALLOW
    assert decide(user(), "s3:GetObject", OBJ, sets, resource_account=B).kind is IMPLICIT


def test_resource_account_condition_uses_owner() -> None:
    identity = grp(
        IDENTITY, stmt("Allow", "s3:GetObject", Condition={"StringEquals": {"aws:ResourceAccount": A}})
    )
    sets = PolicySets(identity=identity)
    assert decide(user(), "s3:GetObject", OBJ, sets).kind is ALLOW
    assert decide(user(), "s3:GetObject", OBJ, sets, resource_account=B).kind is IMPLICIT


def test_read_aws_managed_policy_with_identity_allow() -> None:
    sets = PolicySets(identity=ALLOW_ALL_IDENTITY)
    d = decide(user(), "iam:GetPolicy", "arn:aws:iam::aws:policy/AdministratorAccess", sets)
    assert d.kind is ALLOW


# --- principal_level (§2.4) ------------------------------------------------------------------


@pytest.mark.parametrize(
    "principal",
    [user(), session(), federated(), root(), ANON, SERVICE, user(account=B), Principal.from_arn(ROLE_ARN)],
    ids=repr,
)
def test_level_star_is_direct_for_everyone(principal: Principal) -> None:
    assert principal_level(pset("*"), principal) == DIRECT_LEVEL
    assert principal_level(pset({"AWS": "*"}), principal) == DIRECT_LEVEL


@pytest.mark.parametrize("entry", [A, ROOT_A])
@pytest.mark.parametrize(
    "principal", [user(), session(), federated(), root(), Principal.from_arn(ROLE_ARN)], ids=repr
)
def test_level_account(entry: str, principal: Principal) -> None:
    assert principal_level(pset({"AWS": entry}), principal) == ACCOUNT_LEVEL


@pytest.mark.parametrize("principal", [user(account=B), ANON, SERVICE], ids=repr)
def test_level_account_does_not_match_outsiders(principal: Principal) -> None:
    assert principal_level(pset({"AWS": [A, ROOT_A]}), principal) == NO_MATCH


def test_level_user() -> None:
    alice = user(unique_id=ALICE_ID)
    assert principal_level(pset({"AWS": ALICE_ARN}), alice) == DIRECT_LEVEL
    assert principal_level(pset({"AWS": ALICE_ID}), alice) == DIRECT_LEVEL
    assert principal_level(pset({"AWS": BOB_ARN}), alice) == NO_MATCH
    assert principal_level(pset({"AWS": BOB_ID}), alice) == NO_MATCH
    assert principal_level(pset({"AWS": [BOB_ARN, A]}), alice) == ACCOUNT_LEVEL
    assert principal_level(pset({"AWS": [A, ALICE_ARN]}), alice) == DIRECT_LEVEL
    # a re-created user with the same name has another unique id: no match by id
    assert principal_level(pset({"AWS": ALICE_ID}), user(unique_id="AIDAEXAMPLEALICE00002")) == NO_MATCH
    assert principal_level(pset({"AWS": ALICE_ID}), user()) == NO_MATCH
    # user names are case-sensitive in principals
    assert principal_level(pset({"AWS": f"arn:aws:iam::{A}:user/Alice"}), alice) == NO_MATCH


def test_level_user_with_path() -> None:
    arn = f"arn:aws:iam::{A}:user/div/alice"
    assert principal_level(pset({"AWS": arn}), Principal.from_arn(arn)) == DIRECT_LEVEL
    assert principal_level(pset({"AWS": ALICE_ARN}), Principal.from_arn(arn)) == NO_MATCH


def test_level_role_matches_its_sessions_without_path() -> None:
    s = session()
    # the policy may name the role with its path, or without it: the role name decides
    assert principal_level(pset({"AWS": ROLE_ARN}), s) == ROLE_LEVEL
    assert principal_level(pset({"AWS": f"arn:aws:iam::{A}:role/Admin"}), s) == ROLE_LEVEL
    assert principal_level(pset({"AWS": f"arn:aws:iam::{A}:role/other/path/Admin"}), s) == ROLE_LEVEL
    assert principal_level(pset({"AWS": ROLE_ID}), s) == ROLE_LEVEL
    assert principal_level(pset({"AWS": f"arn:aws:iam::{A}:role/Other"}), s) == NO_MATCH
    assert principal_level(pset({"AWS": f"arn:aws:iam::{B}:role/Admin"}), s) == NO_MATCH
    assert principal_level(pset({"AWS": f"arn:aws-cn:iam::{A}:role/Admin"}), s) == NO_MATCH
    assert principal_level(pset({"AWS": [ROLE_ARN, A]}), s) == ROLE_LEVEL
    # the role's id only: another role's session is not matched by it
    assert principal_level(pset({"AWS": "AROAEXAMPLEROLE000002"}), s) == NO_MATCH


def test_level_bare_role() -> None:
    r = Principal.from_arn(ROLE_ARN, unique_id=ROLE_ID)
    assert principal_level(pset({"AWS": ROLE_ARN}), r) == ROLE_LEVEL
    assert principal_level(pset({"AWS": ROLE_ID}), r) == ROLE_LEVEL
    # no session ARN can match a session of unknown name (FORMAT.md)
    assert principal_level(pset({"AWS": f"arn:aws:sts::{A}:assumed-role/Admin/s1"}), r) == NO_MATCH


def test_level_session() -> None:
    s = session()
    assert principal_level(pset({"AWS": SESSION_ARN}), s) == DIRECT_LEVEL
    assert principal_level(pset({"AWS": [SESSION_ARN, ROLE_ARN]}), s) == DIRECT_LEVEL
    assert principal_level(pset({"AWS": OTHER_SESSION_ARN}), s) == NO_MATCH
    assert principal_level(pset({"AWS": [OTHER_SESSION_ARN, ROLE_ARN]}), s) == ROLE_LEVEL


def test_level_federated_user() -> None:
    f = federated(parent=ALICE_ARN, parent_id=ALICE_ID)
    assert principal_level(pset({"AWS": FED_ARN}), f) == DIRECT_LEVEL
    assert principal_level(pset({"AWS": ALICE_ARN}), f) == PARENT_LEVEL
    assert principal_level(pset({"AWS": ALICE_ID}), f) == PARENT_LEVEL
    assert principal_level(pset({"AWS": BOB_ARN}), f) == NO_MATCH
    assert principal_level(pset({"AWS": f"arn:aws:sts::{A}:federated-user/other"}), f) == NO_MATCH
    # without a known parent the user entry does not match
    assert principal_level(pset({"AWS": ALICE_ARN}), federated(parent="")) == NO_MATCH
    # the federated user is not the user: a user principal is not matched by a federated ARN
    assert principal_level(pset({"AWS": FED_ARN}), user()) == NO_MATCH


def test_level_root_is_account_level_only() -> None:
    r = root()
    assert principal_level(pset({"AWS": ROOT_A}), r) == ACCOUNT_LEVEL
    assert principal_level(pset({"AWS": ALICE_ARN}), r) == NO_MATCH
    assert principal_level(pset({"AWS": f"arn:aws:iam::{B}:root"}), r) == NO_MATCH


def test_level_service_principal() -> None:
    assert principal_level(pset({"Service": "s3.amazonaws.com"}), SERVICE) == DIRECT_LEVEL
    assert (
        principal_level(pset({"Service": ["sns.amazonaws.com", "s3.amazonaws.com"]}), SERVICE) == DIRECT_LEVEL
    )
    assert principal_level(pset({"Service": "sns.amazonaws.com"}), SERVICE) == NO_MATCH
    assert principal_level(pset({"Service": "s3.amazonaws.com"}), user()) == NO_MATCH
    assert principal_level(pset({"AWS": A}), SERVICE) == NO_MATCH


def test_level_anonymous_only_star() -> None:
    assert principal_level(pset({"AWS": [A, ALICE_ARN, ROOT_A]}), ANON) == NO_MATCH


def test_level_ranking() -> None:
    assert NO_MATCH < ACCOUNT_LEVEL < ROLE_LEVEL < DIRECT_LEVEL
    assert PARENT_LEVEL == ROLE_LEVEL


# --- NotPrincipal chain rule (§2.4, §9 item 16) ----------------------------------------------


def test_not_principal_star_excludes_everyone() -> None:
    for p in (user(), session(), ANON, SERVICE, root()):
        assert not_principal_excludes(not_pset("*"), p)


@pytest.mark.parametrize(
    ("entries", "excluded"),
    [
        ([ALICE_ARN, ROOT_A], True),
        ([ALICE_ARN, A], True),
        ([ALICE_ID, A], True),
        ([ALICE_ARN], False),  # the account link is not listed
        ([A], False),  # the user link is not listed
        ([BOB_ARN, ROOT_A], False),
        ([ALICE_ARN, f"arn:aws:iam::{B}:root"], False),
    ],
)
def test_not_principal_user_chain(entries: list[str], excluded: bool) -> None:
    assert not_principal_excludes(not_pset({"AWS": entries}), user(unique_id=ALICE_ID)) is excluded


@pytest.mark.parametrize(
    ("entries", "excluded"),
    [
        ([A, ROLE_ARN, SESSION_ARN], True),
        ([ROOT_A, ROLE_ID, SESSION_ARN], True),
        ([ROOT_A, f"arn:aws:iam::{A}:role/Admin", SESSION_ARN], True),
        ([A, ROLE_ARN], False),  # the session link is missing
        ([A, SESSION_ARN], False),  # the role link is missing
        ([ROLE_ARN, SESSION_ARN], False),  # the account link is missing
        ([A, ROLE_ARN, OTHER_SESSION_ARN], False),
    ],
)
def test_not_principal_session_chain(entries: list[str], excluded: bool) -> None:
    assert not_principal_excludes(not_pset({"AWS": entries}), session()) is excluded


def test_not_principal_bare_role_chain() -> None:
    r = Principal.from_arn(ROLE_ARN)
    assert not_principal_excludes(not_pset({"AWS": [A, ROLE_ARN]}), r)
    assert not not_principal_excludes(not_pset({"AWS": [ROLE_ARN]}), r)
    assert not not_principal_excludes(not_pset({"AWS": [A]}), r)


def test_not_principal_root_and_federated_chain() -> None:
    assert not_principal_excludes(not_pset({"AWS": ROOT_A}), root())
    assert not_principal_excludes(not_pset({"AWS": A}), root())
    assert not not_principal_excludes(not_pset({"AWS": [ALICE_ARN]}), root())
    f = federated()
    assert not_principal_excludes(not_pset({"AWS": [A, FED_ARN]}), f)
    assert not not_principal_excludes(not_pset({"AWS": [FED_ARN]}), f)
    assert not not_principal_excludes(not_pset({"AWS": [A, ALICE_ARN]}), f)


def test_not_principal_anonymous_and_service() -> None:
    assert not not_principal_excludes(not_pset({"AWS": [A, ALICE_ARN]}), ANON)
    assert not_principal_excludes(not_pset({"Service": "s3.amazonaws.com"}), SERVICE)
    assert not not_principal_excludes(not_pset({"Service": "sns.amazonaws.com"}), SERVICE)
    assert not not_principal_excludes(not_pset({"AWS": A}), SERVICE)


def _not_principal_bucket(excepted: list[str]) -> PolicySets:
    return PolicySets(
        resource=grp(
            RESOURCE,
            stmt("Allow", "s3:GetObject", Principal="*", Sid="Public"),
            stmt("Deny", "s3:GetObject", NotPrincipal={"AWS": excepted}, Sid="OnlyBob"),
            name="bucket",
        )
    )


def test_not_principal_deny_in_evaluation() -> None:
    bob = user("bob")
    d = decide(user(), "s3:GetObject", sets=_not_principal_bucket([BOB_ARN, ROOT_A]))
    assert d.kind is EXPLICIT
    assert d.decided_by is RESOURCE
    assert d.matched == (ms(RESOURCE, "bucket", "OnlyBob", 1, "Deny"),)
    assert decide(bob, "s3:GetObject", sets=_not_principal_bucket([BOB_ARN, ROOT_A])).kind is ALLOW
    # bob alone is denied too: the account link is not listed
    assert decide(bob, "s3:GetObject", sets=_not_principal_bucket([BOB_ARN])).kind is EXPLICIT
    assert decide(ANON, "s3:GetObject", sets=_not_principal_bucket([BOB_ARN, ROOT_A])).kind is EXPLICIT


def test_not_principal_boundary_quirk() -> None:
    sets = _not_principal_bucket([ALICE_ARN, ROOT_A])
    assert decide(user(), "s3:GetObject", sets=sets).kind is ALLOW
    with_pb = PolicySets(resource=sets.resource, boundary=ALLOW_ALL_BOUNDARY)
    d = decide(user(), "s3:GetObject", sets=with_pb)
    assert d.kind is EXPLICIT
    assert d.decided_by is RESOURCE
    assert d.matched[0].sid == "OnlyBob"
    # also for role sessions with a boundary on their role
    s_sets = _not_principal_bucket([A, ROLE_ARN, SESSION_ARN])
    assert decide(session(), "s3:GetObject", sets=s_sets).kind is ALLOW
    s_pb = PolicySets(resource=s_sets.resource, boundary=ALLOW_ALL_BOUNDARY)
    assert decide(session(), "s3:GetObject", sets=s_pb).kind is EXPLICIT
    # NotPrincipal "*" excludes everyone, but a boundary still makes the Deny hit
    star = PolicySets(
        resource=grp(
            RESOURCE,
            stmt("Allow", "s3:GetObject", Principal="*"),
            stmt("Deny", "s3:GetObject", NotPrincipal="*"),
        ),
        boundary=ALLOW_ALL_BOUNDARY,
    )
    assert decide(user(), "s3:GetObject", sets=star).kind is EXPLICIT


# --- trust policies and KMS key policies (§3.3 step 5) ---------------------------------------


def trust(*statements: dict[str, Any], name: str = "trust") -> PolicyGroup:
    return PolicyGroup([pol(TRUST, *statements, name=name)])


def trust_allow(
    principal: Any, action: str | list[str] = "sts:AssumeRole", sid: str = "Trust"
) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": action, "Principal": principal}


def test_assume_role_without_trust_policy_is_denied_whatever_identity_says() -> None:
    d = decide(user(), "sts:AssumeRole", TARGET_ROLE, PolicySets(identity=ALLOW_ALL_IDENTITY))
    assert d.kind is IMPLICIT
    assert d.decided_by is TRUST
    assert (
        d.reason
        == "the role trust policy does not allow this principal (it must, whatever identity policies say)"
    )


def test_assume_role_trust_naming_someone_else() -> None:
    sets = PolicySets(identity=ALLOW_ALL_IDENTITY, resource=trust(trust_allow({"AWS": BOB_ARN})))
    d = decide(user(), "sts:AssumeRole", TARGET_ROLE, sets)
    assert d.kind is IMPLICIT
    assert d.decided_by is TRUST


def test_assume_role_direct_trust_needs_no_identity_policy() -> None:
    sets = PolicySets(resource=trust(trust_allow({"AWS": ALICE_ARN})))
    d = decide(user(), "sts:AssumeRole", TARGET_ROLE, sets)
    assert d.kind is ALLOW
    assert d.reason == "allowed by a resource-based policy that names the principal"
    assert d.decided_by is TRUST
    assert d.matched == (ms(TRUST, "trust", "Trust", 0, "Allow"),)


def test_assume_role_account_trust_needs_identity_policy() -> None:
    sets = PolicySets(resource=trust(trust_allow({"AWS": ROOT_A})))
    d = decide(user(), "sts:AssumeRole", TARGET_ROLE, sets)
    assert d.kind is IMPLICIT
    assert d.decided_by is IDENTITY
    allowed = decide(
        user(), "sts:AssumeRole", TARGET_ROLE, PolicySets(identity=ALLOW_ALL_IDENTITY, resource=sets.resource)
    )
    assert allowed.kind is ALLOW
    assert allowed.reason == "allowed by identity-based policy"
    assert allowed.matched == (
        ms(TRUST, "trust", "Trust", 0, "Allow"),
        ms(IDENTITY, "allow-all", None, 0, "Allow"),
    )


@pytest.mark.parametrize(
    "action", ["sts:TagSession", "sts:SetSourceIdentity", "sts:AssumeRoleWithWebIdentity"]
)
def test_other_trust_actions_need_their_own_trust_allow(action: str) -> None:
    only_assume = PolicySets(identity=ALLOW_ALL_IDENTITY, resource=trust(trust_allow({"AWS": ALICE_ARN})))
    assert decide(user(), action, TARGET_ROLE, only_assume).kind is IMPLICIT
    both = PolicySets(resource=trust(trust_allow({"AWS": ALICE_ARN}, ["sts:AssumeRole", action])))
    assert decide(user(), action, TARGET_ROLE, both).kind is ALLOW


def test_trust_exception_only_for_role_arns() -> None:
    sets = PolicySets(identity=ALLOW_ALL_IDENTITY)
    assert decide(user(), "sts:AssumeRole", "*", sets).kind is ALLOW
    assert decide(user(), "iam:GetRole", TARGET_ROLE, sets).kind is ALLOW


def test_role_session_trust_role_level_grant() -> None:
    sets = PolicySets(resource=trust(trust_allow({"AWS": ROLE_ARN})))
    d = decide(session(), "sts:AssumeRole", TARGET_ROLE, sets)
    assert d.kind is ALLOW
    assert d.reason == (
        "allowed by a resource-based policy naming the role or parent user, "
        "within boundary and session policies"
    )
    assert d.decided_by is IDENTITY


def test_role_assuming_itself_needs_trust() -> None:
    own = f"arn:aws:iam::{A}:role/team/Admin"
    sets = PolicySets(identity=ALLOW_ALL_IDENTITY, resource=trust(trust_allow({"AWS": BOB_ARN})))
    assert decide(session(), "sts:AssumeRole", own, sets).kind is IMPLICIT
    self_trust = PolicySets(resource=trust(trust_allow({"AWS": own})))
    assert decide(session(), "sts:AssumeRole", own, self_trust).kind is ALLOW


def test_boundary_must_allow_assume_role_even_on_direct_trust() -> None:
    """§9 item 2: fail closed, the boundary must allow sts:AssumeRole."""
    trust_pol = trust(trust_allow({"AWS": ALICE_ARN}))
    pb = grp(BOUNDARY, stmt("Allow", "s3:*"), name="pb")
    d = decide(user(), "sts:AssumeRole", TARGET_ROLE, PolicySets(resource=trust_pol, boundary=pb))
    assert d.kind is IMPLICIT
    assert d.decided_by is BOUNDARY
    assert d.reason == (
        "the permissions boundary does not allow the action (required for role assumption even when the "
        "trust policy names the principal)"
    )
    assert d.matched == (ms(TRUST, "trust", "Trust", 0, "Allow"),)
    ok_pb = grp(BOUNDARY, stmt("Allow", "sts:AssumeRole"), name="pb")
    assert (
        decide(user(), "sts:AssumeRole", TARGET_ROLE, PolicySets(resource=trust_pol, boundary=ok_pb)).kind
        is ALLOW
    )


def test_direct_resource_grant_is_not_cut_by_boundary_outside_trust() -> None:
    """§3.5 row 1: an RBP naming the user overrides implicit denies in IDP and PB."""
    sets = PolicySets(
        resource=grp(RESOURCE, stmt("Allow", "s3:GetObject", Principal={"AWS": ALICE_ARN})),
        boundary=grp(BOUNDARY, stmt("Allow", "ec2:*")),
    )
    d = decide(user(), "s3:GetObject", sets=sets)
    assert d.kind is ALLOW
    assert d.decided_by is RESOURCE
    assert d.reason == "allowed by a resource-based policy that names the principal"


def test_direct_session_grant_overrides_session_policy() -> None:
    sets = PolicySets(
        resource=grp(RESOURCE, stmt("Allow", "s3:GetObject", Principal={"AWS": SESSION_ARN})),
        session=grp(SESSION, stmt("Allow", "ec2:*")),
        boundary=grp(BOUNDARY, stmt("Allow", "ec2:*")),
    )
    assert decide(session(), "s3:GetObject", sets=sets).kind is ALLOW


def test_role_level_grant_is_cut_by_boundary_and_session() -> None:
    rbp = grp(RESOURCE, stmt("Allow", "s3:GetObject", Principal={"AWS": ROLE_ARN}, Sid="Role"), name="bucket")
    d = decide(session(), "s3:GetObject", sets=PolicySets(resource=rbp))
    assert d.kind is ALLOW
    assert d.matched == (ms(RESOURCE, "bucket", "Role", 0, "Allow"),)
    pb = decide(
        session(),
        "s3:GetObject",
        sets=PolicySets(resource=rbp, boundary=grp(BOUNDARY, stmt("Allow", "ec2:*"))),
    )
    assert pb.kind is IMPLICIT and pb.decided_by is BOUNDARY
    sp = decide(
        session(), "s3:GetObject", sets=PolicySets(resource=rbp, session=grp(SESSION, stmt("Allow", "ec2:*")))
    )
    assert sp.kind is IMPLICIT and sp.decided_by is SESSION


def test_parent_level_grant_for_federated_session() -> None:
    rbp = grp(RESOURCE, stmt("Allow", "s3:GetObject", Principal={"AWS": ALICE_ARN}))
    sp = grp(SESSION, stmt("Allow", "s3:*"))
    d = decide(federated(), "s3:GetObject", sets=PolicySets(resource=rbp, session=sp))
    assert d.kind is ALLOW
    assert d.reason.startswith("allowed by a resource-based policy naming the role or parent user")
    assert decide(federated(), "s3:GetObject", sets=PolicySets(resource=rbp)).kind is IMPLICIT


def test_account_level_resource_grant_needs_identity() -> None:
    rbp = grp(RESOURCE, stmt("Allow", "s3:GetObject", Principal={"AWS": A}))
    assert decide(user(), "s3:GetObject", sets=PolicySets(resource=rbp)).kind is IMPLICIT
    assert (
        decide(user(), "s3:GetObject", sets=PolicySets(resource=rbp, identity=ALLOW_ALL_IDENTITY)).kind
        is ALLOW
    )


def test_kms_key_without_key_policy_is_denied() -> None:
    d = decide(user(), "kms:Decrypt", KEY_ARN, PolicySets(identity=ALLOW_ALL_IDENTITY))
    assert d.kind is IMPLICIT
    assert d.decided_by is RESOURCE
    assert (
        d.reason
        == "the KMS key policy does not allow this principal (it must, whatever identity policies say)"
    )


def test_kms_key_policy_trusting_account_delegates_to_identity() -> None:
    key_policy = grp(RESOURCE, stmt("Allow", "kms:*", Principal={"AWS": ROOT_A}), name="key")
    assert decide(user(), "kms:Decrypt", KEY_ARN, PolicySets(resource=key_policy)).kind is IMPLICIT
    sets = PolicySets(resource=key_policy, identity=ALLOW_ALL_IDENTITY)
    assert decide(user(), "kms:Decrypt", KEY_ARN, sets).kind is ALLOW


def test_kms_key_policy_naming_user() -> None:
    key_policy = grp(RESOURCE, stmt("Allow", "kms:Decrypt", Principal={"AWS": ALICE_ARN}))
    d = decide(user(), "kms:Decrypt", KEY_ARN, PolicySets(resource=key_policy))
    assert d.kind is ALLOW
    assert d.decided_by is RESOURCE


@pytest.mark.parametrize(
    ("action", "resource"), [("kms:UpdateAlias", ALIAS_ARN), ("kms:ListKeys", "*"), ("kms:CreateKey", "*")]
)
def test_kms_alias_and_star_follow_ordinary_rules(action: str, resource: str) -> None:
    assert decide(user(), action, resource, PolicySets(identity=ALLOW_ALL_IDENTITY)).kind is ALLOW
    assert decide(user(), action, resource, PolicySets()).kind is IMPLICIT


def test_root_and_kms_key_policy() -> None:
    assert decide(root(), "kms:Decrypt", KEY_ARN, PolicySets()).kind is IMPLICIT
    key_policy = grp(RESOURCE, stmt("Allow", "kms:*", Principal={"AWS": ROOT_A}))
    assert decide(root(), "kms:Decrypt", KEY_ARN, PolicySets(resource=key_policy)).kind is ALLOW


# --- anonymous and service principals --------------------------------------------------------


def test_anonymous_allowed_only_by_star_resource_policy() -> None:
    public = grp(RESOURCE, stmt("Allow", "s3:GetObject", Principal="*", Sid="Public"), name="bucket")
    d = decide(ANON, "s3:GetObject", sets=PolicySets(resource=public))
    assert d.kind is ALLOW
    assert d.reason == "allowed by a resource-based policy that grants this caller"
    assert d.decided_by is RESOURCE
    assert d.matched == (ms(RESOURCE, "bucket", "Public", 0, "Allow"),)


def test_anonymous_denied_without_star() -> None:
    account = grp(RESOURCE, stmt("Allow", "s3:GetObject", Principal={"AWS": A}))
    for sets in (PolicySets(identity=ALLOW_ALL_IDENTITY), PolicySets(resource=account)):
        d = decide(ANON, "s3:GetObject", sets=sets)
        assert d.kind is IMPLICIT
        assert d.reason == "no resource-based policy grants an anonymous caller"
        assert d.decided_by is RESOURCE


def test_scps_do_not_apply_to_anonymous_and_services_but_rcps_do() -> None:
    public = grp(RESOURCE, stmt("Allow", "s3:GetObject", Principal="*"))
    scp_deny = (grp(SCP, stmt("Deny")),)
    assert decide(ANON, "s3:GetObject", sets=PolicySets(resource=public, scp_levels=scp_deny)).kind is ALLOW
    assert (
        decide(SERVICE, "s3:GetObject", sets=PolicySets(resource=public, scp_levels=scp_deny)).kind is ALLOW
    )
    rcp_deny = (grp(RCP, stmt("Deny", "s3:*", Principal="*")),)
    d = decide(ANON, "s3:GetObject", sets=PolicySets(resource=public, rcp_levels=rcp_deny))
    assert d.kind is EXPLICIT and d.decided_by is RCP


def test_service_principal() -> None:
    rbp = grp(RESOURCE, stmt("Allow", "s3:PutObject", Principal={"Service": "s3.amazonaws.com"}))
    assert decide(SERVICE, "s3:PutObject", sets=PolicySets(resource=rbp)).kind is ALLOW
    d = decide(SERVICE, "s3:PutObject", sets=PolicySets(identity=ALLOW_ALL_IDENTITY))
    assert d.kind is IMPLICIT
    assert d.reason == "no resource-based policy grants a service principal"
    other = grp(RESOURCE, stmt("Allow", "s3:PutObject", Principal={"Service": "sns.amazonaws.com"}))
    assert decide(SERVICE, "s3:PutObject", sets=PolicySets(resource=other)).kind is IMPLICIT
    assert decide(user(), "s3:PutObject", sets=PolicySets(resource=rbp)).kind is IMPLICIT


def test_get_caller_identity_always_allowed_for_authenticated() -> None:
    deny_all = PolicySets(identity=grp(IDENTITY, stmt("Deny")), session=grp(SESSION, stmt("Deny")))
    for p in (user(), session(), root(), federated(), Principal.from_arn(ROLE_ARN)):
        d = decide(p, "sts:GetCallerIdentity", "*", deny_all)
        assert d.kind is ALLOW, p
        assert d.reason == "sts:GetCallerIdentity is allowed for every authenticated principal"
        assert d.statements == ()
    assert decide(user(), "STS:getcalleridentity", "*").kind is ALLOW
    assert decide(ANON, "sts:GetCallerIdentity", "*").kind is IMPLICIT


# --- temporary credentials and root (§3.6) ---------------------------------------------------


@pytest.mark.parametrize("action", ["sts:GetFederationToken", "sts:GetSessionToken"])
def test_role_sessions_cannot_get_tokens(action: str) -> None:
    sets = PolicySets(identity=ALLOW_ALL_IDENTITY)
    for p in (session(), Principal.from_arn(ROLE_ARN)):
        d = decide(p, action, "*", sets)
        assert d.kind is IMPLICIT
        assert d.reason == "role sessions cannot call sts:GetFederationToken or sts:GetSessionToken"
        assert d.decided_by is None
    assert decide(user(), action, "*", sets).kind is ALLOW


def test_federated_sessions_may_call_no_sts_api() -> None:
    sets = PolicySets(
        identity=ALLOW_ALL_IDENTITY,
        session=grp(SESSION, stmt("Allow")),
        resource=trust(trust_allow({"AWS": FED_ARN})),
    )
    d = decide(federated(), "sts:AssumeRole", TARGET_ROLE, sets)
    assert d.kind is IMPLICIT
    assert d.reason == "federated-user sessions may call no STS API except GetCallerIdentity"
    assert decide(federated(), "s3:GetObject", sets=sets).kind is ALLOW


@pytest.mark.parametrize(
    "action", ["sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity"]
)
def test_root_cannot_assume_roles(action: str) -> None:
    sets = PolicySets(resource=trust(trust_allow({"AWS": ROOT_A}, action)))
    d = decide(root(), action, TARGET_ROLE, sets)
    assert d.kind is IMPLICIT
    assert d.reason == "roles may not be assumed by root accounts"


def test_explicit_deny_comes_before_service_rules() -> None:
    sets = PolicySets(identity=grp(IDENTITY, stmt("Deny", "sts:*")))
    assert decide(root(), "sts:AssumeRole", TARGET_ROLE, sets).kind is EXPLICIT


# --- optional service rules (§9 item 21) -----------------------------------------------------

RULES_ON = EngineOptions(service_rules=True)

SERVICE_RULE_CASES = [
    (
        "kms:CreateAlias",
        f"arn:aws:kms:us-east-1:{A}:alias/aws/s3",
        "AWS-managed KMS aliases (alias/aws/*) cannot be changed",
    ),
    (
        "kms:UpdateAlias",
        f"arn:aws:kms:us-east-1:{A}:alias/aws/ebs",
        "AWS-managed KMS aliases (alias/aws/*) cannot be changed",
    ),
    (
        "kms:DeleteAlias",
        f"arn:aws:kms:us-east-1:{A}:alias/aws/rds",
        "AWS-managed KMS aliases (alias/aws/*) cannot be changed",
    ),
    (
        "iam:UpdateAssumeRolePolicy",
        f"arn:aws:iam::{A}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin",
        "protected IAM roles (aws-reserved, service-linked) cannot be changed",
    ),
    (
        "iam:DeleteRole",
        f"arn:aws:iam::{A}:role/aws-service-role/elasticbeanstalk.amazonaws.com/AWSServiceRoleForEB",
        "protected IAM roles (aws-reserved, service-linked) cannot be changed",
    ),
    (
        "iam:AttachRolePolicy",
        f"arn:aws:iam::{A}:role/aws-service-role/elasticbeanstalk.amazonaws.com/AWSServiceRoleForEB",
        "protected IAM roles (aws-reserved, service-linked) cannot be changed",
    ),
    (
        "iam:CreatePolicyVersion",
        "arn:aws:iam::aws:policy/AdministratorAccess",
        "AWS-managed policies cannot be created, versioned, deleted or tagged",
    ),
    (
        "iam:DeletePolicy",
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
        "AWS-managed policies cannot be created, versioned, deleted or tagged",
    ),
    (
        "iam:TagPolicy",
        "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
        "AWS-managed policies cannot be created, versioned, deleted or tagged",
    ),
]


@pytest.mark.parametrize(("action", "resource", "reason"), SERVICE_RULE_CASES)
def test_service_rules_when_enabled(action: str, resource: str, reason: str) -> None:
    sets = PolicySets(identity=ALLOW_ALL_IDENTITY, options=RULES_ON)
    d = decide(user(), action, resource, sets, resource_account=A)
    assert d.kind is IMPLICIT
    assert d.reason == reason
    assert d.statements == ()


@pytest.mark.parametrize(("action", "resource", "reason"), SERVICE_RULE_CASES)
def test_service_rules_off_by_default(action: str, resource: str, reason: str) -> None:
    assert EngineOptions().service_rules is False
    d = decide(user(), action, resource, PolicySets(identity=ALLOW_ALL_IDENTITY), resource_account=A)
    assert d.kind is ALLOW, reason


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("kms:CreateAlias", f"arn:aws:kms:us-east-1:{A}:alias/mine"),
        ("kms:DescribeKey", f"arn:aws:kms:us-east-1:{A}:alias/aws/s3"),
        ("iam:GetRole", f"arn:aws:iam::{A}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin"),
        ("iam:PassRole", f"arn:aws:iam::{A}:role/aws-service-role/x.amazonaws.com/R"),
        ("iam:DeleteRole", f"arn:aws:iam::{A}:role/service-role/Mine"),
        ("iam:GetPolicyVersion", "arn:aws:iam::aws:policy/AdministratorAccess"),
        ("iam:CreatePolicyVersion", f"arn:aws:iam::{A}:policy/Mine"),
    ],
)
def test_service_rules_leave_other_requests_alone(action: str, resource: str) -> None:
    sets = PolicySets(identity=ALLOW_ALL_IDENTITY, options=RULES_ON)
    assert decide(user(), action, resource, sets, resource_account=A).kind is ALLOW


# --- RCPs and SCPs ---------------------------------------------------------------------------

RCP_DENY_ALL = (grp(RCP, stmt("Deny", "*", Principal="*", Sid="NoAll"), name="rcp"),)


def test_rcp_ignored_for_services_not_in_the_list() -> None:
    sets = PolicySets(identity=ALLOW_ALL_IDENTITY, rcp_levels=RCP_DENY_ALL)
    assert decide(user(), "ec2:RunInstances", "*", sets).kind is ALLOW
    d = decide(user(), "s3:GetObject", OBJ, sets)
    assert d.kind is EXPLICIT
    assert d.decided_by is RCP
    assert d.reason == "explicitly denied by a resource control policy"
    assert d.matched == (ms(RCP, "rcp", "NoAll", 0, "Deny"),)


def test_rcp_applies_to_every_service_with_none() -> None:
    sets = PolicySets(
        identity=ALLOW_ALL_IDENTITY, rcp_levels=RCP_DENY_ALL, options=EngineOptions(rcp_services=None)
    )
    d = decide(user(), "ec2:RunInstances", "*", sets)
    assert d.kind is EXPLICIT
    assert d.decided_by is RCP


def test_rcp_custom_service_list() -> None:
    sets = PolicySets(
        identity=ALLOW_ALL_IDENTITY,
        rcp_levels=RCP_DENY_ALL,
        options=EngineOptions(rcp_services=frozenset({"ec2"})),
    )
    assert decide(user(), "ec2:RunInstances", "*", sets).kind is EXPLICIT
    assert decide(user(), "s3:GetObject", OBJ, sets).kind is ALLOW


def test_rcp_level_without_allow_does_not_deny() -> None:
    """RCPFullAWSAccess is implied at every level: only Denies bite."""
    level = (grp(RCP, stmt("Deny", "s3:PutObject", Principal="*")),)
    sets = PolicySets(identity=ALLOW_ALL_IDENTITY, rcp_levels=level)
    assert decide(user(), "s3:GetObject", sets=sets).kind is ALLOW


def test_rcps_and_scps_skip_service_linked_roles() -> None:
    slr_role = f"arn:aws:iam::{A}:role/aws-service-role/elasticbeanstalk.amazonaws.com/AWSServiceRoleForEB"
    slr = Principal.from_arn(f"arn:aws:sts::{A}:assumed-role/AWSServiceRoleForEB/s", role_arn=slr_role)
    sets = PolicySets(
        identity=ALLOW_ALL_IDENTITY, rcp_levels=RCP_DENY_ALL, scp_levels=(grp(SCP, stmt("Deny")),)
    )
    assert decide(slr, "s3:GetObject", sets=sets).kind is ALLOW
    assert decide(session(), "s3:GetObject", sets=sets).kind is EXPLICIT


# --- cross account and cross partition -------------------------------------------------------

BOB_B = f"arn:aws:iam::{B}:user/bob"
QUEUE_A = f"arn:aws:sqs:us-east-1:{A}:queue"


def bob_b() -> Principal:
    return Principal.from_arn(BOB_B)


def test_cross_account_needs_both_sides() -> None:
    rbp = grp(RESOURCE, stmt("Allow", "sqs:SendMessage", Principal={"AWS": BOB_B}, Sid="Bob"), name="queue")
    ident = grp(IDENTITY, stmt("Allow", "sqs:*", Sid="Sqs"), name="bob-idp")
    d = decide(bob_b(), "sqs:SendMessage", QUEUE_A, PolicySets(identity=ident, resource=rbp))
    assert d.kind is ALLOW
    assert (
        d.reason
        == "cross-account request allowed by both the principal's policies and the resource-based policy"
    )
    assert d.decided_by is RESOURCE
    assert d.matched == (ms(RESOURCE, "queue", "Bob", 0, "Allow"), ms(IDENTITY, "bob-idp", "Sqs", 0, "Allow"))


def test_cross_account_without_identity_allow() -> None:
    rbp = grp(RESOURCE, stmt("Allow", "sqs:SendMessage", Principal={"AWS": BOB_B}))
    d = decide(bob_b(), "sqs:SendMessage", QUEUE_A, PolicySets(resource=rbp))
    assert d.kind is IMPLICIT
    assert d.reason == "no identity-based policy allows the action"
    assert d.decided_by is IDENTITY


def test_cross_account_without_resource_policy() -> None:
    d = decide(bob_b(), "sqs:SendMessage", QUEUE_A, PolicySets(identity=ALLOW_ALL_IDENTITY))
    assert d.kind is IMPLICIT
    assert (
        d.reason
        == "cross-account request: no resource-based policy exists; the resource's account must allow it too"
    )
    assert d.decided_by is RESOURCE


def test_cross_account_resource_policy_not_naming_principal() -> None:
    rbp = grp(RESOURCE, stmt("Allow", "sqs:SendMessage", Principal={"AWS": ALICE_ARN}))
    d = decide(bob_b(), "sqs:SendMessage", QUEUE_A, PolicySets(identity=ALLOW_ALL_IDENTITY, resource=rbp))
    assert d.kind is IMPLICIT
    assert d.reason == (
        "cross-account request: the resource-based policy does not allow the principal; "
        "the resource's account must allow it too"
    )


def test_cross_account_account_level_grant_suffices() -> None:
    rbp = grp(RESOURCE, stmt("Allow", "sqs:SendMessage", Principal={"AWS": B}))
    assert (
        decide(
            bob_b(), "sqs:SendMessage", QUEUE_A, PolicySets(identity=ALLOW_ALL_IDENTITY, resource=rbp)
        ).kind
        is ALLOW
    )


def test_cross_account_direct_grant_does_not_skip_boundary() -> None:
    rbp = grp(RESOURCE, stmt("Allow", "sqs:SendMessage", Principal={"AWS": BOB_B}))
    sets = PolicySets(
        identity=ALLOW_ALL_IDENTITY, resource=rbp, boundary=grp(BOUNDARY, stmt("Allow", "s3:*"))
    )
    d = decide(bob_b(), "sqs:SendMessage", QUEUE_A, sets)
    assert d.kind is IMPLICIT
    assert d.decided_by is BOUNDARY


def test_cross_account_assume_role() -> None:
    sets = PolicySets(identity=ALLOW_ALL_IDENTITY, resource=trust(trust_allow({"AWS": BOB_B})))
    assert decide(bob_b(), "sts:AssumeRole", TARGET_ROLE, sets).kind is ALLOW
    no_idp = PolicySets(resource=sets.resource)
    assert decide(bob_b(), "sts:AssumeRole", TARGET_ROLE, no_idp).kind is IMPLICIT
    no_trust = PolicySets(identity=ALLOW_ALL_IDENTITY, resource=trust(trust_allow({"AWS": ALICE_ARN})))
    assert decide(bob_b(), "sts:AssumeRole", TARGET_ROLE, no_trust).kind is IMPLICIT


def test_cross_partition_is_denied_even_with_direct_grant() -> None:
    cn_obj = "arn:aws-cn:s3:::bucket/key"
    rbp = grp(RESOURCE, stmt("Allow", "s3:GetObject", Principal="*"))
    sets = PolicySets(identity=ALLOW_ALL_IDENTITY, resource=rbp)
    d = decide(user(), "s3:GetObject", cn_obj, sets)
    assert d.kind is IMPLICIT
    assert d.reason == "the resource is in partition 'aws-cn', the principal in 'aws'"
    cn_user = Principal.from_arn(f"arn:aws-cn:iam::{A}:user/alice")
    assert decide(cn_user, "s3:GetObject", cn_obj, sets).kind is ALLOW
    assert decide(cn_user, "s3:GetObject", OBJ, sets).kind is IMPLICIT


# --- fail closed -----------------------------------------------------------------------------


class _Broken:
    """Not a PolicyGroup: any use raises inside the evaluator."""


def test_broken_identity_group_fails_closed() -> None:
    sets = PolicySets(identity=_Broken())  # type: ignore[arg-type]
    d = decide(user(), "s3:GetObject", sets=sets)
    assert d.kind is IMPLICIT and not d.allowed
    assert d.error is not None and d.error.startswith("AttributeError")
    assert d.reason == f"evaluation error, denied (fail closed): {d.error}"
    assert d.statements == ()


def test_broken_group_fails_closed_even_when_a_resource_policy_allows() -> None:
    rbp = grp(RESOURCE, stmt("Allow", "s3:GetObject", Principal={"AWS": ALICE_ARN}))
    sets = PolicySets(resource=rbp, boundary=_Broken())  # type: ignore[arg-type]
    d = decide(user(), "s3:GetObject", sets=sets)
    assert d.kind is IMPLICIT
    assert d.error is not None


def test_ambiguous_caller_key_read_by_condition_fails_closed() -> None:
    identity = grp(
        IDENTITY, stmt("Allow", "s3:GetObject", Condition={"StringEquals": {"aws:SourceVpc": "vpc-1"}})
    )
    ctx = {"aws:SourceVpc": "vpc-1", "AWS:SOURCEVPC": "vpc-2"}
    d = decide(user(), "s3:GetObject", sets=PolicySets(identity=identity), context=ctx)
    assert d.kind is IMPLICIT
    assert d.error is not None and "aws:sourcevpc" in d.error
    assert d.reason.startswith("evaluation error, denied (fail closed): ")
    # the same key given twice with the same value is not ambiguous
    same = decide(
        user(),
        "s3:GetObject",
        sets=PolicySets(identity=identity),
        context={"aws:SourceVpc": "vpc-1", "AWS:SOURCEVPC": "vpc-1"},
    )
    assert same.kind is ALLOW


def test_ambiguous_principal_tag_read_by_condition_fails_closed() -> None:
    identity = grp(
        IDENTITY, stmt("Allow", "s3:GetObject", Condition={"StringEquals": {"aws:PrincipalTag/team": "x"}})
    )
    p = user(tags={"Team": "x", "team": "x"})
    d = decide(p, "s3:GetObject", sets=PolicySets(identity=identity))
    assert d.kind is IMPLICIT
    assert d.error is not None and "aws:principaltag/team" in d.error


def test_ambiguous_key_not_read_does_not_matter() -> None:
    p = user(tags={"Team": "x", "team": "y"})
    d = decide(p, "s3:GetObject", sets=PolicySets(identity=ALLOW_ALL_IDENTITY))
    assert d.kind is ALLOW
    assert d.error is None


@pytest.mark.parametrize(
    "deny",
    [
        stmt("Deny", "s3:GetObject", "arn:aws:s3:::bucket/${aws:PrincipalTag/team}/*"),
        stmt("Deny", "s3:GetObject", Condition={"StringLike": {"s3:prefix": "${aws:PrincipalTag/team}"}}),
    ],
    ids=["resource", "condition-value"],
)
def test_ambiguous_key_read_by_policy_variable_fails_closed(deny: dict[str, Any]) -> None:
    """Found while writing these tests (the variable was read as absent, so the Deny stopped
    matching and the request was allowed); fixed in the code since."""
    sets = PolicySets(identity=grp(IDENTITY, stmt("Allow", "s3:*"), deny))
    obj = "arn:aws:s3:::bucket/x/file"
    ctx = {"s3:prefix": "x"}
    # the well-defined tag is denied
    assert decide(user(tags={"team": "x"}), "s3:GetObject", obj, sets, context=ctx).kind is EXPLICIT
    d = decide(user(tags={"Team": "x", "team": "x"}), "s3:GetObject", obj, sets, context=ctx)
    assert d.kind is IMPLICIT
    assert d.error is not None and "aws:principaltag/team" in d.error


def test_fail_closed_helper() -> None:
    d = fail_closed("boom")
    assert d.kind is IMPLICIT
    assert d.error == "boom"
    assert d.reason == "evaluation error, denied (fail closed): boom"
    assert d.decided_by is None


# --- PolicyGroup.for_action memo -------------------------------------------------------------


def _memo_group(max_memo: int = 4096) -> PolicyGroup:
    policy = pol(
        IDENTITY,
        stmt("Allow", "s3:Get*", Sid="Get"),
        stmt("Deny", "s3:GetObject", Sid="NoGet"),
        stmt("Allow", "ec2:*", Sid="Ec2"),
        {"Sid": "NotS3", "Effect": "Deny", "NotAction": "s3:*", "Resource": "*"},
    )
    return PolicyGroup([policy], max_memo=max_memo)


def test_for_action_partitions_denies_and_allows() -> None:
    g = _memo_group()
    assert len(g) == 4
    denies, allows = g.for_action("s3:getobject")
    assert [st.sid for st in denies] == ["NoGet"]
    assert [st.sid for st in allows] == ["Get"]
    denies, allows = g.for_action("ec2:runinstances")
    assert [st.sid for st in denies] == ["NotS3"]
    assert [st.sid for st in allows] == ["Ec2"]
    assert g.for_action("s3:putobject") == ((), ())


def test_for_action_returns_the_memoised_tuple() -> None:
    g = _memo_group()
    first = g.for_action("s3:getobject")
    second = g.for_action("s3:getobject")
    third = g.for_action("s3:getobject")
    assert second is third
    assert g._memo["s3:getobject"] is second
    # the statement tuples are computed once
    assert first[0] is second[0] and first[1] is second[1]


def test_for_action_first_call_returns_the_stored_tuple() -> None:
    """Found while writing these tests (a miss returned a fresh tuple); fixed in the code since."""
    g = _memo_group()
    first = g.for_action("s3:getobject")
    assert first is g.for_action("s3:getobject")
    assert g._memo["s3:getobject"] is first


def test_for_action_memo_is_bounded() -> None:
    g = _memo_group(max_memo=3)
    actions = [f"s3:get{i}" for i in range(20)]
    for action in actions:
        denies, allows = g.for_action(action)
        assert [st.sid for st in allows] == ["Get"]
        assert denies == ()
        assert 1 <= len(g._memo) <= 3
    # still correct after evictions, and memoised again
    again = g.for_action("s3:getobject")
    assert [st.sid for st in again[0]] == ["NoGet"]
    assert "s3:getobject" in g._memo
    assert g.for_action("s3:getobject") is g.for_action("s3:getobject")
    assert len(g._memo) <= 3


def test_policy_group_from_statements() -> None:
    policy = pol(IDENTITY, stmt("Allow", "s3:*", Sid="A"), stmt("Allow", "ec2:*", Sid="B"))
    g = PolicyGroup(statements=[policy.statements[1]])
    assert len(g) == 1
    assert g.for_action("s3:getobject") == ((), ())
    assert [st.sid for st in g.for_action("ec2:runinstances")[1]] == ["B"]


def test_for_action_across_services_and_case() -> None:
    policy = pol(
        IDENTITY,
        stmt("Allow", "S3:GETOBJECT", Sid="Upper"),
        stmt("Allow", ["ec2:Run*", "s3:Put*"], Sid="Multi"),
        stmt("Deny", "*", Sid="Star"),
        stmt("Allow", "s3:Get?bject", Sid="Q"),
    )
    g = PolicyGroup([policy])
    sids = {
        a: ([st.sid for st in g.for_action(a)[0]], [st.sid for st in g.for_action(a)[1]])
        for a in ("s3:getobject", "s3:putobject", "ec2:runinstances", "iam:getuser", "ec2:stopinstances")
    }
    assert sids == {
        "s3:getobject": (["Star"], ["Upper", "Q"]),
        "s3:putobject": (["Star"], ["Multi"]),
        "ec2:runinstances": (["Star"], ["Multi"]),
        "iam:getuser": (["Star"], []),
        "ec2:stopinstances": (["Star"], []),
    }


# --- more trust, KMS and cross-account details -----------------------------------------------


def test_explicit_deny_in_trust_policy() -> None:
    sets = PolicySets(
        resource=trust(
            trust_allow({"AWS": ALICE_ARN}),
            {"Sid": "NoAlice", "Effect": "Deny", "Action": "sts:AssumeRole", "Principal": {"AWS": A}},
        )
    )
    d = decide(user(), "sts:AssumeRole", TARGET_ROLE, sets)
    assert d.kind is EXPLICIT
    assert d.decided_by is TRUST
    assert d.reason == "explicitly denied by a role trust policy"
    assert d.matched == (ms(TRUST, "trust", "NoAlice", 1, "Deny"),)


def test_service_principal_assumes_role_through_trust() -> None:
    ec2 = Principal(PrincipalKind.SERVICE, name="ec2.amazonaws.com")
    sets = PolicySets(resource=trust(trust_allow({"Service": "ec2.amazonaws.com"})))
    d = decide(ec2, "sts:AssumeRole", TARGET_ROLE, sets)
    assert d.kind is ALLOW
    assert d.matched == (ms(TRUST, "trust", "Trust", 0, "Allow"),)
    assert decide(SERVICE, "sts:AssumeRole", TARGET_ROLE, sets).kind is IMPLICIT


def test_service_principal_trust_allow_is_decided_by_trust() -> None:
    ec2 = Principal(PrincipalKind.SERVICE, name="ec2.amazonaws.com")
    sets = PolicySets(resource=trust(trust_allow({"Service": "ec2.amazonaws.com"})))
    assert decide(ec2, "sts:AssumeRole", TARGET_ROLE, sets).decided_by is TRUST


def test_cross_account_kms_key() -> None:
    key_policy = grp(RESOURCE, stmt("Allow", "kms:Decrypt", Principal={"AWS": f"arn:aws:iam::{B}:root"}))
    sets = PolicySets(identity=ALLOW_ALL_IDENTITY, resource=key_policy)
    assert decide(bob_b(), "kms:Decrypt", KEY_ARN, sets).kind is ALLOW
    assert decide(bob_b(), "kms:Decrypt", KEY_ARN, PolicySets(resource=key_policy)).kind is IMPLICIT
    assert decide(bob_b(), "kms:Decrypt", KEY_ARN, PolicySets(identity=ALLOW_ALL_IDENTITY)).kind is IMPLICIT


def test_cross_account_root() -> None:
    rbp = grp(RESOURCE, stmt("Allow", "sqs:SendMessage", Principal={"AWS": B}))
    d = decide(root(B), "sqs:SendMessage", QUEUE_A, PolicySets(resource=rbp))
    assert d.kind is ALLOW
    assert d.reason == (
        "cross-account request allowed by both the principal's policies and the resource-based policy"
    )
    assert decide(root(B), "sqs:SendMessage", QUEUE_A, PolicySets()).kind is IMPLICIT


def test_cross_account_explicit_deny_in_resource_policy() -> None:
    rbp = grp(
        RESOURCE,
        stmt("Allow", "sqs:SendMessage", Principal={"AWS": BOB_B}),
        stmt("Deny", "sqs:*", Principal={"AWS": B}, Sid="NoB"),
        name="queue",
    )
    d = decide(bob_b(), "sqs:SendMessage", QUEUE_A, PolicySets(identity=ALLOW_ALL_IDENTITY, resource=rbp))
    assert d.kind is EXPLICIT
    assert d.decided_by is RESOURCE
    assert d.matched == (ms(RESOURCE, "queue", "NoB", 1, "Deny"),)


def test_star_principal_narrowed_by_principal_arn_is_direct() -> None:
    rbp = grp(
        RESOURCE,
        stmt(
            "Allow",
            "s3:GetObject",
            Principal="*",
            Condition={"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{A}:role/team/*"}},
        ),
    )
    sets = PolicySets(resource=rbp, session=grp(SESSION, stmt("Allow", "ec2:*")))
    d = decide(session(), "s3:GetObject", sets=sets)
    assert d.kind is ALLOW
    assert d.reason == "allowed by a resource-based policy that names the principal"
    assert decide(user(), "s3:GetObject", sets=sets).kind is IMPLICIT
