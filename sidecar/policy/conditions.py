"""Condition blocks: every IAM condition operator, ``…IfExists``, ``ForAllValues:`` /
``ForAnyValue:``, ``Null``, and the rules for missing keys and unparseable values.

A block is validated and compiled once into a :class:`Condition`, a tuple of clauses (one per
operator × key). Combination (reference §4.1): clauses AND, values of one key OR — or NOR for
negated operators. The context is a mapping of **lower-cased** key → ``str`` (single-valued) or
``tuple[str, ...]`` (multivalued); :data:`AMBIGUOUS` marks a key given in two case variants.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from .errors import MALFORMED, Path, Problem, Severity
from .jsonload import JsonNumber
from .patterns import Matcher, compile_glob, compile_pieces, match_pieces
from .variables import (
    AMBIGUOUS,
    AmbiguousKeyError,
    Context,
    Template,
    malformed_variables,
    parse_template,
    split_template,
)


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
UNPARSEABLE: Any = object()


# Multivalued global keys; a variable may not name one, and a set operator is needed (§4.5).
MULTIVALUED_KEYS = frozenset(
    {
        "aws:tagkeys",
        "aws:calledvia",
        "aws:principalorgpaths",
        "aws:resourceorgpaths",
        "aws:principalservicenameslist",
        "sts:transitivetagkeys",
    }
)


# --- value parsers (memoised: request values repeat, and parsing is pure) -----------------

_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_DATE = re.compile(
    r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2})(?:T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(\.[0-9]+)?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?)?)?)?"
)


@lru_cache(maxsize=4096)
def parse_number(text: str) -> Any:
    if _NUMBER.fullmatch(text) is None:
        return UNPARSEABLE
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        return UNPARSEABLE


@lru_cache(maxsize=4096)
def parse_date(text: str) -> Any:
    """W3C ISO-8601 profiles or epoch seconds → seconds since the epoch (a Decimal).

    An all-digit string is always epoch seconds (§9 item 19), so ``2024`` is not a year.
    A time without a zone designator is read as UTC."""
    if text.isdigit() and text.isascii():
        return Decimal(text)
    m = _DATE.fullmatch(text)
    if m is None:
        return UNPARSEABLE
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    try:
        tz = UTC
        if zone and zone != "Z":
            sign = 1 if zone[0] == "+" else -1
            tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
        moment = datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=tz,
        )
    except ValueError:
        return UNPARSEABLE
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    seconds = Decimal(delta.days * 86400 + delta.seconds)
    return seconds + Decimal(fraction) if fraction else seconds


@lru_cache(maxsize=4096)
def parse_ip_address(text: str) -> Any:
    """An address → (version, integer); compared against networks with one AND."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return UNPARSEABLE
    return address.version, int(address)


def parse_ip_network(text: str) -> Any:
    """A CIDR (or a bare address: /32, /128) → (version, network integer, mask integer)."""
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return UNPARSEABLE
    return network.version, int(network.network_address), int(network.netmask)


def parse_bool(text: str) -> Any:
    low = text.lower()
    if low == "true":
        return True
    if low == "false":
        return False
    return UNPARSEABLE


def parse_binary(text: str) -> Any:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return UNPARSEABLE


@lru_cache(maxsize=4096)
def split_arn_value(text: str) -> Any:
    parts = text.split(":", 5)
    return tuple(parts) if len(parts) == 6 else UNPARSEABLE


# --- clauses -------------------------------------------------------------------------------

SET_NONE, SET_ALL, SET_ANY = 0, 1, 2


