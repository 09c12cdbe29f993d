"""Benchmark harness: the compiled snapshot's decision path on the ANCHORS §2 workload, at
1,500 statements and scaled to 100,000.

    .venv/bin/python bench/run.py --out docs/benchmarks.md   # the full run (`make bench`), 2–3 min
    .venv/bin/python bench/run.py --quick                    # a smoke run (1,500 and 6,000), ~30 s
    .venv/bin/python bench/run.py --profile 20000            # cProfile of the uncached warm path
    .venv/bin/python bench/run.py --grpc-only --out /tmp/g.md --json /tmp/g.json  # gRPC section only
    .venv/bin/python bench/run.py --sts-only --out /tmp/s.md --json /tmp/s.json    # STS section only
    .venv/bin/python bench/run.py --envoy-only --out /tmp/e.md --json /tmp/e.json  # Envoy section only

Per size, the parent generates the seeded workload (``workload.scaled``) and writes it as a
snapshot document (API.md) plus a request list; a fresh child process then measures it, so the
RSS it reports is that size's own:

1. ``load_snapshot(bytes)`` and ``compile_snapshot(snapshot)``, timed, with the process RSS after
   each step and after a first (cold) pass over the requests: the peak RSS at that point is what
   a sidecar holding this snapshot needs;
2. ``compile_snapshot(snapshot, indexed=False)``: the plain path (no action index, no memo), the
   reference the differential tests compare the engine against;
3. agreement: engine vs plain vs the naive evaluator of ``naive.py`` on every request (3-way:
   Allow / ExplicitDeny / ImplicitDeny), and the cached engine vs the uncached one on a Zipf stream;
4. interleaved rounds (the order rotates each round) of the peers: the plain path, the engine
   uncached (warm action index), the engine with a ``DecisionCache`` under Zipf(1.1) traffic
   over the requests (an LRU of 4,096 as in ANCHORS, and the default size), and the naive
   evaluator. Throughput comes from uninstrumented loops, p50/p99 from single calls timed with
   ``perf_counter_ns``. Every engine call is ``CompiledSnapshot.authorize`` with a resolved
   principal and a normalised context, i.e. it includes building the ``Request``.

Then (``--grpc``, the default of full runs) the gRPC section of ``grpc_bench.py``: the sidecar's
Authorizer against a constant-answer floor behind the same server, client and servers in separate
processes, at 1,500 statements, and the cost of observability on unary ``Authorize`` (the real
server with Prometheus metrics on, and with metrics and a decision log, in the same rounds; then
in-process, without a transport). And (``--sts``, likewise) the STS section of ``sts_bench.py``:
AssumeRole, session-token verification and credential callers in-process, and AssumeRole over
gRPC against a real sidecar, in a child process of its own. And (``--envoy``, likewise) the Envoy
ext_authz section of ``envoy_bench.py``: HTTP through a real Envoy without ext_authz, with ext_authz
calling the sidecar, and with ext_authz calling a constant-answer Check server (the added latency of
the sidecar against that floor's), in child processes of their own.

The parent then writes the Markdown report (``--out``) and ``bench/results/latest.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import math
import os
import platform
import pstats
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import naive
import workload

from sidecar.engine import normalize_context
from sidecar.engine.cache import DecisionCache
from sidecar.engine.compile import CompiledSnapshot, PrincipalEntry, compile_snapshot
from sidecar.snapshot import load_snapshot

NOW = 1_718_000_000.0  # a fixed clock: aws:CurrentTime is derived per call like in production
OUTCOMES = ("Allow", "ExplicitDeny", "ImplicitDeny")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_JSON = HERE / "results" / "latest.json"
SECTIONS = ("grpc", "sts", "envoy")  # the sections after the per-size runs (--X / --X-only)
SECTION_TITLES = {"grpc": "gRPC", "sts": "STS", "envoy": "Envoy ext_authz"}

# Targets of the issue (benchmarks, not tests).
TARGET_RATIO = 15.0  # engine uncached ≥ 15× the plain path, 1,500 statements, same run
TARGET_P50_US, TARGET_P99_US = 2.0, 10.0  # ≈, engine uncached, 1,500 statements
TARGET_GROWTH = 1.3  # p50 at the large size ≤ 1.3 × p50 at 1,500
TARGET_LOAD_COMPILE_S = 3.0  # load + compile of 100,000 statements
TARGET_RSS_MB = 300.0  # 10^6 bytes

# ANCHORS.md §2, for the "how to read" notes.
ANCHOR_NAIVE_RATE, ANCHOR_NAIVE_P50 = 27_712, 36
ANCHOR_TOY_RATE, ANCHOR_TOY_P50, ANCHOR_TOY_P99 = 251_145, 2.9, 14.5
ANCHOR_LRU_HITS = 91.6

Work = tuple[PrincipalEntry, str, str, dict[str, object]]
NaiveInput = tuple[list[Any], str, str, dict[str, str]]


# --- small helpers -------------------------------------------------------------------------


def percentile(sorted_ns: Sequence[int], q: float) -> float:
    """Nearest-rank percentile, in µs."""
    n = len(sorted_ns)
    return sorted_ns[min(n - 1, max(0, math.ceil(q * n) - 1))] / 1000


def rss_mb() -> float:
    """Current resident set size of this process, MB (10^6 bytes)."""
    with open("/proc/self/statm", encoding="ascii") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # Linux: KiB


def timer_overhead_ns() -> int:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(20_000):
        t0 = clock()
        samples.append(clock() - t0)
    return int(statistics.median(samples))


def _med(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def _timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float, float]:
    """Time a build step the way the store runs it: with the cyclic collector paused
    (sidecar.store pauses it while loading and compiling a snapshot)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn(*args, **kwargs)
        return out, time.perf_counter() - w0, time.process_time() - c0
    finally:
        if was_enabled:
            gc.enable()


# --- the measured loops --------------------------------------------------------------------


def run_engine(compiled: CompiledSnapshot, items: Sequence[Work], cache: DecisionCache | None) -> None:
    authorize = compiled.authorize
    for entry, action, res, ctx in items:
        authorize(entry, action, res, context=ctx, now=NOW, cache=cache)


def lat_engine(compiled: CompiledSnapshot, items: Sequence[Work], cache: DecisionCache | None) -> list[int]:
    authorize, clock, out = compiled.authorize, time.perf_counter_ns, []
    for entry, action, res, ctx in items:
        t0 = clock()
        authorize(entry, action, res, context=ctx, now=NOW, cache=cache)
        out.append(clock() - t0)
    return out


def run_naive(items: Sequence[NaiveInput]) -> None:
    evaluate = naive.evaluate
    for statements, action, res, ctx in items:
        evaluate(statements, action, res, ctx)


