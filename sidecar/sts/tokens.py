"""Stateless session credentials: any replica holding the keyset verifies any other's.

- **AccessKeyId**: ``ASIA`` + 16 random characters of ``A–Z2–7``.
- **SecretAccessKey**: derived, not stored: 40 base64 characters of
  HMAC-SHA256(key's secret subkey, access key id). A replica re-derives it from the token's
  key id, so the secret never travels inside the token.
- **SessionToken**: ``base64url(header ‖ nonce ‖ AES-256-GCM(claims))``; the header (format
  version, key id) is authenticated as associated data. The claims are a compact record: role,
  session, account, session policies, tags, transitive keys, source identity, MFA state, issue
  and expiry times, chain depth. Encrypted, so a holder cannot read its session policies or
  change anything; authenticated, so a forged or altered token is refused.

Verification (``verify``) checks the key id, the tag, the format, the access key id, expiry,
and (when given) the secret, in constant time. Verified claims are cached by token (bounded),
so a session presenting its token on every request decrypts it once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import EXPIRED_TOKEN, INVALID_CLIENT_TOKEN_ID, SIGNATURE_DOES_NOT_MATCH, StsError
from .keyset import Keyset, StsKey

FORMAT_VERSION = 2  # 1: JSON claims (never released)
_NONCE_BYTES = 12


class SessionClaims(NamedTuple):
    """What a session token carries (and so what every replica knows of the session). A
    NamedTuple: built on every token decryption, and a tuple is built fastest."""

    access_key_id: str
    role_arn: str
    role_id: str
    session_name: str
    account: str
    partition: str
    issued_at: float  # epoch seconds
    expires_at: float
    policy: str | None = None  # the inline session policy, as passed
    policy_arns: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()  # session tags incl. inherited transitive ones
    transitive_keys: tuple[str, ...] = ()  # lower-cased
    source_identity: str | None = None
    mfa_at: float | None = None  # when MFA was verified (None: no MFA)
    chain_depth: int = 0  # 0: assumed with long-term credentials or a trusted ARN

    @property
    def session_arn(self) -> str:
        role_name = self.role_arn.rsplit("/", 1)[-1]
        return f"arn:{self.partition}:sts::{self.account}:assumed-role/{role_name}/{self.session_name}"

    def encode(self) -> bytes:
        """The claims as fields separated by control characters (US between fields, RS
        between list items, GS between a tag's key and value). Not JSON: a token's first use
        parses it on the request path, and splitting is several times faster. Every field is
        validated text that cannot hold these characters; the encoder checks anyway."""
        texts = [
            self.access_key_id,
            self.role_arn,
            self.role_id,
            self.session_name,
            self.account,
            self.partition,
            self.policy or "",
            self.source_identity or "",
            *self.policy_arns,
            *self.transitive_keys,
            *(t for pair in self.tags for t in pair),
        ]
        if any(_SEPARATORS.intersection(t) for t in texts):
            raise ValueError("a session claim holds a separator character")
        fields = (
            *texts[:6],
            repr(self.issued_at),
            repr(self.expires_at),
            self.policy or "",
            _RS.join(self.policy_arns),
            _RS.join(k + _GS + v for k, v in self.tags),
            _RS.join(self.transitive_keys),
            self.source_identity or "",
            "" if self.mfa_at is None else repr(self.mfa_at),
            str(self.chain_depth),
        )
        return _US.join(fields).encode()

    @classmethod
    def decode(cls, data: bytes) -> SessionClaims:
        f = data.decode().split(_US)
        if len(f) != 15:
            raise ValueError("not a claims record")
        tags: tuple[tuple[str, str], ...] = ()
        if f[10]:
            pairs = [t.split(_GS) for t in f[10].split(_RS)]
            if any(len(p) != 2 for p in pairs):
                raise ValueError("bad tags")
            tags = tuple((p[0], p[1]) for p in pairs)
        return cls(
            f[0],
            f[1],
            f[2],
            f[3],
            f[4],
            f[5],
            float(f[6]),
            float(f[7]),
            f[8] or None,
            tuple(f[9].split(_RS)) if f[9] else (),
            tags,
            tuple(f[11].split(_RS)) if f[11] else (),
            f[12] or None,
            float(f[13]) if f[13] else None,
            int(f[14]),
        )


_US, _RS, _GS = "\x1f", "\x1e", "\x1d"
_SEPARATORS = frozenset((_US, _RS, _GS))


@dataclass(frozen=True, slots=True)
class IssuedCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expires_at: float


def new_access_key_id() -> str:
    # 80 random bits in base32 are exactly 16 characters of A–Z2–7 (one system call, not 32).
    return "ASIA" + base64.b32encode(os.urandom(10)).decode()


def derive_secret(key: StsKey, access_key_id: str, subkey: bytes | None = None) -> str:
    digest = hmac.digest(subkey or key.secret_key, access_key_id.encode(), hashlib.sha256)
    return base64.b64encode(digest).decode()[:40]


_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_-]+")


def _invalid() -> StsError:
    return StsError(INVALID_CLIENT_TOKEN_ID, "The security token included in the request is invalid.")


def _header(key_id: str) -> bytes:
    kid = key_id.encode()
    return bytes((FORMAT_VERSION, len(kid))) + kid


class TokenCodec:
    """Issues and verifies session credentials with a :class:`Keyset`."""

    def __init__(self, keyset: Keyset, *, cache_size: int = 65536) -> None:
        self.keyset = keyset
        self._ciphers = {k.id: AESGCM(k.token_key) for k in keyset.by_id.values()}
        self._secret_keys = {k.id: k.secret_key for k in keyset.by_id.values()}
        # token → (claims, the derived secret): a session decrypts and derives once. A plain
        # dict emptied when full, not an LRU: one get and one set, atomic under the GIL, no
        # lock on the request path (a burst of re-verification after a clear is harmless).
        self._cache: dict[str, tuple[SessionClaims, str]] = {}
        self._cache_size = cache_size

    def issue(self, claims: SessionClaims) -> IssuedCredentials:
        key = self.keyset.signing
        header = _header(key.id)
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[key.id].encrypt(nonce, claims.encode(), header)
        token = base64.urlsafe_b64encode(header + nonce + sealed).rstrip(b"=").decode()
        secret = derive_secret(key, claims.access_key_id, self._secret_keys[key.id])
        return IssuedCredentials(claims.access_key_id, secret, token, claims.expires_at)

    def open(self, token: str) -> tuple[SessionClaims, str]:
        """Decrypt and authenticate a token (no expiry check): its claims and the secret that
        goes with it. InvalidClientTokenId if it was not made by a key of this keyset or was
        altered in any byte."""
        hit = self._cache.get(token)
        if hit is not None:
            return hit
        try:
            if _TOKEN_CHARS.fullmatch(token) is None:  # one spelling per token: no ignored characters
                raise ValueError("not base64url")
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise _invalid() from None
        if len(raw) < 2 or raw[0] != FORMAT_VERSION:
            raise _invalid()
        header_len = 2 + raw[1]
        if len(raw) < header_len + _NONCE_BYTES + 16:
            raise _invalid()
        key_id = raw[2:header_len].decode("utf-8", "replace")
        key = self.keyset.get(key_id)
        cipher = self._ciphers.get(key_id)
        if key is None or cipher is None:
            raise _invalid()
        nonce = raw[header_len : header_len + _NONCE_BYTES]
        try:
            body = cipher.decrypt(nonce, raw[header_len + _NONCE_BYTES :], raw[:header_len])
            claims = SessionClaims.decode(body)
        except (InvalidTag, ValueError, KeyError, TypeError):
            raise _invalid() from None
        entry = (claims, derive_secret(key, claims.access_key_id, self._secret_keys[key_id]))
        if len(self._cache) >= self._cache_size:
            self._cache = {}
        self._cache[token] = entry
        return entry

    def verify(
        self, access_key_id: str, token: str, secret_access_key: str | None, now: float
    ) -> SessionClaims:
        """The claims of a valid, unexpired session presented with ``access_key_id`` (and,
        when given, the matching secret)."""
        claims, secret = self.open(token)
        if not hmac.compare_digest(claims.access_key_id.encode(), access_key_id.encode()):
            raise _invalid()
        if now >= claims.expires_at:
            raise StsError(EXPIRED_TOKEN, "The security token included in the request is expired")
        if secret_access_key and not hmac.compare_digest(secret.encode(), secret_access_key.encode()):
            raise StsError(
                SIGNATURE_DOES_NOT_MATCH,
                "The request signature we calculated does not match the signature you provided.",
            )
        return claims
