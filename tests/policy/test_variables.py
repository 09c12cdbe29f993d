"""sidecar.policy.variables: ${...} policy variables (reference §5, §9 item 14)."""

from __future__ import annotations

import pytest

from sidecar.policy.variables import (
    AMBIGUOUS,
    AmbiguousKeyError,
    Escaped,
    Text,
    Variable,
    malformed_variables,
    parse_template,
    split_template,
)


def test_plain_text_is_one_static_text_token() -> None:
    t = parse_template("arn:aws:s3:::bucket/*")
    assert t.tokens == (Text("arn:aws:s3:::bucket/*"),)
    assert t.is_static
    assert t.variables == ()
    assert t.static_pieces() == (("arn:aws:s3:::bucket/*", True),)
    assert t.resolve({}) == (("arn:aws:s3:::bucket/*", True),)


def test_empty_string_has_no_tokens() -> None:
    t = parse_template("")
    assert t.tokens == ()
    assert t.resolve({}) == ()
    assert t.resolve_text({}) == ""


def test_variable_tokens() -> None:
    t = parse_template("home/${aws:username}/*")
    assert t.tokens == (
        Text("home/"),
        Variable("aws:username", None, "${aws:username}"),
        Text("/*"),
    )
    assert not t.is_static
    assert t.variables == (Variable("aws:username", None, "${aws:username}"),)


def test_resolve_substitutes_as_literal_piece() -> None:
    t = parse_template("home/${aws:username}/*")
    assert t.resolve({"aws:username": "alice"}) == (("home/", True), ("alice", False), ("/*", True))
    assert t.resolve_text({"aws:username": "alice"}) == "home/alice/*"


def test_key_names_are_case_insensitive() -> None:
    t = parse_template("${AWS:UserName}")
    assert t.variables[0].key == "aws:username"
    assert t.resolve_text({"aws:username": "alice"}) == "alice"
    tag = parse_template("${aws:PrincipalTag/Team}")
    assert tag.resolve_text({"aws:principaltag/team": "red"}) == "red"


def test_default_value() -> None:
    t = parse_template("${aws:username, 'guest'}")
    assert t.variables[0] == Variable("aws:username", "guest", "${aws:username, 'guest'}")
    assert t.resolve_text({}) == "guest"
    assert t.resolve_text({"aws:username": "alice"}) == "alice"
    assert t.resolve({}) == (("guest", False),)


def test_default_may_be_empty_or_hold_spaces_and_wildcards() -> None:
    assert parse_template("a${k, ''}b").resolve_text({}) == "ab"
    assert parse_template("${k, 'two words'}").resolve_text({}) == "two words"
    # a default is substituted text: never a wildcard
    assert parse_template("${k, '*'}").resolve({}) == (("*", False),)


def test_unresolved_without_default_is_none() -> None:
    t = parse_template("home/${aws:username}")
    assert t.resolve({}) is None
    assert t.resolve_text({}) is None
    assert t.resolve({"aws:userid": "x"}) is None


def test_multivalued_value_is_unresolved() -> None:
    t = parse_template("${aws:TagKeys}")
    assert t.resolve({"aws:tagkeys": ("a", "b")}) is None
    assert t.resolve({"aws:tagkeys": ("a",)}) is None
    assert t.resolve({"aws:tagkeys": ()}) is None
    with_default = parse_template("${aws:TagKeys, 'd'}")
    assert with_default.resolve_text({"aws:tagkeys": ("a", "b")}) == "d"


def test_ambiguous_value_raises_even_with_default() -> None:
    for source in ("${aws:PrincipalTag/team}", "x/${aws:PrincipalTag/Team, 'd'}"):
        t = parse_template(source)
        with pytest.raises(AmbiguousKeyError) as info:
            t.resolve({"aws:principaltag/team": AMBIGUOUS})
        assert info.value.key == "aws:principaltag/team"
        with pytest.raises(AmbiguousKeyError):
            t.resolve_text({"aws:principaltag/team": AMBIGUOUS})
    # under 2008 nothing is read, so nothing is ambiguous
    assert parse_template("${k}", variables=False).resolve_text({"k": AMBIGUOUS}) == "${k}"


def test_empty_string_value_resolves_to_empty() -> None:
    assert parse_template("x${k}y").resolve_text({"k": ""}) == "xy"


