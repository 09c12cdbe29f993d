"""The project's own conformance suite: every ``*.jsonl`` file in this folder, in the neutral
decision-case format, run through the same runner as ``iam-sidecar test``.

Each case becomes one pytest parameter (named by its id). The suite is self-contained: it
reads only the files next to this module. ``disputed.txt`` holds cases the code currently
gets wrong by the reference's reading; its suffix keeps it out of both runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sidecar.engine.cases import EXPECTATIONS, run_case
from sidecar.policy import loads_json

HERE = Path(__file__).resolve().parent
CASE_FILES = sorted(HERE.glob("*.jsonl"))
EXPECTED_FILES = {
    "grammar.jsonl",
    "matching.jsonl",
    "conditions.jsonl",
    "evaluation.jsonl",
    "sts_trust.jsonl",
    "ambiguities.jsonl",
}
# A fixed clock: cases that depend on the time give aws:CurrentTime / aws:EpochTime themselves.
NOW = 1_750_000_000.0


def _load() -> tuple[list[tuple[str, int, Any]], list[str]]:
    cases: list[tuple[str, int, Any]] = []
    errors: list[str] = []
    for file in CASE_FILES:
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("//"):
                continue
            try:
                cases.append((file.name, number, loads_json(line)))
            except ValueError as exc:
                errors.append(f"{file.name}:{number}: {exc}")
    return cases, errors


CASES, LOAD_ERRORS = _load()


def _case_id(case: Any) -> str:
    return str(case.get("id")) if isinstance(case, dict) else "?"


def test_case_files_present_and_parse() -> None:
    names = {f.name for f in CASE_FILES}
    assert names >= EXPECTED_FILES, f"missing case files: {sorted(EXPECTED_FILES - names)}"
    assert not LOAD_ERRORS, "unreadable case lines:\n" + "\n".join(LOAD_ERRORS)
    assert len(CASES) >= 250


def test_ids_unique_across_files() -> None:
    seen: dict[str, str] = {}
    duplicates = []
    for file, number, case in CASES:
        cid = _case_id(case)
        if cid in seen:
            duplicates.append(f"{cid} at {file}:{number} (first at {seen[cid]})")
        else:
            seen[cid] = f"{file}:{number}"
    assert not duplicates, "duplicate case ids:\n" + "\n".join(duplicates)


def test_every_case_is_documented() -> None:
    bad = []
    for file, number, case in CASES:
        notes = case.get("notes") if isinstance(case, dict) else None
        if not isinstance(notes, str) or not notes.strip() or "§" not in notes:
            bad.append(f"{file}:{number} {_case_id(case)}")
        if isinstance(case, dict) and case.get("expect") not in EXPECTATIONS:
            bad.append(f"{file}:{number} {_case_id(case)}: expect {case.get('expect')!r}")
    assert not bad, (
        "cases without a notes sentence naming a § of the reference, or bad expect:\n" + "\n".join(bad)
    )


@pytest.mark.parametrize(
    "file,number,case",
    [pytest.param(f, n, c, id=_case_id(c)) for f, n, c in CASES],
)
def test_case(file: str, number: int, case: Any) -> None:
    result = run_case(case, now=NOW)
    assert result.passed, (
        f"{result.case_id} ({file}:{number}): expected {result.expected}, got {result.got}: "
        f"{result.reason}\n  notes: {case.get('notes')}"
    )


def _cli() -> Path:
    exe = Path(sys.executable).parent / "iam-sidecar"
    assert exe.exists(), f"the iam-sidecar console script is not installed next to {sys.executable}"
    return exe


def test_cli_runs_the_whole_folder() -> None:
    proc = subprocess.run(
        [str(_cli()), "test", str(HERE)], capture_output=True, text=True, timeout=300, check=False
    )
    lines = proc.stdout.strip().splitlines()
    assert lines, f"no output; stderr: {proc.stderr}"
    assert lines[-1] == f"{len(CASES)} passed, 0 failed", proc.stdout[-4000:] + proc.stderr[-2000:]
    assert proc.returncode == 0


def test_cli_reports_a_wrong_expectation(tmp_path: Path) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
    base = {
        "policies": {
            "identity": [policy],
            "resource": None,
            "boundary": None,
            "scp": [],
            "rcp": [],
            "session": [],
        },
        "request": {
            "principal": "arn:aws:iam::111122223333:user/alice",
            "action": "s3:GetObject",
            "resource": "arn:aws:s3:::b/k",
            "resource_account": "111122223333",
            "context": {},
        },
    }
    right = dict(base, id="selfcheck-right", expect="Allow", notes="Control case (§3.3).")
    wrong = dict(
        base, id="selfcheck-deliberately-wrong", expect="ExplicitDeny", notes="Wrong on purpose (§3.3)."
    )
    file = tmp_path / "wrong.jsonl"
    file.write_text(json.dumps(right) + "\n" + json.dumps(wrong) + "\n", encoding="utf-8")

    proc = subprocess.run(
        [str(_cli()), "test", str(file)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    failing = [line for line in proc.stdout.splitlines() if line.startswith("FAIL")]
    assert len(failing) == 1 and "selfcheck-deliberately-wrong" in failing[0], proc.stdout
    assert "expected ExplicitDeny, got Allow" in failing[0]
    assert proc.stdout.strip().splitlines()[-1] == "1 passed, 1 failed"
