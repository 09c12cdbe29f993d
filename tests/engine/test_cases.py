"""run_case: the neutral decision-case format (/work/shared/conformance/FORMAT.md)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sidecar.engine import DecisionKind, EngineOptions
from sidecar.engine.cases import CaseError, CaseResult, run_case
from sidecar.policy import PolicyKind

A = "111122223333"
B = "444455556666"
ALICE = f"arn:aws:iam::{A}:user/alice"
ROLE = f"arn:aws:iam::{A}:role/Target"
OBJ = "arn:aws:s3:::bucket/key"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


ALLOW_ALL = doc({"Effect": "Allow", "Action": "*", "Resource": "*"})
DENY_GET = doc({"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"})
BAD_EFFECT = doc({"Effect": "allow", "Action": "s3:GetObject", "Resource": "*"})


def case(
    expect: str,
    *,
    identity: list[Any] | None = None,
    principal: str = ALICE,
    action: str = "s3:GetObject",
    target: str = OBJ,
    **policies: Any,
) -> dict[str, Any]:
    return {
        "id": "c1",
        "policies": {"identity": identity if identity is not None else [], **policies},
        "request": {"principal": principal, "action": action, "resource": target, "context": {}},
        "expect": expect,
        "notes": "ignored",
        "source": "ignored too",
    }


# --- expectations ----------------------------------------------------------------------------


def test_allow_expected_and_got() -> None:
    r = run_case(case("Allow", identity=[ALLOW_ALL]))
    assert isinstance(r, CaseResult)
    assert r.case_id == "c1"
    assert r.expected == "Allow"
    assert r.got == "Allow"
    assert r.passed
    assert r.reason == "allowed by identity-based policy"
    assert r.problems == ()
    assert r.decision is not None and r.decision.kind is DecisionKind.ALLOW


def test_explicit_deny() -> None:
    r = run_case(case("ExplicitDeny", identity=[ALLOW_ALL, DENY_GET]))
    assert r.got == "ExplicitDeny"
    assert r.passed
    assert r.reason.startswith("explicitly denied by ")


def test_implicit_deny() -> None:
    r = run_case(case("ImplicitDeny"))
    assert r.got == "ImplicitDeny"
    assert r.passed
    assert r.reason == "no identity-based policy allows the action"


def test_mismatch_fails() -> None:
    r = run_case(case("Allow"))
    assert r.got == "ImplicitDeny"
    assert not r.passed
    assert not run_case(case("ImplicitDeny", identity=[ALLOW_ALL, DENY_GET])).passed
    assert not run_case(case("ExplicitDeny")).passed


def test_deny_accepts_both_kinds_of_deny() -> None:
    implicit = run_case(case("Deny"))
    assert implicit.got == "ImplicitDeny" and implicit.expected == "Deny" and implicit.passed
    explicit = run_case(case("Deny", identity=[ALLOW_ALL, DENY_GET]))
    assert explicit.got == "ExplicitDeny" and explicit.passed
    allowed = run_case(case("Deny", identity=[ALLOW_ALL]))
    assert allowed.got == "Allow" and not allowed.passed


def test_decisions_are_explained() -> None:
    c = case(
        "ImplicitDeny",
        identity=[
            doc(
                {
                    "Effect": "Allow",
                    "Action": "*",
                    "Resource": "*",
                    "Condition": {"Bool": {"aws:SecureTransport": "true"}},
                }
            )
        ],
    )
    r = run_case(c)
    assert r.passed
    assert r.decision is not None
    assert r.decision.missing_keys == ("aws:SecureTransport",)


def test_missing_id_is_question_mark() -> None:
    c = case("ImplicitDeny")
    del c["id"]
    assert run_case(c).case_id == "?"


def test_case_is_not_modified() -> None:
    c = case("Allow", identity=[ALLOW_ALL])
    before = copy.deepcopy(c)
    run_case(c)
    assert c == before


# --- Invalid ---------------------------------------------------------------------------------


def test_invalid_reports_problems_with_prefixed_paths() -> None:
    c = case("Invalid", identity=[ALLOW_ALL, BAD_EFFECT], boundary=BAD_EFFECT, scp=[ALLOW_ALL, BAD_EFFECT])
    r = run_case(c)
    assert r.got == "Invalid"
    assert r.passed
    assert r.decision is None
    paths = [str(p).split(": ", 1)[0] for p in r.problems]
    assert paths == [
        "policies.identity[1].Statement[0].Effect",
        "policies.boundary.Statement[0].Effect",
        "policies.scp[1].Statement[0].Effect",
    ]
    assert all(p.code == "MalformedPolicyDocument" for p in r.problems)
    assert r.problems[0].path == ("policies", "identity[1]", "Statement", 0, "Effect")
    assert r.reason == "; ".join(str(p) for p in r.problems)
    assert "policies.boundary.Statement[0].Effect: MalformedPolicyDocument: " in r.reason


@pytest.mark.parametrize(
    ("key", "value", "prefix"),
    [
        ("session", [BAD_EFFECT], "policies.session[0]"),
        (
            "rcp",
            [doc({"Effect": "Deny", "Action": "*", "Resource": "*", "Principal": "*"}), BAD_EFFECT],
            "policies.rcp[1]",
        ),
        (
            "resource",
            doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}),
            "policies.resource",
        ),
    ],
)
def test_invalid_paths_for_each_policy_set(key: str, value: Any, prefix: str) -> None:
    r = run_case(case("Invalid", **{key: value}))
    assert r.got == "Invalid" and r.passed
    assert r.problems
    assert all(str(p).startswith(prefix + ".") or str(p).startswith(prefix + ":") for p in r.problems)


def test_resource_policy_without_principal_is_invalid() -> None:
    r = run_case(
        case("Invalid", resource=doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}))
    )
    assert [str(p).split(": ", 1)[0] for p in r.problems] == ["policies.resource.Statement[0]"]
    assert "must contain a Principal" in r.problems[0].message


def test_invalid_when_a_decision_was_expected_fails() -> None:
    r = run_case(case("Allow", identity=[BAD_EFFECT]))
    assert r.got == "Invalid"
    assert not r.passed


def test_expected_invalid_but_valid_fails() -> None:
    r = run_case(case("Invalid", identity=[ALLOW_ALL]))
    assert r.got == "Allow"
    assert not r.passed


def test_identity_policy_with_principal_is_invalid() -> None:
    bad = doc({"Effect": "Allow", "Action": "*", "Resource": "*", "Principal": "*"})
    r = run_case(case("Invalid", identity=[bad]))
    assert [str(p).split(": ", 1)[0] for p in r.problems] == ["policies.identity[0].Statement[0].Principal"]


# --- trust policies in cases -----------------------------------------------------------------

TRUST_ALICE = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": ALICE}}


def test_resource_policy_on_role_with_sts_action_is_a_trust_policy() -> None:
    r = run_case(case("Allow", action="sts:AssumeRole", target=ROLE, resource=doc(TRUST_ALICE)))
    assert r.passed
    assert r.decision is not None
    assert r.decision.decided_by is PolicyKind.TRUST
    assert r.decision.matched[0].policy_kind is PolicyKind.TRUST
    assert r.decision.matched[0].policy == "resource"


def test_trust_policy_with_resource_element_is_invalid() -> None:
    r = run_case(
        case("Invalid", action="sts:AssumeRole", target=ROLE, resource=doc({**TRUST_ALICE, "Resource": ROLE}))
    )
    assert r.got == "Invalid" and r.passed
    assert [str(p) for p in r.problems] == [
        "policies.resource.Statement[0].Resource: MalformedPolicyDocument: "
        "Has prohibited field Resource: a role trust policy applies to its own role"
    ]


@pytest.mark.parametrize("action", ["sts:TagSession", "STS:SetSourceIdentity", "sts:AssumeRoleWithSAML"])
def test_other_trust_actions_parse_as_trust(action: str) -> None:
    trust = doc({"Effect": "Allow", "Action": "sts:*", "Principal": {"AWS": ALICE}, "Resource": ROLE})
    r = run_case(case("Invalid", action=action, target=ROLE, resource=trust))
    assert r.got == "Invalid"


def test_role_arn_with_non_sts_action_is_an_ordinary_resource_policy() -> None:
    # read as a resource-based policy, a statement without Resource is invalid
    r = run_case(case("Invalid", action="iam:GetRole", target=ROLE, resource=doc(TRUST_ALICE)))
    assert r.got == "Invalid"
    assert [str(p).split(": ", 1)[0] for p in r.problems] == ["policies.resource.Statement[0]"]
    with_resource = doc({**TRUST_ALICE, "Action": "iam:GetRole", "Resource": ROLE})
    ok = run_case(case("Allow", action="iam:GetRole", target=ROLE, resource=with_resource))
    assert ok.passed
    assert ok.decision is not None and ok.decision.decided_by is PolicyKind.RESOURCE


def test_sts_action_on_non_role_resource_is_not_a_trust_policy() -> None:
    rbp = doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": ALICE}})
    r = run_case(case("Invalid", action="sts:AssumeRole", target=f"arn:aws:iam::{A}:user/x", resource=rbp))
    assert r.got == "Invalid"


# --- request details -------------------------------------------------------------------------


def test_anonymous_principal() -> None:
    public = doc({"Effect": "Allow", "Action": "s3:GetObject", "Principal": "*", "Resource": "*"})
    assert run_case(case("Allow", principal="anonymous", resource=public)).passed
    assert run_case(case("ImplicitDeny", principal="anonymous", identity=[ALLOW_ALL])).passed


def test_resource_account_decides_cross_account() -> None:
    c = case("ImplicitDeny", identity=[ALLOW_ALL])
    c["request"]["resource_account"] = B
    r = run_case(c)
    assert r.passed
    assert r.reason.startswith("cross-account request")


def test_resource_defaults_to_star() -> None:
    c = case("Allow", identity=[doc({"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"})])
    c["request"]["action"] = "s3:ListAllMyBuckets"
    del c["request"]["resource"]
    assert run_case(c).passed


def test_context_overrides_derived_principal_keys() -> None:
    cond = doc(
        {
            "Effect": "Allow",
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}},
        }
    )
    c = case("Allow", identity=[cond])
    c["request"]["context"] = {"aws:PrincipalTag/Team": "blue"}
    assert run_case(c).passed
    c["request"]["context"] = {"aws:username": "mallory"}
    c["policies"]["identity"] = [
        doc(
            {
                "Effect": "Allow",
                "Action": "*",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:username": "mallory"}},
            }
        )
    ]
    assert run_case(c).passed


def test_session_role_path_from_context() -> None:
    """A session's aws:PrincipalArn in the case gives the role path; a service-linked role's sessions
    are then not governed by SCPs."""
    slr = f"arn:aws:iam::{A}:role/aws-service-role/eb.amazonaws.com/AWSServiceRoleForEB"
    c = case("Allow", identity=[ALLOW_ALL], principal=f"arn:aws:sts::{A}:assumed-role/AWSServiceRoleForEB/s")
    c["policies"]["scp"] = [doc({"Effect": "Deny", "Action": "*", "Resource": "*"})]
    c["request"]["context"] = {"aws:PrincipalArn": slr}
    assert run_case(c).passed
    c["request"]["context"] = {}
    c["expect"] = "ExplicitDeny"
    assert run_case(c).passed


def test_now_is_passed_to_the_engine() -> None:
    cond = doc(
        {
            "Effect": "Allow",
            "Action": "*",
            "Resource": "*",
            "Condition": {"DateLessThan": {"aws:CurrentTime": "2024-01-01T00:00:00Z"}},
        }
    )
    assert run_case(case("Allow", identity=[cond]), now=1700000000).passed
    assert run_case(case("ImplicitDeny", identity=[cond]), now=1800000000).passed
    assert run_case(case("ImplicitDeny", identity=[cond])).passed  # no clock: key absent


def test_options_are_passed_to_the_engine() -> None:
    c = case(
        "Allow",
        identity=[ALLOW_ALL],
        action="kms:DeleteAlias",
        target=f"arn:aws:kms:us-east-1:{A}:alias/aws/s3",
    )
    assert run_case(c).passed
    c["expect"] = "ImplicitDeny"
    r = run_case(c, options=EngineOptions(service_rules=True))
    assert r.passed
    assert r.reason == "AWS-managed KMS aliases (alias/aws/*) cannot be changed"


def test_rcp_and_scp_levels() -> None:
    rcp = doc({"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Principal": "*"})
    assert run_case(case("ExplicitDeny", identity=[ALLOW_ALL], rcp=[rcp])).passed
    scps = [ALLOW_ALL, doc({"Effect": "Allow", "Action": "ec2:*", "Resource": "*"})]
    r = run_case(case("ImplicitDeny", identity=[ALLOW_ALL], scp=scps))
    assert r.passed
    assert "organisation level 1" in r.reason


def test_null_and_empty_policy_sets_mean_none() -> None:
    c = case("Allow", identity=[ALLOW_ALL], boundary=None, scp=[], rcp=[], session=[], resource=None)
    assert run_case(c).passed
    c["policies"] = {}
    c["expect"] = "ImplicitDeny"
    assert run_case(c).passed


# --- malformed cases -------------------------------------------------------------------------


@pytest.mark.parametrize("expect", ["allow", "Maybe", None, "", 1])
def test_bad_expect(expect: Any) -> None:
    c = case("Allow")
    c["expect"] = expect
    with pytest.raises(CaseError, match="expect must be one of"):
        run_case(c)


def test_missing_expect() -> None:
    c = case("Allow")
    del c["expect"]
    with pytest.raises(CaseError):
        run_case(c)


def test_missing_request() -> None:
    c = case("Allow")
    del c["request"]
    with pytest.raises(CaseError, match="request must be"):
        run_case(c)


@pytest.mark.parametrize("request_value", [[], "s3:GetObject", 1])
def test_request_not_an_object(request_value: Any) -> None:
    c = case("Allow")
    c["request"] = request_value
    with pytest.raises(CaseError):
        run_case(c)


def test_policies_not_an_object() -> None:
    c = case("Allow")
    c["policies"] = [ALLOW_ALL]
    with pytest.raises(CaseError):
        run_case(c)


@pytest.mark.parametrize(
    "principal",
    ["alice", "", f"arn:aws:iam::{A}:group/admins", "arn:aws:s3:::bucket", f"arn:aws:iam::{A}", "Anonymous"],
)
def test_principal_not_an_arn(principal: str) -> None:
    with pytest.raises(CaseError):
        run_case(case("Allow", principal=principal))


@pytest.mark.parametrize("principal", [None, 42, [ALICE]])
def test_principal_not_a_string(principal: Any) -> None:
    c = case("Allow")
    c["request"]["principal"] = principal
    with pytest.raises(CaseError, match="principal must be"):
        run_case(c)


def test_missing_principal() -> None:
    c = case("Allow")
    del c["request"]["principal"]
    with pytest.raises(CaseError):
        run_case(c)


@pytest.mark.parametrize(("field", "value"), [("action", None), ("action", 3), ("resource", ["*"])])
def test_action_and_resource_must_be_strings(field: str, value: Any) -> None:
    c = case("Allow")
    if value is None:
        del c["request"][field]
    else:
        c["request"][field] = value
    with pytest.raises(CaseError, match="must be strings"):
        run_case(c)


def test_context_must_be_an_object() -> None:
    c = case("Allow")
    c["request"]["context"] = [["aws:SourceIp", "1.2.3.4"]]
    with pytest.raises(CaseError, match="context must be an object"):
        run_case(c)


def test_case_error_is_a_value_error() -> None:
    assert issubclass(CaseError, ValueError)


@pytest.mark.parametrize("bad", [[], "case", 42, None])
def test_case_not_an_object_is_a_case_error(bad: Any) -> None:
    """Found while writing these tests (it raised AttributeError); fixed in the code since."""
    with pytest.raises(CaseError, match="a case must be a JSON object"):
        run_case(bad)


@pytest.mark.parametrize("bad", [42, None, True, ["x"]])
def test_policy_document_not_an_object_is_invalid(bad: Any) -> None:
    """Found while writing these tests (it raised TypeError); fixed in the code since."""
    r = run_case(case("Invalid", identity=[ALLOW_ALL, bad]))
    assert r.got == "Invalid" and r.passed
    assert [str(p) for p in r.problems] == [
        "policies.identity[1]: MalformedPolicyDocument: a policy document must be a JSON object"
    ]
