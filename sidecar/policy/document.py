"""Parse and validate IAM JSON policy documents of every kind, and compile their statements.

:func:`validate_policy` returns **every** problem at once (JSON path + IAM-style code);
:func:`parse_policy` returns a compiled :class:`Policy` or raises
:class:`~sidecar.policy.errors.PolicyValidationError` listing them. The rules are those of
reference §1 (grammar, invalid combinations, principals, sizes, characters, Sids, versions).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any

from .arn import PARTITIONS, is_account_id, parse_arn
from .conditions import Condition, compile_condition
from .errors import LIMIT_EXCEEDED, MALFORMED, Path, PolicyValidationError, Problem, Severity, format_path
from .jsonload import JsonNumber, compact_size, loads
from .patterns import (
    ALWAYS,
    NEVER,
    Matcher,
    ResourcePattern,
    action_is_unmatchable,
    action_services,
    compile_action_set,
    compile_static_resources,
    resource_pattern,
)
from .variables import Context, malformed_variables, parse_template, split_template

VERSION_2012 = "2012-10-17"
VERSION_2008 = "2008-10-17"


class PolicyKind(StrEnum):
    """Where a policy is attached; it decides which elements are required or forbidden."""

    IDENTITY = "identity"
    RESOURCE = "resource"
    TRUST = "trust"
    BOUNDARY = "boundary"
    SCP = "scp"
    RCP = "rcp"
    SESSION = "session"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def with_article(self) -> str:
        return _a(_LABELS[self])


_LABELS = {
    PolicyKind.IDENTITY: "identity-based policy",
    PolicyKind.RESOURCE: "resource-based policy",
    PolicyKind.TRUST: "role trust policy",
    PolicyKind.BOUNDARY: "permissions boundary",
    PolicyKind.SCP: "service control policy",
    PolicyKind.RCP: "resource control policy",
    PolicyKind.SESSION: "session policy",
}

# Size limits in characters (reference §1.7). Whitespace is not counted, except for SCPs and
# RCPs where every character counts (measured on the text when it is given).
DEFAULT_SIZE_LIMITS: Mapping[PolicyKind, int] = {
    PolicyKind.IDENTITY: 6144,  # customer-managed policy
    PolicyKind.BOUNDARY: 6144,
    PolicyKind.TRUST: 2048,  # adjustable to 4096 and maybe more (§9 item 8): configurable
    PolicyKind.SESSION: 2048,
    PolicyKind.SCP: 5120,
    PolicyKind.RCP: 5120,
    PolicyKind.RESOURCE: 20480,  # S3's bucket-policy limit, the largest common one
}
WIRE_LIMIT = 131072  # the PolicyDocument API parameter

_SID_IAM = re.compile(r"[A-Za-z0-9]*")
_UNIQUE_ID = re.compile(r"A(?:IDA|ROA)[A-Z0-9]{12,124}")
_CANONICAL_USER = re.compile(r"[0-9a-f]{64}")
_TOP_KEYS = ("Version", "Id", "Statement")
_STATEMENT_KEYS = (
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
)
_PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")
_IDENTITY_SERVICES = ("iam", "sts")


@dataclass(frozen=True)
class ValidationOptions:
    """Knobs for validation. ``strict`` turns the warnings IAM itself only warns about (type
    mismatches in condition values, ``Id`` in identity policies) into errors."""

    size_limits: Mapping[PolicyKind, int] = field(default_factory=lambda: dict(DEFAULT_SIZE_LIMITS))
    strict: bool = False
    # None: IAM's alphanumeric Sids for IAM-stored kinds, any text for resource policies.
    relaxed_sid: bool | None = None
    check_size: bool = True

    def size_limit(self, kind: PolicyKind) -> int:
        return self.size_limits.get(kind, DEFAULT_SIZE_LIMITS[kind])


DEFAULT_OPTIONS = ValidationOptions()


# --- compiled form -------------------------------------------------------------------------


class PrincipalSet:
    """The entries of a Principal / NotPrincipal element, sorted by what they can match."""

    __slots__ = (
        "accounts",
        "any",
        "canonical_users",
        "federated",
        "federated_users",
        "roles",
        "services",
        "sessions",
        "unique_ids",
        "users",
    )

    def __init__(self) -> None:
        self.any = False
        self.accounts: set[str] = set()
        self.users: set[str] = set()
        self.roles: set[tuple[str, str, str]] = set()  # (partition, account, role name)
        self.sessions: set[str] = set()
        self.federated_users: set[str] = set()
        self.unique_ids: set[str] = set()
        self.services: set[str] = set()
        self.federated: set[str] = set()
        self.canonical_users: set[str] = set()


class Statement:
    """One compiled statement. ``policy`` names the policy it came from (for explanations)."""

    __slots__ = (
        "action_match",
        "actions",
        "allow",
        "condition",
        "context_keys",
        "index",
        "not_principal",
        "not_resource",
        "policy",
        "principal",
        "resource_all",
        "resource_static",
        "resource_templates",
        "resources",
        "services",
        "sid",
    )

    def __init__(self) -> None:
        self.allow = False
        self.sid: str | None = None
        self.index = 0
        self.policy: PolicyRef = PolicyRef(PolicyKind.IDENTITY, "")
        self.actions: tuple[str, ...] = ()
        self.action_match: Matcher = _no_action
        self.services: frozenset[str] | None = frozenset()  # None: any service
        self.resources: tuple[ResourcePattern, ...] | None = None  # None: trust policy
        self.not_resource = False
        self.resource_all = True
        # Resource matching, precompiled: all static entries as one matcher over the
        # normalised resource, plus the entries that hold policy variables.
        self.resource_static: Matcher = NEVER
        self.resource_templates: tuple[ResourcePattern, ...] = ()
        self.principal: PrincipalSet | None = None
        self.not_principal = False
        self.condition: Condition | None = None
        self.context_keys: frozenset[str] = frozenset()  # keys conditions and variables read

    @property
    def effect(self) -> str:
        return "Allow" if self.allow else "Deny"

    def set_resources(self, patterns: tuple[ResourcePattern, ...], negate: bool) -> None:
        self.resources = patterns
        self.not_resource = negate
        if any(p.is_any for p in patterns):
            # "*" matches every resource: Resource "*" always applies, NotResource "*" never.
            self.resource_all = not negate
            self.resource_static = ALWAYS
            self.resource_templates = ()
            return
        self.resource_all = False
        self.resource_static = compile_static_resources([p for p in patterns if p.rest_template is None])
        self.resource_templates = tuple(p for p in patterns if p.rest_template is not None)

    def matches_resource(self, split: tuple[str, str] | None, ctx: Context, norm: str | None = None) -> bool:
        """Resource/NotResource against the request resource (``split`` by split_resource;
        ``norm`` by normalize_resource, computed here when not given)."""
        if self.resource_all:
            return True
        if split is None:
            hit = self.resource_static is ALWAYS
        else:
            hit = bool(self.resource_static(norm or split[0] + ":" + split[1]))
            if not hit:
                for pattern in self.resource_templates:
                    if pattern.matches(split, ctx):
                        hit = True
                        break
        return hit != self.not_resource

    def __repr__(self) -> str:
        return f"<Statement {self.policy.name}#{self.index} {self.effect} sid={self.sid!r}>"


def _no_action(_: str) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class PolicyRef:
    """Which policy a statement belongs to: its kind and its name or ARN."""

    kind: PolicyKind
    name: str


@dataclass(frozen=True)
class Policy:
    kind: PolicyKind
    name: str
    version: str
    statements: tuple[Statement, ...]
    size: int
    warnings: tuple[Problem, ...] = ()
    id: str | None = None


# --- validation + compilation --------------------------------------------------------------


class _Checker:
    def __init__(self, kind: PolicyKind, options: ValidationOptions) -> None:
        self.kind = kind
        self.options = options
        self.problems: list[Problem] = []

    def error(self, path: Path, message: str, code: str = MALFORMED) -> None:
        self.problems.append(Problem(path, code, message))

    def warn(self, path: Path, message: str, code: str = MALFORMED) -> None:
        self.problems.append(Problem(path, code, message, Severity.WARNING))


_UNREADABLE = object()  # the text could not be read; the problem is already recorded


def _load(source: object, checker: _Checker) -> tuple[Any, str | None]:
    """JSON text (str or UTF-8 bytes) is parsed strictly; anything already parsed is taken
    as it is (a non-object is reported by the caller)."""
    if isinstance(source, bytes | bytearray):
        try:
            text = bytes(source).decode("utf-8")
        except UnicodeDecodeError as exc:
            checker.error((), f"the policy is not valid UTF-8 text: {exc}")
            return _UNREADABLE, None
    elif isinstance(source, str):
        text = source
    else:
        return source, None
    try:
        return loads(text), text
    except (ValueError, RecursionError) as exc:
        checker.error((), f"the policy is not valid JSON: {exc}")
        return _UNREADABLE, text


def _path_of(node: tuple[Any, ...] | None) -> Path:
    """A path kept as a linked list (parent, key) while scanning → a tuple, only when needed."""
    parts: list[str | int] = []
    while node is not None:
        node, key = node
        parts.append(key)
    return tuple(reversed(parts))


def _scan(doc: Any, checker: _Checker) -> int:
    """One pass over the whole document, without recursion (any nesting the JSON reader
    accepts): duplicate keys and disallowed characters become problems; returns the compact
    size (IAM's measure: whitespace outside strings not counted, numbers as written)."""
    size = 0
    stack: list[tuple[Any, tuple[Any, ...] | None]] = [(doc, None)]
    while stack:
        item, node = stack.pop()
        if isinstance(item, str):
            size += _string_size(item)
            if _DISALLOWED_CHAR.search(item) is not None:
                _bad_char_problem(item, _path_of(node), checker)
        elif isinstance(item, (dict, Mapping)):
            size += 2 + max(len(item) - 1, 0) + len(item)
            for key in getattr(item, "duplicates", ()):
                checker.error((*_path_of(node), key), f"duplicate key {key!r}")
            children = []
            for key, child in item.items():
                key = str(key)
                size += _string_size(key)
                if _DISALLOWED_CHAR.search(key) is not None:
                    _bad_char_problem(key, (*_path_of(node), key), checker)
                children.append((child, (node, key)))
            stack.extend(reversed(children))  # popped in document order
        elif isinstance(item, list):
            size += 2 + max(len(item) - 1, 0)
            stack.extend(reversed([(child, (node, i)) for i, child in enumerate(item)]))
        else:
            size += compact_size(item)
    return size


_ESCAPED_CONTROL = re.compile(r"\\(?:u00[01]|[bf])")


def _scan_quick(doc: Any, checker: _Checker) -> int:
    """The same result as :func:`_scan`, mostly at C speed: one ``json.dumps`` gives the size
    and, searched once, rules out disallowed characters; the Python walk then visits only
    objects and lists (for duplicate keys). A document with a disallowed character takes the
    full scan, which says where."""
    try:
        text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False, default=_number_json)
    except (TypeError, ValueError, RecursionError):
        return _scan(doc, checker)
    if _DISALLOWED_CHAR.search(text) is not None or _ESCAPED_CONTROL.search(text) is not None:
        return _scan(doc, checker)  # (json.dumps escapes control characters: look for those too)
    stack: list[tuple[Any, tuple[Any, ...] | None]] = [(doc, None)]
    while stack:
        item, node = stack.pop()
        if isinstance(item, (dict, Mapping)):
            for key in getattr(item, "duplicates", ()):
                checker.error((*_path_of(node), key), f"duplicate key {key!r}")
            children = [(v, (node, k)) for k, v in item.items() if isinstance(v, dict | list)]
        else:
            children = [(v, (node, i)) for i, v in enumerate(item) if isinstance(v, dict | list)]
        stack.extend(reversed(children))  # popped in document order
    return len(text)


