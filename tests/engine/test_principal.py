"""Principal: parsing requester ARNs and the context keys derived from them (reference §6.1, §6.3, §8)."""

from __future__ import annotations

import pytest

from sidecar.engine import Principal, PrincipalError, PrincipalKind
from sidecar.engine.principal import account_root
from sidecar.policy import AMBIGUOUS

A = "111122223333"
USER_ID = "AIDAEXAMPLEUSER000001"
ROLE_ID = "AROAEXAMPLEROLE000001"

PRINCIPAL_KEYS = {
    "aws:principaltype",
    "aws:principalarn",
    "aws:principalaccount",
    "aws:userid",
    "aws:username",
    "aws:principalisawsservice",
    "aws:principalservicename",
}


# --- from_arn --------------------------------------------------------------------------------


def test_user_with_path() -> None:
    arn = f"arn:aws:iam::{A}:user/division_abc/subdivision_xyz/JaneDoe"
    p = Principal.from_arn(arn, unique_id=USER_ID)
    assert p.kind is PrincipalKind.USER
    assert p.arn == arn
    assert p.partition == "aws"
    assert p.account == A
    assert p.name == "JaneDoe"
    assert p.unique_id == USER_ID
    assert p.session_name == ""
    assert p.role_arn == ""
    assert p.role_key is None
    assert not p.is_session
    assert not p.is_service_linked


def test_user_in_other_partition() -> None:
    p = Principal.from_arn(f"arn:aws-cn:iam::{A}:user/bob")
    assert p.kind is PrincipalKind.USER
    assert p.partition == "aws-cn"
    assert p.context["aws:principalarn"] == f"arn:aws-cn:iam::{A}:user/bob"


def test_bare_role_is_a_session_of_unknown_name() -> None:
    arn = f"arn:aws:iam::{A}:role/Admin"
    p = Principal.from_arn(arn)
    assert p.kind is PrincipalKind.ROLE
    assert p.name == "Admin"
    assert p.role_arn == arn
    assert p.session_name == ""
    assert p.role_key == ("aws", A, "Admin")
    assert p.is_session


def test_role_with_path_keys_on_name_only() -> None:
    arn = f"arn:aws:iam::{A}:role/team/ops/Admin"
    p = Principal.from_arn(arn, unique_id=ROLE_ID)
    assert p.kind is PrincipalKind.ROLE
    assert p.name == "Admin"
    assert p.role_key == ("aws", A, "Admin")
    assert p.role_id == ROLE_ID
    assert p.unique_id == ""


def test_assumed_role_session() -> None:
    arn = f"arn:aws:sts::{A}:assumed-role/Admin/alice-session"
    p = Principal.from_arn(arn, unique_id=ROLE_ID)
    assert p.kind is PrincipalKind.ROLE_SESSION
    assert p.arn == arn
    assert p.name == "Admin"
    assert p.session_name == "alice-session"
    assert p.role_id == ROLE_ID
    # no path known: the role ARN is rebuilt without one
    assert p.role_arn == f"arn:aws:iam::{A}:role/Admin"
    assert p.role_key == ("aws", A, "Admin")
    assert p.is_session


def test_assumed_role_session_with_role_path() -> None:
    role = f"arn:aws:iam::{A}:role/team/Admin"
    p = Principal.from_arn(f"arn:aws:sts::{A}:assumed-role/Admin/s1", role_arn=role)
    assert p.role_arn == role
    assert p.role_key == ("aws", A, "Admin")


def test_federated_user() -> None:
    arn = f"arn:aws:sts::{A}:federated-user/bob"
    p = Principal.from_arn(arn)
    assert p.kind is PrincipalKind.FEDERATED_USER
    assert p.name == "bob"
    assert p.account == A
    assert p.is_session
    assert p.role_key is None


def test_root() -> None:
    arn = f"arn:aws:iam::{A}:root"
    p = Principal.from_arn(arn)
    assert p.kind is PrincipalKind.ROOT
    assert p.arn == arn
    assert p.account == A
    assert not p.is_session


def test_account_root_helper() -> None:
    p = account_root("aws-us-gov", A)
    assert p.kind is PrincipalKind.ROOT
    assert p.arn == f"arn:aws-us-gov:iam::{A}:root"
    assert p.partition == "aws-us-gov"


