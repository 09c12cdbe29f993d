"""The ``iam-sidecar`` command line.

``test CASES.jsonl|DIR``: run decision cases, one line per failure, then ``N passed, M failed``.
``validate-policy FILE --kind KIND``: every problem of a policy document with its JSON path.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from .engine.cases import CaseError, CaseResult, run_case
from .policy import PolicyKind, loads_json, validate_policy


def _case_lines(target: Path) -> Iterator[tuple[str, int, str]]:
    files = sorted(target.glob("*.jsonl")) if target.is_dir() else [target]
    for file in files:
        with file.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if line.strip() and not line.lstrip().startswith("//"):
                    yield str(file), number, line


def cmd_test(args: argparse.Namespace) -> int:
    target = Path(args.cases)
    if not target.exists():
        print(f"iam-sidecar test: {target}: no such file or directory", file=sys.stderr)
        return 2
    passed = failed = 0
    now = time.time()
    for file, number, line in _case_lines(target):
        where = f"{file}:{number}"
        try:
            result: CaseResult = run_case(loads_json(line), now=now)
        except (CaseError, ValueError) as exc:
            failed += 1
            print(f"FAIL {where}: malformed case: {exc}")
            continue
        except Exception as exc:  # one broken case must not hide the others' results
            failed += 1
            print(f"FAIL {where}: error while running the case: {type(exc).__name__}: {exc}")
            continue
        if result.passed:
            passed += 1
            if args.verbose:
                print(f"ok   {result.case_id}: {result.got}")
        else:
            failed += 1
            got = f"expected {result.expected}, got {result.got}"
            print(f"FAIL {result.case_id} ({where}): {got}: {result.reason}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


def cmd_validate_policy(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        data = sys.stdin.buffer.read() if args.file == "-" else path.read_bytes()
    except OSError as exc:
        print(f"iam-sidecar validate-policy: {exc}", file=sys.stderr)
        return 2
    problems = validate_policy(data, PolicyKind(args.kind))
    for problem in problems:
        print(problem)
    errors = sum(p.is_error for p in problems)
    if errors:
        print(f"{errors} error(s)", file=sys.stderr)
        return 1
    print(f"OK: valid {PolicyKind(args.kind).label}" + (f" ({len(problems)} warning(s))" if problems else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iam-sidecar", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("test", help="run decision cases (JSON lines) and report failures")
    t.add_argument("cases", help="a .jsonl file, or a directory of them")
    t.add_argument("-v", "--verbose", action="store_true", help="also list passing cases")
    t.set_defaults(func=cmd_test)

    v = sub.add_parser("validate-policy", help="validate one IAM policy document")
    v.add_argument("file", help="policy JSON file, or - for standard input")
    v.add_argument("--kind", required=True, choices=[k.value for k in PolicyKind])
    v.set_defaults(func=cmd_validate_policy)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
