"""Which snapshot is live: atomic activation, the version rules, rollback, waiting for a version.

The request path calls :meth:`SnapshotStore.current` — one attribute read, no lock — and
decides with ``activation.compiled``. Everything else runs on the caller's thread (a Control
RPC handler, the file watcher, start-up): load and compile happen there, a lock serialises
activations, and the new :class:`Activation` is published by replacing one reference. A
refused or failed activation never touches the serving snapshot; it is reported in the
:class:`ActivationResult` and remembered as ``last_error``.

Version rules (API.md, "Snapshot versions and ownership"):

- the document's ``version`` is authoritative; an announced ``expected_version`` must equal it;
- lower than the active version → refused (only :meth:`SnapshotStore.rollback` goes back);
- the active version again with the same sha256 → no-op success; other content → refused;
- after a rollback the next accepted version must exceed the highest version ever activated.

Activation ids are unique and increasing within the process (across stores), so caches keyed
by activation id never confuse a rolled-back snapshot with the one it replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from ..engine.compile import CompiledSnapshot, compile_snapshot
from ..policy import Problem
from ..snapshot import SnapshotValidationError, load_snapshot
from ..snapshot.model import Snapshot
from . import errors as E
from .errors import (
    ActivationRefused,
    ChecksumMismatch,
    InvalidSnapshot,
    NoPreviousSnapshot,
    PersistError,
    RollbackFailed,
    VersionConflict,
)
from .persist import PersistedSnapshot, StateDir, sha256_hex

log = logging.getLogger(__name__)

_EMPTY_COUNTS: Mapping[str, int] = MappingProxyType({})
_activation_ids = itertools.count(1)  # process-wide: ids never repeat across stores


def snapshot_file(path: Path) -> Path:
    """``--snapshot`` names a file, or a directory holding ``snapshot.json``."""
    return path / "snapshot.json" if path.is_dir() else path


@dataclass(frozen=True, slots=True)
class Activation:
    """One activation of a compiled snapshot. Immutable; ``id`` is never reused."""

    id: int
    compiled: CompiledSnapshot
    version: int
    sha256: str
    source: str  # "push", "file:/path", "persisted", "rollback", …
    loaded_at: float  # epoch seconds (the store's clock)
    compile_seconds: float

    def __repr__(self) -> str:
        return (
            f"Activation(id={self.id}, version={self.version}, sha256={self.sha256[:12]}…, "
            f"source={self.source!r})"
        )


@dataclass(frozen=True, slots=True)
class LastError:
    """The most recent failure the store saw (a refused push, a bad file, a disk error).
    It is kept after later successes; compare ``at`` with the activation's ``loaded_at``."""

    at: float
    source: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code} ({self.source}): {self.message}"


@dataclass(frozen=True, slots=True)
class ActivationResult:
    """The outcome of :meth:`SnapshotStore.activate`.

    ``accepted``: the document is now active (or already was: ``noop``). ``activation``: the
    activation serving after the call — the new one when accepted, the unchanged current one
    (possibly ``None``) when refused. ``code`` is ``OK``/``NoOp`` or one of the refusal codes
    of :mod:`sidecar.store.errors`; ``problems`` the validation report when it failed (the
    warnings when it was accepted).
    ``persist_error`` is set when the activation stands but the state directory was not written.
    """

    accepted: bool
    noop: bool
    activation: Activation | None
    problems: tuple[Problem, ...] = ()
    reason: str = ""
    code: str = E.OK
    version: int | None = None  # the document's version, when it loaded
    persist_error: str | None = None

    @property
    def active_version(self) -> int | None:
        return None if self.activation is None else self.activation.version

    def raise_if_refused(self) -> Activation | None:
        """The serving activation, or the typed :class:`ActivationRefused` subclass."""
        if self.accepted:
            return self.activation
        cls: type[ActivationRefused]
        if self.code in (E.VERSION_CONFLICT, E.VERSION_MISMATCH):
            cls = VersionConflict
        elif self.code == E.CHECKSUM_MISMATCH:
            cls = ChecksumMismatch
        elif self.code in (E.VALIDATION_FAILED, E.COMPILE_FAILED):
            cls = InvalidSnapshot
        else:
            cls = ActivationRefused
        raise cls(self.code, self.reason, self.problems)


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """A dry run (:meth:`SnapshotStore.validate`): would this document activate? Version rules
    are not applied (they depend on the moment of the push)."""

    ok: bool
    sha256: str
    version: int | None = None
    problems: tuple[Problem, ...] = ()
    counts: Mapping[str, int] = field(default_factory=lambda: _EMPTY_COUNTS)
    compile_seconds: float = 0.0
    code: str = E.OK
    reason: str = ""

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.is_error)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if not p.is_error)


