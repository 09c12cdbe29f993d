"""sidecar.policy.conditions: operators and their rules (reference §4, §5, §9)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sidecar.policy.conditions import (
    AMBIGUOUS,
    MISSING,
    MULTIVALUED_KEYS,
    OPERATORS,
    SET_ALL,
    SET_ANY,
    SET_NONE,
    UNPARSEABLE,
    AmbiguousKeyError,
    NullClause,
    compile_condition,
    condition_from_mapping,
    parse_binary,
    parse_date,
    parse_ip_address,
    parse_ip_network,
    parse_number,
    scalar_text,
    split_arn_value,
    split_operator,
)
from sidecar.policy.errors import MALFORMED, Problem, Severity, format_path
from sidecar.policy.jsonload import JsonNumber, loads


def ev(op: str, key: str, values: Any, ctx: dict[str, Any] | None = None, *, variables: bool = True) -> bool:
    """Evaluate ``{op: {key: values}}`` against ``ctx`` (keys lower-cased like the engine does)."""
    cond = condition_from_mapping({op: {key: values}}, variables=variables)
    lowered = {k.lower(): v for k, v in (ctx or {}).items()}
    return cond.evaluate(lowered)


def compile_problems(block: Any, *, strict: bool = False, variables: bool = True) -> list[Problem]:
    problems: list[Problem] = []
    compile_condition(block, ("Condition",), problems, variables=variables, strict=strict)
    return problems


K = "aws:PrincipalTag/team"

# --- §4.1 combination ------------------------------------------------------------------------


def test_empty_condition_is_true() -> None:
    cond = condition_from_mapping({})
    assert cond.clauses == ()
    assert cond.evaluate({})


def test_values_of_a_positive_operator_are_ored() -> None:
    assert ev("StringEquals", K, ["red", "blue"], {K: "blue"})
    assert not ev("StringEquals", K, ["red", "blue"], {K: "green"})


def test_values_of_a_negated_operator_are_nored() -> None:
    assert not ev("StringNotEquals", K, ["red", "blue"], {K: "blue"})
    assert not ev("StringNotEquals", K, ["red", "blue"], {K: "red"})
    assert ev("StringNotEquals", K, ["red", "blue"], {K: "green"})


def test_keys_under_one_operator_are_anded() -> None:
    cond = condition_from_mapping({"StringEquals": {"a": "1", "b": "2"}})
    assert cond.evaluate({"a": "1", "b": "2"})
    assert not cond.evaluate({"a": "1", "b": "3"})
    assert not cond.evaluate({"a": "1"})


def test_operators_are_anded() -> None:
    cond = condition_from_mapping({"StringEquals": {"a": "1"}, "NumericLessThan": {"n": "5"}})
    assert cond.evaluate({"a": "1", "n": "4"})
    assert not cond.evaluate({"a": "1", "n": "5"})
    assert not cond.evaluate({"a": "2", "n": "4"})
    assert cond.keys == ("a", "n")


def test_condition_keys_are_case_insensitive() -> None:
    assert ev("StringEquals", "AWS:SourceVpc", "vpc-1", {"aws:sourcevpc": "vpc-1"})
    assert ev("StringEquals", "aws:sourcevpc", "vpc-1", {"AWS:SOURCEVPC": "vpc-1"})
    assert ev("StringEquals", "aws:PrincipalTag/TEAM", "red", {"aws:principaltag/team": "red"})


# --- String operators -----------------------------------------------------------------------


def test_string_equals_is_case_sensitive_and_exact() -> None:
    assert ev("StringEquals", K, "Red", {K: "Red"})
    assert not ev("StringEquals", K, "Red", {K: "red"})
    assert not ev("StringEquals", K, "Red", {K: "Red "})
    assert not ev("StringEquals", K, "R*", {K: "Red"})  # no wildcards
    assert ev("StringEquals", K, "R*", {K: "R*"})


def test_string_not_equals() -> None:
    assert ev("StringNotEquals", K, "Red", {K: "red"})
    assert not ev("StringNotEquals", K, "Red", {K: "Red"})


def test_string_equals_ignore_case() -> None:
    assert ev("StringEqualsIgnoreCase", K, "RED", {K: "red"})
    assert ev("StringEqualsIgnoreCase", K, "red", {K: "ReD"})
    assert not ev("StringEqualsIgnoreCase", K, "red", {K: "reds"})
    assert not ev("StringEqualsIgnoreCase", K, "r*", {K: "red"})
    assert not ev("StringNotEqualsIgnoreCase", K, "RED", {K: "red"})
    assert ev("StringNotEqualsIgnoreCase", K, "RED", {K: "blue"})


def test_string_like_globs() -> None:
    assert ev("StringLike", K, "r*", {K: "red"})
    assert ev("StringLike", K, "r*", {K: "r"})
    assert ev("StringLike", K, "r?d", {K: "rod"})
    assert not ev("StringLike", K, "r?d", {K: "rd"})
    assert not ev("StringLike", K, "r*", {K: "Red"})  # case-sensitive
    assert ev("StringLike", K, "a*b", {K: "a/x:y/b"})


def test_string_not_like_is_nor_of_globs() -> None:
    assert ev("StringNotLike", K, ["r*", "b*"], {K: "green"})
    assert not ev("StringNotLike", K, ["r*", "b*"], {K: "blue"})


def test_string_like_crosses_colons_arn_like_does_not() -> None:
    pattern = "arn:aws:svc:*:111122223333:finance/*"
    value = "arn:aws:svc:us-east-2:999999999999:store/abc:111122223333:finance/doc.txt"
    assert ev("StringLike", "aws:SourceArn", pattern, {"aws:SourceArn": value})
    assert not ev("ArnLike", "aws:SourceArn", pattern, {"aws:SourceArn": value})


# --- §4.3 missing keys ----------------------------------------------------------------------

MISSING_TABLE = [
    ("StringEquals", "x", False),
    ("StringNotEquals", "x", True),
    ("StringEqualsIgnoreCase", "x", False),
    ("StringNotEqualsIgnoreCase", "x", True),
    ("StringLike", "x*", False),
    ("StringNotLike", "x*", True),
    ("NumericEquals", "1", False),
    ("NumericNotEquals", "1", True),
    ("NumericLessThan", "1", False),
    ("NumericLessThanEquals", "1", False),
    ("NumericGreaterThan", "1", False),
    ("NumericGreaterThanEquals", "1", False),
    ("DateEquals", "2024-01-01", False),
    ("DateNotEquals", "2024-01-01", True),
    ("DateLessThan", "2024-01-01", False),
    ("DateLessThanEquals", "2024-01-01", False),
    ("DateGreaterThan", "2024-01-01", False),
    ("DateGreaterThanEquals", "2024-01-01", False),
    ("Bool", "true", False),
    ("BinaryEquals", "aGVsbG8=", False),
    ("IpAddress", "10.0.0.0/8", False),
    ("NotIpAddress", "10.0.0.0/8", True),
    ("ArnEquals", "arn:aws:s3:::b", False),
    ("ArnLike", "arn:aws:s3:::*", False),
    ("ArnNotEquals", "arn:aws:s3:::b", True),
    ("ArnNotLike", "arn:aws:s3:::*", True),
]


def test_missing_table_covers_every_operator_but_null() -> None:
    assert {op for op, _, _ in MISSING_TABLE} == set(OPERATORS) - {"Null"}


@pytest.mark.parametrize(("op", "value", "expected"), MISSING_TABLE)
def test_missing_key(op: str, value: str, expected: bool) -> None:
    assert ev(op, "ctx:key", value, {"other": "x"}) is expected


@pytest.mark.parametrize(("op", "value", "_expected"), MISSING_TABLE)
def test_missing_key_with_if_exists_is_true(op: str, value: str, _expected: bool) -> None:
    assert ev(op + "IfExists", "ctx:key", value, {}) is True


@pytest.mark.parametrize(
    ("op", "value", "present", "expected"),
    [
        ("StringEqualsIfExists", "x", "x", True),
        ("StringEqualsIfExists", "x", "y", False),
        ("StringNotEqualsIfExists", "x", "x", False),
        ("StringNotEqualsIfExists", "x", "y", True),
        ("NumericLessThanIfExists", "5", "6", False),
        ("NumericLessThanIfExists", "5", "4", True),
        ("BoolIfExists", "false", "true", False),
        ("BoolIfExists", "false", "false", True),
        ("IpAddressIfExists", "10.0.0.0/8", "11.0.0.1", False),
        ("ArnLikeIfExists", "arn:aws:s3:::b*", "arn:aws:s3:::c", False),
        ("DateLessThanIfExists", "2024-01-01", "2023-12-31", True),
    ],
)
def test_if_exists_present_key_uses_base_operator(op: str, value: str, present: str, expected: bool) -> None:
    assert ev(op, "ctx:key", value, {"ctx:key": present}) is expected


def test_if_exists_with_unparseable_present_value_applies_the_rule() -> None:
    assert not ev("NumericLessThanIfExists", "n", "5", {"n": "abc"})
    assert not ev("NumericNotEqualsIfExists", "n", "5", {"n": "abc"})


# --- §4.5 set operators ---------------------------------------------------------------------

TAGS = "aws:TagKeys"


def test_for_all_values_every_request_value_must_match() -> None:
    assert ev("ForAllValues:StringEquals", TAGS, ["a", "b"], {TAGS: ("a", "b")})
    assert ev("ForAllValues:StringEquals", TAGS, ["a", "b"], {TAGS: ("a",)})
    assert not ev("ForAllValues:StringEquals", TAGS, ["a", "b"], {TAGS: ("a", "c")})


def test_for_any_value_one_request_value_suffices() -> None:
    assert ev("ForAnyValue:StringEquals", TAGS, ["a", "b"], {TAGS: ("x", "b")})
    assert not ev("ForAnyValue:StringEquals", TAGS, ["a", "b"], {TAGS: ("x", "y")})


@pytest.mark.parametrize("value", [MISSING, (), ("",), ""])
def test_for_all_values_absent_or_empty_is_true(value: Any) -> None:
    ctx = {} if value is MISSING else {TAGS: value}
    assert ev("ForAllValues:StringEquals", TAGS, "a", ctx)
    assert ev("ForAllValues:StringLike", TAGS, "a*", ctx)
    assert ev("ForAllValues:NumericEquals", TAGS, "1", ctx)


@pytest.mark.parametrize("value", [MISSING, (), ("",), ""])
def test_for_any_value_absent_or_empty_is_false(value: Any) -> None:
    ctx = {} if value is MISSING else {TAGS: value}
    assert not ev("ForAnyValue:StringEquals", TAGS, "a", ctx)
    assert not ev("ForAnyValue:StringNotEquals", TAGS, "a", ctx)
    assert not ev("ForAnyValue:StringLike", TAGS, "*", ctx)


def test_for_any_value_if_exists_true_only_when_absent() -> None:
    assert ev("ForAnyValue:StringEqualsIfExists", TAGS, "a", {})
    # documented choice (docs/semantics.md "Empty sets"): empty is not absent
    assert not ev("ForAnyValue:StringEqualsIfExists", TAGS, "a", {TAGS: ()})
    assert ev("ForAnyValue:StringEqualsIfExists", TAGS, "a", {TAGS: ("a",)})
    assert not ev("ForAnyValue:StringEqualsIfExists", TAGS, "a", {TAGS: ("b",)})


def test_for_all_values_negated_is_per_value_nor() -> None:
    # documented example: true when no request key starts with key1; true when absent
    assert ev("ForAllValues:StringNotLike", TAGS, "key1*", {TAGS: ("a", "b")})
    assert not ev("ForAllValues:StringNotLike", TAGS, "key1*", {TAGS: ("a", "key1x")})
    assert ev("ForAllValues:StringNotLike", TAGS, "key1*", {})
    assert not ev("ForAllValues:StringNotEquals", TAGS, ["a", "b"], {TAGS: ("c", "b")})
    assert ev("ForAllValues:StringNotEquals", TAGS, ["a", "b"], {TAGS: ("c", "d")})


def test_for_any_value_negated() -> None:
    assert ev("ForAnyValue:StringNotEquals", TAGS, ["a", "b"], {TAGS: ("a", "c")})
    assert not ev("ForAnyValue:StringNotEquals", TAGS, ["a", "b"], {TAGS: ("a", "b")})


def test_single_valued_key_under_set_operator_is_a_one_element_set() -> None:
    assert ev("ForAllValues:StringEquals", K, ["red", "blue"], {K: "red"})
    assert not ev("ForAllValues:StringEquals", K, ["red", "blue"], {K: "green"})
    assert ev("ForAnyValue:StringLike", K, "r*", {K: "red"})


def test_set_operator_with_typed_values() -> None:
    assert ev("ForAllValues:NumericLessThan", "k", "10", {"k": ("1", "9")})
    assert not ev("ForAllValues:NumericLessThan", "k", "10", {"k": ("1", "10")})
    # an unparseable request value fails its own test
    assert not ev("ForAllValues:NumericLessThan", "k", "10", {"k": ("1", "x")})
    assert ev("ForAnyValue:NumericLessThan", "k", "10", {"k": ("x", "1")})
    assert not ev("ForAnyValue:NumericNotEquals", "k", "10", {"k": ("x", "10")})
    assert ev("ForAnyValue:IpAddress", "k", "10.0.0.0/8", {"k": ("1.1.1.1", "10.0.0.1")})


def test_multivalued_key_without_set_operator_is_false() -> None:
    ctx = {TAGS: ("a", "b")}
    assert not ev("StringEquals", TAGS, "a", ctx)
    assert not ev("StringNotEquals", TAGS, "z", ctx)
    assert not ev("StringLike", TAGS, "*", ctx)
    assert not ev("StringEqualsIfExists", TAGS, "a", ctx)
    assert not ev("NumericNotEquals", TAGS, "1", ctx)
    assert not ev("StringEquals", TAGS, "a", {TAGS: ("a",)})
    assert not ev("StringNotEquals", TAGS, "a", {TAGS: ()})


def test_multivalued_keys_set() -> None:
    assert "aws:tagkeys" in MULTIVALUED_KEYS
    assert "aws:calledvia" in MULTIVALUED_KEYS
    assert "sts:transitivetagkeys" in MULTIVALUED_KEYS
    assert "aws:principalorgpaths" in MULTIVALUED_KEYS


# --- AMBIGUOUS (§9 item 15) -----------------------------------------------------------------


@pytest.mark.parametrize(
    "op", ["StringEquals", "StringNotEquals", "StringEqualsIfExists", "ForAllValues:StringEquals"]
)
def test_ambiguous_key_raises(op: str) -> None:
    with pytest.raises(AmbiguousKeyError) as info:
        ev(op, "aws:PrincipalTag/Team", "red", {"aws:principaltag/team": AMBIGUOUS})
    assert info.value.key == "aws:principaltag/team"


@pytest.mark.parametrize("op", ["NumericEquals", "Bool", "IpAddress", "ArnLike", "ForAnyValue:StringLike"])
def test_ambiguous_key_raises_for_every_type(op: str) -> None:
    value = {
        "NumericEquals": "1",
        "Bool": "true",
        "IpAddress": "10.0.0.0/8",
        "ArnLike": "arn:*:*:*:*:*",
        "ForAnyValue:StringLike": "*",
    }[op]
    with pytest.raises(AmbiguousKeyError):
        ev(op, "k", value, {"k": AMBIGUOUS})


@pytest.mark.parametrize(
    ("op", "value", "request_value"),
    [
        ("StringNotEquals", "${aws:PrincipalTag/team}", "red"),
        ("StringEquals", "${aws:PrincipalTag/team}", "red"),
        ("StringLike", "*${aws:PrincipalTag/team}*", "red"),
        ("StringNotEquals", "${aws:PrincipalTag/team, 'fallback'}", "red"),
        ("ArnNotLike", "arn:aws:s3:::${aws:PrincipalTag/team}", "arn:aws:s3:::red"),
        ("Bool", "${aws:PrincipalTag/team}", "true"),
    ],
)
def test_ambiguous_key_read_through_a_variable_fails_closed(op: str, value: str, request_value: str) -> None:
    # §9 item 15: reading the ambiguous key through a variable must not make a negated
    # operator match (which could let an Allow apply); the default does not rescue it either
    cond = condition_from_mapping({op: {"k": value}})
    ctx = {"k": request_value, "aws:principaltag/team": AMBIGUOUS}
    with pytest.raises(AmbiguousKeyError) as info:
        cond.evaluate(ctx)
    assert info.value.key == "aws:principaltag/team"


# --- §4.6 / §9 items 3, 18: unresolved variables --------------------------------------------


def test_unresolved_variable_positive_operators_do_not_match() -> None:
    ctx = {"s3:prefix": "alice"}
    assert not ev("StringEquals", "s3:prefix", "${aws:username}", ctx)
    assert not ev("StringLike", "s3:prefix", "${aws:username}*", ctx)
    assert not ev("StringEqualsIgnoreCase", "s3:prefix", "${aws:username}", ctx)
    assert not ev(
        "ArnLike", "aws:SourceArn", "arn:aws:s3:::${aws:username}", {"aws:sourcearn": "arn:aws:s3:::"}
    )


def test_unresolved_variable_negated_operators_match() -> None:
    ctx = {"s3:prefix": "alice", "aws:sourcearn": "arn:aws:s3:::alice"}
    assert ev("StringNotEquals", "s3:prefix", "${aws:username}", ctx)
    assert ev("StringNotLike", "s3:prefix", "${aws:username}*", ctx)
    assert ev("StringNotEqualsIgnoreCase", "s3:prefix", "${aws:username}", ctx)
    assert ev("ArnNotLike", "aws:SourceArn", "arn:aws:s3:::${aws:username}", ctx)
    assert ev("ArnNotEquals", "aws:SourceArn", "arn:aws:s3:::${aws:username}", ctx)


def test_unresolved_variable_among_several_negated_values() -> None:
    values = ["${aws:username}", "alice"]
    assert not ev("StringNotEquals", "s3:prefix", values, {"s3:prefix": "alice"})
    assert ev("StringNotEquals", "s3:prefix", values, {"s3:prefix": "bob"})


def test_unresolved_variable_among_several_positive_values() -> None:
    values = ["${aws:username}", "alice"]
    assert ev("StringEquals", "s3:prefix", values, {"s3:prefix": "alice"})
    assert not ev("StringEquals", "s3:prefix", values, {"s3:prefix": "bob"})


def test_resolved_variable_in_string_operators() -> None:
    ctx = {"aws:username": "alice", "s3:prefix": "home/alice/x"}
    assert ev("StringLike", "s3:prefix", "home/${aws:username}/*", ctx)
    assert not ev("StringLike", "s3:prefix", "home/${aws:username}/*", {**ctx, "aws:username": "bob"})
    assert ev("StringEquals", "s3:prefix", "home/${aws:username}/x", ctx)
    assert ev(
        "StringEqualsIgnoreCase", "s3:prefix", "HOME/${aws:username}/X", {**ctx, "aws:username": "ALICE"}
    )
    assert not ev("StringNotEquals", "s3:prefix", "home/${aws:username}/x", ctx)


def test_variable_default_in_condition() -> None:
    assert ev("StringEquals", "k", "${aws:username, 'guest'}", {"k": "guest"})
    assert not ev("StringEquals", "k", "${aws:username, 'guest'}", {"k": "guest", "aws:username": "al"})


def test_multivalued_variable_is_unresolved() -> None:
    ctx = {"k": "a", "aws:tagkeys": ("a",)}
    assert not ev("StringEquals", "k", "${aws:TagKeys}", ctx)
    assert ev("StringNotEquals", "k", "${aws:TagKeys}", ctx)


def test_substituted_wildcards_are_literal_in_string_like() -> None:
    ctx = {"aws:principaltag/p": "*", "k": "anything"}
    assert not ev("StringLike", "k", "${aws:PrincipalTag/p}", ctx)
    assert ev("StringLike", "k", "${aws:PrincipalTag/p}", {**ctx, "k": "*"})
    qctx = {"aws:principaltag/p": "a?", "k": "ab"}
    assert not ev("StringLike", "k", "x/${aws:PrincipalTag/p}", {**qctx, "k": "x/ab"})
    assert ev("StringLike", "k", "x/${aws:PrincipalTag/p}*", {**qctx, "k": "x/a?yz"})


def test_escapes_in_conditions() -> None:
    assert ev("StringLike", "k", "a${*}b", {"k": "a*b"})
    assert not ev("StringLike", "k", "a${*}b", {"k": "axb"})
    assert ev("StringEquals", "k", "${$}{x}", {"k": "${x}"})
    assert ev("StringLike", "k", "${?}", {"k": "?"})
    assert not ev("StringLike", "k", "${?}", {"k": "x"})


def test_version_2008_compares_variables_as_text() -> None:
    ctx = {"k": "alice", "aws:username": "alice"}
    assert not ev("StringEquals", "k", "${aws:username}", ctx, variables=False)
    assert ev("StringEquals", "k", "${aws:username}", {"k": "${aws:username}"}, variables=False)
    # `*` written in the policy text is a wildcard; `${*}` is just text under 2008
    assert ev("StringLike", "k", "${*}", {"k": "${x}"}, variables=False)
    assert not ev("StringLike", "k", "${*}", {"k": "*"}, variables=False)


def test_variable_in_condition_key_is_rejected() -> None:
    with pytest.raises(ValueError):
        condition_from_mapping({"StringEquals": {"aws:PrincipalTag/${aws:username}": "x"}})


# --- Numeric --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "policy", "request_value", "expected"),
    [
        ("NumericEquals", "10", "10.0", True),
        ("NumericEquals", "10.0", "10", True),
        ("NumericEquals", "10", "10.5", False),
        ("NumericEquals", "-3", "-3.00", True),
        ("NumericNotEquals", "10", "10.0", False),
        ("NumericNotEquals", "10", "11", True),
        ("NumericLessThan", "10", "9.99", True),
        ("NumericLessThan", "10", "10", False),
        ("NumericLessThan", "-1", "-2", True),
        ("NumericLessThanEquals", "10", "10", True),
        ("NumericLessThanEquals", "10", "10.01", False),
        ("NumericGreaterThan", "10", "10.01", True),
        ("NumericGreaterThan", "10", "10", False),
        ("NumericGreaterThan", "-5", "-4", True),
        ("NumericGreaterThanEquals", "10", "10.0", True),
        ("NumericGreaterThanEquals", "10", "9", False),
        ("NumericLessThan", "100", "99999999999999999999", False),
        ("NumericLessThan", "0.3", "0.1", True),
    ],
)
def test_numeric_operators(op: str, policy: str, request_value: str, expected: bool) -> None:
    assert ev(op, "n", policy, {"n": request_value}) is expected


def test_numeric_json_number_values() -> None:
    block = loads('{"NumericEquals": {"n": 10}, "NumericLessThan": {"m": 2.5}}')
    cond = condition_from_mapping(block)
    assert cond.evaluate({"n": "10.0", "m": "2.4"})
    assert not cond.evaluate({"n": "10.0", "m": "2.5"})


def test_numeric_values_are_compared_exactly() -> None:
    assert ev("NumericEquals", "n", "0.3", {"n": "0.30"})
    assert not ev("NumericEquals", "n", "0.1", {"n": "0.1000000000000000055511151231257827"})


@pytest.mark.parametrize(
    "bad", ["abc", "", "1e3", "+1", ".5", "5.", " 1", "1 ", "0x10", "NaN", "Infinity", "1,000"]
)
def test_unparseable_numbers(bad: str) -> None:
    assert parse_number(bad) is UNPARSEABLE


@pytest.mark.parametrize(("text", "value"), [("10", 10), ("10.0", 10), ("-3.5", Decimal("-3.5")), ("0", 0)])
def test_parse_number(text: str, value: Any) -> None:
    assert parse_number(text) == value


def test_non_ascii_digits_are_not_numbers() -> None:
    assert parse_number("\u0661\u0660") is UNPARSEABLE


def test_unparseable_request_value_numeric() -> None:
    for op in ("NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericGreaterThanEquals"):
        assert not ev(op, "n", "5", {"n": "five"}), op


def test_unparseable_policy_value_numeric() -> None:
    # positive: ignored; the other values still match
    assert ev("NumericEquals", "n", ["abc", "5"], {"n": "5"})
    assert not ev("NumericEquals", "n", ["abc"], {"n": "5"})
    # negated: false when a policy value is unparseable
    assert not ev("NumericNotEquals", "n", ["abc"], {"n": "5"})
    assert not ev("NumericNotEquals", "n", ["abc", "3"], {"n": "5"})
    assert ev("NumericNotEquals", "n", ["3"], {"n": "5"})


def test_numeric_does_not_substitute_variables() -> None:
    assert not ev("NumericEquals", "n", "${aws:x}", {"n": "5", "aws:x": "5"})
    assert not ev("NumericNotEquals", "n", "${aws:x}", {"n": "5", "aws:x": "6"})


# --- Dates ----------------------------------------------------------------------------------

JAN1 = Decimal(1704067200)  # 2024-01-01T00:00:00Z


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2024-01", JAN1),
        ("2024-01-01", JAN1),
        ("2024-01-01T00:00Z", JAN1),
        ("2024-01-01T00:00:00Z", JAN1),
        ("2024-01-01T00:00:00.5Z", JAN1 + Decimal("0.5")),
        ("2024-01-01T00:00:00.123456789Z", JAN1 + Decimal("0.123456789")),
        ("2024-01-01T01:00:00+01:00", JAN1),
        ("2023-12-31T19:00-05:00", JAN1),
        ("2024-01-01T05:30:00.25+05:30", JAN1 + Decimal("0.25")),
        ("2024-01-01T00:00:00+00:00", JAN1),
        ("2024-01-01T00:00:00-00:00", JAN1),
        ("2024-03-01", JAN1 + 60 * 86400),  # 2024 is a leap year
        ("2024-01-01T00:00", JAN1),  # documented choice: no zone designator reads as UTC
        ("1704067200", JAN1),
        ("0", Decimal(0)),
        ("2024", Decimal(2024)),  # §9 item 19: all digits are epoch seconds, not a year
        ("1970-01-01T00:00:00Z", Decimal(0)),
        ("1969-12-31T23:59:59Z", Decimal(-1)),
    ],
)
def test_parse_date_profiles(text: str, seconds: Decimal) -> None:
    assert parse_date(text) == seconds


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "2024-13-01",
        "2024-02-30",
        "2023-02-29",
        "2024-1-1",
        "24-01-01",
        "2024-01-01T",
        "2024-01-01T00Z",
        "2024-01-01T24:00Z",
        "2024-01-01T23:60Z",
        "2024-01-01T00:00:60Z",
        "2024-01-01 00:00Z",
        "2024-01-01T00:00:00.Z",
        "2024-01-01T00:00:00+0100",
        "2024-01-01T00:00:00+24:00",
        "2024-01-01T00:00:00z",
        "2024-01-01Z",
        "-5",
        "1704067200.5",
        "tomorrow",
        "2024/01/01",
    ],
)
def test_parse_date_invalid(bad: str) -> None:
    assert parse_date(bad) is UNPARSEABLE


def test_non_ascii_digits_are_not_dates() -> None:
    assert parse_date("\uff12\uff10\uff12\uff14-01-01") is UNPARSEABLE


@pytest.mark.parametrize(
    ("op", "policy", "request_value", "expected"),
    [
        ("DateEquals", "2024-01-01T00:00:00Z", "2024-01-01T01:00:00+01:00", True),
        ("DateEquals", "2024-01-01T00:00:00Z", "1704067200", True),
        ("DateEquals", "1704067200", "2024-01-01", True),
        ("DateEquals", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00.001Z", False),
        ("DateNotEquals", "2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z", True),
        ("DateNotEquals", "2024-01-01T00:00:00Z", "2024-01-01", False),
        ("DateLessThan", "2024-01-01T00:00:00Z", "2023-12-31T23:59:59.9Z", True),
        ("DateLessThan", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", False),
        ("DateLessThan", "2024-01-01T00:00:00Z", "2024-01-01T00:30:00+01:00", True),
        ("DateLessThanEquals", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", True),
        ("DateLessThanEquals", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00.5Z", False),
        ("DateGreaterThan", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00.5Z", True),
        ("DateGreaterThan", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", False),
        ("DateGreaterThan", "2024-01-01T00:00:00Z", "2023-12-31T23:30:00-01:00", True),
        ("DateGreaterThanEquals", "2024-01-01", "2024-01-01T00:00:00Z", True),
        ("DateGreaterThanEquals", "2024-01-01", "2023-12-31T23:59:59Z", False),
        ("DateGreaterThan", "2024", "2000-01-01", True),  # "2024" is 2024 s after the epoch
    ],
)
def test_date_operators(op: str, policy: str, request_value: str, expected: bool) -> None:
    assert ev(op, "aws:CurrentTime", policy, {"aws:currenttime": request_value}) is expected


def test_date_unparseable_values() -> None:
    t = "aws:CurrentTime"
    assert not ev("DateLessThan", t, "2024-01-01", {t: "yesterday"})
    assert not ev("DateNotEquals", t, "2024-01-01", {t: "yesterday"})
    assert not ev("DateNotEquals", t, ["2024-13-01"], {t: "2024-01-01"})
    assert not ev("DateNotEquals", t, ["2024-13-01", "2020-01-01"], {t: "2024-01-01"})
    assert ev("DateEquals", t, ["2024-13-01", "2024-01-01"], {t: "2024-01-01"})


def test_date_does_not_accept_wildcards_or_variables() -> None:
    t = "aws:CurrentTime"
    assert not ev("DateEquals", t, "2024-*", {t: "2024-01-01"})
    assert not ev(
        "DateEquals", t, "${aws:TokenIssueTime}", {t: "2024-01-01", "aws:tokenissuetime": "2024-01-01"}
    )


def test_epoch_time_works_with_numeric_operators() -> None:
    assert ev("NumericLessThan", "aws:EpochTime", "1704067200", {"aws:epochtime": "1704067199"})


# --- IP -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "request_value", "expected"),
    [
        ("10.0.0.0/8", "10.1.2.3", True),
        ("10.0.0.0/8", "11.0.0.1", False),
        ("10.0.0.1", "10.0.0.1", True),  # bare address is /32
        ("10.0.0.1", "10.0.0.2", False),
        ("10.0.0.1/32", "10.0.0.1", True),
        ("0.0.0.0/0", "203.0.113.7", True),
        ("10.0.0.1/8", "10.9.9.9", True),  # host bits are ignored
        ("2001:db8::/32", "2001:db8::1", True),
        ("2001:db8::/32", "2001:db9::1", False),
        ("2001:db8::1", "2001:db8::1", True),  # bare address is /128
        ("2001:db8::1", "2001:db8::2", False),
        ("2001:DB8::/32", "2001:0db8:0000::0001", True),
        ("::/0", "10.0.0.1", False),  # v4 never matches v6
        ("0.0.0.0/0", "2001:db8::1", False),  # v6 never matches v4
        ("0.0.0.0/0", "::ffff:10.0.0.1", False),
        ("10.0.0.0/8", "::ffff:10.0.0.1", False),
    ],
)
def test_ip_address(policy: str, request_value: str, expected: bool) -> None:
    assert ev("IpAddress", "aws:SourceIp", policy, {"aws:sourceip": request_value}) is expected
    assert ev("NotIpAddress", "aws:SourceIp", policy, {"aws:sourceip": request_value}) is not expected


def test_ip_multiple_ranges() -> None:
    ranges = ["10.0.0.0/8", "2001:db8::/32"]
    ip = "aws:SourceIp"
    assert ev("IpAddress", ip, ranges, {ip: "2001:db8::5"})
    assert ev("IpAddress", ip, ranges, {ip: "10.5.5.5"})
    assert not ev("NotIpAddress", ip, ranges, {ip: "10.5.5.5"})
    assert ev("NotIpAddress", ip, ranges, {ip: "192.0.2.1"})


@pytest.mark.parametrize("bad_request", ["10.0.0.0/8", "10.0.0", "example.com", "", "10.0.0.256", "::g"])
def test_ip_unparseable_request_value(bad_request: str) -> None:
    assert not ev("IpAddress", "aws:SourceIp", "0.0.0.0/0", {"aws:sourceip": bad_request})
    assert not ev("NotIpAddress", "aws:SourceIp", "10.0.0.0/8", {"aws:sourceip": bad_request})


def test_ip_unparseable_policy_value() -> None:
    ip = "aws:SourceIp"
    assert ev("IpAddress", ip, ["10.0.0.0/33", "10.0.0.0/8"], {ip: "10.0.0.1"})
    assert not ev("IpAddress", ip, ["not-an-ip"], {ip: "10.0.0.1"})
    assert not ev("NotIpAddress", ip, ["not-an-ip"], {ip: "192.0.2.1"})
    assert not ev("NotIpAddress", ip, ["10.0.0.0/33", "10.0.0.0/8"], {ip: "192.0.2.1"})


def test_ip_parsers() -> None:
    # representation-agnostic: parseable or not, and a bare address equals its /32 or /128
    assert parse_ip_network("10.0.0.1") == parse_ip_network("10.0.0.1/32")
    assert parse_ip_network("2001:db8::1") == parse_ip_network("2001:db8::1/128")
    assert parse_ip_network("10.0.0.1/8") == parse_ip_network("10.0.0.0/8")
    assert parse_ip_network("10.0.0.0/8") != parse_ip_network("10.0.0.0/16")
    assert parse_ip_network("::/0") != parse_ip_network("0.0.0.0/0")
    for bad in ("10.0.0.0/33", "2001:db8::/129", "10.0.0.0/", "/8", "10.0.0.0/-1", "x", ""):
        assert parse_ip_network(bad) is UNPARSEABLE, bad
    assert parse_ip_address("10.0.0.0/8") is UNPARSEABLE
    assert parse_ip_address("") is UNPARSEABLE
    assert parse_ip_address("2001:db8::1") is not UNPARSEABLE
    assert parse_ip_address("2001:DB8:0::1") == parse_ip_address("2001:db8::1")
    assert parse_ip_address("10.0.0.1") != parse_ip_address("::ffff:10.0.0.1")


# --- Bool -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "request_value", "expected"),
    [
        ("true", "true", True),
        ("true", "TRUE", True),
        ("True", "true", True),
        ("TRUE", "tRuE", True),
        ("false", "False", True),
        ("true", "false", False),
        ("false", "true", False),
        ("true", "yes", False),
        ("true", "1", False),
        ("true", "", False),
        ("yes", "true", False),
    ],
)
def test_bool(policy: str, request_value: str, expected: bool) -> None:
    assert ev("Bool", "aws:SecureTransport", policy, {"aws:securetransport": request_value}) is expected


def test_bool_json_boolean_values() -> None:
    block = loads('{"Bool": {"aws:SecureTransport": false}}')
    cond = condition_from_mapping(block)
    assert cond.evaluate({"aws:securetransport": "false"})
    assert not cond.evaluate({"aws:securetransport": "true"})


def test_bool_with_variables() -> None:
    k = "aws:SecureTransport"
    assert ev("Bool", k, "${aws:ViaAWSService}", {k: "true", "aws:viaawsservice": "TRUE"})
    assert not ev("Bool", k, "${aws:ViaAWSService}", {k: "true", "aws:viaawsservice": "false"})
    assert not ev("Bool", k, "${aws:ViaAWSService}", {k: "true"})
    assert not ev("Bool", k, "${aws:ViaAWSService}", {k: "true", "aws:viaawsservice": "maybe"})


def test_bool_if_exists_mfa_pattern() -> None:
    # a Deny with BoolIfExists MFA false: long-term keys (absent) and non-MFA sessions both match
    k = "aws:MultiFactorAuthPresent"
    assert ev("BoolIfExists", k, "false", {})
    assert ev("BoolIfExists", k, "false", {k: "false"})
    assert not ev("BoolIfExists", k, "false", {k: "true"})


# --- Binary ---------------------------------------------------------------------------------


def test_binary_equals() -> None:
    k = "s3:x"
    assert ev("BinaryEquals", k, "aGVsbG8=", {k: "aGVsbG8="})
    assert not ev("BinaryEquals", k, "aGVsbG8=", {k: "aGVsbG9v"})
    assert not ev("BinaryEquals", k, "aGVsbG8=", {k: "aGVsbG8"})  # invalid padding
    assert not ev("BinaryEquals", k, "aGVsbG8=", {k: "hello"})
    assert ev("BinaryEquals", k, ["!!", "aGVsbG8="], {k: "aGVsbG8="})
    assert not ev("BinaryEquals", k, ["!!"], {k: "aGVsbG8="})


def test_parse_binary() -> None:
    assert parse_binary("aGVsbG8=") == b"hello"
    assert parse_binary("") == b""
    assert parse_binary("aGVsbG8") is UNPARSEABLE
    assert parse_binary("a GVsbG8=") is UNPARSEABLE
    assert parse_binary("!!!!") is UNPARSEABLE


# --- ARN operators --------------------------------------------------------------------------

SA = "aws:SourceArn"


@pytest.mark.parametrize("op", ["ArnEquals", "ArnLike"])
def test_arn_equals_and_like_are_the_same(op: str) -> None:
    assert ev(op, SA, "arn:aws:s3:::bucket/*", {SA: "arn:aws:s3:::bucket/a/b"})
    assert ev(op, SA, "arn:aws:s3:::bucket", {SA: "arn:aws:s3:::bucket"})
    assert not ev(op, SA, "arn:aws:s3:::bucket", {SA: "arn:aws:s3:::bucket2"})
    assert ev(op, SA, "arn:aws:sqs:us-east-?:*:q", {SA: "arn:aws:sqs:us-east-1:123456789012:q"})
    assert not ev(op, SA, "arn:aws:sqs:us-east-?:*:q", {SA: "arn:aws:sqs:us-east-12:123456789012:q"})


@pytest.mark.parametrize("op", ["ArnNotEquals", "ArnNotLike"])
def test_arn_negated(op: str) -> None:
    assert not ev(op, SA, "arn:aws:s3:::bucket/*", {SA: "arn:aws:s3:::bucket/a"})
    assert ev(op, SA, "arn:aws:s3:::bucket/*", {SA: "arn:aws:s3:::other/a"})
    assert not ev(op, SA, ["arn:aws:s3:::x", "arn:aws:s3:::bucket/*"], {SA: "arn:aws:s3:::bucket/a"})


def test_arn_is_globbed_per_component() -> None:
    pattern = "arn:aws:s3:*:*:x"
    assert not ev("ArnLike", SA, pattern, {SA: "arn:aws:s3:a:b:c:x"})
    assert ev("ArnLike", SA, "arn:aws:s3:*:*:c:x", {SA: "arn:aws:s3:a:b:c:x"})
    assert ev("ArnLike", SA, "arn:aws:s3:*:*:*", {SA: "arn:aws:s3:a:b:c:x"})
    assert ev("ArnLike", SA, "arn:*:*:*:*:*", {SA: "arn:aws:s3:::"})
    assert not ev("ArnLike", SA, "arn:aws:iam::*:role/*", {SA: "arn:aws:iam:x:1:y:role/r"})
    assert ev("ArnNotLike", SA, pattern, {SA: "arn:aws:s3:a:b:c:x"})


def test_arn_operators_are_case_sensitive() -> None:
    assert not ev(
        "ArnEquals", SA, "arn:aws:iam::123456789012:role/R", {SA: "arn:aws:iam::123456789012:role/r"}
    )
    assert not ev("ArnLike", SA, "arn:aws:iam::*:role/*", {SA: "arn:aws:IAM::123456789012:role/r"})


def test_arn_requires_six_parts_on_both_sides() -> None:
    # request side
    assert not ev("ArnLike", SA, "arn:*:*:*:*:*", {SA: "arn:aws:s3"})
    assert not ev("ArnNotLike", SA, "arn:aws:s3:::b", {SA: "arn:aws:s3"})
    assert not ev("ArnLike", SA, "arn:*:*:*:*:*", {SA: "bucket"})
    # policy side: positive ignores the bad value, negated is false
    assert not ev("ArnLike", SA, "*", {SA: "arn:aws:s3:::b"})
    assert ev("ArnLike", SA, ["arn:aws:s3", "arn:aws:s3:::b"], {SA: "arn:aws:s3:::b"})
    assert not ev("ArnNotLike", SA, ["arn:aws:s3"], {SA: "arn:aws:s3:::b"})
    assert not ev("ArnNotEquals", SA, ["arn:aws:s3", "arn:aws:s3:::x"], {SA: "arn:aws:s3:::b"})


def test_arn_with_variables() -> None:
    pattern = "arn:aws:iam::*:user/${aws:username}"
    assert ev("ArnLike", SA, pattern, {SA: "arn:aws:iam::123456789012:user/al", "aws:username": "al"})
    assert not ev("ArnLike", SA, pattern, {SA: "arn:aws:iam::123456789012:user/bo", "aws:username": "al"})
    # a substituted `*` is literal: it matches only a literal "*"
    assert ev("ArnLike", SA, pattern, {SA: "arn:aws:iam::123456789012:user/*", "aws:username": "*"})
    assert not ev("ArnLike", SA, pattern, {SA: "arn:aws:iam::123456789012:user/al", "aws:username": "*"})


def test_split_arn_value() -> None:
    assert split_arn_value("arn:aws:s3:::b:c") == ("arn", "aws", "s3", "", "", "b:c")
    assert split_arn_value("arn:aws:s3::") is UNPARSEABLE
    # any six colon-separated parts
    assert split_arn_value("a:b:c:d:e:f") == ("a", "b", "c", "d", "e", "f")


# --- Null (§9 item 20) ----------------------------------------------------------------------


def test_null_true_means_absent() -> None:
    assert ev("Null", "aws:TokenIssueTime", "true", {})
    assert not ev("Null", "aws:TokenIssueTime", "true", {"aws:tokenissuetime": "2024-01-01"})


def test_null_false_means_present() -> None:
    assert ev("Null", "aws:TokenIssueTime", "false", {"aws:tokenissuetime": "x"})
    assert ev("Null", "aws:TokenIssueTime", "false", {"aws:tokenissuetime": ""})
    assert ev("Null", "aws:TagKeys", "false", {"aws:tagkeys": ("a",)})
    assert not ev("Null", "aws:TokenIssueTime", "false", {})


def test_null_values_are_case_insensitive_and_json_booleans() -> None:
    assert ev("Null", "k", "TRUE", {})
    cond = condition_from_mapping(loads('{"Null": {"k": false}}'))
    assert cond.evaluate({"k": "v"})
    assert not cond.evaluate({})


@pytest.mark.parametrize("values", [["true", "false"], ["true", "true"], "yes", "1", [True, False]])
def test_null_validation_rejects_several_or_non_boolean_values(values: Any) -> None:
    problems = compile_problems({"Null": {"k": values}})
    errors = [p for p in problems if p.is_error]
    assert len(errors) == 1
    assert format_path(errors[0].path) == "Condition.Null.k"
    assert errors[0].code == MALFORMED
    with pytest.raises(ValueError):
        condition_from_mapping({"Null": {"k": values}})


def test_null_at_run_time_ors_values_and_ignores_non_booleans() -> None:
    both = NullClause("k", [True, False])
    assert both.evaluate({})
    assert both.evaluate({"k": "v"})
    junk = NullClause("k", [UNPARSEABLE])
    assert not junk.evaluate({})
    assert not junk.evaluate({"k": "v"})


def test_null_takes_no_qualifiers() -> None:
    for name in ("NullIfExists", "ForAllValues:Null", "ForAnyValue:Null", "ForAnyValue:NullIfExists"):
        assert split_operator(name) is None
        with pytest.raises(ValueError):
            condition_from_mapping({name: {"k": "true"}})


# --- operator names (§9 item 12) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        ("StringEquals", (SET_NONE, "StringEquals", False)),
        ("StringEqualsIfExists", (SET_NONE, "StringEquals", True)),
        ("ForAllValues:StringLike", (SET_ALL, "StringLike", False)),
        ("ForAnyValue:StringLikeIfExists", (SET_ANY, "StringLike", True)),
        ("ForAnyValue:NumericNotEqualsIfExists", (SET_ANY, "NumericNotEquals", True)),
        ("NotIpAddressIfExists", (SET_NONE, "NotIpAddress", True)),
        ("Null", (SET_NONE, "Null", False)),
        ("BinaryEquals", (SET_NONE, "BinaryEquals", False)),
    ],
)
def test_split_operator(name: str, parsed: tuple[int, str, bool]) -> None:
    assert split_operator(name) == parsed


@pytest.mark.parametrize(
    "name",
    [
        "stringequals",
        "STRINGEQUALS",
        "Stringequals",
        "StringEqualsifexists",
        "StringEqualsIfexists",
        "forallvalues:StringEquals",
        "ForAllvalues:StringEquals",
        "ForAllValues:stringEquals",
        "ForAllValues StringEquals",
        "ForAllValues:",
        "ForAllValues:ForAnyValue:StringEquals",
        "StringEqualsIfExistsIfExists",
        "IfExists",
        "StringMatches",
        "NumericEq",
        "bool",
        "null",
        "ArnEqualsIgnoreCase",
        "",
    ],
)
def test_non_canonical_operator_names_are_rejected(name: str) -> None:
    assert split_operator(name) is None
    problems = compile_problems({name: {"k": "v"}})
    assert [(format_path(p.path), p.code, p.severity) for p in problems] == [
        (f"Condition.{name}", MALFORMED, Severity.ERROR)
    ]


# --- validation of condition blocks ---------------------------------------------------------


def test_condition_must_be_an_object() -> None:
    for block in ([], "x", None, 1):
        problems = compile_problems(block)
        assert [(format_path(p.path), p.is_error) for p in problems] == [("Condition", True)]


def test_operator_value_must_be_an_object() -> None:
    problems = compile_problems({"StringEquals": ["k", "v"]})
    assert [format_path(p.path) for p in problems] == ["Condition.StringEquals"]
    assert problems[0].is_error


def test_empty_value_list_is_invalid() -> None:
    problems = compile_problems({"StringEquals": {"k": []}})
    assert [format_path(p.path) for p in problems if p.is_error] == ["Condition.StringEquals.k"]


def test_non_scalar_values_are_invalid() -> None:
    problems = compile_problems({"StringEquals": {"k": ["a", {"x": 1}], "j": None}})
    assert sorted(format_path(p.path) for p in problems if p.is_error) == [
        "Condition.StringEquals.j",
        "Condition.StringEquals.k[1]",
    ]


def test_scalar_text() -> None:
    assert scalar_text("x") == "x"
    assert scalar_text(True) == "true"
    assert scalar_text(False) == "false"
    assert scalar_text(JsonNumber("10.0")) == "10.0"
    assert scalar_text(10) == "10"
    assert scalar_text(None) is None
    assert scalar_text([1]) is None


def test_number_and_boolean_values_become_strings() -> None:
    cond = condition_from_mapping(loads('{"StringEquals": {"a": 10, "b": true, "c": [1.5, false]}}'))
    assert cond.evaluate({"a": "10", "b": "true", "c": "1.5"})
    assert not cond.evaluate({"a": "10.0", "b": "true", "c": "1.5"})
    assert cond.evaluate({"a": "10", "b": "true", "c": "false"})


@pytest.mark.parametrize(
    ("op", "bad"),
    [
        ("NumericEquals", "ten"),
        ("DateLessThan", "yesterday"),
        ("IpAddress", "10.0.0.0/33"),
        ("BinaryEquals", "###"),
        ("Bool", "yes"),
        ("ArnLike", "arn:aws:s3"),
    ],
)
def test_type_mismatch_is_a_warning_or_a_strict_error(op: str, bad: str) -> None:
    lenient = compile_problems({op: {"k": ["ok", bad] if op == "Bool" else bad}})
    lenient = [p for p in lenient if bad in p.message]
    assert len(lenient) == 1
    assert lenient[0].severity is Severity.WARNING
    assert lenient[0].code == MALFORMED
    strict = [p for p in compile_problems({op: {"k": bad}}, strict=True) if bad in p.message]
    assert strict
    assert all(p.severity is Severity.ERROR for p in strict)
    problems: list[Problem] = []
    assert compile_condition({op: {"k": bad}}, (), problems, variables=True, strict=True) is None
    problems = []
    assert compile_condition({op: {"k": bad}}, (), problems, variables=True, strict=False) is not None


def test_type_mismatch_path_points_at_list_entry() -> None:
    problems = compile_problems({"NumericEquals": {"n": ["1", "x"]}})
    assert [(format_path(p.path), p.severity) for p in problems] == [
        ("Condition.NumericEquals.n[1]", Severity.WARNING)
    ]


def test_variables_in_non_variable_operators_warn() -> None:
    for op in ("NumericEquals", "DateEquals", "IpAddress", "BinaryEquals"):
        problems = compile_problems({op: {"k": "${aws:x}"}})
        assert problems
        assert all(p.severity is Severity.WARNING for p in problems)
        assert any("does not support policy variables" in p.message for p in problems)


def test_variables_in_string_arn_bool_do_not_warn() -> None:
    for op, value in (
        ("StringEquals", "${aws:username}"),
        ("ArnLike", "arn:aws:iam::*:user/${aws:username}"),
        ("Bool", "${aws:x}"),
    ):
        assert compile_problems({op: {"k": value}}) == []


def test_multivalued_key_as_variable_warns() -> None:
    problems = compile_problems({"StringEquals": {"k": "${aws:TagKeys}"}})
    assert len(problems) == 1
    assert problems[0].severity is Severity.WARNING


def test_malformed_variable_warns() -> None:
    problems = compile_problems({"StringEquals": {"k": "${a b}"}})
    assert [(format_path(p.path), p.severity) for p in problems] == [
        ("Condition.StringEquals.k", Severity.WARNING)
    ]


def test_all_problems_of_a_block_are_reported() -> None:
    problems = compile_problems(
        {
            "StringEqualz": {"k": "v"},
            "StringEquals": {"a": [], "b": "ok"},
            "Null": {"c": "maybe"},
            "NumericEquals": ["x"],
        }
    )
    assert sorted(format_path(p.path) for p in problems if p.is_error) == [
        "Condition.Null.c",
        "Condition.NumericEquals",
        "Condition.StringEquals.a",
        "Condition.StringEqualz",
    ]


def test_missing_keys_explanation() -> None:
    cond = condition_from_mapping(
        {"StringEquals": {"a": "1"}, "StringNotEquals": {"b": "2"}, "Null": {"c": "false"}}
    )
    assert cond.missing_keys({}) == ("a",)
    assert cond.missing_keys({"a": "1"}) == ()
