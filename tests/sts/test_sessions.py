"""Credential callers (reference §6.1, §6.3, §7.5): session tokens and long-term access keys
authenticated against the snapshot, the session principal and its keys, session policies,
the decision cache, deleted roles, and role chaining (transitive tags, source identity, MFA)."""

from __future__ import annotations

import copy
import json

import pytest

from sidecar.engine.cache import DecisionCache
from sidecar.engine.compile import compile_snapshot
from sidecar.engine.decision import DecisionKind
from sidecar.engine.principal import PrincipalKind
from sidecar.policy import PolicyKind
from sidecar.snapshot import load_snapshot
from sidecar.sts import StsError
from sidecar.sts.errors import (
    ACCESS_DENIED,
    EXPIRED_TOKEN,
    INVALID_CLIENT_TOKEN_ID,
    INVALID_PARAMETER_VALUE,
    MISSING_AUTHENTICATION_TOKEN,
    SIGNATURE_DOES_NOT_MATCH,
)

from .support import (
    ACCT,
    OTHER,
    SEED_ALICE,
    T0,
    Clock,
    World,
    access_key_id,
    account,
    allow,
    compiled,
    decide,
    doc,
    login,
    new_sts,
    role,
    role_arn,
    role_id,
    secret_of,
    session_arn,
    sts_error,
    trust,
    user,
    user_arn,
)

ALICE = user_arn("alice")
ALLOW = DecisionKind.ALLOW
IMPLICIT = DecisionKind.IMPLICIT_DENY
OBJ = "arn:aws:s3:::bucket/key"


