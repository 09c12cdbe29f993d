"""The gRPC section of the benchmark: the sidecar's Authorizer against a constant-answer floor
served by the very same server, at 1,500 statements.

    .venv/bin/python bench/run.py --grpc-only --out /tmp/g.md --json /tmp/g.json  # this section only
    .venv/bin/python bench/grpc_bench.py [--rounds 3]      # the same, printed (no report file)

Three kinds of process, so that no two of them share a GIL (they do share the machine's cores,
like the transport anchors of ANCHORS.md §1):

- the parent (``bench/run.py``, or this file without arguments) generates the workload
  (``workload.scaled(1500)``), writes it as a snapshot document plus a request list, and starts
- the client (``--measure DIR``), which starts four servers and measures them, then
- the servers (``--serve floor|real|metrics|metrics_log --snapshot FILE --sock PATH``): a production
  :class:`~sidecar.server.app.Sidecar` with the same :class:`ServerConfig` (an Authorizer
  listener on a Unix socket and one on 127.0.0.1, no Control listener, no state directory, the
  snapshot file as source). ``real`` runs the production :class:`AuthorizerService`; ``floor``
  runs :class:`FloorService`, a subclass whose ``Authorize``/``AuthorizeBatch`` return constant
  answers, passed as ``Sidecar(config, authorizer=...)``: same generated servicer base, same
  listeners, same options. ``metrics`` is ``real`` with ``metrics_listen="127.0.0.1:0"``
  (Prometheus metrics on); ``metrics_log`` adds a decision log to a file next to its socket, in
  its own temporary directory (``decision_log_sample=1.0``: every decision is logged). Each
  server prints its bound addresses as one JSON line on stdout and serves until its stdin closes
  (or SIGTERM/SIGINT, or a lifetime bound); at exit it prints its decision log's counts.

Per round and transport (TCP first in odd rounds, UDS first in even ones), floor and real:
sequential unary ``Authorize`` with a sync client (p50/p99 of single calls), in blocks of 100
calls that alternate between the servers on the same requests (floor, real and the two
observability servers; the order of the four follows a balanced Latin square, so each server
goes first, and follows each other one, equally often); RPS with 16 calls in flight (a
``grpc.aio`` client on one channel), one server after the other; ``AuthorizeBatch`` of 100 with 1
call in flight, in alternating blocks of 20 batches. So floor and real are measured under the same
conditions even when other processes come and go, and the ratios hold up. Before
the rounds each server gets every request of the workload once in batches (the real server's
decision cache is then in its steady state) and the real server's answers to the first 1,000
requests, by unary and by batch calls, are kept; after the rounds they are compared with
``CompiledSnapshot.authorize`` in the client process. The metrics servers are scraped once after
that pass and once after the rounds (their counts must match the calls sent).

Then, with every server stopped, the observability cost without a transport: the client calls
the ``AuthorizerService.Authorize`` coroutine directly (a minimal context) on a service of its
own, plain, with ``Metrics`` and with ``Metrics`` plus a started ``DecisionLog`` on a temporary
file, in alternating blocks.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import grpc
from common import print_standalone, wait_ready

from sidecar.api.v1 import authorizer_pb2 as pb
from sidecar.api.v1 import authorizer_pb2_grpc as pb_grpc
from sidecar.server.app import ServerConfig, Sidecar
from sidecar.server.authorizer import AuthorizerService
from sidecar.store import SnapshotStore

HERE = Path(__file__).resolve().parent
STATEMENTS = 1500
SERVERS = ("floor", "real")
OBSERVED = ("metrics", "metrics_log")  # the real server with metrics, and with metrics + a decision log
KINDS = (*SERVERS, *OBSERVED)  # every server; the unary cells take turns between all of them
TRANSPORTS = ("tcp", "uds")
CELLS = tuple((s, t) for t in TRANSPORTS for s in SERVERS)  # floor TCP, real TCP, floor UDS, real UDS
OBS_CELLS = tuple((s, t) for t in TRANSPORTS for s in OBSERVED)  # unary Authorize only
LABELS = {"tcp": "TCP", "uds": "UDS"}
OBS_LABELS = {"real": "plain", "metrics": "+ metrics", "metrics_log": "+ metrics + decision log"}
VARIANTS = ("plain", "metrics", "metrics_log")  # the in-process measurement
DECISION_LOG_FILE = "decisions.jsonl"
WRITER = "decision-log"  # the name of DecisionLog's writer thread

# Targets of the issue (benchmarks, not tests).
TARGET_UNARY_RATIO = 1.1  # real Authorize p50 ≤ 1.1 × the floor's p50
TARGET_BATCH_SHARE = 0.60  # real AuthorizeBatch(100) decisions/s ≥ 60 % of the floor's
TARGET_METRICS_RATIO = 1.10  # real + metrics Authorize p50 ≤ 1.1 × real's (metrics add ≤ 10 %)

# ANCHORS.md §1, grpc.aio ×1 (two runs): for the "how to read" notes.
ANCHOR_UNARY_P50 = "552–631 µs"
ANCHOR_C16 = "2.9–3.4k"
ANCHOR_BATCH = "146–154k"

SERVER_LIFETIME_S = 900.0  # a server stops by itself after this long, whatever happens
READY_TIMEOUT_S = 120.0
CALL_TIMEOUT_S = 10.0
CLIENT_TIMEOUT_S = 900.0


# --- settings --------------------------------------------------------------------------------


def settings(rounds: int, quick: bool) -> dict[str, Any]:
    full = {
        "rounds": max(2, rounds),
        "unary_warmup": 200,
        "unary_calls": 2000,
        "concurrency": 16,
        "c16_warmup": 320,
        "c16_calls": 4000,
        "c16_max_s": 2.0,  # … or fewer: no new call starts after this long (contended machines)
        "batch_size": 100,
        "batch_warmup": 10,
        "batches": 200,
        "agreement": 1000,
        "inproc_block": 1000,  # in-process calls per block (below the decision log's queue bound)
        "inproc_blocks": 12,  # blocks per variant
    }
    if quick:
        full |= {
            "unary_calls": 1000,
            "c16_calls": 2000,
            "c16_max_s": 1.0,
            "batches": 100,
            "inproc_blocks": 6,
        }
    return full


# --- the servers -----------------------------------------------------------------------------

ALLOW = pb.AuthorizeResponse(decision=pb.DECISION_ALLOW, snapshot_version=1)


class FloorService(AuthorizerService):
    """The transport floor: the production servicer with constant answers."""

    async def Authorize(self, request: pb.AuthorizeRequest, context: Any) -> pb.AuthorizeResponse:
        return ALLOW

    async def AuthorizeBatch(
        self, request: pb.AuthorizeBatchRequest, context: Any
    ) -> pb.AuthorizeBatchResponse:
        out = pb.AuthorizeBatchResponse(snapshot_version=1)
        out.responses.extend([ALLOW] * len(request.requests))
        return out


async def _serve(kind: str, snapshot: Path, sock: str) -> int:
    observe: dict[str, Any] = {}
    if kind in OBSERVED:
        observe["metrics_listen"] = "127.0.0.1:0"
    log_file = Path(sock).parent / DECISION_LOG_FILE
    if kind == "metrics_log":
        observe |= {"decision_log": str(log_file), "decision_log_sample": 1.0}
    config = ServerConfig(
        snapshot=snapshot,
        listen=(f"unix:{sock}", "127.0.0.1:0"),
        control=None,
        state_dir=None,
        **observe,
    )
    store = SnapshotStore(None)  # what Sidecar builds itself when state_dir is None
    authorizer = FloorService(store) if kind == "floor" else None
    sidecar = Sidecar(config, store=store, authorizer=authorizer)
    t0 = time.perf_counter()
    await sidecar.start()
    current = store.current()
    ready = {
        "ready": current is not None,
        "kind": kind,
        "pid": os.getpid(),
        "authorizer": sidecar.addresses["authorizer"],
        "metrics": sidecar.addresses["metrics"],
        "decision_log": config.decision_log,
        "snapshot_version": None if current is None else current.version,
        "statements": None if current is None else current.compiled.counts.get("statements"),
        "start_s": time.perf_counter() - t0,
        "servicer": type(sidecar.authorizer).__name__,
        "threads": {  # for the per-thread CPU of /proc/<pid>/task/<tid>/stat
            "loop": threading.get_native_id(),
            "log_writer": next((t.native_id for t in threading.enumerate() if t.name == WRITER), None),
        },
    }
    print(json.dumps(ready), flush=True)
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)

    def watch_stdin() -> None:  # the client closes our stdin (or dies): stop
        with contextlib.suppress(OSError, ValueError):
            sys.stdin.buffer.read()
        loop.call_soon_threadsafe(done.set)

    threading.Thread(target=watch_stdin, name="stdin-eof", daemon=True).start()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), SERVER_LIFETIME_S)
    await sidecar.stop(0)  # the decision log's writer is drained and its file closed
    log = sidecar.decision_log
    if log is not None:
        size = log_file.stat().st_size if log_file.exists() else 0
        stopped = {"stopped": kind, "log_written": log.written, "log_dropped": log.dropped, "log_bytes": size}
        with contextlib.suppress(OSError, ValueError):
            print(json.dumps(stopped), flush=True)
    if Path(sock).parent.name.startswith("iamgb-"):  # ours (ServerProc): gone even if the client was killed
        with contextlib.suppress(OSError):
            log_file.unlink(missing_ok=True)
            Path(sock).parent.rmdir()
    return 0 if current is not None else 1


class ServerProc:
    """A server child process; ``close()`` always ends it (stdin EOF, then kill)."""

    def __init__(self, kind: str, snapshot: Path) -> None:
        self.kind = kind
        self.sock_dir = tempfile.mkdtemp(prefix="iamgb-", dir="/tmp")  # AF_UNIX paths stay short
        argv = [sys.executable, str(Path(__file__).resolve()), "--serve", kind]
        argv += ["--snapshot", str(snapshot), "--sock", f"{self.sock_dir}/a.sock"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.stopped: dict[str, Any] = {}  # what the server printed at exit (decision-log counts)
        try:
            self.info = self._ready()
        except BaseException:
            self.close()  # a server that failed to start is ended all the same
            raise
        addrs = self.info["authorizer"]
        self.targets = {
            "uds": next(a for a in addrs if a.startswith("unix:")),
            "tcp": next(a for a in addrs if not a.startswith("unix:")),
        }

    def _ready(self) -> dict[str, Any]:
        return wait_ready(self.proc, f"{self.kind} server", READY_TIMEOUT_S)

    def cpu_s(self) -> float:
        """User + system CPU time of the server process so far (all its threads)."""
        return _stat_cpu_s(f"/proc/{self.proc.pid}/stat")

    def thread_cpu_s(self) -> tuple[float, float]:
        """CPU time so far of the event-loop thread and of the decision-log writer (0 without)."""
        threads = self.info["threads"]
        loop = _stat_cpu_s(f"/proc/{self.proc.pid}/task/{threads['loop']}/stat")
        writer = threads["log_writer"]
        return loop, _stat_cpu_s(f"/proc/{self.proc.pid}/task/{writer}/stat") if writer else 0.0

    def scrape(self) -> dict[str, float]:
        """The server's ``/metrics`` (only the series this bench checks), summed over labels."""
        from prometheus_client.parser import text_string_to_metric_families

        (addr,) = self.info["metrics"]
        with urllib.request.urlopen(f"http://{addr}/metrics", timeout=CALL_TIMEOUT_S) as resp:
            text = resp.read().decode("utf-8")
        out: dict[str, float] = {"authorize_rpcs": 0.0, "decisions": 0.0, "log_dropped": 0.0}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "iam_sidecar_rpc_duration_seconds_count":
                    if sample.labels.get("rpc") == "Authorize":
                        out["authorize_rpcs"] += sample.value
                elif sample.name == "iam_sidecar_decisions_total":
                    out["decisions"] += sample.value
                elif sample.name == "iam_sidecar_decision_log_dropped_total":
                    out["log_dropped"] += sample.value
        return out

    def close(self) -> None:
        try:
            if self.proc.stdin is not None:
                with contextlib.suppress(OSError):
                    self.proc.stdin.close()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)
            if self.proc.stdout is not None:  # the process is gone: this read ends at EOF
                with contextlib.suppress(OSError, ValueError):
                    for line in self.proc.stdout.read().splitlines():
                        with contextlib.suppress(ValueError):
                            info = json.loads(line)
                            if isinstance(info, dict) and "stopped" in info:
                                self.stopped = info
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            shutil.rmtree(self.sock_dir, ignore_errors=True)