def _number_json(value: object) -> object:
    """Numbers as written: a float that prints differently is measured as its text (two
    characters over, never under, the limit check)."""
    if isinstance(value, JsonNumber):
        try:
            number = value.value()
        except ValueError:
            return value.text
        if isinstance(number, int) or repr(number) == value.text:
            return number
        return value.text
    raise TypeError(f"not JSON: {type(value).__name__}")


_PLAIN_STRING = re.compile(r"[\x20-\x7e]*")


def _string_size(text: str) -> int:
    if '"' not in text and "\\" not in text and _PLAIN_STRING.fullmatch(text) is not None:
        return len(text) + 2
    return compact_size(text)


def _bad_char_problem(text: str, path: Path, checker: _Checker) -> None:
    ch = _bad_char(text) or " "
    checker.error(path, f"character U+{ord(ch):04X} is not allowed in a policy document")


_DISALLOWED_CHAR = re.compile(r"[^\t\n\r\x20-\xff]")


def _bad_char(text: str) -> str | None:
    found = _DISALLOWED_CHAR.search(text)
    return None if found is None else found.group()


def _string_list(value: Any, path: Path, checker: _Checker, what: str) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        if not value:
            checker.error(path, f"{what} must not be an empty list")
            return None
        if all(isinstance(v, str) for v in value):
            return list(value)
        for i, v in enumerate(value):
            if not isinstance(v, str):
                checker.error((*path, i), f"{what} entries must be strings")
        return None
    checker.error(path, f"{what} must be a string or a list of strings")
    return None