def lat_naive(items: Sequence[NaiveInput]) -> list[int]:
    evaluate, clock, out = naive.evaluate, time.perf_counter_ns, []
    for statements, action, res, ctx in items:
        t0 = clock()
        evaluate(statements, action, res, ctx)
        out.append(clock() - t0)
    return out


def throughput(
    run: Callable[[Sequence[Any]], None], items: Sequence[Any], seconds: float
) -> tuple[float, float]:
    """Decisions per wall-clock second and per CPU second of this process, over chunks of 500
    calls, cycling through ``items`` for ``seconds``. The CPU-time rate is what stays comparable
    when other processes share the cores."""
    chunks = [items[i : i + 500] for i in range(0, len(items), 500)]
    done = 0
    start, cpu_start = time.perf_counter(), time.process_time()
    while True:
        for chunk in chunks:
            run(chunk)
            done += len(chunk)
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                return done / elapsed, done / max(time.process_time() - cpu_start, 1e-9)


@dataclass
class Sample:
    rate: float  # decisions per wall-clock second
    cpu_rate: float  # decisions per CPU second of this process
    p50: float  # µs
    p99: float
    cpu_share: float = 1.0  # process CPU time / wall time while measuring (1.0: uncontended)
    hit_rate: float | None = None  # decision-cache hits / lookups while measuring


@dataclass
class Peer:
    key: str
    label: str
    measure: Callable[[], Sample]
    samples: list[Sample] = field(default_factory=list)


def zipf_indices(n: int, length: int, s: float, seed: int) -> list[int]:
    """``length`` request indices drawn Zipf(s) over ``n`` requests; which request has which
    rank is a seeded shuffle."""
    rng = random.Random(seed)
    order = list(range(n))
    rng.shuffle(order)
    cum, total = [], 0.0
    for rank in range(1, n + 1):
        total += rank**-s
        cum.append(total)
    return [order[r] for r in rng.choices(range(n), cum_weights=cum, k=length)]


def run_rounds(peers: list[Peer], rounds: int, log: Callable[[str], None]) -> None:
    for r in range(rounds):
        order = peers[r % len(peers) :] + peers[: r % len(peers)]
        for peer in order:
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            sample = peer.measure()
            sample.cpu_share = (time.process_time() - cpu) / (time.perf_counter() - wall)
            peer.samples.append(sample)
        log(
            f"round {r + 1}/{rounds}: "
            + "  ".join(f"{p.key} {p.samples[-1].cpu_rate:,.0f}/s p50 {p.samples[-1].p50:.1f}" for p in peers)
        )


def show_profile(title: str, prof: cProfile.Profile) -> None:
    print(f"\n===== {title} =====", flush=True)
    stats = pstats.Stats(prof, stream=sys.stdout)
    stats.sort_stats("tottime").print_stats(22)
    stats.sort_stats("cumulative").print_stats(16)
    sys.stdout.flush()


# --- the child: one workload size in a fresh process ---------------------------------------


