"""STS signing keys: several keys, the newest signs, every listed key verifies.

Keyset file (API.md): ``{"keys": [{"id": "2026-11", "secret_b64": "…", "created": "RFC 3339"}]}``.
Rotation: add a key (it signs new sessions from then on), keep the old one until the last
session it signed has expired, then remove it. Without a file the sidecar makes a random
in-memory key: sessions then die with the process and no other replica can verify them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .errors import KeysetError

MIN_SECRET_BYTES = 32
_KEY_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


@dataclass(frozen=True, slots=True)
class StsKey:
    """One key. ``secret`` never leaves the process: two subkeys are derived from it, one to
    encrypt session tokens (AES-256-GCM) and one to derive secret access keys (HMAC)."""

    id: str
    secret: bytes
    created: datetime

    @property
    def token_key(self) -> bytes:
        return hmac.digest(self.secret, b"iam-sidecar/sts/token-encryption/v1", hashlib.sha256)

    @property
    def secret_key(self) -> bytes:
        return hmac.digest(self.secret, b"iam-sidecar/sts/secret-access-key/v1", hashlib.sha256)

    def __repr__(self) -> str:  # never print the secret
        return f"StsKey({self.id!r}, created={self.created.isoformat()})"


class Keyset:
    """The keys by id; ``signing`` is the newest (by ``created``, then id)."""

    def __init__(self, keys: list[StsKey], *, ephemeral: bool = False) -> None:
        if not keys:
            raise KeysetError("an STS keyset needs at least one key")
        by_id: dict[str, StsKey] = {}
        for key in keys:
            if key.id in by_id:
                raise KeysetError(f"key id {key.id!r} appears twice")
            by_id[key.id] = key
        self.by_id = by_id
        self.signing = max(keys, key=lambda k: (k.created, k.id))
        self.ephemeral = ephemeral

    @classmethod
    def random(cls) -> Keyset:
        return cls([StsKey("ephemeral", os.urandom(32), datetime.now(UTC))], ephemeral=True)

    @classmethod
    def from_json(cls, data: bytes | str, source: str = "keyset") -> Keyset:
        try:
            doc = json.loads(data)
        except ValueError as exc:
            raise KeysetError(f"{source}: not JSON: {exc}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
            raise KeysetError(f'{source}: expected {{"keys": [...]}}')
        keys = []
        for i, item in enumerate(doc["keys"]):
            where = f"{source}: keys[{i}]"
            if not isinstance(item, dict):
                raise KeysetError(f"{where}: expected an object with id, secret_b64, created")
            key_id, secret_b64, created = item.get("id"), item.get("secret_b64"), item.get("created")
            if not isinstance(key_id, str) or not key_id or len(key_id) > 64 or set(key_id) - _KEY_ID_CHARS:
                raise KeysetError(f"{where}.id: 1–64 characters of letters, digits, '-', '_', '.'")
            try:
                secret = base64.b64decode(str(secret_b64), validate=True)
            except (binascii.Error, ValueError):
                raise KeysetError(f"{where}.secret_b64: not base64") from None
            if len(secret) < MIN_SECRET_BYTES:
                raise KeysetError(
                    f"{where}.secret_b64: at least {MIN_SECRET_BYTES} random bytes are required"
                )
            try:
                when = datetime.fromisoformat(str(created).replace("Z", "+00:00"))
            except ValueError:
                raise KeysetError(f"{where}.created: not an RFC 3339 time") from None
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            keys.append(StsKey(key_id, secret, when))
        return cls(keys)

    @classmethod
    def load(cls, path: Path) -> Keyset:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise KeysetError(f"cannot read the STS keyset {path}: {exc}") from None
        return cls.from_json(data, str(path))

    def get(self, key_id: str) -> StsKey | None:
        return self.by_id.get(key_id)


def new_keyset_json(key_id: str, *, now: datetime | None = None) -> str:
    """A keyset file with one fresh random key (``iam-sidecar sts-keygen``)."""
    created = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    secret = base64.b64encode(os.urandom(32)).decode()
    return json.dumps({"keys": [{"id": key_id, "secret_b64": secret, "created": created}]}, indent=2)
