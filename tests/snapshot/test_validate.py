"""sidecar.snapshot.validate_snapshot: every rule, with its exact JSON path and IAM-style code.

Each test breaks one thing in a valid document (docs.base()) and checks that exactly the
expected problems come out, so an assertion fails both when a rule stops firing and when it
fires somewhere it should not.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from sidecar.policy import DEFAULT_SIZE_LIMITS, PolicyKind, Severity, ValidationOptions
from sidecar.snapshot import (
    ENTITY_ALREADY_EXISTS,
    INVALID_INPUT,
    LIMIT_EXCEEDED,
    MALFORMED,
    NO_SUCH_ENTITY,
    SnapshotLimits,
    validate_snapshot,
)

from .docs import (
    MGMT,
    A,
    B,
    allow,
    as_bytes,
    base,
    deny,
    doc,
    errors,
    found,
    member,
    problem_at,
    trust,
    warnings,
)

ALICE = "accounts[1].users[0]"
DEVS = "accounts[1].groups[0]"
ROLE = "accounts[1].roles[0]"
UNITS = "organization.units"


def test_the_base_document_has_no_problem_at_all() -> None:
    assert found(base()) == []
    assert found(as_bytes(base())) == []


# --- reading -----------------------------------------------------------------------------------


def test_invalid_json_is_one_problem_at_the_root() -> None:
    problems = validate_snapshot(b'{"version": 1,')
    assert [(p.path, p.code) for p in problems] == [((), INVALID_INPUT)]
    assert "not valid JSON" in problems[0].message


def test_text_that_is_not_utf8_is_reported() -> None:
    problems = validate_snapshot(b'{"version": 1, "partition": "\xff"}')
    assert [(p.path, p.code) for p in problems] == [((), INVALID_INPUT)]
    assert "UTF-8" in problems[0].message


@pytest.mark.parametrize("text", ["[]", '"snapshot"', "42", "null"])
def test_a_document_that_is_not_an_object(text: str) -> None:
    assert errors(text) == [("$", INVALID_INPUT)]


def test_nan_is_not_json() -> None:
    assert errors('{"version": NaN}') == [("$", INVALID_INPUT)]


def test_duplicate_keys_in_snapshot_data_are_invalid_input_with_their_path() -> None:
    text = as_bytes(base()).decode()
    text = text.replace('"name": "alice",', '"name": "alice", "name": "alice",', 1)
    text = text.replace('"version": 3,', '"version": 3, "version": 3,', 1)
    assert errors(text) == [("version", INVALID_INPUT), (f"{ALICE}.name", INVALID_INPUT)]


def test_duplicate_keys_inside_a_policy_document_are_malformed_policy_documents() -> None:
    text = as_bytes(base()).decode()
    old = '"document": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",'
    assert old in text
    text = text.replace(old, old + ' "Effect": "Allow",', 1)
    assert errors(text) == [("accounts[1].policies[0].document.Statement[0].Effect", MALFORMED)]


def test_duplicate_inline_policy_names_are_duplicate_keys() -> None:
    text = as_bytes(base()).decode()
    old = '"inline_policies": {"own": '
    assert old in text
    text = text.replace(old, '"inline_policies": {"own": {"Statement": []}, "own": ', 1)
    assert errors(text) == [(f"{ALICE}.inline_policies.own", INVALID_INPUT)]


def test_a_parsed_mapping_is_validated_like_text() -> None:
    d = base()
    member(d)["users"][0]["name"] = "bad name"
    assert errors(d) == errors(as_bytes(d)) == [(f"{ALICE}.name", INVALID_INPUT)]


# --- top level ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["3", -1, 1.5, True, None, [3]])
def test_version_must_be_a_non_negative_integer(version: Any) -> None:
    d = base()
    d["version"] = version
    assert errors(d) == [("version", INVALID_INPUT)]
    assert errors(as_bytes(d)) == [("version", INVALID_INPUT)]


@pytest.mark.parametrize("text", ["3.0", "3e0", "-0.5"])
def test_version_as_written_must_be_an_integer(text: str) -> None:
    raw = as_bytes(base()).decode().replace('"version": 3', f'"version": {text}', 1)
    assert errors(raw) == [("version", INVALID_INPUT)]


def test_a_version_with_more_digits_than_python_converts_is_an_error_not_a_crash() -> None:
    raw = as_bytes(base()).decode().replace('"version": 3', '"version": ' + "9" * 5000, 1)
    assert errors(raw) == [("version", INVALID_INPUT)]
    assert len(problem_at(raw, "version").message) < 100


def test_version_zero_and_huge_versions_are_fine() -> None:
    d = base()
    d["version"] = 0
    assert errors(d) == []
    d["version"] = 2**62
    assert errors(d) == []


def test_version_is_required() -> None:
    d = base()
    del d["version"]
    problem = problem_at(d, "version")
    assert problem.code == INVALID_INPUT and "requires" in problem.message


@pytest.mark.parametrize("partition", ["aws-iso", "AWS", "", 1])
def test_partition_must_be_aws_aws_cn_or_aws_us_gov(partition: Any) -> None:
    d = base()
    d["partition"] = partition
    assert ("partition", INVALID_INPUT) in errors(d)


def test_unknown_top_level_field_is_rejected_with_a_suggestion() -> None:
    d = base()
    d["acounts"] = []
    problem = problem_at(d, "acounts")
    assert problem.code == INVALID_INPUT
    assert "did you mean 'accounts'" in problem.message
    assert errors(d) == [("acounts", INVALID_INPUT)]


# --- unknown fields and JSON types everywhere ---------------------------------------------------


@pytest.mark.parametrize(
    ("where", "key"),
    [
        (lambda d: d["organization"], "organisation_id"),
        (lambda d: d["organization"]["units"][0], "name"),
        (lambda d: member(d), "alias"),
        (lambda d: member(d)["users"][0], "manged_policies"),
        (lambda d: member(d)["groups"][0], "tags"),
        (lambda d: member(d)["roles"][0], "description"),
        (lambda d: member(d)["policies"][0], "default_version"),
        (lambda d: member(d)["resources"][0], "owner"),
        (lambda d: member(d)["users"][0]["access_keys"][0], "created"),
        (lambda d: member(d)["users"][0]["mfa_devices"][0], "type"),
    ],
)
def test_unknown_fields_are_rejected_everywhere(where: Any, key: str) -> None:
    d = base()
    where(d)[key] = "x"
    result = errors(d)
    assert len(result) == 1
    path, code = result[0]
    assert code == INVALID_INPUT and path.endswith(f".{key}")


def test_a_typo_gets_the_closest_field_name() -> None:
    d = base()
    member(d)["users"][0]["manged_policies"] = []
    problem = problem_at(d, f"{ALICE}.manged_policies")
    assert "did you mean 'managed_policies'" in problem.message


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d.update(accounts={}), "accounts"),
        (lambda d: d.update(aws_managed_policies=[]), "aws_managed_policies"),
        (lambda d: d["accounts"].__setitem__(1, "111122223333"), "accounts[1]"),
        (lambda d: member(d).update(users=None), "accounts[1].users"),
        (lambda d: member(d)["users"].__setitem__(0, []), ALICE),
        (lambda d: member(d)["users"][0].update(name=7), f"{ALICE}.name"),
        (lambda d: member(d)["users"][0].update(path=None), f"{ALICE}.path"),
        (lambda d: member(d)["users"][0].update(groups="devs"), f"{ALICE}.groups"),
        (lambda d: member(d)["users"][0].update(groups=[1]), f"{ALICE}.groups[0]"),
        (lambda d: member(d)["users"][0].update(tags=[]), f"{ALICE}.tags"),
        (lambda d: member(d)["users"][0].update(inline_policies=[]), f"{ALICE}.inline_policies"),
        (lambda d: member(d)["users"][0].update(permissions_boundary=5), f"{ALICE}.permissions_boundary"),
        (lambda d: member(d).update(unit=5), "accounts[1].unit"),
        (lambda d: d["organization"].update(units={}), "organization.units"),
        (lambda d: d["organization"]["units"][1].update(parent=1), "organization.units[1].parent"),
    ],
)
def test_wrong_json_types_are_invalid_input(change: Any, path: str) -> None:
    d = base()
    change(d)
    assert (path, INVALID_INPUT) in errors(d)
    assert all(code != MALFORMED for _, code in errors(d))


# --- accounts ----------------------------------------------------------------------------------


@pytest.mark.parametrize("account", ["11112222333", "1111222233334", "11112222333a", "١١١١٢٢٢٢٣٣٣٣"])
def test_account_id_is_12_ascii_digits(account: str) -> None:
    d = base()
    member(d)["id"] = account
    member(d)["users"][0]["managed_policies"] = []
    member(d)["users"][0]["permissions_boundary"] = None
    assert errors(d) == [("accounts[1].id", INVALID_INPUT)]


def test_account_id_is_required() -> None:
    d = base()
    del d["accounts"][0]["id"]
    assert errors(d) == [("accounts[0].id", INVALID_INPUT)]


def test_duplicate_account_ids() -> None:
    d = base()
    d["accounts"].append({"id": MGMT})
    assert errors(d) == [("accounts[2].id", ENTITY_ALREADY_EXISTS)]


def test_an_account_in_an_unknown_unit() -> None:
    d = base()
    member(d)["unit"] = "ou-nope"
    assert errors(d) == [("accounts[1].unit", NO_SUCH_ENTITY)]


def test_an_account_in_a_unit_without_an_organization() -> None:
    d = base()
    del d["organization"]
    d["accounts"][0]["unit"] = None
    member(d)["scps"] = []
    assert errors(d) == [("accounts[1].unit", NO_SUCH_ENTITY)]
    assert "no organization" in problem_at(d, "accounts[1].unit").message


def test_scps_without_an_organization_are_unknown() -> None:
    d = base()
    del d["organization"]
    d["accounts"][0].pop("unit")
    member(d)["unit"] = None
    assert errors(d) == [("accounts[1].scps[0]", NO_SUCH_ENTITY)]


# --- names and paths (reference §8.3) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("entity", "max_len"),
    [("users", 64), ("roles", 64), ("groups", 128), ("policies", 128)],
)
def test_entity_name_length(entity: str, max_len: int) -> None:
    d = base()
    member(d)[entity][0]["name"] = "n" * max_len
    if entity == "groups":
        member(d)["users"][0]["groups"] = ["n" * max_len]
    if entity == "policies":
        member(d)["users"][0]["managed_policies"] = []
        member(d)["users"][0]["permissions_boundary"] = None
    assert errors(d) == []
    member(d)[entity][0]["name"] = "n" * (max_len + 1)
    if entity == "groups":
        member(d)["users"][0]["groups"] = []
    assert errors(d) == [(f"accounts[1].{entity}[0].name", INVALID_INPUT)]


@pytest.mark.parametrize("name", ["", "al ice", "alice/x", "alice*", "élise", "a:b"])
def test_user_name_characters(name: str) -> None:
    d = base()
    member(d)["users"][0]["name"] = name
    assert errors(d) == [(f"{ALICE}.name", INVALID_INPUT)]


def test_user_name_allows_the_iam_punctuation() -> None:
    d = base()
    member(d)["users"][0]["name"] = "a_b+c=d,e.f@g-h"
    assert errors(d) == []


def test_names_are_required() -> None:
    d = base()
    del member(d)["users"][0]["name"]
    del member(d)["roles"][0]["name"]
    del member(d)["policies"][0]["name"]
    member(d)["users"][0]["managed_policies"] = []
    member(d)["users"][0]["permissions_boundary"] = None
    assert errors(d) == [
        ("accounts[1].policies[0].name", INVALID_INPUT),
        (f"{ALICE}.name", INVALID_INPUT),
        (f"{ROLE}.name", INVALID_INPUT),
    ]


@pytest.mark.parametrize("path", ["app/", "/app", "//", "/a b/", "/é/", "", "/" + "a" * 511 + "/"])
def test_entity_paths(path: str) -> None:
    d = base()
    member(d)["roles"][0]["path"] = path
    assert errors(d) == [(f"{ROLE}.path", INVALID_INPUT)]


@pytest.mark.parametrize("path", ["/", "/app/", "/a/b/c/", "/a*b!~/", "/" + "a" * 510 + "/"])
def test_valid_entity_paths(path: str) -> None:
    d = base()
    member(d)["roles"][0]["path"] = path
    assert errors(d) == []


@pytest.mark.parametrize(
    ("path", "ok"), [("/a.b/c_d/", True), ("/a*b/", False), ("//", False), ("/a", False)]
)
def test_policy_paths(path: str, ok: bool) -> None:
    d = base()
    member(d)["policies"].append({"name": "P2", "path": path, "document": doc()})
    assert errors(d) == ([] if ok else [("accounts[1].policies[1].path", INVALID_INPUT)])


@pytest.mark.parametrize("name", ["a/b", "a b", "a*", "a?", "a\\b", "x" * 129, ""])
def test_inline_policy_names(name: str) -> None:
    d = base()
    member(d)["users"][0]["inline_policies"] = {name: doc()}
    assert errors(d) == [(f"{ALICE}.inline_policies.{name}", INVALID_INPUT)]


def test_inline_policy_names_allow_other_ascii() -> None:
    d = base()
    member(d)["users"][0]["inline_policies"] = {"a:b#c!d(e)": doc()}
    assert errors(d) == []


@pytest.mark.parametrize("name", ["bad name", "/ReadOnly", "service-role/", "a//b"])
def test_aws_managed_policy_names(name: str) -> None:
    d = base()
    d["aws_managed_policies"][name] = doc()
    assert errors(d) == [(f"aws_managed_policies.{name}", INVALID_INPUT)]


# --- unique ids, keys, MFA ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "uid",
    [
        "AROAEXAMPLEALICE00001",  # a role's prefix
        "AIDAexamplealice00001",  # lower case
        "AIDA" + "A" * 15,  # too short
        "AIDA" + "A" * 125,  # too long
        "AIDAEXAMPLE_ALICE0001",
    ],
)
def test_user_unique_ids(uid: str) -> None:
    d = base()
    member(d)["users"][0]["id"] = uid
    assert errors(d) == [(f"{ALICE}.id", INVALID_INPUT)]


@pytest.mark.parametrize("uid", ["AIDA" + "A" * 16, "AIDA" + "7" * 124])
def test_user_unique_id_lengths_accepted(uid: str) -> None:
    d = base()
    member(d)["users"][0]["id"] = uid
    assert errors(d) == []


def test_role_ids_start_with_aroa() -> None:
    d = base()
    member(d)["roles"][0]["id"] = "AIDAEXAMPLEROLE000001"
    assert errors(d) == [(f"{ROLE}.id", INVALID_INPUT)]


def test_ids_are_required_for_users_and_roles() -> None:
    d = base()
    del member(d)["users"][0]["id"]
    del member(d)["roles"][0]["id"]
    assert errors(d) == [(f"{ALICE}.id", INVALID_INPUT), (f"{ROLE}.id", INVALID_INPUT)]


def test_unique_ids_are_unique_across_the_snapshot() -> None:
    d = base()
    d["accounts"][0]["users"] = [{"name": "alice", "id": "AIDAEXAMPLEALICE00001"}]
    assert errors(d) == [(f"{ALICE}.id", ENTITY_ALREADY_EXISTS)]


@pytest.mark.parametrize(
    "key", ["AKIAEXAMPLE", "ASIAEXAMPLEALICE0001", "AKIAexamplealice0001", "AKIA" + "A" * 17]
)
def test_access_key_ids(key: str) -> None:
    d = base()
    member(d)["users"][0]["access_keys"][0]["id"] = key
    assert errors(d) == [(f"{ALICE}.access_keys[0].id", INVALID_INPUT)]


def test_access_key_ids_are_unique_across_the_snapshot() -> None:
    d = base()
    key = copy.deepcopy(member(d)["users"][0]["access_keys"][0])
    d["accounts"][0]["users"] = [{"name": "root-user", "id": "AIDAEXAMPLEOTHER00001", "access_keys": [key]}]
    # Accounts are read in order: the member account's key is the second one.
    assert errors(d) == [(f"{ALICE}.access_keys[0].id", ENTITY_ALREADY_EXISTS)]


@pytest.mark.parametrize("secret", ["ab" * 31, "g" * 64, "ab" * 33, ""])
def test_access_key_secret_is_64_hex_digits(secret: str) -> None:
    d = base()
    member(d)["users"][0]["access_keys"][0]["secret_sha256"] = secret
    assert errors(d) == [(f"{ALICE}.access_keys[0].secret_sha256", INVALID_INPUT)]


@pytest.mark.parametrize("status", ["active", "Disabled", ""])
def test_access_key_status(status: str) -> None:
    d = base()
    member(d)["users"][0]["access_keys"][0]["status"] = status
    assert errors(d) == [(f"{ALICE}.access_keys[0].status", INVALID_INPUT)]


def test_access_key_needs_id_and_secret() -> None:
    d = base()
    member(d)["users"][0]["access_keys"] = [{"status": "Inactive"}]
    assert errors(d) == [
        (f"{ALICE}.access_keys[0].id", INVALID_INPUT),
        (f"{ALICE}.access_keys[0].secret_sha256", INVALID_INPUT),
    ]


@pytest.mark.parametrize("serial", ["short", "arn:aws:iam::1:mfa/a b", "x" * 257])
def test_mfa_serials(serial: str) -> None:
    d = base()
    member(d)["users"][0]["mfa_devices"][0]["serial"] = serial
    assert errors(d) == [(f"{ALICE}.mfa_devices[0].serial", INVALID_INPUT)]


def test_hardware_mfa_serials_are_accepted() -> None:
    d = base()
    member(d)["users"][0]["mfa_devices"][0]["serial"] = "GAHT12345678"
    assert errors(d) == []


@pytest.mark.parametrize("seed", ["JBSWY3DP1", "JBSWY3", "J", "", "JBSW Y3DP", "=JBSWY3DP"])
def test_mfa_seed_is_base32(seed: str) -> None:
    d = base()
    member(d)["users"][0]["mfa_devices"][0]["totp_seed_base32"] = seed
    assert errors(d) == [(f"{ALICE}.mfa_devices[0].totp_seed_base32", INVALID_INPUT)]


@pytest.mark.parametrize("seed", ["jbswy3dpehpk3pxp", "JBSWY3DPEE======", "MZXW6===", "JBSWY3D"])
def test_mfa_seed_forms_accepted(seed: str) -> None:
    d = base()
    member(d)["users"][0]["mfa_devices"][0]["totp_seed_base32"] = seed
    assert errors(d) == []


def test_mfa_serials_are_unique() -> None:
    d = base()
    device = member(d)["users"][0]["mfa_devices"][0]
    member(d)["users"][0]["mfa_devices"].append(dict(device))
    assert errors(d) == [(f"{ALICE}.mfa_devices[1].serial", ENTITY_ALREADY_EXISTS)]


# --- uniqueness of names -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entity", "extra"),
    [
        ("users", {"id": "AIDAEXAMPLEALICE00002"}),
        ("roles", {"id": "AROAEXAMPLEROLE000002", "trust_policy": trust()}),
        ("groups", {}),
    ],
)
def test_names_are_unique_per_account_without_case(entity: str, extra: dict[str, Any]) -> None:
    d = base()
    name = member(d)[entity][0]["name"]
    member(d)[entity].append({"name": name.upper() if name != name.upper() else name.lower(), **extra})
    assert errors(d) == [(f"accounts[1].{entity}[1].name", ENTITY_ALREADY_EXISTS)]


def test_the_same_name_in_another_account_or_kind_is_fine() -> None:
    d = base()
    d["accounts"][0]["users"] = [{"name": "alice", "id": "AIDAEXAMPLEALICE00002"}]
    member(d)["roles"][0]["name"] = "alice"
    member(d)["groups"].append({"name": "alice"})
    assert errors(d) == []


def test_managed_policy_arns_are_unique_without_case() -> None:
    d = base()
    member(d)["policies"].append({"name": "readonly", "document": doc()})
    member(d)["policies"].append({"name": "ReadOnly", "path": "/other/", "document": doc()})
    assert errors(d) == [("accounts[1].policies[1].name", ENTITY_ALREADY_EXISTS)]


def test_resource_arns_are_unique_across_the_snapshot() -> None:
    d = base()
    d["accounts"][0]["resources"] = [{"arn": "arn:aws:s3:::bucket"}]
    assert errors(d) == [("accounts[1].resources[0].arn", ENTITY_ALREADY_EXISTS)]


def test_unit_ids_are_unique() -> None:
    d = base()
    d["organization"]["units"].append({"id": "ou-prod", "parent": "r-root", "scps": ["FullAWSAccess"]})
    assert errors(d) == [(f"{UNITS}[2].id", ENTITY_ALREADY_EXISTS)]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("groups", ["devs", "DEVS"]),
        ("managed_policies", [f"arn:aws:iam::{A}:policy/ReadOnly", f"arn:aws:iam::{A}:policy/ReadOnly"]),
    ],
)
def test_a_reference_listed_twice(key: str, value: list[str]) -> None:
    d = base()
    member(d)["users"][0][key] = value
    assert errors(d) == [(f"{ALICE}.{key}[1]", INVALID_INPUT)]


def test_an_scp_listed_twice() -> None:
    d = base()
    d["organization"]["units"][0]["scps"] = ["FullAWSAccess", "FullAWSAccess"]
    assert errors(d) == [(f"{UNITS}[0].scps[1]", INVALID_INPUT)]


# --- references --------------------------------------------------------------------------------


def test_unknown_managed_policy_arn() -> None:
    d = base()
    member(d)["users"][0]["managed_policies"].append(f"arn:aws:iam::{A}:policy/Nope")
    assert errors(d) == [(f"{ALICE}.managed_policies[2]", NO_SUCH_ENTITY)]


def test_unknown_aws_managed_policy() -> None:
    d = base()
    member(d)["groups"][0]["managed_policies"] = ["arn:aws:iam::aws:policy/PowerUserAccess"]
    assert errors(d) == [(f"{DEVS}.managed_policies[0]", NO_SUCH_ENTITY)]


def test_a_policy_of_another_account_cannot_be_attached() -> None:
    d = base()
    d["accounts"][0]["policies"] = [{"name": "Mgmt", "document": doc()}]
    member(d)["roles"][0]["managed_policies"] = [f"arn:aws:iam::{MGMT}:policy/Mgmt"]
    assert errors(d) == [(f"{ROLE}.managed_policies[0]", NO_SUCH_ENTITY)]


def test_a_policy_arn_in_another_partition_is_unknown() -> None:
    d = base()
    member(d)["users"][0]["managed_policies"] = ["arn:aws-cn:iam::aws:policy/ReadOnlyAccess"]
    assert errors(d) == [(f"{ALICE}.managed_policies[0]", NO_SUCH_ENTITY)]


def test_unknown_permissions_boundary() -> None:
    d = base()
    member(d)["roles"][0]["permissions_boundary"] = f"arn:aws:iam::{A}:policy/Boundary"
    assert errors(d) == [(f"{ROLE}.permissions_boundary", NO_SUCH_ENTITY)]


def test_an_aws_managed_policy_can_be_a_boundary() -> None:
    d = base()
    member(d)["roles"][0]["permissions_boundary"] = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    assert errors(d) == []


def test_unknown_group() -> None:
    d = base()
    member(d)["users"][0]["groups"] = ["devs", "admins"]
    assert errors(d) == [(f"{ALICE}.groups[1]", NO_SUCH_ENTITY)]


def test_a_group_of_another_account_is_unknown() -> None:
    d = base()
    d["accounts"][0]["groups"] = [{"name": "ops"}]
    member(d)["users"][0]["groups"] = ["ops"]
    assert errors(d) == [(f"{ALICE}.groups[0]", NO_SUCH_ENTITY)]


def test_unknown_scp_and_rcp_names() -> None:
    d = base()
    d["organization"]["units"][1]["scps"] = ["FullAWSAccess", "NoSuchScp"]
    member(d)["rcps"] = ["NoSuchRcp"]
    assert errors(d) == [(f"{UNITS}[1].scps[1]", NO_SUCH_ENTITY), ("accounts[1].rcps[0]", NO_SUCH_ENTITY)]


def test_rcp_full_aws_access_is_implied_and_may_be_listed() -> None:
    d = base()
    d["organization"]["units"][0]["rcps"] = ["RCPFullAWSAccess"]
    member(d)["rcps"] = ["RCPFullAWSAccess"]
    assert found(d) == []


def test_an_scp_named_like_the_implied_rcp_is_still_unknown() -> None:
    d = base()
    member(d)["scps"] = ["FullAWSAccess", "RCPFullAWSAccess"]
    assert errors(d) == [("accounts[1].scps[1]", NO_SUCH_ENTITY)]


# --- the organisation --------------------------------------------------------------------------


def test_unknown_parent_unit() -> None:
    d = base()
    d["organization"]["units"][1]["parent"] = "r-nope"
    assert errors(d) == [(f"{UNITS}[1].parent", NO_SUCH_ENTITY)]


def test_exactly_one_root_none() -> None:
    d = base()
    d["organization"]["units"][0]["parent"] = "ou-prod"
    result = errors(d)
    # No root, and the two units now form a cycle.
    assert result == [(UNITS, INVALID_INPUT), (f"{UNITS}[0].parent", INVALID_INPUT)]


def test_exactly_one_root_an_empty_unit_list() -> None:
    d = base()
    d["organization"]["units"] = []
    d["accounts"][0]["unit"] = None
    member(d)["unit"] = None
    member(d)["scps"] = []
    assert errors(d) == [(UNITS, INVALID_INPUT)]


def test_exactly_one_root_two_roots() -> None:
    d = base()
    d["organization"]["units"].append({"id": "r-other", "parent": None, "scps": ["FullAWSAccess"]})
    assert errors(d) == [(f"{UNITS}[2].parent", INVALID_INPUT)]


def test_parent_defaults_to_null() -> None:
    d = base()
    d["organization"]["units"].append({"id": "r-other", "scps": ["FullAWSAccess"]})
    assert errors(d) == [(f"{UNITS}[2].parent", INVALID_INPUT)]


def test_a_cycle_in_parents_is_reported_once_at_its_first_unit() -> None:
    d = base()
    d["organization"]["units"] += [
        {"id": "ou-a", "parent": "ou-c", "scps": ["FullAWSAccess"]},
        {"id": "ou-b", "parent": "ou-a", "scps": ["FullAWSAccess"]},
        {"id": "ou-c", "parent": "ou-b", "scps": ["FullAWSAccess"]},
        {"id": "ou-d", "parent": "ou-d", "scps": ["FullAWSAccess"]},
        {"id": "ou-e", "parent": "ou-c", "scps": ["FullAWSAccess"]},  # hangs off the cycle
    ]
    assert errors(d) == [(f"{UNITS}[2].parent", INVALID_INPUT), (f"{UNITS}[5].parent", INVALID_INPUT)]
    assert "ou-a → ou-c → ou-b → ou-a" in problem_at(d, f"{UNITS}[2].parent").message
    assert "ou-d → ou-d" in problem_at(d, f"{UNITS}[5].parent").message


def test_a_deep_chain_is_not_a_cycle() -> None:
    d = base()
    parent = "ou-prod"
    for i in range(300):
        d["organization"]["units"].append({"id": f"ou-{i}", "parent": parent, "scps": ["FullAWSAccess"]})
        parent = f"ou-{i}"
    member(d)["unit"] = parent
    assert found(d) == []


def test_organization_needs_id_and_management_account() -> None:
    d = base()
    del d["organization"]["id"]
    d["organization"]["management_account"] = "9999"
    assert errors(d) == [
        ("organization.id", INVALID_INPUT),
        ("organization.management_account", INVALID_INPUT),
    ]


def test_unit_ids_are_ids() -> None:
    d = base()
    d["organization"]["units"][1]["id"] = "ou prod"
    member(d)["unit"] = "r-root"
    assert errors(d) == [(f"{UNITS}[1].id", INVALID_INPUT)]


def test_a_policy_attached_as_scp_and_as_rcp_is_an_error() -> None:
    d = base()
    member(d)["rcps"] = ["DenyLeave"]
    problem = problem_at(d, "organization.policies.DenyLeave")
    assert problem.code == INVALID_INPUT
    assert f"{UNITS}[1].scps[1]" in problem.message and "accounts[1].rcps[0]" in problem.message
    assert errors(d) == [("organization.policies.DenyLeave", INVALID_INPUT)]


def test_org_policies_are_validated_as_scp_or_rcp_by_attachment() -> None:
    d = base()
    # An SCP may not name a principal; an RCP may only deny.
    d["organization"]["policies"]["DenyLeave"]["Statement"][0]["Principal"] = "*"
    d["organization"]["policies"]["DenyOutside"]["Statement"][0]["Effect"] = "Allow"
    assert errors(d) == [
        ("organization.policies.DenyLeave.Statement[0].Principal", MALFORMED),
        ("organization.policies.DenyOutside.Statement[0].Effect", MALFORMED),
    ]


def test_an_unattached_org_policy_is_still_validated() -> None:
    d = base()
    d["organization"]["policies"]["Spare"] = doc({"Effect": "Perhaps", "Action": "*", "Resource": "*"})
    assert errors(d) == [("organization.policies.Spare.Statement[0].Effect", MALFORMED)]


def test_more_than_five_scps_or_rcps_on_one_target() -> None:
    d = base()
    policies = d["organization"]["policies"]
    for i in range(5):
        policies[f"Extra{i}"] = doc(deny(f"svc:Act{i}"))
    d["organization"]["units"][0]["scps"] = ["FullAWSAccess"] + [f"Extra{i}" for i in range(5)]
    assert errors(d) == [(f"{UNITS}[0].scps", LIMIT_EXCEEDED)]
    limits = SnapshotLimits(policies_per_target_scp_rcp=6)
    assert errors(d, limits) == []


# --- warnings ----------------------------------------------------------------------------------


def test_a_unit_whose_scps_allow_nothing_is_a_warning() -> None:
    d = base()
    d["organization"]["units"][1]["scps"] = ["DenyLeave"]
    assert found(d) == [(f"{UNITS}[1].scps", INVALID_INPUT, "warning")]
    assert "allow nothing" in problem_at(d, f"{UNITS}[1].scps").message


def test_a_unit_with_no_scps_is_a_warning() -> None:
    d = base()
    d["organization"]["units"][1]["scps"] = []
    assert warnings(d) == [(f"{UNITS}[1].scps", INVALID_INPUT)]
    assert errors(d) == []


def test_an_account_whose_scps_allow_nothing_is_a_warning() -> None:
    d = base()
    member(d)["scps"] = ["DenyLeave"]
    assert found(d) == [("accounts[1].scps", INVALID_INPUT, "warning")]
    del member(d)["scps"]  # none attached: the account level denies everything too
    assert found(d) == [("accounts[1].scps", INVALID_INPUT, "warning")]


def test_a_conditional_allow_counts_as_allowing_something() -> None:
    d = base()
    d["organization"]["policies"]["DenyLeave"] = doc(
        allow("s3:GetObject", Condition={"StringEquals": {"aws:PrincipalTag/team": "x"}})
    )
    member(d)["scps"] = ["DenyLeave"]
    assert found(d) == []


def test_no_allow_nothing_warning_when_a_name_is_unknown() -> None:
    d = base()
    member(d)["scps"] = ["Nope"]
    assert found(d) == [("accounts[1].scps[0]", NO_SUCH_ENTITY, "error")]


def test_scps_on_the_management_account_are_a_warning() -> None:
    d = base()
    d["accounts"][0]["scps"] = ["FullAWSAccess"]
    d["accounts"][0]["rcps"] = ["DenyOutside"]
    assert found(d) == [
        ("accounts[0].scps", INVALID_INPUT, "warning"),
        ("accounts[0].rcps", INVALID_INPUT, "warning"),
    ]
    assert "management account" in problem_at(d, "accounts[0].scps").message


def test_the_management_account_needs_no_scps() -> None:
    d = base()
    assert "scps" not in d["accounts"][0]
    assert found(d) == []


def test_scps_on_an_account_outside_the_organization_are_a_warning() -> None:
    d = base()
    d["accounts"].append({"id": B, "unit": None, "scps": ["FullAWSAccess"]})
    assert found(d) == [("accounts[2].scps", INVALID_INPUT, "warning")]


def test_warnings_carry_the_warning_severity() -> None:
    d = base()
    member(d)["scps"] = []
    (problem,) = validate_snapshot(d)
    assert problem.severity is Severity.WARNING and not problem.is_error


# --- embedded policies -------------------------------------------------------------------------


def test_trust_policy_problems_are_rooted_at_the_role() -> None:
    d = base()
    d["accounts"][1]["roles"][0]["trust_policy"]["Statement"].append(
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::*:root"}, "Action": "sts:AssumeRole"}
    )
    assert errors(d) == [(f"{ROLE}.trust_policy.Statement[1].Principal.AWS", MALFORMED)]


def test_a_trust_policy_is_validated_as_a_trust_policy() -> None:
    d = base()
    member(d)["roles"][0]["trust_policy"]["Statement"][0]["Resource"] = "*"
    assert errors(d) == [(f"{ROLE}.trust_policy.Statement[0].Resource", MALFORMED)]


def test_the_trust_policy_is_required() -> None:
    d = base()
    del member(d)["roles"][0]["trust_policy"]
    assert errors(d) == [(f"{ROLE}.trust_policy", INVALID_INPUT)]


def test_identity_policies_may_not_name_a_principal() -> None:
    d = base()
    member(d)["users"][0]["inline_policies"]["own"]["Statement"][0]["Principal"] = "*"
    member(d)["policies"][0]["document"]["Statement"][0]["Principal"] = "*"
    d["aws_managed_policies"]["ReadOnlyAccess"]["Statement"][0]["Principal"] = "*"
    assert errors(d) == [
        ("aws_managed_policies.ReadOnlyAccess.Statement[0].Principal", MALFORMED),
        ("accounts[1].policies[0].document.Statement[0].Principal", MALFORMED),
        (f"{ALICE}.inline_policies.own.Statement[0].Principal", MALFORMED),
    ]


def test_a_resource_policy_needs_a_principal() -> None:
    d = base()
    del member(d)["resources"][0]["policy"]["Statement"][0]["Principal"]
    assert errors(d) == [("accounts[1].resources[0].policy.Statement[0]", MALFORMED)]


def test_resource_policy_sids_are_free_text_but_identity_sids_are_not() -> None:
    d = base()
    member(d)["resources"][0]["policy"]["Statement"][0]["Sid"] = "Allow alice"
    assert errors(d) == []
    member(d)["groups"][0]["inline_policies"]["g"]["Statement"][0]["Sid"] = "Allow devs"
    assert errors(d) == [(f"{DEVS}.inline_policies.g.Statement[0].Sid", MALFORMED)]


@pytest.mark.parametrize("value", ["{}", "[]", '"text"', "null"])
def test_a_policy_document_must_be_an_object(value: str) -> None:
    d = base()
    member(d)["policies"][0]["document"] = json.loads(value)
    result = errors(d)
    assert result[0] == ("accounts[1].policies[0].document", MALFORMED)


def test_a_null_resource_policy_means_none() -> None:
    d = base()
    member(d)["resources"][0]["policy"] = None
    assert errors(d) == []


def test_policy_warnings_are_rooted_too() -> None:
    d = base()
    member(d)["users"][0]["inline_policies"]["own"]["Statement"][0]["Action"] = "s3:Get Object"
    (problem,) = validate_snapshot(d)
    assert problem.severity is Severity.WARNING
    assert problem.path == ("accounts", 1, "users", 0, "inline_policies", "own", "Statement", 0, "Action")


def test_a_managed_policy_over_6144_characters() -> None:
    d = base()
    member(d)["policies"][0]["document"] = doc(allow("s3:GetObject", "arn:aws:s3:::" + "b" * 6200))
    assert errors(d) == [("accounts[1].policies[0].document", LIMIT_EXCEEDED)]


def test_a_trust_policy_over_the_configured_size() -> None:
    d = base()
    member(d)["roles"][0]["trust_policy"]["Statement"][0]["Condition"] = {
        "StringEquals": {"sts:ExternalId": "x" * 2100}
    }
    assert errors(d) == [(f"{ROLE}.trust_policy", LIMIT_EXCEEDED)]
    sizes = dict(DEFAULT_SIZE_LIMITS)
    sizes[PolicyKind.TRUST] = 4096
    assert errors(d, SnapshotLimits(policy_options=ValidationOptions(size_limits=sizes))) == []


# --- quotas ------------------------------------------------------------------------------------


def _policies(d: dict[str, Any], n: int) -> list[str]:
    member(d)["policies"] = [{"name": f"P{i}", "document": doc()} for i in range(n)]
    member(d)["users"][0]["managed_policies"] = []
    member(d)["users"][0]["permissions_boundary"] = None
    return [f"arn:aws:iam::{A}:policy/P{i}" for i in range(n)]


@pytest.mark.parametrize(
    ("entity", "limit_name"),
    [
        ("users", "managed_policies_per_user"),
        ("roles", "managed_policies_per_role"),
        ("groups", "managed_policies_per_group"),
    ],
)
def test_managed_policies_per_entity(entity: str, limit_name: str) -> None:
    d = base()
    arns = _policies(d, 11)
    member(d)[entity][0]["managed_policies"] = arns[:10]
    assert errors(d) == []
    member(d)[entity][0]["managed_policies"] = arns
    assert errors(d) == [(f"accounts[1].{entity}[0].managed_policies", LIMIT_EXCEEDED)]
    assert errors(d, SnapshotLimits(**{limit_name: 11})) == []


def test_groups_per_user() -> None:
    d = base()
    member(d)["groups"] = [{"name": f"g{i}"} for i in range(11)]
    member(d)["users"][0]["groups"] = [f"g{i}" for i in range(10)]
    assert errors(d) == []
    member(d)["users"][0]["groups"] = [f"g{i}" for i in range(11)]
    assert errors(d) == [(f"{ALICE}.groups", LIMIT_EXCEEDED)]


def _sized(chars: int) -> dict[str, Any]:
    """An identity policy of exactly ``chars`` characters without whitespace."""
    from sidecar.policy.jsonload import compact_size

    policy = doc(allow("s3:GetObject", "arn:aws:s3:::"))
    pad = chars - compact_size(policy)
    policy["Statement"][0]["Resource"] = "arn:aws:s3:::" + "b" * pad
    assert compact_size(policy) == chars
    return policy


@pytest.mark.parametrize(
    ("entity", "quota"),
    [("users", 2048), ("groups", 5120), ("roles", 10240)],
)
def test_inline_policy_bytes_are_summed_per_entity(entity: str, quota: int) -> None:
    d = base()
    half = quota // 2
    member(d)[entity][0]["inline_policies"] = {"one": _sized(half), "two": _sized(quota - half)}
    assert errors(d) == []
    member(d)[entity][0]["inline_policies"]["two"] = _sized(quota - half + 1)
    assert errors(d) == [(f"accounts[1].{entity}[0].inline_policies", LIMIT_EXCEEDED)]


def test_one_inline_role_policy_may_exceed_the_managed_policy_size() -> None:
    d = base()
    member(d)["roles"][0]["inline_policies"] = {"big": _sized(9000)}
    assert errors(d) == []


def test_whitespace_does_not_count_towards_inline_sizes() -> None:
    d = base()
    member(d)["users"][0]["inline_policies"] = {"one": _sized(2048)}
    text = json.dumps(d, indent=8)
    assert errors(text) == []


def test_invalid_inline_policies_still_count_towards_the_sum() -> None:
    d = base()
    bad = _sized(2100)
    bad["Statement"][0]["Effect"] = "allow"
    member(d)["users"][0]["inline_policies"] = {"bad": bad}
    assert errors(d) == [
        (f"{ALICE}.inline_policies.bad.Statement[0].Effect", MALFORMED),
        (f"{ALICE}.inline_policies", LIMIT_EXCEEDED),
    ]


@pytest.mark.parametrize(
    ("key", "items", "quota"),
    [
        ("access_keys", [{"id": f"AKIAEXAMPLEKEY00000{i}", "secret_sha256": "0" * 64} for i in range(3)], 2),
        (
            "mfa_devices",
            [{"serial": f"arn:aws:iam::{A}:mfa/d{i}", "totp_seed_base32": "MZXW6==="} for i in range(9)],
            8,
        ),
    ],
)
def test_access_keys_and_mfa_devices_per_user(key: str, items: list[dict[str, str]], quota: int) -> None:
    d = base()
    member(d)["users"][0][key] = items[:quota]
    assert errors(d) == []
    member(d)["users"][0][key] = items
    assert errors(d) == [(f"{ALICE}.{key}", LIMIT_EXCEEDED)]


def test_tags_per_entity() -> None:
    d = base()
    member(d)["roles"][0]["tags"] = {f"k{i}": "v" for i in range(50)}
    member(d)["resources"][0]["tags"] = {f"k{i}": "v" for i in range(50)}
    assert errors(d) == []
    member(d)["roles"][0]["tags"]["k50"] = "v"
    member(d)["resources"][0]["tags"]["k50"] = "v"
    assert errors(d) == [(f"{ROLE}.tags", LIMIT_EXCEEDED), ("accounts[1].resources[0].tags", LIMIT_EXCEEDED)]
    assert errors(d, SnapshotLimits(tags_per_entity=51)) == []


# --- roles and tags ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [3599, 43201, 0, "3600", 3600.5, True, None])
def test_max_session_duration(value: Any) -> None:
    d = base()
    member(d)["roles"][0]["max_session_duration"] = value
    assert errors(d) == [(f"{ROLE}.max_session_duration", INVALID_INPUT)]


@pytest.mark.parametrize("value", [3600, 43200, 7200])
def test_max_session_duration_accepted(value: int) -> None:
    d = base()
    member(d)["roles"][0]["max_session_duration"] = value
    assert errors(d) == []


@pytest.mark.parametrize(
    "tags",
    [
        {"aws:team": "x"},
        {"AWS:team": "x"},
        {"": "x"},
        {"k" * 129: "x"},
        {"team#1": "x"},
        {"team": "v" * 257},
        {"team": "a;b"},
        {"team": 5},
        {"team": None},
    ],
)
def test_principal_tags(tags: dict[str, Any]) -> None:
    d = base()
    member(d)["users"][0]["tags"] = tags
    (key,) = tags
    assert errors(d) == [(f"{ALICE}.tags.{key}", INVALID_INPUT)]


def test_principal_tag_keys_are_unique_without_case() -> None:
    d = base()
    member(d)["roles"][0]["tags"] = {"Team": "a", "team": "b"}
    assert errors(d) == [(f"{ROLE}.tags.team", INVALID_INPUT)]


@pytest.mark.parametrize(
    "tags",
    [
        {"k" * 128: "v" * 256},
        {"team": ""},
        {"équipe": "crème brûlée", "部署": "開発", "a_b.c:d/e=f+g-h@i j": "0"},
    ],
)
def test_valid_tags(tags: dict[str, str]) -> None:
    d = base()
    member(d)["users"][0]["tags"] = tags
    assert errors(d) == []


def test_resource_tags_compare_with_case_and_may_be_set_by_aws() -> None:
    d = base()
    member(d)["resources"][0]["tags"] = {"Team": "a", "team": "b", "aws:cloudformation:stack-name": "s"}
    assert errors(d) == []
    member(d)["resources"][0]["tags"]["bad;key"] = "x"
    assert errors(d) == [("accounts[1].resources[0].tags.bad;key", INVALID_INPUT)]


# --- resources ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arn", ["bucket", "arn:aws:s3:bucket", "arn:aws::::thing", "arn:aws:s3:::", "", "ARN:aws:s3:::b"]
)
def test_a_resource_arn_must_be_an_arn(arn: str) -> None:
    d = base()
    member(d)["resources"][0]["arn"] = arn
    assert errors(d) == [("accounts[1].resources[0].arn", INVALID_INPUT)]


def test_a_resource_arn_names_its_own_account() -> None:
    d = base()
    member(d)["resources"].append({"arn": f"arn:aws:sqs:us-east-1:{B}:queue"})
    member(d)["resources"].append({"arn": f"arn:aws:sqs:us-east-1:{A}:queue"})
    assert errors(d) == [("accounts[1].resources[1].arn", INVALID_INPUT)]
    assert B in problem_at(d, "accounts[1].resources[1].arn").message


def test_a_resource_arn_in_another_partition() -> None:
    d = base()
    member(d)["resources"][0]["arn"] = "arn:aws-cn:s3:::bucket"
    assert errors(d) == [("accounts[1].resources[0].arn", INVALID_INPUT)]


def test_the_resource_arn_is_required() -> None:
    d = base()
    del member(d)["resources"][0]["arn"]
    assert errors(d) == [("accounts[1].resources[0].arn", INVALID_INPUT)]


def test_policy_name_and_document_are_required() -> None:
    d = base()
    member(d)["policies"].append({"name": "NoDoc"})
    assert errors(d) == [("accounts[1].policies[1].document", INVALID_INPUT)]


# --- everything at once ------------------------------------------------------------------------


def test_every_problem_is_reported_at_once() -> None:
    d = base()
    d["version"] = -3
    d["organization"]["units"][1]["parent"] = "r-gone"
    d["accounts"].append({"id": A})
    alice = member(d)["users"][0]
    alice["name"] = "alice smith"
    alice["groups"] = ["nope"]
    alice["access_keys"][0]["status"] = "on"
    alice["tags"] = {"aws:x": "y"}
    member(d)["roles"][0]["trust_policy"]["Statement"][0]["Effect"] = "Allowed"
    member(d)["roles"][0]["max_session_duration"] = 10
    member(d)["resources"][0]["arn"] = "bucket"
    member(d)["scps"] = ["DenyLeave"]
    assert found(d) == [
        ("version", INVALID_INPUT, "error"),
        (f"{UNITS}[1].parent", NO_SUCH_ENTITY, "error"),
        (f"{ALICE}.name", INVALID_INPUT, "error"),
        (f"{ALICE}.groups[0]", NO_SUCH_ENTITY, "error"),
        (f"{ALICE}.tags.aws:x", INVALID_INPUT, "error"),
        (f"{ALICE}.access_keys[0].status", INVALID_INPUT, "error"),
        (f"{ROLE}.trust_policy.Statement[0].Effect", MALFORMED, "error"),
        (f"{ROLE}.max_session_duration", INVALID_INPUT, "error"),
        ("accounts[1].resources[0].arn", INVALID_INPUT, "error"),
        ("accounts[2].id", ENTITY_ALREADY_EXISTS, "error"),
        ("accounts[1].scps", INVALID_INPUT, "warning"),
    ]


def test_problems_render_with_path_code_and_message() -> None:
    d = base()
    member(d)["users"][0]["groups"] = ["nope"]
    (problem,) = validate_snapshot(d)
    assert str(problem) == f"{ALICE}.groups[0]: NoSuchEntity: no group 'nope' in account {A}"