@dataclass(frozen=True, slots=True)
class StoreStatus:
    """The facts ``GetStatus`` and ``iam-sidecar status`` show. Fields of the active snapshot
    are ``None`` while nothing is served."""

    version: int | None
    sha256: str | None
    activation_id: int | None
    loaded_at: float | None
    source: str | None
    compile_seconds: float | None
    counts: Mapping[str, int]
    last_error: LastError | None
    highest_version: int | None
    previous_version: int | None
    state_dir: str | None = None

    @property
    def serving(self) -> bool:
        return self.version is not None


@dataclass(frozen=True, slots=True)
class _Built:
    snapshot: Snapshot
    compiled: CompiledSnapshot
    compile_seconds: float


class _BuildFailed(Exception):
    def __init__(self, code: str, reason: str, problems: tuple[Problem, ...] = ()) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.problems = problems


def _load(data: bytes) -> Snapshot:
    try:
        return load_snapshot(data)
    except SnapshotValidationError as exc:
        problems = tuple(exc.problems)
        n = sum(1 for p in problems if p.is_error)
        raise _BuildFailed(E.VALIDATION_FAILED, f"snapshot has {n} error(s)", problems) from None
    except Exception as exc:  # a loader bug must not take the store down
        log.exception("snapshot load failed unexpectedly")
        raise _BuildFailed(E.VALIDATION_FAILED, f"snapshot does not load: {exc!r}") from None


