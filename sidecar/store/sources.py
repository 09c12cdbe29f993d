"""Where snapshots come from besides a push: a watched file or ConfigMap-style directory.

:class:`FileSource` polls (no inotify dependency, works on every volume type). It watches a
file, or a directory holding ``snapshot.json``. A Kubernetes ConfigMap volume shows
``snapshot.json`` as a symlink through ``..data`` to a timestamped directory and publishes an
update by re-pointing ``..data`` in one rename; following the symlinks to the real path sees
that swap even when the new file has the same size and mtime.

A change is noticed from (real path, inode, mtime, size); it must then stay unchanged for
``debounce`` seconds (an editor or ``kubectl cp`` writing in place is not read half-way), and
content identical to what was last seen (sha256) is skipped. The bytes go to
:meth:`SnapshotStore.activate` with source ``file:<path>``; the store applies the version
rules, and a bad file is reported in ``store.last_error`` while the serving snapshot keeps
serving. The same bad file is not retried until it changes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from . import errors as E
from .persist import sha256_hex
from .store import ActivationResult, SnapshotStore, snapshot_file

log = logging.getLogger(__name__)

Signature = tuple[str, int, int, int]  # real path, inode, mtime_ns, size


class FileSource:
    """Watch ``path`` (a file, or a directory holding ``snapshot.json``) and activate changes."""

    def __init__(
        self,
        path: Path | str,
        store: SnapshotStore,
        *,
        interval: float = 1.0,
        debounce: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self.store = store
        self.interval = interval
        self.debounce = debounce
        self.source = f"file:{self.path}"
        self._clock = clock
        self._lock = threading.Lock()  # check_once() and the thread never overlap
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: Signature | None = None  # the signature whose content was last handled
        self._seen_sha256: str | None = None
        self._pending: Signature | None = None  # a change waiting for the debounce
        self._pending_since = 0.0
        self._reported: str | None = None  # the last read error reported (not repeated)

    def __repr__(self) -> str:
        return f"FileSource({str(self.path)!r}, interval={self.interval}, debounce={self.debounce})"

    # -- one look ----------------------------------------------------------------------------

    def _signature(self) -> Signature:
        target = snapshot_file(self.path)
        real = os.path.realpath(target)
        st = os.stat(real)
        return (real, st.st_ino, st.st_mtime_ns, st.st_size)

    def check_once(self) -> ActivationResult | None:
        """Look now, without the debounce; activate if the content changed. Returns the
        store's result, or ``None`` when there was nothing new (or the file is unreadable)."""
        with self._lock:
            return self._check(debounced=False)

    def poll(self) -> ActivationResult | None:
        """One look of the watcher thread: a change is read once it is ``debounce`` old."""
        with self._lock:
            return self._check(debounced=True)

    def _check(self, *, debounced: bool) -> ActivationResult | None:
        try:
            sig = self._signature()
        except OSError as exc:
            self._report(f"cannot read {snapshot_file(self.path)}: {exc.strerror or exc}")
            self._pending = None
            return None
        if sig == self._seen:
            self._pending = None
            return None
        if debounced and self.debounce > 0:
            now = self._clock()
            if sig != self._pending:
                self._pending, self._pending_since = sig, now
                return None
            if now - self._pending_since < self.debounce:
                return None
        self._pending = None
        try:
            data = Path(sig[0]).read_bytes()
            after = self._signature()
        except OSError as exc:
            self._report(f"cannot read {snapshot_file(self.path)}: {exc.strerror or exc}")
            return None
        if after != sig:  # changed while being read: look again on the next poll
            return None
        self._reported = None
        self._seen = sig
        digest = sha256_hex(data)
        if digest == self._seen_sha256:
            return None  # touched, or re-pointed to identical content
        self._seen_sha256 = digest
        result = self.store.activate(data, source=self.source)
        if result.accepted and not result.noop:
            log.info("%s: activated version %s", self.source, result.version)
        elif not result.accepted:
            log.warning("%s: refused: %s: %s", self.source, result.code, result.reason)
        return result

    def _report(self, message: str) -> None:
        if message != self._reported:  # once per distinct problem, not every poll
            self._reported = message
            self.store.record_error(self.source, E.SOURCE_ERROR, message)
            log.warning("%s: %s", self.source, message)

    # -- the watcher thread ------------------------------------------------------------------

    def start(self) -> None:
        """Look once now (no debounce), then poll every ``interval`` in a daemon thread."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"snapshot-watch:{self.path}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        first = True
        while not self._stop.is_set():
            try:
                if first:
                    self.check_once()
                    first = False
                else:
                    self.poll()
            except Exception:  # the watcher must survive anything a file can do to it
                log.exception("%s: watcher error", self.source)
            if self._stop.wait(self.interval):
                break

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop the thread and wait for it (it wakes at once: it sleeps on an Event)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> FileSource:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
