"""The Control service on a real sidecar: bearer tokens (and their rotation), pushes and the
version rules, validation reports, checksums, size limits, dry runs, rollback, signatures."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sidecar.api.v1 import authorizer_pb2, control_pb2

from .harness import EXAMPLE, RunningSidecar, running_sidecar
from .support import (
    ALICE,
    ALLOW,
    BOB,
    IMPLICIT_DENY,
    INVALID_PROBLEMS,
    OBJECT,
    QUEUE,
    authorize,
    authorizer,
    bearer,
    bob_may_send,
    chunks,
    control,
    engine_decision,
    error_info,
    example_doc,
    invalid_doc,
    push,
    request,
    status,
    to_bytes,
    wait_for,
)

EXAMPLE_BYTES = EXAMPLE.read_bytes()
EXAMPLE_SHA = hashlib.sha256(EXAMPLE_BYTES).hexdigest()


def v(version: int) -> bytes:
    """The example, unchanged but for its version (bob may not sqs:SendMessage)."""
    doc = example_doc()
    doc["version"] = version
    return to_bytes(doc)


def bob_sends(sc: RunningSidecar) -> tuple[int, int]:
    """(decision, snapshot_version) of bob's sqs:SendMessage: the decision the pushes flip."""
    resp = authorize(sc.authz_unix, request(BOB, "sqs:SendMessage", QUEUE))
    return resp.decision, resp.snapshot_version


