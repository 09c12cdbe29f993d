"""The compiled snapshot: derived keys, policy sets per principal and resource, the decision
cache, and the differential check of the indexed engine against the plain path."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

from sidecar.engine import DecisionKind, normalize_context
from sidecar.engine.cache import DecisionCache
from sidecar.engine.cases import run_case
from sidecar.engine.compile import CompiledSnapshot, compile_snapshot
from sidecar.engine.evaluate import decide_identity_only
from sidecar.policy import loads_json
from sidecar.snapshot import load_snapshot

A, B, MGMT = "111122223333", "444455556666", "999999999999"
V = "2012-10-17"
ALICE = f"arn:aws:iam::{A}:user/alice"
ROLE = f"arn:aws:iam::{A}:role/app/Deployer"
CONFORMANCE = Path(__file__).parent.parent / "conformance"


def allow(action: str, resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str, resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": V, "Statement": list(statements)}


def base_snapshot() -> dict[str, Any]:
    return {
        "version": 7,
        "partition": "aws",
        "organization": {
            "id": "o-exampleorg1",
            "management_account": MGMT,
            "policies": {
                "FullAWSAccess": doc(allow("*")),
                "DenyLeave": doc(deny("organizations:LeaveOrganization")),
                "NoEc2": doc(allow("*"), deny("ec2:*")),
                "DenyS3Outside": {
                    "Version": V,
                    "Statement": [
                        {
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": "*",
                            "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-exampleorg1"}},
                        }
                    ],
                },
            },
            "units": [
                {"id": "r-root", "parent": None, "scps": ["FullAWSAccess"], "rcps": ["DenyS3Outside"]},
                {"id": "ou-prod", "parent": "r-root", "scps": ["FullAWSAccess", "DenyLeave"]},
            ],
        },
        "accounts": [
            {
                "id": A,
                "unit": "ou-prod",
                "scps": ["NoEc2"],
                "users": [
                    {
                        "name": "alice",
                        "path": "/",
                        "id": "AIDAEXAMPLEALICE00001",
                        "groups": ["devs"],
                        "tags": {"team": "payments"},
                        "inline_policies": {
                            "own": doc(
                                allow(
                                    "s3:GetObject",
                                    "arn:aws:s3:::data/*",
                                    Condition={
                                        "StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}
                                    },
                                )
                            )
                        },
                    },
                    {"name": "bob", "path": "/", "id": "AIDAEXAMPLEBOB0000001"},
                ],
                "groups": [
                    {
                        "name": "devs",
                        "path": "/",
                        "managed_policies": [f"arn:aws:iam::{A}:policy/DevRead"],
                        "inline_policies": {},
                    }
                ],
                "roles": [
                    {
                        "name": "Deployer",
                        "path": "/app/",
                        "id": "AROAEXAMPLEDEPLOYER01",
                        "trust_policy": {
                            "Version": V,
                            "Statement": [
                                {"Effect": "Allow", "Principal": {"AWS": ALICE}, "Action": "sts:AssumeRole"}
                            ],
                        },
                        "managed_policies": [],
                        "inline_policies": {"deploy": doc(allow("lambda:*"), allow("ec2:DescribeInstances"))},
                        "tags": {"tier": "gold"},
                    }
                ],
                "policies": [
                    {
                        "name": "DevRead",
                        "path": "/",
                        "document": doc(
                            allow(
                                "dynamodb:Get*", "*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
                            ),
                            allow(
                                "kms:Decrypt",
                                "*",
                                Condition={"StringEquals": {"aws:PrincipalOrgID": "o-exampleorg1"}},
                            ),
                        ),
                    }
                ],
                "resources": [
                    {"arn": "arn:aws:s3:::data", "tags": {"team": "payments"}},
                    {
                        "arn": "arn:aws:s3:::shared",
                        "policy": {
                            "Version": V,
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Principal": {"AWS": f"arn:aws:iam::{A}:user/bob"},
                                    "Action": "s3:GetObject",
                                    "Resource": "arn:aws:s3:::shared/*",
                                }
                            ],
                        },
                    },
                ],
            },
            {"id": MGMT, "unit": "r-root", "scps": []},
        ],
    }


def compiled(doc_: dict[str, Any] | None = None, **kwargs: Any) -> CompiledSnapshot:
    return compile_snapshot(load_snapshot(json.dumps(doc_ or base_snapshot()).encode()), **kwargs)


def decide(
    c: CompiledSnapshot, principal: str, action: str, resource: str = "*", **context: Any
) -> DecisionKind:
    entry = c.resolve_principal(principal)
    return c.authorize(entry, action, resource, context=normalize_context(context), now=1.7e9).kind


def test_counts_and_identity() -> None:
    c = compiled()
    assert c.version == 7
    assert c.counts["users"] == 2 and c.counts["roles"] == 1 and c.counts["accounts"] == 2
    assert len(c.sha256) == 64


def test_group_policies_merge_into_the_users_identity_policies() -> None:
    c = compiled()
    assert decide(c, ALICE, "dynamodb:GetItem", **{"aws:SourceIp": "10.1.2.3"}) is DecisionKind.ALLOW
    assert decide(c, ALICE, "dynamodb:GetItem", **{"aws:SourceIp": "192.0.2.1"}) is DecisionKind.IMPLICIT_DENY
    assert decide(c, f"arn:aws:iam::{A}:user/bob", "dynamodb:GetItem", **{"aws:SourceIp": "10.1.2.3"}) is (
        DecisionKind.IMPLICIT_DENY
    )


def test_principal_and_resource_tags_from_the_snapshot_feed_conditions_and_variables() -> None:
    c = compiled()
    # data/* carries no tags of its own in the snapshot; the bucket does, but the object is
    # another resource: only a resource the snapshot holds gets aws:ResourceTag keys.
    assert decide(c, ALICE, "s3:GetObject", "arn:aws:s3:::data/x") is DecisionKind.IMPLICIT_DENY
    assert decide(
        c, ALICE, "s3:GetObject", "arn:aws:s3:::data/x", **{"aws:ResourceTag/team": "payments"}
    ) is (DecisionKind.ALLOW)
    doc_ = base_snapshot()
    doc_["accounts"][0]["resources"].append({"arn": "arn:aws:s3:::data/report", "tags": {"team": "payments"}})
    doc_["accounts"][0]["resources"].append({"arn": "arn:aws:s3:::data/other", "tags": {"team": "risk"}})
    c2 = compiled(doc_)
    assert decide(c2, ALICE, "s3:GetObject", "arn:aws:s3:::data/report") is DecisionKind.ALLOW
    # The snapshot's resource tags win over a caller's claim.
    assert decide(
        c2, ALICE, "s3:GetObject", "arn:aws:s3:::data/other", **{"aws:ResourceTag/team": "payments"}
    ) is (DecisionKind.IMPLICIT_DENY)


def test_org_id_is_derived_for_principals_in_the_organization() -> None:
    c = compiled()
    assert decide(c, ALICE, "kms:Decrypt", "*") is DecisionKind.ALLOW
    ctx = c.resolve_principal(ALICE).principal.context
    assert ctx["aws:principalorgid"] == "o-exampleorg1"
    assert ctx["aws:principalorgpaths"] == ("o-exampleorg1/r-root/ou-prod/",)


def test_scp_chain_every_level_must_allow_and_denies_bite() -> None:
    c = compiled()
    # NoEc2 at the account level denies ec2 even though the role's policy allows it.
    assert decide(c, ROLE, "ec2:DescribeInstances") is DecisionKind.EXPLICIT_DENY
    assert decide(c, ROLE, "lambda:InvokeFunction") is DecisionKind.ALLOW
    doc_ = base_snapshot()
    doc_["organization"]["units"][1]["scps"] = ["DenyLeave"]  # this level allows nothing
    c2 = compiled(doc_)
    assert decide(c2, ROLE, "lambda:InvokeFunction") is DecisionKind.IMPLICIT_DENY


def test_management_account_is_not_governed_by_scps() -> None:
    doc_ = base_snapshot()
    doc_["accounts"][1]["users"] = [
        {
            "name": "admin",
            "path": "/",
            "id": "AIDAEXAMPLEADMIN00001",
            "inline_policies": {"all": doc(allow("*"))},
        }
    ]
    c = compiled(doc_)
    assert decide(c, f"arn:aws:iam::{MGMT}:user/admin", "ec2:RunInstances") is DecisionKind.ALLOW
    assert c.scp_levels[MGMT] == ()


def test_rcp_of_the_resource_account_applies() -> None:
    c = compiled()
    outsider = f"arn:aws:iam::{B}:user/eve"
    # Eve's account is not in the snapshot; the bucket's RCP denies principals outside the org.
    entry = c.resolve_principal(outsider)
    decision = c.authorize(entry, "s3:GetObject", "arn:aws:s3:::shared/x", context={}, now=1.7e9)
    assert decision.kind is DecisionKind.EXPLICIT_DENY
    assert decision.decided_by is not None and decision.decided_by.value == "rcp"


def test_unknown_principal_gets_no_identity_policies_but_resource_policies_can_grant() -> None:
    c = compiled()
    bob = f"arn:aws:iam::{A}:user/bob"
    assert decide(c, bob, "s3:GetObject", "arn:aws:s3:::shared/x") is DecisionKind.ALLOW
    ghost = f"arn:aws:iam::{A}:user/ghost"
    assert decide(c, ghost, "dynamodb:GetItem", **{"aws:SourceIp": "10.0.0.1"}) is DecisionKind.IMPLICIT_DENY


def test_role_session_arn_resolves_to_the_role() -> None:
    c = compiled()
    session = f"arn:aws:sts::{A}:assumed-role/Deployer/build-42"
    entry = c.resolve_principal(session)
    assert entry.principal.context["aws:principalarn"] == ROLE
    assert entry.principal.context["aws:userid"] == "AROAEXAMPLEDEPLOYER01:build-42"
    assert entry.principal.context["aws:principaltag/tier"] == "gold"
    assert decide(c, session, "lambda:InvokeFunction") is DecisionKind.ALLOW


def test_trust_policy_decides_assume_role_and_role_tags_are_resource_tags() -> None:
    c = compiled()
    assert decide(c, ALICE, "sts:AssumeRole", ROLE) is DecisionKind.ALLOW
    assert decide(c, f"arn:aws:iam::{A}:user/bob", "sts:AssumeRole", ROLE) is DecisionKind.IMPLICIT_DENY
    assert c.resources[ROLE].context["aws:resourcetag/tier"] == "gold"


def test_cache_separates_context_values_and_scopes() -> None:
    c = compiled()
    cache = DecisionCache()
    entry = c.resolve_principal(ALICE)

    def ask(ip: str, scope: int = 1) -> DecisionKind:
        ctx = normalize_context({"aws:SourceIp": ip})
        return c.authorize(
            entry, "dynamodb:GetItem", "*", context=ctx, now=1.7e9, cache=cache, scope=scope
        ).kind

    assert ask("10.0.0.1") is DecisionKind.ALLOW
    assert ask("192.0.2.1") is DecisionKind.IMPLICIT_DENY
    assert ask("10.0.0.1") is DecisionKind.ALLOW
    assert cache.hits == 1 and cache.misses == 2
    assert ask("10.0.0.1", scope=2) is DecisionKind.ALLOW
    assert cache.misses == 3  # another activation never shares an entry
    # Keys no candidate statement reads do not split the cache.
    ctx = normalize_context({"aws:SourceIp": "10.0.0.1", "aws:UserAgent": "curl"})
    c.authorize(entry, "dynamodb:GetItem", "*", context=ctx, now=1.7e9, cache=cache, scope=1)
    assert cache.hits == 2


def test_cache_key_lists_exactly_the_keys_candidates_read() -> None:
    c = compiled()
    entry = c.resolve_principal(ALICE)
    keys = c.context_keys(entry.sets, "s3:getobject")
    assert set(keys) == {"aws:resourcetag/team", "aws:principaltag/team"}
    assert c.context_keys(entry.sets, "dynamodb:getitem") == ("aws:sourceip",)


def _random_snapshot(rng: random.Random, with_org: bool = True) -> dict[str, Any]:
    actions = [
        "s3:GetObject",
        "s3:PutObject",
        "s3:List*",
        "s3:*",
        "ec2:*",
        "ec2:Describe*",
        "kms:Decrypt",
        "*",
        "iam:*AccessKey*",
        "dynamodb:Get?tem",
    ]
    resources = [
        "*",
        "arn:aws:s3:::b1/*",
        "arn:aws:s3:::b2/${aws:username}/*",
        "arn:aws:ec2:*:*:instance/*",
        "arn:aws:kms:us-east-1:111122223333:key/*",
        "arn:aws:dynamodb:*:*:table/t?",
    ]
    conditions = [
        None,
        {"StringEquals": {"aws:PrincipalTag/team": "red"}},
        {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        {"Bool": {"aws:SecureTransport": "true"}},
        {"StringLike": {"s3:prefix": "home/${aws:username}/*"}},
    ]

    def statement() -> dict[str, Any]:
        st: dict[str, Any] = {
            "Effect": rng.choice(["Allow", "Allow", "Allow", "Deny"]),
            rng.choice(["Action", "Action", "NotAction"]): rng.sample(actions, rng.randint(1, 3)),
            "Resource": rng.sample(resources, rng.randint(1, 2)),
        }
        cond = rng.choice(conditions)
        if cond:
            st["Condition"] = cond
        return st

    snap = base_snapshot()
    account = snap["accounts"][0]
    account["policies"] = [
        {"name": f"P{i}", "path": "/", "document": doc(*(statement() for _ in range(rng.randint(1, 4))))}
        for i in range(8)
    ]
    account["groups"] = [
        {
            "name": f"g{i}",
            "path": "/",
            "managed_policies": [f"arn:aws:iam::{A}:policy/P{j}" for j in rng.sample(range(8), 2)],
        }
        for i in range(4)
    ]
    account["users"] = [
        {
            "name": f"u{i}",
            "path": "/",
            "id": f"AIDAEXAMPLEUSER{i:06d}",
            "groups": rng.sample([f"g{k}" for k in range(4)], rng.randint(0, 2)),
            "tags": {"team": rng.choice(["red", "blue"])},
            "inline_policies": {"own": doc(statement())} if rng.random() < 0.5 else {},
        }
        for i in range(10)
    ]
    account["roles"][0]["inline_policies"] = {"r": doc(statement(), statement())}
    if not with_org:  # no SCPs or RCPs: most decisions take the identity-only fast path
        del snap["organization"]
        for acct in snap["accounts"]:
            acct.pop("unit", None)
            acct.pop("scps", None)
    return snap


@pytest.mark.parametrize("with_org", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_indexed_cached_engine_agrees_with_the_plain_path(seed: int, with_org: bool) -> None:
    """The indexed engine (action index, identity-only fast path, decision cache) against the
    plain path (no index, no fast path, no cache: the general algorithm only)."""
    rng = random.Random(seed)
    snap = _random_snapshot(rng, with_org)
    data = json.dumps(snap).encode()
    fast = compile_snapshot(load_snapshot(data))
    plain = compile_snapshot(load_snapshot(data), indexed=False)
    cache = DecisionCache()
    principals = [f"arn:aws:iam::{A}:user/u{i}" for i in range(10)] + [
        f"arn:aws:sts::{A}:assumed-role/Deployer/s{seed}",
        f"arn:aws:iam::{A}:root",
        f"arn:aws:iam::{B}:user/x",
    ]
    actions = [
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListBucket",
        "ec2:DescribeInstances",
        "ec2:RunInstances",
        "kms:Decrypt",
        "iam:CreateAccessKey",
        "dynamodb:GetItem",
        "sqs:SendMessage",
    ]
    resources = [
        "*",
        "arn:aws:s3:::b1/x",
        "arn:aws:s3:::b2/u3/f",
        "arn:aws:s3:::data/k",
        "arn:aws:ec2:us-east-1:111122223333:instance/i-1",
        "arn:aws:kms:us-east-1:111122223333:key/k1",
        "arn:aws:dynamodb:us-east-1:111122223333:table/t1",
    ]
    took_fast_path = 0
    for _ in range(2500):
        who = rng.choice(principals)
        action, resource = rng.choice(actions), rng.choice(resources)
        raw: dict[str, Any] = {}
        if rng.random() < 0.7:
            raw["aws:SourceIp"] = rng.choice(["10.1.1.1", "192.0.2.9"])
        if rng.random() < 0.5:
            raw["aws:SecureTransport"] = rng.choice(["true", "false"])
        if rng.random() < 0.3:
            raw["s3:prefix"] = rng.choice(["home/u3/a", "home/u4/b"])
        ctx = normalize_context(raw)
        got = fast.authorize(
            fast.resolve_principal(who), action, resource, context=ctx, now=1.7e9, cache=cache
        )
        want = plain.authorize(plain.resolve_principal(who), action, resource, context=ctx, now=1.7e9)
        entry = fast.resolve_principal(who)
        known = fast.resource_entry(resource)
        owner = fast.owner_of(entry, resource, known, None)
        sets = fast.policy_sets(entry, known, owner)
        ctx_of_known = known.context if known is not None else None
        if decide_identity_only(
            entry.principal, sets, action.lower(), resource, owner, ctx, ctx_of_known, 1.7e9
        ):
            took_fast_path += 1
        assert (got.kind, got.reason, got.matched, got.decided_by) == (
            want.kind,
            want.reason,
            want.matched,
            want.decided_by,
        ), (who, action, resource, raw)
    assert cache.hits > 0
    assert took_fast_path > 300  # the short path was really compared, not skipped


def test_indexed_engine_agrees_with_the_plain_path_on_the_conformance_suite() -> None:
    count = 0
    for file in sorted(CONFORMANCE.glob("*.jsonl")):
        for line in file.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            case = loads_json(line)
            fast = run_case(copy.deepcopy(case), now=1.7e9)
            plain = run_case(case, now=1.7e9, indexed=False)
            assert (fast.got, fast.reason) == (plain.got, plain.reason), fast.case_id
            count += 1
    assert count > 500
