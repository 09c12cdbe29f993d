"""Fuzzing the policy validator (reference §1): whatever the input — arbitrary JSON-ish values,
mutated valid policies, random text and bytes, deep nesting — ``validate_policy`` returns a list
of Problems and ``parse_policy`` returns a Policy or raises PolicyValidationError, consistently.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from sidecar.engine import PolicyGroup, PolicySets, evaluate
from sidecar.policy import (
    LIMIT_EXCEEDED,
    Policy,
    PolicyKind,
    PolicyValidationError,
    Problem,
    Severity,
    parse_policy,
    validate_policy,
)

from .strategies import (
    FUZZ_SETTINGS,
    NARROW_SETTINGS,
    NOW,
    POLICY_WORDS,
    PROPERTY_SETTINGS,
    RequestSpec,
    dumps_pairs,
    json_values,
    mutated_docs,
    policy_docs,
    request_specs,
)

KINDS = tuple(PolicyKind)
kinds = st.sampled_from(KINDS)
Source = str | bytes | dict[str, Any]


def _note(what: str) -> None:
    if currently_in_test_context():
        event(what)


def check_contract(source: Any, kind: PolicyKind | str) -> list[Problem]:
    """The validator's contract: a list of well-formed Problems, and parse_policy agreeing."""
    problems = validate_policy(source, kind)
    assert isinstance(problems, list)
    for p in problems:
        assert isinstance(p, Problem)
        assert isinstance(p.path, tuple)
        assert all(isinstance(part, str | int) for part in p.path), p.path
        assert isinstance(p.code, str) and p.code
        assert isinstance(p.message, str) and p.message
        assert p.severity in (Severity.ERROR, Severity.WARNING)
        assert str(p)
    errors = [p for p in problems if p.is_error]
    try:
        policy = parse_policy(source, kind, name="fuzz")
    except PolicyValidationError as exc:
        assert errors, "parse_policy raised but validate_policy found no error"
        assert list(exc.errors) == errors
        _note("rejected")
    else:
        assert not errors, errors
        assert isinstance(policy, Policy)
        assert policy.kind is PolicyKind(kind)
        _note("accepted")
    return problems


def _sets_with(policy: Policy) -> PolicySets:
    group = PolicyGroup([policy])
    kind = policy.kind
    if kind in (PolicyKind.RESOURCE, PolicyKind.TRUST):
        return PolicySets(resource=group)
    if kind is PolicyKind.SCP:
        return PolicySets(scp_levels=(group,))
    if kind is PolicyKind.RCP:
        return PolicySets(rcp_levels=(group,))
    return PolicySets(**{kind.value: group})


# --- arbitrary JSON-ish structures ------------------------------------------------------------


@FUZZ_SETTINGS
@given(doc=json_values, kind=kinds, as_text=st.booleans())
def test_arbitrary_json_values_never_crash_the_validator(doc: Any, kind: PolicyKind, as_text: bool) -> None:
    """Any JSON value — as a Python value or as JSON text — is validated without raising: a
    non-object document is itself a problem (§1.1 "exactly one JSON object")."""
    if as_text:
        doc = json.dumps(doc)
    elif not isinstance(doc, dict):
        doc = {"Statement": doc}
    check_contract(doc, kind)


_statement_like = st.dictionaries(
    st.sampled_from(POLICY_WORDS),
    st.one_of(json_values, st.sampled_from(["Allow", "Deny", "*", "s3:GetObject", "arn:aws:s3:::b/*"])),
    max_size=7,
)


@FUZZ_SETTINGS
@given(
    version=st.one_of(st.sampled_from(["2012-10-17", "2008-10-17", "2012-10-18", ""]), json_values),
    statement=st.one_of(_statement_like, st.lists(_statement_like, max_size=3), json_values),
    extra=st.dictionaries(st.sampled_from(POLICY_WORDS), json_values, max_size=2),
    kind=kinds,
)
def test_policy_shaped_documents_never_crash_the_validator(
    version: Any, statement: Any, extra: dict[str, Any], kind: PolicyKind
) -> None:
    """Documents shaped like policies, with wrong types and unknown keys anywhere."""
    check_contract({"Version": version, "Statement": statement, **extra}, kind)


# --- mutations of valid policies -----------------------------------------------------------


