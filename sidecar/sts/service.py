"""AssumeRole and credential callers (reference §6–§8).

:class:`Sts` turns a caller (a trusted principal ARN, a long-term access key from the snapshot,
or a session's credentials) into an :class:`Authenticated` requester, and performs AssumeRole in
the order of reference §7.2: caller kind, parameter shapes, session policy, tag rules,
authorization of ``sts:AssumeRole`` (plus ``sts:TagSession`` / ``sts:SetSourceIdentity`` as
needed) with the role's trust policy as the resource policy through the full decision
algorithm, duration, packed size, then the credentials.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import threading
import weakref
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from cachetools import LRUCache
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor import InvalidToken
from cryptography.hazmat.primitives.twofactor.totp import TOTP

from ..engine.compile import CompiledSnapshot, PrincipalEntry
from ..engine.decision import DecisionKind
from ..engine.evaluate import evaluate
from ..engine.policyset import PolicyGroup
from ..engine.principal import PrincipalKind
from ..policy import PolicyKind, PolicyValidationError, parse_policy
from ..snapshot.model import User
from .errors import (
    ACCESS_DENIED,
    INVALID_CLIENT_TOKEN_ID,
    INVALID_PARAMETER_VALUE,
    MALFORMED_POLICY,
    MISSING_AUTHENTICATION_TOKEN,
    PACKED_POLICY_TOO_LARGE,
    SIGNATURE_DOES_NOT_MATCH,
    VALIDATION_ERROR,
    StsError,
)
from .params import (
    CHAINED_MAX_DURATION,
    DEFAULT_DURATION,
    PLAINTEXT_POLICY_LIMIT,
    AssumeRoleParams,
    check_shapes,
    check_tags,
    role_arn_parts,
)
from .tokens import IssuedCredentials, SessionClaims, TokenCodec, new_access_key_id

# The packed-size measure (reference §7.2 step 7: AWS's is not public): the zlib-compressed
# length of the session policy (as sent), the policy ARNs and the session tags, against a
# budget of this many bytes. PackedPolicySize is that as a whole percentage, rounded up.
PACKED_BUDGET_BYTES = 2048
# Context keys that only AssumeRole's own parameters set (lower-case prefixes).
_PARAMETER_KEY_PREFIXES = ("sts:", "aws:requesttag/", "aws:tagkeys")
_TOTP_STEP = 30


@dataclass(frozen=True, slots=True)
class Authenticated:
    """A requester after authentication.

    ``entry``: the principal and its base policy sets; ``session``: session policies (None:
    none); ``session_key``: what tells two sessions with one ARN apart (the decision cache
    key); ``claims``: the session token's claims (credential sessions); ``user``: the IAM
    user for a long-term access key or a user ARN (MFA devices); ``via``: "arn",
    "access-key" or "session"."""

    entry: PrincipalEntry
    session: PolicyGroup | None = None
    session_key: str = ""
    claims: SessionClaims | None = None
    user: User | None = None
    via: str = "arn"

    def request_keys(self, now: float) -> dict[str, object]:
        """Session keys that change with time (aws:MultiFactorAuthAge), lower-case."""
        claims = self.claims
        if claims is not None and claims.mfa_at is not None:
            return {"aws:multifactorauthage": str(max(0, int(now - claims.mfa_at)))}
        return {}


@dataclass(frozen=True, slots=True)
class AssumedRole:
    credentials: IssuedCredentials
    arn: str  # arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION
    assumed_role_id: str  # AROA…:SESSION
    packed_policy_size: int  # percent; 0 when no session policies or tags were passed
    source_identity: str | None
    claims: SessionClaims


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_tags(base: Mapping[str, str], *overlays: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """Tags merged case-insensitively by key, the later overriding, keeping the case given."""
    out: dict[str, tuple[str, str]] = {k.lower(): (k, v) for k, v in base.items()}
    for overlay in overlays:
        for k, v in overlay:
            out[k.lower()] = (k, v)
    return dict(out.values())


class Sts:
    """The STS room's entry point; one per sidecar. ``clock`` is the only time source."""

    def __init__(self, codec: TokenCodec, *, clock: Callable[[], float]) -> None:
        self.codec = codec
        self.clock = clock
        # Built session requesters by token, for one compiled snapshot: a session presents its
        # token on every call; its principal and session policies are built once. A call with
        # another snapshot empties it (never keyed by id(): ids are reused once freed, and a
        # freed snapshot's session must never answer for the next one), and the weak
        # reference keeps no old snapshot alive.
        self._sessions: LRUCache[str, Authenticated] = LRUCache(maxsize=16384)
        self._sessions_of: weakref.ref[CompiledSnapshot] | None = None
        self._lock = threading.Lock()

    # -- authentication ------------------------------------------------------------------------

    def authenticate_arn(self, compiled: CompiledSnapshot, arn: str) -> Authenticated:
        entry = compiled.resolve_principal(arn)  # PrincipalError for a malformed ARN
        user = None
        if entry.principal.kind is PrincipalKind.USER:
            user = compiled.users_by_arn.get(arn)
        return Authenticated(entry, user=user)

    def authenticate_keys(
        self,
        compiled: CompiledSnapshot,
        access_key_id: str,
        secret_access_key: str,
        session_token: str,
    ) -> Authenticated:
        """A long-term user key (AKIA…, the secret required) or a session (ASIA…, the token
        required). Raises StsError with InvalidClientTokenId / ExpiredToken /
        SignatureDoesNotMatch / MissingAuthenticationToken, or AccessDenied when the
        session's role no longer exists."""
        if not access_key_id:
            raise StsError(
                MISSING_AUTHENTICATION_TOKEN, "credentials.access_key_id is required", "caller.credentials"
            )
        if session_token:
            return self._session(compiled, access_key_id, secret_access_key, session_token)
        user = compiled.users_by_access_key.get(access_key_id)
        key = None if user is None else next((k for k in user.access_keys if k.id == access_key_id), None)
        if user is None or key is None or key.status != "Active":
            raise StsError(
                INVALID_CLIENT_TOKEN_ID,
                "The security token included in the request is invalid.",
                "caller.credentials.access_key_id",
            )
        if not secret_access_key:
            raise StsError(
                MISSING_AUTHENTICATION_TOKEN,
                "a long-term access key needs its secret_access_key (or a session_token for ASIA keys)",
                "caller.credentials.secret_access_key",
            )
        presented = hashlib.sha256(secret_access_key.encode()).hexdigest()
        if not hmac.compare_digest(presented.encode(), key.secret_sha256.lower().encode()):
            raise StsError(
                SIGNATURE_DOES_NOT_MATCH,
                "The request signature we calculated does not match the signature you provided.",
                "caller.credentials.secret_access_key",
            )
        return Authenticated(compiled.principals[user.arn], user=user, via="access-key")

    def _session(
        self, compiled: CompiledSnapshot, access_key_id: str, secret: str, token: str
    ) -> Authenticated:
        claims = self.codec.verify(access_key_id, token, secret or None, self.clock())
        with self._lock:
            owner = self._sessions_of() if self._sessions_of is not None else None
            if owner is not compiled:
                self._sessions = LRUCache(maxsize=self._sessions.maxsize)
                self._sessions_of = weakref.ref(compiled)
            hit = self._sessions.get(token)
        if hit is not None:
            return hit
        role = compiled.role(claims.role_arn)
        if role is None or role.id != claims.role_id:
            raise StsError(
                ACCESS_DENIED,
                f"the role {claims.role_arn} of this session no longer exists (or was recreated)",
                "caller.credentials",
            )
        extra: dict[str, object] = {
            "aws:tokenissuetime": _iso(claims.issued_at),
            "aws:multifactorauthpresent": "true" if claims.mfa_at is not None else "false",
        }
        if claims.source_identity is not None:
            extra["aws:sourceidentity"] = claims.source_identity
        tags = merge_tags(role.tags, claims.tags)
        entry = compiled.session_entry(claims.role_arn, claims.session_name, tags, extra)
        assert entry is not None  # the role exists
        try:
            session = self._session_policies(compiled, claims.policy, claims.policy_arns, claims.account)
        except StsError as err:  # a session policy ARN gone from this snapshot: fail closed
            raise StsError(
                ACCESS_DENIED, f"the session's policies no longer resolve: {err.message}"
            ) from None
        auth = Authenticated(
            entry, session, f"token:{hashlib.sha256(token.encode()).hexdigest()[:32]}", claims, via="session"
        )
        with self._lock:
            if self._sessions_of is not None and self._sessions_of() is compiled:
                self._sessions[token] = auth
        return auth

    @staticmethod
    def _session_policies(
        compiled: CompiledSnapshot, policy: str | None, arns: tuple[str, ...], account: str
    ) -> PolicyGroup | None:
        if policy is None and not arns:
            return None
        policies = []
        if policy is not None:
            try:
                policies.append(parse_policy(policy, PolicyKind.SESSION, name="session-policy"))
            except PolicyValidationError as exc:
                problems = "; ".join(str(p) for p in exc.errors)
                raise StsError(
                    MALFORMED_POLICY, f"The session policy is not valid: {problems}", "policy"
                ) from None
        for arn in arns:
            managed = compiled.managed_policy(arn)
            if managed is None or not (f":iam::{account}:policy/" in arn or ":iam::aws:policy/" in arn):
                raise StsError(
                    INVALID_PARAMETER_VALUE,
                    f"The policy {arn} does not exist or is not attachable (it must be an AWS-managed "
                    "policy or a managed policy of the role's account)",
                    "policy_arns",
                )
            policies.append(managed)
        return PolicyGroup(policies)

    # -- AssumeRole ----------------------------------------------------------------------------

    def assume_role(
        self, compiled: CompiledSnapshot, caller: Authenticated, params: AssumeRoleParams
    ) -> AssumedRole:
        now = self.clock()
        p = caller.entry.principal
        caller_arn = p.arn or "anonymous"
        # 1. Who may call AssumeRole at all.
        if p.kind is PrincipalKind.ANONYMOUS:
            raise StsError(MISSING_AUTHENTICATION_TOKEN, "AssumeRole needs an authenticated caller", "caller")
        if p.kind is PrincipalKind.ROOT:
            raise StsError(ACCESS_DENIED, "Roles may not be assumed by root accounts.", "caller")
        if p.kind is PrincipalKind.FEDERATED_USER:
            raise StsError(
                ACCESS_DENIED,
                "A federated-user session cannot call AssumeRole (only GetCallerIdentity).",
                "caller",
            )
        if (
            caller.entry.key not in compiled.principals
            and caller.claims is None
            and not self._known_session(compiled, caller)
        ):
            raise not_authorized(caller_arn, "sts:AssumeRole", params.role_arn, "caller")
        # 2. Shapes, 3. the session policy, 4. tag rules.
        check_shapes(params)
        plaintext = len(params.policy or "") + sum(len(a) for a in params.policy_arns)
        if plaintext > PLAINTEXT_POLICY_LIMIT:
            raise StsError(
                PACKED_POLICY_TOO_LARGE,
                f"The session policy text and policy ARNs are {plaintext} characters; at most "
                f"{PLAINTEXT_POLICY_LIMIT} are allowed.",
                "policy",
            )
        _, role_account, _ = role_arn_parts(params.role_arn)
        self._session_policies(compiled, params.policy, params.policy_arns, role_account)  # valid?
        inherited_keys = caller.claims.transitive_keys if caller.claims is not None else ()
        check_tags(params, inherited_keys)
        role = compiled.role(params.role_arn)
        if role is None:  # an unknown role: its existence is not revealed
            raise not_authorized(caller_arn, "sts:AssumeRole", params.role_arn, "role_arn")
        # MFA presented with this call (a user's registered device, RFC 6238).
        mfa_now = False
        if params.serial_number is not None and params.token_code is not None:
            if not self._mfa_ok(caller.user, params.serial_number, params.token_code, now):
                raise StsError(
                    ACCESS_DENIED,
                    "MultiFactorAuthentication failed with invalid MFA one time pass code.",
                    "token_code",
                )
            mfa_now = True
        inherited_source = caller.claims.source_identity if caller.claims is not None else None
        if inherited_source is not None and params.source_identity not in (None, inherited_source):
            raise StsError(
                ACCESS_DENIED,
                f"The source identity {inherited_source!r} of the calling session cannot be changed",
                "source_identity",
            )
        # 5. Authorization: the trust policy as the resource policy, through the whole algorithm.
        inherited_tags = self._inherited_transitive(caller)
        context = self._trust_context(caller, params, inherited_tags, mfa_now, now)
        actions = ["sts:AssumeRole"]
        if params.tags or params.transitive_tag_keys:
            actions.append("sts:TagSession")
        if params.source_identity is not None:
            actions.append("sts:SetSourceIdentity")
        for action in actions:
            request, sets = compiled.prepare(
                caller.entry, action, params.role_arn, context=context, session=caller.session
            )
            if inherited_tags:  # an inherited transitive tag replaces the role tag (reference §6.4)
                overlay = {"aws:resourcetag/" + k.lower(): v for k, v in inherited_tags}
                request.resource_context = {**(request.resource_context or {}), **overlay}
            decision = evaluate(request, sets, now)
            if decision.kind is not DecisionKind.ALLOW:
                raise not_authorized(caller_arn, action, params.role_arn, "role_arn")
        # 6. Duration.
        duration = params.duration_seconds or DEFAULT_DURATION
        if duration > role.max_session_duration:
            raise StsError(
                VALIDATION_ERROR,
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
                "duration_seconds",
            )
        chained = p.kind in (PrincipalKind.ROLE_SESSION, PrincipalKind.ROLE)
        if chained and duration > CHAINED_MAX_DURATION:
            raise StsError(
                VALIDATION_ERROR,
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by "
                "role chaining.",
                "duration_seconds",
            )
        # 7. Packed size.
        tags = tuple(inherited_tags) + tuple(params.tags)
        packed = 0
        if params.policy is not None or params.policy_arns or tags:
            packed = packed_policy_size(params.policy, params.policy_arns, tags)
            if packed > 100:
                what = "session tags" if tags and not params.policy else "policy"
                raise StsError(
                    PACKED_POLICY_TOO_LARGE,
                    f"Packed size of {what} consumes {packed}% of allotted space, please use smaller "
                    "policy and tags.",
                    "policy" if what == "policy" else "tags",
                )
        # The session.
        transitive = tuple(sorted({*inherited_keys, *(k.lower() for k in params.transitive_tag_keys)}))
        source_identity = inherited_source or params.source_identity
        claims = SessionClaims(
            access_key_id=new_access_key_id(),
            role_arn=role.arn,
            role_id=role.id,
            session_name=params.role_session_name,
            account=role.account,
            partition=compiled.partition,
            issued_at=now,
            expires_at=now + duration,
            policy=params.policy,
            policy_arns=params.policy_arns,
            tags=tags,
            transitive_keys=transitive,
            source_identity=source_identity,
            mfa_at=now if mfa_now else None,
            chain_depth=(caller.claims.chain_depth + 1)
            if caller.claims is not None
            else (1 if chained else 0),
        )
        credentials = self.codec.issue(claims)
        return AssumedRole(
            credentials=credentials,
            arn=claims.session_arn,
            assumed_role_id=f"{role.id}:{params.role_session_name}",
            packed_policy_size=packed,
            source_identity=source_identity,
            claims=claims,
        )

    @staticmethod
    def _known_session(compiled: CompiledSnapshot, caller: Authenticated) -> bool:
        p = caller.entry.principal
        return p.kind is PrincipalKind.ROLE_SESSION and p.role_arn in compiled.role_entries

    @staticmethod
    def _inherited_transitive(caller: Authenticated) -> tuple[tuple[str, str], ...]:
        claims = caller.claims
        if claims is None or not claims.transitive_keys:
            return ()
        keys = set(claims.transitive_keys)
        return tuple((k, v) for k, v in claims.tags if k.lower() in keys)

    @staticmethod
    def _trust_context(
        caller: Authenticated,
        params: AssumeRoleParams,
        inherited_tags: tuple[tuple[str, str], ...],
        mfa_now: bool,
        now: float,
    ) -> dict[str, object]:
        # The keys below exist only when their parameter was passed (reference §6.4): the
        # request context never stands in for one.
        ctx: dict[str, object] = {
            k: v for k, v in params.context.items() if not k.startswith(_PARAMETER_KEY_PREFIXES)
        }
        ctx.update(caller.request_keys(now))
        ctx["sts:rolesessionname"] = params.role_session_name
        if params.external_id is not None:
            ctx["sts:externalid"] = params.external_id
        if params.source_identity is not None:
            ctx["sts:sourceidentity"] = params.source_identity
        if params.transitive_tag_keys:
            ctx["sts:transitivetagkeys"] = tuple(params.transitive_tag_keys)
        if params.tags:
            ctx["aws:tagkeys"] = tuple(k for k, _ in params.tags)
            for k, v in params.tags:
                ctx["aws:requesttag/" + k.lower()] = v
        if mfa_now:  # MFA with this call: the caller is evaluated with MFA present (reference §6.4)
            ctx["aws:multifactorauthpresent"] = "true"
            ctx["aws:multifactorauthage"] = "0"
        return ctx

    @staticmethod
    def _mfa_ok(user: User | None, serial: str, code: str, now: float) -> bool:
        if user is None:
            return False
        device = next((d for d in user.mfa_devices if d.serial == serial), None)
        if device is None:
            return False
        try:
            seed = base64.b32decode(
                device.totp_seed_base32.upper() + "=" * (-len(device.totp_seed_base32) % 8)
            )
        except ValueError:
            return False
        totp = TOTP(seed, 6, SHA1(), _TOTP_STEP, enforce_key_length=False)
        for drift in (0, -_TOTP_STEP, _TOTP_STEP):  # one step of clock skew either way
            try:
                totp.verify(code.encode(), int(now) + drift)
                return True
            except InvalidToken:
                continue
        return False


def packed_policy_size(policy: str | None, arns: tuple[str, ...], tags: tuple[tuple[str, str], ...]) -> int:
    """The documented packing measure (see PACKED_BUDGET_BYTES), as a whole percentage."""
    parts = [policy or "", *arns, *(f"{k}={v}" for k, v in tags)]
    packed = len(zlib.compress("\n".join(parts).encode(), 9))
    return math.ceil(100 * packed / PACKED_BUDGET_BYTES)


def not_authorized(caller_arn: str, action: str, role_arn: str, field: str) -> StsError:
    return StsError(
        ACCESS_DENIED,
        f"User: {caller_arn} is not authorized to perform: {action} on resource: {role_arn}",
        field,
    )
