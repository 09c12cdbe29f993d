"""A seeded synthetic IAM workload, shaped like the one of ANCHORS.md §2, and its snapshot document.

The base size: 1,000 users in 100 groups; each group has 3 managed policies of 5 statements
(1,500 statements in all); each user is in 1–3 groups, so 15/30/45 statements. Each statement is
an Allow (80 %) or a Deny (20 %) over one service, with 1–3 Action entries mixing verb wildcards
(``s3:get*``), service wildcards (``dynamodb:*``) and exact actions from :data:`CATALOG`, 1–2
resource ARNs with wildcards (``arn:aws:s3:::bkt-7/*``, ``…:table/tbl-3*``, occasionally ``*``),
and conditions ``StringEquals aws:PrincipalTag/team`` / ``IpAddress aws:SourceIp`` on Allows and
``NotIpAddress aws:SourceIp`` (plus some team conditions) on Denies. Users carry a ``team`` tag (a
few have none). 10,000 requests: 55 % aimed at one of the caller's own statements (an action and
a resource that statement names), the rest random; every request carries ``aws:SourceIp``.

:func:`scaled` keeps that shape at any total: each user's own statements stay at 15–45, groups
= statements / 15 and users = 10 × groups (100,000 statements: 6,667 groups, 66,670 users).
:func:`to_document` renders a workload as the snapshot document of API.md: one account with the
users (``team`` tag), groups, managed policies, and the KMS keys as resources with
:data:`KEY_POLICY`.

Differences from ANCHORS §2, on purpose:

- The catalog is a hand-written list of real action names, a few dozen per service
  (286: s3 45, dynamodb 35, sqs 20, kms 39, lambda 39, iam 55, ec2 53; see
  :func:`catalog_sizes`), not policyuniverse's full lists (1,122 actions).
- KMS requests name ``key/…`` ARNs. AWS needs the key policy to allow (or to delegate to IAM)
  before identity policies count, so :data:`KEY_POLICY` is AWS's *default* key policy
  ("Enable IAM User Permissions": the account root, ``kms:*``); with it in force, the identity
  policies alone decide, as in ANCHORS' identity-only evaluators.
- Actions are lower-case throughout, as in ANCHORS (the engine folds case anyway).
- Group-specific source networks are ``10.(group mod 256).0.0/16``, so they stay valid addresses
  when there are more than 256 groups (identical to the unscaled form below 256 groups).

Everything is plain data (policy documents are JSON-like dicts), so any evaluator can read it.
"""

from __future__ import annotations

import fnmatch
import json
import random
from dataclasses import dataclass
from typing import Any

ACCOUNT = "111122223333"
REGION = "us-east-1"
DEFAULT_SEED = 20240611
STATEMENTS_PER_GROUP = 15  # 3 managed policies × 5 statements

