"""The ``iam-sidecar`` console script, run for real in a subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

A = "111122223333"
ALICE = f"arn:aws:iam::{A}:user/alice"


def _script() -> str:
    here = Path(sys.executable).parent / "iam-sidecar"
    if here.exists():
        return str(here)
    found = shutil.which("iam-sidecar")
    assert found, "the iam-sidecar console script is not installed"
    return found


SCRIPT = _script()


def run(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCRIPT, *args], input=stdin, capture_output=True, text=True, timeout=60, cwd=cwd, check=False
    )


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


NO_IDP = "no identity-based policy allows the action"
ALLOW_GET = doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})


def case(case_id: str, expect: str, identity: list[Any] | None = None, action: str = "s3:GetObject") -> str:
    return json.dumps(
        {
            "id": case_id,
            "policies": {"identity": identity or [], "resource": None, "scp": [], "rcp": []},
            "request": {"principal": ALICE, "action": action, "resource": "arn:aws:s3:::b/k", "context": {}},
            "expect": expect,
            "notes": "free text",
        }
    )


def write(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def out_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return proc.stdout.splitlines()


# --- iam-sidecar test ------------------------------------------------------------------------


def test_all_passing_file(tmp_path: Path) -> None:
    f = write(
        tmp_path / "cases.jsonl",
        case("allow", "Allow", [ALLOW_GET]),
        case("deny", "ImplicitDeny"),
        case("either", "Deny"),
    )
    proc = run("test", str(f))
    assert proc.returncode == 0, proc.stderr
    assert out_lines(proc) == ["3 passed, 0 failed"]
    assert proc.stderr == ""


def test_failing_case_line(tmp_path: Path) -> None:
    f = write(
        tmp_path / "cases.jsonl",
        case("good", "Allow", [ALLOW_GET]),
        case("bad-allow", "Allow"),
        case("good-deny", "ImplicitDeny"),
        case("bad-deny", "ExplicitDeny", [ALLOW_GET]),
    )
    proc = run("test", str(f))
    assert proc.returncode == 1
    assert out_lines(proc) == [
        f"FAIL bad-allow ({f}:2): expected Allow, got ImplicitDeny: {NO_IDP}",
        f"FAIL bad-deny ({f}:4): expected ExplicitDeny, got Allow: allowed by identity-based policy",
        "2 passed, 2 failed",
    ]


def test_verbose_lists_passing_cases(tmp_path: Path) -> None:
    f = write(tmp_path / "cases.jsonl", case("good", "Allow", [ALLOW_GET]), case("bad", "Allow"))
    proc = run("test", "-v", str(f))
    assert proc.returncode == 1
    lines = out_lines(proc)
    assert lines[0] == "ok   good: Allow"
    assert lines[1].startswith("FAIL bad (")
    assert lines[-1] == "1 passed, 1 failed"


def test_blank_and_comment_lines_are_skipped(tmp_path: Path) -> None:
    f = write(
        tmp_path / "cases.jsonl",
        "// a comment",
        "",
        "   ",
        case("good", "Allow", [ALLOW_GET]),
        "  // indented",
    )
    proc = run("test", str(f))
    assert proc.returncode == 0
    assert out_lines(proc) == ["1 passed, 0 failed"]


def test_invalid_expectation_in_cli(tmp_path: Path) -> None:
    bad = doc({"Effect": "allow", "Action": "s3:GetObject", "Resource": "*"})
    f = write(tmp_path / "cases.jsonl", case("inv", "Invalid", [bad]), case("inv-unexpected", "Allow", [bad]))
    proc = run("test", str(f))
    assert proc.returncode == 1
    lines = out_lines(proc)
    assert len(lines) == 2
    assert lines[0].startswith(f"FAIL inv-unexpected ({f}:2): expected Allow, got Invalid: ")
    assert "policies.identity[0].Statement[0].Effect: MalformedPolicyDocument: " in lines[0]
    assert lines[1] == "1 passed, 1 failed"


def test_directory_of_case_files(tmp_path: Path) -> None:
    write(tmp_path / "b.jsonl", case("b1", "Allow", [ALLOW_GET]), case("b2", "Allow"))
    write(tmp_path / "a.jsonl", case("a1", "Allow"), case("a2", "ImplicitDeny"))
    write(tmp_path / "ignored.txt", case("txt", "Allow"))
    write(tmp_path / "ignored.json", case("json", "Allow"))
    proc = run("test", str(tmp_path))
    assert proc.returncode == 1
    assert out_lines(proc) == [
        f"FAIL a1 ({tmp_path / 'a.jsonl'}:1): expected Allow, got ImplicitDeny: {NO_IDP}",
        f"FAIL b2 ({tmp_path / 'b.jsonl'}:2): expected Allow, got ImplicitDeny: {NO_IDP}",
        "2 passed, 2 failed",
    ]


def test_directory_all_passing(tmp_path: Path) -> None:
    write(tmp_path / "one.jsonl", case("x", "Allow", [ALLOW_GET]))
    write(tmp_path / "two.jsonl", case("y", "Deny"))
    proc = run("test", str(tmp_path))
    assert proc.returncode == 0
    assert out_lines(proc) == ["2 passed, 0 failed"]


def test_empty_directory(tmp_path: Path) -> None:
    proc = run("test", str(tmp_path))
    assert proc.returncode == 0
    assert out_lines(proc) == ["0 passed, 0 failed"]


def test_malformed_lines_count_as_failed(tmp_path: Path) -> None:
    bad_expect = json.loads(case("bad-expect", "Allow"))
    bad_expect["expect"] = "Perhaps"
    no_principal = json.loads(case("no-principal", "Allow"))
    no_principal["request"]["principal"] = "alice"
    f = write(
        tmp_path / "cases.jsonl",
        case("good", "Allow", [ALLOW_GET]),
        "{not json",
        json.dumps(bad_expect),
        json.dumps(no_principal),
    )
    proc = run("test", str(f))
    assert proc.returncode == 1
    lines = out_lines(proc)
    assert len(lines) == 4
    assert lines[0].startswith(f"FAIL {f}:2: malformed case: ")
    assert lines[1].startswith(f"FAIL {f}:3: malformed case: case bad-expect: expect must be one of")
    assert lines[2].startswith(f"FAIL {f}:4: malformed case: ")
    assert "alice" in lines[2]
    assert lines[3] == "1 passed, 3 failed"


def test_non_object_line_counts_as_failed(tmp_path: Path) -> None:
    """Found while writing these tests (the runner crashed with a traceback); fixed since."""
    f = write(tmp_path / "cases.jsonl", case("good", "Allow", [ALLOW_GET]), "[1, 2]", case("after", "Deny"))
    proc = run("test", str(f))
    assert proc.returncode == 1
    assert out_lines(proc) == [
        f"FAIL {f}:2: malformed case: a case must be a JSON object",
        "2 passed, 1 failed",
    ]
    assert "Traceback" not in proc.stderr


def test_missing_file_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    proc = run("test", str(missing))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert str(missing) in proc.stderr
    assert "no such file or directory" in proc.stderr


def test_test_needs_an_argument() -> None:
    proc = run("test")
    assert proc.returncode == 2
    assert "usage:" in proc.stderr


def test_no_command() -> None:
    proc = run()
    assert proc.returncode == 2
    assert "usage:" in proc.stderr


# --- iam-sidecar validate-policy -------------------------------------------------------------

INVALID_POLICY = """{"Version": "2012-10-17", "Foo": 1, "Statement": [
 {"Sid": "a-b", "Effect": "allow", "Action": "s3:GetObject", "Resource": "*"},
 {"Effect": "Allow", "Resource": "*"},
 {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b", "Principal": "*"}
]}
"""


def test_valid_policy(tmp_path: Path) -> None:
    f = tmp_path / "p.json"
    f.write_text(json.dumps(ALLOW_GET))
    proc = run("validate-policy", str(f), "--kind", "identity")
    assert proc.returncode == 0
    assert out_lines(proc) == ["OK: valid identity-based policy"]
    assert proc.stderr == ""


def test_invalid_policy_lists_every_problem(tmp_path: Path) -> None:
    f = tmp_path / "p.json"
    f.write_text(INVALID_POLICY)
    proc = run("validate-policy", str(f), "--kind", "identity")
    assert proc.returncode == 1
    lines = out_lines(proc)
    assert lines == [
        "Foo: MalformedPolicyDocument: unknown policy element 'Foo'",
        "Statement[0].Sid: MalformedPolicyDocument: Sid 'a-b' must contain only letters and digits",
        "Statement[0].Effect: MalformedPolicyDocument: "
        'Effect must be exactly "Allow" or "Deny", not \'allow\'',
        "Statement[1]: MalformedPolicyDocument: Policy statement must contain actions (Action or NotAction)",
        "Statement[2].Principal: MalformedPolicyDocument: Has prohibited field Principal: "
        "an identity-based policy must not specify a principal",
    ]
    assert not any(line.startswith("OK") for line in lines)
    assert proc.stderr.strip() == "5 error(s)"


def test_kind_changes_the_rules(tmp_path: Path) -> None:
    f = tmp_path / "p.json"
    f.write_text(
        json.dumps(doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Principal": "*"}))
    )
    ok = run("validate-policy", str(f), "--kind", "resource")
    assert ok.returncode == 0
    assert out_lines(ok) == ["OK: valid resource-based policy"]
    trust = run("validate-policy", str(f), "--kind", "trust")
    assert trust.returncode == 1
    assert out_lines(trust) == [
        "Statement[0].Resource: MalformedPolicyDocument: Has prohibited field Resource: "
        "a role trust policy applies to its own role"
    ]


def test_warnings_only_exit_0(tmp_path: Path) -> None:
    f = tmp_path / "p.json"
    f.write_text(json.dumps({"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}}))
    proc = run("validate-policy", str(f), "--kind", "identity")
    assert proc.returncode == 0
    assert out_lines(proc) == [
        "Version: MalformedPolicyDocument (warning): no Version: read as 2008-10-17, so policy variables "
        "are not substituted",
        "OK: valid identity-based policy (1 warning(s))",
    ]
    assert proc.stderr == ""


def test_stdin(tmp_path: Path) -> None:
    proc = run("validate-policy", "-", "--kind", "scp", stdin=json.dumps(ALLOW_GET))
    assert proc.returncode == 0
    assert out_lines(proc) == ["OK: valid service control policy"]
    bad = run("validate-policy", "-", "--kind", "identity", stdin=INVALID_POLICY)
    assert bad.returncode == 1
    assert "Statement[0].Effect: MalformedPolicyDocument: " in bad.stdout


def test_not_json(tmp_path: Path) -> None:
    proc = run("validate-policy", "-", "--kind", "identity", stdin="nope")
    assert proc.returncode == 1
    lines = out_lines(proc)
    assert len(lines) == 1
    assert lines[0].startswith("$: MalformedPolicyDocument: the policy is not valid JSON")
    assert proc.stderr.strip() == "1 error(s)"


def test_wrong_kind_rejected_by_argparse(tmp_path: Path) -> None:
    f = tmp_path / "p.json"
    f.write_text(json.dumps(ALLOW_GET))
    proc = run("validate-policy", str(f), "--kind", "bogus")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "invalid choice: 'bogus'" in proc.stderr


def test_kind_is_required(tmp_path: Path) -> None:
    f = tmp_path / "p.json"
    f.write_text(json.dumps(ALLOW_GET))
    proc = run("validate-policy", str(f))
    assert proc.returncode == 2
    assert "--kind" in proc.stderr


def test_missing_policy_file_exits_2(tmp_path: Path) -> None:
    proc = run("validate-policy", str(tmp_path / "nope.json"), "--kind", "identity")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "nope.json" in proc.stderr