def _compile_actions(
    value: Any, path: Path, checker: _Checker, negate: bool
) -> tuple[tuple[str, ...], Matcher]:
    entries = _string_list(value, path, checker, "Action")
    if entries is None:
        return (), _no_action
    for i, entry in enumerate(entries):
        where = (*path, i) if isinstance(value, list) else path
        if entry == "*":
            continue
        if ":" not in entry:
            checker.error(where, f"action {entry!r} must be prefaced by a service prefix (service:Action)")
        elif action_is_unmatchable(entry):
            checker.warn(where, f"action {entry!r} can never match (empty name, whitespace or a comma)")
        elif "*" in entry.partition(":")[0] or "?" in entry.partition(":")[0]:
            checker.warn(
                where,
                f"action {entry!r}: wildcards in the service prefix are compared "
                "literally, so it can never match",
            )
        if "${" in entry:
            checker.warn(where, "policy variables are not supported in Action; the text is literal")
    matcher = compile_action_set(entries)
    if negate:
        return tuple(entries), _negated(matcher)
    return tuple(entries), matcher  # truthy when it matches; shared by equal Action lists


@lru_cache(maxsize=65536)
def _negated(matcher: Matcher) -> Matcher:
    """NotAction: one shared wrapper per distinct Action list."""
    return lambda a: not matcher(a)


