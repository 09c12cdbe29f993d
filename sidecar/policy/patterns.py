"""Wildcard patterns compiled once into matchers.

``*`` matches any run of characters (also empty), ``?`` exactly one. Every pattern is
classified when compiled: match-all, exact, prefix, or glob (a regex compiled once), so the
common cases cost one C call per match. Patterns that hold policy variables are resolved per
request into *pieces* and matched by :func:`match_pieces`, a small segment matcher that needs
no regex compiling on the request path.

Actions compare case-insensitively (callers lower-case them once); resources compare
per ARN component: partition, service, region and account ignore case, the resource part does
not, and a wildcard never runs from one component into the next (reference §2.2, §2.3).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache

from .variables import Context, Piece, Template, parse_template, split_template

Matcher = Callable[[str], object]  # truthy when the string matches


def _always(_: str) -> bool:
    return True


def _never(_: str) -> bool:
    return False


ALWAYS: Matcher = _always
NEVER: Matcher = _never


def has_wildcard(pieces: Sequence[Piece]) -> bool:
    return any(wild and ("*" in text or "?" in text) for text, wild in pieces)


_WILDCARD_SPLIT = re.compile(r"([*?])")


def _regex_source(pieces: Sequence[Piece], star: str, one: str) -> str:
    out: list[str] = []
    for text, wild in pieces:
        if not wild:
            out.append(re.escape(text))
            continue
        for chunk in _WILDCARD_SPLIT.split(text):
            if chunk == "*":
                out.append(star)
            elif chunk == "?":
                out.append(one)
            elif chunk:
                out.append(re.escape(chunk))
    return "".join(out)


def compile_pieces(pieces: Sequence[Piece], *, star: str = ".*", one: str = ".") -> Matcher:
    """A matcher for static pieces; ``star``/``one`` are the regex a wildcard stands for."""
    if len(pieces) == 1 and pieces[0] == ("*", True) and star == ".*":
        return ALWAYS
    if not has_wildcard(pieces):
        literal = "".join(text for text, _ in pieces)
        return literal.__eq__
    joined = "".join(text for text, _ in pieces)
    if star == ".*" and all(w for _, w in pieces) and joined.endswith("*") and not _wild(joined[:-1]):
        prefix = joined[:-1]
        return lambda s: s.startswith(prefix)
    return re.compile(_regex_source(pieces, star, one), re.DOTALL).fullmatch


def _wild(text: str) -> bool:
    return "*" in text or "?" in text


@lru_cache(maxsize=65536)
def compile_glob(pattern: str) -> Matcher:
    """A matcher for plain policy text (wildcards active). Shared by equal patterns."""
    return compile_pieces(((pattern, True),))


# --- the segment matcher for per-request (variable) patterns -------------------------------

Segment = list[str | int]  # literal text, or a run of n single-character wildcards


def _segments(pieces: Sequence[Piece]) -> list[Segment]:
    segments: list[Segment] = [[]]
    for text, wild in pieces:
        if not wild:
            _push(segments[-1], text)
            continue
        run: list[str] = []
        for ch in text:
            if ch == "*":
                if run:
                    _push(segments[-1], "".join(run))
                    run = []
                segments.append([])
            elif ch == "?":
                if run:
                    _push(segments[-1], "".join(run))
                    run = []
                seg = segments[-1]
                if seg and isinstance(seg[-1], int):
                    seg[-1] += 1
                else:
                    seg.append(1)
            else:
                run.append(ch)
        if run:
            _push(segments[-1], "".join(run))
    return segments


def _push(seg: Segment, text: str) -> None:
    if not text:
        return
    if seg and isinstance(seg[-1], str):
        seg[-1] += text
    else:
        seg.append(text)


def _length(seg: Segment) -> int:
    return sum(len(p) if isinstance(p, str) else p for p in seg)


def _at(seg: Segment, s: str, i: int) -> bool:
    for part in seg:
        if isinstance(part, str):
            if not s.startswith(part, i):
                return False
            i += len(part)
        else:
            i += part
    return i <= len(s)


def match_pieces(pieces: Sequence[Piece], s: str) -> bool:
    """Glob-match ``s`` against resolved pieces (literal pieces never act as wildcards).

    Stars split the pattern into fixed-length segments; placing each middle segment at its
    leftmost fit is optimal, so one left-to-right pass decides."""
    segments = _segments(pieces)
    if len(segments) == 1:
        seg = segments[0]
        return _length(seg) == len(s) and _at(seg, s, 0)
    first, last = segments[0], segments[-1]
    pos = _length(first)
    if not _at(first, s, 0):
        return False
    end = len(s) - _length(last)
    if end < pos or not _at(last, s, end):
        return False
    for seg in segments[1:-1]:
        size = _length(seg)
        if not size:
            continue
        lead = seg[0]
        i = pos
        while True:
            if i + size > end:
                return False
            if isinstance(lead, str):
                i = s.find(lead, i, end)
                if i < 0 or i + size > end:  # the segment must end before the last one starts
                    return False
            if _at(seg, s, i):
                break
            i += 1
        pos = i + size
    return True


# --- actions -------------------------------------------------------------------------------


_SPACE_OR_COMMA = re.compile(r"[\s,]")


@lru_cache(maxsize=65536)
def action_is_unmatchable(pattern: str) -> bool:
    """Entries that never match (reference §2.2): no service prefix, an empty action name,
    whitespace, or a comma (``"s3:GetObject,s3:PutObject"``)."""
    if pattern == "*":
        return False
    service, sep, name = pattern.partition(":")
    return not sep or not service or not name or _SPACE_OR_COMMA.search(pattern) is not None


@lru_cache(maxsize=65536)
def compile_action(pattern: str) -> Matcher:
    """A matcher over lower-cased ``service:action`` strings. The service prefix is literal."""
    if pattern == "*":
        return ALWAYS
    if action_is_unmatchable(pattern):
        return NEVER
    service, _, name = pattern.lower().partition(":")
    return compile_pieces(((service + ":", False), (name, True)))


def action_services(patterns: Sequence[str]) -> frozenset[str] | None:
    """The service prefixes (lower-case) a list of Action entries can match; None when an
    entry is ``*`` (every service)."""
    services = set()
    for pattern in patterns:
        if pattern == "*":
            return None
        if not action_is_unmatchable(pattern):
            services.add(pattern.partition(":")[0].lower())
    return frozenset(services)


def compile_action_set(patterns: Sequence[str]) -> Matcher:
    return _compile_action_set(tuple(patterns))


@lru_cache(maxsize=65536)
def _compile_action_set(patterns: tuple[str, ...]) -> Matcher:
    """One matcher for all Action entries of a statement, over lower-cased actions: a set
    lookup for exact names, one ``startswith`` for ``prefix*`` entries, one regex for the rest."""
    if "*" in patterns:
        return ALWAYS
    exact: set[str] = set()
    prefixes: list[str] = []
    regexes: list[str] = []
    for pattern in patterns:
        if action_is_unmatchable(pattern):
            continue
        service, _, name = pattern.lower().partition(":")
        head = service + ":"
        if not _wild(name):
            exact.add(head + name)
        elif name.endswith("*") and not _wild(name[:-1]):
            prefixes.append(head + name[:-1])
        else:
            regexes.append(_regex_source(((head, False), (name, True)), ".*", "."))
    frozen = frozenset(exact)
    starts = tuple(prefixes)
    regex = re.compile("|".join(f"(?:{r})" for r in regexes), re.DOTALL).fullmatch if regexes else None
    if regex is None:
        if not starts:
            return frozen.__contains__ if frozen else NEVER
        if not frozen:
            return lambda a: a.startswith(starts)
        return lambda a: a in frozen or a.startswith(starts)
    if not starts and not frozen:
        return regex
    return lambda a: a in frozen or a.startswith(starts) or regex(a) is not None


# --- resources -----------------------------------------------------------------------------


def split_resource(resource: str) -> tuple[str, str] | None:
    """A request resource → (lower-cased ``arn:p:s:r:a`` prefix, resource part), or None when
    it is not an ARN (``"*"`` for actions that take no resource)."""
    if not resource.startswith("arn:"):
        return None
    parts = resource.split(":", 5)
    if len(parts) < 6:
        return None
    return ":".join(parts[:5]).lower(), parts[5]


def normalize_resource(resource: str) -> str | None:
    """The resource with partition, service, region and account lower-cased (they compare
    without case), or None when it is not an ARN. Static patterns match this string."""
    split = split_resource(resource)
    return None if split is None else split[0] + ":" + split[1]


class ResourcePattern:
    """One entry of Resource/NotResource, compiled.

    ``matches`` takes the request resource already split by :func:`split_resource`.
    An entry whose variable cannot be resolved matches nothing (reference §5). A static entry
    also exposes ``exact`` or ``regex`` over the normalised resource (:func:`normalize_resource`)
    so a statement can fold all its entries into one matcher."""

    __slots__ = ("exact", "is_any", "prefix", "regex", "rest", "rest_template", "source", "starts_with")

    def __init__(self, template: Template) -> None:
        self.source = template.source
        self.is_any = template.is_static and template.source == "*"
        self.rest: Matcher = NEVER
        self.rest_template: Template | None = None
        self.prefix: Matcher = NEVER
        self.exact: str | None = None
        self.regex: str | None = None
        self.starts_with: str | None = None  # set when the entry is "literal*"
        if self.is_any:
            return
        parts = split_template(template, ":", 5)
        if len(parts) < 6 or not all(p.is_static for p in parts[:5]):
            return  # rejected by validation; never matches if it gets here
        prefix_pieces: list[Piece] = []
        for i, part in enumerate(parts[:5]):
            if i:
                prefix_pieces.append((":", False))
            prefix_pieces.extend((text.lower(), wild) for text, wild in part.static_pieces())
        self.prefix = compile_pieces(prefix_pieces, star="[^:]*", one="[^:]")
        rest = parts[5]
        if rest.is_static:
            rest_pieces = rest.static_pieces() or (("", False),)
            self.rest = compile_pieces(rest_pieces)
            head = "".join(t for t, _ in prefix_pieces) + ":"
            last_text, last_wild = rest_pieces[-1]
            if (
                not has_wildcard(prefix_pieces)
                and last_wild
                and last_text.endswith("*")
                and not has_wildcard((*rest_pieces[:-1], (last_text[:-1], True)))
            ):
                self.starts_with = head + "".join(t for t, _ in rest_pieces)[:-1]
            if has_wildcard(prefix_pieces) or has_wildcard(rest_pieces):
                self.regex = (
                    _regex_source(prefix_pieces, "[^:]*", "[^:]")
                    + ":"
                    + _regex_source(rest_pieces, ".*", ".")
                )
            else:
                self.exact = head + "".join(t for t, _ in rest_pieces)
        else:
            self.rest_template = rest

    def matches(self, split: tuple[str, str] | None, ctx: Context) -> bool:
        if self.is_any:
            return True
        if split is None or not self.prefix(split[0]):
            return False
        template = self.rest_template
        if template is None:
            return bool(self.rest(split[1]))
        pieces = template.resolve(ctx)
        return pieces is not None and match_pieces(pieces, split[1])

    def __repr__(self) -> str:
        return f"ResourcePattern({self.source!r})"


@lru_cache(maxsize=131072)
def resource_pattern(source: str, variables: bool) -> ResourcePattern:
    """The compiled pattern of one Resource entry; equal entries share one."""
    return ResourcePattern(parse_template(source, variables=variables))


@lru_cache(maxsize=131072)
def _static_regex(source: str) -> Matcher:
    return re.compile(source, re.DOTALL).fullmatch


def compile_static_resources(patterns: Sequence[ResourcePattern]) -> Matcher:
    """One matcher over the normalised resource for all static entries of a statement: a set
    lookup for exact entries, one ``startswith`` for ``literal*`` entries, and each remaining
    entry's regex (compiled once per distinct entry, shared across statements)."""
    exact = frozenset(p.exact for p in patterns if p.exact is not None)
    starts = tuple(p.starts_with for p in patterns if p.starts_with is not None)
    regexes = tuple(_static_regex(p.regex) for p in patterns if p.regex is not None and p.starts_with is None)
    if not regexes:
        if not starts:
            if not exact:
                return NEVER
            return next(iter(exact)).__eq__ if len(exact) == 1 else exact.__contains__
        if not exact:
            return lambda s: s.startswith(starts)
        return lambda s: s in exact or s.startswith(starts)
    if not exact and not starts and len(regexes) == 1:
        return regexes[0]

    def match(s: str) -> bool:
        if s in exact or s.startswith(starts):
            return True
        for regex in regexes:
            if regex(s) is not None:
                return True
        return False

    return match
