"""The Control service: the control plane pushes, validates, inspects and rolls back.

It listens on its own address (never the Authorizer's socket), and every call must carry
``authorization: Bearer <token>``; the token file is re-read when it changes (rotation without
restart) and compared in constant time. With a public key configured, a push must carry an
Ed25519 signature over the exact document bytes. Loading and compiling run in a worker thread:
the event loop keeps answering decisions from the serving snapshot meanwhile, and a refused
push changes nothing.
"""

from __future__ import annotations

import asyncio
import hmac
import os
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import grpc
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from google.protobuf.timestamp_pb2 import Timestamp

from ..api.v1 import control_pb2 as pb
from ..api.v1 import control_pb2_grpc as pb_grpc
from ..policy import Problem, format_path
from ..store import NoPreviousSnapshot, RollbackFailed, SnapshotStore
from ..store import ValidationReport as StoreReport
from ..store.persist import sha256_hex
from . import errors as E
from .errors import RequestError

Context = grpc.aio.ServicerContext[Any, Any]
DEFAULT_MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024
_NOT_VALID = frozenset({"ValidationFailed", "CompileFailed", "ChecksumMismatch"})


class ControlError(Exception):
    """A configuration error of the Control service (unreadable token or key file)."""


class TokenFile:
    """The bearer token, re-read when the file changes (mtime, size, inode)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._token = b""
        self.read()

    def read(self) -> bytes:
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            if stamp != self._stamp:
                token = self.path.read_bytes().strip()
                if token:
                    self._token, self._stamp = token, stamp
                elif not self._token:
                    raise ControlError(f"the control token file {self.path} is empty")
                # An empty file mid-rotation (truncate, then write): keep the last good token
                # and look again at the next call.
        except OSError as exc:
            if not self._token:
                raise ControlError(f"cannot read the control token file {self.path}: {exc}") from None
        return self._token


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key: PEM (``-----BEGIN PUBLIC KEY-----``) or 32 raw bytes."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ControlError(f"cannot read the snapshot public key {path}: {exc}") from None
    try:
        if len(data) == 32:
            return Ed25519PublicKey.from_public_bytes(data)
        key = load_pem_public_key(data)
    except ValueError as exc:
        raise ControlError(f"{path}: not an Ed25519 public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ControlError(f"{path}: the snapshot public key must be Ed25519, not {type(key).__name__}")
    return key


def problem_message(p: Problem) -> pb.Problem:
    return pb.Problem(
        path=format_path(p.path),
        code=p.code,
        message=p.message,
        severity="error" if p.is_error else "warning",
    )


def _counts(target: Mapping[str, int], counts: Mapping[str, int]) -> None:
    for key, value in counts.items():
        target[key] = int(value)  # type: ignore[index]


class ControlService(pb_grpc.ControlServicer):
    def __init__(
        self,
        store: SnapshotStore,
        token: TokenFile,
        *,
        public_key: Ed25519PublicKey | None = None,
        max_snapshot_bytes: int = DEFAULT_MAX_SNAPSHOT_BYTES,
    ) -> None:
        self.store = store
        self.token = token
        self.public_key = public_key
        self.max_snapshot_bytes = max_snapshot_bytes
        self._push_lock = asyncio.Lock()  # one push at a time: reports stay about one document

    # -- authentication ------------------------------------------------------------------------

    def authenticate(self, context: Context) -> None:
        header = ""
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                header = value if isinstance(value, str) else value.decode("latin-1")
                break
        scheme, _, presented = header.partition(" ")
        if not header:
            raise RequestError(
                grpc.StatusCode.UNAUTHENTICATED,
                E.MISSING_TOKEN,
                "Control calls need the metadata 'authorization: Bearer <token>'",
            )
        expected = self.token.read()
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), expected):
            raise RequestError(
                grpc.StatusCode.UNAUTHENTICATED, E.INVALID_TOKEN, "the bearer token is not valid"
            )

    # -- reading a pushed document -----------------------------------------------------------

    async def receive(self, chunks: AsyncIterator[pb.SnapshotChunk]) -> tuple[pb.SnapshotHeader, bytes]:
        header: pb.SnapshotHeader | None = None
        parts: list[bytes] = []
        size = 0
        async for chunk in chunks:
            which = chunk.WhichOneof("chunk")
            if which == "header":
                if header is not None:
                    raise E.invalid("header", "was sent twice; send it once, first")
                header = chunk.header
            elif which == "data":
                if header is None:
                    raise E.invalid("header", "must come before the data chunks")
                size += len(chunk.data)
                if size > self.max_snapshot_bytes:
                    raise RequestError(
                        grpc.StatusCode.RESOURCE_EXHAUSTED,
                        "SnapshotTooLarge",
                        f"data: the snapshot exceeds the limit of {self.max_snapshot_bytes} bytes "
                        "(--max-snapshot-bytes)",
                        "data",
                    )
                parts.append(chunk.data)
            else:
                raise E.invalid("chunk", "is empty (header or data)")
        if header is None:
            raise E.invalid("header", "is required (the first chunk)")
        if header.format not in ("", "json"):
            raise E.invalid("header.format", f"{header.format!r} is not supported (json)")
        if header.sha256 and (len(header.sha256) != 64 or not _is_hex(header.sha256)):
            raise E.invalid("header.sha256", "must be 64 hex digits")
        data = b"".join(parts)
        if not data:
            raise E.invalid("data", "the snapshot is empty")
        return header, data

    def verify_signature(self, header: pb.SnapshotHeader, data: bytes) -> None:
        if self.public_key is None:
            return
        if not header.signature:
            raise RequestError(
                grpc.StatusCode.PERMISSION_DENIED,
                E.INVALID_SIGNATURE,
                "header.signature: this sidecar only accepts signed snapshots "
                "(Ed25519 over the document bytes)",
                "header.signature",
            )
        try:
            self.public_key.verify(header.signature, data)
        except InvalidSignature:
            raise RequestError(
                grpc.StatusCode.PERMISSION_DENIED,
                E.INVALID_SIGNATURE,
                "header.signature: the signature does not verify with the configured public key",
                "header.signature",
            ) from None

    async def authenticated_document(
        self, chunks: AsyncIterator[pb.SnapshotChunk], context: Context
    ) -> tuple[pb.SnapshotHeader, bytes]:
        """The token, then the streamed document, then its signature — or the call ends."""
        try:
            self.authenticate(context)
            header, data = await self.receive(chunks)
            self.verify_signature(header, data)
        except RequestError as err:
            await err.abort(context)
            raise
        return header, data

    # -- RPCs ------------------------------------------------------------------------------------

    async def PushSnapshot(
        self, request_iterator: AsyncIterator[pb.SnapshotChunk], context: Context
    ) -> pb.PushSnapshotResponse:
        header, data = await self.authenticated_document(request_iterator, context)
        async with self._push_lock:
            result = await asyncio.to_thread(
                self.store.activate,
                data,
                source="push",
                expected_version=header.version or None,
                expected_sha256=header.sha256 or None,
            )
        report = pb.ValidationReport(
            valid=result.accepted or (result.version is not None and result.code not in _NOT_VALID),
            version=result.version or 0,
            sha256=sha256_hex(data),
            code=result.code,
            reason=result.reason,
        )
        report.problems.extend(problem_message(p) for p in result.problems)
        if result.accepted and result.activation is not None:
            report.compile_seconds = result.activation.compile_seconds
            _counts(report.counts, result.activation.compiled.counts)
        return pb.PushSnapshotResponse(
            accepted=result.accepted,
            unchanged=result.noop,
            active_version=result.active_version or 0,
            report=report,
            persist_error=result.persist_error or "",
        )

    async def ValidateSnapshot(
        self, request_iterator: AsyncIterator[pb.SnapshotChunk], context: Context
    ) -> pb.ValidationReport:
        header, data = await self.authenticated_document(request_iterator, context)
        report: StoreReport = await asyncio.to_thread(self.store.validate, data)
        out = pb.ValidationReport(
            valid=report.ok,
            version=report.version or 0,
            sha256=report.sha256,
            compile_seconds=report.compile_seconds,
            code=report.code,
            reason=report.reason,
        )
        if header.sha256 and header.sha256.lower() != report.sha256:
            out.valid = False
            out.code = "ChecksumMismatch"
            out.reason = f"sha256 of the data is {report.sha256}, announced {header.sha256}"
        if header.version and report.version is not None and header.version != report.version:
            out.valid = False
            out.code = "VersionMismatch"
            out.reason = f"the header says version {header.version}, the document {report.version}"
        out.problems.extend(problem_message(p) for p in report.problems)
        _counts(out.counts, report.counts)
        return out

    async def GetStatus(self, request: pb.GetStatusRequest, context: Context) -> pb.SidecarStatus:
        try:
            self.authenticate(context)
        except RequestError as err:
            await err.abort(context)
            raise
        return self.status()

    async def Rollback(self, request: pb.RollbackRequest, context: Context) -> pb.SidecarStatus:
        try:
            self.authenticate(context)
            async with self._push_lock:
                try:
                    await asyncio.to_thread(self.store.rollback)
                except NoPreviousSnapshot as exc:
                    raise RequestError(grpc.StatusCode.FAILED_PRECONDITION, exc.code, str(exc)) from None
                except RollbackFailed as exc:
                    raise RequestError(grpc.StatusCode.FAILED_PRECONDITION, exc.code, str(exc)) from None
        except RequestError as err:
            await err.abort(context)
            raise
        return self.status()

    def status(self) -> pb.SidecarStatus:
        st = self.store.status()
        out = pb.SidecarStatus(
            serving=st.version is not None,
            version=st.version or 0,
            sha256=st.sha256 or "",
            source=st.source or "",
            compile_seconds=st.compile_seconds or 0.0,
            last_error=str(st.last_error) if st.last_error is not None else "",
            activation_id=st.activation_id or 0,
            highest_version=st.highest_version or 0,
            previous_version=st.previous_version or 0,
        )
        if st.loaded_at is not None:
            stamp = Timestamp()
            stamp.FromNanoseconds(int(st.loaded_at * 1e9))
            out.loaded_at.CopyFrom(stamp)
        _counts(out.counts, st.counts)
        return out


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return True