# Real action names, a representative few dozen per service (CamelCase as AWS documents them).
CATALOG: dict[str, tuple[str, ...]] = {
    "s3": (
        "AbortMultipartUpload",
        "CreateBucket",
        "DeleteBucket",
        "DeleteBucketPolicy",
        "DeleteObject",
        "DeleteObjectTagging",
        "DeleteObjectVersion",
        "GetBucketAcl",
        "GetBucketCORS",
        "GetBucketLocation",
        "GetBucketLogging",
        "GetBucketNotification",
        "GetBucketPolicy",
        "GetBucketTagging",
        "GetBucketVersioning",
        "GetBucketWebsite",
        "GetEncryptionConfiguration",
        "GetLifecycleConfiguration",
        "GetObject",
        "GetObjectAcl",
        "GetObjectAttributes",
        "GetObjectTagging",
        "GetObjectVersion",
        "GetReplicationConfiguration",
        "ListAllMyBuckets",
        "ListBucket",
        "ListBucketMultipartUploads",
        "ListBucketVersions",
        "ListMultipartUploadParts",
        "PutBucketAcl",
        "PutBucketCORS",
        "PutBucketLogging",
        "PutBucketNotification",
        "PutBucketPolicy",
        "PutBucketTagging",
        "PutBucketVersioning",
        "PutBucketWebsite",
        "PutEncryptionConfiguration",
        "PutLifecycleConfiguration",
        "PutObject",
        "PutObjectAcl",
        "PutObjectTagging",
        "PutReplicationConfiguration",
        "ReplicateObject",
        "RestoreObject",
    ),
    "dynamodb": (
        "BatchGetItem",
        "BatchWriteItem",
        "ConditionCheckItem",
        "CreateBackup",
        "CreateGlobalTable",
        "CreateTable",
        "DeleteBackup",
        "DeleteItem",
        "DeleteTable",
        "DescribeBackup",
        "DescribeContinuousBackups",
        "DescribeGlobalTable",
        "DescribeLimits",
        "DescribeStream",
        "DescribeTable",
        "DescribeTimeToLive",
        "GetItem",
        "GetRecords",
        "GetShardIterator",
        "ListBackups",
        "ListGlobalTables",
        "ListStreams",
        "ListTables",
        "ListTagsOfResource",
        "PartiQLSelect",
        "PutItem",
        "Query",
        "RestoreTableFromBackup",
        "Scan",
        "TagResource",
        "UntagResource",
        "UpdateContinuousBackups",
        "UpdateItem",
        "UpdateTable",
        "UpdateTimeToLive",
    ),
    "sqs": (
        "AddPermission",
        "CancelMessageMoveTask",
        "ChangeMessageVisibility",
        "CreateQueue",
        "DeleteMessage",
        "DeleteQueue",
        "GetQueueAttributes",
        "GetQueueUrl",
        "ListDeadLetterSourceQueues",
        "ListMessageMoveTasks",
        "ListQueueTags",
        "ListQueues",
        "PurgeQueue",
        "ReceiveMessage",
        "RemovePermission",
        "SendMessage",
        "SetQueueAttributes",
        "StartMessageMoveTask",
        "TagQueue",
        "UntagQueue",
    ),
    "kms": (
        "CancelKeyDeletion",
        "CreateAlias",
        "CreateGrant",
        "CreateKey",
        "Decrypt",
        "DeleteAlias",
        "DescribeKey",
        "DisableKey",
        "DisableKeyRotation",
        "EnableKey",
        "EnableKeyRotation",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateMac",
        "GenerateRandom",
        "GetKeyPolicy",
        "GetKeyRotationStatus",
        "GetPublicKey",
        "ListAliases",
        "ListGrants",
        "ListKeyPolicies",
        "ListKeys",
        "ListResourceTags",
        "PutKeyPolicy",
        "ReEncryptFrom",
        "ReEncryptTo",
        "RetireGrant",
        "RevokeGrant",
        "ScheduleKeyDeletion",
        "Sign",
        "TagResource",
        "UntagResource",
        "UpdateAlias",
        "UpdateKeyDescription",
        "Verify",
        "VerifyMac",
    ),
    "lambda": (
        "AddPermission",
        "CreateAlias",
        "CreateEventSourceMapping",
        "CreateFunction",
        "CreateFunctionUrlConfig",
        "DeleteAlias",
        "DeleteEventSourceMapping",
        "DeleteFunction",
        "DeleteFunctionConcurrency",
        "DeleteFunctionUrlConfig",
        "GetAccountSettings",
        "GetAlias",
        "GetEventSourceMapping",
        "GetFunction",
        "GetFunctionConcurrency",
        "GetFunctionConfiguration",
        "GetFunctionUrlConfig",
        "GetLayerVersion",
        "GetPolicy",
        "InvokeAsync",
        "InvokeFunction",
        "InvokeFunctionUrl",
        "ListAliases",
        "ListEventSourceMappings",
        "ListFunctions",
        "ListLayers",
        "ListTags",
        "ListVersionsByFunction",
        "PublishLayerVersion",
        "PublishVersion",
        "PutFunctionConcurrency",
        "RemovePermission",
        "TagResource",
        "UntagResource",
        "UpdateAlias",
        "UpdateEventSourceMapping",
        "UpdateFunctionCode",
        "UpdateFunctionConfiguration",
        "UpdateFunctionUrlConfig",
    ),
    "iam": (
        "AddUserToGroup",
        "AttachGroupPolicy",
        "AttachRolePolicy",
        "AttachUserPolicy",
        "ChangePassword",
        "CreateAccessKey",
        "CreateGroup",
        "CreateInstanceProfile",
        "CreateLoginProfile",
        "CreatePolicy",
        "CreatePolicyVersion",
        "CreateRole",
        "CreateServiceLinkedRole",
        "CreateUser",
        "DeleteAccessKey",
        "DeleteGroup",
        "DeleteLoginProfile",
        "DeletePolicy",
        "DeleteRole",
        "DeleteRolePolicy",
        "DeleteUser",
        "DeleteUserPolicy",
        "DetachGroupPolicy",
        "DetachRolePolicy",
        "DetachUserPolicy",
        "GetAccessKeyLastUsed",
        "GetAccountSummary",
        "GetGroup",
        "GetInstanceProfile",
        "GetPolicy",
        "GetPolicyVersion",
        "GetRole",
        "GetRolePolicy",
        "GetUser",
        "GetUserPolicy",
        "ListAccessKeys",
        "ListAttachedRolePolicies",
        "ListAttachedUserPolicies",
        "ListGroups",
        "ListGroupsForUser",
        "ListPolicies",
        "ListRoles",
        "ListUsers",
        "PassRole",
        "PutRolePolicy",
        "PutUserPolicy",
        "RemoveUserFromGroup",
        "TagRole",
        "TagUser",
        "UntagRole",
        "UntagUser",
        "UpdateAccessKey",
        "UpdateAssumeRolePolicy",
        "UpdateRole",
        "UpdateUser",
    ),
    "ec2": (
        "AllocateAddress",
        "AssociateAddress",
        "AttachVolume",
        "AuthorizeSecurityGroupEgress",
        "AuthorizeSecurityGroupIngress",
        "CopyImage",
        "CopySnapshot",
        "CreateImage",
        "CreateKeyPair",
        "CreateNetworkInterface",
        "CreateSecurityGroup",
        "CreateSnapshot",
        "CreateSubnet",
        "CreateTags",
        "CreateVolume",
        "CreateVpc",
        "DeleteKeyPair",
        "DeleteNetworkInterface",
        "DeleteSecurityGroup",
        "DeleteSnapshot",
        "DeleteSubnet",
        "DeleteTags",
        "DeleteVolume",
        "DeleteVpc",
        "DescribeAddresses",
        "DescribeAvailabilityZones",
        "DescribeImages",
        "DescribeInstanceStatus",
        "DescribeInstances",
        "DescribeKeyPairs",
        "DescribeNetworkInterfaces",
        "DescribeRegions",
        "DescribeSecurityGroups",
        "DescribeSnapshots",
        "DescribeSubnets",
        "DescribeTags",
        "DescribeVolumes",
        "DescribeVpcs",
        "DetachVolume",
        "DisassociateAddress",
        "GetConsoleOutput",
        "ModifyInstanceAttribute",
        "ModifyVolume",
        "MonitorInstances",
        "RebootInstances",
        "ReleaseAddress",
        "RevokeSecurityGroupEgress",
        "RevokeSecurityGroupIngress",
        "RunInstances",
        "StartInstances",
        "StopInstances",
        "TerminateInstances",
        "UnmonitorInstances",
    ),
}

