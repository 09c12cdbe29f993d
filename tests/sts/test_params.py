"""AssumeRole parameter rules (reference §7.1, §8.3, §9 item 9): shapes → ValidationError with
AWS's message, tag rules → InvalidParameterValue, and that they are checked before the
caller is authorized."""

from __future__ import annotations

import pytest

from sidecar.sts import AssumeRoleParams, StsError
from sidecar.sts.errors import ACCESS_DENIED, INVALID_PARAMETER_VALUE, VALIDATION_ERROR
from sidecar.sts.params import check_shapes, check_tags, role_arn_parts

from .support import (
    ACCT,
    Clock,
    account,
    compiled,
    doc,
    new_sts,
    role,
    role_arn,
    snapshot,
    sts_error,
    trust,
    user,
    user_arn,
)

ROLE = role_arn("Target")


def p(**kwargs: object) -> AssumeRoleParams:
    base: dict[str, object] = {"role_arn": ROLE, "role_session_name": "session"}
    base.update(kwargs)
    return AssumeRoleParams(**base)  # type: ignore[arg-type]


def ok(**kwargs: object) -> None:
    check_shapes(p(**kwargs))


def bad(field: str, **kwargs: object) -> StsError:
    with sts_error(VALIDATION_ERROR, field) as info:
        check_shapes(p(**kwargs))
    return info.value


# -- RoleArn ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arn",
    [
        role_arn("Target"),
        role_arn("Target", path="/app/team/"),
        f"arn:aws-cn:iam::{ACCT}:role/R+=,.@_-9",
        f"arn:aws-us-gov:iam::{ACCT}:role/x" + "y" * 63,
    ],
)
def test_role_arn_accepted(arn: str) -> None:
    ok(role_arn=arn)


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::1:role/x",
        "not-an-arn-at-all-xx",
        f"arn:aws:iam::{ACCT}:user/Target",
        f"arn:aws:sts::{ACCT}:assumed-role/Target/s",
        "arn:aws:s3:::bucket/role/Target",
        f"arn:aws:iam:us-east-1:{ACCT}:role/Target",
        f"arn:aws:iam::{ACCT}:role/",
        f"arn:other:iam::{ACCT}:role/Target",
        f"arn:aws:iam::{ACCT}:role/" + "x" * 65,
        "arn:aws:iam::",
        f"arn:aws:iam::{ACCT}:role/" + "p/" * 1100 + "x",
    ],
    ids=[
        "short-account",
        "not-arn",
        "user",
        "session",
        "s3",
        "region",
        "no-name",
        "partition",
        "name-65",
        "too-short",
        "too-long",
    ],
)
def test_role_arn_refused(arn: str) -> None:
    bad("role_arn", role_arn=arn)


def test_role_arn_parts() -> None:
    assert role_arn_parts(role_arn("R", path="/a/b/")) == ("aws", ACCT, "R")


# -- RoleSessionName ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ab", "x" * 64, "Az09_+=,.@-", "alice@example.com", "i-0abc"])
def test_session_name_accepted(name: str) -> None:
    ok(role_session_name=name)


@pytest.mark.parametrize(
    "name", ["", "a", "x" * 65, "a b", "a/b", "a:b", "a*b", "é1", "a\tb", "tab\n"], ids=repr
)
def test_session_name_refused(name: str) -> None:
    bad("role_session_name", role_session_name=name)


def test_validation_message_is_aws_shaped() -> None:
    err = bad("role_session_name", role_session_name="a")
    assert err.message == (
        "1 validation error detected: Value 'a' at 'roleSessionName' failed to satisfy constraint: "
        "Member must have length greater than or equal to 2"
    )
    err = bad("role_session_name", role_session_name="a b")
    assert "Member must satisfy regular expression pattern" in err.message


def test_every_violation_is_reported_at_once_first_field_named() -> None:
    err = bad("role_session_name", role_session_name="a", external_id="x", duration_seconds=10)
    assert err.message.startswith("3 validation errors detected: ")
    for member in ("'roleSessionName'", "'externalId'", "'durationSeconds'"):
        assert member in err.message


# -- DurationSeconds ----------------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [None, 900, 3600, 43200])
def test_duration_accepted(seconds: int | None) -> None:
    ok(duration_seconds=seconds)