def _stat_cpu_s(path: str) -> float:
    """User + system CPU seconds of a process or thread (``/proc/…/stat``, clock ticks)."""
    with open(path, encoding="ascii") as fh:
        fields = fh.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the client ------------------------------------------------------------------------------


def machine_busy_s() -> float:
    """CPU seconds all processes of the machine spent busy so far (``/proc/stat``)."""
    with open("/proc/stat", encoding="ascii") as fh:
        fields = [int(x) for x in fh.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def percentile(sorted_ns: Sequence[int], q: float) -> float:
    """Nearest-rank percentile, in µs."""
    n = len(sorted_ns)
    return sorted_ns[min(n - 1, max(0, math.ceil(q * n) - 1))] / 1000


def _med(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def to_request(record: dict[str, Any]) -> pb.AuthorizeRequest:
    return pb.AuthorizeRequest(
        caller=pb.Caller(principal_arn=record["principal"]),
        action=record["action"],
        resource=record["resource"],
        context={"aws:SourceIp": pb.ContextValue(string_value=record["source_ip"])},
    )


class Conn:
    """A sync channel (unary, batch) to one server over one transport."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.channel = grpc.insecure_channel(target)
        grpc.channel_ready_future(self.channel).result(timeout=30)
        self.stub = pb_grpc.AuthorizerStub(self.channel)

    def close(self) -> None:
        self.channel.close()


def unary_seq(conn: Conn, reqs: Sequence[pb.AuthorizeRequest], start: int, n: int) -> list[int]:
    call, clock, out, size = conn.stub.Authorize, time.perf_counter_ns, [], len(reqs)
    for i in range(start, start + n):
        req = reqs[i % size]
        t0 = clock()
        call(req, timeout=CALL_TIMEOUT_S)
        out.append(clock() - t0)
    return out


def batch_c1(conn: Conn, batches: Sequence[pb.AuthorizeBatchRequest], start: int, n: int) -> list[int]:
    call, clock, out, size = conn.stub.AuthorizeBatch, time.perf_counter_ns, [], len(batches)
    for i in range(start, start + n):
        req = batches[i % size]
        t0 = clock()
        resp = call(req, timeout=CALL_TIMEOUT_S)
        out.append(clock() - t0)
        if len(resp.responses) != len(req.requests):
            raise RuntimeError(f"{conn.target}: {len(resp.responses)} answers to {len(req.requests)}")
    return out


async def _in_flight(
    target: str,
    reqs: Sequence[pb.AuthorizeRequest],
    start: int,
    warmup: int,
    n: int,
    concurrency: int,
    max_s: float,
) -> dict[str, float]:
    """``n`` calls (fewer if ``max_s`` runs out first) with ``concurrency`` in flight."""
    size = len(reqs)
    async with grpc.aio.insecure_channel(target) as channel:
        await asyncio.wait_for(channel.channel_ready(), 30)
        call = pb_grpc.AuthorizerStub(channel).Authorize
        lat: list[int] = []
        deadline = math.inf

        async def worker(indices: Any, record: bool) -> None:
            for i in indices:  # one iterator shared by all workers: a bounded number of calls
                t0 = time.perf_counter_ns()
                await call(reqs[i % size], timeout=CALL_TIMEOUT_S)
                if record:
                    lat.append(time.perf_counter_ns() - t0)
                    if time.perf_counter() >= deadline:
                        return

        warm = iter(range(start, start + warmup))
        await asyncio.gather(*(worker(warm, False) for _ in range(concurrency)))
        todo = iter(range(start + warmup, start + warmup + n))
        t0 = time.perf_counter()
        deadline = t0 + max_s
        await asyncio.gather(*(worker(todo, True) for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    lat.sort()
    return {
        "rps": len(lat) / elapsed,
        "calls": len(lat),
        "p50_ms": percentile(lat, 0.5) / 1000,
        "p99_ms": percentile(lat, 0.99) / 1000,
    }


def balanced_orders(n: int) -> list[list[int]]:
    """A Williams design: orders of ``n`` items in which each item takes each position, and
    follows each other item, equally often (n rows for even n, 2n for odd). For two items:
    [0, 1], [1, 0]."""
    first, lo, hi = [0], 1, n - 1
    while len(first) < n:
        first.append(lo)
        lo += 1
        if len(first) < n:
            first.append(hi)
            hi -= 1
    rows = [[(x + i) % n for x in first] for i in range(n)]
    return rows + ([row[::-1] for row in rows] if n % 2 else [])


class Client:
    def __init__(self, directory: Path, cfg: dict[str, Any], log: Callable[[str], None]) -> None:
        self.dir = directory
        self.cfg = cfg
        self.log = log
        self.records: list[dict[str, Any]] = json.loads((directory / "requests.json").read_text())
        self.reqs = [to_request(r) for r in self.records]
        k = cfg["batch_size"]
        self.batches = [
            pb.AuthorizeBatchRequest(requests=self.reqs[i : i + k]) for i in range(0, len(self.reqs), k)
        ]
        self.servers: dict[str, ServerProc] = {}
        self.conns: dict[tuple[str, str], Conn] = {}

    def _alternate(
        self,
        transport: str,
        r: int,
        run: Callable[[Conn, int, int], list[int]],
        total: int,
        block: int,
        first: int,
        servers: Sequence[str] = SERVERS,
    ) -> dict[str, dict[str, Any]]:
        """``total`` calls per server in blocks of ``block``, the servers taking turns (the
        order changes from block to block: :func:`balanced_orders`; for floor and real, the one
        going first alternates), each block on the same requests for all: the servers see the
        same conditions, even when other processes come and go."""
        out: dict[str, dict[str, Any]] = {
            s: {"lat": [], "wall": 0.0, "cpu": 0.0, "client": 0.0, "loop": 0.0, "writer": 0.0}
            for s in servers
        }
        orders = balanced_orders(len(servers))
        for b in range(math.ceil(total / block)):
            n = min(block, total - b * block)
            for server in (servers[i] for i in orders[(b + r) % len(orders)]):
                proc, acc = self.servers[server], out[server]
                (l0, x0), s0 = proc.thread_cpu_s(), proc.cpu_s()
                c0, w0 = time.process_time(), time.perf_counter()
                acc["lat"] += run(self.conns[(server, transport)], first + b * block, n)
                acc["wall"] += time.perf_counter() - w0
                acc["client"] += time.process_time() - c0
                acc["cpu"] += proc.cpu_s() - s0
                l1, x1 = proc.thread_cpu_s()
                acc["loop"] += l1 - l0
                acc["writer"] += x1 - x0
        return out

    def measure_pair(self, transport: str, r: int) -> dict[str, dict[str, Any]]:
        """One round of floor and real over one transport (unary: the observability servers too)."""
        cfg = self.cfg
        samples: dict[str, dict[str, Any]] = {s: {"round": r + 1} for s in KINDS}
        gc.collect()
        ours0 = time.process_time() + sum(p.cpu_s() for p in self.servers.values())
        busy0, wall0 = machine_busy_s(), time.perf_counter()
        # 1. sequential unary Authorize, in blocks of 100 calls taking turns (all four servers:
        #    floor and real, and real with metrics, and with metrics and a decision log)
        start = r * (cfg["unary_warmup"] + cfg["unary_calls"])
        for server in KINDS:
            unary_seq(self.conns[(server, transport)], self.reqs, start, cfg["unary_warmup"])

        def unary(conn: Conn, first: int, n: int) -> list[int]:
            return unary_seq(conn, self.reqs, first, n)

        n = cfg["unary_calls"]
        got = self._alternate(transport, r, unary, n, 100, start + cfg["unary_warmup"], KINDS)
        for server, acc in got.items():
            lat = sorted(acc["lat"])
            samples[server] |= {
                "unary_p50_us": percentile(lat, 0.5),
                "unary_p99_us": percentile(lat, 0.99),
                "unary_mean_us": sum(lat) / len(lat) / 1000,
                "unary_server_cpu_us": acc["cpu"] / n * 1e6,
                "unary_loop_cpu_us": acc["loop"] / n * 1e6,  # the server's event-loop thread
                "unary_writer_cpu_us": acc["writer"] / n * 1e6,  # its decision-log writer
                "unary_client_cpu_us": acc["client"] / n * 1e6,
            }
        # 2. 16 calls in flight (grpc.aio, one channel), one server after the other
        start = r * (cfg["c16_warmup"] + cfg["c16_calls"])
        for server in SERVERS if r % 2 == 0 else SERVERS[::-1]:
            proc = self.servers[server]
            s0, c0 = proc.cpu_s(), time.process_time()
            c16 = asyncio.run(
                _in_flight(
                    self.conns[(server, transport)].target,
                    self.reqs,
                    start,
                    cfg["c16_warmup"],
                    cfg["c16_calls"],
                    cfg["concurrency"],
                    cfg["c16_max_s"],
                )
            )
            total = cfg["c16_warmup"] + c16["calls"]
            samples[server] |= {
                "c16_rps": c16["rps"],
                "c16_calls": c16["calls"],
                "c16_p50_ms": c16["p50_ms"],
                "c16_p99_ms": c16["p99_ms"],
                "c16_server_cpu_us": (proc.cpu_s() - s0) / total * 1e6,  # warm-up included
                "c16_client_cpu_us": (time.process_time() - c0) / total * 1e6,
            }
        # 3. AuthorizeBatch(100), 1 call in flight, in blocks of 20 batches taking turns
        start = r * (cfg["batch_warmup"] + cfg["batches"])
        for server in SERVERS:
            batch_c1(self.conns[(server, transport)], self.batches, start, cfg["batch_warmup"])

        def batch(conn: Conn, first: int, n: int) -> list[int]:
            return batch_c1(conn, self.batches, first, n)

        got = self._alternate(transport, r, batch, cfg["batches"], 20, start + cfg["batch_warmup"])
        decisions = cfg["batches"] * cfg["batch_size"]
        for server, acc in got.items():
            lat = sorted(acc["lat"])
            samples[server] |= {
                "batch_rate": decisions / acc["wall"],
                "batch_p50_ms": percentile(lat, 0.5) / 1000,
                "batch_server_cpu_us": acc["cpu"] / decisions * 1e6,
                "batch_client_cpu_us": acc["client"] / decisions * 1e6,
            }
        # CPU that processes other than this client and the servers took meanwhile, as a
        # share of all the machine's cores (0: nothing else ran).
        ours = time.process_time() + sum(p.cpu_s() for p in self.servers.values()) - ours0
        busy, wall = machine_busy_s() - busy0, time.perf_counter() - wall0
        for sample in samples.values():
            sample["others_cpu_share"] = max(0.0, busy - ours) / (wall * (os.cpu_count() or 1))
        return samples

    def answers(self, server: str) -> dict[str, list[int]]:
        """The real server's decisions on the first requests: unary over UDS, batches over TCP."""
        n = min(self.cfg["agreement"], len(self.reqs))
        uds, tcp = self.conns[(server, "uds")].stub, self.conns[(server, "tcp")].stub
        unary = [uds.Authorize(q, timeout=CALL_TIMEOUT_S).decision for q in self.reqs[:n]]
        batched: list[int] = []
        k = self.cfg["batch_size"]
        for i in range(0, n, k):
            resp = tcp.AuthorizeBatch(
                pb.AuthorizeBatchRequest(requests=self.reqs[i : min(i + k, n)]), timeout=CALL_TIMEOUT_S
            )
            batched += [a.decision for a in resp.responses]
        return {"unary": unary, "batch": batched}

    def agreement(self, got: dict[str, list[int]]) -> dict[str, Any]:
        from sidecar.engine import normalize_context
        from sidecar.engine.compile import compile_snapshot
        from sidecar.server.convert import DECISIONS
        from sidecar.snapshot import load_snapshot

        compiled = compile_snapshot(load_snapshot((self.dir / "snapshot.json").read_bytes()))
        n = len(got["unary"])
        expected = []
        for rec in self.records[:n]:
            d = compiled.authorize(
                compiled.resolve_principal(rec["principal"]),
                rec["action"],
                rec["resource"],
                context=normalize_context({"aws:SourceIp": rec["source_ip"]}),
                now=time.time(),
            )
            expected.append(DECISIONS[d.kind])
        name = pb.Decision.Name
        out: dict[str, Any] = {
            "compared": n,
            "outcomes": dict(Counter(name(e) for e in expected)),
            "examples": [],
        }
        for how, answers in got.items():
            bad = [i for i in range(n) if answers[i] != expected[i]]
            out[f"disagree_{how}"] = len(bad)
            for i in bad[:3]:
                rec = self.records[i]
                out["examples"].append(
                    f"{how} request {i}: {rec['principal']} {rec['action']} on {rec['resource']} "
                    f"from {rec['source_ip']}: server {name(answers[i])}, in-process {name(expected[i])}"
                )
        return out

    def run(self) -> dict[str, Any]:
        cfg, started = self.cfg, time.perf_counter()
        snapshot = self.dir / "snapshot.json"
        scrapes: dict[str, dict[str, Any]] = {}
        try:
            for kind in KINDS:
                t0 = time.perf_counter()
                self.servers[kind] = ServerProc(kind, snapshot)
                self.servers[kind].info["spawn_to_ready_s"] = time.perf_counter() - t0
                for t in TRANSPORTS:
                    self.conns[(kind, t)] = Conn(self.servers[kind].targets[t])
            self.log(
                "servers ready: "
                + ", ".join(f"{k} {s.info['spawn_to_ready_s']:.1f} s" for k, s in self.servers.items())
            )
            # One pass of every request through each server and transport (steady state).
            for conn in self.conns.values():
                batch_c1(conn, self.batches, 0, len(self.batches))
            got = self.answers("real")
            scrapes["after_warmup"] = {k: self._scrape(k) for k in OBSERVED}
            self.log("warm-up pass and agreement answers done")
            gc.collect()
            gc.freeze()
            samples: dict[str, list[dict[str, Any]]] = {f"{s}_{t}": [] for s, t in CELLS + OBS_CELLS}
            for r in range(cfg["rounds"]):
                for transport in TRANSPORTS if r % 2 == 0 else TRANSPORTS[::-1]:
                    for server, sample in self.measure_pair(transport, r).items():
                        samples[f"{server}_{transport}"].append(sample)
                last = {key: v[-1] for key, v in samples.items()}
                self.log(
                    f"round {r + 1}/{cfg['rounds']}: "
                    + "  ".join(
                        f"{k} p50 {x['unary_p50_us']:.0f} µs, c16 {x['c16_rps']:,.0f}/s, "
                        f"batch {x['batch_rate'] / 1000:,.0f}k/s"
                        for k, x in last.items()
                        if "c16_rps" in x
                    )
                    + "  observability: "
                    + ", ".join(
                        f"{s}_{t} p50 {last[f'{s}_{t}']['unary_p50_us']:.0f} µs" for s, t in OBS_CELLS
                    )
                )
            scrapes["end"] = {k: self._scrape(k) for k in OBSERVED}
        finally:
            for conn in self.conns.values():
                with contextlib.suppress(Exception):
                    conn.close()
            for proc in self.servers.values():
                proc.close()
        inproc = self.inproc()
        ip = inproc["median"]
        self.log(
            "in-process Authorize: "
            + ", ".join(f"{v} {ip[v]['wall_us']:.1f} µs ({ip[v]['cpu_us']:.1f} µs CPU)" for v in VARIANTS)
        )
        agreement = self.agreement(got)
        self.log(
            f"agreement: unary {agreement['disagree_unary']}, batch {agreement['disagree_batch']} "
            f"of {agreement['compared']:,} disagree"
        )
        unary_rpcs = cfg["rounds"] * len(TRANSPORTS) * (cfg["unary_warmup"] + cfg["unary_calls"])
        warmup_decisions = len(TRANSPORTS) * len(self.reqs)  # the batch pass
        return {
            "settings": cfg,
            "servers": {k: s.info for k, s in self.servers.items()},
            "cells": {f"{s}_{t}": cell(samples[f"{s}_{t}"]) for s, t in CELLS},
            "agreement": agreement,
            "observability": {
                "cells": {f"{s}_{t}": cell(samples[f"{s}_{t}"]) for s, t in OBS_CELLS},
                "scrapes": scrapes,
                "expected": {
                    "after_warmup": {"authorize_rpcs": 0, "decisions": warmup_decisions},
                    "end": {"authorize_rpcs": unary_rpcs, "decisions": warmup_decisions + unary_rpcs},
                },
                "decision_log": self.servers["metrics_log"].stopped,
                "inproc": inproc,
            },
            "client_wall_s": time.perf_counter() - started,
        }

    def _scrape(self, kind: str) -> dict[str, Any]:
        try:
            return self.servers[kind].scrape()
        except Exception as exc:  # a broken scrape is reported, it does not end the section
            return {"error": f"{type(exc).__name__}: {exc}"}

    # -- in-process: the observability cost without a transport -------------------------------

    def inproc(self) -> dict[str, Any]:
        """``AuthorizerService.Authorize`` awaited directly, plain / with ``Metrics`` / with
        ``Metrics`` and a started ``DecisionLog`` on a temporary file, in blocks that take turns
        on the same requests (after one pass of every request: the cache's steady state)."""
        from sidecar.server.decision_log import DecisionLog
        from sidecar.server.metrics import Metrics

        store = SnapshotStore(None)
        store.start(self.dir / "snapshot.json")
        service = AuthorizerService(store)
        metrics = Metrics(store, cache=service.cache)
        with tempfile.TemporaryDirectory(prefix="iamgb-log-") as tmp:
            log = DecisionLog(str(Path(tmp, DECISION_LOG_FILE)), sample=1.0)
            log.start()
            try:
                out = asyncio.run(self._inproc(service, metrics, log, Path(tmp)))
            finally:
                log.stop()
                service.metrics = service.decision_log = None
            out["log_written"], out["log_dropped"] = log.written, log.dropped
            out["log_bytes"] = Path(tmp, DECISION_LOG_FILE).stat().st_size
        out["metrics_decisions"] = sum(metrics.decisions.values.values())
        return out

    async def _inproc(self, service: AuthorizerService, metrics: Any, log: Any, tmp: Path) -> dict[str, Any]:
        from sidecar.server.decision_log import DecisionLog

        cfg, reqs, ctx = self.cfg, self.reqs, _Context()
        size, k, call = len(reqs), cfg["inproc_block"], service.Authorize
        clock, cpu, own_cpu = time.perf_counter, time.process_time, time.thread_time
        (writer,) = [t for t in threading.enumerate() if t.name == WRITER]
        assert writer.ident is not None
        writer_clock = time.pthread_getcpuclockid(writer.ident)

        def writer_cpu() -> float:
            return time.clock_gettime(writer_clock)

        for q in reqs:  # every request once: the decision cache's steady state
            await call(q, ctx)
        setups = {"plain": (None, None), "metrics": (metrics, None), "metrics_log": (metrics, log)}
        blocks: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
        orders = balanced_orders(len(VARIANTS))
        for b in range(cfg["inproc_blocks"]):
            first = size + b * k  # the same requests for every variant of the block
            for v in (VARIANTS[i] for i in orders[b % len(orders)]):
                service.metrics, service.decision_log = setups[v]
                done0 = log.written + log.dropped
                c0, o0, x0, t0 = cpu(), own_cpu(), writer_cpu(), clock()
                for i in range(first, first + k):
                    await call(reqs[i % size], ctx)
                wall = clock() - t0
                if v == "metrics_log":  # until the writer has written this block's entries
                    deadline = time.monotonic() + 10.0
                    while log.written + log.dropped - done0 < k and time.monotonic() < deadline:
                        time.sleep(0.0002)
                blocks[v].append(
                    {
                        "wall_us": wall / k * 1e6,
                        "cpu_us": (cpu() - c0) / k * 1e6,  # the process: every thread
                        "caller_cpu_us": (own_cpu() - o0) / k * 1e6,  # this thread (the loop)
                        "writer_cpu_us": (writer_cpu() - x0) / k * 1e6,  # the log writer
                    }
                )
        # Where the writer's time goes: format and write entries of these very calls, queued
        # by a log whose writer is not started (one block of them), back to back.
        quiet = DecisionLog(str(tmp / "quiet.jsonl"), sample=1.0, capacity=k)
        service.metrics, service.decision_log = None, quiet
        for i in range(size, size + k):
            await call(reqs[i % size], ctx)
        service.decision_log = None
        items = []
        while not quiet.queue.empty():
            items.append(quiet.queue.get_nowait())
        fmt, format_us, write_us = quiet.format, [], []
        with open(tmp / "quiet.jsonl", "a", encoding="utf-8", buffering=1) as fh:  # as DecisionLog does
            for _ in range(3):
                t0 = clock()
                lines = [fmt(item) + "\n" for item in items]
                format_us.append((clock() - t0) / len(items) * 1e6)
                t0 = clock()
                for line in lines:
                    fh.write(line)
                write_us.append((clock() - t0) / len(lines) * 1e6)
        # And what Metrics adds to a call, back to back: the decision's kind, one observation of
        # the decision histogram and the counter, a perf_counter() and one RPC observation.
        from sidecar.server.metrics import Metrics

        spare, decision = Metrics(service.store), items[0][-2]
        n, metrics_us = 20_000, []
        for _ in range(3):
            t0 = clock()
            for _ in range(n):
                spare.decision("Authorize", decision.kind.value, 1e-5)
                spare.rpc("Authorize", "OK", clock() - t0)
            metrics_us.append((clock() - t0) / n * 1e6)
        keys = ("wall_us", "cpu_us", "caller_cpu_us", "writer_cpu_us")
        return {
            "blocks": blocks,
            "median": {v: {key: _med([x[key] for x in blocks[v]]) for key in keys} for v in VARIANTS},
            "breakdown": {
                "metrics_calls_us": min(metrics_us),
                "format_us": min(format_us),
                "write_us": min(write_us),
                "entry_bytes": sum(map(len, lines)) / len(lines),
            },
        }


class _Context:
    """What ``Authorize`` asks of its context when the request is good."""

    def time_remaining(self) -> float | None:
        return None

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return ()


def cell(samples: list[dict[str, Any]]) -> dict[str, Any]:
    return {"samples": samples, "median": summarize(samples)}


def summarize(samples: list[dict[str, Any]]) -> dict[str, float]:
    keys = [k for k in samples[0] if k != "round"]
    return {k: _med([s[k] for s in samples]) for k in keys}


# --- the parent: workload, client child, targets, report -------------------------------------


def measure(seed: int, rounds: int, quick: bool, log: Callable[[str], None]) -> dict[str, Any]:
    """Generate the workload, run the client child (which runs the servers), return the numbers."""
    import workload  # bench/ is on sys.path when run.py or this file runs

    t0 = time.perf_counter()
    wl = workload.scaled(STATEMENTS, seed)
    facts = {
        "seed": seed,
        "statements": wl.statement_count,
        "users": len(wl.users),
        "requests": len(wl.requests),
        "generate_s": time.perf_counter() - t0,
    }
    cfg = settings(rounds, quick)
    with tempfile.TemporaryDirectory(prefix="iam-grpc-bench-") as tmp:
        doc = workload.document_bytes(wl)
        facts["document_bytes"] = len(doc)
        Path(tmp, "snapshot.json").write_bytes(doc)
        Path(tmp, "requests.json").write_text(json.dumps(workload.request_records(wl)))
        del wl, doc
        gc.collect()
        log(f"gRPC: {facts['statements']:,} statements written; client starts ({cfg['rounds']} rounds)")
        argv = [sys.executable, str(Path(__file__).resolve()), "--measure", tmp]
        argv += ["--rounds", str(cfg["rounds"])] + (["--quick"] if quick else [])
        loadavg = os.getloadavg()[0]
        subprocess.run(argv, check=True, timeout=CLIENT_TIMEOUT_S)
        result: dict[str, Any] = json.loads(Path(tmp, "result.json").read_text())
    result["workload"] = facts
    result["loadavg_before"] = loadavg
    result["wall_s"] = time.perf_counter() - t0
    result["ratios"] = ratios(result)
    obs = result["observability"]
    obs["ratios"] = obs_ratios(result)
    obs["inproc"]["delta"] = inproc_deltas(obs["inproc"])
    result["targets"] = targets(result)
    return result


def ratios(result: dict[str, Any]) -> dict[str, dict[str, list[float]]]:
    """Per round and transport: real over floor (unary p50, unary p99, c16 RPS, batch rate)."""
    out: dict[str, dict[str, list[float]]] = {}
    cells = result["cells"]
    for t in TRANSPORTS:
        real, floor = cells[f"real_{t}"]["samples"], cells[f"floor_{t}"]["samples"]
        out[t] = {
            key: [a[key] / b[key] for a, b in zip(real, floor, strict=True)]
            for key in ("unary_p50_us", "unary_p99_us", "c16_rps", "batch_rate")
        }
    return out


def obs_ratios(result: dict[str, Any]) -> dict[str, dict[str, dict[str, list[float]]]]:
    """Per transport, observability server and round: over the plain real server of the same
    round (unary p50, p99 and server CPU per call), and the server CPU per call added (µs)."""
    out: dict[str, dict[str, dict[str, list[float]]]] = {}
    plain_cells, cells = result["cells"], result["observability"]["cells"]
    for t in TRANSPORTS:
        plain = plain_cells[f"real_{t}"]["samples"]
        out[t] = {}
        for kind in OBSERVED:
            obs = cells[f"{kind}_{t}"]["samples"]
            pairs = list(zip(obs, plain, strict=True))
            out[t][kind] = {
                key: [a[key] / b[key] if b[key] else math.nan for a, b in pairs]
                for key in ("unary_p50_us", "unary_p99_us", "unary_server_cpu_us")
            }
            out[t][kind]["server_cpu_added_us"] = [
                a["unary_server_cpu_us"] - b["unary_server_cpu_us"] for a, b in pairs
            ]
            out[t][kind]["loop_cpu_added_us"] = [
                a["unary_loop_cpu_us"] - b["unary_loop_cpu_us"] for a, b in pairs
            ]
    return out


def inproc_deltas(inproc: dict[str, Any]) -> dict[str, dict[str, float]]:
    """In-process: per variant, the median over blocks of (variant − plain) in the same block."""
    blocks = inproc["blocks"]
    return {
        v: {
            key: _med([a[key] - b[key] for a, b in zip(blocks[v], blocks["plain"], strict=True)])
            for key in ("wall_us", "cpu_us", "caller_cpu_us", "writer_cpu_us")
        }
        for v in VARIANTS
        if v != "plain"
    }


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for t in TRANSPORTS:
        r = result["ratios"][t]
        cells = result["cells"]
        real, floor = cells[f"real_{t}"]["median"], cells[f"floor_{t}"]["median"]
        unary = _med(r["unary_p50_us"])
        batch = _med(r["batch_rate"])
        out += [
            {
                "target": f"gRPC {LABELS[t]}: `Authorize` p50 ≤ {TARGET_UNARY_RATIO:g}× the floor's "
                f"({result['workload']['statements']:,} statements)",
                "measured": f"{unary:.3f}× ({min(r['unary_p50_us']):.2f}–{max(r['unary_p50_us']):.2f} "
                f"over rounds; {real['unary_p50_us']:,.0f} vs {floor['unary_p50_us']:,.0f} µs)",
                "value": unary,
                "met": unary <= TARGET_UNARY_RATIO,
            },
            {
                "target": f"gRPC {LABELS[t]}: `AuthorizeBatch`(100) ≥ {TARGET_BATCH_SHARE:.0%} of the "
                "floor's decisions/s",
                "measured": f"{batch:.0%} ({min(r['batch_rate']):.0%}–{max(r['batch_rate']):.0%} over "
                f"rounds; {real['batch_rate']:,.0f} vs {floor['batch_rate']:,.0f}/s)",
                "value": batch,
                "met": batch >= TARGET_BATCH_SHARE,
            },
        ]
    obs = result["observability"]
    for t in TRANSPORTS:
        r, rl = obs["ratios"][t]["metrics"]["unary_p50_us"], obs["ratios"][t]["metrics_log"]["unary_p50_us"]
        m, plain = obs["cells"][f"metrics_{t}"]["median"], result["cells"][f"real_{t}"]["median"]
        value = _med(r)
        out.append(
            {
                "target": f"gRPC {LABELS[t]}: metrics add ≤ {TARGET_METRICS_RATIO - 1:.0%} to unary "
                "`Authorize` time (p50, `metrics_listen` on ÷ off)",
                "measured": f"{round(value - 1, 3) + 0.0:+.1%} ({value:.3f}×, "
                f"{min(r):.2f}–{max(r):.2f} over rounds; "
                f"{m['unary_p50_us']:,.0f} vs {plain['unary_p50_us']:,.0f} µs); metrics + decision log "
                f"{_med(rl):.3f}×",
                "value": value,
                "met": value <= TARGET_METRICS_RATIO,
            }
        )
    return out


def _rng(values: Sequence[float], fmt: str) -> str:
    return f"{format(_med(values), fmt)} ({format(min(values), fmt)}–{format(max(values), fmt)})"


def render_section(g: dict[str, Any]) -> list[str]:
    """The report's gRPC section (Markdown lines)."""
    cfg, cells, wl = g["settings"], g["cells"], g["workload"]
    lines = [
        f"## gRPC transport ({wl['statements']:,} statements)",
        "",
        "| server, transport | unary p50 µs | unary p99 µs | c16 RPS | batch(100) decisions/s |",
        "|---|---|---|---|---|",
    ]
    for s, t in CELLS:
        smp = cells[f"{s}_{t}"]["samples"]
        lines.append(
            f"| {s} {LABELS[t]} | {_rng([x['unary_p50_us'] for x in smp], ',.0f')} "
            f"| {_rng([x['unary_p99_us'] for x in smp], ',.0f')} "
            f"| {_rng([x['c16_rps'] for x in smp], ',.0f')} "
            f"| {_rng([x['batch_rate'] for x in smp], ',.0f')} |"
        )
    lines += [
        "",
        "| real ÷ floor, per round | unary p50 | unary p99 | c16 RPS | batch(100) decisions/s |",
        "|---|---|---|---|---|",
    ]
    for t in TRANSPORTS:
        r = g["ratios"][t]
        lines.append(
            f"| {LABELS[t]} | {_rng(r['unary_p50_us'], '.2f')} | {_rng(r['unary_p99_us'], '.2f')} "
            f"| {_rng(r['c16_rps'], '.2f')} | {_rng(r['batch_rate'], '.2f')} |"
        )
    lines += [
        "",
        "| CPU per call, µs (median of rounds): server / client | sequential unary | c16 | "
        "batch(100), per decision |",
        "|---|---|---|---|",
    ]
    for s, t in CELLS:
        m = cells[f"{s}_{t}"]["median"]
        lines.append(
            f"| {s} {LABELS[t]} | {m['unary_server_cpu_us']:,.0f} / {m['unary_client_cpu_us']:,.0f} "
            f"| {m['c16_server_cpu_us']:,.0f} / {m['c16_client_cpu_us']:,.0f} "
            f"| {m['batch_server_cpu_us']:,.1f} / {m['batch_client_cpu_us']:,.1f} |"
        )
    a = g["agreement"]
    names = ("DECISION_ALLOW", "DECISION_EXPLICIT_DENY", "DECISION_IMPLICIT_DENY")
    outcomes = " / ".join(f"{a['outcomes'].get(k, 0):,}" for k in names)
    real_start = g["servers"]["real"]
    c16_done = [x["c16_calls"] for c in cells.values() for x in c["samples"]]
    others = [x["others_cpu_share"] for c in cells.values() for x in c["samples"]]
    contention = (
        f"Other processes took a median {_med(others):.0%} (max {max(others):.0%}) of the machine's CPU "
        "during the cells"
        + (
            ": **the section ran contended**, absolute figures are depressed; the real ÷ floor "
            "ratios of one round are the usable figures."
            if max(others) > 0.10
            else " (uncontended)."
        )
    )
    lines += [
        "",
        f"Cells: median (min–max) over {cfg['rounds']} rounds; ratios: real ÷ floor within each "
        "round. Per server, transport and round: "
        f"{cfg['unary_calls']:,} sequential `Authorize` calls after {cfg['unary_warmup']} warm-up calls "
        "(sync client, each call timed; floor, real and the two observability servers below take "
        "turns in blocks of 100 calls on the same requests); "
        f"{cfg['c16_calls']:,} `Authorize` calls (or as many as start within {cfg['c16_max_s']:g} s: "
        f"median {_med(c16_done):,.0f} here) with {cfg['concurrency']} in flight after "
        f"{cfg['c16_warmup']} warm-up calls (a `grpc.aio` client on one channel, RPS = completed "
        f"calls / wall time); {cfg['batches']} `AuthorizeBatch` calls of {cfg['batch_size']} with 1 "
        f"in flight after {cfg['batch_warmup']} warm-up batches (taking turns in blocks of 20 "
        "batches). Requests cycle through the workload's "
        f"{wl['requests']:,} (caller `principal_arn`, action, resource, context `aws:SourceIp`).",
        "",
        "- **Floor** = the same `Sidecar` (same `ServerConfig`, listeners, server options, health and "
        "reflection, snapshot loaded) with `AuthorizerService` subclassed to return a constant answer "
        "(`bench/grpc_bench.py: FloorService`). **Real** = the production `AuthorizerService`, which "
        "validates each request, resolves the caller, and decides through its decision cache "
        "(`DecisionCache()`, 65,536 entries: all of the workload's distinct requests fit, and every "
        "request went through each server once before the rounds, so the rounds run the cache's steady "
        "state: conversion + lookup).",
        "- **Processes:** client and each server are separate processes (no shared GIL) on the same "
        f"cores, like ANCHORS §1 (grpc.aio ×1: unary p50 {ANCHOR_UNARY_P50}, c16 {ANCHOR_C16} RPS, "
        f"batch100 c1 {ANCHOR_BATCH} decisions/s). All four servers stay up for the whole section; idle "
        f"ones cost nothing measurable. Real server: {real_start['statements']:,} statements compiled "
        f"from the snapshot file, spawn to ready {real_start['spawn_to_ready_s']:.1f} s. Load average "
        f"before the section {g['loadavg_before']:.2f}; section wall time {g['wall_s']:.0f} s. {contention}",
        "- **CPU per call** from `/proc/<pid>/stat` of the server (10 ms ticks over the measured calls; "
        "c16 includes its warm-up calls) and the client's process time. The real server's extra CPU "
        "over the floor's is what conversion and deciding cost per call.",
        f"- **Agreement:** the real server's answers to the first {a['compared']:,} requests "
        f"(Allow / ExplicitDeny / ImplicitDeny in-process: {outcomes}) vs `CompiledSnapshot.authorize` "
        f"in the client process: unary (UDS) **{a['disagree_unary']:,}** disagree, "
        f"batch (TCP) **{a['disagree_batch']:,}** disagree.",
    ]
    lines += [f"  - {e}" for e in a["examples"]]
    return lines + render_observability(g)


def _scrape_check(scrape: dict[str, Any], expected: dict[str, int]) -> str:
    if "error" in scrape:
        return f"scrape failed ({scrape['error']})"
    return (
        f"{scrape['authorize_rpcs']:,.0f} `Authorize` RPCs (sent {expected['authorize_rpcs']:,}), "
        f"{scrape['decisions']:,.0f} decisions (made {expected['decisions']:,})"
    )


def render_observability(g: dict[str, Any]) -> list[str]:
    """The observability subsection: the real server plain, with metrics, with metrics and a
    decision log (unary Authorize over gRPC, same rounds), then the same in-process."""
    cfg, obs = g["settings"], g["observability"]
    lines = [
        "",
        "### Observability overhead (unary `Authorize`)",
        "",
        "| real server, transport | unary p50 µs | unary p99 µs | server CPU µs per call: all threads "
        "(event loop, log writer) | p50 ÷ plain | p99 ÷ plain | server CPU ÷ plain (added µs) |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in TRANSPORTS:
        for kind in ("real", *OBSERVED):
            cell = (g["cells"] if kind == "real" else obs["cells"])[f"{kind}_{t}"]
            smp, m = cell["samples"], cell["median"]
            if kind == "real":
                ratio_cols = "– | – | –"
            else:
                r = obs["ratios"][t][kind]
                ratio_cols = (
                    f"{_rng(r['unary_p50_us'], '.3f')} | {_rng(r['unary_p99_us'], '.2f')} "
                    f"| {_med(r['unary_server_cpu_us']):.2f} ({_med(r['server_cpu_added_us']):+,.0f})"
                )
            threads = f"loop {m['unary_loop_cpu_us']:,.0f}"
            if kind == "metrics_log":
                threads += f", writer {m['unary_writer_cpu_us']:,.0f}"
            lines.append(
                f"| {OBS_LABELS[kind]} {LABELS[t]} | {_rng([x['unary_p50_us'] for x in smp], ',.0f')} "
                f"| {_rng([x['unary_p99_us'] for x in smp], ',.0f')} "
                f"| {m['unary_server_cpu_us']:,.0f} ({threads}) | {ratio_cols} |"
            )
    ip = obs["inproc"]
    med, delta, bd = ip["median"], ip["delta"], ip["breakdown"]
    lines += [
        "",
        "| in-process `AuthorizerService.Authorize` | µs per call (wall: what a call takes) | added "
        "| CPU µs per call, all threads | added | of which: calling thread + log writer |",
        "|---|---|---|---|---|---|",
    ]
    for v in VARIANTS:
        blocks = ip["blocks"][v]
        walls, cpus = [x["wall_us"] for x in blocks], [x["cpu_us"] for x in blocks]
        if v == "plain":
            added = ("–", "–")
        else:
            d = delta[v]
            added = (
                f"{d['wall_us']:+.1f} ({d['wall_us'] / med['plain']['wall_us']:+.0%})",
                f"{d['cpu_us']:+.1f} ({d['cpu_us'] / med['plain']['cpu_us']:+.0%})",
            )
        label = OBS_LABELS["real" if v == "plain" else v]
        split = f"{med[v]['caller_cpu_us']:.1f} + {med[v]['writer_cpu_us']:.1f}"
        lines.append(
            f"| {label} | {_rng(walls, '.1f')} | {added[0]} | {_rng(cpus, '.1f')} | {added[1]} | {split} |"
        )
    scrapes, expected = obs["scrapes"], obs["expected"]
    stopped = obs["decision_log"]
    end_log = scrapes.get("end", {}).get("metrics_log", {})
    warm_log = scrapes.get("after_warmup", {}).get("metrics_log", {})
    dropped_rounds = (
        f"{end_log['log_dropped'] - warm_log['log_dropped']:,.0f}"
        if "log_dropped" in end_log and "log_dropped" in warm_log
        else "unknown"
    )
    if stopped:
        server_log = (
            f"its decision log wrote {stopped['log_written']:,} lines ({stopped['log_bytes'] / 1e6:.1f} MB) "
            f"and dropped {stopped['log_dropped']:,} ({dropped_rounds} of them during the rounds"
            + (
                "; the others when the warm-up batches queued entries faster than the writer wrote them)"
                if stopped["log_dropped"]
                else ")"
            )
        )
    else:
        server_log = "its decision log's counts were not reported"
    server_ml = {t: obs["cells"][f"metrics_log_{t}"]["median"] for t in TRANSPORTS}
    server_writer = " and ".join(
        f"{server_ml[t]['unary_writer_cpu_us']:,.0f} µs ({LABELS[t]})" for t in TRANSPORTS
    )
    server_loop = " and ".join(
        f"{_med(obs['ratios'][t]['metrics_log']['loop_cpu_added_us']):+,.0f} µs ({LABELS[t]}; metrics alone "
        f"{_med(obs['ratios'][t]['metrics']['loop_cpu_added_us']):+,.0f})"
        for t in TRANSPORTS
    )
    caller_log = delta["metrics_log"]["caller_cpu_us"] - delta["metrics"]["caller_cpu_us"]
    lines += [
        "",
        "- **Servers:** *plain* is the real server above (the same samples); *+ metrics* is the same "
        'production `Sidecar` with `metrics_listen="127.0.0.1:0"` (Prometheus `/metrics` on a daemon '
        "thread, the request path recording into lock-free arrays); *+ metrics + decision log* also "
        "has `decision_log` = a file in its own temporary directory, `decision_log_sample=1.0` (every "
        "decision queued and written as a JSON line by the writer thread). Unary cells only, measured "
        "in the same blocks of 100 calls as floor and real (above), the four servers' order balanced "
        "over blocks; ratios are within each round. Server CPU as above (ticks of `/proc/<pid>/stat`), "
        "split by thread from `/proc/<pid>/task/<tid>/stat`: the event loop (where the handlers, "
        "`Metrics` and `DecisionLog.record` run) and the decision-log writer; the rest is gRPC's own "
        "threads.",
        "- **Checks:** scraped after the rounds, the *+ metrics* server counted "
        f"{_scrape_check(scrapes.get('end', {}).get('metrics', {'error': 'missing'}), expected['end'])}; "
        "*+ metrics + decision log* counted "
        f"{_scrape_check(end_log or {'error': 'missing'}, expected['end'])}; {server_log}.",
        "- **In-process:** `AuthorizerService(store).Authorize` awaited in a loop with a minimal "
        "context (`time_remaining()` → None, `invocation_metadata()` → ()) on the same snapshot and "
        f"requests, after one pass of all {g['workload']['requests']:,} (cache steady state): plain, "
        "`service.metrics = Metrics(store, cache=service.cache)`, and metrics plus a started "
        "`DecisionLog` on a temporary file (sample 1.0); "
        f"{cfg['inproc_blocks']} blocks of {cfg['inproc_block']:,} calls per variant taking turns on "
        "the same requests; median (min–max) over blocks, *added* = median of the per-block "
        "differences. CPU is the process's over the block plus the wait for the writer to write the "
        "block's entries, split into the calling thread's and the writer's (per-thread CPU clocks) "
        f"({ip['log_written']:,} entries written, {ip['log_dropped']:,} dropped; `Metrics` counted "
        f"{ip['metrics_decisions']:,} decisions).",
        "- **Where the decision log's time goes:** formatting an entry takes "
        f"{bd['format_us']:.1f} µs back to back (`json.dumps`, `datetime.strftime`, the matched-"
        f"statement strings) and writing it {bd['write_us']:.1f} µs (line-buffered: one `write` per "
        f"{bd['entry_bytes']:.0f}-byte line). In the in-process loop, entries arrive every "
        f"~{med['metrics_log']['wall_us']:.0f} µs and the writer spends "
        f"{med['metrics_log']['writer_cpu_us']:.1f} µs per entry; in the servers, where one arrives "
        f"per call (~1 ms apart), it spends {server_writer}: every entry is a wake-up of the writer "
        "(futex, GIL hand-over) that formats one line with cold caches. The event loop pays "
        f"`record()` and the GIL hand-overs: {caller_log:+.1f} µs of the calling thread's CPU per "
        f"call in-process; in the servers, the event-loop thread's CPU per call moves by {server_loop}.",
        "- **Where the metrics' time goes:** per call, `decision.kind.value`, `Metrics.decision` (a "
        "bisect and additions into the decision histogram, and the outcome counter), a "
        "`perf_counter()` and `Metrics.rpc` (the RPC histogram), all on the event loop: "
        f"{bd['metrics_calls_us']:.1f} µs back to back, {delta['metrics']['caller_cpu_us']:+.1f} µs of CPU "
        "per call in the in-process blocks: "
        f"{delta['metrics']['caller_cpu_us'] / g['cells']['real_uds']['median']['unary_p50_us']:.1%} "
        "of the plain server's unary p50 over UDS.",
    ]
    return lines


# --- main ------------------------------------------------------------------------------------


def _log(message: str) -> None:
    print(f"  [grpc {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--snapshot", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--sock", help=argparse.SUPPRESS)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3, at least 2)")
    parser.add_argument("--quick", action="store_true", help="fewer calls per cell")
    parser.add_argument("--seed", type=int, help="workload seed (default: workload.DEFAULT_SEED)")
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args(argv)
    if args.serve:
        if args.snapshot is None or not args.sock:
            parser.error("--serve needs --snapshot and --sock")
        return asyncio.run(_serve(args.serve, args.snapshot, args.sock))
    if args.measure:
        result = Client(args.measure, settings(args.rounds, args.quick), _log).run()
        (args.measure / "result.json").write_text(json.dumps(result, indent=1))
        return 0
    import workload

    g = measure(workload.DEFAULT_SEED if args.seed is None else args.seed, args.rounds, args.quick, _log)
    return print_standalone(g, render_section, args.json)


if __name__ == "__main__":
    sys.exit(main())