def test_tags_and_extra_context_are_carried() -> None:
    p = Principal.from_arn(
        f"arn:aws:iam::{A}:user/alice",
        tags={"Team": "blue"},
        extra_context={"aws:MultiFactorAuthPresent": "true"},
    )
    assert p.tags == {"Team": "blue"}
    assert p.context["aws:multifactorauthpresent"] == "true"
    assert "aws:MultiFactorAuthPresent" not in p.context


@pytest.mark.parametrize(
    "arn",
    [
        "",
        "not-an-arn",
        "ARN:aws:iam::111122223333:user/x",
        "arn:aws:iam::111122223333",  # fewer than six parts
        "arn:aws:iam::12345:user/x",  # account not 12 digits
        "arn:aws:iam::aws:user/x",
        "arn:aws:iam:us-east-1:111122223333:user/x",  # identity ARNs have no region
        "arn:aws:iam::111122223333:user",
        "arn:aws:iam::111122223333:user/",
        "arn:aws:iam::111122223333:User/x",  # resource type is case-sensitive
        "arn:aws:iam::111122223333:role/",
        "arn:aws:iam::111122223333:group/admins",
        "arn:aws:iam::111122223333:policy/p",
        "arn:aws:iam::111122223333:root/x",
        "arn:aws:sts::111122223333:root",
        "arn:aws:sts::111122223333:assumed-role/Admin",
        "arn:aws:sts::111122223333:assumed-role/Admin/",
        "arn:aws:sts::111122223333:assumed-role//s",
        "arn:aws:sts::111122223333:assumed-role/Admin/s/extra",
        "arn:aws:sts::111122223333:federated-user/",
        "arn:aws:sts::111122223333:federated-user/a/b",
        "arn:aws:sts::111122223333:user/x",
        "arn:aws:s3:::bucket",
        "arn:aws:s3::111122223333:bucket",
    ],
)
def test_invalid_arns_raise(arn: str) -> None:
    with pytest.raises(PrincipalError):
        Principal.from_arn(arn)


def test_principal_error_is_a_value_error() -> None:
    assert issubclass(PrincipalError, ValueError)


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::111122223333:user/path/",
        "arn:aws:iam::111122223333:role/path/",
        "arn:bogus:iam::111122223333:user/alice",
        "arn:AWS:iam::111122223333:user/alice",
        "arn:aws:sts::111122223333:federated-user/a/",
    ],
)
def test_empty_names_and_unknown_partitions_are_invalid(arn: str) -> None:
    """Found while writing these tests (they were accepted); fixed in the code since."""
    with pytest.raises(PrincipalError):
        Principal.from_arn(arn)


# --- derived context keys (§6.3) -------------------------------------------------------------


def test_user_context() -> None:
    arn = f"arn:aws:iam::{A}:user/div/alice"
    ctx = Principal.from_arn(arn, unique_id=USER_ID).context
    assert {k: v for k, v in ctx.items() if k in PRINCIPAL_KEYS} == {
        "aws:principaltype": "User",
        "aws:principalarn": arn,
        "aws:principalaccount": A,
        "aws:userid": USER_ID,
        "aws:username": "alice",
        "aws:principalisawsservice": "false",
    }


def test_user_without_unique_id_has_no_userid() -> None:
    ctx = Principal.from_arn(f"arn:aws:iam::{A}:user/alice").context
    assert "aws:userid" not in ctx
    assert ctx["aws:username"] == "alice"


def test_session_context_uses_role_arn_with_path() -> None:
    role = f"arn:aws:iam::{A}:role/team/Admin"
    ctx = Principal.from_arn(
        f"arn:aws:sts::{A}:assumed-role/Admin/s1", role_arn=role, unique_id=ROLE_ID
    ).context
    assert ctx["aws:principaltype"] == "AssumedRole"
    assert ctx["aws:principalarn"] == role  # not the session ARN
    assert ctx["aws:userid"] == f"{ROLE_ID}:s1"
    assert ctx["aws:principalaccount"] == A
    assert "aws:username" not in ctx