SERVICES: tuple[str, ...] = tuple(CATALOG)
# Lower-cased "service:action" names per service (what requests carry).
ACTIONS: dict[str, tuple[str, ...]] = {
    s: tuple(f"{s}:{a}".lower() for a in names) for s, names in CATALOG.items()
}
ALL_ACTIONS: tuple[str, ...] = tuple(a for names in ACTIONS.values() for a in names)

TEAMS: tuple[str, ...] = tuple(f"team-{i:02d}" for i in range(20))
CORP_CIDRS: tuple[str, ...] = ("10.0.0.0/8", "172.16.0.0/12")
RANGE = 60  # resource names per kind: bkt-0..59, tbl-0..59, q-0..59, fn-0..59, app-0..59
KMS_KEYS: tuple[str, ...] = tuple(f"1234abcd-12ab-34cd-56ef-{i:012d}" for i in range(40))

# AWS's default key policy: the account delegates key access to IAM policies.
KEY_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "EnableIAMUserPermissions",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ],
}


def catalog_sizes() -> dict[str, int]:
    return {s: len(names) for s, names in CATALOG.items()}


@dataclass(frozen=True)
class User:
    index: int
    arn: str
    team: str | None  # the value of the user's ``team`` tag; None: no tag
    groups: tuple[int, ...]
    policy_names: tuple[str, ...]  # the managed policies of the user's groups, in order


@dataclass(frozen=True)
class RequestSpec:
    user: int
    action: str  # lower-case "service:action"
    resource: str
    source_ip: str
    aimed: bool  # aimed at one of the user's own statements

    @property
    def is_kms_key(self) -> bool:
        return self.action.startswith("kms:") and ":key/" in self.resource


