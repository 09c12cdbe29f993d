"""AssumeRole parameters and their shape rules (reference §7.1), checked before anything else.

Every violated constraint is reported at once, in AWS's words: "2 validation errors detected:
Value '…' at 'roleSessionName' failed to satisfy constraint: Member must …". The error's
``field`` is the first offending field's proto name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .errors import INVALID_PARAMETER_VALUE, VALIDATION_ERROR, StsError

DEFAULT_DURATION = 3600
MIN_DURATION = 900
MAX_DURATION = 43200
CHAINED_MAX_DURATION = 3600
MAX_POLICY_ARNS = 10
MAX_TAGS = 50
PLAINTEXT_POLICY_LIMIT = 2048  # characters of Policy + PolicyArns together

_NAME = re.compile(r"[\w+=,.@-]*", re.ASCII)
_EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]*", re.ASCII)
_SERIAL = re.compile(r"[\w+=/:,.@-]*", re.ASCII)
_TOKEN_CODE = re.compile(r"[0-9]{6}")
# [\p{L}\p{Z}\p{N}_.:/=+\-@]: Unicode \w covers letters, digits and "_"; \p{Z} is the space
# separators plus the line and paragraph separators (not \s: no tabs or line feeds).
_SEPARATORS = "\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_TAG = re.compile(f"[\\w{_SEPARATORS}.:/=+\\-@]*")
_POLICY_CHARS = re.compile(r"[\t\n\r\u0020-\u00ff]+")
_ROLE_ARN = re.compile(r"arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role/(?:[\x21-\x7e]*/)?([\w+=,.@-]{1,64})")


@dataclass(frozen=True)
class AssumeRoleParams:
    """The AssumeRole request (the caller and the request context travel separately)."""

    role_arn: str
    role_session_name: str
    duration_seconds: int | None = None  # None: the default
    policy: str | None = None
    policy_arns: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    transitive_tag_keys: tuple[str, ...] = ()
    external_id: str | None = None
    serial_number: str | None = None
    token_code: str | None = None
    source_identity: str | None = None
    context: Mapping[str, object] = field(default_factory=dict)  # request keys, normalised


@dataclass
class _Report:
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (proto field, AWS member, text)

    def fail(self, proto_field: str, member: str, value: object, constraint: str) -> None:
        shown = value if isinstance(value, str) else repr(value)
        if isinstance(shown, str) and len(shown) > 64:
            shown = shown[:64] + "…"
        self.problems.append(
            (
                proto_field,
                member,
                f"Value '{shown}' at '{member}' failed to satisfy constraint: Member must {constraint}",
            )
        )

    def length(self, proto_field: str, member: str, value: str, lo: int, hi: int) -> bool:
        if len(value) < lo:
            self.fail(proto_field, member, value, f"have length greater than or equal to {lo}")
            return False
        if len(value) > hi:
            self.fail(proto_field, member, value, f"have length less than or equal to {hi}")
            return False
        return True

    def pattern(self, proto_field: str, member: str, value: str, regex: re.Pattern[str], text: str) -> None:
        if regex.fullmatch(value) is None:
            self.fail(proto_field, member, value, f"satisfy regular expression pattern: {text}")

    def raise_if_any(self) -> None:
        if not self.problems:
            return
        n = len(self.problems)
        noun = "error" if n == 1 else "errors"
        message = f"{n} validation {noun} detected: " + "; ".join(p[2] for p in self.problems)
        raise StsError(VALIDATION_ERROR, message, self.problems[0][0])


def check_shapes(p: AssumeRoleParams) -> None:
    """ValidationError listing every shape violation (lengths, patterns, ranges, counts)."""
    r = _Report()
    if r.length("role_arn", "roleArn", p.role_arn, 20, 2048) and _ROLE_ARN.fullmatch(p.role_arn) is None:
        r.fail("role_arn", "roleArn", p.role_arn, "be a role ARN (arn:PARTITION:iam::ACCOUNT:role/PATH/NAME)")
    if r.length("role_session_name", "roleSessionName", p.role_session_name, 2, 64):
        r.pattern("role_session_name", "roleSessionName", p.role_session_name, _NAME, r"[\w+=,.@-]*")
    if p.duration_seconds is not None and not MIN_DURATION <= p.duration_seconds <= MAX_DURATION:
        bound = (
            "greater than or equal to 900"
            if p.duration_seconds < MIN_DURATION
            else "less than or equal to 43200"
        )
        r.fail("duration_seconds", "durationSeconds", str(p.duration_seconds), f"have value {bound}")
    if p.policy is not None and r.length("policy", "policy", p.policy, 1, 1 << 20):
        r.pattern("policy", "policy", p.policy, _POLICY_CHARS, r"[\u0009\u000A\u000D\u0020-\u00FF]+")
    if len(p.policy_arns) > MAX_POLICY_ARNS:
        r.fail(
            "policy_arns",
            "policyArns",
            f"{len(p.policy_arns)} ARNs",
            f"have length less than or equal to {MAX_POLICY_ARNS}",
        )
    for i, arn in enumerate(p.policy_arns):
        r.length("policy_arns", f"policyArns.{i + 1}.member.arn", arn, 20, 2048)
    if len(p.tags) > MAX_TAGS:
        r.fail("tags", "tags", f"{len(p.tags)} tags", f"have length less than or equal to {MAX_TAGS}")
    for i, (key, value) in enumerate(p.tags):
        if r.length("tags", f"tags.{i + 1}.member.key", key, 1, 128):
            r.pattern("tags", f"tags.{i + 1}.member.key", key, _TAG, r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+")
        if r.length("tags", f"tags.{i + 1}.member.value", value, 0, 256):
            r.pattern("tags", f"tags.{i + 1}.member.value", value, _TAG, r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*")
    if len(p.transitive_tag_keys) > MAX_TAGS:
        r.fail(
            "transitive_tag_keys",
            "transitiveTagKeys",
            f"{len(p.transitive_tag_keys)} keys",
            f"have length less than or equal to {MAX_TAGS}",
        )
    for i, key in enumerate(p.transitive_tag_keys):
        if r.length("transitive_tag_keys", f"transitiveTagKeys.{i + 1}.member", key, 1, 128):
            r.pattern(
                "transitive_tag_keys",
                f"transitiveTagKeys.{i + 1}.member",
                key,
                _TAG,
                r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+",
            )
    if p.external_id is not None and r.length("external_id", "externalId", p.external_id, 2, 1224):
        r.pattern("external_id", "externalId", p.external_id, _EXTERNAL_ID, r"[\w+=,.@:/-]*")
    if p.serial_number is not None and r.length("serial_number", "serialNumber", p.serial_number, 9, 256):
        r.pattern("serial_number", "serialNumber", p.serial_number, _SERIAL, r"[\w+=/:,.@-]*")
    if p.token_code is not None and r.length("token_code", "tokenCode", p.token_code, 6, 6):
        r.pattern("token_code", "tokenCode", p.token_code, _TOKEN_CODE, r"[\d]*")
    if p.source_identity is not None and r.length(
        "source_identity", "sourceIdentity", p.source_identity, 2, 64
    ):
        r.pattern("source_identity", "sourceIdentity", p.source_identity, _NAME, r"[\w+=,.@-]*")
    r.raise_if_any()
    if p.source_identity is not None and p.source_identity.lower().startswith("aws:"):
        raise StsError(VALIDATION_ERROR, "SourceIdentity must not start with 'aws:'", "source_identity")
    if (p.serial_number is None) != (p.token_code is None):
        missing = "token_code" if p.token_code is None else "serial_number"
        raise StsError(VALIDATION_ERROR, "SerialNumber and TokenCode must be passed together", missing)


def check_tags(p: AssumeRoleParams, inherited_transitive: Sequence[str]) -> None:
    """Tag rules (reference §7.2 step 4) → InvalidParameterValue."""
    seen: dict[str, str] = {}
    for key, _ in p.tags:
        low = key.lower()
        if low.startswith("aws:"):
            raise StsError(
                INVALID_PARAMETER_VALUE, f"Tag key {key!r} uses the reserved prefix 'aws:'", "tags"
            )
        if low in seen:
            raise StsError(
                INVALID_PARAMETER_VALUE,
                f"Duplicate tag keys found. Tag keys are case insensitive: {seen[low]!r} and {key!r}",
                "tags",
            )
        seen[low] = key
    for key in p.transitive_tag_keys:
        if key.lower() not in seen:
            raise StsError(
                INVALID_PARAMETER_VALUE,
                f"The specified transitive tag key must be included in the requested tags: {key!r}",
                "transitive_tag_keys",
            )
    inherited = {k.lower() for k in inherited_transitive}
    for key, _ in p.tags:
        if key.lower() in inherited:
            raise StsError(
                INVALID_PARAMETER_VALUE,
                f"Tag key {key!r} is a transitive tag of the calling session and cannot be overridden",
                "tags",
            )


def role_arn_parts(role_arn: str) -> tuple[str, str, str]:
    """(partition, account, role name) of a shape-checked role ARN."""
    m = _ROLE_ARN.fullmatch(role_arn)
    assert m is not None
    return m.group(1), m.group(2), m.group(3)
