"""The IAM policy language: parsing, validation and compiled matching. Pure: no I/O, no
clocks, no gRPC.

``document`` parses and validates documents of every kind and compiles their statements;
``patterns`` compiles wildcards; ``conditions`` holds the condition operators; ``variables``
the ``${...}`` policy variables; ``arn`` ARN parsing. The engine room decides with what this
room compiles.
"""

from .arn import Arn, parse_arn
from .conditions import AMBIGUOUS, AmbiguousKeyError, Condition
from .document import (
    DEFAULT_OPTIONS,
    DEFAULT_SIZE_LIMITS,
    Policy,
    PolicyKind,
    PolicyRef,
    PrincipalSet,
    Statement,
    ValidationOptions,
    parse_policy,
    validate_policy,
)
from .errors import (
    LIMIT_EXCEEDED,
    MALFORMED,
    PolicyError,
    PolicyValidationError,
    Problem,
    Severity,
    format_path,
)
from .jsonload import loads as loads_json

__all__ = [
    "AMBIGUOUS",
    "DEFAULT_OPTIONS",
    "DEFAULT_SIZE_LIMITS",
    "LIMIT_EXCEEDED",
    "MALFORMED",
    "AmbiguousKeyError",
    "Arn",
    "Condition",
    "Policy",
    "PolicyError",
    "PolicyKind",
    "PolicyRef",
    "PolicyValidationError",
    "PrincipalSet",
    "Problem",
    "Severity",
    "Statement",
    "ValidationOptions",
    "format_path",
    "loads_json",
    "parse_arn",
    "parse_policy",
    "validate_policy",
]
