"""``iam-sidecar bench``: decision speed on a compiled snapshot, for operators sizing a
sidecar (the project's own benchmark suite lives in bench/)."""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Mapping, Sequence
from typing import Any

from .engine.cache import DecisionCache
from .engine.compile import CompiledSnapshot, PrincipalEntry
from .engine.request import normalize_context

Prepared = tuple[PrincipalEntry, str, str, "str | None", Mapping[str, object]]


def _prepare(compiled: CompiledSnapshot, requests: Sequence[Mapping[str, Any]]) -> list[Prepared]:
    out: list[Prepared] = []
    for i, req in enumerate(requests):
        try:
            entry = compiled.resolve_principal(str(req["principal"]))
            action = str(req["action"])
        except (KeyError, ValueError) as exc:
            raise ValueError(f"request {i + 1}: {exc}") from exc
        context = normalize_context(req.get("context") or {})
        account = req.get("resource_account")
        out.append((entry, action, str(req.get("resource", "*")), str(account) if account else None, context))
    return out


def _rate(
    compiled: CompiledSnapshot, work: list[Prepared], seconds: float, cache: DecisionCache | None
) -> float:
    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    now = time.time()
    while True:
        for entry, action, res, account, ctx in work:
            compiled.authorize(
                entry, action, res, resource_account=account, context=ctx, now=now, cache=cache
            )
        done += len(work)
        elapsed = time.perf_counter() - started
        if elapsed >= seconds or time.perf_counter() >= deadline:
            return done / elapsed


def run_benchmark(
    compiled: CompiledSnapshot,
    requests: Sequence[Mapping[str, Any]],
    *,
    seconds: float = 3.0,
    load_s: float = 0.0,
) -> dict[str, Any]:
    """Warm up, then measure uncached throughput and per-call latency, and throughput with the
    decision cache (every request seen before: the hit path)."""
    work = _prepare(compiled, requests)
    if not work:
        raise ValueError("no requests to run")
    now = time.time()
    for entry, action, res, account, ctx in work:  # warm the action indexes
        compiled.authorize(entry, action, res, resource_account=account, context=ctx, now=now)
    samples: list[int] = []
    clock = time.perf_counter_ns
    for entry, action, res, account, ctx in work * max(1, 2000 // len(work)):
        t0 = clock()
        compiled.authorize(entry, action, res, resource_account=account, context=ctx, now=now)
        samples.append(clock() - t0)
    samples.sort()
    uncached = _rate(compiled, work, seconds, None)
    cache = DecisionCache()
    _rate(compiled, work, min(seconds, 0.2), cache)
    cached = _rate(compiled, work, seconds, cache)
    return {
        "snapshot_version": compiled.version,
        "n_statements": compiled.counts["statements"],
        "n_requests": len(work),
        "load_s": round(load_s, 4),
        "compile_s": round(compiled.compile_seconds, 4),
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "decisions_per_s": round(uncached),
        "p50_us": round(statistics.median(samples) / 1000, 2),
        "p99_us": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))] / 1000, 2),
        "cached_decisions_per_s": round(cached),
    }
