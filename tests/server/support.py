"""Shared helpers of the server tests: principals of examples/snapshot.json, stubs on real
channels, ErrorInfo reading, snapshot documents to push, and bounded polling."""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from sidecar.api.v1 import authorizer_pb2, authorizer_pb2_grpc, control_pb2, control_pb2_grpc
from sidecar.engine.compile import compile_snapshot
from sidecar.engine.decision import DecisionKind
from sidecar.snapshot import load_snapshot

from .harness import EXAMPLE

T = TypeVar("T")

# Principals of examples/snapshot.json.
ALICE = "arn:aws:iam::222222222222:user/alice"
ALICE_ID = "AIDAJQABLZS4A3QDU576Q"
BOB = "arn:aws:iam::222222222222:user/contractors/bob"
CAROL = "arn:aws:iam::333333333333:user/carol"
PAYMENTS_ROLE_ID = "AROA3XFRBF535PLBIFPI4"
PAYMENTS_SESSION = "arn:aws:sts::222222222222:assumed-role/PaymentsApp/i-0abc"
UNKNOWN_USER = "arn:aws:iam::222222222222:user/mallory"

BUCKET = "arn:aws:s3:::example-payments-data"
OBJECT = BUCKET + "/reports/2024.csv"
LEDGER = "arn:aws:dynamodb:us-east-1:222222222222:table/payments-ledger"
QUEUE = "arn:aws:sqs:us-east-1:222222222222:payments-events"

ALLOW = authorizer_pb2.DECISION_ALLOW
EXPLICIT_DENY = authorizer_pb2.DECISION_EXPLICIT_DENY
IMPLICIT_DENY = authorizer_pb2.DECISION_IMPLICIT_DENY
TO_PB = {
    DecisionKind.ALLOW: ALLOW,
    DecisionKind.EXPLICIT_DENY: EXPLICIT_DENY,
    DecisionKind.IMPLICIT_DENY: IMPLICIT_DENY,
}

# -- requests and stubs ------------------------------------------------------------------------


def request(
    principal: str | None,
    action: str,
    resource: str,
    *,
    context: dict[str, str | list[str]] | None = None,
    **fields: Any,
) -> authorizer_pb2.AuthorizeRequest:
    """An AuthorizeRequest; ``principal`` "anonymous" is the anonymous caller, None no caller."""
    req = authorizer_pb2.AuthorizeRequest(action=action, resource=resource, **fields)
    if principal == "anonymous":
        req.caller.anonymous = True
    elif principal is not None:
        req.caller.principal_arn = principal
    for key, value in (context or {}).items():
        if isinstance(value, list):
            req.context[key].string_list.values.extend(value)
        else:
            req.context[key].string_value = value
    return req


@contextmanager
def authorizer(target: str) -> Iterator[authorizer_pb2_grpc.AuthorizerStub]:
    with grpc.insecure_channel(target) as ch:
        yield authorizer_pb2_grpc.AuthorizerStub(ch)


@contextmanager
def control(target: str) -> Iterator[control_pb2_grpc.ControlStub]:
    with grpc.insecure_channel(target) as ch:
        yield control_pb2_grpc.ControlStub(ch)


def bearer(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


def error_info(err: grpc.RpcError) -> error_details_pb2.ErrorInfo:
    """The google.rpc.ErrorInfo detail of a failed call (fails the test when there is none)."""
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    assert status is not None, f"no rich status on {err!r}"
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            assert info.domain == "iam-sidecar"
            return info
    raise AssertionError(f"no ErrorInfo detail on {err!r}")


# -- snapshot documents ------------------------------------------------------------------------


def example_doc() -> dict[str, Any]:
    """A fresh, mutable copy of examples/snapshot.json."""
    return copy.deepcopy(_EXAMPLE_DOC)


_EXAMPLE_DOC: dict[str, Any] = json.loads(EXAMPLE.read_bytes())


def to_bytes(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, indent=1).encode()


def bob(doc: dict[str, Any]) -> dict[str, Any]:
    user = doc["accounts"][1]["users"][1]
    assert user["name"] == "bob"
    return user  # type: ignore[no-any-return]


def bob_may_send(version: int, *, sid: str = "SendEvents") -> bytes:
    """The example at ``version`` with one change: bob may sqs:SendMessage (denied in v1)."""
    doc = example_doc()
    doc["version"] = version
    bob(doc)["inline_policies"] = {
        "SendEvents": {
            "Version": "2012-10-17",
            "Statement": [{"Sid": sid, "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": QUEUE}],
        }
    }
    return to_bytes(doc)


def invalid_doc(version: int = 2) -> bytes:
    """Two problems: an unknown managed policy on bob, a malformed Effect in alice's policy."""
    doc = example_doc()
    doc["version"] = version
    bob(doc)["managed_policies"] = ["arn:aws:iam::222222222222:policy/DoesNotExist"]
    doc["accounts"][1]["users"][0]["inline_policies"]["TeamTables"]["Statement"][0]["Effect"] = "Perhaps"
    return to_bytes(doc)


INVALID_PROBLEMS = {
    ("accounts[1].users[0].inline_policies.TeamTables.Statement[0].Effect", "MalformedPolicyDocument"),
    ("accounts[1].users[1].managed_policies[0]", "NoSuchEntity"),
}


def chunks(
    data: bytes,
    *,
    version: int = 0,
    sha256: str | None = None,
    signature: bytes = b"",
    chunk_size: int = 4096,
    header_first: bool = True,
) -> Iterator[control_pb2.SnapshotChunk]:
    """A header (sha256 of ``data`` unless given) then ``data`` in chunks."""
    header = control_pb2.SnapshotHeader(
        version=version,
        sha256=hashlib.sha256(data).hexdigest() if sha256 is None else sha256,
        signature=signature,
        format="json",
    )
    parts = [
        control_pb2.SnapshotChunk(data=data[i : i + chunk_size]) for i in range(0, len(data), chunk_size)
    ]
    if header_first:
        yield control_pb2.SnapshotChunk(header=header)
        yield from parts
    else:
        yield from parts
        yield control_pb2.SnapshotChunk(header=header)


def push(target: str, token: str, data: bytes, **kw: Any) -> control_pb2.PushSnapshotResponse:
    with control(target) as stub:
        response: control_pb2.PushSnapshotResponse = stub.PushSnapshot(
            chunks(data, **kw), metadata=bearer(token), timeout=20
        )
    return response


def status(target: str, token: str) -> control_pb2.SidecarStatus:
    with control(target) as stub:
        response: control_pb2.SidecarStatus = stub.GetStatus(
            control_pb2.GetStatusRequest(), metadata=bearer(token), timeout=10
        )
    return response


def authorize(target: str, req: authorizer_pb2.AuthorizeRequest, timeout: float = 10) -> Any:
    with authorizer(target) as stub:
        return stub.Authorize(req, timeout=timeout)


# -- the engine, for expected decisions ---------------------------------------------------------


def engine_decision(
    data: bytes,
    principal: str,
    action: str,
    resource: str,
    context: dict[str, object] | None = None,
) -> int:
    """What the engine decides on ``data`` (protobuf Decision value)."""
    compiled = compile_snapshot(load_snapshot(data))
    entry = compiled.resolve_principal(principal)
    return TO_PB[compiled.authorize(entry, action, resource, context=context or {}).kind]


# -- polling -----------------------------------------------------------------------------------


def wait_for(check: Callable[[], T], timeout: float = 5.0, interval: float = 0.05) -> T:
    """Poll ``check`` until it returns something truthy (returned), at most ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)
