"""Which snapshot is live: the only room with state and disk I/O.

``store`` holds the :class:`SnapshotStore` (atomic activation, the version rules of API.md,
rollback, waiting for a version, status); ``persist`` the crash-safe state directory (active
and previous snapshot); ``sources`` the watched snapshot file or ConfigMap directory;
``errors`` the typed errors and the result codes.
"""

from .errors import (
    ActivationRefused,
    ChecksumMismatch,
    InvalidSnapshot,
    NoPreviousSnapshot,
    PersistError,
    RollbackFailed,
    StoreError,
    VersionConflict,
)
from .persist import PersistedSnapshot, PersistedState, StateDir, default_state_dir
from .sources import FileSource
from .store import (
    Activation,
    ActivationResult,
    LastError,
    SnapshotStore,
    StoreStatus,
    ValidationReport,
    snapshot_file,
)

__all__ = [
    "Activation",
    "ActivationRefused",
    "ActivationResult",
    "ChecksumMismatch",
    "FileSource",
    "InvalidSnapshot",
    "LastError",
    "NoPreviousSnapshot",
    "PersistError",
    "PersistedSnapshot",
    "PersistedState",
    "RollbackFailed",
    "SnapshotStore",
    "StateDir",
    "StoreError",
    "StoreStatus",
    "ValidationReport",
    "VersionConflict",
    "default_state_dir",
    "snapshot_file",
]
