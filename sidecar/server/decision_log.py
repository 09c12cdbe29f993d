"""Decision logs that never slow a decision.

The request path appends one tuple of references (no formatting, no I/O) to a bounded queue;
when the queue is full the entry is dropped and counted (``dropped``), and the decision goes
on. A daemon thread formats JSON lines and writes them to stdout or a file. Sampling keeps
every deny and a fraction of allows; listed context keys are masked before anything is
written. One line:

    {"time": "2026-11-27T21:00:00.123456Z", "request_id": "…", "rpc": "Authorize",
     "snapshot_version": 7, "principal": "arn:aws:iam::…:user/alice", "action": "s3:GetObject",
     "resource": "arn:aws:s3:::bucket/key", "decision": "Allow", "reason": "…",
     "matched": ["identity arn:aws:iam::…:policy/P #0 (Sid ReadOnly)"],
     "context": {"aws:sourceip": "10.0.0.1"}, "latency_us": 4.2}
"""

from __future__ import annotations

import contextlib
import json
import queue
import random
import sys
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from ..engine.decision import Decision, DecisionKind

MASK = "***"
_STOP = object()
_LINGER_S = 0.02  # the writer gathers entries for this long after waking
_MAX_BATCH = 4096


class DecisionLog:
    """``record`` is the request path; ``start``/``stop`` run the writer thread.
    ``target`` is ``"stdout"`` or a file path (appended to)."""

    def __init__(
        self,
        target: str,
        *,
        sample: float = 1.0,
        mask: frozenset[str] = frozenset(),
        capacity: int = 10_000,
    ) -> None:
        if not 0.0 <= sample <= 1.0:
            raise ValueError("--decision-log-sample must be between 0 and 1")
        self.target = target
        self.sample = sample  # the fraction of allows kept; denies are always kept
        self.mask = frozenset(k.lower() for k in mask)
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=capacity)
        self.dropped = 0  # queue full (written by the request thread only)
        self.write_errors = 0  # entries the writer could not format or write (writer thread only)
        self.written = 0
        self._thread: threading.Thread | None = None
        self._out: IO[str] | None = None
        self._random = random.Random()

    # -- the request path ----------------------------------------------------------------------

    def record(
        self,
        rpc: str,
        request_id: str,
        version: int,
        principal: str,
        action: str,
        resource: str,
        context: Mapping[str, object],
        decision: Decision,
        seconds: float,
    ) -> None:
        if decision.kind is DecisionKind.ALLOW and self.sample < 1.0 and self._random.random() >= self.sample:
            return
        entry = (time.time(), rpc, request_id, version, principal, action, resource, context)
        try:
            self.queue.put_nowait((*entry, decision, seconds))
        except queue.Full:
            self.dropped += 1

    # -- the writer --------------------------------------------------------------------------------

    def start(self) -> None:
        if self.target == "stdout":
            self._out = sys.stdout
        else:
            path = Path(self.target)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._out = path.open("a", encoding="utf-8")
        self._thread = threading.Thread(target=self._run, name="decision-log", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop (called at drain)."""
        if self._thread is None:
            return
        with contextlib.suppress(queue.Full):
            self.queue.put(_STOP, timeout=timeout)
        self._thread.join(timeout)
        if self._out is not None and self._out is not sys.stdout:
            self._out.close()
        self._thread = None

    def _run(self) -> None:
        """Wake for the first entry, linger a moment so more arrive, then format and write
        them all with one write: a wake-up (and a GIL hand-over) per batch, not per entry."""
        out = self._out
        assert out is not None
        get, get_nowait = self.queue.get, self.queue.get_nowait
        while True:
            batch = [get()]
            time.sleep(_LINGER_S)
            with contextlib.suppress(queue.Empty):
                while len(batch) < _MAX_BATCH:
                    batch.append(get_nowait())
            lines = []
            stop = False
            for item in batch:
                if item is _STOP:
                    stop = True
                    continue
                try:
                    lines.append(self.format(item))
                except Exception:  # a broken entry must not kill the writer
                    self.write_errors += 1
            try:
                if lines:
                    out.write("\n".join(lines) + "\n")
                    out.flush()
                    self.written += len(lines)
            except Exception:  # nor a broken stream (a full disk, a closed stdout)
                self.write_errors += len(lines)
            if stop:
                return

    def format(self, item: tuple[Any, ...]) -> str:
        when, rpc, request_id, version, principal, action, resource, context, decision, seconds = item
        masked = {k: (MASK if k.lower() in self.mask else _jsonable(v)) for k, v in context.items()}
        line = {
            "time": _stamp(when),
            "request_id": request_id or None,
            "rpc": rpc,
            "snapshot_version": version,
            "principal": principal,
            "action": action,
            "resource": resource,
            "decision": decision.kind.value,
            "reason": decision.reason,
            "matched": [_matched(m) for m in decision.matched],
            "context": masked,
            "latency_us": round(seconds * 1e6, 1),
        }
        return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


_second: list[Any] = [None, ""]  # (whole second, its "YYYY-MM-DDTHH:MM:SS" text): the writer's own


def _stamp(when: float) -> str:
    second = int(when)
    if _second[0] != second:
        _second[0], _second[1] = second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{_second[1]}.{int((when - second) * 1e6):06d}Z"


def _matched(m: Any) -> str:
    sid = f" (Sid {m.sid})" if m.sid else ""
    return f"{m.policy_kind.value} {m.policy} #{m.index}{sid}"


def _jsonable(value: object) -> object:
    if isinstance(value, tuple):
        return list(value)
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)
