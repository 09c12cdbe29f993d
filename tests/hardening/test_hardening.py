"""Hardening found in review: a caller cannot set the resource keys of a resource the snapshot
knows, a session token has one spelling, and a client cannot claim a matched statement."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from sidecar.api.envoy.service.auth.v3 import ext_authz_min_pb2 as envoy_pb
from sidecar.api.v1 import authorizer_pb2
from sidecar.server.authorizer import AuthorizerService
from sidecar.server.ext_authz import ExtAuthzService, load_config
from sidecar.store import SnapshotStore
from sidecar.sts import StsError
from sidecar.sts.keyset import Keyset
from sidecar.sts.tokens import SessionClaims, TokenCodec
from tests.server.harness import EXAMPLE, running_sidecar
from tests.server.support import authorizer, request

OUTSIDE = "444444444444"  # an account of the snapshot outside the organisation
EVE = f"arn:aws:iam::{OUTSIDE}:user/eve"
EVE_TABLE = f"arn:aws:dynamodb:us-east-1:{OUTSIDE}:table/eve-table"
ORG_ID = "o-a1b2c3d4e5"


def _snapshot_with_outside_account(path: Path) -> Path:
    """examples/snapshot.json plus an account outside the organisation: user eve, a table the
    snapshot knows (so its resource keys come from the snapshot), and a data-perimeter policy
    that denies any DynamoDB call on a resource outside the organisation."""
    doc = json.loads(EXAMPLE.read_bytes())
    doc["accounts"].append(
        {
            "id": OUTSIDE,
            "users": [
                {
                    "name": "eve",
                    "path": "/",
                    "id": "AIDAEVEEVEEVEEVEEVE44",
                    "inline_policies": {
                        "Perimeter": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"},
                                {
                                    "Sid": "OnlyOrgResources",
                                    "Effect": "Deny",
                                    "Action": "dynamodb:*",
                                    "Resource": "*",
                                    "Condition": {"StringNotEqualsIfExists": {"aws:ResourceOrgID": ORG_ID}},
                                },
                            ],
                        }
                    },
                }
            ],
            "resources": [{"arn": EVE_TABLE, "tags": {"team": "eve"}}],
        }
    )
    out = path / "snapshot.json"
    out.write_text(json.dumps(doc))
    return out


def test_caller_cannot_set_resource_org_of_a_known_resource(tmp_path: Path) -> None:
    snap = _snapshot_with_outside_account(tmp_path)
    with running_sidecar(tmp_path, snap) as sc, authorizer(sc.authz_tcp) as stub:
        plain = stub.Authorize(request(EVE, "dynamodb:GetItem", EVE_TABLE), timeout=10)
        assert plain.decision == authorizer_pb2.DECISION_EXPLICIT_DENY  # the perimeter holds
        forged = stub.Authorize(
            request(EVE, "dynamodb:GetItem", EVE_TABLE, context={"aws:ResourceOrgID": ORG_ID}),
            timeout=10,
        )
        # The snapshot knows the table and knows its account is outside the organisation: the
        # caller's claim should be dropped (as a caller's aws:ResourceTag/* is), not believed.
        assert forged.decision == authorizer_pb2.DECISION_EXPLICIT_DENY


def test_altered_session_token_is_refused() -> None:
    codec = TokenCodec(Keyset.random())
    now = time.time()
    claims = SessionClaims(
        "ASIAAAAAAAAAAAAAAAAA", "arn:aws:iam::111111111111:role/R", "AROAX", "s", "111111111111", "aws",
        now, now + 900,
    )  # fmt: skip
    creds = codec.issue(claims)
    codec.verify(creds.access_key_id, creds.session_token, creds.secret_access_key, now)  # genuine
    altered = creds.session_token[:10] + "...." + creds.session_token[10:]
    with pytest.raises(StsError):
        codec.verify(creds.access_key_id, altered, creds.secret_access_key, now)


def _check_request(headers: dict[str, str], path: str) -> envoy_pb.CheckRequest:
    req = envoy_pb.CheckRequest()
    http = req.attributes.request.http
    http.method = "GET"
    http.path = path
    http.host = "example.com"
    for k, v in headers.items():
        http.headers[k] = v
    req.attributes.source.address.socket_address.address = "10.0.0.1"
    return req


def test_client_cannot_spoof_matched_statement_header(tmp_path: Path) -> None:
    store = SnapshotStore(None)
    result = store.activate(EXAMPLE.read_bytes(), source="test")
    assert result.accepted
    authz = AuthorizerService(store)
    cfg = load_config(
        {
            "routes": [{"method": "GET", "path": "/known/{x}", "action": "s3:GetObject", "resource": "*"}],
            "unmatched": "allow",
            "matched_statement_header": True,
        }
    )
    service = ExtAuthzService(authz, cfg)
    spoofed = "identity arn:aws:iam::aws:policy/AdministratorAccess #0"
    req = _check_request({"x-iam-matched-statement": spoofed}, "/elsewhere")
    resp: Any = asyncio.run(service.Check(req, None))  # type: ignore[arg-type]
    assert resp.WhichOneof("http_response") == "ok_response"
    ok = resp.ok_response
    set_by_sidecar = {h.header.key for h in ok.headers}
    assert "x-iam-matched-statement" in set_by_sidecar or "x-iam-matched-statement" in ok.headers_to_remove
