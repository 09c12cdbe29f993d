"""The sidecar's life: health and readiness, reflection, waiting for a version, restarts from the
state directory, the watched snapshot file, and the ``iam-sidecar`` command line as a real
process (serve, SIGTERM drain, health, status, push, check)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from sidecar.api.v1 import authorizer_pb2, authorizer_pb2_grpc, control_pb2
from sidecar.server.app import ConfigError

from .harness import EXAMPLE, REPO, running_sidecar
from .support import (
    ALICE,
    ALLOW,
    BOB,
    IMPLICIT_DENY,
    OBJECT,
    QUEUE,
    authorize,
    authorizer,
    bearer,
    bob_may_send,
    control,
    example_doc,
    invalid_doc,
    push,
    request,
    status,
    to_bytes,
    wait_for,
)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
READINESS = ("", "iam_sidecar.v1.Authorizer")


def health_of(target: str, service: str) -> int:
    with grpc.insecure_channel(target) as ch:
        resp = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
    return int(resp.status)


def bob_sends(target: str, **fields: Any) -> authorizer_pb2.AuthorizeResponse:
    return authorize(target, request(BOB, "sqs:SendMessage", QUEUE, **fields))


# -- health and reflection ---------------------------------------------------------------------


def test_health_follows_the_snapshot(tmp_path: Path) -> None:
    with running_sidecar(tmp_path, snapshot=None) as sc:
        targets = (sc.authz_tcp, sc.authz_unix, sc.health)
        for target in targets:
            for service in READINESS:
                assert health_of(target, service) == NOT_SERVING, (target, service)
            assert health_of(target, "liveness") == SERVING
            with pytest.raises(grpc.RpcError) as exc:
                health_of(target, "no.such.Service")
            assert exc.value.code() == grpc.StatusCode.NOT_FOUND

        assert push(sc.control, sc.token, bob_may_send(2)).accepted

        def ready() -> bool:
            return all(health_of(t, s) == SERVING for t in targets for s in READINESS)

        assert wait_for(ready, timeout=5)
        for target in targets:
            assert health_of(target, "liveness") == SERVING
        assert bob_sends(sc.authz_unix).snapshot_version == 2


def test_health_listener_serves_only_health(tmp_path: Path) -> None:
    with running_sidecar(tmp_path) as sc:
        assert health_of(sc.health, "") == SERVING
        with pytest.raises(grpc.RpcError) as exc:
            authorize(sc.health, request(ALICE, "s3:GetObject", OBJECT), timeout=5)
        assert exc.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_readiness_goes_down_when_draining(tmp_path: Path) -> None:
    with running_sidecar(tmp_path) as sc, grpc.insecure_channel(sc.health) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        watch = stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=10)
        assert next(watch).status == SERVING
        stopping = asyncio.run_coroutine_threadsafe(sc.sidecar.stop(1.0), sc.loop)
        statuses = []
        with contextlib.suppress(grpc.RpcError):  # the stream may end with the server
            for update in watch:
                statuses.append(update.status)
                if update.status == NOT_SERVING:
                    break
        stopping.result(10)
        assert NOT_SERVING in statuses


def test_unix_socket_permissions_and_stale_socket(tmp_path: Path) -> None:
    sock_dir = Path(tempfile.mkdtemp(prefix="iamsc-", dir="/tmp"))
    try:
        sock = sock_dir / "stale.sock"
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(str(sock))  # a socket file nobody listens on, as a crash leaves it
        stale.close()
        assert stat.S_ISSOCK(sock.lstat().st_mode)
        with running_sidecar(tmp_path, listen=(f"unix:{sock}",)) as sc:
            assert sc.authz_unix == f"unix:{sock}"
            assert stat.S_IMODE(sock.stat().st_mode) == 0o660
            assert authorize(sc.authz_unix, request(ALICE, "s3:GetObject", OBJECT)).decision == ALLOW
        assert not sock.exists()  # removed on stop
    finally:
        shutil.rmtree(sock_dir, ignore_errors=True)


def test_a_file_that_is_not_a_socket_is_never_removed(tmp_path: Path) -> None:
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    with (
        pytest.raises(ConfigError, match="not a socket"),
        running_sidecar(tmp_path, listen=(f"unix:{precious}",)),
    ):
        pass
    assert precious.read_text() == "keep me"


def list_services(target: str) -> set[str]:
    with grpc.insecure_channel(target) as ch:
        stub = reflection_pb2_grpc.ServerReflectionStub(ch)
        responses = list(
            stub.ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
            )
        )
    assert len(responses) == 1
    return {s.name for s in responses[0].list_services_response.service}


def test_reflection_lists_the_services(tmp_path: Path) -> None:
    with running_sidecar(tmp_path) as sc:
        for target in (sc.authz_tcp, sc.authz_unix):
            names = list_services(target)
            assert {"iam_sidecar.v1.Authorizer", "grpc.health.v1.Health"} <= names
            assert "iam_sidecar.v1.Control" not in names  # Control lives on its own listener
        with grpc.insecure_channel(sc.authz_tcp) as ch:
            stub = reflection_pb2_grpc.ServerReflectionStub(ch)
            req = reflection_pb2.ServerReflectionRequest(file_containing_symbol="iam_sidecar.v1.Authorizer")
            (resp,) = list(stub.ServerReflectionInfo(iter([req]), timeout=5))
        assert resp.HasField("file_descriptor_response")
        assert resp.file_descriptor_response.file_descriptor_proto


# -- waiting for a version ---------------------------------------------------------------------


def test_min_snapshot_version_is_satisfied_by_a_later_push(tmp_path: Path) -> None:
    with running_sidecar(tmp_path, max_version_wait=8.0) as sc, ThreadPoolExecutor(2) as pool:
        started = time.monotonic()
        single = pool.submit(
            authorize, sc.authz_unix, request(BOB, "sqs:SendMessage", QUEUE, min_snapshot_version=2), 10
        )

        def batch() -> authorizer_pb2.AuthorizeBatchResponse:
            with authorizer(sc.authz_tcp) as s:
                reqs = [request(BOB, "sqs:SendMessage", QUEUE), request(ALICE, "ec2:RunInstances", "*")]
                return s.AuthorizeBatch(
                    authorizer_pb2.AuthorizeBatchRequest(requests=reqs, min_snapshot_version=2), timeout=10
                )

        batched = pool.submit(batch)
        time.sleep(0.4)
        assert not single.done() and not batched.done()  # both wait for version 2
        assert push(sc.control, sc.token, bob_may_send(2)).accepted
        resp = single.result(10)
        b = batched.result(10)
        elapsed = time.monotonic() - started
    assert (resp.decision, resp.snapshot_version) == (ALLOW, 2)
    assert b.snapshot_version == 2
    assert [r.decision for r in b.responses] == [ALLOW, IMPLICIT_DENY]
    assert elapsed < 6.0  # woken by the push, not by max_version_wait (8 s)


# -- restarts and the file source --------------------------------------------------------------


def test_restart_serves_the_persisted_version(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first_dir, second_dir, third_dir = (tmp_path / n for n in ("one", "two", "three"))
    for d in (first_dir, second_dir, third_dir):
        d.mkdir()
    with running_sidecar(first_dir, state_dir=state) as sc:
        assert push(sc.control, sc.token, bob_may_send(2)).accepted
        assert bob_sends(sc.authz_unix).decision == ALLOW
    # The first sidecar is stopped; a new one with no snapshot source serves what was pushed.
    with running_sidecar(second_dir, snapshot=None, state_dir=state) as sc:
        for service in READINESS:
            assert health_of(sc.authz_tcp, service) == SERVING  # before any push
        resp = bob_sends(sc.authz_unix)
        assert (resp.decision, resp.snapshot_version) == (ALLOW, 2)
        st = status(sc.control, sc.token)
        assert (st.version, st.source, st.previous_version, st.highest_version) == (2, "persisted", 1, 2)
    # Started again with the (older) example file: the newer persisted version wins.
    with running_sidecar(third_dir, snapshot=EXAMPLE, state_dir=state) as sc:
        st = status(sc.control, sc.token)
        assert (st.version, st.source) == (2, "persisted")
        assert "VersionConflict" in st.last_error
        assert bob_sends(sc.authz_unix).snapshot_version == 2


def test_restart_after_a_rollback_keeps_the_version_rules(tmp_path: Path) -> None:
    state = tmp_path / "state"
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    v3 = example_doc()
    v3["version"] = 3
    v3_bytes = to_bytes(v3)
    with running_sidecar(tmp_path / "one", state_dir=state) as sc:
        assert push(sc.control, sc.token, bob_may_send(2)).accepted
        assert push(sc.control, sc.token, v3_bytes).accepted
        with control(sc.control) as stub:
            assert stub.Rollback(control_pb2.RollbackRequest(), metadata=bearer(sc.token)).version == 2
    with running_sidecar(tmp_path / "two", snapshot=None, state_dir=state) as sc:
        st = status(sc.control, sc.token)
        assert (st.version, st.previous_version, st.highest_version) == (2, 3, 3)
        assert bob_sends(sc.authz_unix).decision == ALLOW
        # The highest version ever active survived the restart: 3 is still refused.
        again = push(sc.control, sc.token, v3_bytes)
        assert not again.accepted and again.report.code == "VersionConflict"
        assert push(sc.control, sc.token, bob_may_send(4)).accepted


def test_the_watched_file_is_picked_up(tmp_path: Path) -> None:
    snapshot = tmp_path / "snapshot.json"
    shutil.copyfile(EXAMPLE, snapshot)
    with running_sidecar(tmp_path, snapshot=snapshot) as sc:
        assert status(sc.control, sc.token).version == 1
        assert bob_sends(sc.authz_unix).decision == IMPLICIT_DENY

        tmp = tmp_path / "snapshot.json.new"
        tmp.write_bytes(bob_may_send(2))
        os.replace(tmp, snapshot)
        st = wait_for(lambda: (s := status(sc.control, sc.token)).version == 2 and s, timeout=5)
        assert st, "the sidecar did not pick up version 2 within 5 s"
        assert st.source == f"file:{snapshot}"
        resp = bob_sends(sc.authz_tcp)
        assert (resp.decision, resp.snapshot_version) == (ALLOW, 2)

        # An in-place rewrite with a broken document: reported, version 2 keeps serving.
        snapshot.write_bytes(invalid_doc(3))
        st = wait_for(lambda: (s := status(sc.control, sc.token)).last_error and s, timeout=5)
        assert st, "the bad file was not reported within 5 s"
        assert "ValidationFailed" in st.last_error
        assert st.version == 2
        assert bob_sends(sc.authz_unix).snapshot_version == 2


# -- the command line, as real processes -------------------------------------------------------

CLI = REPO / ".venv" / "bin" / "iam-sidecar"
if not CLI.exists():  # pragma: no cover - another virtualenv layout
    CLI = Path(sys.executable).parent / "iam-sidecar"


def cli_env() -> dict[str, str]:
    """The environment without IAM_SIDECAR_* settings that would change the flags' defaults."""
    return {k: v for k, v in os.environ.items() if not k.startswith("IAM_SIDECAR_")}