_SHARED_SETS: dict[frozenset[str], frozenset[str]] = {}


def _shared(value: frozenset[str]) -> frozenset[str]:
    """One object for equal small sets (statements repeat the same services and keys)."""
    found = _SHARED_SETS.get(value)
    if found is None:
        if len(_SHARED_SETS) >= 65536:
            _SHARED_SETS.clear()
        found = _SHARED_SETS[value] = value
    return found


def _compile_resources(
    value: Any, path: Path, checker: _Checker, variables: bool
) -> tuple[ResourcePattern, ...] | None:
    entries = _string_list(value, path, checker, "Resource")
    if entries is None:
        return None
    patterns = []
    for i, entry in enumerate(entries):
        where = (*path, i) if isinstance(value, list) else path
        if entry != "*" and not _check_resource_entry(entry, variables, where, checker):
            continue
        patterns.append(resource_pattern(entry, variables))
    return tuple(patterns)


def _check_resource_entry(entry: str, variables: bool, where: Path, checker: _Checker) -> bool:
    ok = True
    for is_error, message in _resource_entry_problems(entry, variables):
        if is_error:
            checker.error(where, message)
            ok = False
        else:
            checker.warn(where, message)
    return ok


@lru_cache(maxsize=131072)
def _resource_entry_problems(entry: str, variables: bool) -> tuple[tuple[bool, str], ...]:
    """What is wrong with one Resource entry (a pure function of its text: memoised, since a
    snapshot repeats entries): (is_error, message) pairs."""
    parts = split_template(parse_template(entry, variables=variables), ":", 5)
    if not entry.startswith("arn:") or len(parts) < 6:
        return ((True, f'Resource {entry} must be in ARN format or "*" (six colon-separated parts)'),)
    found: list[tuple[bool, str]] = []
    if any(not p.is_static for p in parts[:5]):
        found.append((True, f"Resource {entry}: a policy variable may appear only after the fifth colon"))
    for bad in malformed_variables(entry):
        found.append((False, f"{bad} is not a policy variable; it is matched as text"))
    service = parts[2].source.lower()
    rest = parts[5].source
    if service in _IDENTITY_SERVICES and rest != "*":
        head = rest.split("/", 1)[0] if "/" in rest else rest
        if "*" in head or "?" in head:
            found.append((True, f"Resource {entry}: a wildcard is not allowed in the resource-type prefix"))
    return tuple(found)


