"""Snapshot document bytes → :class:`~sidecar.snapshot.model.Snapshot`, with every problem.

:func:`validate_snapshot` returns **every** problem of a snapshot document (API.md, "The
snapshot document") at once: errors and warnings, each with its JSON path
(``accounts[0].roles[2].trust_policy.Statement[1].Principal``) and an IAM-style code:

- ``MalformedPolicyDocument``: an embedded policy, validated by the policy room with the kind
  its place gives it (inline and managed policies, also when used as a permissions boundary,
  and ``aws_managed_policies``: identity; ``trust_policy``: trust; ``resources[].policy``:
  resource; ``organization.policies``: SCP or RCP by where they are attached). A duplicate key
  inside a policy document is reported here too.
- ``InvalidInput``: malformed snapshot data: wrong JSON types, unknown fields (typos are not
  ignored), names, paths, ids, tags, keys and ARNs that break reference §8, duplicate keys.
- ``NoSuchEntity``: a reference to a policy, group, SCP/RCP or organisation unit the snapshot
  does not hold.
- ``EntityAlreadyExists``: two accounts, users, groups, roles (names compare without case, per
  account), managed policies (ARNs, without case), unique ids, access keys, MFA serials,
  resource ARNs or organisation units that must be unique and are not.
- ``LimitExceeded``: the IAM and Organizations quotas of reference §1.7/§1.8
  (:class:`SnapshotLimits`), and the policy size limits.

Warnings (they do not block loading): an SCP level (unit or account in the organisation) whose
attached SCPs hold no Allow statement at all, which denies everything below it; SCPs or RCPs
attached to the management account or to an account outside the organisation (they do not
apply there).

:func:`load_snapshot` returns the immutable model with every policy compiled once (a managed
policy is one :class:`~sidecar.policy.Policy` however many entities attach it), or raises
:class:`~sidecar.snapshot.errors.SnapshotValidationError`. References are resolved the way IAM
resolves names, without case, and the model holds the canonical spelling (the ARN or name as
the entity declares it). This room reads no files: it is handed bytes, text or parsed JSON.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import difflib
import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from ..policy.document import DEFAULT_OPTIONS, Policy, PolicyKind, ValidationOptions, parse_policy
from ..policy.errors import (
    LIMIT_EXCEEDED,
    MALFORMED,
    Path,
    PolicyValidationError,
    Problem,
    Severity,
    format_path,
)
from ..policy.jsonload import JsonNumber, JsonObject, compact_size, loads, to_plain
from .errors import ENTITY_ALREADY_EXISTS, INVALID_INPUT, NO_SUCH_ENTITY, SnapshotValidationError
from .model import (
    EMPTY,
    AccessKey,
    Account,
    Group,
    ManagedPolicy,
    MfaDevice,
    Organization,
    OrgUnit,
    Resource,
    Role,
    Snapshot,
    User,
)

PARTITIONS = ("aws", "aws-cn", "aws-us-gov")
# AWS attaches RCPFullAWSAccess to every root, OU and account and it cannot be detached; the
# model implies it (API.md), so listing it without defining it is accepted and dropped.
IMPLIED_RCP = "RCPFullAWSAccess"


@dataclass(frozen=True)
class SnapshotLimits:
    """The quotas the validator enforces (reference §1.7, §1.8), with AWS's defaults. The
    adjustable ones can be raised here; ``policy_options`` configures the validation of every
    embedded policy (e.g. ``size_limits[PolicyKind.TRUST]`` for an account whose trust-policy
    quota was raised to 4,096)."""

    groups_per_user: int = 10
    managed_policies_per_user: int = 10
    managed_policies_per_role: int = 10
    managed_policies_per_group: int = 10
    # Summed compact sizes (whitespace not counted) of an entity's inline policies.
    inline_bytes_user: int = 2048
    inline_bytes_group: int = 5120
    inline_bytes_role: int = 10240
    tags_per_entity: int = 50
    access_keys_per_user: int = 2
    mfa_devices_per_user: int = 8
    policies_per_target_scp_rcp: int = 5
    policy_options: ValidationOptions = field(default_factory=lambda: DEFAULT_OPTIONS)


DEFAULT_LIMITS = SnapshotLimits()


# --- reference §8 patterns (ASCII: IAM's \w is [A-Za-z0-9_]) ----------------------------------

_ENTITY_NAME = re.compile(r"[\w+=,.@-]+", re.ASCII)  # user, role, group, managed policy
_INLINE_NAME = re.compile(r"[^\\/*?\s]+", re.ASCII)  # any ASCII but \ / * ? and whitespace
_ENTITY_PATH = re.compile(r"/|/[\x21-\x7e]+/")
_POLICY_PATH = re.compile(r"(?:/[A-Za-z0-9.,+@=_-]+)*/")
_AWS_POLICY_KEY = re.compile(r"(?:[A-Za-z0-9.,+@=_-]+/)*[\w+=,.@-]{1,128}", re.ASCII)
_ACCOUNT_ID = re.compile(r"[0-9]{12}")
_USER_ID = re.compile(r"AIDA[A-Z0-9]{16,124}")
_ROLE_ID = re.compile(r"AROA[A-Z0-9]{16,124}")
_ACCESS_KEY_ID = re.compile(r"AKIA[A-Z0-9]{16}")
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
_MFA_SERIAL = re.compile(r"[\w+=/:,.@-]{9,256}", re.ASCII)
_BASE32 = re.compile(r"[A-Za-z2-7]+=*")
_ORG_ID = re.compile(r"[\w.:-]{1,128}", re.ASCII)  # organisation, root and OU ids (lenient)
_TAG_ASCII = re.compile(r"[A-Za-z0-9 _.:/=+@-]*")
_TAG_EXTRA = frozenset("_.:/=+-@")

_TOP_KEYS = ("version", "partition", "aws_managed_policies", "organization", "accounts")
_ORG_KEYS = ("id", "management_account", "policies", "units")
_UNIT_KEYS = ("id", "parent", "scps", "rcps")
_ACCOUNT_KEYS = ("id", "unit", "scps", "rcps", "users", "groups", "roles", "policies", "resources")
_USER_KEYS = (
    "name",
    "path",
    "id",
    "groups",
    "managed_policies",
    "inline_policies",
    "permissions_boundary",
    "tags",
    "access_keys",
    "mfa_devices",
)
_GROUP_KEYS = ("name", "path", "managed_policies", "inline_policies")
_ROLE_KEYS = (
    "name",
    "path",
    "id",
    "trust_policy",
    "max_session_duration",
    "managed_policies",
    "inline_policies",
    "permissions_boundary",
    "tags",
)
_POLICY_KEYS = ("name", "path", "document")
_RESOURCE_KEYS = ("arn", "policy", "tags")
_ACCESS_KEY_KEYS = ("id", "secret_sha256", "status")
_MFA_KEYS = ("serial", "totp_seed_base32")

_MISSING: Any = object()


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | JsonNumber):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return f"a {type(value).__name__}"


def _as_int(value: Any) -> int | None:
    """An integer JSON number (``3600``, not ``3600.0``, ``"3600"`` or ``true``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = value.text if isinstance(value, JsonNumber) else ""
    if text.lstrip("-").isdigit() and text.isascii():
        try:
            return int(text)
        except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
            return None
    return None


def _show(value: Any) -> str:
    """A value for a message, as JSON, cut short."""
    try:
        text = value.text if isinstance(value, JsonNumber) else json.dumps(to_plain(value), default=repr)
    except (ValueError, RecursionError):
        text = repr(type(value))
    return text if len(text) <= 40 else text[:37] + "..."


def _tag_text_ok(text: str) -> bool:
    """``[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*`` (reference §8.3)."""
    if _TAG_ASCII.fullmatch(text):
        return True
    return all(ch in _TAG_EXTRA or unicodedata.category(ch)[0] in "LZN" for ch in text)


def _frozen(mapping: dict[str, str]) -> Mapping[str, str]:
    return MappingProxyType(mapping) if mapping else EMPTY


def _sha256(data: Any) -> str:
    if isinstance(data, bytes | bytearray):
        return hashlib.sha256(bytes(data)).hexdigest()
    if isinstance(data, str):
        return hashlib.sha256(data.encode("utf-8")).hexdigest()
    canonical = json.dumps(to_plain(data), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class _Level:
    """An SCP level (a unit, or an account in the organisation), checked once all are read."""

    path: Path
    scps: tuple[str, ...]
    resolved: bool  # every name resolved (otherwise an error is already reported)


class _Loader:
    """One pass over a snapshot document: builds the model and collects every problem."""

    def __init__(self, limits: SnapshotLimits) -> None:
        self.limits = limits
        self.options = limits.policy_options
        # Inline policies have no size limit of their own, only the per-entity sum.
        self.inline_options = replace(limits.policy_options, check_size=False)
        self.problems: list[Problem] = []
        self.partition = "aws"
        self.aws_policies: dict[str, ManagedPolicy] = {}  # by ARN
        self.aws_by_lower: dict[str, str] = {}  # lower-cased ARN → ARN
        self.org: Organization | None = None
        self.has_org = False
        self.org_policies: dict[str, Policy | None] = {}
        self.unit_ids: set[str] = set()
        self.management_account: str | None = None
        self.levels: list[_Level] = []
        # Snapshot-wide uniqueness: value → the path where it first appeared.
        self.account_ids: dict[str, Path] = {}
        self.unique_ids: dict[str, Path] = {}
        self.access_key_ids: dict[str, Path] = {}
        self.mfa_serials: dict[str, Path] = {}
        self.resource_arns: dict[str, Path] = {}

    # --- reporting -----------------------------------------------------------------------------

    def error(self, path: Path, code: str, message: str) -> None:
        self.problems.append(Problem(path, code, message))

    def warn(self, path: Path, code: str, message: str) -> None:
        self.problems.append(Problem(path, code, message, Severity.WARNING))

    def unique(self, seen: dict[str, Path], key: str, path: Path, what: str) -> bool:
        first = seen.get(key)
        if first is not None:
            self.error(path, ENTITY_ALREADY_EXISTS, f"{what} already exists (at {format_path(first)})")
            return False
        seen[key] = path
        return True

    # --- generic JSON shapes -------------------------------------------------------------------

    def obj(
        self, raw: Any, path: Path, what: str, keys: tuple[str, ...], required: tuple[str, ...] = ()
    ) -> Any:
        """``raw`` as an object of the given fields (None when it is not an object): reports
        duplicate keys, unknown fields (with a suggestion) and missing required fields."""
        if not isinstance(raw, Mapping):
            self.error(path, INVALID_INPUT, f"{what} must be an object, not {_json_type(raw)}")
            return None
        self.duplicates(raw, path)
        for key in raw:
            if key not in keys:
                hint = difflib.get_close_matches(str(key), keys, n=1)
                suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
                self.error(
                    (*path, str(key)),
                    INVALID_INPUT,
                    f"unknown field {key!r} in {what}{suggestion}; fields: {', '.join(keys)}",
                )
        for key in required:
            if key not in raw:
                self.error((*path, key), INVALID_INPUT, f"{what} requires {key!r}")
        return raw

    def duplicates(self, raw: Mapping[Any, Any], path: Path) -> None:
        if isinstance(raw, JsonObject):
            for key in raw.duplicates:
                self.error((*path, key), INVALID_INPUT, f"duplicate key {key!r}")

    def string(
        self, raw: Mapping[str, Any], key: str, path: Path, default: str | None = None, nullable: bool = False
    ) -> str | None:
        value = raw.get(key, _MISSING)
        if value is _MISSING or (value is None and nullable):
            return default if value is _MISSING else None
        if not isinstance(value, str):
            kind = "a string or null" if nullable else "a string"
            self.error((*path, key), INVALID_INPUT, f"{key} must be {kind}, not {_json_type(value)}")
            return default
        return value

    def given(self, raw: Mapping[str, Any], key: str, path: Path) -> str | None:
        """The string at ``key`` when there is one (another type is reported); else None."""
        if key not in raw:
            return None
        return self.string(raw, key, path)

    def array(self, raw: Mapping[str, Any], key: str, path: Path) -> list[Any]:
        value = raw.get(key, _MISSING)
        if value is _MISSING:
            return []
        if not isinstance(value, list):
            self.error((*path, key), INVALID_INPUT, f"{key} must be an array, not {_json_type(value)}")
            return []
        return value

    def mapping(self, raw: Mapping[str, Any], key: str, path: Path) -> Mapping[Any, Any]:
        value = raw.get(key, _MISSING)
        if value is _MISSING:
            return {}
        if not isinstance(value, Mapping):
            self.error((*path, key), INVALID_INPUT, f"{key} must be an object, not {_json_type(value)}")
            return {}
        self.duplicates(value, (*path, key))
        return value

    def strings(
        self, raw: Mapping[str, Any], key: str, path: Path, what: str, fold: bool = True
    ) -> list[tuple[str, Path]]:
        """An array of strings, each with its path; non-strings and repeats (compared without
        case when ``fold``, as IAM compares names) are reported."""
        out: list[tuple[str, Path]] = []
        seen: dict[str, Path] = {}
        for i, item in enumerate(self.array(raw, key, path)):
            where = (*path, key, i)
            if not isinstance(item, str):
                self.error(where, INVALID_INPUT, f"{what} must be a string, not {_json_type(item)}")
                continue
            folded = item.lower() if fold else item
            first = seen.get(folded)
            if first is not None:
                self.error(where, INVALID_INPUT, f"{what} {item!r} is listed twice (at {format_path(first)})")
                continue
            seen[folded] = where
            out.append((item, where))
        return out

    def limit(self, count: int, quota: int, path: Path, what: str) -> None:
        if count > quota:
            self.error(path, LIMIT_EXCEEDED, f"{count} {what}; the quota is {quota}")

    # --- policies ------------------------------------------------------------------------------

    def policy(
        self, doc: Any, path: Path, kind: PolicyKind, name: str, options: ValidationOptions | None = None
    ) -> Policy | None:
        """Validate and compile one embedded policy (once); its problems are re-rooted at
        ``path``."""
        if not isinstance(doc, Mapping):
            self.error(path, MALFORMED, f"a policy document must be a JSON object, not {_json_type(doc)}")
            return None
        try:
            policy = parse_policy(doc, kind, name=name, options=options or self.options)
        except PolicyValidationError as exc:
            self.problems.extend(p.within(path) for p in exc.problems)
            return None
        except Exception as exc:  # a document the policy room cannot read is rejected, not a crash
            self.error(path, MALFORMED, f"the policy cannot be read: {type(exc).__name__}: {exc}")
            return None
        self.problems.extend(p.within(path) for p in policy.warnings)
        return policy

    def inline_policies(
        self, raw: Mapping[str, Any], path: Path, owner_arn: str, quota: int, what: str
    ) -> tuple[Policy, ...]:
        where = (*path, "inline_policies")
        docs = self.mapping(raw, "inline_policies", path)
        out: list[Policy] = []
        total = 0
        for name, doc in docs.items():
            at = (*where, str(name))
            if not isinstance(name, str) or len(name) > 128 or not _INLINE_NAME.fullmatch(name):
                self.error(
                    at,
                    INVALID_INPUT,
                    f"inline policy name {name!r} must be 1–128 ASCII characters, "
                    "without \\ / * ? or whitespace",
                )
            policy = self.policy(
                doc, at, PolicyKind.IDENTITY, f"{owner_arn}:inline/{name}", self.inline_options
            )
            if policy is not None:
                out.append(policy)
                total += policy.size
            elif isinstance(doc, Mapping):
                with contextlib.suppress(TypeError, ValueError):  # not JSON data: reported already
                    total += compact_size(doc)
        if total > quota:
            self.error(
                where,
                LIMIT_EXCEEDED,
                f"the inline policies of {what} total {total} characters (whitespace not counted); "
                f"the quota is {quota}",
            )
        return tuple(out)

    def policy_refs(
        self,
        raw: Mapping[str, Any],
        path: Path,
        account: str,
        local: Mapping[str, str],
        quota: int,
        what: str,
    ) -> tuple[str, ...]:
        """``managed_policies``: ARNs of the account's own policies or of AWS-managed ones."""
        refs = self.strings(raw, "managed_policies", path, "a managed policy ARN")
        self.limit(len(refs), quota, (*path, "managed_policies"), f"managed policies attached to {what}")
        out = []
        for arn, where in refs:
            resolved = self.resolve_policy(arn, where, account, local)
            if resolved is not None:
                out.append(resolved)
        return tuple(out)

    def resolve_policy(self, arn: str, where: Path, account: str, local: Mapping[str, str]) -> str | None:
        key = arn.lower()
        found = local.get(key) or self.aws_by_lower.get(key)
        if found is None:
            self.error(
                where,
                NO_SUCH_ENTITY,
                f"no managed policy {arn} in account {account} (its policies) or in aws_managed_policies",
            )
        return found

    def boundary(
        self, raw: Mapping[str, Any], path: Path, account: str, local: Mapping[str, str]
    ) -> str | None:
        arn = self.string(raw, "permissions_boundary", path, nullable=True)
        if arn is None:
            return None
        return self.resolve_policy(arn, (*path, "permissions_boundary"), account, local)

    # --- names, ids, tags ----------------------------------------------------------------------

    def name(self, raw: Mapping[str, Any], path: Path, what: str, max_len: int) -> str:
        value = self.given(raw, "name", path)
        if value is not None and (len(value) > max_len or not _ENTITY_NAME.fullmatch(value)):
            self.error(
                (*path, "name"),
                INVALID_INPUT,
                f"{what} name {value!r} must be 1–{max_len} characters of letters, digits and +=,.@_-",
            )
        return value or ""

    def path_field(self, raw: Mapping[str, Any], path: Path, policy_path: bool = False) -> str:
        value = self.string(raw, "path", path, default="/")
        if value is None:
            return "/"
        pattern = _POLICY_PATH if policy_path else _ENTITY_PATH
        if len(value) > 512 or not pattern.fullmatch(value):
            rule = "letters, digits and .,+@=_- between slashes" if policy_path else "printable ASCII"
            self.error(
                (*path, "path"),
                INVALID_INPUT,
                f"path {value!r} must be '/' or start and end with '/', 1–512 characters of {rule}",
            )
        return value

    def unique_id(self, raw: Mapping[str, Any], path: Path, pattern: re.Pattern[str], prefix: str) -> str:
        value = self.given(raw, "id", path)
        if value is None:
            return ""
        if not pattern.fullmatch(value):
            self.error(
                (*path, "id"),
                INVALID_INPUT,
                f"unique id {value!r} must be {prefix} followed by 16–124 upper-case letters or digits",
            )
        else:
            self.unique(self.unique_ids, value, (*path, "id"), f"unique id {value}")
        return value

    def tags(self, raw: Mapping[str, Any], path: Path, principal: bool) -> Mapping[str, str]:
        """Tags of a user or role (principal tags: keys unique without case, no ``aws:``
        prefix) or of a resource (keys compare with case; AWS itself sets ``aws:`` tags)."""
        where = (*path, "tags")
        tags = self.mapping(raw, "tags", path)
        self.limit(len(tags), self.limits.tags_per_entity, where, "tags")
        out: dict[str, str] = {}
        seen: dict[str, str] = {}
        for key, value in tags.items():
            at = (*where, str(key))
            if not isinstance(key, str) or not (1 <= len(key) <= 128) or not _tag_text_ok(key):
                self.error(
                    at,
                    INVALID_INPUT,
                    f"tag key {key!r} must be 1–128 letters, digits, spaces or _.:/=+-@",
                )
                continue
            if principal and key.lower().startswith("aws:"):
                self.error(at, INVALID_INPUT, f"tag key {key!r}: the aws: prefix is reserved for AWS")
            if principal:
                other = seen.get(key.lower())
                if other is not None:
                    self.error(
                        at,
                        INVALID_INPUT,
                        f"tag key {key!r} repeats {other!r} (tag keys compare without case)",
                    )
                seen[key.lower()] = key
            if not isinstance(value, str):
                self.error(at, INVALID_INPUT, f"tag value must be a string, not {_json_type(value)}")
                continue
            if len(value) > 256 or not _tag_text_ok(value):
                self.error(at, INVALID_INPUT, "tag value must be 0–256 letters, digits, spaces or _.:/=+-@")
            out[key] = value
        return _frozen(out)

    # --- the document --------------------------------------------------------------------------

    def document(self, doc: Any) -> Snapshot | None:
        top = self.obj(doc, (), "a snapshot document", _TOP_KEYS, ("version",))
        if top is None:
            return None
        version = 0
        if "version" in top:
            parsed = _as_int(top["version"])
            if parsed is None or parsed < 0:
                self.error(
                    ("version",),
                    INVALID_INPUT,
                    f"version must be a non-negative integer, not {_show(top['version'])}",
                )
            else:
                version = parsed
        partition = self.string(top, "partition", (), default="aws")
        if partition not in PARTITIONS:
            if isinstance(top.get("partition"), str):
                self.error(("partition",), INVALID_INPUT, f"partition must be one of {', '.join(PARTITIONS)}")
            partition = "aws"
        self.partition = partition

        self.aws_managed(self.mapping(top, "aws_managed_policies", ()))
        raw_accounts = self.array(top, "accounts", ())
        if "organization" in top:
            self.organization(top["organization"], raw_accounts)

        accounts = []
        for i, raw in enumerate(raw_accounts):
            account = self.account(raw, ("accounts", i))
            if account is not None:
                accounts.append(account)
        self.scp_level_warnings()
        return Snapshot(
            version=version,
            partition=partition,
            accounts=tuple(accounts),
            organization=self.org,
            aws_managed_policies=MappingProxyType(self.aws_policies),
        )

    def aws_managed(self, docs: Mapping[Any, Any]) -> None:
        for key, doc in docs.items():
            at = ("aws_managed_policies", str(key))
            if not isinstance(key, str) or not _AWS_POLICY_KEY.fullmatch(key):
                self.error(
                    at,
                    INVALID_INPUT,
                    f"AWS-managed policy name {key!r} must be [PATH/]NAME (NAME: 1–128 of letters, "
                    "digits and +=,.@_-)",
                )
                continue
            arn = f"arn:{self.partition}:iam::aws:policy/{key}"
            self.aws_by_lower[arn.lower()] = arn  # attachable even when its document has errors
            policy = self.policy(doc, at, PolicyKind.IDENTITY, arn)
            if policy is None:
                continue
            head, _, name = key.rpartition("/")
            self.aws_policies[arn] = ManagedPolicy(arn, name, f"/{head}/" if head else "/", policy)

    # --- the organisation ----------------------------------------------------------------------

    def organization(self, raw: Any, raw_accounts: list[Any]) -> None:
        path: Path = ("organization",)
        org = self.obj(raw, path, "organization", _ORG_KEYS, ("id", "management_account"))
        if org is None:
            return
        self.has_org = True
        org_id = self.given(org, "id", path)
        if org_id is not None and not _ORG_ID.fullmatch(org_id):
            self.error((*path, "id"), INVALID_INPUT, f"organization id {org_id!r} is not an id")
        mgmt = self.given(org, "management_account", path)
        if mgmt is not None and not _ACCOUNT_ID.fullmatch(mgmt):
            self.error((*path, "management_account"), INVALID_INPUT, f"account id {mgmt!r} must be 12 digits")
        self.management_account = mgmt

        raw_units = self.array(org, "units", path)
        policies = self.org_policy_docs(org, path, raw_units, raw_accounts)
        units = self.units(raw_units, (*path, "units"))
        compiled = {name: p for name, p in policies.items() if p is not None}
        self.org = Organization(org_id or "", mgmt or "", MappingProxyType(compiled), tuple(units))

    def org_policy_docs(
        self, org: Mapping[str, Any], path: Path, raw_units: list[Any], raw_accounts: list[Any]
    ) -> dict[str, Policy | None]:
        """Compile ``organization.policies``, each as an SCP or an RCP by where it is attached
        (found by a first look at the units and accounts, before they are read)."""
        scp_at: dict[str, Path] = {}
        rcp_at: dict[str, Path] = {}
        holders = [(u, (*path, "units", i)) for i, u in enumerate(raw_units)]
        holders += [(a, ("accounts", i)) for i, a in enumerate(raw_accounts)]
        for holder, where in holders:
            if not isinstance(holder, Mapping):
                continue
            for key, uses in (("scps", scp_at), ("rcps", rcp_at)):
                names = holder.get(key)
                if isinstance(names, list):
                    for i, name in enumerate(names):
                        if isinstance(name, str):
                            uses.setdefault(name, (*where, key, i))

        docs = self.mapping(org, "policies", path)
        for name, doc in docs.items():
            at = (*path, "policies", str(name))
            if not isinstance(name, str) or not 1 <= len(name) <= 128:
                self.error(at, INVALID_INPUT, f"policy name {name!r} must be 1–128 characters")
                continue
            as_scp, as_rcp = scp_at.get(name), rcp_at.get(name)
            if as_scp is not None and as_rcp is not None:
                self.error(
                    at,
                    INVALID_INPUT,
                    f"{name!r} is attached both as an SCP (at {format_path(as_scp)}) and as an RCP "
                    f"(at {format_path(as_rcp)}); a policy is one or the other",
                )
            if as_scp is not None:
                kind = PolicyKind.SCP
            elif as_rcp is not None:
                kind = PolicyKind.RCP
            else:  # attached nowhere: RCPs name a Principal, SCPs never do
                kind = PolicyKind.RCP if _names_principal(doc) else PolicyKind.SCP
            self.org_policies[name] = self.policy(doc, at, kind, f"{kind.value}:{name}")
        return self.org_policies

    def units(self, raw_units: list[Any], path: Path) -> list[OrgUnit]:
        units: list[OrgUnit] = []
        index: dict[str, int] = {}
        parents: dict[str, str | None] = {}
        seen: dict[str, Path] = {}
        for i, raw in enumerate(raw_units):
            at = (*path, i)
            unit = self.obj(raw, at, "an organization unit", _UNIT_KEYS, ("id",))
            if unit is None:
                continue
            uid = self.given(unit, "id", at) or ""
            parent = self.string(unit, "parent", at, nullable=True)
            if uid and not _ORG_ID.fullmatch(uid):
                self.error((*at, "id"), INVALID_INPUT, f"unit id {uid!r} is not an id")
            elif uid and self.unique(seen, uid, (*at, "id"), f"organization unit {uid}"):
                index[uid] = i
                parents[uid] = parent
            scps = self.attachments(unit, at, "scps")
            rcps = self.attachments(unit, at, "rcps")
            self.levels.append(_Level((*at, "scps"), scps[0], scps[1]))
            units.append(OrgUnit(uid, parents.get(uid), scps[0], rcps[0]))
        self.unit_ids = set(index)
        self.tree(path, index, parents)
        return units

    def tree(self, path: Path, index: dict[str, int], parents: dict[str, str | None]) -> None:
        """Exactly one root; every parent exists; no cycles."""
        roots = [uid for uid, parent in parents.items() if parent is None]
        if not roots:
            self.error(path, INVALID_INPUT, "an organization needs exactly one root unit (parent null); none")
        for extra in roots[1:]:
            self.error(
                (*path, index[extra], "parent"),
                INVALID_INPUT,
                f"a second root unit (parent null); the root is {roots[0]!r} (units[{index[roots[0]]}])",
            )
        for uid, parent in parents.items():
            if parent is not None and parent not in parents:
                self.error((*path, index[uid], "parent"), NO_SUCH_ENTITY, f"no organization unit {parent!r}")
        done: set[str] = set()
        for start in parents:
            chain: list[str] = []
            on_chain: set[str] = set()
            current: str | None = start
            while current is not None and current in parents and current not in done:
                if current in on_chain:
                    cycle = chain[chain.index(current) :]
                    first = min(cycle, key=index.__getitem__)
                    loop = " → ".join([*cycle, current])
                    self.error(
                        (*path, index[first], "parent"), INVALID_INPUT, f"the parent chain is a cycle: {loop}"
                    )
                    break
                chain.append(current)
                on_chain.add(current)
                current = parents[current]
            done.update(chain)

    def attachments(self, raw: Mapping[str, Any], path: Path, key: str) -> tuple[tuple[str, ...], bool]:
        """The SCP or RCP names attached to a unit or an account: (names, all resolved)."""
        refs = self.strings(raw, key, path, "a policy name", fold=False)
        what = "SCPs" if key == "scps" else "RCPs"
        self.limit(len(refs), self.limits.policies_per_target_scp_rcp, (*path, key), f"{what} attached")
        names: list[str] = []
        resolved = True
        for name, where in refs:
            if name in self.org_policies:
                names.append(name)
                resolved = resolved and self.org_policies[name] is not None
            elif key == "rcps" and name == IMPLIED_RCP:
                continue  # implied everywhere
            else:
                self.error(
                    where,
                    NO_SUCH_ENTITY,
                    f"no policy {name!r} in organization.policies"
                    if self.has_org
                    else f"no policy {name!r}: the snapshot has no organization",
                )
                resolved = False
        return tuple(names), resolved

    def scp_level_warnings(self) -> None:
        for level in self.levels:
            if not level.resolved:
                continue
            policies = [self.org_policies[name] for name in level.scps]
            if not any(st.allow for p in policies if p is not None for st in p.statements):
                attached = ", ".join(level.scps) if level.scps else "none"
                self.warn(
                    level.path,
                    INVALID_INPUT,
                    f"the SCPs attached here ({attached}) allow nothing, so every action of every "
                    "account below is denied (attach FullAWSAccess or an Allow list)",
                )

    # --- accounts ------------------------------------------------------------------------------

    def account(self, raw: Any, path: Path) -> Account | None:
        obj = self.obj(raw, path, "an account", _ACCOUNT_KEYS, ("id",))
        if obj is None:
            return None
        given = self.given(obj, "id", path)
        account = given or ""
        if given is not None and not _ACCOUNT_ID.fullmatch(given):
            self.error((*path, "id"), INVALID_INPUT, f"account id {given!r} must be 12 digits")
        elif given is not None:
            self.unique(self.account_ids, given, (*path, "id"), f"account {given}")

        unit = self.string(obj, "unit", path, nullable=True)
        if unit is not None and unit not in self.unit_ids:
            known = "in organization.units" if self.has_org else "(the snapshot has no organization)"
            self.error((*path, "unit"), NO_SUCH_ENTITY, f"no organization unit {unit!r} {known}")
        scps, scps_ok = self.attachments(obj, path, "scps")
        rcps, _ = self.attachments(obj, path, "rcps")
        governed = unit is not None and self.has_org
        if account == self.management_account or not governed:
            why = "the management account"
            if account != self.management_account:
                why = "an account outside the organization"
            for key, names in (("scps", scps), ("rcps", rcps)):
                if names:
                    self.warn(
                        (*path, key),
                        INVALID_INPUT,
                        f"{key.upper()} do not apply to {why}; these are ignored",
                    )
        else:
            self.levels.append(_Level((*path, "scps"), scps, scps_ok))

        policies, local = self.managed_policies(obj, path, account)
        groups = self.groups(obj, path, account, local)
        users = self.users(obj, path, account, local, {g.name.lower(): g.name for g in groups})
        roles = self.roles(obj, path, account, local)
        resources = self.resources(obj, path, account)
        return Account(
            id=account,
            unit=unit,
            scps=scps,
            rcps=rcps,
            users=users,
            groups=groups,
            roles=roles,
            policies=policies,
            resources=resources,
        )

    def managed_policies(
        self, obj: Mapping[str, Any], path: Path, account: str
    ) -> tuple[tuple[ManagedPolicy, ...], dict[str, str]]:
        out: list[ManagedPolicy] = []
        local: dict[str, str] = {}  # lower-cased ARN → ARN
        seen: dict[str, Path] = {}
        for i, raw in enumerate(self.array(obj, "policies", path)):
            at = (*path, "policies", i)
            item = self.obj(raw, at, "a managed policy", _POLICY_KEYS, ("name", "document"))
            if item is None:
                continue
            name = self.name(item, at, "policy", 128)
            ppath = self.path_field(item, at, policy_path=True)
            arn = f"arn:{self.partition}:iam::{account}:policy/{ppath[1:]}{name}"
            if not self.unique(seen, arn.lower(), (*at, "name"), f"managed policy {arn}"):
                continue
            local[arn.lower()] = arn
            if "document" not in item:
                continue
            policy = self.policy(item["document"], (*at, "document"), PolicyKind.IDENTITY, arn)
            if policy is not None:
                out.append(ManagedPolicy(arn, name, ppath, policy))
        return tuple(out), local

    def groups(
        self, obj: Mapping[str, Any], path: Path, account: str, local: Mapping[str, str]
    ) -> tuple[Group, ...]:
        out: list[Group] = []
        seen: dict[str, Path] = {}
        limits = self.limits
        for i, raw in enumerate(self.array(obj, "groups", path)):
            at = (*path, "groups", i)
            item = self.obj(raw, at, "a group", _GROUP_KEYS, ("name",))
            if item is None:
                continue
            name = self.name(item, at, "group", 128)
            gpath = self.path_field(item, at)
            arn = f"arn:{self.partition}:iam::{account}:group/{gpath[1:]}{name}"
            self.unique(seen, name.lower(), (*at, "name"), f"group {name!r} (names compare without case)")
            managed = self.policy_refs(item, at, account, local, limits.managed_policies_per_group, "a group")
            inline = self.inline_policies(item, at, arn, limits.inline_bytes_group, "a group")
            out.append(Group(name, gpath, arn, managed, inline))
        return tuple(out)

    def users(
        self,
        obj: Mapping[str, Any],
        path: Path,
        account: str,
        local: Mapping[str, str],
        groups: Mapping[str, str],
    ) -> tuple[User, ...]:
        out: list[User] = []
        seen: dict[str, Path] = {}
        limits = self.limits
        for i, raw in enumerate(self.array(obj, "users", path)):
            at = (*path, "users", i)
            item = self.obj(raw, at, "a user", _USER_KEYS, ("name", "id"))
            if item is None:
                continue
            name = self.name(item, at, "user", 64)
            upath = self.path_field(item, at)
            arn = f"arn:{self.partition}:iam::{account}:user/{upath[1:]}{name}"
            self.unique(seen, name.lower(), (*at, "name"), f"user {name!r} (names compare without case)")
            uid = self.unique_id(item, at, _USER_ID, "AIDA")

            member_of = self.strings(item, "groups", at, "a group name")
            self.limit(len(member_of), limits.groups_per_user, (*at, "groups"), "groups")
            group_names = []
            for group, where in member_of:
                canonical = groups.get(group.lower())
                if canonical is None:
                    self.error(where, NO_SUCH_ENTITY, f"no group {group!r} in account {account}")
                else:
                    group_names.append(canonical)

            managed = self.policy_refs(item, at, account, local, limits.managed_policies_per_user, "a user")
            inline = self.inline_policies(item, at, arn, limits.inline_bytes_user, "a user")
            boundary = self.boundary(item, at, account, local)
            tags = self.tags(item, at, principal=True)
            keys = self.access_keys(item, at)
            mfa = self.mfa_devices(item, at)
            out.append(
                User(
                    name=name,
                    path=upath,
                    arn=arn,
                    id=uid,
                    account=account,
                    groups=tuple(group_names),
                    managed_policies=managed,
                    inline_policies=inline,
                    permissions_boundary=boundary,
                    tags=tags,
                    access_keys=keys,
                    mfa_devices=mfa,
                )
            )
        return tuple(out)

    def access_keys(self, obj: Mapping[str, Any], path: Path) -> tuple[AccessKey, ...]:
        items = self.array(obj, "access_keys", path)
        self.limit(len(items), self.limits.access_keys_per_user, (*path, "access_keys"), "access keys")
        out: list[AccessKey] = []
        for i, raw in enumerate(items):
            at = (*path, "access_keys", i)
            item = self.obj(raw, at, "an access key", _ACCESS_KEY_KEYS, ("id", "secret_sha256"))
            if item is None:
                continue
            key_id = self.given(item, "id", at)
            if key_id is not None and not _ACCESS_KEY_ID.fullmatch(key_id):
                self.error(
                    (*at, "id"),
                    INVALID_INPUT,
                    f"access key id {key_id!r} must be AKIA followed by 16 upper-case letters or digits",
                )
            elif key_id is not None:
                self.unique(self.access_key_ids, key_id, (*at, "id"), f"access key {key_id}")
            secret = self.given(item, "secret_sha256", at)
            if secret is not None and not _SHA256_HEX.fullmatch(secret):
                self.error(
                    (*at, "secret_sha256"), INVALID_INPUT, "secret_sha256 must be 64 hexadecimal digits"
                )
            status = self.string(item, "status", at, default="Active")
            if status not in ("Active", "Inactive"):
                self.error(
                    (*at, "status"), INVALID_INPUT, f'status must be "Active" or "Inactive", not {status!r}'
                )
            out.append(AccessKey(key_id or "", (secret or "").lower(), status or "Active"))
        return tuple(out)

    def mfa_devices(self, obj: Mapping[str, Any], path: Path) -> tuple[MfaDevice, ...]:
        items = self.array(obj, "mfa_devices", path)
        self.limit(len(items), self.limits.mfa_devices_per_user, (*path, "mfa_devices"), "MFA devices")
        out: list[MfaDevice] = []
        for i, raw in enumerate(items):
            at = (*path, "mfa_devices", i)
            item = self.obj(raw, at, "an MFA device", _MFA_KEYS, ("serial", "totp_seed_base32"))
            if item is None:
                continue
            serial = self.given(item, "serial", at)
            if serial is not None and not _MFA_SERIAL.fullmatch(serial):
                self.error(
                    (*at, "serial"),
                    INVALID_INPUT,
                    "an MFA serial is 9–256 characters of letters, digits and +=/:,.@_- "
                    "(an mfa/… ARN or a hardware serial)",
                )
            elif serial is not None:
                self.unique(self.mfa_serials, serial, (*at, "serial"), f"MFA device {serial}")
            seed = self.given(item, "totp_seed_base32", at)
            if seed is not None and not _is_base32(seed):
                self.error(
                    (*at, "totp_seed_base32"), INVALID_INPUT, "the TOTP seed must be base32 (A–Z, 2–7)"
                )
            out.append(MfaDevice(serial or "", seed or ""))
        return tuple(out)

    def roles(
        self, obj: Mapping[str, Any], path: Path, account: str, local: Mapping[str, str]
    ) -> tuple[Role, ...]:
        out: list[Role] = []
        seen: dict[str, Path] = {}
        limits = self.limits
        for i, raw in enumerate(self.array(obj, "roles", path)):
            at = (*path, "roles", i)
            item = self.obj(raw, at, "a role", _ROLE_KEYS, ("name", "id", "trust_policy"))
            if item is None:
                continue
            name = self.name(item, at, "role", 64)
            rpath = self.path_field(item, at)
            arn = f"arn:{self.partition}:iam::{account}:role/{rpath[1:]}{name}"
            self.unique(seen, name.lower(), (*at, "name"), f"role {name!r} (names compare without case)")
            rid = self.unique_id(item, at, _ROLE_ID, "AROA")
            trust = None
            if "trust_policy" in item:
                trust = self.policy(item["trust_policy"], (*at, "trust_policy"), PolicyKind.TRUST, arn)
            duration = 3600
            if "max_session_duration" in item:
                value = _as_int(item["max_session_duration"])
                if value is None or not 3600 <= value <= 43200:
                    self.error(
                        (*at, "max_session_duration"),
                        INVALID_INPUT,
                        f"max_session_duration must be an integer from 3600 to 43200 seconds, "
                        f"not {_show(item['max_session_duration'])}",
                    )
                else:
                    duration = value
            managed = self.policy_refs(item, at, account, local, limits.managed_policies_per_role, "a role")
            inline = self.inline_policies(item, at, arn, limits.inline_bytes_role, "a role")
            boundary = self.boundary(item, at, account, local)
            tags = self.tags(item, at, principal=True)
            if trust is None:
                continue  # an error is recorded; nothing to build
            out.append(
                Role(
                    name=name,
                    path=rpath,
                    arn=arn,
                    id=rid,
                    account=account,
                    trust_policy=trust,
                    max_session_duration=duration,
                    managed_policies=managed,
                    inline_policies=inline,
                    permissions_boundary=boundary,
                    tags=tags,
                )
            )
        return tuple(out)

    def resources(self, obj: Mapping[str, Any], path: Path, account: str) -> tuple[Resource, ...]:
        out: list[Resource] = []
        for i, raw in enumerate(self.array(obj, "resources", path)):
            at = (*path, "resources", i)
            item = self.obj(raw, at, "a resource", _RESOURCE_KEYS, ("arn",))
            if item is None:
                continue
            arn = self.given(item, "arn", at)
            if arn is not None:
                self.resource_arn(arn, (*at, "arn"), account)
            arn = arn or ""
            policy = None
            if item.get("policy") is not None:
                policy = self.policy(item["policy"], (*at, "policy"), PolicyKind.RESOURCE, arn)
            tags = self.tags(item, at, principal=False)
            out.append(Resource(arn, account, policy, tags))
        return tuple(out)

    def resource_arn(self, arn: str, where: Path, account: str) -> None:
        parts = arn.split(":", 5)
        if len(parts) < 6 or parts[0] != "arn" or not parts[2] or not parts[5]:
            self.error(
                where, INVALID_INPUT, f"{arn!r} is not an ARN (arn:partition:service:region:account:resource)"
            )
            return
        if parts[1] != self.partition:
            self.error(
                where, INVALID_INPUT, f"{arn}: partition {parts[1]!r}, but the snapshot is {self.partition!r}"
            )
        if parts[4] and parts[4] != account:
            self.error(
                where, INVALID_INPUT, f"{arn} names account {parts[4]}, but it is listed in account {account}"
            )
        self.unique(self.resource_arns, arn, where, f"resource {arn}")


def _names_principal(doc: Any) -> bool:
    if not isinstance(doc, Mapping):
        return False
    statements = doc.get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list):
        return False
    return any(isinstance(st, Mapping) and ("Principal" in st or "NotPrincipal" in st) for st in statements)


def _is_base32(seed: str) -> bool:
    if not _BASE32.fullmatch(seed):
        return False
    body = seed.rstrip("=").upper()
    try:
        base64.b32decode(body + "=" * (-len(body) % 8))
    except (binascii.Error, ValueError):
        return False
    return True


def _read(data: bytes | bytearray | str | Mapping[str, Any], loader: _Loader) -> Any:
    """The parsed document (a strict read: duplicate keys stay visible), or _MISSING."""
    if not isinstance(data, bytes | bytearray | str):
        return data
    try:
        return loads(bytes(data) if isinstance(data, bytearray) else data)
    except UnicodeDecodeError as exc:
        loader.error((), INVALID_INPUT, f"the snapshot is not UTF-8 text: {exc}")
    except (ValueError, RecursionError) as exc:
        loader.error((), INVALID_INPUT, f"the snapshot is not valid JSON: {exc}")
    return _MISSING


def _run(data: Any, limits: SnapshotLimits) -> tuple[list[Problem], Snapshot | None]:
    loader = _Loader(limits)
    doc = _read(data, loader)
    snapshot = None if doc is _MISSING else loader.document(doc)
    return loader.problems, snapshot


def validate_snapshot(
    data: bytes | bytearray | str | Mapping[str, Any], *, limits: SnapshotLimits = DEFAULT_LIMITS
) -> list[Problem]:
    """Every problem (errors and warnings) of a snapshot document: JSON bytes or text, or an
    already parsed mapping."""
    return _run(data, limits)[0]


def load_snapshot(
    data: bytes | bytearray | str | Mapping[str, Any], *, limits: SnapshotLimits = DEFAULT_LIMITS
) -> Snapshot:
    """The snapshot model, every policy compiled; raises SnapshotValidationError listing every
    problem when there is any error. ``sha256`` is of the bytes given (text: its UTF-8; a
    mapping: its canonical JSON, keys sorted, no spaces)."""
    problems, snapshot = _run(data, limits)
    if snapshot is None or any(p.is_error for p in problems):
        raise SnapshotValidationError(problems)
    return replace(snapshot, sha256=_sha256(data), warnings=tuple(problems))