class Clause:
    """One ``operator: {key: values}`` entry. Subclasses define ``test`` for one request
    value; this class applies the missing-key, IfExists, multivalue and set-operator rules."""

    __slots__ = ("if_exists", "key", "negated", "operator", "set_op", "source_key")

    def __init__(self, operator: str, key: str, set_op: int, if_exists: bool, negated: bool) -> None:
        self.operator = operator
        self.source_key = key
        self.key = key.lower()
        self.set_op = set_op
        self.if_exists = if_exists
        self.negated = negated

    def evaluate(self, ctx: Context) -> bool:
        v = ctx.get(self.key, MISSING)
        if self.set_op == SET_NONE:
            if type(v) is str:
                return self.test(v, ctx)
            if v is MISSING:
                return self.if_exists or self.negated
            if type(v) is tuple:
                return False  # a multivalued key needs a set operator (§9 item 5)
            raise AmbiguousKeyError(self.key)
        if type(v) is str:
            values: tuple[str, ...] = (v,)
        elif type(v) is tuple:
            values = v
        elif v is MISSING:
            return self.set_op == SET_ALL or self.if_exists
        else:
            raise AmbiguousKeyError(self.key)
        if not values or values == ("",):
            return self.set_op == SET_ALL
        if self.set_op == SET_ALL:
            for x in values:
                if not self.test(x, ctx):
                    return False
            return True
        for x in values:
            if self.test(x, ctx):
                return True
        return False

    def is_missing(self, ctx: Context) -> bool:
        """The key this clause reads is absent (used to explain a failed condition)."""
        return self.key not in ctx

    def reads(self) -> frozenset[str]:
        """Every context key (lower-case) this clause can read: its key and its variables."""
        keys = {self.key}
        for attr in ("templates", "patterns"):
            for item in getattr(self, attr, ()):
                parts = item if isinstance(item, tuple) else (item,)
                for part in parts:
                    if isinstance(part, Template):
                        keys.update(v.key for v in part.variables)
        return frozenset(keys)

    def test(self, x: str, ctx: Context) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError


class StringClause(Clause):
    """StringEquals / StringNotEquals / …IgnoreCase / StringLike / StringNotLike."""

    __slots__ = ("fold", "like", "static", "templates")

    def __init__(
        self,
        operator: str,
        key: str,
        set_op: int,
        if_exists: bool,
        negated: bool,
        values: list[Template],
        *,
        fold: bool,
        like: bool,
    ) -> None:
        super().__init__(operator, key, set_op, if_exists, negated)
        self.fold = fold
        self.like = like
        static: list[Any] = []
        self.templates = tuple(t for t in values if not t.is_static)
        for t in values:
            if not t.is_static:
                continue
            text = "".join(s for s, _ in t.static_pieces())
            if like:
                pieces = t.static_pieces()
                static.append(compile_glob(text) if all(w for _, w in pieces) else compile_pieces(pieces))
            else:
                static.append(text.lower() if fold else text)
        self.static: tuple[Any, ...] = tuple(static) if like else frozenset(static)  # type: ignore[assignment]

    def _matches(self, x: str, ctx: Context) -> bool:
        if self.like:
            for m in self.static:
                if m(x):
                    return True
            for t in self.templates:
                pieces = t.resolve(ctx)
                if pieces is not None and match_pieces(pieces, x):
                    return True
            return False
        probe = x.lower() if self.fold else x
        if probe in self.static:
            return True
        for t in self.templates:
            text = t.resolve_text(ctx)
            if text is not None and (text.lower() if self.fold else text) == probe:
                return True
        return False

    def test(self, x: str, ctx: Context) -> bool:
        # An unresolved variable equals nothing, under either polarity (§4.6, §9 items 3, 18).
        return self._matches(x, ctx) != self.negated


class TypedClause(Clause):
    """Operators over parsed values (numbers, dates, IPs, booleans, binary, ARNs).

    Unparseable values (§4.3, §9 item 17): a positive operator ignores an unparseable policy
    value and fails on an unparseable request value; a negated operator is false when either
    side is unparseable."""

    __slots__ = ("compare", "parse", "policy_unparseable", "values")
    parse_request: Callable[[str], Any]

    def __init__(
        self,
        operator: str,
        key: str,
        set_op: int,
        if_exists: bool,
        negated: bool,
        values: list[Any],
        compare: Callable[[Any, Any], bool],
    ) -> None:
        super().__init__(operator, key, set_op, if_exists, negated)
        self.policy_unparseable = any(v is UNPARSEABLE for v in values)
        self.values = tuple(v for v in values if v is not UNPARSEABLE)
        self.compare = compare

    def test(self, x: str, ctx: Context) -> bool:
        parsed = type(self).parse_request(x)
        if parsed is UNPARSEABLE:
            return False
        compare = self.compare
        if self.negated:
            if self.policy_unparseable:
                return False
            for v in self.values:
                if compare(parsed, v):
                    return False
            return True
        for v in self.values:
            if compare(parsed, v):
                return True
        return False


