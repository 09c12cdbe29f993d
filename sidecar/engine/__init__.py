"""Decisions: the IAM evaluation algorithm over compiled policy sets. Pure: no gRPC,
protobuf, files or clocks (the time arrives with the call).

``evaluate(request, policy_sets, now) -> Decision`` is the entry point; ``principal`` models
the requester, ``request`` the question, ``policyset`` the statements in force with their
action index, ``decision`` the answer, ``cases`` the neutral decision-case format.
"""

from .decision import Decision, DecisionKind, MatchedStatement, fail_closed
from .evaluate import evaluate
from .policyset import EngineOptions, PolicyGroup, PolicySets
from .principal import Principal, PrincipalError, PrincipalKind
from .request import Request, normalize_context

__all__ = [
    "Decision",
    "DecisionKind",
    "EngineOptions",
    "MatchedStatement",
    "PolicyGroup",
    "PolicySets",
    "Principal",
    "PrincipalError",
    "PrincipalKind",
    "Request",
    "evaluate",
    "fail_closed",
    "normalize_context",
]
