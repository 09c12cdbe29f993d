"""Snapshot documents for the store tests: version N lets alice do ``svc:ActN`` only, so every
decision tells which version made it."""

from __future__ import annotations

import json
from typing import Any

from sidecar.engine.compile import CompiledSnapshot

ACCOUNT = "111122223333"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"


def action_of(version: int) -> str:
    return f"svc:Act{version}"


def snapshot_doc(version: int, *, extra_action: str | None = None) -> dict[str, Any]:
    actions = [action_of(version)] + ([extra_action] if extra_action else [])
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "Only", "Effect": "Allow", "Action": actions, "Resource": "*"}],
    }
    return {
        "version": version,
        "partition": "aws",
        "accounts": [
            {
                "id": ACCOUNT,
                "users": [
                    {
                        "name": "alice",
                        "path": "/",
                        "id": "AIDAEXAMPLEALICE00001",
                        "inline_policies": {"only": policy},
                    }
                ],
            }
        ],
    }


def snapshot_bytes(version: int, *, extra_action: str | None = None) -> bytes:
    return json.dumps(snapshot_doc(version, extra_action=extra_action), indent=1).encode()


def invalid_bytes(version: int) -> bytes:
    """A snapshot whose only policy has a bad Effect (a validation error with a JSON path)."""
    doc = snapshot_doc(version)
    doc["accounts"][0]["users"][0]["inline_policies"]["only"]["Statement"][0]["Effect"] = "Maybe"
    return json.dumps(doc).encode()


def allows(compiled: CompiledSnapshot, action: str) -> bool:
    entry = compiled.resolve_principal(ALICE)
    return compiled.authorize(entry, action, "*").allowed