def run_cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), *args], capture_output=True, text=True, timeout=timeout, env=cli_env(), check=False
    )


@dataclass
class Served:
    process: subprocess.Popen[str]
    started: dict[str, Any]
    token_file: Path
    sock: Path
    lines: list[str] = field(default_factory=list)

    @property
    def tcp(self) -> str:
        return next(a for a in self.started["authorizer"] if not a.startswith("unix:"))

    @property
    def unix(self) -> str:
        return next(a for a in self.started["authorizer"] if a.startswith("unix:"))

    @property
    def control(self) -> str:
        return str(self.started["control"][0])

    def log(self) -> str:
        return "".join(self.lines)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    """Start ``iam-sidecar serve`` (a factory: call it with extra flags); always killed."""
    procs: list[subprocess.Popen[str]] = []
    sock_dirs: list[Path] = []

    def start(*extra: str, snapshot: Path | None = EXAMPLE) -> Served:
        sock_dir = Path(tempfile.mkdtemp(prefix="iamsc-", dir="/tmp"))
        sock_dirs.append(sock_dir)
        sock = sock_dir / "a.sock"
        token_file = tmp_path / "cli.token"
        token_file.write_text("cli-test-token\n")
        args = [
            str(CLI),
            "serve",
            *(["--snapshot", str(snapshot)] if snapshot else []),
            "--listen",
            f"unix:{sock},127.0.0.1:0",
            "--control",
            "127.0.0.1:0",
            "--control-token-file",
            str(token_file),
            "--state-dir",
            str(tmp_path / f"state-{len(procs)}"),
            *extra,
        ]
        proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, env=cli_env())
        procs.append(proc)
        lines: list[str] = []
        started: dict[str, Any] = {}
        ready = threading.Event()

        def read() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:  # keep draining: a full pipe would block the server
                lines.append(line)
                if not started and '"event": "started"' in line:
                    started.update(json.loads(line[line.index("{") :]))
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        assert ready.wait(30), "iam-sidecar serve did not start"
        assert started, f"iam-sidecar serve exited: {''.join(lines)}"
        return Served(proc, started, token_file, sock, lines)

    try:
        yield start
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
        for d in sock_dirs:
            shutil.rmtree(d, ignore_errors=True)


