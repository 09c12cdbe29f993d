"""The typed errors of the STS room, with AWS's error codes.

The server maps them to gRPC statuses (API.md): AccessDenied → PERMISSION_DENIED;
ValidationError, MalformedPolicyDocument, PackedPolicyTooLarge, InvalidParameterValue →
INVALID_ARGUMENT; ExpiredToken, InvalidClientTokenId, MissingAuthenticationToken →
UNAUTHENTICATED.
"""

from __future__ import annotations

ACCESS_DENIED = "AccessDenied"
VALIDATION_ERROR = "ValidationError"
MALFORMED_POLICY = "MalformedPolicyDocument"
PACKED_POLICY_TOO_LARGE = "PackedPolicyTooLarge"
INVALID_PARAMETER_VALUE = "InvalidParameterValue"
EXPIRED_TOKEN = "ExpiredToken"
INVALID_CLIENT_TOKEN_ID = "InvalidClientTokenId"
SIGNATURE_DOES_NOT_MATCH = "SignatureDoesNotMatch"
MISSING_AUTHENTICATION_TOKEN = "MissingAuthenticationToken"

AUTHENTICATION_CODES = frozenset(
    {EXPIRED_TOKEN, INVALID_CLIENT_TOKEN_ID, SIGNATURE_DOES_NOT_MATCH, MISSING_AUTHENTICATION_TOKEN}
)
DENIAL_CODES = frozenset({ACCESS_DENIED})


class StsError(Exception):
    """An STS refusal: ``code`` (AWS's), a message in AWS's words, and the request field at
    fault (the proto field name) when there is one."""

    def __init__(self, code: str, message: str, field: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def __repr__(self) -> str:
        return f"StsError({self.code}, {self.message!r})"


class KeysetError(ValueError):
    """An STS keyset file that cannot be used (said at start, before anything listens)."""
