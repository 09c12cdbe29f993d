"""The decision cache in front of evaluation.

A key holds everything a decision depends on: the activation (never the version alone: a
rollback re-activates an old version), the resolved principal identity (for a role session
it includes what makes two sessions with one ARN differ), the action, the resource and its
owner, and the values of exactly the context keys the candidate statements can read. So a
cached answer can never be served for another context, session or snapshot.

cachetools caches are not thread-safe; rather than lock on the request path, each thread
gets its own LRU (the gRPC server decides on one event-loop thread).
"""

from __future__ import annotations

import threading
from collections.abc import Hashable

from cachetools import LRUCache

from .decision import Decision

CacheKey = tuple[Hashable, ...]


class DecisionCache:
    __slots__ = ("_local", "hits", "maxsize", "misses")

    def __init__(self, maxsize: int = 65536) -> None:
        self.maxsize = maxsize
        self._local = threading.local()
        self.hits = 0  # approximate under threads (no lock): for metrics, not for decisions
        self.misses = 0

    def _lru(self) -> LRUCache[CacheKey, Decision]:
        lru: LRUCache[CacheKey, Decision] | None = getattr(self._local, "lru", None)
        if lru is None:
            lru = self._local.lru = LRUCache(maxsize=self.maxsize)
        return lru

    def get(self, key: CacheKey) -> Decision | None:
        hit = self._lru().get(key)
        if hit is None:
            self.misses += 1
        else:
            self.hits += 1
        return hit

    def put(self, key: CacheKey, decision: Decision) -> None:
        if decision.error is None:  # an evaluation error is never remembered
            self._lru()[key] = decision

    def clear(self) -> None:
        self._lru().clear()

    def __len__(self) -> int:
        return len(self._lru())
