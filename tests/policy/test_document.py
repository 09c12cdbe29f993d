"""sidecar.policy.document: validation rules of reference §1 (+ §2.3, §5, §9) and compilation."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from sidecar.policy import (
    DEFAULT_SIZE_LIMITS,
    LIMIT_EXCEEDED,
    MALFORMED,
    PolicyKind,
    PolicyValidationError,
    Problem,
    Severity,
    ValidationOptions,
    format_path,
    parse_policy,
    validate_policy,
)
from sidecar.policy.jsonload import compact_size
from sidecar.policy.patterns import normalize_resource, split_resource

V12 = "2012-10-17"
V08 = "2008-10-17"
ACCT = "123456789012"

# A valid statement for every kind; tests copy and change one thing.
BASE: dict[str, dict[str, Any]] = {
    "identity": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
    "boundary": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
    "session": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
    "scp": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
    "resource": {
        "Effect": "Allow",
        "Principal": {"AWS": ACCT},
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::b/*",
    },
    "trust": {"Effect": "Allow", "Principal": {"AWS": ACCT}, "Action": "sts:AssumeRole"},
    "rcp": {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"},
}
ALL_KINDS = list(BASE)
NO_PRINCIPAL_KINDS = ["identity", "boundary", "session", "scp"]
PRINCIPAL_KINDS = ["resource", "trust", "rcp"]


def st(kind: str = "identity", **changes: Any) -> dict[str, Any]:
    """The base statement of ``kind`` with ``changes``; a value of ``None`` removes the key."""
    out = copy.deepcopy(BASE[kind])
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def doc(*statements: Any, version: str | None = V12, **top: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if version is not None:
        out["Version"] = version
    out["Statement"] = list(statements)
    out.update(top)
    return out


def check(source: Any, kind: str = "identity", **options: Any) -> list[Problem]:
    text = source if isinstance(source, str | bytes) else json.dumps(source)
    return validate_policy(text, kind, options=ValidationOptions(**options))


def errors(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(format_path(p.path), p.code) for p in problems if p.is_error]


def warnings(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(format_path(p.path), p.code) for p in problems if not p.is_error]


def error_paths(source: Any, kind: str = "identity", **options: Any) -> list[str]:
    return [path for path, _ in errors(check(source, kind, **options))]


# --- format_path / Problem -----------------------------------------------------------------


def test_format_path() -> None:
    assert format_path(()) == "$"
    assert format_path(("Version",)) == "Version"
    assert format_path(("Statement", 1, "Principal", "AWS", 0)) == "Statement[1].Principal.AWS[0]"
    assert format_path(("Statement", "Condition", "StringEquals", "aws:username")) == (
        "Statement.Condition.StringEquals.aws:username"
    )
    assert format_path((0, "a")) == "[0].a"


def test_problem_str_and_within() -> None:
    p = Problem(("Statement", 0, "Effect"), MALFORMED, "bad")
    assert str(p) == "Statement[0].Effect: MalformedPolicyDocument: bad"
    w = Problem(("Version",), MALFORMED, "hm", Severity.WARNING)
    assert str(w) == "Version: MalformedPolicyDocument (warning): hm"
    assert not w.is_error
    assert p.within(("Policies", 2)).path == ("Policies", 2, "Statement", 0, "Effect")


# --- valid documents ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_base_documents_are_valid(kind: str) -> None:
    assert check(doc(st(kind)), kind) == []
    policy = parse_policy(json.dumps(doc(st(kind))), kind, name="p")
    assert policy.kind is PolicyKind(kind)
    assert policy.version == V12
    assert len(policy.statements) == 1


def test_statement_may_be_a_single_object() -> None:
    source = {"Version": V12, "Statement": st()}
    assert check(source) == []
    assert len(parse_policy(json.dumps(source), "identity").statements) == 1


def test_keys_in_any_order() -> None:
    text = '{"Statement": [{"Resource": "*", "Action": "s3:*", "Effect": "Allow"}], "Version": "2012-10-17"}'
    assert check(text) == []


def test_mapping_source_is_accepted() -> None:
    assert validate_policy(doc(st()), PolicyKind.IDENTITY) == []


# --- top level ------------------------------------------------------------------------------


def test_invalid_json() -> None:
    problems = check('{"Version": "2012-10-17", ')
    assert errors(problems) == [("$", MALFORMED)]
    assert "not valid JSON" in problems[0].message


@pytest.mark.parametrize("text", ["[]", '"x"', "1", "true", f"[{json.dumps(doc(st()))}]"])
def test_non_object_document(text: str) -> None:
    assert errors(check(text)) == [("$", MALFORMED)]


def test_null_document_is_not_an_object() -> None:
    # JSON null must not be mistaken for "could not be read" (which returned no problem at all)
    assert errors(check("null")) == [("$", MALFORMED)]
    with pytest.raises(PolicyValidationError) as info:
        parse_policy("null", "identity")
    assert [format_path(p.path) for p in info.value.errors] == ["$"]


@pytest.mark.parametrize("depth", [100_000, 5_000])
def test_absurdly_deep_nesting_is_invalid_json_not_a_crash(depth: int) -> None:
    assert errors(check("[" * depth + "]" * depth)) == [("$", MALFORMED)]


@pytest.mark.parametrize("kind", ["identity", "resource"])
def test_deep_but_readable_nesting_is_reported_not_raised(kind: str) -> None:
    depth = 600
    text = json.dumps(doc(st(kind)))[:-1] + ', "Foo": ' + "[" * depth + "]" * depth + "}"
    assert len(text) < 2048
    assert errors(check(text, kind)) == [("Foo", MALFORMED)]


def test_nesting_within_recursion_budget_is_reported() -> None:
    depth = 300
    text = json.dumps(doc(st()))[:-1] + ', "Foo": ' + "[" * depth + "]" * depth + "}"
    assert errors(check(text)) == [("Foo", MALFORMED)]


def test_two_documents_are_not_one() -> None:
    text = json.dumps(doc(st())) + json.dumps(doc(st()))
    assert errors(check(text)) == [("$", MALFORMED)]


def test_unknown_top_level_keys() -> None:
    problems = check(doc(st(), Foo=1, version_=2))
    assert errors(problems) == [("Foo", MALFORMED), ("version_", MALFORMED)]


def test_top_level_keys_are_case_sensitive() -> None:
    text = '{"version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}'
    assert ("version", MALFORMED) in errors(check(text))


@pytest.mark.parametrize("version", [V12, V08])
def test_allowed_versions(version: str) -> None:
    assert check(doc(st(), version=version)) == []
    assert parse_policy(json.dumps(doc(st(), version=version)), "identity").version == version


@pytest.mark.parametrize(
    "version", ["2012-10-18", "2012-10-17 ", "2024-01-01", "", "latest", 2012, None, ["2012-10-17"]]
)
def test_invalid_version_values(version: Any) -> None:
    source = {"Version": version, "Statement": [st()]}
    problems = check(source)
    assert errors(problems) == [("Version", MALFORMED)]
    assert "valid version string" in problems[0].message


def test_missing_version_warns_and_reads_as_2008() -> None:
    source = doc(st(), version=None)
    problems = check(source)
    assert errors(problems) == []
    assert warnings(problems) == [("Version", MALFORMED)]
    policy = parse_policy(json.dumps(source), "identity")
    assert policy.version == V08
    assert [(format_path(w.path), w.severity) for w in policy.warnings] == [("Version", Severity.WARNING)]


def test_missing_statement() -> None:
    assert errors(check({"Version": V12})) == [("$", MALFORMED)]


@pytest.mark.parametrize("statement", [[], "x", 1, None, True])
def test_statement_must_be_object_or_non_empty_list(statement: Any) -> None:
    assert errors(check({"Version": V12, "Statement": statement})) == [("Statement", MALFORMED)]


def test_statement_list_items_must_be_objects() -> None:
    assert errors(check(doc(st(), "x", [st()]))) == [("Statement[1]", MALFORMED), ("Statement[2]", MALFORMED)]


# --- Id ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["identity", "boundary", "session"])
def test_id_in_identity_like_policies_warns_or_strict_errors(kind: str) -> None:
    source = doc(st(kind), Id="my-policy")
    problems = check(source, kind)
    assert errors(problems) == []
    assert warnings(problems) == [("Id", MALFORMED)]
    assert errors(check(source, kind, strict=True)) == [("Id", MALFORMED)]
    assert parse_policy(json.dumps(source), kind).id == "my-policy"


@pytest.mark.parametrize("kind", ["resource", "trust", "scp", "rcp"])
def test_id_allowed_in_other_kinds(kind: str) -> None:
    source = doc(st(kind), Id="any text, even with spaces")
    assert check(source, kind) == []
    assert check(source, kind, strict=True) == []
    assert parse_policy(json.dumps(source), kind).id == "any text, even with spaces"


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_id_must_be_a_string(kind: str) -> None:
    assert errors(check(doc(st(kind), Id=5), kind)) == [("Id", MALFORMED)]


# --- statement elements ----------------------------------------------------------------------


def test_unknown_statement_keys() -> None:
    problems = check(doc({**st(), "Foo": 1, "effect": "Allow"}))
    assert errors(problems) == [("Statement[0].Foo", MALFORMED), ("Statement[0].effect", MALFORMED)]


def test_statement_object_paths_have_no_index() -> None:
    source = {"Version": V12, "Statement": {**st(), "Effect": "allow", "Bad": 1}}
    assert error_paths(source) == ["Statement.Bad", "Statement.Effect"]


@pytest.mark.parametrize(
    "effect", ["allow", "deny", "ALLOW", "Allow ", "", "Permit", 1, True, None, ["Allow"]]
)
def test_effect_is_case_sensitive_and_exact(effect: Any) -> None:
    problems = check(doc(st(Effect=None) | {"Effect": effect}))
    assert errors(problems) == [("Statement[0].Effect", MALFORMED)]


def test_effect_missing() -> None:
    assert errors(check(doc(st(Effect=None)))) == [("Statement[0]", MALFORMED)]


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_action_and_not_action(kind: str) -> None:
    both = st(kind, NotAction="s3:PutObject")
    assert errors(check(doc(both), kind)) == [("Statement[0]", MALFORMED)]
    neither = st(kind, Action=None)
    problems = check(doc(neither), kind)
    assert errors(problems) == [("Statement[0]", MALFORMED)]
    assert "must contain actions" in problems[0].message
    only_not = st(kind, Action=None, NotAction="iam:*")
    assert check(doc(only_not), kind) == []


@pytest.mark.parametrize("kind", ["identity", "boundary", "session", "scp", "resource", "rcp"])
def test_resource_and_not_resource(kind: str) -> None:
    assert errors(check(doc(st(kind, NotResource="arn:aws:s3:::x")), kind)) == [("Statement[0]", MALFORMED)]
    problems = check(doc(st(kind, Resource=None)), kind)
    assert errors(problems) == [("Statement[0]", MALFORMED)]
    assert "must contain resources" in problems[0].message
    assert check(doc(st(kind, Resource=None, NotResource="arn:aws:s3:::x")), kind) == []


@pytest.mark.parametrize("key", ["Resource", "NotResource"])
def test_trust_policy_prohibits_resource(key: str) -> None:
    problems = check(doc(st("trust", **{key: "*"})), "trust")
    assert errors(problems) == [(f"Statement[0].{key}", MALFORMED)]
    assert f"prohibited field {key}" in problems[0].message


def test_trust_policy_without_resource_is_valid() -> None:
    policy = parse_policy(json.dumps(doc(st("trust"))), "trust")
    assert policy.statements[0].resources is None
    assert policy.statements[0].matches_resource(split_resource("arn:aws:iam::1:role/x"), {})


# --- Sid ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["identity", "boundary", "session", "trust", "scp", "rcp"])
def test_iam_sids_are_alphanumeric(kind: str) -> None:
    assert check(doc(st(kind, Sid="AllowRead2024")), kind) == []
    for sid in ("Allow-Read", "Allow Read", "a_b", "x.y", "é"):
        assert errors(check(doc(st(kind, Sid=sid)), kind)) == [("Statement[0].Sid", MALFORMED)], sid


def test_resource_policy_sids_are_relaxed() -> None:
    assert check(doc(st("resource", Sid="Allow-Read from CI_1.x")), "resource") == []


def test_relaxed_sid_option_overrides_kind() -> None:
    assert check(doc(st(Sid="a-b")), "identity", relaxed_sid=True) == []
    assert errors(check(doc(st("resource", Sid="a-b")), "resource", relaxed_sid=False)) == [
        ("Statement[0].Sid", MALFORMED)
    ]


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_sids_must_be_unique(kind: str) -> None:
    source = doc(st(kind, Sid="One"), st(kind, Sid="Two"), st(kind, Sid="One"))
    assert errors(check(source, kind)) == [("Statement[2].Sid", MALFORMED)]


def test_sids_are_unique_case_sensitively() -> None:
    assert check(doc(st(Sid="One"), st(Sid="ONE"))) == []


@pytest.mark.parametrize("sid", [1, None, ["a"], {"a": 1}])
def test_sid_must_be_a_string(sid: Any) -> None:
    assert errors(check(doc(st() | {"Sid": sid}))) == [("Statement[0].Sid", MALFORMED)]


def test_compiled_sid() -> None:
    policy = parse_policy(json.dumps(doc(st(Sid="S1"), st())), "identity")
    assert [s.sid for s in policy.statements] == ["S1", None]
    assert [s.index for s in policy.statements] == [0, 1]


# --- Action entries ------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["GetObject", "s3GetObject", "s3/GetObject"])
def test_action_without_service_prefix_is_an_error(action: str) -> None:
    problems = check(doc(st(Action=action)))
    assert errors(problems) == [("Statement[0].Action", MALFORMED)]
    assert "service prefix" in problems[0].message


def test_action_error_path_points_at_list_entry() -> None:
    assert errors(check(doc(st(Action=["s3:GetObject", "GetObject"])))) == [
        ("Statement[0].Action[1]", MALFORMED)
    ]


@pytest.mark.parametrize(
    "action", ["s3:", "s3:Get Object", "s3:GetObject,s3:PutObject", "s*:GetObject", "s?:Get"]
)
def test_never_matching_actions_are_warnings(action: str) -> None:
    problems = check(doc(st(Action=[action])))
    assert errors(problems) == []
    assert warnings(problems) == [("Statement[0].Action[0]", MALFORMED)]


def test_variables_in_action_warn() -> None:
    problems = check(doc(st(Action="s3:${aws:username}")))
    assert errors(problems) == []
    assert warnings(problems) == [("Statement[0].Action", MALFORMED)]


@pytest.mark.parametrize("key", ["Action", "NotAction"])
@pytest.mark.parametrize("value", [[], 1, None, {"a": 1}])
def test_action_must_be_string_or_non_empty_list(key: str, value: Any) -> None:
    statement = st(Action=None) | {key: value}
    assert errors(check(doc(statement))) == [(f"Statement[0].{key}", MALFORMED)]


def test_action_list_entries_must_be_strings() -> None:
    assert errors(check(doc(st(Action=["s3:GetObject", 5, None])))) == [
        ("Statement[0].Action[1]", MALFORMED),
        ("Statement[0].Action[2]", MALFORMED),
    ]


def test_compiled_actions_case_insensitive_and_not_action() -> None:
    policy = parse_policy(
        json.dumps(doc(st(Action=["S3:Get*", "IAM:ListUsers"]), st(Action=None, NotAction=["s3:*", "s3:"]))),
        "identity",
    )
    allow, negated = policy.statements
    assert allow.actions == ("S3:Get*", "IAM:ListUsers")
    assert allow.action_match("s3:getobject")
    assert allow.action_match("iam:listusers")
    assert not allow.action_match("s3:putobject")
    assert not negated.action_match("s3:getobject")
    assert negated.action_match("iam:listusers")
    assert negated.action_match("sqs:sendmessage")


def test_unmatchable_entry_in_not_action_excludes_nothing() -> None:
    policy = parse_policy(json.dumps(doc(st(Action=None, NotAction="s3:GetObject,s3:PutObject"))), "identity")
    assert policy.statements[0].action_match("s3:getobject")
    assert policy.statements[0].action_match("s3:putobject")


# --- Resource entries ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "resource", ["arn:aws:s3", "arn:aws:s3:::"[:-1], "arn:aws:s3:us-east-1:1", "bucket/*", "s3:::b", "**"]
)
def test_resource_must_be_arn_with_six_parts_or_star(resource: str) -> None:
    assert errors(check(doc(st(Resource=resource)))) == [("Statement[0].Resource", MALFORMED)]
    assert errors(check(doc(st(Resource=["*", resource])))) == [("Statement[0].Resource[1]", MALFORMED)]


@pytest.mark.parametrize("key", ["Resource", "NotResource"])
@pytest.mark.parametrize("value", [[], 1, None, {"a": 1}])
def test_resource_must_be_string_or_non_empty_list(key: str, value: Any) -> None:
    statement = st(Resource=None) | {key: value}
    assert errors(check(doc(statement))) == [(f"Statement[0].{key}", MALFORMED)]


@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:s3:${aws:RequestedRegion}::b",
        "arn:${aws:partition}:s3:::b",
        "arn:aws:${aws:service}:::b",
        "arn:aws:s3::${aws:PrincipalAccount}:b",
    ],
)
def test_variable_before_fifth_colon_rejected(resource: str) -> None:
    problems = check(doc(st(Resource=resource)))
    assert errors(problems) == [("Statement[0].Resource", MALFORMED)]
    assert "after the fifth colon" in problems[0].message


def test_variable_before_fifth_colon_is_literal_text_under_2008() -> None:
    assert errors(check(doc(st(Resource="arn:aws:s3:${aws:RequestedRegion}::b"), version=V08))) == []


def test_variable_after_fifth_colon_is_fine() -> None:
    assert check(doc(st(Resource="arn:aws:s3:::home/${aws:username}/*"))) == []
    assert check(doc(st(Resource="arn:aws:s3:::${aws:PrincipalTag/bucket, 'default'}"))) == []


def test_malformed_variable_in_resource_warns() -> None:
    problems = check(doc(st(Resource="arn:aws:s3:::b/${a b}")))
    assert errors(problems) == []
    assert warnings(problems) == [("Statement[0].Resource", MALFORMED)]


@pytest.mark.parametrize(
    "resource",
    [
        f"arn:aws:iam::{ACCT}:u*",
        f"arn:aws:iam::{ACCT}:user*",
        f"arn:aws:iam::{ACCT}:*/bob",
        f"arn:aws:iam::{ACCT}:us?r/bob",
        f"arn:aws:IAM::{ACCT}:r*/x",
        f"arn:aws:sts::{ACCT}:assumed-*/R/s",
    ],
)
def test_wildcard_in_iam_resource_type_prefix_rejected(resource: str) -> None:
    problems = check(doc(st(Resource=resource)))
    assert errors(problems) == [("Statement[0].Resource", MALFORMED)]
    assert "resource-type prefix" in problems[0].message


@pytest.mark.parametrize(
    "resource",
    [
        f"arn:aws:iam::{ACCT}:user/*",
        f"arn:aws:iam::{ACCT}:user/division_abc*",
        f"arn:aws:iam::{ACCT}:*",
        "arn:aws:iam::*:role/*",
        f"arn:aws:sts::{ACCT}:assumed-role/*",
    ],
)
def test_wildcards_after_iam_resource_type_are_fine(resource: str) -> None:
    assert check(doc(st(Resource=resource))) == []


def test_compiled_resources() -> None:
    policy = parse_policy(
        json.dumps(
            doc(
                st(Resource=["arn:aws:s3:::b/*", "arn:aws:s3:::home/${aws:username}"]),
                st(Resource=None, NotResource="arn:aws:s3:::secret/*"),
                st(Resource=["*", "arn:aws:s3:::x"]),
            )
        ),
        "identity",
    )
    plain, negated, everything = policy.statements
    ctx = {"aws:username": "al"}
    assert plain.matches_resource(split_resource("arn:aws:s3:::b/k"), ctx)
    assert plain.matches_resource(split_resource("arn:aws:s3:::home/al"), ctx)
    assert not plain.matches_resource(split_resource("arn:aws:s3:::home/bo"), ctx)
    assert not plain.matches_resource(split_resource("*"), ctx)
    assert negated.not_resource
    assert not negated.matches_resource(split_resource("arn:aws:s3:::secret/k"), ctx)
    assert negated.matches_resource(split_resource("arn:aws:s3:::b/k"), ctx)
    assert negated.matches_resource(split_resource("*"), ctx)
    assert everything.resource_all
    assert everything.matches_resource(split_resource("*"), ctx)


def test_matches_resource_with_precomputed_normalized_resource() -> None:
    policy = parse_policy(
        json.dumps(
            doc(st(Resource=["arn:aws:s3:::B/*/test/*", "arn:aws:s3:::x", "arn:aws:s3:::${aws:username}"]))
        ),
        "identity",
    )
    statement = policy.statements[0]
    ctx = {"aws:username": "al"}
    for resource, expected in (
        ("arn:aws:s3:::B/1/test/x", True),
        ("arn:AWS:S3:::x", True),
        ("arn:aws:s3:::al", True),
        ("arn:aws:s3:::B/test/x", False),
        ("arn:aws:s3:::X", False),
        ("*", False),
    ):
        split = split_resource(resource)
        assert statement.matches_resource(split, ctx) is expected, resource
        if split is not None:
            assert statement.matches_resource(split, ctx, normalize_resource(resource)) is expected


def test_not_resource_star_excludes_everything() -> None:
    policy = parse_policy(json.dumps(doc(st(Resource=None, NotResource="*"))), "identity")
    statement = policy.statements[0]
    assert not statement.resource_all
    assert not statement.matches_resource(split_resource("arn:aws:s3:::b"), {})
    assert not statement.matches_resource(None, {})


def test_unresolved_variable_in_not_resource_excludes_nothing() -> None:
    policy = parse_policy(
        json.dumps(doc(st(Resource=None, NotResource="arn:aws:s3:::${aws:username}"))), "identity"
    )
    statement = policy.statements[0]
    assert statement.matches_resource(split_resource("arn:aws:s3:::al"), {})
    assert not statement.matches_resource(split_resource("arn:aws:s3:::al"), {"aws:username": "al"})


def test_version_2008_resources_are_literal() -> None:
    policy = parse_policy(
        json.dumps(doc(st(Resource="arn:aws:s3:::${aws:username}"), version=V08)), "identity"
    )
    statement = policy.statements[0]
    assert not statement.matches_resource(split_resource("arn:aws:s3:::al"), {"aws:username": "al"})
    assert statement.matches_resource(split_resource("arn:aws:s3:::${aws:username}"), {"aws:username": "al"})


# --- Principal -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", NO_PRINCIPAL_KINDS)
@pytest.mark.parametrize("key", ["Principal", "NotPrincipal"])
def test_principal_forbidden(kind: str, key: str) -> None:
    statement = st(kind, Effect="Deny") | {key: {"AWS": ACCT}}
    problems = check(doc(statement), kind)
    assert errors(problems) == [(f"Statement[0].{key}", MALFORMED)]
    assert "must not specify a principal" in problems[0].message
    assert errors(check(doc(st(kind) | {key: "*"}), kind)) == [(f"Statement[0].{key}", MALFORMED)]


@pytest.mark.parametrize("kind", PRINCIPAL_KINDS)
def test_principal_required(kind: str) -> None:
    problems = check(doc(st(kind, Principal=None)), kind)
    assert errors(problems) == [("Statement[0]", MALFORMED)]
    assert "must contain a Principal" in problems[0].message


def test_principal_and_not_principal_together() -> None:
    statement = st("resource", Effect="Deny", NotPrincipal={"AWS": ACCT})
    assert errors(check(doc(statement), "resource")) == [("Statement[0]", MALFORMED)]


def test_not_principal_only_with_deny() -> None:
    allow = st("resource", Principal=None, NotPrincipal={"AWS": ACCT})
    problems = check(doc(allow), "resource")
    assert errors(problems) == [("Statement[0].NotPrincipal", MALFORMED)]
    assert "Deny" in problems[0].message
    deny = st("resource", Effect="Deny", Principal=None, NotPrincipal={"AWS": ACCT})
    assert check(doc(deny), "resource") == []
    policy = parse_policy(json.dumps(doc(deny)), "resource")
    assert policy.statements[0].not_principal
    assert policy.statements[0].principal is not None
    assert policy.statements[0].principal.accounts == {ACCT}


@pytest.mark.parametrize("effect", ["Allow", "Deny"])
def test_not_principal_never_in_trust(effect: str) -> None:
    statement = st("trust", Effect=effect, Principal=None, NotPrincipal={"AWS": ACCT})
    assert errors(check(doc(statement), "trust")) == [("Statement[0].NotPrincipal", MALFORMED)]


def test_not_principal_never_in_rcp() -> None:
    statement = st("rcp", Principal=None, NotPrincipal="*")
    assert errors(check(doc(statement), "rcp")) == [("Statement[0].NotPrincipal", MALFORMED)]


@pytest.mark.parametrize(
    ("principal", "field", "expected"),
    [
        ("*", "any", True),
        ({"AWS": "*"}, "any", True),
        ({"AWS": ACCT}, "accounts", {ACCT}),
        ({"AWS": f"arn:aws:iam::{ACCT}:root"}, "accounts", {ACCT}),
        ({"AWS": f"arn:aws-cn:iam::{ACCT}:root"}, "accounts", {ACCT}),
        ({"AWS": f"arn:aws:iam::{ACCT}:user/bob"}, "users", {f"arn:aws:iam::{ACCT}:user/bob"}),
        ({"AWS": f"arn:aws:iam::{ACCT}:user/a/b/Bob"}, "users", {f"arn:aws:iam::{ACCT}:user/a/b/Bob"}),
        ({"AWS": f"arn:aws:iam::{ACCT}:role/R"}, "roles", {("aws", ACCT, "R")}),
        ({"AWS": f"arn:aws:iam::{ACCT}:role/path/to/R"}, "roles", {("aws", ACCT, "R")}),
        (
            {"AWS": f"arn:aws:sts::{ACCT}:assumed-role/R/sess"},
            "sessions",
            {f"arn:aws:sts::{ACCT}:assumed-role/R/sess"},
        ),
        (
            {"AWS": f"arn:aws:sts::{ACCT}:federated-user/fed"},
            "federated_users",
            {f"arn:aws:sts::{ACCT}:federated-user/fed"},
        ),
        ({"AWS": "AIDAABCDEFGHIJKLMNOPQ"}, "unique_ids", {"AIDAABCDEFGHIJKLMNOPQ"}),
        ({"AWS": "AROA1234567890ABCDEFG"}, "unique_ids", {"AROA1234567890ABCDEFG"}),
        ({"AWS": "AIDA123456789012"}, "unique_ids", {"AIDA123456789012"}),  # 16 characters
        ({"AWS": "AROA" + "Z" * 124}, "unique_ids", {"AROA" + "Z" * 124}),  # 128 characters
        ({"Service": "ec2.amazonaws.com"}, "services", {"ec2.amazonaws.com"}),
        (
            {"Service": ["ec2.amazonaws.com", "Lambda.amazonaws.com"]},
            "services",
            {"ec2.amazonaws.com", "lambda.amazonaws.com"},
        ),
        (
            {"Federated": f"arn:aws:iam::{ACCT}:saml-provider/Okta"},
            "federated",
            {f"arn:aws:iam::{ACCT}:saml-provider/Okta"},
        ),
        (
            {"Federated": f"arn:aws:iam::{ACCT}:oidc-provider/token.actions.githubusercontent.com"},
            "federated",
            {f"arn:aws:iam::{ACCT}:oidc-provider/token.actions.githubusercontent.com"},
        ),
        ({"Federated": "cognito-identity.amazonaws.com"}, "federated", {"cognito-identity.amazonaws.com"}),
        ({"Federated": "accounts.google.com"}, "federated", {"accounts.google.com"}),
        ({"Federated": "www.amazon.com"}, "federated", {"www.amazon.com"}),
        ({"Federated": "graph.facebook.com"}, "federated", {"graph.facebook.com"}),
        (
            {"CanonicalUser": "a" * 32 + "0123456789abcdef" * 2},
            "canonical_users",
            {"a" * 32 + "0123456789abcdef" * 2},
        ),
    ],
)
@pytest.mark.parametrize("kind", ["resource", "trust"])
def test_valid_principal_forms(kind: str, principal: Any, field: str, expected: Any) -> None:
    statement = st(kind, Principal=principal)
    assert check(doc(statement), kind) == []
    compiled = parse_policy(json.dumps(doc(statement)), kind).statements[0].principal
    assert compiled is not None
    assert getattr(compiled, field) == expected


def test_several_principal_types_in_one_map() -> None:
    principal = {
        "AWS": [ACCT, f"arn:aws:iam::{ACCT}:user/bob"],
        "CanonicalUser": "f" * 64,
        "Service": "s3.amazonaws.com",
    }
    statement = st("resource", Principal=principal)
    assert check(doc(statement), "resource") == []
    compiled = parse_policy(json.dumps(doc(statement)), "resource").statements[0].principal
    assert compiled is not None
    assert compiled.accounts == {ACCT}
    assert compiled.users == {f"arn:aws:iam::{ACCT}:user/bob"}
    assert compiled.canonical_users == {"f" * 64}
    assert compiled.services == {"s3.amazonaws.com"}
    assert not compiled.any


@pytest.mark.parametrize(
    "entry",
    [
        f"arn:aws:iam::{ACCT}:user/*",
        f"arn:aws:iam::{ACCT}:user/b*b",
        f"arn:aws:iam::{ACCT}:role/*",
        f"arn:aws:sts::{ACCT}:assumed-role/R/*",
        "arn:aws:iam::*:root",
        "12345678901?",
        "arn:aws:iam::123456789012:user/bo?",
        "*:root",
    ],
)
def test_partial_principal_wildcards_are_invalid(entry: str) -> None:
    problems = check(doc(st("resource", Principal={"AWS": ["*", entry]})), "resource")
    assert errors(problems) == [("Statement[0].Principal.AWS[1]", MALFORMED)]
    assert "Invalid principal" in problems[0].message


@pytest.mark.parametrize(
    "entry",
    [
        "bob",
        "12345678901",
        "1234567890123",
        f"arn:aws:iam::{ACCT}:group/devs",
        f"arn:aws:iam::{ACCT}:user/",
        f"arn:aws:iam::{ACCT}:role/",
        f"arn:aws:iam:us-east-1:{ACCT}:user/bob",
        "arn:aws:iam::12345:user/bob",
        f"arn:aws:s3:::{ACCT}",
        f"arn:nope:iam::{ACCT}:user/bob",
        f"arn:aws:sts::{ACCT}:assumed-role/R",
        f"arn:aws:sts::{ACCT}:assumed-role/R/s/x",
        f"arn:aws:sts::{ACCT}:assumed-role//s",
        f"arn:aws:sts::{ACCT}:federated-user/",
        f"arn:aws:sts::{ACCT}:federated-user/a/b",
        f"arn:aws:iam::{ACCT}:ROOT",
        "AKIAABCDEFGHIJKLMNOP",
        "AIDA12345678901",  # 15 characters: too short
        "AIDA" + "A" * 125,  # 129 characters: too long
        "",
    ],
)
def test_invalid_aws_principal_entries(entry: str) -> None:
    problems = check(doc(st("resource", Principal={"AWS": entry})), "resource")
    assert errors(problems) == [("Statement[0].Principal.AWS", MALFORMED)]


@pytest.mark.parametrize(
    "principal",
    [
        {"Service": "*"},
        {"Service": "s3.*.com"},
        {"Service": ""},
        {"Service": "s3 amazonaws com"},
        {"Federated": "*"},
        {"CanonicalUser": "*"},
        {"CanonicalUser": "abc"},
        {"CanonicalUser": "g" * 64},
        {"CanonicalUser": "a" * 63},
    ],
)
def test_invalid_other_principal_entries(principal: dict[str, str]) -> None:
    (ptype,) = principal
    problems = check(doc(st("resource", Principal=principal)), "resource")
    assert errors(problems) == [(f"Statement[0].Principal.{ptype}", MALFORMED)]


@pytest.mark.parametrize("principal", ["bob", "", ACCT, {}, [], 5, None, ["*"]])
def test_principal_must_be_star_or_non_empty_map(principal: Any) -> None:
    problems = check(doc(st("resource") | {"Principal": principal}), "resource")
    assert errors(problems) == [("Statement[0].Principal", MALFORMED)]


def test_unknown_principal_type() -> None:
    problems = check(doc(st("resource", Principal={"aws": ACCT, "Users": "x"})), "resource")
    assert errors(problems) == [
        ("Statement[0].Principal.aws", MALFORMED),
        ("Statement[0].Principal.Users", MALFORMED),
    ]


def test_empty_principal_list_is_invalid() -> None:
    assert errors(check(doc(st("resource", Principal={"AWS": []})), "resource")) == [
        ("Statement[0].Principal.AWS", MALFORMED)
    ]


def test_principal_list_errors_have_indexed_paths() -> None:
    statement = st("resource", Principal={"AWS": [ACCT, f"arn:aws:iam::{ACCT}:user/*", 5]})
    statement2 = st("resource", Principal={"Service": ["ec2.amazonaws.com", "*"]})
    problems = check(doc(statement, statement2), "resource")
    assert errors(problems) == [
        ("Statement[0].Principal.AWS[2]", MALFORMED),
        ("Statement[1].Principal.Service[1]", MALFORMED),
    ]


def test_trust_policy_allows_star_principal() -> None:
    assert check(doc(st("trust", Principal="*")), "trust") == []
    assert check(doc(st("trust", Principal={"AWS": "*"})), "trust") == []


# --- SCP / RCP -----------------------------------------------------------------------------------


def test_scp_allows_deny_and_allow_without_principal() -> None:
    assert check(doc(st("scp"), st("scp", Effect="Deny", Action="iam:*")), "scp") == []


def test_rcp_must_deny() -> None:
    problems = check(doc(st("rcp", Effect="Allow")), "rcp")
    assert errors(problems) == [("Statement[0].Effect", MALFORMED)]


@pytest.mark.parametrize("principal", [{"AWS": ACCT}, {"Service": "s3.amazonaws.com"}, {"AWS": ["*", ACCT]}])
def test_rcp_principal_must_be_star(principal: Any) -> None:
    assert errors(check(doc(st("rcp", Principal=principal)), "rcp")) == [
        ("Statement[0].Principal", MALFORMED)
    ]


def test_rcp_principal_aws_star_is_accepted() -> None:
    assert check(doc(st("rcp", Principal={"AWS": "*"})), "rcp") == []


def test_rcp_requires_principal() -> None:
    assert errors(check(doc(st("rcp", Principal=None)), "rcp")) == [("Statement[0]", MALFORMED)]


def test_rcp_version_must_be_2012() -> None:
    assert errors(check(doc(st("rcp"), version=V08), "rcp")) == [("Version", MALFORMED)]
    problems = check(doc(st("rcp"), version=None), "rcp")
    assert errors(problems) == [("Version", MALFORMED)]
    assert warnings(problems) == [("Version", MALFORMED)]


# --- Condition inside a document ------------------------------------------------------------------


def test_condition_problems_have_document_paths() -> None:
    statement = st(
        Condition={
            "StringEqualz": {"k": "v"},
            "Null": {"aws:TokenIssueTime": ["true", "false"]},
            "NumericLessThan": {"n": ["1", "x"]},
        }
    )
    problems = check(doc(st(), statement))
    assert errors(problems) == [
        ("Statement[1].Condition.StringEqualz", MALFORMED),
        ("Statement[1].Condition.Null.aws:TokenIssueTime", MALFORMED),
    ]
    assert warnings(problems) == [("Statement[1].Condition.NumericLessThan.n[1]", MALFORMED)]


def test_condition_type_mismatch_is_error_in_strict_mode() -> None:
    source = doc(st(Condition={"NumericLessThan": {"n": "x"}}))
    assert errors(check(source)) == []
    assert errors(check(source, strict=True)) == [("Statement[0].Condition.NumericLessThan.n", MALFORMED)]


def test_condition_compiled_and_variables_follow_version() -> None:
    cond = {"StringEquals": {"s3:prefix": "${aws:username}"}}
    p12 = parse_policy(json.dumps(doc(st(Condition=cond))), "identity").statements[0]
    p08 = parse_policy(json.dumps(doc(st(Condition=cond), version=V08)), "identity").statements[0]
    assert p12.condition is not None
    assert p08.condition is not None
    assert p12.condition.evaluate({"s3:prefix": "al", "aws:username": "al"})
    assert not p08.condition.evaluate({"s3:prefix": "al", "aws:username": "al"})
    assert p08.condition.evaluate({"s3:prefix": "${aws:username}"})


def test_empty_condition_compiles_to_none() -> None:
    policy = parse_policy(json.dumps(doc(st(Condition={}))), "identity")
    assert policy.statements[0].condition is None


def test_condition_must_be_object() -> None:
    assert errors(check(doc(st(Condition=["x"])))) == [("Statement[0].Condition", MALFORMED)]


# --- duplicate keys ------------------------------------------------------------------------------


def test_duplicate_keys_are_reported_with_their_path() -> None:
    text = (
        '{"Version": "2012-10-17", "Version": "2012-10-17", "Statement": ['
        '{"Effect": "Allow", "Action": "s3:*", "Resource": "*"},'
        '{"Effect": "Allow", "Effect": "Deny", "Action": "s3:*", "Resource": "*",'
        ' "Condition": {"StringEquals": {"k": "a", "k": "b"}, "StringEquals": {"k": "c"}}},'
        '{"Effect": "Allow", "Principal": {"AWS": "1", "AWS": "2"}, "Action": "s3:*", "Resource": "*"}'
        "]}"
    )
    problems = check(text, "resource")
    dup = [format_path(p.path) for p in problems if "duplicate" in p.message]
    assert dup == [
        "Version",
        "Statement[1].Effect",
        "Statement[1].Condition.StringEquals",
        "Statement[2].Principal.AWS",
    ]
    assert all(p.is_error and p.code == MALFORMED for p in problems if "duplicate" in p.message)


def test_duplicate_condition_key_under_one_operator() -> None:
    text = (
        '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*",'
        ' "Condition": {"StringEquals": {"k": "a", "k": "b"}}}}'
    )
    assert errors(check(text)) == [("Statement.Condition.StringEquals.k", MALFORMED)]


def test_same_key_in_different_objects_is_not_a_duplicate() -> None:
    assert check(doc(st(Sid="A"), st(Sid="B"))) == []


# --- characters ---------------------------------------------------------------------------------


@pytest.mark.parametrize("ch", ["\t", "\n", "\r", " ", "~", "\x7f", "\x80", "é", "\xff"])
def test_allowed_characters(ch: str) -> None:
    assert check(doc(st(Resource=f"arn:aws:s3:::b/{ch}"))) == []


@pytest.mark.parametrize(
    "ch", ["\x00", "\x08", "\x0b", "\x0c", "\x1f", "\u0100", "\u2028", "\u20ac", "\U0001f600"]
)
def test_disallowed_characters(ch: str) -> None:
    problems = check(doc(st(Resource=f"arn:aws:s3:::b/{ch}")))
    assert errors(problems) == [("Statement[0].Resource", MALFORMED)]
    assert f"U+{ord(ch):04X}" in problems[0].message


def test_disallowed_character_in_a_key_and_nested_value() -> None:
    statement = st(Condition={"StringEquals": {"k\u0100": "v", "j": ["ok", "\u0101"]}})
    problems = check(doc(statement))
    assert errors(problems) == [
        ("Statement[0].Condition.StringEquals.k\u0100", MALFORMED),
        ("Statement[0].Condition.StringEquals.j[1]", MALFORMED),
    ]


def test_disallowed_character_written_as_json_escape() -> None:
    text = (
        '{"Version": "2012-10-17", "Statement": '
        '{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::\\u000b"}}'
    )
    assert errors(check(text)) == [("Statement.Resource", MALFORMED)]


# --- size limits ---------------------------------------------------------------------------------

LIMIT_KIND = {
    "identity": 6144,
    "boundary": 6144,
    "trust": 2048,
    "session": 2048,
    "scp": 5120,
    "rcp": 5120,
    "resource": 20480,
}


def test_default_size_limits() -> None:
    assert {k.value: v for k, v in DEFAULT_SIZE_LIMITS.items()} == LIMIT_KIND


def sized(kind: str, size: int) -> dict[str, Any]:
    """A valid document of ``kind`` whose compact size is exactly ``size``."""

    def build(pad: str) -> dict[str, Any]:
        if kind == "trust":
            return doc(st(kind, Condition={"StringEquals": {"sts:ExternalId": pad}}))
        return doc(st(kind, Resource=["*", f"arn:aws:s3:::{pad}"]))

    base = compact_size(build(""))
    out = build("a" * (size - base))
    assert compact_size(out) == size
    return out


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_size_at_limit_passes_and_one_over_fails(kind: str) -> None:
    limit = LIMIT_KIND[kind]
    assert check(json.dumps(sized(kind, limit), separators=(",", ":")), kind) == []
    problems = check(json.dumps(sized(kind, limit + 1), separators=(",", ":")), kind)
    assert errors(problems) == [("$", LIMIT_EXCEEDED)]
    assert str(limit) in problems[0].message


@pytest.mark.parametrize("kind", ["identity", "boundary", "trust", "session", "resource"])
def test_whitespace_is_not_counted_for_iam_kinds(kind: str) -> None:
    text = json.dumps(sized(kind, LIMIT_KIND[kind]), indent=8)
    assert len(text) > LIMIT_KIND[kind]
    assert check(text, kind) == []


@pytest.mark.parametrize("kind", ["scp", "rcp"])
def test_whitespace_is_counted_for_scp_and_rcp_text(kind: str) -> None:
    source = sized(kind, LIMIT_KIND[kind] - 100)
    compact = json.dumps(source, separators=(",", ":"))
    assert check(compact, kind) == []
    padded = compact[:-1] + " " * 100 + "}"
    assert len(padded) == LIMIT_KIND[kind]
    assert check(padded, kind) == []
    padded = compact[:-1] + " " * 101 + "}"
    assert errors(check(padded, kind)) == [("$", LIMIT_EXCEEDED)]
    policy = parse_policy(compact[:-1] + " " * 100 + "}", kind)
    assert policy.size == LIMIT_KIND[kind]


def test_size_limit_is_configurable() -> None:
    source = json.dumps(sized("trust", 3000))
    assert errors(check(source, "trust")) == [("$", LIMIT_EXCEEDED)]
    assert check(source, "trust", size_limits={PolicyKind.TRUST: 4096}) == []
    assert check(source, "trust", check_size=False) == []


def test_wire_limit_applies_when_configured_limit_is_larger() -> None:
    source = json.dumps(sized("identity", 131073))
    problems = check(source, "identity", size_limits={PolicyKind.IDENTITY: 10**6})
    assert errors(problems) == [("$", LIMIT_EXCEEDED)]
    assert "131072" in problems[0].message


def test_long_number_counts_toward_the_size_limit() -> None:
    number = "1." + "0" * 7000 + "1"
    text = json.dumps(doc(st()))[:-3] + ', "Condition": {"NumericLessThan": {"n": ' + number + "}}}]}"
    assert len(text) > 7000
    assert errors(check(text)) == [("$", LIMIT_EXCEEDED)]


def test_size_is_reported_on_the_policy() -> None:
    source = sized("identity", 500)
    assert parse_policy(json.dumps(source, indent=4), "identity").size == 500


# --- every problem at once ------------------------------------------------------------------------


def test_all_problems_reported_at_once() -> None:
    source = {
        "Version": "2012-10-18",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
            {
                "Sid": "bad-sid",
                "Effect": "allow",
                "Principal": {"AWS": ["*", "arn:aws:iam::123456789012:user/*"]},
                "Action": "GetObject",
                "Resource": "*",
            },
            {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3"},
        ],
    }
    problems = check(source, "resource")
    assert sorted(errors(problems)) == [
        ("Statement[0]", MALFORMED),  # resource policy without a Principal
        ("Statement[1].Action", MALFORMED),
        ("Statement[1].Effect", MALFORMED),
        ("Statement[1].Principal.AWS[1]", MALFORMED),
        ("Statement[2]", MALFORMED),
        ("Statement[2].Resource", MALFORMED),
        ("Version", MALFORMED),
    ]
    assert len(errors(problems)) == 7  # "bad-sid" is fine: resource policies relax Sids


def test_five_distinct_errors_in_an_identity_policy() -> None:
    source = {
        "Version": V12,
        "Foo": "bar",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3"},
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"},
            {"Effect": "Allow", "Action": [], "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "*",
                "Condition": {"stringequals": {"k": "v"}},
            },
        ],
    }
    problems = check(source)
    assert errors(problems) == [
        ("Foo", MALFORMED),
        ("Statement[0].Resource", MALFORMED),
        ("Statement[1].Principal", MALFORMED),
        ("Statement[2].Action", MALFORMED),
        ("Statement[3].Condition.stringequals", MALFORMED),
    ]


def test_parse_policy_raises_with_every_problem() -> None:
    source = doc(st(Effect="allow"), st(Action="x"), version="1")
    with pytest.raises(PolicyValidationError) as info:
        parse_policy(json.dumps(source), "identity")
    exc = info.value
    assert [format_path(p.path) for p in exc.errors] == [
        "Version",
        "Statement[0].Effect",
        "Statement[1].Action",
    ]
    assert "3 problem(s)" in str(exc)
    assert "Statement[1].Action" in str(exc)


def test_warnings_do_not_fail_parse_but_are_kept() -> None:
    source = doc(st(Action=["s3:", "s3:GetObject"]), Id="x")
    policy = parse_policy(json.dumps(source), "identity")
    assert sorted(format_path(w.path) for w in policy.warnings) == ["Id", "Statement[0].Action[0]"]
    with pytest.raises(PolicyValidationError) as info:
        parse_policy(json.dumps(source), "identity", options=ValidationOptions(strict=True))
    assert [format_path(p.path) for p in info.value.errors] == ["Id"]
    assert [format_path(p.path) for p in info.value.problems if not p.is_error] == ["Statement[0].Action[0]"]


def test_unknown_kind_is_rejected() -> None:
    with pytest.raises(ValueError):
        validate_policy(json.dumps(doc(st())), "vpce")


def test_policy_name_and_statement_refs() -> None:
    policy = parse_policy(json.dumps(doc(st(), st(Effect="Deny"))), "boundary", name="pb")
    assert policy.name == "pb"
    assert [s.effect for s in policy.statements] == ["Allow", "Deny"]
    assert [s.allow for s in policy.statements] == [True, False]
    assert all(s.policy.kind is PolicyKind.BOUNDARY and s.policy.name == "pb" for s in policy.statements)


def test_bytes_source() -> None:
    assert validate_policy(json.dumps(doc(st())).encode(), "identity") == []
    # invalid UTF-8 is rejected (never silently accepted)
    raw = b'{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:'
    problems = validate_policy(raw + b'aws:s3:::\xff"}}', "identity")
    assert [code for _, code in errors(problems)] == [MALFORMED]