def _compile_principal(value: Any, path: Path, checker: _Checker) -> PrincipalSet | None:
    result = PrincipalSet()
    if isinstance(value, str):
        if value == "*":
            result.any = True
            return result
        checker.error(path, 'a Principal string must be "*"; use {"AWS": ...} for principals')
        return None
    if not (isinstance(value, (dict, Mapping))) or not value:
        checker.error(path, 'Principal must be "*" or a non-empty object of principal types')
        return None
    ok = True
    for ptype, raw in value.items():
        where = (*path, ptype)
        if ptype not in _PRINCIPAL_TYPES:
            checker.error(where, f"unknown principal type {ptype!r} (AWS, Service, Federated, CanonicalUser)")
            ok = False
            continue
        entries = _string_list(raw, where, checker, f"Principal {ptype}")
        if entries is None:
            ok = False
            continue
        for i, entry in enumerate(entries):
            at = (*where, i) if isinstance(raw, list) else where
            ok = _add_principal(result, ptype, entry, at, checker) and ok
    return result if ok else None


def _add_principal(result: PrincipalSet, ptype: str, entry: str, at: Path, checker: _Checker) -> bool:
    if ptype == "AWS":
        if entry == "*":
            result.any = True
            return True
        if "*" in entry or "?" in entry:
            checker.error(
                at,
                f"Invalid principal in policy: {entry!r} (wildcards are not patterns in "
                'principals; use "*" with an aws:PrincipalArn condition)',
            )
            return False
        if is_account_id(entry):
            result.accounts.add(entry)
            return True
        if _UNIQUE_ID.fullmatch(entry):
            result.unique_ids.add(entry)
            return True
        arn = parse_arn(entry)
        if arn is not None and arn.partition in PARTITIONS and is_account_id(arn.account) and not arn.region:
            kind, _, rest = arn.resource.partition("/")
            if arn.service == "iam" and arn.resource == "root":
                result.accounts.add(arn.account)
                return True
            if arn.service == "iam" and kind == "user" and rest:
                result.users.add(entry)
                return True
            if arn.service == "iam" and kind == "role" and rest:
                result.roles.add((arn.partition, arn.account, arn.resource_name))
                return True
            if (
                arn.service == "sts"
                and kind == "assumed-role"
                and rest.count("/") == 1
                and all(rest.split("/"))
            ):
                result.sessions.add(entry)
                return True
            if arn.service == "sts" and kind == "federated-user" and rest and "/" not in rest:
                result.federated_users.add(entry)
                return True
        checker.error(at, f"Invalid principal in policy: {entry!r}")
        return False
    if not entry or "*" in entry or "?" in entry or any(ch.isspace() for ch in entry):
        checker.error(at, f"Invalid principal in policy: {ptype} {entry!r}")
        return False
    if ptype == "Service":
        result.services.add(entry.lower())
    elif ptype == "Federated":
        result.federated.add(entry)
    else:
        if not _CANONICAL_USER.fullmatch(entry):
            checker.error(at, f"Invalid principal in policy: CanonicalUser {entry!r} (64 hex digits)")
            return False
        result.canonical_users.add(entry)
    return True


