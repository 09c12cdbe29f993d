"""Snapshot documents for the snapshot tests: a small valid organisation every test copies and
breaks in one place, and helpers to look at the problems."""

from __future__ import annotations

import json
from typing import Any

from sidecar.policy import Problem, format_path
from sidecar.snapshot import SnapshotLimits, validate_snapshot

V = "2012-10-17"
MGMT = "999999999999"
A = "111122223333"
B = "444455556666"
EXAMPLE = "examples/snapshot.json"


def allow(action: str = "s3:GetObject", resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str = "s3:DeleteObject", resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": V, "Statement": list(statements) or [allow()]}


def trust(principal: Any = None) -> dict[str, Any]:
    return {
        "Version": V,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": principal or {"AWS": f"arn:aws:iam::{A}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def base() -> dict[str, Any]:
    """Valid, without a single warning: accounts[0] is the management account, accounts[1] a
    member account (user alice, group devs, role R, policy ReadOnly, a bucket)."""
    return {
        "version": 3,
        "partition": "aws",
        "aws_managed_policies": {"ReadOnlyAccess": doc(allow("s3:Get*"))},
        "organization": {
            "id": "o-exampleorg1",
            "management_account": MGMT,
            "policies": {
                "FullAWSAccess": doc(allow("*")),
                "DenyLeave": doc(deny("organizations:LeaveOrganization")),
                "DenyOutside": {
                    "Version": V,
                    "Statement": [
                        {
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": "*",
                            "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-exampleorg1"}},
                        }
                    ],
                },
            },
            "units": [
                {"id": "r-root", "parent": None, "scps": ["FullAWSAccess"], "rcps": []},
                {
                    "id": "ou-prod",
                    "parent": "r-root",
                    "scps": ["FullAWSAccess", "DenyLeave"],
                    "rcps": ["DenyOutside"],
                },
            ],
        },
        "accounts": [
            {"id": MGMT, "unit": "r-root"},
            {
                "id": A,
                "unit": "ou-prod",
                "scps": ["FullAWSAccess"],
                "rcps": [],
                "users": [
                    {
                        "name": "alice",
                        "path": "/",
                        "id": "AIDAEXAMPLEALICE00001",
                        "groups": ["devs"],
                        "managed_policies": [
                            f"arn:aws:iam::{A}:policy/ReadOnly",
                            "arn:aws:iam::aws:policy/ReadOnlyAccess",
                        ],
                        "inline_policies": {"own": doc(allow("dynamodb:GetItem"))},
                        "permissions_boundary": f"arn:aws:iam::{A}:policy/ReadOnly",
                        "tags": {"team": "payments"},
                        "access_keys": [
                            {"id": "AKIAEXAMPLEALICE0001", "secret_sha256": "ab" * 32, "status": "Active"}
                        ],
                        "mfa_devices": [
                            {"serial": f"arn:aws:iam::{A}:mfa/alice", "totp_seed_base32": "JBSWY3DPEHPK3PXP"}
                        ],
                    }
                ],
                "groups": [
                    {"name": "devs", "path": "/", "managed_policies": [], "inline_policies": {"g": doc()}}
                ],
                "roles": [
                    {
                        "name": "R",
                        "path": "/app/",
                        "id": "AROAEXAMPLEROLE000001",
                        "trust_policy": trust(),
                        "max_session_duration": 3600,
                        "managed_policies": [],
                        "inline_policies": {},
                        "permissions_boundary": None,
                        "tags": {},
                    }
                ],
                "policies": [{"name": "ReadOnly", "path": "/", "document": doc(allow("s3:List*"))}],
                "resources": [
                    {
                        "arn": "arn:aws:s3:::bucket",
                        "policy": {
                            "Version": V,
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Principal": {"AWS": f"arn:aws:iam::{A}:user/alice"},
                                    "Action": "s3:GetObject",
                                    "Resource": "arn:aws:s3:::bucket/*",
                                }
                            ],
                        },
                        "tags": {"team": "payments"},
                    }
                ],
            },
        ],
    }


def member(d: dict[str, Any]) -> dict[str, Any]:
    """The member account of a base() document."""
    account: dict[str, Any] = d["accounts"][1]
    return account


def found(data: Any, limits: SnapshotLimits | None = None) -> list[tuple[str, str, str]]:
    """(path, code, severity) of every problem, in order."""
    problems = validate_snapshot(data, limits=limits) if limits else validate_snapshot(data)
    return [(format_path(p.path), p.code, p.severity.value) for p in problems]


def errors(data: Any, limits: SnapshotLimits | None = None) -> list[tuple[str, str]]:
    """(path, code) of every error, in order."""
    return [(path, code) for path, code, severity in found(data, limits) if severity == "error"]


def warnings(data: Any) -> list[tuple[str, str]]:
    return [(path, code) for path, code, severity in found(data) if severity == "warning"]


def problem_at(data: Any, path: str) -> Problem:
    matches = [p for p in validate_snapshot(data) if format_path(p.path) == path]
    assert len(matches) == 1, matches
    return matches[0]


def as_bytes(d: Any) -> bytes:
    return json.dumps(d).encode()