def waiting_call(target: str) -> tuple[str, str, float]:
    """An Authorize that waits for a version that never comes (status name, details, seconds)."""
    started = time.monotonic()
    with grpc.insecure_channel(target) as ch:
        grpc.channel_ready_future(ch).result(timeout=5)
        stub = authorizer_pb2_grpc.AuthorizerStub(ch)
        try:
            stub.Authorize(request(ALICE, "s3:GetObject", OBJECT, min_snapshot_version=99), timeout=10)
        except grpc.RpcError as err:
            return err.code().name, err.details() or "", time.monotonic() - started
    return "OK", "", time.monotonic() - started


def test_sigterm_drains_in_flight_calls(serve: Any) -> None:
    srv = serve("--max-version-wait", "2", "--drain-grace", "5")
    assert srv.started["snapshot_version"] == 1
    assert srv.sock.exists()
    with ThreadPoolExecutor(6) as pool:
        calls = [pool.submit(waiting_call, t) for t in (srv.tcp, srv.unix) * 3]
        time.sleep(0.7)  # every call is in flight now (each waits about 2 s on the server)
        assert not any(c.done() for c in calls)
        sigterm_at = time.monotonic()
        srv.process.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        # New calls are refused while the in-flight ones drain.
        for target in (srv.tcp, srv.unix):
            with pytest.raises(grpc.RpcError) as exc:
                authorize(target, request(ALICE, "s3:GetObject", OBJECT), timeout=2)
            assert exc.value.code() == grpc.StatusCode.UNAVAILABLE
        assert not any(c.done() for c in calls)
        results = [c.result(15) for c in calls]
    for code, details, _ in results:
        assert code == "FAILED_PRECONDITION", (code, details)
        assert "snapshot version 99 was asked for" in details
        assert "the active version is 1" in details
    rc = srv.process.wait(10)
    exited_after = time.monotonic() - sigterm_at
    assert rc == 0, srv.log()
    assert exited_after < 5.0 + 1.0  # within the drain grace
    log = srv.log()
    assert '"event": "draining"' in log and '"signal": "SIGTERM"' in log
    assert '"event": "stopped"' in log
    assert not srv.sock.exists()  # the socket is removed


