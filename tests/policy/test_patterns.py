"""sidecar.policy.patterns: globs, actions and resource patterns (reference §2.2, §2.3, §5, §9)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sidecar.policy import parse_policy
from sidecar.policy.patterns import (
    ALWAYS,
    NEVER,
    Matcher,
    ResourcePattern,
    action_is_unmatchable,
    action_services,
    compile_action,
    compile_action_set,
    compile_glob,
    compile_pieces,
    compile_static_resources,
    has_wildcard,
    match_pieces,
    normalize_resource,
    split_resource,
)
from sidecar.policy.variables import AMBIGUOUS, AmbiguousKeyError, Piece, parse_template

# --- a reference glob matcher, independent of the code under test -------------------------


def reference_match(pieces: Sequence[Piece], s: str) -> bool:
    """Classic dynamic-programming glob over a token list: ``*`` any run (also empty),
    ``?`` one character; characters of literal pieces are compared as characters."""
    tokens: list[str | None] = []  # None = star, "" = one char, else a literal character
    for text, wild in pieces:
        for ch in text:
            if wild and ch == "*":
                tokens.append(None)
            elif wild and ch == "?":
                tokens.append("")
            else:
                tokens.append(ch)

    @cache
    def go(t: int, i: int) -> bool:
        if t == len(tokens):
            return i == len(s)
        tok = tokens[t]
        if tok is None:
            return go(t + 1, i) or (i < len(s) and go(t, i + 1))
        if i == len(s):
            return False
        if tok == "" or tok == s[i]:
            return go(t + 1, i + 1)
        return False

    return go(0, 0)


def regex_match(pattern: str, s: str) -> bool:
    """fnmatch-like regex for plain policy text (every ``*``/``?`` is a wildcard)."""
    source = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(source, s, re.DOTALL) is not None


def test_reference_matcher_sanity() -> None:
    assert reference_match((("a*c", True),), "abbc")
    assert not reference_match((("a*c", False),), "abbc")
    assert reference_match((("a*c", False),), "a*c")
    assert reference_match((("?", True),), "x")
    assert not reference_match((("?", True),), "")
    assert reference_match((("*", True),), "")


# --- compile_glob: classification and results ---------------------------------------------


def test_match_all_classification() -> None:
    m = compile_glob("*")
    assert m is ALWAYS
    for s in ("", "x", "a/b:c", "*"):
        assert m(s)


def test_exact_classification_and_result() -> None:
    m = compile_glob("abc")
    assert m("abc")
    assert not m("ABC")
    assert not m("abcd")
    assert not m("ab")
    assert not m("")


def test_prefix_classification_and_result() -> None:
    m = compile_glob("bucket/home/*")
    assert m("bucket/home/")
    assert m("bucket/home/a/b/c")
    assert not m("bucket/home")
    assert not m("Bucket/home/x")
    assert not m("xbucket/home/x")


def test_glob_classification_and_result() -> None:
    m = compile_glob("a*c?e")
    assert m("acxe")
    assert m("a/b/cxe")
    assert not m("ace")
    assert not m("acxxe")
    assert m("a\ncxe")  # `*` spans newlines as well


def test_empty_pattern_matches_only_empty() -> None:
    m = compile_glob("")
    assert m("")
    assert not m("a")


def test_star_matches_empty_run_and_slashes() -> None:
    m = compile_glob("a*b")
    assert m("ab")
    assert m("a/b")
    assert m("a//x/y/b")
    assert m("a:b:c:b")


def test_question_mark_is_exactly_one_character() -> None:
    m = compile_glob("a?c")
    assert m("abc")
    assert m("a/c")
    assert m("a*c")
    assert not m("ac")
    assert not m("abbc")
    two = compile_glob("??")
    assert two("ab")
    assert not two("a")
    assert not two("abc")


def test_consecutive_stars_and_mixed_wildcards() -> None:
    m = compile_glob("**x**")
    assert m("x")
    assert m("aaxbb")
    assert not m("aab")
    m = compile_glob("*?")
    assert not m("")
    assert m("a")
    assert m("abc")
    m = compile_glob("?*?")
    assert not m("a")
    assert m("ab")


def test_regex_metacharacters_are_literal() -> None:
    m = compile_glob("a.b+(c)[d]$^|\\")
    assert m("a.b+(c)[d]$^|\\")
    assert not m("axb+(c)[d]$^|\\")
    m = compile_glob("a.*")
    assert m("a.")
    assert m("a.bc")
    assert not m("ab")


def test_compile_glob_is_shared_for_equal_patterns() -> None:
    assert compile_glob("x*y?z") is compile_glob("x*y?z")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab*?/:", max_size=8), st.text(alphabet="ab/:*?", max_size=10))
def test_compile_glob_agrees_with_regex(pattern: str, s: str) -> None:
    assert bool(compile_glob(pattern)(s)) == regex_match(pattern, s)


# --- compile_pieces / match_pieces: literal pieces never act as wildcards ------------------


def test_literal_pieces_never_act_as_wildcards_in_compile_pieces() -> None:
    m = compile_pieces((("home/", True), ("*", False), ("/x", True)))
    assert m("home/*/x")
    assert not m("home/anything/x")
    m = compile_pieces((("?", False),))
    assert m("?")
    assert not m("a")


def test_literal_pieces_never_act_as_wildcards_in_match_pieces() -> None:
    pieces = (("home/", True), ("*", False), ("/*", True))
    assert match_pieces(pieces, "home/*/x")
    assert match_pieces(pieces, "home/*/")
    assert not match_pieces(pieces, "home/alice/x")
    assert match_pieces((("a?", False),), "a?")
    assert not match_pieces((("a?", False),), "ab")


def test_match_pieces_wildcards_around_literal_piece() -> None:
    pieces = (("*", True), ("alice", False), ("*", True))
    assert match_pieces(pieces, "alice")
    assert match_pieces(pieces, "x/alice/y")
    assert not match_pieces(pieces, "alic")
    assert not match_pieces(pieces, "ALICE")


def test_match_pieces_basic_cases() -> None:
    assert match_pieces((), "")
    assert not match_pieces((), "a")
    assert match_pieces((("*", True),), "")
    assert match_pieces((("*", True),), "anything/at:all")
    assert match_pieces((("a?c", True),), "abc")
    assert not match_pieces((("a?c", True),), "ac")
    assert match_pieces((("a*b*c", True),), "abc")
    assert match_pieces((("a*b*c", True),), "a1b2b3c")
    assert not match_pieces((("a*b*c", True),), "a1c2b")
    assert match_pieces((("*a*a", True),), "aa")
    assert not match_pieces((("*a*a", True),), "a")
    assert not match_pieces((("a*a", True),), "a")
    assert not match_pieces((("*ab*b", True),), "xab")


def test_has_wildcard_only_counts_active_pieces() -> None:
    assert has_wildcard((("a*", True),))
    assert has_wildcard((("a?", True),))
    assert not has_wildcard((("a*", False), ("b", True)))
    assert not has_wildcard(())


def test_match_pieces_middle_segment_must_not_overlap_last_segment() -> None:
    # `*a?*Z` needs an `a`, one more character, then a `Z` at the very end: "qqaZ" has no room.
    assert reference_match((("*a?*Z", True),), "qqaZ") is False
    assert regex_match("*a?*Z", "qqaZ") is False
    assert match_pieces((("*a?*Z", True),), "qqaZ") is False


def test_match_pieces_overlap_through_a_variable_resource() -> None:
    # Resource arn:aws:s3:::b/*${aws:username}?*.txt with username "x": after "x" and one more
    # character, "b/ax.txt" has only "txt" left, so it must not match.
    pattern = ResourcePattern(parse_template("arn:aws:s3:::b/*${aws:username}?*.txt"))
    ctx = {"aws:username": "x"}
    assert pattern.matches(split_resource("arn:aws:s3:::b/ax1.txt"), ctx)
    assert not pattern.matches(split_resource("arn:aws:s3:::b/ax.txt"), ctx)


@st.composite
def pattern_and_subject(draw: st.DrawFn, alphabet: str = "ab*?") -> tuple[list[Piece], str]:
    """Random pieces, and a subject that is either random or an instance of the pattern
    (wildcards filled in), possibly with one character dropped: near misses find bugs."""
    pieces = draw(st.lists(st.tuples(st.text(alphabet=alphabet, max_size=5), st.booleans()), max_size=4))
    if draw(st.booleans()):
        return pieces, draw(st.text(alphabet=alphabet, max_size=8))
    out: list[str] = []
    for text, wild in pieces:
        for ch in text:
            if wild and ch == "*":
                out.append(draw(st.text(alphabet="ab", max_size=3)))
            elif wild and ch == "?":
                out.append(draw(st.sampled_from("ab")))
            else:
                out.append(ch)
    s = "".join(out)
    if s and draw(st.booleans()):
        i = draw(st.integers(0, len(s) - 1))
        s = s[:i] + s[i + 1 :]
    return pieces, s


@settings(max_examples=500, deadline=None)
@given(pattern_and_subject(alphabet="ab*"))
def test_match_pieces_agrees_with_reference_without_question_marks(case: tuple[list[Piece], str]) -> None:
    pieces, s = case
    assert match_pieces(pieces, s) == reference_match(pieces, s)


@settings(max_examples=2000, deadline=None)
@given(pattern_and_subject())
@example(([("*a?*b", True)], "bbab"))
def test_match_pieces_agrees_with_reference(case: tuple[list[Piece], str]) -> None:
    pieces, s = case
    assert match_pieces(pieces, s) == reference_match(pieces, s)


@settings(max_examples=500, deadline=None)
@given(pattern_and_subject())
def test_compile_pieces_agrees_with_reference(case: tuple[list[Piece], str]) -> None:
    pieces, s = case
    assert bool(compile_pieces(pieces)(s)) == reference_match(pieces, s)


# --- actions ---------------------------------------------------------------------------------


def test_star_action_matches_everything() -> None:
    m = compile_action("*")
    assert m is ALWAYS
    assert m("s3:getobject")
    assert m("iam:listusers")


def test_action_is_case_insensitive_against_lowercased_request() -> None:
    for pattern in ("iam:ListAccessKeys", "IAM:listaccesskeys", "Iam:LISTACCESSKEYS"):
        m = compile_action(pattern)
        assert m("iam:listaccesskeys")
        assert not m("iam:listaccesskey")
        assert not m("iam:listaccesskeysx")


def test_action_wildcards() -> None:
    m = compile_action("s3:Get*")
    assert m("s3:get")
    assert m("s3:getobject")
    assert not m("s3:putobject")
    assert not m("s3x:getobject")
    m = compile_action("s3:*Object")
    assert m("s3:getobject")
    assert m("s3:object")
    assert not m("s3:getobjects")
    m = compile_action("ec2:Describe?pcs")
    assert m("ec2:describevpcs")
    assert not m("ec2:describepcs")
    m = compile_action("s3:*")
    assert m("s3:anything")
    assert not m("sqs:sendmessage")


def test_action_service_prefix_is_literal() -> None:
    m = compile_action("s3*:GetObject")
    assert not m("s3:getobject")
    assert not m("s3x:getobject")
    m = compile_action("s?:GetObject")
    assert not m("s3:getobject")
    m = compile_action("*:GetObject")
    assert not m("s3:getobject")


def test_action_wildcard_does_not_reach_into_service_prefix() -> None:
    m = compile_action("s3:*")
    assert not m("xs3:getobject")
    m = compile_action("s3:Get*")
    assert not m("sqs:s3:getobject")  # anchored at the start
    assert not m("sqs:getqueueurl")


@pytest.mark.parametrize(
    "pattern",
    [
        "s3:",
        ":GetObject",
        "GetObject",
        "s3:Get Object",
        "s3:GetObject,s3:PutObject",
        "s3:\tGet",
        " s3:Get",
        "",
    ],
)
def test_never_matching_entries(pattern: str) -> None:
    assert action_is_unmatchable(pattern)
    m = compile_action(pattern)
    assert m is NEVER
    for action in ("s3:getobject", "s3:", ":getobject", "getobject", "s3:get object", ""):
        assert not m(action)


@pytest.mark.parametrize("pattern", ["*", "s3:GetObject", "s3:*", "s3:?et*", "a:b"])
def test_matchable_entries(pattern: str) -> None:
    assert not action_is_unmatchable(pattern)


# --- compile_action_set / action_services: all entries of a statement at once ---------------


def test_action_set_shapes() -> None:
    assert compile_action_set(["s3:GetObject", "*"]) is ALWAYS
    assert compile_action_set([]) is NEVER
    assert compile_action_set(["s3:", "s3:a b"]) is NEVER
    m = compile_action_set(["S3:GetObject", "IAM:List*", "ec2:Describe?pcs", "sqs:*Message"])
    assert m("s3:getobject")
    assert m("iam:list")
    assert m("iam:listusers")
    assert m("ec2:describevpcs")
    assert m("sqs:sendmessage")
    assert not m("s3:getobjectacl")
    assert not m("iam:getuser")
    assert not m("ec2:describevpcsx")
    assert not m("sqs:sendmessages")
    assert not m("sts:assumerole")


def test_action_set_service_prefix_stays_literal() -> None:
    m = compile_action_set(["s3*:GetObject", "*:List*", "s?:Get*"])
    assert not m("s3:getobject")
    assert not m("iam:listusers")
    assert not m("s3:getbucket")


action_entry = st.builds(
    lambda svc, sep, name: svc + sep + name,
    st.sampled_from(["s3", "S3", "iam", "s*", ""]),
    st.sampled_from([":", ":", ""]),
    st.text(alphabet="aAb*?, ", max_size=4),
)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.one_of(action_entry, st.just("*")), max_size=4),
    st.builds(
        lambda s, n: s + ":" + n,
        st.sampled_from(["s3", "iam", "sqs"]),
        st.text(alphabet="ab*?, ", max_size=4),
    ),
)
def test_action_set_agrees_with_single_entries(entries: list[str], action: str) -> None:
    expected = any(compile_action(e)(action) for e in entries)
    assert bool(compile_action_set(entries)(action)) == expected


def test_action_services() -> None:
    assert action_services(["s3:GetObject", "S3:Put*", "IAM:ListUsers"]) == frozenset({"s3", "iam"})
    assert action_services(["s3:GetObject", "*"]) is None
    assert action_services(["s3:", "GetObject", "s3:a,b"]) == frozenset()
    assert action_services([]) == frozenset()


def test_statement_services_index() -> None:
    def services(statement: dict[str, object]) -> frozenset[str] | None:
        body = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Resource": "*", **statement}}
        return parse_policy(body, "identity").statements[0].services

    assert services({"Action": ["s3:Get*", "SQS:SendMessage"]}) == frozenset({"s3", "sqs"})
    assert services({"Action": "*"}) is None
    assert services({"NotAction": "s3:*"}) is None


# --- resources -------------------------------------------------------------------------------


def rp(source: str, *, variables: bool = True) -> ResourcePattern:
    return ResourcePattern(parse_template(source, variables=variables))


def hit(pattern: ResourcePattern | str, resource: str, ctx: dict[str, object] | None = None) -> bool:
    if isinstance(pattern, str):
        pattern = rp(pattern)
    return pattern.matches(split_resource(resource), ctx or {})


def test_split_resource() -> None:
    assert split_resource("arn:AWS:S3:US-East-1:123456789012:Bucket/Key:x") == (
        "arn:aws:s3:us-east-1:123456789012",
        "Bucket/Key:x",
    )
    assert split_resource("*") is None
    assert split_resource("arn:aws:s3") is None
    assert split_resource("ARN:aws:s3:::b") is None


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("arn:aws:s3:::B/1/2/test/3/x.jpg", True),
        ("arn:aws:s3:::B//test/x.jpg", True),
        ("arn:aws:s3:::B/1/test/", True),
        ("arn:aws:s3:::B/test/x.jpg", False),
        ("arn:aws:s3:::B/1-test/x.jpg", False),
        ("arn:aws:s3:::b/1/test/x.jpg", False),
    ],
)
def test_documented_s3_example(resource: str, expected: bool) -> None:
    assert hit("arn:aws:s3:::B/*/test/*", resource) is expected


def test_star_pattern_matches_everything_including_non_arn_request() -> None:
    pattern = rp("*")
    assert pattern.is_any
    assert hit(pattern, "*")
    assert hit(pattern, "arn:aws:s3:::b")
    assert pattern.matches(None, {})


def test_specific_arn_does_not_match_non_arn_request() -> None:
    for source in ("arn:aws:s3:::*", "arn:*:*:*:*:*", "arn:aws:s3:::b"):
        assert not hit(source, "*")


def test_wildcard_does_not_cross_components() -> None:
    # as one string glob this would match; per component the resource part is "c:x"
    assert regex_match("arn:aws:s3:*:*:x", "arn:aws:s3:a:b:c:x")
    assert not hit("arn:aws:s3:*:*:x", "arn:aws:s3:a:b:c:x")
    assert hit("arn:aws:s3:*:*:c:x", "arn:aws:s3:a:b:c:x")
    assert hit("arn:aws:ec2:us-*:*:instance/*", "arn:aws:ec2:us-east-1:123456789012:instance/i-1")
    assert not hit("arn:aws:ec2:us-*:*:instance/*", "arn:aws:ec2:eu-west-1:123456789012:instance/i-1")
    assert not hit("arn:aws:ec2:*:1234*:instance/*", "arn:aws:ec2:us:east:123456789012:instance/i-1")


def test_question_mark_in_a_component_does_not_match_a_colon() -> None:
    assert hit("arn:aws:s3:us-east-?:*:x", "arn:aws:s3:us-east-1:123456789012:x")
    assert not hit("arn:aws:s3:us-east-?:*:x", "arn:aws:s3:us-east-12:123456789012:x")
    assert not hit("arn:aws:s3:a?b::x", "arn:aws:s3:a:b::x")


def test_star_in_resource_part_covers_slashes_and_colons() -> None:
    assert hit("arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y:z")
    assert hit("arn:aws:s3:::b*", "arn:aws:s3:::b")
    assert hit("arn:aws:lambda:*:*:function:*", "arn:aws:lambda:us-east-1:123456789012:function:f:1")


def test_partition_service_region_account_ignore_case() -> None:
    pattern = rp("arn:AWS:S3:US-EAST-1:123456789012:Bucket")
    assert hit(pattern, "arn:aws:s3:us-east-1:123456789012:Bucket")
    assert hit(pattern, "arn:Aws:s3:Us-East-1:123456789012:Bucket")
    assert hit("arn:aws:s3:us-east-1:*:Bucket", "arn:AWS:S3:US-EAST-1:123456789012:Bucket")


def test_resource_part_is_case_sensitive() -> None:
    assert hit("arn:aws:s3:::Bucket", "arn:aws:s3:::Bucket")
    assert not hit("arn:aws:s3:::Bucket", "arn:aws:s3:::bucket")
    assert not hit("arn:aws:s3:::B*", "arn:aws:s3:::bucket")
    assert not hit("arn:aws:iam::123456789012:user/Bob", "arn:aws:iam::123456789012:user/bob")


def test_empty_components_match_only_empty() -> None:
    assert hit("arn:aws:s3:::b", "arn:aws:s3:::b")
    assert not hit("arn:aws:s3:::b", "arn:aws:s3:us-east-1::b")
    assert hit("arn:aws:s3:::", "arn:aws:s3:::")
    assert not hit("arn:aws:s3:::", "arn:aws:s3:::x")


def test_iam_user_paths() -> None:
    every = rp("arn:aws:iam::123456789012:user/*")
    assert hit(every, "arn:aws:iam::123456789012:user/JaneDoe")
    assert hit(every, "arn:aws:iam::123456789012:user/division_abc/subdivision_xyz/JaneDoe")
    division = rp("arn:aws:iam::123456789012:user/division_abc*")
    assert hit(division, "arn:aws:iam::123456789012:user/division_abc/subdivision_xyz/JaneDoe")
    assert not hit(division, "arn:aws:iam::123456789012:user/other/division_abc/JaneDoe")


def test_pattern_with_fewer_than_six_parts_never_matches() -> None:
    for source in ("arn:aws:s3", "arn:aws:s3:::"[:-1], "bucket/*", "s3:::b"):
        pattern = rp(source)
        assert not pattern.is_any
        assert not hit(pattern, "arn:aws:s3:::b")
        assert not hit(pattern, "*")


def test_variable_in_resource_part() -> None:
    pattern = rp("arn:aws:s3:::home/${aws:username}/*")
    ctx = {"aws:username": "alice"}
    assert hit(pattern, "arn:aws:s3:::home/alice/doc", ctx)
    assert hit(pattern, "arn:aws:s3:::home/alice/", ctx)
    assert not hit(pattern, "arn:aws:s3:::home/bob/doc", ctx)
    assert not hit(pattern, "arn:aws:s3:::home/alice", ctx)
    assert not hit(pattern, "arn:aws:s3:::home/ALICE/doc", ctx)


def test_unresolved_variable_entry_matches_nothing() -> None:
    pattern = rp("arn:aws:s3:::home/${aws:username}/*")
    assert not hit(pattern, "arn:aws:s3:::home//x", {})
    assert not hit(pattern, "arn:aws:s3:::home/${aws:username}/x", {})
    assert not hit(pattern, "arn:aws:s3:::home/alice/x", {"aws:username": ("alice", "bob")})


def test_variable_default_is_used_when_key_missing() -> None:
    pattern = rp("arn:aws:s3:::home/${aws:username, 'guest'}/*")
    assert hit(pattern, "arn:aws:s3:::home/guest/x", {})
    assert hit(pattern, "arn:aws:s3:::home/alice/x", {"aws:username": "alice"})
    assert not hit(pattern, "arn:aws:s3:::home/guest/x", {"aws:username": "alice"})


def test_substituted_star_is_literal() -> None:
    pattern = rp("arn:aws:s3:::home/${aws:username}/*")
    ctx = {"aws:username": "*"}
    assert hit(pattern, "arn:aws:s3:::home/*/x", ctx)
    assert not hit(pattern, "arn:aws:s3:::home/alice/x", ctx)
    qctx = {"aws:username": "a?"}
    assert hit(pattern, "arn:aws:s3:::home/a?/x", qctx)
    assert not hit(pattern, "arn:aws:s3:::home/ab/x", qctx)


def test_escapes_are_literal_in_resources() -> None:
    pattern = rp("arn:aws:s3:::b/${*}/${?}/${$}x")
    assert hit(pattern, "arn:aws:s3:::b/*/?/$x")
    assert not hit(pattern, "arn:aws:s3:::b/a/b/$x")


def test_version_2008_resource_is_literal_text() -> None:
    pattern = rp("arn:aws:s3:::home/${aws:username}/*", variables=False)
    assert hit(pattern, "arn:aws:s3:::home/${aws:username}/x", {"aws:username": "alice"})
    assert not hit(pattern, "arn:aws:s3:::home/alice/x", {"aws:username": "alice"})


def test_ambiguous_variable_in_resource_fails_closed() -> None:
    pattern = rp("arn:aws:s3:::b/${aws:PrincipalTag/team, 'x'}/*")
    with pytest.raises(AmbiguousKeyError):
        hit(pattern, "arn:aws:s3:::b/x/y", {"aws:principaltag/team": AMBIGUOUS})


def test_variable_with_colon_in_key_stays_in_resource_part() -> None:
    pattern = rp("arn:aws:s3:::b/${aws:PrincipalTag/team}:${aws:username}")
    ctx = {"aws:principaltag/team": "red", "aws:username": "al"}
    assert hit(pattern, "arn:aws:s3:::b/red:al", ctx)
    assert not hit(pattern, "arn:aws:s3:::b/red:bo", ctx)


def test_repr() -> None:
    assert repr(rp("arn:aws:s3:::b")) == "ResourcePattern('arn:aws:s3:::b')"


# --- compile_static_resources: all static entries of a statement as one matcher ------------


def test_normalize_resource() -> None:
    assert normalize_resource("arn:AWS:S3:US-East-1:123456789012:Bucket/Key:X") == (
        "arn:aws:s3:us-east-1:123456789012:Bucket/Key:X"
    )
    assert normalize_resource("*") is None
    assert normalize_resource("arn:aws:s3") is None


def static(*sources: str) -> Matcher:
    return compile_static_resources([rp(s) for s in sources])


def norm(resource: str) -> str:
    out = normalize_resource(resource)
    assert out is not None
    return out


def test_static_matcher_shapes() -> None:
    assert static() is NEVER
    assert static("arn:aws:s3", "bucket") is NEVER  # invalid entries never match
    one = static("arn:AWS:s3:::Bucket")
    assert one(norm("arn:aws:S3:::Bucket"))
    assert not one(norm("arn:aws:s3:::bucket"))
    two = static("arn:aws:s3:::a", "arn:aws:s3:::b")
    assert two(norm("arn:aws:s3:::a"))
    assert two(norm("arn:aws:s3:::b"))
    assert not two(norm("arn:aws:s3:::c"))


def test_static_matcher_prefix_shortcut() -> None:
    m = static("arn:aws:s3:::Bucket/home/*")
    assert m(norm("arn:aws:s3:::Bucket/home/"))
    assert m(norm("arn:AWS:S3:::Bucket/home/a/b:c"))
    assert not m(norm("arn:aws:s3:::Bucket/home"))
    assert not m(norm("arn:aws:s3:::bucket/home/x"))
    assert not m(norm("arn:aws:s3:us-east-1::Bucket/home/x"))
    escaped = rp("arn:aws:s3:::b/${*}x*")
    assert escaped.starts_with == "arn:aws:s3:::b/*x"
    assert compile_static_resources([escaped])(norm("arn:aws:s3:::b/*xyz"))
    assert not compile_static_resources([escaped])(norm("arn:aws:s3:::b/axyz"))


def test_static_matcher_mixed_exact_and_globs() -> None:
    m = static("arn:aws:s3:::exact", "arn:aws:s3:::B/*/test/*", "arn:aws:ec2:us-*:*:instance/i-?")
    assert m(norm("arn:aws:s3:::exact"))
    assert m(norm("arn:aws:s3:::B/1/2/test/3/x.jpg"))
    assert m(norm("arn:aws:s3:::B//test/x.jpg"))
    assert not m(norm("arn:aws:s3:::B/test/x.jpg"))
    assert not m(norm("arn:aws:s3:::B/1-test/x.jpg"))
    assert m(norm("arn:aws:ec2:us-west-2:123456789012:instance/i-1"))
    assert not m(norm("arn:aws:ec2:us-west-2:123456789012:instance/i-12"))
    assert not m(norm("arn:aws:ec2:eu-west-1:123456789012:instance/i-1"))
    assert not m(norm("arn:aws:s3:::exactly"))


def test_static_matcher_wildcard_does_not_cross_components() -> None:
    m = static("arn:aws:s3:*:*:x", "arn:aws:s3:::exact")
    assert not m(norm("arn:aws:s3:a:b:c:x"))
    assert m(norm("arn:aws:s3:a:b:x"))
    m = static("arn:aws:s3:a?b::x", "arn:aws:s3:::exact")
    assert not m(norm("arn:aws:s3:a:b::x"))


arn_component = st.text(alphabet="aA*?", max_size=3)


@st.composite
def static_patterns_and_resource(draw: st.DrawFn) -> tuple[list[str], str]:
    patterns = []
    for _ in range(draw(st.integers(1, 3))):
        parts = [draw(arn_component) for _ in range(4)]
        rest = draw(st.text(alphabet="aA*?:/", max_size=5))
        patterns.append("arn:" + ":".join(parts) + ":" + rest)
    if draw(st.booleans()):
        source = draw(st.sampled_from(patterns))
        out = []
        for ch in source:
            if ch == "*":
                out.append(draw(st.text(alphabet="aA:/", max_size=2)))
            elif ch == "?":
                out.append(draw(st.sampled_from("aA:/")))
            else:
                out.append(draw(st.sampled_from([ch, ch.swapcase()])))
        resource = "".join(out)
    else:
        parts = [draw(st.text(alphabet="aA", max_size=3)) for _ in range(4)]
        resource = "arn:" + ":".join(parts) + ":" + draw(st.text(alphabet="aA:/", max_size=5))
    return patterns, resource


@settings(max_examples=400, deadline=None)
@given(static_patterns_and_resource())
def test_static_matcher_agrees_with_per_entry_matching(case: tuple[list[str], str]) -> None:
    sources, resource = case
    patterns = [rp(s) for s in sources]
    split = split_resource(resource)
    expected = any(p.matches(split, {}) for p in patterns)
    normalized = normalize_resource(resource)
    got = normalized is not None and bool(compile_static_resources(patterns)(normalized))
    assert got == expected
    assert expected == any(component_oracle(s, resource) for s in sources)


def component_oracle(pattern: str, resource: str) -> bool:
    """Independent per-component reference: five components without case, the rest with."""
    p_parts, r_parts = pattern.split(":", 5), resource.split(":", 5)
    if len(p_parts) < 6 or len(r_parts) < 6 or r_parts[0] != "arn":
        return False
    head = all(
        reference_match(((p.lower(), True),), r.lower())
        for p, r in zip(p_parts[:5], r_parts[:5], strict=True)
    )
    return head and reference_match(((p_parts[5], True),), r_parts[5])