def test_escapes_are_literal() -> None:
    t = parse_template("a${*}b${?}c${$}d")
    assert t.tokens == (Text("a"), Escaped("*"), Text("b"), Escaped("?"), Text("c"), Escaped("$"), Text("d"))
    assert t.is_static
    assert t.static_pieces() == (
        ("a", True),
        ("*", False),
        ("b", True),
        ("?", False),
        ("c", True),
        ("$", False),
        ("d", True),
    )
    assert t.resolve_text({}) == "a*b?c$d"


def test_substituted_wildcards_stay_literal() -> None:
    t = parse_template("pre-${k}-*")
    pieces = t.resolve({"k": "*?"})
    assert pieces == (("pre-", True), ("*?", False), ("-*", True))


def test_version_2008_no_substitution() -> None:
    for source in ("${aws:username}", "${*}", "${?}", "${$}", "a/${k, 'd'}/b"):
        t = parse_template(source, variables=False)
        assert t.tokens == (Text(source),)
        assert t.is_static
        assert t.resolve_text({"aws:username": "alice", "k": "v"}) == source


@pytest.mark.parametrize("source", ["${}", "${a b}", "${a, b}", "${a, 'x}", "${{x}}", "${a,'x' junk}"])
def test_malformed_groups_stay_text(source: str) -> None:
    t = parse_template(source)
    assert t.is_static
    assert t.resolve_text({"a": "v", "x": "v"}) == source


def test_malformed_variables_lists_only_bad_groups() -> None:
    text = "${} ${aws:username} ${a b} ${*} ${k, 'd'}"
    assert malformed_variables(text) == ["${}", "${a b}"]
    assert malformed_variables("plain") == []


def test_dollar_without_brace_and_unclosed_group_are_text() -> None:
    assert parse_template("$x").tokens == (Text("$x"),)
    t = parse_template("a${aws:username")
    assert t.is_static
    assert t.resolve_text({"aws:username": "v"}) == "a${aws:username"


def test_mixed_tokens_keep_surrounding_text() -> None:
    t = parse_template("${a}-${b, 'B'}${*}")
    assert t.resolve_text({"a": "A"}) == "A-B*"
    assert t.resolve({"a": "A"}) == (("A", False), ("-", True), ("B", False), ("*", False))


# --- split_template -----------------------------------------------------------------------


def sources(parts: list) -> list[str]:  # type: ignore[type-arg]
    return [p.source for p in parts]


def test_split_plain_arn_into_six() -> None:
    parts = split_template(parse_template("arn:aws:s3:::b/k:x:y"), ":", 5)
    assert sources(parts) == ["arn", "aws", "s3", "", "", "b/k:x:y"]
    assert all(p.is_static for p in parts)


def test_split_never_inside_a_variable() -> None:
    parts = split_template(parse_template("arn:aws:s3:::home/${aws:username}/x"), ":", 5)
    assert len(parts) == 6
    assert sources(parts) == ["arn", "aws", "s3", "", "", "home/${aws:username}/x"]
    assert parts[5].variables == (Variable("aws:username", None, "${aws:username}"),)
    assert parts[5].resolve_text({"aws:username": "al"}) == "home/al/x"


def test_split_variable_right_after_fifth_colon() -> None:
    parts = split_template(parse_template("arn:aws:s3:::${aws:username}"), ":", 5)
    assert sources(parts) == ["arn", "aws", "s3", "", "", "${aws:username}"]
    assert [p.is_static for p in parts] == [True] * 5 + [False]


def test_split_variable_in_region_component() -> None:
    parts = split_template(parse_template("arn:aws:s3:${aws:RequestedRegion}::b"), ":", 5)
    assert len(parts) == 6
    assert sources(parts)[3] == "${aws:RequestedRegion}"
    assert not parts[3].is_static
    assert parts[5].source == "b"


def test_split_keeps_escapes_and_their_source() -> None:
    parts = split_template(parse_template("arn:aws:s3:::b/${*}"), ":", 5)
    assert parts[5].source == "b/${*}"
    assert parts[5].static_pieces() == (("b/", True), ("*", False))


def test_split_fewer_parts_than_maxsplit() -> None:
    parts = split_template(parse_template("arn:aws:${aws:username}"), ":", 5)
    assert len(parts) == 3
    assert sources(parts) == ["arn", "aws", "${aws:username}"]


def test_split_colon_inside_variable_key_does_not_count() -> None:
    # five separators outside variables are needed; `aws:username` has its own colon
    parts = split_template(parse_template("arn:aws:s3::${aws:username}"), ":", 5)
    assert len(parts) == 5


def test_repr() -> None:
    assert repr(parse_template("x")) == "Template('x')"
