"""The ``iam-sidecar`` command line.

``test CASES.jsonl|DIR``: run decision cases, one line per failure, then ``N passed, M failed``.
``validate-policy FILE --kind KIND``: every problem of a policy document with its JSON path.
``validate SNAPSHOT``: every problem of a snapshot document.
``check --snapshot S --principal ARN --action A --resource R``: one decision, locally.
``bench --snapshot S --requests R.jsonl [--json]``: decision speed on a snapshot.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .engine.cases import CaseError, CaseResult, run_case
from .engine.decision import Decision
from .engine.request import normalize_context
from .policy import PolicyKind, Problem, loads_json, validate_policy


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
    return _report(validate_policy(data, PolicyKind(args.kind)), f"OK: valid {PolicyKind(args.kind).label}")


def _report(problems: Sequence[Problem], ok: str) -> int:
    """Every problem on its own line; exit 1 when one is an error, else print ``ok``."""
    for problem in problems:
        print(problem)
    errors = sum(p.is_error for p in problems)
    if errors:
        print(f"{errors} error(s)", file=sys.stderr)
        return 1
    print(ok + (f" ({len(problems)} warning(s))" if problems else ""))
    return 0


def _read(path: str) -> bytes:
    return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()


def _snapshot_bytes(path: str) -> bytes:
    """A snapshot file, or a directory holding ``snapshot.json`` (ConfigMap style)."""
    target = Path(path)
    return (target / "snapshot.json").read_bytes() if target.is_dir() else _read(path)


def cmd_validate(args: argparse.Namespace) -> int:
    from .snapshot import validate_snapshot

    try:
        data = _snapshot_bytes(args.snapshot)
    except OSError as exc:
        print(f"iam-sidecar validate: {exc}", file=sys.stderr)
        return 2
    return _report(validate_snapshot(data), "OK: valid snapshot")


def _compiled(path: str, timings: dict[str, float] | None = None) -> Any:
    from .engine.compile import compile_snapshot
    from .snapshot import SnapshotValidationError, load_snapshot

    try:
        started = time.perf_counter()
        snapshot = load_snapshot(_snapshot_bytes(path))
        if timings is not None:
            timings["load_s"] = time.perf_counter() - started
        return compile_snapshot(snapshot)
    except SnapshotValidationError as exc:
        for problem in exc.errors:
            print(problem, file=sys.stderr)
        raise SystemExit(1) from None
    except OSError as exc:
        print(f"iam-sidecar: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _context_args(pairs: Sequence[str], lists: Sequence[str]) -> dict[str, object]:
    context: dict[str, object] = {}
    for pair, multi in [(p, False) for p in pairs] + [(p, True) for p in lists]:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"iam-sidecar check: --context takes KEY=VALUE, not {pair!r}")
        context[key] = [v for v in value.split(",") if v] if multi else value
    return context


def cmd_check(args: argparse.Namespace) -> int:
    from .engine.principal import PrincipalError

    compiled = _compiled(args.snapshot)
    try:
        entry = compiled.resolve_principal(args.principal)
    except PrincipalError as exc:
        print(f"iam-sidecar check: --principal: {exc}", file=sys.stderr)
        return 2
    context = normalize_context(_context_args(args.context, args.context_list))
    decision = compiled.authorize(
        entry,
        args.action,
        args.resource,
        resource_account=args.resource_account,
        context=context,
        now=time.time(),
        explain=args.explain or args.json,
    )
    if args.json:
        print(json.dumps(_decision_json(decision, compiled.version), indent=2))
    else:
        print(f"{decision.kind.value}: {decision.reason} (snapshot version {compiled.version})")
        if args.explain:
            for matched in decision.matched:
                print(f"  matched: {matched}")
            if decision.missing_keys:
                print(f"  missing context keys: {', '.join(decision.missing_keys)}")
    return 0 if decision.allowed else 1


def _decision_json(decision: Decision, version: int) -> dict[str, object]:
    return {
        "decision": decision.kind.value,
        "reason": decision.reason,
        "snapshot_version": version,
        "matched": [
            {
                "policy_kind": m.policy_kind.value,
                "policy": m.policy,
                "sid": m.sid,
                "index": m.index,
                "effect": m.effect,
            }
            for m in decision.matched
        ],
        "missing_keys": list(decision.missing_keys),
    }


def cmd_bench(args: argparse.Namespace) -> int:
    from .benchmark import run_benchmark

    timings: dict[str, float] = {}
    compiled = _compiled(args.snapshot, timings)
    requests = []
    for file, number, line in _case_lines(Path(args.requests)):
        try:
            requests.append(loads_json(line))
        except ValueError as exc:
            print(f"iam-sidecar bench: {file}:{number}: {exc}", file=sys.stderr)
            return 2
    try:
        result = run_benchmark(compiled, requests, seconds=args.seconds, load_s=timings.get("load_s", 0.0))
    except ValueError as exc:
        print(f"iam-sidecar bench: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")
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

    vs = sub.add_parser("validate", help="validate a snapshot document (every problem, exit 1 if any)")
    vs.add_argument("snapshot", help="snapshot JSON file, a directory holding snapshot.json, or -")
    vs.set_defaults(func=cmd_validate)

    c = sub.add_parser("check", help="decide one request against a local snapshot")
    c.add_argument("--snapshot", required=True)
    c.add_argument("--principal", required=True, help='principal ARN, or "anonymous"')
    c.add_argument("--action", required=True)
    c.add_argument("--resource", default="*")
    c.add_argument("--resource-account")
    c.add_argument("--context", action="append", default=[], metavar="KEY=VALUE")
    c.add_argument(
        "--context-list", action="append", default=[], metavar="KEY=V1,V2", help="a multivalued context key"
    )
    c.add_argument("--explain", action="store_true", help="show matched statements and missing keys")
    c.add_argument("--json", action="store_true", help="print the decision as JSON")
    c.set_defaults(func=cmd_check)

    b = sub.add_parser("bench", help="measure decision speed on a snapshot")
    b.add_argument("--snapshot", required=True)
    b.add_argument("--requests", required=True, help="JSON lines, each a request object of the case format")
    b.add_argument("--seconds", type=float, default=3.0, help="measuring time per mode")
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