def _check_statement(
    raw: Any,
    path: Path,
    index: int,
    checker: _Checker,
    variables: bool,
    ref: PolicyRef,
    sids: dict[str, Path],
) -> Statement | None:
    kind = checker.kind
    if not (isinstance(raw, (dict, Mapping))):
        checker.error(path, "a statement must be an object")
        return None
    before = sum(p.is_error for p in checker.problems)
    st = Statement()
    st.index = index
    st.policy = ref
    for key in raw:
        if key not in _STATEMENT_KEYS:
            checker.error((*path, key), f"unknown statement element {key!r}")

    sid = raw.get("Sid")
    if "Sid" in raw:
        relaxed = checker.options.relaxed_sid
        if relaxed is None:
            relaxed = kind is PolicyKind.RESOURCE
        if not isinstance(sid, str):
            checker.error((*path, "Sid"), "Sid must be a string")
        else:
            if not relaxed and not _SID_IAM.fullmatch(sid):
                checker.error((*path, "Sid"), f"Sid {sid!r} must contain only letters and digits")
            if sid and sid in sids:
                checker.error((*path, "Sid"), f"duplicate Sid {sid!r} (first at {format_path(sids[sid])})")
            elif sid:
                sids[sid] = path
            st.sid = sid

    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        if "Effect" not in raw:
            checker.error(path, 'Effect is required ("Allow" or "Deny")')
        else:
            checker.error((*path, "Effect"), f'Effect must be exactly "Allow" or "Deny", not {effect!r}')
    st.allow = effect == "Allow"

    _check_principal_element(raw, path, st, checker)

    has_action, has_not_action = "Action" in raw, "NotAction" in raw
    if has_action and has_not_action:
        checker.error(path, "a statement cannot have both Action and NotAction")
    elif not has_action and not has_not_action:
        checker.error(path, "Policy statement must contain actions (Action or NotAction)")
    else:
        key = "Action" if has_action else "NotAction"
        st.actions, st.action_match = _compile_actions(raw[key], (*path, key), checker, negate=has_not_action)
        # The action index buckets statements by service; NotAction can match any service.
        services = None if has_not_action else action_services(st.actions)
        st.services = None if services is None else _shared(services)

    has_res, has_not_res = "Resource" in raw, "NotResource" in raw
    if kind is PolicyKind.TRUST:
        for key in ("Resource", "NotResource"):
            if key in raw:
                checker.error(
                    (*path, key), f"Has prohibited field {key}: a role trust policy applies to its own role"
                )
    elif has_res and has_not_res:
        checker.error(path, "a statement cannot have both Resource and NotResource")
    elif not has_res and not has_not_res:
        checker.error(path, "Policy statement must contain resources (Resource or NotResource)")
    else:
        key = "Resource" if has_res else "NotResource"
        patterns = _compile_resources(raw[key], (*path, key), checker, variables)
        if patterns is not None:
            st.set_resources(patterns, has_not_res)

    if "Condition" in raw:
        problems: list[Problem] = []
        st.condition = compile_condition(
            raw["Condition"],
            (*path, "Condition"),
            problems,
            variables=variables,
            strict=checker.options.strict,
        )
        checker.problems.extend(problems)
        if st.condition is not None and not st.condition.clauses:
            st.condition = None

    keys = set(st.condition.reads) if st.condition is not None else set()
    for pattern in st.resource_templates:
        if pattern.rest_template is not None:
            keys.update(v.key for v in pattern.rest_template.variables)
    st.context_keys = _shared(frozenset(keys))

    if kind is PolicyKind.RCP and effect == "Allow":
        checker.error(
            (*path, "Effect"),
            "resource control policies may only Deny (RCPFullAWSAccess, the only Allow, is implied)",
        )
    errors_now = sum(p.is_error for p in checker.problems)
    return st if errors_now == before else None


def _check_principal_element(raw: Mapping[str, Any], path: Path, st: Statement, checker: _Checker) -> None:
    kind = checker.kind
    has_p, has_np = "Principal" in raw, "NotPrincipal" in raw
    if kind in (PolicyKind.IDENTITY, PolicyKind.BOUNDARY, PolicyKind.SESSION, PolicyKind.SCP):
        for key in ("Principal", "NotPrincipal"):
            if key in raw:
                checker.error(
                    (*path, key), f"Has prohibited field {key}: {_a(kind.label)} must not specify a principal"
                )
        return
    if has_p and has_np:
        checker.error(path, "a statement cannot have both Principal and NotPrincipal")
        return
    if not has_p and not has_np:
        checker.error(path, f"{_a(kind.label)} statement must contain a Principal")
        return
    if has_np:
        if kind is not PolicyKind.RESOURCE:
            checker.error((*path, "NotPrincipal"), f"NotPrincipal is not allowed in a {kind.label}")
            return
        if raw.get("Effect") == "Allow":
            checker.error((*path, "NotPrincipal"), "NotPrincipal may only be used with Effect Deny")
            return
    key = "Principal" if has_p else "NotPrincipal"
    principal = _compile_principal(raw[key], (*path, key), checker)
    if kind is PolicyKind.RCP and principal is not None and not _is_everyone(principal):
        checker.error((*path, key), 'a resource control policy statement must have Principal "*"')
    st.principal = principal
    st.not_principal = has_np


def _is_everyone(ps: PrincipalSet) -> bool:
    """``"*"`` or ``{"AWS": "*"}`` / ``{"AWS": ["*"]}`` and nothing else."""
    return ps.any and not (
        ps.accounts
        or ps.users
        or ps.roles
        or ps.sessions
        or ps.federated_users
        or ps.unique_ids
        or ps.services
        or ps.federated
        or ps.canonical_users
    )


