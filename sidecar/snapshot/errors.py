"""The errors of the snapshot room and the IAM-style codes its validator reports.

Like the policy room, the snapshot validator never stops at the first problem: every
:class:`~sidecar.policy.Problem` carries its JSON path (``accounts[0].roles[2].trust_policy``),
an IAM-style code and a sentence, and a document with any *error* is never loaded.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..policy.errors import LIMIT_EXCEEDED, MALFORMED, Problem

__all__ = [
    "ENTITY_ALREADY_EXISTS",
    "INVALID_INPUT",
    "LIMIT_EXCEEDED",
    "MALFORMED",
    "NO_SUCH_ENTITY",
    "SnapshotError",
    "SnapshotValidationError",
]

# The codes, named as AWS names them in its API errors. MALFORMED (MalformedPolicyDocument:
# an embedded policy document) and LIMIT_EXCEEDED (an IAM / Organizations quota) come from the
# policy room.
INVALID_INPUT = "InvalidInput"  # malformed snapshot data: types, names, ids, unknown fields
NO_SUCH_ENTITY = "NoSuchEntity"  # a reference to something the snapshot does not hold
ENTITY_ALREADY_EXISTS = "EntityAlreadyExists"  # two things that must be unique are not

_MESSAGE_LINES = 50  # a snapshot can have thousands of problems; the exception text shows these


class SnapshotError(Exception):
    """Base class of the errors raised by the snapshot room."""


class SnapshotValidationError(SnapshotError):
    """A snapshot document has one or more errors; ``problems`` lists all of them (warnings
    too), in the order they were found."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        errors = self.errors
        lines = [f"  {p}" for p in errors[:_MESSAGE_LINES]]
        if len(errors) > _MESSAGE_LINES:
            lines.append(f"  ... and {len(errors) - _MESSAGE_LINES} more")
        super().__init__(f"{len(errors)} problem(s) in snapshot document:\n" + "\n".join(lines))

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.is_error)
