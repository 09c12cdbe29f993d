"""AssumeRole end to end (reference §6.4, §7, §8, §9 items 2 and 9): who may call it, the trust
policy as the resource policy of the full decision algorithm, trust conditions, MFA, duration,
session policies, tags, source identity, packed size, and the response."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from sidecar.sts import AssumeRoleParams, packed_policy_size
from sidecar.sts.errors import (
    ACCESS_DENIED,
    INVALID_PARAMETER_VALUE,
    MALFORMED_POLICY,
    MISSING_AUTHENTICATION_TOKEN,
    PACKED_POLICY_TOO_LARGE,
    VALIDATION_ERROR,
)

from .support import (
    ACCT,
    OTHER,
    SEED_ALICE,
    SEED_BOB,
    T0,
    World,
    account,
    allow,
    deny,
    doc,
    role,
    role_arn,
    role_id,
    session_arn,
    sts_error,
    trust,
    user,
    user_arn,
)

ALICE = user_arn("alice")
BOB = user_arn("bob")
S3_ALL = doc(allow("s3:*"))


def only(trust_doc: dict, name: str = "Target", **kwargs: object) -> World:
    """A world with alice and bob and one role ``name`` with this trust policy."""
    return World(role(name, trust_doc, policies=[S3_ALL], **kwargs))  # type: ignore[arg-type]


# -- who may call AssumeRole --------------------------------------------------------------------


def test_user_named_in_trust_assumes_by_arn_and_by_long_term_key() -> None:
    w = only(doc(trust(ALICE)))
    for caller in (w.arn("alice"), w.keys("alice")):
        out = w.assume(caller, "Target")
        assert out.arn == session_arn("Target", "s1")


def test_root_cannot_assume_roles_even_when_trusted() -> None:
    w = only(doc(trust(f"arn:aws:iam::{ACCT}:root"), trust("*")))
    with sts_error(ACCESS_DENIED, "caller") as info:
        w.assume(w.arn(f"arn:aws:iam::{ACCT}:root"), "Target")
    assert info.value.message == "Roles may not be assumed by root accounts."


def test_anonymous_cannot_assume() -> None:
    w = only(doc(trust("*")))
    with sts_error(MISSING_AUTHENTICATION_TOKEN):
        w.assume(w.arn("anonymous"), "Target")


def test_federated_user_cannot_assume() -> None:
    w = only(doc(trust("*"), trust(f"arn:aws:sts::{ACCT}:federated-user/fed")))
    with sts_error(ACCESS_DENIED):
        w.assume(w.arn(f"arn:aws:sts::{ACCT}:federated-user/fed"), "Target")


def test_principal_unknown_to_the_snapshot_cannot_assume_even_with_star_trust() -> None:
    w = only(doc(trust("*")))
    with sts_error(ACCESS_DENIED):
        w.assume(w.arn(user_arn("ghost")), "Target")
    with sts_error(ACCESS_DENIED):
        w.assume(w.arn(session_arn("NoSuchRole", "s")), "Target")


def test_unknown_role_is_access_denied_with_the_aws_message() -> None:
    w = only(doc(trust(ALICE)))
    with sts_error(ACCESS_DENIED, "role_arn") as info:
        w.assume(w.arn("alice"), "Missing")
    assert info.value.message == (
        f"User: {ALICE} is not authorized to perform: sts:AssumeRole on resource: {role_arn('Missing')}"
    )
    with sts_error(ACCESS_DENIED):  # the path is part of the role ARN
        w.assume(w.arn("alice"), role_arn("Target", path="/other/"))


# -- the trust policy, through the full algorithm ------------------------------------------------


def test_trust_must_name_the_caller_identity_allow_is_not_enough() -> None:
    w = World(
        role("Target", doc(trust(BOB))),
        users=[user("alice", policies=[doc(allow("sts:*"))]), user("bob")],
    )
    with sts_error(ACCESS_DENIED):
        w.assume(w.arn("alice"), "Target")
    w.assume(w.arn("bob"), "Target")


def test_account_trust_needs_an_identity_allow_on_the_role() -> None:
    w = World(
        role("Target", doc(trust(f"arn:aws:iam::{ACCT}:root"))),
        users=[
            user("alice"),
            user("bob", policies=[doc(allow("sts:AssumeRole", role_arn("Target")))]),
            user("carl", policies=[doc(allow("sts:AssumeRole", role_arn("Other")))]),
        ],
    )
    with sts_error(ACCESS_DENIED):
        w.assume(w.arn("alice"), "Target")
    with sts_error(ACCESS_DENIED):
        w.assume(w.arn("carl"), "Target")
    w.assume(w.arn("bob"), "Target")


def test_explicit_deny_in_trust_wins() -> None:
    w = only(
        doc(trust(ALICE), trust("*", effect="Deny", condition={"StringEquals": {"aws:username": "alice"}}))
    )
    with sts_error(ACCESS_DENIED):
        w.assume(w.arn("alice"), "Target")


def test_explicit_deny_in_caller_identity_wins_over_a_direct_trust() -> None:
    w = World(
        role("Target", doc(trust(ALICE))),
        users=[user("alice", policies=[doc(deny("sts:AssumeRole", role_arn("Target")))])],
    )
    with sts_error(ACCESS_DENIED):
        w.assume(w.arn("alice"), "Target")


def test_boundary_must_allow_assume_role_even_with_a_direct_trust() -> None:
    # Reference §9 item 2: fail closed — the caller's boundary must allow sts:AssumeRole.
    policies = {"S3Only": doc(allow("s3:*")), "S3AndSts": doc(allow(["s3:*", "sts:AssumeRole"]))}
    boundary = f"arn:aws:iam::{ACCT}:policy/"
    w = World(
        role("Target", doc(trust([user_arn("dave"), user_arn("erin")]))),
        users=[user("dave", boundary=boundary + "S3Only"), user("erin", boundary=boundary + "S3AndSts")],
        policies=policies,
    )
    with sts_error(ACCESS_DENIED):
        w.assume(w.arn("dave"), "Target")
    w.assume(w.arn("erin"), "Target")


def _org(scps: dict[str, dict], unit_scps: list[str], rcps: list[str] | None = None) -> dict:
    return {
        "id": "o-test00001",
        "management_account": "999999999999",
        "policies": scps,
        "units": [{"id": "r-root", "parent": None, "scps": unit_scps, "rcps": rcps or []}],
    }


def test_scp_of_the_caller_account_applies() -> None:
    scps = {"Full": doc(allow("*")), "NoAssume": doc(allow("*"), deny("sts:AssumeRole"))}
    w = World(
        role("Target", doc(trust(ALICE))), organization=_org(scps, ["Full"]), unit="r-root", scps=["NoAssume"]
    )
    with sts_error(ACCESS_DENIED):
        w.assume(w.arn("alice"), "Target")
    allowed = World(
        role("Target", doc(trust(ALICE))), organization=_org(scps, ["Full"]), unit="r-root", scps=["Full"]
    )
    allowed.assume(allowed.arn("alice"), "Target")


def test_scp_level_without_an_allow_denies() -> None:
    scps = {"Full": doc(allow("*")), "S3Only": doc(allow("s3:*"))}
    w = World(
        role("Target", doc(trust(ALICE))), organization=_org(scps, ["S3Only"]), unit="r-root", scps=["Full"]
    )
    with sts_error(ACCESS_DENIED):
        w.assume(w.arn("alice"), "Target")


def test_rcp_of_the_role_account_applies_to_sts() -> None:
    rcps = {
        "Full": doc(allow("*")),
        "OrgOnly": doc(
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sts:AssumeRole",
                "Resource": "*",
                "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-test00001"}},
            }
        ),
    }
    carol = user_arn("carol", OTHER)
    trust_doc = doc(trust([ALICE, carol]))
    outsider = account(OTHER, users=[user("carol", account=OTHER, policies=[doc(allow("sts:AssumeRole"))])])
    w = World(
        role("Target", trust_doc),
        accounts=[outsider],
        organization=_org(rcps, ["Full"], ["OrgOnly"]),
        unit="r-root",
        scps=["Full"],
    )
    w.assume(w.arn("alice"), "Target")
    with sts_error(ACCESS_DENIED):
        w.assume(w.arn(carol), "Target")


def test_cross_account_needs_trust_and_identity() -> None:
    carol, dan = user_arn("carol", OTHER), user_arn("dan", OTHER)
    other = account(
        OTHER,
        users=[
            user("carol", account=OTHER, policies=[doc(allow("sts:AssumeRole", role_arn("Target")))]),
            user("dan", account=OTHER),
        ],
    )
    w = World(role("Target", doc(trust([carol, dan]))), accounts=[other])
    out = w.assume(w.arn(carol), "Target")
    assert out.arn == session_arn("Target", "s1", ACCT)  # the role's account, not the caller's
    with sts_error(ACCESS_DENIED):
        w.assume(w.arn(dan), "Target")  # named in the trust, but no identity allow


def test_cross_account_trust_of_the_account() -> None:
    other = account(
        OTHER,
        users=[
            user(
                "carol", account=OTHER, policies=[doc(allow("sts:AssumeRole", f"arn:aws:iam::{ACCT}:role/*"))]
            ),
            user("dan", account=OTHER),
        ],
    )
    w = World(role("Target", doc(trust(OTHER))), accounts=[other])
    w.assume(w.arn(user_arn("carol", OTHER)), "Target")
    with sts_error(ACCESS_DENIED):
        w.assume(w.arn(user_arn("dan", OTHER)), "Target")


def test_trust_by_role_unique_id_and_user_unique_id() -> None:
    from .support import user_id

    w = World(role("Target", doc(trust(user_id("alice")))), role("Hop", doc(trust(ALICE))))
    w.assume(w.arn("alice"), "Target")
    with sts_error(ACCESS_DENIED):
        w.assume(w.arn("bob"), "Target")
    w2 = World(role("Target", doc(trust(role_id("Hop")))), role("Hop", doc(trust(ALICE))))
    hop = w2.login(w2.assume(w2.arn("alice"), "Hop"))
    w2.assume(hop, "Target")


# -- trust conditions ---------------------------------------------------------------------------


def test_external_id() -> None:
    w = only(doc(trust(ALICE, condition={"StringEquals": {"sts:ExternalId": "Example987"}})))
    alice = w.arn("alice")
    w.assume(alice, "Target", external_id="Example987")
    with sts_error(ACCESS_DENIED):
        w.assume(alice, "Target", external_id="example987")
    with sts_error(ACCESS_DENIED):
        w.assume(alice, "Target")


def test_role_session_name_condition_with_username_variable() -> None:
    w = World(
        role(
            "Target",
            doc(
                trust(
                    f"arn:aws:iam::{ACCT}:root",
                    condition={"StringLike": {"sts:RoleSessionName": "${aws:username}"}},
                )
            ),
        ),
        users=[user("alice", policies=[doc(allow("sts:AssumeRole"))])],
    )
    w.assume(w.arn("alice"), "Target", role_session_name="alice")
    with sts_error(ACCESS_DENIED):
        w.assume(w.arn("alice"), "Target", role_session_name="admin")


def test_source_ip_from_the_request_context() -> None:
    w = only(
        doc(
            trust(ALICE),
            trust("*", effect="Deny", condition={"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}),
        )
    )
    w.assume(w.arn("alice"), "Target", context={"aws:sourceip": "192.0.2.44"})
    with sts_error(ACCESS_DENIED):
        w.assume(w.arn("alice"), "Target", context={"aws:sourceip": "198.51.100.1"})


def test_principal_tag_of_the_caller() -> None:
    w = World(
        role(
            "Target",
            doc(
                trust(
                    f"arn:aws:iam::{ACCT}:root", condition={"StringEquals": {"aws:PrincipalTag/team": "red"}}
                )
            ),
        ),
        users=[
            user("alice", tags={"team": "red"}, policies=[doc(allow("sts:AssumeRole"))]),
            user("bob", tags={"team": "blue"}, policies=[doc(allow("sts:AssumeRole"))]),
            user("carl", policies=[doc(allow("sts:AssumeRole"))]),
        ],
    )
    w.assume(w.arn("alice"), "Target")
    w.assume(w.keys("alice"), "Target")
    for who in ("bob", "carl"):
        with sts_error(ACCESS_DENIED):
            w.assume(w.arn(who), "Target")


def test_resource_tag_of_the_role_against_the_caller_tag() -> None:
    cond = {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}
    w = World(
        role("Red", doc(trust([ALICE, BOB], condition=cond)), tags={"team": "red"}),
    )
    w.assume(w.arn("alice"), "Red")
    with sts_error(ACCESS_DENIED):
        w.assume(w.arn("bob"), "Red")


def test_principal_arn_condition_sees_the_user_arn() -> None:
    w = only(doc(trust("*", condition={"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCT}:user/a*"}})))
    w.assume(w.arn("alice"), "Target")
    with sts_error(ACCESS_DENIED):
        w.assume(w.arn("bob"), "Target")


def test_request_tags_and_tag_keys_conditions() -> None:
    w = only(
        doc(
            trust(ALICE),
            trust(
                ALICE,
                "sts:TagSession",
                {
                    "StringEquals": {"aws:RequestTag/Project": "X"},
                    "ForAllValues:StringEquals": {"aws:TagKeys": ["Project", "CostCenter"]},
                },
            ),
        )
    )
    alice = w.arn("alice")
    w.assume(alice, "Target", tags=(("Project", "X"),))
    w.assume(alice, "Target", tags=(("Project", "X"), ("CostCenter", "42")))
    w.assume(alice, "Target")  # no tags: sts:TagSession is not asked
    with sts_error(ACCESS_DENIED) as info:
        w.assume(alice, "Target", tags=(("Project", "Y"),))
    assert "sts:TagSession" in info.value.message
    with sts_error(ACCESS_DENIED):
        w.assume(alice, "Target", tags=(("Project", "X"), ("Owner", "me")))


def test_transitive_tag_keys_condition() -> None:
    w = only(
        doc(
            trust(
                ALICE,
                ["sts:AssumeRole", "sts:TagSession"],
                {"ForAllValues:StringEquals": {"sts:TransitiveTagKeys": ["Project"]}},
            )
        )
    )
    alice = w.arn("alice")
    w.assume(alice, "Target", tags=(("Project", "X"), ("Dept", "d")), transitive_tag_keys=("Project",))
    with sts_error(ACCESS_DENIED):
        w.assume(
            alice, "Target", tags=(("Project", "X"), ("Dept", "d")), transitive_tag_keys=("Project", "Dept")
        )


def test_tags_need_tag_session_in_the_trust() -> None:
    w = only(doc(trust(ALICE)))
    alice = w.arn("alice")
    with sts_error(ACCESS_DENIED) as info:
        w.assume(alice, "Target", tags=(("Project", "X"),))
    assert "sts:TagSession" in info.value.message
    with sts_error(ACCESS_DENIED):
        w.assume(alice, "Target", tags=(("Project", "X"),), transitive_tag_keys=("Project",))
    star = only(doc(trust(ALICE, "sts:*")))
    star.assume(star.arn("alice"), "Target", tags=(("Project", "X"),))


def test_tag_session_across_accounts_needs_identity_too() -> None:
    carol = user_arn("carol", OTHER)
    assume_only = doc(allow("sts:AssumeRole", role_arn("Target")))
    both = doc(allow(["sts:AssumeRole", "sts:TagSession"], role_arn("Target")))
    other = account(
        OTHER,
        users=[
            user("carol", account=OTHER, policies=[assume_only]),
            user("dan", account=OTHER, policies=[both]),
        ],
    )
    w = World(
        role("Target", doc(trust([carol, user_arn("dan", OTHER)], ["sts:AssumeRole", "sts:TagSession"]))),
        accounts=[other],
    )
    with sts_error(ACCESS_DENIED):
        w.assume(w.arn(carol), "Target", tags=(("Project", "X"),))
    w.assume(w.arn(carol), "Target")
    w.assume(w.arn(user_arn("dan", OTHER)), "Target", tags=(("Project", "X"),))


@pytest.mark.parametrize(
    ("condition", "context"),
    [
        ({"StringLike": {"sts:SourceIdentity": "*"}}, {"sts:sourceidentity": "anyone"}),
        ({"StringEquals": {"sts:ExternalId": "Example987"}}, {"sts:externalid": "Example987"}),
        (
            {"StringEquals": {"aws:RequestTag/project": "x"}},
            {"aws:requesttag/project": "x", "aws:tagkeys": ("project",)},
        ),
        (
            {"ForAnyValue:StringEquals": {"sts:TransitiveTagKeys": "project"}},
            {"sts:transitivetagkeys": ("project",)},
        ),
    ],
    ids=["source-identity", "external-id", "request-tag", "transitive-tag-keys"],
)
def test_request_context_cannot_stand_in_for_assume_role_parameters(condition: dict, context: dict) -> None:
    w = only(doc(trust(ALICE, condition=condition)))
    with sts_error(ACCESS_DENIED):
        w.assume(w.arn("alice"), "Target", context=context)


def test_role_tags_in_the_trust_come_from_the_snapshot_only() -> None:
    w = only(doc(trust(ALICE, condition={"StringEquals": {"aws:ResourceTag/env": "prod"}})))
    with sts_error(ACCESS_DENIED):
        w.assume(w.arn("alice"), "Target", context={"aws:resourcetag/env": "prod"})


def test_source_identity_needs_set_source_identity() -> None:
    w = only(doc(trust(ALICE)))
    with sts_error(ACCESS_DENIED) as info:
        w.assume(w.arn("alice"), "Target", source_identity="alice")
    assert "sts:SetSourceIdentity" in info.value.message
    cond = {"StringEquals": {"sts:SourceIdentity": "${aws:username}"}}
    w2 = only(doc(trust(ALICE, ["sts:AssumeRole", "sts:SetSourceIdentity"], cond)))
    out = w2.assume(w2.arn("alice"), "Target", source_identity="alice")
    assert out.source_identity == "alice"
    with sts_error(ACCESS_DENIED):
        w2.assume(w2.arn("alice"), "Target", source_identity="mallory")


# -- MFA ----------------------------------------------------------------------------------------


MFA_TRUST = doc(trust([ALICE, BOB], condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}))


def test_mfa_required_valid_code_passes_by_arn_and_by_key() -> None:
    w = only(MFA_TRUST)
    for caller in (w.arn("alice"), w.keys("alice")):
        out = w.assume(caller, "Target", **w.mfa("alice", SEED_ALICE))
        assert out.claims.mfa_at == w.now


def test_mfa_required_without_code_is_denied() -> None:
    w = only(MFA_TRUST)
    with sts_error(ACCESS_DENIED):
        w.assume(w.arn("alice"), "Target")
    with sts_error(ACCESS_DENIED):
        w.assume(w.keys("alice"), "Target")


@pytest.mark.parametrize(
    "trust_doc", [MFA_TRUST, doc(trust(ALICE))], ids=["mfa-required", "mfa-not-required"]
)
def test_wrong_code_is_denied(trust_doc: dict) -> None:
    w = only(trust_doc)
    good = w.mfa("alice", SEED_ALICE)["token_code"]
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    with sts_error(ACCESS_DENIED, "token_code"):
        w.assume(
            w.arn("alice"),
            "Target",
            serial_number=w.mfa("alice", SEED_ALICE)["serial_number"],
            token_code=wrong,
        )


def test_code_of_the_previous_step_is_accepted_an_old_one_is_not() -> None:
    w = only(MFA_TRUST)
    w.assume(w.arn("alice"), "Target", **w.mfa("alice", SEED_ALICE, at=w.now - 30))
    with sts_error(ACCESS_DENIED):
        w.assume(w.arn("alice"), "Target", **w.mfa("alice", SEED_ALICE, at=w.now - 600))
    with sts_error(ACCESS_DENIED):
        w.assume(w.arn("alice"), "Target", **w.mfa("alice", SEED_ALICE, at=w.now + 600))


def test_mfa_device_must_be_the_callers() -> None:
    w = only(MFA_TRUST)
    # bob's device and a valid code for it, presented by alice
    bobs = w.mfa("bob", SEED_BOB)
    with sts_error(ACCESS_DENIED):
        w.assume(w.arn("alice"), "Target", **bobs)
    # alice's code under an unregistered serial
    with sts_error(ACCESS_DENIED):
        w.assume(
            w.arn("alice"),
            "Target",
            serial_number="GAHT12345678",
            token_code=w.mfa("alice", SEED_ALICE)["token_code"],
        )
    w.assume(w.arn("bob"), "Target", **bobs)


def test_user_without_a_device_cannot_present_mfa() -> None:
    w = World(role("Target", MFA_TRUST), users=[user("alice"), user("bob")])
    with sts_error(ACCESS_DENIED):
        w.assume(w.arn("alice"), "Target", **w.mfa("alice", SEED_ALICE))


def test_mfa_age_of_the_callers_own_call_is_zero() -> None:
    w = only(doc(trust(ALICE, condition={"NumericLessThan": {"aws:MultiFactorAuthAge": "1"}})))
    w.assume(w.arn("alice"), "Target", **w.mfa("alice", SEED_ALICE))
    with sts_error(ACCESS_DENIED):
        w.assume(w.arn("alice"), "Target")  # no MFA: the key is absent, the condition false


# -- duration -----------------------------------------------------------------------------------


def test_default_duration_is_one_hour_and_expiration_is_issue_plus_duration() -> None:
    w = only(doc(trust(ALICE)), max_session_duration=43200)
    out = w.assume(w.arn("alice"), "Target")
    assert out.credentials.expires_at == T0 + 3600
    assert out.claims.issued_at == T0
    w.clock.advance(123.0)
    for seconds in (900, 3600, 43200):
        out = w.assume(w.arn("alice"), "Target", duration_seconds=seconds)
        assert out.credentials.expires_at == w.now + seconds
        assert out.claims.expires_at == w.now + seconds


def test_duration_above_the_role_maximum() -> None:
    w = only(doc(trust(ALICE)), max_session_duration=7200)
    w.assume(w.arn("alice"), "Target", duration_seconds=7200)
    with sts_error(VALIDATION_ERROR, "duration_seconds") as info:
        w.assume(w.arn("alice"), "Target", duration_seconds=7201)
    assert (
        info.value.message
        == "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    )
    with sts_error(VALIDATION_ERROR, "duration_seconds"):
        only(doc(trust(ALICE))).assume(w.arn("alice"), "Target", duration_seconds=3601)


def test_duration_is_checked_after_authorization() -> None:
    w = only(doc(trust(BOB)), max_session_duration=3600)
    with sts_error(ACCESS_DENIED):
        w.assume(w.arn("alice"), "Target", duration_seconds=7200)


def test_role_chaining_is_capped_at_one_hour() -> None:
    w = World(
        role("First", doc(trust(ALICE)), max_session_duration=43200),
        role("Second", doc(trust(role_arn("First"))), max_session_duration=43200),
    )
    first = w.assume(w.arn("alice"), "First", duration_seconds=43200)  # not chained: the role max
    hop = w.login(first)
    w.assume(hop, "Second", duration_seconds=3600)
    w.assume(hop, "Second")  # the default is one hour
    with sts_error(VALIDATION_ERROR, "duration_seconds") as info:
        w.assume(hop, "Second", duration_seconds=3601)
    assert "1 hour session limit for roles assumed by role chaining" in info.value.message
    # A role-session ARN caller is chaining too.
    with sts_error(VALIDATION_ERROR, "duration_seconds"):
        w.assume(w.arn(session_arn("First", "s1")), "Second", duration_seconds=7200)


# -- session policies ---------------------------------------------------------------------------


def test_session_policy_valid_and_malformed() -> None:
    w = only(doc(trust(ALICE)))
    good = json.dumps(doc(allow("s3:GetObject")))
    out = w.assume(w.arn("alice"), "Target", policy=good)
    assert out.claims.policy == good
    for bad in ("{not json", json.dumps(doc({"Effect": "Maybe", "Action": "s3:*", "Resource": "*"})), "{}"):
        with sts_error(MALFORMED_POLICY, "policy"):
            w.assume(w.arn("alice"), "Target", policy=bad)


def _policy_of_length(n: int) -> str:
    text = json.dumps(doc(allow("s3:GetObject", "arn:aws:s3:::b/")))
    pad = n - len(text)
    assert pad >= 0
    return text.replace("arn:aws:s3:::b/", "arn:aws:s3:::b/" + "k" * pad)


def test_plaintext_session_policy_limit_is_2048_characters() -> None:
    w = only(doc(trust(ALICE)))
    policy = _policy_of_length(2048)
    assert len(policy) == 2048
    w.assume(w.arn("alice"), "Target", policy=policy)
    with sts_error(PACKED_POLICY_TOO_LARGE, "policy"):
        w.assume(w.arn("alice"), "Target", policy=_policy_of_length(2049))


def test_plaintext_limit_counts_policy_and_policy_arns_together() -> None:
    arn = f"arn:aws:iam::{ACCT}:policy/ReadS3"
    w = World(role("Target", doc(trust(ALICE))), policies={"ReadS3": doc(allow("s3:Get*"))})
    w.assume(w.arn("alice"), "Target", policy=_policy_of_length(2048 - len(arn)), policy_arns=(arn,))
    with sts_error(PACKED_POLICY_TOO_LARGE):
        w.assume(w.arn("alice"), "Target", policy=_policy_of_length(2049 - len(arn)), policy_arns=(arn,))


def test_policy_arns() -> None:
    mine = f"arn:aws:iam::{ACCT}:policy/ReadS3"
    theirs = f"arn:aws:iam::{OTHER}:policy/Theirs"
    other = account(OTHER, policies={"Theirs": doc(allow("s3:*"))})
    w = World(role("Target", doc(trust(ALICE))), policies={"ReadS3": doc(allow("s3:Get*"))}, accounts=[other])
    out = w.assume(w.arn("alice"), "Target", policy_arns=(mine,))
    assert out.claims.policy_arns == (mine,)
    assert out.packed_policy_size > 0
    with sts_error(INVALID_PARAMETER_VALUE, "policy_arns"):
        w.assume(w.arn("alice"), "Target", policy_arns=(f"arn:aws:iam::{ACCT}:policy/Missing",))
    with sts_error(INVALID_PARAMETER_VALUE, "policy_arns"):
        w.assume(w.arn("alice"), "Target", policy_arns=(theirs,))  # not in the role's account
    with sts_error(VALIDATION_ERROR, "policy_arns"):
        w.assume(w.arn("alice"), "Target", policy_arns=(mine,) * 11)
    w.assume(w.arn("alice"), "Target", policy_arns=(mine,) * 10)


def test_aws_managed_policy_arn() -> None:
    w = World(role("Target", doc(trust(ALICE))), aws_managed={"ReadOnlyAccess": doc(allow("s3:Get*"))})
    out = w.assume(w.arn("alice"), "Target", policy_arns=("arn:aws:iam::aws:policy/ReadOnlyAccess",))
    assert out.packed_policy_size > 0


# -- packed size --------------------------------------------------------------------------------


def _noise(seed: str, n: int) -> str:
    """Deterministic, incompressible-ish tag text."""
    out = ""
    while len(out) < n:
        out += hashlib.sha256((seed + str(len(out))).encode()).hexdigest()
    return out[:n]


def test_packed_policy_size_zero_without_policy_or_tags() -> None:
    w = only(doc(trust(ALICE, ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"])))
    assert w.assume(w.arn("alice"), "Target").packed_policy_size == 0
    assert (
        w.assume(w.arn("alice"), "Target", source_identity="alice", external_id="xx").packed_policy_size == 0
    )


def test_packed_policy_size_is_a_percentage_with_policy_or_tags() -> None:
    w = only(doc(trust(ALICE, ["sts:AssumeRole", "sts:TagSession"])))
    alice = w.arn("alice")
    small = w.assume(alice, "Target", tags=(("Project", "X"),)).packed_policy_size
    policy = w.assume(alice, "Target", policy=json.dumps(doc(allow("s3:GetObject")))).packed_policy_size
    big_tags = tuple((f"k{i}", _noise(f"v{i}", 20)) for i in range(20))
    bigger = w.assume(alice, "Target", tags=big_tags).packed_policy_size
    for size in (small, policy, bigger):
        assert 0 < size <= 100
    assert bigger > small
    assert packed_policy_size(None, (), big_tags) == bigger  # the documented measure, deterministic


def test_tags_over_the_packed_budget() -> None:
    w = only(doc(trust(ALICE, ["sts:AssumeRole", "sts:TagSession"])))
    tags = tuple((_noise(f"k{i}", 128), _noise(f"v{i}", 256)) for i in range(50))
    with sts_error(PACKED_POLICY_TOO_LARGE, "tags") as info:
        w.assume(w.arn("alice"), "Target", tags=tags)
    assert re.search(r"consumes \d+% of allotted space", info.value.message)


def test_policy_and_tags_over_the_packed_budget() -> None:
    w = only(doc(trust(ALICE, ["sts:AssumeRole", "sts:TagSession"])))
    policy = json.dumps(doc(allow("s3:GetObject", "arn:aws:s3:::b/" + _noise("p", 1900))))
    assert len(policy) <= 2048
    tags = tuple((f"k{i}", _noise(f"v{i}", 200)) for i in range(10))
    w.assume(w.arn("alice"), "Target", policy=policy)  # alone it fits
    with sts_error(PACKED_POLICY_TOO_LARGE, "policy"):
        w.assume(w.arn("alice"), "Target", policy=policy, tags=tags)


# -- the response -------------------------------------------------------------------------------


def test_response_formats() -> None:
    w = World(
        role("Deploy", doc(trust(ALICE, ["sts:AssumeRole", "sts:SetSourceIdentity"])), path="/team/app/")
    )
    out = w.assume(w.arn("alice"), role_arn("Deploy", path="/team/app/"), role_session_name="My.Session@x")
    assert out.arn == f"arn:aws:sts::{ACCT}:assumed-role/Deploy/My.Session@x"  # no path, case kept
    assert out.assumed_role_id == f"{role_id('Deploy')}:My.Session@x"
    assert re.fullmatch(r"AROA[A-Z0-9]{16}:My\.Session@x", out.assumed_role_id)
    assert re.fullmatch(r"ASIA[A-Z2-7]{16}", out.credentials.access_key_id)
    assert len(out.credentials.secret_access_key) == 40
    assert out.credentials.session_token
    assert out.source_identity is None
    assert out.claims.role_arn == role_arn("Deploy", path="/team/app/")
    assert out.claims.session_name == "My.Session@x"
    assert out.claims.chain_depth == 0


def test_every_call_issues_new_credentials() -> None:
    w = only(doc(trust(ALICE)))
    outs = [w.assume(w.arn("alice"), "Target") for _ in range(5)]
    assert len({o.credentials.access_key_id for o in outs}) == 5
    assert len({o.credentials.secret_access_key for o in outs}) == 5
    assert len({o.credentials.session_token for o in outs}) == 5


def test_params_object_is_what_the_server_builds() -> None:
    # The server passes normalised context (lower-case keys); nothing else is required.
    p = AssumeRoleParams(role_arn=role_arn("Target"), role_session_name="s1")
    assert p.duration_seconds is None and p.policy is None and p.tags == () and dict(p.context) == {}
