"""Problems found in a policy document, and the errors of the policy room.

A validator never stops at the first problem: it collects every one, each with the JSON path
where it was found and an IAM-style code, so an operator fixes a document in one pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

PathPart = str | int
Path = tuple[PathPart, ...]

# IAM-style problem codes (the names AWS uses in its API errors).
MALFORMED = "MalformedPolicyDocument"
LIMIT_EXCEEDED = "LimitExceeded"


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


def format_path(path: Sequence[PathPart]) -> str:
    """``("Statement", 1, "Principal")`` → ``Statement[1].Principal``; the root is ``$``."""
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif out:
            out.append(f".{part}")
        else:
            out.append(part)
    return "".join(out) or "$"


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem: where (JSON path), what (IAM-style code), and a sentence saying why."""

    path: Path
    code: str
    message: str
    severity: Severity = Severity.ERROR

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def within(self, prefix: Sequence[PathPart]) -> Problem:
        """The same problem, seen from a document that embeds this one at ``prefix``."""
        return Problem((*prefix, *self.path), self.code, self.message, self.severity)

    def __str__(self) -> str:
        tag = "" if self.is_error else " (warning)"
        return f"{format_path(self.path)}: {self.code}{tag}: {self.message}"


class PolicyError(Exception):
    """Base class of the errors raised by the policy room."""


class PolicyValidationError(PolicyError):
    """A document has one or more errors; ``problems`` lists all of them (warnings too)."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        errors = [p for p in self.problems if p.is_error]
        lines = "\n".join(f"  {p}" for p in errors)
        super().__init__(f"{len(errors)} problem(s) in policy document:\n{lines}")

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.is_error)