def test_drain_grace_bounds_the_shutdown(serve: Any) -> None:
    srv = serve("--max-version-wait", "20", "--drain-grace", "1")
    with ThreadPoolExecutor(2) as pool:
        calls = [pool.submit(waiting_call, t) for t in (srv.tcp, srv.unix)]
        time.sleep(0.5)
        sigterm_at = time.monotonic()
        srv.process.send_signal(signal.SIGTERM)
        rc = srv.process.wait(10)
        exited_after = time.monotonic() - sigterm_at
        results = [c.result(15) for c in calls]
    assert rc == 0
    assert 0.8 <= exited_after < 4.0  # waited for the grace, not for the 20 s version wait
    for code, _, seconds in results:
        assert code != "OK"  # cut off by the end of the grace
        assert seconds < 6.0


def run_all(*commands: tuple[str, ...]) -> list[subprocess.CompletedProcess[str]]:
    """Independent CLI runs at once (each is a fresh Python process: about 0.7 s)."""
    with ThreadPoolExecutor(len(commands)) as pool:
        return list(pool.map(lambda args: run_cli(*args), commands))


def test_cli_commands_against_a_served_sidecar(serve: Any, tmp_path: Path) -> None:
    srv = serve()
    token = str(srv.token_file)
    v2 = tmp_path / "v2.json"
    v2.write_bytes(bob_may_send(2))
    bad = tmp_path / "bad.json"
    bad.write_bytes(invalid_doc(3))
    wrong = tmp_path / "wrong.token"
    wrong.write_text("nope\n")

    def check(*args: str) -> tuple[str, ...]:
        return ("check", "--server", srv.unix, *args)

    # Read-only commands against version 1, all at once.
    (health_tcp, health_unix, liveness, st, st_json, allow, explicit, implicit, malformed, wrong_token) = (
        run_all(
            ("health", "--server", srv.tcp),
            ("health", "--server", srv.unix),
            ("health", "--server", srv.tcp, "--service", "liveness"),
            ("status", "--server", srv.control, "--token-file", token),
            ("status", "--server", srv.control, "--token-file", token, "--json"),
            check("--principal", ALICE, "--action", "s3:GetObject", "--resource", OBJECT),
            check("--principal", ALICE, "--action", "iam:PutUserPermissionsBoundary"),
            check("--principal", BOB, "--action", "sqs:SendMessage", "--resource", QUEUE),
            check("--principal", ALICE, "--action", "s3:Get*", "--resource", OBJECT),
            ("push", str(v2), "--server", srv.control, "--token-file", str(wrong)),
        )
    )
    # health: exit 0 while serving, on either listener.
    for r in (health_tcp, health_unix):
        assert (r.returncode, r.stdout.strip()) == (0, "SERVING"), r.stderr
    assert liveness.returncode == 0
    # status: prints the version.
    assert st.returncode == 0, st.stderr
    assert "serving snapshot version 1" in st.stdout
    assert st_json.returncode == 0
    assert int(json.loads(st_json.stdout)["version"]) == 1
    # check: 0 for allow, 1 for deny, 2 for a refused request.
    assert allow.returncode == 0 and allow.stdout.startswith("Allow"), allow
    assert explicit.returncode == 1 and explicit.stdout.startswith("ExplicitDeny"), explicit
    assert implicit.returncode == 1 and implicit.stdout.startswith("ImplicitDeny"), implicit
    assert malformed.returncode == 2, malformed
    assert "INVALID_ARGUMENT" in malformed.stderr and "[action]" in malformed.stderr
    # A push with a wrong token fails and changes nothing.
    assert wrong_token.returncode == 2 and "UNAUTHENTICATED" in wrong_token.stderr

    # push: a new version exits 0 and flips the decision; a refused push exits 1.
    r = run_cli("push", str(v2), "--server", srv.control, "--token-file", token)
    assert r.returncode == 0, r.stderr
    assert "accepted: serving snapshot version 2" in r.stdout
    again, older, invalid, st2, bob_now = run_all(
        ("push", str(v2), "--server", srv.control, "--token-file", token),
        ("push", str(EXAMPLE), "--server", srv.control, "--token-file", token),
        ("push", str(bad), "--server", srv.control, "--token-file", token),
        ("status", "--server", srv.control, "--token-file", token),
        check("--principal", BOB, "--action", "sqs:SendMessage", "--resource", QUEUE),
    )
    assert again.returncode == 0 and "already active" in again.stdout
    assert older.returncode == 1
    assert "refused (VersionConflict)" in older.stderr and "still serving version 2" in older.stderr
    assert invalid.returncode == 1
    assert "accounts[1].users[1].managed_policies[0]: NoSuchEntity" in invalid.stderr
    assert "MalformedPolicyDocument" in invalid.stderr
    assert "serving snapshot version 2" in st2.stdout
    assert bob_now.returncode == 0 and "(snapshot version 2)" in bob_now.stdout, bob_now