class Child:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.dir = Path(args.child)
        self.started = time.perf_counter()
        self.stages: list[dict[str, Any]] = []
        self.stage("interpreter + imports")

    def log(self, message: str) -> None:
        print(f"  [{time.perf_counter() - self.started:5.1f} s] {message}", file=sys.stderr, flush=True)

    def stage(self, label: str) -> None:
        self.stages.append({"stage": label, "rss_mb": round(rss_mb(), 1), "peak_mb": round(peak_rss_mb(), 1)})

    def work(self, compiled: CompiledSnapshot, records: list[dict[str, Any]]) -> list[Work]:
        entries: dict[str, PrincipalEntry] = {}
        out = []
        for r in records:
            entry = entries.get(r["principal"])
            if entry is None:
                entry = entries[r["principal"]] = compiled.resolve_principal(r["principal"])
            ctx = normalize_context({"aws:SourceIp": r["source_ip"]})
            out.append((entry, r["action"], r["resource"], ctx))
        return out

    def load_and_compile(self) -> None:
        args = self.args
        data = (self.dir / "snapshot.json").read_bytes()
        self.records = records = json.loads((self.dir / "requests.json").read_text())
        self.doc_bytes = len(data)
        self.stage("snapshot document read (bytes) + request list")
        gc.collect()
        build_prof = cProfile.Profile() if args.profile_build else None
        if build_prof is not None:
            build_prof.enable()
        self.snapshot, self.load_wall, self.load_cpu = _timed(load_snapshot, data)
        self.stage("load_snapshot")
        self.log(f"load_snapshot {self.load_wall:.2f} s")
        self.compiled, self.compile_wall, self.compile_cpu = _timed(compile_snapshot, self.snapshot)
        if build_prof is not None:
            build_prof.disable()
            statements = self.compiled.counts["statements"]
            show_profile(f"load_snapshot + compile_snapshot, {statements:,} statements", build_prof)
        self.stage("compile_snapshot (indexed)")
        self.log(f"compile_snapshot {self.compile_wall:.2f} s, {self.compiled.counts}")
        self.items = self.work(self.compiled, records)
        # The first pass: cold action index, every call timed (its overhead is negligible here).
        gc.collect()
        t0 = time.perf_counter()
        cold = lat_engine(self.compiled, self.items, None)
        self.cold_wall = time.perf_counter() - t0
        cold.sort()
        self.cold = {
            "rate": len(cold) / self.cold_wall,
            "p50_us": percentile(cold, 0.5),
            "p99_us": percentile(cold, 0.99),
        }
        self.stage("first pass over the requests (fills the action-index memos)")
        self.sidecar_peak_mb = peak_rss_mb()
        del data
        if args.profile:
            stream = zipf_indices(len(records), args.stream, args.zipf, args.seed + 1)
            self.stream = [self.items[i] for i in stream]
            return
        self.plain, self.plain_wall, self.plain_cpu = _timed(
            lambda: compile_snapshot(self.snapshot, indexed=False)
        )
        self.plain_items = self.work(self.plain, records)
        users = naive.from_document(json.loads((self.dir / "snapshot.json").read_bytes()))
        self.naive_items: list[NaiveInput] = []
        for r in records:
            statements, tags = users[r["principal"]]
            self.naive_items.append(
                (statements, r["action"], r["resource"], {"aws:sourceip": r["source_ip"], **tags})
            )
        self.stream_idx = zipf_indices(len(records), args.stream, args.zipf, args.seed + 1)
        self.stream = [self.items[i] for i in self.stream_idx]
        self.stage("plain-path compile, naive inputs, Zipf stream (not part of a sidecar)")
        # One full collection, timed: the pause an unfrozen sidecar risks with all this in memory.
        # Then freeze everything built so far, so the measured loops (and the gc.collect() before
        # each of them) do not walk the snapshot's millions of objects again and again.
        self.tracked = len(gc.get_objects())
        t0 = time.perf_counter()
        gc.collect()
        self.full_gc_s = time.perf_counter() - t0
        gc.freeze()

    # --- agreement -------------------------------------------------------------------------

    def agreement(self) -> dict[str, Any]:
        records = self.records
        engine = [self.compiled.authorize(*w[:3], context=w[3], now=NOW) for w in self.items]
        plain = [self.plain.authorize(*w[:3], context=w[3], now=NOW) for w in self.plain_items]
        answers = [naive.evaluate(*x) for x in self.naive_items]
        ek = [d.kind.value for d in engine]
        pk = [d.kind.value for d in plain]

        def diff(a: list[str], b: list[str]) -> list[int]:
            return [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]

        def describe(i: int) -> str:
            r = records[i]
            return (
                f"request {i}: {r['principal']} {r['action']} on {r['resource']} from {r['source_ip']}: "
                f"engine {ek[i]} ({engine[i].reason}), plain {pk[i]}, naive {answers[i]}"
            )

        cache = DecisionCache(self.args.cache_size)
        n_cached = min(len(self.stream), 50_000)
        cached = [
            self.compiled.authorize(*w[:3], context=w[3], now=NOW, cache=cache).kind.value
            for w in self.stream[:n_cached]
        ]
        cached_diffs = [j for j, k in enumerate(cached) if k != ek[self.stream_idx[j]]]
        pairs = {
            "engine_vs_plain": diff(ek, pk),
            "engine_vs_naive": diff(ek, answers),
            "plain_vs_naive": diff(pk, answers),
        }
        aimed = [r["aimed"] for r in records]
        return {
            "compared": len(records),
            "outcomes": {
                "engine": dict(Counter(ek)),
                "plain": dict(Counter(pk)),
                "naive": dict(Counter(answers)),
                "engine_aimed": dict(Counter(k for k, a in zip(ek, aimed, strict=True) if a)),
                "engine_random": dict(Counter(k for k, a in zip(ek, aimed, strict=True) if not a)),
            },
            "errors": {
                "engine": sum(d.error is not None for d in engine),
                "plain": sum(d.error is not None for d in plain),
            },
            "disagreements": {k: len(v) for k, v in pairs.items()},
            "examples": {k: [describe(i) for i in v[:3]] for k, v in pairs.items()},
            "cached_compared": n_cached,
            "cached_vs_uncached": len(cached_diffs),
            "cached_hit_rate": cache.hits / max(cache.hits + cache.misses, 1),
        }

    # --- peers -----------------------------------------------------------------------------

    def peers(self) -> list[Peer]:
        args = self.args
        lat_n = min(args.sample, len(self.items))
        compiled, plain = self.compiled, self.plain

        def stats(rates: tuple[float, float], lat: list[int], hit_rate: float | None = None) -> Sample:
            lat.sort()
            return Sample(rates[0], rates[1], percentile(lat, 0.50), percentile(lat, 0.99), hit_rate=hit_rate)

        def uncached(c: CompiledSnapshot, items: list[Work]) -> Callable[[], Sample]:
            def measure() -> Sample:
                rates = throughput(lambda chunk: run_engine(c, chunk, None), items, args.seconds)
                return stats(rates, lat_engine(c, items[:lat_n], None))

            return measure

        def cached(size: int) -> Callable[[], Sample]:
            cache = DecisionCache(size)
            run_engine(compiled, self.stream, cache)  # steady state before the first round

            def measure() -> Sample:
                h0, m0 = cache.hits, cache.misses
                rates = throughput(
                    lambda chunk: run_engine(compiled, chunk, cache), self.stream, args.seconds
                )
                lat = lat_engine(compiled, self.stream[:lat_n], cache)
                hits, misses = cache.hits - h0, cache.misses - m0
                return stats(rates, lat, hits / max(hits + misses, 1))

            return measure

        def naive_peer() -> Sample:
            rates = throughput(run_naive, self.naive_items, args.seconds)
            return stats(rates, lat_naive(self.naive_items[:lat_n]))

        default_size = DecisionCache().maxsize
        out = [
            Peer(
                "plain",
                "plain path: `compile_snapshot(..., indexed=False)`, no cache",
                uncached(plain, self.plain_items),
            ),
            Peer("engine", "engine uncached (warm action index)", uncached(compiled, self.items)),
            Peer(
                "cached",
                f"engine + `DecisionCache({args.cache_size:,})`, Zipf({args.zipf:g}) traffic",
                cached(args.cache_size),
            ),
        ]
        if default_size != args.cache_size:
            out.append(
                Peer(
                    "cached_default",
                    f"engine + `DecisionCache()` (default {default_size:,}), Zipf({args.zipf:g}) traffic",
                    cached(default_size),
                )
            )
        out.append(Peer("naive", "naive pure Python (`bench/naive.py`: fnmatch, no index)", naive_peer))
        return out

    def traced_compile(self) -> dict[str, float]:
        """tracemalloc: bytes a second indexed compile allocates and keeps, then after a pass."""
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        compiled = compile_snapshot(self.snapshot)
        after_compile = tracemalloc.get_traced_memory()[0]
        run_engine(compiled, self.work(compiled, self.records), None)
        gc.collect()
        after_pass = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        return {"compiled_mb": (after_compile - base) / 1e6, "after_first_pass_mb": (after_pass - base) / 1e6}

    # --- profile ---------------------------------------------------------------------------

    def profile(self, n: int) -> None:
        """cProfile tables: the uncached warm path, then the decision cache's hit path."""
        gc.collect()
        gc.freeze()
        statements = self.compiled.counts["statements"]
        items = (self.items * (n // len(self.items) + 1))[:n]
        prof = cProfile.Profile()
        prof.runcall(run_engine, self.compiled, items, None)
        show_profile(f"engine uncached, warm: {n:,} decisions, {statements:,} statements", prof)
        cache = DecisionCache()
        run_engine(self.compiled, self.stream, cache)  # every stream entry is now cached
        hits = (self.stream * (n // len(self.stream) + 1))[:n]
        prof = cProfile.Profile()
        prof.runcall(run_engine, self.compiled, hits, cache)
        show_profile(f"engine + DecisionCache() hits: {n:,} decisions, {statements:,} statements", prof)

    # --- main ------------------------------------------------------------------------------

    def run(self) -> None:
        args = self.args
        self.load_and_compile()
        if args.profile:
            self.profile(args.profile)
            return
        overhead = timer_overhead_ns()
        agreement = self.agreement()
        self.log(
            "agreement: "
            + ", ".join(f"{k} {v}" for k, v in agreement["disagreements"].items())
            + f", cached_vs_uncached {agreement['cached_vs_uncached']}"
        )
        peers = self.peers()
        run_rounds(peers, args.rounds, self.log)
        small = self.compiled.counts["statements"] <= args.tracemalloc_max
        traced = self.traced_compile() if small else None
        self.log("tracemalloc done")
        result = {
            "counts": self.compiled.counts,
            "document_bytes": self.doc_bytes,
            "load": {"wall_s": self.load_wall, "cpu_s": self.load_cpu},
            "compile": {
                "wall_s": self.compile_wall,
                "cpu_s": self.compile_cpu,
                "compile_seconds": self.compiled.compile_seconds,
            },
            "compile_plain": {"wall_s": self.plain_wall, "cpu_s": self.plain_cpu},
            "cold_pass": self.cold,
            "rss": {
                "stages": self.stages,
                "sidecar_peak_mb": self.sidecar_peak_mb,
                "final_peak_mb": peak_rss_mb(),
            },
            "tracemalloc": traced,
            "gc": {"tracked_objects": self.tracked, "full_collection_s": self.full_gc_s},
            "timer_overhead_ns": overhead,
            "peers": {
                p.key: {
                    "label": p.label,
                    "samples": [asdict(s) for s in p.samples],
                    "median": summarize(p.samples),
                }
                for p in peers
            },
            "ratios": ratios(peers),
            "agreement": agreement,
            "wall_s": time.perf_counter() - self.started,
        }
        (self.dir / "result.json").write_text(json.dumps(result, indent=1))


def summarize(samples: list[Sample]) -> dict[str, float | None]:
    hit = [s.hit_rate for s in samples if s.hit_rate is not None]
    return {
        "rate": _med([s.rate for s in samples]),
        "cpu_rate": _med([s.cpu_rate for s in samples]),
        "p50_us": _med([s.p50 for s in samples]),
        "p99_us": _med([s.p99 for s in samples]),
        "cpu_share_min": min(s.cpu_share for s in samples),
        "hit_rate": _med(hit) if hit else None,
    }


def ratios(peers: list[Peer]) -> dict[str, dict[str, list[float]]]:
    """Per round, each peer's CPU-time rate over the plain path's and the naive evaluator's."""
    by = {p.key: p for p in peers}
    out: dict[str, dict[str, list[float]]] = {}
    for p in peers:
        out[p.key] = {
            base: [s.cpu_rate / b.cpu_rate for s, b in zip(p.samples, by[base].samples, strict=True)]
            for base in ("plain", "naive")
        }
    return out


# --- the parent ----------------------------------------------------------------------------


def machine_facts() -> dict[str, Any]:
    cpu = "unknown CPU"
    mem = 0.0
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
        with open("/proc/meminfo", encoding="utf-8") as fh:
            mem = next(int(ln.split()[1]) for ln in fh if ln.startswith("MemTotal")) / 2**20
    except (OSError, StopIteration):
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count() or 0
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "sidecar"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        commit = (commit + (" + uncommitted changes in sidecar/" if dirty else "")) or "unknown"
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    return {
        "commit": commit,
        "nproc": usable,
        "cpu": cpu,
        "memory_gib": round(mem, 1),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(terse=True),
    }


def workload_facts(wl: workload.Workload, seconds: float) -> dict[str, Any]:
    per_user = [sum(len(wl.policies[n]["Statement"]) for n in u.policy_names) for u in wl.users]
    return {
        "seed": wl.seed,
        "users": len(wl.users),
        "groups": len(wl.group_policies),
        "policies": len(wl.policies),
        "statements": wl.statement_count,
        "statements_per_user": [min(per_user), int(statistics.median(per_user)), max(per_user)],
        "requests": len(wl.requests),
        "aimed": sum(r.aimed for r in wl.requests),
        "kms_key_requests": sum(r.is_kms_key for r in wl.requests),
        "generate_s": seconds,
    }


def child_argv(args: argparse.Namespace, directory: str) -> list[str]:
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", directory]
    flags = (
        "rounds",
        "seconds",
        "sample",
        "seed",
        "cache_size",
        "zipf",
        "stream",
        "profile",
        "tracemalloc_max",
    )
    for flag in flags:
        value = getattr(args, flag)
        if value is not None:
            argv += [f"--{flag.replace('_', '-')}", str(value)]
    if args.profile_build:
        argv.append("--profile-build")
    return argv


def measure_size(args: argparse.Namespace, size: int, log: Callable[[str], None]) -> dict[str, Any]:
    t0 = time.perf_counter()
    wl = workload.scaled(size, args.seed)
    facts = workload_facts(wl, time.perf_counter() - t0)
    with tempfile.TemporaryDirectory(prefix="iam-bench-") as tmp:
        Path(tmp, "snapshot.json").write_bytes(workload.document_bytes(wl))
        Path(tmp, "requests.json").write_text(json.dumps(workload.request_records(wl)))
        del wl
        gc.collect()
        log(
            f"{size:,} statements: workload generated and written ({facts['generate_s']:.1f} s); child starts"
        )
        subprocess.run(child_argv(args, tmp), check=True)
        if args.profile:
            return {"workload": facts}
        result = json.loads(Path(tmp, "result.json").read_text())
    result["workload"] = facts
    return result


def evaluate_targets(sizes: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    small_key, large_key = min(sizes), max(sizes)
    small, large = sizes[small_key], sizes[large_key]
    eng = small["peers"]["engine"]["median"]
    ratio = _med(small["ratios"]["engine"]["plain"])
    growth = large["peers"]["engine"]["median"]["p50_us"] / eng["p50_us"]
    load_compile = large["load"]["wall_s"] + large["compile"]["wall_s"]
    rss = large["rss"]["sidecar_peak_mb"]
    ls, lc = large["load"]["wall_s"], large["compile"]["wall_s"]
    n_small = small["workload"]["statements"]
    n_large = large["workload"]["statements"]
    return [
        {
            "target": f"engine uncached ≥ {TARGET_RATIO:g}× the plain path ({n_small:,} statements, one run)",
            "measured": f"{ratio:.1f}× (CPU-time rates, median of rounds)",
            "value": ratio,
            "met": ratio >= TARGET_RATIO,
        },
        {
            "target": f"engine uncached p50 ≤ {TARGET_P50_US:g} µs ({n_small:,})",
            "measured": f"{eng['p50_us']:.2f} µs",
            "value": eng["p50_us"],
            "met": eng["p50_us"] <= TARGET_P50_US,
        },
        {
            "target": f"engine uncached p99 ≤ {TARGET_P99_US:g} µs ({n_small:,})",
            "measured": f"{eng['p99_us']:.2f} µs",
            "value": eng["p99_us"],
            "met": eng["p99_us"] <= TARGET_P99_US,
        },
        {
            "target": f"growth: p50 at {n_large:,} ≤ {TARGET_GROWTH:g}× p50 at {n_small:,}",
            "measured": f"{growth:.2f}× ({large['peers']['engine']['median']['p50_us']:.2f} vs "
            f"{eng['p50_us']:.2f} µs)",
            "value": growth,
            "met": growth <= TARGET_GROWTH,
        },
        {
            "target": f"load + compile of {n_large:,} statements ≤ {TARGET_LOAD_COMPILE_S:g} s",
            "measured": f"{load_compile:.2f} s (load {ls:.2f} s + compile {lc:.2f} s, wall clock)",
            "value": load_compile,
            "met": load_compile <= TARGET_LOAD_COMPILE_S,
        },
        {
            "target": f"RSS ≤ {TARGET_RSS_MB:g} MB ({n_large:,} statements)",
            "measured": f"{rss:.0f} MB (peak RSS after load + compile + one pass)",
            "value": rss,
            "met": rss <= TARGET_RSS_MB,
        },
    ]


# --- the report ----------------------------------------------------------------------------


def _n(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _rng(values: Sequence[float], fmt: str) -> str:
    return f"{format(_med(values), fmt)} ({format(min(values), fmt)}–{format(max(values), fmt)})"


def _size_label(result: dict[str, Any]) -> str:
    return f"{result['workload']['statements']:,} statements"


def peer_table(result: dict[str, Any]) -> list[str]:
    lines = [
        "| peer | decisions per CPU-second | decisions/s, wall clock | p50 µs | p99 µs | × plain path "
        "| × naive | cache hits |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, peer in result["peers"].items():
        samples = peer["samples"]
        med = peer["median"]
        r = result["ratios"][key]
        vs_plain = "1" if key == "plain" else _rng(r["plain"], ".1f")
        vs_naive = "1" if key == "naive" else _rng(r["naive"], ".1f")
        hits = f"{med['hit_rate']:.1%}" if med["hit_rate"] is not None else "–"
        lines.append(
            f"| {peer['label']} | {_rng([s['cpu_rate'] for s in samples], ',.0f')} "
            f"| {_rng([s['rate'] for s in samples], ',.0f')} | {med['p50_us']:.2f} | {med['p99_us']:.2f} "
            f"| {vs_plain} | {vs_naive} | {hits} |"
        )
    cold = result["cold_pass"]
    lines.append(
        f"| engine, first pass after compile (cold action index; one pass, not in the rounds) "
        f"| – | {cold['rate']:,.0f} | {cold['p50_us']:.2f} | {cold['p99_us']:.2f} | – | – | – |"
    )
    return lines


def extra_sections(report: dict[str, Any]) -> list[str]:
    """The gRPC, STS and Envoy sections of a report (Markdown lines, each preceded by a blank line)."""
    lines: list[str] = []
    if report.get("grpc"):
        import grpc_bench

        lines += ["", *grpc_bench.render_section(report["grpc"])]
    if report.get("sts"):
        import sts_bench

        lines += ["", *sts_bench.render_section(report["sts"])]
    if report.get("envoy"):
        import envoy_bench

        lines += ["", *envoy_bench.render_section(report["envoy"])]
    return lines


def render_sections_only(args: argparse.Namespace, report: dict[str, Any]) -> str:
    """The report of a ``--grpc-only`` / ``--sts-only`` / ``--envoy-only`` run: the run facts, the
    targets and the sections run."""
    facts = report["machine"]
    names = [n for n in SECTIONS if report.get(n)]
    titles = [SECTION_TITLES[n] for n in names]
    title = " and ".join(titles) if len(titles) < 3 else ", ".join(titles[:-1]) + " and " + titles[-1]
    flags = " ".join(f"--{n}-only" if getattr(args, f"{n}_only") else f"--{n}" for n in names)
    lines = [
        f"# Benchmarks: {title} section{'s' if len(names) > 1 else ''} only",
        "",
        f"Generated by `bench/run.py {flags}` (a partial run: the full report comes from `make bench`).",
        "",
        "## This run",
        "",
        f"- **When / how:** {report['generated']}, `{report['command']}`; {report['wall_s']:.0f} s "
        "wall time in all.",
        f"- **Code:** commit {facts['commit']}.",
        f"- **Machine:** {facts['nproc']} usable CPUs, {facts['cpu']}, {facts['memory_gib']} GiB RAM, "
        f"{facts['python']}, {facts['platform']}. Load average before the run "
        f"{report['loadavg_before']:.2f}, after {report['loadavg_after']:.2f}.",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    for t in report["targets"]:
        lines.append(f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else '**no**'} |")
    lines += [*extra_sections(report), ""]
    return "\n".join(lines)


def render(args: argparse.Namespace, report: dict[str, Any]) -> str:
    if not report["sizes"]:
        return render_sections_only(args, report)
    sizes: dict[int, dict[str, Any]] = {int(k): v for k, v in report["sizes"].items()}
    keys = sorted(sizes)
    facts = report["machine"]
    targets = report["targets"]
    small, large = sizes[keys[0]], sizes[keys[-1]]
    cols = " | ".join(_size_label(sizes[k]) for k in keys)
    sep = "|---" * (len(keys) + 1) + "|"
    lines = [
        "# Benchmarks",
        "",
        "Generated by `bench/run.py` (`make bench`) together with `bench/results/latest.json`, which "
        "holds every number below and the per-round samples; rerun it rather than editing the numbers. "
        "The workload and the naive baseline are `bench/workload.py` and `bench/naive.py`; reference "
        "numbers of peer evaluators are in `shared/bench/ANCHORS.md` (§2).",
        "",
        "## How to rerun",
        "",
        "```sh",
        f"make bench                               # full run: this file + bench/results/latest.json "
        f"(the run below took {report['wall_s'] / 60:.1f} min)",
        ".venv/bin/python bench/run.py --quick    # smoke run (1,500 and 6,000 statements), writes nothing",
        ".venv/bin/python bench/run.py --profile 20000   # cProfile of the uncached warm path, per size",
        ".venv/bin/python bench/run.py --sizes 1500,10000 --rounds 3 --out /tmp/b.md --json /tmp/b.json",
        ".venv/bin/python bench/run.py --grpc-only --out /tmp/g.md --json /tmp/g.json   # gRPC section only",
        ".venv/bin/python bench/run.py --sts-only --out /tmp/s.md --json /tmp/s.json     # STS section only",
        ".venv/bin/python bench/run.py --envoy-only --out /tmp/e.md --json /tmp/e.json # Envoy section only",
        ".venv/bin/python bench/sts_bench.py --profile 5000   # cProfile of AssumeRole and verification",
        "```",
        "",
        "## This run",
        "",
        f"- **When / how:** {report['generated']}, `{report['command']}`; {args.rounds} interleaved "
        f"round{'s' if args.rounds != 1 else ''} × {args.seconds:g} s per peer (the order rotates "
        f"each round), each size in its own fresh process; {report['wall_s']:.0f} s wall time in all.",
        f"- **Code:** commit {facts['commit']}.",
        f"- **Machine:** {facts['nproc']} usable CPUs, {facts['cpu']}, {facts['memory_gib']} GiB RAM, "
        f"{facts['python']}, {facts['platform']}. Load average before the run "
        f"{report['loadavg_before']:.2f}, after {report['loadavg_after']:.2f}.",
        "",
        "## Targets",
        "",
        "Benchmarks, not tests: reported against the issue's targets, not enforced. The size targets "
        "(growth, load + compile, RSS) are read at the largest size of the run"
        + ("." if keys[-1] >= 100_000 else f" ({_size_label(large)}, not 100,000: a partial run).")
        + (
            " The gRPC targets compare the real server with the constant-answer floor, and with "
            "itself with metrics on, in the same run (section below)."
            if report.get("grpc")
            else ""
        )
        + (
            " The STS targets are in-process figures of the STS section (below): AssumeRole per "
            "CPU-second, and the p50 of a token's first verification."
            if report.get("sts")
            else ""
        )
        + (
            " The Envoy target compares the latency ext_authz adds through a real Envoy when it calls "
            "the sidecar with what it adds when it calls a constant-answer Check server, in the same run "
            "(section below)."
            if report.get("envoy")
            else ""
        ),
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    for t in targets:
        lines.append(f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else '**no**'} |")
    lines += [
        "",
        "## Workloads",
        "",
        "Seeded synthetic workloads shaped like ANCHORS §2 (`workload.scaled(n)`): 3 managed "
        "policies × 5 statements per group, each user in 1–3 groups, so each user's own statements "
        "stay at 15–45; groups = statements / 15, users = 10 × groups. 80/20 Allow/Deny per statement, "
        "wildcard actions and resources, `StringEquals aws:PrincipalTag/team`, `IpAddress` / "
        "`NotIpAddress aws:SourceIp`. Rendered as one snapshot document (API.md): one account outside "
        "any organisation, the users with their `team` tag, the groups, the managed policies, and the "
        "KMS keys as resources carrying AWS's default key policy (it delegates to IAM).",
        "",
        f"| | {cols} |",
        sep,
    ]

    def row(label: str, fn: Callable[[dict[str, Any]], str]) -> None:
        lines.append(f"| {label} | " + " | ".join(fn(sizes[k]) for k in keys) + " |")

    row(
        "users / groups / managed policies",
        lambda r: f"{r['workload']['users']:,} / {r['workload']['groups']:,} / {r['workload']['policies']:,}",
    )
    row(
        "statements (per user min/median/max)",
        lambda r: (
            f"{r['workload']['statements']:,} ({'/'.join(map(str, r['workload']['statements_per_user']))})"
        ),
    )
    row(
        "requests (aimed at the caller's own statements; KMS key requests)",
        lambda r: (
            f"{r['workload']['requests']:,} ({r['workload']['aimed']:,}; "
            f"{r['workload']['kms_key_requests']:,})"
        ),
    )
    row("snapshot document", lambda r: f"{r['document_bytes'] / 1e6:,.1f} MB JSON")
    row(
        "statements counted by the compiled snapshot (incl. 40 key policies)",
        lambda r: f"{r['counts']['statements']:,}",
    )
    row("generating the workload (not measured further)", lambda r: f"{r['workload']['generate_s']:.1f} s")

    for k in keys:
        r = sizes[k]
        lines += ["", f"## Decision speed, {_size_label(r)}", "", *peer_table(r)]
    lines += [
        "",
        "Every engine row calls `CompiledSnapshot.authorize(entry, action, resource, context=…, now=…)` "
        "with the principal resolved beforehand and the context normalised once per request (as the "
        "server does before deciding); the call includes building the `Request`, the policy-set "
        f"lookup, and evaluation. Throughput: uninstrumented loops, ≈{args.seconds:g} s per peer per "
        f"round, cycling through the {small['workload']['requests']:,} requests (cache rows: through "
        f"a Zipf stream of {args.stream:,} draws over them). Latency: {args.sample:,} single calls per "
        f"round timed with `perf_counter_ns` (the timer costs ≈{small['timer_overhead_ns']} ns and is "
        "included), median of the per-round p50/p99. Cells: median (min–max) over rounds. The ratios "
        "divide CPU-time rates of the same round, so they hold up when other processes share the "
        "cores; wall-clock rates do not. Cache rows: the cache is filled to steady state before the "
        "first round and kept across rounds; hits are counted over the measured calls. After setup "
        "the child runs one full `gc.collect()` (its pause is in the memory table) and then "
        "`gc.freeze()`, so the collections before and during the rounds do not walk the snapshot's "
        "objects again.",
        "",
        "## Load, compile, memory",
        "",
        f"| step | {cols} |",
        sep,
    ]
    row(
        "`load_snapshot(bytes)`, wall (CPU)",
        lambda r: f"{r['load']['wall_s']:.2f} s ({r['load']['cpu_s']:.2f} s)",
    )
    row(
        "`compile_snapshot(snapshot)`, wall (CPU)",
        lambda r: f"{r['compile']['wall_s']:.2f} s ({r['compile']['cpu_s']:.2f} s)",
    )
    row("**load + compile**", lambda r: f"**{r['load']['wall_s'] + r['compile']['wall_s']:.2f} s**")
    row(
        "`compile_snapshot(snapshot, indexed=False)` (plain path)",
        lambda r: f"{r['compile_plain']['wall_s']:.2f} s",
    )
    for i, stage in enumerate(small["rss"]["stages"]):
        label = stage["stage"]
        row(
            f"RSS after: {label}",
            lambda r, i=i: (
                f"{r['rss']['stages'][i]['rss_mb']:,.0f} MB" if i < len(r["rss"]["stages"]) else "–"
            ),
        )
    row(
        "**peak RSS of a sidecar-like process** (imports + document + load + compile + one pass)",
        lambda r: f"**{r['rss']['sidecar_peak_mb']:,.0f} MB**",
    )
    row(
        "objects tracked by the GC after setup; one full `gc.collect()` then",
        lambda r: f"{r['gc']['tracked_objects'] / 1e6:,.2f} M; {r['gc']['full_collection_s'] * 1e3:,.0f} ms",
    )
    row(
        "peak RSS of the whole child (plus plain path, naive inputs, caches)",
        lambda r: f"{r['rss']['final_peak_mb']:,.0f} MB",
    )
    if small.get("tracemalloc"):
        row(
            "tracemalloc: a second indexed compile keeps",
            lambda r: f"{r['tracemalloc']['compiled_mb']:,.1f} MB" if r.get("tracemalloc") else "–",
        )
        row(
            "… and after one pass over the requests (memos)",
            lambda r: f"{r['tracemalloc']['after_first_pass_mb']:,.1f} MB" if r.get("tracemalloc") else "–",
        )
    lines += [
        "",
        "MB = 10^6 bytes. RSS from `/proc/self/statm` right after each step (memory the allocator "
        "freed but kept, e.g. the parsed JSON tree of the document, still counts, as it would in a "
        "sidecar); peaks from `getrusage(RUSAGE_SELF).ru_maxrss`. The document bytes stay in memory "
        "until after the first pass (a sidecar keeps its active document for persistence anyway). "
        "tracemalloc (only up to "
        f"{args.tracemalloc_max:,} statements: it slows compiling severalfold) counts the bytes a "
        "second compile of the same Snapshot allocates and keeps. The full `gc.collect()` row is the "
        "pause an automatic full collection costs with this much in memory (unless the process "
        "`gc.freeze()`s after loading).",
        "",
        "## Outcomes and agreement",
        "",
        "| evaluator | "
        + " | ".join(f"{_size_label(sizes[k])}: Allow / ExplicitDeny / ImplicitDeny" for k in keys)
        + " |",
        sep,
    ]

    def counts(r: dict[str, Any], who: str) -> str:
        c = r["agreement"]["outcomes"][who]
        return " / ".join(f"{c.get(o, 0):,}" for o in OUTCOMES)

    for who, label in (
        ("engine", "engine (indexed)"),
        ("plain", "plain path"),
        ("naive", "naive"),
        ("engine_aimed", "engine, aimed requests"),
        ("engine_random", "engine, random requests"),
    ):
        row(label, lambda r, who=who: counts(r, who))
    lines.append("")
    for k in keys:
        a = sizes[k]["agreement"]
        d = a["disagreements"]
        lines.append(
            f"- **{_size_label(sizes[k])}:** {a['compared']:,} requests compared 3-way. Engine vs plain: "
            f"**{d['engine_vs_plain']:,}** disagree; engine vs naive: **{d['engine_vs_naive']:,}**; plain vs "
            f"naive: **{d['plain_vs_naive']:,}**. Fail-closed errors: engine {a['errors']['engine']}, "
            f"plain {a['errors']['plain']}. Cached engine vs uncached over {a['cached_compared']:,} Zipf "
            f"draws (fresh cache, {a['cached_hit_rate']:.1%} hits): **{a['cached_vs_uncached']:,}** disagree."
        )
        for pair, examples in a["examples"].items():
            lines += [f"  - {pair}: {e}" for e in examples]
    lines += extra_sections(report)
    eng_s = small["peers"]["engine"]["median"]
    naive_s = small["peers"]["naive"]["median"]
    shares = [s["cpu_share"] for r in sizes.values() for p in r["peers"].values() for s in p["samples"]]
    contended = min(shares) < 0.9
    cached_med = small["peers"]["cached"]["median"]
    lines += [
        "",
        "## How to read",
        "",
        "- **Absolute numbers move up to 2× between runs** on this machine type (shared 2-core VMs); "
        "compare the ratios measured in one run, not absolute figures across runs. The growth target "
        "compares two child processes of one run.",
        f"- **CPU contention:** CPU share of the measuring process (CPU time / wall time) median "
        f"{_med(shares):.0%}, min {min(shares):.0%}. "
        + (
            "**Other processes competed for the cores during this run**: absolute rates are depressed "
            "and tail latencies inflated; the per-round ratios are the usable figures."
            if contended
            else "Uncontended (≥ 90 % everywhere)."
        ),
        "- **Plain path** = the engine's own evaluation with no action index and no memo: every call scans "
        "all of the caller's statements for the action. It is the reference of the differential tests, "
        "so the ×-plain ratio isolates what the index buys on identical semantics.",
        f"- **ANCHORS §2** (its own seed and catalog): naive {ANCHOR_NAIVE_RATE:,}/s, "
        f"p50 {ANCHOR_NAIVE_P50} µs; toy indexed form {ANCHOR_TOY_RATE:,}/s, p50 {ANCHOR_TOY_P50} µs, "
        f"p99 {ANCHOR_TOY_P99} µs; LRU(4096) under Zipf(1.1): {ANCHOR_LRU_HITS} % hits. This run at "
        f"{small['workload']['statements']:,} statements: naive {naive_s['cpu_rate']:,.0f}/s "
        f"(p50 {naive_s['p50_us']:.1f} µs), engine uncached {eng_s['cpu_rate']:,.0f}/s "
        f"(p50 {eng_s['p50_us']:.2f} µs), engine + cache {cached_med['cpu_rate']:,.0f}/s "
        f"at {cached_med['hit_rate']:.1%} hits.",
        "- **Cache rows** depend entirely on traffic locality: with the default size every one of the "
        f"{small['workload']['requests']:,} distinct requests fits, so that row is the pure hit path; the "
        f"{args.cache_size:,} row is the ANCHORS setting and mixes hits with misses (a miss costs the "
        "uncached path plus the key and the insert).",
        "- **First pass** is the first request of each (principal, action) after a load: it fills the "
        "per-group action-index memos, so it is what a fresh activation pays.",
        f"- **Large size** ({_size_label(large)}): the requests are spread over "
        f"{large['workload']['users']:,} users, so most principals are seen once per pass; the warm "
        "rows still hit a filled memo.",
        "- The gRPC floor (ANCHORS §1, ≈0.6 ms per unary call) dwarfs all of these unless requests "
        "are batched"
        + ("; this run's own floor and real server are in the gRPC section." if report.get("grpc") else "."),
        "",
    ]
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", help="write the Markdown report here (it is always printed too)")
    parser.add_argument(
        "--json", help=f"write all numbers here (default on full runs: {DEFAULT_JSON.relative_to(ROOT)})"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: sizes 1,500 and 6,000, 2 short rounds"
    )
    parser.add_argument(
        "--sizes", help="comma-separated statement totals (default 1500,100000; quick 1500,6000)"
    )
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 3, quick 2)")
    parser.add_argument("--seconds", type=float, help="seconds per peer per round (default 1, quick 0.2)")
    parser.add_argument(
        "--sample", type=int, help="single calls timed per peer per round (default 5000, quick 2000)"
    )
    parser.add_argument("--seed", type=int, default=workload.DEFAULT_SEED)
    parser.add_argument(
        "--cache-size", type=int, default=4096, help="decision-cache size of the Zipf row (4096)"
    )
    parser.add_argument("--zipf", type=float, default=1.1, help="Zipf exponent of the cached traffic (1.1)")
    parser.add_argument(
        "--stream", type=int, help="Zipf draws in the cached traffic (default 100000, quick 50000)"
    )
    parser.add_argument(
        "--tracemalloc-max",
        type=int,
        default=20_000,
        help="measure a second compile under tracemalloc up to this many statements (20000; 0: never)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        metavar="N",
        help="print cProfile tables of N warm uncached decisions per size, exit",
    )
    parser.add_argument(
        "--profile-build", action="store_true", help="also print a cProfile table of load + compile per size"
    )
    parser.add_argument(
        "--grpc",
        action=argparse.BooleanOptionalAction,
        help="the gRPC section (bench/grpc_bench.py): real server vs constant-answer floor and vs "
        "itself with metrics / a decision log, 1,500 statements, ~2 min (default: on, off with --quick)",
    )
    parser.add_argument(
        "--grpc-only", action="store_true", help="only the gRPC section (no per-size engine runs)"
    )
    parser.add_argument(
        "--sts",
        action=argparse.BooleanOptionalAction,
        help="the STS section (bench/sts_bench.py): AssumeRole, token verification, credential "
        "callers in-process and AssumeRole over gRPC, ~30 s (default: on, off with --quick)",
    )
    parser.add_argument(
        "--sts-only",
        action="store_true",
        help="only the STS section (no per-size engine runs; with another --*-only: those sections)",
    )
    parser.add_argument(
        "--envoy",
        action=argparse.BooleanOptionalAction,
        help="the Envoy ext_authz section (bench/envoy_bench.py): HTTP through a real Envoy without "
        "ext_authz, with ext_authz → the sidecar and → a constant-answer Check server, ~50 s "
        "(default: on, off with --quick)",
    )
    parser.add_argument(
        "--envoy-only",
        action="store_true",
        help="only the Envoy ext_authz section (no per-size engine runs; with another --*-only: those "
        "sections)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    only = [name for name in SECTIONS if getattr(args, f"{name}_only")]
    for name in SECTIONS:  # an --X-only flag turns X on and, unless asked for, the other sections off
        if getattr(args, f"{name}_only"):
            if getattr(args, name) is False:
                parser.error(f"--{name}-only and --no-{name} contradict each other")
            setattr(args, name, True)
        elif getattr(args, name) is None:
            setattr(args, name, not args.quick and not only)
    args.sections_only = bool(only)
    args.rounds = args.rounds or (2 if args.quick else 3)
    args.seconds = args.seconds or (0.2 if args.quick else 1.0)
    args.sample = args.sample or (2000 if args.quick else 5000)
    args.stream = args.stream or (50_000 if args.quick else 100_000)
    default_sizes = "1500,6000" if args.quick else "1500,100000"
    args.size_list = sorted({int(s) for s in (args.sizes or default_sizes).split(",") if s.strip()})
    if (
        args.json is None
        and not args.quick
        and not args.profile
        and not args.child
        and not args.sections_only
    ):
        args.json = str(DEFAULT_JSON)
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.child:
        Child(args).run()
        return 0

    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:5.1f} s] {message}", file=sys.stderr, flush=True)

    loadavg = os.getloadavg()
    results = {}
    for size in [] if args.sections_only else args.size_list:
        results[size] = measure_size(args, size, log)
        if not args.profile:
            eng = results[size]["peers"]["engine"]["median"]
            log(f"{size:,} statements done: engine p50 {eng['p50_us']:.2f} µs, {eng['cpu_rate']:,.0f}/s")
    if args.profile:
        return 0
    grpc_result = None
    if args.grpc:
        import grpc_bench  # not at the top: the per-size children must not import grpc (their RSS)

        grpc_result = grpc_bench.measure(args.seed, args.rounds, args.quick, log)
        g_real = grpc_result["ratios"]
        log(
            "gRPC done: real ÷ floor unary p50 "
            + ", ".join(f"{t} {_med(g_real[t]['unary_p50_us']):.2f}" for t in g_real)
            + "; batch "
            + ", ".join(f"{t} {_med(g_real[t]['batch_rate']):.0%}" for t in g_real)
        )
        g_obs = grpc_result["observability"]["ratios"]
        log(
            "gRPC observability: unary p50 ÷ plain, metrics "
            + ", ".join(f"{t} {_med(g_obs[t]['metrics']['unary_p50_us']):.3f}" for t in g_obs)
            + "; metrics + decision log "
            + ", ".join(f"{t} {_med(g_obs[t]['metrics_log']['unary_p50_us']):.3f}" for t in g_obs)
        )
    sts_result = None
    if args.sts:
        import sts_bench  # not at the top, like grpc_bench

        sts_result = sts_bench.measure(args.rounds, args.quick, log)
        sp = sts_result["peers"]
        log(
            f"STS done: AssumeRole {sp['assume']['median']['cpu_rate']:,.0f}/s in-process; verify p50 "
            f"uncached {sp['verify_uncached']['median']['p50_us']:.1f} µs, cached "
            f"{sp['verify_cached']['median']['p50_us']:.2f} µs"
        )
    envoy_result = None
    if args.envoy:
        import envoy_bench  # not at the top, like grpc_bench

        envoy_result = envoy_bench.measure(args.rounds, args.quick, log)
        ea = envoy_result["added"]
        log(
            f"Envoy done: added p50 real {_med(ea['real']['p50_us']):+,.0f} µs, floor "
            f"{_med(ea['floor']['p50_us']):+,.0f} µs; real ÷ floor {_med(ea['ratio']['p50_us']):.3f}"
        )
    report = {
        "generated": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "command": "python bench/run.py " + " ".join(argv),
        "machine": machine_facts(),
        "loadavg_before": loadavg[0],
        "loadavg_after": os.getloadavg()[0],
        "settings": {
            k: getattr(args, k)
            for k in ("rounds", "seconds", "sample", "seed", "cache_size", "zipf", "stream")
        }
        | {
            "sizes": [] if args.sections_only else args.size_list,
            "now": NOW,
            "grpc": args.grpc,
            "sts": args.sts,
            "envoy": args.envoy,
        },
        "targets": (evaluate_targets(results) if results else [])
        + (grpc_result["targets"] if grpc_result else [])
        + (sts_result["targets"] if sts_result else [])
        + (envoy_result["targets"] if envoy_result else []),
        "sizes": {str(k): v for k, v in results.items()},
    }
    if grpc_result is not None:
        report["grpc"] = grpc_result
    if sts_result is not None:
        report["sts"] = sts_result
    if envoy_result is not None:
        report["envoy"] = envoy_result
    report["wall_s"] = time.perf_counter() - started
    text = render(args, report)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.json}", file=sys.stderr)
    if grpc_result is not None:
        a = grpc_result["agreement"]
        if a["disagree_unary"] or a["disagree_batch"]:
            print(
                f"note: gRPC: real server vs in-process disagreements: unary {a['disagree_unary']}, "
                f"batch {a['disagree_batch']} of {a['compared']}",
                file=sys.stderr,
            )
    for k, r in results.items():
        d = r["agreement"]["disagreements"]
        if any(d.values()) or r["agreement"]["cached_vs_uncached"]:
            print(
                f"note: {k:,} statements: disagreements {d}, cached {r['agreement']['cached_vs_uncached']}",
                file=sys.stderr,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
