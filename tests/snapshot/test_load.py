"""sidecar.snapshot.load_snapshot: the model it builds (ARNs, resolved references, compiled
policies, defaults), its sha256, and what it does with errors and warnings."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from sidecar.policy import PolicyKind, Severity, format_path, loads_json
from sidecar.snapshot import (
    INVALID_INPUT,
    NO_SUCH_ENTITY,
    Snapshot,
    SnapshotError,
    SnapshotValidationError,
    load_snapshot,
    validate_snapshot,
)

from .docs import MGMT, A, allow, as_bytes, base, doc, member, trust

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "snapshot.json"


def load(d: dict[str, Any]) -> Snapshot:
    return load_snapshot(as_bytes(d))


# --- the example -------------------------------------------------------------------------------


def test_the_example_snapshot_loads_without_a_single_problem() -> None:
    data = EXAMPLE.read_bytes()
    assert validate_snapshot(data) == []
    snapshot = load_snapshot(data)
    assert snapshot.version == 1 and snapshot.partition == "aws"
    assert [a.id for a in snapshot.accounts] == ["111111111111", "222222222222", "333333333333"]
    assert snapshot.warnings == ()
    assert snapshot.sha256 == hashlib.sha256(data).hexdigest()


def test_the_example_holds_what_it_says() -> None:
    snapshot = load_snapshot(EXAMPLE.read_bytes())
    org = snapshot.organization
    assert org is not None and org.management_account == "111111111111"
    assert {name: p.kind for name, p in org.policies.items()} == {
        "FullAWSAccess": PolicyKind.SCP,
        "DenyLeaveOrg": PolicyKind.SCP,
        "DenyS3OutsideOrg": PolicyKind.RCP,
    }
    assert [u.id for u in org.unit_path("ou-a1b2-prod0001")] == ["r-a1b2", "ou-a1b2-prod0001"]
    prod = snapshot.accounts[1]
    alice = prod.users[0]
    assert alice.arn == "arn:aws:iam::222222222222:user/alice"
    assert alice.groups == ("developers", "payments")
    assert alice.permissions_boundary == "arn:aws:iam::222222222222:policy/DeveloperBoundary"
    assert [k.id for k in alice.access_keys] == ["AKIAIOSFODNN7EXAMPLE"]
    assert [m.serial for m in alice.mfa_devices] == ["arn:aws:iam::222222222222:mfa/alice"]
    assert dict(alice.tags) == {"team": "payments", "cost-center": "cc-1234"}
    assert prod.users[1].arn == "arn:aws:iam::222222222222:user/contractors/bob"
    roles = {r.name: r for r in prod.roles}
    assert roles["PaymentsApp"].arn == "arn:aws:iam::222222222222:role/app/PaymentsApp"
    assert roles["Deployer"].max_session_duration == 7200
    auditor_trust = roles["CrossAccountAuditor"].trust_policy.statements[0]
    assert auditor_trust.principal is not None and auditor_trust.principal.accounts == {"333333333333"}
    assert [r.arn.split(":")[2] for r in prod.resources] == ["s3", "kms", "dynamodb"]
    assert all(r.account == "222222222222" for r in prod.resources)
    assert prod.resources[2].policy is None
    assert prod.policies[0].arn == "arn:aws:iam::222222222222:policy/payments/PaymentsDataRead"
    assert prod.groups[1].arn == "arn:aws:iam::222222222222:group/teams/payments"
    assert snapshot.statement_count() == 24


def test_the_example_compiles_and_decides() -> None:
    from sidecar.engine.compile import compile_snapshot

    compiled = compile_snapshot(load_snapshot(EXAMPLE.read_bytes()))
    carol = compiled.resolve_principal("arn:aws:iam::333333333333:user/carol")
    assert compiled.authorize(carol, "s3:GetObject", "arn:aws:s3:::some-bucket/x").allowed
    assert not compiled.authorize(carol, "s3:PutObject", "arn:aws:s3:::some-bucket/x").allowed


# --- ARNs and paths (reference §8.1) ------------------------------------------------------------


def test_arns_are_built_from_partition_account_path_and_name() -> None:
    d = base()
    member(d)["users"][0]["path"] = "/division_abc/subdivision_xyz/"
    member(d)["users"][0]["name"] = "JaneDoe"
    member(d)["groups"][0]["path"] = "/teams/"
    member(d)["policies"].append({"name": "Scoped", "path": "/app/x/", "document": doc()})
    snapshot = load(d)
    account = snapshot.accounts[1]
    assert account.users[0].arn == f"arn:aws:iam::{A}:user/division_abc/subdivision_xyz/JaneDoe"
    assert account.users[0].path == "/division_abc/subdivision_xyz/"
    assert account.users[0].account == A
    assert account.groups[0].arn == f"arn:aws:iam::{A}:group/teams/devs"
    assert account.roles[0].arn == f"arn:aws:iam::{A}:role/app/R"
    assert account.roles[0].account == A
    assert [p.arn for p in account.policies] == [
        f"arn:aws:iam::{A}:policy/ReadOnly",
        f"arn:aws:iam::{A}:policy/app/x/Scoped",
    ]
    assert account.policies[1].name == "Scoped" and account.policies[1].path == "/app/x/"


def test_the_partition_goes_into_every_arn() -> None:
    d = json.loads(as_bytes(base()).decode().replace("arn:aws:", "arn:aws-cn:"))
    d["partition"] = "aws-cn"
    snapshot = load(d)
    assert snapshot.partition == "aws-cn"
    account = snapshot.accounts[1]
    assert account.users[0].arn == f"arn:aws-cn:iam::{A}:user/alice"
    assert list(snapshot.aws_managed_policies) == ["arn:aws-cn:iam::aws:policy/ReadOnlyAccess"]
    assert account.users[0].managed_policies == (
        f"arn:aws-cn:iam::{A}:policy/ReadOnly",
        "arn:aws-cn:iam::aws:policy/ReadOnlyAccess",
    )


def test_aws_managed_policies_are_keyed_by_arn_and_may_have_a_path() -> None:
    d = base()
    d["aws_managed_policies"]["service-role/AWSLambdaBasicExecutionRole"] = doc(allow("logs:PutLogEvents"))
    member(d)["roles"][0]["managed_policies"] = [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    ]
    snapshot = load(d)
    lam = snapshot.aws_managed_policies["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
    assert lam.name == "AWSLambdaBasicExecutionRole" and lam.path == "/service-role/"
    read = snapshot.aws_managed_policies["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    assert read.name == "ReadOnlyAccess" and read.path == "/"
    assert read.policy.kind is PolicyKind.IDENTITY
    assert snapshot.accounts[1].roles[0].managed_policies == (lam.arn,)


# --- compiled policies -------------------------------------------------------------------------


def test_every_policy_is_compiled_with_its_kind_and_name() -> None:
    snapshot = load(base())
    account = snapshot.accounts[1]
    user_arn = f"arn:aws:iam::{A}:user/alice"
    assert [(p.kind, p.name) for p in account.users[0].inline_policies] == [
        (PolicyKind.IDENTITY, f"{user_arn}:inline/own")
    ]
    assert [(p.kind, p.name) for p in account.groups[0].inline_policies] == [
        (PolicyKind.IDENTITY, f"arn:aws:iam::{A}:group/devs:inline/g")
    ]
    role = account.roles[0]
    assert (role.trust_policy.kind, role.trust_policy.name) == (PolicyKind.TRUST, role.arn)
    policy = account.policies[0].policy
    assert (policy.kind, policy.name) == (PolicyKind.IDENTITY, f"arn:aws:iam::{A}:policy/ReadOnly")
    resource = account.resources[0]
    assert resource.policy is not None
    assert (resource.policy.kind, resource.policy.name) == (PolicyKind.RESOURCE, "arn:aws:s3:::bucket")
    org = snapshot.organization
    assert org is not None
    assert {n: (p.kind, p.name) for n, p in org.policies.items()} == {
        "FullAWSAccess": (PolicyKind.SCP, "scp:FullAWSAccess"),
        "DenyLeave": (PolicyKind.SCP, "scp:DenyLeave"),
        "DenyOutside": (PolicyKind.RCP, "rcp:DenyOutside"),
    }
    # Statements remember their policy, for explanations.
    assert role.trust_policy.statements[0].policy.name == role.arn


def test_an_unattached_org_policy_is_compiled_by_its_shape() -> None:
    d = base()
    outside = d["organization"]["policies"]["DenyOutside"]
    d["organization"]["policies"] = {
        **d["organization"]["policies"],
        "SpareRcp": outside,
        "SpareScp": doc(allow("*")),
    }
    org = load(d).organization
    assert org is not None
    assert org.policies["SpareRcp"].kind is PolicyKind.RCP
    assert org.policies["SpareScp"].kind is PolicyKind.SCP


def test_a_managed_policy_is_one_policy_object_however_often_it_is_attached() -> None:
    d = base()
    arn = f"arn:aws:iam::{A}:policy/ReadOnly"
    member(d)["groups"][0]["managed_policies"] = [arn]
    member(d)["roles"][0]["managed_policies"] = [arn]
    member(d)["roles"][0]["permissions_boundary"] = arn
    snapshot = load(d)
    account = snapshot.accounts[1]
    (managed,) = account.policies
    assert account.users[0].managed_policies[0] == arn == managed.arn
    assert account.groups[0].managed_policies == (arn,)
    assert account.roles[0].managed_policies == (arn,)
    assert account.roles[0].permissions_boundary == arn
    # counted once
    statements = [
        *snapshot.aws_managed_policies.values(),
        managed,
    ]
    per_doc = sum(len(m.policy.statements) for m in statements)
    assert per_doc == 2
    assert snapshot.statement_count() == per_doc + 3 + 2 + 1 + 1  # org 3, inline 2, trust, bucket


def test_references_resolve_without_case_to_the_declared_spelling() -> None:
    d = base()
    member(d)["users"][0]["groups"] = ["DEVS"]
    member(d)["users"][0]["managed_policies"] = [
        f"arn:aws:iam::{A}:policy/readonly",
        "ARN:AWS:IAM::AWS:POLICY/READONLYACCESS",
    ]
    member(d)["users"][0]["permissions_boundary"] = f"arn:aws:iam::{A}:policy/READONLY"
    alice = load(d).accounts[1].users[0]
    assert alice.groups == ("devs",)
    assert alice.managed_policies == (
        f"arn:aws:iam::{A}:policy/ReadOnly",
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
    )
    assert alice.permissions_boundary == f"arn:aws:iam::{A}:policy/ReadOnly"


def test_the_implied_rcp_is_not_kept_in_the_model() -> None:
    d = base()
    d["organization"]["units"][1]["rcps"] = ["RCPFullAWSAccess", "DenyOutside"]
    member(d)["rcps"] = ["RCPFullAWSAccess"]
    snapshot = load(d)
    assert snapshot.organization is not None
    assert snapshot.organization.units[1].rcps == ("DenyOutside",)
    assert snapshot.accounts[1].rcps == ()


def test_org_units_and_account_attachments() -> None:
    snapshot = load(base())
    org = snapshot.organization
    assert org is not None and org.id == "o-exampleorg1" and org.management_account == MGMT
    assert [(u.id, u.parent, u.scps, u.rcps) for u in org.units] == [
        ("r-root", None, ("FullAWSAccess",), ()),
        ("ou-prod", "r-root", ("FullAWSAccess", "DenyLeave"), ("DenyOutside",)),
    ]
    assert (snapshot.accounts[1].unit, snapshot.accounts[1].scps, snapshot.accounts[1].rcps) == (
        "ou-prod",
        ("FullAWSAccess",),
        (),
    )


# --- defaults ----------------------------------------------------------------------------------


def test_optional_fields_take_their_defaults() -> None:
    d = {
        "version": 1,
        "accounts": [
            {
                "id": A,
                "users": [{"name": "u", "id": "AIDAEXAMPLEUSER000001"}],
                "groups": [{"name": "g"}],
                "roles": [{"name": "r", "id": "AROAEXAMPLEROLE000001", "trust_policy": trust()}],
                "policies": [{"name": "p", "document": doc()}],
                "resources": [{"arn": "arn:aws:s3:::b"}],
            }
        ],
    }
    snapshot = load(d)
    assert snapshot.partition == "aws" and snapshot.organization is None
    assert dict(snapshot.aws_managed_policies) == {}
    account = snapshot.accounts[0]
    assert (account.unit, account.scps, account.rcps) == (None, (), ())
    user = account.users[0]
    assert (user.path, user.groups, user.managed_policies, user.inline_policies) == ("/", (), (), ())
    assert (user.permissions_boundary, dict(user.tags), user.access_keys, user.mfa_devices) == (
        None,
        {},
        (),
        (),
    )
    group = account.groups[0]
    assert (group.path, group.arn, group.managed_policies, group.inline_policies) == (
        "/",
        f"arn:aws:iam::{A}:group/g",
        (),
        (),
    )
    role = account.roles[0]
    assert (role.path, role.max_session_duration, role.permissions_boundary, dict(role.tags)) == (
        "/",
        3600,
        None,
        {},
    )
    assert account.policies[0].path == "/"
    resource = account.resources[0]
    assert (resource.account, resource.policy, dict(resource.tags)) == (A, None, {})


def test_an_empty_document_is_a_snapshot_with_no_accounts() -> None:
    snapshot = load_snapshot(b'{"version": 0}')
    assert snapshot.version == 0 and snapshot.accounts == () and snapshot.statement_count() == 0


def test_access_key_status_defaults_to_active_and_secrets_are_lower_case() -> None:
    d = base()
    member(d)["users"][0]["access_keys"] = [{"id": "AKIAEXAMPLEALICE0001", "secret_sha256": "AB" * 32}]
    (key,) = load(d).accounts[1].users[0].access_keys
    assert (key.status, key.secret_sha256) == ("Active", "ab" * 32)


def test_tags_are_read_only() -> None:
    alice = load(base()).accounts[1].users[0]
    assert isinstance(alice.tags, MappingProxyType)
    with pytest.raises(TypeError):
        alice.tags["team"] = "other"  # type: ignore[index]


# --- input forms and sha256 --------------------------------------------------------------------


def test_sha256_is_of_the_exact_bytes() -> None:
    data = as_bytes(base())
    spaced = json.dumps(base(), indent=2).encode()
    one, two = load_snapshot(data), load_snapshot(spaced)
    assert one.sha256 == hashlib.sha256(data).hexdigest()
    assert two.sha256 == hashlib.sha256(spaced).hexdigest()
    assert one.sha256 != two.sha256
    assert load_snapshot(data).sha256 == one.sha256  # stable
    assert load_snapshot(bytearray(data)).sha256 == one.sha256


def test_sha256_of_text_is_of_its_utf8() -> None:
    d = base()
    member(d)["users"][0]["tags"] = {"équipe": "paiements"}
    text = json.dumps(d, ensure_ascii=False)
    assert load_snapshot(text).sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert load_snapshot(text).sha256 == load_snapshot(text.encode("utf-8")).sha256


def test_sha256_of_a_mapping_is_of_its_canonical_json() -> None:
    d = base()
    canonical = json.dumps(d, sort_keys=True, separators=(",", ":")).encode()
    assert load_snapshot(d).sha256 == hashlib.sha256(canonical).hexdigest()
    reordered = dict(reversed(list(d.items())))
    assert load_snapshot(reordered).sha256 == load_snapshot(d).sha256
    # The canonical bytes themselves hash the same as the mapping.
    assert load_snapshot(canonical).sha256 == load_snapshot(d).sha256
    # A strictly parsed document (numbers kept as written) canonicalises the same way.
    assert load_snapshot(loads_json(canonical)).sha256 == load_snapshot(d).sha256


def test_sha256_changes_with_content() -> None:
    d = base()
    first = load(d).sha256
    d["version"] = 4
    assert load(d).sha256 != first


def test_a_strictly_parsed_mapping_loads() -> None:
    snapshot = load_snapshot(loads_json(as_bytes(base())))
    assert snapshot.version == 3 and isinstance(snapshot.version, int)
    assert snapshot.accounts[1].roles[0].max_session_duration == 3600


# --- errors and warnings -----------------------------------------------------------------------


def test_any_error_raises_with_every_problem() -> None:
    d = base()
    member(d)["users"][0]["groups"] = ["nope"]
    member(d)["scps"] = []  # a warning
    member(d)["roles"][0]["id"] = "bad"
    with pytest.raises(SnapshotValidationError) as info:
        load(d)
    exc = info.value
    assert isinstance(exc, SnapshotError)
    # SCP-level warnings come once every level is known, after the accounts.
    assert [(format_path(p.path), p.code, p.severity) for p in exc.problems] == [
        ("accounts[1].users[0].groups[0]", NO_SUCH_ENTITY, Severity.ERROR),
        ("accounts[1].roles[0].id", INVALID_INPUT, Severity.ERROR),
        ("accounts[1].scps", INVALID_INPUT, Severity.WARNING),
    ]
    assert [format_path(p.path) for p in exc.errors] == [
        "accounts[1].users[0].groups[0]",
        "accounts[1].roles[0].id",
    ]
    assert "2 problem(s)" in str(exc)
    assert "accounts[1].users[0].groups[0]: NoSuchEntity" in str(exc)


def test_invalid_json_raises() -> None:
    with pytest.raises(SnapshotValidationError) as info:
        load_snapshot(b"{not json")
    assert [(p.path, p.code) for p in info.value.errors] == [((), INVALID_INPUT)]


def test_duplicate_keys_raise() -> None:
    with pytest.raises(SnapshotValidationError) as info:
        load_snapshot(b'{"version": 1, "version": 2}')
    assert [(p.path, p.code) for p in info.value.errors] == [(("version",), INVALID_INPUT)]


def test_warnings_do_not_block_loading_and_travel_with_the_snapshot() -> None:
    d = base()
    member(d)["scps"] = ["DenyLeave"]
    d["accounts"][0]["scps"] = ["FullAWSAccess"]
    snapshot = load(d)
    assert [(format_path(p.path), p.severity) for p in snapshot.warnings] == [
        ("accounts[0].scps", Severity.WARNING),
        ("accounts[1].scps", Severity.WARNING),
    ]
    assert snapshot.accounts[1].scps == ("DenyLeave",)
    assert snapshot.accounts[0].scps == ("FullAWSAccess",)


def test_the_exception_text_is_bounded() -> None:
    d = base()
    member(d)["users"] = [{"name": f"u{i}", "id": "bad"} for i in range(80)]
    with pytest.raises(SnapshotValidationError) as info:
        load(d)
    assert len(info.value.errors) == 80
    assert "... and 30 more" in str(info.value)


def test_many_groups_and_policies_load() -> None:
    groups = [
        {"name": f"g{i}", "inline_policies": {f"p{k}": doc(allow(f"svc:A{i}x{k}")) for k in range(3)}}
        for i in range(200)
    ]
    users = [
        {"name": f"u{i}", "id": f"AIDA{i:017d}", "groups": [f"g{i % 200}", f"g{(i + 1) % 200}"]}
        for i in range(300)
    ]
    snapshot = load({"version": 1, "accounts": [{"id": A, "groups": groups, "users": users}]})
    assert snapshot.statement_count() == 600
    assert snapshot.accounts[0].users[299].groups == ("g99", "g100")