def _a(label: str) -> str:
    return ("an " if label[0] in "aeiou" else "a ") + label


def _policy_size(scanned_size: int, text: str | None, kind: PolicyKind) -> int:
    if text is not None and kind in (PolicyKind.SCP, PolicyKind.RCP):
        return len(text)  # every character counts in SCPs and RCPs
    return scanned_size


def _check(
    source: str | bytes | Mapping[str, Any], kind: PolicyKind, options: ValidationOptions, name: str
) -> tuple[list[Problem], Policy | None]:
    checker = _Checker(kind, options)
    doc, text = _load(source, checker)
    if doc is _UNREADABLE:
        return checker.problems, None
    if not (isinstance(doc, (dict, Mapping))):
        checker.error((), "a policy document must be a JSON object")
        return checker.problems, None
    scanned_size = _scan_quick(doc, checker)

    for key in doc:
        if key not in _TOP_KEYS:
            checker.error((key,), f"unknown policy element {key!r}")
    version = doc.get("Version", VERSION_2008)
    if "Version" in doc and version not in (VERSION_2012, VERSION_2008):
        checker.error(
            ("Version",),
            f'The policy must contain a valid version string ("{VERSION_2012}" '
            f'or "{VERSION_2008}"), not {version!r}',
        )
        version = VERSION_2012
    if kind is PolicyKind.RCP and version != VERSION_2012:
        checker.error(("Version",), f'a resource control policy must say "Version": "{VERSION_2012}"')
    if "Version" not in doc:
        checker.warn(
            ("Version",), f"no Version: read as {VERSION_2008}, so policy variables are not substituted"
        )
    policy_id = doc.get("Id")
    if "Id" in doc:
        if not isinstance(policy_id, str):
            checker.error(("Id",), "Id must be a string")
        elif kind in (PolicyKind.IDENTITY, PolicyKind.BOUNDARY, PolicyKind.SESSION):
            message = f"Id is not used in {_a(kind.label)} (accepted and ignored)"
            (checker.error if options.strict else checker.warn)(("Id",), message)

    statements: list[Statement] = []
    if "Statement" not in doc:
        checker.error((), "a policy must contain a Statement")
    else:
        raw = doc["Statement"]
        variables = version == VERSION_2012
        sids: dict[str, Path] = {}
        ref = PolicyRef(kind, name)
        if isinstance(raw, (dict, Mapping)):
            st = _check_statement(raw, ("Statement",), 0, checker, variables, ref, sids)
            statements = [st] if st else []
        elif isinstance(raw, list) and raw:
            for i, item in enumerate(raw):
                st = _check_statement(item, ("Statement", i), i, checker, variables, ref, sids)
                if st is not None:
                    statements.append(st)
        else:
            checker.error(("Statement",), "Statement must be an object or a non-empty list of objects")

    size = _policy_size(scanned_size, text, kind)
    if options.check_size:
        limit = options.size_limit(kind)
        if size > limit:
            checker.error((), f"the {kind.label} is {size} characters; the limit is {limit}", LIMIT_EXCEEDED)
        elif size > WIRE_LIMIT:
            checker.error((), f"the document is {size} characters; the limit is {WIRE_LIMIT}", LIMIT_EXCEEDED)

    problems = checker.problems
    if any(p.is_error for p in problems):
        return problems, None
    warnings = tuple(p for p in problems if not p.is_error)
    policy = Policy(
        kind,
        name,
        str(version),
        tuple(statements),
        size,
        warnings,
        policy_id if isinstance(policy_id, str) else None,
    )
    return problems, policy


def validate_policy(
    source: str | bytes | Mapping[str, Any],
    kind: PolicyKind | str,
    *,
    options: ValidationOptions = DEFAULT_OPTIONS,
) -> list[Problem]:
    """Every problem (errors and warnings) of a policy document of the given kind."""
    return _check(source, PolicyKind(kind), options, "")[0]


def parse_policy(
    source: str | bytes | Mapping[str, Any],
    kind: PolicyKind | str,
    *,
    name: str = "",
    options: ValidationOptions = DEFAULT_OPTIONS,
) -> Policy:
    """Validate and compile a policy; raises PolicyValidationError listing every problem."""
    problems, policy = _check(source, PolicyKind(kind), options, name)
    if policy is None:
        raise PolicyValidationError(problems)
    return policy