def test_cli_health_is_1_without_a_snapshot(tmp_path: Path) -> None:
    with running_sidecar(tmp_path, snapshot=None) as sc:
        ready, live, st = run_all(
            ("health", "--server", sc.health),
            ("health", "--server", sc.health, "--service", "liveness"),
            ("status", "--server", sc.control, "--token-file", str(sc.token_file)),
        )
        assert (ready.returncode, ready.stdout.strip()) == (1, "NOT_SERVING")
        assert (live.returncode, live.stdout.strip()) == (0, "SERVING")
        assert st.returncode == 1 and "not serving" in st.stdout


def test_cli_signed_push(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    key = Ed25519PrivateKey.generate()
    private = tmp_path / "signing.pem"
    private.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    public = tmp_path / "signing.pub"
    public.write_bytes(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    v2 = tmp_path / "v2.json"
    v2.write_bytes(bob_may_send(2))
    with running_sidecar(tmp_path, snapshot_public_key=public) as sc:
        args = ("push", str(v2), "--server", sc.control, "--token-file", str(sc.token_file))
        r = run_cli(*args)
        assert r.returncode == 1 and "InvalidSignature" in r.stderr  # the sidecar refused it
        r = run_cli(*args, "--signing-key", str(private))
        assert r.returncode == 0, r.stderr
        assert bob_sends(sc.authz_unix).snapshot_version == 2


def test_serve_refuses_a_bad_configuration(tmp_path: Path) -> None:
    r = run_cli("serve", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0", timeout=20)
    assert r.returncode == 2
    assert "--control-token-file" in r.stderr