class NumericClause(TypedClause):
    __slots__ = ()
    parse_request = staticmethod(parse_number)


class DateClause(TypedClause):
    __slots__ = ()
    parse_request = staticmethod(parse_date)


class IpClause(TypedClause):
    __slots__ = ()
    parse_request = staticmethod(parse_ip_address)


class BinaryClause(TypedClause):
    __slots__ = ()
    parse_request = staticmethod(parse_binary)


class BoolClause(Clause):
    """Bool: values compare case-insensitively and may hold variables (§9 items 6, 12)."""

    __slots__ = ("templates", "values")

    def __init__(self, operator: str, key: str, set_op: int, if_exists: bool, values: list[Template]) -> None:
        super().__init__(operator, key, set_op, if_exists, False)
        self.values = tuple(
            parse_bool("".join(s for s, _ in t.static_pieces())) for t in values if t.is_static
        )
        self.templates = tuple(t for t in values if not t.is_static)

    def test(self, x: str, ctx: Context) -> bool:
        parsed = parse_bool(x)
        if parsed is UNPARSEABLE:
            return False
        if parsed in self.values:
            return True
        for t in self.templates:
            text = t.resolve_text(ctx)
            if text is not None and parse_bool(text) == parsed:
                return True
        return False


class ArnClause(Clause):
    """ArnEquals ≡ ArnLike, ArnNotEquals ≡ ArnNotLike: each of the six components globbed on
    its own, case-sensitively; the value must have six components."""

    __slots__ = ("patterns", "policy_unparseable")

    def __init__(
        self, operator: str, key: str, set_op: int, if_exists: bool, negated: bool, values: list[Template]
    ) -> None:
        super().__init__(operator, key, set_op, if_exists, negated)
        patterns: list[tuple[Any, ...]] = []
        unparseable = False
        for t in values:
            parts = split_template(t, ":", 5)
            if len(parts) < 6:
                unparseable = True
                continue
            patterns.append(
                tuple(
                    p if not p.is_static else compile_pieces(p.static_pieces() or (("", False),))
                    for p in parts
                )
            )
        self.patterns = tuple(patterns)
        self.policy_unparseable = unparseable

    @staticmethod
    def _component(pattern: Any, text: str, ctx: Context) -> bool:
        if isinstance(pattern, Template):
            pieces = pattern.resolve(ctx)
            return pieces is not None and match_pieces(pieces, text)
        return bool(pattern(text))

    def _matches(self, parts: tuple[str, ...], ctx: Context) -> bool:
        for pattern in self.patterns:
            if all(self._component(p, c, ctx) for p, c in zip(pattern, parts, strict=True)):
                return True
        return False

    def test(self, x: str, ctx: Context) -> bool:
        parts = split_arn_value(x)
        if parts is UNPARSEABLE:
            return False
        if self.negated:
            return not self.policy_unparseable and not self._matches(parts, ctx)
        return self._matches(parts, ctx)


class NullClause(Clause):
    """Null: ``true`` holds when the key is absent, ``false`` when it is present."""

    __slots__ = ("wants",)

    def __init__(self, key: str, values: list[Any]) -> None:
        super().__init__("Null", key, SET_NONE, False, False)
        self.wants = tuple(v for v in values if v is not UNPARSEABLE)

    def evaluate(self, ctx: Context) -> bool:
        absent = self.key not in ctx
        return any(want == absent for want in self.wants)

    def is_missing(self, ctx: Context) -> bool:
        return False

    def test(self, x: str, ctx: Context) -> bool:  # pragma: no cover - evaluate is overridden
        return False