@dataclass(frozen=True)
class Workload:
    seed: int
    policies: dict[str, dict[str, Any]]  # managed policy name → document
    group_policies: tuple[tuple[str, ...], ...]  # per group: its policy names
    group_teams: tuple[str, ...]
    users: tuple[User, ...]
    requests: tuple[RequestSpec, ...]

    def statements_of(self, user: User) -> list[dict[str, Any]]:
        return [st for name in user.policy_names for st in self.policies[name]["Statement"]]

    @property
    def statement_count(self) -> int:
        return sum(len(doc["Statement"]) for doc in self.policies.values())


# --- resources -----------------------------------------------------------------------------


def _arn(service: str, rest: str) -> str:
    if service == "s3":
        return f"arn:aws:s3:::{rest}"
    if service == "iam":
        return f"arn:aws:iam::{ACCOUNT}:{rest}"
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{rest}"


def random_resource(service: str, rng: random.Random) -> str:
    """A concrete resource ARN of ``service``."""
    n = rng.randrange(RANGE)
    r = rng.random()
    if service == "s3":
        if r < 0.3:
            return _arn("s3", f"bkt-{n}")
        key = rng.choice((f"data/obj-{rng.randrange(1000)}.json", f"logs/{rng.randrange(10000)}.gz"))
        return _arn("s3", f"bkt-{n}/{key}")
    if service == "dynamodb":
        if r < 0.2:
            return _arn("dynamodb", f"table/tbl-{n}/index/gsi-{rng.randrange(3)}")
        if r < 0.3:
            return _arn("dynamodb", f"table/tbl-{n}/stream/2024-06-{rng.randrange(1, 29):02d}T00:00:00.000")
        return _arn("dynamodb", f"table/tbl-{n}")
    if service == "sqs":
        return _arn("sqs", f"q-{n}-dlq" if r < 0.2 else f"q-{n}")
    if service == "kms":
        return _arn("kms", f"key/{rng.choice(KMS_KEYS)}")
    if service == "lambda":
        return _arn("lambda", f"function:fn-{n}:live" if r < 0.2 else f"function:fn-{n}")
    if service == "iam":
        if r < 0.5:
            return _arn("iam", f"role/app-{n}")
        if r < 0.85:
            return _arn("iam", f"user/u-{rng.randrange(1000):04d}")
        return _arn("iam", f"policy/pol-{n}")
    if service == "ec2":
        kind = rng.choice(("instance", "instance", "volume", "security-group", "subnet"))
        prefix = {"instance": "i-0", "volume": "vol-0", "security-group": "sg-0", "subnet": "subnet-0"}[kind]
        return _arn("ec2", f"{kind}/{prefix}{rng.randrange(16**8):08x}")
    raise ValueError(service)


def resource_pattern(service: str, rng: random.Random) -> str:
    """A Resource entry of a statement over ``service`` (wildcards where policies use them)."""
    if rng.random() < 0.05:
        return "*"
    n = rng.randrange(RANGE)
    r = rng.random()
    if service == "s3":
        if r < 0.5:
            return _arn("s3", f"bkt-{n}/*")
        if r < 0.7:
            return _arn("s3", f"bkt-{n}")
        if r < 0.85:
            return _arn("s3", f"bkt-{n // 10}*")
        return _arn("s3", f"bkt-{n}/logs/*")
    if service == "dynamodb":
        if r < 0.5:
            return _arn("dynamodb", f"table/tbl-{n // 10}*")
        if r < 0.8:
            return _arn("dynamodb", f"table/tbl-{n}")
        return _arn("dynamodb", f"table/tbl-{n}/index/*")
    if service == "sqs":
        return _arn("sqs", f"q-{n}*" if r < 0.6 else f"q-{n}")
    if service == "kms":
        return _arn("kms", "key/*" if r < 0.3 else f"key/{rng.choice(KMS_KEYS)}")
    if service == "lambda":
        return _arn("lambda", f"function:fn-{n}*" if r < 0.6 else f"function:fn-{n}")
    if service == "iam":
        if r < 0.6:
            return _arn("iam", f"role/app-{n // 10}*")
        if r < 0.8:
            return _arn("iam", "user/u-*")
        return _arn("iam", f"policy/pol-{n}")
    if service == "ec2":
        if r < 0.4:
            return _arn("ec2", "instance/*")
        if r < 0.6:
            return _arn("ec2", f"instance/i-0{rng.randrange(16):x}*")
        if r < 0.8:
            return _arn("ec2", "volume/*")
        return _arn("ec2", f"security-group/sg-0{rng.randrange(16):x}*")
    raise ValueError(service)


