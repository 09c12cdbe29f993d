"""Policy variables: ``${key}``, ``${key, 'default'}`` and the escapes ``${*}``, ``${?}``, ``${$}``.

A policy string is parsed once into a :class:`Template`: a tuple of tokens, each literal policy
text (where ``*`` and ``?`` keep their wildcard meaning), escaped text (never a wildcard), or a
variable. Resolving a template against a request context gives *pieces* ``(text, wild)``; text
that came from a variable or an escape is never a wildcard (reference §5, §9 item 14).

Under ``Version 2008-10-17`` nothing is a variable: the whole string is policy text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# One context value: a single string, or a tuple of strings for a multivalued key.
ContextValue = str | tuple[str, ...]
Context = Mapping[str, object]


class _Ambiguous:
    __slots__ = ()

    def __repr__(self) -> str:
        return "AMBIGUOUS"


# A context key given twice, differing only in case, with different values (§9 item 15).
# Reading it, in a condition or through a variable, fails the decision closed.
AMBIGUOUS: Any = _Ambiguous()


class AmbiguousKeyError(Exception):
    """A condition or a policy variable read a context key given in two case variants."""

    def __init__(self, key: str) -> None:
        super().__init__(f"context key {key!r} is given in two case variants; refusing to guess")
        self.key = key


_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_BODY = re.compile(r"\s*([^\s,'{}$]+)\s*(?:,\s*'([^']*)'\s*)?")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


@dataclass(frozen=True, slots=True)
class Text:
    """Policy text: ``*`` and ``?`` are wildcards where the operator globs."""

    text: str


@dataclass(frozen=True, slots=True)
class Escaped:
    """Text from an escape (``${*}`` …): always literal."""

    text: str


@dataclass(frozen=True, slots=True)
class Variable:
    """``${key}`` or ``${key, 'default'}``; ``key`` is lower-cased (context keys ignore case)."""

    key: str
    default: str | None
    source: str


Token = Text | Escaped | Variable
Piece = tuple[str, bool]  # (text, wildcards active)


class Template:
    """A parsed policy string. ``variables`` is empty for plain text."""

    __slots__ = ("source", "tokens", "variables")

    def __init__(self, source: str, tokens: tuple[Token, ...]) -> None:
        self.source = source
        self.tokens = tokens
        self.variables = tuple(t for t in tokens if isinstance(t, Variable))

    @property
    def is_static(self) -> bool:
        return not self.variables

    def static_pieces(self) -> tuple[Piece, ...]:
        """The pieces of a template without variables (callers check ``is_static``)."""
        return tuple((t.text, isinstance(t, Text)) for t in self.tokens if not isinstance(t, Variable))

    def resolve(self, ctx: Context) -> tuple[Piece, ...] | None:
        """Substitute variables from ``ctx``; None when one is unresolved and has no default."""
        pieces: list[Piece] = []
        for token in self.tokens:
            if isinstance(token, Variable):
                value = ctx.get(token.key)
                if type(value) is not str:  # absent, multivalued or ambiguous
                    if value is AMBIGUOUS:
                        raise AmbiguousKeyError(token.key)
                    if token.default is None:
                        return None
                    value = token.default
                pieces.append((value, False))
            else:
                pieces.append((token.text, isinstance(token, Text)))
        return tuple(pieces)

    def resolve_text(self, ctx: Context) -> str | None:
        pieces = self.resolve(ctx)
        return None if pieces is None else "".join(text for text, _ in pieces)

    def __repr__(self) -> str:
        return f"Template({self.source!r})"


def parse_template(source: str, *, variables: bool = True) -> Template:
    """Parse ``source``; with ``variables=False`` (version 2008) it is all policy text.
    Templates are immutable, so equal sources share one (snapshots repeat strings a lot)."""
    return _parse_template(source, variables)


@lru_cache(maxsize=131072)
def _parse_template(source: str, variables: bool) -> Template:
    if not variables or "${" not in source:
        return Template(source, (Text(source),) if source else ())
    tokens: list[Token] = []
    pos = 0
    for m in _VARIABLE.finditer(source):
        body = m.group(1)
        token: Token | None = None
        if body in _ESCAPES:
            token = Escaped(_ESCAPES[body])
        else:
            bm = _BODY.fullmatch(body)
            if bm is not None:
                token = Variable(bm.group(1).lower(), bm.group(2), m.group(0))
        if token is None:  # not a variable: the text stays as written
            continue
        if m.start() > pos:
            tokens.append(Text(source[pos : m.start()]))
        tokens.append(token)
        pos = m.end()
    if pos < len(source):
        tokens.append(Text(source[pos:]))
    return Template(source, tuple(tokens))


def malformed_variables(source: str) -> list[str]:
    """The ``${...}`` groups in ``source`` that are neither a variable nor an escape."""
    bad = []
    for m in _VARIABLE.finditer(source):
        body = m.group(1)
        if body not in _ESCAPES and _BODY.fullmatch(body) is None:
            bad.append(m.group(0))
    return bad


def split_template(template: Template, sep: str, maxsplit: int) -> list[Template]:
    """Split at the first ``maxsplit`` occurrences of ``sep`` in policy text (never inside
    a variable), e.g. an ARN pattern into its six components."""
    return list(_split_template(template, sep, maxsplit))


@lru_cache(maxsize=131072)
def _split_template(template: Template, sep: str, maxsplit: int) -> tuple[Template, ...]:
    parts: list[list[Token]] = [[]]
    sources: list[list[str]] = [[]]
    for token in template.tokens:
        if isinstance(token, Text) and len(parts) <= maxsplit and sep in token.text:
            chunks = token.text.split(sep, maxsplit - (len(parts) - 1))
            for i, chunk in enumerate(chunks):
                if i:
                    parts.append([])
                    sources.append([])
                if chunk:
                    parts[-1].append(Text(chunk))
                    sources[-1].append(chunk)
        else:
            parts[-1].append(token)
            sources[-1].append(token.source if isinstance(token, Variable) else _token_source(token))
    return tuple(Template("".join(src), tuple(toks)) for src, toks in zip(sources, parts, strict=True))


def _token_source(token: Text | Escaped) -> str:
    if isinstance(token, Escaped):
        return "${" + token.text + "}"
    return token.text