@FUZZ_SETTINGS
@given(data=st.data(), kind=kinds)
def test_mutated_valid_policies_never_crash_the_validator(data: st.DataObject, kind: PolicyKind) -> None:
    """A valid policy is accepted as a dict and as JSON text; one mutation of it (a key removed,
    renamed or duplicated, a value of the wrong type, an element wrapped) never crashes the
    validator; a duplicated key is always an error at that key (§1.1); and any document the
    validator accepts can be evaluated without an internal error (§3.3 step 9 would hide one)."""
    doc = data.draw(policy_docs(kind), label="valid policy")
    for source in (doc, json.dumps(doc)):
        problems = check_contract(source, kind)
        assert not [p for p in problems if p.is_error], problems

    mutation, mutated = data.draw(mutated_docs(doc), label="mutated")
    event(f"mutation {mutation}")
    problems = check_contract(mutated, kind)

    if mutation == "duplicate":
        assert any(p.is_error and "duplicate key" in p.message for p in problems), problems
    try:
        policy = parse_policy(mutated, kind)
    except PolicyValidationError:
        return
    req: RequestSpec = data.draw(request_specs(), label="request")
    decision = evaluate(req.build(), _sets_with(policy), NOW)
    assert decision.error is None, decision.reason


# --- random text and bytes ---------------------------------------------------------------------

_valid_text = policy_docs(PolicyKind.IDENTITY).map(json.dumps)


@st.composite
def _damaged_text(draw: st.DrawFn) -> str:
    """Valid policy text cut short, or with a few characters replaced or inserted."""
    text = draw(_valid_text)
    how = draw(st.sampled_from(["truncate", "insert", "replace"]))
    at = draw(st.integers(0, len(text)))
    if how == "truncate":
        return text[:at]
    piece = draw(
        st.text(min_size=1, max_size=3) | st.sampled_from(["\ud800", "\x00", "\u0100", '"', "{", "]"])
    )
    return text[:at] + piece + text[at + (1 if how == "replace" else 0) :]


@st.composite
def _damaged_bytes(draw: st.DrawFn) -> bytes:
    """Valid policy text encoded, then given invalid UTF-8, another encoding or a BOM."""
    text = draw(_valid_text)
    how = draw(st.sampled_from(["bad-utf8", "utf-16", "latin-1", "bom", "random"]))
    if how == "utf-16":
        return text.encode("utf-16")
    if how == "latin-1":
        return text.replace("Allow", "All\u00f6w").encode("latin-1")
    if how == "bom":
        return b"\xef\xbb\xbf" + text.encode()
    raw = text.encode()
    at = draw(st.integers(0, len(raw)))
    junk = draw(st.binary(min_size=1, max_size=4)) if how == "random" else b"\xff\xfe\xc3"
    return raw[:at] + junk + raw[at:]


@FUZZ_SETTINGS
@given(
    source=st.one_of(
        st.text(max_size=60),
        st.binary(max_size=60),
        _damaged_text(),
        _damaged_bytes(),
        st.sampled_from(["", "null", "[]", "{}", '{"Statement": {}}', "NaN", '{"a": Infinity}', "\ufeff{}"]),
    ),
    kind=kinds,
)
@example(source=b'{"Statement": "\xff"}', kind=PolicyKind.IDENTITY)
@example(source='{"Version": "2012-10-17", "Version": "2012-10-17", "Statement": []}', kind=PolicyKind.SCP)
def test_random_text_and_bytes_never_crash_the_validator(source: str | bytes, kind: PolicyKind) -> None:
    """Invalid JSON, invalid UTF-8, other encodings, NaN/Infinity, BOMs: problems, not crashes."""
    check_contract(source, kind)


# --- nesting ---------------------------------------------------------------------------------


def _nest(depth: int, leaf: Any, use_objects: bool) -> Any:
    value = leaf
    for _ in range(depth):
        value = {"k": value} if use_objects else [value]
    return value


def _nest_text(depth: int, leaf: str, use_objects: bool) -> str:
    if use_objects:
        return '{"k":' * depth + leaf + "}" * depth
    return "[" * depth + leaf + "]" * depth


_WHERE = ("Statement", "Action", "Condition value", "Id", "top")


def _embed(where: str, nested: str) -> str:
    if where == "top":
        return nested
    if where == "Statement":
        return '{"Version": "2012-10-17", "Statement": ' + nested + "}"
    if where == "Id":
        return '{"Id": ' + nested + ', "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}'
    if where == "Action":
        return '{"Statement": {"Effect": "Allow", "Action": ' + nested + ', "Resource": "*"}}'
    return (
        '{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", '
        '"Condition": {"StringEquals": {"aws:username": ' + nested + "}}}}"
    )