class Condition:
    """A compiled Condition block: every clause must hold."""

    __slots__ = ("clauses", "keys", "reads")

    def __init__(self, clauses: Iterable[Clause]) -> None:
        self.clauses = tuple(clauses)
        self.keys = tuple(dict.fromkeys(c.source_key for c in self.clauses))
        # Lower-case keys the block can read (for decision-cache keys).
        self.reads: frozenset[str] = frozenset().union(*(c.reads() for c in self.clauses))

    def evaluate(self, ctx: Context) -> bool:
        for clause in self.clauses:  # a plain loop: cheaper than all() on the hot path
            if not clause.evaluate(ctx):
                return False
        return True

    def missing_keys(self, ctx: Context) -> tuple[str, ...]:
        """Keys whose absence made a clause false (for explanations)."""
        out = [c.source_key for c in self.clauses if c.is_missing(ctx) and not c.evaluate(ctx)]
        return tuple(dict.fromkeys(out))


# --- the operator table --------------------------------------------------------------------

_STRING = "string"
_NUMERIC = "numeric"
_DATE_T = "date"
_BOOL = "bool"
_BINARY = "binary"
_IP = "ip"
_ARN = "arn"
_NULL = "null"


def _eq(a: Any, b: Any) -> bool:
    return bool(a == b)


def _lt(a: Any, b: Any) -> bool:
    return bool(a < b)


def _le(a: Any, b: Any) -> bool:
    return bool(a <= b)


def _gt(a: Any, b: Any) -> bool:
    return bool(a > b)


def _ge(a: Any, b: Any) -> bool:
    return bool(a >= b)


def _in_network(address: Any, network: Any) -> bool:
    # An IPv4 address never matches an IPv6 network, and the other way round.
    return bool(address[0] == network[0] and address[1] & network[2] == network[1])


# base operator → (value type, negated, compare or string flags)
OPERATORS: dict[str, tuple[str, bool, Any]] = {
    "StringEquals": (_STRING, False, (False, False)),
    "StringNotEquals": (_STRING, True, (False, False)),
    "StringEqualsIgnoreCase": (_STRING, False, (True, False)),
    "StringNotEqualsIgnoreCase": (_STRING, True, (True, False)),
    "StringLike": (_STRING, False, (False, True)),
    "StringNotLike": (_STRING, True, (False, True)),
    "NumericEquals": (_NUMERIC, False, _eq),
    "NumericNotEquals": (_NUMERIC, True, _eq),
    "NumericLessThan": (_NUMERIC, False, _lt),
    "NumericLessThanEquals": (_NUMERIC, False, _le),
    "NumericGreaterThan": (_NUMERIC, False, _gt),
    "NumericGreaterThanEquals": (_NUMERIC, False, _ge),
    "DateEquals": (_DATE_T, False, _eq),
    "DateNotEquals": (_DATE_T, True, _eq),
    "DateLessThan": (_DATE_T, False, _lt),
    "DateLessThanEquals": (_DATE_T, False, _le),
    "DateGreaterThan": (_DATE_T, False, _gt),
    "DateGreaterThanEquals": (_DATE_T, False, _ge),
    "Bool": (_BOOL, False, None),
    "BinaryEquals": (_BINARY, False, _eq),
    "IpAddress": (_IP, False, _in_network),
    "NotIpAddress": (_IP, True, _in_network),
    "ArnEquals": (_ARN, False, None),
    "ArnLike": (_ARN, False, None),
    "ArnNotEquals": (_ARN, True, None),
    "ArnNotLike": (_ARN, True, None),
    "Null": (_NULL, False, None),
}

