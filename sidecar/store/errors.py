"""The typed errors of the store room.

Refusals of :meth:`SnapshotStore.activate` are *results* (``ActivationResult.code``), not
exceptions: a push that breaks a version rule is an expected outcome the caller reports. The
exceptions below are for calls that cannot return a result (``rollback``) and for disk
failures of the state directory.
"""

from __future__ import annotations

from ..policy import Problem

# ActivationResult.code / ValidationReport.code / LastError.code values.
OK = "OK"
NOOP = "NoOp"
CHECKSUM_MISMATCH = "ChecksumMismatch"  # the bytes do not hash to the announced sha256
VERSION_MISMATCH = "VersionMismatch"  # the announced version is not the document's version
VERSION_CONFLICT = "VersionConflict"  # the version rules of API.md refuse the document's version
VALIDATION_FAILED = "ValidationFailed"  # the document does not load (see ``problems``)
COMPILE_FAILED = "CompileFailed"  # the document loaded but did not compile (an internal error)
PERSIST_FAILED = "PersistFailed"  # activated, but writing the state directory failed
STATE_CORRUPT = "StateCorrupt"  # a persisted record was torn, truncated or unreadable
SOURCE_ERROR = "SourceError"  # a watched file could not be read
NO_PREVIOUS = "NoPreviousSnapshot"
ROLLBACK_FAILED = "RollbackFailed"


class StoreError(Exception):
    """Base class of the errors raised by the store room. ``code`` is one of the codes above."""

    code = "StoreError"


class PersistError(StoreError):
    """The state directory could not be written (the serving snapshot is not affected)."""

    code = PERSIST_FAILED


class NoPreviousSnapshot(StoreError):
    """Rollback was asked for but there is no previous good snapshot."""

    code = NO_PREVIOUS


class RollbackFailed(StoreError):
    """The previous snapshot no longer loads or compiles; nothing changed."""

    code = ROLLBACK_FAILED


class ActivationRefused(StoreError):
    """An activation was refused (raised by ``ActivationResult.raise_if_refused()``);
    ``problems`` lists the validation problems when there are some."""

    def __init__(self, code: str, reason: str, problems: tuple[Problem, ...] = ()) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.problems = problems


class VersionConflict(ActivationRefused):
    """The version rules of API.md refused the document (or the announced version differs)."""


class ChecksumMismatch(ActivationRefused):
    """The bytes do not hash to the announced sha256."""


class InvalidSnapshot(ActivationRefused):
    """The document does not load or does not compile."""
