"""`iam-sidecar validate`, `check` and `bench` on real snapshot files, through the real
console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "snapshot.json"
CLI = str(Path(sys.executable).with_name("iam-sidecar"))
ALICE = "arn:aws:iam::222222222222:user/alice"
BUCKET_OBJECT = "arn:aws:s3:::example-payments-data/reports/q1.csv"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, input=stdin, timeout=60, check=False)


def test_validate_example_is_ok() -> None:
    result = run("validate", str(EXAMPLE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().startswith("OK: valid snapshot")


def test_validate_reads_a_configmap_style_directory(tmp_path: Path) -> None:
    (tmp_path / "snapshot.json").write_text(EXAMPLE.read_text())
    assert run("validate", str(tmp_path)).returncode == 0


def test_validate_lists_every_problem_with_its_path(tmp_path: Path) -> None:
    doc = json.loads(EXAMPLE.read_text())
    doc["accounts"][1]["users"][0]["groups"] = ["no-such-group"]
    doc["accounts"][1]["roles"][0]["trust_policy"]["Statement"][0]["Effect"] = "allow"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    result = run("validate", str(bad))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith("accounts[1].users[0].groups[0]: NoSuchEntity") for line in lines), lines
    assert any(
        line.startswith("accounts[1].roles[0].trust_policy.Statement[0].Effect: MalformedPolicyDocument")
        for line in lines
    ), lines


def test_check_allows_and_explains() -> None:
    result = run(
        "check",
        "--snapshot",
        str(EXAMPLE),
        "--principal",
        ALICE,
        "--action",
        "s3:GetObject",
        "--resource",
        BUCKET_OBJECT,
        "--explain",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Allow: ")
    assert "matched: Allow in identity-based policy" in result.stdout


def test_check_json_deny_exit_code_and_fields() -> None:
    result = run(
        "check",
        "--snapshot",
        str(EXAMPLE),
        "--principal",
        ALICE,
        "--action",
        "iam:CreateUser",
        "--resource",
        "arn:aws:iam::222222222222:user/new",
        "--json",
    )
    assert result.returncode == 1
    body = json.loads(result.stdout)
    assert body["decision"] in ("ImplicitDeny", "ExplicitDeny")
    assert body["snapshot_version"] == json.loads(EXAMPLE.read_text())["version"]
    assert isinstance(body["matched"], list) and isinstance(body["missing_keys"], list)


def test_check_rejects_a_bad_principal_and_bad_context() -> None:
    result = run("check", "--snapshot", str(EXAMPLE), "--principal", "alice", "--action", "s3:GetObject")
    assert result.returncode == 2
    assert "--principal" in result.stderr
    result = run(
        "check",
        "--snapshot",
        str(EXAMPLE),
        "--principal",
        ALICE,
        "--action",
        "s3:GetObject",
        "--context",
        "novalue",
    )
    assert result.returncode != 0
    assert "KEY=VALUE" in result.stderr


def test_check_context_changes_the_answer(tmp_path: Path) -> None:
    doc = json.loads(EXAMPLE.read_text())
    doc["accounts"][1]["users"][0]["inline_policies"] = {
        "ip": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Action": "*",
                    "Resource": "*",
                    "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
                }
            ],
        }
    }
    snap = tmp_path / "s.json"
    snap.write_text(json.dumps(doc))
    args = [
        "check",
        "--snapshot",
        str(snap),
        "--principal",
        ALICE,
        "--action",
        "s3:GetObject",
        "--resource",
        BUCKET_OBJECT,
    ]
    assert run(*args, "--context", "aws:SourceIp=192.0.2.1").stdout.startswith("ExplicitDeny")
    assert run(*args, "--context", "aws:SourceIp=10.1.2.3").returncode == 0


def test_bench_json_has_the_documented_fields(tmp_path: Path) -> None:
    requests = tmp_path / "r.jsonl"
    requests.write_text(
        json.dumps({"principal": ALICE, "action": "s3:GetObject", "resource": BUCKET_OBJECT, "context": {}})
        + "\n"
        + json.dumps({"principal": "anonymous", "action": "s3:GetObject", "resource": BUCKET_OBJECT})
        + "\n"
    )
    result = run(
        "bench", "--snapshot", str(EXAMPLE), "--requests", str(requests), "--seconds", "0.2", "--json"
    )
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    for field in (
        "n_statements",
        "compile_s",
        "rss_mb",
        "decisions_per_s",
        "p50_us",
        "p99_us",
        "cached_decisions_per_s",
    ):
        assert field in body
    assert body["n_requests"] == 2 and body["n_statements"] > 0
    assert body["decisions_per_s"] > 0 and body["cached_decisions_per_s"] > 0


def test_bench_rejects_a_request_without_a_principal(tmp_path: Path) -> None:
    requests = tmp_path / "r.jsonl"
    requests.write_text(json.dumps({"action": "s3:GetObject"}) + "\n")
    result = run("bench", "--snapshot", str(EXAMPLE), "--requests", str(requests), "--seconds", "0.1")
    assert result.returncode == 2
    assert "request 1" in result.stderr