def rpc_error(call: Callable[[], object]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as exc:
        call()
    return exc.value


def test_the_flipping_documents_decide_as_intended() -> None:
    # The premise of the push tests, checked on the engine alone.
    assert engine_decision(EXAMPLE_BYTES, BOB, "sqs:SendMessage", QUEUE) == IMPLICIT_DENY
    assert engine_decision(bob_may_send(2), BOB, "sqs:SendMessage", QUEUE) == ALLOW
    assert engine_decision(v(3), BOB, "sqs:SendMessage", QUEUE) == IMPLICIT_DENY


# -- authentication ----------------------------------------------------------------------------


def _all_calls(stub, metadata: list[tuple[str, str]] | None) -> list[Callable[[], object]]:
    return [
        lambda: stub.PushSnapshot(chunks(bob_may_send(2)), metadata=metadata, timeout=10),
        lambda: stub.ValidateSnapshot(chunks(bob_may_send(2)), metadata=metadata, timeout=10),
        lambda: stub.GetStatus(control_pb2.GetStatusRequest(), metadata=metadata, timeout=10),
        lambda: stub.Rollback(control_pb2.RollbackRequest(), metadata=metadata, timeout=10),
    ]


def test_calls_without_a_token_are_unauthenticated(tmp_path: Path) -> None:
    with running_sidecar(tmp_path) as sc, control(sc.control) as stub:
        for call in _all_calls(stub, None):
            err = rpc_error(call)
            assert err.code() == grpc.StatusCode.UNAUTHENTICATED
            assert error_info(err).reason == "MissingAuthenticationToken"
        # Nothing was pushed.
        assert status(sc.control, sc.token).version == 1
        assert bob_sends(sc) == (IMPLICIT_DENY, 1)


@pytest.mark.parametrize(
    "header",
    ["Bearer wrong-token", "Basic {token}", "Bearer", "{token}", "Bearer {token}x"],
)
def test_a_wrong_token_is_unauthenticated(tmp_path: Path, header: str) -> None:
    with running_sidecar(tmp_path) as sc, control(sc.control) as stub:
        metadata = [("authorization", header.format(token=sc.token))]
        for call in _all_calls(stub, metadata):
            err = rpc_error(call)
            assert err.code() == grpc.StatusCode.UNAUTHENTICATED
            assert error_info(err).reason == "InvalidToken"
        assert status(sc.control, sc.token).version == 1


def test_the_scheme_is_case_insensitive(tmp_path: Path) -> None:
    with running_sidecar(tmp_path) as sc, control(sc.control) as stub:
        st = stub.GetStatus(
            control_pb2.GetStatusRequest(), metadata=[("authorization", f"bearer {sc.token}")], timeout=10
        )
        assert st.version == 1


def test_token_file_rotation(tmp_path: Path) -> None:
    with running_sidecar(tmp_path) as sc, control(sc.control) as stub:
        old = sc.token
        assert stub.GetStatus(control_pb2.GetStatusRequest(), metadata=bearer(old), timeout=10).serving

        # An atomic replace (a new inode), as a secret volume does.
        new = "rotated-token-0001"
        tmp = sc.token_file.with_name("token.new")
        tmp.write_text(new + "\n")
        os.replace(tmp, sc.token_file)
        assert stub.GetStatus(control_pb2.GetStatusRequest(), metadata=bearer(new), timeout=10).serving
        err = rpc_error(
            lambda: stub.GetStatus(control_pb2.GetStatusRequest(), metadata=bearer(old), timeout=10)
        )
        assert err.code() == grpc.StatusCode.UNAUTHENTICATED
        assert error_info(err).reason == "InvalidToken"

        # An in-place rewrite works too; the previous token stops working.
        newer = "rotated-token-00002"
        sc.token_file.write_text(newer + "\n")
        pushed = stub.PushSnapshot(chunks(bob_may_send(2)), metadata=bearer(newer), timeout=10)
        assert pushed.accepted
        err = rpc_error(
            lambda: stub.GetStatus(control_pb2.GetStatusRequest(), metadata=bearer(new), timeout=10)
        )
        assert err.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_deleted_token_file_keeps_the_last_token(tmp_path: Path) -> None:
    with running_sidecar(tmp_path) as sc:
        sc.token_file.unlink()
        assert status(sc.control, sc.token).version == 1
        err = rpc_error(lambda: status(sc.control, "guess"))
        assert err.code() == grpc.StatusCode.UNAUTHENTICATED


def test_an_empty_token_file_is_not_an_internal_error(tmp_path: Path) -> None:
    with running_sidecar(tmp_path) as sc:
        sc.token_file.write_text("")
        # Mid-rotation (truncate, then write): the last good token keeps working...
        assert status(sc.control, sc.token).version == 1
        # ...and once the new token is written, only it does.
        sc.token_file.write_text("the-new-token\n")
        assert status(sc.control, "the-new-token").version == 1
        err = rpc_error(lambda: status(sc.control, sc.token))
        assert err.code() == grpc.StatusCode.UNAUTHENTICATED
        assert error_info(err).reason == "InvalidToken"
        # A wrong token is never let in.
        with pytest.raises(grpc.RpcError):
            status(sc.control, "")


# -- pushes and the version rules ---------------------------------------------------------------


def test_push_a_new_version(tmp_path: Path) -> None:
    with running_sidecar(tmp_path) as sc:
        before = status(sc.control, sc.token)
        assert (before.version, before.source, before.serving) == (1, f"file:{EXAMPLE}", True)
        assert before.sha256 == EXAMPLE_SHA
        assert bob_sends(sc) == (IMPLICIT_DENY, 1)

        data = bob_may_send(2)
        resp = push(sc.control, sc.token, data, version=2)
        assert resp.accepted and not resp.unchanged
        assert resp.active_version == 2
        assert resp.persist_error == ""
        report = resp.report
        assert (report.valid, report.version, report.code) == (True, 2, "OK")
        assert report.sha256 == hashlib.sha256(data).hexdigest()
        assert not [p for p in report.problems if p.severity == "error"]
        assert report.counts["users"] == 3
        assert report.counts["roles"] == 4
        assert report.counts["accounts"] == 3

        st = status(sc.control, sc.token)
        assert (st.serving, st.version, st.source) == (True, 2, "push")
        assert st.sha256 == hashlib.sha256(data).hexdigest()
        assert st.previous_version == 1
        assert st.highest_version == 2
        assert st.activation_id > before.activation_id
        assert st.loaded_at.ToNanoseconds() >= before.loaded_at.ToNanoseconds() > 0
        assert st.counts["users"] == 3
        assert st.last_error == ""

        # The decision flipped, and says which version decided.
        assert bob_sends(sc) == (ALLOW, 2)
        with authorizer(sc.authz_tcp) as s:
            resp2 = s.Authorize(request(BOB, "sqs:SendMessage", QUEUE, explain=True), timeout=10)
        assert resp2.decision == ALLOW
        assert resp2.snapshot_version == 2
        assert any(
            m.sid == "SendEvents" and m.policy.endswith("user/contractors/bob:inline/SendEvents")
            for m in resp2.explanation.matched_statements
        ), resp2.explanation


def test_repush_identical_is_an_unchanged_success(tmp_path: Path) -> None:
    with running_sidecar(tmp_path) as sc:
        data = bob_may_send(2)
        assert push(sc.control, sc.token, data).accepted
        first = status(sc.control, sc.token)
        again = push(sc.control, sc.token, data, version=2)
        assert again.accepted and again.unchanged
        assert again.active_version == 2
        assert again.report.code == "NoOp"
        st = status(sc.control, sc.token)
        assert st.activation_id == first.activation_id  # nothing re-activated
        assert st.previous_version == 1
        # Re-sending the file's own version 1 bytes is not "unchanged" now: 1 is older.
        older = push(sc.control, sc.token, EXAMPLE_BYTES)
        assert not older.accepted and older.report.code == "VersionConflict"


def test_same_version_other_content_is_refused(tmp_path: Path) -> None:
    with running_sidecar(tmp_path) as sc:
        assert push(sc.control, sc.token, bob_may_send(2)).accepted
        before = status(sc.control, sc.token)
        other = bob_may_send(2, sid="SendOtherEvents")
        resp = push(sc.control, sc.token, other, version=2)
        assert not resp.accepted and not resp.unchanged
        assert resp.report.code == "VersionConflict"
        assert resp.active_version == 2
        after = status(sc.control, sc.token)
        assert (after.version, after.sha256, after.activation_id) == (2, before.sha256, before.activation_id)
        assert "VersionConflict" in after.last_error
        assert bob_sends(sc) == (ALLOW, 2)


def test_older_version_is_refused(tmp_path: Path) -> None:
    with running_sidecar(tmp_path) as sc:
        assert push(sc.control, sc.token, v(5)).accepted
        resp = push(sc.control, sc.token, bob_may_send(4))
        assert not resp.accepted
        assert resp.report.code == "VersionConflict"
        assert resp.active_version == 5
        assert status(sc.control, sc.token).version == 5
        assert bob_sends(sc) == (IMPLICIT_DENY, 5)


def test_header_version_must_match_the_document(tmp_path: Path) -> None:
    with running_sidecar(tmp_path) as sc:
        resp = push(sc.control, sc.token, bob_may_send(2), version=3)
        assert not resp.accepted
        assert resp.report.code == "VersionMismatch"
        assert status(sc.control, sc.token).version == 1


def test_invalid_snapshot_reports_every_problem_and_keeps_serving(tmp_path: Path) -> None:
    with running_sidecar(tmp_path) as sc:
        before = status(sc.control, sc.token)
        resp = push(sc.control, sc.token, invalid_doc(2))
        assert not resp.accepted
        assert resp.active_version == 1
        report = resp.report
        assert not report.valid
        assert report.code == "ValidationFailed"
        assert "2 error" in report.reason
        got = {(p.path, p.code) for p in report.problems}
        assert got == INVALID_PROBLEMS
        assert all(p.severity == "error" and p.message for p in report.problems)
        assert any("DoesNotExist" in p.message for p in report.problems)

        after = status(sc.control, sc.token)
        assert (after.version, after.activation_id, after.sha256) == (1, before.activation_id, EXAMPLE_SHA)
        assert "ValidationFailed" in after.last_error
        resp2 = authorize(sc.authz_unix, request(ALICE, "s3:GetObject", OBJECT))
        assert (resp2.decision, resp2.snapshot_version) == (ALLOW, 1)


def test_not_json_is_a_validation_failure(tmp_path: Path) -> None:
    with running_sidecar(tmp_path) as sc:
        resp = push(sc.control, sc.token, b"{ this is not json")
        assert not resp.accepted
        assert resp.report.code == "ValidationFailed"
        assert len(resp.report.problems) >= 1
        assert status(sc.control, sc.token).version == 1


def test_checksum_mismatch_is_refused(tmp_path: Path) -> None:
    with running_sidecar(tmp_path) as sc:
        data = bob_may_send(2)
        wrong = hashlib.sha256(data + b" ").hexdigest()
        resp = push(sc.control, sc.token, data, sha256=wrong)
        assert not resp.accepted
        assert resp.report.code == "ChecksumMismatch"
        assert not resp.report.valid
        assert resp.report.sha256 == hashlib.sha256(data).hexdigest()
        assert status(sc.control, sc.token).version == 1
        # Upper-case hex of the right digest is fine.
        ok = push(sc.control, sc.token, data, sha256=hashlib.sha256(data).hexdigest().upper())
        assert ok.accepted and ok.active_version == 2


@pytest.mark.parametrize(
    ("stream", "field"),
    [
        (lambda: chunks(bob_may_send(2), header_first=False), "header"),
        (lambda: iter([]), "header"),
        (
            lambda: iter(
                [
                    control_pb2.SnapshotChunk(header=control_pb2.SnapshotHeader()),
                    control_pb2.SnapshotChunk(header=control_pb2.SnapshotHeader()),
                    control_pb2.SnapshotChunk(data=bob_may_send(2)),
                ]
            ),
            "header",
        ),
        (lambda: iter([control_pb2.SnapshotChunk(header=control_pb2.SnapshotHeader())]), "data"),
        (lambda: iter([control_pb2.SnapshotChunk()]), "chunk"),
        (lambda: chunks(bob_may_send(2), sha256="not-hex"), "header.sha256"),
        (
            lambda: iter(
                [
                    control_pb2.SnapshotChunk(header=control_pb2.SnapshotHeader(format="yaml")),
                    control_pb2.SnapshotChunk(data=bob_may_send(2)),
                ]
            ),
            "header.format",
        ),
    ],
    ids=["data-before-header", "empty-stream", "header-twice", "no-data", "empty-chunk", "bad-sha", "yaml"],
)
def test_malformed_streams_are_invalid_argument(tmp_path: Path, stream: Callable, field: str) -> None:
    with running_sidecar(tmp_path) as sc, control(sc.control) as stub:
        for rpc in (stub.PushSnapshot, stub.ValidateSnapshot):
            err = rpc_error(lambda rpc=rpc: rpc(stream(), metadata=bearer(sc.token), timeout=10))
            assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
            info = error_info(err)
            assert info.reason == "InvalidArgument"
            assert info.metadata["field"] == field
        assert status(sc.control, sc.token).version == 1


def test_size_limit(tmp_path: Path) -> None:
    with running_sidecar(tmp_path, max_snapshot_bytes=1000) as sc, control(sc.control) as stub:
        data = bob_may_send(2)
        assert len(data) > 1000
        for rpc in (stub.PushSnapshot, stub.ValidateSnapshot):
            err = rpc_error(
                lambda rpc=rpc: rpc(chunks(data, chunk_size=300), metadata=bearer(sc.token), timeout=10)
            )
            assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            info = error_info(err)
            assert info.reason == "SnapshotTooLarge"
            assert info.metadata["field"] == "data"
        assert status(sc.control, sc.token).version == 1
        assert bob_sends(sc) == (IMPLICIT_DENY, 1)


# -- ValidateSnapshot --------------------------------------------------------------------------


def test_validate_is_a_dry_run(tmp_path: Path) -> None:
    with running_sidecar(tmp_path) as sc, control(sc.control) as stub:
        before = status(sc.control, sc.token)

        bad = stub.ValidateSnapshot(chunks(invalid_doc(2)), metadata=bearer(sc.token), timeout=10)
        assert not bad.valid
        assert bad.code == "ValidationFailed"
        assert {(p.path, p.code) for p in bad.problems} == INVALID_PROBLEMS
        assert bad.sha256 == hashlib.sha256(invalid_doc(2)).hexdigest()

        good_data = bob_may_send(7)
        good = stub.ValidateSnapshot(chunks(good_data, version=7), metadata=bearer(sc.token), timeout=10)
        assert (good.valid, good.version, good.code) == (True, 7, "OK")
        assert good.counts["users"] == 3
        assert good.compile_seconds >= 0

        # Version rules are not applied: an older version validates too.
        older = stub.ValidateSnapshot(chunks(EXAMPLE_BYTES), metadata=bearer(sc.token), timeout=10)
        assert older.valid and older.version == 1

        mismatch = stub.ValidateSnapshot(
            chunks(good_data, sha256=hashlib.sha256(b"x").hexdigest()), metadata=bearer(sc.token), timeout=10
        )
        assert not mismatch.valid and mismatch.code == "ChecksumMismatch"
        wrong_version = stub.ValidateSnapshot(
            chunks(good_data, version=8), metadata=bearer(sc.token), timeout=10
        )
        assert not wrong_version.valid and wrong_version.code == "VersionMismatch"

        after = status(sc.control, sc.token)
        assert (after.version, after.activation_id, after.sha256) == (1, before.activation_id, before.sha256)
        assert after.highest_version == 1
        assert bob_sends(sc) == (IMPLICIT_DENY, 1)


# -- rollback ----------------------------------------------------------------------------------


def test_rollback_restores_the_previous_version(tmp_path: Path) -> None:
    with running_sidecar(tmp_path) as sc, control(sc.control) as stub:
        assert push(sc.control, sc.token, bob_may_send(2)).accepted
        assert bob_sends(sc) == (ALLOW, 2)
        v3 = v(3)
        assert push(sc.control, sc.token, v3).accepted
        assert bob_sends(sc) == (IMPLICIT_DENY, 3)
        before = status(sc.control, sc.token)
        assert (before.version, before.previous_version, before.highest_version) == (3, 2, 3)

        st = stub.Rollback(control_pb2.RollbackRequest(), metadata=bearer(sc.token), timeout=10)
        assert (st.version, st.source) == (2, "rollback")
        assert st.previous_version == 3
        assert st.highest_version == 3
        assert st.activation_id > before.activation_id
        assert st.sha256 == hashlib.sha256(bob_may_send(2)).hexdigest()
        assert bob_sends(sc) == (ALLOW, 2)

        # A push must now exceed the highest version ever active (3), even v3's own bytes.
        again = push(sc.control, sc.token, v3)
        assert not again.accepted and again.report.code == "VersionConflict"
        assert "highest" in again.report.reason
        assert status(sc.control, sc.token).version == 2
        v4 = push(sc.control, sc.token, v(4))
        assert v4.accepted and v4.active_version == 4
        assert bob_sends(sc) == (IMPLICIT_DENY, 4)


def test_rollback_without_a_previous_version(tmp_path: Path) -> None:
    with running_sidecar(tmp_path) as sc, control(sc.control) as stub:
        err = rpc_error(lambda: stub.Rollback(control_pb2.RollbackRequest(), metadata=bearer(sc.token)))
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert error_info(err).reason == "NoPreviousSnapshot"
        st = status(sc.control, sc.token)
        assert (st.version, st.previous_version) == (1, 0)


def test_rollback_with_nothing_served(tmp_path: Path) -> None:
    with running_sidecar(tmp_path, snapshot=None) as sc, control(sc.control) as stub:
        err = rpc_error(lambda: stub.Rollback(control_pb2.RollbackRequest(), metadata=bearer(sc.token)))
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
        st = status(sc.control, sc.token)
        assert not st.serving and st.version == 0


# -- decisions during a push -------------------------------------------------------------------


def test_decisions_stay_consistent_while_pushing(tmp_path: Path) -> None:
    """Every answer (and every batch) is decided by exactly the version it names."""
    expected = {1: IMPLICIT_DENY, 2: ALLOW, 3: IMPLICIT_DENY, 4: ALLOW}
    docs = {2: bob_may_send(2), 3: v(3), 4: bob_may_send(4)}
    seen: list[tuple[int, int]] = []
    problems: list[str] = []
    stop = threading.Event()
    one = request(BOB, "sqs:SendMessage", QUEUE)
    batch = authorizer_pb2.AuthorizeBatchRequest(requests=[one] * 20)

    with running_sidecar(tmp_path) as sc:

        def hammer() -> None:
            try:
                with authorizer(sc.authz_unix) as s:
                    while not stop.is_set() and len(seen) < 50_000:
                        r = s.Authorize(one, timeout=10)
                        seen.append((r.snapshot_version, r.decision))
                        b = s.AuthorizeBatch(batch, timeout=10)
                        if {x.snapshot_version for x in b.responses} != {b.snapshot_version}:
                            problems.append(f"batch of mixed versions: {b}")
                        if {x.decision for x in b.responses} != {expected[b.snapshot_version]}:
                            problems.append(f"batch decided against the wrong version: {b}")
            except Exception as exc:  # reported below, not lost in the thread
                problems.append(repr(exc))

        thread = threading.Thread(target=hammer)
        thread.start()
        try:
            assert wait_for(lambda: len(seen) >= 5 or problems, timeout=10)
            for version in (2, 3, 4):
                assert push(sc.control, sc.token, docs[version]).accepted
            assert wait_for(lambda: (seen and seen[-1][0] == 4) or problems, timeout=10)
        finally:
            stop.set()
            thread.join(30)
    assert not thread.is_alive()
    assert not problems, problems[:3]
    assert all(decision == expected[version] for version, decision in seen)
    versions = [version for version, _ in seen]
    assert versions[0] == 1 and versions[-1] == 4
    assert versions == sorted(versions)  # one client never sees the version go back


# -- signed pushes -----------------------------------------------------------------------------


@pytest.fixture
def signing(tmp_path: Path) -> tuple[Ed25519PrivateKey, Path]:
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "snapshot-signing.pub"
    path.write_bytes(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    return key, path


def test_signed_pushes(tmp_path: Path, signing: tuple[Ed25519PrivateKey, Path]) -> None:
    key, public = signing
    data = bob_may_send(2)
    with running_sidecar(tmp_path, snapshot_public_key=public) as sc, control(sc.control) as stub:
        # Unsigned.
        for rpc in (stub.PushSnapshot, stub.ValidateSnapshot):
            err = rpc_error(lambda rpc=rpc: rpc(chunks(data), metadata=bearer(sc.token), timeout=10))
            assert err.code() == grpc.StatusCode.PERMISSION_DENIED
            info = error_info(err)
            assert info.reason == "InvalidSignature"
            assert info.metadata["field"] == "header.signature"
        # Signed by another key.
        other = Ed25519PrivateKey.generate().sign(data)
        err = rpc_error(lambda: push(sc.control, sc.token, data, signature=other))
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED
        assert error_info(err).reason == "InvalidSignature"
        # The right key over other bytes (one byte more).
        err = rpc_error(lambda: push(sc.control, sc.token, data + b"\n", signature=key.sign(data)))
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED
        # Garbage in place of a signature.
        err = rpc_error(lambda: push(sc.control, sc.token, data, signature=b"\x00" * 10))
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED
        assert status(sc.control, sc.token).version == 1
        assert bob_sends(sc) == (IMPLICIT_DENY, 1)

        # The right key over the exact bytes.
        resp = push(sc.control, sc.token, data, signature=key.sign(data))
        assert resp.accepted and resp.active_version == 2
        assert bob_sends(sc) == (ALLOW, 2)
        report = stub.ValidateSnapshot(
            chunks(v(3), signature=key.sign(v(3))), metadata=bearer(sc.token), timeout=10
        )
        assert report.valid and report.version == 3


def test_raw_public_key(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    public = tmp_path / "raw.pub"
    public.write_bytes(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    data = bob_may_send(2)
    with running_sidecar(tmp_path, snapshot_public_key=public) as sc:
        err = rpc_error(lambda: push(sc.control, sc.token, data))
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED
        assert push(sc.control, sc.token, data, signature=key.sign(data)).accepted