def test_session_without_role_id_has_no_userid() -> None:
    ctx = Principal.from_arn(f"arn:aws:sts::{A}:assumed-role/Admin/s1").context
    assert ctx["aws:principalarn"] == f"arn:aws:iam::{A}:role/Admin"
    assert "aws:userid" not in ctx


def test_bare_role_context() -> None:
    arn = f"arn:aws:iam::{A}:role/team/Admin"
    ctx = Principal.from_arn(arn, unique_id=ROLE_ID).context
    assert ctx["aws:principaltype"] == "AssumedRole"
    assert ctx["aws:principalarn"] == arn
    assert "aws:userid" not in ctx  # the session name is not known
    assert "aws:username" not in ctx


def test_federated_user_context() -> None:
    arn = f"arn:aws:sts::{A}:federated-user/bob"
    ctx = Principal.from_arn(arn).context
    assert ctx["aws:principaltype"] == "FederatedUser"
    assert ctx["aws:principalarn"] == arn
    assert ctx["aws:userid"] == f"{A}:bob"
    assert ctx["aws:principalaccount"] == A
    assert "aws:username" not in ctx


def test_root_context() -> None:
    arn = f"arn:aws:iam::{A}:root"
    ctx = Principal.from_arn(arn).context
    assert ctx["aws:principaltype"] == "Account"
    assert ctx["aws:principalarn"] == arn
    assert ctx["aws:userid"] == A
    assert ctx["aws:principalaccount"] == A
    assert "aws:username" not in ctx


def test_anonymous_context() -> None:
    p = Principal.anonymous()
    assert p.kind is PrincipalKind.ANONYMOUS
    assert p.context == {"aws:principaltype": "Anonymous", "aws:userid": "anonymous"}
    assert "aws:principalarn" not in p.context
    assert not p.is_session


def test_service_context() -> None:
    p = Principal(PrincipalKind.SERVICE, name="s3.amazonaws.com")
    assert p.context == {
        "aws:principaltype": "Service",
        "aws:principalisawsservice": "true",
        "aws:principalservicename": "s3.amazonaws.com",
    }


def test_principal_tags_are_lower_cased_keys_with_values_kept() -> None:
    p = Principal.from_arn(f"arn:aws:iam::{A}:user/alice", tags={"CostCenter": "Blue", "team": "x"})
    assert p.context["aws:principaltag/costcenter"] == "Blue"
    assert p.context["aws:principaltag/team"] == "x"
    assert "aws:principaltag/CostCenter" not in p.context


@pytest.mark.parametrize("values", [("x", "y"), ("x", "x")])
def test_tag_keys_differing_only_in_case_are_ambiguous(values: tuple[str, str]) -> None:
    p = Principal.from_arn(
        f"arn:aws:iam::{A}:user/alice", tags={"Team": values[0], "team": values[1], "Other": "o"}
    )
    assert p.context["aws:principaltag/team"] is AMBIGUOUS
    assert p.context["aws:principaltag/other"] == "o"


def test_session_tags_are_principal_tags() -> None:
    p = Principal.from_arn(f"arn:aws:sts::{A}:assumed-role/Admin/s", tags={"Project": "p1"})
    assert p.context["aws:principaltag/project"] == "p1"


def test_extra_context_overrides_derived_keys() -> None:
    p = Principal.from_arn(f"arn:aws:iam::{A}:user/alice", extra_context={"AWS:UserName": "mallory"})
    assert p.context["aws:username"] == "mallory"


# --- service-linked roles --------------------------------------------------------------------


def test_service_linked_role_session() -> None:
    role = f"arn:aws:iam::{A}:role/aws-service-role/elasticbeanstalk.amazonaws.com/AWSServiceRoleForEB"
    p = Principal.from_arn(f"arn:aws:sts::{A}:assumed-role/AWSServiceRoleForEB/s", role_arn=role)
    assert p.is_service_linked
    assert Principal.from_arn(role).is_service_linked


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:iam::{A}:role/service-role/MyServiceRole",
        f"arn:aws:iam::{A}:role/Admin",
        f"arn:aws:iam::{A}:user/aws-service-role/x",
        f"arn:aws:sts::{A}:assumed-role/AWSServiceRoleForEB/s",  # no path known
    ],
)
def test_not_service_linked(arn: str) -> None:
    assert not Principal.from_arn(arn).is_service_linked
