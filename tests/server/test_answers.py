"""The batch path's answer memo (``Answers``): repeated questions are answered from the exact
request bytes, but only answers that cannot change while the activation serves are kept.
These drive the real AuthorizerService and SnapshotStore in-process (no mocks, no sockets:
the memo is the subject, and gRPC adds nothing to it)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sidecar.api.v1 import authorizer_pb2 as pb
from sidecar.server.authorizer import AuthorizerService
from sidecar.store import SnapshotStore

USER = "arn:aws:iam::111122223333:user/ann"


def _doc(version: int, statements: list[dict[str, Any]]) -> bytes:
    return json.dumps(
        {
            "version": version,
            "accounts": [
                {
                    "id": "111122223333",
                    "users": [
                        {
                            "name": "ann",
                            "id": "AIDAANNANNANNANNANNAN",
                            "managed_policies": ["arn:aws:iam::111122223333:policy/P"],
                        }
                    ],
                    "policies": [
                        {
                            "name": "P",
                            "document": {"Version": "2012-10-17", "Statement": statements},
                        }
                    ],
                }
            ],
        }
    ).encode()


PLAIN = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
CLOCKED = {
    "Effect": "Allow",
    "Action": "s3:PutObject",
    "Resource": "*",
    "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
}


class _Ctx:
    def time_remaining(self) -> None:
        return None


def _req(action: str, **fields: Any) -> pb.AuthorizeRequest:
    r = pb.AuthorizeRequest(action=action, resource="arn:aws:s3:::b/k", **fields)
    r.caller.principal_arn = USER
    return r


def _batch(svc: AuthorizerService, *reqs: pb.AuthorizeRequest) -> list[int]:
    out = asyncio.run(svc.AuthorizeBatch(pb.AuthorizeBatchRequest(requests=list(reqs)), _Ctx()))  # type: ignore[arg-type]
    return [r.decision for r in out.responses]


def _service(statements: list[dict[str, Any]]) -> tuple[SnapshotStore, AuthorizerService]:
    store = SnapshotStore(None)
    assert store.activate(_doc(1, statements), source="test").accepted
    return store, AuthorizerService(store)


def test_a_repeated_question_is_answered_from_the_memo_with_the_same_decision() -> None:
    _, svc = _service([PLAIN])
    first = _batch(svc, _req("s3:GetObject"), _req("s3:DeleteObject"))
    assert first == [pb.DECISION_ALLOW, pb.DECISION_IMPLICIT_DENY]
    assert len(svc.answers.decisions) == 2
    assert _batch(svc, _req("s3:DeleteObject"), _req("s3:GetObject")) == [
        pb.DECISION_IMPLICIT_DENY,
        pb.DECISION_ALLOW,
    ]


def test_answers_never_outlive_their_activation() -> None:
    store, svc = _service([PLAIN])
    assert _batch(svc, _req("s3:GetObject")) == [pb.DECISION_ALLOW]
    deny = {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}
    assert store.activate(_doc(2, [PLAIN, deny]), source="test").accepted
    assert _batch(svc, _req("s3:GetObject")) == [pb.DECISION_EXPLICIT_DENY]


def test_clock_reading_explained_and_credential_answers_are_not_kept() -> None:
    _, svc = _service([PLAIN, CLOCKED])
    assert _batch(svc, _req("s3:PutObject")) == [pb.DECISION_ALLOW]  # reads aws:CurrentTime
    assert _batch(svc, _req("s3:GetObject", explain=True)) == [pb.DECISION_ALLOW]
    assert svc.answers.decisions == {}
    assert _batch(svc, _req("s3:GetObject")) == [pb.DECISION_ALLOW]
    assert len(svc.answers.decisions) == 1


def test_a_malformed_item_still_names_itself_after_memo_hits() -> None:
    import grpc
    import pytest

    _, svc = _service([PLAIN])
    _batch(svc, _req("s3:GetObject"))
    bad = _req("s3GetObject")

    class Aborted(Exception):
        pass

    class Ctx(_Ctx):
        async def abort(self, code: grpc.StatusCode, details: str, trailing: Any = None) -> None:
            self.code, self.details = code, details
            raise Aborted

    ctx = Ctx()
    with pytest.raises(Aborted):
        asyncio.run(svc.AuthorizeBatch(pb.AuthorizeBatchRequest(requests=[_req("s3:GetObject"), bad]), ctx))  # type: ignore[arg-type]
    assert ctx.code == grpc.StatusCode.INVALID_ARGUMENT
    assert ctx.details.startswith("requests[1].action")