def instantiate(pattern: str, service: str, rng: random.Random) -> str:
    """A concrete resource that ``pattern`` matches."""
    if pattern == "*":
        return random_resource(service, rng)
    pieces = pattern.split("*")
    out = [pieces[0]]
    for piece in pieces[1:]:
        out.append(_filler(out[-1], rng))
        out.append(piece)
    return "".join(out)


_EC2_IDS = {"instance/": "i-0", "volume/": "vol-0", "security-group/": "sg-0", "subnet/": "subnet-0"}


def _filler(before: str, rng: random.Random) -> str:
    """What a ``*`` stands for in a concrete resource, after the text ``before``."""
    if before.endswith("key/"):
        return rng.choice(KMS_KEYS)
    if before.endswith("/index/"):
        return f"gsi-{rng.randrange(3)}"
    for kind, prefix in _EC2_IDS.items():
        if before.endswith(kind):
            return f"{prefix}{rng.randrange(16**8):08x}"
    if before.endswith("/"):
        return f"obj-{rng.randrange(1000)}.json"
    return rng.choice(("", str(rng.randrange(10)), f"{rng.randrange(16**6):06x}"))


# --- actions -------------------------------------------------------------------------------


def _verb(action: str) -> str:
    name = action.partition(":")[2]
    for i in range(1, len(name)):
        if name[i].isupper():
            return name[:i]
    return name


def action_entry(service: str, rng: random.Random) -> str:
    """One Action entry: the whole service (8 %, ``dynamodb:*``), a verb wildcard (25 %,
    ``s3:get*``) or an exact action (67 %)."""
    r = rng.random()
    if r < 0.08:
        return f"{service}:*"
    if r < 0.33:
        verb = _verb(f"{service}:{rng.choice(CATALOG[service])}")
        return f"{service}:{verb}*".lower()
    return rng.choice(ACTIONS[service])


def _actions_matching(entry: str) -> list[str]:
    service = entry.partition(":")[0]
    return [a for a in ACTIONS[service] if fnmatch.fnmatchcase(a, entry)]


# --- generation ----------------------------------------------------------------------------


def _statement(rng: random.Random, sid: str, allow: bool, group: int, team: str) -> dict[str, Any]:
    service = rng.choice(SERVICES)
    actions = list(dict.fromkeys(action_entry(service, rng) for _ in range(rng.randint(1, 3))))
    resources = list(dict.fromkeys(resource_pattern(service, rng) for _ in range(rng.randint(1, 2))))
    st: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow" if allow else "Deny",
        "Action": actions[0] if len(actions) == 1 else actions,
        "Resource": resources[0] if len(resources) == 1 else resources,
    }
    r = rng.random()
    if allow:
        if r < 0.35:
            st["Condition"] = {"StringEquals": {"aws:PrincipalTag/team": team}}
        elif r < 0.6:
            st["Condition"] = {"IpAddress": {"aws:SourceIp": [f"10.{group % 256}.0.0/16", "172.16.0.0/12"]}}
    elif r < 0.45:
        st["Condition"] = {"NotIpAddress": {"aws:SourceIp": list(CORP_CIDRS)}}
    elif r < 0.6:
        st["Condition"] = {"StringEquals": {"aws:PrincipalTag/team": rng.choice(TEAMS)}}
    return st


def _source_ip(rng: random.Random, group: int | None = None) -> str:
    r = rng.random()
    if group is not None and r < 0.5:
        return f"10.{group % 256}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    r = rng.random()
    if r < 0.6:
        return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    if r < 0.8:
        return f"172.{rng.randrange(16, 32)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    return f"{rng.choice(('198.51.100', '203.0.113'))}.{rng.randrange(1, 255)}"


