"""The state directory: the active and the previous good snapshot, crash-safe.

Layout (``--state-dir``, mode 0700, files 0600)::

    active.snapshot      the snapshot being served
    previous.snapshot    the one served before it (the Rollback target)

Each file is one record: a single header line of JSON, a newline, then the snapshot bytes
exactly as they were pushed::

    {"format": "iam-sidecar-state/1", "version": 42, "sha256": "<hex of the body>",
     "size": 1234, "activated_at": 1700000000.0, "source": "push", "highest_version": 42,
     "check": "<sha256 of the other header fields, canonical JSON>"}\\n
    <body bytes>

One file per record means the header and the bytes it describes are replaced together. A
record is written to a temporary file in the same directory, fsynced, renamed over the old one
with ``os.replace`` and the directory is fsynced, so a crash leaves either the old or the new
file, never a mix. A record that is torn anyway (bad JSON, missing fields, wrong size, body or
header checksum mismatch) is ignored with an error and the other record is used: ``load`` never
raises. ``highest_version`` carries the highest version ever activated across restarts (the
rollback rule of API.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import PersistError

log = logging.getLogger(__name__)

FORMAT = "iam-sidecar-state/1"
ACTIVE_FILE = "active.snapshot"
PREVIOUS_FILE = "previous.snapshot"
_TEMP_SUFFIX = ".tmp"
_MAX_HEADER = 64 * 1024


def default_state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/iam-sidecar``, else ``~/.local/state/iam-sidecar`` (a relative
    ``XDG_STATE_HOME`` is ignored, as the XDG spec says)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME", "")
    if base and os.path.isabs(base):
        return Path(base) / "iam-sidecar"
    home = env.get("HOME") or os.path.expanduser("~")
    return Path(home) / ".local" / "state" / "iam-sidecar"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class PersistedSnapshot:
    """One persisted record: the snapshot bytes and what was known when it was activated."""

    data: bytes
    version: int
    sha256: str
    activated_at: float
    source: str
    highest_version: int = 0

    def __repr__(self) -> str:  # never dump the bytes
        return (
            f"PersistedSnapshot(version={self.version}, sha256={self.sha256[:12]}…, "
            f"size={len(self.data)}, source={self.source!r})"
        )


@dataclass(frozen=True, slots=True)
class PersistedState:
    """What :meth:`StateDir.load` found. A corrupt record is ``None`` and explained in
    ``errors``; ``best`` is the record to serve (active, else previous)."""

    active: PersistedSnapshot | None = None
    previous: PersistedSnapshot | None = None
    errors: tuple[str, ...] = ()

    @property
    def best(self) -> PersistedSnapshot | None:
        return self.active if self.active is not None else self.previous

    @property
    def highest_version(self) -> int | None:
        """The highest version ever activated, as far as the readable records know."""
        found = [
            v for r in (self.active, self.previous) if r is not None for v in (r.version, r.highest_version)
        ]
        return max(found) if found else None


class CorruptRecord(ValueError):
    """A persisted record failed its checks (internal to this module)."""


def _header_check(fields: Mapping[str, Any]) -> str:
    canonical = json.dumps({k: v for k, v in fields.items() if k != "check"}, sort_keys=True)
    return sha256_hex(canonical.encode())


def encode_record(record: PersistedSnapshot) -> bytes:
    """The bytes of one state file (header line + body)."""
    header: dict[str, Any] = {
        "format": FORMAT,
        "version": record.version,
        "sha256": record.sha256,
        "size": len(record.data),
        "activated_at": record.activated_at,
        "source": record.source,
        "highest_version": record.highest_version,
    }
    header["check"] = _header_check(header)
    return json.dumps(header, sort_keys=True).encode() + b"\n" + record.data


def decode_record(raw: bytes) -> PersistedSnapshot:
    """Parse and verify one state file; raises :class:`CorruptRecord` saying what is wrong."""
    newline = raw.find(b"\n", 0, _MAX_HEADER)
    if newline < 0:
        raise CorruptRecord("no header line (truncated or not a state file)")
    try:
        header = json.loads(raw[:newline])
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptRecord(f"header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise CorruptRecord("header is not a JSON object")
    if header.get("format") != FORMAT:
        raise CorruptRecord(f"unknown format {header.get('format')!r}")
    if header.get("check") != _header_check(header):
        raise CorruptRecord("header checksum mismatch")
    version, digest, size = header.get("version"), header.get("sha256"), header.get("size")
    activated_at, source = header.get("activated_at"), header.get("source")
    highest = header.get("highest_version", 0)
    if not (
        isinstance(version, int)
        and isinstance(digest, str)
        and isinstance(size, int)
        and isinstance(activated_at, int | float)
        and isinstance(source, str)
        and isinstance(highest, int)
    ):
        raise CorruptRecord("header fields missing or of the wrong type")
    body = raw[newline + 1 :]
    if len(body) != size:
        raise CorruptRecord(f"body is {len(body)} bytes, header says {size} (torn write)")
    if sha256_hex(body) != digest:
        raise CorruptRecord("body checksum mismatch")
    return PersistedSnapshot(body, version, digest, float(activated_at), source, highest)


def _fsync_dir(path: Path) -> None:
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StateDir:
    """The persisted active and previous snapshot in one directory (see the module doc)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"StateDir({str(self.path)!r})"

    @property
    def active_path(self) -> Path:
        return self.path / ACTIVE_FILE

    @property
    def previous_path(self) -> Path:
        return self.path / PREVIOUS_FILE

    def ensure(self) -> None:
        """Create the directory (mode 0700) if it is missing."""
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)

    # -- reading -----------------------------------------------------------------------------

    def load(self) -> PersistedState:
        """The persisted records. Never raises: a missing directory is created, a missing file
        is no record, a torn or unreadable one is ignored and explained in ``errors``."""
        errors: list[str] = []
        try:
            self.ensure()
        except OSError as exc:
            return PersistedState(errors=(f"state dir {self.path}: {exc}",))
        self._remove_stale_temps()
        records: list[PersistedSnapshot | None] = []
        for file in (self.active_path, self.previous_path):
            record: PersistedSnapshot | None = None
            try:
                record = decode_record(file.read_bytes())
            except FileNotFoundError:
                pass
            except (OSError, CorruptRecord) as exc:
                errors.append(f"{file}: {exc}; ignored")
                log.warning("state dir: %s: %s; ignored", file, exc)
            records.append(record)
        return PersistedState(records[0], records[1], tuple(errors))

    def _remove_stale_temps(self) -> None:
        """Temporary files a crash left behind (their rename never happened)."""
        with contextlib.suppress(OSError):
            for entry in self.path.iterdir():
                if entry.name.startswith(".") and entry.name.endswith(_TEMP_SUFFIX):
                    with contextlib.suppress(OSError):
                        entry.unlink()

    # -- writing -----------------------------------------------------------------------------

    def save(self, active: PersistedSnapshot, previous: PersistedSnapshot | None) -> None:
        """Persist both records (previous first, so a crash between the two renames leaves the
        old active file in place). Raises :class:`PersistError` when the disk refuses."""
        try:
            self.ensure()
            if previous is not None:
                self._write(PREVIOUS_FILE, encode_record(previous))
            else:
                with contextlib.suppress(FileNotFoundError):
                    self.previous_path.unlink()
                    _fsync_dir(self.path)
            self._write(ACTIVE_FILE, encode_record(active))
        except OSError as exc:
            raise PersistError(f"cannot write state dir {self.path}: {exc}") from exc

    def _write(self, name: str, payload: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=f".{name}.", suffix=_TEMP_SUFFIX)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path / name)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(self.path)  # the rename itself is durable before the next step