_POLICY_PARSERS: dict[str, Callable[[str], Any]] = {
    _NUMERIC: parse_number,
    _DATE_T: parse_date,
    _IP: parse_ip_network,
    _BINARY: parse_binary,
    _BOOL: parse_bool,
    _NULL: parse_bool,
}
_TYPED_CLASSES: dict[str, type[TypedClause]] = {
    _NUMERIC: NumericClause,
    _DATE_T: DateClause,
    _IP: IpClause,
    _BINARY: BinaryClause,
}
_VARIABLE_TYPES = frozenset({_STRING, _ARN, _BOOL})


def split_operator(name: str) -> tuple[int, str, bool] | None:
    """``ForAnyValue:StringLikeIfExists`` → (SET_ANY, "StringLike", True); None if unknown.
    Only the canonical spelling is accepted (§9 item 12)."""
    set_op = SET_NONE
    base = name
    if name.startswith("ForAllValues:"):
        set_op, base = SET_ALL, name[len("ForAllValues:") :]
    elif name.startswith("ForAnyValue:"):
        set_op, base = SET_ANY, name[len("ForAnyValue:") :]
    if_exists = False
    if base not in OPERATORS and base.endswith("IfExists"):
        base, if_exists = base[: -len("IfExists")], True
    if base not in OPERATORS:
        return None
    if base == "Null" and (set_op != SET_NONE or if_exists):
        return None
    return set_op, base, if_exists