def _embed_value(where: str, nested: Any) -> dict[str, Any]:
    """The same places as :func:`_embed`, for a Python value given directly as the document."""
    full: dict[str, Any] = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    if where == "top":
        return nested if isinstance(nested, dict) else {"Statement": nested}
    if where == "Statement":
        return {"Version": "2012-10-17", "Statement": nested}
    if where == "Id":
        return {"Id": nested, "Statement": full}
    if where == "Action":
        return {"Statement": {**full, "Action": nested}}
    return {"Statement": {**full, "Condition": {"StringEquals": {"aws:username": nested}}}}


# Depths are drawn relative to the recursion limit in force (hypothesis raises it while a test
# runs): from shallow to well past what the JSON reader accepts.
_depth_fractions = st.one_of(st.floats(0, 3), st.sampled_from([0.001, 0.3, 0.45, 0.55, 0.7, 0.95, 1.05]))


def _depth(fraction: float) -> int:
    return max(1, int(fraction * sys.getrecursionlimit()))


@PROPERTY_SETTINGS
@given(fraction=_depth_fractions, where=st.sampled_from(_WHERE), use_objects=st.booleans(), kind=kinds)
def test_nested_text_never_crashes_the_validator(
    fraction: float, where: str, use_objects: bool, kind: PolicyKind
) -> None:
    """Deeply nested JSON text, in several places of a policy, at any depth up to three times
    the recursion limit (the JSON reader refuses the deepest ones): problems, not crashes."""
    check_contract(_embed(where, _nest_text(_depth(fraction), '"x"', use_objects)), kind)


@NARROW_SETTINGS
@given(
    fraction=_depth_fractions.map(lambda f: f / 2),
    where=st.sampled_from(_WHERE),
    use_objects=st.booleans(),
    kind=kinds,
)
def test_nested_values_never_crash_the_validator(
    fraction: float, where: str, use_objects: bool, kind: PolicyKind
) -> None:
    """Deeply nested Python values given directly as the document (no JSON reader to stop
    them), at any depth up to one and a half times the recursion limit. (Validation time grows
    with the square of the depth — each level copies its path — so deeper is only slower.)"""
    check_contract(_embed_value(where, _nest(_depth(fraction), "x", use_objects)), kind)


# --- regression examples for suspected bugs -----------------------------------------------------


@pytest.mark.parametrize("as_text", [True, False])
def test_deep_nesting_regression(as_text: bool) -> None:
    """Regression: found by these tests on the committed code, where validate_policy raised
    RecursionError on this ~1,200-character document (compact_size/to_plain recursed); fixed in
    the working tree while the tests were being written."""
    text = '{"Version": "2012-10-17", "Statement": ' + "[" * 600 + "]" * 600 + "}"
    source: Source = text if as_text else json.loads(text)
    problems = validate_policy(source, PolicyKind.IDENTITY)
    assert any(p.is_error for p in problems)


def test_huge_number_size_regression() -> None:
    """Regression (§1.7): found on the committed code, where a JSON number too long for int()
    was measured as 'Infinity' (8 characters), so this 7,000-character identity policy passed
    the 6,144-character limit; fixed in the working tree while the tests were being written."""
    text = (
        '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*",'
        '"Condition":{"NumericLessThan":{"aws:MultiFactorAuthAge":' + "1" * 7000 + "}}}}"
    )
    problems = validate_policy(text, PolicyKind.IDENTITY)
    assert any(p.code == LIMIT_EXCEEDED for p in problems), problems


def test_huge_python_int_regression() -> None:
    doc = {
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Allow",
            "Action": "*",
            "Resource": "*",
            "Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": 10**5000}},
        },
    }
    assert isinstance(validate_policy(doc, PolicyKind.IDENTITY), list)


@pytest.mark.parametrize("source", ["null", b"null", " null "])
def test_null_document_regression(source: str | bytes) -> None:
    """Regression (§1.1, the document must be one JSON object): found by these tests on the
    committed code, where validate_policy("null") reported no problem at all and parse_policy
    then raised PolicyValidationError listing 0 problems; fixed in the working tree while the
    tests were being written, so this is a plain regression test now."""
    problems = validate_policy(source, PolicyKind.IDENTITY)
    assert any(p.is_error for p in problems), problems


def test_duplicate_key_example() -> None:
    """§1.1: no key may appear twice (checked here through the Pairs writer of the mutator)."""
    from .strategies import Pairs

    text = dumps_pairs(
        {
            "Version": "2012-10-17",
            "Statement": Pairs([("Effect", "Allow"), ("Action", "*"), ("Resource", "*"), ("Effect", "Deny")]),
        }
    )
    problems = check_contract(text, PolicyKind.IDENTITY)
    assert any(p.path == ("Statement", "Effect") and p.is_error for p in problems), problems
