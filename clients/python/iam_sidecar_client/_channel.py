"""What the sync and the asyncio clients share: targets, channel options, retry policy,
per-call timeouts and the control-plane token."""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

AUTHORIZER_SERVICE: Final = "iam_sidecar.v1.Authorizer"
CONTROL_SERVICE: Final = "iam_sidecar.v1.Control"
DEFAULT_TARGET: Final = "unix:/tmp/iam-sidecar/authz.sock"
MAX_ATTEMPTS: Final = 5  # gRPC caps maxAttempts at 5 anyway


class _Default(enum.Enum):
    TIMEOUT = "default"


DEFAULT: Final = _Default.TIMEOUT
"""Sentinel: use the client's default per-call timeout."""

Timeout = float | None | _Default


def normalize_target(target: str) -> str:
    """``unix:/abs/path.sock`` or ``host:port``; a bare absolute path means a Unix socket."""
    if not target:
        raise ValueError("target must be 'unix:/path.sock' or 'host:port'")
    return "unix:" + target if target.startswith("/") else target


def service_config(retries: int) -> dict[str, Any]:
    """The gRPC service config: retry UNAVAILABLE on both services with exponential backoff."""
    if retries < 0:
        raise ValueError("retries must be >= 0")
    config: dict[str, Any] = {
        "methodConfig": [{"name": [{"service": AUTHORIZER_SERVICE}, {"service": CONTROL_SERVICE}]}]
    }
    if retries > 0:  # maxAttempts must be >= 2 for a valid retry policy
        config["methodConfig"][0]["retryPolicy"] = {
            "maxAttempts": min(retries + 1, MAX_ATTEMPTS),
            "initialBackoff": "0.05s",
            "maxBackoff": "1s",
            "backoffMultiplier": 2,
            "retryableStatusCodes": ["UNAVAILABLE"],
        }
    return config


def channel_options(retries: int, extra: Sequence[tuple[str, Any]] = ()) -> list[tuple[str, Any]]:
    """Our options (service config, retries on) followed by the caller's; a key the caller sets
    replaces ours."""
    ours: list[tuple[str, Any]] = [
        ("grpc.service_config", json.dumps(service_config(retries))),
        ("grpc.enable_retries", 1 if retries > 0 else 0),
    ]
    theirs = [(str(k), v) for k, v in extra]
    overridden = {k for k, _ in theirs}
    return [o for o in ours if o[0] not in overridden] + theirs


def resolve_timeout(timeout: Timeout, default: float | None) -> float | None:
    return default if isinstance(timeout, _Default) else timeout


class TokenSource:
    """The control-plane bearer token: fixed, or read from a file at every call (rotation)."""

    def __init__(self, token: str | None, token_file: str | Path | None) -> None:
        if token is not None and token_file is not None:
            raise ValueError("give token or token_file, not both")
        self._token = token.strip() if token is not None else None
        self._file = Path(token_file) if token_file is not None else None

    @property
    def configured(self) -> bool:
        return self._token is not None or self._file is not None

    def metadata(self) -> tuple[tuple[str, str]]:
        if self._file is not None:
            token = self._file.read_text(encoding="utf-8").strip()
            where = f"token file {self._file}"
        elif self._token is not None:
            token, where = self._token, "token"
        else:
            raise ValueError("the Control service needs a bearer token: pass token= or token_file=")
        if not token:
            raise ValueError(f"the control-plane {where} is empty")
        return (("authorization", f"Bearer {token}"),)