def generate(
    seed: int = DEFAULT_SEED,
    *,
    n_users: int = 1000,
    n_groups: int = 100,
    policies_per_group: int = 3,
    statements_per_policy: int = 5,
    n_requests: int = 10_000,
    aimed_fraction: float = 0.55,
    deny_fraction: float = 0.2,
) -> Workload:
    rng = random.Random(seed)
    policies: dict[str, dict[str, Any]] = {}
    group_policies: list[tuple[str, ...]] = []
    group_teams = tuple(rng.choice(TEAMS) for _ in range(n_groups))
    for g in range(n_groups):
        names = []
        for k in range(policies_per_group):
            name = f"grp-{g:03d}-policy-{k}"
            statements = [
                _statement(rng, f"S{g}x{k}x{i}", rng.random() >= deny_fraction, g, group_teams[g])
                for i in range(statements_per_policy)
            ]
            policies[name] = {"Version": "2012-10-17", "Statement": statements}
            names.append(name)
        group_policies.append(tuple(names))

    users = []
    for u in range(n_users):
        count = rng.choices((1, 2, 3), weights=(25, 50, 25))[0]
        groups = tuple(rng.sample(range(n_groups), count))
        r = rng.random()
        team = group_teams[groups[0]] if r < 0.9 else (rng.choice(TEAMS) if r < 0.95 else None)
        names = tuple(n for g in groups for n in group_policies[g])
        users.append(User(u, f"arn:aws:iam::{ACCOUNT}:user/u-{u:04d}", team, groups, names))

    workload_users = tuple(users)
    requests = []
    for _ in range(n_requests):
        user = rng.choice(workload_users)
        if rng.random() < aimed_fraction:
            requests.append(_aimed_request(rng, user, policies, group_policies))
        else:
            service = rng.choice(SERVICES)
            action = rng.choice(ACTIONS[service])
            requests.append(
                RequestSpec(user.index, action, random_resource(service, rng), _source_ip(rng), False)
            )
    return Workload(seed, policies, tuple(group_policies), group_teams, workload_users, tuple(requests))


def _aimed_request(
    rng: random.Random,
    user: User,
    policies: dict[str, dict[str, Any]],
    group_policies: list[tuple[str, ...]],
) -> RequestSpec:
    group = rng.choice(user.groups)
    st = rng.choice(policies[rng.choice(group_policies[group])]["Statement"])
    entries = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
    entry = rng.choice(entries)
    service = entry.partition(":")[0]
    action = rng.choice(_actions_matching(entry) or list(ACTIONS[service]))
    resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
    resource = instantiate(rng.choice(resources), service, rng)
    near = group if "IpAddress" in st.get("Condition", {}) else None
    return RequestSpec(user.index, action, resource, _source_ip(rng, near), True)


def shape(n_statements: int) -> tuple[int, int]:
    """(groups, users) of a scaled workload: groups = statements / 15, users = 10 × groups."""
    groups = max(1, round(n_statements / STATEMENTS_PER_GROUP))
    return groups, 10 * groups


def scaled(n_statements: int = 1500, seed: int = DEFAULT_SEED, *, n_requests: int = 10_000) -> Workload:
    """The ANCHORS shape at ``n_statements`` statements in all (1,500: exactly :func:`generate`)."""
    groups, users = shape(n_statements)
    return generate(seed, n_users=users, n_groups=groups, n_requests=n_requests)


# --- the snapshot document (API.md) --------------------------------------------------------


def policy_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:policy/{name}"


def group_name(index: int) -> str:
    return f"grp-{index:03d}"


def kms_key_arns() -> list[str]:
    return [_arn("kms", f"key/{key}") for key in KMS_KEYS]


def to_document(wl: Workload, *, version: int = 1) -> dict[str, Any]:
    """The workload as a snapshot document: one account outside any organisation (no SCPs)."""
    groups = [
        {
            "name": group_name(g),
            "path": "/",
            "managed_policies": [policy_arn(name) for name in names],
            "inline_policies": {},
        }
        for g, names in enumerate(wl.group_policies)
    ]
    users = []
    for user in wl.users:
        entry: dict[str, Any] = {
            "name": user.arn.rpartition("/")[2],
            "path": "/",
            "id": f"AIDA{user.index:017d}",
            "groups": [group_name(g) for g in user.groups],
        }
        if user.team is not None:
            entry["tags"] = {"team": user.team}
        users.append(entry)
    return {
        "version": version,
        "partition": "aws",
        "accounts": [
            {
                "id": ACCOUNT,
                "users": users,
                "groups": groups,
                "policies": [{"name": n, "path": "/", "document": doc} for n, doc in wl.policies.items()],
                "resources": [{"arn": arn, "policy": KEY_POLICY, "tags": {}} for arn in kms_key_arns()],
            }
        ],
    }


def document_bytes(wl: Workload) -> bytes:
    return json.dumps(to_document(wl), separators=(",", ":")).encode()


def request_records(wl: Workload) -> list[dict[str, Any]]:
    """The requests as plain records (principal ARN, action, resource, source IP, aimed)."""
    return [
        {
            "principal": wl.users[r.user].arn,
            "action": r.action,
            "resource": r.resource,
            "source_ip": r.source_ip,
            "aimed": r.aimed,
        }
        for r in wl.requests
    ]
