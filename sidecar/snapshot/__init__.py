"""The data the sidecar serves: accounts, users, groups, roles, managed policies, resources and
the organisation tree (SCPs, RCPs).

``model`` holds the immutable snapshot (plain frozen dataclasses, every policy already compiled
by the policy room); ``load`` turns the snapshot document of API.md (bytes, text or parsed JSON)
into it and reports every problem with its JSON path and an IAM-style code; ``errors`` holds
the exceptions and codes. Nothing here reads files, clocks or sockets, and nothing decides: the
engine room compiles a Snapshot into its indexed form.
"""

from .errors import (
    ENTITY_ALREADY_EXISTS,
    INVALID_INPUT,
    LIMIT_EXCEEDED,
    MALFORMED,
    NO_SUCH_ENTITY,
    SnapshotError,
    SnapshotValidationError,
)
from .load import DEFAULT_LIMITS, SnapshotLimits, load_snapshot, validate_snapshot
from .model import (
    AccessKey,
    Account,
    Group,
    ManagedPolicy,
    MfaDevice,
    Organization,
    OrgUnit,
    Resource,
    Role,
    Snapshot,
    User,
)

__all__ = [
    "DEFAULT_LIMITS",
    "ENTITY_ALREADY_EXISTS",
    "INVALID_INPUT",
    "LIMIT_EXCEEDED",
    "MALFORMED",
    "NO_SUCH_ENTITY",
    "AccessKey",
    "Account",
    "Group",
    "ManagedPolicy",
    "MfaDevice",
    "OrgUnit",
    "Organization",
    "Resource",
    "Role",
    "Snapshot",
    "SnapshotError",
    "SnapshotLimits",
    "SnapshotValidationError",
    "User",
    "load_snapshot",
    "validate_snapshot",
]
