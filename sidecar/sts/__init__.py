"""AssumeRole and session credentials (reference §6–§8): the keyset, stateless session
tokens, parameter rules, credential callers. No gRPC here: the server room maps
:class:`StsError` codes to statuses."""

from .errors import KeysetError, StsError
from .keyset import Keyset, StsKey, new_keyset_json
from .params import AssumeRoleParams
from .service import AssumedRole, Authenticated, Sts, packed_policy_size
from .tokens import IssuedCredentials, SessionClaims, TokenCodec

__all__ = [
    "AssumeRoleParams",
    "AssumedRole",
    "Authenticated",
    "IssuedCredentials",
    "Keyset",
    "KeysetError",
    "SessionClaims",
    "Sts",
    "StsError",
    "StsKey",
    "TokenCodec",
    "new_keyset_json",
    "packed_policy_size",
]