def _compile(snapshot: Snapshot) -> _Built:
    started = time.perf_counter()
    try:
        compiled = compile_snapshot(snapshot)
    except Exception as exc:
        log.exception("snapshot compile failed")
        raise _BuildFailed(E.COMPILE_FAILED, f"snapshot does not compile: {exc!r}") from None
    return _Built(snapshot, compiled, time.perf_counter() - started)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """A snapshot is millions of small objects and none of them is garbage while it is being
    built: the cyclic collector would re-scan them again and again (it measured as a third of
    load time), so it is paused while loading and compiling."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _build(data: bytes) -> _Built:
    """Load and compile; raises :class:`_BuildFailed` with the report."""
    with _collector_paused():
        return _compile(_load(data))


class _AsyncWaiter:
    __slots__ = ("event", "loop", "version")

    def __init__(self, version: int, loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
        self.version = version
        self.loop = loop
        self.event = event


class SnapshotStore:
    """The live snapshot of one sidecar (see the module doc). Thread-safe."""

    def __init__(self, state_dir: StateDir | None, *, clock: Callable[[], float] = time.time) -> None:
        self.state_dir = state_dir
        self._clock = clock
        self._current: Activation | None = None
        # The bytes of the active and the previous good snapshot (for persistence and rollback).
        self._active_record: PersistedSnapshot | None = None
        self._previous: PersistedSnapshot | None = None
        self._highest: int | None = None  # the highest version ever activated (survives restarts)
        self._last_error: LastError | None = None
        # Failures by code since start (refused pushes, bad files, disk errors): for metrics.
        self.failures: Counter[str] = Counter()
        self._failures_lock = threading.Lock()
        self._lock = threading.Lock()  # serialises activations; current() never takes it
        self._changed = threading.Condition()  # guards publication and the waiter lists
        self._async_waiters: list[_AsyncWaiter] = []

    # -- the request path --------------------------------------------------------------------

    def current(self) -> Activation | None:
        """The serving activation (one attribute read, no lock)."""
        return self._current

    # -- activation --------------------------------------------------------------------------

    @property
    def last_error(self) -> LastError | None:
        return self._last_error

    def failure_counts(self) -> dict[str, int]:
        """Failures by code since start (a copy)."""
        with self._failures_lock:
            return dict(self.failures)

    def record_error(self, source: str, code: str, message: str) -> LastError:
        """Remember a failure (used by sources for errors that happen before ``activate``)."""
        err = LastError(self._clock(), source, code, message)
        self._last_error = err
        with self._failures_lock:
            self.failures[code] += 1
        return err

    def activate(
        self,
        data: bytes,
        *,
        source: str,
        expected_version: int | None = None,
        expected_sha256: str | None = None,
    ) -> ActivationResult:
        """Verify, load, check the version rules, compile, swap, persist (module doc)."""
        digest = sha256_hex(data)
        if expected_sha256 is not None and expected_sha256.strip().lower() != digest:
            return self._refuse(
                source,
                E.CHECKSUM_MISMATCH,
                f"sha256 of the data is {digest}, announced {expected_sha256}",
            )
        with self._lock:
            cur = self._current
            if cur is not None and cur.sha256 == digest:  # a resync of the active bytes
                if expected_version is not None and expected_version != cur.version:
                    return self._refuse(
                        source,
                        E.VERSION_MISMATCH,
                        f"announced version {expected_version} but the document says {cur.version}",
                        version=cur.version,
                    )
                return ActivationResult(True, True, cur, (), "already active", E.NOOP, cur.version)
            try:
                snapshot = _load(data)
                refusal = self._version_refusal(snapshot.version, digest, expected_version)
                if refusal is not None:
                    code, reason = refusal
                    return self._refuse(source, code, reason, version=snapshot.version)
                built = _compile(snapshot)
            except _BuildFailed as exc:
                return self._refuse(source, exc.code, exc.reason, exc.problems)
            version = snapshot.version
            activation = self._publish(built, digest, source)
            self._highest = version if self._highest is None else max(self._highest, version)
            record = PersistedSnapshot(data, version, digest, activation.loaded_at, source, self._highest)
            persist_error = self._rotate(record)
        log.info(
            "activated snapshot version %d (sha256 %s, id %d, source %s, compiled in %.3fs)",
            version,
            digest[:12],
            activation.id,
            source,
            activation.compile_seconds,
        )
        return ActivationResult(
            True,
            False,
            activation,
            tuple(snapshot.warnings),
            "activated",
            E.OK,
            version,
            persist_error=persist_error,
        )

    def _version_refusal(
        self, version: int, digest: str, expected_version: int | None
    ) -> tuple[str, str] | None:
        if expected_version is not None and expected_version != version:
            return E.VERSION_MISMATCH, f"announced version {expected_version} but the document says {version}"
        cur = self._current
        if cur is not None:
            if version < cur.version:
                return E.VERSION_CONFLICT, f"version {version} is lower than the active version {cur.version}"
            if version == cur.version and digest != cur.sha256:
                return (
                    E.VERSION_CONFLICT,
                    f"version {version} is already active with other content (sha256 {cur.sha256})",
                )
        highest = self._highest
        if highest is not None and version <= highest and (cur is None or version != cur.version):
            return (
                E.VERSION_CONFLICT,
                f"version {version} must exceed the highest version ever activated ({highest})",
            )
        return None

    def _refuse(
        self,
        source: str,
        code: str,
        reason: str,
        problems: tuple[Problem, ...] = (),
        *,
        version: int | None = None,
    ) -> ActivationResult:
        self.record_error(source, code, reason)
        log.warning("snapshot from %s refused: %s: %s", source, code, reason)
        return ActivationResult(False, False, self._current, problems, reason, code, version)

    def _publish(self, built: _Built, digest: str, source: str) -> Activation:
        """Swap in a new activation and wake the waiters. Called with ``_lock`` held."""
        activation = Activation(
            id=next(_activation_ids),
            compiled=built.compiled,
            version=built.snapshot.version,
            sha256=digest,
            source=source,
            loaded_at=self._clock(),
            compile_seconds=built.compile_seconds,
        )
        with self._changed:
            self._current = activation  # the one reference the request path reads
            self._changed.notify_all()
            ready = [w for w in self._async_waiters if w.version <= activation.version]
        for waiter in ready:
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits there any more
                waiter.loop.call_soon_threadsafe(waiter.event.set)
        # Move everything alive now (the new snapshot included) out of the collector's sight:
        # a full collection over a 100k-statement snapshot took seconds, a pause on the request
        # path. Compiled snapshots hold no reference cycles, so a replaced one is still freed
        # by reference counting (tests/store checks this).
        gc.freeze()
        return activation

    def _rotate(self, record: PersistedSnapshot) -> str | None:
        """The new record becomes active, the old active previous; write the state dir.
        Called with ``_lock`` held. Returns the persist error (the activation stands)."""
        if self._active_record is not None:
            self._previous = self._active_record
        self._active_record = record
        return self._persist()

    def _persist(self) -> str | None:
        if self.state_dir is None or self._active_record is None:
            return None
        try:
            self.state_dir.save(self._active_record, self._previous)
        except PersistError as exc:
            self.record_error("state-dir", exc.code, str(exc))
            log.error("%s", exc)
            return str(exc)
        return None

    # -- dry run -----------------------------------------------------------------------------

    def validate(self, data: bytes) -> ValidationReport:
        """Load and compile ``data`` without activating anything."""
        digest = sha256_hex(data)
        try:
            built = _build(data)
        except _BuildFailed as exc:
            return ValidationReport(False, digest, None, exc.problems, code=exc.code, reason=exc.reason)
        counts = MappingProxyType(dict(built.compiled.counts))
        return ValidationReport(
            True,
            digest,
            built.snapshot.version,
            tuple(built.snapshot.warnings),
            counts,
            built.compile_seconds,
            E.OK,
            "valid",
        )

    # -- rollback ----------------------------------------------------------------------------

    def rollback(self) -> Activation:
        """Re-activate the previous good snapshot with a new activation id; the one rolled back
        from becomes previous. Raises :class:`NoPreviousSnapshot` or :class:`RollbackFailed`."""
        with self._lock:
            previous = self._previous
            if previous is None:
                raise NoPreviousSnapshot("there is no previous snapshot to roll back to")
            try:
                built = _build(previous.data)
            except _BuildFailed as exc:
                self.record_error("rollback", E.ROLLBACK_FAILED, exc.reason)
                raise RollbackFailed(f"the previous snapshot no longer activates: {exc.reason}") from None
            activation = self._publish(built, previous.sha256, "rollback")
            record = PersistedSnapshot(
                previous.data,
                activation.version,
                previous.sha256,
                activation.loaded_at,
                "rollback",
                self._highest if self._highest is not None else activation.version,
            )
            self._rotate(record)
        log.warning(
            "rolled back to snapshot version %d (id %d); highest version ever activated is %d",
            activation.version,
            activation.id,
            self._highest,
        )
        return activation

    # -- waiting -----------------------------------------------------------------------------

    def wait_for_version(self, version: int, timeout: float | None) -> Activation | None:
        """Block until the active version is at least ``version`` (then return that activation)
        or ``timeout`` seconds pass (then ``None``)."""

        def ready() -> bool:
            cur = self._current
            return cur is not None and cur.version >= version

        with self._changed:
            if self._changed.wait_for(ready, timeout):
                return self._current
        return None

    async def wait_for_version_async(self, version: int, timeout: float | None) -> Activation | None:
        """:meth:`wait_for_version` for asyncio: the activating thread sets an
        :class:`asyncio.Event` of this loop through ``call_soon_threadsafe``."""
        cur = self._current
        if cur is not None and cur.version >= version:
            return cur
        if timeout is not None and timeout <= 0:
            return None
        waiter = _AsyncWaiter(version, asyncio.get_running_loop(), asyncio.Event())
        with self._changed:
            cur = self._current
            if cur is not None and cur.version >= version:
                return cur
            self._async_waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter.event.wait()
        except TimeoutError:
            pass
        finally:
            with self._changed:
                self._async_waiters.remove(waiter)
        cur = self._current
        return cur if cur is not None and cur.version >= version else None

    # -- start and status --------------------------------------------------------------------

    def start(self, snapshot_path: Path | None = None) -> Activation | None:
        """Serve the newer of the persisted snapshot and the one at ``snapshot_path`` (a file,
        or a directory holding ``snapshot.json``). Never raises for bad input: problems end up
        in ``last_error`` and whatever is good is served. Returns the serving activation."""
        self._restore()
        if snapshot_path is not None:
            file = snapshot_file(Path(snapshot_path))
            source = f"file:{snapshot_path}"
            try:
                data = file.read_bytes()
            except OSError as exc:
                self.record_error(source, E.SOURCE_ERROR, f"cannot read {file}: {exc}")
                log.warning("cannot read snapshot %s: %s", file, exc)
            else:
                self.activate(data, source=source)  # the version rules pick the newer one
        return self._current

    def _restore(self) -> None:
        """Activate the persisted snapshot (no rewrite of the state dir)."""
        if self.state_dir is None:
            return
        state = self.state_dir.load()
        for problem in state.errors:
            self.record_error("state-dir", E.STATE_CORRUPT, problem)
        candidates = [r for r in (state.active, state.previous) if r is not None]
        with self._lock:
            highest = state.highest_version
            if highest is not None:
                self._highest = highest if self._highest is None else max(self._highest, highest)
            for i, record in enumerate(candidates):
                try:
                    built = _build(record.data)
                except _BuildFailed as exc:
                    self.record_error(
                        "persisted", E.STATE_CORRUPT, f"persisted version {record.version}: {exc}"
                    )
                    continue
                if built.snapshot.version != record.version:
                    self.record_error(
                        "persisted",
                        E.STATE_CORRUPT,
                        f"persisted header says version {record.version}, document {built.snapshot.version}",
                    )
                    continue
                activation = self._publish(built, record.sha256, "persisted")
                self._active_record = record
                self._previous = candidates[i + 1] if i + 1 < len(candidates) else None
                log.info("serving persisted snapshot version %d (id %d)", activation.version, activation.id)
                return

    def status(self) -> StoreStatus:
        cur = self._current
        previous = self._previous
        return StoreStatus(
            version=None if cur is None else cur.version,
            sha256=None if cur is None else cur.sha256,
            activation_id=None if cur is None else cur.id,
            loaded_at=None if cur is None else cur.loaded_at,
            source=None if cur is None else cur.source,
            compile_seconds=None if cur is None else cur.compile_seconds,
            counts=_EMPTY_COUNTS if cur is None else MappingProxyType(dict(cur.compiled.counts)),
            last_error=self._last_error,
            highest_version=self._highest,
            previous_version=None if previous is None else previous.version,
            state_dir=None if self.state_dir is None else str(self.state_dir.path),
        )