@pytest.mark.parametrize("seconds", [0, 1, 899, 43201, 10**9, -900])
def test_duration_refused(seconds: int) -> None:
    err = bad("duration_seconds", duration_seconds=seconds)
    assert "'durationSeconds'" in err.message


# -- Policy and PolicyArns ----------------------------------------------------------------------


def test_policy_shape() -> None:
    ok(policy='{"Version":"2012-10-17","Statement":[]}')
    ok(policy="{\t\n\r ÿ é}")  # U+0009/000A/000D/0020–00FF is the whole alphabet
    bad("policy", policy="")
    bad("policy", policy="{\u0100}")
    bad("policy", policy="{\x07}")
    bad("policy", policy="{\u2028}")


def test_ten_policy_arns_allowed_eleven_refused() -> None:
    arns = tuple(f"arn:aws:iam::{ACCT}:policy/P{i}" for i in range(11))
    ok(policy_arns=arns[:10])
    err = bad("policy_arns", policy_arns=arns)
    assert "'policyArns'" in err.message
    bad("policy_arns", policy_arns=("arn:aws:iam::x",))  # shorter than 20


# -- Tags and TransitiveTagKeys -----------------------------------------------------------------


def test_tag_shapes_accepted() -> None:
    ok(tags=tuple((f"k{i}", "v") for i in range(50)))
    ok(tags=(("k" * 128, "v" * 256),))
    ok(tags=(("Key with spaces", ""),))
    ok(tags=(("ключ:ünï_.:/=+-@", "значение 42"),))
    ok(tags=(("nbsp\u00a0key", "ideographic\u3000space"),))  # \p{Z}
    ok(transitive_tag_keys=tuple(f"k{i}" for i in range(50)))


@pytest.mark.parametrize(
    ("kwargs", "member"),
    [
        ({"tags": tuple((f"k{i}", "v") for i in range(51))}, "'tags'"),
        ({"tags": (("", "v"),)}, "tags.1.member.key"),
        ({"tags": (("k" * 129, "v"),)}, "tags.1.member.key"),
        ({"tags": (("ok", "v"), ("k", "v" * 257))}, "tags.2.member.value"),
        ({"tags": (("a*b", "v"),)}, "tags.1.member.key"),
        ({"tags": (("k", "a#b"),)}, "tags.1.member.value"),
        ({"tags": (("k", 'quote"'),)}, "tags.1.member.value"),
        ({"transitive_tag_keys": tuple(f"k{i}" for i in range(51))}, "'transitiveTagKeys'"),
        ({"transitive_tag_keys": ("",)}, "transitiveTagKeys.1.member"),
        ({"transitive_tag_keys": ("k" * 129,)}, "transitiveTagKeys.1.member"),
    ],
    ids=[
        "51-tags",
        "empty-key",
        "key-129",
        "value-257",
        "key-star",
        "value-hash",
        "value-quote",
        "51-transitive",
        "empty-transitive",
        "transitive-129",
    ],
)
def test_tag_shapes_refused(kwargs: dict[str, object], member: str) -> None:
    field = "transitive_tag_keys" if "transitive_tag_keys" in kwargs else "tags"
    err = bad(field, **kwargs)
    assert member in err.message


@pytest.mark.parametrize("text", ["a\tb", "a\nb", "a\rb", "a\x1cb", "a\x85b"], ids=repr)
def test_tag_control_characters_refused(text: str) -> None:
    bad("tags", tags=(("k", text),))


# -- ExternalId, SerialNumber, TokenCode, SourceIdentity -----------------------------------------


@pytest.mark.parametrize("value", ["ab", "x" * 1224, "arn:aws:iam::1/x", "Az09_+=,.@:/-"])
def test_external_id_accepted(value: str) -> None:
    ok(external_id=value)


@pytest.mark.parametrize("value", ["a", "", "x" * 1225, "a b", "a*b", "é1", "a#b"], ids=repr)
def test_external_id_refused(value: str) -> None:
    bad("external_id", external_id=value)


def test_mfa_shapes() -> None:
    ok(serial_number="GAHT12345", token_code="123456")
    ok(serial_number=f"arn:aws:iam::{ACCT}:mfa/alice", token_code="000000")
    ok(serial_number="s" * 256, token_code="999999")
    bad("serial_number", serial_number="GAHT1234", token_code="123456")  # 8 characters
    bad("serial_number", serial_number="s" * 257, token_code="123456")
    bad("serial_number", serial_number="GAHT 12345", token_code="123456")
    for code in ("12345", "1234567", "12345a", "١٢٣٤٥٦", "      "):
        bad("token_code", serial_number="GAHT12345", token_code=code)