def scalar_text(value: object) -> str | None:
    """A condition value as canonical text: strings as given, ``true``/``false``, numbers as
    written. None for anything else (objects, null)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | JsonNumber):
        try:
            return str(value)
        except ValueError:  # an int too long to print (sys.get_int_max_str_digits)
            return None
    return None


def compile_condition(
    block: object, path: Path, problems: list[Problem], *, variables: bool, strict: bool = False
) -> Condition | None:
    """Validate a Condition element, appending every problem; compile it when it is valid."""
    if not (isinstance(block, (dict, Mapping))):
        problems.append(Problem(path, MALFORMED, "Condition must be an object of operators"))
        return None
    clauses: list[Clause] = []
    ok = True
    type_problem = Severity.ERROR if strict else Severity.WARNING
    for op_name, entries in block.items():
        op_path = (*path, op_name)
        parsed = split_operator(op_name)
        if parsed is None:
            problems.append(Problem(op_path, MALFORMED, f"Invalid condition operator: {op_name!r}"))
            ok = False
            continue
        set_op, base, if_exists = parsed
        vtype, negated, extra = OPERATORS[base]
        if not (isinstance(entries, (dict, Mapping))):
            problems.append(
                Problem(op_path, MALFORMED, "a condition operator takes an object of context keys")
            )
            ok = False
            continue
        for key, raw in entries.items():
            key_path = (*op_path, key)
            if not isinstance(key, str) or not key or "${" in key:
                problems.append(
                    Problem(
                        key_path,
                        MALFORMED,
                        "a condition key must be a plain key name (policy variables are not allowed in keys)",
                    )
                )
                ok = False
                continue
            texts = _condition_values(raw, key_path, problems)
            if texts is None:
                ok = False
                continue
            if vtype == _NULL and (len(texts) != 1 or parse_bool(texts[0]) is UNPARSEABLE):
                problems.append(
                    Problem(
                        key_path, MALFORMED, 'Null takes exactly one value, "true" or "false" (§9 item 20)'
                    )
                )
                ok = False
                continue
            uses_vars = variables and vtype in _VARIABLE_TYPES
            for i, text in enumerate(texts):
                value_path = (*key_path, i) if isinstance(raw, list) else key_path
                if variables and "${" in text:
                    if vtype not in _VARIABLE_TYPES:
                        problems.append(
                            Problem(
                                value_path,
                                MALFORMED,
                                f"{base} does not support policy variables; the text is compared as written",
                                type_problem,
                            )
                        )
                    else:
                        for bad in malformed_variables(text):
                            problems.append(
                                Problem(
                                    value_path,
                                    MALFORMED,
                                    f"{bad} is not a policy variable; it is compared as text",
                                    Severity.WARNING,
                                )
                            )
                        for var in parse_template(text).variables:
                            if var.key in MULTIVALUED_KEYS:
                                problems.append(
                                    Problem(
                                        value_path,
                                        MALFORMED,
                                        f"the multivalued key {var.key} cannot be a variable",
                                        Severity.WARNING,
                                    )
                                )
                parser = _POLICY_PARSERS.get(vtype)
                if parser is not None and not (uses_vars and "${" in text) and parser(text) is UNPARSEABLE:
                    problems.append(
                        Problem(
                            value_path, MALFORMED, f"{text!r} is not a valid value for {base}", type_problem
                        )
                    )
                if (
                    vtype == _ARN
                    and not (uses_vars and "${" in text)
                    and split_arn_value(text) is UNPARSEABLE
                ):
                    problems.append(
                        Problem(
                            value_path,
                            MALFORMED,
                            f"{text!r} is not an ARN (six colon-separated parts)",
                            type_problem,
                        )
                    )
            if not ok:
                continue
            clauses.append(
                _make_clause(
                    op_name, base, vtype, negated, extra, key, set_op, if_exists, tuple(texts), uses_vars
                )
            )
    if not ok or any(p.is_error for p in problems if p.path[: len(path)] == path):
        return None
    return _shared_condition(tuple(clauses))


_SHARED_CONDITIONS: dict[tuple[Clause, ...], Condition] = {}


def _shared_condition(clauses: tuple[Clause, ...]) -> Condition:
    """Clauses are shared between equal statements, so equal blocks share one Condition."""
    found = _SHARED_CONDITIONS.get(clauses)
    if found is None:
        if len(_SHARED_CONDITIONS) >= 65536:
            _SHARED_CONDITIONS.clear()
        found = _SHARED_CONDITIONS[clauses] = Condition(clauses)
    return found


def _condition_values(raw: object, path: Path, problems: list[Problem]) -> list[str] | None:
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        problems.append(Problem(path, MALFORMED, "a condition value list must not be empty"))
        return None
    texts: list[str] = []
    for i, item in enumerate(items):
        text = scalar_text(item)
        if text is None:
            where = (*path, i) if isinstance(raw, list) else path
            problems.append(
                Problem(where, MALFORMED, "a condition value must be a string, number or boolean")
            )
            return None
        texts.append(text)
    return texts


@lru_cache(maxsize=65536)
def _make_clause(
    op_name: str,
    base: str,
    vtype: str,
    negated: bool,
    extra: Any,
    key: str,
    set_op: int,
    if_exists: bool,
    texts: tuple[str, ...],
    uses_vars: bool,
) -> Clause:
    """A compiled clause; clauses are immutable, so equal ones (the same operator, key and
    values in many statements) are shared."""
    if vtype == _NULL:
        return NullClause(key, [parse_bool(t) for t in texts])
    if vtype in (_STRING, _ARN, _BOOL):
        templates = [parse_template(t, variables=uses_vars) for t in texts]
        if vtype == _STRING:
            fold, like = extra
            return StringClause(op_name, key, set_op, if_exists, negated, templates, fold=fold, like=like)
        if vtype == _ARN:
            return ArnClause(op_name, key, set_op, if_exists, negated, templates)
        return BoolClause(op_name, key, set_op, if_exists, templates)
    parser = _POLICY_PARSERS[vtype]
    return _TYPED_CLASSES[vtype](op_name, key, set_op, if_exists, negated, [parser(t) for t in texts], extra)


def condition_from_mapping(block: Mapping[str, object], *, variables: bool = True) -> Condition:
    """Compile a block known to be valid (tests and tools); raises ValueError otherwise."""
    problems: list[Problem] = []
    condition = compile_condition(block, (), problems, variables=variables)
    if condition is None:
        raise ValueError("; ".join(str(p) for p in problems if p.is_error))
    return condition


__all__ = [
    "AMBIGUOUS",
    "MISSING",
    "MULTIVALUED_KEYS",
    "AmbiguousKeyError",
    "Clause",
    "Condition",
    "Matcher",
    "compile_condition",
    "condition_from_mapping",
    "parse_date",
    "parse_number",
    "split_operator",
]
