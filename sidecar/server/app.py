"""The sidecar process: listeners, services, health, the snapshot source, and draining.

Three gRPC servers share one event loop: the Authorizer (with health and reflection) on the
Unix socket and/or loopback TCP; Control on its own address; and, optionally, a health-only
listener on the pod IP for Kubernetes probes. Health follows the store: ``""`` and
``iam_sidecar.v1.Authorizer`` are SERVING once a snapshot is active and NOT_SERVING before and
while draining; ``liveness`` is SERVING whenever the process can answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import stat
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ..api.envoy.service.auth.v3 import ext_authz_min_pb2_grpc as ext_authz_pb2_grpc
from ..api.v1 import authorizer_pb2, authorizer_pb2_grpc, control_pb2, control_pb2_grpc
from ..store import FileSource, SnapshotStore, StateDir, default_state_dir
from ..sts import Keyset, KeysetError, Sts, TokenCodec
from .authorizer import AuthorizerService
from .control import DEFAULT_MAX_SNAPSHOT_BYTES, ControlError, ControlService, TokenFile, load_public_key
from .decision_log import DecisionLog
from .ext_authz import ExtAuthzConfigError, ExtAuthzService, load_config_file
from .metrics import Metrics, registry_for, serve_metrics

log = logging.getLogger("iam_sidecar.server")

AUTHORIZER_SERVICE = authorizer_pb2.DESCRIPTOR.services_by_name["Authorizer"].full_name
CONTROL_SERVICE = control_pb2.DESCRIPTOR.services_by_name["Control"].full_name
LIVENESS = "liveness"
READINESS_SERVICES = ("", AUTHORIZER_SERVICE)
DEFAULT_LISTEN = ("unix:/tmp/iam-sidecar/authz.sock", "127.0.0.1:50051")
DEFAULT_CONTROL = "127.0.0.1:50052"


class ConfigError(ValueError):
    """A serve configuration that cannot work (said before anything listens)."""


@dataclass(frozen=True)
class ServerConfig:
    """What ``iam-sidecar serve`` runs (the flags of API.md). Addresses are ``unix:/path`` or
    ``HOST:PORT`` (port 0 picks a free port; :attr:`Sidecar.addresses` tells which)."""

    snapshot: Path | None = None
    listen: tuple[str, ...] = DEFAULT_LISTEN
    control: str | None = DEFAULT_CONTROL
    control_token_file: Path | None = None
    control_tls_cert: Path | None = None
    control_tls_key: Path | None = None
    control_tls_client_ca: Path | None = None
    snapshot_public_key: Path | None = None
    state_dir: Path | None = field(default_factory=default_state_dir)
    max_snapshot_bytes: int = DEFAULT_MAX_SNAPSHOT_BYTES
    max_version_wait: float = 5.0
    drain_grace: float = 10.0
    health_listen: str | None = None
    sts_keyset: Path | None = None
    config_file: Path | None = None  # --config: structured settings (the ext_authz route map)
    metrics_listen: str | None = None
    decision_log: str | None = None  # "stdout", a file path, or None (off)
    decision_log_sample: float = 1.0
    decision_log_mask: tuple[str, ...] = ()
    max_message_bytes: int = 16 * 1024 * 1024
    watch_interval: float = 1.0

    def check(self) -> None:
        if not self.listen:
            raise ConfigError("--listen: at least one Authorizer listener is required")
        for addr in (
            *self.listen,
            *(a for a in (self.control, self.health_listen, self.metrics_listen) if a),
        ):
            _split_address(addr)
        if self.health_listen and self.health_listen.startswith("unix:"):
            raise ConfigError("--health-listen takes HOST:PORT (Kubernetes probes cannot reach a socket)")
        if self.control and self.control_token_file is None:
            raise ConfigError("--control-token-file is required when the Control listener is on")
        if (self.control_tls_cert is None) != (self.control_tls_key is None):
            raise ConfigError("--control-tls-cert and --control-tls-key go together")
        if self.control_tls_client_ca is not None and self.control_tls_cert is None:
            raise ConfigError("--control-tls-client-ca needs --control-tls-cert and --control-tls-key")
        if self.metrics_listen and self.metrics_listen.startswith("unix:"):
            raise ConfigError("--metrics-listen takes HOST:PORT")
        if not 0.0 <= self.decision_log_sample <= 1.0:
            raise ConfigError("--decision-log-sample is a fraction between 0 and 1")
        if self.max_snapshot_bytes <= 0 or self.max_version_wait < 0 or self.drain_grace < 0:
            raise ConfigError("sizes and times must be positive")


def _split_address(addr: str) -> tuple[str, str]:
    if addr.startswith("unix:"):
        path = addr[len("unix:") :]
        if not path.startswith("/"):
            raise ConfigError(f"{addr!r}: a Unix socket address is unix:/absolute/path")
        return "unix", path
    host, sep, port = addr.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"{addr!r} is neither unix:/path nor HOST:PORT")
    return "tcp", addr


def _prepare_socket(path: str) -> None:
    """Create the socket's directory; remove a stale socket left by a crash (never a file
    that is not a socket)."""
    sock = Path(path)
    sock.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(sock.lstat().st_mode):
            sock.unlink()
        else:
            raise ConfigError(f"{path} exists and is not a socket")


def _bind(server: grpc.aio.Server, addr: str, credentials: grpc.ServerCredentials | None = None) -> str:
    """Add a port; return the address actually bound (port 0 resolved)."""
    kind, _ = _split_address(addr)
    if kind == "unix":
        _prepare_socket(addr[len("unix:") :])
    port = server.add_secure_port(addr, credentials) if credentials else server.add_insecure_port(addr)
    if kind == "unix":
        return addr
    if port == 0:
        raise ConfigError(f"cannot listen on {addr}")
    return f"{addr.rpartition(':')[0]}:{port}"


class Sidecar:
    """One running sidecar. ``await start()``, then ``await wait()`` (returns after a drain),
    or ``await stop()``."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        store: SnapshotStore | None = None,
        authorizer: AuthorizerService | None = None,
    ) -> None:
        """``authorizer``: a replacement servicer (the benchmark's constant-answer floor runs
        behind the very same listeners and settings)."""
        config.check()
        self.config = config
        self.store = store or SnapshotStore(StateDir(config.state_dir) if config.state_dir else None)
        self.health = health.aio.HealthServicer()  # type: ignore[attr-defined]
        if config.sts_keyset is not None:
            keyset = Keyset.load(config.sts_keyset)
        else:
            keyset = Keyset.random()
            log.warning(
                "no --sts-keyset: session credentials are signed with a random in-memory key; they "
                "die with this process and no other replica can verify them"
            )
        self.sts = Sts(TokenCodec(keyset), clock=time.time)
        self.decision_log = (
            DecisionLog(
                config.decision_log,
                sample=config.decision_log_sample,
                mask=frozenset(config.decision_log_mask),
            )
            if config.decision_log
            else None
        )
        self.authorizer = authorizer or AuthorizerService(
            self.store, max_version_wait=config.max_version_wait, sts=self.sts, decision_log=self.decision_log
        )
        self.metrics: Metrics | None = None
        if config.metrics_listen:
            log_ = self.decision_log
            self.metrics = Metrics(
                self.store,
                cache=self.authorizer.cache,
                memo_hits=lambda: self.authorizer.answers.hits,
                dropped=(lambda: log_.dropped) if log_ is not None else None,
                write_errors=(lambda: log_.write_errors) if log_ is not None else None,
            )
            self.authorizer.metrics = self.metrics
        self._metrics_server: Any = None
        self.ext_authz: ExtAuthzService | None = None
        if config.config_file is not None:
            try:
                ext = load_config_file(config.config_file.read_bytes())
            except OSError as exc:
                raise ConfigError(f"--config {config.config_file}: {exc}") from None
            except ExtAuthzConfigError as exc:
                raise ConfigError(f"--config {config.config_file}: " + "; ".join(exc.problems)) from None
            if ext is not None:
                if ext.listen:
                    _split_address(ext.listen)
                self.ext_authz = ExtAuthzService(self.authorizer, ext)
        self.control: ControlService | None = None
        if config.control:
            assert config.control_token_file is not None  # checked
            public_key = (
                load_public_key(config.snapshot_public_key)
                if config.snapshot_public_key is not None
                else None
            )
            self.control = ControlService(
                self.store,
                TokenFile(config.control_token_file),
                public_key=public_key,
                max_snapshot_bytes=config.max_snapshot_bytes,
            )
        self.addresses: dict[str, list[str]] = {
            "authorizer": [],
            "control": [],
            "health": [],
            "metrics": [],
            "ext_authz": [],
        }
        self._servers: list[grpc.aio.Server] = []
        self._source: FileSource | None = None
        self._ready_task: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self._draining = False

    # -- start -----------------------------------------------------------------------------------

    def _options(self, max_receive: int | None = None) -> list[tuple[str, int]]:
        size = self.config.max_message_bytes
        return [
            ("grpc.max_receive_message_length", max_receive or size),
            ("grpc.max_send_message_length", size),
            ("grpc.so_reuseport", 0),
        ]

    async def start(self) -> None:
        cfg = self.config
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING, READINESS_SERVICES)
        await self.health.set(LIVENESS, health_pb2.HealthCheckResponse.SERVING)
        if self.decision_log is not None:  # first: a bad path must stop start-up before anything runs
            try:
                self.decision_log.start()
            except OSError as exc:
                raise ConfigError(f"--decision-log {cfg.decision_log}: {exc}") from None
        # The snapshot first (persisted or file): a restart serves before anything listens.
        await asyncio.to_thread(self.store.start, cfg.snapshot)
        if cfg.snapshot is not None:
            self._source = FileSource(cfg.snapshot, self.store, interval=cfg.watch_interval)
            self._source.check_once()  # remember what start() read, so it is not re-read
            self._source.start()

        authz = grpc.aio.server(options=self._options())
        authorizer_pb2_grpc.add_AuthorizerServicer_to_server(self.authorizer, authz)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, authz)
        services = [AUTHORIZER_SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME]
        if self.ext_authz is not None:
            services.append("envoy.service.auth.v3.Authorization")
        reflection.enable_server_reflection(services, authz)
        if self.ext_authz is not None:
            ext_authz_pb2_grpc.add_AuthorizationServicer_to_server(self.ext_authz, authz)
        self.addresses["authorizer"] = [_bind(authz, a) for a in cfg.listen]
        self._servers.append(authz)
        if self.ext_authz is not None and self.ext_authz.config.listen:
            ext = grpc.aio.server(options=self._options())
            ext_authz_pb2_grpc.add_AuthorizationServicer_to_server(self.ext_authz, ext)
            health_pb2_grpc.add_HealthServicer_to_server(self.health, ext)
            self.addresses["ext_authz"] = [_bind(ext, self.ext_authz.config.listen)]
            self._servers.append(ext)

        if self.control is not None and cfg.control:
            ctl = grpc.aio.server(options=self._options(max_receive=4 * 1024 * 1024))
            control_pb2_grpc.add_ControlServicer_to_server(self.control, ctl)
            self.addresses["control"] = [_bind(ctl, cfg.control, self._control_credentials())]
            self._servers.append(ctl)

        if cfg.health_listen:
            probe = grpc.aio.server(options=self._options(max_receive=64 * 1024))
            health_pb2_grpc.add_HealthServicer_to_server(self.health, probe)
            self.addresses["health"] = [_bind(probe, cfg.health_listen)]
            self._servers.append(probe)

        if self.metrics is not None and cfg.metrics_listen:
            try:
                self._metrics_server, bound = serve_metrics(registry_for(self.metrics), cfg.metrics_listen)
            except OSError as exc:
                raise ConfigError(f"--metrics-listen {cfg.metrics_listen}: {exc}") from None
            self.addresses["metrics"] = [bound]
        for server in self._servers:
            await server.start()
        for addr in self.addresses["authorizer"]:
            if addr.startswith("unix:"):
                os.chmod(addr[len("unix:") :], 0o660)  # the pod's containers share a group, not the world
        self._ready_task = asyncio.create_task(self._ready_when_active())
        self._log_start()

    def _control_credentials(self) -> grpc.ServerCredentials | None:
        cfg = self.config
        if cfg.control_tls_cert is None or cfg.control_tls_key is None:
            return None
        try:
            pair = (cfg.control_tls_key.read_bytes(), cfg.control_tls_cert.read_bytes())
            ca = cfg.control_tls_client_ca.read_bytes() if cfg.control_tls_client_ca else None
        except OSError as exc:
            raise ConfigError(f"cannot read the Control TLS files: {exc}") from None
        return grpc.ssl_server_credentials([pair], root_certificates=ca, require_client_auth=ca is not None)

    async def _ready_when_active(self) -> None:
        if await self.store.wait_for_version_async(0, None) is not None and not self._draining:
            await self._set_health(health_pb2.HealthCheckResponse.SERVING, READINESS_SERVICES)

    async def _set_health(self, status: int, services: tuple[str, ...]) -> None:
        for name in services:
            await self.health.set(name, status)

    def _log_start(self) -> None:
        cur = self.store.current()
        status = self.store.status()
        line = {
            "event": "started",
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "pid": os.getpid(),
            "authorizer": self.addresses["authorizer"],
            "control": self.addresses["control"],
            "health": self.addresses["health"],
            "metrics": self.addresses["metrics"],
            "ext_authz": self.addresses["ext_authz"]
            or (self.addresses["authorizer"] if self.ext_authz else []),
            "decision_log": self.config.decision_log,
            "snapshot_source": str(self.config.snapshot) if self.config.snapshot else None,
            "snapshot_version": None if cur is None else cur.version,
            "snapshot_served_from": None if cur is None else cur.source,
            "state_dir": status.state_dir,
            "sts_keys": sorted(self.sts.codec.keyset.by_id),
            "sts_signing_key": self.sts.codec.keyset.signing.id,
            "last_error": str(status.last_error) if status.last_error else None,
        }
        log.info("%s", json.dumps(line))

    # -- stop ------------------------------------------------------------------------------------

    async def stop(self, grace: float | None = None) -> None:
        """Drain: readiness goes NOT_SERVING, listeners stop accepting, in-flight calls get
        ``grace`` seconds to finish (default ``drain_grace``)."""
        if self._draining:
            await self._stopped.wait()
            return
        self._draining = True
        grace = self.config.drain_grace if grace is None else grace
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING, READINESS_SERVICES)
        if self._ready_task is not None:
            self._ready_task.cancel()
        if self._source is not None:
            await asyncio.to_thread(self._source.stop)
        await asyncio.gather(*(s.stop(grace) for s in self._servers))
        if self.decision_log is not None:
            await asyncio.to_thread(self.decision_log.stop)
        if self._metrics_server is not None:
            await asyncio.to_thread(self._metrics_server.shutdown)
            self._metrics_server.server_close()
        for addr in self.addresses["authorizer"]:
            if addr.startswith("unix:"):
                with contextlib.suppress(OSError):
                    os.unlink(addr[len("unix:") :])
        log.info("%s", json.dumps({"event": "stopped", "pid": os.getpid()}))
        self._stopped.set()

    async def wait(self) -> None:
        await self._stopped.wait()


async def run(config: ServerConfig) -> int:
    """Serve until SIGTERM or SIGINT, then drain; the exit status."""
    try:
        sidecar = Sidecar(config)
        await sidecar.start()
    except (ConfigError, ControlError, KeysetError) as exc:
        print(f"iam-sidecar serve: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # grpc could not bind
        print(f"iam-sidecar serve: cannot listen: {exc}", file=sys.stderr)
        return 2
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[None]] = []

    def drain(signame: str) -> None:
        if not stopping:
            log.info("%s", json.dumps({"event": "draining", "signal": signame}))
            stopping.append(asyncio.create_task(sidecar.stop()))

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, drain, sig.name)
    await sidecar.wait()
    return 0
