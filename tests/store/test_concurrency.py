"""Swapping snapshots under load, and waiting for a version (threads and asyncio)."""

from __future__ import annotations

import asyncio
import threading
import time

from sidecar.store import SnapshotStore

from .snapshots import action_of, allows, snapshot_bytes

SNAPSHOTS = 100
READERS = 4


def test_swap_under_load_every_decision_matches_its_version() -> None:
    store = SnapshotStore(None)
    payloads = [snapshot_bytes(v) for v in range(1, SNAPSHOTS + 1)]
    assert store.activate(payloads[0], source="push").accepted
    stop = threading.Event()
    errors: list[str] = []
    decisions = [0] * READERS
    versions_seen: list[set[int]] = [set() for _ in range(READERS)]

    def reader(i: int) -> None:
        try:
            while not stop.is_set():
                act = store.current()  # what the request path does: one read, then decide
                assert act is not None
                v = act.version
                if act.compiled.version != v:
                    errors.append(f"activation {act.id}: compiled version {act.compiled.version} != {v}")
                if not allows(act.compiled, action_of(v)):
                    errors.append(f"version {v} denied its own action")
                if allows(act.compiled, action_of(v - 1)) or allows(act.compiled, action_of(v + 1)):
                    errors.append(f"version {v} allowed another version's action")
                decisions[i] += 3
                versions_seen[i].add(v)
        except Exception as exc:  # any error in a reader fails the test
            errors.append(repr(exc))

    threads = [threading.Thread(target=reader, args=(i,), daemon=True) for i in range(READERS)]
    for t in threads:
        t.start()
    try:
        ids = []
        for data in payloads[1:]:
            result = store.activate(data, source="push")
            assert result.accepted and result.activation is not None
            ids.append(result.activation.id)
            time.sleep(0.001)  # let the readers see most versions
    finally:
        stop.set()
        for t in threads:
            t.join(5)
    assert errors == []
    assert all(n > 0 for n in decisions)
    assert ids == sorted(set(ids))
    current = store.current()
    assert current is not None and current.version == SNAPSHOTS
    assert len(set().union(*versions_seen)) > 1  # the readers really saw swaps


def test_wait_for_version_returns_on_activation_from_another_thread() -> None:
    store = SnapshotStore(None)
    store.activate(snapshot_bytes(1), source="push")
    assert store.wait_for_version(1, timeout=0) is store.current()  # already there

    timer = threading.Timer(0.05, lambda: store.activate(snapshot_bytes(2), source="push"))
    timer.start()
    started = time.monotonic()
    act = store.wait_for_version(2, timeout=5)
    timer.join()
    assert act is not None and act.version == 2
    assert time.monotonic() - started < 4  # woken by the activation, not the timeout


def test_wait_for_version_times_out() -> None:
    store = SnapshotStore(None)
    assert store.wait_for_version(1, timeout=0.05) is None
    store.activate(snapshot_bytes(1), source="push")
    assert store.wait_for_version(2, timeout=0.05) is None


def test_wait_for_version_is_not_woken_by_a_lower_version() -> None:
    store = SnapshotStore(None)
    store.activate(snapshot_bytes(1), source="push")

    def push() -> None:
        store.activate(snapshot_bytes(2), source="push")
        time.sleep(0.05)
        store.activate(snapshot_bytes(3), source="push")

    timer = threading.Timer(0.02, push)
    timer.start()
    act = store.wait_for_version(3, timeout=5)
    timer.join()
    assert act is not None and act.version == 3


def test_wait_for_version_async() -> None:
    store = SnapshotStore(None)

    async def scenario() -> None:
        assert await store.wait_for_version_async(1, timeout=0.05) is None
        assert await store.wait_for_version_async(1, timeout=0) is None
        timer = threading.Timer(0.05, lambda: store.activate(snapshot_bytes(1), source="push"))
        timer.start()
        # two waiters on one loop, one for a version that never comes
        got, never = await asyncio.gather(
            store.wait_for_version_async(1, timeout=5),
            store.wait_for_version_async(9, timeout=0.3),
        )
        timer.join()
        assert got is not None and got.version == 1
        assert never is None
        assert await store.wait_for_version_async(1, timeout=None) is store.current()
        # the loop is still responsive while waiting (no blocking call inside)
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(tick())
        assert await store.wait_for_version_async(2, timeout=0.1) is None
        ticker.cancel()
        assert ticks > 3

    asyncio.run(scenario())
    assert store._async_waiters == []  # every waiter unregistered
