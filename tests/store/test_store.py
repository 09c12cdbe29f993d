"""SnapshotStore: the version rules of API.md, validation, rollback, persistence and start-up.
Real snapshot documents, real load and compile."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from sidecar.store import (
    ChecksumMismatch,
    InvalidSnapshot,
    NoPreviousSnapshot,
    SnapshotStore,
    StateDir,
    VersionConflict,
)
from sidecar.store import errors as E
from sidecar.store.persist import ACTIVE_FILE, PREVIOUS_FILE

from .snapshots import action_of, allows, invalid_bytes, snapshot_bytes


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> SnapshotStore:
    return SnapshotStore(StateDir(tmp_path / "state"), clock=Clock())


# -- the version rules -----------------------------------------------------------------------


def test_first_activation(store: SnapshotStore) -> None:
    assert store.current() is None
    assert not store.status().serving
    data = snapshot_bytes(1)
    result = store.activate(data, source="push", expected_version=1, expected_sha256=sha(data).upper())
    assert result.accepted and not result.noop and result.code == E.OK
    act = store.current()
    assert act is result.activation and act is not None
    assert (act.version, act.sha256, act.source) == (1, sha(data), "push")
    assert act.compiled.version == 1
    assert act.loaded_at == 1001.0 and act.compile_seconds >= 0
    assert allows(act.compiled, action_of(1)) and not allows(act.compiled, action_of(2))
    assert result.raise_if_refused() is act


def test_identical_repush_is_a_noop(store: SnapshotStore) -> None:
    data = snapshot_bytes(3)
    first = store.activate(data, source="push")
    again = store.activate(data, source="file:/x", expected_version=3, expected_sha256=sha(data))
    assert again.accepted and again.noop and again.code == E.NOOP
    assert again.activation is first.activation  # no new activation
    assert store.current() is first.activation
    assert store.status().previous_version is None  # nothing rotated
    assert store.last_error is None


def test_same_version_other_content_refused(store: SnapshotStore) -> None:
    store.activate(snapshot_bytes(3), source="push")
    serving = store.current()
    result = store.activate(snapshot_bytes(3, extra_action="svc:Other"), source="push")
    assert not result.accepted and result.code == E.VERSION_CONFLICT
    assert "already active" in result.reason
    assert store.current() is serving and result.activation is serving
    assert store.last_error is not None and store.last_error.code == E.VERSION_CONFLICT
    with pytest.raises(VersionConflict):
        result.raise_if_refused()


def test_lower_version_refused(store: SnapshotStore) -> None:
    store.activate(snapshot_bytes(5), source="push")
    serving = store.current()
    result = store.activate(snapshot_bytes(4), source="push")
    assert not result.accepted and result.code == E.VERSION_CONFLICT and result.version == 4
    assert "lower" in result.reason
    assert store.current() is serving


def test_announced_version_must_equal_the_document(store: SnapshotStore) -> None:
    result = store.activate(snapshot_bytes(2), source="push", expected_version=3)
    assert not result.accepted and result.code == E.VERSION_MISMATCH
    assert store.current() is None
    store.activate(snapshot_bytes(2), source="push")
    # even a resync of the active bytes must announce the right version
    again = store.activate(snapshot_bytes(2), source="push", expected_version=7)
    assert not again.accepted and again.code == E.VERSION_MISMATCH


def test_sha256_mismatch_refused(store: SnapshotStore) -> None:
    store.activate(snapshot_bytes(1), source="push")
    serving = store.current()
    data = snapshot_bytes(2)
    result = store.activate(data, source="push", expected_sha256=sha(data + b" "))
    assert not result.accepted and result.code == E.CHECKSUM_MISMATCH
    assert store.current() is serving
    with pytest.raises(ChecksumMismatch):
        result.raise_if_refused()


def test_invalid_snapshot_refused_with_problems_and_old_keeps_serving(store: SnapshotStore) -> None:
    store.activate(snapshot_bytes(1), source="push")
    serving = store.current()
    result = store.activate(invalid_bytes(2), source="push")
    assert not result.accepted and result.code == E.VALIDATION_FAILED
    assert result.problems and any(p.is_error for p in result.problems)
    assert any("Effect" in str(p) for p in result.problems)
    assert store.current() is serving
    assert store.status().version == 1
    assert store.last_error is not None and store.last_error.code == E.VALIDATION_FAILED
    with pytest.raises(InvalidSnapshot) as info:
        result.raise_if_refused()
    assert info.value.problems == result.problems
    # not JSON at all
    garbage = store.activate(b"\x00not json", source="push")
    assert not garbage.accepted and garbage.code == E.VALIDATION_FAILED
    assert store.current() is serving


def test_validate_is_a_dry_run(store: SnapshotStore) -> None:
    store.activate(snapshot_bytes(5), source="push")
    serving = store.current()
    good = store.validate(snapshot_bytes(1))  # version rules are not applied
    assert good.ok and good.version == 1 and good.counts["users"] == 1 and good.errors == ()
    bad = store.validate(invalid_bytes(9))
    assert not bad.ok and bad.code == E.VALIDATION_FAILED and bad.errors
    assert store.current() is serving
    assert store.last_error is None


def test_activation_ids_are_unique_and_increasing(store: SnapshotStore) -> None:
    ids = []
    for v in range(1, 6):
        result = store.activate(snapshot_bytes(v), source="push")
        assert result.activation is not None
        ids.append(result.activation.id)
    assert ids == sorted(set(ids))


# -- rollback --------------------------------------------------------------------------------


def test_rollback_then_new_push_must_exceed_highest(store: SnapshotStore) -> None:
    with pytest.raises(NoPreviousSnapshot):
        store.rollback()
    for v in (1, 2, 3):
        store.activate(snapshot_bytes(v), source="push")
    bad = store.current()
    assert bad is not None
    back = store.rollback()
    assert back.version == 2 and back.source == "rollback" and back.id > bad.id
    assert store.current() is back
    assert allows(back.compiled, action_of(2)) and not allows(back.compiled, action_of(3))
    status = store.status()
    assert (status.version, status.previous_version, status.highest_version) == (2, 3, 3)

    # the version rolled back from is refused, and so is anything not above the highest
    again = store.activate(snapshot_bytes(3), source="push")
    assert not again.accepted and again.code == E.VERSION_CONFLICT and "highest" in again.reason
    # the active version re-pushed is still a no-op
    assert store.activate(snapshot_bytes(2), source="push").noop
    accepted = store.activate(snapshot_bytes(4), source="push")
    assert accepted.accepted and store.status().version == 4 and store.status().previous_version == 2


def test_rollback_twice_goes_back_and_forth(store: SnapshotStore) -> None:
    store.activate(snapshot_bytes(1), source="push")
    store.activate(snapshot_bytes(2), source="push")
    assert store.rollback().version == 1
    assert store.rollback().version == 2
    assert store.status().previous_version == 1


def test_status_reports_the_facts(store: SnapshotStore, tmp_path: Path) -> None:
    data = snapshot_bytes(7)
    store.activate(data, source="file:/etc/snapshot")
    status = store.status()
    act = store.current()
    assert act is not None
    assert status.serving
    assert (status.version, status.sha256, status.activation_id, status.source) == (
        7,
        sha(data),
        act.id,
        "file:/etc/snapshot",
    )
    assert status.loaded_at == act.loaded_at and status.compile_seconds == act.compile_seconds
    assert status.counts["accounts"] == 1 and status.counts["users"] == 1
    assert status.highest_version == 7 and status.previous_version is None
    assert status.last_error is None and status.state_dir == str(tmp_path / "state")


# -- persistence and start-up ----------------------------------------------------------------


def test_restart_serves_the_persisted_snapshot(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    first = SnapshotStore(state)
    first.activate(snapshot_bytes(1), source="push")
    first.activate(snapshot_bytes(2), source="push")
    assert (state.path / ACTIVE_FILE).exists() and (state.path / PREVIOUS_FILE).exists()

    second = SnapshotStore(StateDir(tmp_path / "state"))
    assert second.current() is None
    act = second.start(None)
    assert act is not None and act.version == 2 and act.source == "persisted"
    assert allows(act.compiled, action_of(2))
    assert second.status().previous_version == 1
    assert second.rollback().version == 1  # the previous survives the restart too
    assert second.last_error is None


def test_restart_remembers_the_highest_version_after_rollback(tmp_path: Path) -> None:
    first = SnapshotStore(StateDir(tmp_path))
    for v in (1, 2, 3):
        first.activate(snapshot_bytes(v), source="push")
    first.rollback()
    second = SnapshotStore(StateDir(tmp_path))
    act = second.start(None)
    assert act is not None and act.version == 2
    assert second.status().highest_version == 3
    assert not second.activate(snapshot_bytes(3), source="push").accepted
    assert second.activate(snapshot_bytes(4), source="push").accepted


def test_torn_active_file_serves_the_previous_good(tmp_path: Path) -> None:
    first = SnapshotStore(StateDir(tmp_path))
    first.activate(snapshot_bytes(1), source="push")
    first.activate(snapshot_bytes(2), source="push")
    active = tmp_path / ACTIVE_FILE
    active.write_bytes(active.read_bytes()[:-20])  # torn write

    second = SnapshotStore(StateDir(tmp_path))
    act = second.start(None)
    assert act is not None and act.version == 1
    assert second.last_error is not None and second.last_error.code == E.STATE_CORRUPT
    assert second.status().previous_version is None


def test_corrupt_state_serves_nothing_without_raising(tmp_path: Path) -> None:
    first = SnapshotStore(StateDir(tmp_path))
    first.activate(snapshot_bytes(1), source="push")
    first.activate(snapshot_bytes(2), source="push")
    (tmp_path / ACTIVE_FILE).write_bytes(b"\x00\x01garbage")
    (tmp_path / PREVIOUS_FILE).write_bytes(b'{"format": 1}\n')

    second = SnapshotStore(StateDir(tmp_path))
    assert second.start(None) is None
    assert second.current() is None and not second.status().serving
    assert second.last_error is not None
    # a push still works, and rewrites a good state dir
    assert second.activate(snapshot_bytes(1), source="push").accepted
    assert StateDir(tmp_path).load().active is not None


def test_start_picks_the_newer_file(tmp_path: Path) -> None:
    first = SnapshotStore(StateDir(tmp_path / "state"))
    first.activate(snapshot_bytes(2), source="push")
    snap = tmp_path / "snap.json"
    snap.write_bytes(snapshot_bytes(3))

    store = SnapshotStore(StateDir(tmp_path / "state"))
    act = store.start(snap)
    assert act is not None and act.version == 3 and act.source == f"file:{snap}"
    assert store.status().previous_version == 2


def test_start_picks_the_newer_persisted(tmp_path: Path) -> None:
    first = SnapshotStore(StateDir(tmp_path / "state"))
    first.activate(snapshot_bytes(5), source="push")
    cm = tmp_path / "configmap"
    cm.mkdir()
    (cm / "snapshot.json").write_bytes(snapshot_bytes(4))  # a directory holding snapshot.json

    store = SnapshotStore(StateDir(tmp_path / "state"))
    act = store.start(cm)
    assert act is not None and act.version == 5 and act.source == "persisted"
    assert store.last_error is not None and store.last_error.code == E.VERSION_CONFLICT


def test_start_with_only_a_file_and_no_state_dir(tmp_path: Path) -> None:
    cm = tmp_path / "cm"
    cm.mkdir()
    (cm / "snapshot.json").write_bytes(snapshot_bytes(1))
    store = SnapshotStore(None)
    act = store.start(cm)
    assert act is not None and act.version == 1 and store.status().state_dir is None
    missing = SnapshotStore(None)
    assert missing.start(tmp_path / "nope.json") is None
    assert missing.last_error is not None and missing.last_error.code == E.SOURCE_ERROR


def test_persist_failure_does_not_disturb_serving(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the state dir should be")
    store = SnapshotStore(StateDir(blocker / "state"))
    result = store.activate(snapshot_bytes(1), source="push")
    assert result.accepted and result.persist_error is not None
    act = store.current()
    assert act is not None and act.version == 1
    assert store.last_error is not None and store.last_error.code == E.PERSIST_FAILED


def test_replaced_snapshot_is_freed_and_the_collector_is_back_on(store: SnapshotStore) -> None:
    """Activation pauses the cyclic collector while building and freezes the result; a
    replaced compiled snapshot must still be freed (it holds no reference cycles)."""
    import gc
    import weakref

    first = store.activate(snapshot_bytes(1), source="push")
    assert first.accepted and first.activation is not None
    old = weakref.ref(first.activation.compiled)
    del first
    assert store.activate(snapshot_bytes(2), source="push").accepted
    assert store.activate(snapshot_bytes(3), source="push").accepted  # 1 is no longer even "previous"
    assert gc.isenabled()
    assert old() is None
