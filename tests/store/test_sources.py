"""FileSource: a watched file and a ConfigMap-style directory, on real files."""

from __future__ import annotations

import os
import time
from pathlib import Path

from sidecar.store import FileSource, SnapshotStore
from sidecar.store import errors as E

from .snapshots import action_of, allows, invalid_bytes, snapshot_bytes


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".new")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class ConfigMapDir:
    """What the kubelet does: ``snapshot.json -> ..data/snapshot.json``, ``..data -> ..TS``,
    and an update re-points ``..data`` with one rename."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.generation = 0
        root.mkdir()

    def publish(self, data: bytes, *, mtime: float | None = None) -> None:
        self.generation += 1
        ts = self.root / f"..2025_01_01_00_00_0{self.generation}.{self.generation:04d}"
        ts.mkdir()
        (ts / "snapshot.json").write_bytes(data)
        if mtime is not None:
            os.utime(ts / "snapshot.json", (mtime, mtime))
        tmp = self.root / "..data_tmp"
        os.symlink(ts.name, tmp)
        os.replace(tmp, self.root / "..data")
        link = self.root / "snapshot.json"
        if not link.is_symlink():
            os.symlink("..data/snapshot.json", link)


def test_file_change_is_picked_up(tmp_path: Path) -> None:
    store = SnapshotStore(None)
    snap = tmp_path / "snapshot.json"
    write_atomic(snap, snapshot_bytes(1))
    source = FileSource(snap, store)
    first = source.check_once()
    assert first is not None and first.accepted
    act = store.current()
    assert act is not None and act.version == 1 and act.source == f"file:{snap}"
    assert source.check_once() is None  # nothing changed

    write_atomic(snap, snapshot_bytes(2))
    second = source.check_once()
    assert second is not None and second.accepted
    act = store.current()
    assert act is not None and act.version == 2 and allows(act.compiled, action_of(2))


def test_configmap_data_symlink_swap_is_picked_up(tmp_path: Path) -> None:
    store = SnapshotStore(None)
    cm = ConfigMapDir(tmp_path / "cm")
    cm.publish(snapshot_bytes(1), mtime=1_700_000_000)
    source = FileSource(cm.root, store)
    assert source.check_once() is not None
    assert store.status().version == 1

    # same size and same mtime: only the re-pointed ..data tells the change
    cm.publish(snapshot_bytes(2), mtime=1_700_000_000)
    result = source.check_once()
    assert result is not None and result.accepted
    assert store.status().version == 2
    assert store.status().source == f"file:{cm.root}"


def test_bad_content_keeps_the_old_snapshot_and_records_the_error(tmp_path: Path) -> None:
    store = SnapshotStore(None)
    cm = ConfigMapDir(tmp_path / "cm")
    cm.publish(snapshot_bytes(1))
    source = FileSource(cm.root, store)
    source.check_once()
    serving = store.current()

    cm.publish(invalid_bytes(2))
    result = source.check_once()
    assert result is not None and not result.accepted and result.problems
    assert store.current() is serving
    err = store.last_error
    assert err is not None and err.code == E.VALIDATION_FAILED and err.source == f"file:{cm.root}"
    assert source.check_once() is None  # the same bad file is not retried every poll

    cm.publish(snapshot_bytes(2))  # fixed
    fixed = source.check_once()
    assert fixed is not None and fixed.accepted and store.status().version == 2


def test_identical_content_is_not_reactivated(tmp_path: Path) -> None:
    store = SnapshotStore(None)
    snap = tmp_path / "snap.json"
    write_atomic(snap, snapshot_bytes(1))
    source = FileSource(snap, store)
    source.check_once()
    act = store.current()
    write_atomic(snap, snapshot_bytes(1))  # new inode, same bytes
    os.utime(snap, (time.time() + 5, time.time() + 5))
    assert source.check_once() is None
    assert store.current() is act


def test_already_active_content_is_a_noop(tmp_path: Path) -> None:
    store = SnapshotStore(None)
    snap = tmp_path / "snap.json"
    write_atomic(snap, snapshot_bytes(1))
    store.start(snap)
    act = store.current()
    result = FileSource(snap, store).check_once()
    assert result is not None and result.noop
    assert store.current() is act


def test_missing_file_is_reported_once(tmp_path: Path) -> None:
    store = SnapshotStore(None)
    source = FileSource(tmp_path / "absent", store)
    assert source.check_once() is None
    first = store.last_error
    assert first is not None and first.code == E.SOURCE_ERROR
    assert source.check_once() is None
    assert store.last_error is first
    (tmp_path / "absent").write_bytes(snapshot_bytes(1))
    assert source.check_once() is not None and store.status().version == 1


def test_poll_is_debounced(tmp_path: Path) -> None:
    now = [0.0]
    store = SnapshotStore(None)
    snap = tmp_path / "snap.json"
    write_atomic(snap, snapshot_bytes(1))
    source = FileSource(snap, store, debounce=0.5, clock=lambda: now[0])
    assert source.poll() is None  # seen, waiting for it to settle
    now[0] += 0.3
    assert source.poll() is None
    assert store.current() is None
    write_atomic(snap, snapshot_bytes(2))  # changed again: the wait restarts
    now[0] += 0.3
    assert source.poll() is None
    now[0] += 0.6
    result = source.poll()
    assert result is not None and result.accepted and store.status().version == 2


def test_watcher_thread_picks_up_changes_and_stops_promptly(tmp_path: Path) -> None:
    store = SnapshotStore(None)
    cm = ConfigMapDir(tmp_path / "cm")
    cm.publish(snapshot_bytes(1))
    source = FileSource(cm.root, store, interval=0.02, debounce=0.05)
    with source:
        assert source.running
        assert store.wait_for_version(1, timeout=5) is not None
        cm.publish(snapshot_bytes(2))
        act = store.wait_for_version(2, timeout=5)
        assert act is not None and act.version == 2
    assert not source.running

    slow = FileSource(cm.root, store, interval=60)
    slow.start()
    started = time.monotonic()
    slow.stop()
    assert time.monotonic() - started < 2  # it sleeps on an Event, not time.sleep
    assert not slow.running
