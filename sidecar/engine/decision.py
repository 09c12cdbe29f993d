"""A decision is data: its kind, the statements that decided it, the context keys that
deciding statements needed but did not get, and a one-line reason. Nothing is logged."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..policy.document import PolicyKind, Statement


class DecisionKind(StrEnum):
    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


@dataclass(frozen=True, slots=True)
class MatchedStatement:
    """A statement that took part in the decision (policy kind, policy name or ARN, Sid, index)."""

    policy_kind: PolicyKind
    policy: str
    sid: str | None
    index: int
    effect: str

    @classmethod
    def of(cls, st: Statement) -> MatchedStatement:
        return cls(st.policy.kind, st.policy.name, st.sid, st.index, st.effect)

    def __str__(self) -> str:
        sid = f" Sid {self.sid}" if self.sid else ""
        name = self.policy or "(unnamed)"
        return f"{self.effect} in {self.policy_kind.label} {name} statement {self.index}{sid}"


class Decision:
    """The outcome of :func:`~sidecar.engine.evaluate.evaluate`."""

    __slots__ = ("decided_by", "error", "kind", "missing_keys", "reason", "statements")

    def __init__(
        self,
        kind: DecisionKind,
        reason: str,
        statements: tuple[Statement, ...] = (),
        decided_by: PolicyKind | None = None,
        missing_keys: tuple[str, ...] = (),
        error: str | None = None,
    ) -> None:
        self.kind = kind
        self.reason = reason
        self.statements = statements
        self.decided_by = decided_by
        self.missing_keys = missing_keys
        self.error = error

    @property
    def allowed(self) -> bool:
        return self.kind is DecisionKind.ALLOW

    @property
    def matched(self) -> tuple[MatchedStatement, ...]:
        return tuple(MatchedStatement.of(st) for st in self.statements)

    def with_missing_keys(self, keys: tuple[str, ...]) -> Decision:
        return Decision(self.kind, self.reason, self.statements, self.decided_by, keys, self.error)

    def __repr__(self) -> str:
        return f"Decision({self.kind.value}, {self.reason!r})"


def fail_closed(message: str) -> Decision:
    """The one place where an internal error becomes a decision: always a Deny, never an Allow."""
    return Decision(
        DecisionKind.IMPLICIT_DENY, f"evaluation error, denied (fail closed): {message}", error=message
    )