def app_world(**kwargs: object) -> World:
    """alice may assume App (path /svc/, tag team=app, s3:* and sqs:SendMessage)."""
    return World(
        role(
            "App",
            doc(trust(ALICE, ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"])),
            path="/svc/",
            policies=[doc(allow(["s3:*", "sqs:SendMessage"]))],
            tags={"team": "app", "Tier": "gold"},
            max_session_duration=7200,
        ),
        **kwargs,  # type: ignore[arg-type]
    )


APP = role_arn("App", path="/svc/")


# -- authenticating a session --------------------------------------------------------------------


def test_session_credentials_authenticate_with_or_without_the_secret() -> None:
    w = app_world()
    out = w.assume(w.arn("alice"), APP)
    for auth in (login(w.sts, w.snap, out), login(w.sts, w.snap, out, secret=False)):
        assert auth.via == "session"
        assert auth.entry.principal.kind is PrincipalKind.ROLE_SESSION
        assert auth.entry.principal.arn == session_arn("App", "s1")
        assert auth.claims == out.claims


def test_session_credential_errors() -> None:
    w = app_world()
    c = w.assume(w.arn("alice"), APP).credentials
    other = w.assume(w.arn("alice"), APP).credentials
    with sts_error(SIGNATURE_DOES_NOT_MATCH):
        w.sts.authenticate_keys(w.snap, c.access_key_id, other.secret_access_key, c.session_token)
    with sts_error(INVALID_CLIENT_TOKEN_ID):  # a valid token with another session's key id
        w.sts.authenticate_keys(w.snap, other.access_key_id, c.secret_access_key, c.session_token)
    with sts_error(INVALID_CLIENT_TOKEN_ID):
        w.sts.authenticate_keys(w.snap, c.access_key_id, c.secret_access_key, c.session_token[:-2] + "AA")
    with sts_error(INVALID_CLIENT_TOKEN_ID):
        w.sts.authenticate_keys(w.snap, c.access_key_id, c.secret_access_key, "forged-token")
    with sts_error(MISSING_AUTHENTICATION_TOKEN):
        w.sts.authenticate_keys(w.snap, "", c.secret_access_key, c.session_token)
    with sts_error(INVALID_CLIENT_TOKEN_ID):  # an ASIA key without its token is no long-term key
        w.sts.authenticate_keys(w.snap, c.access_key_id, c.secret_access_key, "")


def test_session_expires_on_the_test_clock() -> None:
    w = app_world()
    out = w.assume(w.arn("alice"), APP, duration_seconds=900)
    w.login(out)  # memoised from here on: expiry must still be checked
    w.clock.advance(899)
    w.login(out)
    w.clock.advance(1)
    with sts_error(EXPIRED_TOKEN):
        w.login(out)
    with sts_error(EXPIRED_TOKEN):  # expiry is checked before the secret
        w.sts.authenticate_keys(w.snap, out.credentials.access_key_id, "wrong", out.credentials.session_token)


def test_another_sts_with_the_same_keyset_accepts_the_session() -> None:
    w = app_world()
    out = w.assume(w.arn("alice"), APP)
    replica = new_sts(w.clock)
    auth = login(replica, w.snap, out)
    assert auth.entry.principal.arn == out.arn
    assert decide(w.snap, auth, "s3:GetObject", OBJ, w.now).kind is ALLOW


# -- long-term access keys ----------------------------------------------------------------------


def test_long_term_keys() -> None:
    w = World(
        role("R", doc(trust(ALICE))),
        users=[
            user("alice", policies=[doc(allow("s3:GetObject"))]),
            user("bob", key_status="Inactive"),
            user("carl", key_status=None),
        ],
    )
    auth = w.sts.authenticate_keys(w.snap, access_key_id("alice"), secret_of("alice"), "")
    assert auth.via == "access-key"
    assert auth.entry.principal.arn == ALICE
    assert auth.user is not None and auth.user.name == "alice"
    assert auth.session is None and auth.claims is None
    assert decide(w.snap, auth, "s3:GetObject", OBJ, w.now).kind is ALLOW
    assert decide(w.snap, auth, "s3:PutObject", OBJ, w.now).kind is IMPLICIT
    # MultiFactorAuthPresent is absent for long-term keys (reference §6.1).
    assert "aws:multifactorauthpresent" not in auth.entry.principal.context
    with sts_error(SIGNATURE_DOES_NOT_MATCH):
        w.sts.authenticate_keys(w.snap, access_key_id("alice"), secret_of("alice") + "x", "")
    with sts_error(SIGNATURE_DOES_NOT_MATCH):
        w.sts.authenticate_keys(w.snap, access_key_id("alice"), secret_of("bob"), "")
    with sts_error(INVALID_CLIENT_TOKEN_ID):  # Inactive, even with the right secret
        w.sts.authenticate_keys(w.snap, access_key_id("bob"), secret_of("bob"), "")
    with sts_error(INVALID_CLIENT_TOKEN_ID):  # unknown key
        w.sts.authenticate_keys(w.snap, access_key_id("carl"), secret_of("carl"), "")
    with sts_error(INVALID_CLIENT_TOKEN_ID):
        w.sts.authenticate_keys(w.snap, "AKIAIOSFODNN7EXAMPLE", secret_of("alice"), "")
    with sts_error(MISSING_AUTHENTICATION_TOKEN):
        w.sts.authenticate_keys(w.snap, access_key_id("alice"), "", "")


def test_long_term_key_non_ascii_secret_is_a_mismatch() -> None:
    w = World(role("R", doc(trust(ALICE))), users=[user("alice")])
    with sts_error(SIGNATURE_DOES_NOT_MATCH):
        w.sts.authenticate_keys(w.snap, access_key_id("alice"), "sécret", "")


# -- the session principal ------------------------------------------------------------------------


def test_session_principal_keys() -> None:
    w = app_world()
    out = w.assume(w.arn("alice"), APP, role_session_name="Worker-1", tags=(("TEAM", "override"),))
    auth = w.login(out)
    ctx = auth.entry.principal.context
    assert ctx["aws:principaltype"] == "AssumedRole"
    assert ctx["aws:principalarn"] == APP  # the role ARN with its path
    assert ctx["aws:userid"] == f"{role_id('App')}:Worker-1"
    assert ctx["aws:principalaccount"] == ACCT
    assert ctx["aws:tokenissuetime"] == "2023-11-14T22:13:20Z"  # T0
    assert ctx["aws:multifactorauthpresent"] == "false"
    assert "aws:multifactorauthage" not in ctx and "aws:multifactorauthage" not in auth.request_keys(w.now)
    assert "aws:username" not in ctx
    assert "aws:sourceidentity" not in ctx
    # Role tags, overridden case-insensitively by session tags.
    assert ctx["aws:principaltag/team"] == "override"
    assert ctx["aws:principaltag/tier"] == "gold"


def _conditional(key: str, op: str, value: str, action: str = "s3:GetObject") -> dict:
    return doc(allow(action, Condition={op: {key: value}}))


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (_conditional("aws:PrincipalArn", "ArnEquals", APP), ALLOW),
        (_conditional("aws:PrincipalArn", "ArnEquals", session_arn("App", "s1")), IMPLICIT),
        (_conditional("aws:userid", "StringEquals", f"{role_id('App')}:s1"), ALLOW),
        (_conditional("aws:userid", "StringLike", "AROA*:other"), IMPLICIT),
        (_conditional("aws:PrincipalType", "StringEquals", "AssumedRole"), ALLOW),
        (_conditional("aws:TokenIssueTime", "DateLessThan", "2023-11-14T22:13:21Z"), ALLOW),
        (_conditional("aws:TokenIssueTime", "DateGreaterThan", "2023-11-14T22:13:20Z"), IMPLICIT),
        (_conditional("aws:MultiFactorAuthPresent", "Bool", "false"), ALLOW),
        (_conditional("aws:PrincipalTag/team", "StringEquals", "app"), ALLOW),
        (_conditional("aws:PrincipalTag/team", "StringEquals", "red"), IMPLICIT),
        (_conditional("aws:username", "StringEquals", "alice"), IMPLICIT),  # the caller's keys are gone
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_session_keys_in_decisions(policy: dict, expected: DecisionKind) -> None:
    w = World(role("App", doc(trust(ALICE)), path="/svc/", policies=[policy], tags={"team": "app"}))
    auth = w.login(w.assume(w.arn("alice"), APP))
    assert decide(w.snap, auth, "s3:GetObject", OBJ, w.now).kind is expected


def test_caller_permissions_do_not_carry_into_the_session() -> None:
    w = World(
        role("Empty", doc(trust(ALICE))),
        users=[user("alice", policies=[doc(allow("*"))])],
    )
    auth = w.login(w.assume(w.arn("alice"), "Empty"))
    assert decide(w.snap, w.arn("alice"), "s3:GetObject", OBJ, w.now).kind is ALLOW
    assert decide(w.snap, auth, "s3:GetObject", OBJ, w.now).kind is IMPLICIT


def test_cross_account_session_belongs_to_the_role_account() -> None:
    other = account(
        OTHER, users=[user("carol", account=OTHER, policies=[doc(allow("sts:AssumeRole")), doc(allow("*"))])]
    )
    w = World(
        role("Target", doc(trust(user_arn("carol", OTHER))), policies=[doc(allow("s3:List*"))]),
        accounts=[other],
    )
    auth = w.login(w.assume(w.arn(user_arn("carol", OTHER)), "Target"))
    assert auth.entry.principal.arn == session_arn("Target", "s1", ACCT)
    assert auth.entry.principal.context["aws:principalaccount"] == ACCT
    assert decide(w.snap, auth, "s3:ListBucket", "arn:aws:s3:::bucket", w.now).kind is ALLOW
    assert decide(w.snap, auth, "s3:GetObject", OBJ, w.now).kind is IMPLICIT


def test_source_identity_in_the_session() -> None:
    w = World(
        role(
            "App",
            doc(trust(ALICE, ["sts:AssumeRole", "sts:SetSourceIdentity"])),
            policies=[_conditional("aws:SourceIdentity", "StringEquals", "alice")],
        )
    )
    with_si = w.login(w.assume(w.arn("alice"), "App", source_identity="alice"))
    without = w.login(w.assume(w.arn("alice"), "App"))
    assert with_si.entry.principal.context["aws:sourceidentity"] == "alice"
    assert decide(w.snap, with_si, "s3:GetObject", OBJ, w.now).kind is ALLOW
    assert decide(w.snap, without, "s3:GetObject", OBJ, w.now).kind is IMPLICIT


# -- MFA in sessions ----------------------------------------------------------------------------


def test_mfa_keys_of_a_session_and_their_age() -> None:
    w = World(
        role(
            "App",
            doc(trust(ALICE)),
            policies=[
                doc(
                    allow(
                        "s3:GetObject",
                        Condition={
                            "Bool": {"aws:MultiFactorAuthPresent": "true"},
                            "NumericLessThan": {"aws:MultiFactorAuthAge": "300"},
                        },
                    )
                )
            ],
        )
    )
    with_mfa = w.login(w.assume(w.arn("alice"), "App", **w.mfa("alice", SEED_ALICE)))
    without = w.login(w.assume(w.arn("alice"), "App"))
    assert with_mfa.entry.principal.context["aws:multifactorauthpresent"] == "true"
    assert with_mfa.request_keys(w.now) == {"aws:multifactorauthage": "0"}
    assert decide(w.snap, with_mfa, "s3:GetObject", OBJ, w.now).kind is ALLOW
    assert decide(w.snap, without, "s3:GetObject", OBJ, w.now).kind is IMPLICIT
    w.clock.advance(299)
    assert with_mfa.request_keys(w.now) == {"aws:multifactorauthage": "299"}
    assert decide(w.snap, with_mfa, "s3:GetObject", OBJ, w.now).kind is ALLOW
    w.clock.advance(1)
    assert with_mfa.request_keys(w.now) == {"aws:multifactorauthage": "300"}
    assert decide(w.snap, with_mfa, "s3:GetObject", OBJ, w.now).kind is IMPLICIT


def test_mfa_age_in_a_chained_trust_policy() -> None:
    age = {
        "Bool": {"aws:MultiFactorAuthPresent": "true"},
        "NumericLessThan": {"aws:MultiFactorAuthAge": "300"},
    }
    w = World(
        role("First", doc(trust(ALICE)), max_session_duration=7200),
        role("Second", doc(trust(role_arn("First"), condition=age))),
    )
    with_mfa = w.login(w.assume(w.arn("alice"), "First", **w.mfa("alice", SEED_ALICE)))
    without = w.login(w.assume(w.arn("alice"), "First"))
    w.clock.advance(100)
    second = w.assume(with_mfa, "Second")
    with sts_error(ACCESS_DENIED):
        w.assume(without, "Second")
    w.clock.advance(300)  # MFA is now 400 s old
    with sts_error(ACCESS_DENIED):
        w.assume(with_mfa, "Second")
    # Reference §7.5: MFA present only when supplied to this AssumeRole call.
    assert w.login(second).entry.principal.context["aws:multifactorauthpresent"] == "false"


def test_role_session_cannot_present_mfa() -> None:
    w = World(role("First", doc(trust(ALICE))), role("Second", doc(trust(role_arn("First")))))
    hop = w.login(w.assume(w.arn("alice"), "First"))
    with sts_error(ACCESS_DENIED):
        w.assume(hop, "Second", **w.mfa("alice", SEED_ALICE))


# -- session policies -----------------------------------------------------------------------------


def test_session_policy_narrows_the_role() -> None:
    w = app_world()
    narrow = w.login(w.assume(w.arn("alice"), APP, policy=json.dumps(doc(allow("s3:GetObject")))))
    full = w.login(w.assume(w.arn("alice"), APP))
    assert decide(w.snap, full, "s3:PutObject", OBJ, w.now).kind is ALLOW
    assert decide(w.snap, narrow, "s3:GetObject", OBJ, w.now).kind is ALLOW
    put = decide(w.snap, narrow, "s3:PutObject", OBJ, w.now)
    assert put.kind is IMPLICIT
    assert put.decided_by is PolicyKind.SESSION


def test_session_policy_never_adds_permissions() -> None:
    w = app_world()
    wide = w.login(w.assume(w.arn("alice"), APP, policy=json.dumps(doc(allow("*")))))
    assert decide(w.snap, wide, "ec2:RunInstances", "*", w.now).kind is IMPLICIT
    assert decide(w.snap, wide, "s3:GetObject", OBJ, w.now).kind is ALLOW


def test_managed_session_policy_narrows_the_role() -> None:
    arn = f"arn:aws:iam::{ACCT}:policy/SqsOnly"
    w = app_world(policies={"SqsOnly": doc(allow("sqs:*"))})
    auth = w.login(w.assume(w.arn("alice"), APP, policy_arns=(arn,)))
    assert (
        decide(w.snap, auth, "sqs:SendMessage", "arn:aws:sqs:us-east-1:111122223333:q", w.now).kind is ALLOW
    )
    assert decide(w.snap, auth, "s3:GetObject", OBJ, w.now).kind is IMPLICIT


def test_inline_and_managed_session_policies_both_apply() -> None:
    arn = f"arn:aws:iam::{ACCT}:policy/S3Get"
    w = app_world(policies={"S3Get": doc(allow("s3:GetObject"))})
    auth = w.login(
        w.assume(w.arn("alice"), APP, policy=json.dumps(doc(allow("sqs:SendMessage"))), policy_arns=(arn,))
    )
    # Session policies are one set: any of them allowing is enough (within the role).
    assert decide(w.snap, auth, "s3:GetObject", OBJ, w.now).kind is ALLOW
    assert (
        decide(w.snap, auth, "sqs:SendMessage", "arn:aws:sqs:us-east-1:111122223333:q", w.now).kind is ALLOW
    )
    assert decide(w.snap, auth, "s3:PutObject", OBJ, w.now).kind is IMPLICIT


def test_session_whose_policy_arn_was_deleted_is_refused() -> None:
    arn = f"arn:aws:iam::{ACCT}:policy/S3Get"
    w = app_world(policies={"S3Get": doc(allow("s3:GetObject"))})
    out = w.assume(w.arn("alice"), APP, policy_arns=(arn,))
    later = copy.deepcopy(w.document)
    later["accounts"][0]["policies"] = []
    with sts_error(ACCESS_DENIED):
        login(w.sts, compiled(later), out)


def test_sessions_with_one_arn_and_different_policies_do_not_share_cached_answers() -> None:
    w = app_world()
    cache = DecisionCache()
    get_only = w.login(
        w.assume(
            w.arn("alice"), APP, role_session_name="shared", policy=json.dumps(doc(allow("s3:GetObject")))
        )
    )
    put_only = w.login(
        w.assume(
            w.arn("alice"), APP, role_session_name="shared", policy=json.dumps(doc(allow("s3:PutObject")))
        )
    )
    unrestricted = w.login(w.assume(w.arn("alice"), APP, role_session_name="shared"))
    assert get_only.entry.principal.arn == put_only.entry.principal.arn == unrestricted.entry.principal.arn
    assert len({get_only.session_key, put_only.session_key, unrestricted.session_key}) == 3
    for _ in range(2):  # the second round is answered from the cache
        for auth, get, put in (
            (unrestricted, ALLOW, ALLOW),
            (get_only, ALLOW, IMPLICIT),
            (put_only, IMPLICIT, ALLOW),
            (unrestricted, ALLOW, ALLOW),
        ):
            assert decide(w.snap, auth, "s3:GetObject", OBJ, w.now, cache=cache).kind is get
            assert decide(w.snap, auth, "s3:PutObject", OBJ, w.now, cache=cache).kind is put
    assert cache.hits > 0


def test_sessions_with_one_arn_and_different_tags_do_not_share_cached_answers() -> None:
    w = World(
        role(
            "App",
            doc(trust(ALICE, ["sts:AssumeRole", "sts:TagSession"])),
            policies=[_conditional("aws:PrincipalTag/project", "StringEquals", "x")],
        )
    )
    cache = DecisionCache()
    x = w.login(w.assume(w.arn("alice"), "App", tags=(("project", "x"),)))
    y = w.login(w.assume(w.arn("alice"), "App", tags=(("project", "y"),)))
    for _ in range(2):
        assert decide(w.snap, x, "s3:GetObject", OBJ, w.now, cache=cache).kind is ALLOW
        assert decide(w.snap, y, "s3:GetObject", OBJ, w.now, cache=cache).kind is IMPLICIT


def test_role_level_trust_is_cut_by_the_callers_session_policy() -> None:
    w = World(
        role("First", doc(trust(ALICE))),
        role("Second", doc(trust(role_arn("First")))),
        role("Named", doc(trust(session_arn("First", "s1")))),
    )
    s3_only = w.login(w.assume(w.arn("alice"), "First", policy=json.dumps(doc(allow("s3:*")))))
    sts_too = w.login(
        w.assume(w.arn("alice"), "First", policy=json.dumps(doc(allow(["s3:*", "sts:AssumeRole"]))))
    )
    with sts_error(ACCESS_DENIED):
        w.assume(s3_only, "Second")
    w.assume(sts_too, "Second")
    # A trust naming the session ARN itself is a direct grant: the session policy does not cut it.
    w.assume(s3_only, "Named")


def test_self_assume_needs_the_role_in_its_own_trust() -> None:
    w = World(
        role("Loner", doc(trust(ALICE)), policies=[doc(allow("sts:AssumeRole"))]),
        role("Self", doc(trust([ALICE, role_arn("Self")]))),
    )
    loner = w.login(w.assume(w.arn("alice"), "Loner"))
    with sts_error(ACCESS_DENIED):
        w.assume(loner, "Loner", role_session_name="again")
    me = w.login(w.assume(w.arn("alice"), "Self"))
    again = w.assume(me, "Self", role_session_name="again")
    assert again.claims.chain_depth == 1


# -- deleted and recreated roles -----------------------------------------------------------------


def test_deleted_role_session_is_denied() -> None:
    w = app_world()
    out = w.assume(w.arn("alice"), APP)
    w.login(out)  # known to the old snapshot
    gone = copy.deepcopy(w.document)
    gone["accounts"][0]["roles"] = []
    with sts_error(ACCESS_DENIED):
        login(w.sts, compiled(gone), out)
    w.login(out)  # the old snapshot still has the role


def test_recreated_role_with_another_id_is_denied() -> None:
    w = app_world()
    out = w.assume(w.arn("alice"), APP)
    recreated = copy.deepcopy(w.document)
    recreated["accounts"][0]["roles"][0]["id"] = role_id("App", salt="NEW")
    with sts_error(ACCESS_DENIED):
        login(w.sts, compiled(recreated), out)


def test_updated_role_with_the_same_id_keeps_the_session_and_uses_the_new_policies() -> None:
    w = app_world()
    out = w.assume(w.arn("alice"), APP)
    updated = copy.deepcopy(w.document)
    updated["accounts"][0]["roles"][0]["inline_policies"] = {"p0": doc(allow("sqs:SendMessage"))}
    snap2 = compiled(updated)
    auth = login(w.sts, snap2, out)
    assert decide(w.snap, w.login(out), "s3:GetObject", OBJ, w.now).kind is ALLOW
    assert decide(snap2, auth, "s3:GetObject", OBJ, w.now).kind is IMPLICIT


def test_deleted_role_session_is_denied_after_snapshot_churn() -> None:
    # A sidecar activating snapshots one after another: the session was seen under an old
    # snapshot (with the role); every later snapshot lacks the role and must refuse it.
    w = app_world()
    out = w.assume(w.arn("alice"), APP)
    without_role = copy.deepcopy(w.document)
    without_role["accounts"][0]["roles"] = []
    snap_with, snap_without = load_snapshot(w.document), load_snapshot(without_role)
    del w.snap
    accepted = 0
    for _ in range(200):
        old = compile_snapshot(snap_with)
        login(w.sts, old, out)
        del old  # retired: its id may be handed to the next snapshot
        new = compile_snapshot(snap_without)
        try:
            login(w.sts, new, out)
        except StsError as err:  # plain except: pytest.raises would keep `new` alive
            assert err.code == ACCESS_DENIED
        else:
            accepted += 1
        del new
    assert accepted == 0, f"a session of a deleted role was accepted {accepted} times out of 200"


# -- role chaining: transitive tags and source identity -------------------------------------------


def chain_world() -> World:
    tagging = ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]
    return World(
        role("RoleA", doc(trust(ALICE, tagging)), tags={"team": "a"}, max_session_duration=7200),
        role(
            "RoleB",
            doc(trust(role_arn("RoleA"), tagging, {"StringEquals": {"aws:ResourceTag/project": "x"}})),
            tags={"project": "role-value"},
        ),
        role("RoleC", doc(trust(role_arn("RoleB"), tagging))),
    )


def test_transitive_tags_through_two_hops() -> None:
    w = chain_world()
    a = w.login(
        w.assume(
            w.arn("alice"), "RoleA", tags=(("project", "x"), ("env", "dev")), transitive_tag_keys=("project",)
        )
    )
    assert a.entry.principal.context["aws:principaltag/project"] == "x"
    assert a.entry.principal.context["aws:principaltag/team"] == "a"  # role tag
    out_b = w.assume(a, "RoleB")
    assert out_b.claims.chain_depth == 1
    b = w.login(out_b)
    ctx = b.entry.principal.context
    assert ctx["aws:principaltag/project"] == "x"  # inherited, overriding RoleB's own tag
    assert "aws:principaltag/env" not in ctx  # not transitive
    assert "aws:principaltag/team" not in ctx  # role tags are never transitive
    # The second hop cannot override an inherited transitive tag (any case).
    for key in ("project", "PROJECT"):
        with sts_error(INVALID_PARAMETER_VALUE, "tags"):
            w.assume(b, "RoleC", tags=((key, "y"),))
    c = w.login(w.assume(b, "RoleC", tags=(("stage", "3"),)))
    assert c.entry.principal.context["aws:principaltag/project"] == "x"
    assert c.entry.principal.context["aws:principaltag/stage"] == "3"
    assert c.claims is not None and c.claims.chain_depth == 2
    assert "project" in c.claims.transitive_keys


def test_inherited_transitive_tag_replaces_the_role_tag_in_the_trust_evaluation() -> None:
    # RoleB's own tag project=role-value fails its trust condition; the inherited x passes it.
    w = chain_world()
    plain = w.login(w.assume(w.arn("alice"), "RoleA", tags=(("project", "x"),)))  # not transitive
    with sts_error(ACCESS_DENIED):
        w.assume(plain, "RoleB")
    transitive = w.login(
        w.assume(w.arn("alice"), "RoleA", tags=(("project", "x"),), transitive_tag_keys=("project",))
    )
    w.assume(transitive, "RoleB")
    other = w.login(
        w.assume(w.arn("alice"), "RoleA", tags=(("project", "z"),), transitive_tag_keys=("project",))
    )
    with sts_error(ACCESS_DENIED):
        w.assume(other, "RoleB")


def test_caller_without_transitive_keys_passes_nothing() -> None:
    w = World(
        role("RoleA", doc(trust(ALICE, ["sts:AssumeRole", "sts:TagSession"]))),
        role("RoleB", doc(trust(role_arn("RoleA")))),
    )
    a = w.login(w.assume(w.arn("alice"), "RoleA", tags=(("project", "x"),)))
    out = w.assume(a, "RoleB")
    assert out.packed_policy_size == 0
    assert "aws:principaltag/project" not in w.login(out).entry.principal.context


def test_source_identity_is_sticky_through_chaining() -> None:
    w = chain_world()
    a = w.login(
        w.assume(
            w.arn("alice"),
            "RoleA",
            source_identity="alice",
            tags=(("project", "x"),),
            transitive_tag_keys=("project",),
        )
    )
    out_b = w.assume(a, "RoleB")  # not passed again: inherited
    assert out_b.source_identity == "alice"
    b = w.login(out_b)
    assert b.entry.principal.context["aws:sourceidentity"] == "alice"
    with sts_error(ACCESS_DENIED, "source_identity"):
        w.assume(b, "RoleC", source_identity="mallory")
    again = w.assume(b, "RoleC", source_identity="alice")  # the same value is fine
    assert again.source_identity == "alice"
    assert w.login(again).entry.principal.context["aws:sourceidentity"] == "alice"


def test_chained_session_is_not_capped_by_its_parent() -> None:
    # Reference §7.5 (recommended): a chained session's lifetime is its own duration.
    w = World(role("First", doc(trust(ALICE))), role("Second", doc(trust(role_arn("First")))))
    first = w.assume(w.arn("alice"), "First")  # expires T0 + 3600
    w.clock.advance(3000)
    second = w.assume(w.login(first), "Second")
    assert second.credentials.expires_at == T0 + 3000 + 3600
    w.clock.advance(1000)
    with sts_error(EXPIRED_TOKEN):
        w.login(first)
    w.login(second)


def test_trusted_arn_role_session_caller_can_chain() -> None:
    w = World(role("First", doc(trust(ALICE))), role("Second", doc(trust(role_arn("First")))))
    out = w.assume(w.arn(session_arn("First", "ci")), "Second")
    assert out.claims.chain_depth == 1
    assert out.arn == session_arn("Second", "s1")


def test_a_fresh_clock_for_each_sts_instance() -> None:
    # Sessions are judged by the verifying instance's clock, not the issuer's.
    w = app_world()
    out = w.assume(w.arn("alice"), APP)
    late = new_sts(Clock(T0 + 3600))
    with sts_error(EXPIRED_TOKEN):
        login(late, w.snap, out)
    login(new_sts(Clock(T0 + 3599)), w.snap, out)