def test_serial_and_code_must_come_together() -> None:
    bad("token_code", serial_number="GAHT12345")
    bad("serial_number", token_code="123456")


@pytest.mark.parametrize("value", ["ab", "x" * 64, "alice@example.com", "Az09_+=,.@-"])
def test_source_identity_accepted(value: str) -> None:
    ok(source_identity=value)


@pytest.mark.parametrize("value", ["a", "x" * 65, "aws:alice", "AWS:x", "a b", "a/b", "é1"], ids=repr)
def test_source_identity_refused(value: str) -> None:
    bad("source_identity", source_identity=value)


# -- tag rules (InvalidParameterValue) ----------------------------------------------------------


def tag_error(field: str, inherited: tuple[str, ...] = (), **kwargs: object) -> StsError:
    with sts_error(INVALID_PARAMETER_VALUE, field) as info:
        check_tags(p(**kwargs), inherited)
    return info.value


def test_duplicate_tag_keys_ignoring_case() -> None:
    tag_error("tags", tags=(("Project", "a"), ("project", "b")))
    tag_error("tags", tags=(("x", "1"), ("ÄBC", "a"), ("äbc", "a")))
    check_tags(p(tags=(("Project", "a"), ("Projects", "a"))), ())


def test_reserved_aws_prefix() -> None:
    tag_error("tags", tags=(("aws:team", "a"),))
    tag_error("tags", tags=(("AWS:team", "a"),))
    check_tags(p(tags=(("awsteam", "a"), ("team:aws", "b"))), ())


def test_transitive_keys_must_be_tags_ignoring_case() -> None:
    check_tags(p(tags=(("Project", "a"),), transitive_tag_keys=("PROJECT",)), ())
    err = tag_error("transitive_tag_keys", tags=(("Project", "a"),), transitive_tag_keys=("Dept",))
    assert "must be included in the requested tags" in err.message
    tag_error("transitive_tag_keys", transitive_tag_keys=("Project",))


def test_inherited_transitive_keys_cannot_be_overridden() -> None:
    tag_error("tags", ("project",), tags=(("Project", "y"),))
    tag_error("tags", ("project",), tags=(("PROJECT", "x"),))  # even with the same value
    check_tags(p(tags=(("Dept", "d"),)), ("project",))


# -- order: shapes and tag rules come before authorization --------------------------------------


def _sts_world():
    clock = Clock()
    snap = compiled(
        snapshot(
            account(
                users=[user("alice"), user("mallory")],
                roles=[role("Target", doc(trust(user_arn("alice"), ["sts:AssumeRole", "sts:TagSession"])))],
            )
        )
    )
    return new_sts(clock), snap


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"role_session_name": "a"}, VALIDATION_ERROR),
        ({"duration_seconds": 60}, VALIDATION_ERROR),
        ({"tags": (("a", "1"), ("A", "2"))}, INVALID_PARAMETER_VALUE),
        ({"tags": (("a", "1"),), "transitive_tag_keys": ("b",)}, INVALID_PARAMETER_VALUE),
        ({"policy": "{not json"}, "MalformedPolicyDocument"),
        ({}, ACCESS_DENIED),
    ],
    ids=["session-name", "duration", "duplicate-tags", "transitive-not-tag", "malformed-policy", "valid"],
)
def test_parameter_errors_precede_authorization(kwargs: dict[str, object], code: str) -> None:
    sts, snap = _sts_world()
    mallory = sts.authenticate_arn(snap, user_arn("mallory"))  # not trusted by Target
    with sts_error(code):
        sts.assume_role(snap, mallory, p(**kwargs))


def test_parameter_errors_do_not_reveal_whether_a_role_exists() -> None:
    sts, snap = _sts_world()
    alice = sts.authenticate_arn(snap, user_arn("alice"))
    with sts_error(VALIDATION_ERROR):
        sts.assume_role(snap, alice, p(role_arn=role_arn("Nope"), role_session_name="a"))
    with sts_error(ACCESS_DENIED):
        sts.assume_role(snap, alice, p(role_arn=role_arn("Nope")))
