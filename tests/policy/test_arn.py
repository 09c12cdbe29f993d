"""sidecar.policy.arn: ARN splitting (reference §2.3, §8.1)."""

from __future__ import annotations

import pytest

from sidecar.policy.arn import PARTITIONS, Arn, is_account_id, parse_arn, root_arn


def test_parse_six_parts() -> None:
    arn = parse_arn("arn:aws:s3:us-east-1:123456789012:bucket/key")
    assert arn == Arn("aws", "s3", "us-east-1", "123456789012", "bucket/key")


def test_resource_part_keeps_later_colons_and_slashes() -> None:
    arn = parse_arn("arn:aws:lambda:us-east-1:123456789012:function:my-fn:PROD/x")
    assert arn is not None
    assert arn.service == "lambda"
    assert arn.account == "123456789012"
    assert arn.resource == "function:my-fn:PROD/x"


def test_empty_components_are_kept() -> None:
    arn = parse_arn("arn:aws:s3:::")
    assert arn == Arn("aws", "s3", "", "", "")
    arn = parse_arn("arn:aws:iam::123456789012:root")
    assert arn == Arn("aws", "iam", "", "123456789012", "root")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "*",
        "arn",
        "arn:aws:s3",
        "arn:aws:s3:::"[:-1],  # five parts
        "arn:aws:s3:us-east-1:123456789012",
        "ARN:aws:s3:::bucket",  # the literal prefix is case-sensitive
        "aws:s3:::bucket:x:y",
        " arn:aws:s3:::bucket",
    ],
)
def test_not_an_arn(text: str) -> None:
    assert parse_arn(text) is None


def test_str_round_trips() -> None:
    for text in (
        "arn:aws:s3:::b/k:x",
        "arn:aws-cn:iam::123456789012:user/path/bob",
        "arn:aws:sts::123456789012:assumed-role/R/s",
    ):
        arn = parse_arn(text)
        assert arn is not None
        assert str(arn) == text


@pytest.mark.parametrize(
    ("text", "rtype", "name"),
    [
        ("arn:aws:iam::123456789012:user/division_abc/subdivision_xyz/JaneDoe", "user", "JaneDoe"),
        ("arn:aws:iam::123456789012:role/R", "role", "R"),
        ("arn:aws:iam::123456789012:root", "root", "root"),
        ("arn:aws:lambda:us-east-1:123456789012:function:fn", "function", "function:fn"),
        ("arn:aws:s3:::bucket", "bucket", "bucket"),
        ("arn:aws:sts::123456789012:assumed-role/Role/Session", "assumed-role", "Session"),
    ],
)
def test_resource_type_and_name(text: str, rtype: str, name: str) -> None:
    arn = parse_arn(text)
    assert arn is not None
    assert arn.resource_type == rtype
    assert arn.resource_name == name


def test_resource_type_stops_at_first_separator() -> None:
    arn = parse_arn("arn:aws:x:::a:b/c")
    assert arn is not None
    assert arn.resource_type == "a"
    arn = parse_arn("arn:aws:x:::a/b:c")
    assert arn is not None
    assert arn.resource_type == "a"


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("123456789012", True),
        ("000000000000", True),
        ("12345678901", False),
        ("1234567890123", False),
        ("12345678901a", False),
        ("", False),
        (" 123456789012", False),
        ("123456789012\n", False),
    ],
)
def test_is_account_id(text: str, ok: bool) -> None:
    assert is_account_id(text) is ok


def test_root_arn() -> None:
    assert root_arn("aws", "123456789012") == "arn:aws:iam::123456789012:root"
    assert root_arn("aws-us-gov", "210987654321") == "arn:aws-us-gov:iam::210987654321:root"


def test_partitions_include_the_documented_three() -> None:
    assert {"aws", "aws-cn", "aws-us-gov"} <= PARTITIONS
    assert "AWS" not in PARTITIONS
