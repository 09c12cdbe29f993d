"""The state directory: atomic records, torn files detected, never raising on corruption."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from sidecar.store import PersistedSnapshot, PersistError, StateDir, default_state_dir
from sidecar.store.persist import ACTIVE_FILE, PREVIOUS_FILE, decode_record, encode_record, sha256_hex


def record(version: int, body: bytes | None = None, *, source: str = "push") -> PersistedSnapshot:
    data = body if body is not None else json.dumps({"version": version}).encode()
    return PersistedSnapshot(data, version, sha256_hex(data), 1000.0 + version, source, version)


def test_round_trip_and_modes(tmp_path: Path) -> None:
    d = StateDir(tmp_path / "state" / "nested")
    d.save(record(2), record(1))
    assert stat.S_IMODE(d.path.stat().st_mode) == 0o700
    assert stat.S_IMODE(d.active_path.stat().st_mode) == 0o600
    state = d.load()
    assert state.errors == ()
    assert state.active == record(2)
    assert state.previous == record(1)
    assert state.best == record(2)
    assert state.highest_version == 2
    assert {p.name for p in d.path.iterdir()} == {ACTIVE_FILE, PREVIOUS_FILE}  # no temp files left


def test_missing_dir_is_created_and_empty(tmp_path: Path) -> None:
    d = StateDir(tmp_path / "fresh")
    state = d.load()
    assert d.path.is_dir()
    assert stat.S_IMODE(d.path.stat().st_mode) == 0o700
    assert state.active is None and state.previous is None and state.errors == ()
    assert state.best is None and state.highest_version is None


def test_save_without_previous_removes_the_old_previous(tmp_path: Path) -> None:
    d = StateDir(tmp_path)
    d.save(record(2), record(1))
    d.save(record(3), None)
    state = d.load()
    assert state.active == record(3) and state.previous is None


def test_binary_and_newlines_in_body_survive(tmp_path: Path) -> None:
    body = b'{"version": 7}\n\n\x00\xff trailing\n'
    d = StateDir(tmp_path)
    d.save(record(7, body, source="file:/etc/snap\nshot"), None)
    got = d.load().active
    assert got is not None and got.data == body and got.source == "file:/etc/snap\nshot"


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda raw: raw[: len(raw) - 5], id="truncated-body"),
        pytest.param(lambda raw: raw[:10], id="truncated-header"),
        pytest.param(lambda raw: b"", id="empty"),
        pytest.param(lambda raw: raw[:-1] + bytes([raw[-1] ^ 1]), id="bit-flip-body"),
        pytest.param(lambda raw: b"{not json\n" + raw.split(b"\n", 1)[1], id="bad-json"),
        pytest.param(lambda raw: raw.replace(b'"version": 2', b'"version": 9', 1), id="header-tampered"),
        pytest.param(lambda raw: b"[1, 2]\n" + raw.split(b"\n", 1)[1], id="header-not-object"),
    ],
)
def test_torn_active_falls_back_to_previous(tmp_path: Path, damage: Callable[[bytes], bytes]) -> None:
    d = StateDir(tmp_path)
    d.save(record(2), record(1))
    raw = d.active_path.read_bytes()
    d.active_path.write_bytes(damage(raw))
    state = d.load()
    assert state.active is None
    assert state.previous == record(1)
    assert state.best == record(1)
    assert len(state.errors) == 1 and ACTIVE_FILE in state.errors[0]


def test_both_corrupt_gives_nothing_and_no_exception(tmp_path: Path) -> None:
    d = StateDir(tmp_path)
    d.save(record(2), record(1))
    d.active_path.write_bytes(b"garbage")
    d.previous_path.write_bytes(b'{"format": "iam-sidecar-state/1"}\nbody')
    state = d.load()
    assert state.best is None
    assert len(state.errors) == 2


def test_unreadable_entries_are_errors_not_exceptions(tmp_path: Path) -> None:
    d = StateDir(tmp_path)
    d.ensure()
    d.active_path.mkdir()  # reading a directory fails with an OSError
    state = d.load()
    assert state.best is None and len(state.errors) == 1


def test_state_dir_path_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    d = StateDir(blocker / "state")
    state = d.load()
    assert state.best is None and len(state.errors) == 1
    with pytest.raises(PersistError):
        d.save(record(1), None)


def test_stale_temp_files_are_removed(tmp_path: Path) -> None:
    d = StateDir(tmp_path)
    d.save(record(1), None)
    stale = tmp_path / f".{ACTIVE_FILE}.abc123.tmp"
    stale.write_bytes(b"half written")
    state = d.load()
    assert state.active == record(1)
    assert not stale.exists()


def test_decode_rejects_wrong_format() -> None:
    raw = encode_record(record(1))
    decode_record(raw)
    with pytest.raises(ValueError, match="format"):
        decode_record(raw.replace(b"iam-sidecar-state/1", b"iam-sidecar-state/9"))


def test_default_state_dir() -> None:
    assert default_state_dir({"XDG_STATE_HOME": "/x/state", "HOME": "/h"}) == Path("/x/state/iam-sidecar")
    assert default_state_dir({"XDG_STATE_HOME": "rel", "HOME": "/h"}) == Path("/h/.local/state/iam-sidecar")
    assert default_state_dir({"HOME": "/h"}) == Path("/h/.local/state/iam-sidecar")
