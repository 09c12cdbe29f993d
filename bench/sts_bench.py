"""The STS section of the benchmark: AssumeRole, session-token verification and credential callers
in-process, and AssumeRole over gRPC against a real sidecar.

    .venv/bin/python bench/run.py --sts-only --out /tmp/s.md --json /tmp/s.json  # this section only
    .venv/bin/python bench/sts_bench.py [--rounds 3]      # the same, printed (no report file)
    .venv/bin/python bench/sts_bench.py --profile 5000    # cProfile of assume_role and verify, exit

The parent (``bench/run.py``, or this file without arguments) starts one measuring child
(``--measure DIR``) in a fresh process, which in turn starts one real server exactly as
``grpc_bench.py`` does (``grpc_bench.py --serve real``: the production ``Sidecar`` serving
``examples/snapshot.json``, an Authorizer listener on a Unix socket and one on 127.0.0.1, a random
in-memory STS key). The child measures, per round (at least 2; the order of the measurements
rotates each round):

1. ``Sts.assume_role`` in-process: carol (``arn:aws:iam::333333333333:user/carol``, a trusted
   principal ARN) assuming ``CrossAccountAuditor`` of 222222222222 with its external id, on
   ``examples/snapshot.json``; and a tagged variant: three session tags and an inline session
   policy, on a small snapshot document built here (``TAGGED_DOC``: the example's roles do not
   let carol tag sessions) where the role trusts a user for ``sts:AssumeRole`` and
   ``sts:TagSession``;
2. ``TokenCodec.verify``: (a) tokens seen for the first time: ``tokens`` distinct sessions issued
   before the rounds, each verified once by a fresh codec whose cache holds them all (no
   eviction); (b) one token verified again and again (a cache hit);
3. a decision with a session caller (``authenticate_keys`` + ``authorize`` with the session's
   principal, session policies and request keys) against the same decision with a principal-ARN
   caller (``resolve_principal`` of the session's ARN + ``authorize``), no decision cache; and a
   token's first call (``authenticate_keys`` with a fresh ``Sts``: decryption plus building the
   session's principal);
4. ``Authorizer/AssumeRole`` over gRPC (UDS and TCP): sequential calls with a sync client, each
   timed, and calls with 16 in flight (a ``grpc.aio`` client on one channel).

In-process throughput comes from uninstrumented loops (bounded by time and by count), p50/p99
from single calls timed with ``perf_counter_ns``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import cProfile
import gc
import json
import math
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from common import print_standalone

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXAMPLE = ROOT / "examples" / "snapshot.json"

CAROL = "arn:aws:iam::333333333333:user/carol"
AUDITOR = "arn:aws:iam::222222222222:role/CrossAccountAuditor"
EXTERNAL_ID = "audit-7f3c2a"

# The tagged variant's snapshot: a role that trusts a user for sts:AssumeRole and sts:TagSession.
TAGGED_ACCOUNT = "444444444444"
DANA = f"arn:aws:iam::{TAGGED_ACCOUNT}:user/dana"
TAGGED_ROLE = f"arn:aws:iam::{TAGGED_ACCOUNT}:role/TaggedSessions"
TAGGED_DOC: dict[str, Any] = {
    "version": 1,
    "partition": "aws",
    "accounts": [
        {
            "id": TAGGED_ACCOUNT,
            "users": [
                {
                    "name": "dana",
                    "path": "/",
                    "id": "AIDA4DANAEXAMPLE00001",
                    "tags": {"team": "payments"},
                    "inline_policies": {
                        "AssumeTagged": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": ["sts:AssumeRole", "sts:TagSession"],
                                    "Resource": TAGGED_ROLE,
                                }
                            ],
                        }
                    },
                }
            ],
            "roles": [
                {
                    "name": "TaggedSessions",
                    "path": "/",
                    "id": "AROA4TAGGEDEXAMPLE001",
                    "trust_policy": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "DanaWithTags",
                                "Effect": "Allow",
                                "Principal": {"AWS": DANA},
                                "Action": ["sts:AssumeRole", "sts:TagSession"],
                                "Condition": {
                                    "ForAllValues:StringEquals": {
                                        "aws:TagKeys": ["team", "project", "cost-center"]
                                    }
                                },
                            }
                        ],
                    },
                    "inline_policies": {
                        "Work": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": ["s3:GetObject", "s3:PutObject"],
                                    "Resource": "arn:aws:s3:::example-tagged/*",
                                }
                            ],
                        }
                    },
                    "tags": {"team": "platform"},
                }
            ],
        }
    ],
}
TAGS = (("team", "payments"), ("project", "ledger"), ("cost-center", "cc-1234"))
SESSION_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::example-tagged/${aws:PrincipalTag/project}/*",
            }
        ],
    },
    separators=(",", ":"),
)
# The decisions of item 3 (both Allow, through the session's role).
AUDIT_QUESTION = ("s3:GetObject", "arn:aws:s3:::example-payments-data/report.csv")
TAGGED_QUESTION = ("s3:GetObject", "arn:aws:s3:::example-tagged/ledger/2024.csv")

# Targets of the issue (benchmarks, not tests).
TARGET_ASSUME_RATE = 5000.0  # AssumeRole calls/s in-process
TARGET_VERIFY_US = 20.0  # token verification, µs

CHILD_TIMEOUT_S = 300.0
CALL_TIMEOUT_S = 10.0


# --- settings --------------------------------------------------------------------------------


def settings(rounds: int, quick: bool) -> dict[str, Any]:
    full = {
        "rounds": max(2, rounds),
        "seconds": 0.3,  # uninstrumented loops: this long, or max_calls, whichever comes first
        "max_calls": 200_000,
        "assume_sample": 1000,  # single AssumeRole calls timed per variant per round
        "tokens": 20_000,  # distinct sessions issued before the rounds (uncached verification)
        "cached_sample": 20_000,
        "authz_sample": 3000,
        "first_call_sample": 3000,  # tokens presented for the first time to a fresh Sts
        "grpc_warmup": 100,
        "grpc_calls": 500,  # sequential AssumeRole per transport per round
        "concurrency": 16,
        "c16_warmup": 160,
        "c16_calls": 1500,
        "c16_max_s": 0.75,  # … or fewer: no new call starts after this long
        "session_names": 64,  # the gRPC requests cycle through this many session names
    }
    if quick:
        full |= {
            "seconds": 0.2,
            "assume_sample": 500,
            "tokens": 5000,
            "cached_sample": 5000,
            "authz_sample": 2000,
            "first_call_sample": 2000,
            "grpc_calls": 300,
            "c16_calls": 800,
            "c16_max_s": 0.5,
        }
    return full


# --- helpers ---------------------------------------------------------------------------------


def percentile(sorted_ns: Sequence[int], q: float) -> float:
    """Nearest-rank percentile, in µs."""
    n = len(sorted_ns)
    return sorted_ns[min(n - 1, max(0, math.ceil(q * n) - 1))] / 1000


def _med(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def _rng(values: Sequence[float], fmt: str) -> str:
    return f"{format(_med(values), fmt)} ({format(min(values), fmt)}–{format(max(values), fmt)})"


def rate_loop(
    fn: Callable[..., Any], args: Sequence[tuple[Any, ...]], seconds: float, max_calls: int
) -> tuple[float, float, int]:
    """Calls per wall-clock second and per CPU second of ``fn(*a)``, cycling through ``args`` in
    chunks of 100 calls until ``seconds`` have passed or ``max_calls`` were made."""
    chunks = [args[i : i + 100] for i in range(0, len(args), 100)]
    done = 0
    start, cpu_start = time.perf_counter(), time.process_time()
    while True:
        for chunk in chunks:
            for a in chunk:
                fn(*a)
            done += len(chunk)
            elapsed = time.perf_counter() - start
            if elapsed >= seconds or done >= max_calls:
                cpu = max(time.process_time() - cpu_start, 1e-9)
                return done / elapsed, done / cpu, done


def one_pass(fn: Callable[..., Any], args: Sequence[tuple[Any, ...]]) -> tuple[float, float, int]:
    """Like :func:`rate_loop`, exactly one uninstrumented pass over ``args``."""
    start, cpu_start = time.perf_counter(), time.process_time()
    for a in args:
        fn(*a)
    elapsed = time.perf_counter() - start
    return len(args) / elapsed, len(args) / max(time.process_time() - cpu_start, 1e-9), len(args)


def lat_loop(fn: Callable[..., Any], args: Sequence[tuple[Any, ...]]) -> list[int]:
    clock, out = time.perf_counter_ns, []
    for a in args:
        t0 = clock()
        fn(*a)
        out.append(clock() - t0)
    return out


def sample(rates: tuple[float, float, int], lat: list[int]) -> dict[str, float]:
    lat.sort()
    return {
        "rate": rates[0],
        "cpu_rate": rates[1],
        "calls": rates[2],
        "p50_us": percentile(lat, 0.5),
        "p99_us": percentile(lat, 0.99),
        "mean_us": sum(lat) / len(lat) / 1000,
        "timed": len(lat),
    }


def machine_busy_s() -> float:
    """CPU seconds all processes of the machine spent busy so far (``/proc/stat``)."""
    with open("/proc/stat", encoding="ascii") as fh:
        fields = [int(x) for x in fh.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


# --- the in-process setup --------------------------------------------------------------------


class InProcess:
    """The compiled snapshots, the STS objects, the parameters and the pre-issued sessions."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        from sidecar.engine.compile import compile_snapshot
        from sidecar.snapshot import load_snapshot
        from sidecar.sts import AssumeRoleParams, Keyset, Sts, TokenCodec

        self.cfg = cfg
        self.example = compile_snapshot(load_snapshot(EXAMPLE.read_bytes()))
        self.tagged = compile_snapshot(load_snapshot(json.dumps(TAGGED_DOC).encode()))
        self.keyset = Keyset.random()
        self.sts = Sts(TokenCodec(self.keyset), clock=time.time)
        self.carol = self.sts.authenticate_arn(self.example, CAROL)
        self.dana = self.sts.authenticate_arn(self.tagged, DANA)
        self.params = AssumeRoleParams(role_arn=AUDITOR, role_session_name="audit", external_id=EXTERNAL_ID)
        self.tagged_params = AssumeRoleParams(
            role_arn=TAGGED_ROLE, role_session_name="tagged", tags=TAGS, policy=SESSION_POLICY
        )
        # Both must succeed (StsError otherwise): the measured calls are successful AssumeRoles.
        self.assumed = self.sts.assume_role(self.example, self.carol, self.params)
        self.assumed_tagged = self.sts.assume_role(self.tagged, self.dana, self.tagged_params)
        # The sessions of the uncached verification: distinct access key ids and tokens, the
        # claims of a real carol → CrossAccountAuditor session otherwise. The key ids have the
        # format of tokens.new_access_key_id (ASIA + 16 of A–Z2–7), only made faster.
        t0 = time.perf_counter()
        issue = TokenCodec(self.keyset).issue
        base = self.assumed.claims
        self.issued = [
            issue(base._replace(access_key_id="ASIA" + base64.b32encode(os.urandom(10)).decode()))
            for _ in range(cfg["tokens"])
        ]
        self.issue_s = time.perf_counter() - t0
        self.new_codec = lambda: TokenCodec(self.keyset, cache_size=cfg["tokens"] + 16)
        self.new_sts = lambda: Sts(TokenCodec(self.keyset, cache_size=cfg["tokens"] + 16), clock=time.time)

    def facts(self) -> dict[str, Any]:
        from sidecar.engine.decision import DecisionKind

        out: dict[str, Any] = {
            "assumed_arn": self.assumed.arn,
            "assumed_tagged_arn": self.assumed_tagged.arn,
            "token_chars": len(self.assumed.credentials.session_token),
            "tagged_token_chars": len(self.assumed_tagged.credentials.session_token),
            "tagged_packed_policy_size": self.assumed_tagged.packed_policy_size,
            "issued_tokens": len(self.issued),
            "issue_s": self.issue_s,
            "session_policy_chars": len(SESSION_POLICY),
        }
        decisions = {}
        for key, (compiled, creds, (action, resource)) in self.authz_cases().items():
            arn_call, session_call = self.authz_calls(compiled, creds, action, resource)
            a, s = arn_call(), session_call()
            decisions[key] = {"arn": a.kind.value, "session": s.kind.value}
            if a.kind is not DecisionKind.ALLOW or s.kind is not DecisionKind.ALLOW:
                raise RuntimeError(f"{key}: expected Allow for both callers, got {decisions[key]}")
        out["decisions"] = decisions
        return out

    def authz_cases(self) -> dict[str, tuple[Any, Any, tuple[str, str]]]:
        return {
            "audit": (self.example, self.assumed, AUDIT_QUESTION),
            "tagged": (self.tagged, self.assumed_tagged, TAGGED_QUESTION),
        }

    def authz_calls(
        self, compiled: Any, assumed: Any, action: str, resource: str
    ) -> tuple[Callable[[], Any], Callable[[], Any]]:
        """The same decision by a principal-ARN caller (the session's ARN) and by the session's
        credentials, each including its caller's resolution, as the server does per call."""
        sts, creds, arn = self.sts, assumed.credentials, assumed.arn
        ak, secret, token = creds.access_key_id, creds.secret_access_key, creds.session_token
        resolve, authorize, clock = compiled.resolve_principal, compiled.authorize, time.time

        def by_arn() -> Any:
            now = clock()
            return authorize(resolve(arn), action, resource, context={}, now=now)

        def by_session() -> Any:
            now = clock()
            auth = sts.authenticate_keys(compiled, ak, secret, token)
            return authorize(
                auth.entry,
                action,
                resource,
                context=auth.request_keys(now),
                session=auth.session,
                session_key=auth.session_key,
                now=now,
            )

        return by_arn, by_session

    # --- the measurements (each returns one round's sample) --------------------------------

    def peers(self) -> list[tuple[str, str, Callable[[], dict[str, float]]]]:
        cfg = self.cfg
        seconds, max_calls = cfg["seconds"], cfg["max_calls"]

        def assume(compiled: Any, caller: Any, params: Any) -> Callable[[], dict[str, float]]:
            args = [(compiled, caller, params)]

            def measure() -> dict[str, float]:
                rates = rate_loop(self.sts.assume_role, args, seconds, max_calls)
                return sample(rates, lat_loop(self.sts.assume_role, args * cfg["assume_sample"]))

            return measure

        def verify_uncached() -> dict[str, float]:
            now = time.time()
            args = [(c.access_key_id, c.session_token, c.secret_access_key, now) for c in self.issued]
            rates = one_pass(self.new_codec().verify, args)  # a fresh codec per pass: all misses
            codec = self.new_codec()
            lat = lat_loop(codec.verify, args)
            assert len(codec._cache) == len(args)  # every token was decrypted and kept: no eviction
            return sample(rates, lat)

        def verify_cached() -> dict[str, float]:
            now = time.time()
            c = self.issued[0]
            args = [(c.access_key_id, c.session_token, c.secret_access_key, now)]
            codec = self.new_codec()
            codec.verify(*args[0])
            rates = rate_loop(codec.verify, args, seconds, max_calls)
            return sample(rates, lat_loop(codec.verify, args * cfg["cached_sample"]))

        def first_call() -> dict[str, float]:
            n = min(cfg["first_call_sample"], len(self.issued) // 2)
            args = [
                (self.example, c.access_key_id, c.secret_access_key, c.session_token) for c in self.issued
            ]
            rates = one_pass(self.new_sts().authenticate_keys, args[:n])
            return sample(rates, lat_loop(self.new_sts().authenticate_keys, args[n : 2 * n]))

        def authz(key: str, which: int) -> Callable[[], dict[str, float]]:
            compiled, assumed, (action, resource) = self.authz_cases()[key]
            call = self.authz_calls(compiled, assumed, action, resource)[which]

            def measure() -> dict[str, float]:
                rates = rate_loop(call, [()], seconds, max_calls)
                return sample(rates, lat_loop(call, [()] * cfg["authz_sample"]))

            return measure

        return [
            (
                "assume",
                "`assume_role`: carol → CrossAccountAuditor (cross-account, external id)",
                assume(self.example, self.carol, self.params),
            ),
            (
                "assume_tagged",
                "`assume_role`: dana → TaggedSessions, 3 session tags + an inline session policy",
                assume(self.tagged, self.dana, self.tagged_params),
            ),
            (
                "verify_uncached",
                f"`TokenCodec.verify`, a token seen for the first time ({cfg['tokens']:,} distinct, "
                "each once, no eviction)",
                verify_uncached,
            ),
            ("verify_cached", "`TokenCodec.verify`, a repeated token (cache hit)", verify_cached),
            (
                "first_call",
                "`Sts.authenticate_keys`, a token's first call (verify uncached + the session's "
                "principal built)",
                first_call,
            ),
            (
                "authz_arn",
                "decision, principal-ARN caller (auditor session ARN): `resolve_principal` + `authorize`",
                authz("audit", 0),
            ),
            (
                "authz_session",
                "decision, session caller (auditor session): `authenticate_keys` + `authorize`",
                authz("audit", 1),
            ),
            (
                "authz_arn_tagged",
                "decision, principal-ARN caller (tagged session ARN)",
                authz("tagged", 0),
            ),
            (
                "authz_session_tagged",
                "decision, session caller (tagged session: tags + session policy)",
                authz("tagged", 1),
            ),
        ]


# --- gRPC --------------------------------------------------------------------------------------


def assume_requests(n: int) -> list[Any]:
    from sidecar.api.v1 import authorizer_pb2 as pb

    return [
        pb.AssumeRoleRequest(
            caller=pb.Caller(principal_arn=CAROL),
            role_arn=AUDITOR,
            role_session_name=f"audit-{i:03d}",
            external_id=EXTERNAL_ID,
        )
        for i in range(n)
    ]


def grpc_seq(stub: Any, reqs: Sequence[Any], start: int, n: int) -> list[int]:
    call, clock, out, size = stub.AssumeRole, time.perf_counter_ns, [], len(reqs)
    for i in range(start, start + n):
        t0 = clock()
        call(reqs[i % size], timeout=CALL_TIMEOUT_S)
        out.append(clock() - t0)
    return out


async def grpc_in_flight(
    target: str, reqs: Sequence[Any], warmup: int, n: int, concurrency: int, max_s: float
) -> dict[str, float]:
    """``n`` AssumeRole calls (fewer if ``max_s`` runs out first) with ``concurrency`` in flight."""
    import grpc

    from sidecar.api.v1 import authorizer_pb2_grpc as pb_grpc

    size = len(reqs)
    async with grpc.aio.insecure_channel(target) as channel:
        await asyncio.wait_for(channel.channel_ready(), 30)
        call = pb_grpc.AuthorizerStub(channel).AssumeRole
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

        warm = iter(range(warmup))
        await asyncio.gather(*(worker(warm, False) for _ in range(concurrency)))
        todo = iter(range(warmup, warmup + n))
        t0 = time.perf_counter()
        deadline = t0 + max_s
        await asyncio.gather(*(worker(todo, True) for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    lat.sort()
    return {
        "rate": len(lat) / elapsed,
        "calls": len(lat),
        "p50_us": percentile(lat, 0.5),
        "p99_us": percentile(lat, 0.99),
    }


class Remote:
    """The real server (``grpc_bench.ServerProc``) and a sync channel per transport."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        import grpc_bench

        self.cfg = cfg
        t0 = time.perf_counter()
        self.server = grpc_bench.ServerProc("real", EXAMPLE)
        self.server.info["spawn_to_ready_s"] = time.perf_counter() - t0
        self.conns: dict[str, Any] = {}
        try:
            for t in grpc_bench.TRANSPORTS:
                self.conns[t] = grpc_bench.Conn(self.server.targets[t])
        except BaseException:
            self.close()
            raise
        self.reqs = assume_requests(cfg["session_names"])

    def check(self) -> dict[str, Any]:
        """One AssumeRole per transport must succeed with carol's auditor session."""
        out = {}
        for t, conn in self.conns.items():
            resp = conn.stub.AssumeRole(self.reqs[0], timeout=CALL_TIMEOUT_S)
            arn = resp.assumed_role_user.arn
            if not resp.credentials.access_key_id.startswith("ASIA") or not arn.endswith("/audit-000"):
                raise RuntimeError(f"{t}: unexpected AssumeRole answer: {resp}")
            out[t] = {"arn": arn, "token_chars": len(resp.credentials.session_token)}
        return out

    def peers(self) -> list[tuple[str, str, Callable[[], dict[str, float]]]]:
        import grpc_bench

        cfg, out = self.cfg, []
        for t in grpc_bench.TRANSPORTS:
            label = grpc_bench.LABELS[t]

            def seq(t: str = t) -> dict[str, float]:
                stub = self.conns[t].stub
                grpc_seq(stub, self.reqs, 0, cfg["grpc_warmup"])
                s0, c0, w0 = self.server.cpu_s(), time.process_time(), time.perf_counter()
                lat = grpc_seq(stub, self.reqs, 0, cfg["grpc_calls"])
                wall = time.perf_counter() - w0
                n = len(lat)
                lat.sort()
                return {
                    "rate": n / wall,
                    "calls": n,
                    "p50_us": percentile(lat, 0.5),
                    "p99_us": percentile(lat, 0.99),
                    "server_cpu_us": (self.server.cpu_s() - s0) / n * 1e6,
                    "client_cpu_us": (time.process_time() - c0) / n * 1e6,
                }

            def c16(t: str = t) -> dict[str, float]:
                s0, c0 = self.server.cpu_s(), time.process_time()
                got = asyncio.run(
                    grpc_in_flight(
                        self.server.targets[t],
                        self.reqs,
                        cfg["c16_warmup"],
                        cfg["c16_calls"],
                        cfg["concurrency"],
                        cfg["c16_max_s"],
                    )
                )
                total = cfg["c16_warmup"] + got["calls"]  # CPU: warm-up calls included
                return got | {
                    "server_cpu_us": (self.server.cpu_s() - s0) / total * 1e6,
                    "client_cpu_us": (time.process_time() - c0) / total * 1e6,
                }

            out += [
                (f"grpc_seq_{t}", f"gRPC `AssumeRole` {label}, sequential", seq),
                (f"grpc_c16_{t}", f"gRPC `AssumeRole` {label}, {cfg['concurrency']} in flight", c16),
            ]
        return out

    def cpu_s(self) -> float:
        return self.server.cpu_s()

    def close(self) -> None:
        for conn in self.conns.values():
            with contextlib.suppress(Exception):
                conn.close()
        self.server.close()


# --- the measuring child -----------------------------------------------------------------------


def run_child(cfg: dict[str, Any], log: Callable[[str], None]) -> dict[str, Any]:
    started = time.perf_counter()
    local = InProcess(cfg)
    facts = local.facts()
    log(
        f"in-process setup done: {facts['issued_tokens']:,} sessions issued in {facts['issue_s']:.2f} s; "
        f"decisions {facts['decisions']}"
    )
    remote = Remote(cfg)
    try:
        facts["grpc"] = remote.check()
        facts["server"] = remote.server.info
        log(f"server ready in {remote.server.info['spawn_to_ready_s']:.1f} s; AssumeRole over gRPC ok")
        peers = local.peers() + remote.peers()
        labels = {key: label for key, label, _ in peers}
        samples: dict[str, list[dict[str, float]]] = {key: [] for key in labels}
        contention = []
        gc.collect()
        gc.freeze()
        for r in range(cfg["rounds"]):
            order = peers[r % len(peers) :] + peers[: r % len(peers)]
            ours0 = time.process_time() + remote.cpu_s()
            busy0, wall0 = machine_busy_s(), time.perf_counter()
            for key, _, measure in order:
                gc.collect()
                wall, cpu = time.perf_counter(), time.process_time()
                smp = measure()
                smp["cpu_share"] = (time.process_time() - cpu) / (time.perf_counter() - wall)
                smp["round"] = r + 1
                samples[key].append(smp)
            ours = time.process_time() + remote.cpu_s() - ours0
            busy, wall = machine_busy_s() - busy0, time.perf_counter() - wall0
            contention.append(max(0.0, busy - ours) / (wall * (os.cpu_count() or 1)))
            s = {k: v[-1] for k, v in samples.items()}
            log(
                f"round {r + 1}/{cfg['rounds']} ({wall:.1f} s): AssumeRole {s['assume']['cpu_rate']:,.0f}/s "
                f"(tagged {s['assume_tagged']['cpu_rate']:,.0f}/s); verify p50 uncached "
                f"{s['verify_uncached']['p50_us']:.1f} µs, cached {s['verify_cached']['p50_us']:.2f} µs; "
                f"authorize p50 ARN {s['authz_arn']['p50_us']:.1f} / session "
                f"{s['authz_session']['p50_us']:.1f} µs; gRPC seq UDS {s['grpc_seq_uds']['rate']:,.0f}/s, "
                f"c16 UDS {s['grpc_c16_uds']['rate']:,.0f}/s"
            )
    finally:
        remote.close()
    return {
        "settings": cfg,
        "facts": facts,
        "peers": {
            key: {"label": labels[key], "samples": v, "median": summarize(v)} for key, v in samples.items()
        },
        "others_cpu_share": contention,
        "child_wall_s": time.perf_counter() - started,
    }


def summarize(samples: list[dict[str, float]]) -> dict[str, float]:
    keys = [k for k in samples[0] if k != "round"]
    return {k: _med([s[k] for s in samples]) for k in keys}


# --- the parent: child, targets, report --------------------------------------------------------


def measure(rounds: int, quick: bool, log: Callable[[str], None]) -> dict[str, Any]:
    """Run the measuring child (which runs the server), return the numbers and the targets."""
    t0 = time.perf_counter()
    cfg = settings(rounds, quick)
    loadavg = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="iam-sts-bench-") as tmp:
        log(f"STS: child starts ({cfg['rounds']} rounds)")
        argv = [sys.executable, str(Path(__file__).resolve()), "--measure", tmp]
        argv += ["--rounds", str(cfg["rounds"])] + (["--quick"] if quick else [])
        subprocess.run(argv, check=True, timeout=CHILD_TIMEOUT_S)
        result: dict[str, Any] = json.loads(Path(tmp, "result.json").read_text())
    result["loadavg_before"] = loadavg
    result["wall_s"] = time.perf_counter() - t0
    result["extra"] = extra_cost(result)
    result["targets"] = targets(result)
    return result


def extra_cost(result: dict[str, Any]) -> dict[str, dict[str, list[float]]]:
    """Per round: what a session caller costs over a principal-ARN caller, µs (p50 difference and
    CPU µs per call difference from the throughput loops)."""
    peers = result["peers"]
    out = {}
    for key, arn, session in (
        ("audit", "authz_arn", "authz_session"),
        ("tagged", "authz_arn_tagged", "authz_session_tagged"),
    ):
        a, s = peers[arn]["samples"], peers[session]["samples"]
        out[key] = {
            "p50_us": [y["p50_us"] - x["p50_us"] for x, y in zip(a, s, strict=True)],
            "cpu_us": [1e6 / y["cpu_rate"] - 1e6 / x["cpu_rate"] for x, y in zip(a, s, strict=True)],
        }
    return out


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    peers = result["peers"]
    assume = [s["cpu_rate"] for s in peers["assume"]["samples"]]
    wall = _med([s["rate"] for s in peers["assume"]["samples"]])
    tagged = peers["assume_tagged"]["median"]["cpu_rate"]
    unc, cached = peers["verify_uncached"]["median"], peers["verify_cached"]["median"]
    rate = _med(assume)
    return [
        {
            "target": f"STS: `AssumeRole` in-process ≥ {TARGET_ASSUME_RATE:,.0f}/s (carol → "
            "CrossAccountAuditor)",
            "measured": f"{rate:,.0f}/s per CPU-second ({min(assume):,.0f}–{max(assume):,.0f} over rounds; "
            f"wall clock {wall:,.0f}/s); tagged variant {tagged:,.0f}/s",
            "value": rate,
            "met": rate >= TARGET_ASSUME_RATE,
        },
        {
            "target": f"STS: session-token verification ≤ {TARGET_VERIFY_US:g} µs (uncached p50)",
            "measured": f"{unc['p50_us']:.1f} µs uncached p50 (p99 {unc['p99_us']:.1f} µs); cached p50 "
            f"{cached['p50_us']:.2f} µs (p99 {cached['p99_us']:.2f} µs)",
            "value": unc["p50_us"],
            "met": unc["p50_us"] <= TARGET_VERIFY_US,
        },
    ]


def render_section(g: dict[str, Any]) -> list[str]:
    """The report's STS section (Markdown lines)."""
    cfg, peers, facts = g["settings"], g["peers"], g["facts"]

    def cells(key: str, rate_fmt: str = ",.0f", lat_fmt: str = ".1f") -> str:
        smp = peers[key]["samples"]
        return (
            f"{_rng([s['cpu_rate'] for s in smp], rate_fmt)} | {_rng([s['rate'] for s in smp], rate_fmt)} "
            f"| {_rng([s['p50_us'] for s in smp], lat_fmt)} | {_rng([s['p99_us'] for s in smp], lat_fmt)}"
        )

    lines = [
        "## STS",
        "",
        "| in-process | calls per CPU-second | calls/s, wall clock | p50 µs | p99 µs |",
        "|---|---|---|---|---|",
    ]
    for key in ("assume", "assume_tagged"):
        lines.append(f"| {peers[key]['label']} | {cells(key)} |")
    for key in ("verify_uncached", "verify_cached"):
        lines.append(f"| {peers[key]['label']} | {cells(key, lat_fmt='.2f')} |")
    lines.append(f"| {peers['first_call']['label']} | {cells('first_call')} |")
    for key in ("authz_arn", "authz_session", "authz_arn_tagged", "authz_session_tagged"):
        lines.append(f"| {peers[key]['label']} | {cells(key, lat_fmt='.2f')} |")
    extra = g["extra"]
    lines += [
        "",
        "| extra cost of a session caller over a principal-ARN caller, per round | p50 difference µs "
        "| CPU µs per call difference |",
        "|---|---|---|",
        f"| auditor session (no session policy) | {_rng(extra['audit']['p50_us'], '.2f')} "
        f"| {_rng(extra['audit']['cpu_us'], '.2f')} |",
        f"| tagged session (3 tags + a session policy) | {_rng(extra['tagged']['p50_us'], '.2f')} "
        f"| {_rng(extra['tagged']['cpu_us'], '.2f')} |",
        "",
        "| gRPC `AssumeRole` (carol → CrossAccountAuditor) | calls/s | p50 µs | p99 µs "
        "| CPU µs per call: server / client |",
        "|---|---|---|---|---|",
    ]
    for key in ("grpc_seq_uds", "grpc_c16_uds", "grpc_seq_tcp", "grpc_c16_tcp"):
        smp, med = peers[key]["samples"], peers[key]["median"]
        lines.append(
            f"| {peers[key]['label'].removeprefix('gRPC `AssumeRole` ')} "
            f"| {_rng([s['rate'] for s in smp], ',.0f')} | {_rng([s['p50_us'] for s in smp], ',.0f')} "
            f"| {_rng([s['p99_us'] for s in smp], ',.0f')} "
            f"| {med['server_cpu_us']:,.0f} / {med['client_cpu_us']:,.0f} |"
        )
    others = g["others_cpu_share"]
    shares = [s["cpu_share"] for k, p in peers.items() if not k.startswith("grpc") for s in p["samples"]]
    c16_done = [s["calls"] for k, p in peers.items() if k.startswith("grpc_c16") for s in p["samples"]]
    server = facts["server"]
    d = facts["decisions"]
    contention = (
        f"CPU share of the measuring process in the in-process rows median {_med(shares):.0%} (min "
        f"{min(shares):.0%}); other processes took a median {_med(others):.0%} (max {max(others):.0%}) "
        "of the machine's CPU during the rounds"
        + (
            ": **the section ran contended**, wall-clock figures and tails are depressed; the "
            "per-CPU-second rates are the usable figures."
            if max(others) > 0.10 or min(shares) < 0.9
            else " (uncontended)."
        )
    )
    lines += [
        "",
        f"Cells: median (min–max) over {cfg['rounds']} interleaved rounds (the order of the rows "
        "rotates each round; all rows run in one child process, the server in another). In-process "
        f"rates: uninstrumented loops of ≈{cfg['seconds']:g} s (at most {cfg['max_calls']:,} calls); "
        "p50/p99: single calls timed with `perf_counter_ns` "
        f"({cfg['assume_sample']:,} AssumeRoles per variant, {cfg['authz_sample']:,} decisions per "
        f"caller, {cfg['cached_sample']:,} cached verifications per round). The first-sighting rows "
        "make one pass each over pre-issued sessions with a fresh codec (or `Sts`) per pass, so "
        "every call is a first sighting: the rate pass and the timed pass use separate fresh "
        f"objects ({cfg['tokens']:,} tokens for `verify`; {cfg['first_call_sample']:,} for "
        "`authenticate_keys`).",
        "",
        "- **AssumeRole** = `Sts(TokenCodec(Keyset.random()), clock=time.time).assume_role(compiled, "
        "caller, AssumeRoleParams(...))` with the caller authenticated once (`authenticate_arn`): "
        "shape and tag checks, the trust policy through the full decision algorithm "
        "(`sts:AssumeRole`, plus `sts:TagSession` with tags), the packed size, a new access key id, "
        "the token sealed with AES-256-GCM and the derived secret. Carol's call is cross-account "
        "(`examples/snapshot.json`: her group's identity policy and the role's trust policy with "
        "`sts:ExternalId` must both allow). The example's trust policies let nobody tag sessions "
        "without MFA, so the tagged variant runs on a small document built in `bench/sts_bench.py` "
        "(`TAGGED_DOC`: user dana, role TaggedSessions trusting her for `sts:AssumeRole` and "
        "`sts:TagSession` with a `ForAllValues:StringEquals aws:TagKeys` condition); its "
        f"{facts['session_policy_chars']}-character session policy is parsed and validated on every "
        f"call (packed size {facts['tagged_packed_policy_size']} %). Token sizes: "
        f"{facts['token_chars']} characters (auditor), {facts['tagged_token_chars']} (tagged).",
        "- **Verification** = `TokenCodec.verify(access_key_id, token, secret, now)` with the "
        "session's secret (checked in constant time). First sighting: base64 decoding, AES-GCM "
        "decryption, the claims' JSON, the derived secret (HMAC-SHA256) and the LRU insert; cached: "
        "an LRU lookup and the comparisons. Every session presents its token on every call, so "
        "the cached row is the steady state; the first-sighting row is what a new session's "
        "first request (or any request on a replica whose cache evicted it) pays.",
        "- **Session caller** = `authenticate_keys` (token verification, then the `Sts` memo of the "
        "session's principal and session policies, both hits after the first call) + "
        "`authorize(auth.entry, …, context=auth.request_keys(now), session=…, session_key=…)`; "
        "principal-ARN caller = `resolve_principal(session ARN)` + `authorize` on the same question "
        f"(auditor: `{AUDIT_QUESTION[0]}` on `{AUDIT_QUESTION[1]}`, {d['audit']['session']} for both; "
        f"tagged: `{TAGGED_QUESTION[0]}` on `{TAGGED_QUESTION[1]}`, {d['tagged']['session']} for "
        "both, the session policy evaluated too for the session caller). No decision cache here; "
        "the server's `DecisionCache` keys sessions apart by `session_key`.",
        f"- **gRPC:** the production `Sidecar` serving `examples/snapshot.json` (started as "
        "`bench/grpc_bench.py --serve real`: no `--sts-keyset`, so a random in-memory key), spawn to "
        f"ready {server['spawn_to_ready_s']:.1f} s. Per transport and round: {cfg['grpc_calls']:,} "
        f"sequential `AssumeRole` calls after {cfg['grpc_warmup']} warm-up calls (sync client, each "
        f"call timed, calls/s = calls / wall time); {cfg['c16_calls']:,} calls (or as many as start "
        f"within {cfg['c16_max_s']:g} s: median {_med(c16_done):,.0f} here) with "
        f"{cfg['concurrency']} in flight after {cfg['c16_warmup']} warm-up calls (`grpc.aio`, one "
        f"channel). Requests: `caller.principal_arn` carol, `role_arn`, `external_id`, and "
        f"{cfg['session_names']} `role_session_name`s in turn. Server CPU from `/proc/<pid>/stat` "
        "(10 ms ticks; c16 includes its warm-up calls).",
        f"- **Contention:** {contention} Load average before the section {g['loadavg_before']:.2f}; "
        f"section wall time {g['wall_s']:.0f} s.",
    ]
    return lines


# --- profile -----------------------------------------------------------------------------------


def profile(n: int) -> None:
    """cProfile tables of ``n`` AssumeRoles (both variants) and ``n`` verifications (both kinds)."""
    cfg = settings(2, False) | {"tokens": n}
    local = InProcess(cfg)
    now = time.time()
    args = [(c.access_key_id, c.session_token, c.secret_access_key, now) for c in local.issued]
    codec = local.new_codec()
    codec.verify(*args[0])
    cases: list[tuple[str, Callable[..., Any], list[tuple[Any, ...]]]] = [
        (
            f"assume_role carol → CrossAccountAuditor × {n:,}",
            local.sts.assume_role,
            [(local.example, local.carol, local.params)] * n,
        ),
        (
            f"assume_role tagged + session policy × {n:,}",
            local.sts.assume_role,
            [(local.tagged, local.dana, local.tagged_params)] * n,
        ),
        (f"TokenCodec.verify, first sighting × {n:,}", local.new_codec().verify, args),
        (f"TokenCodec.verify, cached × {n:,}", codec.verify, args[:1] * n),
    ]
    gc.collect()
    gc.freeze()
    for title, fn, fn_args in cases:
        prof = cProfile.Profile()
        prof.runcall(one_pass, fn, fn_args)
        print(f"\n===== {title} =====", flush=True)
        stats = pstats.Stats(prof, stream=sys.stdout)
        stats.sort_stats("tottime").print_stats(15)
        stats.sort_stats("cumulative").print_stats(12)
    sys.stdout.flush()


# --- main --------------------------------------------------------------------------------------


def _log(message: str) -> None:
    print(f"  [sts {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3, at least 2)")
    parser.add_argument("--quick", action="store_true", help="fewer calls per row")
    parser.add_argument("--json", help="write the numbers here")
    parser.add_argument(
        "--profile", type=int, metavar="N", help="print cProfile tables of N calls of each kind, exit"
    )
    args = parser.parse_args(argv)
    if args.profile:
        profile(args.profile)
        return 0
    if args.measure:
        result = run_child(settings(args.rounds, args.quick), _log)
        (args.measure / "result.json").write_text(json.dumps(result, indent=1))
        return 0
    return print_standalone(measure(args.rounds, args.quick, _log), render_section, args.json)


if __name__ == "__main__":
    sys.exit(main())
